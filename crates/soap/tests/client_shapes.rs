//! Request envelopes in the shapes real SOAP stacks send (tests/fixtures/, see its README) parse to
//! the expected request; WS-Security headers are ignored unless marked mustUnderstand.
//!
//! Not tested here: bad input (bad_input.rs) and round trips (round_trip.rs).

use booking::{Operation, Request};
use soap::{FaultKind, SoapVersion, parse_request};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn request(user_id: &str, operation: Operation) -> Request {
    Request { user_id: user_id.to_owned(), operation }
}

fn check(name: &str, version: SoapVersion, expected: Request) {
    let parsed = parse_request(&fixture(name)).unwrap_or_else(|fault| panic!("{name}: {fault}"));
    assert_eq!(parsed.version, version, "{name}");
    assert_eq!(parsed.request, expected, "{name}");
}

fn schedule_request() -> Request {
    request("ATWA0001", Operation::GetBookingSchedule { customer_id: "ATWC0002".into() })
}

#[test]
fn zeep_soap11() {
    check(
        "zeep-soap11.xml",
        SoapVersion::V11,
        request(
            "ATWC0001",
            Operation::BookMovieTickets {
                customer_id: "ATWC0001".into(),
                movie_id: "ATWE281126".into(),
                movie_name: "Avatar".into(),
                number_of_tickets: 2,
            },
        ),
    );
}

#[test]
fn zeep_soap12() {
    check(
        "zeep-soap12.xml",
        SoapVersion::V12,
        request(
            "ATWC0001",
            Operation::ExchangeTickets {
                customer_id: "ATWC0001".into(),
                movie_id: "ATWE281126".into(),
                movie_name: "Avatar".into(),
                new_movie_id: "OUTM291126".into(),
                new_movie_name: "Titanic".into(),
                number_of_tickets: 2,
            },
        ),
    );
}

#[test]
fn suds_two_prefixes_for_the_envelope() {
    check(
        "suds.xml",
        SoapVersion::V11,
        request("ATWA0001", Operation::GetBookingSchedule { customer_id: "ATWC0002".into() }),
    );
}

#[test]
fn node_soap_default_namespace() {
    check(
        "node-soap.xml",
        SoapVersion::V11,
        request("VERC0042", Operation::ListMovieShowsAvailability { movie_name: "Titanic".into() }),
    );
}

#[test]
fn jaxws() {
    check(
        "jaxws.xml",
        SoapVersion::V11,
        request(
            "OUTA0001",
            Operation::CancelMovieTickets {
                customer_id: "OUTC0007".into(),
                movie_id: "OUTA011226".into(),
                movie_name: "Avengers".into(),
                number_of_tickets: 1,
            },
        ),
    );
}

#[test]
fn mono_asmx() {
    check(
        "mono-asmx.xml",
        SoapVersion::V11,
        request(
            "ATWA1234",
            Operation::AddMovieSlots {
                movie_id: "ATWM281126".into(),
                movie_name: "Avatar".into(),
                booking_capacity: 120,
            },
        ),
    );
}

#[test]
fn soapui_pretty_printed() {
    check(
        "soapui-style.xml",
        SoapVersion::V11,
        request(
            "VERA0002",
            Operation::RemoveMovieSlots { movie_id: "VERE301126".into(), movie_name: "Titanic".into() },
        ),
    );
}

#[test]
fn byte_order_mark_and_crlf_line_ends() {
    let text = String::from_utf8(fixture("soapui-style.xml")).unwrap().replace('\n', "\r\n");
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(text.as_bytes());
    let parsed = parse_request(&body).unwrap();
    assert_eq!(
        parsed.request,
        request(
            "VERA0002",
            Operation::RemoveMovieSlots { movie_id: "VERE301126".into(), movie_name: "Titanic".into() }
        )
    );
}

#[test]
fn ws_security_with_must_understand_is_a_must_understand_fault() {
    let fault = parse_request(&fixture("node-soap-wssecurity.xml")).unwrap_err();
    assert_eq!(fault.kind, FaultKind::MustUnderstand, "{fault}");
    assert_eq!(fault.version, SoapVersion::V11);
    assert!(fault.message.contains("Security"), "the fault names the header block: {}", fault.message);
}

#[test]
fn ws_security_without_must_understand_is_ignored() {
    check("zeep-wssecurity-digest.xml", SoapVersion::V11, schedule_request());
    let node = String::from_utf8(fixture("node-soap-wssecurity.xml")).unwrap();
    for (from, to) in [
        (r#" soap:mustUnderstand="1""#, ""),
        (r#"soap:mustUnderstand="1""#, r#"soap:mustUnderstand="0""#),
        (r#"soap:mustUnderstand="1""#, r#"soap:mustUnderstand="false""#),
        // Addressed to another intermediary: not ours to understand.
        (r#"soap:mustUnderstand="1""#, r#"soap:mustUnderstand="1" soap:actor="urn:some-gateway""#),
        // mustUnderstand without the envelope namespace is just an attribute of the block.
        (r#"soap:mustUnderstand="1""#, r#"mustUnderstand="1""#),
    ] {
        assert!(node.contains(from));
        let body = node.replacen(from, to, 1);
        let parsed = parse_request(body.as_bytes()).unwrap_or_else(|fault| panic!("{to}: {fault}"));
        assert_eq!(parsed.request, schedule_request(), "{to}");
    }
    for value in ["true", " 1 "] {
        let body = node.replacen(r#"soap:mustUnderstand="1""#, &format!(r#"soap:mustUnderstand="{value}""#), 1);
        assert_eq!(parse_request(body.as_bytes()).unwrap_err().kind, FaultKind::MustUnderstand, "{value}");
    }
    let actor_next = node.replacen(
        r#"soap:mustUnderstand="1""#,
        r#"soap:mustUnderstand="1" soap:actor="http://schemas.xmlsoap.org/soap/actor/next""#,
        1,
    );
    assert_eq!(parse_request(actor_next.as_bytes()).unwrap_err().kind, FaultKind::MustUnderstand);
}

#[test]
fn soap12_header_roles() {
    let envelope = |attributes: &str| {
        format!(
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><h:Trace xmlns:h="urn:x" {attributes}>1</h:Trace></e:Header><e:Body><c:getBookingSchedule xmlns:c="urn:cineflix:booking:v1"><c:userID>ATWA0001</c:userID><c:customerID>ATWC0002</c:customerID></c:getBookingSchedule></e:Body></e:Envelope>"#
        )
    };
    let accepted = [
        "",
        r#"e:mustUnderstand="false""#,
        r#"e:mustUnderstand="true" e:role="http://www.w3.org/2003/05/soap-envelope/role/none""#,
        r#"e:mustUnderstand="true" e:role="urn:elsewhere""#,
    ];
    for attributes in accepted {
        let parsed =
            parse_request(envelope(attributes).as_bytes()).unwrap_or_else(|fault| panic!("{attributes}: {fault}"));
        assert_eq!(parsed.version, SoapVersion::V12);
        assert_eq!(parsed.request, schedule_request());
    }
    let refused = [
        r#"e:mustUnderstand="true""#,
        r#"e:mustUnderstand="1" e:role="http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver""#,
        r#"e:mustUnderstand="true" e:role="http://www.w3.org/2003/05/soap-envelope/role/next""#,
    ];
    for attributes in refused {
        let fault = parse_request(envelope(attributes).as_bytes()).unwrap_err();
        assert_eq!((fault.kind, fault.version), (FaultKind::MustUnderstand, SoapVersion::V12), "{attributes}");
    }
}

#[test]
fn lenient_forms_clients_use() {
    let envelope = |payload: &str| {
        format!(
            r#"<?xml version="1.0"?><!-- hand-written --><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{payload}</s:Body></s:Envelope>"#
        )
    };
    // Unqualified parameters, any order, comments, CDATA, references, whitespace around an int.
    let payload = concat!(
        r#"<c:bookMovieTickets xmlns:c="urn:cineflix:booking:v1">"#,
        "<numberOfTickets>\n 3 \t</numberOfTickets>",
        "<movieName><![CDATA[Ava]]>t<!-- x -->ar</movieName>",
        "<c:movieID>ATW&#69;28&#x31;126</c:movieID>",
        "<userID>&lt;me&gt; &amp; &quot;you&quot; &apos;</userID>",
        "<c:customerID xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">ATWC0001</c:customerID>",
        "</c:bookMovieTickets>"
    );
    let parsed = parse_request(envelope(payload).as_bytes()).unwrap();
    assert_eq!(
        parsed.request,
        request(
            "<me> & \"you\" '",
            Operation::BookMovieTickets {
                customer_id: "ATWC0001".into(),
                movie_id: "ATWE281126".into(),
                movie_name: "Avatar".into(),
                number_of_tickets: 3,
            }
        )
    );
    // Strings are kept as sent (xs:string preserves whitespace); empty elements are empty strings.
    let payload = r#"<getBookingSchedule xmlns="urn:cineflix:booking:v1"><userID> atwa0001 </userID><customerID/></getBookingSchedule>"#;
    let parsed = parse_request(envelope(payload).as_bytes()).unwrap();
    assert_eq!(parsed.request, request(" atwa0001 ", Operation::GetBookingSchedule { customer_id: String::new() }));
    // Non-ASCII text survives.
    let payload = r#"<listMovieShowsAvailability xmlns="urn:cineflix:booking:v1"><userID>ÉCOLE€😀</userID><movieName>Titanic</movieName></listMovieShowsAvailability>"#;
    assert_eq!(parse_request(envelope(payload).as_bytes()).unwrap().request.user_id, "ÉCOLE€😀");
}
