//! The HTTP side of the client: the endpoint URL, keep-alive HTTP/1.1 connections, and
//! turning one HTTP exchange into an answer, a fault or an error.
//!
//! SOAP envelopes are built and parsed only by the `soap` crate (`soap::build_request`,
//! `soap::parse_response`); this module deliberately knows no XML. It speaks plain
//! `http://` only: the service is reached on loopback or behind a TLS-terminating proxy.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use std::fmt;
use std::time::Duration;

/// Where the service listens, from a URL such as `http://127.0.0.1:8080/cineflix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL as given, for messages and reports.
    pub url: String,
    pub host: String,
    pub port: u16,
    /// `host:port` as sent in the `Host` header.
    pub authority: String,
    /// Path and query of the POST, e.g. `/cineflix`.
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: hyper::Uri = url.parse().map_err(|error| format!("invalid endpoint URL {url:?}: {error}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(format!("endpoint URL {url:?}: scheme {other:?} is not supported (use http://)"));
            }
            None => return Err(format!("endpoint URL {url:?} needs a scheme, e.g. http://127.0.0.1:8080/cineflix")),
        }
        let host =
            uri.host().filter(|host| !host.is_empty()).ok_or_else(|| format!("endpoint URL {url:?} has no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        // An IPv6 literal keeps its brackets in the Host header but not for connecting.
        let connect_host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_else(|| host.to_owned());
        let path = match uri.path_and_query() {
            Some(path) if !path.as_str().is_empty() => path.as_str().to_owned(),
            _ => "/".to_owned(),
        };
        Ok(Endpoint { url: url.to_owned(), host: connect_host, port, authority, path })
    }
}

/// Why a request got no SOAP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Connecting, sending or receiving failed (refused, reset, closed early).
    Transport(String),
    /// No complete answer within the timeout.
    Timeout(Duration),
    /// The service answered with a SOAP fault (`code` is the ServiceError detail code).
    Fault { code: String, message: String },
    /// An HTTP error without a SOAP fault body (404, 405, 413, 415, a 5xx from a proxy...).
    Http { status: u16, excerpt: String },
    /// A 200 answer that is not a response envelope we understand.
    Malformed(String),
}

impl CallError {
    /// Short stable name of the error kind (for JSON output and bench reports).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Transport(_) => "transport",
            CallError::Timeout(_) => "timeout",
            CallError::Fault { .. } => "fault",
            CallError::Http { .. } => "http",
            CallError::Malformed(_) => "malformed",
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Transport(message) => write!(f, "transport error: {message}"),
            CallError::Timeout(timeout) => write!(f, "no answer within {} ms", timeout.as_millis()),
            CallError::Fault { code, message } => write!(f, "SOAP fault {code}: {message}"),
            CallError::Http { status, excerpt } if excerpt.is_empty() => write!(f, "HTTP {status} without a SOAP body"),
            CallError::Http { status, excerpt } => write!(f, "HTTP {status} without a SOAP fault: {excerpt}"),
            CallError::Malformed(message) => write!(f, "unreadable answer: {message}"),
        }
    }
}

/// One keep-alive HTTP/1.1 connection to the endpoint.
pub type Connection = SendRequest<Full<Bytes>>;

/// Opens a connection (TCP_NODELAY) and spawns its driver task on the current runtime.
pub async fn connect(endpoint: &Endpoint) -> Result<Connection, CallError> {
    let stream = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|error| CallError::Transport(format!("cannot connect to {}: {error}", endpoint.url)))?;
    // Closed-loop request/response traffic: Nagle would add a delayed-ACK wait to each.
    stream.set_nodelay(true).map_err(|error| CallError::Transport(format!("TCP_NODELAY: {error}")))?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| CallError::Transport(format!("HTTP handshake with {}: {error}", endpoint.url)))?;
    // The driver ends when the sender is dropped or the peer closes; its error (if any)
    // surfaces on the next `send_request`, so it is not reported here.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// The parts of every request to one endpoint in one SOAP version that never change, made once:
/// the load generator sends many requests and should not parse the URL or copy header values for
/// each of them.
#[derive(Clone, Debug)]
pub struct RequestHead {
    uri: hyper::Uri,
    host: HeaderValue,
    content_type: HeaderValue,
    version: soap::SoapVersion,
    /// `SOAPAction` values already made, by operation name (SOAP 1.1 only; at most seven).
    soap_actions: Vec<(&'static str, HeaderValue)>,
}

impl RequestHead {
    pub fn new(endpoint: &Endpoint, version: soap::SoapVersion) -> Result<RequestHead, CallError> {
        let invalid = |what: &str| CallError::Transport(format!("cannot build HTTP request: invalid {what}"));
        Ok(RequestHead {
            uri: endpoint.path.parse().map_err(|_| invalid("path"))?,
            host: HeaderValue::from_str(&endpoint.authority).map_err(|_| invalid("Host"))?,
            content_type: HeaderValue::from_static(version.content_type()),
            version,
            soap_actions: Vec::new(),
        })
    }

    /// The `SOAPAction` header value of `operation`, made on first use.
    fn soap_action(&mut self, operation: &'static str) -> HeaderValue {
        if let Some((_, value)) = self.soap_actions.iter().find(|(name, _)| *name == operation) {
            return value.clone();
        }
        let value = HeaderValue::from_str(&format!("\"{}/{operation}\"", soap::NAMESPACE))
            .expect("operation names and the namespace are header-safe ASCII");
        self.soap_actions.push((operation, value.clone()));
        value
    }

    fn request(&mut self, operation: &'static str, envelope: Bytes) -> hyper::Request<Full<Bytes>> {
        let mut request = hyper::Request::new(Full::new(envelope));
        *request.method_mut() = hyper::Method::POST;
        *request.uri_mut() = self.uri.clone();
        let soap_action = (self.version == soap::SoapVersion::V11).then(|| self.soap_action(operation));
        let headers = request.headers_mut();
        headers.reserve(3);
        headers.insert(hyper::header::HOST, self.host.clone());
        headers.insert(hyper::header::CONTENT_TYPE, self.content_type.clone());
        if let Some(soap_action) = soap_action {
            // The service dispatches on the Body's element, not on SOAPAction; the header is
            // sent (with the WSDL's soapAction) because SOAP 1.1 requires it to be present.
            headers.insert(HeaderName::from_static("soapaction"), soap_action);
        }
        request
    }
}

/// Sends one SOAP envelope on `connection` and returns the HTTP status and body.
pub async fn exchange(
    connection: &mut Connection,
    endpoint: &Endpoint,
    version: soap::SoapVersion,
    operation: &'static str,
    envelope: Bytes,
) -> Result<(u16, Bytes), CallError> {
    let mut head = RequestHead::new(endpoint, version)?;
    send(connection, &mut head, operation, envelope).await
}

/// [`exchange`] with the request head made beforehand (see [`RequestHead`]).
pub async fn send(
    connection: &mut Connection,
    head: &mut RequestHead,
    operation: &'static str,
    envelope: Bytes,
) -> Result<(u16, Bytes), CallError> {
    connection.ready().await.map_err(|error| CallError::Transport(format!("connection closed: {error}")))?;
    let request = head.request(operation, envelope);
    let response = connection
        .send_request(request)
        .await
        .map_err(|error| CallError::Transport(format!("HTTP exchange: {error}")))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| CallError::Transport(format!("reading the answer: {error}")))?
        .to_bytes();
    Ok((status, body))
}

/// Turns an HTTP status and body into the service's answer, or the reason there is none.
pub fn interpret(status: u16, body: &[u8]) -> Result<soap::ClientResponse, CallError> {
    classify(status, body, soap::parse_response)
}

/// [`interpret`] for the load generator: only the result code of an answer to `operation` (its request
/// element name), read with `soap::parse_response_code`, which stops after the result and also rejects an
/// answer to another operation.
pub fn interpret_code(status: u16, body: &[u8], operation: &str) -> Result<booking::ResultCode, CallError> {
    classify(status, body, |body| soap::parse_response_code(body, operation))
}

/// The HTTP side of [`interpret`] and [`interpret_code`]: a SOAP status (200, or 400/500 for faults) is read
/// with `read`, any other is an HTTP error, and a normal envelope is an answer only with 200.
fn classify<T>(
    status: u16,
    body: &[u8],
    read: impl FnOnce(&[u8]) -> Result<T, soap::ClientError>,
) -> Result<T, CallError> {
    let soap_status = matches!(status, 200 | 400 | 500);
    if !soap_status {
        return Err(CallError::Http { status, excerpt: excerpt(body) });
    }
    match read(body) {
        Ok(answer) if status == 200 => Ok(answer),
        Ok(_) => Err(CallError::Malformed(format!("HTTP {status} with a normal response envelope"))),
        Err(soap::ClientError::Fault { code, message }) => Err(CallError::Fault { code, message }),
        Err(soap::ClientError::Malformed(message)) if status == 200 => Err(CallError::Malformed(message)),
        Err(soap::ClientError::Malformed(_)) => Err(CallError::Http { status, excerpt: excerpt(body) }),
    }
}

/// The first line of a body, shortened, for error messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.lines().next().unwrap_or("").trim().to_owned()
}

/// A blocking client for the one-request-at-a-time commands (subcommands and interactive
/// mode): each call opens its own connection, so a server restart between two
/// interactive prompts is invisible to the user.
#[derive(Debug)]
pub struct Client {
    pub endpoint: Endpoint,
    pub version: soap::SoapVersion,
    timeout: Duration,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(endpoint: Endpoint, version: soap::SoapVersion, timeout: Duration) -> std::io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Client { endpoint, version, timeout, runtime })
    }

    /// Sends `request` and waits for its answer.
    pub fn call(&self, request: &booking::Request) -> Result<soap::ClientResponse, CallError> {
        let envelope = Bytes::from(soap::build_request(self.version, request));
        let operation = request.operation.name();
        let work = async {
            let mut connection = connect(&self.endpoint).await?;
            exchange(&mut connection, &self.endpoint, self.version, operation, envelope).await
        };
        let (status, body) = self.runtime.block_on(async {
            tokio::time::timeout(self.timeout, work).await.map_err(|_| CallError::Timeout(self.timeout))?
        })?;
        interpret(status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let endpoint = Endpoint::parse("http://127.0.0.1:8080/cineflix").unwrap();
        assert_eq!((endpoint.host.as_str(), endpoint.port), ("127.0.0.1", 8080));
        assert_eq!((endpoint.authority.as_str(), endpoint.path.as_str()), ("127.0.0.1:8080", "/cineflix"));

        let endpoint = Endpoint::parse("http://localhost").unwrap();
        assert_eq!((endpoint.host.as_str(), endpoint.port, endpoint.path.as_str()), ("localhost", 80, "/"));

        let endpoint = Endpoint::parse("http://[::1]:9000/cineflix?x=1").unwrap();
        assert_eq!((endpoint.host.as_str(), endpoint.authority.as_str()), ("::1", "[::1]:9000"));
        assert_eq!(endpoint.path, "/cineflix?x=1");

        assert!(Endpoint::parse("https://example.org/cineflix").is_err());
        assert!(Endpoint::parse("127.0.0.1:8080/cineflix").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn non_soap_statuses_are_http_errors() {
        let error = interpret(404, b"Not Found\nmore").unwrap_err();
        assert_eq!(error, CallError::Http { status: 404, excerpt: "Not Found".to_owned() });
        assert_eq!(error.kind(), "http");
    }
}
