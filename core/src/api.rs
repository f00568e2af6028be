//! One JSON-level API for every host: requests and answers are JSON text.
//!
//! The wasm-bindgen API for browsers and the C-ABI exports for the server
//! both wrap these functions and nothing else, so the two cannot drift: the
//! same request gives the same answer bytes in both.
//!
//! Requests:
//! - load: `{"files": {"bundle.toml": "…", …}, "artifact": "sha256:…"?}`, or
//!   a packed bundle (see [`pack`]), which is a load request too.
//! - decide: `{"entry": "household", "input": {…}, "as_of": "…", "mode": "strict"|"partial"?, "lang": "en"?}`
//!
//! Answers are an envelope, a report, or `{"error": {"kind", "message", …}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bundle::{Bundle, DecideRequest};
use crate::diagnostics::Diagnostic;
use crate::envelope::Mode;
use crate::files::BundleFiles;
use crate::testcases::run_tests;
use crate::validate::FieldError;

/// The `format` of a packed bundle.
pub const PACKED_FORMAT: &str = "eligo-bundle/1";

/// A load request. A packed bundle is one with `format`, `name`, `version`
/// and `hash` filled in; the hash is checked against the files on load.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LoadRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    files: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideJson {
    entry: String,
    input: Value,
    as_of: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    lang: Option<String>,
}

/// What a bundle is: for a loaded bundle's answer and `describe`.
#[derive(Serialize)]
struct BundleInfo<'a> {
    name: &'a str,
    version: &'a str,
    hash: &'a str,
    languages: &'a [String],
    entries: Vec<EntryInfo<'a>>,
}

#[derive(Serialize)]
struct EntryInfo<'a> {
    name: &'a str,
    description: &'a str,
    schema: &'a crate::schema::Schema,
}

/// `{"error": {"kind": kind, "message": message}}`.
pub fn error_answer(kind: &str, message: &str) -> String {
    serde_json::json!({ "error": { "kind": kind, "message": message } }).to_string()
}

fn request_error(what: &str, error: &serde_json::Error) -> String {
    error_answer(
        "bad_request",
        &format!("the {what} request is not valid JSON of the expected shape: {error}"),
    )
}

fn diagnostics_answer(problems: &[Diagnostic]) -> String {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    serde_json::json!({
        "error": {
            "kind": "bundle_error",
            "message": format!("the bundle has {errors} error(s)"),
            "diagnostics": problems,
        }
    })
    .to_string()
}

fn files_of(request: LoadRequest) -> Result<(BundleFiles, Option<String>), Vec<Diagnostic>> {
    if let Some(format) = request.format.as_deref().filter(|f| *f != PACKED_FORMAT) {
        return Err(vec![Diagnostic::file_error(
            "packed-format",
            "(packed bundle)",
            format!("has format `{format}`; this engine reads `{PACKED_FORMAT}`"),
        )]);
    }
    let files = BundleFiles::from_pairs(request.files)?;
    if let Some(claimed) = &request.hash {
        let actual = files.hash();
        if *claimed != actual {
            return Err(vec![Diagnostic::file_error(
                "packed-hash",
                "(packed bundle)",
                format!("says its hash is {claimed}, but its files hash to {actual}: it was changed or damaged after packing"),
            )]);
        }
    }
    Ok((files, request.artifact))
}

/// The files of a packed bundle (or any load request), its hash checked.
pub fn unpack(packed: &str) -> Result<BundleFiles, Vec<Diagnostic>> {
    let request: LoadRequest = serde_json::from_str(packed).map_err(|e| {
        vec![Diagnostic::error(
            "packed-json",
            "(packed bundle)",
            e.line(),
            e.column(),
            format!("is not a packed bundle: {e}"),
        )]
    })?;
    files_of(request).map(|(files, _)| files)
}

/// Packs a loaded bundle into one JSON file: a load request that carries
/// the bundle's name, version and hash beside its files, so a browser or a
/// server can fetch one file and the loader can tell if it was altered.
/// Files are in path order and nothing else varies, so packing is
/// reproducible.
pub fn pack(bundle: &Bundle) -> String {
    let packed = LoadRequest {
        format: Some(PACKED_FORMAT.to_string()),
        name: Some(bundle.name().to_string()),
        version: Some(bundle.version().to_string()),
        hash: Some(bundle.hash().to_string()),
        files: bundle
            .files()
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect(),
        artifact: None,
    };
    serde_json::to_string(&packed).expect("a packed bundle serialises")
}

/// An error answer as one text for people, as the CLI prints it and the
/// JavaScript API puts it in `Error.message`: the message, then one line per
/// input problem (`path: message [rule]`) or bundle diagnostic
/// (`file:line:column: message [code]`). `None` if `answer` is not an error.
pub fn error_text(answer: &str) -> Option<String> {
    let value: Value = serde_json::from_str(answer).ok()?;
    let error = value.get("error")?;
    let mut text = error.get("message")?.as_str()?.to_string();
    let text_of = |value: &Value, key: &str| value[key].as_str().unwrap_or_default().to_string();
    for problem in error
        .get("problems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        text.push_str(&format!(
            "\n  {}: {} [{}]",
            text_of(problem, "path"),
            text_of(problem, "message"),
            text_of(problem, "rule")
        ));
    }
    for diagnostic in error
        .get("diagnostics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        text.push_str(&format!(
            "\n  {}:{}:{}: {} [{}]",
            text_of(diagnostic, "file"),
            diagnostic["line"],
            diagnostic["column"],
            text_of(diagnostic, "message"),
            text_of(diagnostic, "code")
        ));
    }
    Some(text)
}

/// Loads a bundle from a load request. On success the answer describes the
/// bundle; on failure it lists every diagnostic.
pub fn load(request_json: &str) -> Result<(Bundle, String), String> {
    let request: LoadRequest =
        serde_json::from_str(request_json).map_err(|e| request_error("load", &e))?;
    let (files, artifact) = files_of(request).map_err(|problems| diagnostics_answer(&problems))?;
    let mut bundle = Bundle::load(files).map_err(|problems| diagnostics_answer(&problems))?;
    bundle.set_artifact(artifact);
    let answer = describe(&bundle);
    Ok((bundle, answer))
}

/// `eligo check` as JSON: `{"ok", "errors", "warnings", "diagnostics"}`.
pub fn check(request_json: &str) -> String {
    let request: LoadRequest = match serde_json::from_str(request_json) {
        Ok(request) => request,
        Err(error) => return request_error("check", &error),
    };
    let problems = match files_of(request) {
        Ok((files, _)) => Bundle::check(files),
        Err(problems) => problems,
    };
    let errors = problems.iter().filter(|p| p.is_error()).count();
    serde_json::json!({
        "ok": errors == 0,
        "errors": errors,
        "warnings": problems.len() - errors,
        "diagnostics": problems,
    })
    .to_string()
}

/// Name, version, hash, languages and each entry's input schema.
pub fn describe(bundle: &Bundle) -> String {
    let info = BundleInfo {
        name: bundle.name(),
        version: bundle.version(),
        hash: bundle.hash(),
        languages: &bundle.manifest().languages,
        entries: bundle
            .entries()
            .map(|name| EntryInfo {
                name,
                description: &bundle.manifest().entries[name].description,
                schema: bundle.schema(name).expect("every entry has a schema"),
            })
            .collect(),
    };
    serde_json::to_string(&info).expect("bundle info serialises")
}

/// Decides one request: the envelope, or `{"error": …}`.
pub fn decide(bundle: &Bundle, request_json: &str) -> String {
    let request: DecideJson = match serde_json::from_str(request_json) {
        Ok(request) => request,
        Err(error) => {
            let problem = FieldError::new("$", "type", error.to_string());
            return crate::envelope::DecideError::BadRequest(vec![problem]).to_json();
        }
    };
    let outcome = bundle.decide(&DecideRequest {
        entry: &request.entry,
        input: &request.input,
        as_of: &request.as_of,
        mode: request.mode,
        lang: request.lang.as_deref(),
    });
    match outcome {
        Ok(envelope) => envelope.to_json(),
        Err(error) => error.to_json(),
    }
}

/// Runs the bundle's own test cases: the report as JSON.
pub fn test(bundle: &Bundle) -> String {
    serde_json::to_string(&run_tests(bundle)).expect("reports serialise")
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
        let (bundle, answer) = load(&request).unwrap();
        assert!(answer.contains("\"name\":\"t\""), "{answer}");
        let envelope = decide(
            &bundle,
            r#"{"entry":"job","input":{"x":1801.0},"as_of":"2026-11-20T09:00:00+08:00"}"#,
        );
        // 1801.0 stays a decimal: half of it is 900.5, not 900.
        assert!(envelope.contains("\"half\":900.5"), "{envelope}");
        assert!(
            envelope.contains("\"artifact\":\"sha256:abc\""),
            "{envelope}"
        );
        let bad = decide(
            &bundle,
            r#"{"entry":"job","input":{"x":"a"},"as_of":"2026-11-20T09:00:00+08:00"}"#,
        );
        assert!(
            bad.starts_with("{\"error\":{\"kind\":\"invalid_input\""),
            "{bad}"
        );
        let malformed = decide(&bundle, "{");
        assert!(malformed.contains("bad_request"), "{malformed}");
    }

    #[test]
    fn load_failures_list_diagnostics() {
        let mut files = tiny_files();
        files["job.rhai"] = "fn decide(input, ctx) { let = 1; }".into();
        let answer = load(&serde_json::json!({ "files": files }).to_string()).unwrap_err();
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
        let report = check(&serde_json::json!({ "files": files }).to_string());
        assert!(report.contains("\"ok\":false"), "{report}");
        assert!(load("[]").unwrap_err().contains("bad_request"));
    }

    #[test]
    fn a_packed_bundle_loads_with_the_same_hash_and_refuses_tampering() {
        let (bundle, _) = load(&serde_json::json!({ "files": tiny_files() }).to_string()).unwrap();
        let packed = pack(&bundle);
        assert_eq!(pack(&bundle), packed, "packing is reproducible");
        let (again, _) = load(&packed).unwrap();
        assert_eq!(again.hash(), bundle.hash());
        let mut value: Value = serde_json::from_str(&packed).unwrap();
        assert_eq!(value["format"], PACKED_FORMAT);
        assert_eq!(value["hash"], bundle.hash());
        value["files"]["messages/en.toml"] = "[rules]\nOK = \"changed {x}\"\n".into();
        let tampered = load(&value.to_string()).unwrap_err();
        assert!(tampered.contains("packed-hash"), "{tampered}");
        value["format"] = "eligo-bundle/9".into();
        let unknown = load(&value.to_string()).unwrap_err();
        assert!(unknown.contains("packed-format"), "{unknown}");
        assert_eq!(unpack(&packed).unwrap(), *bundle.files());
        assert_eq!(unpack("{").unwrap_err()[0].code, "packed-json");
    }
}
