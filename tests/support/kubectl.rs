//! kubectl against the embedded emulator, for the test suites that drive a real client
//! (`tests/emulator_kubectl.rs`, `tests/emulator_workloads.rs`): finding kubectl (or the
//! one `KUBECTL=/path` names), a private kubeconfig, and a fast emulator to run it against.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use pushpull::emulator::{BlockingEmulator, Emulator, EmulatorConfig, PodStartDelay};

/// Finds kubectl on a PATH-like string.
pub fn find_kubectl(path_var: &str) -> Result<PathBuf, String> {
    std::env::split_paths(path_var)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "kubectl not found on PATH: install the Debian package `kubernetes-client` \
             (apt-get install -y kubernetes-client); .ci/run does this when kubectl is missing"
                .to_string()
        })
}

pub struct Kubectl {
    pub binary: PathBuf,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Kubectl {
    pub fn new(emulator: &BlockingEmulator) -> Kubectl {
        // `KUBECTL=/path` runs the suite with another kubectl (e.g. a newer release).
        let binary = match std::env::var_os("KUBECTL") {
            Some(path) => PathBuf::from(path),
            None => find_kubectl(&std::env::var("PATH").unwrap_or_default())
                .unwrap_or_else(|msg| panic!("{msg}")),
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        emulator
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        Kubectl {
            binary,
            dir,
            kubeconfig,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env_remove("KUBECONFIG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("kubectl runs")
    }

    /// Runs and insists on success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("manifest written");
        path
    }
}

pub fn fast_emulator() -> BlockingEmulator {
    Emulator::start_blocking(EmulatorConfig {
        pod_start: PodStartDelay::LogNormal {
            median: Duration::from_millis(60),
            p99: Duration::from_millis(200),
        },
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
}

pub fn deployment_manifest(namespace: &str, image: &str, deadline: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {namespace}
  labels:
    app.kubernetes.io/managed-by: pushpull
spec:
  replicas: 3
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: app
        image: {image}
        ports: [{{containerPort: 80}}]
"
    )
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("kubectl printed invalid JSON ({e}): {text}"))
}
