//! What a report says, independent of how it is typeset: the executive summary written
//! from the numbers, and the tables (DORA, results, counters, thresholds, scenario). The
//! HTML and Markdown writers only lay these out, so both say exactly the same thing, and
//! every number here is read from summary.json, intervals.json, scenario.json or run.json.

use super::charts::{MODELS, model_label, rate, simulated_hours};
use super::dora::{self, Tier};
use super::load::{MetricStats, ModelStats, RunDir};
use super::stats::{Intervals, Verdict};
use super::table::human;
use crate::metric::Metric;

/// A table as rows of plain-text cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub struct Findings {
    pub title: String,
    pub subtitle: String,
    pub summary: Vec<String>,
    pub dora: Table,
    pub dora_note: String,
    pub results: Table,
    pub results_note: String,
    pub counters: Table,
    pub thresholds: Table,
    pub description: String,
    pub scenario: Table,
    pub command: String,
    pub reproduce: Table,
}

/// A duration or "—" when there is none.
pub fn dur(v: Option<f64>) -> String {
    v.map(human).unwrap_or_else(|| "—".into())
}

/// A signed duration: `+4m10s`, `−12.0s` (U+2212), `0ms`.
pub fn signed(v: f64) -> String {
    // Below the printed resolution a sign would claim a difference that is not shown.
    if human(v.abs()) == human(0.0) {
        human(0.0)
    } else if v > 0.0 {
        format!("+{}", human(v))
    } else if v < 0.0 {
        format!("\u{2212}{}", human(-v))
    } else {
        human(0.0)
    }
}

pub fn interval(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("[{} – {}]", human(lo), human(hi)),
        None => "n/a".into(),
    }
}

pub fn signed_interval(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("[{} – {}]", signed(lo), signed(hi)),
        None => "n/a".into(),
    }
}

/// A percentage with one decimal.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// How many times larger `a` is than `b`, one decimal.
pub fn times(a: f64, b: f64) -> String {
    format!("{:.1}×", a / b)
}

pub fn verdict_text(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::PushLower) => "push faster",
        Some(Verdict::PullLower) => "pull faster",
        Some(Verdict::NoSignificantDifference) => "no significant difference",
        None => "no CI (one repetition)",
    }
}

/// Metrics shown in the results table, in this order.
const RESULT_METRICS: [Metric; 11] = Metric::ALL;

struct View<'a> {
    run: &'a RunDir,
    iv: &'a Intervals,
}

impl<'a> View<'a> {
    fn model(&self, m: &str) -> Option<&'a ModelStats> {
        self.run.summary.model(m)
    }
    fn metric(&self, m: &str, metric: &str) -> Option<&'a MetricStats> {
        self.model(m).and_then(|x| x.metric(metric))
    }
    fn p50(&self, m: &str, metric: &str) -> Option<f64> {
        self.metric(m, metric).and_then(|s| s.p50_s)
    }
    fn p95(&self, m: &str, metric: &str) -> Option<f64> {
        self.metric(m, metric).and_then(|s| s.p95_s)
    }
    fn counter(&self, m: &str, c: &str) -> u64 {
        self.model(m).map(|x| x.counter(c)).unwrap_or(0)
    }
    fn reps(&self) -> u32 {
        self.run.summary.repetitions
    }
    fn label(&self, m: &str) -> String {
        model_label(self.run, m)
    }
    fn clusters(&self) -> u64 {
        scenario_u64(self.run, "/fleet/clusters")
            .or_else(|| {
                self.run
                    .events
                    .iter()
                    .filter_map(|e| e.cluster)
                    .max()
                    .map(|c| c as u64 + 1)
            })
            .unwrap_or(1)
            .max(1)
    }
}

fn scenario_u64(run: &RunDir, pointer: &str) -> Option<u64> {
    run.scenario
        .as_ref()
        .and_then(|s| s.pointer(pointer))
        .and_then(|v| v.as_u64())
}

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

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl View<'_> {
    fn speed_sentences(&self) -> Vec<String> {
        let (Some(a), Some(b)) = (
            self.p50("push", "deploy_latency"),
            self.p50("pull", "deploy_latency"),
        ) else {
            return vec![
                "At least one model completed no deploy, so deploy speed cannot be compared."
                    .into(),
            ];
        };
        let diff = self.iv.metric("deploy_latency").map(|m| &m.push_minus_pull);
        let verdict = diff.and_then(|d| d.p50_verdict);
        let p95s = format!(
            "at p95, {} (push) against {} (pull)",
            dur(self.p95("push", "deploy_latency")),
            dur(self.p95("pull", "deploy_latency"))
        );
        if verdict == Some(Verdict::NoSignificantDifference) {
            return vec![format!(
                "Neither model deploys significantly faster: median deploy latency is {} with {} and {} with {}, and the 95% confidence interval of the difference (push − pull) {} includes zero; {}.",
                human(a),
                self.label("push"),
                human(b),
                self.label("pull"),
                signed_interval(diff.and_then(|d| d.ci95_p50_s)),
                p95s
            )];
        }
        let (fast, slow, f, s) = if b < a {
            ("pull", "push", b, a)
        } else {
            ("push", "pull", a, b)
        };
        let how_much = if f > 0.0 {
            format!("{} less ({} faster)", human(s - f), times(s, f))
        } else {
            format!("{} less", human(s - f))
        };
        let first = format!(
            "{} deploys faster: its median deploy latency is {} against {} for {}, {}; {}.",
            capitalised(&self.label(fast)),
            human(f),
            human(s),
            self.label(slow),
            how_much,
            p95s
        );
        let second = match (verdict, diff.and_then(|d| d.ci95_p50_s)) {
            (Some(_), Some(ci)) => format!(
                "The bootstrap 95% confidence interval of the difference in medians (push − pull) is {}, which excludes zero: the gap is statistically significant across the {} repetitions.",
                signed_interval(Some(ci)),
                self.reps()
            ),
            _ => "With a single repetition no confidence interval is available, so this gap is not tested for significance.".into(),
        };
        vec![first, second]
    }

    fn drift_sentence(&self) -> String {
        let events: u64 = MODELS.iter().map(|m| self.counter(m, "drift_events")).sum();
        if events == 0 {
            return "No drift was injected in this scenario.".into();
        }
        let part = |m: &str| {
            let ev = self.counter(m, "drift_events");
            let un = self.counter(m, "drift_unrecovered");
            let mut s = format!(
                "{m} corrected {} of {} manual edits (median {})",
                ev - un,
                ev,
                dur(self.p50(m, "drift_recovery"))
            );
            if un > 0 {
                s.push_str(&format!(" and left {un} in place when the run ended"));
            }
            s
        };
        let verdict = self
            .iv
            .metric("drift_recovery")
            .and_then(|m| m.push_minus_pull.p50_verdict);
        let tail = if verdict == Some(Verdict::NoSignificantDifference) {
            " (the difference in medians is no significant difference at 95%)"
        } else {
            ""
        };
        format!("Drift: {}, while {}{}.", part("push"), part("pull"), tail)
    }

    fn bad_release_sentence(&self) -> String {
        let failed: u64 = MODELS
            .iter()
            .map(|m| self.counter(m, "failed_deploys"))
            .sum();
        let n = |m: &str| {
            self.metric(m, "failed_deploy_recovery")
                .map(|s| s.count)
                .unwrap_or(0)
        };
        if failed == 0 && n("push") == 0 && n("pull") == 0 {
            return "No bad release was injected in this scenario.".into();
        }
        let verdict = self
            .iv
            .metric("failed_deploy_recovery")
            .and_then(|m| m.push_minus_pull.p50_verdict);
        let judged = match verdict {
            Some(Verdict::NoSignificantDifference) => {
                "; the 95% interval of the difference includes zero, so this is no significant difference"
            }
            Some(_) => "; the 95% interval of the difference excludes zero",
            None => "",
        };
        format!(
            "Bad releases: recovering from a failed deploy (bad commit to healthy again) took a median of {} with push and {} with pull, and the rollback itself, once decided, took {} and {}{}.",
            dur(self.p50("push", "failed_deploy_recovery")),
            dur(self.p50("pull", "failed_deploy_recovery")),
            dur(self.p50("push", "rollback")),
            dur(self.p50("pull", "rollback")),
            judged
        )
    }

    /// The window faults of the scenario (outages, partitions, crashes, losses) and what
    /// they did to each model, from the run's own figures.
    fn fault_sentence(&self) -> Option<String> {
        let faults = self.run.scenario.as_ref()?.get("faults")?.as_array()?;
        let mut kinds: Vec<&str> = Vec::new();
        for f in faults {
            let name = match f.get("kind").and_then(|k| k.as_str()) {
                Some("git_outage") => "a git outage",
                Some("api_brownout") => "an API brownout",
                Some("partition") => "a network partition",
                Some("reconciler_crash") => "a reconciler crash",
                Some("runner_outage") => "a CI runner outage",
                Some("cluster_loss") => "a cluster loss",
                _ => continue,
            };
            if !kinds.contains(&name) {
                kinds.push(name);
            }
        }
        if kinds.is_empty() {
            return None;
        }
        let mut s = format!(
            "Under {}, deploy latency at p95 was {} with push and {} with pull",
            join_and(&kinds),
            dur(self.p95("push", "deploy_latency")),
            dur(self.p95("pull", "deploy_latency"))
        );
        let (ep, el) = (
            self.counter("push", "apply_errors"),
            self.counter("pull", "apply_errors"),
        );
        if ep + el > 0 {
            s.push_str(&format!(
                "; {ep} applies failed under push and {el} under pull, each retried with backoff"
            ));
        }
        let restore = |m: &str| {
            let n = self
                .metric(m, "cluster_restore")
                .map(|x| x.count)
                .unwrap_or(0);
            let missing = self.counter(m, "clusters_unrestored");
            match (n, missing) {
                (0, 0) => None,
                (0, k) => Some(format!(
                    "{m} never did ({k} rebuilt cluster(s) still missing apps at the end)"
                )),
                (_, 0) => Some(format!(
                    "{m} after a median of {}",
                    dur(self.p50(m, "cluster_restore"))
                )),
                (_, k) => Some(format!(
                    "{m} after a median of {} ({k} rebuilt cluster(s) still missing apps at the end)",
                    dur(self.p50(m, "cluster_restore"))
                )),
            }
        };
        let restores: Vec<String> = MODELS.iter().filter_map(|m| restore(m)).collect();
        if !restores.is_empty() {
            s.push_str(&format!(
                "; a rebuilt cluster ran every app again: {}",
                restores.join(", ")
            ));
        }
        s.push('.');
        Some(s)
    }

    fn cost_sentence(&self) -> String {
        let hours = simulated_hours(self.run);
        let per = |m: &str, c: &str| {
            if hours > 0.0 {
                self.counter(m, c) as f64 / hours
            } else {
                0.0
            }
        };
        let (pg, lg) = (per("push", "git_fetches"), per("pull", "git_fetches"));
        let mut s = format!(
            "Load: per scenario hour push made {} API requests and {} git fetches, pull {} API requests and {} git fetches",
            rate(per("push", "api_requests")),
            rate(pg),
            rate(per("pull", "api_requests")),
            rate(lg)
        );
        if pg > 0.0 && lg > pg {
            s.push_str(&format!(
                "; pull's polling costs {} the git traffic of push",
                times(lg, pg)
            ));
        } else if lg > 0.0 && pg > lg {
            s.push_str(&format!(
                "; push costs {} the git traffic of pull",
                times(pg, lg)
            ));
        }
        s.push('.');
        s
    }

    fn caveat_sentence(&self) -> String {
        let sm = &self.run.summary;
        // A run stopped early measured fewer repetitions than it planned.
        let reps = match sm.repetitions_run {
            Some(k) => format!("{k} of {} planned repetitions", sm.repetitions),
            None if sm.repetitions == 1 => "1 repetition".to_string(),
            None => format!("{} repetitions", sm.repetitions),
        };
        let mut s = format!(
            "Caveats: these are {}-mode results from {reps} of {}",
            sm.mode,
            human(sm.duration_s)
        );
        if let (Some(c), Some(a)) = (
            scenario_u64(self.run, "/fleet/clusters"),
            scenario_u64(self.run, "/fleet/apps"),
        ) {
            s.push_str(&format!(
                " on {c} cluster{} × {a} apps",
                if c == 1 { "" } else { "s" }
            ));
        }
        s.push_str(" and hold for this scenario's presets and distributions only");
        if let Some(b) = self.p50("push", "build").filter(|&b| b > 0.0)
            && self.p50("pull", "build").is_none()
        {
            s.push_str(&format!(
                "; push's deploy latency includes a median build of {}, which pull does not perform (it deploys manifests built elsewhere)",
                human(b)
            ));
        }
        if sm.repetitions <= 1 {
            s.push_str("; with a single repetition no confidence interval is available");
        }
        if sm.partial {
            s.push_str(if sm.repetitions_run.is_some() {
                "; the run was stopped early (interrupted, or a cluster failed), the last repetition possibly in part, so these results are partial"
            } else {
                "; the run was interrupted, so these results are partial"
            });
        }
        if !sm.unsupported_faults.is_empty() {
            s.push_str(&format!(
                "; --mode {} cannot inject {}, so the scenario's {} did not happen in this run",
                sm.mode,
                sm.unsupported_faults.join(" or "),
                if sm.unsupported_faults.len() == 1 {
                    "fault of that kind"
                } else {
                    "faults of those kinds"
                }
            ));
        }
        s.push('.');
        s
    }

    fn dora(&self) -> (Table, String) {
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

    fn results(&self) -> (Table, String) {
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

    fn counters(&self) -> Table {
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

    fn thresholds(&self) -> Table {
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
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<Vec<String>>) {
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

/// The command as run, with the program path shortened to `pushpull` (the path of the
/// binary is a property of one machine, not of the run).
pub fn command_of(run: &RunDir) -> Option<String> {
    let r = run.run.as_ref()?;
    let mut words = r.command.split(' ');
    words.next()?;
    Some(
        std::iter::once("pushpull")
            .chain(words)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

pub fn build(run: &RunDir, iv: &Intervals) -> Findings {
    let v = View { run, iv };
    let sm = &run.summary;
    let mut summary = v.speed_sentences();
    // Sentences about what the scenario did not inject are left out once the summary
    // has something else to say, so it stays within six sentences.
    let drift = MODELS.iter().any(|m| v.counter(m, "drift_events") > 0);
    let bad = MODELS.iter().any(|m| v.counter(m, "failed_deploys") > 0);
    let faults = v.fault_sentence();
    if drift || faults.is_none() {
        summary.push(v.drift_sentence());
    }
    if bad || faults.is_none() {
        summary.push(v.bad_release_sentence());
    }
    summary.extend(faults);
    summary.push(v.cost_sentence());
    summary.push(v.caveat_sentence());
    if summary.len() > 6 {
        // Keep the limit: the bootstrap sentence joins the speed sentence before it.
        let second = summary.remove(1);
        summary[0] = format!("{} {}", summary[0], second);
    }
    let (dora, dora_note) = v.dora();
    let (results, results_note) = v.results();
    let mut scenario = Table {
        head: vec!["parameter (presets expanded)".into(), "value".into()],
        rows: Vec::new(),
    };
    let description = match &run.scenario {
        Some(s) => {
            let mut rows = Vec::new();
            if let serde_json::Value::Object(map) = s {
                for (k, x) in map {
                    if k != "description" {
                        flatten(k, x, &mut rows);
                    }
                }
            }
            scenario.rows = rows;
            s.get("description")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .to_string()
        }
        None => "This run directory has no scenario.json (it was written by an older pushpull), so the scenario's parameters cannot be shown.".into(),
    };
    let command = command_of(run).unwrap_or_else(|| "unknown (no run.json)".into());
    let version = run
        .run
        .as_ref()
        .map(|r| r.pushpull_version.clone())
        .unwrap_or_else(|| "unknown".into());
    let mut reproduce = Table {
        head: vec!["".into(), "".into()],
        rows: vec![
            vec!["pushpull version".into(), version],
            vec!["mode".into(), sm.mode.clone()],
            vec!["seed".into(), sm.seed.to_string()],
            vec!["repetitions".into(), sm.repetitions.to_string()],
        ],
    };
    if let Some(f) = run
        .run
        .as_ref()
        .map(|r| r.scenario_file.clone())
        .filter(|f| !f.is_empty())
    {
        reproduce.rows.push(vec!["scenario file".into(), f]);
    }
    Findings {
        title: format!("pushpull report: {}", sm.scenario),
        subtitle: format!("{} against {}", v.label("push"), v.label("pull")),
        summary,
        dora,
        dora_note,
        results,
        results_note,
        counters: v.counters(),
        thresholds: v.thresholds(),
        description,
        scenario,
        command,
        reproduce,
    }
}

/// Each metric's definition (as the README's "What it measures" table), for the methodology section.
pub const DEFINITIONS: [(&str, &str); 11] = [
    (
        "deploy_latency",
        "one (commit, cluster) pair: commit created → every app it changed rolled out on that cluster (kubectl rollout status rules: observedGeneration current, updated = available = desired replicas, no old replicas).",
    ),
    (
        "fleet_deploy_latency",
        "one commit: commit created → rolled out on every cluster.",
    ),
    (
        "detect",
        "stage of deploy_latency: commit → picked up by the delivery model.",
    ),
    (
        "queue",
        "stage of deploy_latency: picked up → work starts (a pipeline runner, or a sync worker).",
    ),
    (
        "build",
        "stage of deploy_latency: work starts → first apply (push only: the build step).",
    ),
    (
        "apply",
        "stage of deploy_latency: first apply → last apply acknowledged.",
    ),
    (
        "rollout",
        "stage of deploy_latency: last apply acknowledged → rolled out.",
    ),
    (
        "drift_recovery",
        "one drift event: drift injected → live state equals desired again. Drift never recovered before the horizon is counted in drift_unrecovered, never silently dropped.",
    ),
    (
        "rollback",
        "one bad release: rollback decided → last good version rolled out everywhere.",
    ),
    (
        "failed_deploy_recovery",
        "one bad release: bad commit created → healthy again everywhere (DORA failed deployment recovery time).",
    ),
    (
        "cluster_restore",
        "one lost cluster: empty cluster back online → every app at its desired revision again.",
    ),
];

/// Each counter's definition.
pub const COUNTER_DEFINITIONS: [(&str, &str); 8] = [
    ("deploys", "(commit, cluster) pairs rolled out."),
    (
        "failed_deploys",
        "(commit, cluster) pairs whose rollout failed.",
    ),
    ("drift_events", "manual edits injected into clusters."),
    ("drift_unrecovered", "drift still live when the run ended."),
    (
        "api_requests",
        "object writes sent to cluster APIs (one per app per apply).",
    ),
    ("git_fetches", "git fetches and checkouts."),
    ("apply_errors", "applies the cluster API refused."),
    (
        "deploys_incomplete",
        "(commit, cluster) pairs not yet rolled out when the run ended.",
    ),
];

/// "a, b and c".
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
