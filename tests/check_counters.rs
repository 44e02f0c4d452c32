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
