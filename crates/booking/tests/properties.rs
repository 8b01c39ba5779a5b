//! Property tests: random sequences of valid and invalid operations.
//!
//! After every step: theatre and cross-theatre invariants hold (no overselling,
//! `capacity = available + booked`, no zero-ticket booking, at most 3 outside slots per
//! customer and week, one theatre per show), a rejection or a read changed nothing, and
//! request and response codecs round-trip. Across runs: the same sequence gives the same
//! encoded responses and digests, also after a snapshot/restore in the middle.
//!
//! `PROPTEST_CASES` sets the number of sequences (default 64) for longer soaks.

mod support;

use booking::{Body, Operation, PeerRequest, PeerResponse, Replica, Request, Response};
use proptest::prelude::*;
use support::{mid, noon_ms};

const USERS: &[&str] = &[
    "ATWC0001", "ATWC0002", "OUTC0001", "OUTC0002", "VERC0001", "atwc0001", "ATWA0001", "OUTA0001", "VERA0001",
    "XYZC0001", "ATWC01",
];
const CUSTOMERS: &[&str] = &[
    "ATWC0001", "ATWC0002", "OUTC0001", "OUTC0002", "VERC0001", "verc0001", "ATWC0001", "OUTC0001", "VERC0001",
    "ATWC0002", "OUTC0002", "ATWC0001", "OUTC0001", "VERC0001", "ATWC0002", "OUTC0002", "ATWA0001", "bad",
];
const MOVIES: &[&str] = &["Avatar", "Titanic", "avengers", "Nope"];
const PREFIXES: &[&str] = &["ATWM", "ATWE", "OUTM", "OUTE", "VERM", "VERE", "atwm"];
const QUANTITIES: &[i32] = &[1, 1, 1, 2, 2, 3, 5, 1, 2, 1, 2, 1, 0, -1, 10_001];

fn movie_id() -> impl Strategy<Value = String> {
    prop_oneof![
        // A small pool of shows over two days, so that operations meet each other.
        40 => (0..PREFIXES.len(), 0i32..2).prop_map(|(prefix, offset)| mid(PREFIXES[prefix], offset)),
        3 => (0..PREFIXES.len(), -1i32..9).prop_map(|(prefix, offset)| mid(PREFIXES[prefix], offset)),
        1 => Just("ATWM300226".to_owned()),
        1 => Just("nonsense".to_owned()),
    ]
}

/// Mostly the two movies of the pool; sometimes any spelling or an unknown one.
fn movie() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => Just("Avatar".to_owned()),
        4 => Just("Titanic".to_owned()),
        2 => pick(MOVIES),
    ]
}

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    (0..pool.len()).prop_map(move |index| pool[index].to_owned())
}

fn quantity() -> impl Strategy<Value = i32> {
    (0..QUANTITIES.len()).prop_map(|index| QUANTITIES[index])
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        7 => (movie_id(), movie(), 1i32..8).prop_map(|(movie_id, movie_name, booking_capacity)| {
            Operation::AddMovieSlots { movie_id, movie_name, booking_capacity }
        }),
        1 => (movie_id(), movie()).prop_map(|(movie_id, movie_name)| Operation::RemoveMovieSlots { movie_id, movie_name }),
        1 => movie().prop_map(|movie_name| Operation::ListMovieShowsAvailability { movie_name }),
        12 => (pick(CUSTOMERS), movie_id(), movie(), quantity()).prop_map(
            |(customer_id, movie_id, movie_name, number_of_tickets)| Operation::BookMovieTickets {
                customer_id, movie_id, movie_name, number_of_tickets,
            }
        ),
        1 => pick(CUSTOMERS).prop_map(|customer_id| Operation::GetBookingSchedule { customer_id }),
        3 => (pick(CUSTOMERS), movie_id(), movie(), quantity()).prop_map(
            |(customer_id, movie_id, movie_name, number_of_tickets)| Operation::CancelMovieTickets {
                customer_id, movie_id, movie_name, number_of_tickets,
            }
        ),
        3 => (pick(CUSTOMERS), movie_id(), movie(), movie_id(), movie(), quantity()).prop_map(
            |(customer_id, movie_id, movie_name, new_movie_id, new_movie_name, number_of_tickets)| {
                Operation::ExchangeTickets {
                    customer_id, movie_id, movie_name, new_movie_id, new_movie_name, number_of_tickets,
                }
            }
        ),
    ]
}

/// One random step: a request as generated, or one that refers to a booking held at
/// that moment (resolved against the replica's state, which is the same in every run).
#[derive(Clone, Debug)]
enum Step {
    Raw(Request),
    /// Cancel tickets of the `pick`-th booking held anywhere (`tickets` 0: all of them).
    CancelHeld {
        pick: usize,
        tickets: i32,
    },
    /// Exchange tickets of the `pick`-th booking held anywhere to another show.
    ExchangeHeld {
        pick: usize,
        tickets: i32,
        new_movie_id: String,
        new_movie_name: String,
    },
}

/// A step, and how many minutes the sequencer's clock moves before it.
fn step() -> impl Strategy<Value = (Step, i64)> {
    let step = prop_oneof![
        8 => (pick(USERS), operation()).prop_map(|(user_id, operation)| Step::Raw(Request { user_id, operation })),
        1 => (any::<usize>(), 0i32..4).prop_map(|(pick, tickets)| Step::CancelHeld { pick, tickets }),
        2 => (any::<usize>(), 0i32..4, movie_id(), movie()).prop_map(|(pick, tickets, new_movie_id, new_movie_name)| {
            Step::ExchangeHeld { pick, tickets, new_movie_id, new_movie_name }
        }),
    ];
    (step, 0i64..10)
}

/// Turns a step into a request given the replica's current bookings.
fn resolve(step: &Step, replica: &Replica, index: usize) -> Request {
    let (pick, tickets) = match step {
        Step::Raw(request) => return plausible(request.clone(), index),
        Step::CancelHeld { pick, tickets } | Step::ExchangeHeld { pick, tickets, .. } => (*pick, *tickets),
    };
    let held: Vec<_> =
        booking::TheatreCode::ALL.into_iter().flat_map(|code| replica.theatre(code).bookings()).collect();
    let Some(booking) = held.get(pick % held.len().max(1)) else {
        return Request {
            user_id: "ATWC0001".into(),
            operation: Operation::GetBookingSchedule { customer_id: "ATWC0001".into() },
        };
    };
    let customer_id = booking.customer.to_string();
    let number_of_tickets = if tickets == 0 { booking.tickets as i32 } else { tickets };
    let movie_id = booking.slot.movie_id.to_string();
    let movie_name = booking.slot.movie.to_string();
    let operation = match step {
        Step::ExchangeHeld { new_movie_id, new_movie_name, .. } => Operation::ExchangeTickets {
            customer_id: customer_id.clone(),
            movie_id,
            movie_name,
            new_movie_id: new_movie_id.clone(),
            new_movie_name: new_movie_name.clone(),
            number_of_tickets,
        },
        _ => {
            Operation::CancelMovieTickets { customer_id: customer_id.clone(), movie_id, movie_name, number_of_tickets }
        }
    };
    Request { user_id: customer_id, operation }
}

/// Requests of a customer tend to come from that customer: rewrite the caller so that
/// most customer operations are authorised.
fn plausible(mut request: Request, index: usize) -> Request {
    let customer = match &request.operation {
        Operation::BookMovieTickets { customer_id, .. }
        | Operation::CancelMovieTickets { customer_id, .. }
        | Operation::ExchangeTickets { customer_id, .. }
        | Operation::GetBookingSchedule { customer_id } => Some(customer_id.clone()),
        _ => None,
    };
    if let Some(customer) = customer.filter(|_| !index.is_multiple_of(4)) {
        request.user_id = customer;
    }
    if let Operation::AddMovieSlots { movie_id, .. } | Operation::RemoveMovieSlots { movie_id, .. } = &request.operation
        && !index.is_multiple_of(3)
    {
        request.user_id = format!("{}A0001", movie_id.get(..3).unwrap_or("ATW"));
    }
    request
}

/// Slots of the pool that exist before the random steps, so that bookings meet slots.
fn setup() -> Vec<(Step, i64)> {
    let mut steps = Vec::new();
    for prefix in &PREFIXES[..6] {
        for offset in 0..2 {
            for movie in ["Avatar", "Titanic"] {
                let operation = Operation::AddMovieSlots {
                    movie_id: mid(prefix, offset),
                    movie_name: movie.into(),
                    booking_capacity: 6,
                };
                steps.push((Step::Raw(Request { user_id: format!("{}A0001", &prefix[..3]), operation }), 0));
            }
        }
    }
    steps
}

/// Runs the sequence (after `setup`), checking per-step properties; returns the
/// requests as executed, their encoded responses and the final digest. With
/// `restore_at`, the replica is snapshotted and replaced by its restored copy before
/// that random step.
fn run(random_steps: &[(Step, i64)], restore_at: Option<usize>) -> (Vec<Request>, Vec<Vec<u8>>, [u8; 32]) {
    let mut steps = setup();
    let setup_len = steps.len();
    steps.extend_from_slice(random_steps);
    let restore_at = restore_at.map(|index| index + setup_len);
    let mut replica = Replica::new();
    // 18:00, so that long sequences cross midnight and today's shows become past.
    let mut now_ms = noon_ms(0) + 6 * 3_600_000;
    let mut encoded = Vec::with_capacity(steps.len());
    let mut executed = Vec::with_capacity(steps.len());
    for (index, (step, minutes)) in steps.iter().enumerate() {
        if restore_at == Some(index) {
            let snapshot = replica.snapshot();
            let restored = Replica::restore(&snapshot).expect("a snapshot restores");
            assert_eq!(restored.snapshot(), snapshot);
            assert_eq!(restored.digest(), replica.digest());
            replica = restored;
        }
        now_ms += minutes * 60_000;
        let request = if index < setup_len {
            let Step::Raw(request) = step else { unreachable!("setup steps are raw") };
            request.clone()
        } else {
            resolve(step, &replica, index)
        };
        assert_eq!(Request::decode(&request.encode()).as_ref(), Ok(&request));
        let before = replica.digest();
        let response = replica.execute(&request, now_ms);
        replica.check_invariants().unwrap_or_else(|broken| panic!("after {request:?}: {broken}"));
        if !response.success() || !request.operation.is_update() {
            assert_eq!(replica.digest(), before, "{request:?} answered {:?} but changed state", response.code);
        }
        if !response.success() {
            assert_eq!(response.body, Body::Empty);
        }
        if let Body::Shows(shows) = &response.body {
            assert!(shows.iter().all(|show| show.available <= show.capacity));
            assert!(shows.windows(2).all(|pair| pair[0].movie_id < pair[1].movie_id), "listing order");
        }
        if let Body::Schedule(entries) = &response.body {
            assert!(entries.iter().all(|entry| entry.tickets > 0));
            assert!(
                entries.windows(2).all(|pair| (pair[0].movie_id, pair[0].movie) < (pair[1].movie_id, pair[1].movie))
            );
        }
        for theatre in booking::TheatreCode::ALL {
            for view in replica.theatre(theatre).slots() {
                assert_eq!(view.capacity, view.available + view.booked, "{}", view.slot);
            }
        }
        let bytes = response.encode();
        assert_eq!(Response::decode(&bytes).as_ref(), Ok(&response));
        assert!(!response.message(&request).is_empty());
        encoded.push(bytes);
        executed.push(request);
    }
    (executed, encoded, replica.digest())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|text| text.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_sequences_keep_invariants_and_are_deterministic(
        steps in prop::collection::vec(step(), 1..120),
        restore_fraction in 0.0f64..1.0,
    ) {
        let (_, first_responses, first_digest) = run(&steps, None);
        let restore_at = ((steps.len() as f64) * restore_fraction) as usize;
        let (_, second_responses, second_digest) = run(&steps, Some(restore_at));
        prop_assert_eq!(first_responses, second_responses);
        prop_assert_eq!(first_digest, second_digest);
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
        let _ = PeerRequest::decode(&bytes);
        let _ = PeerResponse::decode(&bytes);
        let _ = booking::Theatre::restore(&bytes);
        let _ = Replica::restore(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_valid_prefixes(
        version_and_tag in (Just(1u8), 0u8..9),
        rest in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let mut bytes = vec![version_and_tag.0, version_and_tag.1];
        bytes.extend(rest);
        if let Ok(request) = PeerRequest::decode(&bytes) {
            prop_assert_eq!(request.encode(), bytes.clone());
        }
        if let Ok(response) = PeerResponse::decode(&bytes) {
            prop_assert_eq!(response.encode(), bytes.clone());
        }
        if let Ok(response) = Response::decode(&bytes) {
            prop_assert_eq!(response.encode(), bytes);
        }
    }
}

/// The generator is not vacuous: over a fixed set of sequences it reaches every result
/// code, including successful removals that move bookings.
#[test]
fn generated_sequences_reach_every_code() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    let mut moved = 0;
    let mut successes = 0;
    let mut total = 0;
    let mut histogram = std::collections::BTreeMap::new();
    for _ in 0..64 {
        let steps = prop::collection::vec(step(), 150).new_tree(&mut runner).unwrap().current();
        let (requests, responses, _) = run(&steps, None);
        for (index, bytes) in responses.into_iter().enumerate() {
            let response = Response::decode(&bytes).unwrap();
            let name = requests[index].operation.name();
            *histogram.entry((name, response.code)).or_insert(0) += 1;
            seen.insert(response.code);
            total += 1;
            successes += usize::from(response.success());
            if let Body::Removed(list) = &response.body {
                moved += list.iter().filter(|booking| booking.new_movie_id.is_some()).count();
            }
        }
    }
    let missing: Vec<_> = booking::ResultCode::ALL.into_iter().filter(|code| !seen.contains(code)).collect();
    assert!(missing.is_empty(), "never produced {missing:?}: {histogram:#?}");
    assert!(moved > 0, "no removal ever moved a booking: {histogram:#?}");
    assert!(successes * 4 > total, "only {successes} of {total} requests succeeded: {histogram:#?}");
    let exchanged = histogram.get(&("exchangeTickets", booking::ResultCode::Ok)).copied().unwrap_or(0);
    assert!(exchanged * 50 > total, "only {exchanged} exchanges succeeded: {histogram:#?}");
}
