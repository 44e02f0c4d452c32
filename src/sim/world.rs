//! The sim world: executes a delivery model's actions against simulated git and
//! clusters in virtual time, and feeds it the inputs that follow. One world runs one
//! model for one repetition; the plan (commits, faults) is shared by both models.
//!
//! Faults act here, on the world, never inside a model: a git outage fails fetches and
//! drops webhooks, a partition fails traffic across its cut, a brownout slows and fails
//! API requests, a crash silences a reconciler (its timers and acknowledgements are
//! dropped by epoch) and restarts it empty, a runner outage takes the runners away, a
//! cluster loss wipes a cluster and brings it back empty.

use super::cluster::{Deployment, old_pods_left_after, rolling_update_time, scale_up_time};
use super::git::GitHost;
use super::queue::EventQueue;
use crate::measure::RunRecord;
use crate::measure::track::{CommitKind, Tracker};
use crate::metric::ModelKind;
use crate::model::pull::Reconciler;
use crate::model::push::Pipeline;
use crate::model::{Action, AppId, Apply, ClusterId, Input, Model, NoteKind, Rev, SpecId, Timer};
use crate::plan::{Component, Plan, rng};
use crate::release::{Releases, Rollback};
use crate::scenario::{Cut, DriftChange, DriftDetection, Fault, Nanos, Scenario};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug)]
enum Ev {
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
    ApplyDone {
        slot: u32,
    },
    RolloutEnd {
        cluster: ClusterId,
        app: AppId,
        generation: u32,
    },
    Webhook {
        cluster: ClusterId,
        app: AppId,
    },
}

enum Models {
    Push(Box<Pipeline>),
    Pull(Vec<Reconciler>),
}

/// Which faults are in force now. Counters, so overlapping windows of one kind nest.
struct FaultState {
    git_down: u32,
    cuts: [u32; 4],
    /// Active brownouts (indices into the scenario's faults).
    brownouts: Vec<u32>,
    runners_down: u32,
    /// Per model target (cluster for pull): crashed, and the instance's epoch.
    crashed: Vec<bool>,
    epochs: Vec<u32>,
    /// Per cluster: wiped and not yet rebuilt.
    lost: Vec<bool>,
    api_rng: ChaCha8Rng,
}

pub struct World<'a> {
    s: &'a Scenario,
    plan: &'a Plan,
    kind: ModelKind,
    now: Nanos,
    queue: EventQueue<Ev>,
    git: GitHost,
    deployments: Vec<Deployment>,
    models: Models,
    tracker: Tracker,
    rollout_rngs: Vec<ChaCha8Rng>,
    webhook_rng: ChaCha8Rng,
    /// Applies in flight, with the epoch of the model instance that sent them.
    applies: Vec<Option<(Apply, u32)>>,
    free_slots: Vec<u32>,
    releases: Releases,
    drift_images: u32,
    processed: u64,
    faults: FaultState,
    replicas: u32,
    surge: u32,
    unavailable: u32,
}

impl<'a> World<'a> {
    pub fn new(s: &'a Scenario, plan: &'a Plan, kind: ModelKind, repetition: u32) -> World<'a> {
        let clusters = s.clusters();
        let apps = s.apps();
        let replicas = s.fleet.replicas.get();
        let git = GitHost::new(apps);
        let deployments = (0..clusters)
            .flat_map(|_| (0..apps).map(|a| Deployment::healthy(a, a, replicas)))
            .collect();
        let initial: Vec<SpecId> = git.head.clone();
        let models = match kind {
            ModelKind::Push => Models::Push(Box::new(Pipeline::new(
                s.models.push.clone(),
                clusters,
                &initial,
                rng(s.seed, repetition, Component::Push),
            ))),
            ModelKind::Pull => Models::Pull(
                (0..clusters)
                    .map(|c| {
                        Reconciler::new(
                            s.models.pull.clone(),
                            c,
                            &initial,
                            rng(s.seed, repetition, Component::Pull { cluster: c }),
                        )
                    })
                    .collect(),
            ),
        };
        let mut tracker = Tracker::new(clusters, apps, kind == ModelKind::Push);
        // Per-deployment timeline lines are kept while the timeline stays readable.
        tracker.detailed_events = (clusters as u64 * apps as u64) <= 5_000;
        let mut w = World {
            s,
            plan,
            kind,
            now: 0,
            queue: EventQueue::default(),
            git,
            deployments,
            models,
            tracker,
            rollout_rngs: (0..clusters)
                .map(|c| rng(s.seed, repetition, Component::Rollout { cluster: c }))
                .collect(),
            webhook_rng: rng(s.seed, repetition, Component::Webhook),
            applies: Vec::new(),
            free_slots: Vec::new(),
            releases: Releases::new(plan, apps),
            drift_images: 0,
            processed: 0,
            faults: FaultState {
                git_down: 0,
                cuts: [0; 4],
                brownouts: Vec::new(),
                runners_down: 0,
                crashed: vec![false; clusters as usize],
                epochs: vec![0; clusters as usize],
                lost: vec![false; clusters as usize],
                api_rng: rng(s.seed, repetition, Component::Api),
            },
            replicas,
            surge: s.fleet.rollout.max_surge.resolve(replicas, true),
            unavailable: s.fleet.rollout.max_unavailable.resolve(replicas, false),
        };
        for (i, c) in plan.commits.iter().enumerate() {
            w.queue.push(c.at, Ev::Commit(i as u32));
        }
        for (i, d) in plan.drifts.iter().enumerate() {
            w.queue.push(d.at, Ev::Drift(i as u32));
        }
        for (i, b) in plan.bad_releases.iter().enumerate() {
            w.queue.push(b.at, Ev::BadRelease(i as u32));
        }
        for (i, win) in plan.windows.iter().enumerate() {
            w.queue.push(win.start, Ev::FaultStart(i as u32));
            w.queue.push(win.end, Ev::FaultEnd(i as u32));
        }
        // The models' start-up actions (first polls, scheduled jobs).
        for target in 0..w.targets() {
            w.pump(target);
        }
        w
    }

    fn targets(&self) -> u32 {
        match &self.models {
            Models::Push(_) => 1,
            Models::Pull(r) => r.len() as u32,
        }
    }

    fn model(&mut self, target: u32) -> &mut dyn Model {
        match &mut self.models {
            Models::Push(p) => p.as_mut(),
            Models::Pull(r) => &mut r[target as usize],
        }
    }

    /// Runs to the horizon and returns what was measured.
    pub fn run(mut self) -> RunRecord {
        let horizon = self.s.duration.0;
        while let Some((t, ev)) = self.queue.pop_until(horizon) {
            self.now = t;
            self.processed += 1;
            self.dispatch(ev);
        }
        self.tracker.finish(self.processed)
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Timer {
                target,
                epoch,
                timer,
            } => {
                if self.faults.epochs[target as usize] == epoch {
                    self.deliver(target, Input::Timer(timer));
                }
            }
            Ev::FaultStart(i) => self.fault_start(i),
            Ev::FaultEnd(i) => self.fault_end(i),
            Ev::Commit(i) => self.workload_commit(i),
            Ev::Drift(i) => self.drift(i),
            Ev::BadRelease(i) => self.bad_release(i),
            Ev::RollbackDecision(i) => self.rollback_decision(i),
            Ev::ApplyDone { slot } => self.apply_done(slot),
            Ev::RolloutEnd {
                cluster,
                app,
                generation,
            } => self.rollout_end(cluster, app, generation),
            Ev::Webhook { cluster, app } => self.deliver(cluster, Input::Webhook { app }),
        }
    }

    fn deliver(&mut self, target: u32, input: Input) {
        if self.faults.crashed[target as usize] {
            return;
        }
        let now = self.now;
        self.model(target).handle(now, input);
        self.pump(target);
    }

    fn pump(&mut self, target: u32) {
        while let Some(action) = self.model(target).poll_action() {
            self.execute(target, action);
        }
    }

    fn execute(&mut self, target: u32, action: Action) {
        match action {
            Action::SetTimer { at, timer } => {
                let epoch = self.faults.epochs[target as usize];
                self.queue.push(
                    at.max(self.now),
                    Ev::Timer {
                        target,
                        epoch,
                        timer,
                    },
                )
            }
            Action::Fetch { app, .. } => {
                self.tracker.counters().git_fetches += 1;
                if self.git_reachable() {
                    let spec = self.git.head[app as usize];
                    self.deliver(target, Input::Fetched { app, spec });
                } else {
                    self.deliver(target, Input::FetchFailed { app });
                }
            }
            Action::Checkout { run, rev } => {
                self.tracker.counters().git_fetches += 1;
                if self.git_reachable() {
                    let rev = rev.unwrap_or_else(|| self.git.head_rev());
                    let tree = self.git.trees[rev as usize].clone();
                    self.deliver(target, Input::CheckedOut { run, rev, tree });
                } else {
                    self.deliver(target, Input::CheckoutFailed { run });
                }
            }
            Action::Diff { cluster, app, spec } => {
                self.tracker.counters().api_requests += 1;
                let in_sync = if self.api_request_fails(cluster) {
                    self.tracker.counters().apply_errors += 1;
                    None
                } else {
                    Some(self.in_sync(cluster, app, spec))
                };
                self.deliver(target, Input::Diffed { app, in_sync });
            }
            Action::Apply(apply) => {
                self.tracker.counters().api_requests += apply.items.len() as u64;
                let at = self.now + apply.duration + self.brownout_latency(apply.cluster);
                let epoch = self.faults.epochs[target as usize];
                let slot = match self.free_slots.pop() {
                    Some(s) => {
                        self.applies[s as usize] = Some((apply, epoch));
                        s
                    }
                    None => {
                        self.applies.push(Some((apply, epoch)));
                        (self.applies.len() - 1) as u32
                    }
                };
                self.queue.push(at, Ev::ApplyDone { slot });
            }
            Action::Note(n) => {
                let detail = match n.kind {
                    NoteKind::SyncStarted | NoteKind::Degraded => {
                        format!("rev={}", self.git.spec(n.detail as SpecId).rev)
                    }
                    NoteKind::SelfHealScheduled => format!("backoff_ms={}", n.detail),
                    _ => format!("run={}", n.detail),
                };
                let cluster = n.cluster;
                if self.tracker.detailed_events || !matches!(n.kind, NoteKind::SyncStarted) {
                    self.tracker
                        .event(self.now, cluster, n.app, n.kind.name(), detail);
                }
            }
        }
    }

    fn idx(&self, cluster: ClusterId, app: AppId) -> usize {
        cluster as usize * self.s.apps() as usize + app as usize
    }

    // ------------------------------------------------------------ commits

    /// Tells the model about a new commit (push: the trigger; pull: webhooks). The git
    /// host sends both as webhooks: during a git outage they are lost.
    fn announce(&mut self, rev: Rev, apps: &[AppId]) {
        match self.kind {
            ModelKind::Push => {
                if self.faults.git_down > 0 {
                    self.tracker
                        .event(self.now, None, None, "webhook_lost", format!("rev={rev}"));
                } else {
                    self.deliver(0, Input::Commit { rev });
                }
            }
            ModelKind::Pull => {
                let Some(hook) = self.s.models.pull.webhook.clone() else {
                    return;
                };
                if !self.git_reachable() {
                    self.tracker
                        .event(self.now, None, None, "webhook_lost", format!("rev={rev}"));
                    return;
                }
                for c in 0..self.s.clusters() {
                    for &app in apps {
                        if self.webhook_rng.random::<f64>() < hook.loss.0 {
                            continue;
                        }
                        let delay = hook.delay.sample(&mut self.webhook_rng);
                        self.queue
                            .push(self.now + delay, Ev::Webhook { cluster: c, app });
                    }
                }
            }
        }
    }

    fn workload_commit(&mut self, i: u32) {
        let apps = self
            .releases
            .commit_apps(&self.plan.commits[i as usize].apps);
        if apps.is_empty() {
            self.tracker.event(
                self.now,
                None,
                None,
                "commit_held",
                "every app it changes is frozen".into(),
            );
            return;
        }
        let changes: Vec<_> = apps.iter().map(|&a| (a, None, false)).collect();
        let rev = self.git.commit(&changes);
        self.tracker
            .commit(rev, self.now, &apps, CommitKind::Normal);
        self.announce(rev, &apps);
    }

    fn bad_release(&mut self, i: u32) {
        let Some(app) = self.releases.app_for(i as usize) else {
            self.tracker.event(
                self.now,
                None,
                None,
                "bad_release_held",
                "every app is frozen".into(),
            );
            return;
        };
        let good = self.git.spec(self.git.head[app as usize]);
        let rev = self.git.commit(&[(app, None, true)]);
        let spec = self.git.head[app as usize];
        self.releases
            .shipped(i as usize, rev, app, good.image, spec);
        self.tracker.commit(rev, self.now, &[app], CommitKind::Bad);
        self.tracker.note_bad_release(rev, self.now);
        self.announce(rev, &[app]);
    }

    fn rollback_decision(&mut self, i: u32) {
        let Some(Rollback {
            bad_rev,
            app,
            good_image,
        }) = self.releases.decide_rollback(i as usize)
        else {
            return;
        };
        let rev = self.git.commit(&[(app, Some(good_image), false)]);
        self.tracker.event(
            self.now,
            None,
            Some(app),
            "rollback_decided",
            format!("bad={bad_rev} revert={rev}"),
        );
        self.tracker.commit(
            rev,
            self.now,
            &[app],
            CommitKind::Revert {
                bad: bad_rev,
                decided_at: self.now,
            },
        );
        self.announce(rev, &[app]);
    }

    // ------------------------------------------------------------ cluster

    fn apply_done(&mut self, slot: u32) {
        let (apply, epoch) = self.applies[slot as usize]
            .take()
            .expect("an apply completes once");
        self.free_slots.push(slot);
        let cluster = apply.cluster;
        let target = self.target_of(cluster);
        let current = self.faults.epochs[target as usize] == epoch;
        if self.api_request_fails(cluster) {
            self.tracker.counters().apply_errors += apply.items.len() as u64;
            self.tracker.event(
                self.now,
                Some(cluster),
                None,
                "apply_error",
                format!("apps={}", apply.items.len()),
            );
            if current {
                self.deliver(
                    target,
                    Input::Applied {
                        op: apply.op,
                        ok: false,
                    },
                );
            }
            return;
        }
        let mut immediate: Vec<(AppId, bool)> = Vec::new();
        for &(app, spec) in apply.items.iter() {
            if let Some(done) = self.apply_one(cluster, app, spec) {
                immediate.push((app, done));
            }
            let rev = self.git.spec(spec).rev;
            self.tracker
                .applied(cluster, app, rev, apply.trace, self.now);
        }
        if current {
            self.deliver(
                target,
                Input::Applied {
                    op: apply.op,
                    ok: true,
                },
            );
        }
        for (app, ok) in immediate {
            if ok {
                self.rolled_out(cluster, app);
            } else {
                let spec = self.deployments[self.idx(cluster, app)].spec;
                self.deliver(
                    target,
                    Input::RolloutFinished {
                        cluster,
                        app,
                        spec,
                        ok: false,
                    },
                );
            }
        }
    }

    fn target_of(&self, cluster: ClusterId) -> u32 {
        match self.kind {
            ModelKind::Push => 0,
            ModelKind::Pull => cluster,
        }
    }

    /// Server-side apply of one manifest. Returns `Some(ok)` when the outcome is known at
    /// once (nothing to roll out, or an already failed rollout).
    fn apply_one(&mut self, cluster: ClusterId, app: AppId, spec: SpecId) -> Option<bool> {
        let sp = self.git.spec(spec);
        let i = self.idx(cluster, app);
        let replicas = self.replicas;
        let d = &mut self.deployments[i];
        let template_change = !d.exists || d.image != sp.image || d.env_drift;
        let was_exists = d.exists;
        let prev_replicas = d.replicas;
        // Putting back a template a hand edit replaced moments ago finds some of its pods
        // still running, as Kubernetes scales the old ReplicaSet back up.
        let reverted_from = d
            .replaced
            .take()
            .filter(|&(_, image)| image == sp.image && template_change && was_exists);
        d.exists = true;
        d.spec = spec;
        d.image = sp.image;
        d.env_drift = false;
        d.replicas = replicas;
        if template_change || (!d.rolled && !d.rolling && !d.failed) {
            let old_ready = if was_exists && d.rolled {
                prev_replicas.min(replicas)
            } else if was_exists {
                replicas
            } else {
                0
            };
            let (old_ready, new_ready) = match reverted_from {
                Some((t0, _)) => {
                    let rollout = &self.s.fleet.rollout;
                    let r = &mut self.rollout_rngs[cluster as usize];
                    let elapsed = self.now.saturating_sub(t0);
                    let kept = old_pods_left_after(
                        replicas,
                        self.surge,
                        self.unavailable,
                        elapsed,
                        &rollout.pod_start,
                        r,
                    );
                    (replicas - kept, kept)
                }
                None => (old_ready, 0),
            };
            self.start_rollout(cluster, app, old_ready, new_ready, None);
            None
        } else if d.rolling {
            None
        } else if d.failed {
            Some(false)
        } else if prev_replicas < replicas {
            let n = replicas - prev_replicas;
            self.start_rollout(cluster, app, 0, 0, Some(n));
            None
        } else {
            Some(true)
        }
    }

    /// Starts a rollout (or a scale-up of `scale_up` pods) and schedules its end.
    fn start_rollout(
        &mut self,
        cluster: ClusterId,
        app: AppId,
        old_ready: u32,
        new_ready: u32,
        scale_up: Option<u32>,
    ) {
        let i = self.idx(cluster, app);
        let broken = self.git.spec(self.deployments[i].spec).broken;
        let rollout = &self.s.fleet.rollout;
        let r = &mut self.rollout_rngs[cluster as usize];
        let took = if broken {
            rollout.progress_deadline.0
        } else if let Some(n) = scale_up {
            scale_up_time(n, &rollout.pod_start, r)
        } else {
            rolling_update_time(
                self.replicas,
                self.surge,
                self.unavailable,
                old_ready,
                new_ready,
                &rollout.pod_start,
                r,
            )
        };
        let d = &mut self.deployments[i];
        d.generation += 1;
        d.rolling = true;
        d.rolled = false;
        d.failed = false;
        let generation = d.generation;
        self.queue.push(
            self.now + took,
            Ev::RolloutEnd {
                cluster,
                app,
                generation,
            },
        );
    }

    fn rollout_end(&mut self, cluster: ClusterId, app: AppId, generation: u32) {
        let i = self.idx(cluster, app);
        let d = &mut self.deployments[i];
        if d.generation != generation || !d.rolling {
            return;
        }
        d.rolling = false;
        let spec = d.spec;
        let sp = self.git.spec(spec);
        if sp.broken {
            d.failed = true;
            self.tracker.rollout_failed(cluster, app, sp.rev, self.now);
            self.detect_bad_release(spec);
            let target = self.target_of(cluster);
            self.deliver(
                target,
                Input::RolloutFinished {
                    cluster,
                    app,
                    spec,
                    ok: false,
                },
            );
        } else {
            d.rolled = true;
            self.rolled_out(cluster, app);
        }
    }

    fn rolled_out(&mut self, cluster: ClusterId, app: AppId) {
        let spec = self.deployments[self.idx(cluster, app)].spec;
        let rev = self.git.spec(spec).rev;
        self.tracker.rolled_out(cluster, app, rev, self.now);
        let d = &self.deployments[self.idx(cluster, app)];
        if d.replicas == self.replicas && !d.env_drift && d.image == self.git.spec(spec).image {
            self.tracker.converged(cluster, app, self.now);
        }
        let target = self.target_of(cluster);
        self.deliver(
            target,
            Input::RolloutFinished {
                cluster,
                app,
                spec,
                ok: true,
            },
        );
    }

    fn detect_bad_release(&mut self, spec: SpecId) {
        let Some((i, app, rev, after)) = self.releases.detected(spec) else {
            return;
        };
        self.tracker.event(
            self.now,
            None,
            Some(app),
            "bad_release_detected",
            format!("rev={rev}"),
        );
        self.queue
            .push(self.now + after, Ev::RollbackDecision(i as u32));
    }

    // ------------------------------------------------------------ drift

    fn drift(&mut self, i: u32) {
        let d = &self.plan.drifts[i as usize];
        let (cluster, app, change, scale_to) = (d.cluster, d.app, d.change, d.scale_to);
        let idx = self.idx(cluster, app);
        let dep = &mut self.deployments[idx];
        if !dep.exists {
            // Nothing to edit: the Deployment is gone (deleted by an earlier drift).
            self.tracker.event(
                self.now,
                Some(cluster),
                Some(app),
                "drift_skipped",
                change.name().into(),
            );
            return;
        }
        match change {
            DriftChange::Scale => {
                if dep.replicas == scale_to {
                    return;
                }
                // A scale does not touch the pod template: a rollout under way goes on
                // (and completes at the new count), only the replica count drifts.
                dep.replicas = scale_to;
                self.tracker.drift(cluster, app, self.now, change.name());
                if self.kind == ModelKind::Pull {
                    self.deliver(cluster, Input::LiveChanged { app });
                }
                return;
            }
            DriftChange::Image => {
                if dep.rolled && !dep.env_drift {
                    dep.replaced = Some((self.now, dep.image));
                }
                self.drift_images += 1;
                dep.image = u32::MAX - self.drift_images;
            }
            DriftChange::Env => {
                if dep.rolled && !dep.env_drift {
                    dep.replaced = Some((self.now, dep.image));
                }
                dep.env_drift = true;
            }
            DriftChange::Delete => dep.exists = false,
        }
        self.tracker.drift(cluster, app, self.now, change.name());
        self.interrupt(cluster, app);
        if self.kind == ModelKind::Pull {
            self.deliver(cluster, Input::LiveChanged { app });
        }
    }

    /// The pod template changed or the Deployment vanished under a rollout: whoever
    /// waits on that rollout (`kubectl rollout status`) sees it fail.
    fn interrupt(&mut self, cluster: ClusterId, app: AppId) {
        let i = self.idx(cluster, app);
        let d = &mut self.deployments[i];
        let was_rolling = d.rolling;
        d.rolling = false;
        d.rolled = false;
        d.failed = false;
        d.generation += 1;
        if was_rolling {
            let spec = d.spec;
            let target = self.target_of(cluster);
            self.deliver(
                target,
                Input::RolloutFinished {
                    cluster,
                    app,
                    spec,
                    ok: false,
                },
            );
        }
    }
}

// ------------------------------------------------------------ faults

impl World<'_> {
    fn git_reachable(&self) -> bool {
        let f = &self.faults;
        let cut = match self.kind {
            ModelKind::Push => Cut::PipelineGit,
            ModelKind::Pull => Cut::ReconcilerGit,
        };
        f.git_down == 0 && f.cuts[cut.index()] == 0
    }

    /// Whether a request from the model to `cluster`'s API fails now: the cluster is
    /// lost, a partition cuts the model off from it, or a brownout fails it.
    fn api_request_fails(&mut self, cluster: ClusterId) -> bool {
        let cut = match self.kind {
            ModelKind::Push => Cut::PipelineCluster,
            ModelKind::Pull => Cut::ReconcilerCluster,
        };
        if self.faults.lost[cluster as usize] || self.faults.cuts[cut.index()] > 0 {
            return true;
        }
        let mut fails = false;
        for &i in &self.faults.brownouts {
            if let Fault::ApiBrownout {
                error_rate,
                cluster: only,
                ..
            } = &self.s.faults[i as usize]
                && only.is_none_or(|c| c == cluster)
                && self.faults.api_rng.random::<f64>() < error_rate.0
            {
                fails = true;
            }
        }
        fails
    }

    /// Extra latency the brownouts in force add to a request to `cluster`.
    fn brownout_latency(&mut self, cluster: ClusterId) -> Nanos {
        let mut extra = 0;
        for &i in &self.faults.brownouts {
            if let Fault::ApiBrownout {
                latency,
                cluster: only,
                ..
            } = &self.s.faults[i as usize]
                && only.is_none_or(|c| c == cluster)
            {
                extra += latency.sample(&mut self.faults.api_rng);
            }
        }
        extra
    }

    /// Whether an app's live objects equal the manifest `spec` (a server-side dry run).
    fn in_sync(&self, cluster: ClusterId, app: AppId, spec: SpecId) -> bool {
        let d = &self.deployments[self.idx(cluster, app)];
        d.exists
            && !d.env_drift
            && d.replicas == self.replicas
            && d.image == self.git.spec(spec).image
    }

    /// The clusters a fault touches.
    fn fault_clusters(&self, f: &Fault) -> Vec<ClusterId> {
        match f.cluster() {
            Some(c) => vec![c],
            None => (0..self.s.clusters()).collect(),
        }
    }

    fn fault_start(&mut self, w: u32) {
        let i = self.plan.windows[w as usize].fault;
        let s = self.s;
        let f = &s.faults[i as usize];
        self.tracker.event(
            self.now,
            f.cluster(),
            None,
            "fault_start",
            f.kind().to_string(),
        );
        match f {
            Fault::GitOutage { .. } => self.faults.git_down += 1,
            Fault::Partition { between, .. } => self.faults.cuts[between.index()] += 1,
            Fault::ApiBrownout { .. } => self.faults.brownouts.push(i),
            Fault::RunnerOutage { .. } => {
                self.faults.runners_down += 1;
                if self.kind == ModelKind::Push && self.faults.runners_down == 1 {
                    self.deliver(0, Input::Runners { available: false });
                }
            }
            Fault::ReconcilerCrash { .. } => {
                if self.kind == ModelKind::Pull {
                    for c in self.fault_clusters(f) {
                        self.faults.crashed[c as usize] = true;
                        self.faults.epochs[c as usize] += 1;
                    }
                }
            }
            Fault::ClusterLoss { cluster, .. } => {
                let c = *cluster;
                self.faults.lost[c as usize] = true;
                for app in 0..s.apps() {
                    let i = self.idx(c, app);
                    self.deployments[i].exists = false;
                    self.interrupt(c, app);
                }
            }
            Fault::Drift { .. } | Fault::BadRelease { .. } => {}
        }
    }

    fn fault_end(&mut self, w: u32) {
        let i = self.plan.windows[w as usize].fault;
        let s = self.s;
        let f = &s.faults[i as usize];
        self.tracker.event(
            self.now,
            f.cluster(),
            None,
            "fault_end",
            f.kind().to_string(),
        );
        match f {
            Fault::GitOutage { .. } => self.faults.git_down -= 1,
            Fault::Partition { between, .. } => self.faults.cuts[between.index()] -= 1,
            Fault::ApiBrownout { .. } => {
                if let Some(p) = self.faults.brownouts.iter().position(|&b| b == i) {
                    self.faults.brownouts.remove(p);
                }
            }
            Fault::RunnerOutage { .. } => {
                self.faults.runners_down -= 1;
                if self.kind == ModelKind::Push && self.faults.runners_down == 0 {
                    self.deliver(0, Input::Runners { available: true });
                }
            }
            Fault::ReconcilerCrash { .. } => {
                if self.kind == ModelKind::Pull {
                    for c in self.fault_clusters(f) {
                        self.faults.crashed[c as usize] = false;
                        let base = self.idx(c, 0);
                        let live: Vec<SpecId> = (0..s.apps() as usize)
                            .map(|a| self.deployments[base + a].spec)
                            .collect();
                        self.deliver(c, Input::Restart { live: live.into() });
                    }
                }
            }
            Fault::ClusterLoss { cluster, .. } => {
                let c = *cluster;
                self.faults.lost[c as usize] = false;
                self.tracker.restore_started(c, self.now);
                // A watching reconciler re-lists the rebuilt cluster and finds every app
                // missing; a diffing one finds out at its next interval.
                if self.kind == ModelKind::Pull
                    && s.models.pull.drift_detection == DriftDetection::Watch
                {
                    for app in 0..s.apps() {
                        self.deliver(c, Input::LiveChanged { app });
                    }
                }
            }
            Fault::Drift { .. } | Fault::BadRelease { .. } => {}
        }
    }
}
