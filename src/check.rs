//! Regression checks: compare a run's summary.json with a baseline's, figure by figure
//! (every metric, every quantile, every setup), and say which got worse than the
//! tolerance allows. A change of the median that stays inside both runs' 95% confidence
//! intervals is noise, not a regression. A baseline of another experiment (scenario,
//! seed, mode, repetitions, duration, completeness) and a comparison of nothing are
//! errors, not passes. Pure: two checked summaries in, verdicts out.
//!
//! Counters where more is worse (`drift_unrecovered`, `deploys_incomplete`,
//! `apply_errors`, `clusters_unrestored`, `failed_deploys`) and shares
//! (`drift_unrecovered_share`, `deploys_incomplete_share`, `out_of_sync_share`,
//! `unexplained_change_share`) are compared when
//! `--metric` names them. A duration figure the Kaplan–Meier estimate of this run never
//! reaches (more than `beyond_s`) is `worse` when even that bound is a regression and
//! `unknown` otherwise; both count as regressions (it cannot be shown to hold).

use crate::measure::summary::FigureKind;
use crate::report::load::{MetricStats, SummaryFile};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "the baseline is not a run of the same experiment: {}; compare with a baseline made by the same scenario and command, or pass --allow-mismatch to compare anyway",
        .0.join("; ")
    )]
    Mismatch(Vec<String>),
    #[error(
        "no figure was compared: the baseline holds none{0}; a check that compares nothing cannot pass"
    )]
    Nothing(String),
}

pub use crate::report::load::QUANTILES;

/// What to compare.
#[derive(Clone, Debug)]
pub struct Options {
    /// Allowed worsening as a fraction (0.1 = 10%).
    pub tolerance: f64,
    /// Only these metrics (empty: all).
    pub metrics: Vec<String>,
    /// Only these quantiles (empty: all).
    pub quantiles: Vec<String>,
    /// Changes smaller than this many seconds are never regressions.
    pub min_change_s: f64,
    /// Compare although the baseline is of another scenario, seed, mode, repetition
    /// count, duration or completeness (the differences are returned in the report).
    pub allow_mismatch: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: 0.10,
            metrics: Vec::new(),
            quantiles: Vec::new(),
            min_change_s: 0.001,
            allow_mismatch: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within the tolerance.
    Ok,
    /// Better than the baseline by more than the tolerance.
    Better,
    /// Worse by more than the tolerance, but inside both runs' confidence intervals.
    Noise,
    /// Worse by more than the tolerance.
    Worse,
    /// The baseline has samples and this run has none.
    Missing,
    /// This run's figure is more than its longest observation (still open at the end),
    /// which is not beyond the tolerance: it may or may not be worse.
    Unknown,
}

/// What a row's figures are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Seconds,
    /// A counter summed over every repetition.
    Count,
    /// A share from 0 to 1.
    Share,
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub model: String,
    pub metric: String,
    pub quantile: String,
    /// What `baseline_s` and `now_s` hold: seconds, or a count or share for a counter
    /// or share named by `--metric`.
    pub unit: Unit,
    pub baseline_s: Option<f64>,
    pub now_s: Option<f64>,
    /// When this run's figure is not reached by its estimate: it is more than this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now_beyond_s: Option<f64>,
    /// Relative change (0.2 = 20% slower).
    pub change: Option<f64>,
    pub tolerance: f64,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    /// How the baseline differs from this run, when `allow_mismatch` let it be compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
    pub rows: Vec<Row>,
    pub regressions: usize,
}

/// How `baseline` differs from `now` in what makes two runs comparable.
pub fn mismatches(now: &SummaryFile, baseline: &SummaryFile) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |what: &str, b: String, n: String| {
        if b != n {
            out.push(format!("{what}: baseline {b}, this run {n}"));
        }
    };
    // A schema-1 baseline reads as setups `push` and `pull`: the schema itself is no
    // difference of experiment, the setups are. Their order is not (a JSON tool that
    // rewrites the baseline may sort its keys), so they are compared by name.
    let setups = |s: &SummaryFile| {
        let mut v: Vec<String> = s
            .models
            .iter()
            .map(|(n, m)| format!("{n} ({})", m.kind))
            .collect();
        v.sort();
        v.join(", ")
    };
    differ("setups", setups(baseline), setups(now));
    differ(
        "scenario",
        format!("`{}`", baseline.scenario),
        format!("`{}`", now.scenario),
    );
    differ("seed", baseline.seed.to_string(), now.seed.to_string());
    differ("mode", baseline.mode.clone(), now.mode.clone());
    differ(
        "repetitions",
        baseline.repetitions.to_string(),
        now.repetitions.to_string(),
    );
    differ(
        "duration_s",
        baseline.duration_s.to_string(),
        now.duration_s.to_string(),
    );
    let partial = |s: &SummaryFile| match (s.partial, s.repetitions_run) {
        (false, _) => "complete (partial: false)".to_string(),
        (true, Some(k)) => format!("partial, {k} repetition(s) measured"),
        (true, None) => "partial".to_string(),
    };
    differ("partial", partial(baseline), partial(now));
    out
}

/// A threshold's tolerance for (model, metric, quantile), from this run's summary. `check`
/// compares the whole fleet's figures, so a threshold on part of the fleet (`cluster:`,
/// `app:`, `environment:`) gives none.
fn tolerance_for(now: &SummaryFile, model: &str, metric: &str, quantile: &str) -> Option<f64> {
    now.thresholds
        .iter()
        .filter(|t| t.selection.is_none())
        .find(|t| t.model == model && t.metric == metric && t.statistic() == quantile)
        .and_then(|t| t.tolerance)
}

/// A threshold's tolerance for a counter or share `name`, from this run's summary.
fn tolerance_for_named(now: &SummaryFile, model: &str, name: &str) -> Option<f64> {
    now.thresholds
        .iter()
        .find(|t| t.model == model && t.metric == name)
        .and_then(|t| t.tolerance)
}

fn quantile_of(name: &str) -> Option<crate::metric::Quantile> {
    use crate::metric::Quantile;
    [
        Quantile::Mean,
        Quantile::P50,
        Quantile::P90,
        Quantile::P95,
        Quantile::P99,
        Quantile::Max,
    ]
    .into_iter()
    .find(|q| q.name() == name)
}

fn figure(m: &MetricStats, quantile: &str) -> Option<f64> {
    match quantile {
        "mean" => m.mean_s,
        "p50" => m.p50_s,
        "p90" => m.p90_s,
        "p95" => m.p95_s,
        "p99" => m.p99_s,
        "max" => m.max_s,
        _ => None,
    }
}

/// Compares every figure the baseline has (within `opts`' selection) with this run's.
/// Refuses a baseline of another experiment unless `opts.allow_mismatch`, and a
/// comparison that would compare nothing.
pub fn compare(
    now: &SummaryFile,
    baseline: &SummaryFile,
    opts: &Options,
) -> Result<Report, CheckError> {
    let mismatches = mismatches(now, baseline);
    if !mismatches.is_empty() && !opts.allow_mismatch {
        return Err(CheckError::Mismatch(mismatches));
    }
    let mut rows = Vec::new();
    for (model, b_model) in baseline.models.iter() {
        for (metric, bm) in &b_model.metrics {
            if !opts.metrics.is_empty() && !opts.metrics.contains(metric) {
                continue;
            }
            let nm = now.model(model).and_then(|m| m.metric(metric));
            for q in QUANTILES {
                if !opts.quantiles.is_empty() && !opts.quantiles.iter().any(|x| x == q) {
                    continue;
                }
                let b = figure(bm, q);
                let n = nm.and_then(|m| figure(m, q));
                let Some(bv) = b else { continue };
                let tolerance = tolerance_for(now, model, metric, q).unwrap_or(opts.tolerance);
                let beyond = nm.and_then(|m| m.beyond(quantile_of(q)?));
                let (change, verdict) = match n {
                    None => match beyond {
                        Some(lo) if lo - bv > opts.min_change_s && lo > bv * (1.0 + tolerance) => {
                            (None, Verdict::Worse)
                        }
                        Some(_) => (None, Verdict::Unknown),
                        None => (None, Verdict::Missing),
                    },
                    Some(nv) => {
                        let diff = nv - bv;
                        let change = if bv > 0.0 { Some(diff / bv) } else { None };
                        let worse =
                            diff > opts.min_change_s && change.is_none_or(|c| c > tolerance);
                        let better =
                            -diff > opts.min_change_s && change.is_some_and(|c| c < -tolerance);
                        let verdict = if worse {
                            match (q, bm.ci95_p50_s, nm.and_then(|m| m.ci95_p50_s)) {
                                ("p50", Some([_, bhi]), Some([nlo, _])) if nlo <= bhi => {
                                    Verdict::Noise
                                }
                                _ => Verdict::Worse,
                            }
                        } else if better {
                            Verdict::Better
                        } else {
                            Verdict::Ok
                        };
                        (change, verdict)
                    }
                };
                rows.push(Row {
                    model: model.into(),
                    metric: metric.clone(),
                    quantile: q.into(),
                    unit: Unit::Seconds,
                    baseline_s: b,
                    now_s: n,
                    now_beyond_s: beyond,
                    change,
                    tolerance,
                    verdict,
                });
            }
        }
        // Counters and shares, when named.
        for name in &opts.metrics {
            let unit = match FigureKind::of(name) {
                Some(FigureKind::Count) => Unit::Count,
                Some(FigureKind::Share) => Unit::Share,
                _ => continue,
            };
            let Some(bv) = b_model.count_or_share(name) else {
                continue;
            };
            let nv = now.model(model).and_then(|m| m.count_or_share(name));
            let tolerance = tolerance_for_named(now, model, name).unwrap_or(opts.tolerance);
            // One more event, or a share point in ten thousand, is the least change.
            let least = match unit {
                Unit::Count => 0.5,
                _ => 1e-4,
            };
            let (change, verdict) = match nv {
                None => (None, Verdict::Missing),
                Some(nv) => {
                    let diff = nv - bv;
                    let change = (bv > 0.0).then(|| diff / bv);
                    let verdict = if diff > least && change.is_none_or(|c| c > tolerance) {
                        Verdict::Worse
                    } else if -diff > least && change.is_some_and(|c| c < -tolerance) {
                        Verdict::Better
                    } else {
                        Verdict::Ok
                    };
                    (change, verdict)
                }
            };
            rows.push(Row {
                model: model.into(),
                metric: name.clone(),
                quantile: match unit {
                    Unit::Count => "count",
                    _ => "share",
                }
                .into(),
                unit,
                baseline_s: Some(bv),
                now_s: nv,
                now_beyond_s: None,
                change,
                tolerance,
                verdict,
            });
        }
    }
    if rows.is_empty() {
        let mut selection = Vec::new();
        if !opts.metrics.is_empty() {
            selection.push(format!("metric {}", opts.metrics.join(", ")));
        }
        if !opts.quantiles.is_empty() {
            selection.push(format!("quantile {}", opts.quantiles.join(", ")));
        }
        let within = if selection.is_empty() {
            " (every metric has count 0)".to_string()
        } else {
            format!(
                " for {} (a metric without samples has no figures)",
                selection.join(" and ")
            )
        };
        return Err(CheckError::Nothing(within));
    }
    let regressions = rows
        .iter()
        .filter(|r| {
            matches!(
                r.verdict,
                Verdict::Worse | Verdict::Missing | Verdict::Unknown
            )
        })
        .count();
    Ok(Report {
        scenario: now.scenario.clone(),
        mismatches,
        rows,
        regressions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(p50: f64, ci: [f64; 2]) -> SummaryFile {
        let metric = json!({"count": 10, "mean_s": p50, "p50_s": p50, "p90_s": p50,
            "p95_s": p50, "p99_s": p50, "max_s": p50, "ci95_p50_s": ci});
        serde_json::from_value(
            json!({"schema": 2, "scenario": "s", "mode": "sim", "seed": 1,
            "repetitions": 3, "duration_s": 3600.0, "partial": false, "baseline": "push",
            "models": {
                "push": {"kind": "push", "preset": "github-actions",
                    "metrics": {"deploy_latency": metric}, "counters": {}},
                "pull": {"kind": "pull", "preset": "argocd", "metrics": {}, "counters": {}}},
            "thresholds": [], "engine": {"events": 1, "wall_s": null}}),
        )
        .unwrap()
    }

    #[test]
    fn identical_runs_pass() {
        let s = summary(100.0, [90.0, 110.0]);
        let r = compare(&s, &s, &Options::default()).unwrap();
        assert_eq!(r.regressions, 0);
        assert!(r.rows.iter().all(|r| r.verdict == Verdict::Ok));
    }

    #[test]
    fn twenty_percent_slower_is_a_regression_unless_inside_the_noise() {
        let base = summary(100.0, [99.0, 101.0]);
        let now = summary(120.0, [119.0, 121.0]);
        let r = compare(&now, &base, &Options::default()).unwrap();
        assert_eq!(r.regressions, 6, "{:?}", r.rows);
        let noisy_now = summary(120.0, [80.0, 160.0]);
        let r = compare(&noisy_now, &base, &Options::default()).unwrap();
        let p50 = r.rows.iter().find(|r| r.quantile == "p50").unwrap();
        assert_eq!(p50.verdict, Verdict::Noise);
        assert_eq!(r.regressions, 5);
    }

    #[test]
    fn faster_is_better() {
        let r = compare(
            &summary(70.0, [69.0, 71.0]),
            &summary(100.0, [99.0, 101.0]),
            &Options::default(),
        )
        .unwrap();
        assert!(r.rows.iter().all(|r| r.verdict == Verdict::Better));
    }

    #[test]
    fn a_baseline_of_another_experiment_is_refused_unless_allowed_and_then_named() {
        let now = summary(100.0, [99.0, 101.0]);
        let mut other = now.clone();
        other.scenario = "t".into();
        other.seed = 2;
        other.mode = "emulated".into();
        other.repetitions = 5;
        other.partial = true;
        other.repetitions_run = Some(2);
        let Err(CheckError::Mismatch(d)) = compare(&now, &other, &Options::default()) else {
            panic!("a baseline of another experiment was compared");
        };
        assert_eq!(d.len(), 5, "{d:?}");
        for what in ["scenario", "seed", "mode", "repetitions", "partial"] {
            assert!(d.iter().any(|x| x.starts_with(what)), "{what}: {d:?}");
        }
        let allow = Options {
            allow_mismatch: true,
            ..Options::default()
        };
        let r = compare(&now, &other, &allow).unwrap();
        assert_eq!(r.mismatches, d);
        assert_eq!(r.regressions, 0);
    }

    #[test]
    fn setups_are_compared_by_name_and_kind_not_by_their_order() {
        let now = summary(100.0, [99.0, 101.0]);
        let mut reordered = now.clone();
        reordered.models.0.reverse();
        let r = compare(&now, &reordered, &Options::default()).unwrap();
        assert_eq!(r.regressions, 0);
        let mut renamed = now.clone();
        for (name, _) in renamed.models.0.iter_mut().filter(|(n, _)| n == "pull") {
            *name = "flux".into();
        }
        let Err(CheckError::Mismatch(d)) = compare(&now, &renamed, &Options::default()) else {
            panic!("a baseline of other setups was compared");
        };
        assert_eq!(
            d,
            ["setups: baseline flux (pull), push (push), this run pull (pull), push (push)"]
        );
    }

    #[test]
    fn comparing_nothing_is_an_error() {
        let now = summary(100.0, [99.0, 101.0]);
        let mut empty = now.clone();
        empty
            .models
            .0
            .iter_mut()
            .for_each(|(_, m)| m.metrics.clear());
        assert!(matches!(
            compare(&now, &empty, &Options::default()),
            Err(CheckError::Nothing(_))
        ));
        let only_rollback = Options {
            metrics: vec!["rollback".into()],
            ..Options::default()
        };
        let Err(e) = compare(&now, &now, &only_rollback) else {
            panic!("a metric without samples was compared");
        };
        assert!(e.to_string().contains("metric rollback"), "{e}");
    }
}
