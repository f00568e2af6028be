//! `eligo serve` as a backend service uses it, over real HTTP against the
//! real binary and a real SQLite file: decisions are stored before they
//! are answered and survive SIGKILL, receipts verify (and tampering fails),
//! idempotency keys never make a second decision, `/v1/verify` names the
//! paths that differ, and errors carry the documented statuses.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eligo-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A running `eligo serve` on a free loopback port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eligo"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .current_dir(repo())
            .env("ELIGO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("eligo serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("eligo serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Server { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs JSON; (status, body).
    fn post(&self, path: &str, body: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = ureq::post(&self.url(path)).set("Content-Type", "application/json");
        if let Some(key) = key {
            request = request.set("Idempotency-Key", key);
        }
        answer(request.send_string(body))
    }

    fn get(&self, path: &str) -> (u16, Value) {
        answer(ureq::get(&self.url(path)).call())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("no answer: {error}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn household(id: &str) -> Value {
    json!({
        "input": {
            "id": id, "district": "urban", "on_dibao": true,
            "members": [{ "age": 40, "monthly_income": 0 }, { "age": 12, "monthly_income": 0 }]
        },
        "as_of": "2026-11-20T09:00:00+08:00",
        "lang": "en"
    })
}

#[test]
fn decisions_are_stored_signed_idempotent_and_verifiable() {
    let data = temp_dir("api");
    let server = Server::start(&data);

    let (status, first) = server.post(
        "/v1/decisions/household",
        &household("h-1").to_string(),
        Some("retry-1"),
    );
    assert_eq!(status, 201, "{first}");
    let id = first["decision_id"].as_str().unwrap().to_string();
    assert_eq!(first["envelope"]["status"], "decided");
    assert_eq!(
        first["envelope"]["result"]["programs"]["temporary_relief"]["eligible"], true,
        "{first}"
    );
    // A retry with the same key answers the first decision; no second one.
    let (status, again) = server.post(
        "/v1/decisions/household",
        &household("h-1").to_string(),
        Some("retry-1"),
    );
    assert_eq!(status, 200);
    assert_eq!(again["decision_id"], id.as_str());
    let (_, listing) = server.get("/v1/decisions?household=h-1");
    assert_eq!(
        listing["decisions"].as_array().unwrap().len(),
        1,
        "{listing}"
    );

    // The stored record, and its receipt checked offline by the CLI.
    let (status, record) = server.get(&format!("/v1/decisions/{id}"));
    assert_eq!(status, 200);
    assert_eq!(record["input"]["id"], "h-1");
    let (_, keys) = server.get("/v1/keys");
    let key = keys[0]["key_id"].as_str().unwrap();
    // The record as served, byte for byte: the envelope's bytes are what
    // the receipt signs (a parsed-and-reprinted Value would sort its keys).
    let record_text = ureq::get(&server.url(&format!("/v1/decisions/{id}")))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let record_file = data.join("record.json");
    std::fs::write(&record_file, &record_text).unwrap();
    let verify = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_eligo"))
            .args(["receipt", "verify", "--key", key])
            .arg(file)
            .output()
            .unwrap()
    };
    let out = verify(&record_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Change one amount in the stored input: the receipt no longer matches.
    let tampered = record_text.replacen(
        r#""members":[{"age":40,"monthly_income":0}"#,
        r#""members":[{"age":40,"monthly_income":1}"#,
        1,
    );
    assert_ne!(tampered, record_text);
    std::fs::write(&record_file, tampered).unwrap();
    let out = verify(&record_file);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("input_sha256"));

    // /v1/verify: the same envelope agrees; a changed one names the path.
    let body = json!({ "input": household("h-1")["input"], "envelope": first["envelope"] });
    let (status, verdict) = server.post("/v1/verify", &body.to_string(), None);
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["agree"], true, "{verdict}");
    let mut changed = first["envelope"].clone();
    changed["result"]["programs"]["temporary_relief"]["eligible"] = json!(false);
    let body = json!({ "input": household("h-1")["input"], "envelope": changed });
    let (_, verdict) = server.post("/v1/verify", &body.to_string(), None);
    assert_eq!(verdict["agree"], false);
    assert_eq!(
        verdict["differences"][0]["path"], "result.programs.temporary_relief.eligible",
        "{verdict}"
    );

    // Errors: statuses and one body shape.
    let (status, error) = server.post(
        "/v1/decisions/household",
        r#"{"input":{"id":"x","members":[{"age":400}]}}"#,
        None,
    );
    assert_eq!(status, 422);
    assert_eq!(error["error"]["kind"], "invalid_input");
    assert_eq!(error["error"]["problems"][1]["path"], "members[0].age");
    let (status, error) = server.post("/v1/decisions/household", "{", None);
    assert_eq!(status, 400);
    assert_eq!(error["error"]["kind"], "bad_request");
    let (status, _) = server.post("/v1/decisions/nope", &household("h").to_string(), None);
    assert_eq!(status, 400);
    let (status, _) = server.get("/v1/decisions/no-such-id");
    assert_eq!(status, 404);
    let (status, _) = server.get("/v1/policies/no-such-policy");
    assert_eq!(status, 404);
    let (status, policies) = server.get("/v1/policies");
    assert_eq!(status, 200);
    assert_eq!(policies.as_array().unwrap().len(), 2);

    // A preview in partial mode is answered and not stored.
    let mut preview = household("h-2");
    preview["mode"] = json!("partial");
    let (status, envelope) = server.post("/v1/evaluate/household", &preview.to_string(), None);
    assert_eq!(status, 200, "{envelope}");
    let (_, listing) = server.get("/v1/decisions?household=h-2");
    assert!(listing["decisions"].as_array().unwrap().is_empty());
    drop(server);
    std::fs::remove_dir_all(&data).ok();
}

/// Clients decide as fast as they can; the server is SIGKILLed mid-load;
/// after a restart every decision a client received an id for is in the
/// log with its full record.
#[test]
fn no_acknowledged_decision_is_lost_when_the_server_is_killed() {
    let data = temp_dir("kill");
    let mut server = Server::start(&data);
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let url = server.url("/v1/decisions/household");
            let acknowledged = Arc::clone(&acknowledged);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = household(&format!("k{client}-{n}")).to_string();
                    let sent = ureq::post(&url)
                        .set("Content-Type", "application/json")
                        .timeout(Duration::from_secs(5))
                        .send_string(&body);
                    match sent {
                        Ok(response) => {
                            let value: Value =
                                serde_json::from_str(&response.into_string().unwrap()).unwrap();
                            let id = value["decision_id"].as_str().unwrap().to_string();
                            let hash = value["receipt"]["envelope_sha256"]
                                .as_str()
                                .unwrap()
                                .to_string();
                            acknowledged.lock().unwrap().push((id, hash));
                        }
                        // The server died under us: that request was never
                        // acknowledged.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "only {} decisions before the kill",
        acknowledged.len()
    );

    let server = Server::start(&data);
    for (id, envelope_sha256) in &acknowledged {
        let (status, record) = server.get(&format!("/v1/decisions/{id}"));
        assert_eq!(status, 200, "acknowledged decision {id} was lost");
        assert_eq!(
            record["receipt"]["envelope_sha256"],
            envelope_sha256.as_str()
        );
        assert_eq!(record["envelope"]["status"], "decided");
        assert!(record["input"]["id"].as_str().unwrap().starts_with('k'));
    }
    eprintln!(
        "{} acknowledged decisions, all present after SIGKILL and restart",
        acknowledged.len()
    );
    drop(server);
    std::fs::remove_dir_all(&data).ok();
}
