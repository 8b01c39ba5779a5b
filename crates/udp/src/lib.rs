//! UDP for CineFlix: socket setup, message framing (fragmentation and reassembly), a fault-injecting
//! transport, and the tokio shells that drive the ordering protocol's pure core (`ordering_shell`).
//!
//! Layering: `framing` and `faults` are pure (no sockets, clocks or tasks) and unit-tested with proptest;
//! `socket` only creates sockets; `endpoint` is the thin tokio shell that combines them. This crate does not make
//! delivery reliable: retransmission, ordering and duplicate suppression belong to the protocol above
//! (crates/ordering), which this crate only carries.

mod endpoint;
mod faults;
pub mod framing;
pub mod ordering_shell;
pub mod ports;
mod socket;

pub use endpoint::{Endpoint, EndpointConfig, REORDER_HOLD_MAX};
pub use faults::{FaultDecision, FaultInjector, FaultStats, InvalidFaults, LinkFaults};
pub use framing::{FrameError, MAX_MESSAGE_BYTES};
pub use ports::{PortsError, unused_loopback_ports};
pub use socket::{DEFAULT_BUFFER_BYTES, bind_std};
