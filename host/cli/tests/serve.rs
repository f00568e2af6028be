//! `eligo serve` as a backend service uses it, over real HTTP against the
//! real binary, a real SQLite file and a real PostgreSQL server: decisions
//! are stored before they are answered and survive SIGKILL, receipts verify
//! (and tampering fails), idempotency keys never make a second decision,
//! `/v1/verify` names the paths that differ, replays prove the bytes, tokens
//! and roles guard the routes, publications reach every replica and broken
//! bundles are refused, SIGHUP reloads from disk, and errors carry the
//! documented statuses. Over HTTP it answers every request of the parity
//! suite byte for byte as the native core does.
//!
//! PostgreSQL: `ELIGO_TEST_DATABASE_URL` names a server on which the tests
//! may create databases (`cargo xtask test` starts one and sets it).

use std::io::{BufRead, BufReader, Read};
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
        Server::start_with(data_dir, &[])
    }

    fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eligo"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
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

    /// Any request, with headers; (status, body).
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = ureq::request(method, &self.url(path));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match body {
            Some(body) => answer(
                request
                    .set("Content-Type", "application/json")
                    .send_string(body),
            ),
            None => answer(request.call()),
        }
    }

    /// The hash `name` serves now.
    fn served_hash(&self, name: &str) -> String {
        let (status, policy) = self.get(&format!("/v1/policies/{name}"));
        assert_eq!(status, 200, "{policy}");
        policy["hash"].as_str().unwrap().to_string()
    }

    /// Waits (bounded) until `name` serves something other than `old`.
    fn wait_for_new_hash(&self, name: &str, old: &str) -> String {
        for _ in 0..100 {
            let hash = self.served_hash(name);
            if hash != old {
                return hash;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{name} still serves {old} after 10 s");
    }
}

/// A fresh PostgreSQL database for one test, on the server named by
/// `ELIGO_TEST_DATABASE_URL`; its URL.
fn postgres_database(name: &str) -> String {
    let admin = std::env::var("ELIGO_TEST_DATABASE_URL").expect(
        "ELIGO_TEST_DATABASE_URL must name a PostgreSQL server the tests may create databases on \
         (`cargo xtask test` starts one and sets it)",
    );
    let database = format!("eligo_{name}_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {database}"),
        format!("CREATE DATABASE {database}"),
    ] {
        let out = Command::new("psql")
            .args([admin.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", &sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (server, _) = admin.rsplit_once('/').expect("a database URL has a path");
    format!("{server}/{database}")
}

/// A copy of the bundle directory `from` (its own files, not variants/).
fn copy_bundle(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "variants" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_bundle(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The packed default bundle as the server serves it, as a `{"files"}`
/// publish body, with `edit` applied to its first rule file.
fn edited_bundle(server: &Server, edit: &str) -> String {
    let (_, current) = server.get("/engine/current");
    let url = current["policies"][0]["url"].as_str().unwrap();
    let (_, packed) = server.get(url);
    let mut files = packed["files"].as_object().unwrap().clone();
    let rule = files
        .keys()
        .find(|name| name.ends_with(".rhai"))
        .unwrap()
        .clone();
    let text = format!("{}{edit}", files[&rule].as_str().unwrap());
    files.insert(rule, Value::String(text));
    json!({ "files": files }).to_string()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status and body text of an answer, whatever its status.
fn answer_text(result: Result<ureq::Response, ureq::Error>) -> (u16, String) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("no answer: {error}"),
    };
    (response.status(), response.into_string().unwrap())
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let (status, text) = answer_text(result);
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
    // The same key for a different household is refused, not answered
    // with the first household's decision.
    let (status, conflict) = server.post(
        "/v1/decisions/household",
        &household("h-other").to_string(),
        Some("retry-1"),
    );
    assert_eq!(status, 409, "{conflict}");
    assert!(conflict["error"]["message"].as_str().unwrap().contains(&id));
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

    // Metrics: requests by route and status, decisions, the pools, the audit writer.
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    for needle in [
        "eligo_http_request_duration_seconds_bucket{route=\"/v1/decisions/{entry_or_id}\",status=\"201\"",
        "eligo_decisions_total{policy=\"default\",entry=\"household\",outcome=\"ok\"}",
        "eligo_pool_instances{policy=\"default\"}",
        "eligo_pool_waits_total{policy=\"quarterly\"}",
        "eligo_audit_records_total",
        "eligo_policy_reloads_total",
    ] {
        assert!(metrics.contains(needle), "no {needle} in\n{metrics}");
    }

    // A body over --max-body-bytes (1 MiB by default) is a 413 with the
    // error JSON, answered from its Content-Length before any of it is
    // read (so only the headers are sent here).
    let refusal = {
        use std::io::{Read, Write};
        let address = server.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            stream,
            "POST /v1/decisions/household HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        )
        .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).to_string()
    };
    assert!(
        refusal.starts_with("HTTP/1.1 413 Payload Too Large")
            && refusal.contains("at most 1048576 are accepted"),
        "{refusal}"
    );

    // Replay: the stored decision re-decided with its kept bundle and
    // artifact gives the stored bytes, through the API and the CLI (which
    // reads the audit log directly).
    let (status, replay) = server.get(&format!("/v1/decisions/{id}/replay"));
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["identical"], true, "{replay}");
    assert_eq!(
        replay["stored_envelope_sha256"],
        first["receipt"]["envelope_sha256"]
    );
    drop(server);
    let out = Command::new(env!("CARGO_BIN_EXE_eligo"))
        .args(["replay", "--data-dir"])
        .arg(&data)
        .arg(&id)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["identical"], true);
    assert_eq!(report["decision_id"], id.as_str());
    std::fs::remove_dir_all(&data).ok();
}

/// Clients decide as fast as they can; the server is SIGKILLed mid-load;
/// after a restart every decision a client received an id for is in the
/// log with its full record.
#[test]
fn no_acknowledged_decision_is_lost_when_the_server_is_killed_sqlite() {
    let data = temp_dir("kill");
    survives_sigkill(&data, &[]);
    std::fs::remove_dir_all(&data).ok();
}

#[test]
fn no_acknowledged_decision_is_lost_when_the_server_is_killed_postgres() {
    let data = temp_dir("kill-pg");
    let url = postgres_database("kill");
    survives_sigkill(&data, &["--database-url", &url]);
    std::fs::remove_dir_all(&data).ok();
}

fn survives_sigkill(data: &Path, extra: &[&str]) {
    let mut server = Server::start_with(data, extra);
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

    let server = Server::start_with(data, extra);
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
        "{} acknowledged decisions, all present after SIGKILL and restart ({extra:?})",
        acknowledged.len()
    );
}

/// With tokens configured: no token is 401, a token without the route's
/// role is 403, public routes stay public, and the record names the caller.
#[test]
fn tokens_and_roles_guard_the_routes() {
    let data = temp_dir("tokens");
    let token = |roles: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_eligo"))
            .args(["token", "--roles", roles])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        (
            lines.next().unwrap().to_string(),
            lines.next().unwrap().to_string(),
        )
    };
    let (decider, decider_flag) = token("decide");
    let (reader, reader_flag) = token("read");
    let (admin, admin_flag) = token("admin");
    assert!(decider_flag.starts_with("decide=sha256:"), "{decider_flag}");
    assert!(
        !decider_flag.contains(&decider[6..]),
        "the secret is not in the flag"
    );
    let server = Server::start_with(
        &data,
        &[
            "--token",
            &decider_flag,
            "--token",
            &reader_flag,
            "--token",
            &admin_flag,
        ],
    );
    let bearer = |secret: &str| format!("Bearer {secret}");
    let body = household("t-1").to_string();
    let decide = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        server.call("POST", "/v1/decisions/household", Some(&body), &headers)
    };
    let (status, error) = decide(None);
    assert_eq!(status, 401, "{error}");
    let (status, _) = decide(Some("Bearer eligo_not-a-token"));
    assert_eq!(status, 401);
    let (status, error) = decide(Some(&bearer(&reader)));
    assert_eq!(status, 403, "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("decide"));
    let (status, decided) = decide(Some(&bearer(&decider)));
    assert_eq!(status, 201, "{decided}");
    let id = decided["decision_id"].as_str().unwrap();
    let path = format!("/v1/decisions/{id}");
    let (status, _) = server.call("GET", &path, None, &[("Authorization", &bearer(&decider))]);
    assert_eq!(status, 403);
    let (status, record) = server.call("GET", &path, None, &[("Authorization", &bearer(&reader))]);
    assert_eq!(status, 200);
    assert!(
        record["caller"].as_str().unwrap().starts_with("token:"),
        "{record}"
    );
    let (status, _) = server.call("GET", &path, None, &[("Authorization", &bearer(&admin))]);
    assert_eq!(status, 200, "admin implies read");
    let (status, _) = server.call(
        "POST",
        "/v1/reload",
        None,
        &[("Authorization", &bearer(&decider))],
    );
    assert_eq!(status, 403);
    for public in ["/v1/policies", "/v1/keys", "/engine/current", "/healthz"] {
        assert_eq!(server.get(public).0, 200, "{public} is public");
    }
    drop(server);

    // Without tokens, the server refuses to listen beyond loopback.
    let out = Command::new(env!("CARGO_BIN_EXE_eligo"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(&data)
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without authentication"));
    std::fs::remove_dir_all(&data).ok();
}

/// Two replicas on one PostgreSQL: both write to one log, a bundle
/// published to one serves on the other, a broken one is refused with its
/// diagnostics while the old one keeps serving, and a restart keeps the
/// published bundle.
#[test]
fn publications_reach_every_replica_and_broken_bundles_are_refused() {
    let url = postgres_database("replicas");
    let (data_a, data_b) = (temp_dir("replica-a"), temp_dir("replica-b"));
    let args = ["--database-url", url.as_str(), "--poll-ms", "100"];
    let a = Server::start_with(&data_a, &args);
    let b = Server::start_with(&data_b, &args);
    for (server, id) in [(&a, "r-a"), (&b, "r-b")] {
        let (status, _) = server.post("/v1/decisions/household", &household(id).to_string(), None);
        assert_eq!(status, 201);
    }
    let (_, listing) = a.get("/v1/decisions");
    let households: Vec<&str> = listing["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["household_id"].as_str().unwrap())
        .collect();
    assert!(
        households.contains(&"r-a") && households.contains(&"r-b"),
        "{listing}"
    );

    let old = a.served_hash("default");
    assert_eq!(b.served_hash("default"), old);
    let (status, published) = a.call(
        "PUT",
        "/v1/policies/default",
        Some(&edited_bundle(&a, "\n// reviewed\n")),
        &[],
    );
    assert_eq!(status, 200, "{published}");
    let new = published["bundle"]["hash"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(a.served_hash("default"), new);
    assert_eq!(
        b.wait_for_new_hash("default", &old),
        new,
        "replica b picked it up"
    );
    // Decisions on b now name the new bundle.
    let (_, decided) = b.post(
        "/v1/decisions/household",
        &household("r-c").to_string(),
        None,
    );
    assert_eq!(decided["envelope"]["policy"]["hash"], new.as_str());

    let (status, refused) = a.call(
        "PUT",
        "/v1/policies/default",
        Some(&edited_bundle(&a, "\nlet x = ;\n")),
        &[],
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["kind"], "bundle_error");
    assert_eq!(
        refused["error"]["diagnostics"][0]["code"], "rhai-syntax",
        "{refused}"
    );
    assert_eq!(
        a.served_hash("default"),
        new,
        "the old bundle keeps serving"
    );
    drop(a);
    let a = Server::start_with(&data_a, &args);
    assert_eq!(
        a.served_hash("default"),
        new,
        "a restart keeps the published bundle"
    );
    drop((a, b));
    std::fs::remove_dir_all(&data_a).ok();
    std::fs::remove_dir_all(&data_b).ok();
}

/// SIGHUP (and `POST /v1/reload`) reads bundles from disk again: a changed
/// one is swapped in, a broken one refused while the old one serves.
#[test]
fn sighup_reloads_changed_bundles_from_disk() {
    let data = temp_dir("sighup");
    let bundle = data.join("bundle");
    copy_bundle(&repo().join("rules"), &bundle);
    let policy = format!("default={}", bundle.display());
    let server = Server::start_with(&data, &["--policy", &policy]);
    let old = server.served_hash("default");
    let rule = bundle.join("household.rhai");
    let text = std::fs::read_to_string(&rule).unwrap();
    std::fs::write(&rule, format!("{text}\n// reviewed\n")).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let new = server.wait_for_new_hash("default", &old);
    assert_ne!(new, old);

    std::fs::write(&rule, format!("{text}\nlet x = ;\n")).unwrap();
    let (status, outcomes) = server.call("POST", "/v1/reload", None, &[]);
    assert_eq!(status, 200);
    assert_eq!(outcomes[0]["outcome"], "refused", "{outcomes}");
    assert_eq!(
        outcomes[0]["error"]["diagnostics"][0]["file"],
        "household.rhai"
    );
    assert_eq!(server.served_hash("default"), new);
    let (status, _) = server.post(
        "/v1/decisions/household",
        &household("s-1").to_string(),
        None,
    );
    assert_eq!(status, 201, "still deciding on the old bundle");
    drop(server);
    std::fs::remove_dir_all(&data).ok();
}

/// The served OpenAPI document is 3.1, lists every route of the API, and
/// every operation it lists is routed (none falls through to "no such
/// route" or a 405). The policy detail carries JSON Schemas and the
/// parameters in force with their history.
#[test]
fn the_openapi_document_matches_the_routes() {
    let data = temp_dir("openapi");
    let server = Server::start(&data);
    let (status, document) = server.get("/openapi.json");
    assert_eq!(status, 200);
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/decisions/{entry_or_id}", "post"),
        ("/v1/decisions/{entry_or_id}", "get"),
        ("/v1/decisions", "get"),
        ("/v1/decisions/{id}/replay", "get"),
        ("/v1/evaluate/{entry}", "post"),
        ("/v1/verify", "post"),
        ("/v1/policies", "get"),
        ("/v1/policies/{name}", "get"),
        ("/v1/policies/{name}", "put"),
        ("/v1/policies/{name}/decisions/{entry}", "post"),
        ("/v1/policies/{name}/evaluate/{entry}", "post"),
        ("/v1/reload", "post"),
        ("/v1/keys", "get"),
        ("/engine/current", "get"),
        ("/engine/{sha}/{file}", "get"),
        ("/engine/bundles/{file}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let concrete = path
                .replace("{entry_or_id}", "household")
                .replace("{entry}", "household")
                .replace("{name}", "default")
                .replace("{id}", "none")
                .replace("{sha}", "0")
                .replace("{file}", "x");
            let body = (method != "get").then_some("{}");
            let (status, answer) = server.call(&method.to_uppercase(), &concrete, body, &[]);
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            let fell_through = answer["error"]["message"] == "no such route or page";
            assert!(
                !fell_through,
                "{method} {path} is documented but not routed: {answer}"
            );
        }
    }
    assert!(operations >= 19, "{operations} operations");
    // An undocumented path falls through, as the check above relies on.
    let (status, answer) = server.call("POST", "/v1/nowhere", Some("{}"), &[]);
    assert!(status == 404 || status == 405, "{status} {answer}");

    let (_, policy) = server.get("/v1/policies/default");
    let household = policy["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "household")
        .unwrap();
    let schema = &household["json_schema"];
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema["required"]
        .as_array()
        .unwrap()
        .contains(&json!("members")));
    assert_eq!(
        schema["properties"]["members"]["items"]["$ref"],
        "#/$defs/Member"
    );
    assert_eq!(
        schema["$defs"]["Member"]["properties"]["age"]["maximum"],
        130
    );
    assert_eq!(
        schema["$defs"]["Member"]["properties"]["monthly_income"]["multipleOf"],
        0.01
    );
    let parameters = policy["parameters"].as_array().unwrap();
    assert!(!parameters.is_empty());
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap();
        let first = &parameter["values"][0];
        assert!(
            first["from"].is_string() && first["source"].is_string(),
            "{parameter}"
        );
        if first["from"].as_str().unwrap() <= policy["today"].as_str().unwrap() {
            assert!(
                policy["in_force"][name]["value"] != Value::Null,
                "{name} has no value in force"
            );
        }
    }
    drop(server);
    std::fs::remove_dir_all(&data).ok();
}

/// The audit log as a population: `eligo impact --audit` compares the
/// decisions the server really answered (with their own as_of) with what a
/// draft decides for the same inputs, and a time range narrows them.
#[test]
fn impact_over_the_audit_log_compares_stored_decisions_with_a_draft() {
    let data = temp_dir("audit-impact");
    let server = Server::start(&data);
    for i in 0..5 {
        let mut request = household(&format!("a-{i}"));
        if i == 4 {
            request["as_of"] = json!("2026-12-01T09:00:00+08:00");
        }
        let (status, body) = server.post("/v1/decisions/household", &request.to_string(), None);
        assert_eq!(status, 201, "{body}");
    }
    let impact = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_eligo"))
            .args(["impact", "--audit"])
            .arg(&data)
            .args([
                "--draft",
                "rules/variants/quarterly",
                "--runtime",
                "native",
                "--lang",
                "en",
                "--format",
                "json",
            ])
            .args(extra)
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let report = impact(&[]);
    assert_eq!(report["households"], 5, "{report}");
    // Key households (dibao): visited every 30 days by default, every 90 in the variant.
    let interval = &report["totals"]["visits.interval_days"];
    assert_eq!(interval["changed"], 5, "{report}");
    assert_eq!(
        interval["before"].as_u64().unwrap() * 3,
        interval["after"].as_u64().unwrap()
    );
    // The example's "before" is the stored decision, reasons as answered.
    let example = &report["examples"][0];
    let (_, stored) = server.get(&format!(
        "/v1/decisions?household={}",
        example["id"].as_str().unwrap()
    ));
    let stored_reasons: Vec<Value> = stored["decisions"][0]["envelope"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({ "rule": r["rule"], "text": r["text"] }))
        .collect();
    assert_eq!(
        example["before"]["reasons"],
        json!(stored_reasons),
        "{stored}"
    );
    // Nothing was received after now.
    let none = impact(&["--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(none["households"], 0);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// `eligo serve` as one more place the engine runs: each request's entry in
/// the path of `/v1/evaluate/{entry}` (a preview: the same decision,
/// nothing stored), the rest of it as the body, its input passed as the
/// very text it was (a key named twice stays twice), the answer the
/// response body whatever its status.
struct Http<'a>(&'a Server);

impl Http<'_> {
    fn answer(&self, request: &str) -> String {
        #[derive(serde::Deserialize)]
        struct Parts<'r> {
            entry: String,
            #[serde(borrow)]
            input: &'r serde_json::value::RawValue,
            #[serde(borrow)]
            as_of: Option<&'r serde_json::value::RawValue>,
            #[serde(borrow)]
            mode: Option<&'r serde_json::value::RawValue>,
            #[serde(borrow)]
            lang: Option<&'r serde_json::value::RawValue>,
        }
        let parts: Parts = serde_json::from_str(request)
            .unwrap_or_else(|error| panic!("not a decide request: {error}: {request}"));
        let mut body = format!("{{\"input\":{}", parts.input.get());
        for (name, value) in [
            ("as_of", parts.as_of),
            ("mode", parts.mode),
            ("lang", parts.lang),
        ] {
            if let Some(value) = value {
                body += &format!(",\"{name}\":{}", value.get());
            }
        }
        body += "}";
        let url = format!("{}/v1/evaluate/{}", self.0.base, parts.entry);
        answer_text(
            ureq::post(&url)
                .set("content-type", "application/json")
                .send_string(&body),
        )
        .1
    }
}

impl eligo_tests::parity::Implementation for Http<'_> {
    fn name(&self) -> String {
        "eligo serve over HTTP".into()
    }
    fn answer_all(&self, requests: &[String]) -> Vec<String> {
        // Two clients at once, as the server is used.
        eligo_tests::parity::answer_from_two_threads(requests, |r| self.answer(r))
    }
}

#[test]
fn the_server_answers_the_parity_suite_byte_for_byte_as_the_native_core() {
    use eligo_tests::parity::{assert_parity, case_requests, generated_requests};
    let data = temp_dir("parity");
    let server = Server::start(&data);
    let (_, engine) = answer(ureq::get(&format!("{}/engine/current", server.base)).call());
    let artifact = engine["artifact"]
        .as_str()
        .expect("the served artifact's hash");
    let mut native = eligo_tests::default_bundle();
    native.set_artifact(Some(artifact.to_string()));
    let mut requests = generated_requests(3_000, 1_000);
    requests.extend(case_requests(&native));
    // A text that is not JSON has no request to send: the entry goes in the
    // path. The server's own answer to a body that is not JSON is tested
    // with its statuses above.
    requests.retain(|request| serde_json::from_str::<Value>(request).is_ok());
    assert!(requests.len() > 4_000, "{} requests", requests.len());
    assert_parity(&native, &Http(&server), &requests);
    // A key named twice outside the input is the request's own fault.
    let twice = r#"{"input":{"id":"x","members":[]},"as_of":"2026-11-20T09:00:00+08:00","as_of":"2026-11-21T09:00:00+08:00"}"#;
    let (status, body) = answer(
        ureq::post(&format!("{}/v1/evaluate/household", server.base))
            .set("content-type", "application/json")
            .send_string(twice),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "bad_request", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("as_of: "),
        "{body}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// The form's page names, in a `Link` header, what its script will fetch
/// before it can decide (the engine's API, the artifact, the default
/// policy, `/engine/current`), so a browser fetches them while it parses
/// the page; every URL named answers. Other pages name nothing.
#[test]
fn the_form_page_names_what_it_will_fetch_to_decide() {
    let data = temp_dir("preload");
    let server = Server::start(&data);
    let page = ureq::get(&format!("{}/", server.base)).call().unwrap();
    let links = page.header("link").expect("a Link header").to_string();
    let (_, current) = answer(ureq::get(&format!("{}/engine/current", server.base)).call());
    let named: Vec<&str> = links
        .split(", ")
        .map(|link| &link[1..link.find('>').unwrap()])
        .collect();
    for url in [
        "/engine/current",
        current["module"].as_str().unwrap(),
        current["wasm"].as_str().unwrap(),
        current["policies"][0]["url"].as_str().unwrap(),
    ] {
        assert!(named.contains(&url), "{url} not in {links}");
    }
    for url in &named {
        let response = ureq::get(&format!("{}{url}", server.base)).call();
        assert!(response.is_ok(), "{url}: {response:?}");
    }
    assert!(links.contains("rel=modulepreload") && links.contains("as=fetch; crossorigin"));
    let playground = ureq::get(&format!("{}/playground.html", server.base))
        .call()
        .unwrap();
    assert_eq!(playground.header("link"), None);
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}

/// What the form loads before it can decide (the page, its script, the
/// engine's JS and artifact, the packed bundle) is sent brotli- or
/// gzip-compressed as the browser accepts, each decoding to exactly the
/// bytes sent uncompressed; an API answer is compressed on the way out.
#[test]
fn what_the_form_loads_is_sent_compressed_and_decodes_to_the_same_bytes() {
    let data = temp_dir("compressed");
    let server = Server::start(&data);
    let fetch = |url: &str, accept: &str| -> (Option<String>, Vec<u8>) {
        let response = ureq::get(&server.url(url))
            .set("Accept-Encoding", accept)
            .call()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let encoding = response.header("content-encoding").map(str::to_string);
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        (encoding, body)
    };
    let page = String::from_utf8(fetch("/", "identity").1).unwrap();
    let script = page
        .split("<script type=\"module\" crossorigin src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's script")
        .to_string();
    let (_, current) = answer(ureq::get(&server.url("/engine/current")).call());
    let urls = [
        "/".to_string(),
        script,
        current["module"].as_str().unwrap().to_string(),
        current["wasm"].as_str().unwrap().to_string(),
        current["policies"][0]["url"].as_str().unwrap().to_string(),
        "/openapi.json".to_string(),
    ];
    for url in &urls {
        let (encoding, plain) = fetch(url, "identity");
        assert_eq!(encoding, None, "{url}");
        let (encoding, brotlied) = fetch(url, "gzip, deflate, br");
        assert_eq!(encoding.as_deref(), Some("br"), "{url}");
        let mut unbrotlied = Vec::new();
        brotli_decompressor::Decompressor::new(brotlied.as_slice(), 1 << 16)
            .read_to_end(&mut unbrotlied)
            .unwrap();
        assert!(unbrotlied == plain, "{url}: brotli decodes to other bytes");
        let (encoding, gzipped) = fetch(url, "gzip");
        assert_eq!(encoding.as_deref(), Some("gzip"), "{url}");
        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(gzipped.as_slice())
            .read_to_end(&mut gunzipped)
            .unwrap();
        assert!(gunzipped == plain, "{url}: gzip decodes to other bytes");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
