//! A tiny JSON writer for `--json` output: objects, arrays, strings, numbers, booleans.
//!
//! It only writes (the client never reads JSON) and it always produces one valid JSON
//! value when its builders are used as intended. It is not a general serializer; the
//! workspace has no serde_json on purpose.

use std::fmt::Write as _;

/// A JSON value under construction.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// Integers are kept exact.
    Int(i64),
    /// Finite floats; non-finite values are written as `null`.
    Float(f64),
    String(String),
    Array(Vec<Json>),
    /// Keys keep insertion order, so output is stable and readable.
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn object() -> Json {
        Json::Object(Vec::new())
    }

    /// Adds a member to an object (panics on a non-object: a programming error).
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Json {
        match &mut self {
            Json::Object(members) => members.push((key.to_owned(), value.into())),
            other => panic!("Json::with on a non-object: {other:?}"),
        }
        self
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Int(value) => write!(out, "{value}").expect("writing to a String cannot fail"),
            Json::Float(value) if value.is_finite() => {
                // `{}` prints integral floats without a fraction, which is still valid JSON.
                write!(out, "{value}").expect("writing to a String cannot fail")
            }
            Json::Float(_) => out.push_str("null"),
            Json::String(text) => write_string(text, out),
            Json::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    item.write_to(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (index, (key, value)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    value.write_to(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `text` as a JSON string literal (RFC 8259 escaping).
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if (control as u32) < 0x20 => {
                write!(out, "\\u{:04x}", control as u32).expect("writing to a String cannot fail")
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

impl From<bool> for Json {
    fn from(value: bool) -> Json {
        Json::Bool(value)
    }
}
impl From<&str> for Json {
    fn from(value: &str) -> Json {
        Json::String(value.to_owned())
    }
}
impl From<String> for Json {
    fn from(value: String) -> Json {
        Json::String(value)
    }
}
impl From<u32> for Json {
    fn from(value: u32) -> Json {
        Json::Int(i64::from(value))
    }
}
impl From<i32> for Json {
    fn from(value: i32) -> Json {
        Json::Int(i64::from(value))
    }
}
impl From<u64> for Json {
    fn from(value: u64) -> Json {
        i64::try_from(value).map(Json::Int).unwrap_or(Json::Float(value as f64))
    }
}
impl From<f64> for Json {
    fn from(value: f64) -> Json {
        Json::Float(value)
    }
}
impl From<Vec<Json>> for Json {
    fn from(items: Vec<Json>) -> Json {
        Json::Array(items)
    }
}
impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Json {
        value.map(Into::into).unwrap_or(Json::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let check = |value: Json, expected: &str| assert_eq!(value.render(), expected);
        check(Json::object(), "{}");
        check(Json::object().with("a", 1u32).with("b", true).with("c", Json::Null), r#"{"a":1,"b":true,"c":null}"#);
        check(Json::from(vec![Json::from("x"), Json::from(2.5)]), r#"["x",2.5]"#);
        check(Json::from(f64::NAN), "null");
        check(Json::from(Option::<u32>::None), "null");
        check(Json::from("quote\" back\\ nl\n tab\t bell\u{7} é ✓"), r#""quote\" back\\ nl\n tab\t bell\u0007 é ✓""#);
        check(Json::from(u64::MAX), "18446744073709552000");
    }
}
