//! A member's tokio shell: one task that drives `ordering::Member` over an `Endpoint` and hands ordered entries to
//! the application through a bounded channel, in seq order, each exactly once.
//!
//! Not here: what the entries mean, state transfer, or failure detection. A member that is `behind` the
//! sequencer's history is reported in `MemberStatus` ([`MemberNode::spawn`]), or rebuilt at once past the gap
//! ([`MemberNode::spawn_resuming`]: the delivery stream then jumps, and the application restores its state by
//! state transfer, as the replica manager does).
//!
//! Back-pressure: an entry is taken from the core only when the channel has room for it. A slow application
//! therefore leaves entries in the core's hold-back, the member reports less delivered, the sequencer's history
//! fills, and submitters are slowed by their retries: the protocol's flow control, rather than an unbounded queue.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ordering::{Member, MemberConfig, MemberStats, NodeId, OrderedEntry};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{NodeError, Wire, sleep_until_deadline, spawn_node_task};
use crate::Endpoint;

/// A snapshot of a member's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// The core's counters.
    pub stats: MemberStats,
    /// Highest seq handed to the application's channel.
    pub delivered_up_to: u64,
    /// Highest seq known to exist.
    pub high_seen: u64,
    /// `Some(first_available_seq)` when the sequencer no longer has the seqs this member needs: state transfer is
    /// required.
    pub behind: Option<u64>,
    /// Datagrams that were not ordering messages or came from a contradicting address.
    pub rejected_datagrams: u64,
}

#[derive(Debug)]
enum Command {
    Status(oneshot::Sender<MemberStatus>),
    Shutdown,
}

/// A running member. Ordered entries arrive on the receiver returned by [`MemberNode::spawn`]. Dropping the node
/// or the receiver stops the task.
#[derive(Debug)]
pub struct MemberNode {
    /// The endpoint, shared with the task; kept for `local_addr` and run-time fault changes.
    endpoint: Arc<Endpoint>,
    /// Commands to the task; dropping the last sender stops it.
    commands: mpsc::UnboundedSender<Command>,
    /// The task, awaited by `shutdown`.
    task: JoinHandle<io::Result<()>>,
}

impl MemberNode {
    /// Starts a member on `endpoint`. `peers` must give the sequencer's address. Deliveries go to the returned
    /// receiver, which buffers at most `delivery_queue_max` entries (at least 1).
    pub fn spawn(
        endpoint: Arc<Endpoint>,
        config: MemberConfig,
        peers: HashMap<NodeId, SocketAddr>,
        delivery_queue_max: usize,
    ) -> Result<(MemberNode, mpsc::Receiver<OrderedEntry>), NodeError> {
        Self::start(endpoint, config, peers, delivery_queue_max, None)
    }

    /// Like [`MemberNode::spawn`], except that a member told it is behind the sequencer's history (its process was
    /// stopped or cut off long enough for the group to go on without it) is rebuilt at once to deliver from the
    /// first seq the sequencer still holds (which it keeps for it from then on). The delivery stream then jumps over the seqs it can no longer get, and the returned `watch` receiver says, at once (even if
    /// nothing more is ever ordered), from which seq the rebuilt member delivers (0 until the first rebuild). The
    /// application must take it as "restore state by state transfer at a point at or beyond that seq - 1", and drop
    /// entries below it that were still in the channel.
    pub fn spawn_resuming(
        endpoint: Arc<Endpoint>,
        config: MemberConfig,
        peers: HashMap<NodeId, SocketAddr>,
        delivery_queue_max: usize,
    ) -> Result<(MemberNode, mpsc::Receiver<OrderedEntry>, watch::Receiver<u64>), NodeError> {
        let (rebuilt, rebuilt_rx) = watch::channel(0);
        let (node, deliveries) = Self::start(endpoint, config, peers, delivery_queue_max, Some(rebuilt))?;
        Ok((node, deliveries, rebuilt_rx))
    }

    fn start(
        endpoint: Arc<Endpoint>,
        config: MemberConfig,
        peers: HashMap<NodeId, SocketAddr>,
        delivery_queue_max: usize,
        rebuilt: Option<watch::Sender<u64>>,
    ) -> Result<(MemberNode, mpsc::Receiver<OrderedEntry>), NodeError> {
        if !peers.contains_key(&config.sequencer) {
            return Err(NodeError::Config(format!("no address for sequencer {}", config.sequencer)));
        }
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (deliveries, delivery_rx) = mpsc::channel(delivery_queue_max.max(1));
        let wire = Wire::new(Arc::clone(&endpoint), peers);
        let member = Member::new(config, wire.clock.now_ms());
        let task = spawn_node_task("member", run(member, rebuilt, wire, command_rx, deliveries));
        Ok((MemberNode { endpoint, commands, task }, delivery_rx))
    }

    /// The endpoint this node sends and receives on.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// The member's current state.
    pub async fn status(&self) -> Result<MemberStatus, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Status(reply)).map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }

    /// Stops the task and waits for it; returns the I/O error that stopped it earlier, if any.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.commands.send(Command::Shutdown);
        self.task.await.unwrap_or_else(|join_error| Err(io::Error::other(join_error)))
    }
}

/// What draining deliveries found.
enum Drain {
    /// Everything deliverable was handed over.
    Done,
    /// The channel is full; wait for room before taking more from the core.
    Full,
    /// The application dropped its receiver.
    Closed,
}

/// Hands deliverable entries to the channel while it has room.
fn drain_deliveries(member: &mut Member, deliveries: &mpsc::Sender<OrderedEntry>) -> Drain {
    loop {
        // Reserve first: an entry taken from the core must never be lost for want of room.
        let permit = match deliveries.try_reserve() {
            Ok(permit) => permit,
            Err(TrySendError::Full(())) => return Drain::Full,
            Err(TrySendError::Closed(())) => return Drain::Closed,
        };
        match member.poll_deliver() {
            Some(entry) => permit.send(entry),
            None => return Drain::Done,
        }
    }
}

async fn run(
    mut member: Member,
    // Set by `MemberNode::spawn_resuming`: a member that is behind is rebuilt past the gap, and told here the seq it
    // then delivers from.
    rebuilt: Option<watch::Sender<u64>>,
    mut wire: Wire,
    mut commands: mpsc::UnboundedReceiver<Command>,
    deliveries: mpsc::Sender<OrderedEntry>,
) -> io::Result<()> {
    let clock = wire.clock;
    let mut channel_full = false;
    loop {
        let deadline_ms = member.poll_timeout();
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None | Some(Command::Shutdown) => return Ok(()),
                Some(Command::Status(reply)) => {
                    let _ = reply.send(MemberStatus {
                        stats: member.stats(),
                        delivered_up_to: member.delivered_up_to(),
                        high_seen: member.high_seen(),
                        behind: member.behind(),
                        rejected_datagrams: wire.rejected,
                    });
                }
            },
            // Room again in the application's channel: the drain below fills it.
            permit = deliveries.reserve(), if channel_full => {
                if permit.is_err() {
                    return Ok(());
                }
            }
            received = wire.receive_burst(|now_ms, message| member.handle(now_ms, message)) => received?,
            () = sleep_until_deadline(clock, deadline_ms) => member.handle_timeout(clock.now_ms()),
        }
        if let Some(rebuilt) = &rebuilt {
            let delivered_up_to = member.delivered_up_to();
            if let Some(next_seq) = member.rebuild_past_gap(clock.now_ms()) {
                tracing::warn!(
                    delivered_up_to,
                    next_seq,
                    "behind the sequencer's history: member rebuilt past the gap (state transfer needed)"
                );
                rebuilt.send_replace(next_seq);
            }
        }
        match drain_deliveries(&mut member, &deliveries) {
            Drain::Done => channel_full = false,
            Drain::Full => channel_full = true,
            Drain::Closed => return Ok(()),
        }
        while let Some(transmit) = member.poll_transmit() {
            wire.send(transmit, &[]).await;
        }
    }
}
