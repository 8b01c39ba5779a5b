//! Differential tests: the public parsers (fast reader first) give exactly what the quick-xml-only
//! parsers give, on the real-client fixtures, on rendered responses of every shape, and on many
//! small mutations of them (which mostly leave the fast reader's subset or break the document).
//!
//! Test-only module; it checks equivalence, not correctness (the tests/ suites do that).

use booking::{Body, Date, MovedBooking, Movie, MovieId, Operation, Request, Response, ScheduleEntry, Show};
use booking::{ResultCode, SlotLetter, TheatreCode};

use crate::client::{parse_response, parse_response_xml};
use crate::parse::{parse_request, parse_request_xml};
use crate::{Fault, FaultKind, SoapVersion, build_request, render_response_with_message};

/// Snippets inserted at every position: markup the subset excludes, and harmless text.
const INSERTS: [&str; 12] =
    ["<", ">", "&", "&lt;", "\r", "\u{1}", "<!--c-->", " xmlns:q=\"u\"", " a=\"b\"", ":", "x", "\u{FFFE}"];

fn check_request(body: &[u8]) {
    assert_eq!(parse_request(body), parse_request_xml(body), "{:?}", String::from_utf8_lossy(body));
}

fn check_response(body: &[u8]) {
    assert_eq!(
        format!("{:?}", parse_response(body)),
        format!("{:?}", parse_response_xml(body)),
        "{:?}",
        String::from_utf8_lossy(body)
    );
}

/// `body`, then every single-byte deletion and every insertion of [`INSERTS`] at every
/// `step`-th char boundary.
fn mutations(body: &str, step: usize) -> Vec<Vec<u8>> {
    let mut out = vec![body.as_bytes().to_vec()];
    let boundaries: Vec<usize> = (0..=body.len()).filter(|&i| body.is_char_boundary(i)).step_by(step).collect();
    for &at in &boundaries {
        if let Some(ch) = body[at..].chars().next() {
            out.push(format!("{}{}", &body[..at], &body[at + ch.len_utf8()..]).into_bytes());
        }
        for insert in INSERTS {
            out.push(format!("{}{insert}{}", &body[..at], &body[at..]).into_bytes());
        }
    }
    out
}

fn fixtures() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("the fixtures directory")
        .map(|entry| entry.expect("a fixture").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "fixtures found: {names:?}");
    names.into_iter().map(|path| std::fs::read_to_string(path).expect("a UTF-8 fixture")).collect()
}

fn show(index: usize) -> Show {
    Show {
        movie_id: MovieId {
            theatre: TheatreCode::ALL[index % 3],
            slot: SlotLetter::ALL[index / 3 % 3],
            date: Date::new(2026, 12, 30 + (index / 9) as i8).expect("a valid date"),
        },
        movie: Movie::Titanic,
        capacity: 10,
        available: index as u32,
    }
}

fn responses() -> Vec<String> {
    let request = |operation| Request { user_id: "ATWA0001".to_owned(), operation };
    let listing = request(Operation::ListMovieShowsAvailability { movie_name: "Titanic".to_owned() });
    let schedule = request(Operation::GetBookingSchedule { customer_id: "ATWC0001".to_owned() });
    let removal = request(Operation::RemoveMovieSlots { movie_id: "ATWM301226".into(), movie_name: "Titanic".into() });
    let moved = vec![
        MovedBooking { customer_id: "ATWC0002".into(), tickets: 2, new_movie_id: Some(show(1).movie_id) },
        MovedBooking { customer_id: "ATWC0003".into(), tickets: 1, new_movie_id: None },
    ];
    let entries = (0..2).map(|i| ScheduleEntry { movie_id: show(i).movie_id, movie: Movie::Titanic, tickets: 1 });
    let mut out = Vec::new();
    for version in [SoapVersion::V11, SoapVersion::V12] {
        let mut add = |request: &Request, response: Response, message: &str| {
            let envelope = render_response_with_message(version, request, &response, message);
            out.push(String::from_utf8(envelope).expect("rendered UTF-8"));
        };
        add(&listing, Response::ok(Body::Shows((0..2).map(show).collect())), "2 shows <&> \"'");
        add(&schedule, Response::ok(Body::Schedule(entries.clone().collect())), "tab\tline\ncr\r");
        add(&removal, Response::ok(Body::Removed(moved.clone())), "moved");
        add(&listing, Response::rejected(ResultCode::SoldOut), "sold out ✓");
        out.push(String::from_utf8(Fault::new(version, FaultKind::ServiceUnavailable, "busy").render()).unwrap());
    }
    out
}

#[test]
fn requests_parse_the_same_both_ways() {
    let mut bodies = fixtures();
    let built = Request {
        user_id: "VERC0001".to_owned(),
        operation: Operation::ExchangeTickets {
            customer_id: "VERC0001".into(),
            movie_id: "VERE301226".into(),
            movie_name: "A <b> & 'c'".into(),
            new_movie_id: "VERM311226".into(),
            new_movie_name: "Avatar".into(),
            number_of_tickets: -3,
        },
    };
    for version in [SoapVersion::V11, SoapVersion::V12] {
        bodies.push(String::from_utf8(build_request(version, &built)).expect("built UTF-8"));
    }
    let mut fast_ok = 0;
    for body in &bodies {
        for mutated in mutations(body, 3) {
            check_request(&mutated);
            fast_ok += usize::from(parse_request(&mutated).is_ok());
        }
        check_request(&[b"\xEF\xBB\xBF", body.as_bytes()].concat());
    }
    assert!(fast_ok > 1000, "mutations that still parse: {fast_ok}");
}

#[test]
fn responses_parse_the_same_both_ways() {
    for body in responses() {
        for mutated in mutations(&body, 2) {
            check_response(&mutated);
        }
    }
}

#[test]
fn the_fast_reader_takes_what_this_crate_and_zeep_write() {
    // Not an equivalence check: this is what keeps the fast path in use at all. (Faults with
    // `xml:lang` and messages with CR, written `&#13;`, are left to quick-xml.)
    let plain = responses().into_iter().filter(|body| !body.contains("Fault") && !body.contains("&#13;"));
    for body in plain {
        let mut cursor = crate::cursor::Cursor::new_fast(body.as_bytes()).expect("UTF-8");
        loop {
            match cursor.next() {
                Ok(crate::cursor::Item::Eof) => break,
                Ok(_) => {}
                Err(fault) => panic!("the fast reader fails ({fault}) on {body}"),
            }
        }
    }
    let zeep = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/zeep-soap11.xml")).unwrap();
    let mut cursor = crate::cursor::Cursor::new_fast(&zeep).expect("UTF-8");
    assert!(crate::parse::parse_envelope(&mut cursor).is_ok());
}
