//! `pushpull emulator serve`: runs one emulator in the foreground until Ctrl-C, printing
//! its URL and writing a kubeconfig (context `pushpull-emulator`) for kubectl or kube-rs.

use std::future::Future;
use std::path::PathBuf;

use anyhow::Context;

use super::{Emulator, EmulatorConfig, RunningEmulator, kubeconfig};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write a kubeconfig for the emulator (context `pushpull-emulator`).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// Serves until Ctrl-C. Builds its own tokio runtime.
pub fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve(args, |_| async {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")
    }))
}

/// Starts the emulator, announces it, and serves until `until` (given the running
/// emulator) completes.
pub async fn serve<F, Fut>(args: ServeArgs, until: F) -> anyhow::Result<()>
where
    F: FnOnce(&RunningEmulator) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = EmulatorConfig {
        port: args.port,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config)
        .await
        .context("cannot start the emulator")?;
    println!("pushpull emulator listening on {}", emulator.url());
    if let Some(path) = &args.kubeconfig {
        emulator.write_kubeconfig(path)?;
        println!(
            "kubeconfig written to {} (context {})",
            path.display(),
            kubeconfig::CONTEXT
        );
        println!(
            "try: kubectl --kubeconfig {} get namespaces",
            path.display()
        );
    }
    let result = until(&emulator).await;
    println!("shutting down");
    emulator.shutdown().await;
    result
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
    }

    #[tokio::test]
    async fn serve_writes_a_kubeconfig_and_answers_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        let args = ServeArgs {
            port: 0,
            kubeconfig: Some(path.clone()),
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
    }
}
