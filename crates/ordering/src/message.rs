//! The ordering protocol's messages as plain data: what travels between submitters, the sequencer and members.
//!
//! Deliberately no behaviour here beyond small size helpers: the roles (`submitter`, `sequencer`, `member`) decide
//! what to send, and `codec` decides how the bytes look.

use bytes::Bytes;

/// Identity of one node of the ordering group (a front end, the sequencer, or a replica manager).
///
/// Which role a node plays is configuration: the sequencer knows its member list, members and submitters know the
/// sequencer's id. A `NodeId` never changes meaning within an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub u16);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// One protocol message: every message names its sender and the sequencer epoch the sender believes in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The sequencer incarnation this message belongs to; receivers drop messages from a lower epoch.
    pub epoch: u64,
    /// The node that sent this message (the shell may check it against the datagram's source address).
    pub from: NodeId,
    /// What the message says.
    pub body: Body,
}

/// The closed set of things the ordering protocol says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Submitter → sequencer: please order these requests. Also sent again, unchanged, as a retry.
    Submit {
        /// Every request id below this one is settled at the submitter (accepted or cancelled): the sequencer may
        /// forget its dedup entries below it and drops any later copy of them. Never decreases per submitter.
        low_water_request_id: u64,
        /// One or more requests, each with the submitter-unique `request_id`.
        requests: Vec<Request>,
    },
    /// Sequencer → submitter: these requests have been ordered (first time or a retry of an ordered one).
    Accepted {
        /// `(request_id, seq)` pairs.
        acks: Vec<Ack>,
    },
    /// Sequencer → members: ordered requests, multicast when new and unicast when retransmitted after a NAK.
    /// Entries are in increasing `seq` order within one message.
    Ordered {
        /// The ordered requests carried in this datagram (batching amortises the per-datagram cost).
        entries: Vec<OrderedEntry>,
    },
    /// Member → sequencer: negative acknowledgement, "please resend these seqs", with the delivered-up-to report
    /// piggybacked.
    Nak {
        /// Highest seq this member has delivered to its application (0 if none).
        delivered_up_to: u64,
        /// Missing seqs, as inclusive ranges in increasing order.
        ranges: Vec<SeqRange>,
    },
    /// Member → sequencer: explicit delivered-up-to report (sent when the member has nothing else to send).
    Report {
        /// Highest seq this member has delivered to its application (0 if none).
        delivered_up_to: u64,
    },
    /// Sequencer → members (and to senders of stale messages): heartbeat telling the highest seq ordered so far, so
    /// that a member which lost the tail of the stream learns of it and NAKs.
    Sync {
        /// Highest seq ordered so far (0 if none yet).
        high_seq: u64,
        /// The sequencer wants an explicit `Report` now (backstop for freeing history, or history is full).
        report_requested: bool,
    },
    /// Sequencer → member: the seqs you asked for were already freed from history; you need state transfer up to at
    /// least `first_available_seq - 1` and must restart with `Member::new_at`.
    Behind {
        /// Lowest seq the sequencer can still retransmit.
        first_available_seq: u64,
    },
}

/// One request inside a `Submit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Unique per submitter; the idempotency key of the request.
    pub request_id: u64,
    /// Opaque to the protocol (the front end puts an encoded booking request here).
    pub payload: Bytes,
}

/// One acknowledgement inside an `Accepted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ack {
    /// The submitter's request id.
    pub request_id: u64,
    /// The seq the sequencer gave it.
    pub seq: u64,
}

/// One ordered request: what members deliver to their application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderedEntry {
    /// Position in the total order; 1, 2, 3, … without gaps (0 is never used).
    pub seq: u64,
    /// The sequencer's clock when it ordered the request; non-decreasing in `seq`.
    pub timestamp_ms: u64,
    /// The submitter (front end) the request came from.
    pub submitter: NodeId,
    /// The submitter's request id.
    pub request_id: u64,
    /// Opaque request bytes.
    pub payload: Bytes,
}

/// An inclusive range of seqs, `first..=last`, `first <= last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// First seq in the range.
    pub first: u64,
    /// Last seq in the range (inclusive).
    pub last: u64,
}

impl SeqRange {
    /// Number of seqs in the range.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true for a valid range; present because clippy wants `is_empty` beside `len`.
    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }

    /// Whether `seq` lies in the range.
    pub fn contains(&self, seq: u64) -> bool {
        self.first <= seq && seq <= self.last
    }
}

/// Where a message produced by a role must go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// One node.
    Node(NodeId),
    /// The sequencer's members (the shell encodes once and sends to each member's address). The shipped shells send
    /// to `Sequencer::live_members` only (recomputed when `Sequencer::live_set_changes` moves): a member dropped for
    /// silence or removed gets its probes, addressed to it alone, and nothing else.
    Members,
}

/// A message a role asks its runtime to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub to: Destination,
    /// What to send.
    pub message: Message,
}
