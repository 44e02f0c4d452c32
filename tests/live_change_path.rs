//! The whole change path live (`--mode emulated`): the shared CI stage, a write-back pull
//! request per config commit (a `pushpull/pr-<n>` branch and a two-parent merge commit by
//! the reviewer), two environments with a soak before prod (Argo CD: a promotion commit
//! to `envs/prod/`; GitHub Actions: the pipeline's prod job). The run's repositories pass
//! `git fsck --strict`, hold exactly the commits the events name, and the sim and the
//! emulated run agree on deploy latency and lead time.

use pushpull::live::{LiveOptions, Target, run_live};
use pushpull::measure::RunRecord;
use pushpull::metric::Metric;
use pushpull::scenario::Scenario;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("the git CLI is installed");
    assert!(
        o.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("utf-8")
}

/// The p50 of `metric` for `setup` (on `cluster` alone when given).
fn p50(
    runs: &[(String, Vec<RunRecord>)],
    setup: &str,
    metric: Metric,
    cluster: Option<u32>,
) -> f64 {
    let mut v: Vec<u64> = runs
        .iter()
        .filter(|(k, _)| k == setup)
        .flat_map(|(_, r)| r.iter())
        .flat_map(|r| r.samples.iter())
        .filter(|s| s.metric == metric && (cluster.is_none() || s.cluster == cluster))
        .map(|s| s.value())
        .collect();
    v.sort_unstable();
    assert!(!v.is_empty(), "{setup} {metric}: no samples");
    v[v.len() / 2] as f64 / 1e9
}

/// Events of one setup of the run: (kind, detail) in order.
fn events(rec: &RunRecord) -> Vec<(String, String)> {
    rec.events
        .iter()
        .map(|e| (e.kind.name().to_string(), e.detail.clone()))
        .collect()
}

#[test]
fn emulated_change_path_commits_write_backs_merges_and_promotions_and_agrees_with_the_sim() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/live-change-path.yaml");
    let text = std::fs::read_to_string(&path).expect("scenario");
    let s = Scenario::parse(&text, "live-change-path.yaml").unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let live = run_live(
        &s,
        &LiveOptions {
            target: Target::Emulated,
            run_dir: dir.path().to_path_buf(),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "emulated run: {:.1}s of wall time",
        started.elapsed().as_secs_f64()
    );
    assert!(!live.partial);
    let record = |name: &str| -> &RunRecord {
        &live
            .runs
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no runs of {name}"))
            .1[0]
    };

    // Argo CD: one pull request per config commit, merged by the reviewer with a merge
    // commit whose second parent is the bot's branch; one CI promotion commit per
    // promotion, touching prod's path only.
    let argo = dir.path().join("git/argocd-0");
    git(&argo, &["fsck", "--strict"]);
    let ev = events(record("argocd"));
    let config_commits = ev.iter().filter(|(k, _)| k == "commit").count();
    let promotions = ev.iter().filter(|(k, _)| k == "promoted").count();
    assert!(
        config_commits >= 5 && promotions >= 3,
        "{config_commits} commits, {promotions} promotions"
    );
    let log = git(
        &argo,
        &["log", "--first-parent", "--format=%H %P|%an|%cn|%s", "main"],
    );
    let lines: Vec<&str> = log.lines().collect();
    let merges: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("|Merge pull request #"))
        .collect();
    assert_eq!(merges.len(), config_commits, "{log}");
    for m in &merges {
        let (ids, rest) = m.split_once('|').expect("format");
        assert_eq!(ids.split(' ').count(), 3, "a merge has two parents: {m}");
        assert!(rest.starts_with("release-bot|reviewer|"), "{m}");
        let second = ids.split(' ').nth(2).expect("second parent");
        let branch = git(&argo, &["log", "-1", "--format=%an %s", second]);
        assert!(branch.starts_with("release-bot Release app-"), "{branch}");
        // The branch is its pull request's, opened a review (4m) before the merge.
        let n: u32 = rest
            .split("#")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("pull request number");
        let tip = git(
            &argo,
            &["rev-parse", &format!("refs/heads/pushpull/pr-{n}")],
        );
        assert_eq!(tip.trim(), second);
        let merge_id = ids.split(' ').next().expect("id");
        let times = git(&argo, &["log", "-1", "--format=%ct", merge_id]);
        let opened = git(&argo, &["log", "-1", "--format=%ct", second]);
        let review = times.trim().parse::<i64>().expect("time")
            - opened.trim().parse::<i64>().expect("time");
        assert!((239..=241).contains(&review), "review {review}s: {m}");
    }
    let promos: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("|ci-bot|ci-bot|Promote "))
        .collect();
    assert_eq!(promos.len(), promotions, "{log}");
    for p in &promos {
        let id = p.split(' ').next().expect("id");
        let files = git(&argo, &["show", "--format=", "--name-only", id]);
        assert!(
            !files.is_empty() && files.lines().all(|f| f.starts_with("envs/prod/app-")),
            "{p}: {files}"
        );
    }
    // The initial commit, the merges and the promotions: nothing else on main.
    assert_eq!(lines.len(), 1 + config_commits + promotions, "{log}");

    // GitHub Actions: the source commits themselves, by the developer; no merges.
    let gha = dir.path().join("git/gha-0");
    git(&gha, &["fsck", "--strict"]);
    let gha_commits = events(record("gha"))
        .iter()
        .filter(|(k, _)| k == "commit")
        .count();
    let log = git(&gha, &["log", "--format=%P|%an", "main"]);
    assert_eq!(log.lines().count(), 1 + gha_commits, "{log}");
    assert!(
        log.lines()
            .all(|l| !l.contains(' ') && l.ends_with("|pushpull")),
        "{log}"
    );

    // The sim of the same file: p50s within 15%, of deploy latency in each environment
    // (dev-1 is cluster 0, prod-1 cluster 1: both together would put the p50 between
    // the two environments' figures) and of lead time.
    let sim = pushpull::sim::run(&s, 2);
    for setup in ["gha", "argocd"] {
        for (metric, cluster, what) in [
            (Metric::DeployLatency, Some(0), "deploy_latency@dev"),
            (Metric::DeployLatency, Some(1), "deploy_latency@prod"),
            (Metric::LeadTime, None, "lead_time"),
        ] {
            let a = p50(&sim, setup, metric, cluster);
            let b = p50(&live.runs, setup, metric, cluster);
            let off = (b - a).abs() / a;
            eprintln!(
                "change path {setup} {what}: sim p50 {a:.1}s, emulated p50 {b:.1}s ({:.1}% apart)",
                off * 100.0
            );
            assert!(
                off <= 0.15,
                "{setup} {what}: sim p50 {a:.1}s vs emulated {b:.1}s ({:.1}% apart)",
                off * 100.0
            );
        }
    }
}
