//! The wire codec: round trips for every message kind, "incomplete" versus "invalid", and property tests that
//! arbitrary messages round-trip and arbitrary bytes never panic the decoder.

use bytes::Bytes;
use ordering::{Ack, Body, DecodeError, Message, NodeId, OrderedEntry, Request, SeqRange};
use proptest::prelude::*;

fn message(body: Body) -> Message {
    Message { epoch: 7, from: NodeId(3), body }
}

fn samples() -> Vec<Message> {
    vec![
        message(Body::Submit {
            low_water_request_id: 40,
            requests: vec![
                Request { request_id: 41, payload: Bytes::from_static(b"book ATWA101124") },
                Request { request_id: 43, payload: Bytes::new() },
            ],
        }),
        message(Body::Submit { low_water_request_id: 0, requests: vec![] }),
        message(Body::Accepted { acks: vec![Ack { request_id: 41, seq: 9 }, Ack { request_id: 43, seq: 10 }] }),
        message(Body::Ordered {
            entries: vec![
                OrderedEntry {
                    seq: 9,
                    timestamp_ms: 1_700_000_000_000,
                    submitter: NodeId(100),
                    request_id: 41,
                    payload: Bytes::from_static(b"x"),
                },
                OrderedEntry {
                    seq: 10,
                    timestamp_ms: 1_700_000_000_000,
                    submitter: NodeId(101),
                    request_id: 1,
                    payload: Bytes::new(),
                },
            ],
        }),
        message(Body::Nak {
            delivered_up_to: 8,
            ranges: vec![SeqRange { first: 9, last: 9 }, SeqRange { first: 11, last: 20 }],
        }),
        message(Body::Report { delivered_up_to: u64::MAX }),
        message(Body::Sync { high_seq: 0, report_requested: false }),
        message(Body::Sync { high_seq: 12, report_requested: true }),
        message(Body::Behind { first_available_seq: 5 }),
    ]
}

fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode(&mut out);
    out
}

#[test]
fn every_kind_round_trips_and_encoded_len_is_exact() {
    for message in samples() {
        let bytes = encode(&message);
        assert_eq!(bytes.len(), message.encoded_len(), "{message:?}");
        assert_eq!(Message::decode(&bytes), Ok(message.clone()));
        assert_eq!(Message::decode_shared(&Bytes::from(bytes)), Ok(message));
    }
}

#[test]
fn header_layout_is_magic_version_kind_epoch_sender() {
    let bytes = encode(&message(Body::Report { delivered_up_to: 1 }));
    assert_eq!(&bytes[..3], &[ordering::MAGIC, ordering::VERSION, 5]);
    assert_eq!(&bytes[3..11], &7u64.to_le_bytes());
    assert_eq!(&bytes[11..13], &3u16.to_le_bytes());
}

#[test]
fn every_strict_prefix_is_incomplete_not_invalid() {
    for message in samples() {
        let bytes = encode(&message);
        for len in 0..bytes.len() {
            let error = Message::decode(&bytes[..len]).expect_err("a prefix is not a message");
            assert!(error.is_incomplete(), "prefix {len} of {message:?} gave {error}");
        }
    }
}

fn check_invalid(bytes: Vec<u8>, expected: DecodeError) {
    assert_eq!(Message::decode(&bytes), Err(expected));
}

#[test]
fn broken_messages_are_invalid() {
    let report = encode(&message(Body::Report { delivered_up_to: 1 }));
    let with = |index: usize, value: u8| {
        let mut bytes = report.clone();
        bytes[index] = value;
        bytes
    };
    check_invalid(with(0, 0x00), DecodeError::BadMagic(0));
    check_invalid(with(1, 2), DecodeError::UnsupportedVersion(2));
    check_invalid(with(2, 99), DecodeError::UnknownKind(99));
    let mut trailing = report.clone();
    trailing.push(0);
    check_invalid(trailing, DecodeError::TrailingBytes(1));

    let mut sync = encode(&message(Body::Sync { high_seq: 3, report_requested: true }));
    *sync.last_mut().unwrap() = 2;
    check_invalid(sync, DecodeError::Invalid("report_requested is neither 0 nor 1"));

    let mut behind = encode(&message(Body::Behind { first_available_seq: 1 }));
    behind[13..21].copy_from_slice(&0u64.to_le_bytes());
    check_invalid(behind, DecodeError::Invalid("seq 0 is never used"));

    let mut nak = encode(&message(Body::Nak { delivered_up_to: 0, ranges: vec![SeqRange { first: 5, last: 6 }] }));
    nak[23..31].copy_from_slice(&7u64.to_le_bytes());
    check_invalid(nak, DecodeError::Invalid("nak range with first above last"));

    let entry =
        |seq| OrderedEntry { seq, timestamp_ms: 0, submitter: NodeId(1), request_id: seq, payload: Bytes::new() };
    let mut ordered = encode(&message(Body::Ordered { entries: vec![entry(4), entry(5)] }));
    // Second entry's seq starts after the header, the count and the first entry (30 bytes).
    ordered[13 + 2 + 30..13 + 2 + 38].copy_from_slice(&4u64.to_le_bytes());
    check_invalid(ordered, DecodeError::Invalid("ordered entries not in increasing seq order"));
}

#[test]
fn a_forged_huge_count_is_incomplete_without_a_huge_allocation() {
    let mut bytes = encode(&message(Body::Accepted { acks: vec![] }));
    bytes[13..15].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(Message::decode(&bytes).unwrap_err().is_incomplete());
    let mut bytes = encode(&message(Body::Submit {
        low_water_request_id: 0,
        requests: vec![Request { request_id: 1, payload: Bytes::new() }],
    }));
    let payload_len_at = 13 + 8 + 2 + 8;
    bytes[payload_len_at..payload_len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Message::decode(&bytes).unwrap_err().is_incomplete());
}

fn payload() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (any::<u64>(), proptest::collection::vec((any::<u64>(), payload()), 0..6)).prop_map(|(low_water, requests)| {
            Body::Submit {
                low_water_request_id: low_water,
                requests: requests.into_iter().map(|(request_id, payload)| Request { request_id, payload }).collect(),
            }
        }),
        proptest::collection::vec((any::<u64>(), 1..u64::MAX), 0..6).prop_map(|acks| Body::Accepted {
            acks: acks.into_iter().map(|(request_id, seq)| Ack { request_id, seq }).collect()
        }),
        (1..u64::MAX / 2, proptest::collection::vec((any::<u64>(), any::<u16>(), any::<u64>(), payload()), 0..6))
            .prop_map(|(first_seq, entries)| Body::Ordered {
                entries: entries
                    .into_iter()
                    .enumerate()
                    .map(|(offset, (timestamp_ms, submitter, request_id, payload))| OrderedEntry {
                        seq: first_seq + offset as u64,
                        timestamp_ms,
                        submitter: NodeId(submitter),
                        request_id,
                        payload,
                    })
                    .collect()
            }),
        (any::<u64>(), proptest::collection::vec((0..1000u64, 0..1000u64), 0..6)).prop_map(|(delivered, gaps)| {
            let mut ranges = Vec::new();
            let mut next = 1;
            for (skip, len) in gaps {
                let first = next + skip;
                ranges.push(SeqRange { first, last: first + len });
                next = first + len + 1;
            }
            Body::Nak { delivered_up_to: delivered, ranges }
        }),
        any::<u64>().prop_map(|delivered_up_to| Body::Report { delivered_up_to }),
        (any::<u64>(), any::<bool>())
            .prop_map(|(high_seq, report_requested)| Body::Sync { high_seq, report_requested }),
        (1..u64::MAX).prop_map(|first_available_seq| Body::Behind { first_available_seq }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_messages_round_trip(epoch in any::<u64>(), from in any::<u16>(), body in body()) {
        let message = Message { epoch, from: NodeId(from), body };
        let bytes = encode(&message);
        prop_assert_eq!(bytes.len(), message.encoded_len());
        prop_assert_eq!(Message::decode(&bytes), Ok(message.clone()));
        prop_assert_eq!(Message::decode_shared(&Bytes::from(bytes)), Ok(message));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn corrupted_messages_never_panic_and_valid_results_re_encode(
        body in body(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
    ) {
        let mut bytes = encode(&Message { epoch: 1, from: NodeId(1), body });
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        if let Ok(decoded) = Message::decode(&bytes) {
            prop_assert_eq!(encode(&decoded), bytes);
        }
    }
}
