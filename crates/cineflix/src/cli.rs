//! The command line of `cineflix`: global flags and one subcommand per operation, as clap
//! derive types.
//!
//! This module only declares and validates the shape of the command line; it does not
//! talk to the service, print answers or decide exit codes (see `main.rs`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Default SOAP endpoint of a local standalone deployment.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080/cineflix";

const AFTER_HELP: &str = "\
Exit codes:
  0   success (the service answered success=true)
  1   domain rejection (the service answered success=false, e.g. SOLD_OUT)
  2   SOAP fault, HTTP error or transport error (message on stderr)
  64  usage error (bad flags or arguments; nothing was sent)";

/// CineFlix client for admins and customers, and a SOAP load generator.
#[derive(Debug, Parser)]
#[command(name = "cineflix", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// SOAP endpoint URL (plain http).
    #[arg(long, global = true, env = "CINEFLIX_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// SOAP version of the requests.
    #[arg(long, global = true, value_enum, default_value = "1.1")]
    pub soap: SoapArg,
    /// Print one machine-readable JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Directory of the per-user log files (`<USERID>.log`).
    #[arg(long, global = true, default_value = "var/log/clients")]
    pub log_dir: PathBuf,
    /// Give up on one request after this many milliseconds.
    #[arg(long, global = true, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SoapArg {
    #[value(name = "1.1")]
    V11,
    #[value(name = "1.2")]
    V12,
}

impl SoapArg {
    pub fn version(self) -> soap::SoapVersion {
        match self {
            SoapArg::V11 => soap::SoapVersion::V11,
            SoapArg::V12 => soap::SoapVersion::V12,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SoapArg::V11 => "1.1",
            SoapArg::V12 => "1.2",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Admin: add a slot of a movie in the admin's theatre, or update its capacity.
    AddSlots {
        #[command(flatten)]
        user: UserArg,
        #[command(flatten)]
        slot: SlotArgs,
        /// Booking capacity (1 to 10,000).
        #[arg(long, allow_negative_numbers = true)]
        capacity: i32,
    },
    /// Admin: remove a slot; its bookings move to a later slot or are cancelled.
    RemoveSlots {
        #[command(flatten)]
        user: UserArg,
        #[command(flatten)]
        slot: SlotArgs,
    },
    /// List the shows of a movie in all theatres with available seats.
    ListShows {
        #[command(flatten)]
        user: UserArg,
        /// Movie name: Avatar, Avengers or Titanic.
        #[arg(long)]
        movie: String,
    },
    /// Book tickets for a slot.
    Book {
        #[command(flatten)]
        customer: CustomerArgs,
        #[command(flatten)]
        slot: SlotArgs,
        /// Number of tickets.
        #[arg(long, allow_negative_numbers = true)]
        tickets: i32,
    },
    /// Show a customer's bookings in all theatres.
    Schedule {
        #[command(flatten)]
        customer: CustomerArgs,
    },
    /// Cancel tickets of a booking.
    Cancel {
        #[command(flatten)]
        customer: CustomerArgs,
        #[command(flatten)]
        slot: SlotArgs,
        /// Number of tickets.
        #[arg(long, allow_negative_numbers = true)]
        tickets: i32,
    },
    /// Move tickets from one slot to another, atomically.
    Exchange {
        #[command(flatten)]
        customer: CustomerArgs,
        #[command(flatten)]
        slot: SlotArgs,
        /// Movie ID of the new slot.
        #[arg(long)]
        new_movie_id: String,
        /// Movie name of the new slot.
        #[arg(long)]
        new_movie: String,
        /// Number of tickets to move.
        #[arg(long, allow_negative_numbers = true)]
        tickets: i32,
    },
    /// Ask for a user ID, then offer that role's menu until `q` or end of input.
    Interactive,
    /// Load generator: closed-loop SOAP over keep-alive HTTP/1.1 connections.
    Bench(BenchArgs),
    /// Operator: ask every component of the deployment (sequencer, replica managers, front end) how it stands.
    /// Exits 2 when a component does not answer.
    Status(StatusArgs),
    /// Operator: make a running replica misbehave, or heal it: `lie`, `lie-next N` (the next N answers wrong, then
    /// correct), `crash-after N`, `slow MS`, `none`.
    /// Exits 2 when the replica's manager does not confirm.
    Fault(FaultArgs),
    /// Benchmark: start standalone and replicated deployments in turn on this host, bench each, print ratios.
    Compare(CompareArgs),
    /// Chaos run: a private cluster under a tracked booking load takes seeded random replica kills, lies and
    /// crashes on top of UDP loss for a bounded time, then the history is checked. Exits 2 on any violation.
    Chaos(ChaosArgs),
    /// Failure demonstration: start a private cluster, drive load, inject one fault scenario and narrate what
    /// happens, ending with the evidence. Exits 2 when a step is not observed in time or the history check fails.
    Demo(DemoArgs),
    /// Grader: run the scenario suite (booking rules, SOAP faults, concurrency, failures) against --endpoint or
    /// against private local deployments; exits 1 when a case failed.
    Grade(GradeArgs),
}

#[derive(Debug, Args)]
pub struct GradeArgs {
    /// With --endpoint URL (the global flag, given explicitly): the deployment's configuration (replica managers'
    /// addresses), for the failure cases; without it they are skipped.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start private deployments on this host (n = 3, n = 4, and n = 3 with 1% link faults) and grade those; the
    /// default unless --endpoint is given.
    #[arg(long)]
    pub local: bool,
    /// With --local: the directory holding cineflix.toml and replicated-n4.toml.
    #[arg(long, default_value = "config")]
    pub config_dir: PathBuf,
    /// Write grade.md and grade.xml (JUnit) here.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// Run only the cases whose id, group or scenario contains this text (any letter case).
    #[arg(long)]
    pub only: Option<String>,
    /// List the cases (id, group, scenario, result codes) and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// How long to inject events under load, e.g. 10m or 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Seed of the event schedule and of the workload's choices (same seed, same schedule).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Replicas: 3 (config/cineflix.toml) or 4 (config/replicated-n4.toml, which also takes a crash and a liar at
    /// once).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(3..=4))]
    pub replicas: u8,
    /// Probability of drop, of duplication and of reordering of each datagram on every UDP link.
    #[arg(long, default_value_t = 0.01)]
    pub loss: f64,
    /// Also write the final summary to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Requests without an answer (SOAP fault, timeout) still accepted as a pass.
    #[arg(long, default_value_t = 0)]
    pub allowed_unknown: u64,
    /// Directory holding cineflix.toml and replicated-n4.toml.
    #[arg(long, default_value = "config")]
    pub config_dir: PathBuf,
    /// Keep the private cluster's configuration and logs (always kept when the run fails).
    #[arg(long)]
    pub keep_logs: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The failure scenario.
    #[arg(value_enum)]
    pub scenario: DemoScenario,
    /// Seed of the workload's choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory holding cineflix.toml and replicated-n4.toml.
    #[arg(long, default_value = "config")]
    pub config_dir: PathBuf,
    /// Keep the private cluster's configuration and logs (always kept when the run fails).
    #[arg(long)]
    pub keep_logs: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DemoScenario {
    /// A replica's process is killed with SIGKILL under load.
    Crash,
    /// A replica starts answering wrongly under load.
    Liar,
    /// Wrong, wrong, right does not replace a replica; three wrong in a row does.
    ThreeStrikes,
    /// n = 4: one replica killed and another lying at the same moment.
    CrashAndLie,
    /// 1% datagram loss, duplication and reordering on every UDP link.
    Loss,
    /// A replica manager is stopped (SIGSTOP) under load, dropped by the sequencer, resumed and rebuilt.
    Pause,
}

impl DemoScenario {
    pub fn name(self) -> &'static str {
        match self {
            DemoScenario::Crash => "crash",
            DemoScenario::Liar => "liar",
            DemoScenario::ThreeStrikes => "three-strikes",
            DemoScenario::CrashAndLie => "crash-and-lie",
            DemoScenario::Loss => "loss",
            DemoScenario::Pause => "pause",
        }
    }

    pub fn summary(self) -> &'static str {
        match self {
            DemoScenario::Crash => "a replica crashes (SIGKILL) under load",
            DemoScenario::Liar => "a replica lies under load",
            DemoScenario::ThreeStrikes => "the three-consecutive rule and its reset",
            DemoScenario::CrashAndLie => "four replicas: one crashes and another lies at the same moment",
            DemoScenario::Loss => "datagram loss, duplication and reordering on every UDP link",
            DemoScenario::Pause => "a replica manager is stopped (SIGSTOP) under load, then resumed",
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// How long to measure each scenario, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before measuring each scenario (not counted).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Connections of the multi-connection scenarios (the latency scenario always uses one).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// Directory holding standalone.toml and cineflix.toml.
    #[arg(long, default_value = "config")]
    pub config_dir: PathBuf,
    /// Successful bookings in the state before a replica is killed in the recovery scenario (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub recovery_bookings: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The deployment's configuration file (names every component's address).
    #[arg(long, default_value = "config/cineflix.toml")]
    pub config: PathBuf,
    /// Give up on one component after this many milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub wait_ms: u64,
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The deployment's configuration file.
    #[arg(long, default_value = "config/cineflix.toml")]
    pub config: PathBuf,
    /// The replica (its `[[replicas]] id`).
    #[arg(long)]
    pub replica: u16,
    /// The fault: lie, lie-next, crash-after, slow or none.
    pub kind: String,
    /// The fault's number: answers for lie-next, requests for crash-after, milliseconds for slow.
    pub value: Option<u64>,
    /// Give up after this many milliseconds without a confirmation.
    #[arg(long, default_value_t = 3_000)]
    pub wait_ms: u64,
}

#[derive(Debug, Args)]
pub struct UserArg {
    /// The caller's user ID, e.g. ATWA0001 (admin) or VERC0042 (customer).
    #[arg(long)]
    pub user: String,
}

#[derive(Debug, Args)]
pub struct CustomerArgs {
    /// The caller's user ID, e.g. ATWA0001 (admin) or VERC0042 (customer).
    #[arg(long)]
    pub user: String,
    /// Whose bookings: defaults to the user for customers; admins must pass it.
    #[arg(long)]
    pub customer: Option<String>,
}

#[derive(Debug, Args)]
pub struct SlotArgs {
    /// Movie ID: theatre, slot letter (M/A/E) and date DDMMYY, e.g. ATWM281126.
    #[arg(long)]
    pub movie_id: String,
    /// Movie name: Avatar, Avengers or Titanic.
    #[arg(long)]
    pub movie: String,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of keep-alive connections, each one closed-loop (one request at a time).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,
    /// How long to measure, e.g. 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before measuring (not counted), e.g. 2s or 0s.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Operation mix as weights: list, book, schedule, cancel, exchange.
    #[arg(long, default_value = "list=20,book=40,schedule=20,cancel=20")]
    pub mix: String,
    /// Add every slot of every theatre for today and tomorrow (capacity 10,000) before the run (default).
    #[arg(long, overrides_with = "no_setup")]
    pub setup: bool,
    /// Skip the setup phase (the server already has slots).
    #[arg(long, overrides_with = "setup")]
    pub no_setup: bool,
    /// Load generator runtime threads (1 leaves the other core to the server).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// Customer IDs per theatre the load is spread over.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub customers: u32,
    /// Seed of the load generator's choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Exit 0 even when some requests failed (faults, transport errors).
    #[arg(long)]
    pub allow_errors: bool,
}

impl BenchArgs {
    pub fn setup_enabled(&self) -> bool {
        !self.no_setup
    }
}

/// Parses `10s`, `250ms`, `2m`, `1.5s`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_s) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("not a duration: {text:?} (try 10s, 500ms, 2m)"))?;
    if !value.is_finite() || value < 0.0 || value * unit_s > 86_400.0 {
        return Err(format!("duration out of range: {text:?}"));
    }
    Ok(Duration::from_secs_f64(value * unit_s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        let check =
            |text: &str, expected_ms: u64| assert_eq!(parse_duration(text), Ok(Duration::from_millis(expected_ms)));
        check("10s", 10_000);
        check("250ms", 250);
        check("2m", 120_000);
        check("1.5s", 1_500);
        check("3", 3_000);
        check("0s", 0);
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
