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
use crate::model::{AppId, Apply, ClusterId, Input, Rev, SpecId};
use crate::plan::Plan;
use crate::scenario::{
    DriftChange, DriftDetection, Fault, Nanos, Scenario, Setup, WriteBackMethod,
};
use crate::world::{Core, Ev, GitWrite, Shell, UNDO_OP};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Who writes a config commit, and how it reaches `main`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// A developer's config commit (no CI stage, or a push setup's source commit).
    Developer,
    /// `write_back: ci-commit`: the CI pipeline commits the new tag.
    Ci,
    /// `write_back: pull-request`: a bot's pull request opened at scenario time `opened`,
    /// merged after review (now).
    PullRequest { opened: Nanos },
    /// `write_back: image-automation`: the controller's own commit.
    ImageAutomation,
}

/// The git repository as the live world needs it. Image numbers are the ids the sim's git
/// model gives manifests; the repository stores them in image tags.
pub trait Repo: Send {
    /// Commits new manifests `(app, image, broken)` at scenario time `at` as `by` writes
    /// them (a pull request: a branch and a merge commit); returns the rev.
    fn commit(
        &mut self,
        at: Nanos,
        changes: &[(AppId, u32, bool)],
        message: &str,
        by: Writer,
    ) -> Result<Rev, LiveError>;
    /// Commits the revert of `bad` at scenario time `at`; returns the rev.
    fn revert(&mut self, at: Nanos, bad: Rev) -> Result<Rev, LiveError>;
    /// Commits `(app, image, broken)` into environment `env`'s path (a promotion).
    fn promote(
        &mut self,
        at: Nanos,
        env: u32,
        changes: &[(AppId, u32, bool)],
        message: &str,
    ) -> Result<(), LiveError>;
    /// Reads `(image, broken)` of every app at `rev` back from the repository.
    fn read_tree(&self, rev: Rev) -> Result<Vec<(u32, bool)>, LiveError>;
    /// The Deployment and ConfigMap YAML of `app` at `image` (written by `rev`), as
    /// environment `env`'s path holds it (0: the first environment, or the only path).
    fn manifests(
        &self,
        env: u32,
        rev: Rev,
        app: AppId,
        image: u32,
    ) -> Result<(String, String), LiveError>;
}

/// Hooks into a cluster's API server for faults a client cannot cause (the emulator has
/// them; kind and kubeconfig clusters do not).
pub trait ApiFaults: Send + Sync {
    fn set_brownout(&self, latency: Duration, error_rate: f64);
    fn clear_brownout(&self);
    fn outage(&self, on: bool);
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

/// The longest real wait a scenario span becomes: 30 years (tokio's own "far future").
/// A longer one is as good as never within any run, and every clock can add it.
pub const MAX_REAL_SPAN: Duration = Duration::from_secs(30 * 365 * 86_400);

/// Real time for `t` of scenario time at `scale` (`t × scale`); total: NaN and negative
/// products give zero, products beyond [`MAX_REAL_SPAN`] (or infinite) give it. Use it
/// for every scenario-to-real conversion: `Duration::from_secs_f64` panics on them.
pub fn real_span(t: Nanos, scale: f64) -> Duration {
    let ns = t as f64 * scale;
    if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else if ns >= MAX_REAL_SPAN.as_nanos() as f64 {
        MAX_REAL_SPAN
    } else {
        Duration::from_nanos(ns as u64)
    }
}

/// Scenario time for a real span at `scale` (`d / scale`); total: saturates at
/// `Nanos::MAX`, and a scale that is not a positive number gives zero.
pub fn scenario_span(d: Duration, scale: f64) -> Nanos {
    if scale.is_nan() || scale <= 0.0 {
        return 0;
    }
    // Float-to-integer `as` saturates, and NaN becomes 0.
    (d.as_nanos() as f64 / scale) as Nanos
}

pub struct LiveWorld<'a> {
    core: Core<'a>,
    /// When scenario time 0 was, on the monotonic clock.
    t0: Instant,
    scale: f64,
    repo: Box<dyn Repo>,
    clusters: Vec<ClusterHandle>,
    api_faults: Vec<Option<Arc<dyn ApiFaults>>>,
    queue: BinaryHeap<Reverse<(Nanos, u64, usize)>>,
    evs: Vec<Ev>,
    seq: u64,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    views: Vec<View>,
    applies: Vec<Option<(Apply, u32)>>,
    /// Revisions already read back from git and checked (trees never change), and the
    /// manifests read for applies.
    checked: std::collections::HashSet<Rev>,
    /// Manifests read for applies, by (environment path, manifest).
    manifest_cache: std::collections::HashMap<(u32, SpecId), (String, String)>,
    manager: Arc<str>,
    replicas: u32,
}

/// The field manager a setup applies with (`pushpull-<name>`): server-side apply records
/// it on every field the setup owns.
pub fn field_manager(setup: &Setup) -> String {
    format!("pushpull-{}", setup.name)
}

impl<'a> LiveWorld<'a> {
    pub fn new(
        s: &'a Scenario,
        plan: &'a Plan,
        setup: &'a Setup,
        repetition: u32,
        repo: Box<dyn Repo>,
        clusters: Vec<ClusterHandle>,
        api_faults: Vec<Option<Arc<dyn ApiFaults>>>,
    ) -> LiveWorld<'a> {
        let (n, apps) = (s.clusters(), s.apps());
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
            // The shared CI stage as in the sim: its steps are timers; the write-back is
            // a real commit (a pull request: a branch and a merge commit).
            core: Core::new(s, plan, setup, repetition, true),
            t0: Instant::now(),
            scale: s.time_scale,
            repo,
            clusters,
            api_faults,
            queue: BinaryHeap::new(),
            evs: Vec::new(),
            seq: 0,
            tx,
            rx,
            views,
            applies: Vec::new(),
            checked: std::collections::HashSet::new(),
            manifest_cache: std::collections::HashMap::new(),
            manager: field_manager(setup).into(),
            replicas: s.fleet.replicas.get(),
        }
    }

    fn at(&self, i: Instant) -> Nanos {
        scenario_span(i.saturating_duration_since(self.t0), self.scale)
    }

    fn real(&self, t: Nanos) -> Instant {
        let d = real_span(t, self.scale);
        // `d` is at most MAX_REAL_SPAN, which any clock can add; the fallback keeps this
        // total all the same.
        self.t0
            .checked_add(d)
            .or_else(|| self.t0.checked_add(Duration::from_secs(86_400)))
            .unwrap_or(self.t0)
    }

    /// Runs to the horizon, or until `stop` resolves (Ctrl-C): then the record is partial.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) -> (RunRecord, bool) {
        let mut watches = Vec::new();
        for c in &self.clusters {
            let tx = self.tx.clone();
            let (wtx, mut wrx) = mpsc::unbounded_channel();
            watches.push(c.spawn_watch(wtx, self.scale));
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
        self.t0 = Instant::now();
        self.start();
        let horizon = self.core.s.duration.0;
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
                self.core.processed += 1;
                let ev = self.evs[i];
                if let Some(Ev::Drift(i)) = self.dispatch_shared(ev) {
                    self.drift(i);
                }
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
                        self.core.processed += 1;
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
        // Open observations are censored where the run stopped (the horizon, or earlier).
        let end = self.now().min(horizon);
        (self.core.tracker.finish(end, self.core.processed), partial)
    }

    /// Reads a revision back from the repository and checks it against the manifests the
    /// world committed: the models run on what git really holds.
    fn checked_tree(&mut self, rev: Rev) -> Option<Arc<[SpecId]>> {
        let tree = self.core.git.trees[rev as usize].clone();
        if self.checked.contains(&rev) {
            return Some(tree);
        }
        match self.repo.read_tree(rev) {
            Ok(read) => {
                for (app, &(image, broken)) in read.iter().enumerate() {
                    let sp = self.core.git.spec(tree[app]);
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

    /// The path of the config repository `cluster`'s reconciler reads: its environment's
    /// (a pull setup with environments), else the only one (0).
    pub fn env_path(&self, cluster: ClusterId) -> u32 {
        match &self.core.promotion {
            Some(p) if self.core.setup.pull().is_some() => p.envs.env_of(cluster),
            _ => 0,
        }
    }

    /// When the pull request merged now was opened: its bot pushed the branch after the
    /// CI published the image, and the review took the rest. The write-back due now is
    /// the newest published source whose push and review have run out (a retry after a
    /// git outage merges later, but was opened then too).
    fn pr_opened(&self, now: Nanos) -> Nanos {
        let Some(d) = self.core.delivery.as_ref() else {
            return now;
        };
        d.sources[..d.published.min(d.sources.len())]
            .iter()
            .rev()
            .map(|s| {
                let opened = s.published.saturating_add(s.git_push);
                (opened, opened.saturating_add(s.review))
            })
            .find(|&(_, due)| due <= now)
            .map_or(now, |(opened, _)| opened.min(now))
    }

    fn begin_apply(&mut self, target: u32, apply: Apply) {
        if apply.op & UNDO_OP == UNDO_OP {
            self.begin_undo(target, apply);
            return;
        }
        let mut manifests = Vec::with_capacity(apply.items.len());
        let env = self.env_path(apply.cluster);
        for &(app, spec) in apply.items.iter() {
            if let Some(m) = self.manifest_cache.get(&(env, spec)) {
                manifests.push(m.clone());
                continue;
            }
            let sp = self.core.git.spec(spec);
            match self.repo.manifests(env, sp.rev, app, sp.image) {
                Ok(m) => {
                    self.manifest_cache.insert((env, spec), m.clone());
                    manifests.push(m);
                }
                Err(e) => tracing::error!(
                    "cannot read manifests of app {app} at rev {} (environment path {env}): {e}",
                    sp.rev
                ),
            }
        }
        let epoch = self.core.faults.epochs[target as usize];
        let slot = self.applies.len();
        let cluster = self.clusters[apply.cluster as usize].clone();
        let wait = real_span(apply.duration, self.scale);
        let complete = manifests.len() == apply.items.len();
        self.applies.push(Some((apply, epoch)));
        let tx = self.tx.clone();
        let manager = self.manager.clone();
        tokio::spawn(async move {
            // The model's own step time (kubectl start-up, a sync operation's overhead).
            tokio::time::sleep(wait).await;
            let mut ok = complete;
            for (dep, cm) in &manifests {
                if cluster.apply(&manager, dep, cm).await.is_err() {
                    ok = false;
                    break;
                }
            }
            let _ = tx.send(Msg::ApplyDone { slot, ok });
        });
    }

    /// The operator's `kubectl rollout undo` of a bad release (`rollback: rollout-undo`):
    /// the Deployment's template goes back to the revision that ran the last good release,
    /// straight to the cluster, its PATCH sent once the model's step time has passed (the
    /// reads before it fall within that step); git keeps the bad commit.
    fn begin_undo(&mut self, target: u32, apply: Apply) {
        let epoch = self.core.faults.epochs[target as usize];
        let slot = self.applies.len();
        let cluster = self.clusters[apply.cluster as usize].clone();
        let wait = real_span(apply.duration, self.scale);
        let releases: Vec<(AppId, String)> = apply
            .items
            .iter()
            .map(|&(app, spec)| {
                let sp = self.core.git.spec(spec);
                (app, release(app, sp.image, sp.broken))
            })
            .collect();
        self.applies.push(Some((apply, epoch)));
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let not_before = Instant::now() + wait;
            let mut ok = true;
            for (app, release) in &releases {
                match cluster.rollout_undo(*app, release, not_before).await {
                    Ok(done) => tracing::debug!(app, ?done, "rollout undo"),
                    Err(e) => {
                        tracing::warn!("{e}");
                        ok = false;
                        break;
                    }
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
                if self.core.faults.epochs[target as usize] == epoch {
                    if in_sync.is_none() {
                        self.core.tracker.counters().apply_errors += 1;
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
        let target = self.core.target_of(cluster);
        let current = self.core.faults.epochs[target as usize] == epoch;
        let now = self.now();
        // A partition or a lost cluster fails the request whatever the server said.
        let ok = ok && self.core.cluster_reachable(cluster);
        if !ok {
            self.apply_failed(&apply, current);
            return;
        }
        for &(app, spec) in apply.items.iter() {
            let i = self.core.idx(cluster, app);
            self.views[i].applied = spec;
            self.views[i].awaiting = true;
            let rev = self.core.git.spec(spec).rev;
            self.core
                .tracker
                .applied(cluster, app, rev, apply.trace, now);
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
        let i = self.core.idx(cluster, app);
        let view = self.views[i];
        let desired = self.core.git.spec(view.applied);
        let want = release(app, desired.image, desired.broken);
        let (target, watched) = self.core.addressed(cluster, app);
        let watch = self
            .core
            .setup
            .pull()
            .is_some_and(|p| p.drift_detection == DriftDetection::Watch);
        match obs {
            Observation::Deleted => {
                self.views[i].reported = None;
                self.views[i].clean = false;
                self.interrupted(cluster, app);
                if watch {
                    self.deliver(target, Input::LiveChanged { app: watched });
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
                            self.deliver(target, Input::LiveChanged { app: watched });
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
                        self.core.tracker.rolled_out(cluster, app, desired.rev, t);
                    } else {
                        self.core
                            .tracker
                            .rollout_failed(cluster, app, desired.rev, t);
                        self.detect_bad_release(view.applied, t);
                    }
                }
                if outcome && replicas == self.replicas as i32 && !self.views[i].clean {
                    self.views[i].clean = true;
                    self.core.tracker.converged(cluster, app, t);
                }
                // Whoever waits on this rollout hears its outcome once per apply.
                if first || self.views[i].awaiting || after_apply {
                    self.views[i].awaiting = false;
                    self.rollout_finished(cluster, app, view.applied, outcome);
                }
            }
        }
    }

    /// A hand edit replaced the pod template or removed the Deployment under a rollout
    /// someone waits on: as in the sim, `kubectl rollout status` reports a failure.
    fn interrupted(&mut self, cluster: ClusterId, app: AppId) {
        let i = self.core.idx(cluster, app);
        if self.views[i].awaiting {
            self.views[i].awaiting = false;
            let spec = self.views[i].applied;
            self.rollout_finished(cluster, app, spec, false);
        }
    }

    // ------------------------------------------------------------ commits

    // ------------------------------------------------------------ drift and faults

    fn drift(&mut self, i: u32) {
        let d = &self.core.plan.drifts[i as usize];
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
        let d = &self.core.plan.drifts[i as usize];
        let now = self.now();
        if ok {
            self.core
                .tracker
                .drift(d.cluster, d.app, now, d.change.name());
        } else {
            self.core.tracker.event(
                now,
                Some(d.cluster),
                Some(d.app),
                crate::measure::EventKind::DriftSkipped,
                d.change.name().into(),
            );
        }
    }
}

impl<'a> Shell<'a> for LiveWorld<'a> {
    fn core(&self) -> &Core<'a> {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core<'a> {
        &mut self.core
    }

    /// Scenario time now.
    fn now(&self) -> Nanos {
        self.at(Instant::now())
    }

    fn schedule(&mut self, t: Nanos, ev: Ev) {
        self.seq += 1;
        self.evs.push(ev);
        self.queue.push(Reverse((t, self.seq, self.evs.len() - 1)));
    }

    /// The model of git gets the change; the repository gets the same commit, or a real
    /// revert of the bad release's commit. Both must agree on the revision.
    fn write_git(&mut self, changes: &[(AppId, Option<u32>, bool)], what: GitWrite) -> Option<Rev> {
        let now = self.now();
        let rev = self.core.git.commit(changes);
        let written = match what {
            GitWrite::Commit => {
                let names: Vec<String> = changes
                    .iter()
                    .map(|&(app, _, _)| super::cluster::app_name(app))
                    .collect();
                let broken = changes.iter().any(|&(_, _, b)| b);
                let message = format!(
                    "Release {}{}",
                    names.join(", "),
                    if broken { " (broken image)" } else { "" }
                );
                let with_images: Vec<(AppId, u32, bool)> = changes
                    .iter()
                    .map(|&(app, _, broken)| {
                        let git = &self.core.git;
                        (app, git.spec(git.head[app as usize]).image, broken)
                    })
                    .collect();
                // With the CI stage a pull setup's config commits are its write-back's.
                let by = match self.core.delivery.as_ref().map(|d| d.write_back.method) {
                    None => Writer::Developer,
                    Some(WriteBackMethod::CiCommit) => Writer::Ci,
                    Some(WriteBackMethod::PullRequest) => Writer::PullRequest {
                        opened: self.pr_opened(now),
                    },
                    Some(WriteBackMethod::ImageAutomation) => Writer::ImageAutomation,
                };
                self.repo.commit(now, &with_images, &message, by)
            }
            GitWrite::Revert { bad } => self.repo.revert(now, bad),
        };
        match written {
            Ok(r) if r == rev => Some(rev),
            Ok(r) => {
                tracing::error!("git made rev {r} where the world expected {rev}");
                None
            }
            Err(e) => {
                tracing::error!("git write failed: {e}");
                None
            }
        }
    }

    /// The promotion commit goes to the repository: that environment's path gets what
    /// the core's path now holds for the promoted apps (a newer change that overtook
    /// this one stays).
    fn write_promotion(&mut self, env: u32, rev: Rev, specs: &[(AppId, SpecId)]) {
        let now = self.now();
        let Some(p) = self.core.promotion.as_ref() else {
            return;
        };
        let first = p
            .envs
            .list
            .get(env as usize)
            .and_then(|e| e.clusters.first());
        let git = &self.core.git;
        let changes: Vec<(AppId, u32, bool)> = specs
            .iter()
            .map(|&(app, spec)| {
                let now_there = first.and_then(|&c| p.desired(c, app)).unwrap_or(spec);
                let sp = git.spec(now_there);
                (app, sp.image, sp.broken)
            })
            .collect();
        let names: Vec<String> = changes
            .iter()
            .map(|&(app, _, _)| super::cluster::app_name(app))
            .collect();
        let message = format!(
            "Promote {} to {} (config rev {rev})",
            names.join(", "),
            p.envs.name(env)
        );
        if let Err(e) = self.repo.promote(now, env, &changes, &message) {
            tracing::error!("promotion commit failed: {e}");
        }
    }

    fn live_spec(&self, cluster: ClusterId, app: AppId) -> SpecId {
        self.views[self.core.idx(cluster, app)].applied
    }

    /// Brownouts and outages go through the API server's hooks (the emulator has them);
    /// a lost cluster is wiped, then cut off until it is rebuilt.
    fn fault_effect(&mut self, fault: u32, clusters: &[ClusterId], start: bool) {
        let s = self.core.s;
        match &s.faults[fault as usize] {
            Fault::ApiBrownout {
                latency,
                error_rate,
                ..
            } => {
                let mean = crate::scenario::duration::from_secs_f64(latency.mean_secs());
                let lat = real_span(mean, self.scale);
                for &c in clusters {
                    if let Some(h) = &self.api_faults[c as usize] {
                        if start {
                            h.set_brownout(lat, error_rate.0);
                        } else {
                            h.clear_brownout();
                        }
                    }
                }
            }
            Fault::ClusterLoss { cluster, .. } => {
                let c = *cluster;
                let hook = self.api_faults[c as usize].clone();
                if start {
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
                } else if let Some(h) = hook {
                    h.outage(false);
                }
            }
            // The core's bookkeeping is all these do in a live world.
            Fault::GitOutage { .. }
            | Fault::Partition { .. }
            | Fault::RunnerOutage { .. }
            | Fault::ReconcilerCrash { .. }
            | Fault::Drift { .. }
            | Fault::BadRelease { .. } => {}
        }
    }

    fn git_read(&mut self, rev: Rev) -> bool {
        self.checked_tree(rev).is_some()
    }

    fn diff(
        &mut self,
        target: u32,
        cluster: ClusterId,
        app: AppId,
        spec: SpecId,
    ) -> Option<Option<bool>> {
        let tx = self.tx.clone();
        let epoch = self.core.faults.epochs[target as usize];
        let reachable = self.core.cluster_reachable(cluster);
        let handle = self.clusters[cluster as usize].clone();
        let sp = self.core.git.spec(spec);
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
                        } => Some(release == want && !hand_image && !env_drift && r == replicas),
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
        None
    }

    fn start_apply(&mut self, target: u32, apply: Apply) {
        self.begin_apply(target, apply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;

    #[test]
    fn real_span_scales_and_is_total_at_extreme_scales() {
        assert_eq!(real_span(2 * SECOND, 0.5), Duration::from_secs(1));
        assert_eq!(real_span(u64::MAX, 1e300), MAX_REAL_SPAN);
        assert_eq!(real_span(SECOND, f64::INFINITY), MAX_REAL_SPAN);
        assert_eq!(real_span(SECOND, f64::NAN), Duration::ZERO);
        assert_eq!(real_span(SECOND, -1.0), Duration::ZERO);
        assert_eq!(real_span(u64::MAX, 1e-300), Duration::ZERO);
        assert_eq!(real_span(0, f64::INFINITY), Duration::ZERO);
        // A clock can add the longest span.
        assert!(Instant::now().checked_add(MAX_REAL_SPAN).is_some());
    }

    #[test]
    fn scenario_span_saturates_instead_of_wrapping() {
        assert_eq!(scenario_span(Duration::from_secs(1), 0.5), 2 * SECOND);
        assert_eq!(scenario_span(Duration::from_secs(1), 1e-300), u64::MAX);
        assert_eq!(scenario_span(Duration::MAX, 1.0), u64::MAX);
        assert_eq!(scenario_span(Duration::from_secs(1), 0.0), 0);
        assert_eq!(scenario_span(Duration::from_secs(1), f64::NAN), 0);
    }
}
