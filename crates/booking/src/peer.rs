//! Messages between theatre servers, and the [`Peers`] trait the coordinator reaches
//! theatres through.
//!
//! The coordinator (at the caller's home theatre) sends [`PeerRequest`]s to theatres,
//! its own included, and each theatre answers with a [`PeerResponse`] from
//! `Theatre::handle`. Requests are designed for few round trips and small replies:
//! queries are filtered (one customer's bookings in one date range, one movie's shows
//! from a date), and each mutation checks its own preconditions at the theatre that owns
//! the data, so one round trip both decides and applies.
//!
//! Which requests mutate: `Book`, `Exchange`, `Cancel`, `AddSlot` and `RemoveSlot`
//! change the receiving theatre's state, **only** when they answer `OK` (or `Removed`).
//! They are not idempotent; the transport must deliver each exactly once.
//! `ListShows`, `CustomerBookings` and `PrepareRemoval` only read.
//!
//! This module deliberately does no transport: encoding to bytes is here
//! ([`PeerRequest::encode`] …) but sockets, retries and chunking are the replica
//! program's.
//!
//! # Encoding, version 1
//!
//! Primitives as in [`crate::codec`] (big-endian; date = `i16` year, `u8` month,
//! `u8` day; movie ID 6 bytes; user 4 bytes; slot = movie `u8` + movie ID).
//! ```text
//! PeerRequest:  u8 version = 1, u8 tag, fields
//!   0 ListShows         movie, date from
//!   1 CustomerBookings  count + users, date from, date to, u8 0 | u8 1 + slot (include)
//!   2 Book              user customer, slot, u32 tickets, date today,
//!                       u32 outside_slots_elsewhere, u8 same_show_elsewhere (0/1)
//!   3 Exchange          user customer, slot old, slot new, u32 tickets, date today,
//!                       u32 outside_slots_elsewhere, u8 same_show_elsewhere (0/1)
//!   4 Cancel            user customer, slot, u32 tickets, date today
//!   5 AddSlot           slot, u32 capacity
//!   6 PrepareRemoval    slot, date today
//!   7 RemoveSlot        slot, date today, count + held bookings (elsewhere)
//! PeerResponse: u8 version = 1, u8 tag, fields
//!   0 Result            result code
//!   1 Shows             count + (movie ID, movie, u32 capacity, u32 available)
//!   2 Bookings          count + held bookings
//!   3 Customers         count + users
//!   4 Removed           count + (user customer, u32 tickets, u8 0 | u8 1 + movie ID)
//! held booking = user customer, slot, u32 tickets
//! ```

use crate::api::{ResultCode, Show};
use crate::codec::{DecodeError, FORMAT_VERSION, MOVIE_ID_LEN, Put, Reader, SLOT_LEN, USER_LEN};
use crate::ids::{Date, Movie, MovieId, Slot, TheatreCode, UserId};
use std::future::Future;

/// One request from a coordinator to a theatre. See the module doc for which mutate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerRequest {
    /// Read: the theatre's shows of `movie` dated `from` or later, in listing order.
    /// Answer: [`PeerResponse::Shows`].
    ListShows { movie: Movie, from: Date },
    /// Read: the bookings of each of `customers` (in that order) whose show date lies in
    /// `from..=to`, plus the booking at `include` if the customer holds one there (even
    /// outside the range). Per customer in listing order, without duplicates.
    /// Answer: [`PeerResponse::Bookings`].
    CustomerBookings { customers: Vec<UserId>, from: Date, to: Date, include: Option<Slot> },
    /// Mutation: book `tickets` at `slot` for `customer` if every booking rule allows it.
    /// The coordinator supplies what only other theatres know: the number of distinct
    /// outside-home slots the customer holds in the show's ISO week in theatres other
    /// than this one, and whether they hold the same show (movie, date, slot letter) in
    /// another theatre. Checks, in order: `SLOT_NOT_FOUND`, `PAST_SHOW`, `SOLD_OUT`,
    /// `OUTSIDE_AREA_LIMIT`, `SAME_SLOT_OTHER_THEATRE`. Answer: [`PeerResponse::Result`].
    Book {
        customer: UserId,
        slot: Slot,
        tickets: u32,
        today: Date,
        outside_slots_elsewhere: u32,
        same_show_elsewhere: bool,
    },
    /// Mutation: move `tickets` from `old` to `new`, both slots of this theatre,
    /// atomically. Checks the old booking (`NO_BOOKING`, `NOT_ENOUGH_TICKETS`,
    /// `PAST_SHOW`), then `new` exactly as `Book` does, as if the old tickets were
    /// already given back. The `*_elsewhere` facts must already exclude `old`.
    /// Answer: [`PeerResponse::Result`].
    Exchange {
        customer: UserId,
        old: Slot,
        new: Slot,
        tickets: u32,
        today: Date,
        outside_slots_elsewhere: u32,
        same_show_elsewhere: bool,
    },
    /// Mutation: give back `tickets` of the customer's booking at `slot`. Checks
    /// `NO_BOOKING`, `NOT_ENOUGH_TICKETS`, `PAST_SHOW`. Answer: [`PeerResponse::Result`].
    Cancel { customer: UserId, slot: Slot, tickets: u32, today: Date },
    /// Mutation: create the slot, or set its capacity (`CAPACITY_BELOW_BOOKED` if below
    /// the seats booked). The date window is the coordinator's check.
    /// Answer: [`PeerResponse::Result`].
    AddSlot { slot: Slot, capacity: u32 },
    /// Read: may `slot` be removed (`SLOT_NOT_FOUND`, `PAST_SHOW`), and who holds
    /// bookings in it. Answer: [`PeerResponse::Customers`] or [`PeerResponse::Result`].
    PrepareRemoval { slot: Slot, today: Date },
    /// Mutation: delete `slot` and move or cancel its bookings (booking.md). `elsewhere`
    /// is every booking, in the other two theatres, of the slot's customers dated from
    /// the Monday of the slot's week on. Answer: [`PeerResponse::Removed`], or
    /// [`PeerResponse::Result`] with the rejection.
    RemoveSlot { slot: Slot, today: Date, elsewhere: Vec<HeldBooking> },
}

/// One theatre's answer to a [`PeerRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerResponse {
    /// The outcome of a mutation, or a rejection of `PrepareRemoval`/`RemoveSlot`.
    Result(ResultCode),
    Shows(Vec<Show>),
    Bookings(Vec<HeldBooking>),
    /// The customers holding bookings in a slot about to be removed, ascending.
    Customers(Vec<UserId>),
    /// Every booking of a removed slot, in the order the bookings were first made.
    Removed(Vec<MovedTo>),
}

/// A booking as other theatres need to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeldBooking {
    pub customer: UserId,
    pub slot: Slot,
    pub tickets: u32,
}

/// What happened to one booking of a removed slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MovedTo {
    pub customer: UserId,
    pub tickets: u32,
    /// The movie ID (same movie, same theatre) it moved to; `None`: cancelled.
    pub new_movie_id: Option<MovieId>,
}

/// How the coordinator reaches a theatre, its own included.
///
/// The call is `async` so that the coordinator is a plain state machine (a future) with
/// no I/O inside: in-process implementations return ready futures, the replica program
/// awaits real UDP round trips. Implementations must apply each mutation exactly once; a read
/// (`!PeerRequest::is_mutation`) changes nothing, so serving it more than once (a retried relay)
/// is allowed.
pub trait Peers {
    fn call(&mut self, to: TheatreCode, request: PeerRequest) -> impl Future<Output = PeerResponse>;

    /// Independent reads at several theatres (`reads` holds no mutation), answered in the
    /// order asked. They see the same state in any order, because nothing else runs during a
    /// job. By default they are asked one after the other; a transport may gather them (the
    /// replica relays the remote ones in one pass).
    fn read_all(&mut self, reads: Vec<(TheatreCode, PeerRequest)>) -> impl Future<Output = Vec<PeerResponse>> {
        debug_assert!(reads.iter().all(|(_, request)| !request.is_mutation()), "read_all with a mutation");
        async move {
            let mut answers = Vec::with_capacity(reads.len());
            for (to, request) in reads {
                answers.push(self.call(to, request).await);
            }
            answers
        }
    }
}

const HELD_LEN: usize = USER_LEN + SLOT_LEN + 4;

fn put_held(out: &mut Vec<u8>, held: &HeldBooking) {
    out.put_user(held.customer);
    out.put_slot(held.slot);
    out.put_u32(held.tickets);
}

fn read_held(reader: &mut Reader<'_>) -> Result<HeldBooking, DecodeError> {
    Ok(HeldBooking { customer: reader.user()?, slot: reader.slot()?, tickets: reader.u32()? })
}

fn read_held_list(reader: &mut Reader<'_>) -> Result<Vec<HeldBooking>, DecodeError> {
    let count = reader.count(HELD_LEN)?;
    (0..count).map(|_| read_held(reader)).collect()
}

impl PeerRequest {
    /// Whether handling this request can change the receiving theatre's state.
    pub fn is_mutation(&self) -> bool {
        !matches!(
            self,
            PeerRequest::ListShows { .. } | PeerRequest::CustomerBookings { .. } | PeerRequest::PrepareRemoval { .. }
        )
    }

    /// Versioned binary encoding (module doc).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        self.encode_into(&mut out);
        out
    }

    /// Appends [`PeerRequest::encode`]'s bytes to `out` (for a caller that frames them in a buffer of its own).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.put_u8(FORMAT_VERSION);
        match self {
            PeerRequest::ListShows { movie, from } => {
                out.put_u8(0);
                out.put_movie(*movie);
                out.put_date(*from);
            }
            PeerRequest::CustomerBookings { customers, from, to, include } => {
                out.put_u8(1);
                out.put_count(customers.len());
                for customer in customers {
                    out.put_user(*customer);
                }
                out.put_date(*from);
                out.put_date(*to);
                match include {
                    None => out.put_u8(0),
                    Some(slot) => {
                        out.put_u8(1);
                        out.put_slot(*slot);
                    }
                }
            }
            PeerRequest::Book { customer, slot, tickets, today, outside_slots_elsewhere, same_show_elsewhere } => {
                out.put_u8(2);
                out.put_user(*customer);
                out.put_slot(*slot);
                out.put_u32(*tickets);
                out.put_date(*today);
                out.put_u32(*outside_slots_elsewhere);
                out.put_u8(u8::from(*same_show_elsewhere));
            }
            PeerRequest::Exchange {
                customer,
                old,
                new,
                tickets,
                today,
                outside_slots_elsewhere,
                same_show_elsewhere,
            } => {
                out.put_u8(3);
                out.put_user(*customer);
                out.put_slot(*old);
                out.put_slot(*new);
                out.put_u32(*tickets);
                out.put_date(*today);
                out.put_u32(*outside_slots_elsewhere);
                out.put_u8(u8::from(*same_show_elsewhere));
            }
            PeerRequest::Cancel { customer, slot, tickets, today } => {
                out.put_u8(4);
                out.put_user(*customer);
                out.put_slot(*slot);
                out.put_u32(*tickets);
                out.put_date(*today);
            }
            PeerRequest::AddSlot { slot, capacity } => {
                out.put_u8(5);
                out.put_slot(*slot);
                out.put_u32(*capacity);
            }
            PeerRequest::PrepareRemoval { slot, today } => {
                out.put_u8(6);
                out.put_slot(*slot);
                out.put_date(*today);
            }
            PeerRequest::RemoveSlot { slot, today, elsewhere } => {
                out.put_u8(7);
                out.put_slot(*slot);
                out.put_date(*today);
                out.put_count(elsewhere.len());
                for held in elsewhere {
                    put_held(out, held);
                }
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<PeerRequest, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.version()?;
        let r = &mut reader;
        let request = match r.u8()? {
            0 => PeerRequest::ListShows { movie: r.movie()?, from: r.date()? },
            1 => {
                let count = r.count(USER_LEN)?;
                let customers = (0..count).map(|_| r.user()).collect::<Result<Vec<_>, _>>()?;
                let from = r.date()?;
                let to = r.date()?;
                let include = if r.bool()? { Some(r.slot()?) } else { None };
                PeerRequest::CustomerBookings { customers, from, to, include }
            }
            2 => PeerRequest::Book {
                customer: r.user()?,
                slot: r.slot()?,
                tickets: r.u32()?,
                today: r.date()?,
                outside_slots_elsewhere: r.u32()?,
                same_show_elsewhere: r.bool()?,
            },
            3 => PeerRequest::Exchange {
                customer: r.user()?,
                old: r.slot()?,
                new: r.slot()?,
                tickets: r.u32()?,
                today: r.date()?,
                outside_slots_elsewhere: r.u32()?,
                same_show_elsewhere: r.bool()?,
            },
            4 => PeerRequest::Cancel { customer: r.user()?, slot: r.slot()?, tickets: r.u32()?, today: r.date()? },
            5 => PeerRequest::AddSlot { slot: r.slot()?, capacity: r.u32()? },
            6 => PeerRequest::PrepareRemoval { slot: r.slot()?, today: r.date()? },
            7 => PeerRequest::RemoveSlot { slot: r.slot()?, today: r.date()?, elsewhere: read_held_list(r)? },
            _ => return Err(DecodeError::Invalid("unknown peer request tag")),
        };
        reader.finish()?;
        Ok(request)
    }
}

impl PeerResponse {
    /// Versioned binary encoding (module doc).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.encode_into(&mut out);
        out
    }

    /// Appends [`PeerResponse::encode`]'s bytes to `out` (for a caller that frames them in a buffer of its own).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.put_u8(FORMAT_VERSION);
        match self {
            PeerResponse::Result(code) => {
                out.put_u8(0);
                out.put_code(*code);
            }
            PeerResponse::Shows(shows) => {
                out.put_u8(1);
                out.put_count(shows.len());
                for show in shows {
                    out.put_movie_id(show.movie_id);
                    out.put_movie(show.movie);
                    out.put_u32(show.capacity);
                    out.put_u32(show.available);
                }
            }
            PeerResponse::Bookings(held) => {
                out.put_u8(2);
                out.put_count(held.len());
                for booking in held {
                    put_held(out, booking);
                }
            }
            PeerResponse::Customers(customers) => {
                out.put_u8(3);
                out.put_count(customers.len());
                for customer in customers {
                    out.put_user(*customer);
                }
            }
            PeerResponse::Removed(moved) => {
                out.put_u8(4);
                out.put_count(moved.len());
                for booking in moved {
                    out.put_user(booking.customer);
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
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<PeerResponse, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.version()?;
        let r = &mut reader;
        let response = match r.u8()? {
            0 => PeerResponse::Result(r.code()?),
            1 => {
                let count = r.count(MOVIE_ID_LEN + 1 + 8)?;
                let mut shows = Vec::with_capacity(count);
                for _ in 0..count {
                    shows.push(Show {
                        movie_id: r.movie_id()?,
                        movie: r.movie()?,
                        capacity: r.u32()?,
                        available: r.u32()?,
                    });
                }
                PeerResponse::Shows(shows)
            }
            2 => PeerResponse::Bookings(read_held_list(r)?),
            3 => {
                let count = r.count(USER_LEN)?;
                PeerResponse::Customers((0..count).map(|_| r.user()).collect::<Result<Vec<_>, _>>()?)
            }
            4 => {
                let count = r.count(USER_LEN + 4 + 1)?;
                let mut moved = Vec::with_capacity(count);
                for _ in 0..count {
                    let customer = r.user()?;
                    let tickets = r.u32()?;
                    let new_movie_id = if r.bool()? { Some(r.movie_id()?) } else { None };
                    moved.push(MovedTo { customer, tickets, new_movie_id });
                }
                PeerResponse::Removed(moved)
            }
            _ => return Err(DecodeError::Invalid("unknown peer response tag")),
        };
        reader.finish()?;
        Ok(response)
    }
}
