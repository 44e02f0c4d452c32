//! Where a live run goes ([`Target`]) and what it needs before anything starts (tools on
//! PATH, a context pushpull may touch): checked by `pushpull run` and by `pushpull cluster up|down` alike, so neither
//! reaches into the other.

use super::LiveError;

/// Where the clusters come from.
#[derive(Clone, Debug)]
pub enum Target {
    /// One embedded API emulator per cluster per setup, on 127.0.0.1.
    Emulated,
    /// kind clusters `pushpull-0..N` made by `pushpull cluster up` (contexts
    /// `kind-pushpull-N`); each setup uses its own namespace.
    Kind,
    /// One existing kubeconfig context; each cluster of the scenario is a namespace.
    Kubeconfig {
        context: String,
        allow: Option<String>,
    },
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Checks what a mode needs before anything starts.
pub fn preflight(target: &Target) -> Result<(), LiveError> {
    match target {
        Target::Emulated => Ok(()),
        Target::Kind => {
            if !on_path("docker") {
                return Err(LiveError::MissingTool {
                    tool: "docker",
                    mode: "kind",
                    how: "a running Docker engine, e.g. Debian's docker.io",
                });
            }
            if !on_path("kind") {
                return Err(LiveError::MissingTool {
                    tool: "kind",
                    mode: "kind",
                    how: "https://kind.sigs.k8s.io, `go install sigs.k8s.io/kind@latest`",
                });
            }
            Ok(())
        }
        Target::Kubeconfig { context, allow } => {
            if context.starts_with("kind-pushpull-")
                || context == "pushpull-emulator"
                || allow.as_deref() == Some(context)
            {
                Ok(())
            } else {
                Err(LiveError::ContextRefused(context.clone()))
            }
        }
    }
}
