//! The text exposition format that a Pushgateway, a node_exporter text-file collector or
//! an OpenMetrics scraper reads (<https://prometheus.io/docs/instrumenting/exposition_formats/>,
//! <https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>).
//! Written so that it is valid as both: gauges and summaries only (a counter's family
//! name differs between the two), `# UNIT` (a comment to the Prometheus parser) and a
//! final `# EOF`. `promtool check metrics` accepts it (`tests/export.rs`).
//!
//! Families: `pushpull_run_info`, `pushpull_duration_seconds` (a summary: quantiles 0.5,
//! 0.9, 0.95, 0.99 and 1 for the maximum, `_sum` and `_count` over every sample),
//! `pushpull_duration_ci95_seconds` (bootstrap bounds, labelled `statistic="p50"` and
//! `bound="lower"`: promtool reserves `quantile` for summaries), `pushpull_events` (the counters)
//! and `pushpull_threshold_seconds`/`pushpull_threshold_ok`.

use super::{Run, quantile_fraction};
use std::fmt::Write;

/// A label value as the format quotes it.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn family(o: &mut String, name: &str, kind: &str, unit: Option<&str>, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
    if let Some(u) = unit {
        let _ = writeln!(o, "# UNIT {name} {u}");
    }
}

pub fn render(run: &Run) -> String {
    let s = &run.dir.summary;
    let sc = s.scenario.as_str();
    let mut o = String::new();
    family(
        &mut o,
        "pushpull_run_info",
        "gauge",
        None,
        "The pushpull run these figures come from (always 1).",
    );
    let seed = s.seed.to_string();
    let reps = s.repetitions.to_string();
    let _ = writeln!(
        o,
        "pushpull_run_info{} 1",
        labels(&[
            ("scenario", sc),
            ("mode", &s.mode),
            ("seed", &seed),
            ("repetitions", &reps),
            ("baseline", &s.baseline),
        ])
    );

    let figures = run.figures();
    family(
        &mut o,
        "pushpull_duration_seconds",
        "summary",
        Some("seconds"),
        "Each metric's samples over all repetitions: quantiles from an HdrHistogram (0.1% resolution), quantile 1 the exact maximum, _sum and _count over every sample.",
    );
    for (setup, m) in s.models.iter() {
        for (metric, stats) in &m.metrics {
            let base = [
                ("scenario", sc),
                ("setup", setup),
                ("kind", m.kind.name()),
                ("preset", m.preset.as_str()),
                ("metric", metric.as_str()),
            ];
            for f in figures
                .iter()
                .filter(|f| f.setup == setup && f.metric == metric)
            {
                if let Some(q) = quantile_fraction(f.stat) {
                    let mut l = base.to_vec();
                    l.push(("quantile", q));
                    let _ = writeln!(o, "pushpull_duration_seconds{} {}", labels(&l), f.value_s);
                }
            }
            let sum = stats.mean_s.map_or(0.0, |mean| mean * stats.count as f64);
            let _ = writeln!(o, "pushpull_duration_seconds_sum{} {sum}", labels(&base));
            let _ = writeln!(
                o,
                "pushpull_duration_seconds_count{} {}",
                labels(&base),
                stats.count
            );
        }
    }

    family(
        &mut o,
        "pushpull_duration_ci95_seconds",
        "gauge",
        Some("seconds"),
        "Bounds of the seeded percentile-bootstrap 95% confidence interval of a quantile, resampling whole repetitions (intervals.json).",
    );
    for f in &figures {
        let Some([lo, hi]) = f.ci95 else {
            continue;
        };
        for (bound, v) in [("lower", lo), ("upper", hi)] {
            let l = labels(&[
                ("scenario", sc),
                ("setup", f.setup),
                ("kind", f.kind),
                ("preset", f.preset),
                ("metric", f.metric),
                ("statistic", f.stat),
                ("bound", bound),
            ]);
            let _ = writeln!(o, "pushpull_duration_ci95_seconds{l} {v}");
        }
    }

    family(
        &mut o,
        "pushpull_events",
        "gauge",
        None,
        "pushpull's counters of the run (deploys, drift_events, api_requests, ...), summed over all repetitions.",
    );
    for (setup, m) in s.models.iter() {
        for (name, v) in &m.counters {
            let l = labels(&[
                ("scenario", sc),
                ("setup", setup),
                ("kind", m.kind.name()),
                ("preset", m.preset.as_str()),
                ("counter", name.as_str()),
            ]);
            let _ = writeln!(o, "pushpull_events{l} {v}");
        }
    }

    if !s.thresholds.is_empty() {
        family(
            &mut o,
            "pushpull_threshold_seconds",
            "gauge",
            Some("seconds"),
            "The largest value a scenario threshold allows for a figure.",
        );
        let threshold_labels = |t: &crate::report::load::ThresholdStats| {
            let kind = s.model(&t.model).map_or("", |m| m.kind.name());
            let mut l = vec![
                ("scenario", sc),
                ("setup", t.model.as_str()),
                ("kind", kind),
                ("metric", t.metric.as_str()),
                ("statistic", t.statistic()),
            ];
            // A threshold on part of the fleet: which part (two on one figure differ here).
            if let Some(sel) = &t.selection {
                l.push(("selection", sel.as_str()));
            }
            labels(&l)
        };
        for t in &s.thresholds {
            let _ = writeln!(
                o,
                "pushpull_threshold_seconds{} {}",
                threshold_labels(t),
                t.max_s
            );
        }
        family(
            &mut o,
            "pushpull_threshold_ok",
            "gauge",
            None,
            "1 if the figure held its scenario threshold, 0 if it was breached.",
        );
        for t in &s.thresholds {
            let _ = writeln!(
                o,
                "pushpull_threshold_ok{} {}",
                threshold_labels(t),
                u8::from(t.ok)
            );
        }
    }
    o.push_str("# EOF\n");
    o
}
