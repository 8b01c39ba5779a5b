//! `cineflix bench`: a closed-loop SOAP load generator. N workers, each with one
//! keep-alive HTTP/1.1 connection, send one request at a time for a warm-up and then a
//! measured period, and the run reports requests/s, latency percentiles and errors.
//!
//! Every request is a real envelope from `soap::build_request_into`, and every answer is
//! read with `soap::parse_response_code`: it must be a 200 response envelope for the
//! operation asked, and its result code is read (the workload needs nothing else), while
//! the listings and schedules after the result are not decoded. So the figures include
//! the client's share of SOAP but not the CLI's cost of decoding whole answers.
//! Domain rejections such as `SOLD_OUT` are normal answers, counted by code; faults,
//! transport and HTTP errors, unreadable answers and rejections the workload cannot
//! cause (see `is_expected_rejection`) are errors. It deliberately has no open-loop
//! (fixed-rate) mode: closed-loop is what "N connections" means here.

mod histogram;
mod workload;

use crate::cli::{BenchArgs, GlobalArgs};
use crate::client::{CallError, Connection, Endpoint, RequestHead, connect, exchange, interpret, interpret_code, send};
use crate::json::Json;
use crate::outcome::{EXIT_FAULT, EXIT_SUCCESS, EXIT_USAGE};
use booking::ResultCode;
use bytes::{Bytes, BytesMut};
use histogram::Histogram;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
pub(crate) use workload::Rng;
use workload::{Mix, OpKind, Workload, World};

/// Days of slots the setup phase creates, from today on. Few slots keep listings short
/// (a listing answers every slot of a movie in all theatres: 3 theatres x days x 3).
const SETUP_DAYS: u32 = 2;
/// The largest capacity the rules allow, so slots last for long runs.
const SETUP_CAPACITY: i32 = 10_000;
/// Pause before reconnecting after a failed connect, so a dead server is not spun on.
const RECONNECT_PAUSE_MS: u64 = 20;

/// Everything a worker reads and the progress counters it bumps.
#[derive(Debug)]
struct Shared {
    endpoint: Endpoint,
    version: soap::SoapVersion,
    /// Copied by each worker (it caches `SOAPAction` values).
    head: RequestHead,
    timeout: Duration,
    /// Requests started from here on are measured.
    measure_start: Instant,
    /// No request is started from here on.
    end: Instant,
    /// Treat `SLOT_NOT_FOUND` as an error: the setup phase created every slot.
    setup_done: bool,
    /// Answers and errors so far, all phases (for the progress line).
    completed: AtomicU64,
    errors: AtomicU64,
}

/// What one worker measured; merged into the report.
#[derive(Debug, Default)]
struct Tally {
    latency_ns: Histogram,
    requests: u64,
    ok: u64,
    /// Sent per operation kind, indexed by `OpKind::index`.
    sent: [u64; 5],
    rejections: BTreeMap<&'static str, u64>,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latency_ns.merge(&other.latency_ns);
        self.requests += other.requests;
        self.ok += other.ok;
        for (mine, theirs) in self.sent.iter_mut().zip(other.sent) {
            *mine += theirs;
        }
        for (code, count) in other.rejections {
            *self.rejections.entry(code).or_default() += count;
        }
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
    }

    fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// What one measured run found, for callers that compare runs side by side (`cineflix compare`).
#[derive(Clone, Debug)]
pub struct Measurement {
    pub requests: u64,
    pub requests_per_s: f64,
    /// Answers with `success=true`.
    pub ok: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p99_9_us: f64,
    pub errors: u64,
    /// Error counts by kind, e.g. `fault_ServiceUnavailable`.
    pub error_kinds: BTreeMap<String, u64>,
}

/// A finished run, before it is printed.
struct Finished {
    endpoint: Endpoint,
    mix: Mix,
    tally: Tally,
    client_cpu_us: Option<u64>,
}

pub fn run(global: &GlobalArgs, args: &BenchArgs) -> u8 {
    let finished = match execute(global, args) {
        Ok(finished) => finished,
        Err(code) => return code,
    };
    let Finished { endpoint, mix, tally, client_cpu_us } = finished;
    let report = Report {
        endpoint: &endpoint,
        soap: global.soap.as_str(),
        args,
        mix: &mix,
        measured_s: args.duration.as_secs_f64(),
        tally: &tally,
        client_cpu_us,
    };
    let rendered = if global.json { format!("{}\n", report.json().render()) } else { report.text() };
    // A closed stdout (`| head`) must not turn a finished run into a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), rendered.as_bytes());
    if tally.requests == 0 || (tally.error_total() > 0 && !args.allow_errors) { EXIT_FAULT } else { EXIT_SUCCESS }
}

/// Runs the bench like `run` but returns the figures instead of printing a report (progress lines still go to
/// stderr). `Err` holds the exit code `run` would have returned for a usage or setup failure.
pub fn measure(global: &GlobalArgs, args: &BenchArgs) -> Result<Measurement, u8> {
    let Finished { tally, .. } = execute(global, args)?;
    let latency = &tally.latency_ns;
    Ok(Measurement {
        requests: tally.requests,
        requests_per_s: tally.requests as f64 / args.duration.as_secs_f64(),
        ok: tally.ok,
        p50_us: micros(latency.percentile(50.0)),
        p99_us: micros(latency.percentile(99.0)),
        p99_9_us: micros(latency.percentile(99.9)),
        errors: tally.error_total(),
        error_kinds: tally.errors.clone(),
    })
}

fn execute(global: &GlobalArgs, args: &BenchArgs) -> Result<Finished, u8> {
    let endpoint = match Endpoint::parse(&global.endpoint) {
        Ok(endpoint) => endpoint,
        Err(message) => return Err(usage(&message)),
    };
    let mix = match Mix::parse(&args.mix) {
        Ok(mix) => mix,
        Err(message) => return Err(usage(&message)),
    };
    if args.duration.is_zero() {
        return Err(usage("--duration must be more than 0s"));
    }
    // The same "today" the replicas derive from the sequencer's stamp (Montreal time).
    let today = booking::time::today(jiff::Timestamp::now().as_millisecond(), &booking::time::montreal()).0;
    let world = Arc::new(World::new(today, SETUP_DAYS, args.customers));
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads as usize).enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cineflix bench: cannot start the runtime: {error}");
            return Err(EXIT_FAULT);
        }
    };
    let version = global.soap.version();
    let timeout = Duration::from_millis(global.timeout_ms);
    let head = match RequestHead::new(&endpoint, version) {
        Ok(head) => head,
        Err(error) => return Err(usage(&error.to_string())),
    };
    runtime.block_on(async {
        if args.setup_enabled() {
            if let Err(message) = setup(&endpoint, version, timeout, &world).await {
                eprintln!("cineflix bench: setup failed: {message}");
                eprintln!("(the server's \"today\" may differ from America/Toronto's; try --no-setup with slots added by hand)");
                return Err(EXIT_FAULT);
            }
            eprintln!(
                "setup: {} slots with capacity {SETUP_CAPACITY} in every theatre, {} customers per theatre",
                world.slots[0].len(),
                args.customers
            );
        }
        let start = Instant::now();
        let shared = Arc::new(Shared {
            endpoint: endpoint.clone(),
            version,
            head,
            timeout,
            measure_start: start + args.warmup,
            end: start + args.warmup + args.duration,
            setup_done: args.setup_enabled(),
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let workers: Vec<_> = (0..args.connections as usize)
            .map(|worker| {
                let workload = Workload::new(world.clone(), mix.clone(), args.seed, worker, args.connections as usize);
                tokio::spawn(run_worker(shared.clone(), workload))
            })
            .collect();
        let progress = tokio::spawn(report_progress(shared.clone(), start));
        // The process's CPU time when measuring starts (workers keep running meanwhile).
        let cpu_at_measure_start = tokio::spawn({
            let measure_start = shared.measure_start;
            async move {
                tokio::time::sleep_until(tokio::time::Instant::from_std(measure_start)).await;
                process_cpu_us()
            }
        });
        let mut tally = Tally::default();
        for worker in workers {
            match worker.await {
                Ok(worker_tally) => tally.merge(worker_tally),
                Err(error) => {
                    eprintln!("cineflix bench: a worker failed: {error}");
                    *tally.errors.entry("worker_panic".to_owned()).or_default() += 1;
                }
            }
        }
        progress.abort();
        let client_cpu_us = match (cpu_at_measure_start.await.ok().flatten(), process_cpu_us()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        // A closing progress line, so even a run shorter than one tick shows one.
        let elapsed_s = start.elapsed().as_secs_f64();
        let completed = shared.completed.load(Ordering::Relaxed);
        eprintln!(
            "[{elapsed_s:>5.1}s done   ] {:>9} req/s, {} answered, {} errors",
            group_thousands((completed as f64 / elapsed_s).round() as u64),
            group_thousands(completed),
            group_thousands(shared.errors.load(Ordering::Relaxed)),
        );
        Ok(Finished { endpoint: endpoint.clone(), mix: mix.clone(), tally, client_cpu_us })
    })
}

fn usage(message: &str) -> u8 {
    eprintln!("cineflix bench: error: {message}");
    EXIT_USAGE
}

/// Adds every slot of the bench's world, one request at a time, as each theatre's admin.
async fn setup(
    endpoint: &Endpoint,
    version: soap::SoapVersion,
    timeout: Duration,
    world: &World,
) -> Result<(), String> {
    let mut connection = None;
    for request in world.setup_requests(SETUP_CAPACITY) {
        let answer = async {
            if connection.is_none() {
                connection = Some(connect(endpoint).await?);
            }
            let connection = connection.as_mut().expect("connected just above");
            let envelope = Bytes::from(soap::build_request(version, &request));
            let (status, body) = tokio::time::timeout(
                timeout,
                exchange(connection, endpoint, version, request.operation.name(), envelope),
            )
            .await
            .map_err(|_| CallError::Timeout(timeout))??;
            interpret(status, &body)
        }
        .await;
        match answer {
            Ok(answer) if answer.response.success() => {}
            Ok(answer) => {
                return Err(format!(
                    "{} as {}: {} {}",
                    crate::outcome::describe_request(&request),
                    request.user_id,
                    answer.response.code.as_str(),
                    answer.message
                ));
            }
            Err(error) => return Err(format!("{}: {error}", crate::outcome::describe_request(&request))),
        }
    }
    Ok(())
}

/// Rejections the workload can meet without anything being wrong.
fn is_expected_rejection(code: ResultCode, setup_done: bool) -> bool {
    match code {
        // Capacity runs out on long runs; a show turns past at midnight.
        ResultCode::SoldOut | ResultCode::PastShow => true,
        // Without the setup phase the slots are whatever the server has.
        ResultCode::SlotNotFound => !setup_done,
        _ => false,
    }
}

async fn run_worker(shared: Arc<Shared>, mut workload: Workload) -> Tally {
    let mut tally = Tally::default();
    if !workload.has_customers() {
        return tally;
    }
    let mut connection: Option<Connection> = None;
    let mut head = shared.head.clone();
    // Reused for every request: the envelope is built into `envelope`, copied into `outgoing`,
    // and handed to hyper as a frozen slice of it; once hyper drops that, `outgoing` reuses the
    // allocation, so a steady run allocates no request buffers.
    let mut envelope = Vec::with_capacity(1024);
    let mut outgoing = BytesMut::with_capacity(4096);
    loop {
        let started = Instant::now();
        if started >= shared.end {
            break;
        }
        let measuring = started >= shared.measure_start;
        let count_error = |tally: &mut Tally, kind: String| {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            shared.completed.fetch_add(1, Ordering::Relaxed);
            if measuring {
                tally.requests += 1;
                *tally.errors.entry(kind).or_default() += 1;
            }
        };
        // A connection the server closed while idle is replaced without counting an error:
        // no request was on it.
        if connection.as_ref().is_some_and(|open| open.is_closed()) {
            connection = None;
        }
        if connection.is_none() {
            match connect(&shared.endpoint).await {
                Ok(new_connection) => connection = Some(new_connection),
                Err(error) => {
                    count_error(&mut tally, error.kind().to_owned());
                    tokio::time::sleep(Duration::from_millis(RECONNECT_PAUSE_MS)).await;
                    continue;
                }
            }
        }
        let planned = workload.next();
        soap::build_request_into(&mut envelope, shared.version, &planned.request);
        outgoing.extend_from_slice(&envelope);
        let body = outgoing.split().freeze();
        let sending = connection.as_mut().expect("connected above");
        let sent_at = Instant::now();
        let exchanged =
            tokio::time::timeout(shared.timeout, send(sending, &mut head, planned.request.operation.name(), body))
                .await
                .unwrap_or(Err(CallError::Timeout(shared.timeout)));
        let latency = sent_at.elapsed();
        let answer = match exchanged {
            Ok((status, body)) => interpret_code(status, &body, planned.request.operation.name()),
            Err(error) => {
                // The connection's state is unknown after a transport error or timeout.
                connection = None;
                Err(error)
            }
        };
        if measuring {
            tally.sent[planned.kind.index()] += 1;
        }
        match answer {
            Ok(code) => {
                workload.observe(&planned, Some(code));
                if code.is_ok() || is_expected_rejection(code, shared.setup_done) {
                    shared.completed.fetch_add(1, Ordering::Relaxed);
                    if measuring {
                        tally.requests += 1;
                        tally.latency_ns.record(latency.as_nanos() as u64);
                        if code.is_ok() {
                            tally.ok += 1;
                        } else {
                            *tally.rejections.entry(code.as_str()).or_default() += 1;
                        }
                    }
                } else {
                    count_error(&mut tally, format!("unexpected_{}", code.as_str()));
                }
            }
            Err(error) => {
                workload.observe(&planned, None);
                let kind = match &error {
                    CallError::Fault { code, .. } => format!("fault_{code}"),
                    CallError::Http { status, .. } => format!("http_{status}"),
                    other => other.kind().to_owned(),
                };
                count_error(&mut tally, kind);
            }
        }
    }
    tally
}

/// One line per second on stderr: the rate over the last second and errors so far.
async fn report_progress(shared: Arc<Shared>, start: Instant) {
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::from_std(start) + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut last_completed = 0;
    let mut last_tick = start;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let completed = shared.completed.load(Ordering::Relaxed);
        let rate = (completed - last_completed) as f64 / now.duration_since(last_tick).as_secs_f64();
        let phase = if now < shared.measure_start { "warmup " } else { "measure" };
        eprintln!(
            "[{:>5.1}s {phase}] {:>9} req/s, {} answered, {} errors",
            now.duration_since(start).as_secs_f64(),
            group_thousands(rate.round() as u64),
            group_thousands(completed),
            group_thousands(shared.errors.load(Ordering::Relaxed)),
        );
        last_completed = completed;
        last_tick = now;
    }
}

/// The final report, as text or JSON.
struct Report<'a> {
    endpoint: &'a Endpoint,
    soap: &'a str,
    args: &'a BenchArgs,
    mix: &'a Mix,
    measured_s: f64,
    tally: &'a Tally,
    /// CPU time (user + system) of this process over the measured period, when known.
    client_cpu_us: Option<u64>,
}

/// Percentiles reported, with their JSON names.
const PERCENTILES: [(f64, &str); 4] = [(50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99_9")];

impl Report<'_> {
    fn rate(&self) -> f64 {
        self.tally.requests as f64 / self.measured_s
    }

    /// The load generator's own CPU time per measured request: what it takes from the machine it
    /// shares with the server.
    fn client_cpu_us_per_request(&self) -> Option<f64> {
        let cpu_us = self.client_cpu_us?;
        (self.tally.requests > 0).then(|| cpu_us as f64 / self.tally.requests as f64)
    }

    fn text(&self) -> String {
        let tally = self.tally;
        let mut out = String::new();
        out.push_str(&format!(
            "cineflix bench: {} (SOAP {}), {} connections, {} thread(s), {:.1} s measured after {:.1} s warmup\n",
            self.endpoint.url,
            self.soap,
            self.args.connections,
            self.args.threads,
            self.measured_s,
            self.args.warmup.as_secs_f64()
        ));
        out.push_str(&format!("mix:         {}\n", self.mix.describe()));
        let sent: Vec<String> = OpKind::ALL
            .into_iter()
            .filter(|kind| tally.sent[kind.index()] > 0)
            .map(|kind| format!("{}={}", kind.name(), group_thousands(tally.sent[kind.index()])))
            .collect();
        out.push_str(&format!("sent:        {}\n", sent.join(" ")));
        out.push_str(&format!(
            "requests:    {} in {:.2} s = {} req/s\n",
            group_thousands(tally.requests),
            self.measured_s,
            group_thousands(self.rate().round() as u64)
        ));
        let rejected: u64 = tally.rejections.values().sum();
        let rejections: Vec<String> = tally.rejections.iter().map(|(code, count)| format!("{code}={count}")).collect();
        out.push_str(&format!(
            "answers:     {} success, {} rejected{}\n",
            group_thousands(tally.ok),
            group_thousands(rejected),
            if rejections.is_empty() { String::new() } else { format!(" ({})", rejections.join(" ")) }
        ));
        let errors: Vec<String> = tally.errors.iter().map(|(kind, count)| format!("{kind}={count}")).collect();
        out.push_str(&format!(
            "errors:      {}{}\n",
            group_thousands(tally.error_total()),
            if errors.is_empty() { String::new() } else { format!(" ({})", errors.join(" ")) }
        ));
        let latency = &tally.latency_ns;
        let mut line = String::from("latency µs: ");
        for (percentile, name) in PERCENTILES {
            line.push_str(&format!(" {name}={:.1}", micros(latency.percentile(percentile))));
        }
        line.push_str(&format!(" max={:.1} mean={:.1}\n", micros(latency.max()), latency.mean() / 1000.0));
        out.push_str(&line.replace("p99_9", "p99.9"));
        match (self.client_cpu_us_per_request(), self.client_cpu_us) {
            (Some(per_request), Some(cpu_us)) => out.push_str(&format!(
                "client CPU:  {per_request:.1} µs/request ({:.2} s user+system while measuring)\n",
                cpu_us as f64 / 1e6
            )),
            _ => out.push_str("client CPU:  unknown (no /proc/self/stat)\n"),
        }
        out
    }

    fn json(&self) -> Json {
        let tally = self.tally;
        let mut mix = Json::object();
        let mut sent = Json::object();
        for kind in OpKind::ALL {
            mix = mix.with(kind.name(), self.mix.weights[kind.index()]);
            sent = sent.with(kind.name(), tally.sent[kind.index()]);
        }
        let mut rejections = Json::object();
        for (code, count) in &tally.rejections {
            rejections = rejections.with(code, *count);
        }
        let mut errors = Json::object();
        for (kind, count) in &tally.errors {
            errors = errors.with(kind, *count);
        }
        let latency = &tally.latency_ns;
        let mut latency_us = Json::object();
        for (percentile, name) in PERCENTILES {
            latency_us = latency_us.with(name, micros(latency.percentile(percentile)));
        }
        latency_us = latency_us
            .with("max", micros(latency.max()))
            .with("mean", (latency.mean() / 100.0).round() / 10.0)
            .with("samples", latency.count());
        Json::object()
            .with("endpoint", self.endpoint.url.as_str())
            .with("soap", self.soap)
            .with("connections", self.args.connections)
            .with("threads", self.args.threads)
            .with("warmup_s", self.args.warmup.as_secs_f64())
            .with("duration_s", self.measured_s)
            .with("mix", mix)
            .with("sent", sent)
            .with("requests", tally.requests)
            .with("requests_per_s", (self.rate() * 10.0).round() / 10.0)
            .with("ok", tally.ok)
            .with("rejected", tally.rejections.values().sum::<u64>())
            .with("rejections", rejections)
            .with("errors_total", tally.error_total())
            .with("errors", errors)
            .with("latency_us", latency_us)
            .with("client_cpu_us_per_request", self.client_cpu_us_per_request().map(|us| (us * 10.0).round() / 10.0))
    }
}

/// User plus system CPU time of this process so far, from `/proc/self/stat` (Linux; `None` elsewhere).
fn process_cpu_us() -> Option<u64> {
    let stat = cluster::ProcStat::of(std::process::id())?;
    Some(cpu_us(&stat))
}

/// utime + stime in µs (USER_HZ, the unit of both, is fixed at 100 per second for user space on Linux).
fn cpu_us(stat: &cluster::ProcStat) -> u64 {
    const USER_HZ: u64 = 100;
    (stat.utime_ticks + stat.stime_ticks) * 1_000_000 / USER_HZ
}

fn micros(nanos: u64) -> f64 {
    (nanos as f64 / 100.0).round() / 10.0
}

/// `1234567` as `1,234,567`.
fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let groups: Vec<&str> =
        digits.as_bytes().rchunks(3).rev().map(|group| std::str::from_utf8(group).expect("ASCII digits")).collect();
    groups.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_group() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
    }

    #[test]
    fn cpu_time_is_user_plus_system_ticks() {
        let stat = cluster::ProcStat::parse("4242 (cineflix (x) y) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0 1 0 100 0 0");
        assert_eq!(stat.as_ref().map(cpu_us), Some(2_810_000));
        assert!(process_cpu_us().is_none_or(|us| us < 86_400_000_000), "a test process uses under a day");
    }

    #[test]
    fn expected_rejections() {
        assert!(is_expected_rejection(ResultCode::SoldOut, true));
        assert!(is_expected_rejection(ResultCode::SlotNotFound, false));
        assert!(!is_expected_rejection(ResultCode::SlotNotFound, true));
        assert!(!is_expected_rejection(ResultCode::NoBooking, true));
        assert!(!is_expected_rejection(ResultCode::NotAuthorized, false));
    }
}
