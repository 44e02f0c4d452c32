//! The live guard checks identity, not names: a `kind-pushpull-*` or `pushpull-emulator`
//! context whose server is not on this machine is refused (exit 2, before any connection)
//! unless `--allow-context` names it, in `--mode kubeconfig` and `--mode kind`; the
//! emulator's own loopback context is used as before. `cluster down` deletes only the
//! `pushpull-<digits>` clusters `cluster up` makes, and `cluster up` refuses 0 or more
//! than 64 clusters. kind is the stand-in of tests/support/fake-kind.sh.

#[path = "support/fake_kind.rs"]
mod fake_kind;

use fake_kind::{FakeKind, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Tests that start API servers run one at a time (the machine has two cores).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

/// Ten seconds of real time on `clusters` clusters.
fn scenario(dir: &Path, clusters: u32) -> PathBuf {
    let p = dir.join("guard.yaml");
    std::fs::write(
        &p,
        format!(
            "
name: guard
seed: 3
duration: 10s
repetitions: 1
time_scale: 1
fleet:
  clusters: {clusters}
  apps: 1
  replicas: 1
  rollout:
    pod_start: {{ dist: fixed, value: 1s }}
    progress_deadline: 30s
workload:
  commits: {{ arrival: fixed, interval: 4s }}
models:
  push:
    preset: github-actions
    queue_wait: {{ dist: fixed, value: 1s }}
    build: {{ dist: fixed, value: 1s }}
  pull:
    preset: argocd
    poll: {{ interval: 2s, jitter: 1s }}
"
        ),
    )
    .unwrap();
    p
}

/// A kubeconfig with one context per `(context, server)`.
fn kubeconfig(path: &Path, contexts: &[(&str, &str)]) {
    let mut clusters = String::new();
    let mut named = String::new();
    // Clusters are named after the file too: with several files the first definition of
    // a name wins, as kubectl and kube-rs merge them.
    let file = path.file_name().unwrap().to_string_lossy();
    for (context, server) in contexts {
        clusters += &format!("- name: {file}-{context}\n  cluster:\n    server: {server}\n");
        named +=
            &format!("- name: {context}\n  context:\n    cluster: {file}-{context}\n    user: u\n");
    }
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n- name: u\n  user: {{}}\ncontexts:\n{named}"
        ),
    )
    .unwrap();
}

/// `run SCENARIO --mode kubeconfig --context CONTEXT` with `KUBECONFIG`, timed.
fn run_kubeconfig(kubeconfig: &str, context: &str, extra: &[&str]) -> (Output, Duration) {
    let out = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let o = bin()
        .arg("run")
        .arg(scenario(out.path(), 1))
        .args(["--mode", "kubeconfig", "--context", context, "--out"])
        .arg(out.path())
        .args(extra)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap();
    (o, t0.elapsed())
}

fn refused_naming(o: &Output, words: &[&str]) {
    let log = text(o);
    assert_eq!(o.status.code(), Some(2), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    for w in words {
        assert!(log.contains(w), "no `{w}` in {log}");
    }
}

#[test]
fn a_harness_named_context_on_another_machine_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    // Two files, as KUBECONFIG allows: the contexts are in the second.
    let first = dir.path().join("first");
    kubeconfig(&first, &[("prod", "https://192.0.2.10:6443")]);
    let second = dir.path().join("second");
    kubeconfig(
        &second,
        &[
            ("kind-pushpull-evil", "https://10.255.255.1:6443"),
            ("pushpull-emulator", "http://192.0.2.1:8080"),
            // The user part is not the host: this one goes to 10.255.255.1.
            ("kind-pushpull-0", "https://127.0.0.1@10.255.255.1:6443"),
            ("kind-pushpull-1", "https://localhost.example.com:6443"),
        ],
    );
    let both = format!("{}:{}", first.display(), second.display());
    for (context, server) in [
        ("kind-pushpull-evil", "https://10.255.255.1:6443"),
        ("pushpull-emulator", "http://192.0.2.1:8080"),
        ("kind-pushpull-0", "10.255.255.1:6443"),
        ("kind-pushpull-1", "https://localhost.example.com:6443"),
    ] {
        let (o, took) = run_kubeconfig(&both, context, &[]);
        refused_naming(
            &o,
            &[
                &format!("refusing context `{context}`"),
                server,
                "not on this machine",
                &format!("--allow-context {context}"),
            ],
        );
        // 10.255.255.1 does not answer: a connection attempt would take far longer.
        assert!(took < Duration::from_secs(10), "{context}: {took:?}");
    }
    // Another context named with --allow-context does not let this one through.
    let (o, _) = run_kubeconfig(
        &both,
        "kind-pushpull-evil",
        &["--allow-context", "kind-pushpull-0"],
    );
    refused_naming(&o, &["--allow-context kind-pushpull-evil"]);
}

#[test]
fn the_first_kubeconfig_file_that_defines_a_context_decides_where_it_points() {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote");
    kubeconfig(&remote, &[("kind-pushpull-0", "https://10.255.255.1:6443")]);
    let local = dir.path().join("local");
    kubeconfig(&local, &[("kind-pushpull-0", "https://127.0.0.1:6443")]);
    let (o, _) = run_kubeconfig(
        &format!("{}:{}", remote.display(), local.display()),
        "kind-pushpull-0",
        &[],
    );
    refused_naming(&o, &["https://10.255.255.1:6443"]);
}

#[test]
fn a_context_missing_from_the_kubeconfig_exits_3_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kc");
    kubeconfig(&file, &[("prod", "https://192.0.2.10:6443")]);
    let (o, _) = run_kubeconfig(&file.display().to_string(), "kind-pushpull-9", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("kind-pushpull-9"), "{}", text(&o));
}

#[test]
fn the_emulators_own_loopback_context_is_used_without_allow_context() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("emulator.kubeconfig");
    let mut emulator = bin()
        .args(["emulator", "serve", "--kubeconfig"])
        .arg(&kc)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kc.is_file() {
        assert!(
            Instant::now() < deadline,
            "the emulator wrote no kubeconfig"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let written = std::fs::read_to_string(&kc).unwrap();
    let (o, _) = run_kubeconfig(&kc.display().to_string(), "pushpull-emulator", &[]);
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(written.contains("server: http://127.0.0.1:"), "{written}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn kind_mode_refuses_a_kind_pushpull_context_that_points_elsewhere() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    let up = kind
        .pushpull()
        .args(["cluster", "up", "--clusters", "1"])
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", text(&up));
    // Someone repoints the context kind wrote at another machine.
    let kc = std::fs::read_to_string(kind.kubeconfig()).unwrap();
    let moved: String = kc
        .lines()
        .map(|l| match l.split_once("server: ") {
            Some((indent, _)) => format!("{indent}server: https://10.255.255.1:6443"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(moved, kc);
    std::fs::write(kind.kubeconfig(), moved).unwrap();
    let out = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let o = kind
        .pushpull()
        .arg("run")
        .arg(scenario(out.path(), 1))
        .args(["--mode", "kind", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    refused_naming(
        &o,
        &[
            "refusing context `kind-pushpull-0`",
            "https://10.255.255.1:6443",
            "--mode kubeconfig --context kind-pushpull-0 --allow-context kind-pushpull-0",
        ],
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    // The guard touched nothing: the cluster the user made is still there.
    assert_eq!(kind.clusters(), ["pushpull-0"]);
}

#[test]
fn cluster_down_deletes_only_the_clusters_cluster_up_names() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("kind-config.yaml");
    let config = config.display().to_string();
    for name in ["pushpull-prod-demo", "pushpull-", "pushpull-007"] {
        kind.kind(&["create", "cluster", "--name", name, "--config", &config]);
    }
    let up = kind
        .pushpull()
        .args(["cluster", "up", "--clusters", "2"])
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", text(&up));
    assert_eq!(
        kind.clusters(),
        [
            "pushpull-",
            "pushpull-0",
            "pushpull-007",
            "pushpull-1",
            "pushpull-prod-demo"
        ]
    );
    let down = kind.pushpull().args(["cluster", "down"]).output().unwrap();
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stdout)
            .contains("deleted 2 kind cluster(s): pushpull-0, pushpull-1"),
        "{}",
        text(&down)
    );
    assert_eq!(
        kind.clusters(),
        ["pushpull-", "pushpull-007", "pushpull-prod-demo"]
    );
    // With nothing of its own left, down deletes nothing and says so.
    let again = kind.pushpull().args(["cluster", "down"]).output().unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("no pushpull-<digits> kind cluster"),
        "{}",
        text(&again)
    );
    assert_eq!(kind.clusters().len(), 3);
}

#[test]
fn cluster_up_refuses_zero_clusters_and_more_than_64_before_running_kind() {
    let kind = FakeKind::new();
    for n in ["0", "65", "4294967295"] {
        let o = kind
            .pushpull()
            .args(["cluster", "up", "--clusters", n])
            .output()
            .unwrap();
        refused_naming(
            &o,
            &[
                &format!("{n} kind cluster(s) asked for"),
                "between 1 and 64",
            ],
        );
    }
    // A scenario of more clusters than kind may make is refused the same way in kind mode.
    let out = tempfile::tempdir().unwrap();
    let o = kind
        .pushpull()
        .arg("run")
        .arg(scenario(out.path(), 65))
        .args(["--mode", "kind", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    refused_naming(&o, &["65 kind cluster(s) asked for"]);
    assert!(
        kind.clusters().is_empty(),
        "kind was asked to make a cluster"
    );
}
