//! `pushpull fit` reads a team's history in the formats its tools export and writes a
//! scenario fragment that `pushpull validate` accepts once merged into a scenario.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/git_history.rs"]
mod git_history;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn fit(args: &[&str]) -> Output {
    bin().arg("fit").args(args).output().expect("pushpull runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A scenario made of a header, the fragment, and the setups the fragment lacks.
fn scenario_with(fragment: &str, extra_setups: &str) -> String {
    let mut s = String::from(
        "name: fitted\nseed: 1\nduration: 6h\nrepetitions: 1\nfleet: {clusters: 2, apps: 3}\n",
    );
    if !fragment.contains("\nworkload:") {
        s.push_str("workload: {commits: {arrival: poisson, mean_interval: 30m}}\n");
    }
    s.push_str(fragment);
    if !fragment.contains("\nmodels:") {
        s.push_str("models:\n");
    }
    s.push_str(extra_setups);
    s
}

fn validate(dir: &Path, yaml: &str) -> Output {
    let path = dir.join("fitted.yaml");
    std::fs::write(&path, yaml).unwrap();
    bin()
        .arg("validate")
        .arg(&path)
        .output()
        .expect("pushpull runs")
}

#[test]
fn a_github_actions_fragment_validates_inside_a_scenario() {
    let o = fit(&[
        "--github-actions",
        data("gha-runs.json").to_str().unwrap(),
        "--jobs",
        data("gha-jobs.json").to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "fit failed: {err}");
    // Each fitted value says where it came from and how well it fits.
    assert!(out.contains("# job created → started"), "{out}");
    assert!(out.contains("build: {dist: lognormal"), "{out}");
    assert!(out.contains("KS D = "), "{out}");
    assert!(out.contains("of finished runs failed"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let v = validate(
        dir.path(),
        &scenario_with(&out, "  argocd: {kind: pull, preset: argocd}\n"),
    );
    assert!(
        v.status.success(),
        "validate refused:\n{}\n{out}",
        text(&v).1
    );
}

#[test]
fn every_source_together_validates_inside_a_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    git_repository(&repo);
    let out_file = dir.path().join("fragment.yaml");
    let o = fit(&[
        "--github-actions",
        data("gha-runs.json").to_str().unwrap(),
        "--jobs",
        data("gha-jobs.json").to_str().unwrap(),
        "--jenkins",
        data("jenkins-builds.json").to_str().unwrap(),
        "--argocd",
        data("argocd-apps.json").to_str().unwrap(),
        "--git",
        repo.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "fit failed: {}", text(&o).1);
    let fragment = std::fs::read_to_string(&out_file).unwrap();
    for key in ["  gha:", "  jenkins:", "  argocd:", "mean_interval:"] {
        assert!(fragment.contains(key), "no {key} in\n{fragment}");
    }
    // Commits every 2 h on weekdays 9:00–17:00 are found to keep working hours.
    assert!(
        fragment.contains("100% of commits on Monday–Friday"),
        "{fragment}"
    );
    let v = validate(dir.path(), &scenario_with(&fragment, ""));
    assert!(
        v.status.success(),
        "validate refused:\n{}\n{fragment}",
        text(&v).1
    );
}

#[test]
fn bad_input_is_named_with_its_fix() {
    let o = fit(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("nothing to fit"), "{}", text(&o).1);

    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.json");
    std::fs::write(&wrong, r#"{"items": []}"#).unwrap();
    let o = fit(&["--github-actions", wrong.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(
        err.contains("wrong.json: no `workflow_runs` array") && err.contains("gh run list"),
        "{err}"
    );

    let o = fit(&[
        "--jenkins",
        dir.path().join("missing.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("cannot read"), "{}", text(&o).1);

    let o = fit(&[
        "--jobs",
        data("gha-jobs.json").to_str().unwrap(),
        "--build-job",
        "compile",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--build-job"), "{}", text(&o).1);
}

/// A repository with a commit every two hours, 9:00 to 15:00 UTC, Monday to Friday, for
/// two weeks.
fn git_repository(dir: &Path) {
    let mut times = Vec::new();
    for day in [6, 7, 8, 9, 10, 13, 14, 15, 16, 17] {
        for hour in [9, 11, 13, 15] {
            times.push(format!("2024-05-{day:02}T{hour:02}:00:00+0000"));
        }
    }
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    git_history::repository(dir, &times);
}
