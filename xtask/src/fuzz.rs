//! `cargo xtask fuzz [--seconds N] [target…]`: builds the libFuzzer
//! targets of `tests/fuzz` with coverage instrumentation on the stable
//! toolchain, runs each for a bounded time from its committed seeds, and
//! prints the executions each ran. A crash fails the task and leaves the
//! input under `target/fuzz/artifacts/<target>/`; such an input belongs in
//! the target's seeds, as a regression case, once fixed.
//!
//! cargo-fuzz needs nightly only for sanitizers; the coverage passes
//! libFuzzer steers by are stable rustc flags, given here.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{cargo, workspace};

/// The targets, in the order they run.
const TARGETS: &[&str] = &[
    "decision_input",
    "differential",
    "bundle_file",
    "packed_bundle",
    "abi_protocol",
];

/// The coverage instrumentation cargo-fuzz gives libFuzzer, minus the
/// sanitizer (nightly only).
const COVERAGE_FLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
];

pub fn fuzz(args: &[String]) -> Result<(), String> {
    let mut seconds = 30u64;
    let mut chosen = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = rest
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--seconds needs a whole number")?;
            }
            target if TARGETS.contains(&target) => chosen.push(target),
            other => {
                return Err(format!(
                    "unknown fuzz argument `{other}`; targets: {}",
                    TARGETS.join(", ")
                ))
            }
        }
    }
    if chosen.is_empty() {
        chosen = TARGETS.to_vec();
    }

    let root = workspace();
    let fuzz_dir = root.join("tests/fuzz");
    let target_dir = root.join("target/fuzz");
    // With an explicit --target the flags reach only the targets' code,
    // not build scripts and proc macros, which have no libFuzzer to link.
    let host = host_triple()?;
    crate::run(
        Command::new(cargo())
            .current_dir(&fuzz_dir)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("CARGO_ENCODED_RUSTFLAGS", COVERAGE_FLAGS.join("\x1f"))
            .args([
                "build",
                "--release",
                "--locked",
                "--bins",
                "--target",
                &host,
            ]),
    )?;
    let binaries = target_dir.join(&host).join("release");

    let mut total = 0u64;
    for target in chosen {
        let corpus = target_dir.join("corpus").join(target);
        let artifacts = target_dir.join("artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let seeds = fuzz_dir.join("seeds").join(target);
        let started = Instant::now();
        let output = Command::new(binaries.join(target))
            .current_dir(&root)
            .arg(&corpus)
            .arg(&seeds)
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-dict={}", fuzz_dir.join("json.dict").display()))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            // A decision is bounded by the bundle's counted limits; one
            // that runs 20 s has escaped them.
            .arg("-timeout=20")
            .arg("-rss_limit_mb=4096")
            .arg("-max_len=262144")
            .arg("-print_final_stats=1")
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("cannot run the {target} fuzz target: {e}"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        let runs = stat(&log, "stat::number_of_executed_units:");
        total += runs;
        if !output.status.success() {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!(
                "fuzz target {target} failed after {runs} executions ({}); the input is in {}:\n{}",
                output.status,
                artifacts.display(),
                tail.join("\n")
            ));
        }
        println!(
            "fuzz {target}: {runs} executions in {:.0} s, 0 crashes, corpus {} inputs",
            started.elapsed().as_secs_f64(),
            count_files(&corpus)
        );
    }
    println!("fuzz: {total} executions in all, 0 crashes");
    Ok(())
}

/// The toolchain's host target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("cannot run rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "rustc -vV names no host".to_string())
}

/// The number after `name` in libFuzzer's final statistics.
fn stat(log: &str, name: &str) -> u64 {
    log.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}
