//! CineFlix booking rules as a deterministic state machine.
//!
//! This crate is the replicated state machine of `spec/booking.md`: the same ordered
//! input produces byte-identical answers and state digests on every replica.
//!
//! It deliberately does **no I/O and reads no clock**: time arrives as the
//! sequencer's timestamp inside each call, and the only way one theatre reaches another
//! is the [`Peers`] trait, which the caller implements (directly in-process, or over UDP
//! in the replica program).
//!
//! Layers, bottom up:
//! - [`ids`]: parsing and canonical forms of user IDs, movie names, movie IDs, dates,
//!   and [`Slot`] (movie + movie ID).
//! - [`time`]: sequencer timestamp → "today" in the theatres' zone (bundled tzdb).
//! - [`codec`]: canonical byte formats of requests and responses (documented there).
//! - [`peer`]: the messages between theatres, their codec, and the [`Peers`] trait.
//! - [`theatre`]: one theatre's own slots and bookings, driven by [`PeerRequest`]s.
//! - [`coordinator`]: the operations of booking.md, run at the caller's home theatre,
//!   checking every rule before changing anything.
//! - [`api`]: the client-facing request and response values and their canonical encoding.
//! - [`replica`]: the three theatres in one value, for simulation, tests and snapshots;
//!   the replica snapshot and digest.
//!
//! Decisions where booking.md is silent (check order, cancel of past shows, exchange to
//! the same slot, removal order) are listed in [`coordinator`]'s module doc.

pub mod api;
pub mod codec;
pub mod coordinator;
pub mod ids;
pub mod peer;
pub mod replica;
pub mod theatre;
pub mod time;

pub use api::{Body, MovedBooking, Operation, Request, Response, ResultCode, ScheduleEntry, Show};
pub use codec::DecodeError;
pub use ids::{Date, Movie, MovieId, Role, Slot, SlotLetter, TheatreCode, UserId};
pub use peer::{HeldBooking, MovedTo, PeerRequest, PeerResponse, Peers};
pub use replica::{Replica, replica_digest, replica_snapshot};
pub use theatre::Theatre;
