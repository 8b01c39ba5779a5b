//! Identifiers and their canonical forms: theatres, users, movies, movie IDs, dates.
//!
//! Parsing accepts any letter case and returns canonical values; `Display` writes the
//! canonical form (IDs upper case, movie names `Avatar`/`Avengers`/`Titanic`).
//! Ordering of every type here is the order booking.md lists things in
//! (`ATW < OUT < VER`, `M < A < E`, dates chronologically).
//!
//! This module only parses and formats; it deliberately knows nothing of rules, time
//! zones or "today" (see `time` and `coordinator`).

use std::cmp::Ordering;
use std::fmt;

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

/// The role letter of a user ID: `A` admin, `C` customer.
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

impl Role {
    /// `A` or `C`.
    pub fn letter(self) -> char {
        match self {
            Role::Admin => 'A',
            Role::Customer => 'C',
        }
    }

    /// Parses a role letter in any case.
    pub fn from_letter(letter: u8) -> Option<Role> {
        match letter.to_ascii_uppercase() {
            b'A' => Some(Role::Admin),
            b'C' => Some(Role::Customer),
            _ => None,
        }
    }
}

impl UserId {
    /// Parses `TTTRNNNN` (theatre, role letter, four ASCII digits) in any letter case.
    /// Anything else, including surrounding whitespace, is `None`.
    pub fn parse(text: &str) -> Option<UserId> {
        let bytes = text.as_bytes();
        if bytes.len() != 8 || !text.is_ascii() {
            return None;
        }
        let theatre = TheatreCode::parse(&text[0..3])?;
        let role = Role::from_letter(bytes[3])?;
        let number = parse_digits(&bytes[4..8])?;
        Some(UserId { theatre, role, number })
    }

    pub fn is_customer(self) -> bool {
        self.role == Role::Customer
    }

    pub fn is_admin(self) -> bool {
        self.role == Role::Admin
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:04}", self.theatre, self.role.letter(), self.number)
    }
}

/// Parses ASCII decimal digits (all of them must be digits) into a number.
fn parse_digits(bytes: &[u8]) -> Option<u16> {
    bytes.iter().try_fold(0u16, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u16::from(b - b'0')))
}

impl Movie {
    /// The catalogue in canonical order.
    pub const ALL: [Movie; 3] = [Movie::Avatar, Movie::Avengers, Movie::Titanic];

    /// `Avatar`, `Avengers` or `Titanic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Movie::Avatar => "Avatar",
            Movie::Avengers => "Avengers",
            Movie::Titanic => "Titanic",
        }
    }

    /// Parses a movie name in any letter case (no surrounding whitespace).
    pub fn parse(text: &str) -> Option<Movie> {
        Movie::ALL.into_iter().find(|movie| movie.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Movie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SlotLetter {
    pub const ALL: [SlotLetter; 3] = [SlotLetter::Morning, SlotLetter::Afternoon, SlotLetter::Evening];

    /// `M`, `A` or `E`.
    pub fn letter(self) -> char {
        match self {
            SlotLetter::Morning => 'M',
            SlotLetter::Afternoon => 'A',
            SlotLetter::Evening => 'E',
        }
    }

    /// Parses a slot letter in any case.
    pub fn from_letter(letter: u8) -> Option<SlotLetter> {
        match letter.to_ascii_uppercase() {
            b'M' => Some(SlotLetter::Morning),
            b'A' => Some(SlotLetter::Afternoon),
            b'E' => Some(SlotLetter::Evening),
            _ => None,
        }
    }

    /// Index 0..3 in `ALL`.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Date {
    /// A valid civil date in 2000..=2099, the only years a movie ID can name.
    pub fn new(year: i16, month: i8, day: i8) -> Option<Date> {
        if !(2000..=2099).contains(&year) {
            return None;
        }
        jiff::civil::Date::new(year, month, day).ok().map(Date)
    }

    /// Parses `DDMMYY` (six ASCII digits, year 20YY). Invalid calendar dates are `None`.
    pub fn parse_ddmmyy(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 6 {
            return None;
        }
        let day = parse_digits(&bytes[0..2])?;
        let month = parse_digits(&bytes[2..4])?;
        let year = parse_digits(&bytes[4..6])?;
        // Each part is below 100, so the narrowing casts cannot truncate.
        Date::new(2000 + year as i16, month as i8, day as i8)
    }

    /// The date as `DDMMYY`; meaningful for 2000..=2099 only (the year is taken mod 100).
    pub fn ddmmyy(self) -> String {
        format!("{:02}{:02}{:02}", self.0.day(), self.0.month(), self.0.year().rem_euclid(100))
    }

    /// The ISO week (Monday to Sunday) containing this date, as (ISO year, week number).
    pub fn iso_week(self) -> (i16, i8) {
        let week = self.0.iso_week_date();
        (week.year(), week.week())
    }

    /// The Monday starting this date's ISO week.
    pub fn week_monday(self) -> Date {
        let offset = self.0.weekday().to_monday_zero_offset();
        Date(self.0.saturating_sub(jiff::Span::new().days(offset)))
    }

    /// The Sunday ending this date's ISO week.
    pub fn week_sunday(self) -> Date {
        let offset = 6 - self.0.weekday().to_monday_zero_offset();
        Date(self.0.saturating_add(jiff::Span::new().days(offset)))
    }

    /// This date plus `days` (saturating at jiff's date range).
    pub fn plus_days(self, days: i32) -> Date {
        Date(self.0.saturating_add(jiff::Span::new().days(days)))
    }

    /// The earliest date any value of this type can hold (for open-ended ranges).
    pub const MIN: Date = Date(jiff::civil::Date::MIN);
    /// The latest date any value of this type can hold (for open-ended ranges).
    pub const MAX: Date = Date(jiff::civil::Date::MAX);
}

/// xs:date form `YYYY-MM-DD`, as the SOAP contract writes dates.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), self.0.month(), self.0.day())
    }
}

impl MovieId {
    /// Parses `TTTLDDMMYY` (theatre, slot letter, date) in any letter case.
    pub fn parse(text: &str) -> Option<MovieId> {
        if text.len() != 10 || !text.is_ascii() {
            return None;
        }
        let theatre = TheatreCode::parse(&text[0..3])?;
        let slot = SlotLetter::from_letter(text.as_bytes()[3])?;
        let date = Date::parse_ddmmyy(&text[4..10])?;
        Some(MovieId { theatre, slot, date })
    }

    /// The listing sort key: date, slot letter, theatre.
    fn sort_key(&self) -> (Date, SlotLetter, TheatreCode) {
        (self.date, self.slot, self.theatre)
    }
}

impl PartialOrd for MovieId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Listing order: date, then `M < A < E`, then `ATW < OUT < VER`.
impl Ord for MovieId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl MovieId {
    /// The canonical text `OUTE281126` as bytes, built without the formatting machinery: renderers and log writers
    /// on the request path append it per show.
    pub fn to_ascii(self) -> [u8; 10] {
        let two_digits = |value: i32| [b'0' + (value / 10 % 10) as u8, b'0' + (value % 10) as u8];
        let date = self.date.0;
        let mut text = [0u8; 10];
        text[..3].copy_from_slice(self.theatre.as_str().as_bytes());
        text[3] = self.slot.letter() as u8;
        text[4..6].copy_from_slice(&two_digits(i32::from(date.day())));
        text[6..8].copy_from_slice(&two_digits(i32::from(date.month())));
        text[8..].copy_from_slice(&two_digits(i32::from(date.year()).rem_euclid(100)));
        text
    }
}

/// Canonical `OUTE281126`.
impl fmt::Display for MovieId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.to_ascii()).expect("ASCII"))
    }
}

/// A slot in the sense of booking.md: the pair (movie, movie ID). Avatar and Titanic can
/// both play at `ATWM281126`; they are two slots.
///
/// Ordering is movie first, then the movie ID's listing order, so that one theatre's
/// slots of one movie form a contiguous, chronological range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub movie: Movie,
    pub movie_id: MovieId,
}

impl Slot {
    pub fn new(movie: Movie, movie_id: MovieId) -> Slot {
        Slot { movie, movie_id }
    }

    pub fn theatre(self) -> TheatreCode {
        self.movie_id.theatre
    }

    pub fn date(self) -> Date {
        self.movie_id.date
    }

    /// The same show in another theatre means the same movie, date and slot letter.
    pub fn same_show(self, other: Slot) -> bool {
        self.movie == other.movie
            && self.movie_id.date == other.movie_id.date
            && self.movie_id.slot == other.movie_id.slot
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.movie, self.movie_id)
    }
}
