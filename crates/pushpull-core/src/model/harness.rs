//! A test harness for one [`Model`], in the spirit of quinn-proto's test `Pair`: a fake
//! clock, one queue of timers and replies ordered by time then insertion, and a scripted
//! world that answers the model's actions. Tests feed inputs, advance time with
//! [`Harness::run_until`] and assert on the log of emitted actions, never on a model's
//! private fields. It is also the way to unit-test a new setup kind: implement [`Model`],
//! wrap it in a `Harness`, script git and the cluster, and check what it does.
//!
//! Replies go onto the harness's queue (at `now + latency`, or after an apply's
//! `duration`) and are delivered by `run_until`: a model is never re-entered on the call
//! stack of its own `handle`. Everything is deterministic: no wall clock, no threads.
//!
//! ```
//! use pushpull_core::model::harness::{Harness, Script};
//! use pushpull_core::model::pull::Reconciler;
//! use pushpull_core::model::{Action, Input};
//! use pushpull_core::scenario::models::PullPreset;
//! use pushpull_core::scenario::{PullConfig, SECOND};
//! use rand::SeedableRng;
//!
//! let cfg = PullConfig::preset(PullPreset::Argocd);
//! let model = Reconciler::new(cfg, 0, &[0], rand_chacha::ChaCha8Rng::seed_from_u64(1));
//! let mut h = Harness::new(model, vec![0], Script::default());
//! h.commit(vec![1]);
//! h.inject(Input::Webhook { app: 0 });
//! h.run_until(10 * SECOND);
//! assert_eq!(h.applies().len(), 1, "the webhook's fetch saw the new manifest");
//! ```

use super::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, Rev, SpecId, Timer, Tree,
};
use crate::scenario::Nanos;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Answers a checkout of `rev` (`None`: the branch head) by run `run` at `now`:
/// `Some((rev, tree))` checks it out, `None` fails (git unreachable).
pub type CheckoutFn = dyn FnMut(Nanos, u32, Option<Rev>, &[Tree]) -> Option<(Rev, Tree)>;
/// Answers a fetch of `app` by `cluster`'s agent: `Some(spec)` is the app's manifest at
/// the branch head, `None` a failed fetch.
pub type FetchFn = dyn FnMut(Nanos, ClusterId, AppId, &[Tree]) -> Option<SpecId>;
/// Answers a branch resolution (`Action::Resolve`): `Some(rev)` resolves to that revision
/// of the history, `None` fails.
pub type ResolveFn = dyn FnMut(Nanos, &[Tree]) -> Option<Rev>;
/// Answers a diff of `app` against `spec`: whether live equals it (`None`: unreachable).
pub type DiffFn = dyn FnMut(Nanos, ClusterId, AppId, SpecId) -> Option<bool>;
/// Whether an apply succeeds (its reply comes `apply.duration` after it was issued).
pub type ApplyFn = dyn FnMut(Nanos, &Apply) -> bool;
/// After a successful apply of `spec` of `app` on `cluster`: `Some((after, ok))` reports
/// the rollout finished (`ok`) or failed `after` the apply's reply; `None`: never.
pub type RolloutFn = dyn FnMut(ClusterId, AppId, SpecId) -> Option<(Nanos, bool)>;

/// How the scripted world answers. The defaults: git is the harness's history (see
/// [`Harness::commit`]): checkouts succeed with the tree at the asked revision, fetches
/// return the app's manifest at the head; diffs find live in sync; applies succeed
/// after their `duration`; no rollout is reported; checkouts, fetches and diffs answer
/// after `latency` (0).
#[derive(Default)]
pub struct Script {
    checkout: Option<Box<CheckoutFn>>,
    fetch: Option<Box<FetchFn>>,
    resolve: Option<Box<ResolveFn>>,
    diff: Option<Box<DiffFn>>,
    apply: Option<Box<ApplyFn>>,
    rollout: Option<Box<RolloutFn>>,
    latency: Nanos,
}

impl Script {
    /// Answers checkouts with `f` instead of the history.
    pub fn on_checkout(
        mut self,
        f: impl FnMut(Nanos, u32, Option<Rev>, &[Tree]) -> Option<(Rev, Tree)> + 'static,
    ) -> Script {
        self.checkout = Some(Box::new(f));
        self
    }

    /// Answers fetches with `f` instead of the history's head.
    pub fn on_fetch(
        mut self,
        f: impl FnMut(Nanos, ClusterId, AppId, &[Tree]) -> Option<SpecId> + 'static,
    ) -> Script {
        self.fetch = Some(Box::new(f));
        self
    }

    /// Answers branch resolutions with `f` instead of the history's head.
    pub fn on_resolve(mut self, f: impl FnMut(Nanos, &[Tree]) -> Option<Rev> + 'static) -> Script {
        self.resolve = Some(Box::new(f));
        self
    }

    /// Answers diffs with `f` instead of "in sync".
    pub fn on_diff(
        mut self,
        f: impl FnMut(Nanos, ClusterId, AppId, SpecId) -> Option<bool> + 'static,
    ) -> Script {
        self.diff = Some(Box::new(f));
        self
    }

    /// Decides with `f` whether each apply succeeds.
    pub fn on_apply(mut self, f: impl FnMut(Nanos, &Apply) -> bool + 'static) -> Script {
        self.apply = Some(Box::new(f));
        self
    }

    /// Reports rollouts with `f`.
    pub fn on_rollout(
        mut self,
        f: impl FnMut(ClusterId, AppId, SpecId) -> Option<(Nanos, bool)> + 'static,
    ) -> Script {
        self.rollout = Some(Box::new(f));
        self
    }

    /// Every applied manifest finishes rolling out `after` the apply's reply.
    pub fn rollouts_finish_after(self, after: Nanos) -> Script {
        self.on_rollout(move |_, _, _| Some((after, true)))
    }

    /// Checkouts, fetches and diffs answer this long after they are asked.
    pub fn latency(mut self, latency: Nanos) -> Script {
        self.latency = latency;
        self
    }
}

/// One model, a fake clock, a queue of timers and replies, and a scripted world.
pub struct Harness<M: Model> {
    model: M,
    now: Nanos,
    /// Inputs to deliver, by (time, insertion): timers and the world's replies.
    queue: BTreeMap<(Nanos, u64), Input>,
    seq: u64,
    script: Script,
    /// The git history: `history[rev]` is the tree at revision `rev`.
    history: Vec<Tree>,
    log: Vec<(Nanos, Action)>,
}

/// How many inputs one [`Harness::run_until`] delivers before it decides the model
/// livelocks (it keeps scheduling work without time advancing).
const MAX_STEPS: usize = 10_000_000;

impl<M: Model> Harness<M> {
    /// A harness at time 0 whose git history starts with `initial` (revision 0); the
    /// actions the model emitted on construction are taken at time 0.
    pub fn new(model: M, initial: Vec<SpecId>, script: Script) -> Harness<M> {
        let mut h = Harness {
            model,
            now: 0,
            queue: BTreeMap::new(),
            seq: 0,
            script,
            history: vec![Arc::from(initial)],
            log: Vec::new(),
        };
        h.drain();
        h
    }

    /// The fake clock.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// The model, for what the log cannot tell (prefer asserting on actions).
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Adds a revision with `tree` to the git history and returns its number. The model
    /// is not told: inject [`Input::Commit`] or [`Input::Webhook`] for that.
    pub fn commit(&mut self, tree: Vec<SpecId>) -> Rev {
        self.history.push(Arc::from(tree));
        (self.history.len() - 1) as Rev
    }

    /// Feeds `input` to the model at the current time and takes its actions.
    pub fn inject(&mut self, input: Input) {
        self.model.handle(self.now, input);
        self.drain();
    }

    /// Delivers every queued timer and reply due at or before `t`, in time order (ties
    /// in the order they were queued), then sets the clock to `t`.
    ///
    /// # Panics
    /// If the model keeps scheduling work without time advancing (a livelock).
    pub fn run_until(&mut self, t: Nanos) {
        let mut steps = 0usize;
        while let Some(entry) = self.queue.first_entry() {
            let (at, _) = *entry.key();
            if at > t {
                break;
            }
            let input = entry.remove();
            self.now = at;
            self.model.handle(at, input);
            self.drain();
            steps += 1;
            assert!(
                steps < MAX_STEPS,
                "the model livelocks: {MAX_STEPS} inputs before {t} ns, now {at} ns"
            );
        }
        self.now = self.now.max(t);
    }

    /// Every action the model emitted, with the time it was emitted, in order.
    pub fn actions(&self) -> &[(Nanos, Action)] {
        &self.log
    }

    /// The applies issued, with their times.
    pub fn applies(&self) -> Vec<(Nanos, Apply)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Apply(ap) => Some((*t, ap.clone())),
                _ => None,
            })
            .collect()
    }

    /// The times `app` was fetched (by any cluster's agent).
    /// When the model resolved the branch (`Action::Resolve`).
    pub fn resolves(&self) -> Vec<Nanos> {
        self.log
            .iter()
            .filter_map(|(t, a)| matches!(a, Action::Resolve { .. }).then_some(*t))
            .collect()
    }

    pub fn fetches(&self, app: AppId) -> Vec<Nanos> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Fetch { app: a, .. } if *a == app => Some(*t),
                _ => None,
            })
            .collect()
    }

    /// The checkouts asked: (time, run, revision).
    pub fn checkouts(&self) -> Vec<(Nanos, u32, Option<Rev>)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Checkout { run, rev } => Some((*t, *run, *rev)),
                _ => None,
            })
            .collect()
    }

    /// The diffs asked: (time, cluster, app, manifest).
    pub fn diffs(&self) -> Vec<(Nanos, ClusterId, AppId, SpecId)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Diff { cluster, app, spec } => Some((*t, *cluster, *app, *spec)),
                _ => None,
            })
            .collect()
    }

    /// The timers set: (time set, due time, timer).
    pub fn timers(&self) -> Vec<(Nanos, Nanos, Timer)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::SetTimer { at, timer } => Some((*t, *at, *timer)),
                _ => None,
            })
            .collect()
    }

    /// The notes of `kind`, with their times.
    pub fn published(&self) -> Vec<(Nanos, Rev, Nanos)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Published { upto, started } => Some((*t, *upto, *started)),
                _ => None,
            })
            .collect()
    }

    /// Every note of one kind: (time, note).
    pub fn notes(&self, kind: NoteKind) -> Vec<(Nanos, Note)> {
        self.log
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Note(n) if n.kind == kind => Some((*t, *n)),
                _ => None,
            })
            .collect()
    }

    fn schedule(&mut self, at: Nanos, input: Input) {
        self.queue.insert((at.max(self.now), self.seq), input);
        self.seq += 1;
    }

    fn head(&self) -> &Tree {
        self.history
            .last()
            .expect("the history starts with revision 0")
    }

    /// Takes every pending action: logs it and queues the world's answer.
    fn drain(&mut self) {
        let now = self.now;
        let reply_at = now.saturating_add(self.script.latency);
        while let Some(action) = self.model.poll_action() {
            self.log.push((now, action.clone()));
            match action {
                Action::SetTimer { at, timer } => self.schedule(at, Input::Timer(timer)),
                Action::Checkout { run, rev } => {
                    let answer = match self.script.checkout.as_mut() {
                        Some(f) => f(now, run, rev, &self.history),
                        None => {
                            let rev = rev.unwrap_or((self.history.len() - 1) as Rev);
                            self.history
                                .get(rev as usize)
                                .map(|tree| (rev, tree.clone()))
                        }
                    };
                    let input = match answer {
                        Some((rev, tree)) => Input::CheckedOut { run, rev, tree },
                        None => Input::CheckoutFailed { run },
                    };
                    self.schedule(reply_at, input);
                }
                Action::Fetch { cluster, app } => {
                    let answer = match self.script.fetch.as_mut() {
                        Some(f) => f(now, cluster, app, &self.history),
                        None => self.head().get(app as usize).copied(),
                    };
                    let input = match answer {
                        Some(spec) => Input::Fetched { app, spec },
                        None => Input::FetchFailed { app },
                    };
                    self.schedule(reply_at, input);
                }
                Action::Resolve { have, .. } => {
                    let input = match self.script.resolve.as_mut() {
                        Some(f) => f(now, &self.history),
                        None => Some((self.history.len() - 1) as Rev),
                    };
                    let input =
                        match input.and_then(|r| self.history.get(r as usize).map(|t| (r, t))) {
                            Some((rev, tree)) => Input::Resolved {
                                rev,
                                tree: (rev != have).then(|| tree.clone()),
                                at: now,
                            },
                            None => Input::ResolveFailed,
                        };
                    self.schedule(reply_at, input);
                }
                Action::Diff { cluster, app, spec } => {
                    let in_sync = match self.script.diff.as_mut() {
                        Some(f) => f(now, cluster, app, spec),
                        None => Some(true),
                    };
                    self.schedule(reply_at, Input::Diffed { app, in_sync });
                }
                Action::Apply(apply) => {
                    let ok = match self.script.apply.as_mut() {
                        Some(f) => f(now, &apply),
                        None => true,
                    };
                    let done = now.saturating_add(apply.duration);
                    self.schedule(done, Input::Applied { op: apply.op, ok });
                    if ok && let Some(f) = self.script.rollout.as_mut() {
                        let mut finished = Vec::new();
                        for &(app, spec) in apply.items.iter() {
                            if let Some((after, ok)) = f(apply.cluster, app, spec) {
                                finished.push((done.saturating_add(after), app, spec, ok));
                            }
                        }
                        for (at, app, spec, ok) in finished {
                            let input = Input::RolloutFinished {
                                cluster: apply.cluster,
                                app,
                                spec,
                                ok,
                            };
                            self.schedule(at, input);
                        }
                    }
                }
                // The scripted world passes every gate at once.
                Action::Gate { run, env, .. } => self.schedule(
                    now,
                    Input::Gate {
                        run,
                        env,
                        passed: true,
                    },
                ),
                Action::Note(_) | Action::Published { .. } => {}
            }
        }
    }
}
