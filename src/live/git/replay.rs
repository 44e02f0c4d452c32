//! `arrival: replay`: the commit times of an existing repository's branch, so a scenario can
//! replay a real team's commit spacing instead of a Poisson process.
//!
//! The history read is the branch's first-parent chain: the commits that landed on the
//! branch (a merged feature branch arrives once, as its merge commit), dated by committer
//! time (when the commit was made, rebased or merged, not when it was first written).

use super::error::{GitError, Source};
use std::path::Path;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Commit times of `branch` in the repository at `repo` (a work tree or a bare repository),
/// oldest first, as nanoseconds after the oldest. A branch with one commit gives `[0]`.
/// `branch` is resolved as git does (`main`, `refs/heads/main`, `origin/main`, ...).
pub fn replay_offsets(repo: &Path, branch: &str) -> Result<Vec<u64>, GitError> {
    let mut seconds: Vec<i64> = commit_times(repo, branch)?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    // Clocks and rebases can put a parent after its child; the spacing is what matters.
    seconds.sort_unstable();
    let first = seconds[0];
    Ok(seconds
        .iter()
        .map(|&s| (s - first) as u64 * NANOS_PER_SEC)
        .collect())
}

/// The committer times of `branch`'s first-parent chain, newest first, as (seconds since
/// the Unix epoch, the committer's UTC offset in seconds); never empty.
pub fn commit_times(repo: &Path, branch: &str) -> Result<Vec<(i64, i32)>, GitError> {
    let path = repo.to_path_buf();
    let read = |what: String, source: Source| GitError::Read {
        path: path.clone(),
        what,
        source,
    };
    let handle =
        gix::open_opts(repo, gix::open::Options::isolated()).map_err(|e| GitError::Open {
            path: path.clone(),
            source: e.into(),
        })?;
    let reference = handle
        .try_find_reference(branch)
        .map_err(|e| read(format!("branch `{branch}`"), e.into()))?;
    let Some(mut reference) = reference else {
        return Err(GitError::BranchNotFound {
            path,
            branch: branch.to_string(),
            branches: branch_names(&handle),
        });
    };
    let tip = reference
        .peel_to_commit()
        .map_err(|e| read(format!("the commit branch `{branch}` points at"), e.into()))?;

    let mut seconds = Vec::new();
    let mut next = Some(tip.id);
    while let Some(id) = next {
        let commit = match handle.find_commit(id) {
            Ok(c) => c,
            // A shallow clone ends where its history was cut: replay what is there.
            Err(_) if handle.is_shallow() && !seconds.is_empty() => break,
            Err(e) => return Err(read(format!("commit {id}"), e.into())),
        };
        let time = commit
            .time()
            .map_err(|e| read(format!("the committer time of {id}"), e.into()))?;
        seconds.push((time.seconds, time.offset));
        next = commit.parent_ids().next().map(|p| p.detach());
    }
    Ok(seconds)
}

/// The branches a user could have meant, for the error message.
fn branch_names(repo: &gix::Repository) -> String {
    let mut names: Vec<String> = Vec::new();
    if let Ok(platform) = repo.references() {
        for iter in [platform.local_branches(), platform.remote_branches()] {
            let Ok(iter) = iter else { continue };
            names.extend(iter.flatten().map(|r| r.name().shorten().to_string()));
        }
    }
    if names.is_empty() {
        "none (the repository has no commits)".into()
    } else {
        names.join(", ")
    }
}
