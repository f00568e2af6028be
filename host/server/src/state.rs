//! What every request shares: the policies served (each a bundle loaded
//! into warm instances of the process's one wasm engine), the audit store,
//! the receipt signer and the limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eligo_core::{api, Bundle};
use eligo_runtime::bundle_dir::read_bundle;
use eligo_runtime::wasm::{default_cache_dir, read_artifact, CallLimits, WasmEngine, WasmRuntime};
use tokio::sync::Semaphore;

use crate::config::{PolicyArg, ServeArgs};
use crate::metrics::Metrics;
use crate::receipt::ReceiptSigner;
use crate::store::{AuditStore, WriterTask};
use crate::ServeError;

/// One bundle being served.
#[derive(Debug)]
pub struct Policy {
    /// The name in `/v1/policies/{name}`.
    pub name: String,
    /// The bundle's hash.
    pub hash: String,
    /// The bundle, natively: for describing it (schemas, parameters).
    pub bundle: Bundle,
    /// The bundle in the artifact's instances: every decision runs here.
    pub runtime: WasmRuntime,
    /// The packed bundle's JSON, served to browsers.
    pub packed: String,
}

/// The server's shared state.
#[derive(Debug)]
pub struct AppState {
    policies: Vec<Arc<Policy>>,
    store: AuditStore,
    signer: ReceiptSigner,
    permits: Arc<Semaphore>,
    artifact: Arc<Vec<u8>>,
    artifact_sha256: String,
    package_dir: PathBuf,
    default_offset: chrono::FixedOffset,
    max_body_bytes: usize,
    web_root: PathBuf,
    max_in_flight: usize,
    metrics: Metrics,
}

/// The default policies when none are given: the default bundle and its
/// quarterly-visits variant, from the working directory.
fn default_policies() -> Vec<PolicyArg> {
    vec![
        PolicyArg {
            name: Some("default".into()),
            path: PathBuf::from("rules"),
        },
        PolicyArg {
            name: Some("quarterly".into()),
            path: PathBuf::from("rules/variants/quarterly"),
        },
    ]
}

fn load_policy(
    arg: &PolicyArg,
    engine: &Arc<WasmEngine>,
    limits: CallLimits,
) -> Result<Policy, ServeError> {
    let files = read_bundle(&arg.path)
        .map_err(|e| ServeError(format!("policy {}: {e}", arg.path.display())))?;
    let bundle = Bundle::load(files).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        ServeError(format!(
            "policy {} does not load:\n{}",
            arg.path.display(),
            lines.join("\n")
        ))
    })?;
    let report = api::test(&bundle);
    if !report.all_passed() {
        return Err(ServeError(format!(
            "policy {}: {} of its own test cases fail (run `eligo test {}`)",
            arg.path.display(),
            report.failed,
            arg.path.display()
        )));
    }
    let runtime = WasmRuntime::new(Arc::clone(engine), bundle.files(), limits)
        .map_err(|e| ServeError(format!("policy {}: {e}", arg.path.display())))?;
    Ok(Policy {
        name: arg
            .name
            .clone()
            .unwrap_or_else(|| bundle.name().to_string()),
        hash: bundle.hash().to_string(),
        packed: api::pack_json(&bundle),
        bundle,
        runtime,
    })
}

/// Now, for `received_at`: UTC, RFC 3339, microseconds.
pub fn now_utc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl AppState {
    /// Loads the artifact and every policy (each must load and pass its
    /// own tests), opens the audit store and the signing key.
    pub async fn open(args: &ServeArgs) -> Result<(Arc<AppState>, WriterTask), ServeError> {
        std::fs::create_dir_all(&args.data_dir)
            .map_err(|e| ServeError(format!("cannot create {}: {e}", args.data_dir.display())))?;
        let (artifact_path, artifact) =
            read_artifact(args.artifact.as_deref()).map_err(|e| ServeError(e.to_string()))?;
        let cache = default_cache_dir();
        let engine =
            WasmEngine::new(&artifact, cache.as_deref()).map_err(|e| ServeError(e.to_string()))?;
        let limits = CallLimits {
            max_instances: args.instances.max(1),
            ..CallLimits::default()
        };
        let args_policies = if args.policies.is_empty() {
            default_policies()
        } else {
            args.policies.clone()
        };
        let mut policies = Vec::new();
        for arg in &args_policies {
            let policy = load_policy(arg, &engine, limits)?;
            if policies.iter().any(|p: &Arc<Policy>| p.name == policy.name) {
                return Err(ServeError(format!(
                    "two policies are named `{}`; name them with NAME=PATH",
                    policy.name
                )));
            }
            policies.push(Arc::new(policy));
        }
        let (store, writer) =
            AuditStore::open(&args.data_dir, args.database_url.as_deref(), args.max_batch)
                .await
                .map_err(|e| ServeError(e.to_string()))?;
        let now = now_utc();
        store
            .keep_artifact(engine.artifact_sha256(), &artifact, &now)
            .await
            .map_err(|e| ServeError(e.to_string()))?;
        for policy in &policies {
            store
                .keep_bundle(
                    &policy.hash,
                    policy.bundle.name(),
                    policy.bundle.version(),
                    &policy.packed,
                    &now,
                )
                .await
                .map_err(|e| ServeError(e.to_string()))?;
        }
        let signer = ReceiptSigner::open(&args.data_dir)
            .map_err(|e| ServeError(format!("receipt key in {}: {e}", args.data_dir.display())))?;
        let state = AppState {
            policies,
            store,
            signer,
            permits: Arc::new(Semaphore::new(args.max_in_flight.max(1))),
            artifact_sha256: engine.artifact_sha256().to_string(),
            artifact: Arc::new(artifact),
            package_dir: artifact_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            default_offset: args.default_offset,
            max_body_bytes: args.max_body_bytes,
            web_root: args.web_root.clone(),
            max_in_flight: args.max_in_flight.max(1),
            metrics: Metrics::default(),
        };
        Ok((Arc::new(state), writer))
    }

    /// Every policy served; the first is the default.
    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    /// The policy named `name`, or the default.
    pub fn policy(&self, name: Option<&str>) -> Option<&Arc<Policy>> {
        match name {
            None => self.policies.first(),
            Some(name) => self.policies.iter().find(|p| p.name == name),
        }
    }

    /// The audit store.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// The receipt signer.
    pub fn signer(&self) -> &ReceiptSigner {
        &self.signer
    }

    /// Permits for requests that decide; none left means 503.
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    /// The artifact's bytes.
    pub fn artifact(&self) -> &[u8] {
        &self.artifact
    }

    /// `sha256:<hex>` of the artifact.
    pub fn artifact_sha256(&self) -> &str {
        &self.artifact_sha256
    }

    /// The directory of the artifact's JS package (glue and typed API).
    pub fn package_dir(&self) -> &Path {
        &self.package_dir
    }

    /// The offset of a defaulted `as_of`.
    pub fn default_offset(&self) -> chrono::FixedOffset {
        self.default_offset
    }

    /// Largest request body.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The web page's directory.
    pub fn web_root(&self) -> &Path {
        &self.web_root
    }

    /// Most requests deciding at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Counters for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
