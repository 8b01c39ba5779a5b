//! Messages between a replica and its driver (the front end in standalone mode, a replica manager later), with
//! their versioned binary codec.
//!
//! This crate is pure: values and bytes only. It deliberately opens no socket, keeps no state and knows nothing of
//! retries; one encoded value travels as one `udp::Endpoint` message (the endpoint fragments large messages, so an
//! encoded value may be bigger than a datagram).
//!
//! # Semantics (go-back-N)
//!
//! The replica executes a job iff `job.id == next_expected` (then `next_expected += 1`), processing a batch's jobs in
//! order. A job with `id < next_expected` is a retry, answered from a bounded cache of recent results (at least the
//! last [`RESULT_CACHE_MIN`]) while it is still there. A job with `id > next_expected` is a gap and is not executed;
//! the driver resends from `next_expected`.
//!
//! # Wire format, version 1
//!
//! All integers are little-endian. `bytes` is a `u32` length followed by that many bytes. Every message starts with
//! the format version byte ([`WIRE_VERSION`]) and a tag byte; a decoder rejects an unknown version or tag, and
//! trailing bytes after a complete message.
//!
//! ```text
//! ToReplica
//!   [1][1] Execute  count:u32, then count × { id:u64, timestamp_ms:i64, request: bytes (booking::Request::encode) }
//!   [1][2] Status
//!   [1][3] Snapshot
//!   [1][4] Restore      next_expected:u64, snapshot: bytes (booking replica snapshot)
//!   [1][5] InjectFault  fault
//! FromReplica
//!   [1][1] Executed next_expected:u64, count:u32, then count × { id:u64, response: bytes (booking::Response::encode) }
//!   [1][2] Status   next_expected:u64, digest: 32 bytes
//!   [1][3] Snapshot executed_up_to:u64, snapshot: bytes (booking replica snapshot)
//!   [1][4] Restored next_expected:u64
//!   [1][5] FaultSet fault
//! fault
//!   [0] None   [1] Lie   [2] CrashAfter requests:u64   [3] Slow delay_ms:u64   [4] LieNext jobs:u64
//! ```
//!
//! New messages get new tags; an incompatible change bumps the version.
//!
//! # State transfer and fault injection
//!
//! `Snapshot` answers the replica's canonical snapshot (`booking::replica`: the three theatres' snapshots, whose
//! SHA-256 is the `Status` digest) taken after job `executed_up_to = next_expected - 1`. `Restore` replaces the
//! whole state with a snapshot, sets `next_expected`, and clears the result cache (its results belong to the old
//! state); restoring the same snapshot again is harmless. `InjectFault` changes how the replica misbehaves from the
//! next job on (tests and demonstrations; replication.md, "Fault injection").

use booking::Request;

/// The format version byte every message starts with.
pub const WIRE_VERSION: u8 = 1;

/// The replica keeps at least this many recent results to answer retried jobs.
pub const RESULT_CACHE_MIN: usize = 8192;

/// A driver should put at most this many jobs in one [`ToReplica::Execute`].
pub const BATCH_MAX: usize = 64;

const TAG_EXECUTE: u8 = 1;
const TAG_STATUS: u8 = 2;
const TAG_SNAPSHOT: u8 = 3;
const TAG_RESTORE: u8 = 4;
const TAG_INJECT_FAULT: u8 = 5;
const TAG_EXECUTED: u8 = 1;
const TAG_STATUS_REPLY: u8 = 2;
const TAG_SNAPSHOT_REPLY: u8 = 3;
const TAG_RESTORED: u8 = 4;
const TAG_FAULT_SET: u8 = 5;

const FAULT_NONE: u8 = 0;
const FAULT_LIE: u8 = 1;
const FAULT_CRASH_AFTER: u8 = 2;
const FAULT_SLOW: u8 = 3;
const FAULT_LIE_NEXT: u8 = 4;

/// One ordered request: its position in the replica's job sequence, the timestamp the sequencer (or the standalone
/// front end) stamped on it, and the client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Position in the job sequence; ids start at 1 and are contiguous.
    pub id: u64,
    /// Milliseconds since the Unix epoch; the replica derives "today" from it and never reads a clock.
    pub timestamp_ms: i64,
    pub request: Request,
}

/// From the driver to the replica's control address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToReplica {
    /// Execute jobs in id order, each exactly once. Ids start at 1 and are contiguous.
    Execute { jobs: Vec<Job> },
    /// Ask for the state digest and the id of the last executed job (status, liveness probes).
    Status,
    /// Ask for the canonical replica snapshot (state transfer).
    Snapshot,
    /// Replace the whole state with `snapshot`, expect job `next_expected` next, forget cached results.
    Restore { next_expected: u64, snapshot: Vec<u8> },
    /// Misbehave this way from now on (`Fault::None` heals).
    InjectFault(Fault),
}

/// How a replica misbehaves, for tests and demonstrations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Behaves correctly.
    #[default]
    None,
    /// Executes correctly (its state stays right) but answers each job with a plausible, always different, result.
    Lie,
    /// Exits abruptly after executing this many more jobs.
    CrashAfter { requests: u64 },
    /// Delays every `Executed` answer by this long.
    Slow { delay_ms: u64 },
    /// Answers the next `jobs` executed jobs like [`Fault::Lie`], then behaves (`Fault::None`): lets a test choose
    /// exactly how many consecutive wrong results a replica gives (the replacement rule counts three).
    LieNext { jobs: u64 },
}

/// Why a fault's text form does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a fault: use none, lie, lie-next=N, crash-after=N or slow=MS")]
pub struct FaultParseError(pub String);

impl std::str::FromStr for Fault {
    type Err = FaultParseError;

    /// `none`, `lie`, `lie-next=N`, `crash-after=N`, `slow=MS` (the command-line form).
    fn from_str(text: &str) -> Result<Fault, FaultParseError> {
        let error = || FaultParseError(text.to_string());
        let number = |value: &str| value.trim().parse::<u64>().map_err(|_| error());
        match text.trim().split_once('=') {
            None if text.trim() == "none" => Ok(Fault::None),
            None if text.trim() == "lie" => Ok(Fault::Lie),
            Some(("crash-after", value)) => Ok(Fault::CrashAfter { requests: number(value)? }),
            Some(("slow", value)) => Ok(Fault::Slow { delay_ms: number(value)? }),
            Some(("lie-next", value)) => Ok(Fault::LieNext { jobs: number(value)? }),
            _ => Err(error()),
        }
    }
}

impl std::fmt::Display for Fault {
    /// The form [`Fault::from_str`](std::str::FromStr) reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::None => write!(f, "none"),
            Fault::Lie => write!(f, "lie"),
            Fault::CrashAfter { requests } => write!(f, "crash-after={requests}"),
            Fault::Slow { delay_ms } => write!(f, "slow={delay_ms}"),
            Fault::LieNext { jobs } => write!(f, "lie-next={jobs}"),
        }
    }
}

impl Fault {
    /// Appends the encoding (module doc) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Fault::None => out.push(FAULT_NONE),
            Fault::Lie => out.push(FAULT_LIE),
            Fault::CrashAfter { requests } => {
                out.push(FAULT_CRASH_AFTER);
                out.extend_from_slice(&requests.to_le_bytes());
            }
            Fault::Slow { delay_ms } => {
                out.push(FAULT_SLOW);
                out.extend_from_slice(&delay_ms.to_le_bytes());
            }
            Fault::LieNext { jobs } => {
                out.push(FAULT_LIE_NEXT);
                out.extend_from_slice(&jobs.to_le_bytes());
            }
        }
    }

    /// Decodes a fault at the start of `bytes`; returns it and the bytes it used (for other protocols that embed
    /// one).
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Fault, usize), DecodeError> {
        let mut reader = Reader::new(bytes);
        let fault = reader.fault()?;
        Ok((fault, bytes.len() - reader.rest.len()))
    }
}

/// From the replica back to its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FromReplica {
    /// For every job of the request that has a result (executed now, or executed earlier and still cached),
    /// its id and `booking::Response::encode()` bytes; plus the next id the replica expects.
    Executed {
        next_expected: u64,
        results: Vec<(u64, Vec<u8>)>,
    },
    Status {
        next_expected: u64,
        digest: [u8; 32],
    },
    /// The canonical replica snapshot after job `executed_up_to` (= `next_expected - 1`).
    Snapshot {
        executed_up_to: u64,
        snapshot: Vec<u8>,
    },
    /// The state was replaced; the next job id is `next_expected`.
    Restored {
        next_expected: u64,
    },
    /// The fault now in force.
    FaultSet(Fault),
}

/// Why bytes are not a valid message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the message did (a cut message; never produced by a complete `Endpoint` message).
    #[error("message ended early")]
    Truncated,
    /// The first byte names a format version this build does not speak.
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    /// The bytes are complete but not a valid message.
    #[error("invalid message: {0}")]
    Invalid(&'static str),
    /// A job's embedded client request does not decode.
    #[error("invalid request in job {id}: {source}")]
    Request { id: u64, source: booking::DecodeError },
}

impl ToReplica {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out` (lets a caller reuse one buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(WIRE_VERSION);
        match self {
            ToReplica::Execute { jobs } => {
                out.push(TAG_EXECUTE);
                put_count(out, jobs.len());
                for job in jobs {
                    out.extend_from_slice(&job.id.to_le_bytes());
                    out.extend_from_slice(&job.timestamp_ms.to_le_bytes());
                    put_bytes(out, &job.request.encode());
                }
            }
            ToReplica::Status => out.push(TAG_STATUS),
            ToReplica::Snapshot => out.push(TAG_SNAPSHOT),
            ToReplica::Restore { next_expected, snapshot } => {
                out.push(TAG_RESTORE);
                out.extend_from_slice(&next_expected.to_le_bytes());
                put_bytes(out, snapshot);
            }
            ToReplica::InjectFault(fault) => {
                out.push(TAG_INJECT_FAULT);
                fault.encode_into(out);
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<ToReplica, DecodeError> {
        let mut reader = Reader::new(bytes);
        let message = match reader.header()? {
            TAG_EXECUTE => {
                // Smallest job: id, timestamp, empty request length.
                let count = reader.count(8 + 8 + 4)?;
                let mut jobs = Vec::with_capacity(count);
                for _ in 0..count {
                    let id = reader.u64()?;
                    let timestamp_ms = reader.i64()?;
                    let request =
                        Request::decode(reader.bytes()?).map_err(|source| DecodeError::Request { id, source })?;
                    jobs.push(Job { id, timestamp_ms, request });
                }
                ToReplica::Execute { jobs }
            }
            TAG_STATUS => ToReplica::Status,
            TAG_SNAPSHOT => ToReplica::Snapshot,
            TAG_RESTORE => {
                let next_expected = reader.u64()?;
                ToReplica::Restore { next_expected, snapshot: reader.bytes()?.to_vec() }
            }
            TAG_INJECT_FAULT => ToReplica::InjectFault(reader.fault()?),
            _ => return Err(DecodeError::Invalid("unknown ToReplica tag")),
        };
        reader.finish()?;
        Ok(message)
    }
}

impl FromReplica {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out` (lets a caller reuse one buffer).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(WIRE_VERSION);
        match self {
            FromReplica::Executed { next_expected, results } => {
                out.push(TAG_EXECUTED);
                out.extend_from_slice(&next_expected.to_le_bytes());
                put_count(out, results.len());
                for (id, response) in results {
                    out.extend_from_slice(&id.to_le_bytes());
                    put_bytes(out, response);
                }
            }
            FromReplica::Status { next_expected, digest } => {
                out.push(TAG_STATUS_REPLY);
                out.extend_from_slice(&next_expected.to_le_bytes());
                out.extend_from_slice(digest);
            }
            FromReplica::Snapshot { executed_up_to, snapshot } => {
                out.push(TAG_SNAPSHOT_REPLY);
                out.extend_from_slice(&executed_up_to.to_le_bytes());
                put_bytes(out, snapshot);
            }
            FromReplica::Restored { next_expected } => {
                out.push(TAG_RESTORED);
                out.extend_from_slice(&next_expected.to_le_bytes());
            }
            FromReplica::FaultSet(fault) => {
                out.push(TAG_FAULT_SET);
                fault.encode_into(out);
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<FromReplica, DecodeError> {
        let mut reader = Reader::new(bytes);
        let message = match reader.header()? {
            TAG_EXECUTED => {
                let next_expected = reader.u64()?;
                let count = reader.count(8 + 4)?;
                let mut results = Vec::with_capacity(count);
                for _ in 0..count {
                    let id = reader.u64()?;
                    results.push((id, reader.bytes()?.to_vec()));
                }
                FromReplica::Executed { next_expected, results }
            }
            TAG_STATUS_REPLY => {
                let next_expected = reader.u64()?;
                let digest: [u8; 32] = reader.take(32)?.try_into().expect("take(32) returns 32 bytes");
                FromReplica::Status { next_expected, digest }
            }
            TAG_SNAPSHOT_REPLY => {
                let executed_up_to = reader.u64()?;
                FromReplica::Snapshot { executed_up_to, snapshot: reader.bytes()?.to_vec() }
            }
            TAG_RESTORED => FromReplica::Restored { next_expected: reader.u64()? },
            TAG_FAULT_SET => FromReplica::FaultSet(reader.fault()?),
            _ => return Err(DecodeError::Invalid("unknown FromReplica tag")),
        };
        reader.finish()?;
        Ok(message)
    }
}

fn put_count(out: &mut Vec<u8>, count: usize) {
    let count = u32::try_from(count).expect("a message holds fewer than 2^32 items");
    out.extend_from_slice(&count.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_count(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// A cursor over a message being decoded.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
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

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// Version and tag; returns the tag.
    fn header(&mut self) -> Result<u8, DecodeError> {
        let version = self.u8()?;
        if version != WIRE_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        self.u8()
    }

    /// An item count, checked against the bytes left so that a forged count cannot make us allocate much.
    fn count(&mut self, item_min_bytes: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        if count.saturating_mul(item_min_bytes) > self.rest.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(count)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn fault(&mut self) -> Result<Fault, DecodeError> {
        Ok(match self.u8()? {
            FAULT_NONE => Fault::None,
            FAULT_LIE => Fault::Lie,
            FAULT_CRASH_AFTER => Fault::CrashAfter { requests: self.u64()? },
            FAULT_SLOW => Fault::Slow { delay_ms: self.u64()? },
            FAULT_LIE_NEXT => Fault::LieNext { jobs: self.u64()? },
            _ => return Err(DecodeError::Invalid("unknown fault")),
        })
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DecodeError::Invalid("trailing bytes after message")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use booking::Operation;

    fn request(user_id: &str, operation: Operation) -> Request {
        Request { user_id: user_id.to_string(), operation }
    }

    fn sample_jobs() -> Vec<Job> {
        vec![
            Job {
                id: 1,
                timestamp_ms: 1_795_000_000_000,
                request: request(
                    "ATWA0001",
                    Operation::AddMovieSlots {
                        movie_id: "ATWE281126".into(),
                        movie_name: "avatar".into(),
                        booking_capacity: 50,
                    },
                ),
            },
            Job {
                id: 2,
                timestamp_ms: -1,
                request: request(
                    "verc0042",
                    Operation::ExchangeTickets {
                        customer_id: "VERC0042".into(),
                        movie_id: "ATWE281126".into(),
                        movie_name: "Avatar".into(),
                        new_movie_id: "OUTM291126".into(),
                        new_movie_name: "Titanic".into(),
                        number_of_tickets: -3,
                    },
                ),
            },
            Job {
                id: u64::MAX,
                timestamp_ms: i64::MIN,
                request: request("", Operation::ListMovieShowsAvailability { movie_name: "Ünïcode ✓".into() }),
            },
        ]
    }

    #[test]
    fn to_replica_round_trips() {
        for message in [
            ToReplica::Status,
            ToReplica::Execute { jobs: vec![] },
            ToReplica::Execute { jobs: sample_jobs() },
            ToReplica::Snapshot,
            ToReplica::Restore { next_expected: 1, snapshot: vec![] },
            ToReplica::Restore { next_expected: 77, snapshot: vec![0x5A; 100_000] },
            ToReplica::InjectFault(Fault::None),
            ToReplica::InjectFault(Fault::Lie),
            ToReplica::InjectFault(Fault::CrashAfter { requests: 3 }),
            ToReplica::InjectFault(Fault::Slow { delay_ms: u64::MAX }),
        ] {
            let bytes = message.encode();
            assert_eq!(bytes[0], WIRE_VERSION);
            assert_eq!(ToReplica::decode(&bytes), Ok(message));
        }
    }

    #[test]
    fn from_replica_round_trips() {
        let big = vec![0xA5; 200_000];
        for message in [
            FromReplica::Status { next_expected: 1, digest: [7; 32] },
            FromReplica::Executed { next_expected: 5, results: vec![] },
            FromReplica::Executed { next_expected: u64::MAX, results: vec![(1, vec![]), (2, vec![0, 1, 2]), (3, big)] },
            FromReplica::Snapshot { executed_up_to: 0, snapshot: vec![] },
            FromReplica::Snapshot { executed_up_to: 41, snapshot: vec![1; 70_000] },
            FromReplica::Restored { next_expected: 42 },
            FromReplica::FaultSet(Fault::Lie),
            FromReplica::FaultSet(Fault::CrashAfter { requests: 0 }),
        ] {
            assert_eq!(FromReplica::decode(&message.encode()), Ok(message));
        }
    }

    /// The bytes of the version-1 messages that existed before state transfer: old peers keep understanding them.
    #[test]
    fn existing_encodings_are_unchanged() {
        assert_eq!(ToReplica::Status.encode(), [1, 2]);
        assert_eq!(ToReplica::Execute { jobs: vec![] }.encode(), [1, 1, 0, 0, 0, 0]);
        let mut status = vec![1, 2, 9, 0, 0, 0, 0, 0, 0, 0];
        status.extend_from_slice(&[3; 32]);
        assert_eq!(FromReplica::Status { next_expected: 9, digest: [3; 32] }.encode(), status);
        assert_eq!(
            FromReplica::Executed { next_expected: 2, results: vec![(1, vec![7])] }.encode(),
            [1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7]
        );
    }

    #[test]
    fn fault_text_round_trips_and_rejects_nonsense() {
        for fault in [
            Fault::None,
            Fault::Lie,
            Fault::CrashAfter { requests: 12 },
            Fault::Slow { delay_ms: 250 },
            Fault::LieNext { jobs: 3 },
        ] {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        assert_eq!("crash-after=0".parse::<Fault>(), Ok(Fault::CrashAfter { requests: 0 }));
        assert_eq!("lie-next=2".parse::<Fault>(), Ok(Fault::LieNext { jobs: 2 }));
        for bad in ["", "lies", "crash-after", "crash-after=x", "slow=-1", "slow=5ms", "none=1", "lie-next", "lie=2"] {
            assert!(bad.parse::<Fault>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn every_strict_prefix_is_truncated() {
        let to = ToReplica::Execute { jobs: sample_jobs() }.encode();
        let from = FromReplica::Executed { next_expected: 9, results: vec![(1, vec![1, 2, 3])] }.encode();
        for cut in 0..to.len() {
            assert!(ToReplica::decode(&to[..cut]).is_err(), "prefix {cut} of ToReplica decoded");
        }
        for cut in 0..from.len() {
            assert_eq!(FromReplica::decode(&from[..cut]), Err(DecodeError::Truncated), "prefix {cut}");
        }
        let restore = ToReplica::Restore { next_expected: 3, snapshot: vec![1, 2, 3] }.encode();
        let fault = ToReplica::InjectFault(Fault::Slow { delay_ms: 9 }).encode();
        let snapshot = FromReplica::Snapshot { executed_up_to: 3, snapshot: vec![4, 5] }.encode();
        for (bytes, to) in [(&restore, true), (&fault, true), (&snapshot, false)] {
            for cut in 2..bytes.len() {
                let result =
                    if to { ToReplica::decode(&bytes[..cut]).err() } else { FromReplica::decode(&bytes[..cut]).err() };
                assert_eq!(result, Some(DecodeError::Truncated), "prefix {cut} of {bytes:?}");
            }
        }
        assert!(matches!(ToReplica::decode(&[WIRE_VERSION, TAG_INJECT_FAULT, 9]), Err(DecodeError::Invalid(_))));
    }

    #[test]
    fn rejects_version_tag_and_trailing_bytes() {
        assert_eq!(ToReplica::decode(&[2, TAG_STATUS]), Err(DecodeError::UnsupportedVersion(2)));
        assert_eq!(FromReplica::decode(&[0]), Err(DecodeError::UnsupportedVersion(0)));
        assert!(matches!(ToReplica::decode(&[WIRE_VERSION, 9]), Err(DecodeError::Invalid(_))));
        assert!(matches!(FromReplica::decode(&[WIRE_VERSION, 0]), Err(DecodeError::Invalid(_))));
        let mut status = ToReplica::Status.encode();
        status.push(0);
        assert!(matches!(ToReplica::decode(&status), Err(DecodeError::Invalid(_))));
    }

    #[test]
    fn forged_huge_count_is_rejected_without_allocating() {
        let mut bytes = vec![WIRE_VERSION, TAG_EXECUTE];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(ToReplica::decode(&bytes), Err(DecodeError::Truncated));
        let mut bytes = vec![WIRE_VERSION, TAG_EXECUTED];
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(FromReplica::decode(&bytes), Err(DecodeError::Truncated));
    }

    #[test]
    fn bad_embedded_request_names_the_job() {
        let mut bytes = vec![WIRE_VERSION, TAG_EXECUTE];
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&42u64.to_le_bytes());
        bytes.extend_from_slice(&0i64.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.push(0xFF);
        assert!(matches!(ToReplica::decode(&bytes), Err(DecodeError::Request { id: 42, .. })));
    }

    mod random {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = ToReplica::decode(&bytes);
                let _ = FromReplica::decode(&bytes);
            }

            /// Random bytes behind a valid header reach the deeper decoders more often.
            #[test]
            fn decode_never_panics_past_the_header(tag in 0u8..7, body in proptest::collection::vec(any::<u8>(), 0..512)) {
                let mut bytes = vec![WIRE_VERSION, tag];
                bytes.extend_from_slice(&body);
                let _ = ToReplica::decode(&bytes);
                let _ = FromReplica::decode(&bytes);
            }

            #[test]
            fn executed_round_trips(next_expected in any::<u64>(),
                                    results in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..16)) {
                let message = FromReplica::Executed { next_expected, results };
                prop_assert_eq!(FromReplica::decode(&message.encode()), Ok(message));
            }

            #[test]
            fn state_transfer_and_faults_round_trip(seq in any::<u64>(), snapshot in proptest::collection::vec(any::<u8>(), 0..256),
                                                    kind in 0u8..5, amount in any::<u64>()) {
                let fault = match kind {
                    0 => Fault::None,
                    1 => Fault::Lie,
                    2 => Fault::CrashAfter { requests: amount },
                    3 => Fault::Slow { delay_ms: amount },
                    _ => Fault::LieNext { jobs: amount },
                };
                for message in [
                    ToReplica::Restore { next_expected: seq, snapshot: snapshot.clone() },
                    ToReplica::InjectFault(fault),
                ] {
                    prop_assert_eq!(ToReplica::decode(&message.encode()), Ok(message));
                }
                for message in [
                    FromReplica::Snapshot { executed_up_to: seq, snapshot },
                    FromReplica::Restored { next_expected: seq },
                    FromReplica::FaultSet(fault),
                ] {
                    prop_assert_eq!(FromReplica::decode(&message.encode()), Ok(message));
                }
            }
        }
    }
}
