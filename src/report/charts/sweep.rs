//! The charts of a sweep's page (sweep.html): one metric against the first swept
//! parameter, one line per setup with its 95% interval as a band, and one panel per value
//! of the other swept parameters (small multiples sharing the y axis).

use super::axis::{lin, linear_count_ticks, linear_duration_ticks, tick};
use super::palette::{GRID, style};
use super::render::{Chart, ChartError, ChartFile, Drawn, e, no_data, render};
use crate::report::table::human;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How a sweep metric's values read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SweepUnit {
    /// Seconds, labelled as durations.
    Duration,
    /// A share 0..=1, labelled as a percentage.
    Share,
    /// A count or rate, labelled as a number.
    Count,
}

/// One setup's line in one panel: (index into the x values, value, 95% interval).
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSeries {
    pub setup: String,
    pub color: (u8, u8, u8),
    pub points: Vec<(usize, f64, Option<[f64; 2]>)>,
}

/// One panel: the variants sharing the values of the other swept parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPanel {
    /// `fleet.clusters=10`, or empty with a single swept parameter.
    pub title: String,
    pub series: Vec<SweepSeries>,
}

/// One metric of a sweep against its first parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepChart {
    /// File stem under `charts/`.
    pub name: String,
    pub title: String,
    pub caption: String,
    pub unit: SweepUnit,
    /// The first swept parameter and its values, in the order given.
    pub x_key: String,
    pub x_values: Vec<String>,
    pub panels: Vec<SweepPanel>,
}

impl SweepChart {
    /// Positions on the x axis: the values themselves when every one is a number (so
    /// 50 and 100 are as far apart as they are), else evenly spaced.
    fn x_pos(&self) -> Vec<f64> {
        let nums: Option<Vec<f64>> = self.x_values.iter().map(|v| number(v.trim())).collect();
        match nums {
            Some(n) if n.len() > 1 && n.windows(2).all(|w| w[0] != w[1]) => n,
            _ => (0..self.x_values.len()).map(|i| i as f64).collect(),
        }
    }

    fn label(&self, v: f64) -> String {
        match self.unit {
            SweepUnit::Duration => tick(v),
            SweepUnit::Share => format!("{:.1}%", v * 100.0),
            SweepUnit::Count => {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            }
        }
    }

    /// A value as the page's table prints it.
    pub fn value_text(&self, v: f64) -> String {
        match self.unit {
            SweepUnit::Duration => human(v),
            SweepUnit::Share => format!("{:.2}%", v * 100.0),
            SweepUnit::Count => format!("{v:.1}"),
        }
    }
}

/// A plain number, or a duration as scenarios write it (`90s`, `5m`, `1h30m`) in seconds.
fn number(v: &str) -> Option<f64> {
    if let Ok(x) = v.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    let (mut total, mut num) = (0.0, String::new());
    let mut chars = v.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0.001
        } else {
            match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86400.0,
                _ => return None,
            }
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
        any = true;
    }
    (any && num.is_empty() && total.is_finite()).then_some(total)
}

struct Drawing<'a>(&'a SweepChart);

impl Chart for Drawing<'_> {
    const SIZE: (u32, u32) = (960, 420);
    fn size(&self) -> (u32, u32) {
        let rows = self.0.panels.len().div_ceil(3).max(1) as u32;
        (960, 60 + 360 * rows)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let c = self.0;
        let hi = c
            .panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| &s.points)
            .map(|&(_, v, ci)| ci.map_or(v, |[_, h]| h.max(v)))
            .fold(0.0f64, f64::max);
        if c.panels
            .iter()
            .all(|p| p.series.iter().all(|s| s.points.is_empty()))
        {
            return no_data(root, "no variant measured this");
        }
        let hi = if hi > 0.0 { hi * 1.15 } else { 1.0 };
        let yticks = match c.unit {
            SweepUnit::Duration => linear_duration_ticks(hi),
            _ => linear_count_ticks(hi),
        };
        let xs = c.x_pos();
        let (lo_x, hi_x) = (
            xs.iter().copied().fold(f64::INFINITY, f64::min),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let pad = ((hi_x - lo_x) * 0.08).max(0.5);
        let cols = c.panels.len().clamp(1, 3);
        let rows = c.panels.len().div_ceil(3).max(1);
        let areas = root.split_evenly((rows, cols));
        for (k, (panel, area)) in c.panels.iter().zip(areas.iter()).enumerate() {
            let mut b = ChartBuilder::on(area);
            b.margin(12).x_label_area_size(46).y_label_area_size(70);
            if !panel.title.is_empty() {
                b.caption(&panel.title, style(15));
            }
            let mut chart = b
                .build_cartesian_2d(
                    lin(lo_x - pad..hi_x + pad, xs.clone()),
                    lin(0.0..hi, yticks.clone()),
                )
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_label_formatter(&|v| {
                    xs.iter()
                        .position(|x| (x - v).abs() < 1e-9)
                        .map(|i| c.x_values[i].clone())
                        .unwrap_or_default()
                })
                .y_label_formatter(&|v| c.label(*v))
                .x_desc(c.x_key.as_str())
                .bold_line_style(GRID)
                .label_style(style(13))
                .axis_desc_style(style(14))
                .draw()
                .map_err(e)?;
            for s in &panel.series {
                let color = RGBColor(s.color.0, s.color.1, s.color.2);
                // The band between neighbouring points that both have an interval.
                for w in s.points.windows(2) {
                    if let [(i, _, Some(a)), (j, _, Some(b))] = w {
                        chart
                            .draw_series([Polygon::new(
                                vec![
                                    (xs[*i], a[0]),
                                    (xs[*j], b[0]),
                                    (xs[*j], b[1]),
                                    (xs[*i], a[1]),
                                ],
                                color.mix(0.18).filled(),
                            )])
                            .map_err(e)?;
                    }
                }
                // A lone point's interval as a whisker.
                chart
                    .draw_series(s.points.iter().filter_map(|&(i, _, ci)| {
                        ci.map(|[l, h]| {
                            PathElement::new(vec![(xs[i], l), (xs[i], h)], color.stroke_width(2))
                        })
                    }))
                    .map_err(e)?;
                let line = chart
                    .draw_series(LineSeries::new(
                        s.points.iter().map(|&(i, v, _)| (xs[i], v)),
                        color.stroke_width(2),
                    ))
                    .map_err(e)?;
                if k == 0 {
                    line.label(s.setup.as_str()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                }
                // Filled: with an interval; hollow: indicative (too few repetitions).
                chart
                    .draw_series(s.points.iter().map(|&(i, v, ci)| {
                        let st = if ci.is_some() {
                            color.filled()
                        } else {
                            WHITE.filled()
                        };
                        Circle::new((xs[i], v), 5, st)
                    }))
                    .map_err(e)?;
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|&(i, v, _)| Circle::new((xs[i], v), 5, color.stroke_width(2))),
                    )
                    .map_err(e)?;
            }
            if k == 0 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.9))
                    .border_style(BLACK.mix(0.5))
                    .label_font(style(13))
                    .draw()
                    .map_err(e)?;
            }
        }
        Ok(())
    }
}

/// Draws one sweep chart (SVG and PNG).
pub fn render_sweep(c: &SweepChart) -> Result<ChartFile, ChartError> {
    super::font::register();
    render(
        &Drawing(c),
        c.name.clone(),
        c.title.clone(),
        c.caption.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(x_values: &[&str]) -> SweepChart {
        SweepChart {
            name: "t".into(),
            title: "t".into(),
            caption: String::new(),
            unit: SweepUnit::Duration,
            x_key: "k".into(),
            x_values: x_values.iter().map(|s| s.to_string()).collect(),
            panels: Vec::new(),
        }
    }

    #[test]
    fn swept_numbers_and_durations_sit_at_their_values_and_words_evenly() {
        assert_eq!(chart(&["50", "100", "400"]).x_pos(), [50.0, 100.0, 400.0]);
        assert_eq!(
            chart(&["60s", "3m", "1h30m"]).x_pos(),
            [60.0, 180.0, 5400.0]
        );
        assert_eq!(chart(&["argocd", "flux"]).x_pos(), [0.0, 1.0]);
        assert_eq!(chart(&["1m", "1m"]).x_pos(), [0.0, 1.0]);
        assert_eq!(number("500ms"), Some(0.5));
        assert_eq!(number("5x"), None);
        assert_eq!(number("5m3"), None);
    }
}
