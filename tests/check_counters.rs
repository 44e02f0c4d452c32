//! Counters and shares are first-class in `pushpull check`: `--metric drift_unrecovered`
//! compares the counter (a run with more hand edits left live is a regression), a share
//! is compared as a share, an unknown name is refused naming every accepted one, and a
//! duration figure still open at the end is never passed as if it were known.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

/// A schema-2 summary with push's drift counters and drift_recovery p50 set.
fn summary(
    dir: &Path,
    name: &str,
    drift_events: u64,
    unrecovered: u64,
    p50: Value,
) -> std::path::PathBuf {
    let censored = if p50.is_null() { unrecovered } else { 0 };
    let mut drift = serde_json::json!({"count": drift_events - unrecovered, "mean_s": 30.0,
        "p50_s": p50, "p90_s": 60.0, "p95_s": 60.0, "p99_s": 60.0, "max_s": 60.0,
        "ci95_p50_s": null});
    if p50.is_null() {
        drift["censored"] = censored.into();
        drift["unreached"] = serde_json::json!(["p50"]);
        drift["beyond_s"] = 500.0.into();
    }
    let counters = |u: u64| {
        serde_json::json!({"deploys": 10, "failed_deploys": 0, "drift_events": drift_events,
            "drift_unrecovered": u, "api_requests": 10, "git_ref_checks": 0, "git_fetches": 0,
            "git_checkouts": 10, "apply_errors": 0, "deploys_incomplete": 0,
            "clusters_unrestored": 0})
    };
    let s = serde_json::json!({"schema": 2, "scenario": "s", "mode": "sim", "seed": 1,
        "repetitions": 10, "duration_s": 3600.0, "partial": false, "baseline": "push",
        "models": {
            "push": {"kind": "push", "preset": "github-actions",
                "metrics": {"drift_recovery": drift}, "counters": counters(unrecovered)},
            "pull": {"kind": "pull", "preset": "argocd", "metrics": {}, "counters": counters(0)}},
        "thresholds": [], "engine": {"events": 1, "wall_s": null}});
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    path
}

fn check(now: &Path, baseline: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("check")
        .arg(now)
        .arg("--baseline")
        .arg(baseline)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn check_metric_drift_unrecovered_compares_the_counter() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summary(tmp.path(), "base.json", 40, 4, 12.0.into());
    let same = summary(tmp.path(), "same.json", 40, 4, 12.0.into());
    let worse = summary(tmp.path(), "worse.json", 40, 9, 12.0.into());
    let o = check(&same, &base, &["--metric", "drift_unrecovered"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("drift_unrecovered") && out.contains("count"),
        "{out}"
    );
    let o = check(
        &worse,
        &base,
        &["--metric", "drift_unrecovered", "--format", "json"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let push = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["model"] == "push")
        .unwrap();
    assert_eq!(push["unit"], "count");
    assert_eq!(push["baseline_s"], 4.0);
    assert_eq!(push["now_s"], 9.0);
    assert_eq!(push["verdict"], "worse");
    // Only the named figure is compared: the durations are left out.
    assert!(
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["metric"] == "drift_unrecovered")
    );
}

#[test]
fn a_share_is_compared_as_a_share() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summary(tmp.path(), "base.json", 40, 4, 12.0.into());
    // 4 of 40 (10%) against 6 of 80 (7.5%): more edits left live, a smaller share.
    let now = summary(tmp.path(), "now.json", 80, 6, 12.0.into());
    let o = check(
        &now,
        &base,
        &["--metric", "drift_unrecovered_share", "--format", "json"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = r["rows"].as_array().unwrap();
    let push = rows.iter().find(|x| x["model"] == "push").unwrap();
    assert_eq!(push["unit"], "share");
    assert_eq!(push["baseline_s"], 0.1);
    assert_eq!(push["now_s"], 0.075);
    assert_eq!(push["verdict"], "better");
}

#[test]
fn an_unknown_metric_name_is_refused_with_every_accepted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summary(tmp.path(), "base.json", 40, 4, 12.0.into());
    let o = check(&base, &base, &["--metric", "drift_unrecoverd"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for name in [
        "drift_recovery",
        "drift_unrecovered",
        "clusters_unrestored",
        "drift_unrecovered_share",
    ] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn a_median_still_open_at_the_end_is_never_passed_as_known() {
    let tmp = tempfile::tempdir().unwrap();
    let base = summary(tmp.path(), "base.json", 40, 4, 12.0.into());
    // The median is more than 500 s now: far beyond 12 s + 10%, so worse.
    let open = summary(tmp.path(), "open.json", 40, 30, Value::Null);
    let o = check(
        &open,
        &base,
        &[
            "--metric",
            "drift_recovery",
            "--quantile",
            "p50",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["rows"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["rows"][0]["verdict"], "worse");
    assert_eq!(r["rows"][0]["now_beyond_s"], 500.0);
    // Against a baseline of 900 s, "more than 500 s" may or may not be worse: unknown,
    // and still a failure.
    let slow = summary(tmp.path(), "slow.json", 40, 4, 900.0.into());
    let o = check(
        &open,
        &slow,
        &[
            "--metric",
            "drift_recovery",
            "--quantile",
            "p50",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["rows"][0]["verdict"], "unknown");
}

/// A scenario with thresholds on a share and a counter: the run judges them in
/// summary.json (`metric`, no `quantile`, the bound and value as a share or count),
/// prints them, and exits 1 for the one breached.
#[test]
fn thresholds_on_a_share_and_a_counter_are_judged() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("shares.yaml");
    std::fs::write(
        &scenario,
        "name: shares\nduration: 2h\nrepetitions: 2\nseed: 11\n\
         fleet: { clusters: 1, apps: 10, replicas: 2 }\n\
         workload:\n  commits: { arrival: poisson, mean_interval: 2h }\n  apps_per_commit: 1\n\
         models:\n  push: { preset: github-actions }\n  pull: { preset: argocd }\n\
         faults:\n  - { kind: drift, change: scale, arrival: poisson, mean_interval: 10m }\n\
         thresholds:\n\
         \x20 - { model: pull, metric: drift_unrecovered_share, max: 5% }\n\
         \x20 - { model: push, metric: drift_unrecovered_share, max: 0.05 }\n\
         \x20 - { model: pull, metric: drift_unrecovered, max: 0 }\n",
    )
    .unwrap();
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("push drift_unrecovered_share share ≤ 5.0%:")
            && stdout.contains("BREACHED"),
        "{stdout}"
    );
    let s: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("shares/summary.json")).unwrap())
            .unwrap();
    let t = s["thresholds"].as_array().unwrap();
    let push = &s["models"]["push"]["counters"];
    let share =
        push["drift_unrecovered"].as_f64().unwrap() / push["drift_events"].as_f64().unwrap();
    assert_eq!(t[1]["metric"], "drift_unrecovered_share");
    assert!(t[1].get("quantile").is_none());
    assert_eq!(t[1]["max_s"], 0.05);
    assert_eq!(t[1]["value_s"].as_f64(), Some(share));
    assert_eq!(t[1]["ok"], share <= 0.05);
    assert_eq!(
        (t[0]["ok"].as_bool(), t[2]["ok"].as_bool()),
        (Some(true), Some(true))
    );
    // The run folder, thresholds and all, is read back by `check` (as its own baseline).
    let dir = tmp.path().join("shares");
    let o = check(
        &dir,
        &dir.join("summary.json"),
        &["--metric", "drift_unrecovered_share"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The decision card's shares are bounded like any other: a threshold on push's
/// out-of-sync share (hand edits it leaves live) breaches, one on pull's holds, and
/// `check --metric out_of_sync_share` compares them.
#[test]
fn thresholds_and_check_on_the_out_of_sync_share() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("oos.yaml");
    std::fs::write(
        &scenario,
        "name: oos\nduration: 2h\nrepetitions: 2\nseed: 11\n\
         fleet: { clusters: 1, apps: 10, replicas: 2 }\n\
         workload:\n  commits: { arrival: poisson, mean_interval: 2h }\n  apps_per_commit: 1\n\
         models:\n  push: { preset: github-actions }\n  pull: { preset: argocd }\n\
         faults:\n  - { kind: drift, change: scale, arrival: poisson, mean_interval: 10m }\n\
         thresholds:\n\
         \x20 - { model: pull, metric: out_of_sync_share, max: 1% }\n\
         \x20 - { model: push, metric: out_of_sync_share, max: 1% }\n",
    )
    .unwrap();
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("oos/summary.json")).unwrap())
            .unwrap();
    let t = s["thresholds"].as_array().unwrap();
    for (i, model) in [(0, "pull"), (1, "push")] {
        let share = s["models"][model]["out_of_sync_share"].as_f64().unwrap();
        assert_eq!(t[i]["metric"], "out_of_sync_share");
        assert_eq!(t[i]["value_s"].as_f64(), Some(share), "{model}");
        assert_eq!(t[i]["ok"], share <= 0.01, "{model}: {share}");
    }
    assert_eq!(
        (t[0]["ok"].as_bool(), t[1]["ok"].as_bool()),
        (Some(true), Some(false))
    );
    let dir = tmp.path().join("oos");
    let o = check(
        &dir,
        &dir.join("summary.json"),
        &["--metric", "out_of_sync_share"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("out_of_sync_share"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
