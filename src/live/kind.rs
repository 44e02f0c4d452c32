//! `pushpull cluster up|down`: kind clusters named `pushpull-0..N` for `--mode kind`,
//! created from `kind-config.yaml` and waited on until their nodes are Ready. Only
//! clusters named exactly as `cluster up` names them (`pushpull-<digits>`) are ever
//! deleted, and at most [`MAX_CLUSTERS`] are made.

use super::LiveError;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The most kind clusters `cluster up` and `--mode kind` make on one machine.
pub const MAX_CLUSTERS: u32 = 64;

/// Why [`MAX_CLUSTERS`], for the message that refuses more.
pub const MAX_CLUSTERS_WHY: &str = "each kind cluster of kind-config.yaml is two node \
    containers (a control plane of about 0.5-1 GB and a worker), so 64 clusters already \
    need tens of GB on one machine and more inotify instances than Linux allows by \
    default (kind's known issues); a larger fleet is a sim or emulated experiment";

/// The kind cluster name of cluster `i`.
pub fn cluster_name(i: u32) -> String {
    format!("pushpull-{i}")
}

/// Whether `name` is one `cluster up` makes: `pushpull-` and a number written as
/// [`cluster_name`] writes it (`pushpull-0`, `pushpull-12`; not `pushpull-`,
/// `pushpull-007` or `pushpull-prod-demo`).
pub fn is_harness_cluster(name: &str) -> bool {
    name.strip_prefix("pushpull-")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u32>().ok())
        .is_some_and(|i| cluster_name(i) == name)
}

/// Runs kind to the end and returns what it printed.
fn kind(args: &[&str]) -> Result<String, LiveError> {
    kind_until(args, &|| false)
}

/// The pushpull clusters kind knows about.
pub fn existing() -> Result<Vec<String>, LiveError> {
    Ok(kind(&["get", "clusters"])?
        .lines()
        .map(str::trim)
        .filter(|n| is_harness_cluster(n))
        .map(str::to_string)
        .collect())
}

/// Creates the missing clusters of `pushpull-0..n` and waits until they are ready.
/// Returns the names it created (for a caller that must remove what it made).
pub fn up(n: u32, config: &Path) -> Result<Vec<String>, LiveError> {
    up_until(n, config, &|| false)
}

/// [`up`], stopping when `interrupted()` turns true (Ctrl-C): the `kind create` under way
/// gets SIGINT, as from a terminal, and cleans up its half-made cluster. If creation
/// fails or is interrupted, the clusters this call created are deleted again before the
/// error returns, so a failed start leaves no cluster behind.
pub fn up_until(
    n: u32,
    config: &Path,
    interrupted: &dyn Fn() -> bool,
) -> Result<Vec<String>, LiveError> {
    if n == 0 || n > MAX_CLUSTERS {
        return Err(LiveError::KindClusters { asked: n });
    }
    super::preflight::preflight(&super::Target::Kind)?;
    if !config.is_file() {
        return Err(LiveError::Setup(format!(
            "kind config {} not found: the repository ships kind-config.yaml; run from its root, or make the clusters first with `pushpull cluster up --config FILE`",
            config.display()
        )));
    }
    let have = existing()?;
    let mut created = Vec::new();
    for i in 0..n {
        let name = cluster_name(i);
        if have.contains(&name) {
            continue;
        }
        let cfg = config.display().to_string();
        let args = [
            "create", "cluster", "--name", &name, "--config", &cfg, "--wait", "180s",
        ];
        if let Err(e) = kind_until(&args, interrupted) {
            if !created.is_empty() {
                eprintln!(
                    "deleting the kind cluster(s) made before that: {}",
                    created.join(", ")
                );
                if let Err(d) = down(Some(&created)) {
                    eprintln!("could not delete them ({d}); run `pushpull cluster down`");
                }
            }
            return Err(e);
        }
        created.push(name);
    }
    Ok(created)
}

/// Runs kind and returns what it printed; once `interrupted()` turns true, kind gets
/// SIGINT and the call returns [`LiveError::Interrupted`].
fn kind_until(args: &[&str], interrupted: &dyn Fn() -> bool) -> Result<String, LiveError> {
    let child = Command::new("kind")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LiveError::Setup(format!("cannot run kind {}: {e}", args.join(" "))))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let mut signalled = false;
    let output = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(done) => break done,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if interrupted() && !signalled {
                    // kind deletes a half-made cluster when interrupted, as from a terminal.
                    let _ = Command::new("kill")
                        .args(["-INT", &pid.to_string()])
                        .status();
                    signalled = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(LiveError::Setup(format!(
                    "kind {}: lost track of the process",
                    args.join(" ")
                )));
            }
        }
    }
    .map_err(|e| LiveError::Setup(format!("cannot run kind {}: {e}", args.join(" "))))?;
    if interrupted() {
        return Err(LiveError::Interrupted(format!("kind {}", args.join(" "))));
    }
    if !output.status.success() {
        return Err(LiveError::Setup(format!(
            "kind {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Deletes every kind cluster named `pushpull-<digits>` (or only those of `names`);
/// clusters that merely start with `pushpull-` are someone else's and stay.
pub fn down(names: Option<&[String]>) -> Result<Vec<String>, LiveError> {
    super::preflight::preflight(&super::Target::Kind)?;
    let targets = match names {
        Some(n) => n
            .iter()
            .filter(|n| is_harness_cluster(n))
            .cloned()
            .collect(),
        None => existing()?,
    };
    for name in &targets {
        kind(&["delete", "cluster", "--name", name])?;
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pushpull_and_digits_as_cluster_up_writes_them_is_a_harness_cluster() {
        for n in [
            "pushpull-0",
            "pushpull-7",
            "pushpull-63",
            "pushpull-4294967295",
        ] {
            assert!(is_harness_cluster(n), "{n}");
        }
        for n in [
            "pushpull-",
            "pushpull-prod-demo",
            "pushpull-007",
            "pushpull-+1",
            "pushpull-1a",
            "pushpull-4294967296",
            "pushpull-0 ",
            "kind-pushpull-0",
            "pushpull",
        ] {
            assert!(!is_harness_cluster(n), "{n}");
        }
    }

    #[test]
    fn zero_or_more_than_the_bound_of_clusters_is_refused_before_kind_runs() {
        for n in [0, MAX_CLUSTERS + 1, u32::MAX] {
            let e = up(n, Path::new("no-such-kind-config.yaml")).unwrap_err();
            assert!(
                matches!(e, LiveError::KindClusters { asked } if asked == n),
                "{e}"
            );
        }
    }
}
