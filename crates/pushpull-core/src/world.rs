//! What the sim world and the live world share: the delivery models they drive, the
//! model of git both keep, the tracker, the bad-release ledger, the fault bookkeeping, and
//! the logic that turns the plan (commits, bad releases, rollback decisions, fault
//! windows, webhooks) into model inputs. A world adds only what differs: its clock and
//! scheduler, how it carries out a model's actions (virtual clusters or kube-rs), how it
//! writes git (the model alone, or a real repository too) and the fault effects that need
//! its clusters ([`Shell`]).

use crate::git::GitHost;
use crate::measure::EventKind;
use crate::measure::track::{CommitKind, Tracker};
use crate::metric::ModelKind;
use crate::model::pull::Reconciler;
use crate::model::push::Pipeline;
use crate::model::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, Rev, SpecId, Timer,
};
use crate::plan::{Component, Plan, rng};
use crate::release::{Releases, Rollback};
use crate::scenario::{Cut, DriftDetection, Fault, Nanos, Scenario, Setup, SetupConfig};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Something that happens at a planned time. The first eight come from the plan and the
/// models and mean the same in every world; the last two are the sim's own (the live world
/// learns of applies and rollouts from the API server instead).
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    Commit(u32),
    Drift(u32),
    BadRelease(u32),
    RollbackDecision(u32),
    Timer {
        target: u32,
        epoch: u32,
        timer: Timer,
    },
    FaultStart(u32),
    FaultEnd(u32),
    Webhook {
        cluster: ClusterId,
        app: AppId,
    },
    ApplyDone {
        slot: u32,
    },
    RolloutEnd {
        cluster: ClusterId,
        app: AppId,
        generation: u32,
    },
}

pub enum Models {
    Push(Box<Pipeline>),
    Pull(Vec<Reconciler>),
}

/// The faults in force that every world tracks the same way. Counters, so overlapping
/// windows of one kind nest.
pub struct FaultState {
    pub git_down: u32,
    pub cuts: [u32; 4],
    pub runners_down: u32,
    /// Per model target (cluster for pull): crashed, and the instance's epoch (timers and
    /// acknowledgements sent to an earlier instance are dropped).
    pub crashed: Vec<bool>,
    pub epochs: Vec<u32>,
    /// Per cluster: wiped and not yet rebuilt.
    pub lost: Vec<bool>,
}

/// What a git write is, for a world that keeps a real repository as well as the model.
#[derive(Clone, Copy)]
pub enum GitWrite {
    /// A release commit (workload or bad release).
    Commit,
    /// The revert of a bad release's commit.
    Revert { bad: Rev },
}

pub struct Core<'a> {
    pub s: &'a Scenario,
    pub plan: &'a Plan,
    /// The delivery setup this world runs, and its kind.
    pub setup: &'a Setup,
    pub kind: ModelKind,
    pub git: GitHost,
    pub models: Models,
    pub tracker: Tracker,
    pub releases: Releases,
    pub webhook_rng: ChaCha8Rng,
    pub faults: FaultState,
    /// Events and messages handled (the engine's event count).
    pub processed: u64,
    /// The reply the world gave at once to a model's action, waiting for [`Shell::pump`]
    /// to hand it over before the model's next action: a queue of at most one, since an
    /// action has at most one immediate reply (a slot, not a `VecDeque`: fleet.yaml makes a
    /// million fetches and the deque's bookkeeping showed in profiles).
    pub reply: Option<(u32, Input)>,
}

impl<'a> Core<'a> {
    pub fn new(s: &'a Scenario, plan: &'a Plan, setup: &'a Setup, repetition: u32) -> Core<'a> {
        let (clusters, apps) = (s.clusters(), s.apps());
        let git = GitHost::new(apps);
        let kind = setup.kind();
        // Every setup of one kind draws from the same streams (common random numbers), so
        // setups differ by their settings, not by luck.
        let models = match &setup.config {
            SetupConfig::Push(cfg) => Models::Push(Box::new(Pipeline::new(
                cfg.clone(),
                clusters,
                &git.head,
                rng(s.seed, repetition, Component::Push),
            ))),
            SetupConfig::Pull(cfg) => Models::Pull(
                (0..clusters)
                    .map(|c| {
                        Reconciler::new(
                            cfg.clone(),
                            c,
                            &git.head,
                            rng(s.seed, repetition, Component::Pull { cluster: c }),
                        )
                    })
                    .collect(),
            ),
        };
        let n = clusters as usize;
        Core {
            s,
            plan,
            setup,
            kind,
            git,
            models,
            tracker: Tracker::new(clusters, apps, kind == ModelKind::Push),
            releases: Releases::new(plan, apps),
            webhook_rng: rng(s.seed, repetition, Component::Webhook),
            faults: FaultState {
                git_down: 0,
                cuts: [0; 4],
                runners_down: 0,
                crashed: vec![false; n],
                epochs: vec![0; n],
                lost: vec![false; n],
            },
            processed: 0,
            reply: None,
        }
    }

    /// Model instances: one pipeline, or one reconciler per cluster.
    pub fn targets(&self) -> u32 {
        match &self.models {
            Models::Push(_) => 1,
            Models::Pull(r) => r.len() as u32,
        }
    }

    pub fn model(&mut self, target: u32) -> &mut dyn Model {
        match &mut self.models {
            Models::Push(p) => p.as_mut(),
            Models::Pull(r) => &mut r[target as usize],
        }
    }

    /// The model instance that hears about `cluster`.
    pub fn target_of(&self, cluster: ClusterId) -> u32 {
        match self.kind {
            ModelKind::Push => 0,
            ModelKind::Pull => cluster,
        }
    }

    /// Index of a (cluster, app) pair in per-Deployment tables.
    pub fn idx(&self, cluster: ClusterId, app: AppId) -> usize {
        cluster as usize * self.s.apps() as usize + app as usize
    }

    /// Whether the model can reach git: no outage and no partition between them.
    pub fn git_reachable(&self) -> bool {
        let cut = match self.kind {
            ModelKind::Push => Cut::PipelineGit,
            ModelKind::Pull => Cut::ReconcilerGit,
        };
        self.faults.git_down == 0 && self.faults.cuts[cut.index()] == 0
    }

    /// Whether the model can reach `cluster`'s API: not lost, no partition between them.
    pub fn cluster_reachable(&self, cluster: ClusterId) -> bool {
        let cut = match self.kind {
            ModelKind::Push => Cut::PipelineCluster,
            ModelKind::Pull => Cut::ReconcilerCluster,
        };
        !self.faults.lost[cluster as usize] && self.faults.cuts[cut.index()] == 0
    }

    /// Whether a reply for `target` sent under `epoch` still reaches the same instance.
    pub fn current(&self, target: u32, epoch: u32) -> bool {
        self.faults.epochs[target as usize] == epoch
    }

    /// The clusters a fault touches.
    pub fn fault_clusters(&self, f: &Fault) -> Vec<ClusterId> {
        match f.cluster() {
            Some(c) => vec![c],
            None => (0..self.s.clusters()).collect(),
        }
    }

    /// A model's note as a timeline event (per-app sync starts only while the timeline
    /// stays readable).
    pub fn note(&mut self, now: Nanos, n: Note) {
        if !self.tracker.detailed_events && matches!(n.kind, NoteKind::SyncStarted) {
            return;
        }
        let detail = match n.kind {
            NoteKind::SyncStarted | NoteKind::Degraded | NoteKind::SyncFailed => {
                format!("rev={}", self.git.spec(n.detail as SpecId).rev)
            }
            NoteKind::SelfHealScheduled => format!("backoff_ms={}", n.detail),
            _ => format!("run={}", n.detail),
        };
        self.tracker
            .event(now, n.cluster, n.app, n.kind.into(), detail);
    }
}

/// A world: the shared [`Core`] plus what differs between virtual and real time. The
/// provided methods are the shared behaviour; each world calls them from its dispatch.
pub trait Shell<'a> {
    fn core(&self) -> &Core<'a>;
    fn core_mut(&mut self) -> &mut Core<'a>;
    /// Scenario time now.
    fn now(&self) -> Nanos;
    fn schedule(&mut self, at: Nanos, ev: Ev);
    /// Whether the world's git host serves revision `rev` now (the model of git always
    /// can; a real repository is read and checked). Reachability is the core's business.
    fn git_read(&mut self, rev: Rev) -> bool;
    /// Asks `cluster` whether `app`'s live objects equal `spec`, for model instance
    /// `target`: `Some(answer)` when the world answers at once (`Some(None)`: the request
    /// failed), `None` when the answer arrives later as an event of the world.
    fn diff(
        &mut self,
        target: u32,
        cluster: ClusterId,
        app: AppId,
        spec: SpecId,
    ) -> Option<Option<bool>>;
    /// Starts an apply for model instance `target`; its end arrives later as an event of
    /// the world.
    fn start_apply(&mut self, target: u32, apply: Apply);
    /// Applies `changes` (app, image or a new one, broken) to the model of git, and to a
    /// real repository if the world has one. `None` if the write failed (it is logged).
    fn write_git(&mut self, changes: &[(AppId, Option<u32>, bool)], what: GitWrite) -> Option<Rev>;
    /// The manifest live for `app` on `cluster`, as a restarted reconciler finds it.
    fn live_spec(&self, cluster: ClusterId, app: AppId) -> SpecId;
    /// What a fault does to this world's clusters or API servers (brownouts, a cluster's
    /// loss), after the shared bookkeeping.
    fn fault_effect(&mut self, fault: u32, clusters: &[ClusterId], start: bool);

    /// Every app's live manifest on `cluster`.
    fn live_specs(&self, cluster: ClusterId) -> Arc<[SpecId]> {
        (0..self.core().s.apps())
            .map(|app| self.live_spec(cluster, app))
            .collect()
    }

    /// Puts every planned event on the clock and lets the models take their first steps.
    fn start(&mut self) {
        let plan = self.core().plan;
        for (i, c) in plan.commits.iter().enumerate() {
            self.schedule(c.at, Ev::Commit(i as u32));
        }
        for (i, d) in plan.drifts.iter().enumerate() {
            self.schedule(d.at, Ev::Drift(i as u32));
        }
        for (i, b) in plan.bad_releases.iter().enumerate() {
            self.schedule(b.at, Ev::BadRelease(i as u32));
        }
        for (i, w) in plan.windows.iter().enumerate() {
            self.schedule(w.start, Ev::FaultStart(i as u32));
            self.schedule(w.end, Ev::FaultEnd(i as u32));
        }
        for target in 0..self.core().targets() {
            self.pump(target);
        }
    }

    /// Handles the events every world handles alike; returns the others (drift, and the
    /// sim's own) for the world to handle.
    fn dispatch_shared(&mut self, ev: Ev) -> Option<Ev> {
        match ev {
            Ev::Timer {
                target,
                epoch,
                timer,
            } => {
                if self.core().current(target, epoch) {
                    self.deliver(target, Input::Timer(timer));
                }
            }
            Ev::Commit(i) => self.workload_commit(i),
            Ev::BadRelease(i) => self.bad_release(i),
            Ev::RollbackDecision(i) => self.rollback_decision(i),
            Ev::FaultStart(i) => self.fault(i, true),
            Ev::FaultEnd(i) => self.fault(i, false),
            Ev::Webhook { cluster, app } => self.deliver(cluster, Input::Webhook { app }),
            other => return Some(other),
        }
        None
    }

    /// Hands an input to a model instance (unless it is crashed) and runs what it does.
    fn deliver(&mut self, target: u32, input: Input) {
        if self.core().faults.crashed[target as usize] {
            return;
        }
        let now = self.now();
        self.core_mut().model(target).handle(now, input);
        self.pump(target);
    }

    /// Runs model instance `target`'s actions until it has none. A reply the world gives
    /// at once waits in the core's reply slot and is handed to the model before its next
    /// action: the model is never re-entered from inside one of its own actions.
    fn pump(&mut self, target: u32) {
        while let Some(action) = self.core_mut().model(target).poll_action() {
            self.act(target, action);
            if let Some((to, input)) = self.core_mut().reply.take()
                && !self.core().faults.crashed[to as usize]
            {
                let now = self.now();
                self.core_mut().model(to).handle(now, input);
            }
        }
    }

    /// Carries out one of a model's actions: what every world does alike (timers with the
    /// instance's epoch, counting fetches and requests, git reachability, reading the model
    /// of git, timeline notes) here, the rest through the world's effects.
    fn act(&mut self, target: u32, action: Action) {
        match action {
            Action::SetTimer { at, timer } => {
                let epoch = self.core().faults.epochs[target as usize];
                let at = at.max(self.now());
                self.schedule(
                    at,
                    Ev::Timer {
                        target,
                        epoch,
                        timer,
                    },
                );
            }
            Action::Fetch { app, .. } => {
                self.core_mut().tracker.counters().git_fetches += 1;
                let head = self.core().git.head_rev();
                let reply = if self.core().git_reachable() && self.git_read(head) {
                    Input::Fetched {
                        app,
                        spec: self.core().git.head[app as usize],
                    }
                } else {
                    Input::FetchFailed { app }
                };
                self.core_mut().reply = Some((target, reply));
            }
            Action::Checkout { run, rev } => {
                self.core_mut().tracker.counters().git_fetches += 1;
                let rev = rev.unwrap_or_else(|| self.core().git.head_rev());
                let reply = if self.core().git_reachable() && self.git_read(rev) {
                    Input::CheckedOut {
                        run,
                        rev,
                        tree: self.core().git.trees[rev as usize].clone(),
                    }
                } else {
                    Input::CheckoutFailed { run }
                };
                self.core_mut().reply = Some((target, reply));
            }
            Action::Diff { cluster, app, spec } => {
                self.core_mut().tracker.counters().api_requests += 1;
                if let Some(in_sync) = self.diff(target, cluster, app, spec) {
                    self.core_mut().reply = Some((target, Input::Diffed { app, in_sync }));
                }
            }
            Action::Apply(apply) => {
                // One request per app (its Deployment and ConfigMap are one apply).
                self.core_mut().tracker.counters().api_requests += apply.items.len() as u64;
                self.start_apply(target, apply);
            }
            Action::Note(n) => {
                let now = self.now();
                self.core_mut().note(now, n);
            }
        }
    }

    /// Tells the model about a new commit (push: the trigger; pull: webhooks). The git
    /// host sends both as webhooks: during a git outage they are lost.
    fn announce(&mut self, rev: Rev, apps: &[AppId]) {
        let now = self.now();
        let core = self.core_mut();
        match &core.setup.config {
            SetupConfig::Push(_) => {
                if core.faults.git_down > 0 {
                    core.tracker.event(
                        now,
                        None,
                        None,
                        EventKind::WebhookLost,
                        format!("rev={rev}"),
                    );
                } else {
                    self.deliver(0, Input::Commit { rev });
                }
            }
            SetupConfig::Pull(cfg) => {
                let Some(hook) = cfg.webhook.as_ref() else {
                    return;
                };
                if !core.git_reachable() {
                    core.tracker.event(
                        now,
                        None,
                        None,
                        EventKind::WebhookLost,
                        format!("rev={rev}"),
                    );
                    return;
                }
                let mut sends = Vec::new();
                for c in 0..core.s.clusters() {
                    for &app in apps {
                        if core.webhook_rng.random::<f64>() < hook.loss.0 {
                            continue;
                        }
                        let delay = hook.delay.sample(&mut core.webhook_rng);
                        sends.push((now.saturating_add(delay), c, app));
                    }
                }
                for (at, cluster, app) in sends {
                    self.schedule(at, Ev::Webhook { cluster, app });
                }
            }
        }
    }

    fn workload_commit(&mut self, i: u32) {
        let now = self.now();
        let core = self.core_mut();
        let apps = core
            .releases
            .commit_apps(&core.plan.commits[i as usize].apps);
        if apps.is_empty() {
            core.tracker.event(
                now,
                None,
                None,
                EventKind::CommitHeld,
                "every app it changes is frozen".into(),
            );
            return;
        }
        let changes: Vec<_> = apps.iter().map(|&a| (a, None, false)).collect();
        let Some(rev) = self.write_git(&changes, GitWrite::Commit) else {
            return;
        };
        self.core_mut()
            .tracker
            .commit(rev, now, &apps, CommitKind::Normal);
        self.announce(rev, &apps);
    }

    fn bad_release(&mut self, i: u32) {
        let now = self.now();
        let core = self.core_mut();
        let Some(app) = core.releases.app_for(i as usize) else {
            core.tracker.event(
                now,
                None,
                None,
                EventKind::BadReleaseHeld,
                "every app is frozen".into(),
            );
            return;
        };
        let good = core.git.spec(core.git.head[app as usize]).image;
        let Some(rev) = self.write_git(&[(app, None, true)], GitWrite::Commit) else {
            return;
        };
        let core = self.core_mut();
        let spec = core.git.head[app as usize];
        core.releases.shipped(i as usize, rev, app, good, spec);
        core.tracker.commit(rev, now, &[app], CommitKind::Bad);
        core.tracker.note_bad_release(rev, now);
        self.announce(rev, &[app]);
    }

    /// A rollout of `spec` failed at `t`: if it is a bad release seen for the first time,
    /// the rollback is decided after the scenario's `rollback_after`.
    fn detect_bad_release(&mut self, spec: SpecId, t: Nanos) {
        let core = self.core_mut();
        let Some((i, app, rev, after)) = core.releases.detected(spec) else {
            return;
        };
        core.tracker.event(
            t,
            None,
            Some(app),
            EventKind::BadReleaseDetected,
            format!("rev={rev}"),
        );
        // Saturating: a decision after the last nanosecond is never taken.
        self.schedule(t.saturating_add(after), Ev::RollbackDecision(i as u32));
    }

    /// The operator reverts a bad release: a revert commit restoring the last good image.
    fn rollback_decision(&mut self, i: u32) {
        let Some(Rollback {
            bad_rev,
            app,
            good_image,
        }) = self.core_mut().releases.decide_rollback(i as usize)
        else {
            return;
        };
        let now = self.now();
        let Some(rev) = self.write_git(
            &[(app, Some(good_image), false)],
            GitWrite::Revert { bad: bad_rev },
        ) else {
            return;
        };
        let tracker = &mut self.core_mut().tracker;
        tracker.event(
            now,
            None,
            Some(app),
            EventKind::RollbackDecided,
            format!("bad={bad_rev} revert={rev}"),
        );
        tracker.commit(
            rev,
            now,
            &[app],
            CommitKind::Revert {
                bad: bad_rev,
                decided_at: now,
            },
        );
        self.announce(rev, &[app]);
    }

    /// Tells whoever waits on the rollout of `spec` on (cluster, app) how it ended (as
    /// `kubectl rollout status` or a sync's health check would).
    fn rollout_finished(&mut self, cluster: ClusterId, app: AppId, spec: SpecId, ok: bool) {
        let target = self.core().target_of(cluster);
        self.deliver(
            target,
            Input::RolloutFinished {
                cluster,
                app,
                spec,
                ok,
            },
        );
    }

    /// An apply the API refused, or that never reached it.
    fn apply_failed(&mut self, apply: &Apply, current: bool) {
        let now = self.now();
        let tracker = &mut self.core_mut().tracker;
        tracker.counters().apply_errors += apply.items.len() as u64;
        tracker.event(
            now,
            Some(apply.cluster),
            None,
            EventKind::ApplyError,
            format!("apps={}", apply.items.len()),
        );
        if current {
            let target = self.core().target_of(apply.cluster);
            self.deliver(
                target,
                Input::Applied {
                    op: apply.op,
                    ok: false,
                },
            );
        }
    }

    /// A fault window opens or closes: the timeline event, the shared bookkeeping (git,
    /// partitions, runners, crashes, a lost cluster's reachability), then the world's own
    /// effect, then what a watching reconciler sees of a rebuilt cluster.
    fn fault(&mut self, w: u32, start: bool) {
        let now = self.now();
        let core = self.core_mut();
        let s = core.s;
        let i = core.plan.windows[w as usize].fault;
        let f = &s.faults[i as usize];
        core.tracker.event(
            now,
            f.cluster(),
            None,
            if start {
                EventKind::FaultStart
            } else {
                EventKind::FaultEnd
            },
            f.kind().to_string(),
        );
        let clusters = core.fault_clusters(f);
        // Windows nest: every end follows its own start, so a count never goes below 0.
        let step = |n: &mut u32| {
            if start {
                *n = n.saturating_add(1)
            } else {
                *n = n.saturating_sub(1)
            }
        };
        match f {
            Fault::GitOutage { .. } => step(&mut core.faults.git_down),
            Fault::Partition { between, .. } => step(&mut core.faults.cuts[between.index()]),
            Fault::RunnerOutage { .. } => {
                step(&mut core.faults.runners_down);
                let edge = core.faults.runners_down == u32::from(start);
                if core.kind == ModelKind::Push && edge {
                    self.deliver(0, Input::Runners { available: !start });
                }
            }
            // A pipeline has no long-running process to crash.
            Fault::ReconcilerCrash { .. } if core.kind == ModelKind::Push => {}
            Fault::ReconcilerCrash { .. } => {
                for &c in &clusters {
                    if start {
                        let faults = &mut self.core_mut().faults;
                        faults.crashed[c as usize] = true;
                        faults.epochs[c as usize] = faults.epochs[c as usize].wrapping_add(1);
                    } else {
                        self.core_mut().faults.crashed[c as usize] = false;
                        let live = self.live_specs(c);
                        self.deliver(c, Input::Restart { live });
                    }
                }
            }
            Fault::ClusterLoss { cluster, .. } => {
                core.faults.lost[*cluster as usize] = start;
                if !start {
                    core.tracker.restore_started(*cluster, now);
                }
            }
            // Effects of the world alone (`fault_effect`), or events of their own (drift
            // and bad releases are planned as such, not as windows).
            Fault::ApiBrownout { .. } | Fault::Drift { .. } | Fault::BadRelease { .. } => {}
        }
        self.fault_effect(i, &clusters, start);
        // A watching reconciler re-lists the rebuilt cluster and finds every app missing;
        // a diffing one finds out at its next interval.
        if let Fault::ClusterLoss { cluster, .. } = f
            && !start
            && self
                .core()
                .setup
                .pull()
                .is_some_and(|p| p.drift_detection == DriftDetection::Watch)
        {
            for app in 0..s.apps() {
                self.deliver(*cluster, Input::LiveChanged { app });
            }
        }
    }
}
