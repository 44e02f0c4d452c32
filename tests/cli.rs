//! End-to-end tests of the `pushpull` binary: outputs, determinism, exit codes and the
//! messages a user sees for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn run_into(out: &Path, extra: &[&str]) -> Output {
    let o = bin()
        .arg("run")
        .arg(repo("scenarios/quickstart.yaml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("binary runs");
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn read(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn quickstart_writes_outputs_and_prints_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_into(dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "deploy_latency",
        "drift_recovery",
        "rollback",
        "failed_deploy_recovery",
        "push (github-actions)",
        "pull (argocd)",
        "drift_unrecovered",
    ] {
        assert!(stdout.contains(needle), "table lacks {needle}:\n{stdout}");
    }
    let out = dir.path().join("quickstart");
    let summary: serde_json::Value =
        serde_json::from_slice(&read(out.join("summary.json"))).unwrap();
    assert_eq!(summary["schema"], 2);
    assert_eq!(summary["baseline"], "push");
    for model in ["push", "pull"] {
        for metric in ["deploy_latency", "drift_recovery", "rollback"] {
            let n = summary["models"][model]["metrics"][metric]["count"]
                .as_u64()
                .unwrap();
            assert!(n > 0, "{model} {metric} is empty");
        }
    }
    let samples = String::from_utf8(read(out.join("samples.csv"))).unwrap();
    assert!(samples.starts_with(
        "repetition,model,metric,cluster,app,commit,start_s,end_s,value_s,censored\n"
    ));
    let events = String::from_utf8(read(out.join("events.csv"))).unwrap();
    assert!(events.starts_with("repetition,model,t_s,cluster,app,event,detail\n"));
    // No temporary files are left behind.
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "left {name}");
    }
}

#[test]
fn same_seed_gives_byte_identical_outputs_whatever_the_thread_count() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_into(a.path(), &["--threads", "1"]);
    run_into(b.path(), &["--threads", "2"]);
    for f in ["summary.json", "samples.csv", "events.csv"] {
        let (x, y) = (
            read(a.path().join("quickstart").join(f)),
            read(b.path().join("quickstart").join(f)),
        );
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    let c = tempfile::tempdir().unwrap();
    run_into(c.path(), &["--seed", "43"]);
    assert_ne!(
        read(a.path().join("quickstart/samples.csv")),
        read(c.path().join("quickstart/samples.csv")),
        "another seed must give other samples"
    );
}

#[test]
fn json_format_prints_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_into(dir.path(), &["--format", "json", "--repetitions", "1"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["scenario"], "quickstart");
    assert_eq!(v["repetitions"], 1);
}

/// Writes `body` as a scenario file and runs `pushpull validate` and `run` on it.
fn refused(body: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, body).unwrap();
    for verb in ["validate", "run"] {
        let o = bin().arg(verb).arg(&file).arg("--help").output().unwrap();
        assert!(o.status.success());
        let mut cmd = bin();
        cmd.arg(verb).arg(&file);
        if verb == "run" {
            cmd.arg("--out").arg(dir.path());
        }
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{verb}: exit code, stderr:\n{err}"
        );
        let place = format!("{}:", file.display());
        assert!(err.contains(&place), "{verb}: no file:line in\n{err}");
        for e in expect {
            assert!(err.contains(e), "{verb}: `{e}` missing from\n{err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

const HEAD: &str = "name: bad\nduration: 1h\n";

#[test]
fn misspelled_key_exits_2_with_line_and_path() {
    refused(
        &format!("{HEAD}fleet:\n  clusters: 1\n  replcas: 3\n"),
        &[":5:3:", "fleet.replcas", "unknown field `replcas`"],
    );
}

#[test]
fn negative_duration_exits_2_with_line_and_path() {
    refused(
        &format!("{HEAD}models:\n  pull:\n    poll:\n      interval: -5m\n"),
        &[":6:", "models.pull.poll.interval", "negative"],
    );
}

#[test]
fn unknown_preset_exits_2_with_line_and_path() {
    refused(
        &format!("{HEAD}models:\n  push:\n    preset: gitlab\n"),
        &[":5:", "models.push.preset", "github-actions"],
    );
}

#[test]
fn percentage_over_100_exits_2_with_line_and_path() {
    refused(
        &format!("{HEAD}fleet:\n  rollout:\n    max_unavailable: 120%\n"),
        &[":5:", "fleet.rollout.max_unavailable", "100%"],
    );
}

#[test]
fn malformed_yaml_exits_2_with_line() {
    refused(
        &format!("{HEAD}fleet:\n  clusters: [1, 2\n  apps: 3\n"),
        &[":4:"],
    );
}

#[test]
fn missing_file_exits_2_naming_it() {
    let o = bin()
        .args(["validate", "no/such/file.yaml"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.yaml"));
}

#[test]
fn breached_threshold_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tight.yaml");
    std::fs::write(
        &file,
        "name: tight\nduration: 2h\nthresholds:\n  - { model: push, metric: deploy_latency, quantile: p50, max: 1s }\n",
    )
    .unwrap();
    let o = bin()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("BREACHED"));
    let s: serde_json::Value =
        serde_json::from_slice(&read(dir.path().join("tight/summary.json"))).unwrap();
    assert_eq!(
        s["thresholds"][0]["ok"], false,
        "the results are written even when a threshold fails"
    );
}

#[test]
fn every_shipped_scenario_validates() {
    let mut n = 0;
    for e in std::fs::read_dir(repo("scenarios")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let o = bin().arg("validate").arg(&p).output().unwrap();
            assert!(
                o.status.success(),
                "{}: {}",
                p.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 4, "found {n} scenarios");
}

#[test]
fn sweep_runs_every_combination_and_writes_a_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["sweep"])
        .arg(repo("scenarios/quickstart.yaml"))
        .args([
            "--set",
            "models.pull.preset=argocd,flux",
            "--set",
            "models.pull.webhook=none,{delay: 1s}",
        ])
        .args(["--repetitions", "1", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(dir.path().join("quickstart/sweep/sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 * 2, "{csv}");
    for variant in [
        "models-pull-preset-argocd_models-pull-webhook-none",
        "models-pull-preset-flux_models-pull-webhook-delay-1s",
    ] {
        assert!(
            dir.path()
                .join("quickstart/sweep")
                .join(variant)
                .join("summary.json")
                .exists(),
            "{variant}"
        );
    }
    let bad = bin()
        .args(["sweep"])
        .arg(repo("scenarios/quickstart.yaml"))
        .args(["--set", "models.pull.preset=argo"])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("models.pull.preset=argo"));
}

/// Scales every `*_s` figure (and confidence interval) of a summary.
fn scale_times(v: &mut serde_json::Value, f: f64) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k.ends_with("_s") && k != "duration_s" {
                    match x {
                        serde_json::Value::Number(n) => {
                            *x = serde_json::json!(n.as_f64().unwrap() * f)
                        }
                        serde_json::Value::Array(a) => {
                            for y in a.iter_mut() {
                                *y = serde_json::json!(y.as_f64().unwrap() * f);
                            }
                        }
                        _ => {}
                    }
                } else {
                    scale_times(x, f);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| scale_times(x, f)),
        _ => {}
    }
}

#[test]
fn check_passes_on_itself_fails_on_a_faster_baseline_and_refuses_another_scenario() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path(), &["--repetitions", "2"]);
    let run = dir.path().join("quickstart");
    let own = run.join("summary.json");
    let check = |baseline: &Path| {
        bin()
            .arg("check")
            .arg(&run)
            .arg("--baseline")
            .arg(baseline)
            .output()
            .unwrap()
    };

    let o = check(&own);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let mut faster: serde_json::Value = serde_json::from_slice(&read(own.clone())).unwrap();
    scale_times(&mut faster, 1.0 / 1.2);
    let faster_path = dir.path().join("faster.json");
    std::fs::write(&faster_path, serde_json::to_vec(&faster).unwrap()).unwrap();
    let o = check(&faster_path);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("WORSE") && out.contains("+20.0%"), "{out}");

    let mut other: serde_json::Value = serde_json::from_slice(&read(own.clone())).unwrap();
    other["scenario"] = serde_json::json!("drift-storm");
    let other_path = dir.path().join("other.json");
    std::fs::write(&other_path, serde_json::to_vec(&other).unwrap()).unwrap();
    let o = check(&other_path);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("drift-storm"));

    let o = bin()
        .arg("check")
        .arg(&run)
        .arg("--baseline")
        .arg(dir.path().join("nope.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn four_repetitions_give_the_same_summary_on_one_and_two_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    run_into(a.path(), &["--repetitions", "4", "--threads", "1"]);
    run_into(b.path(), &["--repetitions", "4", "--threads", "2"]);
    assert_eq!(
        read(a.path().join("quickstart/summary.json")),
        read(b.path().join("quickstart/summary.json"))
    );
}

#[test]
fn replay_arrival_replays_the_commit_spacing_of_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("history");
    let git = |args: &[&str], date: Option<&str>| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&repo_dir).args(args);
        if let Some(d) = date {
            c.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
        }
        c.env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t");
        assert!(c.output().unwrap().status.success(), "git {args:?}");
    };
    std::fs::create_dir_all(&repo_dir).unwrap();
    git(&["init", "-q", "-b", "main"], None);
    for (i, t) in [
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:05:00Z",
        "2026-01-01T10:35:00Z",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(repo_dir.join("f"), i.to_string()).unwrap();
        git(&["add", "f"], None);
        git(&["commit", "-q", "-m", &format!("c{i}")], Some(t));
    }
    let file = dir.path().join("replay.yaml");
    std::fs::write(&file, "name: replay\nduration: 1h\nworkload:\n  commits: { arrival: replay, repo: history, branch: main }\n").unwrap();
    let o = bin()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events = std::fs::read_to_string(dir.path().join("replay/events.csv")).unwrap();
    let times: Vec<f64> = events
        .lines()
        .filter(|l| l.starts_with("0,push,") && l.contains(",commit,"))
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        times,
        [1.0, 301.0, 2101.0],
        "commits 5 and 30 minutes apart, as in the repository"
    );
    let missing = dir.path().join("missing.yaml");
    std::fs::write(
        &missing,
        "name: replay\nduration: 1h\nworkload:\n  commits: { arrival: replay, repo: nowhere }\n",
    )
    .unwrap();
    let o = bin().arg("validate").arg(&missing).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere"));
}

#[test]
fn a_sweep_that_breaches_a_threshold_names_the_variant_and_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["sweep"])
        .arg(repo("scenarios/quickstart.yaml"))
        .args(["--set", "models.pull.poll={interval: 3m},{interval: 40m}"])
        .args(["--repetitions", "1", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("1 threshold(s) breached (exit code 1)"),
        "{err}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("over its threshold of 15m00s"))
        .unwrap_or_else(|| panic!("no breach line in: {err}"));
    assert!(
        line.contains("variant `models.pull.poll={interval: 40m}`")
            && line.contains("pull deploy_latency p95 is "),
        "{line}"
    );
    assert!(!err.contains("interval: 3m}`"), "{err}");
}
