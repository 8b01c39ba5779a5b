//! `cineflix-replica`: runs one CineFlix replica (its control task and theatre servers ATW, OUT, VER) from the
//! configuration file.
//!
//! This file only turns the command line and config into `theatre_servers::Options`, sets up the runtime and
//! signals, and reports errors; the servers are in the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use booking::TheatreCode;
use clap::Parser;
use theatre_servers::rpc::RetryPolicy;
use theatre_servers::{Options, ReplicaProcess};

/// One CineFlix replica: the theatre servers ATW, OUT and VER talking UDP, and the control task its driver (the
/// front end, or a replica manager) sends jobs to.
#[derive(Debug, Parser)]
#[command(name = "cineflix-replica", version)]
struct Cli {
    /// Configuration file (default: config/cineflix.toml if it exists, else built-in loopback defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Which replica's addresses to use: `standalone`, or a replica id of the config's [[replicas]].
    #[arg(long, default_value = "standalone")]
    replica: String,
    /// Run only this theatre server (repeatable). Default: all three, with the control task.
    #[arg(long, value_parser = parse_theatre)]
    theatre: Vec<TheatreCode>,
    /// With --theatre: also run the control task in this process.
    #[arg(long)]
    with_control: bool,
    /// Override the control address.
    #[arg(long)]
    control_addr: Option<SocketAddr>,
    /// Override ATW's address.
    #[arg(long)]
    atw_addr: Option<SocketAddr>,
    /// Override OUT's address.
    #[arg(long)]
    out_addr: Option<SocketAddr>,
    /// Override VER's address.
    #[arg(long)]
    ver_addr: Option<SocketAddr>,
    /// Override the log directory.
    #[arg(long)]
    logs_dir: Option<PathBuf>,
    /// First wait for a peer reply before resending; doubles up to 200 ms.
    #[arg(long, default_value_t = 5)]
    peer_retry_ms: u64,
    /// How often log files are flushed to the OS.
    #[arg(long, default_value_t = 200)]
    log_flush_ms: u64,
    /// Injected fault (tests, demonstrations): `lie`, `lie-next=N` (the next N answers wrong), `crash-after=N` (exit
    /// abruptly after N jobs), `slow=MS` (delay every answer to executed jobs), or `none`. The config's
    /// `[[replicas]].fault` is not read here: the replica manager passes it to the first replica only, so that
    /// replacements run without it.
    #[arg(long, default_value = "none")]
    fault: replica_api::Fault,
}

fn parse_theatre(text: &str) -> Result<TheatreCode, String> {
    TheatreCode::parse(text).ok_or_else(|| format!("{text:?} is not ATW, OUT or VER"))
}

fn options(cli: &Cli) -> anyhow::Result<Options> {
    let config = match &cli.config {
        Some(path) => config::Config::load(path).with_context(|| format!("loading {}", path.display()))?,
        None => {
            let default = PathBuf::from("config/cineflix.toml");
            if default.exists() {
                config::Config::load(&default).with_context(|| format!("loading {}", default.display()))?
            } else {
                config::Config::default()
            }
        }
    };
    let (name, addrs) = if cli.replica == "standalone" {
        ("standalone".to_string(), config.standalone.clone())
    } else {
        let id: u16 = cli.replica.parse().with_context(|| format!("--replica {:?}", cli.replica))?;
        let Some(replica) = config.replicas.iter().find(|replica| replica.id == id) else {
            bail!("no replica with id {id} in the config");
        };
        (id.to_string(), replica.replica.clone())
    };
    let zone = jiff::tz::TimeZone::get(&config.time.zone)
        .with_context(|| format!("time.zone = {:?} is not a known time zone", config.time.zone))?;
    let all = cli.theatre.is_empty();
    let faults = &config.faults;
    Ok(Options {
        name,
        control_addr: cli.control_addr.unwrap_or(addrs.control),
        theatre_addrs: [
            cli.atw_addr.unwrap_or(addrs.atw),
            cli.out_addr.unwrap_or(addrs.out),
            cli.ver_addr.unwrap_or(addrs.ver),
        ],
        theatres: if all { TheatreCode::ALL.to_vec() } else { cli.theatre.clone() },
        with_control: all || cli.with_control,
        logs_dir: cli.logs_dir.clone().unwrap_or(config.logs.dir.clone()),
        zone,
        faults: udp::LinkFaults {
            drop: faults.drop,
            duplicate: faults.duplicate,
            reorder: faults.reorder,
            delay_ms: faults.delay_ms,
        },
        retry: RetryPolicy { initial_ms: cli.peer_retry_ms.max(1), ..RetryPolicy::default() },
        log_flush_ms: cli.log_flush_ms,
        busy_poll_us: config.runtime.busy_poll_us,
    })
}

fn main() -> anyhow::Result<()> {
    shell::init_logging();
    let cli = Cli::parse();
    let options = options(&cli)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let mut process = ReplicaProcess::bind(&options).await.context("binding the replica's endpoints")?;
        if cli.fault != replica_api::Fault::None {
            let Some(control) = process.control_mut() else { bail!("--fault needs the control task in this process") };
            control.set_fault(cli.fault);
        }
        tracing::info!(name = %options.name, theatres = ?options.theatres, control = options.with_control, "replica up");
        let stats = process.serve(shell::shutdown_signal()).await.context("serving")?;
        tracing::info!(?stats, "replica stopped");
        Ok(())
    })
}
