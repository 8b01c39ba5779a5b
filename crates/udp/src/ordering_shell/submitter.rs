//! A submitter's tokio shell: one task that drives `ordering::Submitter` over an `Endpoint`; `submit` resolves when
//! the sequencer has accepted (ordered) the request.
//!
//! Not here: retries (the core retries), waiting for the request's result (the front end collects results from the
//! replicas), or choosing request ids (the caller does; they must increase in the order `submit` is called).
//!
//! A request that does not fit the core's window yet (`SubmitError::WindowFull`) is not refused: it waits in the
//! shell, in call order, until acceptances open the window. That keeps request ids increasing in the order the
//! core sees them and turns a full window into back-pressure on callers.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use ordering::{Ack, NodeId, SubmitError, Submitter, SubmitterConfig, SubmitterStats};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{NodeError, Wire, sleep_until_deadline, spawn_node_task};
use crate::Endpoint;

/// A snapshot of a submitter's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitterStatus {
    /// The core's counters.
    pub stats: SubmitterStats,
    /// Requests sent and not yet accepted.
    pub in_flight: usize,
    /// Requests waiting in the shell for room in the core's window.
    pub waiting: usize,
    /// Datagrams that were not ordering messages or came from a contradicting address.
    pub rejected_datagrams: u64,
}

type Reply = oneshot::Sender<Result<Ack, SubmitError>>;

#[derive(Debug)]
enum Command {
    Submit { request_id: u64, payload: Bytes, reply: Reply },
    Status(oneshot::Sender<SubmitterStatus>),
    Shutdown,
}

/// Most commands taken per loop turn before output is flushed: batches requests into `Submit` messages without
/// starving the socket.
const COMMANDS_PER_TURN_MAX: usize = 1024;

/// A running submitter.
#[derive(Debug)]
pub struct SubmitterNode {
    /// The endpoint, shared with the task; kept for `local_addr` and run-time fault changes.
    endpoint: Arc<Endpoint>,
    /// Commands to the task; dropping the last sender stops it.
    commands: mpsc::UnboundedSender<Command>,
    /// The task, awaited by `shutdown`.
    task: JoinHandle<io::Result<()>>,
}

/// The future returned by [`SubmitterNode::submit`]: resolves to the request's seq once the sequencer accepted it.
///
/// The request is queued when `submit` is called, not when this is first polled, so callers can pipeline many
/// requests and await them later. Dropping it does not withdraw the request.
#[derive(Debug)]
pub struct Acceptance {
    answer: Option<oneshot::Receiver<Result<Ack, SubmitError>>>,
}

impl Future for Acceptance {
    type Output = Result<Ack, NodeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(answer) = self.answer.as_mut() else {
            return Poll::Ready(Err(NodeError::Stopped));
        };
        match Pin::new(answer).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ok(ack))) => Poll::Ready(Ok(ack)),
            Poll::Ready(Ok(Err(refused))) => Poll::Ready(Err(NodeError::Submit(refused))),
            Poll::Ready(Err(_)) => Poll::Ready(Err(NodeError::Stopped)),
        }
    }
}

impl SubmitterNode {
    /// Starts a submitter on `endpoint`. `peers` must give the sequencer's address.
    pub fn spawn(
        endpoint: Arc<Endpoint>,
        config: SubmitterConfig,
        peers: HashMap<NodeId, SocketAddr>,
    ) -> Result<SubmitterNode, NodeError> {
        if !peers.contains_key(&config.sequencer) {
            return Err(NodeError::Config(format!("no address for sequencer {}", config.sequencer)));
        }
        let (commands, command_rx) = mpsc::unbounded_channel();
        let wire = Wire::new(Arc::clone(&endpoint), peers);
        let task = spawn_node_task("submitter", run(Submitter::new(config), wire, command_rx));
        Ok(SubmitterNode { endpoint, commands, task })
    }

    /// The endpoint this node sends and receives on.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// Queues `payload` for ordering under `request_id` (which must be above every id submitted before, in call
    /// order). The returned future resolves with the seq once the sequencer has accepted the request.
    pub fn submit(&self, request_id: u64, payload: Bytes) -> Acceptance {
        let (reply, answer) = oneshot::channel();
        let queued = self.commands.send(Command::Submit { request_id, payload, reply }).is_ok();
        Acceptance { answer: queued.then_some(answer) }
    }

    /// The submitter's current state.
    pub async fn status(&self) -> Result<SubmitterStatus, NodeError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Status(reply)).map_err(|_| NodeError::Stopped)?;
        answer.await.map_err(|_| NodeError::Stopped)
    }

    /// Stops the task and waits for it; returns the I/O error that stopped it earlier, if any. Requests not yet
    /// accepted resolve to `NodeError::Stopped`.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.commands.send(Command::Shutdown);
        self.task.await.unwrap_or_else(|join_error| Err(io::Error::other(join_error)))
    }
}

/// The submitter core plus the shell's bookkeeping of who waits for what.
struct State {
    submitter: Submitter,
    /// Callers waiting for acceptance, by request id.
    replies: HashMap<u64, Reply>,
    /// Requests that did not fit the window yet, in call order.
    waiting: VecDeque<(u64, Bytes, Reply)>,
}

impl State {
    fn submit(&mut self, now_ms: u64, request_id: u64, payload: Bytes, reply: Reply) {
        if !self.waiting.is_empty() {
            self.waiting.push_back((request_id, payload, reply));
            return;
        }
        match self.submitter.submit(now_ms, request_id, payload.clone()) {
            Ok(()) => {
                self.replies.insert(request_id, reply);
            }
            Err(SubmitError::WindowFull { .. }) => self.waiting.push_back((request_id, payload, reply)),
            Err(refused) => {
                let _ = reply.send(Err(refused));
            }
        }
    }

    /// Resolves accepted requests, then lets waiting requests into the window that opened.
    fn settle(&mut self, now_ms: u64) {
        let mut any_accepted = false;
        while let Some(ack) = self.submitter.poll_accepted() {
            any_accepted = true;
            if let Some(reply) = self.replies.remove(&ack.request_id) {
                let _ = reply.send(Ok(ack));
            }
        }
        if !any_accepted {
            return;
        }
        while let Some((request_id, payload, reply)) = self.waiting.pop_front() {
            match self.submitter.submit(now_ms, request_id, payload.clone()) {
                Ok(()) => {
                    self.replies.insert(request_id, reply);
                }
                Err(SubmitError::WindowFull { .. }) => {
                    self.waiting.push_front((request_id, payload, reply));
                    break;
                }
                Err(refused) => {
                    let _ = reply.send(Err(refused));
                }
            }
        }
    }
}

async fn run(submitter: Submitter, mut wire: Wire, mut commands: mpsc::UnboundedReceiver<Command>) -> io::Result<()> {
    let clock = wire.clock;
    let mut state = State { submitter, replies: HashMap::new(), waiting: VecDeque::new() };
    loop {
        let deadline_ms = state.submitter.poll_timeout();
        // Unbiased: a flood of submissions must not starve the socket, whose acceptances open the window.
        tokio::select! {
            command = commands.recv() => {
                let mut next = command;
                for taken in 1..=COMMANDS_PER_TURN_MAX {
                    match next {
                        None | Some(Command::Shutdown) => return Ok(()),
                        Some(Command::Submit { request_id, payload, reply }) => {
                            state.submit(clock.now_ms(), request_id, payload, reply);
                        }
                        Some(Command::Status(reply)) => {
                            let _ = reply.send(SubmitterStatus {
                                stats: state.submitter.stats(),
                                in_flight: state.submitter.in_flight(),
                                waiting: state.waiting.len(),
                                rejected_datagrams: wire.rejected,
                            });
                        }
                    }
                    // Take another only if it will be handled in this turn: a command taken and not handled
                    // would be lost.
                    if taken == COMMANDS_PER_TURN_MAX {
                        break;
                    }
                    match commands.try_recv() {
                        Ok(command) => next = Some(command),
                        Err(_) => break,
                    }
                }
            }
            received = wire.receive_burst(|now_ms, message| state.submitter.handle(now_ms, message)) => received?,
            () = sleep_until_deadline(clock, deadline_ms) => state.submitter.handle_timeout(clock.now_ms()),
        }
        state.settle(clock.now_ms());
        while let Some(transmit) = state.submitter.poll_transmit() {
            wire.send(transmit, &[]).await;
        }
    }
}
