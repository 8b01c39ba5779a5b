//! Bad request envelopes give the documented fault kind, in the client's SOAP version where it is
//! known, and never a panic: malformed and truncated XML, DOCTYPEs (billion laughs included), unknown
//! operations and namespaces, missing, mistyped, duplicate and extra elements, absurd numbers, huge and
//! deeply nested input, bytes that are not UTF-8, characters XML 1.0 forbids.

use soap::{FaultKind, SoapVersion, parse_request};

const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

fn envelope(namespace: &str, payload: &str) -> String {
    format!(r#"<s:Envelope xmlns:s="{namespace}"><s:Body>{payload}</s:Body></s:Envelope>"#)
}

fn book(fields: &str) -> String {
    format!(r#"<bookMovieTickets xmlns="urn:cineflix:booking:v1">{fields}</bookMovieTickets>"#)
}

const FIELDS: &str = "<userID>ATWC0001</userID><customerID>ATWC0001</customerID><movieID>ATWE281126</movieID><movieName>Avatar</movieName>";

fn good() -> String {
    envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets>2</numberOfTickets>")))
}

/// The start of a test input, for failure messages.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned()
}

/// Asserts the fault kind, and that the message says something.
#[track_caller]
fn check(body: impl AsRef<[u8]>, kind: FaultKind) -> soap::Fault {
    let body = body.as_ref();
    match parse_request(body) {
        Ok(parsed) => panic!("expected {kind:?}, parsed {parsed:?}\n{}", excerpt(body)),
        Err(fault) => {
            assert_eq!(fault.kind, kind, "{fault}\n{}", excerpt(body));
            assert!(!fault.message.is_empty());
            fault
        }
    }
}

#[test]
fn the_good_envelope_parses() {
    assert!(parse_request(good().as_bytes()).is_ok());
}

#[test]
fn malformed_xml() {
    let cases = [
        "",
        "   ",
        "not xml at all",
        "<",
        "<s:Envelope",
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body></s:Envelope>"#,
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#,
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>"#,
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">text<s:Body/></s:Envelope>"#,
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><x:Body/></s:Envelope>"#,
        r#"<Login xmlns="urn:example:shop"/>"#,
        "<a><b></a></b>",
    ];
    for case in cases {
        check(case, FaultKind::MalformedXml);
    }
    // Unbalanced, undeclared prefixes, bad references, two operations in one Body.
    let good = good();
    check(good.replace("</movieName>", ""), FaultKind::MalformedXml);
    check(
        good.replace("<movieName>", "<x:movieName>").replace("</movieName>", "</x:movieName>"),
        FaultKind::MalformedXml,
    );
    check(good.replace("Avatar", "Ava&tar"), FaultKind::MalformedXml);
    check(good.replace("Avatar", "Ava&nbsp;tar"), FaultKind::MalformedXml);
    check(good.replace("Avatar", "Ava&#xZZ;tar"), FaultKind::MalformedXml);
    check(good.replace("</s:Body>", &format!("{}</s:Body>", book(FIELDS))), FaultKind::MalformedXml);
    check(format!("{good}{good}"), FaultKind::MalformedXml);
    check(format!("{good}trailing"), FaultKind::MalformedXml);
    check(good.replace("</s:Body>", "</s:Body><s:Header/>"), FaultKind::MalformedXml);
    check(good.replace("<s:Body>", "<s:Body>text"), FaultKind::MalformedXml);
    check(good.replace("</s:Envelope>", "</s:Envelope><!-- fine --><extra/>"), FaultKind::MalformedXml);
}

#[test]
fn truncated_anywhere() {
    let good = good();
    let bytes = good.as_bytes();
    for length in 0..bytes.len() {
        let fault = parse_request(&bytes[..length]).expect_err("a truncated envelope must not parse");
        // Well-formedness is reported before content problems (a missing element, say).
        assert_eq!(fault.kind, FaultKind::MalformedXml, "{length}: {fault}");
    }
}

#[test]
fn doctype_is_refused_before_any_expansion() {
    let billion_laughs = concat!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">"#,
        r#"<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">"#,
        r#"<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">"#,
        r#"<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>"#,
    );
    let body = format!(
        "{billion_laughs}{}",
        envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets>&lol9;</numberOfTickets>")))
    );
    check(&body, FaultKind::DoctypeForbidden);
    let external = format!(r#"<!DOCTYPE e SYSTEM "file:///etc/passwd">{}"#, good());
    check(external, FaultKind::DoctypeForbidden);
    check(format!("<!doctype e>{}", good()), FaultKind::DoctypeForbidden);
    // A reference to an entity no DOCTYPE declared is simply not well-formed.
    check(good().replace(">2<", ">&lol9;<"), FaultKind::MalformedXml);
}

#[test]
fn version_mismatch() {
    check(envelope("urn:not-soap", &book(FIELDS)), FaultKind::VersionMismatch);
    check(r#"<Envelope><Body/></Envelope>"#, FaultKind::VersionMismatch);
    // SOAP 1.2 prefix bound to the 1.1 namespace inside a 1.2 envelope: not a 1.2 Body.
    let mixed =
        format!(r#"<e:Envelope xmlns:e="{SOAP12}"><s:Body xmlns:s="{SOAP11}">{}</s:Body></e:Envelope>"#, book(FIELDS));
    let fault = check(mixed, FaultKind::MalformedXml);
    assert_eq!(fault.version, SoapVersion::V12);
}

#[test]
fn unknown_operation() {
    check(envelope(SOAP11, ""), FaultKind::UnknownOperation);
    check(envelope(SOAP11, "<bookMovieTickets/>"), FaultKind::UnknownOperation);
    check(envelope(SOAP11, r#"<bookMovieTickets xmlns="urn:cineflix:booking:v2"/>"#), FaultKind::UnknownOperation);
    check(envelope(SOAP11, r#"<BookMovieTickets xmlns="urn:cineflix:booking:v1"/>"#), FaultKind::UnknownOperation);
    check(
        envelope(SOAP11, r#"<bookMovieTicketsResponse xmlns="urn:cineflix:booking:v1"/>"#),
        FaultKind::UnknownOperation,
    );
    let fault = check(envelope(SOAP12, r#"<Login xmlns="urn:example:shop"/>"#), FaultKind::UnknownOperation);
    assert_eq!(fault.version, SoapVersion::V12, "faults answer in the client's version");
    assert!(fault.message.contains("{urn:example:shop}Login"), "{}", fault.message);
}

#[test]
fn missing_elements_are_named_in_contract_order() {
    let fault = check(envelope(SOAP11, &book("")), FaultKind::MissingElement);
    assert!(fault.message.contains("userID"), "{}", fault.message);
    let fault = check(envelope(SOAP11, &book(FIELDS)), FaultKind::MissingElement);
    assert!(fault.message.contains("numberOfTickets"), "{}", fault.message);
    let fault = check(
        envelope(
            SOAP11,
            r#"<getBookingSchedule xmlns="urn:cineflix:booking:v1"><userID>x</userID></getBookingSchedule>"#,
        ),
        FaultKind::MissingElement,
    );
    assert!(fault.message.contains("customerID"), "{}", fault.message);
}

#[test]
fn absurd_numbers() {
    for number in
        ["99999999999", "2147483648", "-2147483649", "1e3", "", " ", "1.5", "0x1F", "+", "--1", "one", "1 000", "٣"]
    {
        let body = envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets>{number}</numberOfTickets>")));
        let fault = check(body, FaultKind::InvalidValue);
        assert!(fault.message.contains("numberOfTickets"), "{}", fault.message);
    }
    // Valid xs:int lexical forms, however odd; the replicas judge the quantity.
    for (number, value) in [("-0", 0), ("+3", 3), ("0002", 2), (" 7\n", 7), ("-5", -5), ("&#x34;2", 42)] {
        let body = envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets>{number}</numberOfTickets>")));
        let parsed = parse_request(body.as_bytes()).unwrap_or_else(|fault| panic!("{number}: {fault}"));
        match parsed.request.operation {
            booking::Operation::BookMovieTickets { number_of_tickets, .. } => assert_eq!(number_of_tickets, value),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn duplicate_extra_and_nested_elements() {
    let twice = envelope(SOAP11, &book(&format!("{FIELDS}<userID>B</userID><numberOfTickets>2</numberOfTickets>")));
    assert!(check(twice, FaultKind::InvalidValue).message.contains("more than once"));
    let extra = envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets>2</numberOfTickets><discount>5</discount>")));
    assert!(check(extra, FaultKind::InvalidValue).message.contains("discount"));
    let foreign =
        envelope(SOAP11, &book(&format!(r#"{FIELDS}<numberOfTickets>2</numberOfTickets><x:note xmlns:x="urn:x"/>"#)));
    check(foreign, FaultKind::InvalidValue);
    // A parameter of another operation is not a parameter of this one.
    let other =
        envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets>2</numberOfTickets><newMovieID>x</newMovieID>")));
    check(other, FaultKind::InvalidValue);
    let nested = envelope(SOAP11, &book(&format!("{FIELDS}<numberOfTickets><value>2</value></numberOfTickets>")));
    check(nested, FaultKind::InvalidValue);
    let text = envelope(SOAP11, &book(&format!("{FIELDS}stray<numberOfTickets>2</numberOfTickets>")));
    check(text, FaultKind::InvalidValue);
}

#[test]
fn bad_must_understand_value() {
    let body = format!(
        r#"<s:Envelope xmlns:s="{SOAP11}"><s:Header><h xmlns="urn:h" s:mustUnderstand="maybe"/></s:Header><s:Body>{}</s:Body></s:Envelope>"#,
        book(FIELDS)
    );
    check(body, FaultKind::InvalidValue);
}

#[test]
fn not_utf8() {
    let mut latin1 = good().into_bytes();
    let at = latin1.windows(6).position(|window| window == b"Avatar").unwrap();
    latin1[at] = 0xC9; // 'É' in ISO-8859-1, a lone continuation-less lead byte in UTF-8
    check(&latin1, FaultKind::MalformedXml);
    check(b"\xFF\xFE<\x00s\x00", FaultKind::MalformedXml);
    check(b"\xEF\xBB\xBF\xEF\xBB\xBF<a/>", FaultKind::MalformedXml);
}

#[test]
fn characters_xml_forbids() {
    for bad in [
        "\u{0}",
        "\u{1}",
        "\u{1B}",
        "\u{FFFE}",
        "\u{FFFF}",
        "&#0;",
        "&#1;",
        "&#x1F;",
        "&#xFFFE;",
        "&#xD800;",
        "&#x110000;",
    ] {
        let body = good().replace("Avatar", &format!("Ava{bad}tar"));
        check(body, FaultKind::MalformedXml);
    }
    for fine in ["\t", "\u{85}", "\u{7F}", "&#9;", "&#x10FFFF;", "\u{FFFD}"] {
        let body = good().replace("Avatar", &format!("Ava{fine}tar"));
        assert!(parse_request(body.as_bytes()).is_ok(), "{fine:?}");
    }
}

#[test]
fn deep_and_huge_input_is_bounded() {
    // Nesting far past the limit, inside a header block and inside a parameter.
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let in_header = format!(r#"<s:Envelope xmlns:s="{SOAP11}"><s:Header>{deep}</s:Header><s:Body/></s:Envelope>"#);
    let started = std::time::Instant::now();
    check(&in_header, FaultKind::MalformedXml);
    // Inside a parameter too: the limits are XML-level, so they win over "text only".
    check(good().replace("Avatar", &deep), FaultKind::MalformedXml);
    check(&deep, FaultKind::MalformedXml);
    // Many siblings: over the element limit.
    let wide = format!(
        r#"<s:Envelope xmlns:s="{SOAP11}"><s:Header>{}</s:Header><s:Body/></s:Envelope>"#,
        "<a/>".repeat(100_000)
    );
    check(&wide, FaultKind::MalformedXml);
    // Many namespace declarations on one element.
    let declarations: String = (0..10_000).map(|index| format!(r#" xmlns:p{index}="urn:{index}""#)).collect();
    check(format!("<s:Envelope xmlns:s=\"{SOAP11}\"{declarations}><s:Body/></s:Envelope>"), FaultKind::MalformedXml);
    // Many attributes on a header block.
    let attributes: String = (0..10_000).map(|index| format!(r#" a{index}="v""#)).collect();
    let body = format!(
        r#"<s:Envelope xmlns:s="{SOAP11}"><s:Header><h{attributes}/></s:Header><s:Body>{}</s:Body></s:Envelope>"#,
        book(FIELDS)
    );
    check(body, FaultKind::MissingElement);
    // A very long value is accepted as is (size limits are the front end's, by HTTP body size).
    let long = "x".repeat(1 << 20);
    let body = good().replace("Avatar", &long);
    assert!(parse_request(body.as_bytes()).is_ok());
    // Generous bound, so that a slow CI machine cannot fail it, yet far below quadratic behaviour.
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[test]
fn comments_and_processing_instructions_are_skipped() {
    let body = good()
        .replace("<s:Body>", "<!-- c --><s:Body><?pi data?>")
        .replace("<numberOfTickets>", "<!-- before --><numberOfTickets>");
    assert!(parse_request(body.as_bytes()).is_ok());
}
