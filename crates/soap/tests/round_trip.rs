//! Round trips through both sides of the crate: build_request → parse_request for every operation,
//! render_response → parse_response for every body and result code, Fault::render → parse_response,
//! each in SOAP 1.1 and 1.2. Also what a rendered message looks like on the wire (prefixes, namespaces,
//! escaping), which is what real clients depend on.

use booking::{
    Body, Date, MovedBooking, Movie, MovieId, Operation, Request, Response, ResultCode, ScheduleEntry, Show,
    SlotLetter, TheatreCode,
};
use soap::{
    ClientError, Fault, FaultKind, SoapVersion, build_request, parse_request, parse_response, render_response,
    render_response_with_message,
};

const VERSIONS: [SoapVersion; 2] = [SoapVersion::V11, SoapVersion::V12];

fn every_operation() -> Vec<Request> {
    let request = |user_id: &str, operation| Request { user_id: user_id.to_owned(), operation };
    vec![
        request(
            "ATWA1234",
            Operation::AddMovieSlots {
                movie_id: "ATWM281126".into(),
                movie_name: "Avatar".into(),
                booking_capacity: 10,
            },
        ),
        request("atwa1234", Operation::RemoveMovieSlots { movie_id: "atwm281126".into(), movie_name: "AVATAR".into() }),
        request("VERC0042", Operation::ListMovieShowsAvailability { movie_name: "Titanic".into() }),
        request(
            "OUTC0001",
            Operation::BookMovieTickets {
                customer_id: "OUTC0001".into(),
                movie_id: "OUTE281126".into(),
                movie_name: "Avengers".into(),
                number_of_tickets: i32::MAX,
            },
        ),
        request("OUTA0001", Operation::GetBookingSchedule { customer_id: "OUTC0001".into() }),
        request(
            "OUTC0001",
            Operation::CancelMovieTickets {
                customer_id: "OUTC0001".into(),
                movie_id: "OUTE281126".into(),
                movie_name: "Avengers".into(),
                number_of_tickets: i32::MIN,
            },
        ),
        request(
            "<&>\"' é\r\n\t",
            Operation::ExchangeTickets {
                customer_id: "]]> &amp; <![CDATA[".into(),
                movie_id: "".into(),
                movie_name: "  spaced  ".into(),
                new_movie_id: "VERA011226".into(),
                new_movie_name: "Titanic".into(),
                number_of_tickets: -0,
            },
        ),
    ]
}

#[test]
fn build_request_then_parse_request_is_identity() {
    for version in VERSIONS {
        for request in every_operation() {
            let envelope = build_request(version, &request);
            let parsed = parse_request(&envelope).unwrap_or_else(|fault| {
                panic!("{fault}\n{}", String::from_utf8_lossy(&envelope));
            });
            assert_eq!(parsed.version, version);
            assert_eq!(parsed.request, request);
        }
    }
}

#[test]
fn build_request_into_a_reused_buffer_matches_build_request() {
    let mut buffer = b"left over from an earlier, longer request".repeat(20);
    for version in VERSIONS {
        for request in every_operation() {
            soap::build_request_into(&mut buffer, version, &request);
            assert_eq!(buffer, build_request(version, &request));
        }
    }
}

#[test]
fn built_requests_look_like_the_contract() {
    let request = &every_operation()[3];
    let envelope = String::from_utf8(build_request(SoapVersion::V11, request)).unwrap();
    assert_eq!(
        envelope,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>"#,
            r#"<bookMovieTickets xmlns="urn:cineflix:booking:v1"><userID>OUTC0001</userID><customerID>OUTC0001</customerID>"#,
            "<movieID>OUTE281126</movieID><movieName>Avengers</movieName><numberOfTickets>2147483647</numberOfTickets>",
            "</bookMovieTickets></soap:Body></soap:Envelope>"
        )
    );
    let envelope = String::from_utf8(build_request(SoapVersion::V12, request)).unwrap();
    assert!(envelope.contains(r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>"#));
}

fn date(year: i16, month: i8, day: i8) -> Date {
    Date::new(year, month, day).expect("a valid test date")
}

fn movie_id(theatre: TheatreCode, slot: SlotLetter, date: Date) -> MovieId {
    MovieId { theatre, slot, date }
}

/// A request of the operation each body answers, with every body variant (empty and non-empty lists).
fn every_body() -> Vec<(Request, Body)> {
    let operations = every_operation();
    let first = movie_id(TheatreCode::Atw, SlotLetter::Morning, date(2026, 11, 28));
    let second = movie_id(TheatreCode::Ver, SlotLetter::Evening, date(2099, 12, 31));
    let third = movie_id(TheatreCode::Out, SlotLetter::Afternoon, date(2000, 1, 1));
    vec![
        (operations[0].clone(), Body::Empty),
        (operations[1].clone(), Body::Removed(vec![])),
        (
            operations[1].clone(),
            Body::Removed(vec![
                MovedBooking { customer_id: "ATWC0001".into(), tickets: 3, new_movie_id: Some(second) },
                MovedBooking { customer_id: "VERC9999".into(), tickets: 10_000, new_movie_id: None },
            ]),
        ),
        (operations[2].clone(), Body::Shows(vec![])),
        (
            operations[2].clone(),
            Body::Shows(vec![
                Show { movie_id: first, movie: Movie::Titanic, capacity: 100, available: 0 },
                Show { movie_id: third, movie: Movie::Avengers, capacity: 10_000, available: 10_000 },
                Show { movie_id: second, movie: Movie::Avatar, capacity: 1, available: 1 },
            ]),
        ),
        (operations[3].clone(), Body::Empty),
        (operations[4].clone(), Body::Schedule(vec![])),
        (
            operations[4].clone(),
            Body::Schedule(vec![
                ScheduleEntry { movie_id: third, movie: Movie::Avatar, tickets: 1 },
                ScheduleEntry { movie_id: first, movie: Movie::Titanic, tickets: 9999 },
            ]),
        ),
        (operations[5].clone(), Body::Empty),
        (operations[6].clone(), Body::Empty),
    ]
}

#[test]
fn render_response_then_parse_response_keeps_every_body() {
    for version in VERSIONS {
        for (request, body) in every_body() {
            let response = Response::ok(body);
            let message = "done: <ok> & \"fine\"\r\n\tnext line";
            let envelope = render_response_with_message(version, &request, &response, message);
            let parsed = parse_response(&envelope).unwrap_or_else(|error| {
                panic!("{error}\n{}", String::from_utf8_lossy(&envelope));
            });
            assert_eq!(parsed.response, response, "{}", request.operation.name());
            assert_eq!(parsed.message, message);
        }
    }
}

#[test]
fn render_response_then_parse_response_keeps_every_result_code() {
    for version in VERSIONS {
        for request in every_operation() {
            for code in ResultCode::ALL {
                let response = if code.is_ok() { Response::ok(Body::Empty) } else { Response::rejected(code) };
                // Lists are empty, not absent, in a successful listing.
                let expected = match (&request.operation, code.is_ok()) {
                    (Operation::RemoveMovieSlots { .. }, true) => Response::ok(Body::Removed(vec![])),
                    (Operation::ListMovieShowsAvailability { .. }, true) => Response::ok(Body::Shows(vec![])),
                    (Operation::GetBookingSchedule { .. }, true) => Response::ok(Body::Schedule(vec![])),
                    _ => response.clone(),
                };
                let envelope = render_response_with_message(version, &request, &response, code.as_str());
                let parsed = parse_response(&envelope).unwrap();
                assert_eq!(parsed.response, expected);
                assert_eq!(parsed.message, code.as_str());
            }
        }
    }
}

#[test]
fn render_response_uses_the_booking_message() {
    for version in VERSIONS {
        for (request, body) in every_body() {
            let response = Response::ok(body);
            let envelope = render_response(version, &request, &response);
            let parsed = parse_response(&envelope).unwrap();
            assert_eq!(parsed.response, response);
            assert_eq!(parsed.message, response.message(&request));
        }
    }
}

#[test]
fn rendered_responses_look_like_the_contract() {
    let request = &every_operation()[2];
    let show = Show {
        movie_id: movie_id(TheatreCode::Out, SlotLetter::Evening, date(2026, 11, 28)),
        movie: Movie::Titanic,
        capacity: 50,
        available: 7,
    };
    let response = Response::ok(Body::Shows(vec![show]));
    let envelope =
        String::from_utf8(render_response_with_message(SoapVersion::V11, request, &response, "1 show: a\u{1}b"))
            .unwrap();
    assert_eq!(
        envelope,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>"#,
            r#"<listMovieShowsAvailabilityResponse xmlns="urn:cineflix:booking:v1">"#,
            "<result><success>true</success><code>OK</code><message>1 show: a\u{FFFD}b</message></result>",
            "<show><movieID>OUTE281126</movieID><movieName>Titanic</movieName><theatre>OUT</theatre>",
            "<date>2026-11-28</date><slot>EVENING</slot><capacity>50</capacity><available>7</available></show>",
            "</listMovieShowsAvailabilityResponse></soap:Body></soap:Envelope>"
        )
    );
    let rejected =
        render_response_with_message(SoapVersion::V12, request, &Response::rejected(ResultCode::SoldOut), "x");
    let rejected = String::from_utf8(rejected).unwrap();
    assert!(rejected.contains(r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>"#));
    assert!(rejected.contains("<result><success>false</success><code>SOLD_OUT</code><message>x</message></result>"));
}

#[test]
fn moved_bookings_say_where_they_went() {
    let request = &every_operation()[1];
    let moved = Body::Removed(vec![
        MovedBooking {
            customer_id: "ATWC0001".into(),
            tickets: 2,
            new_movie_id: Some(movie_id(TheatreCode::Atw, SlotLetter::Afternoon, date(2026, 11, 29))),
        },
        MovedBooking { customer_id: "ATWC0002".into(), tickets: 1, new_movie_id: None },
    ]);
    let envelope = render_response_with_message(SoapVersion::V11, request, &Response::ok(moved), "m");
    let envelope = String::from_utf8(envelope).unwrap();
    assert!(envelope.contains(concat!(
        "<movedBooking><customerID>ATWC0001</customerID><tickets>2</tickets><newMovieID>ATWA291126</newMovieID>",
        "<cancelled>false</cancelled></movedBooking>",
        "<movedBooking><customerID>ATWC0002</customerID><tickets>1</tickets><cancelled>true</cancelled></movedBooking>"
    )));
}

#[test]
fn every_fault_reaches_the_client_with_its_code() {
    for version in VERSIONS {
        for kind in FaultKind::ALL {
            let fault = Fault::new(version, kind, format!("why: <{}> & more\u{0}", kind.code()));
            let envelope = fault.render();
            match parse_response(&envelope) {
                Err(ClientError::Fault { code, message }) => {
                    assert_eq!(code, kind.code());
                    assert_eq!(message, format!("why: <{}> & more\u{FFFD}", kind.code()));
                }
                other => panic!("{kind:?} {version:?}: {other:?}\n{}", String::from_utf8_lossy(&envelope)),
            }
        }
    }
}

#[test]
fn fault_status_codes_and_soap_codes() {
    let soap_code = |fault: &Fault| {
        let text = String::from_utf8(fault.render()).unwrap();
        let (start, end) = match fault.version {
            SoapVersion::V11 => ("<faultcode>", "</faultcode>"),
            SoapVersion::V12 => ("<env:Value>", "</env:Value>"),
        };
        let from = text.find(start).unwrap() + start.len();
        text[from..from + text[from..].find(end).unwrap()].to_owned()
    };
    let expected = [
        (FaultKind::MalformedXml, "soap:Client", "env:Sender", 400),
        (FaultKind::VersionMismatch, "soap:VersionMismatch", "env:VersionMismatch", 500),
        (FaultKind::MustUnderstand, "soap:MustUnderstand", "env:MustUnderstand", 500),
        (FaultKind::DoctypeForbidden, "soap:Client", "env:Sender", 400),
        (FaultKind::UnknownOperation, "soap:Client", "env:Sender", 400),
        (FaultKind::MissingElement, "soap:Client", "env:Sender", 400),
        (FaultKind::InvalidValue, "soap:Client", "env:Sender", 400),
        (FaultKind::ServiceUnavailable, "soap:Server", "env:Receiver", 500),
        (FaultKind::Internal, "soap:Server", "env:Receiver", 500),
    ];
    assert_eq!(expected.len(), FaultKind::ALL.len());
    for (kind, code11, code12, status12) in expected {
        let fault11 = Fault::new(SoapVersion::V11, kind, "m");
        let fault12 = Fault::new(SoapVersion::V12, kind, "m");
        assert_eq!(soap_code(&fault11), code11);
        assert_eq!(soap_code(&fault12), code12);
        assert_eq!(fault11.http_status(), 500, "SOAP 1.1 faults are always 500");
        assert_eq!(fault12.http_status(), status12, "{kind:?}");
    }
}

#[test]
fn soap11_fault_shape() {
    let fault = Fault::new(SoapVersion::V11, FaultKind::MissingElement, "bookMovieTickets needs element userID");
    assert_eq!(
        String::from_utf8(fault.render()).unwrap(),
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>"#,
            "<faultcode>soap:Client</faultcode><faultstring>bookMovieTickets needs element userID</faultstring>",
            r#"<detail><ServiceError xmlns="urn:cineflix:booking:v1"><code>MISSING_ELEMENT</code>"#,
            "<message>bookMovieTickets needs element userID</message></ServiceError></detail>",
            "</soap:Fault></soap:Body></soap:Envelope>"
        )
    );
}

#[test]
fn soap12_fault_shape() {
    let fault = Fault::new(SoapVersion::V12, FaultKind::ServiceUnavailable, "no majority");
    let text = String::from_utf8(fault.render()).unwrap();
    assert!(text.contains(concat!(
        "<env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code>",
        r#"<env:Reason><env:Text xml:lang="en">no majority</env:Text></env:Reason>"#,
        r#"<env:Detail><ServiceError xmlns="urn:cineflix:booking:v1"><code>SERVICE_UNAVAILABLE</code>"#,
        "<message>no majority</message></ServiceError></env:Detail></env:Fault></env:Body>"
    )));
    let mismatch = String::from_utf8(Fault::new(SoapVersion::V12, FaultKind::VersionMismatch, "v").render()).unwrap();
    assert!(mismatch.contains("<env:Header><env:Upgrade><env:SupportedEnvelope"));
}

#[test]
fn faults_from_other_servers_without_service_error() {
    let soap11 = concat!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>"#,
        "<faultcode>s:Server</faultcode><faultstring>proxy down</faultstring></s:Fault></s:Body></s:Envelope>"
    );
    match parse_response(soap11.as_bytes()) {
        Err(ClientError::Fault { code, message }) => {
            assert_eq!((code.as_str(), message.as_str()), ("s:Server", "proxy down"))
        }
        other => panic!("{other:?}"),
    }
    let soap12 = concat!(
        r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault>"#,
        "<e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>x:y</e:Value></e:Subcode></e:Code>",
        r#"<e:Reason><e:Text xml:lang="en">bad</e:Text><e:Text xml:lang="fr">mauvais</e:Text></e:Reason>"#,
        "</e:Fault></e:Body></e:Envelope>"
    );
    match parse_response(soap12.as_bytes()) {
        Err(ClientError::Fault { code, message }) => assert_eq!((code.as_str(), message.as_str()), ("e:Sender", "bad")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn inconsistent_responses_are_malformed() {
    let request = &every_operation()[2];
    let show = Show {
        movie_id: movie_id(TheatreCode::Out, SlotLetter::Evening, date(2026, 11, 28)),
        movie: Movie::Titanic,
        capacity: 50,
        available: 7,
    };
    let good =
        render_response_with_message(SoapVersion::V11, request, &Response::ok(Body::Shows(vec![show.clone()])), "m");
    let good = String::from_utf8(good).unwrap();
    assert!(parse_response(good.as_bytes()).is_ok());
    for (from, to) in [
        ("<success>true</success>", "<success>false</success>"),
        ("<code>OK</code>", "<code>NOPE</code>"),
        ("<theatre>OUT</theatre>", "<theatre>VER</theatre>"),
        ("<date>2026-11-28</date>", "<date>2026-11-29</date>"),
        ("<slot>EVENING</slot>", "<slot>MORNING</slot>"),
        ("<capacity>50</capacity>", "<capacity>-1</capacity>"),
        ("<movieName>Titanic</movieName>", "<movieName>Jaws</movieName>"),
        ("<result>", "<result><code>OK</code>"),
        ("listMovieShowsAvailabilityResponse", "unknownResponse"),
        ("</soap:Body>", "<extra/></soap:Body>"),
    ] {
        assert!(good.contains(from), "{from}");
        let bad = good.replace(from, to);
        assert!(matches!(parse_response(bad.as_bytes()), Err(ClientError::Malformed(_))), "{to}");
    }
    // Unknown elements from a newer server are skipped, not fatal.
    let newer = good.replace("<available>7</available>", "<available>7</available><hall>3</hall>");
    assert_eq!(parse_response(newer.as_bytes()).unwrap().response, Response::ok(Body::Shows(vec![show])));
}
