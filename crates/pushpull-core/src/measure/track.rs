//! Turns what a world observes (commits, applies, rollouts, drift) into metric samples.
//! Both worlds feed it the same calls, so sim and live measure by the same rules.
//!
//! A commit counts as deployed on a cluster when, for every app it changed, a manifest
//! at least as new has rolled out there (a newer commit that supersedes it delivers it
//! too, as kube-burner and DORA count). The stages of a (commit, cluster) sample are
//! taken from the apply that completed it last, clamped into order so they sum exactly
//! to the deploy latency.
//!
//! With the shared CI stage ([`Stages::Push`], [`Stages::Pull`]) deploy latency runs from
//! the source commit: `ci_queue`, `build`, then `deploy_start` (push) or `write_back`,
//! `detect`, `queue` (pull), then `apply` and `rollout`. `delivery_latency` runs from
//! the moment the new version is ready for delivery: the config commit (pull) or the end
//! of the pipeline's build (push).
//!
//! With environments ([`Tracker::set_environments`]) a (commit, cluster) sample of a
//! later environment has two more stages, `promotion` (through the environments before)
//! and `gate` (the gate before its own), 0 in the first environment; `lead_time` runs
//! from the source commit to the last environment's last cluster.

use super::{Counters, Event, EventKind, RunRecord, Sample};
use crate::metric::Metric;
use crate::model::{AppId, ClusterId, Rev, Trace};
use crate::scenario::{Environments, Nanos};
use std::collections::{HashMap, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitKind {
    /// A workload commit: measured as deploy latency.
    Normal,
    /// A bad release: counted as failed deploys; recovered by its revert.
    Bad,
    /// The revert of a bad release: measured as rollback and failed-deploy recovery.
    Revert { bad: Rev, decided_at: Nanos },
    /// The revert that fixes git after a rollback around it (the rollback was measured
    /// when the good version rolled out): ends the git divergence.
    Fix { bad: Rev },
}

/// When a pull setup's source commit went through CI: the config commit that carries it
/// is written later (the write-back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceTimes {
    /// The source commit.
    pub at: Nanos,
    /// A runner started its CI run.
    pub started: Nanos,
    /// The image was published.
    pub published: Nanos,
}

/// Which stages a world's deploys have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stages {
    /// No shared CI stage (`ci: none`, and live mode for now): the commit is the config
    /// commit; `build` is measured when the model has a build step (push).
    Direct { with_build: bool },
    /// A push pipeline that builds and deploys the source commit.
    Push,
    /// A pull reconciler fed by CI and a write-back.
    Pull,
}

struct CommitTrack {
    at: Nanos,
    source: Option<SourceTimes>,
    kind: CommitKind,
    /// Apps not yet rolled out, per cluster; freed when every cluster is done.
    apps_left: Vec<u32>,
    clusters_left: u32,
    failed_on: Vec<bool>,
    /// With environments: clusters per environment not yet done.
    env_left: Vec<u32>,
    /// The earliest an app of the commit was picked up (went OutOfSync), on any cluster.
    first_picked: Nanos,
}

/// The environments as the tracker needs them.
struct EnvTrack {
    of_cluster: Vec<u32>,
    sizes: Vec<u32>,
    last: u32,
}

#[derive(Default)]
struct DeployTrack {
    /// Commits that changed this app and are not yet rolled out here, oldest first.
    pending: VecDeque<Rev>,
    trace: Trace,
    apply_ok: Nanos,
    /// Open drift events on this Deployment.
    drifts: Vec<u32>,
}

/// A rebuilt, empty cluster on its way back to every app at its desired revision.
struct RestoreTrack {
    start: Nanos,
    restored: Vec<bool>,
    left: u32,
}

/// A rollback around git (redeploy, rollout-undo, app-rollback): the clusters still to
/// run the good manifest again, and the divergence between live state and git.
struct UndoTrack {
    bad: Rev,
    app: AppId,
    /// The commit that wrote the good manifest.
    good_rev: Rev,
    decided_at: Nanos,
    left: Vec<ClusterId>,
    /// The good manifest was first applied (live left git's head).
    diverged: Option<Nanos>,
    /// Live state and git agree again (or git was fixed before the undo landed).
    converged: bool,
}

struct DriftTrack {
    at: Nanos,
    cluster: ClusterId,
    app: AppId,
    recovered: bool,
}

pub struct Tracker {
    apps: u32,
    clusters: u32,
    stages: Stages,
    /// Argo CD hub: a sync's wait on the rate limit is its own stage, `api_throttle_wait`
    /// (started → first apply), split out of `queue`.
    throttle_stage: bool,
    commits: Vec<Option<CommitTrack>>,
    deploys: Vec<DeployTrack>,
    drifts: Vec<DriftTrack>,
    /// Bad releases and when they were committed.
    bad_times: Vec<(Rev, Nanos)>,
    /// Rollbacks around git under way.
    undos: Vec<UndoTrack>,
    /// Per cluster: a restore in progress after a cluster loss.
    restores: Vec<Option<RestoreTrack>>,
    pub record: RunRecord,
    /// Record per-deployment timeline events (apply, rollout). Off for huge fleets.
    pub detailed_events: bool,
    envs: Option<EnvTrack>,
    /// Pull with environments: per config revision, when it reached each environment's
    /// gate and when its promotion commit landed there.
    promotions: HashMap<Rev, Vec<(u32, Nanos, Nanos)>>,
}

impl Tracker {
    pub fn new(clusters: u32, apps: u32, stages: Stages) -> Tracker {
        let n = clusters as usize * apps as usize;
        Tracker {
            apps,
            clusters,
            stages,
            commits: Vec::new(),
            deploys: (0..n).map(|_| DeployTrack::default()).collect(),
            drifts: Vec::new(),
            bad_times: Vec::new(),
            undos: Vec::new(),
            restores: (0..clusters).map(|_| None).collect(),
            record: RunRecord::default(),
            detailed_events: true,
            throttle_stage: false,
            envs: None,
            promotions: HashMap::new(),
        }
    }

    /// Measures a sync's wait on the rate limit (Argo CD hub) as the `api_throttle_wait`
    /// stage: `queue` then ends when the operation processor took the app.
    pub fn set_throttle_stage(&mut self) {
        self.throttle_stage = true;
    }

    /// Measures promotion through `envs`: the `promotion` and `gate` stages and
    /// `lead_time`.
    pub fn set_environments(&mut self, envs: &Environments) {
        self.envs = Some(EnvTrack {
            of_cluster: (0..self.clusters).map(|c| envs.env_of(c)).collect(),
            sizes: envs.list.iter().map(|e| e.clusters.len() as u32).collect(),
            last: envs.last(),
        });
    }

    /// Pull: config revision `rev` reached the gate before `env` at `open` and its
    /// promotion commit landed in `env`'s path at `landed`.
    pub fn promoted(&mut self, rev: Rev, env: u32, open: Nanos, landed: Nanos) {
        self.promotions
            .entry(rev)
            .or_default()
            .push((env, open, landed));
    }

    /// With environments: when the gate before `cluster`'s environment opened and passed
    /// for the manifest of `spec_rev` (delivering `rev`); `Some(None)` in the first
    /// environment, `None` without environments.
    fn env_bounds(
        &self,
        cluster: ClusterId,
        rev: Rev,
        spec_rev: Rev,
        trace: &Trace,
    ) -> Option<Option<(Nanos, Nanos)>> {
        let e = self.envs.as_ref()?;
        let k = e.of_cluster.get(cluster as usize).copied().unwrap_or(0);
        if k == 0 {
            return Some(None);
        }
        let pull = matches!(
            self.stages,
            Stages::Pull | Stages::Direct { with_build: false }
        );
        if !pull {
            return Some(Some((trace.gate_open, trace.gate_passed)));
        }
        let find = |r: Rev| {
            self.promotions.get(&r).and_then(|v| {
                v.iter()
                    .find(|(env, ..)| *env == k)
                    .map(|&(_, o, l)| (o, l))
            })
        };
        Some(find(spec_rev).or_else(|| find(rev)))
    }

    pub fn counters(&mut self) -> &mut Counters {
        &mut self.record.counters
    }

    pub fn event(
        &mut self,
        t: Nanos,
        cluster: Option<ClusterId>,
        app: Option<AppId>,
        kind: EventKind,
        detail: String,
    ) {
        self.record.events.push(Event {
            t,
            cluster,
            app,
            kind,
            detail,
        });
    }

    fn idx(&self, cluster: ClusterId, app: AppId) -> usize {
        cluster as usize * self.apps as usize + app as usize
    }

    /// A commit landed. `rev` must be the next revision (the initial tree is rev 0).
    pub fn commit(&mut self, rev: Rev, at: Nanos, apps: &[AppId], kind: CommitKind) {
        self.commit_from(rev, at, apps, kind, None);
    }

    /// A config commit landed at `at`, carrying a source commit that went through CI
    /// (`source`; `None`: the commit is its own source).
    pub fn commit_from(
        &mut self,
        rev: Rev,
        at: Nanos,
        apps: &[AppId],
        kind: CommitKind,
        source: Option<SourceTimes>,
    ) {
        while self.commits.len() < rev as usize {
            self.commits.push(None);
        }
        let kind_name = match kind {
            CommitKind::Normal => EventKind::Commit,
            CommitKind::Bad => EventKind::BadCommit,
            CommitKind::Revert { .. } | CommitKind::Fix { .. } => EventKind::RevertCommit,
        };
        let list: Vec<String> = apps.iter().map(|a| a.to_string()).collect();
        self.event(
            at,
            None,
            None,
            kind_name,
            format!("rev={rev} apps={}", list.join(" ")),
        );
        if let CommitKind::Fix { bad } = kind {
            self.converge(bad, at, "fix_commit");
        }
        if apps.is_empty() {
            self.commits.push(None);
            return;
        }
        for c in 0..self.clusters {
            for &a in apps {
                let i = self.idx(c, a);
                self.deploys[i].pending.push_back(rev);
            }
        }
        self.commits.push(Some(CommitTrack {
            at,
            source,
            kind,
            apps_left: vec![apps.len() as u32; self.clusters as usize],
            clusters_left: self.clusters,
            failed_on: Vec::new(),
            env_left: self.envs.as_ref().map_or(Vec::new(), |e| e.sizes.clone()),
            first_picked: Nanos::MAX,
        }));
    }

    /// An apply of `app` at `spec_rev` was acknowledged by the cluster at `now`.
    pub fn applied(
        &mut self,
        cluster: ClusterId,
        app: AppId,
        spec_rev: Rev,
        trace: Trace,
        now: Nanos,
    ) {
        let i = self.idx(cluster, app);
        self.deploys[i].trace = trace;
        self.deploys[i].apply_ok = now;
        if !self.undos.is_empty() {
            self.undo_applied(app, spec_rev, now);
        }
        if self.detailed_events {
            self.event(
                now,
                Some(cluster),
                Some(app),
                EventKind::Applied,
                format!("rev={spec_rev}"),
            );
        }
    }

    /// The Deployment finished rolling out a manifest from commit `spec_rev`.
    pub fn rolled_out(&mut self, cluster: ClusterId, app: AppId, spec_rev: Rev, now: Nanos) {
        let i = self.idx(cluster, app);
        if self.detailed_events {
            self.event(
                now,
                Some(cluster),
                Some(app),
                EventKind::RolledOut,
                format!("rev={spec_rev}"),
            );
        }
        self.restored(cluster, app, now);
        if !self.undos.is_empty() {
            self.undo_rolled_out(cluster, app, spec_rev, now);
        }
        while let Some(&rev) = self.deploys[i].pending.front() {
            if rev > spec_rev {
                break;
            }
            self.deploys[i].pending.pop_front();
            let trace = self.deploys[i].trace;
            let apply_ok = self.deploys[i].apply_ok;
            self.app_delivered(rev, spec_rev, cluster, app, trace, apply_ok, now);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn app_delivered(
        &mut self,
        rev: Rev,
        spec_rev: Rev,
        cluster: ClusterId,
        app: AppId,
        trace: Trace,
        apply_ok: Nanos,
        now: Nanos,
    ) {
        let Some(c) = self.commits[rev as usize].as_mut() else {
            return;
        };
        c.first_picked = c.first_picked.min(trace.picked_up.max(c.at));
        let left = &mut c.apps_left[cluster as usize];
        *left -= 1;
        if *left > 0 {
            return;
        }
        c.clusters_left -= 1;
        // With environments: whether this cluster completes the last environment.
        let last_env_done = match &self.envs {
            Some(e) => {
                let k = e.of_cluster.get(cluster as usize).copied().unwrap_or(0);
                match c.env_left.get_mut(k as usize) {
                    Some(left) => {
                        *left = left.saturating_sub(1);
                        *left == 0 && k == e.last
                    }
                    None => false,
                }
            }
            None => false,
        };
        let (at, source, kind, fleet_done) = (c.at, c.source, c.kind, c.clusters_left == 0);
        let first_picked = c.first_picked.min(now);
        if fleet_done {
            self.commits[rev as usize] = None;
        }
        match kind {
            CommitKind::Normal => {
                self.record.counters.deploys += 1;
                let start = self.deploy_samples(
                    cluster, app, rev, spec_rev, at, source, trace, apply_ok, now,
                );
                if last_env_done {
                    self.record.samples.push(Sample {
                        metric: Metric::LeadTime,
                        cluster: None,
                        app: None,
                        commit: Some(rev),
                        start,
                        end: now,
                    });
                }
                if fleet_done {
                    self.record.samples.push(Sample {
                        metric: Metric::FleetDeployLatency,
                        cluster: None,
                        app: None,
                        commit: Some(rev),
                        start,
                        end: now,
                    });
                    if self.throttle_stage {
                        self.record.samples.push(Sample {
                            metric: Metric::FleetSyncTime,
                            cluster: None,
                            app: None,
                            commit: Some(rev),
                            start: first_picked,
                            end: now,
                        });
                    }
                }
            }
            CommitKind::Revert { bad, decided_at } => {
                self.record.counters.deploys += 1;
                if fleet_done {
                    let bad_at = self.bad_release_time(bad).unwrap_or(at);
                    for (metric, start) in [
                        (Metric::Rollback, decided_at),
                        (Metric::FailedDeployRecovery, bad_at),
                    ] {
                        self.record.samples.push(Sample {
                            metric,
                            cluster: None,
                            app: None,
                            commit: Some(rev),
                            start,
                            end: now,
                        });
                    }
                    self.event(
                        now,
                        None,
                        None,
                        EventKind::RollbackComplete,
                        format!("rev={rev} bad={bad}"),
                    );
                }
            }
            CommitKind::Fix { .. } => self.record.counters.deploys += 1,
            CommitKind::Bad => {}
        }
    }

    /// A rollback around git of bad release `bad` (on `app`, back to the manifest written
    /// by `good_rev`) was decided at `now`, for the clusters running the bad manifest.
    pub fn undo_started(
        &mut self,
        bad: Rev,
        app: AppId,
        good_rev: Rev,
        now: Nanos,
        clusters: &[ClusterId],
    ) {
        self.undos.push(UndoTrack {
            bad,
            app,
            good_rev,
            decided_at: now,
            left: clusters.to_vec(),
            diverged: None,
            converged: false,
        });
    }

    /// An apply of `app` from commit `spec_rev`: the good manifest of an undo starts the
    /// divergence from git; the bad one applied again ends it (live equals git again).
    fn undo_applied(&mut self, app: AppId, spec_rev: Rev, now: Nanos) {
        let mut again = Vec::new();
        for u in self
            .undos
            .iter_mut()
            .filter(|u| u.app == app && !u.converged)
        {
            if spec_rev == u.good_rev && u.diverged.is_none() {
                u.diverged = Some(now);
                self.record.events.push(Event {
                    t: now,
                    cluster: None,
                    app: Some(app),
                    kind: EventKind::GitDiverged,
                    detail: format!("bad={}", u.bad),
                });
            } else if spec_rev == u.bad && u.diverged.is_some() {
                again.push(u.bad);
            }
        }
        for bad in again {
            self.converge(bad, now, "bad_reapplied");
        }
    }

    /// Live state and git agree again for bad release `bad`'s undo: its divergence ends.
    fn converge(&mut self, bad: Rev, now: Nanos, how: &str) {
        let Some(u) = self.undos.iter_mut().find(|u| u.bad == bad && !u.converged) else {
            return;
        };
        u.converged = true;
        let (app, diverged) = (u.app, u.diverged);
        if let Some(start) = diverged {
            self.record.samples.push(Sample {
                metric: Metric::GitDivergence,
                cluster: None,
                app: Some(app),
                commit: Some(bad),
                start,
                end: now,
            });
            self.event(
                now,
                None,
                Some(app),
                EventKind::GitConverged,
                format!("bad={bad} by={how}"),
            );
        }
    }

    /// The good manifest of an undo rolled out on `cluster`: once on every cluster that
    /// ran the bad one, the rollback (and the failed deploy's recovery) is measured.
    fn undo_rolled_out(&mut self, cluster: ClusterId, app: AppId, spec_rev: Rev, now: Nanos) {
        let mut done = Vec::new();
        for u in self.undos.iter_mut() {
            if u.app != app || u.good_rev != spec_rev {
                continue;
            }
            if let Some(p) = u.left.iter().position(|&c| c == cluster) {
                u.left.swap_remove(p);
                if u.left.is_empty() {
                    done.push((u.bad, u.decided_at));
                }
            }
        }
        for (bad, decided_at) in done {
            let bad_at = self.bad_release_time(bad).unwrap_or(decided_at);
            for (metric, start) in [
                (Metric::Rollback, decided_at),
                (Metric::FailedDeployRecovery, bad_at),
            ] {
                self.record.samples.push(Sample {
                    metric,
                    cluster: None,
                    app: None,
                    commit: Some(bad),
                    start,
                    end: now,
                });
            }
            self.event(
                now,
                None,
                None,
                EventKind::RollbackComplete,
                format!("bad={bad} undo"),
            );
        }
    }

    /// The samples of one (commit, cluster) deploy: the total, its stages (bounds clamped
    /// into order, so they sum exactly to the total) and the delivery latency. Returns
    /// when the deploy started (the source commit).
    #[allow(clippy::too_many_arguments)]
    fn deploy_samples(
        &mut self,
        cluster: ClusterId,
        app: AppId,
        rev: Rev,
        spec_rev: Rev,
        at: Nanos,
        source: Option<SourceTimes>,
        trace: Trace,
        apply_ok: Nanos,
        now: Nanos,
    ) -> Nanos {
        let mut out: Vec<(Metric, Nanos, Nanos)> = Vec::with_capacity(11);
        let envs = self.env_bounds(cluster, rev, spec_rev, &trace);
        // The promotion and gate stages from `ready` on, clamped into order; without
        // environments nothing is added and the next stage starts at `ready`.
        let gates = |out: &mut Vec<(Metric, Nanos, Nanos)>, ready: Nanos| -> Nanos {
            match envs {
                None => ready,
                Some(b) => {
                    let (open, passed) = b.unwrap_or((ready, ready));
                    let g1 = open.clamp(ready, now);
                    let g2 = passed.clamp(g1, now);
                    out.push((Metric::Promotion, ready, g1));
                    out.push((Metric::Gate, g1, g2));
                    g2
                }
            }
        };
        let start = match self.stages {
            Stages::Direct {
                with_build: true, ..
            } if envs.is_some() => {
                // A pipeline without the CI stage, environment by environment: the gate
                // stage also holds the wait for the next deploy job's runner.
                let b1 = trace.picked_up.clamp(at, now);
                let b2 = trace.started.clamp(b1, now);
                let built = trace.built.clamp(b2, now);
                out.push((Metric::DeployLatency, at, now));
                out.push((Metric::Detect, at, b1));
                out.push((Metric::Queue, b1, b2));
                out.push((Metric::Build, b2, built));
                let g = gates(&mut out, built);
                if let Some((m, s, _)) = out.pop() {
                    let b3 = trace.first_apply.clamp(g, now);
                    out.push((m, s, b3));
                }
                let b3 = trace.first_apply.clamp(g, now);
                let b4 = apply_ok.clamp(b3, now);
                out.push((Metric::Apply, b3, b4));
                out.push((Metric::Rollout, b4, now));
                out.push((Metric::DeliveryLatency, built, now));
                at
            }
            Stages::Direct { with_build } => {
                let g = if with_build { at } else { gates(&mut out, at) };
                let b1 = trace.picked_up.clamp(g, now);
                let b2 = trace.started.clamp(b1, now);
                let b3 = trace.first_apply.clamp(b2, now);
                let b4 = apply_ok.clamp(b3, now);
                out.insert(0, (Metric::DeployLatency, at, now));
                out.push((Metric::Detect, g, b1));
                out.push((Metric::Queue, b1, b2));
                if self.throttle_stage {
                    out.push((Metric::ApiThrottleWait, b2, b3));
                }
                if with_build {
                    out.push((Metric::Build, b2, b3));
                }
                out.push((Metric::Apply, b3, b4));
                out.push((Metric::Rollout, b4, now));
                let ready = if with_build {
                    trace.built.clamp(at, now)
                } else {
                    at
                };
                out.push((Metric::DeliveryLatency, ready, now));
                at
            }
            Stages::Push => {
                let b1 = trace.started.clamp(at, now);
                let b2 = trace.built.clamp(b1, now);
                out.push((Metric::DeployLatency, at, now));
                out.push((Metric::CiQueue, at, b1));
                out.push((Metric::Build, b1, b2));
                let g = gates(&mut out, b2);
                let b3 = trace.first_apply.clamp(g, now);
                let b4 = apply_ok.clamp(b3, now);
                out.push((Metric::DeployStart, g, b3));
                out.push((Metric::Apply, b3, b4));
                out.push((Metric::Rollout, b4, now));
                out.push((Metric::DeliveryLatency, b2, now));
                at
            }
            Stages::Pull => {
                let src = source.unwrap_or(SourceTimes {
                    at,
                    started: at,
                    published: at,
                });
                let s0 = src.at.min(at);
                let c1 = src.started.clamp(s0, now);
                let c2 = src.published.clamp(c1, now);
                let c3 = at.clamp(c2, now);
                out.push((Metric::DeployLatency, s0, now));
                out.push((Metric::CiQueue, s0, c1));
                out.push((Metric::Build, c1, c2));
                out.push((Metric::WriteBack, c2, c3));
                let g = gates(&mut out, c3);
                let b1 = trace.picked_up.clamp(g, now);
                let b2 = trace.started.clamp(b1, now);
                let b3 = trace.first_apply.clamp(b2, now);
                let b4 = apply_ok.clamp(b3, now);
                out.push((Metric::Detect, g, b1));
                // A sync worker applies as soon as it starts (b2 = b3 for pull), unless it
                // waits on the hub's rate limit.
                if self.throttle_stage {
                    out.push((Metric::Queue, b1, b2));
                    out.push((Metric::ApiThrottleWait, b2, b3));
                } else {
                    out.push((Metric::Queue, b1, b3));
                }
                out.push((Metric::Apply, b3, b4));
                out.push((Metric::Rollout, b4, now));
                out.push((Metric::DeliveryLatency, c3, now));
                s0
            }
        };
        for (metric, start, end) in out {
            self.record.samples.push(Sample {
                metric,
                cluster: Some(cluster),
                app: Some(app),
                commit: Some(rev),
                start,
                end,
            });
        }
        start
    }

    fn bad_release_time(&self, bad: Rev) -> Option<Nanos> {
        self.bad_times
            .iter()
            .find(|(r, _)| *r == bad)
            .map(|(_, t)| *t)
    }

    /// A rollout of a manifest from commit `spec_rev` exceeded its progress deadline.
    pub fn rollout_failed(&mut self, cluster: ClusterId, app: AppId, spec_rev: Rev, now: Nanos) {
        self.event(
            now,
            Some(cluster),
            Some(app),
            EventKind::RolloutFailed,
            format!("rev={spec_rev}"),
        );
        if let Some(Some(c)) = self.commits.get_mut(spec_rev as usize) {
            if c.failed_on.is_empty() {
                c.failed_on = vec![false; self.clusters as usize];
            }
            if !c.failed_on[cluster as usize] {
                c.failed_on[cluster as usize] = true;
                self.record.counters.failed_deploys += 1;
            }
        }
    }

    /// Remembers when a bad release was committed (its revert outlives its track).
    pub fn note_bad_release(&mut self, rev: Rev, at: Nanos) {
        self.bad_times.push((rev, at));
    }

    /// Someone changed a live Deployment by hand; returns the drift's id.
    pub fn drift(
        &mut self,
        cluster: ClusterId,
        app: AppId,
        now: Nanos,
        change: &'static str,
    ) -> u32 {
        let id = self.drifts.len() as u32;
        self.drifts.push(DriftTrack {
            at: now,
            cluster,
            app,
            recovered: false,
        });
        let i = self.idx(cluster, app);
        self.deploys[i].drifts.push(id);
        self.record.counters.drift_events += 1;
        self.event(
            now,
            Some(cluster),
            Some(app),
            EventKind::Drift,
            change.to_string(),
        );
        id
    }

    /// The Deployment's live state equals the desired state again: every open drift on
    /// it is recovered.
    pub fn converged(&mut self, cluster: ClusterId, app: AppId, now: Nanos) {
        let i = self.idx(cluster, app);
        if self.deploys[i].drifts.is_empty() {
            return;
        }
        let open = std::mem::take(&mut self.deploys[i].drifts);
        for id in open {
            let d = &mut self.drifts[id as usize];
            d.recovered = true;
            let (at, c, a) = (d.at, d.cluster, d.app);
            self.record.samples.push(Sample {
                metric: Metric::DriftRecovery,
                cluster: Some(c),
                app: Some(a),
                commit: None,
                start: at,
                end: now,
            });
            self.event(
                now,
                Some(c),
                Some(a),
                EventKind::DriftRecovered,
                format!("after_s={:.3}", now.saturating_sub(at) as f64 / 1e9),
            );
        }
    }

    /// A lost cluster is back online, empty: measure until every app runs again.
    pub fn restore_started(&mut self, cluster: ClusterId, now: Nanos) {
        self.restores[cluster as usize] = Some(RestoreTrack {
            start: now,
            restored: vec![false; self.apps as usize],
            left: self.apps,
        });
    }

    fn restored(&mut self, cluster: ClusterId, app: AppId, now: Nanos) {
        let Some(r) = self.restores[cluster as usize].as_mut() else {
            return;
        };
        if r.restored[app as usize] {
            return;
        }
        r.restored[app as usize] = true;
        r.left -= 1;
        if r.left == 0 {
            let start = r.start;
            self.restores[cluster as usize] = None;
            self.record.samples.push(Sample {
                metric: Metric::ClusterRestore,
                cluster: Some(cluster),
                app: None,
                commit: None,
                start,
                end: now,
            });
            self.event(
                now,
                Some(cluster),
                None,
                EventKind::ClusterRestored,
                format!("after_s={:.3}", now.saturating_sub(start) as f64 / 1e9),
            );
        }
    }

    /// Ends the run at `end` (the horizon, or when a live run was stopped): what never
    /// finished is counted, not dropped, and each open drift, deploy, rollback and
    /// restore becomes a right-censored observation lasting from its start to `end`
    /// (`RunRecord::censored`, in that order).
    pub fn finish(mut self, end: Nanos, engine_events: u64) -> RunRecord {
        self.record.counters.drift_unrecovered =
            self.drifts.iter().filter(|d| !d.recovered).count() as u64;
        let mut censored = Vec::new();
        let open = |metric, cluster, app, commit, start: Nanos| Sample {
            metric,
            cluster,
            app,
            commit,
            start: start.min(end),
            end,
        };
        for d in self.drifts.iter().filter(|d| !d.recovered) {
            censored.push(open(
                Metric::DriftRecovery,
                Some(d.cluster),
                Some(d.app),
                None,
                d.at,
            ));
        }
        let mut incomplete = 0u64;
        for (rev, c) in self.commits.iter().enumerate() {
            let Some(c) = c else { continue };
            match c.kind {
                CommitKind::Normal => {
                    // A deploy starts at the source commit (see `deploy_samples`).
                    let start = match (self.stages, c.source) {
                        (Stages::Pull, Some(src)) => src.at.min(c.at),
                        _ => c.at,
                    };
                    for (cluster, &left) in c.apps_left.iter().enumerate() {
                        if left > 0 {
                            incomplete += 1;
                            censored.push(open(
                                Metric::DeployLatency,
                                Some(cluster as ClusterId),
                                None,
                                Some(rev as Rev),
                                start,
                            ));
                        }
                    }
                }
                CommitKind::Revert { bad, decided_at } => {
                    // Not yet on every cluster: the rollback is still under way.
                    let bad_at = self.bad_release_time(bad).unwrap_or(c.at);
                    for (metric, start) in [
                        (Metric::Rollback, decided_at),
                        (Metric::FailedDeployRecovery, bad_at),
                    ] {
                        censored.push(open(metric, None, None, Some(rev as Rev), start));
                    }
                }
                CommitKind::Bad | CommitKind::Fix { .. } => {}
            }
        }
        for u in self.undos.iter().filter(|u| !u.left.is_empty()) {
            let bad_at = self.bad_release_time(u.bad).unwrap_or(u.decided_at);
            for (metric, start) in [
                (Metric::Rollback, u.decided_at),
                (Metric::FailedDeployRecovery, bad_at),
            ] {
                censored.push(open(metric, None, None, Some(u.bad), start));
            }
        }
        for (cluster, r) in self.restores.iter().enumerate() {
            if let Some(r) = r {
                censored.push(open(
                    Metric::ClusterRestore,
                    Some(cluster as ClusterId),
                    None,
                    None,
                    r.start,
                ));
            }
        }
        self.record.counters.deploys_incomplete = incomplete;
        self.record.counters.clusters_unrestored = self.restores.iter().flatten().count() as u64;
        self.record.censored = censored;
        self.record.engine_events = engine_events;
        self.record
    }
}
