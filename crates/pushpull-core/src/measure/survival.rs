//! Survival of right-censored durations (Kaplan and Meier, 1958): a hand edit still live,
//! a deploy still rolling out or a cluster still missing apps when a run ends is an
//! observation that lasted *at least* until then, not a missing one. Quantiles and shares
//! come from the product-limit estimate, and a quantile the estimate never reaches is
//! `None` ("more than the run length"), never a smaller number.

use super::bootstrap::{self, Groups, MIN_REPETITIONS};
use crate::scenario::Nanos;

/// The product-limit estimate of S(t) = P(duration > t).
#[derive(Clone, Debug, PartialEq)]
pub struct Survival {
    /// (t, S just after t) at every time an event was observed, increasing in t.
    steps: Vec<(Nanos, f64)>,
    /// Observations, events and censored ones together.
    pub n: usize,
    /// Observed (uncensored) durations.
    pub events: usize,
    /// The longest observation of either kind: S is unknown past it.
    pub horizon: Nanos,
}

impl Survival {
    /// Estimates S from `observed` durations (the event happened) and `censored` ones
    /// (still open when observation stopped). At a tie, events come before censorings,
    /// as the estimator's convention has it.
    pub fn estimate(observed: &[Nanos], censored: &[Nanos]) -> Survival {
        let mut all: Vec<(Nanos, bool)> = observed
            .iter()
            .map(|&t| (t, true))
            .chain(censored.iter().map(|&t| (t, false)))
            .collect();
        // Events (true) before censorings (false) at equal times.
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let n = all.len();
        let mut at_risk = n;
        let mut s = 1.0;
        let mut steps = Vec::new();
        let mut i = 0;
        while i < n {
            let t = all[i].0;
            let (mut died, mut left) = (0usize, 0usize);
            while i < n && all[i].0 == t {
                if all[i].1 {
                    died += 1;
                } else {
                    left += 1;
                }
                i += 1;
            }
            if died > 0 {
                s *= 1.0 - died as f64 / at_risk as f64;
                steps.push((t, s));
            }
            at_risk -= died + left;
        }
        Survival {
            steps,
            n,
            events: observed.len(),
            horizon: all.last().map_or(0, |x| x.0),
        }
    }

    /// S(t): the estimated share still open after `t` (constant past the last event).
    pub fn at(&self, t: Nanos) -> f64 {
        match self.steps.partition_point(|&(x, _)| x <= t) {
            0 => 1.0,
            k => self.steps[k - 1].1,
        }
    }

    /// The estimated share closed within `t` (1 − S(t)).
    pub fn share_within(&self, t: Nanos) -> f64 {
        1.0 - self.at(t)
    }

    /// The `q` quantile (e.g. 0.5): the first time at which at least a share `q` is
    /// estimated closed; `None` when the estimate never gets there (too much is still
    /// open at the end: the quantile is more than the longest observation).
    pub fn quantile(&self, q: f64) -> Option<Nanos> {
        // A small tolerance so that S = 0.5 exactly counts as the median reached.
        self.steps
            .iter()
            .find(|&&(_, s)| 1.0 - s >= q - 1e-12)
            .map(|&(t, _)| t)
    }

    /// The estimate's steps, for a survival curve: (t, S just after t).
    pub fn steps(&self) -> &[(Nanos, f64)] {
        &self.steps
    }

    /// Whether the estimate reaches S = 0: the longest observation closed, so the mean
    /// and the maximum are known. Otherwise both are more than [`Survival::horizon`].
    pub fn complete(&self) -> bool {
        self.steps.last().is_some_and(|&(_, s)| s <= 0.0)
    }

    /// The mean, the area under S (with no censoring, the plain mean); `None` unless the
    /// estimate is [`complete`](Survival::complete).
    pub fn mean(&self) -> Option<f64> {
        if !self.complete() {
            return None;
        }
        let (mut area, mut t0, mut s0) = (0.0, 0u64, 1.0);
        for &(t, s) in &self.steps {
            area += (t - t0) as f64 * s0;
            (t0, s0) = (t, s);
        }
        Some(area)
    }

    /// The longest completed observation, when the estimate is complete.
    pub fn max(&self) -> Option<Nanos> {
        self.complete()
            .then(|| self.steps.last().map(|&(t, _)| t))
            .flatten()
    }
}

/// The `q` quantile of the Kaplan–Meier estimate over repetitions weighted by
/// `weights` (repetition `r` counted `weights[r]` times), from `all`: every observation
/// as (value, is an event, repetition), sorted by value with events first at a tie.
/// `Some(None)` when the estimate never reaches `q`; `None` when the weighted set is
/// empty.
fn weighted_quantile(all: &[(u64, bool, usize)], weights: &[u32], q: f64) -> Option<Option<u64>> {
    let mut at_risk: f64 = all.iter().map(|&(_, _, r)| weights[r] as f64).sum();
    if at_risk == 0.0 {
        return None;
    }
    let mut s = 1.0;
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        let (mut died, mut left) = (0.0, 0.0);
        while i < all.len() && all[i].0 == t {
            let w = weights[all[i].2] as f64;
            if all[i].1 {
                died += w;
            } else {
                left += w;
            }
            i += 1;
        }
        if died > 0.0 {
            s *= 1.0 - died / at_risk;
            if 1.0 - s >= q - 1e-12 {
                return Some(Some(t));
            }
        }
        at_risk -= died + left;
    }
    Some(None)
}

/// The 95% interval of the Kaplan–Meier `q` quantile, by the same resampling of whole
/// repetitions and the same expanded percentile interval as
/// [`bootstrap::quantile_ci`] (whose module says why), each repetition bringing its
/// completed (`observed`) and its censored observations. `None` with fewer than
/// [`MIN_REPETITIONS`] repetitions, and when the upper end is beyond what the estimate
/// reaches in too many resamples (the interval has no upper end).
pub fn quantile_ci(observed: &Groups, censored: &Groups, q: f64, seed: u64) -> Option<[u64; 2]> {
    let n = observed.repetitions().max(censored.repetitions());
    if n < MIN_REPETITIONS {
        return None;
    }
    let all = pooled(observed, censored, n);
    // A quantile the resample never reaches sorts above every reached one.
    let stats: Vec<u64> = bootstrap::weightings(n, seed)
        .filter_map(|w| weighted_quantile(&all, &w, q))
        .map(|v| v.unwrap_or(u64::MAX))
        .collect();
    match bootstrap::percentile_interval(stats, n)? {
        [_, u64::MAX] => None,
        pair => Some(pair),
    }
}

/// Every observation of `observed` and `censored` as (value, is an event, repetition),
/// in the order [`weighted_quantile`] walks them.
fn pooled(observed: &Groups, censored: &Groups, n: usize) -> Vec<(u64, bool, usize)> {
    let mut all: Vec<(u64, bool, usize)> = Vec::new();
    for r in 0..n {
        all.extend(observed.group(r).iter().map(|&v| (v, true, r)));
        all.extend(censored.group(r).iter().map(|&v| (v, false, r)));
    }
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    all
}

/// The 95% interval of the difference of two setups' Kaplan–Meier `q` quantiles
/// (`a` − `b`), resampling repetitions paired as [`bootstrap::difference_ci`] does, each
/// side given as (completed, censored). `None` with fewer than [`MIN_REPETITIONS`] or
/// unequal repetitions, and when an end of the interval falls where a resample's
/// quantile is not reached (that end is unbounded).
pub fn difference_ci(
    a: (&Groups, &Groups),
    b: (&Groups, &Groups),
    q: f64,
    seed: u64,
) -> Option<[i64; 2]> {
    let n = a.0.repetitions().max(a.1.repetitions());
    if n < MIN_REPETITIONS || n != b.0.repetitions().max(b.1.repetitions()) {
        return None;
    }
    let (pa, pb) = (pooled(a.0, a.1, n), pooled(b.0, b.1, n));
    const UP: i64 = i64::MAX;
    const DOWN: i64 = i64::MIN;
    // A resample where only one side reaches its quantile puts the difference at an
    // unbounded end; one where neither does leaves it unknown, and then no interval
    // is given.
    let mut stats: Vec<i64> = Vec::with_capacity(bootstrap::RESAMPLES);
    for w in bootstrap::weightings(n, seed) {
        let (Some(x), Some(y)) = (weighted_quantile(&pa, &w, q), weighted_quantile(&pb, &w, q))
        else {
            continue;
        };
        stats.push(match (x, y) {
            (Some(x), Some(y)) => {
                (x as i128 - y as i128).clamp(DOWN as i128 + 1, UP as i128 - 1) as i64
            }
            (None, Some(_)) => UP,
            (Some(_), None) => DOWN,
            (None, None) => return None,
        });
    }
    match bootstrap::percentile_interval(stats, n)? {
        [DOWN, _] | [_, UP] => None,
        pair => Some(pair),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Exp};

    const S: f64 = 1e9;

    /// Exponential durations with mean 10 min, every one still open at 15 min censored
    /// there: the estimate follows e^(−t/10m) up to the censoring time, and its median
    /// is 10 min × ln 2, where the observed durations alone (all below 15 min) would give
    /// a smaller median.
    ///
    /// Tolerances: before the first censoring the estimate is the empirical share, a
    /// binomial proportion with standard error √(S(1 − S)/n); the sample median's is
    /// √(1/4n) / f(m) with f(m) = e^(−m/mean)/mean = 1/(2·mean) at the median. Each
    /// check allows 4 standard errors (a false failure once in ~16,000 seeds).
    #[test]
    fn exponential_times_censored_at_a_fixed_time_follow_the_closed_form() {
        let mean = 600.0;
        let cut = 900.0;
        let exp = Exp::new(1.0 / mean).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut observed, mut censored) = (Vec::new(), Vec::new());
        for _ in 0..40_000 {
            let x: f64 = exp.sample(&mut rng);
            if x < cut {
                observed.push((x * S) as Nanos);
            } else {
                censored.push((cut * S) as Nanos);
            }
        }
        let km = Survival::estimate(&observed, &censored);
        let n = km.n as f64;
        let se = |s: f64| (s * (1.0 - s) / n).sqrt();
        for t in [60.0, 300.0, 600.0, 850.0] {
            let want = f64::exp(-t / mean);
            let got = km.at((t * S) as Nanos);
            assert!(
                (got - want).abs() < 4.0 * se(want),
                "S({t}) = {got}, closed form {want}, 4 se = {}",
                4.0 * se(want)
            );
        }
        let median = km.quantile(0.5).unwrap() as f64 / S;
        let want = mean * std::f64::consts::LN_2;
        let se_median = (0.25 / n).sqrt() * 2.0 * mean;
        assert!(
            (median - want).abs() < 4.0 * se_median,
            "median {median} vs {want}, 4 se = {}",
            4.0 * se_median
        );
        // Ignoring the censored ones would put the median well below it.
        let mut naive = observed.clone();
        naive.sort_unstable();
        let naive_median = naive[naive.len() / 2] as f64 / S;
        assert!(naive_median < 0.85 * want, "naive {naive_median}");
        // 1 − e^(−1.5) ≈ 78% closed by the cut; the 90th percentile is never reached.
        let closed = 1.0 - f64::exp(-1.5);
        assert!((km.share_within((cut * S) as Nanos) - closed).abs() < 4.0 * se(closed));
        assert_eq!(km.quantile(0.9), None);
    }

    /// Most of the durations still open: the median is unknown, not the median of the
    /// few that closed.
    #[test]
    fn a_median_beyond_the_run_is_none() {
        let km = Survival::estimate(&[60, 120, 180], &[3_600; 10]);
        assert_eq!(km.quantile(0.5), None);
        assert_eq!(km.quantile(0.2), Some(180));
        assert_eq!(km.horizon, 3_600);
    }

    /// The mean is the area under the curve: the plain mean without censoring, unknown
    /// while the longest observation is still open.
    #[test]
    fn mean_and_max_are_known_only_when_the_estimate_reaches_zero() {
        let km = Survival::estimate(&[1, 2, 3, 6], &[]);
        assert_eq!(km.mean(), Some(3.0));
        assert_eq!(km.max(), Some(6));
        // One of five censored at 4: S is 0.8, 0.6, 0.4 after 1, 2, 3, and 0 at 6.
        let km = Survival::estimate(&[1, 2, 3, 6], &[4]);
        assert!(km.complete());
        // Area: 1·1 + 1·0.8 + 1·0.6 + 3·0.4 = 3.6 (the censored one pushes it up).
        assert!((km.mean().unwrap() - 3.6).abs() < 1e-12);
        let km = Survival::estimate(&[1, 2], &[9]);
        assert_eq!((km.mean(), km.max()), (None, None));
    }

    /// The resampled interval of a censored median brackets the estimate, and has no
    /// upper end when most resamples never reach the median.
    #[test]
    fn the_interval_of_a_censored_median_brackets_it_or_is_absent() {
        let observed = Groups::new(
            (0..12)
                .map(|r| (0..40).map(|i| 100 + 7 * i + r).collect())
                .collect(),
        );
        let censored = Groups::new((0..12).map(|r| vec![400 + r; 10]).collect());
        let obs: Vec<u64> = observed.all_values().collect();
        let cen: Vec<u64> = censored.all_values().collect();
        let p50 = Survival::estimate(&obs, &cen).quantile(0.5).unwrap();
        let [lo, hi] = quantile_ci(&observed, &censored, 0.5, 3).unwrap();
        assert!(lo <= p50 && p50 <= hi, "{lo} {p50} {hi}");
        assert_eq!(quantile_ci(&observed, &censored, 0.5, 3), Some([lo, hi]));
        let few = Groups::new((0..12).map(|r| vec![10 + r]).collect());
        let many = Groups::new((0..12).map(|r| vec![1_000 + r; 5]).collect());
        assert_eq!(quantile_ci(&few, &many, 0.5, 3), None);
        // Fewer than ten repetitions: no interval, as for completed samples.
        let g = Groups::new((0..9).map(|r| vec![r]).collect());
        assert_eq!(quantile_ci(&g, &g, 0.5, 3), None);
    }

    /// A paired difference of censored medians: a constant shift of every completed
    /// value (the censored ones far above both medians) is that shift; a side whose
    /// median is never reached leaves the interval without an end.
    #[test]
    fn the_paired_difference_of_censored_medians_is_the_shift_or_absent() {
        let a = Groups::new((0..10).map(|r| vec![r * 100, r * 100 + 50]).collect());
        let b = Groups::new((0..10).map(|r| vec![r * 100 + 7, r * 100 + 57]).collect());
        let open = Groups::new((0..10).map(|_| vec![100_000]).collect());
        assert_eq!(
            difference_ci((&a, &open), (&b, &open), 0.5, 3),
            Some([-7, -7])
        );
        let never = Groups::new((0..10).map(|_| vec![100_000; 5]).collect());
        assert_eq!(difference_ci((&a, &never), (&b, &open), 0.5, 3), None);
    }

    /// Without censoring the estimate is the empirical distribution.
    #[test]
    fn without_censoring_it_is_the_empirical_distribution() {
        let km = Survival::estimate(&[1, 2, 2, 4], &[]);
        assert_eq!(km.at(0), 1.0);
        assert_eq!(km.at(1), 0.75);
        assert_eq!(km.at(3), 0.25);
        assert_eq!(km.at(4), 0.0);
        assert_eq!(km.quantile(0.5), Some(2));
    }

    /// A censoring at the same time as an event leaves the event's step as if the
    /// censored one were still at risk then.
    #[test]
    fn events_come_before_censorings_at_a_tie() {
        // At t = 2: 3 at risk, one event → S = 2/3; the censored one leaves after.
        let km = Survival::estimate(&[1, 2], &[2, 5]);
        assert_eq!(km.at(1), 0.75);
        assert!((km.at(2) - 0.75 * 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(km.steps().len(), 2);
    }
}
