//! Client-facing requests and responses: what the front end sends to a replica and what
//! the replicas' results are voted on.
//!
//! A [`Request`] carries the caller's fields exactly as the client typed them (strings
//! and numbers); validating them is part of the replicated computation, so that every
//! replica rejects bad input with the same [`ResultCode`].
//!
//! A [`Response`] is the structured, canonical answer. Its encoding
//! ([`Response::encode`]) is what the front end votes on. The human `message` shown to
//! clients is deliberately **not** part of the response: the front end derives it from
//! the request and the code ([`Response::message`]), so replicas (even independently
//! written ones) never disagree over wording.

use crate::ids::{Movie, MovieId};

/// One client operation with its raw, unvalidated arguments.
///
/// Field order follows the SOAP contract's element order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    AddMovieSlots {
        movie_id: String,
        movie_name: String,
        booking_capacity: i32,
    },
    RemoveMovieSlots {
        movie_id: String,
        movie_name: String,
    },
    ListMovieShowsAvailability {
        movie_name: String,
    },
    BookMovieTickets {
        customer_id: String,
        movie_id: String,
        movie_name: String,
        number_of_tickets: i32,
    },
    GetBookingSchedule {
        customer_id: String,
    },
    CancelMovieTickets {
        customer_id: String,
        movie_id: String,
        movie_name: String,
        number_of_tickets: i32,
    },
    ExchangeTickets {
        customer_id: String,
        movie_id: String,
        movie_name: String,
        new_movie_id: String,
        new_movie_name: String,
        number_of_tickets: i32,
    },
}

impl Operation {
    /// The SOAP operation name, e.g. `bookMovieTickets`.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::AddMovieSlots { .. } => "addMovieSlots",
            Operation::RemoveMovieSlots { .. } => "removeMovieSlots",
            Operation::ListMovieShowsAvailability { .. } => "listMovieShowsAvailability",
            Operation::BookMovieTickets { .. } => "bookMovieTickets",
            Operation::GetBookingSchedule { .. } => "getBookingSchedule",
            Operation::CancelMovieTickets { .. } => "cancelMovieTickets",
            Operation::ExchangeTickets { .. } => "exchangeTickets",
        }
    }

    /// Whether the operation can change state. Read-only operations still go through
    /// the total order (their answer depends on what was ordered before them).
    pub fn is_update(&self) -> bool {
        !matches!(self, Operation::ListMovieShowsAvailability { .. } | Operation::GetBookingSchedule { .. })
    }
}

/// A client request: who calls, and what they ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The caller's user ID as sent (any letter case).
    pub user_id: String,
    pub operation: Operation,
}

/// The stable result codes of booking.md. `Ok` is success; every other code is a domain
/// rejection that changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ResultCode {
    Ok = 0,
    InvalidId = 1,
    UnknownMovie = 2,
    NotAuthorized = 3,
    DateOutOfWindow = 4,
    PastShow = 5,
    SlotNotFound = 6,
    InvalidQuantity = 7,
    CapacityBelowBooked = 8,
    SoldOut = 9,
    OutsideAreaLimit = 10,
    SameSlotOtherTheatre = 11,
    NoBooking = 12,
    NotEnoughTickets = 13,
}

impl ResultCode {
    /// Every code, in wire order.
    pub const ALL: [ResultCode; 14] = [
        ResultCode::Ok,
        ResultCode::InvalidId,
        ResultCode::UnknownMovie,
        ResultCode::NotAuthorized,
        ResultCode::DateOutOfWindow,
        ResultCode::PastShow,
        ResultCode::SlotNotFound,
        ResultCode::InvalidQuantity,
        ResultCode::CapacityBelowBooked,
        ResultCode::SoldOut,
        ResultCode::OutsideAreaLimit,
        ResultCode::SameSlotOtherTheatre,
        ResultCode::NoBooking,
        ResultCode::NotEnoughTickets,
    ];

    /// The code as the contract spells it, e.g. `SOLD_OUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Ok => "OK",
            ResultCode::InvalidId => "INVALID_ID",
            ResultCode::UnknownMovie => "UNKNOWN_MOVIE",
            ResultCode::NotAuthorized => "NOT_AUTHORIZED",
            ResultCode::DateOutOfWindow => "DATE_OUT_OF_WINDOW",
            ResultCode::PastShow => "PAST_SHOW",
            ResultCode::SlotNotFound => "SLOT_NOT_FOUND",
            ResultCode::InvalidQuantity => "INVALID_QUANTITY",
            ResultCode::CapacityBelowBooked => "CAPACITY_BELOW_BOOKED",
            ResultCode::SoldOut => "SOLD_OUT",
            ResultCode::OutsideAreaLimit => "OUTSIDE_AREA_LIMIT",
            ResultCode::SameSlotOtherTheatre => "SAME_SLOT_OTHER_THEATRE",
            ResultCode::NoBooking => "NO_BOOKING",
            ResultCode::NotEnoughTickets => "NOT_ENOUGH_TICKETS",
        }
    }

    /// Parses the contract spelling (exact, upper case).
    pub fn parse(text: &str) -> Option<ResultCode> {
        ResultCode::ALL.into_iter().find(|code| code.as_str() == text)
    }

    pub fn is_ok(self) -> bool {
        self == ResultCode::Ok
    }
}

/// One show in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Show {
    pub movie_id: MovieId,
    pub movie: Movie,
    pub capacity: u32,
    pub available: u32,
}

/// One booking in a customer's schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleEntry {
    pub movie_id: MovieId,
    pub movie: Movie,
    pub tickets: u32,
}

/// One booking affected by a slot removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedBooking {
    /// Canonical (upper-case) customer ID.
    pub customer_id: String,
    pub tickets: u32,
    /// Where the booking went; `None` means it was cancelled.
    pub new_movie_id: Option<MovieId>,
}

/// The operation-specific part of a response. Always `Empty` when the code is not `Ok`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Empty,
    Removed(Vec<MovedBooking>),
    Shows(Vec<Show>),
    Schedule(Vec<ScheduleEntry>),
}

/// The canonical answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub code: ResultCode,
    pub body: Body,
}

impl Response {
    pub fn ok(body: Body) -> Response {
        Response { code: ResultCode::Ok, body }
    }

    pub fn rejected(code: ResultCode) -> Response {
        debug_assert!(code != ResultCode::Ok, "a rejection needs a rejection code");
        Response { code, body: Body::Empty }
    }

    pub fn success(&self) -> bool {
        self.code.is_ok()
    }
}

impl Response {
    /// Canonical byte encoding: the value the front end votes on. Two responses are
    /// equal iff their encodings are equal. Format: see `codec`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        crate::codec::encode_response(self, &mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, crate::DecodeError> {
        crate::codec::decode_response(bytes)
    }

    /// The human-readable message for this answer to `request`. Derived, not voted on.
    pub fn message(&self, request: &Request) -> String {
        crate::coordinator::message_for(request, self)
    }
}

impl Request {
    /// Canonical byte encoding, used on the wire between front end, sequencer and replicas.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        crate::codec::encode_request(self, &mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, crate::DecodeError> {
        crate::codec::decode_request(bytes)
    }
}
