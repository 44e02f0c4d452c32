//! Flux as it runs: the state the pull [`Reconciler`](super::pull::Reconciler) keeps when
//! its config says `refresh: source` (the `flux` preset): one GitRepository per cluster
//! that checks the branch once per interval, and per Kustomization its interval timer and
//! the health check that holds a worker while `wait` is on.
//!
//! Upstream (Flux v2.9: source-controller v1.9.0, kustomize-controller v1.9.0, fluxcd/pkg
//! ssa v0.76.0, fluxcd/cli-utils v1.2.1; file:line in docs/PRESETS.md): a GitRepository
//! reconcile lists the remote refs (one ref check at the git host) and fetches objects
//! only for a new revision; the new artifact revision enqueues every Kustomization whose
//! `sourceRef` is that GitRepository; a Kustomization reconcile builds, applies every
//! object server-side (a dry run finds what differs, so a reconcile of a manifest already
//! applied changes only drifted objects, which it puts back) and, with `wait`, polls the
//! objects' status
//! every 5 s (the first poll at once) until all are Current or `timeout`; each reconcile
//! ends with a requeue after `interval` (or `retryInterval` after a failure), so the
//! interval timer starts over after a revision-triggered reconcile.

use super::{AppId, Rev, SpecId};
use crate::scenario::Nanos;

/// A health check in progress: the worker is held until it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// The manifest applied.
    pub spec: SpecId,
    /// When the apply returned: the first status poll.
    pub applied: Nanos,
    /// The apply changed the Deployment (a new manifest): its controller has not yet
    /// observed the new generation at the poll right after the apply.
    pub changed: bool,
    /// `applied + timeout`.
    pub deadline: Nanos,
    /// The rollout's outcome once the world reported it.
    pub outcome: Option<bool>,
}

impl Check {
    /// How many status polls the health check made when it ended at `end`: one at the
    /// apply and one every `poll` up to the one that saw the outcome; a check that timed
    /// out polled every `poll` before its deadline. A check of objects already in sync
    /// (no deadline) sees them Current at its first poll.
    pub fn polls(&self, end: Nanos, poll: Nanos) -> u64 {
        if self.deadline == Nanos::MAX || poll == 0 {
            return 1;
        }
        let span = end.min(self.deadline).saturating_sub(self.applied);
        if end >= self.deadline {
            span.div_ceil(poll).max(1)
        } else {
            span / poll + 1
        }
    }
}

/// When a health check that polls at `applied + k·poll` (k = 0, 1, …) first sees an object
/// that became ready at `ready`. kstatus calls a Deployment Current only once its
/// controller has observed the applied generation (`status.observedGeneration`), which
/// never happens before the apply returns: so an apply that changed the Deployment is seen
/// ready at the second poll at the earliest (k ≥ 1), an unchanged one at the first.
pub fn observed_at(applied: Nanos, ready: Nanos, poll: Nanos, changed: bool) -> Nanos {
    let after = ready.saturating_sub(applied);
    if poll == 0 {
        return ready.max(applied);
    }
    let k = after.div_ceil(poll).max(u64::from(changed));
    applied.saturating_add(k.saturating_mul(poll))
}

/// The GitRepository and Kustomization state of one cluster's Flux.
#[derive(Clone, Debug)]
pub struct FluxSource {
    /// The revision of the artifact source-controller holds (`Rev::MAX` after a restart:
    /// none yet, so the next check fetches).
    pub rev: Rev,
    /// Tells the current source timer from older ones (every reconcile of the source
    /// requeues it anew).
    pub generation: u32,
    /// Failed source reconciles in a row.
    pub failures: u32,
    /// When the source was last checked (webhooks that arrive together check once).
    pub last_check: Option<Nanos>,
    /// Per Kustomization: the generation of its interval timer.
    pub ks_generation: Vec<u32>,
    /// Per Kustomization: the health check in progress, and its timer's generation.
    pub checks: Vec<Option<Check>>,
    pub check_generation: Vec<u32>,
    /// Per Kustomization: the manifest its last successful apply wrote (an apply of the
    /// same manifest again changes nothing the health check waits for).
    pub last_applied: Vec<SpecId>,
    /// Per Kustomization: a reconcile of the manifest last applied waits for its dry run
    /// (server-side apply's diff); when its worker is free if nothing drifted.
    pub dry_run: Vec<Option<Nanos>>,
    /// API requests the reconciles made and the world has not counted yet (the request
    /// model: [`crate::scenario::models::FLUX_STATUS_PATCHES`] and the constants after it).
    pub requests: u64,
}

impl FluxSource {
    /// One Kustomization per app, all of the one GitRepository, `initial` applied;
    /// revision 0 is fetched.
    pub fn new(initial: &[SpecId]) -> FluxSource {
        let apps = initial.len();
        FluxSource {
            last_applied: initial.to_vec(),
            dry_run: vec![None; apps],
            rev: 0,
            generation: 0,
            failures: 0,
            last_check: None,
            ks_generation: vec![0; apps],
            checks: vec![None; apps],
            check_generation: vec![0; apps],
            requests: 0,
        }
    }

    /// A new source timer's generation (older timers are stale from now on).
    pub fn next_source_timer(&mut self) -> u32 {
        self.generation = self.generation.wrapping_add(1);
        self.generation
    }

    /// A new interval timer's generation for `app`.
    pub fn next_ks_timer(&mut self, app: AppId) -> u32 {
        let g = &mut self.ks_generation[app as usize];
        *g = g.wrapping_add(1);
        *g
    }

    /// Starts a health check of `app`; returns its timer's generation.
    pub fn start_check(&mut self, app: AppId, check: Check) -> u32 {
        self.checks[app as usize] = Some(check);
        let g = &mut self.check_generation[app as usize];
        *g = g.wrapping_add(1);
        *g
    }

    /// The rollout of `spec` on `app` ended at `now`: when the health check sees it and
    /// the generation of the timer to set then, or `None` (no check of that manifest, or
    /// seen only at or after the timeout: the deadline timer ends the check).
    pub fn rollout_finished(
        &mut self,
        now: Nanos,
        app: AppId,
        spec: SpecId,
        ok: bool,
        poll: Nanos,
    ) -> Option<(Nanos, u32)> {
        let c = self.checks[app as usize].as_mut()?;
        if c.spec != spec || c.outcome.is_some() {
            return None;
        }
        let at = observed_at(c.applied, now, poll, c.changed);
        // The poll that would land on the deadline loses to the context's timeout.
        if at >= c.deadline {
            return None;
        }
        c.outcome = Some(ok);
        let g = &mut self.check_generation[app as usize];
        *g = g.wrapping_add(1);
        Some((at, *g))
    }

    /// The check timer of `app` fired: whether the check ends now, and how (`Some(ok)`;
    /// a timeout or a failed rollout is not ok).
    pub fn check_ends(&mut self, app: AppId, generation: u32) -> Option<bool> {
        if self.check_generation[app as usize] != generation {
            return None;
        }
        let c = self.checks[app as usize].take()?;
        Some(c.outcome == Some(true))
    }

    /// A restart: no artifact known, no check in progress, every timer stale; `live` is
    /// what the cluster shows applied.
    pub fn restart(&mut self, live: &[SpecId]) {
        self.last_applied = live.to_vec();
        self.dry_run.iter_mut().for_each(|d| *d = None);
        self.rev = Rev::MAX;
        self.failures = 0;
        self.last_check = None;
        self.generation = self.generation.wrapping_add(1);
        for g in self.ks_generation.iter_mut() {
            *g = g.wrapping_add(1);
        }
        for (c, g) in self.checks.iter_mut().zip(self.check_generation.iter_mut()) {
            *c = None;
            *g = g.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The pure pieces, then the [`Reconciler`](super::super::pull::Reconciler) in Flux
    //! mode driven through the [`Harness`](crate::model::harness::Harness).
    use super::*;
    use crate::model::harness::{Harness, Script};
    use crate::model::pull::Reconciler;
    use crate::model::{Action, Input, NoteKind, Timer};
    use crate::scenario::models::{PullPreset, Refresh};
    use crate::scenario::{Dist, Dur, PullConfig, SECOND};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const MINUTE: Nanos = 60 * SECOND;
    const HOUR: Nanos = 60 * MINUTE;

    #[test]
    fn a_changed_deployment_is_seen_ready_one_poll_after_the_apply_at_the_earliest() {
        let p = 5 * SECOND;
        assert_eq!(observed_at(100, 100, p, true), 100 + p);
        assert_eq!(
            observed_at(100, 100, p, false),
            100,
            "unchanged: the first poll"
        );
        assert_eq!(observed_at(0, 7 * SECOND, p, true), 10 * SECOND);
        assert_eq!(observed_at(0, 10 * SECOND, p, true), 10 * SECOND);
        assert_eq!(observed_at(0, 10 * SECOND + 1, p, false), 15 * SECOND);
    }

    /// Health-check polls (each k + 2 API requests): one at the apply and one every 5 s
    /// until the outcome is seen; a timed-out check polled every 5 s before its deadline;
    /// objects already in sync are Current at the first poll.
    #[test]
    fn a_health_check_counts_its_polls_up_to_the_outcome_or_the_deadline() {
        let p = 5 * SECOND;
        let c = Check {
            spec: 1,
            applied: 100 * SECOND,
            changed: true,
            deadline: 160 * SECOND,
            outcome: None,
        };
        assert_eq!(c.polls(105 * SECOND, p), 2, "seen at the second poll");
        assert_eq!(c.polls(130 * SECOND, p), 7);
        assert_eq!(
            c.polls(160 * SECOND, p),
            12,
            "timed out: polls at 0, 5, …, 55 s"
        );
        let in_sync = Check {
            deadline: Nanos::MAX,
            ..c
        };
        assert_eq!(in_sync.polls(103 * SECOND, p), 1);
    }

    #[test]
    fn a_rollout_seen_after_the_timeout_leaves_the_deadline_to_end_the_check() {
        let mut f = FluxSource::new(&[0]);
        let c = Check {
            spec: 3,
            applied: 0,
            changed: true,
            deadline: 60 * SECOND,
            outcome: None,
        };
        let g = f.start_check(0, c);
        assert_eq!(
            f.rollout_finished(58 * SECOND, 0, 3, true, 5 * SECOND),
            None
        );
        assert_eq!(f.check_ends(0, g), Some(false), "timed out");
        let g = f.start_check(0, c);
        assert_eq!(
            f.rollout_finished(SECOND, 0, 2, true, 5 * SECOND),
            None,
            "another manifest"
        );
        let (at, g2) = f.rollout_finished(SECOND, 0, 3, true, 5 * SECOND).unwrap();
        assert_eq!(at, 5 * SECOND);
        assert_eq!(f.check_ends(0, g), None, "the deadline timer is stale");
        assert_eq!(f.check_ends(0, g2), Some(true));
    }

    fn flux() -> PullConfig {
        let c = PullConfig::preset(PullPreset::Flux);
        assert_eq!(c.refresh, Refresh::Source);
        c
    }

    /// Flux on cluster 0 with `n` apps at manifests `0..n`.
    fn harness(cfg: PullConfig, n: u32, script: Script) -> Harness<Reconciler> {
        let initial: Vec<SpecId> = (0..n).collect();
        let r = Reconciler::new(cfg, 0, &initial, ChaCha8Rng::seed_from_u64(5));
        Harness::new(r, initial, script)
    }

    /// Every app's manifest changes (new ids after `0..n`).
    fn all_changed(n: u32) -> Vec<SpecId> {
        (0..n).map(|a| n + a).collect()
    }

    fn ready(h: &Harness<Reconciler>) -> Vec<(Nanos, AppId)> {
        h.notes(NoteKind::Ready)
            .into_iter()
            .map(|(t, n)| (t, n.app.unwrap()))
            .collect()
    }

    /// kustomize-controller's `--concurrent` workers as a c-server queue with fixed
    /// service: a revision that fans out to N Kustomizations of fixed time s is Ready
    /// everywhere ⌈N/c⌉·s after the source saw it; with `wait`, each reconcile holds its
    /// worker one health-check poll longer (a changed Deployment is seen ready at the
    /// second poll), ⌈N/c⌉·(s + poll).
    #[test]
    fn fan_out_of_n_kustomizations_through_c_workers_of_fixed_time_s_takes_ceil_n_over_c_times_s() {
        for (n, c, s, wait) in [
            (100u32, 20u32, 3u64, false),
            (101, 20, 3, false),
            (7, 3, 5, false),
            (1, 4, 2, false),
            (40, 40, 1, false),
            (100, 20, 1, true),
            (9, 4, 2, true),
        ] {
            let mut cfg = flux();
            cfg.concurrency = c;
            cfg.apply = Dist::fixed(s * SECOND);
            cfg.kustomization.render = Dist::fixed(0);
            cfg.kustomization.objects = 1;
            cfg.kustomization.wait = wait;
            cfg.poll.interval = Dur(10 * HOUR);
            // No interval reconciles among the fan-out's.
            cfg.drift_detection = crate::scenario::DriftDetection::None;
            let script = Script::default().rollouts_finish_after(0);
            let mut h = harness(cfg, n, script);
            h.run_until(10 * SECOND);
            h.commit(all_changed(n));
            h.inject(Input::Webhook { app: 0 });
            h.run_until(HOUR);
            let r = ready(&h);
            assert_eq!(r.len(), n as usize, "n {n} c {c} s {s} wait {wait}");
            let last = r.iter().map(|&(t, _)| t).max().unwrap();
            let per = s * SECOND + if wait { 5 * SECOND } else { 0 };
            assert_eq!(
                last - 10 * SECOND,
                u64::from(n.div_ceil(c)) * per,
                "n {n} c {c} s {s} wait {wait}"
            );
        }
    }

    /// One GitRepository per cluster: git sees one ref check per interval (57 s + up to
    /// 6 s, Flux's 1 m ± 5%) however many Kustomizations read it, and no per-app fetch.
    #[test]
    fn git_traffic_is_one_ref_check_per_interval_per_git_repository_not_per_app() {
        for n in [1u32, 50, 500] {
            let mut h = harness(flux(), n, Script::default());
            h.run_until(HOUR);
            let resolves = h.resolves();
            assert!(
                (56..=64).contains(&resolves.len()),
                "{n} apps: {} checks in an hour",
                resolves.len()
            );
            let gaps: Vec<Nanos> = resolves.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(
                gaps.iter().all(|g| (57 * SECOND..=63 * SECOND).contains(g)),
                "{gaps:?}"
            );
            let fetches = h
                .actions()
                .iter()
                .filter(|(_, a)| matches!(a, Action::Fetch { .. }))
                .count();
            assert_eq!(fetches, 0, "no per-app poll");
        }
    }

    /// When each reconcile of `app` started: an apply, or for a manifest already applied
    /// the server-side apply's dry run.
    fn reconciles(h: &Harness<Reconciler>, app: AppId) -> Vec<Nanos> {
        let mut t: Vec<Nanos> = h
            .applies()
            .iter()
            .filter(|(_, a)| a.items[0].0 == app)
            .map(|(t, _)| *t)
            .chain(h.diffs().iter().filter(|d| d.2 == app).map(|d| d.0))
            .collect();
        t.sort();
        // A dry run that found drift and the apply after it are one reconcile.
        t.dedup();
        t
    }

    /// A new revision reconciles every Kustomization of the source, the unchanged ones
    /// too (a dry run of their objects; one that drifted is applied back), and each one's
    /// interval timer starts over from the end of that reconcile.
    #[test]
    fn a_new_revision_reconciles_every_kustomization_and_restarts_its_interval_timer() {
        let mut cfg = flux();
        cfg.reconcile_jitter = Dur(0);
        cfg.poll.interval = Dur(10 * HOUR);
        // App 2 drifted: its dry run finds it out of sync.
        let script = Script::default().on_diff(|_, _, app, _| Some(app != 2));
        let mut h = harness(cfg, 3, script);
        // Every Kustomization's first interval reconcile falls in its first 570 s.
        h.run_until(600 * SECOND);
        for app in 0..3 {
            assert_eq!(reconciles(&h, app).len(), 1, "app {app}");
        }
        let before = h.applies().len();
        h.commit(vec![7, 1, 2]);
        h.inject(Input::Webhook { app: 0 });
        h.run_until(601 * SECOND);
        let applied: Vec<(Nanos, (AppId, SpecId))> = h.applies()[before..]
            .iter()
            .map(|(t, a)| (*t, a.items[0]))
            .collect();
        assert_eq!(
            applied,
            vec![(600 * SECOND, (0, 7)), (600 * SECOND, (2, 2))],
            "the new manifest, and the drifted app put back"
        );
        assert!(
            h.diffs().iter().any(|d| d.0 == 600 * SECOND && d.2 == 1),
            "the unchanged app is reconciled too"
        );
        h.run_until(2 * HOUR);
        let step = 2 * (SECOND / 100) + SECOND / 50;
        for app in 0..3 {
            let times: Vec<Nanos> = reconciles(&h, app)
                .into_iter()
                .filter(|&t| t >= 600 * SECOND)
                .collect();
            assert_eq!(
                times[1] - times[0],
                step + 570 * SECOND,
                "app {app}: the next reconcile one interval after the fan-out ended"
            );
        }
    }

    /// `wait` with a rollout that outlasts `timeout`: the health check fails at the
    /// deadline, the Kustomization is not Ready, and it is retried after the retry
    /// interval (`retryInterval`, which defaults to `interval`).
    #[test]
    fn a_health_check_that_times_out_fails_the_reconcile_and_retries_after_the_retry_interval() {
        let mut cfg = flux();
        cfg.kustomization.wait = true;
        cfg.kustomization.timeout = Dur(MINUTE);
        cfg.poll.interval = Dur(10 * HOUR);
        cfg.drift_detection = crate::scenario::DriftDetection::None;
        let mut first = true;
        let script = Script::default().on_rollout(move |_, _, _| {
            Some((
                if std::mem::take(&mut first) {
                    90 * SECOND
                } else {
                    0
                },
                true,
            ))
        });
        let mut h = harness(cfg, 1, script);
        h.run_until(SECOND);
        h.commit(vec![4]);
        h.inject(Input::Webhook { app: 0 });
        h.run_until(HOUR);
        let step = 2 * (SECOND / 100) + SECOND / 50;
        let fails: Vec<Nanos> = h
            .notes(NoteKind::SyncFailed)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(fails[0], SECOND + step + MINUTE, "failed at the deadline");
        // The retry's dry run finds the objects as applied, the rollout over by then:
        // Ready when the reconcile's time is up.
        let retry = reconciles(&h, 0)[1];
        assert_eq!(retry, fails[0] + 10 * MINUTE, "retried after 10 m");
        assert_eq!(h.applies().len(), 1, "nothing to apply again");
        let r = ready(&h);
        assert_eq!(r[0].0, retry + step, "{r:?}");
        assert!(
            h.timers()
                .iter()
                .any(|(_, _, t)| matches!(t, Timer::Health { .. }))
        );
    }

    /// kustomize-controller's `GetTimeout` never waits less than 30 s: a `timeout` of 1 s
    /// still lets a 10 s rollout pass its health check (at the 10 s poll).
    #[test]
    fn a_timeout_below_30_s_waits_30_s_as_kustomize_controller_does() {
        let mut cfg = flux();
        cfg.kustomization.wait = true;
        cfg.kustomization.timeout = Dur(SECOND);
        cfg.poll.interval = Dur(10 * HOUR);
        cfg.drift_detection = crate::scenario::DriftDetection::None;
        let mut h = harness(cfg, 1, Script::default().rollouts_finish_after(10 * SECOND));
        h.commit(vec![4]);
        h.inject(Input::Webhook { app: 0 });
        h.run_until(HOUR);
        let step = 2 * (SECOND / 100) + SECOND / 50;
        assert!(h.notes(NoteKind::SyncFailed).is_empty());
        assert_eq!(ready(&h), vec![(step + 10 * SECOND, 0)]);
    }
}
