//! A seeded generator of booking requests for the cluster simulation: a realistic mix of admins adding and removing
//! slots, customers booking, cancelling, exchanging and reading, plus malformed ones (bad IDs, unknown movies,
//! foreign admins, silly quantities), over a small pool of shows so that requests meet each other.
//!
//! Deliberately not here: any expected answer. The simulation's oracle replica computes answers; this only makes
//! requests. Booking's own property tests keep their proptest strategies private, so this is a separate generator.

use booking::{Date, Operation, Request};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Noon in Montreal on Tuesday 24 Nov 2026, in Unix milliseconds: simulated time starts here, so the sequencer's
/// timestamps give the replicas a realistic "today".
pub const START_MS: u64 = 1_795_539_600_000;

const THEATRES: [&str; 3] = ["ATW", "OUT", "VER"];
const LETTERS: [&str; 3] = ["M", "A", "E"];
const CUSTOMERS: [&str; 8] =
    ["ATWC0001", "ATWC0002", "OUTC0001", "OUTC0002", "VERC0001", "VERC0002", "atwc0001", "outc0002"];

/// Makes requests from the simulation's RNG.
#[derive(Debug)]
pub struct RequestGenerator {
    today: Date,
}

impl Default for RequestGenerator {
    fn default() -> Self {
        RequestGenerator::new()
    }
}

impl RequestGenerator {
    /// A generator for shows around the day `START_MS` falls on.
    pub fn new() -> Self {
        let today = booking::time::today(START_MS as i64, &booking::time::montreal());
        RequestGenerator { today }
    }

    fn movie_id(&self, rng: &mut ChaCha8Rng, theatre: &str) -> String {
        let letter = LETTERS[rng.random_range(0..LETTERS.len())];
        // Mostly the next three days; sometimes outside the booking window or in the past.
        let offset = if rng.random_bool(0.9) { rng.random_range(0..3) } else { rng.random_range(-2..10) };
        format!("{theatre}{letter}{}", self.today.plus_days(offset).ddmmyy())
    }

    fn any_movie_id(&self, rng: &mut ChaCha8Rng) -> String {
        if rng.random_bool(0.02) {
            return "ATWX999999".to_owned();
        }
        let theatre = THEATRES[rng.random_range(0..THEATRES.len())];
        self.movie_id(rng, theatre)
    }

    fn movie(rng: &mut ChaCha8Rng) -> String {
        match rng.random_range(0..20) {
            0..=11 => "Avatar",
            12..=17 => "Titanic",
            18 => "avengers",
            _ => "Nope",
        }
        .to_owned()
    }

    fn tickets(rng: &mut ChaCha8Rng) -> i32 {
        match rng.random_range(0..20) {
            0 => 0,
            1 => -3,
            2 => 10_001,
            3..=12 => 1,
            _ => rng.random_range(2..5),
        }
    }

    fn customer(rng: &mut ChaCha8Rng) -> String {
        if rng.random_bool(0.03) {
            return "bad".to_owned();
        }
        CUSTOMERS[rng.random_range(0..CUSTOMERS.len())].to_owned()
    }

    /// One request: valid most of the time, malformed or unauthorised now and then.
    pub fn next(&self, rng: &mut ChaCha8Rng) -> Request {
        let theatre = THEATRES[rng.random_range(0..THEATRES.len())];
        let admin = format!("{theatre}A0001");
        match rng.random_range(0..100) {
            0..=21 => {
                // An admin adds (or resizes) a slot of their own theatre; sometimes of another one.
                let slot_theatre = if rng.random_bool(0.9) { theatre } else { THEATRES[rng.random_range(1..3)] };
                let operation = Operation::AddMovieSlots {
                    movie_id: self.movie_id(rng, slot_theatre),
                    movie_name: Self::movie(rng),
                    booking_capacity: if rng.random_bool(0.95) { rng.random_range(1..8) } else { 0 },
                };
                Request { user_id: admin, operation }
            }
            22..=24 => Request {
                user_id: admin,
                operation: Operation::RemoveMovieSlots {
                    movie_id: self.movie_id(rng, theatre),
                    movie_name: Self::movie(rng),
                },
            },
            25..=59 => {
                let customer = Self::customer(rng);
                let operation = Operation::BookMovieTickets {
                    customer_id: customer.clone(),
                    movie_id: self.any_movie_id(rng),
                    movie_name: Self::movie(rng),
                    number_of_tickets: Self::tickets(rng),
                };
                let user_id = if rng.random_bool(0.85) { customer } else { admin };
                Request { user_id, operation }
            }
            60..=69 => {
                let customer = Self::customer(rng);
                let operation = Operation::CancelMovieTickets {
                    customer_id: customer.clone(),
                    movie_id: self.any_movie_id(rng),
                    movie_name: Self::movie(rng),
                    number_of_tickets: Self::tickets(rng),
                };
                Request { user_id: customer, operation }
            }
            70..=79 => {
                let customer = Self::customer(rng);
                let operation = Operation::ExchangeTickets {
                    customer_id: customer.clone(),
                    movie_id: self.any_movie_id(rng),
                    movie_name: Self::movie(rng),
                    new_movie_id: self.any_movie_id(rng),
                    new_movie_name: Self::movie(rng),
                    number_of_tickets: Self::tickets(rng),
                };
                Request { user_id: customer, operation }
            }
            80..=87 => Request {
                user_id: Self::customer(rng),
                operation: Operation::ListMovieShowsAvailability { movie_name: Self::movie(rng) },
            },
            88..=95 => {
                let customer = Self::customer(rng);
                Request {
                    user_id: customer.clone(),
                    operation: Operation::GetBookingSchedule { customer_id: customer },
                }
            }
            _ => Request {
                // Malformed caller IDs.
                user_id: ["", "XYZC0001", "ATWC01", "ATWZ0001"][rng.random_range(0..4)].to_owned(),
                operation: Operation::GetBookingSchedule { customer_id: "ATWC0001".to_owned() },
            },
        }
    }
}
