//! Identifiers and their canonical forms: theatres, users, movies, movie IDs, dates.
//!
//! Parsing accepts any letter case and returns canonical values; `Display` writes the
//! canonical form (IDs upper case, movie names `Avatar`/`Avengers`/`Titanic`).
//! Ordering of every type here is the order booking.md lists things in
//! (`ATW < OUT < VER`, `M < A < E`, dates chronologically).

/// A theatre. Declaration order is the listing order `ATW < OUT < VER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TheatreCode {
    Atw,
    Out,
    Ver,
}

impl TheatreCode {
    pub const ALL: [TheatreCode; 3] = [TheatreCode::Atw, TheatreCode::Out, TheatreCode::Ver];

    /// `ATW`, `OUT` or `VER`.
    pub fn as_str(self) -> &'static str {
        match self {
            TheatreCode::Atw => "ATW",
            TheatreCode::Out => "OUT",
            TheatreCode::Ver => "VER",
        }
    }

    /// Index 0..3 in `ALL`, for arrays indexed by theatre.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses a theatre code in any letter case.
    pub fn parse(text: &str) -> Option<TheatreCode> {
        TheatreCode::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(text))
    }
}

impl std::fmt::Display for TheatreCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Admin,
    Customer,
}

/// A user ID such as `ATWA1234`: theatre, role letter (`A` or `C`), four digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId {
    pub theatre: TheatreCode,
    pub role: Role,
    /// 0..=9999, printed with four digits.
    pub number: u16,
}

/// The catalogue. Declaration order is alphabetical, which is also the canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Movie {
    Avatar,
    Avengers,
    Titanic,
}

/// Show time within a day. Declaration order is `M < A < E`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotLetter {
    Morning,
    Afternoon,
    Evening,
}

/// A civil date in 2000..=2099 (the range a `DDMMYY` movie ID can name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub jiff::civil::Date);

/// A movie ID such as `OUTE281126`: theatre, slot letter, show date.
///
/// Ordering is the listing order: date, then slot letter, then theatre.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MovieId {
    pub theatre: TheatreCode,
    pub slot: SlotLetter,
    pub date: Date,
}
