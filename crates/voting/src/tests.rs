//! Feature tests of the voter: one scenario per rule of replication.md's voting section.

use super::*;

const GOOD: &[u8] = b"ok";
const BAD: &[u8] = b"lie";

fn voter(n: u16) -> Voter {
    Voter::new(VoterConfig::software((1..=n).collect()))
}

fn drain(voter: &mut Voter) -> Vec<Event> {
    std::iter::from_fn(|| voter.poll_event()).collect()
}

#[test]
fn two_identical_results_decide_and_the_third_is_checked() {
    let mut v = voter(3);
    v.open(7, 0);
    v.result(7, 1, GOOD, 1);
    assert_eq!(drain(&mut v), vec![]);
    v.result(7, 2, GOOD, 2);
    assert_eq!(drain(&mut v), vec![Event::Decided { round: 7, result: GOOD.to_vec() }]);
    v.result(7, 3, BAD, 3);
    assert_eq!(drain(&mut v), vec![Event::Wrong { round: 7, replica: 3, consecutive: 1 }]);
    assert_eq!(v.open_rounds(), 0, "a round with every result in is closed");
}

#[test]
fn a_minority_answer_is_never_decided() {
    let mut v = voter(3);
    v.open(1, 0);
    v.result(1, 3, BAD, 1);
    v.result(1, 1, GOOD, 2);
    assert_eq!(drain(&mut v), vec![]);
    v.result(1, 2, GOOD, 3);
    let events = drain(&mut v);
    assert_eq!(events[0], Event::Decided { round: 1, result: GOOD.to_vec() });
    assert_eq!(events[1], Event::Wrong { round: 1, replica: 3, consecutive: 1 });
}

#[test]
fn crash_mode_answers_with_the_first_result() {
    let mut config = VoterConfig::software(vec![1, 2, 3]);
    config.mode = Mode::Crash;
    let mut v = Voter::new(config);
    v.open(1, 0);
    v.result(1, 2, GOOD, 1);
    assert_eq!(drain(&mut v), vec![Event::Decided { round: 1, result: GOOD.to_vec() }]);
}

fn round_with(v: &mut Voter, round: u64, third: &[u8]) -> Vec<Event> {
    v.open(round, round * 10);
    v.result(round, 1, GOOD, round * 10 + 1);
    v.result(round, 2, GOOD, round * 10 + 1);
    v.result(round, 3, third, round * 10 + 1);
    drain(v).into_iter().filter(|e| matches!(e, Event::Wrong { .. })).collect()
}

#[test]
fn three_consecutive_wrong_results_ask_for_replacement() {
    let mut v = voter(3);
    assert_eq!(round_with(&mut v, 1, BAD), vec![Event::Wrong { round: 1, replica: 3, consecutive: 1 }]);
    assert_eq!(round_with(&mut v, 2, BAD), vec![Event::Wrong { round: 2, replica: 3, consecutive: 2 }]);
    assert_eq!(round_with(&mut v, 3, BAD), vec![Event::Wrong { round: 3, replica: 3, consecutive: 3 }]);
    // Excluded while being replaced: its results no longer count or get judged.
    assert_eq!(round_with(&mut v, 4, BAD), vec![]);
    v.set_excluded(3, false);
    assert_eq!(v.consecutive_wrong(3), 0, "the replacement starts clean");
}

#[test]
fn a_correct_result_resets_the_count() {
    let mut v = voter(3);
    let counts: Vec<u32> = [BAD, GOOD, BAD, BAD]
        .iter()
        .enumerate()
        .flat_map(|(i, third)| round_with(&mut v, i as u64 + 1, third))
        .map(|e| match e {
            Event::Wrong { consecutive, .. } => consecutive,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(counts, vec![1, 1, 2], "wrong, right, wrong, wrong must not reach three");
    assert_eq!(v.consecutive_wrong(3), 2);
}

#[test]
fn a_missing_result_is_suspected_after_twice_the_slowest_time() {
    let mut v = voter(3);
    v.open(1, 1000);
    v.result(1, 1, GOOD, 1010);
    v.result(1, 2, GOOD, 1040); // slowest so far: 40 ms
    assert_eq!(drain(&mut v), vec![Event::Decided { round: 1, result: GOOD.to_vec() }]);
    assert_eq!(v.suspect_after_ms(), 80);
    assert_eq!(v.poll_timeout(), Some(1080));
    v.handle_timeout(1079);
    assert_eq!(drain(&mut v), vec![]);
    v.handle_timeout(1080);
    assert_eq!(drain(&mut v), vec![Event::Suspected { round: 1, replica: 3 }]);
    assert_eq!(v.open_rounds(), 0);
}

#[test]
fn the_suspicion_deadline_has_a_floor_and_forgets_old_stalls() {
    let mut config = VoterConfig::software(vec![1, 2, 3]);
    config.latency_window = 4;
    config.suspect_floor_ms = 30;
    let mut v = Voter::new(config);
    assert_eq!(v.suspect_after_ms(), 30, "floor before any result");
    v.open(1, 0);
    v.result(1, 1, GOOD, 500); // one old stall
    assert_eq!(v.suspect_after_ms(), 1000);
    for round in 2..=5 {
        v.open(round, round * 1000);
        v.result(round, 1, GOOD, round * 1000 + 1);
    }
    assert_eq!(v.suspect_after_ms(), 30, "the stall left the window; 2 x 1 ms is below the floor");
}

#[test]
fn no_agreement_in_time_is_unavailable_never_a_guess() {
    let mut v = voter(3);
    v.open(1, 0);
    v.result(1, 1, GOOD, 1);
    v.result(1, 2, BAD, 2);
    assert_eq!(drain(&mut v), vec![]);
    let deadline = v.config().request_timeout_ms;
    v.handle_timeout(deadline);
    assert_eq!(drain(&mut v), vec![Event::Unavailable { round: 1 }, Event::Suspected { round: 1, replica: 3 }]);
}

#[test]
fn agreement_that_became_impossible_fails_at_once() {
    let mut v = voter(3);
    v.open(1, 0);
    v.result(1, 1, b"a", 1);
    v.result(1, 2, b"b", 2);
    v.result(1, 3, b"c", 3);
    assert_eq!(drain(&mut v), vec![Event::Unavailable { round: 1 }]);
}

#[test]
fn four_replicas_survive_one_crash_and_one_liar_at_once() {
    let mut v = voter(4);
    v.open(1, 0);
    v.result(1, 4, BAD, 1); // liar first
    v.result(1, 1, GOOD, 2);
    assert_eq!(drain(&mut v), vec![]);
    v.result(1, 2, GOOD, 3); // replica 3 has crashed
    let events = drain(&mut v);
    assert_eq!(events[0], Event::Decided { round: 1, result: GOOD.to_vec() });
    assert_eq!(events[1], Event::Wrong { round: 1, replica: 4, consecutive: 1 });
    v.handle_timeout(1_000);
    assert_eq!(drain(&mut v), vec![Event::Suspected { round: 1, replica: 3 }]);
}

#[test]
fn duplicates_and_late_results_are_ignored() {
    let mut v = voter(3);
    v.open(1, 0);
    v.result(1, 1, GOOD, 1);
    v.result(1, 1, GOOD, 1);
    assert_eq!(drain(&mut v), vec![], "one replica's duplicate is not two votes");
    v.result(1, 2, GOOD, 2);
    v.result(1, 3, GOOD, 3);
    drain(&mut v);
    v.result(1, 3, BAD, 4); // round closed: ignored
    v.result(99, 1, GOOD, 4); // never opened: ignored
    assert_eq!(drain(&mut v), vec![]);
}

proptest::proptest! {
    /// With at most one liar among three, the decided answer is always the correct one.
    #[test]
    fn never_decides_a_minority(liar in 1u16..=3, order in proptest::strategy::Strategy::prop_shuffle(proptest::strategy::Just(vec![1u16, 2, 3])), lie in proptest::collection::vec(0u8..255, 1..8)) {
        proptest::prop_assume!(lie.as_slice() != GOOD);
        let mut v = voter(3);
        v.open(1, 0);
        for (t, replica) in order.iter().enumerate() {
            let bytes = if *replica == liar { lie.as_slice() } else { GOOD };
            v.result(1, *replica, bytes, t as u64);
        }
        let decided: Vec<Event> = drain(&mut v).into_iter().filter(|e| matches!(e, Event::Decided { .. })).collect();
        proptest::prop_assert_eq!(decided, vec![Event::Decided { round: 1, result: GOOD.to_vec() }]);
    }
}

#[test]
fn every_promised_deadline_has_work_to_do() {
    // A shell sleeps until poll_timeout and calls handle_timeout; a deadline with nothing to do would spin it.
    let mut v = voter(3);
    v.open(1, 0);
    v.result(1, 1, GOOD, 1);
    v.result(1, 2, BAD, 2); // undecided: waits for the third result or the request timeout
    let deadline = v.poll_timeout().expect("an open round has a deadline");
    assert_eq!(deadline, v.config().request_timeout_ms);
    v.handle_timeout(deadline);
    assert_eq!(drain(&mut v), vec![Event::Unavailable { round: 1 }, Event::Suspected { round: 1, replica: 3 }]);
    assert_eq!(v.poll_timeout(), None);
}
