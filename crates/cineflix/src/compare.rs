//! `cineflix compare`: one run that benches standalone mode and the replicated cluster side by side on this host
//! and reports the figures as ratios (replicated vs standalone, lying vs healthy), plus how long a killed replica
//! takes to vote again with a large state.
//!
//! Each scenario relocates its configuration into a fresh temporary directory (`cluster::PrivateDeployment`: every
//! address on an unused loopback port, logs there too, so a `run/up` or another tool's cluster may keep running),
//! starts the deployment, runs `cineflix bench` in-process (`bench::measure`) and stops the deployment before the
//! next scenario. It deliberately asserts nothing: targets are printed as met or missed, because timing on a shared
//! machine is a measurement, not a test.

use crate::bench::{self, Measurement};
use crate::cli::{BenchArgs, CompareArgs, GlobalArgs, SoapArg};
use crate::json::Json;
use crate::outcome::{EXIT_FAULT, EXIT_SUCCESS};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a deployment may take to answer its first request.
const START_WAIT: Duration = Duration::from_secs(60);
/// SIGTERM grace before SIGKILL when a scenario's deployment stops.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The read/booking mix of every throughput scenario (the bench's default).
const MIX: &str = "list=20,book=40,schedule=20,cancel=20";
/// Booking-only load that fills the state before the recovery scenario kills a replica.
const FILL_MIX: &str = "book=1";
/// Length of one fill round; rounds repeat until enough bookings succeeded.
const FILL_ROUND: Duration = Duration::from_secs(5);
/// Fill rounds before giving up (slots sell out eventually).
const FILL_ROUNDS_MAX: u32 = 40;
/// Customers per theatre while filling: many distinct customers keep bookings distinct rather than merged.
const FILL_CUSTOMERS: u32 = 10_000;
/// Give up waiting for a killed replica to vote again after this long.
const RECOVERY_BOUND: Duration = Duration::from_secs(60);
/// How often the replica manager is asked where its replica stands (a polling interval, not a settle delay).
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Targets from the issue, printed as met or missed.
const TARGET_STANDALONE_RPS: f64 = 25_000.0;
const TARGET_STANDALONE_P99_US: f64 = 2_000.0;
const TARGET_REPLICATED_RPS: f64 = 10_000.0;
const TARGET_P50_ONE_CONNECTION_US: f64 = 500.0;
const TARGET_P99_US: f64 = 10_000.0;
const TARGET_LIAR_RATIO: f64 = 0.7;
const TARGET_RECOVERY_MS: f64 = 2_000.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deployment {
    Standalone,
    Replicated,
}

impl Deployment {
    fn file_name(self) -> &'static str {
        match self {
            Deployment::Standalone => "standalone.toml",
            Deployment::Replicated => "cineflix.toml",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Standalone,
    Healthy,
    HealthyOneConnection,
    Liar,
}

#[derive(Debug)]
struct Scenario {
    name: &'static str,
    kind: Kind,
    deployment: Deployment,
    connections: u32,
}

/// One scenario's figures.
#[derive(Debug)]
struct Outcome {
    name: &'static str,
    kind: Kind,
    connections: u32,
    measurement: Measurement,
    /// Liar scenario: replacements of the liar while the scenario ran, and lies injected.
    replacements: Option<u64>,
    injections: Option<u64>,
    /// The deployment's `[runtime] busy_poll_us` (it changes the figures a lot on small VMs; ARCHITECTURE.md).
    busy_poll_us: u64,
}

/// The recovery scenario's figures.
#[derive(Debug)]
struct Recovery {
    bookings: u64,
    executed_seq: u64,
    killed_replica: u16,
    vote_again_ms: f64,
}

pub fn run(global: &GlobalArgs, args: &CompareArgs) -> u8 {
    let load_average = std::fs::read_to_string("/proc/loadavg").map(|text| text.trim().to_owned()).ok();
    let scenarios = [
        Scenario {
            name: "standalone",
            kind: Kind::Standalone,
            deployment: Deployment::Standalone,
            connections: args.connections,
        },
        Scenario {
            name: "replicated",
            kind: Kind::Healthy,
            deployment: Deployment::Replicated,
            connections: args.connections,
        },
        Scenario {
            name: "replicated-1conn",
            kind: Kind::HealthyOneConnection,
            deployment: Deployment::Replicated,
            connections: 1,
        },
        Scenario {
            name: "replicated-liar",
            kind: Kind::Liar,
            deployment: Deployment::Replicated,
            connections: args.connections,
        },
    ];
    let mut outcomes = Vec::new();
    for scenario in &scenarios {
        eprintln!("== {} ({} connections)", scenario.name, scenario.connections);
        match run_scenario(global, args, scenario) {
            Ok(outcome) => outcomes.push(outcome),
            Err(message) => {
                eprintln!("cineflix compare: {}: {message}", scenario.name);
                return EXIT_FAULT;
            }
        }
    }
    let recovery = if args.recovery_bookings == 0 {
        None
    } else {
        eprintln!("== recovery ({} bookings, then kill -9 one replica)", args.recovery_bookings);
        match run_recovery(global, args) {
            Ok(recovery) => Some(recovery),
            Err(message) => {
                eprintln!("cineflix compare: recovery: {message}");
                return EXIT_FAULT;
            }
        }
    };
    let rendered = if global.json {
        format!("{}\n", render_json(&outcomes, recovery.as_ref(), load_average.as_deref(), args).render())
    } else {
        render_text(&outcomes, recovery.as_ref(), load_average.as_deref(), args)
    };
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), rendered.as_bytes());
    EXIT_SUCCESS
}

/// A deployment's configuration relocated into a temporary directory: its own ports, its logs there too.
struct Prepared {
    config_path: PathBuf,
    config: config::Config,
}

fn prepare(config_dir: &Path, deployment: Deployment, slug: &str) -> Result<Prepared, String> {
    let source = config_dir.join(deployment.file_name());
    let dir = std::env::temp_dir().join(format!("cineflix-compare-{}", std::process::id())).join(slug);
    let private = cluster::PrivateDeployment::from_template(&source, &dir)
        .map_err(|error| format!("cannot relocate {}: {error:#}", source.display()))?;
    let config_path = private.write().map_err(|error| format!("{error:#}"))?;
    Ok(Prepared { config_path, config: private.config })
}

fn endpoint_of(config: &config::Config) -> String {
    let mut addr = config.frontend.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}/cineflix")
}

fn bench_global(global: &GlobalArgs, config: &config::Config) -> GlobalArgs {
    GlobalArgs {
        endpoint: endpoint_of(config),
        soap: SoapArg::V11,
        json: false,
        log_dir: global.log_dir.clone(),
        timeout_ms: global.timeout_ms,
    }
}

fn bench_args(connections: u32, warmup: Duration, duration: Duration, mix: &str, customers: u32) -> BenchArgs {
    BenchArgs {
        connections,
        duration,
        warmup,
        mix: mix.to_owned(),
        setup: false,
        no_setup: false,
        // One load-generator thread leaves the other core to the deployment.
        threads: 1,
        customers,
        seed: 1,
        allow_errors: true,
    }
}

fn start(prepared: &Prepared) -> Result<cluster::Cluster, String> {
    cluster::Cluster::start(&prepared.config_path, START_WAIT).map_err(|error| format!("{error:#}"))
}

fn run_scenario(global: &GlobalArgs, args: &CompareArgs, scenario: &Scenario) -> Result<Outcome, String> {
    let prepared = prepare(&args.config_dir, scenario.deployment, scenario.name)?;
    let mut cluster = start(&prepared)?;
    let liar = match scenario.kind {
        Kind::Liar => Some(Liar::start(&prepared.config)?),
        _ => None,
    };
    let bench = bench_args(scenario.connections, args.warmup, args.duration, MIX, 500);
    let measured = bench::measure(&bench_global(global, &prepared.config), &bench);
    let liar_report = liar.map(Liar::stop).transpose();
    cluster.stop(STOP_GRACE);
    let measurement = measured.map_err(|code| format!("the bench failed (exit code {code})"))?;
    let liar_report = liar_report?;
    Ok(Outcome {
        name: scenario.name,
        kind: scenario.kind,
        connections: scenario.connections,
        measurement,
        replacements: liar_report.map(|report| report.replacements),
        injections: liar_report.map(|report| report.injections),
        busy_poll_us: prepared.config.runtime.busy_poll_us,
    })
}

/// Keeps one replica lying for a whole scenario: a replacement runs clean, so each new incarnation is told to lie
/// again as soon as it is in the vote.
struct Liar {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<LiarReport, String>>,
}

#[derive(Clone, Copy, Debug)]
struct LiarReport {
    replacements: u64,
    injections: u64,
}

impl Liar {
    /// Makes the last configured replica lie and returns once it confirmed.
    fn start(config: &config::Config) -> Result<Liar, String> {
        let manager = config.replicas.last().ok_or("the configuration has no replicas")?.manager;
        let stop = Arc::new(AtomicBool::new(false));
        let (confirmed_tx, confirmed_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || keep_lying(manager, &stop, confirmed_tx)
        });
        match confirmed_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => Ok(Liar { stop, thread }),
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                let detail = match thread.join() {
                    Ok(Err(message)) => message,
                    _ => "no confirmation within 10 s".to_owned(),
                };
                Err(format!("cannot make the replica of {manager} lie: {detail}"))
            }
        }
    }

    fn stop(self) -> Result<LiarReport, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| "the liar thread panicked".to_owned())?
    }
}

fn keep_lying(
    manager: SocketAddr,
    stop: &AtomicBool,
    confirmed: std::sync::mpsc::Sender<()>,
) -> Result<LiarReport, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    let bound = Duration::from_secs(1);
    runtime.block_on(async {
        let initial = rm::status::query_status(manager, bound).await.map_err(|error| error.to_string())?;
        let mut lying_incarnation = None;
        let mut injections = 0;
        let mut last_replacements = initial.replacements;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(status) = rm::status::query_status(manager, bound).await {
                last_replacements = status.replacements;
                if status.in_vote
                    && lying_incarnation != Some(status.incarnation)
                    && let Ok(incarnation) = rm::status::inject_fault(manager, replica_api::Fault::Lie, bound).await
                {
                    lying_incarnation = Some(incarnation);
                    injections += 1;
                    if injections == 1 {
                        let _ = confirmed.send(());
                    }
                }
            }
            tokio::time::sleep(POLL_INTERVAL * 5).await;
        }
        Ok(LiarReport { replacements: last_replacements - initial.replacements, injections })
    })
}

/// Fills the state with bookings, kills one replica with SIGKILL and times until its replacement votes again.
fn run_recovery(global: &GlobalArgs, args: &CompareArgs) -> Result<Recovery, String> {
    let prepared = prepare(&args.config_dir, Deployment::Replicated, "recovery")?;
    let mut cluster = start(&prepared)?;
    let result = measure_recovery(global, args, &prepared, &cluster);
    cluster.stop(STOP_GRACE);
    result
}

fn measure_recovery(
    global: &GlobalArgs,
    args: &CompareArgs,
    prepared: &Prepared,
    cluster: &cluster::Cluster,
) -> Result<Recovery, String> {
    let bench_global = bench_global(global, &prepared.config);
    let mut bookings = 0;
    let mut rounds = 0;
    while bookings < args.recovery_bookings {
        if rounds == FILL_ROUNDS_MAX {
            return Err(format!("only {bookings} bookings succeeded in {rounds} rounds of {FILL_ROUND:?}"));
        }
        let mut fill = bench_args(args.connections, Duration::ZERO, FILL_ROUND, FILL_MIX, FILL_CUSTOMERS);
        // Slots are added once; later rounds book into them.
        fill.no_setup = rounds > 0;
        let measured = bench::measure(&bench_global, &fill).map_err(|code| format!("fill failed (exit {code})"))?;
        bookings += measured.ok;
        rounds += 1;
    }
    let replica = prepared.config.replicas.first().ok_or("the configuration has no replicas")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    let bound = Duration::from_secs(1);
    let before = runtime
        .block_on(rm::status::query_status(replica.manager, bound))
        .map_err(|error| format!("rm{}: {error}", replica.id))?;
    let pid = cluster.replica_pid(replica.id).ok_or_else(|| format!("rm{} has no replica process", replica.id))?;
    cluster::send_signal(pid, cluster::Signal::KILL)?;
    let killed_at = Instant::now();
    loop {
        if let Ok(status) = runtime.block_on(rm::status::query_status(replica.manager, bound))
            && status.incarnation > before.incarnation
            && status.in_vote
        {
            return Ok(Recovery {
                bookings,
                executed_seq: before.executed_up_to,
                killed_replica: replica.id,
                vote_again_ms: killed_at.elapsed().as_secs_f64() * 1000.0,
            });
        }
        if killed_at.elapsed() > RECOVERY_BOUND {
            return Err(format!("replica {} was not in the vote again within {RECOVERY_BOUND:?}", replica.id));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn find(outcomes: &[Outcome], wanted: fn(Kind) -> bool) -> Option<&Outcome> {
    outcomes.iter().find(|outcome| wanted(outcome.kind))
}

fn ratio(numerator: &Outcome, denominator: Option<&Outcome>) -> Option<f64> {
    let denominator = denominator?.measurement.requests_per_s;
    (denominator > 0.0).then(|| numerator.measurement.requests_per_s / denominator)
}

/// One target of the issue: what, the measured value as text, and whether it was met.
struct Target {
    what: String,
    measured: String,
    met: bool,
}

fn targets(outcomes: &[Outcome], recovery: Option<&Recovery>) -> Vec<Target> {
    let mut list = Vec::new();
    if let Some(standalone) = find(outcomes, |kind| matches!(kind, Kind::Standalone)) {
        let rps = standalone.measurement.requests_per_s;
        list.push(Target {
            what: format!("standalone >= {TARGET_STANDALONE_RPS:.0} req/s ({} conns)", standalone.connections),
            measured: format!("{rps:.0} req/s"),
            met: rps >= TARGET_STANDALONE_RPS,
        });
        let p99 = standalone.measurement.p99_us;
        list.push(Target {
            what: format!(
                "standalone p99 < {:.0} ms ({} conns)",
                TARGET_STANDALONE_P99_US / 1000.0,
                standalone.connections
            ),
            measured: format!("{:.2} ms", p99 / 1000.0),
            met: p99 < TARGET_STANDALONE_P99_US,
        });
    }
    if let Some(healthy) = find(outcomes, |kind| matches!(kind, Kind::Healthy)) {
        let rps = healthy.measurement.requests_per_s;
        list.push(Target {
            what: format!("replicated >= {TARGET_REPLICATED_RPS:.0} req/s ({} conns)", healthy.connections),
            measured: format!("{rps:.0} req/s"),
            met: rps >= TARGET_REPLICATED_RPS,
        });
        let p99 = healthy.measurement.p99_us;
        list.push(Target {
            what: format!("replicated p99 < {:.0} ms ({} conns)", TARGET_P99_US / 1000.0, healthy.connections),
            measured: format!("{:.2} ms", p99 / 1000.0),
            met: p99 < TARGET_P99_US,
        });
    }
    if let Some(one) = find(outcomes, |kind| matches!(kind, Kind::HealthyOneConnection)) {
        let p50 = one.measurement.p50_us;
        list.push(Target {
            what: format!("replicated p50 < {:.1} ms (1 conn)", TARGET_P50_ONE_CONNECTION_US / 1000.0),
            measured: format!("{:.3} ms", p50 / 1000.0),
            met: p50 < TARGET_P50_ONE_CONNECTION_US,
        });
    }
    if let Some(liar) = find(outcomes, |kind| matches!(kind, Kind::Liar))
        && let Some(share) = ratio(liar, find(outcomes, |kind| matches!(kind, Kind::Healthy)))
    {
        list.push(Target {
            what: format!("one liar >= {:.0}% of healthy throughput", TARGET_LIAR_RATIO * 100.0),
            measured: format!("{:.0}%", share * 100.0),
            met: share >= TARGET_LIAR_RATIO,
        });
    }
    if let Some(recovery) = recovery {
        list.push(Target {
            what: format!(
                "killed replica votes again < {:.0} s ({} bookings)",
                TARGET_RECOVERY_MS / 1000.0,
                recovery.bookings
            ),
            measured: format!("{:.0} ms", recovery.vote_again_ms),
            met: recovery.vote_again_ms < TARGET_RECOVERY_MS,
        });
    }
    list
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

fn render_text(
    outcomes: &[Outcome],
    recovery: Option<&Recovery>,
    load_average: Option<&str>,
    args: &CompareArgs,
) -> String {
    let standalone = find(outcomes, |kind| matches!(kind, Kind::Standalone));
    let healthy = find(outcomes, |kind| matches!(kind, Kind::Healthy));
    let mut out = format!(
        "cineflix compare: {:.1} s measured after {:.1} s warmup per scenario, mix {MIX}, 1 load thread; \
         load average before: {}\n\n",
        args.duration.as_secs_f64(),
        args.warmup.as_secs_f64(),
        load_average.unwrap_or("unknown")
    );
    out.push_str(&format!(
        "{:<18} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7} {:>13} {:>11} {:>8}\n",
        "scenario",
        "conns",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "vs standalone",
        "vs healthy",
        "poll µs"
    ));
    for outcome in outcomes {
        let measurement = &outcome.measurement;
        let show = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2}"));
        let vs_healthy = if matches!(outcome.kind, Kind::Liar) { ratio(outcome, healthy) } else { None };
        out.push_str(&format!(
            "{:<18} {:>5} {:>9.0} {:>9} {:>9} {:>9} {:>7} {:>13} {:>11} {:>8}\n",
            outcome.name,
            outcome.connections,
            measurement.requests_per_s,
            ms(measurement.p50_us),
            ms(measurement.p99_us),
            ms(measurement.p99_9_us),
            measurement.errors,
            show(ratio(outcome, standalone)),
            show(vs_healthy),
            outcome.busy_poll_us,
        ));
    }
    for outcome in outcomes {
        if !outcome.measurement.error_kinds.is_empty() {
            let kinds: Vec<String> =
                outcome.measurement.error_kinds.iter().map(|(kind, count)| format!("{kind}={count}")).collect();
            out.push_str(&format!("errors of {}: {}\n", outcome.name, kinds.join(" ")));
        }
        if let (Some(replacements), Some(injections)) = (outcome.replacements, outcome.injections) {
            out.push_str(&format!(
                "{}: the liar was replaced {replacements} time(s) and told to lie {injections} time(s) \
                 (warmup included)\n",
                outcome.name
            ));
        }
    }
    match recovery {
        Some(recovery) => out.push_str(&format!(
            "recovery: {} successful bookings (state at seq {}), replica {} killed with SIGKILL, in the vote again \
             after {:.0} ms (no load while recovering)\n",
            recovery.bookings, recovery.executed_seq, recovery.killed_replica, recovery.vote_again_ms
        )),
        None => out.push_str("recovery: skipped (--recovery-bookings 0)\n"),
    }
    out.push_str("\ntargets (measured, not asserted):\n");
    for target in targets(outcomes, recovery) {
        out.push_str(&format!(
            "  {:<52} {:>12}  {}\n",
            target.what,
            target.measured,
            if target.met { "met" } else { "MISSED" }
        ));
    }
    out
}

fn render_json(
    outcomes: &[Outcome],
    recovery: Option<&Recovery>,
    load_average: Option<&str>,
    args: &CompareArgs,
) -> Json {
    let standalone = find(outcomes, |kind| matches!(kind, Kind::Standalone));
    let healthy = find(outcomes, |kind| matches!(kind, Kind::Healthy));
    let scenarios: Vec<Json> = outcomes
        .iter()
        .map(|outcome| {
            let measurement = &outcome.measurement;
            let mut errors = Json::object();
            for (kind, count) in &measurement.error_kinds {
                errors = errors.with(kind, *count);
            }
            let vs_healthy = if matches!(outcome.kind, Kind::Liar) { ratio(outcome, healthy) } else { None };
            Json::object()
                .with("name", outcome.name)
                .with("connections", outcome.connections)
                .with("requests", measurement.requests)
                .with("requests_per_s", (measurement.requests_per_s * 10.0).round() / 10.0)
                .with("p50_us", measurement.p50_us)
                .with("p99_us", measurement.p99_us)
                .with("p99_9_us", measurement.p99_9_us)
                .with("errors_total", measurement.errors)
                .with("errors", errors)
                .with("ratio_to_standalone", ratio(outcome, standalone))
                .with("ratio_to_replicated_healthy", vs_healthy)
                .with("liar_replacements", outcome.replacements)
                .with("liar_injections", outcome.injections)
                .with("busy_poll_us", outcome.busy_poll_us)
        })
        .collect();
    let targets: Vec<Json> = targets(outcomes, recovery)
        .into_iter()
        .map(|target| {
            Json::object().with("target", target.what).with("measured", target.measured).with("met", target.met)
        })
        .collect();
    let recovery = recovery.map(|recovery| {
        Json::object()
            .with("bookings", recovery.bookings)
            .with("executed_seq", recovery.executed_seq)
            .with("killed_replica", u32::from(recovery.killed_replica))
            .with("vote_again_ms", (recovery.vote_again_ms * 10.0).round() / 10.0)
    });
    Json::object()
        .with("duration_s", args.duration.as_secs_f64())
        .with("warmup_s", args.warmup.as_secs_f64())
        .with("mix", MIX)
        .with("load_average", load_average.map(str::to_owned))
        .with("scenarios", scenarios)
        .with("recovery", recovery)
        .with("targets", targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_are_relocated_and_still_load() {
        let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        for deployment in [Deployment::Standalone, Deployment::Replicated] {
            let shipped = config::Config::load(&config_dir.join(deployment.file_name())).expect("shipped config");
            let slug = format!("test-{}", deployment.file_name());
            let prepared = prepare(&config_dir, deployment, &slug).expect("relocates");
            let loaded = config::Config::load(&prepared.config_path).expect("relocated config loads");
            let _ = std::fs::remove_dir_all(prepared.config_path.parent().expect("in a directory"));
            assert_eq!(loaded.frontend.mode, shipped.frontend.mode);
            assert_ne!(loaded.frontend.listen, shipped.frontend.listen, "the front end moved to a port of its own");
            assert_ne!(loaded.logs.dir, shipped.logs.dir, "logs stay in the scratch directory");
        }
    }
}
