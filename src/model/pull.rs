//! The pull reconciler (Argo CD / Flux style) as a sans-IO state machine: one agent per
//! cluster, reconciling every app on it.
//!
//! Each app polls git every `poll.interval` plus a uniform extra of up to `poll.jitter`
//! (first polls staggered over one interval); a webhook triggers an immediate fetch. A
//! new manifest is synced once (automated sync runs once per revision), at most
//! `concurrency` syncs at a time. Drift is corrected by watch-driven self-heal with
//! backoff `initial × factorⁿ` capped at `max` (Argo CD), by a diff-and-apply every
//! `reconcile_interval` (Flux), or not at all.

use super::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, OpId, SpecId, Timer, Trace,
};
use crate::scenario::duration::{from_secs_f64 as from_secs, secs};
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

#[derive(Clone, Copy, Debug)]
struct AppState {
    /// Newest manifest seen in git, and when it was first seen.
    target: SpecId,
    target_seen: Nanos,
    /// Newest manifest a sync was started for.
    synced: SpecId,
    state: SyncState,
    /// Why the app is queued: a diff-and-correct or self-heal re-applies the target even
    /// when it was synced before.
    force: bool,
    /// Self-heal bookkeeping.
    heal_attempts: u32,
    last_heal: Option<Nanos>,
    heal_generation: u32,
    heal_pending: bool,
}

pub struct Reconciler {
    cfg: PullConfig,
    cluster: ClusterId,
    rng: ChaCha8Rng,
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
        mut rng: ChaCha8Rng,
    ) -> Reconciler {
        let mut out = VecDeque::with_capacity(initial.len() * 2);
        let interval = cfg.poll.interval.0;
        for app in 0..initial.len() as AppId {
            // Applications start at different moments: the first poll is spread evenly
            // over one interval so polls do not all land together.
            let first = rng.random_range(0..interval.max(1));
            out.push_back(Action::SetTimer {
                at: first,
                timer: Timer::Poll { app },
            });
            if cfg.drift_detection == DriftDetection::Interval {
                let ri = cfg.reconcile_interval.0.max(1);
                let first = rng.random_range(0..ri);
                out.push_back(Action::SetTimer {
                    at: first,
                    timer: Timer::Reconcile { app },
                });
            }
        }
        let apps = initial
            .iter()
            .map(|&spec| AppState {
                target: spec,
                target_seen: 0,
                synced: spec,
                state: SyncState::Idle,
                force: false,
                heal_attempts: 0,
                last_heal: None,
                heal_generation: 0,
                heal_pending: false,
            })
            .collect();
        Reconciler {
            cfg,
            cluster,
            rng,
            apps,
            queue: VecDeque::new(),
            active: 0,
            next_op: 0,
            out,
        }
    }

    fn next_poll(&mut self, now: Nanos) -> Nanos {
        let jitter = self.cfg.poll.jitter.0;
        let extra = if jitter > 0 {
            self.rng.random_range(0..=jitter)
        } else {
            0
        };
        now + self.cfg.poll.interval.0 + extra
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
            a.synced = a.synced.max(a.target);
            let spec = a.target;
            let trace = Trace {
                picked_up: a.target_seen,
                started: now,
                first_apply: now,
            };
            self.active += 1;
            let op = self.next_op;
            self.next_op += 1;
            self.out.push_back(Action::Note(Note {
                kind: NoteKind::SyncStarted,
                cluster: Some(self.cluster),
                app: Some(app),
                detail: spec as u64,
            }));
            self.out.push_back(Action::Apply(Apply {
                op: (op << 32) | app as u64,
                cluster: self.cluster,
                items: Arc::from([(app, spec)]),
                duration,
                trace,
            }));
        }
    }

    fn fetched(&mut self, now: Nanos, app: AppId, spec: SpecId) {
        let a = &mut self.apps[app as usize];
        if spec > a.target {
            a.target = spec;
            a.target_seen = now;
        }
        // Automated sync runs once per revision.
        if a.target > a.synced {
            self.enqueue(now, app, false);
        }
    }

    fn applied(&mut self, now: Nanos, op: OpId) {
        let app = op as u32;
        let Some(a) = self.apps.get_mut(app as usize) else {
            return;
        };
        if a.state != SyncState::Syncing {
            return;
        }
        a.state = SyncState::Idle;
        self.active -= 1;
        let again = a.target > a.synced || a.force;
        let force = a.force;
        if again {
            self.enqueue(now, app, force);
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
        let delay = secs(heal.initial.0) * heal.factor.powi(a.heal_attempts.min(64) as i32);
        let delay = from_secs(delay.min(secs(heal.max.0)));
        a.heal_pending = true;
        a.heal_generation += 1;
        let generation = a.heal_generation;
        self.out.push_back(Action::Note(Note {
            kind: NoteKind::SelfHealScheduled,
            cluster: Some(self.cluster),
            app: Some(app),
            detail: delay / 1_000_000,
        }));
        self.out.push_back(Action::SetTimer {
            at: now + delay,
            timer: Timer::SelfHeal { app, generation },
        });
    }
}

impl Model for Reconciler {
    fn handle(&mut self, now: Nanos, input: Input) {
        match input {
            Input::Timer(Timer::Poll { app }) => {
                let at = self.next_poll(now);
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::Poll { app },
                });
                self.out.push_back(Action::Fetch {
                    cluster: self.cluster,
                    app,
                });
            }
            Input::Timer(Timer::Reconcile { app }) => {
                let at = now + self.cfg.reconcile_interval.0;
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::Reconcile { app },
                });
                self.enqueue(now, app, true);
            }
            Input::Timer(Timer::SelfHeal { app, generation }) => {
                let a = &mut self.apps[app as usize];
                if a.heal_generation == generation && a.heal_pending {
                    a.heal_pending = false;
                    a.heal_attempts += 1;
                    a.last_heal = Some(now);
                    self.enqueue(now, app, true);
                }
            }
            Input::Webhook { app } => self.out.push_back(Action::Fetch {
                cluster: self.cluster,
                app,
            }),
            Input::Fetched { app, spec } => self.fetched(now, app, spec),
            Input::LiveChanged { app } => self.live_changed(now, app),
            Input::Applied { op, .. } => self.applied(now, op),
            Input::RolloutFinished { app, spec, ok, .. } => {
                if !ok {
                    self.out.push_back(Action::Note(Note {
                        kind: NoteKind::Degraded,
                        cluster: Some(self.cluster),
                        app: Some(app),
                        detail: spec as u64,
                    }));
                }
            }
            // A failed fetch keeps the last known revision; the next poll tries again.
            Input::FetchFailed { .. } => {}
            // Inputs of the push model.
            Input::Commit { .. }
            | Input::Timer(_)
            | Input::CheckedOut { .. }
            | Input::CheckoutFailed { .. } => {}
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
