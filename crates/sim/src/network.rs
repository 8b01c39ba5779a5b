//! An in-memory datagram network for deterministic simulations: every message sent is queued with a delivery time
//! chosen by the simulation's single seeded RNG, which also decides loss, duplication and reordering.
//!
//! Deliberately not here: any protocol knowledge. The network is generic over the address type `A` and the message
//! type `M`, so the ordering simulation and the whole-cluster simulation share it. It never reads a clock: time is
//! the simulation's `now_ms`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// How badly the network behaves. Probabilities are per datagram, in `0.0..=1.0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultRates {
    /// Probability a datagram is dropped.
    pub loss: f64,
    /// Probability a datagram is delivered twice (each copy with its own delay).
    pub duplicate: f64,
    /// Probability a datagram gets an extra delay of up to `reorder_extra_ms`, so later ones overtake it.
    pub reorder: f64,
    /// Smallest one-way delay.
    pub delay_min_ms: u64,
    /// Largest one-way delay (before any reordering delay).
    pub delay_max_ms: u64,
    /// Largest extra delay of a reordered datagram.
    pub reorder_extra_ms: u64,
}

impl FaultRates {
    /// A network that loses, duplicates and reorders nothing, with the given delay range.
    pub fn healthy(delay_min_ms: u64, delay_max_ms: u64) -> Self {
        FaultRates { loss: 0.0, duplicate: 0.0, reorder: 0.0, delay_min_ms, delay_max_ms, reorder_extra_ms: 0 }
    }
}

/// A datagram in flight.
#[derive(Clone, Debug)]
pub struct Packet<A, M> {
    /// When it arrives.
    pub deliver_at_ms: u64,
    /// Sender.
    pub from: A,
    /// Receiver.
    pub to: A,
    /// Contents.
    pub message: M,
    /// Send order, a tie-breaker that keeps the heap order total and deterministic.
    serial: u64,
}

impl<A, M> PartialEq for Packet<A, M> {
    fn eq(&self, other: &Self) -> bool {
        self.serial == other.serial
    }
}

impl<A, M> Eq for Packet<A, M> {}

impl<A, M> PartialOrd for Packet<A, M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<A, M> Ord for Packet<A, M> {
    /// Reversed, so the `BinaryHeap` pops the earliest delivery (then the earliest sent) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deliver_at_ms, other.serial).cmp(&(self.deliver_at_ms, self.serial))
    }
}

/// Counters of what the network did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Datagrams handed to `send`.
    pub sent: u64,
    /// Datagrams dropped by fault injection.
    pub lost: u64,
    /// Extra copies created by fault injection.
    pub duplicated: u64,
    /// Datagrams given a reordering delay.
    pub reordered: u64,
}

/// The in-flight datagrams and the current fault rates.
#[derive(Debug)]
pub struct Network<A, M> {
    in_flight: BinaryHeap<Packet<A, M>>,
    faults: FaultRates,
    next_serial: u64,
    stats: NetworkStats,
}

impl<A: Copy, M: Clone> Network<A, M> {
    /// An empty network with the given fault rates.
    pub fn new(faults: FaultRates) -> Self {
        Network { in_flight: BinaryHeap::new(), faults, next_serial: 0, stats: NetworkStats::default() }
    }

    /// Changes the fault rates for datagrams sent from now on (datagrams in flight keep their fate).
    pub fn set_faults(&mut self, faults: FaultRates) {
        self.faults = faults;
    }

    /// The current fault rates.
    pub fn faults(&self) -> FaultRates {
        self.faults
    }

    /// Sends one datagram; the RNG decides whether, how often and when it arrives.
    pub fn send(&mut self, rng: &mut ChaCha8Rng, now_ms: u64, from: A, to: A, message: M) {
        self.stats.sent += 1;
        if self.faults.loss > 0.0 && rng.random_bool(self.faults.loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.faults.duplicate > 0.0 && rng.random_bool(self.faults.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay_ms = rng.random_range(self.faults.delay_min_ms..=self.faults.delay_max_ms);
            if self.faults.reorder > 0.0 && rng.random_bool(self.faults.reorder) {
                self.stats.reordered += 1;
                delay_ms += rng.random_range(0..=self.faults.reorder_extra_ms);
            }
            let message = message.clone();
            self.in_flight.push(Packet {
                deliver_at_ms: now_ms + delay_ms,
                from,
                to,
                message,
                serial: self.next_serial,
            });
            self.next_serial += 1;
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_delivery_ms(&self) -> Option<u64> {
        self.in_flight.peek().map(|packet| packet.deliver_at_ms)
    }

    /// The next datagram due at or before `now_ms`.
    pub fn pop_due(&mut self, now_ms: u64) -> Option<Packet<A, M>> {
        if self.in_flight.peek()?.deliver_at_ms <= now_ms { self.in_flight.pop() } else { None }
    }

    /// Datagrams in flight.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Counters since creation.
    pub fn stats(&self) -> NetworkStats {
        self.stats
    }
}
