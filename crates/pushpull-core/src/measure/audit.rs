//! Two of the seed's questions as figures, from a setup's timelines: single source of
//! truth (the share of app-time during which live state differs from git) and
//! auditability (the share of changes to live state that no git revision explains, and
//! how long they stay live). Pure: reads [`RunRecord`]s, returns numbers.
//!
//! Out of sync, per (cluster, app), is the union of: a hand edit from its `drift` event to
//! its `drift_recovered` (or the end of the run: drift left in place); a failed rollout
//! from `rollout_failed` to the next `rolled_out` of that app there or the next
//! `rollback_complete`; a rollback around git (redeploy, `rollout-undo`, app rollback)
//! from `git_diverged` to `git_converged`, on every cluster (the timeline records the
//! divergence per app). A deploy still rolling out is lead time, not divergence.
//!
//! A change to live state is a finished rollout of a manifest (`rolled_out`), a hand edit
//! (`drift`) or a rollback around git (`git_diverged`); the last two are what no git
//! revision explains. Fleets too large for per-deployment events (no `rolled_out` lines)
//! give no auditability figure.

use super::{EventKind, RunRecord};
use crate::model::{AppId, ClusterId};
use crate::scenario::Nanos;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one repetition shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RepAudit {
    /// App-time out of sync, summed over (cluster, app), in ns.
    pub out_of_sync: u128,
    /// Clusters × apps × run length, in ns.
    pub app_time: u128,
    /// Changes to live state; `None` without per-deployment events.
    pub changes: Option<u64>,
    /// Changes no git revision explains (hand edits, rollbacks around git).
    pub unexplained: u64,
    /// How long the unexplained changes stayed live, summed, in ns (still live at the
    /// end: until the end).
    pub unexplained_live: u128,
    /// Unexplained changes still live when the run ended.
    pub unexplained_open: u64,
}

/// The auditability figures of a setup over its repetitions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unexplained {
    /// Changes to live state, over every repetition.
    pub changes: u64,
    /// Of which no git revision explains.
    pub unexplained: u64,
    /// Mean time an unexplained change stayed live, in seconds (one still live at the end
    /// counts until the end, so this is a lower bound when `still_live` > 0).
    pub mean_live_s: Option<f64>,
    /// Unexplained changes still live when the run ended.
    pub still_live: u64,
}

fn merge_len(mut iv: Vec<(Nanos, Nanos)>) -> u128 {
    iv.retain(|(a, b)| b > a);
    iv.sort_unstable();
    let mut total = 0u128;
    let mut cur: Option<(Nanos, Nanos)> = None;
    for (a, b) in iv {
        match cur {
            Some((s, e)) if a <= e => cur = Some((s, e.max(b))),
            Some((s, e)) => {
                total += (e - s) as u128;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((s, e)) = cur {
        total += (e - s) as u128;
    }
    total
}

/// The `bad=N` of a divergence event's detail.
fn bad_of(detail: &str) -> &str {
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("bad="))
        .unwrap_or("")
}

/// One repetition's figures for a fleet of `clusters` × `apps` over `horizon` ns.
pub fn of_run(r: &RunRecord, clusters: u32, apps: u32, horizon: Nanos) -> RepAudit {
    let mut ev: Vec<_> = r.events.iter().filter(|e| e.t <= horizon).collect();
    ev.sort_by_key(|e| e.t);
    type Key = (ClusterId, AppId);
    let mut intervals: BTreeMap<Key, Vec<(Nanos, Nanos)>> = BTreeMap::new();
    let mut drift_open: BTreeMap<Key, Vec<Nanos>> = BTreeMap::new();
    let mut failed_open: BTreeMap<Key, Nanos> = BTreeMap::new();
    // (app, bad) → diverged at
    let mut diverged: BTreeMap<(AppId, String), Nanos> = BTreeMap::new();
    let mut out = RepAudit {
        app_time: clusters as u128 * apps as u128 * horizon as u128,
        ..RepAudit::default()
    };
    let mut rollouts = 0u64;
    let mut undo_spans: Vec<(AppId, Nanos, Nanos)> = Vec::new();
    let live = |out: &mut RepAudit, from: Nanos, to: Nanos| {
        out.unexplained += 1;
        out.unexplained_live += to.saturating_sub(from) as u128;
    };
    for e in ev {
        let key = e.cluster.zip(e.app);
        match e.kind {
            EventKind::Drift => {
                if let Some(k) = key {
                    drift_open.entry(k).or_default().push(e.t);
                }
            }
            EventKind::DriftRecovered => {
                if let Some(k) = key {
                    for at in drift_open.remove(&k).unwrap_or_default() {
                        intervals.entry(k).or_default().push((at, e.t));
                        live(&mut out, at, e.t);
                    }
                }
            }
            EventKind::RolloutFailed => {
                if let Some(k) = key {
                    failed_open.entry(k).or_insert(e.t);
                }
            }
            EventKind::RolledOut => {
                rollouts += 1;
                if let Some(k) = key
                    && let Some(at) = failed_open.remove(&k)
                {
                    intervals.entry(k).or_default().push((at, e.t));
                }
            }
            EventKind::RollbackComplete => {
                for (k, at) in std::mem::take(&mut failed_open) {
                    intervals.entry(k).or_default().push((at, e.t));
                }
            }
            EventKind::GitDiverged => {
                if let Some(a) = e.app {
                    diverged
                        .entry((a, bad_of(&e.detail).to_string()))
                        .or_insert(e.t);
                }
            }
            EventKind::GitConverged => {
                if let Some(a) = e.app
                    && let Some(at) = diverged.remove(&(a, bad_of(&e.detail).to_string()))
                {
                    undo_spans.push((a, at, e.t));
                    live(&mut out, at, e.t);
                }
            }
            _ => {}
        }
    }
    // What is still open at the end stays until the end.
    for (k, ats) in drift_open {
        for at in ats {
            intervals.entry(k).or_default().push((at, horizon));
            live(&mut out, at, horizon);
            out.unexplained_open += 1;
        }
    }
    for (k, at) in failed_open {
        intervals.entry(k).or_default().push((at, horizon));
    }
    for ((a, _), at) in diverged {
        undo_spans.push((a, at, horizon));
        live(&mut out, at, horizon);
        out.unexplained_open += 1;
    }
    for (a, from, to) in undo_spans {
        for c in 0..clusters {
            intervals.entry((c, a)).or_default().push((from, to));
        }
    }
    out.out_of_sync = intervals.into_values().map(merge_len).sum();
    let detailed = rollouts > 0 || r.counters.deploys == 0;
    out.changes = detailed.then_some(rollouts + out.unexplained);
    out
}

/// The 95% interval of Σnum/Σden over repetitions, resampling whole repetitions
/// (the expanded percentile of [`super::bootstrap`]); `None` under
/// [`super::bootstrap::MIN_REPETITIONS`] repetitions or when a resample has no
/// denominator.
pub fn ratio_ci(num: &[f64], den: &[f64], seed: u64) -> Option<[f64; 2]> {
    let n = num.len();
    if n < super::bootstrap::MIN_REPETITIONS || den.len() != n {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = Vec::with_capacity(super::bootstrap::RESAMPLES);
    for _ in 0..super::bootstrap::RESAMPLES {
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..n {
            let i = rng.random_range(0..n);
            a += num[i];
            b += den[i];
        }
        if b > 0.0 {
            stats.push(a / b);
        }
    }
    if stats.len() * 2 < super::bootstrap::RESAMPLES {
        return None;
    }
    stats.sort_unstable_by(f64::total_cmp);
    let m = stats.len();
    let tail = super::bootstrap::tail(n);
    let lo = ((tail * m as f64).floor() as usize).min(m - 1);
    let hi = (((1.0 - tail) * m as f64).ceil() as usize).clamp(1, m) - 1;
    Some([stats[lo], stats[hi]])
}

/// The out-of-sync share over repetitions (app-time out of sync / app-time) and its
/// interval.
pub fn out_of_sync_share(reps: &[RepAudit], seed: u64) -> (Option<f64>, Option<[f64; 2]>) {
    let num: Vec<f64> = reps.iter().map(|r| r.out_of_sync as f64).collect();
    let den: Vec<f64> = reps.iter().map(|r| r.app_time as f64).collect();
    let d: f64 = den.iter().sum();
    if d <= 0.0 {
        return (None, None);
    }
    (
        Some(num.iter().sum::<f64>() / d),
        ratio_ci(&num, &den, seed),
    )
}

/// The unexplained-change share, its interval, and the counts behind it; `None` when a
/// repetition has no per-deployment events or nothing changed.
pub fn unexplained(reps: &[RepAudit], seed: u64) -> Option<(f64, Option<[f64; 2]>, Unexplained)> {
    let den: Vec<f64> = reps
        .iter()
        .map(|r| r.changes.map(|c| c as f64))
        .collect::<Option<_>>()?;
    let num: Vec<f64> = reps.iter().map(|r| r.unexplained as f64).collect();
    let changes: u64 = reps.iter().filter_map(|r| r.changes).sum();
    if changes == 0 {
        return None;
    }
    let unexplained: u64 = reps.iter().map(|r| r.unexplained).sum();
    let live: u128 = reps.iter().map(|r| r.unexplained_live).sum();
    let u = Unexplained {
        changes,
        unexplained,
        mean_live_s: (unexplained > 0).then(|| live as f64 / unexplained as f64 / 1e9),
        still_live: reps.iter().map(|r| r.unexplained_open).sum(),
    };
    Some((
        unexplained as f64 / changes as f64,
        ratio_ci(&num, &den, seed),
        u,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Event;
    use crate::scenario::SECOND;

    fn ev(t: u64, c: Option<u32>, a: Option<u32>, kind: EventKind, detail: &str) -> Event {
        Event {
            t: t * SECOND,
            cluster: c,
            app: a,
            kind,
            detail: detail.into(),
        }
    }

    #[test]
    fn overlapping_causes_on_one_deployment_are_counted_once() {
        // App 0 on cluster 0: drift 10..40, failed rollout 30..60 → out of sync 10..60
        // = 50 s; horizon 100 s, 1 cluster × 2 apps → 50 / 200 = 0.25.
        let r = RunRecord {
            events: vec![
                ev(10, Some(0), Some(0), EventKind::Drift, "scale"),
                ev(30, Some(0), Some(0), EventKind::RolloutFailed, "rev=1"),
                ev(40, Some(0), Some(0), EventKind::DriftRecovered, ""),
                ev(60, Some(0), Some(0), EventKind::RolledOut, "rev=2"),
            ],
            ..RunRecord::default()
        };
        let a = of_run(&r, 1, 2, 100 * SECOND);
        assert_eq!(a.out_of_sync, 50 * SECOND as u128);
        assert_eq!(out_of_sync_share(&[a], 1).0, Some(0.25));
        // Changes: 1 rollout + 1 drift; the drift is unexplained, live 30 s.
        assert_eq!((a.changes, a.unexplained), (Some(2), 1));
        assert_eq!(a.unexplained_live, 30 * SECOND as u128);
    }

    #[test]
    fn drift_left_in_place_and_an_open_divergence_last_until_the_end_on_every_cluster() {
        // 2 clusters × 1 app, horizon 100 s. Drift on cluster 1 at 80 (open: 20 s);
        // undo diverges at 50, never converges: 50 s on each of 2 clusters = 100 s.
        // Cluster 1: drift 80..100 inside 50..100 → 50 s. Total 100 s of 200 → 0.5.
        let r = RunRecord {
            events: vec![
                ev(20, Some(0), Some(0), EventKind::RolledOut, "rev=1"),
                ev(50, None, Some(0), EventKind::GitDiverged, "bad=2"),
                ev(80, Some(1), Some(0), EventKind::Drift, "image"),
            ],
            ..RunRecord::default()
        };
        let a = of_run(&r, 2, 1, 100 * SECOND);
        assert_eq!(a.out_of_sync, 100 * SECOND as u128);
        assert_eq!((a.unexplained, a.unexplained_open), (2, 2));
        assert_eq!(a.unexplained_live, 70 * SECOND as u128);
    }

    #[test]
    fn a_ratio_interval_needs_ten_repetitions_and_brackets_the_ratio() {
        assert_eq!(ratio_ci(&[1.0; 9], &[2.0; 9], 7), None);
        let num: Vec<f64> = (0..12).map(|i| i as f64).collect();
        let den = vec![10.0; 12];
        let [lo, hi] = ratio_ci(&num, &den, 7).unwrap();
        assert!(lo < 0.55 && 0.55 < hi, "{lo} {hi}");
    }
}
