//! `parse_response_code`, the load generator's lean read of an answer, against `parse_response`: every
//! answer the full reader accepts gives the same code (rendered answers of every operation, body and
//! code, and hand-written shapes other servers could send), faults give the same fault, and answers
//! that are not a response envelope for the operation asked are rejected.
//!
//! Not tested here: the full reader on its own (round_trip.rs, property_fuzz.rs).

use booking::{
    Body, Date, MovedBooking, Movie, MovieId, Operation, Request, Response, ResultCode, ScheduleEntry, Show,
    SlotLetter, TheatreCode,
};
use soap::{ClientError, Fault, FaultKind, SoapVersion, parse_response, parse_response_code};

const VERSIONS: [SoapVersion; 2] = [SoapVersion::V11, SoapVersion::V12];

fn request(operation: Operation) -> Request {
    Request { user_id: "ATWC0001".to_owned(), operation }
}

fn every_operation() -> Vec<Request> {
    let ticket = || ("ATWC0001".to_owned(), "ATWE281126".to_owned(), "Avatar".to_owned());
    let (customer_id, movie_id, movie_name) = ticket();
    vec![
        request(Operation::AddMovieSlots {
            movie_id: movie_id.clone(),
            movie_name: movie_name.clone(),
            booking_capacity: 10,
        }),
        request(Operation::RemoveMovieSlots { movie_id: movie_id.clone(), movie_name: movie_name.clone() }),
        request(Operation::ListMovieShowsAvailability { movie_name: movie_name.clone() }),
        request(Operation::BookMovieTickets {
            customer_id: customer_id.clone(),
            movie_id: movie_id.clone(),
            movie_name: movie_name.clone(),
            number_of_tickets: 2,
        }),
        request(Operation::GetBookingSchedule { customer_id: customer_id.clone() }),
        request(Operation::CancelMovieTickets {
            customer_id: customer_id.clone(),
            movie_id: movie_id.clone(),
            movie_name: movie_name.clone(),
            number_of_tickets: 1,
        }),
        request(Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id: "ATWA291126".to_owned(),
            new_movie_name: "Titanic".to_owned(),
            number_of_tickets: 1,
        }),
    ]
}

fn movie_id(theatre: TheatreCode, slot: SlotLetter, day: i8) -> MovieId {
    MovieId { theatre, slot, date: Date::new(2026, 11, day).expect("a valid test date") }
}

/// The successful body of `operation`, with a non-empty list where it has one.
fn full_body(operation: &Operation) -> Body {
    let first = movie_id(TheatreCode::Atw, SlotLetter::Morning, 28);
    let second = movie_id(TheatreCode::Ver, SlotLetter::Evening, 29);
    match operation {
        Operation::RemoveMovieSlots { .. } => Body::Removed(vec![
            MovedBooking { customer_id: "ATWC0001".into(), tickets: 3, new_movie_id: Some(second) },
            MovedBooking { customer_id: "VERC9999".into(), tickets: 1, new_movie_id: None },
        ]),
        Operation::ListMovieShowsAvailability { .. } => Body::Shows(
            (0..18)
                .map(|index| Show { movie_id: first, movie: Movie::Avatar, capacity: 100, available: index })
                .collect(),
        ),
        Operation::GetBookingSchedule { .. } => Body::Schedule(vec![
            ScheduleEntry { movie_id: first, movie: Movie::Avatar, tickets: 1 },
            ScheduleEntry { movie_id: second, movie: Movie::Titanic, tickets: 9999 },
        ]),
        _ => Body::Empty,
    }
}

/// The code both readers find, asserting that they agree.
fn agreed_code(envelope: &[u8], operation: &str) -> ResultCode {
    let full = parse_response(envelope)
        .unwrap_or_else(|error| panic!("the full reader accepts it: {error}\n{}", String::from_utf8_lossy(envelope)));
    let lean = parse_response_code(envelope, operation)
        .unwrap_or_else(|error| panic!("the lean reader accepts it: {error}\n{}", String::from_utf8_lossy(envelope)));
    assert_eq!(lean, full.response.code, "{}", String::from_utf8_lossy(envelope));
    lean
}

fn malformed(envelope: &[u8], operation: &str) -> String {
    match parse_response_code(envelope, operation) {
        Err(ClientError::Malformed(message)) => message,
        other => panic!("expected a malformed answer, got {other:?}\n{}", String::from_utf8_lossy(envelope)),
    }
}

#[test]
fn every_rendered_answer_gives_the_full_readers_code() {
    for version in VERSIONS {
        for request in every_operation() {
            let operation = request.operation.name();
            for code in ResultCode::ALL {
                let response =
                    if code.is_ok() { Response::ok(full_body(&request.operation)) } else { Response::rejected(code) };
                let envelope = soap::render_response(version, &request, &response);
                assert_eq!(agreed_code(&envelope, operation), code, "{operation} {version:?}");
            }
        }
    }
}

/// Answers in shapes `render_response` never writes but the full reader accepts: prefixes, unqualified
/// children, a Header, comments, CDATA, references, whitespace, a byte order mark, unknown elements and
/// lists before the result.
#[test]
fn hand_written_shapes_give_the_full_readers_code() {
    let shapes: [(&str, ResultCode); 8] = [
        (
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><c:bookMovieTicketsResponse xmlns:c="urn:cineflix:booking:v1"><c:result><c:success>true</c:success><c:code>OK</c:code><c:message>m</c:message></c:result></c:bookMovieTicketsResponse></s:Body></s:Envelope>"#,
            ResultCode::Ok,
        ),
        (
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><c:bookMovieTicketsResponse xmlns:c="urn:cineflix:booking:v1"><result><message>m</message><code>SOLD_OUT</code><success>0</success></result></c:bookMovieTicketsResponse></s:Body></s:Envelope>"#,
            ResultCode::SoldOut,
        ),
        (
            "\u{FEFF}<?xml version=\"1.0\"?>\n<!-- a comment -->\n<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\">\n  <e:Header><x:trace xmlns:x=\"urn:x\" e:mustUnderstand=\"true\">1</x:trace></e:Header>\n  <e:Body>\n    <bookMovieTicketsResponse xmlns=\"urn:cineflix:booking:v1\">\n      <result>\n        <success> true </success>\n        <code><![CDATA[ OK ]]></code>\n        <message>a &amp; b &#233;</message>\n      </result>\n    </bookMovieTicketsResponse>\n  </e:Body>\n</e:Envelope>\n",
            ResultCode::Ok,
        ),
        (
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><bookMovieTicketsResponse xmlns="urn:cineflix:booking:v1"><x:extra xmlns:x="urn:newer"><result>not ours</result></x:extra><result><success>false</success><code>NO_BOOKING</code><message/></result><x:after xmlns:x="urn:newer"/></bookMovieTicketsResponse></soap:Body></soap:Envelope>"#,
            ResultCode::NoBooking,
        ),
        (
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><bookMovieTicketsResponse xmlns="urn:cineflix:booking:v1"><result><success>1</success><x:hint xmlns:x="urn:newer">ignored</x:hint><code>OK</code><message>m</message></result></bookMovieTicketsResponse></soap:Body></soap:Envelope>"#,
            ResultCode::Ok,
        ),
        // A listing whose shows come before its result.
        (
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><listMovieShowsAvailabilityResponse xmlns="urn:cineflix:booking:v1"><show><movieID>OUTE281126</movieID><movieName>Titanic</movieName><theatre>OUT</theatre><date>2026-11-28</date><slot>EVENING</slot><capacity>50</capacity><available>7</available></show><result><success>true</success><code>OK</code><message>1 show</message></result></listMovieShowsAvailabilityResponse></soap:Body></soap:Envelope>"#,
            ResultCode::Ok,
        ),
        (
            r#"<a:Envelope xmlns:a="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="http://schemas.xmlsoap.org/soap/envelope/"><b:Body><bookMovieTicketsResponse xmlns="urn:cineflix:booking:v1"><result><success>false</success><code>PAST_SHOW</code><message>late</message></result></bookMovieTicketsResponse></b:Body></a:Envelope>"#,
            ResultCode::PastShow,
        ),
        (
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><bookMovieTicketsResponse xmlns="urn:cineflix:booking:v1"><result><success>false</success><code>SLOT_NOT_FOUND</code><message>none</message></result></bookMovieTicketsResponse></soap:Body><!-- trailing --></soap:Envelope>"#,
            ResultCode::SlotNotFound,
        ),
    ];
    for (shape, expected) in shapes {
        let operation =
            if shape.contains("listMovieShows") { "listMovieShowsAvailability" } else { "bookMovieTickets" };
        assert_eq!(agreed_code(shape.as_bytes(), operation), expected, "{shape}");
    }
}

#[test]
fn faults_are_read_as_the_full_reader_reads_them() {
    for version in VERSIONS {
        for kind in FaultKind::ALL {
            let envelope = Fault::new(version, kind, format!("why: <{}>", kind.code())).render();
            let full = parse_response(&envelope).expect_err("a fault is no answer");
            match (parse_response_code(&envelope, "bookMovieTickets"), full) {
                (
                    Err(ClientError::Fault { code, message }),
                    ClientError::Fault { code: full_code, message: full_message },
                ) => {
                    assert_eq!(
                        (code.as_str(), message.as_str()),
                        (kind.code(), format!("why: <{}>", kind.code()).as_str())
                    );
                    assert_eq!((code, message), (full_code, full_message));
                }
                (lean, full) => panic!("{kind:?} {version:?}: lean {lean:?}, full {full:?}"),
            }
        }
    }
    let foreign = concat!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>"#,
        "<faultcode>s:Server</faultcode><faultstring>proxy down</faultstring></s:Fault></s:Body></s:Envelope>"
    );
    match parse_response_code(foreign.as_bytes(), "bookMovieTickets") {
        Err(ClientError::Fault { code, message }) => {
            assert_eq!((code.as_str(), message.as_str()), ("s:Server", "proxy down"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_answer_to_another_operation_is_rejected() {
    for version in VERSIONS {
        for asked in every_operation() {
            for answered in every_operation() {
                let envelope = soap::render_response(version, &answered, &Response::ok(full_body(&answered.operation)));
                let lean = parse_response_code(&envelope, asked.operation.name());
                if asked.operation.name() == answered.operation.name() {
                    assert_eq!(lean.unwrap(), ResultCode::Ok);
                } else {
                    let message = match lean {
                        Err(ClientError::Malformed(message)) => message,
                        other => panic!("asked {}, got {other:?}", asked.operation.name()),
                    };
                    assert!(message.contains(&format!("{}Response", asked.operation.name())), "{message}");
                }
            }
        }
    }
}

/// A SOAP 1.1 answer to bookMovieTickets with `content` in its response element.
fn answer(content: &str) -> String {
    answer_to("bookMovieTickets", content)
}

fn answer_to(operation: &str, content: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{operation}Response xmlns="urn:cineflix:booking:v1">{content}</{operation}Response></soap:Body></soap:Envelope>"#
    )
}

const RESULT_OK: &str = "<result><success>true</success><code>OK</code><message>m</message></result>";

#[test]
fn malformed_answers_are_rejected_like_the_full_reader_rejects_them() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "no root element"),
        ("not xml at all".to_owned(), "text is not allowed before the root element"),
        ("<html><body>502 Bad Gateway</body></html>".to_owned(), "not a SOAP Envelope"),
        (r#"<Envelope xmlns="urn:not-soap"><Body/></Envelope>"#.to_owned(), "SOAP 1.1 or SOAP 1.2 Envelope"),
        (r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#.to_owned(), "Body is empty"),
        (r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"></s:Envelope>"#.to_owned(), "no Body"),
        (answer(""), "has no result"),
        (answer(r#"<x:result xmlns:x="urn:other"><success>true</success><code>OK</code><message>m</message></x:result>"#), "has no result"),
        (answer("<result><success>false</success><code>OK</code><message>m</message></result>"), "result/success is false"),
        (answer("<result><success>true</success><code>SOLD_OUT</code><message>m</message></result>"), "result/success is true"),
        (answer("<result><success>yes</success><code>OK</code><message>m</message></result>"), "not an xs:boolean"),
        (answer("<result><success>true</success><code>FINE</code><message>m</message></result>"), "not a known code"),
        (answer("<result><success>true</success><message>m</message></result>"), "result/code is missing"),
        (answer("<result><code>OK</code><message>m</message></result>"), "result/success is missing"),
        (answer("<result><success>true</success><code>OK</code></result>"), "result/message is missing"),
        (answer("<result><success>true</success><success>true</success><code>OK</code><message>m</message></result>"), "appears twice"),
        (answer("<result><success>true</success><code><b>OK</b></code><message>m</message></result>"), "text only"),
        // Cut short before the result ends.
        (cut_before(&answer(RESULT_OK), "<message>"), "ends before its elements are closed"),
        (cut_before(&answer(RESULT_OK), "</code>"), "ends before its elements are closed"),
        (r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><c:bookMovieTicketsResponse xmlns:c="urn:cineflix:booking:v1"><c:result><c:success>true</c:success><c:code>OK</c:code><c:message>m</c:message></c:result></c:bookMovieTicketsResponse></s:Body></s:Envelope>"#.replace("xmlns:c=", "xmlns:d="), "not declared"),
        (r#"<!DOCTYPE x [<!ENTITY e "OK">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#.to_owned(), "DOCTYPE"),
    ];
    for (envelope, expected) in cases {
        let message = malformed(envelope.as_bytes(), "bookMovieTickets");
        assert!(message.contains(expected), "{envelope}: {message:?} lacks {expected:?}");
        assert!(parse_response(envelope.as_bytes()).is_err(), "the full reader also rejects {envelope}");
    }
}

fn cut_before(text: &str, marker: &str) -> String {
    text[..text.find(marker).expect("the marker is in the text")].to_owned()
}

#[test]
fn invalid_utf8_before_the_result_is_rejected() {
    let mut envelope = answer(RESULT_OK).into_bytes();
    let at = envelope.windows(2).position(|pair| pair == b"OK").expect("the code is there");
    envelope[at] = 0xFF;
    assert!(malformed(&envelope, "bookMovieTickets").contains("XML error"));
    assert!(parse_response(&envelope).is_err());
}

/// The lean reader stops after the result: what follows it is not decoded. This pins that choice down,
/// so that a change to it is deliberate (the full reader rejects all three).
#[test]
fn what_follows_the_result_is_not_checked() {
    let listing = "listMovieShowsAvailability";
    let twice = answer_to(listing, &format!("{RESULT_OK}{RESULT_OK}"));
    let bad_show = answer_to(listing, &format!("{RESULT_OK}<show><movieID>nonsense</movieID></show>"));
    let unclosed = answer_to(listing, RESULT_OK).replace("</soap:Body></soap:Envelope>", "");
    for envelope in [twice, bad_show, unclosed] {
        assert_eq!(parse_response_code(envelope.as_bytes(), listing).unwrap(), ResultCode::Ok, "{envelope}");
        assert!(parse_response(envelope.as_bytes()).is_err(), "{envelope}");
    }
}
