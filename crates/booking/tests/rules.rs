//! The rules of booking.md, one feature per test, through `Replica::execute`.
//!
//! Dates are offsets from TODAY (Tuesday 24 Nov 2026): `mid("ATWM", 5)` is ATWM291126,
//! the Sunday of the same ISO week; offset 6 is the next Monday.

mod support;

use booking::{Body, MovedBooking, Movie, MovieId, Operation, Replica, Request, ResultCode};
use support::{World, mid, noon_ms};

use ResultCode::*;

#[test]
fn invalid_user_ids() {
    let mut world = World::new();
    let cases = [
        ("ATWA123", InvalidId),   // too short
        ("ATWA12345", InvalidId), // too long
        ("", InvalidId),          // empty
        ("XYZA1234", InvalidId),  // unknown theatre
        ("ATWB1234", InvalidId),  // unknown role letter
        ("ATWA12a4", InvalidId),  // not a digit
        (" ATWA1234", InvalidId), // whitespace is not trimmed
        ("ATWÄ1234", InvalidId),  // non-ASCII
        ("ATWA1234", Ok),         // admin
        ("verc0042", Ok),         // any letter case
    ];
    for (user, expected) in cases {
        assert_eq!(world.list_as(user, "Avatar").code, expected, "caller {user:?}");
    }
}

#[test]
fn invalid_customer_ids() {
    let mut world = World::new();
    world.slot(&mid("ATWM", 1), "Avatar", 10);
    let slot = mid("ATWM", 1);
    let cases = [
        ("ATWC001", InvalidId),
        ("QQQC0001", InvalidId),
        ("ATWX0001", InvalidId),
        ("ATWA0002", InvalidId), // an admin ID is not a customer ID
        ("ATWC0001", Ok),
        ("atwc0002", Ok),
    ];
    for (customer, expected) in cases {
        assert_eq!(world.book_as("ATWA0001", customer, &slot, "Avatar", 1), expected, "customer {customer:?}");
        assert_eq!(world.schedule_as("ATWA0001", customer).code, expected, "schedule of {customer:?}");
    }
}

#[test]
fn invalid_movie_ids_and_dates() {
    let mut world = World::new();
    let cases = [
        ("ATWM2411", InvalidId),      // too short
        ("ATWM24112026", InvalidId),  // four-digit year
        ("ABCM241126", InvalidId),    // unknown theatre
        ("ATWX241126", InvalidId),    // unknown slot letter
        ("ATWM24112a", InvalidId),    // not a digit
        ("ATWM300226", InvalidId),    // 30 Feb
        ("ATWM310426", InvalidId),    // 31 Apr
        ("ATWM290227", InvalidId),    // 2027 is no leap year
        ("ATWM001126", InvalidId),    // day 0
        ("ATWM241326", InvalidId),    // month 13
        ("ATWM290228", SlotNotFound), // 2028 is a leap year: a valid date
        ("ATWM010100", SlotNotFound), // 1 Jan 2000
        ("ATWM311299", SlotNotFound), // 31 Dec 2099
        ("atwm241126", SlotNotFound), // any letter case
    ];
    for (movie_id, expected) in cases {
        assert_eq!(world.book("ATWC0001", movie_id, "Avatar", 1), expected, "movie ID {movie_id:?}");
    }
    let date = |text: &str| MovieId::parse(text).map(|id| id.date.to_string());
    assert_eq!(date("ATWM010100").as_deref(), Some("2000-01-01"));
    assert_eq!(date("ATWM311299").as_deref(), Some("2099-12-31"));
    assert_eq!(date("ATWM290228").as_deref(), Some("2028-02-29"));
}

#[test]
fn unknown_movies_and_check_order() {
    let mut world = World::new();
    let slot = mid("ATWM", 1);
    // Movie names before movie IDs; IDs before quantities.
    assert_eq!(world.book("ATWC0001", &slot, "Avatar 2", 1), UnknownMovie);
    assert_eq!(world.book("ATWC0001", "garbage", "Star Wars", 0), UnknownMovie);
    assert_eq!(world.book("ATWC0001", "garbage", "Avatar", 0), InvalidId);
    assert_eq!(world.book("ATWC0001", &slot, "Avatar", 0), InvalidQuantity);
    assert_eq!(world.book("ATWC0001", &slot, "Avatar", 1), SlotNotFound);
    assert_eq!(world.list_as("ATWC0001", "").code, UnknownMovie);
    assert_eq!(world.list_as("ATWC0001", "Avatar ").code, UnknownMovie);
    // Customer ID before authorisation before movie name.
    assert_eq!(world.book_as("ATWC0001", "bad", &slot, "Nope", 1), InvalidId);
    assert_eq!(world.book_as("ATWC0001", "ATWC0002", &slot, "Nope", 1), NotAuthorized);
    // Exchange: both names, then both IDs.
    assert_eq!(world.exchange("ATWC0001", ("bad", "Avatar"), (&slot, "Nope"), 1), UnknownMovie);
    assert_eq!(world.exchange("ATWC0001", (&slot, "Avatar"), ("bad", "Titanic"), 0), InvalidId);
    assert_eq!(world.exchange("ATWC0001", (&slot, "Avatar"), (&slot, "Titanic"), 0), InvalidQuantity);
    // Add: role, name, ID, own theatre, quantity, then the window.
    assert_eq!(world.add("ATWC0001", "bad", "Nope", 0), NotAuthorized);
    assert_eq!(world.add("ATWA0001", "bad", "Nope", 0), UnknownMovie);
    assert_eq!(world.add("ATWA0001", "bad", "Avatar", 0), InvalidId);
    assert_eq!(world.add("ATWA0001", &mid("OUTM", 30), "Avatar", 0), NotAuthorized);
    assert_eq!(world.add("ATWA0001", &mid("ATWM", 30), "Avatar", 0), InvalidQuantity);
    assert_eq!(world.add("ATWA0001", &mid("ATWM", 30), "Avatar", 1), DateOutOfWindow);
}

#[test]
fn quantities() {
    let mut world = World::new();
    let slot = mid("ATWE", 2);
    for capacity in [0, -1, 10_001, i32::MIN, i32::MAX] {
        assert_eq!(world.add("ATWA0001", &slot, "Titanic", capacity), InvalidQuantity, "capacity {capacity}");
    }
    assert_eq!(world.add("ATWA0001", &slot, "Titanic", 1), Ok);
    assert_eq!(world.add("ATWA0001", &slot, "Titanic", 10_000), Ok);
    for tickets in [0, -5, 10_001, i32::MIN] {
        assert_eq!(world.book("ATWC0001", &slot, "Titanic", tickets), InvalidQuantity, "tickets {tickets}");
        assert_eq!(world.cancel("ATWC0001", &slot, "Titanic", tickets), InvalidQuantity, "cancel {tickets}");
    }
    assert_eq!(world.book("ATWC0001", &slot, "Titanic", 10_000), Ok);
    assert_eq!(world.available(&slot, "Titanic"), Some(0));
}

#[test]
fn not_authorized_paths_change_nothing() {
    let mut world = World::new();
    let atw = mid("ATWM", 1);
    let out = mid("OUTA", 1);
    world.slot(&atw, "Avatar", 10);
    world.slot(&out, "Avatar", 10);
    assert_eq!(world.book("ATWC0002", &atw, "Avatar", 2), Ok);
    let before = world.digest();
    let remove =
        |movie_id: &str| Operation::RemoveMovieSlots { movie_id: movie_id.into(), movie_name: "Avatar".into() };
    let cases: Vec<(&str, Operation)> = vec![
        // Customers may not add or remove slots.
        (
            "ATWC0001",
            Operation::AddMovieSlots { movie_id: atw.clone(), movie_name: "Avatar".into(), booking_capacity: 5 },
        ),
        ("ATWC0001", remove(&atw)),
        // Admins only in their own theatre.
        (
            "ATWA0001",
            Operation::AddMovieSlots { movie_id: out.clone(), movie_name: "Avatar".into(), booking_capacity: 5 },
        ),
        ("ATWA0001", remove(&out)),
        // Admins only for customers of their own theatre.
        (
            "OUTA0001",
            Operation::BookMovieTickets {
                customer_id: "ATWC0002".into(),
                movie_id: out.clone(),
                movie_name: "Avatar".into(),
                number_of_tickets: 1,
            },
        ),
        ("OUTA0001", Operation::GetBookingSchedule { customer_id: "ATWC0002".into() }),
        (
            "OUTA0001",
            Operation::CancelMovieTickets {
                customer_id: "ATWC0002".into(),
                movie_id: atw.clone(),
                movie_name: "Avatar".into(),
                number_of_tickets: 1,
            },
        ),
        // Customers only for themselves (same theatre or not).
        ("ATWC0001", Operation::GetBookingSchedule { customer_id: "ATWC0002".into() }),
        ("OUTC0001", Operation::GetBookingSchedule { customer_id: "ATWC0002".into() }),
        (
            "ATWC0001",
            Operation::CancelMovieTickets {
                customer_id: "ATWC0002".into(),
                movie_id: atw.clone(),
                movie_name: "Avatar".into(),
                number_of_tickets: 1,
            },
        ),
        (
            "ATWC0001",
            Operation::BookMovieTickets {
                customer_id: "ATWC0002".into(),
                movie_id: atw.clone(),
                movie_name: "Avatar".into(),
                number_of_tickets: 1,
            },
        ),
        (
            "ATWC0001",
            Operation::ExchangeTickets {
                customer_id: "ATWC0002".into(),
                movie_id: atw.clone(),
                movie_name: "Avatar".into(),
                new_movie_id: out.clone(),
                new_movie_name: "Avatar".into(),
                number_of_tickets: 1,
            },
        ),
    ];
    for (user, operation) in cases {
        let name = operation.name();
        assert_eq!(world.run(user, operation).code, NotAuthorized, "{user} {name}");
        assert_eq!(world.digest(), before, "{user} {name} changed state");
    }
    // What admins may do for their own customers.
    assert_eq!(world.book_as("ATWA0001", "ATWC0002", &out, "Avatar", 1), Ok);
    assert_eq!(world.cancel_as("atwa0001", "ATWC0002", &out, "Avatar", 1), Ok);
    assert_eq!(world.exchange_as("ATWA0001", "ATWC0002", (&atw, "Avatar"), (&out, "Avatar"), 2), Ok);
    assert_eq!(world.schedule_as("ATWA0001", "ATWC0002").code, Ok);
    assert_eq!(world.list_as("VERA0001", "Avatar").code, Ok);
}

#[test]
fn add_date_window() {
    let mut world = World::new();
    let cases = [(-1, DateOutOfWindow), (0, Ok), (1, Ok), (7, Ok), (8, DateOutOfWindow), (-400, DateOutOfWindow)];
    for (offset, expected) in cases {
        assert_eq!(world.add("VERA0001", &mid("VERA", offset), "Avengers", 5), expected, "day {offset}");
    }
}

#[test]
fn time_zone_edge() {
    // 02:30 UTC on Wednesday 25 Nov is 21:30 on Tuesday 24 Nov in Montreal.
    let late_evening_ms = "2026-11-25T02:30:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let tuesday = mid("ATWM", 0);
    let add = |movie_id: &str| Request {
        user_id: "ATWA0001".into(),
        operation: Operation::AddMovieSlots {
            movie_id: movie_id.into(),
            movie_name: "Avatar".into(),
            booking_capacity: 5,
        },
    };
    let book = Request {
        user_id: "ATWC0001".into(),
        operation: Operation::BookMovieTickets {
            customer_id: "ATWC0001".into(),
            movie_id: tuesday.clone(),
            movie_name: "Avatar".into(),
            number_of_tickets: 1,
        },
    };
    let mut montreal = Replica::new();
    let mut utc = Replica::new().with_time_zone(jiff::tz::TimeZone::UTC);
    for replica in [&mut montreal, &mut utc] {
        assert_eq!(replica.execute(&add(&tuesday), noon_ms(0)).code, Ok);
    }
    // Still Tuesday in Montreal: the show is today, not past.
    assert_eq!(montreal.execute(&book, late_evening_ms).code, Ok);
    assert_eq!(utc.execute(&book, late_evening_ms).code, PastShow);
    // Tuesday + 8 is out of Montreal's window but within UTC's (Wednesday + 7).
    assert_eq!(montreal.execute(&add(&mid("ATWM", 8)), late_evening_ms).code, DateOutOfWindow);
    assert_eq!(utc.execute(&add(&mid("ATWM", 8)), late_evening_ms).code, Ok);
}

#[test]
fn capacity_update() {
    let mut world = World::new();
    let slot = mid("OUTA", 3);
    world.slot(&slot, "Titanic", 5);
    assert_eq!(world.book("OUTC0001", &slot, "Titanic", 3), Ok);
    assert_eq!(world.add("OUTA0001", &slot, "titanic", 4), Ok);
    assert_eq!(world.available(&slot, "Titanic"), Some(1));
    let before = world.digest();
    assert_eq!(world.add("OUTA0001", &slot, "Titanic", 2), CapacityBelowBooked);
    assert_eq!(world.digest(), before);
    assert_eq!(world.add("OUTA0001", &slot, "Titanic", 3), Ok);
    assert_eq!(world.available(&slot, "Titanic"), Some(0));
    assert_eq!(world.list("Titanic"), vec![(slot.clone(), 3, 0)]);
    assert_eq!(world.add("OUTA0001", &slot, "Titanic", 10_000), Ok);
    assert_eq!(world.available(&slot, "Titanic"), Some(9_997));
}

#[test]
fn sold_out_and_repeat_bookings() {
    let mut world = World::new();
    let slot = mid("VERE", 2);
    world.slot(&slot, "Avengers", 5);
    assert_eq!(world.book("VERC0001", &slot, "Avengers", 6), SoldOut);
    assert_eq!(world.book("VERC0001", &slot, "Avengers", 2), Ok);
    assert_eq!(world.book("VERC0001", &slot, "AVENGERS", 2), Ok);
    assert_eq!(world.schedule("VERC0001"), vec![(slot.clone(), Movie::Avengers, 4)]);
    assert_eq!(world.book("VERC0002", &slot, "Avengers", 2), SoldOut);
    assert_eq!(world.book("VERC0002", &slot, "Avengers", 1), Ok);
    assert_eq!(world.available(&slot, "Avengers"), Some(0));
    // The same movie ID with another movie is another slot.
    assert_eq!(world.book("VERC0001", &slot, "Avatar", 1), SlotNotFound);
}

#[test]
fn past_shows() {
    let mut world = World::new();
    let slot = mid("ATWM", 0);
    world.slot(&slot, "Avatar", 5);
    assert_eq!(world.book("ATWC0001", &slot, "Avatar", 2), Ok);
    world.set_day(1);
    assert_eq!(world.book("ATWC0001", &slot, "Avatar", 1), PastShow);
    assert_eq!(world.cancel("ATWC0001", &slot, "Avatar", 1), PastShow);
    assert_eq!(world.remove("ATWA0001", &slot, "Avatar").code, PastShow);
    assert_eq!(world.list("Avatar"), vec![]);
    // History stays in the schedule.
    assert_eq!(world.schedule("ATWC0001"), vec![(slot.clone(), Movie::Avatar, 2)]);
}

#[test]
fn partial_cancel_and_cancel_to_zero() {
    let mut world = World::new();
    let slot = mid("ATWA", 1);
    world.slot(&slot, "Avatar", 10);
    assert_eq!(world.cancel("ATWC0001", &slot, "Avatar", 1), NoBooking);
    assert_eq!(world.cancel("ATWC0001", &mid("ATWA", 2), "Avatar", 1), NoBooking);
    assert_eq!(world.book("ATWC0001", &slot, "Avatar", 5), Ok);
    assert_eq!(world.cancel("ATWC0001", &slot, "Avatar", 2), Ok);
    assert_eq!(world.schedule("ATWC0001"), vec![(slot.clone(), Movie::Avatar, 3)]);
    assert_eq!(world.available(&slot, "Avatar"), Some(7));
    assert_eq!(world.cancel("ATWC0001", &slot, "Avatar", 4), NotEnoughTickets);
    assert_eq!(world.cancel("ATWC0001", &slot, "Avatar", 3), Ok);
    assert_eq!(world.schedule("ATWC0001"), vec![]);
    assert_eq!(world.available(&slot, "Avatar"), Some(10));
    assert_eq!(world.cancel("ATWC0001", &slot, "Avatar", 1), NoBooking);
}

#[test]
fn outside_area_limit() {
    let mut world = World::new();
    // ATWC0001 is at home in ATW. Week 48: Tuesday (0) to Sunday (5); Monday (6) is week 49.
    let outside = [mid("OUTM", 0), mid("VERA", 1), mid("OUTE", 2)];
    for movie_id in &outside {
        world.slot(movie_id, "Avatar", 10);
    }
    world.slot(&mid("VERM", 5), "Avatar", 10); // Sunday, same week
    world.slot(&mid("OUTM", 6), "Avatar", 10); // Monday, next week
    world.slot(&mid("OUTE", 2), "Titanic", 10); // same movie ID as a held slot, other movie
    for offset in 0..5 {
        world.slot(&mid("ATWM", offset), "Titanic", 10);
    }
    for movie_id in &outside {
        assert_eq!(world.book("ATWC0001", movie_id, "Avatar", 1), Ok, "{movie_id}");
    }
    assert_eq!(world.book("ATWC0001", &mid("VERM", 5), "Avatar", 1), OutsideAreaLimit);
    assert_eq!(world.book("ATWC0001", &mid("OUTE", 2), "Titanic", 1), OutsideAreaLimit);
    assert_eq!(world.book("ATWC0001", &mid("OUTM", 6), "Avatar", 1), Ok);
    // More tickets in a held outside slot do not count again.
    assert_eq!(world.book("ATWC0001", &mid("VERA", 1), "Avatar", 2), Ok);
    // Home bookings are unlimited.
    for offset in 0..5 {
        assert_eq!(world.book("ATWC0001", &mid("ATWM", offset), "Titanic", 1), Ok, "home day {offset}");
    }
    // Other customers are unaffected; the limit is per customer.
    assert_eq!(world.book("ATWC0002", &mid("VERM", 5), "Avatar", 1), Ok);
    // Cancelling one outside slot frees a place in the week.
    assert_eq!(world.cancel("ATWC0001", &mid("OUTM", 0), "Avatar", 1), Ok);
    assert_eq!(world.book("ATWC0001", &mid("VERM", 5), "Avatar", 1), Ok);
}

#[test]
fn same_slot_other_theatre() {
    let mut world = World::new();
    for prefix in ["ATWM", "OUTM", "OUTA", "VERM"] {
        world.slot(&mid(prefix, 3), "Avatar", 10);
    }
    world.slot(&mid("OUTM", 3), "Titanic", 10);
    assert_eq!(world.book("OUTC0001", &mid("ATWM", 3), "Avatar", 1), Ok);
    assert_eq!(world.book("OUTC0001", &mid("OUTM", 3), "Avatar", 1), SameSlotOtherTheatre);
    assert_eq!(world.book("OUTC0001", &mid("VERM", 3), "Avatar", 1), SameSlotOtherTheatre);
    assert_eq!(world.book("OUTC0001", &mid("OUTM", 3), "Titanic", 1), Ok);
    assert_eq!(world.book("OUTC0001", &mid("OUTA", 3), "Avatar", 1), Ok);
    assert_eq!(world.book("OUTC0001", &mid("ATWM", 3), "Avatar", 1), Ok, "the same theatre again is fine");
    // Sold out is checked before the other-theatre rule.
    world.slot(&mid("VERM", 3), "Avatar", 1);
    assert_eq!(world.book("VERC0001", &mid("VERM", 3), "Avatar", 1), Ok);
    assert_eq!(world.book("OUTC0001", &mid("VERM", 3), "Avatar", 1), SoldOut);
}

#[test]
fn exchange_failures_change_nothing() {
    let mut world = World::new();
    let home = mid("ATWM", 1);
    let out = mid("OUTM", 2);
    let full = mid("VERM", 2);
    world.slot(&home, "Avatar", 10);
    world.slot(&out, "Titanic", 10);
    world.slot(&full, "Titanic", 1);
    world.slot(&mid("ATWM", 0), "Avatar", 10);
    assert_eq!(world.book("VERC0009", &full, "Titanic", 1), Ok);
    assert_eq!(world.book("ATWC0001", &home, "Avatar", 3), Ok);
    assert_eq!(world.book("ATWC0001", &mid("ATWM", 0), "Avatar", 1), Ok);
    let before = world.digest();
    let cases = [
        ((mid("ATWM", 3), "Avatar"), (out.clone(), "Titanic"), 1, NoBooking),
        ((home.clone(), "Titanic"), (out.clone(), "Titanic"), 1, NoBooking),
        ((home.clone(), "Avatar"), (out.clone(), "Titanic"), 4, NotEnoughTickets),
        ((home.clone(), "Avatar"), (mid("OUTM", 4), "Titanic"), 1, SlotNotFound),
        ((home.clone(), "Avatar"), (full.clone(), "Titanic"), 1, SoldOut),
        ((home.clone(), "Avatar"), (mid("ATWA", 1), "Avatar"), 1, SlotNotFound),
    ];
    for ((old_id, old_movie), (new_id, new_movie), tickets, expected) in cases {
        let code = world.exchange("ATWC0001", (&old_id, old_movie), (&new_id, new_movie), tickets);
        assert_eq!(code, expected, "{old_movie} {old_id} -> {new_movie} {new_id} x{tickets}");
        assert_eq!(world.digest(), before, "a rejected exchange changed state");
    }
    // The old show is in the past.
    world.set_day(1);
    assert_eq!(world.exchange("ATWC0001", (&mid("ATWM", 0), "Avatar"), (&home, "Avatar"), 1), PastShow);
    // The new show is in the past.
    assert_eq!(world.exchange("ATWC0001", (&home, "Avatar"), (&mid("ATWM", 0), "Avatar"), 1), PastShow);
    assert_eq!(world.digest(), before);
}

#[test]
fn exchange_moves_tickets_across_theatres() {
    let mut world = World::new();
    let home = mid("ATWM", 1);
    let out = mid("OUTE", 2);
    world.slot(&home, "Avatar", 10);
    world.slot(&out, "Titanic", 10);
    assert_eq!(world.book("ATWC0001", &home, "Avatar", 5), Ok);
    assert_eq!(world.exchange("ATWC0001", (&home, "Avatar"), (&out, "Titanic"), 2), Ok);
    assert_eq!(world.schedule("ATWC0001"), vec![(home.clone(), Movie::Avatar, 3), (out.clone(), Movie::Titanic, 2)]);
    assert_eq!((world.available(&home, "Avatar"), world.available(&out, "Titanic")), (Some(7), Some(8)));
    // Back again, all of it: the old booking disappears and the held one grows.
    assert_eq!(world.exchange("ATWC0001", (&out, "Titanic"), (&home, "Avatar"), 2), Ok);
    assert_eq!(world.schedule("ATWC0001"), vec![(home.clone(), Movie::Avatar, 5)]);
    // Within one theatre.
    world.slot(&mid("ATWE", 1), "Avengers", 10);
    assert_eq!(world.exchange("ATWC0001", (&home, "Avatar"), (&mid("ATWE", 1), "Avengers"), 5), Ok);
    assert_eq!(world.schedule("ATWC0001"), vec![(mid("ATWE", 1), Movie::Avengers, 5)]);
    // To the same slot: nothing changes, even when the slot is full.
    world.slot(&mid("ATWE", 1), "Avengers", 5);
    let before = world.digest();
    assert_eq!(world.exchange("ATWC0001", (&mid("ATWE", 1), "Avengers"), (&mid("ATWE", 1), "avengers"), 5), Ok);
    assert_eq!(world.digest(), before);
}

#[test]
fn exchange_as_if_old_tickets_were_given_back() {
    let mut world = World::new();
    let outside = [mid("OUTM", 0), mid("VERM", 1), mid("OUTM", 2)];
    for movie_id in &outside {
        world.slot(movie_id, "Avatar", 10);
        assert_eq!(world.book("ATWC0001", movie_id, "Avatar", 2), Ok);
    }
    let fourth = mid("VERE", 3);
    world.slot(&fourth, "Avatar", 10);
    world.slot(&mid("OUTA", 3), "Avatar", 10);
    assert_eq!(world.book("ATWC0001", &fourth, "Avatar", 1), OutsideAreaLimit);
    // Exchanging only part of a booking keeps it: the limit still applies.
    let before = world.digest();
    assert_eq!(world.exchange("ATWC0001", (&outside[0], "Avatar"), (&fourth, "Avatar"), 1), OutsideAreaLimit);
    assert_eq!(world.exchange("ATWC0001", (&outside[1], "Avatar"), (&fourth, "Avatar"), 1), OutsideAreaLimit);
    assert_eq!(world.digest(), before);
    // The whole booking: allowed, across theatres (OUT -> VER) ...
    assert_eq!(world.exchange("ATWC0001", (&outside[0], "Avatar"), (&fourth, "Avatar"), 2), Ok);
    // ... and within one theatre (VER -> VER is not possible here; OUT -> OUT is).
    assert_eq!(world.exchange("ATWC0001", (&outside[2], "Avatar"), (&mid("OUTA", 3), "Avatar"), 2), Ok);
    let schedule = world.schedule("ATWC0001");
    assert_eq!(
        schedule,
        vec![
            (outside[1].clone(), Movie::Avatar, 2),
            (mid("OUTA", 3), Movie::Avatar, 2),
            (fourth.clone(), Movie::Avatar, 2)
        ]
    );
    // One theatre per show, as if given back: the same show moves to another theatre.
    let mut world = World::new();
    world.slot(&mid("ATWM", 4), "Titanic", 10);
    world.slot(&mid("OUTM", 4), "Titanic", 10);
    assert_eq!(world.book("ATWC0001", &mid("ATWM", 4), "Titanic", 2), Ok);
    assert_eq!(
        world.exchange("ATWC0001", (&mid("ATWM", 4), "Titanic"), (&mid("OUTM", 4), "Titanic"), 1),
        SameSlotOtherTheatre
    );
    assert_eq!(world.exchange("ATWC0001", (&mid("ATWM", 4), "Titanic"), (&mid("OUTM", 4), "Titanic"), 2), Ok);
    assert_eq!(world.schedule("ATWC0001"), vec![(mid("OUTM", 4), Movie::Titanic, 2)]);
}

fn removed(response: booking::Response) -> Vec<(String, u32, Option<String>)> {
    assert_eq!(response.code, Ok, "removal failed");
    match response.body {
        Body::Removed(moved) => moved
            .into_iter()
            .map(|MovedBooking { customer_id, tickets, new_movie_id }| {
                (customer_id, tickets, new_movie_id.map(|id| id.to_string()))
            })
            .collect(),
        other => panic!("removal answered {other:?}"),
    }
}

#[test]
fn remove_moves_bookings_in_booking_order() {
    let mut world = World::new();
    let removed_slot = mid("ATWA", 2);
    world.slot(&mid("ATWM", 1), "Avatar", 10); // earlier: never a target
    world.slot(&mid("ATWM", 2), "Avatar", 10); // earlier the same day: never a target
    world.slot(&removed_slot, "Avatar", 20);
    world.slot(&mid("ATWE", 2), "Titanic", 50); // other movie: never a target
    world.slot(&mid("ATWE", 2), "Avatar", 4); // first choice, room for 4
    world.slot(&mid("ATWM", 3), "Avatar", 2); // second choice
    world.slot(&mid("OUTM", 4), "Avatar", 50); // other theatre: never a target
    // Booking order: C3, C1, C2, C4; C3 adds tickets later but keeps its place.
    assert_eq!(world.book("ATWC0003", &removed_slot, "Avatar", 2), Ok);
    assert_eq!(world.book("ATWC0001", &removed_slot, "Avatar", 2), Ok);
    assert_eq!(world.book("ATWC0002", &removed_slot, "Avatar", 1), Ok);
    assert_eq!(world.book("ATWC0004", &removed_slot, "Avatar", 5), Ok);
    assert_eq!(world.book("ATWC0003", &removed_slot, "Avatar", 1), Ok);
    // C2 already holds the second choice: the move adds to it.
    assert_eq!(world.book("ATWC0002", &mid("ATWM", 3), "Avatar", 1), Ok);
    let answer = removed(world.remove("atwa0001", &removed_slot.to_lowercase(), "avatar"));
    assert_eq!(
        answer,
        vec![
            ("ATWC0003".into(), 3, Some(mid("ATWE", 2))),
            ("ATWC0001".into(), 2, None), // ATWE2 has 1 left, ATWM3 has 1 left
            ("ATWC0002".into(), 1, Some(mid("ATWE", 2))),
            ("ATWC0004".into(), 5, None),
        ]
    );
    assert_eq!(
        world.schedule("ATWC0002"),
        vec![(mid("ATWE", 2), Movie::Avatar, 1), (mid("ATWM", 3), Movie::Avatar, 1)]
    );
    assert_eq!(world.available(&removed_slot, "Avatar"), None);
    assert_eq!(world.available(&mid("ATWE", 2), "Avatar"), Some(0));
    assert_eq!(world.remove("ATWA0001", &removed_slot, "Avatar").code, SlotNotFound);
    // Bookings that moved keep their first-booking order in a later removal:
    // C3 (first ever) before C2.
    let answer = removed(world.remove("ATWA0001", &mid("ATWE", 2), "Avatar"));
    assert_eq!(answer, vec![("ATWC0003".into(), 3, None), ("ATWC0002".into(), 1, Some(mid("ATWM", 3)))]);
    assert_eq!(world.schedule("ATWC0002"), vec![(mid("ATWM", 3), Movie::Avatar, 2)]);
}

#[test]
fn remove_respects_every_rule_for_moved_bookings() {
    let mut world = World::new();
    // One theatre per show: OUTC0002 holds Avengers VERA1, the same show as ATWA1.
    let removed_slot = mid("ATWM", 1);
    world.slot(&removed_slot, "Avengers", 10);
    world.slot(&mid("ATWA", 1), "Avengers", 10);
    world.slot(&mid("ATWE", 1), "Avengers", 10);
    world.slot(&mid("VERA", 1), "Avengers", 10);
    assert_eq!(world.book("OUTC0001", &removed_slot, "Avengers", 1), Ok);
    assert_eq!(world.book("OUTC0002", &removed_slot, "Avengers", 1), Ok);
    assert_eq!(world.book("OUTC0002", &mid("VERA", 1), "Avengers", 1), Ok);
    assert_eq!(world.book("ATWC0001", &removed_slot, "Avengers", 1), Ok);
    let answer = removed(world.remove("ATWA0001", &removed_slot, "Avengers"));
    assert_eq!(
        answer,
        vec![
            ("OUTC0001".into(), 1, Some(mid("ATWA", 1))),
            ("OUTC0002".into(), 1, Some(mid("ATWE", 1))),
            ("ATWC0001".into(), 1, Some(mid("ATWA", 1))),
        ]
    );

    // Other-area limit: the removed slot is on Sunday (week 48); the only later slots
    // are in week 49, where OUTC0001 already holds three outside slots (in VER).
    let sunday = mid("ATWE", 5);
    world.slot(&sunday, "Titanic", 10);
    world.slot(&mid("ATWM", 6), "Titanic", 10);
    world.slot(&mid("ATWA", 7), "Titanic", 10);
    for movie_id in [mid("VERM", 6), mid("VERA", 6), mid("VERE", 7)] {
        world.slot(&movie_id, "Avatar", 10);
        assert_eq!(world.book("OUTC0001", &movie_id, "Avatar", 1), Ok);
    }
    assert_eq!(world.book("OUTC0001", &sunday, "Titanic", 2), Ok);
    assert_eq!(world.book("ATWC0001", &sunday, "Titanic", 3), Ok);
    assert_eq!(world.book("OUTC0003", &sunday, "Titanic", 1), Ok);
    let answer = removed(world.remove("ATWA0001", &sunday, "Titanic"));
    assert_eq!(
        answer,
        vec![
            ("OUTC0001".into(), 2, None),
            ("ATWC0001".into(), 3, Some(mid("ATWM", 6))),
            ("OUTC0003".into(), 1, Some(mid("ATWM", 6))),
        ]
    );
    // Without a later slot with room, bookings are cancelled.
    world.slot(&mid("ATWA", 7), "Titanic", 1);
    assert_eq!(world.book("ATWC0005", &mid("ATWA", 7), "Titanic", 1), Ok);
    let answer = removed(world.remove("ATWA0001", &mid("ATWM", 6), "Titanic"));
    assert_eq!(answer, vec![("ATWC0001".into(), 3, None), ("OUTC0003".into(), 1, None)]);
    // A slot without bookings.
    world.slot(&mid("VERE", 4), "Titanic", 3);
    assert_eq!(removed(world.remove("VERA0001", &mid("VERE", 4), "Titanic")), vec![]);
}

#[test]
fn listing_order_and_content() {
    let mut world = World::new();
    for movie_id in [mid("VERM", 2), mid("ATWE", 1), mid("OUTM", 2), mid("ATWM", 2), mid("OUTA", 0), mid("ATWA", 2)] {
        world.slot(&movie_id, "Avatar", 7);
    }
    world.slot(&mid("ATWM", 1), "Titanic", 7);
    world.set_day(-1);
    world.slot(&mid("OUTM", -1), "Avatar", 7); // yesterday, once today comes
    world.set_day(0);
    assert_eq!(world.book("ATWC0001", &mid("ATWA", 2), "Avatar", 3), Ok);
    let listing = world.list("aVaTaR");
    let expected = [
        (mid("OUTA", 0), 7),
        (mid("ATWE", 1), 7),
        (mid("ATWM", 2), 7),
        (mid("OUTM", 2), 7),
        (mid("VERM", 2), 7),
        (mid("ATWA", 2), 4),
    ];
    assert_eq!(listing, expected.into_iter().map(|(id, available)| (id, 7, available)).collect::<Vec<_>>());
    assert_eq!(world.list("Avengers"), vec![]);
}

#[test]
fn schedule_order_and_canonical_answers() {
    let mut world = World::new();
    for movie_id in [mid("VERM", 2), mid("OUTM", 2), mid("ATWE", 1), mid("ATWA", 2)] {
        world.slot(&movie_id, "Titanic", 10);
    }
    world.slot(&mid("ATWA", 2), "Avatar", 10);
    for (movie_id, movie) in [
        (mid("VERM", 2), "titanic"),
        (mid("ATWA", 2), "TITANIC"),
        (mid("ATWE", 1), "Titanic"),
        (mid("ATWA", 2), "avatar"),
    ] {
        assert_eq!(world.book("vErC0007", &movie_id.to_lowercase(), movie, 1), Ok);
    }
    let response = world.schedule_as("verc0007", "VERC0007");
    let Body::Schedule(entries) = response.body else { panic!("not a schedule") };
    let shown: Vec<String> = entries.iter().map(|entry| format!("{} {}", entry.movie_id, entry.movie)).collect();
    assert_eq!(
        shown,
        [
            format!("{} Titanic", mid("ATWE", 1)),
            format!("{} Titanic", mid("VERM", 2)), // M before A
            format!("{} Avatar", mid("ATWA", 2)),
            format!("{} Titanic", mid("ATWA", 2)),
        ]
    );
    assert_eq!(world.schedule("VERC0008"), vec![]);
}

#[test]
fn messages_name_the_outcome() {
    let mut world = World::new();
    let slot = mid("ATWM", 1);
    world.slot(&slot, "Avatar", 2);
    let request = Request {
        user_id: "atwc0001".into(),
        operation: Operation::BookMovieTickets {
            customer_id: "atwc0001".into(),
            movie_id: slot.to_lowercase(),
            movie_name: "avatar".into(),
            number_of_tickets: 2,
        },
    };
    let response = world.replica.execute(&request, world.now_ms);
    assert_eq!(response.message(&request), format!("Booked 2 ticket(s) for Avatar at {slot} for ATWC0001"));
    let response = world.replica.execute(&request, world.now_ms);
    assert_eq!(response.code, SoldOut);
    assert!(response.message(&request).starts_with("Sold out"), "{}", response.message(&request));
    // Every code has a non-empty message for every operation shape.
    for code in ResultCode::ALL {
        let response =
            if code.is_ok() { booking::Response::ok(Body::Empty) } else { booking::Response::rejected(code) };
        assert!(!response.message(&request).is_empty());
    }
}

#[test]
fn snapshot_restore_and_digest() {
    let mut world = World::new();
    world.slot(&mid("ATWM", 1), "Avatar", 10);
    world.slot(&mid("OUTM", 2), "Titanic", 10);
    assert_eq!(world.book("ATWC0001", &mid("ATWM", 1), "Avatar", 2), Ok);
    assert_eq!(world.book("ATWC0001", &mid("OUTM", 2), "Titanic", 3), Ok);
    let snapshot = world.replica.snapshot();
    let restored = Replica::restore(&snapshot).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
    assert_eq!(restored.digest(), world.digest());
    assert_eq!(restored, world.replica);
    let theatres = booking::TheatreCode::ALL.map(|code| world.replica.theatre(code).snapshot());
    assert_eq!(booking::replica_digest([&theatres[0], &theatres[1], &theatres[2]]), world.digest());
    assert_eq!(booking::replica_snapshot([&theatres[0], &theatres[1], &theatres[2]]), snapshot);
    for theatre in &theatres {
        assert_eq!(&booking::Theatre::restore(theatre).unwrap().snapshot(), theatre);
    }
    // Any change shows in the digest.
    assert_eq!(world.cancel("ATWC0001", &mid("ATWM", 1), "Avatar", 1), Ok);
    assert_ne!(world.digest(), restored.digest());
    // Corrupt snapshots are refused, not trusted.
    assert!(Replica::restore(&snapshot[..snapshot.len() - 1]).is_err());
    let mut swapped = snapshot.clone();
    let last = swapped.len() - 1;
    swapped[last] ^= 0xff;
    assert!(Replica::restore(&swapped).is_err() || Replica::restore(&swapped).unwrap().snapshot() == swapped);
}

/// The replica program awaits the coordinator on a multi-threaded runtime: its future
/// must be `Send` whenever the peers' futures are.
#[test]
fn coordinator_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut replica = Replica::new();
    let request = Request {
        user_id: "ATWC0001".into(),
        operation: Operation::GetBookingSchedule { customer_id: "ATWC0001".into() },
    };
    let today = booking::time::today(noon_ms(0), &booking::time::montreal());
    let future = booking::coordinator::execute(booking::TheatreCode::Atw, &mut replica, &request, today);
    assert_send(&future);
    drop(future);
    assert_eq!(replica.execute(&request, noon_ms(0)).body, Body::Schedule(vec![]));
}
