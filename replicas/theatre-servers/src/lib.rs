//! A CineFlix replica: the three theatre servers ATW, OUT and VER, each owning its own theatre and UDP endpoint and
//! reaching the others only by UDP messages, plus the control task that takes jobs from the replica's driver.
//!
//! ```text
//!  driver ──replica-api──▶ control ──job (direct, or Op::Run over UDP)──▶ home theatre server ──coordinator──┐
//!    ▲                        │                                               │  Op::Peer calls over UDP      │
//!    └──── Executed/Status ───┘                               other theatre servers ◀─────────────────────────┘
//! ```
//!
//! - One process runs every server by default, all on one current-thread runtime inside a `LocalSet` (UDP between
//!   tasks of one thread costs syscalls but no thread wake-ups; a sender rings the receiver's `doorbell` so that
//!   it reads at once, without a reactor round); `--theatre` runs a subset, so the three theatre
//!   servers can live in three processes (or hosts) with the control task in one of them.
//! - Jobs execute one at a time, replica-wide, in id order (`control`), so cross-theatre work is deterministic:
//!   for the same jobs the replica gives byte-identical answers and digests to `booking::Replica`.
//! - Peer calls are retried on timeout and deduplicated at the callee (`rpc`); messages of any size are carried
//!   whole by `udp::Endpoint`, which fragments and reassembles.
//! - Each theatre server writes its own log file (`audit_log`).
//!
//! This crate deliberately contains no booking rule (the `booking` crate's coordinator and theatre run inside the
//! servers) and no ordering protocol (its driver delivers jobs in order; a replica manager will supervise it).

pub mod audit_log;
pub mod control;
pub mod doorbell;
pub mod fault;
pub mod rpc;
pub mod theatre_server;
pub mod wire;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use booking::TheatreCode;
use jiff::tz::TimeZone;
use udp::Endpoint;

use crate::audit_log::AuditLog;
use crate::control::{Control, ControlStats, Route};
use crate::rpc::{RetryPolicy, RpcClient};
use crate::theatre_server::{TheatreServer, TheatreStats};

/// Everything one replica process needs to start.
#[derive(Clone, Debug)]
pub struct Options {
    /// `standalone` or the replica id; names the log files.
    pub name: String,
    /// The control address (bound only with `with_control`).
    pub control_addr: SocketAddr,
    /// Every theatre server's address, indexed by `TheatreCode::index`.
    pub theatre_addrs: [SocketAddr; 3],
    /// The theatre servers this process runs.
    pub theatres: Vec<TheatreCode>,
    /// Whether this process runs the control task.
    pub with_control: bool,
    pub logs_dir: PathBuf,
    /// The theatres' time zone ("today", log times).
    pub zone: TimeZone,
    /// Faults injected on every endpoint of this process.
    pub faults: udp::LinkFaults,
    pub retry: RetryPolicy,
    /// How often the log files are flushed.
    pub log_flush_ms: u64,
    /// Keep polling this long after each driver message before parking (`[runtime] busy_poll_us`; 0: never).
    pub busy_poll_us: u64,
}

/// The log file of theatre `code` of replica `name`.
pub fn log_path(logs_dir: &Path, name: &str, code: TheatreCode) -> PathBuf {
    logs_dir.join(format!("replica-{name}-{code}.log"))
}

/// Counters of a finished run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    pub control: Option<ControlStats>,
    pub theatres: Vec<(TheatreCode, TheatreStats)>,
}

/// A bound, not yet serving replica process.
#[derive(Debug)]
pub struct ReplicaProcess {
    servers: Vec<Rc<TheatreServer>>,
    control: Option<Control>,
    /// The control task's RPC client and its endpoint (only when some theatre server is remote).
    control_client: Option<(Rc<RpcClient>, Rc<Endpoint>)>,
    log_flush_ms: u64,
    busy_poll_us: u64,
}

impl ReplicaProcess {
    /// Opens the log files and binds every endpoint this process needs, so that a replica that started can be
    /// reached at once (and one whose port is taken fails here, not later).
    pub async fn bind(options: &Options) -> io::Result<ReplicaProcess> {
        let incarnation = rpc::new_incarnation();
        let doorbells = doorbell::Doorbells::default();
        let mut servers = Vec::new();
        let mut theatres = options.theatres.clone();
        theatres.sort();
        theatres.dedup();
        for code in theatres {
            let endpoint = Endpoint::bind(options.theatre_addrs[code.index()], options.faults.clone()).await?;
            let log = AuditLog::open(&log_path(&options.logs_dir, &options.name, code), options.zone.clone())?;
            let server = TheatreServer::new(
                code,
                endpoint,
                options.theatre_addrs,
                log,
                options.zone.clone(),
                incarnation,
                options.retry,
                &doorbells,
            );
            server.note(&format!("start replica={} theatre={code} incarnation={incarnation}", options.name));
            servers.push(Rc::new(server));
        }
        let mut control = None;
        let mut control_client = None;
        if options.with_control {
            let routes = TheatreCode::ALL.map(|code| match servers.iter().find(|server| server.code() == code) {
                Some(server) => Route::Local(Rc::clone(server)),
                None => Route::Remote(options.theatre_addrs[code.index()]),
            });
            let client = if routes.iter().any(|route| matches!(route, Route::Remote(_))) {
                let local = SocketAddr::new(options.control_addr.ip(), 0);
                let endpoint = Rc::new(Endpoint::bind(local, options.faults.clone()).await?);
                let client = Rc::new(RpcClient::new(Rc::clone(&endpoint), incarnation, options.retry));
                control_client = Some((Rc::clone(&client), endpoint));
                Some(client)
            } else {
                None
            };
            let endpoint = Endpoint::bind(options.control_addr, options.faults.clone()).await?;
            control = Some(Control::new(endpoint, routes, client));
        }
        Ok(ReplicaProcess {
            servers,
            control,
            control_client,
            log_flush_ms: options.log_flush_ms.max(1),
            busy_poll_us: options.busy_poll_us,
        })
    }

    /// The control task, when this process runs it (to set its initial fault).
    pub fn control_mut(&mut self) -> Option<&mut Control> {
        self.control.as_mut()
    }

    /// Serves until `shutdown` completes (or a socket fails), then flushes the logs. Must run inside a
    /// `tokio::task::LocalSet` on a current-thread runtime.
    pub async fn serve(mut self, shutdown: impl Future<Output = ()>) -> io::Result<ReplicaStats> {
        let mut tasks = tokio::task::JoinSet::new();
        for server in &self.servers {
            tasks.spawn_local(Rc::clone(server).serve());
        }
        if let Some((client, endpoint)) = &self.control_client {
            tasks.spawn_local(control::serve_client(Rc::clone(client), Rc::clone(endpoint)));
        }
        let flushed = self.servers.clone();
        let flush_every = Duration::from_millis(self.log_flush_ms);
        tasks.spawn_local(async move {
            let mut ticker = tokio::time::interval(flush_every);
            loop {
                ticker.tick().await;
                for server in &flushed {
                    server.flush_log();
                }
            }
        });
        // The control task runs as a task of its own, not inside this future: a peer reply that wakes a task of
        // the `LocalSet` only queues it, while waking the future that `block_on` polls makes the runtime poll the
        // reactor first (an `epoll_wait` per reply). It hands its state back when it stops, for the counters.
        let (stop_control, control_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut control_task = self.control.take().map(|mut control| {
            // Only the control task's driver messages count as work (theatre servers in other processes never poll).
            control.set_busy_poll(shell::busy_poll::BusyPoll::start(Duration::from_micros(self.busy_poll_us)));
            tokio::task::spawn_local(async move {
                let result = tokio::select! {
                    result = control.serve() => result,
                    _ = control_stopped => Ok(()),
                };
                (control, result)
            })
        });
        let outcome = {
            let control_loop = async {
                match control_task.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                joined = control_loop => match joined {
                    Ok((control, result)) => {
                        self.control = Some(control);
                        control_task = None;
                        result
                    }
                    Err(join_error) => Err(io::Error::other(join_error)),
                },
                Some(result) = tasks.join_next() => match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(error),
                    Err(join_error) => Err(io::Error::other(join_error)),
                },
                () = shutdown => Ok(()),
            }
        };
        let _ = stop_control.send(());
        if let Some(handle) = control_task
            && let Ok((control, _stopped)) = handle.await
        {
            self.control = Some(control);
        }
        tasks.abort_all();
        let stats = ReplicaStats {
            control: self.control.as_ref().map(Control::stats),
            theatres: self.servers.iter().map(|server| (server.code(), server.stats())).collect(),
        };
        for server in &self.servers {
            let theatre_stats = server.stats();
            server.note(&format!("stop {theatre_stats:?} control={:?}", stats.control));
            server.flush_log();
        }
        outcome.map(|()| stats)
    }
}
