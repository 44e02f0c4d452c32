//! The pull reconciler (Argo CD / Flux style) as a sans-IO state machine: one agent per
//! cluster, reconciling every app on it.
//!
//! Each app polls git every `poll.interval` plus a uniform extra of up to `poll.jitter`
//! (first polls spread over one interval); a webhook triggers an immediate fetch; a
//! failed fetch keeps the last known revision and is retried with `retry` backoff. A new
//! manifest is synced once (automated sync runs once per revision), at most `concurrency`
//! syncs at a time; a failed sync is retried with `retry` backoff. Drift is corrected by
//! watch-driven self-heal with backoff `initial × factorⁿ` capped at `max` (Argo CD), by
//! a diff-and-apply every `reconcile_interval` (Flux), or not at all. After a restart the
//! agent knows only what it reads back, and re-checks every app against git and the
//! cluster.

use super::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, OpId, SpecId, Timer, Trace,
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
    sync_failures: u32,
    retry_generation: u32,
    heal_attempts: u32,
    last_heal: Option<Nanos>,
    heal_generation: u32,
    heal_pending: bool,
}

impl AppState {
    fn new() -> AppState {
        AppState {
            state: SyncState::Idle,
            force: false,
            sync_failures: 0,
            retry_generation: 0,
            heal_attempts: 0,
            last_heal: None,
            heal_generation: 0,
            heal_pending: false,
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
        };
        r.arm_timers(0, false);
        r
    }

    /// Schedules every app's first poll (spread evenly over one interval, as
    /// Applications start at different moments) and first diff; `now_first` polls and
    /// diffs everything at once instead (after a restart).
    fn arm_timers(&mut self, now: Nanos, now_first: bool) {
        let interval = self.cfg.poll.interval.0.max(1);
        let ri = self.cfg.reconcile_interval.0.max(1);
        for app in 0..self.apps.len() as AppId {
            let generation = self.polls[app as usize].poll_generation;
            let first = if now_first {
                0
            } else {
                self.rng.random_range(0..interval)
            };
            self.out.push_back(Action::SetTimer {
                at: now.saturating_add(first),
                timer: Timer::Poll { app, generation },
            });
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
            p.attempting = p.target;
            let spec = p.target;
            let trace = Trace {
                picked_up: p.target_seen,
                started: now,
                first_apply: now,
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

    fn fetched(&mut self, now: Nanos, app: AppId, spec: SpecId) {
        let a = &mut self.polls[app as usize];
        a.fetch_failures = 0;
        if spec > a.target {
            a.target = spec;
            a.target_seen = now;
        }
        // Automated sync runs once per revision.
        if a.target > a.synced && a.target > a.attempting {
            self.enqueue(now, app, false);
        }
    }

    fn fetch_failed(&mut self, now: Nanos, app: AppId) {
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
        let p = &mut self.polls[app as usize];
        if ok {
            p.synced = p.synced.max(p.attempting);
            a.sync_failures = 0;
            if p.target > p.synced || a.force {
                let force = a.force;
                self.enqueue(now, app, force);
            }
        } else {
            // The sync failed: retry the same revision after a backoff.
            a.sync_failures = a.sync_failures.saturating_add(1);
            a.retry_generation = a.retry_generation.wrapping_add(1);
            let (failures, generation, spec) = (a.sync_failures, a.retry_generation, p.attempting);
            p.attempting = p.synced;
            let at = now.saturating_add(retry_delay(self.cfg.retry.delay(failures)));
            self.note(NoteKind::SyncFailed, Some(app), spec as u64);
            self.out.push_back(Action::SetTimer {
                at,
                timer: Timer::SyncRetry { app, generation },
            });
        }
        self.dispatch(now);
    }

    fn live_changed(&mut self, now: Nanos, app: AppId) {
        if self.cfg.drift_detection != DriftDetection::Watch {
            return;
        }
        let heal = self.cfg.self_heal;
        let a = &mut self.apps[app as usize];
        if a.heal_pending {
            return;
        }
        // The backoff starts over once the app has stayed healthy for the cooldown.
        if a.last_heal
            .is_some_and(|t| now.saturating_sub(t) >= heal.cooldown.0)
        {
            a.heal_attempts = 0;
        }
        // A self-heal follows a change seen on the cluster, never another heal, so a zero
        // backoff cannot loop.
        let delay = heal.backoff.delay(a.heal_attempts.saturating_add(1));
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
        self.queue.clear();
        self.active = 0;
        for ((p, a), &spec) in self.polls.iter_mut().zip(self.apps.iter_mut()).zip(live) {
            let generation = p.poll_generation.wrapping_add(1);
            *p = PollState::new(spec);
            p.poll_generation = generation;
            *a = AppState::new();
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
                if a.heal_generation == generation && a.heal_pending {
                    a.heal_pending = false;
                    a.heal_attempts = a.heal_attempts.saturating_add(1);
                    a.last_heal = Some(now);
                    self.enqueue(now, app, true);
                }
            }
            Input::Timer(Timer::SyncRetry { app, generation }) => {
                if self.apps[app as usize].retry_generation == generation {
                    self.enqueue(now, app, true);
                }
            }
            Input::Webhook { app } => self.out.push_back(Action::Fetch {
                cluster: self.cluster,
                app,
            }),
            Input::Fetched { app, spec } => self.fetched(now, app, spec),
            Input::FetchFailed { app } => self.fetch_failed(now, app),
            Input::LiveChanged { app } => self.live_changed(now, app),
            Input::Diffed { app, in_sync } => {
                if in_sync == Some(false) {
                    self.enqueue(now, app, true);
                }
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
            | Input::Timer(_)
            | Input::CheckedOut { .. }
            | Input::CheckoutFailed { .. }
            | Input::Runners { .. } => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::models::PullPreset;
    use crate::scenario::{Dur, SECOND};
    use rand::SeedableRng;

    fn rec(cfg: PullConfig) -> Reconciler {
        Reconciler::new(cfg, 0, &[0, 1], ChaCha8Rng::seed_from_u64(3))
    }

    fn drain(r: &mut Reconciler) -> Vec<Action> {
        std::iter::from_fn(|| r.poll_action())
            .filter(|a| !matches!(a, Action::Note(_)))
            .collect()
    }

    #[test]
    fn first_polls_are_staggered_within_one_interval() {
        let mut r = rec(PullConfig::preset(PullPreset::Argocd));
        for a in drain(&mut r) {
            let Action::SetTimer { at, .. } = a else {
                panic!()
            };
            assert!(at < 120 * SECOND);
        }
    }

    #[test]
    fn a_new_revision_is_synced_once() {
        let mut r = rec(PullConfig::preset(PullPreset::Argocd));
        drain(&mut r);
        r.handle(5, Input::Fetched { app: 1, spec: 7 });
        let acts = drain(&mut r);
        let [Action::Apply(ap)] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        assert_eq!(&*ap.items, &[(1, 7)]);
        assert_eq!(ap.trace.picked_up, 5);
        r.handle(
            6,
            Input::Applied {
                op: ap.op,
                ok: true,
            },
        );
        r.handle(9, Input::Fetched { app: 1, spec: 7 });
        assert!(
            drain(&mut r).is_empty(),
            "no second sync of the same revision"
        );
    }

    #[test]
    fn self_heal_backs_off_by_factor_and_caps() {
        let mut cfg = PullConfig::preset(PullPreset::Argocd);
        cfg.self_heal.cooldown = Dur(u64::MAX);
        let mut r = rec(cfg);
        drain(&mut r);
        let mut delays = Vec::new();
        let mut now = 0;
        for _ in 0..7 {
            r.handle(now, Input::LiveChanged { app: 0 });
            let acts = drain(&mut r);
            let Some(Action::SetTimer { at, timer }) = acts.last().cloned() else {
                panic!("{acts:?}")
            };
            delays.push((at - now) / SECOND);
            now = at;
            r.handle(now, Input::Timer(timer));
            let Some(Action::Apply(ap)) = drain(&mut r).pop() else {
                panic!()
            };
            r.handle(
                now,
                Input::Applied {
                    op: ap.op,
                    ok: true,
                },
            );
        }
        assert_eq!(delays, vec![2, 6, 18, 54, 162, 300, 300]);
    }

    #[test]
    fn a_failed_sync_is_retried_with_backoff() {
        let mut r = rec(PullConfig::preset(PullPreset::Argocd));
        drain(&mut r);
        r.handle(0, Input::Fetched { app: 0, spec: 4 });
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..3 {
            let Some(Action::Apply(ap)) = drain(&mut r).pop() else {
                panic!()
            };
            r.handle(
                now,
                Input::Applied {
                    op: ap.op,
                    ok: false,
                },
            );
            let Some(Action::SetTimer { at, timer }) = drain(&mut r).pop() else {
                panic!()
            };
            waits.push((at - now) / SECOND);
            now = at;
            r.handle(now, Input::Timer(timer));
        }
        assert_eq!(waits, vec![5, 10, 20]);
        let Some(Action::Apply(ap)) = drain(&mut r).pop() else {
            panic!()
        };
        assert_eq!(&*ap.items, &[(0, 4)], "the same revision is retried");
    }

    #[test]
    fn a_restart_rechecks_every_app_against_git_and_the_cluster() {
        let mut r = rec(PullConfig::preset(PullPreset::Argocd));
        drain(&mut r);
        r.handle(
            100,
            Input::Restart {
                live: Arc::from(vec![0, 1]),
            },
        );
        let acts = drain(&mut r);
        let fetch_now = acts
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Action::SetTimer {
                        at: 100,
                        timer: Timer::Poll { .. }
                    }
                )
            })
            .count();
        let diffs = acts
            .iter()
            .filter(|a| matches!(a, Action::Diff { .. }))
            .count();
        assert_eq!((fetch_now, diffs), (2, 2), "{acts:?}");
        r.handle(
            100,
            Input::Diffed {
                app: 1,
                in_sync: Some(false),
            },
        );
        let Some(Action::Apply(ap)) = drain(&mut r).pop() else {
            panic!()
        };
        assert_eq!(&*ap.items, &[(1, 1)]);
    }

    #[test]
    fn concurrency_limits_syncs_in_flight() {
        let mut cfg = PullConfig::preset(PullPreset::Argocd);
        cfg.concurrency = 1;
        let mut r = rec(cfg);
        drain(&mut r);
        r.handle(1, Input::Fetched { app: 0, spec: 5 });
        r.handle(1, Input::Fetched { app: 1, spec: 6 });
        let acts = drain(&mut r);
        assert_eq!(acts.len(), 1);
        let Action::Apply(ap) = &acts[0] else {
            panic!()
        };
        r.handle(
            2,
            Input::Applied {
                op: ap.op,
                ok: true,
            },
        );
        let Some(Action::Apply(next)) = drain(&mut r).pop() else {
            panic!()
        };
        assert_eq!(&*next.items, &[(1, 6)]);
        assert_eq!(next.trace.picked_up, 1);
        assert_eq!(next.trace.started, 2);
    }
}
