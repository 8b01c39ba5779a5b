//! Deterministic whole-cluster simulation: one front end (ordering `Submitter`, `voting::Voter`, simulated clients),
//! the ordering `Sequencer`, and n replica managers (ordering `Member` + `manager::Manager`), each driving a
//! simulated replica process (`booking::Replica` inside a fault wrapper), all wired through the seeded in-memory
//! `Network`, with one `ChaCha8Rng` deciding everything and simulated time.
//!
//! Deliberately not here: sockets, processes, threads, clocks, SOAP. The manager's `Command`s are carried out the
//! way a shell would (execute on the replica over the network, start/kill the replica process, probe, send), so
//! this is also the reference for the RM shell; so is what it does when the ordering member is `behind()` the
//! sequencer's history (rebuild it with `Member::new_at` past the gap, `Manager::handle_behind`).
//!
//! A paused replica manager (scenario `paused-rm`, a SIGSTOPped process) takes no timer events and sends nothing;
//! datagrams to it are held in order in bounded socket buffers (beyond them, dropped) and read once it resumes,
//! and notices about its replica process (started, exited) wait until then. Its replica process keeps running.
//!
//! Invariants, checked as the events that could break them happen:
//! - (a)/(b) every `Decided` answer equals the oracle's answer for that request (the oracle is a separate
//!   `booking::Replica` applying every ordered entry in seq order); no client ever gets a minority answer;
//! - (c) every replica's digest after executing a seq that is a multiple of 16 (and every snapshot a replica
//!   takes) equals the oracle's digest at that seq;
//! - (d) an `Unavailable` answer is allowed only if the round's fault budget was exceeded: the replicas impaired
//!   at any moment the round was open (faulty, armed to fail, paused, or out of the vote at their manager or at the
//!   front end) are more than 1 of 3, or more than 2 of 4, or include two liars. Lost datagrams alone never excuse it:
//!   every hop retries (ordering, feeding, replica → RM results, and RM → front end results through
//!   `ResendResult`). Rounds that saw a loss are counted too, for the record;
//! - (e) a replacement for wrong answers happens only after the front end reported `consecutive >= 3` for that
//!   replica, and only for an incarnation that lied; on a loss-free network no healthy replica is replaced, and
//!   only a manager that was paused is ever behind the sequencer's history (`ReplaceReason::Behind`);
//! - prefix consistency: every member delivers the same request at the same seq; a request id is ordered once;
//! - (f) after the fault phase (network healed, no new faults, armed faults disarmed; liars and crashed replicas
//!   stay until replaced, with clients kept busy until then): every manager serves, every replica has executed
//!   every ordered seq and has the oracle's digest, and every request id is applied exactly once.
//!
//! A violation names the seed and the command that replays it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;

use booking::{Replica, Request};
use bytes::Bytes;
use manager::{
    Audit, Command, Job, Manager, ManagerConfig, Membership, Message as ManagerMessage, ReplaceReason, ReplicaId,
    Report, ResendResult, ResultMessage,
};
use ordering::{
    Destination, Member, MemberConfig, Message as OrderingMessage, NodeId, Sequencer, SequencerConfig, Submitter,
    SubmitterConfig, Transmit,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use voting::{Event as VoteEvent, Voter, VoterConfig};

use crate::network::{FaultRates, Network, NetworkStats};
use crate::requests::{RequestGenerator, START_MS};

const SEQUENCER: NodeId = NodeId(0);
/// The front end's ordering node id (managers are 1..=n).
const FRONT_END: NodeId = NodeId(100);
/// The replica keeps this many recent results for retried jobs (replica-api's minimum).
const RESULT_CACHE: usize = 8192;
/// Replica digests are checked after executing seqs that are multiples of this (and at every snapshot/restore).
const DIGEST_EVERY_SEQS: u64 = 16;
/// `voting::Voter::poll_timeout` reports an undecided round's passed suspicion deadline although
/// `handle_timeout` acts on it only at the request timeout; while it does, the simulated front end polls the voter
/// this often instead of spinning.
const VOTER_REPOLL_MS: u64 = 10;
/// How often the front end repeats a "replace it" report until the replica's manager announces a new incarnation.
const REPLACE_REPORT_RETRY_MS: u64 = 200;
/// An undecided round asks the managers whose result it lacks to re-send it after this long, and again every this
/// long (the front end's `[replication] result_resend_ms` default).
const RESULT_RESEND_MS: u64 = 50;
/// Datagrams a paused replica manager's socket buffers hold (beyond them, arrivals are dropped, as by a kernel),
/// unless the scenario draws a smaller buffer.
const HELD_DATAGRAMS_MAX: usize = 4_096;
/// The sequencer's history in every scenario but `PausedRm`.
const HISTORY_CAPACITY: usize = 1_024;

/// `[sequencer] member_timeout_ms` of the shipped configs: the simulated managers rebuild their member when told
/// `Behind`, as `cineflix-rm` does, so they run with the deployment's setting rather than the core's (off) default.
const DEPLOYMENT_MEMBER_TIMEOUT_MS: u64 = 1000;

/// Which cluster the seed builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterScenario {
    /// n = 3 or 4, random network faults, random replica faults within the budget.
    Random,
    /// n = 3, replica 2 gives random answers from the start; healthy network.
    OneLiar,
    /// n = 3, replica 3 crashes (process exit) after a few requests; healthy network.
    OneCrash,
    /// n = 4, replica 1 hangs (no exit seen) and replica 4 lies, both from early on; healthy network.
    CrashAndLiar,
    /// n = 3, one client, FIFO network: replica 2 answers wrong, right, wrong, wrong, then right: never replaced.
    WrongRightWrongWrong,
    /// n = 3, one client, FIFO network: replica 2 answers wrong three times in a row: replaced after the third.
    ThreeWrong,
    /// n = 3, beyond the fault budget: replica 2 crashes after a few requests, and replica 3 crashes the moment
    /// replica 2's manager starts replacing it, leaving replica 1 the only donor (the sole-donor rule must heal it).
    /// The network duplicates and reorders but loses nothing.
    TwoDown,
    /// n = 3, no replica faults, a network that duplicates and reorders but loses nothing, a sequencer history of
    /// 16 and a member timeout of 200 to 600 ms: one replica manager (a random one) is paused (SIGSTOP) early on for
    /// 1.5 to 4 s while clients keep the group busy. The group must go on without it (the sequencer drops it), and
    /// when it resumes it must learn it is behind and come back by state transfer (`ReplaceReason::Behind`).
    PausedRm,
}

impl ClusterScenario {
    /// Every scenario, for the command line.
    pub const ALL: [ClusterScenario; 8] = [
        ClusterScenario::Random,
        ClusterScenario::OneLiar,
        ClusterScenario::OneCrash,
        ClusterScenario::CrashAndLiar,
        ClusterScenario::WrongRightWrongWrong,
        ClusterScenario::ThreeWrong,
        ClusterScenario::TwoDown,
        ClusterScenario::PausedRm,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ClusterScenario::Random => "random",
            ClusterScenario::OneLiar => "one-liar",
            ClusterScenario::OneCrash => "one-crash",
            ClusterScenario::CrashAndLiar => "crash-and-liar",
            ClusterScenario::WrongRightWrongWrong => "wrong-right-wrong-wrong",
            ClusterScenario::ThreeWrong => "three-wrong",
            ClusterScenario::TwoDown => "two-down",
            ClusterScenario::PausedRm => "paused-rm",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<ClusterScenario> {
        ClusterScenario::ALL.into_iter().find(|scenario| scenario.name() == name)
    }
}

/// Knobs of one run that are not drawn from the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSimOptions {
    /// Which cluster.
    pub scenario: ClusterScenario,
    /// Requests the clients issue (more if faulty replicas still await replacement at the end).
    pub requests: u64,
    /// Simulated time during which faults happen.
    pub fault_phase_ms: u64,
    /// Simulated time after the fault phase within which everything must converge.
    pub quiesce_limit_ms: u64,
    /// Print every event to stderr.
    pub trace: bool,
}

impl Default for ClusterSimOptions {
    fn default() -> Self {
        ClusterSimOptions {
            scenario: ClusterScenario::Random,
            requests: 60,
            fault_phase_ms: 1_500,
            quiesce_limit_ms: 60_000,
            trace: false,
        }
    }
}

/// What one successful run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterOutcome {
    /// Replicas (n).
    pub replicas: u64,
    /// Events processed.
    pub steps: u64,
    /// Requests the clients issued.
    pub requests: u64,
    /// Answers decided by the vote (each checked against the oracle).
    pub decided: u64,
    /// "Service unavailable" answers.
    pub unavailable: u64,
    /// ... of which the network had dropped a datagram while the round was open.
    pub unavailable_after_loss: u64,
    /// ... of which the fault budget was exceeded while the round was open.
    pub unavailable_over_budget: u64,
    /// Wrong-result reports the front end sent.
    pub wrong_reports: u64,
    /// Crash suspicions the front end sent.
    pub suspicions: u64,
    /// Replacements for wrong results.
    pub replaced_wrong: u64,
    /// Replacements after a crash agreement.
    pub replaced_crash: u64,
    /// Crash replacements of a replica that was in fact healthy (probes lost on a lossy network).
    pub replaced_healthy: u64,
    /// Replacements because the manager's ordering member fell behind the sequencer's history (it was dropped
    /// while paused): its replica is restored by state transfer past the gap.
    pub replaced_behind: u64,
    /// Replacements completed (state transfer done, back in the vote).
    pub rejoined: u64,
    /// Recoveries restored from a single donor (the sole-donor rule).
    pub sole_donor_restores: u64,
    /// Replica faults injected.
    pub faults_injected: u64,
    /// Pauses of a replica manager process that ended (it resumed).
    pub pauses: u64,
    /// Answers decided while a replica manager was paused (the group did not wait for it).
    pub decided_while_paused: u64,
    /// The longest a decided request took, from issue to answer.
    pub slowest_decided_ms: u64,
    /// Members the sequencer dropped for silence (`SequencerStats::members_dropped`).
    pub members_dropped: u64,
    /// Dropped members that came back (`SequencerStats::members_returned`).
    pub members_returned: u64,
    /// Datagrams to a paused replica manager dropped because its receive buffer was full.
    pub held_dropped: u64,
    /// The sequencer's multicast also went to members it dropped for silence (a shell that does not follow the
    /// core's live set; the shipped shells do follow it, this keeps the protocol honest for one that does not).
    pub multicast_to_silent: bool,
    /// Replica digests compared with the oracle's.
    pub digest_checks: u64,
    /// Highest seq ordered.
    pub high_seq: u64,
    /// Simulated time at convergence.
    pub end_ms: u64,
    /// What the network did.
    pub network: NetworkStats,
}

/// A broken invariant, with what is needed to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterViolation {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: ClusterScenario,
    /// The step at which it was detected.
    pub step: u64,
    /// Simulated time (ms since the simulation started).
    pub now_ms: u64,
    /// What broke.
    pub what: String,
}

impl fmt::Display for ClusterViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cluster simulation violation: seed {} scenario {} step {} at {} ms: {}\n  replay: {}",
            self.seed,
            self.scenario.name(),
            self.step,
            self.now_ms,
            self.what,
            cluster_replay_command(self.seed, self.scenario)
        )
    }
}

impl std::error::Error for ClusterViolation {}

/// The command that replays one seed of a scenario with a trace of every event.
pub fn cluster_replay_command(seed: u64, scenario: ClusterScenario) -> String {
    format!("cargo run -p sim --release -- cluster --scenario {} --start {seed} --seeds 1 --trace", scenario.name())
}

/// What a simulated replica process does wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fault {
    Honest,
    /// Every result is random bytes, or the correct bytes with one bit flipped.
    Lie {
        bit_flip: bool,
    },
    /// Lies exactly at these seqs, honest otherwise.
    LieAt(BTreeSet<u64>),
    /// The process exits after this many more executions (0: at once).
    CrashAfter(u64),
    /// The process stops answering anything after this many more executions (its exit is never seen).
    HangAfter(u64),
    /// Every answer takes this much longer.
    Slow(u64),
}

impl Fault {
    fn lies(&self) -> bool {
        matches!(self, Fault::Lie { .. } | Fault::LieAt(_))
    }
}

#[derive(Clone, Debug)]
enum ToReplica {
    Execute(Vec<Job>),
    Snapshot,
    Restore { seq: u64, bytes: Bytes },
    Probe { probe_id: u64 },
}

#[derive(Clone, Debug)]
enum FromReplica {
    Executed { next_expected: u64, results: Vec<(u64, Bytes)> },
    Snapshot { executed_up_to: u64, bytes: Bytes },
    Restored { next_expected: u64 },
    ProbeAnswer { probe_id: u64 },
}

#[derive(Clone, Debug)]
enum Wire {
    Ordering(OrderingMessage),
    Manager(ManagerMessage),
    ToReplica(ToReplica),
    FromReplica { incarnation: u64, body: FromReplica },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Addr {
    FrontEnd,
    Sequencer,
    Manager(ReplicaId),
    Replica(ReplicaId),
}

fn addr_of(node: NodeId) -> Addr {
    match node {
        SEQUENCER => Addr::Sequencer,
        FRONT_END => Addr::FrontEnd,
        NodeId(id) => Addr::Manager(id),
    }
}

/// One simulated replica process.
#[derive(Debug)]
struct SimReplica {
    incarnation: u64,
    state: Replica,
    next_expected: u64,
    cache: VecDeque<(u64, Bytes)>,
    fault: Fault,
    /// This process has given at least one wrong answer.
    lied: bool,
    alive: bool,
    hung: bool,
}

#[derive(Debug)]
struct RmSlot {
    id: ReplicaId,
    member: Member,
    manager: Manager,
    replica: Option<SimReplica>,
    /// The front end has reported `consecutive >= 3` for this replica since it last (re)joined.
    limit_reported: bool,
    /// The manager process is stopped (SIGSTOP): its member and manager take no events and send nothing.
    paused: bool,
    /// It was paused at some point (a `Behind` replacement of a manager never paused is a violation).
    was_paused: bool,
    /// Datagrams that arrived while it was paused, and those that arrived since behind them: its socket buffers,
    /// read in order once it resumes (`Event::Backlog`).
    held: VecDeque<(Addr, Wire)>,
    /// Notices about its replica process (started, exited) that came while it was paused.
    deferred: Vec<Scheduled>,
}

#[derive(Debug)]
struct Round {
    client: usize,
    opened_ms: u64,
    lost_at_open: u64,
    /// Replicas impaired (faulty, paused, out of the vote at the front end or at their manager) at any moment the
    /// round was open.
    impaired: BTreeSet<ReplicaId>,
    /// Replicas that lied (or were set to) while the round was open.
    liars: BTreeSet<ReplicaId>,
    /// Replicas whose result for the round arrived (the others are asked to re-send it).
    answered: BTreeSet<ReplicaId>,
}

#[derive(Debug)]
struct FrontEnd {
    submitter: Submitter,
    voter: Voter,
    rounds: HashMap<u64, Round>,
    seq_of: HashMap<u64, u64>,
    memberships: BTreeMap<ReplicaId, (u64, bool)>,
    /// Replicas the voter excluded for wrong results: `(incarnation then, report, next retry)`.
    pending_replace: BTreeMap<ReplicaId, (u64, Report, u64)>,
    /// `(when, request_id)` of each open round's next re-send check, in time order.
    resends: VecDeque<(u64, u64)>,
    next_request_id: u64,
}

#[derive(Debug, Default)]
struct Client {
    outstanding: Option<u64>,
    next_at_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Scheduled {
    Started {
        index: usize,
        incarnation: u64,
    },
    Exited {
        index: usize,
        incarnation: u64,
    },
    /// Replica manager `index`'s process is stopped for `for_ms`.
    Pause {
        index: usize,
        for_ms: u64,
    },
    Resume {
        index: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Packet,
    Sequencer,
    Member(usize),
    Manager(usize),
    /// A resumed replica manager reads the next datagram held while it was paused.
    Backlog(usize),
    Submitter,
    Voter,
    FrontEndTimer,
    Resend,
    Client(usize),
    Scheduled,
    Chaos,
    EndFaults,
}

#[derive(Debug)]
struct Setup {
    replicas: usize,
    client_count: usize,
    faults: FaultRates,
    chaos_interval_ms: u64,
    chaos_probability: f64,
    think_max_ms: u64,
    initial_faults: Vec<Fault>,
    /// `SequencerConfig::history_capacity`.
    history_capacity: usize,
    /// `SequencerConfig::member_timeout_ms`; `None` takes the deployment's default.
    member_timeout_ms: Option<u64>,
    pause: Option<Pause>,
    /// `Destination::Members` goes to every configured member, also those the sequencer dropped for silence (a
    /// shell that ignores the core's live set); otherwise only to the members the sequencer counts as live, as
    /// `cineflix-sequencer` and crates/udp's shell do.
    multicast_to_silent: bool,
    /// The socket buffers of a paused replica manager, in datagrams.
    held_datagrams_max: usize,
}

/// One replica manager process stopped for a while.
#[derive(Clone, Copy, Debug)]
struct Pause {
    index: usize,
    /// After the start of the simulation.
    at_ms: u64,
    for_ms: u64,
}

impl Setup {
    fn draw(scenario: ClusterScenario, rng: &mut ChaCha8Rng) -> Setup {
        let healthy = FaultRates::healthy(1, 5);
        let fifo = FaultRates::healthy(2, 2);
        let honest = |n: usize| vec![Fault::Honest; n];
        match scenario {
            ClusterScenario::Random => {
                let replicas = if rng.random_bool(0.5) { 3 } else { 4 };
                let lossy = rng.random_bool(0.7);
                let faults = FaultRates {
                    loss: if lossy { rng.random_range(0.0..0.08) } else { 0.0 },
                    duplicate: rng.random_range(0.0..0.1),
                    reorder: rng.random_range(0.0..0.2),
                    delay_min_ms: 0,
                    delay_max_ms: rng.random_range(1..=8),
                    reorder_extra_ms: rng.random_range(1..=30),
                };
                Setup {
                    replicas,
                    client_count: rng.random_range(1..=4),
                    faults,
                    chaos_interval_ms: rng.random_range(50..=300),
                    chaos_probability: rng.random_range(0.1..0.6),
                    think_max_ms: rng.random_range(0..=40),
                    initial_faults: honest(replicas),
                    history_capacity: HISTORY_CAPACITY,
                    member_timeout_ms: None,
                    pause: None,
                    multicast_to_silent: false,
                    held_datagrams_max: HELD_DATAGRAMS_MAX,
                }
            }
            ClusterScenario::OneLiar => {
                let mut initial_faults = honest(3);
                initial_faults[1] = Fault::Lie { bit_flip: rng.random_bool(0.5) };
                Setup { initial_faults, ..Setup::quiet(3, rng, healthy) }
            }
            ClusterScenario::OneCrash => {
                let mut initial_faults = honest(3);
                initial_faults[2] = Fault::CrashAfter(rng.random_range(3..=15));
                Setup { initial_faults, ..Setup::quiet(3, rng, healthy) }
            }
            ClusterScenario::TwoDown => {
                let mut initial_faults = honest(3);
                initial_faults[1] = Fault::CrashAfter(rng.random_range(3..=15));
                // Duplication and reordering, so that late and repeated "cannot donate" answers are exercised; no
                // loss, which could make a probe miss the one live replica and leave no donor at all.
                let faults = FaultRates {
                    duplicate: rng.random_range(0.0..0.1),
                    reorder: rng.random_range(0.0..0.2),
                    reorder_extra_ms: rng.random_range(1..=30),
                    ..FaultRates::healthy(1, rng.random_range(2..=8))
                };
                Setup { initial_faults, ..Setup::quiet(3, rng, faults) }
            }
            ClusterScenario::PausedRm => {
                // As in TwoDown: no loss, so that a `Behind` replacement can only come from the pause.
                let faults = FaultRates {
                    duplicate: rng.random_range(0.0..0.1),
                    reorder: rng.random_range(0.0..0.2),
                    reorder_extra_ms: rng.random_range(1..=30),
                    ..FaultRates::healthy(1, rng.random_range(2..=8))
                };
                // A small history fills within a few requests, and a timeout well below the voter's request timeout
                // (1,500 ms) keeps the stall before the drop from costing any request. The pause outlasts the
                // timeout plus the time to fill half the history (a few ms under load) by far.
                let member_timeout_ms = rng.random_range(200..=600);
                let pause = Pause {
                    index: rng.random_range(0..3),
                    at_ms: rng.random_range(20..=150),
                    for_ms: rng.random_range(1_500..=4_000),
                };
                // Half the seeds model a shell that multicasts to the dropped member anyway (no shipped shell does:
                // crates/udp's sequencer shell follows the core's live set), with a socket buffer of a few hundred
                // datagrams like a kernel's: it then comes back by state transfer only if its buffer overflowed,
                // else by catching up from it.
                let multicast_to_silent = rng.random_bool(0.5);
                let held_datagrams_max =
                    if multicast_to_silent { rng.random_range(64..=512) } else { HELD_DATAGRAMS_MAX };
                Setup {
                    history_capacity: 16,
                    member_timeout_ms: Some(member_timeout_ms),
                    pause: Some(pause),
                    multicast_to_silent,
                    held_datagrams_max,
                    ..Setup::quiet(3, rng, faults)
                }
            }
            ClusterScenario::CrashAndLiar => {
                let mut initial_faults = honest(4);
                initial_faults[0] = Fault::HangAfter(rng.random_range(3..=15));
                initial_faults[3] = Fault::Lie { bit_flip: rng.random_bool(0.5) };
                Setup { initial_faults, ..Setup::quiet(4, rng, healthy) }
            }
            ClusterScenario::WrongRightWrongWrong | ClusterScenario::ThreeWrong => {
                let first = rng.random_range(2..=10u64);
                let seqs = if scenario == ClusterScenario::ThreeWrong {
                    [first, first + 1, first + 2]
                } else {
                    [first, first + 2, first + 3]
                };
                let mut initial_faults = honest(3);
                initial_faults[1] = Fault::LieAt(seqs.into_iter().collect());
                Setup { client_count: 1, initial_faults, ..Setup::quiet(3, rng, fifo) }
            }
        }
    }

    fn quiet(replicas: usize, rng: &mut ChaCha8Rng, faults: FaultRates) -> Setup {
        Setup {
            replicas,
            client_count: rng.random_range(1..=3),
            faults,
            chaos_interval_ms: u64::MAX / 4,
            chaos_probability: 0.0,
            think_max_ms: rng.random_range(0..=20),
            initial_faults: vec![Fault::Honest; replicas],
            history_capacity: HISTORY_CAPACITY,
            member_timeout_ms: None,
            pause: None,
            multicast_to_silent: false,
            held_datagrams_max: HELD_DATAGRAMS_MAX,
        }
    }

    /// How many replicas may be impaired (faulty or out of the vote) at once.
    fn budget(&self) -> usize {
        if self.replicas >= 4 { 2 } else { 1 }
    }
}

struct World {
    seed: u64,
    options: ClusterSimOptions,
    setup: Setup,
    rng: ChaCha8Rng,
    network: Network<Addr, Wire>,
    now_ms: u64,
    step: u64,
    faults_active: bool,
    next_chaos_ms: u64,
    sequencer: Sequencer,
    slots: Vec<RmSlot>,
    front_end: FrontEnd,
    clients: Vec<Client>,
    generator: RequestGenerator,
    scheduled: BinaryHeap<Reverse<(u64, u64, Scheduled)>>,
    scheduled_serial: u64,
    /// Faults waiting for the replica of `(index, incarnation)` to start.
    pending_faults: BTreeMap<usize, Fault>,
    oracle: Replica,
    /// `canonical[seq - 1] = request_id`, from the first member to deliver each seq.
    canonical: Vec<u64>,
    oracle_answers: HashMap<u64, Bytes>,
    oracle_digests: HashMap<u64, [u8; 32]>,
    ordered_ids: HashSet<u64>,
    decided_ids: BTreeSet<u64>,
    /// When `Voter::handle_timeout` last ran.
    voter_ran_at_ms: Option<u64>,
    outcome: ClusterOutcome,
}

/// Runs one seed of `options.scenario` to convergence or to the first violation.
pub fn run_cluster(seed: u64, options: &ClusterSimOptions) -> Result<ClusterOutcome, ClusterViolation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let setup = Setup::draw(options.scenario, &mut rng);
    let ids: Vec<ReplicaId> = (1..=setup.replicas as u16).collect();
    let members: Vec<NodeId> = ids.iter().map(|&id| NodeId(id)).collect();
    let start_ms = START_MS;
    let default_config = SequencerConfig::new(SEQUENCER, members);
    let sequencer_config = SequencerConfig {
        history_capacity: setup.history_capacity,
        member_timeout_ms: setup.member_timeout_ms.unwrap_or(DEPLOYMENT_MEMBER_TIMEOUT_MS),
        ..default_config
    };
    let mut pending_faults = BTreeMap::new();
    let slots = ids
        .iter()
        .enumerate()
        .map(|(index, &id)| {
            pending_faults.insert(index, setup.initial_faults[index].clone());
            let member_config = MemberConfig::new(NodeId(id), SEQUENCER).staggered(
                index,
                setup.replicas,
                sequencer_config.history_capacity,
            );
            RmSlot {
                id,
                member: Member::new(member_config, start_ms),
                manager: Manager::new(ManagerConfig::new(id, ids.clone()), start_ms),
                replica: None,
                limit_reported: false,
                paused: false,
                was_paused: false,
                held: VecDeque::new(),
                deferred: Vec::new(),
            }
        })
        .collect();
    let voter_config = VoterConfig { request_timeout_ms: 1_500, ..VoterConfig::software(ids.clone()) };
    let front_end = FrontEnd {
        submitter: Submitter::new(SubmitterConfig::new(FRONT_END, SEQUENCER)),
        voter: Voter::new(voter_config),
        rounds: HashMap::new(),
        seq_of: HashMap::new(),
        memberships: ids.iter().map(|&id| (id, (1, true))).collect(),
        pending_replace: BTreeMap::new(),
        resends: VecDeque::new(),
        next_request_id: 1,
    };
    let clients = (0..setup.client_count)
        .map(|_| Client { outstanding: None, next_at_ms: Some(start_ms + rng.random_range(0..=20)) })
        .collect();
    let mut world = World {
        seed,
        options: options.clone(),
        network: Network::new(setup.faults),
        now_ms: start_ms,
        step: 0,
        faults_active: true,
        next_chaos_ms: start_ms.saturating_add(setup.chaos_interval_ms),
        sequencer: Sequencer::new(sequencer_config, start_ms),
        slots,
        front_end,
        clients,
        generator: RequestGenerator::new(),
        scheduled: BinaryHeap::new(),
        scheduled_serial: 0,
        pending_faults,
        oracle: Replica::new(),
        canonical: Vec::new(),
        oracle_answers: HashMap::new(),
        oracle_digests: HashMap::new(),
        ordered_ids: HashSet::new(),
        decided_ids: BTreeSet::new(),
        voter_ran_at_ms: None,
        outcome: ClusterOutcome {
            replicas: setup.replicas as u64,
            multicast_to_silent: setup.multicast_to_silent,
            ..ClusterOutcome::default()
        },
        setup,
        rng,
    };
    if world.options.trace {
        eprintln!("seed {seed}: {:?}", world.setup);
    }
    if let Some(Pause { index, at_ms, for_ms }) = world.setup.pause {
        world.schedule(at_ms, Scheduled::Pause { index, for_ms });
    }
    world.run()
}

/// Runs `count` seeds from `start`, returning the outcomes summed, or the first violation.
pub fn run_cluster_seeds(
    start: u64,
    count: u64,
    options: &ClusterSimOptions,
) -> Result<ClusterTotals, ClusterViolation> {
    let mut totals = ClusterTotals::default();
    for seed in start..start.saturating_add(count) {
        totals.add(&run_cluster(seed, options)?);
    }
    Ok(totals)
}

/// Sums of many runs' outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterTotals {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds with four replicas.
    pub seeds_with_four: u64,
    /// Sum of `steps`.
    pub steps: u64,
    /// Sum of `requests`.
    pub requests: u64,
    /// Sum of `decided`.
    pub decided: u64,
    /// Sum of `unavailable`.
    pub unavailable: u64,
    /// Sum of `unavailable_after_loss`.
    pub unavailable_after_loss: u64,
    /// Sum of `unavailable_over_budget`.
    pub unavailable_over_budget: u64,
    /// Sum of `wrong_reports`.
    pub wrong_reports: u64,
    /// Sum of `replaced_wrong`.
    pub replaced_wrong: u64,
    /// Sum of `replaced_crash`.
    pub replaced_crash: u64,
    /// Sum of `replaced_healthy`.
    pub replaced_healthy: u64,
    /// Sum of `replaced_behind`.
    pub replaced_behind: u64,
    /// Sum of `rejoined`.
    pub rejoined: u64,
    /// Sum of `sole_donor_restores`.
    pub sole_donor_restores: u64,
    /// Sum of `faults_injected`.
    pub faults_injected: u64,
    /// Sum of `pauses`.
    pub pauses: u64,
    /// Sum of `decided_while_paused`.
    pub decided_while_paused: u64,
    /// Seeds in which at least one answer was decided while a replica manager was paused.
    pub seeds_decided_while_paused: u64,
    /// Largest `slowest_decided_ms`.
    pub slowest_decided_ms: u64,
    /// Sum of `members_dropped`.
    pub members_dropped: u64,
    /// Sum of `members_returned`.
    pub members_returned: u64,
    /// Sum of `held_dropped`.
    pub held_dropped: u64,
    /// Seeds with `multicast_to_silent`.
    pub seeds_multicast_to_silent: u64,
    /// Sum of `digest_checks`.
    pub digest_checks: u64,
    /// Datagrams lost.
    pub lost: u64,
}

impl ClusterTotals {
    /// Adds one run's outcome.
    pub fn add(&mut self, outcome: &ClusterOutcome) {
        self.seeds += 1;
        self.seeds_with_four += u64::from(outcome.replicas == 4);
        self.steps += outcome.steps;
        self.requests += outcome.requests;
        self.decided += outcome.decided;
        self.unavailable += outcome.unavailable;
        self.unavailable_after_loss += outcome.unavailable_after_loss;
        self.unavailable_over_budget += outcome.unavailable_over_budget;
        self.wrong_reports += outcome.wrong_reports;
        self.replaced_wrong += outcome.replaced_wrong;
        self.replaced_crash += outcome.replaced_crash;
        self.replaced_healthy += outcome.replaced_healthy;
        self.replaced_behind += outcome.replaced_behind;
        self.rejoined += outcome.rejoined;
        self.sole_donor_restores += outcome.sole_donor_restores;
        self.faults_injected += outcome.faults_injected;
        self.pauses += outcome.pauses;
        self.decided_while_paused += outcome.decided_while_paused;
        self.seeds_decided_while_paused += u64::from(outcome.decided_while_paused > 0);
        self.slowest_decided_ms = self.slowest_decided_ms.max(outcome.slowest_decided_ms);
        self.members_dropped += outcome.members_dropped;
        self.members_returned += outcome.members_returned;
        self.held_dropped += outcome.held_dropped;
        self.seeds_multicast_to_silent += u64::from(outcome.multicast_to_silent);
        self.digest_checks += outcome.digest_checks;
        self.lost += outcome.network.lost;
    }
}

impl World {
    fn violation(&self, what: String) -> ClusterViolation {
        ClusterViolation {
            seed: self.seed,
            scenario: self.options.scenario,
            step: self.step,
            now_ms: self.now_ms - START_MS,
            what,
        }
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if self.options.trace {
            eprintln!("[{:>6}] t={:>6} {}", self.step, self.now_ms - START_MS, what());
        }
    }

    fn run(mut self) -> Result<ClusterOutcome, ClusterViolation> {
        let end_faults_ms = START_MS + self.options.fault_phase_ms;
        let deadline_ms = end_faults_ms + self.options.quiesce_limit_ms;
        loop {
            if !self.faults_active && self.converged() {
                self.final_checks()?;
                self.outcome.steps = self.step;
                self.outcome.end_ms = self.now_ms - START_MS;
                self.outcome.network = self.network.stats();
                self.outcome.high_seq = self.sequencer.high_seq();
                return Ok(self.outcome);
            }
            if self.now_ms > deadline_ms {
                return Err(self.violation(format!("did not converge after the faults stopped: {}", self.progress())));
            }
            let Some(next_ms) = self.next_event_ms(end_faults_ms) else {
                return Err(self.violation(format!("nothing left to do but not converged: {}", self.progress())));
            };
            self.now_ms = self.now_ms.max(next_ms);
            let due = self.due_events(end_faults_ms);
            let event = due[self.rng.random_range(0..due.len())];
            self.step += 1;
            self.apply(event)?;
            self.drain()?;
            self.track_impairment();
        }
    }

    fn progress(&self) -> String {
        let slots: Vec<String> = self
            .slots
            .iter()
            .map(|slot| {
                format!(
                    "rm{} inc {} {:?} delivered {} executed {} replica {}",
                    slot.id,
                    slot.manager.incarnation(),
                    slot.manager.phase(),
                    slot.manager.delivered_up_to(),
                    slot.manager.executed_up_to(),
                    match &slot.replica {
                        Some(replica) => format!(
                            "inc {} {:?} alive {} hung {}",
                            replica.incarnation, replica.fault, replica.alive, replica.hung
                        ),
                        None => "none".to_owned(),
                    }
                )
            })
            .collect();
        format!(
            "high_seq {} issued {} open rounds {} in flight {} | {}",
            self.sequencer.high_seq(),
            self.outcome.requests,
            self.front_end.voter.open_rounds(),
            self.front_end.submitter.in_flight(),
            slots.join(" | ")
        )
    }

    fn voter_timeout(&self) -> Option<u64> {
        let at = self.front_end.voter.poll_timeout()?;
        match self.voter_ran_at_ms {
            Some(ran_at) if at <= ran_at => Some(ran_at + VOTER_REPOLL_MS),
            _ => Some(at),
        }
    }

    fn wants_more_requests(&self) -> bool {
        if self.outcome.requests < self.options.requests {
            return true;
        }
        // Faults stay until repaired, and repair needs traffic (suspicions, wrong answers): keep clients busy. A
        // paused manager is dropped only once the history fills behind it: keep them busy while it is stopped too.
        self.outcome.requests < self.options.requests * 20
            && ((!self.faults_active && !self.all_healthy()) || self.slots.iter().any(|slot| slot.paused))
    }

    fn all_healthy(&self) -> bool {
        self.slots.iter().all(|slot| {
            !slot.paused
                && slot.held.is_empty()
                && slot.manager.is_serving()
                && slot.replica.as_ref().is_some_and(|replica| replica.fault == Fault::Honest)
        })
    }

    fn next_event_ms(&mut self, end_faults_ms: u64) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut consider = |at: Option<u64>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |next: u64| next.min(at)));
            }
        };
        consider(self.network.next_delivery_ms());
        consider(self.sequencer.poll_timeout());
        for slot in self.slots.iter().filter(|slot| !slot.paused) {
            consider(slot.member.poll_timeout());
            consider(slot.manager.poll_timeout());
            if !slot.held.is_empty() {
                consider(Some(self.now_ms));
            }
        }
        consider(self.front_end.submitter.poll_timeout());
        consider(self.voter_timeout());
        consider(self.front_end.pending_replace.values().map(|(_, _, at)| *at).min());
        while self.front_end.resends.front().is_some_and(|(_, id)| !self.front_end.rounds.contains_key(id)) {
            self.front_end.resends.pop_front(); // answered: no wake-up for it
        }
        consider(self.front_end.resends.front().map(|&(at, _)| at));
        if self.wants_more_requests() {
            for client in &self.clients {
                consider(client.next_at_ms);
            }
        }
        consider(self.scheduled.peek().map(|Reverse((at, _, _))| *at));
        if self.faults_active {
            consider(Some(self.next_chaos_ms));
            consider(Some(end_faults_ms));
        }
        next
    }

    fn due_events(&mut self, end_faults_ms: u64) -> Vec<Event> {
        let now = self.now_ms;
        let due = |at: Option<u64>| at.is_some_and(|at| at <= now);
        let mut events = Vec::new();
        if due(self.network.next_delivery_ms()) {
            events.push(Event::Packet);
        }
        if due(self.sequencer.poll_timeout()) {
            events.push(Event::Sequencer);
        }
        for (index, slot) in self.slots.iter().enumerate().filter(|(_, slot)| !slot.paused) {
            if due(slot.member.poll_timeout()) {
                events.push(Event::Member(index));
            }
            if due(slot.manager.poll_timeout()) {
                events.push(Event::Manager(index));
            }
            if !slot.held.is_empty() {
                events.push(Event::Backlog(index));
            }
        }
        if due(self.front_end.submitter.poll_timeout()) {
            events.push(Event::Submitter);
        }
        if due(self.voter_timeout()) {
            events.push(Event::Voter);
        }
        if due(self.front_end.pending_replace.values().map(|(_, _, at)| *at).min()) {
            events.push(Event::FrontEndTimer);
        }
        if due(self.front_end.resends.front().map(|&(at, _)| at)) {
            events.push(Event::Resend);
        }
        if self.wants_more_requests() {
            for (index, client) in self.clients.iter().enumerate() {
                if due(client.next_at_ms) {
                    events.push(Event::Client(index));
                }
            }
        }
        if due(self.scheduled.peek().map(|Reverse((at, _, _))| *at)) {
            events.push(Event::Scheduled);
        }
        if self.faults_active {
            if self.next_chaos_ms <= now {
                events.push(Event::Chaos);
            }
            if end_faults_ms <= now {
                events.push(Event::EndFaults);
            }
        }
        events
    }

    fn apply(&mut self, event: Event) -> Result<(), ClusterViolation> {
        let now = self.now_ms;
        match event {
            Event::Packet => {
                let packet = self.network.pop_due(now).expect("a packet is due");
                self.deliver(packet.from, packet.to, packet.message)?;
            }
            Event::Sequencer => self.sequencer.handle_timeout(now),
            Event::Member(index) => self.slots[index].member.handle_timeout(now),
            Event::Manager(index) => self.slots[index].manager.handle_timeout(now),
            Event::Backlog(index) => {
                let (from, wire) = self.slots[index].held.pop_front().expect("a held datagram is due");
                self.manager_receives(index, from, wire);
            }
            Event::Submitter => self.front_end.submitter.handle_timeout(now),
            Event::Voter => {
                self.front_end.voter.handle_timeout(now);
                self.voter_ran_at_ms = Some(now);
            }
            Event::FrontEndTimer => {
                let due: Vec<ReplicaId> = self
                    .front_end
                    .pending_replace
                    .iter()
                    .filter(|(_, (_, _, at))| *at <= now)
                    .map(|(&id, _)| id)
                    .collect();
                for id in due {
                    let entry = self.front_end.pending_replace.get_mut(&id).expect("listed above");
                    entry.2 = now + REPLACE_REPORT_RETRY_MS;
                    let report = entry.1;
                    self.trace(|| format!("fe repeats {report:?}"));
                    self.report_to_managers(report);
                }
            }
            Event::Resend => self.request_resends(),
            Event::Client(index) => self.issue(index),
            Event::Scheduled => {
                let Reverse((_, _, scheduled)) = self.scheduled.pop().expect("an event is due");
                self.run_scheduled(scheduled);
            }
            Event::Chaos => self.chaos(),
            Event::EndFaults => self.end_faults(),
        }
        Ok(())
    }

    fn schedule(&mut self, after_ms: u64, scheduled: Scheduled) {
        self.scheduled_serial += 1;
        self.scheduled.push(Reverse((self.now_ms + after_ms, self.scheduled_serial, scheduled)));
    }

    fn run_scheduled(&mut self, scheduled: Scheduled) {
        let now = self.now_ms;
        match scheduled {
            Scheduled::Exited { index, .. } if self.slots[index].paused => {
                // A stopped process learns of its child's exit only when it runs again.
                self.slots[index].deferred.push(scheduled);
            }
            Scheduled::Started { index, incarnation } => {
                let fault = self.pending_faults.remove(&index).unwrap_or(Fault::Honest);
                self.trace(|| format!("replica{} inc {incarnation} started ({fault:?})", self.slots[index].id));
                self.slots[index].replica = Some(SimReplica {
                    incarnation,
                    state: Replica::new(),
                    next_expected: 1,
                    cache: VecDeque::new(),
                    fault,
                    lied: false,
                    alive: true,
                    hung: false,
                });
                if self.slots[index].paused {
                    // The process runs (it answers probes), but its manager learns it is up only when it resumes.
                    self.slots[index].deferred.push(scheduled);
                } else {
                    self.slots[index].manager.handle_replica_started(now, incarnation);
                }
            }
            Scheduled::Exited { index, incarnation } => {
                self.trace(|| format!("replica{} inc {incarnation} exit seen", self.slots[index].id));
                self.slots[index].manager.handle_replica_exited(now, incarnation);
            }
            Scheduled::Pause { index, for_ms } => {
                self.trace(|| format!("rm{} paused for {for_ms} ms", self.slots[index].id));
                let slot = &mut self.slots[index];
                slot.paused = true;
                slot.was_paused = true;
                self.schedule(for_ms, Scheduled::Resume { index });
            }
            Scheduled::Resume { index } => {
                let slot = &mut self.slots[index];
                slot.paused = false;
                let deferred = std::mem::take(&mut slot.deferred);
                let held = slot.held.len();
                self.outcome.pauses += 1;
                self.trace(|| format!("rm{} resumes with {held} datagrams held", self.slots[index].id));
                // Its timers and its socket backlog are due at once, in the random order of due events.
                for scheduled in deferred {
                    match scheduled {
                        Scheduled::Started { incarnation, .. } => {
                            self.trace(|| format!("replica{} inc {incarnation} start seen", self.slots[index].id));
                            self.slots[index].manager.handle_replica_started(now, incarnation);
                        }
                        Scheduled::Exited { incarnation, .. } => {
                            self.trace(|| format!("replica{} inc {incarnation} exit seen", self.slots[index].id));
                            self.slots[index].manager.handle_replica_exited(now, incarnation);
                        }
                        Scheduled::Pause { .. } | Scheduled::Resume { .. } => {}
                    }
                }
            }
        }
    }

    // ----- clients and front end -----

    fn issue(&mut self, index: usize) {
        self.clients[index].next_at_ms = None;
        let request = self.generator.next(&mut self.rng);
        let request_id = self.front_end.next_request_id;
        let payload = Bytes::from(request.encode());
        match self.front_end.submitter.submit(self.now_ms, request_id, payload) {
            Ok(()) => {
                self.front_end.next_request_id += 1;
                self.front_end.voter.open(request_id, self.now_ms);
                let (impaired, liars) = self.impaired();
                let lost_at_open = self.network.stats().lost;
                let round = Round {
                    client: index,
                    opened_ms: self.now_ms,
                    lost_at_open,
                    impaired,
                    liars,
                    answered: BTreeSet::new(),
                };
                self.front_end.rounds.insert(request_id, round);
                self.front_end.resends.push_back((self.now_ms + RESULT_RESEND_MS, request_id));
                self.clients[index].outstanding = Some(request_id);
                self.outcome.requests += 1;
                self.trace(|| format!("client{index} request {request_id}: {request:?}"));
            }
            Err(_) => self.clients[index].next_at_ms = Some(self.now_ms + 10),
        }
    }

    /// The front end's rule for lost results (manager's "Lost results"): every round still undecided at its check
    /// time asks the managers of the replicas in the vote whose result it lacks to re-send it, and is checked again
    /// one interval later.
    fn request_resends(&mut self) {
        let now = self.now_ms;
        while let Some(&(at, request_id)) = self.front_end.resends.front() {
            if at > now {
                break;
            }
            self.front_end.resends.pop_front();
            let Some(round) = self.front_end.rounds.get(&request_id) else { continue };
            let missing: Vec<ReplicaId> = self
                .front_end
                .memberships
                .iter()
                .filter(|(id, (_, in_vote))| *in_vote && !round.answered.contains(id))
                .map(|(&id, _)| id)
                .collect();
            self.front_end.resends.push_back((now + RESULT_RESEND_MS, request_id));
            for id in missing {
                self.trace(|| format!("fe asks rm{id} to re-send request {request_id}"));
                let request = ResendResult { front_end: FRONT_END.0, request_id };
                self.send(Addr::FrontEnd, Addr::Manager(id), Wire::Manager(ManagerMessage::ResendResult(request)));
            }
        }
    }

    fn finish_round(&mut self, request_id: u64) -> Option<Round> {
        let round = self.front_end.rounds.remove(&request_id)?;
        let think_ms = self.rng.random_range(0..=self.setup.think_max_ms);
        let client = &mut self.clients[round.client];
        client.outstanding = None;
        client.next_at_ms = Some(self.now_ms + think_ms);
        Some(round)
    }

    fn on_vote(&mut self, event: VoteEvent) -> Result<(), ClusterViolation> {
        match event {
            VoteEvent::Decided { round, result } => {
                self.trace(|| format!("fe decided request {round}"));
                let Some(expected) = self.oracle_answers.get(&round) else {
                    return Err(self.violation(format!("request {round} decided but the oracle never applied it")));
                };
                if expected.as_ref() != result.as_slice() {
                    return Err(self.violation(format!(
                        "request {round} answered {result:?} but the oracle says {expected:?} (minority answer)"
                    )));
                }
                self.outcome.decided += 1;
                self.outcome.decided_while_paused += u64::from(self.slots.iter().any(|slot| slot.paused));
                self.decided_ids.insert(round);
                if let Some(info) = self.finish_round(round) {
                    self.outcome.slowest_decided_ms = self.outcome.slowest_decided_ms.max(self.now_ms - info.opened_ms);
                }
            }
            VoteEvent::Unavailable { round } => {
                self.trace(|| format!("fe: request {round} unavailable"));
                self.outcome.unavailable += 1;
                self.front_end.submitter.cancel(round);
                if let Some(info) = self.finish_round(round) {
                    let lost = self.network.stats().lost > info.lost_at_open;
                    let over_budget = info.impaired.len() > self.setup.budget() || info.liars.len() > 1;
                    self.outcome.unavailable_after_loss += u64::from(lost);
                    self.outcome.unavailable_over_budget += u64::from(over_budget);
                    if !over_budget {
                        return Err(self.violation(format!(
                            "request {round} unavailable with at most the budgeted faults (datagrams lost while it \
                             was open: {lost}): {}",
                            self.progress()
                        )));
                    }
                }
            }
            VoteEvent::Wrong { round, replica, consecutive } => {
                let seq = self.front_end.seq_of.get(&round).copied().unwrap_or(u64::MAX);
                let report = Report::Wrong { replica_id: replica, seq, request_id: round, consecutive };
                self.trace(|| format!("fe: {report:?}"));
                self.outcome.wrong_reports += 1;
                if consecutive >= self.front_end.voter.config().wrong_limit {
                    let incarnation = self.front_end.memberships.get(&replica).map_or(1, |(inc, _)| *inc);
                    self.front_end
                        .pending_replace
                        .insert(replica, (incarnation, report, self.now_ms + REPLACE_REPORT_RETRY_MS));
                    if let Some(slot) = self.slots.iter_mut().find(|slot| slot.id == replica) {
                        slot.limit_reported = true;
                    }
                }
                self.report_to_managers(report);
            }
            VoteEvent::Suspected { round, replica } => {
                let seq = self.front_end.seq_of.get(&round).copied().unwrap_or(u64::MAX);
                let report = Report::Suspected { replica_id: replica, seq, request_id: round };
                self.trace(|| format!("fe: {report:?}"));
                self.outcome.suspicions += 1;
                self.report_to_managers(report);
            }
        }
        Ok(())
    }

    fn report_to_managers(&mut self, report: Report) {
        for index in 0..self.slots.len() {
            let to = Addr::Manager(self.slots[index].id);
            self.send(Addr::FrontEnd, to, Wire::Manager(ManagerMessage::Report(report)));
        }
    }

    fn front_end_receives(&mut self, message: ManagerMessage) {
        match message {
            ManagerMessage::Result(ResultMessage { replica_id, incarnation, seq, request_id, response }) => {
                let known = self.front_end.memberships.get(&replica_id).map_or(1, |(inc, _)| *inc);
                if incarnation < known {
                    return;
                }
                self.trace(|| format!("fe gets replica{replica_id} inc {incarnation} result for request {request_id}"));
                self.front_end.seq_of.insert(request_id, seq);
                if let Some(round) = self.front_end.rounds.get_mut(&request_id) {
                    round.answered.insert(replica_id);
                }
                self.front_end.voter.result(request_id, replica_id, &response, self.now_ms);
            }
            ManagerMessage::Membership(membership) => self.apply_membership(membership),
            ManagerMessage::Report(_) | ManagerMessage::Peer(_) | ManagerMessage::ResendResult(_) => {}
        }
    }

    /// The front end's rule for memberships (manager's `Membership` doc): apply only a higher `(incarnation,
    /// in_vote)`, so repeats never reset the voter's wrong counts.
    fn apply_membership(&mut self, membership: Membership) {
        let Membership { replica_id, incarnation, in_vote } = membership;
        let Some(stored) = self.front_end.memberships.get_mut(&replica_id) else { return };
        if membership.key() <= *stored {
            return;
        }
        *stored = membership.key();
        self.trace(|| format!("fe applies {membership:?}"));
        self.front_end.voter.set_excluded(replica_id, !in_vote);
        if self.front_end.pending_replace.get(&replica_id).is_some_and(|(then, _, _)| incarnation > *then) {
            self.front_end.pending_replace.remove(&replica_id);
        }
    }

    // ----- the network -----

    fn send(&mut self, from: Addr, to: Addr, wire: Wire) {
        self.send_delayed(from, to, wire, 0);
    }

    fn send_delayed(&mut self, from: Addr, to: Addr, wire: Wire, extra_ms: u64) {
        // Put a share of the manager traffic through the codec, so the simulation also checks the wire format.
        if let Wire::Manager(message) = &wire
            && self.rng.random_bool(0.1)
        {
            let decoded = ManagerMessage::decode(&message.encode());
            assert_eq!(decoded.as_ref(), Ok(message), "manager codec round trip");
        }
        let now = self.now_ms + extra_ms;
        self.network.send(&mut self.rng, now, from, to, wire);
    }

    fn send_ordering(&mut self, from: Addr, transmit: Transmit) {
        match transmit.to {
            Destination::Node(node) => self.send(from, addr_of(node), Wire::Ordering(transmit.message)),
            Destination::Members => {
                // Unless the scenario says otherwise, only to the members the sequencer counts as live: one dropped
                // for silence gets only its probes (`Destination` allows skipping members not live).
                let multicast_to_silent = self.setup.multicast_to_silent;
                let to: Vec<NodeId> = self
                    .sequencer
                    .members()
                    .filter(|&(_, live)| live || multicast_to_silent)
                    .map(|(member, _)| member)
                    .collect();
                for member in to {
                    self.send(from, addr_of(member), Wire::Ordering(transmit.message.clone()));
                }
            }
        }
    }

    fn deliver(&mut self, from: Addr, to: Addr, wire: Wire) -> Result<(), ClusterViolation> {
        let now = self.now_ms;
        match (to, wire) {
            (Addr::Sequencer, Wire::Ordering(message)) => self.sequencer.handle(now, message),
            (Addr::FrontEnd, Wire::Ordering(message)) => self.front_end.submitter.handle(now, message),
            (Addr::FrontEnd, Wire::Manager(message)) => self.front_end_receives(message),
            (Addr::Manager(id), wire) => {
                let index = self.index_of(id);
                let slot = &mut self.slots[index];
                if slot.paused || !slot.held.is_empty() {
                    // Stopped, or still reading what came while it was: behind the others in its socket buffers.
                    if slot.held.len() < self.setup.held_datagrams_max {
                        slot.held.push_back((from, wire));
                    } else {
                        self.outcome.held_dropped += 1;
                    }
                } else {
                    self.manager_receives(index, from, wire);
                }
            }
            (Addr::Replica(id), Wire::ToReplica(message)) => self.replica_receives(from, id, message)?,
            _ => {}
        }
        Ok(())
    }

    /// A datagram read by replica manager `index`'s process (its ordering member or its manager).
    fn manager_receives(&mut self, index: usize, from: Addr, wire: Wire) {
        let now = self.now_ms;
        let id = self.slots[index].id;
        let manager = &mut self.slots[index].manager;
        match wire {
            Wire::Ordering(message) => self.slots[index].member.handle(now, message),
            Wire::Manager(ManagerMessage::Report(report)) => manager.handle_report(now, report),
            Wire::Manager(ManagerMessage::Peer(message)) => manager.handle_peer(now, message),
            Wire::Manager(ManagerMessage::ResendResult(request)) => manager.handle_resend_result(now, request),
            Wire::Manager(_) | Wire::ToReplica(_) => {}
            Wire::FromReplica { incarnation, body } => match body {
                FromReplica::Executed { next_expected, results } => {
                    if self.options.trace {
                        let seqs: Vec<u64> = results.iter().map(|(seq, _)| *seq).collect();
                        eprintln!("    rm{id} hears executed next {next_expected} results {seqs:?} (from {from:?})");
                    }
                    let manager = &mut self.slots[index].manager;
                    manager.handle_executed(now, incarnation, next_expected, results)
                }
                FromReplica::Snapshot { executed_up_to, bytes } => {
                    manager.handle_snapshot_taken(now, incarnation, executed_up_to, bytes)
                }
                FromReplica::Restored { next_expected } => manager.handle_restored(now, incarnation, next_expected),
                FromReplica::ProbeAnswer { probe_id } => manager.handle_probe_answered(now, probe_id),
            },
        }
    }

    fn index_of(&self, id: ReplicaId) -> usize {
        self.slots.iter().position(|slot| slot.id == id).expect("a configured replica id")
    }

    // ----- simulated replica processes -----

    fn replica_receives(&mut self, from: Addr, id: ReplicaId, message: ToReplica) -> Result<(), ClusterViolation> {
        let index = self.index_of(id);
        let Some(replica) = self.slots[index].replica.as_mut() else { return Ok(()) };
        if !replica.alive || replica.hung {
            return Ok(());
        }
        let incarnation = replica.incarnation;
        let extra_ms = if let Fault::Slow(extra_ms) = replica.fault { extra_ms } else { 0 };
        let reply = match message {
            ToReplica::Probe { probe_id } => FromReplica::ProbeAnswer { probe_id },
            ToReplica::Snapshot => {
                let executed_up_to = replica.next_expected - 1;
                let bytes = Bytes::from(replica.state.snapshot());
                let digest = replica.state.digest();
                self.check_digest(id, executed_up_to, digest)?;
                FromReplica::Snapshot { executed_up_to, bytes }
            }
            ToReplica::Restore { seq, .. } if seq + 1 < replica.next_expected => {
                // A duplicated or retried restore must not roll back what was executed since: restoring is
                // monotonic (the replica-api contract the manager relies on).
                FromReplica::Restored { next_expected: replica.next_expected }
            }
            ToReplica::Restore { seq, bytes } => {
                let Ok(state) = Replica::restore(&bytes) else {
                    return Err(
                        self.violation(format!("replica{id} was asked to restore a snapshot that does not decode"))
                    );
                };
                let digest = state.digest();
                let replica = self.slots[index].replica.as_mut().expect("checked above");
                replica.state = state;
                replica.next_expected = seq + 1;
                replica.cache.clear();
                self.check_digest(id, seq, digest)?;
                FromReplica::Restored { next_expected: seq + 1 }
            }
            ToReplica::Execute(jobs) => match self.execute(index, jobs)? {
                Some(reply) => reply,
                None => return Ok(()),
            },
        };
        self.send_delayed(Addr::Replica(id), from, Wire::FromReplica { incarnation, body: reply }, extra_ms);
        Ok(())
    }

    /// Executes a batch go-back-N style; `None` when the process died or hung on the way.
    fn execute(&mut self, index: usize, jobs: Vec<Job>) -> Result<Option<FromReplica>, ClusterViolation> {
        let id = self.slots[index].id;
        let mut results = Vec::new();
        for job in jobs {
            let replica = self.slots[index].replica.as_mut().expect("the caller checked");
            if job.seq < replica.next_expected {
                if let Some((_, bytes)) = replica.cache.iter().find(|(seq, _)| *seq == job.seq) {
                    results.push((job.seq, bytes.clone()));
                }
                continue;
            }
            if job.seq > replica.next_expected {
                break; // a gap: the driver resends from next_expected
            }
            let request = Request::decode(&job.payload).expect("the simulated front end encodes valid requests");
            let correct = Bytes::from(replica.state.execute(&request, job.timestamp_ms as i64).encode());
            let lie = match &replica.fault {
                Fault::Lie { .. } => true,
                Fault::LieAt(seqs) => seqs.contains(&job.seq),
                _ => false,
            };
            let answer = if lie {
                let mut bytes = correct.to_vec();
                if matches!(replica.fault, Fault::Lie { bit_flip: true }) && !bytes.is_empty() {
                    let bit = self.rng.random_range(0..bytes.len() * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                } else {
                    let len = self.rng.random_range(1..=24);
                    bytes = (0..len).map(|_| self.rng.random::<u8>()).collect();
                    if bytes == correct.as_ref() {
                        bytes.push(0xFF);
                    }
                }
                Bytes::from(bytes)
            } else {
                correct
            };
            let replica = self.slots[index].replica.as_mut().expect("the caller checked");
            replica.lied |= lie;
            if let Fault::LieAt(seqs) = &replica.fault
                && seqs.last().is_some_and(|&last| job.seq >= last)
            {
                replica.fault = Fault::Honest; // its last planned lie is told
            }
            if replica.cache.len() == RESULT_CACHE {
                replica.cache.pop_front();
            }
            replica.cache.push_back((job.seq, answer.clone()));
            replica.next_expected += 1;
            results.push((job.seq, answer));
            if job.seq % DIGEST_EVERY_SEQS == 0 {
                let digest = replica.state.digest();
                self.check_digest(id, job.seq, digest)?;
            }
            let replica = self.slots[index].replica.as_mut().expect("the caller checked");
            match &mut replica.fault {
                Fault::CrashAfter(0) => {
                    replica.alive = false;
                    let incarnation = replica.incarnation;
                    self.trace(|| format!("replica{id} inc {incarnation} crashes after seq {}", job.seq));
                    let notice_ms = self.rng.random_range(1..=30);
                    self.schedule(notice_ms, Scheduled::Exited { index, incarnation });
                    return Ok(None);
                }
                Fault::HangAfter(0) => {
                    replica.hung = true;
                    self.trace(|| format!("replica{id} hangs after seq {}", job.seq));
                    return Ok(None);
                }
                Fault::CrashAfter(left) | Fault::HangAfter(left) => *left -= 1,
                _ => {}
            }
        }
        let replica = self.slots[index].replica.as_ref().expect("the caller checked");
        Ok(Some(FromReplica::Executed { next_expected: replica.next_expected, results }))
    }

    fn check_digest(&mut self, id: ReplicaId, seq: u64, digest: [u8; 32]) -> Result<(), ClusterViolation> {
        let expected = if seq == 0 { Replica::new().digest() } else { self.oracle_digests[&seq] };
        self.outcome.digest_checks += 1;
        if expected != digest {
            return Err(self.violation(format!("replica{id} digest at seq {seq} differs from the oracle's")));
        }
        Ok(())
    }

    // ----- faults -----

    /// Replicas impaired now (faulty or armed to fail, their manager paused, or out of the vote at their manager or
    /// at the front end), and those of them that lie.
    fn impaired(&self) -> (BTreeSet<ReplicaId>, BTreeSet<ReplicaId>) {
        let mut impaired = BTreeSet::new();
        let mut liars = BTreeSet::new();
        for slot in &self.slots {
            let faulty = slot
                .replica
                .as_ref()
                .is_none_or(|replica| replica.fault != Fault::Honest || !replica.alive || replica.hung || replica.lied);
            let out_at_front_end = self.front_end.memberships.get(&slot.id).is_some_and(|(_, in_vote)| !in_vote)
                || self.front_end.pending_replace.contains_key(&slot.id);
            if faulty || out_at_front_end || slot.paused || !slot.manager.is_serving() {
                impaired.insert(slot.id);
            }
            if slot.replica.as_ref().is_some_and(|replica| replica.fault.lies() || replica.lied) {
                liars.insert(slot.id);
            }
        }
        (impaired, liars)
    }

    /// Adds what is impaired now to every open round's record (for the `Unavailable` rule).
    fn track_impairment(&mut self) {
        if self.front_end.rounds.is_empty() {
            return;
        }
        let (impaired, liars) = self.impaired();
        for round in self.front_end.rounds.values_mut() {
            round.impaired.extend(impaired.iter().copied());
            round.liars.extend(liars.iter().copied());
        }
    }

    fn chaos(&mut self) {
        self.next_chaos_ms = self.now_ms + self.setup.chaos_interval_ms;
        // Slow replicas recover now and then.
        for slot in &mut self.slots {
            if let Some(replica) = slot.replica.as_mut()
                && matches!(replica.fault, Fault::Slow(_))
                && self.rng.random_bool(0.3)
            {
                replica.fault = Fault::Honest;
            }
        }
        if self.setup.chaos_probability == 0.0 || !self.rng.random_bool(self.setup.chaos_probability) {
            return;
        }
        let (impaired, liars) = self.impaired();
        if impaired.len() >= self.setup.budget() {
            return;
        }
        let liars = liars.len();
        let candidates: Vec<usize> = (0..self.slots.len())
            .filter(|&index| {
                let slot = &self.slots[index];
                slot.manager.is_serving()
                    && slot.replica.as_ref().is_some_and(|r| r.alive && !r.hung && r.fault == Fault::Honest)
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let index = candidates[self.rng.random_range(0..candidates.len())];
        let fault = match self.rng.random_range(0..100) {
            0..=29 if liars == 0 => Fault::Lie { bit_flip: self.rng.random_bool(0.5) },
            0..=29 => Fault::Slow(self.rng.random_range(10..=150)),
            30..=54 => Fault::CrashAfter(self.rng.random_range(0..=10)),
            55..=69 => Fault::HangAfter(self.rng.random_range(0..=10)),
            _ => Fault::Slow(self.rng.random_range(10..=150)),
        };
        self.outcome.faults_injected += 1;
        let id = self.slots[index].id;
        self.trace(|| format!("chaos: replica{id} gets {fault:?}"));
        let replica = self.slots[index].replica.as_mut().expect("a candidate has a replica");
        replica.fault = fault;
    }

    /// Kills replica `index`'s process at once (its manager notices the exit a little later).
    fn crash_now(&mut self, index: usize) {
        let Some(replica) = self.slots[index].replica.as_mut() else { return };
        if !replica.alive {
            return;
        }
        replica.alive = false;
        let incarnation = replica.incarnation;
        self.trace(|| format!("replica{} inc {incarnation} crashes (second fault)", self.slots[index].id));
        let notice_ms = self.rng.random_range(1..=30);
        self.schedule(notice_ms, Scheduled::Exited { index, incarnation });
    }

    fn end_faults(&mut self) {
        self.faults_active = false;
        self.network.set_faults(FaultRates::healthy(1, 5));
        // Faults armed but not yet triggered never happen; slow replicas speed up. Liars, crashed and hung replicas
        // stay until their managers replace them.
        for slot in &mut self.slots {
            if let Some(replica) = slot.replica.as_mut()
                && matches!(replica.fault, Fault::CrashAfter(_) | Fault::HangAfter(_) | Fault::Slow(_))
                && replica.alive
                && !replica.hung
            {
                replica.fault = Fault::Honest;
            }
        }
        self.pending_faults.clear();
        self.trace(|| "faults stop".to_owned());
    }

    // ----- outputs of the cores -----

    fn drain(&mut self) -> Result<(), ClusterViolation> {
        let stats = self.sequencer.stats();
        if (stats.members_dropped, stats.members_returned)
            != (self.outcome.members_dropped, self.outcome.members_returned)
        {
            self.trace(|| {
                let members: Vec<String> = self
                    .sequencer
                    .members()
                    .map(|(member, live)| format!("{member:?} {}", if live { "live" } else { "out" }))
                    .collect();
                format!(
                    "sequencer: {} dropped, {} returned; freed up to {}, high seq {}; {}",
                    stats.members_dropped,
                    stats.members_returned,
                    self.sequencer.freed_up_to(),
                    self.sequencer.high_seq(),
                    members.join(", ")
                )
            });
            self.outcome.members_dropped = stats.members_dropped;
            self.outcome.members_returned = stats.members_returned;
        }
        while let Some(transmit) = self.sequencer.poll_transmit() {
            self.send_ordering(Addr::Sequencer, transmit);
        }
        for index in 0..self.slots.len() {
            if self.slots[index].paused {
                continue;
            }
            if let Some(first) = self.slots[index].member.behind() {
                // What the RM shell does (`MemberNode::spawn_resuming`, rm's `skip_to`): rebuild the member past the
                // gap, and have the manager replace its replica, restored by state transfer beyond it.
                let now = self.now_ms;
                let slot = &mut self.slots[index];
                let delivered_up_to = slot.manager.delivered_up_to();
                slot.member.rebuild_past_gap(now);
                slot.manager.handle_behind(now, first);
                self.trace(|| {
                    format!(
                        "rm{} is behind: member rebuilt at seq {first} (skips {}..={})",
                        self.slots[index].id,
                        delivered_up_to + 1,
                        first - 1
                    )
                });
            }
            while self.slots[index].manager.ready_for_delivery() {
                let Some(entry) = self.slots[index].member.poll_deliver() else { break };
                self.check_delivery(index, &entry)?;
                self.slots[index].manager.handle_delivered(self.now_ms, entry);
            }
            let from = Addr::Manager(self.slots[index].id);
            while let Some(transmit) = self.slots[index].member.poll_transmit() {
                self.send_ordering(from, transmit);
            }
            while let Some(command) = self.slots[index].manager.poll_command() {
                self.carry_out(index, command)?;
            }
        }
        while let Some(ack) = self.front_end.submitter.poll_accepted() {
            self.front_end.seq_of.insert(ack.request_id, ack.seq);
        }
        while let Some(transmit) = self.front_end.submitter.poll_transmit() {
            self.send_ordering(Addr::FrontEnd, transmit);
        }
        while let Some(event) = self.front_end.voter.poll_event() {
            self.on_vote(event)?;
        }
        Ok(())
    }

    /// What an RM shell does with each command.
    fn carry_out(&mut self, index: usize, command: Command) -> Result<(), ClusterViolation> {
        let id = self.slots[index].id;
        let me = Addr::Manager(id);
        match command {
            Command::Execute { jobs, .. } => {
                self.trace(|| format!("rm{id} feeds seqs {:?}", jobs.iter().map(|job| job.seq).collect::<Vec<_>>()));
                self.send(me, Addr::Replica(id), Wire::ToReplica(ToReplica::Execute(jobs)))
            }
            Command::TakeSnapshot { .. } => self.send(me, Addr::Replica(id), Wire::ToReplica(ToReplica::Snapshot)),
            Command::Restore { seq, snapshot, .. } => {
                self.send(me, Addr::Replica(id), Wire::ToReplica(ToReplica::Restore { seq, bytes: snapshot }))
            }
            Command::KillReplica { incarnation } => {
                let slot = &mut self.slots[index];
                if slot.replica.as_ref().is_some_and(|replica| replica.incarnation == incarnation) {
                    slot.replica = None;
                }
                self.trace(|| format!("rm{id} kills replica inc {incarnation}"));
                let notice_ms = self.rng.random_range(1..=10);
                self.schedule(notice_ms, Scheduled::Exited { index, incarnation });
            }
            Command::StartReplica { incarnation } => {
                if incarnation > 1 {
                    // A replacement runs without the injected fault.
                    self.pending_faults.insert(index, Fault::Honest);
                }
                let start_ms = self.rng.random_range(5..=50);
                self.schedule(start_ms, Scheduled::Started { index, incarnation });
            }
            Command::Probe { probe_id, replica_id } => {
                // The shell retries a probe within its deadline (four tries spread over it), so that a lossy
                // network rarely makes a live replica look dead to a majority.
                let spacing_ms = self.slots[index].manager.config().probe_timeout_ms / 4;
                for attempt in 0..4 {
                    let wire = Wire::ToReplica(ToReplica::Probe { probe_id });
                    self.send_delayed(me, Addr::Replica(replica_id), wire, attempt * spacing_ms);
                }
            }
            Command::SendToManager { to, message } => {
                self.send(me, Addr::Manager(to), Wire::Manager(ManagerMessage::Peer(message)))
            }
            Command::SendResult { front_end, result } => {
                self.send(me, addr_of(front_end), Wire::Manager(ManagerMessage::Result(result)))
            }
            Command::AnnounceMembership(membership) => {
                self.send(me, Addr::FrontEnd, Wire::Manager(ManagerMessage::Membership(membership)))
            }
            Command::Log(audit) => self.audit(index, audit)?,
        }
        Ok(())
    }

    fn audit(&mut self, index: usize, audit: Audit) -> Result<(), ClusterViolation> {
        let id = self.slots[index].id;
        if !matches!(audit, Audit::Delivered { .. } | Audit::ResultSent { .. }) {
            self.trace(|| format!("rm{id}: {audit:?}"));
        }
        match audit {
            Audit::ReplacementStarted { reason: ReplaceReason::Wrong, incarnation } => {
                self.outcome.replaced_wrong += 1;
                let slot = &mut self.slots[index];
                if !slot.limit_reported {
                    return Err(self.violation(format!(
                        "rm{id} replaced its replica for wrong answers without a report of 3 consecutive ones"
                    )));
                }
                slot.limit_reported = false;
                let lied = slot.replica.as_ref().is_some_and(|replica| replica.lied);
                if !lied {
                    return Err(self.violation(format!(
                        "rm{id} replaced an honest replica (incarnation {}) for wrong answers",
                        incarnation - 1
                    )));
                }
            }
            Audit::ReplacementStarted { reason: ReplaceReason::Crash, incarnation } => {
                self.outcome.replaced_crash += 1;
                if self.options.scenario == ClusterScenario::TwoDown && id == 2 && incarnation == 2 {
                    self.crash_now(2);
                }
                let healthy = self.slots[index]
                    .replica
                    .as_ref()
                    .is_some_and(|replica| replica.alive && !replica.hung && replica.incarnation == incarnation - 1);
                if healthy {
                    self.outcome.replaced_healthy += 1;
                    if self.setup.faults.loss == 0.0 {
                        return Err(self.violation(format!("rm{id} replaced a live replica on a loss-free network")));
                    }
                }
            }
            Audit::ReplacementStarted { reason: ReplaceReason::Behind, .. } => {
                self.outcome.replaced_behind += 1;
                if !self.slots[index].was_paused && self.setup.faults.loss == 0.0 {
                    return Err(self.violation(format!(
                        "rm{id} fell behind the sequencer's history on a loss-free network without being paused"
                    )));
                }
            }
            Audit::Rejoined { .. } => {
                self.outcome.rejoined += 1;
                self.slots[index].limit_reported = false;
            }
            Audit::SoleDonorRestore { .. } => self.outcome.sole_donor_restores += 1,
            _ => {}
        }
        Ok(())
    }

    /// Prefix consistency, and the oracle: applies each seq the first time any member delivers it.
    fn check_delivery(&mut self, index: usize, entry: &ordering::OrderedEntry) -> Result<(), ClusterViolation> {
        let id = self.slots[index].id;
        let known = self.canonical.len() as u64;
        if entry.seq <= known {
            let first = self.canonical[entry.seq as usize - 1];
            if first != entry.request_id {
                return Err(self.violation(format!(
                    "rm{id} delivered request {} at seq {} where another delivered {first}",
                    entry.request_id, entry.seq
                )));
            }
            return Ok(());
        }
        if entry.seq != known + 1 {
            return Err(self.violation(format!("rm{id} delivered seq {} beyond the longest prefix {known}", entry.seq)));
        }
        if !self.ordered_ids.insert(entry.request_id) {
            return Err(self.violation(format!("request {} ordered twice", entry.request_id)));
        }
        let request = Request::decode(&entry.payload).expect("the simulated front end encodes valid requests");
        let answer = self.oracle.execute(&request, entry.timestamp_ms as i64).encode();
        self.oracle_answers.insert(entry.request_id, Bytes::from(answer));
        self.canonical.push(entry.request_id);
        // Every seq: snapshots and restores can happen at any of them.
        self.oracle_digests.insert(entry.seq, self.oracle.digest());
        Ok(())
    }

    fn converged(&self) -> bool {
        let high_seq = self.sequencer.high_seq();
        !self.wants_more_requests()
            && self.clients.iter().all(|client| client.outstanding.is_none())
            && self.front_end.voter.open_rounds() == 0
            && self.front_end.submitter.in_flight() == 0
            && self.all_healthy()
            && self
                .slots
                .iter()
                .all(|slot| slot.manager.delivered_up_to() == high_seq && slot.manager.executed_up_to() == high_seq)
    }

    fn final_checks(&self) -> Result<(), ClusterViolation> {
        let high_seq = self.sequencer.high_seq();
        if self.canonical.len() as u64 != high_seq {
            return Err(
                self.violation(format!("oracle applied {} seqs but high_seq is {high_seq}", self.canonical.len()))
            );
        }
        let oracle_digest = self.oracle.digest();
        for slot in &self.slots {
            let replica = slot.replica.as_ref().expect("converged implies a running replica");
            if replica.next_expected != high_seq + 1 || replica.state.digest() != oracle_digest {
                return Err(self.violation(format!(
                    "replica{} (incarnation {}) ends at seq {} with a digest {} the oracle's",
                    slot.id,
                    replica.incarnation,
                    replica.next_expected - 1,
                    if replica.state.digest() == oracle_digest { "equal to" } else { "different from" }
                )));
            }
        }
        for request_id in &self.decided_ids {
            if !self.ordered_ids.contains(request_id) {
                return Err(self.violation(format!("request {request_id} was answered but never ordered")));
            }
        }
        Ok(())
    }
}
