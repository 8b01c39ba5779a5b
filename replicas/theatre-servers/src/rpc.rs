//! Reliable request/response over lossy UDP between the servers of one replica: the calling side
//! ([`RpcClient`]: request ids, retransmission with backoff, matching replies) and the serving side's duplicate
//! filter ([`Responder`]: a retried call is answered from the reply cache and never applied twice).
//!
//! Single-threaded by design (`Rc`/`RefCell`, no locks): every server of a process runs on one current-thread
//! runtime. It deliberately owns no socket receive loop: the server owning the endpoint reads every message and
//! hands replies to [`RpcClient::deliver`], so that one socket has exactly one reader.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use udp::Endpoint;

use crate::doorbell::Doorbells;
use crate::wire::{Envelope, HEADER_BYTES, Kind, Op};

/// How long a caller waits before resending, and how that grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First wait for a reply.
    pub initial_ms: u64,
    /// The wait doubles after each resend up to this.
    pub max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { initial_ms: 5, max_ms: 200 }
    }
}

/// This process's incarnation: nanoseconds since the Unix epoch at start-up, so that a restarted caller's
/// incarnation is larger and servers reset their duplicate filter for it (and drop the old incarnation's
/// stragglers).
pub fn new_incarnation() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Debug)]
struct PendingCall {
    request_id: u64,
    /// A reply delivered and not yet taken by the caller: the whole envelope (payload after `HEADER_BYTES`).
    reply: Option<Vec<u8>>,
    waker: Option<Waker>,
}

/// Calls on other servers through one endpoint.
#[derive(Debug)]
pub struct RpcClient {
    /// Shared with the server that reads this endpoint.
    endpoint: Rc<Endpoint>,
    incarnation: u64,
    next_request_id: Cell<u64>,
    /// Calls awaiting a reply; a handful at most (one coordinator runs at a time), so a vector.
    pending: RefCell<Vec<PendingCall>>,
    retry: RetryPolicy,
    /// Resends so far (for diagnostics and tests).
    resends: Cell<u64>,
    /// Replies for no pending call: late, duplicated, or from an older incarnation.
    stray_replies: Cell<u64>,
    /// Rung after each send, so that a callee in this process reads the call without a reactor round.
    doorbells: Doorbells,
}

/// Removes a call's pending entry however the call ends (reply, or the caller's future dropped at shutdown).
struct PendingGuard<'a> {
    client: &'a RpcClient,
    request_id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.client.pending.borrow_mut().retain(|pending| pending.request_id != self.request_id);
    }
}

impl RpcClient {
    pub fn new(endpoint: Rc<Endpoint>, incarnation: u64, retry: RetryPolicy) -> RpcClient {
        RpcClient {
            endpoint,
            incarnation,
            next_request_id: Cell::new(1),
            pending: RefCell::new(Vec::new()),
            retry,
            resends: Cell::new(0),
            stray_replies: Cell::new(0),
            doorbells: Doorbells::default(),
        }
    }

    /// Rings the callee's doorbell in `doorbells` after each call sent (callees in this process).
    pub fn with_doorbells(mut self, doorbells: Doorbells) -> RpcClient {
        self.doorbells = doorbells;
        self
    }

    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Resends so far.
    pub fn resends(&self) -> u64 {
        self.resends.get()
    }

    /// Replies that matched no pending call.
    pub fn stray_replies(&self) -> u64 {
        self.stray_replies.get()
    }

    /// Sends the call now (before the first poll of the returned future, so that a caller can start several calls
    /// and await them afterwards) and resolves to the first reply that `accept` turns into a value.
    ///
    /// Retries forever with backoff: within a replica every server eventually answers, and a replica that cannot
    /// reach its own theatres has nothing better to do (its replica manager replaces it).
    pub fn call<'a, T, F>(
        &'a self,
        to: SocketAddr,
        op: Op,
        payload: &[u8],
        accept: F,
    ) -> impl Future<Output = T> + use<'a, T, F>
    where
        F: Fn(&[u8]) -> Option<T> + 'a,
    {
        self.call_with(to, op, &mut |out| out.extend_from_slice(payload), accept)
    }

    /// [`RpcClient::call`] with the payload written by `write_payload` straight into the message, after the
    /// envelope header (one buffer per call instead of one for the payload and one for the message).
    pub fn call_with<'a, T, F>(
        &'a self,
        to: SocketAddr,
        op: Op,
        write_payload: &mut dyn FnMut(&mut Vec<u8>),
        accept: F,
    ) -> impl Future<Output = T> + use<'a, T, F>
    where
        F: Fn(&[u8]) -> Option<T> + 'a,
    {
        let request_id = self.next_request_id.get();
        self.next_request_id.set(request_id + 1);
        self.pending.borrow_mut().push(PendingCall { request_id, reply: None, waker: None });
        let guard = PendingGuard { client: self, request_id };
        let mut message = Vec::with_capacity(64);
        Envelope { kind: Kind::Call, op, incarnation: self.incarnation, request_id, payload: &[] }
            .encode_into(&mut message);
        write_payload(&mut message);
        // First transmission right away; `try_send` is the synchronous path of a healthy link.
        let first_sent = self.try_send_now(&message, to);
        async move {
            let _guard = guard;
            let mut wait_ms = self.retry.initial_ms.max(1);
            let mut attempt: u64 = 0;
            loop {
                if attempt > 0 || !first_sent {
                    if attempt > 0 {
                        self.resends.set(self.resends.get() + 1);
                    }
                    match self.endpoint.send_to(&message, to).await {
                        Ok(()) => self.doorbells.ring(to),
                        Err(error) => tracing::debug!(%error, %to, "peer call not sent"),
                    }
                }
                attempt += 1;
                let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
                loop {
                    let reply = tokio::time::timeout_at(deadline, self.next_reply(request_id)).await;
                    match reply {
                        Ok(bytes) => match accept(&bytes[HEADER_BYTES..]) {
                            Some(value) => return value,
                            None => tracing::warn!(%to, request_id, "malformed reply dropped"),
                        },
                        Err(_elapsed) => break,
                    }
                }
                if attempt.is_multiple_of(50) {
                    tracing::warn!(%to, ?op, request_id, attempt, "no reply yet; still retrying");
                }
                wait_ms = (wait_ms * 2).min(self.retry.max_ms.max(1));
            }
        }
    }

    /// Fast path for the first transmission: the endpoint's async send on a healthy link completes in its first
    /// poll, so poll it once here. Returns false if it did not complete (the retry loop then sends).
    fn try_send_now(&self, message: &[u8], to: SocketAddr) -> bool {
        let mut send = std::pin::pin!(self.endpoint.send_to(message, to));
        let mut context = std::task::Context::from_waker(Waker::noop());
        match send.as_mut().poll(&mut context) {
            Poll::Ready(Ok(())) => {
                self.doorbells.ring(to);
                true
            }
            Poll::Ready(Err(error)) => {
                tracing::debug!(%error, %to, "peer call not sent");
                true // counted as a loss; the retry timer resends
            }
            // Dropping a partly sent fragmented message is a loss the receiver tolerates.
            Poll::Pending => false,
        }
    }

    fn next_reply(&self, request_id: u64) -> impl Future<Output = Vec<u8>> + '_ {
        poll_fn(move |context| {
            let mut pending = self.pending.borrow_mut();
            let entry = pending
                .iter_mut()
                .find(|pending| pending.request_id == request_id)
                .expect("a call's pending entry lives as long as the call");
            match entry.reply.take() {
                Some(bytes) => Poll::Ready(bytes),
                None => {
                    entry.waker = Some(context.waker().clone());
                    Poll::Pending
                }
            }
        })
    }

    /// Hands a reply message read from the endpoint (its envelope already decoded by the reader: a reply with this
    /// `incarnation` and `request_id`) to the call waiting for it, without copying it. Returns false (and counts it)
    /// for a reply no call waits for.
    pub fn deliver(&self, incarnation: u64, request_id: u64, message: Vec<u8>) -> bool {
        if incarnation == self.incarnation {
            let mut pending = self.pending.borrow_mut();
            if let Some(entry) =
                pending.iter_mut().find(|pending| pending.request_id == request_id && pending.reply.is_none())
            {
                entry.reply = Some(message);
                if let Some(waker) = entry.waker.take() {
                    waker.wake();
                }
                return true;
            }
        }
        self.stray_replies.set(self.stray_replies.get() + 1);
        false
    }
}

/// What the serving side should do with an incoming call.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// First time seen: handle it, then [`Responder::complete`] it.
    New,
    /// Handled before: resend this encoded reply message.
    Replay(Vec<u8>),
    /// Being handled (an asynchronous call): ignore the retry; the reply goes out when done.
    InProgress,
    /// Too old to tell whether it was handled, or from an older incarnation: ignore.
    Stale,
}

/// Calls remembered per caller.
const HISTORY_PER_CALLER: usize = 256;
/// Callers remembered; the least recently seen is forgotten beyond this.
const CALLERS_MAX: usize = 64;

#[derive(Debug)]
struct CallerHistory {
    caller: SocketAddr,
    incarnation: u64,
    /// Calls with a request id at or below this were forgotten: never handle them again.
    floor: u64,
    /// Request id → encoded reply message, `None` while the call is being handled.
    /// Ascending by request id (a sorted deque rather than a map: ids arrive nearly in order, so an insert is a
    /// push at the back and forgetting the oldest a pop at the front, with no tree nodes to allocate).
    replies: VecDeque<(u64, Option<Vec<u8>>)>,
    last_seen: u64,
}

/// The serving side's duplicate filter: remembers the last [`HISTORY_PER_CALLER`] calls of each caller and their
/// replies, so that a mutating call is applied at most once however often it is retried.
///
/// A caller's calls may arrive out of order (two calls in flight, reordering links), so this is a window of
/// remembered ids with a floor below which everything is stale, not a single high-water mark.
#[derive(Debug, Default)]
pub struct Responder {
    callers: Vec<CallerHistory>,
    clock: u64,
    /// Buffers of forgotten replies, reused for new ones (a call per message otherwise costs an allocation).
    spare: Vec<Vec<u8>>,
}

/// Spare reply buffers kept at most.
const SPARE_MAX: usize = 16;

impl Responder {
    pub fn admit(&mut self, caller: SocketAddr, incarnation: u64, request_id: u64) -> Admission {
        self.clock += 1;
        let clock = self.clock;
        let history = match self.callers.iter_mut().position(|history| history.caller == caller) {
            Some(index) => &mut self.callers[index],
            None => {
                if self.callers.len() >= CALLERS_MAX {
                    let oldest = (0..self.callers.len()).min_by_key(|&index| self.callers[index].last_seen);
                    self.callers.swap_remove(oldest.expect("callers is not empty"));
                }
                self.callers.push(CallerHistory {
                    caller,
                    incarnation,
                    floor: 0,
                    replies: VecDeque::new(),
                    last_seen: clock,
                });
                self.callers.last_mut().expect("just pushed")
            }
        };
        history.last_seen = clock;
        if incarnation < history.incarnation {
            return Admission::Stale;
        }
        if incarnation > history.incarnation {
            history.incarnation = incarnation;
            history.floor = 0;
            history.replies.clear();
        }
        if request_id <= history.floor {
            return Admission::Stale;
        }
        match history.replies.binary_search_by_key(&request_id, |(id, _)| *id) {
            Ok(index) => match &history.replies[index].1 {
                Some(reply) => Admission::Replay(reply.clone()),
                None => Admission::InProgress,
            },
            Err(index) => {
                history.replies.insert(index, (request_id, None));
                while history.replies.len() > HISTORY_PER_CALLER {
                    let (forgotten, reply) = history.replies.pop_front().expect("more than HISTORY_PER_CALLER entries");
                    history.floor = history.floor.max(forgotten);
                    if let Some(buffer) = reply.filter(|_| self.spare.len() < SPARE_MAX) {
                        self.spare.push(buffer);
                    }
                }
                Admission::New
            }
        }
    }

    /// Records the reply to an admitted call (no-op if the caller's history moved on meanwhile).
    pub fn complete(&mut self, caller: SocketAddr, incarnation: u64, request_id: u64, reply_message: &[u8]) {
        let history =
            self.callers.iter_mut().find(|history| history.caller == caller && history.incarnation == incarnation);
        let slot = history.and_then(|history| {
            let index = history.replies.binary_search_by_key(&request_id, |(id, _)| *id).ok()?;
            Some(&mut history.replies[index].1)
        });
        if let Some(slot) = slot {
            let mut buffer = self.spare.pop().unwrap_or_default();
            buffer.clear();
            buffer.extend_from_slice(reply_message);
            *slot = Some(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_call_is_new_once_then_in_progress_then_replayed() {
        let mut responder = Responder::default();
        assert_eq!(responder.admit(addr(1), 10, 1), Admission::New);
        assert_eq!(responder.admit(addr(1), 10, 1), Admission::InProgress);
        responder.complete(addr(1), 10, 1, b"reply");
        assert_eq!(responder.admit(addr(1), 10, 1), Admission::Replay(b"reply".to_vec()));
        // Another caller's request id 1 is a different call.
        assert_eq!(responder.admit(addr(2), 10, 1), Admission::New);
    }

    #[test]
    fn out_of_order_calls_are_all_handled_and_old_ones_are_stale() {
        let mut responder = Responder::default();
        assert_eq!(responder.admit(addr(1), 1, 2), Admission::New);
        assert_eq!(responder.admit(addr(1), 1, 1), Admission::New, "reordered earlier call");
        for id in 3..(3 + HISTORY_PER_CALLER as u64) {
            assert_eq!(responder.admit(addr(1), 1, id), Admission::New);
        }
        assert_eq!(responder.admit(addr(1), 1, 1), Admission::Stale, "forgotten, must not run again");
        assert_eq!(responder.admit(addr(1), 1, 2), Admission::Stale);
    }

    #[test]
    fn replies_of_reordered_calls_are_replayed_to_the_right_call() {
        let mut responder = Responder::default();
        for id in [5, 3, 4, 9, 1] {
            assert_eq!(responder.admit(addr(1), 1, id), Admission::New);
        }
        for id in [4, 1, 9, 5, 3] {
            responder.complete(addr(1), 1, id, format!("reply {id}").as_bytes());
        }
        for id in [1, 3, 4, 5, 9] {
            assert_eq!(responder.admit(addr(1), 1, id), Admission::Replay(format!("reply {id}").into_bytes()));
        }
        assert_eq!(responder.admit(addr(1), 1, 2), Admission::New, "a gap is a call not seen yet");
        assert_eq!(responder.admit(addr(1), 1, 2), Admission::InProgress);
    }

    #[test]
    fn a_newer_incarnation_resets_and_an_older_one_is_stale() {
        let mut responder = Responder::default();
        assert_eq!(responder.admit(addr(1), 5, 1), Admission::New);
        responder.complete(addr(1), 5, 1, b"old");
        assert_eq!(responder.admit(addr(1), 6, 1), Admission::New, "restarted caller reuses request ids");
        assert_eq!(responder.admit(addr(1), 5, 2), Admission::Stale, "straggler of the old incarnation");
        assert_eq!(responder.admit(addr(1), 6, 1), Admission::InProgress);
    }

    #[test]
    fn callers_are_bounded() {
        let mut responder = Responder::default();
        for port in 0..(CALLERS_MAX as u16 * 2) {
            responder.admit(addr(port), 1, 1);
        }
        assert_eq!(responder.callers.len(), CALLERS_MAX);
    }
}
