//! The SOAP-level cases of soap-contract.md: faults (malformed XML, unknown operation, missing and mistyped
//! elements, wrong envelope namespace, DOCTYPE, mustUnderstand) in SOAP 1.1 and 1.2 with their HTTP statuses, the
//! plain HTTP errors, and that a domain rejection is an answer, not a fault.
//!
//! Envelopes are written out by hand and sent over a plain TCP connection (`Connection: close`), exactly as a
//! hand-written SoapUI-style client would; the answer's `ServiceError` code is read with `soap::parse_response`, the
//! SOAP fault code with a plain text search (the grader checks what is on the wire, not how a parser sees it).

use super::{Case, CaseResult, Group, Needs, Target, fail};
use booking::ResultCode;
use std::io::{Read, Write};
use std::time::Duration;

const NS: &str = "urn:cineflix:booking:v1";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const TEXT_XML: &str = "text/xml; charset=utf-8";
const SOAP12_XML: &str = "application/soap+xml; charset=utf-8";
/// Bigger than the shipped configurations' `max_body_bytes` (1 MiB).
const OVERSIZED_BODY_BYTES: usize = 1_200_000;

fn case(
    id: &'static str,
    scenario: &'static str,
    expected: &'static str,
    codes: &'static [ResultCode],
    run: fn(&mut Target) -> CaseResult,
) -> Case {
    Case { id, group: Group::Soap, scenario, expected, codes, needs: Needs::Service, run }
}

pub fn cases() -> Vec<Case> {
    vec![
        case("S01", "SOAP 1.1 malformed XML", "HTTP 500, soap:Client, MALFORMED_XML", &[], malformed_xml),
        case("S02", "SOAP 1.1 unknown operation", "HTTP 500, soap:Client, UNKNOWN_OPERATION", &[], unknown_operation),
        case("S03", "SOAP 1.1 missing element", "HTTP 500, soap:Client, MISSING_ELEMENT", &[], missing_element),
        case("S04", "SOAP 1.1 mistyped element (int)", "HTTP 500, soap:Client, INVALID_VALUE", &[], mistyped_element),
        case("S05", "SOAP 1.2 missing element", "HTTP 400, env:Sender, MISSING_ELEMENT", &[], soap12_sender_fault),
        case("S06", "SOAP 1.2 mistyped element", "HTTP 400, env:Sender, INVALID_VALUE", &[], soap12_mistyped),
        case(
            "S07",
            "envelope in an unknown namespace",
            "HTTP 500, VersionMismatch, VERSION_MISMATCH",
            &[],
            version_mismatch,
        ),
        case("S08", "DOCTYPE in the request", "HTTP 500, DOCTYPE_FORBIDDEN, no entity expanded", &[], doctype),
        case(
            "S09",
            "header block marked mustUnderstand",
            "HTTP 500, MustUnderstand, MUST_UNDERSTAND",
            &[],
            must_understand,
        ),
        case(
            "S10",
            "well-formed requests in SOAP 1.1 and 1.2, any SOAPAction",
            "HTTP 200 in the request's SOAP version",
            &[ResultCode::Ok],
            valid_requests,
        ),
        case(
            "S11",
            "plain HTTP errors and the WSDL",
            "PUT 405, GET without ?wsdl 405, text/plain 415, oversized 413, ?WSDL 200 with a reachable address",
            &[],
            http_errors,
        ),
        case(
            "S12",
            "a domain rejection is an answer, not a fault",
            "HTTP 200, success=false, INVALID_QUANTITY",
            &[ResultCode::InvalidQuantity],
            rejection_is_not_a_fault,
        ),
    ]
}

/// An HTTP answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the whole answer.
fn send(t: &Target, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Answer, String> {
    let endpoint = &t.endpoint;
    let mut stream = std::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .map_err(|error| format!("cannot connect to {}: {error}", endpoint.url))?;
    stream.set_read_timeout(Some(Duration::from_secs(15))).map_err(|error| error.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", endpoint.authority);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).map_err(|error| error.to_string())?;
    // A server may answer 413 and close before the whole body is sent; that is an answer, not an error.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    if let Err(error) = stream.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return Err(format!("no answer: {error}"));
    }
    parse_http(&raw)
}

fn parse_http(raw: &[u8]) -> Result<Answer, String> {
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n").ok_or("no HTTP head in the answer")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut content_type = String::new();
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_owned(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Answer { status, content_type, body })
}

fn dechunk(mut bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|window| window == b"\r\n").ok_or("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&bytes[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if bytes.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}

fn post(t: &Target, content_type: &str, soap_action: Option<&str>, body: &str) -> Result<Answer, String> {
    let path = t.endpoint.path.clone();
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(action) = soap_action {
        headers.push(("SOAPAction", action));
    }
    send(t, "POST", &path, &headers, body.as_bytes())
}

fn envelope11(payload: &str) -> String {
    format!(r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body>{payload}</s:Body></s:Envelope>"#)
}

fn envelope12(payload: &str) -> String {
    format!(r#"<e:Envelope xmlns:e="{SOAP12}"><e:Body>{payload}</e:Body></e:Envelope>"#)
}

fn list_payload(movie: &str) -> String {
    format!(
        r#"<listMovieShowsAvailability xmlns="{NS}"><userID>ATWC0001</userID><movieName>{movie}</movieName></listMovieShowsAvailability>"#
    )
}

fn missing_payload() -> String {
    format!(r#"<getBookingSchedule xmlns="{NS}"><userID>ATWC0001</userID></getBookingSchedule>"#)
}

fn mistyped_payload(t: &Target) -> String {
    let movie_id = format!("ATWM{}", t.today().plus_days(1).ddmmyy());
    format!(
        r#"<bookMovieTickets xmlns="{NS}"><userID>ATWC0001</userID><customerID>ATWC0001</customerID><movieID>{movie_id}</movieID><movieName>Avatar</movieName><numberOfTickets>two</numberOfTickets></bookMovieTickets>"#
    )
}

/// The text of the first `<…name>text</…name>` element (any prefix), for fault codes.
fn element_text(text: &str, local_name: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let tag_end = rest.find('>')?;
        let tag = &rest[..tag_end];
        let name = tag.split_whitespace().next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == local_name && !tag.starts_with('/') {
            let after = &rest[tag_end + 1..];
            let end = after.find('<')?;
            return Some(after[..end].trim().to_owned());
        }
    }
    None
}

fn local(code: &str) -> &str {
    code.rsplit(':').next().unwrap_or(code)
}

/// Checks a fault answer: HTTP status, content type, SOAP fault code (local name) and `ServiceError` code.
fn check_fault(answer: &Answer, version: soap::SoapVersion, status: u16, soap_code: &str, detail: &str) -> CaseResult {
    let text = answer.text();
    let wanted_type = match version {
        soap::SoapVersion::V11 => "text/xml",
        soap::SoapVersion::V12 => "application/soap+xml",
    };
    let observed_code = match version {
        soap::SoapVersion::V11 => element_text(&text, "faultcode"),
        soap::SoapVersion::V12 => element_text(&text, "Value"),
    };
    let observed_detail = match soap::parse_response(&answer.body) {
        Err(soap::ClientError::Fault { code, .. }) => code,
        Ok(_) => "a normal response".to_owned(),
        Err(soap::ClientError::Malformed(why)) => format!("no fault ({why})"),
    };
    let observed = format!(
        "HTTP {}, {}, {}, {}",
        answer.status,
        answer.content_type,
        observed_code.as_deref().unwrap_or("no fault code"),
        observed_detail
    );
    let charset_ok = answer.content_type.to_ascii_lowercase().replace(' ', "").contains("charset=utf-8");
    if answer.status == status
        && answer.content_type.to_ascii_lowercase().starts_with(wanted_type)
        && charset_ok
        && observed_code.as_deref().map(local) == Some(soap_code)
        && observed_detail == detail
    {
        Ok(observed)
    } else {
        fail(observed)
    }
}

fn wire<T>(result: Result<T, String>) -> Result<T, super::Stop> {
    result.map_err(super::Stop::Fail)
}

fn malformed_xml(t: &mut Target) -> CaseResult {
    let body = envelope11(&list_payload("Avatar"));
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &body[..body.len() - 20]))?;
    check_fault(&answer, soap::SoapVersion::V11, 500, "Client", "MALFORMED_XML")
}

fn unknown_operation(t: &mut Target) -> CaseResult {
    let payload = format!(r#"<buyPopcorn xmlns="{NS}"><userID>ATWC0001</userID></buyPopcorn>"#);
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &envelope11(&payload)))?;
    check_fault(&answer, soap::SoapVersion::V11, 500, "Client", "UNKNOWN_OPERATION")
}

fn missing_element(t: &mut Target) -> CaseResult {
    let answer = wire(post(t, TEXT_XML, None, &envelope11(&missing_payload())))?;
    check_fault(&answer, soap::SoapVersion::V11, 500, "Client", "MISSING_ELEMENT")
}

fn mistyped_element(t: &mut Target) -> CaseResult {
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &envelope11(&mistyped_payload(t))))?;
    check_fault(&answer, soap::SoapVersion::V11, 500, "Client", "INVALID_VALUE")
}

fn soap12_sender_fault(t: &mut Target) -> CaseResult {
    let answer = wire(post(t, SOAP12_XML, None, &envelope12(&missing_payload())))?;
    check_fault(&answer, soap::SoapVersion::V12, 400, "Sender", "MISSING_ELEMENT")
}

fn soap12_mistyped(t: &mut Target) -> CaseResult {
    let answer = wire(post(t, SOAP12_XML, None, &envelope12(&mistyped_payload(t))))?;
    check_fault(&answer, soap::SoapVersion::V12, 400, "Sender", "INVALID_VALUE")
}

fn version_mismatch(t: &mut Target) -> CaseResult {
    let body =
        format!(r#"<s:Envelope xmlns:s="urn:not-soap"><s:Body>{}</s:Body></s:Envelope>"#, list_payload("Avatar"));
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &body))?;
    check_fault(&answer, soap::SoapVersion::V11, 500, "VersionMismatch", "VERSION_MISMATCH")
}

fn doctype(t: &mut Target) -> CaseResult {
    let body = format!(
        r#"<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY boom "BOOMBOOMBOOM">]>{}"#,
        envelope11(&list_payload("&boom;"))
    );
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &body))?;
    let observed = check_fault(&answer, soap::SoapVersion::V11, 500, "Client", "DOCTYPE_FORBIDDEN")?;
    if answer.text().contains("BOOMBOOMBOOM") {
        return fail(format!("{observed}, but the entity was expanded into the answer"));
    }
    Ok(format!("{observed}, entity not expanded"))
}

fn must_understand(t: &mut Target) -> CaseResult {
    let body = format!(
        r#"<s:Envelope xmlns:s="{SOAP11}"><s:Header><x:Token xmlns:x="urn:example:security" s:mustUnderstand="1">t</x:Token></s:Header><s:Body>{}</s:Body></s:Envelope>"#,
        list_payload("Avatar")
    );
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &body))?;
    check_fault(&answer, soap::SoapVersion::V11, 500, "MustUnderstand", "MUST_UNDERSTAND")
}

fn valid_requests(t: &mut Target) -> CaseResult {
    let mut observed = Vec::new();
    for action in [Some("\"urn:cineflix:booking:v1/listMovieShowsAvailability\""), Some("\"\""), Some("x"), None] {
        let answer = wire(post(t, TEXT_XML, action, &envelope11(&list_payload("Avatar"))))?;
        let parsed = soap::parse_response(&answer.body);
        if answer.status != 200
            || !answer.content_type.starts_with("text/xml")
            || !matches!(&parsed, Ok(reply) if reply.response.code == ResultCode::Ok)
        {
            return fail(format!(
                "SOAP 1.1 with SOAPAction {action:?}: HTTP {} {}",
                answer.status, answer.content_type
            ));
        }
        observed.push(answer.status);
    }
    let answer = wire(post(t, SOAP12_XML, None, &envelope12(&list_payload("Avatar"))))?;
    let text = answer.text();
    if answer.status != 200 || !answer.content_type.starts_with("application/soap+xml") || !text.contains(SOAP12) {
        return fail(format!("SOAP 1.2: HTTP {} {}", answer.status, answer.content_type));
    }
    Ok(format!("SOAP 1.1 with 4 SOAPAction forms: {observed:?}; SOAP 1.2: 200 application/soap+xml"))
}

fn http_errors(t: &mut Target) -> CaseResult {
    let path = t.endpoint.path.clone();
    let put = wire(send(t, "PUT", &path, &[("Content-Type", TEXT_XML)], b"x"))?.status;
    let get = wire(send(t, "GET", &path, &[], b""))?.status;
    let plain = wire(post(t, "text/plain", None, &envelope11(&list_payload("Avatar"))))?.status;
    let padding = "x".repeat(OVERSIZED_BODY_BYTES);
    let oversized =
        wire(post(t, TEXT_XML, Some("\"\""), &format!("{}<!--{padding}-->", envelope11(&list_payload("Avatar")))))?
            .status;
    let wsdl_path = format!("{}?WSDL", path.split('?').next().unwrap_or(&path));
    let wsdl = wire(send(t, "GET", &wsdl_path, &[], b""))?;
    let wsdl_text = wsdl.text();
    let address = element_attribute(&wsdl_text, "address", "location").unwrap_or_default();
    let observed = format!(
        "PUT {put}, GET {get}, text/plain {plain}, oversized {oversized}, ?WSDL {} with address {address}",
        wsdl.status
    );
    if (put, get, plain, oversized, wsdl.status) == (405, 405, 415, 413, 200)
        && address.starts_with("http://")
        && !address.contains("0.0.0.0")
    {
        Ok(observed)
    } else {
        fail(observed)
    }
}

/// The value of `attribute` on the first element whose local name is `local_name`.
fn element_attribute(text: &str, local_name: &str, attribute: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let tag = &rest[..rest.find('>')?];
        let name = tag.split_whitespace().next().unwrap_or("");
        if name.rsplit(':').next() == Some(local_name) {
            let key = format!("{attribute}=\"");
            let at = tag.find(&key)? + key.len();
            return Some(tag[at..].split('"').next()?.to_owned());
        }
    }
    None
}

fn rejection_is_not_a_fault(t: &mut Target) -> CaseResult {
    let movie_id = format!("ATWM{}", t.today().plus_days(1).ddmmyy());
    let payload = format!(
        r#"<bookMovieTickets xmlns="{NS}"><userID>ATWC0001</userID><customerID>ATWC0001</customerID><movieID>{movie_id}</movieID><movieName>Avatar</movieName><numberOfTickets>0</numberOfTickets></bookMovieTickets>"#
    );
    let answer = wire(post(t, TEXT_XML, Some("\"\""), &envelope11(&payload)))?;
    match soap::parse_response(&answer.body) {
        Ok(reply) if answer.status == 200 && reply.response.code == ResultCode::InvalidQuantity => {
            Ok(format!("HTTP 200, success=false, INVALID_QUANTITY ({})", reply.message))
        }
        Ok(reply) => fail(format!("HTTP {}, {}", answer.status, reply.response.code.as_str())),
        Err(error) => fail(format!("HTTP {}, {error}", answer.status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_codes_are_read_by_local_name() {
        let text = r#"<soap:Envelope><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>x</faultstring></soap:Fault></soap:Body></soap:Envelope>"#;
        assert_eq!(element_text(text, "faultcode").as_deref(), Some("soap:Client"));
        let text12 = r#"<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code></env:Fault>"#;
        assert_eq!(element_text(text12, "Value").map(|code| local(&code).to_owned()).as_deref(), Some("Sender"));
        assert_eq!(element_text(text12, "faultcode"), None);
    }

    #[test]
    fn chunked_answers_are_reassembled() {
        let raw = b"HTTP/1.1 500 Internal\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let answer = parse_http(raw).unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (500, &b"abcde"[..]));
        assert_eq!(
            element_attribute(r#"<soap:address location="http://h:1/c"/>"#, "address", "location").as_deref(),
            Some("http://h:1/c")
        );
    }
}
