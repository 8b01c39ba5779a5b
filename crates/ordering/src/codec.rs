//! Versioned binary encoding of ordering `Message`s: one message per datagram (or per reassembled chunk sequence).
//!
//! Deliberately not here: chunking, sockets, compression, or any knowledge of what a payload means.
//!
//! Format (all integers little-endian, fixed width so encoding is a few copies and decoding needs no varint loops):
//!
//! ```text
//! header  : magic u8 = 0xCF | version u8 = 1 | kind u8 | epoch u64 | from u16            (13 bytes)
//! kind 1 Submit   : low_water_request_id u64 | count u16 | count × (request_id u64 | len u32 | payload[len])
//! kind 2 Accepted : count u16 | count × (request_id u64 | seq u64)
//! kind 3 Ordered  : count u16 | count × (seq u64 | timestamp_ms u64 | submitter u16 | request_id u64
//!                                         | len u32 | payload[len])
//! kind 4 Nak      : delivered_up_to u64 | count u16 | count × (first u64 | last u64)
//! kind 5 Report   : delivered_up_to u64
//! kind 6 Sync     : high_seq u64 | report_requested u8 (0 or 1)
//! kind 7 Behind   : first_available_seq u64
//! ```
//!
//! A message must fill its buffer exactly; trailing bytes are invalid (a datagram carries one message). A future
//! version bumps the version byte; a decoder rejects versions it does not know rather than guessing.

use bytes::Bytes;

use crate::message::{Ack, Body, Message, NodeId, OrderedEntry, Request, SeqRange};

/// First byte of every encoded message; catches stray datagrams from other protocols early.
pub const MAGIC: u8 = 0xCF;
/// The codec version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 13;
/// Encoded size of one `OrderedEntry` without its payload.
pub const ORDERED_ENTRY_OVERHEAD: usize = 30;
/// Encoded size of one `Request` without its payload.
pub const REQUEST_OVERHEAD: usize = 12;
/// Encoded size of one `Ack`.
pub const ACK_LEN: usize = 16;
/// Most entries one batch may carry (the count is a u16).
pub const BATCH_COUNT_MAX: usize = u16::MAX as usize;

const KIND_SUBMIT: u8 = 1;
const KIND_ACCEPTED: u8 = 2;
const KIND_ORDERED: u8 = 3;
const KIND_NAK: u8 = 4;
const KIND_REPORT: u8 = 5;
const KIND_SYNC: u8 = 6;
const KIND_BEHIND: u8 = 7;

/// Why bytes could not be decoded into a `Message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ended before the message did; more bytes might make it valid (a chunk still missing).
    #[error("incomplete message: needed at least {needed} bytes, have {have}")]
    Incomplete {
        /// Bytes needed to get past the point where decoding stopped (a lower bound on the full length).
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// The first byte is not `MAGIC`: not an ordering message at all.
    #[error("bad magic byte {0:#04x}")]
    BadMagic(u8),
    /// The version byte names a codec version this build does not know.
    #[error("unsupported codec version {0}")]
    UnsupportedVersion(u8),
    /// The kind byte names no message kind.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// The bytes are structurally complete but break a rule of the format (named in the text).
    #[error("invalid message: {0}")]
    Invalid(&'static str),
    /// The message ended before the buffer did.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
}

impl DecodeError {
    /// Whether more bytes could turn this into a valid message (as opposed to the bytes being wrong).
    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }
}

impl OrderedEntry {
    /// Bytes this entry takes inside an encoded `Ordered` message.
    pub fn encoded_len(&self) -> usize {
        ORDERED_ENTRY_OVERHEAD + self.payload.len()
    }
}

impl Request {
    /// Bytes this request takes inside an encoded `Submit` message.
    pub fn encoded_len(&self) -> usize {
        REQUEST_OVERHEAD + self.payload.len()
    }
}

impl Message {
    /// Exact number of bytes `encode` appends.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            + match &self.body {
                Body::Submit { requests, .. } => 8 + 2 + requests.iter().map(Request::encoded_len).sum::<usize>(),
                Body::Accepted { acks } => 2 + ACK_LEN * acks.len(),
                Body::Ordered { entries } => 2 + entries.iter().map(OrderedEntry::encoded_len).sum::<usize>(),
                Body::Nak { ranges, .. } => 8 + 2 + 16 * ranges.len(),
                Body::Report { .. } => 8,
                Body::Sync { .. } => 9,
                Body::Behind { .. } => 8,
            }
    }

    /// Appends the encoding of this message to `out`.
    ///
    /// # Panics
    /// If a batch holds more than `BATCH_COUNT_MAX` items or a payload exceeds `u32::MAX` bytes: the roles never
    /// build such messages, so this is a programming error, not an input error.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.push(MAGIC);
        out.push(VERSION);
        out.push(self.kind());
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.from.0.to_le_bytes());
        match &self.body {
            Body::Submit { low_water_request_id, requests } => {
                put_u64(out, *low_water_request_id);
                put_count(out, requests.len());
                for request in requests {
                    put_u64(out, request.request_id);
                    put_payload(out, &request.payload);
                }
            }
            Body::Accepted { acks } => {
                put_count(out, acks.len());
                for ack in acks {
                    put_u64(out, ack.request_id);
                    put_u64(out, ack.seq);
                }
            }
            Body::Ordered { entries } => {
                put_count(out, entries.len());
                for entry in entries {
                    put_u64(out, entry.seq);
                    put_u64(out, entry.timestamp_ms);
                    out.extend_from_slice(&entry.submitter.0.to_le_bytes());
                    put_u64(out, entry.request_id);
                    put_payload(out, &entry.payload);
                }
            }
            Body::Nak { delivered_up_to, ranges } => {
                put_u64(out, *delivered_up_to);
                put_count(out, ranges.len());
                for range in ranges {
                    put_u64(out, range.first);
                    put_u64(out, range.last);
                }
            }
            Body::Report { delivered_up_to } => put_u64(out, *delivered_up_to),
            Body::Sync { high_seq, report_requested } => {
                put_u64(out, *high_seq);
                out.push(u8::from(*report_requested));
            }
            Body::Behind { first_available_seq } => put_u64(out, *first_available_seq),
        }
    }

    /// Decodes one message that must fill `bytes` exactly; payloads are copied out of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        Self::decode_with(bytes, Bytes::copy_from_slice)
    }

    /// Like `decode`, but payloads share `bytes`' buffer instead of being copied (one allocation per datagram
    /// instead of one per payload).
    pub fn decode_shared(bytes: &Bytes) -> Result<Message, DecodeError> {
        Self::decode_with(bytes, |payload| bytes.slice_ref(payload))
    }

    fn decode_with<'a>(bytes: &'a [u8], payload_of: impl Fn(&'a [u8]) -> Bytes) -> Result<Message, DecodeError> {
        let mut reader = Reader { bytes, position: 0 };
        let magic = reader.u8()?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = reader.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind = reader.u8()?;
        let epoch = reader.u64()?;
        let from = NodeId(reader.u16()?);
        let body = match kind {
            KIND_SUBMIT => {
                let low_water_request_id = reader.u64()?;
                let count = reader.u16()? as usize;
                let mut requests = Vec::with_capacity(reader.capacity_for(count, REQUEST_OVERHEAD));
                for _ in 0..count {
                    let request_id = reader.u64()?;
                    let payload = payload_of(reader.payload()?);
                    requests.push(Request { request_id, payload });
                }
                Body::Submit { low_water_request_id, requests }
            }
            KIND_ACCEPTED => {
                let count = reader.u16()? as usize;
                let mut acks = Vec::with_capacity(reader.capacity_for(count, ACK_LEN));
                for _ in 0..count {
                    let request_id = reader.u64()?;
                    let seq = reader.seq()?;
                    acks.push(Ack { request_id, seq });
                }
                Body::Accepted { acks }
            }
            KIND_ORDERED => {
                let count = reader.u16()? as usize;
                let mut entries: Vec<OrderedEntry> =
                    Vec::with_capacity(reader.capacity_for(count, ORDERED_ENTRY_OVERHEAD));
                for _ in 0..count {
                    let seq = reader.seq()?;
                    let timestamp_ms = reader.u64()?;
                    let submitter = NodeId(reader.u16()?);
                    let request_id = reader.u64()?;
                    let payload = payload_of(reader.payload()?);
                    if entries.last().is_some_and(|previous| previous.seq >= seq) {
                        return Err(DecodeError::Invalid("ordered entries not in increasing seq order"));
                    }
                    entries.push(OrderedEntry { seq, timestamp_ms, submitter, request_id, payload });
                }
                Body::Ordered { entries }
            }
            KIND_NAK => {
                let delivered_up_to = reader.u64()?;
                let count = reader.u16()? as usize;
                let mut ranges: Vec<SeqRange> = Vec::with_capacity(reader.capacity_for(count, 16));
                for _ in 0..count {
                    let first = reader.seq()?;
                    let last = reader.seq()?;
                    if first > last {
                        return Err(DecodeError::Invalid("nak range with first above last"));
                    }
                    if ranges.last().is_some_and(|previous| previous.last >= first) {
                        return Err(DecodeError::Invalid("nak ranges overlap or are out of order"));
                    }
                    ranges.push(SeqRange { first, last });
                }
                Body::Nak { delivered_up_to, ranges }
            }
            KIND_REPORT => Body::Report { delivered_up_to: reader.u64()? },
            KIND_SYNC => {
                let high_seq = reader.u64()?;
                let report_requested = match reader.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(DecodeError::Invalid("report_requested is neither 0 nor 1")),
                };
                Body::Sync { high_seq, report_requested }
            }
            KIND_BEHIND => Body::Behind { first_available_seq: reader.seq()? },
            other => return Err(DecodeError::UnknownKind(other)),
        };
        let trailing = bytes.len() - reader.position;
        if trailing != 0 {
            return Err(DecodeError::TrailingBytes(trailing));
        }
        Ok(Message { epoch, from, body })
    }

    fn kind(&self) -> u8 {
        match self.body {
            Body::Submit { .. } => KIND_SUBMIT,
            Body::Accepted { .. } => KIND_ACCEPTED,
            Body::Ordered { .. } => KIND_ORDERED,
            Body::Nak { .. } => KIND_NAK,
            Body::Report { .. } => KIND_REPORT,
            Body::Sync { .. } => KIND_SYNC,
            Body::Behind { .. } => KIND_BEHIND,
        }
    }
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    let count = u16::try_from(count).expect("batch larger than BATCH_COUNT_MAX; the roles cap batches below it");
    out.extend_from_slice(&count.to_le_bytes());
}

fn put_payload(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("payload larger than u32::MAX bytes");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A cursor over the input that turns running out of bytes into `DecodeError::Incomplete`.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.position.checked_add(len).ok_or(DecodeError::Invalid("length overflows"))?;
        if end > self.bytes.len() {
            return Err(DecodeError::Incomplete { needed: end, have: self.bytes.len() });
        }
        let taken = &self.bytes[self.position..end];
        self.position = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let mut raw = [0u8; 2];
        raw.copy_from_slice(self.take(2)?);
        Ok(u16::from_le_bytes(raw))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(raw))
    }

    /// A seq: 0 is never used by the protocol, so it is invalid on the wire.
    fn seq(&mut self) -> Result<u64, DecodeError> {
        match self.u64()? {
            0 => Err(DecodeError::Invalid("seq 0 is never used")),
            seq => Ok(seq),
        }
    }

    fn payload(&mut self) -> Result<&'a [u8], DecodeError> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4)?);
        let len = u32::from_le_bytes(raw) as usize;
        self.take(len)
    }

    /// Capacity to reserve for `count` items of at least `item_len` bytes: never more than the remaining bytes could
    /// hold, so a forged count cannot make us allocate much.
    fn capacity_for(&self, count: usize, item_len: usize) -> usize {
        count.min((self.bytes.len() - self.position) / item_len)
    }
}
