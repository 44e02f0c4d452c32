//! Money: each setup's monthly cost as a bar stacked from its parts (CI runners,
//! reconcilers, git egress), with the bootstrap 95% interval of the total as a whisker
//! when there are enough repetitions.

use super::axis::{lane_label, lanes, lin, linear_count_ticks};
use super::legend::{Swatch, legend};
use super::palette::{GRID, STAGE_COLORS, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::RunDir;
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The parts of a monthly cost, bottom to top, with their colours (Okabe–Ito).
const PARTS: [(&str, RGBColor); 3] = [
    ("CI runners", STAGE_COLORS[10]),
    ("reconcilers", STAGE_COLORS[1]),
    ("git egress", STAGE_COLORS[7]),
];

struct Bar {
    label: String,
    /// USD a month per part, in `PARTS` order; `None` without a cost in the summary.
    parts: Option<[f64; 3]>,
    total: f64,
    ci: Option<[f64; 2]>,
}

pub(super) struct Money {
    bars: Vec<Bar>,
}

impl Money {
    pub(super) fn new(run: &RunDir, setups: &[SetupView]) -> Money {
        let bars = setups
            .iter()
            .map(|su| {
                let c = run.summary.model(&su.name).and_then(|m| m.cost.as_ref());
                Bar {
                    label: su.name.clone(),
                    parts: c.map(|c| [c.ci_runners_usd, c.reconcilers_usd, c.git_egress_usd]),
                    total: c.map_or(0.0, |c| c.monthly_usd),
                    ci: c.and_then(|c| c.monthly_usd_ci95),
                }
            })
            .collect();
        Money { bars }
    }
}

/// Dollars as the chart labels them.
fn usd(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else {
        format!("${v:.2}")
    }
}

impl Chart for Money {
    const SIZE: (u32, u32) = (960, 440);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let max = self
            .bars
            .iter()
            .flat_map(|b| [b.total, b.ci.map_or(0.0, |c| c[1])])
            .fold(0.0, f64::max);
        if self.bars.iter().all(|b| b.parts.is_none()) || max <= 0.0 {
            return no_data(
                root,
                "this run has no cost figures (summary.json without `cost`)",
            );
        }
        let (plot, side) = root.split_horizontally(760);
        let labels: Vec<String> = self.bars.iter().map(|b| b.label.clone()).collect();
        let top = max * 1.2;
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                lin(-0.5..(labels.len() as f64 - 0.5), lanes(labels.len())),
                lin(0.0..top, linear_count_ticks(top)),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| lane_label(&labels, *v))
            .y_label_formatter(&|v| format!("${v:.0}"))
            .y_desc("USD per 30 days")
            .bold_line_style(GRID)
            .label_style(style(15))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for (i, b) in self.bars.iter().enumerate() {
            let x = i as f64;
            let Some(parts) = b.parts else { continue };
            let mut y = 0.0;
            for (v, (_, color)) in parts.iter().zip(PARTS) {
                chart
                    .draw_series([Rectangle::new(
                        [(x - 0.3, y), (x + 0.3, y + v)],
                        color.mix(0.85).filled(),
                    )])
                    .map_err(e)?;
                y += v;
            }
            let mut above = b.total;
            if let Some([lo, hi]) = b.ci {
                chart
                    .draw_series([PathElement::new(
                        vec![(x, lo), (x, hi)],
                        BLACK.stroke_width(2),
                    )])
                    .map_err(e)?;
                for yy in [lo, hi] {
                    chart
                        .draw_series([PathElement::new(
                            vec![(x - 0.06, yy), (x + 0.06, yy)],
                            BLACK.stroke_width(2),
                        )])
                        .map_err(e)?;
                }
                above = above.max(hi);
            }
            chart
                .draw_series([Text::new(
                    format!("{}/month", usd(b.total)),
                    (x, above + max * 0.03),
                    style(15).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )])
                .map_err(e)?;
        }
        let entries: Vec<(Swatch, &str)> = PARTS
            .iter()
            .map(|(name, c)| (Swatch::Box(c.mix(0.85)), *name))
            .collect();
        legend(&side, (10, 40), &entries)
    }
}
