//! The `eligo` binary as policy staff and scripts use it: outputs and exit
//! codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn eligo(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eligo"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eligo runs");
    if let Some(text) = stdin {
        // A command that fails early may not read its input.
        let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("eligo finishes")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the default bundle in a fresh temporary directory.
fn bundle_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eligo-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["", "params", "schema", "messages", "tests"] {
        let from = repo().join("rules").join(sub);
        let to = dir.join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

const AS_OF: &str = "2026-11-20T09:00:00+08:00";

/// `eligo <command>` of `policy`'s household entry at `AS_OF`, then `rest`.
fn household<'a>(command: &'a str, policy: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        command,
        "--policy",
        policy,
        "--entry",
        "household",
        "--as-of",
        AS_OF,
    ];
    args.extend_from_slice(rest);
    args
}

/// `eligo eval` of the default bundle's household entry at `AS_OF`, then `rest`.
fn eval_household<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    household("eval", "rules", rest)
}

#[test]
fn check_passes_on_the_default_bundle_and_reports_json() {
    let out = eligo(&["check", "rules", "--format", "json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["bundle"]["name"], "eligo-default");
    assert!(report["bundle"]["hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}

#[test]
fn check_locates_errors_with_a_code_frame() {
    let dir = bundle_copy("check");
    let rules = std::fs::read_to_string(dir.join("household.rhai")).unwrap();
    std::fs::write(
        dir.join("household.rhai"),
        rules.replacen("let rules = [];", "let rules = ;", 1),
    )
    .unwrap();
    let out = eligo(&["check", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rhai-syntax"), "{stderr}");
    assert!(stderr.contains("household.rhai"), "{stderr}");
    assert!(
        stderr.contains("let rules = ;"),
        "code frame expected: {stderr}"
    );

    let out = eligo(&["check", dir.to_str().unwrap(), "--format", "json"], None);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let diagnostic = &report["diagnostics"][0];
    assert_eq!(diagnostic["file"], "household.rhai");
    assert!(diagnostic["line"].as_u64().unwrap() > 10);
    assert!(diagnostic["column"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn test_passes_on_both_bundles() {
    let out = eligo(&["test", "rules", "--require-coverage"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.trim().ends_with(" passed, 0 failed"), "{summary}");
    let out = eligo(&["test", "rules/variants/quarterly"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn test_reports_the_operations_each_case_counted_alike_in_both_runtimes() {
    let report = |runtime: &str| {
        let out = eligo(
            &["test", "rules", "--format", "json", "--runtime", runtime],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        out.stdout
    };
    let native = report("native");
    assert_eq!(native, report("wasm"), "the runtimes count differently");
    let report: serde_json::Value = serde_json::from_slice(&native).unwrap();
    assert_eq!(report["max_operations"], 200_000);
    let cases = report["cases"].as_array().unwrap();
    let operations = |name: &str| {
        cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}"))["operations"]
            .as_u64()
            .unwrap()
    };
    // Refused before the rules ran: nothing counted, not the case before's count.
    assert_eq!(
        operations("every problem of a bad household is reported at once"),
        0
    );
    // Every escalation case ran its rules, well within the limit.
    let decided: Vec<u64> = cases
        .iter()
        .filter(|c| c["file"] == "tests/household_escalation.yaml")
        .map(|c| c["operations"].as_u64().unwrap())
        .collect();
    assert!(
        decided.iter().all(|&n| n > 100 && n < 200_000),
        "{decided:?}"
    );

    let out = eligo(&["test", "rules", "--runtime", "native"], None);
    let stderr = text(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("operations per decision: median "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let most = cases
        .iter()
        .map(|c| c["operations"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(line.contains(&format!(", most {most} (tests/")), "{line}");
    assert!(line.ends_with("of max_operations = 200000"), "{line}");
}

#[test]
fn a_failing_case_shows_a_diff_and_exits_1() {
    let dir = bundle_copy("fail");
    let relief = std::fs::read_to_string(dir.join("params/relief.toml")).unwrap();
    std::fs::write(
        dir.join("params/relief.toml"),
        relief.replace("value = 600,", "value = 650,"),
    )
    .unwrap();
    let out = eligo(&["test", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("FAIL tests/household_programs.yaml:"),
        "{stderr}"
    );
    let diff_line = |sign: &str, value: &str| {
        stderr.lines().any(|l| {
            l.trim_start().starts_with(sign) && l.contains(&format!("\"monthly_amount\": {value}"))
        })
    };
    assert!(diff_line("-", "1200.0"), "{stderr}");
    assert!(diff_line("+", "1300.00"), "{stderr}");
    assert!(text(&out.stdout).contains(" failed"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn eval_prints_the_envelope() {
    let input = r#"{"id":"h1","district":"urban","on_dibao":true,"members":[{"age":40,"monthly_income":0}]}"#;
    let out = eligo(
        &eval_household(&["--lang", "en", "--compact", "-"]),
        Some(input),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1);
    let envelope: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(envelope["status"], "decided");
    assert_eq!(envelope["lang"], "en");
    assert_eq!(envelope["reasons"][0]["rule"], "TR-1");
    assert_eq!(envelope["reasons"][0]["source"], "000 §1.3.2, §3.2");
    assert!(stdout.contains("\"monthly_amount\":600.00"));
}

#[test]
fn eval_partial_mode_lists_needs() {
    let input = r#"{"id":"h1","district":"urban","members":[{"age":70,"monthly_income":0}]}"#;
    let strict = eligo(&eval_household(&["-"]), Some(input));
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        text(&strict.stderr).contains("relatives_in_city"),
        "{}",
        text(&strict.stderr)
    );
    let error: serde_json::Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "missing_needed");

    let partial = eligo(&eval_household(&["--partial", "-"]), Some(input));
    assert_eq!(partial.status.code(), Some(0));
    let envelope: serde_json::Value = serde_json::from_slice(&partial.stdout).unwrap();
    assert_eq!(envelope["status"], "undetermined");
    assert_eq!(envelope["needs"][0]["path"], "relatives_in_city");
}

#[test]
fn eval_errors_have_documented_exit_codes() {
    let bad = r#"{"id":"h1","district":"urban","members":[{"age":131,"monthly_income":0}]}"#;
    let out = eligo(&eval_household(&["-"]), Some(bad));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("members[0].age: must be at most 130"),
        "{}",
        text(&out.stderr)
    );

    // Whatever fails, stdout gets one JSON error answer.
    let out = eligo(&eval_household(&["-"]), Some("{not json"));
    assert_eq!(out.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["error"]["kind"], "bad_json", "{answer}");
    let out = eligo(
        &[
            "eval",
            "--policy",
            "rules",
            "--entry",
            "household",
            "--as-of",
            "yesterday",
            "-",
        ],
        Some("{}"),
    );
    assert_eq!(out.status.code(), Some(2), "a bad --as-of is a usage error");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["error"]["problems"][0]["path"], "as_of", "{answer}");

    let out = eligo(&eval_household(&["missing.json"]), None);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("cannot read missing.json"));

    let out = eligo(
        &["eval", "--policy", "rules", "--entry", "household", "-"],
        Some("{}"),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing --as-of is a usage error"
    );

    let out = eligo(&["--help"], None);
    assert!(text(&out.stdout).contains("Exit codes:"));
}

#[test]
fn batch_keeps_input_order_and_reports_bad_lines_in_place() {
    let mut lines = Vec::new();
    for i in 0..300 {
        lines.push(format!(
            r#"{{"id":"h{i}","district":"rural","on_dibao":{},"members":[{{"age":{},"monthly_income":{}.5}}]}}"#,
            i % 2 == 0,
            20 + i % 30,
            i * 3
        ));
    }
    lines[7] = "{not json".to_string();
    lines[8] = r#"{"id":"h8","district":"nowhere","members":[]}"#.to_string();
    let input = lines.join("\n") + "\n";
    let args = household("batch", "rules", &["--threads", "2"]);
    let out = eligo(&args, Some(&input));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let outputs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(outputs.len(), 300);
    for (i, output) in outputs.iter().enumerate() {
        match i {
            7 => {
                assert_eq!(output["line"], 8);
                assert_eq!(output["error"]["kind"], "bad_json");
            }
            8 => {
                assert_eq!(output["line"], 9);
                assert_eq!(output["error"]["kind"], "invalid_input");
                assert_eq!(output["error"]["problems"].as_array().unwrap().len(), 2);
            }
            _ => assert_eq!(output["result"]["household_id"], format!("h{i}")),
        }
    }
    assert!(text(&out.stderr).contains("300 line(s), 2 error(s)"));
    // One thread gives the same bytes, and so does the native core.
    let mut single = args.to_vec();
    single[8] = "1";
    assert_eq!(eligo(&single, Some(&input)).stdout, out.stdout);
    let mut native = args.to_vec();
    native.extend(["--runtime", "native"]);
    let native_out = text(&eligo(&native, Some(&input)).stdout);
    // Only the wasm side knows the artifact's hash.
    let without_artifact = |s: &str| {
        s.lines()
            .map(|l| {
                let value: serde_json::Value = serde_json::from_str(l).unwrap();
                let mut value = value;
                if let Some(engine) = value.get_mut("engine") {
                    engine.as_object_mut().unwrap().remove("artifact");
                }
                value.to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(without_artifact(&native_out), without_artifact(&stdout));
}

#[test]
fn a_missing_artifact_is_a_clear_error() {
    let out = eligo(
        &eval_household(&["--artifact", "no/such.wasm", "-"]),
        Some("{}"),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("eligo_bg.wasm not found") && stderr.contains("cargo xtask wasm"),
        "{stderr}"
    );
}

/// The wasm runtime starts and decides under an address-space limit (by
/// default wasmtime would reserve 4 GiB per pooled instance).
#[cfg(unix)]
#[test]
fn the_wasm_runtime_decides_under_ulimit_v() {
    let line = r#"{"id":"h1","district":"rural","on_dibao":true,"relatives_in_city":false,"members":[{"age":70,"monthly_income":0}]}"#;
    let args = household("batch", "rules", &["--threads", "2"]).join(" ");
    let script = format!(
        "ulimit -v 4000000 && exec '{}' {args} --runtime wasm",
        env!("CARGO_BIN_EXE_eligo")
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{line}\n{line}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for answer in stdout.lines() {
        let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
        assert_eq!(answer["result"]["household_id"], "h1", "{answer}");
    }
}

#[test]
fn batch_refuses_a_bad_request_once() {
    let out = eligo(
        &[
            "batch", "--policy", "rules", "--entry", "nope", "--as-of", AS_OF,
        ],
        Some("{}\n"),
    );
    assert_eq!(out.status.code(), Some(2), "a bad --entry is a usage error");
    assert!(
        text(&out.stderr).contains("unknown entry `nope`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_packed_variant_decides_and_tests_like_its_directory_and_refuses_tampering() {
    let dir = std::env::temp_dir().join(format!("eligo-cli-pack-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let packed = dir.join("quarterly.json");
    let packed_arg = packed.to_str().unwrap();
    let out = eligo(
        &["pack", "rules/variants/quarterly", "-o", packed_arg],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let decide = |policy: &str| {
        let out = eligo(
            &household("eval", policy, &["--compact", "examples/household.json"]),
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // The variant's own `extends` was followed when packing: same hash,
    // same decision, same tests.
    assert_eq!(decide(packed_arg), decide("rules/variants/quarterly"));
    let tested = eligo(&["test", packed_arg], None);
    assert_eq!(tested.status.code(), Some(0), "{}", text(&tested.stderr));

    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&packed).unwrap()).unwrap();
    value["files"]["params/visits.toml"] = "# emptied\n".into();
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, value.to_string()).unwrap();
    let out = eligo(&["check", tampered.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[packed-hash]"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Inputs longer than the engine reads are refused without being read to
/// the end: an endless `/dev/zero` costs neither time nor memory, in `eval`
/// and on one `batch` line (the lines around it still decide). A key named
/// twice is refused with its path in both runtimes.
#[test]
fn oversized_and_ambiguous_inputs_are_refused_the_same_way_everywhere() {
    for runtime in ["native", "wasm"] {
        let out = eligo(&eval_household(&["--runtime", runtime, "/dev/zero"]), None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["error"]["kind"], "invalid_input");
        assert_eq!(answer["error"]["problems"][0]["rule"], "max_bytes");

        let ambiguous =
            r#"{"id":"d","district":"urban","members":[{"age":40,"monthly_income":0,"age":41}]}"#;
        let out = eligo(
            &eval_household(&["--runtime", runtime, "-"]),
            Some(ambiguous),
        );
        assert_eq!(out.status.code(), Some(1));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            answer["error"]["problems"][0]["path"], "members[0].age",
            "{answer}"
        );
        assert_eq!(answer["error"]["problems"][0]["rule"], "duplicate_key");
    }
    let good = std::fs::read_to_string(repo().join("examples/household.json")).unwrap();
    let good = good.replace('\n', "");
    let huge = format!("[{}]", "0,".repeat(600_000) + "0");
    let lines = format!("{good}\n{huge}\n{good}\n");
    let out = eligo(&household("batch", "rules", &[]), Some(&lines));
    let answers: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), 3, "{}", text(&out.stderr));
    assert_eq!(answers[0]["status"], "decided");
    assert_eq!(answers[1]["line"], 2);
    assert_eq!(answers[1]["error"]["problems"][0]["rule"], "max_bytes");
    assert_eq!(answers[2]["status"], "decided");
}

/// `eligo population` is reproducible; `eligo impact` of a raised relief
/// standard (600 → 650 yuan per person) finds exactly the money it must:
/// the same households stay eligible and every amount grows by 650/600.
/// Both runtimes give the same report; a bad line is counted by number;
/// the HTML report is one self-contained page.
#[test]
fn impact_of_a_raised_standard_is_exact_and_the_same_in_both_runtimes() {
    let draft = bundle_copy("impact-draft");
    let relief = draft.join("params/relief.toml");
    let params = std::fs::read_to_string(&relief).unwrap();
    assert!(params.contains("value = 600,"));
    std::fs::write(&relief, params.replacen("value = 600,", "value = 650,", 1)).unwrap();
    let dir = draft.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let population = dir.join("population.jsonl");
    let again = dir.join("again.jsonl");
    for path in [&population, &again] {
        let out = eligo(
            &[
                "population",
                "--households",
                "400",
                "--seed",
                "3",
                "-o",
                path.to_str().unwrap(),
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let bytes = std::fs::read(&population).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&again).unwrap(),
        "same seed, same bytes"
    );
    // One bad line in the middle.
    let mut with_bad = bytes.clone();
    let cut = with_bad.iter().position(|&b| b == b'\n').unwrap() + 1;
    with_bad.splice(cut..cut, b"{not json\n".iter().copied());
    std::fs::write(&population, &with_bad).unwrap();

    let report = |runtime: &str, format: &str| {
        let out = eligo(
            &[
                "impact",
                "--base",
                "rules",
                "--draft",
                draft.to_str().unwrap(),
                "--population",
                population.to_str().unwrap(),
                "--as-of",
                AS_OF,
                "--by",
                "district,class",
                "--runtime",
                runtime,
                "--format",
                format,
            ],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("line 2: not JSON"),
            "{}",
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let native = report("native", "json");
    assert_eq!(native, report("wasm", "json"), "both runtimes, one report");
    let json: serde_json::Value = serde_json::from_str(&native).unwrap();
    assert_eq!(json["households"], 400);
    assert_eq!(json["bad_lines"], 1);
    let eligible = &json["transitions"]["programs.temporary_relief.eligible"];
    assert!(
        eligible["changed"].as_array().unwrap().is_empty(),
        "{eligible}"
    );
    let money = &json["totals"]["programs.temporary_relief.monthly_amount"];
    let before: f64 = money["before"].to_string().parse().unwrap();
    let after: f64 = money["after"].to_string().parse().unwrap();
    assert!(before > 0.0, "some households get relief: {money}");
    assert_eq!(after * 600.0, before * 650.0, "{money}");
    assert_eq!(json["changed"], money["changed"]);
    let urban = &json["groups"]["district"]["urban"];
    assert!(urban["households"].as_u64().unwrap() > 100);

    let html = report("native", "html");
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg"));
    assert!(html.contains("programs.temporary_relief.monthly_amount"));
    assert!(
        !html.contains("<script") && !html.contains("http"),
        "self-contained"
    );
    std::fs::remove_dir_all(&draft).ok();
}

/// `eligo impact` of `draft` against the default bundle over `population`,
/// natively at [`AS_OF`], with `extra` arguments; it must succeed.
/// (stdout, stderr).
fn impact(draft: &str, population: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "impact",
        "--base",
        "rules",
        "--draft",
        draft,
        "--population",
        population.to_str().unwrap(),
        "--as-of",
        AS_OF,
        "--runtime",
        "native",
    ];
    args.extend_from_slice(extra);
    let out = eligo(&args, None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

/// A draft that changes only a parameter some households read (the
/// frontline health pack, 300 → 320 yuan a week): households whose base
/// decision did not read it keep their base decision without being decided
/// again, and the report is byte-for-byte the one full re-evaluation gives.
#[test]
fn impact_skips_only_households_a_parameter_change_cannot_reach() {
    let draft = bundle_copy("impact-skip");
    let care = draft.join("params/care.toml");
    let params = std::fs::read_to_string(&care).unwrap();
    assert!(params.contains("value = 300,"));
    std::fs::write(&care, params.replacen("value = 300,", "value = 320,", 1)).unwrap();
    let population = draft.join("population.jsonl");
    let out = eligo(
        &[
            "population",
            "--households",
            "300",
            "--seed",
            "5",
            "-o",
            population.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let draft_path = draft.to_str().unwrap();
    let report = |extra: &[&str]| {
        let mut args = vec!["--by", "district", "--format", "json"];
        args.extend_from_slice(extra);
        impact(draft_path, &population, &args)
    };
    let (skipping, said) = report(&[]);
    let (full, said_full) = report(&["--decide-all"]);
    assert_eq!(skipping, full, "skipping changes nothing in the report");
    let kept = |said: &str| -> usize {
        let at = said.find(" kept their base decision").expect(said);
        let start = said[..at].rfind('(').unwrap() + 1;
        said[start..at].parse().unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&skipping).unwrap();
    let households = json["households"].as_u64().unwrap() as usize;
    let changed = json["changed"].as_u64().unwrap() as usize;
    assert!(changed > 0, "some households have frontline workers");
    assert!(
        kept(&said) > 0 && kept(&said) <= households - changed,
        "{said}"
    );
    assert_eq!(kept(&said_full), 0, "{said_full}");
    std::fs::remove_dir_all(&draft).ok();
}

/// Ctrl-C during `eligo impact` ends the run after the households in
/// progress: exit 130, and the report of the households done, marked as
/// stopped, is still written.
#[test]
fn impact_stops_cleanly_on_ctrl_c_with_a_report_of_what_was_done() {
    let dir = std::env::temp_dir().join(format!("eligo-cli-ctrl-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let population = dir.join("population.jsonl");
    let report = dir.join("report.json");
    // Far more than a debug build decides in the second before Ctrl-C.
    let out = eligo(
        &[
            "population",
            "--households",
            "200000",
            "--seed",
            "1",
            "-o",
            population.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let child = Command::new(env!("CARGO_BIN_EXE_eligo"))
        .args([
            "impact",
            "--base",
            "rules",
            "--draft",
            "rules/variants/quarterly",
            "--population",
            population.to_str().unwrap(),
            "--as-of",
            AS_OF,
            "--runtime",
            "native",
            "--threads",
            "1",
            "-o",
            report.to_str().unwrap(),
        ])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("stopped by Ctrl-C"),
        "{}",
        text(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["stopped"], true);
    let lines = json["lines"].as_u64().unwrap();
    assert!(lines > 0 && lines < 200_000, "{lines}");
    assert_eq!(json["households"], lines);
    std::fs::remove_dir_all(&dir).ok();
}

/// The same population as CSV (one row per member, written by `eligo
/// population --format csv`) gives the same impact report as JSON Lines,
/// with each changed example household's reasons before and after.
#[test]
fn impact_reads_csv_populations_like_json_lines() {
    let dir = std::env::temp_dir().join(format!("eligo-cli-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jsonl = dir.join("population.jsonl");
    let csv = dir.join("population.csv");
    for (path, extra) in [
        (&jsonl, vec![]),
        (&csv, vec!["--format", "csv", "--policy", "rules"]),
    ] {
        let mut args = vec![
            "population",
            "--households",
            "150",
            "--seed",
            "9",
            "-o",
            path.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = eligo(&args, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let header = std::fs::read_to_string(&csv).unwrap();
    assert!(
        header.starts_with("cases,district,id,"),
        "{}",
        &header[..80]
    );
    let report =
        |population: &Path| impact("rules/variants/quarterly", population, &["--lang", "en"]).0;
    let from_jsonl = report(&jsonl);
    assert_eq!(from_jsonl, report(&csv));
    let json: serde_json::Value = serde_json::from_str(&from_jsonl).unwrap();
    assert_eq!(json["households"], 150);
    let example = &json["examples"][0];
    assert!(example["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["path"] == "visits.interval_days"));
    let reasons = |side: &str| example[side]["reasons"].to_string();
    assert_ne!(reasons("before"), reasons("after"), "{example}");
    assert!(
        reasons("after").contains("visit every"),
        "English reasons: {example}"
    );

    // A CSV whose header does not fit the schema stops before any decision.
    std::fs::write(dir.join("bad.csv"), "id,district,colour\nh1,urban,red\n").unwrap();
    let out = eligo(
        &[
            "impact",
            "--base",
            "rules",
            "--population",
            dir.join("bad.csv").to_str().unwrap(),
            "--as-of",
            AS_OF,
            "--runtime",
            "native",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 1: unknown column `colour`"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The impact accumulator against an independent recount: the same
/// population decided by `eligo batch` under the base and under the draft
/// (the quarterly variant), and the flips, transitions, exact money totals
/// and rules fired counted here from the two outputs, must equal the report
/// of `eligo impact`.
#[test]
fn impact_equals_a_recount_of_two_batch_runs() {
    use std::collections::BTreeMap;

    let dir = std::env::temp_dir().join(format!("eligo-cli-recount-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let population = dir.join("population.jsonl");
    let out = eligo(
        &[
            "population",
            "--households",
            "600",
            "--seed",
            "11",
            "-o",
            population.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = std::fs::read_to_string(&population).unwrap();
    let decided = |bundle: &str| -> Vec<serde_json::Value> {
        let out = eligo(
            &[
                "batch",
                "--policy",
                bundle,
                "--entry",
                "household",
                "--as-of",
                AS_OF,
                "--runtime",
                "native",
            ],
            Some(&lines),
        );
        text(&out.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let (before, after) = (decided("rules"), decided("rules/variants/quarterly"));
    assert_eq!(before.len(), 600);

    // Exact money in fen, from the JSON number's text.
    let fen = |value: &serde_json::Value| -> i64 {
        let text = value.to_string();
        let (whole, part) = text.split_once('.').unwrap_or((&text, "0"));
        whole.parse::<i64>().unwrap() * 100 + format!("{part:0<2}")[..2].parse::<i64>().unwrap()
    };
    let mut flips: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut money: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut rules: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut changed = 0;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["status"], "decided");
        let (rb, ra) = (&b["result"], &a["result"]);
        for path in [
            "programs.temporary_relief.eligible",
            "programs.solitary_elderly_care.eligible",
            "class",
            "escalation.level",
            "visits.next_due",
        ] {
            let at = |v: &serde_json::Value| {
                path.split('.')
                    .fold(v.clone(), |v, k| v[k].clone())
                    .to_string()
                    .trim_matches('"')
                    .to_string()
            };
            let (x, y) = (at(rb), at(ra));
            if x != y {
                *flips.entry((path.to_string(), x, y)).or_default() += 1;
            }
        }
        for path in [
            "programs.temporary_relief.monthly_amount",
            "programs.frontline_health_pack.weekly_amount",
            "visits.interval_days",
        ] {
            let at =
                |v: &serde_json::Value| fen(&path.split('.').fold(v.clone(), |v, k| v[k].clone()));
            let totals = money.entry(path).or_default();
            totals.0 += at(rb);
            totals.1 += at(ra);
        }
        for (side, envelope) in [(0, b), (1, a)] {
            for reason in envelope["reasons"].as_array().unwrap() {
                let counts = rules
                    .entry(reason["rule"].as_str().unwrap().to_string())
                    .or_default();
                if side == 0 {
                    counts.0 += 1
                } else {
                    counts.1 += 1
                }
            }
        }
        // Changed: any leaf of the result (lists aside) differs.
        fn leaves(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        leaves(&format!("{prefix}.{k}"), v, out);
                    }
                }
                serde_json::Value::Array(_) => {}
                other => {
                    out.insert(prefix.to_string(), other.to_string());
                }
            }
        }
        let (mut lb, mut la) = (BTreeMap::new(), BTreeMap::new());
        leaves("", rb, &mut lb);
        leaves("", ra, &mut la);
        changed += u64::from(lb != la);
    }

    let (stdout, _) = impact(
        "rules/variants/quarterly",
        &population,
        &["--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["households"], 600);
    assert_eq!(
        report["changed"], changed,
        "households whose decision changed"
    );
    assert!(
        changed > 100,
        "the variant changes many visit schedules: {changed}"
    );
    for ((path, from, to), count) in &flips {
        let cells = report["transitions"][path]["changed"].as_array().unwrap();
        let cell = cells
            .iter()
            .find(|c| c["from"] == from.as_str() && c["to"] == to.as_str())
            .unwrap_or_else(|| panic!("no {path} {from} → {to} in {cells:?}"));
        assert_eq!(cell["count"], *count, "{path} {from} → {to}");
    }
    for path in ["class", "escalation.level", "visits.next_due"] {
        let reported: u64 = report["transitions"]
            .get(path)
            .map(|t| {
                t["changed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["count"].as_u64().unwrap())
                    .sum()
            })
            .unwrap_or_else(|| report["totals"][path]["changed"].as_u64().unwrap());
        let counted: u64 = flips
            .iter()
            .filter(|((p, _, _), _)| p == path)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(reported, counted, "{path}: every change is in the report");
    }
    for (path, (b, a)) in &money {
        let totals = &report["totals"][*path];
        assert_eq!(
            (fen(&totals["before"]), fen(&totals["after"])),
            (*b, *a),
            "{path}"
        );
    }
    for (rule, (b, a)) in &rules {
        assert_eq!(
            report["rules"][rule],
            serde_json::json!({ "before": b, "after": a }),
            "{rule}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Diagnostics that cannot be written (stderr on a full device) are an I/O
/// failure, exit 3, not a panic or a silent exit 1.
#[cfg(target_os = "linux")]
#[test]
fn check_exits_3_when_its_diagnostics_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bundle.toml"), "name = \n").unwrap();
    let bundle = dir.path().to_str().unwrap();
    let out = eligo(&["check", bundle], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("bundle.toml"));
    let full = Command::new(env!("CARGO_BIN_EXE_eligo"))
        .args(["check", bundle])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create("/dev/full").unwrap())
        .status()
        .unwrap();
    assert_eq!(full.code(), Some(3));
}
