//! Versioned binary encoding of this crate's `Message`s: one message per transport message (the `udp` endpoint
//! fragments and reassembles large ones, such as snapshots).
//!
//! Deliberately not here: chunking, sockets, compression. Decoding never panics: every length is checked against
//! the bytes present before anything is allocated.
//!
//! Format (all integers little-endian, fixed width):
//!
//! ```text
//! header : magic u8 = 0xCA | version u8 = 1 | kind u8
//! kind 1 Wrong      : replica_id u16 | seq u64 | request_id u64 | consecutive u32
//! kind 2 Suspected  : replica_id u16 | seq u64 | request_id u64
//! kind 3 Peer       : from u16 | from_incarnation u64 | body kind u8 | body
//!        body 1 Verdict         : suspect u16 | incarnation u64 | alive u8 (0 or 1)
//!        body 2 SnapshotRequest : seq u64
//!        body 3 SnapshotTooLate : seq u64 | fed_up_to u64
//!        body 4 Snapshot        : seq u64 | digest [32] | len u32 | bytes[len]
//!        body 5 SnapshotUnavailable : seq u64
//! kind 4 Result     : replica_id u16 | incarnation u64 | seq u64 | request_id u64 | len u32 | response[len]
//! kind 5 Membership : replica_id u16 | incarnation u64 | in_vote u8 (0 or 1)
//! kind 6 ResendResult: front_end u16 | request_id u64
//! ```
//!
//! A message fills its buffer exactly; trailing bytes are invalid. A future version bumps the version byte; a
//! decoder rejects versions it does not know.

use bytes::Bytes;

use crate::message::{Membership, Message, PeerBody, PeerMessage, Report, ResendResult, ResultMessage};

/// First byte of every encoded message; catches stray datagrams of other protocols (ordering uses 0xCF).
pub const MAGIC: u8 = 0xCA;
/// The codec version this crate writes and reads.
pub const VERSION: u8 = 1;

const KIND_WRONG: u8 = 1;
const KIND_SUSPECTED: u8 = 2;
const KIND_PEER: u8 = 3;
const KIND_RESULT: u8 = 4;
const KIND_MEMBERSHIP: u8 = 5;
const KIND_RESEND_RESULT: u8 = 6;

const BODY_VERDICT: u8 = 1;
const BODY_SNAPSHOT_REQUEST: u8 = 2;
const BODY_SNAPSHOT_TOO_LATE: u8 = 3;
const BODY_SNAPSHOT: u8 = 4;
/// Added after version 1 shipped, without a version bump: a decoder that predates it drops the message as invalid,
/// which its sender treats like silence (the sole-donor rule then never fires, the safe direction).
const BODY_SNAPSHOT_UNAVAILABLE: u8 = 5;

/// Why bytes are not a valid `Message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes ended before the message did: more bytes might make it valid (a fragment still missing).
    #[error("incomplete message: needed at least {needed} bytes, have {have}")]
    Incomplete {
        /// A lower bound on the full length.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// The first byte is not `MAGIC`: not a manager message at all.
    #[error("not a manager message (first byte {0:#04x})")]
    BadMagic(u8),
    /// A version this build does not speak.
    #[error("unsupported manager message version {0}")]
    UnsupportedVersion(u8),
    /// The bytes are complete but not a valid message.
    #[error("invalid manager message: {0}")]
    Invalid(&'static str),
}

impl Message {
    /// The encoding of this message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out` (lets a caller reuse one buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(MAGIC);
        out.push(VERSION);
        match self {
            Message::Report(Report::Wrong { replica_id, seq, request_id, consecutive }) => {
                out.push(KIND_WRONG);
                out.extend_from_slice(&replica_id.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&request_id.to_le_bytes());
                out.extend_from_slice(&consecutive.to_le_bytes());
            }
            Message::Report(Report::Suspected { replica_id, seq, request_id }) => {
                out.push(KIND_SUSPECTED);
                out.extend_from_slice(&replica_id.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&request_id.to_le_bytes());
            }
            Message::Peer(PeerMessage { from, from_incarnation, body }) => {
                out.push(KIND_PEER);
                out.extend_from_slice(&from.to_le_bytes());
                out.extend_from_slice(&from_incarnation.to_le_bytes());
                match body {
                    PeerBody::Verdict { suspect, incarnation, alive } => {
                        out.push(BODY_VERDICT);
                        out.extend_from_slice(&suspect.to_le_bytes());
                        out.extend_from_slice(&incarnation.to_le_bytes());
                        out.push(u8::from(*alive));
                    }
                    PeerBody::SnapshotRequest { seq } => {
                        out.push(BODY_SNAPSHOT_REQUEST);
                        out.extend_from_slice(&seq.to_le_bytes());
                    }
                    PeerBody::SnapshotTooLate { seq, fed_up_to } => {
                        out.push(BODY_SNAPSHOT_TOO_LATE);
                        out.extend_from_slice(&seq.to_le_bytes());
                        out.extend_from_slice(&fed_up_to.to_le_bytes());
                    }
                    PeerBody::Snapshot { seq, digest, bytes } => {
                        out.push(BODY_SNAPSHOT);
                        out.extend_from_slice(&seq.to_le_bytes());
                        out.extend_from_slice(digest);
                        put_bytes(out, bytes);
                    }
                    PeerBody::SnapshotUnavailable { seq } => {
                        out.push(BODY_SNAPSHOT_UNAVAILABLE);
                        out.extend_from_slice(&seq.to_le_bytes());
                    }
                }
            }
            Message::Result(ResultMessage { replica_id, incarnation, seq, request_id, response }) => {
                out.push(KIND_RESULT);
                out.extend_from_slice(&replica_id.to_le_bytes());
                out.extend_from_slice(&incarnation.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&request_id.to_le_bytes());
                put_bytes(out, response);
            }
            Message::Membership(Membership { replica_id, incarnation, in_vote }) => {
                out.push(KIND_MEMBERSHIP);
                out.extend_from_slice(&replica_id.to_le_bytes());
                out.extend_from_slice(&incarnation.to_le_bytes());
                out.push(u8::from(*in_vote));
            }
            Message::ResendResult(ResendResult { front_end, request_id }) => {
                out.push(KIND_RESEND_RESULT);
                out.extend_from_slice(&front_end.to_le_bytes());
                out.extend_from_slice(&request_id.to_le_bytes());
            }
        }
    }

    /// Decodes one whole message. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let mut reader = Reader { bytes, at: 0 };
        let magic = reader.u8()?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = reader.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let message = match reader.u8()? {
            KIND_WRONG => Message::Report(Report::Wrong {
                replica_id: reader.u16()?,
                seq: reader.u64()?,
                request_id: reader.u64()?,
                consecutive: reader.u32()?,
            }),
            KIND_SUSPECTED => Message::Report(Report::Suspected {
                replica_id: reader.u16()?,
                seq: reader.u64()?,
                request_id: reader.u64()?,
            }),
            KIND_PEER => {
                let from = reader.u16()?;
                let from_incarnation = reader.u64()?;
                let body = match reader.u8()? {
                    BODY_VERDICT => {
                        PeerBody::Verdict { suspect: reader.u16()?, incarnation: reader.u64()?, alive: reader.flag()? }
                    }
                    BODY_SNAPSHOT_REQUEST => PeerBody::SnapshotRequest { seq: reader.u64()? },
                    BODY_SNAPSHOT_TOO_LATE => {
                        PeerBody::SnapshotTooLate { seq: reader.u64()?, fed_up_to: reader.u64()? }
                    }
                    BODY_SNAPSHOT => {
                        let seq = reader.u64()?;
                        let digest: [u8; 32] = reader.take(32)?.try_into().expect("take(32) gives 32 bytes");
                        PeerBody::Snapshot { seq, digest, bytes: reader.bytes()? }
                    }
                    BODY_SNAPSHOT_UNAVAILABLE => PeerBody::SnapshotUnavailable { seq: reader.u64()? },
                    _ => return Err(DecodeError::Invalid("unknown peer message body")),
                };
                Message::Peer(PeerMessage { from, from_incarnation, body })
            }
            KIND_RESULT => Message::Result(ResultMessage {
                replica_id: reader.u16()?,
                incarnation: reader.u64()?,
                seq: reader.u64()?,
                request_id: reader.u64()?,
                response: reader.bytes()?,
            }),
            KIND_MEMBERSHIP => Message::Membership(Membership {
                replica_id: reader.u16()?,
                incarnation: reader.u64()?,
                in_vote: reader.flag()?,
            }),
            KIND_RESEND_RESULT => {
                Message::ResendResult(ResendResult { front_end: reader.u16()?, request_id: reader.u64()? })
            }
            _ => return Err(DecodeError::Invalid("unknown message kind")),
        };
        if reader.at != bytes.len() {
            return Err(DecodeError::Invalid("trailing bytes after the message"));
        }
        Ok(message)
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("a manager message field exceeds 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over a message being decoded.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let have = self.bytes.len();
        let end = self.at.checked_add(len).ok_or(DecodeError::Invalid("length overflows"))?;
        if end > have {
            return Err(DecodeError::Incomplete { needed: end, have });
        }
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid("a flag byte is neither 0 nor 1")),
        }
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }
}
