//! Datagram framing: how one message becomes one or more UDP datagrams and back again.
//!
//! This module is pure (sans-IO): no sockets, no clocks, no tasks. Time enters as an `Instant` argument so the
//! tokio shell in `endpoint.rs` (or a test) decides what "now" is. It deliberately does not make delivery
//! reliable: a lost fragment loses its whole message, and the protocol above retries.
//!
//! Wire format (version 1), all integers big-endian:
//!
//! ```text
//! whole message:  [0x10] [payload ...]                                              1 byte of overhead
//! fragment:       [0x11] [message_id: u32] [index: u16] [count: u16] [payload ...]  9 bytes of overhead
//! bundle:         [0x12] then count >= 1 × { [len: u16] [payload ...] }             1 + 2 per message
//! ```
//!
//! A bundle carries several whole messages to one receiver in one datagram, in order: a sender with a burst of
//! small messages for the same peer (a replica manager's results for the front end) pays one system call for all
//! of them, and so does the receiver. Bundles are never fragmented; a message too large to share a datagram is sent
//! on its own. Receivers older than the bundle kind drop bundles as an unknown kind (every component of a
//! deployment is built from one tree).
//!
//! The first byte's high nibble is the framing version, the low nibble the kind. A message that fits in one
//! datagram is always sent whole (the hot path: one byte of overhead, no reassembly state). Larger messages are
//! split into `count >= 2` fragments; `message_id` is chosen by the sender and is unique per sender for a long
//! while (the endpoint starts its counter at a random value so that a restarted sender does not collide with
//! ids the receiver still remembers).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Largest message payload accepted by `Endpoint::send_to` and by the reassembler: larger is an error, never a
/// truncation.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Largest UDP payload an IPv4 datagram can carry (65,535 − 20 IP − 8 UDP). Receive buffers are this large so
/// that the kernel never truncates an incoming datagram.
pub const MAX_UDP_PAYLOAD_BYTES: usize = 65_507;

/// Default largest datagram the endpoint sends. Below both the IPv4 and IPv6 limits; on loopback (MTU 64 KiB)
/// such datagrams are not IP-fragmented. A cluster spread over hosts may want an MTU-sized value instead.
pub const DEFAULT_MAX_DATAGRAM_BYTES: usize = 65_000;

/// Smallest `max_datagram_bytes` the fragmenter accepts: a fragment header plus at least one payload byte.
pub const MIN_DATAGRAM_BYTES: usize = FRAGMENT_HEADER_BYTES + 1;

/// Framing version carried in the high nibble of the first byte.
pub const FRAMING_VERSION: u8 = 1;

const KIND_WHOLE: u8 = 0x0;
const KIND_FRAGMENT: u8 = 0x1;
const KIND_BUNDLE: u8 = 0x2;
const TAG_WHOLE: u8 = (FRAMING_VERSION << 4) | KIND_WHOLE;
const TAG_FRAGMENT: u8 = (FRAMING_VERSION << 4) | KIND_FRAGMENT;
const TAG_BUNDLE: u8 = (FRAMING_VERSION << 4) | KIND_BUNDLE;

/// Bytes in front of a whole message's payload.
pub const WHOLE_HEADER_BYTES: usize = 1;
/// Bytes in front of a fragment's payload.
pub const FRAGMENT_HEADER_BYTES: usize = 9;
/// Bytes in front of a bundle's first part.
pub const BUNDLE_HEADER_BYTES: usize = 1;
/// Bytes in front of each message in a bundle (its length).
pub const BUNDLE_PART_HEADER_BYTES: usize = 2;

/// Why a datagram or a message could not be framed or unframed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The datagram had no bytes at all.
    #[error("empty datagram")]
    Empty,
    /// The first byte names a framing version this code does not speak.
    #[error("unknown framing version {0}")]
    UnknownVersion(u8),
    /// The first byte names a kind of datagram this version does not define.
    #[error("unknown datagram kind {0}")]
    UnknownKind(u8),
    /// A fragment datagram shorter than its fixed header.
    #[error("fragment header truncated: {len} bytes")]
    TruncatedHeader {
        /// Length of the datagram that was received.
        len: usize,
    },
    /// A fragment whose (index, count) pair cannot be right: count below 2 or index not below count.
    #[error("invalid fragment position {index}/{count}")]
    InvalidPosition {
        /// The fragment's index as received.
        index: u16,
        /// The fragment count as received.
        count: u16,
    },
    /// A fragment that contradicts earlier fragments of the same message (another count, or another payload
    /// for the same index); the partial message is discarded.
    #[error("fragment of message {message_id} contradicts earlier fragments")]
    Inconsistent {
        /// The sender's id of the message concerned.
        message_id: u32,
    },
    /// The message (being sent, or being reassembled) exceeds `MAX_MESSAGE_BYTES` or cannot be expressed in
    /// `u16::MAX` fragments of the configured size.
    #[error("message of {len} bytes too large (limit {limit})")]
    TooLarge {
        /// Length of the message, or of the part reassembled so far.
        len: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The configured datagram size cannot carry a fragment header and payload.
    #[error("max_datagram_bytes {0} too small")]
    DatagramTooSmall(usize),
    /// A bundle with no message, or whose last message is cut short of its stated length.
    #[error("bundle truncated or empty ({len} bytes)")]
    InvalidBundle {
        /// Length of the datagram that was received.
        len: usize,
    },
    /// A bundle was handed to the reassembler: its messages are whole, so the receiver splits it with
    /// [`Frame::Bundle`] instead.
    #[error("a bundle is split, not reassembled")]
    BundleNotReassembled,
}

/// One decoded datagram, borrowing from the received bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete message.
    Whole(&'a [u8]),
    /// One part of a larger message.
    Fragment {
        /// The sender's id of the message this fragment belongs to.
        message_id: u32,
        /// Position of this fragment, `0..count`.
        index: u16,
        /// Number of fragments in the message, at least 2.
        count: u16,
        /// This fragment's share of the message.
        payload: &'a [u8],
    },
    /// Several complete messages, in the order they were sent (validated: at least one, none cut short).
    Bundle(Bundle<'a>),
}

/// The messages of a bundle datagram; iterate it to get them in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle<'a> {
    /// The parts after the tag: `{ len: u16, payload }` repeated.
    parts: &'a [u8],
}

impl<'a> Iterator for Bundle<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (header, rest) = self.parts.split_first_chunk::<BUNDLE_PART_HEADER_BYTES>()?;
        let len = usize::from(u16::from_be_bytes(*header));
        // `decode` checked every length, so this split is in range.
        let (message, rest) = rest.split_at(len);
        self.parts = rest;
        Some(message)
    }
}

/// Checks a bundle's parts: at least one, each length within the datagram.
fn check_bundle(parts: &[u8]) -> bool {
    let mut rest = parts;
    while let Some((header, after)) = rest.split_first_chunk::<BUNDLE_PART_HEADER_BYTES>() {
        let len = usize::from(u16::from_be_bytes(*header));
        let Some(remaining) = after.get(len..) else { return false };
        rest = remaining;
    }
    rest.is_empty() && !parts.is_empty()
}

/// Largest message that can share a bundle datagram of `max_datagram_bytes` (at most `u16::MAX`).
pub fn bundle_part_max(max_datagram_bytes: usize) -> usize {
    max_datagram_bytes.saturating_sub(BUNDLE_HEADER_BYTES + BUNDLE_PART_HEADER_BYTES).min(usize::from(u16::MAX))
}

/// Packs `messages` into as few datagrams as `max_datagram_bytes` allows, in order. Each datagram is a bundle, or a
/// whole-message datagram when only one message went into it (the same bytes `encode` would produce). A message
/// above [`bundle_part_max`] cannot be bundled: it is returned as `Err(index)` in its place, for the caller to send
/// on its own (fragmented), so the order of messages is kept.
pub fn encode_bundles(messages: &[&[u8]], max_datagram_bytes: usize) -> Vec<Result<Vec<u8>, usize>> {
    let part_max = bundle_part_max(max_datagram_bytes);
    let mut out = Vec::new();
    let mut current: Vec<&[u8]> = Vec::new();
    let mut current_bytes = BUNDLE_HEADER_BYTES;
    let flush = |current: &mut Vec<&[u8]>, out: &mut Vec<Result<Vec<u8>, usize>>| {
        match current.as_slice() {
            [] => {}
            [only] => {
                let mut datagram = Vec::with_capacity(WHOLE_HEADER_BYTES + only.len());
                datagram.push(TAG_WHOLE);
                datagram.extend_from_slice(only);
                out.push(Ok(datagram));
            }
            parts => {
                let len =
                    BUNDLE_HEADER_BYTES + parts.iter().map(|part| BUNDLE_PART_HEADER_BYTES + part.len()).sum::<usize>();
                let mut datagram = Vec::with_capacity(len);
                datagram.push(TAG_BUNDLE);
                for part in parts {
                    // In range: parts longer than `part_max` (at most u16::MAX) are never bundled.
                    datagram.extend_from_slice(&(part.len() as u16).to_be_bytes());
                    datagram.extend_from_slice(part);
                }
                out.push(Ok(datagram));
            }
        }
        current.clear();
    };
    for (index, message) in messages.iter().enumerate() {
        if message.len() > part_max {
            flush(&mut current, &mut out);
            current_bytes = BUNDLE_HEADER_BYTES;
            out.push(Err(index));
            continue;
        }
        let needed = BUNDLE_PART_HEADER_BYTES + message.len();
        if current_bytes + needed > max_datagram_bytes {
            flush(&mut current, &mut out);
            current_bytes = BUNDLE_HEADER_BYTES;
        }
        current.push(message);
        current_bytes += needed;
    }
    flush(&mut current, &mut out);
    out
}

/// Decodes one datagram. Never panics, whatever the bytes.
pub fn decode(datagram: &[u8]) -> Result<Frame<'_>, FrameError> {
    let (&tag, rest) = datagram.split_first().ok_or(FrameError::Empty)?;
    if tag >> 4 != FRAMING_VERSION {
        return Err(FrameError::UnknownVersion(tag >> 4));
    }
    match tag {
        TAG_WHOLE => Ok(Frame::Whole(rest)),
        TAG_FRAGMENT => {
            if datagram.len() < FRAGMENT_HEADER_BYTES {
                return Err(FrameError::TruncatedHeader { len: datagram.len() });
            }
            let message_id = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let index = u16::from_be_bytes([rest[4], rest[5]]);
            let count = u16::from_be_bytes([rest[6], rest[7]]);
            if count < 2 || index >= count {
                return Err(FrameError::InvalidPosition { index, count });
            }
            Ok(Frame::Fragment { message_id, index, count, payload: &rest[8..] })
        }
        TAG_BUNDLE if check_bundle(rest) => Ok(Frame::Bundle(Bundle { parts: rest })),
        TAG_BUNDLE => Err(FrameError::InvalidBundle { len: datagram.len() }),
        other => Err(FrameError::UnknownKind(other & 0x0f)),
    }
}

/// Number of datagrams `message_len` bytes take at `max_datagram_bytes` per datagram.
pub fn datagram_count(message_len: usize, max_datagram_bytes: usize) -> Result<usize, FrameError> {
    if max_datagram_bytes < MIN_DATAGRAM_BYTES {
        return Err(FrameError::DatagramTooSmall(max_datagram_bytes));
    }
    if message_len > MAX_MESSAGE_BYTES {
        return Err(FrameError::TooLarge { len: message_len, limit: MAX_MESSAGE_BYTES });
    }
    if message_len + WHOLE_HEADER_BYTES <= max_datagram_bytes {
        return Ok(1);
    }
    let per_fragment = max_datagram_bytes - FRAGMENT_HEADER_BYTES;
    let count = message_len.div_ceil(per_fragment);
    if count > usize::from(u16::MAX) {
        return Err(FrameError::TooLarge { len: message_len, limit: usize::from(u16::MAX) * per_fragment });
    }
    Ok(count)
}

/// Encodes a message into its datagrams (one whole datagram, or `count >= 2` fragments tagged with
/// `message_id`). The iterator allocates each datagram as it is asked for, so a large message is not held twice.
pub fn encode(message: &[u8], message_id: u32, max_datagram_bytes: usize) -> Result<Datagrams<'_>, FrameError> {
    let count = datagram_count(message.len(), max_datagram_bytes)?;
    let per_fragment = max_datagram_bytes - FRAGMENT_HEADER_BYTES;
    Ok(Datagrams { message, message_id, per_fragment, count, next_index: 0 })
}

/// Iterator over the datagrams of one message; see [`encode`].
#[derive(Clone, Debug)]
pub struct Datagrams<'a> {
    message: &'a [u8],
    message_id: u32,
    per_fragment: usize,
    count: usize,
    next_index: usize,
}

impl Datagrams<'_> {
    /// True when the message travels as fragments (and so consumed a message id).
    pub fn is_fragmented(&self) -> bool {
        self.count > 1
    }
}

impl Iterator for Datagrams<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.next_index >= self.count {
            return None;
        }
        let index = self.next_index;
        self.next_index += 1;
        if self.count == 1 {
            let mut datagram = Vec::with_capacity(WHOLE_HEADER_BYTES + self.message.len());
            datagram.push(TAG_WHOLE);
            datagram.extend_from_slice(self.message);
            return Some(datagram);
        }
        let start = index * self.per_fragment;
        let end = (start + self.per_fragment).min(self.message.len());
        let chunk = &self.message[start..end];
        let mut datagram = Vec::with_capacity(FRAGMENT_HEADER_BYTES + chunk.len());
        datagram.push(TAG_FRAGMENT);
        datagram.extend_from_slice(&self.message_id.to_be_bytes());
        // Both casts are in range: datagram_count rejected counts above u16::MAX.
        datagram.extend_from_slice(&(index as u16).to_be_bytes());
        datagram.extend_from_slice(&(self.count as u16).to_be_bytes());
        datagram.extend_from_slice(chunk);
        Some(datagram)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.next_index;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Datagrams<'_> {}

/// Bounds on the memory and time the reassembler spends on incomplete messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Incomplete messages kept per sender; the oldest is evicted to make room.
    pub partial_per_peer_max: usize,
    /// Incomplete messages kept over all senders; the oldest is evicted to make room.
    pub partial_total_max: usize,
    /// Payload bytes held in incomplete messages over all senders; the oldest are evicted to make room.
    pub partial_bytes_max: usize,
    /// An incomplete message that has not been completed this long after its first fragment is dropped.
    pub partial_timeout: Duration,
    /// Completed message ids remembered per sender, so that late duplicate fragments do not deliver twice.
    pub completed_memory_per_peer: usize,
    /// How long a completed message id is remembered.
    pub completed_memory_timeout: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits {
            partial_per_peer_max: 32,
            partial_total_max: 1024,
            partial_bytes_max: 128 * 1024 * 1024,
            partial_timeout: Duration::from_secs(5),
            completed_memory_per_peer: 256,
            completed_memory_timeout: Duration::from_secs(30),
        }
    }
}

/// One message whose fragments are still arriving.
#[derive(Debug)]
struct Partial {
    /// When the first fragment arrived: the age used for timeout and oldest-first eviction.
    first_seen: Instant,
    /// One slot per fragment; `None` until that fragment arrives.
    pieces: Vec<Option<Vec<u8>>>,
    /// Number of `Some` slots in `pieces`.
    received: usize,
    /// Sum of the received pieces' lengths.
    bytes: usize,
}

/// What the reassembler knows about one sender.
#[derive(Debug, Default)]
struct PeerState {
    partials: HashMap<u32, Partial>,
    /// Recently completed message ids, oldest first, with the time they completed.
    completed: VecDeque<(u32, Instant)>,
}

/// Reassembles fragmented messages per sender, exactly once, within bounded memory.
///
/// `P` identifies a sender (a `SocketAddr` in the endpoint; anything hashable in tests).
#[derive(Debug)]
pub struct Reassembler<P = SocketAddr> {
    limits: ReassemblyLimits,
    peers: HashMap<P, PeerState>,
    partial_total: usize,
    partial_bytes: usize,
    /// Next time a sweep for expired state is due; sweeping on every datagram would cost a scan each.
    next_sweep: Option<Instant>,
}

impl<P: Copy + Eq + Hash> Reassembler<P> {
    /// An empty reassembler with the given limits.
    pub fn new(limits: ReassemblyLimits) -> Self {
        assert!(limits.partial_per_peer_max >= 1, "partial_per_peer_max must allow one partial message");
        assert!(limits.partial_total_max >= 1, "partial_total_max must allow one partial message");
        Reassembler { limits, peers: HashMap::new(), partial_total: 0, partial_bytes: 0, next_sweep: None }
    }

    /// Incomplete messages currently held, over all senders.
    pub fn partial_count(&self) -> usize {
        self.partial_total
    }

    /// Payload bytes currently held in incomplete messages.
    pub fn partial_bytes(&self) -> usize {
        self.partial_bytes
    }

    /// Feeds one received datagram. Returns the message it completes, if any (a whole datagram always completes
    /// one). Malformed or contradictory datagrams are errors and leave no state behind; fragments of a message
    /// already delivered are ignored. A bundle is [`FrameError::BundleNotReassembled`]: the receiver splits
    /// bundles itself (see [`Frame::Bundle`]).
    pub fn accept(&mut self, now: Instant, from: P, datagram: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        match decode(datagram)? {
            Frame::Whole(payload) => Ok(Some(payload.to_vec())),
            Frame::Fragment { message_id, index, count, payload } => {
                self.accept_fragment(now, from, message_id, index, count, payload)
            }
            Frame::Bundle(_) => Err(FrameError::BundleNotReassembled),
        }
    }

    fn accept_fragment(
        &mut self,
        now: Instant,
        from: P,
        message_id: u32,
        index: u16,
        count: u16,
        payload: &[u8],
    ) -> Result<Option<Vec<u8>>, FrameError> {
        if self.next_sweep.is_none_or(|due| now >= due) {
            self.evict_expired(now);
            self.next_sweep = Some(now + self.limits.partial_timeout / 4);
        }
        let peer = self.peers.entry(from).or_default();
        if peer.completed.iter().any(|&(id, _)| id == message_id) {
            return Ok(None);
        }
        if let Some(partial) = peer.partials.get(&message_id) {
            let slot = partial.pieces.get(usize::from(index));
            let contradicts = match slot {
                None => true, // another count than the first fragment said
                Some(Some(earlier)) => earlier.as_slice() != payload || partial.pieces.len() != usize::from(count),
                Some(None) => partial.pieces.len() != usize::from(count),
            };
            if contradicts {
                self.remove_partial(from, message_id);
                return Err(FrameError::Inconsistent { message_id });
            }
            if matches!(slot, Some(Some(_))) {
                return Ok(None); // an exact duplicate fragment
            }
        } else {
            self.make_room(from);
            let peer = self.peers.entry(from).or_default();
            peer.partials.insert(
                message_id,
                Partial { first_seen: now, pieces: vec![None; usize::from(count)], received: 0, bytes: 0 },
            );
            self.partial_total += 1;
        }

        let peer = self.peers.get_mut(&from).expect("peer state exists: inserted above");
        let partial = peer.partials.get_mut(&message_id).expect("partial exists: checked or inserted above");
        if partial.bytes + payload.len() > MAX_MESSAGE_BYTES {
            let len = partial.bytes + payload.len();
            self.remove_partial(from, message_id);
            return Err(FrameError::TooLarge { len, limit: MAX_MESSAGE_BYTES });
        }
        partial.pieces[usize::from(index)] = Some(payload.to_vec());
        partial.received += 1;
        partial.bytes += payload.len();
        self.partial_bytes += payload.len();
        if partial.received < partial.pieces.len() {
            self.evict_for_bytes(from, message_id);
            return Ok(None);
        }

        let partial = peer.partials.remove(&message_id).expect("partial exists: just updated");
        self.partial_total -= 1;
        self.partial_bytes -= partial.bytes;
        peer.completed.push_back((message_id, now));
        while peer.completed.len() > self.limits.completed_memory_per_peer {
            peer.completed.pop_front();
        }
        let mut message = Vec::with_capacity(partial.bytes);
        for piece in partial.pieces {
            message.extend_from_slice(&piece.expect("all pieces received"));
        }
        Ok(Some(message))
    }

    /// Drops incomplete messages older than the partial timeout and forgets completed ids older than their
    /// memory timeout. `accept` calls this itself from time to time; a shell may also call it on a timer.
    pub fn evict_expired(&mut self, now: Instant) {
        let partial_timeout = self.limits.partial_timeout;
        let completed_timeout = self.limits.completed_memory_timeout;
        let mut freed_partials = 0;
        let mut freed_bytes = 0;
        self.peers.retain(|_, peer| {
            peer.partials.retain(|_, partial| {
                let keep = now.saturating_duration_since(partial.first_seen) < partial_timeout;
                if !keep {
                    freed_partials += 1;
                    freed_bytes += partial.bytes;
                }
                keep
            });
            while peer.completed.front().is_some_and(|&(_, at)| now.saturating_duration_since(at) >= completed_timeout)
            {
                peer.completed.pop_front();
            }
            !peer.partials.is_empty() || !peer.completed.is_empty()
        });
        self.partial_total -= freed_partials;
        self.partial_bytes -= freed_bytes;
    }

    fn remove_partial(&mut self, from: P, message_id: u32) {
        if let Some(peer) = self.peers.get_mut(&from)
            && let Some(partial) = peer.partials.remove(&message_id)
        {
            self.partial_total -= 1;
            self.partial_bytes -= partial.bytes;
        }
    }

    /// Evicts the oldest partial messages until one more fits the count limits.
    fn make_room(&mut self, from: P) {
        let per_peer = self.peers.get(&from).map_or(0, |peer| peer.partials.len());
        if per_peer >= self.limits.partial_per_peer_max
            && let Some(oldest) = self.oldest_partial(Some(from))
        {
            self.remove_partial(oldest.0, oldest.1);
        }
        while self.partial_total >= self.limits.partial_total_max {
            let Some(oldest) = self.oldest_partial(None) else { break };
            self.remove_partial(oldest.0, oldest.1);
        }
    }

    /// Evicts the oldest partial messages other than `keep` while the byte budget is exceeded.
    fn evict_for_bytes(&mut self, keep_peer: P, keep_id: u32) {
        while self.partial_bytes > self.limits.partial_bytes_max {
            let victim = self
                .peers
                .iter()
                .flat_map(|(&peer, state)| state.partials.iter().map(move |(&id, partial)| (peer, id, partial)))
                .filter(|&(peer, id, _)| !(peer == keep_peer && id == keep_id))
                .min_by_key(|&(_, _, partial)| partial.first_seen)
                .map(|(peer, id, _)| (peer, id));
            match victim {
                Some((peer, id)) => self.remove_partial(peer, id),
                None => {
                    // Only the message being built is left and it alone exceeds the budget: drop it too.
                    self.remove_partial(keep_peer, keep_id);
                    break;
                }
            }
        }
    }

    fn oldest_partial(&self, only: Option<P>) -> Option<(P, u32)> {
        self.peers
            .iter()
            .filter(|(peer, _)| only.is_none_or(|only| only == **peer))
            .flat_map(|(&peer, state)| state.partials.iter().map(move |(&id, partial)| (peer, id, partial.first_seen)))
            .min_by_key(|&(_, _, first_seen)| first_seen)
            .map(|(peer, id, _)| (peer, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reassemble_all(datagrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut reassembler = Reassembler::<u8>::new(ReassemblyLimits::default());
        let now = Instant::now();
        datagrams.iter().filter_map(|d| reassembler.accept(now, 7, d).expect("valid datagram")).collect()
    }

    #[test]
    fn small_message_is_one_whole_datagram_with_one_byte_of_overhead() {
        let datagrams: Vec<_> = encode(b"hello", 9, DEFAULT_MAX_DATAGRAM_BYTES).unwrap().collect();
        assert_eq!(datagrams, vec![b"\x10hello".to_vec()]);
        assert_eq!(decode(&datagrams[0]), Ok(Frame::Whole(b"hello")));
    }

    #[test]
    fn empty_message_round_trips() {
        let datagrams: Vec<_> = encode(b"", 1, 64).unwrap().collect();
        assert_eq!(reassemble_all(&datagrams), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn message_exactly_filling_a_datagram_is_whole_and_one_more_byte_fragments() {
        let max = 100;
        let fits = vec![1u8; max - WHOLE_HEADER_BYTES];
        assert_eq!(encode(&fits, 0, max).unwrap().count(), 1);
        let over = vec![1u8; max - WHOLE_HEADER_BYTES + 1];
        let datagrams: Vec<_> = encode(&over, 0xdead_beef, max).unwrap().collect();
        assert_eq!(datagrams.len(), 2);
        assert!(datagrams.iter().all(|d| d.len() <= max));
        assert_eq!(
            decode(&datagrams[1]),
            Ok(Frame::Fragment {
                message_id: 0xdead_beef,
                index: 1,
                count: 2,
                payload: &over[max - FRAGMENT_HEADER_BYTES..]
            })
        );
        assert_eq!(reassemble_all(&datagrams), vec![over]);
    }

    #[test]
    fn oversized_message_is_refused_not_truncated() {
        let too_big = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(encode(&too_big, 0, DEFAULT_MAX_DATAGRAM_BYTES), Err(FrameError::TooLarge { .. })));
        let largest = vec![0u8; MAX_MESSAGE_BYTES];
        assert!(encode(&largest, 0, DEFAULT_MAX_DATAGRAM_BYTES).is_ok());
        // At a tiny datagram size the u16 fragment count is the limit.
        assert!(matches!(encode(&largest, 0, MIN_DATAGRAM_BYTES), Err(FrameError::TooLarge { .. })));
        assert_eq!(encode(b"x", 0, FRAGMENT_HEADER_BYTES).unwrap_err(), FrameError::DatagramTooSmall(9));
    }

    #[test]
    fn malformed_datagrams_are_rejected() {
        let check = |datagram: &[u8], expected: FrameError| assert_eq!(decode(datagram), Err(expected));
        check(b"", FrameError::Empty);
        check(b"\x20abc", FrameError::UnknownVersion(2));
        check(b"\x00abc", FrameError::UnknownVersion(0));
        check(b"\x13abc", FrameError::UnknownKind(3));
        check(b"\x12", FrameError::InvalidBundle { len: 1 });
        check(b"\x12\0\x05ab", FrameError::InvalidBundle { len: 5 });
        check(b"\x12\0\x01a\0", FrameError::InvalidBundle { len: 5 });
        check(b"\x11\0\0\0\x01\0\0", FrameError::TruncatedHeader { len: 7 });
        check(b"\x11\0\0\0\x01\0\x02\0\x02x", FrameError::InvalidPosition { index: 2, count: 2 });
        check(b"\x11\0\0\0\x01\0\0\0\x01x", FrameError::InvalidPosition { index: 0, count: 1 });
    }

    /// The messages the datagrams of `encode_bundles` carry, in order (`Err(index)` stands for `messages[index]`).
    fn unbundle_all(messages: &[&[u8]], datagrams: &[Result<Vec<u8>, usize>], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for datagram in datagrams {
            match datagram {
                Ok(datagram) => {
                    assert!(datagram.len() <= max, "a bundle datagram of {} bytes exceeds {max}", datagram.len());
                    match decode(datagram).expect("valid datagram") {
                        Frame::Whole(message) => out.push(message.to_vec()),
                        Frame::Bundle(bundle) => out.extend(bundle.map(<[u8]>::to_vec)),
                        Frame::Fragment { .. } => panic!("bundles are never fragments"),
                    }
                }
                Err(index) => out.push(messages[*index].to_vec()),
            }
        }
        out
    }

    #[test]
    fn bundles_carry_messages_in_order_within_the_datagram_size() {
        let max = 100;
        let big = vec![7u8; bundle_part_max(max) + 1];
        let fits_alone = vec![8u8; bundle_part_max(max)];
        let messages: Vec<&[u8]> =
            vec![b"one", b"", b"three", &big, b"five", &fits_alone, b"seven", &[9u8; 40], &[10u8; 40], b"ten"];
        let datagrams = encode_bundles(&messages, max);
        let expected: Vec<Vec<u8>> = messages.iter().map(|message| message.to_vec()).collect();
        assert_eq!(unbundle_all(&messages, &datagrams, max), expected);
        assert!(datagrams.contains(&Err(3)), "the message too large for a bundle is handed back in its place");
        assert!(datagrams.len() < messages.len(), "small neighbours share datagrams");
        // One message alone is a plain whole datagram, readable by the reassembler.
        assert_eq!(encode_bundles(&[b"solo"], max), vec![Ok(b"\x10solo".to_vec())]);
        assert_eq!(encode_bundles(&[b"ab", b"c"], max), vec![Ok(b"\x12\0\x02ab\0\x01c".to_vec())]);
        assert!(encode_bundles(&[], max).is_empty());
    }

    #[test]
    fn the_reassembler_refuses_bundles() {
        let mut reassembler = Reassembler::<u8>::new(ReassemblyLimits::default());
        let bundle = b"\x12\0\x02ab\0\x01c";
        assert_eq!(reassembler.accept(Instant::now(), 1, bundle), Err(FrameError::BundleNotReassembled));
    }

    #[test]
    fn contradicting_fragments_discard_the_partial_message() {
        let mut reassembler = Reassembler::<u8>::new(ReassemblyLimits::default());
        let now = Instant::now();
        let fragment = |index: u16, count: u16, payload: &[u8]| {
            let mut d = vec![0x11, 0, 0, 0, 5];
            d.extend_from_slice(&index.to_be_bytes());
            d.extend_from_slice(&count.to_be_bytes());
            d.extend_from_slice(payload);
            d
        };
        assert_eq!(reassembler.accept(now, 1, &fragment(0, 3, b"a")), Ok(None));
        assert_eq!(reassembler.accept(now, 1, &fragment(1, 4, b"b")), Err(FrameError::Inconsistent { message_id: 5 }));
        assert_eq!(reassembler.partial_count(), 0);
        assert_eq!(reassembler.accept(now, 1, &fragment(0, 2, b"a")), Ok(None));
        assert_eq!(reassembler.accept(now, 1, &fragment(0, 2, b"z")), Err(FrameError::Inconsistent { message_id: 5 }));
        assert_eq!(reassembler.partial_count(), 0);
        assert_eq!(reassembler.partial_bytes(), 0);
        // The same message id from another sender is a different message.
        assert_eq!(reassembler.accept(now, 1, &fragment(0, 2, b"a")), Ok(None));
        assert_eq!(reassembler.accept(now, 2, &fragment(1, 2, b"b")), Ok(None));
        assert_eq!(reassembler.accept(now, 1, &fragment(1, 2, b"b")), Ok(Some(b"ab".to_vec())));
    }

    #[test]
    fn late_duplicates_of_a_delivered_message_are_ignored() {
        let message = vec![3u8; 250];
        let datagrams: Vec<_> = encode(&message, 42, 64).unwrap().collect();
        let doubled: Vec<_> = datagrams.iter().chain(datagrams.iter()).cloned().collect();
        assert_eq!(reassemble_all(&doubled), vec![message]);
    }

    #[test]
    fn stale_partials_expire_and_completed_ids_are_forgotten_after_their_timeout() {
        let limits = ReassemblyLimits::default();
        let mut reassembler = Reassembler::<u8>::new(limits.clone());
        let start = Instant::now();
        let message = vec![9u8; 200];
        let datagrams: Vec<_> = encode(&message, 1, 64).unwrap().collect();
        assert_eq!(reassembler.accept(start, 1, &datagrams[0]), Ok(None));
        reassembler.evict_expired(start + limits.partial_timeout);
        assert_eq!(reassembler.partial_count(), 0);
        assert_eq!(reassembler.partial_bytes(), 0);

        let later = start + limits.partial_timeout * 2;
        let delivered: Vec<_> =
            datagrams.iter().filter_map(|d| reassembler.accept(later, 1, d).unwrap()).collect::<Vec<_>>();
        assert_eq!(delivered, vec![message.clone()]);
        // Within the memory timeout the same id is a duplicate; after it, the id is new again.
        assert_eq!(reassembler.accept(later, 1, &datagrams[0]), Ok(None));
        assert_eq!(reassembler.partial_count(), 0);
        let much_later = later + limits.completed_memory_timeout;
        reassembler.evict_expired(much_later);
        assert_eq!(reassembler.accept(much_later, 1, &datagrams[0]), Ok(None));
        assert_eq!(reassembler.partial_count(), 1);
    }

    #[test]
    fn memory_stays_within_the_limits_under_many_incomplete_messages() {
        let limits = ReassemblyLimits {
            partial_per_peer_max: 4,
            partial_total_max: 10,
            partial_bytes_max: 2_000,
            ..ReassemblyLimits::default()
        };
        let mut reassembler = Reassembler::<u8>::new(limits.clone());
        let mut now = Instant::now();
        for id in 0..1_000u32 {
            now += Duration::from_micros(1);
            let message = vec![1u8; 300];
            let first = encode(&message, id, 100).unwrap().next().unwrap();
            reassembler.accept(now, (id % 7) as u8, &first).unwrap();
            assert!(reassembler.partial_count() <= limits.partial_total_max);
            assert!(reassembler.partial_bytes() <= limits.partial_bytes_max);
            for state in reassembler.peers.values() {
                assert!(state.partials.len() <= limits.partial_per_peer_max);
            }
        }
        assert!(reassembler.partial_count() > 0);
    }

    mod properties {
        use super::super::*;
        use super::unbundle_all;
        use proptest::prelude::*;

        proptest! {
            /// Any split, any duplication and any order of the fragments yields the message exactly once.
            #[test]
            fn any_duplication_and_order_of_fragments_reassembles_exactly_once(
                message in proptest::collection::vec(any::<u8>(), 0..3_000),
                max_datagram_bytes in MIN_DATAGRAM_BYTES..400,
                message_id in any::<u32>(),
                copies in proptest::collection::vec(1usize..4, 1..64),
                order_seed in any::<u64>(),
            ) {
                let datagrams: Vec<_> = encode(&message, message_id, max_datagram_bytes).unwrap().collect();
                prop_assert!(datagrams.iter().all(|d| d.len() <= max_datagram_bytes.max(message.len() + 1)));
                let mut sent = Vec::new();
                for (index, datagram) in datagrams.iter().enumerate() {
                    for _ in 0..copies[index % copies.len()] {
                        sent.push(datagram.clone());
                    }
                }
                // A deterministic shuffle from the seed (Fisher–Yates driven by a tiny LCG).
                let mut state = order_seed | 1;
                for i in (1..sent.len()).rev() {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    let j = (state >> 33) as usize % (i + 1);
                    sent.swap(i, j);
                }
                let mut reassembler = Reassembler::<u8>::new(ReassemblyLimits::default());
                let now = Instant::now();
                let mut delivered = Vec::new();
                for datagram in &sent {
                    if let Some(m) = reassembler.accept(now, 1, datagram).unwrap() {
                        delivered.push(m);
                    }
                }
                if datagrams.len() == 1 {
                    // A whole datagram is its own message: each copy is delivered (duplicates are the layer
                    // above's business; the endpoint's fault injector produces them on purpose).
                    prop_assert_eq!(delivered.len(), sent.len());
                    prop_assert!(delivered.iter().all(|m| *m == message));
                } else {
                    prop_assert_eq!(delivered, vec![message]);
                }
                prop_assert_eq!(reassembler.partial_count(), 0);
            }

            /// Any list of messages comes out of its bundles whole and in order, every datagram within the size.
            #[test]
            fn bundles_round_trip(
                messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..40),
                max in 20usize..200,
            ) {
                let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
                let datagrams = encode_bundles(&messages, max);
                let expected: Vec<Vec<u8>> = messages.iter().map(|message| message.to_vec()).collect();
                prop_assert_eq!(unbundle_all(&messages, &datagrams, max), expected);
            }

            /// Random bytes behind a bundle tag never panic: they decode to parts covering them exactly, or fail.
            #[test]
            fn random_bundles_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
                let mut datagram = vec![TAG_BUNDLE];
                datagram.extend_from_slice(&body);
                if let Ok(Frame::Bundle(bundle)) = decode(&datagram) {
                    let covered: usize = bundle.map(|part| BUNDLE_PART_HEADER_BYTES + part.len()).sum();
                    prop_assert_eq!(covered, body.len());
                }
            }

            /// Random bytes never panic and never leave more than the limits allow.
            #[test]
            fn random_datagrams_never_panic(
                datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..200),
            ) {
                let limits = ReassemblyLimits { partial_total_max: 8, partial_bytes_max: 256, ..Default::default() };
                let mut reassembler = Reassembler::<u8>::new(limits);
                let now = Instant::now();
                for (i, datagram) in datagrams.iter().enumerate() {
                    let _ = reassembler.accept(now, (i % 3) as u8, datagram);
                    prop_assert!(reassembler.partial_count() <= 8);
                    prop_assert!(reassembler.partial_bytes() <= 256);
                }
            }

            /// Random bytes with a valid fragment tag exercise the fragment paths specifically.
            #[test]
            fn random_fragments_never_panic(
                bodies in proptest::collection::vec(
                    (0u32..4, 0u16..6, 0u16..6, proptest::collection::vec(any::<u8>(), 0..8)), 0..200),
            ) {
                let mut reassembler = Reassembler::<u8>::new(ReassemblyLimits::default());
                let now = Instant::now();
                for (message_id, index, count, payload) in bodies {
                    let mut d = vec![0x11];
                    d.extend_from_slice(&message_id.to_be_bytes());
                    d.extend_from_slice(&index.to_be_bytes());
                    d.extend_from_slice(&count.to_be_bytes());
                    d.extend_from_slice(&payload);
                    let _ = reassembler.accept(now, 0, &d);
                }
            }
        }
    }
}
