//! Render plumbing shared by every chart: the `Chart` trait a chart implements, its error
//! type, and `render`, which draws one chart onto an SVG string and an RGB bitmap and
//! encodes the bitmap as PNG.

use super::palette::style;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart {chart}: {message}")]
pub struct ChartError {
    pub chart: String,
    pub message: String,
}

pub(super) type Drawn = Result<(), String>;

pub(super) fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

/// One chart, both renderings.
pub struct ChartFile {
    /// File stem under `charts/`.
    pub name: String,
    pub title: String,
    /// One line saying what to read from the chart.
    pub caption: String,
    pub svg: String,
    pub png: Vec<u8>,
}

pub(super) trait Chart {
    const SIZE: (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
    fn size(&self) -> (u32, u32) {
        Self::SIZE
    }
}

pub(super) fn render<C: Chart>(
    c: &C,
    name: String,
    title: String,
    caption: String,
) -> Result<ChartFile, ChartError> {
    let fail = |message| ChartError {
        chart: name.clone(),
        message,
    };
    let (w, h) = c.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(e).map_err(fail)?;
        let body = root.titled(&title, style(19)).map_err(e).map_err(fail)?;
        c.draw(&body).map_err(fail)?;
        root.present().map_err(e).map_err(fail)?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(e).map_err(fail)?;
        let body = root.titled(&title, style(19)).map_err(e).map_err(fail)?;
        c.draw(&body).map_err(fail)?;
        root.present().map_err(e).map_err(fail)?;
    }
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut wr = enc.write_header().map_err(e).map_err(fail)?;
        wr.write_image_data(&rgb).map_err(e).map_err(fail)?;
        wr.finish().map_err(e).map_err(fail)?;
    }
    Ok(ChartFile {
        name,
        title,
        caption,
        svg,
        png,
    })
}

/// Prepares, draws and encodes one chart.
pub(super) type Job<'a> = Box<dyn Fn() -> Result<ChartFile, ChartError> + Sync + 'a>;

/// Runs `jobs` on one thread per core (at most one per job), taking them in `order`, and
/// returns their charts in `jobs` order; an error is the first in `jobs` order, so which
/// error is reported does not depend on the threads' timing.
pub(super) fn in_parallel(jobs: &[Job], order: &[usize]) -> Result<Vec<ChartFile>, ChartError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(order.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((i, jobs[i]()));
        }
        done
    };
    let mut slots: Vec<Option<Result<ChartFile, ChartError>>> = jobs.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in helpers {
            // A panic in a chart is a bug: carry it on to this thread as it was.
            all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        for (i, r) in all {
            slots[i] = Some(r);
        }
    });
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                Err(ChartError {
                    chart: "?".into(),
                    message: format!("chart job {i} was not in the run order"),
                })
            })
        })
        .collect()
}

/// The chart area's message when a run has nothing for a chart to show.
pub(super) fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str) -> Drawn {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style(18).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(e)
}
