//! End-to-end: kubectl against the emulator's Deployment machinery (issue 17): ReplicaSets
//! with revision annotations, Pods, Events, `rollout history` / `undo`, garbage collection,
//! `create deployment` (a protobuf body) and `batch/v1` Jobs. `KUBECTL=/path` picks
//! another kubectl binary (the suite was also run with kubectl 1.37).

use std::time::{Duration, Instant};

#[path = "support/kubectl.rs"]
mod kubectl;
use kubectl::{Kubectl, deployment_manifest, fast_emulator, json};

fn ns_ok(k: &Kubectl, args: &[&str]) -> String {
    let mut full = vec!["-n", "pushpull-rs"];
    full.extend_from_slice(args);
    k.ok(&full)
}

/// Polls `kubectl` until `check` holds on its stdout (at most `secs`).
fn eventually(k: &Kubectl, args: &[&str], secs: u64, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let out = ns_ok(k, args);
        if check(&out) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kubectl_rollout_history_and_undo_use_replicasets_with_revisions() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    let manifest = k.write(
        "web.yaml",
        &deployment_manifest("pushpull-rs", "nginx:1.26", 600),
    );
    k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    ns_ok(&k, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    ns_ok(&k, &["set", "image", "deploy/web", "app=nginx:1.27"]);
    ns_ok(&k, &["rollout", "status", "deploy/web", "--timeout=60s"]);

    // Two ReplicaSets: the new one with all pods, the old one scaled to 0.
    let rs = eventually(&k, &["get", "rs"], 10, |t| {
        t.lines().count() == 3 && t.contains(" 3         3         3 ")
    });
    let header: Vec<&str> = rs.lines().next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "{rs}"
    );
    let mut counts: Vec<Vec<String>> = rs
        .lines()
        .skip(1)
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(3)
                .map(String::from)
                .collect()
        })
        .collect();
    counts.sort();
    assert_eq!(counts, [["0", "0", "0"], ["3", "3", "3"]], "{rs}");

    let sets = json(&ns_ok(&k, &["get", "rs", "-o", "json"]));
    let deployment = json(&ns_ok(&k, &["get", "deploy", "web", "-o", "json"]));
    let uid = deployment["metadata"]["uid"].clone();
    assert_eq!(
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    for set in sets["items"].as_array().expect("items") {
        let owner = &set["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Deployment");
        assert_eq!(owner["uid"], uid);
        assert_eq!(owner["controller"], true);
        let hash = &set["metadata"]["labels"]["pod-template-hash"];
        assert!(
            set["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .ends_with(hash.as_str().unwrap_or("?"))
        );
        assert_eq!(
            set["spec"]["selector"]["matchLabels"]["pod-template-hash"],
            *hash
        );
    }

    // Pods of the new ReplicaSet, selected by label, Running on fake nodes.
    let pods = eventually(
        &k,
        &["get", "pods", "-l", "app=web", "-o", "wide"],
        10,
        |t| t.lines().skip(1).filter(|l| l.contains("Running")).count() == 3,
    );
    assert_eq!(pods.lines().skip(1).count(), 3, "{pods}");
    for line in pods.lines().skip(1) {
        assert!(
            line.contains("1/1") && line.contains("Running") && line.contains("pushpull-node-"),
            "{pods}"
        );
    }

    let history = ns_ok(&k, &["rollout", "history", "deploy/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    // A change-cause lands on the current ReplicaSet only.
    ns_ok(
        &k,
        &[
            "annotate",
            "deploy/web",
            "kubernetes.io/change-cause=image 1.27",
        ],
    );
    let history = eventually(&k, &["rollout", "history", "deploy/web"], 10, |t| {
        t.contains("image 1.27")
    });
    let causes: Vec<String> = history
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(causes, ["<none>", "image 1.27"], "{history}");
    let first = ns_ok(&k, &["rollout", "history", "deploy/web", "--revision=1"]);
    assert!(first.contains("nginx:1.26"), "{first}");

    // Undo: the template of revision 1 comes back as revision 3 and rolls out.
    let undo = ns_ok(&k, &["rollout", "undo", "deploy/web"]);
    assert!(undo.contains("rolled back"), "{undo}");
    ns_ok(&k, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    let deployment = json(&ns_ok(&k, &["get", "deploy", "web", "-o", "json"]));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    let history = ns_ok(&k, &["rollout", "history", "deploy/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
    let sets = json(&ns_ok(&k, &["get", "rs", "-o", "json"]));
    assert_eq!(
        sets["items"].as_array().map_or(0, Vec::len),
        2,
        "undo reuses the old ReplicaSet"
    );
    let reused = sets["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3")
        .expect("revision 3");
    assert_eq!(
        reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );

    // --to-revision=2 goes forward again.
    ns_ok(&k, &["rollout", "undo", "deploy/web", "--to-revision=2"]);
    ns_ok(&k, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    let deployment = json(&ns_ok(&k, &["get", "deploy", "web", "-o", "json"]));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    k.ok(&[
        "wait",
        "-n",
        "pushpull-rs",
        "--for=condition=Available",
        "deploy/web",
        "--timeout=30s",
    ]);

    // Events and describe.
    let events = k.ok(&["get", "events", "-A"]);
    assert!(
        events.contains("ScalingReplicaSet") && events.contains("SuccessfulCreate"),
        "{events}"
    );
    assert!(events.contains("deployment/web"), "{events}");
    let described = ns_ok(&k, &["describe", "deploy", "web"]);
    assert!(
        described.contains("NewReplicaSet:") && described.contains("OldReplicaSets:"),
        "{described}"
    );
    let new_rs = deployment_rs_name(&sets, "1.27");
    assert!(
        described.contains(&format!("{new_rs} (3/3 replicas created)")),
        "{described}"
    );
    assert!(described.contains("Scaled up replica set"), "{described}");
}

fn deployment_rs_name(sets: &serde_json::Value, image_tag: &str) -> String {
    sets["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| {
            s["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .is_some_and(|i| i.ends_with(image_tag))
        })
        .and_then(|s| s["metadata"]["name"].as_str())
        .unwrap_or("")
        .to_string()
}

#[test]
fn revision_history_limit_keeps_only_that_many_old_replicasets() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    let manifest = k.write(
        "web.yaml",
        &deployment_manifest("pushpull-rs", "nginx:1", 600).replace(
            "  replicas: 3\n",
            "  replicas: 1\n  revisionHistoryLimit: 2\n",
        ),
    );
    k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    for tag in 2..=5 {
        ns_ok(
            &k,
            &["set", "image", "deploy/web", &format!("app=nginx:{tag}")],
        );
        ns_ok(&k, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    }
    let out = eventually(&k, &["get", "rs", "-o", "json"], 10, |t| {
        json(t)["items"].as_array().map_or(0, Vec::len) == 3
    });
    let mut revisions: Vec<String> = json(&out)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            s["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    revisions.sort();
    assert_eq!(
        revisions,
        ["3", "4", "5"],
        "the current one plus two old ones"
    );
}

#[test]
fn deleting_a_deployment_collects_its_replicasets_and_pods() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    for (name, cascade) in [("bg", "background"), ("fg", "foreground")] {
        let manifest = k.write(
            "d.yaml",
            &deployment_manifest("pushpull-rs", "nginx:1", 600)
                .replace("name: web", &format!("name: {name}"))
                .replace("app: web", &format!("app: {name}")),
        );
        k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
        ns_ok(
            &k,
            &[
                "rollout",
                "status",
                &format!("deploy/{name}"),
                "--timeout=60s",
            ],
        );
        let selector = format!("app={name}");
        eventually(
            &k,
            &["get", "pods", "-l", &selector, "-o", "name"],
            10,
            |t| t.lines().count() == 3,
        );
        ns_ok(
            &k,
            &[
                "delete",
                "deploy",
                name,
                &format!("--cascade={cascade}"),
                "--wait=true",
                "--timeout=30s",
            ],
        );
        let rs = eventually(
            &k,
            &["get", "rs", "-l", &selector, "-o", "name"],
            10,
            str::is_empty,
        );
        assert_eq!(rs, "", "{cascade}: ReplicaSets collected");
        let pods = eventually(
            &k,
            &["get", "pods", "-l", &selector, "-o", "name"],
            10,
            str::is_empty,
        );
        assert_eq!(pods, "", "{cascade}: Pods collected");
    }
}

#[test]
fn a_broken_image_leaves_pods_waiting_in_err_image_pull() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    let manifest = k.write(
        "web.yaml",
        &deployment_manifest("pushpull-rs", "nginx:broken", 600),
    );
    k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    let pods = eventually(&k, &["get", "pods", "-l", "app=web"], 10, |t| {
        t.lines().skip(1).count() >= 1
    });
    for line in pods.lines().skip(1) {
        assert!(
            line.contains("0/1") && line.contains("ErrImagePull"),
            "{pods}"
        );
    }
}

#[test]
fn kubectl_create_deployment_posts_protobuf_and_rolls_out() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    let created = ns_ok(
        &k,
        &[
            "create",
            "deployment",
            "good",
            "--image=x",
            "--replicas=2",
            "--port=8080",
        ],
    );
    assert!(
        created.contains("deployment.apps/good created"),
        "{created}"
    );
    ns_ok(&k, &["rollout", "status", "deploy/good", "--timeout=60s"]);
    let object = json(&ns_ok(&k, &["get", "deploy", "good", "-o", "json"]));
    assert_eq!(object["spec"]["replicas"], 2);
    assert_eq!(object["spec"]["selector"]["matchLabels"]["app"], "good");
    let container = &object["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "x");
    assert_eq!(container["image"], "x");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(
        object["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );
    let pods = eventually(
        &k,
        &["get", "pods", "-l", "app=good", "-o", "name"],
        10,
        |t| t.lines().count() == 2,
    );
    assert_eq!(pods.lines().count(), 2, "{pods}");
}

const INDEXED_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: shard
  namespace: pushpull-rs
spec:
  completionMode: Indexed
  completions: 4
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox:1.36
        command: [sh, -c, 'echo $JOB_COMPLETION_INDEX']
";

#[test]
fn kubectl_applies_an_indexed_job_which_is_stored_and_validated() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    let manifest = k.write("job.yaml", INDEXED_JOB);
    let applied = k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    assert!(applied.contains("job.batch/shard created"), "{applied}");
    let job = json(&ns_ok(&k, &["get", "job", "shard", "-o", "json"]));
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    assert_eq!(job["spec"]["backoffLimit"], 2147483647, "Indexed default");
    let uid = job["metadata"]["uid"].clone();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["job-name"],
        "shard"
    );
    let again = k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    assert!(again.contains("job.batch/shard unchanged"), "{again}");
    let table = ns_ok(&k, &["get", "jobs"]);
    assert!(
        table.starts_with("NAME") && table.contains("shard"),
        "{table}"
    );

    // An Indexed Job without completions, and one that restarts Always, are refused.
    let bad = k.write(
        "bad.yaml",
        &INDEXED_JOB
            .replace("name: shard", "name: bad")
            .replace("  completions: 4\n", "")
            .replace("restartPolicy: Never", "restartPolicy: Always"),
    );
    let out = k.run(&["apply", "-f", bad.to_str().unwrap_or_default()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.completions: Required value"), "{err}");
    assert!(
        err.contains("spec.template.spec.restartPolicy: Unsupported value"),
        "{err}"
    );
}

#[test]
fn a_deleted_pod_is_written_again_and_events_are_served_in_both_groups() {
    let emulator = fast_emulator();
    let k = Kubectl::new(&emulator);
    k.ok(&["create", "ns", "pushpull-rs"]);
    let manifest = k.write(
        "web.yaml",
        &deployment_manifest("pushpull-rs", "nginx:1", 600),
    );
    k.ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    ns_ok(&k, &["rollout", "status", "deploy/web", "--timeout=60s"]);
    let pods = eventually(&k, &["get", "pods", "-o", "name"], 10, |t| {
        t.lines().count() == 3
    });
    let victim = pods.lines().next().unwrap_or("").to_string();
    ns_ok(&k, &["delete", &victim, "--wait=false"]);
    let again = eventually(&k, &["get", "pods", "-o", "name"], 10, |t| {
        t.lines().count() == 3
    });
    assert_eq!(again.lines().count(), 3, "{again}");

    let v1 = k.ok(&["get", "events.events.k8s.io", "-A", "-o", "json"]);
    let items = json(&v1)["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items
            .iter()
            .any(|e| e["reason"] == "ScalingReplicaSet" && e["regarding"]["name"] == "web"),
        "{v1}"
    );
    let core = json(&ns_ok(
        &k,
        &[
            "get",
            "events",
            "--field-selector=involvedObject.kind=Deployment",
            "-o",
            "json",
        ],
    ));
    assert!(core["items"].as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter()
                .all(|e| e["involvedObject"]["kind"] == "Deployment")
    }));
}
