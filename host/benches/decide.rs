//! Decision speed: one household, one community, a whole batch through the
//! worker pool, and loading (compiling) the default bundle.
//!
//! Run: `cargo bench -p eligo-host --bench decide`

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use eligo_core::{Bundle, DecideRequest, Mode};
use eligo_host::batch::{self, BatchOptions};
use eligo_host::bundle_dir::read_bundle_dir;
use eligo_host::runtime::{decide_request, Decider, RuntimeKind};
use serde_json::json;

const AS_OF: &str = "2026-11-24T10:01:00+08:00";

fn bundle() -> Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    Bundle::load(read_bundle_dir(&dir).expect("bundle reads")).expect("bundle loads")
}

fn household(i: usize) -> serde_json::Value {
    json!({
        "id": format!("h{i}"),
        "district": "urban",
        "on_dibao": i % 3 == 0,
        "relatives_in_city": false,
        "last_visit": "2026-10-01",
        "members": [
            {"age": 30 + i % 50, "monthly_income": 800.5, "employment": "unemployed_epidemic", "chronic_illness": true},
            {"age": 12, "monthly_income": 0, "difficult_child": i % 2 == 0},
            {"age": 40, "monthly_income": 1200.25, "frontline_worker": true}
        ],
        "cases": [
            {"id": "c1", "kind": "coordination", "opened_at": "2026-11-19T10:00:00+08:00"},
            {"id": "c2", "kind": "emergency", "opened_at": "2026-11-20T08:00:00+08:00"},
            {"id": "c3", "kind": "long_term", "opened_at": "2026-06-01T08:00:00+08:00"}
        ]
    })
}

fn decisions(c: &mut Criterion) {
    let bundle = bundle();
    let input = household(1);
    c.bench_function(
        "household decision (validate + rules + envelope JSON)",
        |b| {
            b.iter(|| {
                let envelope = bundle
                    .decide(&DecideRequest {
                        entry: "household",
                        input: &input,
                        as_of: AS_OF,
                        mode: Mode::Strict,
                        lang: None,
                    })
                    .unwrap();
                envelope.to_json()
            })
        },
    );
    let community = json!({
        "id": "k1", "households": 1200, "gridworkers": 2,
        "months": [
            {"month": "2026-09", "problems_found": 10, "problems_resolved": 7, "visits_planned": 100, "visits_done": 85, "refusals": 22, "satisfaction": 0.75},
            {"month": "2026-10", "problems_found": 12, "problems_resolved": 9, "visits_planned": 100, "visits_done": 95, "refusals": 10, "satisfaction": 0.82}
        ]
    });
    c.bench_function("community decision", |b| {
        b.iter(|| {
            bundle
                .decide(&DecideRequest {
                    entry: "community",
                    input: &community,
                    as_of: AS_OF,
                    mode: Mode::Strict,
                    lang: None,
                })
                .unwrap()
                .to_json()
        })
    });
}

fn wasm_decider(bundle: Bundle) -> Decider {
    Decider::new(RuntimeKind::Wasm, bundle, 1, None)
        .expect("the wasm artifact is built (cargo xtask wasm)")
}

fn runtimes(c: &mut Criterion) {
    // The same request through the native core and through the artifact in
    // wasmtime, in one run, so their ratio is meaningful.
    let request = decide_request(
        "household",
        AS_OF,
        Mode::Strict,
        None,
        &household(1).to_string(),
    );
    let native = Decider::new(RuntimeKind::Native, bundle(), 1, None).unwrap();
    let wasm = wasm_decider(bundle());
    assert!(!native.decide(0, &request).starts_with("{\"error\""));
    let mut group = c.benchmark_group("household decision, JSON in and out");
    group.bench_function("native", |b| b.iter(|| native.decide(0, &request)));
    group.bench_function("wasmtime", |b| b.iter(|| wasm.decide(0, &request)));
    group.finish();
}

fn batch_throughput(c: &mut Criterion) {
    const LINES: usize = 10_000;
    let input: String = (0..LINES)
        .map(|i| household(i).to_string() + "\n")
        .collect();
    let options = BatchOptions {
        entry: "household",
        as_of: AS_OF,
        mode: Mode::Strict,
        lang: None,
    };
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(LINES as u64));
    group.sample_size(10);
    for kind in [RuntimeKind::Native, RuntimeKind::Wasm] {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let decider = match kind {
                RuntimeKind::Native => Decider::new(kind, bundle(), threads, None).unwrap(),
                RuntimeKind::Wasm => wasm_decider(bundle()),
            };
            group.bench_function(
                format!("10k households, {kind:?}, {threads} thread(s)"),
                |b| {
                    b.iter_batched(
                        || Vec::with_capacity(input.len() * 8),
                        |mut out| {
                            let summary =
                                batch::run(&decider, &options, &pool, input.as_bytes(), &mut out)
                                    .unwrap();
                            assert_eq!(summary.errors, 0);
                            out
                        },
                        BatchSize::LargeInput,
                    )
                },
            );
        }
    }
    group.finish();
}

fn loading(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let files = read_bundle_dir(&dir).unwrap();
    let mut group = c.benchmark_group("bundle");
    group.sample_size(20);
    group.bench_function("load + compile default bundle", |b| {
        b.iter(|| Bundle::load(files.clone()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, decisions, runtimes, batch_throughput, loading);
criterion_main!(benches);
