//! Canonical binary encodings of [`Request`] and [`Response`], and the primitive readers
//! and writers that the peer messages and theatre snapshots share.
//!
//! It deliberately does not frame messages for a transport (lengths of whole datagrams,
//! chunking, checksums): that is the UDP shell's business.
//!
//! # Format, version 1
//!
//! Written so that a second, independently written replica can reproduce it byte for
//! byte. All integers are big-endian; there is no padding and no optional field.
//!
//! Primitives:
//! - `u8`, `u16`, `u32`, `u64`, `i16`, `i32`: fixed width, big-endian, two's complement.
//! - string: `u32` byte length, then that many bytes of UTF-8.
//! - count: `u32` number of items that follow.
//! - theatre: `u8`, `0` ATW, `1` OUT, `2` VER.
//! - role: `u8`, `0` admin, `1` customer.
//! - user ID: theatre, role, `u16` number (0..=9999).
//! - movie: `u8`, `0` Avatar, `1` Avengers, `2` Titanic.
//! - slot letter: `u8`, `0` M, `1` A, `2` E.
//! - date: `i16` year, `u8` month (1..=12), `u8` day (valid for that month).
//! - movie ID: theatre, slot letter, date (6 bytes).
//! - result code: `u8`, the discriminant of [`ResultCode`] (`0` OK … `13` NOT_ENOUGH_TICKETS).
//!
//! Response (what the front end votes on):
//! ```text
//! u8 version = 1
//! result code
//! u8 body tag: 0 Empty | 1 Removed | 2 Shows | 3 Schedule
//! Removed:  count, then per booking: string customer_id, u32 tickets,
//!           u8 0 (cancelled) | u8 1 + movie ID (moved there)
//! Shows:    count, then per show: movie ID, movie, u32 capacity, u32 available
//! Schedule: count, then per entry: movie ID, movie, u32 tickets
//! ```
//! Lists are encoded in the order they hold (the coordinator produces them in the
//! canonical order of booking.md). Every value has exactly one encoding, and the decoder
//! accepts exactly the encodings of values: anything else (unknown tag, bad date, bad
//! UTF-8, trailing bytes) is a [`DecodeError`].
//!
//! Request (front end → sequencer → replicas):
//! ```text
//! u8 version = 1
//! string user_id (as the client sent it)
//! u8 operation tag, then the operation's fields in declaration order
//!   0 addMovieSlots:              string movie_id, string movie_name, i32 booking_capacity
//!   1 removeMovieSlots:           string movie_id, string movie_name
//!   2 listMovieShowsAvailability: string movie_name
//!   3 bookMovieTickets:           string customer_id, string movie_id, string movie_name, i32 number_of_tickets
//!   4 getBookingSchedule:         string customer_id
//!   5 cancelMovieTickets:         string customer_id, string movie_id, string movie_name, i32 number_of_tickets
//!   6 exchangeTickets:            string customer_id, string movie_id, string movie_name,
//!                                 string new_movie_id, string new_movie_name, i32 number_of_tickets
//! ```
//!
//! Decoders never panic and never allocate more than the input could describe: a count
//! or length larger than the remaining input is [`DecodeError::Truncated`].

use crate::api::{Body, MovedBooking, Operation, Request, Response, ResultCode, ScheduleEntry, Show};
use crate::ids::{Date, Movie, MovieId, Role, Slot, SlotLetter, TheatreCode, UserId};

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the value did (or a length prefix promises more bytes
    /// than remain). More bytes might make it decodable.
    #[error("input ended early")]
    Truncated,
    /// The bytes can never be a valid encoding: unknown version or tag, out-of-range
    /// value, invalid UTF-8, trailing bytes.
    #[error("invalid encoding: {0}")]
    Invalid(&'static str),
}

/// The format version written first in every encoding of this crate.
pub const FORMAT_VERSION: u8 = 1;

/// Appends primitives to a byte vector.
pub(crate) trait Put {
    fn put_u8(&mut self, value: u8);
    fn put_u16(&mut self, value: u16);
    fn put_u32(&mut self, value: u32);
    fn put_u64(&mut self, value: u64);
    fn put_i16(&mut self, value: i16);
    fn put_i32(&mut self, value: i32);
    fn put_str(&mut self, value: &str);
    fn put_count(&mut self, count: usize);
    fn put_user(&mut self, user: UserId);
    fn put_date(&mut self, date: Date);
    fn put_movie_id(&mut self, movie_id: MovieId);
    fn put_movie(&mut self, movie: Movie);
    fn put_slot(&mut self, slot: Slot);
    fn put_code(&mut self, code: ResultCode);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, value: u8) {
        self.push(value);
    }
    fn put_u16(&mut self, value: u16) {
        self.extend_from_slice(&value.to_be_bytes());
    }
    fn put_u32(&mut self, value: u32) {
        self.extend_from_slice(&value.to_be_bytes());
    }
    fn put_u64(&mut self, value: u64) {
        self.extend_from_slice(&value.to_be_bytes());
    }
    fn put_i16(&mut self, value: i16) {
        self.extend_from_slice(&value.to_be_bytes());
    }
    fn put_i32(&mut self, value: i32) {
        self.extend_from_slice(&value.to_be_bytes());
    }
    fn put_str(&mut self, value: &str) {
        self.put_count(value.len());
        self.extend_from_slice(value.as_bytes());
    }
    fn put_count(&mut self, count: usize) {
        let count = u32::try_from(count).expect("a counted item list or string exceeds u32::MAX");
        self.put_u32(count);
    }
    fn put_user(&mut self, user: UserId) {
        self.put_u8(user.theatre as u8);
        self.put_u8(user.role as u8);
        self.put_u16(user.number);
    }
    fn put_date(&mut self, date: Date) {
        self.put_i16(date.0.year());
        // Month and day are positive and below 32.
        self.put_u8(date.0.month() as u8);
        self.put_u8(date.0.day() as u8);
    }
    fn put_movie_id(&mut self, movie_id: MovieId) {
        self.put_u8(movie_id.theatre as u8);
        self.put_u8(movie_id.slot as u8);
        self.put_date(movie_id.date);
    }
    fn put_movie(&mut self, movie: Movie) {
        self.put_u8(movie as u8);
    }
    fn put_slot(&mut self, slot: Slot) {
        self.put_movie(slot.movie);
        self.put_movie_id(slot.movie_id);
    }
    fn put_code(&mut self, code: ResultCode) {
        self.put_u8(code as u8);
    }
}

/// Reads primitives from a byte slice, front to back.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < len {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub(crate) fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid("boolean is neither 0 nor 1")),
        }
    }

    /// Reads a count of items, each at least `min_item_len` bytes long, refusing counts
    /// the remaining input cannot hold (so callers may preallocate safely).
    pub(crate) fn count(&mut self, min_item_len: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_item_len.max(1)) > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(count)
    }

    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::Invalid("string is not UTF-8"))
    }

    pub(crate) fn version(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            FORMAT_VERSION => Ok(()),
            _ => Err(DecodeError::Invalid("unknown format version")),
        }
    }

    pub(crate) fn theatre(&mut self) -> Result<TheatreCode, DecodeError> {
        TheatreCode::ALL.get(self.u8()? as usize).copied().ok_or(DecodeError::Invalid("unknown theatre"))
    }

    pub(crate) fn user(&mut self) -> Result<UserId, DecodeError> {
        let theatre = self.theatre()?;
        let role = match self.u8()? {
            0 => Role::Admin,
            1 => Role::Customer,
            _ => return Err(DecodeError::Invalid("unknown role")),
        };
        let number = self.u16()?;
        if number > 9999 {
            return Err(DecodeError::Invalid("user number above 9999"));
        }
        Ok(UserId { theatre, role, number })
    }

    pub(crate) fn date(&mut self) -> Result<Date, DecodeError> {
        let year = self.i16()?;
        let month = self.u8()?;
        let day = self.u8()?;
        let month = i8::try_from(month).map_err(|_| DecodeError::Invalid("month out of range"))?;
        let day = i8::try_from(day).map_err(|_| DecodeError::Invalid("day out of range"))?;
        jiff::civil::Date::new(year, month, day).map(Date).map_err(|_| DecodeError::Invalid("not a calendar date"))
    }

    pub(crate) fn movie_id(&mut self) -> Result<MovieId, DecodeError> {
        let theatre = self.theatre()?;
        let slot =
            SlotLetter::ALL.get(self.u8()? as usize).copied().ok_or(DecodeError::Invalid("unknown slot letter"))?;
        let date = self.date()?;
        Ok(MovieId { theatre, slot, date })
    }

    pub(crate) fn movie(&mut self) -> Result<Movie, DecodeError> {
        Movie::ALL.get(self.u8()? as usize).copied().ok_or(DecodeError::Invalid("unknown movie"))
    }

    pub(crate) fn slot(&mut self) -> Result<Slot, DecodeError> {
        let movie = self.movie()?;
        let movie_id = self.movie_id()?;
        Ok(Slot { movie, movie_id })
    }

    pub(crate) fn code(&mut self) -> Result<ResultCode, DecodeError> {
        ResultCode::ALL.get(self.u8()? as usize).copied().ok_or(DecodeError::Invalid("unknown result code"))
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DecodeError::Invalid("trailing bytes")) }
    }
}

/// Encoded sizes of fixed-size items, for [`Reader::count`].
pub(crate) const MOVIE_ID_LEN: usize = 6;
pub(crate) const USER_LEN: usize = 4;
pub(crate) const SLOT_LEN: usize = 1 + MOVIE_ID_LEN;

const BODY_EMPTY: u8 = 0;
const BODY_REMOVED: u8 = 1;
const BODY_SHOWS: u8 = 2;
const BODY_SCHEDULE: u8 = 3;

pub(crate) fn encode_response(response: &Response, out: &mut Vec<u8>) {
    out.put_u8(FORMAT_VERSION);
    out.put_code(response.code);
    match &response.body {
        Body::Empty => out.put_u8(BODY_EMPTY),
        Body::Removed(moved) => {
            out.put_u8(BODY_REMOVED);
            out.put_count(moved.len());
            for booking in moved {
                out.put_str(&booking.customer_id);
                out.put_u32(booking.tickets);
                match booking.new_movie_id {
                    None => out.put_u8(0),
                    Some(movie_id) => {
                        out.put_u8(1);
                        out.put_movie_id(movie_id);
                    }
                }
            }
        }
        Body::Shows(shows) => {
            out.put_u8(BODY_SHOWS);
            out.put_count(shows.len());
            for show in shows {
                out.put_movie_id(show.movie_id);
                out.put_movie(show.movie);
                out.put_u32(show.capacity);
                out.put_u32(show.available);
            }
        }
        Body::Schedule(entries) => {
            out.put_u8(BODY_SCHEDULE);
            out.put_count(entries.len());
            for entry in entries {
                out.put_movie_id(entry.movie_id);
                out.put_movie(entry.movie);
                out.put_u32(entry.tickets);
            }
        }
    }
}

pub(crate) fn decode_response(bytes: &[u8]) -> Result<Response, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.version()?;
    let code = reader.code()?;
    let body = match reader.u8()? {
        BODY_EMPTY => Body::Empty,
        BODY_REMOVED => {
            // Smallest entry: empty string (4) + tickets (4) + "cancelled" flag (1).
            let count = reader.count(9)?;
            let mut moved = Vec::with_capacity(count);
            for _ in 0..count {
                let customer_id = reader.string()?;
                let tickets = reader.u32()?;
                let new_movie_id = if reader.bool()? { Some(reader.movie_id()?) } else { None };
                moved.push(MovedBooking { customer_id, tickets, new_movie_id });
            }
            Body::Removed(moved)
        }
        BODY_SHOWS => {
            let count = reader.count(MOVIE_ID_LEN + 1 + 8)?;
            let mut shows = Vec::with_capacity(count);
            for _ in 0..count {
                let movie_id = reader.movie_id()?;
                let movie = reader.movie()?;
                let capacity = reader.u32()?;
                let available = reader.u32()?;
                shows.push(Show { movie_id, movie, capacity, available });
            }
            Body::Shows(shows)
        }
        BODY_SCHEDULE => {
            let count = reader.count(MOVIE_ID_LEN + 1 + 4)?;
            let mut entries = Vec::with_capacity(count);
            for _ in 0..count {
                let movie_id = reader.movie_id()?;
                let movie = reader.movie()?;
                let tickets = reader.u32()?;
                entries.push(ScheduleEntry { movie_id, movie, tickets });
            }
            Body::Schedule(entries)
        }
        _ => return Err(DecodeError::Invalid("unknown response body tag")),
    };
    reader.finish()?;
    Ok(Response { code, body })
}

const OP_ADD: u8 = 0;
const OP_REMOVE: u8 = 1;
const OP_LIST: u8 = 2;
const OP_BOOK: u8 = 3;
const OP_SCHEDULE: u8 = 4;
const OP_CANCEL: u8 = 5;
const OP_EXCHANGE: u8 = 6;

pub(crate) fn encode_request(request: &Request, out: &mut Vec<u8>) {
    out.put_u8(FORMAT_VERSION);
    out.put_str(&request.user_id);
    match &request.operation {
        Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => {
            out.put_u8(OP_ADD);
            out.put_str(movie_id);
            out.put_str(movie_name);
            out.put_i32(*booking_capacity);
        }
        Operation::RemoveMovieSlots { movie_id, movie_name } => {
            out.put_u8(OP_REMOVE);
            out.put_str(movie_id);
            out.put_str(movie_name);
        }
        Operation::ListMovieShowsAvailability { movie_name } => {
            out.put_u8(OP_LIST);
            out.put_str(movie_name);
        }
        Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            out.put_u8(OP_BOOK);
            out.put_str(customer_id);
            out.put_str(movie_id);
            out.put_str(movie_name);
            out.put_i32(*number_of_tickets);
        }
        Operation::GetBookingSchedule { customer_id } => {
            out.put_u8(OP_SCHEDULE);
            out.put_str(customer_id);
        }
        Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            out.put_u8(OP_CANCEL);
            out.put_str(customer_id);
            out.put_str(movie_id);
            out.put_str(movie_name);
            out.put_i32(*number_of_tickets);
        }
        Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id,
            new_movie_name,
            number_of_tickets,
        } => {
            out.put_u8(OP_EXCHANGE);
            out.put_str(customer_id);
            out.put_str(movie_id);
            out.put_str(movie_name);
            out.put_str(new_movie_id);
            out.put_str(new_movie_name);
            out.put_i32(*number_of_tickets);
        }
    }
}

pub(crate) fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    let mut reader = Reader::new(bytes);
    reader.version()?;
    let user_id = reader.string()?;
    let r = &mut reader;
    let operation = match r.u8()? {
        OP_ADD => {
            Operation::AddMovieSlots { movie_id: r.string()?, movie_name: r.string()?, booking_capacity: r.i32()? }
        }
        OP_REMOVE => Operation::RemoveMovieSlots { movie_id: r.string()?, movie_name: r.string()? },
        OP_LIST => Operation::ListMovieShowsAvailability { movie_name: r.string()? },
        OP_BOOK => Operation::BookMovieTickets {
            customer_id: r.string()?,
            movie_id: r.string()?,
            movie_name: r.string()?,
            number_of_tickets: r.i32()?,
        },
        OP_SCHEDULE => Operation::GetBookingSchedule { customer_id: r.string()? },
        OP_CANCEL => Operation::CancelMovieTickets {
            customer_id: r.string()?,
            movie_id: r.string()?,
            movie_name: r.string()?,
            number_of_tickets: r.i32()?,
        },
        OP_EXCHANGE => Operation::ExchangeTickets {
            customer_id: r.string()?,
            movie_id: r.string()?,
            movie_name: r.string()?,
            new_movie_id: r.string()?,
            new_movie_name: r.string()?,
            number_of_tickets: r.i32()?,
        },
        _ => return Err(DecodeError::Invalid("unknown operation tag")),
    };
    reader.finish()?;
    Ok(Request { user_id, operation })
}
