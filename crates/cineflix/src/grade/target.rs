//! The deployment under test as the cases see it: a SOAP client, fresh customers and slots of the grader's own
//! (so that cases never touch anyone else's data), and the control plane (replica manager status, fault injection,
//! replica digests, the front end's `/status`) when the configuration is known.
//!
//! Deliberately not here: expectations (the cases hold them) and booking rules. Data helpers that another tool
//! could share (fresh customers, free slots, cleanup) live here for now.

use super::{Shape, Stop, fail};
use crate::cli::GlobalArgs;
use crate::client::{Client, Endpoint};
use booking::TheatreCode;
use booking::{Date, Movie, MovieId, Operation, Request, Response, ResultCode, ScheduleEntry, Show, Slot, SlotLetter};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Fresh customer IDs tried before giving up (each must have an empty schedule).
const CUSTOMER_TRIES_MAX: usize = 200;
/// One control-plane query's bound.
const CONTROL_BOUND: Duration = Duration::from_millis(1_000);
/// Polling interval of condition waits (not a settle delay).
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The system under test.
pub struct Target {
    pub endpoint: Endpoint,
    pub client: Client,
    pub version: soap::SoapVersion,
    /// The deployment's configuration, when known: the control plane.
    pub config: Option<config::Config>,
    pub zone: jiff::tz::TimeZone,
    /// The private deployment `--local` started, if any.
    cluster: Option<cluster::Cluster>,
    /// SplitMix64 state for fresh IDs.
    seed: u64,
    /// Slots this run created or is about to create (never chosen twice).
    taken: BTreeSet<Slot>,
    /// Slots to remove at cleanup, with the admin who may.
    created: Vec<Slot>,
    /// Customers to clean up.
    customers: Vec<String>,
    /// The running case, for messages.
    pub case_id: &'static str,
    /// For control-plane calls.
    runtime: tokio::runtime::Runtime,
}

impl Target {
    pub fn new(url: &str, config: Option<config::Config>, global: &GlobalArgs) -> Result<Target, String> {
        let endpoint = Endpoint::parse(url)?;
        let version = global.soap.version();
        let client = Client::new(endpoint.clone(), version, Duration::from_millis(global.timeout_ms))
            .map_err(|error| format!("cannot start the client runtime: {error}"))?;
        let zone_name = config.as_ref().map_or(booking::time::MONTREAL_ZONE_NAME, |config| config.time.zone.as_str());
        let zone = jiff::tz::TimeZone::get(zone_name).map_err(|error| format!("time zone {zone_name}: {error}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the runtime: {error}"))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Ok(Target {
            endpoint,
            client,
            version,
            config,
            zone,
            cluster: None,
            seed: (nanos as u64) ^ (u64::from(std::process::id()) << 32),
            taken: BTreeSet::new(),
            created: Vec::new(),
            customers: Vec::new(),
            case_id: "",
            runtime,
        })
    }

    pub fn attach_cluster(&mut self, cluster: cluster::Cluster) {
        self.cluster = Some(cluster);
    }

    pub fn stop_cluster(&mut self, grace: Duration) {
        if let Some(mut cluster) = self.cluster.take() {
            cluster.stop(grace);
        }
    }

    pub fn cluster(&self) -> Option<&cluster::Cluster> {
        self.cluster.as_ref()
    }

    pub fn begin_case(&mut self, id: &'static str) {
        self.case_id = id;
    }

    pub fn shape(&self) -> Shape {
        match &self.config {
            Some(config) if config.frontend.mode == config::Mode::Replicated => Shape {
                control_plane: true,
                replicas: config.replicas.len(),
                lossy: config.faults.drop > 0.0 || config.faults.duplicate > 0.0 || config.faults.reorder > 0.0,
            },
            _ => Shape { control_plane: false, replicas: 0, lossy: false },
        }
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    // ---- SOAP ----

    /// One request; a fault or transport error fails the case.
    pub fn call(&self, user: &str, operation: Operation) -> Result<Response, Stop> {
        let request = Request { user_id: user.to_owned(), operation };
        match self.client.call(&request) {
            Ok(answer) => Ok(answer.response),
            Err(error) => fail(format!("{} by {user}: {error}", request.operation.name())),
        }
    }

    /// One request whose answer must carry `code`.
    pub fn expect(&self, user: &str, operation: Operation, code: ResultCode) -> Result<Response, Stop> {
        let name = operation.name();
        let response = self.call(user, operation)?;
        if response.code != code {
            return fail(format!("{name} by {user}: expected {} but got {}", code.as_str(), response.code.as_str()));
        }
        Ok(response)
    }

    // ---- dates and IDs ----

    /// Today in the theatres' zone, as the replicas will compute it from the sequencer's timestamp.
    pub fn today(&self) -> Date {
        let now_ms = jiff::Timestamp::now().as_millisecond();
        booking::time::today(now_ms, &self.zone)
    }

    fn next_random(&mut self) -> u64 {
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An admin of `theatre` (admins hold no state; any number will do).
    pub fn admin(&mut self, theatre: TheatreCode) -> String {
        format!("{}A{:04}", theatre.as_str(), self.next_random() % 10_000)
    }

    /// A customer of `theatre` nobody has used: a random number whose schedule is empty, not used by this run.
    pub fn customer(&mut self, theatre: TheatreCode) -> Result<String, Stop> {
        for _ in 0..CUSTOMER_TRIES_MAX {
            let id = format!("{}C{:04}", theatre.as_str(), self.next_random() % 10_000);
            if self.customers.contains(&id) {
                continue;
            }
            let schedule = self.schedule(&id)?;
            if schedule.is_empty() {
                self.customers.push(id.clone());
                return Ok(id);
            }
        }
        Err(Stop::Skip(format!("no customer of {theatre} with an empty schedule in {CUSTOMER_TRIES_MAX} tries")))
    }

    // ---- slots ----

    /// Every show of `movie` the system lists.
    pub fn listing(&self, movie: Movie) -> Result<Vec<Show>, Stop> {
        let response = self.expect(
            "ATWC0000",
            Operation::ListMovieShowsAvailability { movie_name: movie.to_string() },
            ResultCode::Ok,
        )?;
        match response.body {
            booking::Body::Shows(shows) => Ok(shows),
            other => fail(format!("listMovieShowsAvailability answered {other:?}")),
        }
    }

    /// The listed capacity and availability of `slot` (`None`: not listed).
    pub fn show(&self, slot: Slot) -> Result<Option<(u32, u32)>, Stop> {
        Ok(self
            .listing(slot.movie)?
            .into_iter()
            .find(|show| show.movie_id == slot.movie_id)
            .map(|show| (show.capacity, show.available)))
    }

    /// A slot of `theatre` on today + `day` that nobody listed and this run has not chosen, optionally of a given
    /// movie and slot letter. It is reserved for the caller but not added.
    pub fn free_slot(
        &mut self,
        theatre: TheatreCode,
        day: i32,
        movie: Option<Movie>,
        letter: Option<SlotLetter>,
    ) -> Result<Slot, Stop> {
        let date = self.today().plus_days(day);
        let first = (self.next_random() % 3) as usize;
        for index in 0..3 {
            let candidate_movie = Movie::ALL[(first + index) % 3];
            if movie.is_some_and(|wanted| wanted != candidate_movie) {
                continue;
            }
            let listed: BTreeSet<MovieId> =
                self.listing(candidate_movie)?.into_iter().map(|show| show.movie_id).collect();
            for slot_letter in SlotLetter::ALL {
                if letter.is_some_and(|wanted| wanted != slot_letter) {
                    continue;
                }
                let slot = Slot::new(candidate_movie, MovieId { theatre, slot: slot_letter, date });
                if !listed.contains(&slot.movie_id) && !self.taken.contains(&slot) {
                    self.taken.insert(slot);
                    return Ok(slot);
                }
            }
        }
        Err(Stop::Skip(format!("no free slot of {theatre} on {date} (movie {movie:?}, letter {letter:?})")))
    }

    /// Adds `slot` with `capacity` (must answer OK) and remembers it for cleanup.
    pub fn add(&mut self, slot: Slot, capacity: i32) -> Result<(), Stop> {
        let admin = self.admin(slot.theatre());
        self.expect(&admin, add_op(slot, capacity), ResultCode::Ok)?;
        if !self.created.contains(&slot) {
            self.created.push(slot);
        }
        Ok(())
    }

    /// A new slot of `theatre` on today + `day` with `capacity`.
    pub fn new_slot(&mut self, theatre: TheatreCode, day: i32, capacity: i32) -> Result<Slot, Stop> {
        let slot = self.free_slot(theatre, day, None, None)?;
        self.add(slot, capacity)?;
        Ok(slot)
    }

    /// A new slot of `theatre` with `capacity` on whichever day of the window has one free (busy systems fill a
    /// day's nine slots per theatre), starting from a day that varies per call.
    pub fn any_slot(&mut self, theatre: TheatreCode, capacity: i32) -> Result<Slot, Stop> {
        let first = (self.next_random() % 7) as i32;
        for offset in 0..8 {
            let day = 1 + (first + offset) % 7;
            if let Ok(slot) = self.free_slot(theatre, day, None, None) {
                self.add(slot, capacity)?;
                return Ok(slot);
            }
        }
        Err(Stop::Skip(format!("no free slot of {theatre} on any day of the window")))
    }

    /// Forgets a slot a case removed itself.
    pub fn forget(&mut self, slot: Slot) {
        self.created.retain(|created| *created != slot);
    }

    /// The customer's schedule.
    pub fn schedule(&self, customer: &str) -> Result<Vec<ScheduleEntry>, Stop> {
        let response =
            self.expect(customer, Operation::GetBookingSchedule { customer_id: customer.to_owned() }, ResultCode::Ok)?;
        match response.body {
            booking::Body::Schedule(entries) => Ok(entries),
            other => fail(format!("getBookingSchedule answered {other:?}")),
        }
    }

    /// Tickets `customer` holds in `slot` (0: none).
    pub fn tickets(&self, customer: &str, slot: Slot) -> Result<u32, Stop> {
        Ok(self
            .schedule(customer)?
            .into_iter()
            .find(|entry| entry.movie == slot.movie && entry.movie_id == slot.movie_id)
            .map_or(0, |entry| entry.tickets))
    }

    /// Cancels every booking of this run's customers (shows not past), then removes this run's slots.
    pub fn cleanup(&mut self) -> Result<String, Stop> {
        let today = self.today();
        let mut cancelled = 0;
        let mut problems = Vec::new();
        for customer in self.customers.clone() {
            let Ok(entries) = self.schedule(&customer) else {
                problems.push(format!("schedule of {customer} not read"));
                continue;
            };
            for entry in entries.into_iter().filter(|entry| entry.movie_id.date >= today) {
                let slot = Slot::new(entry.movie, entry.movie_id);
                match self.call(&customer, cancel_op(&customer, slot, entry.tickets as i32)) {
                    Ok(response) if response.code == ResultCode::Ok => cancelled += 1,
                    Ok(response) => problems.push(format!("cancel {slot} for {customer}: {}", response.code.as_str())),
                    Err(Stop::Fail(why) | Stop::Skip(why)) => problems.push(why),
                }
            }
        }
        let mut removed = 0;
        for slot in std::mem::take(&mut self.created) {
            if slot.date() < today {
                continue;
            }
            let admin = self.admin(slot.theatre());
            match self.call(&admin, remove_op(slot)) {
                Ok(response) if matches!(response.code, ResultCode::Ok | ResultCode::SlotNotFound) => removed += 1,
                Ok(response) => problems.push(format!("remove {slot}: {}", response.code.as_str())),
                Err(Stop::Fail(why) | Stop::Skip(why)) => problems.push(why),
            }
        }
        self.customers.clear();
        if problems.is_empty() {
            Ok(format!("{cancelled} bookings cancelled, {removed} slots removed"))
        } else {
            fail(problems.join("; "))
        }
    }

    // ---- control plane ----

    pub fn replicas(&self) -> Vec<config::ReplicaConfig> {
        self.config.as_ref().map(|config| config.replicas.clone()).unwrap_or_default()
    }

    pub fn rm_status(&self, manager: SocketAddr) -> Result<rm::status::RmStatus, String> {
        self.block_on(rm::status::query_status(manager, CONTROL_BOUND)).map_err(|error| error.to_string())
    }

    pub fn inject(&self, replica: &config::ReplicaConfig, fault: replica_api::Fault) -> Result<u64, Stop> {
        self.block_on(rm::status::inject_fault(replica.manager, fault, Duration::from_secs(3)))
            .map_err(|error| Stop::Fail(format!("fault {fault} on replica {} not confirmed: {error}", replica.id)))
    }

    /// Waits until every replica manager reports its replica serving and in the vote.
    pub fn wait_all_in_vote(&self, bound: Duration) -> Result<Vec<rm::status::RmStatus>, Stop> {
        let deadline = Instant::now() + bound;
        loop {
            let statuses: Vec<Result<rm::status::RmStatus, String>> =
                self.replicas().iter().map(|replica| self.rm_status(replica.manager)).collect();
            if statuses.iter().all(|status| status.as_ref().is_ok_and(|status| status.in_vote && status.replica_up)) {
                return Ok(statuses.into_iter().map(|status| status.expect("checked")).collect());
            }
            if Instant::now() >= deadline {
                let shown: Vec<String> = statuses
                    .iter()
                    .map(|status| match status {
                        Ok(status) => format!(
                            "r{} in_vote={} up={} phase={:?}",
                            status.replica_id, status.in_vote, status.replica_up, status.phase
                        ),
                        Err(error) => error.clone(),
                    })
                    .collect();
                return fail(format!("not every replica in the vote within {bound:?}: {}", shown.join(", ")));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until replica manager `replica` reports `replacements > before` and its new incarnation in the vote.
    pub fn wait_replaced(
        &self,
        replica: &config::ReplicaConfig,
        before: &rm::status::RmStatus,
        bound: Duration,
    ) -> Result<rm::status::RmStatus, Stop> {
        let deadline = Instant::now() + bound;
        loop {
            if let Ok(status) = self.rm_status(replica.manager)
                && status.replacements > before.replacements
                && status.incarnation > before.incarnation
                && status.in_vote
            {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return fail(format!("replica {} not replaced and back in the vote within {bound:?}", replica.id));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Each replica's `(next_expected, digest)`, asked directly over replica-api `Status`.
    pub fn replica_digests(&self) -> Vec<(u16, Result<ReplicaState, String>)> {
        let replicas = self.replicas();
        self.block_on(async {
            let mut out = Vec::new();
            for replica in &replicas {
                out.push((replica.id, replica_status(replica.replica.control).await));
            }
            out
        })
    }

    /// Waits until every replica has executed the same prefix, then compares their digests.
    pub fn digests_agree(&self, bound: Duration) -> Result<String, Stop> {
        let deadline = Instant::now() + bound;
        loop {
            let digests = self.replica_digests();
            let answered: Vec<(u16, u64, [u8; 32])> = digests
                .iter()
                .filter_map(|(id, answer)| answer.as_ref().ok().map(|(next, digest)| (*id, *next, *digest)))
                .collect();
            if answered.len() == digests.len() && answered.windows(2).all(|pair| pair[0].1 == pair[1].1) {
                let (_, next, digest) = answered[0];
                return if answered.iter().all(|(_, _, other)| *other == digest) {
                    Ok(format!("{} digests equal at seq {}", answered.len(), next - 1))
                } else {
                    let shown: Vec<String> = answered
                        .iter()
                        .map(|(id, _, digest)| format!("r{id}:{}", crate::workload::history::hex8(digest)))
                        .collect();
                    fail(format!("digests differ at seq {}: {}", next - 1, shown.join(" ")))
                };
            }
            if Instant::now() >= deadline {
                let shown: Vec<String> = digests
                    .iter()
                    .map(|(id, answer)| match answer {
                        Ok((next, digest)) => format!("r{id}@{}:{}", next - 1, crate::workload::history::hex8(digest)),
                        Err(error) => format!("r{id}: {error}"),
                    })
                    .collect();
                return fail(format!("replicas not at one seq within {bound:?}: {}", shown.join(" ")));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The front end's count of consecutive wrong results of `replica_id` (its `GET /status`).
    pub fn frontend_wrong_count(&self, replica_id: u16) -> Result<u64, String> {
        let body = frontend_status(&self.endpoint)?;
        crate::operator::json_objects(&body, "replicas")
            .iter()
            .find(|replica| crate::operator::json_number(replica, "id") == Some(u64::from(replica_id)))
            .and_then(|replica| crate::operator::json_number(replica, "consecutive_wrong"))
            .ok_or_else(|| format!("the front end's status names no replica {replica_id}"))
    }
}

/// How long one replica may take to answer a `Status` question.
const REPLICA_STATUS_BOUND: Duration = Duration::from_secs(1);

/// A replica's `(next_expected, digest)` as its `Status` answer gives them.
pub type ReplicaState = (u64, [u8; 32]);

/// replica-api `Status` to a replica's control address: `(next_expected, digest)`.
async fn replica_status(control: SocketAddr) -> Result<ReplicaState, String> {
    let state = rm::status::query_replica(control, REPLICA_STATUS_BOUND).await.map_err(|error| error.to_string())?;
    Ok((state.executed_up_to + 1, state.digest))
}

/// `GET /status` on the front end's HTTP listener (the endpoint's host and port).
fn frontend_status(endpoint: &Endpoint) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .map_err(|error| format!("cannot connect to the front end: {error}"))?;
    stream.set_read_timeout(Some(CONTROL_BOUND)).map_err(|error| error.to_string())?;
    let request = format!("GET /status HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", endpoint.authority);
    stream.write_all(request.as_bytes()).map_err(|error| error.to_string())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|error| format!("no status answer: {error}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("malformed HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET /status answered {}", head.lines().next().unwrap_or("")));
    }
    Ok(body.to_owned())
}

// ---- operations on slots ----

pub fn add_op(slot: Slot, capacity: i32) -> Operation {
    Operation::AddMovieSlots {
        movie_id: slot.movie_id.to_string(),
        movie_name: slot.movie.to_string(),
        booking_capacity: capacity,
    }
}

pub fn remove_op(slot: Slot) -> Operation {
    Operation::RemoveMovieSlots { movie_id: slot.movie_id.to_string(), movie_name: slot.movie.to_string() }
}

pub fn book_op(customer: &str, slot: Slot, tickets: i32) -> Operation {
    Operation::BookMovieTickets {
        customer_id: customer.to_owned(),
        movie_id: slot.movie_id.to_string(),
        movie_name: slot.movie.to_string(),
        number_of_tickets: tickets,
    }
}

pub fn cancel_op(customer: &str, slot: Slot, tickets: i32) -> Operation {
    Operation::CancelMovieTickets {
        customer_id: customer.to_owned(),
        movie_id: slot.movie_id.to_string(),
        movie_name: slot.movie.to_string(),
        number_of_tickets: tickets,
    }
}

pub fn exchange_op(customer: &str, old: Slot, new: Slot, tickets: i32) -> Operation {
    Operation::ExchangeTickets {
        customer_id: customer.to_owned(),
        movie_id: old.movie_id.to_string(),
        movie_name: old.movie.to_string(),
        new_movie_id: new.movie_id.to_string(),
        new_movie_name: new.movie.to_string(),
        number_of_tickets: tickets,
    }
}

pub fn schedule_op(customer: &str) -> Operation {
    Operation::GetBookingSchedule { customer_id: customer.to_owned() }
}
