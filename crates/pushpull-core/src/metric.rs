//! The metric vocabulary. Names are part of the product contract (the README's metric table): other tools
//! read them from summary.json and samples.csv, so they never change.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Source commit created → every app it changed rolled out on one cluster.
    DeployLatency,
    /// Source commit created → rolled out on every cluster.
    FleetDeployLatency,
    /// With environments: source commit → rolled out on every cluster of the last one.
    LeadTime,
    /// New version ready for delivery (config commit; push: build ended) → rolled out.
    DeliveryLatency,
    /// Source commit → a CI runner starts its run.
    CiQueue,
    /// Commit → picked up by the delivery model.
    Detect,
    /// Picked up → work starts (a runner for push, a sync worker for pull).
    Queue,
    /// Runner starts → image published.
    Build,
    /// Pull: image published → the config commit carrying it lands.
    WriteBack,
    /// With environments: ready in the first environment → the environment before this
    /// one runs it everywhere (its gate opens).
    Promotion,
    /// With environments: the gate opens → passed (push) or the promotion commit lands
    /// (pull).
    Gate,
    /// Push: build ended → first apply.
    DeployStart,
    /// First apply → last apply acknowledged.
    Apply,
    /// Last apply acknowledged → rolled out.
    Rollout,
    /// Drift injected → live state equals desired again.
    DriftRecovery,
    /// Rollback decided → last good version rolled out everywhere.
    Rollback,
    /// Bad commit created → healthy again everywhere.
    FailedDeployRecovery,
    /// Empty cluster back online → every app at its desired revision again.
    ClusterRestore,
    /// A rollback around git applied → git names the good version again (or the bad one
    /// is live again).
    GitDivergence,
    /// Argo CD hub: an operation processor took the app → its apply went (the wait on the
    /// controller's client-side rate limit and kubectl parallelism limit).
    ApiThrottleWait,
    /// Argo CD hub: the first app of a commit OutOfSync → the last rolled out (Synced).
    FleetSyncTime,
}

impl Metric {
    pub const ALL: [Metric; 21] = [
        Metric::DeployLatency,
        Metric::FleetDeployLatency,
        Metric::LeadTime,
        Metric::DeliveryLatency,
        Metric::CiQueue,
        Metric::Detect,
        Metric::Queue,
        Metric::Build,
        Metric::WriteBack,
        Metric::Promotion,
        Metric::Gate,
        Metric::DeployStart,
        Metric::Apply,
        Metric::Rollout,
        Metric::DriftRecovery,
        Metric::Rollback,
        Metric::FailedDeployRecovery,
        Metric::ClusterRestore,
        Metric::GitDivergence,
        Metric::ApiThrottleWait,
        Metric::FleetSyncTime,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::DeployLatency => "deploy_latency",
            Metric::FleetDeployLatency => "fleet_deploy_latency",
            Metric::LeadTime => "lead_time",
            Metric::DeliveryLatency => "delivery_latency",
            Metric::CiQueue => "ci_queue",
            Metric::Detect => "detect",
            Metric::Queue => "queue",
            Metric::Build => "build",
            Metric::WriteBack => "write_back",
            Metric::Promotion => "promotion",
            Metric::Gate => "gate",
            Metric::DeployStart => "deploy_start",
            Metric::Apply => "apply",
            Metric::Rollout => "rollout",
            Metric::DriftRecovery => "drift_recovery",
            Metric::Rollback => "rollback",
            Metric::FailedDeployRecovery => "failed_deploy_recovery",
            Metric::ClusterRestore => "cluster_restore",
            Metric::GitDivergence => "git_divergence",
            Metric::ApiThrottleWait => "api_throttle_wait",
            Metric::FleetSyncTime => "fleet_sync_time",
        }
    }

    /// Each metric's definition (as the README's "What it measures" table), in
    /// [`Metric::ALL`] order: what the report's methodology section prints.
    pub const DEFINITIONS: [(&'static str, &'static str); 21] = [
        (
            "deploy_latency",
            "one (commit, cluster) pair: source commit created → every app it changed rolled out on that cluster (kubectl rollout status rules: observedGeneration current, updated = available = desired replicas, no old replicas). With the shared CI stage (the default) it runs through CI and, for pull, the write-back; with `ci: none` the commit is the config commit.",
        ),
        (
            "fleet_deploy_latency",
            "one commit: source commit created → rolled out on every cluster.",
        ),
        (
            "lead_time",
            "one commit, with environments: source commit created → rolled out on every cluster of the last environment (DORA lead time for changes, through every environment and gate on the way). Per environment: the same to every cluster of that environment, in summary.json's `environments` of each setup.",
        ),
        (
            "delivery_latency",
            "one (commit, cluster) pair: the new version ready for delivery → rolled out on that cluster; for pull the config commit (the figure deploy_latency was before the CI stage), for push the end of the pipeline's build. The delivery-only comparison.",
        ),
        (
            "ci_queue",
            "stage of deploy_latency: source commit → a CI runner starts its run (trigger delay and the wait for a runner; the same draws for every setup).",
        ),
        (
            "detect",
            "stage of deploy_latency: config commit → picked up by the delivery model (pull; push without the CI stage: the pipeline's trigger).",
        ),
        (
            "queue",
            "stage of deploy_latency: picked up → work starts (a sync worker; push without the CI stage: a runner).",
        ),
        (
            "build",
            "stage of deploy_latency: a CI runner starts → image published (checkout, build and tests).",
        ),
        (
            "write_back",
            "stage of deploy_latency, pull: image published → the config commit carrying the new tag lands (a CI commit, a reviewed pull request, or an image-automation controller's commit).",
        ),
        (
            "promotion",
            "stage of deploy_latency, with environments: the change is ready in the first environment (push: image published; pull: config commit) → every cluster of the environment before this one runs it and the gate opens; 0 in the first environment.",
        ),
        (
            "gate",
            "stage of deploy_latency, with environments: the gate before the cluster's environment opens → it passes (push: soak, approval or check) or the promotion commit lands in the environment's path (pull: the gate and CI's git push); 0 in the first environment.",
        ),
        (
            "deploy_start",
            "stage of deploy_latency, push: image published → the pipeline's first apply.",
        ),
        (
            "apply",
            "stage of deploy_latency: first apply → last apply acknowledged.",
        ),
        (
            "rollout",
            "stage of deploy_latency: last apply acknowledged → rolled out.",
        ),
        (
            "drift_recovery",
            "one drift event: drift injected → live state equals desired again. Drift never recovered before the horizon is counted in drift_unrecovered, never silently dropped.",
        ),
        (
            "rollback",
            "one bad release: rollback decided → last good version rolled out everywhere (on every cluster that ran the bad one, for a rollback around git: redeploy, rollout-undo, app-rollback).",
        ),
        (
            "failed_deploy_recovery",
            "one bad release: bad commit created → healthy again everywhere (DORA failed deployment recovery time).",
        ),
        (
            "cluster_restore",
            "one lost cluster: empty cluster back online → every app at its desired revision again.",
        ),
        (
            "git_divergence",
            "one bad release rolled back around git (redeploy, rollout-undo, app-rollback): the good version applied while git still names the bad one → git names the good version again (the fix commit) or the bad version is applied again; a divergence still open at the horizon has no sample.",
        ),
        (
            "api_throttle_wait",
            "stage of deploy_latency, Argo CD with `topology: hub`: an operation processor took the app → its apply went; the time its sync's API requests waited on the controller's client-side rate limit (`qps`, `burst`) and for a kubectl slot. Without the hub there is no such stage (and no sample).",
        ),
        (
            "fleet_sync_time",
            "one commit, Argo CD with `topology: hub`: the first app the commit changed goes OutOfSync (its comparison's status is written) on any cluster → the last one is rolled out (Synced) everywhere; the sync time of the AWS Argo CD scalability tests (docs/VALIDATION.md).",
        ),
    ];

    /// What the metric measures, in a sentence.
    pub fn definition(self) -> &'static str {
        Metric::DEFINITIONS
            .iter()
            .find(|(n, _)| *n == self.name())
            .map_or("", |(_, d)| d)
    }

    pub fn from_name(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == s)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The two delivery models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Push,
    Pull,
}

impl ModelKind {
    pub const BOTH: [ModelKind; 2] = [ModelKind::Push, ModelKind::Pull];
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Push => "push",
            ModelKind::Pull => "pull",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A summary statistic a threshold can bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Quantile {
    P50,
    P90,
    P95,
    P99,
    Max,
    Mean,
}

impl Quantile {
    pub fn name(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P95 => "p95",
            Quantile::P99 => "p99",
            Quantile::Max => "max",
            Quantile::Mean => "mean",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_its_definition_in_order() {
        for (m, (name, def)) in Metric::ALL.iter().zip(Metric::DEFINITIONS) {
            assert_eq!(m.name(), name);
            assert!(def.len() > 20 && m.definition() == def, "{m}");
        }
    }
}
