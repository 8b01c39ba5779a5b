//! `cineflix-up`: starts the whole CineFlix system described by a config file in the foreground.
//!
//! It prints where the WSDL is, then waits for Ctrl-C (or SIGTERM) and stops every component. If a component dies
//! on its own, it says so and stops the rest: a half-running system is worse than a stopped one.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Start the whole CineFlix system in the foreground")]
struct Args {
    /// Deployment description.
    #[arg(long, default_value = "config/cineflix.toml")]
    config: PathBuf,
    /// How long to wait for the system to answer before giving up.
    #[arg(long, default_value_t = 30)]
    ready_timeout_s: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cluster = cluster::Cluster::start(&args.config, Duration::from_secs(args.ready_timeout_s))?;
    // One line per component: name, pid, address (tests parse the pids to kill components).
    for (name, pid) in cluster.pids() {
        let address = cluster.addresses.iter().find(|(n, _)| *n == name).map_or("", |(_, a)| a.as_str());
        println!("  {name:<10} pid {pid:<8} {address}");
    }
    println!("CineFlix is up. WSDL: {}", cluster.wsdl_url);
    println!("Press Ctrl-C to stop.");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let died = runtime.block_on(async {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return anyhow::Ok(None),
                _ = terminate.recv() => return Ok(None),
                _ = tick.tick() => if let Some(exit) = cluster.exited() { return Ok(Some(exit)) },
            }
        }
    })?;
    if let Some((name, status)) = died {
        eprintln!("{name} stopped unexpectedly ({status}); stopping the rest");
    }
    cluster.stop(Duration::from_secs(5));
    println!("CineFlix stopped.");
    Ok(())
}
