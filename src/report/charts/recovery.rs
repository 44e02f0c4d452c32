//! Bad releases: the median rollback and failed-deploy recovery of each setup as bars,
//! with bootstrap 95% confidence whiskers when there are repetitions to resample.

use super::axis::{lane_label, lanes, lin, linear_duration_ticks, tick};
use super::legend::{Swatch, legend};
use super::palette::{GRID, setup_color, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use crate::report::table::human;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

struct Bar {
    model: String,
    color: RGBColor,
    p50: Option<f64>,
    ci: Option<[f64; 2]>,
}

pub(super) struct Recovery {
    groups: Vec<(&'static str, Vec<Bar>)>,
    /// (label, colour) of each setup, for the legend drawn with more than two.
    legend: Vec<(String, RGBColor)>,
    /// Under `MIN_REPETITIONS`: the figures are indicative, drawn without intervals.
    indicative: bool,
}

pub const RECOVERY_METRICS: [&str; 2] = ["rollback", "failed_deploy_recovery"];

impl Recovery {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Recovery {
        let groups = RECOVERY_METRICS
            .iter()
            .map(|&metric| {
                let bars = setups
                    .iter()
                    .map(|su| {
                        let s = run.summary.model(&su.name).and_then(|x| x.metric(metric));
                        Bar {
                            model: su.name.clone(),
                            color: setup_color(su),
                            p50: s.and_then(|s| s.p50_s),
                            ci: s.and_then(|s| s.ci95_p50_s),
                        }
                    })
                    .collect();
                (metric, bars)
            })
            .collect();
        Recovery {
            groups,
            legend: setups
                .iter()
                .map(|s| (s.label.clone(), setup_color(s)))
                .collect(),
            indicative: (run.summary.repetitions as usize)
                < crate::measure::bootstrap::MIN_REPETITIONS,
        }
    }
}

impl Chart for Recovery {
    const SIZE: (u32, u32) = (960, 460);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let max = self
            .groups
            .iter()
            .flat_map(|(_, bars)| bars.iter())
            .flat_map(|b| [b.p50.unwrap_or(0.0), b.ci.map(|c| c[1]).unwrap_or(0.0)])
            .fold(0.0, f64::max);
        if max <= 0.0 {
            return no_data(root, "no bad release was injected in this run");
        }
        let labels: Vec<String> = self.groups.iter().map(|(m, _)| m.to_string()).collect();
        // Headroom above the tallest bar; with more than two setups also room for the
        // legend of 22 pixels a setup at the top of the plot (about 380 pixels high).
        let n = self.legend.len();
        let top = if n > 2 {
            1.0 / (0.95 - (34.0 + 22.0 * n as f64) / 380.0)
        } else {
            1.18
        };
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(
                lin(-0.5..(labels.len() as f64 - 0.5), lanes(labels.len())),
                lin(0.0..max * top, linear_duration_ticks(max * top)),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| lane_label(&labels, *v))
            .y_label_formatter(&|v| tick(*v))
            .y_desc("median time (p50)")
            .bold_line_style(GRID)
            .label_style(style(15))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        // Each group is 0.8 wide, split evenly between the setups (two: at ±0.2, bars
        // 0.34 wide); with more than two a bar's label gives its value only and a legend
        // names the colours.
        let n = n.max(1);
        let slot = 0.8 / n as f64;
        let many = n > 2;
        for (gi, (_, bars)) in self.groups.iter().enumerate() {
            for (bi, b) in bars.iter().enumerate() {
                let color = b.color;
                let x = gi as f64 - 0.4 + slot * (bi as f64 + 0.5);
                let half = slot * 0.425;
                let Some(p) = b.p50 else {
                    chart
                        .draw_series([Text::new(
                            if many {
                                "none".to_string()
                            } else {
                                format!("{}: no samples", b.model)
                            },
                            (x, max * 0.05),
                            style(13).pos(Pos::new(HPos::Center, VPos::Bottom)),
                        )])
                        .map_err(e)?;
                    continue;
                };
                chart
                    .draw_series([Rectangle::new(
                        [(x - half, 0.0), (x + half, p)],
                        color.mix(0.85).filled(),
                    )])
                    .map_err(e)?;
                let top = b.ci.map(|c| c[1].max(p)).unwrap_or(p);
                chart
                    .draw_series([Text::new(
                        if many {
                            human(p)
                        } else {
                            format!("{} {}", b.model, human(p))
                        },
                        (x, top + max * 0.02),
                        style(if many { 13 } else { 14 }).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(e)?;
                if let Some([lo, hi]) = b.ci {
                    let w = (slot * 0.125).min(0.05);
                    chart
                        .draw_series([
                            PathElement::new(vec![(x, lo), (x, hi)], BLACK.stroke_width(2)),
                            PathElement::new(vec![(x - w, lo), (x + w, lo)], BLACK.stroke_width(2)),
                            PathElement::new(vec![(x - w, hi), (x + w, hi)], BLACK.stroke_width(2)),
                        ])
                        .map_err(e)?;
                }
            }
        }
        if self.indicative {
            let (w, _) = root.dim_in_pixel();
            root.draw(&Text::new(
                format!(
                    "indicative: under {} repetitions no confidence interval",
                    crate::measure::bootstrap::MIN_REPETITIONS
                ),
                (w as i32 - 24, 24),
                style(14).pos(Pos::new(HPos::Right, VPos::Top)),
            ))
            .map_err(e)?;
        }
        if many {
            let entries: Vec<(Swatch, &str)> = self
                .legend
                .iter()
                .map(|(l, c)| (Swatch::Box(c.mix(0.85)), l.as_str()))
                .collect();
            let y = if self.indicative { 50 } else { 24 };
            legend(root, (130, y), &entries)?;
        }
        Ok(())
    }
}
