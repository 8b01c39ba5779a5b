//! The replica manager process (`cineflix-rm`): the I/O shell around the pure `manager::Manager`, plus the small
//! operator protocol (`status`) that `cineflix status` and `cineflix fault` speak to it.
//!
//! ```text
//!  sequencer ──ordering──▶ member ──entries──▶ Manager ──replica-api──▶ child cineflix-replica (supervised)
//!                                               │  ▲
//!  front end ◀── results, membership ───────────┘  └── reports (front end), peer messages (other RMs), status
//! ```
//!
//! - `node`: one task owning every socket, timer and the child process; it feeds the core its inputs and carries
//!   out each `manager::Command` (the shell adds no protocol decisions).
//! - `audit`: the RM's log (`<logs.dir>/rm-<id>.log`): request ids and seqs, replacements, verdicts, state
//!   transfer with timings.
//! - `status`: the operator protocol and a client for it.
//!
//! Deliberately not here: the replication protocol (crates/manager), the ordering protocol (crates/ordering and
//! `udp::ordering_shell`), the booking rules (crates/booking, run by the replica process).

pub mod audit;
pub mod node;
pub mod status;

pub use node::{Options, RmError, run};
