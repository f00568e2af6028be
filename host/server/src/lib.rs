//! `eligo serve`: authoritative decisions over HTTP.
//!
//! Every decision runs in the wasm artifact under wasmtime, the same bytes a
//! browser runs. An authoritative decision is written to the audit log
//! (group commit) before it is answered, with a signed receipt; previews are
//! not stored; `/v1/verify` recomputes what a browser showed and names the
//! paths that differ.
//!
//! - [`config`]: the flags, environment and config file.
//! - [`auth`]: bearer tokens and roles.
//! - [`state`]: the loaded policies, the one wasm engine, the signer.
//! - [`routes`]: the handlers, thin, over the state.
//! - [`store`]: the audit log (SQLite or PostgreSQL).
//! - [`receipt`]: Ed25519 receipts and their verification.
//! - [`replay`]: re-deciding a stored decision with its kept bundle and artifact.
//! - [`audit_population`]: stored decisions as a population for `eligo impact --audit`.
//! - [`encoded`]: what browsers load by hash, compressed once.
//! - [`metrics`]: Prometheus text.
//! - [`error`]: the one error type every handler returns.

pub mod audit_population;
pub mod auth;
pub mod config;
pub mod encoded;
pub mod error;
pub mod metrics;
pub mod receipt;
pub mod replay;
pub mod routes;
pub mod state;
pub mod store;

use std::sync::Arc;

pub use config::{ServeArgs, ServeConfig};
pub use routes::app;
pub use state::AppState;

/// Why the server could not start or stopped with an error.
#[derive(Debug)]
pub struct ServeError(pub String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Runs the server until Ctrl-C or SIGTERM; in-flight requests finish and
/// every acknowledged record is written before it returns.
pub fn run(args: ServeArgs) -> Result<(), ServeError> {
    let config = args.resolve()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ELIGO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(config))
}

async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    if config.tokens.is_empty() && !config.listen.ip().is_loopback() {
        return Err(ServeError(format!(
            "refusing to listen on {} without authentication: give at least one --token \
             (`eligo token --roles admin` makes one), or listen on loopback",
            config.listen
        )));
    }
    let (state, writer) = AppState::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| ServeError(e.to_string()))?;
    let policies: Vec<String> = state
        .policies()
        .iter()
        .map(|p| format!("{} ({})", p.name, p.hash))
        .collect();
    tracing::info!(
        url = %format!("http://{address}/"),
        audit = state.store().backend(),
        policies = %policies.join(", "),
        artifact = %state.artifact_sha256(),
        "eligo serve is listening"
    );
    if state.tokens().is_empty() {
        tracing::warn!(
            "no --token configured: every route is open, so the server listens on loopback only"
        );
    }
    let watchers = [
        tokio::spawn(poll_publications(Arc::clone(&state))),
        tokio::spawn(reload_on_sighup(Arc::clone(&state))),
    ];
    // Printed on stdout too, for scripts that start the server and wait.
    println!("eligo serve: listening on http://{address}/");
    let app = app(Arc::clone(&state));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| ServeError(format!("the server failed: {e}")))?;
    // The router is gone; dropping the last store handle lets the writer
    // drain its queue and end.
    for watcher in watchers {
        watcher.abort();
        let _ = watcher.await;
    }
    drop(state);
    let _ = writer.await;
    tracing::info!("stopped; every acknowledged decision is written");
    Ok(())
}

/// Applies what other replicas publish, every `poll_interval`.
async fn poll_publications(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(state.config().poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = state.apply_publications().await {
            tracing::warn!("cannot read publications: {error}");
        }
    }
}

/// SIGHUP reads the bundles named on the command line again.
async fn reload_on_sighup(state: Arc<AppState>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading policies from disk");
            state.reload_from_disk("sighup").await;
        }
    }
    #[cfg(not(unix))]
    {
        let _ = state;
        std::future::pending::<()>().await;
    }
}

/// `eligo replay`: re-decides stored decision `id` from the audit log at
/// `data_dir` (SQLite) or `database_url`, without a running server.
pub fn replay_stored(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    id: &str,
) -> Result<replay::ReplayReport, ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        if database_url.is_none() && !data_dir.join("audit.db").is_file() {
            return Err(ServeError(format!(
                "{} has no audit log (audit.db); give --data-dir or --database-url",
                data_dir.display()
            )));
        }
        let (store, writer) = store::AuditStore::open(data_dir, database_url, 1)
            .await
            .map_err(|e| ServeError(e.to_string()))?;
        let report = replay::replay(&store, None, id)
            .await
            .map_err(|e| ServeError(e.to_string()));
        drop(store);
        let _ = writer.await;
        report
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
