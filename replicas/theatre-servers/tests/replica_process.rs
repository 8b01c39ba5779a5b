//! The real `cineflix-replica` binary, started as a process on free loopback ports and driven through
//! `replica-api` over a `udp::Endpoint`: every answer and the final digest must equal what `booking::Replica` (the
//! in-process oracle) computes for the same jobs, on healthy links, on lossy links, and with the three theatre
//! servers in three processes. Also checks the theatre log files and robustness to garbage.
//!
//! `REPLICA_TEST_JOBS` sets the number of jobs per run (default 2000) for longer soaks.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use booking::{Response, TheatreCode};
use support::{Driver, ReplicaChild, Workload, describe, free_addrs, scratch_dir, workload, write_config};

const BINARY: &str = env!("CARGO_BIN_EXE_cineflix-replica");
const READY_BOUND: Duration = Duration::from_secs(20);
const RUN_BOUND: Duration = Duration::from_secs(240);

fn job_count() -> usize {
    std::env::var("REPLICA_TEST_JOBS").ok().and_then(|text| text.parse().ok()).unwrap_or(2000)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The mix must really exercise cross-theatre work, or the comparisons prove little.
fn assert_coverage(workload: &Workload) {
    let coverage = &workload.coverage;
    for operation in [
        "addMovieSlots",
        "removeMovieSlots",
        "listMovieShowsAvailability",
        "bookMovieTickets",
        "getBookingSchedule",
        "cancelMovieTickets",
        "exchangeTickets",
    ] {
        assert!(
            coverage.ok_by_operation.get(operation).copied().unwrap_or(0) > 0,
            "no successful {operation}: {coverage:?}"
        );
    }
    assert!(coverage.outside_bookings > 0, "{coverage:?}");
    assert!(coverage.cross_theatre_exchanges > 0, "{coverage:?}");
    assert!(coverage.moved_by_removal > 0, "{coverage:?}");
    assert!(coverage.multi_theatre_listings > 0, "{coverage:?}");
    for code in ["SOLD_OUT", "OUTSIDE_AREA_LIMIT", "NOT_AUTHORIZED", "INVALID_ID"] {
        assert!(coverage.rejections.contains_key(code), "no {code} in the mix: {coverage:?}");
    }
}

fn assert_answers(workload: &Workload, answers: &[Vec<u8>]) {
    assert_eq!(answers.len(), workload.expected.len());
    for (index, (answer, expected)) in answers.iter().zip(&workload.expected).enumerate() {
        assert!(
            answer == expected,
            "job {} ({:?}): replica answered {} but booking::Replica answers {}",
            index + 1,
            workload.jobs[index].request,
            describe(answer),
            describe(expected)
        );
    }
}

/// Sums a counter from the "stop" notes the theatre servers write at shutdown (`TheatreStats` Debug output).
fn stop_counter(log: &str, name: &str) -> u64 {
    log.lines()
        .filter(|line| line.contains(" note stop "))
        .filter_map(|line| {
            let start = line.find(&format!("{name}: "))? + name.len() + 2;
            line[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok()
        })
        .sum()
}

fn read_logs(dir: &std::path::Path) -> BTreeMap<TheatreCode, String> {
    TheatreCode::ALL
        .into_iter()
        .map(|code| {
            let path = theatre_servers::log_path(&dir.join("logs"), "standalone", code);
            (code, std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        })
        .collect()
}

#[test]
fn replica_answers_like_the_oracle_and_logs_every_job() {
    let workload = workload(1, job_count());
    assert_coverage(&workload);
    let dir = scratch_dir("healthy");
    let addrs = free_addrs(4);
    let config = write_config(&dir, &addrs, &udp::LinkFaults::default());
    let child = ReplicaChild::spawn(BINARY, &["--config".into(), config.display().to_string()]);

    let garbage_per_theatre = runtime().block_on(async {
        let driver = Driver::new(addrs[0], udp::LinkFaults::default()).await;
        assert_eq!(driver.status(READY_BOUND).await, (1, booking::Replica::new().digest()), "fresh replica");

        // Garbage at every address is counted and dropped; the replica keeps serving. Raw datagrams test the
        // endpoints' framing; whole garbage messages test the servers' own decoders.
        let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for addr in &addrs {
            for datagram in [&b""[..], &[1u8][..], &[1, 1, 0xFF, 0xFF, 0xFF, 0xFF][..], &[0u8; 300][..], &[1u8; 40][..]]
            {
                raw.send_to(datagram, addr).await.unwrap();
            }
            for message in [
                &b"x"[..],
                &[1u8, 1, 1][..],
                &[1u8; 19][..],
                &[1u8, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0][..],
                &[7u8; 5000][..],
            ] {
                driver.endpoint.send_to(message, *addr).await.unwrap();
            }
        }
        // Five of each kind per address.
        let garbage_per_theatre = 5;

        // Relay calls that must be refused by the theatre servers (addresses 1..=3, ATW, OUT, VER): one carrying a
        // mutation (it would add a slot if served: the oracle digest below would differ), one at the wrong hop,
        // one passing on to a theatre that does not exist. Each is counted as malformed and applies nothing.
        let date = booking::Date::new(2026, 11, 23).unwrap();
        for (index, code) in TheatreCode::ALL.into_iter().enumerate() {
            let movie_id = booking::MovieId { theatre: code, slot: booking::SlotLetter::ALL[0], date };
            let add = booking::PeerRequest::AddSlot {
                slot: booking::Slot::new(booking::Movie::Avatar, movie_id),
                capacity: 9,
            };
            let read = booking::PeerRequest::ListShows { movie: booking::Movie::Avatar, from: date };
            let other = (code.index() as u8 + 1) % 3;
            let own = code.index() as u8;
            for (hops, requests) in [
                (vec![own, other], vec![add.encode(), read.encode()]),
                (vec![other, own], vec![read.encode(), read.encode()]),
                (vec![own, 7], vec![read.encode(), read.encode()]),
            ] {
                let mut message = Vec::new();
                theatre_servers::wire::Envelope {
                    kind: theatre_servers::wire::Kind::Call,
                    op: theatre_servers::wire::Op::Relay,
                    incarnation: 1,
                    request_id: 1,
                    payload: &[],
                }
                .encode_into(&mut message);
                theatre_servers::wire::RelayCall::encode_fresh(other, &hops, &mut message, |hop, out| {
                    out.extend_from_slice(&requests[hop])
                });
                driver.endpoint.send_to(&message, addrs[index + 1]).await.unwrap();
            }
        }

        let answers = driver.run(&workload.jobs, RUN_BOUND).await;
        assert_answers(&workload, &answers);
        let next = workload.jobs.len() as u64 + 1;
        assert_eq!(driver.status(READY_BOUND).await, (next, workload.digest), "digest after all jobs");

        // A retried batch is answered from the cache, identically, and executes nothing.
        let (replica_next, results) = driver.execute_once(workload.jobs[..64].to_vec(), READY_BOUND).await;
        assert_eq!(replica_next, next);
        assert_eq!(results.len(), 64);
        for (id, answer) in results {
            assert_eq!(answer, workload.expected[id as usize - 1], "cached answer of job {id}");
        }
        // A gap is not executed.
        let mut ahead = workload.jobs[0].clone();
        ahead.id = next + 3;
        let (replica_next, results) = driver.execute_once(vec![ahead], READY_BOUND).await;
        assert_eq!((replica_next, results.len()), (next, 0));
        assert_eq!(driver.status(READY_BOUND).await, (next, workload.digest), "retries and gaps changed nothing");
        garbage_per_theatre
    });

    let status = child.terminate();
    assert!(status.success(), "replica exit status {status:?}");

    // Every job is logged exactly once, by its caller's home theatre (ATW for malformed callers), with its
    // operation, outcome and code.
    let logs = read_logs(&dir);
    let mut seen = vec![0u32; workload.jobs.len()];
    for (code, text) in &logs {
        assert!(text.contains(" note start "), "{code} log lacks the start note");
        for line in text.lines().filter(|line| line.contains(" job=")) {
            let id: usize = line.split(" job=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            let job = &workload.jobs[id - 1];
            seen[id - 1] += 1;
            let home = booking::coordinator::home_theatre(&job.request).unwrap_or(TheatreCode::Atw);
            assert_eq!(*code, home, "job {id} logged by {code}: {line}");
            let response = Response::decode(&workload.expected[id - 1]).unwrap();
            let outcome = if response.success() { "success" } else { "failure" };
            assert!(line.contains(&format!(" op={} ", job.request.operation.name())), "{line}");
            assert!(line.contains(&format!(" user={:?} ", job.request.user_id)), "{line}");
            assert!(line.contains(&format!(" result={outcome} code={} answer=", response.code.as_str())), "{line}");
            assert!(line.contains(" wall=20"), "{line}");
            assert!(line.starts_with("20"), "job time first: {line}");
        }
    }
    assert!(seen.iter().all(|count| *count == 1), "jobs not logged exactly once: {:?}", {
        seen.iter().enumerate().filter(|(_, c)| **c != 1).take(5).collect::<Vec<_>>()
    });
    for (counter, crafted_relays) in [("malformed", 3 * 3), ("framing_rejected", 0)] {
        let counted: u64 = logs.values().map(|text| stop_counter(text, counter)).sum();
        let expected = 3 * garbage_per_theatre + crafted_relays;
        assert!(counted >= expected, "garbage at the theatre servers: {counter} = {counted}, expected {expected}");
    }
    // Reads at both other theatres travel as relay calls of two hops; each is served at both (again when resent).
    let total = |name| logs.values().map(|text| stop_counter(text, name)).sum::<u64>();
    assert!(total("relays") > 0, "no relay call was made");
    assert!(
        total("relay_hops") >= 2 * total("relays"),
        "relay hops {} for {} relays",
        total("relay_hops"),
        total("relays")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lossy_links_are_survived_by_retries_and_dedup() {
    let workload = workload(2, job_count());
    let dir = scratch_dir("lossy");
    let addrs = free_addrs(4);
    let faults = udp::LinkFaults { drop: 0.05, duplicate: 0.05, reorder: 0.05, delay_ms: 0 };
    let config = write_config(&dir, &addrs, &faults);
    let child = ReplicaChild::spawn(BINARY, &["--config".into(), config.display().to_string()]);

    runtime().block_on(async {
        let driver = Driver::new(addrs[0], faults.clone()).await;
        driver.status(READY_BOUND).await;
        let answers = driver.run(&workload.jobs, RUN_BOUND).await;
        assert_answers(&workload, &answers);
        let next = workload.jobs.len() as u64 + 1;
        assert_eq!(driver.status(READY_BOUND).await, (next, workload.digest));
    });

    let status = child.terminate();
    assert!(status.success(), "replica exit status {status:?}");
    let logs = read_logs(&dir);
    let total = |name| logs.values().map(|text| stop_counter(text, name)).sum::<u64>();
    // With 5% loss on thousands of peer calls, retries must have happened, and duplicated or retried calls must
    // have been answered from the reply cache (or ignored) instead of being applied again; the oracle comparison
    // above shows nothing was applied twice.
    assert!(total("resends") > 0, "no peer call was ever resent: {logs:?}");
    assert!(total("replays") + total("ignored") > 0, "no duplicate call was filtered");
    assert!(total("stray_replies") > 0, "no duplicate or late reply was ignored");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn three_theatre_servers_in_three_processes() {
    let workload = workload(3, job_count() / 2);
    let dir = scratch_dir("split");
    let addrs = free_addrs(4);
    let config = write_config(&dir, &addrs, &udp::LinkFaults::default());
    let config_arg = config.display().to_string();
    let start = |theatre: &str, with_control: bool| {
        let mut args = vec!["--config".to_string(), config_arg.clone(), "--theatre".to_string(), theatre.to_string()];
        if with_control {
            args.push("--with-control".to_string());
        }
        ReplicaChild::spawn(BINARY, &args)
    };
    // Control with ATW first: until OUT and VER start, a Status cannot complete; the bounded readiness loop
    // waits for them.
    let atw = start("ATW", true);
    let out = start("out", false);
    let ver = start("VER", false);

    runtime().block_on(async {
        let driver = Driver::new(addrs[0], udp::LinkFaults::default()).await;
        assert_eq!(driver.status(READY_BOUND).await, (1, booking::Replica::new().digest()));
        let answers = driver.run(&workload.jobs, RUN_BOUND).await;
        assert_answers(&workload, &answers);
        assert_eq!(driver.status(READY_BOUND).await, (workload.jobs.len() as u64 + 1, workload.digest));
    });

    for child in [atw, out, ver] {
        let status = child.terminate();
        assert!(status.success(), "exit status {status:?}");
    }
    // Each process logged the jobs of its own theatre.
    let logs = read_logs(&dir);
    let logged: usize = logs.values().map(|text| text.lines().filter(|line| line.contains(" job=")).count()).sum();
    assert_eq!(logged, workload.jobs.len());
    let _ = std::fs::remove_dir_all(&dir);
}
