//! The axis toolkit of the charts: round duration and count ticks, tick labels, log and
//! linear ranges labelled at exactly the chosen ticks, and lanes (one row per model,
//! stage row or cluster) with their labels.

use crate::report::table::human;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Round durations (seconds) an axis may be labelled at.
const DURATION_TICKS: [f64; 31] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
    172800.0, 345600.0, 604800.0, 1209600.0,
];

/// A tick of an axis in hours of scenario time, as a duration (`0` at the origin).
pub(super) fn hours_tick(v: &f64) -> String {
    tick(*v * 3600.0)
}

/// An axis tick: a whole duration without its zero parts (`15s`, `30m`, `1h`, `1h30m`),
/// where [`human`] would print `15.0s` or `30m00s`; other values as [`human`] prints them.
pub(super) fn tick(s: f64) -> String {
    if s == 0.0 {
        return "0".into();
    }
    let whole = s.round();
    if s < 1.0 || (s - whole).abs() > 1e-6 {
        return human(s);
    }
    let t = whole as u64;
    let (h, m, sec) = (t / 3600, t / 60 % 60, t % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 {
        out.push_str(&format!("{sec}s"));
    }
    out
}

/// Labels for a log duration axis: the round durations inside `lo..hi`, thinned to ten.
fn log_duration_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let inside: Vec<f64> = DURATION_TICKS
        .iter()
        .copied()
        .filter(|&t| t >= lo && t <= hi)
        .collect();
    let step = inside.len().div_ceil(10).max(1);
    inside.into_iter().step_by(step).collect()
}

/// Labels for a linear duration axis from zero: multiples of the smallest round
/// duration that needs at most eight of them to pass `hi`.
pub(super) fn linear_duration_ticks(hi: f64) -> Vec<f64> {
    let step = DURATION_TICKS
        .iter()
        .copied()
        .find(|&st| hi / st <= 8.0)
        .unwrap_or(hi / 8.0);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|&t| t <= hi)
        .collect()
}

/// Labels for a linear count axis from zero: multiples of 1, 2 or 5 × 10^k.
pub(super) fn linear_count_ticks(hi: f64) -> Vec<f64> {
    let mut step = 10f64.powi(hi.max(1e-9).log10().floor() as i32 - 1);
    for m in [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        .into_iter()
        .cycle()
        .take(60)
    {
        if hi / (step * m) <= 8.0 {
            step *= m;
            break;
        }
        if m == 50.0 {
            step *= 100.0;
        }
    }
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|&t| t <= hi)
        .collect()
}

/// An axis labelled at exactly the given values (plotters' own `WithKeyPoints` gives up
/// default formatting for f64, which the mesh needs even with our own formatters).
pub(super) struct Ticked<R> {
    inner: R,
    ticks: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(v, limit)
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
    fn axis_pixel_range(&self, limit: (i32, i32)) -> std::ops::Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

pub(super) fn lin(r: std::ops::Range<f64>, ticks: Vec<f64>) -> Ticked<RangedCoordf64> {
    Ticked {
        inner: r.into(),
        ticks,
    }
}

/// A linear axis of scenario time in hours, `0` to `horizon_h`, ticked at round durations
/// (label it with [`hours_tick`]).
pub(super) fn hours(horizon_h: f64) -> Ticked<RangedCoordf64> {
    lin(
        0.0..horizon_h.max(1e-9),
        linear_duration_ticks(horizon_h * 3600.0)
            .into_iter()
            .map(|t| t / 3600.0)
            .collect(),
    )
}

pub(super) fn log(lo: f64, hi: f64) -> Ticked<LogCoord<f64>> {
    Ticked {
        inner: (lo..hi).log_scale().into(),
        ticks: log_duration_ticks(lo, hi),
    }
}

/// Lane centres `0..n` as axis key points.
pub(super) fn lanes(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

/// A log axis range covering `values` (positive), padded a little each side.
pub(super) fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values {
        let v = v.max(0.001);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (1.0, 10.0);
    }
    if hi <= lo * 1.5 {
        hi = lo * 1.5;
    }
    (lo / 1.3, hi * 1.3)
}

/// Formats integer lane positions with `labels`, other positions as nothing.
pub(super) fn lane_label(labels: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn ticks_drop_zero_parts() {
        for (s, want) in [
            (0.0, "0"),
            (0.5, "500ms"),
            (30.0, "30s"),
            (2.5, "2.50s"),
            (60.0, "1m"),
            (90.0, "1m30s"),
            (1800.0, "30m"),
            (3600.0, "1h"),
            (5400.0, "1h30m"),
            (86400.0, "24h"),
            (90.5, "1m31s"),
        ] {
            assert_eq!(tick(s), want, "{s}");
        }
    }
}
