//! The rollback methods (`rollback:` of a setup) against closed-form results: with fixed
//! durations, each method's rollback time is the sum of the steps it goes through, and a
//! rollback around git leaves git behind for exactly the fix delay minus the undo itself.

use pushpull::measure::{EventKind, RunRecord};
use pushpull::metric::Metric;
use pushpull::scenario::{Nanos, SECOND, Scenario};

/// Two clusters of three one-replica apps whose pods start in exactly 5 s (a rollout of
/// a good image takes 5 s); no workload commits unless `commits` says so; one bad release
/// of app 1 at 1h, rolled back 5 minutes after its rollout fails. `ci: none`, so every
/// delay of a setup is its own and fixed.
fn scenario(commits: &str, models: &str, faults: &str) -> Scenario {
    let yaml = format!(
        "name: rollback\nduration: 6h\nseed: 3\nci: none\n\
         fleet: {{ clusters: 2, apps: 3, replicas: 1, rollout: {{ pod_start: {{ dist: fixed, value: 5s }}, max_surge: 1, max_unavailable: 0, progress_deadline: 600s }} }}\n\
         workload: {{ commits: {commits} }}\n\
         models:\n{models}\
         faults:\n  - {{ kind: bad_release, at: 1h, app: 1, rollback_after: 5m }}\n{faults}"
    );
    Scenario::parse(&yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

const NO_COMMITS: &str = "{ arrival: fixed, interval: 3000h }";

/// A push pipeline with fixed steps: 20 s to a runner, a 3-minute build, a 2 s apply.
fn push(name: &str, rollback: &str) -> String {
    format!(
        "  {name}:\n    kind: push\n    preset: custom\n    runners: 1\n    concurrency: queue\n\
         \x20   queue_wait: {{ dist: fixed, value: 20s }}\n    build: {{ dist: fixed, value: 3m }}\n\
         \x20   apply: {{ dist: fixed, value: 2s }}\n    rollback: {rollback}\n"
    )
}

/// An Argo CD-like reconciler polling every 60 s without jitter, syncing in 1 s.
fn pull(name: &str, rollback: &str) -> String {
    format!(
        "  {name}:\n    kind: pull\n    preset: argocd\n    poll: {{ interval: 60s, jitter: 0s }}\n\
         \x20   apply: {{ dist: fixed, value: 1s }}\n    rollback: {rollback}\n"
    )
}

fn run(s: &Scenario) -> Vec<(String, Vec<RunRecord>)> {
    pushpull::sim::run(s, 2)
}

fn record<'a>(runs: &'a [(String, Vec<RunRecord>)], setup: &str) -> &'a RunRecord {
    &runs
        .iter()
        .find(|(n, _)| n == setup)
        .unwrap_or_else(|| panic!("setup {setup} ran"))
        .1[0]
}

/// The one sample of `metric` in a run, in seconds.
fn only(r: &RunRecord, metric: Metric) -> f64 {
    let v: Vec<Nanos> = r
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .map(|s| s.value())
        .collect();
    assert_eq!(v.len(), 1, "{metric}: {v:?}");
    v[0] as f64 / SECOND as f64
}

fn count(r: &RunRecord, metric: Metric) -> usize {
    r.samples.iter().filter(|s| s.metric == metric).count()
}

fn event(r: &RunRecord, kind: EventKind) -> Option<(Nanos, String)> {
    r.events
        .iter()
        .find(|e| e.kind == kind)
        .map(|e| (e.t, e.detail.clone()))
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < 0.01,
        "{what}: {got:.3}s, closed form {want:.3}s"
    );
}

#[test]
fn each_push_method_rolls_back_in_the_sum_of_its_own_steps() {
    let undo = "{ method: rollout-undo, apply: { dist: fixed, value: 3s }, fix_after: { dist: fixed, value: 30m } }";
    let redeploy = "{ method: redeploy, fix_after: { dist: fixed, value: 30m } }";
    let models =
        push("revert", "revert-commit") + &push("redeploy", redeploy) + &push("undo", undo);
    let runs = run(&scenario(NO_COMMITS, &models, ""));
    // revert-commit: a whole run: runner 20 s, build 180 s, apply 2 s, rollout 5 s.
    close(
        only(record(&runs, "revert"), Metric::Rollback),
        207.0,
        "revert-commit",
    );
    // redeploy: the re-run waits for a runner and applies, without a build.
    close(
        only(record(&runs, "redeploy"), Metric::Rollback),
        27.0,
        "redeploy",
    );
    // rollout-undo: the operator's apply and the rollout.
    close(
        only(record(&runs, "undo"), Metric::Rollback),
        8.0,
        "rollout-undo",
    );
    // Git names the bad image from the undo's apply until the fix commit, 30 minutes
    // after the decision.
    close(
        only(record(&runs, "undo"), Metric::GitDivergence),
        1800.0 - 3.0,
        "rollout-undo divergence",
    );
    close(
        only(record(&runs, "redeploy"), Metric::GitDivergence),
        1800.0 - 22.0,
        "redeploy divergence",
    );
    assert_eq!(count(record(&runs, "revert"), Metric::GitDivergence), 0);
    for setup in ["revert", "redeploy", "undo"] {
        let r = record(&runs, setup);
        assert_eq!(
            count(r, Metric::FailedDeployRecovery),
            1,
            "{setup}: one recovery"
        );
        assert_eq!(r.counters.deploys_incomplete, 0, "{setup}");
    }
    let (_, how) = event(record(&runs, "undo"), EventKind::GitConverged).expect("converged");
    assert!(how.ends_with("by=fix_commit"), "{how}");
}

#[test]
fn app_rollback_is_one_sync_and_diverges_until_the_fix_commit() {
    let app = "{ method: app-rollback, fix_after: { dist: fixed, value: 30m }, reenable_after: { dist: fixed, value: 1h } }";
    let models = pull("revert", "revert-commit") + &pull("app", app);
    let runs = run(&scenario(NO_COMMITS, &models, ""));
    let r = record(&runs, "app");
    // The rollback is a sync of the earlier revision: apply 1 s, rollout 5 s.
    close(only(r, Metric::Rollback), 6.0, "app-rollback");
    close(
        only(r, Metric::GitDivergence),
        1800.0 - 1.0,
        "app-rollback divergence",
    );
    // The revert through git waits for the next poll as well: never faster.
    assert!(only(record(&runs, "revert"), Metric::Rollback) >= 6.0);
    let (decided, _) = event(r, EventKind::RollbackDecided).expect("decided");
    let (enabled, _) = event(r, EventKind::AutoSyncEnabled).expect("re-enabled");
    assert_eq!(enabled - decided, 3600 * SECOND);
}

#[test]
fn app_rollback_suspends_self_heal_of_a_hand_edit_until_sync_is_re_enabled() {
    let app = "{ method: app-rollback, fix_after: { dist: fixed, value: 30m }, reenable_after: { dist: fixed, value: 1h } }";
    let models = pull("revert", "revert-commit") + &pull("app", app);
    // The bad release's rollout fails at about 1h11m and the rollback is decided 5 minutes
    // later; someone edits the rolled-back app by hand at 1h40m.
    let drift = "  - { kind: drift, change: env, at: 1h40m, cluster: 0, app: 1 }\n";
    let runs = run(&scenario(NO_COMMITS, &models, drift));
    let at = 100 * 60 * SECOND;
    let healed = |r: &RunRecord| {
        r.samples
            .iter()
            .find(|s| s.metric == Metric::DriftRecovery)
            .map(|s| (s.start, s.end))
            .expect("the drift is healed")
    };
    let (start, end) = healed(record(&runs, "revert"));
    assert_eq!(start, at);
    assert!(
        end - start < 60 * SECOND,
        "self-heal on: healed in {}s",
        (end - start) / SECOND
    );
    let r = record(&runs, "app");
    let (decided, _) = event(r, EventKind::RollbackDecided).expect("decided");
    assert!(decided < at, "the edit comes after the rollback");
    let (start, end) = healed(r);
    assert_eq!(start, at);
    let enabled = decided + 3600 * SECOND;
    assert!(
        end >= enabled && end - enabled < 60 * SECOND,
        "healed at {}s, automated sync re-enabled at {}s",
        end / SECOND,
        enabled / SECOND
    );
}

#[test]
fn re_enabling_sync_before_the_fix_deploys_the_bad_version_again() {
    let app = "{ method: app-rollback, fix_after: { dist: fixed, value: 2h }, reenable_after: { dist: fixed, value: 20m } }";
    let models = pull("revert", "revert-commit") + &pull("app", app);
    let runs = run(&scenario(NO_COMMITS, &models, ""));
    let r = record(&runs, "app");
    let (decided, _) = event(r, EventKind::RollbackDecided).expect("decided");
    // Live runs the good version from the rollback's sync (1 s after the decision) until
    // sync comes back at 20 minutes and applies git's head, still bad (1 s later).
    close(
        only(r, Metric::GitDivergence),
        1200.0 - 1.0 + 1.0,
        "divergence until the re-enabled sync",
    );
    let (_, how) = event(r, EventKind::GitConverged).expect("converged");
    assert!(how.ends_with("by=bad_reapplied"), "{how}");
    let failed_again = r
        .events
        .iter()
        .filter(|e| e.kind == EventKind::RolloutFailed && e.t > decided)
        .count();
    assert_eq!(
        failed_again, 2,
        "the bad version fails again on both clusters"
    );
}

#[test]
fn after_a_rollout_undo_only_a_job_that_reapplies_git_deploys_the_bad_image_again() {
    let undo = |check: &str| {
        format!(
            "{{ method: rollout-undo, fix_after: {{ dist: fixed, value: 2h }} }}\n    drift_check: {check}\n"
        )
    };
    // Commits to the other apps every 5 minutes: their runs leave the held app alone.
    let commits = "{ arrival: fixed, interval: 5m }";
    let models = push("quiet", &undo("none")) + &push("check", &undo("{ every: 1h }"));
    let runs = run(&scenario(commits, &models, ""));
    let (_, how) = event(record(&runs, "quiet"), EventKind::GitConverged).expect("converged");
    assert!(how.ends_with("by=fix_commit"), "{how}");
    close(
        only(record(&runs, "quiet"), Metric::GitDivergence),
        7200.0 - 2.0,
        "divergence until the fix",
    );
    // The hourly job re-applies what git names: the bad image, which fails again.
    let (_, how) = event(record(&runs, "check"), EventKind::GitConverged).expect("converged");
    assert!(how.ends_with("by=bad_reapplied"), "{how}");
}

#[test]
fn the_default_rollback_is_a_revert_commit() {
    let plain = scenario(
        NO_COMMITS,
        &(push("a", "revert-commit") + &pull("b", "revert-commit")),
        "",
    );
    let yaml_default = "name: d\nduration: 1h\nmodels: { push: {}, pull: {} }\n";
    let s = Scenario::parse(yaml_default, "d.yaml").expect("valid");
    for m in &s.models.setups {
        assert_eq!(m.rollback().method.name(), "revert-commit");
    }
    for m in &plain.models.setups {
        assert_eq!(m.rollback().method.name(), "revert-commit");
    }
}

#[test]
fn a_method_of_the_other_kind_is_refused_at_its_line() {
    let cases = [
        (
            "models:\n  gha: { kind: push, rollback: app-rollback }\n  argocd: { kind: pull }\n",
            "test.yaml:4:",
            "a pull setup's method",
        ),
        (
            "models:\n  gha: { kind: push }\n  argocd:\n    kind: pull\n    rollback: rollout-undo\n",
            "test.yaml:7:",
            "a push pipeline's rollback",
        ),
        (
            "models:\n  gha: { kind: push }\n  flux:\n    kind: pull\n    preset: flux\n    rollback: { method: app-rollback }\n",
            "test.yaml:8:",
            "Flux has none",
        ),
        (
            "models:\n  gha: { kind: push, rollback: { method: undo } }\n  argocd: { kind: pull }\n",
            "test.yaml:4:",
            "not a push rollback method",
        ),
    ];
    for (models, at, says) in cases {
        let yaml = format!("name: r\nduration: 1h\n{models}");
        let e = Scenario::parse(&yaml, "test.yaml")
            .expect_err("refused")
            .to_string();
        assert!(e.contains(at) && e.contains(says), "{e}");
    }
}
