//! The simulator against closed-form results from queueing theory and renewal theory.
//! Each test runs enough samples that the tolerance is several standard errors wide.

use pushpull::measure::RunRecord;
use pushpull::metric::{Metric, ModelKind};
use pushpull::scenario::Scenario;

fn run(yaml: &str) -> Vec<(String, Vec<RunRecord>)> {
    let s = Scenario::parse(yaml, "test.yaml").expect("valid scenario");
    pushpull::sim::run(&s, 2)
}

fn mean(runs: &[(String, Vec<RunRecord>)], kind: ModelKind, metric: Metric) -> (f64, usize) {
    let v: Vec<f64> = runs
        .iter()
        .filter(|(k, _)| k == kind.name())
        .flat_map(|(_, reps)| reps.iter())
        .flat_map(|r| r.samples.iter())
        .filter(|s| s.metric == metric)
        .map(|s| s.value() as f64 / 1e9)
        .collect();
    (v.iter().sum::<f64>() / v.len() as f64, v.len())
}

/// Push, Poisson commits (rate λ), exponential build (rate μ), one runner, every other
/// delay zero: an M/M/1 queue, whose mean wait in queue is λ / (μ (μ − λ)). With no
/// trigger delay, the wait for the runner is the whole `ci_queue` stage.
#[test]
fn push_queue_wait_matches_mm1() {
    let runs = run("name: mm1\nduration: 10000h\nrepetitions: 4\nseed: 11\n\
         fleet: { clusters: 1, apps: 1, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
         workload: { commits: { arrival: poisson, mean_interval: 10m } }\n\
         models:\n  push:\n    preset: custom\n    runners: 1\n    concurrency: queue\n\
         \x20   queue_wait: { dist: fixed, value: 0s }\n    build: { dist: exponential, mean: 5m }\n\
         \x20   apply: { dist: fixed, value: 0s }\n    wait_for_rollout: false\n");
    let (lambda, mu) = (1.0 / 600.0, 1.0 / 300.0);
    let expected = lambda / (mu * (mu - lambda)); // 300 s
    let (got, n) = mean(&runs, ModelKind::Push, Metric::CiQueue);
    assert!(n > 200_000, "{n} samples");
    let err = (got - expected).abs() / expected;
    eprintln!("M/M/1: mean queue wait {got:.2}s over {n} runs, predicted {expected:.2}s");
    assert!(
        err < 0.05,
        "mean queue wait {got:.1}s, M/M/1 predicts {expected:.1}s ({:.1}% off)",
        err * 100.0
    );
}

/// Pull with a fixed poll interval T, no jitter, no webhook: a commit waits for the
/// next poll, uniform over the interval, so the mean detect time is T/2.
#[test]
fn pull_detect_is_half_the_poll_interval() {
    let runs = run("name: poll\nduration: 2000h\nseed: 3\n\
         fleet: { clusters: 2, apps: 10, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
         workload: { commits: { arrival: poisson, mean_interval: 5m } }\n\
         models:\n  pull:\n    preset: custom\n    refresh: poll\n    poll: { interval: 60s, jitter: 0s }\n    webhook: none\n\
         \x20   apply: { dist: fixed, value: 0s }\n");
    let (got, n) = mean(&runs, ModelKind::Pull, Metric::Detect);
    assert!(n > 40_000, "{n} samples");
    let err = (got - 30.0).abs() / 30.0;
    eprintln!("fixed poll: mean detect {got:.3}s over {n} commits, predicted 30s");
    assert!(
        err < 0.03,
        "mean detect {got:.2}s, expected 30s ({:.2}% off)",
        err * 100.0
    );
}

/// Pull with `drift_detection: interval`: drift waits for the next diff, uniform over the
/// reconcile interval R, then the apply and the rollout: R/2 + apply + rollout.
#[test]
fn interval_drift_recovery_is_half_the_reconcile_interval_plus_work() {
    let runs = run("name: interval\nduration: 2000h\nseed: 5\n\
         fleet: { clusters: 1, apps: 10, replicas: 1, rollout: { pod_start: { dist: fixed, value: 5s }, max_surge: 1, max_unavailable: 0 } }\n\
         workload: { commits: { arrival: fixed, interval: 3000h } }\n\
         models:\n  pull:\n    preset: custom\n    poll: { interval: 1h, jitter: 0s }\n    drift_detection: interval\n\
         \x20   reconcile_interval: 10m\n    apply: { dist: fixed, value: 1s }\n\
         faults:\n  - { kind: drift, change: env, arrival: poisson, mean_interval: 20m }\n");
    let expected = 300.0 + 1.0 + 5.0;
    let (got, n) = mean(&runs, ModelKind::Pull, Metric::DriftRecovery);
    assert!(n > 5_000, "{n} samples");
    let err = (got - expected).abs() / expected;
    eprintln!("interval drift: mean recovery {got:.2}s over {n} drifts, predicted {expected:.2}s");
    assert!(
        err < 0.05,
        "mean drift recovery {got:.1}s, expected {expected:.1}s ({:.1}% off)",
        err * 100.0
    );
}

/// Renewal check of the jittered poll: with interval T and uniform jitter J, the gaps
/// have mean T + J/2 and second moment E[X²]; a Poisson commit waits E[X²] / (2 E[X]).
#[test]
fn jittered_poll_detect_matches_the_renewal_residual() {
    let runs = run("name: jitter\nduration: 2000h\nseed: 9\n\
         fleet: { clusters: 2, apps: 10, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
         workload: { commits: { arrival: poisson, mean_interval: 5m } }\n\
         models:\n  pull:\n    preset: custom\n    refresh: poll\n    poll: { interval: 120s, jitter: 60s }\n\
         \x20   apply: { dist: fixed, value: 0s }\n");
    // X = 120 + U(0, 60): E[X] = 150, E[X²] = Var + E[X]² = 300 + 22500.
    let expected = (300.0 + 150.0 * 150.0) / (2.0 * 150.0);
    let (got, n) = mean(&runs, ModelKind::Pull, Metric::Detect);
    assert!(n > 40_000, "{n} samples");
    let err = (got - expected).abs() / expected;
    eprintln!("jittered poll: mean detect {got:.3}s over {n} commits, predicted {expected:.3}s");
    assert!(
        err < 0.03,
        "mean detect {got:.2}s, renewal theory predicts {expected:.2}s ({:.2}% off)",
        err * 100.0
    );
}

/// Argo CD's refresh (`refresh: resync`) with no revision cache: the resync every 120 s,
/// each app's refresh up to 60 s later and skipped when it was compared within 120 s.
/// The gaps between an app's comparisons form a stationary Markov renewal process whose
/// mean forward recurrence time (derived in `model/refresh.rs`) is 100.9 s.
#[test]
fn argocd_resync_detect_matches_its_renewal_value() {
    let runs = run("name: resync\nduration: 500h\nseed: 13\n\
         fleet: { clusters: 2, apps: 10, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
         workload: { commits: { arrival: poisson, mean_interval: 5m } }\n\
         models:\n  pull:\n    preset: argocd\n    revision_cache: 0s\n\
         \x20   apply: { dist: fixed, value: 0s }\n");
    let expected = pushpull::model::refresh::mean_detection_delay(120.0, 60.0);
    let (got, n) = mean(&runs, ModelKind::Pull, Metric::Detect);
    assert!(n > 10_000, "{n} samples");
    let err = (got - expected).abs() / expected;
    eprintln!("argocd resync: mean detect {got:.3}s over {n} commits, predicted {expected:.3}s");
    assert!(
        err < 0.03,
        "mean detect {got:.2}s, renewal theory predicts {expected:.2}s ({:.2}% off)",
        err * 100.0
    );
}
