//! The replicated backend: every request is ordered by the sequencer, executed by every replica, and voted on.
//!
//! ```text
//!  handler ─submit─▶ driver ──SubmitterNode (ordering socket)──▶ sequencer ──▶ RMs ──▶ replicas
//!  handler ◀oneshot─ driver ◀─ResultMessage/Membership (results socket)──────┘
//!                     │ Voter (round = request_id)
//!                     └─Report{Wrong|Suspected}──▶ every RM
//! ```
//!
//! One driver task owns the [`Voter`], the map of waiting callers and the results socket; the ordering protocol
//! runs in its own [`SubmitterNode`] task on a second socket (the submitter shell treats every datagram on its
//! socket as an ordering message, so results cannot share it). Per request the driver:
//! - gives it the next `request_id` (starting at the process's start time in microseconds, so a restarted front
//!   end never reuses ids the sequencer deduplicates on), submits `Request::encode()` and opens a voter round;
//! - feeds every [`ResultMessage`] whose incarnation is not older than the replica's known one into the voter;
//! - on [`Event::Decided`] decodes the agreed bytes and answers; on [`Event::Unavailable`] answers
//!   [`BackendError::Timeout`] (a ServiceUnavailable fault, never a guess);
//! - sends [`Event::Wrong`] and [`Event::Suspected`] as [`Report`]s to every replica manager. Wrong reports are
//!   all sent (each carries the consecutive count); a report that reached the replacement limit is repeated every
//!   [`REPLACE_REPORT_RETRY_MS`] until the replica's manager announces a newer incarnation, since a lost one would
//!   leave the liar out of the vote for good. Suspicions come once per round the replica missed, so they repeat by
//!   themselves while it stays silent; they are thinned to one per [`SUSPECT_REPORT_INTERVAL_MS`] per replica.
//! - asks again for results lost on the way back: a round still undecided [`ReplicatedSettings::result_resend_ms`]
//!   after it opened gets a [`ResendResult`] to the manager of every replica in the vote whose result it lacks,
//!   repeated every interval until the round ends (managers answer from their cache of sent results; the voter
//!   ignores a second copy). Without it a request whose results were lost at two of three managers would wait for
//!   the request timeout and answer Unavailable although every replica executed it;
//! - applies a [`Membership`] only when its `(incarnation, in_vote)` is higher than the one it knows (managers
//!   repeat theirs), excluding or re-including the replica in the vote.
//!
//! Each answered request is logged as `request_id`, `seq` (from the replicas' results, the same seq the
//! sequencer's acknowledgement carries), operation, code and latency; every Wrong and Suspected event is logged.
//! `GET /status` (see [`ReplicatedBackend::status_json`]) reports the vote's view of every replica.
//!
//! Deliberately not here: HTTP, SOAP, ordering retries (the submitter core), replica supervision (the RMs).

use crate::backend::{Answered, Backend, BackendError};
use crate::logging::JobLog;
use crate::wake_timer::WakeTimer;
use booking::{Request, Response};
use bytes::Bytes;
use manager::{Membership, Message, ReplicaId, Report, ResendResult, ResultMessage};
use ordering::{NodeId, SubmitterConfig};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use udp::ordering_shell::SubmitterNode;
use voting::{Event, Mode, Voter, VoterConfig};

/// How often a "replace it" report (consecutive wrong results at the limit) is repeated until the replica's
/// manager announces a newer incarnation.
pub const REPLACE_REPORT_RETRY_MS: u64 = 200;

/// Suspicion reports about one replica are sent at most this often (every round it misses raises one).
pub const SUSPECT_REPORT_INTERVAL_MS: u64 = 50;

/// Seqs of recent rounds are kept for reports about late results; beyond this many the oldest half is dropped.
const SEQ_MEMORY_MAX: usize = 65_536;

/// The shortest interval between requests to re-send a round's missing results (a configured 0 would spin).
const RESULT_RESEND_FLOOR_MS: u64 = 10;

/// Capacity of the channel from connection tasks to the driver (bursts only: one request per connection).
const COMMAND_CHANNEL_CAPACITY: usize = 4096;

/// Most datagrams or commands taken per driver turn before voter events are handled and output flushed.
const DRAIN_MAX: usize = 256;

/// Everything the replicated backend needs to know about the deployment.
#[derive(Clone, Debug)]
pub struct ReplicatedSettings {
    /// The front end's ordering node id (the sequencer deduplicates per node id and request id).
    pub node_id: u16,
    /// The front end's ordering socket (submissions out, acceptances in).
    pub ordering_udp: SocketAddr,
    /// The front end's results socket (results and memberships in, reports out).
    pub results_udp: SocketAddr,
    /// The sequencer's address.
    pub sequencer: SocketAddr,
    /// The sequencer's ordering node id.
    pub sequencer_node_id: u16,
    /// The sequencer epoch to start in.
    pub epoch: u64,
    /// Every replica manager: replica id and the manager's address.
    pub managers: Vec<(ReplicaId, SocketAddr)>,
    /// The vote.
    pub voter: VoterConfig,
    /// Fault injection on the front end's sends (both sockets).
    pub faults: udp::LinkFaults,
    /// How long the submitter waits for the sequencer's acceptance before sending again.
    pub submit_retry_ms: u64,
    /// An undecided round asks the managers whose result it lacks to re-send it after this long, and again every
    /// this long (at least `RESULT_RESEND_FLOOR_MS`).
    pub result_resend_ms: u64,
}

impl ReplicatedSettings {
    /// The settings of `config`'s `[frontend]`, `[sequencer]`, `[[replicas]]`, `[replication]` and `[faults]`.
    pub fn from_config(config: &config::Config) -> ReplicatedSettings {
        let faults = &config.faults;
        let ids: Vec<ReplicaId> = config.replicas.iter().map(|replica| replica.id).collect();
        let replication = &config.replication;
        let voter = VoterConfig {
            mode: match config.frontend.vote {
                config::VoteMode::Software => Mode::Software,
                config::VoteMode::Crash => Mode::Crash,
            },
            faulty_max: replication.faulty_max,
            wrong_limit: replication.wrong_limit,
            suspect_floor_ms: replication.suspect_floor_ms,
            latency_window: replication.latency_window.max(1),
            request_timeout_ms: config.frontend.request_timeout_ms,
            ..VoterConfig::software(ids)
        };
        ReplicatedSettings {
            node_id: config.frontend.node_id,
            ordering_udp: config.frontend.udp,
            results_udp: config.frontend.results,
            sequencer: config.sequencer.addr,
            sequencer_node_id: config.sequencer.node_id,
            epoch: config.sequencer.epoch,
            managers: config.replicas.iter().map(|replica| (replica.id, replica.manager)).collect(),
            voter,
            faults: udp::LinkFaults {
                drop: faults.drop,
                duplicate: faults.duplicate,
                reorder: faults.reorder,
                delay_ms: faults.delay_ms,
            },
            submit_retry_ms: config.frontend.retry_ms.max(1),
            result_resend_ms: replication.result_resend_ms,
        }
    }
}

/// A request on its way to the driver, or a question about the driver's state.
#[derive(Debug)]
enum Command {
    Execute { request: Request, reply: oneshot::Sender<Result<Answered, BackendError>> },
    Status(oneshot::Sender<String>),
}

/// The [`Backend`] of replicated mode. Dropping it stops the driver task and the submitter.
#[derive(Debug)]
pub struct ReplicatedBackend {
    commands: mpsc::Sender<Command>,
    ordering_addr: SocketAddr,
    results_addr: SocketAddr,
}

impl ReplicatedBackend {
    /// Binds both sockets, starts the submitter and spawns the driver on the current tokio runtime.
    pub async fn start(settings: ReplicatedSettings) -> io::Result<ReplicatedBackend> {
        let ordering_endpoint = Arc::new(udp::Endpoint::bind(settings.ordering_udp, settings.faults.clone()).await?);
        let results_endpoint = Arc::new(udp::Endpoint::bind(settings.results_udp, settings.faults.clone()).await?);
        let ordering_addr = ordering_endpoint.local_addr()?;
        let results_addr = results_endpoint.local_addr()?;
        let submitter_config = SubmitterConfig {
            retry_interval_ms: settings.submit_retry_ms,
            epoch: settings.epoch,
            ..SubmitterConfig::new(NodeId(settings.node_id), NodeId(settings.sequencer_node_id))
        };
        let peers = HashMap::from([(NodeId(settings.sequencer_node_id), settings.sequencer)]);
        let submitter = SubmitterNode::spawn(ordering_endpoint, submitter_config, peers).map_err(io::Error::other)?;
        let (commands, receiver) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
        let driver = Driver::new(settings, submitter, results_endpoint, receiver);
        tokio::spawn(driver.run());
        Ok(ReplicatedBackend { commands, ordering_addr, results_addr })
    }

    /// The bound ordering socket (useful when configured with port 0).
    pub fn ordering_addr(&self) -> SocketAddr {
        self.ordering_addr
    }

    /// The bound results socket (where replica managers must send results).
    pub fn results_addr(&self) -> SocketAddr {
        self.results_addr
    }

    /// The driver's view as one JSON object: `{"component":"frontend","mode":"replicated","vote":...,
    /// "requests":n,"decided":n,"unavailable":n,"last_seq":n,"open_rounds":n,"suspect_after_ms":n,
    /// "replicas":[{"id":1,"incarnation":1,"in_vote":true,"consecutive_wrong":0,"wrong":n,"suspected":n,
    /// "replacements":n},...]}`. `replacements` counts the new incarnations the front end has seen announced.
    pub async fn status_json(&self) -> Result<String, BackendError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Status(reply)).await.map_err(|_| BackendError::Stopped)?;
        answer.await.map_err(|_| BackendError::Stopped)
    }
}

impl Backend for ReplicatedBackend {
    async fn answer(&self, request: Request) -> Result<Answered, BackendError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Execute { request, reply }).await.map_err(|_| BackendError::Stopped)?;
        answer.await.unwrap_or(Err(BackendError::Stopped))
    }

    async fn status(&self) -> Option<String> {
        self.status_json().await.ok()
    }
}

/// A caller waiting for its round.
#[derive(Debug)]
struct Waiting {
    /// Handed back with the answer (the caller renders from it).
    request: Request,
    reply: oneshot::Sender<Result<Answered, BackendError>>,
    arrived: Instant,
    /// Replicas whose result for this round arrived (for `ResendResult`).
    answered: Vec<ReplicaId>,
}

/// What the front end knows about one replica.
#[derive(Debug)]
struct ReplicaView {
    manager: SocketAddr,
    incarnation: u64,
    in_vote: bool,
    wrong_reports: u64,
    suspicions: u64,
    /// New incarnations announced since the front end started.
    replacements: u64,
    /// When a suspicion about it was last reported.
    last_suspect_report_ms: Option<u64>,
    /// A report at the replacement limit, repeated until a newer incarnation is announced: `(incarnation then,
    /// report, next repeat)`.
    pending_replace: Option<(u64, Report, u64)>,
}

/// The task that owns the vote.
struct Driver {
    settings: ReplicatedSettings,
    submitter: SubmitterNode,
    results: Arc<udp::Endpoint>,
    commands: mpsc::Receiver<Command>,
    voter: Voter,
    waiting: HashMap<u64, Waiting>,
    /// The seq of each recent round, from its results (for log lines and reports, which name the seq).
    seqs: HashMap<u64, u64>,
    replicas: BTreeMap<ReplicaId, ReplicaView>,
    /// `(when, request_id)` of the next `ResendResult` check of each open round, in time order (every entry is
    /// pushed `resend interval` after now); entries of rounds already answered are skipped when they come up.
    resends: VecDeque<(u64, u64)>,
    /// `ResendResult` messages sent.
    resend_requests: u64,
    next_request_id: u64,
    /// Time origin of the voter's milliseconds.
    start: Instant,
    /// Reused buffer for encoding reports.
    encode_buffer: Vec<u8>,
    requests: u64,
    decided: u64,
    unavailable: u64,
    last_seq: u64,
    /// Where the one line per decided round goes (see [`crate::logging`]); `None` logs it through `tracing`.
    job_log: Option<&'static JobLog>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("next_request_id", &self.next_request_id).finish_non_exhaustive()
    }
}

impl Driver {
    fn new(
        settings: ReplicatedSettings,
        submitter: SubmitterNode,
        results: Arc<udp::Endpoint>,
        commands: mpsc::Receiver<Command>,
    ) -> Driver {
        let replicas = settings
            .managers
            .iter()
            .map(|&(id, manager)| {
                let view = ReplicaView {
                    manager,
                    incarnation: 1,
                    in_vote: true,
                    wrong_reports: 0,
                    suspicions: 0,
                    replacements: 0,
                    last_suspect_report_ms: None,
                    pending_replace: None,
                };
                (id, view)
            })
            .collect();
        let start_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |since| since.as_micros() as u64);
        Driver {
            voter: Voter::new(settings.voter.clone()),
            settings,
            submitter,
            results,
            commands,
            waiting: HashMap::with_capacity(4096),
            seqs: HashMap::with_capacity(4096),
            replicas,
            resends: VecDeque::with_capacity(4096),
            resend_requests: 0,
            next_request_id: start_us.max(1),
            start: Instant::now(),
            encode_buffer: Vec::with_capacity(64),
            requests: 0,
            decided: 0,
            unavailable: 0,
            last_seq: 0,
            job_log: JobLog::installed(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    async fn run(mut self) {
        tracing::info!(
            node_id = self.settings.node_id,
            sequencer = %self.settings.sequencer,
            first_request_id = self.next_request_id,
            mode = ?self.settings.voter.mode,
            "replicated driver started"
        );
        let mut timer = WakeTimer::default();
        loop {
            if let Some(ms) = self.next_wake_ms() {
                timer.arm_no_later_than((self.start + std::time::Duration::from_millis(ms)).into());
            }
            tokio::select! {
                biased;
                received = self.results.recv_from() => {
                    match received {
                        Ok((bytes, from)) => self.on_datagram(&bytes, from),
                        Err(error) => tracing::warn!(%error, "receiving on the results socket failed"),
                    }
                    for _ in 0..DRAIN_MAX {
                        match self.results.try_recv_from() {
                            Ok(Some((bytes, from))) => self.on_datagram(&bytes, from),
                            Ok(None) => break,
                            Err(error) => {
                                tracing::warn!(%error, "receiving on the results socket failed");
                                break;
                            }
                        }
                    }
                }
                command = self.commands.recv() => {
                    let Some(command) = command else { break };
                    self.on_command(command);
                    for _ in 0..DRAIN_MAX {
                        match self.commands.try_recv() {
                            Ok(command) => self.on_command(command),
                            Err(_) => break,
                        }
                    }
                }
                () = timer.fired() => {
                    let now_ms = self.now_ms();
                    self.voter.handle_timeout(now_ms);
                    self.repeat_replace_reports(now_ms).await;
                    self.request_resends(now_ms).await;
                }
            }
            self.handle_events().await;
        }
        tracing::info!(resend_requests = self.resend_requests, "replicated driver stopped");
        if let Err(error) = self.submitter.shutdown().await {
            tracing::warn!(%error, "the submitter had stopped with an error");
        }
    }

    /// The next moment the driver must act without input. A voter deadline already passed is taken as "in 1 ms"
    /// (defensive: should the voter ever name a deadline it does not act on, that costs at most a thousand idle
    /// wake-ups a second, never a busy loop).
    fn next_wake_ms(&self) -> Option<u64> {
        let now_ms = self.now_ms();
        let voter = self.voter.poll_timeout().map(|ms| ms.max(now_ms + 1));
        let repeat = self.replicas.values().filter_map(|view| view.pending_replace.map(|(_, _, at)| at)).min();
        let resend = self.resends.front().map(|&(at, _)| at);
        [voter, repeat, resend].into_iter().flatten().min()
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Execute { request, reply } => self.submit(request, reply),
            Command::Status(reply) => {
                let _ = reply.send(self.status_json());
            }
        }
    }

    fn submit(&mut self, request: Request, reply: oneshot::Sender<Result<Answered, BackendError>>) {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.requests += 1;
        // The acceptance is not awaited: the seq comes back with every result, and a request the sequencer never
        // accepts ends as an Unavailable round.
        drop(self.submitter.submit(request_id, Bytes::from(request.encode())));
        let now_ms = self.now_ms();
        self.voter.open(request_id, now_ms);
        self.resends.push_back((now_ms + self.resend_interval_ms(), request_id));
        self.waiting.insert(request_id, Waiting { request, reply, arrived: Instant::now(), answered: Vec::new() });
    }

    fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        match Message::decode(bytes) {
            Ok(Message::Result(result)) => self.on_result(result),
            Ok(Message::Membership(membership)) => self.on_membership(membership),
            Ok(other) => tracing::debug!(%from, message = ?other, "unexpected message on the results socket"),
            Err(error) => tracing::debug!(%from, %error, "undecodable datagram on the results socket"),
        }
    }

    fn on_result(&mut self, result: ResultMessage) {
        let ResultMessage { replica_id, incarnation, seq, request_id, response } = result;
        let Some(view) = self.replicas.get(&replica_id) else {
            tracing::debug!(replica_id, "result from a replica not in the configuration");
            return;
        };
        if incarnation < view.incarnation {
            return; // from a replica already replaced
        }
        if self.seqs.len() >= SEQ_MEMORY_MAX {
            let keep_from = self.next_request_id.saturating_sub(SEQ_MEMORY_MAX as u64 / 2);
            self.seqs.retain(|&id, _| id >= keep_from);
        }
        self.seqs.insert(request_id, seq);
        self.last_seq = self.last_seq.max(seq);
        if let Some(waiting) = self.waiting.get_mut(&request_id)
            && !waiting.answered.contains(&replica_id)
        {
            waiting.answered.push(replica_id);
        }
        let now_ms = self.now_ms();
        self.voter.result(request_id, replica_id, &response, now_ms);
    }

    fn on_membership(&mut self, membership: Membership) {
        let Membership { replica_id, incarnation, in_vote } = membership;
        let Some(view) = self.replicas.get_mut(&replica_id) else { return };
        if membership.key() <= (view.incarnation, view.in_vote) {
            return; // a repeat, or older than what we know
        }
        if incarnation > view.incarnation {
            view.replacements += incarnation - view.incarnation;
        }
        view.incarnation = incarnation;
        view.in_vote = in_vote;
        if view.pending_replace.is_some_and(|(then, _, _)| incarnation > then) {
            view.pending_replace = None;
        }
        tracing::info!(replica_id, incarnation, in_vote, "membership");
        self.voter.set_excluded(replica_id, !in_vote);
    }

    /// Carries out everything the voter decided.
    async fn handle_events(&mut self) {
        while let Some(event) = self.voter.poll_event() {
            match event {
                Event::Decided { round, result } => self.answer(round, result),
                Event::Unavailable { round } => {
                    self.unavailable += 1;
                    let timeout_ms = self.settings.voter.request_timeout_ms;
                    if let Some(waiting) = self.waiting.remove(&round) {
                        tracing::warn!(
                            request_id = round,
                            seq = self.seqs.get(&round).copied().unwrap_or(0),
                            op = waiting.request.operation.name(),
                            "no agreeing majority in time: unavailable"
                        );
                        let _ = waiting.reply.send(Err(BackendError::Timeout { timeout_ms }));
                    }
                }
                Event::Wrong { round, replica, consecutive } => {
                    let seq = self.seq_of(round);
                    tracing::warn!(request_id = round, seq, replica, consecutive, "wrong result");
                    let report = Report::Wrong { replica_id: replica, seq, request_id: round, consecutive };
                    let now_ms = self.now_ms();
                    let limit = self.settings.voter.wrong_limit;
                    if let Some(view) = self.replicas.get_mut(&replica) {
                        view.wrong_reports += 1;
                        if consecutive >= limit {
                            view.pending_replace = Some((view.incarnation, report, now_ms + REPLACE_REPORT_RETRY_MS));
                        }
                    }
                    self.report(report).await;
                }
                Event::Suspected { round, replica } => {
                    let seq = self.seq_of(round);
                    let now_ms = self.now_ms();
                    let Some(view) = self.replicas.get_mut(&replica) else { continue };
                    view.suspicions += 1;
                    if view.last_suspect_report_ms.is_some_and(|at| now_ms < at + SUSPECT_REPORT_INTERVAL_MS) {
                        continue;
                    }
                    view.last_suspect_report_ms = Some(now_ms);
                    tracing::warn!(request_id = round, seq, replica, "suspected of a crash");
                    self.report(Report::Suspected { replica_id: replica, seq, request_id: round }).await;
                }
            }
        }
        self.prune_resends();
    }

    /// The seq of a round, from its results; `u64::MAX` when none arrived (the manager then cannot tie the report
    /// to an incarnation by seq and relies on its other checks).
    fn seq_of(&self, round: u64) -> u64 {
        self.seqs.get(&round).copied().unwrap_or(u64::MAX)
    }

    fn answer(&mut self, round: u64, result: Vec<u8>) {
        let Some(waiting) = self.waiting.remove(&round) else { return };
        self.decided += 1;
        let seq = self.seqs.get(&round).copied().unwrap_or(0);
        let latency_us = waiting.arrived.elapsed().as_micros() as u64;
        let answer = Response::decode(&result)
            .map_err(|error| BackendError::BadResult { job_id: round, reason: error.to_string() });
        match &answer {
            Ok(response) => match self.job_log {
                Some(log) => log.decided(
                    SystemTime::now(),
                    round,
                    seq,
                    waiting.request.operation.name(),
                    response.code.as_str(),
                    latency_us,
                ),
                None => tracing::info!(
                    request_id = round,
                    seq,
                    op = waiting.request.operation.name(),
                    code = response.code.as_str(),
                    us = latency_us
                ),
            },
            Err(error) => tracing::error!(request_id = round, seq, op = waiting.request.operation.name(), %error),
        }
        let _ = waiting.reply.send(answer.map(|response| Answered { request: waiting.request, response }));
    }

    /// Sends `report` to every replica manager (reports are idempotent; loss is covered by repetition where it
    /// matters).
    async fn report(&mut self, report: Report) {
        self.encode_buffer.clear();
        Message::Report(report).encode_into(&mut self.encode_buffer);
        for view in self.replicas.values() {
            if let Err(error) = self.results.send_to(&self.encode_buffer, view.manager).await {
                tracing::debug!(%error, manager = %view.manager, "report not sent");
            }
        }
    }

    fn resend_interval_ms(&self) -> u64 {
        self.settings.result_resend_ms.max(RESULT_RESEND_FLOOR_MS)
    }

    /// Asks, for every round still undecided at its check time, the managers of the replicas in the vote whose
    /// result has not arrived to send it again; checks the round again one interval later.
    async fn request_resends(&mut self, now_ms: u64) {
        let interval_ms = self.resend_interval_ms();
        let front_end = self.settings.node_id;
        while let Some(&(at, request_id)) = self.resends.front() {
            if at > now_ms {
                break;
            }
            self.resends.pop_front();
            let Some(waiting) = self.waiting.get(&request_id) else { continue };
            let missing: Vec<SocketAddr> = self
                .replicas
                .iter()
                .filter(|(id, view)| view.in_vote && !waiting.answered.contains(id))
                .map(|(_, view)| view.manager)
                .collect();
            self.resends.push_back((now_ms + interval_ms, request_id));
            if missing.is_empty() {
                continue;
            }
            tracing::debug!(request_id, managers = missing.len(), "asking for missing results again");
            self.encode_buffer.clear();
            Message::ResendResult(ResendResult { front_end, request_id }).encode_into(&mut self.encode_buffer);
            for manager in missing {
                self.resend_requests += 1;
                if let Err(error) = self.results.send_to(&self.encode_buffer, manager).await {
                    tracing::debug!(%error, %manager, "resend request not sent");
                }
            }
        }
    }

    /// Drops check times of rounds already answered from the front of the queue (so they cause no wake-up).
    fn prune_resends(&mut self) {
        while self.resends.front().is_some_and(|(_, request_id)| !self.waiting.contains_key(request_id)) {
            self.resends.pop_front();
        }
    }

    async fn repeat_replace_reports(&mut self, now_ms: u64) {
        let due: Vec<Report> = self
            .replicas
            .values_mut()
            .filter_map(|view| {
                let (then, report, at) = view.pending_replace?;
                (at <= now_ms).then(|| {
                    view.pending_replace = Some((then, report, now_ms + REPLACE_REPORT_RETRY_MS));
                    report
                })
            })
            .collect();
        for report in due {
            tracing::info!(?report, "repeating a replacement report");
            self.report(report).await;
        }
    }

    fn status_json(&self) -> String {
        let vote = match self.settings.voter.mode {
            Mode::Software => "software",
            Mode::Crash => "crash",
        };
        let mut out = String::with_capacity(512);
        let _ = write!(
            out,
            "{{\"component\":\"frontend\",\"mode\":\"replicated\",\"vote\":\"{vote}\",\"requests\":{},\"decided\":{},\
             \"unavailable\":{},\"last_seq\":{},\"open_rounds\":{},\"suspect_after_ms\":{},\"replicas\":[",
            self.requests,
            self.decided,
            self.unavailable,
            self.last_seq,
            self.voter.open_rounds(),
            self.voter.suspect_after_ms()
        );
        for (index, (id, view)) in self.replicas.iter().enumerate() {
            let _ = write!(
                out,
                "{}{{\"id\":{id},\"incarnation\":{},\"in_vote\":{},\"consecutive_wrong\":{},\"wrong\":{},\
                 \"suspected\":{},\"replacements\":{}}}",
                if index == 0 { "" } else { "," },
                view.incarnation,
                view.in_vote,
                self.voter.consecutive_wrong(*id),
                view.wrong_reports,
                view.suspicions,
                view.replacements
            );
        }
        out.push_str("]}");
        out
    }
}
