//! `--mode kind` and `pushpull cluster up|down` end to end, on machines without Docker:
//! `tests/support/fake-kind.sh` stands in for kind (each "cluster" is a `pushpull emulator
//! serve` process with a `kind-pushpull-N` context), so everything pushpull does around
//! kind runs for real: finding the clusters, creating the missing ones from
//! kind-config.yaml, reaching them through their contexts, emptying their namespaces, and
//! deleting only what the run created, also after Ctrl-C. The real kind is exercised by
//! the ignored test in tests/live_real.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// These tests run in real time: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A directory with the fake `kind`, a stub `docker`, a state directory and a kubeconfig.
/// Dropping it deletes every cluster still running, whatever the test did.
struct FakeKind {
    dir: tempfile::TempDir,
}

impl FakeKind {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-kind.sh");
        std::fs::copy(&script, bin.join("kind")).unwrap();
        // kind needs a Docker engine; pushpull only checks that docker is there.
        std::fs::write(bin.join("docker"), "#!/bin/sh\nexit 0\n").unwrap();
        for tool in ["kind", "docker"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        FakeKind { dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A command with the fake tools first on PATH, run from the repository root (where
    /// kind-config.yaml is).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(program);
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PATH", path)
            .env("FAKE_KIND_STATE", self.state())
            .env("PUSHPULL_BIN", env!("CARGO_BIN_EXE_pushpull"))
            .env("KUBECONFIG", self.kubeconfig());
        c
    }

    fn pushpull(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_pushpull"))
    }

    /// The clusters the fake kind has running, as `kind get clusters` lists them.
    fn clusters(&self) -> Vec<String> {
        let o = self
            .command("kind")
            .args(["get", "clusters"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Pids of the emulator processes behind the clusters (recorded by create).
    fn pids(&self) -> Vec<(String, u32)> {
        let Ok(entries) = std::fs::read_dir(self.state()) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "pid").then(|| {
                    let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                    let pid = std::fs::read_to_string(&p).unwrap().trim().parse().unwrap();
                    (name, pid)
                })
            })
            .collect()
    }

    /// `pushpull cluster up --clusters n`, which must succeed.
    fn up(&self, n: u32) {
        let o = self
            .pushpull()
            .args(["cluster", "up", "--clusters", &n.to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }

    /// `pushpull run SCENARIO --out OUT` plus `mode` (e.g. `--mode kind`).
    fn run(&self, scenario: &Path, mode: &[&str], out: &Path) -> Command {
        let mut c = self.pushpull();
        c.arg("run").arg(scenario).args(mode).arg("--out").arg(out);
        c
    }

    /// The names of the harness's Deployments in a namespace, through kubectl.
    fn deployments(&self, context: &str, namespace: &str) -> Vec<String> {
        self.kubectl(
            context,
            &[
                "get",
                "deployments",
                "-n",
                namespace,
                "-l",
                "app.kubernetes.io/managed-by=pushpull",
                "-o",
                "name",
            ],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    fn kubectl(&self, context: &str, args: &[&str]) -> String {
        let o = self
            .command("kubectl")
            .args(["--context", context])
            .args(args)
            .output()
            .expect("kubectl runs (Debian: kubernetes-client)");
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for FakeKind {
    fn drop(&mut self) {
        for (name, _) in self.pids() {
            let _ = self
                .command("kind")
                .args(["delete", "cluster", "--name", &name])
                .output();
        }
    }
}

fn alive(pid: u32) -> bool {
    // A killed orphan may linger as a zombie until something reaps it: that is not alive.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
                == Some(false)
        })
        .unwrap_or(false)
}

/// 40 seconds of real time on two clusters: commits every 10 s, a hand edit at 15 s.
const SCENARIO: &str = "
name: kind-lifecycle
seed: 5
duration: 40s
repetitions: 1
time_scale: 1
fleet:
  clusters: 2
  apps: 2
  replicas: 1
  rollout:
    pod_start: { dist: fixed, value: 1s }
    max_surge: 1
    max_unavailable: 0
    progress_deadline: 30s
workload:
  commits: { arrival: fixed, interval: 10s }
models:
  push:
    preset: github-actions
    queue_wait: { dist: fixed, value: 1s }
    build: { dist: fixed, value: 2s }
  pull:
    preset: argocd
    # A fetch per app every 5 s: Argo CD's resync with its 3-minute revision cache would
    # see no commit in a 40-second run, and this test is about clusters, not refresh.
    refresh: poll
    poll: { interval: 5s, jitter: 1s }
# Commits are config commits: this test is about clusters, not the change path (a CI
# stage and a write-back would leave too few deploys in 20-second repetitions).
ci: none
faults:
  - { kind: drift, change: image, at: 15s }
";

fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("kind-lifecycle.yaml");
    std::fs::write(&p, SCENARIO).unwrap();
    p
}

/// The same scenario as two repetitions of 20 seconds.
fn two_short_repetitions(dir: &Path) -> PathBuf {
    let p = dir.join("kind-lifecycle.yaml");
    let text = SCENARIO
        .replace("repetitions: 1", "repetitions: 2")
        .replace("duration: 40s", "duration: 20s");
    assert_ne!(text, SCENARIO);
    std::fs::write(&p, text).unwrap();
    p
}

/// Ctrl-C for the process alone (not its group, as a terminal would): SIGINT, then its
/// output once it has ended.
fn interrupt(child: std::process::Child) -> Output {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn summary(out: &Path) -> serde_json::Value {
    let file = out.join("kind-lifecycle/summary.json");
    serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap()
}

#[test]
fn kind_mode_creates_the_missing_clusters_reaches_them_by_context_and_deletes_only_those() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();

    // A cluster made beforehand, as a user keeping clusters between runs would.
    kind.up(1);
    assert_eq!(kind.clusters(), ["pushpull-0"]);
    let config = std::fs::read_to_string(kind.state().join("pushpull-0.config")).unwrap();
    assert!(
        config.trim().ends_with("kind-config.yaml"),
        "created from {config}"
    );
    let kept_pid = kind.pids()[0].1;

    let out = tempfile::tempdir().unwrap();
    let run = kind
        .run(&scenario(out.path()), &["--mode", "kind"], out.path())
        .output()
        .unwrap();
    let log = text(&run);
    assert!(run.status.success(), "{log}");
    assert!(
        log.contains("creating kind cluster(s) pushpull-1 from kind-config.yaml"),
        "{log}"
    );
    assert!(
        log.contains("deleting the kind cluster(s) this run created: pushpull-1"),
        "{log}"
    );

    assert!(log.contains("namespaces stay for inspection"), "{log}");
    // Only the cluster the run made is gone; the one that was there is untouched.
    assert_eq!(kind.clusters(), ["pushpull-0"]);
    assert!(alive(kept_pid), "pushpull-0's API server was stopped");

    // The run deployed through the kind-pushpull-0 context into its own namespaces, and
    // left them for inspection.
    for model in ["push", "pull"] {
        let ns = format!("pushpull-live-{model}");
        assert_eq!(
            kind.deployments("kind-pushpull-0", &ns),
            ["deployment.apps/app-000", "deployment.apps/app-001"],
            "{ns}"
        );
    }

    let s = summary(out.path());
    assert_eq!(s["mode"], "kind");
    assert_eq!(s["partial"], false);
    assert!(s.get("repetitions_run").is_none(), "a complete run");
    for model in ["push", "pull"] {
        let m = &s["models"][model];
        assert!(
            m["counters"]["deploys"].as_u64().unwrap() >= 4,
            "{model}: {}",
            m["counters"]
        );
        assert!(
            m["metrics"]["deploy_latency"]["count"].as_u64().unwrap() >= 4,
            "{model}: {}",
            m["metrics"]["deploy_latency"]
        );
        assert_eq!(m["counters"]["apply_errors"], 0, "{model}");
    }
    // The hand edit happened on a real API, and the reconciler took it back.
    let pull = &s["models"]["pull"];
    assert!(pull["counters"]["drift_events"].as_u64().unwrap() >= 1);
    assert_eq!(pull["counters"]["drift_unrecovered"], 0);

    // `cluster down` removes the rest.
    let down = kind.pushpull().args(["cluster", "down"]).output().unwrap();
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stdout).contains("deleted 1 kind cluster(s): pushpull-0"),
        "{}",
        text(&down)
    );
    assert!(kind.clusters().is_empty());
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(kept_pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(kept_pid), "pushpull-0's API server still runs");
}

#[test]
fn ctrl_c_in_kind_mode_deletes_the_clusters_the_run_created() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    let out = tempfile::tempdir().unwrap();
    let child = kind
        .run(&scenario(out.path()), &["--mode", "kind"], out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until both clusters are up, then let the run go on for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(30);
    while kind.pids().len() < 2 {
        assert!(Instant::now() < deadline, "the run made no clusters");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pids: Vec<u32> = kind.pids().into_iter().map(|(_, p)| p).collect();
    std::thread::sleep(Duration::from_secs(6));
    let o = interrupt(child);
    let log = text(&o);
    assert_eq!(o.status.code(), Some(130), "{log}");
    assert!(
        log.contains("deleting the kind cluster(s) this run created: pushpull-0, pushpull-1"),
        "{log}"
    );
    assert!(kind.clusters().is_empty(), "{log}");
    assert!(
        !log.contains("stay for inspection"),
        "no cluster of this run is left: {log}"
    );
    for pid in pids {
        assert!(!alive(pid), "an API server the run created still runs");
    }
    let s = summary(out.path());
    assert_eq!(s["partial"], true);
    assert_eq!(s["repetitions_run"], 1);
}

#[test]
fn kubeconfig_mode_gives_each_cluster_its_own_namespace_and_refuses_one_it_does_not_own() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    kind.up(1);
    let ctx = "kind-pushpull-0";
    let out = tempfile::tempdir().unwrap();
    let run = || {
        kind.run(
            &two_short_repetitions(out.path()),
            &["--mode", "kubeconfig", "--context", ctx],
            out.path(),
        )
        .output()
        .unwrap()
    };

    // A namespace with the harness's name but not its label belongs to someone else.
    kind.kubectl(ctx, &["create", "namespace", "pushpull-live-push-c1"]);
    let refused = run();
    let log = text(&refused);
    assert_eq!(refused.status.code(), Some(3), "{log}");
    assert!(
        log.contains("namespace pushpull-live-push-c1 exists but is not labelled app.kubernetes.io/managed-by=pushpull"),
        "{log}"
    );
    kind.kubectl(ctx, &["get", "namespace", "pushpull-live-push-c1"]);
    kind.kubectl(ctx, &["delete", "namespace", "pushpull-live-push-c1"]);

    // Both scenario clusters on one API server: four namespaces, each with every app,
    // emptied and filled again by the second repetition.
    let ok = run();
    assert!(ok.status.success(), "{}", text(&ok));
    for ns in [
        "pushpull-live-push-c0",
        "pushpull-live-push-c1",
        "pushpull-live-pull-c0",
        "pushpull-live-pull-c1",
    ] {
        assert_eq!(
            kind.deployments(ctx, ns),
            ["deployment.apps/app-000", "deployment.apps/app-001"],
            "{ns}"
        );
    }
    let s = summary(out.path());
    assert_eq!(s["mode"], "kubeconfig");
    assert_eq!(s["repetitions"], 2);
    for model in ["push", "pull"] {
        let c = &s["models"][model]["counters"];
        assert!(c["deploys"].as_u64().unwrap() >= 4, "{model}: {c}");
        assert_eq!(c["apply_errors"], 0, "{model}: {c}");
    }
}

#[test]
fn a_cluster_that_goes_away_mid_run_ends_the_run_on_time_with_what_was_measured() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    kind.up(1);
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = kind
        .run(
            &two_short_repetitions(out.path()),
            &["--mode", "kubeconfig", "--context", "kind-pushpull-0"],
            out.path(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The API server goes away eight seconds into the first repetition.
    std::thread::sleep(Duration::from_secs(8));
    let gone = kind
        .command("kind")
        .args(["delete", "cluster", "--name", "pushpull-0"])
        .output()
        .unwrap();
    assert!(gone.status.success(), "{}", text(&gone));

    // The first repetition still ends at its horizon (watchers back off instead of
    // spinning), the second cannot start, and the run stops with what it measured.
    let deadline = started + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end 90 s after it started (20 s repetitions)");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = child.wait_with_output().unwrap();
    let log = text(&o);
    assert_eq!(o.status.code(), Some(3), "{log}");
    assert!(log.contains("stopped by an error"), "{log}");
    assert!(log.contains("kind-pushpull-0"), "{log}");
    let s = summary(out.path());
    assert_eq!(s["partial"], true);
    assert_eq!(s["repetitions_run"], 1, "the first of two repetitions");
    let report = std::fs::read_to_string(out.path().join("kind-lifecycle/report.md")).unwrap();
    assert!(
        report.contains("from 1 of 2 planned repetitions of 20.0s")
            && report.contains("stopped early (interrupted, or a cluster failed)"),
        "the report says the run stopped early"
    );
    let push = &s["models"]["push"]["counters"];
    assert!(push["apply_errors"].as_u64().unwrap() > 0, "{push}");
    let samples = out.path().join("kind-lifecycle/samples.csv");
    assert!(samples.is_file(), "samples.csv was not written");
}

#[test]
fn a_kind_cluster_that_fails_to_start_takes_down_the_ones_the_run_made_before_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    let out = tempfile::tempdir().unwrap();
    let o = kind
        .run(&scenario(out.path()), &["--mode", "kind"], out.path())
        .env("FAKE_KIND_FAIL", "pushpull-1")
        .output()
        .unwrap();
    let log = text(&o);
    assert_eq!(o.status.code(), Some(3), "{log}");
    assert!(
        log.contains("kind create cluster --name pushpull-1") && log.contains("exit status 125"),
        "the error names the command and kind's reason: {log}"
    );
    assert!(
        log.contains("deleting the kind cluster(s) made before that: pushpull-0"),
        "{log}"
    );
    assert!(kind.clusters().is_empty(), "{log}");
}

#[test]
fn ctrl_c_while_kind_creates_a_cluster_stops_it_and_takes_down_the_ones_made_before() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let kind = FakeKind::new();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let child = kind
        .run(&scenario(out.path()), &["--mode", "kind"], out.path())
        .env("FAKE_KIND_SLOW", "pushpull-1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // pushpull-0 is up and pushpull-1 is being made (for 60 s, unless interrupted).
    while kind.clusters().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no cluster made"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // Only pushpull gets the interrupt: it must pass it on to kind itself.
    let o = interrupt(child);
    let log = text(&o);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "the run waited for kind instead of interrupting it: {log}"
    );
    assert_eq!(o.status.code(), Some(130), "{log}");
    assert!(
        log.contains("interrupted during kind create cluster --name pushpull-1"),
        "{log}"
    );
    assert!(kind.clusters().is_empty(), "{log}");
    assert!(
        !out.path().join("kind-lifecycle/summary.json").exists(),
        "nothing was measured, so nothing is reported"
    );
}
