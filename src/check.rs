//! Regression checks: compare a run's summary.json with a baseline's, figure by figure
//! (every metric, every quantile, both models), and say which got worse than the
//! tolerance allows. A change of the median that stays inside both runs' 95% confidence
//! intervals is noise, not a regression. Pure: JSON in, verdicts out.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{what} is not a pushpull summary: {reason}")]
    NotASummary { what: String, reason: String },
    #[error(
        "the baseline is of scenario `{baseline}` but this run is of `{now}`: compare runs of the same scenario"
    )]
    Scenario { baseline: String, now: String },
    #[error(
        "the baseline has schema {baseline} but this run has schema {now}: regenerate the baseline"
    )]
    Schema { baseline: u64, now: u64 },
}

pub const QUANTILES: [&str; 6] = ["mean", "p50", "p90", "p95", "p99", "max"];

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: 0.10,
            metrics: Vec::new(),
            quantiles: Vec::new(),
            min_change_s: 0.001,
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
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub model: String,
    pub metric: String,
    pub quantile: String,
    pub baseline_s: Option<f64>,
    pub now_s: Option<f64>,
    /// Relative change (0.2 = 20% slower).
    pub change: Option<f64>,
    pub tolerance: f64,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub rows: Vec<Row>,
    pub regressions: usize,
}

fn head(v: &Value, what: &str) -> Result<(String, u64), CheckError> {
    let bad = |reason: &str| CheckError::NotASummary {
        what: what.into(),
        reason: reason.into(),
    };
    let schema = v
        .get("schema")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no `schema`"))?;
    let scenario = v
        .get("scenario")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no `scenario`"))?;
    if !v.get("models").is_some_and(Value::is_object) {
        return Err(bad("no `models`"));
    }
    Ok((scenario.to_string(), schema))
}

/// A threshold's tolerance for (model, metric, quantile), from this run's summary.
fn tolerance_for(now: &Value, model: &str, metric: &str, quantile: &str) -> Option<f64> {
    now.get("thresholds")?.as_array()?.iter().find_map(|t| {
        (t.get("model")?.as_str()? == model
            && t.get("metric")?.as_str()? == metric
            && t.get("quantile")?.as_str()? == quantile)
            .then(|| t.get("tolerance")?.as_f64())
            .flatten()
    })
}

fn ci(m: &Value) -> Option<(f64, f64)> {
    let a = m.get("ci95_p50_s")?.as_array()?;
    Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
}

pub fn compare(now: &Value, baseline: &Value, opts: &Options) -> Result<Report, CheckError> {
    let (scenario, schema) = head(now, "this run's summary")?;
    let (b_scenario, b_schema) = head(baseline, "the baseline")?;
    if schema != b_schema {
        return Err(CheckError::Schema {
            baseline: b_schema,
            now: schema,
        });
    }
    if scenario != b_scenario {
        return Err(CheckError::Scenario {
            baseline: b_scenario,
            now: scenario,
        });
    }
    let mut rows = Vec::new();
    for model in ["push", "pull"] {
        let Some(b_metrics) = baseline["models"]
            .get(model)
            .and_then(|m| m.get("metrics"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (metric, bm) in b_metrics {
            if !opts.metrics.is_empty() && !opts.metrics.contains(metric) {
                continue;
            }
            let nm = &now["models"][model]["metrics"][metric];
            for q in QUANTILES {
                if !opts.quantiles.is_empty() && !opts.quantiles.iter().any(|x| x == q) {
                    continue;
                }
                let key = format!("{q}_s");
                let b = bm.get(&key).and_then(Value::as_f64);
                let n = nm.get(&key).and_then(Value::as_f64);
                let Some(bv) = b else { continue };
                let tolerance = tolerance_for(now, model, metric, q).unwrap_or(opts.tolerance);
                let (change, verdict) = match n {
                    None => (None, Verdict::Missing),
                    Some(nv) => {
                        let diff = nv - bv;
                        let change = if bv > 0.0 { Some(diff / bv) } else { None };
                        let worse =
                            diff > opts.min_change_s && change.is_none_or(|c| c > tolerance);
                        let better =
                            -diff > opts.min_change_s && change.is_some_and(|c| c < -tolerance);
                        let verdict = if worse {
                            match (q, ci(bm), ci(nm)) {
                                ("p50", Some((_, bhi)), Some((nlo, _))) if nlo <= bhi => {
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
                    baseline_s: b,
                    now_s: n,
                    change,
                    tolerance,
                    verdict,
                });
            }
        }
    }
    let regressions = rows
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Worse | Verdict::Missing))
        .count();
    Ok(Report {
        scenario,
        rows,
        regressions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(p50: f64, ci: [f64; 2]) -> Value {
        json!({"schema": 1, "scenario": "s", "models": {"push": {"metrics": {"deploy_latency": {
            "count": 10, "mean_s": p50, "p50_s": p50, "p90_s": p50, "p95_s": p50, "p99_s": p50, "max_s": p50,
            "ci95_p50_s": ci}}, "counters": {}}}, "thresholds": []})
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
    fn faster_is_better_and_other_scenarios_are_refused() {
        let r = compare(
            &summary(70.0, [69.0, 71.0]),
            &summary(100.0, [99.0, 101.0]),
            &Options::default(),
        )
        .unwrap();
        assert!(r.rows.iter().all(|r| r.verdict == Verdict::Better));
        let mut other = summary(100.0, [99.0, 101.0]);
        other["scenario"] = json!("t");
        assert!(matches!(
            compare(&other, &summary(1.0, [1.0, 1.0]), &Options::default()),
            Err(CheckError::Scenario { .. })
        ));
    }
}
