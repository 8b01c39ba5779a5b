//! Test support: a replica driven by client-shaped requests at a settable "today".
//!
//! Only builds requests and reads answers through the public API; it deliberately holds
//! no expected answers.
#![allow(dead_code)]

use booking::{Body, Movie, Operation, Replica, Request, Response, ResultCode, ScheduleEntry, Show};

/// Tuesday 24 Nov 2026 (ISO week 48; Sunday is the 29th, the next Monday the 30th).
pub const TODAY: (i16, i8, i8) = (2026, 11, 24);

/// Noon in Montreal on `today + offset_days`, as a sequencer timestamp.
pub fn noon_ms(offset_days: i32) -> i64 {
    let (year, month, day) = TODAY;
    let date = jiff::civil::date(year, month, day).saturating_add(jiff::Span::new().days(offset_days));
    date.at(12, 0, 0, 0).to_zoned(booking::time::montreal()).unwrap().timestamp().as_millisecond()
}

/// A movie ID such as `ATWM241126` for a theatre+letter prefix and a day offset from TODAY.
pub fn mid(prefix: &str, offset_days: i32) -> String {
    let (year, month, day) = TODAY;
    let date = jiff::civil::date(year, month, day).saturating_add(jiff::Span::new().days(offset_days));
    format!("{prefix}{:02}{:02}{:02}", date.day(), date.month(), date.year() % 100)
}

pub struct World {
    pub replica: Replica,
    /// The sequencer timestamp of the next request.
    pub now_ms: i64,
}

impl World {
    pub fn new() -> World {
        World { replica: Replica::new(), now_ms: noon_ms(0) }
    }

    /// Moves "today" to TODAY + `offset_days`.
    pub fn set_day(&mut self, offset_days: i32) {
        self.now_ms = noon_ms(offset_days);
    }

    pub fn run(&mut self, user: &str, operation: Operation) -> Response {
        let request = Request { user_id: user.to_owned(), operation };
        let response = self.replica.execute(&request, self.now_ms);
        self.replica.check_invariants().unwrap();
        if !response.success() {
            assert_eq!(response.body, Body::Empty, "a rejection carries no body");
        }
        response
    }

    pub fn add(&mut self, admin: &str, movie_id: &str, movie: &str, capacity: i32) -> ResultCode {
        let operation = Operation::AddMovieSlots {
            movie_id: movie_id.into(),
            movie_name: movie.into(),
            booking_capacity: capacity,
        };
        self.run(admin, operation).code
    }

    /// Adds a slot as the admin `<theatre>A0001`, insisting that it works.
    pub fn slot(&mut self, movie_id: &str, movie: &str, capacity: i32) {
        let admin = format!("{}A0001", &movie_id[..3]);
        assert_eq!(self.add(&admin, movie_id, movie, capacity), ResultCode::Ok, "adding {movie} {movie_id}");
    }

    pub fn remove(&mut self, admin: &str, movie_id: &str, movie: &str) -> Response {
        self.run(admin, Operation::RemoveMovieSlots { movie_id: movie_id.into(), movie_name: movie.into() })
    }

    pub fn book_as(&mut self, user: &str, customer: &str, movie_id: &str, movie: &str, tickets: i32) -> ResultCode {
        let operation = Operation::BookMovieTickets {
            customer_id: customer.into(),
            movie_id: movie_id.into(),
            movie_name: movie.into(),
            number_of_tickets: tickets,
        };
        self.run(user, operation).code
    }

    pub fn book(&mut self, customer: &str, movie_id: &str, movie: &str, tickets: i32) -> ResultCode {
        self.book_as(customer, customer, movie_id, movie, tickets)
    }

    pub fn cancel_as(&mut self, user: &str, customer: &str, movie_id: &str, movie: &str, tickets: i32) -> ResultCode {
        let operation = Operation::CancelMovieTickets {
            customer_id: customer.into(),
            movie_id: movie_id.into(),
            movie_name: movie.into(),
            number_of_tickets: tickets,
        };
        self.run(user, operation).code
    }

    pub fn cancel(&mut self, customer: &str, movie_id: &str, movie: &str, tickets: i32) -> ResultCode {
        self.cancel_as(customer, customer, movie_id, movie, tickets)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn exchange_as(
        &mut self,
        user: &str,
        customer: &str,
        old: (&str, &str),
        new: (&str, &str),
        tickets: i32,
    ) -> ResultCode {
        let operation = Operation::ExchangeTickets {
            customer_id: customer.into(),
            movie_id: old.0.into(),
            movie_name: old.1.into(),
            new_movie_id: new.0.into(),
            new_movie_name: new.1.into(),
            number_of_tickets: tickets,
        };
        self.run(user, operation).code
    }

    pub fn exchange(&mut self, customer: &str, old: (&str, &str), new: (&str, &str), tickets: i32) -> ResultCode {
        self.exchange_as(customer, customer, old, new, tickets)
    }

    pub fn schedule_as(&mut self, user: &str, customer: &str) -> Response {
        self.run(user, Operation::GetBookingSchedule { customer_id: customer.into() })
    }

    /// The customer's schedule as `(movie ID, movie, tickets)` strings, asking as themselves.
    pub fn schedule(&mut self, customer: &str) -> Vec<(String, Movie, u32)> {
        match self.schedule_as(customer, customer).body {
            Body::Schedule(entries) => entries
                .into_iter()
                .map(|ScheduleEntry { movie_id, movie, tickets }| (movie_id.to_string(), movie, tickets))
                .collect(),
            other => panic!("schedule answered {other:?}"),
        }
    }

    pub fn list_as(&mut self, user: &str, movie: &str) -> Response {
        self.run(user, Operation::ListMovieShowsAvailability { movie_name: movie.into() })
    }

    /// The listing as `(movie ID, capacity, available)`.
    pub fn list(&mut self, movie: &str) -> Vec<(String, u32, u32)> {
        match self.list_as("ATWC0999", movie).body {
            Body::Shows(shows) => shows
                .into_iter()
                .map(|Show { movie_id, capacity, available, .. }| (movie_id.to_string(), capacity, available))
                .collect(),
            other => panic!("list answered {other:?}"),
        }
    }

    /// Available seats of one slot, read from the theatre state directly.
    pub fn available(&self, movie_id: &str, movie: &str) -> Option<u32> {
        let movie_id = booking::MovieId::parse(movie_id).unwrap();
        let slot = booking::Slot::new(Movie::parse(movie).unwrap(), movie_id);
        self.replica.theatre(movie_id.theatre).slots().find(|view| view.slot == slot).map(|view| view.available)
    }

    pub fn digest(&self) -> [u8; 32] {
        self.replica.digest()
    }
}
