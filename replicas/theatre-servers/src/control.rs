//! The control task: the replica's entry point for its driver (`replica-api` messages at the control address).
//!
//! It executes jobs one at a time in id order (go-back-N, see the `replica_api` crate doc), routing each to its
//! caller's home theatre server: directly when that server runs in this process, over UDP (an `Op::Run` call)
//! when it runs in another. It keeps the bounded cache of recent results that answers retried jobs, and computes
//! the replica digest from the three theatres' snapshots. For state transfer it builds the replica snapshot from the
//! theatres' snapshots and restores one into the theatre servers of this process; for fault injection it lies,
//! answers slowly, or exits abruptly (`crate::fault`).
//!
//! It deliberately holds no booking state (the theatre servers own it) and applies no booking rule. Restoring
//! theatre servers that run in another process is not supported (the replica manager always starts whole
//! replicas); such a `Restore` is dropped with a warning and never answered.

use shell::busy_poll::BusyPoll;
use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use booking::{Request, Response, Theatre, TheatreCode, coordinator};
use replica_api::{Fault, FromReplica, Job, RESULT_CACHE_MIN, ToReplica};
use udp::Endpoint;

use crate::fault::{FaultState, INJECTED_CRASH_EXIT_CODE};

use crate::rpc::RpcClient;
use crate::theatre_server::TheatreServer;
use crate::wire::{Envelope, Kind, Op, RunCall};

/// How the control task reaches one theatre server.
#[derive(Debug, Clone)]
pub enum Route {
    /// In this process: call it directly (no UDP hop for the job itself).
    Local(Rc<TheatreServer>),
    /// In another process, at this address.
    Remote(SocketAddr),
}

/// Results kept for retried jobs: a ring indexed by job id (twice the contract's minimum).
const RESULT_CACHE_SLOTS: usize = 2 * RESULT_CACHE_MIN;

/// Counters of the control task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControlStats {
    pub executed: u64,
    /// Jobs answered from the result cache.
    pub retried: u64,
    /// Jobs above `next_expected`, not executed.
    pub gaps: u64,
    /// Messages that did not decode, dropped.
    pub malformed: u64,
    /// Snapshots restored.
    pub restored: u64,
}

/// The control task's state.
#[derive(Debug)]
pub struct Control {
    /// Bound to the control address; the driver's messages arrive here. Shared with delayed answers (`Slow`).
    endpoint: Rc<Endpoint>,
    /// Indexed by `TheatreCode::index`.
    routes: [Route; 3],
    /// For routes that are `Remote`; its endpoint is read by [`Control::serve_client`].
    client: Option<Rc<RpcClient>>,
    next_expected: u64,
    /// `results[id % RESULT_CACHE_SLOTS]` = (id, `Response::encode()` bytes).
    results: Vec<Option<(u64, Vec<u8>)>>,
    executed: Cell<u64>,
    retried: Cell<u64>,
    gaps: Cell<u64>,
    malformed: Cell<u64>,
    restored: u64,
    fault: FaultState,
    /// Touched by every message from the driver.
    busy_poll: BusyPoll,
}

impl Control {
    /// `client` is needed iff some route is `Remote`.
    pub fn new(endpoint: Endpoint, routes: [Route; 3], client: Option<Rc<RpcClient>>) -> Control {
        assert!(
            client.is_some() || routes.iter().all(|route| matches!(route, Route::Local(_))),
            "remote theatre servers need an RPC client"
        );
        Control {
            endpoint: Rc::new(endpoint),
            routes,
            client,
            next_expected: 1,
            results: vec![None; RESULT_CACHE_SLOTS],
            executed: Cell::new(0),
            retried: Cell::new(0),
            gaps: Cell::new(0),
            malformed: Cell::new(0),
            restored: 0,
            fault: FaultState::default(),
            busy_poll: BusyPoll::disabled(),
        }
    }

    /// Touch `busy_poll` whenever a message from the driver arrives (see `shell::busy_poll`).
    pub fn set_busy_poll(&mut self, busy_poll: BusyPoll) {
        self.busy_poll = busy_poll;
    }

    /// Misbehave this way from the next job on (`Fault::None` heals). `CrashAfter { requests: 0 }` exits at once.
    pub fn set_fault(&mut self, fault: Fault) {
        self.fault = FaultState::new(fault);
        tracing::warn!(%fault, "injected fault set");
        self.crash_if_due();
    }

    pub fn fault(&self) -> Fault {
        self.fault.fault()
    }

    pub fn stats(&self) -> ControlStats {
        ControlStats {
            executed: self.executed.get(),
            retried: self.retried.get(),
            gaps: self.gaps.get(),
            malformed: self.malformed.get(),
            restored: self.restored,
        }
    }

    pub fn next_expected(&self) -> u64 {
        self.next_expected
    }

    /// Serves the driver until a socket error: one message at a time, so jobs execute strictly one after another.
    pub async fn serve(&mut self) -> io::Result<()> {
        let mut reply = Vec::new();
        loop {
            let (message, from) = self.endpoint.recv_from().await?;
            self.busy_poll.touch();
            let request = match ToReplica::decode(&message) {
                Ok(request) => request,
                Err(error) => {
                    self.malformed.set(self.malformed.get() + 1);
                    tracing::debug!(%from, %error, "malformed control message dropped");
                    continue;
                }
            };
            let answer = match request {
                ToReplica::Execute { jobs } => self.execute(jobs).await,
                ToReplica::Status => {
                    FromReplica::Status { next_expected: self.next_expected, digest: self.digest().await }
                }
                ToReplica::Snapshot => {
                    FromReplica::Snapshot { executed_up_to: self.next_expected - 1, snapshot: self.snapshot().await }
                }
                ToReplica::Restore { next_expected, snapshot } => match self.restore(next_expected, &snapshot) {
                    Ok(()) => FromReplica::Restored { next_expected: self.next_expected },
                    Err(why) => {
                        tracing::warn!(%from, why, "restore refused");
                        continue;
                    }
                },
                ToReplica::InjectFault(fault) => {
                    self.fault = FaultState::new(fault);
                    tracing::warn!(%fault, %from, "injected fault set");
                    FromReplica::FaultSet(fault)
                }
            };
            reply.clear();
            answer.encode_into(&mut reply);
            let delay_ms = self.fault.answer_delay_ms();
            if delay_ms > 0 && matches!(answer, FromReplica::Executed { .. }) {
                // Slow: the answer leaves later, but the replica keeps serving (probes still get answers).
                let endpoint = Rc::clone(&self.endpoint);
                let delayed = std::mem::take(&mut reply);
                tokio::task::spawn_local(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                    let _ = endpoint.send_to(&delayed, from).await;
                });
                continue;
            }
            if let Err(error) = self.endpoint.send_to(&reply, from).await {
                tracing::debug!(%error, %from, "control reply not sent; the driver resends");
            }
            self.crash_if_due();
        }
    }

    /// `CrashAfter` ran out: exit abruptly, as a crashing process would (no log flush, no answer).
    fn crash_if_due(&self) {
        if self.fault.crash_due() {
            tracing::warn!(executed = self.executed.get(), "injected crash");
            std::process::exit(INJECTED_CRASH_EXIT_CODE);
        }
    }

    /// Executes a batch (go-back-N) and returns every result it can give.
    pub async fn execute(&mut self, jobs: Vec<Job>) -> FromReplica {
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            if job.id == self.next_expected {
                let response = self.run(&job).await;
                let bytes =
                    if self.fault.lies() { crate::fault::lie(&response, job.id).encode() } else { response.encode() };
                self.results[slot_of(job.id)] = Some((job.id, bytes.clone()));
                results.push((job.id, bytes));
                self.next_expected += 1;
                self.executed.set(self.executed.get() + 1);
                self.fault.job_executed();
                // Crash between jobs, before answering: the executed jobs' results are lost with the process.
                self.crash_if_due();
            } else if job.id < self.next_expected {
                if let Some((_, bytes)) = self.results[slot_of(job.id)].as_ref().filter(|(id, _)| *id == job.id) {
                    results.push((job.id, bytes.clone()));
                    self.retried.set(self.retried.get() + 1);
                }
            } else {
                self.gaps.set(self.gaps.get() + 1);
            }
        }
        FromReplica::Executed { next_expected: self.next_expected, results }
    }

    /// Runs one job at its caller's home theatre server. Malformed caller IDs go to ATW, which answers
    /// `INVALID_ID` without peer calls.
    async fn run(&self, job: &Job) -> Response {
        let home = coordinator::home_theatre(&job.request).unwrap_or(TheatreCode::Atw);
        match &self.routes[home.index()] {
            Route::Local(server) => server.run_job(job.id, job.timestamp_ms, &job.request).await,
            Route::Remote(addr) => self.run_remote(*addr, job.id, job.timestamp_ms, &job.request).await,
        }
    }

    async fn run_remote(&self, addr: SocketAddr, job_id: u64, timestamp_ms: i64, request: &Request) -> Response {
        let client = self.client.as_ref().expect("checked in Control::new");
        let payload = RunCall { job_id, timestamp_ms, request: &request.encode() }.encode();
        client.call(addr, Op::Run, &payload, |bytes| Response::decode(bytes).ok()).await
    }

    /// SHA-256 of the replica snapshot built from the three theatres' snapshots (`booking::replica`).
    pub async fn digest(&self) -> [u8; 32] {
        let [atw, out, ver] = &self.theatre_snapshots().await;
        booking::replica::replica_digest([atw, out, ver])
    }

    /// The canonical replica snapshot (`booking::replica`), whose SHA-256 is [`Control::digest`].
    pub async fn snapshot(&self) -> Vec<u8> {
        let [atw, out, ver] = &self.theatre_snapshots().await;
        booking::replica::replica_snapshot([atw, out, ver])
    }

    /// Replaces the replica's state with `snapshot` (a replica snapshot), expects job `next_expected` next and
    /// forgets the cached results (they belong to the old state). Every theatre server must run in this process.
    pub fn restore(&mut self, next_expected: u64, snapshot: &[u8]) -> Result<(), &'static str> {
        if next_expected == 0 {
            return Err("next_expected must be at least 1");
        }
        let replica = booking::Replica::restore(snapshot).map_err(|_| "the snapshot does not decode")?;
        let mut servers = Vec::with_capacity(3);
        for code in TheatreCode::ALL {
            match &self.routes[code.index()] {
                Route::Local(server) => servers.push(Rc::clone(server)),
                Route::Remote(_) => return Err("a theatre server runs in another process"),
            }
        }
        for (code, server) in TheatreCode::ALL.into_iter().zip(servers) {
            let theatre = Theatre::restore(&replica.theatre(code).snapshot()).map_err(|_| "theatre snapshot")?;
            server.replace_theatre(theatre);
        }
        self.next_expected = next_expected;
        self.results.iter_mut().for_each(|slot| *slot = None);
        self.restored += 1;
        Ok(())
    }

    async fn theatre_snapshots(&self) -> [Vec<u8>; 3] {
        let mut snapshots: [Vec<u8>; 3] = Default::default();
        for code in TheatreCode::ALL {
            snapshots[code.index()] = match &self.routes[code.index()] {
                Route::Local(server) => server.snapshot(),
                Route::Remote(addr) => {
                    let client = self.client.as_ref().expect("checked in Control::new");
                    client.call(*addr, Op::Snapshot, &[], |bytes| Some(bytes.to_vec())).await
                }
            };
        }
        snapshots
    }
}

/// Reads the control task's RPC endpoint (used only with remote theatre servers) and hands replies to `client`.
pub async fn serve_client(client: Rc<RpcClient>, endpoint: Rc<Endpoint>) -> io::Result<()> {
    loop {
        let (message, from) = endpoint.recv_from().await?;
        match Envelope::decode(&message) {
            Ok(envelope) if envelope.kind == Kind::Reply => {
                let (incarnation, request_id) = (envelope.incarnation, envelope.request_id);
                client.deliver(incarnation, request_id, message);
            }
            Ok(_) => tracing::debug!(%from, "unexpected call at the control task's RPC endpoint dropped"),
            Err(error) => tracing::debug!(%from, %error, "malformed message dropped"),
        }
    }
}

fn slot_of(job_id: u64) -> usize {
    (job_id % RESULT_CACHE_SLOTS as u64) as usize
}
