//! Test kit for the replica program: a seeded workload with its expected answers from `booking::Replica` (the
//! in-process oracle), a go-back-N driver speaking `replica-api` over a `udp::Endpoint`, and a guard for a
//! `cineflix-replica` child process.
//!
//! Shared by the integration tests and the throughput example (`#[path]`); not every user needs every item.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use booking::{Body, MovieId, Operation, Request, Response, ResultCode, SlotLetter, TheatreCode};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica_api::{BATCH_MAX, FromReplica, Job, ToReplica};
use udp::Endpoint;

/// Jobs with the answers and final digest `booking::Replica` gives for them, plus what the mix covered.
pub struct Workload {
    pub jobs: Vec<Job>,
    /// `Response::encode()` of each job, same index as `jobs`.
    pub expected: Vec<Vec<u8>>,
    pub digest: [u8; 32],
    pub coverage: Coverage,
}

/// Successful answers by kind, so that a test can check the mix really exercised cross-theatre work.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Successful answers per operation name.
    pub ok_by_operation: BTreeMap<&'static str, u64>,
    /// Rejections per code.
    pub rejections: BTreeMap<&'static str, u64>,
    /// Successful bookings outside the customer's home theatre.
    pub outside_bookings: u64,
    /// Successful exchanges whose old and new slots are in different theatres.
    pub cross_theatre_exchanges: u64,
    /// Bookings moved to another slot by a removal.
    pub moved_by_removal: u64,
    /// Listings with shows from at least two theatres.
    pub multi_theatre_listings: u64,
}

const MOVIES: [&str; 3] = ["Avatar", "Avengers", "Titanic"];
const CUSTOMERS_PER_THEATRE: u16 = 6;

/// Monday 23 Nov 2026, noon in Montreal.
pub const START_MS: i64 = 1_795_453_200_000;

/// A seeded, realistic mix: admins add and remove slots, customers (and admins on their behalf) book, cancel,
/// exchange across theatres, list and read schedules, with a sprinkle of invalid input. Targets of cancels,
/// exchanges and removals are drawn from the oracle's current state so that most of them succeed.
pub fn workload(seed: u64, count: usize) -> Workload {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut oracle = booking::Replica::new();
    let zone = booking::time::montreal();
    let mut jobs = Vec::with_capacity(count);
    let mut expected = Vec::with_capacity(count);
    let mut coverage = Coverage::default();
    let mut timestamp_ms = START_MS;
    for id in 1..=count as u64 {
        timestamp_ms += rng.random_range(0..20_000);
        if rng.random_bool(0.0005) {
            timestamp_ms += 86_400_000; // a day passes: shows become past, the add window moves
        }
        let today = booking::time::today(timestamp_ms, &zone).0;
        let request = draw_request(&mut rng, &oracle, today, id <= 120);
        let response = oracle.execute(&request, timestamp_ms);
        note_coverage(&mut coverage, &request, &response);
        expected.push(response.encode());
        jobs.push(Job { id, timestamp_ms, request });
    }
    let digest = oracle.digest();
    Workload { jobs, expected, digest, coverage }
}

/// The load of `cineflix bench` (its default mix `list=20,book=40,schedule=20,cancel=20`): a setup phase adding
/// every slot of every theatre for today and tomorrow (capacity 10,000), then customers (`customers_per_theatre`
/// per theatre) who book one ticket at a time in their home theatre, cancel one ticket they hold, list a movie's
/// shows and read their schedule. For measuring the replica under the load the throughput target is stated for;
/// answers and digest still come from the oracle.
pub fn bench_mix_workload(seed: u64, count: usize, customers_per_theatre: u16) -> Workload {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut oracle = booking::Replica::new();
    let zone = booking::time::montreal();
    let timestamp_ms = START_MS;
    let today = booking::time::today(timestamp_ms, &zone).0;
    let mut slots: Vec<(String, &str)> = Vec::new();
    for theatre in TheatreCode::ALL {
        for day in 0..2 {
            let date = today + jiff::Span::new().days(day);
            for slot in SlotLetter::ALL {
                for movie in MOVIES {
                    slots.push((MovieId { theatre, slot, date: booking::Date(date) }.to_string(), movie));
                }
            }
        }
    }
    let per_theatre = slots.len() / 3;
    let mut requests: Vec<Request> = slots
        .iter()
        .map(|(movie_id, movie)| Request {
            user_id: admin(TheatreCode::parse(&movie_id[..3]).expect("generated")),
            operation: Operation::AddMovieSlots {
                movie_id: movie_id.clone(),
                movie_name: movie.to_string(),
                booking_capacity: 10_000,
            },
        })
        .collect();
    requests.truncate(count);
    // (customer id, index into `slots`) of every ticket held.
    let mut held: Vec<(String, usize)> = Vec::new();
    let mut jobs = Vec::with_capacity(count);
    let mut expected = Vec::with_capacity(count);
    let mut coverage = Coverage::default();
    let mut pending = requests.into_iter();
    for id in 1..=count as u64 {
        let mut booked = None;
        let mut cancelled = None;
        let request = match pending.next() {
            Some(request) => request,
            None => {
                let theatre_index = rng.random_range(0..3);
                let customer_id =
                    format!("{}C{:04}", TheatreCode::ALL[theatre_index], rng.random_range(0..customers_per_theatre));
                let roll = rng.random_range(0..100);
                match roll {
                    0..20 => Request {
                        user_id: customer_id,
                        operation: Operation::ListMovieShowsAvailability { movie_name: pick(&mut rng, &MOVIES).into() },
                    },
                    20..40 => Request {
                        user_id: customer_id.clone(),
                        operation: Operation::GetBookingSchedule { customer_id },
                    },
                    40..60 if !held.is_empty() => {
                        let index = rng.random_range(0..held.len());
                        let (customer_id, slot) = held[index].clone();
                        cancelled = Some(index);
                        let (movie_id, movie) = &slots[slot];
                        Request {
                            user_id: customer_id.clone(),
                            operation: Operation::CancelMovieTickets {
                                customer_id,
                                movie_id: movie_id.clone(),
                                movie_name: movie.to_string(),
                                number_of_tickets: 1,
                            },
                        }
                    }
                    _ => {
                        let slot = theatre_index * per_theatre + rng.random_range(0..per_theatre);
                        booked = Some((customer_id.clone(), slot));
                        let (movie_id, movie) = &slots[slot];
                        Request {
                            user_id: customer_id.clone(),
                            operation: Operation::BookMovieTickets {
                                customer_id,
                                movie_id: movie_id.clone(),
                                movie_name: movie.to_string(),
                                number_of_tickets: 1,
                            },
                        }
                    }
                }
            }
        };
        let response = oracle.execute(&request, timestamp_ms);
        if response.success() {
            if let Some(ticket) = booked {
                held.push(ticket);
            }
            if let Some(index) = cancelled {
                held.swap_remove(index);
            }
        }
        note_coverage(&mut coverage, &request, &response);
        expected.push(response.encode());
        jobs.push(Job { id, timestamp_ms, request });
    }
    let digest = oracle.digest();
    Workload { jobs, expected, digest, coverage }
}

fn note_coverage(coverage: &mut Coverage, request: &Request, response: &Response) {
    if !response.success() {
        *coverage.rejections.entry(response.code.as_str()).or_default() += 1;
        return;
    }
    *coverage.ok_by_operation.entry(request.operation.name()).or_default() += 1;
    match (&request.operation, &response.body) {
        (Operation::BookMovieTickets { customer_id, movie_id, .. }, _)
            if !customer_id[..3].eq_ignore_ascii_case(&movie_id[..3]) =>
        {
            coverage.outside_bookings += 1;
        }
        (Operation::ExchangeTickets { movie_id, new_movie_id, .. }, _)
            if !movie_id[..3].eq_ignore_ascii_case(&new_movie_id[..3]) =>
        {
            coverage.cross_theatre_exchanges += 1;
        }
        (_, Body::Removed(moved)) => {
            coverage.moved_by_removal += moved.iter().filter(|booking| booking.new_movie_id.is_some()).count() as u64;
        }
        (_, Body::Shows(shows)) => {
            let mut theatres: Vec<_> = shows.iter().map(|show| show.movie_id.theatre).collect();
            theatres.dedup();
            theatres.sort();
            theatres.dedup();
            if theatres.len() >= 2 {
                coverage.multi_theatre_listings += 1;
            }
        }
        _ => {}
    }
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn theatre(rng: &mut ChaCha8Rng) -> TheatreCode {
    pick(rng, &TheatreCode::ALL)
}

fn customer(rng: &mut ChaCha8Rng, theatre: TheatreCode) -> String {
    format!("{theatre}C{:04}", rng.random_range(1..=CUSTOMERS_PER_THEATRE))
}

fn admin(theatre: TheatreCode) -> String {
    format!("{theatre}A0001")
}

fn any_customer(rng: &mut ChaCha8Rng) -> String {
    let theatre = theatre(rng);
    customer(rng, theatre)
}

fn any_admin(rng: &mut ChaCha8Rng) -> String {
    admin(theatre(rng))
}

fn any_movie_id(rng: &mut ChaCha8Rng, today: jiff::civil::Date) -> String {
    let theatre = theatre(rng);
    movie_id(rng, theatre, today)
}

/// Mostly canonical spelling, sometimes another letter case (accepted and canonicalised).
fn spelled(rng: &mut ChaCha8Rng, text: &str) -> String {
    if rng.random_bool(0.1) { text.to_lowercase() } else { text.to_string() }
}

fn movie_name(rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.01) {
        return "Dune".to_string();
    }
    let name = pick(rng, &MOVIES);
    spelled(rng, name)
}

/// A movie ID in `theatre`, dated from yesterday to 8 days ahead (one day beyond the add window).
fn movie_id(rng: &mut ChaCha8Rng, theatre: TheatreCode, today: jiff::civil::Date) -> String {
    let date = today + jiff::Span::new().days(rng.random_range(-1..=8i64));
    let slot = pick(rng, &SlotLetter::ALL);
    let text = MovieId { theatre, slot, date: booking::Date(date) }.to_string();
    if rng.random_bool(0.005) { "ATWX999999".to_string() } else { spelled(rng, &text) }
}

fn tickets(rng: &mut ChaCha8Rng) -> i32 {
    if rng.random_bool(0.01) { pick(rng, &[0, -1, 10_001]) } else { rng.random_range(1..=3) }
}

/// The caller of a customer operation: the customer, an admin of their theatre, or (rarely) someone not allowed.
fn caller_for(rng: &mut ChaCha8Rng, customer_id: &str) -> String {
    let home = TheatreCode::parse(&customer_id[..3]).expect("generated customers are valid");
    match rng.random_range(0..100) {
        0..80 => spelled(rng, customer_id),
        80..95 => admin(home),
        95..98 => any_customer(rng),
        _ => pick(rng, &["NOPE", "ATWZ0001", "VERC12345"]).to_string(),
    }
}

fn draw_request(rng: &mut ChaCha8Rng, oracle: &booking::Replica, today: jiff::civil::Date, warm_up: bool) -> Request {
    let roll = if warm_up { 0 } else { rng.random_range(0..100) };
    // Now and then a booking of a past show is picked, for PAST_SHOW.
    let rng_past_ok = rng.random_bool(0.05);
    let bookings: Vec<booking::peer::HeldBooking> = TheatreCode::ALL
        .iter()
        .flat_map(|code| oracle.theatre(*code).bookings())
        .filter(|held| held.slot.date().0 >= today || rng_past_ok)
        .collect();
    let operation_and_caller = match roll {
        0..10 => {
            let theatre = theatre(rng);
            let operation = Operation::AddMovieSlots {
                movie_id: movie_id(rng, theatre, today),
                movie_name: movie_name(rng),
                booking_capacity: if rng.random_bool(0.02) { 0 } else { rng.random_range(2..=12) },
            };
            let caller = if rng.random_bool(0.95) { admin(theatre) } else { customer(rng, theatre) };
            (operation, caller)
        }
        10..14 => {
            let theatre = theatre(rng);
            // Prefer a slot holding bookings, so that removals move and cancel some.
            let booked: Vec<_> = oracle
                .theatre(theatre)
                .slots()
                .filter(|view| view.booked > 0 && view.slot.date().0 >= today)
                .map(|view| view.slot)
                .collect();
            let operation = if !booked.is_empty() && rng.random_bool(0.8) {
                let slot = pick(rng, &booked);
                Operation::RemoveMovieSlots { movie_id: slot.movie_id.to_string(), movie_name: slot.movie.to_string() }
            } else {
                Operation::RemoveMovieSlots { movie_id: movie_id(rng, theatre, today), movie_name: movie_name(rng) }
            };
            (operation, admin(theatre))
        }
        14..24 => {
            let caller = if rng.random_bool(0.5) { any_customer(rng) } else { any_admin(rng) };
            (Operation::ListMovieShowsAvailability { movie_name: movie_name(rng) }, caller)
        }
        24..34 => {
            let customer_id = any_customer(rng);
            let caller = caller_for(rng, &customer_id);
            (Operation::GetBookingSchedule { customer_id }, caller)
        }
        34..46 if !bookings.is_empty() => {
            let held = pick(rng, &bookings);
            let customer_id = held.customer.to_string();
            let caller = caller_for(rng, &customer_id);
            let operation = Operation::CancelMovieTickets {
                customer_id,
                movie_id: held.slot.movie_id.to_string(),
                movie_name: held.slot.movie.to_string(),
                number_of_tickets: rng.random_range(1..=held.tickets as i32 + 1),
            };
            (operation, caller)
        }
        46..68 if !bookings.is_empty() => {
            let held = pick(rng, &bookings);
            let customer_id = held.customer.to_string();
            let caller = caller_for(rng, &customer_id);
            let new_theatre = theatre(rng);
            let operation = Operation::ExchangeTickets {
                customer_id,
                movie_id: held.slot.movie_id.to_string(),
                movie_name: held.slot.movie.to_string(),
                new_movie_id: movie_id(rng, new_theatre, today),
                new_movie_name: movie_name(rng),
                number_of_tickets: rng.random_range(1..=held.tickets as i32),
            };
            (operation, caller)
        }
        _ => {
            let customer_id = any_customer(rng);
            let caller = caller_for(rng, &customer_id);
            // Book mostly where current slots exist.
            let current = booking::Date(today);
            let slots: Vec<_> = TheatreCode::ALL
                .iter()
                .flat_map(|code| oracle.theatre(*code).slots().map(|view| view.slot).collect::<Vec<_>>())
                .filter(|slot| slot.date() >= current)
                .collect();
            let (movie_id, movie_name) = if !slots.is_empty() && rng.random_bool(0.85) {
                let slot = pick(rng, &slots);
                (spelled(rng, &slot.movie_id.to_string()), slot.movie.to_string())
            } else {
                (any_movie_id(rng, today), movie_name(rng))
            };
            let operation =
                Operation::BookMovieTickets { customer_id, movie_id, movie_name, number_of_tickets: tickets(rng) };
            (operation, caller)
        }
    };
    let (operation, user_id) = operation_and_caller;
    Request { user_id, operation }
}

/// Decodes an answer for assertion messages.
pub fn describe(bytes: &[u8]) -> String {
    match Response::decode(bytes) {
        Ok(response) => format!("{response:?}"),
        Err(error) => format!("undecodable ({error}): {bytes:?}"),
    }
}

/// The code of an encoded answer.
pub fn code_of(bytes: &[u8]) -> ResultCode {
    Response::decode(bytes).expect("replica answers decode").code
}

/// `n` distinct loopback UDP addresses that were free a moment ago, outside the ephemeral range (see `udp::ports`).
pub fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let ports = udp::unused_loopback_ports(n).expect("free loopback ports");
    ports.into_iter().map(|port| SocketAddr::from(([127, 0, 0, 1], port))).collect()
}

/// A unique scratch directory under the system temp dir.
pub fn scratch_dir(label: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("cineflix-replica-{label}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a config file for a standalone replica at `addrs` = [control, atw, out, ver].
pub fn write_config(dir: &Path, addrs: &[SocketAddr], faults: &udp::LinkFaults) -> PathBuf {
    let text = format!(
        "[time]\nzone = \"America/Toronto\"\n\n[logs]\ndir = {logs:?}\n\n\
         [faults]\ndrop = {drop:?}\nduplicate = {duplicate:?}\nreorder = {reorder:?}\ndelay_ms = {delay}\n\n\
         [standalone]\ncontrol = \"{control}\"\natw = \"{atw}\"\nout = \"{out}\"\nver = \"{ver}\"\n",
        logs = dir.join("logs").display().to_string(),
        drop = faults.drop,
        duplicate = faults.duplicate,
        reorder = faults.reorder,
        delay = faults.delay_ms,
        control = addrs[0],
        atw = addrs[1],
        out = addrs[2],
        ver = addrs[3],
    );
    let path = dir.join("replica.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A `cineflix-replica` child process; killed on drop unless terminated cleanly first.
pub struct ReplicaChild {
    child: Option<Child>,
}

impl ReplicaChild {
    pub fn spawn(binary: &str, args: &[String]) -> ReplicaChild {
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start cineflix-replica");
        ReplicaChild { child: Some(child) }
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("child present until terminated");
        let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "replica did not exit within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ReplicaChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A go-back-N driver of one replica's control address, as the front end will be.
pub struct Driver {
    pub endpoint: Endpoint,
    pub control: SocketAddr,
    pub retry: Duration,
    /// Jobs in flight at most.
    pub window: usize,
}

impl Driver {
    pub async fn new(control: SocketAddr, faults: udp::LinkFaults) -> Driver {
        let endpoint = Endpoint::bind("127.0.0.1:0".parse().unwrap(), faults).await.unwrap();
        Driver { endpoint, control, retry: Duration::from_millis(30), window: 512 }
    }

    /// Asks for the status, retrying until it answers or `bound` passes (then panics).
    pub async fn status(&self, bound: Duration) -> (u64, [u8; 32]) {
        let deadline = tokio::time::Instant::now() + bound;
        let message = ToReplica::Status.encode();
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no Status reply from {} within {bound:?}", self.control);
            self.endpoint.send_to(&message, self.control).await.unwrap();
            let wait_until = (tokio::time::Instant::now() + self.retry).min(deadline);
            while let Ok(received) = tokio::time::timeout_at(wait_until, self.endpoint.recv_from()).await {
                let (bytes, _) = received.unwrap();
                if let Ok(FromReplica::Status { next_expected, digest }) = FromReplica::decode(&bytes) {
                    return (next_expected, digest);
                }
            }
        }
    }

    /// Sends one Execute and returns the first Executed reply (retrying the same message on timeout).
    pub async fn execute_once(&self, jobs: Vec<Job>, bound: Duration) -> (u64, Vec<(u64, Vec<u8>)>) {
        let deadline = tokio::time::Instant::now() + bound;
        let message = ToReplica::Execute { jobs }.encode();
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no Executed reply within {bound:?}");
            self.endpoint.send_to(&message, self.control).await.unwrap();
            let wait_until = (tokio::time::Instant::now() + self.retry).min(deadline);
            while let Ok(received) = tokio::time::timeout_at(wait_until, self.endpoint.recv_from()).await {
                let (bytes, _) = received.unwrap();
                if let Ok(FromReplica::Executed { next_expected, results }) = FromReplica::decode(&bytes) {
                    return (next_expected, results);
                }
            }
        }
    }

    /// Runs every job (ids `1..=jobs.len()` or continuing from the replica's `next_expected`), returning each job's
    /// answer. A retried job must get the same answer as before; that is checked here.
    pub async fn run(&self, jobs: &[Job], bound: Duration) -> Vec<Vec<u8>> {
        let first_id = jobs.first().map_or(1, |job| job.id);
        let mut answers: Vec<Option<Vec<u8>>> = vec![None; jobs.len()];
        let mut answered = 0usize;
        let mut next_expected = first_id;
        // Index of the first job not sent since the last go-back.
        let mut next_to_send = 0usize;
        let deadline = tokio::time::Instant::now() + bound;
        let mut last_progress = tokio::time::Instant::now();
        let mut buffer = Vec::new();
        while answered < jobs.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "driver stuck: {answered}/{} answered, next_expected {next_expected}",
                jobs.len()
            );
            let acknowledged = (next_expected - first_id) as usize;
            while next_to_send < jobs.len() && next_to_send < acknowledged + self.window {
                let end = (next_to_send + BATCH_MAX).min(jobs.len()).min(acknowledged + self.window);
                buffer.clear();
                ToReplica::Execute { jobs: jobs[next_to_send..end].to_vec() }.encode_into(&mut buffer);
                self.endpoint.send_to(&buffer, self.control).await.unwrap();
                next_to_send = end;
            }
            match tokio::time::timeout_at(last_progress + self.retry, self.endpoint.recv_from()).await {
                Ok(received) => {
                    let (bytes, _) = received.unwrap();
                    let Ok(FromReplica::Executed { next_expected: replica_next, results }) =
                        FromReplica::decode(&bytes)
                    else {
                        continue;
                    };
                    for (id, answer) in results {
                        let Some(index) = id.checked_sub(first_id).map(|i| i as usize).filter(|i| *i < jobs.len())
                        else {
                            continue;
                        };
                        match &answers[index] {
                            Some(previous) => assert_eq!(previous, &answer, "job {id} answered differently on retry"),
                            None => {
                                answers[index] = Some(answer);
                                answered += 1;
                            }
                        }
                    }
                    if replica_next > next_expected {
                        next_expected = replica_next;
                        last_progress = tokio::time::Instant::now();
                    }
                }
                Err(_elapsed) => {
                    // Executed jobs whose answer was lost: ask again (the replica answers from its result cache,
                    // never executing twice), as the front end's driver does.
                    let acknowledged = (next_expected - first_id) as usize;
                    let unanswered: Vec<Job> =
                        (0..acknowledged).filter(|&i| answers[i].is_none()).map(|i| jobs[i].clone()).collect();
                    for batch in unanswered.chunks(BATCH_MAX) {
                        buffer.clear();
                        ToReplica::Execute { jobs: batch.to_vec() }.encode_into(&mut buffer);
                        self.endpoint.send_to(&buffer, self.control).await.unwrap();
                    }
                    // Go back N: resend everything from the first job the replica still expects.
                    next_to_send = acknowledged;
                    last_progress = tokio::time::Instant::now();
                }
            }
        }
        answers.into_iter().map(|answer| answer.expect("all answered")).collect()
    }
}
