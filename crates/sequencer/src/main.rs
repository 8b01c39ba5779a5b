//! `cineflix-sequencer`: the Kaashoek sequencer (`ordering::Sequencer`) as its own process, configured from the
//! deployment's TOML file, writing an audit log that maps every `request_id` to its `seq`.
//!
//! It listens on `sequencer.addr`; its members are the replica managers' ordering `member` addresses and its
//! submitter is the front end (`frontend.node_id` at `frontend.udp`; other submitters are learned from their
//! datagrams). Member liveness at the ordering level is about replica manager processes (a manager outlives its
//! replicas): a manager silent for `sequencer.member_timeout_ms` while it holds back a half-full history is dropped
//! by the core (`ordering` sequencer doc, "Liveness") and comes back after state transfer; the `stop` line counts
//! both. Link faults come from `[faults]`. SIGTERM or ctrl-c: flush the log,
//! exit 0.
//!
//! This is a thin shell like `udp::ordering_shell::SequencerNode`, written out here (rather than using that node)
//! because it must see each newly ordered entry to log it; it adds no protocol logic. Deliberately not here:
//! sequencer failover, or any knowledge of what the payloads mean.
//!
//! Log (`<logs.dir>/sequencer.log`, buffered, flushed every 200 ms and at exit): one `start` line, then one line per
//! ordered request, `<time> seq=<seq> submitter=<node id> request_id=<id> timestamp_ms=<ms>`, and a `stop` line with
//! the core's counters.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use ordering::{Body, Destination, Message, NodeId, Sequencer, SequencerConfig, Transmit};
use udp::Endpoint;
use udp::ordering_shell::{DRAIN_DATAGRAMS_MAX, NodeClock};

/// The CineFlix sequencer: gives every request the next seq and multicasts it to the replica managers.
#[derive(Debug, Parser)]
#[command(name = "cineflix-sequencer", version)]
struct Cli {
    /// Configuration file.
    #[arg(long, default_value = "config/cineflix.toml")]
    config: PathBuf,
    /// Override the log directory.
    #[arg(long)]
    logs_dir: Option<PathBuf>,
}

/// Most submitter addresses learned from traffic; a flood of forged ids cannot grow the book further.
const LEARNED_ADDRESSES_MAX: usize = 4096;

const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Node id → address: configured members and front end are fixed; other submitters are learned.
#[derive(Debug)]
struct AddressBook {
    fixed: HashMap<NodeId, SocketAddr>,
    learned: HashMap<NodeId, SocketAddr>,
}

impl AddressBook {
    fn resolve(&self, node: NodeId) -> Option<SocketAddr> {
        self.fixed.get(&node).or_else(|| self.learned.get(&node)).copied()
    }

    /// False when `source` contradicts `node`'s configured address (the message is dropped).
    fn observe(&mut self, node: NodeId, source: SocketAddr) -> bool {
        if let Some(&fixed) = self.fixed.get(&node) {
            return fixed == source;
        }
        if self.learned.len() < LEARNED_ADDRESSES_MAX || self.learned.contains_key(&node) {
            self.learned.insert(node, source);
        }
        true
    }
}

/// The sequencer's audit log.
struct AuditLog {
    out: BufWriter<std::fs::File>,
    /// Highest seq logged: retransmissions are not logged again.
    logged_up_to: u64,
}

impl AuditLog {
    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{} {text}", jiff::Timestamp::now());
    }

    /// Logs the entries of a newly multicast `Ordered` message.
    fn ordered(&mut self, message: &Message) {
        let Body::Ordered { entries } = &message.body else { return };
        let logged_up_to = self.logged_up_to;
        for entry in entries.iter().filter(|entry| entry.seq > logged_up_to) {
            let (seq, submitter, request_id, timestamp_ms) =
                (entry.seq, entry.submitter.0, entry.request_id, entry.timestamp_ms);
            self.line(format_args!(
                "seq={seq} submitter={submitter} request_id={request_id} timestamp_ms={timestamp_ms}"
            ));
            self.logged_up_to = seq;
        }
    }
}

async fn send(endpoint: &Endpoint, book: &AddressBook, members: &[NodeId], transmit: &Transmit, buffer: &mut Vec<u8>) {
    buffer.clear();
    transmit.message.encode(buffer);
    let targets: Vec<NodeId> = match transmit.to {
        Destination::Node(node) => vec![node],
        Destination::Members => members.to_vec(),
    };
    for node in targets {
        let Some(address) = book.resolve(node) else {
            tracing::debug!(%node, "no address for node; message not sent");
            continue;
        };
        if let Err(error) = endpoint.send_to(buffer, address).await {
            tracing::debug!(%error, %node, %address, "send failed");
        }
    }
}

async fn run(config: config::Config, logs_dir: PathBuf) -> anyhow::Result<()> {
    let members: Vec<NodeId> = config.replicas.iter().map(|replica| NodeId(replica.id)).collect();
    anyhow::ensure!(!members.is_empty(), "the config has no [[replicas]]: the sequencer has no members");
    let mut fixed: HashMap<NodeId, SocketAddr> =
        config.replicas.iter().map(|replica| (NodeId(replica.id), replica.member_addr())).collect();
    fixed.insert(NodeId(config.frontend.node_id), config.frontend.udp);
    let mut book = AddressBook { fixed, learned: HashMap::new() };

    let faults = &config.faults;
    let link_faults = udp::LinkFaults {
        drop: faults.drop,
        duplicate: faults.duplicate,
        reorder: faults.reorder,
        delay_ms: faults.delay_ms,
    };
    let endpoint = Arc::new(
        Endpoint::bind(config.sequencer.addr, link_faults)
            .await
            .with_context(|| format!("binding sequencer.addr {}", config.sequencer.addr))?,
    );
    std::fs::create_dir_all(&logs_dir).with_context(|| format!("creating {}", logs_dir.display()))?;
    let log_path = logs_dir.join("sequencer.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut log = AuditLog { out: BufWriter::with_capacity(1 << 16, file), logged_up_to: 0 };

    let mut sequencer_config = SequencerConfig::new(NodeId(config.sequencer.node_id), members.clone());
    sequencer_config.epoch = config.sequencer.epoch;
    sequencer_config.history_capacity = config.sequencer.history;
    sequencer_config.member_timeout_ms = config.sequencer.member_timeout_ms;
    let clock = NodeClock::new();
    let mut sequencer = Sequencer::new(sequencer_config, clock.now_ms());
    log.line(format_args!(
        "start addr={} node_id={} epoch={} members={:?}",
        config.sequencer.addr, config.sequencer.node_id, config.sequencer.epoch, members
    ));
    tracing::info!(addr = %config.sequencer.addr, ?members, "sequencer up");

    let shutdown = shell::shutdown_signal();
    tokio::pin!(shutdown);
    let mut flush = tokio::time::interval(LOG_FLUSH_INTERVAL);
    let mut buffer = Vec::new();
    let mut rejected = 0u64;
    let mut live: Vec<NodeId> = members.clone();
    let mut live_set_changes = sequencer.live_set_changes();
    loop {
        let deadline = sequencer.poll_timeout().map(|ms| clock.instant_at(ms));
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            received = endpoint.recv_from() => {
                let mut next = Some(received.context("receiving")?);
                let mut drained = 0;
                while let Some((bytes, source)) = next.take() {
                    match Message::decode_shared(&Bytes::from(bytes)) {
                        Ok(message) if book.observe(message.from, source) => sequencer.handle(clock.now_ms(), message),
                        Ok(_) | Err(_) => rejected += 1,
                    }
                    drained += 1;
                    if drained < DRAIN_DATAGRAMS_MAX {
                        next = endpoint.try_recv_from().context("receiving")?;
                    }
                }
            }
            () = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                sequencer.handle_timeout(clock.now_ms());
            }
            _ = flush.tick() => {
                let _ = log.out.flush();
            }
        }
        if sequencer.live_set_changes() != live_set_changes {
            // A member dropped for silence, or back after state transfer: rare, and what an operator looks for.
            live_set_changes = sequencer.live_set_changes();
            live = sequencer.live_members().collect();
            let ids: Vec<u16> = live.iter().map(|id| id.0).collect();
            log.line(format_args!(
                "members live={ids:?} high_seq={} freed_up_to={}",
                sequencer.high_seq(),
                sequencer.freed_up_to()
            ));
            tracing::warn!(?live, high_seq = sequencer.high_seq(), "live members changed");
        }
        while let Some(transmit) = sequencer.poll_transmit() {
            if transmit.to == Destination::Members {
                log.ordered(&transmit.message);
            }
            send(&endpoint, &book, &live, &transmit, &mut buffer).await;
        }
    }
    log.line(format_args!(
        "stop high_seq={} freed_up_to={} rejected_datagrams={rejected} {:?}",
        sequencer.high_seq(),
        sequencer.freed_up_to(),
        sequencer.stats()
    ));
    log.out.flush().context("flushing the log")?;
    tracing::info!("sequencer stopped");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    shell::init_logging();
    let cli = Cli::parse();
    let config = config::Config::load(&cli.config).with_context(|| format!("loading {}", cli.config.display()))?;
    let logs_dir = cli.logs_dir.clone().unwrap_or_else(|| config.logs.dir.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(run(config, logs_dir))
}
