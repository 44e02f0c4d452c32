//! Drift recovery: each corrected drift event as a dot per setup on a log time axis, the
//! median marked, and the drift never corrected counted beside each row.

use super::axis::{lane_label, lanes, lin, log, log_range, tick};
use super::legend::{Swatch, legend};
use super::palette::{BAD, GRID, setup_color, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;

struct DriftRow {
    label: String,
    color: RGBColor,
    values_s: Vec<f64>,
    p50: Option<f64>,
    events: u64,
    unrecovered: u64,
}

pub(super) struct Drift {
    rows: Vec<DriftRow>,
    /// Why no hand edit was measured, when none was (`RunDir::no_drift_reason`).
    no_drift: &'static str,
}

impl Drift {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Drift {
        // Bottom to top, so the first setup is drawn at the top.
        let rows = setups
            .iter()
            .rev()
            .map(|s| {
                let m = s.name.as_str();
                let model = run.summary.model(m);
                DriftRow {
                    label: m.to_string(),
                    color: setup_color(s),
                    values_s: run
                        .samples(m, "drift_recovery")
                        .map(|g| g.all_values().map(|us| us as f64 / 1e6).collect())
                        .unwrap_or_default(),
                    p50: model
                        .and_then(|x| x.metric("drift_recovery"))
                        .and_then(|s| s.p50_s),
                    events: model.map(|x| x.counter("drift_events")).unwrap_or(0),
                    unrecovered: model.map(|x| x.counter("drift_unrecovered")).unwrap_or(0),
                }
            })
            .collect();
        Drift {
            rows,
            no_drift: run.no_drift_reason(),
        }
    }
}

/// A deterministic spread in -0.5..0.5 for the k-th point (golden-ratio sequence).
fn jitter(k: usize) -> f64 {
    (k as f64 * 0.618_033_988_749_895).fract() - 0.5
}

impl Chart for Drift {
    const SIZE: (u32, u32) = (960, 400);
    /// 400 pixels for two setups, 90 more for each further one (each row's counts take
    /// three lines beside it).
    fn size(&self) -> (u32, u32) {
        (960, 220 + 90 * self.rows.len() as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if self.rows.iter().all(|r| r.events == 0) {
            return no_data(root, &format!("no hand edit measured: {}", self.no_drift));
        }
        let (lo, hi) = log_range(self.rows.iter().flat_map(|r| r.values_s.iter().copied()));
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let (plot, side) = root.split_horizontally(root.dim_in_pixel().0 - 230);
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(
                log(lo, hi),
                lin(-0.5..(self.rows.len() as f64 - 0.5), lanes(self.rows.len())),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&|v| tick(*v))
            .x_desc("drift injected to live state equal to git again (log scale)")
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for (i, r) in self.rows.iter().enumerate() {
            let y = i as f64;
            chart
                .draw_series(r.values_s.iter().enumerate().map(|(k, &v)| {
                    Circle::new(
                        (v.max(lo), y + 0.5 * jitter(k)),
                        5,
                        r.color.mix(0.7).filled(),
                    )
                }))
                .map_err(e)?;
            if let Some(p) = r.p50 {
                chart
                    .draw_series([PathElement::new(
                        vec![(p.max(lo), y - 0.4), (p.max(lo), y + 0.4)],
                        BLACK.stroke_width(3),
                    )])
                    .map_err(e)?;
            }
        }
        // The unrecovered count beside each row, level with it.
        let mut lines = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let (_, py) = chart.backend_coord(&(lo, i as f64));
            let (_, top) = plot.get_base_pixel();
            let (_, side_top) = side.get_base_pixel();
            lines.push((py + top - side_top, r));
        }
        for (py, r) in lines {
            side.draw(&Text::new(
                format!("{}: {} drift events", r.label, r.events),
                (8, py - 22),
                style(15),
            ))
            .map_err(e)?;
            side.draw(&Text::new(
                format!("{} recovered", r.events - r.unrecovered),
                (8, py - 2),
                style(15),
            ))
            .map_err(e)?;
            let color = if r.unrecovered > 0 { BAD } else { BLACK };
            side.draw(&Text::new(
                format!("{} never recovered", r.unrecovered),
                (8, py + 18),
                style(15).color(&color),
            ))
            .map_err(e)?;
        }
        legend(
            &side,
            (8, 20),
            &[(Swatch::Line(BLACK, 3), "p50 of the recovered")],
        )
    }
}
