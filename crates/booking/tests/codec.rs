//! Encodings: pinned bytes for a few values (so an independent implementation can check
//! itself against them), round trips, and decoders on truncated or hostile input.

use booking::peer::{HeldBooking, MovedTo};
use booking::{
    Body, DecodeError, MovedBooking, Movie, MovieId, Operation, PeerRequest, PeerResponse, Request, Response,
    ResultCode, ScheduleEntry, Show, Slot, UserId,
};

fn movie_id(text: &str) -> MovieId {
    MovieId::parse(text).unwrap()
}

#[test]
fn pinned_response_bytes() {
    assert_eq!(Response::rejected(ResultCode::SoldOut).encode(), [1, 9, 0]);
    assert_eq!(Response::ok(Body::Empty).encode(), [1, 0, 0]);
    let shows = Response::ok(Body::Shows(vec![Show {
        movie_id: movie_id("OUTE281126"),
        movie: Movie::Titanic,
        capacity: 5,
        available: 3,
    }]));
    #[rustfmt::skip]
    let expected = [
        1, 0, 2, 0, 0, 0, 1,      // version, OK, Shows, one show
        1, 2, 0x07, 0xEA, 11, 28, // OUT, E, 2026-11-28
        2, 0, 0, 0, 5, 0, 0, 0, 3, // Titanic, capacity 5, available 3
    ];
    assert_eq!(shows.encode(), expected);
    let removed = Response::ok(Body::Removed(vec![
        MovedBooking { customer_id: "ATWC0001".into(), tickets: 2, new_movie_id: None },
        MovedBooking { customer_id: "VERC0002".into(), tickets: 1, new_movie_id: Some(movie_id("ATWM010100")) },
    ]));
    let mut expected = vec![1, 0, 1, 0, 0, 0, 2];
    expected.extend([0, 0, 0, 8]);
    expected.extend(b"ATWC0001");
    expected.extend([0, 0, 0, 2, 0]);
    expected.extend([0, 0, 0, 8]);
    expected.extend(b"VERC0002");
    expected.extend([0, 0, 0, 1, 1, 0, 0, 0x07, 0xD0, 1, 1]);
    assert_eq!(removed.encode(), expected);
}

#[test]
fn pinned_request_bytes() {
    let request = Request {
        user_id: "atwC0001".into(),
        operation: Operation::BookMovieTickets {
            customer_id: "ATWC0001".into(),
            movie_id: "x".into(),
            movie_name: "".into(),
            number_of_tickets: -2,
        },
    };
    let mut expected = vec![1, 0, 0, 0, 8];
    expected.extend(b"atwC0001");
    expected.push(3);
    expected.extend([0, 0, 0, 8]);
    expected.extend(b"ATWC0001");
    expected.extend([0, 0, 0, 1, b'x', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe]);
    assert_eq!(request.encode(), expected);
    assert_eq!(Request::decode(&expected), Ok(request));
}

fn sample_responses() -> Vec<Response> {
    vec![
        Response::rejected(ResultCode::NotEnoughTickets),
        Response::ok(Body::Schedule(vec![
            ScheduleEntry { movie_id: movie_id("VERA311299"), movie: Movie::Avengers, tickets: 10_000 },
            ScheduleEntry { movie_id: movie_id("ATWM290228"), movie: Movie::Avatar, tickets: 1 },
        ])),
        Response::ok(Body::Removed(vec![MovedBooking {
            customer_id: "Ünïcode".into(),
            tickets: u32::MAX,
            new_movie_id: Some(movie_id("OUTA010126")),
        }])),
        Response::ok(Body::Shows(vec![])),
    ]
}

#[test]
fn responses_round_trip_and_every_prefix_is_refused() {
    for response in sample_responses() {
        let bytes = response.encode();
        assert_eq!(Response::decode(&bytes), Ok(response.clone()));
        for len in 0..bytes.len() {
            assert!(Response::decode(&bytes[..len]).is_err(), "prefix {len} of {response:?}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Response::decode(&longer), Err(DecodeError::Invalid("trailing bytes")));
    }
}

#[test]
fn hostile_inputs_are_refused() {
    assert_eq!(Response::decode(&[2, 0, 0]), Err(DecodeError::Invalid("unknown format version")));
    assert_eq!(Response::decode(&[1, 14, 0]), Err(DecodeError::Invalid("unknown result code")));
    assert_eq!(Response::decode(&[1, 0, 4]), Err(DecodeError::Invalid("unknown response body tag")));
    // A count promising four billion shows in a few bytes allocates nothing.
    assert_eq!(Response::decode(&[1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0]), Err(DecodeError::Truncated));
    // 30 Feb.
    let bad_date = [1, 0, 3, 0, 0, 0, 1, 0, 0, 0x07, 0xEA, 2, 30, 0, 0, 0, 0, 1];
    assert_eq!(Response::decode(&bad_date), Err(DecodeError::Invalid("not a calendar date")));
    // A string length beyond the input.
    assert_eq!(Request::decode(&[1, 0x7f, 0xff, 0xff, 0xff, b'a']), Err(DecodeError::Truncated));
    // Invalid UTF-8.
    assert_eq!(
        Request::decode(&[1, 0, 0, 0, 1, 0xff, 2, 0, 0, 0, 0]),
        Err(DecodeError::Invalid("string is not UTF-8"))
    );
}

fn sample_peer_messages() -> (Vec<PeerRequest>, Vec<PeerResponse>) {
    let customer = UserId::parse("OUTC0042").unwrap();
    let slot = Slot::new(Movie::Avatar, movie_id("ATWE281126"));
    let other = Slot::new(Movie::Titanic, movie_id("VERM291126"));
    let today = movie_id("ATWM241126").date;
    let held = HeldBooking { customer, slot: other, tickets: 3 };
    let requests = vec![
        PeerRequest::ListShows { movie: Movie::Avengers, from: today },
        PeerRequest::CustomerBookings {
            customers: vec![customer, UserId::parse("ATWC9999").unwrap()],
            from: booking::Date::MIN,
            to: booking::Date::MAX,
            include: Some(slot),
        },
        PeerRequest::CustomerBookings { customers: vec![], from: today, to: today, include: None },
        PeerRequest::Book { customer, slot, tickets: 2, today, outside_slots_elsewhere: 1, same_show_elsewhere: true },
        PeerRequest::Exchange {
            customer,
            old: slot,
            new: other,
            tickets: 1,
            today,
            outside_slots_elsewhere: 0,
            same_show_elsewhere: false,
        },
        PeerRequest::Cancel { customer, slot, tickets: 7, today },
        PeerRequest::AddSlot { slot, capacity: 10_000 },
        PeerRequest::PrepareRemoval { slot, today },
        PeerRequest::RemoveSlot { slot, today, elsewhere: vec![held, held] },
    ];
    let responses = vec![
        PeerResponse::Result(ResultCode::SameSlotOtherTheatre),
        PeerResponse::Shows(vec![Show { movie_id: slot.movie_id, movie: Movie::Avatar, capacity: 9, available: 0 }]),
        PeerResponse::Bookings(vec![held]),
        PeerResponse::Customers(vec![customer]),
        PeerResponse::Removed(vec![
            MovedTo { customer, tickets: 2, new_movie_id: None },
            MovedTo { customer, tickets: 1, new_movie_id: Some(other.movie_id) },
        ]),
    ];
    (requests, responses)
}

#[test]
fn peer_messages_round_trip() {
    let (requests, responses) = sample_peer_messages();
    for request in requests {
        let bytes = request.encode();
        assert_eq!(PeerRequest::decode(&bytes), Ok(request.clone()));
        for len in 0..bytes.len() {
            assert!(PeerRequest::decode(&bytes[..len]).is_err(), "prefix {len} of {request:?}");
        }
    }
    for response in responses {
        let bytes = response.encode();
        assert_eq!(PeerResponse::decode(&bytes), Ok(response.clone()));
        for len in 0..bytes.len() {
            assert!(PeerResponse::decode(&bytes[..len]).is_err(), "prefix {len} of {response:?}");
        }
    }
}

#[test]
fn ids_display_canonically() {
    assert_eq!(UserId::parse("verc0042").unwrap().to_string(), "VERC0042");
    assert_eq!(movie_id("oute281126").to_string(), "OUTE281126");
    assert_eq!(movie_id("oute281126").date.to_string(), "2026-11-28");
    assert_eq!(movie_id("ATWM010100").date.to_string(), "2000-01-01");
    assert_eq!(Movie::parse("AVENGERS").unwrap().to_string(), "Avengers");
    assert_eq!(Slot::new(Movie::Avatar, movie_id("ATWA020326")).to_string(), "Avatar at ATWA020326");
}
