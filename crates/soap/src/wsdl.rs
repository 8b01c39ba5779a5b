//! The WSDL served at `GET /cineflix?wsdl`: `wsdl/cineflix.wsdl`, compiled in, with its placeholder
//! address replaced.
//!
//! It deliberately does not choose the address: the front end passes the configured public URL, or one
//! built from the request's Host, never `0.0.0.0`.

use crate::render::push_escaped;

/// The WSDL file exactly as committed.
const TEMPLATE: &str = include_str!("../../../wsdl/cineflix.wsdl");

/// The `soap:address` / `soap12:address` location in the committed file.
const PLACEHOLDER: &str = "http://cineflix.invalid/cineflix";

/// The WSDL with soap:address locations set to `address` (e.g. "http://127.0.0.1:8080/cineflix").
pub fn wsdl(address: &str) -> String {
    let mut escaped = Vec::with_capacity(address.len() + 16);
    push_escaped(&mut escaped, address, true);
    // push_escaped writes valid UTF-8 for valid UTF-8 input.
    let escaped = String::from_utf8(escaped).unwrap_or_default();
    let location = format!(r#"location="{escaped}""#);
    TEMPLATE.replace(&format!(r#"location="{PLACEHOLDER}""#), &location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ports_get_the_address_and_nothing_else_changes() {
        assert_eq!(TEMPLATE.matches(PLACEHOLDER).count(), 3, "two ports and the comment that explains them");
        let document = wsdl("http://127.0.0.1:8080/cineflix");
        assert_eq!(document.matches(r#"location="http://127.0.0.1:8080/cineflix""#).count(), 2);
        assert!(!document.contains(&format!(r#"location="{PLACEHOLDER}""#)));
        assert_eq!(document.len(), TEMPLATE.len() - 2 * PLACEHOLDER.len() + 2 * "http://127.0.0.1:8080/cineflix".len());
    }

    #[test]
    fn the_address_is_escaped() {
        let document = wsdl(r#"http://h/c?a=1&b="2"<"#);
        assert!(document.contains(r#"location="http://h/c?a=1&amp;b=&quot;2&quot;&lt;""#));
    }
}
