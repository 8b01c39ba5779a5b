//! One test per mechanism of the protocol, each on a tiny cluster wired by an in-test, lossless, immediate network
//! whose `drop` predicate lets a test lose exactly the datagrams it wants lost.

use bytes::Bytes;
use ordering::{
    Body, Destination, Member, MemberConfig, Message, NodeId, OrderedEntry, SeqRange, Sequencer, SequencerConfig,
    SubmitError, Submitter, SubmitterConfig, Transmit,
};

const SEQUENCER: NodeId = NodeId(0);
const FRONT_END: NodeId = NodeId(100);

fn member_id(index: usize) -> NodeId {
    NodeId(index as u16 + 1)
}

/// A datagram as the test network saw it: `(from, to, message)`.
type Sent = (NodeId, NodeId, Message);

struct Cluster {
    now_ms: u64,
    sequencer: Sequencer,
    members: Vec<Member>,
    submitter: Submitter,
    delivered: Vec<Vec<OrderedEntry>>,
    /// Members whose application takes no deliveries (they hold entries back and send no report of their own).
    stalled: Vec<bool>,
    accepted: Vec<(u64, u64)>,
    /// Every datagram sent, dropped or not.
    log: Vec<Sent>,
}

impl Cluster {
    fn new(member_count: usize, history_capacity: usize) -> Cluster {
        let members: Vec<NodeId> = (0..member_count).map(member_id).collect();
        // Silent members are dropped after a second, as in a deployment (`[sequencer] member_timeout_ms`); with
        // two members a majority is both, so only the three-member tests can drop one.
        let config =
            SequencerConfig { history_capacity, member_timeout_ms: 1000, ..SequencerConfig::new(SEQUENCER, members) };
        let sequencer = Sequencer::new(config, 0);
        let members = (0..member_count)
            .map(|index| {
                let config =
                    MemberConfig { report_every_seqs: 1_000_000, ..MemberConfig::new(member_id(index), SEQUENCER) };
                Member::new(config, 0)
            })
            .collect();
        Cluster {
            now_ms: 0,
            sequencer,
            members,
            submitter: Submitter::new(SubmitterConfig::new(FRONT_END, SEQUENCER)),
            delivered: vec![Vec::new(); member_count],
            stalled: vec![false; member_count],
            accepted: Vec::new(),
            log: Vec::new(),
        }
    }

    fn submit(&mut self, request_id: u64) {
        self.submitter.submit(self.now_ms, request_id, Bytes::from(request_id.to_le_bytes().to_vec())).expect("submit");
    }

    /// Delivers every datagram immediately, in send order, until nobody has anything to send; `drop` loses some.
    fn pump(&mut self, mut drop: impl FnMut(&Sent) -> bool) {
        loop {
            let mut outgoing: Vec<Sent> = Vec::new();
            let mut push = |from: NodeId, transmit: Transmit, member_count: usize| match transmit.to {
                Destination::Node(to) => outgoing.push((from, to, transmit.message)),
                Destination::Members => {
                    for index in 0..member_count {
                        outgoing.push((from, member_id(index), transmit.message.clone()));
                    }
                }
            };
            let member_count = self.members.len();
            while let Some(transmit) = self.submitter.poll_transmit() {
                push(FRONT_END, transmit, member_count);
            }
            while let Some(transmit) = self.sequencer.poll_transmit() {
                push(SEQUENCER, transmit, member_count);
            }
            for (index, member) in self.members.iter_mut().enumerate() {
                while !self.stalled[index]
                    && let Some(entry) = member.poll_deliver()
                {
                    self.delivered[index].push(entry);
                }
                while let Some(transmit) = member.poll_transmit() {
                    push(member_id(index), transmit, member_count);
                }
            }
            while let Some(ack) = self.submitter.poll_accepted() {
                self.accepted.push((ack.request_id, ack.seq));
            }
            if outgoing.is_empty() {
                return;
            }
            for sent in outgoing {
                self.log.push(sent.clone());
                if drop(&sent) {
                    continue;
                }
                let (_, to, message) = sent;
                if to == SEQUENCER {
                    self.sequencer.handle(self.now_ms, message);
                } else if to == FRONT_END {
                    self.submitter.handle(self.now_ms, message);
                } else {
                    self.members[to.0 as usize - 1].handle(self.now_ms, message);
                }
            }
        }
    }

    /// Lets `ms` pass, running every timer that falls due, one millisecond at a time.
    fn advance(&mut self, ms: u64, mut drop: impl FnMut(&Sent) -> bool) {
        for _ in 0..ms {
            self.now_ms += 1;
            self.sequencer.handle_timeout(self.now_ms);
            self.submitter.handle_timeout(self.now_ms);
            for member in &mut self.members {
                member.handle_timeout(self.now_ms);
            }
            self.pump(&mut drop);
        }
    }

    fn delivered_seqs(&self, index: usize) -> Vec<u64> {
        self.delivered[index].iter().map(|entry| entry.seq).collect()
    }

    fn sent_count(&self, matches: impl Fn(&Sent) -> bool) -> usize {
        self.log.iter().filter(|sent| matches(sent)).count()
    }
}

fn no_loss(_: &Sent) -> bool {
    false
}

fn ordered_seqs(message: &Message) -> Vec<u64> {
    match &message.body {
        Body::Ordered { entries } => entries.iter().map(|entry| entry.seq).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn requests_are_ordered_from_seq_1_without_gaps_and_delivered_everywhere() {
    let mut cluster = Cluster::new(3, 16);
    for request_id in [10, 11, 15] {
        cluster.submit(request_id);
    }
    cluster.pump(no_loss);
    assert_eq!(cluster.accepted, vec![(10, 1), (11, 2), (15, 3)]);
    for index in 0..3 {
        assert_eq!(cluster.delivered_seqs(index), vec![1, 2, 3]);
        let ids: Vec<u64> = cluster.delivered[index].iter().map(|entry| entry.request_id).collect();
        assert_eq!(ids, vec![10, 11, 15]);
    }
}

#[test]
fn a_retry_after_a_lost_ack_is_re_acknowledged_not_ordered_again() {
    let mut cluster = Cluster::new(2, 16);
    cluster.submit(1);
    cluster.pump(|(_, to, _)| *to == FRONT_END);
    assert!(cluster.accepted.is_empty() && cluster.submitter.is_in_flight(1));
    cluster.advance(100, no_loss);
    assert_eq!(cluster.accepted, vec![(1, 1)]);
    assert_eq!(cluster.sequencer.stats().retries_acked, 1);
    assert_eq!(cluster.sequencer.high_seq(), 1);
    assert_eq!(cluster.delivered_seqs(0), vec![1]);
    assert_eq!(cluster.delivered_seqs(1), vec![1]);
}

#[test]
fn a_lost_submit_is_retried_until_accepted() {
    let mut cluster = Cluster::new(1, 16);
    cluster.submit(1);
    let mut submits_lost = 0;
    cluster.pump(|(_, to, _)| {
        submits_lost += usize::from(*to == SEQUENCER);
        *to == SEQUENCER
    });
    assert_eq!(submits_lost, 1);
    cluster.advance(99, no_loss);
    assert!(cluster.accepted.is_empty(), "no retry before the interval");
    cluster.advance(1, no_loss);
    assert_eq!(cluster.accepted, vec![(1, 1)]);
    assert_eq!(cluster.submitter.stats().retries, 1);
}

#[test]
fn the_submitter_never_submits_twice_under_one_request_id() {
    let mut submitter =
        Submitter::new(SubmitterConfig { window_requests: 4, ..SubmitterConfig::new(FRONT_END, SEQUENCER) });
    submitter.submit(0, 5, Bytes::new()).unwrap();
    assert_eq!(
        submitter.submit(0, 5, Bytes::new()),
        Err(SubmitError::NotIncreasing { request_id: 5, highest_submitted: 5 })
    );
    assert_eq!(
        submitter.submit(0, 3, Bytes::new()),
        Err(SubmitError::NotIncreasing { request_id: 3, highest_submitted: 5 })
    );
    submitter.submit(0, 8, Bytes::new()).unwrap();
    assert_eq!(
        submitter.submit(0, 9, Bytes::new()),
        Err(SubmitError::WindowFull { request_id: 9, low_water_request_id: 5 })
    );
}

#[test]
fn copies_below_the_low_water_mark_are_dropped_and_the_dedup_window_is_bounded() {
    let config = SequencerConfig { dedup_window_requests: 4, ..SequencerConfig::new(SEQUENCER, vec![member_id(0)]) };
    let mut sequencer = Sequencer::new(config, 0);
    let submit = |low_water: u64, request_id: u64| Message {
        epoch: 1,
        from: FRONT_END,
        body: Body::Submit {
            low_water_request_id: low_water,
            requests: vec![ordering::Request { request_id, payload: Bytes::new() }],
        },
    };
    sequencer.handle(0, submit(5, 5));
    sequencer.handle(0, submit(5, 9));
    assert_eq!(sequencer.high_seq(), 1, "id 9 is beyond the window 5..=8");
    assert_eq!(sequencer.stats().refused_window, 1);
    sequencer.handle(0, submit(6, 9));
    assert_eq!(sequencer.high_seq(), 2);
    sequencer.handle(0, submit(6, 5));
    assert_eq!(sequencer.high_seq(), 2, "a late copy of a settled id is not ordered again");
    assert_eq!(sequencer.stats().stale_requests_dropped, 1);
}

#[test]
fn a_gap_is_held_back_nakd_and_repaired_in_order() {
    let mut cluster = Cluster::new(2, 16);
    cluster.submit(1);
    cluster.pump(no_loss);
    cluster.submit(2);
    cluster.pump(|(_, to, message)| *to == member_id(1) && ordered_seqs(message) == [2]);
    cluster.submit(3);
    cluster.pump(no_loss);
    assert_eq!(cluster.delivered_seqs(0), vec![1, 2, 3]);
    assert_eq!(cluster.delivered_seqs(1), vec![1, 2, 3], "seq 3 was held back until 2 came again");
    assert_eq!(cluster.delivered[0], cluster.delivered[1]);
    let naks = cluster.sent_count(|(from, _, message)| {
        *from == member_id(1)
            && matches!(&message.body, Body::Nak { ranges, delivered_up_to: 1 } if ranges == &[SeqRange { first: 2, last: 2 }])
    });
    assert_eq!(naks, 1);
    assert_eq!(cluster.sequencer.stats().retransmitted, 1);
}

fn ordered(seqs: &[u64]) -> Message {
    Message {
        epoch: 1,
        from: SEQUENCER,
        body: Body::Ordered {
            entries: seqs
                .iter()
                .map(|&seq| OrderedEntry {
                    seq,
                    timestamp_ms: 0,
                    submitter: FRONT_END,
                    request_id: seq,
                    payload: Bytes::new(),
                })
                .collect(),
        },
    }
}

fn nak_ranges(member: &mut Member) -> Vec<Vec<(u64, u64)>> {
    let mut naks = Vec::new();
    while let Some(transmit) = member.poll_transmit() {
        if let Body::Nak { ranges, .. } = transmit.message.body {
            naks.push(ranges.iter().map(|range| (range.first, range.last)).collect());
        }
    }
    naks
}

#[test]
fn naks_are_throttled_per_seq() {
    let config = MemberConfig { nak_interval_ms: 50, ..MemberConfig::new(member_id(0), SEQUENCER) };
    let mut member = Member::new(config, 0);
    member.handle(10, ordered(&[1, 3]));
    assert_eq!(nak_ranges(&mut member), vec![vec![(2, 2)]]);
    member.handle(11, ordered(&[4]));
    assert_eq!(nak_ranges(&mut member), Vec::<Vec<(u64, u64)>>::new(), "2 already asked for; nothing new missing");
    member.handle(12, ordered(&[7]));
    assert_eq!(nak_ranges(&mut member), vec![vec![(5, 6)]], "only the new gap");
    member.handle_timeout(59);
    assert_eq!(nak_ranges(&mut member), Vec::<Vec<(u64, u64)>>::new(), "not again within 50 ms");
    member.handle_timeout(60);
    assert_eq!(nak_ranges(&mut member), vec![vec![(2, 2)]], "2 renewed after 50 ms; 5..=6 not yet");
    member.handle_timeout(110);
    assert_eq!(nak_ranges(&mut member), vec![vec![(2, 2), (5, 6)]]);
    let delivered: Vec<u64> = std::iter::from_fn(|| member.poll_deliver()).map(|entry| entry.seq).collect();
    assert_eq!(delivered, vec![1]);
}

#[test]
fn a_lost_tail_is_found_through_the_heartbeat() {
    let mut cluster = Cluster::new(2, 16);
    cluster.submit(1);
    cluster.pump(|(_, to, message)| *to == member_id(0) && !ordered_seqs(message).is_empty());
    assert!(cluster.delivered[0].is_empty());
    cluster.advance(60, no_loss);
    assert_eq!(cluster.delivered_seqs(0), vec![1]);
    assert!(cluster.sent_count(|(_, _, message)| matches!(message.body, Body::Sync { high_seq: 1, .. })) > 0);
}

#[test]
fn history_is_freed_once_every_live_member_has_delivered() {
    let mut cluster = Cluster::new(3, 16);
    for request_id in 1..=5 {
        cluster.submit(request_id);
    }
    cluster.pump(no_loss);
    assert_eq!(cluster.sequencer.history_len(), 5, "nobody reported yet");
    // Member 3 stays silent: its reports are lost.
    cluster.advance(150, |(from, _, _)| *from == member_id(2));
    assert_eq!(cluster.sequencer.freed_up_to(), 0, "one member has not reported");
    // Its report was lost and it has delivered nothing since, so it stays quiet until the sequencer's periodic
    // probe (the backstop, every 1,000 ms by default) asks it to report.
    cluster.advance(800, no_loss);
    assert_eq!(cluster.sequencer.freed_up_to(), 0);
    cluster.advance(100, no_loss);
    assert_eq!(cluster.sequencer.freed_up_to(), 5);
    assert_eq!(cluster.sequencer.history_len(), 0);
    let probes = cluster.sent_count(|(_, to, message)| {
        *to == member_id(2) && matches!(message.body, Body::Sync { report_requested: true, .. })
    });
    assert_eq!(probes, 1);
}

#[test]
fn a_full_history_refuses_new_requests_prods_the_laggard_and_recovers() {
    let mut cluster = Cluster::new(2, 16);
    let laggard = member_id(1);
    let lag = |(from, to, _): &Sent| *from == laggard || *to == laggard;
    for request_id in 1..=20 {
        cluster.submit(request_id);
    }
    cluster.pump(lag);
    cluster.advance(150, lag);
    assert_eq!(cluster.sequencer.high_seq(), 16);
    assert!(cluster.sequencer.is_history_full());
    assert!(cluster.sequencer.stats().refused_history_full >= 4);
    assert!(cluster.submitter.in_flight() == 4, "the refused requests are still being retried");
    let prods = cluster.sent_count(|(_, to, message)| {
        *to == laggard && matches!(message.body, Body::Sync { report_requested: true, .. })
    });
    assert!(prods > 0, "the laggard was asked to report");
    cluster.advance(400, no_loss);
    assert_eq!(cluster.submitter.in_flight(), 0);
    assert_eq!(cluster.delivered_seqs(1), (1..=20).collect::<Vec<u64>>());
    assert_eq!(cluster.delivered[0], cluster.delivered[1]);
}

#[test]
fn a_removed_member_does_not_block_history() {
    let mut cluster = Cluster::new(2, 16);
    let dead = member_id(1);
    let dead_link = |(from, to, _): &Sent| *from == dead || *to == dead;
    for request_id in 1..=20 {
        cluster.submit(request_id);
    }
    cluster.pump(dead_link);
    cluster.advance(150, dead_link);
    assert!(cluster.sequencer.is_history_full());
    let changes = cluster.sequencer.live_set_changes();
    cluster.sequencer.set_member_live(dead, false);
    cluster.sequencer.set_member_live(dead, false);
    assert_eq!(cluster.sequencer.live_set_changes(), changes + 1, "marking it removed twice is one change");
    cluster.advance(300, dead_link);
    assert_eq!(cluster.submitter.in_flight(), 0);
    assert_eq!(cluster.sequencer.freed_up_to(), 20);
    assert_eq!(cluster.delivered_seqs(0), (1..=20).collect::<Vec<u64>>());
}

#[test]
fn a_silent_member_is_dropped_so_the_group_goes_on_and_comes_back_after_state_transfer() {
    let mut cluster = Cluster::new(3, 16);
    let paused = member_id(2);
    let timeout_ms = cluster.sequencer.config().member_timeout_ms;
    let paused_link = |(from, to, _): &Sent| *from == paused || *to == paused;
    // A stopped process: it neither reads nor writes while 40 requests come, more than the history holds.
    for request_id in 1..=40 {
        cluster.submit(request_id);
    }
    cluster.advance(timeout_ms / 2, paused_link);
    assert!(cluster.sequencer.is_history_full(), "the silent member holds the history");
    assert_eq!(cluster.sequencer.stats().members_dropped, 0, "not before member_timeout_ms");
    let changes_before_drop = cluster.sequencer.live_set_changes();
    cluster.advance(timeout_ms + 500, paused_link);
    assert_eq!(cluster.sequencer.stats().members_dropped, 1);
    assert_eq!(cluster.sequencer.live_set_changes(), changes_before_drop + 1, "the drop changes the live set");
    assert_eq!(cluster.sequencer.live_members().collect::<Vec<_>>(), vec![member_id(0), member_id(1)]);
    let asked = cluster.sent_count(|(_, to, message)| {
        *to == paused && matches!(message.body, Body::Sync { report_requested: true, .. })
    });
    assert!(asked > 0, "a member is asked to report before it is dropped");
    assert!(cluster.sequencer.members().any(|(id, live)| id == paused && !live));
    assert_eq!(cluster.submitter.in_flight(), 0, "the others went on without it");
    assert_eq!(cluster.delivered_seqs(0), (1..=40).collect::<Vec<u64>>());
    assert_eq!(cluster.delivered[0], cluster.delivered[1]);

    // It wakes up: the dropped member is still asked to report, its NAK below the freed point gets `Behind`, and
    // nothing else (it could not deliver past its gap anyway).
    let log_before = cluster.log.len();
    cluster.advance(cluster.sequencer.config().probe_interval_ms + 10, no_loss);
    let first_available = cluster.members[2].behind().expect("told it is behind");
    assert!(first_available > 16);
    let resent_to_it = cluster.log[log_before..]
        .iter()
        .filter(|(_, to, message)| *to == paused && !ordered_seqs(message).is_empty())
        .count();
    assert_eq!(resent_to_it, 0, "no retransmissions to a member behind the history");
    // Told `Behind`, it is live again from the freed point: history is kept for it from there on, so requests
    // ordered while its runtime rebuilds it are not freed under it.
    assert_eq!(first_available, cluster.sequencer.freed_up_to() + 1);
    assert_eq!(cluster.sequencer.stats().members_returned, 1);
    assert!(cluster.sequencer.members().all(|(_, live)| live));
    assert_eq!(cluster.sequencer.live_set_changes(), changes_before_drop + 2, "and so does the return");
    assert_eq!(cluster.sequencer.live_members().count(), 3);
    for request_id in 41..=43 {
        cluster.submit(request_id);
    }
    cluster.advance(200, paused_link);
    assert_eq!(cluster.sequencer.freed_up_to(), first_available - 1, "history kept for the rebuilt member");
    // State transfer up to the freed point, then a fresh member from there catches up from history.
    let next_seq = first_available;
    assert_eq!(cluster.members[0].rebuild_past_gap(cluster.now_ms), None, "a member that is not behind stays");
    assert_eq!(cluster.members[2].rebuild_past_gap(cluster.now_ms), Some(next_seq));
    assert_eq!(cluster.members[2].behind(), None);
    cluster.delivered[2].clear();
    cluster.advance(200, no_loss);
    for request_id in 44..=45 {
        cluster.submit(request_id);
    }
    cluster.advance(200, no_loss);
    assert_eq!(cluster.delivered_seqs(2), (next_seq..=45).collect::<Vec<u64>>());
    assert_eq!(cluster.delivered[0][..45], cluster.delivered[1][..45]);
}

#[test]
fn a_slow_member_that_answers_is_flow_control_and_never_dropped() {
    let mut cluster = Cluster::new(3, 16);
    let slow = member_id(2);
    // It loses every ordered entry (so it never delivers and holds the history full) but hears and answers the
    // sequencer's probes.
    let loses_entries = |(_, to, message): &Sent| *to == slow && !ordered_seqs(message).is_empty();
    for request_id in 1..=40 {
        cluster.submit(request_id);
    }
    cluster.advance(5 * cluster.sequencer.config().member_timeout_ms, loses_entries);
    assert!(cluster.sequencer.is_history_full());
    assert_eq!(cluster.sequencer.stats().members_dropped, 0);
    assert!(cluster.sequencer.members().all(|(_, live)| live));
    cluster.advance(1000, no_loss);
    assert_eq!(cluster.submitter.in_flight(), 0);
    assert_eq!(cluster.delivered_seqs(2), (1..=40).collect::<Vec<u64>>());
}

#[test]
fn a_member_whose_application_stalls_answers_questions_and_is_never_dropped() {
    let mut cluster = Cluster::new(3, 16);
    // Its application takes nothing: it delivers nothing, so it sends no report of its own, but it answers the
    // sequencer's questions (on this test network in the very millisecond they are asked).
    cluster.stalled[2] = true;
    // Half the history, not all of it: no refused request prods it, only the periodic probe asks it.
    for request_id in 1..=10 {
        cluster.submit(request_id);
    }
    cluster.advance(5 * cluster.sequencer.config().member_timeout_ms, no_loss);
    assert_eq!(cluster.sequencer.history_len(), 10, "it holds the history back");
    assert_eq!(cluster.sequencer.stats().members_dropped, 0);
    cluster.stalled[2] = false;
    cluster.advance(1000, no_loss);
    assert_eq!(cluster.sequencer.freed_up_to(), 10);
    assert_eq!(cluster.delivered_seqs(2), (1..=10).collect::<Vec<u64>>());
}

#[test]
fn silent_members_are_never_dropped_below_a_majority() {
    let mut cluster = Cluster::new(3, 16);
    let (first, second) = (member_id(1), member_id(2));
    let two_paused = |(from, to, _): &Sent| [*from, *to].iter().any(|node| *node == first || *node == second);
    for request_id in 1..=40 {
        cluster.submit(request_id);
    }
    cluster.advance(3 * cluster.sequencer.config().member_timeout_ms, two_paused);
    assert_eq!(cluster.sequencer.stats().members_dropped, 1, "one of the two, then a majority must stay");
    assert_eq!(cluster.sequencer.members().filter(|&(_, live)| live).count(), 2);
    assert!(cluster.submitter.in_flight() > 0, "with no live majority delivering, the group waits");
    assert_eq!(cluster.sequencer.freed_up_to(), 0, "nothing freed that only one member delivered");
}

#[test]
fn a_member_behind_the_history_is_told_and_a_snapshot_member_catches_up() {
    let mut cluster = Cluster::new(2, 16);
    for request_id in 1..=3 {
        cluster.submit(request_id);
    }
    cluster.advance(200, no_loss);
    assert_eq!(cluster.sequencer.freed_up_to(), 3);
    // Member 2 restarts empty from seq 1, but seqs 1..=3 are gone from history.
    cluster.members[1] = Member::new(MemberConfig::new(member_id(1), SEQUENCER), cluster.now_ms);
    cluster.submit(4);
    cluster.pump(no_loss);
    assert_eq!(cluster.members[1].behind(), Some(4));
    // State transfer up to 3, then the stream continues.
    cluster.members[1] = Member::new_at(MemberConfig::new(member_id(1), SEQUENCER), cluster.now_ms, 4);
    cluster.delivered[1].clear();
    cluster.advance(100, no_loss);
    assert_eq!(cluster.delivered_seqs(1), vec![4]);
    assert_eq!(cluster.members[1].behind(), None);
}

#[test]
fn stale_epochs_are_rejected_and_higher_epochs_adopted() {
    // A member in epoch 2 ignores an old sequencer's epoch-1 stream.
    let mut member = Member::new(MemberConfig { epoch: 2, ..MemberConfig::new(member_id(0), SEQUENCER) }, 0);
    member.handle(0, ordered(&[1]));
    assert!(member.poll_deliver().is_none());
    assert_eq!(member.stats().stale_epoch_dropped, 1);

    // A sequencer in epoch 2 drops an epoch-1 submit and tells the sender the epoch.
    let new_sequencer = NodeId(9);
    let config = SequencerConfig { epoch: 2, ..SequencerConfig::new(new_sequencer, vec![member_id(0)]) };
    let mut sequencer = Sequencer::new(config, 0);
    let mut submitter = Submitter::new(SubmitterConfig::new(FRONT_END, SEQUENCER));
    submitter.submit(0, 1, Bytes::new()).unwrap();
    let submit = submitter.poll_transmit().unwrap();
    assert_eq!(submit.message.epoch, 1);
    sequencer.handle(0, submit.message);
    assert_eq!(sequencer.high_seq(), 0);
    let reply = sequencer.poll_transmit().unwrap();
    assert_eq!(reply.to, Destination::Node(FRONT_END));
    assert!(matches!(reply.message.body, Body::Sync { .. }) && reply.message.epoch == 2);

    // The submitter adopts epoch 2 and the new sequencer, and resends at once.
    submitter.handle(1, reply.message);
    assert_eq!((submitter.epoch(), submitter.sequencer()), (2, new_sequencer));
    let resent = submitter.poll_transmit().unwrap();
    assert_eq!((resent.to, resent.message.epoch), (Destination::Node(new_sequencer), 2));
    sequencer.handle(1, resent.message);
    assert_eq!(sequencer.high_seq(), 1);

    // A sequencer that hears of a higher epoch stops ordering.
    sequencer.handle(2, Message { epoch: 3, from: member_id(0), body: Body::Report { delivered_up_to: 0 } });
    assert_eq!(sequencer.superseded_by_epoch(), Some(3));

    // The member adopts the successor's higher epoch; seqs continue, they do not restart.
    let mut member = Member::new(MemberConfig::new(member_id(0), SEQUENCER), 0);
    member.handle(0, ordered(&[1]));
    assert_eq!(member.poll_deliver().map(|entry| entry.seq), Some(1));
    let successor = Message { epoch: 2, from: new_sequencer, body: ordered(&[2]).body };
    member.handle(1, successor);
    assert_eq!((member.epoch(), member.sequencer()), (2, new_sequencer));
    assert_eq!(member.poll_deliver().map(|entry| entry.seq), Some(2));
    member.handle(2, ordered(&[3]));
    assert!(member.poll_deliver().is_none(), "the old epoch is now stale");
}

#[test]
fn timestamps_never_go_backwards_even_when_the_clock_does() {
    let config = SequencerConfig { first_seq: 41, ..SequencerConfig::new(SEQUENCER, vec![member_id(0)]) };
    let mut sequencer = Sequencer::new(config, 0);
    for (request_id, now_ms) in [(1, 1_000), (2, 900), (3, 1_100)] {
        let body = Body::Submit {
            low_water_request_id: 1,
            requests: vec![ordering::Request { request_id, payload: Bytes::new() }],
        };
        sequencer.handle(now_ms, Message { epoch: 1, from: FRONT_END, body });
    }
    let mut stamps = Vec::new();
    while let Some(transmit) = sequencer.poll_transmit() {
        if let Body::Ordered { entries } = transmit.message.body {
            stamps.extend(entries.iter().map(|entry| (entry.seq, entry.timestamp_ms)));
        }
    }
    assert_eq!(stamps, vec![(41, 1_000), (42, 1_000), (43, 1_100)]);
}

#[test]
fn bursts_are_batched_within_the_datagram_budget() {
    let mut cluster = Cluster::new(1, 4096);
    for request_id in 1..=200 {
        cluster.submit(request_id);
    }
    cluster.pump(no_loss);
    assert_eq!(cluster.delivered_seqs(0), (1..=200).collect::<Vec<u64>>());
    let ordered_datagrams: Vec<&Message> = cluster
        .log
        .iter()
        .filter(|(_, _, message)| matches!(message.body, Body::Ordered { .. }))
        .map(|(_, _, m)| m)
        .collect();
    assert!(ordered_datagrams.len() < 20, "{} datagrams for 200 entries", ordered_datagrams.len());
    assert!(ordered_datagrams.iter().all(|message| message.encoded_len() <= 1_400));
    let submits = cluster.sent_count(|(_, _, message)| matches!(message.body, Body::Submit { .. }));
    assert!(submits < 20, "{submits} submit datagrams for 200 requests");
}
