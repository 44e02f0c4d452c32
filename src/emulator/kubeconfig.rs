//! Kubeconfig files pointing kubectl and kube-rs at an emulator: plain HTTP on 127.0.0.1,
//! no credentials, one cluster/user/context triple named after the context.

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot write kubeconfig {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The default context name, as `pushpull emulator serve` writes it.
pub const CONTEXT: &str = "pushpull-emulator";

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

/// Writes atomically (temp file + rename) so a reader never sees half a file.
pub fn write(path: &Path, server: &str, context: &str) -> Result<(), KubeconfigError> {
    let err = |source| KubeconfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(render(server, context).as_bytes())
        .map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
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
    fn write_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        write(&path, "http://127.0.0.1:1", CONTEXT).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("pushpull-emulator")
        );
    }
}
