//! `pushpull emulator serve`: runs one emulator in the foreground until Ctrl-C, printing
//! its URL and writing a kubeconfig (context `pushpull-emulator`) for kubectl or kube-rs.

use std::path::PathBuf;

use anyhow::Context;

use super::{Emulator, EmulatorConfig, kubeconfig};

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
    runtime.block_on(async move {
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
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")?;
        println!("shutting down");
        emulator.shutdown().await;
        Ok(())
    })
}
