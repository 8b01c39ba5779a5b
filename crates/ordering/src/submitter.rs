//! The submitter role (front end side): sends each request to the sequencer point to point and retries it until the
//! sequencer acknowledges it with an `Accepted`.
//!
//! Deliberately not here: sockets, clocks, what a payload means, or waiting for the request's result (the front end
//! collects results from the replicas). This role never learns seqs other than through `Accepted`.
//!
//! Request ids must be strictly increasing per submitter (a counter does). That lets the submitter refuse a reused
//! id with O(1) memory, and lets it advertise a low-water mark (its oldest unsettled id) with which the sequencer
//! bounds its dedup table. A restarted submitter must either use a new `NodeId` or start above every id it used
//! before (for example from a wall-clock-derived counter).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::message::{Ack, Body, Destination, Message, NodeId, Request, Transmit};

/// Configuration of a `Submitter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitterConfig {
    /// This submitter's identity (the sequencer dedups per `(id, request_id)`).
    pub id: NodeId,
    /// The sequencer to send to (replaced when a higher epoch is adopted).
    pub sequencer: NodeId,
    /// The epoch to start in.
    pub epoch: u64,
    /// How long to wait for `Accepted` before sending a request again.
    pub retry_interval_ms: u64,
    /// Most request ids between the oldest unsettled request and the newest one (inclusive); `submit` refuses ids
    /// beyond. Must not exceed the sequencer's `dedup_window_requests`.
    pub window_requests: u64,
    /// Largest encoded `Submit` this role builds when batching (a single larger request still goes alone).
    pub batch_bytes_max: usize,
}

impl SubmitterConfig {
    /// Defaults suitable for loopback: retry after 100 ms, window of 4,096 ids, batches up to 1,400 bytes.
    pub fn new(id: NodeId, sequencer: NodeId) -> Self {
        SubmitterConfig {
            id,
            sequencer,
            epoch: 1,
            retry_interval_ms: 100,
            window_requests: 4096,
            batch_bytes_max: 1400,
        }
    }
}

/// Why `Submitter::submit` refused a request. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The request id is not above every id submitted before: submitting it could order a request twice.
    #[error("request id {request_id} is not above the highest submitted id {highest_submitted}")]
    NotIncreasing {
        /// The refused id.
        request_id: u64,
        /// The highest id submitted so far.
        highest_submitted: u64,
    },
    /// Too many ids between the oldest unsettled request and this one; retry after more are accepted.
    #[error("request id {request_id} is beyond the window starting at {low_water_request_id}")]
    WindowFull {
        /// The refused id.
        request_id: u64,
        /// The oldest unsettled request id.
        low_water_request_id: u64,
    },
}

/// Statistics a shell may log or expose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitterStats {
    /// Requests sent again because no `Accepted` came within the retry interval (or after an epoch change).
    pub retries: u64,
    /// Requests acknowledged.
    pub accepted: u64,
    /// Messages dropped because their epoch was lower than ours.
    pub stale_dropped: u64,
}

/// The submitter role. Drive it with `submit`, `handle`, `handle_timeout`; drain `poll_transmit` and
/// `poll_accepted` after each call; sleep until `poll_timeout`.
#[derive(Debug)]
pub struct Submitter {
    config: SubmitterConfig,
    epoch: u64,
    sequencer: NodeId,
    highest_submitted: Option<u64>,
    /// Unsettled requests by id; the first key is the low-water mark.
    in_flight: BTreeMap<u64, Bytes>,
    /// `(deadline_ms, request_id)` in deadline order (the interval is constant, so push order is deadline order).
    /// Settled ids are skipped lazily.
    retry_queue: VecDeque<(u64, u64)>,
    /// Ids to send at the next `poll_transmit`; settled ids are skipped.
    send_queue: VecDeque<u64>,
    accepted: VecDeque<Ack>,
    stats: SubmitterStats,
}

impl Submitter {
    /// A submitter with nothing in flight.
    pub fn new(config: SubmitterConfig) -> Self {
        assert!(config.window_requests > 0, "window_requests must be positive");
        Submitter {
            epoch: config.epoch,
            sequencer: config.sequencer,
            config,
            highest_submitted: None,
            in_flight: BTreeMap::new(),
            retry_queue: VecDeque::new(),
            send_queue: VecDeque::new(),
            accepted: VecDeque::new(),
            stats: SubmitterStats::default(),
        }
    }

    /// Starts ordering `payload` under `request_id`, which must be above every id submitted before.
    pub fn submit(&mut self, now_ms: u64, request_id: u64, payload: Bytes) -> Result<(), SubmitError> {
        if let Some(highest_submitted) = self.highest_submitted
            && request_id <= highest_submitted
        {
            return Err(SubmitError::NotIncreasing { request_id, highest_submitted });
        }
        let low_water_request_id = self.in_flight.keys().next().copied().unwrap_or(request_id);
        if request_id - low_water_request_id >= self.config.window_requests {
            return Err(SubmitError::WindowFull { request_id, low_water_request_id });
        }
        self.highest_submitted = Some(request_id);
        self.in_flight.insert(request_id, payload);
        self.send_queue.push_back(request_id);
        self.retry_queue.push_back((now_ms + self.config.retry_interval_ms, request_id));
        Ok(())
    }

    /// Stops retrying `request_id` (the front end gave up on it). Returns whether it was still unsettled.
    ///
    /// The request may still have been ordered: cancelling only means this submitter no longer cares to learn it.
    pub fn cancel(&mut self, request_id: u64) -> bool {
        self.in_flight.remove(&request_id).is_some()
    }

    /// Takes in one message addressed to this submitter.
    ///
    /// Messages from a lower epoch are dropped. A higher epoch (from `Accepted` or `Sync`) is adopted: its sender
    /// becomes the sequencer and every unsettled request is sent to it at once, because a new sequencer has not
    /// seen them.
    pub fn handle(&mut self, now_ms: u64, message: Message) {
        let _ = now_ms;
        if message.epoch < self.epoch {
            self.stats.stale_dropped += 1;
            return;
        }
        let from_sequencer_role = matches!(message.body, Body::Accepted { .. } | Body::Sync { .. });
        if message.epoch > self.epoch {
            if !from_sequencer_role {
                return;
            }
            self.epoch = message.epoch;
            self.sequencer = message.from;
            self.stats.retries += self.in_flight.len() as u64;
            self.send_queue.clear();
            self.send_queue.extend(self.in_flight.keys().copied());
        } else if from_sequencer_role && message.from != self.sequencer {
            // Same epoch, different sender: not our sequencer; ignore rather than trust it.
            return;
        }
        if let Body::Accepted { acks } = message.body {
            for ack in acks {
                if self.in_flight.remove(&ack.request_id).is_some() {
                    self.stats.accepted += 1;
                    self.accepted.push_back(ack);
                }
            }
        }
    }

    /// Resends every unsettled request whose retry deadline has passed.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(&(deadline_ms, request_id)) = self.retry_queue.front() {
            if deadline_ms > now_ms {
                break;
            }
            self.retry_queue.pop_front();
            if self.in_flight.contains_key(&request_id) {
                self.stats.retries += 1;
                self.send_queue.push_back(request_id);
                self.retry_queue.push_back((now_ms + self.config.retry_interval_ms, request_id));
            }
        }
    }

    /// The next time `handle_timeout` has work to do, if any.
    pub fn poll_timeout(&mut self) -> Option<u64> {
        while let Some(&(deadline_ms, request_id)) = self.retry_queue.front() {
            if self.in_flight.contains_key(&request_id) {
                return Some(deadline_ms);
            }
            self.retry_queue.pop_front();
        }
        None
    }

    /// The next message to send: `Submit` batches, always to the sequencer.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let mut requests = Vec::new();
        let mut batch_bytes = crate::codec::HEADER_LEN + 10;
        while let Some(&request_id) = self.send_queue.front() {
            let Some(payload) = self.in_flight.get(&request_id) else {
                self.send_queue.pop_front();
                continue;
            };
            let request = Request { request_id, payload: payload.clone() };
            let request_bytes = request.encoded_len();
            if !requests.is_empty()
                && (batch_bytes + request_bytes > self.config.batch_bytes_max
                    || requests.len() == crate::codec::BATCH_COUNT_MAX)
            {
                break;
            }
            self.send_queue.pop_front();
            batch_bytes += request_bytes;
            requests.push(request);
        }
        if requests.is_empty() {
            return None;
        }
        Some(Transmit {
            to: Destination::Node(self.sequencer),
            message: Message {
                epoch: self.epoch,
                from: self.config.id,
                body: Body::Submit { low_water_request_id: self.low_water_request_id(), requests },
            },
        })
    }

    /// The next acknowledgement learned, once per request id.
    pub fn poll_accepted(&mut self) -> Option<Ack> {
        self.accepted.pop_front()
    }

    /// The oldest unsettled request id, or the next id to be used when nothing is in flight.
    pub fn low_water_request_id(&self) -> u64 {
        self.in_flight.keys().next().copied().unwrap_or(self.highest_submitted.map_or(0, |highest| highest + 1))
    }

    /// Number of unsettled requests.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether `request_id` is unsettled.
    pub fn is_in_flight(&self, request_id: u64) -> bool {
        self.in_flight.contains_key(&request_id)
    }

    /// This submitter's identity.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// The epoch this submitter currently believes in.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The sequencer this submitter currently sends to.
    pub fn sequencer(&self) -> NodeId {
        self.sequencer
    }

    /// Counters since creation.
    pub fn stats(&self) -> SubmitterStats {
        self.stats
    }
}
