//! Colours and text styles of the charts: one colour per setup, the stage colours
//! (Okabe–Ito, readable with colour blindness) and the colours of drift, bad releases,
//! rollbacks and fault windows.

use crate::report::font::FAMILY;
use crate::report::setups::SetupView;
use plotters::prelude::*;

pub(super) const DRIFT: RGBColor = RGBColor(230, 159, 0);
pub(super) const BAD: RGBColor = RGBColor(200, 30, 30);
pub(super) const ROLLBACK: RGBColor = RGBColor(120, 60, 160);
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(super) const DESIRED: RGBColor = RGBColor(150, 150, 150);
/// Fault windows (outages, partitions, crashes, cluster losses): a neutral slate.
pub(super) const FAULT: RGBColor = RGBColor(90, 100, 120);
/// Stage colours (Okabe–Ito, readable with colour blindness), in `STAGES` order.
pub(super) const STAGE_COLORS: [RGBColor; 11] = [
    RGBColor(120, 120, 120),
    RGBColor(0, 158, 115),
    RGBColor(240, 228, 66),
    // promotion and gate (environments): a pale violet and black, apart from the rest.
    RGBColor(170, 160, 220),
    RGBColor(0, 0, 0),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    // api_throttle_wait (Argo CD hub): a brown apart from the rest.
    RGBColor(140, 90, 40),
    RGBColor(204, 121, 167),
    RGBColor(0, 114, 178),
];

/// A setup's colour (see [`crate::report::setups::PALETTE`]).
pub(super) fn setup_color(s: &SetupView) -> RGBColor {
    let (r, g, b) = s.color;
    RGBColor(r, g, b)
}

pub(super) fn style(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}
