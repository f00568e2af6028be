//! `eligo serve`: authoritative decisions over HTTP.
//!
//! Every decision runs in the wasm artifact under wasmtime, the same bytes a
//! browser runs. An authoritative decision is written to the audit log
//! (group commit) before it is answered, with a signed receipt; previews are
//! not stored; `/v1/verify` recomputes what a browser showed and names the
//! paths that differ.
//!
//! - [`config`]: the flags.
//! - [`state`]: the loaded policies, the one wasm engine, the signer.
//! - [`routes`]: the handlers, thin, over the state.
//! - [`store`]: the audit log (SQLite or PostgreSQL).
//! - [`receipt`]: Ed25519 receipts and their verification.
//! - [`metrics`]: Prometheus text.
//! - [`error`]: the one error type every handler returns.

pub mod config;
pub mod error;
pub mod metrics;
pub mod receipt;
pub mod routes;
pub mod state;
pub mod store;

use std::sync::Arc;

pub use config::ServeArgs;
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
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let (state, writer) = AppState::open(&args).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| ServeError(format!("cannot listen on {}: {e}", args.listen)))?;
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
    if !address.ip().is_loopback() {
        tracing::warn!("listening beyond loopback: put it behind authentication");
    }
    // Printed on stdout too, for scripts that start the server and wait.
    println!("eligo serve: listening on http://{address}/");
    let app = app(Arc::clone(&state));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| ServeError(format!("the server failed: {e}")))?;
    // The router is gone; dropping the last store handle lets the writer
    // drain its queue and end.
    drop(state);
    let _ = writer.await;
    tracing::info!("stopped; every acknowledged decision is written");
    Ok(())
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
