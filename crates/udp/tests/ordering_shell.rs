//! In-process loopback test of the ordering shells: one sequencer, three members and two submitters, each on its
//! own real UDP socket with fault injection, all in one tokio runtime.
//!
//! Checks the shells' promises (every member delivers the same entries in the same order, gap-free, exactly once;
//! every submission resolves with the seq it got), not the protocol's corner cases, which `crates/ordering` and
//! `crates/sim` cover deterministically. The real-process version of this test is `order_processes.rs`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ordering::{MemberConfig, NodeId, OrderedEntry, SequencerConfig, SubmitterConfig};
use udp::ordering_shell::{MemberNode, SequencerNode, SubmitterNode};
use udp::{Endpoint, EndpointConfig, LinkFaults};

const HANG_GUARD: Duration = Duration::from_secs(60);

async fn endpoint(faults: &LinkFaults, seed: u64) -> Arc<Endpoint> {
    let config = EndpointConfig { faults: faults.clone(), fault_seed: Some(seed), ..EndpointConfig::default() };
    Arc::new(Endpoint::bind_with("127.0.0.1:0".parse().unwrap(), config).await.unwrap())
}

fn payload(submitter: NodeId, request_id: u64) -> Bytes {
    Bytes::from(format!("{}:{request_id}", submitter.0))
}

async fn run_cluster(faults: LinkFaults, per_submitter: u64) {
    let sequencer_id = NodeId(0);
    let member_ids = [NodeId(1), NodeId(2), NodeId(3)];
    let submitter_ids = [NodeId(11), NodeId(12)];

    let sequencer_endpoint = endpoint(&faults, 100).await;
    let mut member_endpoints = Vec::new();
    for (index, _) in member_ids.iter().enumerate() {
        member_endpoints.push(endpoint(&faults, 200 + index as u64).await);
    }
    let mut peers: HashMap<NodeId, SocketAddr> = HashMap::new();
    peers.insert(sequencer_id, sequencer_endpoint.local_addr().unwrap());
    for (id, endpoint) in member_ids.iter().zip(&member_endpoints) {
        peers.insert(*id, endpoint.local_addr().unwrap());
    }

    let sequencer_config = SequencerConfig::new(sequencer_id, member_ids.to_vec());
    let history_capacity = sequencer_config.history_capacity;
    let sequencer = SequencerNode::spawn(sequencer_endpoint, sequencer_config, peers.clone()).unwrap();
    let mut members = Vec::new();
    let mut collectors = Vec::new();
    let total = per_submitter * submitter_ids.len() as u64;
    for (index, (id, endpoint)) in member_ids.iter().zip(member_endpoints).enumerate() {
        let config = MemberConfig::new(*id, sequencer_id).staggered(index, member_ids.len(), history_capacity);
        let (member, mut deliveries) = MemberNode::spawn(endpoint, config, peers.clone(), 1024).unwrap();
        members.push(member);
        collectors.push(tokio::spawn(async move {
            let mut log: Vec<OrderedEntry> = Vec::new();
            while (log.len() as u64) < total {
                log.push(deliveries.recv().await.expect("member keeps delivering"));
            }
            log
        }));
    }

    let mut submitters = Vec::new();
    for (index, id) in submitter_ids.iter().enumerate() {
        let endpoint = endpoint(&faults, 300 + index as u64).await;
        let node = SubmitterNode::spawn(endpoint, SubmitterConfig::new(*id, sequencer_id), peers.clone()).unwrap();
        let id = *id;
        submitters.push(tokio::spawn(async move {
            // Pipeline: keep up to 1,500 acceptances outstanding, await the oldest first. More than the shell takes
            // from its command queue per turn, so a turn boundary falls inside a burst of submissions.
            let mut outstanding = VecDeque::new();
            let mut seqs = Vec::new();
            for request_id in 1..=per_submitter {
                outstanding.push_back((request_id, node.submit(request_id, payload(id, request_id))));
                if outstanding.len() >= 1_500 {
                    let (request_id, acceptance) = outstanding.pop_front().unwrap();
                    let ack = acceptance.await.unwrap();
                    assert_eq!(ack.request_id, request_id);
                    seqs.push(ack.seq);
                }
            }
            for (request_id, acceptance) in outstanding {
                let ack = acceptance.await.unwrap();
                assert_eq!(ack.request_id, request_id);
                seqs.push(ack.seq);
            }
            node.shutdown().await.unwrap();
            (id, seqs)
        }));
    }

    let mut acked: HashMap<u64, (NodeId, u64)> = HashMap::new();
    for submitter in submitters {
        let (id, seqs) = tokio::time::timeout(HANG_GUARD, submitter).await.expect("submitter finishes").unwrap();
        for (index, seq) in seqs.into_iter().enumerate() {
            assert!(acked.insert(seq, (id, index as u64 + 1)).is_none(), "seq {seq} acknowledged twice");
        }
    }
    let mut logs = Vec::new();
    for collector in collectors {
        logs.push(tokio::time::timeout(HANG_GUARD, collector).await.expect("member delivers all").unwrap());
    }

    let reference = &logs[0];
    for (index, entry) in reference.iter().enumerate() {
        assert_eq!(entry.seq, index as u64 + 1, "gap-free from 1");
        assert_eq!(entry.payload, payload(entry.submitter, entry.request_id));
        assert_eq!(acked.get(&entry.seq), Some(&(entry.submitter, entry.request_id)), "seq matches the acceptance");
    }
    let distinct: HashSet<_> = reference.iter().map(|entry| (entry.submitter, entry.request_id)).collect();
    assert_eq!(distinct.len() as u64, total, "each submission ordered exactly once");
    for log in &logs[1..] {
        assert!(log == reference, "members delivered different sequences");
    }

    let status = sequencer.status().await.unwrap();
    assert_eq!(status.high_seq, total);
    if faults.is_healthy() {
        assert_eq!(status.stats.retransmitted, 0);
    }
    for member in members {
        member.shutdown().await.unwrap();
    }
    sequencer.shutdown().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn healthy_links_order_every_submission_once_everywhere() {
    run_cluster(LinkFaults::default(), 3_000).await;
}

#[tokio::test(flavor = "current_thread")]
async fn lossy_duplicating_reordering_links_order_every_submission_once_everywhere() {
    let faults = LinkFaults { drop: 0.05, duplicate: 0.05, reorder: 0.05, delay_ms: 0 };
    run_cluster(faults, 3_000).await;
}

#[test]
fn shells_work_on_a_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run_cluster(LinkFaults { drop: 0.02, duplicate: 0.02, reorder: 0.02, delay_ms: 2 }, 2_000));
}
