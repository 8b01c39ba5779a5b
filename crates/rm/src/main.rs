//! `cineflix-rm`: one replica manager process. It joins the ordered stream as a member, supervises its replica
//! (`cineflix-replica`, started as a child process from the executable beside this one), replaces it when the RMs
//! agree it crashed or the front end reports it wrong three times in a row, and serves status and fault-injection
//! requests (`rm::status`).
//!
//! This file only reads the command line and the configuration and sets up the runtime and signals; the node is in
//! the library (`rm::node`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

/// A CineFlix replica manager.
#[derive(Debug, Parser)]
#[command(name = "cineflix-rm", version)]
struct Cli {
    /// Configuration file (passed on to the replica processes).
    #[arg(long, default_value = "config/cineflix.toml")]
    config: PathBuf,
    /// This replica manager's id: one of the config's [[replicas]].
    #[arg(long)]
    id: u16,
    /// Override the log directory (this RM's and its replicas').
    #[arg(long)]
    logs_dir: Option<PathBuf>,
    /// The replica executable (default: cineflix-replica beside this executable).
    #[arg(long)]
    replica_binary: Option<PathBuf>,
}

/// `name` in the directory of the running executable (or its parent, for test binaries in `deps/`).
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate the running executable")?;
    let dir = me.parent().context("executable has no parent directory")?;
    for candidate in [dir.join(name), dir.join("..").join(name)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!("{name} not found next to {} (build it: cargo build -p theatre-servers)", me.display())
}

fn main() -> anyhow::Result<()> {
    shell::init_logging();
    let cli = Cli::parse();
    let config = config::Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    let replica_binary = match cli.replica_binary {
        Some(path) => path,
        None => sibling_binary("cineflix-replica")?,
    };
    let options = rm::Options {
        logs_dir: cli.logs_dir.unwrap_or_else(|| config.logs.dir.clone()),
        config_path: cli.config,
        config,
        replica_id: cli.id,
        replica_binary,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(rm::run(options, shell::shutdown_signal())).context("replica manager")
}
