//! `cargo xtask <task>`: the project's build steps as one Rust program, so a
//! fresh machine needs nothing but cargo.
//!
//! - `wasm`: build `target/wasm/eligo_bg.wasm` (+ its wasm-bindgen JS glue
//!   and the typed API from `wasm/js/`) reproducibly, optimise it with a pinned wasm-opt, and print its size
//!   (raw and gzip) and sha256.
//! - `test`: build the artifact, make sure the browser parity test has Debian's
//!   chromium and playwright-core, then run the workspace tests.
//! - `fuzz [--seconds N] [target…]`: build the artifact, then run the
//!   libFuzzer targets of `tests/fuzz` for N seconds each (`fuzz.rs`).
//! - `serve [args…]`: build the artifact and the `eligo` binary exactly as
//!   `test` builds them (the same cargo invocation, so neither command
//!   recompiles what the other compiled), then run `eligo serve`.

use std::env;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use sha2::{Digest, Sha256};

mod fuzz;

const TARGET: &str = "wasm32-unknown-unknown";

/// `target/wasm/package.json`: the typed API is the package's entry point.
const PACKAGE_JSON: &str = r#"{
  "name": "eligo",
  "type": "module",
  "main": "index.js",
  "types": "index.d.ts",
  "exports": {
    ".": { "types": "./index.d.ts", "default": "./index.js" },
    "./eligo_bg.wasm": "./eligo_bg.wasm"
  },
  "files": ["index.js", "index.d.ts", "eligo.js", "eligo.d.ts", "eligo_bg.wasm", "eligo_bg.wasm.d.ts"]
}
"#;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("wasm") => build_wasm().map(|_| ()),
        Some("web") => build_wasm().and_then(|_| build_web()),
        Some("test") => build_wasm()
            .and_then(|_| build_web())
            .and_then(|()| ensure_browser())
            .and_then(|()| ensure_postgres())
            .and_then(|()| run_tests(&args[1..])),
        Some("fuzz") => build_wasm().and_then(|_| fuzz::fuzz(&args[1..])),
        Some("serve") => build_wasm()
            .and_then(|_| build_web())
            .and_then(|()| run_tests(&["--no-run".to_string()]))
            .and_then(|()| serve(&args[1..])),
        _ => {
            eprintln!(
                "usage: cargo xtask <wasm | web | test [cargo test args…] | fuzz [--seconds N] [target…] | serve [eligo serve args…]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace exists")
}

fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// Adds the wasm target if this toolchain does not have it yet.
fn ensure_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        });
    match installed {
        Ok(true) => Ok(()),
        Ok(false) => run(Command::new("rustup").args(["target", "add", TARGET])),
        // No rustup: trust that the toolchain has the target.
        Err(_) => Ok(()),
    }
}

/// Where the artifact and its JS glue go.
pub fn out_dir() -> PathBuf {
    workspace().join("target/wasm")
}

fn build_wasm() -> Result<PathBuf, String> {
    ensure_target()?;
    let root = workspace();
    let cargo_home = env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env::var("HOME").unwrap_or_default()).join(".cargo"));
    // Paths end up in panic messages: map them to fixed names so the bytes do
    // not depend on where the checkout or the cargo home is.
    let rustflags = [
        format!("--remap-path-prefix={}=/eligo", root.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
        // 128-bit SIMD, which every engine the artifact targets runs
        // (wasmtime; Chrome 91, Firefox 89, Safari 16.4, Node 16.4 and
        // later): copies and compares of wider values take fewer
        // instructions. Measured: 2,079,506 → 2,032,908 bytes, gzip
        // 753,693 → 741,146, a household decision in Node 28.5–29.1 →
        // 27.2–28.8 µs. Its integer operations are deterministic; the
        // engine does no floating-point arithmetic on decisions.
        "-Ctarget-feature=+simd128".to_string(),
    ]
    .join("\x1f");
    let build_dir = root.join("target/wasm-build");
    run(Command::new(cargo())
        .current_dir(&root)
        .args([
            "build",
            "--locked",
            "--profile",
            "wasm",
            "--target",
            TARGET,
            "-p",
            "eligo-wasm",
        ])
        .env("CARGO_TARGET_DIR", &build_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags)
        .env_remove("RUSTFLAGS"))?;
    let input = build_dir.join(TARGET).join("wasm/eligo_wasm.wasm");
    let out = out_dir();
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    // The typed API over the glue, and a package.json that makes the
    // directory an ES module package Node and bundlers can import.
    for file in ["index.js", "index.d.ts"] {
        fs::copy(root.join("wasm/js").join(file), out.join(file))
            .map_err(|e| format!("cannot copy wasm/js/{file}: {e}"))?;
    }
    fs::write(out.join("package.json"), PACKAGE_JSON).map_err(|e| e.to_string())?;
    let artifact = out.join("eligo_bg.wasm");
    // wasm-bindgen, wasm-opt and brotli at quality 11 take over a minute
    // together; when cargo's output and the tools are what the artifact
    // was made from, and the artifact is unchanged, it is made already.
    let made_from = made_from(&input)?;
    let stamp = out.join(".made-from");
    if fs::read_to_string(&stamp).is_ok_and(|s| s == made_from) && artifact_intact(&out) {
        print_summary(&root, &artifact)?;
        return Ok(artifact);
    }
    let _ = fs::remove_file(&stamp);
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .out_name("eligo")
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        .typescript(true)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&out)
        .map_err(|e| format!("wasm-bindgen: {e}"))?;
    optimise(&artifact)?;
    let bytes =
        fs::read(&artifact).map_err(|e| format!("cannot read {}: {e}", artifact.display()))?;
    let (gzipped, brotlied) = compressed(&bytes)?;
    fs::write(out.join("eligo_bg.wasm.gz"), &gzipped).map_err(|e| e.to_string())?;
    fs::write(out.join("eligo_bg.wasm.br"), &brotlied).map_err(|e| e.to_string())?;
    let sha = hex::encode(Sha256::digest(&bytes));
    fs::write(out.join("eligo_bg.wasm.sha256"), format!("sha256:{sha}\n"))
        .map_err(|e| e.to_string())?;
    fs::write(&stamp, made_from).map_err(|e| e.to_string())?;
    print_summary(&root, &artifact)?;
    Ok(artifact)
}

/// What an artifact is made from: cargo's output, whether wasm-opt runs,
/// and the pinned tools (this file's wasm-bindgen options, xtask's
/// manifest with the wasm-bindgen version, wasm-opt's lock file).
fn made_from(input: &Path) -> Result<String, String> {
    let compiled = fs::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let wasm_opt = if wasm_opt_off() { "off" } else { "on" };
    let mut tools = Sha256::new();
    tools.update(include_str!("main.rs"));
    tools.update(include_str!("../Cargo.toml"));
    tools.update(include_str!("../wasm-opt/package-lock.json"));
    Ok(format!(
        "compiled sha256:{}\nwasm-opt {wasm_opt}\ntools sha256:{}\n",
        hex::encode(Sha256::digest(&compiled)),
        hex::encode(tools.finalize())
    ))
}

/// The artifact, its compressed copies and its recorded hash all there,
/// and the artifact still the bytes its hash names.
fn artifact_intact(out: &Path) -> bool {
    let read = |name: &str| fs::read(out.join(name)).ok();
    let (Some(bytes), Some(recorded)) = (read("eligo_bg.wasm"), read("eligo_bg.wasm.sha256"))
    else {
        return false;
    };
    let actual = format!("sha256:{}\n", hex::encode(Sha256::digest(&bytes)));
    actual.as_bytes() == recorded
        && ["eligo.js", "eligo_bg.wasm.gz", "eligo_bg.wasm.br"]
            .iter()
            .all(|name| out.join(name).is_file())
}

/// One line: the artifact's size as is, gzipped and brotlied, and its hash.
fn print_summary(root: &Path, artifact: &Path) -> Result<(), String> {
    let size = |path: &Path| {
        fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let (bytes, gzipped, brotlied) = (
        size(artifact)?,
        size(&artifact.with_extension("wasm.gz"))?,
        size(&artifact.with_extension("wasm.br"))?,
    );
    let sha = fs::read_to_string(artifact.with_extension("wasm.sha256"))
        .map_err(|e| format!("cannot read the artifact's hash: {e}"))?;
    let kib = |n: u64| n as f64 / 1024.0;
    println!(
        "{}: {bytes} bytes ({:.0} KiB), gzip {gzipped} bytes ({:.0} KiB), brotli {brotlied} bytes ({:.0} KiB), {}",
        artifact.strip_prefix(root).unwrap_or(artifact).display(),
        kib(bytes),
        kib(gzipped),
        kib(brotlied),
        sha.trim()
    );
    Ok(())
}

/// `ELIGO_WASM_OPT=off`: the artifact is made without wasm-opt.
fn wasm_opt_off() -> bool {
    env::var("ELIGO_WASM_OPT").is_ok_and(|v| v == "off")
}

/// Runs binaryen's wasm-opt (pinned in xtask/wasm-opt/package-lock.json, so
/// the output stays reproducible) over the artifact in place. It makes
/// decisions through wasmtime about 10% faster; the gzipped size barely moves.
/// `ELIGO_WASM_OPT=off` skips it, which changes the artifact's sha256.
fn optimise(artifact: &Path) -> Result<(), String> {
    if wasm_opt_off() {
        eprintln!("xtask: ELIGO_WASM_OPT=off, skipping wasm-opt");
        return Ok(());
    }
    let tool = workspace().join("xtask/wasm-opt");
    let wasm_opt = tool.join("node_modules/binaryen/bin/wasm-opt");
    if !wasm_opt.exists() {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&tool))
        .map_err(|e| format!("{e}; wasm-opt needs Node.js and npm (Debian: nodejs npm)"))?;
    }
    let optimised = artifact.with_extension("opt.wasm");
    run(Command::new("node")
        .arg(&wasm_opt)
        .arg(artifact)
        .args(["-O3", "-o"])
        .arg(&optimised)
        // The features rustc enables by default for wasm32-unknown-unknown,
        // and SIMD, which the build turns on; reference types carry
        // wasm-bindgen's externref table.
        .args([
            "--enable-simd",
            "--enable-bulk-memory",
            "--enable-mutable-globals",
            "--enable-sign-ext",
            "--enable-nontrapping-float-to-int",
            "--enable-reference-types",
            "--enable-multivalue",
        ]))?;
    fs::rename(&optimised, artifact)
        .map_err(|e| format!("cannot replace {}: {e}", artifact.display()))
}

/// Debian's chromium, the pinned playwright-core that drives it, and the
/// pinned typescript that checks the typed API.
fn ensure_browser() -> Result<(), String> {
    let chromium = env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    if !Path::new(&chromium).exists() {
        eprintln!("xtask: installing Debian's chromium for the browser parity test");
        let apt = |args: &[&str]| {
            run(Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"))
        };
        apt(&["update", "-qq"])
            .and_then(|()| apt(&["install", "-y", "-qq", "chromium"]))
            .map_err(|e| format!("{e}; install Debian's `chromium` package (or set CHROMIUM)"))?;
    }
    // A Chinese font, so the page's zh-CN screenshots show characters, not
    // empty boxes (the tests read the page's text either way, so a machine
    // that cannot install it still runs them).
    let cjk_font = Path::new("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc");
    if !cjk_font.exists() {
        eprintln!("xtask: installing Debian's fonts-wqy-microhei for the zh-CN screenshots");
        let apt = |args: &[&str]| {
            run(Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"))
        };
        let installed = apt(&["update", "-qq"])
            .and_then(|()| apt(&["install", "-y", "-qq", "fonts-wqy-microhei"]));
        if let Err(error) = installed {
            eprintln!("xtask: no Chinese font ({error}); zh-CN screenshots will show boxes");
        }
    }
    let browser = workspace().join("tests/browser");
    let installed = ["playwright-core", "typescript"]
        .iter()
        .all(|package| browser.join("node_modules").join(package).is_dir());
    if !installed {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&browser))?;
    }
    Ok(())
}

/// Builds the web page (`web-demo/` → `web-demo/dist/`), installing its npm
/// packages first when `package-lock.json` changed since the last install.
fn build_web() -> Result<(), String> {
    let web = workspace().join("web-demo");
    if !web.join("package.json").is_file() {
        return Ok(());
    }
    let lock = fs::read(web.join("package-lock.json"))
        .map_err(|e| format!("web-demo/package-lock.json: {e}"))?;
    let stamp = web.join("node_modules/.eligo-lock");
    if fs::read(&stamp).ok().as_deref() != Some(lock.as_slice()) {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&web))?;
        fs::write(&stamp, &lock).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    run(Command::new("npm")
        .args(["run", "--silent", "build"])
        .current_dir(&web))?;
    precompress(&web.join("dist"))
}

/// `bytes` gzipped (level 9) and brotlied (quality 11, a 16 MiB window), as
/// browsers are sent them.
fn compressed(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes).map_err(|e| e.to_string())?;
    let gzipped = gzip.finish().map_err(|e| e.to_string())?;
    let mut brotlied = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut brotlied, &params)
        .map_err(|e| format!("brotli: {e}"))?;
    Ok((gzipped, brotlied))
}

/// Writes a `.br` (quality 11) and a `.gz` (level 9) beside each text file
/// of the built page, which `eligo serve` sends to browsers that accept
/// them instead of compressing the page on every request. Vite empties
/// `dist/` on every build, so none is left from an older build.
fn precompress(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            precompress(&path)?;
            continue;
        }
        let text = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("html" | "js" | "css" | "json" | "svg" | "webmanifest")
        );
        if !text {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (gzipped, brotlied) = compressed(&bytes)?;
        let beside = |extension: &str, encoded: &[u8]| {
            let mut name = path.clone().into_os_string();
            name.push(extension);
            fs::write(&name, encoded).map_err(|e| format!("{}: {e}", path.display()))
        };
        beside(".br", &brotlied)?;
        beside(".gz", &gzipped)?;
    }
    Ok(())
}

/// The tests' PostgreSQL server: `ELIGO_TEST_DATABASE_URL` when set, else
/// Debian's cluster (installed through apt-get if missing, started if
/// down) with a role `eligo` that may create the tests' databases.
fn ensure_postgres() -> Result<(), String> {
    if env::var_os("ELIGO_TEST_DATABASE_URL").is_some() {
        return Ok(());
    }
    if Command::new("pg_lsclusters").output().is_err() {
        eprintln!("xtask: installing PostgreSQL (apt-get) for the audit-store tests");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let clusters = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .map_err(|e| format!("pg_lsclusters: {e}"))?;
    let listing = String::from_utf8_lossy(&clusters.stdout).into_owned();
    let first = listing
        .lines()
        .next()
        .ok_or("PostgreSQL has no cluster; create one with pg_createcluster, or set ELIGO_TEST_DATABASE_URL")?;
    let fields: Vec<&str> = first.split_whitespace().collect();
    let (version, cluster, port, status) = (fields[0], fields[1], fields[2], fields[3]);
    if status != "online" {
        run(Command::new("pg_ctlcluster").args([version, cluster, "start"]))?;
    }
    let psql = |sql: &str| {
        Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "psql",
                "-p",
                port,
                "-tAq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .map_err(|e| format!("psql: {e}"))
    };
    let exists = psql("SELECT 1 FROM pg_roles WHERE rolname = 'eligo'")?;
    if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
        let created = psql("CREATE ROLE eligo LOGIN CREATEDB PASSWORD 'eligo'")?;
        if !created.status.success() {
            return Err(format!(
                "cannot create the PostgreSQL role eligo: {}",
                String::from_utf8_lossy(&created.stderr)
            ));
        }
        psql("CREATE DATABASE eligo OWNER eligo")?;
    }
    let url = format!("postgres://eligo:eligo@127.0.0.1:{port}/eligo");
    eprintln!("xtask: PostgreSQL for the tests at {url}");
    // Inherited by cargo test and the test binaries.
    env::set_var("ELIGO_TEST_DATABASE_URL", url);
    Ok(())
}

fn run_tests(extra: &[String]) -> Result<(), String> {
    run(Command::new(cargo())
        .current_dir(workspace())
        .args(["test", "--workspace", "--locked"])
        .args(extra))
}

/// `eligo serve` from the binary the test build made.
fn serve(extra: &[String]) -> Result<(), String> {
    let eligo = workspace().join("target/debug/eligo");
    run(Command::new(eligo)
        .current_dir(workspace())
        .arg("serve")
        .args(extra))
}
