//! Where a deploy spends its time: per setup and quantile, one bar split into the deploy
//! stages, with the deploy_latency quantile itself as a tick.

use super::STAGES;
use super::axis::{lane_label, lanes, lin, linear_duration_ticks, tick};
use super::palette::{GRID, STAGE_COLORS, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::{MetricStats, RunDir};
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;

struct StageRow {
    label: String,
    stages: [f64; STAGES.len()],
    total: Option<f64>,
}

pub(super) struct Stages {
    rows: Vec<StageRow>,
}

impl Stages {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Stages {
        let mut rows = Vec::new();
        for s in setups {
            let m = s.name.as_str();
            let model = run.summary.model(m);
            for (q, pick) in [
                ("p50", (|s| s.p50_s) as fn(&MetricStats) -> Option<f64>),
                ("p95", |s| s.p95_s),
            ] {
                let get = |name: &str| model.and_then(|x| x.metric(name)).and_then(pick);
                rows.push(StageRow {
                    label: format!("{m} {q}"),
                    stages: STAGES.map(|st| get(st).unwrap_or(0.0)),
                    total: get("deploy_latency"),
                });
            }
        }
        // Top to bottom in the setups' order: first p50, first p95, second p50, ...
        rows.reverse();
        Stages { rows }
    }
}

impl Chart for Stages {
    const SIZE: (u32, u32) = (960, 440);
    /// 440 pixels for two setups, 100 more for each further one.
    fn size(&self) -> (u32, u32) {
        (960, 240 + 50 * self.rows.len() as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let max = self
            .rows
            .iter()
            .map(|r| r.stages.iter().sum::<f64>().max(r.total.unwrap_or(0.0)))
            .fold(0.0, f64::max);
        if max <= 0.0 {
            return no_data(root, "no deploy stage samples in this run");
        }
        let n = self.rows.len();
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            // Room on the right for the legend (eight stages and the tick), clear of the bars.
            .build_cartesian_2d(
                lin(0.0..max * 1.3, linear_duration_ticks(max * 1.3)),
                lin(-0.5..(n as f64 - 0.5), lanes(n)),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&|v| tick(*v))
            .x_desc("time within one deploy")
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for (k, stage) in STAGES.iter().enumerate() {
            // The environments' stages only in runs with environments (the chart of any
            // other run stays as it was).
            if matches!(*stage, "promotion" | "gate")
                && self.rows.iter().all(|r| r.stages[k] == 0.0)
            {
                continue;
            }
            let color = STAGE_COLORS[k];
            let rects: Vec<_> = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let x0: f64 = r.stages[..k].iter().sum();
                    let y = i as f64;
                    Rectangle::new([(x0, y - 0.3), (x0 + r.stages[k], y + 0.3)], color.filled())
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(e)?
                .label(*stage)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        let ticks: Vec<_> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.total.map(|t| {
                    PathElement::new(
                        vec![(t, i as f64 - 0.42), (t, i as f64 + 0.42)],
                        BLACK.stroke_width(3),
                    )
                })
            })
            .collect();
        chart
            .draw_series(ticks)
            .map_err(e)?
            .label("deploy_latency")
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 7, y - 8), (x + 7, y + 8)], BLACK.stroke_width(3))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.5))
            .label_font(style(14))
            .draw()
            .map_err(e)
    }
}
