//! The real processes of replicated mode: `cineflix-sequencer` and three `cineflix-rm` (each supervising its own
//! `cineflix-replica`), on free loopback ports, driven by an in-test front end: an ordering submitter
//! (`udp::ordering_shell::SubmitterNode`) and a result collector that votes with `voting::Voter` and reports to
//! every replica manager, and asks the managers whose result a round lacks to re-send it (`ResendResult`, every
//! `RESULT_RESEND_MS`), as the real front end does. Unlike the real front end (which asks only while a round is
//! undecided) it keeps asking after the decision, for up to `RESULT_ASK_MS`, because the test compares every
//! replica's result.
//!
//! Three scenarios, each on a cluster of its own:
//! - in phases sharing the cluster: requests flow and all three replicas answer identically (and `cineflix status`'s
//!   protocol reports each replica's seq and digest, equal to what the replicas say themselves); a replica killed
//!   with SIGKILL is noticed, agreed dead, replaced and brought up to date by state transfer while requests keep
//!   being answered; a replica made to lie at run time is reported wrong three times in a row and replaced. After
//!   each phase every replica has the same digest at the same seq.
//! - two of three down at once: replica 2 is SIGKILLed, and replica 3 (stopped meanwhile) once replica 2's
//!   manager has started replacing it, under load. Requests get either an answer equal to an oracle's (a `booking::Replica` replaying
//!   the sequencer's log) or "unavailable", never anything else; the sole-donor rule heals both, and then every
//!   request is answered again and the digests agree.
//! - a replica manager paused (SIGSTOP) under load: dropped by the sequencer, the others go on; resumed, it is
//!   rebuilt by state transfer and agrees.
//!
//! Needs the sibling binaries: `cargo build -p sequencer -p theatre-servers` (the test fails, never skips, when
//! they are missing). `RM_TEST_REQUESTS` sets the requests per phase (default 60); `RM_TEST_KEEP_LOGS` keeps the
//! logs (their directory is printed); `RM_TEST_LINK_FAULTS=0.05` drops, duplicates and reorders that share of
//! datagrams on every link of the cluster's processes.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use booking::{Operation, Request};
use bytes::Bytes;
use manager::{Membership, Message, Report, ResendResult};
use ordering::{NodeId, SubmitterConfig};
use replica_api::{Fault, FromReplica, ToReplica};
use tokio::sync::{mpsc, oneshot};
use udp::Endpoint;
use udp::ordering_shell::SubmitterNode;
use voting::{Event, Voter, VoterConfig};

const RM_BINARY: &str = env!("CARGO_BIN_EXE_cineflix-rm");
const FRONT_END_ID: u16 = 100;
const REPLICAS: [u16; 3] = [1, 2, 3];
/// The collector asks for an undecided round's missing results this often (the front end's default).
const RESULT_RESEND_MS: u64 = 50;
/// The collector stops asking for a request's missing results this long after it opened (a replaced replica
/// never answers requests of its predecessor).
const RESULT_ASK_MS: u64 = 10_000;
/// Generous: debug binaries on a loaded two-core machine.
const BOUND: Duration = Duration::from_secs(60);

fn requests_per_phase() -> u64 {
    std::env::var("RM_TEST_REQUESTS").ok().and_then(|text| text.parse().ok()).unwrap_or(60)
}

/// `RM_TEST_LINK_FAULTS`: drop, duplicate and reorder rate on every link of the cluster's processes (default 0).
fn link_fault_rate() -> f64 {
    std::env::var("RM_TEST_LINK_FAULTS").ok().and_then(|text| text.parse().ok()).unwrap_or(0.0)
}

fn sibling(name: &str) -> PathBuf {
    let path = Path::new(RM_BINARY).with_file_name(name);
    assert!(path.is_file(), "{} is missing: run `cargo build -p sequencer -p theatre-servers` first", path.display());
    path
}

fn free_addrs(n: usize) -> Vec<SocketAddr> {
    let ports = udp::unused_loopback_ports(n).expect("free loopback ports");
    ports.into_iter().map(|port| SocketAddr::from(([127, 0, 0, 1], port))).collect()
}

/// The addresses of one test cluster.
struct Addresses {
    sequencer: SocketAddr,
    submitter: SocketAddr,
    results: SocketAddr,
    /// Per replica: manager, member, control, atw, out, ver.
    replicas: BTreeMap<u16, [SocketAddr; 6]>,
}

fn write_config(dir: &Path, addrs: &Addresses, history: usize) -> PathBuf {
    let mut text = format!(
        "[frontend]\nmode = \"replicated\"\nudp = \"{}\"\nresults = \"{}\"\nnode_id = {FRONT_END_ID}\n\n\
         [logs]\ndir = {:?}\n\n[sequencer]\naddr = \"{}\"\nnode_id = 0\nhistory = {history}\n\n\
         [replication]\nreplica_start_timeout_ms = 30000\n\n\
         [faults]\ndrop = {drop:?}\nduplicate = {drop:?}\nreorder = {drop:?}\n",
        addrs.submitter,
        addrs.results,
        dir.join("logs").display().to_string(),
        addrs.sequencer,
        drop = link_fault_rate(),
        history = history,
    );
    for (id, [manager, member, control, atw, out, ver]) in &addrs.replicas {
        text.push_str(&format!(
            "\n[[replicas]]\nid = {id}\nmanager = \"{manager}\"\nmember = \"{member}\"\n\
             [replicas.replica]\ncontrol = \"{control}\"\natw = \"{atw}\"\nout = \"{out}\"\nver = \"{ver}\"\n"
        ));
    }
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The cluster's processes; stopped with SIGTERM on drop (so each RM kills its replica), SIGKILL if they linger.
struct Cluster {
    children: Vec<(String, Child)>,
}

impl Cluster {
    fn start(config: &Path) -> Cluster {
        let mut children = Vec::new();
        let spawn = |binary: &Path, args: &[&str]| {
            Command::new(binary)
                .arg("--config")
                .arg(config)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()))
        };
        children.push(("sequencer".to_string(), spawn(&sibling("cineflix-sequencer"), &[])));
        for id in REPLICAS {
            let id_text = id.to_string();
            children.push((format!("rm{id}"), spawn(Path::new(RM_BINARY), &["--id", &id_text])));
        }
        Cluster { children }
    }

    fn assert_running(&mut self) {
        for (name, child) in &mut self.children {
            assert!(child.try_wait().unwrap().is_none(), "{name} exited");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &self.children {
            // A test may have paused one (SIGSTOP); a stopped process would not act on SIGTERM.
            let _ = Command::new("kill").arg("-CONT").arg(child.id().to_string()).status();
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.children {
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the collector saw, for assertions.
#[derive(Default)]
struct Seen {
    /// request_id → replica → its latest result.
    results: HashMap<u64, BTreeMap<u16, Vec<u8>>>,
    /// (replica, consecutive) of every wrong result.
    wrong: Vec<(u16, u32)>,
    /// Highest membership per replica.
    memberships: BTreeMap<u16, (u64, bool)>,
    /// request_id → the answer the vote decided.
    decided: HashMap<u64, Vec<u8>>,
}

enum Outcome {
    Decided,
    Unavailable,
}

enum CollectorCommand {
    Open { request_id: u64, reply: oneshot::Sender<Outcome> },
    Accepted { request_id: u64, seq: u64 },
}

/// The in-test front end.
struct FrontEnd {
    submitter: SubmitterNode,
    commands: mpsc::UnboundedSender<CollectorCommand>,
    seen: Arc<Mutex<Seen>>,
    next_request_id: u64,
    date: String,
}

impl FrontEnd {
    /// A front end whose voter answers "unavailable" after `request_timeout_ms`.
    async fn start(addrs: &Addresses, request_timeout_ms: u64) -> FrontEnd {
        let submitter_endpoint = Arc::new(Endpoint::bind(addrs.submitter, udp::LinkFaults::default()).await.unwrap());
        let peers = [(NodeId(0), addrs.sequencer)].into_iter().collect();
        let submitter =
            SubmitterNode::spawn(submitter_endpoint, SubmitterConfig::new(NodeId(FRONT_END_ID), NodeId(0)), peers)
                .unwrap();
        let results = Endpoint::bind(addrs.results, udp::LinkFaults::default()).await.unwrap();
        let managers: BTreeMap<u16, SocketAddr> =
            addrs.replicas.iter().map(|(&id, replica)| (id, replica[0])).collect();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (commands, command_rx) = mpsc::unbounded_channel();
        tokio::spawn(collect(results, managers, command_rx, Arc::clone(&seen), request_timeout_ms));
        let date = {
            let zone = jiff::tz::TimeZone::get("America/Toronto").unwrap();
            let in_two_days = jiff::Zoned::now().with_time_zone(zone).date().checked_add(jiff::Span::new().days(2));
            in_two_days.unwrap().strftime("%d%m%y").to_string()
        };
        FrontEnd { submitter, commands, seen, next_request_id: 1, date }
    }

    /// The `index`-th request of a mix of slot additions, bookings, listings and schedules over three theatres.
    fn request(&self, index: u64) -> Request {
        let theatres = ["ATW", "OUT", "VER"];
        let theatre = theatres[(index % 3) as usize];
        let movie_id = format!("{theatre}E{}", self.date);
        let (user_id, operation) = match index % 7 {
            0 | 1 => (
                format!("{theatre}A0001"),
                Operation::AddMovieSlots {
                    movie_id,
                    movie_name: "Avatar".into(),
                    booking_capacity: 200 + (index % 50) as i32,
                },
            ),
            2 => (format!("{theatre}C0001"), Operation::ListMovieShowsAvailability { movie_name: "Avatar".into() }),
            3 => {
                let customer = format!("{}C{:04}", theatres[((index / 3) % 3) as usize], index % 5 + 1);
                (customer.clone(), Operation::GetBookingSchedule { customer_id: customer })
            }
            _ => {
                let customer = format!("{}C{:04}", theatres[((index / 7) % 3) as usize], index % 5 + 1);
                let operation = Operation::BookMovieTickets {
                    customer_id: customer.clone(),
                    movie_id,
                    movie_name: "Avatar".into(),
                    number_of_tickets: 1 + (index % 2) as i32,
                };
                (customer, operation)
            }
        };
        Request { user_id, operation }
    }

    /// Submits `count` requests, `pipeline` at a time; returns their ids. Every one must be decided.
    async fn run(&mut self, count: u64, pipeline: usize) -> Vec<u64> {
        let (ids, unavailable) = self.run_allowing_unavailable(count, pipeline).await;
        assert!(unavailable.is_empty(), "requests answered unavailable: {unavailable:?}");
        ids
    }

    /// Submits `count` requests, `pipeline` at a time; returns their ids and those answered "unavailable".
    async fn run_allowing_unavailable(&mut self, count: u64, pipeline: usize) -> (Vec<u64>, Vec<u64>) {
        let mut ids = Vec::new();
        let mut unavailable = Vec::new();
        let mut in_flight = Vec::new();
        for _ in 0..count {
            let request_id = self.next_request_id;
            self.next_request_id += 1;
            let (reply, outcome) = oneshot::channel();
            self.commands.send(CollectorCommand::Open { request_id, reply }).unwrap();
            let payload = Bytes::from(self.request(request_id).encode());
            let acceptance = self.submitter.submit(request_id, payload);
            let commands = self.commands.clone();
            in_flight.push(tokio::spawn(async move {
                let seq =
                    tokio::time::timeout(BOUND, acceptance).await.expect("accepted in time").expect("accepted").seq;
                let _ = commands.send(CollectorCommand::Accepted { request_id, seq });
                match tokio::time::timeout(BOUND, outcome).await.expect("decided in time").expect("collector runs") {
                    Outcome::Decided => None,
                    Outcome::Unavailable => Some(request_id),
                }
            }));
            ids.push(request_id);
            if in_flight.len() >= pipeline {
                for task in in_flight.drain(..) {
                    unavailable.extend(task.await.unwrap());
                }
            }
        }
        for task in in_flight {
            unavailable.extend(task.await.unwrap());
        }
        (ids, unavailable)
    }
}

/// The collector: results and memberships from the RMs into the voter; its events to waiting requests and, as
/// reports, to every replica manager.
async fn collect(
    endpoint: Endpoint,
    managers: BTreeMap<u16, SocketAddr>,
    mut commands: mpsc::UnboundedReceiver<CollectorCommand>,
    seen: Arc<Mutex<Seen>>,
    request_timeout_ms: u64,
) {
    let mut config = VoterConfig::software(REPLICAS.to_vec());
    config.request_timeout_ms = request_timeout_ms;
    config.suspect_floor_ms = 500;
    let mut voter = Voter::new(config);
    let clock = udp::ordering_shell::NodeClock::new();
    let mut waiting: HashMap<u64, oneshot::Sender<Outcome>> = HashMap::new();
    let mut seq_of: HashMap<u64, u64> = HashMap::new();
    let mut incarnations: BTreeMap<u16, u64> = BTreeMap::new();
    // request_id → when it opened, while some replica's result is missing.
    let mut asking: BTreeMap<u64, u64> = BTreeMap::new();
    let mut resend = tokio::time::interval(Duration::from_millis(RESULT_RESEND_MS));
    resend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = voter.poll_timeout().map(|ms| clock.instant_at(ms));
        tokio::select! {
            // Commands first: a request's `Open` is queued before it is submitted, so it must reach the voter before
            // any result for it (a result for a round not open yet would be recorded as seen but never voted on,
            // and never asked for again).
            biased;
            command = commands.recv() => match command {
                None => return,
                Some(CollectorCommand::Open { request_id, reply }) => {
                    voter.open(request_id, clock.now_ms());
                    waiting.insert(request_id, reply);
                    asking.insert(request_id, clock.now_ms());
                }
                Some(CollectorCommand::Accepted { request_id, seq }) => {
                    seq_of.insert(request_id, seq);
                }
            },
            received = endpoint.recv_from() => {
                let Ok((bytes, _)) = received else { return };
                match Message::decode(&bytes) {
                    Ok(Message::Result(result)) => {
                        let known = incarnations.entry(result.replica_id).or_insert(result.incarnation);
                        if result.incarnation < *known {
                            continue;
                        }
                        *known = result.incarnation;
                        seq_of.insert(result.request_id, result.seq);
                        seen.lock().unwrap().results.entry(result.request_id).or_default()
                            .insert(result.replica_id, result.response.to_vec());
                        voter.result(result.request_id, result.replica_id, &result.response, clock.now_ms());
                    }
                    Ok(Message::Membership(Membership { replica_id, incarnation, in_vote })) => {
                        let mut seen = seen.lock().unwrap();
                        let current = seen.memberships.entry(replica_id).or_insert((0, false));
                        if (incarnation, in_vote) > *current {
                            *current = (incarnation, in_vote);
                            let known = incarnations.entry(replica_id).or_insert(incarnation);
                            *known = (*known).max(incarnation);
                            voter.set_excluded(replica_id, !in_vote);
                        }
                    }
                    _ => {}
                }
            }
            () = async { tokio::time::sleep_until(deadline.unwrap()).await }, if deadline.is_some() => {
                voter.handle_timeout(clock.now_ms());
            }
            _ = resend.tick() => {
                // Every manager whose result has not arrived is asked; a round opened less than one interval ago
                // is asked too, which costs a cache miss at most.
                let now_ms = clock.now_ms();
                let mut asks = Vec::new();
                {
                    let seen = seen.lock().unwrap();
                    asking.retain(|request_id, opened_ms| {
                        let answered = seen.results.get(request_id);
                        let missing: Vec<SocketAddr> = managers
                            .iter()
                            .filter(|(id, _)| !answered.is_some_and(|results| results.contains_key(id)))
                            .map(|(_, &manager)| manager)
                            .collect();
                        asks.extend(missing.iter().map(|&manager| (*request_id, manager)));
                        !missing.is_empty() && now_ms < *opened_ms + RESULT_ASK_MS
                    });
                }
                for (request_id, manager) in asks {
                    let bytes = Message::ResendResult(ResendResult { front_end: FRONT_END_ID, request_id }).encode();
                    let _ = endpoint.send_to(&bytes, manager).await;
                }
            }
        }
        while let Some(event) = voter.poll_event() {
            let report = match event {
                Event::Decided { round, result } => {
                    seen.lock().unwrap().decided.insert(round, result);
                    if let Some(reply) = waiting.remove(&round) {
                        let _ = reply.send(Outcome::Decided);
                    }
                    None
                }
                Event::Unavailable { round } => {
                    if let Some(reply) = waiting.remove(&round) {
                        let _ = reply.send(Outcome::Unavailable);
                    }
                    None
                }
                Event::Wrong { round, replica, consecutive } => {
                    seen.lock().unwrap().wrong.push((replica, consecutive));
                    let seq = seq_of.get(&round).copied().unwrap_or(0);
                    Some(Report::Wrong { replica_id: replica, seq, request_id: round, consecutive })
                }
                Event::Suspected { round, replica } => {
                    let seq = seq_of.get(&round).copied().unwrap_or(0);
                    Some(Report::Suspected { replica_id: replica, seq, request_id: round })
                }
            };
            if let Some(report) = report {
                let bytes = Message::Report(report).encode();
                for &manager in managers.values() {
                    let _ = endpoint.send_to(&bytes, manager).await;
                }
            }
        }
    }
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after `bound`.
async fn wait_for<F, Fut>(what: &str, bound: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + bound;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {bound:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn rm_status(addrs: &Addresses, id: u16) -> Option<rm::status::RmStatus> {
    rm::status::query_status(addrs.replicas[&id][0], Duration::from_millis(500)).await.ok()
}

/// Every replica's (next_expected, digest), asked directly at its control address.
async fn replica_states(addrs: &Addresses) -> BTreeMap<u16, (u64, [u8; 32])> {
    let endpoint = Endpoint::bind("127.0.0.1:0".parse().unwrap(), udp::LinkFaults::default()).await.unwrap();
    let mut states = BTreeMap::new();
    for (&id, replica) in &addrs.replicas {
        let control = replica[2];
        for _ in 0..10 {
            endpoint.send_to(&ToReplica::Status.encode(), control).await.unwrap();
            let answer = tokio::time::timeout(Duration::from_millis(200), endpoint.recv_from()).await;
            if let Ok(Ok((bytes, from))) = answer
                && from == control
                && let Ok(FromReplica::Status { next_expected, digest }) = FromReplica::decode(&bytes)
            {
                states.insert(id, (next_expected, digest));
                break;
            }
        }
    }
    states
}

/// Waits until every replica has executed everything ordered so far (`ordered` requests) and checks that their
/// digests are equal.
async fn assert_replicas_agree(addrs: &Addresses, ordered: u64) {
    let deadline = tokio::time::Instant::now() + BOUND;
    let last = loop {
        let last = replica_states(addrs).await;
        if last.len() == REPLICAS.len() && last.values().all(|(next_expected, _)| *next_expected == ordered + 1) {
            break last;
        }
        assert!(tokio::time::Instant::now() < deadline, "replicas did not all reach seq {ordered}: {last:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let digests: Vec<[u8; 32]> = last.values().map(|(_, digest)| *digest).collect();
    assert!(digests.windows(2).all(|pair| pair[0] == pair[1]), "digests differ at seq {ordered}: {last:?}");
}

/// A fresh cluster on free ports with its own log directory (`tag` tells the tests' directories apart).
/// `history` is the sequencer's history size (the shipped default is 4096).
fn start_test_cluster(tag: &str, history: usize) -> (PathBuf, Addresses, Cluster) {
    let dir = std::env::temp_dir().join(format!("cineflix-rm-cluster-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ports = free_addrs(3 + 6 * REPLICAS.len());
    let addrs = Addresses {
        sequencer: ports[0],
        submitter: ports[1],
        results: ports[2],
        replicas: REPLICAS
            .iter()
            .enumerate()
            .map(|(index, &id)| {
                let base = 3 + index * 6;
                (id, std::array::from_fn(|offset| ports[base + offset]))
            })
            .collect(),
    };
    let config = write_config(&dir, &addrs, history);
    println!("logs and config in {}", dir.display());
    let cluster = Cluster::start(&config);
    (dir, addrs, cluster)
}

async fn wait_all_serving(addrs: &Addresses) {
    wait_for("every RM serving", BOUND, || async {
        let mut serving = 0;
        for id in REPLICAS {
            serving += usize::from(rm_status(addrs, id).await.is_some_and(|status| status.in_vote));
        }
        serving == REPLICAS.len()
    })
    .await;
}

#[test]
fn replicas_agree_and_crashed_or_lying_replicas_are_replaced() {
    let (dir, addrs, mut cluster) = start_test_cluster("phases", 4096);
    let per_phase = requests_per_phase();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        wait_all_serving(&addrs).await;
        let mut front_end = FrontEnd::start(&addrs, 20_000).await;

        // Phase 1: requests flow; every replica answers every request identically.
        let ids = front_end.run(per_phase, 8).await;
        wait_for("three results per request", BOUND, || {
            let seen = Arc::clone(&front_end.seen);
            let ids = ids.clone();
            async move {
                let seen = seen.lock().unwrap();
                ids.iter().all(|id| seen.results.get(id).is_some_and(|results| results.len() == REPLICAS.len()))
            }
        })
        .await;
        {
            let seen = front_end.seen.lock().unwrap();
            for id in &ids {
                let results: Vec<&Vec<u8>> = seen.results[id].values().collect();
                assert!(results.windows(2).all(|pair| pair[0] == pair[1]), "request {id}: results differ");
            }
            assert!(seen.wrong.is_empty(), "healthy replicas reported wrong: {:?}", seen.wrong);
        }
        let mut ordered = per_phase;
        assert_replicas_agree(&addrs, ordered).await;
        // The operators' status protocol carries each replica's own seq and digest: here all equal, and equal to
        // what the replicas answer directly.
        let direct = replica_states(&addrs).await;
        for id in REPLICAS {
            let status = rm_status(&addrs, id).await.expect("rm answers");
            let state = status.replica_state.unwrap_or_else(|| panic!("rm{id} status without the replica state"));
            assert_eq!((state.executed_up_to + 1, state.digest), direct[&id], "rm{id}: {status:?}");
        }

        // Phase 2: SIGKILL replica 2; its RM notices, the RMs agree, it is replaced and caught up by state
        // transfer, while requests keep being answered by the other two.
        let victim = rm_status(&addrs, 2).await.expect("rm2 answers");
        assert!(victim.replica_pid != 0 && victim.incarnation == 1);
        let killed = Command::new("kill").arg("-KILL").arg(victim.replica_pid.to_string()).status().unwrap();
        assert!(killed.success());
        front_end.run(per_phase, 8).await;
        ordered += per_phase;
        wait_for("replica 2 replaced and back in the vote", BOUND, || async {
            rm_status(&addrs, 2).await.is_some_and(|status| status.incarnation >= 2 && status.in_vote)
        })
        .await;
        let replaced = rm_status(&addrs, 2).await.unwrap();
        assert_eq!(replaced.replacements, 1, "{replaced:?}");
        assert_ne!(replaced.replica_pid, victim.replica_pid);
        front_end.run(per_phase / 2, 8).await;
        ordered += per_phase / 2;
        assert_replicas_agree(&addrs, ordered).await;

        // Phase 3: replica 3 lies from now on; three consecutive wrong results get it replaced.
        let incarnation = rm::status::inject_fault(addrs.replicas[&3][0], Fault::Lie, BOUND).await.expect("fault set");
        assert_eq!(incarnation, 1);
        let mut rounds = 0;
        while rm_status(&addrs, 3).await.is_none_or(|status| status.incarnation < 2) {
            rounds += 1;
            assert!(rounds <= 50, "replica 3 was not replaced after {rounds} batches of lies");
            front_end.run(4, 4).await;
            ordered += 4;
        }
        {
            let seen = front_end.seen.lock().unwrap();
            let counts: Vec<u32> =
                seen.wrong.iter().filter(|(replica, _)| *replica == 3).map(|(_, consecutive)| *consecutive).collect();
            assert!(counts.starts_with(&[1, 2, 3]), "wrong counts of replica 3: {counts:?}");
            assert!(seen.wrong.iter().all(|(replica, _)| *replica == 3), "{:?}", seen.wrong);
        }
        wait_for("replica 3 back in the vote", BOUND, || async {
            rm_status(&addrs, 3).await.is_some_and(|status| status.in_vote)
        })
        .await;
        front_end.run(per_phase / 2, 8).await;
        ordered += per_phase / 2;
        assert_replicas_agree(&addrs, ordered).await;
        let wrong_after_replacement = {
            let seen = front_end.seen.lock().unwrap();
            seen.wrong.iter().filter(|(_, consecutive)| *consecutive == 1).count()
        };
        assert_eq!(wrong_after_replacement, 1, "the fresh replica 3 answers correctly");
    });
    cluster.assert_running();
    drop(cluster);
    let rm2_log = std::fs::read_to_string(dir.join("logs/rm-2.log")).unwrap();
    assert!(rm2_log.contains("replacement_started incarnation=2 reason=Crash"), "{rm2_log}");
    assert!(rm2_log.contains("snapshot_agreed"), "{rm2_log}");
    let rm3_log = std::fs::read_to_string(dir.join("logs/rm-3.log")).unwrap();
    assert!(rm3_log.contains("replacement_started incarnation=2 reason=Wrong"), "{rm3_log}");
    let sequencer_log = std::fs::read_to_string(dir.join("logs/sequencer.log")).unwrap();
    assert!(sequencer_log.contains("seq=1 submitter=100 request_id=1 "), "{sequencer_log}");
    // Replica 1 was never replaced and was stopped gracefully with its RM: its theatre servers' logs together hold
    // every job exactly once (none lost in a buffer).
    let mut logged_jobs: Vec<u64> = ["ATW", "OUT", "VER"]
        .iter()
        .flat_map(|theatre| {
            let path = dir.join(format!("logs/replica-1-{theatre}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            text.split_whitespace().filter_map(|word| word.strip_prefix("job=")?.parse().ok()).collect::<Vec<u64>>()
        })
        .collect();
    logged_jobs.sort_unstable();
    let ordered = sequencer_log.lines().filter(|line| line.contains(" seq=")).count() as u64;
    assert!(ordered > 0, "the sequencer logged no ordered request");
    assert_eq!(logged_jobs, (1..=ordered).collect::<Vec<u64>>(), "replica 1's theatre logs miss or repeat jobs");
    if std::env::var_os("RM_TEST_KEEP_LOGS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The sequencer's log as `(seq, request_id, timestamp_ms)`, in seq order.
fn ordered_log(dir: &Path) -> Vec<(u64, u64, u64)> {
    let text = std::fs::read_to_string(dir.join("logs/sequencer.log")).unwrap();
    let field = |line: &str, key: &str| -> Option<u64> {
        line.split_whitespace().find_map(|word| word.strip_prefix(key)?.parse().ok())
    };
    let mut ordered: Vec<(u64, u64, u64)> = text
        .lines()
        .filter_map(|line| Some((field(line, "seq=")?, field(line, "request_id=")?, field(line, "timestamp_ms=")?)))
        .collect();
    ordered.sort_unstable();
    ordered
}

#[test]
fn two_of_three_replicas_down_at_once_heal_and_clients_get_only_right_answers_or_unavailable() {
    let (dir, addrs, mut cluster) = start_test_cluster("two-down", 4096);
    let per_phase = requests_per_phase();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let front_end = runtime.block_on(async {
        wait_all_serving(&addrs).await;
        // A short vote timeout: while two replicas are down nothing can be decided, and each such request should
        // come back "unavailable" soon rather than hold the load for long.
        let mut front_end = FrontEnd::start(&addrs, 3_000).await;
        front_end.run(per_phase, 8).await;

        let second = rm_status(&addrs, 3).await.expect("rm3 answers");
        let first = rm_status(&addrs, 2).await.expect("rm2 answers");
        assert!(first.replica_pid != 0 && second.replica_pid != 0);
        let signal = |name: &str, pid: u32| {
            assert!(Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().unwrap().success());
        };
        // Replica 3 hangs (SIGSTOP) as replica 2 dies, and is killed once replica 2's manager has started the
        // replacement: it can never donate to replica 2 in between, however fast the replacement runs (a release
        // build needs only milliseconds), and replica 3's own recovery finds replica 1 only.
        signal("STOP", second.replica_pid);
        signal("KILL", first.replica_pid);
        wait_for("rm2 starting a replacement", BOUND, || async {
            rm_status(&addrs, 2).await.is_some_and(|status| status.incarnation >= 2)
        })
        .await;
        signal("KILL", second.replica_pid);
        let mut unavailable = Vec::new();
        let mut rounds = 0;
        loop {
            let healed = {
                let (two, three) = (rm_status(&addrs, 2).await, rm_status(&addrs, 3).await);
                two.is_some_and(|status| status.in_vote) && three.is_some_and(|status| status.in_vote)
            };
            if healed {
                break;
            }
            rounds += 1;
            assert!(rounds <= 60, "replicas 2 and 3 did not both return to the vote");
            // Load while two are down: each request is either answered right (checked below) or unavailable.
            let (_, failed) = front_end.run_allowing_unavailable(4, 4).await;
            unavailable.extend(failed);
        }
        println!("requests answered unavailable while two replicas were down: {}", unavailable.len());
        for id in [2, 3] {
            let status = rm_status(&addrs, id).await.unwrap();
            assert_eq!((status.incarnation, status.replacements), (2, 1), "rm{id}: {status:?}");
        }
        // Healed: every request is answered again, and the replicas agree.
        front_end.run(per_phase, 8).await;
        let ordered = front_end.next_request_id - 1;
        assert_replicas_agree(&addrs, ordered).await;
        front_end
    });
    cluster.assert_running();
    drop(cluster); // flushes the sequencer's log
    let ordered = ordered_log(&dir);
    assert_eq!(
        ordered.iter().map(|(seq, ..)| *seq).collect::<Vec<_>>(),
        (1..=ordered.len() as u64).collect::<Vec<_>>()
    );
    // The oracle: one booking::Replica applying every ordered request at the sequencer's timestamp.
    let mut oracle = booking::Replica::new();
    let mut truth: HashMap<u64, Vec<u8>> = HashMap::new();
    for &(_, request_id, timestamp_ms) in &ordered {
        let answer = oracle.execute(&front_end.request(request_id), timestamp_ms as i64).encode();
        truth.insert(request_id, answer);
    }
    let seen = front_end.seen.lock().unwrap();
    assert!(seen.decided.len() as u64 >= 2 * per_phase, "{} decided", seen.decided.len());
    for (request_id, answer) in &seen.decided {
        assert_eq!(Some(answer), truth.get(request_id), "request {request_id}: the decided answer is not the oracle's");
    }
    let logs: String =
        [2, 3].iter().map(|id| std::fs::read_to_string(dir.join(format!("logs/rm-{id}.log"))).unwrap()).collect();
    assert!(logs.contains("sole_donor_restore"), "no recovery used the sole-donor rule:\n{logs}");
    if std::env::var_os("RM_TEST_KEEP_LOGS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A replica manager paused with SIGSTOP under load: the sequencer drops it after `member_timeout_ms` of silence and
/// the group goes on without it, so every request of a load three times the history is answered while it is
/// paused (two replicas agree). Resumed, it finds itself behind the history, its replica is replaced and restored
/// by state transfer (a `Behind` replacement), it rejoins the vote and the live members, and every replica agrees.
#[test]
fn a_paused_replica_manager_is_dropped_and_rebuilt_by_state_transfer_when_it_resumes() {
    const HISTORY: usize = 64;
    let (dir, addrs, cluster) = start_test_cluster("paused", HISTORY);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let rm3 = cluster.children.iter().find(|(name, _)| name == "rm3").expect("rm3 runs").1.id();
    let signal = |name: &str| {
        assert!(Command::new("kill").arg(format!("-{name}")).arg(rm3.to_string()).status().unwrap().success());
    };
    let sequencer_log = || std::fs::read_to_string(dir.join("logs/sequencer.log")).unwrap_or_default();
    let mut cluster = cluster;
    let front_end = runtime.block_on(async {
        wait_all_serving(&addrs).await;
        let mut front_end = FrontEnd::start(&addrs, 20_000).await;
        front_end.run(20, 8).await;
        signal("STOP");
        // Three times the history: without the drop, the paused member would hold all of it back and these
        // requests would wait for it to resume.
        let load = (3 * HISTORY) as u64;
        let before = front_end.seen.lock().unwrap().decided.len();
        let answered = tokio::time::timeout(BOUND, front_end.run(load, 8)).await;
        let decided = front_end.seen.lock().unwrap().decided.len() - before;
        assert!(answered.is_ok(), "only {decided} of {load} requests answered while rm3 was paused");
        assert_eq!(decided as u64, load);
        // The sequencer's log is flushed every 200 ms.
        wait_for("the sequencer's log line dropping rm3", BOUND, || async {
            sequencer_log().contains("members live=[1, 2] ")
        })
        .await;
        signal("CONT");
        wait_for("rm3 back in the vote with a fresh replica", BOUND, || async {
            rm_status(&addrs, 3).await.is_some_and(|status| status.in_vote && status.incarnation == 2)
        })
        .await;
        front_end.run(20, 8).await;
        let ordered = front_end.next_request_id - 1;
        assert_replicas_agree(&addrs, ordered).await;
        let status = rm_status(&addrs, 3).await.expect("rm3 answers");
        assert_eq!(status.replacements, 1, "{status:?}");
        wait_for("the sequencer's log line taking rm3 back", BOUND, || async {
            sequencer_log().contains("members live=[1, 2, 3] ")
        })
        .await;
        front_end
    });
    let rm3_log = std::fs::read_to_string(dir.join("logs/rm-3.log")).unwrap();
    assert!(rm3_log.contains("reason=Behind"), "rm3 did not replace its replica for being behind:\n{rm3_log}");
    cluster.assert_running();
    drop(cluster);
    let ordered = ordered_log(&dir);
    assert_eq!(ordered.len() as u64, front_end.next_request_id - 1, "every request ordered exactly once");
    if std::env::var_os("RM_TEST_KEEP_LOGS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
