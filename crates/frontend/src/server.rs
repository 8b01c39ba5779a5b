//! The HTTP/1.1 server: a listener that accepts connections and one handler task per connection.
//!
//! Shaped like mini-redis's `server.rs`: [`serve`] runs the [`Listener`] until the `shutdown` future completes, then
//! tells every [`Handler`] to finish through a broadcast channel, and learns that all of them are done when the
//! last clone of an mpsc sender (one per handler) is dropped. The connection limit is a semaphore whose permit each
//! handler holds until its connection closes.
//!
//! Shutdown is graceful and bounded: accepting stops at once; idle keep-alive connections close; a connection in
//! the middle of a request finishes that request (and closes) unless it takes longer than `drain_timeout`.
//!
//! This module deliberately knows nothing about SOAP or booking: it only drives hyper connections into
//! [`Routes::handle`].

use crate::backend::Backend;
use crate::routes::Routes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use shell::busy_poll::BusyPoll;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, broadcast, mpsc};

/// Connection-level settings of the HTTP server.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// A connection that has not sent complete request headers within this time is closed (this includes an idle
    /// keep-alive connection waiting for its next request).
    pub header_timeout: Duration,
    /// Connections beyond this many wait in the kernel's accept queue until one closes.
    pub max_connections: usize,
    /// How long a connection may keep working on an in-flight request after shutdown began.
    pub drain_timeout: Duration,
    /// Touched by every request (`[runtime] busy_poll_us`); [`BusyPoll::disabled`] unless the caller starts one.
    pub busy_poll: BusyPoll,
}

impl ServerSettings {
    /// The settings of `[frontend]`. In-flight requests end within the request timeout (the backend answers with
    /// a fault then), so draining waits that long plus a margin for rendering and writing.
    pub fn from_config(frontend: &config::Frontend) -> ServerSettings {
        ServerSettings {
            header_timeout: Duration::from_millis(frontend.header_timeout_ms),
            max_connections: frontend.max_connections,
            drain_timeout: Duration::from_millis(frontend.request_timeout_ms.saturating_add(1_000)),
            busy_poll: BusyPoll::disabled(),
        }
    }
}

/// Accepts connections and spawns a [`Handler`] for each; runs until [`serve`] drops it.
#[derive(Debug)]
struct Listener<B> {
    /// The bound TCP listener; dropped (closing the port) when `serve` returns from its select.
    listener: TcpListener,
    /// Request routing shared by every connection.
    routes: Arc<Routes<B>>,
    /// Connection settings (header timeout, limit, drain bound).
    settings: ServerSettings,
    /// Limits concurrent connections: a handler holds one permit for its connection's lifetime.
    limit_connections: Arc<Semaphore>,
    /// Shutdown notice to every handler: `serve` drops this sender, which completes each handler's `recv`.
    notify_shutdown: broadcast::Sender<()>,
    /// Cloned into every handler and dropped with it; `serve` waits until the receiver sees all clones gone.
    shutdown_complete_tx: mpsc::Sender<()>,
}

/// Serves one connection until it closes or shutdown has drained it.
#[derive(Debug)]
struct Handler<B> {
    /// The accepted socket; moved into hyper's connection future by `run`.
    stream: TcpStream,
    /// The address the client reached (for the WSDL's address when there is no usable Host header).
    local_addr: SocketAddr,
    /// The peer, for log lines.
    peer_addr: SocketAddr,
    /// Request routing shared by every connection.
    routes: Arc<Routes<B>>,
    /// Connection settings.
    settings: ServerSettings,
    /// Completes (with an error, as the sender is dropped) when shutdown begins.
    shutdown: broadcast::Receiver<()>,
    /// Dropped when the handler finishes, telling `serve` one fewer connection is open.
    _shutdown_complete: mpsc::Sender<()>,
}

/// Serves HTTP on `listener` with `routes` until `shutdown` completes, then drains open connections (bounded by
/// `settings.drain_timeout`) and returns.
pub async fn serve<B: Backend>(
    listener: TcpListener,
    routes: Arc<Routes<B>>,
    settings: ServerSettings,
    shutdown: impl Future,
) {
    let (notify_shutdown, _) = broadcast::channel(1);
    let (shutdown_complete_tx, mut shutdown_complete_rx) = mpsc::channel(1);
    let mut server = Listener {
        listener,
        routes,
        limit_connections: Arc::new(Semaphore::new(settings.max_connections)),
        settings,
        notify_shutdown,
        shutdown_complete_tx,
    };
    tokio::select! {
        () = server.run() => {}
        _ = shutdown => tracing::info!("shutdown requested: no longer accepting connections"),
    }
    let Listener { listener, notify_shutdown, shutdown_complete_tx, .. } = server;
    drop(listener);
    drop(notify_shutdown);
    drop(shutdown_complete_tx);
    // Every handler holds a sender clone; recv returns None once the last one is gone.
    let _ = shutdown_complete_rx.recv().await;
    tracing::info!("all connections closed");
}

impl<B: Backend> Listener<B> {
    /// Accepts forever; transient accept errors (out of file descriptors, a connection reset before accept) are
    /// logged and retried after a short, growing pause so that a burst cannot spin the loop.
    async fn run(&mut self) {
        let mut backoff_ms = 1;
        loop {
            let permit = Arc::clone(&self.limit_connections)
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed");
            let (stream, peer_addr) = match self.listener.accept().await {
                Ok(accepted) => {
                    backoff_ms = 1;
                    accepted
                }
                Err(error) => {
                    tracing::warn!(%error, backoff_ms, "accept failed");
                    tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                    backoff_ms = (backoff_ms * 2).min(1_000);
                    continue;
                }
            };
            // Small SOAP answers must leave at once, not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let local_addr = match stream.local_addr() {
                Ok(addr) => addr,
                Err(error) => {
                    tracing::debug!(%error, "accepted connection vanished");
                    continue;
                }
            };
            let handler = Handler {
                stream,
                local_addr,
                peer_addr,
                routes: Arc::clone(&self.routes),
                settings: self.settings.clone(),
                shutdown: self.notify_shutdown.subscribe(),
                _shutdown_complete: self.shutdown_complete_tx.clone(),
            };
            tokio::spawn(async move {
                handler.run().await;
                drop(permit);
            });
        }
    }
}

impl<B: Backend> Handler<B> {
    async fn run(mut self) {
        let routes = Arc::clone(&self.routes);
        let local_addr = self.local_addr;
        let busy_poll = self.settings.busy_poll.clone();
        let service = service_fn(move |request| {
            busy_poll.touch();
            let routes = Arc::clone(&routes);
            let busy_poll = busy_poll.clone();
            async move {
                let response = routes.handle(request, local_addr).await;
                // Poll on while the answer is written and the client's next request comes, also after a slow one.
                busy_poll.touch();
                Ok::<_, Infallible>(response)
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.settings.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(self.stream), service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            _ = self.shutdown.recv() => {
                // Finish the request in flight (if any), then close; an idle connection closes at once.
                connection.as_mut().graceful_shutdown();
                match tokio::time::timeout(self.settings.drain_timeout, connection.as_mut()).await {
                    Ok(result) => result,
                    Err(_elapsed) => {
                        tracing::warn!(peer = %self.peer_addr, "connection still busy after the drain timeout; closing it");
                        Ok(())
                    }
                }
            }
        };
        if let Err(error) = result {
            // Header timeouts, resets and malformed HTTP end up here; none of them concern the service.
            tracing::debug!(peer = %self.peer_addr, %error, "connection ended with an error");
        }
    }
}
