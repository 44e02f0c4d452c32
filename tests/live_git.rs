//! The live world's git repository, checked with the real git CLI: a run's history of 20
//! workload commits (some multi-app, one broken release) and a revert must be a valid
//! repository whose log, trees and diffs say exactly what the harness committed.

use pushpull::live::git::{GitError, LiveRepo, ManifestParams, replay_offsets};
use std::path::Path;
use std::process::Command;

const EPOCH: i64 = 1_700_000_000;
const APPS: u32 = 5;
const SEC: u64 = 1_000_000_000;
/// The workload commit that releases a broken image (1-based, = its rev).
const BAD: u32 = 8;
const BAD_APP: u32 = 2;

fn params() -> ManifestParams {
    ManifestParams {
        replicas: 3,
        ..ManifestParams::default()
    }
}

/// Runs git in `dir`, failing the test with git's stderr if it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("the git CLI is installed");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// What the run committed, to check the repository against.
struct Run {
    repo: LiveRepo,
    /// Scenario time of each rev (rev 0 at 0).
    times: Vec<u64>,
    /// Expected (spec, broken) of every app at each rev.
    trees: Vec<Vec<(u32, bool)>>,
    /// Apps each rev changed relative to its parent.
    changed: Vec<Vec<u32>>,
    subjects: Vec<String>,
    ids: Vec<String>,
}

/// Rev 0, 20 workload commits (every third one touches two or three apps; rev `BAD` gives
/// app `BAD_APP` a broken image, and no later workload commit touches that app), then the
/// revert of `BAD`.
fn run(dir: &Path) -> Run {
    let repo = LiveRepo::create(dir, APPS, params(), EPOCH).expect("create");
    let mut run = Run {
        ids: vec![repo.commit_hex(0).expect("rev 0")],
        repo,
        times: vec![0],
        trees: vec![(0..APPS).map(|a| (a, false)).collect()],
        changed: vec![vec![]],
        subjects: vec![format!("Initial manifests: {APPS} apps, app i at spec i")],
    };
    let mut next_spec = APPS;
    let mut at = 0u64;
    for k in 1..=20u32 {
        // Uneven spacing with sub-second parts: git keeps whole seconds.
        at += (40 + u64::from(k * 37 % 300)) * SEC + u64::from(k) * 10_000_000;
        let mut apps: Vec<u32> = match k % 3 {
            0 => vec![k % APPS, (k + 1) % APPS, (k + 3) % APPS],
            1 => vec![k % APPS],
            _ => vec![k % APPS, (k + 2) % APPS],
        };
        if k == BAD {
            apps = vec![BAD_APP];
        } else if k > BAD {
            apps.retain(|&a| a != BAD_APP);
            if apps.is_empty() {
                apps.push((BAD_APP + 1) % APPS);
            }
        }
        apps.sort_unstable();
        apps.dedup();
        let mut tree = run.trees.last().expect("rev 0").clone();
        let changes: Vec<(u32, u32, bool)> = apps
            .iter()
            .map(|&a| {
                next_spec += 1;
                tree[a as usize] = (next_spec, k == BAD);
                (a, next_spec, k == BAD)
            })
            .collect();
        let subject = format!("Deploy {apps:?} (workload commit {k})");
        let (rev, id) = run
            .repo
            .commit(at, &changes, &format!("{subject}\n\nbody line"))
            .expect("commit");
        assert_eq!(rev, k);
        run.times.push(at);
        run.trees.push(tree);
        run.changed.push(apps);
        run.subjects.push(subject);
        run.ids.push(id);
    }
    at += 300 * SEC;
    let (rev, id) = run.repo.revert(at, BAD).expect("revert");
    assert_eq!(rev, 21);
    let mut tree = run.trees.last().expect("head").clone();
    tree[BAD_APP as usize] = run.trees[BAD as usize - 1][BAD_APP as usize];
    run.times.push(at);
    run.trees.push(tree);
    run.changed.push(vec![BAD_APP]);
    run.subjects
        .push(format!("Revert \"{}\"", run.subjects[BAD as usize]));
    run.ids.push(id);
    run
}

#[test]
fn a_run_history_is_a_valid_git_repository_with_the_times_and_trees_committed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("git");
    let run = run(&dir);
    let repo = &run.repo;
    assert_eq!(repo.path(), dir);
    assert_eq!(repo.head_rev(), 21);

    // fsck --strict: every object and the refs are well formed, nothing is missing.
    let out = Command::new("git")
        .args([
            "-C",
            dir.to_str().expect("utf-8 path"),
            "fsck",
            "--strict",
            "--no-dangling",
        ])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git fsck runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git fsck --strict failed:\n{report}");
    assert!(
        !report.contains("warning") && !report.contains("error"),
        "git fsck --strict complained:\n{report}"
    );

    // HEAD is main, and main is the head commit.
    assert_eq!(
        git(&dir, &["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    assert_eq!(git(&dir, &["rev-parse", "main"]).trim(), run.ids[21]);

    // git log: 1 + 20 + 1 commits, oldest first, each at epoch + its scenario time.
    let log = git(
        &dir,
        &["log", "--reverse", "--format=%H %at %ct %an <%ae> %s"],
    );
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 22, "{log}");
    for (rev, line) in lines.iter().enumerate() {
        let t = EPOCH + (run.times[rev] / SEC) as i64;
        assert_eq!(
            *line,
            format!(
                "{} {t} {t} pushpull <pushpull@pushpull.local> {}",
                run.ids[rev], run.subjects[rev]
            ),
            "rev {rev}"
        );
    }
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%B", "main"]),
        format!(
            "Revert \"{}\"\n\nThis reverts commit {}.\n\n",
            run.subjects[BAD as usize], run.ids[BAD as usize]
        )
    );
    // A linear history: every commit has exactly its predecessor as parent.
    let parents = git(&dir, &["log", "--reverse", "--format=%P"]);
    for (rev, p) in parents.lines().enumerate() {
        let want = if rev == 0 {
            ""
        } else {
            run.ids[rev - 1].as_str()
        };
        assert_eq!(p, want, "parent of rev {rev}");
    }

    // Every revision's tree reads back as committed, and its files are what git shows.
    for rev in 0..=21u32 {
        assert_eq!(
            repo.read_tree(rev).expect("read_tree"),
            run.trees[rev as usize],
            "tree of rev {rev}"
        );
    }
    for (rev, app) in [(0u32, 0u32), (BAD, BAD_APP), (21, BAD_APP), (21, 4)] {
        let (deploy, cm) = repo.manifests(rev, app).expect("manifests");
        let id = &run.ids[rev as usize];
        assert_eq!(
            deploy,
            git(
                &dir,
                &["show", &format!("{id}:apps/app-{app:03}/deployment.yaml")]
            )
        );
        assert_eq!(
            cm,
            git(
                &dir,
                &["show", &format!("{id}:apps/app-{app:03}/configmap.yaml")]
            )
        );
        assert!(deploy.contains("app.kubernetes.io/managed-by: pushpull"));
        assert_eq!(deploy.contains("-broken"), rev == BAD && app == BAD_APP);
    }
    let ls = git(&dir, &["ls-tree", "-r", "--name-only", "main"]);
    let want: Vec<String> = (0..APPS)
        .flat_map(|a| {
            [
                format!("apps/app-{a:03}/configmap.yaml"),
                format!("apps/app-{a:03}/deployment.yaml"),
            ]
        })
        .collect();
    assert_eq!(ls.lines().collect::<Vec<_>>(), want);

    // The revert restores the bad app's folder byte for byte from before the bad commit and
    // keeps every later change to the other apps.
    let tree_id = |rev: u32, path: &str| {
        git(
            &dir,
            &["rev-parse", &format!("{}:{path}", run.ids[rev as usize])],
        )
        .trim()
        .to_string()
    };
    let bad_dir = format!("apps/app-{BAD_APP:03}");
    assert_eq!(tree_id(21, &bad_dir), tree_id(BAD - 1, &bad_dir));
    assert_ne!(tree_id(21, &bad_dir), tree_id(BAD, &bad_dir));
    for app in (0..APPS).filter(|&a| a != BAD_APP) {
        let d = format!("apps/app-{app:03}");
        assert_eq!(tree_id(21, &d), tree_id(20, &d), "app {app} kept");
    }
    assert_ne!(
        run.trees[20],
        run.trees[BAD as usize - 1],
        "later commits changed other apps, so the revert is not a reset"
    );
    assert_eq!(
        git(&dir, &["diff", "--name-only", &run.ids[20], &run.ids[21]]),
        format!("{bad_dir}/configmap.yaml\n{bad_dir}/deployment.yaml\n")
    );

    // changed_apps: each commit's apps, and across ranges the apps whose spec differs.
    for rev in 1..=21u32 {
        assert_eq!(
            repo.changed_apps(rev - 1, rev).expect("diff"),
            run.changed[rev as usize],
            "rev {rev}"
        );
    }
    for (from, to) in [(0u32, 21u32), (3, 12), (12, 3), (BAD - 1, 21), (5, 5)] {
        let want: Vec<u32> = (0..APPS)
            .filter(|&a| run.trees[from as usize][a as usize] != run.trees[to as usize][a as usize])
            .collect();
        assert_eq!(
            repo.changed_apps(from, to).expect("diff"),
            want,
            "{from}..{to}"
        );
    }
    assert!(
        !repo
            .changed_apps(BAD - 1, 21)
            .expect("diff")
            .contains(&BAD_APP),
        "after the revert the bad app is as before the bad release"
    );

    // replay_offsets reads the spacing back (whole seconds, like git).
    let offsets = replay_offsets(&dir, "main").expect("replay");
    let want: Vec<u64> = run.times.iter().map(|t| t / SEC * SEC).collect();
    assert_eq!(offsets, want);
}

#[test]
fn a_missing_branch_names_the_repository_and_the_branches_there_are() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("git");
    let mut repo = LiveRepo::create(&dir, 2, params(), EPOCH).expect("create");
    repo.commit(10 * SEC, &[(0, 9, false)], "one")
        .expect("commit");
    git(&dir, &["branch", "dev", "main~1"]);
    let err = replay_offsets(&dir, "release").expect_err("no such branch");
    assert!(matches!(err, GitError::BranchNotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "branch `release` not found in {}; branches: dev, main",
            dir.display()
        )
    );
    assert_eq!(replay_offsets(&dir, "dev").expect("dev"), vec![0]);

    let nowhere = tmp.path().join("not-a-repo");
    std::fs::create_dir(&nowhere).expect("mkdir");
    let err = replay_offsets(&nowhere, "main").expect_err("not a repository");
    assert!(matches!(err, GitError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&nowhere.display().to_string()),
        "{err}"
    );
}

#[test]
fn replay_follows_the_first_parent_history_of_a_repository_made_by_git() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let commit = |args: &[&str], when: i64| {
        let date = format!("@{} +0200", EPOCH + when);
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", "dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(dir, &["init", "-q", "-b", "trunk"]);
    commit(&["commit", "-q", "--allow-empty", "-m", "a"], 0);
    commit(&["commit", "-q", "--allow-empty", "-m", "b"], 60);
    commit(&["checkout", "-q", "-b", "feature"], 60);
    commit(&["commit", "-q", "--allow-empty", "-m", "f1"], 90);
    commit(&["commit", "-q", "--allow-empty", "-m", "f2"], 100);
    commit(&["checkout", "-q", "trunk"], 100);
    commit(
        &["merge", "-q", "--no-ff", "-m", "merge feature", "feature"],
        250,
    );
    // The feature's commits arrive on trunk once, with the merge.
    assert_eq!(
        replay_offsets(dir, "trunk").expect("replay"),
        vec![0, 60 * SEC, 250 * SEC]
    );
    assert_eq!(
        replay_offsets(dir, "feature").expect("replay"),
        vec![0, 60 * SEC, 90 * SEC, 100 * SEC]
    );
}
