//! The history checker of the tracked workload: given every request the workload sent with its answer, and the
//! service's final state read back after the run, it says whether the service kept its promises (replication.md,
//! "Guarantees the tests must demonstrate").
//!
//! It checks, per customer and slot, that the tickets held (in every schedule read during the run and at the end)
//! lie within what the customer's own acknowledged requests allow: exactly the acknowledged books minus cancels plus
//! exchanges, widened only by requests whose outcome is unknown (a SOAP fault or a timeout; counted and reported
//! separately, and zero in a healthy run). It checks that each answer is one the history permits (a cancel refused
//! for want of tickets the customer certainly held is a lost update), that no slot is listed twice in a schedule,
//! and that every slot conserves seats (capacity = available + tickets held). Replica digests are compared by
//! [`check_digests`].
//!
//! The model is exact because each customer is driven by one workload task, one request at a time, so a customer's
//! requests are ordered; customers only book in their home theatre, so no cross-customer rule (other-area limit)
//! decides an answer except seat availability (`SOLD_OUT`, which the checker accepts for any booking).
//!
//! Deliberately pure: no I/O, no clock. Slots and customers are indices into the workload's plan.

use booking::ResultCode;
use std::collections::BTreeMap;
use std::fmt;

/// What one request asked for. Slot indices name the plan's slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Book {
        slot: usize,
        tickets: u32,
    },
    Cancel {
        slot: usize,
        tickets: u32,
    },
    Exchange {
        from: usize,
        to: usize,
        tickets: u32,
    },
    /// `getBookingSchedule` of the customer.
    Schedule,
    /// `listMovieShowsAvailability` (its figures depend on other customers, so only its code is checked).
    List,
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `success = true` (for `Schedule`, see [`Answer::Schedule`]).
    Ok,
    /// A domain rejection with its code.
    Rejected(ResultCode),
    /// A schedule: `(slot, tickets)` per entry, plus the number of entries naming a slot outside the plan.
    Schedule { entries: Vec<(usize, u32)>, foreign: usize },
    /// No answer: a SOAP fault, a transport error or a timeout. The request may or may not have taken effect.
    Unknown(String),
}

/// One request of one customer, in that customer's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub customer: usize,
    pub action: Action,
    pub answer: Answer,
}

/// What the service holds after the run, read through SOAP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinalState {
    /// Every tracked customer's schedule (index = customer), as `(slot, tickets)` entries; `None` when it could
    /// not be read.
    pub schedules: Vec<Option<Vec<(usize, u32)>>>,
    /// Every planned slot's `(capacity, available)` from the listings (index = slot); `None` when not listed.
    pub slots: Vec<Option<(u32, u32)>>,
}

/// A broken promise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A rejection the workload cannot cause (e.g. `SLOT_NOT_FOUND` for a slot it created).
    UnexpectedRejection { customer: usize, request: usize, action: Action, code: ResultCode },
    /// An answer the customer's acknowledged history rules out (e.g. `NOT_ENOUGH_TICKETS` while it certainly held
    /// enough, or a cancel acknowledged while it certainly held too few).
    ImpossibleAnswer { customer: usize, request: usize, action: Action, detail: String },
    /// A schedule (read during the run, or at the end) holds a ticket count the history does not allow.
    TicketsOutOfRange { customer: usize, slot: usize, low: u32, high: u32, found: u32, at: When },
    /// A schedule lists the same slot twice.
    DuplicateEntry { customer: usize, slot: usize, at: When },
    /// A schedule names a slot the workload never created.
    ForeignEntry { customer: usize, at: When },
    /// `capacity != available + tickets held` for a slot.
    SeatsNotConserved { slot: usize, capacity: u32, available: u32, held: u32 },
    /// A slot's capacity is not the one the workload set.
    CapacityChanged { slot: usize, expected: u32, found: u32 },
    /// The final state could not be read completely.
    Unreadable { what: String },
    /// Replicas at the same seq with different digests, or not at the same seq at all.
    DigestsDiffer { detail: String },
}

/// Where a schedule was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// In the answer to request `request` of the history.
    During { request: usize },
    /// In the final read-back.
    Final,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::UnexpectedRejection { customer, request, action, code } => {
                write!(f, "customer #{customer}, request #{request} {action:?}: unexpected rejection {}", code.as_str())
            }
            Violation::ImpossibleAnswer { customer, request, action, detail } => {
                write!(f, "customer #{customer}, request #{request} {action:?}: impossible answer: {detail}")
            }
            Violation::TicketsOutOfRange { customer, slot, low, high, found, at } => write!(
                f,
                "customer #{customer}, slot #{slot} ({at:?}): holds {found} tickets, the history allows {low}..={high}"
            ),
            Violation::DuplicateEntry { customer, slot, at } => {
                write!(f, "customer #{customer} ({at:?}): slot #{slot} listed twice")
            }
            Violation::ForeignEntry { customer, at } => {
                write!(f, "customer #{customer} ({at:?}): a booking in a slot the workload never created")
            }
            Violation::SeatsNotConserved { slot, capacity, available, held } => write!(
                f,
                "slot #{slot}: capacity {capacity} != available {available} + held {held} (seats not conserved)"
            ),
            Violation::CapacityChanged { slot, expected, found } => {
                write!(f, "slot #{slot}: capacity {found}, the workload set {expected}")
            }
            Violation::Unreadable { what } => write!(f, "final state unreadable: {what}"),
            Violation::DigestsDiffer { detail } => write!(f, "replicas disagree: {detail}"),
        }
    }
}

/// The checker's findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub requests: u64,
    /// Answered `success = true`.
    pub acknowledged: u64,
    /// Domain rejections by code.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Requests without an answer (outcome unknown), with the first few reasons.
    pub unknown: u64,
    pub unknown_examples: Vec<String>,
    pub violations: Vec<Violation>,
}

impl Verdict {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// The range of tickets a customer may hold in a slot, given what it knows so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Range {
    low: u32,
    high: u32,
}

impl Range {
    fn contains(self, tickets: u32) -> bool {
        (self.low..=self.high).contains(&tickets)
    }

    /// `tickets` were certainly taken away (an acknowledged cancel, or the old side of an exchange): the customer
    /// held at least that many before.
    fn take(self, tickets: u32) -> Range {
        Range { low: self.low.max(tickets) - tickets, high: self.high.saturating_sub(tickets) }
    }

    /// `tickets` may or may not have been taken away.
    fn maybe_take(self, tickets: u32) -> Range {
        Range { low: self.low.saturating_sub(tickets), high: self.high }
    }
}

/// How many examples of unknown outcomes a verdict keeps.
const UNKNOWN_EXAMPLES_MAX: usize = 5;

/// Checks `history` (each customer's requests in that customer's order) against `final_state`. `capacities` holds
/// the capacity the workload gave each planned slot; `customers` is the number of tracked customers.
pub fn check(history: &[Record], capacities: &[u32], customers: usize, final_state: &FinalState) -> Verdict {
    let mut verdict = Verdict::default();
    let mut ranges: BTreeMap<(usize, usize), Range> = BTreeMap::new();
    for (index, record) in history.iter().enumerate() {
        verdict.requests += 1;
        let customer = record.customer;
        let range = |ranges: &BTreeMap<(usize, usize), Range>, slot: usize| {
            ranges.get(&(customer, slot)).copied().unwrap_or_default()
        };
        let impossible = |detail: String| Violation::ImpossibleAnswer {
            customer,
            request: index,
            action: record.action.clone(),
            detail,
        };
        match &record.answer {
            Answer::Unknown(reason) => {
                verdict.unknown += 1;
                if verdict.unknown_examples.len() < UNKNOWN_EXAMPLES_MAX {
                    verdict.unknown_examples.push(format!("#{index} {:?}: {reason}", record.action));
                }
                match record.action {
                    Action::Book { slot, tickets } => {
                        let now = range(&ranges, slot);
                        ranges.insert((customer, slot), Range { low: now.low, high: now.high + tickets });
                    }
                    Action::Cancel { slot, tickets } => {
                        ranges.insert((customer, slot), range(&ranges, slot).maybe_take(tickets));
                    }
                    Action::Exchange { from, to, tickets } => {
                        ranges.insert((customer, from), range(&ranges, from).maybe_take(tickets));
                        let now = range(&ranges, to);
                        ranges.insert((customer, to), Range { low: now.low, high: now.high + tickets });
                    }
                    Action::Schedule | Action::List => {}
                }
            }
            Answer::Ok => {
                verdict.acknowledged += 1;
                match record.action {
                    Action::Book { slot, tickets } => {
                        let now = range(&ranges, slot);
                        ranges.insert((customer, slot), Range { low: now.low + tickets, high: now.high + tickets });
                    }
                    Action::Cancel { slot, tickets } => {
                        let now = range(&ranges, slot);
                        if now.high < tickets {
                            verdict.violations.push(impossible(format!(
                                "cancel of {tickets} acknowledged while holding at most {}",
                                now.high
                            )));
                        }
                        ranges.insert((customer, slot), now.take(tickets));
                    }
                    Action::Exchange { from, to, tickets } => {
                        let now = range(&ranges, from);
                        if now.high < tickets {
                            verdict.violations.push(impossible(format!(
                                "exchange of {tickets} acknowledged while holding at most {}",
                                now.high
                            )));
                        }
                        ranges.insert((customer, from), now.take(tickets));
                        let now = range(&ranges, to);
                        ranges.insert((customer, to), Range { low: now.low + tickets, high: now.high + tickets });
                    }
                    Action::List => {}
                    Action::Schedule => {
                        verdict.violations.push(impossible("a schedule answer without its entries".to_owned()));
                    }
                }
            }
            Answer::Schedule { entries, foreign } => {
                verdict.acknowledged += 1;
                if record.action != Action::Schedule {
                    verdict.violations.push(impossible("a schedule answer to another operation".to_owned()));
                    continue;
                }
                let at = When::During { request: index };
                if *foreign > 0 {
                    verdict.violations.push(Violation::ForeignEntry { customer, at });
                }
                let seen = compare_schedule(customer, entries, &ranges, at, &mut verdict.violations);
                // The read pins every slot of this customer to what it showed.
                let slots: Vec<usize> =
                    ranges.range((customer, 0)..=(customer, usize::MAX)).map(|(&(_, slot), _)| slot).collect();
                for slot in slots {
                    let tickets = seen.get(&slot).copied().unwrap_or(0);
                    ranges.insert((customer, slot), Range { low: tickets, high: tickets });
                }
                for (&slot, &tickets) in &seen {
                    ranges.insert((customer, slot), Range { low: tickets, high: tickets });
                }
            }
            Answer::Rejected(code) => {
                *verdict.rejected.entry(code.as_str()).or_default() += 1;
                match (&record.action, code) {
                    // Seats are shared with other customers: any booking may find the slot full.
                    (Action::Book { .. } | Action::Exchange { .. }, ResultCode::SoldOut) => {}
                    (Action::Cancel { slot, tickets } | Action::Exchange { from: slot, tickets, .. }, code)
                        if matches!(code, ResultCode::NoBooking | ResultCode::NotEnoughTickets) =>
                    {
                        let now = range(&ranges, *slot);
                        // NO_BOOKING: held nothing. NOT_ENOUGH_TICKETS: held 1..tickets-1.
                        let allowed = if *code == ResultCode::NoBooking {
                            Range { low: 0, high: 0 }
                        } else {
                            Range { low: 1, high: tickets - 1 }
                        };
                        let low = now.low.max(allowed.low);
                        let high = now.high.min(allowed.high);
                        if low > high {
                            verdict.violations.push(impossible(format!(
                                "{} while holding {}..={} tickets",
                                code.as_str(),
                                now.low,
                                now.high
                            )));
                        } else {
                            ranges.insert((customer, *slot), Range { low, high });
                        }
                    }
                    (action, code) => verdict.violations.push(Violation::UnexpectedRejection {
                        customer,
                        request: index,
                        action: action.clone(),
                        code: *code,
                    }),
                }
            }
        }
    }
    check_final(&ranges, capacities, customers, final_state, &mut verdict.violations);
    verdict
}

/// Compares one schedule with the allowed ranges; returns it as slot → tickets (first entry wins on duplicates).
fn compare_schedule(
    customer: usize,
    entries: &[(usize, u32)],
    ranges: &BTreeMap<(usize, usize), Range>,
    at: When,
    violations: &mut Vec<Violation>,
) -> BTreeMap<usize, u32> {
    let mut seen = BTreeMap::new();
    for &(slot, tickets) in entries {
        if seen.insert(slot, tickets).is_some() {
            violations.push(Violation::DuplicateEntry { customer, slot, at });
        }
    }
    let known = ranges.range((customer, 0)..=(customer, usize::MAX)).map(|(&(_, slot), &range)| (slot, range));
    let mut slots: BTreeMap<usize, Range> = known.collect();
    for &slot in seen.keys() {
        slots.entry(slot).or_default();
    }
    for (slot, range) in slots {
        let found = seen.get(&slot).copied().unwrap_or(0);
        if !range.contains(found) {
            violations.push(Violation::TicketsOutOfRange {
                customer,
                slot,
                low: range.low,
                high: range.high,
                found,
                at,
            });
        }
    }
    seen
}

fn check_final(
    ranges: &BTreeMap<(usize, usize), Range>,
    capacities: &[u32],
    customers: usize,
    final_state: &FinalState,
    violations: &mut Vec<Violation>,
) {
    let mut held = vec![0u32; capacities.len()];
    for customer in 0..customers {
        match final_state.schedules.get(customer).and_then(Option::as_ref) {
            Some(entries) => {
                for (slot, tickets) in compare_schedule(customer, entries, ranges, When::Final, violations) {
                    if let Some(total) = held.get_mut(slot) {
                        *total += tickets;
                    } else {
                        violations.push(Violation::ForeignEntry { customer, at: When::Final });
                    }
                }
            }
            None => violations.push(Violation::Unreadable { what: format!("schedule of customer #{customer}") }),
        }
    }
    for (slot, &expected) in capacities.iter().enumerate() {
        match final_state.slots.get(slot).copied().flatten() {
            Some((capacity, available)) => {
                if capacity != expected {
                    violations.push(Violation::CapacityChanged { slot, expected, found: capacity });
                }
                if u64::from(capacity) != u64::from(available) + u64::from(held[slot]) {
                    violations.push(Violation::SeatsNotConserved { slot, capacity, available, held: held[slot] });
                }
            }
            None => violations.push(Violation::Unreadable { what: format!("slot #{slot} is not listed") }),
        }
    }
}

/// One replica's position and state digest, as its control address reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaState {
    pub replica_id: u16,
    /// The next seq the replica expects (it executed everything before).
    pub next_expected: u64,
    pub digest: [u8; 32],
}

/// `replica 1 at seq 123 digest 0a1b2c3d4e5f6a7b`.
impl std::fmt::Display for ReplicaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "replica {} at seq {} digest {}", self.replica_id, self.next_expected - 1, hex8(&self.digest))
    }
}

/// `None` when every replica is at the same seq with the same digest (and there is at least one).
pub fn check_digests(states: &[ReplicaState]) -> Option<Violation> {
    let first = states.first()?;
    let agree = states.iter().all(|state| state.next_expected == first.next_expected && state.digest == first.digest);
    (!agree).then(|| Violation::DigestsDiffer {
        detail: states.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
    })
}

/// The first 8 bytes of a digest in hex, enough to tell digests apart in a report.
pub fn hex8(digest: &[u8; 32]) -> String {
    digest[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTS: [u32; 2] = [100, 5];

    fn record(customer: usize, action: Action, answer: Answer) -> Record {
        Record { customer, action, answer }
    }

    fn book(slot: usize, tickets: u32) -> Action {
        Action::Book { slot, tickets }
    }

    fn cancel(slot: usize, tickets: u32) -> Action {
        Action::Cancel { slot, tickets }
    }

    /// A final state where customer `c` holds `held[c]` and every slot's availability matches.
    fn final_state(held: &[Vec<(usize, u32)>]) -> FinalState {
        let mut booked = vec![0u32; SLOTS.len()];
        for entries in held {
            for &(slot, tickets) in entries {
                booked[slot] += tickets;
            }
        }
        FinalState {
            schedules: held.iter().cloned().map(Some).collect(),
            slots: SLOTS.iter().zip(&booked).map(|(&capacity, &taken)| Some((capacity, capacity - taken))).collect(),
        }
    }

    /// Two customers: 0 books 3 and cancels 1 in slot 0, exchanges 1 to slot 1; 1 books 2 in slot 1, and reads.
    fn healthy_history() -> Vec<Record> {
        vec![
            record(0, book(0, 3), Answer::Ok),
            record(1, book(1, 2), Answer::Ok),
            record(0, cancel(0, 1), Answer::Ok),
            record(1, Action::Schedule, Answer::Schedule { entries: vec![(1, 2)], foreign: 0 }),
            record(0, Action::Exchange { from: 0, to: 1, tickets: 1 }, Answer::Ok),
            record(1, book(1, 4), Answer::Rejected(ResultCode::SoldOut)),
            record(0, cancel(1, 5), Answer::Rejected(ResultCode::NotEnoughTickets)),
            record(1, cancel(0, 1), Answer::Rejected(ResultCode::NoBooking)),
            record(0, Action::List, Answer::Ok),
        ]
    }

    fn healthy_final() -> FinalState {
        final_state(&[vec![(0, 1), (1, 1)], vec![(1, 2)]])
    }

    #[test]
    fn a_consistent_history_has_no_violation() {
        let verdict = check(&healthy_history(), &SLOTS, 2, &healthy_final());
        assert_eq!(verdict.violations, vec![]);
        assert_eq!((verdict.requests, verdict.acknowledged, verdict.unknown), (9, 6, 0));
        assert_eq!(verdict.rejected_total(), 3);
        assert_eq!(verdict.rejected["SOLD_OUT"], 1);
    }

    #[test]
    fn a_lost_acknowledged_booking_is_caught() {
        let verdict = check(&healthy_history(), &SLOTS, 2, &final_state(&[vec![(1, 1)], vec![(1, 2)]]));
        assert!(
            verdict.violations.contains(&Violation::TicketsOutOfRange {
                customer: 0,
                slot: 0,
                low: 1,
                high: 1,
                found: 0,
                at: When::Final
            }),
            "{:?}",
            verdict.violations
        );
    }

    #[test]
    fn a_booking_applied_twice_is_caught() {
        let verdict = check(&healthy_history(), &SLOTS, 2, &final_state(&[vec![(0, 1), (1, 1)], vec![(1, 4)]]));
        assert!(
            verdict.violations.iter().any(|violation| matches!(
                violation,
                Violation::TicketsOutOfRange { customer: 1, slot: 1, found: 4, at: When::Final, .. }
            )),
            "{:?}",
            verdict.violations
        );
    }

    #[test]
    fn seats_that_vanish_are_caught() {
        let mut state = healthy_final();
        state.slots[1] = Some((5, 1)); // 3 held + 1 available != 5
        let verdict = check(&healthy_history(), &SLOTS, 2, &state);
        assert_eq!(
            verdict.violations,
            vec![Violation::SeatsNotConserved { slot: 1, capacity: 5, available: 1, held: 3 }]
        );
        state.slots[0] = Some((90, 89));
        let verdict = check(&healthy_history(), &SLOTS, 2, &state);
        assert!(verdict.violations.contains(&Violation::CapacityChanged { slot: 0, expected: 100, found: 90 }));
    }

    #[test]
    fn duplicated_and_foreign_entries_are_caught() {
        let mut state = healthy_final();
        state.schedules[1] = Some(vec![(1, 2), (1, 2)]);
        let verdict = check(&healthy_history(), &SLOTS, 2, &state);
        assert!(verdict.violations.contains(&Violation::DuplicateEntry { customer: 1, slot: 1, at: When::Final }));
        let mut history = healthy_history();
        history[3].answer = Answer::Schedule { entries: vec![(1, 2)], foreign: 1 };
        let verdict = check(&history, &SLOTS, 2, &healthy_final());
        assert_eq!(verdict.violations, vec![Violation::ForeignEntry { customer: 1, at: When::During { request: 3 } }]);
    }

    #[test]
    fn answers_the_history_rules_out_are_caught() {
        // Customer 0 certainly holds 3 tickets in slot 0: NOT_ENOUGH_TICKETS for 2 is a lost update.
        let history = vec![
            record(0, book(0, 3), Answer::Ok),
            record(0, cancel(0, 2), Answer::Rejected(ResultCode::NotEnoughTickets)),
        ];
        let verdict = check(&history, &SLOTS, 1, &final_state(&[vec![(0, 3)]]));
        assert!(matches!(verdict.violations[..], [Violation::ImpossibleAnswer { customer: 0, request: 1, .. }]));
        // A cancel acknowledged for tickets never booked.
        let history = vec![record(0, cancel(0, 1), Answer::Ok)];
        let verdict = check(&history, &SLOTS, 1, &final_state(&[vec![]]));
        assert!(matches!(verdict.violations[..], [Violation::ImpossibleAnswer { .. }]));
        // A rejection the workload cannot cause.
        let history = vec![record(0, book(0, 1), Answer::Rejected(ResultCode::SlotNotFound))];
        let verdict = check(&history, &SLOTS, 1, &final_state(&[vec![]]));
        assert!(matches!(
            verdict.violations[..],
            [Violation::UnexpectedRejection { code: ResultCode::SlotNotFound, .. }]
        ));
        // A schedule read during the run that shows a booking that was never made.
        let history = vec![
            record(0, book(0, 1), Answer::Ok),
            record(0, Action::Schedule, Answer::Schedule { entries: vec![(0, 2)], foreign: 0 }),
        ];
        let verdict = check(&history, &SLOTS, 1, &final_state(&[vec![(0, 2)]]));
        assert_eq!(
            verdict.violations,
            vec![Violation::TicketsOutOfRange {
                customer: 0,
                slot: 0,
                low: 1,
                high: 1,
                found: 2,
                at: When::During { request: 1 }
            }]
        );
    }

    #[test]
    fn unknown_outcomes_widen_the_range_and_are_counted() {
        let history = vec![
            record(0, book(0, 2), Answer::Ok),
            record(0, book(0, 1), Answer::Unknown("SOAP fault SERVICE_UNAVAILABLE".to_owned())),
            record(0, cancel(0, 1), Answer::Unknown("timeout".to_owned())),
        ];
        for held in [1, 2, 3] {
            let verdict = check(&history, &SLOTS, 1, &final_state(&[vec![(0, held)]]));
            assert_eq!(verdict.violations, vec![], "holding {held}");
            assert_eq!(verdict.unknown, 2);
            assert_eq!(verdict.unknown_examples.len(), 2);
        }
        let verdict = check(&history, &SLOTS, 1, &final_state(&[vec![(0, 4)]]));
        assert_eq!(verdict.violations.len(), 1);
        // A later read pins the range again: after it, the history is exact.
        let mut pinned = history.clone();
        pinned.push(record(0, Action::Schedule, Answer::Schedule { entries: vec![(0, 3)], foreign: 0 }));
        let verdict = check(&pinned, &SLOTS, 1, &final_state(&[vec![(0, 2)]]));
        assert!(matches!(verdict.violations[..], [Violation::TicketsOutOfRange { low: 3, high: 3, found: 2, .. }]));
    }

    #[test]
    fn a_missing_final_read_is_a_violation() {
        let mut state = healthy_final();
        state.schedules[0] = None;
        state.slots[1] = None;
        let verdict = check(&healthy_history(), &SLOTS, 2, &state);
        assert_eq!(verdict.violations.iter().filter(|v| matches!(v, Violation::Unreadable { .. })).count(), 2);
    }

    #[test]
    fn digests_must_agree_at_the_same_seq() {
        let state = |replica_id, next_expected, byte| ReplicaState { replica_id, next_expected, digest: [byte; 32] };
        assert_eq!(check_digests(&[state(1, 10, 7), state(2, 10, 7), state(3, 10, 7)]), None);
        assert!(check_digests(&[state(1, 10, 7), state(2, 10, 8)]).is_some());
        assert!(check_digests(&[state(1, 10, 7), state(2, 11, 7)]).is_some());
    }
}
