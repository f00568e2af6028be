//! Signed receipts: an Ed25519 signature over the hashes of a decision's
//! input, policy, artifact, `as_of` and envelope, so anyone holding the
//! server's public key can check, offline, that the server decided exactly
//! this.
//!
//! The signed message is the receipt's own JSON without `signature`, fields
//! in the order declared here.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The receipt format.
pub const RECEIPT_FORMAT: &str = "eligo-receipt/1";

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What a receipt attests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The decision's id in the audit log.
    pub decision_id: String,
    /// Which key signed: `ed25519:<hex of the public key>`.
    pub key_id: String,
    /// sha256 of the input's canonical JSON (keys sorted, numbers as sent).
    pub input_sha256: String,
    /// The bundle's hash.
    pub policy_hash: String,
    /// sha256 of the wasm artifact that decided.
    pub artifact_sha256: String,
    /// The moment decided for.
    pub as_of: String,
    /// sha256 of the envelope's JSON text.
    pub envelope_sha256: String,
}

/// An attestation and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// What is attested.
    #[serde(flatten)]
    pub attestation: Attestation,
    /// Ed25519 over the attestation's JSON, hex.
    pub signature: String,
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptError {
    /// Not a receipt, or signed by another key.
    Malformed(String),
    /// The signature does not match what the receipt says.
    BadSignature,
    /// A hash in the receipt differs from the decision's.
    Mismatch(&'static str),
}

impl std::fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceiptError::Malformed(why) => write!(f, "not a valid receipt: {why}"),
            ReceiptError::BadSignature => {
                write!(f, "the signature does not match the receipt's contents")
            }
            ReceiptError::Mismatch(field) => {
                write!(f, "the receipt's {field} differs from the decision's")
            }
        }
    }
}

impl std::error::Error for ReceiptError {}

/// The server's signing key.
pub struct ReceiptSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The public half of a key as its id: `ed25519:<hex>`.
pub fn key_id(key: &VerifyingKey) -> String {
    format!("ed25519:{}", hex::encode(key.as_bytes()))
}

impl ReceiptSigner {
    /// The key in `dir/receipt-key.hex`, generated there (readable by this
    /// user only) on first start.
    pub fn open(dir: &Path) -> std::io::Result<ReceiptSigner> {
        let path = dir.join("receipt-key.hex");
        let seed = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim()).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: not a 32-byte key", path.display()),
                    )
                })?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
                write_private(&path, &hex::encode(seed))?;
                seed
            }
            Err(error) => return Err(error),
        };
        Ok(ReceiptSigner::from_seed(seed))
    }

    /// A signer from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> ReceiptSigner {
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(&key.verifying_key());
        ReceiptSigner { key, key_id }
    }

    /// `ed25519:<hex>` of the public key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs an attestation (its `key_id` is set to this key's).
    pub fn sign(&self, mut attestation: Attestation) -> Receipt {
        attestation.key_id = self.key_id.clone();
        let message = serde_json::to_vec(&attestation).expect("an attestation serialises");
        let signature = self.key.sign(&message);
        Receipt {
            attestation,
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Checks a receipt's signature against `key` (the receipt must name it).
pub fn verify(receipt: &Receipt, key: &VerifyingKey) -> Result<(), ReceiptError> {
    if receipt.attestation.format != RECEIPT_FORMAT {
        return Err(ReceiptError::Malformed(format!(
            "format `{}`, expected `{RECEIPT_FORMAT}`",
            receipt.attestation.format
        )));
    }
    if receipt.attestation.key_id != key_id(key) {
        return Err(ReceiptError::Malformed(format!(
            "signed by {}, not by {}",
            receipt.attestation.key_id,
            key_id(key)
        )));
    }
    let bytes = hex::decode(&receipt.signature)
        .map_err(|e| ReceiptError::Malformed(format!("signature: {e}")))?;
    let signature = Signature::from_slice(&bytes)
        .map_err(|e| ReceiptError::Malformed(format!("signature: {e}")))?;
    let message = serde_json::to_vec(&receipt.attestation).expect("an attestation serialises");
    key.verify(&message, &signature)
        .map_err(|_| ReceiptError::BadSignature)
}

/// Checks a receipt and that it attests exactly this input and envelope.
pub fn verify_decision(
    receipt: &Receipt,
    key: &VerifyingKey,
    input: &serde_json::Value,
    envelope_json: &str,
) -> Result<(), ReceiptError> {
    verify(receipt, key)?;
    if receipt.attestation.input_sha256 != sha256(input.to_string().as_bytes()) {
        return Err(ReceiptError::Mismatch("input_sha256"));
    }
    if receipt.attestation.envelope_sha256 != sha256(envelope_json.as_bytes()) {
        return Err(ReceiptError::Mismatch("envelope_sha256"));
    }
    Ok(())
}

/// A public key from `ed25519:<hex>` or plain hex.
pub fn parse_key(text: &str) -> Result<VerifyingKey, ReceiptError> {
    let hex_text = text.trim().trim_start_matches("ed25519:");
    let bytes = hex::decode(hex_text).map_err(|e| ReceiptError::Malformed(format!("key: {e}")))?;
    let bytes = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| ReceiptError::Malformed("key: not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| ReceiptError::Malformed(format!("key: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attestation() -> Attestation {
        Attestation {
            format: RECEIPT_FORMAT.into(),
            decision_id: "d1".into(),
            key_id: String::new(),
            input_sha256: sha256(b"{\"a\":1}"),
            policy_hash: "sha256:p".into(),
            artifact_sha256: "sha256:a".into(),
            as_of: "2026-11-20T09:00:00+08:00".into(),
            envelope_sha256: sha256(b"{}"),
        }
    }

    #[test]
    fn a_signed_receipt_verifies_and_any_change_breaks_it() {
        let signer = ReceiptSigner::from_seed([7; 32]);
        let receipt = signer.sign(attestation());
        let key = parse_key(signer.key_id()).unwrap();
        verify(&receipt, &key).unwrap();
        let input: serde_json::Value = serde_json::from_str("{\"a\":1}").unwrap();
        verify_decision(&receipt, &key, &input, "{}").unwrap();
        assert_eq!(
            verify_decision(&receipt, &key, &input, "{ }"),
            Err(ReceiptError::Mismatch("envelope_sha256"))
        );
        let mut changed = receipt.clone();
        changed.attestation.as_of = "2026-11-21T09:00:00+08:00".into();
        assert_eq!(verify(&changed, &key), Err(ReceiptError::BadSignature));
        let other = ReceiptSigner::from_seed([8; 32]).verifying_key();
        assert!(matches!(
            verify(&receipt, &other),
            Err(ReceiptError::Malformed(_))
        ));
        // The wire form reads back to the same receipt.
        let text = serde_json::to_string(&receipt).unwrap();
        assert_eq!(serde_json::from_str::<Receipt>(&text).unwrap(), receipt);
    }

    #[test]
    fn the_key_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("eligo-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let first = ReceiptSigner::open(&dir).unwrap();
        let second = ReceiptSigner::open(&dir).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
