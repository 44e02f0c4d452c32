//! What the sim world and the live world share: the delivery models they drive, the
//! model of git both keep, the tracker, the bad-release ledger, the fault bookkeeping, and
//! the logic that turns the plan (commits, bad releases, rollback decisions, fault
//! windows, webhooks) into model inputs. A world adds only what differs: its clock and
//! scheduler, how it carries out a model's actions (virtual clusters or kube-rs), how it
//! writes git (the model alone, or a real repository too) and the fault effects that need
//! its clusters ([`Shell`]).
//!
//! The shared CI stage lives here too: every source commit draws its trigger and build
//! from a stream keyed by the commit; a push pipeline builds and deploys it; a pull
//! setup's CI pipeline builds it and the write-back (a CI commit, a reviewed pull
//! request, or an image-automation controller) puts the new tag in the config repository
//! that the reconcilers read.

use crate::git::GitHost;
use crate::measure::EventKind;
use crate::measure::track::{CommitKind, SourceTimes, Stages, Tracker};
use crate::metric::ModelKind;
use crate::model::hub::{self, Hub};
use crate::model::pull::Reconciler;
use crate::model::push::Pipeline;
use crate::model::{
    Action, AppId, Apply, CiDraw, ClusterId, Input, Model, Note, NoteKind, OpId, Rev, SpecId,
    Timer, Trace,
};
use crate::plan::{Component, Plan, rng};
use crate::promote::{self, Promotion};
use crate::release::{Releases, Rollback, Undo};
use crate::scenario::{
    Ci, Cut, DriftDetection, Fault, Nanos, RollbackMethod, SECOND, Scenario, Setup, SetupConfig,
    WriteBack, WriteBackMethod,
};
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
    /// Pull: a write-back (batch of source commits) tries to push its config commit.
    WriteBack(u32),
    /// Pull, image automation: the registry scan, and the automation run that commits.
    ImageScan,
    ImageUpdate,
    /// With environments: the gate before `env` ends for push run `id` of model
    /// instance `target`, or for pull change `id` ([`crate::promote::PROMOTER`]).
    Gate {
        target: u32,
        env: u32,
        id: u32,
        passed: bool,
    },
    /// After a rollback that left git behind: the fix commit of bad release `i` is due.
    RollbackFix(u32),
    /// After an app rollback: someone re-enables automated sync of bad release `i`'s app.
    AutoSyncEnable(u32),
    /// A rollout undo of bad release `index` on `cluster` failed; the operator tries again.
    UndoRetry {
        index: u32,
        cluster: ClusterId,
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

/// The operation id of an operator's rollout undo (the low half: the bad release). No
/// model's operation has its high half all ones, so the models ignore its answer.
pub const UNDO_OP: OpId = (u32::MAX as OpId) << 32;

pub enum Models {
    Push(Box<Pipeline>),
    /// The reconcilers (one per cluster, targets `0..clusters`) and, with the shared CI
    /// stage, the CI pipeline that builds for them (target `clusters`).
    Pull(Vec<Reconciler>, Option<Box<Pipeline>>),
    /// Argo CD with `topology: hub`: one application controller per shard (targets
    /// `0..shards`), the shard of each cluster, and the CI pipeline (target `shards`).
    Hub {
        hubs: Vec<Hub>,
        shard_of: Vec<u32>,
        ci: Option<Box<Pipeline>>,
        refs: SharedRefs,
    },
}

/// What the shards of one Argo CD installation share of git: the repo-server's revision
/// cache in Redis (`git-refs` entries kept for `--revision-cache-expiration`, argo-cd
/// `reposerver/cache/cache.go:225-268`) and the objects it fetched. A shard whose own
/// view of the cache expired asks; within the TTL of another shard's `ls-remote` the
/// answer comes from Redis, with no request to the git host (docs/PRESETS.md), and a
/// revision is fetched once for the installation.
#[derive(Clone, Debug)]
pub struct SharedRefs {
    ttl: Nanos,
    /// The last resolution that reached the git host: its revision and time.
    entry: Option<(Rev, Nanos)>,
    /// The newest revision the repo-server fetched.
    fetched: Option<Rev>,
}

/// What a source commit changes.
#[derive(Clone, Debug)]
pub enum SourceWhat {
    /// A workload commit to these apps.
    Commit(Vec<AppId>),
    /// Bad release `index` (of the plan) on `app`.
    Bad { index: u32, app: AppId },
}

/// A pull setup's source commit on its way through CI and the write-back.
#[derive(Clone, Debug)]
pub struct Source {
    pub at: Nanos,
    pub what: SourceWhat,
    pub draw: CiDraw,
    /// The plan's commit this source is (its stream).
    pub key: Component,
    /// This commit's own git push and review draws.
    pub git_push: Nanos,
    pub review: Nanos,
    pub started: Nanos,
    pub published: Nanos,
}

/// The shared CI stage and write-back of a pull setup.
pub struct Delivery {
    pub ci: Ci,
    pub write_back: WriteBack,
    pub sources: Vec<Source>,
    /// Sources `..published` have their image published.
    pub published: usize,
    /// Write-back batches (indices into `sources`), each written as one push.
    pub batches: Vec<Vec<u32>>,
    /// Image automation: published, not yet seen by a scan; seen, not yet committed.
    pub registry: Vec<u32>,
    pub scanned: Vec<u32>,
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
    /// The shared CI stage: `None` with `ci: none` (and in live mode for now).
    pub ci: Option<Ci>,
    /// A pull setup's sources in CI and their write-back (with the CI stage only).
    pub delivery: Option<Delivery>,
    pub repetition: u32,
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
    /// Per model target: the newest revision it fetched with per-app polls (a poll of a
    /// revision already fetched is a ref check only).
    pub fetched_rev: Vec<Rev>,
    /// Environments and promotion (`None` without `environments:`).
    pub promotion: Option<Promotion>,
}

impl<'a> Core<'a> {
    /// A world's core with the scenario's CI stage (`ci_stage: false` runs as `ci: none`).
    pub fn new(
        s: &'a Scenario,
        plan: &'a Plan,
        setup: &'a Setup,
        repetition: u32,
        ci_stage: bool,
    ) -> Core<'a> {
        let (clusters, apps) = (s.clusters(), s.apps());
        let git = GitHost::new(apps);
        let kind = setup.kind();
        let ci = s.ci.clone().filter(|_| ci_stage);
        // Every setup of one kind draws from the same streams (common random numbers), so
        // setups differ by their settings, not by luck.
        let models = match &setup.config {
            SetupConfig::Push(cfg) => Models::Push(Box::new(Pipeline::new(
                cfg.clone(),
                clusters,
                &git.head,
                rng(s.seed, repetition, Component::Push),
            ))),
            SetupConfig::Pull(cfg) if cfg.hub.is_some() => {
                let h = cfg
                    .hub
                    .as_deref()
                    .cloned()
                    .unwrap_or_else(crate::scenario::models::Hub::preset);
                let ids: Vec<String> = (0..clusters).map(|c| s.fleet.cluster_name(c)).collect();
                let shard_of = hub::shard_of(&ids, h.shards, h.sharding);
                let hubs = (0..h.shards.max(1))
                    .map(|shard| {
                        let served = (0..clusters)
                            .filter(|&c| shard_of[c as usize] == shard)
                            .collect();
                        Hub::new(
                            cfg.clone(),
                            h.clone(),
                            served,
                            clusters,
                            Arc::from(&git.head[..]),
                            rng(s.seed, repetition, Component::Pull { cluster: shard }),
                        )
                    })
                    .collect();
                Models::Hub {
                    hubs,
                    shard_of,
                    ci: ci.as_ref().map(|c| {
                        Box::new(Pipeline::ci_only(
                            c.pipeline(),
                            rng(s.seed, repetition, Component::Push),
                        ))
                    }),
                    refs: SharedRefs {
                        ttl: cfg.revision_cache.0,
                        entry: None,
                        fetched: Some(0),
                    },
                }
            }
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
                // The CI's own stream draws only what a commit does not bring (nothing:
                // every commit brings its draws).
                ci.as_ref().map(|c| {
                    Box::new(Pipeline::ci_only(
                        c.pipeline(),
                        rng(s.seed, repetition, Component::Push),
                    ))
                }),
            ),
        };
        let delivery = match (&ci, &setup.config) {
            (Some(c), SetupConfig::Pull(p)) => Some(Delivery {
                ci: c.clone(),
                write_back: p.write_back.clone(),
                sources: Vec::new(),
                published: 0,
                batches: Vec::new(),
                registry: Vec::new(),
                scanned: Vec::new(),
            }),
            _ => None,
        };
        let stages = match (&ci, kind) {
            (None, k) => Stages::Direct {
                with_build: k == ModelKind::Push,
            },
            (Some(_), ModelKind::Push) => Stages::Push,
            (Some(_), ModelKind::Pull) => Stages::Pull,
        };
        let n = match &models {
            Models::Hub { hubs, .. } => hubs.len() + usize::from(delivery.is_some()),
            Models::Push(_) | Models::Pull(..) => {
                clusters as usize + usize::from(delivery.is_some())
            }
        };
        let promotion = s
            .environments
            .as_ref()
            .map(|e| Promotion::new(e, clusters, apps, &git.head, kind == ModelKind::Pull));
        let mut models = models;
        if let (Models::Push(p), Some(pr)) = (&mut models, &promotion) {
            p.set_environments(pr.stages());
        }
        let mut tracker = Tracker::new(clusters, apps, stages);
        if matches!(models, Models::Hub { .. }) {
            tracker.set_throttle_stage();
        }
        if let Some(e) = &s.environments {
            tracker.set_environments(e);
        }
        Core {
            s,
            plan,
            setup,
            kind,
            git,
            models,
            ci,
            delivery,
            repetition,
            tracker,
            releases: Releases::new(plan, apps),
            webhook_rng: rng(s.seed, repetition, Component::Webhook),
            faults: FaultState {
                git_down: 0,
                cuts: [0; 4],
                runners_down: 0,
                crashed: vec![false; n],
                epochs: vec![0; n],
                lost: vec![false; clusters as usize],
            },
            processed: 0,
            reply: None,
            fetched_rev: vec![0; n],
            promotion,
        }
    }

    /// Model instances: one pipeline, or one reconciler per cluster (and the CI
    /// pipeline after them).
    pub fn targets(&self) -> u32 {
        match &self.models {
            Models::Push(_) => 1,
            Models::Pull(r, ci) => r.len() as u32 + u32::from(ci.is_some()),
            Models::Hub { hubs, ci, .. } => hubs.len() as u32 + u32::from(ci.is_some()),
        }
    }

    pub fn model(&mut self, target: u32) -> &mut dyn Model {
        match &mut self.models {
            Models::Push(p) => p.as_mut(),
            Models::Pull(r, ci) => match (r.get_mut(target as usize), ci) {
                (Some(rec), _) => rec,
                (None, Some(p)) => p.as_mut(),
                (None, None) => unreachable!("target {target} is not a model instance"),
            },
            Models::Hub { hubs, ci, .. } => match (hubs.get_mut(target as usize), ci) {
                (Some(h), _) => h,
                (None, Some(p)) => p.as_mut(),
                (None, None) => unreachable!("target {target} is not a model instance"),
            },
        }
    }

    /// The pull setup's CI pipeline, if it has one.
    pub fn ci_target(&self) -> Option<u32> {
        match &self.models {
            Models::Pull(r, Some(_)) => Some(r.len() as u32),
            Models::Hub {
                hubs, ci: Some(_), ..
            } => Some(hubs.len() as u32),
            Models::Pull(_, None) | Models::Hub { ci: None, .. } | Models::Push(_) => None,
        }
    }

    /// A source commit's CI draws with the distributions of `ci`: the trigger delay, the
    /// build, then the write-back's git push and review, from the commit's own stream.
    /// Apps with their own `build` (an app group's) are built in parallel with the rest,
    /// as a matrix build: the commit's build is the longest, each app's drawn after the
    /// others in ascending order (a commit without such apps draws exactly as before).
    fn source_draws(&self, source: Component, ci: &Ci, apps: &[AppId]) -> (CiDraw, Nanos, Nanos) {
        let mut r = rng(self.s.seed, self.repetition, source);
        let trigger = ci.queue_wait.sample(&mut r);
        let shared = ci.build.sample(&mut r);
        let (push, review) = match self.delivery.as_ref() {
            Some(d) => (
                d.write_back.git_push.sample(&mut r),
                d.write_back.review.sample(&mut r),
            ),
            None => (0, 0),
        };
        let mut own: Vec<AppId> = apps
            .iter()
            .copied()
            .filter(|&a| self.s.build_for(a).is_some())
            .collect();
        own.sort_unstable();
        own.dedup();
        let mut build = if own.len() < apps.len() || apps.is_empty() {
            shared
        } else {
            0
        };
        for a in own {
            if let Some(d) = self.s.build_for(a) {
                build = build.max(d.sample(&mut r));
            }
        }
        (CiDraw { trigger, build }, push, review)
    }

    /// The draws a push setup's pipeline uses for a source commit: its own distributions
    /// on the commit's stream (the same values as every setup with the same CI).
    fn push_draw(&self, source: Component, apps: &[AppId]) -> Option<CiDraw> {
        self.ci.as_ref()?;
        let p = self.setup.push()?;
        let ci = Ci::of_push(p, &self.setup.name);
        Some(self.source_draws(source, &ci, apps).0)
    }

    /// Whether the write-back can reach git: CI pushes from outside, an image-automation
    /// controller from inside the cluster.
    pub fn write_back_reachable(&self, method: WriteBackMethod) -> bool {
        let cut = match method {
            WriteBackMethod::ImageAutomation => Cut::ReconcilerGit,
            WriteBackMethod::CiCommit | WriteBackMethod::PullRequest => Cut::PipelineGit,
        };
        self.faults.git_down == 0 && self.faults.cuts[cut.index()] == 0
    }

    /// The model instance that hears about `cluster`.
    pub fn target_of(&self, cluster: ClusterId) -> u32 {
        // (The CI pipeline of a pull setup never hears about a cluster.)
        match (&self.models, self.kind) {
            (Models::Hub { shard_of, .. }, _) => shard_of[cluster as usize],
            (_, ModelKind::Push) => 0,
            (_, ModelKind::Pull) => cluster,
        }
    }

    /// The model instance that hears about `app` on `cluster`, and the app id it knows
    /// the app by (a hub serves many clusters: `cluster × apps + app`).
    pub fn addressed(&self, cluster: ClusterId, app: AppId) -> (u32, AppId) {
        let target = self.target_of(cluster);
        match &self.models {
            Models::Hub { .. } => (target, cluster * self.s.apps() + app),
            Models::Push(_) | Models::Pull(..) => (target, app),
        }
    }

    /// Moves the API requests a hub counted itself (its refreshes' status patches and
    /// its syncs) into the counters.
    pub fn count_hub_requests(&mut self) {
        if let Models::Hub { hubs, .. } = &mut self.models {
            let n: u64 = hubs.iter_mut().map(Hub::take_requests).sum();
            self.tracker.counters().api_requests += n;
        }
    }

    /// Moves the API requests Flux reconciler `target` counted itself (its request
    /// model: status patches, dry runs, applies, health-check polls) into the counters;
    /// whether `target` is one.
    pub fn count_flux_requests(&mut self, target: u32) -> bool {
        let n = match &mut self.models {
            Models::Pull(rs, _) => rs
                .get_mut(target as usize)
                .and_then(Reconciler::take_requests),
            _ => None,
        };
        if let Some(n) = n {
            self.tracker.counters().api_requests += n;
        }
        n.is_some()
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
        if !self.tracker.detailed_events
            && matches!(n.kind, NoteKind::SyncStarted | NoteKind::Ready)
        {
            return;
        }
        let detail = match n.kind {
            NoteKind::SyncStarted | NoteKind::Degraded | NoteKind::SyncFailed | NoteKind::Ready => {
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
    /// A promotion commit: `specs` (app, manifest) of config revision `rev` entered
    /// environment `env`'s path (a later environment). The core keeps the paths itself
    /// ([`crate::promote`]); a world with a real repository commits them there too.
    fn write_promotion(&mut self, _env: u32, _rev: Rev, _specs: &[(AppId, SpecId)]) {}

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
        let core = self.core();
        if let Some(d) = &core.delivery
            && d.write_back.method == WriteBackMethod::ImageAutomation
        {
            // The controllers started at some unknown moment before the run: a uniform
            // phase of each interval, the same for every setup.
            let mut r = rng(core.s.seed, core.repetition, Component::ImageScan);
            let scan = d.write_back.scan_interval.0;
            let update = d.write_back.update_interval.0;
            let first_scan = r.random_range(0..scan.max(1));
            let first_update = r.random_range(0..update.max(1));
            self.schedule(first_scan, Ev::ImageScan);
            if update > 0 {
                self.schedule(first_update, Ev::ImageUpdate);
            }
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
            Ev::Webhook { cluster, app } => {
                let (target, app) = self.core().addressed(cluster, app);
                // The webhook refreshes past the revision cache: the installation's
                // shared entry too (the next shard to resolve asks the git host).
                if let Models::Hub { refs, .. } = &mut self.core_mut().models {
                    refs.entry = None;
                }
                self.deliver(target, Input::Webhook { app });
            }
            Ev::WriteBack(b) => self.write_back(b),
            Ev::ImageScan => self.image_scan(),
            Ev::ImageUpdate => self.image_update(),
            Ev::Gate {
                target,
                env,
                id,
                passed,
            } => promote::gate_ended(self, target, env, id, passed),
            Ev::RollbackFix(i) => self.rollback_fix(i),
            Ev::AutoSyncEnable(i) => self.auto_sync_enable(i),
            Ev::UndoRetry { index, cluster } => self.undo_apply(index, cluster, None),
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
                self.core_mut().count_flux_requests(to);
            }
        }
        // A Flux reconciler counts its requests itself (a health check's polls end on a
        // timer, with no action to count them by).
        self.core_mut().count_flux_requests(target);
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
            Action::Fetch { cluster, app } => {
                // A poll asks the git host for the branch's ref; objects are transferred
                // only when the instance has not fetched this revision yet.
                self.core_mut().tracker.counters().git_ref_checks += 1;
                let head = self.core().git.head_rev();
                let reply = if self.core().git_reachable() && self.git_read(head) {
                    let core = self.core_mut();
                    if let Some(had) = core.fetched_rev.get_mut(target as usize)
                        && *had != head
                    {
                        *had = head;
                        core.tracker.counters().git_fetches += 1;
                    }
                    Input::Fetched {
                        app,
                        spec: self.core().desired_spec(cluster, app),
                    }
                } else {
                    Input::FetchFailed { app }
                };
                self.core_mut().reply = Some((target, reply));
            }
            Action::Resolve { cluster, have } => {
                let now = self.now();
                // An Argo CD shard asks Redis first: another shard's resolution within the
                // TTL answers, with no request to the git host.
                if let Models::Hub { refs, .. } = &self.core().models
                    && self.core().promotion.is_none()
                    && let Some((rev, at)) = refs.entry
                    && now < at.saturating_add(refs.ttl)
                {
                    let tree = (rev != have).then(|| self.core().git.trees[rev as usize].clone());
                    self.core_mut().reply = Some((target, Input::Resolved { rev, tree, at }));
                    return;
                }
                self.core_mut().tracker.counters().git_ref_checks += 1;
                let head = self.core().git.head_rev();
                // With environments every promotion is a commit of the config repository
                // too: the branch's revision counts them.
                let config_rev =
                    head.saturating_add(self.core().promotion.as_ref().map_or(0, |p| p.commits));
                let reply = if self.core().git_reachable() && self.git_read(head) {
                    let core = self.core_mut();
                    // The shards share the repo-server: a revision is fetched once.
                    let shared = match &mut core.models {
                        Models::Hub { refs, .. } => {
                            refs.entry = Some((config_rev, now));
                            let new = refs.fetched != Some(config_rev);
                            refs.fetched = Some(config_rev);
                            Some(new)
                        }
                        _ => None,
                    };
                    let tree = (config_rev != have).then(|| {
                        if shared.unwrap_or(true) {
                            core.tracker.counters().git_fetches += 1;
                        }
                        match &core.promotion {
                            // With environments each cluster reads its environment's
                            // path of the config repository.
                            Some(_) => (0..core.git.head.len() as AppId)
                                .map(|a| core.desired_spec(cluster, a))
                                .collect(),
                            None => core.git.trees[head as usize].clone(),
                        }
                    });
                    Input::Resolved {
                        rev: config_rev,
                        tree,
                        at: now,
                    }
                } else {
                    Input::ResolveFailed
                };
                self.core_mut().reply = Some((target, reply));
            }
            Action::Checkout { run, rev } => {
                self.core_mut().tracker.counters().git_checkouts += 1;
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
                if !self.core_mut().count_flux_requests(target) {
                    self.core_mut().tracker.counters().api_requests += 1;
                }
                if let Some(in_sync) = self.diff(target, cluster, app, spec) {
                    self.core_mut().reply = Some((target, Input::Diffed { app, in_sync }));
                }
            }
            Action::Apply(apply) => {
                // One request per app (its Deployment and ConfigMap are one apply); a hub
                // counts its own, from its request model.
                let core = self.core_mut();
                if matches!(core.models, Models::Hub { .. }) {
                    core.count_hub_requests();
                } else if core.count_flux_requests(target) {
                    // Flux's request model counted the apply's requests.
                } else {
                    core.tracker.counters().api_requests += apply.items.len() as u64;
                }
                self.start_apply(target, apply);
            }
            Action::Note(n) => {
                let now = self.now();
                self.core_mut().note(now, n);
            }
            Action::Published { upto, started } => {
                // A pull setup's CI run checked out the source repository to build.
                self.core_mut().tracker.counters().git_checkouts += 1;
                self.published(upto, started)
            }
            Action::Gate { run, env, rev } => promote::push_gate(self, target, run, env, rev),
        }
    }

    /// Tells the model about a new commit (push: the trigger; pull: webhooks). The git
    /// host sends both as webhooks: during a git outage they are lost.
    fn announce(&mut self, rev: Rev, apps: &[AppId]) {
        self.announce_with(rev, apps, None);
    }

    /// [`Shell::announce`], with the commit's CI draws for a push pipeline.
    fn announce_with(&mut self, rev: Rev, apps: &[AppId], ci: Option<CiDraw>) {
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
                    self.deliver(0, Input::Commit { rev, ci });
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
                let clusters = 0..core.s.clusters();
                let sends = webhook_sends(hook, &mut core.webhook_rng, now, clusters, apps);
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
        let key = Component::Source {
            index: i,
            bad: false,
        };
        if self.core().delivery.is_some() {
            self.source(SourceWhat::Commit(apps), key);
            return;
        }
        let draw = self.core().push_draw(key, &apps);
        let changes: Vec<_> = apps.iter().map(|&a| (a, None, false)).collect();
        let Some(rev) = self.write_git(&changes, GitWrite::Commit) else {
            return;
        };
        let core = self.core_mut();
        core.tracker.commit(rev, now, &apps, CommitKind::Normal);
        if let Some(p) = core.promotion.as_mut() {
            p.note_source(rev, key);
        }
        self.announce_with(rev, &apps, draw);
    }

    /// A pull setup's source commit enters CI. Its trigger is a webhook from the git
    /// host, lost during a git outage like a push pipeline's (a later run builds it).
    fn source(&mut self, what: SourceWhat, key: Component) {
        let now = self.now();
        let core = self.core_mut();
        let Some(ci) = core.ci.clone() else {
            return;
        };
        let apps = match &what {
            SourceWhat::Commit(apps) => apps.clone(),
            SourceWhat::Bad { app, .. } => vec![*app],
        };
        let (draw, git_push, review) = core.source_draws(key, &ci, &apps);
        let Some(d) = core.delivery.as_mut() else {
            return;
        };
        let seq = d.sources.len() as u32;
        let detail = match &what {
            SourceWhat::Commit(apps) => {
                let list: Vec<String> = apps.iter().map(|a| a.to_string()).collect();
                format!("source={seq} apps={}", list.join(" "))
            }
            SourceWhat::Bad { app, .. } => format!("source={seq} apps={app} bad"),
        };
        d.sources.push(Source {
            at: now,
            what,
            draw,
            key,
            git_push,
            review,
            started: now,
            published: now,
        });
        core.tracker
            .event(now, None, None, EventKind::SourceCommit, detail);
        if core.faults.git_down > 0 {
            core.tracker.event(
                now,
                None,
                None,
                EventKind::WebhookLost,
                format!("source={seq}"),
            );
            return;
        }
        if let Some(target) = core.ci_target() {
            self.deliver(
                target,
                Input::Commit {
                    rev: seq,
                    ci: Some(draw),
                },
            );
        }
    }

    /// The CI published the images of every source up to `upto`: they go to the
    /// write-back as one batch.
    fn published(&mut self, upto: Rev, started: Nanos) {
        let now = self.now();
        let core = self.core_mut();
        let Some(d) = core.delivery.as_mut() else {
            return;
        };
        let end = (upto as usize + 1).min(d.sources.len());
        if end <= d.published {
            return;
        }
        let batch: Vec<u32> = (d.published as u32..end as u32).collect();
        d.published = end;
        for &i in &batch {
            let s = &mut d.sources[i as usize];
            s.started = started;
            s.published = now;
        }
        let last = &d.sources[end - 1];
        let (push, review) = (last.git_push, last.review);
        let delay = match d.write_back.method {
            WriteBackMethod::CiCommit => push,
            WriteBackMethod::PullRequest => push.saturating_add(review),
            WriteBackMethod::ImageAutomation => {
                d.registry.extend(batch);
                return;
            }
        };
        let b = d.batches.len() as u32;
        d.batches.push(batch);
        self.schedule(now.saturating_add(delay), Ev::WriteBack(b));
    }

    /// Image automation: a registry scan. Argo CD Image Updater commits what it found at
    /// once; Flux's reflector hands it to the next automation run.
    fn image_scan(&mut self) {
        let now = self.now();
        let core = self.core_mut();
        let Some(d) = core.delivery.as_mut() else {
            return;
        };
        let every = d.write_back.scan_interval.0;
        let found = std::mem::take(&mut d.registry);
        let direct = d.write_back.update_interval.0 == 0;
        if direct {
            self.commit_found(found);
        } else if let Some(d) = self.core_mut().delivery.as_mut() {
            d.scanned.extend(found);
        }
        self.schedule(now.saturating_add(every), Ev::ImageScan);
    }

    /// Flux image-automation-controller: commits what the scans found.
    fn image_update(&mut self) {
        let now = self.now();
        let Some(d) = self.core_mut().delivery.as_mut() else {
            return;
        };
        let every = d.write_back.update_interval.0;
        let found = std::mem::take(&mut d.scanned);
        self.commit_found(found);
        self.schedule(now.saturating_add(every), Ev::ImageUpdate);
    }

    /// An automation's own commit and push of the tags it found.
    fn commit_found(&mut self, found: Vec<u32>) {
        let now = self.now();
        let Some(d) = self.core_mut().delivery.as_mut() else {
            return;
        };
        let Some(&last) = found.last() else {
            return;
        };
        let push = d.sources[last as usize].git_push;
        let b = d.batches.len() as u32;
        d.batches.push(found);
        self.schedule(now.saturating_add(push), Ev::WriteBack(b));
    }

    /// A write-back pushes its config commit: during a git outage (or a partition between
    /// the writer and git) it fails and is tried again (`retry` for CI and pull requests,
    /// the next automation run for image automation).
    fn write_back(&mut self, b: u32) {
        let now = self.now();
        let core = self.core_mut();
        let Some(d) = core.delivery.as_ref() else {
            return;
        };
        let w = &d.write_back;
        if !core.write_back_reachable(w.method) {
            let again = match w.method {
                WriteBackMethod::ImageAutomation if w.update_interval.0 > 0 => w.update_interval.0,
                WriteBackMethod::ImageAutomation => w.scan_interval.0,
                WriteBackMethod::CiCommit | WriteBackMethod::PullRequest => w.retry.0,
            };
            core.tracker.event(
                now,
                None,
                None,
                EventKind::WriteBackFailed,
                format!("batch={b}"),
            );
            self.schedule(now.saturating_add(again), Ev::WriteBack(b));
            return;
        }
        let batch = match core.delivery.as_mut() {
            Some(d) => std::mem::take(&mut d.batches[b as usize]),
            None => return,
        };
        for i in batch {
            self.write_source(i);
        }
    }

    /// One source's config commit: the new tag (or the bad release) in git, measured
    /// from its source commit, announced to the reconcilers.
    fn write_source(&mut self, i: u32) {
        let now = self.now();
        let core = self.core_mut();
        let Some(src) = core
            .delivery
            .as_ref()
            .map(|d| d.sources[i as usize].clone())
        else {
            return;
        };
        let times = SourceTimes {
            at: src.at,
            started: src.started,
            published: src.published,
        };
        if let Some(p) = core.promotion.as_mut() {
            p.note_source(core.git.head_rev() + 1, src.key);
        }
        match src.what {
            SourceWhat::Commit(apps) => {
                let changes: Vec<_> = apps.iter().map(|&a| (a, None, false)).collect();
                let Some(rev) = self.write_git(&changes, GitWrite::Commit) else {
                    return;
                };
                self.core_mut().tracker.commit_from(
                    rev,
                    now,
                    &apps,
                    CommitKind::Normal,
                    Some(times),
                );
                self.announce(rev, &apps);
            }
            SourceWhat::Bad { index, app } => {
                let good_spec = core.git.head[app as usize];
                let good = core.git.spec(good_spec).image;
                let Some(rev) = self.write_git(&[(app, None, true)], GitWrite::Commit) else {
                    return;
                };
                let core = self.core_mut();
                let spec = core.git.head[app as usize];
                core.releases
                    .shipped(index as usize, rev, app, (good, good_spec), spec);
                core.tracker
                    .commit_from(rev, now, &[app], CommitKind::Bad, Some(times));
                core.tracker.note_bad_release(rev, src.at);
                self.announce(rev, &[app]);
            }
        }
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
        let key = Component::Source {
            index: i,
            bad: true,
        };
        if core.delivery.is_some() {
            core.releases.freeze(i as usize, app);
            self.source(SourceWhat::Bad { index: i, app }, key);
            return;
        }
        let good_spec = core.git.head[app as usize];
        let good = core.git.spec(good_spec).image;
        let draw = core.push_draw(key, &[app]);
        let Some(rev) = self.write_git(&[(app, None, true)], GitWrite::Commit) else {
            return;
        };
        let core = self.core_mut();
        let spec = core.git.head[app as usize];
        core.releases
            .shipped(i as usize, rev, app, (good, good_spec), spec);
        core.tracker.commit(rev, now, &[app], CommitKind::Bad);
        core.tracker.note_bad_release(rev, now);
        if let Some(p) = core.promotion.as_mut() {
            p.note_source(rev, key);
        }
        self.announce_with(rev, &[app], draw);
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

    /// The operator rolls a bad release back by the setup's method: a revert commit
    /// restoring the last good image, or (`redeploy`, `rollout-undo`, `app-rollback`) the
    /// last good manifest put back around git, which is fixed later.
    fn rollback_decision(&mut self, i: u32) {
        if self.core().setup.rollback().method.leaves_git_behind() {
            self.undo_decision(i);
            return;
        }
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

    /// A rollback around git: the last good manifest goes back on every cluster that runs
    /// the bad one, by the pipeline's last good deploy job re-run (`redeploy`), the
    /// operator's `kubectl rollout undo` (`rollout-undo`) or Argo CD's rollback
    /// (`app-rollback`, which turns automated sync off). Git still names the bad version
    /// until the fix commit, `fix_after` later; automated sync comes back
    /// `reenable_after` later.
    fn undo_decision(&mut self, i: u32) {
        let now = self.now();
        let Some(u) = self.core_mut().releases.decide_undo(i as usize) else {
            return;
        };
        let core = self.core();
        let rb = core.setup.rollback().clone();
        // Draws of this rollback, the same for every setup: the fix, the re-enable, then
        // one undo apply per cluster.
        let mut r = rng(
            core.s.seed,
            core.repetition,
            Component::Rollback { index: i },
        );
        let fix_after = rb.fix_after.sample(&mut r);
        let reenable_after = rb.reenable_after.sample(&mut r);
        let clusters: Vec<ClusterId> = (0..core.s.clusters())
            .filter(|&c| self.live_spec(c, u.app) == u.bad_spec)
            .collect();
        let good_rev = self.core().git.spec(u.good_spec).rev;
        let tracker = &mut self.core_mut().tracker;
        tracker.event(
            now,
            None,
            Some(u.app),
            EventKind::RollbackDecided,
            format!("bad={} method={}", u.bad_rev, rb.method.name()),
        );
        tracker.undo_started(u.bad_rev, u.app, good_rev, now, &clusters);
        match rb.method {
            RollbackMethod::Redeploy => self.deliver(
                0,
                Input::Redeploy {
                    app: u.app,
                    spec: u.good_spec,
                    rev: good_rev,
                },
            ),
            RollbackMethod::RolloutUndo => {
                for &c in &clusters {
                    let d = rb.apply.sample(&mut r);
                    self.undo_apply(i, c, Some(d));
                }
            }
            RollbackMethod::AppRollback => {
                for &c in &clusters {
                    self.deliver(
                        c,
                        Input::Rollback {
                            app: u.app,
                            spec: u.good_spec,
                        },
                    );
                }
                self.schedule(now.saturating_add(reenable_after), Ev::AutoSyncEnable(i));
            }
            RollbackMethod::RevertCommit => {}
        }
        self.schedule(now.saturating_add(fix_after), Ev::RollbackFix(i));
    }

    /// The operator's `kubectl rollout undo` of bad release `i` on `cluster`: one apply
    /// of the last good manifest, outside any pipeline (`duration`: drawn with the
    /// rollback; a retry draws again).
    fn undo_apply(&mut self, i: u32, cluster: ClusterId, duration: Option<Nanos>) {
        let now = self.now();
        let core = self.core_mut();
        let Some(Undo { app, good_spec, .. }) = core.releases.undone(i as usize) else {
            return;
        };
        let duration = match duration {
            Some(d) => d,
            None => core.setup.rollback().apply.sample(&mut core.webhook_rng),
        };
        core.tracker.counters().api_requests += 1;
        let trace = Trace {
            picked_up: now,
            started: now,
            first_apply: now,
            built: now,
            gate_open: now,
            gate_passed: now,
        };
        self.start_apply(
            0,
            Apply {
                op: UNDO_OP | i as OpId,
                cluster,
                items: Arc::from([(app, good_spec)]),
                duration,
                trace,
            },
        );
    }

    /// The fix commit after a rollback around git: a revert of the bad commit through
    /// the setup's whole path (push: a pipeline run; pull: the config repository), which
    /// releases the app.
    fn rollback_fix(&mut self, i: u32) {
        let Some(Rollback {
            bad_rev,
            app,
            good_image,
        }) = self.core_mut().releases.fix(i as usize)
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
        self.core_mut()
            .tracker
            .commit(rev, now, &[app], CommitKind::Fix { bad: bad_rev });
        self.announce(rev, &[app]);
    }

    /// Someone re-enables automated sync after an app rollback: each reconciler syncs
    /// git's head, whatever it names by then.
    fn auto_sync_enable(&mut self, i: u32) {
        let now = self.now();
        let Some(u) = self.core().releases.undone(i as usize) else {
            return;
        };
        self.core_mut().tracker.event(
            now,
            None,
            Some(u.app),
            EventKind::AutoSyncEnabled,
            format!("bad={}", u.bad_rev),
        );
        for c in 0..self.core().s.clusters() {
            self.deliver(c, Input::AutoSyncEnabled { app: u.app });
        }
    }

    /// Tells whoever waits on the rollout of `spec` on (cluster, app) how it ended (as
    /// `kubectl rollout status` or a sync's health check would).
    fn rollout_finished(&mut self, cluster: ClusterId, app: AppId, spec: SpecId, ok: bool) {
        promote::rolled_out(self, cluster, app, spec, ok);
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
        if apply.op & UNDO_OP == UNDO_OP {
            // The operator's undo: tried again after a short pause.
            self.core_mut().tracker.counters().apply_errors += 1;
            self.schedule(
                now.saturating_add(10 * SECOND),
                Ev::UndoRetry {
                    index: apply.op as u32,
                    cluster: apply.cluster,
                },
            );
            return;
        }
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
                } else if let Some(ci) = core.ci_target()
                    && edge
                {
                    // A pull setup's CI runs on the same runners.
                    self.deliver(ci, Input::Runners { available: !start });
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
        // A watching reconciler re-lists the rebuilt cluster and finds every app missing
        // (out of sync); a diffing one finds out at its next interval. A comparison, not a
        // drift: Argo CD starts no automated sync while it cannot compare an unreachable
        // cluster, so syncs the model failed during the loss do not hold the app back.
        if let Fault::ClusterLoss { cluster, .. } = f
            && !start
            && self
                .core()
                .setup
                .pull()
                .is_some_and(|p| p.drift_detection == DriftDetection::Watch)
        {
            for app in 0..s.apps() {
                let (target, app) = self.core().addressed(*cluster, app);
                // A reconciler compares the rebuilt cluster and finds every app out of
                // sync; a hub hears of it through its watch.
                let input = if matches!(self.core().models, Models::Hub { .. }) {
                    Input::LiveChanged { app }
                } else {
                    Input::Diffed {
                        app,
                        in_sync: Some(false),
                    }
                };
                self.deliver(target, input);
            }
        }
    }
}

/// When each webhook of a commit reaches each cluster's reconciler for each app: one draw
/// of loss and one of delay per (cluster, app), clusters outermost, from `rng`; lost ones
/// are left out.
pub(crate) fn webhook_sends(
    hook: &crate::scenario::models::Webhook,
    rng: &mut ChaCha8Rng,
    now: Nanos,
    clusters: impl IntoIterator<Item = ClusterId>,
    apps: &[AppId],
) -> Vec<(Nanos, ClusterId, AppId)> {
    let mut sends = Vec::new();
    for c in clusters {
        for &app in apps {
            if rng.random::<f64>() < hook.loss.0 {
                continue;
            }
            let delay = hook.delay.sample(rng);
            sends.push((now.saturating_add(delay), c, app));
        }
    }
    sends
}
