//! The report's charts, drawn with plotters from a loaded run directory. Each chart is a
//! small data struct prepared from the run plus one `draw` that works on any plotters
//! backend, so the SVG and the PNG of a chart come from the same code. Text uses the
//! bundled font (`font.rs`); output depends only on the input, never on the machine.

use super::font::{self, FAMILY};
use super::load::{EventRow, RunDir};
use super::table::human;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart {chart}: {message}")]
pub struct ChartError {
    pub chart: &'static str,
    pub message: String,
}

type Drawn = Result<(), String>;

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

/// One chart, both renderings.
pub struct ChartFile {
    /// File stem under `charts/`.
    pub name: &'static str,
    pub title: String,
    /// One line saying what to read from the chart.
    pub caption: &'static str,
    pub svg: String,
    pub png: Vec<u8>,
}

/// Most timeline lanes drawn; larger fleets show their first clusters.
pub const MAX_LANES: usize = 20;

const PUSH: RGBColor = RGBColor(213, 94, 0);
const PULL: RGBColor = RGBColor(0, 114, 178);
const DRIFT: RGBColor = RGBColor(230, 159, 0);
const BAD: RGBColor = RGBColor(200, 30, 30);
const ROLLBACK: RGBColor = RGBColor(120, 60, 160);
const GRID: RGBColor = RGBColor(225, 225, 225);
const DESIRED: RGBColor = RGBColor(150, 150, 150);
/// Fault windows (outages, partitions, crashes, cluster losses): a neutral slate.
const FAULT: RGBColor = RGBColor(90, 100, 120);
/// Stage colours (Okabe–Ito, readable with colour blindness), in `STAGES` order.
const STAGE_COLORS: [RGBColor; 5] = [
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(0, 114, 178),
];
pub const STAGES: [&str; 5] = ["detect", "queue", "build", "apply", "rollout"];
pub const MODELS: [&str; 2] = ["push", "pull"];

fn model_color(model: &str) -> RGBColor {
    if model == "push" { PUSH } else { PULL }
}

fn style(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// "push (github-actions)" when the scenario names a preset, else "push".
pub fn model_label(run: &RunDir, model: &str) -> String {
    run.scenario
        .as_ref()
        .and_then(|s| s.pointer(&format!("/models/{model}/preset")))
        .and_then(|p| p.as_str())
        .map(|p| format!("{model} ({p})"))
        .unwrap_or_else(|| model.to_string())
}

/// Repetitions × scenario hours: the denominator of every per-hour rate.
pub fn simulated_hours(run: &RunDir) -> f64 {
    run.summary.duration_s / 3600.0 * run.summary.repetitions.max(1) as f64
}

trait Chart {
    const SIZE: (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
    fn size(&self) -> (u32, u32) {
        Self::SIZE
    }
}

fn render<C: Chart>(
    c: &C,
    name: &'static str,
    title: String,
    caption: &'static str,
) -> Result<ChartFile, ChartError> {
    let fail = |message| ChartError {
        chart: name,
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

/// Every chart of the report, in report order.
pub fn all(run: &RunDir) -> Result<Vec<ChartFile>, ChartError> {
    font::register();
    let mut out = vec![
        render(
            &Cdf::new(run),
            "deploy_latency_cdf",
            "Deploy latency: share of deploys done within a time".into(),
            "The curve further left deploys faster; dots mark each model's p50 and p95 (note the log time axis).",
        )?,
        render(
            &Stages::new(run),
            "stages",
            "Where a deploy spends its time, by stage".into(),
            "Each bar splits deploy latency into stages; the black tick is the deploy_latency quantile itself (each stage's quantile is computed on its own, so the stages need not add up to it).",
        )?,
        render(
            &Drift::new(run),
            "drift_recovery",
            "Drift recovery: how long a manual edit survives".into(),
            "Each dot is one corrected drift event; drift never corrected before the end of the run is counted on the right, not dropped.",
        )?,
        render(
            &Recovery::new(run),
            "recovery",
            "Bad releases: rollback and failed-deploy recovery".into(),
            "Bars are medians; whiskers are bootstrap 95% confidence intervals over repetitions (absent with a single repetition).",
        )?,
    ];
    for model in MODELS {
        out.push(render(
            &Timeline::new(run, model),
            if model == "push" {
                "timeline_push"
            } else {
                "timeline_pull"
            },
            format!(
                "Timeline of repetition 0: {}",
                model_label(run, model)
            ),
            if model == "push" {
                "Push: the live revision of each cluster (coloured) follows the desired revision in git (grey); shaded spans are live drift (orange) and a bad release until its rollback completed (red)."
            } else {
                "Pull: the same timeline for the reconciler; compare how long the orange drift spans last and how closely live follows git."
            },
        )?);
    }
    out.push(render(
        &Cost::new(run),
        "cost",
        "Cost: load on the cluster API and on git, per scenario hour".into(),
        "Push writes to the cluster API only when it deploys; pull also polls git continuously, which shows as git fetches per hour.",
    )?);
    Ok(out)
}

/// Round durations (seconds) an axis may be labelled at.
const DURATION_TICKS: [f64; 31] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0,
    172800.0, 345600.0, 604800.0, 1209600.0,
];

/// Labels for a log duration axis: the round durations inside `lo..hi`, thinned to ten.
/// An axis tick: a whole duration without its zero parts (`15s`, `30m`, `1h`, `1h30m`),
/// where [`human`] would print `15.0s` or `30m00s`; other values as [`human`] prints them.
fn tick(s: f64) -> String {
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
fn linear_duration_ticks(hi: f64) -> Vec<f64> {
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
fn linear_count_ticks(hi: f64) -> Vec<f64> {
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
struct Ticked<R> {
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

fn lin(r: std::ops::Range<f64>, ticks: Vec<f64>) -> Ticked<RangedCoordf64> {
    Ticked {
        inner: r.into(),
        ticks,
    }
}

fn log(lo: f64, hi: f64) -> Ticked<LogCoord<f64>> {
    Ticked {
        inner: (lo..hi).log_scale().into(),
        ticks: log_duration_ticks(lo, hi),
    }
}

/// Lane centres `0..n` as axis key points.
fn lanes(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

/// How a legend entry is marked.
enum Swatch {
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Box(RGBAColor),
    Cross(RGBColor),
}

/// Draws a legend as a column of entries at `(x, y)` of `area`.
fn legend<DB: DrawingBackend>(
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

// ---------------------------------------------------------------------------------------
// deploy_latency CDF

struct CdfSeries {
    label: String,
    color: RGBColor,
    sorted_s: Vec<f64>,
    p50: Option<f64>,
    p95: Option<f64>,
}

struct Cdf {
    series: Vec<CdfSeries>,
}

impl Cdf {
    fn new(run: &RunDir) -> Cdf {
        let series = MODELS
            .iter()
            .map(|&m| {
                let mut v: Vec<f64> = run
                    .samples(m, "deploy_latency")
                    .map(|g| g.all_values().map(|us| us as f64 / 1e6).collect())
                    .unwrap_or_default();
                v.sort_by(f64::total_cmp);
                let stats = run
                    .summary
                    .model(m)
                    .and_then(|s| s.metric("deploy_latency"));
                CdfSeries {
                    label: model_label(run, m),
                    color: model_color(m),
                    sorted_s: v,
                    p50: stats.and_then(|s| s.p50_s),
                    p95: stats.and_then(|s| s.p95_s),
                }
            })
            .collect();
        Cdf { series }
    }
}

/// A log axis range covering `values` (positive), padded a little each side.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
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

fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str) -> Drawn {
    let (w, h) = root.dim_in_pixel();
    root.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style(18).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(e)
}

impl Chart for Cdf {
    const SIZE: (u32, u32) = (960, 540);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if self.series.iter().all(|s| s.sorted_s.is_empty()) {
            return no_data(root, "no deploy_latency samples in this run");
        }
        let (lo, hi) = log_range(self.series.iter().flat_map(|s| s.sorted_s.iter().copied()));
        let mut chart = ChartBuilder::on(root)
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
            .x_desc("deploy latency, commit to rolled out (log scale)")
            .y_desc("share of deploys done")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for s in &self.series {
            let n = s.sorted_s.len();
            if n == 0 {
                continue;
            }
            let mut pts = Vec::with_capacity(2 * n);
            for (i, &v) in s.sorted_s.iter().enumerate() {
                let v = v.max(lo);
                pts.push((v, i as f64 / n as f64));
                pts.push((v, (i + 1) as f64 / n as f64));
            }
            let label = format!(
                "{}: p50 {}, p95 {}",
                s.label,
                s.p50.map(human).unwrap_or_else(|| "—".into()),
                s.p95.map(human).unwrap_or_else(|| "—".into())
            );
            let color = s.color;
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
            for (q, y) in [(s.p50, 0.5), (s.p95, 0.95)] {
                if let Some(v) = q {
                    let v = v.max(lo);
                    chart
                        .draw_series([
                            Circle::new((v, y), 6, color.filled()),
                            Circle::new((v, y), 6, BLACK.stroke_width(1)),
                        ])
                        .map_err(e)?;
                }
            }
        }
        for (y, name) in [(0.5, "p50"), (0.95, "p95")] {
            chart
                .draw_series(DashedLineSeries::new(
                    [(lo, y), (hi, y)],
                    6,
                    6,
                    BLACK.mix(0.35).stroke_width(1),
                ))
                .map_err(e)?;
            chart
                .draw_series([Text::new(name, (lo * 1.03, y + 0.012), style(13))])
                .map_err(e)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.5))
            .label_font(style(15))
            .draw()
            .map_err(e)
    }
}

// ---------------------------------------------------------------------------------------
// stage breakdown

struct StageRow {
    label: String,
    stages: [f64; 5],
    total: Option<f64>,
}

struct Stages {
    rows: Vec<StageRow>,
}

impl Stages {
    fn new(run: &RunDir) -> Stages {
        let mut rows = Vec::new();
        for m in MODELS {
            let model = run.summary.model(m);
            for (q, pick) in [
                (
                    "p50",
                    (|s| s.p50_s) as fn(&super::load::MetricStats) -> Option<f64>,
                ),
                ("p95", |s| s.p95_s),
            ] {
                let get = |name: &str| model.and_then(|x| x.metric(name)).and_then(pick);
                rows.push(StageRow {
                    label: format!("{m} {q}"),
                    stages: STAGES.map(|st| get(st).unwrap_or(0.0)),
                    total: get("deploy_latency"),
                });
            }
        }
        // Top to bottom: push p50, push p95, pull p50, pull p95.
        rows.reverse();
        Stages { rows }
    }
}

/// Formats integer lane positions with `labels`, other positions as nothing.
fn lane_label(labels: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

impl Chart for Stages {
    const SIZE: (u32, u32) = (960, 440);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let max = self
            .rows
            .iter()
            .map(|r| r.stages.iter().sum::<f64>().max(r.total.unwrap_or(0.0)))
            .fold(0.0, f64::max);
        if max <= 0.0 {
            return no_data(root, "no deploy stage samples in this run");
        }
        let n = self.rows.len();
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(
                lin(0.0..max * 1.08, linear_duration_ticks(max * 1.08)),
                lin(-0.5..(n as f64 - 0.5), lanes(n)),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&|v| tick(*v))
            .x_desc("time within one deploy")
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for (k, stage) in STAGES.iter().enumerate() {
            let color = STAGE_COLORS[k];
            let rects: Vec<_> = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let x0: f64 = r.stages[..k].iter().sum();
                    let y = i as f64;
                    Rectangle::new([(x0, y - 0.3), (x0 + r.stages[k], y + 0.3)], color.filled())
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(e)?
                .label(*stage)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        let ticks: Vec<_> = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.total.map(|t| {
                    PathElement::new(
                        vec![(t, i as f64 - 0.42), (t, i as f64 + 0.42)],
                        BLACK.stroke_width(3),
                    )
                })
            })
            .collect();
        chart
            .draw_series(ticks)
            .map_err(e)?
            .label("deploy_latency")
            .legend(|(x, y)| {
                PathElement::new(vec![(x + 7, y - 8), (x + 7, y + 8)], BLACK.stroke_width(3))
            });
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.5))
            .label_font(style(14))
            .draw()
            .map_err(e)
    }
}

// ---------------------------------------------------------------------------------------
// drift recovery distribution

struct DriftRow {
    label: String,
    color: RGBColor,
    values_s: Vec<f64>,
    p50: Option<f64>,
    events: u64,
    unrecovered: u64,
}

struct Drift {
    rows: Vec<DriftRow>,
}

impl Drift {
    fn new(run: &RunDir) -> Drift {
        let rows = MODELS
            .iter()
            .rev()
            .map(|&m| {
                let model = run.summary.model(m);
                DriftRow {
                    label: m.to_string(),
                    color: model_color(m),
                    values_s: run
                        .samples(m, "drift_recovery")
                        .map(|g| g.all_values().map(|us| us as f64 / 1e6).collect())
                        .unwrap_or_default(),
                    p50: model
                        .and_then(|x| x.metric("drift_recovery"))
                        .and_then(|s| s.p50_s),
                    events: model.map(|x| x.counter("drift_events")).unwrap_or(0),
                    unrecovered: model.map(|x| x.counter("drift_unrecovered")).unwrap_or(0),
                }
            })
            .collect();
        Drift { rows }
    }
}

/// A deterministic spread in -0.5..0.5 for the k-th point (golden-ratio sequence).
fn jitter(k: usize) -> f64 {
    (k as f64 * 0.618_033_988_749_895).fract() - 0.5
}

impl Chart for Drift {
    const SIZE: (u32, u32) = (960, 400);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if self.rows.iter().all(|r| r.events == 0) {
            return no_data(root, "no drift was injected in this run");
        }
        let (lo, hi) = log_range(self.rows.iter().flat_map(|r| r.values_s.iter().copied()));
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let (plot, side) = root.split_horizontally(root.dim_in_pixel().0 - 230);
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(log(lo, hi), lin(-0.5..1.5, lanes(2)))
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&|v| tick(*v))
            .x_desc("drift injected to live state equal to git again (log scale)")
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        for (i, r) in self.rows.iter().enumerate() {
            let y = i as f64;
            chart
                .draw_series(r.values_s.iter().enumerate().map(|(k, &v)| {
                    Circle::new(
                        (v.max(lo), y + 0.5 * jitter(k)),
                        5,
                        r.color.mix(0.7).filled(),
                    )
                }))
                .map_err(e)?;
            if let Some(p) = r.p50 {
                chart
                    .draw_series([PathElement::new(
                        vec![(p.max(lo), y - 0.4), (p.max(lo), y + 0.4)],
                        BLACK.stroke_width(3),
                    )])
                    .map_err(e)?;
            }
        }
        // The unrecovered count beside each row, level with it.
        let mut lines = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let (_, py) = chart.backend_coord(&(lo, i as f64));
            let (_, top) = plot.get_base_pixel();
            let (_, side_top) = side.get_base_pixel();
            lines.push((py + top - side_top, r));
        }
        for (py, r) in lines {
            side.draw(&Text::new(
                format!("{}: {} drift events", r.label, r.events),
                (8, py - 22),
                style(15),
            ))
            .map_err(e)?;
            side.draw(&Text::new(
                format!("{} recovered", r.events - r.unrecovered),
                (8, py - 2),
                style(15),
            ))
            .map_err(e)?;
            let color = if r.unrecovered > 0 { BAD } else { BLACK };
            side.draw(&Text::new(
                format!("{} never recovered", r.unrecovered),
                (8, py + 18),
                style(15).color(&color),
            ))
            .map_err(e)?;
        }
        legend(
            &side,
            (8, 20),
            &[(Swatch::Line(BLACK, 3), "p50 of the recovered")],
        )
    }
}

// ---------------------------------------------------------------------------------------
// rollback and failed_deploy_recovery with confidence whiskers

struct Bar {
    model: &'static str,
    p50: Option<f64>,
    ci: Option<[f64; 2]>,
}

struct Recovery {
    groups: Vec<(&'static str, Vec<Bar>)>,
    single_repetition: bool,
}

pub const RECOVERY_METRICS: [&str; 2] = ["rollback", "failed_deploy_recovery"];

impl Recovery {
    fn new(run: &RunDir) -> Recovery {
        let groups = RECOVERY_METRICS
            .iter()
            .map(|&metric| {
                let bars = MODELS
                    .iter()
                    .map(|&m| {
                        let s = run.summary.model(m).and_then(|x| x.metric(metric));
                        Bar {
                            model: m,
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
            single_repetition: run.summary.repetitions <= 1,
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
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(
                lin(-0.5..(labels.len() as f64 - 0.5), lanes(labels.len())),
                lin(0.0..max * 1.18, linear_duration_ticks(max * 1.18)),
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
        for (gi, (_, bars)) in self.groups.iter().enumerate() {
            for (bi, b) in bars.iter().enumerate() {
                let color = model_color(b.model);
                let x = gi as f64 + if bi == 0 { -0.2 } else { 0.2 };
                let Some(p) = b.p50 else {
                    chart
                        .draw_series([Text::new(
                            format!("{}: no samples", b.model),
                            (x, max * 0.05),
                            style(13).pos(Pos::new(HPos::Center, VPos::Bottom)),
                        )])
                        .map_err(e)?;
                    continue;
                };
                chart
                    .draw_series([Rectangle::new(
                        [(x - 0.17, 0.0), (x + 0.17, p)],
                        color.mix(0.85).filled(),
                    )])
                    .map_err(e)?;
                let top = b.ci.map(|c| c[1].max(p)).unwrap_or(p);
                chart
                    .draw_series([Text::new(
                        format!("{} {}", b.model, human(p)),
                        (x, top + max * 0.02),
                        style(14).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )])
                    .map_err(e)?;
                if let Some([lo, hi]) = b.ci {
                    let w = 0.05;
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
        if self.single_repetition {
            let (w, _) = root.dim_in_pixel();
            root.draw(&Text::new(
                "single repetition: no confidence interval available",
                (w as i32 - 24, 24),
                style(14).pos(Pos::new(HPos::Right, VPos::Top)),
            ))
            .map_err(e)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// timeline of repetition 0

/// A step function: value from each time on, starting at `(0, 0)`.
type Steps = Vec<(f64, u64)>;

struct Timeline {
    color: RGBColor,
    horizon_h: f64,
    max_rev: u64,
    /// Clusters in the fleet (lanes drawn: at most `MAX_LANES`).
    clusters: usize,
    desired: Steps,
    live: Vec<Steps>,
    /// (lane, from h, to h)
    drift: Vec<(usize, f64, f64)>,
    /// (from h, to h)
    bad: Vec<(f64, f64)>,
    failed: Vec<(usize, f64)>,
    rollback_decided: Vec<f64>,
    /// Fault windows (outages, partitions, crashes, losses): (lane or every lane, from h,
    /// to h), and the kinds seen, for the legend.
    faults: Vec<(Option<usize>, f64, f64)>,
    fault_kinds: Vec<String>,
}

fn push_step(s: &mut Steps, t: f64, v: u64) {
    if v > s.last().map(|x| x.1).unwrap_or(0) {
        s.push((t, v));
    }
}

impl Timeline {
    fn new(run: &RunDir, model: &str) -> Timeline {
        let events: Vec<&EventRow> = run.events.iter().filter(|e| e.model == model).collect();
        let from_events = events
            .iter()
            .filter_map(|e| e.cluster)
            .max()
            .map(|c| c as usize + 1)
            .unwrap_or(1);
        let clusters = run
            .scenario
            .as_ref()
            .and_then(|s| s.pointer("/fleet/clusters"))
            .and_then(|v| v.as_u64())
            .map(|c| c as usize)
            .unwrap_or(from_events)
            .max(1);
        let lanes = clusters.min(MAX_LANES);
        let horizon_h = run.summary.duration_s / 3600.0;
        let h = |e: &EventRow| e.t_s / 3600.0;
        let mut desired = vec![(0.0, 0)];
        let mut live = vec![vec![(0.0, 0)]; lanes];
        let mut drift_open: BTreeMap<(usize, Option<u32>), f64> = BTreeMap::new();
        let mut drift = Vec::new();
        let mut bad_open: BTreeMap<u64, f64> = BTreeMap::new();
        let mut bad = Vec::new();
        let mut failed = Vec::new();
        let mut rollback_decided = Vec::new();
        let mut fault_open: BTreeMap<(String, Option<u32>), f64> = BTreeMap::new();
        let mut faults = Vec::new();
        let mut fault_kinds: Vec<String> = Vec::new();
        let lane = |e: &EventRow| e.cluster.map(|c| c as usize).filter(|&c| c < lanes);
        for e in &events {
            match e.event.as_str() {
                "commit" | "bad_commit" | "revert_commit" => {
                    if let Some(r) = e.rev() {
                        push_step(&mut desired, h(e), r);
                    }
                    if e.event == "bad_commit"
                        && let Some(r) = e.rev()
                    {
                        bad_open.entry(r).or_insert(h(e));
                    }
                }
                "rolled_out" => {
                    if let (Some(l), Some(r)) = (lane(e), e.rev()) {
                        push_step(&mut live[l], h(e), r);
                    }
                }
                "drift" => {
                    if let Some(l) = lane(e) {
                        drift_open.entry((l, e.app)).or_insert(h(e));
                    }
                }
                "drift_recovered" => {
                    if let Some(l) = lane(e)
                        && let Some(t0) = drift_open.remove(&(l, e.app))
                    {
                        drift.push((l, t0, h(e)));
                    }
                }
                "rollout_failed" => {
                    if let Some(l) = lane(e) {
                        failed.push((l, h(e)));
                    }
                }
                "rollback_decided" => rollback_decided.push(h(e)),
                "fault_start" => {
                    fault_open
                        .entry((e.detail.clone(), e.cluster))
                        .or_insert(h(e));
                    let kind = e.detail.replace('_', " ");
                    if !fault_kinds.contains(&kind) {
                        fault_kinds.push(kind);
                    }
                }
                "fault_end" => {
                    if let Some(t0) = fault_open.remove(&(e.detail.clone(), e.cluster)) {
                        // A fault on a cluster beyond the lanes drawn is not shown.
                        if e.cluster.is_none() || lane(e).is_some() {
                            faults.push((lane(e), t0, h(e)));
                        }
                    }
                }
                "rollback_complete" => {
                    let bad_rev = e
                        .detail
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("bad="))
                        .and_then(|v| v.parse::<u64>().ok());
                    if let Some(t0) = bad_rev.and_then(|r| bad_open.remove(&r)) {
                        bad.push((t0, h(e)));
                    }
                }
                _ => {}
            }
        }
        // Still open at the horizon: drawn to the end, never dropped.
        drift.extend(
            drift_open
                .into_iter()
                .map(|((l, _), t0)| (l, t0, horizon_h)),
        );
        bad.extend(bad_open.into_values().map(|t0| (t0, horizon_h)));
        faults.extend(fault_open.into_iter().filter_map(|((_, c), t0)| match c {
            None => Some((None, t0, horizon_h)),
            Some(c) if (c as usize) < lanes => Some((Some(c as usize), t0, horizon_h)),
            Some(_) => None,
        }));
        faults.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        drift.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        bad.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let max_rev = desired.last().map(|x| x.1).unwrap_or(0).max(1);
        Timeline {
            color: model_color(model),
            horizon_h,
            max_rev,
            clusters,
            desired,
            live,
            drift,
            bad,
            failed,
            rollback_decided,
            faults,
            fault_kinds,
        }
    }

    fn lanes(&self) -> usize {
        self.live.len()
    }

    /// The y of revision `rev` inside lane `lane`'s band.
    fn y(&self, lane: usize, rev: u64) -> f64 {
        lane as f64 - 0.38 + 0.76 * rev as f64 / self.max_rev as f64
    }

    fn step_points(&self, lane: usize, s: &Steps) -> Vec<(f64, f64)> {
        let mut pts = Vec::with_capacity(s.len() * 2 + 1);
        for (i, &(t, v)) in s.iter().enumerate() {
            if i > 0 {
                pts.push((t, self.y(lane, s[i - 1].1)));
            }
            pts.push((t, self.y(lane, v)));
        }
        pts.push((
            self.horizon_h,
            self.y(lane, s.last().map(|x| x.1).unwrap_or(0)),
        ));
        pts
    }
}

impl Chart for Timeline {
    const SIZE: (u32, u32) = (960, 0);
    fn size(&self) -> (u32, u32) {
        (960, (150 + 70 * self.lanes() as u32).max(330))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let n = self.lanes();
        let labels: Vec<String> = (0..n).map(|c| format!("cluster {c}")).collect();
        let (plot, side) = root.split_horizontally(root.dim_in_pixel().0 - 250);
        let mut chart = ChartBuilder::on(&plot)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d(
                lin(
                    0.0..self.horizon_h.max(1e-9),
                    linear_duration_ticks(self.horizon_h * 3600.0)
                        .into_iter()
                        .map(|t| t / 3600.0)
                        .collect(),
                ),
                lin(-0.5..(n as f64 - 0.5), lanes(n)),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&|v| {
                if *v == 0.0 {
                    "0".into()
                } else {
                    tick(*v * 3600.0)
                }
            })
            .x_desc("scenario time")
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        let band = |l: usize| (l as f64 - 0.42, l as f64 + 0.42);
        chart
            .draw_series(self.faults.iter().map(|&(l, a, b)| {
                let (y0, y1) = match l {
                    Some(l) => (l as f64 - 0.5, l as f64 + 0.5),
                    None => (-0.5, n as f64 - 0.5),
                };
                Rectangle::new([(a, y0), (b, y1)], FAULT.mix(0.22).filled())
            }))
            .map_err(e)?;
        chart
            .draw_series(self.bad.iter().map(|&(a, b)| {
                Rectangle::new([(a, -0.5), (b, n as f64 - 0.5)], BAD.mix(0.16).filled())
            }))
            .map_err(e)?;
        chart
            .draw_series(self.drift.iter().map(|&(l, a, b)| {
                let (y0, y1) = band(l);
                Rectangle::new([(a, y0), (b, y1)], DRIFT.mix(0.35).filled())
            }))
            .map_err(e)?;
        for (l, steps) in self.live.iter().enumerate() {
            chart
                .draw_series(LineSeries::new(
                    self.step_points(l, &self.desired),
                    DESIRED.stroke_width(4),
                ))
                .map_err(e)?;
            chart
                .draw_series(LineSeries::new(
                    self.step_points(l, steps),
                    self.color.stroke_width(2),
                ))
                .map_err(e)?;
        }
        chart
            .draw_series(
                self.failed
                    .iter()
                    .map(|&(l, t)| Cross::new((t, band(l).1 - 0.06), 7, BAD.stroke_width(3))),
            )
            .map_err(e)?;
        for &t in &self.rollback_decided {
            chart
                .draw_series(DashedLineSeries::new(
                    [(t, -0.5), (t, n as f64 - 0.5)],
                    6,
                    4,
                    ROLLBACK.stroke_width(2),
                ))
                .map_err(e)?;
        }
        let fault_label = format!("fault: {}", self.fault_kinds.join(", "));
        let mut entries = vec![
            (Swatch::Line(DESIRED, 4), "desired revision (git)"),
            (Swatch::Line(self.color, 2), "live revision (rolled out)"),
            (Swatch::Box(DRIFT.mix(0.5)), "drift live until corrected"),
            (Swatch::Box(BAD.mix(0.3)), "bad release until rolled back"),
            (Swatch::Cross(BAD), "rollout failed"),
            (Swatch::Dashed(ROLLBACK), "rollback decided"),
        ];
        if !self.fault_kinds.is_empty() {
            entries.push((Swatch::Box(FAULT.mix(0.35)), fault_label.as_str()));
        }
        legend(&side, (6, 24), &entries)?;
        let note = if self.clusters > n {
            format!("{} of {} clusters shown", n, self.clusters)
        } else {
            format!("{} cluster(s)", n)
        };
        side.draw(&Text::new(
            note,
            (6, 24 + 22 * entries.len() as i32 + 8),
            style(13),
        ))
        .map_err(e)?;
        side.draw(&Text::new(
            format!("lane height: revision 0 to {}", self.max_rev),
            (6, 24 + 22 * entries.len() as i32 + 28),
            style(13),
        ))
        .map_err(e)
    }
}

// ---------------------------------------------------------------------------------------
// cost

struct Cost {
    /// (counter, [(model, per hour)])
    panels: Vec<(&'static str, Vec<(&'static str, f64)>)>,
}

pub const COST_COUNTERS: [&str; 2] = ["api_requests", "git_fetches"];

impl Cost {
    fn new(run: &RunDir) -> Cost {
        let hours = simulated_hours(run);
        let panels = COST_COUNTERS
            .iter()
            .map(|&c| {
                let per = MODELS
                    .iter()
                    .map(|&m| {
                        let n = run.summary.model(m).map(|x| x.counter(c)).unwrap_or(0);
                        (m, if hours > 0.0 { n as f64 / hours } else { 0.0 })
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
        let labels: Vec<String> = MODELS.iter().map(|m| m.to_string()).collect();
        for (area, (counter, per)) in areas.iter().zip(&self.panels) {
            let max = per.iter().map(|x| x.1).fold(0.0, f64::max).max(1.0);
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
            for (i, &(m, v)) in per.iter().enumerate() {
                let x = i as f64;
                chart
                    .draw_series([Rectangle::new(
                        [(x - 0.3, 0.0), (x + 0.3, v)],
                        model_color(m).filled(),
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
