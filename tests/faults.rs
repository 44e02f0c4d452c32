//! Each fault kind pins the asymmetry between the delivery models that users expect:
//! where a pull agent keeps working and a pipeline stalls, and the other way round.

use pushpull::measure::{EventKind, RunRecord, Sample};
use pushpull::metric::{Metric, ModelKind};
use pushpull::scenario::{MINUTE, Nanos, SECOND, Scenario};

/// A small fleet with fast, deterministic rollouts, so that the fault's effect is the
/// only thing of interest; `extra` adds models and faults.
fn scenario(name: &str, extra: &str) -> Scenario {
    scenario_with_commits(name, "5m", extra)
}

fn scenario_with_commits(name: &str, every: &str, extra: &str) -> Scenario {
    let yaml = format!(
        "name: {name}\nduration: 4h\nseed: 17\nrepetitions: 2\n\
         fleet: {{ clusters: 2, apps: 10, replicas: 2, rollout: {{ pod_start: {{ dist: fixed, value: 5s }}, max_surge: 1, max_unavailable: 0 }} }}\n\
                  workload: {{ commits: {{ arrival: poisson, mean_interval: {every} }} }}\n{extra}"
    );
    Scenario::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

const MODELS: &str = "models:\n  push: { preset: github-actions, concurrency: queue, runners: 4 }\n  pull: { preset: argocd }\n";

fn run(s: &Scenario) -> Vec<(String, Vec<RunRecord>)> {
    pushpull::sim::run(s, 2)
}

fn recs(runs: &[(String, Vec<RunRecord>)], kind: ModelKind) -> &[RunRecord] {
    &runs
        .iter()
        .find(|(k, _)| k == kind.name())
        .expect("both models ran")
        .1
}

fn samples(r: &RunRecord, m: Metric) -> impl Iterator<Item = &Sample> {
    r.samples.iter().filter(move |s| s.metric == m)
}

/// Commits counted from the timeline: (rev, time).
fn commits(r: &RunRecord) -> Vec<(u32, Nanos)> {
    r.events
        .iter()
        .filter(|e| e.kind == EventKind::Commit)
        .map(|e| {
            let rev = e
                .detail
                .split_whitespace()
                .next()
                .and_then(|t| t.strip_prefix("rev="))
                .unwrap();
            (rev.parse().unwrap(), e.t)
        })
        .collect()
}

const H: Nanos = 60 * MINUTE;

#[test]
fn git_outage_holds_commits_until_it_ends_under_both_models() {
    let s = scenario(
        "git",
        &format!("{MODELS}faults:\n  - {{ kind: git_outage, at: 1h, duration: 30m }}\n"),
    );
    let runs = run(&s);
    let (start, end) = (H, H + 30 * MINUTE);
    for kind in ModelKind::BOTH {
        let mut held = 0;
        for r in recs(&runs, kind) {
            for smp in samples(r, Metric::DeployLatency) {
                if smp.start >= start && smp.start < end {
                    assert!(
                        smp.end >= end,
                        "{kind}: commit {:?} reached the cluster during the outage",
                        smp.commit
                    );
                    held += 1;
                }
            }
        }
        assert!(
            held > 5,
            "{kind}: only {held} commits made during the outage were measured"
        );
    }
    // The pull agents keep retrying; the pipeline never even hears of those commits.
    let pull_failures: usize = recs(&runs, ModelKind::Pull)
        .iter()
        .map(|r| {
            r.events
                .iter()
                .filter(|e| e.kind == EventKind::FetchFailed)
                .count()
        })
        .sum();
    assert!(pull_failures > 0);
    let lost: usize = recs(&runs, ModelKind::Push)
        .iter()
        .map(|r| {
            r.events
                .iter()
                .filter(|e| e.kind == EventKind::WebhookLost)
                .count()
        })
        .sum();
    assert!(lost > 5, "push triggers lost: {lost}");
}

#[test]
fn partition_between_pipeline_and_cluster_stalls_push_but_not_pull() {
    let s = scenario(
        "cut",
        &format!(
            "{MODELS}faults:\n  - {{ kind: partition, between: [pipeline, cluster], at: 1h, duration: 30m }}\n"
        ),
    );
    let runs = run(&s);
    let (start, end) = (H, H + 30 * MINUTE);
    for r in recs(&runs, ModelKind::Push) {
        assert!(
            r.counters.apply_errors > 0,
            "push applies fail across the cut"
        );
        for smp in samples(r, Metric::DeployLatency) {
            assert!(
                !(smp.end > start + 2 * MINUTE && smp.end < end),
                "push delivered commit {:?} at {}s, inside the partition",
                smp.commit,
                smp.end / SECOND
            );
        }
    }
    for r in recs(&runs, ModelKind::Pull) {
        assert_eq!(r.counters.apply_errors, 0);
        let inside = samples(r, Metric::DeployLatency)
            .filter(|s| s.end > start && s.end < end)
            .count();
        assert!(
            inside > 5,
            "pull keeps deploying during the partition ({inside} deploys)"
        );
    }
}

#[test]
fn partition_between_reconciler_and_git_stalls_pull_and_leaves_push_untouched() {
    let base = scenario("cut2", MODELS);
    let cut = scenario(
        "cut2",
        &format!(
            "{MODELS}faults:\n  - {{ kind: partition, between: [reconciler, git], at: 1h, duration: 30m }}\n"
        ),
    );
    let (a, b) = (run(&base), run(&cut));
    for (x, y) in recs(&a, ModelKind::Push)
        .iter()
        .zip(recs(&b, ModelKind::Push))
    {
        assert_eq!(
            x.samples, y.samples,
            "push does not talk to the reconciler's git path"
        );
    }
    for r in recs(&b, ModelKind::Pull) {
        for smp in samples(r, Metric::DeployLatency) {
            if smp.start >= H && smp.start < H + 30 * MINUTE {
                assert!(smp.end >= H + 30 * MINUTE);
            }
        }
    }
}

#[test]
fn api_brownout_loses_no_sample_and_counts_errors() {
    let s = scenario(
        "brownout",
        &format!(
            "{MODELS}faults:\n  - {{ kind: api_brownout, at: 1h, duration: 1h, latency: {{ dist: fixed, value: 2s }}, error_rate: 0.3 }}\n  - {{ kind: drift, change: env, arrival: poisson, mean_interval: 10m }}\n"
        ),
    );
    let runs = run(&s);
    for kind in ModelKind::BOTH {
        for r in recs(&runs, kind) {
            assert!(r.counters.apply_errors > 0, "{kind}: errors are counted");
            // Every commit on every cluster is either measured or counted incomplete.
            let expected = commits(r).len() as u64 * 2;
            assert_eq!(
                r.counters.deploys + r.counters.deploys_incomplete,
                expected,
                "{kind}: deploy samples lost"
            );
            assert_eq!(
                samples(r, Metric::DeployLatency).count() as u64,
                r.counters.deploys
            );
            // Every drift is either recovered or counted unrecovered.
            let recovered = samples(r, Metric::DriftRecovery).count() as u64;
            assert_eq!(
                recovered + r.counters.drift_unrecovered,
                r.counters.drift_events,
                "{kind}: drift samples lost"
            );
        }
    }
}

#[test]
fn reconciler_crash_delays_pull_until_restart_and_leaves_push_untouched() {
    let faults = "faults:\n  - { kind: drift, change: image, at: 65m }\n  - { kind: reconciler_crash, at: 1h, restart_after: 20m }\n";
    let with = scenario("crash", &format!("{MODELS}{faults}"));
    let without = scenario(
        "crash",
        &format!("{MODELS}faults:\n  - {{ kind: drift, change: image, at: 65m }}\n"),
    );
    let (a, b) = (run(&with), run(&without));
    for (x, y) in recs(&a, ModelKind::Push)
        .iter()
        .zip(recs(&b, ModelKind::Push))
    {
        assert_eq!(
            x.samples, y.samples,
            "the pipeline has no reconciler to lose"
        );
    }
    let restart = H + 20 * MINUTE;
    for r in recs(&a, ModelKind::Pull) {
        let drift: Vec<&Sample> = samples(r, Metric::DriftRecovery).collect();
        assert_eq!(drift.len(), 1);
        assert!(
            drift[0].end >= restart,
            "drift fixed at {}s, before the restart",
            drift[0].end / SECOND
        );
        assert!(
            drift[0].end < restart + MINUTE,
            "a restarted agent resyncs at once"
        );
        for smp in samples(r, Metric::DeployLatency) {
            if smp.start >= H && smp.start < restart {
                assert!(smp.end >= restart);
            }
        }
    }
}

/// Delivery alone (`ci: none`): a reconciler needs no runner to deliver. (With the
/// shared CI stage the outage holds every setup's build: tests/ci_stage.rs.)
#[test]
fn runner_outage_queues_push_and_leaves_pull_untouched() {
    let with = scenario(
        "runners",
        &format!(
            "{MODELS}ci: none\nfaults:\n  - {{ kind: runner_outage, at: 1h, duration: 45m }}\n"
        ),
    );
    let without = scenario("runners", &format!("{MODELS}ci: none\n"));
    let (a, b) = (run(&with), run(&without));
    for (x, y) in recs(&a, ModelKind::Pull)
        .iter()
        .zip(recs(&b, ModelKind::Pull))
    {
        assert_eq!(x.samples, y.samples, "a reconciler needs no CI runner");
    }
    let end = H + 45 * MINUTE;
    for r in recs(&a, ModelKind::Push) {
        let mut queued = 0;
        for smp in samples(r, Metric::DeployLatency) {
            if smp.start >= H && smp.start < end {
                assert!(
                    smp.end > end,
                    "push deployed commit {:?} with no runner",
                    smp.commit
                );
                queued += 1;
            }
        }
        assert!(queued > 4);
        let max_queue = samples(r, Metric::Queue).map(|s| s.value()).max().unwrap();
        assert!(
            max_queue > 15 * MINUTE,
            "the queue grew: longest wait {}s",
            max_queue / SECOND
        );
    }
}

#[test]
fn cluster_loss_is_restored_from_git_by_pull_and_only_by_new_commits_under_push() {
    // A Flux-like agent without jitter: restore within one reconcile interval + rollout.
    let s = scenario_with_commits(
        "loss",
        "30m",
        "models:\n  push: { preset: github-actions, concurrency: queue, runners: 4 }\n  pull: { preset: custom, drift_detection: interval, reconcile_interval: 10m, poll: { interval: 1m, jitter: 0s } }\nfaults:\n  - { kind: cluster_loss, cluster: 1, at: 1h, rebuild_after: 5m }\n",
    );
    let runs = run(&s);
    let rebuilt = H + 5 * MINUTE;
    for r in recs(&runs, ModelKind::Pull) {
        let restore: Vec<&Sample> = samples(r, Metric::ClusterRestore).collect();
        assert_eq!(restore.len(), 1, "pull restores the cluster");
        assert_eq!(restore[0].start, rebuilt);
        // One interval, the apply (1 s) and a two-pod rollout one pod at a time (10 s).
        assert!(
            restore[0].value() <= 10 * MINUTE + 11 * SECOND,
            "took {}s",
            restore[0].value() / SECOND
        );
    }
    for r in recs(&runs, ModelKind::Push) {
        // Each app on the lost cluster comes back only with a manifest newer than the one
        // it ran before the loss: the pipeline re-deploys an app only when it changes.
        let rev = |e: &pushpull::measure::Event| -> u32 {
            e.detail.trim_start_matches("rev=").parse().unwrap()
        };
        let mut unchanged_and_missing = 0;
        for app in 0..10u32 {
            let on = |e: &&pushpull::measure::Event| {
                e.kind == EventKind::RolledOut && e.cluster == Some(1) && e.app == Some(app)
            };
            let before = r
                .events
                .iter()
                .rev()
                .filter(on)
                .find(|e| e.t < H)
                .map(rev)
                .unwrap_or(0);
            match r.events.iter().filter(on).find(|e| e.t >= rebuilt) {
                Some(back) => assert!(
                    rev(back) > before,
                    "push restored app {app} at {}s at the same revision {before}",
                    back.t / SECOND
                ),
                None => unchanged_and_missing += 1,
            }
        }
        assert!(
            unchanged_and_missing > 0,
            "some apps had no new commit and stay missing under push"
        );
        let restored = samples(r, Metric::ClusterRestore).count() as u64;
        assert_eq!(restored + r.counters.clusters_unrestored, 1);
    }
}

#[test]
fn every_drift_kind_is_undone_by_self_heal_and_by_a_drift_check_job() {
    for change in ["scale", "image", "env", "delete"] {
        let s = scenario(
            "kinds",
            &format!(
                "models:\n  push: {{ preset: github-actions, drift_check: {{ every: 30m }} }}\n  pull: {{ preset: argocd }}\n\
                 faults:\n  - {{ kind: drift, change: {change}, arrival: poisson, mean_interval: 15m }}\n"
            ),
        );
        let runs = run(&s);
        for kind in ModelKind::BOTH {
            for r in recs(&runs, kind) {
                assert!(r.counters.drift_events > 5, "{change}/{kind}");
                let bound = if kind == ModelKind::Pull {
                    2 * MINUTE
                } else {
                    32 * MINUTE
                };
                for smp in samples(r, Metric::DriftRecovery) {
                    assert!(
                        smp.value() <= bound,
                        "{change}/{kind}: drift lived {}s",
                        smp.value() / SECOND
                    );
                }
                // Only drift injected in the last stretch before the horizon may remain.
                let late = r
                    .events
                    .iter()
                    .filter(|e| e.kind == EventKind::Drift && e.t > 4 * H - bound)
                    .count() as u64;
                assert!(
                    r.counters.drift_unrecovered <= late,
                    "{change}/{kind}: {} unrecovered, {late} injected late",
                    r.counters.drift_unrecovered
                );
            }
        }
    }
}

#[test]
fn a_watching_reconciler_restores_a_lost_cluster_in_seconds() {
    let s = scenario(
        "loss-watch",
        &format!(
            "{MODELS}faults:\n  - {{ kind: cluster_loss, cluster: 0, at: 1h, rebuild_after: 10m }}\n"
        ),
    );
    for r in recs(&run(&s), ModelKind::Pull) {
        let restore: Vec<&Sample> = samples(r, Metric::ClusterRestore).collect();
        assert_eq!(restore.len(), 1);
        assert!(
            restore[0].value() < MINUTE,
            "took {}s",
            restore[0].value() / SECOND
        );
    }
}
