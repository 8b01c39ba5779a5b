//! The replica manager role: feeds the ordered stream to its replica (go-back-N over job ids = seqs), forwards the
//! replica's results to the front ends, takes part in the managers' agreement on replacing crashed replicas,
//! replaces its own replica, and brings the fresh one up to date by state transfer.
//!
//! Deliberately not here: sockets, processes, clocks, the ordering member (the shell drives an
//! `ordering::Member` and hands its deliveries to `Manager::handle_delivered`), and what a request or response
//! means (payloads and results are opaque bytes; snapshots are verified by their SHA-256 only). The crate's top
//! doc states the protocol; this file implements it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use bytes::Bytes;
use ordering::{NodeId, OrderedEntry};
use sha2::{Digest, Sha256};

use crate::message::{Membership, PeerBody, PeerMessage, ReplicaId, Report, ResendResult, ResultMessage};

/// Configuration of a `Manager`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerConfig {
    /// This manager's id, which is also its replica's id.
    pub replica_id: ReplicaId,
    /// Every replica manager of the cluster, this one included (n = 3 or 4).
    pub managers: Vec<ReplicaId>,
    /// Consecutive wrong results (as counted by the front end) after which this manager replaces its replica.
    pub wrong_limit: u32,
    /// Most jobs in one `Command::Execute`.
    pub batch_jobs_max: usize,
    /// Most jobs fed to the replica beyond the last one it reported executed.
    pub window_jobs: u64,
    /// Jobs fed but not executed after this long are fed again from the replica's `next_expected` (go-back-N).
    pub job_retry_ms: u64,
    /// A probe not answered within this long counts as "dead".
    pub probe_timeout_ms: u64,
    /// A replica is not checked again within this long of the last check (suspicions come once per request).
    pub recheck_interval_ms: u64,
    /// Verdicts older than this no longer count towards a majority.
    pub verdict_ttl_ms: u64,
    /// While its own replica is known dead and not yet replaced, this manager repeats its verdict this often.
    pub verdict_retry_ms: u64,
    /// State transfer: snapshot requests, snapshot taking and restoring are retried this often.
    pub snapshot_retry_ms: u64,
    /// State transfer: how far past the donors' position a new snapshot point is chosen after a "too late".
    pub snapshot_margin_seqs: u64,
    /// A recovering replica re-enters the vote once it has executed to within this many seqs of the delivered ones.
    pub rejoin_lag_seqs: u64,
    /// Most ordered entries buffered for the replica; beyond it the shell stops draining its ordering member
    /// (`Manager::ready_for_delivery`), which back-pressures the sequencer and the front end.
    pub buffer_max: usize,
    /// This manager repeats its replica's `Membership` to the front ends this often (they drop repeats).
    pub announce_interval_ms: u64,
    /// Most recently sent results kept to answer a front end's `ResendResult` (the oldest is evicted first).
    pub result_cache_max: usize,
    /// Sole-donor rule: a recovery that has waited this long (since its replica started) with exactly one donor's
    /// snapshot, while every other manager answers that its own replica is not serving either, restores from that
    /// one snapshot (crate doc, "Two replicas down at once").
    pub sole_donor_wait_ms: u64,
}

impl ManagerConfig {
    /// Defaults suitable for loopback: wrong limit 3, batches of 64 jobs, window 256, job retry 100 ms, probe
    /// timeout 200 ms, recheck 300 ms, verdicts valid 2 s and repeated every 300 ms, snapshot retry 200 ms, margin
    /// 8 seqs, rejoin lag 16 seqs, buffer 65,536 entries, membership announced every 500 ms, the last 8,192 results
    /// kept for re-sending, a sole donor accepted after 1 s.
    pub fn new(replica_id: ReplicaId, managers: Vec<ReplicaId>) -> Self {
        ManagerConfig {
            replica_id,
            managers,
            wrong_limit: 3,
            batch_jobs_max: 64,
            window_jobs: 256,
            job_retry_ms: 100,
            probe_timeout_ms: 200,
            recheck_interval_ms: 300,
            verdict_ttl_ms: 2_000,
            verdict_retry_ms: 300,
            snapshot_retry_ms: 200,
            snapshot_margin_seqs: 8,
            rejoin_lag_seqs: 16,
            buffer_max: 65_536,
            announce_interval_ms: 500,
            result_cache_max: 8_192,
            sole_donor_wait_ms: 1_000,
        }
    }

    /// How many managers (this one included) must say "dead" before a replica is replaced: `n / 2 + 1`.
    pub fn majority(&self) -> usize {
        self.managers.len() / 2 + 1
    }
}

/// One ordered request for the replica: job id = `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The job id the replica-api driver contract uses.
    pub seq: u64,
    /// The sequencer's timestamp (the replica derives "today" from it).
    pub timestamp_ms: u64,
    /// The front end's request id.
    pub request_id: u64,
    /// The front end that submitted it (results go there).
    pub front_end: NodeId,
    /// The encoded `booking::Request`.
    pub payload: Bytes,
}

/// Why a replica is being replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceReason {
    /// The front end reported `wrong_limit` consecutive wrong results.
    Wrong,
    /// A majority of managers found it dead.
    Crash,
    /// This manager fell behind the sequencer's history (it was silent too long, e.g. its process was stopped, and
    /// the group went on without it): its replica can never be fed the entries it missed.
    Behind,
}

/// Lines for the audit log: together with the front end's and the sequencer's logs they let an auditor follow one
/// request by its `request_id` and `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audit {
    /// The ordering member delivered `seq`.
    Delivered { seq: u64, request_id: u64 },
    /// This manager's replica's result for `seq` went to the front end.
    ResultSent { seq: u64, request_id: u64 },
    /// The front end reported a wrong result.
    WrongReported { replica_id: ReplicaId, seq: u64, request_id: u64, consecutive: u32 },
    /// The front end suspected a crash.
    Suspected { replica_id: ReplicaId, seq: u64, request_id: u64 },
    /// A verdict formed here (`from` = this manager) or received from another manager.
    Verdict { from: ReplicaId, suspect: ReplicaId, incarnation: u64, alive: bool },
    /// This manager started replacing its replica; `incarnation` is the new one.
    ReplacementStarted { incarnation: u64, reason: ReplaceReason },
    /// The replica process of `incarnation` started.
    ReplicaStarted { incarnation: u64 },
    /// The replica process of `incarnation` exited.
    ReplicaExited { incarnation: u64 },
    /// A snapshot at `seq` went to a recovering manager.
    SnapshotServed { seq: u64, to: ReplicaId },
    /// Two donors' digests matched at `seq`; the fresh replica is being restored.
    SnapshotAgreed { seq: u64, digest: [u8; 32] },
    /// No second donor exists (every other manager said its replica is not serving): the fresh replica is being
    /// restored from `donor`'s snapshot alone (the sole-donor rule).
    SoleDonorRestore { seq: u64, donor: ReplicaId, digest: [u8; 32] },
    /// The replica of `incarnation` re-entered the vote; its results count from `seq` on.
    Rejoined { incarnation: u64, seq: u64 },
}

/// What the runtime must do. A closed set: a shell that implements each variant as documented runs the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Send these jobs (consecutive seqs, increasing) to the replica of `incarnation` as one replica-api
    /// `Execute`. Answers come back through `Manager::handle_executed`.
    Execute { incarnation: u64, jobs: Vec<Job> },
    /// Ask the replica of `incarnation` for its snapshot; it has been fed exactly up to `seq` and feeding is paused
    /// until `Manager::handle_snapshot_taken` brings the bytes.
    TakeSnapshot { incarnation: u64, seq: u64 },
    /// Load `snapshot` (the state after `seq`) into the fresh replica of `incarnation`, whose next job is then
    /// `seq + 1`. Answer with `Manager::handle_restored(next_expected)`. May be repeated and duplicated, so the
    /// replica must restore monotonically: a `Restore` at `seq` when its next job is already beyond `seq + 1`
    /// changes nothing (it only answers its `next_expected`); otherwise a late copy would roll back executed jobs.
    Restore { incarnation: u64, seq: u64, snapshot: Bytes },
    /// Stop the replica process of `incarnation` if it still runs (it may already be gone).
    KillReplica { incarnation: u64 },
    /// Start a fresh, empty, correct replica process and label it `incarnation`: incarnation 1 is the configured
    /// initial replica, later ones run without injected faults. Answer with `Manager::handle_replica_started`, or
    /// `handle_replica_exited` if it fails.
    StartReplica { incarnation: u64 },
    /// Check whether `replica_id`'s replica is alive (for example a replica-api `Status` to its control address,
    /// retried within the deadline). Call `Manager::handle_probe_answered(probe_id)` if it answers; silence until
    /// `probe_timeout_ms` means dead.
    Probe { probe_id: u64, replica_id: ReplicaId },
    /// Send to another replica manager.
    SendToManager { to: ReplicaId, message: PeerMessage },
    /// Send this replica's result to the front end that submitted the request.
    SendResult { front_end: NodeId, result: ResultMessage },
    /// Send to every front end.
    AnnounceMembership(Membership),
    /// Write an audit log line.
    Log(Audit),
}

/// Counters a shell may log or expose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ManagerStats {
    /// Entries delivered by the ordering member.
    pub delivered: u64,
    /// Results sent to front ends (first copies).
    pub results_sent: u64,
    /// Results sent again because a front end asked (`ResendResult`).
    pub results_resent: u64,
    /// Times the job window was fed again after `job_retry_ms` without progress.
    pub job_resends: u64,
    /// Replacements started because of wrong results.
    pub replaced_wrong: u64,
    /// Replacements started because a majority found the replica dead.
    pub replaced_crash: u64,
    /// Replacements started because this manager fell behind the sequencer's history.
    pub replaced_behind: u64,
    /// Fresh replicas that died during recovery and were started again.
    pub restarts_during_recovery: u64,
    /// Recoveries completed (replica back in the vote).
    pub rejoined: u64,
    /// Snapshots sent to recovering managers.
    pub snapshots_served: u64,
    /// "Too late" answers sent.
    pub snapshots_too_late: u64,
    /// Snapshots received whose bytes did not match their digest.
    pub snapshots_corrupt: u64,
    /// Recoveries restored from a single donor (the sole-donor rule).
    pub sole_donor_restores: u64,
    /// "Cannot donate, my replica is not serving" answers sent.
    pub snapshots_unavailable: u64,
    /// Probes started.
    pub probes: u64,
}

/// Where this manager's replica stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaPhase {
    /// In the vote (or about to be, for the initial replica): results go to the front ends.
    Serving,
    /// Replaced; the fresh process has not reported started yet.
    Starting,
    /// Collecting matching snapshots at `seq`.
    Fetching { seq: u64 },
    /// Restoring the agreed snapshot at `seq`.
    Restoring { seq: u64 },
    /// Restored; executing the entries after the snapshot before re-entering the vote.
    CatchingUp,
}

#[derive(Debug)]
struct Queued {
    job: Job,
    result_sent: bool,
}

#[derive(Debug)]
struct Check {
    probe_id: u64,
    incarnation: u64,
    deadline_ms: u64,
}

#[derive(Debug)]
struct Fetch {
    seq: u64,
    margin_seqs: u64,
    /// Highest `fed_up_to` a donor answered "too late" with during this recovery.
    too_late_max: u64,
    /// Verified snapshots at `seq` by donor.
    replies: BTreeMap<ReplicaId, ([u8; 32], Bytes)>,
    /// Managers that answered, at `seq`, that their own replica is not serving (never one in `replies`).
    unavailable: BTreeSet<ReplicaId>,
    /// When this recovery's fresh replica came up (the sole-donor rule waits from here).
    started_ms: u64,
    next_retry_ms: u64,
}

impl Fetch {
    /// The point moved: answers about the old one no longer count.
    fn move_to(&mut self, seq: u64) {
        self.seq = seq;
        self.replies.clear();
        self.unavailable.clear();
    }
}

#[derive(Debug)]
enum Phase {
    Serving,
    Starting,
    Fetching(Fetch),
    Restoring { seq: u64, snapshot: Bytes, next_retry_ms: u64 },
    CatchingUp,
}

/// The replica manager core. Drive it with the `handle_*` methods; after each call drain `poll_command` until
/// `None` and carry every command out; call `handle_timeout` at `poll_timeout`.
///
/// The ordering member's deliveries go to `handle_delivered` in seq order, each exactly once, and only while
/// `ready_for_delivery` is true (leave further entries in the member: that is the bounded buffer's back-pressure).
/// Events about the replica process carry the incarnation of the process they came from; events from an older
/// process are ignored.
#[derive(Debug)]
pub struct Manager {
    config: ManagerConfig,
    incarnation: u64,
    phase: Phase,
    /// The current incarnation's process reported started and has not exited.
    replica_up: bool,
    delivered_up_to: u64,
    /// Entries up to here are covered by the restored snapshot and are dropped on delivery.
    discard_up_to: u64,
    /// Delivered entries the replica has not executed yet: consecutive seqs.
    queue: VecDeque<Queued>,
    /// Executed jobs whose result has not arrived yet (answers can be reordered or lost): seq → (front end,
    /// request id). Bounded by `window_jobs`; the oldest go first.
    /// Jobs the replica executed whose result never reached us (its answer was lost or is late), by seq. They are
    /// asked for again every `job_retry_ms`; the replica answers them from its result cache.
    awaiting_results: BTreeMap<u64, Job>,
    /// When the awaited results are asked for again.
    awaiting_retry_ms: u64,
    /// The replica's next job id, as last reported.
    replica_next_expected: u64,
    /// Highest seq sent in the current go-back-N pass.
    fed_up_to: u64,
    /// Highest seq ever sent to the current incarnation (a snapshot cannot be taken below it).
    fed_high: u64,
    last_progress_ms: u64,
    /// Results of seqs from here on go to the front ends (`u64::MAX` while out of the vote).
    vote_first_seq: u64,
    /// Donor role: snapshot points asked for, with who asked.
    snapshot_points: BTreeMap<u64, BTreeSet<ReplicaId>>,
    /// Donor role: `(seq, retry_at_ms)` of a `TakeSnapshot` not yet answered.
    snapshot_pending: Option<(u64, u64)>,
    /// Donor role: the most recent snapshots taken, for retried requests.
    snapshot_cache: VecDeque<(u64, [u8; 32], Bytes)>,
    /// What this manager believes each replica's incarnation is (its own is authoritative).
    incarnations: BTreeMap<ReplicaId, u64>,
    /// Probes in flight, by suspect.
    checks: BTreeMap<ReplicaId, Check>,
    /// When each replica was last judged here.
    last_verdict_ms: BTreeMap<ReplicaId, u64>,
    /// Verdicts about this manager's replica at its current incarnation: voter → (alive, when).
    verdicts: BTreeMap<ReplicaId, (bool, u64)>,
    /// The current incarnation's process exited while serving.
    exit_seen: bool,
    next_verdict_retry_ms: Option<u64>,
    /// Results sent to front ends, for `ResendResult`: `(front end, request_id)` → the result as sent. Bounded by
    /// `result_cache_max` (`sent_order` holds the keys oldest first); cleared when the replica is replaced.
    sent_results: HashMap<(NodeId, u64), ResultMessage>,
    sent_order: VecDeque<(NodeId, u64)>,
    /// Latest consecutive-wrong count reported per replica (recorded for status; only the own one is acted on).
    wrong_counts: BTreeMap<ReplicaId, u32>,
    next_probe_id: u64,
    next_announce_ms: u64,
    commands: VecDeque<Command>,
    stats: ManagerStats,
}

impl Manager {
    /// A manager whose replica (incarnation 1) is about to be started: the first command is
    /// `StartReplica { incarnation: 1 }`.
    pub fn new(config: ManagerConfig, now_ms: u64) -> Self {
        assert!(config.managers.contains(&config.replica_id), "the managers must include this one");
        assert!(config.managers.len() >= 2, "replication needs at least two managers");
        assert!(config.batch_jobs_max > 0 && config.window_jobs > 0, "batch_jobs_max and window_jobs must be > 0");
        let incarnations = config.managers.iter().map(|&id| (id, 1)).collect();
        let mut manager = Manager {
            incarnation: 1,
            phase: Phase::Serving,
            replica_up: false,
            delivered_up_to: 0,
            discard_up_to: 0,
            queue: VecDeque::new(),
            awaiting_results: BTreeMap::new(),
            awaiting_retry_ms: now_ms,
            replica_next_expected: 1,
            fed_up_to: 0,
            fed_high: 0,
            last_progress_ms: now_ms,
            vote_first_seq: 1,
            snapshot_points: BTreeMap::new(),
            snapshot_pending: None,
            snapshot_cache: VecDeque::new(),
            incarnations,
            checks: BTreeMap::new(),
            last_verdict_ms: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            exit_seen: false,
            next_verdict_retry_ms: None,
            sent_results: HashMap::new(),
            sent_order: VecDeque::new(),
            wrong_counts: BTreeMap::new(),
            next_probe_id: 1,
            next_announce_ms: now_ms + config.announce_interval_ms,
            commands: VecDeque::new(),
            stats: ManagerStats::default(),
            config,
        };
        manager.commands.push_back(Command::StartReplica { incarnation: 1 });
        manager
    }

    // ----- inputs: the ordered stream and the replica -----

    /// Whether the shell may hand over the next delivered entry (the buffer is not full).
    pub fn ready_for_delivery(&self) -> bool {
        self.queue.len() < self.config.buffer_max
    }

    /// The ordering member delivered `entry`: the next seq, exactly once.
    pub fn handle_delivered(&mut self, now_ms: u64, entry: OrderedEntry) {
        assert_eq!(entry.seq, self.delivered_up_to + 1, "entries must be delivered in seq order, exactly once");
        assert!(self.ready_for_delivery(), "handle_delivered called while the buffer is full");
        self.delivered_up_to = entry.seq;
        self.stats.delivered += 1;
        self.log(Audit::Delivered { seq: entry.seq, request_id: entry.request_id });
        if entry.seq <= self.discard_up_to {
            return; // covered by the snapshot the fresh replica restores
        }
        if let Some(last) = self.queue.back() {
            assert_eq!(last.job.seq + 1, entry.seq, "the replica's queue must hold consecutive seqs");
        }
        let job = Job {
            seq: entry.seq,
            timestamp_ms: entry.timestamp_ms,
            request_id: entry.request_id,
            front_end: entry.submitter,
            payload: entry.payload,
        };
        self.queue.push_back(Queued { job, result_sent: false });
        self.feed(now_ms);
    }

    /// The ordering member learned that the sequencer's history no longer holds the entries after
    /// `delivered_up_to` (this manager was silent too long, e.g. its process was stopped, and the sequencer dropped
    /// it), and the shell rebuilt the member to deliver from `next_seq` on (`ordering::Member::new_at`). The entries
    /// in between never reach this manager, so its replica cannot be fed them: it is replaced, and the fresh one is
    /// restored by state transfer at a point at or beyond `next_seq - 1`, like after a crash. Nothing happens when
    /// no entry was skipped.
    pub fn handle_behind(&mut self, now_ms: u64, next_seq: u64) {
        if next_seq <= self.delivered_up_to + 1 {
            return;
        }
        self.delivered_up_to = next_seq - 1;
        self.queue.clear();
        self.awaiting_results.clear();
        self.begin_replacement(now_ms, ReplaceReason::Behind);
    }

    /// The replica of `incarnation` answered an `Execute` (replica-api `Executed`): its next expected job id and the
    /// results it has (new or cached), as `(seq, encoded response)`.
    pub fn handle_executed(&mut self, now_ms: u64, incarnation: u64, next_expected: u64, results: Vec<(u64, Bytes)>) {
        if incarnation != self.incarnation || !self.replica_up || !self.is_feeding() {
            return;
        }
        if next_expected > self.fed_high + 1 {
            // A replica cannot have executed what it was never fed: a stale or confused answer; ignore it.
            return;
        }
        let front_seq = self.queue.front().map(|queued| queued.job.seq);
        for (seq, response) in results {
            if seq >= next_expected {
                continue; // claims a result for a job it has not executed
            }
            let destination = match front_seq {
                Some(front_seq) if seq >= front_seq => {
                    let Some(queued) = self.queue.get_mut((seq - front_seq) as usize) else { continue };
                    if queued.result_sent {
                        continue;
                    }
                    queued.result_sent = true;
                    (queued.job.front_end, queued.job.request_id)
                }
                // Executed and dequeued, but its result was in an answer that arrived late (reordered).
                _ => match self.awaiting_results.remove(&seq) {
                    Some(job) => (job.front_end, job.request_id),
                    None => continue,
                },
            };
            if matches!(self.phase, Phase::Serving) && seq >= self.vote_first_seq {
                let (front_end, request_id) = destination;
                let result =
                    ResultMessage { replica_id: self.config.replica_id, incarnation, seq, request_id, response };
                self.remember_sent(front_end, result.clone());
                self.commands.push_back(Command::SendResult { front_end, result });
                self.stats.results_sent += 1;
                self.log(Audit::ResultSent { seq, request_id });
            }
        }
        if next_expected > self.replica_next_expected {
            self.replica_next_expected = next_expected;
            self.fed_up_to = self.fed_up_to.max(next_expected - 1);
            self.last_progress_ms = now_ms;
            while let Some(queued) = self.queue.pop_front() {
                if queued.job.seq >= next_expected {
                    self.queue.push_front(queued);
                    break;
                }
                if !queued.result_sent {
                    if self.awaiting_results.len() as u64 >= self.config.window_jobs {
                        self.awaiting_results.pop_first();
                    }
                    if self.awaiting_results.is_empty() {
                        self.awaiting_retry_ms = now_ms + self.config.job_retry_ms;
                    }
                    self.awaiting_results.insert(queued.job.seq, queued.job);
                }
            }
        }
        if matches!(self.phase, Phase::CatchingUp)
            && self.replica_next_expected - 1 + self.config.rejoin_lag_seqs >= self.delivered_up_to
        {
            self.rejoin();
        }
        self.feed(now_ms);
    }

    /// The replica of `incarnation` sent its snapshot, taken when it had executed every job up to `executed_up_to`.
    pub fn handle_snapshot_taken(&mut self, now_ms: u64, incarnation: u64, executed_up_to: u64, bytes: Bytes) {
        if incarnation != self.incarnation || self.snapshot_pending.map(|(seq, _)| seq) != Some(executed_up_to) {
            return;
        }
        let seq = executed_up_to;
        self.snapshot_pending = None;
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        let requesters = self.snapshot_points.remove(&seq).unwrap_or_default();
        for to in requesters {
            self.send_snapshot(to, seq, digest, bytes.clone());
        }
        if self.snapshot_cache.len() == 2 {
            self.snapshot_cache.pop_front();
        }
        self.snapshot_cache.push_back((seq, digest, bytes));
        self.feed(now_ms);
    }

    /// The fresh replica of `incarnation` restored the snapshot; its next job id is `next_expected`.
    pub fn handle_restored(&mut self, now_ms: u64, incarnation: u64, next_expected: u64) {
        if incarnation != self.incarnation || !self.replica_up {
            return;
        }
        let Phase::Restoring { seq, .. } = self.phase else { return };
        if next_expected != seq + 1 {
            return;
        }
        self.replica_next_expected = next_expected;
        self.fed_up_to = seq;
        self.fed_high = seq;
        self.last_progress_ms = now_ms;
        self.phase = Phase::CatchingUp;
        if self.replica_next_expected - 1 + self.config.rejoin_lag_seqs >= self.delivered_up_to {
            self.rejoin();
        }
        self.feed(now_ms);
    }

    /// The replica process of `incarnation` is up and empty (next job id 1).
    pub fn handle_replica_started(&mut self, now_ms: u64, incarnation: u64) {
        if incarnation != self.incarnation || self.replica_up {
            return;
        }
        self.replica_up = true;
        self.awaiting_results.clear();
        self.replica_next_expected = 1;
        self.fed_up_to = 0;
        self.fed_high = 0;
        self.last_progress_ms = now_ms;
        self.log(Audit::ReplicaStarted { incarnation });
        match self.phase {
            Phase::Serving => self.feed(now_ms),
            Phase::Starting => {
                // Any point not below what this manager has delivered will do: every entry after it is still
                // buffered or yet to come.
                let seq = self.delivered_up_to;
                let margin_seqs = self.config.snapshot_margin_seqs.max(1);
                let fetch = Fetch {
                    seq,
                    margin_seqs,
                    too_late_max: 0,
                    replies: BTreeMap::new(),
                    unavailable: BTreeSet::new(),
                    started_ms: now_ms,
                    next_retry_ms: 0,
                };
                self.phase = Phase::Fetching(fetch);
                self.request_snapshots(now_ms);
            }
            Phase::Fetching(_) | Phase::Restoring { .. } | Phase::CatchingUp => {}
        }
    }

    /// The replica process of `incarnation` exited (crashed, or failed to start).
    pub fn handle_replica_exited(&mut self, now_ms: u64, incarnation: u64) {
        if incarnation != self.incarnation {
            return; // the process this manager killed
        }
        self.log(Audit::ReplicaExited { incarnation });
        self.replica_up = false;
        self.snapshot_pending = None;
        self.snapshot_points.clear();
        match self.phase {
            Phase::Serving => {
                // This manager's own observation is its verdict; the others confirm by probing.
                self.exit_seen = true;
                self.form_verdict(now_ms, self.config.replica_id, incarnation, false);
                self.next_verdict_retry_ms = Some(now_ms + self.config.verdict_retry_ms);
            }
            _ => {
                // A fresh replica is not in the vote: no agreement needed to start another.
                self.stats.restarts_during_recovery += 1;
                self.incarnation += 1;
                self.phase = Phase::Starting;
                self.announce_incarnation();
                self.commands.push_back(Command::StartReplica { incarnation: self.incarnation });
            }
        }
    }

    // ----- inputs: front ends, other managers, probes -----

    /// A front end's report about a replica (sent to every manager).
    pub fn handle_report(&mut self, now_ms: u64, report: Report) {
        let me = self.config.replica_id;
        match report {
            Report::Wrong { replica_id, seq, request_id, consecutive } => {
                self.log(Audit::WrongReported { replica_id, seq, request_id, consecutive });
                self.wrong_counts.insert(replica_id, consecutive);
                if replica_id == me
                    && matches!(self.phase, Phase::Serving)
                    && seq >= self.vote_first_seq
                    && consecutive >= self.config.wrong_limit
                {
                    self.begin_replacement(now_ms, ReplaceReason::Wrong);
                }
            }
            Report::Suspected { replica_id, seq, request_id } => {
                self.log(Audit::Suspected { replica_id, seq, request_id });
                if replica_id == me && (!matches!(self.phase, Phase::Serving) || seq < self.vote_first_seq) {
                    return; // about a replica already being replaced, or an earlier incarnation
                }
                self.check(now_ms, replica_id);
            }
        }
    }

    /// A front end asks for this replica's result for one of its requests again (its first copy may have been
    /// lost). Answered from the cache of sent results; a request not there (not executed yet, evicted, or sent by
    /// an earlier incarnation) is ignored: a result not sent yet goes out when the replica produces it.
    pub fn handle_resend_result(&mut self, _now_ms: u64, request: ResendResult) {
        if !matches!(self.phase, Phase::Serving) {
            return;
        }
        let front_end = NodeId(request.front_end);
        let Some(result) = self.sent_results.get(&(front_end, request.request_id)) else { return };
        let result = result.clone();
        self.stats.results_resent += 1;
        self.commands.push_back(Command::SendResult { front_end, result });
    }

    /// A message from another replica manager.
    pub fn handle_peer(&mut self, now_ms: u64, message: PeerMessage) {
        let PeerMessage { from, from_incarnation, body } = message;
        if from == self.config.replica_id || !self.config.managers.contains(&from) {
            return;
        }
        let known = self.incarnations.entry(from).or_insert(from_incarnation);
        *known = (*known).max(from_incarnation);
        match body {
            PeerBody::Verdict { suspect, incarnation, alive } => {
                self.log(Audit::Verdict { from, suspect, incarnation, alive });
                if suspect == self.config.replica_id
                    && matches!(self.phase, Phase::Serving)
                    && incarnation == self.incarnation
                {
                    self.verdicts.insert(from, (alive, now_ms));
                    self.evaluate(now_ms);
                }
                if !alive {
                    // Someone found it dead: confirm with a check of our own (rate-limited).
                    self.check(now_ms, suspect);
                }
            }
            PeerBody::SnapshotRequest { seq } => self.serve_snapshot(now_ms, from, seq),
            PeerBody::SnapshotTooLate { seq, fed_up_to } => {
                let delivered_up_to = self.delivered_up_to;
                let Phase::Fetching(fetch) = &mut self.phase else { return };
                if seq != fetch.seq {
                    return;
                }
                fetch.too_late_max = fetch.too_late_max.max(fed_up_to);
                let next = delivered_up_to.max(fetch.too_late_max) + fetch.margin_seqs;
                fetch.move_to(next);
                fetch.margin_seqs = (fetch.margin_seqs * 2).min(4096);
                self.request_snapshots(now_ms);
            }
            PeerBody::Snapshot { seq, digest, bytes } => self.receive_snapshot(now_ms, from, seq, digest, bytes),
            PeerBody::SnapshotUnavailable { seq } => {
                let Phase::Fetching(fetch) = &mut self.phase else { return };
                if seq != fetch.seq || fetch.replies.contains_key(&from) {
                    return; // about an old point, or a late copy from before it donated
                }
                fetch.unavailable.insert(from);
                self.try_sole_donor(now_ms);
            }
        }
    }

    /// The probe `probe_id` was answered: the replica is alive.
    pub fn handle_probe_answered(&mut self, now_ms: u64, probe_id: u64) {
        let Some((&suspect, check)) = self.checks.iter().find(|(_, check)| check.probe_id == probe_id) else {
            return;
        };
        let incarnation = check.incarnation;
        self.form_verdict(now_ms, suspect, incarnation, true);
    }

    /// Runs the timers: job resends, snapshot retries, probe deadlines, verdict repeats, membership announcements.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.is_feeding()
            && self.replica_up
            && self.fed_up_to >= self.replica_next_expected
            && now_ms >= self.last_progress_ms + self.config.job_retry_ms
        {
            // Go-back-N: feed again from what the replica last said it expects.
            self.stats.job_resends += 1;
            self.fed_up_to = self.replica_next_expected - 1;
            self.last_progress_ms = now_ms;
            self.feed(now_ms);
        }
        if self.replica_up && !self.awaiting_results.is_empty() && now_ms >= self.awaiting_retry_ms {
            // Results lost on the way back: ask again; ids below the replica's next_expected are answered from its
            // result cache, never executed twice.
            self.stats.job_resends += 1;
            self.awaiting_retry_ms = now_ms + self.config.job_retry_ms;
            let jobs: Vec<Job> = self.awaiting_results.values().cloned().collect();
            for batch in jobs.chunks(self.config.batch_jobs_max) {
                self.commands.push_back(Command::Execute { incarnation: self.incarnation, jobs: batch.to_vec() });
            }
        }
        if let Some((seq, retry_at_ms)) = self.snapshot_pending
            && now_ms >= retry_at_ms
        {
            self.snapshot_pending = Some((seq, now_ms + self.config.snapshot_retry_ms));
            self.commands.push_back(Command::TakeSnapshot { incarnation: self.incarnation, seq });
        }
        let expired: Vec<(ReplicaId, u64)> = self
            .checks
            .iter()
            .filter(|(_, check)| now_ms >= check.deadline_ms)
            .map(|(&suspect, check)| (suspect, check.incarnation))
            .collect();
        for (suspect, incarnation) in expired {
            self.form_verdict(now_ms, suspect, incarnation, false);
        }
        if let Some(at) = self.next_verdict_retry_ms
            && now_ms >= at
        {
            if matches!(self.phase, Phase::Serving) && self.exit_seen {
                self.form_verdict(now_ms, self.config.replica_id, self.incarnation, false);
                self.next_verdict_retry_ms = Some(now_ms + self.config.verdict_retry_ms);
            } else {
                self.next_verdict_retry_ms = None;
            }
        }
        match &mut self.phase {
            Phase::Fetching(fetch) if now_ms >= fetch.next_retry_ms => {
                if fetch.replies.is_empty() || fetch.replies.len() + 1 >= self.config.managers.len() {
                    // Nobody could serve this point (or every donor answered and no two agreed): follow the
                    // stream, to where the donors are now.
                    let follow = self.delivered_up_to.max(fetch.too_late_max);
                    let seq = if fetch.replies.is_empty() { follow } else { follow.max(fetch.seq + 1) };
                    if seq != fetch.seq {
                        fetch.move_to(seq);
                    }
                }
                self.request_snapshots(now_ms);
            }
            Phase::Restoring { seq, snapshot, next_retry_ms } if now_ms >= *next_retry_ms => {
                *next_retry_ms = now_ms + self.config.snapshot_retry_ms;
                let command = Command::Restore { incarnation: self.incarnation, seq: *seq, snapshot: snapshot.clone() };
                self.commands.push_back(command);
            }
            _ => {}
        }
        if now_ms >= self.next_announce_ms {
            self.next_announce_ms = now_ms + self.config.announce_interval_ms;
            self.announce_membership();
        }
    }

    /// The next time `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut next = self.next_announce_ms;
        let mut consider = |at: Option<u64>| {
            if let Some(at) = at {
                next = next.min(at);
            }
        };
        if self.is_feeding() && self.replica_up && self.fed_up_to >= self.replica_next_expected {
            consider(Some(self.last_progress_ms + self.config.job_retry_ms));
        }
        if self.replica_up && !self.awaiting_results.is_empty() {
            consider(Some(self.awaiting_retry_ms));
        }
        consider(self.snapshot_pending.map(|(_, at)| at));
        consider(self.checks.values().map(|check| check.deadline_ms).min());
        consider(self.next_verdict_retry_ms);
        match &self.phase {
            Phase::Fetching(fetch) => consider(Some(fetch.next_retry_ms)),
            Phase::Restoring { next_retry_ms, .. } => consider(Some(*next_retry_ms)),
            _ => {}
        }
        Some(next)
    }

    /// The next thing the runtime must do.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    // ----- queries -----

    /// This manager's (and its replica's) id.
    pub fn replica_id(&self) -> ReplicaId {
        self.config.replica_id
    }

    /// The current incarnation of this manager's replica.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Where the replica stands.
    pub fn phase(&self) -> ReplicaPhase {
        match &self.phase {
            Phase::Serving => ReplicaPhase::Serving,
            Phase::Starting => ReplicaPhase::Starting,
            Phase::Fetching(fetch) => ReplicaPhase::Fetching { seq: fetch.seq },
            Phase::Restoring { seq, .. } => ReplicaPhase::Restoring { seq: *seq },
            Phase::CatchingUp => ReplicaPhase::CatchingUp,
        }
    }

    /// Whether the replica is in the vote with a running process.
    pub fn is_serving(&self) -> bool {
        matches!(self.phase, Phase::Serving) && self.replica_up
    }

    /// Highest seq delivered by the ordering member.
    pub fn delivered_up_to(&self) -> u64 {
        self.delivered_up_to
    }

    /// Highest seq the current replica has reported executed (or restored to).
    pub fn executed_up_to(&self) -> u64 {
        self.replica_next_expected - 1
    }

    /// Entries buffered for the replica.
    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    /// The latest consecutive-wrong count a front end reported for `replica_id`.
    pub fn reported_wrong(&self, replica_id: ReplicaId) -> u32 {
        self.wrong_counts.get(&replica_id).copied().unwrap_or(0)
    }

    /// Counters since creation.
    pub fn stats(&self) -> ManagerStats {
        self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &ManagerConfig {
        &self.config
    }

    // ----- internals -----

    fn is_feeding(&self) -> bool {
        matches!(self.phase, Phase::Serving | Phase::CatchingUp)
    }

    fn log(&mut self, audit: Audit) {
        self.commands.push_back(Command::Log(audit));
    }

    fn send_peer(&mut self, to: ReplicaId, body: PeerBody) {
        let message = PeerMessage { from: self.config.replica_id, from_incarnation: self.incarnation, body };
        self.commands.push_back(Command::SendToManager { to, message });
    }

    fn others(&self) -> Vec<ReplicaId> {
        self.config.managers.iter().copied().filter(|&id| id != self.config.replica_id).collect()
    }

    fn membership(&self) -> Membership {
        let in_vote = matches!(self.phase, Phase::Serving);
        Membership { replica_id: self.config.replica_id, incarnation: self.incarnation, in_vote }
    }

    fn announce_membership(&mut self) {
        let membership = self.membership();
        self.commands.push_back(Command::AnnounceMembership(membership));
    }

    /// Tells front ends and the other managers about a new incarnation.
    fn announce_incarnation(&mut self) {
        self.incarnations.insert(self.config.replica_id, self.incarnation);
        self.announce_membership();
    }

    /// Sends jobs the replica has not been fed yet, within the window and up to the first snapshot point; takes
    /// the snapshot when the replica has executed exactly up to that point.
    fn feed(&mut self, now_ms: u64) {
        if !self.replica_up || !self.is_feeding() || self.snapshot_pending.is_some() {
            return;
        }
        let executed_up_to = self.replica_next_expected - 1;
        let pause_at = self.snapshot_points.keys().next().copied();
        if let Some(point) = pause_at
            && executed_up_to == point
        {
            self.snapshot_pending = Some((point, now_ms + self.config.snapshot_retry_ms));
            self.commands.push_back(Command::TakeSnapshot { incarnation: self.incarnation, seq: point });
            return;
        }
        let mut limit = self.delivered_up_to.min(executed_up_to + self.config.window_jobs);
        if let Some(point) = pause_at {
            limit = limit.min(point);
        }
        let Some(front_seq) = self.queue.front().map(|queued| queued.job.seq) else { return };
        if self.fed_up_to < executed_up_to {
            self.fed_up_to = executed_up_to;
        }
        if self.fed_up_to >= limit {
            return;
        }
        if self.fed_up_to == executed_up_to {
            self.last_progress_ms = now_ms; // the window was empty: the retry clock starts now
        }
        let mut seq = self.fed_up_to + 1;
        while seq <= limit {
            let last = limit.min(seq + self.config.batch_jobs_max as u64 - 1);
            let jobs: Vec<Job> = (seq..=last).map(|seq| self.queue[(seq - front_seq) as usize].job.clone()).collect();
            debug_assert!(jobs.first().is_some_and(|job| job.seq == seq), "queue and seqs disagree");
            self.commands.push_back(Command::Execute { incarnation: self.incarnation, jobs });
            seq = last + 1;
        }
        self.fed_up_to = limit;
        self.fed_high = self.fed_high.max(limit);
    }

    /// Keeps a sent result for `ResendResult`, evicting the oldest beyond `result_cache_max`.
    fn remember_sent(&mut self, front_end: NodeId, result: ResultMessage) {
        if self.config.result_cache_max == 0 {
            return;
        }
        let key = (front_end, result.request_id);
        if self.sent_results.insert(key, result).is_none() {
            self.sent_order.push_back(key);
        }
        while self.sent_order.len() > self.config.result_cache_max {
            if let Some(oldest) = self.sent_order.pop_front() {
                self.sent_results.remove(&oldest);
            }
        }
    }

    fn rejoin(&mut self) {
        self.phase = Phase::Serving;
        self.vote_first_seq = self.replica_next_expected;
        self.verdicts.clear();
        self.exit_seen = false;
        self.stats.rejoined += 1;
        self.log(Audit::Rejoined { incarnation: self.incarnation, seq: self.vote_first_seq });
        self.announce_membership();
    }

    fn begin_replacement(&mut self, _now_ms: u64, reason: ReplaceReason) {
        match reason {
            ReplaceReason::Wrong => self.stats.replaced_wrong += 1,
            ReplaceReason::Crash => self.stats.replaced_crash += 1,
            ReplaceReason::Behind => self.stats.replaced_behind += 1,
        }
        let old = self.incarnation;
        self.incarnation += 1;
        self.phase = Phase::Starting;
        self.replica_up = false;
        self.vote_first_seq = u64::MAX;
        self.exit_seen = false;
        self.verdicts.clear();
        self.next_verdict_retry_ms = None;
        self.checks.remove(&self.config.replica_id);
        self.snapshot_points.clear();
        self.snapshot_pending = None;
        self.snapshot_cache.clear();
        // Front ends drop results of the replaced incarnation; a liar's must not be re-sent anyway.
        self.sent_results.clear();
        self.sent_order.clear();
        self.log(Audit::ReplacementStarted { incarnation: self.incarnation, reason });
        self.announce_incarnation();
        self.commands.push_back(Command::KillReplica { incarnation: old });
        self.commands.push_back(Command::StartReplica { incarnation: self.incarnation });
    }

    /// Starts a probe of `suspect` unless one is in flight or it was judged within `recheck_interval_ms`.
    fn check(&mut self, now_ms: u64, suspect: ReplicaId) {
        if !self.config.managers.contains(&suspect) || self.checks.contains_key(&suspect) {
            return;
        }
        if self.last_verdict_ms.get(&suspect).is_some_and(|&at| now_ms < at + self.config.recheck_interval_ms) {
            return;
        }
        if suspect == self.config.replica_id {
            if !matches!(self.phase, Phase::Serving) {
                return;
            }
            if self.exit_seen {
                self.form_verdict(now_ms, suspect, self.incarnation, false);
                return;
            }
        }
        let incarnation = self.incarnations.get(&suspect).copied().unwrap_or(1);
        let probe_id = self.next_probe_id;
        self.next_probe_id += 1;
        self.stats.probes += 1;
        self.checks
            .insert(suspect, Check { probe_id, incarnation, deadline_ms: now_ms + self.config.probe_timeout_ms });
        self.commands.push_back(Command::Probe { probe_id, replica_id: suspect });
    }

    /// Records a verdict formed here and tells every other manager.
    fn form_verdict(&mut self, now_ms: u64, suspect: ReplicaId, incarnation: u64, alive: bool) {
        self.checks.remove(&suspect);
        self.last_verdict_ms.insert(suspect, now_ms);
        let me = self.config.replica_id;
        self.log(Audit::Verdict { from: me, suspect, incarnation, alive });
        for to in self.others() {
            self.send_peer(to, PeerBody::Verdict { suspect, incarnation, alive });
        }
        if suspect == me && incarnation == self.incarnation && matches!(self.phase, Phase::Serving) {
            // The process exit is sticky: a probe that somehow got an answer does not undo it.
            let alive = alive && !self.exit_seen;
            self.verdicts.insert(me, (alive, now_ms));
            self.evaluate(now_ms);
        }
    }

    /// Replaces this manager's replica once a majority of fresh verdicts at its incarnation say "dead".
    fn evaluate(&mut self, now_ms: u64) {
        if !matches!(self.phase, Phase::Serving) {
            return;
        }
        let ttl_ms = self.config.verdict_ttl_ms;
        let dead = self.verdicts.values().filter(|&&(alive, at)| !alive && now_ms <= at + ttl_ms).count();
        if dead >= self.config.majority() {
            self.begin_replacement(now_ms, ReplaceReason::Crash);
        }
    }

    // ----- state transfer -----

    /// Recovering side: asks every donor that has not answered for a snapshot at the current point.
    fn request_snapshots(&mut self, now_ms: u64) {
        let retry_ms = self.config.snapshot_retry_ms;
        let others = self.others();
        let Phase::Fetching(fetch) = &mut self.phase else { return };
        fetch.next_retry_ms = now_ms + retry_ms;
        // Only answers to the latest round count as "not serving": a manager whose replica rejoined since must not
        // be taken for unavailable on the strength of an old answer.
        fetch.unavailable.clear();
        let seq = fetch.seq;
        let asked: Vec<ReplicaId> = others.into_iter().filter(|id| !fetch.replies.contains_key(id)).collect();
        for to in asked {
            self.send_peer(to, PeerBody::SnapshotRequest { seq });
        }
    }

    /// Recovering side: keeps a verified snapshot; restores once two donors agree on the digest at the point.
    fn receive_snapshot(&mut self, now_ms: u64, from: ReplicaId, seq: u64, digest: [u8; 32], bytes: Bytes) {
        let Phase::Fetching(fetch) = &mut self.phase else { return };
        if seq != fetch.seq {
            return;
        }
        let actual: [u8; 32] = Sha256::digest(&bytes).into();
        if actual != digest {
            self.stats.snapshots_corrupt += 1;
            return;
        }
        fetch.unavailable.remove(&from);
        fetch.replies.insert(from, (digest, bytes));
        let agreed = fetch.replies.iter().find_map(|(donor, (digest, bytes))| {
            let matching =
                fetch.replies.iter().any(|(other, (other_digest, _))| other != donor && other_digest == digest);
            matching.then(|| (*digest, bytes.clone()))
        });
        match agreed {
            Some((digest, snapshot)) => {
                self.log(Audit::SnapshotAgreed { seq, digest });
                self.restore_from(now_ms, seq, snapshot);
            }
            None => self.try_sole_donor(now_ms),
        }
    }

    /// The sole-donor rule (crate doc, "Two replicas down at once"): restores from the one snapshot received when
    /// every other manager has said, at this point, that its own replica is not serving, and the recovery has
    /// waited `sole_donor_wait_ms` for a second donor. Silence never counts: a manager that does not answer (down,
    /// or its replica hung mid-snapshot) keeps the recovery waiting, as before.
    fn try_sole_donor(&mut self, now_ms: u64) {
        let others = self.others().len();
        let wait_ms = self.config.sole_donor_wait_ms;
        let Phase::Fetching(fetch) = &self.phase else { return };
        if fetch.replies.len() != 1 || fetch.replies.len() + fetch.unavailable.len() != others {
            return;
        }
        if now_ms < fetch.started_ms.saturating_add(wait_ms) {
            return; // a manager now catching up may rejoin and become the second donor: wait for it a while
        }
        let (&donor, (digest, snapshot)) = fetch.replies.iter().next().expect("exactly one reply");
        let (seq, digest, snapshot) = (fetch.seq, *digest, snapshot.clone());
        self.stats.sole_donor_restores += 1;
        self.log(Audit::SoleDonorRestore { seq, donor, digest });
        self.restore_from(now_ms, seq, snapshot);
    }

    /// Recovering side: drops what the snapshot at `seq` covers and restores it into the fresh replica.
    fn restore_from(&mut self, now_ms: u64, seq: u64, snapshot: Bytes) {
        // Everything up to the point is in the snapshot; everything after it is buffered or yet to come.
        self.discard_up_to = seq;
        while self.queue.front().is_some_and(|queued| queued.job.seq <= seq) {
            self.queue.pop_front();
        }
        let next_retry_ms = now_ms + self.config.snapshot_retry_ms;
        self.commands.push_back(Command::Restore { incarnation: self.incarnation, seq, snapshot: snapshot.clone() });
        self.phase = Phase::Restoring { seq, snapshot, next_retry_ms };
    }

    /// Donor side: answers at once from the cache, refuses a point already fed past, or pauses feeding there.
    fn serve_snapshot(&mut self, now_ms: u64, from: ReplicaId, seq: u64) {
        if !self.is_serving() {
            // Only healthy replicas donate. Saying so (rather than staying silent) lets a recovering manager see
            // that it has only one possible donor; it asks again every retry, so the answer stays current.
            self.stats.snapshots_unavailable += 1;
            self.send_peer(from, PeerBody::SnapshotUnavailable { seq });
            return;
        }
        if let Some((_, digest, bytes)) = self.snapshot_cache.iter().find(|(cached, _, _)| *cached == seq) {
            let (digest, bytes) = (*digest, bytes.clone());
            self.send_snapshot(from, seq, digest, bytes);
            return;
        }
        if self.fed_high > seq {
            self.stats.snapshots_too_late += 1;
            self.send_peer(from, PeerBody::SnapshotTooLate { seq, fed_up_to: self.fed_high });
            return;
        }
        // One pending point per requester: a newer request supersedes its earlier ones, which bounds the points.
        for requesters in self.snapshot_points.values_mut() {
            requesters.remove(&from);
        }
        self.snapshot_points.retain(|_, requesters| !requesters.is_empty());
        self.snapshot_points.entry(seq).or_default().insert(from);
        self.feed(now_ms);
    }

    fn send_snapshot(&mut self, to: ReplicaId, seq: u64, digest: [u8; 32], bytes: Bytes) {
        self.stats.snapshots_served += 1;
        self.log(Audit::SnapshotServed { seq, to });
        self.send_peer(to, PeerBody::Snapshot { seq, digest, bytes });
    }
}
