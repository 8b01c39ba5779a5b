//! Throughput benchmark of the ordering protocol over real loopback UDP: three submitters → one sequencer → three
//! members, all in this process on a two-worker tokio runtime, each node on its own socket. Runs a healthy
//! scenario and a faulty one (1% loss, 1% duplication, 1% reordering on every link) side by side and prints
//! ordered requests per second for both and their ratio.
//!
//! "Ordered" means delivered, in order, by all three members; the clock runs from the first submission until the
//! slowest member has delivered the last request.
//!
//! Not a correctness test (the tests are), and not a latency benchmark.
//!
//! ```text
//! cargo run --release -p udp --example ordering_bench -- [--requests N] [--payload-bytes B] [--pipeline W]
//!     [--retry-ms MS]
//! ```
//!
//! Submitters resend an unaccepted submission after `--retry-ms`, default 20: the front end's shipped setting
//! (`frontend.retry_ms` in config/cineflix.toml), so the bench measures what a deployment runs. The protocol
//! core's own default (100 ms) is far slower to recover a lost submit, and dominates the faulty scenario.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ordering::{MemberConfig, NodeId, SequencerConfig, SubmitterConfig};
use tokio::task::JoinSet;
use udp::ordering_shell::{MemberNode, SequencerNode, SubmitterNode};
use udp::{Endpoint, EndpointConfig, LinkFaults};

/// What one scenario measured.
#[derive(Debug)]
struct Outcome {
    ordered_per_s: f64,
    elapsed: Duration,
    retransmitted: u64,
    submitter_retries: u64,
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} needs a number")))
        .unwrap_or(default)
}

async fn endpoint(faults: &LinkFaults, seed: u64) -> Arc<Endpoint> {
    let config = EndpointConfig { faults: faults.clone(), fault_seed: Some(seed), ..EndpointConfig::default() };
    Arc::new(Endpoint::bind_with("127.0.0.1:0".parse().unwrap(), config).await.expect("bind loopback"))
}

async fn scenario(faults: LinkFaults, total: u64, payload_bytes: usize, pipeline: usize, retry_ms: u64) -> Outcome {
    let sequencer_id = NodeId(0);
    let member_ids = [NodeId(1), NodeId(2), NodeId(3)];
    let submitter_ids = [NodeId(11), NodeId(12), NodeId(13)];
    let sequencer_endpoint = endpoint(&faults, 1).await;
    let mut peers: HashMap<NodeId, SocketAddr> = HashMap::new();
    peers.insert(sequencer_id, sequencer_endpoint.local_addr().unwrap());
    let mut member_endpoints = Vec::new();
    for (index, id) in member_ids.iter().enumerate() {
        let endpoint = endpoint(&faults, 10 + index as u64).await;
        peers.insert(*id, endpoint.local_addr().unwrap());
        member_endpoints.push(endpoint);
    }
    let sequencer_config = SequencerConfig::new(sequencer_id, member_ids.to_vec());
    let history_capacity = sequencer_config.history_capacity;
    let sequencer = SequencerNode::spawn(sequencer_endpoint, sequencer_config, peers.clone()).unwrap();

    let mut consumers = Vec::new();
    let mut members = Vec::new();
    for (index, (id, endpoint)) in member_ids.iter().zip(member_endpoints).enumerate() {
        let config = MemberConfig::new(*id, sequencer_id).staggered(index, member_ids.len(), history_capacity);
        let (member, mut deliveries) = MemberNode::spawn(endpoint, config, peers.clone(), 4096).unwrap();
        members.push(member);
        consumers.push(tokio::spawn(async move {
            let mut next_seq = 1;
            while next_seq <= total {
                let entry = deliveries.recv().await.expect("member delivers");
                assert_eq!(entry.seq, next_seq, "delivered in order");
                next_seq += 1;
            }
            Instant::now()
        }));
    }

    let per_submitter = total / submitter_ids.len() as u64;
    let total = per_submitter * submitter_ids.len() as u64;
    let mut submitter_nodes = Vec::new();
    for (index, id) in submitter_ids.iter().enumerate() {
        let endpoint = endpoint(&faults, 20 + index as u64).await;
        let mut config = SubmitterConfig::new(*id, sequencer_id);
        config.retry_interval_ms = retry_ms;
        let node = SubmitterNode::spawn(endpoint, config, peers.clone()).unwrap();
        submitter_nodes.push(Arc::new(node));
    }
    let payload = Bytes::from(vec![0x5a; payload_bytes]);
    let started = Instant::now();
    let mut submitters = Vec::new();
    for node in &submitter_nodes {
        let node = Arc::clone(node);
        let payload = payload.clone();
        submitters.push(tokio::spawn(async move {
            // Up to `pipeline` requests in flight, completed in any order (as a front end's concurrent clients
            // would): one lost request does not hold up the others.
            let mut outstanding = JoinSet::new();
            for request_id in 1..=per_submitter {
                outstanding.spawn(node.submit(request_id, payload.clone()));
                if outstanding.len() >= pipeline {
                    outstanding.join_next().await.unwrap().unwrap().expect("accepted");
                }
            }
            while let Some(acceptance) = outstanding.join_next().await {
                acceptance.unwrap().expect("accepted");
            }
        }));
    }
    for submitter in submitters {
        submitter.await.unwrap();
    }
    let mut finished = started;
    for consumer in consumers {
        finished = finished.max(consumer.await.unwrap());
    }
    let elapsed = finished - started;

    let status = sequencer.status().await.unwrap();
    let mut submitter_retries = 0;
    for node in submitter_nodes {
        submitter_retries += node.status().await.unwrap().stats.retries;
        Arc::into_inner(node).expect("only owner").shutdown().await.unwrap();
    }
    for member in members {
        member.shutdown().await.unwrap();
    }
    sequencer.shutdown().await.unwrap();
    Outcome {
        ordered_per_s: total as f64 / elapsed.as_secs_f64(),
        elapsed,
        retransmitted: status.stats.retransmitted,
        submitter_retries,
    }
}

fn main() {
    let total = arg("--requests", 300_000);
    let payload_bytes = arg("--payload-bytes", 64) as usize;
    let pipeline = arg("--pipeline", 512) as usize;
    let retry_ms = arg("--retry-ms", 20);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let faulty = LinkFaults { drop: 0.01, duplicate: 0.01, reorder: 0.01, delay_ms: 0 };
    let healthy = runtime.block_on(scenario(LinkFaults::default(), total, payload_bytes, pipeline, retry_ms));
    let faulty = runtime.block_on(scenario(faulty, total, payload_bytes, pipeline, retry_ms));
    println!(
        "ordering_bench: {total} requests, {payload_bytes} B payload, 3 submitters (pipeline {pipeline}, retry \
         {retry_ms} ms) → sequencer → 3 members"
    );
    for (name, outcome) in [("healthy", &healthy), ("1% loss + 1% dup + 1% reorder", &faulty)] {
        println!(
            "  {name:<30} {:>10.0} ordered req/s  ({:.2} s; {} retransmitted entries, {} submitter retries)",
            outcome.ordered_per_s,
            outcome.elapsed.as_secs_f64(),
            outcome.retransmitted,
            outcome.submitter_retries
        );
    }
    println!("  faulty / healthy ratio         {:>10.2}", faulty.ordered_per_s / healthy.ordered_per_s);
}
