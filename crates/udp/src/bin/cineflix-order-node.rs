//! `cineflix-order-node`: one ordering-protocol node (sequencer, member or submitter) as its own OS process, for
//! real-process system tests and demonstrations on loopback.
//!
//! Not the production sequencer or replica manager (those get their configuration from crates/config): this binary
//! exists so a test can start real processes with fault-injecting links and compare what members delivered.
//!
//! Start-up handshake over stdio, so a test needs no fixed ports:
//! 1. the node binds (`--bind`, default `127.0.0.1:0`) and prints `ADDR <socket address>` on stdout;
//! 2. it reads one line `PEERS <id>=<addr>,<id>=<addr>,...` from stdin and starts its role;
//! 3. it stops when stdin reaches end of file (so it never outlives the test that started it), or, for a member
//!    with `--expect N` / a submitter, when its work is done, printing `DONE` on stdout.
//!
//! Options (`--key value`):
//! - all roles: `--role sequencer|member|submitter`, `--id N`, `--bind ADDR`, `--drop P`, `--duplicate P`,
//!   `--reorder P`, `--delay-ms N`, `--seed N`;
//! - sequencer: `--members 1,2,3`;
//! - member: `--sequencer ID`, `--expect N` (deliveries before exiting), `--log PATH` (one line per delivery:
//!   `seq submitter request_id`), `--index I --member-count M` (report staggering);
//! - submitter: `--sequencer ID`, `--count N` (request ids 1..=N), `--pipeline W` (acceptances awaited at once).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ordering::{MemberConfig, NodeId, SequencerConfig, SubmitterConfig};
use tokio::sync::mpsc;
use udp::ordering_shell::{MemberNode, SequencerNode, SubmitterNode};
use udp::{Endpoint, EndpointConfig, LinkFaults};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Parsed `--key value` pairs.
struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> Result<Args, BoxError> {
        let mut pairs = HashMap::new();
        let mut raw = std::env::args().skip(1);
        while let Some(key) = raw.next() {
            let key = key.strip_prefix("--").ok_or_else(|| format!("expected --option, got {key}"))?.to_string();
            let value = raw.next().ok_or_else(|| format!("--{key} needs a value"))?;
            pairs.insert(key, value);
        }
        Ok(Args(pairs))
    }

    fn get<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, BoxError>
    where
        T::Err: std::fmt::Display,
    {
        self.0.get(key).map(|value| value.parse::<T>().map_err(|e| format!("--{key} {value}: {e}").into())).transpose()
    }

    fn required<T: std::str::FromStr>(&self, key: &str) -> Result<T, BoxError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(key)?.ok_or_else(|| format!("--{key} is required").into())
    }
}

/// The payload a submitter sends for a request; members check it arrived intact.
fn payload_for(submitter: u16, request_id: u64) -> Bytes {
    let mut payload = Vec::with_capacity(16);
    payload.extend_from_slice(&u64::from(submitter).to_le_bytes());
    payload.extend_from_slice(&request_id.to_le_bytes());
    Bytes::from(payload)
}

fn parse_peers(line: &str) -> Result<HashMap<NodeId, SocketAddr>, BoxError> {
    let list = line.trim().strip_prefix("PEERS").ok_or("expected a PEERS line on stdin")?.trim();
    let mut peers = HashMap::new();
    for item in list.split(',').filter(|item| !item.is_empty()) {
        let (id, addr) = item.split_once('=').ok_or_else(|| format!("bad peer {item}"))?;
        peers.insert(NodeId(id.parse()?), addr.parse()?);
    }
    Ok(peers)
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let role: String = args.required("role")?;
    let id = NodeId(args.required("id")?);
    let faults = LinkFaults {
        drop: args.get("drop")?.unwrap_or(0.0),
        duplicate: args.get("duplicate")?.unwrap_or(0.0),
        reorder: args.get("reorder")?.unwrap_or(0.0),
        delay_ms: args.get("delay-ms")?.unwrap_or(0),
    };
    let bind: SocketAddr = args.get("bind")?.unwrap_or_else(|| "127.0.0.1:0".parse().expect("literal address"));
    let config = EndpointConfig { faults, fault_seed: args.get("seed")?, ..EndpointConfig::default() };
    let endpoint = Arc::new(Endpoint::bind_with(bind, config).await?);
    println!("ADDR {}", endpoint.local_addr()?);
    std::io::stdout().flush()?;

    // stdin: first the PEERS line, then end of file means "stop". A thread, because tokio's stdin needs a feature
    // this workspace does not enable, and blocking reads are what a thread is for.
    let (peers_tx, mut peers_rx) = mpsc::unbounded_channel::<String>();
    let (eof_tx, mut eof_rx) = mpsc::unbounded_channel::<()>();
    std::thread::spawn(move || {
        let mut lines = std::io::stdin().lock().lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = peers_tx.send(line);
        }
        for _ in lines.by_ref() {}
        let _ = eof_tx.send(());
    });
    let peers = parse_peers(&peers_rx.recv().await.ok_or("stdin closed before the PEERS line")?)?;

    match role.as_str() {
        "sequencer" => {
            let members: String = args.required("members")?;
            let members = members.split(',').map(|m| m.parse().map(NodeId)).collect::<Result<Vec<_>, _>>()?;
            let node = SequencerNode::spawn(endpoint, SequencerConfig::new(id, members), peers)?;
            let _ = eof_rx.recv().await;
            let status = node.status().await?;
            report(format!("sequencer {id}: {status:?}\n"));
            node.shutdown().await?;
        }
        "member" => {
            let sequencer = NodeId(args.required("sequencer")?);
            let expect: u64 = args.required("expect")?;
            let log_path: String = args.required("log")?;
            let index: usize = args.get("index")?.unwrap_or(0);
            let member_count: usize = args.get("member-count")?.unwrap_or(1);
            let history_capacity = SequencerConfig::new(sequencer, Vec::new()).history_capacity;
            let config = MemberConfig::new(id, sequencer).staggered(index, member_count, history_capacity);
            let (node, mut deliveries) = MemberNode::spawn(endpoint, config, peers, 4096)?;
            let mut log = std::io::BufWriter::new(std::fs::File::create(&log_path)?);
            let mut delivered = 0u64;
            while delivered < expect {
                let entry = tokio::select! {
                    entry = deliveries.recv() => entry.ok_or("member stopped delivering")?,
                    _ = eof_rx.recv() => return Err(format!("stopped by stdin after {delivered} deliveries").into()),
                };
                if entry.payload != payload_for(entry.submitter.0, entry.request_id) {
                    return Err(format!("seq {} carries a corrupted payload", entry.seq).into());
                }
                writeln!(log, "{} {} {}", entry.seq, entry.submitter.0, entry.request_id)?;
                delivered += 1;
            }
            log.flush()?;
            let status = node.status().await?;
            report(format!("member {id}: {status:?}\n"));
            println!("DONE");
            node.shutdown().await?;
        }
        "submitter" => {
            let sequencer = NodeId(args.required("sequencer")?);
            let count: u64 = args.required("count")?;
            let pipeline: usize = args.get("pipeline")?.unwrap_or(1024);
            let node = SubmitterNode::spawn(endpoint, SubmitterConfig::new(id, sequencer), peers)?;
            let mut outstanding = VecDeque::new();
            for request_id in 1..=count {
                outstanding.push_back((request_id, node.submit(request_id, payload_for(id.0, request_id))));
                while outstanding.len() >= pipeline || (request_id == count && !outstanding.is_empty()) {
                    let (request_id, acceptance) = outstanding.pop_front().expect("not empty");
                    let ack = tokio::select! {
                        ack = acceptance => ack?,
                        _ = eof_rx.recv() => return Err("stopped by stdin before all were accepted".into()),
                    };
                    if ack.request_id != request_id {
                        return Err(format!("acceptance for {} answered {request_id}", ack.request_id).into());
                    }
                }
            }
            let status = node.status().await?;
            report(format!("submitter {id}: {status:?}\n"));
            println!("DONE");
            node.shutdown().await?;
        }
        other => return Err(format!("unknown --role {other}").into()),
    }
    Ok(())
}

/// Writes one line to stderr in a single write, so lines from the processes of one test do not interleave.
fn report(line: String) {
    let _ = std::io::stderr().write_all(line.as_bytes());
}
