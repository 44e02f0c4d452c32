//! The pull reconciler (Argo CD / Flux style) as a sans-IO state machine: one agent per
//! cluster, reconciling every app on it.
//!
//! With `refresh: poll` (Flux) each app polls git every `poll.interval` plus a uniform
//! extra of up to `poll.jitter` (first polls spread over one interval); a webhook
//! triggers an immediate fetch; a failed fetch keeps the last known revision and is
//! retried with `retry` backoff. With `refresh: resync` (Argo CD) refreshes follow the
//! application informer's resync, skip apps compared recently and resolve the branch
//! through a revision cache ([`super::refresh`]). With `refresh: source` (Flux) one
//! GitRepository per cluster checks the branch every `poll.interval` and a new revision
//! reconciles every app's Kustomization, each reconcile re-applying its objects (a dry
//! run first for a manifest already applied; drift is put back) and, with `kustomization.wait`, holding its worker through a health
//! check ([`super::flux`]). A new
//! manifest is synced once (automated sync runs once per revision), at most `concurrency`
//! syncs at a time; a failed sync is retried on the `retry` backoff, up to `retry.limit`
//! times, and a refresh that sees the failed revision again does not sync it. Drift is
//! corrected by watch-driven self-heal (Argo CD: the first attempt at once, then
//! `initial × factorⁿ` capped at `max`, counted from the last sync's end; the count
//! starts over with a new revision), by a diff-and-apply every `reconcile_interval`
//! (Flux), or not at all. After a restart the agent knows only what it reads back, and
//! re-checks every app against git and the cluster.

use super::flux::{Check, FluxSource};
use super::refresh::{ArgoRefresh, Route};
use super::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, OpId, Rev, SpecId, Timer, Trace,
};
use crate::scenario::models::{
    FLUX_CHANGED_OBJECTS, FLUX_POLL_EXTRA_REQUESTS, FLUX_REQUESTS_PER_OBJECT, FLUX_STATUS_PATCHES,
    FLUX_WAIT_STATUS_PATCHES, Refresh,
};
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
    /// Quiet refreshes are deferred instead of armed ([`Reconciler::refresh_is_quiet`]);
    /// off only in the test that shows both ways emit the same actions.
    defer_quiet: bool,
    /// `refresh: source`: Flux's GitRepository and Kustomization state.
    flux: Option<FluxSource>,
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
            defer_quiet: true,
            flux: None,
        };
        if r.cfg.refresh == Refresh::Source {
            r.flux = Some(FluxSource::new(initial));
        }
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
        if self.flux.is_some() {
            self.arm_flux_timers(now, now_first);
            return;
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
            let duration = self.step_duration();
            let a = &mut self.apps[app as usize];
            a.state = SyncState::Syncing;
            a.force = false;
            let p = &mut self.polls[app as usize];
            let retry = a.retry_spec.filter(|_| !self.cfg.retry.refresh);
            let spec = a.rollback_to.or(retry).unwrap_or(p.target);
            p.attempting = spec;
            self.active += 1;
            if let Some(flux) = self.flux.as_mut() {
                // Every reconcile reports its progress and diffs every object, whatever
                // it then applies.
                let k = u64::from(self.cfg.kustomization.objects);
                flux.requests +=
                    u64::from(FLUX_STATUS_PATCHES) + k * u64::from(FLUX_REQUESTS_PER_OBJECT);
            }
            if self.flux_dry_run(now, app, spec, duration) {
                continue;
            }
            self.emit_apply(now, app, spec, duration);
        }
    }

    /// Argo CD: whether the periodic refresh of `app` at `at`, asked for by the resync at
    /// `now`, will only move `reconciledAt`: the revision cache will answer it with a
    /// manifest the app already targets, and nothing it would start (a sync, a retry of
    /// git, an automated sync after re-enabling) is pending. Such a refresh is deferred
    /// instead of armed as a timer; the first input that could change its outcome turns
    /// it back into a timer ([`Reconciler::materialize_for`]), so the outputs are the
    /// same as with a timer per refresh.
    fn refresh_is_quiet(&self, now: Nanos, at: Nanos, app: AppId) -> bool {
        let Some(argo) = self.argo.as_ref().filter(|_| self.defer_quiet) else {
            return false;
        };
        let (p, a) = (&self.polls[app as usize], &self.apps[app as usize]);
        argo.cached_spec_at(now, at, app)
            .is_some_and(|spec| spec <= p.target)
            && p.fetch_failures == 0
            && !a.resync
            && !(p.target > p.synced && p.target > p.attempting && !a.paused)
    }

    /// Ends the deferral of the refreshes `input` could affect: an input about one app
    /// ends that app's, an answer from git with a new tree, a failed resolution, a
    /// webhook (it resolves past the cache), a restart and the resync end every one.
    fn materialize_for(&mut self, now: Nanos, input: &Input) {
        let app = match input {
            Input::Timer(
                Timer::Poll { app, .. }
                | Timer::SelfHeal { app, .. }
                | Timer::SyncRetry { app, .. }
                | Timer::Reconcile { app },
            )
            | Input::Fetched { app, .. }
            | Input::FetchFailed { app }
            | Input::LiveChanged { app }
            | Input::Diffed { app, .. }
            | Input::Rollback { app, .. }
            | Input::AutoSyncEnabled { app }
            | Input::RolloutFinished { app, .. } => Some(*app),
            Input::Applied { op, .. } => Some(*op as AppId),
            // The cache was refreshed with the revision the deferred refreshes read.
            Input::Resolved { tree: None, .. } => return,
            Input::Resolved { .. }
            | Input::ResolveFailed
            | Input::Webhook { .. }
            | Input::Restart { .. }
            | Input::Timer(_)
            | Input::Commit { .. }
            | Input::Redeploy { .. }
            | Input::CheckedOut { .. }
            | Input::CheckoutFailed { .. }
            | Input::Runners { .. }
            | Input::Gate { .. } => None,
        };
        let apps = match app {
            Some(app) if (app as usize) < self.apps.len() => app..app + 1,
            Some(_) => return,
            None => 0..self.apps.len() as AppId,
        };
        for app in apps {
            let Some(argo) = self.argo.as_mut() else {
                return;
            };
            if let Some(at) = argo.materialize(now, app) {
                let generation = self.polls[app as usize].poll_generation;
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::Poll { app, generation },
                });
            }
        }
    }

    /// Applies `spec` of `app` (the worker is already taken).
    fn emit_apply(&mut self, now: Nanos, app: AppId, spec: SpecId, duration: Nanos) {
        let p = &self.polls[app as usize];
        let trace = Trace {
            picked_up: p.target_seen,
            started: now,
            first_apply: now,
            built: 0,
            gate_open: 0,
            gate_passed: 0,
        };
        // The low half names the app (all `applied` reads back); the high half only
        // tells operations apart, so it may wrap.
        let op = (self.next_op << 32) | app as u64;
        self.next_op = self.next_op.wrapping_add(1);
        self.note(NoteKind::SyncStarted, Some(app), spec as u64);
        if let Some(flux) = self.flux.as_mut() {
            flux.requests += u64::from(FLUX_CHANGED_OBJECTS);
        }
        self.out.push_back(Action::Apply(Apply {
            op,
            cluster: self.cluster,
            items: Arc::from([(app, spec)]),
            duration,
            trace,
        }));
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
        let Some(a) = self.apps.get(app as usize) else {
            return;
        };
        if a.state != SyncState::Syncing {
            return;
        }
        if ok && self.flux_wait(now, app) {
            // The worker stays with the Kustomization through its health check.
            return;
        }
        self.sync_done(now, app, ok);
    }

    /// A sync (with Flux: a Kustomization reconcile) ended: the worker is free.
    fn sync_done(&mut self, now: Nanos, app: AppId, ok: bool) {
        let a = &mut self.apps[app as usize];
        a.state = SyncState::Idle;
        self.active -= 1;
        a.last_op_end = Some(now);
        let p = &mut self.polls[app as usize];
        if ok {
            let before = p.synced;
            if p.attempting > p.synced {
                // A new revision synced: self-heal counts from zero again (Argo CD copies
                // `SelfHealAttemptsCount` only into an operation of the same revision).
                a.heal_attempts = 0;
            }
            p.synced = p.synced.max(p.attempting);
            a.sync_failures = 0;
            a.retry_spec = None;
            a.rollback_to = None;
            let synced = p.synced;
            // Flux reports every reconcile Ready; the timeline keeps the ones that
            // brought a new manifest.
            if self.flux.is_some() && synced != before {
                self.note(NoteKind::Ready, Some(app), synced as u64);
            }
            let (a, p) = (&mut self.apps[app as usize], &self.polls[app as usize]);
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
        self.requeue_kustomization(now, app);
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
        if let Some(flux) = self.flux.as_mut() {
            flux.restart(live);
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

/// Flux (`refresh: source`): the GitRepository, the fan-out and the Kustomizations'
/// interval timers and health checks ([`super::flux`]).
impl Reconciler {
    fn arm_flux_timers(&mut self, now: Nanos, now_first: bool) {
        let interval = self.cfg.poll.interval.0.max(1);
        let ri = self.cfg.reconcile_interval.0.max(1);
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        // The controllers started at some moment before the run: a uniform phase of the
        // source's interval and of each Kustomization's (a restart starts them at once).
        let generation = flux.next_source_timer();
        let first = if now_first {
            0
        } else {
            self.rng.random_range(0..interval)
        };
        self.out.push_back(Action::SetTimer {
            at: now.saturating_add(first),
            timer: Timer::Source { generation },
        });
        for app in 0..self.apps.len() as AppId {
            if now_first {
                // The informer's initial list reconciles every Kustomization.
                if !self.apps[app as usize].paused {
                    self.enqueue(now, app, true);
                }
            } else if self.cfg.drift_detection == DriftDetection::Interval {
                let first = self.rng.random_range(0..ri);
                let Some(flux) = self.flux.as_mut() else {
                    return;
                };
                let generation = flux.next_ks_timer(app);
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(first),
                    timer: Timer::Kustomization { app, generation },
                });
            }
        }
    }

    /// How long a worker spends on one sync: with Flux the kustomize build and each
    /// object's server-side apply, otherwise the `apply` step.
    fn step_duration(&mut self) -> Nanos {
        if self.flux.is_none() {
            return self.cfg.apply.sample(&mut self.rng);
        }
        let k = &self.cfg.kustomization;
        let mut d = k.render.sample(&mut self.rng);
        for _ in 0..k.objects {
            d = d.saturating_add(self.cfg.apply.sample(&mut self.rng));
        }
        d
    }

    /// One reconcile of the GitRepository: one ref check at the git host (and a fetch for
    /// a new revision, `Action::Resolve`); the next one an interval after it.
    fn check_source(&mut self, now: Nanos) {
        let extra = self.jitter(self.cfg.poll.jitter.0);
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        flux.last_check = Some(now);
        let generation = flux.next_source_timer();
        let have = flux.rev;
        let at = now
            .saturating_add(self.cfg.poll.interval.0.max(1))
            .saturating_add(extra);
        self.out.push_back(Action::SetTimer {
            at,
            timer: Timer::Source { generation },
        });
        self.out.push_back(Action::Resolve {
            cluster: self.cluster,
            have,
        });
    }

    /// The GitRepository's check answered: a new revision's artifact reconciles every
    /// Kustomization of the source, changed or not (each re-applies its objects).
    fn source_resolved(&mut self, now: Nanos, rev: Rev, tree: Option<super::Tree>) {
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        flux.failures = 0;
        let Some(tree) = tree.filter(|t| t.len() == self.polls.len()) else {
            return;
        };
        flux.rev = rev;
        for app in 0..self.apps.len() as AppId {
            let p = &mut self.polls[app as usize];
            let spec = tree[app as usize];
            if spec > p.target {
                p.target = spec;
                p.target_seen = now;
            }
            if !self.apps[app as usize].paused {
                self.enqueue(now, app, true);
            }
        }
    }

    /// The GitRepository's check failed: the artifact already held stays; the source is
    /// checked again after the retry backoff, never later than its interval.
    fn source_failed(&mut self, now: Nanos) {
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        flux.failures = flux.failures.saturating_add(1);
        let failures = flux.failures;
        let generation = flux.next_source_timer();
        let delay = retry_delay(self.cfg.retry.delay(failures).min(self.cfg.poll.interval.0));
        self.note(NoteKind::FetchFailed, None, 0);
        self.out.push_back(Action::SetTimer {
            at: now.saturating_add(delay),
            timer: Timer::Source { generation },
        });
    }

    /// A reconcile of the manifest last applied: the server-side apply's dry run comes
    /// first, and only a drifted app is applied (`true`: the dry run is on its way).
    fn flux_dry_run(&mut self, now: Nanos, app: AppId, spec: SpecId, duration: Nanos) -> bool {
        let Some(flux) = self.flux.as_mut() else {
            return false;
        };
        if flux.last_applied[app as usize] != spec {
            return false;
        }
        flux.dry_run[app as usize] = Some(now.saturating_add(duration));
        self.out.push_back(Action::Diff {
            cluster: self.cluster,
            app,
            spec,
        });
        true
    }

    /// The dry run answered: in sync, the worker is done when the reconcile's time is up;
    /// drifted, the apply puts the objects back; unreachable, the reconcile failed.
    fn flux_diffed(&mut self, now: Nanos, app: AppId, in_sync: Option<bool>) {
        let spec = self.polls[app as usize].attempting;
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        let Some(done) = flux.dry_run[app as usize].take() else {
            return;
        };
        match in_sync {
            Some(true) => {
                let check = Check {
                    spec,
                    applied: now,
                    changed: false,
                    deadline: Nanos::MAX,
                    outcome: Some(true),
                };
                let generation = flux.start_check(app, check);
                self.out.push_back(Action::SetTimer {
                    at: done.max(now),
                    timer: Timer::Health { app, generation },
                });
            }
            Some(false) => self.emit_apply(now, app, spec, done.saturating_sub(now)),
            None => self.sync_done(now, app, false),
        }
    }

    /// An apply returned: with `wait`, starts its health check; `false` when there is
    /// none to run (not Flux, or no `wait`).
    fn flux_wait(&mut self, now: Nanos, app: AppId) -> bool {
        let k = &self.cfg.kustomization;
        // kustomize-controller's `GetTimeout` never waits less than 30 s.
        let (wait, timeout) = (k.wait, k.timeout.0.max(30 * crate::scenario::SECOND));
        let spec = self.polls[app as usize].attempting;
        let Some(flux) = self.flux.as_mut() else {
            return false;
        };
        let changed = std::mem::replace(&mut flux.last_applied[app as usize], spec) != spec;
        if !wait {
            return false;
        }
        let deadline = now.saturating_add(timeout);
        let generation = flux.start_check(
            app,
            Check {
                spec,
                applied: now,
                changed,
                deadline,
                outcome: None,
            },
        );
        self.out.push_back(Action::SetTimer {
            at: deadline,
            timer: Timer::Health { app, generation },
        });
        true
    }

    /// The health check of `app` ends at `now` (its timer `generation` fired): with
    /// `wait`, its status polls (one GET per object and the Deployment's ReplicaSet and
    /// Pod lists each) and the status patches around it count as API requests.
    fn count_health_check(&mut self, now: Nanos, app: AppId, generation: u32) {
        let k = &self.cfg.kustomization;
        if !k.wait {
            return;
        }
        let poll = k.health_poll.0;
        let per_poll = u64::from(k.objects) + u64::from(FLUX_POLL_EXTRA_REQUESTS);
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        if flux.check_generation[app as usize] != generation {
            return;
        }
        let Some(c) = flux.checks[app as usize].as_ref() else {
            return;
        };
        let passed = c.outcome == Some(true) && now < c.deadline;
        // The patch that records a pass is not made for a failed check.
        let patches = u64::from(FLUX_WAIT_STATUS_PATCHES) - u64::from(!passed);
        flux.requests += c.polls(now, poll) * per_poll + patches;
    }

    /// The API requests of Flux's request model made since the last call, `None` when
    /// this reconciler is not Flux (the world then counts one per dry run and apply).
    pub fn take_requests(&mut self) -> Option<u64> {
        self.flux.as_mut().map(|f| std::mem::take(&mut f.requests))
    }

    /// A Kustomization reconcile ended: its next interval reconcile is an interval from
    /// now (controller-runtime's `RequeueAfter`), whatever started this one.
    fn requeue_kustomization(&mut self, now: Nanos, app: AppId) {
        if self.cfg.drift_detection != DriftDetection::Interval {
            return;
        }
        let extra = self.jitter(self.cfg.reconcile_jitter.0);
        let Some(flux) = self.flux.as_mut() else {
            return;
        };
        let generation = flux.next_ks_timer(app);
        let at = now
            .saturating_add(self.cfg.reconcile_interval.0.max(1))
            .saturating_add(extra);
        self.out.push_back(Action::SetTimer {
            at,
            timer: Timer::Kustomization { app, generation },
        });
    }
}

impl Model for Reconciler {
    fn handle(&mut self, now: Nanos, input: Input) {
        if self.argo.as_ref().is_some_and(ArgoRefresh::has_deferred) {
            self.materialize_for(now, &input);
        }
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
                    if self.refresh_is_quiet(now, at, app) {
                        if let Some(argo) = self.argo.as_mut() {
                            argo.defer(app, at);
                        }
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
            Input::Timer(Timer::Source { generation }) => {
                if self.flux.as_ref().map(|f| f.generation) == Some(generation) {
                    self.check_source(now);
                }
            }
            Input::Timer(Timer::Kustomization { app, generation }) => {
                let current = self
                    .flux
                    .as_ref()
                    .is_some_and(|f| f.ks_generation[app as usize] == generation);
                if current && !self.apps[app as usize].paused {
                    self.enqueue(now, app, true);
                }
            }
            Input::Timer(Timer::Health { app, generation }) => {
                self.count_health_check(now, app, generation);
                if let Some(ok) = self
                    .flux
                    .as_mut()
                    .and_then(|f| f.check_ends(app, generation))
                {
                    if !ok {
                        let spec = self.polls[app as usize].attempting;
                        self.note(NoteKind::Degraded, Some(app), spec as u64);
                    }
                    self.sync_done(now, app, ok);
                }
            }
            // A Flux Receiver asks for a reconcile of the GitRepository (webhooks of one
            // push arriving together check once).
            Input::Webhook { .. } if self.flux.is_some() => {
                if self.flux.as_ref().and_then(|f| f.last_check) != Some(now) {
                    self.check_source(now);
                }
            }
            Input::Webhook { app } if self.argo.is_some() => self.refresh(now, app, true),
            Input::Webhook { app } => self.out.push_back(Action::Fetch {
                cluster: self.cluster,
                app,
            }),
            Input::Resolved { rev, tree, .. } if self.flux.is_some() => {
                self.source_resolved(now, rev, tree)
            }
            Input::ResolveFailed if self.flux.is_some() => self.source_failed(now),
            Input::Resolved { rev, tree, .. } => {
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
            Input::Diffed { app, in_sync } if self.flux.is_some() => {
                self.flux_diffed(now, app, in_sync)
            }
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
                let poll = self.cfg.kustomization.health_poll.0;
                if let Some((at, generation)) = self
                    .flux
                    .as_mut()
                    .and_then(|f| f.rollout_finished(now, app, spec, ok, poll))
                {
                    self.out.push_back(Action::SetTimer {
                        at,
                        timer: Timer::Health { app, generation },
                    });
                } else if !ok {
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
        cfg.refresh = Refresh::Poll;
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

    /// Deferring quiet refreshes is an optimisation, not a behaviour: over random
    /// commits, webhooks, drift, failed syncs and resolutions, rollbacks, re-enabled
    /// syncs and restarts, the reconciler emits the same actions at the same times with
    /// and without it, timers aside (the deferred refreshes arm none).
    #[test]
    fn deferring_quiet_refreshes_emits_the_same_actions_as_a_timer_per_refresh() {
        use rand::Rng;
        let run = |defer: bool, seed: u64| {
            let mut events = ChaCha8Rng::seed_from_u64(seed);
            let mut fail = ChaCha8Rng::seed_from_u64(seed + 1);
            let mut fail_resolve = ChaCha8Rng::seed_from_u64(seed + 2);
            let script = Script::default()
                .latency(SECOND / 2)
                .on_apply(move |_, _| fail.random_bool(0.8))
                .on_resolve(move |_, h: &[crate::model::Tree]| {
                    fail_resolve
                        .random_bool(0.9)
                        .then(|| (h.len() - 1) as crate::model::Rev)
                })
                .rollouts_finish_after(20 * SECOND);
            let apps = 6u32;
            // Syncs as long as the resync's jitter, so that syncs in flight at a resync
            // end during its refreshes.
            let mut cfg = argocd_resync();
            cfg.apply = Dist::Uniform {
                min: SECOND,
                max: 90 * SECOND,
            };
            let mut r = Reconciler::new(
                cfg,
                0,
                &vec![0; apps as usize],
                ChaCha8Rng::seed_from_u64(seed),
            );
            r.defer_quiet = defer;
            let mut h = Harness::new(r, vec![0; apps as usize], script);
            let mut tree = vec![0; apps as usize];
            let mut next_spec = 1;
            let mut t = 0;
            for _ in 0..400 {
                t += events.random_range(1..120) * SECOND;
                h.run_until(t);
                let app = events.random_range(0..apps);
                match events.random_range(0..10) {
                    0..=2 => {
                        tree[app as usize] = next_spec;
                        next_spec += 1;
                        h.commit(tree.clone());
                    }
                    3 => h.inject(Input::Webhook { app }),
                    4 | 5 => h.inject(Input::LiveChanged { app }),
                    6 => h.inject(Input::Rollback { app, spec: 0 }),
                    7 => h.inject(Input::AutoSyncEnabled { app }),
                    8 if events.random_bool(0.3) => h.inject(Input::Restart {
                        live: std::sync::Arc::from(tree.clone()),
                    }),
                    _ => {}
                }
            }
            h.run_until(t + HOUR);
            h.actions()
                .iter()
                .filter(|(_, a)| !matches!(a, Action::SetTimer { .. }))
                .map(|(t, a)| format!("{t} {a:?}"))
                .collect::<Vec<_>>()
        };
        for seed in 0..8 {
            let (with, without) = (run(true, seed), run(false, seed));
            assert!(with.len() > 200, "seed {seed}: {} actions", with.len());
            if let Some(i) = (0..with.len().min(without.len())).find(|&i| with[i] != without[i]) {
                panic!(
                    "seed {seed}: action {i} differs:\n{}\n{}",
                    with[i], without[i]
                );
            }
            assert_eq!(with.len(), without.len(), "seed {seed}");
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
