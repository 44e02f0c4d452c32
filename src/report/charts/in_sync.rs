//! The timeline of a large fleet (more clusters than `MAX_LANES`): instead of a lane per
//! cluster, the share of cluster × app pairs in sync with git over repetition 0, and the
//! share of clusters with every app in sync, with faults and bad releases shaded.

use super::axis::{hours, hours_tick, lin};
use super::legend::{Swatch, legend};
use super::palette::{BAD, FAULT, GRID, ROLLBACK, setup_color, style};
use super::render::{Chart, Drawn, e, no_data};
use crate::report::load::{EventRow, RunDir};
use crate::report::setups::SetupView;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// The share in sync over time, as step functions from `t = 0` (hours, share 0..=1).
#[derive(Clone, Debug, PartialEq)]
pub struct SyncShare {
    /// Share of (cluster, app) pairs whose live revision is the one git names for the app
    /// and that carry no hand edit.
    pub pairs: Vec<(f64, f64)>,
    /// Share of clusters with every app in sync.
    pub clusters: Vec<(f64, f64)>,
    /// Whether the events had any rollout (fleets too large for per-deployment events
    /// have none, and then no share can be drawn).
    pub measured: bool,
}

/// The app ids of a commit's `apps=1 4 7` detail.
fn commit_apps(detail: &str) -> Vec<usize> {
    let Some(rest) = detail.split_once("apps=").map(|x| x.1) else {
        return Vec::new();
    };
    rest.split_whitespace()
        .map_while(|w| w.parse::<usize>().ok())
        .collect()
}

/// Replays `events` (one setup's repetition 0, in time order) over a fleet of `clusters`
/// × `apps`. A pair is in sync while its last `rolled_out` revision is at least the last
/// commit that changed its app and no hand edit is live on it; everything is in sync at
/// revision 0 when the run starts. A rollback around git (live older than git), a failed
/// rollout and a deploy still on its way all count as out of sync.
pub fn sync_share(events: &[&EventRow], clusters: usize, apps: usize) -> SyncShare {
    let (nc, na) = (clusters.max(1), apps.max(1));
    let mut desired = vec![0u64; na];
    let mut live = vec![0u64; nc * na];
    let mut drift = vec![0u32; nc * na];
    let mut out_per_cluster = vec![0usize; nc];
    let mut out_pairs = 0usize;
    let mut out_clusters = 0usize;
    let mut pairs = vec![(0.0, 1.0)];
    let mut whole = vec![(0.0, 1.0)];
    let mut measured = false;
    // Recomputes one pair after a change, keeping the counts.
    let mut was_out = vec![false; nc * na];
    let mut update = |c: usize,
                      a: usize,
                      desired: &[u64],
                      live: &[u64],
                      drift: &[u32],
                      out_pairs: &mut usize,
                      out_clusters: &mut usize| {
        let i = c * na + a;
        let out = live[i] < desired[a] || drift[i] > 0;
        if out != was_out[i] {
            was_out[i] = out;
            let before = out_per_cluster[c];
            if out {
                *out_pairs += 1;
                out_per_cluster[c] += 1;
            } else {
                *out_pairs -= 1;
                out_per_cluster[c] -= 1;
            }
            match (before, out_per_cluster[c]) {
                (0, _) => *out_clusters += 1,
                (_, 0) => *out_clusters -= 1,
                _ => {}
            }
        }
    };
    let pair = |e: &EventRow| match (e.cluster, e.app) {
        (Some(c), Some(a)) if (c as usize) < nc && (a as usize) < na => {
            Some((c as usize, a as usize))
        }
        _ => None,
    };
    let mut k = 0;
    while k < events.len() {
        let t = events[k].t_s;
        // Every event at the same instant, then one point.
        while k < events.len() && events[k].t_s == t {
            let ev = events[k];
            k += 1;
            match ev.event.as_str() {
                "commit" | "bad_commit" | "revert_commit" => {
                    let Some(rev) = ev.rev() else { continue };
                    for a in commit_apps(&ev.detail) {
                        if a < na && rev > desired[a] {
                            desired[a] = rev;
                            for c in 0..nc {
                                update(
                                    c,
                                    a,
                                    &desired,
                                    &live,
                                    &drift,
                                    &mut out_pairs,
                                    &mut out_clusters,
                                );
                            }
                        }
                    }
                }
                "rolled_out" => {
                    measured = true;
                    if let (Some((c, a)), Some(rev)) = (pair(ev), ev.rev()) {
                        live[c * na + a] = rev;
                        update(
                            c,
                            a,
                            &desired,
                            &live,
                            &drift,
                            &mut out_pairs,
                            &mut out_clusters,
                        );
                    }
                }
                "drift" | "drift_recovered" => {
                    if let Some((c, a)) = pair(ev) {
                        let d = &mut drift[c * na + a];
                        if ev.event == "drift" {
                            *d += 1;
                        } else {
                            *d = d.saturating_sub(1);
                        }
                        update(
                            c,
                            a,
                            &desired,
                            &live,
                            &drift,
                            &mut out_pairs,
                            &mut out_clusters,
                        );
                    }
                }
                _ => {}
            }
        }
        let h = t / 3600.0;
        let p = 1.0 - out_pairs as f64 / (nc * na) as f64;
        let w = 1.0 - out_clusters as f64 / nc as f64;
        if pairs.last().is_some_and(|x| x.1 != p) {
            pairs.push((h, p));
        }
        if whole.last().is_some_and(|x| x.1 != w) {
            whole.push((h, w));
        }
    }
    SyncShare {
        pairs,
        clusters: whole,
        measured,
    }
}

pub(super) struct InSync {
    color: RGBColor,
    horizon_h: f64,
    clusters: usize,
    apps: usize,
    share: SyncShare,
    /// (from h, to h)
    faults: Vec<(f64, f64)>,
    fault_kinds: Vec<String>,
    bad: Vec<(f64, f64)>,
    rollback_decided: Vec<f64>,
}

impl InSync {
    pub(super) fn new(run: &RunDir, setup: &SetupView, clusters: usize) -> InSync {
        let events: Vec<&EventRow> = run
            .events
            .iter()
            .filter(|e| e.model == setup.name)
            .collect();
        let apps = crate::report::fleet::apps(run.scenario.as_ref())
            .map(|a| a as usize)
            .or_else(|| {
                events
                    .iter()
                    .filter_map(|e| e.app)
                    .max()
                    .map(|a| a as usize + 1)
            })
            .unwrap_or(1);
        let horizon_h = run.summary.duration_s / 3600.0;
        let h = |e: &EventRow| e.t_s / 3600.0;
        let mut fault_open: BTreeMap<(String, Option<u32>), f64> = BTreeMap::new();
        let mut faults = Vec::new();
        let mut fault_kinds: Vec<String> = Vec::new();
        let mut bad_open: BTreeMap<u64, f64> = BTreeMap::new();
        let mut bad = Vec::new();
        let mut rollback_decided = Vec::new();
        for e in &events {
            match e.event.as_str() {
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
                        faults.push((t0, h(e)));
                    }
                }
                "bad_commit" => {
                    if let Some(r) = e.rev() {
                        bad_open.entry(r).or_insert(h(e));
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
                "rollback_decided" => rollback_decided.push(h(e)),
                _ => {}
            }
        }
        faults.extend(fault_open.into_values().map(|t0| (t0, horizon_h)));
        bad.extend(bad_open.into_values().map(|t0| (t0, horizon_h)));
        InSync {
            color: setup_color(setup),
            horizon_h,
            clusters,
            apps,
            share: sync_share(&events, clusters, apps),
            faults,
            fault_kinds,
            bad,
            rollback_decided,
        }
    }

    fn steps(&self, s: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let mut pts = Vec::with_capacity(s.len() * 2 + 1);
        for (i, &(t, v)) in s.iter().enumerate() {
            if i > 0 {
                pts.push((t, s[i - 1].1 * 100.0));
            }
            pts.push((t, v * 100.0));
        }
        pts.push((self.horizon_h, s.last().map_or(0.0, |x| x.1) * 100.0));
        pts
    }
}

impl Chart for InSync {
    const SIZE: (u32, u32) = (960, 420);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        if !self.share.measured {
            return no_data(
                root,
                "no rollout events: fleets over 5,000 deployments record none per deployment",
            );
        }
        let (plot, side) = root.split_horizontally(root.dim_in_pixel().0 - 250);
        let mut chart = ChartBuilder::on(&plot)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(
                hours(self.horizon_h),
                lin(0.0..102.0, vec![0.0, 25.0, 50.0, 75.0, 100.0]),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .x_label_formatter(&hours_tick)
            .x_desc("scenario time")
            .y_desc("in sync with git")
            .bold_line_style(GRID)
            .label_style(style(14))
            .axis_desc_style(style(15))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(
                self.faults.iter().map(|&(a, b)| {
                    Rectangle::new([(a, 0.0), (b, 102.0)], FAULT.mix(0.22).filled())
                }),
            )
            .map_err(e)?;
        chart
            .draw_series(
                self.bad
                    .iter()
                    .map(|&(a, b)| Rectangle::new([(a, 0.0), (b, 102.0)], BAD.mix(0.16).filled())),
            )
            .map_err(e)?;
        for &t in &self.rollback_decided {
            chart
                .draw_series(DashedLineSeries::new(
                    [(t, 0.0), (t, 102.0)],
                    6,
                    4,
                    ROLLBACK.stroke_width(2),
                ))
                .map_err(e)?;
        }
        chart
            .draw_series(LineSeries::new(
                self.steps(&self.share.pairs),
                self.color.stroke_width(2),
            ))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                self.steps(&self.share.clusters),
                lighter(self.color).stroke_width(1),
            ))
            .map_err(e)?;
        let fault_label = format!("fault: {}", self.fault_kinds.join(", "));
        let mut entries = vec![
            (Swatch::Line(self.color, 2), "cluster × app in sync"),
            (
                Swatch::Line(lighter(self.color), 1),
                "clusters with every app in sync",
            ),
            (Swatch::Box(BAD.mix(0.3)), "bad release until rolled back"),
            (Swatch::Dashed(ROLLBACK), "rollback decided"),
        ];
        if !self.fault_kinds.is_empty() {
            entries.push((Swatch::Box(FAULT.mix(0.35)), fault_label.as_str()));
        }
        legend(&side, (6, 24), &entries)?;
        side.draw(&Text::new(
            format!("{} clusters × {} apps", self.clusters, self.apps),
            (6, 24 + 22 * entries.len() as i32 + 8),
            style(13),
        ))
        .map_err(e)?;
        side.draw(&Text::new(
            "in sync: live = git, no hand edit".to_string(),
            (6, 24 + 22 * entries.len() as i32 + 28),
            style(13),
        ))
        .map_err(e)
    }
}

/// The setup's colour halfway to white: the thin line of whole clusters.
fn lighter(c: RGBColor) -> RGBColor {
    let mid = |v: u8| ((v as u16 + 255) / 2) as u8;
    RGBColor(mid(c.0), mid(c.1), mid(c.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t_s: f64, cluster: Option<u32>, app: Option<u32>, event: &str, detail: &str) -> EventRow {
        EventRow {
            model: "pull".into(),
            t_s,
            cluster,
            app,
            event: event.into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn the_share_in_sync_follows_commits_rollouts_and_hand_edits_by_hand_count() {
        // 2 clusters × 2 apps. At 1h rev 1 changes app 0 (2 of 4 pairs behind: 50%, no
        // cluster whole); cluster 0 rolls it out at 2h (75%, 1 of 2 clusters), cluster 1
        // at 3h (100%); a hand edit on (1, 1) from 4h to 5h (75%, 50%); rev 2 changes apps
        // 0 and 1 at 6h (0%), and only cluster 0 gets both by 7h (50%, 50%).
        let rows = [
            ev(3600.0, None, None, "commit", "rev=1 apps=0"),
            ev(7200.0, Some(0), Some(0), "rolled_out", "rev=1"),
            ev(10800.0, Some(1), Some(0), "rolled_out", "rev=1"),
            ev(14400.0, Some(1), Some(1), "drift", "scale"),
            ev(18000.0, Some(1), Some(1), "drift_recovered", ""),
            ev(21600.0, None, None, "commit", "rev=2 apps=0 1"),
            ev(25200.0, Some(0), Some(0), "rolled_out", "rev=2"),
            ev(25200.0, Some(0), Some(1), "rolled_out", "rev=2"),
        ];
        let refs: Vec<&EventRow> = rows.iter().collect();
        let s = sync_share(&refs, 2, 2);
        assert!(s.measured);
        assert_eq!(
            s.pairs,
            vec![
                (0.0, 1.0),
                (1.0, 0.5),
                (2.0, 0.75),
                (3.0, 1.0),
                (4.0, 0.75),
                (5.0, 1.0),
                (6.0, 0.0),
                (7.0, 0.5)
            ]
        );
        assert_eq!(
            s.clusters,
            vec![
                (0.0, 1.0),
                (1.0, 0.0),
                (2.0, 0.5),
                (3.0, 1.0),
                (4.0, 0.5),
                (5.0, 1.0),
                (6.0, 0.0),
                (7.0, 0.5)
            ]
        );
    }

    #[test]
    fn a_rollback_around_git_leaves_the_pair_out_of_sync_until_git_follows() {
        // Rev 2 is rolled out, then rev 1 again (rollout-undo) while git names rev 2: out
        // of sync until the revert commit rev 3 is rolled out.
        let rows = [
            ev(3600.0, None, None, "commit", "rev=1 apps=0"),
            ev(3600.0, Some(0), Some(0), "rolled_out", "rev=1"),
            ev(7200.0, None, None, "bad_commit", "rev=2 apps=0"),
            ev(7200.0, Some(0), Some(0), "rolled_out", "rev=2"),
            ev(10800.0, Some(0), Some(0), "rolled_out", "rev=1"),
            ev(14400.0, None, None, "revert_commit", "rev=3 apps=0"),
            ev(18000.0, Some(0), Some(0), "rolled_out", "rev=3"),
        ];
        let refs: Vec<&EventRow> = rows.iter().collect();
        let s = sync_share(&refs, 1, 1);
        assert_eq!(s.pairs, vec![(0.0, 1.0), (3.0, 0.0), (5.0, 1.0)]);
    }

    #[test]
    fn without_rollout_events_nothing_is_measured() {
        let rows = [ev(3600.0, None, None, "commit", "rev=1 apps=0")];
        let refs: Vec<&EventRow> = rows.iter().collect();
        assert!(!sync_share(&refs, 30, 40).measured);
    }
}
