//! Re-deciding a stored decision with its exact bundle and artifact, both
//! kept in the store by hash, and proving the answer's bytes are equal.

use std::sync::Arc;

use eligo_core::wire::{DecideRequest, Mode};
use eligo_runtime::wasm::{default_cache_dir, CallLimits, WasmEngine, WasmRuntime};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::receipt::sha256;
use crate::store::AuditStore;

/// What a replay found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    /// The decision replayed.
    pub decision_id: String,
    /// The bundle it was decided (and now re-decided) with.
    pub policy_hash: String,
    /// The artifact it was decided (and now re-decided) in.
    pub artifact_sha256: String,
    /// Whether the new envelope is byte-for-byte the stored one.
    pub identical: bool,
    /// sha256 of the stored envelope (what the receipt signed).
    pub stored_envelope_sha256: String,
    /// sha256 of the envelope just computed.
    pub replayed_envelope_sha256: String,
    /// The JSON paths that differ, when not identical.
    #[schema(value_type = Vec<Object>)]
    pub differences: Vec<eligo_core::diff::Change>,
}

/// Why a replay could not run.
#[derive(Debug)]
pub enum ReplayError {
    /// No decision has that id.
    NotFound(String),
    /// The store lacks the bundle or artifact, or cannot be read.
    Store(String),
    /// The kept bundle or artifact does not load, or the engine failed.
    Engine(String),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::NotFound(m) | ReplayError::Store(m) | ReplayError::Engine(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Replays decision `id`. `current` is an engine already running some
/// artifact: used when it is the decision's, else the kept artifact is
/// compiled.
pub async fn replay(
    store: &AuditStore,
    current: Option<&Arc<WasmEngine>>,
    id: &str,
) -> Result<ReplayReport, ReplayError> {
    let store_error = |e: crate::store::StoreError| ReplayError::Store(e.to_string());
    let record = store
        .decision(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ReplayError::NotFound(format!("no decision `{id}`")))?;
    let packed = store
        .bundle(&record.policy_hash)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ReplayError::Store(format!(
                "the store does not keep bundle {}",
                record.policy_hash
            ))
        })?;
    let files = eligo_core::api::unpack(&packed).map_err(|problems| {
        ReplayError::Engine(format!(
            "kept bundle {} does not unpack: {}",
            record.policy_hash,
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let engine = match current.filter(|e| e.artifact_sha256() == record.artifact_sha256) {
        Some(engine) => Arc::clone(engine),
        None => {
            let artifact = store
                .artifact(&record.artifact_sha256)
                .await
                .map_err(store_error)?
                .ok_or_else(|| {
                    ReplayError::Store(format!(
                        "the store does not keep artifact {}",
                        record.artifact_sha256
                    ))
                })?;
            let engine = tokio::task::spawn_blocking(move || {
                WasmEngine::new(&artifact, default_cache_dir().as_deref())
            })
            .await
            .map_err(|e| ReplayError::Engine(e.to_string()))?
            .map_err(|e| ReplayError::Engine(e.to_string()))?;
            if engine.artifact_sha256() != record.artifact_sha256 {
                return Err(ReplayError::Store(format!(
                    "the kept artifact hashes to {}, not {}",
                    engine.artifact_sha256(),
                    record.artifact_sha256
                )));
            }
            engine
        }
    };
    let stored: Value = serde_json::from_str(&record.envelope)
        .map_err(|e| ReplayError::Store(format!("the stored envelope does not read: {e}")))?;
    let lang = stored
        .get("lang")
        .and_then(Value::as_str)
        .map(str::to_string);
    let input: Box<RawValue> = RawValue::from_string(record.input.clone())
        .map_err(|e| ReplayError::Store(format!("the stored input does not read: {e}")))?;
    let record_for_task = record.clone();
    let replayed = tokio::task::spawn_blocking(move || {
        let limits = CallLimits {
            max_instances: 1,
            ..CallLimits::default()
        };
        let runtime = WasmRuntime::new(engine, &files, limits)?;
        let request = DecideRequest {
            entry: record_for_task.entry.clone(),
            input,
            as_of: record_for_task.as_of.clone(),
            mode: Mode::Strict,
            lang,
        };
        Ok::<_, eligo_runtime::wasm::RuntimeError>(runtime.decide(&request))
    })
    .await
    .map_err(|e| ReplayError::Engine(e.to_string()))?
    .map_err(|e| ReplayError::Engine(e.to_string()))?;
    let replayed = match replayed {
        Ok(envelope) => envelope.into_string(),
        Err(body) => body.to_json(),
    };
    let differences = match serde_json::from_str::<Value>(&replayed) {
        Ok(value) => eligo_core::diff::changes(&stored, &value),
        Err(_) => Vec::new(),
    };
    Ok(ReplayReport {
        decision_id: record.id.clone(),
        policy_hash: record.policy_hash.clone(),
        artifact_sha256: record.artifact_sha256.clone(),
        identical: replayed == record.envelope,
        stored_envelope_sha256: sha256(record.envelope.as_bytes()),
        replayed_envelope_sha256: sha256(replayed.as_bytes()),
        differences,
    })
}
