//! Published Argo CD figures reproduced by the hub model (`topology: hub`), one test per
//! point, each within 15% (docs/VALIDATION.md has the table and the commands).
//!
//! Source: AWS Open Source Blog, "Argo CD Application Controller Scalability Testing on
//! Amazon EKS" (13 Sep 2023): one application controller, one repo-server, 10,000 apps of
//! one 2 KB ConfigMap each, one commit that changes all of them; the sync time runs from
//! the first app OutOfSync to the last Synced, which is pushpull's `fleet_sync_time`.
//! The preset's request counts are set once (docs/PRESETS.md), not per point.

use pushpull::metric::Metric;
use std::path::Path;

const MINUTE: f64 = 60.0;

/// Runs a published scenario (one repetition) in the sim.
fn run(file: &str) -> pushpull::measure::Runs {
    let s = pushpull::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("the published scenario loads");
    pushpull::sim::run(&s, 2)
}

/// `metric` of setup `name`'s one sample (one commit), in seconds.
fn one(runs: &pushpull::measure::Runs, name: &str, metric: Metric) -> f64 {
    let samples: Vec<f64> = runs
        .iter()
        .find(|(n, _)| n == name)
        .expect("the setup ran")
        .1
        .iter()
        .flat_map(|r| &r.samples)
        .filter(|x| x.metric == metric)
        .map(|x| (x.end - x.start) as f64 / 1e9)
        .collect();
    assert_eq!(samples.len(), 1, "{name}: one commit, one {metric}");
    samples[0]
}

fn within(measured: f64, published: f64, what: &str) {
    let err = measured / published - 1.0;
    assert!(
        err.abs() <= 0.15,
        "{what}: pushpull {:.1} min against the published {:.1} min ({:+.1}%)",
        measured / MINUTE,
        published / MINUTE,
        err * 100.0
    );
}

#[test]
fn aws_10k_apps_on_one_cluster() {
    let t = run("scenarios/published/argocd-aws-10k.yaml");
    let of = |name: &str| one(&t, name, Metric::FleetSyncTime);
    // Default settings: 42-43 min.
    within(of("default"), 42.5 * MINUTE, "defaults");
    // Status/operation processors 25/50: 41 min; the rate limit, not the processors,
    // is the bottleneck, so five times the operation processors changes nothing.
    within(of("processors"), 41.0 * MINUTE, "processors 25/50");
    let gain = of("default") / of("processors");
    assert!(
        (0.95..1.10).contains(&gain),
        "more processors sped it up {gain:.2}×: processors became the bottleneck"
    );
    // Client QPS/burst 100/200: 17 min.
    within(of("qps"), 17.0 * MINUTE, "QPS/burst 100/200");
}

/// 10,000 apps over 10 clusters with one unsharded controller: about 45 min, about what
/// one cluster takes, since the controller's rate limit is shared by every cluster, while
/// a controller per cluster (pushpull's `topology: per-cluster`) is refuted by it.
#[test]
fn aws_10k_apps_on_ten_clusters_take_what_one_cluster_takes() {
    // The one-cluster default setup alone.
    let s = pushpull::scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/published/argocd-aws-10k.yaml"),
    )
    .expect("the published scenario loads");
    let setup = s.models.get("default").expect("the default setup");
    let plan = pushpull::plan::Plan::draw(&s, 0);
    let record = pushpull::sim::run_one(&s, &plan, setup, 0);
    let single = one(
        &vec![("default".to_string(), vec![record])],
        "default",
        Metric::FleetSyncTime,
    );
    let t = run("scenarios/published/argocd-aws-10k-10-clusters.yaml");
    let ten = one(&t, "hub", Metric::FleetSyncTime);
    within(ten, 45.0 * MINUTE, "10 clusters, no sharding");
    // Published: 45 / 42.5 = 1.06.
    let ratio = ten / single;
    assert!(
        (0.95..1.10).contains(&ratio),
        "10 clusters / 1 cluster = {ratio:.2}"
    );
    let per_cluster = one(&t, "per-cluster", Metric::FleetDeployLatency);
    assert!(
        per_cluster < 0.25 * 45.0 * MINUTE,
        "a controller per cluster takes {:.1} min: it should be far under the published 45",
        per_cluster / MINUTE
    );
}

/// CNOE's client rate limit sweep (Argo CD Benchmarking Part 2, Experiment 1): 15,000
/// apps on three clusters, one controller. The time halves from QPS 50 to 100 and stops
/// improving past 150, where the operation processors' syncs, not the rate limit, bind.
/// (Also a regression test: 15,000 comparisons queued at once once recursed per app and
/// overflowed the stack of a debug build.)
#[test]
fn cnoe_15k_apps_rate_limit_sweep() {
    let t = run("scenarios/published/argocd-cnoe-15k-qps.yaml");
    let of = |name: &str| one(&t, name, Metric::FleetSyncTime);
    for (setup, published) in [
        ("qps-50", 61.5),
        ("qps-100", 29.5),
        ("qps-150", 19.0),
        ("qps-200", 18.0),
        ("qps-250", 17.5),
        ("qps-300", 18.0),
    ] {
        within(of(setup), published * MINUTE, setup);
    }
    let gain = of("qps-150") / of("qps-300");
    assert!(
        gain < 1.15,
        "QPS 300 is {gain:.2}× faster than 150: the controller's syncs should bind past 150"
    );
}
