//! `cineflix-sim`: runs deterministic simulations over ranges of seeds (the CI test runs a few thousand; this is the
//! soak and the replay tool). Exits non-zero on the first violation after printing it with its replay command.
//!
//! Deliberately not here: any simulation logic (the `sim` library has it).

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use sim::{ClusterScenario, ClusterSimOptions, OrderingSimOptions, run_cluster, run_ordering};

#[derive(Parser, Debug)]
#[command(name = "cineflix-sim", about = "Deterministic simulations of CineFlix")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulates the sequencer protocol: one sequencer, several submitters and members, faulty network, crashes.
    Ordering {
        /// How many seeds to run.
        #[arg(long, default_value_t = 10_000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Requests each submitter submits per seed.
        #[arg(long, default_value_t = OrderingSimOptions::default().requests_per_submitter)]
        requests: u64,
        /// Simulated milliseconds of faults per seed.
        #[arg(long, default_value_t = OrderingSimOptions::default().fault_phase_ms)]
        fault_ms: u64,
        /// Print every event (use with one seed).
        #[arg(long)]
        trace: bool,
    },
    /// Simulates the whole cluster: front end, sequencer, replica managers and replicas, with faults.
    Cluster {
        /// How many seeds to run.
        #[arg(long, default_value_t = 1_000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// random, one-liar, one-crash, crash-and-liar, wrong-right-wrong-wrong, three-wrong or two-down.
        #[arg(long, default_value = "random")]
        scenario: String,
        /// Requests the clients issue per seed.
        #[arg(long, default_value_t = ClusterSimOptions::default().requests)]
        requests: u64,
        /// Print every event (use with one seed).
        #[arg(long)]
        trace: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Cluster { seeds, start, scenario, requests, trace } => {
            let Some(scenario) = ClusterScenario::parse(&scenario) else {
                eprintln!("unknown scenario {scenario:?}");
                return ExitCode::from(64);
            };
            let options = ClusterSimOptions { scenario, requests, trace, ..ClusterSimOptions::default() };
            let started = Instant::now();
            let mut totals = sim::ClusterTotals::default();
            for seed in start..start.saturating_add(seeds) {
                match run_cluster(seed, &options) {
                    Ok(outcome) => {
                        if trace {
                            println!("seed {seed}: {outcome:?}");
                        }
                        totals.add(&outcome);
                    }
                    Err(violation) => {
                        eprintln!("{violation}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            println!(
                "cluster {}: {seeds} seeds from {start} ok in {:.1} s: {totals:?}",
                scenario.name(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Command::Ordering { seeds, start, requests, fault_ms, trace } => {
            let options = OrderingSimOptions {
                requests_per_submitter: requests,
                fault_phase_ms: fault_ms,
                trace,
                ..OrderingSimOptions::default()
            };
            let started = Instant::now();
            let (mut steps, mut ordered, mut crashes, mut state_transfers, mut retransmitted) = (0, 0, 0, 0, 0);
            let mut dropped = 0;
            for seed in start..start.saturating_add(seeds) {
                match run_ordering(seed, &options) {
                    Ok(outcome) => {
                        steps += outcome.steps;
                        ordered += outcome.ordered;
                        crashes += outcome.crashes;
                        state_transfers += outcome.state_transfers;
                        retransmitted += outcome.retransmitted;
                        dropped += outcome.members_dropped;
                        if trace {
                            println!("seed {seed}: {outcome:?}");
                        }
                    }
                    Err(violation) => {
                        eprintln!("{violation}");
                        return ExitCode::FAILURE;
                    }
                }
                let done = seed - start + 1;
                if done % 10_000 == 0 {
                    println!("{done} seeds ok ({:.1} s)", started.elapsed().as_secs_f64());
                }
            }
            println!(
                "ordering: {seeds} seeds from {start} ok in {:.1} s: {steps} steps, {ordered} seqs ordered, \
                 {crashes} member crashes, {dropped} silent members dropped, {state_transfers} state transfers, \
                 {retransmitted} entries retransmitted",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
    }
}
