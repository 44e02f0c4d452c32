//! `pushpull cluster up|down`: kind clusters named `pushpull-0..N` for `--mode kind`,
//! created from `kind-config.yaml` and waited on until their nodes are Ready. Only
//! clusters with that prefix are ever deleted.

use super::LiveError;
use std::path::Path;
use std::process::Command;

/// The kind cluster name of cluster `i`.
pub fn cluster_name(i: u32) -> String {
    format!("pushpull-{i}")
}

fn kind(args: &[&str]) -> Result<String, LiveError> {
    let o = Command::new("kind")
        .args(args)
        .output()
        .map_err(|e| LiveError::Setup(format!("cannot run kind {}: {e}", args.join(" "))))?;
    if !o.status.success() {
        return Err(LiveError::Setup(format!(
            "kind {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The pushpull clusters kind knows about.
pub fn existing() -> Result<Vec<String>, LiveError> {
    Ok(kind(&["get", "clusters"])?
        .lines()
        .map(str::trim)
        .filter(|n| n.starts_with("pushpull-"))
        .map(str::to_string)
        .collect())
}

/// Creates the missing clusters of `pushpull-0..n` and waits until they are ready.
/// Returns the names it created (for a caller that must remove what it made).
pub fn up(n: u32, config: &Path) -> Result<Vec<String>, LiveError> {
    super::run::preflight(&super::Target::Kind)?;
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
        kind(&[
            "create", "cluster", "--name", &name, "--config", &cfg, "--wait", "180s",
        ])?;
        created.push(name);
    }
    Ok(created)
}

/// Deletes every `pushpull-*` kind cluster (or only `names`).
pub fn down(names: Option<&[String]>) -> Result<Vec<String>, LiveError> {
    super::run::preflight(&super::Target::Kind)?;
    let targets = match names {
        Some(n) => n.to_vec(),
        None => existing()?,
    };
    for name in &targets {
        kind(&["delete", "cluster", "--name", name])?;
    }
    Ok(targets)
}
