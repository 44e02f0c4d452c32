//! Where a deploy spends its time, as a waterfall of means: per setup, one bar per stage
//! the run measured, each starting where the previous one ended, and the mean
//! deploy_latency of the same completed deploys at the end, which the stages add up to.

use super::STAGES;
use super::axis::{lane_label, lanes, lin, linear_duration_ticks, tick};
use super::palette::{GRID, STAGE_COLORS, setup_color, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use crate::report::table::human;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One setup's waterfall: the mean of each measured stage over its completed deploys, in
/// `STAGES` order, and the mean deploy_latency of those deploys.
#[derive(Clone, Debug, PartialEq)]
pub struct Waterfall {
    pub setup: String,
    /// (stage, index in `STAGES`, mean seconds), stages without a sample left out.
    pub stages: Vec<(&'static str, usize, f64)>,
    /// Mean deploy_latency of the completed deploys (what the stages add up to).
    pub total_s: f64,
    /// Completed deploys behind the means.
    pub n: usize,
    /// Deploys still rolling out when the run ended: in the Kaplan–Meier mean of
    /// deploy_latency (summary.json), not in these means, since their stages are not over.
    pub open: usize,
}

fn mean_of(run: &RunDir, setup: &str, metric: &str) -> Option<(f64, usize)> {
    let g = run.samples(setup, metric)?;
    let (mut sum, mut n) = (0u128, 0usize);
    for v in g.all_values() {
        sum += v as u128;
        n += 1;
    }
    (n > 0).then(|| (sum as f64 / n as f64 / 1e6, n))
}

/// The waterfall of `setup` from the run's samples, `None` without a completed deploy.
pub fn waterfall(run: &RunDir, setup: &str) -> Option<Waterfall> {
    let (total_s, n) = mean_of(run, setup, "deploy_latency")?;
    let stages = STAGES
        .iter()
        .enumerate()
        .filter_map(|(k, st)| mean_of(run, setup, st).map(|(m, _)| (*st, k, m)))
        .collect();
    let open = run
        .censored(setup, "deploy_latency")
        .map_or(0, |g| g.all_values().count());
    Some(Waterfall {
        setup: setup.to_string(),
        stages,
        total_s,
        n,
        open,
    })
}

/// One row of the chart, top to bottom.
enum Row {
    Stage {
        start: f64,
        mean: f64,
        color: RGBColor,
    },
    Total {
        mean: f64,
        color: RGBColor,
        note: String,
    },
    Gap,
}

pub(super) struct Stages {
    rows: Vec<(String, Row)>,
    max: f64,
}

impl Stages {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Stages {
        let mut rows = Vec::new();
        let mut max = 0.0f64;
        for s in setups {
            let Some(w) = waterfall(run, &s.name) else {
                continue;
            };
            if !rows.is_empty() {
                rows.push((String::new(), Row::Gap));
            }
            let mut start = 0.0;
            for &(st, k, mean) in &w.stages {
                rows.push((
                    format!("{} · {st}", s.name),
                    Row::Stage {
                        start,
                        mean,
                        color: STAGE_COLORS[k],
                    },
                ));
                start += mean;
            }
            let mut note = format!("= {} (n={})", human(w.total_s), w.n);
            if w.open > 0 {
                note.push_str(&format!(", {} still rolling out not in it", w.open));
            }
            max = max.max(w.total_s).max(start);
            rows.push((
                format!("{} · deploy_latency", s.name),
                Row::Total {
                    mean: w.total_s,
                    color: setup_color(s),
                    note,
                },
            ));
        }
        // Lane 0 is at the bottom: the first setup's first stage goes on top.
        rows.reverse();
        Stages { rows, max }
    }
}

impl Chart for Stages {
    const SIZE: (u32, u32) = (960, 440);
    /// 26 pixels a row, at least 240.
    fn size(&self) -> (u32, u32) {
        (960, (130 + 26 * self.rows.len() as u32).max(240))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if self.max <= 0.0 {
            return no_data(root, "no completed deploy in this run");
        }
        let n = self.rows.len();
        let labels: Vec<String> = self.rows.iter().map(|(l, _)| l.clone()).collect();
        // Room on the right of the longest bar for its value label.
        let hi = self.max * 1.6;
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(200)
            .build_cartesian_2d(
                lin(0.0..hi, linear_duration_ticks(hi)),
                lin(
                    -0.6..(n as f64 - 0.4),
                    lanes(n)
                        .into_iter()
                        .filter(|&y| !matches!(self.rows[y as usize].1, Row::Gap))
                        .collect(),
                ),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&|v| tick(*v))
            .x_desc("mean time within one deploy (each stage starts where the previous ended)")
            .bold_line_style(GRID)
            .label_style(style(13))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        let left = style(13).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, (_, row)) in self.rows.iter().enumerate() {
            let y = i as f64;
            let (x0, x1, color, text) = match row {
                Row::Gap => continue,
                Row::Stage { start, mean, color } => {
                    (*start, start + mean, *color, format!("+{}", human(*mean)))
                }
                Row::Total { mean, color, note } => (0.0, *mean, *color, note.clone()),
            };
            // A bar of zero length (deploy_start of a push run) still shows as a hairline.
            chart
                .draw_series([
                    Rectangle::new([(x0, y - 0.32), (x1, y + 0.32)], color.filled()),
                    Rectangle::new([(x0, y - 0.32), (x1, y + 0.32)], BLACK.mix(0.4)),
                ])
                .map_err(e)?;
            if let Row::Stage { .. } = row {
                // The connector from this stage's end to the next stage's start (below).
                chart
                    .draw_series([PathElement::new(
                        vec![(x1, y - 0.32), (x1, y - 0.68)],
                        BLACK.mix(0.35).stroke_width(1),
                    )])
                    .map_err(e)?;
            }
            chart
                .draw_series([Text::new(text, (x1 + self.max * 0.01, y), left.clone())])
                .map_err(e)?;
        }
        Ok(())
    }
}
