//! `eligo serve`'s settings: flags, then environment variables, then a TOML
//! config file (`--config`), then defaults — the first that gives a value
//! wins. [`ServeArgs`] is what clap parses; [`ServeConfig`] is the resolved
//! whole the server runs with.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::TokenArg;
use crate::ServeError;

/// A bundle to serve: `NAME=PATH`, or `PATH` (named after the bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyArg {
    /// The name in `/v1/policies/{name}`; `None` takes the bundle's own.
    pub name: Option<String>,
    /// A bundle directory or a packed bundle file.
    pub path: PathBuf,
}

/// Whether `name` can name a policy in a URL.
pub fn valid_policy_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl std::str::FromStr for PolicyArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((name, path)) => {
                if !valid_policy_name(name) {
                    return Err(format!(
                        "policy name `{name}` must be 1 to 64 letters, digits, - or _"
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

/// `eligo serve` arguments. Every setting can also come from the config
/// file, under the same name with `-` (e.g. `max-in-flight = 32`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// A TOML file with any of these settings; flags and environment win.
    #[arg(long, env = "ELIGO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080]. Beyond loopback
    /// only with at least one --token.
    #[arg(long, env = "ELIGO_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where the SQLite audit log and the receipt signing key live
    /// [default: eligo-data].
    #[arg(long, env = "ELIGO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://…) for the audit log instead of the
    /// embedded SQLite file, so several replicas share one log.
    #[arg(long, env = "ELIGO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A bundle to serve, `[NAME=]PATH` (a directory or a packed file);
    /// repeat for several. The first is the default for the unprefixed
    /// routes. Default: `rules` and `rules/variants/quarterly`.
    #[arg(long = "policy", value_name = "[NAME=]PATH")]
    pub policies: Vec<PolicyArg>,
    /// An API token: `ROLES=sha256:HEX`, roles among decide, read and
    /// admin joined by `+`, and the sha256 of the secret (`eligo token`
    /// makes both). Repeat for several. With none, the server is open but
    /// listens on loopback only.
    #[arg(long = "token", value_name = "ROLES=sha256:HEX")]
    pub tokens: Vec<TokenArg>,
    /// The wasm artifact (default: $ELIGO_WASM, next to this program, or
    /// target/wasm/ as built by `cargo xtask wasm`).
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,
    /// The web page's directory (the built `web-demo/`), served at `/`
    /// [default: web-demo/dist].
    #[arg(long, env = "ELIGO_WEB_ROOT", value_name = "DIR")]
    pub web_root: Option<PathBuf>,
    /// The UTC offset a decision's `as_of` gets when the request gives none
    /// [default: +08:00].
    #[arg(long, value_parser = parse_offset)]
    pub default_offset: Option<chrono::FixedOffset>,
    /// Largest request body, in bytes [default: 1048576].
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Warm wasm instances per bundle [default: 4].
    #[arg(long)]
    pub instances: Option<usize>,
    /// Requests decided at once; beyond this the server answers 503 with
    /// Retry-After instead of queueing without bound [default: 64].
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Decision records written per transaction at most (group commit)
    /// [default: 256].
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// How often, in milliseconds, to look for policies another replica
    /// published [default: 1000].
    #[arg(long)]
    pub poll_ms: Option<u64>,
}

/// The config file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    tokens: Vec<String>,
    artifact: Option<PathBuf>,
    web_root: Option<PathBuf>,
    default_offset: Option<String>,
    max_body_bytes: Option<usize>,
    instances: Option<usize>,
    max_in_flight: Option<usize>,
    max_batch: Option<usize>,
    poll_ms: Option<u64>,
}

/// Every setting, resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub policies: Vec<PolicyArg>,
    pub tokens: Vec<TokenArg>,
    pub artifact: Option<PathBuf>,
    pub web_root: PathBuf,
    pub default_offset: chrono::FixedOffset,
    pub max_body_bytes: usize,
    pub instances: usize,
    pub max_in_flight: usize,
    pub max_batch: usize,
    pub poll_interval: Duration,
}

impl ServeArgs {
    /// Resolves flags and environment over the config file over defaults.
    /// Paths in the config file are relative to the file's directory.
    pub fn resolve(self) -> Result<ServeConfig, ServeError> {
        let (file, base) = match &self.config {
            None => (FileConfig::default(), PathBuf::new()),
            Some(path) => (
                read_config(path)?,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
        };
        let at = |what: &str, message: String| {
            ServeError(format!(
                "{}: `{what}`: {message}",
                self.config
                    .as_deref()
                    .unwrap_or(Path::new("config"))
                    .display()
            ))
        };
        let from_file = |path: Option<PathBuf>| path.map(|p| base.join(p));
        let file_policies = file
            .policies
            .iter()
            .map(|text| {
                text.parse::<PolicyArg>()
                    .map(|arg| PolicyArg {
                        path: base.join(&arg.path),
                        ..arg
                    })
                    .map_err(|e| at("policies", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let file_tokens = file
            .tokens
            .iter()
            .map(|text| text.parse::<TokenArg>().map_err(|e| at("tokens", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let file_offset = file
            .default_offset
            .as_deref()
            .map(parse_offset)
            .transpose()
            .map_err(|e| at("default-offset", e))?;
        Ok(ServeConfig {
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: self
                .data_dir
                .or(from_file(file.data_dir))
                .unwrap_or_else(|| PathBuf::from("eligo-data")),
            database_url: self.database_url.or(file.database_url),
            policies: if self.policies.is_empty() {
                file_policies
            } else {
                self.policies
            },
            tokens: if self.tokens.is_empty() {
                file_tokens
            } else {
                self.tokens
            },
            artifact: self.artifact.or(from_file(file.artifact)),
            web_root: self
                .web_root
                .or(from_file(file.web_root))
                .unwrap_or_else(|| PathBuf::from("web-demo/dist")),
            default_offset: self
                .default_offset
                .or(file_offset)
                .unwrap_or_else(|| chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00")),
            max_body_bytes: self
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(1 << 20),
            instances: self.instances.or(file.instances).unwrap_or(4).max(1),
            max_in_flight: self
                .max_in_flight
                .or(file.max_in_flight)
                .unwrap_or(64)
                .max(1),
            max_batch: self.max_batch.or(file.max_batch).unwrap_or(256).max(1),
            poll_interval: Duration::from_millis(
                self.poll_ms.or(file.poll_ms).unwrap_or(1000).max(50),
            ),
        })
    }
}

fn read_config(path: &Path) -> Result<FileConfig, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ServeError(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_column(&text, span.start))
            .unwrap_or((1, 1));
        ServeError(format!(
            "{}:{line}:{column}: {}",
            path.display(),
            e.message()
        ))
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn parse_offset(text: &str) -> Result<chrono::FixedOffset, String> {
    text.parse::<chrono::FixedOffset>()
        .map_err(|e| format!("`{text}` is not a UTC offset like +08:00: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_file_paths_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eligo.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nmax-in-flight = 7\npolicies = [\"r=rules\"]\ndata-dir = \"d\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            max_in_flight: Some(3),
            ..ServeArgs::default()
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.max_in_flight, 3);
        assert_eq!(config.policies[0].path, dir.path().join("rules"));
        assert_eq!(config.data_dir, dir.path().join("d"));
        assert_eq!(config.instances, 4);
    }

    #[test]
    fn a_bad_config_file_is_named_with_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eligo.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nmax-in-fligt = 7\n").unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        };
        let message = args.resolve().unwrap_err().0;
        assert!(message.contains("eligo.toml:2:1"), "{message}");
        assert!(message.contains("max-in-fligt"), "{message}");
    }
}
