//! The metric vocabulary. Names are part of the product contract (the README's metric table): other tools
//! read them from summary.json and samples.csv, so they never change.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Commit created → every app it changed rolled out on one cluster.
    DeployLatency,
    /// Commit created → rolled out on every cluster.
    FleetDeployLatency,
    /// Commit → picked up by the delivery model.
    Detect,
    /// Picked up → work starts (a runner for push, a sync worker for pull).
    Queue,
    /// Runner starts → first apply (push only: the build step).
    Build,
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
}

impl Metric {
    pub const ALL: [Metric; 11] = [
        Metric::DeployLatency,
        Metric::FleetDeployLatency,
        Metric::Detect,
        Metric::Queue,
        Metric::Build,
        Metric::Apply,
        Metric::Rollout,
        Metric::DriftRecovery,
        Metric::Rollback,
        Metric::FailedDeployRecovery,
        Metric::ClusterRestore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::DeployLatency => "deploy_latency",
            Metric::FleetDeployLatency => "fleet_deploy_latency",
            Metric::Detect => "detect",
            Metric::Queue => "queue",
            Metric::Build => "build",
            Metric::Apply => "apply",
            Metric::Rollout => "rollout",
            Metric::DriftRecovery => "drift_recovery",
            Metric::Rollback => "rollback",
            Metric::FailedDeployRecovery => "failed_deploy_recovery",
            Metric::ClusterRestore => "cluster_restore",
        }
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
