//! Feature tests of the replica manager core, one per rule: feeding, wrong-result replacement, crash agreement
//! with incarnations, and state transfer. The whole-cluster behaviour is exercised by `crates/sim`.

use bytes::Bytes;
use manager::{
    Audit, Command, Manager, ManagerConfig, Membership, PeerBody, PeerMessage, ReplaceReason, ReplicaPhase, Report,
    ResendResult, ResultMessage,
};
use ordering::{NodeId, OrderedEntry};

const FE: NodeId = NodeId(100);

fn manager(id: u16, n: u16) -> Manager {
    let mut manager = Manager::new(ManagerConfig::new(id, (1..=n).collect()), 0);
    assert_eq!(drain(&mut manager), vec![Command::StartReplica { incarnation: 1 }]);
    manager.handle_replica_started(0, 1);
    manager
}

fn drain(manager: &mut Manager) -> Vec<Command> {
    std::iter::from_fn(|| manager.poll_command()).filter(|command| !matches!(command, Command::Log(_))).collect()
}

fn drain_all(manager: &mut Manager) -> Vec<Command> {
    std::iter::from_fn(|| manager.poll_command()).collect()
}

fn entry(seq: u64) -> OrderedEntry {
    OrderedEntry {
        seq,
        timestamp_ms: 1_000 + seq,
        submitter: FE,
        request_id: 500 + seq,
        payload: Bytes::from(vec![seq as u8]),
    }
}

fn peer(from: u16, incarnation: u64, body: PeerBody) -> PeerMessage {
    PeerMessage { from, from_incarnation: incarnation, body }
}

fn executed_seqs(commands: &[Command]) -> Vec<u64> {
    commands
        .iter()
        .filter_map(|command| match command {
            Command::Execute { jobs, .. } => Some(jobs.iter().map(|job| job.seq).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Delivers `1..=up_to` and has the replica execute them all, answering `ok`.
fn run_up_to(manager: &mut Manager, up_to: u64, incarnation: u64) {
    for seq in manager.delivered_up_to() + 1..=up_to {
        manager.handle_delivered(0, entry(seq));
    }
    let results = (manager.executed_up_to() + 1..=up_to).map(|seq| (seq, Bytes::from_static(b"ok"))).collect();
    manager.handle_executed(0, incarnation, up_to + 1, results);
}

#[test]
fn entries_are_fed_in_order_and_results_go_to_the_front_end_once() {
    let mut m = manager(1, 3);
    for seq in 1..=3 {
        m.handle_delivered(0, entry(seq));
    }
    assert_eq!(executed_seqs(&drain(&mut m)), vec![1, 2, 3]);
    m.handle_executed(5, 1, 3, vec![(1, Bytes::from_static(b"a")), (2, Bytes::from_static(b"b"))]);
    // A reordered, older answer repeats result 2 and adds nothing new.
    m.handle_executed(6, 1, 2, vec![(1, Bytes::from_static(b"a"))]);
    m.handle_executed(7, 1, 4, vec![(2, Bytes::from_static(b"b")), (3, Bytes::from_static(b"c"))]);
    let sent: Vec<(u64, u64)> = drain(&mut m)
        .into_iter()
        .filter_map(|command| match command {
            Command::SendResult { front_end, result } => {
                assert_eq!(front_end, FE);
                Some((result.seq, result.request_id))
            }
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![(1, 501), (2, 502), (3, 503)]);
    assert_eq!(m.executed_up_to(), 3);
}

#[test]
fn unanswered_jobs_are_fed_again_from_next_expected() {
    let mut m = manager(1, 3);
    for seq in 1..=4 {
        m.handle_delivered(0, entry(seq));
    }
    drain(&mut m);
    m.handle_executed(10, 1, 3, vec![]);
    let retry_at = m.poll_timeout().expect("a retry is due");
    assert!(retry_at > 10);
    m.handle_timeout(retry_at);
    // 3 and 4 are fed again from next_expected; 1 and 2 were executed but their results never came back, so they
    // are asked for again too (answered from the replica's cache).
    assert_eq!(executed_seqs(&drain(&mut m)), vec![3, 4, 1, 2]);
}

#[test]
fn three_consecutive_wrong_reports_replace_the_own_replica_only() {
    let mut m = manager(2, 3);
    run_up_to(&mut m, 10, 1);
    drain(&mut m);
    let wrong = |replica_id, consecutive| Report::Wrong { replica_id, seq: 9, request_id: 509, consecutive };
    m.handle_report(0, wrong(3, 3));
    assert_eq!(drain(&mut m), vec![], "another replica's manager acts on it");
    assert_eq!(m.reported_wrong(3), 3);
    m.handle_report(0, wrong(2, 2));
    assert_eq!(drain(&mut m), vec![]);
    m.handle_report(0, wrong(2, 3));
    let commands = drain(&mut m);
    assert_eq!(
        commands,
        vec![
            Command::AnnounceMembership(Membership { replica_id: 2, incarnation: 2, in_vote: false }),
            Command::KillReplica { incarnation: 1 },
            Command::StartReplica { incarnation: 2 },
        ]
    );
    // A repeated report about the replaced incarnation changes nothing.
    m.handle_report(0, wrong(2, 3));
    assert_eq!(drain(&mut m), vec![]);
}

#[test]
fn a_crash_needs_a_majority_of_verdicts_at_the_current_incarnation() {
    let mut m = manager(1, 3);
    run_up_to(&mut m, 5, 1);
    drain(&mut m);
    // A stale "dead" verdict about an earlier incarnation (0 never existed) does not count.
    m.handle_peer(0, peer(2, 1, PeerBody::Verdict { suspect: 1, incarnation: 0, alive: false }));
    // The dead verdict makes this manager check its own replica.
    let probe_id = match drain(&mut m).as_slice() {
        [Command::Probe { probe_id, replica_id: 1 }] => *probe_id,
        other => panic!("expected a probe, got {other:?}"),
    };
    m.handle_probe_answered(1, probe_id);
    let verdicts = drain(&mut m);
    assert_eq!(verdicts.len(), 2, "its alive verdict goes to both other managers: {verdicts:?}");
    // One dead verdict at the current incarnation plus an alive one of its own: no majority.
    m.handle_peer(2, peer(2, 1, PeerBody::Verdict { suspect: 1, incarnation: 1, alive: false }));
    drain(&mut m);
    assert_eq!(m.phase(), ReplicaPhase::Serving);
    m.handle_peer(3, peer(3, 1, PeerBody::Verdict { suspect: 1, incarnation: 1, alive: false }));
    let commands = drain_all(&mut m);
    assert!(
        commands.contains(&Command::Log(Audit::ReplacementStarted { incarnation: 2, reason: ReplaceReason::Crash }))
    );
    assert!(commands.contains(&Command::StartReplica { incarnation: 2 }));
}

#[test]
fn the_own_process_exit_is_one_vote_and_others_confirm() {
    let mut m = manager(1, 4);
    run_up_to(&mut m, 5, 1);
    drain(&mut m);
    m.handle_replica_exited(10, 1);
    let commands = drain(&mut m);
    let told = commands
        .iter()
        .filter(|c| {
            matches!(c, Command::SendToManager { message, .. }
        if message.body == PeerBody::Verdict { suspect: 1, incarnation: 1, alive: false })
        })
        .count();
    assert_eq!(told, 3, "{commands:?}");
    // n = 4: the majority is 3, so one confirmation is not enough.
    m.handle_peer(11, peer(2, 1, PeerBody::Verdict { suspect: 1, incarnation: 1, alive: false }));
    drain(&mut m);
    assert_eq!(m.phase(), ReplicaPhase::Serving);
    m.handle_peer(12, peer(3, 1, PeerBody::Verdict { suspect: 1, incarnation: 1, alive: false }));
    drain(&mut m);
    assert_eq!(m.phase(), ReplicaPhase::Starting);
    assert_eq!(m.incarnation(), 2);
}

#[test]
fn a_donor_pauses_at_the_point_snapshots_and_refuses_points_it_passed() {
    let mut m = manager(2, 3);
    run_up_to(&mut m, 5, 1);
    drain(&mut m);
    m.handle_peer(0, peer(1, 2, PeerBody::SnapshotRequest { seq: 3 }));
    assert_eq!(
        drain(&mut m),
        vec![Command::SendToManager { to: 1, message: peer(2, 1, PeerBody::SnapshotTooLate { seq: 3, fed_up_to: 5 }) }]
    );
    m.handle_peer(0, peer(1, 2, PeerBody::SnapshotRequest { seq: 7 }));
    for seq in 6..=9 {
        m.handle_delivered(0, entry(seq));
    }
    assert_eq!(executed_seqs(&drain(&mut m)), vec![6, 7], "feeding pauses at the point");
    m.handle_executed(0, 1, 8, vec![]);
    assert_eq!(drain(&mut m), vec![Command::TakeSnapshot { incarnation: 1, seq: 7 }]);
    let snapshot = Bytes::from_static(b"state after 7");
    m.handle_snapshot_taken(0, 1, 7, snapshot.clone());
    let commands = drain(&mut m);
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(&snapshot).into()
    };
    assert_eq!(
        commands[0],
        Command::SendToManager { to: 1, message: peer(2, 1, PeerBody::Snapshot { seq: 7, digest, bytes: snapshot }) }
    );
    assert_eq!(executed_seqs(&commands[1..]), vec![8, 9], "feeding resumes");
}

#[test]
fn recovery_restores_only_on_two_matching_verified_digests_then_rejoins() {
    let mut m = manager(1, 3);
    run_up_to(&mut m, 4, 1);
    m.handle_report(0, Report::Wrong { replica_id: 1, seq: 4, request_id: 504, consecutive: 3 });
    drain(&mut m);
    m.handle_replica_started(0, 2);
    let requests = drain(&mut m);
    assert_eq!(requests.len(), 2, "asks both other managers: {requests:?}");
    assert!(requests.iter().all(|c| matches!(c, Command::SendToManager { message, .. }
        if message.body == PeerBody::SnapshotRequest { seq: 4 })));
    m.handle_delivered(0, entry(5));
    let good = Bytes::from(booking::Replica::new().snapshot());
    let digest = booking::Replica::new().digest();
    // A snapshot whose bytes do not hash to its digest is dropped; a second good one is needed.
    m.handle_peer(0, peer(2, 1, PeerBody::Snapshot { seq: 4, digest, bytes: Bytes::from_static(b"forged") }));
    m.handle_peer(0, peer(3, 1, PeerBody::Snapshot { seq: 4, digest, bytes: good.clone() }));
    assert_eq!(drain(&mut m), vec![]);
    assert_eq!(m.stats().snapshots_corrupt, 1);
    m.handle_peer(0, peer(2, 1, PeerBody::Snapshot { seq: 4, digest, bytes: good.clone() }));
    assert_eq!(drain(&mut m), vec![Command::Restore { incarnation: 2, seq: 4, snapshot: good }]);
    m.handle_restored(0, 2, 5);
    let commands = drain(&mut m);
    assert!(commands.contains(&Command::AnnounceMembership(Membership {
        replica_id: 1,
        incarnation: 2,
        in_vote: true
    })));
    assert_eq!(executed_seqs(&commands), vec![5], "the entry after the point is replayed");
    assert_eq!(m.phase(), ReplicaPhase::Serving);
}

#[test]
fn a_manager_behind_the_history_replaces_its_replica_and_restores_past_the_gap() {
    let mut m = manager(1, 3);
    run_up_to(&mut m, 4, 1);
    m.handle_delivered(0, entry(5)); // delivered, not executed yet: dropped with the rest of the gap
    drain(&mut m);
    // Nothing skipped: nothing happens.
    m.handle_behind(0, 6);
    assert_eq!(drain(&mut m), vec![]);
    // The sequencer went on without this manager: seqs 6..=19 are gone, the member now delivers from 20.
    m.handle_behind(10, 20);
    let commands = drain_all(&mut m);
    assert!(
        commands.contains(&Command::Log(Audit::ReplacementStarted { incarnation: 2, reason: ReplaceReason::Behind }))
    );
    assert!(commands.contains(&Command::KillReplica { incarnation: 1 }));
    assert!(commands.contains(&Command::StartReplica { incarnation: 2 }));
    assert!(commands.contains(&Command::AnnounceMembership(Membership {
        replica_id: 1,
        incarnation: 2,
        in_vote: false
    })));
    assert_eq!((m.delivered_up_to(), m.buffered(), m.stats().replaced_behind), (19, 0, 1));
    // The fresh replica is restored at a point past the gap, then fed what the rebuilt member delivers.
    m.handle_replica_started(20, 2);
    let requests = drain(&mut m);
    assert!(
        requests.iter().all(|c| matches!(c, Command::SendToManager { message, .. }
        if message.body == PeerBody::SnapshotRequest { seq: 19 })),
        "{requests:?}"
    );
    m.handle_delivered(21, entry(20));
    let snapshot = Bytes::from(booking::Replica::new().snapshot());
    let digest = booking::Replica::new().digest();
    m.handle_peer(22, peer(2, 1, PeerBody::Snapshot { seq: 19, digest, bytes: snapshot.clone() }));
    m.handle_peer(22, peer(3, 1, PeerBody::Snapshot { seq: 19, digest, bytes: snapshot.clone() }));
    assert_eq!(drain(&mut m), vec![Command::Restore { incarnation: 2, seq: 19, snapshot }]);
    m.handle_restored(23, 2, 20);
    assert_eq!(executed_seqs(&drain(&mut m)), vec![20]);
    assert_eq!(m.phase(), ReplicaPhase::Serving);
}

#[test]
fn results_lost_on_the_way_back_are_asked_for_again() {
    let mut m = manager(1, 3);
    for seq in 1..=3 {
        m.handle_delivered(0, entry(seq));
    }
    drain(&mut m);
    // The answer carrying results 1 and 2 was lost; a later one says the replica executed all three.
    m.handle_executed(5, 1, 4, vec![(3, Bytes::from_static(b"c"))]);
    let sent = |commands: &[Command]| -> Vec<u64> {
        commands
            .iter()
            .filter_map(|command| match command {
                Command::SendResult { result, .. } => Some(result.seq),
                _ => None,
            })
            .collect()
    };
    assert_eq!(sent(&drain(&mut m)), vec![3]);
    let retry_at = m.poll_timeout().expect("a timer is set");
    assert!(retry_at <= 5 + m.config().job_retry_ms, "the lost results are asked for within one retry interval");
    m.handle_timeout(5 + m.config().job_retry_ms);
    let commands = drain(&mut m);
    assert_eq!(executed_seqs(&commands), vec![1, 2], "asked again from the replica's result cache");
    m.handle_executed(200, 1, 4, vec![(1, Bytes::from_static(b"a")), (2, Bytes::from_static(b"b"))]);
    assert_eq!(sent(&drain(&mut m)), vec![1, 2], "each result reaches the front end exactly once");
    m.handle_timeout(10_000);
    assert_eq!(executed_seqs(&drain(&mut m)), Vec::<u64>::new(), "nothing left to ask for");
}

fn resend(request_id: u64) -> ResendResult {
    ResendResult { front_end: FE.0, request_id }
}

fn results_sent(commands: Vec<Command>) -> Vec<ResultMessage> {
    commands
        .into_iter()
        .filter_map(|command| match command {
            Command::SendResult { front_end, result } => {
                assert_eq!(front_end, FE);
                Some(result)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_sent_result_is_sent_again_when_the_front_end_asks_and_unknown_ones_are_ignored() {
    let mut m = manager(2, 3);
    for seq in 1..=3 {
        m.handle_delivered(0, entry(seq));
    }
    drain(&mut m);
    m.handle_executed(5, 1, 3, vec![(1, Bytes::from_static(b"a")), (2, Bytes::from_static(b"b"))]);
    let first = results_sent(drain(&mut m));
    assert_eq!(first.iter().map(|result| result.request_id).collect::<Vec<_>>(), vec![501, 502]);

    // The copy of 502 was lost: the front end asks, and gets the same message again, as often as it asks.
    for _ in 0..2 {
        m.handle_resend_result(10, resend(502));
        assert_eq!(results_sent(drain(&mut m)), vec![first[1].clone()]);
    }
    // 503 is fed but not executed: nothing to send now; it goes out (once) when the replica produces it.
    m.handle_resend_result(11, resend(503));
    assert_eq!(drain(&mut m), vec![]);
    m.handle_executed(12, 1, 4, vec![(3, Bytes::from_static(b"c"))]);
    assert_eq!(results_sent(drain(&mut m)).iter().map(|result| result.seq).collect::<Vec<_>>(), vec![3]);
    // Never delivered, or another front end's request id: ignored.
    m.handle_resend_result(13, resend(9_999));
    m.handle_resend_result(13, ResendResult { front_end: FE.0 + 1, request_id: 501 });
    assert_eq!(drain(&mut m), vec![]);
    assert_eq!(m.stats().results_sent, 3);
    assert_eq!(m.stats().results_resent, 2);
}

#[test]
fn the_result_cache_is_bounded_and_forgotten_on_replacement() {
    let mut config = ManagerConfig::new(2, vec![1, 2, 3]);
    config.result_cache_max = 4;
    let mut m = Manager::new(config, 0);
    drain(&mut m);
    m.handle_replica_started(0, 1);
    run_up_to(&mut m, 10, 1);
    assert_eq!(results_sent(drain(&mut m)).len(), 10);
    // Only the last four (507..=510) are kept.
    for request_id in 501..=510 {
        m.handle_resend_result(20, resend(request_id));
        let again = results_sent(drain(&mut m));
        let expected: Vec<u64> = if request_id >= 507 { vec![request_id] } else { vec![] };
        assert_eq!(again.iter().map(|result| result.request_id).collect::<Vec<_>>(), expected, "{request_id}");
    }
    // After a replacement the old incarnation's results are not re-sent (front ends drop them anyway).
    let wrong = Report::Wrong { replica_id: 2, seq: 10, request_id: 510, consecutive: 3 };
    m.handle_report(30, wrong);
    assert_eq!(m.incarnation(), 2);
    drain(&mut m);
    m.handle_resend_result(31, resend(510));
    assert_eq!(drain(&mut m), vec![]);
}

/// A manager of 3 whose replica was replaced after seq 4 and whose fresh replica (incarnation 2) is up at `now_ms`,
/// asking for snapshots at seq 4.
fn recovering_at_seq_4(now_ms: u64) -> Manager {
    let mut m = manager(1, 3);
    run_up_to(&mut m, 4, 1);
    m.handle_report(0, Report::Wrong { replica_id: 1, seq: 4, request_id: 504, consecutive: 3 });
    drain(&mut m);
    m.handle_replica_started(now_ms, 2);
    drain(&mut m);
    assert_eq!(m.phase(), ReplicaPhase::Fetching { seq: 4 });
    m
}

fn empty_snapshot() -> (Bytes, [u8; 32]) {
    (Bytes::from(booking::Replica::new().snapshot()), booking::Replica::new().digest())
}

#[test]
fn a_manager_whose_replica_is_not_serving_says_so_instead_of_donating() {
    let mut m = manager(2, 3);
    run_up_to(&mut m, 4, 1);
    drain(&mut m);
    m.handle_replica_exited(10, 1); // exit seen, agreement pending: no donor any more
    drain(&mut m);
    m.handle_peer(11, peer(1, 2, PeerBody::SnapshotRequest { seq: 4 }));
    assert_eq!(
        drain(&mut m),
        vec![Command::SendToManager { to: 1, message: peer(2, 1, PeerBody::SnapshotUnavailable { seq: 4 }) }]
    );
    assert_eq!(m.stats().snapshots_unavailable, 1);
}

#[test]
fn sole_donor_restores_only_when_every_other_manager_says_it_cannot_donate_and_the_wait_passed() {
    let started_ms = 100;
    let wait_ms = ManagerConfig::new(1, vec![1, 2, 3]).sole_donor_wait_ms;
    let mut m = recovering_at_seq_4(started_ms);
    let (good, digest) = empty_snapshot();
    m.handle_peer(started_ms + 10, peer(2, 1, PeerBody::Snapshot { seq: 4, digest, bytes: good.clone() }));
    // Silence from manager 3 never counts: however long it lasts, no restore.
    m.handle_timeout(started_ms + 10 * wait_ms);
    assert!(!drain(&mut m).iter().any(|command| matches!(command, Command::Restore { .. })));
    // "Cannot donate" about another point does not count either.
    m.handle_peer(started_ms + 10 * wait_ms, peer(3, 2, PeerBody::SnapshotUnavailable { seq: 3 }));
    assert_eq!(drain(&mut m), vec![]);
    assert_eq!(m.phase(), ReplicaPhase::Fetching { seq: 4 });
    // At the point, after the wait: restore from the one donor, and the audit log says so.
    m.handle_peer(started_ms + 10 * wait_ms, peer(3, 2, PeerBody::SnapshotUnavailable { seq: 4 }));
    let commands = drain_all(&mut m);
    assert!(commands.contains(&Command::Log(Audit::SoleDonorRestore { seq: 4, donor: 2, digest })), "{commands:?}");
    assert!(commands.contains(&Command::Restore { incarnation: 2, seq: 4, snapshot: good }));
    assert_eq!(m.stats().sole_donor_restores, 1);
    assert_eq!(m.phase(), ReplicaPhase::Restoring { seq: 4 });
}

#[test]
fn sole_donor_waits_for_a_second_donor_first() {
    let started_ms = 100;
    let wait_ms = ManagerConfig::new(1, vec![1, 2, 3]).sole_donor_wait_ms;
    let mut m = recovering_at_seq_4(started_ms);
    let (good, digest) = empty_snapshot();
    m.handle_peer(started_ms + 1, peer(2, 1, PeerBody::Snapshot { seq: 4, digest, bytes: good.clone() }));
    m.handle_peer(started_ms + 2, peer(3, 2, PeerBody::SnapshotUnavailable { seq: 4 }));
    assert_eq!(drain(&mut m), vec![], "within the wait, a manager catching up may still become a donor");
    // Manager 3's replica rejoined and donates: the normal two-digest rule restores, the sole-donor rule never ran.
    m.handle_peer(started_ms + wait_ms / 2, peer(3, 2, PeerBody::Snapshot { seq: 4, digest, bytes: good.clone() }));
    let commands = drain_all(&mut m);
    assert!(commands.contains(&Command::Log(Audit::SnapshotAgreed { seq: 4, digest })), "{commands:?}");
    assert_eq!(m.stats().sole_donor_restores, 0);
}

#[test]
fn an_old_unavailable_answer_does_not_outlive_the_next_request_round() {
    let started_ms = 100;
    let wait_ms = ManagerConfig::new(1, vec![1, 2, 3]).sole_donor_wait_ms;
    let mut m = recovering_at_seq_4(started_ms);
    let (good, digest) = empty_snapshot();
    m.handle_peer(started_ms + 1, peer(3, 2, PeerBody::SnapshotUnavailable { seq: 4 }));
    // Requests go out again every retry; manager 3 stops answering (say its replica rejoined and is snapshotting).
    let mut now_ms = started_ms;
    while now_ms < started_ms + 2 * wait_ms {
        now_ms = m.poll_timeout().expect("timers run");
        m.handle_timeout(now_ms);
        drain(&mut m);
    }
    m.handle_peer(now_ms, peer(2, 1, PeerBody::Snapshot { seq: 4, digest, bytes: good }));
    assert!(!drain(&mut m).iter().any(|command| matches!(command, Command::Restore { .. })));
    assert_eq!(m.stats().sole_donor_restores, 0);
}

#[test]
fn with_four_managers_two_serving_donors_are_still_required() {
    let mut m = manager(1, 4);
    run_up_to(&mut m, 4, 1);
    m.handle_report(0, Report::Wrong { replica_id: 1, seq: 4, request_id: 504, consecutive: 3 });
    drain(&mut m);
    m.handle_replica_started(0, 2);
    drain(&mut m);
    let (good, digest) = empty_snapshot();
    let late_ms = 60_000;
    m.handle_peer(late_ms, peer(2, 1, PeerBody::Snapshot { seq: 4, digest, bytes: good.clone() }));
    m.handle_peer(late_ms, peer(3, 2, PeerBody::SnapshotUnavailable { seq: 4 }));
    assert_eq!(drain(&mut m), vec![], "manager 4 has not answered: it may be a second donor");
    m.handle_peer(late_ms, peer(4, 2, PeerBody::SnapshotUnavailable { seq: 4 }));
    assert!(drain(&mut m).contains(&Command::Restore { incarnation: 2, seq: 4, snapshot: good }));
}
