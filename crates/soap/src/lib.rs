//! SOAP 1.1/1.2 for CineFlix: request envelopes in, response and fault envelopes out, the WSDL,
//! and the client side of the same (building requests, reading responses).
//!
//! This is the only crate that knows XML. It deliberately does **no I/O** and knows nothing of HTTP
//! beyond the content type of a version and the status a fault maps to: checking methods, content
//! types and body sizes (405, 415, 413) is the front end's job. It checks only what the schema says
//! (element presence, `xs:int`); whether an ID, a movie name or a quantity is acceptable is decided by
//! the replicas, so that every replica rejects bad input with the same result code.
//!
//! Entry points:
//! - server side: [`parse_request`] → replicas → [`render_response`], or a [`Fault`] rendered with
//!   [`Fault::render`] (the one place where failures become SOAP faults);
//! - client side: [`build_request`] → HTTP → [`parse_response`] (or [`parse_response_code`] when only the
//!   result code matters, as in the load generator);
//! - [`wsdl`]: the contract in `wsdl/cineflix.wsdl`, with the address clients should use.
//!
//! Parsing is a single forward pass over quick-xml's `NsReader` (no DOM, no serde), bounded in depth
//! and element count; quick-xml is the only XML tokenizer (none is written by hand here). Rendering
//! writes straight into one pre-sized buffer. Both sit on the front end's and the load generator's
//! hot paths.

mod client;
mod cursor;
mod envelope;
mod fault;
mod parse;
mod render;
mod wire;
mod wsdl;

pub use client::{ClientError, ClientResponse, parse_response, parse_response_code};
pub use fault::{Fault, FaultKind};
pub use parse::parse_request;
pub use render::{build_request, build_request_into, render_response, render_response_with_message};
pub use wsdl::wsdl;

/// The target namespace of the WSDL: every payload element lives in it.
pub const NAMESPACE: &str = "urn:cineflix:booking:v1";

/// The SOAP 1.1 envelope namespace.
pub const SOAP11_ENVELOPE_NAMESPACE: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// The SOAP 1.2 envelope namespace.
pub const SOAP12_ENVELOPE_NAMESPACE: &str = "http://www.w3.org/2003/05/soap-envelope";

/// Which SOAP envelope a message uses. A response always uses the version of its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SoapVersion {
    /// SOAP 1.1 (`text/xml`), the WSDL port `CineflixSoap11`.
    V11,
    /// SOAP 1.2 (`application/soap+xml`), the WSDL port `CineflixSoap12`.
    V12,
}

impl SoapVersion {
    /// The HTTP `Content-Type` of a message in this version.
    pub fn content_type(self) -> &'static str {
        match self {
            SoapVersion::V11 => "text/xml; charset=utf-8",
            SoapVersion::V12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// The envelope namespace of this version.
    pub fn envelope_namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_ENVELOPE_NAMESPACE,
            SoapVersion::V12 => SOAP12_ENVELOPE_NAMESPACE,
        }
    }
}

/// A request envelope understood: which SOAP version to answer in, and what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRequest {
    pub version: SoapVersion,
    pub request: booking::Request,
}
