//! A fast tokenizer for the common shape of SOAP messages, used before quick-xml's `NsReader`.
//!
//! It reads a deliberately small subset of XML: an optional canonical XML declaration at byte 0,
//! elements whose names are plain ASCII with at most one prefix, attributes that are only
//! namespace declarations of plain values, text without CR or characters XML 1.0 forbids, and the
//! five predefined entity references. That is what CineFlix's renderer, zeep, suds and most stacks
//! send. Namespaces are classified once per declaration, not once per element, and nothing is
//! allocated: every name and text borrows from the input.
//!
//! It deliberately never reports an XML error of its own: on anything outside the subset, or
//! anything malformed, it answers [`Bail`], and the caller parses the whole message again with
//! quick-xml, which then decides (and words) every error. So the subset only has to be a part of
//! what quick-xml accepts, read the same way; differential tests check that.

use crate::cursor::{DEPTH_MAX, Ns};

/// The message leaves the subset (or is malformed): parse it with quick-xml instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bail;

/// What the tokenizer yields; mirrors the cursor's items (an empty element yields only `Start`
/// with `empty` set, as quick-xml's `Event::Empty`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token<'i> {
    Start { name: &'i str, local: &'i str, ns: Ns, empty: bool },
    End,
    Text(&'i str),
    Char(char),
    Eof,
}

/// Most namespace declarations in scope at once; more is unusual enough to leave to quick-xml.
const BINDINGS_MAX: usize = 16;

/// The canonical XML declarations accepted at byte 0 (quick-xml skips a declaration's content).
const DECLARATIONS: [&str; 6] = [
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<?xml version='1.0' encoding='utf-8'?>"#,
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<?xml version='1.0' encoding='UTF-8'?>"#,
    r#"<?xml version="1.0"?>"#,
    r#"<?xml version='1.0'?>"#,
];

#[derive(Clone, Copy, Debug)]
struct Binding<'i> {
    /// Empty for the default namespace.
    prefix: &'i str,
    namespace: &'i str,
    ns: Ns,
    /// Depth of the element that declared it.
    depth: usize,
}

const NO_BINDING: Binding<'static> = Binding { prefix: "", namespace: "", ns: Ns::Other, depth: 0 };

/// Byte classes of text content.
const TEXT_PLAIN: u8 = 0;
/// `<` or `&`: the text piece ends.
const TEXT_STOP: u8 = 1;
/// `>`, CR, C0 controls other than tab and LF: outside the subset.
const TEXT_BAIL: u8 = 2;
/// 0xEF starts U+FFFE/U+FFFF (forbidden) among other characters: look closer.
const TEXT_EF: u8 = 3;

static TEXT_CLASS: [u8; 256] = {
    let mut table = [TEXT_PLAIN; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = TEXT_BAIL;
        byte += 1;
    }
    table[b'\t' as usize] = TEXT_PLAIN;
    table[b'\n' as usize] = TEXT_PLAIN;
    table[b'<' as usize] = TEXT_STOP;
    table[b'&' as usize] = TEXT_STOP;
    table[b'>' as usize] = TEXT_BAIL;
    table[0xEF] = TEXT_EF;
    table
};

/// Name byte classes: names in the subset are ASCII letters, digits, `_`, `-`, `.`, and one `:`.
const NAME_NOT: u8 = 0;
/// A letter or `_`: may start a name or a local part.
const NAME_START: u8 = 1;
/// A digit, `-`, `.` or `:`: inside a name only.
const NAME_INNER: u8 = 2;

static NAME_CLASS: [u8; 256] = {
    let mut table = [NAME_NOT; 256];
    let mut byte = 0;
    while byte < 256 {
        if (byte as u8).is_ascii_alphabetic() {
            table[byte] = NAME_START;
        } else if (byte as u8).is_ascii_digit() {
            table[byte] = NAME_INNER;
        }
        byte += 1;
    }
    table[b'_' as usize] = NAME_START;
    table[b'-' as usize] = NAME_INNER;
    table[b'.' as usize] = NAME_INNER;
    table[b':' as usize] = NAME_INNER;
    table
};

/// Bytes of an attribute value in the subset: not `<`, `&`, quotes or controls.
fn is_plain_value_byte(byte: u8) -> bool {
    byte >= 0x20 && !matches!(byte, b'<' | b'&' | b'"' | b'\'')
}

pub(crate) struct FastReader<'i> {
    text: &'i str,
    pos: usize,
    /// Names of the open elements, innermost last (`depth` of them).
    open: [&'i str; DEPTH_MAX as usize],
    depth: usize,
    bindings: [Binding<'i>; BINDINGS_MAX],
    binding_count: usize,
}

impl<'i> FastReader<'i> {
    pub(crate) fn new(text: &'i str) -> FastReader<'i> {
        let pos = DECLARATIONS.iter().find(|declaration| text.starts_with(*declaration)).map_or(0, |d| d.len());
        FastReader {
            text,
            pos,
            open: [""; DEPTH_MAX as usize],
            depth: 0,
            bindings: [NO_BINDING; BINDINGS_MAX],
            binding_count: 0,
        }
    }

    pub(crate) fn next(&mut self) -> Result<Token<'i>, Bail> {
        let bytes = self.text.as_bytes();
        let Some(&first) = bytes.get(self.pos) else {
            return if self.depth == 0 { Ok(Token::Eof) } else { Err(Bail) };
        };
        match first {
            b'<' => match bytes.get(self.pos + 1) {
                Some(b'/') => self.end_tag(),
                Some(b'!' | b'?') | None => Err(Bail),
                Some(_) => self.start_tag(),
            },
            b'&' => self.reference(),
            _ => self.text_piece(),
        }
    }

    fn text_piece(&mut self) -> Result<Token<'i>, Bail> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut index = start;
        while index < bytes.len() {
            match TEXT_CLASS[bytes[index] as usize] {
                TEXT_PLAIN => index += 1,
                TEXT_STOP => break,
                TEXT_EF if bytes.get(index + 1) == Some(&0xBF) && matches!(bytes.get(index + 2), Some(0xBE | 0xBF)) => {
                    return Err(Bail);
                }
                TEXT_EF => index += 1,
                _ => return Err(Bail),
            }
        }
        self.pos = index;
        // `index` stops at an ASCII byte or the end, so it is a char boundary.
        Ok(Token::Text(&self.text[start..index]))
    }

    fn reference(&mut self) -> Result<Token<'i>, Bail> {
        let rest = &self.text.as_bytes()[self.pos + 1..];
        let (ch, length) = match rest {
            [b'l', b't', b';', ..] => ('<', 4),
            [b'g', b't', b';', ..] => ('>', 4),
            [b'a', b'm', b'p', b';', ..] => ('&', 5),
            [b'q', b'u', b'o', b't', b';', ..] => ('"', 6),
            [b'a', b'p', b'o', b's', b';', ..] => ('\'', 6),
            _ => return Err(Bail),
        };
        self.pos += length;
        Ok(Token::Char(ch))
    }

    /// A name in the subset at `from`: `local` or `prefix:local`; returns it and its local part.
    #[inline]
    fn name_at(&self, from: usize) -> Result<(&'i str, &'i str), Bail> {
        let rest = &self.text.as_bytes()[from..];
        let length = rest.iter().position(|&byte| NAME_CLASS[byte as usize] == NAME_NOT).unwrap_or(rest.len());
        let name = &rest[..length];
        let (local_start, starts_well) = match name.iter().position(|&byte| byte == b':') {
            None => (0, name.first().is_some_and(|&byte| NAME_CLASS[byte as usize] == NAME_START)),
            Some(colon) => (
                colon + 1,
                NAME_CLASS[name[0] as usize] == NAME_START
                    && name.get(colon + 1).is_some_and(|&byte| NAME_CLASS[byte as usize] == NAME_START)
                    && !name[colon + 1..].contains(&b':'),
            ),
        };
        if !starts_well {
            return Err(Bail);
        }
        // Names are ASCII, so every index in them is a char boundary.
        Ok((&self.text[from..from + length], &self.text[from + local_start..from + length]))
    }

    fn end_tag(&mut self) -> Result<Token<'i>, Bail> {
        let Some(open) = self.depth.checked_sub(1).map(|index| self.open[index]) else {
            return Err(Bail);
        };
        let name_start = self.pos + 2;
        let name_end = name_start + open.len();
        if self.text.as_bytes().get(name_end) != Some(&b'>') || self.text.get(name_start..name_end) != Some(open) {
            return Err(Bail);
        }
        self.pos = name_end + 1;
        self.pop_bindings();
        self.depth -= 1;
        Ok(Token::End)
    }

    fn pop_bindings(&mut self) {
        while self.binding_count > 0 && self.bindings[self.binding_count - 1].depth >= self.depth {
            self.binding_count -= 1;
        }
    }

    fn start_tag(&mut self) -> Result<Token<'i>, Bail> {
        let bytes = self.text.as_bytes();
        let (name, local) = self.name_at(self.pos + 1)?;
        // The element's own depth once opened: its declarations are in scope for its name.
        let depth = self.depth + 1;
        if depth > DEPTH_MAX as usize {
            return Err(Bail);
        }
        let first_binding = self.binding_count;
        let mut index = self.pos + 1 + name.len();
        let empty = loop {
            let spaced = matches!(bytes.get(index), Some(b' ' | b'\t' | b'\n'));
            while matches!(bytes.get(index), Some(b' ' | b'\t' | b'\n')) {
                index += 1;
            }
            match bytes.get(index) {
                Some(b'>') => break false,
                Some(b'/') if bytes.get(index + 1) == Some(&b'>') => {
                    index += 1;
                    break true;
                }
                Some(_) if spaced => index = self.declaration(index, depth, first_binding)?,
                _ => return Err(Bail),
            }
        };
        self.pos = index + 1;
        let ns = self.resolve(name, local)?;
        if empty {
            // Nothing is inside: its declarations go out of scope at once.
            self.binding_count = first_binding;
        } else {
            self.open[self.depth] = name;
            self.depth = depth;
        }
        Ok(Token::Start { name, local, ns, empty })
    }

    /// Reads one `xmlns[:prefix]="value"` attribute at `index`; returns the index after it.
    fn declaration(&mut self, index: usize, depth: usize, first_binding: usize) -> Result<usize, Bail> {
        let bytes = self.text.as_bytes();
        let (attribute, _) = self.name_at(index)?;
        let prefix = match attribute.strip_prefix("xmlns") {
            Some("") => "",
            Some(named) => match named.strip_prefix(':') {
                // quick-xml refuses to rebind `xml`/`xmlns`; leave such documents to it.
                Some(prefix) if !prefix.starts_with("xml") => prefix,
                _ => return Err(Bail),
            },
            None => return Err(Bail),
        };
        let mut at = index + attribute.len();
        if bytes.get(at) != Some(&b'=') {
            return Err(Bail);
        }
        at += 1;
        let quote = match bytes.get(at) {
            Some(&quote @ (b'"' | b'\'')) => quote,
            _ => return Err(Bail),
        };
        let value_start = at + 1;
        let mut value_end = value_start;
        while bytes.get(value_end).is_some_and(|&b| is_plain_value_byte(b)) {
            value_end += 1;
        }
        if bytes.get(value_end) != Some(&quote) || value_end == value_start {
            return Err(Bail);
        }
        let namespace = &self.text[value_start..value_end];
        let ns = Ns::classify(namespace);
        if ns == Ns::Other && namespace.starts_with("http://www.w3.org/") {
            // The reserved `xml` and `xmlns` namespaces may not be bound; let quick-xml judge.
            return Err(Bail);
        }
        let duplicate = self.bindings[first_binding..self.binding_count].iter().any(|b| b.prefix == prefix);
        if duplicate || self.binding_count == BINDINGS_MAX {
            return Err(Bail);
        }
        self.bindings[self.binding_count] = Binding { prefix, namespace, ns, depth };
        self.binding_count += 1;
        Ok(value_end + 1)
    }

    fn resolve(&self, name: &str, local: &str) -> Result<Ns, Bail> {
        let prefix = match name.len() - local.len() {
            0 => "",
            colon_and_prefix => &name[..colon_and_prefix - 1],
        };
        let binding = self.bindings[..self.binding_count].iter().rev().find(|binding| binding.prefix == prefix);
        match binding {
            Some(binding) => Ok(binding.ns),
            None if prefix.is_empty() => Ok(Ns::Unqualified),
            // Undeclared (or the built-in `xml`) prefix: quick-xml words that error.
            None => Err(Bail),
        }
    }

    /// The namespace name `prefix` is bound to, for messages (`None` when unbound).
    pub(crate) fn namespace_of(&self, name: &str, local: &str) -> Option<&'i str> {
        let prefix = match name.len() - local.len() {
            0 => "",
            colon_and_prefix => &name[..colon_and_prefix - 1],
        };
        self.bindings[..self.binding_count].iter().rev().find(|binding| binding.prefix == prefix).map(|b| b.namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Result<Vec<Token<'_>>, Bail> {
        let mut reader = FastReader::new(text);
        let mut tokens = Vec::new();
        loop {
            let token = reader.next()?;
            tokens.push(token);
            if token == Token::Eof {
                return Ok(tokens);
            }
        }
    }

    #[test]
    fn reads_the_subset() {
        let text = r#"<?xml version="1.0" encoding="utf-8"?><s:E xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:B><op xmlns="urn:cineflix:booking:v1"><a>x &lt;y&amp;</a><b/></op></s:B></s:E>"#;
        let start = |name, local, ns, empty| Token::Start { name, local, ns, empty };
        assert_eq!(
            tokens(text).unwrap(),
            vec![
                start("s:E", "E", Ns::Soap11, false),
                start("s:B", "B", Ns::Soap11, false),
                start("op", "op", Ns::Cineflix, false),
                start("a", "a", Ns::Cineflix, false),
                Token::Text("x "),
                Token::Char('<'),
                Token::Text("y"),
                Token::Char('&'),
                Token::End,
                start("b", "b", Ns::Cineflix, true),
                Token::End,
                Token::End,
                Token::End,
                Token::Eof,
            ]
        );
    }

    #[test]
    fn declarations_are_scoped() {
        let text = r#"<a><b xmlns="urn:cineflix:booking:v1"/><c xmlns:p="x"><p:d/></c><e/></a>"#;
        let namespaces: Vec<Ns> = tokens(text)
            .unwrap()
            .into_iter()
            .filter_map(|token| match token {
                Token::Start { ns, .. } => Some(ns),
                _ => None,
            })
            .collect();
        assert_eq!(namespaces, [Ns::Unqualified, Ns::Cineflix, Ns::Unqualified, Ns::Other, Ns::Unqualified]);
    }

    #[test]
    fn leaves_everything_else_to_quick_xml() {
        for text in [
            "<a><!-- c --></a>",
            "<a><![CDATA[x]]></a>",
            "<!DOCTYPE a><a/>",
            " <?xml version=\"1.0\"?><a/>",
            "<a><?pi x?></a>",
            "<a>x\r\ny</a>",
            "<a>x > y</a>",
            "<a>&#13;</a>",
            "<a>&nbsp;</a>",
            "<a>\u{1}</a>",
            "<a>\u{FFFE}</a>",
            "<a b=\"c\"/>",
            "<a xmlns:p='u' xmlns:p='v'/>",
            "<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
            "<a xmlns=''/>",
            "<a xmlns = 'u'/>",
            "<p:a/>",
            "<a:b:c/>",
            "<1a/>",
            "<a></b>",
            "<a></a >",
            "<a>",
            "</a>",
            "<a/",
            "<é/>",
        ] {
            assert_eq!(tokens(text), Err(Bail), "{text:?}");
        }
    }
}
