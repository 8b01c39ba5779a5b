//! The replica manager's operator protocol: a status query and run-time fault injection, sent to the RM's
//! `manager` address (the same socket as `manager::Message`, told apart by the first byte: [`MAGIC`] here,
//! `manager::MAGIC` there), with its codec and a small client.
//!
//! Deliberately not here: what the RM does with a request (the `node` module) or how an operator tool prints the
//! answer (`cineflix status` / `cineflix fault`).
//!
//! # Wire format, versions 1 and 2
//!
//! Little-endian integers. Every message starts `[MAGIC][version][tag]` and carries the requester's `nonce`, which
//! the reply repeats (a client matches replies to its retried requests by it). A replica manager answers in the
//! version of the request, so an operator tool of either version can ask a manager of this one; this build's
//! requests are version 2. Version 2 differs only in the `Status` reply, which appends the replica's own state:
//!
//! ```text
//! request  [1] Status        nonce:u64
//!          [2] InjectFault   nonce:u64, fault (replica-api's fault encoding)
//! reply    [1] Status        nonce:u64, replica_id:u16, phase:u8, phase_seq:u64, incarnation:u64, in_vote:u8,
//!                            replica_up:u8, delivered_up_to:u64, executed_up_to:u64, buffered:u64,
//!                            replacements:u64, reported_wrong:u32, results_sent:u64, replica_pid:u32
//!          [2] FaultSet      nonce:u64, incarnation:u64, fault
//!          [3] FaultFailed   nonce:u64, reason: u32 length + UTF-8
//! phase    0 Serving, 1 Starting, 2 Fetching{phase_seq}, 3 Restoring{phase_seq}, 4 CatchingUp
//! version 2 Status reply, after replica_pid:
//!                            has_state:u8, then if 1: state_seq:u64, digest: 32 bytes
//! ```
//!
//! `state_seq` and `digest` are what the replica itself answered to a replica-api `Status` just before the reply
//! (its last executed seq and its SHA-256 state digest), so that replicas at the same seq can be compared at a
//! glance; `has_state` is 0 when no replica runs or it did not answer in time.

use std::net::SocketAddr;
use std::time::Duration;

use manager::ReplicaPhase;
use replica_api::Fault;

/// First byte of every message of this protocol (`manager::MAGIC` is 0xCA).
pub const MAGIC: u8 = 0xC5;
/// The format version this build writes in requests (it reads and answers versions 1 and 2).
pub const VERSION: u8 = 2;
/// The oldest version this build reads.
pub const VERSION_MIN: u8 = 1;

const TAG_STATUS: u8 = 1;
const TAG_INJECT_FAULT: u8 = 2;
const TAG_FAULT_SET: u8 = 2;
const TAG_FAULT_FAILED: u8 = 3;

/// An operator's request to a replica manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusRequest {
    /// Where the RM and its replica stand.
    Status { nonce: u64 },
    /// Make the RM's current replica misbehave (`Fault::None` heals it). A replacement runs without it.
    InjectFault { nonce: u64, fault: Fault },
}

/// A replica manager's state, as reported to operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmStatus {
    pub replica_id: u16,
    pub phase: ReplicaPhase,
    pub incarnation: u64,
    /// The replica is in the vote (serving, process up).
    pub in_vote: bool,
    /// The current incarnation's process answered at start and has not exited.
    pub replica_up: bool,
    /// Highest seq delivered by the ordering member.
    pub delivered_up_to: u64,
    /// Highest seq the replica reported executed (or restored to).
    pub executed_up_to: u64,
    /// Entries delivered but not executed yet.
    pub buffered: u64,
    /// Replacements started (wrong results + crashes).
    pub replacements: u64,
    /// The front end's latest count of consecutive wrong results of this replica.
    pub reported_wrong: u32,
    /// Results sent to front ends.
    pub results_sent: u64,
    /// The operating-system process id of the current replica process (0: none running).
    pub replica_pid: u32,
    /// The replica's own answer to a `Status` asked just before this reply (`None`: no replica running, it did not
    /// answer in time, or the reply was version 1).
    pub replica_state: Option<ReplicaState>,
}

/// A replica's position and state digest, as the replica itself reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    /// The last seq the replica executed (or restored to).
    pub executed_up_to: u64,
    /// SHA-256 of its canonical snapshot at that seq.
    pub digest: [u8; 32],
}

impl ReplicaState {
    /// The digest's first `bytes` bytes in lowercase hex (the short form a table shows).
    pub fn digest_hex(&self, bytes: usize) -> String {
        self.digest.iter().take(bytes).map(|byte| format!("{byte:02x}")).collect()
    }
}

/// A replica manager's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusReply {
    Status {
        nonce: u64,
        status: RmStatus,
    },
    /// The replica of `incarnation` confirmed the fault.
    FaultSet {
        nonce: u64,
        incarnation: u64,
        fault: Fault,
    },
    /// The fault could not be set (no replica running, or it did not answer).
    FaultFailed {
        nonce: u64,
        reason: String,
    },
}

impl StatusReply {
    pub fn nonce(&self) -> u64 {
        match self {
            StatusReply::Status { nonce, .. }
            | StatusReply::FaultSet { nonce, .. }
            | StatusReply::FaultFailed { nonce, .. } => *nonce,
        }
    }
}

/// Why bytes are not a message of this protocol.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The first byte is not [`MAGIC`]: the bytes belong to another protocol (or none).
    #[error("not a replica manager status message")]
    NotStatus,
    /// A version this build does not speak.
    #[error("unsupported status protocol version {0}")]
    UnsupportedVersion(u8),
    /// The message ended early.
    #[error("status message ended early")]
    Truncated,
    /// Complete but not valid.
    #[error("invalid status message: {0}")]
    Invalid(&'static str),
}

impl StatusRequest {
    pub fn nonce(&self) -> u64 {
        match self {
            StatusRequest::Status { nonce } | StatusRequest::InjectFault { nonce, .. } => *nonce,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MAGIC, VERSION];
        match self {
            StatusRequest::Status { nonce } => {
                out.push(TAG_STATUS);
                out.extend_from_slice(&nonce.to_le_bytes());
            }
            StatusRequest::InjectFault { nonce, fault } => {
                out.push(TAG_INJECT_FAULT);
                out.extend_from_slice(&nonce.to_le_bytes());
                fault.encode_into(&mut out);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StatusRequest, DecodeError> {
        Self::decode_versioned(bytes).map(|(request, _)| request)
    }

    /// Decodes a request and says which version it was written in (the reply must use the same).
    pub fn decode_versioned(bytes: &[u8]) -> Result<(StatusRequest, u8), DecodeError> {
        let mut reader = Reader::new(bytes)?;
        let version = reader.version;
        let request = match reader.u8()? {
            TAG_STATUS => StatusRequest::Status { nonce: reader.u64()? },
            TAG_INJECT_FAULT => StatusRequest::InjectFault { nonce: reader.u64()?, fault: reader.fault()? },
            _ => return Err(DecodeError::Invalid("unknown request tag")),
        };
        reader.finish()?;
        Ok((request, version))
    }
}

fn phase_code(phase: ReplicaPhase) -> (u8, u64) {
    match phase {
        ReplicaPhase::Serving => (0, 0),
        ReplicaPhase::Starting => (1, 0),
        ReplicaPhase::Fetching { seq } => (2, seq),
        ReplicaPhase::Restoring { seq } => (3, seq),
        ReplicaPhase::CatchingUp => (4, 0),
    }
}

impl StatusReply {
    /// Encodes in this build's version ([`VERSION`]).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_version(VERSION)
    }

    /// Encodes in `version` (1 or 2): the version of the request being answered.
    pub fn encode_version(&self, version: u8) -> Vec<u8> {
        assert!((VERSION_MIN..=VERSION).contains(&version), "status protocol version {version} is not spoken here");
        let mut out = vec![MAGIC, version];
        match self {
            StatusReply::Status { nonce, status } => {
                out.push(TAG_STATUS);
                out.extend_from_slice(&nonce.to_le_bytes());
                out.extend_from_slice(&status.replica_id.to_le_bytes());
                let (phase, phase_seq) = phase_code(status.phase);
                out.push(phase);
                out.extend_from_slice(&phase_seq.to_le_bytes());
                out.extend_from_slice(&status.incarnation.to_le_bytes());
                out.push(u8::from(status.in_vote));
                out.push(u8::from(status.replica_up));
                for value in [status.delivered_up_to, status.executed_up_to, status.buffered, status.replacements] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
                out.extend_from_slice(&status.reported_wrong.to_le_bytes());
                out.extend_from_slice(&status.results_sent.to_le_bytes());
                out.extend_from_slice(&status.replica_pid.to_le_bytes());
                if version >= 2 {
                    match status.replica_state {
                        Some(state) => {
                            out.push(1);
                            out.extend_from_slice(&state.executed_up_to.to_le_bytes());
                            out.extend_from_slice(&state.digest);
                        }
                        None => out.push(0),
                    }
                }
            }
            StatusReply::FaultSet { nonce, incarnation, fault } => {
                out.push(TAG_FAULT_SET);
                out.extend_from_slice(&nonce.to_le_bytes());
                out.extend_from_slice(&incarnation.to_le_bytes());
                fault.encode_into(&mut out);
            }
            StatusReply::FaultFailed { nonce, reason } => {
                out.push(TAG_FAULT_FAILED);
                out.extend_from_slice(&nonce.to_le_bytes());
                let len = u32::try_from(reason.len()).expect("a short reason");
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(reason.as_bytes());
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StatusReply, DecodeError> {
        let mut reader = Reader::new(bytes)?;
        let version = reader.version;
        let reply = match reader.u8()? {
            TAG_STATUS => {
                let nonce = reader.u64()?;
                let replica_id = u16::from_le_bytes(reader.take(2)?.try_into().expect("2 bytes"));
                let phase_tag = reader.u8()?;
                let phase_seq = reader.u64()?;
                let phase = match phase_tag {
                    0 => ReplicaPhase::Serving,
                    1 => ReplicaPhase::Starting,
                    2 => ReplicaPhase::Fetching { seq: phase_seq },
                    3 => ReplicaPhase::Restoring { seq: phase_seq },
                    4 => ReplicaPhase::CatchingUp,
                    _ => return Err(DecodeError::Invalid("unknown phase")),
                };
                let incarnation = reader.u64()?;
                let in_vote = reader.flag()?;
                let replica_up = reader.flag()?;
                let status = RmStatus {
                    replica_id,
                    phase,
                    incarnation,
                    in_vote,
                    replica_up,
                    delivered_up_to: reader.u64()?,
                    executed_up_to: reader.u64()?,
                    buffered: reader.u64()?,
                    replacements: reader.u64()?,
                    reported_wrong: u32::from_le_bytes(reader.take(4)?.try_into().expect("4 bytes")),
                    results_sent: reader.u64()?,
                    replica_pid: u32::from_le_bytes(reader.take(4)?.try_into().expect("4 bytes")),
                    replica_state: None,
                };
                let status = if version >= 2 && reader.flag()? {
                    let executed_up_to = reader.u64()?;
                    let digest: [u8; 32] = reader.take(32)?.try_into().expect("32 bytes");
                    RmStatus { replica_state: Some(ReplicaState { executed_up_to, digest }), ..status }
                } else {
                    status
                };
                StatusReply::Status { nonce, status }
            }
            TAG_FAULT_SET => {
                StatusReply::FaultSet { nonce: reader.u64()?, incarnation: reader.u64()?, fault: reader.fault()? }
            }
            TAG_FAULT_FAILED => {
                let nonce = reader.u64()?;
                let len = u32::from_le_bytes(reader.take(4)?.try_into().expect("4 bytes")) as usize;
                let reason = std::str::from_utf8(reader.take(len)?).map_err(|_| DecodeError::Invalid("reason"))?;
                StatusReply::FaultFailed { nonce, reason: reason.to_string() }
            }
            _ => return Err(DecodeError::Invalid("unknown reply tag")),
        };
        reader.finish()?;
        Ok(reply)
    }
}

/// Whether `bytes` belong to this protocol (rather than `manager::Message`).
pub fn is_status_message(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MAGIC)
}

struct Reader<'a> {
    rest: &'a [u8],
    /// The message's version (checked to be one this build reads).
    version: u8,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Reader<'a>, DecodeError> {
        let mut reader = Reader { rest: bytes, version: 0 };
        if reader.u8()? != MAGIC {
            return Err(DecodeError::NotStatus);
        }
        let version = reader.u8()?;
        if !(VERSION_MIN..=VERSION).contains(&version) {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        reader.version = version;
        Ok(reader)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < len {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid("flag is not 0 or 1")),
        }
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn fault(&mut self) -> Result<Fault, DecodeError> {
        let (fault, used) = Fault::decode_prefix(self.rest).map_err(|error| match error {
            replica_api::DecodeError::Truncated => DecodeError::Truncated,
            _ => DecodeError::Invalid("unknown fault"),
        })?;
        self.rest = &self.rest[used..];
        Ok(fault)
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DecodeError::Invalid("trailing bytes")) }
    }
}

/// Why a client request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within the bound (the RM or replica is down, or the address is wrong).
    #[error("no answer from {addr} within {bound_ms} ms")]
    Timeout { addr: SocketAddr, bound_ms: u64 },
    /// The RM answered that the fault could not be set.
    #[error("the replica manager could not set the fault: {0}")]
    FaultFailed(String),
}

/// Sends `request` to the replica manager at `addr` (resending every 100 ms) until the matching reply arrives or
/// `bound` passes. Needs a tokio runtime.
pub async fn ask(addr: SocketAddr, request: StatusRequest, bound: Duration) -> Result<StatusReply, ClientError> {
    let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("literal address");
    let endpoint = udp::Endpoint::bind(local, udp::LinkFaults::default()).await?;
    let deadline = tokio::time::Instant::now() + bound;
    let bytes = request.encode();
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Err(ClientError::Timeout { addr, bound_ms: bound.as_millis() as u64 });
        }
        endpoint.send_to(&bytes, addr).await?;
        let resend_at = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Ok(received) = tokio::time::timeout_at(resend_at, endpoint.recv_from()).await {
            let (reply, from) = received?;
            if from != addr {
                continue;
            }
            if let Ok(reply) = StatusReply::decode(&reply)
                && reply.nonce() == request.nonce()
            {
                return Ok(reply);
            }
        }
    }
}

/// The status of the replica manager at `addr`.
pub async fn query_status(addr: SocketAddr, bound: Duration) -> Result<RmStatus, ClientError> {
    let nonce = fresh_nonce();
    match ask(addr, StatusRequest::Status { nonce }, bound).await? {
        StatusReply::Status { status, .. } => Ok(status),
        other => Err(ClientError::FaultFailed(format!("unexpected reply {other:?}"))),
    }
}

/// Asks a replica itself (replica-api `Status` at its control address, resent every 100 ms) for its position and
/// digest: what operators' tools compare across replicas, and what [`RmStatus::replica_state`] relays.
pub async fn query_replica(control: SocketAddr, bound: Duration) -> Result<ReplicaState, ClientError> {
    use replica_api::{FromReplica, ToReplica};
    let local: SocketAddr = if control.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("literal address");
    let endpoint = udp::Endpoint::bind(local, udp::LinkFaults::default()).await?;
    let deadline = tokio::time::Instant::now() + bound;
    let question = ToReplica::Status.encode();
    while tokio::time::Instant::now() < deadline {
        endpoint.send_to(&question, control).await?;
        let resend_at = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
        while let Ok(received) = tokio::time::timeout_at(resend_at, endpoint.recv_from()).await {
            let (reply, from) = received?;
            if from == control
                && let Ok(FromReplica::Status { next_expected, digest }) = FromReplica::decode(&reply)
            {
                return Ok(ReplicaState { executed_up_to: next_expected.saturating_sub(1), digest });
            }
        }
    }
    Err(ClientError::Timeout { addr: control, bound_ms: bound.as_millis() as u64 })
}

/// Injects `fault` into the current replica of the replica manager at `addr`; returns the replica's incarnation.
pub async fn inject_fault(addr: SocketAddr, fault: Fault, bound: Duration) -> Result<u64, ClientError> {
    let nonce = fresh_nonce();
    match ask(addr, StatusRequest::InjectFault { nonce, fault }, bound).await? {
        StatusReply::FaultSet { incarnation, .. } => Ok(incarnation),
        StatusReply::FaultFailed { reason, .. } => Err(ClientError::FaultFailed(reason)),
        other => Err(ClientError::FaultFailed(format!("unexpected reply {other:?}"))),
    }
}

/// A nonce unlikely to repeat across processes: the clock's nanoseconds mixed with the process id.
fn fresh_nonce() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_status(phase: ReplicaPhase) -> RmStatus {
        RmStatus {
            replica_id: 3,
            phase,
            incarnation: 2,
            in_vote: false,
            replica_up: true,
            delivered_up_to: 900,
            executed_up_to: 880,
            buffered: 20,
            replacements: 1,
            reported_wrong: 2,
            results_sent: 870,
            replica_pid: 4242,
            replica_state: Some(ReplicaState { executed_up_to: 880, digest: [0xAB; 32] }),
        }
    }

    #[test]
    fn requests_and_replies_round_trip() {
        for request in [
            StatusRequest::Status { nonce: 7 },
            StatusRequest::InjectFault { nonce: u64::MAX, fault: Fault::Lie },
            StatusRequest::InjectFault { nonce: 1, fault: Fault::CrashAfter { requests: 5 } },
            StatusRequest::InjectFault { nonce: 2, fault: Fault::Slow { delay_ms: 300 } },
        ] {
            assert_eq!(StatusRequest::decode(&request.encode()), Ok(request));
        }
        let phases = [
            ReplicaPhase::Serving,
            ReplicaPhase::Starting,
            ReplicaPhase::Fetching { seq: 44 },
            ReplicaPhase::Restoring { seq: 45 },
            ReplicaPhase::CatchingUp,
        ];
        let mut replies: Vec<StatusReply> =
            phases.into_iter().map(|phase| StatusReply::Status { nonce: 9, status: sample_status(phase) }).collect();
        replies.push(StatusReply::FaultSet { nonce: 3, incarnation: 4, fault: Fault::None });
        replies.push(StatusReply::FaultFailed { nonce: 5, reason: "no replica running".into() });
        for reply in replies {
            assert_eq!(StatusReply::decode(&reply.encode()), Ok(reply));
        }
    }

    #[test]
    fn a_version_1_request_gets_a_version_1_reply_without_the_replica_state() {
        // Bytes an operator tool of version 1 sends.
        let mut v1_request = vec![MAGIC, 1, TAG_STATUS];
        v1_request.extend_from_slice(&7u64.to_le_bytes());
        let (request, version) = StatusRequest::decode_versioned(&v1_request).expect("version 1 is read");
        assert_eq!((request, version), (StatusRequest::Status { nonce: 7 }, 1));
        let reply = StatusReply::Status { nonce: 7, status: sample_status(ReplicaPhase::Serving) };
        let v1 = reply.encode_version(version);
        let v2 = reply.encode();
        assert_eq!(&v1[..2], &[MAGIC, 1]);
        assert_eq!(v2.len(), v1.len() + 1 + 8 + 32, "version 2 appends the flag, the seq and the digest");
        assert_eq!(&v2[2..v1.len()], &v1[2..], "version 2 keeps version 1's fields as they were");
        let StatusReply::Status { status, .. } = StatusReply::decode(&v1).expect("decodes") else { panic!() };
        assert_eq!(status, RmStatus { replica_state: None, ..sample_status(ReplicaPhase::Serving) });
        // Without a replica state, version 2 carries just the flag.
        let none = StatusReply::Status {
            nonce: 1,
            status: RmStatus { replica_state: None, ..sample_status(ReplicaPhase::Starting) },
        };
        assert_eq!(StatusReply::decode(&none.encode()), Ok(none.clone()));
        assert_eq!(none.encode().len(), v1.len() + 1);
        assert_eq!(ReplicaState { executed_up_to: 1, digest: [0xAB; 32] }.digest_hex(4), "abababab");
    }

    #[test]
    fn other_protocols_and_damaged_messages_are_refused() {
        let manager_message =
            manager::Message::Membership(manager::Membership { replica_id: 1, incarnation: 1, in_vote: true }).encode();
        assert!(!is_status_message(&manager_message));
        assert_eq!(StatusRequest::decode(&manager_message), Err(DecodeError::NotStatus));
        let reply = StatusReply::Status { nonce: 1, status: sample_status(ReplicaPhase::Serving) }.encode();
        for cut in 0..reply.len() {
            assert!(StatusReply::decode(&reply[..cut]).is_err(), "prefix {cut} decoded");
        }
        let mut long = StatusRequest::Status { nonce: 1 }.encode();
        long.push(0);
        assert!(matches!(StatusRequest::decode(&long), Err(DecodeError::Invalid(_))));
        assert_eq!(StatusRequest::decode(&[MAGIC, 9, 1]), Err(DecodeError::UnsupportedVersion(9)));
    }
}
