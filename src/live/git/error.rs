//! What can go wrong with the live repository, each variant naming the repository path,
//! what failed and what to do about it.

use crate::model::{AppId, Rev};
use std::path::PathBuf;

/// Any gix error, boxed: the variant says which step failed, the source says why.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error(
        "cannot create the run's git repository at {path}: the directory is not empty; \
         pass a new or empty directory (each run writes its own repository)"
    )]
    NotEmpty { path: PathBuf },

    #[error(
        "cannot create the run's git repository at {path}: {source}; \
         check the parent directory exists and is writable"
    )]
    Create { path: PathBuf, source: Source },

    #[error("invalid manifest parameter `{field}` = {value:?} for {path}: expected {expected}")]
    InvalidParams {
        path: PathBuf,
        field: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error(
        "cannot open git repository {path}: {source}; check that the path is a git repository \
         (a work tree containing .git, or a bare repository)"
    )]
    Open { path: PathBuf, source: Source },

    #[error("branch `{branch}` not found in {path}; branches: {branches}")]
    BranchNotFound {
        path: PathBuf,
        branch: String,
        branches: String,
    },

    #[error(
        "writing {what} to git repository {path} failed: {source}; check the disk is writable and not full"
    )]
    Write {
        path: PathBuf,
        what: String,
        source: Source,
    },

    #[error(
        "reading {what} from git repository {path} failed: {source}; \
         the repository may be corrupt or changed by another process (try `git fsck` in it)"
    )]
    Read {
        path: PathBuf,
        what: String,
        source: Source,
    },

    #[error("revision {rev} does not exist in {path}: the branch has revisions 0..={head}")]
    UnknownRev { path: PathBuf, rev: Rev, head: Rev },

    #[error("app {app} does not exist in {path}: the repository holds apps 0..{apps}")]
    UnknownApp {
        path: PathBuf,
        app: AppId,
        apps: u32,
    },

    #[error("{file} at revision {rev} in {path} is not a manifest pushpull wrote: {reason}")]
    Manifest {
        path: PathBuf,
        rev: Rev,
        file: String,
        reason: String,
    },

    #[error(
        "cannot revert revision 0 in {path}: it is the initial commit and has no parent to restore"
    )]
    RevertInitial { path: PathBuf },

    #[error(
        "cannot revert revision {bad_rev} in {path}: later commits changed the same files ({paths}); \
         a revert would undo them too (git revert would stop with a conflict). \
         Keep other changes away from an app until its bad release is reverted"
    )]
    RevertConflict {
        path: PathBuf,
        bad_rev: Rev,
        paths: String,
    },

    #[error(
        "cannot revert revision {bad_rev} in {path}: its changes are already undone at the head"
    )]
    NothingToRevert { path: PathBuf, bad_rev: Rev },

    #[error("commit message for {path} is empty; git history needs a subject line")]
    EmptyMessage { path: PathBuf },
}
