//! The standalone backend: one replica, no sequencer, no voting.
//!
//! Connection tasks submit requests over a channel to a single driver task, which owns the whole job queue (no lock
//! on the hot path). The driver gives each request the next job id and a timestamp, and drives the replica at
//! `config.standalone.control` with `replica_api` messages over one `udp::Endpoint` (go-back-N):
//!
//! ```text
//!  handler ─submit─▶ driver ──Execute{jobs ≤ 64}──▶ replica
//!  handler ◀oneshot─ driver ◀─Executed{next_expected, results}─┘
//! ```
//!
//! - Before the first job the driver asks the replica for `Status` and numbers jobs from its `next_expected`
//!   (1 for a fresh replica), so a restarted front end never reuses ids an older incarnation already spent.
//! - Queued jobs leave in batches of up to [`replica_api::BATCH_MAX`], with at most [`IN_FLIGHT_MAX`] sent and
//!   unanswered.
//! - When the oldest unanswered job was sent `retry_ms` ago, every unanswered sent job is sent again in id order:
//!   the replica answers executed ones from its cache and executes from its `next_expected` on.
//! - A request with no answer after `request_timeout_ms` gets [`BackendError::Timeout`]; its job stays queued (ids
//!   are contiguous, so it cannot be skipped) and may still be executed later, as with any timeout.
//!
//! This module deliberately knows nothing about HTTP or SOAP. It does not survive a replica that loses its state
//! (a restarted replica expecting job 1 again): that is the replica manager's job in replicated mode.

use crate::backend::{Answered, Backend, BackendError};
use crate::logging::JobLog;
use crate::wake_timer::WakeTimer;
use booking::{Request, Response};
use replica_api::{BATCH_MAX, FromReplica, Job, ToReplica};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Most jobs sent to the replica and not yet answered. Far below the replica's result cache
/// ([`replica_api::RESULT_CACHE_MIN`]), so a retried job is always still answerable.
pub const IN_FLIGHT_MAX: usize = 1024;

/// Most jobs queued in the driver (in flight, waiting to be sent, or timed out and not yet executed). Beyond it new
/// requests fail at once with [`BackendError::Overloaded`] instead of growing memory while the replica is away.
pub const QUEUED_MAX: usize = 65_536;

/// Capacity of the channel from connection tasks to the driver. Connections have at most one request in flight
/// each, so this only absorbs bursts.
const SUBMIT_CHANNEL_CAPACITY: usize = 4096;

/// Where the replica is and how patiently to drive it.
#[derive(Clone, Debug)]
pub struct StandaloneSettings {
    /// The front end's own UDP address (results come back here).
    pub udp: SocketAddr,
    /// The replica's control address.
    pub replica: SocketAddr,
    /// Fault injection on the front end's sends.
    pub faults: udp::LinkFaults,
    /// Resend unanswered jobs after this long.
    pub retry: Duration,
    /// Give up on a request (ServiceUnavailable) after this long.
    pub request_timeout: Duration,
}

impl StandaloneSettings {
    /// The settings of `config`'s `[frontend]`, `[standalone]` and `[faults]`.
    pub fn from_config(config: &config::Config) -> StandaloneSettings {
        let faults = &config.faults;
        StandaloneSettings {
            udp: config.frontend.udp,
            replica: config.standalone.control,
            faults: udp::LinkFaults {
                drop: faults.drop,
                duplicate: faults.duplicate,
                reorder: faults.reorder,
                delay_ms: faults.delay_ms,
            },
            retry: Duration::from_millis(config.frontend.retry_ms.max(1)),
            request_timeout: Duration::from_millis(config.frontend.request_timeout_ms),
        }
    }
}

/// A request on its way to the driver, with the channel its answer goes back on.
#[derive(Debug)]
struct Submission {
    request: Request,
    reply: oneshot::Sender<Result<Answered, BackendError>>,
}

/// The [`Backend`] of standalone mode. Dropping it stops the driver task (once in-flight submissions are done
/// with), which closes the UDP endpoint.
#[derive(Debug)]
pub struct StandaloneBackend {
    /// Submissions to the driver; the driver stops when every clone of this sender is gone.
    submit: mpsc::Sender<Submission>,
    /// The bound UDP address (useful when bound to port 0).
    local_addr: SocketAddr,
}

impl StandaloneBackend {
    /// Binds the UDP endpoint and spawns the driver task on the current tokio runtime.
    pub async fn start(settings: StandaloneSettings) -> io::Result<StandaloneBackend> {
        let endpoint = udp::Endpoint::bind(settings.udp, settings.faults.clone()).await?;
        let local_addr = endpoint.local_addr()?;
        let (submit, submissions) = mpsc::channel(SUBMIT_CHANNEL_CAPACITY);
        let driver = Driver::new(Arc::new(endpoint), settings, submissions);
        tokio::spawn(driver.run());
        Ok(StandaloneBackend { submit, local_addr })
    }

    /// The front end's UDP address (where the replica's results arrive).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Backend for StandaloneBackend {
    async fn answer(&self, request: Request) -> Result<Answered, BackendError> {
        let (reply, answer) = oneshot::channel();
        self.submit.send(Submission { request, reply }).await.map_err(|_| BackendError::Stopped)?;
        answer.await.unwrap_or(Err(BackendError::Stopped))
    }
}

/// One job in the driver's queue.
#[derive(Debug)]
struct Slot {
    /// The job while it may still have to be sent; `None` once answered (or while lent to an encoder).
    job: Option<Job>,
    /// Where the answer goes; `None` once answered or timed out.
    reply: Option<oneshot::Sender<Result<Answered, BackendError>>>,
    /// The operation name, kept for the log line after the job itself is gone.
    operation: &'static str,
    /// When the request arrived (for the log line's latency).
    arrived: Instant,
    /// When the request times out.
    deadline: Instant,
    /// When the job was last sent; `None` if never.
    sent_at: Option<Instant>,
}

/// The task that owns the job queue and the replica conversation.
#[derive(Debug)]
struct Driver {
    endpoint: Arc<udp::Endpoint>,
    settings: StandaloneSettings,
    submissions: mpsc::Receiver<Submission>,
    /// Queued jobs in id order; `queue[i]` has id `base_id + i`. Slots leave the front once the replica is past
    /// them and nobody waits for their answer.
    queue: VecDeque<Slot>,
    /// The id of `queue[0]` (or of the next job when the queue is empty). Meaningless until `synced`.
    base_id: u64,
    /// Jobs with ids below this have been sent at least once.
    sent_upto: u64,
    /// The highest `next_expected` the replica has reported.
    replica_next_expected: u64,
    /// Whether the replica has told us its `next_expected` (job ids are assigned from it).
    synced: bool,
    /// When to ask for `Status` again while not yet synced.
    status_retry_at: Instant,
    /// The last timestamp given to a job; timestamps never go backwards even if the system clock does.
    last_timestamp_ms: i64,
    /// Every slot before this queue index has no waiting reply (answered or timed out), so deadline checks
    /// start here instead of rescanning expired jobs while the replica is away.
    waiting_index: usize,
    /// Reused buffer for the jobs of one Execute message.
    batch: Vec<Job>,
    /// Reused buffer for the queue indexes of the jobs lent to `batch`.
    lent: Vec<usize>,
    /// Reused buffer for one encoded Execute message.
    encoded: Vec<u8>,
    /// Where the one line per answered job goes (see [`crate::logging`]).
    job_log: Option<&'static JobLog>,
}

impl Driver {
    fn new(
        endpoint: Arc<udp::Endpoint>,
        settings: StandaloneSettings,
        submissions: mpsc::Receiver<Submission>,
    ) -> Self {
        Driver {
            endpoint,
            settings,
            submissions,
            queue: VecDeque::new(),
            base_id: 1,
            sent_upto: 1,
            replica_next_expected: 1,
            synced: false,
            status_retry_at: Instant::now(),
            last_timestamp_ms: i64::MIN,
            waiting_index: 0,
            batch: Vec::with_capacity(BATCH_MAX),
            lent: Vec::with_capacity(BATCH_MAX),
            encoded: Vec::with_capacity(16 * 1024),
            job_log: JobLog::installed(),
        }
    }

    async fn run(mut self) {
        let mut timer = WakeTimer::default();
        loop {
            let now = Instant::now();
            self.expire(now);
            self.transmit(now).await;
            if let Some(at) = self.next_wake() {
                timer.arm_no_later_than(at.into());
            }
            tokio::select! {
                biased;
                received = self.endpoint.recv_from() => match received {
                    Ok((bytes, from)) => self.on_datagram(&bytes, from),
                    Err(error) => tracing::warn!(%error, "receiving from the replica failed"),
                },
                submission = self.submissions.recv() => match submission {
                    Some(submission) => {
                        // Requests taken in one turn arrived together: one clock reading serves them all.
                        let arrived = Instant::now();
                        let wall_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
                        self.enqueue(submission, arrived, wall_ms);
                        // Take everything already waiting so that it leaves in as few datagrams as possible.
                        while let Ok(submission) = self.submissions.try_recv() {
                            self.enqueue(submission, arrived, wall_ms);
                        }
                    }
                    // Every handle is gone, and with them everyone who could wait for an answer.
                    None => break,
                },
                () = timer.fired() => {}
            }
        }
        tracing::debug!("standalone driver stopped");
    }

    /// Queues `submission`, which arrived at `now` (`wall_ms` on the system clock).
    fn enqueue(&mut self, submission: Submission, now: Instant, wall_ms: i64) {
        let Submission { request, reply } = submission;
        if self.queue.len() >= QUEUED_MAX {
            let _ = reply.send(Err(BackendError::Overloaded { queued: self.queue.len() }));
            return;
        }
        self.last_timestamp_ms = self.last_timestamp_ms.max(wall_ms);
        let id = self.base_id + self.queue.len() as u64;
        self.queue.push_back(Slot {
            operation: request.operation.name(),
            job: Some(Job { id, timestamp_ms: self.last_timestamp_ms, request }),
            reply: Some(reply),
            arrived: now,
            deadline: now + self.settings.request_timeout,
            sent_at: None,
        });
    }

    /// Answers timed-out requests with [`BackendError::Timeout`]. Before the replica is synced no job has been
    /// sent or numbered for good, so timed-out ones simply leave the queue.
    fn expire(&mut self, now: Instant) {
        let timeout_ms = self.settings.request_timeout.as_millis() as u64;
        while let Some(slot) = self.queue.get_mut(self.waiting_index) {
            if slot.reply.is_some() {
                if slot.deadline > now {
                    break; // deadlines grow with the queue position
                }
                let id = slot.job.as_ref().map_or(0, |job| job.id);
                tracing::warn!(job = id, op = slot.operation, timeout_ms, "no answer from the replica in time");
                if let Some(reply) = slot.reply.take() {
                    let _ = reply.send(Err(BackendError::Timeout { timeout_ms }));
                }
            }
            self.waiting_index += 1;
        }
        if !self.synced {
            while self.queue.front().is_some_and(|slot| slot.reply.is_none()) {
                self.queue.pop_front();
                self.waiting_index = self.waiting_index.saturating_sub(1);
            }
            self.renumber();
        }
        self.trim();
    }

    /// Drops slots from the front that the replica has executed and nobody waits for.
    fn trim(&mut self) {
        while self.base_id < self.replica_next_expected && self.queue.front().is_some_and(|slot| slot.reply.is_none()) {
            self.queue.pop_front();
            self.waiting_index = self.waiting_index.saturating_sub(1);
            self.base_id += 1;
        }
        self.sent_upto = self.sent_upto.max(self.base_id);
    }

    /// Gives queued jobs ids from `base_id` on (before sync, when nothing has been sent).
    fn renumber(&mut self) {
        for (offset, slot) in self.queue.iter_mut().enumerate() {
            if let Some(job) = slot.job.as_mut() {
                job.id = self.base_id + offset as u64;
            }
        }
    }

    /// Sends what is due: `Status` until synced; then new jobs as the window allows, and a resend of every
    /// unanswered job when the oldest one has waited `retry` since it was last sent.
    async fn transmit(&mut self, now: Instant) {
        if !self.synced {
            if !self.queue.is_empty() && now >= self.status_retry_at {
                self.status_retry_at = now + self.settings.retry;
                self.send(&ToReplica::Status.encode()).await;
            }
            return;
        }
        if let Some(oldest) = self.oldest_unanswered_sent()
            && oldest.sent_at.is_some_and(|sent_at| now >= sent_at + self.settings.retry)
        {
            let first = self.base_id + self.queue.iter().position(|slot| slot.job.is_some()).unwrap_or(0) as u64;
            tracing::debug!(from_job = first, upto_job = self.sent_upto, "resending unanswered jobs");
            self.send_range(first, self.sent_upto, now).await;
        }
        let in_flight = self.queue.iter().take((self.sent_upto - self.base_id) as usize).filter(|s| s.job.is_some());
        let room = IN_FLIGHT_MAX.saturating_sub(in_flight.count());
        let end_id = self.base_id + self.queue.len() as u64;
        let upto = end_id.min(self.sent_upto + room as u64);
        if upto > self.sent_upto {
            let from = self.sent_upto;
            self.sent_upto = upto;
            self.send_range(from, upto, now).await;
        }
    }

    fn oldest_unanswered_sent(&self) -> Option<&Slot> {
        let sent = (self.sent_upto - self.base_id) as usize;
        self.queue.iter().take(sent).find(|slot| slot.job.is_some())
    }

    /// Sends the unanswered jobs with ids in `from..upto` in batches of at most [`BATCH_MAX`].
    async fn send_range(&mut self, from: u64, upto: u64, now: Instant) {
        let start = (from - self.base_id) as usize;
        let end = (upto - self.base_id) as usize;
        let mut index = start;
        while index < end {
            // Lend the jobs to the message and take them back after encoding: no clone of any request.
            self.lent.clear();
            while index < end && self.batch.len() < BATCH_MAX {
                let slot = &mut self.queue[index];
                if let Some(job) = slot.job.take() {
                    slot.sent_at = Some(now);
                    self.batch.push(job);
                    self.lent.push(index);
                }
                index += 1;
            }
            if self.batch.is_empty() {
                continue;
            }
            let message = ToReplica::Execute { jobs: std::mem::take(&mut self.batch) };
            self.encoded.clear();
            message.encode_into(&mut self.encoded);
            let ToReplica::Execute { jobs } = message else { unreachable!("built as Execute just above") };
            self.batch = jobs;
            for (job, &index) in self.batch.drain(..).zip(&self.lent) {
                self.queue[index].job = Some(job);
            }
            self.send(&self.encoded).await;
        }
    }

    async fn send(&self, bytes: &[u8]) {
        if let Err(error) = self.endpoint.send_to(bytes, self.settings.replica).await {
            // The retry timer resends; an unreachable replica ends in request timeouts.
            tracing::debug!(%error, replica = %self.settings.replica, "sending to the replica failed");
        }
    }

    /// When the driver must wake up without input: the next request deadline, the next resend, or the next
    /// `Status` probe.
    fn next_wake(&self) -> Option<Instant> {
        let deadline = self.queue.iter().skip(self.waiting_index).find(|slot| slot.reply.is_some()).map(|s| s.deadline);
        let retry = if self.synced {
            self.oldest_unanswered_sent().and_then(|slot| slot.sent_at).map(|sent_at| sent_at + self.settings.retry)
        } else if self.queue.is_empty() {
            None
        } else {
            Some(self.status_retry_at)
        };
        match (deadline, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        if from != self.settings.replica {
            tracing::debug!(%from, "ignoring a datagram from an unknown sender");
            return;
        }
        match FromReplica::decode(bytes) {
            Ok(FromReplica::Status { next_expected, .. }) => self.on_status(next_expected),
            Ok(FromReplica::Executed { next_expected, results }) => self.on_executed(next_expected, results),
            // State transfer and fault injection answers: this driver never asks for them.
            Ok(other @ (FromReplica::Snapshot { .. } | FromReplica::Restored { .. } | FromReplica::FaultSet(_))) => {
                tracing::debug!(?other, "unexpected replica answer ignored")
            }
            Err(error) => tracing::warn!(%error, "undecodable message from the replica"),
        }
    }

    fn on_status(&mut self, next_expected: u64) {
        if self.synced {
            return;
        }
        tracing::info!(replica = %self.settings.replica, next_expected, "replica reached; numbering jobs from its next expected id");
        self.synced = true;
        self.base_id = next_expected;
        self.sent_upto = next_expected;
        self.replica_next_expected = next_expected;
        self.renumber();
    }

    fn on_executed(&mut self, next_expected: u64, results: Vec<(u64, Vec<u8>)>) {
        if !self.synced {
            // An answer to an earlier incarnation's jobs; the Status reply decides where we start.
            return;
        }
        if next_expected < self.replica_next_expected {
            tracing::warn!(
                next_expected,
                previous = self.replica_next_expected,
                "the replica went back in job ids (restarted without its state?)"
            );
        }
        self.replica_next_expected = self.replica_next_expected.max(next_expected);
        let end_id = self.base_id + self.queue.len() as u64;
        // One clock reading serves every answer of the datagram.
        let (now, wall) = (Instant::now(), SystemTime::now());
        for (id, encoded) in results {
            if id < self.base_id || id >= end_id {
                continue; // a duplicate of an answer already delivered and trimmed
            }
            let slot = &mut self.queue[(id - self.base_id) as usize];
            let Some(job) = slot.job.take() else {
                continue; // already answered
            };
            let result = Response::decode(&encoded)
                .map_err(|error| BackendError::BadResult { job_id: id, reason: error.to_string() });
            match &result {
                Ok(response) => {
                    let latency_us = now.saturating_duration_since(slot.arrived).as_micros() as u64;
                    let (operation, user_id, code) = (slot.operation, &job.request.user_id, response.code.as_str());
                    match self.job_log {
                        Some(log) => log.answered(wall, id, operation, user_id, code, latency_us),
                        None => tracing::debug!(job = id, op = operation, user = %user_id, code, us = latency_us),
                    }
                }
                Err(error) => tracing::error!(job = id, op = slot.operation, %error),
            }
            if let Some(reply) = slot.reply.take() {
                let _ = reply.send(result.map(|response| Answered { request: job.request, response }));
            }
        }
        self.trim();
    }
}
