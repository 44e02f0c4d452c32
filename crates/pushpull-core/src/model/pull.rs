//! The pull reconciler (Argo CD / Flux style) as a sans-IO state machine: one agent per
//! cluster, reconciling every app on it.
//!
//! With `refresh: poll` (Flux) each app polls git every `poll.interval` plus a uniform
//! extra of up to `poll.jitter` (first polls spread over one interval); a webhook
//! triggers an immediate fetch; a failed fetch keeps the last known revision and is
//! retried with `retry` backoff. With `refresh: resync` (Argo CD) refreshes follow the
//! application informer's resync, skip apps compared recently and resolve the branch
//! through a revision cache ([`super::refresh`]). A new
//! manifest is synced once (automated sync runs once per revision), at most `concurrency`
//! syncs at a time; a failed sync is retried on the `retry` backoff, up to `retry.limit`
//! times, and a refresh that sees the failed revision again does not sync it. Drift is
//! corrected by watch-driven self-heal (Argo CD: the first attempt at once, then
//! `initial × factorⁿ` capped at `max`, counted from the last sync's end; the count
//! starts over with a new revision), by a diff-and-apply every `reconcile_interval`
//! (Flux), or not at all. After a restart the agent knows only what it reads back, and
//! re-checks every app against git and the cluster.

use super::refresh::{ArgoRefresh, Route};
use super::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, OpId, SpecId, Timer, Trace,
};
use crate::scenario::models::Refresh;
use crate::scenario::{DriftDetection, Nanos, PullConfig};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyncState {
    Idle,
    Queued,
    Syncing,
}

/// What every poll reads: kept apart from the rest of an app's state so that the poll
/// path, most of a fleet's events, touches 32 bytes per app (see docs/PERFORMANCE.md).
#[derive(Clone, Copy, Debug)]
struct PollState {
    /// Newest manifest seen in git, and when it was first seen.
    target: SpecId,
    target_seen: Nanos,
    /// Newest manifest synced successfully.
    synced: SpecId,
    /// The manifest of the sync in flight.
    attempting: SpecId,
    poll_generation: u32,
    fetch_failures: u32,
}

impl PollState {
    fn new(spec: SpecId) -> PollState {
        PollState {
            target: spec,
            target_seen: 0,
            synced: spec,
            attempting: spec,
            poll_generation: 0,
            fetch_failures: 0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct AppState {
    state: SyncState,
    /// A diff-and-correct, self-heal or retry re-applies the target even when that
    /// revision was synced before.
    force: bool,
    /// Failed attempts of the current sync operation (0 once one succeeds).
    sync_failures: u32,
    retry_generation: u32,
    /// A retry is due: the revision it syncs (Argo CD keeps the operation's revision; with
    /// `retry.refresh` the newest is synced instead). An operation is in progress until
    /// then, so no other automated sync or self-heal starts.
    retry_spec: Option<SpecId>,
    /// Self-heal syncs of the synced revision so far (Argo CD `SelfHealAttemptsCount`).
    heal_attempts: u32,
    /// When the last sync operation ended (Argo CD `operationState.finishedAt`).
    last_op_end: Option<Nanos>,
    heal_generation: u32,
    heal_pending: bool,
    /// Automated sync is off (after `argocd app rollback`): no new revision is synced and
    /// drift is not healed until someone re-enables it. Kept across a restart: it is
    /// the Application's spec, not the controller's memory.
    paused: bool,
    /// The earlier manifest an app rollback syncs, until that sync succeeds.
    rollback_to: Option<SpecId>,
    /// Automated sync was re-enabled: the next answer from git syncs the head.
    resync: bool,
}

impl AppState {
    fn new() -> AppState {
        AppState {
            state: SyncState::Idle,
            force: false,
            sync_failures: 0,
            retry_generation: 0,
            retry_spec: None,
            heal_attempts: 0,
            last_op_end: None,
            heal_generation: 0,
            heal_pending: false,
            paused: false,
            rollback_to: None,
            resync: false,
        }
    }
}

/// The shortest wait before a retry of a failed fetch or sync: one millisecond, about a network round trip. A shorter backoff (zero included) would let
/// failing retries follow each other without virtual time advancing: a livelock that
/// fills memory with events. No reconciler retries faster.
pub const MIN_RETRY_DELAY: Nanos = 1_000_000;

fn retry_delay(backoff: Nanos) -> Nanos {
    backoff.max(MIN_RETRY_DELAY)
}

pub struct Reconciler {
    cfg: PullConfig,
    cluster: ClusterId,
    rng: ChaCha8Rng,
    polls: Vec<PollState>,
    apps: Vec<AppState>,
    queue: VecDeque<AppId>,
    active: u32,
    next_op: OpId,
    out: VecDeque<Action>,
    /// `refresh: resync`: Argo CD's refresh state (`None` with `refresh: poll`).
    argo: Option<ArgoRefresh>,
}

impl Reconciler {
    /// `initial` is the tree already synced at time zero.
    pub fn new(
        cfg: PullConfig,
        cluster: ClusterId,
        initial: &[SpecId],
        rng: ChaCha8Rng,
    ) -> Reconciler {
        let mut r = Reconciler {
            cfg,
            cluster,
            rng,
            polls: initial.iter().map(|&s| PollState::new(s)).collect(),
            apps: vec![AppState::new(); initial.len()],
            queue: VecDeque::new(),
            active: 0,
            next_op: 0,
            out: VecDeque::with_capacity(initial.len() * 2),
            argo: None,
        };
        if r.cfg.refresh == Refresh::Resync {
            r.argo = Some(ArgoRefresh::new(
                r.cfg.poll.interval.0.max(1),
                r.cfg.revision_cache.0,
                Arc::from(initial),
            ));
        }
        r.arm_timers(0, false);
        r
    }

    /// Schedules every app's first poll (spread evenly over one interval, as
    /// Applications start at different moments) and first diff; `now_first` polls and
    /// diffs everything at once instead (after a restart).
    fn arm_timers(&mut self, now: Nanos, now_first: bool) {
        let interval = self.cfg.poll.interval.0.max(1);
        let ri = self.cfg.reconcile_interval.0.max(1);
        if let Some(argo) = &self.argo {
            // The informer's resync runs from when the controller started (a uniform
            // phase at the start of the run; a restart starts it again).
            let generation = argo.generation;
            let first = if now_first {
                interval
            } else {
                self.rng.random_range(0..interval)
            };
            self.out.push_back(Action::SetTimer {
                at: now.saturating_add(first),
                timer: Timer::Resync { generation },
            });
        }
        for app in 0..self.apps.len() as AppId {
            let generation = self.polls[app as usize].poll_generation;
            if self.argo.is_none() {
                let first = if now_first {
                    0
                } else {
                    self.rng.random_range(0..interval)
                };
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(first),
                    timer: Timer::Poll { app, generation },
                });
            } else if now_first {
                // The informer's initial list asks every app for a refresh at once.
                self.refresh(now, app, false);
            }
            if self.cfg.drift_detection == DriftDetection::Interval {
                let first = self.rng.random_range(0..ri);
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(first),
                    timer: Timer::Reconcile { app },
                });
            }
            if now_first {
                let spec = self.polls[app as usize].target;
                self.out.push_back(Action::Diff {
                    cluster: self.cluster,
                    app,
                    spec,
                });
            }
        }
    }

    fn note(&mut self, kind: NoteKind, app: Option<AppId>, detail: u64) {
        self.out.push_back(Action::Note(Note {
            kind,
            cluster: Some(self.cluster),
            app,
            detail,
        }));
    }

    fn jitter(&mut self, max: Nanos) -> Nanos {
        if max > 0 {
            self.rng.random_range(0..=max)
        } else {
            0
        }
    }

    fn enqueue(&mut self, now: Nanos, app: AppId, force: bool) {
        let a = &mut self.apps[app as usize];
        a.force |= force;
        if a.state == SyncState::Idle {
            a.state = SyncState::Queued;
            self.queue.push_back(app);
            self.dispatch(now);
        }
    }

    fn dispatch(&mut self, now: Nanos) {
        while self.active < self.cfg.concurrency {
            let Some(app) = self.queue.pop_front() else {
                break;
            };
            let duration = self.cfg.apply.sample(&mut self.rng);
            let a = &mut self.apps[app as usize];
            a.state = SyncState::Syncing;
            a.force = false;
            let p = &mut self.polls[app as usize];
            let retry = a.retry_spec.filter(|_| !self.cfg.retry.refresh);
            let spec = a.rollback_to.or(retry).unwrap_or(p.target);
            p.attempting = spec;
            let trace = Trace {
                picked_up: p.target_seen,
                started: now,
                first_apply: now,
                built: 0,
                gate_open: 0,
                gate_passed: 0,
            };
            self.active += 1;
            // The low half names the app (all `applied` reads back); the high half only
            // tells operations apart, so it may wrap.
            let op = (self.next_op << 32) | app as u64;
            self.next_op = self.next_op.wrapping_add(1);
            self.note(NoteKind::SyncStarted, Some(app), spec as u64);
            self.out.push_back(Action::Apply(Apply {
                op,
                cluster: self.cluster,
                items: Arc::from([(app, spec)]),
                duration,
                trace,
            }));
        }
    }

    /// Argo CD: a refresh that compares `app` with the latest revision, through the
    /// revision cache unless `force`.
    fn refresh(&mut self, now: Nanos, app: AppId, force: bool) {
        let Some(argo) = self.argo.as_mut() else {
            return;
        };
        match argo.request(now, app, force) {
            Route::Now(spec) => self.fetched(now, app, spec),
            Route::Wait(Some(have)) => self.out.push_back(Action::Resolve {
                cluster: self.cluster,
                have,
            }),
            Route::Wait(None) => {}
        }
    }

    fn fetched(&mut self, now: Nanos, app: AppId, spec: SpecId) {
        let a = &mut self.polls[app as usize];
        a.fetch_failures = 0;
        if spec > a.target {
            a.target = spec;
            a.target_seen = now;
        }
        let st = &mut self.apps[app as usize];
        if st.resync {
            st.resync = false;
            self.enqueue(now, app, true);
            return;
        }
        // Automated sync runs once per revision (and not at all while it is off): a
        // revision whose sync failed is retried on the backoff, not at the next refresh.
        // While a retry is due the operation is still in progress (Argo CD); with
        // `retry.refresh` (Flux) a new revision is reconciled at once and replaces it.
        let pending = st.retry_spec.is_some() && !self.cfg.retry.refresh;
        if a.target > a.synced && a.target > a.attempting && !st.paused && !pending {
            if st.state == SyncState::Idle {
                // A new operation: its own retry count.
                st.sync_failures = 0;
                st.retry_spec = None;
                st.retry_generation = st.retry_generation.wrapping_add(1);
            }
            self.enqueue(now, app, false);
        }
    }

    fn fetch_failed(&mut self, now: Nanos, app: AppId) {
        if std::mem::take(&mut self.apps[app as usize].resync) {
            // Re-enabled while git cannot be read: sync the head last seen.
            self.enqueue(now, app, true);
        }
        let a = &mut self.polls[app as usize];
        a.fetch_failures = a.fetch_failures.saturating_add(1);
        a.poll_generation = a.poll_generation.wrapping_add(1);
        let generation = a.poll_generation;
        let delay = retry_delay(
            self.cfg
                .retry
                .delay(a.fetch_failures)
                .min(self.cfg.poll.interval.0),
        );
        self.note(NoteKind::FetchFailed, Some(app), 0);
        self.out.push_back(Action::SetTimer {
            at: now.saturating_add(delay),
            timer: Timer::Poll { app, generation },
        });
    }

    fn applied(&mut self, now: Nanos, op: OpId, ok: bool) {
        let app = op as u32;
        let Some(a) = self.apps.get_mut(app as usize) else {
            return;
        };
        if a.state != SyncState::Syncing {
            return;
        }
        a.state = SyncState::Idle;
        self.active -= 1;
        a.last_op_end = Some(now);
        let p = &mut self.polls[app as usize];
        if ok {
            if p.attempting > p.synced {
                // A new revision synced: self-heal counts from zero again (Argo CD copies
                // `SelfHealAttemptsCount` only into an operation of the same revision).
                a.heal_attempts = 0;
            }
            p.synced = p.synced.max(p.attempting);
            a.sync_failures = 0;
            a.retry_spec = None;
            a.rollback_to = None;
            if p.target > p.synced || a.force {
                let force = a.force;
                self.enqueue(now, app, force);
            } else {
                // Argo CD: a completed automated sync asks for a refresh through the
                // revision cache (`CompareWithLatest`).
                self.refresh(now, app, false);
            }
        } else {
            // The sync failed: retry the same revision after a backoff, up to the limit.
            // `attempting` keeps the failed revision, so a refresh that sees it again
            // does not sync it (Argo CD `alreadyAttemptedSync`).
            a.sync_failures = a.sync_failures.saturating_add(1);
            a.retry_generation = a.retry_generation.wrapping_add(1);
            let (failures, generation, spec) = (a.sync_failures, a.retry_generation, p.attempting);
            let newer = p.target > spec && !a.paused;
            if self.cfg.retry.limit.is_none_or(|l| failures <= l) {
                a.retry_spec = Some(spec);
                let at = now.saturating_add(retry_delay(self.cfg.retry.delay(failures)));
                self.note(NoteKind::SyncFailed, Some(app), spec as u64);
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::SyncRetry { app, generation },
                });
            } else {
                // Retries used up: the revision is given up until a newer one arrives
                // (or one arrived during the retries).
                a.retry_spec = None;
                a.rollback_to = None;
                if newer {
                    a.sync_failures = 0;
                }
                self.note(NoteKind::SyncFailed, Some(app), spec as u64);
                if newer {
                    self.enqueue(now, app, false);
                }
            }
        }
        self.dispatch(now);
    }

    fn live_changed(&mut self, now: Nanos, app: AppId) {
        if self.cfg.drift_detection != DriftDetection::Watch {
            return;
        }
        let heal = self.cfg.self_heal;
        let a = &mut self.apps[app as usize];
        // No self-heal while an operation is in progress (a retry due) or after the last
        // sync failed: Argo CD self-heals only a revision it synced successfully.
        if a.heal_pending || a.paused || a.sync_failures > 0 {
            return;
        }
        let since = a.last_op_end.map(|t| now.saturating_sub(t));
        // Argo CD v3.1–v3.2: the count starts over once the app stayed synced for the
        // cooldown after its last operation (no cooldown from v3.3 on).
        if let (Some(c), Some(since)) = (heal.cooldown, since)
            && since >= c.0
        {
            a.heal_attempts = 0;
        }
        // The first attempt is immediate; the n-th further one waits `initial ×
        // factorⁿ⁻¹` (capped) after the last operation ended (`selfHealRemainingBackoff`).
        // A self-heal follows a change seen on the cluster, never another heal, so a zero
        // delay cannot loop.
        let backoff = match a.heal_attempts {
            0 => 0,
            n => heal.backoff.delay(n),
        };
        let delay = since.map_or(backoff, |s| backoff.saturating_sub(s));
        a.heal_pending = true;
        a.heal_generation = a.heal_generation.wrapping_add(1);
        let generation = a.heal_generation;
        self.note(NoteKind::SelfHealScheduled, Some(app), delay / 1_000_000);
        self.out.push_back(Action::SetTimer {
            at: now.saturating_add(delay),
            timer: Timer::SelfHeal { app, generation },
        });
    }

    /// A restart: every piece of memory is gone but what the cluster tells.
    fn restart(&mut self, now: Nanos, live: &[SpecId]) {
        if let Some(argo) = self.argo.as_mut() {
            argo.restart();
        }
        self.queue.clear();
        self.active = 0;
        for ((p, a), &spec) in self.polls.iter_mut().zip(self.apps.iter_mut()).zip(live) {
            let generation = p.poll_generation.wrapping_add(1);
            *p = PollState::new(spec);
            p.poll_generation = generation;
            let (paused, rollback_to) = (a.paused, a.rollback_to);
            *a = AppState::new();
            // The Application's sync policy and a pending rollback operation outlive the
            // controller process.
            a.paused = paused;
            a.rollback_to = rollback_to;
            if rollback_to.is_some() {
                a.force = true;
            }
        }
        self.note(NoteKind::Restarted, None, 0);
        self.arm_timers(now, true);
    }
}

impl Model for Reconciler {
    fn handle(&mut self, now: Nanos, input: Input) {
        match input {
            Input::Timer(Timer::Poll { app, generation }) => {
                if self.polls[app as usize].poll_generation != generation {
                    return;
                }
                if let Some(argo) = &self.argo {
                    // The refresh the last resync asked for: skipped when the app was
                    // compared within the period.
                    if argo.due(now, app) {
                        self.refresh(now, app, false);
                    }
                    return;
                }
                let extra = self.jitter(self.cfg.poll.jitter.0);
                let at = now
                    .saturating_add(self.cfg.poll.interval.0)
                    .saturating_add(extra);
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::Poll { app, generation },
                });
                self.out.push_back(Action::Fetch {
                    cluster: self.cluster,
                    app,
                });
            }
            Input::Timer(Timer::Reconcile { app }) => {
                let extra = self.jitter(self.cfg.reconcile_jitter.0);
                let at = now
                    .saturating_add(self.cfg.reconcile_interval.0)
                    .saturating_add(extra);
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::Reconcile { app },
                });
                let spec = self.polls[app as usize].target;
                self.out.push_back(Action::Diff {
                    cluster: self.cluster,
                    app,
                    spec,
                });
            }
            Input::Timer(Timer::SelfHeal { app, generation }) => {
                let a = &mut self.apps[app as usize];
                if a.heal_generation == generation && a.heal_pending && a.paused {
                    a.heal_pending = false;
                } else if a.heal_generation == generation && a.heal_pending {
                    a.heal_pending = false;
                    a.heal_attempts = a.heal_attempts.saturating_add(1);
                    self.enqueue(now, app, true);
                }
            }
            Input::Timer(Timer::SyncRetry { app, generation }) => {
                let a = &self.apps[app as usize];
                if a.retry_generation == generation && a.retry_spec.is_some() {
                    self.enqueue(now, app, true);
                }
            }
            Input::Timer(Timer::Resync { generation }) => {
                if self.argo.as_ref().map(|a| a.generation) != Some(generation) {
                    return;
                }
                for app in 0..self.apps.len() as AppId {
                    let at = now.saturating_add(self.jitter(self.cfg.poll.jitter.0));
                    // `reconciledAt` only grows until then, so an app not due at its
                    // refresh time now is not due then either: no timer (half the
                    // refreshes of a fleet, see docs/PERFORMANCE.md).
                    if !self.argo.as_ref().is_some_and(|a| a.due(at, app)) {
                        continue;
                    }
                    let generation = self.polls[app as usize].poll_generation;
                    self.out.push_back(Action::SetTimer {
                        at,
                        timer: Timer::Poll { app, generation },
                    });
                }
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(self.cfg.poll.interval.0.max(1)),
                    timer: Timer::Resync { generation },
                });
            }
            Input::Webhook { app } if self.argo.is_some() => self.refresh(now, app, true),
            Input::Webhook { app } => self.out.push_back(Action::Fetch {
                cluster: self.cluster,
                app,
            }),
            Input::Resolved { rev, tree } => {
                if let Some(argo) = self.argo.as_mut() {
                    for (app, spec) in argo.resolved(now, rev, tree) {
                        self.fetched(now, app, spec);
                    }
                }
            }
            Input::ResolveFailed => {
                if let Some(argo) = self.argo.as_mut() {
                    for app in argo.failed() {
                        self.note(NoteKind::FetchFailed, Some(app), 0);
                    }
                }
            }
            Input::Fetched { app, spec } => self.fetched(now, app, spec),
            Input::FetchFailed { app } => self.fetch_failed(now, app),
            Input::LiveChanged { app } => self.live_changed(now, app),
            Input::Diffed { app, in_sync } => {
                if in_sync == Some(false) && !self.apps[app as usize].paused {
                    self.enqueue(now, app, true);
                }
            }
            Input::Rollback { app, spec } => {
                let a = &mut self.apps[app as usize];
                a.paused = true;
                a.heal_pending = false;
                a.rollback_to = Some(spec);
                self.enqueue(now, app, true);
            }
            Input::AutoSyncEnabled { app } => {
                // Changing the Application refreshes it: the controller resolves the
                // branch head again and, finding live state out of sync, syncs it.
                let a = &mut self.apps[app as usize];
                a.paused = false;
                a.resync = true;
                self.out.push_back(Action::Fetch {
                    cluster: self.cluster,
                    app,
                });
            }
            Input::Restart { live } => self.restart(now, &live),
            Input::Applied { op, ok } => self.applied(now, op, ok),
            Input::RolloutFinished { app, spec, ok, .. } => {
                if !ok {
                    self.note(NoteKind::Degraded, Some(app), spec as u64);
                }
            }
            // Inputs of the push model.
            Input::Commit { .. }
            | Input::Redeploy { .. }
            | Input::Timer(_)
            | Input::CheckedOut { .. }
            | Input::CheckoutFailed { .. }
            | Input::Runners { .. }
            | Input::Gate { .. } => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    //! The reconciler driven through the [`Harness`](crate::model::harness::Harness): a
    //! scripted git and cluster, assertions on the actions it emits.
    use super::*;
    use crate::model::harness::{Harness, Script};
    use crate::scenario::models::PullPreset;
    use crate::scenario::{Dist, Dur, SECOND};
    use rand::SeedableRng;

    const HOUR: Nanos = 3600 * SECOND;

    /// The Argo CD preset's numbers with `refresh: poll`: the per-app poll machinery
    /// (the resync path has its own tests below and in `refresh.rs`).
    fn argocd() -> PullConfig {
        let mut c = PullConfig::preset(PullPreset::Argocd);
        c.refresh = Refresh::Poll;
        c
    }

    fn argocd_resync() -> PullConfig {
        PullConfig::preset(PullPreset::Argocd)
    }

    /// A reconciler for cluster 0 with two apps at manifests 0 and 1.
    fn harness(cfg: PullConfig, script: Script) -> Harness<Reconciler> {
        let r = Reconciler::new(cfg, 0, &[0, 1], ChaCha8Rng::seed_from_u64(3));
        Harness::new(r, vec![0, 1], script)
    }

    /// (time, items) of every apply.
    fn applies(h: &Harness<Reconciler>) -> Vec<(Nanos, Vec<(AppId, SpecId)>)> {
        h.applies()
            .into_iter()
            .map(|(t, a)| (t, a.items.to_vec()))
            .collect()
    }

    fn gaps(times: &[Nanos]) -> Vec<Nanos> {
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// `refresh: poll` with 120 s plus up to 60 s: each app's own timer.
    #[test]
    fn polls_every_interval_plus_a_jitter_within_bounds_first_polls_spread_over_one_interval() {
        let mut h = harness(argocd(), Script::default());
        h.run_until(2 * HOUR);
        let mut all_gaps = Vec::new();
        for app in 0..2 {
            let fetches = h.fetches(app);
            assert!(fetches[0] < 120 * SECOND, "first poll of app {app}");
            let g = gaps(&fetches);
            assert!(
                g.iter().all(|g| (120 * SECOND..=180 * SECOND).contains(g)),
                "app {app}: {g:?}"
            );
            all_gaps.extend(g);
        }
        assert!(all_gaps.len() > 70);
        assert!(
            all_gaps.iter().any(|&g| g != all_gaps[0]),
            "the jitter is drawn anew for each poll"
        );
        assert_ne!(h.fetches(0)[0], h.fetches(1)[0], "first polls are spread");
    }

    #[test]
    fn a_new_revision_is_synced_once() {
        let mut h = harness(argocd(), Script::default());
        h.run_until(5);
        h.commit(vec![0, 7]);
        h.inject(Input::Webhook { app: 1 });
        h.run_until(10 * SECOND);
        h.inject(Input::Webhook { app: 1 });
        h.run_until(HOUR);
        let a = h.applies();
        assert_eq!(a.len(), 1, "{a:?}");
        let (t, ap) = &a[0];
        assert_eq!((*t, &*ap.items), (5, &[(1, 7)][..]));
        assert_eq!(ap.trace.picked_up, 5);
        assert!(
            h.fetches(1).len() > 20,
            "polls kept fetching the same revision"
        );
    }

    /// Argo CD's webhook: a push event refreshes the app at once, not at the next poll
    /// (the world delivers [`Input::Webhook`] when the setup has a webhook).
    #[test]
    fn a_webhook_fetches_and_syncs_before_the_next_poll() {
        let mut h = harness(argocd(), Script::default().latency(SECOND / 2));
        h.run_until(200 * SECOND);
        let polls_before = h.fetches(0);
        h.commit(vec![5, 1]);
        h.inject(Input::Webhook { app: 0 });
        h.run_until(201 * SECOND);
        let fetches = h.fetches(0);
        assert_eq!(fetches.len(), polls_before.len() + 1);
        assert_eq!(*fetches.last().unwrap(), 200 * SECOND);
        assert_eq!(applies(&h), vec![(200 * SECOND + SECOND / 2, vec![(0, 5)])]);
    }

    /// Argo CD retries with `retry.backoff` (10 s × 2ⁿ), capped here by the poll interval:
    /// a failed fetch never waits longer than a poll would.
    #[test]
    fn a_failed_fetch_is_retried_with_the_configured_backoff_capped_at_the_poll_interval() {
        let script = Script::default().on_fetch(|_, _, app, h: &[crate::model::Tree]| {
            (app != 0).then(|| h[h.len() - 1][app as usize])
        });
        let mut h = harness(argocd(), script);
        h.run_until(HOUR);
        let g: Vec<Nanos> = gaps(&h.fetches(0)).iter().map(|g| g / SECOND).collect();
        assert_eq!(&g[..7], &[10, 20, 40, 80, 120, 120, 120], "{g:?}");
        assert!(h.notes(NoteKind::FetchFailed).len() > 20);
        assert!(h.applies().is_empty(), "the last known revision is kept");
    }

    #[test]
    fn a_failed_sync_is_retried_with_backoff_on_the_same_revision() {
        let mut cfg = argocd();
        cfg.poll.interval = Dur(10 * HOUR); // no poll among the retries
        let mut failures = 3;
        let script = Script::default().on_apply(move |_, _| {
            failures -= 1;
            failures < 0
        });
        let mut h = harness(cfg, script);
        h.commit(vec![4, 1]);
        h.inject(Input::Webhook { app: 0 });
        h.run_until(HOUR);
        let a = applies(&h);
        let times: Vec<Nanos> = a.iter().map(|(t, _)| *t / SECOND).collect();
        // Each apply takes 1 s; retries wait 10, 20 then 40 s after the failure.
        assert_eq!(times, vec![0, 11, 32, 73]);
        assert!(a.iter().all(|(_, items)| items == &[(0, 4)]));
        assert_eq!(h.notes(NoteKind::SyncFailed).len(), 3);
    }

    /// Argo CD's self-heal: the first repair of a synced revision is immediate, each
    /// further one waits 2 s × 3ⁿ⁻¹ capped at 300 s after the last sync ended.
    #[test]
    fn self_heal_reapplies_the_synced_manifest_at_once_then_with_a_backoff_that_grows_and_caps() {
        let mut h = harness(argocd(), Script::default());
        let mut delays = Vec::new();
        let mut t = 100 * SECOND;
        h.run_until(t);
        for _ in 0..7 {
            // Drift right as the last sync ends: the whole backoff is still to wait.
            let drift = h.now();
            let before = h.applies().len();
            h.inject(Input::LiveChanged { app: 1 });
            while h.applies().len() == before {
                t += SECOND;
                h.run_until(t);
            }
            assert_eq!(h.applies().len(), before + 1, "one heal per drift");
            let (at, heal) = h.applies().pop().expect("a heal");
            assert_eq!(&*heal.items, &[(1, 1)], "the synced manifest again");
            delays.push((at - drift) / SECOND);
            t = at + heal.duration;
            h.run_until(t);
        }
        assert_eq!(delays, vec![0, 2, 6, 18, 54, 162, 300]);
    }

    /// Argo CD v3.1–v3.2's `--self-heal-backoff-cooldown-seconds`: an app that stayed
    /// synced for the cooldown after its last sync starts the backoff over. Without a
    /// cooldown (v3.3 on, the preset) the count keeps growing.
    #[test]
    fn self_heal_backoff_starts_over_after_the_cooldown_when_one_is_set() {
        let heal_times = |cooldown: Option<Dur>| {
            let mut cfg = argocd();
            cfg.self_heal.cooldown = cooldown;
            let mut h = harness(cfg, Script::default());
            for drift in [0, 1, 4, 11, 60] {
                h.run_until(drift * SECOND);
                h.inject(Input::LiveChanged { app: 0 });
            }
            h.run_until(HOUR);
            applies(&h)
                .iter()
                .map(|(t, _)| t / SECOND)
                .collect::<Vec<_>>()
        };
        assert_eq!(heal_times(Some(Dur(20 * SECOND))), vec![0, 3, 10, 29, 60]);
        assert_eq!(heal_times(None), vec![0, 3, 10, 29, 84]);
    }

    #[test]
    fn interval_detection_ignores_the_watch_and_corrects_drift_at_the_next_diff() {
        let mut cfg = PullConfig::preset(PullPreset::Flux);
        cfg.drift_detection = DriftDetection::Interval;
        let drifted = std::rc::Rc::new(std::cell::Cell::new(false));
        let seen = drifted.clone();
        let script = Script::default().on_diff(move |_, _, app, _| Some(!(app == 0 && seen.get())));
        let mut h = harness(cfg, script);
        h.run_until(60 * SECOND);
        drifted.set(true);
        h.inject(Input::LiveChanged { app: 0 });
        h.run_until(2 * HOUR);
        assert!(h.notes(NoteKind::SelfHealScheduled).is_empty());
        let first_diff = h
            .diffs()
            .into_iter()
            .find(|d| d.0 > 60 * SECOND && d.2 == 0)
            .expect("a periodic diff");
        let a = applies(&h);
        assert_eq!(a[0], (first_diff.0, vec![(0, 0)]), "corrected at that diff");
    }

    #[test]
    fn a_restart_rechecks_every_app_against_git_and_the_cluster() {
        let script = Script::default().on_diff(|_, _, app, _| Some(app != 1));
        let mut h = harness(argocd(), script);
        h.run_until(100);
        h.inject(Input::Restart {
            live: Arc::from(vec![0, 1]),
        });
        h.run_until(101);
        let diffs: Vec<(Nanos, AppId)> = h.diffs().iter().map(|d| (d.0, d.2)).collect();
        assert_eq!(diffs, vec![(100, 0), (100, 1)]);
        assert_eq!((h.fetches(0), h.fetches(1)), (vec![100], vec![100]));
        assert_eq!(
            applies(&h),
            vec![(100, vec![(1, 1)])],
            "app 1 was out of sync"
        );
        assert_eq!(h.notes(NoteKind::Restarted).len(), 1);
    }

    /// Argo CD: refreshes of many apps share one revision cache, so git sees one
    /// `ls-remote` per TTL at most, not one per app per resync; a webhook goes past the
    /// cache and syncs at once; a drift seen on the watch heals without git.
    #[test]
    fn resync_refreshes_share_the_revision_cache_and_a_webhook_bypasses_it() {
        let mut h = harness(argocd_resync(), Script::default());
        h.run_until(HOUR);
        let resolves = h.resolves();
        assert!(h.fetches(0).is_empty() && h.fetches(1).is_empty());
        // Resolutions are at least the 3-minute TTL apart: under 21 in an hour.
        assert!((10..=20).contains(&resolves.len()), "{resolves:?}");
        assert!(gaps(&resolves).iter().all(|&g| g >= 180 * SECOND));
        h.commit(vec![9, 1]);
        h.inject(Input::Webhook { app: 0 });
        h.run_until(HOUR + 1);
        assert_eq!(h.resolves().len(), resolves.len() + 1);
        assert_eq!(applies(&h), vec![(HOUR, vec![(0, 9)])]);
        let before = h.resolves().len();
        h.inject(Input::LiveChanged { app: 1 });
        h.run_until(HOUR + 3 * SECOND);
        assert_eq!(applies(&h).len(), 2, "healed after 2 s");
        assert_eq!(
            h.resolves().len(),
            before,
            "the cache answered the post-sync refresh"
        );
    }

    /// The sync workers (Argo CD's operation processors) as a c-server queue with fixed
    /// service: N apps changed at once through c workers of s each finish at ⌈N/c⌉·s.
    #[test]
    fn n_syncs_through_c_workers_of_fixed_time_s_take_ceil_n_over_c_times_s() {
        for (n, c, s) in [
            (100u32, 10u32, 3u64),
            (101, 10, 3),
            (7, 3, 5),
            (1, 20, 2),
            (40, 40, 1),
        ] {
            let mut cfg = argocd_resync();
            cfg.concurrency = c;
            cfg.apply = Dist::fixed(s * SECOND);
            let initial: Vec<SpecId> = (0..n).collect();
            let r = Reconciler::new(cfg, 0, &initial, ChaCha8Rng::seed_from_u64(1));
            let mut h = Harness::new(r, initial, Script::default());
            h.run_until(10 * SECOND);
            h.commit((0..n).map(|a| n + a).collect());
            for app in 0..n {
                h.inject(Input::Webhook { app });
            }
            h.run_until(HOUR);
            let a = h.applies();
            assert_eq!(a.len(), n as usize);
            let last_done = a.iter().map(|(t, ap)| t + ap.duration).max().unwrap();
            assert_eq!(
                last_done - 10 * SECOND,
                n.div_ceil(c) as u64 * s * SECOND,
                "n {n} c {c} s {s}"
            );
        }
    }

    #[test]
    fn concurrency_limits_syncs_in_flight() {
        let mut cfg = argocd();
        cfg.concurrency = 1;
        let mut h = harness(cfg, Script::default());
        h.run_until(SECOND);
        h.commit(vec![5, 6]);
        h.inject(Input::Webhook { app: 0 });
        h.inject(Input::Webhook { app: 1 });
        h.run_until(10 * SECOND);
        let a = h.applies();
        let got: Vec<(Nanos, Vec<(AppId, SpecId)>)> = a
            .iter()
            .map(|(t, ap)| (*t / SECOND, ap.items.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![(1, vec![(0, 5)]), (2, vec![(1, 6)])],
            "one at a time"
        );
        assert_eq!(
            (a[1].1.trace.picked_up, a[1].1.trace.started),
            (SECOND, 2 * SECOND)
        );
    }
}
