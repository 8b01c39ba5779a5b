//! The envelope of every message between the servers of one replica (theatre servers and the control task's RPC
//! endpoint): which call it is, who made it, and an opaque payload.
//!
//! Pure bytes in, values out. It deliberately knows nothing of retries or dedup (that is `rpc`) nor of what the
//! payloads mean beyond their [`Op`] (that is `theatre_server` and `control`).
//!
//! # Format, version 1
//!
//! ```text
//! u8 version = 1, u8 kind (1 call, 2 reply), u8 op, u64 incarnation, u64 request_id, payload (rest of the message)
//! ```
//! Integers little-endian. `incarnation` identifies the caller's process lifetime (it grows across restarts), and
//! `request_id` one call of that caller; a reply echoes both. Payloads by op:
//! ```text
//! Peer      call: PeerRequest::encode()      reply: PeerResponse::encode()
//! Run       call: u64 job_id, i64 timestamp_ms, Request::encode()   reply: Response::encode()
//! Snapshot  call: empty                      reply: Theatre::snapshot()
//! ```

use thiserror::Error;

pub const ENVELOPE_VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_BYTES: usize = 3 + 8 + 8;

/// Call or reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Call = 1,
    Reply = 2,
}

/// What a call asks of a theatre server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A coordinator's `PeerRequest` to a theatre.
    Peer = 1,
    /// A job routed by the control task to its home theatre server in another process.
    Run = 2,
    /// The theatre's canonical snapshot (for the replica digest).
    Snapshot = 3,
}

/// A decoded envelope borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub kind: Kind,
    pub op: Op,
    pub incarnation: u64,
    pub request_id: u64,
    pub payload: &'a [u8],
}

/// Why a message is not an envelope.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Shorter than the header.
    #[error("message shorter than the envelope header")]
    Truncated,
    /// Unknown version, kind or op.
    #[error("invalid envelope: {0}")]
    Invalid(&'static str),
}

impl<'a> Envelope<'a> {
    /// Writes header and payload into `out` (cleared first, so a caller can reuse one buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(HEADER_BYTES + self.payload.len());
        out.push(ENVELOPE_VERSION);
        out.push(self.kind as u8);
        out.push(self.op as u8);
        out.extend_from_slice(&self.incarnation.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(self.payload);
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn decode(bytes: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        if bytes.len() < HEADER_BYTES {
            return Err(EnvelopeError::Truncated);
        }
        if bytes[0] != ENVELOPE_VERSION {
            return Err(EnvelopeError::Invalid("unknown envelope version"));
        }
        let kind = match bytes[1] {
            1 => Kind::Call,
            2 => Kind::Reply,
            _ => return Err(EnvelopeError::Invalid("unknown kind")),
        };
        let op = match bytes[2] {
            1 => Op::Peer,
            2 => Op::Run,
            3 => Op::Snapshot,
            _ => return Err(EnvelopeError::Invalid("unknown op")),
        };
        let incarnation = u64::from_le_bytes(bytes[3..11].try_into().expect("8 bytes"));
        let request_id = u64::from_le_bytes(bytes[11..19].try_into().expect("8 bytes"));
        Ok(Envelope { kind, op, incarnation, request_id, payload: &bytes[HEADER_BYTES..] })
    }
}

/// The payload of an [`Op::Run`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunCall<'a> {
    pub job_id: u64,
    pub timestamp_ms: i64,
    /// `booking::Request::encode()` bytes.
    pub request: &'a [u8],
}

impl<'a> RunCall<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.request.len());
        out.extend_from_slice(&self.job_id.to_le_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out.extend_from_slice(self.request);
        out
    }

    pub fn decode(bytes: &'a [u8]) -> Result<RunCall<'a>, EnvelopeError> {
        if bytes.len() < 16 {
            return Err(EnvelopeError::Truncated);
        }
        Ok(RunCall {
            job_id: u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes")),
            timestamp_ms: i64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
            request: &bytes[16..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips() {
        for (kind, op, payload) in [
            (Kind::Call, Op::Peer, &b"abc"[..]),
            (Kind::Reply, Op::Run, &b""[..]),
            (Kind::Reply, Op::Snapshot, &[0u8; 70_000][..]),
        ] {
            let envelope = Envelope { kind, op, incarnation: u64::MAX - 3, request_id: 77, payload };
            let bytes = envelope.encode();
            assert_eq!(bytes.len(), HEADER_BYTES + payload.len());
            assert_eq!(Envelope::decode(&bytes), Ok(envelope));
        }
    }

    #[test]
    fn rejects_short_and_unknown() {
        let good = Envelope { kind: Kind::Call, op: Op::Peer, incarnation: 1, request_id: 2, payload: b"" }.encode();
        for cut in 0..HEADER_BYTES {
            assert_eq!(Envelope::decode(&good[..cut]), Err(EnvelopeError::Truncated));
        }
        for (index, value) in [(0, 2u8), (1, 0), (1, 3), (2, 0), (2, 4)] {
            let mut bad = good.clone();
            bad[index] = value;
            assert!(matches!(Envelope::decode(&bad), Err(EnvelopeError::Invalid(_))), "byte {index} = {value}");
        }
    }

    #[test]
    fn run_call_round_trips() {
        let call = RunCall { job_id: 9, timestamp_ms: -5, request: b"request bytes" };
        assert_eq!(RunCall::decode(&call.encode()), Ok(call));
        assert_eq!(RunCall::decode(&[0; 15]), Err(EnvelopeError::Truncated));
    }
}
