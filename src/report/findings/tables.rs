//! The report's tables: DORA measures with their tiers, results per metric with intervals
//! and verdicts, counters, thresholds, and the scenario's parameters flattened to rows.

use super::format::{dur, interval, percent, signed, signed_interval, verdict_text};
use super::{Table, View};
use crate::metric::Metric;
use crate::report::charts::{MODELS, rate, simulated_hours};
use crate::report::dora::{self, Tier};
use crate::report::table::human;

/// Metrics shown in the results table, in this order.
const RESULT_METRICS: [Metric; 11] = Metric::ALL;

/// Deployments per day per cluster: successful (commit, cluster) rollouts over the
/// simulated days of all repetitions.
pub fn deploys_per_day(deploys: u64, clusters: u64, duration_s: f64, repetitions: u32) -> f64 {
    let days = duration_s / 86_400.0 * repetitions.max(1) as f64;
    if days > 0.0 {
        deploys as f64 / days / clusters.max(1) as f64
    } else {
        0.0
    }
}

/// Failed (commit, cluster) rollouts over all attempted; `None` with no attempt.
pub fn change_failure_rate(deploys: u64, failed: u64) -> Option<f64> {
    let all = deploys + failed;
    (all > 0).then(|| failed as f64 / all as f64)
}

impl View<'_> {
    pub(super) fn dora(&self) -> (Table, String) {
        let sm = &self.run.summary;
        let clusters = self.clusters();
        let mut head = vec!["DORA measure".to_string()];
        for m in MODELS {
            head.push(self.label(m));
            head.push(format!("{m} tier"));
        }
        let tier = |t: Option<Tier>| t.map(|t| t.to_string()).unwrap_or_else(|| "n/a".into());
        let mut rows = Vec::new();
        let mut row = |name: &str, cells: [(String, Option<Tier>); 2]| {
            let mut r = vec![name.to_string()];
            for (v, t) in cells {
                r.push(v);
                r.push(tier(t));
            }
            rows.push(r);
        };
        let lead = |m: &str| {
            let v = self.p50(m, "deploy_latency");
            (dur(v), v.map(dora::lead_time))
        };
        row(
            "Lead time for changes (p50 deploy_latency)",
            [lead("push"), lead("pull")],
        );
        let freq = |m: &str| {
            let v = deploys_per_day(
                self.counter(m, "deploys"),
                clusters,
                sm.duration_s,
                sm.repetitions,
            );
            (
                format!("{} per day", rate(v)),
                Some(dora::deployment_frequency(v)),
            )
        };
        row(
            "Deployment frequency (per cluster)",
            [freq("push"), freq("pull")],
        );
        let cfr = |m: &str| {
            let v = change_failure_rate(
                self.counter(m, "deploys"),
                self.counter(m, "failed_deploys"),
            );
            (
                v.map(percent).unwrap_or_else(|| "—".into()),
                v.map(dora::change_failure_rate),
            )
        };
        row("Change failure rate", [cfr("push"), cfr("pull")]);
        let rec = |m: &str| {
            let v = self.p50(m, "failed_deploy_recovery");
            (dur(v), v.map(dora::recovery_time))
        };
        row(
            "Failed deployment recovery time (p50)",
            [rec("push"), rec("pull")],
        );
        let note = "Tiers use the DORA 2023 State of DevOps bounds: elite means lead time under a day, several deploys a day, at most 5% failed changes and recovery within an hour; high means under a week, at least weekly, 10% and a day; medium means under a month, at least monthly, 15% and a week. Deployment frequency and change failure rate are set by the simulated workload and its bad releases, so they say more about the scenario than about the delivery model.".to_string();
        (Table { head, rows }, note)
    }

    pub(super) fn results(&self) -> (Table, String) {
        let ci = if self.reps() > 1 { " [95% CI]" } else { "" };
        let head = vec![
            "metric".to_string(),
            format!("push p50{ci}"),
            format!("pull p50{ci}"),
            format!("push p95{ci}"),
            format!("pull p95{ci}"),
            format!("push − pull at p50{ci}"),
            "verdict".to_string(),
        ];
        let mut rows = Vec::new();
        for m in RESULT_METRICS {
            let name = m.name();
            let n = |model: &str| self.metric(model, name).map(|s| s.count).unwrap_or(0);
            if n("push") == 0 && n("pull") == 0 {
                continue;
            }
            let iv = self.iv.metric(name);
            let cell = |v: Option<f64>, ci: Option<[f64; 2]>| match v {
                None => "—".to_string(),
                Some(v) if self.reps() > 1 => format!("{} {}", human(v), interval(ci)),
                Some(v) => human(v),
            };
            let diff = match (self.p50("push", name), self.p50("pull", name)) {
                (Some(a), Some(b)) => {
                    let d = signed(a - b);
                    if self.reps() > 1 {
                        format!(
                            "{} {}",
                            d,
                            signed_interval(iv.and_then(|x| x.push_minus_pull.ci95_p50_s))
                        )
                    } else {
                        d
                    }
                }
                _ => "—".into(),
            };
            rows.push(vec![
                name.to_string(),
                cell(
                    self.p50("push", name),
                    self.metric("push", name).and_then(|s| s.ci95_p50_s),
                ),
                cell(
                    self.p50("pull", name),
                    self.metric("pull", name).and_then(|s| s.ci95_p50_s),
                ),
                cell(self.p95("push", name), iv.and_then(|x| x.push.ci95_p95_s)),
                cell(self.p95("pull", name), iv.and_then(|x| x.pull.ci95_p95_s)),
                diff,
                match iv.and_then(|x| x.push_minus_pull.p50_verdict) {
                    Some(v) => verdict_text(Some(v)).to_string(),
                    None if self.reps() <= 1 => verdict_text(None).to_string(),
                    None => "n/a (one model has no samples)".to_string(),
                },
            ]);
        }
        let note = if self.reps() > 1 {
            format!(
                "Quantiles pool every repetition. Intervals are seeded percentile-bootstrap 95% confidence intervals that resample whole repetitions ({} of them), paired for the difference; a difference whose interval includes zero is reported as no significant difference, not as a win.",
                self.reps()
            )
        } else {
            "This run has a single repetition, so no confidence interval is available: intervals come from resampling repetitions, and one repetition has no variation between repetitions to resample. Run more repetitions (the scenario's repetitions key or --repetitions) to get them.".to_string()
        };
        (Table { head, rows }, note)
    }

    pub(super) fn counters(&self) -> Table {
        let hours = simulated_hours(self.run);
        let names: Vec<&String> = self
            .model("push")
            .map(|m| m.counters.keys().collect())
            .unwrap_or_default();
        let mut rows = Vec::new();
        for c in names {
            let mut r = vec![c.clone()];
            for m in MODELS {
                let v = self.counter(m, c);
                r.push(v.to_string());
            }
            if c == "api_requests" || c == "git_fetches" {
                for m in MODELS {
                    r.push(if hours > 0.0 {
                        rate(self.counter(m, c) as f64 / hours)
                    } else {
                        "—".into()
                    });
                }
            } else {
                r.push(String::new());
                r.push(String::new());
            }
            rows.push(r);
        }
        Table {
            head: [
                "counter (all repetitions)",
                "push",
                "pull",
                "push per hour",
                "pull per hour",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        }
    }

    pub(super) fn thresholds(&self) -> Table {
        let rows = self
            .run
            .summary
            .thresholds
            .iter()
            .map(|t| {
                vec![
                    t.model.clone(),
                    t.metric.name().to_string(),
                    t.quantile.name().to_string(),
                    format!("≤ {}", human(t.max_s)),
                    t.value_s.map(human).unwrap_or_else(|| "no samples".into()),
                    if t.ok { "ok" } else { "BREACHED" }.to_string(),
                ]
            })
            .collect();
        Table {
            head: ["model", "metric", "quantile", "limit", "value", "result"]
                .map(String::from)
                .to_vec(),
            rows,
        }
    }
}

/// Flattens a JSON value into `key.path = value` rows (arrays index as `[i]`).
pub(super) fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<Vec<String>>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        serde_json::Value::Array(items) => {
            if items.is_empty() {
                out.push(vec![prefix.to_string(), "none".into()]);
            }
            for (i, x) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        serde_json::Value::String(s) => out.push(vec![prefix.to_string(), s.clone()]),
        serde_json::Value::Null => out.push(vec![prefix.to_string(), "none".into()]),
        other => out.push(vec![prefix.to_string(), other.to_string()]),
    }
}
