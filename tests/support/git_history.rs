//! A git repository whose `main` has commits at given committer times, made with the git
//! command line (a client pushpull does not use itself), for tests that read histories.

use std::path::Path;
use std::process::Command;

/// Creates `dir` with a repository whose `main` has one commit per time in `times`
/// (git's date formats, e.g. `2024-05-06T09:00:00+0000`), oldest first.
pub fn repository(dir: &Path, times: &[&str]) {
    let git = |args: &[&str], date: Option<&str>| {
        let mut c = Command::new("git");
        c.arg("-C").arg(dir).args(args);
        if let Some(d) = date {
            c.env("GIT_AUTHOR_DATE", d).env("GIT_COMMITTER_DATE", d);
        }
        c.env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir);
        let o = c.output().expect("git runs");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    std::fs::create_dir_all(dir).unwrap();
    git(&["init", "-q", "-b", "main"], None);
    for (i, t) in times.iter().enumerate() {
        std::fs::write(dir.join("f"), i.to_string()).unwrap();
        git(&["add", "f"], None);
        git(&["commit", "-q", "-m", &format!("c{i}")], Some(t));
    }
}
