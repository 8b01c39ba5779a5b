//! SOAP faults: why a request could not be processed at all, and how that is written on the wire.
//!
//! A fault is not a domain rejection (sold out, not authorized): those are ordinary responses with
//! `success=false`, rendered by [`crate::render_response`]. Faults are for envelopes that cannot be
//! read and for a service that cannot answer. This module is the one place where such failures become
//! SOAP faults; it does not decide *when* the service is unavailable (the front end does).

use crate::SoapVersion;
use crate::render::Out;

/// Why a request could not be processed. Each kind has a stable `ServiceError/code` ([`FaultKind::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Not well-formed XML (including bytes that are not UTF-8, characters XML 1.0 forbids, undeclared
    /// entities, truncation), or not a SOAP envelope (no Body, stray content), or over the depth and
    /// element-count limits.
    MalformedXml,
    /// The root is an `Envelope` in a namespace that is neither SOAP 1.1 nor SOAP 1.2.
    VersionMismatch,
    /// A header block addressed to this service is marked `mustUnderstand` and the service does not
    /// process it.
    MustUnderstand,
    /// The document has a DOCTYPE. It is refused before any entity could be expanded.
    DoctypeForbidden,
    /// The Body's child is not one of the seven operations in `urn:cineflix:booking:v1`, or is absent.
    UnknownOperation,
    /// A required parameter element of the operation is absent.
    MissingElement,
    /// A parameter is not of its schema type (e.g. not an `xs:int`), appears twice, is not text, or is
    /// not a parameter of the operation at all.
    InvalidValue,
    /// No agreeing majority of replicas answered in time. Retrying later may succeed.
    ServiceUnavailable,
    /// A bug or an unexpected internal failure.
    Internal,
}

impl FaultKind {
    /// Every kind, for tests and documentation tables.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::MalformedXml,
        FaultKind::VersionMismatch,
        FaultKind::MustUnderstand,
        FaultKind::DoctypeForbidden,
        FaultKind::UnknownOperation,
        FaultKind::MissingElement,
        FaultKind::InvalidValue,
        FaultKind::ServiceUnavailable,
        FaultKind::Internal,
    ];

    /// The `ServiceError/code` the fault's detail carries, e.g. `MALFORMED_XML`.
    pub fn code(self) -> &'static str {
        match self {
            FaultKind::MalformedXml => "MALFORMED_XML",
            FaultKind::VersionMismatch => "VERSION_MISMATCH",
            FaultKind::MustUnderstand => "MUST_UNDERSTAND",
            FaultKind::DoctypeForbidden => "DOCTYPE_FORBIDDEN",
            FaultKind::UnknownOperation => "UNKNOWN_OPERATION",
            FaultKind::MissingElement => "MISSING_ELEMENT",
            FaultKind::InvalidValue => "INVALID_VALUE",
            FaultKind::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            FaultKind::Internal => "INTERNAL",
        }
    }

    /// Whether the sender is at fault: the same request sent again fails again. `false` means the
    /// service is (SOAP 1.1 `Server`, SOAP 1.2 `Receiver`) and a retry may succeed.
    pub fn is_sender(self) -> bool {
        !matches!(self, FaultKind::ServiceUnavailable | FaultKind::Internal)
    }

    /// The fault code's local name in the envelope namespace, per SOAP version.
    fn soap_code(self, version: SoapVersion) -> &'static str {
        match (self, version) {
            (FaultKind::VersionMismatch, _) => "VersionMismatch",
            (FaultKind::MustUnderstand, _) => "MustUnderstand",
            (kind, SoapVersion::V11) if kind.is_sender() => "Client",
            (_, SoapVersion::V11) => "Server",
            (kind, SoapVersion::V12) if kind.is_sender() => "Sender",
            (_, SoapVersion::V12) => "Receiver",
        }
    }
}

/// A SOAP fault, ready to render in the version the client spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The envelope version to answer in. When the request's version is unknown (not UTF-8, no
    /// envelope, unknown envelope namespace) this is SOAP 1.1; the front end may overwrite it from the
    /// request's content type.
    pub version: SoapVersion,
    pub kind: FaultKind,
    /// Human text for `faultstring` / `env:Text` and `ServiceError/message`.
    pub message: String,
}

impl Fault {
    pub fn new(version: SoapVersion, kind: FaultKind, message: impl Into<String>) -> Fault {
        Fault { version, kind, message: message.into() }
    }

    /// HTTP status: SOAP 1.1 always 500 (JAX-WS and suds ignore a fault sent with 400); SOAP 1.2 400
    /// for `env:Sender` faults and 500 for the rest, as SOAP 1.2 part 2 (table 20) maps
    /// `env:Receiver`, `env:VersionMismatch` and `env:MustUnderstand` to 500.
    pub fn http_status(&self) -> u16 {
        match self.version {
            SoapVersion::V11 => 500,
            SoapVersion::V12 if self.kind.soap_code(SoapVersion::V12) == "Sender" => 400,
            SoapVersion::V12 => 500,
        }
    }

    /// The fault envelope, UTF-8. Send it with [`SoapVersion::content_type`] of `self.version`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Out::with_capacity(512 + self.message.len() * 2);
        out.raw(r#"<?xml version="1.0" encoding="utf-8"?>"#);
        match self.version {
            SoapVersion::V11 => {
                out.raw(r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:"#);
                out.raw(self.kind.soap_code(SoapVersion::V11));
                out.raw("</faultcode><faultstring>");
                out.text(&self.message);
                out.raw("</faultstring><detail>");
                self.service_error(&mut out);
                out.raw("</detail></soap:Fault></soap:Body></soap:Envelope>");
            }
            SoapVersion::V12 => {
                out.raw(r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">"#);
                if self.kind == FaultKind::VersionMismatch {
                    // SOAP 1.2 part 1, 5.4.7: say which envelopes we do speak.
                    out.raw(concat!(
                        "<env:Header><env:Upgrade>",
                        r#"<env:SupportedEnvelope qname="ns1:Envelope" xmlns:ns1="http://www.w3.org/2003/05/soap-envelope"/>"#,
                        r#"<env:SupportedEnvelope qname="ns2:Envelope" xmlns:ns2="http://schemas.xmlsoap.org/soap/envelope/"/>"#,
                        "</env:Upgrade></env:Header>"
                    ));
                }
                out.raw("<env:Body><env:Fault><env:Code><env:Value>env:");
                out.raw(self.kind.soap_code(SoapVersion::V12));
                out.raw(r#"</env:Value></env:Code><env:Reason><env:Text xml:lang="en">"#);
                out.text(&self.message);
                out.raw("</env:Text></env:Reason><env:Detail>");
                self.service_error(&mut out);
                out.raw("</env:Detail></env:Fault></env:Body></env:Envelope>");
            }
        }
        out.into_inner()
    }

    /// The `ServiceError` detail element, exactly as the WSDL's fault element declares it, so that
    /// typed clients (JAX-WS, .NET) raise the declared exception.
    fn service_error(&self, out: &mut Out) {
        out.raw(r#"<ServiceError xmlns="urn:cineflix:booking:v1"><code>"#);
        out.raw(self.kind.code());
        out.raw("</code><message>");
        out.text(&self.message);
        out.raw("</message></ServiceError>");
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Fault {}
