//! The SOAP envelope frame around a payload: root `Envelope` (which fixes the version), optional
//! `Header`, `Body` with exactly one child, and nothing after it.
//!
//! Shared by request and response parsing. It locates elements by namespace and local name only, so any
//! prefix style works (zeep's `soap-env:`, suds' two prefixes for one namespace, default namespaces).
//! It deliberately does not look inside the Body's child: the callers do.

use crate::cursor::{ATTRIBUTES_MAX, Cursor, Item, Ns, Start, is_xml_whitespace, quote};
use crate::{Fault, FaultKind, SoapVersion};

/// What to do with header blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Headers {
    /// Server side: a block addressed to us and marked `mustUnderstand` that we do not process is a
    /// `MustUnderstand` fault; every other block is ignored.
    Enforce,
    /// Client side: ignore every block.
    Ignore,
}

/// Reads the envelope up to the Body's first child element and returns it with its namespace
/// (`None` for an empty Body). Sets `cursor.version`.
pub(crate) fn open_body<'i>(cursor: &mut Cursor<'i>, headers: Headers) -> Result<Option<(Start<'i>, Ns)>, Fault> {
    open_envelope(cursor)?;
    let envelope_ns = Ns::envelope(cursor.version);
    let mut header_seen = false;
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Open(start, ns) if ns == envelope_ns && start.local_name() == "Header" && !header_seen => {
                header_seen = true;
                read_header(cursor, headers)?;
            }
            Item::Open(start, ns) if ns == envelope_ns && start.local_name() == "Body" => {
                return first_child(cursor);
            }
            Item::Open(start, _) => {
                let name = cursor.describe(&start);
                return Err(cursor.fault(
                    FaultKind::MalformedXml,
                    format!("unexpected element {name} in the Envelope (expected an optional Header, then Body)"),
                ));
            }
            Item::Close | Item::Eof => return Err(cursor.fault(FaultKind::MalformedXml, "the Envelope has no Body")),
            Item::Text(_) | Item::Char(_) => {
                return Err(cursor.fault(FaultKind::MalformedXml, "text is not allowed directly in the Envelope"));
            }
        }
    }
}

fn open_envelope(cursor: &mut Cursor<'_>) -> Result<(), Fault> {
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Open(start, ns) if start.local_name() == "Envelope" => {
                cursor.version = match ns {
                    Ns::Soap11 => SoapVersion::V11,
                    Ns::Soap12 => SoapVersion::V12,
                    _ => {
                        let name = cursor.describe(&start);
                        return Err(cursor.fault(
                            FaultKind::VersionMismatch,
                            format!(
                                "the root element is {name}; a SOAP 1.1 or SOAP 1.2 Envelope was expected \
                                 ({} or {})",
                                crate::SOAP11_ENVELOPE_NAMESPACE,
                                crate::SOAP12_ENVELOPE_NAMESPACE
                            ),
                        ));
                    }
                };
                return Ok(());
            }
            Item::Open(start, _) => {
                let name = cursor.describe(&start);
                return Err(
                    cursor.fault(FaultKind::MalformedXml, format!("the root element is {name}, not a SOAP Envelope"))
                );
            }
            Item::Eof => return Err(cursor.fault(FaultKind::MalformedXml, "the message has no root element")),
            Item::Close | Item::Text(_) | Item::Char(_) => {
                return Err(cursor.fault(FaultKind::MalformedXml, "text is not allowed before the root element"));
            }
        }
    }
}

/// Reads the Header's blocks through the Header's Close.
fn read_header(cursor: &mut Cursor<'_>, headers: Headers) -> Result<(), Fault> {
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Open(block, ns) => {
                if headers == Headers::Enforce {
                    check_header_block(cursor, &block, ns)?;
                }
                cursor.skip_element()?;
            }
            Item::Close => return Ok(()),
            Item::Eof | Item::Text(_) | Item::Char(_) => {
                return Err(cursor.fault(FaultKind::MalformedXml, "text is not allowed directly in the Header"));
            }
        }
    }
}

/// Whether this service processes the header block `{ns}local`. None yet: when WS-Security
/// UsernameToken lands, `{wsse}Security` is recognized here and read (instead of skipped) into the
/// parsed request, and `mustUnderstand` on it stops being a fault.
fn understands(_ns: Ns, _local: &str) -> bool {
    false
}

fn check_header_block(cursor: &Cursor<'_>, block: &Start<'_>, ns: Ns) -> Result<(), Fault> {
    let envelope_ns = Ns::envelope(cursor.version);
    let mut must_understand = false;
    let mut targeted = true;
    for attribute in block.tag().attributes().with_checks(false).take(ATTRIBUTES_MAX) {
        let attribute = attribute.map_err(|error| {
            cursor.fault(FaultKind::MalformedXml, format!("bad attribute on a header block: {error}"))
        })?;
        if cursor.attribute_ns(attribute.key) != envelope_ns {
            continue;
        }
        let value = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|error| {
            cursor.fault(FaultKind::MalformedXml, format!("bad attribute value on a header block: {error}"))
        })?;
        let value = value.trim_matches(|ch| matches!(ch, ' ' | '\t' | '\n' | '\r'));
        match attribute.key.local_name().as_ref() {
            "mustUnderstand" => {
                must_understand = match value {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    other => {
                        return Err(cursor.fault(
                            FaultKind::InvalidValue,
                            format!("mustUnderstand must be 1, 0, true or false, not '{}'", quote(other)),
                        ));
                    }
                }
            }
            // A block for another intermediary is not ours to understand (SOAP 1.1 section 4.2.2).
            "actor" if cursor.version == SoapVersion::V11 => {
                targeted = value == "http://schemas.xmlsoap.org/soap/actor/next";
            }
            // SOAP 1.2 part 1, 2.2: we act in the roles next and ultimateReceiver only.
            "role" if cursor.version == SoapVersion::V12 => {
                targeted = matches!(
                    value,
                    "http://www.w3.org/2003/05/soap-envelope/role/next"
                        | "http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"
                );
            }
            _ => {}
        }
    }
    if must_understand && targeted && !understands(ns, block.local_name()) {
        let name = cursor.describe(block);
        return Err(cursor.fault(
            FaultKind::MustUnderstand,
            format!("header block {name} is marked mustUnderstand, but this service processes no header blocks"),
        ));
    }
    Ok(())
}

/// Returns the Body's first child element, or `None` when the Body is empty.
fn first_child<'i>(cursor: &mut Cursor<'i>) -> Result<Option<(Start<'i>, Ns)>, Fault> {
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Open(start, ns) => return Ok(Some((start, ns))),
            Item::Close => return Ok(None),
            Item::Eof | Item::Text(_) | Item::Char(_) => {
                return Err(cursor.fault(FaultKind::MalformedXml, "text is not allowed directly in the Body"));
            }
        }
    }
}

/// After the Body's child was read through its Close: checks that the Body and Envelope close with
/// nothing else in them, and that nothing but comments and whitespace follow.
pub(crate) fn close_body(cursor: &mut Cursor<'_>) -> Result<(), Fault> {
    debug_assert_eq!(cursor.depth(), 2, "close_body is called inside the Body");
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Close if cursor.depth() == 0 => break,
            Item::Close => {}
            Item::Open(start, _) => {
                let name = cursor.describe(&start);
                let place = if cursor.depth() == 3 {
                    "the Body must contain exactly one element"
                } else {
                    "nothing may follow the Body"
                };
                return Err(cursor.fault(FaultKind::MalformedXml, format!("unexpected element {name}: {place}")));
            }
            Item::Eof | Item::Text(_) | Item::Char(_) => {
                return Err(cursor.fault(FaultKind::MalformedXml, "unexpected text after the Body's element"));
            }
        }
    }
    loop {
        match cursor.next()? {
            Item::Text(text) if is_xml_whitespace(&text) => {}
            Item::Eof => return Ok(()),
            _ => return Err(cursor.fault(FaultKind::MalformedXml, "content after the end of the Envelope")),
        }
    }
}
