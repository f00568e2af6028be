//! Decision speed: one household (compiled rules, and interpreted for
//! comparison), one community, the same decision native
//! vs wasmtime vs Node in one run, a whole batch through the worker pool,
//! loading (compiling) the default bundle, and the artifact's way to a
//! running instance (compile vs deserialize vs instantiate).
//!
//! Last, the impact of two policies (the default bundle against its
//! quarterly variant) over a synthetic population, timed once: 1,000,000
//! households by default (`ELIGO_BENCH_HOUSEHOLDS` to change it).
//!
//! Run: `cargo bench -p eligo-runtime --bench decide` (after `cargo xtask wasm`).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use eligo_core::{Bundle, DecideRequest, Mode};
use eligo_runtime::batch::{self, BatchOptions};
use eligo_runtime::bundle_dir::read_bundle_dir;
use eligo_runtime::wasm::{read_artifact, stages, CallLimits, WasmRuntime};
use eligo_runtime::{Decider, RuntimeKind};
use serde_json::json;

// The allocator the `eligo` binary uses, so the numbers are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AS_OF: &str = "2026-11-24T10:01:00+08:00";

fn bundle() -> Bundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
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

fn request(entry: &str, input: &serde_json::Value) -> DecideRequest {
    DecideRequest {
        entry: entry.to_string(),
        input: input.clone(),
        as_of: AS_OF.to_string(),
        mode: Mode::Strict,
        lang: None,
    }
}

fn decisions(c: &mut Criterion) {
    let bundle = bundle();
    let input = request("household", &household(1));
    bundle.decide(&input).unwrap();
    println!(
        "household decision: {} Rhai operations",
        eligo_core::sandbox::operations()
    );
    c.bench_function(
        "household decision (validate + rules + envelope JSON)",
        |b| {
            b.iter(|| {
                let envelope = bundle.decide(&input).unwrap();
                envelope.to_json()
            })
        },
    );
    // The same decision with the rules in Rhai's interpreter, the reference
    // the compiled rules must agree with: what compiling them saves.
    c.bench_function("household decision, rules interpreted", |b| {
        b.iter(|| bundle.decide_in_rhai(&input).unwrap().to_json())
    });
    let community = json!({
        "id": "k1", "households": 1200, "gridworkers": 2,
        "months": [
            {"month": "2026-09", "problems_found": 10, "problems_resolved": 7, "visits_planned": 100, "visits_done": 85, "refusals": 22, "satisfaction": 0.75},
            {"month": "2026-10", "problems_found": 12, "problems_resolved": 9, "visits_planned": 100, "visits_done": 95, "refusals": 10, "satisfaction": 0.82}
        ]
    });
    let community = request("community", &community);
    c.bench_function("community decision", |b| {
        b.iter(|| bundle.decide(&community).unwrap().to_json())
    });
}

fn wasm_decider(bundle: Bundle) -> Decider {
    Decider::new(RuntimeKind::Wasm, bundle, 1, None)
        .expect("the wasm artifact is built (cargo xtask wasm)")
}

fn runtimes(c: &mut Criterion) {
    // The same request through the native core and through the artifact in
    // wasmtime, in one run, so their ratio is meaningful.
    // The input as JSON text, passed through as it is, like `eligo batch`.
    let text = household(1).to_string();
    let raw: &serde_json::value::RawValue = serde_json::from_str(&text).unwrap();
    let request = DecideRequest {
        entry: "household".to_string(),
        input: raw,
        as_of: AS_OF.to_string(),
        mode: Mode::Strict,
        lang: None,
    };
    let native = Decider::new(RuntimeKind::Native, bundle(), 1, None).unwrap();
    let wasm = wasm_decider(bundle());
    assert!(native.decide(0, &request).is_ok());
    let mut group = c.benchmark_group("household decision, JSON in and out");
    group.bench_function("native", |b| b.iter(|| native.decide(0, &request)));
    group.bench_function("wasmtime", |b| b.iter(|| wasm.decide(0, &request)));
    group.finish();

    // Node cannot run inside criterion, so all three are also timed the same
    // simple way (warm-up, then each call timed, median) back to back.
    let native_ns = median_ns(|| drop(native.decide(0, &request)));
    let wasm_ns = median_ns(|| drop(wasm.decide(0, &request)));
    match node_median_ns(&serde_json::to_string(&request).unwrap()) {
        Ok(node) => println!(
            "median per decision: native {:.1} µs, wasmtime {:.1} µs ({:.2}× native), \
             node {:.1} µs ({:.2}× native) with UTF-8 in and out as the others \
             (into the caller's buffer), {:.1} µs ({:.2}× native) into a new Uint8Array, \
             {:.1} µs ({:.2}× native) with a JavaScript string; \
             the typed API's decide, objects in and out: {:.1} µs",
            native_ns / 1e3,
            wasm_ns / 1e3,
            wasm_ns / native_ns,
            node.into_ns / 1e3,
            node.into_ns / native_ns,
            node.utf8_ns / 1e3,
            node.utf8_ns / native_ns,
            node.string_ns / 1e3,
            node.string_ns / native_ns,
            node.typed_ns / 1e3
        ),
        Err(why) => println!(
            "median per decision: native {:.1} µs, wasmtime {:.1} µs ({:.2}× native); node: {why}",
            native_ns / 1e3,
            wasm_ns / 1e3,
            wasm_ns / native_ns
        ),
    }
}

/// Seconds each runtime is timed for in the three-way comparison.
const MEDIAN_SECONDS: f64 = 4.0;

fn median_ns(mut decide: impl FnMut()) -> f64 {
    let budget = std::time::Duration::from_secs_f64(MEDIAN_SECONDS);
    let warm_until = std::time::Instant::now() + budget / 3;
    while std::time::Instant::now() < warm_until {
        decide();
    }
    let mut samples = Vec::new();
    let end = std::time::Instant::now() + budget;
    while std::time::Instant::now() < end && samples.len() < 100_000 {
        let start = std::time::Instant::now();
        decide();
        samples.push(start.elapsed().as_nanos() as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Node's medians (`decide-node.mjs`).
struct NodeMedians {
    /// `decide`: a JavaScript string in and out.
    string_ns: f64,
    /// `decideUtf8`: UTF-8 bytes in and out, as native and wasmtime, the
    /// answer in a fresh `Uint8Array`.
    utf8_ns: f64,
    /// `decideUtf8Into`: the same bytes into a buffer the caller keeps.
    into_ns: f64,
    /// The typed API's `decide`: objects in and out.
    typed_ns: f64,
}

/// The same medians, measured by `decide-node.mjs` in Node.
fn node_median_ns(request: &str) -> Result<NodeMedians, String> {
    let (artifact, _) = read_artifact(None).map_err(|e| e.to_string())?;
    let files: serde_json::Map<String, serde_json::Value> = bundle()
        .files()
        .iter()
        .map(|(path, text)| (path.to_string(), text.into()))
        .collect();
    let dir = std::env::temp_dir();
    let load_file = dir.join(format!("eligo-bench-load-{}.json", std::process::id()));
    let request_file = dir.join(format!("eligo-bench-request-{}.json", std::process::id()));
    std::fs::write(&load_file, json!({ "files": files }).to_string()).map_err(|e| e.to_string())?;
    std::fs::write(&request_file, request).map_err(|e| e.to_string())?;
    let output = std::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/decide-node.mjs"))
        .arg(artifact.parent().unwrap_or(Path::new(".")))
        .arg(&load_file)
        .arg(&request_file)
        .arg(MEDIAN_SECONDS.to_string())
        .output();
    let _ = std::fs::remove_file(&load_file);
    let _ = std::fs::remove_file(&request_file);
    let output = output.map_err(|e| format!("cannot run node: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let median = |key: &str| {
        answer[key]
            .as_f64()
            .ok_or_else(|| format!("unexpected answer from node: {answer}"))
    };
    Ok(NodeMedians {
        string_ns: median("median_ns")?,
        utf8_ns: median("utf8_median_ns")?,
        into_ns: median("into_median_ns")?,
        typed_ns: median("typed_median_ns")?,
    })
}

/// Cranelift compile vs loading the precompiled module vs instantiating.
fn artifact_stages(c: &mut Criterion) {
    let (_, artifact) = read_artifact(None).expect("the wasm artifact is built");
    let engine = stages::engine().unwrap();
    let compiled = stages::compile(&engine, &artifact).unwrap();
    let files =
        read_bundle_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")).unwrap();
    let runtime = WasmRuntime::standalone(&artifact, &files, None, CallLimits::default()).unwrap();
    let mut group = c.benchmark_group("artifact");
    group.sample_size(10);
    group.bench_function("compile (Cranelift)", |b| {
        b.iter(|| stages::compile(&engine, &artifact).unwrap())
    });
    group.bench_function("deserialize precompiled", |b| {
        b.iter(|| stages::deserialize(&engine, &compiled).unwrap())
    });
    group.bench_function("instantiate (pooling, InstancePre)", |b| {
        b.iter(|| runtime.time_bare_instance().unwrap())
    });
    group.bench_function("instantiate + load default bundle", |b| {
        b.iter(|| runtime.time_loaded_instance().unwrap())
    });
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let files = read_bundle_dir(&dir).unwrap();
    let mut group = c.benchmark_group("bundle");
    group.sample_size(20);
    group.bench_function("load + compile default bundle", |b| {
        b.iter(|| Bundle::load(files.clone()).unwrap())
    });
    group.finish();
}

/// Policy impact over a whole population, timed once (criterion's repeated
/// sampling would take hours): households per second and the wall time,
/// natively on every core.
fn impact_population(_: &mut Criterion) {
    use eligo_runtime::impact::{self, ImpactOptions, Side};
    use eligo_runtime::sources::JsonLines;

    let households: u64 = std::env::var("ELIGO_BENCH_HOUSEHOLDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("population.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    eligo_runtime::population::write(households, 1, &mut file).unwrap();
    drop(file);
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let variant = rules.join("variants/quarterly");
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap();
    let workers = pool.current_num_threads();
    let load = |dir: &Path| Bundle::load(read_bundle_dir(dir).unwrap()).unwrap();
    let base = Decider::new(RuntimeKind::Native, load(&rules), workers, None).unwrap();
    let draft = Decider::new(RuntimeKind::Native, load(&variant), workers, None).unwrap();
    let options = ImpactOptions {
        entry: "household",
        mode: Mode::Strict,
        lang: None,
        by: &[],
        param_changes: None,
    };
    let started = std::time::Instant::now();
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
    let run = impact::run(
        Side {
            decider: &base,
            as_of: AS_OF,
        },
        Side {
            decider: &draft,
            as_of: AS_OF,
        },
        &options,
        &pool,
        &mut JsonLines::new(reader),
        &|_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(run.impact.households, households);
    println!(
        "impact, default vs quarterly, {households} households, native on {workers} thread(s): \
         {seconds:.1} s ({:.0} households/s, {} changed)",
        households as f64 / seconds,
        run.impact.changed
    );
}

criterion_group!(
    benches,
    decisions,
    runtimes,
    batch_throughput,
    loading,
    artifact_stages,
    impact_population
);
criterion_main!(benches);
