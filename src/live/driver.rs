//! The live world: the same push pipeline and pull reconciler state machines as the sim,
//! driven in real time by tokio. Model timers become real sleeps (scenario time ×
//! `time_scale`); applies go to Kubernetes API servers through kube-rs; rollouts are
//! observed on a kube-runtime watch; git is a real repository. Every timestamp a metric
//! uses is taken from the client's monotonic clock and converted back to scenario time, so
//! the tracker, the summary and the reports are the very ones of a sim run.

use super::LiveError;
use super::cluster::{ClusterHandle, HandEdit, Observation, RolloutState, hand_image};
use super::git::release;
use crate::measure::RunRecord;
use crate::measure::track::{CommitKind, Tracker};
use crate::metric::ModelKind;
use crate::model::pull::Reconciler;
use crate::model::push::Pipeline;
use crate::model::{Action, AppId, Apply, ClusterId, Input, Model, NoteKind, Rev, SpecId, Timer};
use crate::plan::{Component, Plan, rng};
use crate::release::{Releases, Rollback};
use crate::scenario::{Cut, DriftChange, DriftDetection, Fault, Nanos, Scenario};
use crate::sim::git::GitHost;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The git repository as the live world needs it. Image numbers are the ids the sim's git
/// model gives manifests; the repository stores them in image tags.
pub trait Repo: Send {
    /// Commits new manifests `(app, image, broken)` at scenario time `at`; returns the rev.
    fn commit(
        &mut self,
        at: Nanos,
        changes: &[(AppId, u32, bool)],
        message: &str,
    ) -> Result<Rev, LiveError>;
    /// Commits the revert of `bad` at scenario time `at`; returns the rev.
    fn revert(&mut self, at: Nanos, bad: Rev) -> Result<Rev, LiveError>;
    /// Reads `(image, broken)` of every app at `rev` back from the repository.
    fn read_tree(&self, rev: Rev) -> Result<Vec<(u32, bool)>, LiveError>;
    /// The Deployment and ConfigMap YAML of `app` at `rev`.
    fn manifests(&self, rev: Rev, app: AppId) -> Result<(String, String), LiveError>;
}

/// Hooks into a cluster's API server for faults a client cannot cause (the emulator has
/// them; kind and kubeconfig clusters do not).
pub trait ApiFaults: Send + Sync {
    fn set_brownout(&self, latency: Duration, error_rate: f64);
    fn clear_brownout(&self);
    fn outage(&self, on: bool);
}

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
    Webhook {
        cluster: ClusterId,
        app: AppId,
    },
}

enum Msg {
    ApplyDone {
        slot: usize,
        ok: bool,
    },
    Diffed {
        target: u32,
        epoch: u32,
        app: AppId,
        in_sync: Option<bool>,
    },
    Observed {
        cluster: ClusterId,
        app: AppId,
        obs: Observation,
        at: Instant,
        after_apply: bool,
    },
    Edited {
        drift: u32,
        ok: bool,
    },
}

enum Models {
    Push(Box<Pipeline>),
    Pull(Vec<Reconciler>),
}

/// What the world knows of one Deployment.
#[derive(Clone, Copy, Default)]
struct View {
    /// The manifest last applied successfully by the delivery model.
    applied: SpecId,
    /// (manifest, complete?) last reported to the tracker and model.
    reported: Option<(SpecId, bool)>,
    /// Generation already reported as drifted (a watch event per change).
    drift_seen: Option<i64>,
    /// Live equals the manifest (no hand edit outstanding).
    clean: bool,
    /// An apply was acknowledged and its rollout outcome not yet told to the model.
    awaiting: bool,
}

pub struct LiveWorld<'a> {
    s: &'a Scenario,
    plan: &'a Plan,
    kind: ModelKind,
    start: Instant,
    scale: f64,
    git: GitHost,
    repo: Box<dyn Repo>,
    clusters: Vec<ClusterHandle>,
    api_faults: Vec<Option<Arc<dyn ApiFaults>>>,
    models: Models,
    epochs: Vec<u32>,
    crashed: Vec<bool>,
    queue: BinaryHeap<Reverse<(Nanos, u64, usize)>>,
    evs: Vec<Ev>,
    seq: u64,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    tracker: Tracker,
    views: Vec<View>,
    applies: Vec<Option<(Apply, u32)>>,
    releases: Releases,
    webhook_rng: ChaCha8Rng,
    git_down: u32,
    cuts: [u32; 4],
    lost: Vec<bool>,
    processed: u64,
    /// Revisions already read back from git and checked (trees never change), and the
    /// manifests read for applies.
    checked: std::collections::HashSet<Rev>,
    manifest_cache: std::collections::HashMap<(Rev, AppId), (String, String)>,
    manager: &'static str,
    replicas: u32,
}

impl<'a> LiveWorld<'a> {
    pub fn new(
        s: &'a Scenario,
        plan: &'a Plan,
        kind: ModelKind,
        repetition: u32,
        repo: Box<dyn Repo>,
        clusters: Vec<ClusterHandle>,
        api_faults: Vec<Option<Arc<dyn ApiFaults>>>,
    ) -> LiveWorld<'a> {
        let (n, apps) = (s.clusters(), s.apps());
        let git = GitHost::new(apps);
        let initial = git.head.clone();
        let models = match kind {
            ModelKind::Push => Models::Push(Box::new(Pipeline::new(
                s.models.push.clone(),
                n,
                &initial,
                rng(s.seed, repetition, Component::Push),
            ))),
            ModelKind::Pull => Models::Pull(
                (0..n)
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
        let (tx, rx) = mpsc::unbounded_channel();
        let views = (0..n)
            .flat_map(|_| {
                (0..apps).map(|a| View {
                    applied: a,
                    reported: Some((a, true)),
                    drift_seen: None,
                    clean: true,
                    awaiting: false,
                })
            })
            .collect();
        LiveWorld {
            s,
            plan,
            kind,
            start: Instant::now(),
            scale: s.time_scale,
            git,
            repo,
            clusters,
            api_faults,
            models,
            epochs: vec![0; n as usize],
            crashed: vec![false; n as usize],
            queue: BinaryHeap::new(),
            evs: Vec::new(),
            seq: 0,
            tx,
            rx,
            tracker: Tracker::new(n, apps, kind == ModelKind::Push),
            views,
            applies: Vec::new(),
            releases: Releases::new(plan, apps),
            webhook_rng: rng(s.seed, repetition, Component::Webhook),
            git_down: 0,
            cuts: [0; 4],
            lost: vec![false; n as usize],
            processed: 0,
            checked: std::collections::HashSet::new(),
            manifest_cache: std::collections::HashMap::new(),
            manager: match kind {
                ModelKind::Push => "pushpull-push",
                ModelKind::Pull => "pushpull-pull",
            },
            replicas: s.fleet.replicas.get(),
        }
    }

    /// Scenario time now.
    fn now(&self) -> Nanos {
        self.at(Instant::now())
    }

    fn at(&self, i: Instant) -> Nanos {
        (i.saturating_duration_since(self.start).as_nanos() as f64 / self.scale) as Nanos
    }

    fn real(&self, t: Nanos) -> Instant {
        self.start + Duration::from_nanos((t as f64 * self.scale) as u64)
    }

    fn schedule(&mut self, t: Nanos, ev: Ev) {
        self.seq += 1;
        self.evs.push(ev);
        self.queue.push(Reverse((t, self.seq, self.evs.len() - 1)));
    }

    /// Runs to the horizon, or until `stop` resolves (Ctrl-C): then the record is partial.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) -> (RunRecord, bool) {
        let mut watches = Vec::new();
        for c in &self.clusters {
            let tx = self.tx.clone();
            let (wtx, mut wrx) = mpsc::unbounded_channel();
            watches.push(c.spawn_watch(wtx));
            watches.push(tokio::spawn(async move {
                while let Some((cluster, app, obs, at)) = wrx.recv().await {
                    if tx
                        .send(Msg::Observed {
                            cluster,
                            app,
                            obs,
                            at,
                            after_apply: false,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            }));
        }
        self.start = Instant::now();
        let plan = self.plan;
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
        for target in 0..self.targets() {
            self.pump(target);
        }
        let horizon = self.s.duration.0;
        let mut stop = std::pin::pin!(stop);
        let mut partial = false;
        loop {
            let now = self.now();
            if now >= horizon {
                break;
            }
            while let Some(&Reverse((t, _, i))) = self.queue.peek() {
                if t > self.now() {
                    break;
                }
                self.queue.pop();
                self.processed += 1;
                let ev = self.evs[i];
                self.dispatch(ev);
            }
            let next = self
                .queue
                .peek()
                .map(|Reverse((t, _, _))| *t)
                .unwrap_or(horizon)
                .min(horizon);
            let wake = tokio::time::Instant::from_std(self.real(next));
            tokio::select! {
                msg = self.rx.recv() => {
                    if let Some(msg) = msg {
                        self.processed += 1;
                        self.message(msg);
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut stop => { partial = true; break; }
            }
        }
        // Stop watching before the clusters go away.
        for w in watches {
            w.abort();
        }
        (self.tracker.finish(self.processed), partial)
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

    fn target_of(&self, cluster: ClusterId) -> u32 {
        match self.kind {
            ModelKind::Push => 0,
            ModelKind::Pull => cluster,
        }
    }

    fn deliver(&mut self, target: u32, input: Input) {
        if self.crashed[target as usize] {
            return;
        }
        let now = self.now();
        self.model(target).handle(now, input);
        self.pump(target);
    }

    fn pump(&mut self, target: u32) {
        while let Some(action) = self.model(target).poll_action() {
            self.execute(target, action);
        }
    }

    fn idx(&self, cluster: ClusterId, app: AppId) -> usize {
        cluster as usize * self.s.apps() as usize + app as usize
    }

    fn git_reachable(&self) -> bool {
        let cut = match self.kind {
            ModelKind::Push => Cut::PipelineGit,
            ModelKind::Pull => Cut::ReconcilerGit,
        };
        self.git_down == 0 && self.cuts[cut.index()] == 0
    }

    fn cluster_reachable(&self, cluster: ClusterId) -> bool {
        let cut = match self.kind {
            ModelKind::Push => Cut::PipelineCluster,
            ModelKind::Pull => Cut::ReconcilerCluster,
        };
        !self.lost[cluster as usize] && self.cuts[cut.index()] == 0
    }

    /// Reads a revision back from the repository and checks it against the manifests the
    /// world committed: the models run on what git really holds.
    fn checked_tree(&mut self, rev: Rev) -> Option<Arc<[SpecId]>> {
        let tree = self.git.trees[rev as usize].clone();
        if self.checked.contains(&rev) {
            return Some(tree);
        }
        match self.repo.read_tree(rev) {
            Ok(read) => {
                for (app, &(image, broken)) in read.iter().enumerate() {
                    let sp = self.git.spec(tree[app]);
                    if sp.image != image || sp.broken != broken {
                        tracing::error!(
                            rev,
                            app,
                            "git holds image {image} but the world committed {}",
                            sp.image
                        );
                        return None;
                    }
                }
                self.checked.insert(rev);
                Some(tree)
            }
            Err(e) => {
                tracing::error!("cannot read rev {rev}: {e}");
                None
            }
        }
    }

    fn execute(&mut self, target: u32, action: Action) {
        match action {
            Action::SetTimer { at, timer } => {
                let epoch = self.epochs[target as usize];
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
                self.tracker.counters().git_fetches += 1;
                let head = self.git.head_rev();
                match self
                    .git_reachable()
                    .then(|| self.checked_tree(head))
                    .flatten()
                {
                    Some(tree) => self.deliver(
                        target,
                        Input::Fetched {
                            app,
                            spec: tree[app as usize],
                        },
                    ),
                    None => self.deliver(target, Input::FetchFailed { app }),
                }
            }
            Action::Checkout { run, rev } => {
                self.tracker.counters().git_fetches += 1;
                let rev = rev.unwrap_or_else(|| self.git.head_rev());
                match self
                    .git_reachable()
                    .then(|| self.checked_tree(rev))
                    .flatten()
                {
                    Some(tree) => self.deliver(target, Input::CheckedOut { run, rev, tree }),
                    None => self.deliver(target, Input::CheckoutFailed { run }),
                }
            }
            Action::Diff { cluster, app, spec } => {
                self.tracker.counters().api_requests += 1;
                let tx = self.tx.clone();
                let epoch = self.epochs[target as usize];
                let reachable = self.cluster_reachable(cluster);
                let handle = self.clusters[cluster as usize].clone();
                let sp = self.git.spec(spec);
                let want = release(app, sp.image, sp.broken);
                let replicas = self.replicas as i32;
                tokio::spawn(async move {
                    let in_sync = if !reachable {
                        None
                    } else {
                        match handle.get(app).await {
                            Ok(None) => Some(false),
                            Ok(Some(d)) => match super::cluster::observe(&d) {
                                Observation::Seen {
                                    release,
                                    hand_image,
                                    env_drift,
                                    replicas: r,
                                    ..
                                } => Some(
                                    release == want && !hand_image && !env_drift && r == replicas,
                                ),
                                Observation::Deleted => Some(false),
                            },
                            Err(_) => None,
                        }
                    };
                    let _ = tx.send(Msg::Diffed {
                        target,
                        epoch,
                        app,
                        in_sync,
                    });
                });
            }
            Action::Apply(apply) => self.start_apply(target, apply),
            Action::Note(n) => {
                let detail = match n.kind {
                    NoteKind::SyncStarted | NoteKind::Degraded | NoteKind::SyncFailed => {
                        format!("rev={}", self.git.spec(n.detail as SpecId).rev)
                    }
                    NoteKind::SelfHealScheduled => format!("backoff_ms={}", n.detail),
                    _ => format!("run={}", n.detail),
                };
                let now = self.now();
                self.tracker
                    .event(now, n.cluster, n.app, n.kind.name(), detail);
            }
        }
    }

    fn start_apply(&mut self, target: u32, apply: Apply) {
        // One per app, as in the sim (an app's Deployment and ConfigMap are one apply).
        self.tracker.counters().api_requests += apply.items.len() as u64;
        let mut manifests = Vec::with_capacity(apply.items.len());
        for &(app, spec) in apply.items.iter() {
            let rev = self.git.spec(spec).rev;
            if let Some(m) = self.manifest_cache.get(&(rev, app)) {
                manifests.push(m.clone());
                continue;
            }
            match self.repo.manifests(rev, app) {
                Ok(m) => {
                    self.manifest_cache.insert((rev, app), m.clone());
                    manifests.push(m);
                }
                Err(e) => tracing::error!("cannot read manifests of app {app} at rev {rev}: {e}"),
            }
        }
        let epoch = self.epochs[target as usize];
        let slot = self.applies.len();
        let cluster = self.clusters[apply.cluster as usize].clone();
        let wait = Duration::from_nanos((apply.duration as f64 * self.scale) as u64);
        let complete = manifests.len() == apply.items.len();
        self.applies.push(Some((apply, epoch)));
        let tx = self.tx.clone();
        let manager = self.manager;
        tokio::spawn(async move {
            // The model's own step time (kubectl start-up, a sync operation's overhead).
            tokio::time::sleep(wait).await;
            let mut ok = complete;
            for (dep, cm) in &manifests {
                if cluster.apply(manager, dep, cm).await.is_err() {
                    ok = false;
                    break;
                }
            }
            let _ = tx.send(Msg::ApplyDone { slot, ok });
        });
    }

    fn message(&mut self, msg: Msg) {
        match msg {
            Msg::ApplyDone { slot, ok } => self.apply_done(slot, ok),
            Msg::Diffed {
                target,
                epoch,
                app,
                in_sync,
            } => {
                if self.epochs[target as usize] == epoch {
                    if in_sync.is_none() {
                        self.tracker.counters().apply_errors += 1;
                    }
                    self.deliver(target, Input::Diffed { app, in_sync });
                }
            }
            Msg::Observed {
                cluster,
                app,
                obs,
                at,
                after_apply,
            } => self.observed(cluster, app, obs, at, after_apply),
            Msg::Edited { drift, ok } => self.edited(drift, ok),
        }
    }

    fn apply_done(&mut self, slot: usize, ok: bool) {
        let Some((apply, epoch)) = self.applies[slot].take() else {
            return;
        };
        let cluster = apply.cluster;
        let target = self.target_of(cluster);
        let current = self.epochs[target as usize] == epoch;
        let now = self.now();
        // A partition or a lost cluster fails the request whatever the server said.
        let ok = ok && self.cluster_reachable(cluster);
        if !ok {
            self.tracker.counters().apply_errors += apply.items.len() as u64;
            self.tracker.event(
                now,
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
        for &(app, spec) in apply.items.iter() {
            let i = self.idx(cluster, app);
            self.views[i].applied = spec;
            self.views[i].awaiting = true;
            let rev = self.git.spec(spec).rev;
            self.tracker.applied(cluster, app, rev, apply.trace, now);
            // An apply that changed nothing produces no watch event: read the object back
            // so that whoever waits on its rollout hears the outcome.
            let handle = self.clusters[cluster as usize].clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                if let Ok(Some(d)) = handle.get(app).await {
                    let obs = super::cluster::observe(&d);
                    let _ = tx.send(Msg::Observed {
                        cluster,
                        app,
                        obs,
                        at: Instant::now(),
                        after_apply: true,
                    });
                }
            });
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
    }

    fn observed(
        &mut self,
        cluster: ClusterId,
        app: AppId,
        obs: Observation,
        at: Instant,
        after_apply: bool,
    ) {
        let t = self.at(at);
        let i = self.idx(cluster, app);
        let view = self.views[i];
        let desired = self.git.spec(view.applied);
        let want = release(app, desired.image, desired.broken);
        let target = self.target_of(cluster);
        let watch = self.kind == ModelKind::Pull
            && self.s.models.pull.drift_detection == DriftDetection::Watch;
        match obs {
            Observation::Deleted => {
                self.views[i].reported = None;
                self.views[i].clean = false;
                self.interrupted(cluster, app);
                if watch {
                    self.deliver(target, Input::LiveChanged { app });
                }
            }
            Observation::Seen {
                generation,
                release,
                hand_image,
                env_drift,
                replicas,
                state,
            } => {
                // A hand edit shows as an image git never had, the edit's env var, or a
                // replica count other than the manifest's; a newer manifest's release is an
                // apply in flight, not drift.
                if hand_image || env_drift || replicas != self.replicas as i32 {
                    self.views[i].clean = false;
                    if view.drift_seen != Some(generation) {
                        self.views[i].drift_seen = Some(generation);
                        if watch {
                            self.deliver(target, Input::LiveChanged { app });
                        }
                    }
                }
                if hand_image || env_drift {
                    self.interrupted(cluster, app);
                }
                if release != want || hand_image || env_drift {
                    return;
                }
                let outcome = match state {
                    RolloutState::InProgress => return,
                    RolloutState::Complete => true,
                    RolloutState::DeadlineExceeded => false,
                };
                let first = self.views[i].reported != Some((view.applied, outcome));
                if first {
                    self.views[i].reported = Some((view.applied, outcome));
                    if outcome {
                        self.tracker.rolled_out(cluster, app, desired.rev, t);
                    } else {
                        self.tracker.rollout_failed(cluster, app, desired.rev, t);
                        self.detect_bad_release(view.applied, t);
                    }
                }
                if outcome && replicas == self.replicas as i32 && !self.views[i].clean {
                    self.views[i].clean = true;
                    self.tracker.converged(cluster, app, t);
                }
                // Whoever waits on this rollout hears its outcome once per apply.
                if first || self.views[i].awaiting || after_apply {
                    self.views[i].awaiting = false;
                    self.deliver(
                        target,
                        Input::RolloutFinished {
                            cluster,
                            app,
                            spec: view.applied,
                            ok: outcome,
                        },
                    );
                }
            }
        }
    }

    /// A hand edit replaced the pod template or removed the Deployment under a rollout
    /// someone waits on: as in the sim, `kubectl rollout status` reports a failure.
    fn interrupted(&mut self, cluster: ClusterId, app: AppId) {
        let i = self.idx(cluster, app);
        if self.views[i].awaiting {
            self.views[i].awaiting = false;
            let spec = self.views[i].applied;
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

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Timer {
                target,
                epoch,
                timer,
            } => {
                if self.epochs[target as usize] == epoch {
                    self.deliver(target, Input::Timer(timer));
                }
            }
            Ev::Commit(i) => self.workload_commit(i),
            Ev::Drift(i) => self.drift(i),
            Ev::BadRelease(i) => self.bad_release(i),
            Ev::RollbackDecision(i) => self.rollback_decision(i),
            Ev::FaultStart(i) => self.fault(i, true),
            Ev::FaultEnd(i) => self.fault(i, false),
            Ev::Webhook { cluster, app } => self.deliver(cluster, Input::Webhook { app }),
        }
    }

    // ------------------------------------------------------------ commits

    fn commit(&mut self, changes: &[(AppId, Option<u32>, bool)], message: &str) -> Option<Rev> {
        let now = self.now();
        let rev = self.git.commit(changes);
        let with_images: Vec<(AppId, u32, bool)> = changes
            .iter()
            .map(|&(app, _, broken)| {
                (
                    app,
                    self.git.spec(self.git.head[app as usize]).image,
                    broken,
                )
            })
            .collect();
        match self.repo.commit(now, &with_images, message) {
            Ok(r) if r == rev => Some(rev),
            Ok(r) => {
                tracing::error!("git made rev {r} where the world expected {rev}");
                None
            }
            Err(e) => {
                tracing::error!("commit failed: {e}");
                None
            }
        }
    }

    fn announce(&mut self, rev: Rev, apps: &[AppId]) {
        let now = self.now();
        match self.kind {
            ModelKind::Push => {
                if self.git_down > 0 {
                    self.tracker
                        .event(now, None, None, "webhook_lost", format!("rev={rev}"));
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
                        .event(now, None, None, "webhook_lost", format!("rev={rev}"));
                    return;
                }
                for c in 0..self.s.clusters() {
                    for &app in apps {
                        if self.webhook_rng.random::<f64>() < hook.loss.0 {
                            continue;
                        }
                        let delay = hook.delay.sample(&mut self.webhook_rng);
                        self.schedule(now + delay, Ev::Webhook { cluster: c, app });
                    }
                }
            }
        }
    }

    fn workload_commit(&mut self, i: u32) {
        let apps = self
            .releases
            .commit_apps(&self.plan.commits[i as usize].apps);
        let now = self.now();
        if apps.is_empty() {
            self.tracker.event(
                now,
                None,
                None,
                "commit_held",
                "every app it changes is frozen".into(),
            );
            return;
        }
        let changes: Vec<_> = apps.iter().map(|&a| (a, None, false)).collect();
        let names: Vec<String> = apps.iter().map(|a| super::cluster::app_name(*a)).collect();
        let Some(rev) = self.commit(&changes, &format!("Release {}", names.join(", "))) else {
            return;
        };
        self.tracker.commit(rev, now, &apps, CommitKind::Normal);
        self.announce(rev, &apps);
    }

    fn bad_release(&mut self, i: u32) {
        let now = self.now();
        let Some(app) = self.releases.app_for(i as usize) else {
            self.tracker.event(
                now,
                None,
                None,
                "bad_release_held",
                "every app is frozen".into(),
            );
            return;
        };
        let good = self.git.spec(self.git.head[app as usize]);
        let name = super::cluster::app_name(app);
        let Some(rev) = self.commit(
            &[(app, None, true)],
            &format!("Release {name} (broken image)"),
        ) else {
            return;
        };
        let spec = self.git.head[app as usize];
        self.releases
            .shipped(i as usize, rev, app, good.image, spec);
        self.tracker.commit(rev, now, &[app], CommitKind::Bad);
        self.tracker.note_bad_release(rev, now);
        self.announce(rev, &[app]);
    }

    fn detect_bad_release(&mut self, spec: SpecId, t: Nanos) {
        let Some((i, app, rev, after)) = self.releases.detected(spec) else {
            return;
        };
        self.tracker.event(
            t,
            None,
            Some(app),
            "bad_release_detected",
            format!("rev={rev}"),
        );
        self.schedule(t + after, Ev::RollbackDecision(i as u32));
    }

    fn rollback_decision(&mut self, i: u32) {
        let Some(Rollback {
            bad_rev,
            app,
            good_image: image,
        }) = self.releases.decide_rollback(i as usize)
        else {
            return;
        };
        let now = self.now();
        // The world's model of git gets the same change; the repository gets a real revert.
        let rev = self.git.commit(&[(app, Some(image), false)]);
        match self.repo.revert(now, bad_rev) {
            Ok(r) if r == rev => {}
            other => {
                tracing::error!(
                    "revert of rev {bad_rev} failed or diverged: {:?}",
                    other.err()
                );
                return;
            }
        }
        self.tracker.event(
            now,
            None,
            Some(app),
            "rollback_decided",
            format!("bad={bad_rev} revert={rev}"),
        );
        self.tracker.commit(
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

    // ------------------------------------------------------------ drift and faults

    fn drift(&mut self, i: u32) {
        let d = &self.plan.drifts[i as usize];
        let edit = match d.change {
            DriftChange::Scale => HandEdit::Scale(d.scale_to as i32),
            // The image is picked once the live object is read, below.
            DriftChange::Image => HandEdit::Image(""),
            DriftChange::Env => HandEdit::Env,
            DriftChange::Delete => HandEdit::Delete,
        };
        let handle = self.clusters[d.cluster as usize].clone();
        let (app, tx) = (d.app, self.tx.clone());
        tokio::spawn(async move {
            let ok = match handle.get(app).await {
                Ok(Some(live)) => {
                    let edit = match edit {
                        HandEdit::Image(_) => HandEdit::Image(hand_image(&live)),
                        other => other,
                    };
                    handle.hand_edit(app, edit).await.is_ok()
                }
                _ => false,
            };
            let _ = tx.send(Msg::Edited { drift: i, ok });
        });
    }

    fn edited(&mut self, i: u32, ok: bool) {
        let d = &self.plan.drifts[i as usize];
        let now = self.now();
        if ok {
            self.tracker.drift(d.cluster, d.app, now, d.change.name());
        } else {
            self.tracker.event(
                now,
                Some(d.cluster),
                Some(d.app),
                "drift_skipped",
                d.change.name().into(),
            );
        }
    }

    fn fault(&mut self, w: u32, start: bool) {
        let i = self.plan.windows[w as usize].fault;
        let s = self.s;
        let f = &s.faults[i as usize];
        let now = self.now();
        self.tracker.event(
            now,
            f.cluster(),
            None,
            if start { "fault_start" } else { "fault_end" },
            f.kind().into(),
        );
        let clusters: Vec<ClusterId> = match f.cluster() {
            Some(c) => vec![c],
            None => (0..s.clusters()).collect(),
        };
        match f {
            Fault::GitOutage { .. } => {
                if start {
                    self.git_down += 1
                } else {
                    self.git_down -= 1
                }
            }
            Fault::Partition { between, .. } => {
                let c = &mut self.cuts[between.index()];
                if start { *c += 1 } else { *c -= 1 }
            }
            Fault::RunnerOutage { .. } => {
                if self.kind == ModelKind::Push {
                    self.deliver(0, Input::Runners { available: !start });
                }
            }
            Fault::ApiBrownout {
                latency,
                error_rate,
                ..
            } => {
                let lat = Duration::from_nanos((latency.mean_secs() * 1e9 * self.scale) as u64);
                for c in clusters {
                    if let Some(h) = &self.api_faults[c as usize] {
                        if start {
                            h.set_brownout(lat, error_rate.0);
                        } else {
                            h.clear_brownout();
                        }
                    }
                }
            }
            Fault::ReconcilerCrash { .. } => {
                if self.kind == ModelKind::Pull {
                    for c in clusters {
                        if start {
                            self.crashed[c as usize] = true;
                            self.epochs[c as usize] += 1;
                        } else {
                            self.crashed[c as usize] = false;
                            let base = self.idx(c, 0);
                            let live: Vec<SpecId> = (0..s.apps() as usize)
                                .map(|a| self.views[base + a].applied)
                                .collect();
                            self.deliver(c, Input::Restart { live: live.into() });
                        }
                    }
                }
            }
            Fault::ClusterLoss { cluster, .. } => {
                let c = *cluster;
                self.lost[c as usize] = start;
                let hook = self.api_faults[c as usize].clone();
                if start {
                    // The cluster is wiped (every Deployment goes), then unreachable until
                    // it is rebuilt.
                    let handle = self.clusters[c as usize].clone();
                    let apps = s.apps();
                    tokio::spawn(async move {
                        for app in 0..apps {
                            let _ = handle.hand_edit(app, HandEdit::Delete).await;
                        }
                        if let Some(h) = hook {
                            h.outage(true);
                        }
                    });
                } else {
                    if let Some(h) = hook {
                        h.outage(false);
                    }
                    self.tracker.restore_started(c, now);
                }
            }
            Fault::Drift { .. } | Fault::BadRelease { .. } => {}
        }
    }
}
