//! Flux's API requests per reconcile, from kustomize-controller's request model
//! (docs/PRESETS.md, "Flux as it runs"): N Kustomizations of k objects reconciled once
//! for one commit cost N × (4 status patches + 2k for each object's GET and dry run + 1
//! apply of the changed object), and with `wait` the health check's polls (k GETs and
//! the Deployment's ReplicaSet and Pod lists each) and its two status patches.

/// One commit at 10 m that changes all `apps` Kustomizations of `objects` objects; no
/// interval reconcile in the run (`drift_detection: none`), so each is reconciled once.
fn api_requests(apps: u32, objects: u32, wait: bool) -> u64 {
    let yaml = format!(
        "name: flux-requests
seed: 1
duration: 15m
repetitions: 1
fleet: {{ clusters: 1, apps: {apps}, replicas: 1, rollout: {{ pod_start: 0s }} }}
ci: none
workload:
  commits: {{ arrival: fixed, interval: 10m }}
  apps_per_commit: {apps}
models:
  pull:
    preset: flux
    concurrency: 4
    webhook: {{ delay: 0s }}
    drift_detection: none
    kustomization: {{ objects: {objects}, wait: {wait}, timeout: 1m }}
"
    );
    let s = pushpull::scenario::Scenario::parse(&yaml, "flux-requests.yaml")
        .expect("the scenario parses");
    let runs = pushpull::sim::run(&s, 1);
    let pull = &runs
        .iter()
        .find(|(n, _)| n == "pull")
        .expect("a pull setup")
        .1[0];
    pull.counters.api_requests
}

#[test]
fn n_kustomizations_of_k_objects_reconciled_once_send_n_times_4_plus_2k_plus_1_requests() {
    // 10 × (4 + 2·4 + 1) = 130; one request per apply (today's flat count) would be 10.
    assert_eq!(api_requests(10, 4, false), 130);
    // 7 × (4 + 2·2 + 1) = 63.
    assert_eq!(api_requests(7, 2, false), 63);
}

#[test]
fn with_wait_each_reconcile_adds_two_health_polls_of_k_plus_2_requests_and_two_patches() {
    // The changed Deployment is seen ready at the second poll (5 s after the apply):
    // 10 × (13 + 2·(4 + 2) + 2) = 270.
    assert_eq!(api_requests(10, 4, true), 270);
}
