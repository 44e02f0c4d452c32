//! Bencher Metric Format (<https://bencher.dev/docs/reference/bencher-metric-format/>,
//! JSON Schema <https://bencher.dev/bmf.json>): `{benchmark: {measure: {value,
//! lower_value?, upper_value?}}}`. A benchmark is `<scenario>/<setup>/<metric>`, its
//! measures the statistics in seconds (`p50_s`, ...), each with its bootstrap 95%
//! interval as `lower_value`/`upper_value` where `intervals.json` has one; the counters
//! are the benchmark `<scenario>/<setup>/counters`.

use super::Run;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Measure {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upper_value: Option<f64>,
}

/// Benchmarks in the summary's order of setups and metrics (a map kept in insertion
/// order would need another dependency: names sort the same way in every run).
pub fn render(run: &Run) -> String {
    let s = &run.dir.summary;
    let mut out: BTreeMap<String, BTreeMap<String, Measure>> = BTreeMap::new();
    for f in run.figures() {
        out.entry(format!("{}/{}/{}", s.scenario, f.setup, f.metric))
            .or_default()
            .insert(
                format!("{}_s", f.stat),
                Measure {
                    value: f.value_s,
                    lower_value: f.ci95.map(|c| c[0]),
                    upper_value: f.ci95.map(|c| c[1]),
                },
            );
    }
    for (setup, m) in s.models.iter() {
        let counters = out
            .entry(format!("{}/{}/counters", s.scenario, setup))
            .or_default();
        for (name, &v) in &m.counters {
            counters.insert(
                name.clone(),
                Measure {
                    value: v as f64,
                    lower_value: None,
                    upper_value: None,
                },
            );
        }
    }
    let mut text = serde_json::to_string_pretty(&out).expect("measures serialize");
    text.push('\n');
    text
}
