//! `sweep.html` and its charts next to sweep.csv: each metric against the first swept
//! parameter, one line per setup with its 95% interval as a band (none, and the point
//! called indicative, where the repetitions are too few), one panel per value of the rest.

use super::Variant;
use crate::measure::summary::Summary;
use crate::report::charts::{SweepChart, SweepPanel, SweepSeries, SweepUnit, render_sweep};
use crate::report::html::esc;
use crate::report::setups::PALETTE;
use crate::report::{ReportError, write_atomic};
use std::fmt::Write;
use std::path::Path;

/// A figure and its 95% interval, when there is one.
type Figure = Option<(f64, Option<[f64; 2]>)>;

/// One metric of the page: its chart name, title, unit and how to read it from a setup
/// of a variant's summary (value and interval).
struct Metric {
    name: &'static str,
    /// The summary metric whose p50 this is (for "> run length" when never reached).
    metric: Option<&'static str>,
    title: &'static str,
    unit: SweepUnit,
    read: fn(&Summary, &str) -> Figure,
}

fn p50(s: &Summary, setup: &str, metric: &str) -> Figure {
    let m = s.model(setup)?.metric(metric)?;
    Some((m.p50_s?, m.ci95_p50_s))
}

const METRICS: [Metric; 5] = [
    Metric {
        name: "sweep_deploy_latency",
        metric: Some("deploy_latency"),
        title: "Deploy latency p50",
        unit: SweepUnit::Duration,
        read: |s, m| p50(s, m, "deploy_latency"),
    },
    Metric {
        name: "sweep_drift_recovery",
        metric: Some("drift_recovery"),
        title: "Drift recovery p50",
        unit: SweepUnit::Duration,
        read: |s, m| p50(s, m, "drift_recovery"),
    },
    Metric {
        name: "sweep_rollback",
        metric: Some("rollback"),
        title: "Rollback p50",
        unit: SweepUnit::Duration,
        read: |s, m| p50(s, m, "rollback"),
    },
    Metric {
        name: "sweep_out_of_sync_share",
        metric: None,
        title: "Out-of-sync share (app-time live state differs from git)",
        unit: SweepUnit::Share,
        read: |s, m| {
            let x = s.model(m)?;
            Some((x.out_of_sync_share?, x.out_of_sync_share_ci95))
        },
    },
    Metric {
        name: "sweep_api_requests",
        metric: None,
        title: "Cluster API requests per scenario hour",
        unit: SweepUnit::Count,
        read: |s, m| {
            let hours = s.duration_s / 3600.0 * s.repetitions.max(1) as f64;
            let n = s.model(m)?.counter("api_requests") as f64;
            (hours > 0.0).then(|| (n / hours, None))
        },
    },
];

/// The charts of a sweep, one per metric some variant measured.
pub fn charts(variants: &[Variant], summaries: &[&Summary]) -> Vec<SweepChart> {
    let Some(first) = variants.first() else {
        return Vec::new();
    };
    let x_key = first
        .settings
        .first()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let mut x_values: Vec<String> = Vec::new();
    let mut panels: Vec<String> = Vec::new();
    for v in variants {
        let x = v.settings.first().map(|s| s.1.clone()).unwrap_or_default();
        if !x_values.contains(&x) {
            x_values.push(x);
        }
        let p = panel_of(v);
        if !panels.contains(&p) {
            panels.push(p);
        }
    }
    let setups: Vec<String> = summaries
        .first()
        .map(|s| s.models.names().map(str::to_string).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for m in &METRICS {
        let mut any = false;
        let built: Vec<SweepPanel> = panels
            .iter()
            .map(|p| SweepPanel {
                title: p.clone(),
                series: setups
                    .iter()
                    .enumerate()
                    .map(|(k, setup)| SweepSeries {
                        setup: setup.clone(),
                        color: PALETTE[k % PALETTE.len()],
                        points: variants
                            .iter()
                            .zip(summaries)
                            .filter(|(v, _)| panel_of(v) == *p)
                            .filter_map(|(v, s)| {
                                let x = v.settings.first().map(|s| s.1.as_str()).unwrap_or("");
                                let i = x_values.iter().position(|y| y == x)?;
                                let (val, ci) = (m.read)(s, setup)?;
                                any = true;
                                Some((i, val, ci))
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        if any {
            out.push(SweepChart {
                name: m.name.into(),
                title: format!("{} against {x_key}", m.title),
                caption: caption(m),
                unit: m.unit,
                x_key: x_key.clone(),
                x_values: x_values.clone(),
                panels: built,
            });
        }
    }
    out
}

fn caption(m: &Metric) -> String {
    match m.unit {
        SweepUnit::Count => "One line per setup; a count has no interval, so every point is drawn hollow.".into(),
        _ => "One line per setup; the band is the 95% interval of each variant (the run's own bootstrap over whole repetitions). A hollow point has none: its variant has too few repetitions for an honest interval, so the figure is indicative.".into(),
    }
}

/// The other swept parameters' values of a variant: its panel.
fn panel_of(v: &Variant) -> String {
    v.settings
        .iter()
        .skip(1)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `charts/<metric>.svg` and `sweep.html` into the sweep folder `dir`; returns the
/// number of charts.
pub fn write(
    dir: &Path,
    name: &str,
    variants: &[Variant],
    rows: &[(String, String, Summary)],
) -> Result<usize, ReportError> {
    let summaries: Vec<&Summary> = rows.iter().map(|r| &r.2).collect();
    let charts = charts(variants, &summaries);
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>pushpull sweep: {n}</title><style>body{{margin:0 auto;max-width:1000px;padding:1.5rem 1rem;font:16px/1.5 system-ui,sans-serif;color:#1d2125}}figure{{margin:1.2rem 0 2rem}}figure svg{{width:100%;height:auto;border:1px solid #d9dde3}}table{{border-collapse:collapse;font-size:.9rem}}th,td{{border-bottom:1px solid #d9dde3;padding:.3rem .5rem;text-align:left}}td.num{{font-variant-numeric:tabular-nums;white-space:nowrap}}figcaption b{{display:block}}.note{{color:#5b6470}}</style></head><body>",
        n = esc(name)
    );
    let _ = writeln!(body, "<h1>Sweep: {}</h1>", esc(name));
    let _ = writeln!(
        body,
        "<p class=\"note\">{} variant(s). Each variant's own report is in its folder; the figures are also in sweep.csv.</p><ul>",
        rows.len()
    );
    for (label, slug, s) in rows {
        let _ = writeln!(
            body,
            "<li><a href=\"{}/report.html\">{}</a> ({} repetition(s)){}</li>",
            esc(slug),
            esc(label),
            s.repetitions,
            if s.thresholds_ok() {
                ""
            } else {
                " <b>breached a threshold</b>"
            }
        );
    }
    let _ = writeln!(body, "</ul>");
    let mut files = 0;
    for c in &charts {
        let m = METRICS.iter().find(|m| m.name == c.name);
        let f = render_sweep(c)?;
        write_atomic(
            &dir.join("charts").join(format!("{}.svg", f.name)),
            f.svg.as_bytes(),
        )?;
        files += 1;
        let svg = f
            .svg
            .split_once("<svg")
            .map_or(f.svg.clone(), |(_, rest)| format!("<svg{rest}"));
        let _ = writeln!(
            body,
            "<figure>{svg}<figcaption><b>{}</b>{}</figcaption></figure>",
            esc(&f.title),
            esc(&f.caption)
        );
        // The same figures as a table, each with its interval or "indicative".
        let _ = writeln!(
            body,
            "<table><tr><th>{}</th><th>other parameters</th><th>setup</th><th>figure</th><th>95% interval</th></tr>",
            esc(&c.x_key)
        );
        for p in &c.panels {
            for s in &p.series {
                for &(i, v, ci) in &s.points {
                    let _ = writeln!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        esc(&c.x_values[i]),
                        esc(&p.title),
                        esc(&s.setup),
                        esc(&c.value_text(v)),
                        match (ci, c.unit) {
                            (Some([l, h]), _) =>
                                format!("{} – {}", esc(&c.value_text(l)), esc(&c.value_text(h))),
                            (None, SweepUnit::Count) => "a count".into(),
                            (None, _) => "none (indicative)".into(),
                        }
                    );
                }
            }
        }
        // A p50 the Kaplan–Meier estimate never reaches has no point: the table says
        // it is more than the variant's longest observation, never a smaller number.
        for (v, x) in variants.iter().zip(&summaries) {
            let Some(metric) = m.and_then(|m| m.metric) else {
                continue;
            };
            for (setup, ms) in x.models.iter() {
                if let Some(b) = ms
                    .metric(metric)
                    .and_then(|mm| mm.beyond(crate::metric::Quantile::P50))
                {
                    let _ = writeln!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">&gt; {}</td><td>not reached: too many still open at the end of the run</td></tr>",
                        esc(v.settings.first().map_or("", |s| s.1.as_str())),
                        esc(&panel_of(v)),
                        esc(setup),
                        esc(&crate::report::table::human(b)),
                    );
                }
            }
        }
        let _ = writeln!(body, "</table>");
    }
    let _ = writeln!(body, "</body></html>");
    write_atomic(&dir.join("sweep.html"), body.as_bytes())?;
    Ok(files)
}
