//! Fault injection decisions for one link: drop, duplicate, reorder, delay.
//!
//! Pure: a seeded RNG turns the configured rates into one decision per datagram. It sends nothing and sleeps
//! nowhere; `endpoint.rs` carries the decisions out. The same seed and the same sequence of datagrams give the
//! same decisions, so a failing run can be replayed.

use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Per-link fault injection rates. `Default` is a healthy link. Probabilities are in `0.0..=1.0`.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkFaults {
    /// Probability that a datagram is not sent at all.
    pub drop: f64,
    /// Probability that a datagram is sent twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back and sent after the next one (or after a short delay when no
    /// next one comes).
    pub reorder: f64,
    /// Largest extra random delay per datagram, uniformly drawn from `0..=delay_ms`; 0 means none.
    pub delay_ms: u64,
}

/// A probability outside `0.0..=1.0` (or not a number) in [`LinkFaults`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("fault rate {name} = {value} is not a probability in 0.0..=1.0")]
pub struct InvalidFaults {
    /// Which field was wrong.
    pub name: &'static str,
    /// The value it had.
    pub value: f64,
}

impl LinkFaults {
    /// True when this configuration never alters a datagram.
    pub fn is_healthy(&self) -> bool {
        self.drop == 0.0 && self.duplicate == 0.0 && self.reorder == 0.0 && self.delay_ms == 0
    }

    /// Checks that every rate is a probability.
    pub fn validate(&self) -> Result<(), InvalidFaults> {
        for (name, value) in [("drop", self.drop), ("duplicate", self.duplicate), ("reorder", self.reorder)] {
            if !(0.0..=1.0).contains(&value) {
                return Err(InvalidFaults { name, value });
            }
        }
        Ok(())
    }

    /// The same rates forced into `0.0..=1.0` (NaN becomes 0): for run-time changes that cannot fail.
    pub fn clamped(&self) -> LinkFaults {
        let clamp = |p: f64| if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        LinkFaults {
            drop: clamp(self.drop),
            duplicate: clamp(self.duplicate),
            reorder: clamp(self.reorder),
            delay_ms: self.delay_ms,
        }
    }
}

/// What to do with one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultDecision {
    /// Do not send it.
    Drop,
    /// Send it `copies` times (1 or 2), each after `delay` (zero = now), unless `hold` says to keep it back until
    /// the next datagram has gone.
    Send {
        /// How many times to send the datagram: 2 when duplicated.
        copies: u8,
        /// Keep it back and send it after the next datagram (reordering).
        hold: bool,
        /// Extra delay before sending; zero for none.
        delay: Duration,
    },
}

/// Counts of what the injector decided, for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Datagrams the sender asked to send.
    pub datagrams: u64,
    /// Datagrams dropped.
    pub dropped: u64,
    /// Datagrams sent twice.
    pub duplicated: u64,
    /// Datagrams held back for reordering.
    pub reordered: u64,
    /// Datagrams given a non-zero delay.
    pub delayed: u64,
}

/// Turns [`LinkFaults`] into per-datagram decisions with a seeded RNG.
#[derive(Clone, Debug)]
pub struct FaultInjector {
    faults: LinkFaults,
    rng: Xoshiro256PlusPlus,
    stats: FaultStats,
}

impl FaultInjector {
    /// An injector with the given rates (clamped to probabilities) and RNG seed.
    pub fn new(faults: LinkFaults, seed: u64) -> Self {
        FaultInjector {
            faults: faults.clamped(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            stats: FaultStats::default(),
        }
    }

    /// The rates in force.
    pub fn faults(&self) -> &LinkFaults {
        &self.faults
    }

    /// Replaces the rates (clamped to probabilities); the RNG stream continues.
    pub fn set_faults(&mut self, faults: LinkFaults) {
        self.faults = faults.clamped();
    }

    /// Counts of the decisions made so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    /// Decides the fate of the next datagram.
    pub fn decide(&mut self) -> FaultDecision {
        self.stats.datagrams += 1;
        if self.faults.is_healthy() {
            return FaultDecision::Send { copies: 1, hold: false, delay: Duration::ZERO };
        }
        if self.faults.drop > 0.0 && self.rng.random_bool(self.faults.drop) {
            self.stats.dropped += 1;
            return FaultDecision::Drop;
        }
        let duplicate = self.faults.duplicate > 0.0 && self.rng.random_bool(self.faults.duplicate);
        let hold = self.faults.reorder > 0.0 && self.rng.random_bool(self.faults.reorder);
        let delay_ms = if self.faults.delay_ms > 0 { self.rng.random_range(0..=self.faults.delay_ms) } else { 0 };
        self.stats.duplicated += u64::from(duplicate);
        self.stats.reordered += u64::from(hold);
        self.stats.delayed += u64::from(delay_ms > 0);
        FaultDecision::Send { copies: if duplicate { 2 } else { 1 }, hold, delay: Duration::from_millis(delay_ms) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_link_never_alters_a_datagram() {
        let mut injector = FaultInjector::new(LinkFaults::default(), 1);
        for _ in 0..1_000 {
            assert_eq!(injector.decide(), FaultDecision::Send { copies: 1, hold: false, delay: Duration::ZERO });
        }
        assert_eq!(injector.stats(), FaultStats { datagrams: 1_000, ..FaultStats::default() });
    }

    #[test]
    fn rates_are_met_within_statistical_bounds() {
        let faults = LinkFaults { drop: 0.05, duplicate: 0.1, reorder: 0.2, delay_ms: 3 };
        let mut injector = FaultInjector::new(faults, 7);
        let n = 100_000u64;
        for _ in 0..n {
            injector.decide();
        }
        let stats = injector.stats();
        // Six standard deviations of a binomial count: fails only if the rates are really wrong.
        let within = |count: u64, trials: u64, p: f64| {
            let mean = trials as f64 * p;
            let sd = (trials as f64 * p * (1.0 - p)).sqrt();
            (count as f64 - mean).abs() <= 6.0 * sd
        };
        assert!(within(stats.dropped, n, 0.05), "{stats:?}");
        let sent = n - stats.dropped;
        assert!(within(stats.duplicated, sent, 0.1), "{stats:?}");
        assert!(within(stats.reordered, sent, 0.2), "{stats:?}");
        assert!(within(stats.delayed, sent, 0.75), "{stats:?}"); // 1, 2 or 3 of 0..=3
    }

    #[test]
    fn same_seed_same_decisions() {
        let faults = LinkFaults { drop: 0.3, duplicate: 0.3, reorder: 0.3, delay_ms: 10 };
        let mut a = FaultInjector::new(faults.clone(), 99);
        let mut b = FaultInjector::new(faults, 99);
        let a: Vec<_> = (0..500).map(|_| a.decide()).collect();
        let b: Vec<_> = (0..500).map(|_| b.decide()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_rates_are_reported_and_clamped() {
        let faults = LinkFaults { drop: 1.5, duplicate: f64::NAN, reorder: -0.1, delay_ms: 0 };
        assert_eq!(faults.validate(), Err(InvalidFaults { name: "drop", value: 1.5 }));
        let clamped = faults.clamped();
        assert_eq!(clamped, LinkFaults { drop: 1.0, duplicate: 0.0, reorder: 0.0, delay_ms: 0 });
        assert!(clamped.validate().is_ok());
    }

    #[test]
    fn faults_deserialize_from_toml_style_partial_tables() {
        let faults: LinkFaults = serde::Deserialize::deserialize(serde::de::value::MapDeserializer::<
            _,
            serde::de::value::Error,
        >::new([("drop", 0.25)].into_iter()))
        .unwrap();
        assert_eq!(faults, LinkFaults { drop: 0.25, ..LinkFaults::default() });
    }
}
