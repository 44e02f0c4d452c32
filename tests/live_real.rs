//! Live mode against real Kubernetes (API server, controllers and a kubelet running real
//! pods), with `scenarios/live-smoke.yaml` (six minutes of real time):
//!
//! - `k3s`: a K3s container started with testcontainers, reached through its kubeconfig as
//!   a user would (`--mode kubeconfig --context default --allow-context default`). Needs a
//!   Docker engine and network access to pull `rancher/k3s` and `registry.k8s.io/pause`:
//!
//!       cargo test --release --test live_real -- --ignored --nocapture k3s
//!
//! - `kind`: `--mode kind`, which creates the missing kind clusters `pushpull-0` and
//!   `pushpull-1` from `kind-config.yaml` and deletes them after the run. Needs `docker` and
//!   `kind` on PATH:
//!
//!       cargo test --release --test live_real -- --ignored --nocapture kind
//!
//! Both are ignored by default: the machines that run CI have no Docker engine.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;
use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};
use testcontainers_modules::testcontainers::ImageExt;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

/// A K3s release whose Kubernetes is as recent as the kubectl the README names.
const K3S_TAG: &str = "v1.31.4-k3s1";

fn count(summary: &Value, model: &str, metric: &str) -> u64 {
    summary["models"][model]["metrics"][metric]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("{model} {metric}: no count in summary.json"))
}

fn counter(summary: &Value, model: &str, name: &str) -> u64 {
    summary["models"][model]["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("{model}: no counter {name} in summary.json"))
}

/// Runs pushpull to the end, shows what it printed (with --nocapture), and requires
/// exit 0. Returns stdout and stderr.
fn run_ok(cmd: &mut Command) -> (String, String) {
    let o = cmd.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    eprintln!("{stdout}\n{stderr}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "pushpull run failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// What a completed live-smoke run must show: the report files, real rollouts for both
/// models, the bad release failed and rolled back, every hand edit made and pull's all
/// taken back.
fn check_smoke_run(run: &Path, mode: &str) {
    let summary: Value = serde_json::from_slice(
        &std::fs::read(run.join("summary.json")).expect("summary.json written"),
    )
    .expect("summary.json parses");
    assert_eq!(summary["mode"], mode);
    assert_eq!(summary["partial"], false);
    for file in ["samples.csv", "events.csv", "report.html", "report.md"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    for model in ["push", "pull"] {
        // Real rollouts completed: a deploy latency for most commits, and the bad
        // release failed its deadline and was rolled back.
        assert!(
            count(&summary, model, "deploy_latency") >= 6,
            "{model}: too few deploys completed on the cluster"
        );
        assert!(counter(&summary, model, "failed_deploys") >= 1, "{model}");
        assert_eq!(count(&summary, model, "rollback"), 1, "{model}: rollback");
        assert_eq!(counter(&summary, model, "drift_events"), 3, "{model}");
    }
    // Self-heal takes back all three hand edits.
    assert_eq!(count(&summary, "pull", "drift_recovery"), 3);
    assert_eq!(counter(&summary, "pull", "drift_unrecovered"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Docker engine (pulls rancher/k3s and registry.k8s.io/pause); run: cargo test --release --test live_real -- --ignored --nocapture k3s"]
async fn k3s_live_smoke_runs_both_models_with_real_pods() {
    let conf = tempfile::tempdir().expect("tempdir");
    let k3s = K3s::default()
        .with_conf_mount(conf.path())
        .with_privileged(true)
        .with_userns_mode("host")
        .with_tag(K3S_TAG)
        .start()
        .await
        .expect("K3s container starts (is a Docker engine running? try `docker info`)");
    let port = k3s
        .get_host_port_ipv4(KUBE_SECURE_PORT)
        .await
        .expect("the API port is mapped");
    let raw = k3s
        .image()
        .read_kube_config()
        .expect("K3s wrote k3s.yaml into the mounted folder");
    // K3s names its own port; the host reaches it through the mapped one.
    let kubeconfig = raw.replace(
        "https://127.0.0.1:6443",
        &format!("https://127.0.0.1:{port}"),
    );
    assert_ne!(kubeconfig, raw, "k3s.yaml names https://127.0.0.1:6443");
    let kubeconfig_path = conf.path().join("host-kubeconfig.yaml");
    std::fs::write(&kubeconfig_path, &kubeconfig).expect("write kubeconfig");

    let out = tempfile::tempdir().expect("tempdir");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/live-smoke.yaml");
    let (kc, out_dir) = (kubeconfig_path.clone(), out.path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        run_ok(
            Command::new(env!("CARGO_BIN_EXE_pushpull"))
                .env("KUBECONFIG", &kc)
                .arg("run")
                .arg(&scenario)
                .args(["--mode", "kubeconfig", "--context", "default"])
                .args(["--allow-context", "default", "--out"])
                .arg(&out_dir),
        )
    })
    .await
    .expect("join");

    check_smoke_run(&out.path().join("live-smoke"), "kubeconfig");

    // The kubelet really ran the release's pods in the harness's namespaces.
    let kc = Kubeconfig::read_from(&kubeconfig_path).expect("kubeconfig reads");
    let opts = KubeConfigOptions {
        context: Some("default".into()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .expect("kubeconfig loads");
    let client = kube::Client::try_from(config).expect("client");
    for ns in ["pushpull-live-push-c0", "pushpull-live-pull-c1"] {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let listed = deployments
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=pushpull"))
            .await
            .expect("list deployments");
        assert_eq!(listed.items.len(), 3, "{ns}: one Deployment per app");
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let running = pods
            .list(&ListParams::default())
            .await
            .expect("list pods")
            .items
            .into_iter()
            .filter(|p| {
                p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    && p.spec.as_ref().is_some_and(|s| {
                        s.containers[0].image.as_deref() == Some("registry.k8s.io/pause:3.10")
                    })
            })
            .count();
        assert!(running >= 2, "{ns}: {running} running pause pods");
    }
}

fn kind_clusters() -> Vec<String> {
    let o = Command::new("kind")
        .args(["get", "clusters"])
        .output()
        .expect("kind runs (is it on PATH?)");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with("pushpull-"))
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs docker and kind on PATH; run: cargo test --release --test live_real -- --ignored --nocapture kind"]
fn kind_live_smoke_creates_and_deletes_its_clusters() {
    let before = kind_clusters();
    let out = tempfile::tempdir().expect("tempdir");
    let (_, stderr) = run_ok(
        Command::new(env!("CARGO_BIN_EXE_pushpull"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "run",
                "scenarios/live-smoke.yaml",
                "--mode",
                "kind",
                "--out",
            ])
            .arg(out.path()),
    );
    check_smoke_run(&out.path().join("live-smoke"), "kind");
    // Clusters the run made are gone again; clusters made beforehand are kept.
    let made: Vec<&str> = ["pushpull-0", "pushpull-1"]
        .into_iter()
        .filter(|c| !before.iter().any(|b| b == c))
        .collect();
    if !made.is_empty() {
        assert!(stderr.contains("creating kind cluster(s)"), "{stderr}");
        assert!(
            stderr.contains("deleting the kind cluster(s) this run created"),
            "{stderr}"
        );
    }
    assert_eq!(kind_clusters(), before);
}
