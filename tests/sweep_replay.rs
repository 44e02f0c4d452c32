//! `pushpull sweep` of an `arrival: replay` scenario reads the replayed commits from the
//! repository for every variant, as `pushpull run` does, and refuses an unreadable one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

#[path = "support/git_history.rs"]
mod git_history;
use git_history::repository;

/// Distinct commits with a `deploy_latency` sample, and the number of such samples, by
/// model, from one samples.csv.
fn deploys(samples: &Path) -> BTreeMap<String, (BTreeSet<String>, usize)> {
    let text =
        std::fs::read_to_string(samples).unwrap_or_else(|e| panic!("{}: {e}", samples.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (model, metric, commit) = (col("model"), col("metric"), col("commit"));
    let mut out: BTreeMap<String, (BTreeSet<String>, usize)> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[metric] == "deploy_latency" {
            let e = out.entry(f[model].to_string()).or_default();
            e.0.insert(f[commit].to_string());
            e.1 += 1;
        }
    }
    out
}

#[test]
fn every_sweep_variant_deploys_the_commits_replayed_within_the_duration() {
    let dir = tempfile::tempdir().unwrap();
    // Offsets 0, 5 min, 35 min and 90 min: the first lands 1 s in, so three fall inside
    // the one-hour duration and the last does not.
    repository(
        &dir.path().join("history"),
        &[
            "2026-01-01T10:00:00Z",
            "2026-01-01T10:05:00Z",
            "2026-01-01T10:35:00Z",
            "2026-01-01T11:30:00Z",
        ],
    );
    let file = dir.path().join("replay.yaml");
    std::fs::write(
        &file,
        "name: replay\nduration: 1h\nworkload:\n  commits: { arrival: replay, repo: history, branch: main }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = bin()
        .arg("sweep")
        .arg(&file)
        .args(["--set", "fleet.clusters=1,2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (slug, clusters) in [("fleet-clusters-1", 1), ("fleet-clusters-2", 2)] {
        let by_model = deploys(&out.join("replay/sweep").join(slug).join("samples.csv"));
        assert_eq!(
            by_model.len(),
            2,
            "{slug}: both setups deploy: {by_model:?}"
        );
        for (model, (commits, samples)) in &by_model {
            assert_eq!(
                commits.len(),
                3,
                "{slug} {model}: the three commits replayed within the hour deploy"
            );
            assert_eq!(
                *samples,
                3 * clusters,
                "{slug} {model}: one deploy sample per commit and cluster"
            );
        }
    }
}

#[test]
fn a_sweep_of_a_replay_whose_repository_cannot_be_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replay.yaml");
    std::fs::write(
        &file,
        "name: replay\nduration: 1h\nworkload:\n  commits: { arrival: replay, repo: nowhere }\n",
    )
    .unwrap();
    let o = bin()
        .arg("sweep")
        .arg(&file)
        .args(["--set", "fleet.clusters=1,2", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("workload.commits: cannot replay") && err.contains("nowhere"),
        "{err}"
    );
    assert!(!dir.path().join("out/replay/sweep").exists());
}
