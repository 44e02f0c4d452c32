//! Live mode: the same delivery models in real time, against real Kubernetes API servers
//! (the embedded emulator, kind clusters, or a kubeconfig context) and a real git
//! repository (gix). The shell differs from the sim; the models, the tracker and the
//! reports do not.

mod cluster;
mod driver;
pub mod git;
pub mod guard;
pub mod kind;
pub mod preflight;
mod run;

pub use run::{
    LiveOptions, LiveOutcome, Target, check_app_groups, check_rollback, check_time_scale,
    preflight, run_live, unsupported_faults,
};

use crate::model::ClusterId;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cluster {cluster}: {what}: {source}")]
    Kube {
        cluster: ClusterId,
        what: String,
        source: Box<kube::Error>,
    },
    #[error("a manifest in the run's git repository is not valid YAML: {0}")]
    Manifest(String),
    #[error("git: {0}")]
    Git(String),
    #[error("emulator: {0}")]
    Emulator(String),
    #[error("{0}")]
    Setup(String),
    #[error("interrupted during {0}")]
    Interrupted(String),
    #[error(
        "{tool} is needed for --mode {mode} but was not found on PATH; install it ({how}) or use --mode emulated, which needs nothing"
    )]
    MissingTool {
        tool: &'static str,
        mode: &'static str,
        how: &'static str,
    },
    #[error(
        "refusing context `{0}`: pushpull only touches kind-pushpull-* clusters and the emulator unless you name the context with --allow-context {0}"
    )]
    ContextRefused(String),
    #[error(
        "refusing context `{context}`: {reason}, so its name does not make it a pushpull cluster; if you mean to run against that cluster (pushpull empties its pushpull-live-* namespaces), name it with {fix}"
    )]
    ContextNotLocal {
        context: String,
        /// As kube-rs would reach it; `reason` names it too.
        server: String,
        reason: String,
        fix: String,
    },
    #[error(
        "cannot tell where context `{context}` points: {reason} (see `kubectl config get-contexts`)"
    )]
    ContextUnresolved { context: String, reason: String },
    #[error(
        "{asked} kind cluster(s) asked for: between 1 and {max} ({why})",
        max = kind::MAX_CLUSTERS,
        why = kind::MAX_CLUSTERS_WHY
    )]
    KindClusters { asked: u32 },
    #[error(
        "time_scale {scale} shortens the harness's delays, but a real cluster starts pods and \
         enforces progressDeadlineSeconds in real time, so its rollouts would read {factor:.0}x \
         too long; run with --time-scale 1 (the scenario's {duration} then take that long), or \
         use --mode emulated, which scales the cluster too"
    )]
    TimeScale {
        scale: f64,
        factor: f64,
        duration: String,
    },
    #[error(
        "app group `{group}` has its own replicas or rollout, but the live config repository \
         writes one Deployment shape for every app; run this scenario with --mode sim, or give \
         every group the fleet's replicas and rollout"
    )]
    AppGroups { group: String },
    #[error(
        "setup `{setup}` rolls back with `{method}`, which live modes do not carry out yet \
         (they roll back by a revert commit); run this scenario with --mode sim, or write \
         `rollback: revert-commit` for that setup"
    )]
    Rollback { setup: String, method: &'static str },
}
