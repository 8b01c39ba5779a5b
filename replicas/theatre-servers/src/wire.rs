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
//! Relay     call: u8 origin, u8 hop count, hops × { u8 theatre, bytes PeerRequest::encode() },
//!                 then one `bytes` PeerResponse::encode() per hop already served
//!           reply: one `bytes` PeerResponse::encode() per hop, in hop order
//! ```
//! `bytes` is a u32 length and that many bytes; theatres are `TheatreCode::index` values. A relay call visits its
//! hops in order: each hop answers its own read, appends the reply and passes the call on (the same incarnation and
//! request id) to the next hop; the last one sends the reply to the origin theatre server.
//!
//! The version byte is not bumped for new ops (`Relay` came after the first three): the servers of one replica always
//! run the same `cineflix-replica` binary (its replica manager starts them together), so they never meet an op they
//! do not know. Servers of different builds in one replica are not supported.

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
    /// Reads at several theatres in one pass: see [`RelayCall`].
    Relay = 4,
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
            4 => Op::Relay,
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

/// Most hops of one relay call: one per theatre.
pub const RELAY_HOPS_MAX: usize = 3;

/// The payload of an [`Op::Relay`] call: reads for several theatres, answered one after the other as the call
/// travels from hop to hop (the module doc has the format). Three messages instead of four for reads at two
/// other theatres, because the reply to the first read travels on with the call instead of back to the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayCall<'a> {
    /// The theatre whose server made the call and gets the reply.
    pub origin: u8,
    /// (theatre, `PeerRequest::encode()` bytes), in the order they are visited.
    pub hops: Vec<(u8, &'a [u8])>,
    /// `PeerResponse::encode()` bytes of the hops already served, in hop order.
    pub replies: Vec<&'a [u8]>,
}

impl<'a> RelayCall<'a> {
    /// Appends the payload to `out`, each hop's request written by `write_request(hop, out)` (no copy of it).
    pub fn encode_fresh(
        origin: u8,
        theatres: &[u8],
        out: &mut Vec<u8>,
        mut write_request: impl FnMut(usize, &mut Vec<u8>),
    ) {
        out.push(origin);
        out.push(theatres.len() as u8);
        for (hop, theatre) in theatres.iter().enumerate() {
            out.push(*theatre);
            put_bytes_with(out, |out| write_request(hop, out));
        }
    }

    /// Appends the payload to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.origin);
        out.push(self.hops.len() as u8);
        for (theatre, request) in &self.hops {
            out.push(*theatre);
            put_bytes(out, request);
        }
        for reply in &self.replies {
            put_bytes(out, reply);
        }
    }

    /// Decodes and checks the shape: 1..=[`RELAY_HOPS_MAX`] hops, fewer replies than hops (a call that has been
    /// to every hop is a reply, not a call), nothing after the last reply.
    pub fn decode(bytes: &'a [u8]) -> Result<RelayCall<'a>, EnvelopeError> {
        let mut reader = Reader { bytes };
        let origin = reader.u8()?;
        let hop_count = reader.u8()? as usize;
        if hop_count == 0 || hop_count > RELAY_HOPS_MAX {
            return Err(EnvelopeError::Invalid("relay hop count"));
        }
        let mut hops = Vec::with_capacity(hop_count);
        for _ in 0..hop_count {
            hops.push((reader.u8()?, reader.bytes()?));
        }
        let mut replies = Vec::with_capacity(hop_count);
        while !reader.bytes.is_empty() {
            if replies.len() + 1 >= hop_count {
                return Err(EnvelopeError::Invalid("relay call with a reply for every hop"));
            }
            replies.push(reader.bytes()?);
        }
        Ok(RelayCall { origin, hops, replies })
    }
}

/// Appends the payload of a relay reply (every hop's reply, in hop order) to `out`.
pub fn encode_relay_reply(replies: &[&[u8]], out: &mut Vec<u8>) {
    for reply in replies {
        put_bytes(out, reply);
    }
}

/// The hops' replies in a relay reply payload; exactly `hops` of them.
pub fn decode_relay_reply(bytes: &[u8], hops: usize) -> Result<Vec<&[u8]>, EnvelopeError> {
    let mut reader = Reader { bytes };
    let mut replies = Vec::with_capacity(hops);
    while !reader.bytes.is_empty() {
        replies.push(reader.bytes()?);
    }
    if replies.len() != hops {
        return Err(EnvelopeError::Invalid("relay reply with a wrong number of replies"));
    }
    Ok(replies)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_bytes_with(out, |out| out.extend_from_slice(bytes));
}

/// Writes a u32 length placeholder, lets `write` append the bytes, then fills in their length.
fn put_bytes_with(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let len = u32::try_from(out.len() - at - 4).expect("a relay read or reply is far below 4 GiB");
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

/// Reads the relay payload's fields, failing on truncation.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, EnvelopeError> {
        let (&first, rest) = self.bytes.split_first().ok_or(EnvelopeError::Truncated)?;
        self.bytes = rest;
        Ok(first)
    }

    fn bytes(&mut self) -> Result<&'a [u8], EnvelopeError> {
        let (len_bytes, rest) = self.bytes.split_at_checked(4).ok_or(EnvelopeError::Truncated)?;
        let len = usize::try_from(u32::from_le_bytes(len_bytes.try_into().expect("4 bytes")))
            .map_err(|_| EnvelopeError::Truncated)?;
        let (value, rest) = rest.split_at_checked(len).ok_or(EnvelopeError::Truncated)?;
        self.bytes = rest;
        Ok(value)
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
        for (index, value) in [(0, 2u8), (1, 0), (1, 3), (2, 0), (2, 5)] {
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

    #[test]
    fn relay_call_round_trips_hop_by_hop() {
        let mut fresh = Vec::new();
        let requests: [&[u8]; 2] = [b"read at OUT", b"read at VER"];
        RelayCall::encode_fresh(0, &[1, 2], &mut fresh, |hop, out| out.extend_from_slice(requests[hop]));
        let first = RelayCall::decode(&fresh).unwrap();
        assert_eq!(first, RelayCall { origin: 0, hops: vec![(1, requests[0]), (2, requests[1])], replies: vec![] });
        let mut passed_on = Vec::new();
        RelayCall { replies: vec![b"OUT's answer"], ..first.clone() }.encode_into(&mut passed_on);
        let second = RelayCall::decode(&passed_on).unwrap();
        assert_eq!(second.replies, vec![&b"OUT's answer"[..]]);
        assert_eq!(second.hops, first.hops);
        let mut reply = Vec::new();
        encode_relay_reply(&[b"OUT's answer", b""], &mut reply);
        assert_eq!(decode_relay_reply(&reply, 2), Ok(vec![&b"OUT's answer"[..], &b""[..]]));
        assert!(decode_relay_reply(&reply, 3).is_err());
        assert!(decode_relay_reply(&reply[..reply.len() - 1], 2).is_err());
    }

    #[test]
    fn relay_call_rejects_bad_shapes() {
        let mut good = Vec::new();
        RelayCall::encode_fresh(2, &[0, 1], &mut good, |_, out| out.extend_from_slice(b"r"));
        for cut in 0..good.len() {
            assert!(RelayCall::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut no_hops = good.clone();
        no_hops[1] = 0;
        assert_eq!(RelayCall::decode(&no_hops), Err(EnvelopeError::Invalid("relay hop count")));
        let mut too_many = Vec::new();
        RelayCall::encode_fresh(0, &[0, 1, 2, 0], &mut too_many, |_, _| {});
        assert_eq!(RelayCall::decode(&too_many), Err(EnvelopeError::Invalid("relay hop count")));
        // A reply for every hop (or more) is not a call any more.
        let mut done = Vec::new();
        RelayCall { origin: 2, hops: vec![(0, b"r"), (1, b"r")], replies: vec![b"a", b"b"] }.encode_into(&mut done);
        assert!(RelayCall::decode(&done).is_err());
    }
}
