//! Busy polling for a current-thread tokio runtime: after each piece of work, the runtime keeps polling its sockets
//! (a non-blocking `epoll_wait`) for a short window before it may park the thread in a blocking one.
//!
//! Why: on the 2-vCPU virtual machines CineFlix runs and is measured on, a thread that parks lets its vCPU halt
//! (the guest's own halt-polling is switched off there: `haltpoll.guest_halt_poll_ns=0`), and the next request or
//! datagram then pays a cross-CPU wake-up through the host. The front end and the replica hand work to each other
//! tens of thousands of times a second, each side parking in between; polling through the short gaps instead
//! raised the standalone benchmark from 23,116 to 27,959 requests/s with a lower p99 in one `cineflix compare` pair
//! (ARCHITECTURE.md, "Busy polling").
//!
//! What it costs: while it polls, the process uses CPU that would otherwise be idle. It is bounded three ways: each
//! turn first yields the CPU (`sched_yield`), which lets the other runnable threads on that CPU take a turn; polling
//! stops after `window` without a [`BusyPoll::touch`]; and a quiet process then sleeps as without it (after one
//! window at start-up and one after each burst of work). Only for current-thread runtimes: on a multi-thread runtime
//! it would keep one worker spinning and steal from the others, so it is not started there.
//!
//! Deliberately not here: what counts as work (callers touch it where requests or datagrams arrive).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The handle of a running busy poller (or of none: [`BusyPoll::disabled`]); clones share one poller.
#[derive(Clone, Debug, Default)]
pub struct BusyPoll {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    window: Duration,
    /// Bumped by every touch; the poller compares it with the value it last saw.
    activity: AtomicU64,
    /// The poller is (about to be) waiting on `wake`.
    sleeping: AtomicBool,
    wake: Notify,
    /// Polling turns so far (tests, diagnostics).
    turns: AtomicU64,
}

impl BusyPoll {
    /// Starts polling on the current tokio runtime, `window` after each touch. A zero window, or a multi-thread
    /// runtime (see the module doc), starts nothing and gives [`BusyPoll::disabled`]. Must be called inside the
    /// runtime.
    pub fn start(window: Duration) -> BusyPoll {
        if window.is_zero() {
            return BusyPoll::disabled();
        }
        if tokio::runtime::Handle::current().runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            tracing::info!("busy polling is off: it only suits a current-thread runtime");
            return BusyPoll::disabled();
        }
        let inner = Arc::new(Inner {
            window,
            activity: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            wake: Notify::new(),
            turns: AtomicU64::new(0),
        });
        tokio::spawn(poll(Arc::clone(&inner)));
        BusyPoll { inner: Some(inner) }
    }

    /// A handle whose touches do nothing.
    pub fn disabled() -> BusyPoll {
        BusyPoll { inner: None }
    }

    /// Work arrived: poll for another window from now (waking the poller if it sleeps). Cheap: one atomic
    /// increment, and a notification only when the poller sleeps.
    pub fn touch(&self) {
        if let Some(inner) = &self.inner {
            inner.activity.fetch_add(1, Ordering::SeqCst);
            // Only the first touch of a burst notifies: a second permit would let the poller skip its next sleep.
            if inner.sleeping.swap(false, Ordering::SeqCst) {
                inner.wake.notify_one();
            }
        }
    }

    /// Polling turns so far (0 when disabled).
    pub fn turns(&self) -> u64 {
        self.inner.as_ref().map_or(0, |inner| inner.turns.load(Ordering::Relaxed))
    }

    /// Whether the poller has stopped polling and waits for a touch (false when disabled).
    pub fn is_sleeping(&self) -> bool {
        self.inner.as_ref().is_some_and(|inner| inner.sleeping.load(Ordering::SeqCst))
    }
}

/// The poller: a task that yields on every turn, so the runtime polls its I/O driver without blocking (a current-
/// thread runtime with a task ready never parks), until a whole window passes without a touch; then it sleeps.
async fn poll(inner: Arc<Inner>) {
    let mut seen = inner.activity.load(Ordering::SeqCst);
    loop {
        let mut quiet_since = Instant::now();
        loop {
            // Another runnable thread on this CPU (the other process of the pair, a client) goes first.
            std::thread::yield_now();
            tokio::task::yield_now().await;
            inner.turns.fetch_add(1, Ordering::Relaxed);
            let now = inner.activity.load(Ordering::SeqCst);
            if now != seen {
                seen = now;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= inner.window {
                break;
            }
        }
        inner.sleeping.store(true, Ordering::SeqCst);
        // A touch after the store sees `sleeping`, clears it and notifies (a stored permit if we are not waiting
        // yet); one before it shows in `activity` here.
        if inner.activity.load(Ordering::SeqCst) == seen {
            inner.wake.notified().await;
        }
        inner.sleeping.store(false, Ordering::SeqCst);
        seen = inner.activity.load(Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// Waits (bounded) until `condition` holds, letting the runtime run meanwhile.
    async fn eventually(what: &str, condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "not within 10 s: {what}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[test]
    fn polls_for_a_window_after_each_touch_then_sleeps_until_the_next() {
        runtime().block_on(async {
            let window = Duration::from_millis(30);
            let started = Instant::now();
            let poller = BusyPoll::start(window);
            eventually("the first window ends", || poller.is_sleeping()).await;
            assert!(started.elapsed() >= window, "slept after {:?}", started.elapsed());
            let asleep = poller.turns();
            assert!(asleep > 0, "it polled during the first window");
            // Asleep: no turns while nothing happens (a timer keeps this test's task running meanwhile).
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(poller.turns(), asleep, "a sleeping poller does not turn");
            assert!(poller.is_sleeping());
            // A touch wakes it, and it polls for at least a whole window after the touch.
            let touched = Instant::now();
            poller.touch();
            eventually("a touch wakes it", || poller.turns() > asleep).await;
            eventually("it sleeps again after a quiet window", || poller.is_sleeping()).await;
            assert!(touched.elapsed() >= window, "slept {:?} after the touch", touched.elapsed());
            // A touch while it polls restarts the window.
            poller.touch();
            eventually("awake", || !poller.is_sleeping()).await;
            tokio::time::sleep(window / 2).await;
            let touched = Instant::now();
            poller.touch();
            eventually("it sleeps again", || poller.is_sleeping()).await;
            assert!(touched.elapsed() >= window, "slept {:?} after the second touch", touched.elapsed());
        });
    }

    #[test]
    fn while_polling_the_runtime_still_serves_io_and_timers() {
        runtime().block_on(async {
            let poller = BusyPoll::start(Duration::from_secs(3600));
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            peer.send_to(b"ping", socket.local_addr().unwrap()).await.unwrap();
            let mut buffer = [0u8; 8];
            let (len, _) = socket.recv_from(&mut buffer).await.unwrap();
            assert_eq!(&buffer[..len], b"ping");
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert!(poller.turns() > 0 && !poller.is_sleeping());
        });
    }

    #[test]
    fn a_multi_thread_runtime_gets_no_poller() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let poller = BusyPoll::start(Duration::from_secs(1));
            poller.touch();
            tokio::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(poller.turns(), 0);
        });
    }

    #[test]
    fn a_zero_window_starts_nothing() {
        runtime().block_on(async {
            let poller = BusyPoll::start(Duration::ZERO);
            poller.touch();
            tokio::task::yield_now().await;
            assert_eq!(poller.turns(), 0);
            assert!(!poller.is_sleeping());
        });
    }
}
