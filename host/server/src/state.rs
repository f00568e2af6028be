//! What every request shares: the policies served (each a bundle loaded
//! into warm instances of the process's one wasm engine), the audit store,
//! the receipt signer, the tokens and the limits.
//!
//! The set of policies is swapped whole, atomically: a request takes the
//! set (an `Arc`) once, so an in-flight request finishes on the policy it
//! started with while a publication or reload installs the next one.
//!
//! Which bundle a name serves is recorded as a publication in the store.
//! At start, a bundle read from disk wins when it changed since it was last
//! read from disk; otherwise the latest publication wins (a policy
//! published through the API survives restarts, and two replicas started
//! from the same files agree). Every replica applies publications made by
//! the others (see [`AppState::apply_publications`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use eligo_core::wire::{ErrorBody, ErrorKind};
use eligo_core::{api, Bundle, BundleFiles};
use eligo_runtime::bundle_dir::read_bundle;
use eligo_runtime::wasm::{default_cache_dir, read_artifact, CallLimits, WasmEngine, WasmRuntime};
use tokio::sync::Semaphore;

use crate::auth::TokenArg;
use crate::config::{PolicyArg, ServeConfig};
use crate::encoded::Encoded;
use crate::metrics::Metrics;
use crate::receipt::ReceiptSigner;
use crate::store::{AuditStore, Publication, WriterTask};
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
    /// The packed bundle's JSON, stored with each publication.
    pub packed: String,
    /// The same JSON with its compressed forms, served to browsers.
    pub packed_body: Encoded,
    /// Where it came from: `disk:<path>` or `api`.
    pub source: String,
}

/// A policy read from disk: its served name, path, and the hash it had
/// when last read (a reload publishes it only when that changed).
#[derive(Debug, Clone)]
struct DiskPolicy {
    name: String,
    path: PathBuf,
    last_hash: String,
}

/// What a reload did for one policy read from disk.
#[derive(Debug)]
pub enum Reloaded {
    /// The files are as last read: nothing published.
    Unchanged(String),
    /// The files changed and the new bundle now serves.
    Published(String),
    /// The files changed but the bundle was refused; the old one serves.
    Refused(Refused),
}

/// The policies served, in order; the first is the default.
pub type PolicySet = Arc<Vec<Arc<Policy>>>;

/// The server's shared state.
#[derive(Debug)]
pub struct AppState {
    policies: RwLock<PolicySet>,
    /// The bundles named on the command line: what a reload reads again.
    disk: std::sync::Mutex<Vec<DiskPolicy>>,
    engine: Arc<WasmEngine>,
    limits: CallLimits,
    /// One publication at a time in this process.
    publishing: tokio::sync::Mutex<()>,
    /// The last publication applied.
    seen_seq: AtomicI64,
    store: AuditStore,
    signer: ReceiptSigner,
    tokens: Vec<TokenArg>,
    permits: Arc<Semaphore>,
    /// The artifact, with the `br` and `gzip` encodings made at build time,
    /// each checked to decompress to exactly the artifact's bytes.
    artifact: Encoded,
    /// The artifact's JS package (glue, typed API), by file name.
    package: Vec<(&'static str, Encoded)>,
    config: ServeConfig,
    metrics: Metrics,
}

/// Why a bundle was not installed: an error body for the API (with the
/// diagnostics, or the failing tests).
#[derive(Debug)]
pub struct Refused(pub ErrorBody);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
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

/// Loads `files` as policy `name`: the bundle must load and pass every one
/// of its own test cases, natively and then in the artifact.
fn build_policy(
    name: &str,
    files: BundleFiles,
    source: String,
    engine: &Arc<WasmEngine>,
    limits: CallLimits,
) -> Result<Policy, Refused> {
    let bundle = Bundle::load(files).map_err(|problems| {
        let mut body = ErrorBody::new(
            ErrorKind::BundleError,
            format!("the bundle for `{name}` does not load"),
        );
        body.diagnostics = problems;
        Refused(body)
    })?;
    // Loaded with its tests just above, so never refused.
    let report = api::test(&bundle).map_err(Refused)?;
    if !report.all_passed() {
        let failing: Vec<String> = report
            .cases
            .iter()
            .filter(|case| !case.passed)
            .map(|case| case.name.clone())
            .collect();
        return Err(Refused(ErrorBody::new(
            ErrorKind::BundleError,
            format!(
                "{} of the bundle's {} test cases fail: {}",
                report.failed,
                report.cases.len(),
                failing.join(", ")
            ),
        )));
    }
    let runtime = WasmRuntime::new(Arc::clone(engine), bundle.files(), limits)
        .map_err(|e| Refused(e.body()))?;
    let packed = api::pack_json(&bundle);
    Ok(Policy {
        name: name.to_string(),
        hash: bundle.hash().to_string(),
        packed_body: Encoded::compress(packed.clone().into_bytes()),
        packed,
        bundle,
        runtime,
        source,
    })
}

fn read_disk(path: &Path) -> Result<BundleFiles, Refused> {
    read_bundle(path).map_err(|e| {
        Refused(ErrorBody::new(
            ErrorKind::BundleError,
            format!("policy {}: {e}", path.display()),
        ))
    })
}

/// Now, for `received_at`: UTC, RFC 3339, microseconds.
pub fn now_utc() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn store_error(error: crate::store::StoreError) -> ServeError {
    ServeError(error.to_string())
}

impl AppState {
    /// Loads the artifact and every policy (each must load and pass its
    /// own tests), opens the audit store and the signing key.
    pub async fn open(config: &ServeConfig) -> Result<(Arc<AppState>, WriterTask), ServeError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| ServeError(format!("cannot create {}: {e}", config.data_dir.display())))?;
        let (artifact_path, artifact) =
            read_artifact(config.artifact.as_deref()).map_err(|e| ServeError(e.to_string()))?;
        let engine = WasmEngine::new(&artifact, default_cache_dir().as_deref())
            .map_err(|e| ServeError(e.to_string()))?;
        let limits = CallLimits {
            max_instances: config.instances,
            ..CallLimits::default()
        };
        let (store, writer) = AuditStore::open(
            &config.data_dir,
            config.database_url.as_deref(),
            config.max_batch,
        )
        .await
        .map_err(store_error)?;
        let now = now_utc();
        store
            .keep_artifact(engine.artifact_sha256(), &artifact, &now)
            .await
            .map_err(store_error)?;
        let args = if config.policies.is_empty() {
            default_policies()
        } else {
            config.policies.clone()
        };
        let publications = store.publications_after(0).await.map_err(store_error)?;
        let mut policies: Vec<Arc<Policy>> = Vec::new();
        let mut disk = Vec::new();
        for arg in &args {
            let files = read_disk(&arg.path).map_err(|e| ServeError(e.to_string()))?;
            let source = format!("disk:{}", arg.path.display());
            let name = match &arg.name {
                Some(name) => name.clone(),
                None => Bundle::load(files.clone())
                    .map(|b| b.name().to_string())
                    .unwrap_or_default(),
            };
            let from_disk = build_policy(&name, files, source.clone(), &engine, limits)
                .map_err(|e| ServeError(format!("policy {}: {e}", arg.path.display())))?;
            if policies.iter().any(|p| p.name == name) {
                return Err(ServeError(format!(
                    "two policies are named `{name}`; name them with NAME=PATH"
                )));
            }
            let disk_hash = from_disk.hash.clone();
            let latest = publications.iter().rev().find(|p| p.name == name);
            let last_disk = publications
                .iter()
                .rev()
                .find(|p| p.name == name && p.source.starts_with("disk:"));
            // The published bundle stays when the files are as last read.
            let published = latest.filter(|latest| {
                latest.hash != from_disk.hash && last_disk.is_some_and(|d| d.hash == from_disk.hash)
            });
            let policy = if let Some(latest) = published {
                tracing::info!(
                    policy = %name, hash = %latest.hash, published_at = %latest.at,
                    "serving the published bundle; {} is unchanged since it was last read (reload to serve it)",
                    arg.path.display()
                );
                load_published(&store, latest, &engine, limits).await?
            } else {
                store
                    .keep_bundle(
                        &from_disk.hash,
                        from_disk.bundle.name(),
                        from_disk.bundle.version(),
                        &from_disk.packed,
                        &now,
                    )
                    .await
                    .map_err(store_error)?;
                if latest.is_none_or(|latest| latest.hash != from_disk.hash) {
                    store
                        .publish(&name, &from_disk.hash, &source, "startup", &now)
                        .await
                        .map_err(store_error)?;
                }
                from_disk
            };
            disk.push(DiskPolicy {
                name,
                path: arg.path.clone(),
                last_hash: disk_hash,
            });
            policies.push(Arc::new(policy));
        }
        // Names published through the API and not on the command line.
        let mut others: Vec<&Publication> = Vec::new();
        for publication in publications.iter().rev() {
            if !policies.iter().any(|p| p.name == publication.name)
                && !others.iter().any(|p| p.name == publication.name)
            {
                others.push(publication);
            }
        }
        others.sort_by(|a, b| a.name.cmp(&b.name));
        for publication in others {
            policies.push(Arc::new(
                load_published(&store, publication, &engine, limits).await?,
            ));
        }
        let seen = store
            .publications_after(0)
            .await
            .map_err(store_error)?
            .last()
            .map_or(0, |p| p.seq);
        let signer = ReceiptSigner::open(&config.data_dir).map_err(|e| {
            ServeError(format!("receipt key in {}: {e}", config.data_dir.display()))
        })?;
        let artifact_encodings = precompressed(&artifact_path, &artifact);
        let state = AppState {
            policies: RwLock::new(Arc::new(policies)),
            disk: std::sync::Mutex::new(disk),
            engine,
            limits,
            publishing: tokio::sync::Mutex::new(()),
            seen_seq: AtomicI64::new(seen),
            store,
            signer,
            tokens: config.tokens.clone(),
            permits: Arc::new(Semaphore::new(config.max_in_flight)),
            package: read_package(artifact_path.parent().unwrap_or(Path::new(""))),
            artifact: Encoded::with_encodings(artifact, artifact_encodings),
            config: config.clone(),
            metrics: Metrics::default(),
        };
        Ok((Arc::new(state), writer))
    }

    /// Every policy served; the first is the default. The set is a
    /// snapshot: a publication after this call does not change it.
    pub fn policies(&self) -> PolicySet {
        // A poisoned lock still holds a whole set: swaps replace it in one step.
        Arc::clone(&self.policies.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The policy named `name`, or the default.
    pub fn policy(&self, name: Option<&str>) -> Option<Arc<Policy>> {
        let set = self.policies();
        match name {
            None => set.first().cloned(),
            Some(name) => set.iter().find(|p| p.name == name).cloned(),
        }
    }

    /// Installs `policy` under its name (replacing or adding), atomically.
    fn install(&self, policy: Arc<Policy>) {
        let mut guard = self.policies.write().unwrap_or_else(|p| p.into_inner());
        let mut next: Vec<Arc<Policy>> = guard.as_ref().clone();
        match next.iter_mut().find(|p| p.name == policy.name) {
            Some(slot) => *slot = policy,
            None => next.push(policy),
        }
        *guard = Arc::new(next);
        self.metrics.reloaded();
    }

    /// Loads, checks and tests `files`, keeps the bundle, records the
    /// publication and swaps it in. A refused bundle changes nothing.
    pub async fn publish(
        self: &Arc<Self>,
        name: &str,
        files: BundleFiles,
        source: String,
        by: &str,
    ) -> Result<Arc<Policy>, Refused> {
        let _one_at_a_time = self.publishing.lock().await;
        let state = Arc::clone(self);
        let owned_name = name.to_string();
        let policy = tokio::task::spawn_blocking(move || {
            build_policy(&owned_name, files, source, &state.engine, state.limits)
        })
        .await
        .map_err(|e| Refused(ErrorBody::new(ErrorKind::HostError, e.to_string())))??;
        let now = now_utc();
        let stored = async {
            self.store
                .keep_bundle(
                    &policy.hash,
                    policy.bundle.name(),
                    policy.bundle.version(),
                    &policy.packed,
                    &now,
                )
                .await?;
            self.store
                .publish(name, &policy.hash, &policy.source, by, &now)
                .await
        }
        .await
        .map_err(|e| Refused(ErrorBody::new(ErrorKind::HostError, e.to_string())))?;
        let policy = Arc::new(policy);
        self.install(Arc::clone(&policy));
        self.seen_seq.fetch_max(stored, Ordering::SeqCst);
        tracing::info!(policy = %name, hash = %policy.hash, by, "published");
        Ok(policy)
    }

    /// Reads every bundle named on the command line again and publishes
    /// those whose files changed since they were last read (a policy
    /// published through the API is not undone by an unchanged file).
    pub async fn reload_from_disk(self: &Arc<Self>, by: &str) -> Vec<(String, Reloaded)> {
        let disk = self.disk.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut outcomes = Vec::new();
        for policy in disk {
            let outcome = match read_disk(&policy.path) {
                Err(refused) => Reloaded::Refused(refused),
                Ok(files) if files.hash() == policy.last_hash => Reloaded::Unchanged(files.hash()),
                Ok(files) => {
                    let source = format!("disk:{}", policy.path.display());
                    match self.publish(&policy.name, files, source, by).await {
                        Ok(published) => {
                            let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
                            if let Some(entry) = disk.iter_mut().find(|d| d.name == policy.name) {
                                entry.last_hash = published.hash.clone();
                            }
                            Reloaded::Published(published.hash.clone())
                        }
                        Err(refused) => Reloaded::Refused(refused),
                    }
                }
            };
            if let Reloaded::Refused(refused) = &outcome {
                tracing::warn!(policy = %policy.name, "reload refused; the old bundle keeps serving: {refused}");
            }
            outcomes.push((policy.name, outcome));
        }
        outcomes
    }

    /// Applies publications other replicas made since the last one seen.
    pub async fn apply_publications(self: &Arc<Self>) -> Result<usize, String> {
        let after = self.seen_seq.load(Ordering::SeqCst);
        let publications = self
            .store
            .publications_after(after)
            .await
            .map_err(|e| e.to_string())?;
        let mut applied = 0;
        for publication in publications {
            let served = self.policy(Some(&publication.name));
            if served.is_none_or(|p| p.hash != publication.hash) {
                let _one_at_a_time = self.publishing.lock().await;
                match load_published(&self.store, &publication, &self.engine, self.limits).await {
                    Ok(policy) => {
                        tracing::info!(policy = %publication.name, hash = %publication.hash, by = %publication.by, "picked up a publication");
                        self.install(Arc::new(policy));
                        applied += 1;
                    }
                    Err(error) => {
                        tracing::error!(policy = %publication.name, "cannot apply a publication: {error}")
                    }
                }
            }
            self.seen_seq.fetch_max(publication.seq, Ordering::SeqCst);
        }
        Ok(applied)
    }

    /// The audit store.
    pub fn store(&self) -> &AuditStore {
        &self.store
    }

    /// The receipt signer.
    pub fn signer(&self) -> &ReceiptSigner {
        &self.signer
    }

    /// The configured tokens; none means an open, loopback-only server.
    pub fn tokens(&self) -> &[TokenArg] {
        &self.tokens
    }

    /// Permits for requests that decide; none left means 503.
    pub fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    /// The process's wasm engine.
    pub fn engine(&self) -> &Arc<WasmEngine> {
        &self.engine
    }

    /// The per-call limits every runtime uses.
    pub fn limits(&self) -> CallLimits {
        self.limits
    }

    /// The artifact, with its build-time encodings.
    pub fn artifact(&self) -> &Encoded {
        &self.artifact
    }

    /// `sha256:<hex>` of the artifact.
    pub fn artifact_sha256(&self) -> &str {
        self.engine.artifact_sha256()
    }

    /// A file of the artifact's JS package, if the build made it.
    pub fn package_file(&self, name: &str) -> Option<&Encoded> {
        self.package
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, body)| body)
    }

    /// The resolved settings.
    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// Counters for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The files of the artifact's JS package that `/engine/{sha}/{file}`
/// serves, read and compressed once (a file the build did not make is not
/// served).
fn read_package(dir: &Path) -> Vec<(&'static str, Encoded)> {
    ["index.js", "eligo.js", "index.d.ts", "eligo.d.ts"]
        .into_iter()
        .filter_map(|name| Some((name, Encoded::compress(std::fs::read(dir.join(name)).ok()?))))
        .collect()
}

/// The build's `.br` and `.gz` beside the artifact, each used only if it
/// decompresses to exactly the artifact (a stale one is ignored).
fn precompressed(artifact_path: &Path, artifact: &[u8]) -> Vec<(&'static str, Bytes)> {
    use std::io::Read;
    let mut found = Vec::new();
    for (encoding, extension) in [("br", "br"), ("gzip", "gz")] {
        let path = artifact_path.with_extension(format!("wasm.{extension}"));
        let Ok(encoded) = std::fs::read(&path) else {
            continue;
        };
        let mut decoded = Vec::with_capacity(artifact.len());
        let read = match encoding {
            "br" => brotli_decompressor::Decompressor::new(encoded.as_slice(), 1 << 16)
                .take(artifact.len() as u64 + 1)
                .read_to_end(&mut decoded),
            _ => flate2::read::GzDecoder::new(encoded.as_slice())
                .take(artifact.len() as u64 + 1)
                .read_to_end(&mut decoded),
        };
        if read.is_ok() && decoded == artifact {
            found.push((encoding, Bytes::from(encoded)));
        } else {
            tracing::warn!(path = %path.display(), "ignored: it is not this artifact compressed");
        }
    }
    found
}

/// The bundle a publication names, from the store, loaded and tested.
async fn load_published(
    store: &AuditStore,
    publication: &Publication,
    engine: &Arc<WasmEngine>,
    limits: CallLimits,
) -> Result<Policy, ServeError> {
    let packed = store
        .bundle(&publication.hash)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            ServeError(format!(
                "publication {} names bundle {}, which the store does not have",
                publication.seq, publication.hash
            ))
        })?;
    let files = api::unpack(&packed).map_err(|problems| {
        ServeError(format!(
            "the stored bundle {} does not unpack: {}",
            publication.hash,
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let name = publication.name.clone();
    let source = publication.source.clone();
    let engine = Arc::clone(engine);
    tokio::task::spawn_blocking(move || build_policy(&name, files, source, &engine, limits))
        .await
        .map_err(|e| ServeError(e.to_string()))?
        .map_err(|e| ServeError(format!("publication {}: {e}", publication.seq)))
}
