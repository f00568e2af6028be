//! `eligo replay`: re-decide a stored decision with the exact bundle and
//! artifact it was decided with, and prove the bytes are equal.

use std::path::PathBuf;

use super::{out, CommandResult, Failure};

/// `eligo replay` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The decision's id.
    id: String,
    /// The server's data directory (its SQLite audit log).
    #[arg(long, env = "ELIGO_DATA_DIR", default_value = "eligo-data")]
    data_dir: PathBuf,
    /// The PostgreSQL audit log instead.
    #[arg(long, env = "ELIGO_DATABASE_URL")]
    database_url: Option<String>,
}

pub fn run(args: &Args) -> CommandResult {
    let report =
        eligo_server::replay_stored(&args.data_dir, args.database_url.as_deref(), &args.id)
            .map_err(|e| Failure::failed(e.to_string()))?;
    out!(
        "{}",
        serde_json::to_string_pretty(&report).expect("a report serialises")
    );
    if report.identical {
        eprintln!(
            "identical: decision {} re-decided with {} in {} gives the stored bytes ({})",
            report.decision_id,
            report.policy_hash,
            report.artifact_sha256,
            report.stored_envelope_sha256
        );
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "decision {} re-decided differently: {} paths differ",
            report.decision_id,
            report.differences.len()
        )))
    }
}
