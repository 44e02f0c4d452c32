//! The report's tables: DORA measures with their tiers, results per metric with intervals
//! and verdicts, counters, thresholds, and the scenario's parameters flattened to rows.

use super::format::{dur, interval, percent, signed, signed_interval, verdict_text};
use super::{Table, View};
use crate::measure::bootstrap::MIN_REPETITIONS;
use crate::metric::{Metric, Quantile};
use crate::report::charts::{COST_COUNTERS, rate, simulated_hours};
use crate::report::dora::{self, Tier};
use crate::report::table::{human, threshold_value};

/// Metrics shown in the results table, in this order.
const RESULT_METRICS: [Metric; 21] = Metric::ALL;

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
        let names = self.names();
        let mut head = vec!["DORA measure".to_string()];
        for m in &names {
            head.push(self.label(m));
            head.push(format!("{m} tier"));
        }
        // Each tier with what the 2024 report gives for it on that measure.
        let tier = |measure, t: Option<Tier>| {
            t.map(|t| dora::describe(measure, t))
                .unwrap_or_else(|| "n/a".into())
        };
        let mut rows = Vec::new();
        let mut row =
            |name: &str, measure: dora::Measure, cell: &dyn Fn(&str) -> (String, Option<Tier>)| {
                let mut r = vec![name.to_string()];
                for m in &names {
                    let (v, t) = cell(m);
                    r.push(v);
                    r.push(tier(measure, t));
                }
                rows.push(r);
            };
        // With environments DORA's lead time runs to the last one: `lead_time`.
        let lead = if names.iter().any(|m| self.p50(m, "lead_time").is_some()) {
            "lead_time"
        } else {
            "deploy_latency"
        };
        row(
            &format!("Lead time for changes (p50 {lead})"),
            dora::Measure::LeadTime,
            &|m| {
                let v = self.p50(m, lead);
                (dur(v), v.map(dora::lead_time))
            },
        );
        let (days, working) = dora::days_counted(self.run.scenario.as_ref(), sm.duration_s);
        let (label, unit) = if working {
            (
                "Deployment frequency (per cluster, per working day)",
                "per working day",
            )
        } else {
            ("Deployment frequency (per cluster)", "per day")
        };
        row(label, dora::Measure::DeploymentFrequency, &|m| {
            let v = deploys_per_day(
                self.counter(m, "deploys"),
                clusters,
                days * 86_400.0,
                sm.repetitions,
            );
            (
                format!("{} {unit}", rate(v)),
                Some(dora::deployment_frequency(v)),
            )
        });
        row(
            "Change failure rate",
            dora::Measure::ChangeFailureRate,
            &|m| {
                let v = change_failure_rate(
                    self.counter(m, "deploys"),
                    self.counter(m, "failed_deploys"),
                );
                (
                    v.map(percent).unwrap_or_else(|| "—".into()),
                    v.map(dora::change_failure_rate),
                )
            },
        );
        row(
            "Failed deployment recovery time (p50)",
            dora::Measure::RecoveryTime,
            &|m| {
                let v = self.p50(m, "failed_deploy_recovery");
                (dur(v), v.map(dora::recovery_time))
            },
        );
        let note = "Tiers are the performance clusters of the Accelerate State of DevOps Report 2024 (DORA), with each cluster's value beside it: elite is lead time under a day, several deploys a day, 5% failed changes and recovery within an hour; high is a day to a week, daily to weekly, 20% and under a day; medium is a week to a month, weekly to monthly, 10% and under a day; low is one to six months, monthly or rarer, 40% and a week to a month. A figure takes the best cluster whose range it meets, and a change failure rate the nearest cluster (2024's high cluster fails more often than its medium one). Deployment frequency and change failure rate are set by the simulated workload and its bad releases, so they say more about the scenario than about the delivery setup.".to_string()
            + if working {
                " Commits follow working hours here, so deployment frequency counts working days (the working time of the run over one working day), not calendar days."
            } else {
                ""
            };
        (Table { head, rows }, note)
    }

    /// A figure with its interval when the run has them.
    fn cell(&self, v: Option<f64>, ci: Option<[f64; 2]>) -> String {
        match v {
            None => "—".to_string(),
            Some(v) if self.reps() as usize >= MIN_REPETITIONS => {
                format!("{} {}", human(v), interval(ci))
            }
            Some(v) => human(v),
        }
    }

    /// A figure of `setup`'s `metric` as [`Self::cell`] gives it, or `> 4h34m` when the
    /// Kaplan–Meier estimate over completed and censored observations never reaches it
    /// (it is more than the longest observation; never a smaller number).
    fn figure_cell(&self, setup: &str, metric: &str, q: Quantile, ci: Option<[f64; 2]>) -> String {
        let m = self.metric(setup, metric);
        match m.and_then(|m| m.beyond(q)) {
            Some(b) => format!("> {}", human(b)),
            None => self.cell(m.and_then(|m| m.get(q)), ci),
        }
    }

    /// Whether a figure of `metric` is not reached by some setup's estimate.
    fn unreached(&self, metric: &str, q: Quantile) -> bool {
        self.names().iter().any(|s| {
            self.metric(s, metric)
                .is_some_and(|m| m.beyond(q).is_some())
        })
    }

    /// `setup − baseline` at p50 with its interval, or "—".
    fn diff_cell(&self, metric: &str, setup: &str) -> String {
        match (self.p50(setup, metric), self.p50(self.base(), metric)) {
            (Some(a), Some(b)) => {
                let d = signed(a - b);
                if self.reps() as usize >= MIN_REPETITIONS {
                    format!(
                        "{} {}",
                        d,
                        signed_interval(self.diff(metric, setup).and_then(|x| x.ci95_p50_s))
                    )
                } else {
                    d
                }
            }
            _ => "—".into(),
        }
    }

    fn verdict_cell(&self, metric: &str, setup: &str) -> String {
        match self.diff(metric, setup).and_then(|x| x.p50_verdict) {
            Some(v) => verdict_text(Some(v), setup, self.base()),
            None if (self.reps() as usize) < MIN_REPETITIONS => {
                verdict_text(None, setup, self.base())
            }
            None if self.unreached(metric, Quantile::P50) => {
                "n/a (a p50 is beyond what the run observed)".to_string()
            }
            None => "n/a (a setup has no samples)".to_string(),
        }
    }

    /// The results table: with two setups one row per metric (each setup's p50 and p95,
    /// the difference and its verdict side by side); with more, one row per metric and
    /// setup, so the table stays as wide whatever the number of setups.
    pub(super) fn results(&self) -> (Table, String) {
        let ci = if self.reps() as usize >= MIN_REPETITIONS {
            " [95% CI]"
        } else {
            ""
        };
        let base = self.base();
        let names = self.names();
        let measured = |metric: &str| {
            names.iter().any(|m| {
                self.metric(m, metric)
                    .is_some_and(|s| s.count + s.censored > 0)
            })
        };
        let p50ci = |m: &str, metric: &str| self.metric(m, metric).and_then(|s| s.ci95_p50_s);
        let p95ci = |m: &str, metric: &str| {
            self.iv
                .metric(metric)
                .and_then(|x| x.setup(m))
                .and_then(|x| x.ci95_p95_s)
        };
        let mut rows = Vec::new();
        let head = if let [other] = self.others()[..] {
            for m in RESULT_METRICS {
                let name = m.name();
                if !measured(name) {
                    continue;
                }
                let mut r = vec![name.to_string()];
                for s in &names {
                    r.push(self.figure_cell(s, name, Quantile::P50, p50ci(s, name)));
                }
                for s in &names {
                    r.push(self.figure_cell(s, name, Quantile::P95, p95ci(s, name)));
                }
                r.push(self.diff_cell(name, other));
                r.push(self.verdict_cell(name, other));
                rows.push(r);
            }
            for env in self.environments() {
                let mut r = vec![format!("lead_time@{env}")];
                for s in &names {
                    let e = self.env_lead(s, &env);
                    r.push(self.cell(e.and_then(|x| x.p50_s), e.and_then(|x| x.ci95_p50_s)));
                }
                for s in &names {
                    r.push(dur(self.env_lead(s, &env).and_then(|x| x.p95_s)));
                }
                r.push("—".into());
                r.push(String::new());
                rows.push(r);
            }
            let mut head = vec!["metric".to_string()];
            head.extend(names.iter().map(|s| format!("{s} p50{ci}")));
            head.extend(names.iter().map(|s| format!("{s} p95{ci}")));
            head.push(format!("{other} − {base} at p50{ci}"));
            head.push("verdict".to_string());
            head
        } else {
            for m in RESULT_METRICS {
                let name = m.name();
                if !measured(name) {
                    continue;
                }
                for s in &names {
                    let (diff, verdict) = if *s == base {
                        ("baseline".to_string(), String::new())
                    } else {
                        (self.diff_cell(name, s), self.verdict_cell(name, s))
                    };
                    rows.push(vec![
                        name.to_string(),
                        self.label(s),
                        self.figure_cell(s, name, Quantile::P50, p50ci(s, name)),
                        self.figure_cell(s, name, Quantile::P95, p95ci(s, name)),
                        diff,
                        verdict,
                    ]);
                }
            }
            for env in self.environments() {
                for s in &names {
                    let e = self.env_lead(s, &env);
                    rows.push(vec![
                        format!("lead_time@{env}"),
                        self.label(s),
                        self.cell(e.and_then(|x| x.p50_s), e.and_then(|x| x.ci95_p50_s)),
                        dur(e.and_then(|x| x.p95_s)),
                        "—".into(),
                        String::new(),
                    ]);
                }
            }
            vec![
                "metric".to_string(),
                "setup".to_string(),
                format!("p50{ci}"),
                format!("p95{ci}"),
                format!("− {base} at p50{ci}"),
                "verdict".to_string(),
            ]
        };
        let note = if self.reps() as usize >= MIN_REPETITIONS {
            format!(
                "Quantiles pool every repetition. Intervals are seeded expanded-percentile bootstrap 95% confidence intervals that resample whole repetitions ({} of them), paired for the difference from the baseline {base}; a difference whose interval includes zero is reported as no significant difference, not as a win. Their coverage was measured, not assumed: see docs/STATISTICS.md.",
                self.reps()
            )
        } else {
            format!(
                "This run has {} repetition{}, so its figures are indicative and no confidence interval is given: intervals resample whole repetitions, and under {} repetitions no bootstrap interval measured here held its 95% coverage. Run at least {} (the scenario's repetitions key or --repetitions) to get them.",
                self.reps(),
                if self.reps() == 1 { "" } else { "s" },
                MIN_REPETITIONS,
                MIN_REPETITIONS
            )
        };
        (Table { head, rows }, note)
    }

    /// With environments: their names in promotion order (summary.json's
    /// `environments` of the first setup).
    fn environments(&self) -> Vec<String> {
        self.names()
            .first()
            .and_then(|m| self.model(m))
            .map(|m| m.environments.names().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The lead time to environment `env` of setup `m` (`lead_time@<env>` rows: no
    /// paired difference is computed for them).
    fn env_lead(&self, m: &str, env: &str) -> Option<&crate::measure::summary::MetricSummary> {
        self.model(m).and_then(|x| x.environments.get(env))
    }

    pub(super) fn counters(&self) -> Table {
        let hours = simulated_hours(self.run);
        let names = self.names();
        let counters: Vec<&String> = names
            .first()
            .and_then(|m| self.model(m))
            .map(|m| m.counters.keys().collect())
            .unwrap_or_default();
        let mut rows = Vec::new();
        for c in counters {
            let mut r = vec![c.clone()];
            for m in &names {
                r.push(self.counter(m, c).to_string());
            }
            for m in &names {
                r.push(if !COST_COUNTERS.contains(&c.as_str()) {
                    String::new()
                } else if hours > 0.0 {
                    rate(self.counter(m, c) as f64 / hours)
                } else {
                    "—".into()
                });
            }
            rows.push(r);
        }
        let mut head = vec!["counter (all repetitions)".to_string()];
        head.extend(names.iter().map(|m| m.to_string()));
        head.extend(names.iter().map(|m| format!("{m} per hour")));
        Table { head, rows }
    }

    /// Git traffic per repository and setup, per simulated day (summary.json's
    /// `git_traffic`); no rows when the summary has none (written by an older pushpull).
    pub(super) fn git_traffic(&self) -> Table {
        let mut rows = Vec::new();
        for m in self.names() {
            let Some(x) = self.model(m) else { continue };
            for t in &x.git_traffic {
                rows.push(vec![
                    self.label(m),
                    t.repository.clone(),
                    rate(t.git_ref_checks_per_day),
                    rate(t.git_fetches_per_day),
                    rate(t.git_checkouts_per_day),
                    rate(t.total_per_day()),
                ]);
            }
        }
        Table {
            head: [
                "setup",
                "repository",
                "ref checks/day",
                "fetches/day",
                "CI checkouts/day",
                "git requests/day",
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
                    format!("{}{}", t.metric, t.scope()),
                    t.statistic().to_string(),
                    format!("≤ {}", threshold_value(t, t.max_s)),
                    t.value_s
                        .map(|v| threshold_value(t, v))
                        .unwrap_or_else(|| "no samples".into()),
                    if t.ok { "ok" } else { "BREACHED" }.to_string(),
                ]
            })
            .collect();
        Table {
            head: ["setup", "metric", "quantile", "limit", "value", "result"]
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
