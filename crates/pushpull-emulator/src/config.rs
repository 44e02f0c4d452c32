//! How an emulator instance behaves: port, seed, the simulated pod start-up distribution,
//! the time scale applied to every simulated delay, watch bookmark cadence and history size.
//! Defaults are tuned for tests: pods start in a few hundred milliseconds.

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("time_scale must be a finite number above zero, got {0}")]
    TimeScale(f64),
    #[error("pod start delay: {0}")]
    PodStart(String),
}

/// How long a simulated pod takes from creation to Ready (before `time_scale`).
#[derive(Debug, Clone, PartialEq)]
pub enum PodStartDelay {
    Fixed(Duration),
    Uniform {
        min: Duration,
        max: Duration,
    },
    /// Log-normal with the given median and 99th percentile.
    LogNormal {
        median: Duration,
        p99: Duration,
    },
}

impl Default for PodStartDelay {
    fn default() -> Self {
        PodStartDelay::LogNormal {
            median: Duration::from_millis(200),
            p99: Duration::from_millis(800),
        }
    }
}

impl PodStartDelay {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            PodStartDelay::Fixed(_) => Ok(()),
            PodStartDelay::Uniform { min, max } if min <= max => Ok(()),
            PodStartDelay::Uniform { .. } => {
                Err(ConfigError::PodStart("uniform min is above max".into()))
            }
            PodStartDelay::LogNormal { median, p99 } if !median.is_zero() && p99 >= median => {
                Ok(())
            }
            PodStartDelay::LogNormal { .. } => Err(ConfigError::PodStart(
                "lognormal needs median > 0 and p99 >= median".into(),
            )),
        }
    }
}

/// Draws pod start delays from a seeded stream.
#[derive(Clone)]
pub struct PodStartSampler {
    delay: PodStartDelay,
    time_scale: f64,
    rng: ChaCha8Rng,
}

impl PodStartSampler {
    pub fn new(delay: PodStartDelay, time_scale: f64, seed: u64) -> PodStartSampler {
        PodStartSampler {
            delay,
            time_scale,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x706f_6473),
        }
    }

    pub fn sample(&mut self) -> Duration {
        let seconds = match &self.delay {
            PodStartDelay::Fixed(d) => d.as_secs_f64(),
            PodStartDelay::Uniform { min, max } => {
                let (a, b) = (min.as_secs_f64(), max.as_secs_f64());
                a + (b - a) * rand::Rng::random::<f64>(&mut self.rng)
            }
            PodStartDelay::LogNormal { median, p99 } => {
                let mu = median.as_secs_f64().ln();
                // z(0.99) = 2.3263: the p99 sits that many sigmas above the median in log space.
                let sigma = ((p99.as_secs_f64().ln() - mu) / 2.326_347_874).max(0.0);
                match LogNormal::new(mu, sigma) {
                    Ok(dist) => dist.sample(&mut self.rng),
                    Err(_) => median.as_secs_f64(),
                }
            }
        };
        // Clamped to 1e9 s (about 32 years); a NaN (never expected) counts as that too.
        Duration::try_from_secs_f64((seconds * self.time_scale).clamp(0.0, 1.0e9))
            .unwrap_or(Duration::from_secs(1_000_000_000))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub seed: u64,
    pub pod_start: PodStartDelay,
    /// Multiplies pod start delays, `progressDeadlineSeconds` and `minReadySeconds`.
    pub time_scale: f64,
    /// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Events kept for resuming watches; older resourceVersions get 410 Gone.
    pub watch_history: usize,
    /// Pod objects the emulator materializes at most (all Deployments together; default
    /// 10,000: about 170 MiB; each Pod costs ~12-17 KiB). Beyond it, ReplicaSet and Deployment counts still follow
    /// the rollout model but no further Pod objects are written.
    pub max_pods: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            seed: 0,
            pod_start: PodStartDelay::default(),
            time_scale: 1.0,
            bookmark_interval: Duration::from_secs(5),
            watch_history: 10_000,
            max_pods: 10_000,
        }
    }
}

impl EmulatorConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.time_scale.is_finite() || self.time_scale <= 0.0 {
            return Err(ConfigError::TimeScale(self.time_scale));
        }
        self.pod_start.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lognormal_median_and_p99_are_roughly_honoured() {
        let mut s = PodStartSampler::new(PodStartDelay::default(), 1.0, 3);
        let mut v: Vec<f64> = (0..20_000).map(|_| s.sample().as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        let (median, p99) = (v[10_000], v[19_800]);
        assert!((0.18..0.22).contains(&median), "median {median}");
        assert!((0.7..0.9).contains(&p99), "p99 {p99}");
    }

    #[test]
    fn time_scale_stretches_delays() {
        let mut s = PodStartSampler::new(PodStartDelay::Fixed(Duration::from_millis(100)), 0.5, 1);
        assert_eq!(s.sample(), Duration::from_millis(50));
    }

    #[test]
    fn bad_configs_are_rejected() {
        let c = EmulatorConfig {
            time_scale: 0.0,
            ..Default::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::TimeScale(0.0)));
        let c = EmulatorConfig {
            pod_start: PodStartDelay::Uniform {
                min: Duration::from_secs(2),
                max: Duration::from_secs(1),
            },
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
