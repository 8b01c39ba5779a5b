//! Loopback tests of `udp::Endpoint`: whole messages across fragments, sharing between tasks, cancel safety,
//! and fault injection at the configured rates.
//!
//! Not timing tests: every wait is for a condition, bounded only as a guard against hanging, and rates are checked
//! against the endpoint's own seeded decisions and binomial bounds, never against elapsed time.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use udp::{Endpoint, EndpointConfig, FaultStats, LinkFaults, MAX_MESSAGE_BYTES};

/// Guard against a hang; never reached when the code works.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Marker that ends a transfer; sent on a healthy link.
const END: u32 = u32::MAX;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn faulty(faults: LinkFaults, seed: u64) -> Endpoint {
    Endpoint::bind_with(loopback(), EndpointConfig { faults, fault_seed: Some(seed), ..EndpointConfig::default() })
        .await
        .unwrap()
}

async fn recv(endpoint: &Endpoint) -> (Vec<u8>, SocketAddr) {
    tokio::time::timeout(HANG_GUARD, endpoint.recv_from()).await.expect("message within the hang guard").unwrap()
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt) ^ (i >> 11) as u8).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn big_message_crosses_in_fragments_and_arrives_whole() {
    let sender = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    let big = pattern(3 * 1024 * 1024 + 17, 1);
    // Send from a separate task while receiving here, so the receiver drains as fragments arrive.
    let sender = Arc::new(sender);
    let send_task = {
        let sender = Arc::clone(&sender);
        let big = big.clone();
        tokio::spawn(async move {
            sender.send_to(&big, to).await.unwrap();
            sender.send_to(b"after", to).await.unwrap();
        })
    };
    let (message, from) = recv(&receiver).await;
    assert_eq!(from, sender.local_addr().unwrap());
    assert_eq!(message.len(), big.len());
    assert!(message == big, "reassembled bytes differ");
    assert_eq!(recv(&receiver).await.0, b"after");
    send_task.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn oversized_message_is_an_error_not_a_truncation() {
    let sender = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let too_big = vec![0u8; MAX_MESSAGE_BYTES + 1];
    let error = sender.send_to(&too_big, "127.0.0.1:9".parse().unwrap()).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "current_thread")]
async fn fragmented_message_is_delivered_once_despite_duplication_and_reordering() {
    let faults = LinkFaults { duplicate: 0.5, reorder: 0.3, ..LinkFaults::default() };
    let sender = faulty(faults, 11).await;
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    let big = pattern(700_000, 2);
    sender.send_to(&big, to).await.unwrap();
    sender.flush().await.unwrap();
    sender.set_faults(LinkFaults::default());
    sender.send_to(b"marker", to).await.unwrap();
    let stats = sender.fault_stats();
    assert!(stats.duplicated > 0 && stats.reordered > 0, "faults were applied: {stats:?}");
    assert!(recv(&receiver).await.0 == big);
    // The duplicated fragments must not produce the message a second time.
    assert_eq!(recv(&receiver).await.0, b"marker");
}

#[tokio::test(flavor = "current_thread")]
async fn faults_can_be_changed_at_run_time() {
    let sender = Endpoint::bind(loopback(), LinkFaults { drop: 1.0, ..LinkFaults::default() }).await.unwrap();
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    for _ in 0..100 {
        sender.send_to(b"lost", to).await.unwrap();
    }
    assert_eq!(sender.fault_stats().dropped, 100);
    sender.set_faults(LinkFaults::default());
    assert_eq!(sender.faults(), LinkFaults::default());
    sender.send_to(b"kept", to).await.unwrap();
    assert_eq!(recv(&receiver).await.0, b"kept");
}

#[tokio::test(flavor = "current_thread")]
async fn recv_from_is_cancel_safe_inside_select() {
    let sender = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    let n = 2_000u32;
    let big = pattern(200_000, 3);
    let mut received = Vec::new();
    let mut cancelled = 0u64;
    let mut next_to_send = 0u32;
    while received.len() < n as usize + 1 {
        // Keep a few messages in flight, including one fragmented one, so that cancellation can strike while
        // datagrams are queued and while a message is half reassembled.
        while next_to_send < n && next_to_send < received.len() as u32 + 8 {
            sender.send_to(&next_to_send.to_be_bytes(), to).await.unwrap();
            next_to_send += 1;
            if next_to_send == n / 2 {
                sender.send_to(&big, to).await.unwrap();
            }
        }
        tokio::select! {
            biased;
            // yield_now is pending once and then ready, so recv_from is regularly dropped mid-wait.
            () = tokio::task::yield_now() => cancelled += 1,
            result = receiver.recv_from() => received.push(result.unwrap().0),
        }
    }
    assert!(cancelled > 0);
    let bigs = received.iter().filter(|m| m.len() == big.len()).count();
    assert_eq!(bigs, 1);
    let numbers: Vec<u32> =
        received.iter().filter(|m| m.len() == 4).map(|m| u32::from_be_bytes(m[..].try_into().unwrap())).collect();
    assert_eq!(numbers, (0..n).collect::<Vec<_>>());
}

/// Sends `n` numbered messages through a faulty link with a bounded window (so the loopback queue never
/// overflows and every loss is an injected one), then a healthy end marker. Returns the numbers in arrival order
/// and the sender's fault decisions for the numbered messages.
async fn windowed_transfer(faults: LinkFaults, seed: u64, n: u32) -> (Vec<u32>, FaultStats) {
    const WINDOW: u32 = 64;
    let sender = faulty(faults, seed).await;
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    let (highest_tx, mut highest_rx) = watch::channel(0u32); // highest number seen + 1
    let receive_task = tokio::spawn(async move {
        let mut arrivals = Vec::new();
        loop {
            let (message, _) = recv(&receiver).await;
            let number = u32::from_be_bytes(message[..].try_into().unwrap());
            if number == END {
                return arrivals;
            }
            arrivals.push(number);
            highest_tx.send_if_modified(|highest| {
                let changed = number + 1 > *highest;
                *highest = (*highest).max(number + 1);
                changed
            });
        }
    });
    for number in 0..n {
        tokio::time::timeout(HANG_GUARD, highest_rx.wait_for(|&highest| highest + WINDOW > number))
            .await
            .expect("receiver progresses")
            .unwrap();
        sender.send_to(&number.to_be_bytes(), to).await.unwrap();
    }
    sender.flush().await.unwrap();
    let stats = sender.fault_stats();
    sender.set_faults(LinkFaults::default());
    // Callers use no delay here, so after flush every numbered datagram is already queued ahead of the marker.
    sender.send_to(&END.to_be_bytes(), to).await.unwrap();
    (receive_task.await.unwrap(), stats)
}

/// True when `count` successes in `trials` is within six standard deviations of the binomial mean.
fn within_binomial(count: u64, trials: u64, p: f64) -> bool {
    let mean = trials as f64 * p;
    let sd = (trials as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= 6.0 * sd
}

#[tokio::test(flavor = "current_thread")]
async fn drop_duplicate_and_reorder_happen_at_the_configured_rates() {
    let n: u32 = std::env::var("UDP_FAULT_TEST_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let faults = LinkFaults { drop: 0.1, duplicate: 0.05, reorder: 0.08, delay_ms: 0 };
    let (arrivals, stats) = windowed_transfer(faults, 2024, n).await;
    let n = u64::from(n);
    assert_eq!(stats.datagrams, n);
    assert!(within_binomial(stats.dropped, n, 0.1), "{stats:?}");
    let sent = n - stats.dropped;
    assert!(within_binomial(stats.duplicated, sent, 0.05), "{stats:?}");
    assert!(within_binomial(stats.reordered, sent, 0.08), "{stats:?}");

    // What arrived is exactly what the injector decided: no loopback loss, no invented duplicates.
    assert_eq!(arrivals.len() as u64, sent + stats.duplicated, "{stats:?}");
    let mut seen = HashSet::new();
    let mut highest = None;
    let mut inversions = 0u64;
    for &number in &arrivals {
        if !seen.insert(number) {
            continue;
        }
        if highest.is_some_and(|h| number < h) {
            inversions += 1;
        }
        highest = highest.max(Some(number));
    }
    assert_eq!(seen.len() as u64, sent);
    // Each held-back datagram overtakes at most once; most are released by the very next send (the rest by the
    // hold timer, which causes no inversion), so at least half show up as inversions.
    assert!(inversions <= stats.reordered, "{inversions} inversions, {stats:?}");
    assert!(inversions * 2 >= stats.reordered, "{inversions} inversions, {stats:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn delayed_datagrams_all_arrive_without_blocking_the_sender() {
    let n = 400u32;
    let faults = LinkFaults { delay_ms: 5, ..LinkFaults::default() };
    let sender = faulty(faults, 5).await;
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    // All sends complete before anything is received: the delays run in timers, not in send_to.
    for number in 0..n {
        sender.send_to(&number.to_be_bytes(), to).await.unwrap();
    }
    let stats = sender.fault_stats();
    assert!(within_binomial(stats.delayed, u64::from(n), 5.0 / 6.0), "{stats:?}");
    let mut seen = HashSet::new();
    while seen.len() < n as usize {
        let (message, _) = recv(&receiver).await;
        assert!(seen.insert(u32::from_be_bytes(message[..].try_into().unwrap())), "delivered twice");
    }
}

#[test]
fn endpoint_is_shared_across_threads_of_a_multi_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let a = Arc::new(Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap());
        let b = Arc::new(Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap());
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // b echoes everything back to a, from a receive task and a separate send task.
        let (echo_tx, mut echo_rx) = tokio::sync::mpsc::unbounded_channel();
        let b_recv = Arc::clone(&b);
        tokio::spawn(async move {
            while let Ok((message, _)) = b_recv.recv_from().await {
                if echo_tx.send(message).is_err() {
                    break;
                }
            }
        });
        let b_send = Arc::clone(&b);
        tokio::spawn(async move {
            while let Some(message) = echo_rx.recv().await {
                b_send.send_to(&message, a_addr).await.unwrap();
            }
        });
        for round in 0..200u32 {
            let message = if round % 50 == 0 { pattern(100_000, round as u8) } else { round.to_be_bytes().to_vec() };
            a.send_to(&message, b_addr).await.unwrap();
            assert!(recv(&a).await.0 == message);
        }
    });
}

/// Polls `recv_from_now` (never the reactor) until a message is there. Loopback normally queues a datagram during
/// the send itself, but a busy kernel may finish the delivery a moment later.
async fn recv_now(endpoint: &Endpoint) -> (Vec<u8>, SocketAddr) {
    let started = std::time::Instant::now();
    loop {
        if let Some(received) = endpoint.recv_from_now().unwrap() {
            return received;
        }
        assert!(started.elapsed() < HANG_GUARD, "no message within the hang guard");
        std::thread::sleep(Duration::from_millis(1)); // not a yield: the reactor must not run in between
    }
}

#[tokio::test(flavor = "current_thread")]
async fn recv_from_now_reads_without_the_reactor_and_readable_still_reports_later_messages() {
    let sender = faulty(LinkFaults::default(), 1).await;
    let receiver = faulty(LinkFaults::default(), 2).await;
    let to = receiver.local_addr().unwrap();
    assert_eq!(receiver.recv_from_now().unwrap(), None, "nothing sent yet");
    sender.send_to(b"first", to).await.unwrap();
    let (message, from) = recv_now(&receiver).await;
    assert_eq!((message.as_slice(), from), (&b"first"[..], sender.local_addr().unwrap()));
    assert_eq!(receiver.recv_from_now().unwrap(), None);
    // A direct read must not hide later datagrams from the reactor path.
    sender.send_to(b"second", to).await.unwrap();
    let received = tokio::time::timeout(HANG_GUARD, async {
        loop {
            receiver.readable().await.unwrap();
            if let Some(received) = receiver.try_recv_from().unwrap() {
                return received;
            }
        }
    })
    .await
    .expect("readable reports the second message");
    assert_eq!(received.0, b"second");
    // A fragmented message arrives whole through the direct path too.
    let big = pattern(100_000, 3);
    sender.send_to(&big, to).await.unwrap();
    assert_eq!(recv_now(&receiver).await.0, big);
}

#[tokio::test(flavor = "current_thread")]
async fn a_bundle_arrives_as_separate_messages_in_order_and_in_fewer_datagrams() {
    let sender = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let receiver = Endpoint::bind(loopback(), LinkFaults::default()).await.unwrap();
    let to = receiver.local_addr().unwrap();
    let big = pattern(200_000, 3);
    let small: Vec<Vec<u8>> = (0..50u8).map(|i| pattern(usize::from(i) * 7, i)).collect();
    let mut messages: Vec<&[u8]> = small.iter().map(Vec::as_slice).collect();
    messages.insert(20, &big);
    sender.send_bundle_to(&messages, to).await.unwrap();
    sender.send_to(b"after", to).await.unwrap();
    let sent = sender.fault_stats().datagrams;
    assert!(sent < messages.len() as u64, "{sent} datagrams for {} messages", messages.len());
    // The first message comes from a real read; the rest of its bundle is queued, and `readable` says so at once.
    let (first, from) = recv(&receiver).await;
    assert_eq!(from, sender.local_addr().unwrap());
    assert_eq!(first, messages[0]);
    tokio::time::timeout(HANG_GUARD, receiver.readable()).await.expect("queued messages are readable").unwrap();
    for expected in &messages[1..] {
        let (message, from) = recv(&receiver).await;
        assert_eq!(from, sender.local_addr().unwrap());
        assert!(message == *expected, "message of {} bytes differs", expected.len());
    }
    assert_eq!(recv(&receiver).await.0, b"after");
    assert_eq!(receiver.malformed_count(), 0);
}
