//! Result folders that are always whole: a run builds its folder under a unique temporary
//! name next to the target, holding a lock file next to it, and swaps it in at the end, so a
//! reader, a second run or an interruption sees the previous folder or the new one, never a
//! mix.
//!
//! The protocol, for a target `OUT/<name>`:
//! - `OUT/.<name>.pushpull-lock` is locked (`flock`, on Unix) for the whole run; a second run
//!   aimed at the same folder is refused (exit 2) rather than made to wait, so two CI jobs
//!   sharing a folder fail loudly instead of silently replacing each other's results.
//! - With the lock held, leftovers of a killed run (`OUT/.<name>.pushpull-tmp-*` and
//!   `-old-*`) are removed: their owner is gone, since it would hold the lock.
//! - `OUT/.<name>.pushpull-tmp-<pid>-<random>` is created exclusively (`mkdir` never follows
//!   a link) before simulating, which is also the check that `OUT` is writable.
//! - Every file is written under a unique name opened with `O_CREAT|O_EXCL` and renamed into
//!   place, fsynced; at the end the folder is exchanged with the target in one
//!   `renameat2(RENAME_EXCHANGE)` on Linux (elsewhere, or on file systems without it: the old
//!   folder is renamed aside to `.<name>.pushpull-old-*` first, a window in which the target is
//!   absent, which the next run repairs by renaming it back).
//! - SIGINT, SIGTERM and SIGHUP (sim runs, sweeps and `report`) remove the temporary folder and
//!   files before the process exits; the swap itself is never cut in half.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum OutdirError {
    #[error("{path} is a file, not a folder: results go into a folder (pick another with --out)")]
    NotAFolder { path: PathBuf },
    #[error(
        "cannot write in {path}: {source} (make it writable, or pick another folder with --out)"
    )]
    NotWritable { path: PathBuf, source: io::Error },
    #[error(
        "cannot create {path}: the name is too long for this file system (shorten the scenario's `name:`)"
    )]
    NameTooLong { path: PathBuf },
    #[error(
        "{target} is being written by another pushpull run{} right now; wait for it to finish, or pick another folder with --out",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Busy { target: PathBuf, pid: Option<u32> },
    #[error(
        "two of the scenarios given would both write {target}: give one of them another `name:`"
    )]
    SameTarget { target: PathBuf },
    #[error(
        "{path} is a symbolic link; pushpull does not write through links there (remove it, or pick another folder with --out)"
    )]
    Symlink { path: PathBuf },
    #[error(
        "{path} holds `{entry}`, which is not a pushpull result; a run replaces this folder whole, so move that out or pick another folder with --out"
    )]
    Foreign { path: PathBuf, entry: String },
    #[error(
        "cannot {action} {path}: {source} (check its permissions, or pick another folder with --out)"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// What a folder holds, which says what may be replaced without losing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `OUT/<name>/`: the files of one run (and a `sweep/` folder, which is kept).
    Run,
    /// `OUT/<name>/sweep/`: `sweep.csv`, `sweep.html` (with `charts/`) and one run folder per variant.
    Sweep,
    /// `OUT/<name>.shards/<I>-of-<N>/`: one shard of a sweep (`shard.json`, `units/`).
    Shard,
}

/// The files and folders a run writes into its folder.
const RUN_ENTRIES: &[&str] = &[
    "samples.csv",
    "events.csv",
    "summary.json",
    "run.json",
    "scenario.json",
    "intervals.json",
    "report.html",
    "report.md",
    "charts",
    "git",
    "sweep",
];

/// A run folder's subfolder that a run does not write but a sweep does: kept across runs.
const KEPT: &str = "sweep";

const TMP: &str = ".pushpull-tmp-";
const OLD: &str = ".pushpull-old-";
const LOCK: &str = ".pushpull-lock";

/// Paths this process must remove if a signal ends it, and the locks it holds.
struct Registry {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    locks: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    dirs: Vec::new(),
    files: Vec::new(),
    locks: Vec::new(),
});
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Mutex<bool> = Mutex::new(false);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget(list: &mut Vec<PathBuf>, p: &Path) {
    list.retain(|x| x != p);
}

/// Installs, once per process, handlers for SIGINT, SIGTERM and SIGHUP that remove this
/// process's temporary folders and files and then exit with 128 + the signal number. Not
/// for live runs, whose Ctrl-C stops the run and writes what was measured.
pub fn clean_up_on_signals() -> io::Result<()> {
    let mut installed = HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    if *installed {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        // `signal` installs the handler when it returns, so no signal after this line can
        // kill the process with its temporary folder left behind.
        let (mut int, mut term, mut hup) = {
            let _enter = rt.enter();
            (
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
                signal(SignalKind::hangup())?,
            )
        };
        std::thread::Builder::new()
            .name("pushpull-signals".into())
            .spawn(move || {
                let code = rt.block_on(async {
                    tokio::select! {
                        _ = int.recv() => 130,
                        _ = term.recv() => 143,
                        _ = hup.recv() => 129,
                    }
                });
                abandon(code)
            })?;
    }
    *installed = true;
    Ok(())
}

/// Removes what this process registered and exits. Holds the registry's lock until the
/// process is gone, so a swap in progress finishes first and no new one starts.
fn abandon(code: i32) -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let reg = registry();
    for d in &reg.dirs {
        // Renamed first, so the writer cannot create anything in it any more by path.
        let mut dead = d.clone().into_os_string();
        dead.push("-interrupted");
        let dead = PathBuf::from(dead);
        let gone = if fs::rename(d, &dead).is_ok() {
            &dead
        } else {
            d
        };
        let _ = fs::remove_dir_all(gone);
    }
    for f in reg.files.iter().chain(&reg.locks) {
        let _ = fs::remove_file(f);
    }
    let name = match code {
        130 => "interrupted (SIGINT)",
        143 => "terminated (SIGTERM)",
        _ => "hung up (SIGHUP)",
    };
    if reg.dirs.is_empty() {
        eprintln!("{name}");
    } else {
        eprintln!("{name}: the result folders were left as they were");
    }
    std::process::exit(code)
}

/// Blocks forever if a signal is ending the process: an error seen while the signal
/// thread removes the temporary folder is a consequence of that, not something to report.
pub fn halt_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> OutdirError + 'a {
    move |source| {
        if name_too_long(&source) {
            OutdirError::NameTooLong {
                path: path.to_path_buf(),
            }
        } else {
            OutdirError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

fn unwritable(path: &Path) -> impl FnOnce(io::Error) -> OutdirError + '_ {
    move |source| match source.kind() {
        _ if name_too_long(&source) => OutdirError::NameTooLong {
            path: path.to_path_buf(),
        },
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => OutdirError::NotAFolder {
            path: first_file(path).unwrap_or(path).to_path_buf(),
        },
        _ => OutdirError::NotWritable {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// The first ancestor of `path` (itself included) that exists and is not a folder.
fn first_file(path: &Path) -> Option<&Path> {
    let mut found = None;
    for a in path.ancestors() {
        if let Ok(m) = fs::metadata(a)
            && !m.is_dir()
        {
            found = Some(a);
        }
    }
    found
}

fn random() -> u64 {
    rand::random()
}

/// `folder/name`'s parent and name, the name as a string.
fn split(target: &Path) -> Result<(PathBuf, String), OutdirError> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| OutdirError::Io {
            action: "use",
            path: target.to_path_buf(),
            source: io::Error::other("a result folder needs a plain name"),
        })?;
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok((parent.to_path_buf(), name.to_string()))
}

/// An advisory lock (`flock`) on `<parent>/.<name>.pushpull-lock`, held until dropped; the
/// lock file is removed when it is released.
pub struct Lock {
    file: fs::File,
    path: PathBuf,
}

impl Lock {
    /// Creates `target`'s parent folder if needed and locks `target`; refuses (Busy) if
    /// another process holds the lock.
    pub fn acquire(target: &Path) -> Result<Lock, OutdirError> {
        let (parent, _) = split(target)?;
        fs::create_dir_all(&parent).map_err(unwritable(&parent))?;
        Self::open(target)?.map_err(unwritable(&parent))
    }

    /// Locks `target`, whose parent exists; `None` if the parent cannot be written to (then
    /// no run can replace `target` either, so there is nothing to exclude).
    pub fn acquire_if_writable(target: &Path) -> Result<Option<Lock>, OutdirError> {
        let (parent, _) = split(target)?;
        match Self::open(target)? {
            Ok(lock) => Ok(Some(lock)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(unwritable(&parent)(e)),
        }
    }

    /// The lock, or the error that kept the lock file from being opened.
    fn open(target: &Path) -> Result<Result<Lock, io::Error>, OutdirError> {
        let (parent, name) = split(target)?;
        let path = parent.join(format!(".{name}{LOCK}"));
        // A lock file removed by its holder between our open and our lock is retried.
        for _ in 0..100 {
            // Opened, locked and registered under the registry's lock, so a signal either
            // finds the lock file registered or finds it not ours.
            let mut reg = registry();
            let file = match open_nofollow(&path) {
                Ok(f) => f,
                Err(_) if is_symlink(&path) => return Err(OutdirError::Symlink { path }),
                Err(e) => return Ok(Err(e)),
            };
            match try_lock(&file) {
                Ok(true) => {}
                Ok(false) => {
                    drop(reg);
                    // The holder writes its pid just after locking: wait for it a little.
                    let mut pid = None;
                    for _ in 0..50 {
                        pid = fs::read_to_string(&path)
                            .ok()
                            .and_then(|s| s.trim().parse::<u32>().ok());
                        if pid.is_some() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    if pid == Some(std::process::id()) {
                        return Err(OutdirError::SameTarget {
                            target: target.to_path_buf(),
                        });
                    }
                    return Err(OutdirError::Busy {
                        target: target.to_path_buf(),
                        pid,
                    });
                }
                Err(e) => return Err(io_err("lock", &path)(e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            reg.locks.push(path.clone());
            drop(reg);
            let mut lock = Lock { file, path };
            lock.file
                .set_len(0)
                .and_then(|()| writeln!(lock.file, "{}", std::process::id()))
                .map_err(io_err("write", &lock.path))?;
            return Ok(Ok(lock));
        }
        Err(OutdirError::Io {
            action: "lock",
            path,
            source: io::Error::other("the lock file keeps being replaced"),
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked: a process that opened it before sees it is gone
        // (`same_file`) and retries with a fresh one.
        // The lock itself goes with the file descriptor, after this.
        let mut reg = registry();
        let _ = fs::remove_file(&self.path);
        forget(&mut reg.locks, &self.path);
    }
}

/// `flock(LOCK_EX | LOCK_NB)`: `false` if another open file holds the lock.
#[cfg(unix)]
fn try_lock(file: &fs::File) -> io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this `File` owns for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Elsewhere, no advisory locks: runs into one folder are not excluded.
#[cfg(not(unix))]
fn try_lock(_file: &fs::File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(unix)]
fn name_too_long(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENAMETOOLONG)
}

#[cfg(not(unix))]
fn name_too_long(_e: &io::Error) -> bool {
    false
}

#[cfg(unix)]
fn open_nofollow(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(not(unix))]
fn open_nofollow(path: &Path) -> io::Result<fs::File> {
    if is_symlink(path) {
        return Err(io::Error::other("a symbolic link"));
    }
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &fs::File, path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

fn is_symlink(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// A result folder being built: `path()` is where to write, `commit` swaps it in whole.
/// Dropped without `commit`, it is removed and the target is left as it was.
pub struct Staging {
    target: PathBuf,
    path: PathBuf,
    kind: Kind,
    committed: bool,
    _lock: Lock,
}

impl Staging {
    /// Locks `target`, removes what killed runs left there, checks that `target` may be
    /// replaced (a folder of pushpull results, or absent) and creates the temporary
    /// folder. Every problem with `--out` or the name surfaces here, before any work.
    pub fn begin(target: &Path, kind: Kind) -> Result<Staging, OutdirError> {
        let lock = Lock::acquire(target)?;
        let (parent, name) = split(target)?;
        recover(&parent, &name, target, kind)?;
        check_replaceable(target, kind)?;
        let mut reg = registry();
        for _ in 0..100 {
            let path = parent.join(format!(
                ".{name}{TMP}{}-{:016x}",
                std::process::id(),
                random()
            ));
            // Registered before it exists, under the lock the signal handler takes, so a
            // signal at any point removes it.
            match fs::create_dir(&path) {
                Ok(()) => {
                    reg.dirs.push(path.clone());
                    return Ok(Staging {
                        target: target.to_path_buf(),
                        path,
                        kind,
                        committed: false,
                        _lock: lock,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(unwritable(&path)(e)),
            }
        }
        Err(OutdirError::Io {
            action: "create a temporary folder in",
            path: parent,
            source: io::Error::from(io::ErrorKind::AlreadyExists),
        })
    }

    /// Where the run writes its files.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder the results will be in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes the folder to disk and swaps it in place of the target in one step.
    pub fn commit(mut self) -> Result<(), OutdirError> {
        let synced = sync_tree(&self.path).map_err(io_err("flush", &self.path));
        let mut reg = registry();
        let result = synced.and_then(|()| self.swap());
        if result.is_ok() {
            forget(&mut reg.dirs, &self.path);
            self.committed = true;
        }
        drop(reg);
        if result.is_err() {
            halt_if_interrupted();
        }
        result
    }

    fn swap(&self) -> Result<(), OutdirError> {
        let (parent, name) = split(&self.target)?;
        let exists = match fs::symlink_metadata(&self.target) {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err("inspect", &self.target)(e)),
        };
        if !exists {
            fs::rename(&self.path, &self.target).map_err(io_err("create", &self.target))?;
            return sync_dir(&parent).map_err(io_err("flush", &parent));
        }
        // A sweep's results are not part of a run: carried over into the new folder.
        let kept = self.target.join(KEPT);
        if self.kind == Kind::Run
            && fs::symlink_metadata(&kept).is_ok_and(|m| m.is_dir())
            && !self.path.join(KEPT).exists()
        {
            fs::rename(&kept, self.path.join(KEPT)).map_err(io_err("move", &kept))?;
        }
        let old = if exchange(&self.path, &self.target).map_err(io_err("replace", &self.target))? {
            // The temporary name now holds the previous folder.
            self.path.clone()
        } else {
            let old = parent.join(format!(
                ".{name}{OLD}{}-{:016x}",
                std::process::id(),
                random()
            ));
            fs::rename(&self.target, &old).map_err(io_err("move aside", &self.target))?;
            fs::rename(&self.path, &self.target).map_err(io_err("create", &self.target))?;
            old
        };
        sync_dir(&parent).map_err(io_err("flush", &parent))?;
        if let Err(e) = fs::remove_dir_all(&old) {
            eprintln!(
                "warning: could not remove the previous results at {}: {e}",
                old.display()
            );
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut reg = registry();
        if let Err(e) = fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            eprintln!(
                "warning: could not remove the temporary folder {}: {e}",
                self.path.display()
            );
        }
        forget(&mut reg.dirs, &self.path);
    }
}

/// Swaps two existing paths in one step; `false` where the system or file system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: both are valid NUL-terminated paths relative to the working directory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<bool> {
    Ok(false)
}

fn sync_dir(p: &Path) -> io::Result<()> {
    match fs::File::open(p).and_then(|f| f.sync_all()) {
        // Some systems cannot fsync a directory; the files themselves are synced.
        Err(e)
            if e.kind() == io::ErrorKind::InvalidInput
                || e.kind() == io::ErrorKind::Unsupported =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Fsyncs a folder and every folder below it (files are synced when written).
/// Flushes a staged folder, its files and its sub-folders to disk. Files written into a
/// staging folder are not synced one by one as they are written ([`write_file`] leaves it
/// to here): their fsyncs are issued together from a few threads, so the file system
/// commits them in one or a few journal transactions (25 fsyncs in a row cost fleet.yaml
/// about 60 ms). Only this folder's files are flushed, never the whole file system.
fn sync_tree(p: &Path) -> io::Result<()> {
    let mut files = Vec::new();
    list_files(p, &mut files)?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..files.len().min(8) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    if let Err(e) = fs::File::open(f).and_then(|f| f.sync_all()) {
                        first_error
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    sync_dirs(p)
}

fn list_files(p: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for e in fs::read_dir(p)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            list_files(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

fn sync_dirs(p: &Path) -> io::Result<()> {
    for e in fs::read_dir(p)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_dirs(&e.path())?;
        }
    }
    sync_dir(p)
}

/// With `target`'s lock held: puts back a previous folder a killed swap left aside, moves a
/// sweep that a killed swap had moved back into the target, and removes temporary folders.
fn recover(parent: &Path, name: &str, target: &Path, kind: Kind) -> Result<(), OutdirError> {
    let tmp = format!(".{name}{TMP}");
    let old = format!(".{name}{OLD}");
    let mut leftovers = Vec::new();
    let entries = fs::read_dir(parent).map_err(io_err("read", parent))?;
    for e in entries {
        let e = e.map_err(io_err("read", parent))?;
        let n = e.file_name();
        let Some(n) = n.to_str() else { continue };
        if n.starts_with(&tmp) || n.starts_with(&old) {
            leftovers.push((n.starts_with(&old), e.path()));
        }
    }
    // Aside folders first: one of them may be the previous run, to be put back.
    leftovers.sort_by_key(|(aside, _)| !*aside);
    for (aside, p) in leftovers {
        let meta = fs::symlink_metadata(&p).map_err(io_err("inspect", &p))?;
        if !meta.is_dir() {
            // A link or a file: removed, never followed.
            fs::remove_file(&p).map_err(io_err("remove", &p))?;
            continue;
        }
        let present = fs::symlink_metadata(target).is_ok();
        if aside && !present {
            fs::rename(&p, target).map_err(io_err("restore", target))?;
            eprintln!(
                "note: restored {} from an interrupted run's swap",
                target.display()
            );
            continue;
        }
        let kept = p.join(KEPT);
        if kind == Kind::Run
            && fs::symlink_metadata(&kept).is_ok_and(|m| m.is_dir())
            && fs::symlink_metadata(target.join(KEPT)).is_err()
            && (present || fs::create_dir(target).is_ok())
            && fs::symlink_metadata(target).is_ok_and(|m| m.is_dir())
        {
            fs::rename(&kept, target.join(KEPT)).map_err(io_err("restore", &kept))?;
        }
        fs::remove_dir_all(&p).map_err(io_err("remove", &p))?;
    }
    Ok(())
}

/// Whether `name` is a file pushpull leaves in a folder (temporary files of this and
/// earlier versions, lock files).
fn is_ours_hidden(name: &str) -> bool {
    name.starts_with('.') && (name.contains(TMP) || name.ends_with(".tmp") || name.ends_with(LOCK))
}

/// Refuses to replace a link, a file, or a folder holding anything pushpull did not write.
fn check_replaceable(target: &Path, kind: Kind) -> Result<(), OutdirError> {
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("inspect", target)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(OutdirError::Symlink {
            path: target.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(OutdirError::NotAFolder {
            path: target.to_path_buf(),
        });
    }
    for e in fs::read_dir(target).map_err(io_err("read", target))? {
        let e = e.map_err(io_err("read", target))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let ours = is_ours_hidden(&name)
            || match kind {
                Kind::Run => RUN_ENTRIES.contains(&name.as_str()),
                Kind::Sweep => name == "sweep.csv" || name == "sweep.html" || is_dir,
                Kind::Shard => name == "shard.json" || (name == "units" && is_dir),
            };
        if !ours {
            return Err(OutdirError::Foreign {
                path: target.to_path_buf(),
                entry: name,
            });
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a file created under a unique name (`O_CREAT|O_EXCL`,
/// so a link planted there is never followed), fsynced and renamed over `path` (a rename
/// replaces a link at `path` rather than writing through it). `path`'s folder must be a
/// real folder; if it is missing, it is created (one level only).
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let result = write_file_inner(path, |f| f.write_all(bytes), false);
    if result.is_err() {
        halt_if_interrupted();
    }
    result
}

/// [`write_file`], flushed to disk at once even inside a staging folder: for a large file
/// written on a thread of its own, so that its flush overlaps other work instead of
/// waiting for the commit (which flushes it again, then at no cost).
pub fn write_file_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let result = write_file_inner(path, |f| f.write_all(bytes), true);
    if result.is_err() {
        halt_if_interrupted();
    }
    result
}

/// [`write_file_synced`] of what `fill` writes into the file: for a file too large to
/// hold in memory whole, which `fill` streams through a buffer of its own.
pub fn write_file_synced_with(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let result = write_file_inner(path, fill, true);
    if result.is_err() {
        halt_if_interrupted();
    }
    result
}

fn write_file_inner(
    path: &Path,
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
    sync_now: bool,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file, staged) = {
        // The folder is checked (and a missing one created) under the registry's lock: once
        // a signal has removed a temporary folder, nothing may create it again.
        let mut reg = registry();
        // Inside a staging folder the commit flushes every file at once (`sync_tree`).
        let staged = reg.dirs.iter().any(|d| path.starts_with(d));
        match fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(io::Error::other(format!(
                    "{} is a symbolic link, which pushpull does not write through",
                    dir.display()
                )));
            }
            Ok(m) if !m.is_dir() => return Err(io::Error::from(io::ErrorKind::NotADirectory)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(dir)?,
            Err(e) => return Err(e),
        }
        let mut attempt = 0;
        loop {
            let tmp = dir.join(format!(
                ".{name}{TMP}{}-{:016x}",
                std::process::id(),
                random()
            ));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => {
                    reg.files.push(tmp.clone());
                    break (tmp, f, staged);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    };
    let done = fill(&mut file)
        .and_then(|()| {
            if staged && !sync_now {
                Ok(())
            } else {
                file.sync_all()
            }
        })
        .and_then(|()| fs::rename(&tmp, path));
    drop(file);
    let mut reg = registry();
    if done.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    forget(&mut reg.files, &tmp);
    done
}

/// With the lock of `dir` held: removes the temporary files a killed `write_file` left in
/// `dir` and in its subfolders `subs`.
pub fn remove_stale_files(dir: &Path, subs: &[&str]) {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(subs.iter().map(|s| dir.join(s)));
    for d in dirs {
        if !fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let n = e.file_name();
            if n.to_str()
                .is_some_and(|n| n.starts_with('.') && n.contains(TMP))
                && e.file_type().is_ok_and(|t| !t.is_dir())
            {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_folder(p: &Path, seed: &str) {
        fs::create_dir_all(p.join("charts")).unwrap();
        fs::write(p.join("summary.json"), seed).unwrap();
    }

    #[test]
    fn a_previous_folder_left_aside_by_a_killed_swap_is_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("quickstart");
        run_folder(
            &tmp.path().join(".quickstart.pushpull-old-7-00"),
            "previous",
        );
        let staging = Staging::begin(&target, Kind::Run).unwrap();
        drop(staging);
        assert_eq!(
            fs::read_to_string(target.join("summary.json")).unwrap(),
            "previous"
        );
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the folder: {names:?}");
    }

    #[test]
    fn a_sweep_moved_into_a_killed_runs_temporary_folder_is_moved_back() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("quickstart");
        run_folder(&target, "previous");
        let stale = tmp.path().join(".quickstart.pushpull-tmp-7-00");
        run_folder(&stale, "new");
        fs::create_dir_all(stale.join("sweep/a")).unwrap();
        fs::write(stale.join("sweep/sweep.csv"), "sweep").unwrap();
        let staging = Staging::begin(&target, Kind::Run).unwrap();
        assert!(!stale.exists());
        run_folder(staging.path(), "new");
        staging.commit().unwrap();
        assert_eq!(
            fs::read_to_string(target.join("summary.json")).unwrap(),
            "new"
        );
        assert_eq!(
            fs::read_to_string(target.join("sweep/sweep.csv")).unwrap(),
            "sweep"
        );
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_written_twice_replaces_the_first_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("charts/a.svg");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(tmp.path().join("charts")).unwrap().count(), 1);
        let deeper = tmp.path().join("x/y/z.txt");
        assert!(write_file(&deeper, b"").is_err(), "creates one level only");
    }
}
