//! The tracked booking workload of `cineflix chaos` and `cineflix demo`: K client tasks over keep-alive SOAP
//! connections, each owning its own customers (so each customer's requests are ordered), booking, cancelling,
//! exchanging and reading on slots the workload created, and recording every request with its answer (acknowledged,
//! rejected with a code, or unknown). After the run, [`read_final`] reads the service's state back through SOAP and
//! [`history::check`] judges it.
//!
//! Deliberately not here: the verdict's rules (`history`, pure), starting deployments or injecting faults
//! (`deployment`), and throughput measurement (`cineflix bench` is the load generator for figures; this workload
//! trades speed for a checkable history: small ticket counts, per-customer state, every answer kept).

pub mod deployment;
pub mod history;

use crate::bench::Rng;
use crate::client::{CallError, Connection, Endpoint, RequestHead, connect, interpret, send};
use crate::outcome::movie_id_text;
use booking::{Body, Date, MovieId, Operation, Request, ResultCode, SlotLetter, TheatreCode};
use bytes::Bytes;
use history::{Action, Answer, FinalState, Record};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Capacity of the roomy slots: never the reason a booking fails in a run of hours.
pub const ROOMY_CAPACITY: u32 = 10_000;
/// Capacity of the one contended slot per theatre: customers compete for it, so `SOLD_OUT` answers occur.
pub const CONTENDED_CAPACITY: u32 = 8;
/// A customer holding this many tickets cancels rather than books, so ticket counts stay small in long runs.
const TICKETS_HELD_SOFT_MAX: u32 = 12;
/// Pause after a failed connect, so a dead front end is not spun on.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);
/// Attempts per read of the final state (reads change nothing, so asking again is honest).
const FINAL_READ_ATTEMPTS: u32 = 5;
/// The user that lists availability at the end (any customer may; this one is never tracked).
const LISTING_USER: &str = "ATWC0999";

/// One slot the workload creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSlot {
    pub movie_id: String,
    pub movie_name: &'static str,
    pub theatre: usize,
    pub capacity: u32,
}

/// One tracked customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedCustomer {
    pub id: String,
    pub theatre: usize,
    /// The task that drives it (and no other).
    pub task: usize,
}

/// The slots and customers of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub slots: Vec<PlannedSlot>,
    pub customers: Vec<PlannedCustomer>,
    pub tasks: usize,
    /// `(movie ID, movie)` → slot index.
    slot_index: BTreeMap<(String, &'static str), usize>,
}

impl Plan {
    /// Four slots per theatre on the next two days (three roomy, one contended) and `customers_per_task` customers
    /// per task, dealt over the theatres. Shows lie tomorrow and the day after, so a run that crosses midnight never
    /// meets `PAST_SHOW`.
    pub fn new(today: jiff::civil::Date, tasks: usize, customers_per_task: usize) -> Plan {
        assert!(tasks > 0 && customers_per_task > 0, "a workload needs tasks and customers");
        assert!(tasks * customers_per_task <= 8_000, "customer numbers must fit in four digits above 1000");
        let day = |days: i64| Date(today.checked_add(jiff::Span::new().days(days)).expect("a date within a week"));
        let shapes = [
            (SlotLetter::Morning, 1, "Avatar", ROOMY_CAPACITY),
            (SlotLetter::Evening, 1, "Avatar", ROOMY_CAPACITY),
            (SlotLetter::Afternoon, 2, "Titanic", ROOMY_CAPACITY),
            (SlotLetter::Evening, 2, "Avengers", CONTENDED_CAPACITY),
        ];
        let mut slots = Vec::new();
        for theatre in TheatreCode::ALL {
            for (slot, days, movie_name, capacity) in shapes {
                let movie_id = movie_id_text(&MovieId { theatre, slot, date: day(days) });
                slots.push(PlannedSlot { movie_id, movie_name, theatre: theatre.index(), capacity });
            }
        }
        let customers = (0..tasks * customers_per_task)
            .map(|index| {
                let theatre = index % 3;
                PlannedCustomer {
                    id: format!("{}C{:04}", TheatreCode::ALL[theatre].as_str(), 1000 + index),
                    theatre,
                    task: index % tasks,
                }
            })
            .collect();
        let slot_index =
            slots.iter().enumerate().map(|(index, slot)| ((slot.movie_id.clone(), slot.movie_name), index)).collect();
        Plan { slots, customers, tasks, slot_index }
    }

    pub fn capacities(&self) -> Vec<u32> {
        self.slots.iter().map(|slot| slot.capacity).collect()
    }

    fn index_of(&self, movie_id: &MovieId, movie: booking::Movie) -> Option<usize> {
        self.slot_index.get(&(movie_id_text(movie_id), movie.as_str())).copied()
    }

    fn home_slots(&self, theatre: usize) -> Vec<usize> {
        (0..self.slots.len()).filter(|&slot| self.slots[slot].theatre == theatre).collect()
    }

    /// The `addMovieSlots` requests that create the plan's slots.
    fn setup_requests(&self) -> Vec<Request> {
        self.slots
            .iter()
            .map(|slot| Request {
                user_id: format!("{}A0001", TheatreCode::ALL[slot.theatre].as_str()),
                operation: Operation::AddMovieSlots {
                    movie_id: slot.movie_id.clone(),
                    movie_name: slot.movie_name.to_owned(),
                    booking_capacity: slot.capacity as i32,
                },
            })
            .collect()
    }

    /// The request for `action` of `customer`.
    pub fn request(&self, customer: usize, action: &Action) -> Request {
        let id = self.customers[customer].id.clone();
        let slot = |index: usize| (self.slots[index].movie_id.clone(), self.slots[index].movie_name.to_owned());
        let operation = match *action {
            Action::Book { slot: index, tickets } => {
                let (movie_id, movie_name) = slot(index);
                Operation::BookMovieTickets {
                    customer_id: id.clone(),
                    movie_id,
                    movie_name,
                    number_of_tickets: tickets as i32,
                }
            }
            Action::Cancel { slot: index, tickets } => {
                let (movie_id, movie_name) = slot(index);
                Operation::CancelMovieTickets {
                    customer_id: id.clone(),
                    movie_id,
                    movie_name,
                    number_of_tickets: tickets as i32,
                }
            }
            Action::Exchange { from, to, tickets } => {
                let (movie_id, movie_name) = slot(from);
                let (new_movie_id, new_movie_name) = slot(to);
                Operation::ExchangeTickets {
                    customer_id: id.clone(),
                    movie_id,
                    movie_name,
                    new_movie_id,
                    new_movie_name,
                    number_of_tickets: tickets as i32,
                }
            }
            Action::Schedule => Operation::GetBookingSchedule { customer_id: id.clone() },
            Action::List => {
                let movie = self.slots[self.customers[customer].theatre * 4].movie_name;
                Operation::ListMovieShowsAvailability { movie_name: movie.to_owned() }
            }
        };
        Request { user_id: id, operation }
    }

    /// The history's view of an answer.
    fn answer(&self, action: &Action, result: Result<soap::ClientResponse, CallError>) -> Answer {
        match result {
            Err(error) => Answer::Unknown(error.to_string()),
            Ok(answer) if !answer.response.success() => Answer::Rejected(answer.response.code),
            Ok(answer) => match (action, answer.response.body) {
                (Action::Schedule, Body::Schedule(entries)) => {
                    let mut known = Vec::new();
                    let mut foreign = 0;
                    for entry in entries {
                        match self.index_of(&entry.movie_id, entry.movie) {
                            Some(slot) => known.push((slot, entry.tickets)),
                            None => foreign += 1,
                        }
                    }
                    Answer::Schedule { entries: known, foreign }
                }
                _ => Answer::Ok,
            },
        }
    }
}

/// One SOAP connection that reconnects when it breaks.
struct Caller {
    endpoint: Endpoint,
    head: RequestHead,
    timeout: Duration,
    connection: Option<Connection>,
}

impl Caller {
    fn new(endpoint: &Endpoint, timeout: Duration) -> Result<Caller, String> {
        let head = RequestHead::new(endpoint, soap::SoapVersion::V11).map_err(|error| error.to_string())?;
        Ok(Caller { endpoint: endpoint.clone(), head, timeout, connection: None })
    }

    async fn call(&mut self, request: &Request) -> Result<soap::ClientResponse, CallError> {
        let envelope = Bytes::from(soap::build_request(soap::SoapVersion::V11, request));
        let exchange = async {
            if self.connection.is_none() {
                match connect(&self.endpoint).await {
                    Ok(connection) => self.connection = Some(connection),
                    Err(error) => {
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                        return Err(error);
                    }
                }
            }
            let connection = self.connection.as_mut().expect("connected just above");
            send(connection, &mut self.head, request.operation.name(), envelope).await
        };
        let answer = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((status, body))) => interpret(status, &body),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(CallError::Timeout(self.timeout)),
        };
        if matches!(answer, Err(CallError::Transport(_) | CallError::Timeout(_))) {
            // The connection may hold a half-finished exchange: start the next request on a fresh one.
            self.connection = None;
        }
        answer
    }
}

/// Running totals, readable while the workload runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub requests: AtomicU64,
    pub acknowledged: AtomicU64,
    pub rejected: AtomicU64,
    pub unknown: AtomicU64,
}

/// A snapshot of [`Progress`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub acknowledged: u64,
    pub rejected: u64,
    pub unknown: u64,
}

impl Progress {
    pub fn counts(&self) -> Counts {
        Counts {
            requests: self.requests.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            unknown: self.unknown.load(Ordering::Relaxed),
        }
    }

    fn count(&self, answer: &Answer) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match answer {
            Answer::Ok | Answer::Schedule { .. } => &self.acknowledged,
            Answer::Rejected(_) => &self.rejected,
            Answer::Unknown(_) => &self.unknown,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Creates the plan's slots (each must be acknowledged).
pub fn setup(endpoint: &Endpoint, plan: &Plan, timeout: Duration) -> Result<(), String> {
    let runtime = current_thread_runtime()?;
    runtime.block_on(async {
        let mut caller = Caller::new(endpoint, timeout)?;
        for request in plan.setup_requests() {
            match caller.call(&request).await {
                Ok(answer) if answer.response.success() => {}
                Ok(answer) => {
                    return Err(format!("{:?}: {}", request.operation, answer.response.code.as_str()));
                }
                Err(error) => return Err(format!("{:?}: {error}", request.operation)),
            }
        }
        Ok(())
    })
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start a runtime: {error}"))
}

/// The running workload: one thread with a single-threaded runtime driving every task (the load is latency-bound,
/// not CPU-bound, and one thread leaves the other core to the cluster).
pub struct Workload {
    stop: Arc<AtomicBool>,
    pub progress: Arc<Progress>,
    thread: std::thread::JoinHandle<Vec<Record>>,
}

impl Workload {
    /// Starts every task of `plan` against `endpoint`; each request waits at most `timeout` for its answer.
    pub fn start(endpoint: &Endpoint, plan: Arc<Plan>, seed: u64, timeout: Duration) -> Result<Workload, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(Progress::default());
        let runtime = current_thread_runtime()?;
        let callers = (0..plan.tasks).map(|_| Caller::new(endpoint, timeout)).collect::<Result<Vec<_>, String>>()?;
        let thread = std::thread::spawn({
            let stop = stop.clone();
            let progress = progress.clone();
            move || {
                runtime.block_on(async {
                    let tasks: Vec<_> = callers
                        .into_iter()
                        .enumerate()
                        .map(|(task, caller)| {
                            let driver = TaskDriver::new(plan.clone(), task, seed);
                            tokio::spawn(driver.run(caller, stop.clone(), progress.clone()))
                        })
                        .collect();
                    let mut records = Vec::new();
                    for task in tasks {
                        // A panicking task is a bug in this module; its records are lost, which the final check
                        // would then report as out-of-range tickets rather than hide.
                        if let Ok(mut task_records) = task.await {
                            records.append(&mut task_records);
                        }
                    }
                    records
                })
            }
        });
        Ok(Workload { stop, progress, thread })
    }

    /// Stops starting requests, waits for those in flight, and returns the whole history.
    pub fn stop(self) -> Vec<Record> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// One task's choices and its belief of what its customers hold (from its own answers).
struct TaskDriver {
    plan: Arc<Plan>,
    rng: Rng,
    customers: Vec<usize>,
    /// Per customer (index into `customers`): slot → tickets held, as the answers say.
    held: Vec<BTreeMap<usize, u32>>,
    /// Per customer: an answer left its holdings uncertain; read the schedule before acting again.
    uncertain: Vec<bool>,
}

impl TaskDriver {
    fn new(plan: Arc<Plan>, task: usize, seed: u64) -> TaskDriver {
        let customers: Vec<usize> = (0..plan.customers.len()).filter(|&c| plan.customers[c].task == task).collect();
        let count = customers.len();
        TaskDriver {
            plan,
            rng: Rng::new(seed ^ (task as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            customers,
            held: vec![BTreeMap::new(); count],
            uncertain: vec![false; count],
        }
    }

    async fn run(mut self, mut caller: Caller, stop: Arc<AtomicBool>, progress: Arc<Progress>) -> Vec<Record> {
        let mut records = Vec::new();
        while !stop.load(Ordering::Relaxed) && !self.customers.is_empty() {
            let local = self.rng.below(self.customers.len() as u64) as usize;
            let action = self.choose(local);
            let customer = self.customers[local];
            let request = self.plan.request(customer, &action);
            let result = caller.call(&request).await;
            let answer = self.plan.answer(&action, result);
            self.learn(local, &action, &answer);
            progress.count(&answer);
            records.push(Record { customer, action, answer });
        }
        records
    }

    fn choose(&mut self, local: usize) -> Action {
        if self.uncertain[local] {
            return Action::Schedule;
        }
        let theatre = self.plan.customers[self.customers[local]].theatre;
        let home = self.plan.home_slots(theatre);
        let held: Vec<(usize, u32)> = self.held[local].iter().map(|(&slot, &tickets)| (slot, tickets)).collect();
        let total: u32 = held.iter().map(|(_, tickets)| tickets).sum();
        let roll = self.rng.below(100);
        let random_home = |rng: &mut Rng| home[rng.below(home.len() as u64) as usize];
        if roll < 5 {
            return Action::List;
        }
        if roll < 25 {
            return Action::Schedule;
        }
        if held.is_empty() || (roll >= 60 && total < TICKETS_HELD_SOFT_MAX) {
            let tickets = 1 + self.rng.below(2) as u32;
            return Action::Book { slot: random_home(&mut self.rng), tickets };
        }
        let (slot, tickets_held) = held[self.rng.below(held.len() as u64) as usize];
        if roll < 45 || total >= TICKETS_HELD_SOFT_MAX {
            let tickets = 1 + self.rng.below(u64::from(tickets_held.min(2))) as u32;
            return Action::Cancel { slot, tickets };
        }
        let mut to = random_home(&mut self.rng);
        if to == slot {
            to = home[(home.iter().position(|&s| s == slot).expect("a home slot") + 1) % home.len()];
        }
        Action::Exchange { from: slot, to, tickets: 1 }
    }

    fn learn(&mut self, local: usize, action: &Action, answer: &Answer) {
        let held = &mut self.held[local];
        let mut add = |slot: usize, delta: i64| {
            let now = i64::from(held.get(&slot).copied().unwrap_or(0)) + delta;
            if now > 0 {
                held.insert(slot, now as u32);
            } else {
                held.remove(&slot);
            }
        };
        match (action, answer) {
            (_, Answer::Unknown(_)) => self.uncertain[local] = true,
            (Action::Book { slot, tickets }, Answer::Ok) => add(*slot, i64::from(*tickets)),
            (Action::Cancel { slot, tickets }, Answer::Ok) => add(*slot, -i64::from(*tickets)),
            (Action::Exchange { from, to, tickets }, Answer::Ok) => {
                add(*from, -i64::from(*tickets));
                add(*to, i64::from(*tickets));
            }
            (Action::Schedule, Answer::Schedule { entries, .. }) => {
                held.clear();
                for &(slot, tickets) in entries {
                    held.insert(slot, tickets);
                }
                self.uncertain[local] = false;
            }
            (_, Answer::Rejected(ResultCode::SoldOut)) => {}
            // Any other rejection means the belief was wrong (the checker judges whether it could be): re-read.
            (_, Answer::Rejected(_)) => self.uncertain[local] = true,
            _ => {}
        }
    }
}

/// Sends one request of `customer` outside the running tasks (the demos' hand-driven steps) and returns its record.
pub fn call_once(endpoint: &Endpoint, plan: &Plan, customer: usize, action: Action, timeout: Duration) -> Record {
    let request = plan.request(customer, &action);
    let result = current_thread_runtime().map_err(CallError::Transport).and_then(|runtime| {
        runtime.block_on(async {
            let mut caller = Caller::new(endpoint, timeout).map_err(CallError::Transport)?;
            caller.call(&request).await
        })
    });
    let answer = plan.answer(&action, result);
    Record { customer, action, answer }
}

/// Reads every tracked customer's schedule and every planned slot's availability through SOAP.
pub fn read_final(endpoint: &Endpoint, plan: &Plan, timeout: Duration) -> FinalState {
    let Ok(runtime) = current_thread_runtime() else { return FinalState::default() };
    runtime.block_on(async {
        let Ok(mut caller) = Caller::new(endpoint, timeout) else { return FinalState::default() };
        let mut schedules = Vec::with_capacity(plan.customers.len());
        for customer in 0..plan.customers.len() {
            let request = plan.request(customer, &Action::Schedule);
            let mut read = None;
            for _ in 0..FINAL_READ_ATTEMPTS {
                if let Answer::Schedule { entries, foreign } =
                    plan.answer(&Action::Schedule, caller.call(&request).await)
                {
                    // A foreign entry is reported as a slot index past the plan, which the checker flags.
                    let mut entries = entries;
                    entries.extend((0..foreign).map(|_| (usize::MAX, 1)));
                    read = Some(entries);
                    break;
                }
            }
            schedules.push(read);
        }
        let mut slots = vec![None; plan.slots.len()];
        let mut movies: Vec<&'static str> = plan.slots.iter().map(|slot| slot.movie_name).collect();
        movies.sort_unstable();
        movies.dedup();
        for movie in movies {
            let request = Request {
                user_id: LISTING_USER.to_owned(),
                operation: Operation::ListMovieShowsAvailability { movie_name: movie.to_owned() },
            };
            for _ in 0..FINAL_READ_ATTEMPTS {
                if let Ok(answer) = caller.call(&request).await
                    && let Body::Shows(shows) = answer.response.body
                {
                    for show in shows {
                        if let Some(slot) = plan.index_of(&show.movie_id, show.movie) {
                            slots[slot] = Some((show.capacity, show.available));
                        }
                    }
                    break;
                }
            }
        }
        FinalState { schedules, slots }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_gives_every_customer_one_task_and_home_slots() {
        let plan = Plan::new(jiff::civil::date(2026, 12, 30), 4, 3);
        assert_eq!(plan.slots.len(), 12);
        assert_eq!(plan.customers.len(), 12);
        assert_eq!(plan.slots[0].movie_id, "ATWM311226");
        assert_eq!(plan.slots[3].movie_id, "ATWE010127");
        assert_eq!(plan.slots.iter().filter(|slot| slot.capacity == CONTENDED_CAPACITY).count(), 3);
        for task in 0..4 {
            assert_eq!(plan.customers.iter().filter(|customer| customer.task == task).count(), 3);
        }
        assert_eq!(plan.customers[4].id, "OUTC1004");
        let request = plan.request(4, &Action::Book { slot: 5, tickets: 2 });
        assert_eq!(request.user_id, "OUTC1004");
        let Operation::BookMovieTickets { movie_id, .. } = request.operation else { panic!("a booking") };
        assert!(movie_id.starts_with("OUT"));
    }

    #[test]
    fn tasks_act_only_on_what_their_customers_hold() {
        let plan = Arc::new(Plan::new(jiff::civil::date(2026, 12, 30), 2, 4));
        let mut driver = TaskDriver::new(plan.clone(), 1, 7);
        let mut model: Vec<BTreeMap<usize, u32>> = vec![BTreeMap::new(); driver.customers.len()];
        for _ in 0..2_000 {
            let local = driver.rng.below(driver.customers.len() as u64) as usize;
            let action = driver.choose(local);
            let theatre = plan.customers[driver.customers[local]].theatre;
            let answer = match action {
                Action::Book { slot, tickets } => {
                    assert_eq!(plan.slots[slot].theatre, theatre, "customers book at home");
                    *model[local].entry(slot).or_default() += tickets;
                    Answer::Ok
                }
                Action::Cancel { slot, tickets } | Action::Exchange { from: slot, tickets, .. } => {
                    let held = model[local].get(&slot).copied().unwrap_or(0);
                    assert!(held >= tickets, "{action:?} while holding {held}");
                    *model[local].get_mut(&slot).unwrap() -= tickets;
                    if let Action::Exchange { to, .. } = action {
                        assert_ne!(to, slot);
                        *model[local].entry(to).or_default() += tickets;
                    }
                    Answer::Ok
                }
                Action::Schedule => Answer::Schedule {
                    entries: model[local].iter().filter(|(_, t)| **t > 0).map(|(&s, &t)| (s, t)).collect(),
                    foreign: 0,
                },
                Action::List => Answer::Ok,
            };
            driver.learn(local, &action, &answer);
        }
        let held_max = model.iter().flat_map(|held| held.values()).max().copied().unwrap_or(0);
        assert!(held_max <= TICKETS_HELD_SOFT_MAX + 2, "tickets held stay small: {held_max}");
    }
}
