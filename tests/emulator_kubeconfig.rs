//! `pushpull emulator serve --kubeconfig FILE` with the installed kubectl: the emulator's
//! context is merged into an existing kubeconfig next to the user's own (whose entries,
//! credentials, current context and file mode survive), and taken out again when the
//! server stops on SIGTERM or SIGINT.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const EXISTING: &str = "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
- name: staging
  cluster:
    server: https://staging.example:6443
users:
- name: admin
  user:
    token: s3cret-token
contexts:
- name: prod
  context:
    cluster: prod
    user: admin
- name: staging
  context:
    cluster: staging
    user: admin
    namespace: web
current-context: staging
";

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn contexts(kubeconfig: &Path) -> Vec<String> {
    let mut names: Vec<String> = kubectl(kubeconfig, &["config", "get-contexts", "-o", "name"])
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

/// Starts the server with `--kubeconfig path` (plus `extra`) and waits until it says the
/// kubeconfig holds its context; the rest of stdout goes to the returned channel.
fn serve(path: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .args(["emulator", "serve", "--port", "0", "--kubeconfig"])
        .arg(path)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the emulator starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the emulator announces its kubeconfig");
        if line.contains("now has context pushpull-emulator") {
            break;
        }
    }
    (child, rx)
}

fn stop(mut child: Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("the emulator exits");
    assert!(exit.success(), "exit after SIG{signal}: {exit:?}");
}

#[test]
fn merged_context_sits_next_to_the_users_own_and_is_removed_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config");
    std::fs::write(&path, EXISTING).expect("kubeconfig written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let (child, _stdout) = serve(&path, &[]);
    assert_eq!(contexts(&path), ["prod", "pushpull-emulator", "staging"]);
    assert_eq!(
        kubectl(&path, &["config", "current-context"]).trim(),
        "staging"
    );
    let namespaces = kubectl(
        &path,
        &[
            "--context",
            "pushpull-emulator",
            "get",
            "namespaces",
            "-o",
            "name",
        ],
    );
    assert!(namespaces.contains("namespace/kube-system"), "{namespaces}");
    assert_eq!(mode(&path), 0o600);

    stop(child, "TERM");
    assert_eq!(contexts(&path), ["prod", "staging"]);
    assert_eq!(
        kubectl(&path, &["config", "current-context"]).trim(),
        "staging"
    );
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).expect("readable");
    assert!(text.contains("s3cret-token"), "credentials kept: {text}");
    assert!(!text.contains("pushpull-emulator"), "{text}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listable")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["config"], "no temp or lock files left");
}

#[test]
fn use_context_switches_the_current_context_until_sigint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config");
    std::fs::write(&path, EXISTING).expect("kubeconfig written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");

    let (child, _stdout) = serve(&path, &["--use-context"]);
    assert_eq!(
        kubectl(&path, &["config", "current-context"]).trim(),
        "pushpull-emulator"
    );
    let namespaces = kubectl(&path, &["get", "namespaces", "-o", "name"]);
    assert!(namespaces.contains("namespace/default"), "{namespaces}");
    assert_eq!(mode(&path), 0o640);

    stop(child, "INT");
    assert_eq!(contexts(&path), ["prod", "staging"]);
    assert_eq!(
        kubectl(&path, &["config", "current-context"]).trim(),
        "staging"
    );
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn a_new_kubeconfig_is_created_0600_with_the_emulator_current() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fresh");
    let (child, _stdout) = serve(&path, &[]);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(contexts(&path), ["pushpull-emulator"]);
    let namespaces = kubectl(&path, &["get", "namespaces", "-o", "name"]);
    assert!(namespaces.contains("namespace/default"), "{namespaces}");
    stop(child, "TERM");
    assert!(contexts(&path).is_empty());
}

#[test]
fn a_file_that_is_not_a_kubeconfig_is_refused_with_exit_2_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes");
    std::fs::write(&path, "- just\n- a list\n").expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .args(["emulator", "serve", "--port", "0", "--kubeconfig"])
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a kubeconfig"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("readable"),
        "- just\n- a list\n"
    );
}
