//! The replica manager's event loop: one task that owns the ordering member, three UDP endpoints, the child replica
//! process and the audit log, drives `manager::Manager` with what arrives, and carries out every `Command`.
//!
//! Sockets:
//! - the ordering member (`member` address), in its own task (`udp::ordering_shell::MemberNode`); its deliveries
//!   are taken only while `Manager::ready_for_delivery` (back-pressure to the sequencer);
//! - the manager endpoint (`manager` address): `manager::Message` from other RMs and the front end (reports and
//!   requests to re-send a result), results and membership to the front end, and the operator protocol
//!   (`crate::status`);
//! - the driver endpoint: replica-api with the child replica's control address. A fresh endpoint (new port) per
//!   replica incarnation, so that a late answer from a killed process can never be taken for its successor's;
//! - the probe endpoint: replica-api `Status` to any replica's control address (crash agreement).
//!
//! The child is `cineflix-replica --config <file> --replica <id>` (the sibling of this executable), killed on drop.
//! Only incarnation 1 gets the configured `[[replicas]].fault`; replacements run clean. A started child counts as
//! up once it answers `Status`; one that does not within `replication.replica_start_timeout_ms` is killed and
//! reported as exited. Starts are at least `RESPAWN_MIN_MS` apart, and that gap doubles with every start in a row
//! that failed (the child exited or timed out before answering `Status`), up to `RESPAWN_MAX_MS`: a replica that
//! cannot start (a port taken by another program, a missing binary) neither spins nor floods the logs.
//!
//! Deliberately not here: any replication decision (the core makes them all), ordering logic, booking logic.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use manager::{Command, Manager, ManagerConfig, Message, ReplicaId};
use ordering::{MemberConfig, NodeId, OrderedEntry};
use replica_api::{Fault, FromReplica, ToReplica};
use tokio::process::Child;
use tokio::sync::{mpsc, watch};
use udp::Endpoint;
use udp::ordering_shell::{MemberNode, NodeClock};

use crate::audit::AuditLog;
use crate::status::{ReplicaState, RmStatus, StatusReply, StatusRequest, is_status_message};

/// Replica processes are started at least this far apart.
pub const RESPAWN_MIN_MS: u64 = 200;
/// The longest gap between two starts of a replica that keeps failing to start.
pub const RESPAWN_MAX_MS: u64 = 5_000;

/// The gap before the next start after `failed_starts` failed starts in a row.
fn respawn_gap_ms(failed_starts: u32) -> u64 {
    RESPAWN_MIN_MS.saturating_mul(1 << failed_starts.min(16)).min(RESPAWN_MAX_MS)
}
/// A starting replica is asked for its status this often until it answers.
const START_POLL_MS: u64 = 25;
/// A fault injection is resent this often until the replica confirms, for at most `FAULT_CONFIRM_MS`.
const FAULT_RESEND_MS: u64 = 100;
const FAULT_CONFIRM_MS: u64 = 2_000;
/// An operator's status request waits at most this long for the replica's own `Status` (seq and digest) before it
/// is answered without them.
const STATUS_REPLICA_WAIT_MS: u64 = 300;
/// Most status requests waiting for the replica's answer at once (operators retry; duplicates are merged).
const STATUS_PENDING_MAX: usize = 64;
/// Killing a child waits at most this long for it to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);
const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Entries the ordering member may hold for this node beyond what the manager took.
const DELIVERY_QUEUE_MAX: usize = 1024;

/// What `run` needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration file, passed on to the replica processes.
    pub config_path: PathBuf,
    pub config: config::Config,
    /// This RM's (and its replica's) id: one of the config's `[[replicas]]`.
    pub replica_id: ReplicaId,
    /// The `cineflix-replica` executable.
    pub replica_binary: PathBuf,
    /// Where this RM and its replicas write logs.
    pub logs_dir: PathBuf,
}

/// Why the replica manager stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum RmError {
    /// The configuration does not describe this RM's cluster.
    #[error("configuration: {0}")]
    Config(String),
    /// A socket or the log file failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The ordering member could not start or stopped.
    #[error("ordering member: {0}")]
    Member(#[from] udp::ordering_shell::NodeError),
}

/// The child replica process of one incarnation.
#[derive(Debug)]
struct ReplicaChild {
    incarnation: u64,
    child: Child,
}

/// A started child that has not answered `Status` yet.
#[derive(Debug)]
struct Starting {
    incarnation: u64,
    deadline_ms: u64,
    next_poll_ms: u64,
}

/// A probe the core asked for.
#[derive(Debug)]
struct Probe {
    addr: SocketAddr,
    deadline_ms: u64,
    next_send_ms: u64,
}

/// An operator's fault injection waiting for the replica's confirmation.
#[derive(Debug)]
struct PendingFault {
    requester: SocketAddr,
    nonce: u64,
    fault: Fault,
    incarnation: u64,
    deadline_ms: u64,
    next_send_ms: u64,
}

/// An operator's status request waiting for the replica's `Status` answer.
#[derive(Debug)]
struct PendingStatus {
    requester: SocketAddr,
    nonce: u64,
    /// The request's protocol version; the reply uses it.
    version: u8,
    deadline_ms: u64,
}

/// The node's state; see the module doc.
#[derive(Debug)]
struct Node {
    options: Options,
    clock: NodeClock,
    manager: Manager,
    link_faults: udp::LinkFaults,
    manager_endpoint: Arc<Endpoint>,
    probe_endpoint: Endpoint,
    /// The driver endpoint of `driver_incarnation` (see the module doc).
    driver: Endpoint,
    driver_incarnation: u64,
    /// This replica's control address.
    control: SocketAddr,
    /// Every RM's manager address and every replica's control address, by id.
    managers: BTreeMap<ReplicaId, SocketAddr>,
    controls: BTreeMap<ReplicaId, SocketAddr>,
    front_end: (NodeId, SocketAddr),
    /// The configured fault of incarnation 1.
    initial_fault: Fault,
    child: Option<ReplicaChild>,
    starting: Option<Starting>,
    /// A start deferred by `RESPAWN_MIN_MS`: (incarnation, when).
    deferred_start: Option<(u64, u64)>,
    last_spawn_ms: Option<u64>,
    /// Starts in a row whose child never answered `Status` (reset by one that did).
    failed_starts: u32,
    /// The seq the ordering member was last rebuilt to deliver from (0: never): entries below it may still arrive
    /// from before the gap and are dropped.
    rebuilt_from: u64,
    probes: BTreeMap<u64, Probe>,
    pending_fault: Option<PendingFault>,
    /// Status requests waiting for the replica's digest.
    pending_status: Vec<PendingStatus>,
    audit: AuditLog,
    /// Reused encode buffer.
    buffer: Vec<u8>,
}

fn link_faults(faults: &config::LinkFaults) -> udp::LinkFaults {
    udp::LinkFaults {
        drop: faults.drop,
        duplicate: faults.duplicate,
        reorder: faults.reorder,
        delay_ms: faults.delay_ms,
    }
}

fn initial_fault(fault: &config::ReplicaFault) -> Fault {
    match *fault {
        config::ReplicaFault::None => Fault::None,
        config::ReplicaFault::Lie => Fault::Lie,
        config::ReplicaFault::CrashAfter { requests } => Fault::CrashAfter { requests },
        config::ReplicaFault::Slow { delay_ms } => Fault::Slow { delay_ms },
        config::ReplicaFault::LieNext { jobs } => Fault::LieNext { jobs },
    }
}

/// An ephemeral endpoint on the same address family and interface kind as `peer`.
async fn ephemeral_endpoint(peer: SocketAddr, faults: udp::LinkFaults) -> io::Result<Endpoint> {
    let local: SocketAddr = match peer {
        SocketAddr::V4(v4) if v4.ip().is_loopback() => "127.0.0.1:0".parse().expect("literal"),
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
        SocketAddr::V6(v6) if v6.ip().is_loopback() => "[::1]:0".parse().expect("literal"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
    };
    Endpoint::bind(local, faults).await
}

/// Runs the replica manager until `shutdown` completes (then kills its replica and flushes the log) or a fatal
/// error. Needs a tokio runtime with I/O, time and process support.
pub async fn run(options: Options, shutdown: impl Future<Output = ()>) -> Result<(), RmError> {
    let config = &options.config;
    let me = config
        .replicas
        .iter()
        .find(|replica| replica.id == options.replica_id)
        .ok_or_else(|| RmError::Config(format!("no [[replicas]] entry with id {}", options.replica_id)))?
        .clone();
    let ids: Vec<ReplicaId> = config.replicas.iter().map(|replica| replica.id).collect();
    if ids.len() < 2 {
        return Err(RmError::Config("replication needs at least two [[replicas]]".to_string()));
    }
    let faults = link_faults(&config.faults);
    let replication = &config.replication;
    let mut manager_config = ManagerConfig::new(me.id, ids.clone());
    manager_config.wrong_limit = replication.wrong_limit;
    manager_config.job_retry_ms = replication.job_retry_ms;
    manager_config.probe_timeout_ms = replication.probe_timeout_ms;
    manager_config.recheck_interval_ms = replication.recheck_interval_ms;
    manager_config.verdict_ttl_ms = replication.verdict_ttl_ms;
    manager_config.verdict_retry_ms = replication.verdict_retry_ms;
    manager_config.snapshot_retry_ms = replication.snapshot_retry_ms;
    manager_config.rejoin_lag_seqs = replication.rejoin_lag_seqs;
    manager_config.buffer_max = replication.buffer_max;
    manager_config.announce_interval_ms = replication.announce_interval_ms;
    manager_config.sole_donor_wait_ms = replication.sole_donor_wait_ms;

    let mut audit = AuditLog::open(&options.logs_dir.join(format!("rm-{}.log", me.id)))?;
    let manager_endpoint = Arc::new(Endpoint::bind(me.manager, faults.clone()).await?);
    let member_endpoint = Arc::new(Endpoint::bind(me.member_addr(), faults.clone()).await?);
    let sequencer = NodeId(config.sequencer.node_id);
    let index = ids.iter().position(|&id| id == me.id).expect("found above");
    let member_config =
        MemberConfig::new(NodeId(me.id), sequencer).staggered(index, ids.len(), config.sequencer.history);
    let peers = [(sequencer, config.sequencer.addr)].into_iter().collect();
    let (member, mut deliveries, mut rebuilt) =
        MemberNode::spawn_resuming(member_endpoint, member_config, peers, DELIVERY_QUEUE_MAX)?;

    let clock = NodeClock::new();
    audit.line(format_args!(
        "start replica_id={} manager={} member={} control={} managers={ids:?}",
        me.id,
        me.manager,
        me.member_addr(),
        me.replica.control
    ));
    let mut node = Node {
        clock,
        manager: Manager::new(manager_config, clock.now_ms()),
        probe_endpoint: ephemeral_endpoint(me.replica.control, faults.clone()).await?,
        driver: ephemeral_endpoint(me.replica.control, faults.clone()).await?,
        driver_incarnation: 0,
        link_faults: faults,
        manager_endpoint,
        control: me.replica.control,
        managers: config.replicas.iter().map(|replica| (replica.id, replica.manager)).collect(),
        controls: config.replicas.iter().map(|replica| (replica.id, replica.replica.control)).collect(),
        front_end: (NodeId(config.frontend.node_id), config.frontend.results),
        initial_fault: initial_fault(&me.fault),
        child: None,
        starting: None,
        deferred_start: None,
        last_spawn_ms: None,
        failed_starts: 0,
        rebuilt_from: 0,
        probes: BTreeMap::new(),
        pending_fault: None,
        pending_status: Vec::new(),
        audit,
        buffer: Vec::new(),
        options,
    };
    let outcome = node.serve(&mut deliveries, &mut rebuilt, shutdown).await;
    if let Some(mut replica) = node.child.take() {
        stop_gracefully(&mut replica.child).await;
    }
    let stats = node.manager.stats();
    node.audit.line(format_args!("stop {stats:?} outcome={outcome:?}"));
    node.audit.flush();
    let _ = member.shutdown().await;
    outcome
}

/// Stops a healthy replica at shutdown: SIGTERM lets it flush its theatre logs; SIGKILL only if it lingers.
/// (Replacing a faulty replica is different: `kill` sends SIGKILL at once.)
async fn stop_gracefully(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if tokio::time::timeout(KILL_WAIT, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.start_kill();
    let _ = tokio::time::timeout(KILL_WAIT, child.wait()).await;
}

/// Waits for the child to exit; never completes without one. Cancel-safe (`Child::wait` is).
async fn wait_child(child: &mut Option<ReplicaChild>) -> (u64, io::Result<ExitStatus>) {
    match child {
        Some(replica) => (replica.incarnation, replica.child.wait().await),
        None => std::future::pending().await,
    }
}

async fn sleep_until_ms(clock: NodeClock, deadline_ms: Option<u64>) {
    match deadline_ms {
        Some(ms) => tokio::time::sleep_until(clock.instant_at(ms)).await,
        None => std::future::pending().await,
    }
}

impl Node {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    async fn serve(
        &mut self,
        deliveries: &mut mpsc::Receiver<OrderedEntry>,
        rebuilt: &mut watch::Receiver<u64>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), RmError> {
        tokio::pin!(shutdown);
        let mut flush = tokio::time::interval(LOG_FLUSH_INTERVAL);
        self.carry_out().await?;
        loop {
            let deadline_ms = self.next_deadline_ms();
            let can_deliver = self.manager.ready_for_delivery();
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(()),
                (incarnation, status) = wait_child(&mut self.child) => self.on_child_exit(incarnation, status),
                entry = deliveries.recv(), if can_deliver => {
                    let Some(entry) = entry else {
                        return Err(RmError::Member(udp::ordering_shell::NodeError::Stopped));
                    };
                    let now_ms = self.now_ms();
                    self.deliver(now_ms, entry);
                    while self.manager.ready_for_delivery() {
                        let Ok(entry) = deliveries.try_recv() else { break };
                        self.deliver(now_ms, entry);
                    }
                }
                changed = rebuilt.changed() => {
                    if changed.is_err() {
                        return Err(RmError::Member(udp::ordering_shell::NodeError::Stopped));
                    }
                    let next_seq = *rebuilt.borrow_and_update();
                    let now_ms = self.now_ms();
                    self.skip_to(now_ms, next_seq);
                }
                received = self.manager_endpoint.recv_from() => {
                    let (bytes, from) = received?;
                    self.on_manager_datagram(&bytes, from).await;
                }
                received = self.driver.recv_from() => {
                    let (bytes, from) = received?;
                    self.on_replica_datagram(&bytes, from).await;
                }
                received = self.probe_endpoint.recv_from() => {
                    let (bytes, from) = received?;
                    self.on_probe_datagram(&bytes, from);
                }
                () = sleep_until_ms(self.clock, deadline_ms) => self.on_timeout().await,
                _ = flush.tick() => self.audit.flush(),
            }
            self.carry_out().await?;
        }
    }

    /// Hands one delivered entry to the manager. Entries below a gap the member was rebuilt past are dropped (the
    /// replica is being restored beyond them); a jump means the rebuild notice has not been seen yet.
    fn deliver(&mut self, now_ms: u64, entry: OrderedEntry) {
        if entry.seq <= self.manager.delivered_up_to() {
            // Only entries from before a gap the member was rebuilt past: anything else would be a double delivery.
            debug_assert!(entry.seq < self.rebuilt_from, "seq {} delivered twice", entry.seq);
            return;
        }
        self.skip_to(now_ms, entry.seq);
        self.manager.handle_delivered(now_ms, entry);
    }

    /// The member fell behind the sequencer's history and now delivers from `next_seq`
    /// (`MemberNode::spawn_resuming`): the manager replaces its replica and restores it by state transfer past the
    /// gap.
    fn skip_to(&mut self, now_ms: u64, next_seq: u64) {
        let expected = self.manager.delivered_up_to() + 1;
        if next_seq > expected {
            self.rebuilt_from = next_seq;
            self.audit.line(format_args!("behind skipped={expected}..={} (member rebuilt past the gap)", next_seq - 1));
            self.manager.handle_behind(now_ms, next_seq);
        }
    }

    fn next_deadline_ms(&self) -> Option<u64> {
        let mut deadlines: Vec<u64> = Vec::new();
        deadlines.extend(self.manager.poll_timeout());
        deadlines.extend(self.starting.as_ref().map(|starting| starting.next_poll_ms.min(starting.deadline_ms)));
        deadlines.extend(self.deferred_start.map(|(_, at_ms)| at_ms));
        deadlines.extend(self.probes.values().map(|probe| probe.next_send_ms.min(probe.deadline_ms)));
        deadlines.extend(self.pending_fault.as_ref().map(|pending| pending.next_send_ms.min(pending.deadline_ms)));
        deadlines.extend(self.pending_status.iter().map(|pending| pending.deadline_ms).min());
        deadlines.into_iter().min()
    }

    /// Carries out every command the core has queued (carrying one out may queue more).
    ///
    /// Bursts leave in few datagrams: the core feeds each delivered entry as it arrives and sends each result as
    /// the replica answers it, so a burst queues one single-job `Execute` after another, and one `SendResult` after
    /// another. Consecutive `Execute`s for one incarnation leave as one replica-api message of up to
    /// [`replica_api::BATCH_MAX`] jobs (the replica executes them in the same order, and the core accepts results
    /// in any grouping); consecutive results for one front end leave as one `udp` bundle (the front end still
    /// receives them one message at a time). One datagram per job cost the RM, its replica and the front end a
    /// system call each per job. Audit lines the core queues between them are written as they come.
    async fn carry_out(&mut self) -> Result<(), RmError> {
        let mut pending = self.manager.poll_command();
        while let Some(command) = pending.take() {
            pending = match command {
                Command::Execute { incarnation, jobs } => self.carry_out_executes(incarnation, jobs).await?,
                Command::SendResult { front_end, result } => self.carry_out_results(front_end, result).await?,
                other => {
                    self.carry_out_one(other).await?;
                    None
                }
            };
            if pending.is_none() {
                // Carrying out may have queued more commands.
                pending = self.manager.poll_command();
            }
        }
        Ok(())
    }

    /// Sends `jobs` merged with the `Execute`s queued right after it; returns the first command that did not merge.
    async fn carry_out_executes(
        &mut self,
        incarnation: u64,
        mut jobs: Vec<manager::Job>,
    ) -> Result<Option<Command>, RmError> {
        loop {
            match self.manager.poll_command() {
                Some(Command::Execute { incarnation: next_incarnation, jobs: more })
                    if next_incarnation == incarnation && jobs.len() + more.len() <= replica_api::BATCH_MAX =>
                {
                    jobs.extend(more);
                }
                Some(Command::Log(audit)) => self.carry_out_one(Command::Log(audit)).await?,
                other => {
                    self.carry_out_one(Command::Execute { incarnation, jobs }).await?;
                    return Ok(other);
                }
            }
        }
    }

    /// Sends `first` and the results for the same front end queued right after it as one bundle; returns the first
    /// command that did not join.
    async fn carry_out_results(
        &mut self,
        front_end: NodeId,
        first: manager::ResultMessage,
    ) -> Result<Option<Command>, RmError> {
        let mut results = vec![first];
        let next = loop {
            match self.manager.poll_command() {
                Some(Command::SendResult { front_end: next_front_end, result }) if next_front_end == front_end => {
                    results.push(result);
                }
                Some(Command::Log(audit)) => self.carry_out_one(Command::Log(audit)).await?,
                other => break other,
            }
        };
        if front_end != self.front_end.0 {
            tracing::debug!(%front_end, count = results.len(), "results for an unknown front end dropped");
            return Ok(next);
        }
        self.buffer.clear();
        let mut ends = Vec::with_capacity(results.len());
        for result in results {
            Message::Result(result).encode_into(&mut self.buffer);
            ends.push(self.buffer.len());
        }
        let mut start = 0;
        let messages: Vec<&[u8]> = ends
            .iter()
            .map(|&end| {
                let message = &self.buffer[start..end];
                start = end;
                message
            })
            .collect();
        let addr = self.front_end.1;
        if let Err(error) = self.manager_endpoint.send_bundle_to(&messages, addr).await {
            tracing::debug!(%error, %addr, "results not sent");
        }
        Ok(next)
    }

    async fn carry_out_one(&mut self, command: Command) -> Result<(), RmError> {
        match command {
            Command::Execute { incarnation, jobs } => {
                if incarnation != self.driver_incarnation || self.child.is_none() {
                    return Ok(());
                }
                let jobs = jobs
                    .into_iter()
                    .map(|job| replica_api::Job {
                        id: job.seq,
                        timestamp_ms: job.timestamp_ms as i64,
                        request: decode_request(&job.payload, job.seq),
                    })
                    .collect();
                self.send_to_replica(&ToReplica::Execute { jobs }).await;
            }
            Command::TakeSnapshot { incarnation, seq } => {
                if incarnation == self.driver_incarnation {
                    self.audit.line(format_args!("take_snapshot incarnation={incarnation} seq={seq}"));
                    self.send_to_replica(&ToReplica::Snapshot).await;
                }
            }
            Command::Restore { incarnation, seq, snapshot } => {
                if incarnation == self.driver_incarnation {
                    let size = snapshot.len();
                    self.audit.line(format_args!("restore incarnation={incarnation} seq={seq} bytes={size}"));
                    let message = ToReplica::Restore { next_expected: seq + 1, snapshot: snapshot.to_vec() };
                    self.send_to_replica(&message).await;
                }
            }
            Command::KillReplica { incarnation } => self.kill(incarnation).await,
            Command::StartReplica { incarnation } => self.start(incarnation).await?,
            Command::Probe { probe_id, replica_id } => {
                let Some(&addr) = self.controls.get(&replica_id) else { return Ok(()) };
                let now_ms = self.now_ms();
                let deadline_ms = now_ms + self.manager.config().probe_timeout_ms;
                self.probes.insert(probe_id, Probe { addr, deadline_ms, next_send_ms: now_ms });
                self.send_probes(now_ms).await;
            }
            Command::SendToManager { to, message } => {
                if let Some(&addr) = self.managers.get(&to) {
                    self.send_manager_message(&Message::Peer(message), addr).await;
                }
            }
            Command::SendResult { front_end, result } => {
                if front_end == self.front_end.0 {
                    let addr = self.front_end.1;
                    self.send_manager_message(&Message::Result(result), addr).await;
                } else {
                    tracing::debug!(%front_end, "result for an unknown front end dropped");
                }
            }
            Command::AnnounceMembership(membership) => {
                let addr = self.front_end.1;
                self.send_manager_message(&Message::Membership(membership), addr).await;
            }
            Command::Log(audit) => {
                let now_ms = self.now_ms();
                self.audit.audit(now_ms, &audit);
            }
        }
        Ok(())
    }

    async fn send_manager_message(&mut self, message: &Message, addr: SocketAddr) {
        self.buffer.clear();
        message.encode_into(&mut self.buffer);
        if let Err(error) = self.manager_endpoint.send_to(&self.buffer, addr).await {
            tracing::debug!(%error, %addr, "manager message not sent");
        }
    }

    async fn send_to_replica(&mut self, message: &ToReplica) {
        self.buffer.clear();
        message.encode_into(&mut self.buffer);
        if let Err(error) = self.driver.send_to(&self.buffer, self.control).await {
            tracing::debug!(%error, "replica message not sent; the core resends");
        }
    }

    /// Sends every probe that is due and forgets expired ones (the core times them out itself).
    async fn send_probes(&mut self, now_ms: u64) {
        self.probes.retain(|_, probe| now_ms < probe.deadline_ms);
        let resend_ms = (self.manager.config().probe_timeout_ms / 4).max(10);
        let status = ToReplica::Status.encode();
        for probe in self.probes.values_mut() {
            if probe.next_send_ms <= now_ms {
                probe.next_send_ms = now_ms + resend_ms;
                let _ = self.probe_endpoint.send_to(&status, probe.addr).await;
            }
        }
    }

    async fn kill(&mut self, incarnation: u64) {
        if self.child.as_ref().is_some_and(|replica| replica.incarnation <= incarnation) {
            let mut replica = self.child.take().expect("checked");
            let _ = replica.child.start_kill();
            let status = tokio::time::timeout(KILL_WAIT, replica.child.wait()).await;
            self.audit.line(format_args!("killed incarnation={} status={status:?}", replica.incarnation));
        }
        if self.starting.as_ref().is_some_and(|starting| starting.incarnation <= incarnation) {
            self.starting = None;
        }
    }

    async fn start(&mut self, incarnation: u64) -> Result<(), RmError> {
        if let Some(replica) = &self.child {
            // One replica per RM: whatever still runs is older (and its ports are needed).
            let older = replica.incarnation;
            self.kill(older).await;
        }
        let now_ms = self.now_ms();
        let gap_ms = respawn_gap_ms(self.failed_starts);
        if let Some(last_ms) = self.last_spawn_ms
            && now_ms < last_ms + gap_ms
        {
            if self.failed_starts > 0 {
                tracing::warn!(failed_starts = self.failed_starts, gap_ms, "the replica keeps failing to start");
            }
            self.deferred_start = Some((incarnation, last_ms + gap_ms));
            return Ok(());
        }
        self.deferred_start = None;
        self.last_spawn_ms = Some(now_ms);
        // A fresh driver endpoint: answers from earlier processes go to a closed port.
        self.driver = ephemeral_endpoint(self.control, self.link_faults.clone()).await?;
        self.driver_incarnation = incarnation;
        let fault = if incarnation == 1 { self.initial_fault } else { Fault::None };
        let mut command = tokio::process::Command::new(&self.options.replica_binary);
        command
            .arg("--config")
            .arg(&self.options.config_path)
            .arg("--replica")
            .arg(self.manager.replica_id().to_string())
            .arg("--logs-dir")
            .arg(&self.options.logs_dir)
            .arg("--fault")
            .arg(fault.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        match command.spawn() {
            Ok(child) => {
                let pid = child.id().unwrap_or(0);
                self.audit.line(format_args!("spawned incarnation={incarnation} pid={pid} fault={fault}"));
                self.child = Some(ReplicaChild { incarnation, child });
                let deadline_ms = now_ms + self.options.config.replication.replica_start_timeout_ms;
                self.starting = Some(Starting { incarnation, deadline_ms, next_poll_ms: now_ms });
            }
            Err(error) => {
                let binary = self.options.replica_binary.display().to_string();
                tracing::error!(%error, %binary, "cannot start the replica");
                self.audit.line(format_args!("spawn_failed incarnation={incarnation} error={error}"));
                self.failed_starts = self.failed_starts.saturating_add(1);
                self.manager.handle_replica_exited(now_ms, incarnation);
            }
        }
        Ok(())
    }

    fn on_child_exit(&mut self, incarnation: u64, status: io::Result<ExitStatus>) {
        self.child = None;
        if self.starting.as_ref().is_some_and(|starting| starting.incarnation == incarnation) {
            self.starting = None;
            self.failed_starts = self.failed_starts.saturating_add(1);
        }
        self.audit.line(format_args!("exited incarnation={incarnation} status={status:?}"));
        tracing::warn!(incarnation, ?status, "replica exited");
        let now_ms = self.now_ms();
        self.manager.handle_replica_exited(now_ms, incarnation);
    }

    async fn on_timeout(&mut self) {
        let now_ms = self.now_ms();
        if self.manager.poll_timeout().is_some_and(|at_ms| at_ms <= now_ms) {
            self.manager.handle_timeout(now_ms);
        }
        if let Some((incarnation, at_ms)) = self.deferred_start
            && at_ms <= now_ms
        {
            self.deferred_start = None;
            if incarnation == self.manager.incarnation() {
                let _ = self.start(incarnation).await;
            }
        }
        if let Some(starting) = &mut self.starting {
            if starting.deadline_ms <= now_ms {
                let incarnation = starting.incarnation;
                self.starting = None;
                self.failed_starts = self.failed_starts.saturating_add(1);
                self.audit.line(format_args!("start_timeout incarnation={incarnation}"));
                self.kill(incarnation).await;
                self.manager.handle_replica_exited(now_ms, incarnation);
            } else if starting.next_poll_ms <= now_ms {
                starting.next_poll_ms = now_ms + START_POLL_MS;
                self.send_to_replica(&ToReplica::Status).await;
            }
        }
        self.send_probes(now_ms).await;
        self.answer_pending_status(None, Some(now_ms)).await;
        if let Some(pending) = &mut self.pending_fault {
            if pending.deadline_ms <= now_ms || pending.incarnation != self.driver_incarnation {
                let reply = StatusReply::FaultFailed {
                    nonce: pending.nonce,
                    reason: "the replica did not confirm the fault".to_string(),
                };
                let requester = pending.requester;
                self.pending_fault = None;
                let _ = self.manager_endpoint.send_to(&reply.encode(), requester).await;
            } else if pending.next_send_ms <= now_ms {
                pending.next_send_ms = now_ms + FAULT_RESEND_MS;
                let fault = pending.fault;
                self.send_to_replica(&ToReplica::InjectFault(fault)).await;
            }
        }
    }

    async fn on_manager_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        let now_ms = self.now_ms();
        if is_status_message(bytes) {
            match StatusRequest::decode_versioned(bytes) {
                Ok((request, version)) => self.on_status_request(request, version, from).await,
                Err(error) => tracing::debug!(%error, %from, "bad status request dropped"),
            }
            return;
        }
        match Message::decode(bytes) {
            Ok(Message::Report(report)) => self.manager.handle_report(now_ms, report),
            Ok(Message::ResendResult(request)) => self.manager.handle_resend_result(now_ms, request),
            Ok(Message::Peer(message)) => {
                if self.managers.get(&message.from) == Some(&from) {
                    self.manager.handle_peer(now_ms, message);
                } else {
                    tracing::debug!(%from, claimed = message.from, "peer message from an unexpected address dropped");
                }
            }
            Ok(other @ (Message::Result(_) | Message::Membership(_))) => {
                tracing::debug!(?other, %from, "front-end-bound message sent to a replica manager dropped")
            }
            Err(error) => tracing::debug!(%error, %from, "undecodable manager message dropped"),
        }
    }

    /// This manager's status, with the replica's own seq and digest if it just gave them.
    fn rm_status(&self, replica_state: Option<ReplicaState>) -> RmStatus {
        let manager = &self.manager;
        let stats = manager.stats();
        RmStatus {
            replica_id: manager.replica_id(),
            phase: manager.phase(),
            incarnation: manager.incarnation(),
            in_vote: manager.is_serving(),
            replica_up: self.child.is_some() && self.starting.is_none(),
            delivered_up_to: manager.delivered_up_to(),
            executed_up_to: manager.executed_up_to(),
            buffered: manager.buffered() as u64,
            replacements: stats.replaced_wrong + stats.replaced_crash + stats.replaced_behind,
            reported_wrong: manager.reported_wrong(manager.replica_id()),
            results_sent: stats.results_sent,
            replica_pid: self.child.as_ref().and_then(|replica| replica.child.id()).unwrap_or(0),
            replica_state,
        }
    }

    /// Answers every waiting status request, with the replica's state if it has just been reported.
    async fn answer_pending_status(&mut self, replica_state: Option<ReplicaState>, expired_only_at_ms: Option<u64>) {
        let (due, waiting): (Vec<PendingStatus>, Vec<PendingStatus>) = std::mem::take(&mut self.pending_status)
            .into_iter()
            .partition(|pending| expired_only_at_ms.is_none_or(|now_ms| pending.deadline_ms <= now_ms));
        self.pending_status = waiting;
        if due.is_empty() {
            return;
        }
        let status = self.rm_status(replica_state);
        for pending in due {
            let reply = StatusReply::Status { nonce: pending.nonce, status };
            let _ = self.manager_endpoint.send_to(&reply.encode_version(pending.version), pending.requester).await;
        }
    }

    async fn on_status_request(&mut self, request: StatusRequest, version: u8, from: SocketAddr) {
        match request {
            StatusRequest::Status { nonce } => {
                let replica_running = self.child.is_some() && self.starting.is_none();
                if version < 2 || !replica_running {
                    let reply = StatusReply::Status { nonce, status: self.rm_status(None) };
                    let _ = self.manager_endpoint.send_to(&reply.encode_version(version), from).await;
                    return;
                }
                // Ask the replica for its seq and digest; the answer (or the deadline) completes the reply.
                let duplicate =
                    self.pending_status.iter().any(|pending| pending.requester == from && pending.nonce == nonce);
                if !duplicate && self.pending_status.len() < STATUS_PENDING_MAX {
                    let deadline_ms = self.now_ms() + STATUS_REPLICA_WAIT_MS;
                    self.pending_status.push(PendingStatus { requester: from, nonce, version, deadline_ms });
                }
                self.send_to_replica(&ToReplica::Status).await;
            }
            StatusRequest::InjectFault { nonce, fault } => {
                if self.child.is_none() || self.starting.is_some() {
                    let reply = StatusReply::FaultFailed { nonce, reason: "no replica is running".to_string() };
                    let _ = self.manager_endpoint.send_to(&reply.encode(), from).await;
                    return;
                }
                let now_ms = self.now_ms();
                self.audit.line(format_args!("inject_fault fault={fault} incarnation={}", self.driver_incarnation));
                self.pending_fault = Some(PendingFault {
                    requester: from,
                    nonce,
                    fault,
                    incarnation: self.driver_incarnation,
                    deadline_ms: now_ms + FAULT_CONFIRM_MS,
                    next_send_ms: now_ms + FAULT_RESEND_MS,
                });
                self.send_to_replica(&ToReplica::InjectFault(fault)).await;
            }
        }
    }

    async fn on_replica_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        if from != self.control {
            return;
        }
        let incarnation = self.driver_incarnation;
        let now_ms = self.now_ms();
        match FromReplica::decode(bytes) {
            Ok(FromReplica::Executed { next_expected, results }) => {
                let results = results.into_iter().map(|(seq, bytes)| (seq, Bytes::from(bytes))).collect();
                self.manager.handle_executed(now_ms, incarnation, next_expected, results);
            }
            Ok(FromReplica::Status { next_expected, digest }) => {
                if self.starting.as_ref().is_some_and(|starting| starting.incarnation == incarnation) {
                    self.starting = None;
                    self.failed_starts = 0;
                    if next_expected != 1 {
                        tracing::warn!(next_expected, "a freshly started replica is not empty");
                    }
                    self.manager.handle_replica_started(now_ms, incarnation);
                } else if !self.pending_status.is_empty() {
                    let state = ReplicaState { executed_up_to: next_expected.saturating_sub(1), digest };
                    self.answer_pending_status(Some(state), None).await;
                }
            }
            Ok(FromReplica::Snapshot { executed_up_to, snapshot }) => {
                let size = snapshot.len();
                self.audit.line(format_args!("snapshot_taken seq={executed_up_to} bytes={size}"));
                self.manager.handle_snapshot_taken(now_ms, incarnation, executed_up_to, Bytes::from(snapshot));
            }
            Ok(FromReplica::Restored { next_expected }) => {
                self.audit.line(format_args!("restored incarnation={incarnation} next_expected={next_expected}"));
                self.manager.handle_restored(now_ms, incarnation, next_expected);
            }
            Ok(FromReplica::FaultSet(fault)) => {
                if let Some(pending) = self.pending_fault.take_if(|pending| pending.fault == fault) {
                    self.audit.line(format_args!("fault_set fault={fault} incarnation={incarnation}"));
                    let reply = StatusReply::FaultSet { nonce: pending.nonce, incarnation, fault };
                    let _ = self.manager_endpoint.send_to(&reply.encode(), pending.requester).await;
                }
            }
            Err(error) => tracing::debug!(%error, "undecodable replica answer dropped"),
        }
    }

    fn on_probe_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        if !matches!(FromReplica::decode(bytes), Ok(FromReplica::Status { .. })) {
            return;
        }
        let answered: Vec<u64> =
            self.probes.iter().filter(|(_, probe)| probe.addr == from).map(|(&probe_id, _)| probe_id).collect();
        let now_ms = self.now_ms();
        for probe_id in answered {
            self.probes.remove(&probe_id);
            self.manager.handle_probe_answered(now_ms, probe_id);
        }
    }
}

/// The booking request in an ordered payload. Every RM maps an undecodable payload (the front end never sends one)
/// to the same invalid request, so every replica still executes the seq and answers alike (`INVALID_ID`).
fn decode_request(payload: &[u8], seq: u64) -> booking::Request {
    booking::Request::decode(payload).unwrap_or_else(|error| {
        tracing::warn!(seq, %error, "undecodable request payload; executed as an invalid request");
        booking::Request {
            user_id: String::new(),
            operation: booking::Operation::GetBookingSchedule { customer_id: String::new() },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_respawn_gap_doubles_with_each_failed_start_up_to_the_cap() {
        let gaps: Vec<u64> = (0..8).map(respawn_gap_ms).collect();
        assert_eq!(gaps, [200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
        assert_eq!(respawn_gap_ms(u32::MAX), RESPAWN_MAX_MS);
    }
}
