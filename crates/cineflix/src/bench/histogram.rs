//! A log-bucketed latency histogram in the manner of HdrHistogram: exact below 128 ns,
//! then 64 buckets per power of two, so any recorded value is reported within 0.8% of
//! its true value (bucket midpoint). Recording is an index computation and an add.
//!
//! It is deliberately fixed-precision and unbounded in range (any `u64` nanoseconds), with
//! no resizing, no auto-ranging and no concurrency: each load-generator worker owns one
//! and they are merged at the end.

/// Values below this are counted exactly, one bucket each.
const EXACT_LIMIT: u64 = 128;
/// Buckets per power of two above `EXACT_LIMIT`.
const SUB_BUCKETS: u64 = 64;
/// Exact buckets plus 64 for every power of two from 2^7 to 2^63.
const BUCKET_COUNT: usize = (EXACT_LIMIT + (64 - 7) * SUB_BUCKETS) as usize;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram { counts: vec![0; BUCKET_COUNT], total: 0, sum: 0, min: u64::MAX, max: 0 }
    }
}

impl Histogram {
    pub fn record(&mut self, value: u64) {
        self.counts[bucket_of(value)] += 1;
        self.total += 1;
        self.sum += u128::from(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact largest recorded value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.sum as f64 / self.total as f64 }
    }

    /// The value at `percentile` (0–100]: the smallest value such that at least that share
    /// of recordings is at or below it, within the bucket precision. 0 when empty.
    pub fn percentile(&self, percentile: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((percentile / 100.0) * self.total as f64).ceil().clamp(1.0, self.total as f64) as u64;
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bucket_range(index);
                // The midpoint halves the worst-case error; the exact extremes bound it.
                return (low + (high - low) / 2).clamp(self.min, self.max);
            }
        }
        unreachable!("rank {rank} is at most the total {}", self.total)
    }
}

fn bucket_of(value: u64) -> usize {
    if value < EXACT_LIMIT {
        return value as usize;
    }
    let most_significant_bit = 63 - value.leading_zeros() as u64; // 7..=63
    let shift = most_significant_bit - 6; // value >> shift is in [64, 128)
    (EXACT_LIMIT + (shift - 1) * SUB_BUCKETS + ((value >> shift) - SUB_BUCKETS)) as usize
}

/// The inclusive value range `(low, high)` of a bucket.
fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < EXACT_LIMIT {
        return (index, index);
    }
    let shift = (index - EXACT_LIMIT) / SUB_BUCKETS + 1;
    let mantissa = (index - EXACT_LIMIT) % SUB_BUCKETS + SUB_BUCKETS;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous_high = None;
        for index in 0..BUCKET_COUNT {
            let (low, high) = bucket_range(index);
            assert!(low <= high);
            if let Some(previous_high) = previous_high {
                assert_eq!(low, previous_high + 1, "bucket {index} starts right after the previous one");
            }
            assert_eq!(bucket_of(low), index);
            assert_eq!(bucket_of(high), index);
            previous_high = Some(high);
        }
        assert_eq!(previous_high, Some(u64::MAX));
    }

    #[test]
    fn percentiles_match_sorted_samples_within_one_percent() {
        // A deterministic, skewed set of latencies: mostly ~100 µs with a long tail.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut samples = Vec::new();
        let mut histogram = Histogram::default();
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state >> 11) as f64 / (1u64 << 53) as f64;
            let value = (50_000.0 / (1.0 - uniform).max(1e-6).powf(0.7)) as u64;
            samples.push(value);
            histogram.record(value);
        }
        samples.sort_unstable();
        for percentile in [1.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            let rank = ((percentile / 100.0) * samples.len() as f64).ceil() as usize;
            let exact = samples[rank - 1] as f64;
            let reported = histogram.percentile(percentile) as f64;
            assert!((reported - exact).abs() <= exact * 0.01, "p{percentile}: exact {exact}, reported {reported}");
        }
        assert_eq!(histogram.max(), *samples.last().unwrap());
        assert_eq!(histogram.count(), 100_000);
    }

    #[test]
    fn small_values_are_exact_and_merge_adds() {
        let mut first = Histogram::default();
        let mut second = Histogram::default();
        for value in [1, 2, 3] {
            first.record(value);
        }
        second.record(100);
        first.merge(&second);
        assert_eq!(first.count(), 4);
        assert_eq!(first.percentile(50.0), 2);
        assert_eq!(first.percentile(100.0), 100);
        assert_eq!(first.mean(), 26.5);
        assert_eq!(Histogram::default().percentile(99.0), 0);
    }
}
