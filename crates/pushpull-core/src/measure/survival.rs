//! Survival of right-censored durations (Kaplan and Meier, 1958): a hand edit still live,
//! a deploy still rolling out or a cluster still missing apps when a run ends is an
//! observation that lasted *at least* until then, not a missing one. Quantiles and shares
//! come from the product-limit estimate, and a quantile the estimate never reaches is
//! `None` ("more than the run length"), never a smaller number.

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
        for t in [60.0, 300.0, 600.0, 850.0] {
            let want = f64::exp(-t / mean);
            let got = km.at((t * S) as Nanos);
            assert!(
                (got - want).abs() < 0.01,
                "S({t}) = {got}, closed form {want}"
            );
        }
        let median = km.quantile(0.5).unwrap() as f64 / S;
        let want = mean * std::f64::consts::LN_2;
        assert!(
            (median / want - 1.0).abs() < 0.02,
            "median {median} vs {want}"
        );
        // Ignoring the censored ones would put the median well below it.
        let mut naive = observed.clone();
        naive.sort_unstable();
        let naive_median = naive[naive.len() / 2] as f64 / S;
        assert!(naive_median < 0.85 * want, "naive {naive_median}");
        // 1 − e^(−1.5) ≈ 78% closed by the cut; the 90th percentile is never reached.
        assert!((km.share_within((cut * S) as Nanos) - (1.0 - f64::exp(-1.5))).abs() < 0.01);
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
