//! Cost: API requests and git traffic (ref checks, fetches, checkouts) per scenario hour for each setup, one bar panel
//! per counter, and the per-hour rate format the report prints them with.

use super::axis::{lane_label, lanes, lin, linear_count_ticks};
use super::palette::{GRID, setup_color, style};
use super::render::{Chart, Drawn, e};
use super::simulated_hours;
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One setup's bar: (setup, colour, per hour).
type Bar = (String, RGBColor, f64);

pub(super) struct Cost {
    /// (counter, a bar per setup)
    panels: Vec<(&'static str, Vec<Bar>)>,
}

/// API requests, then git as its hosts see it: ref checks and object fetches at the
/// config repository, CI checkouts at the source repository.
pub const COST_COUNTERS: [&str; 4] = [
    "api_requests",
    "git_ref_checks",
    "git_fetches",
    "git_checkouts",
];

impl Cost {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Cost {
        let hours = simulated_hours(run);
        let panels = COST_COUNTERS
            .iter()
            .map(|&c| {
                let per = setups
                    .iter()
                    .map(|s| {
                        let n = run
                            .summary
                            .model(&s.name)
                            .map(|x| x.counter(c))
                            .unwrap_or(0);
                        let v = if hours > 0.0 { n as f64 / hours } else { 0.0 };
                        (s.name.clone(), setup_color(s), v)
                    })
                    .collect();
                (c, per)
            })
            .collect();
        Cost { panels }
    }
}

/// A per-hour rate as the report prints it.
pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl Chart for Cost {
    const SIZE: (u32, u32) = (960, 400);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let areas = root.split_evenly((1, self.panels.len()));
        for (area, (counter, per)) in areas.iter().zip(&self.panels) {
            let labels: Vec<String> = per.iter().map(|(m, _, _)| m.clone()).collect();
            let max = per.iter().map(|x| x.2).fold(0.0, f64::max).max(1.0);
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{counter} per hour"), style(16))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(
                    lin(-0.5..(per.len() as f64 - 0.5), lanes(per.len())),
                    lin(0.0..max * 1.2, linear_count_ticks(max * 1.2)),
                )
                .map_err(e)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_label_formatter(&|v| lane_label(&labels, *v))
                .y_label_formatter(&|v| {
                    if v.fract() == 0.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    }
                })
                .bold_line_style(GRID)
                .label_style(style(14))
                .draw()
                .map_err(e)?;
            for (i, &(_, color, v)) in per.iter().enumerate() {
                let x = i as f64;
                chart
                    .draw_series([Rectangle::new(
                        [(x - 0.3, 0.0), (x + 0.3, v)],
                        color.filled(),
                    )])
                    .map_err(e)?;
                chart
                    .draw_series([Text::new(
                        rate(v),
                        (x, v + max * 0.02),
                        style(15).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(e)?;
            }
        }
        Ok(())
    }
}
