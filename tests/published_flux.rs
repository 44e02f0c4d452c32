//! fluxcd/flux-benchmark reproduced (RESULTS.md, Flux v2.9.0; docs/VALIDATION.md, "Flux"):
//! N Kustomizations pushed at once through kustomize-controller's `--concurrent=20`
//! workers, each of four objects with `wait: true`. Both points come out of the flux
//! preset's one calibration; the scenarios write only the benchmark's setup.

use pushpull::measure::{EventKind, RunRecord};
use std::collections::BTreeMap;
use std::path::Path;

/// Seconds from the commit that changed every app to the last app's first `ready` event
/// for that commit's revision: the benchmark's "duration" (push to the last
/// Kustomization Ready).
fn push_to_last_ready(r: &RunRecord) -> f64 {
    let commit = r
        .events
        .iter()
        .find(|e| e.kind == EventKind::Commit)
        .expect("the scenario's one commit")
        .t;
    let rev = "rev=1";
    let mut first: BTreeMap<u32, u64> = BTreeMap::new();
    for e in r.events.iter() {
        if e.kind == EventKind::Ready && e.detail == rev && e.t >= commit {
            first.entry(e.app.expect("a Kustomization")).or_insert(e.t);
        }
    }
    let last = *first.values().max().expect("a ready Kustomization");
    (last - commit) as f64 / 1e9
}

/// Runs a published scenario; returns pushpull's figure and the app count.
fn measure(file: &str) -> (f64, usize, u32) {
    let s = pushpull::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("the scenario loads");
    let runs = pushpull::sim::run(&s, 1);
    let pull = &runs
        .iter()
        .find(|(n, _)| n == "pull")
        .expect("a pull setup")
        .1[0];
    let ready = pull
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Ready && e.detail == "rev=1")
        .map(|e| e.app)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    (push_to_last_ready(pull), ready, s.apps())
}

fn within_15_percent(file: &str, published: f64) -> f64 {
    let (got, ready, apps) = measure(file);
    assert_eq!(ready, apps as usize, "{file}: every Kustomization is Ready");
    let off = (got - published) / published;
    assert!(
        off.abs() <= 0.15,
        "{file}: pushpull {got:.1} s against the published {published} s ({:+.1}%)",
        off * 100.0
    );
    got
}

#[test]
fn flux_benchmark_100_kustomizations_ready_within_15_percent_of_26_s() {
    within_15_percent("scenarios/published/flux-benchmark-100.yaml", 26.0);
}

#[test]
fn flux_benchmark_1000_kustomizations_ready_within_15_percent_of_4m13s() {
    within_15_percent("scenarios/published/flux-benchmark-1000.yaml", 253.0);
}

/// The two points share one preset: what separates them is the number of rounds of 20
/// workers, each one health-check poll long, so ten times the Kustomizations take about
/// ten times as long (the benchmark: 253 s / 26 s = 9.7).
#[test]
fn ten_times_the_kustomizations_take_about_ten_times_as_long() {
    let (small, _, _) = measure("scenarios/published/flux-benchmark-100.yaml");
    let (large, _, _) = measure("scenarios/published/flux-benchmark-1000.yaml");
    let ratio = large / small;
    assert!(
        (9.0..=10.5).contains(&ratio),
        "{large:.1} / {small:.1} = {ratio:.2}"
    );
}
