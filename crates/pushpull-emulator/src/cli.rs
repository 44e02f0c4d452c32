//! `pushpull emulator serve`: runs one emulator in the foreground until Ctrl-C or SIGTERM,
//! printing its URL and merging its context (`pushpull-emulator`) into a kubeconfig for
//! kubectl or kube-rs, which it takes out again on the way out.

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;

use super::{Emulator, EmulatorConfig, RunningEmulator, kubeconfig};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Kubeconfig to add the emulator's cluster, user and context (`pushpull-emulator`) to,
    /// as kind does: other entries and the file's mode are kept, a new file is created with
    /// mode 0600, and the entries are removed again on shutdown.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Also make `pushpull-emulator` the kubeconfig's current context (restored on
    /// shutdown). Without it the current context changes only if the file has none.
    #[arg(long, requires = "kubeconfig")]
    pub use_context: bool,
    /// Pod objects materialized at most, all Deployments together (ReplicaSet and
    /// Deployment counts follow the rollout model beyond it).
    #[arg(long, value_name = "N", default_value_t = EmulatorConfig::default().max_pods)]
    pub max_pods: usize,
}

/// Serves until Ctrl-C, SIGTERM or SIGHUP. Builds its own tokio runtime.
pub fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve(args, |_| termination()))
}

/// Resolves on Ctrl-C (SIGINT), SIGTERM (`kill`, systemd, docker stop) or SIGHUP (the
/// terminal went away), so the kubeconfig is cleaned up however the server is stopped.
async fn termination() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C"),
        _ = term.recv() => Ok(()),
        _ = hangup.recv() => Ok(()),
    }
}

/// Starts the emulator, announces it, and serves until `until` (given the running
/// emulator) completes; then removes what it merged into the kubeconfig.
pub async fn serve<F, Fut>(args: ServeArgs, until: F) -> anyhow::Result<()>
where
    F: FnOnce(&RunningEmulator) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = EmulatorConfig {
        port: args.port,
        max_pods: args.max_pods,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config)
        .await
        .context("cannot start the emulator")?;
    println!("pushpull emulator listening on {}", emulator.url());
    let merged = match &args.kubeconfig {
        Some(path) => {
            let merged = match kubeconfig::merge_into(
                path,
                &emulator.url(),
                kubeconfig::CONTEXT,
                args.use_context,
            ) {
                Ok(merged) => merged,
                Err(err) => {
                    emulator.shutdown().await;
                    return Err(err.into());
                }
            };
            if merged.replaced_existing() {
                println!(
                    "note: {} already had entries named {}; they are replaced while serving and put back on shutdown",
                    merged.path().display(),
                    kubeconfig::CONTEXT
                );
            }
            println!(
                "kubeconfig {} now has context {}{} (removed on shutdown)",
                path.display(),
                kubeconfig::CONTEXT,
                if merged.is_current() {
                    ", the current context"
                } else {
                    ""
                }
            );
            let context_flag = if merged.is_current() {
                String::new()
            } else {
                format!(" --context {}", kubeconfig::CONTEXT)
            };
            println!(
                "try: kubectl --kubeconfig {}{context_flag} get namespaces",
                path.display()
            );
            Some(merged)
        }
        None => None,
    };
    let result = until(&emulator).await;
    println!("shutting down");
    emulator.shutdown().await;
    let cleanup = match merged {
        Some(merged) => {
            let path = merged.path().to_path_buf();
            merged.remove().map(|()| {
                println!(
                    "removed context {} from {}",
                    kubeconfig::CONTEXT,
                    path.display()
                );
            })
        }
        None => Ok(()),
    };
    result?;
    cleanup.context("cannot remove the emulator from the kubeconfig")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::io::{Read, Write};

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn port_defaults_to_zero_and_kubeconfig_is_optional() {
        let cli = Cli::try_parse_from(["serve"]).unwrap();
        assert_eq!(cli.serve.port, 0);
        assert!(cli.serve.kubeconfig.is_none());
        let cli =
            Cli::try_parse_from(["serve", "--port", "8080", "--kubeconfig", "/tmp/k"]).unwrap();
        assert_eq!(cli.serve.port, 8080);
        assert!(Cli::try_parse_from(["serve", "--port", "nope"]).is_err());
        assert!(
            Cli::try_parse_from(["serve", "--use-context"]).is_err(),
            "--use-context needs --kubeconfig"
        );
    }

    #[tokio::test]
    async fn serve_writes_a_kubeconfig_and_answers_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        let args = ServeArgs {
            port: 0,
            kubeconfig: Some(path.clone()),
            use_context: false,
            max_pods: 10,
        };
        serve(args, |emulator| {
            let addr = emulator.addr();
            let path = path.clone();
            async move {
                let text = std::fs::read_to_string(&path)?;
                assert!(text.contains(&format!("server: http://{addr}")));
                assert!(text.contains("current-context: pushpull-emulator"));
                let body = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
                    let mut stream = std::net::TcpStream::connect(addr)?;
                    stream.write_all(
                        b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    )?;
                    let mut response = String::new();
                    stream.read_to_string(&mut response)?;
                    Ok(response)
                })
                .await??;
                assert!(body.starts_with("HTTP/1.1 200"), "{body}");
                assert!(body.contains("\"minor\":\"32\""), "{body}");
                Ok(())
            }
        })
        .await
        .unwrap();
        let left =
            kube::config::Kubeconfig::from_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            left.contexts.is_empty(),
            "the context is removed on shutdown"
        );
        assert_eq!(left.current_context, None);
    }
}
