//! The engine's API for every host, after Cedar's `ffi` module: typed
//! functions over the [`wire`](crate::wire) types, and a `_json` variant of
//! each that takes and gives JSON text, for hosts across the wasm boundary.
//!
//! The wasm-bindgen API for browsers and the C-ABI exports for the server
//! both wrap the `_json` functions and nothing else, so the two cannot
//! drift: the same request gives the same answer bytes in both. A `_json`
//! function's `Err` is an error answer (`{"error": {…}}`); hosts learn that
//! it is one from the `Result`, never from the text.

use crate::bundle::Bundle;
use crate::diagnostics::Diagnostic;
use crate::files::BundleFiles;
use crate::test_run::run_tests;
use std::collections::BTreeMap;

use crate::insert_all::InsertAll;
use crate::wire::{
    BundleInfo, BundleSource, BundleSummary, CheckReport, DecideRequest, EntryInfo, ErrorAnswer,
    ErrorBody, ErrorKind, LoadRequest, PackedBundle, ParameterInfo, ParameterValueInfo, TestReport,
    PACKED_FORMAT,
};
use crate::Envelope;

/// A `_json` function's answer: the answer's JSON text, or an error
/// answer's.
pub type JsonAnswer = Result<String, String>;

fn request_error(what: &str, error: &serde_json::Error) -> ErrorBody {
    ErrorBody::new(
        ErrorKind::BadRequest,
        format!("the {what} request is not valid JSON of the expected shape: {error}"),
    )
}

/// The checked files of a bundle source: a packed bundle's format and hash
/// must match.
fn files_of(source: BundleSource) -> Result<BundleFiles, Vec<Diagnostic>> {
    match source {
        BundleSource::Files(files) => BundleFiles::from_pairs(files),
        BundleSource::Packed(packed) => {
            if packed.format != PACKED_FORMAT {
                return Err(vec![Diagnostic::file_error(
                    "packed-format",
                    "(packed bundle)",
                    format!(
                        "has format `{}`; this engine reads `{PACKED_FORMAT}`",
                        packed.format
                    ),
                )]);
            }
            let files = BundleFiles::from_pairs(packed.files)?;
            let actual = files.hash();
            if packed.hash != actual {
                return Err(vec![Diagnostic::file_error(
                    "packed-hash",
                    "(packed bundle)",
                    format!(
                        "says its hash is {}, but its files hash to {actual}: it was changed or damaged after packing",
                        packed.hash
                    ),
                )]);
            }
            Ok(files)
        }
    }
}

/// A packed bundle's name and version must be those its `bundle.toml` says.
fn check_packed_names(source: &BundleSource, bundle: &Bundle) -> Result<(), Vec<Diagnostic>> {
    let BundleSource::Packed(packed) = source else {
        return Ok(());
    };
    for (field, claimed, actual) in [
        ("name", &packed.name, bundle.name()),
        ("version", &packed.version, bundle.version()),
    ] {
        if claimed != actual {
            return Err(vec![Diagnostic::file_error(
                "packed-manifest",
                "(packed bundle)",
                format!("says its {field} is `{claimed}`, but its bundle.toml says `{actual}`"),
            )]);
        }
    }
    Ok(())
}

/// The files of a packed bundle's JSON text, its hash checked.
pub fn unpack(packed: &str) -> Result<BundleFiles, Vec<Diagnostic>> {
    if packed.len() > MAX_PACKED_BYTES {
        return Err(vec![Diagnostic::file_error(
            "bundle-size",
            "(packed bundle)",
            format!(
                "is over {MAX_PACKED_BYTES} bytes: a bundle holds at most {} bytes of files",
                crate::files::MAX_BUNDLE_BYTES
            ),
        )]);
    }
    let packed: PackedBundle = serde_json::from_str(packed).map_err(|e| {
        vec![Diagnostic::error(
            "packed-json",
            "(packed bundle)",
            e.line(),
            e.column(),
            format!("is not a packed bundle: {e}"),
        )]
    })?;
    files_of(BundleSource::Packed(packed))
}

/// The longest packed bundle text: its files at their limit, twice over
/// for JSON's escapes.
pub const MAX_PACKED_BYTES: usize = 2 * crate::files::MAX_BUNDLE_BYTES;

/// Loads and compiles a bundle.
pub fn load(request: LoadRequest) -> Result<Bundle, ErrorBody> {
    let source = request.bundle;
    let files = files_of(source.clone()).map_err(ErrorBody::bundle)?;
    let loaded = if request.tests {
        Bundle::load(files)
    } else {
        Bundle::load_without_tests(files)
    };
    let mut bundle = loaded.map_err(ErrorBody::bundle)?;
    check_packed_names(&source, &bundle).map_err(ErrorBody::bundle)?;
    bundle.set_artifact(request.artifact);
    Ok(bundle)
}

/// [`load`] from a load request's JSON text.
pub fn load_json(request: &str) -> Result<Bundle, String> {
    let request: LoadRequest =
        serde_json::from_str(request).map_err(|e| request_error("load", &e).to_json())?;
    load(request).map_err(|error| error.to_json())
}

/// `eligo check`: every diagnostic, without keeping the bundle.
pub fn check(request: LoadRequest) -> CheckReport {
    let (problems, summary) = match files_of(request.bundle) {
        Ok(files) => match Bundle::load(files) {
            Ok(bundle) => (bundle.warnings().to_vec(), Some(summary(&bundle))),
            Err(problems) => (problems, None),
        },
        Err(problems) => (problems, None),
    };
    let errors = problems.iter().filter(|p| p.is_error()).count();
    CheckReport {
        ok: errors == 0,
        bundle: summary,
        errors,
        warnings: problems.len() - errors,
        diagnostics: problems,
    }
}

/// [`check`] from a load request's JSON text.
pub fn check_json(request: &str) -> JsonAnswer {
    let request: LoadRequest =
        serde_json::from_str(request).map_err(|e| request_error("check", &e).to_json())?;
    Ok(serde_json::to_string(&check(request)).expect("reports serialise"))
}

/// Name, version, hash and entries of a loaded bundle.
pub fn summary(bundle: &Bundle) -> BundleSummary {
    BundleSummary {
        name: bundle.name().to_string(),
        version: bundle.version().to_string(),
        hash: bundle.hash().to_string(),
        entries: bundle.entries().map(str::to_string).collect(),
    }
}

/// Name, version, hash, languages and each entry's input schema.
pub fn describe(bundle: &Bundle) -> BundleInfo {
    BundleInfo {
        name: bundle.name().to_string(),
        version: bundle.version().to_string(),
        hash: bundle.hash().to_string(),
        languages: bundle.manifest().languages.clone(),
        entries: bundle
            .entries()
            .map(|name| EntryInfo {
                name: name.to_string(),
                description: bundle.manifest().entries[name].description.clone(),
                schema: bundle
                    .schema(name)
                    .expect("every entry has a schema")
                    .clone(),
                json_schema: crate::schema_file::to_json_schema(
                    bundle.schema(name).expect("every entry has a schema"),
                    name,
                ),
            })
            .collect(),
        parameters: bundle
            .params()
            .iter()
            .map(|param| ParameterInfo {
                name: param.name.clone(),
                kind: param.ty,
                unit: param.unit.clone(),
                description: param.description.clone(),
                values: param
                    .values
                    .iter()
                    .map(|value| ParameterValueInfo {
                        from: value.from.to_string(),
                        value: value.json.clone(),
                        source: value.source.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// [`describe`] as JSON text.
pub fn describe_json(bundle: &Bundle) -> String {
    serde_json::to_string(&describe(bundle)).expect("bundle info serialises")
}

/// Decides one request.
pub fn decide(bundle: &Bundle, request: &DecideRequest) -> Result<Envelope, ErrorBody> {
    bundle.decide(request).map_err(ErrorBody::from)
}

/// [`decide`] from a decide request's JSON text: the envelope's canonical
/// JSON, or the error answer's. The input is read by [`input_value`], so a
/// key named twice is refused here exactly as in every other host.
pub fn decide_json(bundle: &Bundle, request: &str) -> JsonAnswer {
    bundle.decider().decide_json(request)
}

pub use eligo_engine::request::{duplicate_key, input_too_large, input_value, MAX_INPUT_BYTES};

/// Runs the bundle's own test cases (refused for a bundle loaded without
/// them).
pub fn test(bundle: &Bundle) -> Result<TestReport, ErrorBody> {
    run_tests(bundle)
}

/// [`test`]'s report as JSON text, or the error answer's.
pub fn test_json(bundle: &Bundle) -> JsonAnswer {
    test(bundle)
        .map(|report| serde_json::to_string(&report).expect("reports serialise"))
        .map_err(|error| error.to_json())
}

/// Packs a loaded bundle into one file that carries the bundle's name,
/// version and hash beside its files, so a browser or a server can fetch
/// one file and the loader can tell if it was altered. Files are in path
/// order and nothing else varies, so packing is reproducible.
pub fn pack(bundle: &Bundle) -> PackedBundle {
    PackedBundle {
        format: PACKED_FORMAT.to_string(),
        name: bundle.name().to_string(),
        version: bundle.version().to_string(),
        hash: bundle.hash().to_string(),
        files: bundle
            .files()
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .insert_all(),
    }
}

/// [`pack`] as JSON text.
pub fn pack_json(bundle: &Bundle) -> String {
    serde_json::to_string(&pack(bundle)).expect("a packed bundle serialises")
}

/// An error answer's JSON text as one text for people (see [`ErrorBody`]'s
/// `Display`); `None` if `answer` is not an error answer.
pub fn error_text(answer: &str) -> Option<String> {
    serde_json::from_str::<ErrorAnswer>(answer)
        .ok()
        .map(|answer| answer.error.to_string())
}

/// The paths where two envelopes (or any two JSON texts) differ, as JSON:
/// `[{"path", "before", "after"}]`.
pub fn diff_json(before: &str, after: &str) -> JsonAnswer {
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|error| {
            ErrorBody::new(ErrorKind::BadJson, format!("not JSON: {error}")).to_json()
        })
    };
    let changes = crate::diff::changes(&parse(before)?, &parse(after)?);
    Ok(serde_json::to_string(&changes).expect("changes serialise"))
}

/// A decision's JSON as the impact reads it: an error answer's kind, or
/// the envelope.
fn impact_outcome(value: &serde_json::Value) -> crate::impact::Outcome<'_> {
    match value
        .pointer("/error/kind")
        .and_then(serde_json::Value::as_str)
    {
        Some(kind) => crate::impact::Outcome::Error(kind),
        None => crate::impact::Outcome::Envelope(value),
    }
}

/// Adds one household to an impact from JSON texts: each decision an
/// envelope or an error answer (`{"error": {"kind", …}}`), the groups a
/// JSON object of grouping name → value.
pub fn impact_add_json(
    impact: &mut crate::impact::Impact,
    id: &str,
    groups: &str,
    before: &str,
    after: &str,
) -> Result<(), String> {
    let bad = |what: &str, error: serde_json::Error| {
        ErrorBody::new(ErrorKind::BadJson, format!("{what} is not JSON: {error}")).to_json()
    };
    let groups: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(groups).map_err(|e| bad("groups", e))?;
    let groups: Vec<(String, String)> = groups
        .into_iter()
        .map(|(name, value)| {
            let label = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            (name, label)
        })
        .collect();
    let before: serde_json::Value = serde_json::from_str(before).map_err(|e| bad("before", e))?;
    let after: serde_json::Value = serde_json::from_str(after).map_err(|e| bad("after", e))?;
    impact.add(id, &groups, impact_outcome(&before), impact_outcome(&after));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_files() -> serde_json::Value {
        serde_json::json!({
            "bundle.toml": "name = \"t\"\nversion = \"1\"\nlanguages = [\"en\"]\n[entries.job]\nrules = \"job.rhai\"\nschema = \"schema/job.toml\"\n",
            "rules.toml": "[OK]\nentry = \"job\"\nsource = \"s\"\n",
            "schema/job.toml": "[fields]\nx = { type = \"money\", required = true }\n",
            "messages/en.toml": "[rules]\nOK = \"ok {x}\"\n",
            "job.rhai": "fn decide(input, ctx) { ctx.fire(\"OK\", #{ x: input.x }); #{ half: input.x / 2 } }",
        })
    }

    #[test]
    fn load_decide_and_errors_round_trip_as_json() {
        let request =
            serde_json::json!({ "files": tiny_files(), "artifact": "sha256:abc" }).to_string();
        let bundle = load_json(&request).unwrap();
        assert!(describe_json(&bundle).contains("\"name\":\"t\""));
        let envelope = decide_json(
            &bundle,
            r#"{"entry":"job","input":{"x":1801.0},"as_of":"2026-11-20T09:00:00+08:00"}"#,
        )
        .unwrap();
        // 1801.0 stays a decimal: half of it is 900.5, not 900.
        assert!(envelope.contains("\"half\":900.5"), "{envelope}");
        assert!(
            envelope.contains("\"artifact\":\"sha256:abc\""),
            "{envelope}"
        );
        // The envelope reads back into its type and writes the same bytes.
        let typed: Envelope = serde_json::from_str(&envelope).unwrap();
        assert_eq!(typed.to_json(), envelope);
        let bad = decide_json(
            &bundle,
            r#"{"entry":"job","input":{"x":"a"},"as_of":"2026-11-20T09:00:00+08:00"}"#,
        )
        .unwrap_err();
        assert!(
            bad.starts_with("{\"error\":{\"kind\":\"invalid_input\""),
            "{bad}"
        );
        let answer: ErrorAnswer = serde_json::from_str(&bad).unwrap();
        assert_eq!(answer.error.kind, ErrorKind::InvalidInput);
        assert_eq!(answer.error.problems[0].path, "x");
        let malformed = decide_json(&bundle, "{").unwrap_err();
        assert!(malformed.contains("bad_request"), "{malformed}");
    }

    #[test]
    fn error_kinds_serialise_as_their_wire_names() {
        for kind in ErrorKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }

    #[test]
    fn load_failures_list_diagnostics_with_spans() {
        let mut files = tiny_files();
        files["job.rhai"] = "fn decide(input, ctx) { let = 1; }".into();
        let answer = load_json(&serde_json::json!({ "files": files }).to_string()).unwrap_err();
        assert!(
            answer.contains("bundle_error") && answer.contains("rhai-syntax"),
            "{answer}"
        );
        let text = error_text(&answer).unwrap();
        assert!(
            text.starts_with("the bundle has 1 error(s)\n  job.rhai:1:"),
            "{text}"
        );
        assert!(text.ends_with("[rhai-syntax]"), "{text}");
        let report = check_json(&serde_json::json!({ "files": files }).to_string()).unwrap();
        let report: CheckReport = serde_json::from_str(&report).unwrap();
        assert!(!report.ok && report.bundle.is_none());
        let syntax = &report.diagnostics[0];
        assert_eq!(syntax.end_line, syntax.line);
        assert!(syntax.end_column > syntax.column, "{syntax:?}");
        // A TOML error carries the parser's own span.
        files["schema/job.toml"] = "[fields]\nx = { type = \"money\", required = yes }\n".into();
        let report = check(serde_json::from_value(serde_json::json!({ "files": files })).unwrap());
        let toml = report
            .diagnostics
            .iter()
            .find(|d| d.code == "toml")
            .unwrap();
        assert_eq!((toml.line, toml.end_line), (2, 2), "{toml:?}");
        assert!(toml.end_column > toml.column, "{toml:?}");
        assert!(load_json("[]").unwrap_err().contains("bad_request"));
    }

    #[test]
    fn a_packed_bundle_loads_with_the_same_hash_and_refuses_tampering() {
        let bundle = load_json(&serde_json::json!({ "files": tiny_files() }).to_string()).unwrap();
        let packed = pack_json(&bundle);
        assert_eq!(pack_json(&bundle), packed, "packing is reproducible");
        let again = load_json(&packed).unwrap();
        assert_eq!(again.hash(), bundle.hash());
        let mut value: serde_json::Value = serde_json::from_str(&packed).unwrap();
        assert_eq!(value["format"], PACKED_FORMAT);
        assert_eq!(value["hash"], bundle.hash());
        let mut renamed = value.clone();
        renamed["name"] = "other".into();
        let renamed = load_json(&renamed.to_string()).unwrap_err();
        assert!(renamed.contains("packed-manifest"), "{renamed}");
        let mut hashless = value.clone();
        hashless.as_object_mut().unwrap().remove("hash");
        let hashless = load_json(&hashless.to_string()).unwrap_err();
        assert!(hashless.contains("needs all of"), "{hashless}");
        value["files"]["messages/en.toml"] = "[rules]\nOK = \"changed {x}\"\n".into();
        let tampered = load_json(&value.to_string()).unwrap_err();
        assert!(tampered.contains("packed-hash"), "{tampered}");
        value["format"] = "eligo-bundle/9".into();
        let unknown = load_json(&value.to_string()).unwrap_err();
        assert!(unknown.contains("packed-format"), "{unknown}");
        assert_eq!(unpack(&packed).unwrap(), *bundle.files());
        assert_eq!(unpack("{").unwrap_err()[0].code, "packed-json");
    }
}
