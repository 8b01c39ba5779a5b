//! The local shape check of a user ID (`ABC` + `A`|`C` + four digits) and its role.
//!
//! This is a convenience for the person at the keyboard (a helpful message before any
//! request is sent) and what makes `<USERID>.log` a safe file name. It is deliberately
//! not the service's validation: whether `ABC` names a real theatre is the service's call
//! (`INVALID_ID`), so the client never second-guesses the booking rules.

use std::fmt;

/// The role letter of a user ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    Customer,
}

/// A user ID of the right shape, in canonical (upper-case) form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserId {
    canonical: String,
    role: Role,
}

impl UserId {
    /// Accepts any letter case; explains what is wrong otherwise.
    pub fn parse(text: &str) -> Result<UserId, String> {
        let text = text.trim();
        let bytes = text.as_bytes();
        let explain = |what: &str| {
            format!(
                "{text:?} is not a user ID: {what} (expected a theatre code, A for admin or C for customer, \
                 and four digits, e.g. ATWA0001 or VERC0042)"
            )
        };
        if bytes.len() != 8 {
            return Err(explain("it must be 8 characters long"));
        }
        if !bytes[..3].iter().all(u8::is_ascii_alphabetic) {
            return Err(explain("the first three characters must be letters"));
        }
        let role = match bytes[3].to_ascii_uppercase() {
            b'A' => Role::Admin,
            b'C' => Role::Customer,
            _ => return Err(explain("the fourth character must be A or C")),
        };
        if !bytes[4..].iter().all(u8::is_ascii_digit) {
            return Err(explain("the last four characters must be digits"));
        }
        Ok(UserId { canonical: text.to_ascii_uppercase(), role })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The theatre prefix, e.g. `ATW`.
    pub fn theatre(&self) -> &str {
        &self.canonical[..3]
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let check = |text: &str, expected: Option<(&str, Role)>| {
            let parsed = UserId::parse(text).ok().map(|id| (id.as_str().to_owned(), id.role()));
            assert_eq!(parsed, expected.map(|(id, role)| (id.to_owned(), role)), "{text}");
        };
        check("ATWA0001", Some(("ATWA0001", Role::Admin)));
        check("verc0042", Some(("VERC0042", Role::Customer)));
        check(" OutC1234 ", Some(("OUTC1234", Role::Customer)));
        check("XYZC0001", Some(("XYZC0001", Role::Customer)));
        check("ATWB0001", None);
        check("ATWA001", None);
        check("ATWA00011", None);
        check("AT1A0001", None);
        check("ATWA00x1", None);
        check("../A0001", None);
        check("", None);
    }
}
