//! Deterministic simulation of the ordering protocol: one sequencer, several submitters and members, wired through
//! the in-memory `Network`, with one seeded RNG deciding everything (scenario parameters, loss, duplication,
//! reordering, delay, member crash and restart, clock jitter, when clients submit).
//!
//! Deliberately not here: booking, replicas, the UDP shells. Members restart empty from a snapshot point copied from
//! the longest delivered prefix (standing in for state transfer); the simulation itself is the oracle.
//!
//! Invariants checked as every step happens (each delivery and acknowledgement is checked when it is produced, so a
//! violation names the step that caused it): every member delivers consecutive seqs from its start point (no gap, no
//! duplicate); every member delivers the same request and timestamp at the same seq as every other member (prefix
//! consistency); timestamps never decrease along seqs; a request `(submitter, request_id)` sits at one seq only; an
//! `Accepted` names the seq the request is delivered at; payloads arrive intact. After the fault phase the network
//! heals, crashed members restart, and within a bounded simulated time every submitted request must be accepted and
//! delivered at every member, and the sequencer's history must be empty.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use ordering::{
    Destination, Member, MemberConfig, Message, NodeId, OrderedEntry, Sequencer, SequencerConfig, Submitter,
    SubmitterConfig, Transmit,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::network::{FaultRates, Network, NetworkStats};

/// The sequencer's node id in the simulation.
const SEQUENCER: NodeId = NodeId(0);
/// Submitters are numbered from here so that their ids never collide with members'.
const FIRST_SUBMITTER: u16 = 100;

/// Knobs of one simulation run that are not drawn from the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderingSimOptions {
    /// Requests each submitter submits.
    pub requests_per_submitter: u64,
    /// Simulated time during which faults (loss, duplication, reordering, crashes) happen.
    pub fault_phase_ms: u64,
    /// Simulated time after the fault phase within which everything must have converged.
    pub quiesce_limit_ms: u64,
    /// Print every event to stderr (for replaying one seed).
    pub trace: bool,
}

impl Default for OrderingSimOptions {
    fn default() -> Self {
        OrderingSimOptions { requests_per_submitter: 40, fault_phase_ms: 2_000, quiesce_limit_ms: 60_000, trace: false }
    }
}

/// What one successful run did, for summaries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderingOutcome {
    /// Events processed.
    pub steps: u64,
    /// Seqs ordered.
    pub ordered: u64,
    /// Deliveries over all members.
    pub deliveries: u64,
    /// Member crashes.
    pub crashes: u64,
    /// Members that had to be rebuilt from a snapshot because the sequencer said they were behind its history.
    pub state_transfers: u64,
    /// Members the sequencer dropped for silence (`SequencerStats::members_dropped`).
    pub members_dropped: u64,
    /// Dropped members that came back (`SequencerStats::members_returned`).
    pub members_returned: u64,
    /// Entries the sequencer resent after NAKs.
    pub retransmitted: u64,
    /// Submissions refused because the history was full.
    pub refused_history_full: u64,
    /// Simulated time at convergence.
    pub end_ms: u64,
    /// What the network did.
    pub network: NetworkStats,
}

/// A broken invariant, with what is needed to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The seed that produced it.
    pub seed: u64,
    /// The step at which it was detected.
    pub step: u64,
    /// Simulated time at detection.
    pub now_ms: u64,
    /// Which invariant broke, and how.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ordering simulation violation: seed {} step {} at {} ms: {}\n  replay: {}",
            self.seed,
            self.step,
            self.now_ms,
            self.what,
            replay_command(self.seed)
        )
    }
}

impl std::error::Error for Violation {}

/// The command that replays one seed with a trace of every event.
pub fn replay_command(seed: u64) -> String {
    format!("cargo run -p sim --release -- ordering --start {seed} --seeds 1 --trace")
}

/// Scenario parameters drawn from the seed.
#[derive(Clone, Debug)]
struct Scenario {
    member_count: usize,
    submitter_count: usize,
    history_capacity: usize,
    faults: FaultRates,
    crash_probability: f64,
    chaos_interval_ms: u64,
    clock_jitter_ms: u64,
    submit_gap_max_ms: u64,
    sequencer: SequencerConfig,
    member_template: MemberConfig,
    submitter_template: SubmitterConfig,
}

impl Scenario {
    fn draw(rng: &mut ChaCha8Rng) -> Scenario {
        let member_count = rng.random_range(1..=4usize);
        let submitter_count = rng.random_range(1..=3usize);
        let history_capacity = 1usize << rng.random_range(4..=7u32);
        let members: Vec<NodeId> = (1..=member_count as u16).map(NodeId).collect();
        let heartbeat_interval_ms = rng.random_range(5..=100);
        let window_requests = rng.random_range(4..=64u64);
        let sequencer = SequencerConfig {
            id: SEQUENCER,
            epoch: 1,
            members,
            first_seq: 1,
            history_capacity,
            heartbeat_interval_ms,
            probe_interval_ms: rng.random_range(50..=1_000),
            dedup_window_requests: window_requests + rng.random_range(0..=16u64),
            submitters_max: 8,
            batch_bytes_max: rng.random_range(60..=1_400usize),
            retransmit_max: rng.random_range(1..=64usize),
            // Half the seeds drop silent members, some of them very eagerly (a member with lost reports is then
            // dropped, told `Behind` and rebuilt by state transfer, which is what this is here to exercise).
            member_timeout_ms: if rng.random_bool(0.5) { rng.random_range(20..=1_000) } else { 0 },
            live_members_min: rng.random_range(1..=member_count),
        };
        let member_template = MemberConfig {
            id: NodeId(0),
            sequencer: SEQUENCER,
            epoch: 1,
            holdback_capacity: 1usize << rng.random_range(3..=7u32),
            nak_interval_ms: rng.random_range(1..=60),
            nak_ranges_max: rng.random_range(1..=8usize),
            report_every_seqs: 1,
            report_interval_ms: rng.random_range(5..=200),
        };
        let submitter_template = SubmitterConfig {
            id: NodeId(0),
            sequencer: SEQUENCER,
            epoch: 1,
            retry_interval_ms: rng.random_range(5..=200),
            window_requests,
            batch_bytes_max: rng.random_range(40..=1_400usize),
        };
        let faulty = rng.random_bool(0.9);
        let faults = FaultRates {
            loss: if faulty { rng.random_range(0.0..0.3) } else { 0.0 },
            duplicate: if faulty { rng.random_range(0.0..0.2) } else { 0.0 },
            reorder: if faulty { rng.random_range(0.0..0.3) } else { 0.0 },
            delay_min_ms: 0,
            delay_max_ms: rng.random_range(0..=5),
            reorder_extra_ms: rng.random_range(1..=30),
        };
        Scenario {
            member_count,
            submitter_count,
            history_capacity,
            faults,
            crash_probability: if rng.random_bool(0.7) { rng.random_range(0.0..0.5) } else { 0.0 },
            chaos_interval_ms: rng.random_range(20..=400),
            clock_jitter_ms: if rng.random_bool(0.3) { rng.random_range(1..=20) } else { 0 },
            submit_gap_max_ms: rng.random_range(0..=30),
            sequencer,
            member_template,
            submitter_template,
        }
    }

    fn member_config(&self, index: usize) -> MemberConfig {
        let config = MemberConfig { id: NodeId(index as u16 + 1), ..self.member_template.clone() };
        config.staggered(index, self.member_count, self.history_capacity)
    }
}

/// A member slot: the running member (if not crashed) and what the oracle expects of it.
#[derive(Debug)]
struct MemberSlot {
    id: NodeId,
    member: Option<Member>,
    /// The seq this member must deliver next.
    expected_next_seq: u64,
    restart_at_ms: Option<u64>,
    /// Whether the simulation told the sequencer this member is removed while it is down.
    removed: bool,
}

#[derive(Debug)]
struct SubmitterSlot {
    submitter: Submitter,
    next_request_id: u64,
    submitted: Vec<u64>,
    next_submit_ms: u64,
}

/// What the oracle knows was ordered at one seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ordered {
    submitter: NodeId,
    request_id: u64,
    timestamp_ms: u64,
}

/// One event the step loop can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Packet,
    SequencerTimer,
    MemberTimer(usize),
    SubmitterTimer(usize),
    Submit(usize),
    Chaos,
    Restart(usize),
    EndFaults,
}

struct World {
    seed: u64,
    options: OrderingSimOptions,
    scenario: Scenario,
    rng: ChaCha8Rng,
    network: Network<NodeId, Message>,
    now_ms: u64,
    step: u64,
    faults_active: bool,
    next_chaos_ms: u64,
    sequencer: Sequencer,
    members: Vec<MemberSlot>,
    submitters: Vec<SubmitterSlot>,
    /// The oracle's log: `canonical[seq - 1]` is what the first member to deliver `seq` delivered.
    canonical: Vec<Ordered>,
    seq_of_request: HashMap<(NodeId, u64), u64>,
    acked: HashMap<(NodeId, u64), u64>,
    outcome: OrderingOutcome,
}

/// The payload a request carries: derived from its identity, so delivery can check integrity without storing it.
fn payload_for(submitter: NodeId, request_id: u64) -> Bytes {
    let mut payload = Vec::with_capacity(40);
    payload.extend_from_slice(&submitter.0.to_le_bytes());
    payload.extend_from_slice(&request_id.to_le_bytes());
    payload.resize(10 + (request_id % 29) as usize, (request_id % 251) as u8);
    Bytes::from(payload)
}

/// Runs one seed to convergence or to the first violation.
pub fn run_ordering(seed: u64, options: &OrderingSimOptions) -> Result<OrderingOutcome, Violation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scenario = Scenario::draw(&mut rng);
    let members = (0..scenario.member_count)
        .map(|index| MemberSlot {
            id: NodeId(index as u16 + 1),
            member: Some(Member::new(scenario.member_config(index), 0)),
            expected_next_seq: 1,
            restart_at_ms: None,
            removed: false,
        })
        .collect();
    let submitters = (0..scenario.submitter_count)
        .map(|index| SubmitterSlot {
            submitter: Submitter::new(SubmitterConfig {
                id: NodeId(FIRST_SUBMITTER + index as u16),
                ..scenario.submitter_template.clone()
            }),
            next_request_id: rng.random_range(0..=1_000),
            submitted: Vec::new(),
            next_submit_ms: rng.random_range(0..=scenario.submit_gap_max_ms),
        })
        .collect();
    let world = World {
        seed,
        options: options.clone(),
        network: Network::new(scenario.faults),
        now_ms: 0,
        step: 0,
        faults_active: true,
        next_chaos_ms: scenario.chaos_interval_ms,
        sequencer: Sequencer::new(scenario.sequencer.clone(), 0),
        members,
        submitters,
        canonical: Vec::new(),
        seq_of_request: HashMap::new(),
        acked: HashMap::new(),
        outcome: OrderingOutcome::default(),
        scenario,
        rng,
    };
    if world.options.trace {
        eprintln!("seed {seed}: {:#?}", world.scenario);
    }
    world.run()
}

impl World {
    fn violation(&self, what: String) -> Violation {
        Violation { seed: self.seed, step: self.step, now_ms: self.now_ms, what }
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if self.options.trace {
            eprintln!("[{:>6}] t={:>6} {}", self.step, self.now_ms, what());
        }
    }

    fn run(mut self) -> Result<OrderingOutcome, Violation> {
        let deadline_ms = self.options.fault_phase_ms + self.options.quiesce_limit_ms;
        loop {
            if !self.faults_active && self.converged() {
                self.final_checks()?;
                self.outcome.steps = self.step;
                self.outcome.end_ms = self.now_ms;
                self.outcome.network = self.network.stats();
                let stats = self.sequencer.stats();
                self.outcome.ordered = stats.ordered;
                self.outcome.retransmitted = stats.retransmitted;
                self.outcome.refused_history_full = stats.refused_history_full;
                self.outcome.members_dropped = stats.members_dropped;
                self.outcome.members_returned = stats.members_returned;
                return Ok(self.outcome);
            }
            if self.now_ms > deadline_ms {
                return Err(self.violation(format!("did not converge after the faults stopped: {}", self.progress())));
            }
            let Some(next_ms) = self.next_event_ms() else {
                return Err(self.violation(format!("nothing left to do but not converged: {}", self.progress())));
            };
            self.now_ms = self.now_ms.max(next_ms);
            let due = self.due_events();
            let event = due[self.rng.random_range(0..due.len())];
            self.step += 1;
            self.apply(event)?;
            self.drain_outputs()?;
            self.check_step()?;
        }
    }

    fn progress(&self) -> String {
        let members: Vec<String> = self
            .members
            .iter()
            .map(|slot| match &slot.member {
                Some(member) => format!("{}@{}(seen {})", slot.id, member.delivered_up_to(), member.high_seen()),
                None => format!("{} down", slot.id),
            })
            .collect();
        let in_flight: usize = self.submitters.iter().map(|slot| slot.submitter.in_flight()).sum();
        format!(
            "high_seq {} freed_up_to {} members [{}] submitter requests in flight {} submitted {}",
            self.sequencer.high_seq(),
            self.sequencer.freed_up_to(),
            members.join(", "),
            in_flight,
            self.submitters.iter().map(|slot| slot.submitted.len()).sum::<usize>()
        )
    }

    fn next_event_ms(&mut self) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut consider = |at: Option<u64>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |next| next.min(at)));
            }
        };
        consider(self.network.next_delivery_ms());
        consider(self.sequencer.poll_timeout());
        for slot in &self.members {
            consider(slot.member.as_ref().and_then(Member::poll_timeout));
            consider(slot.restart_at_ms);
        }
        let requests_per_submitter = self.options.requests_per_submitter;
        for slot in &mut self.submitters {
            consider(slot.submitter.poll_timeout());
            if (slot.submitted.len() as u64) < requests_per_submitter {
                consider(Some(slot.next_submit_ms));
            }
        }
        if self.faults_active {
            consider(Some(self.next_chaos_ms));
            consider(Some(self.options.fault_phase_ms));
        }
        next
    }

    fn due_events(&mut self) -> Vec<Event> {
        let now_ms = self.now_ms;
        let mut due = Vec::new();
        if self.network.next_delivery_ms().is_some_and(|at| at <= now_ms) {
            due.push(Event::Packet);
        }
        if self.sequencer.poll_timeout().is_some_and(|at| at <= now_ms) {
            due.push(Event::SequencerTimer);
        }
        for (index, slot) in self.members.iter().enumerate() {
            if slot.member.as_ref().and_then(Member::poll_timeout).is_some_and(|at| at <= now_ms) {
                due.push(Event::MemberTimer(index));
            }
            if slot.restart_at_ms.is_some_and(|at| at <= now_ms) {
                due.push(Event::Restart(index));
            }
        }
        let requests_per_submitter = self.options.requests_per_submitter;
        for (index, slot) in self.submitters.iter_mut().enumerate() {
            if slot.submitter.poll_timeout().is_some_and(|at| at <= now_ms) {
                due.push(Event::SubmitterTimer(index));
            }
            if (slot.submitted.len() as u64) < requests_per_submitter && slot.next_submit_ms <= now_ms {
                due.push(Event::Submit(index));
            }
        }
        if self.faults_active {
            if self.next_chaos_ms <= now_ms {
                due.push(Event::Chaos);
            }
            if self.options.fault_phase_ms <= now_ms {
                due.push(Event::EndFaults);
            }
        }
        assert!(!due.is_empty(), "next_event_ms chose a time at which nothing is due");
        due
    }

    /// The sequencer's clock: real simulated time, sometimes a little behind (clocks may step backwards), which the
    /// sequencer must not let show in its timestamps.
    fn sequencer_now_ms(&mut self) -> u64 {
        if self.scenario.clock_jitter_ms > 0 {
            self.now_ms.saturating_sub(self.rng.random_range(0..=self.scenario.clock_jitter_ms))
        } else {
            self.now_ms
        }
    }

    fn apply(&mut self, event: Event) -> Result<(), Violation> {
        let now_ms = self.now_ms;
        match event {
            Event::Packet => {
                let packet = self.network.pop_due(now_ms).expect("a packet is due");
                self.trace(|| format!("{} -> {}: {:?}", packet.from, packet.to, packet.message.body));
                if packet.to == SEQUENCER {
                    let sequencer_now_ms = self.sequencer_now_ms();
                    self.sequencer.handle(sequencer_now_ms, packet.message);
                } else if let Some(slot) = self.members.iter_mut().find(|slot| slot.id == packet.to) {
                    // A datagram to a crashed member is lost.
                    if let Some(member) = slot.member.as_mut() {
                        member.handle(now_ms, packet.message);
                    }
                } else if let Some(slot) = self.submitters.iter_mut().find(|slot| slot.submitter_id() == packet.to) {
                    slot.submitter.handle(now_ms, packet.message);
                } else {
                    return Err(self.violation(format!("datagram to unknown node {}", packet.to)));
                }
            }
            Event::SequencerTimer => self.sequencer.handle_timeout(now_ms),
            Event::MemberTimer(index) => {
                self.members[index].member.as_mut().expect("timer of a live member").handle_timeout(now_ms)
            }
            Event::SubmitterTimer(index) => self.submitters[index].submitter.handle_timeout(now_ms),
            Event::Submit(index) => self.submit(index)?,
            Event::Chaos => self.chaos(),
            Event::Restart(index) => self.restart(index),
            Event::EndFaults => {
                self.trace(|| "faults end: network heals, crashed members restart".to_string());
                self.faults_active = false;
                self.network.set_faults(FaultRates::healthy(0, self.scenario.faults.delay_max_ms));
                for slot in &mut self.members {
                    if slot.member.is_none() {
                        slot.restart_at_ms = Some(now_ms);
                    }
                }
            }
        }
        Ok(())
    }

    fn submit(&mut self, index: usize) -> Result<(), Violation> {
        let now_ms = self.now_ms;
        let gap_ms = self.rng.random_range(0..=self.scenario.submit_gap_max_ms);
        // Ids are increasing but not always dense, as a front end's may not be.
        let skip = if self.rng.random_bool(0.2) { self.rng.random_range(1..=3) } else { 0 };
        let slot = &mut self.submitters[index];
        let request_id = slot.next_request_id + skip;
        let submitter_id = slot.submitter_id();
        match slot.submitter.submit(now_ms, request_id, payload_for(submitter_id, request_id)) {
            Ok(()) => {
                slot.submitted.push(request_id);
                slot.next_request_id = request_id + 1;
                slot.next_submit_ms = now_ms + gap_ms;
                // Reusing an id must be refused: that is the submitter's half of "never ordered twice".
                if slot.submitter.submit(now_ms, request_id, Bytes::new()).is_ok() {
                    return Err(self.violation(format!("{submitter_id} accepted request id {request_id} twice")));
                }
                self.trace(|| format!("{submitter_id} submits request {request_id}"));
            }
            Err(error) => {
                // Window full: the front end would make its caller wait; try again a bit later.
                slot.next_submit_ms = now_ms + gap_ms.max(1);
                self.trace(|| format!("{submitter_id} cannot submit yet: {error}"));
            }
        }
        Ok(())
    }

    fn chaos(&mut self) {
        self.next_chaos_ms = self.now_ms + self.scenario.chaos_interval_ms;
        if self.scenario.crash_probability == 0.0 || !self.rng.random_bool(self.scenario.crash_probability) {
            return;
        }
        let running: Vec<usize> =
            (0..self.members.len()).filter(|&index| self.members[index].member.is_some()).collect();
        // Keep one member running: a snapshot point must come from somewhere, as state transfer needs a donor.
        if running.len() < 2 {
            return;
        }
        let index = running[self.rng.random_range(0..running.len())];
        let remove = self.rng.random_bool(0.5);
        let down_ms = self.rng.random_range(1..=600);
        let slot = &mut self.members[index];
        slot.member = None;
        slot.restart_at_ms = Some(self.now_ms + down_ms);
        slot.removed = remove;
        let id = slot.id;
        if remove {
            self.sequencer.set_member_live(id, false);
        }
        self.outcome.crashes += 1;
        self.trace(|| format!("{id} crashes for {down_ms} ms{}", if remove { ", marked removed" } else { "" }));
    }

    fn restart(&mut self, index: usize) {
        let config = self.scenario.member_config(index);
        let id = self.members[index].id;
        // Restarting from seq 1 is allowed only while the sequencer holds everything and never recorded a report
        // from this member; otherwise take a snapshot at the longest delivered prefix (state transfer).
        let from_scratch = self.sequencer.freed_up_to() == 0
            && self.sequencer.member_delivered_up_to(id) == Some(0)
            && self.rng.random_bool(0.5);
        let next_seq = if from_scratch { 1 } else { self.canonical.len() as u64 + 1 };
        let slot = &mut self.members[index];
        slot.member = Some(Member::new_at(config, self.now_ms, next_seq));
        slot.expected_next_seq = next_seq;
        slot.restart_at_ms = None;
        if slot.removed {
            slot.removed = false;
            self.sequencer.set_member_live(id, true);
        }
        self.trace(|| format!("{id} restarts at seq {next_seq}"));
    }

    fn drain_outputs(&mut self) -> Result<(), Violation> {
        while let Some(transmit) = self.sequencer.poll_transmit() {
            self.send(SEQUENCER, transmit)?;
        }
        for index in 0..self.members.len() {
            let mut transmits = Vec::new();
            let mut deliveries = Vec::new();
            if let Some(member) = self.members[index].member.as_mut() {
                while let Some(entry) = member.poll_deliver() {
                    deliveries.push(entry);
                }
                while let Some(transmit) = member.poll_transmit() {
                    transmits.push(transmit);
                }
            }
            for entry in deliveries {
                self.check_delivery(index, entry)?;
            }
            let id = self.members[index].id;
            for transmit in transmits {
                self.send(id, transmit)?;
            }
        }
        for index in 0..self.submitters.len() {
            let id = self.submitters[index].submitter_id();
            while let Some(ack) = self.submitters[index].submitter.poll_accepted() {
                self.check_ack(id, ack.request_id, ack.seq)?;
            }
            while let Some(transmit) = self.submitters[index].submitter.poll_transmit() {
                self.send(id, transmit)?;
            }
        }
        Ok(())
    }

    fn send(&mut self, from: NodeId, transmit: Transmit) -> Result<(), Violation> {
        if transmit.message.from != from {
            return Err(self.violation(format!("{from} sent a message claiming to be from {}", transmit.message.from)));
        }
        // Put a share of the traffic through the codec: the simulation then also checks the wire format round trip.
        if self.rng.random_bool(0.125) {
            let mut encoded = Vec::new();
            transmit.message.encode(&mut encoded);
            if encoded.len() != transmit.message.encoded_len() {
                return Err(self.violation(format!("encoded_len disagrees for {:?}", transmit.message.body)));
            }
            match Message::decode(&encoded) {
                Ok(decoded) if decoded == transmit.message => {}
                other => return Err(self.violation(format!("codec round trip failed: {other:?}"))),
            }
        }
        match transmit.to {
            Destination::Node(to) => self.network.send(&mut self.rng, self.now_ms, from, to, transmit.message),
            Destination::Members => {
                for index in 0..self.members.len() {
                    let to = self.members[index].id;
                    self.network.send(&mut self.rng, self.now_ms, from, to, transmit.message.clone());
                }
            }
        }
        Ok(())
    }

    fn check_delivery(&mut self, index: usize, entry: OrderedEntry) -> Result<(), Violation> {
        let id = self.members[index].id;
        self.trace(|| format!("{id} delivers seq {} = {} request {}", entry.seq, entry.submitter, entry.request_id));
        let expected = self.members[index].expected_next_seq;
        if entry.seq != expected {
            return Err(self.violation(format!("{id} delivered seq {} but its next seq is {expected}", entry.seq)));
        }
        self.members[index].expected_next_seq += 1;
        self.outcome.deliveries += 1;
        if entry.payload != payload_for(entry.submitter, entry.request_id) {
            return Err(self.violation(format!("{id} delivered a corrupted payload at seq {}", entry.seq)));
        }
        let delivered =
            Ordered { submitter: entry.submitter, request_id: entry.request_id, timestamp_ms: entry.timestamp_ms };
        let canonical_len = self.canonical.len() as u64;
        if entry.seq <= canonical_len {
            let first = self.canonical[entry.seq as usize - 1];
            if first != delivered {
                return Err(self.violation(format!(
                    "{id} delivered {delivered:?} at seq {} where another member delivered {first:?}",
                    entry.seq
                )));
            }
            return Ok(());
        }
        if entry.seq != canonical_len + 1 {
            return Err(self.violation(format!("{id} delivered seq {} beyond the longest prefix", entry.seq)));
        }
        if let Some(previous) = self.canonical.last()
            && previous.timestamp_ms > delivered.timestamp_ms
        {
            return Err(self.violation(format!(
                "timestamp went backwards at seq {}: {} after {}",
                entry.seq, delivered.timestamp_ms, previous.timestamp_ms
            )));
        }
        let key = (entry.submitter, entry.request_id);
        if let Some(other_seq) = self.seq_of_request.insert(key, entry.seq) {
            return Err(self.violation(format!("request {key:?} ordered twice: seqs {other_seq} and {}", entry.seq)));
        }
        if let Some(&acked_seq) = self.acked.get(&key)
            && acked_seq != entry.seq
        {
            return Err(
                self.violation(format!("request {key:?} acked as seq {acked_seq} but delivered at {}", entry.seq))
            );
        }
        self.canonical.push(delivered);
        Ok(())
    }

    fn check_ack(&mut self, submitter: NodeId, request_id: u64, seq: u64) -> Result<(), Violation> {
        self.trace(|| format!("{submitter} learns request {request_id} is seq {seq}"));
        let key = (submitter, request_id);
        if let Some(previous) = self.acked.insert(key, seq) {
            return Err(self.violation(format!("{key:?} acknowledged twice to the submitter (seqs {previous}, {seq})")));
        }
        if let Some(&delivered_seq) = self.seq_of_request.get(&key)
            && delivered_seq != seq
        {
            return Err(self.violation(format!("{key:?} acked as seq {seq} but delivered at {delivered_seq}")));
        }
        if seq > self.sequencer.high_seq() {
            return Err(self.violation(format!("{key:?} acked as seq {seq} beyond high_seq")));
        }
        Ok(())
    }

    /// Cheap whole-state checks after every step; also stands in for state transfer when a member is behind.
    fn check_step(&mut self) -> Result<(), Violation> {
        let high_seq = self.sequencer.high_seq();
        if self.sequencer.history_len() > self.scenario.history_capacity {
            return Err(self.violation("history holds more than its capacity".to_string()));
        }
        if self.sequencer.freed_up_to() > self.canonical.len() as u64 {
            return Err(self.violation("sequencer freed history no member has delivered".to_string()));
        }
        for index in 0..self.members.len() {
            let Some(member) = self.members[index].member.as_ref() else { continue };
            if member.delivered_up_to() > high_seq {
                return Err(self.violation(format!("{} delivered beyond high_seq", self.members[index].id)));
            }
            if let Some(first_available_seq) = member.behind() {
                // The sequencer freed what this member needs: model state transfer from the longest prefix.
                let next_seq = self.canonical.len() as u64 + 1;
                if next_seq < first_available_seq {
                    return Err(self.violation(format!(
                        "{} is behind history (first available {first_available_seq}) and no member is further",
                        self.members[index].id
                    )));
                }
                let config = self.scenario.member_config(index);
                let slot = &mut self.members[index];
                slot.member = Some(Member::new_at(config, self.now_ms, next_seq));
                slot.expected_next_seq = next_seq;
                self.outcome.state_transfers += 1;
                let id = slot.id;
                self.trace(|| format!("{id} was behind history: state transfer to seq {next_seq}"));
            }
        }
        Ok(())
    }

    fn converged(&self) -> bool {
        let high_seq = self.sequencer.high_seq();
        self.submitters.iter().all(|slot| {
            slot.submitted.len() as u64 == self.options.requests_per_submitter && slot.submitter.in_flight() == 0
        }) && self
            .members
            .iter()
            .all(|slot| slot.member.as_ref().is_some_and(|member| member.delivered_up_to() == high_seq))
            && self.sequencer.freed_up_to() == high_seq
    }

    fn final_checks(&self) -> Result<(), Violation> {
        let high_seq = self.sequencer.high_seq();
        if self.canonical.len() as u64 != high_seq {
            return Err(self.violation(format!("{} seqs delivered but high_seq is {high_seq}", self.canonical.len())));
        }
        let mut submitted_total = 0;
        for slot in &self.submitters {
            for &request_id in &slot.submitted {
                submitted_total += 1;
                let key = (slot.submitter_id(), request_id);
                if !self.seq_of_request.contains_key(&key) {
                    return Err(self.violation(format!("request {key:?} was submitted but never delivered")));
                }
                if !self.acked.contains_key(&key) {
                    return Err(self.violation(format!("request {key:?} was delivered but never acknowledged")));
                }
            }
        }
        if submitted_total != self.canonical.len() {
            return Err(self.violation(format!(
                "{submitted_total} requests submitted but {} seqs delivered",
                self.canonical.len()
            )));
        }
        if self.sequencer.history_len() != 0 {
            return Err(self.violation("history not empty after convergence".to_string()));
        }
        Ok(())
    }
}

impl SubmitterSlot {
    fn submitter_id(&self) -> NodeId {
        self.submitter.id()
    }
}

/// Runs `count` seeds from `start`, returning the outcomes summed, or the first violation.
pub fn run_ordering_seeds(start: u64, count: u64, options: &OrderingSimOptions) -> Result<OrderingTotals, Violation> {
    let mut totals = OrderingTotals::default();
    for seed in start..start.saturating_add(count) {
        let outcome = run_ordering(seed, options)?;
        totals.add(&outcome);
    }
    Ok(totals)
}

/// Sums of many runs' outcomes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderingTotals {
    /// Seeds run.
    pub seeds: u64,
    /// Sum of `OrderingOutcome::steps`.
    pub steps: u64,
    /// Sum of `OrderingOutcome::ordered`.
    pub ordered: u64,
    /// Sum of `OrderingOutcome::deliveries`.
    pub deliveries: u64,
    /// Sum of `OrderingOutcome::crashes`.
    pub crashes: u64,
    /// Sum of `OrderingOutcome::state_transfers`.
    pub state_transfers: u64,
    /// Sum of `OrderingOutcome::members_dropped`.
    pub members_dropped: u64,
    /// Sum of `OrderingOutcome::members_returned`.
    pub members_returned: u64,
    /// Sum of `OrderingOutcome::retransmitted`.
    pub retransmitted: u64,
    /// Sum of `OrderingOutcome::refused_history_full`.
    pub refused_history_full: u64,
    /// Sum of datagrams lost by fault injection.
    pub lost: u64,
    /// Sum of datagrams duplicated by fault injection.
    pub duplicated: u64,
}

impl OrderingTotals {
    fn add(&mut self, outcome: &OrderingOutcome) {
        self.seeds += 1;
        self.steps += outcome.steps;
        self.ordered += outcome.ordered;
        self.deliveries += outcome.deliveries;
        self.crashes += outcome.crashes;
        self.state_transfers += outcome.state_transfers;
        self.members_dropped += outcome.members_dropped;
        self.members_returned += outcome.members_returned;
        self.retransmitted += outcome.retransmitted;
        self.refused_history_full += outcome.refused_history_full;
        self.lost += outcome.network.lost;
        self.duplicated += outcome.network.duplicated;
    }
}
