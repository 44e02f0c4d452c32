//! The shared CI stage and the write-back: every setup builds the same source commit with
//! the same draws, so paired differences isolate delivery; each write-back method adds
//! what its closed form says; the stages of deploy_latency add up to it.

use pushpull::measure::{EventKind, RunRecord};
use pushpull::metric::Metric;
use pushpull::scenario::{Nanos, SECOND, Scenario};
use std::collections::BTreeMap;

/// One cluster, fast deterministic rollouts, no faults; `models` and `extra` complete it.
fn scenario(duration: &str, reps: u32, every: &str, models: &str, extra: &str) -> Scenario {
    let commits = format!("{{ arrival: poisson, mean_interval: {every} }}");
    scenario_with(duration, reps, &commits, models, extra)
}

fn scenario_with(duration: &str, reps: u32, commits: &str, models: &str, extra: &str) -> Scenario {
    let yaml = format!(
        "name: ci-stage\nduration: {duration}\nseed: 5\nrepetitions: {reps}\n\
         fleet: {{ clusters: 1, apps: 4, replicas: 2, rollout: {{ pod_start: {{ dist: fixed, value: 5s }}, max_surge: 1, max_unavailable: 0 }} }}\n\
         workload: {{ commits: {commits} }}\n{models}{extra}"
    );
    Scenario::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario) -> BTreeMap<String, Vec<RunRecord>> {
    pushpull::sim::run(s, 2).into_iter().collect()
}

/// Values of `m` in seconds over every repetition of one setup.
fn values(recs: &[RunRecord], m: Metric) -> Vec<f64> {
    recs.iter()
        .flat_map(|r| r.samples.iter().filter(move |s| s.metric == m))
        .map(|s| s.value() as f64 / 1e9)
        .collect()
}

fn mean(recs: &[RunRecord], m: Metric) -> f64 {
    let v = values(recs, m);
    assert!(!v.is_empty(), "no {m} samples");
    v.iter().sum::<f64>() / v.len() as f64
}

/// Per (repetition, commit): the sample's value in nanoseconds.
fn by_commit(recs: &[RunRecord], m: Metric) -> BTreeMap<(usize, u32), Nanos> {
    recs.iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.samples
                .iter()
                .filter(move |s| s.metric == m)
                .map(move |s| {
                    (
                        (i, s.commit.expect("a deploy sample names its commit")),
                        s.value(),
                    )
                })
        })
        .collect()
}

const STAGES: [Metric; 8] = [
    Metric::CiQueue,
    Metric::Build,
    Metric::WriteBack,
    Metric::DeployStart,
    Metric::Detect,
    Metric::Queue,
    Metric::Apply,
    Metric::Rollout,
];

/// Plenty of runners and no concurrency group: no commit waits for another's run.
const ROOMY_CI: &str = "ci: { queue_wait: { dist: exponential, mean: 30s }, build: { dist: normal, mean: 4m, sd: 1m }, runners: 50, concurrency: queue }\n";

#[test]
fn with_a_zero_delay_ci_commit_pull_minus_push_is_the_detection_and_apply_difference_alone() {
    let s = scenario(
        "12h",
        2,
        "15m",
        "models:\n  push: { preset: github-actions, runners: 50, concurrency: queue }\n  pull: { preset: argocd, write_back: { method: ci-commit, git_push: { dist: fixed, value: 0s } } }\n",
        ROOMY_CI,
    );
    let runs = run(&s);
    let (push, pull) = (&runs["push"], &runs["pull"]);
    // Commits delivered by both setups before the horizon, paired.
    let paired: Vec<(usize, u32)> = by_commit(pull, Metric::DeployLatency)
        .keys()
        .filter(|k| by_commit(push, Metric::DeployLatency).contains_key(k))
        .copied()
        .collect();
    assert!(paired.len() > 60, "{} paired commits", paired.len());
    // The paired mean of `m` in seconds (0 for a stage the setup does not have).
    let pm = |recs: &[RunRecord], m: Metric| {
        let v = by_commit(recs, m);
        paired
            .iter()
            .map(|k| v.get(k).copied().unwrap_or(0) as f64 / 1e9)
            .sum::<f64>()
            / paired.len() as f64
    };
    // The same commit waited and built exactly as long in both setups.
    for m in [Metric::CiQueue, Metric::Build] {
        let (a, b) = (by_commit(push, m), by_commit(pull, m));
        for k in &paired {
            assert_eq!(
                a[k], b[k],
                "{m} of commit {k:?}: the same draws in both setups"
            );
        }
    }
    assert!(values(pull, Metric::WriteBack).iter().all(|&v| v == 0.0));
    let total = pm(pull, Metric::DeployLatency) - pm(push, Metric::DeployLatency);
    let detection =
        pm(pull, Metric::Detect) + pm(pull, Metric::Queue) - pm(push, Metric::DeployStart);
    let apply = pm(pull, Metric::Apply) + pm(pull, Metric::Rollout)
        - pm(push, Metric::Apply)
        - pm(push, Metric::Rollout);
    assert!(
        (total - (detection + apply)).abs() < 1e-6,
        "pull − push {total} s = detection {detection} s + apply {apply} s"
    );
    // What is left is Argo CD's refresh (about 190 s on average from a config commit:
    // the resync with its skip, then the 3-minute revision cache; model/refresh.rs) plus
    // the sync, less the pipeline's deploy.
    assert!(total.abs() < 240.0, "CI cancels out; left {total} s");
}

#[test]
fn image_automation_scanning_every_t_without_jitter_adds_t_over_2() {
    let t = 600.0;
    let s = scenario(
        "240h",
        2,
        "7m",
        "models:\n  ci-commit: { kind: pull, preset: argocd, write_back: { method: ci-commit, git_push: { dist: fixed, value: 0s } } }\n  \
           automation: { kind: pull, preset: argocd, write_back: { method: image-automation, scan_interval: 10m, update_interval: 0s, git_push: { dist: fixed, value: 0s } } }\n",
        "ci: { queue_wait: { dist: fixed, value: 0s }, build: { dist: fixed, value: 1m }, runners: 50, concurrency: queue }\n",
    );
    let runs = run(&s);
    let wb = mean(&runs["automation"], Metric::WriteBack);
    assert!(values(&runs["automation"], Metric::WriteBack).len() > 1000);
    assert!(
        (wb - t / 2.0).abs() < 0.03 * t / 2.0,
        "write_back mean {wb} s, T/2 = {} s",
        t / 2.0
    );
    let added = mean(&runs["automation"], Metric::DeployLatency)
        - mean(&runs["ci-commit"], Metric::DeployLatency);
    assert!(
        (added - t / 2.0).abs() < 0.05 * t / 2.0,
        "deploy_latency grew by {added} s"
    );
}

#[test]
fn a_pull_request_review_of_mean_d_adds_d() {
    let d = 1800.0;
    let s = scenario(
        "72h",
        2,
        "7m",
        "models:\n  ci-commit: { kind: pull, preset: argocd, write_back: { method: ci-commit, git_push: { dist: fixed, value: 0s } } }\n  \
           reviewed: { kind: pull, preset: argocd, write_back: { method: pull-request, review: { dist: uniform, min: 20m, max: 40m }, git_push: { dist: fixed, value: 0s } } }\n",
        "ci: { queue_wait: { dist: fixed, value: 0s }, build: { dist: fixed, value: 1m }, runners: 50, concurrency: queue }\n",
    );
    let runs = run(&s);
    let wb = mean(&runs["reviewed"], Metric::WriteBack);
    assert!(
        (wb - d).abs() < 0.02 * d,
        "write_back mean {wb} s, D = {d} s"
    );
    let added = mean(&runs["reviewed"], Metric::DeployLatency)
        - mean(&runs["ci-commit"], Metric::DeployLatency);
    assert!(
        (added - d).abs() < 0.03 * d,
        "deploy_latency grew by {added} s"
    );
}

fn quickstart() -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    Scenario::parse(&text, "quickstart.yaml").unwrap()
}

#[test]
fn quickstart_shows_a_build_stage_of_the_same_distribution_for_both_setups() {
    let runs = run(&quickstart());
    let (push, pull) = (&runs["push"], &runs["pull"]);
    let (a, b) = (values(push, Metric::Build), values(pull, Metric::Build));
    assert!(
        a.len() > 50 && b.len() > 50,
        "{} and {} build samples",
        a.len(),
        b.len()
    );
    let (ma, mb) = (mean(push, Metric::Build), mean(pull, Metric::Build));
    assert!(
        (200.0..280.0).contains(&ma),
        "push build mean {ma} s (normal, mean 4m)"
    );
    assert!((ma - mb).abs() < 0.03 * ma, "build means {ma} s and {mb} s");
    // Commits built by their own run got the very same build time in both setups.
    let same = by_commit(push, Metric::Build)
        .values()
        .filter(|v| by_commit(pull, Metric::Build).values().any(|w| w == *v))
        .count();
    assert!(
        same * 10 >= a.len() * 8,
        "{same} of {} builds identical",
        a.len()
    );
}

#[test]
fn the_means_of_the_stages_add_up_to_the_mean_deploy_latency() {
    let runs = run(&quickstart());
    for (name, recs) in &runs {
        let total = mean(recs, Metric::DeployLatency);
        let n = values(recs, Metric::DeployLatency).len();
        let stages: f64 = STAGES
            .iter()
            .map(|&m| {
                let v = values(recs, m);
                assert!(v.is_empty() || v.len() == n, "{name} {m}: one per deploy");
                v.iter().sum::<f64>() / n as f64
            })
            .sum();
        assert!(
            (total - stages).abs() < 1e-6,
            "{name}: stages {stages} s, deploy_latency {total} s"
        );
    }
}

#[test]
fn ci_none_measures_from_the_config_commit_as_before_the_ci_stage() {
    let s = scenario(
        "6h",
        1,
        "10m",
        "models:\n  push: { preset: github-actions }\n  pull: { preset: argocd, write_back: pull-request }\n",
        "ci: none\n",
    );
    let runs = run(&s);
    let pull = &runs["pull"];
    assert!(values(pull, Metric::CiQueue).is_empty());
    assert!(values(pull, Metric::WriteBack).is_empty());
    assert_eq!(
        by_commit(pull, Metric::DeployLatency),
        by_commit(pull, Metric::DeliveryLatency),
        "without CI the config commit is the source commit"
    );
    assert!(
        !values(&runs["push"], Metric::Detect).is_empty(),
        "push keeps its trigger stage"
    );
}

#[test]
fn a_ci_commit_during_a_git_outage_fails_and_lands_after_it() {
    // A commit every 10 minutes, built in 4: the commit of 2h publishes at 2h04m, inside
    // the outage (2h02m to 2h32m).
    let s = scenario_with(
        "6h",
        1,
        "{ arrival: fixed, interval: 10m }",
        "models:\n  push: { preset: github-actions }\n  pull: { preset: argocd, write_back: { method: ci-commit, retry: 1m } }\n",
        "ci: { queue_wait: { dist: fixed, value: 0s }, build: { dist: fixed, value: 4m } }\n\
         faults:\n  - { kind: git_outage, at: 122m, duration: 30m }\n",
    );
    let runs = run(&s);
    let pull = &runs["pull"][0];
    let failed: Vec<Nanos> = pull
        .events
        .iter()
        .filter(|e| e.kind == EventKind::WriteBackFailed)
        .map(|e| e.t)
        .collect();
    let (start, end) = (7320 * SECOND, 9120 * SECOND);
    assert!(!failed.is_empty(), "some write-back met the outage");
    assert!(failed.iter().all(|&t| (start..end).contains(&t)));
    let landed_in_outage = pull
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Commit && (start..end).contains(&e.t))
        .count();
    assert_eq!(
        landed_in_outage, 0,
        "no config commit lands while git is down"
    );
    let first_after = pull
        .events
        .iter()
        .find(|e| e.kind == EventKind::Commit && e.t >= end)
        .map(|e| e.t);
    assert!(
        first_after.is_some_and(|t| t <= end + 60 * SECOND),
        "the failed write-back lands within one retry of the end: {first_after:?}"
    );
    assert_eq!(pull.counters.deploys_incomplete, 0);
}

#[test]
fn a_runner_outage_holds_the_build_of_every_setup() {
    let s = scenario(
        "6h",
        1,
        "10m",
        "models:\n  push: { preset: github-actions, runners: 8, concurrency: queue }\n  pull: { preset: argocd }\n",
        "ci: { queue_wait: { dist: fixed, value: 0s }, runners: 8, concurrency: queue }\n\
         faults:\n  - { kind: runner_outage, at: 2h, duration: 45m }\n",
    );
    let runs = run(&s);
    let (start, end) = (7200 * SECOND, 9900 * SECOND);
    for (name, recs) in &runs {
        let r = &recs[0];
        let held: Vec<_> = r
            .samples
            .iter()
            .filter(|x| x.metric == Metric::CiQueue && (start..end).contains(&x.start))
            .collect();
        assert!(!held.is_empty(), "{name}: commits during the outage");
        for x in held {
            assert!(
                x.end >= end,
                "{name}: a run started at {} s, in the outage",
                x.end / SECOND
            );
        }
    }
}

/// An app group with its own build is built beside the others, as a matrix build: a
/// commit that changes one of its apps takes that group's build (the longest), in every
/// setup alike; a commit of the other apps keeps the shared build.
#[test]
fn an_app_groups_own_build_is_the_longest_of_a_matrix_build_in_every_setup() {
    // Commits an hour apart, so no build overlaps the next commit's (a run deploys every
    // app newer than the last deploy, which would mix two commits' builds).
    let yaml = "name: ci-stage\nduration: 24h\nseed: 9\nrepetitions: 1\n\
         fleet: { clusters: 1, replicas: 2, rollout: { pod_start: { dist: fixed, value: 5s }, max_surge: 1, max_unavailable: 0 },\n\
           apps: [ { prefix: svc, count: 3 }, { name: monolith, build: { dist: fixed, value: 20m } } ] }\n\
         workload: { commits: { arrival: fixed, interval: 1h } }\n\
         ci: { queue_wait: 0s, build: { dist: fixed, value: 3m }, runners: 50, concurrency: queue }\n\
         models: { push: { preset: github-actions }, pull: { preset: argocd, write_back: ci-commit } }\n";
    let s = Scenario::parse(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"));
    let runs = run(&s);
    let monolith = 3;
    // Which planned commits change the monolith, by the time they are made.
    let plan = pushpull::plan::Plan::draw(&s, 0);
    let at: BTreeMap<Nanos, bool> = plan
        .commits
        .iter()
        .map(|c| (c.at, c.apps.contains(&monolith)))
        .collect();
    for (setup, recs) in &runs {
        // A commit's ci_queue sample starts when the commit is made.
        let changed: BTreeMap<u32, bool> = recs[0]
            .samples
            .iter()
            .filter(|x| x.metric == Metric::CiQueue)
            .map(|x| (x.commit.expect("names its commit"), at[&x.start]))
            .collect();
        let builds = by_commit(recs, Metric::Build);
        assert!(builds.len() > 10, "{setup}: {} builds", builds.len());
        let (mut long, mut short) = (0, 0);
        for ((_, c), b) in builds {
            if changed.get(&c) == Some(&true) {
                assert_eq!(
                    b,
                    20 * 60 * SECOND,
                    "{setup}: commit {c} changed the monolith"
                );
                long += 1;
            } else {
                assert_eq!(b, 3 * 60 * SECOND, "{setup}: commit {c}");
                short += 1;
            }
        }
        assert!(long > 0 && short > 0, "{setup}: {long} long, {short} short");
    }
}
