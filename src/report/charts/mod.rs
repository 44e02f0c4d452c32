//! The report's charts, drawn with plotters from a loaded run directory: one file per chart
//! (data prepared from the run plus one `draw` for any backend, so SVG and PNG agree), the
//! shared `axis`, `legend` and `palette`, and `render`. Output depends only on the input.

mod axis;
mod cost;
mod deploy_cdf;
mod drift;
mod in_sync;
mod legend;
mod money;
mod palette;
mod recovery;
mod render;
mod stages;
mod survival;
mod sweep;
mod timeline;

pub use cost::{COST_COUNTERS, rate};
pub use in_sync::{SyncShare, sync_share};
pub use recovery::RECOVERY_METRICS;
pub use render::{ChartError, ChartFile};
pub use stages::{Waterfall, waterfall};
pub use sweep::{SweepChart, SweepPanel, SweepSeries, SweepUnit, render_sweep};
pub use timeline::MAX_LANES;

use super::font;
use super::load::RunDir;
use super::setups::{self, SetupView};
use crate::metric::ModelKind;
use cost::Cost;
use deploy_cdf::Cdf;
use drift::Drift;
use in_sync::InSync;
use money::Money;
use recovery::Recovery;
use render::{Job, in_parallel, render};
use stages::Stages;
use survival::HandEdits;
use timeline::Timeline;

/// The stages of deploy_latency, in the order a deploy passes them (`api_throttle_wait`
/// only with an Argo CD hub).
pub const STAGES: [&str; 11] = [
    "ci_queue",
    "build",
    "write_back",
    "promotion",
    "gate",
    "deploy_start",
    "detect",
    "queue",
    "api_throttle_wait",
    "apply",
    "rollout",
];
/// Repetitions × scenario hours: the denominator of every per-hour rate.
pub fn simulated_hours(run: &RunDir) -> f64 {
    run.summary.duration_s / 3600.0 * run.summary.repetitions.max(1) as f64
}

/// Every chart of the report, in report order, each setup in the summary's order with
/// its colour and label (`report::setups`), one timeline per setup. The charts are drawn
/// and encoded in parallel (one thread per core); each chart's bytes depend only on the
/// run, so the output is the same whatever the number of threads.
pub fn all(run: &RunDir) -> Result<Vec<ChartFile>, ChartError> {
    font::register();
    let setups = setups::of(run);
    let setups = setups.as_slice();
    let mut jobs: Vec<Job> = vec![
        Box::new(|| {
            render(
                &Cdf::new(run, setups),
                "deploy_latency_cdf".into(),
                "Deploy latency: share of deploys done within a time".into(),
                "The curve further left deploys faster; dots mark each setup's p50 and p95 (note the log time axis).".into(),
            )
        }),
        Box::new(|| {
            render(
                &Stages::new(run, setups),
                "stages".into(),
                "Where a deploy spends its time: mean of each stage".into(),
                "A waterfall per setup: each stage's mean over the completed deploys starts where the previous one ended, and they add up to the mean deploy_latency of the same deploys (the last bar). Deploys still rolling out when the run ended have no complete stages, so they are left out here; the table's deploy_latency mean counts them (Kaplan–Meier), which makes it a little higher.".into(),
            )
        }),
        Box::new(|| {
            render(
                &Drift::new(run, setups),
                "drift_recovery".into(),
                "Drift recovery: how long a manual edit survives".into(),
                "Each dot is one corrected drift event; drift never corrected before the end of the run is counted on the right, not dropped.".into(),
            )
        }),
        Box::new(|| {
            render(
                &Recovery::new(run, setups),
                "recovery".into(),
                "Bad releases: rollback and failed-deploy recovery".into(),
                "Bars are medians; whiskers are bootstrap 95% confidence intervals over repetitions (absent with a single repetition).".into(),
            )
        }),
    ];
    for (i, setup) in setups.iter().enumerate() {
        let clusters = timeline::clusters(run, setup);
        jobs.push(Box::new(move || {
            if clusters > MAX_LANES {
                // A lane per cluster would be many identical lanes: the share in sync.
                render(
                    &InSync::new(run, setup, clusters),
                    format!("timeline_{}", setup.name),
                    format!("In sync with git over repetition 0: {}", setup.label),
                    in_sync_caption(setup, clusters, i == 0),
                )
            } else {
                render(
                    &Timeline::new(run, setup),
                    format!("timeline_{}", setup.name),
                    format!("Timeline of repetition 0: {}", setup.label),
                    timeline_caption(setup, i == 0),
                )
            }
        }));
    }
    jobs.push(Box::new(|| {
        render(
            &Cost::new(run, setups),
            "cost".into(),
            "Cost: load on the cluster API and on git, per scenario hour".into(),
            "A push setup writes to the cluster API only when it deploys; a pull setup also checks git continuously, which shows as git ref checks and fetches per hour.".into(),
        )
    }));
    jobs.push(Box::new(|| {
        render(
            &HandEdits::new(run, setups),
            "hand_edit_survival".into(),
            "Hand edits still live, by time since the edit".into(),
            "Kaplan–Meier estimate per setup: edits still live when the run ended count as censored, not dropped, so a curve that stays high is drift nobody corrected; each curve ends at its longest observation, and a median the curve never reaches is reported as more than that.".into(),
        )
    }));
    // The timelines take longest (a lane per cluster): started first, they finish with the
    // rest instead of after it.
    jobs.push(Box::new(|| {
        render(
            &Money::new(run, setups),
            "money".into(),
            "Money: monthly cost per setup at the scenario's prices".into(),
            "Each bar is the run's use scaled to 30 days: CI job minutes (or a self-hosted pool's hours), reconciler CPU and memory requests around the clock, and git egress; the whisker is the bootstrap 95% interval of the total over repetitions. Prices and their sources are in docs/PRESETS.md.".into(),
        )
    }));
    let timelines = 4..4 + setups.len();
    let order: Vec<usize> = timelines
        .clone()
        .chain((0..jobs.len()).filter(|i| !timelines.contains(i)))
        .collect();
    in_parallel(&jobs, &order)
}

/// A setup named after its kind (`push`, `pull`) opens a sentence capitalised.
fn who(s: &SetupView) -> String {
    if s.name == s.kind.name() {
        let mut c = s.name.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    } else {
        s.name.clone()
    }
}

/// What to read from a large fleet's share-in-sync chart; the first one explains it.
fn in_sync_caption(s: &SetupView, clusters: usize, first: bool) -> String {
    let who = who(s);
    if first {
        format!(
            "{who}: with {clusters} clusters a lane each would be unreadable, so the chart shows the share of cluster × app pairs whose live revision is the one git names and that carry no hand edit (solid), and the share of clusters with every app in sync (thin); shaded spans are faults (grey) and a bad release until its rollback completed (red)."
        )
    } else {
        format!(
            "{who}: the same share in sync; compare how deep each commit's dip goes and how fast the line returns to 100%."
        )
    }
}

/// What to read from a setup's timeline; the first one explains the marks.
fn timeline_caption(s: &SetupView, first: bool) -> String {
    let who = who(s);
    if first {
        format!(
            "{who}: the live revision of each cluster (coloured) follows the desired revision in git (grey); shaded spans are live drift (orange) and a bad release until its rollback completed (red)."
        )
    } else {
        let what = match s.kind {
            ModelKind::Push => "pipeline",
            ModelKind::Pull => "reconciler",
        };
        format!(
            "{who}: the same timeline for the {what}; compare how long the orange drift spans last and how closely live follows git."
        )
    }
}
