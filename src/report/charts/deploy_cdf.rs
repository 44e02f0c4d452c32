//! The deploy latency CDF: for each setup, the share of deploys done within a time, on a
//! log time axis, with each setup's p50 and p95 marked.

use super::axis::{lin, log, log_range, tick};
use super::palette::{GRID, setup_color, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use crate::report::table::human;
use plotters::coord::Shift;
use plotters::prelude::*;

struct CdfSeries {
    label: String,
    color: RGBColor,
    sorted_s: Vec<f64>,
    p50: Option<f64>,
    p95: Option<f64>,
}

pub(super) struct Cdf {
    series: Vec<CdfSeries>,
}

impl Cdf {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Cdf {
        let series = setups
            .iter()
            .map(|s| {
                let m = s.name.as_str();
                let mut v: Vec<f64> = run
                    .samples(m, "deploy_latency")
                    .map(|g| g.all_values().map(|us| us as f64 / 1e6).collect())
                    .unwrap_or_default();
                v.sort_by(f64::total_cmp);
                let stats = run
                    .summary
                    .model(m)
                    .and_then(|s| s.metric("deploy_latency"));
                CdfSeries {
                    label: s.label.clone(),
                    color: setup_color(s),
                    sorted_s: v,
                    p50: stats.and_then(|s| s.p50_s),
                    p95: stats.and_then(|s| s.p95_s),
                }
            })
            .collect();
        Cdf { series }
    }
}

impl Chart for Cdf {
    const SIZE: (u32, u32) = (960, 540);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if self.series.iter().all(|s| s.sorted_s.is_empty()) {
            return no_data(root, "no deploy_latency samples in this run");
        }
        let (lo, hi) = log_range(self.series.iter().flat_map(|s| s.sorted_s.iter().copied()));
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(
                log(lo, hi),
                lin(0.0..1.0, (0..=10).map(|i| i as f64 / 10.0).collect()),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("deploy latency, commit to rolled out (log scale)")
            .y_desc("share of deploys done")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for s in &self.series {
            let n = s.sorted_s.len();
            if n == 0 {
                continue;
            }
            let mut pts = Vec::with_capacity(2 * n);
            for (i, &v) in s.sorted_s.iter().enumerate() {
                let v = v.max(lo);
                pts.push((v, i as f64 / n as f64));
                pts.push((v, (i + 1) as f64 / n as f64));
            }
            let label = format!(
                "{}: p50 {}, p95 {}",
                s.label,
                s.p50.map(human).unwrap_or_else(|| "—".into()),
                s.p95.map(human).unwrap_or_else(|| "—".into())
            );
            let color = s.color;
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
            for (q, y) in [(s.p50, 0.5), (s.p95, 0.95)] {
                if let Some(v) = q {
                    let v = v.max(lo);
                    chart
                        .draw_series([
                            Circle::new((v, y), 6, color.filled()),
                            Circle::new((v, y), 6, BLACK.stroke_width(1)),
                        ])
                        .map_err(e)?;
                }
            }
        }
        for (y, name) in [(0.5, "p50"), (0.95, "p95")] {
            chart
                .draw_series(DashedLineSeries::new(
                    [(lo, y), (hi, y)],
                    6,
                    6,
                    BLACK.mix(0.35).stroke_width(1),
                ))
                .map_err(e)?;
            chart
                .draw_series([Text::new(name, (lo * 1.03, y + 0.012), style(13))])
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.5))
            .label_font(style(15))
            .draw()
            .map_err(e)
    }
}
