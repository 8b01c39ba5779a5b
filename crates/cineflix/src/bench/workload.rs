//! What the load generator asks for: the operation mix, the slots the setup phase
//! creates, and each worker's stream of requests.
//!
//! Each worker owns a disjoint set of customers and remembers every ticket they hold from
//! its own successful answers, so cancels and exchanges name real bookings and a
//! `NO_BOOKING` answer means a lost update (or another client using the same IDs), not
//! noise. Customers book only in their home theatre, so the other-area limit and the
//! one-theatre-per-show-time rule are never what a run measures. This module does no I/O.

use crate::outcome::movie_id_text;
use booking::{Date, Movie, MovieId, Operation, Request, ResultCode, SlotLetter, TheatreCode};

/// The operations a mix can weigh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    List,
    Book,
    Schedule,
    Cancel,
    Exchange,
}

impl OpKind {
    pub const ALL: [OpKind; 5] = [OpKind::List, OpKind::Book, OpKind::Schedule, OpKind::Cancel, OpKind::Exchange];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::List => "list",
            OpKind::Book => "book",
            OpKind::Schedule => "schedule",
            OpKind::Cancel => "cancel",
            OpKind::Exchange => "exchange",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Weights of each operation, e.g. `list=20,book=40,schedule=20,cancel=20`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Indexed by `OpKind::index`.
    pub weights: [u32; 5],
}

impl Mix {
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut weights = [0u32; 5];
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let (name, weight) =
                part.split_once('=').ok_or_else(|| format!("mix entry {part:?} is not NAME=WEIGHT"))?;
            let kind = OpKind::ALL.into_iter().find(|kind| kind.name().eq_ignore_ascii_case(name.trim())).ok_or_else(
                || format!("unknown operation {name:?} in the mix (use list, book, schedule, cancel, exchange)"),
            )?;
            let weight: u32 =
                weight.trim().parse().map_err(|_| format!("mix weight {weight:?} of {name} is not a whole number"))?;
            if weight > 1_000_000 {
                return Err(format!("mix weight of {name} is too large"));
            }
            weights[kind.index()] += weight;
        }
        if weights.iter().all(|&weight| weight == 0) {
            return Err("the mix has no operation with a positive weight".to_owned());
        }
        Ok(Mix { weights })
    }

    /// `list=20,book=40,...` with the zero weights left out.
    pub fn describe(&self) -> String {
        OpKind::ALL
            .into_iter()
            .filter(|kind| self.weights[kind.index()] > 0)
            .map(|kind| format!("{}={}", kind.name(), self.weights[kind.index()]))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn pick(&self, rng: &mut Rng) -> OpKind {
        let total: u32 = self.weights.iter().sum();
        let mut ticket = rng.below(u64::from(total)) as u32;
        for kind in OpKind::ALL {
            let weight = self.weights[kind.index()];
            if ticket < weight {
                return kind;
            }
            ticket -= weight;
        }
        unreachable!("the ticket is below the total weight")
    }
}

const MOVIES: [(Movie, &str); 3] =
    [(Movie::Avatar, "Avatar"), (Movie::Avengers, "Avengers"), (Movie::Titanic, "Titanic")];
const LETTERS: [SlotLetter; 3] = [SlotLetter::Morning, SlotLetter::Afternoon, SlotLetter::Evening];

/// One slot (movie ID and movie) of the bench's world.
#[derive(Clone, Debug)]
pub struct Slot {
    pub movie_id: String,
    pub movie_name: &'static str,
}

/// The slots of every theatre: `days` days from `today`, every slot letter, every movie.
#[derive(Clone, Debug)]
pub struct World {
    /// Indexed by theatre index, then slot index.
    pub slots: [Vec<Slot>; 3],
    pub customers_per_theatre: u32,
}

impl World {
    pub fn new(today: jiff::civil::Date, days: u32, customers_per_theatre: u32) -> World {
        let slots = TheatreCode::ALL.map(|theatre| {
            let mut slots = Vec::new();
            for day in 0..days {
                let date = today.checked_add(jiff::Span::new().days(i64::from(day))).expect("a date within a week");
                for slot in LETTERS {
                    for (_, movie_name) in MOVIES {
                        let movie_id = movie_id_text(&MovieId { theatre, slot, date: Date(date) });
                        slots.push(Slot { movie_id, movie_name });
                    }
                }
            }
            slots
        });
        World { slots, customers_per_theatre }
    }

    /// The admin that sets up slots of a theatre.
    pub fn admin(theatre: TheatreCode) -> String {
        format!("{}A0001", theatre.as_str())
    }

    /// The `addMovieSlots` requests of the setup phase.
    pub fn setup_requests(&self, capacity: i32) -> Vec<Request> {
        TheatreCode::ALL
            .into_iter()
            .flat_map(|theatre| {
                self.slots[theatre.index()].iter().map(move |slot| Request {
                    user_id: World::admin(theatre),
                    operation: Operation::AddMovieSlots {
                        movie_id: slot.movie_id.clone(),
                        movie_name: slot.movie_name.to_owned(),
                        booking_capacity: capacity,
                    },
                })
            })
            .collect()
    }
}

/// A small, fast, seedable generator (splitmix64); the bench needs spread, not secrecy.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "Rng::below needs a positive bound");
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// One customer a worker acts for.
#[derive(Clone, Debug)]
struct Customer {
    id: String,
    theatre: usize,
}

/// One ticket held: which customer, which slot of their home theatre.
#[derive(Clone, Copy, Debug)]
struct Ticket {
    customer: usize,
    slot: usize,
}

/// The request a worker sends next, with what to remember when its answer comes.
#[derive(Debug)]
pub struct Planned {
    pub kind: OpKind,
    pub request: Request,
    effect: Effect,
}

#[derive(Clone, Copy, Debug)]
enum Effect {
    None,
    Book {
        customer: usize,
        slot: usize,
    },
    /// Index into `held` of the ticket cancelled.
    Cancel {
        held: usize,
    },
    Exchange {
        held: usize,
        new_slot: usize,
    },
}

/// One worker's request stream and its memory of the tickets its customers hold.
#[derive(Debug)]
pub struct Workload {
    world: std::sync::Arc<World>,
    mix: Mix,
    rng: Rng,
    customers: Vec<Customer>,
    held: Vec<Ticket>,
}

impl Workload {
    /// The workload of worker `worker` of `workers`: customers are dealt round-robin so
    /// no two workers share one.
    pub fn new(world: std::sync::Arc<World>, mix: Mix, seed: u64, worker: usize, workers: usize) -> Workload {
        let per_theatre = world.customers_per_theatre as usize;
        let customers = (0..3 * per_theatre)
            .filter(|index| index % workers == worker)
            .map(|index| {
                let theatre = index % 3;
                let number = index / 3;
                Customer { id: format!("{}C{number:04}", TheatreCode::ALL[theatre].as_str()), theatre }
            })
            .collect();
        let rng = Rng::new(seed ^ (worker as u64).wrapping_mul(0xa076_1d64_78bd_642f));
        Workload { world, mix, rng, customers, held: Vec::new() }
    }

    /// Whether this worker has customers at all (more workers than customers leaves some idle).
    pub fn has_customers(&self) -> bool {
        !self.customers.is_empty()
    }

    pub fn next(&mut self) -> Planned {
        let mut kind = self.mix.pick(&mut self.rng);
        // Nothing to cancel or exchange yet: book instead, so every request does work.
        if matches!(kind, OpKind::Cancel | OpKind::Exchange) && self.held.is_empty() {
            kind = OpKind::Book;
        }
        match kind {
            OpKind::List => {
                let customer = self.random_customer();
                let (_, movie_name) = MOVIES[self.rng.below(3) as usize];
                let request = Request {
                    user_id: self.customers[customer].id.clone(),
                    operation: Operation::ListMovieShowsAvailability { movie_name: movie_name.to_owned() },
                };
                Planned { kind, request, effect: Effect::None }
            }
            OpKind::Schedule => {
                let customer = self.random_customer();
                let customer = &self.customers[customer];
                let request = Request {
                    user_id: customer.id.clone(),
                    operation: Operation::GetBookingSchedule { customer_id: customer.id.clone() },
                };
                Planned { kind, request, effect: Effect::None }
            }
            OpKind::Book => {
                let customer = self.random_customer();
                let slot = self.random_slot(customer);
                let request = self.ticket_request(customer, slot, |customer_id, movie_id, movie_name| {
                    Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets: 1 }
                });
                Planned { kind, request, effect: Effect::Book { customer, slot } }
            }
            OpKind::Cancel => {
                let held = self.rng.below(self.held.len() as u64) as usize;
                let ticket = self.held[held];
                let request = self.ticket_request(ticket.customer, ticket.slot, |customer_id, movie_id, movie_name| {
                    Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets: 1 }
                });
                Planned { kind, request, effect: Effect::Cancel { held } }
            }
            OpKind::Exchange => {
                let held = self.rng.below(self.held.len() as u64) as usize;
                let ticket = self.held[held];
                let new_slot = self.random_slot(ticket.customer);
                let new = &self.world.slots[self.customers[ticket.customer].theatre][new_slot];
                let (new_movie_id, new_movie_name) = (new.movie_id.clone(), new.movie_name.to_owned());
                let request = self.ticket_request(ticket.customer, ticket.slot, |customer_id, movie_id, movie_name| {
                    Operation::ExchangeTickets {
                        customer_id,
                        movie_id,
                        movie_name,
                        new_movie_id,
                        new_movie_name,
                        number_of_tickets: 1,
                    }
                });
                Planned { kind, request, effect: Effect::Exchange { held, new_slot } }
            }
        }
    }

    /// Updates the worker's memory from the answer: `Some(code)` when the service
    /// answered, `None` when the outcome is unknown (fault, lost connection).
    pub fn observe(&mut self, planned: &Planned, answer: Option<ResultCode>) {
        match (planned.effect, answer) {
            (Effect::None, _) => {}
            (Effect::Book { customer, slot }, Some(ResultCode::Ok)) => self.held.push(Ticket { customer, slot }),
            (Effect::Book { .. }, _) => {}
            (Effect::Cancel { held }, Some(ResultCode::Ok)) => {
                self.held.swap_remove(held);
            }
            (Effect::Exchange { held, new_slot }, Some(ResultCode::Ok)) => self.held[held].slot = new_slot,
            // A full new slot leaves the old ticket where it was.
            (Effect::Exchange { .. }, Some(ResultCode::SoldOut)) => {}
            // Any other answer, or none: the ticket's fate is not what we believed or not
            // known, so stop naming it rather than turn one surprise into many.
            (Effect::Cancel { held } | Effect::Exchange { held, .. }, _) => {
                self.held.swap_remove(held);
            }
        }
    }

    fn random_customer(&mut self) -> usize {
        self.rng.below(self.customers.len() as u64) as usize
    }

    /// A slot in the customer's home theatre.
    fn random_slot(&mut self, customer: usize) -> usize {
        let slots = &self.world.slots[self.customers[customer].theatre];
        self.rng.below(slots.len() as u64) as usize
    }

    fn ticket_request(
        &self,
        customer: usize,
        slot: usize,
        operation: impl FnOnce(String, String, String) -> Operation,
    ) -> Request {
        let customer = &self.customers[customer];
        let slot = &self.world.slots[customer.theatre][slot];
        Request {
            user_id: customer.id.clone(),
            operation: operation(customer.id.clone(), slot.movie_id.clone(), slot.movie_name.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn mixes_parse_and_describe() {
        let mix = Mix::parse("list=20,book=40,schedule=20,cancel=20").unwrap();
        assert_eq!(mix.weights, [20, 40, 20, 20, 0]);
        assert_eq!(mix.describe(), "list=20,book=40,schedule=20,cancel=20");
        assert_eq!(Mix::parse(" Exchange=1 ").unwrap().describe(), "exchange=1");
        assert!(Mix::parse("list=0").is_err());
        assert!(Mix::parse("walk=1").is_err());
        assert!(Mix::parse("list").is_err());
        assert!(Mix::parse("list=x").is_err());
    }

    #[test]
    fn the_world_has_every_slot_of_every_theatre() {
        let world = World::new(jiff::civil::date(2026, 12, 30), 3, 10);
        assert_eq!(world.slots[0].len(), 27);
        assert_eq!(world.slots[0][0].movie_id, "ATWM301226");
        assert_eq!(world.slots[2][26].movie_id, "VERE010127");
        assert_eq!(world.slots[2][26].movie_name, "Titanic");
        let setup = world.setup_requests(100);
        assert_eq!(setup.len(), 81);
        assert!(setup.iter().all(|request| request.user_id.as_bytes()[3] == b'A'));
    }

    #[test]
    fn workers_share_no_customer_and_book_at_home() {
        let world = Arc::new(World::new(jiff::civil::date(2026, 5, 4), 2, 7));
        let mix = Mix::parse("book=1").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for worker in 0..4 {
            let mut workload = Workload::new(world.clone(), mix.clone(), 9, worker, 4);
            for customer in &workload.customers {
                assert!(seen.insert(customer.id.clone()), "{} dealt twice", customer.id);
            }
            for _ in 0..50 {
                let planned = workload.next();
                let Operation::BookMovieTickets { customer_id, movie_id, .. } = &planned.request.operation else {
                    panic!("a book-only mix books")
                };
                assert_eq!(customer_id[..3], movie_id[..3], "customers book in their home theatre");
                assert_eq!(&planned.request.user_id, customer_id);
            }
        }
        assert_eq!(seen.len(), 21);
    }

    #[test]
    fn cancels_name_tickets_the_worker_booked() {
        let world = Arc::new(World::new(jiff::civil::date(2026, 5, 4), 2, 3));
        let mut workload = Workload::new(world, Mix::parse("book=1,cancel=1,exchange=1").unwrap(), 5, 0, 1);
        let mut held: Vec<(String, String)> = Vec::new();
        for _ in 0..500 {
            let planned = workload.next();
            match &planned.request.operation {
                Operation::BookMovieTickets { customer_id, movie_id, .. } => {
                    held.push((customer_id.clone(), movie_id.clone()))
                }
                Operation::CancelMovieTickets { customer_id, movie_id, .. } => {
                    let index = held.iter().position(|t| t == &(customer_id.clone(), movie_id.clone()));
                    held.swap_remove(index.expect("cancels a held ticket"));
                }
                Operation::ExchangeTickets { customer_id, movie_id, new_movie_id, .. } => {
                    let index = held.iter().position(|t| t == &(customer_id.clone(), movie_id.clone()));
                    held[index.expect("exchanges a held ticket")].1 = new_movie_id.clone();
                }
                other => panic!("unexpected {other:?}"),
            }
            workload.observe(&planned, Some(ResultCode::Ok));
        }
        assert_eq!(held.len(), workload.held.len());
    }
}
