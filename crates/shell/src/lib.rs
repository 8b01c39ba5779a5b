//! The process plumbing every CineFlix server binary shares (front end, sequencer, replica manager, replica):
//! structured logs to stderr filtered by `RUST_LOG` (default `warn`), and a future that completes on Ctrl-C or
//! SIGTERM for graceful shutdown.
//!
//! For the two processes that hand each other work all the time (front end and replica), [`busy_poll`] keeps a
//! current-thread runtime polling through short gaps instead of parking.
//!
//! Deliberately not here: anything about what a process does (its config, sockets or protocol).

pub mod busy_poll;

/// Installs the stderr log subscriber: `RUST_LOG` if set, else `warn`. Call once, first thing in `main`.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Completes on Ctrl-C or SIGTERM (Ctrl-C only where SIGTERM cannot be listened for). Needs a tokio runtime.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(error) => tracing::warn!(%error, "cannot listen for SIGTERM; ctrl-c only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
