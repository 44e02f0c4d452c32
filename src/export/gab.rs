//! The JSON that benchmark-action/github-action-benchmark reads with
//! `tool: customSmallerIsBetter`: an array of `{name, unit, value, range?, extra?}`
//! (its `src/extract.ts`, the `BenchmarkResult` schema and `extractCustomBenchmarkResult`;
//! README "customBiggerIsBetter and customSmallerIsBetter"). Every duration pushpull
//! reports is better smaller; one entry per figure, so the action charts each across
//! commits and alerts when one grows past its `alert-threshold`.

use super::Run;
use serde::Serialize;

#[derive(Serialize)]
struct Entry {
    name: String,
    unit: &'static str,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    extra: String,
}

/// One entry per figure with samples, named `<scenario>/<setup>/<metric>/<stat>`, in
/// seconds; `range` is the bootstrap 95% interval where there is one.
pub fn render(run: &Run) -> String {
    let s = &run.dir.summary;
    let entries: Vec<Entry> = run
        .figures()
        .into_iter()
        .map(|f| Entry {
            name: format!("{}/{}/{}/{}", s.scenario, f.setup, f.metric, f.stat),
            unit: "s",
            value: f.value_s,
            range: f.ci95.map(|[lo, hi]| format!("95% CI [{lo}, {hi}]")),
            extra: format!(
                "setup {} ({}, preset {})\n{} samples over {} repetition(s)\n{} mode, seed {}",
                f.setup, f.kind, f.preset, f.count, s.repetitions, s.mode, s.seed
            ),
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&entries).expect("entries serialize");
    out.push('\n');
    out
}
