//! The push pipeline (Jenkins / GitHub Actions style) as a sans-IO state machine.
//!
//! A commit triggers a run after `queue_wait`; runs wait FIFO for one of `runners`; a
//! run checks out its revision (retrying a failed checkout twice), builds, then applies to
//! every cluster (`apply_parallelism` at a time) the apps whose manifests are newer than
//! what the pipeline has applied to that cluster (a failed apply is retried twice with
//! backoff, then the run fails and a later run picks the cluster up), and optionally
//! waits for the rollouts. With `concurrency: cancel-pending` at most one run is active
//! and one pending, a newer run replacing the pending one (GitHub Actions concurrency
//! groups); with `concurrency_scope: deploy-job` the group holds only the deploy job, so
//! builds run side by side. With `concurrency: fold` (Jenkins `disableConcurrentBuilds()`)
//! one build runs, and a trigger while a build waits in the queue folds into it: that
//! build builds the newest commit. A scheduled `drift_check` job re-applies everything.
//! The pipeline never looks at a cluster otherwise: drift stays until that app is
//! deployed again.
//!
//! With environments ([`Pipeline::set_environments`]) a run deploys environment by
//! environment, as a workflow with one deploy job per GitHub Actions environment (or a
//! Jenkins stage behind an `input` step): the first environment's clusters, their
//! rollouts, then the gate before the next (the world times it: [`Action::Gate`]), then
//! the next environment. A run waiting at a gate holds no runner (a job waiting for its
//! environment's protection rules is not assigned one) but keeps its concurrency group;
//! it takes a runner again for the next deploy job. A failed environment or gate ends the
//! run there.
//!
//! The same machine without a deploy step is the CI of a pull setup
//! ([`Pipeline::ci_only`]): a run builds, publishes its image ([`Action::Published`]) and
//! frees its runner; the world then writes the new version back to the config repository.

use super::{
    Action, AppId, Apply, CiDraw, ClusterId, Input, Model, Note, NoteKind, OpId, Rev, SpecId,
    Timer, Trace, Tree,
};
use crate::scenario::models::ConcurrencyScope;
use crate::scenario::{Concurrency, Nanos, PushConfig, SECOND};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Attempts at a checkout (actions/checkout retries a failed fetch).
const CHECKOUT_ATTEMPTS: u32 = 3;
/// Attempts at an apply to one cluster before the run gives that cluster up.
const APPLY_ATTEMPTS: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunKind {
    /// Deploys one commit (and everything before it not yet applied).
    Commit(Rev),
    /// The scheduled job: re-applies every app at the branch head.
    DriftCheck,
    /// A re-run of the deploy job that last deployed `spec` of `app` (at `rev`): no
    /// build, applies that manifest to every cluster whatever the record says.
    Redeploy { rev: Rev, app: AppId, spec: SpecId },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Triggering,
    Queued,
    CheckingOut,
    Building,
    Applying,
    AwaitingRollout,
    /// Waiting for the gate before the next environment (no runner held).
    Gated,
    /// Built; its deploy job waits in the concurrency group or for a runner
    /// (`concurrency_scope: deploy-job`; no runner held).
    DeployPending,
    Done,
}

/// The clusters of one environment, and whether a gate stands before it.
#[derive(Clone, Debug)]
struct Stage {
    clusters: Vec<ClusterId>,
    gated: bool,
}

/// The manifests a run is applying to one cluster, and the failed attempts so far.
type InFlight = (Arc<[(AppId, SpecId)]>, u8);

#[derive(Debug)]
struct Run {
    kind: RunKind,
    phase: Phase,
    picked_up: Nanos,
    started: Nanos,
    first_apply: Nanos,
    /// When the build ended.
    built: Nanos,
    /// The commit's own build draw, if the world gave one.
    build: Option<Nanos>,
    tree: Option<Tree>,
    checkout_failures: u32,
    next_cluster: ClusterId,
    in_flight: u32,
    clusters_done: u32,
    /// Per cluster: what this run applies there, while it is being applied.
    applying: HashMap<ClusterId, InFlight>,
    failed: bool,
    /// (cluster, app) → manifest whose rollout this run waits for.
    awaiting: HashMap<(ClusterId, AppId), SpecId>,
    /// The environment (stage) this run deploys now, when its gate opened and passed.
    env: u32,
    gate_open: Nanos,
    gate_passed: Nanos,
    holds_runner: bool,
    /// When its trigger fires (a folded trigger may bring it forward).
    due: Nanos,
}

pub struct Pipeline {
    cfg: PushConfig,
    clusters: u32,
    apps: u32,
    rng: ChaCha8Rng,
    runs: Vec<Run>,
    fifo: VecDeque<u32>,
    free_runners: u32,
    runners_available: bool,
    /// cancel-pending: the group's active run (queued for or holding a runner) and its
    /// single pending successor.
    group_active: Option<u32>,
    group_pending: Option<u32>,
    /// fold: the job's one queue item (in its quiet period or waiting behind the running
    /// build) that later triggers fold into.
    queued_item: Option<u32>,
    drift_check_active: bool,
    /// Per (cluster, app): the newest manifest applied successfully (the deploy record).
    deployed: Vec<SpecId>,
    /// Per (cluster, app): the newest manifest a run has started applying.
    claimed: Vec<SpecId>,
    /// A CI-only pipeline (a pull setup's CI): runs build and publish, never deploy.
    ci_only: bool,
    /// The environments in order (one stage of every cluster without environments).
    stages: Vec<Stage>,
    out: VecDeque<Action>,
}

impl Pipeline {
    /// `initial` is the tree every cluster already runs at time zero.
    pub fn new(cfg: PushConfig, clusters: u32, initial: &[SpecId], rng: ChaCha8Rng) -> Pipeline {
        let deployed: Vec<SpecId> = (0..clusters)
            .flat_map(|_| initial.iter().copied())
            .collect();
        let mut p = Pipeline {
            free_runners: cfg.runners,
            runners_available: true,
            cfg,
            clusters,
            apps: initial.len() as u32,
            rng,
            runs: Vec::new(),
            fifo: VecDeque::new(),
            group_active: None,
            group_pending: None,
            queued_item: None,
            drift_check_active: false,
            claimed: deployed.clone(),
            deployed,
            ci_only: false,
            stages: vec![Stage {
                clusters: (0..clusters).collect(),
                gated: false,
            }],
            out: VecDeque::new(),
        };
        if let Some(every) = p.cfg.drift_check {
            p.out.push_back(Action::SetTimer {
                at: every,
                timer: Timer::DriftCheck,
            });
        }
        p
    }

    /// A pull setup's CI: the same trigger, runners, concurrency and build, but a run
    /// ends when its image is published. It checks out nothing from the config
    /// repository and deploys nothing; `drift_check` does not apply.
    pub fn ci_only(mut cfg: PushConfig, rng: ChaCha8Rng) -> Pipeline {
        cfg.drift_check = None;
        let mut p = Pipeline::new(cfg, 0, &[], rng);
        p.ci_only = true;
        p
    }

    /// Deploys environment by environment: `stages` lists each environment's clusters
    /// and whether a gate stands before it, in promotion order.
    pub fn set_environments(&mut self, stages: Vec<(Vec<ClusterId>, bool)>) {
        self.stages = stages
            .into_iter()
            .map(|(clusters, gated)| Stage { clusters, gated })
            .collect();
    }

    fn with_environments(&self) -> bool {
        self.stages.len() > 1
    }

    /// How many clusters run `id` deploys in its current stage (the drift check: all).
    fn stage_len(&self, id: u32) -> u32 {
        let run = &self.runs[id as usize];
        match run.kind {
            // The drift check and a re-run deploy job (the last good version, to every
            // cluster at once) are not promoted environment by environment.
            RunKind::DriftCheck | RunKind::Redeploy { .. } => self.clusters,
            RunKind::Commit(_) => self
                .stages
                .get(run.env as usize)
                .map_or(0, |s| s.clusters.len() as u32),
        }
    }

    /// The `i`th cluster of run `id`'s current stage.
    fn stage_cluster(&self, id: u32, i: u32) -> ClusterId {
        let run = &self.runs[id as usize];
        match run.kind {
            RunKind::DriftCheck | RunKind::Redeploy { .. } => i,
            RunKind::Commit(_) => self
                .stages
                .get(run.env as usize)
                .and_then(|s| s.clusters.get(i as usize).copied())
                .unwrap_or(i),
        }
    }

    fn note(&mut self, kind: NoteKind, run: u32, cluster: Option<ClusterId>) {
        self.out.push_back(Action::Note(Note {
            kind,
            cluster,
            app: None,
            detail: run as u64,
        }));
    }

    fn new_run(&mut self, kind: RunKind) -> u32 {
        let id = self.runs.len() as u32;
        self.runs.push(Run {
            kind,
            phase: Phase::Triggering,
            picked_up: 0,
            started: 0,
            first_apply: 0,
            built: 0,
            build: None,
            tree: None,
            checkout_failures: 0,
            next_cluster: 0,
            in_flight: 0,
            clusters_done: 0,
            applying: HashMap::new(),
            failed: false,
            awaiting: HashMap::new(),
            env: 0,
            gate_open: 0,
            gate_passed: 0,
            holds_runner: false,
            due: 0,
        });
        id
    }

    /// Whether commit runs enter the concurrency group when triggered (the whole
    /// workflow), rather than when their build ends (`deploy-job`; a CI-only pipeline has
    /// no deploy job, so no group).
    fn group_wraps_workflow(&self) -> bool {
        match self.cfg.concurrency {
            Concurrency::Queue => false,
            Concurrency::Fold => true,
            Concurrency::CancelPending => self.cfg.concurrency_scope == ConcurrencyScope::Workflow,
        }
    }

    /// A commit run joins the group: it goes ahead when the group is free, else it waits
    /// as the pending one (cancel-pending: replacing and cancelling an older pending run).
    fn join_group(&mut self, id: u32) {
        if self.group_active.is_none() {
            self.group_active = Some(id);
            self.fifo.push_back(id);
        } else if let Some(old) = self.group_pending.replace(id)
            && old != id
        {
            self.runs[old as usize].phase = Phase::Done;
            self.note(NoteKind::RunCancelled, old, None);
        }
    }

    /// fold: a commit while the job has an item in the queue folds into it (Jenkins
    /// `Queue.scheduleInternal`): that build will build this newer commit, with this
    /// commit's build draw, and its quiet period ends at the earlier of the two due times.
    /// Returns whether it folded.
    fn fold(&mut self, now: Nanos, rev: Rev, ci: Option<CiDraw>, wait: Nanos) -> bool {
        let Some(id) = self.queued_item else {
            return false;
        };
        let run = &mut self.runs[id as usize];
        if !matches!(run.phase, Phase::Triggering | Phase::Queued) {
            return false;
        }
        run.kind = RunKind::Commit(rev);
        if let Some(CiDraw { build, .. }) = ci {
            run.build = Some(build);
        }
        let due = now.saturating_add(wait);
        if run.phase == Phase::Triggering && due < run.due {
            run.due = due;
            self.out.push_back(Action::SetTimer {
                at: due,
                timer: Timer::Trigger { run: id },
            });
        }
        true
    }

    /// A triggered run joins the queue, subject to the concurrency mode.
    fn admit(&mut self, now: Nanos, id: u32) {
        let run = &mut self.runs[id as usize];
        run.picked_up = now;
        run.phase = Phase::Queued;
        let is_commit = matches!(run.kind, RunKind::Commit(_));
        self.note(NoteKind::RunQueued, id, None);
        if is_commit && self.group_wraps_workflow() {
            self.join_group(id);
        } else {
            self.fifo.push_back(id);
        }
        self.start_runs(now);
    }

    fn start_runs(&mut self, now: Nanos) {
        while self.runners_available && self.free_runners > 0 {
            let Some(id) = self.fifo.pop_front() else {
                break;
            };
            self.free_runners -= 1;
            if self.queued_item == Some(id) {
                // Started: no longer an item in the queue to fold into.
                self.queued_item = None;
            }
            let run = &mut self.runs[id as usize];
            run.holds_runner = true;
            if run.phase == Phase::Gated {
                // Past its gate: the next environment's deploy job.
                self.deploy_env(now, id);
                continue;
            }
            if run.phase == Phase::DeployPending {
                // Admitted to the group: the deploy job on a runner of its own.
                self.deploy_env(now, id);
                continue;
            }

            run.started = now;
            run.phase = Phase::CheckingOut;
            self.note(NoteKind::RunStarted, id, None);
            if self.ci_only {
                // The source checkout is part of the build; the config repository is not
                // read.
                let build = self.build_time(id);
                self.runs[id as usize].phase = Phase::Building;
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(build),
                    timer: Timer::Build { run: id },
                });
            } else {
                self.checkout(id);
            }
        }
    }

    fn checkout(&mut self, id: u32) {
        let rev = match self.runs[id as usize].kind {
            RunKind::Commit(rev) | RunKind::Redeploy { rev, .. } => Some(rev),
            RunKind::DriftCheck => None,
        };
        self.out.push_back(Action::Checkout { run: id, rev });
    }

    fn checkout_failed(&mut self, now: Nanos, id: u32) {
        let run = &mut self.runs[id as usize];
        if run.phase != Phase::CheckingOut {
            return;
        }
        run.checkout_failures = run.checkout_failures.saturating_add(1);
        let failures = run.checkout_failures;
        self.note(NoteKind::CheckoutFailed, id, None);
        if failures < CHECKOUT_ATTEMPTS {
            let at = now.saturating_add(10 * SECOND * failures as u64);
            self.out.push_back(Action::SetTimer {
                at,
                timer: Timer::Checkout { run: id },
            });
        } else {
            self.runs[id as usize].failed = true;
            self.finish(now, id);
        }
    }

    /// The run's build time: the commit's own draw, or one from the pipeline's stream.
    fn build_time(&mut self, id: u32) -> Nanos {
        match self.runs[id as usize].build {
            Some(b) => b,
            None => self.cfg.build.sample(&mut self.rng),
        }
    }

    fn checked_out(&mut self, now: Nanos, id: u32, tree: Tree) {
        if self.runs.get(id as usize).is_none() {
            return;
        }
        let build = self.build_time(id);
        let run = &mut self.runs[id as usize];
        if run.phase != Phase::CheckingOut {
            return;
        }
        run.tree = Some(tree);
        match run.kind {
            RunKind::Commit(_) => {
                run.phase = Phase::Building;
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(build),
                    timer: Timer::Build { run: id },
                });
            }
            // The scheduled job only re-applies what is in git, and a re-run deploy job
            // only deploys: no build step.
            RunKind::DriftCheck | RunKind::Redeploy { .. } => self.deploy(now, id),
        }
    }

    /// The deploy step: apply cluster by cluster.
    fn deploy(&mut self, now: Nanos, id: u32) {
        let deploy_job_group = self.cfg.concurrency == Concurrency::CancelPending
            && !self.group_wraps_workflow()
            && !self.ci_only;
        let run = &mut self.runs[id as usize];
        if run.kind != RunKind::DriftCheck {
            run.built = now;
        }
        run.gate_open = now;
        run.gate_passed = now;
        let is_commit = matches!(run.kind, RunKind::Commit(_));
        if is_commit && deploy_job_group {
            // The build job ends and frees its runner; the deploy job joins the group.
            run.phase = Phase::DeployPending;
            if std::mem::replace(&mut run.holds_runner, false) {
                self.free_runners = self.free_runners.saturating_add(1);
            }
            self.join_group(id);
            self.start_runs(now);
            return;
        }
        self.deploy_env(now, id);
    }

    /// The deploy job of the run's current environment.
    fn deploy_env(&mut self, now: Nanos, id: u32) {
        let run = &mut self.runs[id as usize];
        run.first_apply = now;
        run.next_cluster = 0;
        run.clusters_done = 0;
        run.phase = Phase::Applying;
        self.issue_applies(now, id);
    }

    /// The run's current environment is applied (and rolled out, if it waits): the
    /// gate before the next one, or the end of the run.
    fn env_done(&mut self, now: Nanos, id: u32) {
        let next = self.runs[id as usize].env + 1;
        let run = &self.runs[id as usize];
        let more = matches!(run.kind, RunKind::Commit(_))
            && !run.failed
            && (next as usize) < self.stages.len();
        if !more {
            self.finish(now, id);
            return;
        }
        let gated = self.stages[next as usize].gated;
        let run = &mut self.runs[id as usize];
        run.env = next;
        run.gate_open = now;
        run.awaiting = HashMap::new();
        if !gated {
            run.gate_passed = now;
            self.deploy_env(now, id);
            return;
        }
        run.phase = Phase::Gated;
        let rev = match run.kind {
            RunKind::Commit(rev) | RunKind::Redeploy { rev, .. } => rev,
            RunKind::DriftCheck => 0,
        };
        // The job waiting for its environment's protection rules holds no runner.
        if run.holds_runner {
            run.holds_runner = false;
            self.free_runners = self.free_runners.saturating_add(1);
        }
        self.out.push_back(Action::Gate {
            run: id,
            env: next,
            rev,
        });
        self.start_runs(now);
    }

    /// The world's answer to [`Action::Gate`]: on to the next environment's deploy job
    /// (it waits for a runner), or the run ends failed.
    fn gate(&mut self, now: Nanos, id: u32, env: u32, passed: bool) {
        let Some(run) = self.runs.get_mut(id as usize) else {
            return;
        };
        if run.phase != Phase::Gated || run.env != env {
            return;
        }
        if !passed {
            run.failed = true;
            self.finish(now, id);
            return;
        }
        run.gate_passed = now;
        self.fifo.push_back(id);
        self.start_runs(now);
    }

    /// What a run applies to one cluster: the apps whose manifest in the run's tree is
    /// newer than anything applied or being applied there (the drift check: not older).
    fn items_for(&mut self, id: u32, cluster: ClusterId) -> Vec<(AppId, SpecId)> {
        let run = &self.runs[id as usize];
        if let RunKind::Redeploy { app, spec, .. } = run.kind {
            // The old job applies its manifest as it did then. The record keeps the newest
            // manifest applied, so later runs do not re-deploy what git still names unless
            // they re-apply everything (the drift check).
            return vec![(app, spec)];
        }
        let full = run.kind == RunKind::DriftCheck;
        let tree = run.tree.as_ref().expect("a run deploys after its checkout");
        let base = cluster as usize * self.apps as usize;
        // With environments the scheduled job re-applies what each cluster was last
        // deployed, never a change its environment has not been promoted to.
        let redeploy = full && self.with_environments();
        let mut items = Vec::new();
        for (app, &spec) in tree.iter().enumerate() {
            let spec = if redeploy {
                self.deployed[base + app]
            } else {
                spec
            };
            let claimed = &mut self.claimed[base + app];
            if spec > *claimed || (full && spec >= *claimed) {
                items.push((app as AppId, spec));
                *claimed = spec;
            }
        }
        items
    }

    fn issue_applies(&mut self, now: Nanos, id: u32) {
        loop {
            let run = &self.runs[id as usize];
            if run.in_flight >= self.cfg.apply_parallelism || run.next_cluster >= self.stage_len(id)
            {
                break;
            }
            let cluster = self.stage_cluster(id, run.next_cluster);
            self.runs[id as usize].next_cluster += 1;
            let items = self.items_for(id, cluster);
            let run = &mut self.runs[id as usize];
            if items.is_empty() {
                run.clusters_done += 1;
                continue;
            }
            run.in_flight += 1;
            run.applying.insert(cluster, (Arc::from(items), 0));
            self.send_apply(id, cluster);
        }
        self.maybe_done(now, id);
    }

    fn send_apply(&mut self, id: u32, cluster: ClusterId) {
        let duration = self.cfg.apply.sample(&mut self.rng);
        let run = &self.runs[id as usize];
        let items = run.applying[&cluster].0.clone();
        let trace = Trace {
            picked_up: run.picked_up,
            started: run.started,
            first_apply: run.first_apply,
            built: run.built,
            gate_open: run.gate_open,
            gate_passed: run.gate_passed,
        };
        self.out.push_back(Action::Apply(Apply {
            op: op_id(id, cluster),
            cluster,
            items,
            duration,
            trace,
        }));
    }

    fn applied(&mut self, now: Nanos, op: OpId, ok: bool) {
        let (id, cluster) = split_op(op);
        let wait = self.cfg.wait_for_rollout;
        let base = cluster as usize * self.apps as usize;
        let Some(run) = self.runs.get_mut(id as usize) else {
            return;
        };
        if run.phase != Phase::Applying {
            return;
        }
        let Some((items, failures)) = run.applying.get_mut(&cluster) else {
            return;
        };
        if ok {
            let items = items.clone();
            run.applying.remove(&cluster);
            run.in_flight -= 1;
            run.clusters_done += 1;
            for &(app, spec) in items.iter() {
                let d = &mut self.deployed[base + app as usize];
                *d = (*d).max(spec);
                if wait {
                    run.awaiting.insert((cluster, app), spec);
                }
            }
        } else {
            *failures += 1;
            if *failures < APPLY_ATTEMPTS {
                // kubectl apply in a retry loop: 2 s, then 4 s.
                let at = now.saturating_add(2 * SECOND * (1u64 << (*failures - 1)));
                self.note(NoteKind::ApplyFailed, id, Some(cluster));
                self.out.push_back(Action::SetTimer {
                    at,
                    timer: Timer::ApplyRetry { run: id, cluster },
                });
                return;
            }
            // Give this cluster up: the run fails, and the record is not advanced, so a
            // later run applies these manifests again.
            let (items, _) = run.applying.remove(&cluster).expect("present above");
            run.in_flight -= 1;
            run.clusters_done += 1;
            run.failed = true;
            for &(app, spec) in items.iter() {
                let i = base + app as usize;
                if self.claimed[i] == spec {
                    self.claimed[i] = self.deployed[i];
                }
            }
            self.note(NoteKind::ApplyFailed, id, Some(cluster));
        }
        self.issue_applies(now, id);
    }

    /// Once every cluster is applied or given up: finish, or wait for the rollouts.
    fn maybe_done(&mut self, now: Nanos, id: u32) {
        let len = self.stage_len(id);
        let run = &mut self.runs[id as usize];
        if run.phase != Phase::Applying || run.clusters_done < len || run.in_flight > 0 {
            return;
        }
        if run.awaiting.is_empty() {
            self.env_done(now, id);
        } else {
            run.phase = Phase::AwaitingRollout;
        }
    }

    fn rollout_finished(
        &mut self,
        now: Nanos,
        cluster: ClusterId,
        app: AppId,
        spec: SpecId,
        ok: bool,
    ) {
        if !self.cfg.wait_for_rollout {
            return;
        }
        // Runs holding a runner: few at a time, so a scan of the live ones is cheap.
        let mut done = Vec::new();
        for (id, run) in self.runs.iter_mut().enumerate() {
            if !matches!(run.phase, Phase::Applying | Phase::AwaitingRollout) {
                continue;
            }
            if let Some(&want) = run.awaiting.get(&(cluster, app))
                && spec >= want
            {
                run.awaiting.remove(&(cluster, app));
                if !ok {
                    run.failed = true;
                }
                if run.phase == Phase::AwaitingRollout && run.awaiting.is_empty() {
                    done.push(id as u32);
                }
            }
        }
        for id in done {
            self.env_done(now, id);
        }
    }

    fn finish(&mut self, now: Nanos, id: u32) {
        let run = &mut self.runs[id as usize];
        run.phase = Phase::Done;
        run.awaiting = HashMap::new();
        run.tree = None;
        let failed = run.failed;
        let kind = run.kind;
        let held = std::mem::replace(&mut run.holds_runner, false);
        self.note(
            if failed {
                NoteKind::RunFailed
            } else {
                NoteKind::RunSucceeded
            },
            id,
            None,
        );
        if held {
            self.free_runners = self.free_runners.saturating_add(1);
        }
        match kind {
            RunKind::DriftCheck => self.drift_check_active = false,
            RunKind::Redeploy { .. } => {}
            RunKind::Commit(_) => {
                if self.group_active == Some(id) {
                    self.group_active = self.group_pending.take();
                    if let Some(next) = self.group_active {
                        self.fifo.push_back(next);
                    }
                }
            }
        }
        self.start_runs(now);
    }

    /// A CI-only run published its image: the world writes it back; the runner is free.
    fn publish(&mut self, now: Nanos, id: u32) {
        let run = &mut self.runs[id as usize];
        run.built = now;
        if let RunKind::Commit(upto) = run.kind {
            let started = run.started;
            self.out.push_back(Action::Published { upto, started });
        }
        self.finish(now, id);
    }

    fn phase(&self, run: u32) -> Option<Phase> {
        self.runs.get(run as usize).map(|r| r.phase)
    }
}

fn op_id(run: u32, cluster: ClusterId) -> OpId {
    ((run as u64) << 32) | cluster as u64
}

fn split_op(op: OpId) -> (u32, ClusterId) {
    ((op >> 32) as u32, op as u32)
}

impl Model for Pipeline {
    fn handle(&mut self, now: Nanos, input: Input) {
        match input {
            Input::Commit { rev, ci } => {
                let wait = match ci {
                    Some(CiDraw { trigger, .. }) => trigger,
                    None => self.cfg.queue_wait.sample(&mut self.rng),
                };
                if self.cfg.concurrency == Concurrency::Fold && self.fold(now, rev, ci, wait) {
                    return;
                }
                let id = self.new_run(RunKind::Commit(rev));
                if let Some(CiDraw { build, .. }) = ci {
                    self.runs[id as usize].build = Some(build);
                }
                self.runs[id as usize].due = now.saturating_add(wait);
                if self.cfg.concurrency == Concurrency::Fold {
                    self.queued_item = Some(id);
                }
                if wait == 0 {
                    self.admit(now, id);
                } else {
                    self.out.push_back(Action::SetTimer {
                        at: now.saturating_add(wait),
                        timer: Timer::Trigger { run: id },
                    });
                }
            }
            Input::Timer(Timer::Trigger { run }) => {
                // A folded trigger may have brought the due time forward: the first timer
                // admits, a later one finds the run past triggering.
                if self.phase(run) == Some(Phase::Triggering) {
                    self.admit(now, run);
                }
            }
            Input::Timer(Timer::Build { run }) => {
                if self.phase(run) == Some(Phase::Building) {
                    if self.ci_only {
                        self.publish(now, run);
                    } else {
                        self.deploy(now, run);
                    }
                }
            }
            Input::Timer(Timer::Checkout { run }) => {
                if self.phase(run) == Some(Phase::CheckingOut) {
                    self.checkout(run);
                }
            }
            Input::Timer(Timer::ApplyRetry { run, cluster }) => {
                if self.phase(run) == Some(Phase::Applying)
                    && self.runs[run as usize].applying.contains_key(&cluster)
                {
                    self.send_apply(run, cluster);
                }
            }
            Input::Timer(Timer::DriftCheck) => {
                if let Some(every) = self.cfg.drift_check {
                    self.out.push_back(Action::SetTimer {
                        at: now.saturating_add(every),
                        timer: Timer::DriftCheck,
                    });
                }
                if !self.drift_check_active {
                    self.drift_check_active = true;
                    let id = self.new_run(RunKind::DriftCheck);
                    self.note(NoteKind::DriftCheckStarted, id, None);
                    self.admit(now, id);
                }
            }
            Input::Redeploy { app, spec, rev } => {
                // A re-run waits for a runner like any job (queue_wait), outside the
                // concurrency group of commit runs.
                let id = self.new_run(RunKind::Redeploy { rev, app, spec });
                let wait = self.cfg.queue_wait.sample(&mut self.rng);
                self.out.push_back(Action::SetTimer {
                    at: now.saturating_add(wait),
                    timer: Timer::Trigger { run: id },
                });
            }
            Input::CheckedOut { run, tree, .. } => self.checked_out(now, run, tree),
            Input::CheckoutFailed { run } => self.checkout_failed(now, run),
            Input::Runners { available } => {
                self.runners_available = available;
                self.start_runs(now);
            }
            Input::Applied { op, ok } => self.applied(now, op, ok),
            Input::Gate { run, env, passed } => self.gate(now, run, env, passed),
            Input::RolloutFinished {
                cluster,
                app,
                spec,
                ok,
            } => self.rollout_finished(now, cluster, app, spec, ok),
            // Inputs of the pull model: a pipeline has no watch, no poll and no webhook
            // receiver of its own beyond the commit trigger.
            Input::Timer(_)
            | Input::Fetched { .. }
            | Input::Resolved { .. }
            | Input::ResolveFailed
            | Input::FetchFailed { .. }
            | Input::Webhook { .. }
            | Input::LiveChanged { .. }
            | Input::Diffed { .. }
            | Input::Restart { .. }
            | Input::Rollback { .. }
            | Input::AutoSyncEnabled { .. } => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    //! The pipeline driven through the [`Harness`](crate::model::harness::Harness): a
    //! scripted git and cluster, assertions on the actions it emits.
    use super::*;
    use crate::model::harness::{Harness, Script};
    use crate::scenario::models::PushPreset;
    use crate::scenario::{Dist, PushConfig, SECOND};
    use rand::SeedableRng;

    /// Runs start at once, build 10 s, apply 1 s, one runner, no rollout wait.
    fn cfg() -> PushConfig {
        let mut c = PushConfig::preset(PushPreset::Custom);
        c.queue_wait = Dist::zero();
        c.build = Dist::fixed(10 * SECOND);
        c.apply = Dist::fixed(SECOND);
        c.runners = 1;
        c.wait_for_rollout = false;
        c
    }

    fn harness(
        cfg: PushConfig,
        clusters: u32,
        initial: &[SpecId],
        script: Script,
    ) -> Harness<Pipeline> {
        let p = Pipeline::new(cfg, clusters, initial, ChaCha8Rng::seed_from_u64(1));
        Harness::new(p, initial.to_vec(), script)
    }

    /// One apply: (time in seconds, cluster, items).
    type Seen = (u64, ClusterId, Vec<(AppId, SpecId)>);

    /// Every apply.
    fn applies(h: &Harness<Pipeline>) -> Vec<Seen> {
        h.applies()
            .into_iter()
            .map(|(t, a)| (t / SECOND, a.cluster, a.items.to_vec()))
            .collect()
    }

    /// Commits `trees` (one revision each) `gap` apart from t = 0, telling the pipeline.
    fn commits(h: &mut Harness<Pipeline>, trees: &[&[SpecId]], gap: Nanos) {
        for (i, tree) in trees.iter().enumerate() {
            h.run_until(i as u64 * gap);
            let rev = h.commit(tree.to_vec());
            h.inject(Input::Commit { rev, ci: None });
        }
    }

    #[test]
    fn a_commit_builds_then_applies_only_the_changed_app_to_every_cluster() {
        let mut h = harness(cfg(), 2, &[0, 1, 2], Script::default());
        commits(&mut h, &[&[0, 3, 2]], SECOND);
        h.run_until(60 * SECOND);
        assert_eq!(h.checkouts(), vec![(0, 0, Some(1))]);
        assert_eq!(
            applies(&h),
            vec![(10, 0, vec![(1, 3)]), (10, 1, vec![(1, 3)])],
            "after the 10 s build, app 1 alone, to both clusters"
        );
        assert_eq!(h.notes(NoteKind::RunSucceeded).len(), 1);
    }

    /// GitHub Actions `concurrency:` with `cancel-in-progress: false`: one run of the
    /// group runs, at most one waits, and a newer waiting run replaces the older one.
    #[test]
    fn cancel_pending_deploys_only_the_newest_of_three_quick_commits_after_the_running_one() {
        let mut c = cfg();
        c.concurrency = Concurrency::CancelPending;
        c.runners = 2; // runners to spare: the group alone holds the later runs back
        let mut h = harness(c, 1, &[0], Script::default());
        commits(&mut h, &[&[1], &[2], &[3], &[4]], SECOND);
        h.run_until(10 * 60 * SECOND);
        assert_eq!(
            applies(&h),
            vec![(10, 0, vec![(0, 1)]), (21, 0, vec![(0, 4)])],
            "rev 1 runs; revs 2 and 3 wait in turn and are replaced; rev 4 runs after rev 1"
        );
        let cancelled: Vec<u64> = h
            .notes(NoteKind::RunCancelled)
            .iter()
            .map(|(_, n)| n.detail)
            .collect();
        assert_eq!(
            cancelled,
            vec![1, 2],
            "the runs of revs 2 and 3 are cancelled"
        );
        assert_eq!(
            h.checkouts().iter().map(|c| c.2).collect::<Vec<_>>(),
            vec![Some(1), Some(4)]
        );
    }

    /// Jenkins: builds of one job queue up and all run, in commit order.
    #[test]
    fn queue_runs_every_commit_in_order() {
        let mut c = cfg();
        c.concurrency = Concurrency::Queue;
        let mut h = harness(c, 1, &[0], Script::default());
        commits(&mut h, &[&[1], &[2], &[3]], SECOND);
        h.run_until(10 * 60 * SECOND);
        assert_eq!(
            applies(&h),
            vec![
                (10, 0, vec![(0, 1)]),
                (21, 0, vec![(0, 2)]),
                (32, 0, vec![(0, 3)])
            ],
            "each run takes the one runner when the previous one frees it"
        );
        assert!(h.notes(NoteKind::RunCancelled).is_empty());
    }

    #[test]
    fn a_failed_apply_is_retried_after_2_then_4_s_then_the_cluster_is_left_for_a_later_run() {
        // Every apply of run 0 fails; later runs succeed.
        let script = Script::default().on_apply(|_, a| split_op(a.op).0 != 0);
        let mut h = harness(cfg(), 1, &[0], script);
        commits(&mut h, &[&[1]], SECOND);
        h.run_until(20 * SECOND);
        assert_eq!(
            applies(&h),
            vec![
                (10, 0, vec![(0, 1)]),
                (13, 0, vec![(0, 1)]),
                (18, 0, vec![(0, 1)])
            ],
            "fails at 11 s, retried 2 s later; fails at 14 s, retried 4 s later"
        );
        assert_eq!(
            h.notes(NoteKind::RunFailed).len(),
            1,
            "then the run gives up"
        );
        // The next commit's run (same manifest) applies it again.
        let rev = h.commit(vec![1]);
        h.inject(Input::Commit { rev, ci: None });
        h.run_until(60 * SECOND);
        assert_eq!(applies(&h)[3], (30, 0, vec![(0, 1)]));
        assert_eq!(h.notes(NoteKind::RunSucceeded).len(), 1);
    }

    #[test]
    fn no_run_starts_while_runners_are_out() {
        let mut h = harness(cfg(), 1, &[0], Script::default());
        h.inject(Input::Runners { available: false });
        commits(&mut h, &[&[1]], SECOND);
        h.run_until(60 * SECOND);
        assert!(h.checkouts().is_empty());
        h.inject(Input::Runners { available: true });
        h.run_until(80 * SECOND);
        assert_eq!(h.checkouts(), vec![(60 * SECOND, 0, Some(1))]);
        assert_eq!(h.applies()[0].1.trace.started, 60 * SECOND);
    }

    #[test]
    fn a_run_holds_its_runner_until_the_rollout_and_fails_on_a_broken_one() {
        let mut c = cfg();
        c.wait_for_rollout = true;
        let script = Script::default().on_rollout(|_, _, _| Some((600 * SECOND, false)));
        let mut h = harness(c, 1, &[0], script);
        commits(&mut h, &[&[1], &[2]], 100 * SECOND);
        h.run_until(20 * 60 * SECOND);
        assert_eq!(
            h.notes(NoteKind::RunFailed)[0].0,
            611 * SECOND,
            "the rollout fails 600 s after the apply's reply at 11 s"
        );
        assert_eq!(
            h.checkouts()[1].0,
            611 * SECOND,
            "the second commit's run waits for the one runner until then"
        );
    }
    #[test]
    fn a_ci_only_run_publishes_after_its_commits_own_trigger_and_build_and_frees_its_runner() {
        let mut c = cfg();
        c.concurrency = Concurrency::Queue;
        let p = Pipeline::ci_only(c, ChaCha8Rng::seed_from_u64(1));
        let mut h = Harness::new(p, vec![], Script::default());
        let draw = |trigger, build| {
            Some(CiDraw {
                trigger: trigger * SECOND,
                build: build * SECOND,
            })
        };
        // One runner: source 1 waits for source 0's run to publish.
        h.inject(Input::Commit {
            rev: 0,
            ci: draw(5, 100),
        });
        h.run_until(10 * SECOND);
        h.inject(Input::Commit {
            rev: 1,
            ci: draw(3, 30),
        });
        h.run_until(600 * SECOND);
        assert_eq!(
            h.published(),
            vec![
                (105 * SECOND, 0, 5 * SECOND),
                (135 * SECOND, 1, 105 * SECOND)
            ],
            "published at trigger + build, the second after the first freed the runner"
        );
        assert!(
            h.checkouts().is_empty() && h.applies().is_empty(),
            "no deploy step"
        );
    }

    #[test]
    fn with_environments_a_run_deploys_the_next_environment_only_after_the_first_rolled_out_and_its_gate()
     {
        let mut c = cfg();
        c.wait_for_rollout = true;
        let script = Script::default().on_rollout(|_, _, _| Some((5 * SECOND, true)));
        let mut p = Pipeline::new(c, 3, &[0, 1], ChaCha8Rng::seed_from_u64(1));
        p.set_environments(vec![(vec![0], false), (vec![1, 2], true)]);
        let mut h = Harness::new(p, vec![0, 1], script);
        commits(&mut h, &[&[2, 1]], 0);
        h.run_until(120 * SECOND);
        // Build 10 s, dev applied at 10 s (1 s), rolled out 5 s later; the gate (passed
        // at once by the harness) opens at 16 s, then prod's two clusters.
        assert_eq!(
            applies(&h),
            vec![
                (10, 0, vec![(0, 2)]),
                (16, 1, vec![(0, 2)]),
                (16, 2, vec![(0, 2)]),
            ]
        );
        let gates: Vec<_> = h
            .actions()
            .iter()
            .filter_map(|(t, a)| match a {
                Action::Gate { env, rev, .. } => Some((*t / SECOND, *env, *rev)),
                _ => None,
            })
            .collect();
        assert_eq!(gates, vec![(16, 1, 1)]);
        // The trace of prod's apply says when its gate opened and passed.
        let prod = &h.applies()[1].1.trace;
        assert_eq!(
            (prod.built, prod.gate_open, prod.gate_passed),
            (10 * SECOND, 16 * SECOND, 16 * SECOND)
        );
    }
}
