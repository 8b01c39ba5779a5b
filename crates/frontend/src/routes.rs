//! What the front end answers to one HTTP request: the WSDL, a SOAP call, or a plain HTTP error.
//!
//! Routes: `GET /cineflix?wsdl` (query key matched case-insensitively) serves the WSDL; `POST /cineflix` is a SOAP
//! call; other methods on `/cineflix` get 405, other paths 404. Bodies over the limit get 413 without being
//! buffered past the limit, and a content type that is not SOAP (`text/xml`, `application/soap+xml`) gets 415.
//! `SOAPAction` is ignored: `soap::parse_request` dispatches on the Body's child element. `GET /status` answers the
//! backend's state as JSON ([`Backend::status`]; `cineflix status` reads it), outside the SOAP contract.
//!
//! This module owns the one place ([`fault_for`]) where a [`BackendError`] becomes a SOAP fault. It deliberately
//! knows nothing about connections, limits on them, or shutdown ([`crate::server`] does).

use crate::backend::{Answered, Backend, BackendError};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use soap::{Fault, FaultKind, SoapVersion};
use std::net::SocketAddr;

/// The endpoint path of the contract.
pub const ENDPOINT_PATH: &str = "/cineflix";

/// `GET` here answers the backend's state as JSON ([`Backend::status`]); not part of the SOAP contract.
pub const STATUS_PATH: &str = "/status";

/// Content type of the WSDL.
const TEXT_XML_UTF8: HeaderValue = HeaderValue::from_static("text/xml; charset=utf-8");
/// Content type of the short explanations sent with plain HTTP errors (404, 405, 413, 415).
const TEXT_PLAIN_UTF8: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// The HTTP-level settings a request handler needs; shared by every connection.
#[derive(Debug)]
pub struct Routes<B> {
    /// Executes parsed booking requests.
    pub backend: B,
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// The service URL written into the WSDL; `None` derives it from each request's Host header.
    pub public_url: Option<String>,
}

/// The response type of every route: a complete body (SOAP answers are small and rendered in one piece).
pub type HttpResponse = Response<Full<Bytes>>;

impl<B: Backend> Routes<B> {
    /// Routing for `backend` with the HTTP settings of `[frontend]`.
    pub fn from_config(frontend: &config::Frontend, backend: B) -> Routes<B> {
        let public_url = frontend.public_url.trim();
        Routes {
            backend,
            max_body_bytes: frontend.max_body_bytes,
            public_url: (!public_url.is_empty()).then(|| public_url.to_string()),
        }
    }

    /// Answers one request. `local_addr` is the address the client's connection reached (used for the WSDL's
    /// address when the request has no usable Host header).
    pub async fn handle(&self, request: Request<Incoming>, local_addr: SocketAddr) -> HttpResponse {
        if request.uri().path() == STATUS_PATH && request.method() == Method::GET {
            return self.status().await;
        }
        if request.uri().path() != ENDPOINT_PATH {
            return plain(StatusCode::NOT_FOUND, "not found: the CineFlix service is at /cineflix\n");
        }
        match *request.method() {
            Method::POST => self.soap_call(request).await,
            Method::GET | Method::HEAD if wants_wsdl(request.uri().query()) => self.wsdl(&request, local_addr),
            Method::GET | Method::HEAD => {
                let mut response =
                    plain(StatusCode::METHOD_NOT_ALLOWED, "GET is only for /cineflix?wsdl; SOAP calls use POST\n");
                response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
                response
            }
            _ => {
                let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, POST"));
                response
            }
        }
    }

    /// `GET /status`: the backend's state as JSON (for `cineflix status`).
    async fn status(&self) -> HttpResponse {
        let body = self.backend.status().await.unwrap_or_else(|| "{\"component\":\"frontend\"}".to_string());
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    fn wsdl(&self, request: &Request<Incoming>, local_addr: SocketAddr) -> HttpResponse {
        let address = match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}{ENDPOINT_PATH}", reachable_authority(request.headers().get(HOST), local_addr)),
        };
        let mut response = Response::new(Full::new(Bytes::from(soap::wsdl(&address))));
        response.headers_mut().insert(CONTENT_TYPE, TEXT_XML_UTF8);
        response
    }

    async fn soap_call(&self, request: Request<Incoming>) -> HttpResponse {
        if !is_soap_content_type(request.headers().get(CONTENT_TYPE)) {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "SOAP requests need Content-Type text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)\n",
            );
        }
        // Refuse a declared oversized body before reading any of it; Limited catches chunked bodies that grow
        // past the limit while being read.
        let declared_length = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > self.max_body_bytes as u64) {
            return too_large(self.max_body_bytes);
        }
        let body = match Limited::new(request.into_body(), self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => return too_large(self.max_body_bytes),
            Err(error) => {
                tracing::debug!(%error, "request body could not be read");
                return plain(StatusCode::BAD_REQUEST, "request body could not be read\n");
            }
        };
        let parsed = match soap::parse_request(&body) {
            Ok(parsed) => parsed,
            Err(fault) => {
                tracing::info!(code = fault.kind.code(), message = %fault.message, "SOAP fault for a bad request");
                return fault_response(&fault);
            }
        };
        let version = parsed.version;
        // The backend consumes the request (it may have to resend it) and hands it back with the answer, whose
        // rendering needs the request's fields too.
        match self.backend.answer(parsed.request).await {
            Ok(Answered { request, response }) => {
                soap_response(version, soap::render_response(version, &request, &response))
            }
            Err(error) => fault_response(&fault_for(version, error)),
        }
    }
}

/// The one place where a backend failure becomes a SOAP fault.
pub fn fault_for(version: SoapVersion, error: BackendError) -> Fault {
    Fault::new(version, FaultKind::ServiceUnavailable, error.to_string())
}

fn fault_response(fault: &Fault) -> HttpResponse {
    let mut response = soap_response(fault.version, fault.render());
    *response.status_mut() = StatusCode::from_u16(fault.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

fn soap_response(version: SoapVersion, body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(version.content_type()));
    response
}

fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, TEXT_PLAIN_UTF8);
    response
}

fn too_large(max_body_bytes: usize) -> HttpResponse {
    tracing::info!(max_body_bytes, "refused an oversized request body");
    let mut response = plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    // The rest of the body was never read, so the connection cannot carry another request.
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Whether the query string asks for the WSDL: a parameter named `wsdl` in any letter case, with or without a
/// value (`?wsdl`, `?WSDL`, `?wsdl=`).
pub fn wants_wsdl(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        query.split('&').any(|pair| pair.split('=').next().is_some_and(|key| key.eq_ignore_ascii_case("wsdl")))
    })
}

/// Whether the content type is one SOAP uses (parameters such as `charset` or `action` in any case are fine).
pub fn is_soap_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = value.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("text/xml") || media_type.eq_ignore_ascii_case("application/soap+xml")
}

/// The `host[:port]` clients can reach this service at: the request's Host header when it is a plausible
/// authority that is not an unspecified address (0.0.0.0, ::), else the address the connection reached.
pub fn reachable_authority(host: Option<&HeaderValue>, local_addr: SocketAddr) -> String {
    if let Some(host) = host.and_then(|h| h.to_str().ok())
        && is_plausible_authority(host)
        && !names_unspecified_address(host)
    {
        return host.to_string();
    }
    // The connection's local address is concrete even when listening on 0.0.0.0; the fallback for a truly
    // unspecified one (impossible for an accepted TCP connection, kept for safety) is loopback.
    let ip = if local_addr.ip().is_unspecified() { [127, 0, 0, 1].into() } else { local_addr.ip() };
    SocketAddr::new(ip, local_addr.port()).to_string()
}

/// Host header syntax we copy into the WSDL verbatim: host names, IPv4, bracketed IPv6, an optional port. Anything
/// else (spaces, quotes, angle brackets) could break the XML or the URL, so it is ignored.
fn is_plausible_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

fn names_unspecified_address(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(host, _port)| host),
    };
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsdl_query_is_matched_case_insensitively() {
        for (query, expected) in [
            (Some("wsdl"), true),
            (Some("WSDL"), true),
            (Some("Wsdl="), true),
            (Some("wsdl=1"), true),
            (Some("a=b&wsdl"), true),
            (Some("xsd=1"), false),
            (Some("wsdlx"), false),
            (Some(""), false),
            (None, false),
        ] {
            assert_eq!(wants_wsdl(query), expected, "query {query:?}");
        }
    }

    #[test]
    fn soap_content_types_are_recognised() {
        for (value, expected) in [
            ("text/xml", true),
            ("text/xml; charset=utf-8", true),
            ("TEXT/XML;charset=UTF-8", true),
            ("application/soap+xml; charset=utf-8; action=\"urn:x\"", true),
            (" application/SOAP+xml ", true),
            ("application/xml", false),
            ("text/plain", false),
            ("", false),
        ] {
            assert_eq!(is_soap_content_type(Some(&HeaderValue::from_static(value))), expected, "{value:?}");
        }
        assert!(!is_soap_content_type(None));
    }

    #[test]
    fn wsdl_authority_is_reachable() {
        let local: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        let check = |host: Option<&'static str>, expected: &str| {
            let header = host.map(HeaderValue::from_static);
            assert_eq!(reachable_authority(header.as_ref(), local), expected, "Host {host:?}");
        };
        check(Some("example.org:9000"), "example.org:9000");
        check(Some("[::1]:8080"), "[::1]:8080");
        check(Some("localhost"), "localhost");
        check(Some("0.0.0.0:8080"), "10.1.2.3:8080");
        check(Some("[::]:8080"), "10.1.2.3:8080");
        check(Some("evil\"><x"), "10.1.2.3:8080");
        check(None, "10.1.2.3:8080");
        let unspecified: SocketAddr = "0.0.0.0:81".parse().unwrap();
        assert_eq!(reachable_authority(None, unspecified), "127.0.0.1:81");
    }
}
