//! Measurement: what one run of one model observed (samples, a timeline, counters), the
//! tracker that turns world observations into metric samples, and the summary across
//! repetitions. Pure: no clock, no files; the worlds feed it, the report writes it.

pub mod audit;
pub mod bootstrap;
pub mod cost;
pub mod credentials;
pub mod seed;
pub mod select;
pub mod summary;
pub mod survival;
pub mod track;

use crate::metric::Metric;
use crate::model::{AppId, ClusterId, NoteKind, Rev};
use crate::scenario::Nanos;
use serde::Serialize;

/// One measured interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub metric: Metric,
    pub cluster: Option<ClusterId>,
    pub app: Option<AppId>,
    pub commit: Option<Rev>,
    pub start: Nanos,
    pub end: Nanos,
}

impl Sample {
    /// The interval's length (zero if the ends were ever out of order).
    pub fn value(&self) -> Nanos {
        self.end.saturating_sub(self.start)
    }
}

/// What a timeline line records. The names ([`EventKind::name`]) are what events.csv
/// keeps in its `event` column: they are stable, and readers match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A commit landed on the deployed branch (`detail`: its revision and the apps it changes).
    Commit,
    /// A commit that releases a bad version landed (a `bad_release` fault).
    BadCommit,
    /// A commit reverting a bad release landed.
    RevertCommit,
    /// A cluster acknowledged an apply of one app's manifest.
    Applied,
    /// One app's Deployment finished rolling out on one cluster.
    RolledOut,
    /// One app's rollout exceeded its progress deadline on one cluster.
    RolloutFailed,
    /// A revert of a bad release finished rolling out on every cluster.
    RollbackComplete,
    /// Someone else changed one app's live objects (`detail`: what changed).
    Drift,
    /// Live objects that had drifted match git again.
    DriftRecovered,
    /// A planned drift could not be made (the Deployment was gone, or the cluster refused the edit).
    DriftSkipped,
    /// A lost cluster, rebuilt, runs every app again.
    ClusterRestored,
    /// A webhook for a commit was dropped before it reached the reconciler.
    WebhookLost,
    /// A commit was not delivered because every app it changes is frozen.
    CommitHeld,
    /// A bad release was not pushed because every app is frozen.
    BadReleaseHeld,
    /// Monitoring noticed a bad release.
    BadReleaseDetected,
    /// A revert of a bad release was decided (`detail`: the bad and the revert revision).
    RollbackDecided,
    /// An apply to a cluster failed (unreachable or refused).
    ApplyError,
    /// A fault window opened (`detail`: the fault kind).
    FaultStart,
    /// A fault window closed (`detail`: the fault kind).
    FaultEnd,
    /// Push: a pipeline run was triggered and queued for a runner.
    RunQueued,
    /// Push: a runner took a pipeline run.
    RunStarted,
    /// Push: a pending pipeline run was replaced by a newer one (concurrency group).
    RunCancelled,
    /// Push: a pipeline run applied to every cluster (and its rollouts finished, when it waits for them).
    RunSucceeded,
    /// Push: a pipeline run ended failed (a checkout or an apply given up, or a failed rollout).
    RunFailed,
    /// Push: the scheduled drift-check job started.
    DriftCheckStarted,
    /// Pull: a sync of one app started.
    SyncStarted,
    /// Pull: a sync of one app failed and will be retried.
    SyncFailed,
    /// Pull: a self-heal was scheduled after its backoff (`detail`: the backoff).
    SelfHealScheduled,
    /// Pull: an app's health turned degraded (its rollout failed).
    Degraded,
    /// Pull: a git fetch failed (git unreachable).
    FetchFailed,
    /// Push: a checkout failed (git unreachable).
    CheckoutFailed,
    /// Push: an apply to one cluster failed (it is retried, or the cluster is left to a later run).
    ApplyFailed,
    /// Pull: the reconciler process restarted with empty memory.
    ReconcilerRestarted,
    /// Pull: a write-back could not push its config commit (git unreachable); it is tried
    /// again (`detail`: the batch).
    WriteBackFailed,
    /// Pull with the CI stage: a source commit entered CI (`detail`: its number among the
    /// source commits and the apps it changes; its config commit comes with the
    /// write-back).
    SourceCommit,
    /// With environments: a change reached the gate before an environment (`detail`: the
    /// environment, the gate's kind, the push run or pull revision).
    GateOpened,
    /// With environments: the gate passed (push: the run goes on to the environment).
    GatePassed,
    /// With environments: an automated check failed; the change stops before the
    /// environment.
    GateFailed,
    /// Pull with environments: a promotion commit put a change into an environment's path.
    Promoted,
    /// Pull with `promotion: pull-request`: the promotion PR into an environment's path
    /// was reviewed and merged (`detail`: the environment, the revision, when the PR was
    /// opened and how long its review took); the `promoted` event follows at once.
    PromotionMerged,
    /// Pull: automated sync was re-enabled after an app rollback (`detail`: the bad
    /// release).
    AutoSyncEnabled,
    /// A rollback around git is live somewhere while git still names the bad version
    /// (`detail`: the bad release).
    GitDiverged,
    /// Live state and git agree again after a rollback around git (`detail`: how).
    GitConverged,
    /// Pull, Flux: a Kustomization reported Ready for a revision (after its health check
    /// with `wait`; `detail`: the revision).
    Ready,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 44] = [
        EventKind::Commit,
        EventKind::BadCommit,
        EventKind::RevertCommit,
        EventKind::Applied,
        EventKind::RolledOut,
        EventKind::RolloutFailed,
        EventKind::RollbackComplete,
        EventKind::Drift,
        EventKind::DriftRecovered,
        EventKind::DriftSkipped,
        EventKind::ClusterRestored,
        EventKind::WebhookLost,
        EventKind::CommitHeld,
        EventKind::BadReleaseHeld,
        EventKind::BadReleaseDetected,
        EventKind::RollbackDecided,
        EventKind::ApplyError,
        EventKind::FaultStart,
        EventKind::FaultEnd,
        EventKind::RunQueued,
        EventKind::RunStarted,
        EventKind::RunCancelled,
        EventKind::RunSucceeded,
        EventKind::RunFailed,
        EventKind::DriftCheckStarted,
        EventKind::SyncStarted,
        EventKind::SyncFailed,
        EventKind::SelfHealScheduled,
        EventKind::Degraded,
        EventKind::FetchFailed,
        EventKind::CheckoutFailed,
        EventKind::ApplyFailed,
        EventKind::ReconcilerRestarted,
        EventKind::WriteBackFailed,
        EventKind::SourceCommit,
        EventKind::GateOpened,
        EventKind::GatePassed,
        EventKind::GateFailed,
        EventKind::Promoted,
        EventKind::PromotionMerged,
        EventKind::AutoSyncEnabled,
        EventKind::GitDiverged,
        EventKind::GitConverged,
        EventKind::Ready,
    ];

    /// The stable name events.csv writes.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::BadCommit => "bad_commit",
            EventKind::RevertCommit => "revert_commit",
            EventKind::Applied => "applied",
            EventKind::RolledOut => "rolled_out",
            EventKind::RolloutFailed => "rollout_failed",
            EventKind::RollbackComplete => "rollback_complete",
            EventKind::Drift => "drift",
            EventKind::DriftRecovered => "drift_recovered",
            EventKind::DriftSkipped => "drift_skipped",
            EventKind::ClusterRestored => "cluster_restored",
            EventKind::WebhookLost => "webhook_lost",
            EventKind::CommitHeld => "commit_held",
            EventKind::BadReleaseHeld => "bad_release_held",
            EventKind::BadReleaseDetected => "bad_release_detected",
            EventKind::RollbackDecided => "rollback_decided",
            EventKind::ApplyError => "apply_error",
            EventKind::FaultStart => "fault_start",
            EventKind::FaultEnd => "fault_end",
            EventKind::RunQueued => "run_queued",
            EventKind::RunStarted => "run_started",
            EventKind::RunCancelled => "run_cancelled",
            EventKind::RunSucceeded => "run_succeeded",
            EventKind::RunFailed => "run_failed",
            EventKind::DriftCheckStarted => "drift_check_started",
            EventKind::SyncStarted => "sync_started",
            EventKind::SyncFailed => "sync_failed",
            EventKind::SelfHealScheduled => "self_heal_scheduled",
            EventKind::Degraded => "degraded",
            EventKind::FetchFailed => "fetch_failed",
            EventKind::CheckoutFailed => "checkout_failed",
            EventKind::ApplyFailed => "apply_failed",
            EventKind::ReconcilerRestarted => "reconciler_restarted",
            EventKind::WriteBackFailed => "write_back_failed",
            EventKind::SourceCommit => "source_commit",
            EventKind::GateOpened => "gate_opened",
            EventKind::GatePassed => "gate_passed",
            EventKind::GateFailed => "gate_failed",
            EventKind::Promoted => "promoted",
            EventKind::PromotionMerged => "promotion_pr_merged",
            EventKind::AutoSyncEnabled => "auto_sync_enabled",
            EventKind::GitDiverged => "git_diverged",
            EventKind::GitConverged => "git_converged",
            EventKind::Ready => "ready",
        }
    }

    /// The kind events.csv calls `name`, if any.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<NoteKind> for EventKind {
    /// The timeline line a model's note becomes.
    fn from(n: NoteKind) -> EventKind {
        match n {
            NoteKind::RunQueued => EventKind::RunQueued,
            NoteKind::RunStarted => EventKind::RunStarted,
            NoteKind::RunCancelled => EventKind::RunCancelled,
            NoteKind::RunSucceeded => EventKind::RunSucceeded,
            NoteKind::RunFailed => EventKind::RunFailed,
            NoteKind::DriftCheckStarted => EventKind::DriftCheckStarted,
            NoteKind::SyncStarted => EventKind::SyncStarted,
            NoteKind::SyncFailed => EventKind::SyncFailed,
            NoteKind::SelfHealScheduled => EventKind::SelfHealScheduled,
            NoteKind::Degraded => EventKind::Degraded,
            NoteKind::FetchFailed => EventKind::FetchFailed,
            NoteKind::CheckoutFailed => EventKind::CheckoutFailed,
            NoteKind::ApplyFailed => EventKind::ApplyFailed,
            NoteKind::Restarted => EventKind::ReconcilerRestarted,
            NoteKind::Ready => EventKind::Ready,
        }
    }
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub t: Nanos,
    pub cluster: Option<ClusterId>,
    pub app: Option<AppId>,
    pub kind: EventKind,
    pub detail: String,
}

/// Counters of one run (names are part of summary.json's contract).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// (commit, cluster) pairs rolled out.
    pub deploys: u64,
    /// (commit, cluster) pairs whose rollout failed.
    pub failed_deploys: u64,
    pub drift_events: u64,
    /// Drift never corrected before the horizon.
    pub drift_unrecovered: u64,
    /// Requests to cluster APIs: one per app per apply (its Deployment and ConfigMap),
    /// one per diff.
    pub api_requests: u64,
    /// Ref checks that reach the config repository's git host (`ls-remote`, a poll's ref
    /// advertisement), after any revision cache.
    pub git_ref_checks: u64,
    /// Object transfers from the config repository (a fetch of a revision the reconciler
    /// did not have).
    pub git_fetches: u64,
    /// CI checkouts of the source repository (the push pipeline, or a pull setup's CI).
    pub git_checkouts: u64,
    pub apply_errors: u64,
    /// (commit, cluster) pairs not yet rolled out at the horizon.
    pub deploys_incomplete: u64,
    /// Lost clusters rebuilt but not yet running every app at the horizon.
    pub clusters_unrestored: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.deploys = self.deploys.saturating_add(o.deploys);
        self.failed_deploys = self.failed_deploys.saturating_add(o.failed_deploys);
        self.drift_events = self.drift_events.saturating_add(o.drift_events);
        self.drift_unrecovered = self.drift_unrecovered.saturating_add(o.drift_unrecovered);
        self.api_requests = self.api_requests.saturating_add(o.api_requests);
        self.git_ref_checks = self.git_ref_checks.saturating_add(o.git_ref_checks);
        self.git_fetches = self.git_fetches.saturating_add(o.git_fetches);
        self.git_checkouts = self.git_checkouts.saturating_add(o.git_checkouts);
        self.apply_errors = self.apply_errors.saturating_add(o.apply_errors);
        self.deploys_incomplete = self.deploys_incomplete.saturating_add(o.deploys_incomplete);
        self.clusters_unrestored = self
            .clusters_unrestored
            .saturating_add(o.clusters_unrestored);
    }

    /// Each counter's definition, in [`Counters::named`] order: what the report's
    /// methodology section prints.
    pub const DEFINITIONS: [(&'static str, &'static str); 11] = [
        ("deploys", "(commit, cluster) pairs rolled out."),
        (
            "failed_deploys",
            "(commit, cluster) pairs whose rollout failed.",
        ),
        ("drift_events", "manual edits injected into clusters."),
        ("drift_unrecovered", "drift still live when the run ended."),
        (
            "api_requests",
            "object writes sent to cluster APIs (one per app per apply).",
        ),
        (
            "git_ref_checks",
            "branch ref checks (ls-remote) that reach the config repository's git host, after any revision cache.",
        ),
        (
            "git_fetches",
            "object transfers from the config repository: a reconciler fetching a revision it did not have.",
        ),
        (
            "git_checkouts",
            "CI checkouts of the source repository (a pipeline run or a pull setup's CI build).",
        ),
        ("apply_errors", "applies the cluster API refused."),
        (
            "deploys_incomplete",
            "(commit, cluster) pairs not yet rolled out when the run ended.",
        ),
        (
            "clusters_unrestored",
            "lost clusters rebuilt but not yet running every app at its desired revision when the run ended.",
        ),
    ];

    pub fn named(&self) -> [(&'static str, u64); 11] {
        [
            ("deploys", self.deploys),
            ("failed_deploys", self.failed_deploys),
            ("drift_events", self.drift_events),
            ("drift_unrecovered", self.drift_unrecovered),
            ("api_requests", self.api_requests),
            ("git_ref_checks", self.git_ref_checks),
            ("git_fetches", self.git_fetches),
            ("git_checkouts", self.git_checkouts),
            ("apply_errors", self.apply_errors),
            ("deploys_incomplete", self.deploys_incomplete),
            ("clusters_unrestored", self.clusters_unrestored),
        ]
    }
}

/// Every setup's records, one per repetition: `(setup name, records)` in the scenario's
/// order of setups.
pub type Runs = Vec<(String, Vec<RunRecord>)>;

/// Everything one model observed in one repetition.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    /// Completed observations.
    pub samples: Vec<Sample>,
    /// Right-censored observations: a drift, deploy, rollback or restore still open when
    /// the run ended, its `end` the run's end (it lasted *at least* `value()`). Only
    /// drift_recovery, deploy_latency, rollback, failed_deploy_recovery and
    /// cluster_restore have them.
    pub censored: Vec<Sample>,
    pub events: Vec<Event>,
    pub counters: Counters,
    /// Events the engine processed (for engine statistics).
    pub engine_events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kind_names_are_unique_and_read_back() {
        let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_name(k.name()), Some(k));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
        assert_eq!(EventKind::from_name("no_such_event"), None);
    }

    #[test]
    fn model_notes_keep_the_names_events_csv_had() {
        assert_eq!(
            EventKind::from(NoteKind::Restarted).name(),
            "reconciler_restarted"
        );
        assert_eq!(
            EventKind::from(NoteKind::RunCancelled).name(),
            "run_cancelled"
        );
        assert_eq!(
            EventKind::from(NoteKind::SelfHealScheduled).name(),
            "self_heal_scheduled"
        );
    }
}
