//! The GitHub Actions workflow users copy: valid YAML with the steps the README promises,
//! and a committed baseline that the current quickstart passes.

use std::path::Path;
use std::process::Command;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[test]
fn workflow_is_valid_yaml_with_build_run_check_upload_and_summary() {
    let text = std::fs::read_to_string(repo(".github/workflows/pushpull.yml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    let steps = doc["jobs"]["delivery-benchmark"]["steps"]
        .as_sequence()
        .expect("a steps list");
    let all: Vec<String> = steps
        .iter()
        .map(|s| serde_yaml_ng::to_string(s).unwrap())
        .collect();
    let has = |needle: &str| all.iter().any(|s| s.contains(needle));
    assert!(has("cargo build --release"), "builds pushpull");
    assert!(has("pushpull run"), "runs a scenario");
    assert!(
        has("pushpull check") && has("--baseline"),
        "checks against a baseline"
    );
    assert!(has("actions/upload-artifact"), "uploads the report");
    assert!(
        has("GITHUB_STEP_SUMMARY") && has("report.md"),
        "posts report.md as the job summary"
    );
    let on = doc["on"].as_mapping().expect("an `on:` map");
    assert!(on.contains_key("pull_request"), "runs on pull requests");
}

#[test]
fn committed_baseline_passes_against_the_current_quickstart() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_pushpull");
    let run = Command::new(bin)
        .arg("run")
        .arg(repo("scenarios/quickstart.yaml"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success());
    let check = Command::new(bin)
        .arg("check")
        .arg(dir.path().join("quickstart"))
        .arg("--baseline")
        .arg(repo(".github/pushpull/quickstart-baseline.json"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "the quickstart regressed against .github/pushpull/quickstart-baseline.json \
         (refresh the baseline if the change is intended):\n{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
