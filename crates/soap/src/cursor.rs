//! A bounded, forward-only cursor over quick-xml's `NsReader`, shared by request and response parsing.
//!
//! It turns quick-xml events into the few items an envelope parser cares about (element opened with
//! its resolved namespace, element closed, text), enforces the limits that keep the work per message
//! bounded, and turns every XML-level problem into a [`Fault`]. It deliberately knows nothing about
//! SOAP or CineFlix elements beyond classifying the namespaces it resolves.

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use crate::{Fault, FaultKind, NAMESPACE, SOAP11_ENVELOPE_NAMESPACE, SOAP12_ENVELOPE_NAMESPACE, SoapVersion};

/// Deepest element nesting accepted. CineFlix envelopes need 4 levels, WS-Security headers 6.
pub(crate) const DEPTH_MAX: u32 = 32;
/// Most elements accepted in one message. A request needs about 12; a response grows with its list
/// (a full listing is a few hundred shows, 9 elements each).
pub(crate) const ELEMENTS_MAX: u32 = 64 * 1024;
/// Most namespace bindings in scope at once; resolving a prefix scans them all.
const NAMESPACE_BINDINGS_MAX: usize = 64;
/// Most attributes inspected on one element (header blocks only).
pub(crate) const ATTRIBUTES_MAX: usize = 64;
/// Longest excerpt of client-supplied names quoted back in fault messages.
const QUOTE_CHARS_MAX: usize = 64;
/// Longest quick-xml error text in a fault message (it may quote the input).
const ERROR_CHARS_MAX: usize = 240;

/// The namespaces the parsers distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ns {
    Soap11,
    Soap12,
    Cineflix,
    /// No prefix and no default namespace in scope.
    Unqualified,
    Other,
}

impl Ns {
    fn classify(namespace: &str) -> Ns {
        match namespace {
            NAMESPACE => Ns::Cineflix,
            SOAP11_ENVELOPE_NAMESPACE => Ns::Soap11,
            SOAP12_ENVELOPE_NAMESPACE => Ns::Soap12,
            _ => Ns::Other,
        }
    }

    pub(crate) fn envelope(version: SoapVersion) -> Ns {
        match version {
            SoapVersion::V11 => Ns::Soap11,
            SoapVersion::V12 => Ns::Soap12,
        }
    }
}

/// An element start, attributes included, with its local name as a plain `&str`.
#[derive(Debug)]
pub(crate) struct Start<'i> {
    tag: BytesStart<'i>,
    /// Length of the local name (the end of the qualified name), found once when the namespace is
    /// resolved: parsers compare local names several times per element.
    local_len: usize,
}

impl Start<'_> {
    #[inline]
    pub(crate) fn local_name(&self) -> &str {
        let name: &str = self.tag.name().into_inner();
        &name[name.len() - self.local_len..]
    }

    /// The start tag with its attributes.
    pub(crate) fn tag(&self) -> &BytesStart<'_> {
        &self.tag
    }
}

/// What the cursor yields. Comments, processing instructions and the XML declaration are skipped.
#[derive(Debug)]
pub(crate) enum Item<'i> {
    /// An element start (`<a>` or `<a/>`; an empty element is followed by a [`Item::Close`]).
    Open(Start<'i>, Ns),
    Close,
    /// Character data with references resolved and line ends normalized; may come in several pieces.
    Text(Cow<'i, str>),
    /// A character or predefined entity reference, resolved.
    Char(char),
    /// End of input at depth 0.
    Eof,
}

pub(crate) struct Cursor<'i> {
    reader: NsReader<&'i [u8]>,
    /// Elements currently open.
    depth: u32,
    /// Elements opened so far.
    elements: u32,
    /// The last element was `<a/>`: its Close has not been yielded yet.
    close_pending: bool,
    /// The version faults are rendered in; set once the envelope is known.
    pub(crate) version: SoapVersion,
}

impl<'i> Cursor<'i> {
    /// Starts reading `body`, which must be UTF-8 (a leading byte order mark is skipped).
    pub(crate) fn new(body: &'i [u8]) -> Result<Cursor<'i>, Fault> {
        let text = Cursor::utf8(body)?;
        let mut reader = NsReader::from_str(text);
        reader.resolver_mut().set_max_namespace_bindings(NAMESPACE_BINDINGS_MAX);
        Ok(Cursor { reader, depth: 0, elements: 0, close_pending: false, version: SoapVersion::V11 })
    }

    /// Starts reading `body` without first checking that all of it is UTF-8 (a leading byte order mark
    /// is skipped): quick-xml checks every piece it reads, so what the caller reads is checked and what
    /// it leaves unread is not. For readers that stop early ([`crate::parse_response_code`]); whole-message
    /// parsers use [`Cursor::new`], which rejects a bad byte anywhere before reading anything.
    pub(crate) fn streaming(body: &'i [u8]) -> Cursor<'i> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let mut reader = NsReader::from_reader(body);
        reader.resolver_mut().set_max_namespace_bindings(NAMESPACE_BINDINGS_MAX);
        Cursor { reader, depth: 0, elements: 0, close_pending: false, version: SoapVersion::V11 }
    }

    fn utf8(body: &'i [u8]) -> Result<&'i str, Fault> {
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        std::str::from_utf8(body).map_err(|error| {
            Fault::new(
                SoapVersion::V11,
                FaultKind::MalformedXml,
                format!("the message is not UTF-8 (invalid byte at offset {})", error.valid_up_to()),
            )
        })
    }

    pub(crate) fn fault(&self, kind: FaultKind, message: impl Into<String>) -> Fault {
        Fault::new(self.version, kind, message)
    }

    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    pub(crate) fn next(&mut self) -> Result<Item<'i>, Fault> {
        if self.close_pending {
            self.close_pending = false;
            self.depth -= 1;
            return Ok(Item::Close);
        }
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(error) => {
                    let error = error.to_string();
                    return Err(
                        self.fault(FaultKind::MalformedXml, format!("XML error: {}", cut(&error, ERROR_CHARS_MAX)))
                    );
                }
            };
            return match event {
                Event::Start(start) => self.open(start, false),
                Event::Empty(start) => self.open(start, true),
                Event::End(_) => {
                    // quick-xml checks that end names match and that no end comes unopened.
                    self.depth = self.depth.saturating_sub(1);
                    Ok(Item::Close)
                }
                Event::Text(text) => {
                    let content = text.xml10_content();
                    check_xml_chars(&content).map_err(|message| self.fault(FaultKind::MalformedXml, message))?;
                    Ok(Item::Text(content))
                }
                Event::CData(data) => {
                    let content = data.xml10_content();
                    check_xml_chars(&content).map_err(|message| self.fault(FaultKind::MalformedXml, message))?;
                    Ok(Item::Text(content))
                }
                Event::GeneralRef(reference) => self.reference(&reference),
                Event::DocType(_) => Err(self.fault(
                    FaultKind::DoctypeForbidden,
                    "a DOCTYPE is not allowed in a SOAP message (no DTD or entity is ever expanded)",
                )),
                Event::Comment(_) | Event::PI(_) | Event::Decl(_) => continue,
                Event::Eof if self.depth > 0 => {
                    Err(self.fault(FaultKind::MalformedXml, "the message ends before its elements are closed"))
                }
                Event::Eof => Ok(Item::Eof),
            };
        }
    }

    fn open(&mut self, start: BytesStart<'i>, empty: bool) -> Result<Item<'i>, Fault> {
        self.depth += 1;
        self.elements += 1;
        self.check_limits()?;
        let (resolved, local) = self.reader.resolver().resolve_element(start.name());
        let local_len = local.as_ref().len();
        let ns = match resolved {
            ResolveResult::Bound(Namespace(namespace)) => Ns::classify(namespace),
            ResolveResult::Unbound => Ns::Unqualified,
            ResolveResult::Unknown(prefix) => {
                return Err(self
                    .fault(FaultKind::MalformedXml, format!("namespace prefix '{}' is not declared", quote(&prefix))));
            }
        };
        self.close_pending = empty;
        Ok(Item::Open(Start { tag: start, local_len }, ns))
    }

    fn check_limits(&self) -> Result<(), Fault> {
        if self.depth > DEPTH_MAX {
            return Err(self.fault(FaultKind::MalformedXml, format!("elements nest deeper than {DEPTH_MAX} levels")));
        }
        if self.elements > ELEMENTS_MAX {
            return Err(
                self.fault(FaultKind::MalformedXml, format!("the message has more than {ELEMENTS_MAX} elements"))
            );
        }
        Ok(())
    }

    fn reference(&self, reference: &quick_xml::events::BytesRef<'_>) -> Result<Item<'i>, Fault> {
        let resolved = match reference.resolve_char_ref() {
            Ok(Some(ch)) => Some(ch).filter(|&ch| is_xml_char(ch)),
            Ok(None) => match &**reference {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "apos" => Some('\''),
                "quot" => Some('"'),
                _ => {
                    return Err(self.fault(
                        FaultKind::MalformedXml,
                        format!(
                            "entity '&{};' is not declared (only the five predefined entities are)",
                            quote(reference)
                        ),
                    ));
                }
            },
            Err(_) => None,
        };
        resolved.map(Item::Char).ok_or_else(|| {
            self.fault(
                FaultKind::MalformedXml,
                format!("character reference '&{};' names a character XML 1.0 forbids", quote(reference)),
            )
        })
    }

    /// The namespace a `prefix:local` attribute name resolves to (unprefixed attributes have none).
    pub(crate) fn attribute_ns(&self, name: quick_xml::name::QName<'_>) -> Ns {
        match self.reader.resolver().resolve_attribute(name).0 {
            ResolveResult::Bound(Namespace(namespace)) => Ns::classify(namespace),
            ResolveResult::Unbound => Ns::Unqualified,
            ResolveResult::Unknown(_) => Ns::Other,
        }
    }

    /// The expanded name `{namespace}local` of an element just opened, for fault messages.
    pub(crate) fn describe(&self, start: &Start<'_>) -> String {
        match self.reader.resolver().resolve_element(start.tag.name()) {
            (ResolveResult::Bound(Namespace(namespace)), local) => {
                format!("{{{}}}{}", quote(namespace), quote(local.as_ref()))
            }
            (_, local) => quote(local.as_ref()).into_owned(),
        }
    }

    /// Skips the rest of the element just opened (its Close included).
    pub(crate) fn skip_element(&mut self) -> Result<(), Fault> {
        let target = self.depth - 1;
        while self.depth > target {
            self.next()?;
        }
        Ok(())
    }

    /// Reads the text content of the element just opened, through its Close. `Err(None)` when the
    /// element has a child element (the rest of it is then left unread); `Err(Some(fault))` for XML errors.
    pub(crate) fn text_content(&mut self) -> Result<Cow<'i, str>, Option<Fault>> {
        let mut text: Cow<'i, str> = Cow::Borrowed("");
        loop {
            match self.next().map_err(Some)? {
                Item::Close => return Ok(text),
                Item::Text(piece) if text.is_empty() => text = piece,
                Item::Text(piece) => text.to_mut().push_str(&piece),
                Item::Char(ch) => text.to_mut().push(ch),
                Item::Open(..) => return Err(None),
                // `next` reports Eof inside an element as an error.
                Item::Eof => return Err(Some(self.fault(FaultKind::MalformedXml, "unexpected end of input"))),
            }
        }
    }
}

pub(crate) fn is_xml_whitespace(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Whether XML 1.0 allows `ch` in a document (production `Char`).
pub(crate) fn is_xml_char(ch: char) -> bool {
    matches!(ch, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Rejects characters XML 1.0 forbids in raw text: C0 controls other than tab, LF and CR, and
/// U+FFFE/U+FFFF (surrogates cannot occur in a `str`). Byte-wise because this runs on every text.
fn check_xml_chars(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        let forbidden = match byte {
            b'\t' | b'\n' | b'\r' => false,
            0..=0x1F => true,
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF => bytes.get(index + 1) == Some(&0xBF) && matches!(bytes.get(index + 2), Some(0xBE | 0xBF)),
            _ => false,
        };
        if forbidden {
            return Err(format!("text contains a character XML 1.0 forbids (at byte {index} of a text node)"));
        }
    }
    Ok(())
}

/// A client-supplied name, cut short for quoting in a fault message.
pub(crate) fn quote(text: &str) -> Cow<'_, str> {
    cut(text, QUOTE_CHARS_MAX)
}

fn cut(text: &str, chars_max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(chars_max) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}
