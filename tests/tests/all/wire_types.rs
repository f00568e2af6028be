//! The TypeScript declarations (`wasm/js/index.d.ts`) describe exactly the
//! JSON the Rust wire types (`eligo_core::wire`) write.
//!
//! Real answers of the core — envelopes in strict and partial mode, an error
//! answer of each kind the core gives, check reports of a good and a broken
//! bundle, a test report with a failing case, a described and a packed
//! bundle, load and decide requests — are written as a TypeScript file that
//! assigns each to the type of the same name, and `tsc --strict` must
//! accept it. So
//! - a field Rust writes that the type lacks fails (an excess property);
//! - a field the type requires that Rust does not write fails (a missing
//!   property);
//! - an optional field of the type that no sample writes fails: for every
//!   type, nested ones included, the keys the samples write must cover all
//!   of its keys, so every optional field is vouched for by a real value;
//! - a number that is not a safe integer must be typed to accept a
//!   `Decimal`, as `parse` in index.js gives it;
//! - `ErrorKind`, `Severity`, `Mode`, `Status` and `CompareOp` list exactly
//!   the values of the Rust enums.
//!
//! The declarations are read from `wasm/js`, not from the copy `cargo xtask
//! wasm` makes in `target/wasm`, so a stale build cannot hide a difference.
//! Needs the npm packages that `cargo xtask test` installs in tests/browser.

use std::collections::{BTreeMap, BTreeSet};

use eligo_core::api;
use eligo_core::schema::CompareOp;
use eligo_core::wire::{
    BundleSource, CheckReport, DecideRequest, Diagnostic, ErrorAnswer, ErrorBody, ErrorKind,
    LoadRequest, Mode, Severity, Status,
};
use eligo_tests::{default_bundle, repo_root, request, tiny_bundle_files, HOSTILE_RULES};
use serde_json::{json, Value};

const AS_OF: &str = "2026-11-20T09:00:00+08:00";
const ARTIFACT: &str = "sha256:0123456789abcdef";

/// The generated file, relative to the repository root.
const CHECK_FILE: &str = "target/wire-check/wire_types.ts";
/// The declarations under test, as `CHECK_FILE` imports them.
const DECLARATIONS: &str = "../../wasm/js/index.js";

/// Every type the generated file names: each must be exported by index.d.ts.
const TYPE_NAMES: &[&str] = &[
    "BundleInfo",
    "BundleSummary",
    "CaseOutcome",
    "CheckReport",
    "CompareOp",
    "Condition",
    "DecideRequest",
    "Diagnostic",
    "EngineInfo",
    "EntryInfo",
    "Envelope",
    "ErrorAnswer",
    "ErrorBody",
    "ErrorKind",
    "Field",
    "FieldProblem",
    "Kind",
    "LoadRequest",
    "Mismatch",
    "Mode",
    "Need",
    "ObjectType",
    "PackedBundle",
    "ParameterUse",
    "PolicyInfo",
    "Reason",
    "RuleLocation",
    "Schema",
    "Severity",
    "Status",
    "TestReport",
];

/// One value a Rust wire type wrote, and the TypeScript type it must have.
struct Sample {
    /// The constant's name in the generated file.
    name: &'static str,
    ts_type: &'static str,
    json: Value,
}

/// The JSON a wire type writes (a macro: this crate does not depend on serde).
macro_rules! json_of {
    ($value:expr) => {
        serde_json::to_value(&$value).expect("wire types serialise")
    };
}

macro_rules! sample {
    ($name:literal, $ts_type:literal, $value:expr) => {
        Sample {
            name: $name,
            ts_type: $ts_type,
            json: json_of!($value),
        }
    };
}

/// The error answer of a call that must fail with `kind`.
fn error_answer<T: std::fmt::Debug>(result: Result<T, ErrorBody>, kind: ErrorKind) -> ErrorAnswer {
    match result {
        Err(error) if error.kind == kind => ErrorAnswer { error },
        other => panic!("expected a {kind} error, got {other:?}"),
    }
}

fn load_request(files: &eligo_core::BundleFiles, artifact: Option<&str>) -> LoadRequest {
    LoadRequest {
        bundle: BundleSource::Files(
            files
                .iter()
                .map(|(path, text)| (path.to_string(), text.to_string()))
                .collect(),
        ),
        artifact: artifact.map(str::to_string),
        tests: true,
    }
}

/// The tiny `job` bundle: rules that fire `OK` unless they run away, an
/// unused file (a warning), and a test file with a passing and a failing case.
fn tiny_job_files() -> eligo_core::BundleFiles {
    tiny_bundle_files(
        HOSTILE_RULES,
        &[
            ("notes.txt", "not part of the layout\n"),
            (
                "tests/job.yaml",
                "entry: job\nas_of: \"2026-11-20T09:00:00+08:00\"\ncases:\n  - name: five is fine\n    input: { n: 5 }\n    expect: { status: decided, rules: [OK] }\n  - name: a wrong expectation\n    input: { n: 5 }\n    expect: { rules: [BIG], result: { ok: 1.50 } }\n",
            ),
        ],
    )
}

/// Real values of every wire type, with every optional field written by
/// at least one of them.
fn samples() -> Vec<Sample> {
    let household: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("examples/household.json")).unwrap(),
    )
    .unwrap();
    let mut alone = household.clone();
    alone["members"] = serde_json::from_str(r#"[{"age":75,"monthly_income":1200.00}]"#).unwrap();
    let mut invalid = household.clone();
    invalid["members"][0]["age"] = json!(-1);

    let packed = api::pack(&default_bundle());
    let bundle = api::load(LoadRequest {
        bundle: BundleSource::Packed(packed.clone()),
        artifact: Some(ARTIFACT.into()),
        tests: true,
    })
    .unwrap_or_else(|error| panic!("{error}"));
    let decide = |input: &Value, mode: Mode, lang: Option<&str>| {
        api::decide(&bundle, &request("household", input, AS_OF, mode, lang))
    };
    let strict = decide(&household, Mode::Strict, None).unwrap();
    let partial = decide(&alone, Mode::Partial, Some("en")).unwrap();
    assert_eq!(partial.status, Status::Undetermined);
    let bad_request = error_answer(
        api::decide(
            &bundle,
            &request("nowhere", &household, AS_OF, Mode::Strict, None),
        ),
        ErrorKind::BadRequest,
    );
    let invalid_input = error_answer(
        decide(&invalid, Mode::Strict, None),
        ErrorKind::InvalidInput,
    );
    let missing_needed = error_answer(decide(&alone, Mode::Strict, None), ErrorKind::MissingNeeded);

    let tiny_files = tiny_job_files();
    let tiny = api::load(load_request(&tiny_files, None)).unwrap_or_else(|e| panic!("{e}"));
    let runaway = request("job", &json!({ "n": 1 }), AS_OF, Mode::Strict, None);
    let rule_error = error_answer(api::decide(&tiny, &runaway), ErrorKind::RuleError);
    let test_report = api::test(&tiny).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(test_report.failed, 1, "{test_report:?}");
    let good_check = api::check(load_request(&tiny_files, None));
    assert!(good_check.ok && good_check.bundle.is_some() && good_check.warnings > 0);

    let mut broken = packed.files.clone();
    let rules = broken["household.rhai"].replace(
        "fn decide(input, ctx) {",
        "fn decide(input, ctx) { let = 1;",
    );
    broken.insert("household.rhai".into(), rules);
    let broken = LoadRequest {
        bundle: BundleSource::Files(broken),
        artifact: None,
        tests: true,
    };
    let bundle_error = error_answer(api::load(broken.clone()), ErrorKind::BundleError);
    let broken_check: CheckReport = api::check(broken);
    assert!(!broken_check.ok && broken_check.bundle.is_none());
    // No diagnostic of the engine carries help yet; the type has it.
    let with_help: Diagnostic = broken_check.diagnostics[0]
        .clone()
        .with_help("a `let` names the variable it binds");

    let decide_request: DecideRequest =
        request("household", &alone, AS_OF, Mode::Partial, Some("en"));
    let packed_request = LoadRequest {
        bundle: BundleSource::Packed(api::pack(&tiny)),
        artifact: Some(ARTIFACT.into()),
        // Its one non-default value on the wire, so the type declares it.
        tests: false,
    };

    vec![
        sample!("envelope_strict", "Envelope", strict),
        sample!("envelope_partial", "Envelope", partial),
        sample!("error_bad_request", "ErrorAnswer", bad_request),
        sample!("error_invalid_input", "ErrorAnswer", invalid_input),
        sample!("error_missing_needed", "ErrorAnswer", missing_needed),
        sample!("error_rule_error", "ErrorAnswer", rule_error),
        sample!("error_bundle_error", "ErrorAnswer", bundle_error),
        sample!("check_report_good", "CheckReport", good_check),
        sample!("check_report_broken", "CheckReport", broken_check),
        sample!("diagnostic_with_help", "Diagnostic", with_help),
        sample!("test_report", "TestReport", test_report),
        sample!("bundle_info", "BundleInfo", api::describe(&bundle)),
        sample!("packed_bundle", "PackedBundle", packed),
        sample!(
            "load_request_files",
            "LoadRequest",
            load_request(&tiny_files, Some(ARTIFACT))
        ),
        sample!("load_request_packed", "LoadRequest", packed_request),
        sample!("decide_request", "DecideRequest", decide_request),
    ]
}

/// How a field holds values of another wire type.
#[derive(Clone, Copy)]
enum Holds {
    One,
    EachItem,
    EachValue,
}

/// Where one wire type holds another: (outer type, field, how, inner type).
const NESTED: &[(&str, &str, Holds, &str)] = &[
    ("Envelope", "policy", Holds::One, "PolicyInfo"),
    ("Envelope", "engine", Holds::One, "EngineInfo"),
    ("Envelope", "reasons", Holds::EachItem, "Reason"),
    ("Envelope", "needs", Holds::EachItem, "Need"),
    ("Envelope", "parameters", Holds::EachItem, "ParameterUse"),
    ("ErrorAnswer", "error", Holds::One, "ErrorBody"),
    ("ErrorBody", "problems", Holds::EachItem, "FieldProblem"),
    ("ErrorBody", "diagnostics", Holds::EachItem, "Diagnostic"),
    ("ErrorBody", "location", Holds::One, "RuleLocation"),
    ("CheckReport", "bundle", Holds::One, "BundleSummary"),
    ("CheckReport", "diagnostics", Holds::EachItem, "Diagnostic"),
    ("TestReport", "cases", Holds::EachItem, "CaseOutcome"),
    ("CaseOutcome", "mismatches", Holds::EachItem, "Mismatch"),
    ("BundleInfo", "entries", Holds::EachItem, "EntryInfo"),
    ("EntryInfo", "schema", Holds::One, "Schema"),
    ("Schema", "root", Holds::One, "ObjectType"),
    ("ObjectType", "fields", Holds::EachValue, "Field"),
    ("Field", "valid_when", Holds::One, "Condition"),
    ("Kind", "items", Holds::One, "Kind"),
    ("Kind", "object", Holds::One, "ObjectType"),
];

/// For each set of keys a type has (a TypeScript type expression), the keys
/// the samples write, nested values included.
#[derive(Default)]
struct WrittenKeys(BTreeMap<String, BTreeSet<String>>);

impl WrittenKeys {
    fn note<'a>(&mut self, keys_of: String, keys: impl IntoIterator<Item = &'a String>) {
        self.0
            .entry(keys_of)
            .or_default()
            .extend(keys.into_iter().cloned());
    }

    /// Notes the keys of `value`, a `ts_type`, and of the wire values in it.
    fn walk(&mut self, ts_type: &str, value: &Value) {
        let Some(object) = value.as_object() else {
            return; // null: CheckReport.bundle of a broken bundle
        };
        match ts_type {
            // `Field = Kind & {…}`: its own keys here, its kind's below.
            "Field" => {
                self.note(
                    "Exclude<AllKeys<Field>, AllKeys<Kind>>".into(),
                    object.keys(),
                );
                self.walk("Kind", value);
            }
            // A union tagged by `type`: each member has its own keys.
            "Kind" => {
                let tag = object["type"].as_str().expect("a kind has a type");
                self.note(r#"Kind["type"]"#.into(), [&tag.to_string()]);
                self.note(
                    format!("AllKeys<Extract<Kind, {{ type: {tag:?} }}>>"),
                    object.keys(),
                );
            }
            _ => self.note(format!("AllKeys<{ts_type}>"), object.keys()),
        }
        for &(_, field, holds, inner) in NESTED.iter().filter(|row| row.0 == ts_type) {
            let Some(held) = value.get(field) else {
                continue;
            };
            match holds {
                Holds::One => self.walk(inner, held),
                Holds::EachItem => {
                    for item in held.as_array().expect("an array") {
                        self.walk(inner, item);
                    }
                }
                Holds::EachValue => {
                    for item in held.as_object().expect("an object").values() {
                        self.walk(inner, item);
                    }
                }
            }
        }
    }
}

/// Whether `parse` in index.js gives this JSON number as a JS number; any
/// other becomes a `Decimal`.
fn is_safe_integer(text: &str) -> bool {
    const MAX_SAFE_INTEGER: u128 = (1 << 53) - 1;
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u128>().is_ok_and(|n| n <= MAX_SAFE_INTEGER)
}

/// An object key: bare when it is an identifier, so tsc names it plainly.
fn ts_key(key: &str) -> String {
    let mut chars = key.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        key.to_string()
    } else {
        Value::from(key).to_string()
    }
}

/// `value` as a TypeScript expression of what index.js's `parse` makes of
/// it: numbers that are not safe integers are `new Decimal("…")`.
fn ts_expression(value: &Value, indent: usize, out: &mut String) {
    let pad = |depth: usize| "  ".repeat(depth);
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&value.to_string()),
        Value::Number(number) => {
            let text = number.to_string();
            if is_safe_integer(&text) {
                out.push_str(&text);
            } else {
                out.push_str(&format!("new Decimal({})", Value::from(text)));
            }
        }
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                out.push_str(&pad(indent + 1));
                ts_expression(item, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::Object(fields) if fields.is_empty() => out.push_str("{}"),
        Value::Object(fields) => {
            out.push_str("{\n");
            for (key, item) in fields {
                out.push_str(&pad(indent + 1));
                out.push_str(&ts_key(key));
                out.push_str(": ");
                ts_expression(item, indent + 1, out);
                out.push_str(",\n");
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
    }
}

/// `const name: Record<ts_type, true> = { …every wire name: true }`: a value
/// one side has and the other lacks is an excess or a missing property.
fn every_value_check(name: &str, ts_type: &str, wire_names: &[Value]) -> String {
    let entries: Vec<String> = wire_names
        .iter()
        .map(|wire| format!("  {wire}: true,\n"))
        .collect();
    format!(
        "export const {name}: Record<{ts_type}, true> = {{\n{}}};\n",
        entries.concat()
    )
}

/// The value-list checks. Each match stops compiling when the enum gains a
/// value: list it beside the others.
fn enum_checks() -> String {
    let kinds = ErrorKind::ALL;
    for kind in kinds {
        match kind {
            ErrorKind::BadRequest
            | ErrorKind::InvalidInput
            | ErrorKind::MissingNeeded
            | ErrorKind::RuleError
            | ErrorKind::BundleError
            | ErrorKind::NoBundle
            | ErrorKind::Stopped
            | ErrorKind::HostError
            | ErrorKind::BadJson => {}
        }
    }
    let severities = [Severity::Error, Severity::Warning];
    for severity in severities {
        match severity {
            Severity::Error | Severity::Warning => {}
        }
    }
    let modes = [Mode::Strict, Mode::Partial];
    for mode in modes {
        match mode {
            Mode::Strict | Mode::Partial => {}
        }
    }
    let statuses = [Status::Decided, Status::Undetermined];
    for status in statuses {
        match status {
            Status::Decided | Status::Undetermined => {}
        }
    }
    let ops = [
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Eq,
        CompareOp::Ne,
    ];
    for op in ops {
        match op {
            CompareOp::Lt
            | CompareOp::Le
            | CompareOp::Gt
            | CompareOp::Ge
            | CompareOp::Eq
            | CompareOp::Ne => {}
        }
    }
    [
        every_value_check("every_error_kind", "ErrorKind", &kinds.map(|k| json_of!(k))),
        every_value_check(
            "every_severity",
            "Severity",
            &severities.map(|s| json_of!(s)),
        ),
        every_value_check("every_mode", "Mode", &modes.map(|m| json_of!(m))),
        every_value_check("every_status", "Status", &statuses.map(|s| json_of!(s))),
        every_value_check("every_compare_op", "CompareOp", &ops.map(|o| json_of!(o))),
    ]
    .concat()
}

/// The TypeScript file that compiles only if the samples have their types,
/// and every key of each type is written by one of them.
fn check_file(samples: &[Sample]) -> String {
    let mut out = String::from(
        "// Generated by tests/tests/all/wire_types.rs: JSON the Rust wire types wrote,\n\
         // assigned to the types of wasm/js/index.d.ts. Do not edit.\n",
    );
    let types: Vec<String> = TYPE_NAMES
        .iter()
        .map(|name| format!("type {name}"))
        .collect();
    out += &format!(
        "import {{ Decimal, {} }} from '{DECLARATIONS}';\n\n",
        types.join(", ")
    );
    out += "/** Every key of every member of a union. */\n\
            type AllKeys<T> = T extends unknown ? keyof T : never;\n\
            /** Compiles only when no sample leaves a key unwritten: names the ones none writes. */\n\
            type UnwrittenKeys<Keys extends never> = Keys;\n\n";
    let mut written = WrittenKeys::default();
    for sample in samples {
        let mut literal = String::new();
        ts_expression(&sample.json, 0, &mut literal);
        out += &format!(
            "export const {}: {} = {literal};\n\n",
            sample.name, sample.ts_type
        );
        written.walk(sample.ts_type, &sample.json);
    }
    for (index, (keys_of, keys)) in written.0.iter().enumerate() {
        let keys: Vec<String> = keys
            .iter()
            .map(|key| Value::from(key.as_str()).to_string())
            .collect();
        let keys = if keys.is_empty() {
            "never".to_string()
        } else {
            keys.join(" | ")
        };
        out += &format!(
            "// Every key of {keys_of} is written by a sample.\n\
             export type Written{index} = UnwrittenKeys<Exclude<{keys_of}, {keys}>>;\n"
        );
    }
    out
}

/// Runs tsc as js_api.rs does on `file` (relative to the repository root);
/// the failure shows each offending line of it.
fn typecheck(file: &str) -> Result<(), String> {
    let root = repo_root();
    let Err(report) = eligo_tests::tsc(file) else {
        return Ok(());
    };
    let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
    let lines: Vec<&str> = source.lines().collect();
    let mut explained = String::new();
    for error in report.lines() {
        explained += error;
        explained.push('\n');
        // `path(line,column): error …`: show the generated line too.
        let line = error
            .strip_prefix(file)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.split_once(','))
            .and_then(|(line, _)| line.parse::<usize>().ok());
        if let Some(text) = line.and_then(|line| lines.get(line.wrapping_sub(1))) {
            explained += &format!("    at: {}\n", text.trim());
        }
    }
    Err(explained)
}

/// Writes `text` to `file`, relative to the repository root.
fn write(file: &str, text: &str) {
    let path = repo_root().join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {file}: {e}"));
}

#[test]
fn every_wire_type_has_the_shape_its_typescript_type_declares() {
    write(
        CHECK_FILE,
        &format!("{}\n{}", check_file(&samples()), enum_checks()),
    );
    if let Err(report) = typecheck(CHECK_FILE) {
        panic!("the Rust wire types and wasm/js/index.d.ts disagree ({CHECK_FILE}):\n{report}");
    }
}

#[test]
fn the_check_rejects_an_extra_a_missing_an_unwritten_field_and_a_decimal() {
    let file = "target/wire-check/disagreeing.ts";
    let location = json!({ "file": "a.rhai", "line": 1, "column": 2, "message": "m" });
    let mut extra = location.clone();
    extra["severity"] = json!("error");
    let mut lacking = location.clone();
    lacking.as_object_mut().unwrap().remove("column");
    let mut decimal = location.clone();
    decimal["line"] = serde_json::from_str("1.50").unwrap();
    // Diagnostic.help is optional: a sample without it vouches for nothing.
    let unwritten = json!({
        "severity": "error", "code": "c", "file": "f", "line": 1, "column": 1,
        "end_line": 1, "end_column": 2, "message": "m",
    });
    let cases = [
        (
            "a field TypeScript lacks",
            "RuleLocation",
            extra,
            "'severity' does not exist in type 'RuleLocation'",
        ),
        (
            "a required field Rust does not write",
            "RuleLocation",
            lacking,
            "'column' is missing",
        ),
        (
            "a Decimal where TypeScript has a number",
            "RuleLocation",
            decimal,
            "Type 'Decimal' is not assignable to type 'number'",
        ),
        (
            "an optional field no sample writes",
            "Diagnostic",
            unwritten,
            r#"Type '"help"' does not satisfy the constraint 'never'"#,
        ),
    ];
    for (what, ts_type, json, expected) in cases {
        let sample = Sample {
            name: "sample",
            ts_type,
            json,
        };
        write(file, &check_file(&[sample]));
        let report = typecheck(file).expect_err(what);
        assert!(report.contains(expected), "{what}: {report}");
    }
    std::fs::remove_file(repo_root().join(file)).ok();
}
