//! Hand-drawn legends for charts whose legend sits beside the plot (drift, timeline):
//! a column of entries, each a swatch (line, dashed line, box or cross) and its text.

use super::palette::style;
use super::render::{Drawn, e};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How a legend entry is marked.
pub(super) enum Swatch {
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Box(RGBAColor),
    Cross(RGBColor),
}

/// Draws a legend as a column of entries at `(x, y)` of `area`.
pub(super) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    entries: &[(Swatch, &str)],
) -> Drawn {
    for (i, (sw, text)) in entries.iter().enumerate() {
        let cy = y + i as i32 * 22;
        match sw {
            Swatch::Line(c, w) => area
                .draw(&PathElement::new(
                    vec![(x, cy), (x + 22, cy)],
                    c.stroke_width(*w),
                ))
                .map_err(e)?,
            Swatch::Dashed(c) => {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + k * 8, cy), (x + k * 8 + 5, cy)],
                        c.stroke_width(2),
                    ))
                    .map_err(e)?;
                }
            }
            Swatch::Box(c) => area
                .draw(&Rectangle::new(
                    [(x + 2, cy - 7), (x + 20, cy + 7)],
                    c.filled(),
                ))
                .map_err(e)?,
            Swatch::Cross(c) => area
                .draw(&Cross::new((x + 11, cy), 6, c.stroke_width(3)))
                .map_err(e)?,
        }
        area.draw(&Text::new(
            text.to_string(),
            (x + 30, cy),
            style(14).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(e)?;
    }
    Ok(())
}
