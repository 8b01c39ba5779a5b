//! The sequencer's tokio shell: one task that drives `ordering::Sequencer` over an `Endpoint`.
//!
//! Not here: the ordering rules themselves (the core), deciding which members are live (callers do, through
//! `set_member_live`), or failover.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ordering::{NodeId, Sequencer, SequencerConfig, SequencerStats};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{NodeError, Wire, sleep_until_deadline, spawn_node_task};
use crate::Endpoint;

/// A snapshot of the sequencer's state, for logs, tests and benchmarks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequencerStatus {
    /// The core's counters.
    pub stats: SequencerStats,
    /// Highest seq handed out.
    pub high_seq: u64,
    /// Every seq up to here was delivered by every live member.
    pub freed_up_to: u64,
    /// Entries held in history.
    pub history_len: usize,
    /// Datagrams that were not ordering messages or came from a contradicting address.
    pub rejected_datagrams: u64,
}

#[derive(Debug)]
enum Command {
    SetMemberLive(NodeId, bool),
    Status(oneshot::Sender<SequencerStatus>),
    Shutdown,
}

/// A running sequencer. Dropping it stops the task (the command channel closes); [`SequencerNode::shutdown`] also
/// waits for the task and reports how it ended.
#[derive(Debug)]
pub struct SequencerNode {
    /// The endpoint, shared with the task; kept here so callers can change fault injection at run time.
    endpoint: Arc<Endpoint>,
    /// Commands to the task; dropping the last sender stops it.
    commands: mpsc::UnboundedSender<Command>,
    /// The task, awaited by `shutdown`.
    task: JoinHandle<io::Result<()>>,
}

impl SequencerNode {
    /// Starts a sequencer on `endpoint`. `peers` must give an address for every member in `config.members`;
    /// submitters' addresses are learned from their datagrams (or may be given too).
    pub fn spawn(
        endpoint: Arc<Endpoint>,
        config: SequencerConfig,
        peers: HashMap<NodeId, SocketAddr>,
    ) -> Result<SequencerNode, NodeError> {
        if let Some(missing) = config.members.iter().find(|member| !peers.contains_key(member)) {
            return Err(NodeError::Config(format!("no address for member {missing}")));
        }
        let (commands, command_rx) = mpsc::unbounded_channel();
        let wire = Wire::new(Arc::clone(&endpoint), peers);
        let sequencer = Sequencer::new(config, wire.clock.now_ms());
        let task = spawn_node_task("sequencer", run(sequencer, wire, command_rx));
        Ok(SequencerNode { endpoint, commands, task })
    }

    /// The endpoint this node sends and receives on (for `local_addr` and `set_faults`).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// Marks a member live or removed (see `ordering::Sequencer::set_member_live`).
    pub fn set_member_live(&self, member: NodeId, live: bool) -> Result<(), NodeError> {
        self.commands.send(Command::SetMemberLive(member, live)).map_err(|_| NodeError::Stopped)
    }

    /// The sequencer's current state.
    pub async fn status(&self) -> Result<SequencerStatus, NodeError> {
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

async fn run(
    mut sequencer: Sequencer,
    mut wire: Wire,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> io::Result<()> {
    let clock = wire.clock;
    let mut live_members: Vec<NodeId> = Vec::new();
    let mut live_set_changes: Option<u64> = None;
    loop {
        let deadline_ms = sequencer.poll_timeout();
        tokio::select! {
            biased;
            command = commands.recv() => match command {
                None | Some(Command::Shutdown) => return Ok(()),
                Some(Command::SetMemberLive(member, live)) => sequencer.set_member_live(member, live),
                Some(Command::Status(reply)) => {
                    let _ = reply.send(SequencerStatus {
                        stats: sequencer.stats(),
                        high_seq: sequencer.high_seq(),
                        freed_up_to: sequencer.freed_up_to(),
                        history_len: sequencer.history_len(),
                        rejected_datagrams: wire.rejected,
                    });
                }
            },
            received = wire.receive_burst(|now_ms, message| sequencer.handle(now_ms, message)) => received?,
            () = sleep_until_deadline(clock, deadline_ms) => sequencer.handle_timeout(clock.now_ms()),
        }
        // The core also drops and re-admits members by itself (its "Liveness" doc): the multicast follows it.
        if live_set_changes != Some(sequencer.live_set_changes()) {
            live_set_changes = Some(sequencer.live_set_changes());
            live_members.clear();
            live_members.extend(sequencer.live_members());
        }
        while let Some(transmit) = sequencer.poll_transmit() {
            wire.send(transmit, &live_members).await;
        }
    }
}
