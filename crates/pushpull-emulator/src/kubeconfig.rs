//! Kubeconfig files pointing kubectl and kube-rs at an emulator: plain HTTP on 127.0.0.1,
//! no credentials, one cluster/user/context triple named after the context. `merge_into`
//! adds that triple to an existing file the way kind does and `Merged::remove` takes it out.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kube::config::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot write kubeconfig {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read kubeconfig {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a kubeconfig ({message}); it was left untouched: fix it or pass another --kubeconfig"
    )]
    Parse { path: PathBuf, message: String },
    #[error(
        "{lock} exists: another program (kubectl, kind) is editing {path}; if none is, remove the lock file"
    )]
    Locked { path: PathBuf, lock: PathBuf },
}

/// The default context name, as `pushpull emulator serve` writes it.
pub const CONTEXT: &str = "pushpull-emulator";

/// A new kubeconfig file's mode: it may hold other clusters' credentials later.
const NEW_FILE_MODE: u32 = 0o600;
/// How long to wait for another writer's `FILE.lock` (kubectl and kind use the same name).
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A kubeconfig document for `server` (e.g. `http://127.0.0.1:40123`).
pub fn render(server: &str, context: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: {server}
users:
- name: {context}
  user: {{}}
contexts:
- name: {context}
  context:
    cluster: {context}
    user: {context}
    namespace: default
current-context: {context}
preferences: {{}}
"
    )
}

/// Writes a kubeconfig holding only the emulator, replacing `path` atomically (a reader
/// never sees half a file). A new file gets mode 0600, an existing one keeps its mode.
pub fn write(path: &Path, server: &str, context: &str) -> Result<(), KubeconfigError> {
    let target = resolve(path);
    write_atomically(&target, render(server, context).as_bytes())
}

/// What `merge_into` changed, so that `remove` can undo exactly that.
#[derive(Debug)]
pub struct Merged {
    path: PathBuf,
    context: String,
    server: String,
    /// Same-named entries that were replaced (restored on removal).
    replaced: Replaced,
    /// The previous `current-context` when the merge changed it.
    previous_current: Option<Option<String>>,
}

#[derive(Debug, Default)]
struct Replaced {
    cluster: Option<NamedCluster>,
    user: Option<NamedAuthInfo>,
    context: Option<NamedContext>,
}

impl Merged {
    /// The file merged into (symlinks resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether entries of the same name were there before (they come back on removal).
    pub fn replaced_existing(&self) -> bool {
        self.replaced.cluster.is_some()
            || self.replaced.user.is_some()
            || self.replaced.context.is_some()
    }

    /// Whether `current-context` now names the emulator's context.
    pub fn is_current(&self) -> bool {
        self.previous_current.is_some()
    }

    /// Takes the emulator's cluster, user and context out of the file again, restoring any
    /// same-named entries it replaced and the previous `current-context` (if the file still
    /// names the emulator's context). Entries someone changed meanwhile are left alone; a
    /// file that is gone stays gone.
    pub fn remove(self) -> Result<(), KubeconfigError> {
        let _lock = Lock::acquire(&self.path)?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(KubeconfigError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let mut config = parse(&self.path, &text)?;
        let name = self.context.as_str();
        let cluster = config.clusters.iter().find(|c| c.name == name);
        let ours = cluster
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.as_deref())
            == Some(self.server.as_str());
        if cluster.is_some() && !ours {
            // Another emulator (or the user) has taken the name since: not ours to undo.
            return Ok(());
        }
        if ours {
            config.clusters.retain(|c| c.name != name);
            config.auth_infos.retain(|u| u.name != name);
            config.contexts.retain(|c| c.name != name);
            let Replaced {
                cluster,
                user,
                context,
            } = self.replaced;
            config.clusters.extend(cluster);
            config.auth_infos.extend(user);
            config.contexts.extend(context);
        }
        if let Some(previous) = self.previous_current
            && config.current_context.as_deref() == Some(name)
        {
            config.current_context = previous;
        }
        write_atomically(&self.path, serialize(&self.path, &config)?.as_bytes())
    }
}

/// Adds (or replaces) the cluster, user and context named `context` for `server` in the
/// kubeconfig at `path`, keeping every other entry, the file's mode and (unless
/// `make_current`, or the file names no current context) its `current-context`. A missing
/// file is created with mode 0600. Holds `FILE.lock` while editing, as kubectl and kind do.
pub fn merge_into(
    path: &Path,
    server: &str,
    context: &str,
    make_current: bool,
) -> Result<Merged, KubeconfigError> {
    let path = resolve(path);
    let _lock = Lock::acquire(&path)?;
    let mut config = match std::fs::read_to_string(&path) {
        Ok(text) => parse(&path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kubeconfig::default(),
        Err(source) => return Err(KubeconfigError::Read { path, source }),
    };
    config.api_version.get_or_insert_with(|| "v1".into());
    config.kind.get_or_insert_with(|| "Config".into());
    let mut replaced = Replaced {
        cluster: (config.clusters.iter().position(|c| c.name == context))
            .map(|i| config.clusters.remove(i)),
        user: (config.auth_infos.iter().position(|u| u.name == context))
            .map(|i| config.auth_infos.remove(i)),
        context: (config.contexts.iter().position(|c| c.name == context))
            .map(|i| config.contexts.remove(i)),
    };
    // Entries left by an emulator that was killed (its loopback port no longer answers)
    // are dropped for good rather than restored on shutdown.
    let stale = replaced
        .cluster
        .as_ref()
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.as_deref())
        .is_some_and(is_dead_loopback);
    if stale {
        replaced = Replaced::default();
    }
    config.clusters.push(NamedCluster {
        name: context.into(),
        cluster: Some(Cluster {
            server: Some(server.into()),
            ..Cluster::default()
        }),
        ..NamedCluster::default()
    });
    config.auth_infos.push(NamedAuthInfo {
        name: context.into(),
        auth_info: Some(AuthInfo::default()),
        ..NamedAuthInfo::default()
    });
    config.contexts.push(NamedContext {
        name: context.into(),
        context: Some(Context {
            cluster: context.into(),
            user: Some(context.into()),
            namespace: Some("default".into()),
            ..Context::default()
        }),
        ..NamedContext::default()
    });
    let has_current = config
        .current_context
        .as_deref()
        .is_some_and(|c| !c.is_empty());
    let previous_current =
        if (make_current || !has_current) && config.current_context.as_deref() != Some(context) {
            Some(config.current_context.replace(context.into()))
        } else {
            None
        };
    write_atomically(&path, serialize(&path, &config)?.as_bytes())?;
    Ok(Merged {
        path,
        context: context.into(),
        server: server.into(),
        replaced,
        previous_current,
    })
}

/// Whether `server` is `http://127.0.0.1:PORT` (as an emulator writes it) and nothing
/// listens there any more.
fn is_dead_loopback(server: &str) -> bool {
    server
        .strip_prefix("http://")
        .and_then(|rest| {
            rest.trim_end_matches('/')
                .parse::<std::net::SocketAddr>()
                .ok()
        })
        .filter(|addr| addr.ip().is_loopback())
        .is_some_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err()
        })
}

fn parse(path: &Path, text: &str) -> Result<Kubeconfig, KubeconfigError> {
    Kubeconfig::from_yaml(text).map_err(|e| KubeconfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn serialize(path: &Path, config: &Kubeconfig) -> Result<String, KubeconfigError> {
    serde_yaml_ng::to_string(config).map_err(|e| KubeconfigError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })
}

/// The file a path names, following symlinks (so `~/.kube/config -> elsewhere` is edited in
/// place rather than replaced by a regular file); the path itself when it does not exist.
fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Writes `bytes` to a new, exclusively created temporary file next to `path` with
/// `path`'s mode (0600 when new), syncs it and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KubeconfigError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let err = |source| KubeconfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mode = match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NEW_FILE_MODE,
        Err(e) => return Err(err(e)),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kubeconfig".into());
    let tmp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode given to open.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// `FILE.lock`, created exclusively, as client-go and kind lock a kubeconfig.
struct Lock(PathBuf);

impl Lock {
    fn acquire(path: &Path) -> Result<Lock, KubeconfigError> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&lock)
            {
                Ok(_) => return Ok(Lock(lock)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        return Err(KubeconfigError::Locked {
                            path: path.to_path_buf(),
                            lock,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(source) => {
                    return Err(KubeconfigError::Write { path: lock, source });
                }
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_kubeconfig_is_valid_yaml_with_the_context() {
        let doc: serde_json::Value =
            serde_yaml_ng::from_str(&render("http://127.0.0.1:1234", CONTEXT)).unwrap();
        assert_eq!(doc["current-context"], CONTEXT);
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:1234"
        );
    }

    #[test]
    fn write_creates_the_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        write(&path, "http://127.0.0.1:1", CONTEXT).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("pushpull-emulator")
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    const EXISTING: &str = "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: Q0E=
users:
- name: admin
  user:
    token: s3cret
contexts:
- name: prod
  context:
    cluster: prod
    user: admin
current-context: prod
";

    fn names(config: &Kubeconfig) -> Vec<String> {
        config.contexts.iter().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn merge_keeps_other_entries_mode_and_current_context_and_removal_restores_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, EXISTING).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let merged = merge_into(&path, "http://127.0.0.1:9", CONTEXT, false).unwrap();
        assert!(!merged.is_current());
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(names(&config), ["prod", CONTEXT]);
        assert_eq!(config.current_context.as_deref(), Some("prod"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("s3cret") && text.contains("Q0E="), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);

        merged.remove().unwrap();
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(names(&config), ["prod"]);
        assert_eq!(config.clusters.len(), 1);
        assert_eq!(config.auth_infos.len(), 1);
        assert_eq!(config.current_context.as_deref(), Some("prod"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp or lock file"
        );
    }

    #[test]
    fn make_current_switches_and_removal_switches_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, EXISTING).unwrap();
        let merged = merge_into(&path, "http://127.0.0.1:9", CONTEXT, true).unwrap();
        assert!(merged.is_current());
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config.current_context.as_deref(), Some(CONTEXT));
        merged.remove().unwrap();
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("prod"));
    }

    #[test]
    fn a_new_file_is_0600_and_current_and_same_named_entries_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new");
        // The first "emulator" is alive: something listens on its port.
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let first_server = format!("http://{}", live.local_addr().unwrap());
        let first = merge_into(&path, &first_server, CONTEXT, false).unwrap();
        assert!(
            first.is_current(),
            "a file without a current context gets ours"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second emulator on the same file replaces the entries, then gives them back.
        let second = merge_into(&path, "http://127.0.0.1:2", CONTEXT, false).unwrap();
        assert!(second.replaced_existing());
        second.remove().unwrap();
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            config.clusters[0]
                .cluster
                .as_ref()
                .unwrap()
                .server
                .as_deref(),
            Some(first_server.as_str())
        );
        first.remove().unwrap();
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(config.contexts.is_empty() && config.clusters.is_empty());
        assert_eq!(config.current_context, None);
    }

    #[test]
    fn entries_of_an_emulator_that_is_gone_are_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        write(&path, &format!("http://127.0.0.1:{port}"), CONTEXT).unwrap();
        let merged = merge_into(&path, "http://127.0.0.1:9", CONTEXT, false).unwrap();
        assert!(!merged.replaced_existing());
        merged.remove().unwrap();
        let config = Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(config.contexts.is_empty() && config.clusters.is_empty());
    }

    #[test]
    fn a_file_that_is_not_a_kubeconfig_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "clusters: 7\n").unwrap();
        let err = merge_into(&path, "http://127.0.0.1:1", CONTEXT, false).unwrap_err();
        assert!(err.to_string().contains("is not a kubeconfig"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "clusters: 7\n");
    }

    #[test]
    fn a_symlinked_kubeconfig_is_edited_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, EXISTING).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let merged = merge_into(&link, "http://127.0.0.1:9", CONTEXT, false).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(std::fs::read_to_string(&real).unwrap().contains(CONTEXT));
        merged.remove().unwrap();
        assert!(!std::fs::read_to_string(&real).unwrap().contains(CONTEXT));
    }
}
