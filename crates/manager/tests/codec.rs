//! Codec tests: every message round-trips, pinned bytes for one message, and hostile input never panics.

use bytes::Bytes;
use manager::{DecodeError, Membership, Message, PeerBody, PeerMessage, Report, ResendResult, ResultMessage};
use proptest::prelude::*;

fn peer(body: PeerBody) -> Message {
    Message::Peer(PeerMessage { from: 2, from_incarnation: 7, body })
}

fn examples() -> Vec<Message> {
    vec![
        Message::Report(Report::Wrong { replica_id: 3, seq: 41, request_id: 9, consecutive: 3 }),
        Message::Report(Report::Suspected { replica_id: 1, seq: 42, request_id: 10 }),
        peer(PeerBody::Verdict { suspect: 1, incarnation: 2, alive: false }),
        peer(PeerBody::Verdict { suspect: 4, incarnation: 1, alive: true }),
        peer(PeerBody::SnapshotRequest { seq: 100 }),
        peer(PeerBody::SnapshotTooLate { seq: 100, fed_up_to: 130 }),
        peer(PeerBody::Snapshot { seq: 100, digest: [7; 32], bytes: Bytes::from_static(b"CFRP\x01snapshot") }),
        peer(PeerBody::Snapshot { seq: 0, digest: [0; 32], bytes: Bytes::new() }),
        peer(PeerBody::SnapshotUnavailable { seq: 77 }),
        Message::Result(ResultMessage {
            replica_id: 2,
            incarnation: 1,
            seq: 5,
            request_id: 77,
            response: Bytes::from_static(&[1, 0, 0]),
        }),
        Message::Membership(Membership { replica_id: 3, incarnation: 4, in_vote: true }),
        Message::ResendResult(ResendResult { front_end: 100, request_id: 1_700_000_000_000_001 }),
        Message::ResendResult(ResendResult { front_end: 0, request_id: 0 }),
    ]
}

#[test]
fn every_example_round_trips() {
    for message in examples() {
        let bytes = message.encode();
        assert_eq!(Message::decode(&bytes), Ok(message.clone()), "{message:?}");
    }
}

#[test]
fn pinned_bytes_of_a_wrong_report() {
    let bytes = Message::Report(Report::Wrong { replica_id: 3, seq: 0x0102, request_id: 9, consecutive: 3 }).encode();
    let mut expected = vec![0xCA, 1, 1, 3, 0];
    expected.extend_from_slice(&0x0102u64.to_le_bytes());
    expected.extend_from_slice(&9u64.to_le_bytes());
    expected.extend_from_slice(&3u32.to_le_bytes());
    assert_eq!(bytes, expected);
}

/// The kinds that existed before `ResendResult` keep their bytes (kind 4 pinned here, kind 1 above).
#[test]
fn pinned_bytes_of_a_result() {
    let result =
        ResultMessage { replica_id: 2, incarnation: 3, seq: 5, request_id: 77, response: Bytes::from_static(b"ok") };
    let mut expected = vec![0xCA, 1, 4, 2, 0];
    expected.extend_from_slice(&3u64.to_le_bytes());
    expected.extend_from_slice(&5u64.to_le_bytes());
    expected.extend_from_slice(&77u64.to_le_bytes());
    expected.extend_from_slice(&2u32.to_le_bytes());
    expected.extend_from_slice(b"ok");
    assert_eq!(Message::Result(result).encode(), expected);
}

#[test]
fn pinned_bytes_of_a_resend_request() {
    let bytes = Message::ResendResult(ResendResult { front_end: 0x0164, request_id: 0x0102 }).encode();
    let mut expected = vec![0xCA, 1, 6, 0x64, 0x01];
    expected.extend_from_slice(&0x0102u64.to_le_bytes());
    assert_eq!(bytes, expected);
}

#[test]
fn every_proper_prefix_is_incomplete_and_trailing_bytes_are_invalid() {
    for message in examples() {
        let bytes = message.encode();
        for len in 0..bytes.len() {
            assert!(
                matches!(Message::decode(&bytes[..len]), Err(DecodeError::Incomplete { .. })),
                "prefix {len} of {message:?}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Message::decode(&longer), Err(DecodeError::Invalid(_))), "{message:?}");
    }
}

#[test]
fn foreign_magic_unknown_version_kind_and_flag_are_rejected() {
    let bytes = Message::Membership(Membership { replica_id: 1, incarnation: 1, in_vote: false }).encode();
    let mut foreign = bytes.clone();
    foreign[0] = 0xCF;
    assert_eq!(Message::decode(&foreign), Err(DecodeError::BadMagic(0xCF)));
    let mut future = bytes.clone();
    future[1] = 2;
    assert_eq!(Message::decode(&future), Err(DecodeError::UnsupportedVersion(2)));
    let mut kind = bytes.clone();
    kind[2] = 99;
    assert!(matches!(Message::decode(&kind), Err(DecodeError::Invalid(_))));
    let mut flag = bytes;
    *flag.last_mut().expect("not empty") = 2;
    assert!(matches!(Message::decode(&flag), Err(DecodeError::Invalid(_))));
}

fn message() -> impl Strategy<Value = Message> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from);
    let body = prop_oneof![
        (any::<u16>(), any::<u64>(), any::<bool>()).prop_map(|(suspect, incarnation, alive)| PeerBody::Verdict {
            suspect,
            incarnation,
            alive
        }),
        any::<u64>().prop_map(|seq| PeerBody::SnapshotRequest { seq }),
        (any::<u64>(), any::<u64>()).prop_map(|(seq, fed_up_to)| PeerBody::SnapshotTooLate { seq, fed_up_to }),
        any::<u64>().prop_map(|seq| PeerBody::SnapshotUnavailable { seq }),
        (any::<u64>(), any::<[u8; 32]>(), bytes()).prop_map(|(seq, digest, bytes)| PeerBody::Snapshot {
            seq,
            digest,
            bytes
        }),
    ];
    prop_oneof![
        (any::<u16>(), any::<u64>(), any::<u64>(), any::<u32>()).prop_map(
            |(replica_id, seq, request_id, consecutive)| Message::Report(Report::Wrong {
                replica_id,
                seq,
                request_id,
                consecutive
            })
        ),
        (any::<u16>(), any::<u64>(), any::<u64>()).prop_map(|(replica_id, seq, request_id)| Message::Report(
            Report::Suspected { replica_id, seq, request_id }
        )),
        (any::<u16>(), any::<u64>(), body).prop_map(|(from, from_incarnation, body)| Message::Peer(PeerMessage {
            from,
            from_incarnation,
            body
        })),
        (any::<u16>(), any::<u64>(), any::<u64>(), any::<u64>(), bytes()).prop_map(
            |(replica_id, incarnation, seq, request_id, response)| Message::Result(ResultMessage {
                replica_id,
                incarnation,
                seq,
                request_id,
                response
            })
        ),
        (any::<u16>(), any::<u64>(), any::<bool>()).prop_map(|(replica_id, incarnation, in_vote)| {
            Message::Membership(Membership { replica_id, incarnation, in_vote })
        }),
        (any::<u16>(), any::<u64>())
            .prop_map(|(front_end, request_id)| { Message::ResendResult(ResendResult { front_end, request_id }) }),
    ]
}

proptest! {
    #[test]
    fn random_messages_round_trip(message in message()) {
        prop_assert_eq!(Message::decode(&message.encode()), Ok(message));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(message in message(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = message.encode();
        let index = at % bytes.len();
        bytes[index] = byte;
        if let Ok(decoded) = Message::decode(&bytes) {
            // Whatever decodes must encode back to the same bytes: the format has one encoding per value.
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }
}
