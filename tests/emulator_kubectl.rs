//! End-to-end: the installed kubectl (a client we did not write) against the embedded
//! emulator through a temporary kubeconfig. Every command of the issue's acceptance list
//! runs here and its output is checked. No kubectl on PATH is a failure naming the package.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "support/kubectl.rs"]
mod kubectl;
use kubectl::{Kubectl, deployment_manifest, fast_emulator, find_kubectl, json};

#[test]
fn kubectl_lookup_names_the_debian_package_when_missing() {
    let err = find_kubectl("").unwrap_err();
    assert!(err.contains("kubernetes-client"), "{err}");
    assert!(
        find_kubectl(&std::env::var("PATH").unwrap_or_default()).is_ok(),
        "{err}"
    );
}

#[test]
fn kubectl_drives_a_deployment_through_its_lifecycle() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);

    let namespaces = k.ok(&["get", "ns"]);
    assert!(
        namespaces.lines().next().unwrap_or("").starts_with("NAME"),
        "{namespaces}"
    );
    assert!(
        namespaces.contains("default") && namespaces.contains("Active"),
        "{namespaces}"
    );

    assert!(
        k.ok(&["create", "ns", "pushpull-demo"])
            .contains("namespace/pushpull-demo created")
    );
    let manifest = k.write(
        "web.yaml",
        &deployment_manifest("pushpull-demo", "nginx:1.27", 600),
    );
    let applied = k.ok(&[
        "apply",
        "--server-side",
        "-f",
        manifest.to_str().unwrap_or_default(),
    ]);
    assert!(
        applied.contains("deployment.apps/web serverside-applied"),
        "{applied}"
    );

    let object = json(&k.ok(&["-n", "pushpull-demo", "get", "deploy", "web", "-o", "json"]));
    assert_eq!(object["metadata"]["generation"], 1);
    assert_eq!(
        object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "pushpull"
    );
    assert_eq!(object["spec"]["replicas"], 3);
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );

    k.ok(&[
        "-n",
        "pushpull-demo",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=60s",
    ]);
    let table = k.ok(&["-n", "pushpull-demo", "get", "deploy"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "3/3", "3", "3"], "{table}");

    let selected = k.ok(&[
        "get",
        "deploy",
        "-A",
        "-l",
        "app.kubernetes.io/managed-by=pushpull",
        "-o",
        "name",
    ]);
    assert_eq!(selected.trim(), "deployment.apps/web");
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "-A",
            "-l",
            "app.kubernetes.io/managed-by=helm",
            "-o",
            "name"
        ])
        .trim(),
        ""
    );

    assert!(
        k.ok(&["-n", "pushpull-demo", "scale", "deploy/web", "--replicas=5"])
            .contains("scaled")
    );
    let replicas = k.ok(&[
        "-n",
        "pushpull-demo",
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(replicas, "5");

    assert!(
        k.ok(&[
            "-n",
            "pushpull-demo",
            "set",
            "image",
            "deploy/web",
            "app=nginx:1.28"
        ])
        .contains("image updated")
    );
    let status = k.ok(&[
        "-n",
        "pushpull-demo",
        "rollout",
        "status",
        "deploy/web",
        "--timeout=60s",
    ]);
    assert!(
        status.contains("deployment \"web\" successfully rolled out"),
        "{status}"
    );
    let object = json(&k.ok(&["-n", "pushpull-demo", "get", "deploy", "web", "-o", "json"]));
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(object["status"]["updatedReplicas"], 5);
    assert_eq!(object["status"]["availableReplicas"], 5);
    assert_eq!(
        object["status"]["observedGeneration"],
        object["metadata"]["generation"]
    );

    // The emulator's ground truth saw that generation complete.
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
    let log = emulator.rollout_log().snapshot();
    assert!(
        log.iter()
            .any(|r| r.name == "web" && r.generation == generation && r.images == ["nginx:1.28"]),
        "{log:?}"
    );

    let waited = k.ok(&[
        "-n",
        "pushpull-demo",
        "wait",
        "--for=condition=Available",
        "deploy/web",
        "--timeout=30s",
    ]);
    assert!(waited.contains("condition met"), "{waited}");

    let patched = k.ok(&[
        "-n",
        "pushpull-demo",
        "patch",
        "deploy",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"frontend"}}}"#,
    ]);
    assert!(patched.contains("patched"), "{patched}");
    let tier = k.ok(&[
        "-n",
        "pushpull-demo",
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.metadata.labels.tier}",
    ]);
    assert_eq!(tier, "frontend");

    assert!(
        k.ok(&["-n", "pushpull-demo", "delete", "deploy", "web"])
            .contains("deleted")
    );
    let gone = k.run(&["-n", "pushpull-demo", "get", "deploy", "web"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("deployments.apps \"web\" not found"));
    assert!(k.ok(&["delete", "ns", "pushpull-demo"]).contains("deleted"));
}

#[test]
fn kubectl_rollout_status_reports_the_progress_deadline_for_a_broken_image() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    let manifest = k.write("web.yaml", &deployment_manifest("default", "nginx:1.27", 2));
    k.ok(&[
        "apply",
        "--server-side",
        "-f",
        manifest.to_str().unwrap_or_default(),
    ]);
    k.ok(&["rollout", "status", "deploy/web", "--timeout=60s"]);

    k.ok(&[
        "set",
        "image",
        "deploy/web",
        "app=registry.example/app:broken",
    ]);
    let started = Instant::now();
    let out = k.run(&["rollout", "status", "deploy/web", "--timeout=60s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a broken image must fail the rollout"
    );
    assert!(
        stderr.contains("deployment \"web\" exceeded its progress deadline"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the deadline (2s) ended it, not the timeout"
    );

    let object = json(&k.ok(&["get", "deploy", "web", "-o", "json"]));
    let conditions = object["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let progressing = conditions
        .iter()
        .find(|c| c["type"] == "Progressing")
        .cloned()
        .unwrap_or_default();
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert_eq!(
        object["status"]["availableReplicas"], 3,
        "old pods keep serving"
    );
}

#[test]
fn kubectl_get_watch_streams_an_update() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    let manifest = k.write(
        "web.yaml",
        &deployment_manifest("default", "nginx:1.27", 600),
    );
    k.ok(&[
        "apply",
        "--server-side",
        "-f",
        manifest.to_str().unwrap_or_default(),
    ]);
    k.ok(&["rollout", "status", "deploy/web", "--timeout=60s"]);

    let mut child = k
        .command(&["get", "deploy", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = |what: &str| {
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line from `kubectl get -w` ({what})"))
    };
    assert!(next_line("header").starts_with("NAME"));
    assert!(next_line("initial row").starts_with("web"));

    k.ok(&["scale", "deploy/web", "--replicas=4"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut streamed = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                streamed |= line.split_whitespace().nth(1) == Some("4/4");
                seen.push(line);
                if streamed {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert!(
        streamed,
        "the watch streamed the scale-up to 4/4; saw {seen:?}"
    );
}

#[test]
fn kubectl_reads_kubeconfig_written_by_the_emulator() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    let context = k.ok(&["config", "current-context"]);
    assert_eq!(context.trim(), "pushpull-emulator");
    let version = k.ok(&["version", "-o", "json"]);
    assert_eq!(json(&version)["serverVersion"]["minor"], "32");
    assert!(Path::new(&k.kubeconfig).exists());
}
