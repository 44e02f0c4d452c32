//! Definitions of every metric and counter, as the report's methodology section prints
//! them (the README's "What it measures" table says the same).

/// Each metric's definition (as the README's "What it measures" table), for the methodology section.
pub const DEFINITIONS: [(&str, &str); 11] = [
    (
        "deploy_latency",
        "one (commit, cluster) pair: commit created → every app it changed rolled out on that cluster (kubectl rollout status rules: observedGeneration current, updated = available = desired replicas, no old replicas).",
    ),
    (
        "fleet_deploy_latency",
        "one commit: commit created → rolled out on every cluster.",
    ),
    (
        "detect",
        "stage of deploy_latency: commit → picked up by the delivery model.",
    ),
    (
        "queue",
        "stage of deploy_latency: picked up → work starts (a pipeline runner, or a sync worker).",
    ),
    (
        "build",
        "stage of deploy_latency: work starts → first apply (push only: the build step).",
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
        "one bad release: rollback decided → last good version rolled out everywhere.",
    ),
    (
        "failed_deploy_recovery",
        "one bad release: bad commit created → healthy again everywhere (DORA failed deployment recovery time).",
    ),
    (
        "cluster_restore",
        "one lost cluster: empty cluster back online → every app at its desired revision again.",
    ),
];

/// Each counter's definition, in `measure::Counters::named()` order (a test checks both
/// lists name the same counters).
pub const COUNTER_DEFINITIONS: [(&str, &str); 9] = [
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
    ("git_fetches", "git fetches and checkouts."),
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

#[cfg(test)]
mod tests {
    use super::COUNTER_DEFINITIONS;
    use crate::measure::Counters;

    #[test]
    fn every_counter_has_a_definition_in_counter_order() {
        let defined: Vec<&str> = COUNTER_DEFINITIONS.iter().map(|(name, _)| *name).collect();
        let counted: Vec<&str> = Counters::default()
            .named()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(defined, counted);
    }
}
