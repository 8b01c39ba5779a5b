//! How CineFlix names and values are spelled in XML: operation and parameter element names, and the
//! lexical forms of `xs:int`, `xs:boolean`, `xs:date`, slots and movie IDs.
//!
//! Shared by the parsers and the renderers so both sides agree by construction. It deliberately does not
//! validate domain rules (which IDs exist, which quantities are allowed): the replicas do.

use booking::{Date, Movie, MovieId, Operation, SlotLetter, TheatreCode};

/// The seven operations, as element names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    AddMovieSlots,
    RemoveMovieSlots,
    ListMovieShowsAvailability,
    BookMovieTickets,
    GetBookingSchedule,
    CancelMovieTickets,
    ExchangeTickets,
}

impl OpKind {
    pub(crate) const ALL: [OpKind; 7] = [
        OpKind::AddMovieSlots,
        OpKind::RemoveMovieSlots,
        OpKind::ListMovieShowsAvailability,
        OpKind::BookMovieTickets,
        OpKind::GetBookingSchedule,
        OpKind::CancelMovieTickets,
        OpKind::ExchangeTickets,
    ];

    pub(crate) fn of(operation: &Operation) -> OpKind {
        match operation {
            Operation::AddMovieSlots { .. } => OpKind::AddMovieSlots,
            Operation::RemoveMovieSlots { .. } => OpKind::RemoveMovieSlots,
            Operation::ListMovieShowsAvailability { .. } => OpKind::ListMovieShowsAvailability,
            Operation::BookMovieTickets { .. } => OpKind::BookMovieTickets,
            Operation::GetBookingSchedule { .. } => OpKind::GetBookingSchedule,
            Operation::CancelMovieTickets { .. } => OpKind::CancelMovieTickets,
            Operation::ExchangeTickets { .. } => OpKind::ExchangeTickets,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            OpKind::AddMovieSlots => "addMovieSlots",
            OpKind::RemoveMovieSlots => "removeMovieSlots",
            OpKind::ListMovieShowsAvailability => "listMovieShowsAvailability",
            OpKind::BookMovieTickets => "bookMovieTickets",
            OpKind::GetBookingSchedule => "getBookingSchedule",
            OpKind::CancelMovieTickets => "cancelMovieTickets",
            OpKind::ExchangeTickets => "exchangeTickets",
        }
    }

    /// The operation whose request element is named `name` (exact case, as XML names are).
    pub(crate) fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The operation whose response element is named `name`.
    pub(crate) fn from_response_name(name: &str) -> Option<OpKind> {
        name.strip_suffix("Response").and_then(OpKind::from_name)
    }

    /// The request's parameter elements, in the contract's order.
    pub(crate) fn params(self) -> &'static [Param] {
        use Param::*;
        match self {
            OpKind::AddMovieSlots => &[UserId, MovieId, MovieName, BookingCapacity],
            OpKind::RemoveMovieSlots => &[UserId, MovieId, MovieName],
            OpKind::ListMovieShowsAvailability => &[UserId, MovieName],
            OpKind::BookMovieTickets | OpKind::CancelMovieTickets => {
                &[UserId, CustomerId, MovieId, MovieName, NumberOfTickets]
            }
            OpKind::GetBookingSchedule => &[UserId, CustomerId],
            OpKind::ExchangeTickets => {
                &[UserId, CustomerId, MovieId, MovieName, NewMovieId, NewMovieName, NumberOfTickets]
            }
        }
    }
}

/// Every request parameter element of any operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    UserId,
    CustomerId,
    MovieId,
    MovieName,
    NewMovieId,
    NewMovieName,
    NumberOfTickets,
    BookingCapacity,
}

impl Param {
    pub(crate) const COUNT: usize = 8;

    pub(crate) fn name(self) -> &'static str {
        match self {
            Param::UserId => "userID",
            Param::CustomerId => "customerID",
            Param::MovieId => "movieID",
            Param::MovieName => "movieName",
            Param::NewMovieId => "newMovieID",
            Param::NewMovieName => "newMovieName",
            Param::NumberOfTickets => "numberOfTickets",
            Param::BookingCapacity => "bookingCapacity",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

fn trim_xml_whitespace(text: &str) -> &str {
    text.trim_matches(|ch| matches!(ch, ' ' | '\t' | '\n' | '\r'))
}

/// Parses an `xs:int`: optional sign, decimal digits, surrounding whitespace allowed (the type's
/// whitespace facet is `collapse`). `-0` and leading zeros are valid lexical forms.
pub(crate) fn parse_xs_int(text: &str) -> Option<i32> {
    let bytes = trim_xml_whitespace(text).as_bytes();
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() {
        return None;
    }
    // Straight from the bytes (this runs for every count of every listed show); any number of
    // leading zeros is allowed, and the magnitude stops growing once it is out of range.
    let mut magnitude: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        magnitude = (magnitude * 10 + i64::from(byte - b'0')).min(1 << 32);
    }
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Parses a non-negative `xs:int` into a `u32` (counts in responses).
pub(crate) fn parse_count(text: &str) -> Option<u32> {
    parse_xs_int(text).and_then(|value| u32::try_from(value).ok())
}

/// Parses an `xs:boolean`: `true`, `false`, `1`, `0`, surrounding whitespace allowed.
pub(crate) fn parse_xs_boolean(text: &str) -> Option<bool> {
    match trim_xml_whitespace(text) {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

pub(crate) fn slot_name(slot: SlotLetter) -> &'static str {
    match slot {
        SlotLetter::Morning => "MORNING",
        SlotLetter::Afternoon => "AFTERNOON",
        SlotLetter::Evening => "EVENING",
    }
}

pub(crate) fn parse_slot_name(text: &str) -> Option<SlotLetter> {
    SlotLetter::ALL.into_iter().find(|&slot| slot_name(slot) == trim_xml_whitespace(text))
}

pub(crate) fn parse_theatre(text: &str) -> Option<TheatreCode> {
    TheatreCode::ALL.into_iter().find(|theatre| theatre.as_str() == trim_xml_whitespace(text))
}

pub(crate) fn parse_movie(text: &str) -> Option<Movie> {
    Movie::parse(text)
}

pub(crate) fn parse_movie_id(text: &str) -> Option<MovieId> {
    MovieId::parse(text)
}

/// Appends two decimal digits of `value` (0..=99).
fn push_two_digits(out: &mut Vec<u8>, value: u8) {
    debug_assert!(value < 100, "two digits hold 0..=99, not {value}");
    out.push(b'0' + value / 10);
    out.push(b'0' + value % 10);
}

/// Appends the canonical movie ID, e.g. `OUTE281126`.
pub(crate) fn push_movie_id(out: &mut Vec<u8>, movie_id: MovieId) {
    out.extend_from_slice(&movie_id.to_ascii());
}

/// Appends the `xs:date` form `YYYY-MM-DD`.
pub(crate) fn push_xs_date(out: &mut Vec<u8>, date: Date) {
    let date = date.0;
    let year = date.year().clamp(0, 9999) as u16;
    push_two_digits(out, (year / 100) as u8);
    push_two_digits(out, (year % 100) as u8);
    out.push(b'-');
    push_two_digits(out, date.month() as u8);
    out.push(b'-');
    push_two_digits(out, date.day() as u8);
}

/// Parses `YYYY-MM-DD` (no time zone: CineFlix dates are civil dates in the theatres' zone).
pub(crate) fn parse_xs_date(text: &str) -> Option<Date> {
    let bytes = trim_xml_whitespace(text).as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i16> {
        bytes[range].iter().try_fold(0i16, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + i16::from(b - b'0')))
    };
    let year = number(0..4)?;
    let month = i8::try_from(number(5..7)?).ok()?;
    let day = i8::try_from(number(8..10)?).ok()?;
    Date::new(year, month, day)
}

/// Appends the decimal form of `value`, without going through `fmt` (`itoa`).
pub(crate) fn push_int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xs_int_lexical_space() {
        let check = |text: &str, expected: Option<i32>| assert_eq!(parse_xs_int(text), expected, "{text:?}");
        check("5", Some(5));
        check(" \n\t 12 \r\n", Some(12));
        check("+7", Some(7));
        check("-0", Some(0));
        check("007", Some(7));
        check("2147483647", Some(i32::MAX));
        check("-2147483648", Some(i32::MIN));
        check("2147483648", None);
        check("99999999999", None);
        check("", None);
        check("  ", None);
        check("+", None);
        check("1e3", None);
        check("1.0", None);
        check("1 2", None);
        check("0x10", None);
        check("١٢", None);
    }

    #[test]
    fn ints_render_like_display() {
        for value in [0i64, 7, -7, 10, 99, 100, 2147483647, -2147483648, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            push_int(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }

    #[test]
    fn dates_and_movie_ids_round_trip() {
        let date = Date::new(2026, 11, 28).unwrap();
        let mut out = Vec::new();
        push_xs_date(&mut out, date);
        assert_eq!(out, b"2026-11-28");
        assert_eq!(parse_xs_date("2026-11-28"), Some(date));
        assert_eq!(parse_xs_date("2026-02-30"), None);
        assert_eq!(parse_xs_date("2026-1-28"), None);
        let movie_id = MovieId { theatre: TheatreCode::Out, slot: SlotLetter::Evening, date };
        let mut out = Vec::new();
        push_movie_id(&mut out, movie_id);
        assert_eq!(out, b"OUTE281126");
        assert_eq!(parse_movie_id("OUTE281126"), Some(movie_id));
    }
}
