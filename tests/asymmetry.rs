//! The behaviours users expect from each delivery model, pinned on the shipped quickstart:
//! a watch-based reconciler undoes hand edits within seconds; a pipeline without a
//! drift-check job leaves them until it next deploys that app, or never.

use pushpull::measure::{EventKind, RunRecord};
use pushpull::metric::{Metric, ModelKind};
use pushpull::scenario::SECOND;
use std::path::Path;

fn quickstart() -> Vec<(String, Vec<RunRecord>)> {
    let s = pushpull::scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml"),
    )
    .unwrap();
    pushpull::sim::run(&s, 2)
}

fn records(runs: &[(String, Vec<RunRecord>)], kind: ModelKind) -> &[RunRecord] {
    &runs.iter().find(|(k, _)| k == kind.name()).unwrap().1
}

#[test]
fn watch_reconciler_recovers_every_drift_within_a_minute() {
    let runs = quickstart();
    let pull = records(&runs, ModelKind::Pull);
    let mut n = 0;
    for r in pull {
        assert_eq!(r.counters.drift_unrecovered, 0);
        for s in r
            .samples
            .iter()
            .filter(|s| s.metric == Metric::DriftRecovery)
        {
            assert!(
                s.value() < 60 * SECOND,
                "pull drift recovery took {}s",
                s.value() / SECOND
            );
            n += 1;
        }
    }
    assert!(n >= 10, "only {n} drift samples");
}

#[test]
fn pipeline_without_drift_check_fixes_drift_only_by_deploying_that_app() {
    let runs = quickstart();
    let push = records(&runs, ModelKind::Push);
    let mut slow_or_never = 0;
    for r in push {
        slow_or_never += r.counters.drift_unrecovered;
        for s in r
            .samples
            .iter()
            .filter(|s| s.metric == Metric::DriftRecovery)
        {
            // Something applied this app on this cluster between the drift and its end.
            let redeployed = r.events.iter().any(|e| {
                e.kind == EventKind::Applied
                    && e.cluster == s.cluster
                    && e.app == s.app
                    && e.t >= s.start
                    && e.t <= s.end
            });
            assert!(
                redeployed,
                "push drift on {:?}/{:?} ended without a deploy",
                s.cluster, s.app
            );
            if s.value() > 10 * 60 * SECOND {
                slow_or_never += 1;
            }
        }
    }
    assert!(
        slow_or_never > 0,
        "expected drift that outlives ten minutes under push"
    );
}

#[test]
fn both_models_roll_back_every_bad_release() {
    let runs = quickstart();
    for kind in ModelKind::BOTH {
        for r in records(&runs, kind) {
            let n = r
                .samples
                .iter()
                .filter(|s| s.metric == Metric::Rollback)
                .count();
            assert_eq!(n, 1, "{kind}: one bad release, one rollback");
            assert_eq!(r.counters.failed_deploys, 1, "{kind}");
        }
    }
}

/// Every scenario of the library runs in sim mode and produces deploy samples for both
/// models (repetitions cut to one to keep the suite fast).
#[test]
fn every_library_scenario_runs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let mut s = pushpull::scenario::load(&p).unwrap();
        // fleet-xl (100,000 Deployments) is a benchmark: it runs in release builds
        // (docs/PERFORMANCE.md), not in the debug test suite.
        if s.clusters() as u64 * s.apps() as u64 > 10_000 {
            continue;
        }
        s.repetitions = 1;
        for (kind, reps) in pushpull::sim::run(&s, 2) {
            let deploys = reps[0]
                .samples
                .iter()
                .filter(|x| x.metric == Metric::DeployLatency)
                .count();
            assert!(deploys > 0, "{}: {kind} deployed nothing", p.display());
        }
        n += 1;
    }
    assert!(n >= 10, "the library has {n} scenarios");
}
