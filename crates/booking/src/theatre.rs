//! One theatre server's own slots and bookings, driven by [`PeerRequest`]s.
//!
//! A [`Theatre`] knows only its own slots; facts about the customer's bookings in other
//! theatres arrive inside the requests (gathered by the coordinator). Every mutation
//! checks all of its preconditions before changing anything, so a rejected request
//! leaves the theatre exactly as it was.
//!
//! State is ordered maps only (no hash-map iteration), and the canonical snapshot
//! ([`Theatre::snapshot`]) contains exactly the logical state: slots with capacities, and
//! each booking's customer, tickets and booking sequence number. The per-customer index
//! is a cache rebuilt on restore and never written out.
//!
//! It deliberately does no I/O, reads no clock (`today` arrives in the request) and does
//! not validate client input (that is the coordinator's job); it only refuses requests
//! that would break its own invariants.
//!
//! # Snapshot format, version 1
//! ```text
//! b"CFTH", u8 version = 1, theatre, u64 next_booking_seq,
//! count + slots in ascending `Slot` order (movie, then date, slot letter):
//!   slot (movie, movie ID), u32 capacity,
//!   count + bookings in ascending customer order: user, u32 tickets, u64 booking_seq
//! ```
//! Primitives as in [`crate::codec`]. The decoder accepts only canonical snapshots
//! (strictly ascending keys, consistent counts), so bytes and logical states correspond
//! one to one.

use crate::api::{ResultCode, Show};
use crate::codec::{DecodeError, FORMAT_VERSION, Put, Reader, SLOT_LEN, USER_LEN};
use crate::ids::{Date, Movie, MovieId, Slot, SlotLetter, TheatreCode, UserId};
use crate::peer::{HeldBooking, MovedTo, PeerRequest, PeerResponse};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// Most distinct slots a customer may hold outside their home theatre in one ISO week.
pub const OUTSIDE_SLOTS_PER_WEEK_MAX: u32 = 3;
/// Largest capacity of a slot and largest ticket count of one request.
pub const QUANTITY_MAX: u32 = 10_000;

const SNAPSHOT_MAGIC: &[u8; 4] = b"CFTH";

/// One theatre's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theatre {
    code: TheatreCode,
    /// The booking sequence number the next new booking gets; removal moves bookings in
    /// the order of these numbers ("the order the bookings were first made").
    next_booking_seq: u64,
    slots: BTreeMap<Slot, SlotState>,
    /// Cache: each customer's slots here, keyed by movie ID first so that "bookings in
    /// this date range" is a range scan. Derived from `slots`; not in the snapshot.
    by_customer: BTreeMap<UserId, BTreeSet<(MovieId, Movie)>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SlotState {
    capacity: u32,
    /// Sum of the bookings' tickets (cached; never above `capacity`).
    booked: u32,
    bookings: BTreeMap<UserId, Booking>,
}

impl SlotState {
    fn available(&self) -> u32 {
        self.capacity - self.booked
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Booking {
    /// Always at least 1: a booking at zero tickets is deleted.
    tickets: u32,
    booking_seq: u64,
}

/// A read-only view of one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotView {
    pub slot: Slot,
    pub capacity: u32,
    pub booked: u32,
    pub available: u32,
}

/// The smallest and largest movie IDs dated within `from..=to` (for range scans).
fn movie_id_bounds(from: Date, to: Date) -> (MovieId, MovieId) {
    (
        MovieId { theatre: TheatreCode::Atw, slot: SlotLetter::Morning, date: from },
        MovieId { theatre: TheatreCode::Ver, slot: SlotLetter::Evening, date: to },
    )
}

/// Counts the distinct slots in `held` that `customer` holds outside their home theatre
/// and outside `here`, in the ISO week of `week_of`. `held` holds distinct slots.
pub(crate) fn outside_slots_in_week(held: &[HeldBooking], customer: UserId, here: TheatreCode, week_of: Date) -> u32 {
    let week = week_of.iso_week();
    let count = held
        .iter()
        .filter(|booking| {
            booking.customer == customer
                && booking.slot.theatre() != customer.theatre
                && booking.slot.theatre() != here
                && booking.slot.date().iso_week() == week
        })
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Whether `held` contains a booking of `customer` for the same show as `slot` in a
/// theatre other than `slot`'s.
pub(crate) fn same_show_in(held: &[HeldBooking], customer: UserId, slot: Slot) -> bool {
    held.iter().any(|booking| {
        booking.customer == customer && booking.slot.theatre() != slot.theatre() && booking.slot.same_show(slot)
    })
}

impl Theatre {
    /// An empty theatre.
    pub fn new(code: TheatreCode) -> Theatre {
        Theatre { code, next_booking_seq: 0, slots: BTreeMap::new(), by_customer: BTreeMap::new() }
    }

    pub fn code(&self) -> TheatreCode {
        self.code
    }

    /// The theatre state machine: handles one request from a coordinator.
    pub fn handle(&mut self, request: PeerRequest) -> PeerResponse {
        match request {
            PeerRequest::ListShows { movie, from } => PeerResponse::Shows(self.list_shows(movie, from)),
            PeerRequest::CustomerBookings { customers, from, to, include } => {
                let mut held = Vec::new();
                for customer in customers {
                    self.push_customer_bookings(customer, from, to, include, &mut held);
                }
                PeerResponse::Bookings(held)
            }
            PeerRequest::Book { customer, slot, tickets, today, outside_slots_elsewhere, same_show_elsewhere } => {
                let checked = Theatre::check_quantity(tickets).and_then(|()| {
                    self.check_book(customer, slot, tickets, today, outside_slots_elsewhere, same_show_elsewhere, None)
                });
                if checked.is_ok() {
                    self.add_tickets(customer, slot, tickets, None);
                }
                PeerResponse::Result(checked.err().unwrap_or(ResultCode::Ok))
            }
            PeerRequest::Exchange {
                customer,
                old,
                new,
                tickets,
                today,
                outside_slots_elsewhere,
                same_show_elsewhere,
            } => {
                let checked =
                    self.exchange(customer, old, new, tickets, today, outside_slots_elsewhere, same_show_elsewhere);
                PeerResponse::Result(checked.err().unwrap_or(ResultCode::Ok))
            }
            PeerRequest::Cancel { customer, slot, tickets, today } => {
                let checked =
                    Theatre::check_quantity(tickets).and_then(|()| self.check_release(customer, slot, tickets, today));
                if checked.is_ok() {
                    self.remove_tickets(customer, slot, tickets);
                }
                PeerResponse::Result(checked.err().unwrap_or(ResultCode::Ok))
            }
            PeerRequest::AddSlot { slot, capacity } => PeerResponse::Result(self.add_slot(slot, capacity)),
            PeerRequest::PrepareRemoval { slot, today } => match self.check_removal(slot, today) {
                Err(code) => PeerResponse::Result(code),
                Ok(state) => PeerResponse::Customers(state.bookings.keys().copied().collect()),
            },
            PeerRequest::RemoveSlot { slot, today, elsewhere } => match self.check_removal(slot, today) {
                Err(code) => PeerResponse::Result(code),
                Ok(_) => PeerResponse::Removed(self.remove_slot(slot, today, &elsewhere)),
            },
        }
    }

    fn check_quantity(quantity: u32) -> Result<(), ResultCode> {
        if (1..=QUANTITY_MAX).contains(&quantity) { Ok(()) } else { Err(ResultCode::InvalidQuantity) }
    }

    fn list_shows(&self, movie: Movie, from: Date) -> Vec<Show> {
        let (low, high) = movie_id_bounds(from, Date::MAX);
        self.slots
            .range(Slot::new(movie, low)..=Slot::new(movie, high))
            .map(|(slot, state)| Show {
                movie_id: slot.movie_id,
                movie,
                capacity: state.capacity,
                available: state.available(),
            })
            .collect()
    }

    /// The customer's slots here dated within `from..=to`, in listing order.
    fn customer_slots(&self, customer: UserId, from: Date, to: Date) -> impl Iterator<Item = Slot> + '_ {
        let slots = self.by_customer.get(&customer).filter(|_| from <= to);
        let (low, high) = movie_id_bounds(from, to);
        slots
            .into_iter()
            .flat_map(move |set| set.range((low, Movie::Avatar)..=(high, Movie::Titanic)))
            .map(|&(movie_id, movie)| Slot::new(movie, movie_id))
    }

    fn push_customer_bookings(
        &self,
        customer: UserId,
        from: Date,
        to: Date,
        include: Option<Slot>,
        out: &mut Vec<HeldBooking>,
    ) {
        let start = out.len();
        for slot in self.customer_slots(customer, from, to) {
            let tickets = self.booking(customer, slot).map_or(0, |booking| booking.tickets);
            out.push(HeldBooking { customer, slot, tickets });
        }
        if let Some(slot) = include {
            let in_range = from <= slot.date() && slot.date() <= to;
            if let (false, Some(booking)) = (in_range, self.booking(customer, slot)) {
                out.push(HeldBooking { customer, slot, tickets: booking.tickets });
                out[start..].sort_by_key(|held| (held.slot.movie_id, held.slot.movie));
            }
        }
    }

    fn booking(&self, customer: UserId, slot: Slot) -> Option<Booking> {
        self.slots.get(&slot)?.bookings.get(&customer).copied()
    }

    /// Distinct slots here that count against the customer's other-area limit in the
    /// week of `week_of`, ignoring `released` (a booking being given back entirely).
    fn outside_slots_here(&self, customer: UserId, week_of: Date, released: Option<Slot>) -> u32 {
        if customer.theatre == self.code {
            return 0;
        }
        let count = self
            .customer_slots(customer, week_of.week_monday(), week_of.week_sunday())
            .filter(|slot| Some(*slot) != released)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Every booking rule for `tickets` more at `slot`, in the documented order.
    #[allow(clippy::too_many_arguments)]
    fn check_book(
        &self,
        customer: UserId,
        slot: Slot,
        tickets: u32,
        today: Date,
        outside_slots_elsewhere: u32,
        same_show_elsewhere: bool,
        released: Option<Slot>,
    ) -> Result<(), ResultCode> {
        let state = self.slots.get(&slot).ok_or(ResultCode::SlotNotFound)?;
        if slot.date() < today {
            return Err(ResultCode::PastShow);
        }
        if state.available() < tickets {
            return Err(ResultCode::SoldOut);
        }
        let already_held = state.bookings.contains_key(&customer);
        if customer.theatre != self.code && !already_held {
            let held = self.outside_slots_here(customer, slot.date(), released).saturating_add(outside_slots_elsewhere);
            if held >= OUTSIDE_SLOTS_PER_WEEK_MAX {
                return Err(ResultCode::OutsideAreaLimit);
            }
        }
        if same_show_elsewhere {
            return Err(ResultCode::SameSlotOtherTheatre);
        }
        Ok(())
    }

    /// Whether the customer may give back `tickets` at `slot`.
    fn check_release(&self, customer: UserId, slot: Slot, tickets: u32, today: Date) -> Result<Booking, ResultCode> {
        let booking = self.booking(customer, slot).ok_or(ResultCode::NoBooking)?;
        if booking.tickets < tickets {
            return Err(ResultCode::NotEnoughTickets);
        }
        if slot.date() < today {
            return Err(ResultCode::PastShow);
        }
        Ok(booking)
    }

    #[allow(clippy::too_many_arguments)]
    fn exchange(
        &mut self,
        customer: UserId,
        old: Slot,
        new: Slot,
        tickets: u32,
        today: Date,
        outside_slots_elsewhere: u32,
        same_show_elsewhere: bool,
    ) -> Result<(), ResultCode> {
        Theatre::check_quantity(tickets)?;
        let booking = self.check_release(customer, old, tickets, today)?;
        if old == new {
            // Giving tickets back and taking them again at the same slot changes nothing.
            return Ok(());
        }
        let released = (booking.tickets == tickets).then_some(old);
        self.check_book(customer, new, tickets, today, outside_slots_elsewhere, same_show_elsewhere, released)?;
        self.remove_tickets(customer, old, tickets);
        self.add_tickets(customer, new, tickets, None);
        Ok(())
    }

    /// Adds tickets to the customer's booking at `slot`, creating it if needed with
    /// `booking_seq` (or the next number). A merged booking keeps the earlier number.
    /// The caller has checked every rule.
    fn add_tickets(&mut self, customer: UserId, slot: Slot, tickets: u32, booking_seq: Option<u64>) {
        let state = self.slots.get_mut(&slot).expect("add_tickets on a slot that was checked to exist");
        assert!(state.available() >= tickets, "add_tickets would oversell {slot}");
        state.booked += tickets;
        match state.bookings.get_mut(&customer) {
            Some(booking) => {
                booking.tickets += tickets;
                booking.booking_seq = booking.booking_seq.min(booking_seq.unwrap_or(u64::MAX));
            }
            None => {
                let booking_seq = booking_seq.unwrap_or_else(|| {
                    let next = self.next_booking_seq;
                    self.next_booking_seq += 1;
                    next
                });
                state.bookings.insert(customer, Booking { tickets, booking_seq });
                self.by_customer.entry(customer).or_default().insert((slot.movie_id, slot.movie));
            }
        }
    }

    /// Takes tickets off the customer's booking at `slot`, deleting it at zero. The
    /// caller has checked that the booking holds at least `tickets`.
    fn remove_tickets(&mut self, customer: UserId, slot: Slot, tickets: u32) {
        let state = self.slots.get_mut(&slot).expect("remove_tickets on a slot that was checked to exist");
        let booking = state.bookings.get_mut(&customer).expect("remove_tickets on a booking that was checked to exist");
        assert!(booking.tickets >= tickets, "remove_tickets below zero at {slot}");
        booking.tickets -= tickets;
        state.booked -= tickets;
        if booking.tickets == 0 {
            state.bookings.remove(&customer);
            self.unindex(customer, slot);
        }
    }

    fn unindex(&mut self, customer: UserId, slot: Slot) {
        if let Some(set) = self.by_customer.get_mut(&customer) {
            set.remove(&(slot.movie_id, slot.movie));
            if set.is_empty() {
                self.by_customer.remove(&customer);
            }
        }
    }

    fn add_slot(&mut self, slot: Slot, capacity: u32) -> ResultCode {
        if slot.theatre() != self.code {
            // Misrouted: only the slot's own theatre may hold it.
            return ResultCode::NotAuthorized;
        }
        if let Err(code) = Theatre::check_quantity(capacity) {
            return code;
        }
        match self.slots.get_mut(&slot) {
            Some(state) if state.booked > capacity => ResultCode::CapacityBelowBooked,
            Some(state) => {
                state.capacity = capacity;
                ResultCode::Ok
            }
            None => {
                self.slots.insert(slot, SlotState { capacity, booked: 0, bookings: BTreeMap::new() });
                ResultCode::Ok
            }
        }
    }

    fn check_removal(&self, slot: Slot, today: Date) -> Result<&SlotState, ResultCode> {
        let state = self.slots.get(&slot).ok_or(ResultCode::SlotNotFound)?;
        if slot.date() < today {
            return Err(ResultCode::PastShow);
        }
        Ok(state)
    }

    /// Deletes `slot` and moves each of its bookings, in booking order, to the earliest
    /// later slot of the same movie here that has room and where every booking rule
    /// allows it (given `elsewhere`, the customers' bookings in the other theatres, and
    /// the moves already made); otherwise the booking is cancelled.
    fn remove_slot(&mut self, slot: Slot, today: Date, elsewhere: &[HeldBooking]) -> Vec<MovedTo> {
        let state = self.slots.remove(&slot).expect("remove_slot on a slot that was checked to exist");
        let mut bookings: Vec<(UserId, Booking)> = state.bookings.into_iter().collect();
        for &(customer, _) in &bookings {
            self.unindex(customer, slot);
        }
        bookings.sort_by_key(|(_, booking)| booking.booking_seq);
        let (_, latest) = movie_id_bounds(slot.date(), Date::MAX);
        let later = (Bound::Excluded(slot), Bound::Included(Slot::new(slot.movie, latest)));
        let mut moved = Vec::with_capacity(bookings.len());
        for (customer, booking) in bookings {
            let target = self.slots.range(later).map(|(candidate, _)| *candidate).find(|candidate| {
                let outside_elsewhere = outside_slots_in_week(elsewhere, customer, self.code, candidate.date());
                let same_show = same_show_in(elsewhere, customer, *candidate);
                self.check_book(customer, *candidate, booking.tickets, today, outside_elsewhere, same_show, None)
                    .is_ok()
            });
            if let Some(target) = target {
                self.add_tickets(customer, target, booking.tickets, Some(booking.booking_seq));
            }
            moved.push(MovedTo { customer, tickets: booking.tickets, new_movie_id: target.map(|slot| slot.movie_id) });
        }
        moved
    }

    /// Every slot, in `Slot` order.
    pub fn slots(&self) -> impl Iterator<Item = SlotView> + '_ {
        self.slots.iter().map(|(slot, state)| SlotView {
            slot: *slot,
            capacity: state.capacity,
            booked: state.booked,
            available: state.available(),
        })
    }

    /// Every booking held here, by slot then customer.
    pub fn bookings(&self) -> impl Iterator<Item = HeldBooking> + '_ {
        self.slots.iter().flat_map(|(slot, state)| {
            state.bookings.iter().map(|(customer, booking)| HeldBooking {
                customer: *customer,
                slot: *slot,
                tickets: booking.tickets,
            })
        })
    }

    /// Checks the internal invariants: no overselling, `capacity = available + booked`,
    /// no booking at zero tickets, unique booking numbers below the next one, slots of
    /// this theatre only, and the customer index matching the bookings.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seqs = BTreeSet::new();
        let mut index: BTreeMap<UserId, BTreeSet<(MovieId, Movie)>> = BTreeMap::new();
        for (slot, state) in &self.slots {
            if slot.theatre() != self.code {
                return Err(format!("{} holds {slot} of another theatre", self.code));
            }
            let sum: u64 = state.bookings.values().map(|booking| u64::from(booking.tickets)).sum();
            if sum != u64::from(state.booked) || state.booked > state.capacity {
                return Err(format!("{slot}: capacity {} booked {} tickets {sum}", state.capacity, state.booked));
            }
            for (customer, booking) in &state.bookings {
                if booking.tickets == 0 {
                    return Err(format!("{slot}: {customer} holds zero tickets"));
                }
                if booking.booking_seq >= self.next_booking_seq || !seqs.insert(booking.booking_seq) {
                    return Err(format!("{slot}: {customer} has a bad booking number {}", booking.booking_seq));
                }
                index.entry(*customer).or_default().insert((slot.movie_id, slot.movie));
            }
        }
        if index != self.by_customer {
            return Err(format!("{}: customer index differs from bookings", self.code));
        }
        Ok(())
    }

    /// The canonical snapshot (module doc): same logical state, same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let bookings: usize = self.slots.values().map(|state| state.bookings.len()).sum();
        let mut out = Vec::with_capacity(18 + self.slots.len() * (SLOT_LEN + 8) + bookings * (USER_LEN + 12));
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.put_u8(FORMAT_VERSION);
        out.put_u8(self.code as u8);
        out.put_u64(self.next_booking_seq);
        out.put_count(self.slots.len());
        for (slot, state) in &self.slots {
            out.put_slot(*slot);
            out.put_u32(state.capacity);
            out.put_count(state.bookings.len());
            for (customer, booking) in &state.bookings {
                out.put_user(*customer);
                out.put_u32(booking.tickets);
                out.put_u64(booking.booking_seq);
            }
        }
        out
    }

    /// Rebuilds a theatre from [`Theatre::snapshot`] bytes, refusing anything that is not
    /// a canonical snapshot of a state satisfying [`Theatre::check_invariants`].
    pub fn restore(bytes: &[u8]) -> Result<Theatre, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.take(4)? != SNAPSHOT_MAGIC {
            return Err(DecodeError::Invalid("not a theatre snapshot"));
        }
        reader.version()?;
        let code = reader.theatre()?;
        let mut theatre = Theatre::new(code);
        theatre.next_booking_seq = reader.u64()?;
        let slot_count = reader.count(SLOT_LEN + 8)?;
        let mut previous_slot: Option<Slot> = None;
        for _ in 0..slot_count {
            let slot = reader.slot()?;
            if previous_slot.is_some_and(|previous| previous >= slot) {
                return Err(DecodeError::Invalid("snapshot slots not strictly ascending"));
            }
            previous_slot = Some(slot);
            let capacity = reader.u32()?;
            let booking_count = reader.count(USER_LEN + 12)?;
            let mut state = SlotState { capacity, booked: 0, bookings: BTreeMap::new() };
            let mut previous_customer: Option<UserId> = None;
            for _ in 0..booking_count {
                let customer = reader.user()?;
                if previous_customer.is_some_and(|previous| previous >= customer) {
                    return Err(DecodeError::Invalid("snapshot bookings not strictly ascending"));
                }
                previous_customer = Some(customer);
                let tickets = reader.u32()?;
                let booking_seq = reader.u64()?;
                state.booked = state.booked.checked_add(tickets).ok_or(DecodeError::Invalid("snapshot oversells"))?;
                state.bookings.insert(customer, Booking { tickets, booking_seq });
                theatre.by_customer.entry(customer).or_default().insert((slot.movie_id, slot.movie));
            }
            theatre.slots.insert(slot, state);
        }
        reader.finish()?;
        theatre.check_invariants().map_err(|_| DecodeError::Invalid("snapshot breaks a theatre invariant"))?;
        Ok(theatre)
    }
}
