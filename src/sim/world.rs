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
use super::queue::EventQueue;
use crate::measure::RunRecord;
use crate::metric::ModelKind;
use crate::model::{AppId, Apply, ClusterId, Input, Rev, SpecId};
use crate::plan::{Component, Plan, rng};
use crate::scenario::{DriftChange, Fault, Nanos, Scenario, Setup};
use crate::sim::NEVER;
use crate::world::{Core, Ev, GitWrite, Shell};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub struct World<'a> {
    core: Core<'a>,
    now: Nanos,
    queue: EventQueue<Ev>,
    deployments: Vec<Deployment>,
    rollout_rngs: Vec<ChaCha8Rng>,
    /// Applies in flight, with the epoch of the model instance that sent them.
    applies: Vec<Option<(Apply, u32)>>,
    free_slots: Vec<u32>,
    drift_images: u32,
    /// Active brownouts (indices into the scenario's faults), and the draws they make.
    brownouts: Vec<u32>,
    api_rng: ChaCha8Rng,
    /// Per app: replicas, maxSurge and maxUnavailable resolved (its app group's).
    shapes: Vec<Shape>,
}

#[derive(Clone, Copy)]
struct Shape {
    replicas: u32,
    surge: u32,
    unavailable: u32,
}

impl<'a> World<'a> {
    pub fn new(s: &'a Scenario, plan: &'a Plan, setup: &'a Setup, repetition: u32) -> World<'a> {
        let clusters = s.clusters();
        let apps = s.apps();
        let shapes: Vec<Shape> = (0..apps)
            .map(|a| {
                let (replicas, rollout) = (s.fleet.replicas_of(a), s.fleet.rollout_of(a));
                let (surge, unavailable) = rollout.fenceposts(replicas);
                Shape {
                    replicas,
                    surge,
                    unavailable,
                }
            })
            .collect();
        let deployments = (0..clusters)
            .flat_map(|_| (0..apps).map(|a| Deployment::healthy(a, a, shapes[a as usize].replicas)))
            .collect();
        let mut core = Core::new(s, plan, setup, repetition, true);
        // Per-deployment timeline lines are kept while the timeline stays readable.
        core.tracker.detailed_events = (clusters as u64 * apps as u64) <= 5_000;
        let mut w = World {
            core,
            now: 0,
            queue: EventQueue::default(),
            deployments,
            rollout_rngs: (0..clusters)
                .map(|c| rng(s.seed, repetition, Component::Rollout { cluster: c }))
                .collect(),
            applies: Vec::new(),
            free_slots: Vec::new(),
            drift_images: 0,
            brownouts: Vec::new(),
            api_rng: rng(s.seed, repetition, Component::Api),
            shapes,
        };
        w.start();
        w
    }

    /// Runs to the horizon and returns what was measured.
    pub fn run(mut self) -> RunRecord {
        // Times saturate at `NEVER`: what is due then never happens, even in a run that
        // lasts to the last nanosecond.
        let horizon = self.core.s.duration.0.min(NEVER - 1);
        while let Some((t, ev)) = self.queue.pop_until(horizon) {
            self.now = t;
            self.core.processed += 1;
            match self.dispatch_shared(ev) {
                None => {}
                Some(Ev::Drift(i)) => self.drift(i),
                Some(Ev::ApplyDone { slot }) => self.apply_done(slot),
                Some(Ev::RolloutEnd {
                    cluster,
                    app,
                    generation,
                }) => self.rollout_end(cluster, app, generation),
                Some(other) => unreachable!("handled by the shared dispatch: {other:?}"),
            }
        }
        self.core.count_hub_requests();
        self.core.tracker.finish(horizon, self.core.processed)
    }
}

impl<'a> Shell<'a> for World<'a> {
    fn core(&self) -> &Core<'a> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<'a> {
        &mut self.core
    }

    fn now(&self) -> Nanos {
        self.now
    }

    fn schedule(&mut self, at: Nanos, ev: Ev) {
        self.queue.push(at, ev);
    }

    fn write_git(&mut self, changes: &[(AppId, Option<u32>, bool)], _: GitWrite) -> Option<Rev> {
        Some(self.core.git.commit(changes))
    }

    fn live_spec(&self, cluster: ClusterId, app: AppId) -> SpecId {
        self.deployments[self.core.idx(cluster, app)].spec
    }

    fn fault_effect(&mut self, fault: u32, _: &[ClusterId], start: bool) {
        let s = self.core.s;
        match &s.faults[fault as usize] {
            Fault::ApiBrownout { .. } => {
                if start {
                    self.brownouts.push(fault);
                } else if let Some(p) = self.brownouts.iter().position(|&b| b == fault) {
                    self.brownouts.remove(p);
                }
            }
            Fault::ClusterLoss { cluster, .. } if start => {
                let c = *cluster;
                for app in 0..s.apps() {
                    let i = self.core.idx(c, app);
                    self.deployments[i].exists = false;
                    self.interrupt(c, app);
                }
            }
            // A rebuilt cluster comes back empty: the deployments stay missing until a
            // model applies them again.
            Fault::ClusterLoss { .. } => {}
            // The core's bookkeeping is all these do in the sim.
            Fault::GitOutage { .. }
            | Fault::Partition { .. }
            | Fault::RunnerOutage { .. }
            | Fault::ReconcilerCrash { .. }
            | Fault::Drift { .. }
            | Fault::BadRelease { .. } => {}
        }
    }

    fn git_read(&mut self, _: Rev) -> bool {
        true
    }

    fn diff(
        &mut self,
        _: u32,
        cluster: ClusterId,
        app: AppId,
        spec: SpecId,
    ) -> Option<Option<bool>> {
        Some(if self.api_request_fails(cluster) {
            self.core.tracker.counters().apply_errors += 1;
            None
        } else {
            Some(self.in_sync(cluster, app, spec))
        })
    }

    fn start_apply(&mut self, target: u32, apply: Apply) {
        let at = self
            .now
            .saturating_add(apply.duration)
            .saturating_add(self.brownout_latency(apply.cluster));
        let epoch = self.core.faults.epochs[target as usize];
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
}

impl World<'_> {
    // ------------------------------------------------------------ cluster

    fn apply_done(&mut self, slot: u32) {
        let (apply, epoch) = self.applies[slot as usize]
            .take()
            .expect("an apply completes once");
        self.free_slots.push(slot);
        let cluster = apply.cluster;
        let target = self.core.target_of(cluster);
        let current = self.core.current(target, epoch);
        if self.api_request_fails(cluster) {
            self.apply_failed(&apply, current);
            return;
        }
        let mut immediate: Vec<(AppId, bool)> = Vec::new();
        for &(app, spec) in apply.items.iter() {
            if let Some(done) = self.apply_one(cluster, app, spec) {
                immediate.push((app, done));
            }
            let rev = self.core.git.spec(spec).rev;
            self.core
                .tracker
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
                let spec = self.deployments[self.core.idx(cluster, app)].spec;
                self.rollout_finished(cluster, app, spec, false);
            }
        }
    }

    /// Server-side apply of one manifest. Returns `Some(ok)` when the outcome is known at
    /// once (nothing to roll out, or an already failed rollout).
    fn apply_one(&mut self, cluster: ClusterId, app: AppId, spec: SpecId) -> Option<bool> {
        let sp = self.core.git.spec(spec);
        let i = self.core.idx(cluster, app);
        let shape = self.shapes[app as usize];
        let replicas = shape.replicas;
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
                    let rollout = self.core.s.fleet.rollout_of(app);
                    let r = &mut self.rollout_rngs[cluster as usize];
                    let elapsed = self.now.saturating_sub(t0);
                    let kept = old_pods_left_after(
                        replicas,
                        shape.surge,
                        shape.unavailable,
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
        let i = self.core.idx(cluster, app);
        let broken = self.core.git.spec(self.deployments[i].spec).broken;
        let rollout = self.core.s.fleet.rollout_of(app);
        let shape = self.shapes[app as usize];
        let r = &mut self.rollout_rngs[cluster as usize];
        let took = if broken {
            rollout.progress_deadline.0
        } else if let Some(n) = scale_up {
            scale_up_time(n, &rollout.pod_start, r)
        } else {
            rolling_update_time(
                shape.replicas,
                shape.surge,
                shape.unavailable,
                old_ready,
                new_ready,
                &rollout.pod_start,
                r,
            )
        };
        let d = &mut self.deployments[i];
        d.generation = d.generation.wrapping_add(1);
        d.rolling = true;
        d.rolled = false;
        d.failed = false;
        let generation = d.generation;
        self.queue.push(
            self.now.saturating_add(took),
            Ev::RolloutEnd {
                cluster,
                app,
                generation,
            },
        );
    }

    fn rollout_end(&mut self, cluster: ClusterId, app: AppId, generation: u32) {
        let i = self.core.idx(cluster, app);
        let d = &mut self.deployments[i];
        if d.generation != generation || !d.rolling {
            return;
        }
        d.rolling = false;
        let spec = d.spec;
        let sp = self.core.git.spec(spec);
        if sp.broken {
            d.failed = true;
            self.core
                .tracker
                .rollout_failed(cluster, app, sp.rev, self.now);
            self.detect_bad_release(spec, self.now);
            self.rollout_finished(cluster, app, spec, false);
        } else {
            d.rolled = true;
            self.rolled_out(cluster, app);
        }
    }

    fn rolled_out(&mut self, cluster: ClusterId, app: AppId) {
        let spec = self.deployments[self.core.idx(cluster, app)].spec;
        let rev = self.core.git.spec(spec).rev;
        self.core.tracker.rolled_out(cluster, app, rev, self.now);
        let d = &self.deployments[self.core.idx(cluster, app)];
        if d.replicas == self.shapes[app as usize].replicas
            && !d.env_drift
            && d.image == self.core.git.spec(spec).image
        {
            self.core.tracker.converged(cluster, app, self.now);
        }
        self.rollout_finished(cluster, app, spec, true);
    }

    // ------------------------------------------------------------ drift

    fn drift(&mut self, i: u32) {
        let d = &self.core.plan.drifts[i as usize];
        let (cluster, app, change, scale_to) = (d.cluster, d.app, d.change, d.scale_to);
        let idx = self.core.idx(cluster, app);
        let dep = &mut self.deployments[idx];
        if !dep.exists {
            // Nothing to edit: the Deployment is gone (deleted by an earlier drift).
            self.core.tracker.event(
                self.now,
                Some(cluster),
                Some(app),
                crate::measure::EventKind::DriftSkipped,
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
                self.core
                    .tracker
                    .drift(cluster, app, self.now, change.name());
                if self.core.kind == ModelKind::Pull {
                    let (target, app) = self.core.addressed(cluster, app);
                    self.deliver(target, Input::LiveChanged { app });
                }
                return;
            }
            DriftChange::Image => {
                if dep.rolled && !dep.env_drift {
                    dep.replaced = Some((self.now, dep.image));
                }
                // Images counted down from u32::MAX never meet git's, counted up.
                self.drift_images = self.drift_images.saturating_add(1);
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
        self.core
            .tracker
            .drift(cluster, app, self.now, change.name());
        self.interrupt(cluster, app);
        if self.core.kind == ModelKind::Pull {
            let (target, app) = self.core.addressed(cluster, app);
            self.deliver(target, Input::LiveChanged { app });
        }
    }

    /// The pod template changed or the Deployment vanished under a rollout: whoever
    /// waits on that rollout (`kubectl rollout status`) sees it fail.
    fn interrupt(&mut self, cluster: ClusterId, app: AppId) {
        let i = self.core.idx(cluster, app);
        let d = &mut self.deployments[i];
        let was_rolling = d.rolling;
        d.rolling = false;
        d.rolled = false;
        d.failed = false;
        d.generation = d.generation.wrapping_add(1);
        if was_rolling {
            let spec = d.spec;
            self.rollout_finished(cluster, app, spec, false);
        }
    }
}

// ------------------------------------------------------------ faults

impl World<'_> {
    /// Whether a request from the model to `cluster`'s API fails now: the cluster is
    /// lost, a partition cuts the model off from it, or a brownout fails it.
    fn api_request_fails(&mut self, cluster: ClusterId) -> bool {
        if !self.core.cluster_reachable(cluster) {
            return true;
        }
        let mut fails = false;
        for &i in &self.brownouts {
            if let Fault::ApiBrownout {
                error_rate,
                cluster: only,
                ..
            } = &self.core.s.faults[i as usize]
                && only.is_none_or(|c| c == cluster)
                && self.api_rng.random::<f64>() < error_rate.0
            {
                fails = true;
            }
        }
        fails
    }

    /// Extra latency the brownouts in force add to a request to `cluster`.
    fn brownout_latency(&mut self, cluster: ClusterId) -> Nanos {
        let mut extra = 0;
        for &i in &self.brownouts {
            if let Fault::ApiBrownout {
                latency,
                cluster: only,
                ..
            } = &self.core.s.faults[i as usize]
                && only.is_none_or(|c| c == cluster)
            {
                extra = latency.sample(&mut self.api_rng).saturating_add(extra);
            }
        }
        extra
    }

    /// Whether an app's live objects equal the manifest `spec` (a server-side dry run).
    fn in_sync(&self, cluster: ClusterId, app: AppId, spec: SpecId) -> bool {
        let d = &self.deployments[self.core.idx(cluster, app)];
        d.exists
            && !d.env_drift
            && d.replicas == self.shapes[app as usize].replicas
            && d.image == self.core.git.spec(spec).image
    }
}
