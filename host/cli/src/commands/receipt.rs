//! `eligo receipt verify`: check a decision's signed receipt offline.

use std::path::PathBuf;

use eligo_server::receipt::{self, Receipt};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The parts of a decision answer or record a receipt is checked against.
#[derive(Deserialize)]
struct DecisionFile<'a> {
    /// The envelope's exact bytes: their hash is what was signed.
    #[serde(borrow)]
    envelope: &'a RawValue,
    receipt: Receipt,
    input: Option<Value>,
}

use super::{CommandResult, Failure};

/// `eligo receipt` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Check a receipt's signature, and that it attests the decision's
    /// envelope (and input, when the file has it): the answer of
    /// `POST /v1/decisions/…` or the record from `GET /v1/decisions/{id}`.
    Verify {
        /// The server's public key, `ed25519:<hex>` (from `GET /v1/keys`).
        #[arg(long)]
        key: String,
        /// The decision JSON file, or - for standard input.
        decision: PathBuf,
    },
}

pub fn run(args: &Args) -> CommandResult {
    let Args::Verify { key, decision } = args;
    let text = if decision.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(decision)
    }
    .map_err(|e| Failure::Io(format!("cannot read {}: {e}", decision.display())))?;
    let file: DecisionFile = serde_json::from_str(&text).map_err(|e| {
        Failure::failed(format!(
            "{} is not a decision with an envelope and a receipt: {e}",
            decision.display()
        ))
    })?;
    let receipt = file.receipt;
    let key = receipt::parse_key(key).map_err(|e| Failure::Usage(e.to_string()))?;
    let envelope = file.envelope.get();
    let checked = match &file.input {
        Some(input) => receipt::verify_decision(&receipt, &key, input, envelope),
        None => receipt::verify(&receipt, &key).and_then(|()| {
            if receipt.attestation.envelope_sha256 == receipt::sha256(envelope.as_bytes()) {
                Ok(())
            } else {
                Err(receipt::ReceiptError::Mismatch("envelope_sha256"))
            }
        }),
    };
    checked.map_err(|e| Failure::failed(e.to_string()))?;
    println!(
        "ok: decision {} by {} ({}), signed by {}",
        receipt.attestation.decision_id,
        receipt.attestation.policy_hash,
        receipt.attestation.artifact_sha256,
        receipt.attestation.key_id
    );
    Ok(())
}
