//! The live world's git host: a real (bare) repository under the run directory, written
//! and read with gix. Every workload commit is a real commit dated at its scenario time, a
//! rollback is a real revert commit, and readers go to the object database for trees.
//!
//! Revisions are the 0-based positions of commits on `main` (rev 0 is the initial commit),
//! the same numbering the models and the sim world use.

mod error;
mod manifest;
pub mod replay;

pub use error::{GitError, Source};
pub use manifest::{
    BROKEN_IMAGE, HAND_IMAGES, IMAGE, LOG_LEVEL, LOG_LEVEL_ENV, ManifestParams, RELEASE_ENV,
    app_dir, app_name, configmap, deployment, image, parse_release, release,
};
pub use replay::replay_offsets;

use crate::model::{AppId, Rev, SpecId};
use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::diff::tree::recorder::Change;
use gix::objs::tree::EntryKind;
use std::path::{Path, PathBuf};

/// The branch every commit goes to; HEAD points at it.
pub const BRANCH: &str = "main";
const BRANCH_REF: &str = "refs/heads/main";
/// Author and committer of every commit the harness makes.
const AUTHOR_NAME: &str = "pushpull";
const AUTHOR_EMAIL: &str = "pushpull@pushpull.local";
/// Three digits in `app-NNN`.
pub const MAX_APPS: u32 = 1000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A run's repository, open for writing. Holds one gix handle for the whole run (opening a
/// repository costs far more than a commit) and the commit id of every revision.
pub struct LiveRepo {
    repo: gix::Repository,
    path: PathBuf,
    params: ManifestParams,
    epoch_unix_s: i64,
    apps: u32,
    /// Commit id of each revision, oldest first.
    commits: Vec<ObjectId>,
    /// Root tree of the head commit: the tree the next commit edits.
    head_tree: ObjectId,
}

impl LiveRepo {
    /// Creates a new bare repository at `dir` (which must not exist or be empty) holding the
    /// initial commit (rev 0): app i at spec i, healthy, dated at `epoch_unix_s`, the wall
    /// time that scenario time 0 maps to.
    pub fn create(
        dir: &Path,
        apps: u32,
        params: ManifestParams,
        epoch_unix_s: i64,
    ) -> Result<LiveRepo, GitError> {
        let path = dir.to_path_buf();
        if let Err((field, value, expected)) = params.validate() {
            return Err(GitError::InvalidParams {
                path,
                field,
                value,
                expected,
            });
        }
        if apps == 0 || apps > MAX_APPS {
            return Err(GitError::InvalidParams {
                path,
                field: "apps",
                value: apps.to_string(),
                expected: "1 to 1000 apps (folders are named app-000 to app-999)",
            });
        }
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(GitError::NotEmpty { path });
        }
        let create = |source: Source| GitError::Create {
            path: path.clone(),
            source,
        };
        // Isolated: the user's ~/.gitconfig (init.defaultBranch, hooks, ...) must not change
        // what the run writes; the same inputs give the same commit ids.
        let repo = gix::ThreadSafeRepository::init_opts(
            dir,
            gix::create::Kind::Bare,
            gix::create::Options {
                destination_must_be_empty: Some(true),
                ..Default::default()
            },
            gix::open::Options::isolated(),
        )
        .map_err(|e| create(e.into()))?
        .to_thread_local();
        point_head_at_main(&repo).map_err(create)?;

        let mut live = LiveRepo {
            head_tree: ObjectId::empty_tree(repo.object_hash()),
            repo,
            path,
            params,
            epoch_unix_s,
            apps,
            commits: Vec::new(),
        };
        live.repo.object_cache_size_if_unset(4 << 20);
        let initial: Vec<(AppId, SpecId, bool)> = (0..apps).map(|a| (a, a, false)).collect();
        let tree = live.edit_head_tree(&initial)?;
        let message = format!("Initial manifests: {apps} apps, app i at spec i");
        live.commit_tree(0, tree, &message)?;
        Ok(live)
    }

    /// Commits new manifests for `changes` = (app, spec id, broken), dated at scenario time
    /// `at` (nanoseconds after the epoch; git keeps whole seconds). Returns the new rev and
    /// its commit id (hex). Only the changed blobs and the trees above them are written.
    pub fn commit(
        &mut self,
        at: u64,
        changes: &[(AppId, SpecId, bool)],
        message: &str,
    ) -> Result<(Rev, String), GitError> {
        if message.trim().is_empty() {
            return Err(GitError::EmptyMessage {
                path: self.path.clone(),
            });
        }
        if let Some(&(app, _, _)) = changes.iter().find(|c| c.0 >= self.apps) {
            return Err(GitError::UnknownApp {
                path: self.path.clone(),
                app,
                apps: self.apps,
            });
        }
        let tree = self.edit_head_tree(changes)?;
        self.commit_tree(at, tree, message)
    }

    /// Commits the revert of `bad_rev`, dated at scenario time `at`: the files `bad_rev`
    /// changed get back their content in its parent; every other file keeps its head content
    /// (later changes to other apps survive). The message is git's:
    /// `Revert "<subject>"` + `This reverts commit <id>.`
    pub fn revert(&mut self, at: u64, bad_rev: Rev) -> Result<(Rev, String), GitError> {
        let (tree, message) = self.revert_tree(bad_rev)?;
        self.commit_tree(at, tree, &message)
    }

    /// The newest revision on `main`.
    pub fn head_rev(&self) -> Rev {
        (self.commits.len() - 1) as Rev
    }

    /// The commit id (hex) of a revision.
    pub fn commit_hex(&self, rev: Rev) -> Result<String, GitError> {
        Ok(self.commit_id(rev)?.to_string())
    }

    /// The number of apps (folders) in every revision.
    pub fn apps(&self) -> u32 {
        self.apps
    }

    /// Reads a revision's tree from the object database: for each app (index = app id) the
    /// spec id and broken flag parsed back from its `deployment.yaml` (the release variable).
    pub fn read_tree(&self, rev: Rev) -> Result<Vec<(SpecId, bool)>, GitError> {
        let tree = self.tree_of_rev(rev)?;
        (0..self.apps)
            .map(|app| {
                let file = format!("{}/deployment.yaml", app_dir(app));
                let text = self.file_in(&tree, rev, &file)?;
                manifest::parse_deployment(&text, app).map_err(|reason| GitError::Manifest {
                    path: self.path.clone(),
                    rev,
                    file,
                    reason,
                })
            })
            .collect()
    }

    /// One app's `deployment.yaml` and `configmap.yaml` text at a revision, as committed.
    pub fn manifests(&self, rev: Rev, app: AppId) -> Result<(String, String), GitError> {
        if app >= self.apps {
            return Err(GitError::UnknownApp {
                path: self.path.clone(),
                app,
                apps: self.apps,
            });
        }
        let tree = self.tree_of_rev(rev)?;
        let dir = app_dir(app);
        Ok((
            self.file_in(&tree, rev, &format!("{dir}/deployment.yaml"))?,
            self.file_in(&tree, rev, &format!("{dir}/configmap.yaml"))?,
        ))
    }

    /// Apps with any file that differs between two revisions (a tree diff; either order),
    /// ascending.
    pub fn changed_apps(&self, from: Rev, to: Rev) -> Result<Vec<AppId>, GitError> {
        let a = self.tree_id_of_rev(from)?;
        let b = self.tree_id_of_rev(to)?;
        let mut apps: Vec<AppId> = self
            .diff_trees(a, b)?
            .iter()
            .filter_map(|c| {
                let path = match c {
                    Change::Addition { path, .. }
                    | Change::Deletion { path, .. }
                    | Change::Modification { path, .. } => path,
                };
                manifest::app_of_path(path.to_str().ok()?)
            })
            .collect();
        apps.sort_unstable();
        apps.dedup();
        Ok(apps)
    }

    /// The repository's directory (a bare repository: `git -C <path> log` reads it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    // ------------------------------------------------------------ internals

    fn commit_id(&self, rev: Rev) -> Result<ObjectId, GitError> {
        self.commits
            .get(rev as usize)
            .copied()
            .ok_or_else(|| GitError::UnknownRev {
                path: self.path.clone(),
                rev,
                head: self.head_rev(),
            })
    }

    fn tree_id_of_rev(&self, rev: Rev) -> Result<ObjectId, GitError> {
        self.tree_of_commit(self.commit_id(rev)?)
    }

    fn tree_of_commit(&self, commit: ObjectId) -> Result<ObjectId, GitError> {
        let what = || format!("the tree of commit {commit}");
        let c = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.read(what(), e))?;
        Ok(c.tree_id().map_err(|e| self.read(what(), e))?.detach())
    }

    fn tree_of_rev(&self, rev: Rev) -> Result<gix::Tree<'_>, GitError> {
        let id = self.tree_id_of_rev(rev)?;
        self.repo
            .find_tree(id)
            .map_err(|e| self.read(format!("the tree of revision {rev}"), e))
    }

    /// A file's text in `tree` (the tree of `rev`).
    fn file_in(&self, tree: &gix::Tree<'_>, rev: Rev, file: &str) -> Result<String, GitError> {
        let what = || format!("{file} at revision {rev}");
        let entry = tree
            .lookup_entry_by_path(file)
            .map_err(|e| self.read(what(), e))?
            .ok_or_else(|| GitError::Manifest {
                path: self.path.clone(),
                rev,
                file: file.to_string(),
                reason: "the file is missing".into(),
            })?;
        let object = entry.object().map_err(|e| self.read(what(), e))?;
        String::from_utf8(object.detach().data).map_err(|_| GitError::Manifest {
            path: self.path.clone(),
            rev,
            file: file.to_string(),
            reason: "not UTF-8 text".into(),
        })
    }

    /// The tree and message of the revert of `bad_rev` on top of the head (not committed).
    fn revert_tree(&self, bad_rev: Rev) -> Result<(ObjectId, String), GitError> {
        let bad_id = self.commit_id(bad_rev)?;
        if bad_rev == 0 {
            return Err(GitError::RevertInitial {
                path: self.path.clone(),
            });
        }
        let what = || format!("revision {bad_rev} (commit {bad_id})");
        let bad = self
            .repo
            .find_commit(bad_id)
            .map_err(|e| self.read(what(), e))?;
        let subject = bad
            .message()
            .map_err(|e| self.read(what(), e))?
            .summary()
            .to_str_lossy()
            .into_owned();
        let parent = bad
            .parent_ids()
            .next()
            .ok_or_else(|| GitError::RevertInitial {
                path: self.path.clone(),
            })?;
        let parent_tree = self.tree_of_commit(parent.detach())?;
        let bad_tree = bad.tree_id().map_err(|e| self.read(what(), e))?.detach();
        let head_tree = self
            .repo
            .find_tree(self.head_tree)
            .map_err(|e| self.read("the head tree", e))?;

        let mut editor = self
            .repo
            .edit_tree(self.head_tree)
            .map_err(|e| self.read("the head tree", e))?;
        let mut conflicts = Vec::new();
        let mut edits = 0;
        for change in self.diff_trees(parent_tree, bad_tree)? {
            // (path, entry in the parent, id in the bad commit); trees are covered by the
            // files inside them, which the diff reports too.
            let (path, before, after) = match change {
                Change::Addition { entry_mode, .. } | Change::Deletion { entry_mode, .. }
                    if entry_mode.is_tree() =>
                {
                    continue;
                }
                Change::Modification {
                    previous_entry_mode,
                    entry_mode,
                    ..
                } if previous_entry_mode.is_tree() && entry_mode.is_tree() => continue,
                Change::Addition { oid, path, .. } => (path, None, Some(oid)),
                Change::Deletion {
                    entry_mode,
                    oid,
                    path,
                    ..
                } => (path, Some((entry_mode.kind(), oid)), None),
                Change::Modification {
                    previous_entry_mode,
                    previous_oid,
                    oid,
                    path,
                    ..
                } => (
                    path,
                    Some((previous_entry_mode.kind(), previous_oid)),
                    Some(oid),
                ),
            };
            let path = path.to_str_lossy().into_owned();
            let current = head_tree
                .lookup_entry_by_path(&path)
                .map_err(|e| self.read(format!("{path} at the head"), e))?
                .map(|e| e.object_id());
            if current == after {
                let edit = match before {
                    Some((kind, id)) => editor.upsert(path.as_str(), kind, id).map(|_| ()),
                    None => editor.remove(path.as_str()).map(|_| ()),
                };
                edit.map_err(|e| self.write(format!("the revert of {path}"), e))?;
                edits += 1;
            } else if current != before.map(|b| b.1) {
                conflicts.push(path);
            }
        }
        if !conflicts.is_empty() {
            return Err(GitError::RevertConflict {
                path: self.path.clone(),
                bad_rev,
                paths: conflicts.join(", "),
            });
        }
        if edits == 0 {
            return Err(GitError::NothingToRevert {
                path: self.path.clone(),
                bad_rev,
            });
        }
        let tree = editor
            .write()
            .map_err(|e| self.write("the revert's tree", e))?
            .detach();
        let message = format!("Revert \"{subject}\"\n\nThis reverts commit {bad_id}.\n");
        Ok((tree, message))
    }

    /// Every path that differs from tree `a` to tree `b`, trees and files.
    fn diff_trees(&self, a: ObjectId, b: ObjectId) -> Result<Vec<Change>, GitError> {
        let what = || format!("the diff of trees {a} and {b}");
        let ta = self.repo.find_tree(a).map_err(|e| self.read(what(), e))?;
        let tb = self.repo.find_tree(b).map_err(|e| self.read(what(), e))?;
        let mut recorder = gix::diff::tree::Recorder::default();
        gix::diff::tree(
            gix::objs::TreeRefIter::from_bytes(&ta.data, self.repo.object_hash()),
            gix::objs::TreeRefIter::from_bytes(&tb.data, self.repo.object_hash()),
            gix::diff::tree::State::default(),
            &self.repo.objects,
            &mut recorder,
        )
        .map_err(|e| self.read(what(), e))?;
        Ok(recorder.records)
    }

    /// Writes the manifests of `changes` as blobs and the head tree edited to hold them;
    /// returns the new root tree (not yet committed).
    fn edit_head_tree(&self, changes: &[(AppId, SpecId, bool)]) -> Result<ObjectId, GitError> {
        let mut editor = self
            .repo
            .edit_tree(self.head_tree)
            .map_err(|e| self.read("the head tree", e))?;
        for &(app, spec, broken) in changes {
            let dir = app_dir(app);
            for (name, text) in [
                (
                    "deployment.yaml",
                    deployment(&self.params, app, spec, broken),
                ),
                ("configmap.yaml", configmap(app, spec)),
            ] {
                let file = format!("{dir}/{name}");
                let blob = self
                    .repo
                    .write_blob(text.as_bytes())
                    .map_err(|e| self.write(file.clone(), e))?;
                editor
                    .upsert(file.as_str(), EntryKind::Blob, blob)
                    .map_err(|e| self.write(file.clone(), e))?;
            }
        }
        Ok(editor
            .write()
            .map_err(|e| self.write("the edited tree", e))?
            .detach())
    }

    /// Commits `tree` on `main` on top of the head, dated at scenario time `at`.
    fn commit_tree(
        &mut self,
        at: u64,
        tree: ObjectId,
        message: &str,
    ) -> Result<(Rev, String), GitError> {
        let signature = gix::actor::Signature {
            name: AUTHOR_NAME.into(),
            email: AUTHOR_EMAIL.into(),
            time: gix::date::Time {
                seconds: self.epoch_unix_s + (at / NANOS_PER_SEC) as i64,
                offset: 0,
            },
        };
        let mut message = message.to_string();
        if !message.ends_with('\n') {
            message.push('\n');
        }
        let (mut buf_a, mut buf_c) = Default::default();
        let id = self
            .repo
            .commit_as(
                signature.to_ref(&mut buf_c),
                signature.to_ref(&mut buf_a),
                BRANCH_REF,
                &message,
                tree,
                self.commits.last().copied(),
            )
            .map_err(|e| self.write(format!("a commit on {BRANCH}"), e))?
            .detach();
        self.commits.push(id);
        self.head_tree = tree;
        Ok((self.head_rev(), id.to_string()))
    }

    fn read(&self, what: impl Into<String>, e: impl Into<Source>) -> GitError {
        GitError::Read {
            path: self.path.clone(),
            what: what.into(),
            source: e.into(),
        }
    }

    fn write(&self, what: impl Into<String>, e: impl Into<Source>) -> GitError {
        GitError::Write {
            path: self.path.clone(),
            what: what.into(),
            source: e.into(),
        }
    }
}

/// HEAD → refs/heads/main, whatever `init.defaultBranch` says.
fn point_head_at_main(repo: &gix::Repository) -> Result<(), Source> {
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};
    repo.edit_reference(RefEdit {
        change: Change::Update {
            log: LogChange::default(),
            expected: PreviousValue::Any,
            new: gix::refs::Target::Symbolic(BRANCH_REF.try_into()?),
        },
        name: "HEAD".try_into()?,
        deref: false,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ManifestParams {
        ManifestParams {
            replicas: 2,
            ..ManifestParams::default()
        }
    }

    #[test]
    fn live_repo_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<LiveRepo>();
    }

    #[test]
    fn same_inputs_give_the_same_commit_ids() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ids: Vec<Vec<String>> = ["a", "b"]
            .iter()
            .map(|name| {
                let mut repo = LiveRepo::create(&tmp.path().join(name), 3, params(), 1_700_000_000)
                    .expect("create");
                let mut ids = vec![repo.commit_hex(0).expect("rev 0")];
                ids.push(
                    repo.commit(5_000_000_000, &[(1, 7, true)], "bad")
                        .expect("c")
                        .1,
                );
                ids.push(repo.revert(9_000_000_000, 1).expect("revert").1);
                ids
            })
            .collect();
        assert_eq!(ids[0], ids[1]);
    }

    #[test]
    fn create_refuses_a_non_empty_directory_and_bad_params() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("x"), "x").expect("write");
        let err = LiveRepo::create(tmp.path(), 3, params(), 0)
            .err()
            .expect("refused");
        assert!(matches!(err, GitError::NotEmpty { .. }), "{err}");
        let mut p = params();
        p.max_surge = "lots".into();
        let err = LiveRepo::create(&tmp.path().join("new"), 3, p, 0)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("`max_surge`"), "{err}");
        let err = LiveRepo::create(&tmp.path().join("new"), 1001, params(), 0)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("app-999"), "{err}");
    }

    #[test]
    fn unknown_revs_and_apps_are_errors_not_panics() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut repo = LiveRepo::create(&tmp.path().join("r"), 2, params(), 0).expect("create");
        let err = repo.read_tree(1).unwrap_err();
        assert!(err.to_string().contains("revisions 0..=0"), "{err}");
        let err = repo.commit(0, &[(2, 1, false)], "x").unwrap_err();
        assert!(
            matches!(
                err,
                GitError::UnknownApp {
                    app: 2,
                    apps: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(matches!(
            repo.revert(0, 0).unwrap_err(),
            GitError::RevertInitial { .. }
        ));
        assert!(matches!(
            repo.commit(0, &[(0, 1, false)], " \n").unwrap_err(),
            GitError::EmptyMessage { .. }
        ));
    }

    #[test]
    fn a_revert_refuses_to_undo_a_later_change_to_the_same_app() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut repo = LiveRepo::create(&tmp.path().join("r"), 2, params(), 0).expect("create");
        repo.commit(1, &[(0, 5, true)], "bad").expect("bad");
        repo.commit(2, &[(0, 6, false)], "fix forward")
            .expect("fix");
        let err = repo.revert(3, 1).unwrap_err();
        assert!(
            matches!(err, GitError::RevertConflict { bad_rev: 1, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("apps/app-000/"), "{err}");
        assert_eq!(repo.head_rev(), 2, "nothing committed");
    }

    #[test]
    fn reverting_twice_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut repo = LiveRepo::create(&tmp.path().join("r"), 2, params(), 0).expect("create");
        repo.commit(1, &[(1, 5, true)], "bad").expect("bad");
        repo.revert(2, 1).expect("first revert");
        let err = repo.revert(3, 1).unwrap_err();
        assert!(
            matches!(err, GitError::NothingToRevert { bad_rev: 1, .. }),
            "{err}"
        );
    }
}
