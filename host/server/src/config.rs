//! `eligo serve`'s settings: flags, with environment variables as fallback.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A bundle to serve: `NAME=PATH`, or `PATH` (named after the bundle).
#[derive(Debug, Clone)]
pub struct PolicyArg {
    /// The name in `/v1/policies/{name}`; `None` takes the bundle's own.
    pub name: Option<String>,
    /// A bundle directory or a packed bundle file.
    pub path: PathBuf,
}

impl std::str::FromStr for PolicyArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((name, path)) => {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!(
                        "policy name `{name}` must be letters, digits, - or _"
                    ));
                }
                Ok(PolicyArg {
                    name: Some(name.to_string()),
                    path: PathBuf::from(path),
                })
            }
            None => Ok(PolicyArg {
                name: None,
                path: PathBuf::from(text),
            }),
        }
    }
}

/// `eligo serve` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ELIGO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where the SQLite audit log and the receipt signing key live.
    #[arg(long, env = "ELIGO_DATA_DIR", default_value = "eligo-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://…) for the audit log instead of the
    /// embedded SQLite file, so several replicas share one log.
    #[arg(long, env = "ELIGO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A bundle to serve, `[NAME=]PATH` (a directory or a packed file);
    /// repeat for several. The first is the default for the unprefixed
    /// routes. Default: `rules` and `rules/variants/quarterly`.
    #[arg(long = "policy", value_name = "[NAME=]PATH")]
    pub policies: Vec<PolicyArg>,
    /// The wasm artifact (default: $ELIGO_WASM, next to this program, or
    /// target/wasm/ as built by `cargo xtask wasm`).
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,
    /// The UTC offset a decision's `as_of` gets when the request gives none.
    #[arg(long, default_value = "+08:00", value_parser = parse_offset)]
    pub default_offset: chrono::FixedOffset,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Warm wasm instances per bundle.
    #[arg(long, default_value_t = 4)]
    pub instances: usize,
    /// Requests decided at once; beyond this the server answers 503 with
    /// Retry-After instead of queueing without bound.
    #[arg(long, default_value_t = 64)]
    pub max_in_flight: usize,
    /// The web page's directory (the built `web-demo/`), served at `/`.
    #[arg(long, env = "ELIGO_WEB_ROOT", default_value = "web-demo/dist")]
    pub web_root: PathBuf,
    /// Decision records written per transaction at most (group commit).
    #[arg(long, default_value_t = 256)]
    pub max_batch: usize,
}

fn parse_offset(text: &str) -> Result<chrono::FixedOffset, String> {
    text.parse::<chrono::FixedOffset>()
        .map_err(|e| format!("`{text}` is not a UTC offset like +08:00: {e}"))
}
