//! The statistics a report states beyond summary.json: seeded bootstrap 95% intervals of
//! p50 and p95 for each setup and of each setup's paired difference from the baseline
//! setup, written to `intervals.json` so every interval the report prints can be checked
//! against a file.
//!
//! `intervals.json` (schema 2), every map in the summary's setup order:
//! ```text
//! { "schema": 2, "method": ..., "level": 0.95, "resamples": 2000, "repetitions": 5,
//!   "baseline": "gha",
//!   "metrics": {
//!     "<metric>": {
//!       "setups":      { "<setup>": { "ci95_p50_s": [lo, hi], "ci95_p95_s": [lo, hi] }, ... },
//!       "vs_baseline": { "<setup>": { "ci95_p50_s": [lo, hi], "ci95_p95_s": [lo, hi],
//!                                     "p50_verdict": "lower", "p95_verdict": ... }, ... } } } }
//! ```
//! `setups` holds every setup; `vs_baseline` every setup but the baseline, with the
//! interval of `<setup> − <baseline>` (negative: the setup's figure is lower). A metric
//! is listed when any setup has samples of it. Seeds: a setup's quantile interval draws
//! the stream `[setup, metric, "p50"|"p95"]` (the one summary.json's `ci95_p50_s` comes
//! from); a difference draws `["<baseline>-<setup>", metric, "p50"|"p95"]`. For a run
//! of the two setups `push` and `pull` (baseline `push`) that is the stream the
//! `push − pull` interval of schema 1 drew, and since a paired draw serves both sides,
//! `pull − push` is exactly that interval negated.
//!
//! A setup's metric with censored rows (observations still open at the end) takes its
//! intervals from the Kaplan–Meier estimate over both kinds of rows
//! (`measure::survival::quantile_ci`, `difference_ci`: the same streams and resampling);
//! an interval whose end the estimate does not reach is `null`.

use super::load::{Named, RunDir};
use crate::measure::bootstrap::{self, Groups};
use crate::measure::summary;
use crate::measure::survival;
use crate::metric::Metric;
use serde::Serialize;
use std::collections::BTreeMap;

/// The schema of `intervals.json` this version writes.
pub const SCHEMA: u32 = 2;

/// Which way a setup's difference from the baseline points, judged by its interval,
/// never by the point estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval of setup − baseline is below zero: the setup's figure is lower
    /// (for a duration: faster).
    Lower,
    /// The whole interval is above zero: the setup's figure is higher (slower).
    Higher,
    /// The interval contains zero.
    NoSignificantDifference,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QuantileIntervals {
    pub ci95_p50_s: Option<[f64; 2]>,
    pub ci95_p95_s: Option<[f64; 2]>,
}

/// The paired interval of `<setup> − <baseline>` at p50 and p95, and their verdicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DifferenceIntervals {
    pub ci95_p50_s: Option<[f64; 2]>,
    pub ci95_p95_s: Option<[f64; 2]>,
    pub p50_verdict: Option<Verdict>,
    pub p95_verdict: Option<Verdict>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricIntervals {
    /// Every setup's quantile intervals.
    pub setups: Named<QuantileIntervals>,
    /// Every setup but the baseline: its difference from the baseline.
    pub vs_baseline: Named<DifferenceIntervals>,
}

impl MetricIntervals {
    /// The intervals of setup `name`.
    pub fn setup(&self, name: &str) -> Option<&QuantileIntervals> {
        self.setups.get(name)
    }
    /// `name − baseline`; `None` for the baseline itself.
    pub fn vs_baseline(&self, name: &str) -> Option<&DifferenceIntervals> {
        self.vs_baseline.get(name)
    }
}

/// `intervals.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intervals {
    pub schema: u32,
    pub method: &'static str,
    pub level: f64,
    pub resamples: usize,
    pub repetitions: u32,
    /// The setup every difference is taken from.
    pub baseline: String,
    pub metrics: BTreeMap<&'static str, MetricIntervals>,
}

fn secs_pair(p: [u64; 2]) -> [f64; 2] {
    [p[0] as f64 / 1e6, p[1] as f64 / 1e6]
}

fn verdict(ci: Option<[i64; 2]>) -> Option<Verdict> {
    ci.map(|[lo, hi]| {
        if hi < 0 {
            Verdict::Lower
        } else if lo > 0 {
            Verdict::Higher
        } else {
            Verdict::NoSignificantDifference
        }
    })
}

impl Intervals {
    pub fn compute(run: &RunDir) -> Intervals {
        let seed = run.summary.seed;
        let baseline = run.summary.baseline.as_str();
        let empty = Groups::default();
        let mut metrics = BTreeMap::new();
        for m in Metric::ALL {
            let name = m.name();
            let groups: Vec<(&str, &Groups)> = run
                .summary
                .models
                .names()
                .map(|s| (s, run.samples(s, name).unwrap_or(&empty)))
                .collect();
            if groups
                .iter()
                .all(|(s, g)| g.quantile(0.5).is_none() && run.censored(s, name).is_none())
            {
                continue;
            }
            let base = run.samples(baseline, name).unwrap_or(&empty);
            let setups = groups
                .iter()
                .map(|&(setup, g)| {
                    let iv = QuantileIntervals {
                        // The very functions summary.json's `ci95_p50_s` comes from.
                        ci95_p50_s: match run.censored(setup, name) {
                            None => summary::ci95_p50(seed, setup, name, g),
                            Some(c) => summary::ci95_p50_censored(seed, setup, name, g, c),
                        },
                        ci95_p95_s: {
                            let stream = bootstrap::stream_seed(seed, &[setup, name, "p95"]);
                            match run.censored(setup, name) {
                                None => bootstrap::quantile_ci(g, 0.95, stream),
                                Some(c) => survival::quantile_ci(g, c, 0.95, stream),
                            }
                            .map(secs_pair)
                        },
                    };
                    (setup.to_string(), iv)
                })
                .collect();
            let vs_baseline = groups
                .iter()
                .filter(|(setup, _)| *setup != baseline)
                .map(|&(setup, g)| {
                    let stream = format!("{baseline}-{setup}");
                    let diff = |q: f64, label: &str| {
                        let seed = bootstrap::stream_seed(seed, &[&stream, name, label]);
                        match (run.censored(setup, name), run.censored(baseline, name)) {
                            (None, None) => bootstrap::difference_ci(g, base, q, seed),
                            (c, cb) => survival::difference_ci(
                                (g, c.unwrap_or(&empty)),
                                (base, cb.unwrap_or(&empty)),
                                q,
                                seed,
                            ),
                        }
                    };
                    let (d50, d95) = (diff(0.5, "p50"), diff(0.95, "p95"));
                    let s = |d: Option<[i64; 2]>| d.map(|[a, b]| [a as f64 / 1e6, b as f64 / 1e6]);
                    let iv = DifferenceIntervals {
                        ci95_p50_s: s(d50),
                        ci95_p95_s: s(d95),
                        p50_verdict: verdict(d50),
                        p95_verdict: verdict(d95),
                    };
                    (setup.to_string(), iv)
                })
                .collect();
            metrics.insert(
                name,
                MetricIntervals {
                    setups: Named(setups),
                    vs_baseline: Named(vs_baseline),
                },
            );
        }
        Intervals {
            schema: SCHEMA,
            method: "percentile bootstrap over repetitions (cluster bootstrap), paired for setup - baseline",
            level: bootstrap::LEVEL,
            resamples: bootstrap::RESAMPLES,
            repetitions: run.summary.repetitions,
            baseline: baseline.to_string(),
            metrics,
        }
    }

    pub fn metric(&self, name: &str) -> Option<&MetricIntervals> {
        self.metrics.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A run of `setups` (kind, name), the first the baseline unless `baseline` says
    /// otherwise, each with deploy_latency values `base + shift` over ten repetitions (the
    /// fewest that get an interval).
    fn run(setups: &[(&str, &str, u64)], baseline: &str) -> RunDir {
        let metric = json!({"count": 0, "mean_s": null, "p50_s": null, "p90_s": null,
            "p95_s": null, "p99_s": null, "max_s": null, "ci95_p50_s": null});
        let mut models = serde_json::Map::new();
        for (kind, name, _) in setups {
            models.insert(
                name.to_string(),
                json!({"kind": kind, "preset": "custom",
                    "metrics": {"deploy_latency": metric}, "counters": {}}),
            );
        }
        let mut summary: super::super::load::SummaryFile =
            serde_json::from_value(json!({"schema": 2, "scenario": "s",
            "mode": "sim", "seed": 9, "repetitions": 10, "duration_s": 3600.0,
            "baseline": baseline, "models": models, "engine": {"events": 0, "wall_s": null}}))
            .unwrap();
        // A JSON map here sorts its keys; the setups keep the order given.
        summary
            .models
            .0
            .sort_by_key(|(n, _)| setups.iter().position(|s| s.1 == n));
        let mut samples = BTreeMap::new();
        for (_, name, shift) in setups {
            let reps = (0..10u64)
                .map(|r| {
                    (0..40)
                        .map(|i| 1_000_000 * (10 + (i * 7 + r * 13) % 30) + shift)
                        .collect()
                })
                .collect();
            samples.insert(
                (name.to_string(), "deploy_latency".to_string()),
                Groups::new(reps),
            );
        }
        RunDir {
            summary,
            samples,
            censored: BTreeMap::new(),
            events: Vec::new(),
            run: None,
            scenario: None,
        }
    }

    #[test]
    fn every_setup_gets_intervals_and_every_other_setup_a_difference_from_the_baseline() {
        let r = run(
            &[
                ("push", "gha", 0),
                ("pull", "argocd", 5_000_000),
                ("pull", "flux", 0),
            ],
            "argocd",
        );
        let iv = Intervals::compute(&r);
        assert_eq!(iv.baseline, "argocd");
        let m = iv.metric("deploy_latency").unwrap();
        assert_eq!(
            m.setups.names().collect::<Vec<_>>(),
            ["gha", "argocd", "flux"]
        );
        assert_eq!(m.vs_baseline.names().collect::<Vec<_>>(), ["gha", "flux"]);
        // Every value 5 s lower in each repetition: exactly −5 s, judged lower.
        let d = m.vs_baseline("gha").unwrap();
        assert_eq!(d.ci95_p50_s, Some([-5.0, -5.0]));
        assert_eq!(d.p50_verdict, Some(Verdict::Lower));
        assert!(m.vs_baseline("argocd").is_none());
        // Metrics no setup measured are left out.
        assert_eq!(iv.metrics.len(), 1);
        let text = serde_json::to_string(&iv).unwrap();
        assert!(
            text.contains(r#""setups":{"gha":"#) && text.contains(r#""vs_baseline":{"gha":"#),
            "{text}"
        );
    }

    #[test]
    fn pull_against_a_push_baseline_is_the_schema_1_push_minus_pull_interval_negated() {
        let r = run(&[("push", "push", 0), ("pull", "pull", 3_000_000)], "push");
        let pull = r.samples("pull", "deploy_latency").unwrap();
        let push = r.samples("push", "deploy_latency").unwrap();
        let iv = Intervals::compute(&r);
        let d = iv
            .metric("deploy_latency")
            .unwrap()
            .vs_baseline("pull")
            .unwrap();
        for (q, label, got) in [(0.5, "p50", d.ci95_p50_s), (0.95, "p95", d.ci95_p95_s)] {
            // What intervals.json schema 1 printed as push − pull.
            let [lo, hi] = bootstrap::difference_ci(
                push,
                pull,
                q,
                bootstrap::stream_seed(9, &["push-pull", "deploy_latency", label]),
            )
            .unwrap();
            assert_eq!(got, Some([-hi as f64 / 1e6, -lo as f64 / 1e6]), "{label}");
        }
        assert_eq!(d.p50_verdict, Some(Verdict::Higher));
    }
}
