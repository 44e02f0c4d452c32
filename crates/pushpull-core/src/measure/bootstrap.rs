//! Seeded bootstrap confidence intervals across repetitions. Pure and deterministic: the
//! same samples and seed give the same interval, so reports stay byte-identical.
//!
//! Why resample repetitions and not samples: the samples of one repetition share one
//! commit stream, one fault timeline and one queue state (a slow build delays every commit
//! queued behind it), so they are correlated and are not independent draws. Treating them
//! as independent would make intervals far too narrow. Repetitions are independent (each
//! has its own derived seed), so the bootstrap draws whole repetitions with replacement (a
//! cluster bootstrap) and pools their samples. Push and pull run repetition `r` on the same
//! workload and faults, so a difference is resampled *paired*: one draw of repetition
//! indices serves both models.
//!
//! Why the *expanded* percentile interval, and why none under ten repetitions: a plain
//! percentile bootstrap is too narrow when the resampled units are few (it ignores that
//! the spread of a few units underestimates the spread of the population; Hesterberg,
//! "What Teachers Should Know About the Bootstrap", The American Statistician 69(4), 2015,
//! §4.2). It widens the tails by the factor a t interval would:
//! α′/2 = Φ(−√(n/(n−1))·t₀.₉₇₅,ₙ₋₁), n the repetitions. Measured on the quickstart over
//! 200 seeds each, against the p50 of a 1,000-repetition run (numbers in docs/STATISTICS.md):
//! the plain percentile interval covered the deploy-latency p50 72–76% of the time with 3
//! repetitions, 83% with 5, 90–92% with 10; the expanded one 72–76% with 3, 91–93% with 5,
//! 94–97% with 10. Below [`MIN_REPETITIONS`] none holds 92% for every metric, so no interval is
//! given and the figure is indicative.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Resamples per interval: enough for stable 2.5% / 97.5% percentiles, cheap because a
/// resample only re-weights sorted repetitions (no copying of samples).
pub const RESAMPLES: usize = 2000;

/// The coverage of every interval.
pub const LEVEL: f64 = 0.95;

/// The fewest repetitions an interval is given for: with fewer, the measured coverage of
/// the p50 interval stays under 92% (module docs); the figure is then indicative.
pub const MIN_REPETITIONS: usize = 10;

/// The share of bootstrap statistics cut off each side: the expanded percentile's
/// α′/2 = Φ(−√(n/(n−1))·t_{(1+LEVEL)/2, n−1}) for `n` resampled repetitions (module docs).
pub fn tail(n: usize) -> f64 {
    let plain = (1.0 - LEVEL) / 2.0;
    if n < 2 {
        return plain;
    }
    let df = (n - 1) as f64;
    let (Ok(t), Ok(z)) = (StudentsT::new(0.0, 1.0, df), Normal::new(0.0, 1.0)) else {
        return plain;
    };
    let t = t.inverse_cdf(1.0 - plain);
    z.cdf(-(n as f64 / df).sqrt() * t)
}

/// Values of one metric of one model, one sorted vector per repetition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Groups {
    reps: Vec<Vec<u64>>,
    /// Every value of every repetition, sorted: the candidates for a quantile.
    all: Vec<u64>,
}

impl Groups {
    pub fn new(mut reps: Vec<Vec<u64>>) -> Groups {
        for r in &mut reps {
            r.sort_unstable();
        }
        let mut all: Vec<u64> = reps.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        Groups { reps, all }
    }

    /// Every value of every repetition (with repeats), repetition by repetition.
    pub fn all_values(&self) -> impl Iterator<Item = u64> + '_ {
        self.reps.iter().flatten().copied()
    }

    /// The sorted values of repetition `r` (empty beyond the last).
    pub fn group(&self, r: usize) -> &[u64] {
        self.reps.get(r).map_or(&[], |g| g.as_slice())
    }

    pub fn repetitions(&self) -> usize {
        self.reps.len()
    }

    /// The nearest-rank quantile `q` of the union of the repetitions, repetition `r`
    /// counted `weights[r]` times; `None` when that union is empty.
    pub fn weighted_quantile(&self, weights: &[u32], q: f64) -> Option<u64> {
        let total: u64 = self
            .reps
            .iter()
            .zip(weights)
            .map(|(r, &w)| r.len() as u64 * w as u64)
            .sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let count_le = |v: u64| -> u64 {
            self.reps
                .iter()
                .zip(weights)
                .map(|(r, &w)| r.partition_point(|&x| x <= v) as u64 * w as u64)
                .sum()
        };
        // The smallest candidate with at least `rank` values at or below it.
        let i = self.all.partition_point(|&v| count_le(v) < rank);
        self.all.get(i).copied()
    }

    pub fn quantile(&self, q: f64) -> Option<u64> {
        self.weighted_quantile(&vec![1; self.reps.len()], q)
    }
}

/// A stable 64-bit seed for one interval: the scenario seed and the names of what is
/// estimated (FNV-1a, not std's hasher, whose output may change between Rust versions).
pub fn stream_seed(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Draws `RESAMPLES` repetition weightings: each is `n` draws with replacement of
/// `0..n`, written as how often each repetition was drawn.
pub(crate) fn weightings(n: usize, seed: u64) -> impl Iterator<Item = Vec<u32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..RESAMPLES).map(move |_| {
        let mut w = vec![0u32; n];
        for _ in 0..n {
            w[rng.random_range(0..n)] += 1;
        }
        w
    })
}

/// The expanded percentile interval of bootstrap statistics over `reps` repetitions;
/// `None` if fewer than half of the resamples produced a statistic (too many resamples
/// drew only empty repetitions).
pub(crate) fn percentile_interval<T: Copy + Ord>(mut stats: Vec<T>, reps: usize) -> Option<[T; 2]> {
    if stats.len() * 2 < RESAMPLES {
        return None;
    }
    stats.sort_unstable();
    let n = stats.len();
    let tail = tail(reps);
    let lo = ((tail * n as f64).floor() as usize).min(n - 1);
    let hi = (((1.0 - tail) * n as f64).ceil() as usize).clamp(1, n) - 1;
    Some([stats[lo], stats[hi]])
}

/// 95% interval of quantile `q`; `None` with fewer than [`MIN_REPETITIONS`] repetitions
/// (no interval would hold its coverage) or without samples.
pub fn quantile_ci(g: &Groups, q: f64, seed: u64) -> Option<[u64; 2]> {
    if g.repetitions() < MIN_REPETITIONS {
        return None;
    }
    let stats: Vec<u64> = weightings(g.repetitions(), seed)
        .filter_map(|w| g.weighted_quantile(&w, q))
        .collect();
    percentile_interval(stats, g.repetitions())
}

/// 95% interval of `quantile(a) - quantile(b)`, resampling repetitions paired (the same
/// draw for both). Needs the same number (at least [`MIN_REPETITIONS`]) of repetitions on
/// each side.
pub fn difference_ci(a: &Groups, b: &Groups, q: f64, seed: u64) -> Option<[i64; 2]> {
    if a.repetitions() < MIN_REPETITIONS || a.repetitions() != b.repetitions() {
        return None;
    }
    let stats: Vec<i64> = weightings(a.repetitions(), seed)
        .filter_map(|w| {
            let x = a.weighted_quantile(&w, q)? as i128;
            let y = b.weighted_quantile(&w, q)? as i128;
            // Any two u64 values differ by less than i128 can hold; the clamp only
            // matters for values beyond 292,000 years in microseconds.
            Some((x - y).clamp(i64::MIN as i128, i64::MAX as i128) as i64)
        })
        .collect();
    percentile_interval(stats, a.repetitions())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantile_counts_a_repetition_as_often_as_it_was_drawn() {
        let g = Groups::new(vec![vec![1, 2, 3], vec![10, 20, 30]]);
        assert_eq!(g.quantile(0.5), Some(3));
        assert_eq!(g.weighted_quantile(&[2, 0], 0.5), Some(2));
        assert_eq!(g.weighted_quantile(&[0, 2], 0.5), Some(20));
        assert_eq!(g.weighted_quantile(&[1, 3], 0.25), Some(3));
        assert_eq!(g.weighted_quantile(&[1, 3], 0.3), Some(10));
        assert_eq!(g.weighted_quantile(&[1, 1], 1.0), Some(30));
        assert_eq!(g.weighted_quantile(&[0, 0], 0.5), None);
    }

    #[test]
    fn fewer_than_ten_repetitions_have_no_interval() {
        for n in [1u64, 3, 9] {
            let g = Groups::new((0..n).map(|r| (r..r + 100).collect()).collect());
            assert_eq!(quantile_ci(&g, 0.5, 1), None, "{n} repetitions");
            assert_eq!(difference_ci(&g, &g, 0.5, 1), None, "{n} repetitions");
        }
        let g = Groups::new((0..10).map(|r| (r..r + 100).collect()).collect());
        assert!(quantile_ci(&g, 0.5, 1).is_some());
    }

    #[test]
    fn expanded_tail_matches_hand_computed_values() {
        // n = 10: t(0.975, 9) = 2.262157, sqrt(10/9) = 1.054093, Φ(−2.384523) = 0.008551.
        assert!((tail(10) - 0.008551).abs() < 2e-6, "{}", tail(10));
        // n = 30: t(0.975, 29) = 2.045230, sqrt(30/29) = 1.017095, Φ(−2.080193) = 0.018754.
        assert!((tail(30) - 0.018754).abs() < 2e-6, "{}", tail(30));
        // Many repetitions: the plain 2.5% tail.
        assert!((tail(100_000) - 0.025).abs() < 1e-4);
        assert!(tail(10) < tail(20) && tail(20) < tail(50));
    }

    #[test]
    fn interval_covers_the_repetition_medians_and_is_seeded() {
        let reps: Vec<Vec<u64>> = (0..12)
            .map(|r| (0..50).map(|i| 100 + r * 10 + i).collect())
            .collect();
        let g = Groups::new(reps);
        let [lo, hi] = quantile_ci(&g, 0.5, 7).unwrap();
        let p50 = g.quantile(0.5).unwrap();
        assert!(lo < p50 && p50 < hi, "{lo} {p50} {hi}");
        // Pooled medians of resampled repetitions stay within the repetition medians.
        assert!(lo >= 125 && hi <= 235, "{lo}..{hi}");
        assert_eq!(quantile_ci(&g, 0.5, 7), Some([lo, hi]));
    }

    #[test]
    fn paired_difference_of_a_constant_shift_is_that_shift() {
        let a = Groups::new((0..10).map(|r| vec![r * 100, r * 100 + 50]).collect());
        let b = Groups::new((0..10).map(|r| vec![r * 100 + 7, r * 100 + 57]).collect());
        assert_eq!(difference_ci(&a, &b, 0.5, 3), Some([-7, -7]));
    }

    #[test]
    fn difference_between_noisy_equal_models_spans_zero() {
        let a = Groups::new((0..12).map(|r| vec![100 + (r * 37) % 50]).collect());
        let b = Groups::new((0..12).map(|r| vec![100 + (r * 23) % 50]).collect());
        let [lo, hi] = difference_ci(&a, &b, 0.5, 11).unwrap();
        assert!(lo < 0 && hi > 0, "{lo}..{hi}");
    }

    #[test]
    fn stream_seeds_differ_by_part() {
        assert_ne!(
            stream_seed(42, &["push", "rollback"]),
            stream_seed(42, &["pushr", "ollback"])
        );
        assert_eq!(stream_seed(42, &["a"]), stream_seed(42, &["a"]));
    }
}
