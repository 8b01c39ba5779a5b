//! The operations of booking.md, run at the caller's home theatre.
//!
//! [`execute`] validates a [`Request`] (see [`validate`] for the exact check order), then
//! reaches the theatres through [`Peers`], its own theatre included, and turns their
//! answers into the canonical [`Response`]. It is an `async fn` used as a pure state
//! machine: it awaits nothing but its `Peers`, so with in-process peers it completes
//! in one poll, and over UDP each await is one round trip (reads at several theatres go
//! through `Peers::read_all`, which the replica turns into one relay pass).
//!
//! It deliberately holds no state, does no I/O and reads no clock: "today" is a
//! parameter, derived from the sequencer's timestamp by `time::today`.
//!
//! # Rules decided here (where booking.md is silent)
//! - Check order: caller ID (`INVALID_ID`) → caller's role for the operation
//!   (`NOT_AUTHORIZED`: customers may not add or remove slots) → customer ID
//!   (`INVALID_ID`, also when it is a well-formed admin ID: the field names a customer)
//!   → the caller may act for that customer (`NOT_AUTHORIZED`: a customer only for
//!   themselves, an admin only for customers of their own theatre) → movie names
//!   (`UNKNOWN_MOVIE`, the old one before the new one) → movie IDs (`INVALID_ID`, old
//!   before new) → for add/remove, the movie ID's theatre is the admin's
//!   (`NOT_AUTHORIZED`) → quantity 1..=10000 (`INVALID_QUANTITY`) → for add, the date
//!   window `[today, today + 7]` (`DATE_OUT_OF_WINDOW`) → state checks.
//! - State checks of a booking: `SLOT_NOT_FOUND`, `PAST_SHOW`, `SOLD_OUT`,
//!   `OUTSIDE_AREA_LIMIT`, `SAME_SLOT_OTHER_THEATRE`.
//! - Cancel: `NO_BOOKING` (also when the slot does not exist), `NOT_ENOUGH_TICKETS`,
//!   then `PAST_SHOW`: a show that already took place is not refunded, and its booking
//!   stays in the schedule as history.
//! - Exchange: the old booking is checked like a cancel (`NO_BOOKING`,
//!   `NOT_ENOUGH_TICKETS`, `PAST_SHOW`), then the new slot like a booking, as if the old
//!   tickets were already given back (when all of them are, the old slot no longer
//!   counts for the other-area limit or the one-theatre-per-show rule). Exchanging to
//!   the very same slot is `OK` and changes nothing. The new booking is a fresh booking
//!   (new booking number) unless it adds to one already held.
//! - Remove: `SLOT_NOT_FOUND`, then `PAST_SHOW`. Affected bookings are listed in the
//!   order they were first made; a booking merged into one already held at the target
//!   keeps the earlier booking number.
//! - Listings include shows dated today (shows of today are not "past").
//!
//! # Peer calls per operation (T = the slot's theatre, H = home, O = the third)
//! - list, schedule: one read per theatre (3).
//! - book: one filtered read at each theatre other than T (bookings on the show date,
//!   or in the show's week where the other-area limit needs it), then a checked `Book`
//!   at T (3).
//! - cancel, add: one checked mutation (1).
//! - exchange within one theatre: 2 reads, then one checked `Exchange` (3). Across
//!   theatres: 2 reads (one also fetches the old booking), the checked `Book` at the new
//!   slot's theatre, then a `Cancel` at the old one that cannot fail (4). Everything is
//!   checked before the first mutation, and one request runs at a time, so a rejection
//!   changes nothing anywhere.
//! - remove: `PrepareRemoval` at H, one read of the affected customers' bookings at
//!   each other theatre (skipped when nobody booked), then `RemoveSlot` at H (2–4).

use crate::api::{Body, MovedBooking, Operation, Request, Response, ResultCode, ScheduleEntry};
use crate::ids::{Date, Movie, MovieId, Slot, TheatreCode, UserId};
use crate::peer::{HeldBooking, PeerRequest, PeerResponse, Peers};
use crate::theatre::{QUANTITY_MAX, outside_slots_in_week, same_show_in};

/// How far ahead an admin may add slots, in days (inclusive).
pub const ADD_WINDOW_DAYS: i32 = 7;

/// A request that passed every check that needs no state: canonical values only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    AddSlot { slot: Slot, capacity: u32 },
    RemoveSlot { slot: Slot },
    ListShows { movie: Movie },
    Book { customer: UserId, slot: Slot, tickets: u32 },
    Schedule { customer: UserId },
    Cancel { customer: UserId, slot: Slot, tickets: u32 },
    Exchange { customer: UserId, old: Slot, new: Slot, tickets: u32 },
}

/// The theatre whose server must run `request`: the caller's home theatre. `None` when
/// the caller ID is malformed; any theatre then answers `INVALID_ID` without peer calls.
pub fn home_theatre(request: &Request) -> Option<TheatreCode> {
    UserId::parse(&request.user_id).map(|user| user.theatre)
}

/// Every check that needs no state, in the order of the module doc.
pub fn validate(request: &Request, today: Date) -> Result<Command, ResultCode> {
    let caller = UserId::parse(&request.user_id).ok_or(ResultCode::InvalidId)?;
    match &request.operation {
        Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => {
            let slot = admin_slot(caller, movie_id, movie_name)?;
            let capacity = quantity(*booking_capacity)?;
            if slot.date() < today || slot.date() > today.plus_days(ADD_WINDOW_DAYS) {
                return Err(ResultCode::DateOutOfWindow);
            }
            Ok(Command::AddSlot { slot, capacity })
        }
        Operation::RemoveMovieSlots { movie_id, movie_name } => {
            Ok(Command::RemoveSlot { slot: admin_slot(caller, movie_id, movie_name)? })
        }
        Operation::ListMovieShowsAvailability { movie_name } => Ok(Command::ListShows { movie: movie(movie_name)? }),
        Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            let customer = acting_for(caller, customer_id)?;
            let movie = movie(movie_name)?;
            let slot = Slot::new(movie, movie_id_of(movie_id)?);
            Ok(Command::Book { customer, slot, tickets: quantity(*number_of_tickets)? })
        }
        Operation::GetBookingSchedule { customer_id } => {
            Ok(Command::Schedule { customer: acting_for(caller, customer_id)? })
        }
        Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
            let customer = acting_for(caller, customer_id)?;
            let movie = movie(movie_name)?;
            let slot = Slot::new(movie, movie_id_of(movie_id)?);
            Ok(Command::Cancel { customer, slot, tickets: quantity(*number_of_tickets)? })
        }
        Operation::ExchangeTickets {
            customer_id,
            movie_id,
            movie_name,
            new_movie_id,
            new_movie_name,
            number_of_tickets,
        } => {
            let customer = acting_for(caller, customer_id)?;
            let old_movie = movie(movie_name)?;
            let new_movie = movie(new_movie_name)?;
            let old = Slot::new(old_movie, movie_id_of(movie_id)?);
            let new = Slot::new(new_movie, movie_id_of(new_movie_id)?);
            Ok(Command::Exchange { customer, old, new, tickets: quantity(*number_of_tickets)? })
        }
    }
}

fn movie(name: &str) -> Result<Movie, ResultCode> {
    Movie::parse(name).ok_or(ResultCode::UnknownMovie)
}

fn movie_id_of(text: &str) -> Result<MovieId, ResultCode> {
    MovieId::parse(text).ok_or(ResultCode::InvalidId)
}

fn quantity(number: i32) -> Result<u32, ResultCode> {
    u32::try_from(number).ok().filter(|n| (1..=QUANTITY_MAX).contains(n)).ok_or(ResultCode::InvalidQuantity)
}

/// Checks an admin operation on a slot of the admin's own theatre.
fn admin_slot(caller: UserId, movie_id: &str, movie_name: &str) -> Result<Slot, ResultCode> {
    if !caller.is_admin() {
        return Err(ResultCode::NotAuthorized);
    }
    let movie = movie(movie_name)?;
    let movie_id = movie_id_of(movie_id)?;
    if movie_id.theatre != caller.theatre {
        return Err(ResultCode::NotAuthorized);
    }
    Ok(Slot::new(movie, movie_id))
}

/// The customer the caller acts for: themselves, or (for an admin) a customer of the
/// admin's own theatre.
fn acting_for(caller: UserId, customer_id: &str) -> Result<UserId, ResultCode> {
    let customer = UserId::parse(customer_id).filter(|user| user.is_customer()).ok_or(ResultCode::InvalidId)?;
    let allowed = if caller.is_admin() { caller.theatre == customer.theatre } else { caller == customer };
    if allowed { Ok(customer) } else { Err(ResultCode::NotAuthorized) }
}

/// Runs `request` as the coordinator at `home`, the caller's home theatre.
///
/// `home` is the theatre whose server runs this call ([`home_theatre`]); the answer does
/// not depend on it (every theatre is reached through `peers`), it only documents where
/// the coordinator runs and is checked in debug builds. `today` comes from
/// `time::today(seq timestamp, zone)`.
pub async fn execute<P: Peers>(home: TheatreCode, peers: &mut P, request: &Request, today: Date) -> Response {
    debug_assert!(
        home_theatre(request).is_none_or(|caller_home| caller_home == home),
        "a request runs at the caller's home theatre"
    );
    match validate(request, today) {
        Err(code) => Response::rejected(code),
        Ok(command) => run(peers, command, today).await,
    }
}

/// Runs a validated command (the state checks and the changes).
pub async fn run<P: Peers>(peers: &mut P, command: Command, today: Date) -> Response {
    match command {
        Command::ListShows { movie } => {
            let reads = TheatreCode::ALL.map(|theatre| (theatre, PeerRequest::ListShows { movie, from: today }));
            let mut shows = Vec::new();
            for answer in peers.read_all(reads.into()).await {
                match answer {
                    PeerResponse::Shows(mut part) => shows.append(&mut part),
                    other => unexpected("ListShows", other),
                }
            }
            // Each part is already in date/slot order; the stable sort interleaves theatres.
            shows.sort_by_key(|show| show.movie_id);
            Response::ok(Body::Shows(shows))
        }
        Command::Schedule { customer } => {
            let reads = TheatreCode::ALL.map(|theatre| {
                let request = PeerRequest::CustomerBookings {
                    customers: vec![customer],
                    from: Date::MIN,
                    to: Date::MAX,
                    include: None,
                };
                (theatre, request)
            });
            let mut entries = Vec::new();
            for answer in peers.read_all(reads.into()).await {
                match answer {
                    PeerResponse::Bookings(held) => entries.extend(held.into_iter().map(|booking| ScheduleEntry {
                        movie_id: booking.slot.movie_id,
                        movie: booking.slot.movie,
                        tickets: booking.tickets,
                    })),
                    other => unexpected("CustomerBookings", other),
                }
            }
            entries.sort_by_key(|entry| (entry.movie_id, entry.movie));
            Response::ok(Body::Schedule(entries))
        }
        Command::Book { customer, slot, tickets } => {
            let held = bookings_elsewhere(peers, customer, slot, None).await;
            let request = PeerRequest::Book {
                customer,
                slot,
                tickets,
                today,
                outside_slots_elsewhere: outside_slots_in_week(&held, customer, slot.theatre(), slot.date()),
                same_show_elsewhere: same_show_in(&held, customer, slot),
            };
            result_of(peers.call(slot.theatre(), request).await)
        }
        Command::Cancel { customer, slot, tickets } => {
            result_of(peers.call(slot.theatre(), PeerRequest::Cancel { customer, slot, tickets, today }).await)
        }
        Command::AddSlot { slot, capacity } => {
            result_of(peers.call(slot.theatre(), PeerRequest::AddSlot { slot, capacity }).await)
        }
        Command::Exchange { customer, old, new, tickets } => exchange(peers, customer, old, new, tickets, today).await,
        Command::RemoveSlot { slot } => remove(peers, slot, today).await,
    }
}

async fn exchange<P: Peers>(
    peers: &mut P,
    customer: UserId,
    old: Slot,
    new: Slot,
    tickets: u32,
    today: Date,
) -> Response {
    if old.theatre() == new.theatre() {
        // One theatre holds both slots: it checks and applies atomically by itself.
        let held = bookings_elsewhere(peers, customer, new, None).await;
        let request = PeerRequest::Exchange {
            customer,
            old,
            new,
            tickets,
            today,
            outside_slots_elsewhere: outside_slots_in_week(&held, customer, new.theatre(), new.date()),
            same_show_elsewhere: same_show_in(&held, customer, new),
        };
        return result_of(peers.call(new.theatre(), request).await);
    }
    // The old slot's theatre is one of those asked; it also reports the old booking.
    let mut held = bookings_elsewhere(peers, customer, new, Some(old)).await;
    let Some(old_booking) = held.iter().find(|booking| booking.customer == customer && booking.slot == old) else {
        return Response::rejected(ResultCode::NoBooking);
    };
    if old_booking.tickets < tickets {
        return Response::rejected(ResultCode::NotEnoughTickets);
    }
    if old.date() < today {
        return Response::rejected(ResultCode::PastShow);
    }
    if old_booking.tickets == tickets {
        // As if the old tickets were already given back: the booking disappears.
        held.retain(|booking| booking.slot != old);
    }
    let book = PeerRequest::Book {
        customer,
        slot: new,
        tickets,
        today,
        outside_slots_elsewhere: outside_slots_in_week(&held, customer, new.theatre(), new.date()),
        same_show_elsewhere: same_show_in(&held, customer, new),
    };
    let booked = result_of(peers.call(new.theatre(), book).await);
    if !booked.success() {
        return booked;
    }
    // Checked above and nothing ran in between (one request at a time): cannot fail.
    let released =
        result_of(peers.call(old.theatre(), PeerRequest::Cancel { customer, slot: old, tickets, today }).await);
    assert!(released.success(), "exchange: giving back checked tickets at {old} failed with {:?}", released.code);
    Response::ok(Body::Empty)
}

async fn remove<P: Peers>(peers: &mut P, slot: Slot, today: Date) -> Response {
    let customers = match peers.call(slot.theatre(), PeerRequest::PrepareRemoval { slot, today }).await {
        PeerResponse::Customers(customers) => customers,
        PeerResponse::Result(code) if !code.is_ok() => return Response::rejected(code),
        other => unexpected("PrepareRemoval", other),
    };
    let mut elsewhere = Vec::new();
    if !customers.is_empty() {
        let reads = TheatreCode::ALL
            .into_iter()
            .filter(|theatre| *theatre != slot.theatre())
            .map(|theatre| {
                let request = PeerRequest::CustomerBookings {
                    customers: customers.clone(),
                    from: slot.date().week_monday(),
                    to: Date::MAX,
                    include: None,
                };
                (theatre, request)
            })
            .collect();
        for answer in peers.read_all(reads).await {
            match answer {
                PeerResponse::Bookings(mut held) => elsewhere.append(&mut held),
                other => unexpected("CustomerBookings", other),
            }
        }
    }
    match peers.call(slot.theatre(), PeerRequest::RemoveSlot { slot, today, elsewhere }).await {
        PeerResponse::Removed(moved) => Response::ok(Body::Removed(
            moved
                .into_iter()
                .map(|booking| MovedBooking {
                    customer_id: booking.customer.to_string(),
                    tickets: booking.tickets,
                    new_movie_id: booking.new_movie_id,
                })
                .collect(),
        )),
        PeerResponse::Result(code) if !code.is_ok() => Response::rejected(code),
        other => unexpected("RemoveSlot", other),
    }
}

/// The customer's bookings, in every theatre other than `slot`'s, that the booking rules
/// for `slot` depend on: those on the show date (one theatre per show), and those in the
/// show's ISO week in outside-home theatres when `slot` itself is outside home (the
/// other-area limit). `include` additionally fetches that booking from its theatre.
async fn bookings_elsewhere<P: Peers>(
    peers: &mut P,
    customer: UserId,
    slot: Slot,
    include: Option<Slot>,
) -> Vec<HeldBooking> {
    let slot_is_outside = slot.theatre() != customer.theatre;
    let reads = TheatreCode::ALL
        .into_iter()
        .filter(|theatre| *theatre != slot.theatre())
        .map(|theatre| {
            let (from, to) = if slot_is_outside && theatre != customer.theatre {
                (slot.date().week_monday(), slot.date().week_sunday())
            } else {
                (slot.date(), slot.date())
            };
            let include = include.filter(|included| included.theatre() == theatre);
            (theatre, PeerRequest::CustomerBookings { customers: vec![customer], from, to, include })
        })
        .collect();
    let mut held = Vec::new();
    for answer in peers.read_all(reads).await {
        match answer {
            PeerResponse::Bookings(mut part) => held.append(&mut part),
            other => unexpected("CustomerBookings", other),
        }
    }
    held
}

fn result_of(response: PeerResponse) -> Response {
    match response {
        PeerResponse::Result(ResultCode::Ok) => Response::ok(Body::Empty),
        PeerResponse::Result(code) => Response::rejected(code),
        other => unexpected("a checked mutation", other),
    }
}

/// A theatre answered with the wrong kind of response: a broken peer or transport.
/// Answering anything would risk a wrong replicated result, so the replica stops here
/// (and its replica manager replaces it).
fn unexpected(request: &str, response: PeerResponse) -> ! {
    panic!("theatre answered {request} with an unexpected {response:?}")
}

/// The human-readable message for `response` to `request`: derived from the code and
/// body, deterministic, and deliberately not part of the canonical encoding.
pub fn message_for(request: &Request, response: &Response) -> String {
    let names = Names::of(request);
    match response.code {
        ResultCode::Ok => success_message(request, response, &names),
        ResultCode::InvalidId => format!("Invalid ID in the request ({})", names.ids()),
        ResultCode::UnknownMovie => {
            format!("Unknown movie {}: the catalogue is Avatar, Avengers and Titanic", names.movies())
        }
        ResultCode::NotAuthorized => format!("{} is not allowed to {}", names.user, names.action()),
        ResultCode::DateOutOfWindow => {
            format!("{}: slots can only be added for today up to {ADD_WINDOW_DAYS} days ahead", names.slot())
        }
        ResultCode::PastShow => format!("{}: the show is in the past", names.slot()),
        ResultCode::SlotNotFound => format!("{}: no such show", names.new_slot()),
        ResultCode::InvalidQuantity => format!("Invalid quantity {}: must be 1 to {QUANTITY_MAX}", names.quantity),
        ResultCode::CapacityBelowBooked => {
            format!("{}: capacity {} is below the seats already booked", names.slot(), names.quantity)
        }
        ResultCode::SoldOut => {
            format!("Sold out: not enough seats for {} ticket(s) of {}", names.quantity, names.new_slot())
        }
        ResultCode::OutsideAreaLimit => format!(
            "{} already holds {} shows outside their home theatre in the week of {}",
            names.customer,
            crate::theatre::OUTSIDE_SLOTS_PER_WEEK_MAX,
            names.new_slot()
        ),
        ResultCode::SameSlotOtherTheatre => {
            format!("{} already holds the same show in another theatre than {}", names.customer, names.new_slot())
        }
        ResultCode::NoBooking => format!("{} holds no booking for {}", names.customer, names.slot()),
        ResultCode::NotEnoughTickets => {
            format!("{} holds fewer than {} ticket(s) for {}", names.customer, names.quantity, names.slot())
        }
    }
}

fn success_message(request: &Request, response: &Response, names: &Names) -> String {
    match (&request.operation, &response.body) {
        (Operation::ListMovieShowsAvailability { .. }, Body::Shows(shows)) => {
            format!("{} show(s) of {} from today on", shows.len(), names.movie)
        }
        (Operation::GetBookingSchedule { .. }, Body::Schedule(entries)) => {
            format!("{} booking(s) for {}", entries.len(), names.customer)
        }
        (Operation::RemoveMovieSlots { .. }, Body::Removed(moved)) => {
            let kept = moved.iter().filter(|booking| booking.new_movie_id.is_some()).count();
            format!(
                "Removed {}; {kept} booking(s) moved to a later show, {} cancelled",
                names.slot(),
                moved.len() - kept
            )
        }
        (Operation::AddMovieSlots { .. }, _) => format!("{} now has capacity {}", names.slot(), names.quantity),
        (Operation::BookMovieTickets { .. }, _) => {
            format!("Booked {} ticket(s) for {} for {}", names.quantity, names.slot(), names.customer)
        }
        (Operation::CancelMovieTickets { .. }, _) => {
            format!("Cancelled {} ticket(s) for {} for {}", names.quantity, names.slot(), names.customer)
        }
        (Operation::ExchangeTickets { .. }, _) => format!(
            "Exchanged {} ticket(s) for {} to {} for {}",
            names.quantity,
            names.slot(),
            names.new_slot(),
            names.customer
        ),
        (operation, _) => format!("{} succeeded", operation.name()),
    }
}

/// The request's fields in canonical form where they parse, as typed otherwise.
struct Names<'a> {
    operation: &'a Operation,
    user: String,
    customer: String,
    movie: String,
    movie_id: String,
    new_movie: String,
    new_movie_id: String,
    quantity: String,
}

fn canonical_user(text: &str) -> String {
    UserId::parse(text).map_or_else(|| format!("'{text}'"), |user| user.to_string())
}

fn canonical_movie(text: &str) -> String {
    Movie::parse(text).map_or_else(|| format!("'{text}'"), |movie| movie.to_string())
}

fn canonical_movie_id(text: &str) -> String {
    MovieId::parse(text).map_or_else(|| format!("'{text}'"), |movie_id| movie_id.to_string())
}

impl<'a> Names<'a> {
    fn of(request: &'a Request) -> Names<'a> {
        let mut names = Names {
            operation: &request.operation,
            user: canonical_user(&request.user_id),
            customer: String::new(),
            movie: String::new(),
            movie_id: String::new(),
            new_movie: String::new(),
            new_movie_id: String::new(),
            quantity: String::new(),
        };
        match &request.operation {
            Operation::AddMovieSlots { movie_id, movie_name, booking_capacity } => {
                names.movie = canonical_movie(movie_name);
                names.movie_id = canonical_movie_id(movie_id);
                names.quantity = booking_capacity.to_string();
            }
            Operation::RemoveMovieSlots { movie_id, movie_name } => {
                names.movie = canonical_movie(movie_name);
                names.movie_id = canonical_movie_id(movie_id);
            }
            Operation::ListMovieShowsAvailability { movie_name } => names.movie = canonical_movie(movie_name),
            Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets }
            | Operation::CancelMovieTickets { customer_id, movie_id, movie_name, number_of_tickets } => {
                names.customer = canonical_user(customer_id);
                names.movie = canonical_movie(movie_name);
                names.movie_id = canonical_movie_id(movie_id);
                names.quantity = number_of_tickets.to_string();
            }
            Operation::GetBookingSchedule { customer_id } => names.customer = canonical_user(customer_id),
            Operation::ExchangeTickets {
                customer_id,
                movie_id,
                movie_name,
                new_movie_id,
                new_movie_name,
                number_of_tickets,
            } => {
                names.customer = canonical_user(customer_id);
                names.movie = canonical_movie(movie_name);
                names.movie_id = canonical_movie_id(movie_id);
                names.new_movie = canonical_movie(new_movie_name);
                names.new_movie_id = canonical_movie_id(new_movie_id);
                names.quantity = number_of_tickets.to_string();
            }
        }
        names
    }

    /// The (old) slot named by the request.
    fn slot(&self) -> String {
        format!("{} at {}", self.movie, self.movie_id)
    }

    /// The slot a booking goes to: the new one of an exchange, else the only one.
    fn new_slot(&self) -> String {
        if self.new_movie_id.is_empty() { self.slot() } else { format!("{} at {}", self.new_movie, self.new_movie_id) }
    }

    fn movies(&self) -> String {
        if self.new_movie.is_empty() { self.movie.clone() } else { format!("{} / {}", self.movie, self.new_movie) }
    }

    fn ids(&self) -> String {
        [self.user.as_str(), &self.customer, &self.movie_id, &self.new_movie_id]
            .into_iter()
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn action(&self) -> String {
        match self.operation {
            Operation::AddMovieSlots { .. } | Operation::RemoveMovieSlots { .. } => {
                format!("{} {}", self.operation.name(), self.slot())
            }
            _ => format!("{} for {}", self.operation.name(), self.customer),
        }
    }
}
