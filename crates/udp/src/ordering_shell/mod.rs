//! Tokio shells for the ordering protocol's three roles: [`SequencerNode`], [`MemberNode`], [`SubmitterNode`].
//!
//! Each shell owns one [`Endpoint`](crate::Endpoint) and one task that drives the pure core from `crates/ordering`:
//! received datagrams and timer expiries go in, `poll_transmit` output goes out, and role-specific output
//! (deliveries, acceptances) goes to the application through channels. The shells add no protocol logic: no
//! retries, no ordering decisions, no dedup. What they do add:
//!
//! - an address book (`NodeId` → `SocketAddr`): configured addresses win, others are learned from the source
//!   address of the node's datagrams, and a message whose `from` contradicts its configured address is dropped;
//! - batching: after one datagram arrives, everything already queued in the kernel is handed to the core before
//!   its output is flushed, so the core sees bursts and batches (`Ordered` and `Accepted` carry many entries);
//! - a clock: milliseconds since the Unix epoch, read once from the wall clock at start and advanced by the
//!   monotonic clock, so timers never jump and the sequencer's timestamps are meaningful dates.
//!
//! Deliberately not here: failure detection (who is live is decided elsewhere and passed to
//! `SequencerNode::set_member_live`), state transfer, sequencer failover, or knowledge of payloads.

mod member;
mod sequencer;
mod submitter;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ordering::{Destination, Message, NodeId, Transmit};

use crate::Endpoint;

pub use member::{MemberNode, MemberStatus};
pub use sequencer::{SequencerNode, SequencerStatus};
pub use submitter::{Acceptance, SubmitterNode, SubmitterStatus};

/// Most queued datagrams handed to a core before its output is flushed: large enough to batch a burst, small
/// enough that timers and commands are not starved under a flood.
pub const DRAIN_DATAGRAMS_MAX: usize = 256;

/// Most addresses learned from traffic (beyond the configured ones); a flood of forged node ids cannot grow the
/// book further.
const LEARNED_ADDRESSES_MAX: usize = 4096;

/// Why a request to a node's task could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node's task has ended (shut down, or failed with an I/O error that its `shutdown` reports).
    #[error("the node has stopped")]
    Stopped,
    /// The submitter core refused the request; nothing was sent.
    #[error(transparent)]
    Submit(#[from] ordering::SubmitError),
    /// A node could not start: a configured peer has no address, or the socket failed.
    #[error("node configuration: {0}")]
    Config(String),
}

/// Milliseconds for the cores: anchored to the Unix epoch at start, advanced monotonically.
#[derive(Clone, Copy, Debug)]
pub struct NodeClock {
    start: Instant,
    start_unix_ms: u64,
}

impl NodeClock {
    /// A clock starting now.
    pub fn new() -> Self {
        let start_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        NodeClock { start: Instant::now(), start_unix_ms }
    }

    /// The current time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.start_unix_ms + self.start.elapsed().as_millis() as u64
    }

    /// The tokio instant at which this clock reads `ms` (now, if that is in the past).
    pub fn instant_at(&self, ms: u64) -> tokio::time::Instant {
        let offset_ms = ms.saturating_sub(self.start_unix_ms);
        tokio::time::Instant::from_std(self.start + Duration::from_millis(offset_ms))
    }
}

impl Default for NodeClock {
    fn default() -> Self {
        NodeClock::new()
    }
}

/// `NodeId` → address: configured entries are fixed, others are learned from traffic.
#[derive(Debug, Default)]
pub(crate) struct AddressBook {
    fixed: HashMap<NodeId, SocketAddr>,
    learned: HashMap<NodeId, SocketAddr>,
}

impl AddressBook {
    pub(crate) fn new(fixed: HashMap<NodeId, SocketAddr>) -> Self {
        AddressBook { fixed, learned: HashMap::new() }
    }

    pub(crate) fn resolve(&self, node: NodeId) -> Option<SocketAddr> {
        self.fixed.get(&node).or_else(|| self.learned.get(&node)).copied()
    }

    /// Records where `node`'s datagram came from. False when that contradicts its configured address (the
    /// message is then dropped: some other process is using the id, or the configuration is wrong).
    pub(crate) fn observe(&mut self, node: NodeId, source: SocketAddr) -> bool {
        if let Some(&fixed) = self.fixed.get(&node) {
            return fixed == source;
        }
        if self.learned.len() < LEARNED_ADDRESSES_MAX || self.learned.contains_key(&node) {
            self.learned.insert(node, source);
        }
        true
    }
}

/// The I/O half shared by all shells: the endpoint, the address book, a reusable encode buffer and the clock.
#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) book: AddressBook,
    pub(crate) clock: NodeClock,
    encode_buffer: Vec<u8>,
    /// Datagrams that were not ordering messages, or came from the wrong address.
    pub(crate) rejected: u64,
}

impl Wire {
    pub(crate) fn new(endpoint: Arc<Endpoint>, peers: HashMap<NodeId, SocketAddr>) -> Self {
        Wire {
            endpoint,
            book: AddressBook::new(peers),
            clock: NodeClock::new(),
            encode_buffer: Vec::new(),
            rejected: 0,
        }
    }

    /// Decodes one received message and checks its sender against the address book.
    pub(crate) fn decode(&mut self, bytes: Vec<u8>, source: SocketAddr) -> Option<Message> {
        match Message::decode_shared(&Bytes::from(bytes)) {
            Ok(message) if self.book.observe(message.from, source) => Some(message),
            Ok(message) => {
                self.rejected += 1;
                tracing::debug!(from = %message.from, %source, "message from an address other than the configured one");
                None
            }
            Err(error) => {
                self.rejected += 1;
                tracing::debug!(%error, %source, "not an ordering message");
                None
            }
        }
    }

    /// Receives the next message (waiting), then everything already queued (up to `DRAIN_DATAGRAMS_MAX`), handing
    /// each to `handle`. Cancel-safe: nothing is lost if the future is dropped while waiting.
    pub(crate) async fn receive_burst(&mut self, mut handle: impl FnMut(u64, Message)) -> io::Result<()> {
        let (bytes, source) = self.endpoint.recv_from().await?;
        if let Some(message) = self.decode(bytes, source) {
            handle(self.clock.now_ms(), message);
        }
        for _ in 0..DRAIN_DATAGRAMS_MAX {
            let Some((bytes, source)) = self.endpoint.try_recv_from()? else { break };
            if let Some(message) = self.decode(bytes, source) {
                handle(self.clock.now_ms(), message);
            }
        }
        Ok(())
    }

    /// Encodes and sends one transmit; `members` resolves `Destination::Members`. Send failures are logged, not
    /// returned: a datagram that cannot be sent is a lost datagram, which the protocol recovers from.
    pub(crate) async fn send(&mut self, transmit: Transmit, members: &[NodeId]) {
        self.encode_buffer.clear();
        transmit.message.encode(&mut self.encode_buffer);
        match transmit.to {
            Destination::Node(node) => self.send_encoded(node).await,
            Destination::Members => {
                for &member in members {
                    self.send_encoded(member).await;
                }
            }
        }
    }

    async fn send_encoded(&self, node: NodeId) {
        let Some(address) = self.book.resolve(node) else {
            tracing::debug!(%node, "no address for node; message not sent");
            return;
        };
        if let Err(error) = self.endpoint.send_to(&self.encode_buffer, address).await {
            tracing::debug!(%error, %node, %address, "send failed");
        }
    }
}

/// Spawns a node's task, logging the I/O error that ends it (the error is also kept for `shutdown`).
pub(crate) fn spawn_node_task(
    role: &'static str,
    task: impl Future<Output = io::Result<()>> + Send + 'static,
) -> tokio::task::JoinHandle<io::Result<()>> {
    tokio::spawn(async move {
        let result = task.await;
        if let Err(error) = &result {
            tracing::error!(role, %error, "node stopped by an I/O error");
        }
        result
    })
}

/// Sleeps until the core's deadline, or forever when it has none.
pub(crate) async fn sleep_until_deadline(clock: NodeClock, deadline_ms: Option<u64>) {
    match deadline_ms {
        Some(ms) => tokio::time::sleep_until(clock.instant_at(ms)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_addresses_win_and_contradictions_are_refused() {
        let configured: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        let mut book = AddressBook::new(HashMap::from([(NodeId(1), configured)]));
        assert!(book.observe(NodeId(1), configured));
        assert!(!book.observe(NodeId(1), other));
        assert_eq!(book.resolve(NodeId(1)), Some(configured));
        assert_eq!(book.resolve(NodeId(2)), None);
        assert!(book.observe(NodeId(2), other));
        assert_eq!(book.resolve(NodeId(2)), Some(other));
    }

    #[test]
    fn clock_is_unix_anchored_and_round_trips_to_instants() {
        let clock = NodeClock::new();
        let now_ms = clock.now_ms();
        assert!(now_ms > 1_600_000_000_000, "milliseconds since 1970");
        let later = clock.instant_at(now_ms + 1_000);
        let earlier = clock.instant_at(now_ms);
        assert_eq!(later - earlier, Duration::from_millis(1_000));
    }
}
