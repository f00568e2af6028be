//! Engine guarantees over real bundles: determinism, the bundle hash,
//! effective-dated parameters, and the rule sandbox.

use eligo_core::{Bundle, BundleFiles, DecideError, Mode};
use eligo_tests::{
    decide_job, default_bundle, default_bundle_dir, files_of, load, request, tiny_bundle_files,
    HOSTILE_RULES,
};
use serde_json::{json, Value};

fn household() -> Value {
    json!({
        "id": "h-det",
        "district": "urban",
        "on_dibao": true,
        "last_visit": "2026-10-01",
        "members": [
            {"age": 45, "monthly_income": 800.5, "employment": "unemployed_epidemic", "chronic_illness": true},
            {"age": 12, "monthly_income": 0, "difficult_child": true},
            {"age": 40, "monthly_income": 1200.25, "frontline_worker": true}
        ],
        "cases": [
            {"id": "c1", "kind": "coordination", "opened_at": "2026-11-19T10:00:00+08:00"},
            {"id": "c2", "kind": "emergency", "opened_at": "2026-11-20T08:00:00+08:00"},
            {"id": "c3", "kind": "long_term", "opened_at": "2026-06-01T08:00:00+08:00"}
        ]
    })
}

fn decide(bundle: &Bundle, input: &Value, as_of: &str) -> Result<String, DecideError> {
    bundle
        .decide(&request(
            "household",
            input,
            as_of,
            Mode::Strict,
            Some("en"),
        ))
        .map(|envelope| envelope.to_json())
}

#[test]
fn same_bundle_input_and_as_of_give_byte_identical_json() {
    let first = default_bundle();
    let second = default_bundle();
    let input = household();
    let a = decide(&first, &input, "2026-11-24T10:01:00+08:00").unwrap();
    let b = decide(&first, &input, "2026-11-24T10:01:00+08:00").unwrap();
    let c = decide(&second, &input, "2026-11-24T10:01:00+08:00").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    // Key order in the input does not matter either.
    let reordered: Value = serde_json::from_str(&{
        let mut members = input["members"].clone();
        members.as_array_mut().unwrap().iter_mut().for_each(|m| {
            let object = m.as_object().unwrap().clone();
            let mut pairs: Vec<_> = object.into_iter().collect();
            pairs.reverse();
            *m = Value::Object(pairs.into_iter().collect());
        });
        let mut copy = input.clone();
        copy["members"] = members;
        copy.to_string()
    })
    .unwrap();
    assert_eq!(
        a,
        decide(&first, &reordered, "2026-11-24T10:01:00+08:00").unwrap()
    );
}

#[test]
fn a_reason_shows_input_text_as_given_even_when_it_looks_like_a_placeholder() {
    // ES-RED-2's message is "… case(s) {cases} unanswered for more than
    // {minutes} minutes.": a case id `{minutes}` must stay the case id.
    let mut input = household();
    input["cases"][1]["id"] = json!("{minutes}");
    let envelope: Value = serde_json::from_str(
        &decide(&default_bundle(), &input, "2026-11-24T10:01:00+08:00").unwrap(),
    )
    .unwrap();
    let red = envelope["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|reason| reason["rule"] == "ES-RED-2")
        .expect("the late emergency case fires ES-RED-2");
    assert_eq!(
        red["text"],
        "Red: emergency case(s) {minutes} unanswered for more than 15 minutes."
    );
}

#[test]
fn envelope_fields_come_in_a_fixed_order_and_money_is_exact() {
    let text = decide(&default_bundle(), &household(), "2026-11-24T10:01:00+08:00").unwrap();
    let keys = [
        "\"entry\"",
        "\"policy\"",
        "\"engine\"",
        "\"as_of\"",
        "\"mode\"",
        "\"lang\"",
        "\"status\"",
        "\"result\"",
        "\"reasons\"",
        "\"parameters\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("\"income_total\":2000.75"), "{text}");
    assert!(text.contains("\"per_capita_income\":666.92"), "{text}");
    assert!(text.contains("\"monthly_amount\":1800.00"), "{text}");
    assert!(text.contains("\"weekly_amount\":300.00"), "{text}");
}

#[test]
fn bundle_hash_is_stable_and_independent_of_line_endings() {
    let files = files_of(&default_bundle_dir());
    let bundle = load(files.clone());
    assert_eq!(bundle.hash(), files.hash());
    assert_eq!(bundle.hash().len(), "sha256:".len() + 64);
    let crlf = BundleFiles::from_pairs(files.iter().map(|(path, text)| {
        (
            path.replace('/', "\\"),
            format!("\u{feff}{}", text.replace('\n', "\r\n")),
        )
    }))
    .unwrap();
    assert_eq!(crlf.hash(), files.hash());
    let input = household();
    assert_eq!(
        decide(&load(crlf), &input, "2026-11-24T10:01:00+08:00").unwrap(),
        decide(&bundle, &input, "2026-11-24T10:01:00+08:00").unwrap()
    );
    // Any edit changes it.
    let mut edited = files.clone();
    let text = files
        .get("params/relief.toml")
        .unwrap()
        .replace("value = 600", "value = 601");
    edited
        .insert("params/relief.toml", text.as_bytes())
        .unwrap();
    assert_ne!(edited.hash(), files.hash());
}

#[test]
fn a_parameter_changes_on_its_effective_date_and_not_before() {
    let mut files = files_of(&default_bundle_dir());
    let relief = files.get("params/relief.toml").unwrap().replace(
        "  { from = \"2023-09-01\", value = 600, source = \"000 §1.3.2\" },",
        "  { from = \"2023-09-01\", value = 600, source = \"000 §1.3.2\" },\n  { from = \"2027-01-01\", value = 650, source = \"notice 2027-1\" },",
    );
    assert!(relief.contains("650"));
    files
        .insert("params/relief.toml", relief.as_bytes())
        .unwrap();
    let bundle = load(files);
    let input = json!({"id": "h", "district": "urban", "on_dibao": true, "members": [{"age": 40, "monthly_income": 0}]});
    let amount = |as_of: &str| -> (String, String) {
        let envelope: Value =
            serde_json::from_str(&decide(&bundle, &input, as_of).unwrap()).unwrap();
        let used = envelope["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "tr_standard_per_person")
            .unwrap()
            .clone();
        (
            envelope["result"]["programs"]["temporary_relief"]["monthly_amount"].to_string(),
            format!(
                "{} from {} ({})",
                used["value"], used["from"], used["source"]
            ),
        )
    };
    assert_eq!(
        amount("2026-12-31T23:59:59+08:00"),
        (
            "600.00".into(),
            "600.00 from \"2023-09-01\" (\"000 §1.3.2\")".into()
        )
    );
    assert_eq!(
        amount("2027-01-01T00:00:00+08:00"),
        (
            "650.00".into(),
            "650.00 from \"2027-01-01\" (\"notice 2027-1\")".into()
        )
    );
    // The local date of as_of decides: 2026-12-31T23:00 at UTC-2 is still 2026.
    assert_eq!(amount("2026-12-31T23:00:00-02:00").0, "600.00");
    // Before any value is in force, the rule that reads it fails clearly.
    let Err(DecideError::Rule(failure)) = decide(&bundle, &input, "2023-01-01T00:00:00+08:00")
    else {
        panic!("expected a rule error")
    };
    assert_eq!(failure.file, "household.rhai");
    assert!(failure.line > 0 && failure.column > 0);
    assert!(
        failure
            .message
            .contains("has no value in force on 2023-01-01"),
        "{failure}"
    );
}

fn run_tiny(rhai: &str, n: i64) -> Result<Value, DecideError> {
    decide_job(&load(tiny_bundle_files(rhai, &[])), n)
}

fn rule_error(result: Result<Value, DecideError>) -> eligo_core::error::RuleLocation {
    match result {
        Err(DecideError::Rule(failure)) => failure,
        other => panic!("expected a rule error, got {other:?}"),
    }
}

#[test]
fn sandbox_stops_runaway_rules_with_located_errors_and_keeps_working() {
    let bundle = load(tiny_bundle_files(HOSTILE_RULES, &[]));
    let run = |n: i64| decide_job(&bundle, n);
    let cases = [
        (1, 4, "Too many operations"),
        (2, 2, "Stack overflow"),
        (3, 6, "Length of string too large"),
        (4, 7, "Size of array"),
        (11, 8, "nested deeper than 64"),
        (12, 9, "Too many operations"),
    ];
    for (n, line, message) in cases {
        let failure = rule_error(run(n));
        assert_eq!(failure.file, "job.rhai", "case {n}");
        assert_eq!(failure.line, line, "case {n}: {failure}");
        assert!(failure.column > 0, "case {n}: {failure}");
        assert!(failure.message.contains(message), "case {n}: {failure}");
        // The same compiled bundle keeps deciding.
        assert_eq!(run(0).unwrap(), json!({ "ok": "OK" }));
    }
}

#[test]
fn rules_cannot_reach_outside_the_sandbox() {
    for (source, expected) in [
        ("fn decide(input, ctx) { eval(\"1\") }", "eval"),
        ("fn decide(input, ctx) { import \"x\" as y; #{} }", "import"),
        ("fn decide(input, ctx) { timestamp() }", "timestamp"),
        ("fn decide(input, ctx) { let x = 1.5 * 2.0; #{ x: x } }", ""),
    ] {
        let outcome = Bundle::load(tiny_bundle_files(source, &[]));
        match outcome {
            // Floats do not exist: decimal literals are exact decimals.
            Ok(bundle) if expected.is_empty() => {
                let json = decide_job(&bundle, 0).unwrap().to_string();
                assert!(json.contains("\"x\":3.00"), "{json}");
            }
            Ok(bundle) => {
                let failure = rule_error(decide_job(&bundle, 0));
                assert!(failure.message.contains(expected), "{source}: {failure}");
            }
            Err(problems) => {
                assert!(
                    problems.iter().any(|p| p.is_error() && p.line > 0),
                    "{source}: {problems:?}"
                );
            }
        }
    }
}

#[test]
fn rule_mistakes_are_reported_with_file_line_and_column() {
    let unknown_param = rule_error(run_tiny(
        "fn decide(input, ctx) {\n  let x = ctx.param(\"nope\");\n  #{}\n}",
        0,
    ));
    assert_eq!(
        (unknown_param.line, unknown_param.column),
        (2, 15),
        "{unknown_param}"
    );
    assert!(unknown_param.message.contains("unknown parameter `nope`"));

    let undeclared = rule_error(run_tiny(
        "fn decide(input, ctx) {\n  let id = \"NO\" + \"PE\";\n  ctx.fire(id);\n  #{}\n}",
        0,
    ));
    assert_eq!(undeclared.line, 3, "{undeclared}");
    assert!(
        undeclared.message.contains("unknown rule ID `NOPE`"),
        "{undeclared}"
    );

    let missing_field = rule_error(run_tiny(
        "fn decide(input, ctx) {\n  #{ x: input.ask }\n}",
        0,
    ));
    assert_eq!(missing_field.line, 2, "{missing_field}");

    // Values from a variable: only the decision finds the one missing, at
    // the call (a literal map is checked when the bundle loads).
    let placeholder = rule_error(run_tiny(
        "fn decide(input, ctx) {\n  let values = #{};\n  ctx.fire(\"OK\", values); #{}\n}",
        0,
    ));
    assert!(placeholder.message.contains("{n}"), "{placeholder}");
    assert_eq!(
        (placeholder.line, placeholder.column),
        (3, 7),
        "{placeholder}"
    );

    let not_a_map = rule_error(run_tiny("\nfn decide(input, ctx) { 42 }", 0));
    assert!(
        not_a_map.message.contains("must return an object map"),
        "{not_a_map}"
    );
    assert_eq!((not_a_map.line, not_a_map.column), (2, 1), "{not_a_map}");

    let bad_need = rule_error(run_tiny(
        "fn decide(input, ctx) { ctx.need(\"n\", \"OK\"); #{} }",
        0,
    ));
    assert!(bad_need.message.contains("never missing"), "{bad_need}");
}

#[test]
fn bundle_problems_are_all_reported_with_locations() {
    let files = tiny_bundle_files(
        "fn decide(input, ctx) {\n  ctx.fire(\"GHOST\");\n  let x = ;\n}",
        &[
            ("messages/en.toml", "[rules]\nOK = \"fine\"\nEXTRA = \"x\"\n"),
            ("params/p.toml", "[p]\ntype = \"money\"\nvalues = [{ from = \"2026-01-01\", value = \"1.001\", source = \"s\" }]\n"),
            ("tests/t.yaml", "cases:\n  - name: a\n    input: [\n"),
        ],
    );
    let problems = Bundle::load(files).unwrap_err();
    let codes: Vec<&str> = problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.code.as_str())
        .collect();
    for code in [
        "rhai-syntax",
        "message-missing",
        "message-unknown",
        "param-value",
        "test-yaml",
    ] {
        assert!(codes.contains(&code), "missing {code} in {problems:#?}");
    }
    let syntax = problems.iter().find(|p| p.code == "rhai-syntax").unwrap();
    assert_eq!(
        (syntax.file.as_str(), syntax.line),
        ("job.rhai", 3),
        "{syntax}"
    );
}

#[test]
fn field_labels_help_and_value_names_must_name_real_fields_and_values() {
    let labelled = |messages: &str| {
        let text = format!("[rules]\nOK = \"fine: {{n}}\"\nBIG = \"big\"\n{messages}");
        Bundle::load(tiny_bundle_files(
            "fn decide(input, ctx) { #{} }",
            &[
                ("messages/en.toml", text.as_str()),
                ("schema/job.toml", "[fields]\nn = { type = \"integer\", required = true, min = 0, max = 10 }\nsize = { type = \"enum\", values = [\"s\", \"l\"] }\n"),
            ],
        ))
    };
    let good = "[labels.job]\nn = \"Number\"\n\"result.total\" = \"Total\"\n[help.job]\nn = \"How many\"\n[values.job.size]\ns = \"Small\"\n[values.job.\"result.level\"]\nred = \"Red\"\n";
    assert!(labelled(good).is_ok(), "{:?}", labelled(good).err());
    for (bad, says) in [
        (
            "[labels.job]\nnope = \"x\"\n",
            "label for unknown field `job.nope`",
        ),
        (
            "[help.job]\n\"n.deeper\" = \"x\"\n",
            "help text for unknown field `job.n.deeper`",
        ),
        (
            "[values.job.size]\nxl = \"x\"\n",
            "`xl`, which is not a value of `job.size` (s, l)",
        ),
        (
            "[values.job.n]\n\"1\" = \"x\"\n",
            "`job.n`, which is not an enum",
        ),
        (
            "[labels.ghost]\n\"result.x\" = \"x\"\n",
            "unknown field `ghost.result.x`",
        ),
    ] {
        let problems = labelled(bad).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.code == "message-unknown" && p.message.contains(says)),
            "{bad}: {problems:#?}"
        );
    }
}

#[test]
fn a_key_named_twice_in_the_input_is_refused_with_its_path() {
    let bundle = load(files_of(&default_bundle_dir()));
    let request = r#"{"entry":"household","input":{"id":"d","district":"urban","members":[{"age":40,"monthly_income":0},{"age":7,"monthly_income":0,"age":8}]},"as_of":"2026-11-20T09:00:00+08:00"}"#;
    let answer = eligo_core::api::decide_json(&bundle, request).unwrap_err();
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["kind"], "invalid_input", "{answer}");
    assert_eq!(answer["error"]["problems"][0]["path"], "members[1].age");
    assert_eq!(answer["error"]["problems"][0]["rule"], "duplicate_key");
}

#[test]
fn sort_comparators_are_bounded_and_their_errors_stop_the_decision() {
    // Every comparison sorts 300 items again: without the operation limit
    // reaching inside comparators this runs for minutes.
    let nested = "fn cmp(a, b) { let x = []; for i in 0..300 { x.push(300 - i); } x.sort(|p, q| p - q); a - b }\n\
                  fn decide(input, ctx) { let a = []; for i in 0..300 { a.push(300 - i); } a.sort(cmp); #{ ok: ctx.fire(\"OK\", #{ n: a[0] }) } }";
    let started = std::time::Instant::now();
    let stopped = rule_error(run_tiny(nested, 0));
    assert!(stopped.message.contains("operations"), "{stopped}");
    eprintln!(
        "nested sorts stopped by the operation limit in {:?}",
        started.elapsed()
    );

    let failing = "fn decide(input, ctx) { let a = [3, 1, 2]; a.sort(|p, q| p.nope); #{ ok: ctx.fire(\"OK\", #{ n: a[0] }) } }";
    rule_error(run_tiny(failing, 0));
    let not_int = "fn decide(input, ctx) { let a = [3, 1, 2]; a.sort(|p, q| true); #{ ok: ctx.fire(\"OK\", #{ n: a[0] }) } }";
    assert!(rule_error(run_tiny(not_int, 0))
        .message
        .contains("must return an integer"));

    let fine = "fn decide(input, ctx) { let a = [3, 1, 2, 1]; a.sort(|p, q| p - q); a.dedup(|p, q| p == q); if a != [1, 2, 3] { throw `not sorted: ${a}`; } #{ ok: ctx.fire(\"OK\", #{ n: 1 }) } }";
    run_tiny(fine, 0).unwrap();
    let by_name = "fn cmp(a, b) { b - a }\nfn decide(input, ctx) { let a = [1, 3, 2]; a.sort(cmp); if a != [3, 2, 1] { throw \"not sorted\"; } #{ ok: ctx.fire(\"OK\", #{ n: 1 }) } }";
    run_tiny(by_name, 0).unwrap();
}

#[test]
fn add_working_days_is_bounded_by_count() {
    let rhai = "fn decide(input, ctx) { let c = ctx.param(\"cal\"); let n = if input.n == 0 { 9223372036854775807 } else if input.n == 1 { -1 } else { input.n }; let d = c.add_working_days(date(\"2026-01-05\"), n); #{ ok: ctx.fire(\"OK\", #{ n: d.days_until(date(\"2026-01-05\")) }) } }";
    let calendar = "[cal]\ntype = \"calendar\"\n[[cal.values]]\nfrom = \"2025-01-01\"\nsource = \"s\"\n[cal.values.value]\ndays_off = [\"2026-01-06\"]\nmake_up_working_days = []\n";
    let bundle = load(tiny_bundle_files(rhai, &[("params/cal.toml", calendar)]));
    assert!(
        decide_job(&bundle, 2).is_ok(),
        "{:?}",
        decide_job(&bundle, 2)
    );
    // Refused by its count before any stepping (it used to walk for seconds).
    let huge = rule_error(decide_job(&bundle, 0));
    assert!(huge.message.contains("outside 0 to 2500"), "{huge}");
    assert!(rule_error(decide_job(&bundle, 1))
        .message
        .contains("outside"));
}

#[test]
fn limits_of_zero_or_over_the_ceiling_are_located_errors() {
    let manifest = "name = \"tiny\"\nversion = \"1\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n[limits]\nmax_operations = 0\nmax_expr_depth = 100000\n";
    let files = tiny_bundle_files(
        "fn decide(input, ctx) { #{} }",
        &[("bundle.toml", manifest)],
    );
    let problems = Bundle::load(files).unwrap_err();
    let limits: Vec<_> = problems
        .iter()
        .filter(|p| p.code == "manifest-limit")
        .collect();
    assert_eq!(limits.len(), 2, "{problems:#?}");
    assert_eq!(limits[0].line, 8, "{}", limits[0]);
    assert!(
        limits[0]
            .message
            .contains("max_operations = 0: must be from 1 to 10000000"),
        "{}",
        limits[0]
    );
    assert_eq!(limits[1].line, 9);
    assert!(
        !limits[1].message.contains("Limits {"),
        "no Debug dump: {}",
        limits[1]
    );
}

#[test]
fn static_check_finds_undeclared_rule_ids() {
    let files = tiny_bundle_files("fn decide(input, ctx) {\n  ctx.fire(\"OK\", #{ n: 1 });\n    ctx.fire(\"GHOST\");\n  #{}\n}", &[]);
    let problems = Bundle::load(files).unwrap_err();
    let ghost = problems
        .iter()
        .find(|p| p.code == "rule-id")
        .expect("rule-id diagnostic");
    assert_eq!((ghost.line, ghost.column), (3, 14), "{ghost}");
    let unused = problems
        .iter()
        .find(|p| p.code == "rule-unused")
        .expect("unused warning");
    assert!(unused.message.contains("`BIG`"));
}

#[test]
fn deeply_nested_values_from_rules_are_refused_not_crashed() {
    let source =
        "fn decide(input, ctx) { let a = []; for i in 0..input.n { a = [a]; } #{ deep: a } }";
    let bundle = load(tiny_bundle_files(source, &[]));
    let run = |n: i64| decide_job(&bundle, n);
    assert!(run(10).is_ok());
    // Too deep for a result.
    let failure = rule_error(run(100));
    assert!(
        failure.message.contains("nested more than 32 levels deep"),
        "{failure}"
    );
    // Deeper still, on a small thread stack as a worker thread would have:
    // the size limit (which counts nested items) stops it before the stack
    // runs out.
    let outcome = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn_scoped(scope, || run(100_000))
            .unwrap()
            .join()
            .expect("no stack overflow")
    });
    let failure = rule_error(outcome);
    assert!(failure.message.contains("Size of array"), "{failure}");
}
