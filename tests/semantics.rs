//! Corrected presets and semantics (issue 14): each test pins one behaviour of the upstream
//! tool that pushpull modelled wrongly before, and failed on the code before the fix
//! (main d46033c). Sources, file and line, are in docs/PRESETS.md.

use pushpull::model::harness::{Harness, Script};
use pushpull::model::pull::Reconciler;
use pushpull::model::push::Pipeline;
use pushpull::model::{Input, NoteKind, Rev};
use pushpull::scenario::models::{PullPreset, PushPreset, SetupConfig};
use pushpull::scenario::{Dist, Nanos, PullConfig, PushConfig, SECOND, Scenario};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::Cell;
use std::rc::Rc;

fn argocd(script: Script) -> Harness<Reconciler> {
    let cfg = PullConfig::preset(PullPreset::Argocd);
    let r = Reconciler::new(cfg, 0, &[0], ChaCha8Rng::seed_from_u64(1));
    Harness::new(r, vec![0], script)
}

/// Start times of every apply, in whole seconds.
fn apply_secs<M: pushpull::model::Model>(h: &Harness<M>) -> Vec<Nanos> {
    h.applies().iter().map(|(t, _)| t / SECOND).collect()
}

/// Applies fail while `fail` says so.
fn failing(fail: Rc<Cell<bool>>) -> Script {
    Script::default().on_apply(move |_, _| !fail.get())
}

/// A new revision at `t` (seconds), announced by a webhook (Argo CD refreshes at once).
fn push_revision(h: &mut Harness<Reconciler>, t: Nanos, spec: u32) {
    h.run_until(t * SECOND);
    h.commit(vec![spec]);
    h.inject(Input::Webhook { app: 0 });
}

/// Argo CD runs automated sync once per revision: a revision whose sync failed is
/// retried by the operation's retry (first wait 10 s, `NextRetryAt` with the incremented
/// count), never by a refresh that sees the same revision again.
#[test]
fn argocd_a_failed_sync_waits_for_its_retry_backoff_not_the_next_refresh() {
    let n = Rc::new(Cell::new(0u32));
    let seen = n.clone();
    let script = Script::default().on_apply(move |_, _| {
        seen.set(seen.get() + 1);
        seen.get() > 1
    });
    let mut h = argocd(script);
    push_revision(&mut h, 1, 1); // sync 1 s → 2 s fails
    h.run_until(4 * SECOND);
    h.inject(Input::Webhook { app: 0 }); // a forced refresh sees the same revision
    h.run_until(120 * SECOND);
    assert_eq!(
        apply_secs(&h),
        vec![1, 12],
        "the retry 10 s after the failure only"
    );
    assert_eq!(h.notes(NoteKind::SyncFailed).len(), 1);
}

/// Argo CD's automated sync retries a failed sync at most 5 times (`Retry: {Limit: 5}`
/// when the Application sets no `syncPolicy.retry`), waiting 10, 20, 40, 80 then 160 s;
/// then the revision is given up: no refresh and no self-heal syncs it again, a new
/// revision does.
#[test]
fn argocd_automated_sync_gives_a_failing_revision_up_after_five_retries() {
    let fail = Rc::new(Cell::new(true));
    let mut h = argocd(failing(fail.clone()));
    push_revision(&mut h, 1, 1);
    h.run_until(1000 * SECOND);
    assert_eq!(apply_secs(&h), vec![1, 12, 33, 74, 155, 316]);
    h.inject(Input::Webhook { app: 0 });
    h.run_until(1100 * SECOND);
    h.inject(Input::LiveChanged { app: 0 });
    h.run_until(2000 * SECOND);
    assert_eq!(h.applies().len(), 6, "given up until a new revision");
    fail.set(false);
    push_revision(&mut h, 2000, 2);
    h.run_until(2100 * SECOND);
    assert_eq!(apply_secs(&h)[6..], [2000]);
}

/// Argo CD v3.5.1 self-heal: the first attempt of an operation's revision is immediate;
/// the n-th further one waits 2 s × 3ⁿ⁻¹ (cap 300 s) counted from the last operation's
/// finish, not from the drift; there is no cooldown (the flag has no effect since v3.3);
/// the count starts over when a new revision is synced.
#[test]
fn argocd_self_heal_is_immediate_first_then_backs_off_from_the_last_sync_and_resets_on_a_new_revision()
 {
    let mut h = argocd(Script::default());
    for k in 0..8u64 {
        h.run_until((1000 + 100 * k) * SECOND);
        h.inject(Input::LiveChanged { app: 0 });
    }
    push_revision(&mut h, 2000, 1);
    h.run_until(2100 * SECOND);
    h.inject(Input::LiveChanged { app: 0 });
    h.run_until(3000 * SECOND);
    // Drifts every 100 s, syncs take 1 s: backoffs 0, 2, 6, 18, 54 s are over by the
    // next drift (99 s after the last sync); 162 − 99 = 63 s; 300 − 36 = 264 s; the
    // drift at 1700 s finds a heal pending. The new revision at 2000 s resets the count.
    assert_eq!(
        apply_secs(&h),
        vec![1000, 1100, 1200, 1300, 1400, 1563, 1864, 2000, 2100]
    );
}

fn jenkins() -> PushConfig {
    let mut c = PushConfig::preset(PushPreset::Jenkins);
    c.build = Dist::fixed(240 * SECOND);
    c.wait_for_rollout = false;
    c
}

fn pipeline(cfg: PushConfig) -> Harness<Pipeline> {
    let p = Pipeline::new(cfg, 1, &[0], ChaCha8Rng::seed_from_u64(1));
    Harness::new(p, vec![0], Script::default())
}

fn commit_at(h: &mut Harness<Pipeline>, t: Nanos, spec: u32) -> Rev {
    h.run_until(t * SECOND);
    let rev = h.commit(vec![spec]);
    h.inject(Input::Commit { rev, ci: None });
    rev
}

/// (start, end) of every run, from its notes, in seconds.
fn run_spans(h: &Harness<Pipeline>) -> Vec<(Nanos, Nanos)> {
    let started = h.notes(NoteKind::RunStarted);
    let mut ended = h.notes(NoteKind::RunSucceeded);
    ended.extend(h.notes(NoteKind::RunFailed));
    started
        .iter()
        .map(|(t, n)| {
            let end = ended
                .iter()
                .find(|(_, e)| e.detail == n.detail)
                .map_or(Nanos::MAX, |(t, _)| *t);
            (t / SECOND, end / SECOND)
        })
        .collect()
}

/// Jenkins with `disableConcurrentBuilds()`: one build of the job runs at a time, and
/// the queue folds a trigger into the item already waiting for the same job
/// (`Queue.scheduleInternal`), whose build checks out the branch head when it starts.
/// Four commits a minute apart during a 4-minute build make two builds, not four, and
/// they never overlap.
#[test]
fn jenkins_runs_one_build_at_a_time_and_folds_triggers_into_the_queued_build() {
    let mut h = pipeline(jenkins());
    let mut last = 0;
    for (i, t) in [0, 60, 120, 180].into_iter().enumerate() {
        last = commit_at(&mut h, t, i as u32 + 1);
    }
    h.run_until(3600 * SECOND);
    let spans = run_spans(&h);
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(
        spans.windows(2).all(|w| w[1].0 >= w[0].1),
        "builds overlap: {spans:?}"
    );
    // The quiet period (5 s), then one build; the folded item starts when it ends.
    assert_eq!(spans[0].0, 5);
    let checkouts: Vec<Option<Rev>> = h.checkouts().iter().map(|c| c.2).collect();
    assert_eq!(checkouts.last(), Some(&Some(last)), "{checkouts:?}");
    assert_eq!(apply_secs(&h).len(), 2);
}

/// GitHub-hosted runner queue time is heavy-tailed: lognormal, median 5 s, p99 5 min
/// (docs/PRESETS.md lists the published measurements), not exponential.
#[test]
fn github_actions_queue_wait_is_a_heavy_tailed_lognormal() {
    let c = PushConfig::preset(PushPreset::GithubActions);
    assert_eq!(
        c.queue_wait,
        Dist::LogNormal {
            median: 5 * SECOND,
            p99: 300 * SECOND
        }
    );
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut draws: Vec<Nanos> = (0..20_000).map(|_| c.queue_wait.sample(&mut rng)).collect();
    draws.sort_unstable();
    let q = |p: f64| draws[(p * draws.len() as f64) as usize] as f64 / SECOND as f64;
    assert!((q(0.5) - 5.0).abs() < 0.5, "median {}", q(0.5));
    assert!(
        q(0.99) / q(0.5) > 30.0,
        "p99 {} over median {}",
        q(0.99),
        q(0.5)
    );
}

fn parse(yaml: &str) -> Result<Scenario, String> {
    Scenario::parse(yaml, "test.yaml").map_err(|e| e.to_string())
}

fn push_of(s: &Scenario) -> PushConfig {
    match &s.models.get("push").expect("setup push").config {
        SetupConfig::Push(c) => c.clone(),
        SetupConfig::Pull(_) => panic!("push is a push setup"),
    }
}

/// GitHub Actions `concurrency:` on the deploy job only: builds run side by side and only
/// the deploy jobs queue in the group (one running, one pending). With the group on the
/// workflow, a run waits for the previous one before it even builds.
#[test]
fn github_actions_concurrency_group_on_the_deploy_job_lets_builds_overlap() {
    let base = "name: t\nduration: 1h\nci: none\nmodels:\n  push:\n    kind: push\n    preset: github-actions\n    runners: 3\n    queue_wait: { dist: fixed, value: 0s }\n    build: { dist: fixed, value: 100s }\n    apply: { dist: fixed, value: 1s }\n    wait_for_rollout: false\n";
    let timing = |scope: &str| {
        let s = parse(&format!("{base}    concurrency_scope: {scope}\n")).expect("parses");
        let mut h = pipeline(push_of(&s));
        for (i, t) in [0, 10, 20].into_iter().enumerate() {
            commit_at(&mut h, t, i as u32 + 1);
        }
        h.run_until(1000 * SECOND);
        let starts: Vec<Nanos> = h.checkouts().iter().map(|c| c.0 / SECOND).collect();
        (starts, apply_secs(&h))
    };
    assert_eq!(timing("deploy-job"), (vec![0, 10, 20], vec![100, 110, 120]));
    // The group around the workflow: the second run waits pending and is replaced by the
    // third, which builds after the first has deployed.
    assert_eq!(timing("workflow"), (vec![0, 101], vec![100, 201]));
}

/// Kubernetes `ResolveFenceposts`: when maxSurge and maxUnavailable both round to zero
/// (maxSurge 0, maxUnavailable 10% of 3 replicas), maxUnavailable becomes 1 and the rollout proceeds; the API
/// server refuses only both written as zero. maxSurge may exceed 100%.
#[test]
fn rolling_update_fenceposts_both_rounding_to_zero_give_max_unavailable_one() {
    let yaml = |surge: &str, unavailable: &str| {
        format!(
            "name: t\nduration: 1h\nseed: 3\nrepetitions: 1\nci: none\nfleet:\n  clusters: 1\n  apps: 1\n  replicas: 3\n  rollout: {{ max_surge: {surge}, max_unavailable: {unavailable} }}\nworkload:\n  commits: {{ arrival: fixed, interval: 20m }}\nmodels:\n  push:\n    kind: push\n    preset: github-actions\n"
        )
    };
    let s = parse(&yaml("0", "10%")).expect("0 and 10% of 3 replicas is accepted");
    let runs = pushpull::sim::run(&s, 1);
    let c = &runs[0].1[0].counters;
    assert!(c.deploys >= 2 && c.deploys_incomplete == 0, "{c:?}");
    assert!(parse(&yaml("150%", "0")).is_ok(), "maxSurge above 100%");
    let e = parse(&yaml("0", "0%")).expect_err("both written as zero");
    assert!(e.contains("max_surge"), "{e}");
    let e = parse(&yaml("1", "120%")).expect_err("maxUnavailable above 100%");
    assert!(e.contains("max_unavailable") && e.contains("100%"), "{e}");
}

/// The overlap issue 14 found, end to end: `scenarios/quickstart.yaml` with the push setup
/// on Jenkins had two builds of the job running at once (138 overlapping pairs of runs in
/// 10 repetitions at main d46033c, e.g. run 3 starting at 3977.7 s while run 2 ran until
/// 4017.7 s). With `disableConcurrentBuilds()` no run starts before the previous ended.
#[test]
fn jenkins_quickstart_never_has_two_builds_running_at_once() {
    use pushpull::measure::EventKind;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("preset: github-actions", "preset: jenkins")
        .replace("repetitions: 10", "repetitions: 3");
    let s = parse(&text).unwrap();
    let runs = pushpull::sim::run(&s, 2);
    let (_, reps) = runs.iter().find(|(n, _)| n == "push").unwrap();
    let mut builds = 0;
    for rec in reps {
        let mut running: Option<String> = None;
        for e in &rec.events {
            match e.kind {
                EventKind::RunStarted => {
                    assert!(
                        running.is_none(),
                        "{} starts while {running:?} runs",
                        e.detail
                    );
                    running = Some(e.detail.clone());
                    builds += 1;
                }
                EventKind::RunSucceeded | EventKind::RunFailed
                    if running.as_deref() == Some(&*e.detail) =>
                {
                    running = None
                }
                _ => {}
            }
        }
    }
    assert!(builds > 50, "{builds} builds");
}
