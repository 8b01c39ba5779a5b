//! Kaashoek's sequencer protocol (Amoeba's "PB" method) as a pure state machine: the submitter, sequencer and
//! member roles, their messages and the messages' binary codec.
//!
//! Deliberately not here: sockets, tasks, clocks, chunking of large datagrams (the `udp` crate), failure detection,
//! state transfer and sequencer failover. Time is a `u64` of milliseconds passed in; every role is a plain struct
//! driven by method calls in the style of quinn-proto:
//!
//! - inputs: `handle(now_ms, message)`, `handle_timeout(now_ms)`, plus `Submitter::submit` and
//!   `Sequencer::set_member_live`;
//! - outputs, drained after every input until `None`: `poll_transmit() -> Option<Transmit>` (a message and a
//!   `Destination`), `Member::poll_deliver()`, `Submitter::poll_accepted()`;
//! - `poll_timeout()`: the deadline at which to call `handle_timeout` next.
//!
//! A runtime that forgets to drain outputs only delays them; one that never calls `handle_timeout` loses retries,
//! heartbeats, NAK renewal and reports, so the protocol stalls under loss.
//!
//! ```text
//!  submitter (FE)             sequencer                         member A        member B
//!      │ Submit{low_water,        │                                 │               │
//!      │   [req 7]}  ─────────────▶ dedup (FE, 7)? no: seq 41, ts   │               │
//!      │                          │ history[41 & mask] = entry      │               │
//!      │ ◀──────── Accepted{7→41} │ Ordered{[41 …]} ───────────────▶│──────────────▶│ (lost at B)
//!      │                          │ Ordered{[42]} ─────────────────▶│──────────────▶│ B holds 42 back
//!      │                          │ ◀──────────── Nak{delivered 40, [41..=41]} ─────│
//!      │                          │ Ordered{[41]} (unicast) ───────────────────────▶│ B delivers 41, 42
//!      │                          │ ◀───── Report{delivered 42} ────│               │
//!      │                          │ ◀──────────── Report{delivered 42} ─────────────│
//!      │                          │ free history ..=42              │               │
//!      │                          │ (idle) Sync{high_seq 42} ──────▶│──────────────▶│ a lost tail shows up
//! ```
//!
//! Guarantees, given a runtime that drains outputs and runs timers: each member delivers seqs 1 (or its `new_at`
//! point), 2, 3, … in order, each exactly once, and every member delivers the same entry at the same seq; a request
//! id is ordered at most once per submitter; once faults stop, every accepted request reaches every live member and
//! the sequencer's history empties. The crate's tests and `crates/sim` check these.
//!
//! Epochs: every message carries the sender's epoch. Lower epochs are dropped everywhere. A member or submitter
//! seeing a higher epoch from a sequencer adopts it and its sender as the sequencer (members discard undelivered
//! held-back entries; submitters resend everything unsettled). A sequencer seeing a higher epoch stops ordering.
//! Seqs do not restart with an epoch: a successor is configured with `first_seq` continuing the old numbering.

mod codec;
mod member;
mod message;
mod sequencer;
mod submitter;

pub use codec::{
    ACK_LEN, BATCH_COUNT_MAX, DecodeError, HEADER_LEN, MAGIC, ORDERED_ENTRY_OVERHEAD, REQUEST_OVERHEAD, VERSION,
};
pub use member::{Member, MemberConfig, MemberStats};
pub use message::{Ack, Body, Destination, Message, NodeId, OrderedEntry, Request, SeqRange, Transmit};
pub use sequencer::{Sequencer, SequencerConfig, SequencerStats};
pub use submitter::{SubmitError, Submitter, SubmitterConfig, SubmitterStats};
