//! Turns what a world observes (commits, applies, rollouts, drift) into metric samples.
//! Both worlds feed it the same calls, so sim and live measure by the same rules.
//!
//! A commit counts as deployed on a cluster when, for every app it changed, a manifest
//! at least as new has rolled out there (a newer commit that supersedes it delivers it
//! too, as kube-burner and DORA count). The stages of a (commit, cluster) sample are
//! taken from the apply that completed it last, clamped into order so they sum exactly
//! to the deploy latency.

use super::{Counters, Event, EventKind, RunRecord, Sample};
use crate::metric::Metric;
use crate::model::{AppId, ClusterId, Rev, Trace};
use crate::scenario::Nanos;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitKind {
    /// A workload commit: measured as deploy latency.
    Normal,
    /// A bad release: counted as failed deploys; recovered by its revert.
    Bad,
    /// The revert of a bad release: measured as rollback and failed-deploy recovery.
    Revert { bad: Rev, decided_at: Nanos },
}

struct CommitTrack {
    at: Nanos,
    kind: CommitKind,
    /// Apps not yet rolled out, per cluster; freed when every cluster is done.
    apps_left: Vec<u32>,
    clusters_left: u32,
    failed_on: Vec<bool>,
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

struct DriftTrack {
    at: Nanos,
    cluster: ClusterId,
    app: AppId,
    recovered: bool,
}

pub struct Tracker {
    apps: u32,
    clusters: u32,
    with_build_stage: bool,
    commits: Vec<Option<CommitTrack>>,
    deploys: Vec<DeployTrack>,
    drifts: Vec<DriftTrack>,
    /// Bad releases and when they were committed.
    bad_times: Vec<(Rev, Nanos)>,
    /// Per cluster: a restore in progress after a cluster loss.
    restores: Vec<Option<RestoreTrack>>,
    pub record: RunRecord,
    /// Record per-deployment timeline events (apply, rollout). Off for huge fleets.
    pub detailed_events: bool,
}

impl Tracker {
    /// `with_build_stage`: the model has a build step (push) worth its own stage.
    pub fn new(clusters: u32, apps: u32, with_build_stage: bool) -> Tracker {
        let n = clusters as usize * apps as usize;
        Tracker {
            apps,
            clusters,
            with_build_stage,
            commits: Vec::new(),
            deploys: (0..n).map(|_| DeployTrack::default()).collect(),
            drifts: Vec::new(),
            bad_times: Vec::new(),
            restores: (0..clusters).map(|_| None).collect(),
            record: RunRecord::default(),
            detailed_events: true,
        }
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
        while self.commits.len() < rev as usize {
            self.commits.push(None);
        }
        let kind_name = match kind {
            CommitKind::Normal => EventKind::Commit,
            CommitKind::Bad => EventKind::BadCommit,
            CommitKind::Revert { .. } => EventKind::RevertCommit,
        };
        let list: Vec<String> = apps.iter().map(|a| a.to_string()).collect();
        self.event(
            at,
            None,
            None,
            kind_name,
            format!("rev={rev} apps={}", list.join(" ")),
        );
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
            kind,
            apps_left: vec![apps.len() as u32; self.clusters as usize],
            clusters_left: self.clusters,
            failed_on: Vec::new(),
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
        while let Some(&rev) = self.deploys[i].pending.front() {
            if rev > spec_rev {
                break;
            }
            self.deploys[i].pending.pop_front();
            let trace = self.deploys[i].trace;
            let apply_ok = self.deploys[i].apply_ok;
            self.app_delivered(rev, cluster, app, trace, apply_ok, now);
        }
    }

    fn app_delivered(
        &mut self,
        rev: Rev,
        cluster: ClusterId,
        app: AppId,
        trace: Trace,
        apply_ok: Nanos,
        now: Nanos,
    ) {
        let Some(c) = self.commits[rev as usize].as_mut() else {
            return;
        };
        let left = &mut c.apps_left[cluster as usize];
        *left -= 1;
        if *left > 0 {
            return;
        }
        c.clusters_left -= 1;
        let (at, kind, fleet_done) = (c.at, c.kind, c.clusters_left == 0);
        if fleet_done {
            self.commits[rev as usize] = None;
        }
        match kind {
            CommitKind::Normal => {
                self.record.counters.deploys += 1;
                let b1 = trace.picked_up.clamp(at, now);
                let b2 = trace.started.clamp(b1, now);
                let b3 = trace.first_apply.clamp(b2, now);
                let b4 = apply_ok.clamp(b3, now);
                let mut push = |metric, start, end| {
                    self.record.samples.push(Sample {
                        metric,
                        cluster: Some(cluster),
                        app: Some(app),
                        commit: Some(rev),
                        start,
                        end,
                    })
                };
                push(Metric::DeployLatency, at, now);
                push(Metric::Detect, at, b1);
                push(Metric::Queue, b1, b2);
                if self.with_build_stage {
                    push(Metric::Build, b2, b3);
                }
                push(Metric::Apply, b3, b4);
                push(Metric::Rollout, b4, now);
                if fleet_done {
                    self.record.samples.push(Sample {
                        metric: Metric::FleetDeployLatency,
                        cluster: None,
                        app: None,
                        commit: Some(rev),
                        start: at,
                        end: now,
                    });
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
            CommitKind::Bad => {}
        }
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

    /// Ends the run at the horizon: what never finished is counted, not dropped.
    pub fn finish(mut self, engine_events: u64) -> RunRecord {
        self.record.counters.drift_unrecovered =
            self.drifts.iter().filter(|d| !d.recovered).count() as u64;
        let mut incomplete = 0u64;
        for c in self.commits.iter().flatten() {
            if c.kind == CommitKind::Normal {
                incomplete += c.apps_left.iter().filter(|&&l| l > 0).count() as u64;
            }
        }
        self.record.counters.deploys_incomplete = incomplete;
        self.record.counters.clusters_unrestored = self.restores.iter().flatten().count() as u64;
        self.record.engine_events = engine_events;
        self.record
    }
}
