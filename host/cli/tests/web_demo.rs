//! The web page end to end: `web-demo/tests/e2e.mjs` drives headless
//! Chromium (playwright-core) against this build's `eligo serve` — fill a
//! household, answer a "need more information" prompt, a validation error
//! at its field, switch language, submit with the agreement badge and the
//! receipt verified in the browser, offline decide-queue-send-once, the
//! playground's tests and behavioural diff, permalinks and publishing.
//! Screenshots go to `target/web-demo-e2e/`.
//!
//! Needs the built page (`cargo xtask test` builds it) and Chromium
//! (`$CHROMIUM`, default `/usr/bin/chromium`).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_form_and_the_playground_work_in_a_real_browser() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let web = repo.join("web-demo");
    assert!(
        web.join("dist/index.html").is_file() && web.join("node_modules").is_dir(),
        "the web page is not built: run `cargo xtask web` (or `cargo xtask test`)"
    );
    let out = Command::new("node")
        .arg("tests/e2e.mjs")
        .current_dir(&web)
        .env("ELIGO_BIN", env!("CARGO_BIN_EXE_eligo"))
        .env("ELIGO_WASM", repo.join("target/wasm/eligo_bg.wasm"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "the browser scenarios failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
