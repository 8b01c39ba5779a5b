//! The sequencer role: orders submitted requests (dedup, gap-free seqs, timestamps), multicasts them to the
//! members, keeps them in a bounded history for retransmission, and frees history every live member delivered.
//!
//! Deliberately not here: sockets, clocks, failure detection of member *processes* (a runtime that knows a member is
//! gone calls `set_member_live`), and sequencer failover (a successor would be built with a higher `epoch` and a `first_seq`
//! continuing the old numbering; nothing here assumes seqs restart with an epoch).
//!
//! Dedup: per submitter, a table `request_id → seq` of the requests ordered at or above the submitter's advertised
//! low-water mark (`Body::Submit::low_water_request_id`, the submitter's oldest unsettled id). A request id in the
//! table is a retry and is re-acknowledged, never re-ordered; an id below the mark was settled at the submitter, so
//! any copy still arriving is a stale duplicate and is dropped; an id at or beyond `mark + dedup_window_requests`
//! is refused (the submitter retries with a fresher mark). So the table never holds more than
//! `dedup_window_requests` entries per submitter, however many requests are in flight and in whatever order they
//! arrive (Amoeba's "not above the last id is a retry" rule needs in-order arrival, which a front end with many
//! requests in flight does not give).
//!
//! History: a ring of `history_capacity` (a power of two) slots indexed by `seq & (capacity - 1)`; it holds
//! `freed_up_to + 1 ..= high_seq`. When full, new requests are dropped (back-pressure: the submitter's retry brings
//! them back) and the laggards are asked to report. Like Amoeba, nothing is freed before every live member has
//! delivered it, so one live member that stops consuming stops the group: that is the flow-control cost, and the
//! reason members can stop being live.
//!
//! Liveness (opt-in with `member_timeout_ms`, for runtimes that rebuild a member told `Behind`): a member that
//! stays *silent* while it holds back a history at least half full is dropped: it stops counting for freeing
//! history and stops receiving the multicast, so a stopped member process (SIGSTOP, a long stall, a host gone)
//! costs the group about `member_timeout_ms` of back-pressure instead of stopping it. Silent means: nothing heard
//! (no NAK, no report) for `member_timeout_ms`, and no answer for half of it to a question asked since (a
//! `Sync{report_requested}` to it alone); a slow member that answers is flow control, not failure, and stays. A
//! member is never dropped below `live_members_min` live members (a majority by default): history is only freed
//! once a majority delivered it, so the state every dropped member needs still exists on a live one (a member
//! re-admitted after `Behind` does not count in that majority until it reports beyond its re-admission point). A
//! dropped member still gets a `Sync` asking for a report every `probe_interval_ms`. When it wakes up, a report at
//! or beyond the freed point makes it live again; a NAK below the freed point is answered `Behind{freed + 1}` and
//! makes it live again from the freed point (history is kept from there, so under load it does not chase a freed
//! point that moves on), and its runtime rebuilds it there by state transfer (`Member::new_at(freed + 1)`).
//! Members removed by the runtime (`set_member_live(id, false)`) stay removed until the runtime says otherwise.

use std::collections::{HashMap, VecDeque};

use crate::codec::{BATCH_COUNT_MAX, HEADER_LEN};
use crate::message::{Ack, Body, Destination, Message, NodeId, OrderedEntry, SeqRange, Transmit};

/// Configuration of a `Sequencer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequencerConfig {
    /// The sequencer's identity.
    pub id: NodeId,
    /// This sequencer's epoch (incarnation); stamped on every message it sends.
    pub epoch: u64,
    /// The members the ordered stream goes to, all live at start.
    pub members: Vec<NodeId>,
    /// The first seq this sequencer hands out: 1 for a fresh group, the successor of the last ordered seq after a
    /// failover or restart.
    pub first_seq: u64,
    /// Slots of the history ring; a power of two, at least 16.
    pub history_capacity: usize,
    /// Sends `Sync{high_seq}` when nothing was ordered for this long, so members learn of a lost tail.
    pub heartbeat_interval_ms: u64,
    /// Backstop: this often, members whose report is below `high_seq` are asked to report.
    pub probe_interval_ms: u64,
    /// Width of the per-submitter dedup window above its low-water mark.
    pub dedup_window_requests: u64,
    /// Most distinct submitters tracked; submissions from further ones are dropped.
    pub submitters_max: usize,
    /// Largest encoded `Ordered` or `Accepted` this role builds when batching (one larger entry still goes alone).
    pub batch_bytes_max: usize,
    /// Most entries retransmitted in answer to one NAK (bounds the work one datagram can cause).
    pub retransmit_max: usize,
    /// A live member silent this long while it holds back a history at least half full is dropped (module doc,
    /// "Liveness"); 0 (the default) never drops one. Only for members whose runtime rebuilds them by state transfer
    /// when told `Behind` (`udp::ordering_shell::MemberNode::spawn_resuming`): a re-admitted member that is not
    /// rebuilt can never deliver past its gap and would hold the history for good.
    pub member_timeout_ms: u64,
    /// Silent members are never dropped below this many live members.
    pub live_members_min: usize,
}

impl SequencerConfig {
    /// Defaults suitable for loopback: history of 4,096, heartbeat 50 ms, probe 1,000 ms, dedup window 4,096,
    /// batches up to 1,400 bytes, at most 1,024 entries resent per NAK, silent members never dropped (a deployment
    /// opts in with `member_timeout_ms`; a majority of members then stays live).
    pub fn new(id: NodeId, members: Vec<NodeId>) -> Self {
        let live_members_min = members.len() / 2 + 1;
        SequencerConfig {
            id,
            epoch: 1,
            members,
            first_seq: 1,
            history_capacity: 4096,
            heartbeat_interval_ms: 50,
            probe_interval_ms: 1000,
            dedup_window_requests: 4096,
            submitters_max: 64,
            batch_bytes_max: 1400,
            retransmit_max: 1024,
            member_timeout_ms: 0,
            live_members_min,
        }
    }
}

/// Counters a shell may log or expose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequencerStats {
    /// Requests given a seq.
    pub ordered: u64,
    /// Retries of already ordered requests, re-acknowledged.
    pub retries_acked: u64,
    /// Copies of requests below their submitter's low-water mark, dropped.
    pub stale_requests_dropped: u64,
    /// Requests refused because the history was full (back-pressure).
    pub refused_history_full: u64,
    /// Requests refused because they were beyond the submitter's dedup window or from one submitter too many.
    pub refused_window: u64,
    /// Entries resent in answer to NAKs.
    pub retransmitted: u64,
    /// Messages from a lower epoch (answered with a `Sync` so the sender learns the current epoch).
    pub stale_epoch_dropped: u64,
    /// Members dropped for silence while they held the history back.
    pub members_dropped: u64,
    /// Dropped members that came back (reported at or beyond the freed point).
    pub members_returned: u64,
}

/// Whether a member counts for freeing history and receives the multicast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Liveness {
    Live,
    /// Dropped for silence; live again on its first report at or beyond the freed point.
    Silent,
    /// Removed by the runtime (`set_member_live(id, false)`); live again only when the runtime says so.
    Removed,
}

#[derive(Debug)]
struct MemberState {
    id: NodeId,
    liveness: Liveness,
    /// Highest seq the member reported delivered (monotonic: a report never lowers it).
    delivered_up_to: u64,
    /// When the member was last heard from (any NAK or report), or when this sequencer started.
    heard_ms: u64,
    /// When the member was first asked to report (`Sync{report_requested}` to it alone) since it was last heard;
    /// cleared whenever it is heard.
    asked_ms: Option<u64>,
    /// Re-admitted at this freed point after `Behind`: until it reports beyond it, its replica is being rebuilt and
    /// it does not count as one of the `live_members_min` that hold the state.
    readmitted_at: Option<u64>,
}

impl MemberState {
    fn is_live(&self) -> bool {
        self.liveness == Liveness::Live
    }
}

#[derive(Debug, Default)]
struct SubmitterState {
    low_water_request_id: u64,
    /// `request_id → seq` for ordered ids at or above the low-water mark (entries below are pruned lazily).
    ordered: HashMap<u64, u64>,
    /// Prune when the table grows past this, keeping pruning amortised O(1) per request.
    prune_at_len: usize,
}

/// A pending retransmission to one member: `next..=last`.
#[derive(Debug)]
struct Retransmit {
    member: NodeId,
    next: u64,
    last: u64,
}

/// The sequencer role. Drive it with `handle` and `handle_timeout`; drain `poll_transmit` after each call (new
/// ordered entries are batched at drain time, so draining after a burst of `handle` calls batches more); sleep until
/// `poll_timeout`.
#[derive(Debug)]
pub struct Sequencer {
    config: SequencerConfig,
    history: Vec<Option<OrderedEntry>>,
    history_mask: u64,
    /// Every seq up to here was delivered by every live member and its slot is empty.
    freed_up_to: u64,
    /// Highest seq handed out.
    high_seq: u64,
    /// Highest seq multicast so far (seqs above it wait for the next `poll_transmit`).
    multicast_up_to: u64,
    last_timestamp_ms: u64,
    members: Vec<MemberState>,
    submitters: HashMap<NodeId, SubmitterState>,
    /// Acks waiting to be batched, per submitter, in arrival order of submitters.
    pending_acks: Vec<(NodeId, Vec<Ack>)>,
    retransmits: VecDeque<Retransmit>,
    /// Small control messages (Sync, Behind) ready to go.
    control: VecDeque<Transmit>,
    /// When the last ordered entry or heartbeat left (for the heartbeat).
    last_multicast_ms: u64,
    next_probe_ms: u64,
    /// When laggards were last prodded because the history was full (throttles those prods).
    last_full_probe_ms: Option<u64>,
    superseded_by_epoch: Option<u64>,
    stats: SequencerStats,
    /// Bumped whenever a member's liveness changes ([`Sequencer::live_set_changes`]).
    live_set_changes: u64,
}

impl Sequencer {
    /// A sequencer with an empty history; `now_ms` starts its timers.
    pub fn new(config: SequencerConfig, now_ms: u64) -> Self {
        assert!(config.history_capacity.is_power_of_two(), "history_capacity must be a power of two");
        assert!(config.history_capacity >= 16, "history_capacity must be at least 16");
        assert!(config.first_seq >= 1, "seq 0 is never used");
        assert!(config.dedup_window_requests > 0, "dedup_window_requests must be positive");
        assert!(config.retransmit_max > 0, "retransmit_max must be positive");
        let members = config
            .members
            .iter()
            .map(|&id| MemberState {
                id,
                liveness: Liveness::Live,
                delivered_up_to: config.first_seq - 1,
                heard_ms: now_ms,
                asked_ms: None,
                readmitted_at: None,
            })
            .collect();
        Sequencer {
            history: vec![None; config.history_capacity],
            history_mask: config.history_capacity as u64 - 1,
            freed_up_to: config.first_seq - 1,
            high_seq: config.first_seq - 1,
            multicast_up_to: config.first_seq - 1,
            last_timestamp_ms: 0,
            members,
            submitters: HashMap::new(),
            pending_acks: Vec::new(),
            retransmits: VecDeque::new(),
            control: VecDeque::new(),
            last_multicast_ms: now_ms,
            next_probe_ms: now_ms + config.probe_interval_ms,
            last_full_probe_ms: None,
            superseded_by_epoch: None,
            stats: SequencerStats::default(),
            live_set_changes: 0,
            config,
        }
    }

    /// Takes in one message addressed to the sequencer.
    ///
    /// A message from a lower epoch is dropped and its sender gets a `Sync` carrying the current epoch. A message
    /// from a higher epoch means a successor exists: this sequencer stops ordering (`superseded_by_epoch`) but keeps
    /// answering NAKs from its history, which can only help a successor's recovery.
    pub fn handle(&mut self, now_ms: u64, message: Message) {
        if message.epoch < self.config.epoch {
            self.stats.stale_epoch_dropped += 1;
            self.control.push_back(self.sync_to(Destination::Node(message.from), false));
            return;
        }
        if message.epoch > self.config.epoch {
            self.superseded_by_epoch = Some(self.superseded_by_epoch.unwrap_or(0).max(message.epoch));
            return;
        }
        match message.body {
            Body::Submit { low_water_request_id, requests } => {
                if self.superseded_by_epoch.is_some() {
                    return;
                }
                self.handle_submit(now_ms, message.from, low_water_request_id, requests);
            }
            Body::Nak { delivered_up_to, ranges } => {
                if self.record_delivered(now_ms, message.from, delivered_up_to) {
                    self.queue_retransmits(message.from, &ranges);
                }
            }
            Body::Report { delivered_up_to } => {
                self.record_delivered(now_ms, message.from, delivered_up_to);
            }
            // Sequencer-to-others messages arriving here are misaddressed; nothing to do.
            Body::Accepted { .. } | Body::Ordered { .. } | Body::Sync { .. } | Body::Behind { .. } => {}
        }
    }

    fn handle_submit(&mut self, now_ms: u64, from: NodeId, low_water_request_id: u64, requests: Vec<crate::Request>) {
        if !self.submitters.contains_key(&from) && self.submitters.len() >= self.config.submitters_max {
            self.stats.refused_window += requests.len() as u64;
            return;
        }
        let submitter = self.submitters.entry(from).or_default();
        if low_water_request_id > submitter.low_water_request_id {
            submitter.low_water_request_id = low_water_request_id;
            if submitter.ordered.len() > submitter.prune_at_len {
                submitter.ordered.retain(|&request_id, _| request_id >= low_water_request_id);
                submitter.prune_at_len = (submitter.ordered.len() * 2).max(64);
            }
        }
        let mut acks = Vec::new();
        let mut refused_full = false;
        for request in requests {
            let submitter = self.submitters.get_mut(&from).expect("inserted above");
            if request.request_id < submitter.low_water_request_id {
                self.stats.stale_requests_dropped += 1;
                continue;
            }
            if let Some(&seq) = submitter.ordered.get(&request.request_id) {
                self.stats.retries_acked += 1;
                acks.push(Ack { request_id: request.request_id, seq });
                continue;
            }
            if request.request_id - submitter.low_water_request_id >= self.config.dedup_window_requests {
                self.stats.refused_window += 1;
                continue;
            }
            if self.high_seq - self.freed_up_to >= self.config.history_capacity as u64 {
                self.stats.refused_history_full += 1;
                refused_full = true;
                continue;
            }
            let seq = self.high_seq + 1;
            // Timestamps never go backwards along the seqs, even if the clock passed in does.
            self.last_timestamp_ms = self.last_timestamp_ms.max(now_ms);
            submitter.ordered.insert(request.request_id, seq);
            let slot = (seq & self.history_mask) as usize;
            debug_assert!(self.history[slot].is_none(), "history slot of seq {seq} still occupied");
            self.history[slot] = Some(OrderedEntry {
                seq,
                timestamp_ms: self.last_timestamp_ms,
                submitter: from,
                request_id: request.request_id,
                payload: request.payload,
            });
            self.high_seq = seq;
            self.stats.ordered += 1;
            self.last_multicast_ms = now_ms;
            acks.push(Ack { request_id: request.request_id, seq });
        }
        if !acks.is_empty() {
            match self.pending_acks.iter_mut().find(|(submitter, _)| *submitter == from) {
                Some((_, pending)) => pending.extend(acks),
                None => self.pending_acks.push((from, acks)),
            }
        }
        if refused_full && self.last_full_probe_ms.is_none_or(|at| now_ms >= at + self.config.heartbeat_interval_ms) {
            self.last_full_probe_ms = Some(now_ms);
            self.probe_laggards(now_ms, true);
            self.drop_silent_members(now_ms);
        }
    }

    /// Records a member's delivered-up-to and frees history; a member dropped for silence that reports at or
    /// beyond the freed point is live again. Returns whether the sender is a configured member.
    fn record_delivered(&mut self, now_ms: u64, from: NodeId, delivered_up_to: u64) -> bool {
        let freed_up_to = self.freed_up_to;
        let Some(member) = self.members.iter_mut().find(|member| member.id == from) else {
            return false;
        };
        member.heard_ms = now_ms;
        member.asked_ms = None;
        // Clamped: a member cannot have delivered what was never ordered (a bogus or future report must not free).
        member.delivered_up_to = member.delivered_up_to.max(delivered_up_to.min(self.high_seq));
        if member.readmitted_at.is_some_and(|point| member.delivered_up_to > point) {
            member.readmitted_at = None;
        }
        if member.liveness == Liveness::Silent && member.delivered_up_to >= freed_up_to {
            member.liveness = Liveness::Live;
            self.stats.members_returned += 1;
            self.live_set_changes += 1;
        }
        self.free_history();
        true
    }

    /// Drops live members that stayed silent for `member_timeout_ms` while holding back a history at least half
    /// full, never below `live_members_min` (module doc, "Liveness"). A member is only dropped after it was asked
    /// to report and stayed silent for half the timeout since: one that merely had nothing to say (its application
    /// stopped taking deliveries, so it sent no report) answers the question and stays.
    fn drop_silent_members(&mut self, now_ms: u64) {
        let timeout_ms = self.config.member_timeout_ms;
        if timeout_ms == 0 || self.history_len() * 2 < self.config.history_capacity {
            return;
        }
        let mut ask = Vec::new();
        // Live members that hold the state: one still being rebuilt after `Behind` does not count yet.
        let mut live = self.members.iter().filter(|member| member.is_live() && member.readmitted_at.is_none()).count();
        let mut dropped = false;
        for member in &mut self.members {
            let holds_history = member.delivered_up_to <= self.freed_up_to;
            if !member.is_live() || !holds_history || now_ms < member.heard_ms + timeout_ms / 2 {
                continue;
            }
            match member.asked_ms {
                Some(asked)
                    if live > self.config.live_members_min
                        && now_ms >= member.heard_ms + timeout_ms
                        && now_ms >= asked + timeout_ms / 2 =>
                {
                    member.liveness = Liveness::Silent;
                    self.stats.members_dropped += 1;
                    self.live_set_changes += 1;
                    if member.readmitted_at.is_none() {
                        live -= 1;
                    }
                    dropped = true;
                }
                Some(_) => {}
                None => ask.push(member.id),
            }
        }
        for member in ask {
            self.ask_to_report(now_ms, member);
        }
        if dropped {
            self.free_history();
        }
    }

    /// Sends `member` alone a `Sync` asking for a report, and remembers the first such question since it was last
    /// heard (later ones must not push its deadline back).
    fn ask_to_report(&mut self, now_ms: u64, member: NodeId) {
        if let Some(state) = self.members.iter_mut().find(|state| state.id == member)
            && state.asked_ms.is_none()
        {
            state.asked_ms = Some(now_ms);
        }
        self.control.push_back(self.sync_to(Destination::Node(member), true));
    }

    fn free_history(&mut self) {
        let Some(everyone_up_to) =
            self.members.iter().filter(|member| member.is_live()).map(|member| member.delivered_up_to).min()
        else {
            // With no live member nobody has delivered anything we could free safely.
            return;
        };
        while self.freed_up_to < everyone_up_to {
            self.freed_up_to += 1;
            let slot = (self.freed_up_to & self.history_mask) as usize;
            debug_assert!(self.history[slot].as_ref().is_some_and(|entry| entry.seq == self.freed_up_to));
            self.history[slot] = None;
        }
    }

    fn queue_retransmits(&mut self, member: NodeId, ranges: &[SeqRange]) {
        let mut budget = self.config.retransmit_max as u64;
        for range in ranges {
            if range.first <= self.freed_up_to {
                // It can never deliver past this gap: later entries would only be thrown away when its runtime
                // rebuilds it by state transfer, so none are resent.
                self.control.push_back(Transmit {
                    to: Destination::Node(member),
                    message: self.message(Body::Behind { first_available_seq: self.freed_up_to + 1 }),
                });
                self.readmit_at_freed_point(member);
                return;
            }
            // Seqs not yet multicast will go out with the next multicast anyway.
            let first = range.first.max(self.freed_up_to + 1);
            let last = range.last.min(self.multicast_up_to);
            if first > last || budget == 0 {
                continue;
            }
            let last = last.min(first + budget - 1);
            budget -= last - first + 1;
            self.retransmits.push_back(Retransmit { member, next: first, last });
        }
    }

    /// A member dropped for silence that is told `Behind` is live again from the freed point on: history is kept
    /// from `freed_up_to + 1` while its runtime rebuilds it there by state transfer. Without this, a member rebuilt
    /// under load would chase a freed point that moves on before its first report arrives.
    fn readmit_at_freed_point(&mut self, member: NodeId) {
        let freed_up_to = self.freed_up_to;
        if let Some(state) = self.members.iter_mut().find(|state| state.id == member)
            && state.liveness == Liveness::Silent
        {
            state.liveness = Liveness::Live;
            state.delivered_up_to = state.delivered_up_to.max(freed_up_to);
            state.readmitted_at = Some(state.delivered_up_to);
            self.stats.members_returned += 1;
            self.live_set_changes += 1;
        }
    }

    /// Marks a member live (its reports count for freeing history) or removed (history is freed without it, and
    /// it stays removed until marked live again).
    ///
    /// A member marked live again is assumed to be at least at the point it last reported, or at the freed point
    /// if that is later; if it actually lags further, its NAKs get `Behind` and it needs state transfer.
    pub fn set_member_live(&mut self, member: NodeId, live: bool) {
        let freed_up_to = self.freed_up_to;
        if let Some(state) = self.members.iter_mut().find(|state| state.id == member) {
            if state.is_live() != live {
                self.live_set_changes += 1;
            }
            state.liveness = if live { Liveness::Live } else { Liveness::Removed };
            state.delivered_up_to = state.delivered_up_to.max(freed_up_to);
        }
        self.free_history();
    }

    /// Runs the timers: heartbeat `Sync` when nothing was multicast for a while, the periodic laggard probe (which
    /// also asks members dropped for silence to report), and dropping silent members.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if now_ms >= self.last_multicast_ms + self.config.heartbeat_interval_ms {
            self.last_multicast_ms = now_ms;
            self.control.push_back(self.sync_to(Destination::Members, false));
        }
        if now_ms >= self.next_probe_ms {
            self.next_probe_ms = now_ms + self.config.probe_interval_ms;
            self.probe_laggards(now_ms, false);
            let silent: Vec<NodeId> = self
                .members
                .iter()
                .filter(|member| member.liveness == Liveness::Silent)
                .map(|member| member.id)
                .collect();
            for member in silent {
                self.ask_to_report(now_ms, member);
            }
        }
        self.drop_silent_members(now_ms);
    }

    /// Asks live members that have not reported `high_seq` (or, when `only_slowest`, those holding the history
    /// back) for an explicit report.
    fn probe_laggards(&mut self, now_ms: u64, only_slowest: bool) {
        let threshold = if only_slowest { self.freed_up_to } else { self.high_seq.saturating_sub(1) };
        let laggards: Vec<NodeId> = self
            .members
            .iter()
            .filter(|member| {
                member.is_live() && member.delivered_up_to <= threshold && member.delivered_up_to < self.high_seq
            })
            .map(|member| member.id)
            .collect();
        for member in laggards {
            self.ask_to_report(now_ms, member);
        }
    }

    /// The next time `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        Some((self.last_multicast_ms + self.config.heartbeat_interval_ms).min(self.next_probe_ms))
    }

    /// The next message to send, in this priority: new ordered entries (multicast, batched), acknowledgements
    /// (batched per submitter), control messages, retransmissions (unicast, batched).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.multicast_up_to < self.high_seq {
            let (entries, last) = self.batch_from_history(self.multicast_up_to + 1, self.high_seq);
            self.multicast_up_to = last;
            return Some(Transmit { to: Destination::Members, message: self.message(Body::Ordered { entries }) });
        }
        if let Some((submitter, mut acks)) = self.pending_acks.pop() {
            let per_batch = ((self.config.batch_bytes_max.saturating_sub(HEADER_LEN + 2)) / crate::codec::ACK_LEN)
                .clamp(1, BATCH_COUNT_MAX);
            if acks.len() > per_batch {
                let rest = acks.split_off(per_batch);
                self.pending_acks.push((submitter, rest));
            }
            return Some(Transmit { to: Destination::Node(submitter), message: self.message(Body::Accepted { acks }) });
        }
        if let Some(transmit) = self.control.pop_front() {
            return Some(transmit);
        }
        while let Some(retransmit) = self.retransmits.front_mut() {
            // History may have been freed since the NAK came: skip what is gone (that member delivered it).
            retransmit.next = retransmit.next.max(self.freed_up_to + 1);
            if retransmit.next > retransmit.last {
                self.retransmits.pop_front();
                continue;
            }
            let (member, first, last) = (retransmit.member, retransmit.next, retransmit.last);
            let (entries, sent_up_to) = self.batch_from_history(first, last);
            self.stats.retransmitted += entries.len() as u64;
            let retransmit = self.retransmits.front_mut().expect("still there");
            retransmit.next = sent_up_to + 1;
            if retransmit.next > retransmit.last {
                self.retransmits.pop_front();
            }
            return Some(Transmit { to: Destination::Node(member), message: self.message(Body::Ordered { entries }) });
        }
        None
    }

    /// Clones entries `first..=last` from history into one batch within `batch_bytes_max`; returns the batch and
    /// the last seq in it. At least one entry.
    fn batch_from_history(&self, first: u64, last: u64) -> (Vec<OrderedEntry>, u64) {
        debug_assert!(first > self.freed_up_to && last <= self.high_seq && first <= last);
        let mut entries = Vec::new();
        let mut batch_bytes = HEADER_LEN + 2;
        let mut seq = first;
        while seq <= last {
            let entry = self.history[(seq & self.history_mask) as usize].as_ref().expect("history holds unfreed seq");
            assert_eq!(entry.seq, seq, "history slot holds the wrong seq");
            if !entries.is_empty()
                && (batch_bytes + entry.encoded_len() > self.config.batch_bytes_max || entries.len() == BATCH_COUNT_MAX)
            {
                break;
            }
            batch_bytes += entry.encoded_len();
            entries.push(entry.clone());
            seq += 1;
        }
        (entries, seq - 1)
    }

    fn message(&self, body: Body) -> Message {
        Message { epoch: self.config.epoch, from: self.config.id, body }
    }

    fn sync_to(&self, to: Destination, report_requested: bool) -> Transmit {
        Transmit { to, message: self.message(Body::Sync { high_seq: self.high_seq, report_requested }) }
    }

    /// Highest seq handed out (`first_seq - 1` before the first).
    pub fn high_seq(&self) -> u64 {
        self.high_seq
    }

    /// Every seq up to here has been delivered by every live member and freed from history.
    pub fn freed_up_to(&self) -> u64 {
        self.freed_up_to
    }

    /// Entries held in history.
    pub fn history_len(&self) -> usize {
        (self.high_seq - self.freed_up_to) as usize
    }

    /// Whether new requests are currently refused for lack of history space.
    pub fn is_history_full(&self) -> bool {
        self.history_len() >= self.config.history_capacity
    }

    /// The configured members with whether each is live (counted for freeing history).
    pub fn members(&self) -> impl Iterator<Item = (NodeId, bool)> + '_ {
        self.members.iter().map(|member| (member.id, member.is_live()))
    }

    /// The live members: where `Destination::Members` goes.
    pub fn live_members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.members.iter().filter(|member| member.is_live()).map(|member| member.id)
    }

    /// A count that changes whenever the set of live members does (dropped, returned, re-admitted, or marked by
    /// [`Sequencer::set_member_live`]), so that a shell recomputes its multicast list only then.
    pub fn live_set_changes(&self) -> u64 {
        self.live_set_changes
    }

    /// A member's last reported delivered-up-to, if it is a configured member.
    pub fn member_delivered_up_to(&self, member: NodeId) -> Option<u64> {
        self.members.iter().find(|state| state.id == member).map(|state| state.delivered_up_to)
    }

    /// This sequencer's epoch.
    pub fn epoch(&self) -> u64 {
        self.config.epoch
    }

    /// The higher epoch seen in some message, if any: this sequencer has been replaced and orders nothing more.
    pub fn superseded_by_epoch(&self) -> Option<u64> {
        self.superseded_by_epoch
    }

    /// Counters since creation.
    pub fn stats(&self) -> SequencerStats {
        self.stats
    }

    /// The configuration this sequencer runs with.
    pub fn config(&self) -> &SequencerConfig {
        &self.config
    }
}
