//! The CineFlix SOAP front end: the only component clients talk to.
//!
//! ```text
//!  client ──HTTP/1.1──▶ server (one task per connection) ──▶ routes (WSDL | SOAP | HTTP errors)
//!                                                              │ soap::parse_request
//!                                                              ▼
//!                                                           Backend::execute ──UDP──▶ replica(s)
//! ```
//!
//! - [`server`]: hyper HTTP/1.1 listener and per-connection handlers (connection limit, header timeout, graceful
//!   shutdown), shaped like mini-redis's `server.rs`.
//! - [`routes`]: what one HTTP request gets; the one place that turns a [`BackendError`] into a SOAP fault.
//! - [`backend`]: the [`Backend`] seam between HTTP and execution.
//! - [`standalone`]: the backend of standalone mode, a single driver task talking go-back-N to one replica.
//! - [`replicated`]: the backend of replicated mode: sequencer, n replicas, vote.
//! - [`logging`]: the log file.
//!
//! The front end deliberately parses no XML itself (the `soap` crate does) and computes no booking rule (replicas
//! do); it owns sockets, timers and the job queue, nothing else.

pub mod backend;
pub mod logging;
pub mod replicated;
pub mod routes;
pub mod server;
pub mod standalone;
pub mod wake_timer;

pub use backend::{Answered, Backend, BackendError};
pub use replicated::{ReplicatedBackend, ReplicatedSettings};
pub use routes::{ENDPOINT_PATH, Routes};
pub use server::{ServerSettings, serve};
pub use standalone::{StandaloneBackend, StandaloneSettings};

use shell::busy_poll::BusyPoll;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Runs a standalone front end on `listener` as `config` describes, until `shutdown` completes and open
/// connections have drained. Returns an error only if the UDP endpoint cannot be bound.
pub async fn run_standalone(
    config: &config::Config,
    listener: TcpListener,
    shutdown: impl Future,
) -> std::io::Result<()> {
    let backend = StandaloneBackend::start(StandaloneSettings::from_config(config)).await?;
    let routes = Arc::new(Routes::from_config(&config.frontend, backend));
    serve(listener, routes, server_settings(config), shutdown).await;
    Ok(())
}

/// Runs a replicated front end on `listener` as `config` describes (sequencer, replica managers, vote), until
/// `shutdown` completes and open connections have drained. Returns an error only if a UDP socket cannot be bound.
pub async fn run_replicated(
    config: &config::Config,
    listener: TcpListener,
    shutdown: impl Future,
) -> std::io::Result<()> {
    let backend = ReplicatedBackend::start(ReplicatedSettings::from_config(config)).await?;
    let routes = Arc::new(Routes::from_config(&config.frontend, backend));
    serve(listener, routes, server_settings(config), shutdown).await;
    Ok(())
}

/// `[frontend]`'s connection settings, with the busy poller of `[runtime]` started on the current runtime.
fn server_settings(config: &config::Config) -> ServerSettings {
    let busy_poll = BusyPoll::start(Duration::from_micros(config.runtime.busy_poll_us));
    ServerSettings { busy_poll, ..ServerSettings::from_config(&config.frontend) }
}
