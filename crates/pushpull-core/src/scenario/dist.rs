//! Delay distributions (`{dist: lognormal, median: 5s, p99: 30s}` and friends).
//! A distribution is validated once when read and then only sampled; sampling draws
//! from the caller's RNG stream so each component keeps its own reproducible sequence.

use super::bounds::{MAX_EMPIRICAL, MAX_SPAN};
use super::duration::{Dur, Nanos, from_secs_f64, secs};
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use serde::{Deserialize, Serialize};

/// z-score of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_841;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(into = "RawDist")]
pub enum Dist {
    Fixed {
        value: Nanos,
    },
    Uniform {
        min: Nanos,
        max: Nanos,
    },
    Exponential {
        mean: Nanos,
    },
    /// Normal truncated at zero (negative draws are redrawn, so the shape is a true
    /// truncation rather than a spike at zero).
    Normal {
        mean: Nanos,
        sd: Nanos,
    },
    LogNormal {
        median: Nanos,
        p99: Nanos,
    },
    Empirical {
        samples: Vec<Nanos>,
    },
}

impl Dist {
    pub fn fixed(value: Nanos) -> Dist {
        Dist::Fixed { value }
    }
    pub fn zero() -> Dist {
        Dist::Fixed { value: 0 }
    }

    /// Draws one value in nanoseconds, at most [`MAX_SPAN`] (100 years): a long-tailed
    /// draw never reaches the end of u64 virtual time.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Nanos {
        self.draw(rng).min(MAX_SPAN)
    }

    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> Nanos {
        match self {
            Dist::Fixed { value } => *value,
            Dist::Uniform { min, max } => {
                if max > min {
                    rng.random_range(*min..=*max)
                } else {
                    *min
                }
            }
            Dist::Exponential { mean } => {
                if *mean == 0 {
                    return 0;
                }
                // The mean is validated positive, so the rate is finite and positive.
                let exp = Exp::new(1.0 / secs(*mean)).expect("validated positive mean");
                from_secs_f64(exp.sample(rng))
            }
            Dist::Normal { mean, sd } => {
                if *sd == 0 {
                    return *mean;
                }
                let n = Normal::new(secs(*mean), secs(*sd)).expect("validated sd");
                // Truncation at zero by rejection; bounded so a mean far below zero
                // cannot spin (a normal with mean ≥ 0 is accepted half the time or more).
                for _ in 0..64 {
                    let v = n.sample(rng);
                    if v >= 0.0 {
                        return from_secs_f64(v);
                    }
                }
                0
            }
            Dist::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(*median, *p99);
                if sigma == 0.0 {
                    return *median;
                }
                let ln = LogNormal::new(mu, sigma).expect("validated parameters");
                from_secs_f64(ln.sample(rng))
            }
            Dist::Empirical { samples } => samples[rng.random_range(0..samples.len())],
        }
    }

    /// The mean in seconds (of the truncated normal, computed exactly).
    pub fn mean_secs(&self) -> f64 {
        match self {
            Dist::Fixed { value } => secs(*value),
            Dist::Uniform { min, max } => (secs(*min) + secs(*max)) / 2.0,
            Dist::Exponential { mean } => secs(*mean),
            Dist::Normal { mean, sd } => {
                let (m, s) = (secs(*mean), secs(*sd));
                if s == 0.0 {
                    return m;
                }
                let a = -m / s;
                let pdf = (-0.5 * a * a).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let tail = 0.5 * erfc(a / std::f64::consts::SQRT_2);
                m + s * pdf / tail
            }
            Dist::LogNormal { median, p99 } => {
                let (mu, sigma) = lognormal_params(*median, *p99);
                (mu + sigma * sigma / 2.0).exp()
            }
            Dist::Empirical { samples } => {
                samples.iter().map(|&s| secs(s)).sum::<f64>() / samples.len() as f64
            }
        }
    }
}

fn lognormal_params(median: Nanos, p99: Nanos) -> (f64, f64) {
    let mu = secs(median).ln();
    let sigma = (secs(p99) / secs(median)).ln() / Z99;
    (mu, sigma)
}

/// Complementary error function (Numerical Recipes' erfc approximation, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// A distribution as a map: `{dist: lognormal, median: 5s, p99: 30s}`; each kind takes
/// only its own keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DistributionMap", transform = super::schema::dist_keys)]
pub struct RawDist {
    #[serde(deserialize_with = "super::strict::text")]
    #[schemars(with = "super::schema::DistKind")]
    dist: String,
    /// fixed: the one value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Dur>,
    /// uniform: the smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Dur>,
    /// uniform: the largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Dur>,
    /// exponential and normal: the mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mean: Option<Dur>,
    /// normal: the standard deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sd: Option<Dur>,
    /// lognormal: the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    median: Option<Dur>,
    /// lognormal: the 99th percentile (at least the median).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    p99: Option<Dur>,
    /// empirical: observed durations, drawn from with equal weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    samples: Option<Vec<Dur>>,
}

/// A distribution map or a bare duration (a fixed one), as [`Dist`]'s `Deserialize` reads.
impl schemars::JsonSchema for Dist {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Distribution".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A delay distribution: a map like `{dist: lognormal, median: 5s, p99: 30s}`, or a duration like `2s` for a fixed delay.",
            "anyOf": [
                g.subschema_for::<super::schema::DurationText>(),
                g.subschema_for::<RawDist>(),
            ],
        })
    }
}

/// A distribution is a map (`{dist: normal, mean: 4m, sd: 1m}`); a bare duration
/// (`2s`) is shorthand for a fixed one.
impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Dist;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a distribution like `{dist: fixed, value: 2s}` or a duration like `2s`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dist, E> {
                Dur::parse(v)
                    .map(|d| Dist::Fixed { value: d.0 })
                    .map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Dist, A::Error> {
                let raw = RawDist::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Dist::try_from(raw).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

const KINDS: &str = "fixed, uniform, exponential, normal, lognormal or empirical";

impl TryFrom<RawDist> for Dist {
    type Error = String;
    fn try_from(r: RawDist) -> Result<Dist, String> {
        let allowed: &[&str] = match r.dist.as_str() {
            "fixed" => &["value"],
            "uniform" => &["min", "max"],
            "exponential" => &["mean"],
            "normal" => &["mean", "sd"],
            "lognormal" => &["median", "p99"],
            "empirical" => &["samples"],
            other => {
                return Err(format!("unknown distribution `{other}`; expected {KINDS}"));
            }
        };
        let present = [
            ("value", r.value.is_some()),
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
            ("mean", r.mean.is_some()),
            ("sd", r.sd.is_some()),
            ("median", r.median.is_some()),
            ("p99", r.p99.is_some()),
            ("samples", r.samples.is_some()),
        ];
        for (key, is) in present {
            if is && !allowed.contains(&key) {
                return Err(format!(
                    "`{key}` does not belong to a {} distribution; it takes {}",
                    r.dist,
                    allowed.join(" and ")
                ));
            }
        }
        let need = |v: Option<Dur>, key: &str| {
            v.map(|d| d.0).ok_or_else(|| {
                format!(
                    "a {} distribution needs `{key}` (it takes {})",
                    r.dist,
                    allowed.join(" and ")
                )
            })
        };
        Ok(match r.dist.as_str() {
            "fixed" => Dist::Fixed {
                value: need(r.value, "value")?,
            },
            "uniform" => {
                let (min, max) = (need(r.min, "min")?, need(r.max, "max")?);
                if min > max {
                    return Err(format!(
                        "uniform needs min ≤ max, got min {} > max {}",
                        Dur(min),
                        Dur(max)
                    ));
                }
                Dist::Uniform { min, max }
            }
            "exponential" => Dist::Exponential {
                mean: need(r.mean, "mean")?,
            },
            "normal" => Dist::Normal {
                mean: need(r.mean, "mean")?,
                sd: need(r.sd, "sd")?,
            },
            "lognormal" => {
                let (median, p99) = (need(r.median, "median")?, need(r.p99, "p99")?);
                if median == 0 {
                    return Err("lognormal needs a median above zero".into());
                }
                if p99 < median {
                    return Err(format!(
                        "lognormal needs p99 ≥ median, got p99 {} < median {}",
                        Dur(p99),
                        Dur(median)
                    ));
                }
                Dist::LogNormal { median, p99 }
            }
            "empirical" => {
                let samples: Vec<Nanos> = r
                    .samples
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| d.0)
                    .collect();
                if samples.is_empty() {
                    return Err("an empirical distribution needs at least one sample".into());
                }
                if samples.len() > MAX_EMPIRICAL {
                    return Err(format!(
                        "an empirical distribution takes at most {MAX_EMPIRICAL} samples (each world keeps a copy), got {}",
                        samples.len()
                    ));
                }
                Dist::Empirical { samples }
            }
            _ => unreachable!("kind checked above"),
        })
    }
}

impl From<Dist> for RawDist {
    fn from(d: Dist) -> RawDist {
        let mut r = RawDist::default();
        match d {
            Dist::Fixed { value } => {
                r.dist = "fixed".into();
                r.value = Some(Dur(value));
            }
            Dist::Uniform { min, max } => {
                r.dist = "uniform".into();
                r.min = Some(Dur(min));
                r.max = Some(Dur(max));
            }
            Dist::Exponential { mean } => {
                r.dist = "exponential".into();
                r.mean = Some(Dur(mean));
            }
            Dist::Normal { mean, sd } => {
                r.dist = "normal".into();
                r.mean = Some(Dur(mean));
                r.sd = Some(Dur(sd));
            }
            Dist::LogNormal { median, p99 } => {
                r.dist = "lognormal".into();
                r.median = Some(Dur(median));
                r.p99 = Some(Dur(p99));
            }
            Dist::Empirical { samples } => {
                r.dist = "empirical".into();
                r.samples = Some(samples.into_iter().map(Dur).collect());
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::super::duration::SECOND;
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..n).map(|_| secs(d.sample(&mut rng))).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_closed_forms() {
        let cases = [
            Dist::Exponential { mean: 30 * SECOND },
            Dist::Uniform {
                min: 0,
                max: 60 * SECOND,
            },
            Dist::Normal {
                mean: 240 * SECOND,
                sd: 60 * SECOND,
            },
            Dist::Normal {
                mean: SECOND,
                sd: 2 * SECOND,
            },
            Dist::LogNormal {
                median: 5 * SECOND,
                p99: 30 * SECOND,
            },
        ];
        for d in cases {
            let m = sample_mean(&d, 200_000);
            let want = d.mean_secs();
            assert!(
                (m - want).abs() / want < 0.01,
                "{d:?}: sampled {m}, expected {want}"
            );
        }
    }

    #[test]
    fn lognormal_p99_is_the_99th_percentile() {
        let d = Dist::LogNormal {
            median: 5 * SECOND,
            p99: 30 * SECOND,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut v: Vec<Nanos> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        let p50 = secs(v[50_000]);
        let p99 = secs(v[99_000]);
        assert!((p50 - 5.0).abs() < 0.15, "p50 {p50}");
        assert!((p99 - 30.0).abs() < 1.5, "p99 {p99}");
    }

    #[test]
    fn refuses_missing_and_foreign_parameters() {
        let e = Dist::try_from(RawDist {
            dist: "normal".into(),
            mean: Some(Dur(1)),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("needs `sd`"), "{e}");
        let e = Dist::try_from(RawDist {
            dist: "fixed".into(),
            value: Some(Dur(1)),
            mean: Some(Dur(1)),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("`mean` does not belong"), "{e}");
        let e = Dist::try_from(RawDist {
            dist: "gamma".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("unknown distribution"), "{e}");
    }
}
