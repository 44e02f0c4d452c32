//! The live world's git host: a real (bare) repository under the run directory, written
//! and read with gix. Every workload commit is a real commit dated at its scenario time, a
//! rollback is a real revert commit, and readers go to the object database for trees.
//!
//! Revisions are the model's numbering of config commits (rev 0 is the initial commit), the
//! same the models and the sim world use: rev r is the commit on `main` that wrote it (a
//! pull request's merge commit). With environments the repository holds one path per
//! environment (`envs/<env>/app-NNN/`, as Kustomize overlays would); a revision writes the
//! first environment's path, and a promotion commit on `main` (no revision of its own)
//! writes a later one's.

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
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The branch every commit goes to; HEAD points at it.
pub const BRANCH: &str = "main";
const BRANCH_REF: &str = "refs/heads/main";
/// The branch a pull request `n` is opened from.
pub fn pr_branch(n: u32) -> String {
    format!("pushpull/pr-{n}")
}

/// Whether an environment name can be its folder `envs/<name>/`: letters, digits, `-`,
/// `_` and `.`, at most 63, not starting with `.` (a scenario's environment names are
/// DNS-1123 labels, which always are).
pub fn env_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Who writes a commit: its author and committer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Who {
    pub name: &'static str,
    pub email: &'static str,
}

impl Who {
    /// The harness itself: the initial commit, developers' config commits, reverts.
    pub const HARNESS: Who = Who {
        name: "pushpull",
        email: "pushpull@pushpull.local",
    };
    /// The CI pipeline: a `ci-commit` write-back and the promotion commits.
    pub const CI: Who = Who {
        name: "ci-bot",
        email: "ci-bot@pushpull.local",
    };
    /// The bot that opens a write-back pull request.
    pub const PR_BOT: Who = Who {
        name: "release-bot",
        email: "release-bot@pushpull.local",
    };
    /// The reviewer who merges it.
    pub const REVIEWER: Who = Who {
        name: "reviewer",
        email: "reviewer@pushpull.local",
    };
    /// An image-automation controller (Argo CD Image Updater, Flux's
    /// image-automation-controller), committing the tags its registry scans found.
    pub const IMAGE_AUTOMATION: Who = Who {
        name: "image-automation",
        email: "image-automation@pushpull.local",
    };
}
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
    /// The folder of each environment's path (`envs/<env>`), or `apps` alone without
    /// environments. The first is the one revisions write.
    paths: Vec<String>,
    /// Commit id of each revision, oldest first.
    commits: Vec<ObjectId>,
    /// The commit at the tip of `main` (a revision, or a promotion after it).
    tip: ObjectId,
    /// Root tree of the tip: the tree the next commit edits.
    head_tree: ObjectId,
    /// Per (environment, app, spec): the commit that put that manifest in the
    /// environment's path (later environments only).
    promoted: HashMap<(u32, AppId, SpecId), ObjectId>,
    /// Pull requests opened so far.
    prs: u32,
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
        Self::create_with_environments(dir, apps, &[], params, epoch_unix_s)
    }

    /// [`LiveRepo::create`] with one path per environment (`envs/<env>/app-NNN/`), in
    /// order; the initial commit writes every app at spec i in each. Without environments
    /// the apps live in `apps/`. Environment names must be path-safe (letters, digits,
    /// `-`, `_`, `.`; not starting with `.`) and distinct.
    pub fn create_with_environments(
        dir: &Path,
        apps: u32,
        environments: &[String],
        params: ManifestParams,
        epoch_unix_s: i64,
    ) -> Result<LiveRepo, GitError> {
        let path = dir.to_path_buf();
        for (i, e) in environments.iter().enumerate() {
            if !env_name_ok(e) || environments[..i].contains(e) {
                return Err(GitError::InvalidParams {
                    path,
                    field: "environment",
                    value: e.clone(),
                    expected: "distinct environment names of letters, digits, `-`, `_` and `.` \
                               (at most 63, not starting with `.`): each names a folder envs/<name>/ \
                               of the config repository; rename the environment",
                });
            }
        }
        let paths: Vec<String> = if environments.is_empty() {
            vec!["apps".to_string()]
        } else {
            environments.iter().map(|e| format!("envs/{e}")).collect()
        };
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
            tip: ObjectId::null(repo.object_hash()),
            repo,
            path,
            params,
            epoch_unix_s,
            apps,
            paths,
            commits: Vec::new(),
            promoted: HashMap::new(),
            prs: 0,
        };
        live.repo.object_cache_size_if_unset(4 << 20);
        let initial: Vec<(AppId, SpecId, bool)> = (0..apps).map(|a| (a, a, false)).collect();
        let every: Vec<u32> = (0..live.paths.len() as u32).collect();
        live.head_tree = live.edit_head_tree(&every, &initial)?;
        let message = if environments.is_empty() {
            format!("Initial manifests: {apps} apps, app i at spec i")
        } else {
            format!(
                "Initial manifests: {apps} apps, app i at spec i, in {}",
                environments.join(", ")
            )
        };
        let tree = live.head_tree;
        let id = live.commit_on_main(0, tree, &message, Who::HARNESS, Who::HARNESS, None)?;
        live.commits.push(id);
        Ok(live)
    }

    /// The environments' folders (`envs/<env>`), or `apps` without environments.
    pub fn env_paths(&self) -> &[String] {
        &self.paths
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
        self.commit_by(at, changes, message, Who::HARNESS)
    }

    /// [`LiveRepo::commit`] authored and committed by `who` (a CI pipeline, an
    /// image-automation controller).
    pub fn commit_by(
        &mut self,
        at: u64,
        changes: &[(AppId, SpecId, bool)],
        message: &str,
        who: Who,
    ) -> Result<(Rev, String), GitError> {
        self.check_change(changes, message)?;
        let tree = self.edit_head_tree(&[0], changes)?;
        self.commit_rev(at, tree, message, who, who, None)
    }

    /// A pull request with `changes`, opened at scenario time `opened` by the release
    /// bot on branch `pushpull/pr-<n>` (from the tip of `main`), merged at `merged` by the
    /// reviewer with a merge commit on `main` (parents: the tip, the branch's commit), as
    /// GitHub's "Create a merge commit" does. The merge commit is the new revision;
    /// returns it, its commit id and the pull request's number.
    pub fn merge_pull_request(
        &mut self,
        opened: u64,
        merged: u64,
        changes: &[(AppId, SpecId, bool)],
        message: &str,
    ) -> Result<(Rev, String, u32), GitError> {
        self.check_change(changes, message)?;
        let tree = self.edit_head_tree(&[0], changes)?;
        let n = self.prs + 1;
        let branch = pr_branch(n);
        let head = self.commit_to(
            &format!("refs/heads/{branch}"),
            opened,
            tree,
            message,
            Who::PR_BOT,
            Who::PR_BOT,
            &[self.tip],
        )?;
        self.prs = n;
        let merge = format!(
            "Merge pull request #{n} from {branch}\n\n{}",
            message.lines().next().unwrap_or_default()
        );
        let (rev, id) = self.commit_rev(
            merged.max(opened),
            tree,
            &merge,
            Who::PR_BOT,
            Who::REVIEWER,
            Some(head),
        )?;
        Ok((rev, id, n))
    }

    /// A promotion commit on `main` by CI: `changes` enter environment `env`'s path (a
    /// later environment: the first one's changes are revisions). It is no revision of
    /// its own; returns its commit id.
    pub fn promote(
        &mut self,
        at: u64,
        env: u32,
        changes: &[(AppId, SpecId, bool)],
        message: &str,
    ) -> Result<String, GitError> {
        self.check_change(changes, message)?;
        if env == 0 || env as usize >= self.paths.len() {
            return Err(GitError::InvalidParams {
                path: self.path.clone(),
                field: "environment",
                value: env.to_string(),
                expected: "a later environment of the repository (the first one's changes are revisions)",
            });
        }
        let tree = self.edit_head_tree(&[env], changes)?;
        let id = self.commit_on_main(at, tree, message, Who::CI, Who::CI, None)?;
        for &(app, spec, _) in changes {
            self.promoted.insert((env, app, spec), id);
        }
        Ok(id.to_string())
    }

    fn check_change(
        &self,
        changes: &[(AppId, SpecId, bool)],
        message: &str,
    ) -> Result<(), GitError> {
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
        Ok(())
    }

    /// Commits the revert of `bad_rev`, dated at scenario time `at`: the files `bad_rev`
    /// changed get back their content in its parent; every other file keeps its head content
    /// (later changes to other apps survive). The message is git's:
    /// `Revert "<subject>"` + `This reverts commit <id>.`
    pub fn revert(&mut self, at: u64, bad_rev: Rev) -> Result<(Rev, String), GitError> {
        let (tree, message) = self.revert_tree(bad_rev)?;
        self.commit_rev(at, tree, &message, Who::HARNESS, Who::HARNESS, None)
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
                let file = format!("{}/deployment.yaml", self.app_dir(0, app));
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
        let dir = self.app_dir(0, app);
        Ok((
            self.file_in(&tree, rev, &format!("{dir}/deployment.yaml"))?,
            self.file_in(&tree, rev, &format!("{dir}/configmap.yaml"))?,
        ))
    }

    /// One app's manifests at `spec` as environment `env`'s path holds them: read from
    /// the promotion commit that put `spec` there, or (the first environment, or a spec
    /// the environment had from the start) from revision `rev`, the one that wrote it.
    /// A reconciler of that environment reads only this path.
    pub fn manifests_in(
        &self,
        env: u32,
        rev: Rev,
        app: AppId,
        spec: SpecId,
    ) -> Result<(String, String), GitError> {
        if env == 0 || env as usize >= self.paths.len() {
            return self.manifests(rev, app);
        }
        if app >= self.apps {
            return Err(GitError::UnknownApp {
                path: self.path.clone(),
                app,
                apps: self.apps,
            });
        }
        let commit = match self.promoted.get(&(env, app, spec)) {
            Some(&id) => id,
            None => self.commit_id(rev)?,
        };
        let what = || format!("commit {commit}");
        let tree = self
            .repo
            .find_commit(commit)
            .map_err(|e| self.read(what(), e))?
            .tree()
            .map_err(|e| self.read(what(), e))?;
        let dir = self.app_dir(env, app);
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
                let path = path.to_str().ok()?;
                let rest = path.strip_prefix(self.paths[0].as_str())?;
                manifest::app_of_path(&format!("apps{rest}"))
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

    /// The folder of one app in environment `env`'s path.
    fn app_dir(&self, env: u32, app: AppId) -> String {
        let root = self.paths.get(env as usize).unwrap_or(&self.paths[0]);
        format!("{root}/{}", app_name(app))
    }

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

    /// Writes the manifests of `changes` as blobs and the head tree edited to hold them
    /// in the paths of `envs`; returns the new root tree (not yet committed).
    fn edit_head_tree(
        &self,
        envs: &[u32],
        changes: &[(AppId, SpecId, bool)],
    ) -> Result<ObjectId, GitError> {
        let mut editor = self
            .repo
            .edit_tree(self.head_tree)
            .map_err(|e| self.read("the head tree", e))?;
        for (&env, &(app, spec, broken)) in envs
            .iter()
            .flat_map(|e| changes.iter().map(move |c| (e, c)))
        {
            let dir = self.app_dir(env, app);
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

    /// Commits `tree` on `main` as the next revision (after the tip; `merged`: the
    /// second parent of a merge commit), dated at scenario time `at`.
    fn commit_rev(
        &mut self,
        at: u64,
        tree: ObjectId,
        message: &str,
        author: Who,
        committer: Who,
        merged: Option<ObjectId>,
    ) -> Result<(Rev, String), GitError> {
        let id = self.commit_on_main(at, tree, message, author, committer, merged)?;
        self.commits.push(id);
        Ok((self.head_rev(), id.to_string()))
    }

    /// Commits `tree` on `main` on top of the tip (and `merged`), which it becomes.
    fn commit_on_main(
        &mut self,
        at: u64,
        tree: ObjectId,
        message: &str,
        author: Who,
        committer: Who,
        merged: Option<ObjectId>,
    ) -> Result<ObjectId, GitError> {
        let mut parents = Vec::new();
        if !self.tip.is_null() {
            parents.push(self.tip);
        }
        parents.extend(merged);
        let id = self.commit_to(BRANCH_REF, at, tree, message, author, committer, &parents)?;
        self.tip = id;
        self.head_tree = tree;
        Ok(id)
    }

    /// Writes a commit of `tree` with `parents` and moves `reference` to it (the first
    /// parent must be where the reference was, or the reference new).
    #[allow(clippy::too_many_arguments)]
    fn commit_to(
        &self,
        reference: &str,
        at: u64,
        tree: ObjectId,
        message: &str,
        author: Who,
        committer: Who,
        parents: &[ObjectId],
    ) -> Result<ObjectId, GitError> {
        let time = gix::date::Time {
            seconds: self.epoch_unix_s + (at / NANOS_PER_SEC) as i64,
            offset: 0,
        };
        let sign = |w: Who| gix::actor::Signature {
            name: w.name.into(),
            email: w.email.into(),
            time,
        };
        let (a, c) = (sign(author), sign(committer));
        let mut message = message.to_string();
        if !message.ends_with('\n') {
            message.push('\n');
        }
        let (mut buf_a, mut buf_c) = Default::default();
        Ok(self
            .repo
            .commit_as(
                c.to_ref(&mut buf_c),
                a.to_ref(&mut buf_a),
                reference,
                &message,
                tree,
                parents.iter().copied(),
            )
            .map_err(|e| self.write(format!("a commit on {reference}"), e))?
            .detach())
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
    fn a_pull_request_is_a_branch_and_a_merge_commit_with_two_parents() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut repo = LiveRepo::create(&tmp.path().join("r"), 2, params(), 0).expect("create");
        let (rev, id, n) = repo
            .merge_pull_request(
                60 * NANOS_PER_SEC,
                300 * NANOS_PER_SEC,
                &[(1, 5, false)],
                "Release app-001",
            )
            .expect("merge");
        assert_eq!((rev, n), (1, 1));
        {
            let merge = repo
                .repo
                .find_commit(ObjectId::from_hex(id.as_bytes()).expect("hex"))
                .expect("merge commit");
            let parents: Vec<ObjectId> = merge.parent_ids().map(|p| p.detach()).collect();
            assert_eq!(parents.len(), 2);
            assert_eq!(parents[0], repo.commit_id(0).expect("rev 0"));
            let branch = repo
                .repo
                .find_reference("refs/heads/pushpull/pr-1")
                .expect("the pull request's branch")
                .into_fully_peeled_id()
                .expect("peeled")
                .detach();
            assert_eq!(branch, parents[1]);
            let head = repo.repo.find_commit(branch).expect("branch commit");
            assert_eq!(head.author().expect("author").name, "release-bot");
            assert_eq!(head.time().expect("time").seconds, 60);
            assert_eq!(merge.committer().expect("committer").name, "reviewer");
            assert_eq!(merge.time().expect("time").seconds, 300);
        }
        assert_eq!(repo.read_tree(1).expect("tree")[1], (5, false));
        // The next pull request is number 2; a revert of a merged one restores the file.
        let (_, _, n) = repo
            .merge_pull_request(
                400 * NANOS_PER_SEC,
                400 * NANOS_PER_SEC,
                &[(0, 6, true)],
                "bad",
            )
            .expect("second");
        assert_eq!(n, 2);
        repo.revert(500 * NANOS_PER_SEC, 2)
            .expect("revert of a merge");
        assert_eq!(
            repo.read_tree(3).expect("tree"),
            vec![(0, false), (5, false)]
        );
    }

    #[test]
    fn a_promotion_writes_only_its_environment_path_and_is_no_revision() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let envs = ["dev".to_string(), "prod".to_string()];
        let mut repo =
            LiveRepo::create_with_environments(&tmp.path().join("r"), 2, &envs, params(), 0)
                .expect("create");
        assert_eq!(repo.env_paths(), ["envs/dev", "envs/prod"]);
        let (rev, _) = repo
            .commit_by(1, &[(0, 7, false)], "Release app-000", Who::CI)
            .expect("commit");
        assert_eq!(rev, 1);
        // Prod still runs spec 0 at rev 1; dev has 7.
        let (dev, _) = repo.manifests_in(0, 1, 0, 7).expect("dev");
        let (prod, _) = repo.manifests_in(1, 1, 0, 0).expect("prod");
        assert!(dev.contains("app-000:spec-7"), "{dev}");
        assert!(prod.contains("app-000:spec-0"), "{prod}");
        repo.promote(2, 1, &[(0, 7, false)], "Promote app-000 to prod")
            .expect("promote");
        assert_eq!(repo.head_rev(), 1, "a promotion is no revision");
        let (prod, _) = repo.manifests_in(1, 1, 0, 7).expect("prod");
        assert!(prod.contains("app-000:spec-7"), "{prod}");
        // The next revision's parent is the promotion, and it changes dev only.
        let (rev, _) = repo
            .commit(3, &[(1, 8, false)], "Release app-001")
            .expect("commit");
        assert_eq!(repo.changed_apps(rev - 1, rev).expect("diff"), vec![1]);
        assert!(matches!(
            repo.promote(4, 0, &[(0, 7, false)], "x").unwrap_err(),
            GitError::InvalidParams { .. }
        ));
        let err = LiveRepo::create_with_environments(
            &tmp.path().join("bad"),
            2,
            &["prod eu".to_string()],
            params(),
            0,
        )
        .err()
        .expect("refused");
        assert!(err.to_string().contains("\"prod eu\""), "{err}");
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
