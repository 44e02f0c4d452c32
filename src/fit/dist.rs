//! Fitting one duration distribution to observed samples: a lognormal by maximum
//! likelihood when it fits (judged by the Kolmogorov–Smirnov statistic against Lilliefors'
//! critical value, since the parameters come from the same data), else the samples
//! themselves as an `empirical` distribution.

use crate::scenario::Nanos;
use crate::scenario::bounds::MAX_EMPIRICAL;
use crate::scenario::duration::{Dur, secs};

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

/// Fewer samples than this give an indicative fit only (said in the comment).
pub const MIN_SAMPLES: usize = 20;

/// At most this many order statistics are kept in an `empirical` fit (evenly spaced).
const EMPIRICAL_KEEP: usize = 200;

/// What a fit chose, and how well it fits.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    LogNormal { median: Nanos, p99: Nanos },
    Empirical { samples: Vec<Nanos> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    pub shape: Shape,
    pub n: usize,
    /// The KS statistic of the lognormal fit (`None` when a lognormal cannot be fitted:
    /// a zero among the samples, or fewer than two).
    pub ks: Option<f64>,
    /// Lilliefors' 5% critical value for `n`.
    pub critical: f64,
    pub observed_median: Nanos,
    pub observed_p99: Nanos,
}

impl Fitted {
    /// The distribution as scenario YAML (`{dist: lognormal, median: 8s, p99: 41s}`).
    pub fn yaml(&self) -> String {
        match &self.shape {
            Shape::LogNormal { median, p99 } => format!(
                "{{dist: lognormal, median: {}, p99: {}}}",
                readable(*median),
                readable(*p99)
            ),
            Shape::Empirical { samples } => {
                let list: Vec<String> = samples.iter().map(|&s| readable(s)).collect();
                format!("{{dist: empirical, samples: [{}]}}", list.join(", "))
            }
        }
    }

    /// One line saying how the fit was made and how well it fits.
    pub fn comment(&self) -> String {
        let observed = format!(
            "observed median {}, p99 {}",
            readable(self.observed_median),
            readable(self.observed_p99)
        );
        let few = if self.n < MIN_SAMPLES {
            format!("; WARNING: only {} samples, indicative", self.n)
        } else {
            String::new()
        };
        match (&self.shape, self.ks) {
            (Shape::LogNormal { .. }, Some(d)) => format!(
                "n = {}, {observed}; lognormal fits (KS D = {d:.3} < {:.3}, Lilliefors 5%){few}",
                self.n, self.critical
            ),
            (Shape::Empirical { samples }, Some(d)) => format!(
                "n = {}, {observed}; lognormal rejected (KS D = {d:.3} ≥ {:.3}, Lilliefors 5%), so the {} samples themselves{few}",
                self.n,
                self.critical,
                kept(samples.len(), self.n)
            ),
            (Shape::Empirical { samples }, None) => format!(
                "n = {}, {observed}; no lognormal (a zero duration or too few samples), so the {} samples themselves{few}",
                self.n,
                kept(samples.len(), self.n)
            ),
            (Shape::LogNormal { .. }, None) => format!("n = {}, {observed}{few}", self.n),
        }
    }
}

fn kept(kept: usize, n: usize) -> String {
    if kept == n {
        format!("{n}")
    } else {
        format!("{kept} evenly spaced order statistics of the {n}")
    }
}

/// A duration rounded for reading: whole seconds from 10 s, milliseconds below.
pub fn readable(n: Nanos) -> String {
    const MS: Nanos = 1_000_000;
    const S: Nanos = 1_000_000_000;
    let rounded = if n >= 10 * S {
        (n + S / 2) / S * S
    } else {
        (n + MS / 2) / MS * MS
    };
    Dur(rounded).to_string().replace(' ', "")
}

/// Lilliefors' 5% critical value of the KS statistic for a normal with estimated mean
/// and variance (Lilliefors 1967; the large-sample form 0.886/√n, and the table for small n).
pub fn lilliefors_5(n: usize) -> f64 {
    const TABLE: [(usize, f64); 16] = [
        (4, 0.381),
        (5, 0.337),
        (6, 0.319),
        (7, 0.300),
        (8, 0.285),
        (9, 0.271),
        (10, 0.258),
        (11, 0.249),
        (12, 0.242),
        (13, 0.234),
        (14, 0.227),
        (15, 0.220),
        (16, 0.213),
        (17, 0.206),
        (18, 0.200),
        (19, 0.195),
    ];
    if n < 20 {
        let n = n.max(4);
        TABLE
            .iter()
            .find(|(k, _)| *k == n)
            .map_or(0.195, |&(_, v)| v)
    } else if n <= 30 {
        // The table's 20: 0.190, 25: 0.173, 30: 0.161, interpolated.
        let x = n as f64;
        if x <= 25.0 {
            0.190 - (x - 20.0) / 5.0 * 0.017
        } else {
            0.173 - (x - 25.0) / 5.0 * 0.012
        }
    } else {
        0.886 / (n as f64).sqrt()
    }
}

/// Φ, the standard normal CDF (Abramowitz & Stegun 7.1.26 through erf, |error| < 1.5e-7).
fn phi(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The `q` quantile of sorted values (nearest rank).
fn quantile(sorted: &[Nanos], q: f64) -> Nanos {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Fits `samples` (nanoseconds; at least one). A lognormal by maximum likelihood on the
/// logarithms; kept if its KS statistic is under Lilliefors' critical value, else the
/// samples (or evenly spaced order statistics of them) as an empirical distribution.
pub fn fit(samples: &[Nanos]) -> Fitted {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let critical = lilliefors_5(n);
    let observed_median = quantile(&sorted, 0.5);
    let observed_p99 = quantile(&sorted, 0.99);
    let empirical = |sorted: &[Nanos]| {
        let keep = EMPIRICAL_KEEP.min(MAX_EMPIRICAL);
        let samples = if sorted.len() <= keep {
            sorted.to_vec()
        } else {
            (0..keep)
                .map(|i| sorted[(i * (sorted.len() - 1)) / (keep - 1)])
                .collect()
        };
        Shape::Empirical { samples }
    };
    if n < 2 || sorted[0] == 0 {
        return Fitted {
            shape: empirical(&sorted),
            n,
            ks: None,
            critical,
            observed_median,
            observed_p99,
        };
    }
    let logs: Vec<f64> = sorted.iter().map(|&s| secs(s).ln()).collect();
    let mu = logs.iter().sum::<f64>() / n as f64;
    let var = logs.iter().map(|l| (l - mu).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let sigma = var.sqrt();
    let ks = if sigma > 0.0 {
        logs.iter()
            .enumerate()
            .map(|(i, l)| {
                let f = phi((l - mu) / sigma);
                let lo = i as f64 / n as f64;
                let hi = (i + 1) as f64 / n as f64;
                (f - lo).abs().max((hi - f).abs())
            })
            .fold(0.0, f64::max)
    } else {
        // Every sample equal: a lognormal of zero spread fits exactly.
        0.0
    };
    let to_nanos = |s: f64| (s * 1e9).round() as Nanos;
    let shape = if ks < critical {
        Shape::LogNormal {
            median: to_nanos(mu.exp()),
            p99: to_nanos((mu + Z99 * sigma).exp()),
        }
    } else {
        empirical(&sorted)
    };
    Fitted {
        shape,
        n,
        ks: Some(ks),
        critical,
        observed_median,
        observed_p99,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, LogNormal};

    const S: f64 = 1e9;

    /// Samples drawn from a known lognormal give back its median and p99 within 5%.
    #[test]
    fn a_lognormal_sample_gives_back_its_median_and_p99() {
        for (seed, median, p99) in [(1u64, 8.0f64, 41.0f64), (2, 240.0, 600.0), (3, 0.4, 9.0)] {
            let sigma = f64::ln(p99 / median) / Z99;
            let d = LogNormal::new(f64::ln(median), sigma).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let samples: Vec<Nanos> = (0..5_000)
                .map(|_| (d.sample(&mut rng) * S) as Nanos)
                .collect();
            let f = fit(&samples);
            let Shape::LogNormal { median: m, p99: q } = f.shape else {
                panic!("a lognormal sample was not fitted as one: {}", f.comment());
            };
            assert!(((m as f64 / S) / median - 1.0).abs() < 0.05, "median {m}");
            assert!(((q as f64 / S) / p99 - 1.0).abs() < 0.05, "p99 {q}");
        }
    }

    /// A sample that is not lognormal (two far-apart modes) is kept as it is.
    #[test]
    fn a_bimodal_sample_is_kept_empirical() {
        let samples: Vec<Nanos> = (0..200)
            .map(|i| if i % 2 == 0 { 5 } else { 300 } as Nanos * 1_000_000_000 + i)
            .collect();
        let f = fit(&samples);
        assert!(
            matches!(f.shape, Shape::Empirical { .. }),
            "{}",
            f.comment()
        );
        assert!(f.ks.unwrap() >= f.critical);
    }

    /// Under the nominal 5% level, Lilliefors' critical value rejects a true lognormal
    /// about 5% of the time (measured over 400 samples of 50).
    #[test]
    fn the_critical_value_rejects_about_five_percent_of_true_lognormals() {
        let d = LogNormal::new(3.0, 0.8).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let trials = 400;
        let rejected = (0..trials)
            .filter(|_| {
                let s: Vec<Nanos> = (0..50).map(|_| (d.sample(&mut rng) * S) as Nanos).collect();
                matches!(fit(&s).shape, Shape::Empirical { .. })
            })
            .count();
        let share = rejected as f64 / trials as f64;
        // Binomial(400, 0.05): sd 1.1 points; 1%–10% is more than 3.5 sd each way.
        assert!((0.01..=0.10).contains(&share), "rejected {share}");
    }

    #[test]
    fn zeros_and_tiny_samples_are_empirical_with_a_warning() {
        let f = fit(&[0, 1_000_000_000, 2_000_000_000]);
        assert!(matches!(f.shape, Shape::Empirical { ref samples } if samples.len() == 3));
        assert!(f.comment().contains("WARNING: only 3 samples"));
        assert_eq!(f.yaml(), "{dist: empirical, samples: [0s, 1s, 2s]}");
    }

    #[test]
    fn durations_read_as_a_person_writes_them() {
        assert_eq!(readable(8_412_345_678), "8s412ms");
        assert_eq!(readable(192_600_000_000), "3m13s");
        assert_eq!(readable(0), "0s");
    }
}
