//! Hand edits surviving: for each setup, the Kaplan–Meier estimate of the share of hand
//! edits still live a given time after they were made, on a log time axis. Edits still
//! live when the run ended count as censored, so a curve that stays high is drift no one
//! corrected; each curve stops at its longest observation.

use super::axis::{lin, log, log_range, tick};
use super::legend::{Swatch, legend};
use super::palette::{GRID, setup_color, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::measure::survival::Survival;
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The share still live after each horizon of [`CorrectedWithin`], for the legend.
///
/// [`CorrectedWithin`]: crate::measure::summary::CorrectedWithin
const MARKS: [(&str, f64); 3] = [("1m", 60.0), ("10m", 600.0), ("1h", 3_600.0)];

struct Curve {
    label: String,
    color: RGBColor,
    km: Survival,
}

pub(super) struct HandEdits {
    curves: Vec<Curve>,
    /// Why no hand edit was measured, when none was (`RunDir::no_drift_reason`).
    no_drift: &'static str,
}

impl HandEdits {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> HandEdits {
        let curves = setups
            .iter()
            .map(|s| {
                let m = s.name.as_str();
                let values = |g: Option<&crate::measure::bootstrap::Groups>| -> Vec<u64> {
                    g.map(|g| g.all_values().collect()).unwrap_or_default()
                };
                Curve {
                    label: s.label.clone(),
                    color: setup_color(s),
                    km: Survival::estimate(
                        &values(run.samples(m, "drift_recovery")),
                        &values(run.censored(m, "drift_recovery")),
                    ),
                }
            })
            .collect();
        HandEdits {
            curves,
            no_drift: run.no_drift_reason(),
        }
    }
}

/// `47% at 1h` style shares still live, `?` past the curve's end.
fn still_live(km: &Survival) -> String {
    let parts: Vec<String> = MARKS
        .iter()
        .map(|&(name, s)| {
            let t = (s * 1e6) as u64;
            if t <= km.horizon || km.complete() {
                format!("{:.0}% at {name}", km.at(t) * 100.0)
            } else {
                format!("? at {name}")
            }
        })
        .collect();
    parts.join(", ")
}

impl Chart for HandEdits {
    const SIZE: (u32, u32) = (960, 480);
    /// The plot, and a legend line per setup below it.
    fn size(&self) -> (u32, u32) {
        (960, 440 + 22 * self.curves.len() as u32)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if self.curves.iter().all(|c| c.km.n == 0) {
            return no_data(root, &format!("no hand edit measured: {}", self.no_drift));
        }
        // Microseconds to seconds; the axis spans every observation, open or not.
        let (lo, hi) = log_range(self.curves.iter().filter(|c| c.km.n > 0).flat_map(|c| {
            c.km.steps()
                .iter()
                .map(|&(t, _)| t)
                .chain([c.km.horizon])
                .map(|t| t as f64 / 1e6)
                .collect::<Vec<_>>()
        }));
        let h = root.dim_in_pixel().1;
        let (plot, below) = root.split_vertically(h - 22 * self.curves.len() as u32 - 16);
        let mut chart = ChartBuilder::on(&plot)
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
            .x_desc("time since the hand edit (log scale)")
            .y_desc("share of hand edits still live")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        let mut labels = Vec::new();
        for c in &self.curves {
            if c.km.n == 0 {
                labels.push((c.color, format!("{}: no hand edit", c.label)));
                continue;
            }
            // A step curve from (lo, 1) down at each event, flat to the horizon.
            let mut pts = vec![(lo, 1.0)];
            let mut s = 1.0;
            for &(t, after) in c.km.steps() {
                let x = (t as f64 / 1e6).max(lo);
                pts.push((x, s));
                pts.push((x, after));
                s = after;
            }
            pts.push(((c.km.horizon as f64 / 1e6).max(lo), s));
            labels.push((
                c.color,
                format!(
                    "{} (n={}, {} still live at the end): {}",
                    c.label,
                    c.km.n,
                    c.km.n - c.km.events,
                    still_live(&c.km)
                ),
            ));
            chart
                .draw_series(LineSeries::new(pts, c.color.stroke_width(3)))
                .map_err(e)?;
        }
        for (name, s) in MARKS {
            if s < lo || s > hi {
                continue;
            }
            chart
                .draw_series(DashedLineSeries::new(
                    [(s, 0.0), (s, 1.0)],
                    6,
                    6,
                    BLACK.mix(0.35).stroke_width(1),
                ))
                .map_err(e)?;
            chart
                .draw_series([Text::new(name, (s * 1.03, 0.97), style(13))])
                .map_err(e)?;
        }
        let entries: Vec<(Swatch, &str)> = labels
            .iter()
            .map(|(c, t)| (Swatch::Line(*c, 3), t.as_str()))
            .collect();
        legend(&below, (86, 8), &entries)
    }
}
