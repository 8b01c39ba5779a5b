//! Measures how many jobs per second one replica executes: the replica (control task and three theatre servers on
//! one current-thread runtime, as `cineflix-replica` runs them) on one thread, a go-back-N driver on another, the
//! realistic mix of the integration tests, all peer traffic over loopback UDP. Checks the final digest against
//! `booking::Replica`, so a fast wrong replica does not pass.
//!
//! `cargo run --release -p theatre-servers --example replica_throughput` (env: `REPLICA_BENCH_JOBS`, default
//! 100000; `REPLICA_BENCH_WINDOW`, jobs in flight, default 512; `REPLICA_BENCH_MIX=bench` for the load of
//! `cineflix bench` instead: list, book, schedule and cancel by home-theatre customers, `REPLICA_BENCH_CUSTOMERS`
//! per theatre, default 500; `REPLICA_BENCH_RETRY_MS`, the driver's go-back timeout, default 30: raise it under
//! valgrind, where a slow replica would otherwise be asked again and again).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use theatre_servers::rpc::RetryPolicy;
use theatre_servers::{Options, ReplicaProcess};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|text| text.parse().ok()).unwrap_or(default)
}

fn main() {
    let jobs = env_or("REPLICA_BENCH_JOBS", 100_000);
    let window = env_or("REPLICA_BENCH_WINDOW", 512);
    let generated = Instant::now();
    let workload = match std::env::var("REPLICA_BENCH_MIX").as_deref() {
        Ok("bench") => support::bench_mix_workload(7, jobs, env_or("REPLICA_BENCH_CUSTOMERS", 500) as u16),
        _ => support::workload(7, jobs),
    };
    eprintln!("workload of {jobs} jobs generated in {:?}; coverage {:?}", generated.elapsed(), workload.coverage);

    let addrs = support::free_addrs(4);
    let dir = support::scratch_dir("bench");
    let options = Options {
        name: "bench".to_string(),
        control_addr: addrs[0],
        theatre_addrs: [addrs[1], addrs[2], addrs[3]],
        theatres: booking::TheatreCode::ALL.to_vec(),
        with_control: true,
        logs_dir: dir.clone(),
        zone: booking::time::montreal(),
        faults: udp::LinkFaults::default(),
        retry: RetryPolicy::default(),
        log_flush_ms: 200,
        busy_poll_us: 0,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let replica = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let process = ReplicaProcess::bind(&options).await.unwrap();
            process
                .serve(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap()
        })
    });

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut driver = support::Driver::new(addrs[0], udp::LinkFaults::default()).await;
        driver.window = window;
        driver.retry = Duration::from_millis(env_or("REPLICA_BENCH_RETRY_MS", 30) as u64);
        driver.status(Duration::from_secs(10)).await;
        let started = Instant::now();
        let answers = driver.run(&workload.jobs, Duration::from_secs(600)).await;
        let elapsed = started.elapsed();
        let wrong = answers.iter().zip(&workload.expected).filter(|(answer, expected)| answer != expected).count();
        let (next_expected, digest) = driver.status(Duration::from_secs(10)).await;
        assert_eq!(wrong, 0, "{wrong} answers differ from booking::Replica");
        assert_eq!((next_expected, digest), (jobs as u64 + 1, workload.digest), "final digest");
        println!(
            "{jobs} jobs in {:.3} s: {:.0} jobs/s, {:.1} us/job (window {window})",
            elapsed.as_secs_f64(),
            jobs as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e6 / jobs as f64
        );
    });
    let _ = stop_tx.send(());
    let stats = replica.join().unwrap();
    println!("replica stats: {stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
