//! The statistics a report states beyond summary.json: seeded bootstrap 95% intervals of
//! p50 and p95 for each model and of the push − pull difference, written to
//! `intervals.json` so every interval the report prints can be checked against a file.

use super::load::RunDir;
use crate::measure::bootstrap::{self, Groups};
use crate::measure::summary;
use crate::metric::Metric;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which way a difference points, judged by its interval, never by the point estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The whole interval of push − pull is below zero.
    PushLower,
    /// The whole interval of push − pull is above zero.
    PullLower,
    /// The interval contains zero.
    NoSignificantDifference,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct QuantileIntervals {
    pub ci95_p50_s: Option<[f64; 2]>,
    pub ci95_p95_s: Option<[f64; 2]>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DifferenceIntervals {
    pub ci95_p50_s: Option<[f64; 2]>,
    pub ci95_p95_s: Option<[f64; 2]>,
    pub p50_verdict: Option<Verdict>,
    pub p95_verdict: Option<Verdict>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricIntervals {
    pub push: QuantileIntervals,
    pub pull: QuantileIntervals,
    pub push_minus_pull: DifferenceIntervals,
}

/// `intervals.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intervals {
    pub schema: u32,
    pub method: &'static str,
    pub level: f64,
    pub resamples: usize,
    pub repetitions: u32,
    pub metrics: BTreeMap<&'static str, MetricIntervals>,
}

fn secs_pair(p: [u64; 2]) -> [f64; 2] {
    [p[0] as f64 / 1e6, p[1] as f64 / 1e6]
}

fn verdict(ci: Option<[i64; 2]>) -> Option<Verdict> {
    ci.map(|[lo, hi]| {
        if hi < 0 {
            Verdict::PushLower
        } else if lo > 0 {
            Verdict::PullLower
        } else {
            Verdict::NoSignificantDifference
        }
    })
}

impl Intervals {
    pub fn compute(run: &RunDir) -> Intervals {
        let seed = run.summary.seed;
        let empty = Groups::default();
        let mut metrics = BTreeMap::new();
        for m in Metric::ALL {
            let name = m.name();
            let push = run.samples("push", name).unwrap_or(&empty);
            let pull = run.samples("pull", name).unwrap_or(&empty);
            if push.quantile(0.5).is_none() && pull.quantile(0.5).is_none() {
                continue;
            }
            let per_model = |model: &str, g: &Groups| QuantileIntervals {
                // The very function summary.json's `ci95_p50_s` comes from.
                ci95_p50_s: summary::ci95_p50(seed, model, name, g),
                ci95_p95_s: bootstrap::quantile_ci(
                    g,
                    0.95,
                    bootstrap::stream_seed(seed, &[model, name, "p95"]),
                )
                .map(secs_pair),
            };
            let diff = |q: f64, label: &str| {
                bootstrap::difference_ci(
                    push,
                    pull,
                    q,
                    bootstrap::stream_seed(seed, &["push-pull", name, label]),
                )
            };
            let (d50, d95) = (diff(0.5, "p50"), diff(0.95, "p95"));
            let s = |d: Option<[i64; 2]>| d.map(|[a, b]| [a as f64 / 1e6, b as f64 / 1e6]);
            metrics.insert(
                name,
                MetricIntervals {
                    push: per_model("push", push),
                    pull: per_model("pull", pull),
                    push_minus_pull: DifferenceIntervals {
                        ci95_p50_s: s(d50),
                        ci95_p95_s: s(d95),
                        p50_verdict: verdict(d50),
                        p95_verdict: verdict(d95),
                    },
                },
            );
        }
        Intervals {
            schema: 1,
            method: "percentile bootstrap over repetitions (cluster bootstrap), paired for push - pull",
            level: bootstrap::LEVEL,
            resamples: bootstrap::RESAMPLES,
            repetitions: run.summary.repetitions,
            metrics,
        }
    }

    pub fn metric(&self, name: &str) -> Option<&MetricIntervals> {
        self.metrics.get(name)
    }
}
