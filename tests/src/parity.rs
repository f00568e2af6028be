//! The parity suite's one abstraction: an [`Implementation`] is a place the
//! engine runs (the native core, the artifact in wasmtime, Node, Chromium,
//! `eligo serve` over HTTP), and [`assert_parity`] requires it to answer
//! every request byte for byte as the native core does. A new host is one
//! more impl, run over the same [`generated_requests`] and [`case_requests`].

use eligo_core::{api, Bundle};
use serde_json::json;

/// A place the engine runs, answering decide requests given as JSON text
/// with the answer's JSON text (an envelope or an error answer).
pub trait Implementation {
    /// For failure messages.
    fn name(&self) -> String;
    /// One answer per request, in order.
    fn answer_all(&self, requests: &[String]) -> Vec<String>;
}

/// The core compiled into the test: the reference.
pub struct Native<'a>(pub &'a Bundle);

impl Implementation for Native<'_> {
    fn name(&self) -> String {
        "native".into()
    }
    fn answer_all(&self, requests: &[String]) -> Vec<String> {
        requests
            .iter()
            .map(|r| api::decide_json(self.0, r).unwrap_or_else(|error| error))
            .collect()
    }
}

/// Answers `requests` with `answer` from two threads at once (as a server
/// and a host's instance pool are used), in request order.
pub fn answer_from_two_threads(
    requests: &[String],
    answer: impl Fn(&str) -> String + Sync,
) -> Vec<String> {
    let half = requests.len() / 2 + 1;
    let answer = &answer;
    std::thread::scope(|scope| {
        let parts: Vec<_> = requests
            .chunks(half)
            .map(|part| scope.spawn(move || part.iter().map(|r| answer(r)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|part| part.join().unwrap())
            .collect()
    })
}

/// Asserts that `implementation` answers every request byte for byte as
/// the native core does.
pub fn assert_parity(native: &Bundle, implementation: &dyn Implementation, requests: &[String]) {
    let expected = Native(native).answer_all(requests);
    let actual = implementation.answer_all(requests);
    let name = implementation.name();
    assert_eq!(
        actual.len(),
        requests.len(),
        "{name}: one answer per request"
    );
    for ((request, expected), actual) in requests.iter().zip(&expected).zip(&actual) {
        assert_eq!(expected, actual, "{name}, request: {request}");
    }
}

/// Decide requests for every case of a bundle's own tests.
pub fn case_requests(bundle: &Bundle) -> Vec<String> {
    bundle
        .tests()
        .expect("loaded with its tests")
        .iter()
        .flat_map(|file| &file.cases)
        .map(|case| serde_json::to_string(&case.request()).unwrap())
        .collect()
}

/// Decide requests for every generated household and community.
pub fn generated_requests(households: usize, communities: usize) -> Vec<String> {
    use crate::generate::{community, household, Rng, AS_OF};
    let mut rng = Rng(0x9a41_7e57_0000_0003);
    let mut requests = Vec::with_capacity(households + communities);
    for i in 0..households {
        let mode = if i % 3 == 0 { "partial" } else { "strict" };
        let lang = if i % 2 == 0 { "en" } else { "zh-CN" };
        let input = household(&mut rng, i);
        requests.push(json!({ "entry": "household", "input": input, "as_of": AS_OF, "mode": mode, "lang": lang }).to_string());
    }
    for i in 0..communities {
        let input = community(&mut rng, i);
        requests.push(json!({ "entry": "community", "input": input, "as_of": AS_OF }).to_string());
    }
    // Ids that need escapes in JSON (quote, backslash, control
    // characters) at every place of short and long texts, some with
    // Chinese: the envelope writes them back (`household_id`), and each
    // runtime writes strings 8 or 16 bytes a step.
    let pieces = [
        '临', '"', 'a', '\\', '\n', '救', '\u{1f}', 'b', '\t', 'c', 'd',
    ];
    let mut template = household(&mut rng, households);
    for len in 1..48 {
        let id: String = pieces.iter().cycle().skip(len).take(len).collect();
        template["id"] = json!(id);
        requests
            .push(json!({ "entry": "household", "input": template, "as_of": AS_OF }).to_string());
    }
    // Bad inputs too: every error list must match.
    requests.push(json!({ "entry": "household", "input": { "id": "", "members": [{ "age": 131, "monthly_income": 1.005 }] }, "as_of": AS_OF }).to_string());
    requests.push(json!({ "entry": "household", "input": {}, "as_of": "yesterday" }).to_string());
    requests.push("{not json".to_string());
    // A key named twice: refused with its path, the same in every runtime.
    requests.push(format!(
        r#"{{"entry":"household","input":{{"id":"d","district":"urban","members":[{{"age":40,"monthly_income":0,"age":41}}]}},"as_of":"{AS_OF}"}}"#
    ));
    requests
}
