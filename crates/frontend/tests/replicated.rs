//! The replicated backend against a real sequencer (`udp::ordering_shell::SequencerNode`) and three in-test replica
//! managers: each an ordering `MemberNode` that executes delivered entries on its own `booking::Replica` and sends
//! `manager::ResultMessage`s to the front end, and records the `Report`s it receives.
//!
//! Replica 3 lies (flips a byte of every result); replica 2 can be silenced. What must hold: every answer equals a
//! separate oracle's, the liar is reported Wrong with consecutive counts 1, 2, 3 to every manager, a silent replica
//! is reported Suspected, a membership message takes a replica out of the vote, and results "lost" on the way to
//! the front end are asked for again (`ResendResult`) and answered from the manager's copy.

use booking::{Operation, Replica, Request, Response};
use bytes::Bytes;
use frontend::{Backend, ReplicatedBackend, ReplicatedSettings};
use manager::{Membership, Message, Report, ResendResult, ResultMessage};
use ordering::{MemberConfig, NodeId, SequencerConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use udp::ordering_shell::{MemberNode, SequencerNode};
use udp::{Endpoint, LinkFaults};
use voting::VoterConfig;

const PATIENCE: Duration = Duration::from_secs(20);
const FRONT_END: NodeId = NodeId(100);
const SEQUENCER: NodeId = NodeId(0);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// One in-test replica manager.
struct FakeManager {
    manager_addr: SocketAddr,
    reports: Arc<Mutex<Vec<Report>>>,
    silent: Arc<AtomicBool>,
    /// Results are computed and kept but not sent (as if lost) until the front end asks with `ResendResult`.
    lose_results: Arc<AtomicBool>,
    /// `ResendResult` requests received.
    resend_requests: Arc<Mutex<Vec<ResendResult>>>,
    endpoint: Arc<Endpoint>,
}

struct Cluster {
    backend: ReplicatedBackend,
    managers: Vec<FakeManager>,
    _sequencer: SequencerNode,
    _members: Vec<MemberNode>,
}

async fn start(liar: Option<u16>, request_timeout_ms: u64) -> Cluster {
    start_with(liar, VoterConfig { request_timeout_ms, ..VoterConfig::software(vec![1, 2, 3]) }).await
}

async fn start_with(liar: Option<u16>, voter: VoterConfig) -> Cluster {
    let sequencer_endpoint = Arc::new(Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap());
    let sequencer_addr = sequencer_endpoint.local_addr().unwrap();
    let ids = [1u16, 2, 3];
    let results_endpoint = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    // Reserve the front end's results address: bind, read the port, release, and let the backend bind it.
    let results_addr = results_endpoint.local_addr().unwrap();
    drop(results_endpoint);

    let mut member_endpoints = Vec::new();
    for _ in ids {
        member_endpoints.push(Arc::new(Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap()));
    }
    let mut peers = HashMap::new();
    for (id, endpoint) in ids.iter().zip(&member_endpoints) {
        peers.insert(NodeId(*id), endpoint.local_addr().unwrap());
    }
    let members_ids: Vec<NodeId> = ids.iter().map(|&id| NodeId(id)).collect();
    let sequencer =
        SequencerNode::spawn(sequencer_endpoint, SequencerConfig::new(SEQUENCER, members_ids), peers).unwrap();

    let mut managers = Vec::new();
    let mut members = Vec::new();
    for (id, endpoint) in ids.into_iter().zip(member_endpoints) {
        let sequencer_peers = HashMap::from([(SEQUENCER, sequencer_addr)]);
        let (member, mut deliveries) =
            MemberNode::spawn(endpoint, MemberConfig::new(NodeId(id), SEQUENCER), sequencer_peers, 4096).unwrap();
        members.push(member);
        let manager_endpoint = Arc::new(Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap());
        let reports = Arc::new(Mutex::new(Vec::new()));
        let silent = Arc::new(AtomicBool::new(false));
        let lose_results = Arc::new(AtomicBool::new(false));
        let resend_requests = Arc::new(Mutex::new(Vec::new()));
        let sent: Arc<Mutex<HashMap<u64, Vec<u8>>>> = Arc::new(Mutex::new(HashMap::new()));
        let lies = liar == Some(id);
        // Executes deliveries in order and sends results.
        let sender = Arc::clone(&manager_endpoint);
        let silent_flag = Arc::clone(&silent);
        let lose_flag = Arc::clone(&lose_results);
        let kept = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut replica = Replica::new();
            while let Some(entry) = deliveries.recv().await {
                let request = Request::decode(&entry.payload).expect("the front end submits encoded requests");
                let mut response = replica.execute(&request, entry.timestamp_ms as i64).encode();
                if lies {
                    let last = response.len() - 1;
                    response[last] ^= 0x5A;
                }
                if silent_flag.load(Ordering::SeqCst) {
                    continue;
                }
                let message = Message::Result(ResultMessage {
                    replica_id: id,
                    incarnation: 1,
                    seq: entry.seq,
                    request_id: entry.request_id,
                    response: Bytes::from(response),
                });
                let bytes = message.encode();
                kept.lock().unwrap().insert(entry.request_id, bytes.clone());
                if lose_flag.load(Ordering::SeqCst) {
                    continue;
                }
                sender.send_to(&bytes, results_addr).await.unwrap();
            }
        });
        // Records reports.
        let receiver = Arc::clone(&manager_endpoint);
        let recorded = Arc::clone(&reports);
        let resends = Arc::clone(&resend_requests);
        tokio::spawn(async move {
            while let Ok((bytes, _)) = receiver.recv_from().await {
                match Message::decode(&bytes) {
                    Ok(Message::Report(report)) => recorded.lock().unwrap().push(report),
                    Ok(Message::ResendResult(request)) => {
                        resends.lock().unwrap().push(request);
                        let copy = sent.lock().unwrap().get(&request.request_id).cloned();
                        if let Some(bytes) = copy {
                            receiver.send_to(&bytes, results_addr).await.unwrap();
                        }
                    }
                    _ => {}
                }
            }
        });
        managers.push(FakeManager {
            manager_addr: manager_endpoint.local_addr().unwrap(),
            reports,
            silent,
            lose_results,
            resend_requests,
            endpoint: manager_endpoint,
        });
    }

    let settings = ReplicatedSettings {
        node_id: FRONT_END.0,
        ordering_udp: loopback(),
        results_udp: results_addr,
        sequencer: sequencer_addr,
        sequencer_node_id: SEQUENCER.0,
        epoch: 1,
        managers: ids.iter().zip(&managers).map(|(&id, m)| (id, m.manager_addr)).collect(),
        voter,
        faults: LinkFaults::default(),
        submit_retry_ms: 20,
        result_resend_ms: 50,
    };
    let backend = ReplicatedBackend::start(settings).await.unwrap();
    Cluster { backend, managers, _sequencer: sequencer, _members: members }
}

fn requests() -> Vec<Request> {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let today = booking::time::today(now_ms, &booking::time::montreal());
    let slot = format!("ATWE{}", today.plus_days(2).ddmmyy());
    let add = Operation::AddMovieSlots { movie_id: slot.clone(), movie_name: "Avatar".into(), booking_capacity: 10 };
    let book = |tickets| Operation::BookMovieTickets {
        customer_id: "ATWC0001".into(),
        movie_id: slot.clone(),
        movie_name: "Avatar".into(),
        number_of_tickets: tickets,
    };
    vec![
        Request { user_id: "ATWA0001".into(), operation: add },
        Request { user_id: "ATWC0001".into(), operation: book(3) },
        Request { user_id: "ATWC0001".into(), operation: book(30) },
        Request {
            user_id: "ATWC0001".into(),
            operation: Operation::GetBookingSchedule { customer_id: "ATWC0001".into() },
        },
    ]
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn answers_are_the_majority_and_a_liar_is_reported_three_times_to_every_manager() {
    let cluster = start(Some(3), 5_000).await;
    let mut oracle = Replica::new();
    for (index, request) in requests().into_iter().enumerate() {
        let answer: Response = tokio::time::timeout(PATIENCE, cluster.backend.execute(request.clone()))
            .await
            .expect("answered in time")
            .expect("a majority agreed");
        // The oracle has no sequencer timestamp; every request here is about today, so any timestamp of today
        // gives the same answer.
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let expected = oracle.execute(&request, now_ms as i64);
        assert_eq!(answer, expected, "request {index}: {request:?}");
    }
    for manager in &cluster.managers {
        let reports = Arc::clone(&manager.reports);
        wait_for("three wrong reports about replica 3", || {
            reports.lock().unwrap().iter().filter(|r| matches!(r, Report::Wrong { replica_id: 3, .. })).count() >= 3
        })
        .await;
        let counts: Vec<u32> = reports
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| match r {
                Report::Wrong { replica_id: 3, consecutive, .. } => Some(*consecutive),
                _ => None,
            })
            .take(3)
            .collect();
        assert_eq!(counts, [1, 2, 3]);
        assert!(
            reports.lock().unwrap().iter().all(|r| !matches!(r, Report::Wrong { replica_id: 1 | 2, .. })),
            "honest replicas reported wrong"
        );
    }
    // The third report reached the limit: the front end repeats it until the manager announces a new incarnation.
    let reports = Arc::clone(&cluster.managers[2].reports);
    let before = reports.lock().unwrap().len();
    wait_for("the replacement report repeated", || reports.lock().unwrap().len() > before).await;
    let status = cluster.backend.status_json().await.unwrap();
    assert!(status.contains("\"id\":3,\"incarnation\":1,\"in_vote\":true"), "{status}");
    let announce = Message::Membership(Membership { replica_id: 3, incarnation: 2, in_vote: false }).encode();
    let manager = &cluster.managers[2];
    manager.endpoint.send_to(&announce, cluster.backend.results_addr()).await.unwrap();
    let mut status = String::new();
    for _ in 0..2000 {
        status = cluster.backend.status_json().await.unwrap();
        if status.contains("\"id\":3,\"incarnation\":2,\"in_vote\":false") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(status.contains("\"id\":3,\"incarnation\":2,\"in_vote\":false"), "{status}");
    assert!(status.contains("\"replacements\":1"), "{status}");
}

#[tokio::test]
async fn a_silent_replica_is_suspected_and_the_others_still_answer() {
    let cluster = start(None, 5_000).await;
    cluster.managers[1].silent.store(true, Ordering::SeqCst);
    for request in requests() {
        tokio::time::timeout(PATIENCE, cluster.backend.execute(request))
            .await
            .expect("answered in time")
            .expect("two replicas agree");
    }
    for manager in &cluster.managers {
        let reports = Arc::clone(&manager.reports);
        wait_for("a suspicion of replica 2", || {
            reports.lock().unwrap().iter().any(|r| matches!(r, Report::Suspected { replica_id: 2, .. }))
        })
        .await;
        assert!(reports.lock().unwrap().iter().all(|r| matches!(r, Report::Suspected { replica_id: 2, .. })));
    }
}

#[tokio::test]
async fn results_lost_at_two_managers_are_asked_for_again_and_answered() {
    // Without re-sending, only one result would ever arrive and every request would time out (5 s).
    let cluster = start(None, 5_000).await;
    cluster.managers[0].lose_results.store(true, Ordering::SeqCst);
    cluster.managers[1].lose_results.store(true, Ordering::SeqCst);
    let mut oracle = Replica::new();
    for request in requests() {
        let answer = tokio::time::timeout(PATIENCE, cluster.backend.execute(request.clone()))
            .await
            .expect("answered in time")
            .expect("the re-sent results make a majority");
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        assert_eq!(answer, oracle.execute(&request, now_ms as i64));
    }
    let status = cluster.backend.status_json().await.unwrap();
    assert!(status.contains("\"unavailable\":0"), "{status}");
    for manager in &cluster.managers[..2] {
        let asked = manager.resend_requests.lock().unwrap().clone();
        assert!(!asked.is_empty(), "the managers that lost results were asked");
        assert!(asked.iter().all(|request| request.front_end == FRONT_END.0));
    }
}

#[tokio::test]
async fn no_majority_is_unavailable_not_a_guess() {
    let cluster = start(Some(3), 300).await;
    cluster.managers[0].silent.store(true, Ordering::SeqCst);
    let answer = tokio::time::timeout(PATIENCE, cluster.backend.execute(requests().remove(0))).await.unwrap();
    assert!(matches!(answer, Err(frontend::BackendError::Timeout { .. })), "{answer:?}");
}

#[tokio::test]
async fn crash_mode_answers_with_the_first_result() {
    let voter =
        VoterConfig { mode: voting::Mode::Crash, request_timeout_ms: 5_000, ..VoterConfig::software(vec![1, 2, 3]) };
    let cluster = start_with(None, voter).await;
    // Two of three replicas silent: software mode could not answer, crash mode answers with the one result.
    cluster.managers[0].silent.store(true, Ordering::SeqCst);
    cluster.managers[1].silent.store(true, Ordering::SeqCst);
    let mut oracle = Replica::new();
    for request in requests() {
        let answer = tokio::time::timeout(PATIENCE, cluster.backend.execute(request.clone()))
            .await
            .expect("answered in time")
            .expect("the first result is the answer");
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        assert_eq!(answer, oracle.execute(&request, now_ms as i64));
    }
    assert!(cluster.backend.status_json().await.unwrap().contains("\"vote\":\"crash\""));
}
