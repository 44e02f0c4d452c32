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
    let png = encode_png(w, h, &rgb).map_err(e).map_err(fail)?;
    Ok(ChartFile {
        name,
        title,
        caption,
        svg,
        png,
    })
}

/// Encodes an RGB bitmap as PNG: fast deflate with the Paeth filter on every row. On the
/// charts (flat colour on white) this encodes about ten times faster than the default level
/// with adaptive filters, for files about twice as large; lossless all the same.
fn encode_png(w: u32, h: u32, rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut png = Vec::new();
    let mut enc = png::Encoder::new(&mut png, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::FilterType::Paeth);
    enc.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut wr = enc.write_header()?;
    wr.write_image_data(rgb)?;
    wr.finish()?;
    Ok(png)
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

#[cfg(test)]
mod tests {
    use super::encode_png;

    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(png).read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("a frame");
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// The example report's charts (drawn with the default level and adaptive filters)
    /// re-encoded as the report now encodes them decode to the same pixels.
    #[test]
    fn png_encoding_keeps_every_pixel_of_the_example_charts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example/charts");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("reports/example/charts exists") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|x| x != "png") {
                continue;
            }
            let (w, h, rgb) = decode(&std::fs::read(&path).expect("a readable PNG"));
            let again = encode_png(w, h, &rgb).expect("the bitmap encodes");
            assert_eq!(decode(&again), (w, h, rgb), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 7, "only {seen} example charts found");
    }
}
