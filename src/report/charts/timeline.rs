//! The timeline of repetition 0 for one setup: per cluster lane, the desired revision in
//! git against the live revision, with drift, bad releases, failed rollouts, rollback
//! decisions and fault windows, all rebuilt from events.csv.

use super::axis::{hours, hours_tick, lane_label, lanes, lin};
use super::legend::{Swatch, legend};
use super::palette::{BAD, DESIRED, DRIFT, FAULT, GRID, ROLLBACK, setup_color, style};
use super::render::{Chart, Drawn, e};
use crate::report::load::{EventRow, RunDir};
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// Most timeline lanes drawn; a larger fleet gets the share in sync instead (`in_sync`).
pub const MAX_LANES: usize = 20;

/// A step function: value from each time on, starting at `(0, 0)`.
type Steps = Vec<(f64, u64)>;

pub(super) struct Timeline {
    color: RGBColor,
    horizon_h: f64,
    max_rev: u64,
    /// Clusters in the fleet (lanes drawn: at most `MAX_LANES`).
    clusters: usize,
    /// Each lane's label: the cluster's name, or `cluster <n>` in a numbered fleet.
    lane_names: Vec<String>,
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

/// Clusters in the fleet: scenario.json's, or the highest cluster in the setup's events.
pub(super) fn clusters(run: &RunDir, setup: &SetupView) -> usize {
    crate::report::fleet::clusters(run.scenario.as_ref())
        .map(|c| c as usize)
        .unwrap_or_else(|| {
            run.events
                .iter()
                .filter(|e| e.model == setup.name)
                .filter_map(|e| e.cluster)
                .max()
                .map_or(1, |c| c as usize + 1)
        })
        .max(1)
}

impl Timeline {
    pub(super) fn new(run: &RunDir, setup: &SetupView) -> Timeline {
        let model = setup.name.as_str();
        let events: Vec<&EventRow> = run.events.iter().filter(|e| e.model == model).collect();
        let clusters = clusters(run, setup);
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
        let lane_names = (0..lanes)
            .map(|c| {
                crate::report::fleet::cluster_name(run.scenario.as_ref(), c as u64)
                    .unwrap_or_else(|| format!("cluster {c}"))
            })
            .collect();
        Timeline {
            color: setup_color(setup),
            horizon_h,
            max_rev,
            clusters,
            lane_names,
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
        let labels: Vec<String> = self.lane_names[..n].to_vec();
        let (plot, side) = root.split_horizontally(root.dim_in_pixel().0 - 250);
        let mut chart = ChartBuilder::on(&plot)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d(hours(self.horizon_h), lin(-0.5..(n as f64 - 0.5), lanes(n)))
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| lane_label(&labels, *v))
            .x_label_formatter(&hours_tick)
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
