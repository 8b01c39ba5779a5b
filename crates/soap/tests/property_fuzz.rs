//! Property-based fuzzing of both parsers with proptest: random bytes, and structured mutations of
//! valid envelopes (truncation, byte flips, inserted markup, deleted and duplicated ranges).
//!
//! This is not coverage-guided fuzzing (cargo-fuzz needs a nightly toolchain this project does not
//! use); it checks properties over many generated inputs:
//! - the parsers never panic;
//! - whatever `parse_request` accepts survives `build_request` → `parse_request` unchanged;
//! - every fault has a bounded message and renders to an envelope the client side reads back as that
//!   fault;
//! - well-formed requests and responses built from arbitrary values round-trip.
//!
//! `PROPTEST_CASES` sets the number of cases per property (default 256) for long soaks, e.g.
//! `PROPTEST_CASES=100000 cargo test -p soap --release --test property_fuzz`.

use booking::{
    Body, Date, MovedBooking, Movie, MovieId, Operation, Request, Response, ResultCode, ScheduleEntry, Show,
    SlotLetter, TheatreCode,
};
use proptest::prelude::*;
use soap::{
    ClientError, Fault, SoapVersion, build_request, parse_request, parse_response, render_response_with_message,
};

/// Longest fault message, in characters, any input may cause.
const FAULT_MESSAGE_CHARS_MAX: usize = 600;

fn config() -> ProptestConfig {
    // ProptestConfig::default() reads PROPTEST_CASES; keep its other defaults.
    ProptestConfig { failure_persistence: None, ..ProptestConfig::default() }
}

fn version() -> impl Strategy<Value = SoapVersion> {
    prop_oneof![Just(SoapVersion::V11), Just(SoapVersion::V12)]
}

/// Any text a client might type, control characters and non-ASCII included.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{0,12}",
        ".{0,12}",
        proptest::collection::vec(any::<char>(), 0..8).prop_map(|chars| chars.into_iter().collect()),
        Just("<&>\"']]>\r\n\t".to_owned()),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    let text = any_text;
    prop_oneof![
        (text(), text(), any::<i32>()).prop_map(|(movie_id, movie_name, booking_capacity)| Operation::AddMovieSlots {
            movie_id,
            movie_name,
            booking_capacity
        }),
        (text(), text()).prop_map(|(movie_id, movie_name)| Operation::RemoveMovieSlots { movie_id, movie_name }),
        text().prop_map(|movie_name| Operation::ListMovieShowsAvailability { movie_name }),
        (text(), text(), text(), any::<i32>()).prop_map(|(customer_id, movie_id, movie_name, number_of_tickets)| {
            Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
        }),
        text().prop_map(|customer_id| Operation::GetBookingSchedule { customer_id }),
        (text(), text(), text(), any::<i32>()).prop_map(|(customer_id, movie_id, movie_name, number_of_tickets)| {
            Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
        }),
        (text(), text(), text(), text(), text(), any::<i32>()).prop_map(
            |(customer_id, movie_id, movie_name, new_movie_id, new_movie_name, number_of_tickets)| {
                Operation::ExchangeTickets {
                    customer_id,
                    movie_id,
                    movie_name,
                    new_movie_id,
                    new_movie_name,
                    number_of_tickets,
                }
            }
        ),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (any_text(), operation()).prop_map(|(user_id, operation)| Request { user_id, operation })
}

/// What a request's strings become on the wire: characters XML 1.0 forbids are replaced by U+FFFD.
fn as_sent(text: &str) -> String {
    text.chars()
        .map(|ch| match ch {
            '\t' | '\n' | '\r' => ch,
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            _ => ch,
        })
        .collect()
}

fn request_as_sent(request: &Request) -> Request {
    let s = |text: &String| as_sent(text);
    let operation = match &request.operation {
        Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => Operation::AddMovieSlots {
            movie_id: s(movie_id),
            movie_name: s(movie_name),
            booking_capacity: *booking_capacity,
        },
        Operation::RemoveMovieSlots { movie_id, movie_name } => {
            Operation::RemoveMovieSlots { movie_id: s(movie_id), movie_name: s(movie_name) }
        }
        Operation::ListMovieShowsAvailability { movie_name } => {
            Operation::ListMovieShowsAvailability { movie_name: s(movie_name) }
        }
        Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            Operation::BookMovieTickets {
                customer_id: s(customer_id),
                movie_id: s(movie_id),
                movie_name: s(movie_name),
                number_of_tickets: *number_of_tickets,
            }
        }
        Operation::GetBookingSchedule { customer_id } => Operation::GetBookingSchedule { customer_id: s(customer_id) },
        Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            Operation::CancelMovieTickets {
                customer_id: s(customer_id),
                movie_id: s(movie_id),
                movie_name: s(movie_name),
                number_of_tickets: *number_of_tickets,
            }
        }
        Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id,
            new_movie_name,
            number_of_tickets,
        } => Operation::ExchangeTickets {
            customer_id: s(customer_id),
            movie_id: s(movie_id),
            movie_name: s(movie_name),
            new_movie_id: s(new_movie_id),
            new_movie_name: s(new_movie_name),
            number_of_tickets: *number_of_tickets,
        },
    };
    Request { user_id: s(&request.user_id), operation }
}

fn movie_id() -> impl Strategy<Value = MovieId> {
    (0usize..3, 0usize..3, 2000i16..=2099, 1i8..=12, 1i8..=28).prop_map(|(theatre, slot, year, month, day)| MovieId {
        theatre: TheatreCode::ALL[theatre],
        slot: SlotLetter::ALL[slot],
        date: Date::new(year, month, day).expect("day 1..=28 exists in every month"),
    })
}

fn movie() -> impl Strategy<Value = Movie> {
    prop_oneof![Just(Movie::Avatar), Just(Movie::Avengers), Just(Movie::Titanic)]
}

/// A request and a successful response that belongs to its operation.
fn answered() -> impl Strategy<Value = (Request, Response)> {
    let count = || 0u32..=i32::MAX as u32;
    let moved =
        (any_text(), count(), proptest::option::of(movie_id())).prop_map(|(customer_id, tickets, new_movie_id)| {
            MovedBooking { customer_id: as_sent(&customer_id), tickets, new_movie_id }
        });
    let show = (movie_id(), movie(), count(), count()).prop_map(|(movie_id, movie, capacity, available)| Show {
        movie_id,
        movie,
        capacity,
        available,
    });
    let entry = (movie_id(), movie(), count()).prop_map(|(movie_id, movie, tickets)| ScheduleEntry {
        movie_id,
        movie,
        tickets,
    });
    let lists = (
        proptest::collection::vec(moved, 0..5),
        proptest::collection::vec(show, 0..5),
        proptest::collection::vec(entry, 0..5),
    );
    (request(), lists).prop_map(|(request, (moved, shows, schedule))| {
        let body = match request.operation {
            Operation::RemoveMovieSlots { .. } => Body::Removed(moved),
            Operation::ListMovieShowsAvailability { .. } => Body::Shows(shows),
            Operation::GetBookingSchedule { .. } => Body::Schedule(schedule),
            _ => Body::Empty,
        };
        (request, Response::ok(body))
    })
}

/// Checks the properties every parse_request outcome must have.
fn check_request_outcome(input: &[u8]) -> Result<(), TestCaseError> {
    match parse_request(input) {
        Ok(parsed) => {
            let again = parse_request(&build_request(parsed.version, &parsed.request));
            prop_assert_eq!(again.as_ref().map(|again| &again.request), Ok(&parsed.request));
        }
        Err(fault) => check_fault(&fault)?,
    }
    Ok(())
}

fn check_fault(fault: &Fault) -> Result<(), TestCaseError> {
    prop_assert!(!fault.message.is_empty());
    prop_assert!(
        fault.message.chars().count() <= FAULT_MESSAGE_CHARS_MAX,
        "fault message of {} chars",
        fault.message.chars().count()
    );
    match parse_response(&fault.render()) {
        Err(ClientError::Fault { code, .. }) => prop_assert_eq!(code, fault.kind.code()),
        other => prop_assert!(false, "a rendered fault read back as {:?}", other),
    }
    Ok(())
}

/// Mutations of a valid envelope.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    Flip { at: usize, byte: u8 },
    Insert { at: usize, text: String },
    Delete { at: usize, length: usize },
    Duplicate { at: usize, length: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = prop_oneof![
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just("</a>".to_owned()),
        Just("<a>".to_owned()),
        Just("<x:a/>".to_owned()),
        Just("&".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#0;".to_owned()),
        Just("<!DOCTYPE d>".to_owned()),
        Just("<![CDATA[x]]>".to_owned()),
        Just("<!-- c -->".to_owned()),
        Just("<?pi?>".to_owned()),
        Just(r#" xmlns="urn:cineflix:booking:v1""#.to_owned()),
        Just(r#" xmlns:soap="urn:other""#.to_owned()),
        Just("<userID>x</userID>".to_owned()),
        Just("<numberOfTickets>99999999999</numberOfTickets>".to_owned()),
        Just("\u{0}".to_owned()),
        Just("\u{FEFF}".to_owned()),
        ".{0,6}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (any::<usize>(), snippet).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 1usize..40).prop_map(|(at, length)| Mutation::Delete { at, length }),
        (any::<usize>(), 1usize..40).prop_map(|(at, length)| Mutation::Duplicate { at, length }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let len = bytes.len();
    let at = |position: usize| if len == 0 { 0 } else { position % (len + 1) };
    match mutation {
        Mutation::Truncate(position) => bytes.truncate(at(*position)),
        Mutation::Flip { at: position, byte } => {
            if len > 0 {
                bytes[position % len] = *byte;
            }
        }
        Mutation::Insert { at: position, text } => {
            let position = at(*position);
            bytes.splice(position..position, text.bytes());
        }
        Mutation::Delete { at: position, length } => {
            let start = at(*position);
            bytes.drain(start..(start + length).min(len));
        }
        Mutation::Duplicate { at: position, length } => {
            let start = at(*position);
            let copy = bytes[start..(start + length).min(len)].to_vec();
            bytes.splice(start..start, copy);
        }
    }
    bytes
}

const FIXTURES: [&str; 9] = [
    include_str!("fixtures/zeep-soap11.xml"),
    include_str!("fixtures/zeep-soap12.xml"),
    include_str!("fixtures/suds.xml"),
    include_str!("fixtures/node-soap.xml"),
    include_str!("fixtures/jaxws.xml"),
    include_str!("fixtures/mono-asmx.xml"),
    include_str!("fixtures/soapui-style.xml"),
    include_str!("fixtures/node-soap-wssecurity.xml"),
    include_str!("fixtures/zeep-wssecurity-digest.xml"),
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_request_outcome(&input)?;
        let _ = parse_response(&input);
    }

    #[test]
    fn random_xmlish_text_never_panics(input in "(<[/?!]?[a-zA-Z:]{0,8}( [a-z:]{1,6}=\"[^\"]{0,8}\")?/?>|[a-z&;#0-9 ]{0,6}){0,30}") {
        check_request_outcome(input.as_bytes())?;
        let _ = parse_response(input.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        fixture in 0..FIXTURES.len(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let input = mutations.iter().fold(FIXTURES[fixture].as_bytes().to_vec(), apply);
        check_request_outcome(&input)?;
    }

    #[test]
    fn mutated_built_requests_never_panic(
        version in version(),
        request in request(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let input = mutations.iter().fold(build_request(version, &request), apply);
        check_request_outcome(&input)?;
    }

    #[test]
    fn mutated_responses_never_panic(
        version in version(),
        (request, response) in answered(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let input = mutations.iter().fold(render_response_with_message(version, &request, &response, "m"), apply);
        let _ = parse_response(&input);
    }

    #[test]
    fn any_request_round_trips(version in version(), request in request()) {
        let parsed = parse_request(&build_request(version, &request));
        prop_assert_eq!(parsed.map(|parsed| (parsed.version, parsed.request)), Ok((version, request_as_sent(&request))));
    }

    #[test]
    fn any_response_round_trips(version in version(), (request, response) in answered(), message in any_text()) {
        let parsed = parse_response(&render_response_with_message(version, &request, &response, &message))
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(parsed.response, response);
        prop_assert_eq!(parsed.message, as_sent(&message));
    }

    #[test]
    fn any_rejection_round_trips(version in version(), request in request(), code in 1usize..ResultCode::ALL.len()) {
        let response = Response::rejected(ResultCode::ALL[code]);
        let parsed = parse_response(&render_response_with_message(version, &request, &response, "no"))
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(parsed.response, response);
    }
}
