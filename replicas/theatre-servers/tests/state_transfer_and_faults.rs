//! The real `cineflix-replica` process's state transfer (`Snapshot`, `Restore`) and injected faults (`--fault` and
//! `InjectFault`): a snapshot restored into a fresh process gives the same digest and the same answers afterwards;
//! a liar's answers all differ from the truth while its state stays right; crash-after exits abruptly after exactly
//! N jobs; slow delays executed answers but not status answers.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use replica_api::{Fault, FromReplica, ToReplica};
use support::{Driver, describe, free_addrs, scratch_dir, workload, write_config};

const BINARY: &str = env!("CARGO_BIN_EXE_cineflix-replica");
const BOUND: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A replica process on fresh loopback ports; killed on drop.
struct Replica {
    child: Child,
    control: SocketAddr,
}

impl Replica {
    fn start(label: &str, fault: Option<&str>) -> Replica {
        let dir = scratch_dir(label);
        let addrs = free_addrs(4);
        let config = write_config(&dir, &addrs, &udp::LinkFaults::default());
        let mut command = Command::new(BINARY);
        command.arg("--config").arg(&config).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(fault) = fault {
            command.arg("--fault").arg(fault);
        }
        Replica { child: command.spawn().expect("start cineflix-replica"), control: addrs[0] }
    }

    /// Waits (bounded) for the process to exit by itself.
    fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "the replica did not exit within {bound:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `message` until an answer `accept` takes arrives (or `bound` passes: panic).
async fn ask<T>(
    driver: &Driver,
    message: &ToReplica,
    bound: Duration,
    mut accept: impl FnMut(FromReplica) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + bound;
    let bytes = message.encode();
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no fitting answer to {message:?} within {bound:?}");
        driver.endpoint.send_to(&bytes, driver.control).await.unwrap();
        let wait_until = (tokio::time::Instant::now() + driver.retry).min(deadline);
        while let Ok(received) = tokio::time::timeout_at(wait_until, driver.endpoint.recv_from()).await {
            let (reply, _) = received.unwrap();
            if let Some(answer) = FromReplica::decode(&reply).ok().and_then(&mut accept) {
                return answer;
            }
        }
    }
}

async fn snapshot(driver: &Driver) -> (u64, Vec<u8>) {
    ask(driver, &ToReplica::Snapshot, BOUND, |answer| match answer {
        FromReplica::Snapshot { executed_up_to, snapshot } => Some((executed_up_to, snapshot)),
        _ => None,
    })
    .await
}

async fn inject(driver: &Driver, fault: Fault) {
    let set = ask(driver, &ToReplica::InjectFault(fault), BOUND, |answer| match answer {
        FromReplica::FaultSet(set) => Some(set),
        _ => None,
    })
    .await;
    assert_eq!(set, fault);
}

#[test]
fn snapshot_restored_into_a_fresh_process_continues_identically() {
    let workload = workload(7, 600);
    let split = 400;
    let mut donor = Replica::start("donor", None);
    let mut fresh = Replica::start("fresh", None);
    runtime().block_on(async {
        let donor_driver = Driver::new(donor.control, udp::LinkFaults::default()).await;
        let fresh_driver = Driver::new(fresh.control, udp::LinkFaults::default()).await;
        donor_driver.status(BOUND).await;
        let (_, empty_digest) = fresh_driver.status(BOUND).await;

        let answers = donor_driver.run(&workload.jobs[..split], BOUND).await;
        assert_eq!(answers, workload.expected[..split], "the donor answers like booking::Replica");
        let (executed_up_to, bytes) = snapshot(&donor_driver).await;
        assert_eq!(executed_up_to, split as u64);
        let (_, donor_digest) = donor_driver.status(BOUND).await;
        let decoded = booking::Replica::restore(&bytes).expect("the snapshot is a booking replica snapshot");
        assert_eq!(decoded.digest(), donor_digest, "the snapshot is the state the Status digest describes");
        assert_ne!(donor_digest, empty_digest);

        let restore = ToReplica::Restore { next_expected: executed_up_to + 1, snapshot: bytes };
        let restored = ask(&fresh_driver, &restore, BOUND, |answer| match answer {
            FromReplica::Restored { next_expected } => Some(next_expected),
            _ => None,
        })
        .await;
        assert_eq!(restored, executed_up_to + 1);
        assert_eq!(fresh_driver.status(BOUND).await, (executed_up_to + 1, donor_digest));

        // Results from before the snapshot are not the fresh process's to repeat.
        let (next_expected, results) = fresh_driver.execute_once(workload.jobs[split - 1..split].to_vec(), BOUND).await;
        assert_eq!((next_expected, results), (executed_up_to + 1, vec![]));

        let answers = fresh_driver.run(&workload.jobs[split..], BOUND).await;
        for (index, (answer, expected)) in answers.iter().zip(&workload.expected[split..]).enumerate() {
            assert!(answer == expected, "job {}: {} vs {}", split + index + 1, describe(answer), describe(expected));
        }
        assert_eq!(fresh_driver.status(BOUND).await, (workload.jobs.len() as u64 + 1, workload.digest));
    });
    assert!(!donor.has_exited() && !fresh.has_exited(), "both processes still run");
}

#[test]
fn a_liar_answers_wrongly_but_keeps_its_state_right_until_healed() {
    let workload = workload(11, 300);
    let split = 200;
    let replica = Replica::start("liar", Some("lie"));
    runtime().block_on(async {
        let driver = Driver::new(replica.control, udp::LinkFaults::default()).await;
        driver.status(BOUND).await;
        let lies = driver.run(&workload.jobs[..split], BOUND).await;
        for (index, (lie, truth)) in lies.iter().zip(&workload.expected).enumerate() {
            assert_ne!(lie, truth, "job {} was answered truthfully", index + 1);
            assert!(booking::Response::decode(lie).is_ok(), "job {}: a plausible lie decodes", index + 1);
        }
        let (_, digest) = driver.status(BOUND).await;
        let truth_digest = {
            let mut oracle = booking::Replica::new();
            for job in &workload.jobs[..split] {
                oracle.execute(&job.request, job.timestamp_ms);
            }
            oracle.digest()
        };
        assert_eq!(digest, truth_digest, "lying does not corrupt the state");

        inject(&driver, Fault::None).await;
        let answers = driver.run(&workload.jobs[split..], BOUND).await;
        assert_eq!(answers, workload.expected[split..], "healed, it answers truthfully");
        assert_eq!(driver.status(BOUND).await.1, workload.digest);
    });
}

#[test]
fn crash_after_exits_abruptly_after_exactly_n_jobs() {
    let workload = workload(13, 40);
    let mut replica = Replica::start("crash", Some("crash-after=25"));
    runtime().block_on(async {
        let driver = Driver::new(replica.control, udp::LinkFaults::default()).await;
        driver.status(BOUND).await;
        let answers = driver.run(&workload.jobs[..24], BOUND).await;
        assert_eq!(answers, workload.expected[..24]);
        assert_eq!(driver.status(BOUND).await.0, 25, "alive after 24 jobs");
        // The 25th job runs, then the process exits before answering.
        let message = ToReplica::Execute { jobs: workload.jobs[24..30].to_vec() }.encode();
        driver.endpoint.send_to(&message, driver.control).await.unwrap();
    });
    let status = replica.wait_exit(BOUND);
    assert_eq!(status.code(), Some(theatre_servers::fault::INJECTED_CRASH_EXIT_CODE));
}

#[test]
fn crash_after_zero_injected_at_run_time_exits_after_answering() {
    let workload = workload(17, 10);
    let mut replica = Replica::start("crash-now", None);
    runtime().block_on(async {
        let driver = Driver::new(replica.control, udp::LinkFaults::default()).await;
        assert_eq!(driver.run(&workload.jobs, BOUND).await, workload.expected);
        inject(&driver, Fault::CrashAfter { requests: 0 }).await;
    });
    let status = replica.wait_exit(BOUND);
    assert_eq!(status.code(), Some(theatre_servers::fault::INJECTED_CRASH_EXIT_CODE));
}

#[test]
fn slow_delays_executed_answers_but_not_status() {
    let delay = Duration::from_millis(400);
    let workload = workload(19, 3);
    let replica = Replica::start("slow", Some(&format!("slow={}", delay.as_millis())));
    runtime().block_on(async {
        let driver = Driver::new(replica.control, udp::LinkFaults::default()).await;
        driver.status(BOUND).await;
        let sent = tokio::time::Instant::now();
        let execute = ToReplica::Execute { jobs: workload.jobs[..1].to_vec() }.encode();
        driver.endpoint.send_to(&execute, driver.control).await.unwrap();
        driver.endpoint.send_to(&ToReplica::Status.encode(), driver.control).await.unwrap();
        let mut status_at = None;
        loop {
            let (bytes, _) = tokio::time::timeout(BOUND, driver.endpoint.recv_from()).await.unwrap().unwrap();
            match FromReplica::decode(&bytes).unwrap() {
                FromReplica::Status { next_expected, .. } => {
                    assert_eq!(next_expected, 2, "the job ran at once; only its answer waits");
                    status_at = Some(sent.elapsed());
                }
                FromReplica::Executed { next_expected, results } => {
                    let executed_at = sent.elapsed();
                    assert_eq!(next_expected, 2);
                    assert_eq!(results, vec![(1, workload.expected[0].clone())]);
                    assert!(executed_at >= delay, "answered after {executed_at:?}, before the {delay:?} delay");
                    let status_at = status_at.expect("the status answer overtook the delayed one");
                    assert!(status_at < delay, "status answered after {status_at:?}");
                    break;
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
    });
}
