//! Money: each setup's monthly cost from what a run used (CI job minutes or a runner
//! pool, reconciler CPU and memory, git egress) at the scenario's `prices:`, scaled from
//! the run's length to 30 days. Pure: reads [`RunRecord`]s and the scenario.

use super::credentials::{Placement, placement};
use super::{EventKind, RunRecord};
use crate::scenario::models::SetupConfig;
use crate::scenario::prices::{Prices, RunnerBilling};
use crate::scenario::{Nanos, Scenario, models::Setup};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Nanoseconds in the 30-day month every cost is scaled to.
pub const MONTH: Nanos = 30 * 24 * 3600 * 1_000_000_000;

/// One repetition's usage and cost over the run (not yet scaled to a month).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RepCost {
    /// CI jobs' minutes, each rounded up to a whole minute (GitHub's billing).
    pub job_minutes: f64,
    pub ci_usd: f64,
    pub reconciler_hours: f64,
    pub reconciler_usd: f64,
    pub egress_gib: f64,
    pub egress_usd: f64,
}

impl RepCost {
    pub fn total(&self) -> f64 {
        self.ci_usd + self.reconciler_usd + self.egress_usd
    }
}

/// `cost` in summary.json: a setup's monthly cost and its parts (means over
/// repetitions, scaled to 30 days).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    pub monthly_usd: f64,
    /// 95% interval over repetitions (none under 10 repetitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd_ci95: Option<[f64; 2]>,
    /// CI: GitHub-hosted job minutes, or the self-hosted pool's hours.
    pub ci_runners_usd: f64,
    pub reconcilers_usd: f64,
    pub git_egress_usd: f64,
    /// `github-hosted` or `self-hosted`.
    pub runners: String,
    /// CI job minutes a month (rounded up per job).
    pub ci_job_minutes: f64,
    /// Reconciler instance-hours a month.
    pub reconciler_hours: f64,
    /// GiB the git hosts send a month.
    pub git_egress_gib: f64,
}

/// The CI runners a setup's CI may use at once (its pipeline's, or the shared CI's for a
/// pull setup; none without a CI stage).
fn runners(s: &Scenario, setup: &Setup) -> u32 {
    match &setup.config {
        SetupConfig::Push(c) => c.runners,
        SetupConfig::Pull(_) => s.ci.as_ref().map_or(0, |c| c.runners),
    }
}

/// Reconciler instances a setup runs all the time.
fn reconcilers(s: &Scenario, setup: &Setup) -> u32 {
    match (&setup.config, placement(s, setup)) {
        (SetupConfig::Push(_), _) => 0,
        (SetupConfig::Pull(_), Placement::PerCluster) => s.fleet.clusters.get(),
        (SetupConfig::Pull(_), Placement::Hub) => 1,
    }
}

/// Each CI job's length: `run_started` to `run_succeeded`/`run_failed` of the same
/// `run=N` (a job still running at `horizon` ends there).
fn job_lengths(r: &RunRecord, horizon: Nanos) -> Vec<Nanos> {
    let mut open: BTreeMap<&str, Nanos> = BTreeMap::new();
    let mut out = Vec::new();
    for e in &r.events {
        match e.kind {
            EventKind::RunStarted => {
                open.insert(e.detail.as_str(), e.t);
            }
            EventKind::RunSucceeded | EventKind::RunFailed => {
                if let Some(at) = open.remove(e.detail.as_str()) {
                    out.push(e.t.saturating_sub(at));
                }
            }
            _ => {}
        }
    }
    out.extend(open.into_values().map(|at| horizon.saturating_sub(at)));
    out
}

/// One repetition's usage and cost over `horizon` (the run's length).
pub fn of_run(s: &Scenario, setup: &Setup, p: &Prices, r: &RunRecord, horizon: Nanos) -> RepCost {
    let hours = horizon as f64 / 3.6e12;
    let job_minutes: f64 = job_lengths(r, horizon)
        .into_iter()
        .map(|d| (d.div_ceil(60_000_000_000)).max(1) as f64)
        .fold(0.0, |a, b| a + b);
    let ci_usd = match p.runners {
        RunnerBilling::GithubHosted => job_minutes * p.github_hosted_minute_usd,
        RunnerBilling::SelfHosted => {
            runners(s, setup) as f64 * hours * p.self_hosted_runner_hour_usd
        }
    };
    let reconciler_hours = reconcilers(s, setup) as f64 * hours;
    let reconciler_usd = reconciler_hours
        * (p.reconciler_vcpu * p.vcpu_hour_usd + p.reconciler_memory_gib * p.gib_hour_usd);
    let c = &r.counters;
    let kib = c.git_ref_checks as f64 * p.git_ref_check_kib
        + c.git_fetches as f64 * p.git_fetch_kib
        + c.git_checkouts as f64 * p.git_checkout_kib;
    let egress_gib = kib / (1024.0 * 1024.0);
    RepCost {
        job_minutes,
        ci_usd,
        reconciler_hours,
        reconciler_usd,
        egress_gib,
        egress_usd: egress_gib * p.egress_gib_usd,
    }
}

/// The monthly cost over repetitions; `None` without repetitions or a run length.
pub fn monthly(p: &Prices, reps: &[RepCost], horizon: Nanos, seed: u64) -> Option<Cost> {
    if reps.is_empty() || horizon == 0 {
        return None;
    }
    let k = MONTH as f64 / horizon as f64 / reps.len() as f64;
    let sum = |f: fn(&RepCost) -> f64| reps.iter().map(f).fold(0.0, |a, b| a + b) * k;
    let totals: Vec<f64> = reps.iter().map(|r| r.total()).collect();
    let ones = vec![1.0; reps.len()];
    let scale = MONTH as f64 / horizon as f64;
    Some(Cost {
        monthly_usd: sum(RepCost::total),
        monthly_usd_ci95: super::audit::ratio_ci(&totals, &ones, seed)
            .map(|[a, b]| [a * scale, b * scale]),
        ci_runners_usd: sum(|r| r.ci_usd),
        reconcilers_usd: sum(|r| r.reconciler_usd),
        git_egress_usd: sum(|r| r.egress_usd),
        runners: match p.runners {
            RunnerBilling::GithubHosted => "github-hosted".into(),
            RunnerBilling::SelfHosted => "self-hosted".into(),
        },
        ci_job_minutes: sum(|r| r.job_minutes),
        reconciler_hours: sum(|r| r.reconciler_hours),
        git_egress_gib: sum(|r| r.egress_gib),
    })
}
