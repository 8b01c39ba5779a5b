//! Deterministic simulations: the ordering protocol now (`ordering_sim`), the whole cluster later, sharing the
//! seeded in-memory `network`.
//!
//! Deliberately not here: real sockets, threads or clocks. A simulation is a function of its seed; a failure
//! prints the seed and the command that replays it.

pub mod network;
pub mod ordering_sim;

pub use network::{FaultRates, Network, NetworkStats, Packet};
pub use ordering_sim::{
    OrderingOutcome, OrderingSimOptions, OrderingTotals, Violation, replay_command, run_ordering, run_ordering_seeds,
};
