//! Deterministic simulations sharing the seeded in-memory `network`: the ordering protocol alone (`ordering_sim`)
//! and the whole cluster (`cluster_sim`: front end, sequencer, replica managers, simulated replicas).
//!
//! Deliberately not here: real sockets, threads or clocks. A simulation is a function of its seed; a failure
//! prints the seed and the command that replays it.

pub mod cluster_sim;
pub mod network;
pub mod ordering_sim;
pub mod requests;

pub use cluster_sim::{
    ClusterOutcome, ClusterScenario, ClusterSimOptions, ClusterTotals, ClusterViolation, cluster_replay_command,
    run_cluster, run_cluster_seeds,
};
pub use network::{FaultRates, Network, NetworkStats, Packet};
pub use ordering_sim::{
    OrderingOutcome, OrderingSimOptions, OrderingTotals, Violation, replay_command, run_ordering, run_ordering_seeds,
};
