//! What a report says, independent of how it is typeset: the executive summary written
//! from the numbers (`summary`), the tables (`tables`) and the definitions (`definitions`).
//! The HTML and Markdown writers only lay these out, so both say exactly the same thing.

mod censoring;
mod definitions;
mod format;
mod summary;
mod tables;

pub use definitions::{COUNTER_DEFINITIONS, DEFINITIONS, FAULT_DEFINITIONS};
pub use format::{dur, interval, percent, signed, signed_interval, times, verdict_text};
pub use tables::{change_failure_rate, deploys_per_day};

use format::join_and;
use tables::flatten;

use super::load::{MetricStats, ModelStats, RunDir};
use super::setups::{self, SetupView};
use super::stats::{DifferenceIntervals, Intervals};

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
    /// Hand edits corrected within 1m / 10m / 1h per setup (empty without hand edits).
    pub hand_edits: Table,
    pub hand_edits_note: String,
    pub counters: Table,
    /// Git traffic per setup and repository, per day (empty for older summaries).
    pub git_traffic: Table,
    pub thresholds: Table,
    pub description: String,
    pub scenario: Table,
    pub command: String,
    pub reproduce: Table,
}

/// The numbers of one run as the summary and the tables read them; every number is read
/// from summary.json, intervals.json, scenario.json or run.json.
struct View<'a> {
    run: &'a RunDir,
    iv: &'a Intervals,
    /// Every setup, in the summary's order.
    setups: Vec<SetupView>,
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
        self.setups
            .iter()
            .find(|s| s.name == m)
            .map(|s| s.label.clone())
            .unwrap_or_else(|| m.to_string())
    }
    /// Every setup's name, in order.
    fn names(&self) -> Vec<&str> {
        self.setups.iter().map(|s| s.name.as_str()).collect()
    }
    /// The baseline's name.
    fn base(&self) -> &str {
        &self.run.summary.baseline
    }
    /// Every setup but the baseline, in order.
    fn others(&self) -> Vec<&str> {
        self.setups
            .iter()
            .filter(|s| !s.baseline)
            .map(|s| s.name.as_str())
            .collect()
    }
    /// `setup − baseline` of `metric`.
    fn diff(&self, metric: &str, setup: &str) -> Option<&'a DifferenceIntervals> {
        self.iv.metric(metric).and_then(|m| m.vs_baseline(setup))
    }
    fn clusters(&self) -> u64 {
        crate::report::fleet::clusters(self.run.scenario.as_ref())
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
    let v = View {
        run,
        iv,
        setups: setups::of(run),
    };
    let sm = &run.summary;
    let mut summary = v.speed_sentences();
    // Sentences about what the scenario did not inject are left out once the summary
    // has something else to say, so it stays within six sentences.
    let drift = v.names().iter().any(|m| v.counter(m, "drift_events") > 0);
    let bad = v.names().iter().any(|m| v.counter(m, "failed_deploys") > 0);
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
    let (hand_edits, hand_edits_note) = v.hand_edits();
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
            // A fault's cluster and app are indices in scenario.json; say their names.
            for row in &mut rows {
                let Some(i) = row[1].parse::<u64>().ok() else {
                    continue;
                };
                let name = if row[0].starts_with("faults[") && row[0].ends_with("].cluster") {
                    crate::report::fleet::cluster_name(Some(s), i)
                } else if row[0].starts_with("faults[") && row[0].ends_with("].app") {
                    crate::report::fleet::app_name(Some(s), i)
                } else {
                    None
                };
                if let Some(n) = name {
                    row[1] = format!("{i} ({n})");
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
        subtitle: format!(
            "{} against {}",
            v.label(v.base()),
            join_and(
                &v.others()
                    .iter()
                    .map(|m| v.label(m))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            )
        ),
        summary,
        dora,
        dora_note,
        results,
        results_note,
        hand_edits,
        hand_edits_note,
        counters: v.counters(),
        git_traffic: v.git_traffic(),
        thresholds: v.thresholds(),
        description,
        scenario,
        command,
        reproduce,
    }
}
