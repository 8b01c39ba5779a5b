//! The member role (replica manager side): receives the ordered stream, holds back entries that arrive after a gap,
//! asks the sequencer for the missing ones (throttled NAKs), delivers strictly in seq order exactly once, and tells
//! the sequencer how far it has delivered so history can be freed.
//!
//! Deliberately not here: sockets, clocks, state transfer (a member that fell behind the sequencer's history is
//! told so via `behind()`; the runtime transfers state and builds a fresh member with `Member::new_at`), and
//! anything about what a payload means.
//!
//! NAK throttling: every missing seq remembers when it was last asked for. A newly discovered gap is asked for at
//! once (one NAK covering every new missing range, up to `nak_ranges_max` ranges); a seq already asked for is asked
//! again only after `nak_interval_ms`, by a renewal timer that runs while gaps exist. So each missing seq has at
//! most one outstanding request per interval, and NAK work is proportional to newly learned seqs.
//!
//! Reports: every NAK carries `delivered_up_to`; besides, a `Report` goes out after every `report_every_seqs`
//! deliveries (staggered per member by `MemberConfig::staggered`), on the `report_interval_ms` timer when delivery
//! advanced since the last report, and whenever the sequencer asks (`Sync{report_requested}`).

use std::collections::VecDeque;

use crate::message::{Body, Destination, Message, NodeId, OrderedEntry, SeqRange, Transmit};

/// Configuration of a `Member`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConfig {
    /// This member's identity (must be in the sequencer's member list).
    pub id: NodeId,
    /// The sequencer (replaced when a higher epoch is adopted).
    pub sequencer: NodeId,
    /// The epoch to start in.
    pub epoch: u64,
    /// Slots of the hold-back ring (a power of two): entries at or beyond `next_seq + holdback_capacity` are
    /// dropped and fetched again later.
    pub holdback_capacity: usize,
    /// A missing seq is not asked for again within this long.
    pub nak_interval_ms: u64,
    /// Most ranges in one NAK.
    pub nak_ranges_max: usize,
    /// Send an explicit `Report` after delivering this many seqs since the last report.
    pub report_every_seqs: u64,
    /// Send a `Report` this often if delivery advanced since the last one (so a quiet group frees its history).
    pub report_interval_ms: u64,
}

impl MemberConfig {
    /// Defaults suitable for loopback and a sequencer history of 4,096: hold-back 4,096, NAK interval 50 ms,
    /// 64 ranges per NAK, report every 1,024 deliveries or every 100 ms.
    pub fn new(id: NodeId, sequencer: NodeId) -> Self {
        MemberConfig {
            id,
            sequencer,
            epoch: 1,
            holdback_capacity: 4096,
            nak_interval_ms: 50,
            nak_ranges_max: 64,
            report_every_seqs: 1024,
            report_interval_ms: 100,
        }
    }

    /// Sets `report_every_seqs` between a quarter and a half of `history_capacity`, staggered by the member's
    /// `index` among `member_count` members so that members do not all report at the same seq (Amoeba's rule).
    pub fn staggered(mut self, index: usize, member_count: usize, history_capacity: usize) -> Self {
        let quarter = (history_capacity as u64 / 4).max(1);
        let member_count = member_count.max(1) as u64;
        self.report_every_seqs = quarter + quarter * (index as u64 % member_count) / member_count;
        self
    }
}

/// Counters a shell may log or expose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberStats {
    /// Entries delivered.
    pub delivered: u64,
    /// Entries received more than once (already delivered or already held back), dropped.
    pub duplicates_dropped: u64,
    /// Entries beyond the hold-back window, dropped (fetched again later).
    pub beyond_holdback_dropped: u64,
    /// NAK messages sent.
    pub naks_sent: u64,
    /// Explicit reports sent.
    pub reports_sent: u64,
    /// Messages dropped because their epoch was lower than ours.
    pub stale_epoch_dropped: u64,
}

/// The member role. Drive it with `handle` and `handle_timeout`; after each call drain `poll_deliver` (hand each
/// entry to the application, in order) and `poll_transmit`; sleep until `poll_timeout`.
///
/// An entry counts as delivered (and is reported as such) once `poll_deliver` has returned it.
#[derive(Debug)]
pub struct Member {
    config: MemberConfig,
    epoch: u64,
    sequencer: NodeId,
    /// The seq `poll_deliver` returns next.
    next_seq: u64,
    holdback: Vec<Option<OrderedEntry>>,
    /// Per slot: `(seq, when that seq was last NAKed)`; a slot's mark counts only if its seq matches.
    nak_marks: Vec<(u64, u64)>,
    mask: u64,
    /// Highest seq known to exist (from entries or `Sync`).
    high_seen: u64,
    /// Seqs up to here have been examined for a first NAK.
    nak_scanned_up_to: u64,
    next_nak_renewal_ms: Option<u64>,
    /// Highest delivered-up-to sent to the sequencer (`None` before the first report).
    last_reported: Option<u64>,
    next_report_ms: u64,
    outgoing: VecDeque<Transmit>,
    behind: Option<u64>,
    stats: MemberStats,
}

impl Member {
    /// A member of a fresh group: delivers from seq 1.
    pub fn new(config: MemberConfig, now_ms: u64) -> Self {
        Self::new_at(config, now_ms, 1)
    }

    /// A member that already has the effect of every seq below `next_seq` (from state transfer) and delivers from
    /// `next_seq` on.
    ///
    /// Contract: `next_seq - 1` must not be below any delivered-up-to this member id reported before (the sequencer
    /// may have freed history up to that report). Take the snapshot from a member at least as far along, or mark
    /// the member removed (`Sequencer::set_member_live`) while it is down.
    pub fn new_at(config: MemberConfig, now_ms: u64, next_seq: u64) -> Self {
        assert!(config.holdback_capacity.is_power_of_two(), "holdback_capacity must be a power of two");
        assert!(next_seq >= 1, "seq 0 is never used");
        assert!(config.nak_ranges_max > 0 && config.report_every_seqs > 0, "nak_ranges_max, report_every_seqs > 0");
        Member {
            epoch: config.epoch,
            sequencer: config.sequencer,
            next_seq,
            holdback: vec![None; config.holdback_capacity],
            nak_marks: vec![(0, 0); config.holdback_capacity],
            mask: config.holdback_capacity as u64 - 1,
            high_seen: next_seq - 1,
            nak_scanned_up_to: next_seq - 1,
            next_nak_renewal_ms: None,
            last_reported: None,
            next_report_ms: now_ms + config.report_interval_ms,
            outgoing: VecDeque::new(),
            behind: None,
            stats: MemberStats::default(),
            config,
        }
    }

    /// Takes in one message addressed to this member.
    ///
    /// Messages from a lower epoch are dropped. A higher epoch carried by a sequencer message (`Ordered`, `Sync`,
    /// `Behind`) is adopted: its sender becomes the sequencer and held-back entries are discarded, because entries
    /// the old sequencer sent but not every member delivered may be replaced by the successor. Delivered entries
    /// stay delivered; seqs continue where they were.
    pub fn handle(&mut self, now_ms: u64, message: Message) {
        if message.epoch < self.epoch {
            self.stats.stale_epoch_dropped += 1;
            return;
        }
        if message.epoch > self.epoch {
            self.epoch = message.epoch;
            self.sequencer = message.from;
            self.holdback.iter_mut().for_each(|slot| *slot = None);
            self.high_seen = self.next_seq - 1;
            self.nak_scanned_up_to = self.next_seq - 1;
            self.next_nak_renewal_ms = None;
            self.behind = None;
        }
        if message.from != self.sequencer {
            return;
        }
        match message.body {
            Body::Ordered { entries } => {
                for entry in entries {
                    self.accept_entry(entry);
                }
                self.nak_new_gaps(now_ms);
            }
            Body::Sync { high_seq, report_requested } => {
                self.high_seen = self.high_seen.max(high_seq);
                if report_requested {
                    self.send_report();
                }
                self.nak_new_gaps(now_ms);
            }
            Body::Behind { first_available_seq } => {
                if first_available_seq > self.next_seq {
                    self.behind = Some(first_available_seq);
                }
            }
            Body::Submit { .. } | Body::Accepted { .. } | Body::Nak { .. } | Body::Report { .. } => {}
        }
    }

    fn accept_entry(&mut self, entry: OrderedEntry) {
        let seq = entry.seq;
        self.high_seen = self.high_seen.max(seq);
        if seq < self.next_seq {
            self.stats.duplicates_dropped += 1;
            return;
        }
        if seq - self.next_seq >= self.config.holdback_capacity as u64 {
            self.stats.beyond_holdback_dropped += 1;
            return;
        }
        let slot = &mut self.holdback[(seq & self.mask) as usize];
        if slot.as_ref().is_some_and(|held| held.seq == seq) {
            self.stats.duplicates_dropped += 1;
            return;
        }
        debug_assert!(slot.is_none(), "hold-back slot of seq {seq} holds another seq");
        *slot = Some(entry);
    }

    /// The last seq of the window the hold-back can hold (and so the last seq worth asking for).
    fn window_last(&self) -> u64 {
        self.high_seen.min(self.next_seq + self.mask)
    }

    fn is_held(&self, seq: u64) -> bool {
        self.holdback[(seq & self.mask) as usize].as_ref().is_some_and(|held| held.seq == seq)
    }

    /// Asks at once for missing seqs not examined before.
    fn nak_new_gaps(&mut self, now_ms: u64) {
        let first = (self.nak_scanned_up_to + 1).max(self.next_seq);
        let last = self.window_last();
        if first > last {
            return;
        }
        let scanned_up_to = self.nak_missing(now_ms, first, last, false);
        self.nak_scanned_up_to = self.nak_scanned_up_to.max(scanned_up_to);
        if self.next_nak_renewal_ms.is_none() && self.next_seq <= self.high_seen {
            self.next_nak_renewal_ms = Some(now_ms + self.config.nak_interval_ms);
        }
    }

    /// Sends one NAK for the missing seqs in `first..=last` (skipping, when `respect_interval`, those asked for within
    /// the interval); returns the last seq examined (ranges are capped at `nak_ranges_max`).
    fn nak_missing(&mut self, now_ms: u64, first: u64, last: u64, respect_interval: bool) -> u64 {
        let mut ranges: Vec<SeqRange> = Vec::new();
        let mut seq = first;
        while seq <= last {
            let slot = (seq & self.mask) as usize;
            let recently_asked = respect_interval && {
                let (marked_seq, marked_ms) = self.nak_marks[slot];
                marked_seq == seq && now_ms < marked_ms + self.config.nak_interval_ms
            };
            if self.is_held(seq) || recently_asked {
                seq += 1;
                continue;
            }
            let ranges_len = ranges.len();
            match ranges.last_mut() {
                Some(range) if range.last + 1 == seq => range.last = seq,
                _ if ranges_len == self.config.nak_ranges_max => break,
                _ => ranges.push(SeqRange { first: seq, last: seq }),
            }
            self.nak_marks[slot] = (seq, now_ms);
            seq += 1;
        }
        if !ranges.is_empty() {
            self.stats.naks_sent += 1;
            let delivered_up_to = self.delivered_up_to();
            self.last_reported = Some(delivered_up_to);
            self.send(Body::Nak { delivered_up_to, ranges });
        }
        seq - 1
    }

    /// Runs the timers: NAK renewal for gaps still open, and the periodic report.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.next_nak_renewal_ms.is_some_and(|at| now_ms >= at) {
            self.next_nak_renewal_ms = None;
            let last = self.window_last();
            if self.next_seq <= last {
                let scanned_up_to = self.nak_missing(now_ms, self.next_seq, last, true);
                self.nak_scanned_up_to = self.nak_scanned_up_to.max(scanned_up_to);
            }
            if self.next_seq <= self.high_seen {
                self.next_nak_renewal_ms = Some(now_ms + self.config.nak_interval_ms);
            }
        }
        if now_ms >= self.next_report_ms {
            self.next_report_ms = now_ms + self.config.report_interval_ms;
            if self.last_reported.is_none_or(|reported| reported < self.delivered_up_to()) {
                self.send_report();
            }
        }
    }

    /// The next time `handle_timeout` has work to do.
    pub fn poll_timeout(&self) -> Option<u64> {
        Some(self.next_nak_renewal_ms.map_or(self.next_report_ms, |at| at.min(self.next_report_ms)))
    }

    /// The next entry to hand to the application, strictly in seq order, each seq exactly once.
    pub fn poll_deliver(&mut self) -> Option<OrderedEntry> {
        let slot = (self.next_seq & self.mask) as usize;
        if !self.is_held(self.next_seq) {
            return None;
        }
        let entry = self.holdback[slot].take().expect("checked above");
        assert_eq!(entry.seq, self.next_seq, "delivering out of order");
        self.next_seq += 1;
        self.stats.delivered += 1;
        if self.behind.is_some_and(|first_available| first_available <= self.next_seq) {
            self.behind = None;
        }
        let reported = self.last_reported.unwrap_or(0);
        if entry.seq - reported.min(entry.seq) >= self.config.report_every_seqs {
            self.send_report();
        }
        Some(entry)
    }

    /// The next message to send (always to the sequencer).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.outgoing.pop_front()
    }

    fn send_report(&mut self) {
        let delivered_up_to = self.delivered_up_to();
        self.last_reported = Some(delivered_up_to);
        self.stats.reports_sent += 1;
        self.send(Body::Report { delivered_up_to });
    }

    fn send(&mut self, body: Body) {
        let message = Message { epoch: self.epoch, from: self.config.id, body };
        self.outgoing.push_back(Transmit { to: Destination::Node(self.sequencer), message });
    }

    /// Highest seq delivered (returned by `poll_deliver`), or the snapshot point for a member made by `new_at`.
    pub fn delivered_up_to(&self) -> u64 {
        self.next_seq - 1
    }

    /// The seq `poll_deliver` returns next.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Highest seq this member knows to exist.
    pub fn high_seen(&self) -> u64 {
        self.high_seen
    }

    /// `Some(first_available_seq)` when the sequencer said the seqs this member needs were freed: it cannot catch
    /// up by NAKs and needs state transfer to at least `first_available_seq - 1`.
    pub fn behind(&self) -> Option<u64> {
        self.behind
    }

    /// If [`Member::behind`]: replaces this member by one that delivers from the first seq the sequencer still has,
    /// keeping the epoch and sequencer it has adopted since it started (not the configured ones), and returns that
    /// seq. The application must then restore its state up to the seq before it by state transfer.
    pub fn rebuild_past_gap(&mut self, now_ms: u64) -> Option<u64> {
        let next_seq = self.behind?;
        let config = MemberConfig { epoch: self.epoch, sequencer: self.sequencer, ..self.config.clone() };
        *self = Member::new_at(config, now_ms, next_seq);
        Some(next_seq)
    }

    /// The epoch this member currently believes in.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The sequencer this member currently listens to.
    pub fn sequencer(&self) -> NodeId {
        self.sequencer
    }

    /// Counters since creation.
    pub fn stats(&self) -> MemberStats {
        self.stats
    }
}
