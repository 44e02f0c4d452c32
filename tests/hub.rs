//! The Argo CD hub (`topology: hub`) end to end in the sim: its keys are refused without
//! it, and where it does not model something yet; a hub run delivers every commit, its
//! stages (with `api_throttle_wait`) sum to deploy latency, and the shards split git's
//! ref checks and the clusters between them.

use pushpull::metric::Metric;
use pushpull::scenario::Scenario;
use std::process::Command;

const BASE: &str = "name: hub\nseed: 7\nduration: 3h\nrepetitions: 1\nci: none\nfleet:\n  clusters: 6\n  apps: 5\n  replicas: 1\nworkload:\n  commits: { arrival: poisson, mean_interval: 10m }\n  apps_per_commit: 2\n";

fn scenario(models: &str) -> String {
    format!("{BASE}models:\n{models}")
}

fn refusal(text: &str) -> String {
    match Scenario::parse(text, "t.yaml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn hub_keys_without_topology_hub_are_refused_with_the_key_and_the_fix() {
    let e = refusal(&scenario(
        "  a: { kind: pull, preset: argocd, shards: 3 }\n  b: { kind: pull, preset: argocd }\n",
    ));
    assert!(
        e.contains("models.a.shards") && e.contains("topology: hub"),
        "{e}"
    );
    let e = refusal(&scenario(
        "  a: { kind: pull, preset: flux, topology: hub }\n  b: { kind: pull, preset: argocd }\n",
    ));
    assert!(
        e.contains("models.a.topology") && e.contains("preset: argocd"),
        "{e}"
    );
    let e = refusal(&format!(
        "{}faults:\n  - {{ kind: reconciler_crash, at: 1h, restart_after: 5m }}\n",
        scenario(
            "  a: { kind: pull, preset: argocd, topology: hub }\n  b: { kind: pull, preset: argocd }\n"
        )
    ));
    assert!(
        e.contains("faults[0]") && e.contains("topology: hub"),
        "{e}"
    );
}

#[test]
fn the_validate_command_exits_2_on_a_hub_key_without_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(
        &file,
        scenario(
            "  a: { kind: pull, preset: argocd, qps: 100 }\n  b: { kind: pull, preset: argocd }\n",
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("models.a.qps"));
}

#[test]
fn a_sharded_hub_delivers_every_commit_with_stages_that_sum_to_deploy_latency() {
    let s = Scenario::parse(
        &scenario(
            "  hub:\n    kind: pull\n    preset: argocd\n    topology: hub\n    shards: 3\n    sharding: round-robin\n    qps: 2\n    burst: 5\n  one:\n    kind: pull\n    preset: argocd\n    topology: hub\n    qps: 2\n    burst: 5\n",
        ),
        "t.yaml",
    )
    .unwrap();
    let runs = pushpull::sim::run(&s, 2);
    let record = |name: &str| &runs.iter().find(|(n, _)| n == name).unwrap().1[0];
    for name in ["hub", "one"] {
        let r = record(name);
        // Every commit but those of the last minutes is delivered on every cluster.
        let late = s.clusters() as u64 * 2;
        assert!(
            r.counters.deploys_incomplete <= late && r.counters.deploys > 100,
            "{name}: {:?}",
            r.counters
        );
        let total = |m: Metric| -> u64 {
            r.samples
                .iter()
                .filter(|x| x.metric == m)
                .map(|x| x.end - x.start)
                .sum()
        };
        let stages = [
            Metric::Detect,
            Metric::Queue,
            Metric::ApiThrottleWait,
            Metric::Apply,
            Metric::Rollout,
        ];
        assert_eq!(
            stages.iter().map(|&m| total(m)).sum::<u64>(),
            total(Metric::DeployLatency),
            "{name}"
        );
        // 2 requests a second: syncs of 13 requests each wait on the bucket.
        assert!(total(Metric::ApiThrottleWait) > 0, "{name}");
        assert!(
            r.samples.iter().any(|x| x.metric == Metric::FleetSyncTime),
            "{name}"
        );
    }
    // Three shards resolve the branch on their own: more ref checks than one controller,
    // and three buckets let syncs wait less.
    let (hub, one) = (record("hub"), record("one"));
    assert!(
        hub.counters.git_ref_checks > one.counters.git_ref_checks,
        "{} vs {}",
        hub.counters.git_ref_checks,
        one.counters.git_ref_checks
    );
    let wait = |r: &pushpull::measure::RunRecord| -> u64 {
        r.samples
            .iter()
            .filter(|x| x.metric == Metric::ApiThrottleWait)
            .map(|x| x.end - x.start)
            .sum()
    };
    assert!(wait(hub) < wait(one));
}

/// A rebuilt cluster is re-listed by the hub's watch: every app of it is healed by the
/// shard that serves it (the cluster's index is not a model instance of the hub).
#[test]
fn a_lost_cluster_served_by_a_shard_is_restored_after_its_rebuild() {
    let s = Scenario::parse(
        &format!(
            "{}faults:\n  - {{ kind: cluster_loss, cluster: 5, at: 1h, rebuild_after: 10m }}\n",
            scenario(
                "  hub: { kind: pull, preset: argocd, topology: hub, shards: 2 }\n  one: { kind: pull, preset: argocd, topology: hub }\n"
            )
        ),
        "t.yaml",
    )
    .unwrap();
    let runs = pushpull::sim::run(&s, 2);
    for (name, records) in &runs {
        let r = &records[0];
        assert_eq!(
            r.counters.clusters_unrestored, 0,
            "{name}: {:?}",
            r.counters
        );
        let restores = r
            .samples
            .iter()
            .filter(|x| x.metric == Metric::ClusterRestore)
            .count();
        assert_eq!(restores, 1, "{name}");
    }
}
