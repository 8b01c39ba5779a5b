//! What replica managers, front ends and the manager core say to each other, as plain data.
//!
//! Deliberately no behaviour here: `manager` decides what to send and `codec` decides how the bytes look. Messages
//! between a manager and *its own replica process* are not here either: they are `Command`s the shell turns into
//! the replica-api protocol.

use bytes::Bytes;

/// A replica's identity, equal to its replica manager's id in the configuration (the same number the front end's
/// voter uses, `voting::ReplicaId`).
pub type ReplicaId = u16;

/// Every message of this crate's wire protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Front end → every replica manager: a replica misbehaved in the vote.
    Report(Report),
    /// Replica manager → replica manager.
    Peer(PeerMessage),
    /// Replica manager → the front end that submitted the request: its replica's result.
    Result(ResultMessage),
    /// Replica manager → every front end: its replica left or re-entered the vote.
    Membership(Membership),
    /// Front end → a replica manager whose result for a still undecided request it lacks: send it again (the
    /// first copy may have been lost). Answered from the manager's cache of recently sent results; ignored when
    /// the result is not there (not executed yet: it is sent when it is; or evicted, or from an earlier incarnation).
    ResendResult(ResendResult),
}

/// A front end's request to re-send a result (`Message::ResendResult`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResendResult {
    /// The asking front end's ordering node id (request ids are unique per front end only).
    pub front_end: u16,
    /// The request whose result is missing (the voter's round).
    pub request_id: u64,
}

/// What a front end's voter tells every replica manager about a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// `replica_id`'s result for the request at `seq` differed from the agreed one; `consecutive` is its count of
    /// consecutive wrong results at the front end (a correct result resets it).
    Wrong {
        /// The replica that answered wrongly.
        replica_id: ReplicaId,
        /// The seq of the request it answered wrongly (used to recognise reports about an earlier incarnation).
        seq: u64,
        /// The request, for the audit log.
        request_id: u64,
        /// Consecutive wrong results so far.
        consecutive: u32,
    },
    /// `replica_id`'s result for the request at `seq` did not arrive within the suspicion deadline.
    Suspected {
        /// The replica suspected of having crashed.
        replica_id: ReplicaId,
        /// The seq of the request it did not answer.
        seq: u64,
        /// The request, for the audit log.
        request_id: u64,
    },
}

/// One message between replica managers: every one names its sender and the sender's replica incarnation, so the
/// incarnation a manager announces spreads with every message it sends (incarnations only grow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerMessage {
    /// The sending replica manager.
    pub from: ReplicaId,
    /// The sender's own replica's current incarnation (authoritative: only a replica's manager changes it).
    pub from_incarnation: u64,
    /// What the message says.
    pub body: PeerBody,
}

/// The closed set of things replica managers say to each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerBody {
    /// The sender checked `suspect` (believed to be at `incarnation`) and found it alive or not. Only `suspect`'s
    /// own manager acts on verdicts, and only on those naming the incarnation it runs now, so a verdict about a
    /// replaced replica never counts against its successor.
    Verdict {
        /// The replica checked.
        suspect: ReplicaId,
        /// The incarnation of `suspect` the checker believed it was checking.
        incarnation: u64,
        /// Whether the suspect answered the check in time.
        alive: bool,
    },
    /// A recovering manager asks for a snapshot of the sender's replica taken exactly after executing `seq`.
    SnapshotRequest {
        /// The snapshot point.
        seq: u64,
    },
    /// The asked manager's replica has already been fed past `seq`; it cannot snapshot there.
    SnapshotTooLate {
        /// The refused snapshot point.
        seq: u64,
        /// The highest seq the sender's replica has been fed.
        fed_up_to: u64,
    },
    /// A snapshot of the sender's replica exactly after executing `seq`.
    Snapshot {
        /// The snapshot point.
        seq: u64,
        /// SHA-256 of `bytes` (booking's replica digest).
        digest: [u8; 32],
        /// The canonical replica snapshot (`booking::Replica::snapshot`).
        bytes: Bytes,
    },
    /// The sender's own replica is not serving (being replaced, or its process is gone): it cannot donate a
    /// snapshot at `seq`. Lets a recovering manager tell "every other replica is recovering too" from silence
    /// (see the sole-donor rule in the crate doc).
    SnapshotUnavailable {
        /// The snapshot point asked for.
        seq: u64,
    },
}

/// One replica's result for one ordered request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultMessage {
    /// The replica that computed it.
    pub replica_id: ReplicaId,
    /// That replica's incarnation (a front end drops results from an incarnation older than one it knows).
    pub incarnation: u64,
    /// The request's seq.
    pub seq: u64,
    /// The front end's request id (the voter's round).
    pub request_id: u64,
    /// `booking::Response::encode()` bytes, voted on as they are.
    pub response: Bytes,
}

/// A replica's place in the vote.
///
/// A front end keeps the highest `(incarnation, in_vote)` it has seen per replica (ordered by incarnation, then
/// `false < true`) and applies a message only when it is higher: managers repeat their membership periodically, and
/// re-applying "in the vote" would reset the voter's count of consecutive wrong results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The replica.
    pub replica_id: ReplicaId,
    /// Its incarnation.
    pub incarnation: u64,
    /// `false`: being replaced, exclude it from the vote; `true`: caught up, count it again.
    pub in_vote: bool,
}

impl Membership {
    /// The order in which a front end applies memberships of one replica.
    pub fn key(&self) -> (u64, bool) {
        (self.incarnation, self.in_vote)
    }
}
