//! The report's charts, drawn with plotters from a loaded run directory: one file per chart
//! (data prepared from the run plus one `draw` for any backend, so SVG and PNG agree), the
//! shared `axis`, `legend` and `palette`, and `render`. Output depends only on the input.

mod axis;
mod cost;
mod deploy_cdf;
mod drift;
mod legend;
mod palette;
mod recovery;
mod render;
mod stages;
mod timeline;

pub use cost::{COST_COUNTERS, rate};
pub use recovery::RECOVERY_METRICS;
pub use render::{ChartError, ChartFile};
pub use timeline::MAX_LANES;

use super::font;
use super::load::RunDir;
use cost::Cost;
use deploy_cdf::Cdf;
use drift::Drift;
use recovery::Recovery;
use render::{Job, in_parallel, render};
use stages::Stages;
use timeline::Timeline;

pub const STAGES: [&str; 5] = ["detect", "queue", "build", "apply", "rollout"];
pub const MODELS: [&str; 2] = ["push", "pull"];

/// "push (github-actions)" when the scenario names a preset, else "push".
pub fn model_label(run: &RunDir, model: &str) -> String {
    run.scenario
        .as_ref()
        .and_then(|s| s.pointer(&format!("/models/{model}/preset")))
        .and_then(|p| p.as_str())
        .map(|p| format!("{model} ({p})"))
        .unwrap_or_else(|| model.to_string())
}

/// Repetitions × scenario hours: the denominator of every per-hour rate.
pub fn simulated_hours(run: &RunDir) -> f64 {
    run.summary.duration_s / 3600.0 * run.summary.repetitions.max(1) as f64
}

/// Every chart of the report, in report order. The charts are drawn and encoded in
/// parallel (one thread per core); each chart's bytes depend only on the run, so the
/// output is the same whatever the number of threads.
pub fn all(run: &RunDir) -> Result<Vec<ChartFile>, ChartError> {
    all_on(run, &MODELS)
}

/// Every chart of `models`' results, in report order.
fn all_on(run: &RunDir, models: &[&'static str]) -> Result<Vec<ChartFile>, ChartError> {
    font::register();
    let mut jobs: Vec<Job> = vec![
        Box::new(|| {
            render(
                &Cdf::new(run, models),
                "deploy_latency_cdf",
                "Deploy latency: share of deploys done within a time".into(),
                "The curve further left deploys faster; dots mark each model's p50 and p95 (note the log time axis).",
            )
        }),
        Box::new(|| {
            render(
                &Stages::new(run, models),
                "stages",
                "Where a deploy spends its time, by stage".into(),
                "Each bar splits deploy latency into stages; the black tick is the deploy_latency quantile itself (each stage's quantile is computed on its own, so the stages need not add up to it).",
            )
        }),
        Box::new(|| {
            render(
                &Drift::new(run, models),
                "drift_recovery",
                "Drift recovery: how long a manual edit survives".into(),
                "Each dot is one corrected drift event; drift never corrected before the end of the run is counted on the right, not dropped.",
            )
        }),
        Box::new(|| {
            render(
                &Recovery::new(run, models),
                "recovery",
                "Bad releases: rollback and failed-deploy recovery".into(),
                "Bars are medians; whiskers are bootstrap 95% confidence intervals over repetitions (absent with a single repetition).",
            )
        }),
    ];
    for &model in models {
        jobs.push(Box::new(move || {
            render(
                &Timeline::new(run, model),
                if model == "push" {
                    "timeline_push"
                } else {
                    "timeline_pull"
                },
                format!("Timeline of repetition 0: {}", model_label(run, model)),
                if model == "push" {
                    "Push: the live revision of each cluster (coloured) follows the desired revision in git (grey); shaded spans are live drift (orange) and a bad release until its rollback completed (red)."
                } else {
                    "Pull: the same timeline for the reconciler; compare how long the orange drift spans last and how closely live follows git."
                },
            )
        }));
    }
    jobs.push(Box::new(|| {
        render(
            &Cost::new(run, models),
            "cost",
            "Cost: load on the cluster API and on git, per scenario hour".into(),
            "Push writes to the cluster API only when it deploys; pull also polls git continuously, which shows as git fetches per hour.",
        )
    }));
    // The timelines take longest (a lane per cluster): started first, they finish with the
    // rest instead of after it.
    let timelines = 4..4 + models.len();
    let order: Vec<usize> = timelines
        .clone()
        .chain((0..jobs.len()).filter(|i| !timelines.contains(i)))
        .collect();
    in_parallel(&jobs, &order)
}
