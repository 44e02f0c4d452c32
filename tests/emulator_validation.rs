//! The emulator refuses what kube-apiserver refuses, with the same HTTP code, Status
//! `reason` and `details.causes` field: non-int32 numbers and non-map labels (400 on
//! bodies, 422 `patch` on patches), invalid names, labels and int-or-strings (422), apply
//! without fieldManager (422), renaming (400) or retyping (422) patches, deleting system
//! namespaces (403), a non-numeric resourceVersion (400). A spec that used to kill the
//! rollout controller is refused, and rollouts keep progressing. Raw HTTP plus kubectl.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pushpull::emulator::{BlockingEmulator, Emulator, EmulatorConfig, PodStartDelay};
use serde_json::{Value, json};

fn emulator(time_scale: f64) -> BlockingEmulator {
    Emulator::start_blocking(EmulatorConfig {
        pod_start: PodStartDelay::Fixed(Duration::from_millis(20)),
        time_scale,
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
}

/// One HTTP/1.1 request on its own connection: (status code, body as JSON or text).
fn request(
    emulator: &BlockingEmulator,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let addr = emulator.addr();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout set");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("a header block");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let value = serde_json::from_str(&payload).unwrap_or(Value::String(payload));
    (code, value)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

const JSON: &str = "application/json";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

/// Asserts a Status with `code` and `reason`, returning it.
fn expect_status(reply: (u16, Value), code: u16, reason: &str, what: &str) -> Value {
    let (got, body) = reply;
    assert_eq!(got, code, "{what}: {body}");
    assert_eq!(body["kind"], "Status", "{what}: {body}");
    assert_eq!(body["reason"], reason, "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
    body
}

fn cause_fields(status: &Value) -> Vec<String> {
    status["details"]["causes"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn bodies_that_go_decoding_refuses_get_400_with_the_decoder_message() {
    let emu = emulator(1.0);
    let mut cases = Vec::new();
    let mut d = deployment("a");
    d["spec"]["replicas"] = json!(2_147_483_648u64);
    cases.push((d, DEPLOYMENTS, "cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"));
    let mut d = deployment("b");
    d["spec"]["progressDeadlineSeconds"] = json!(9_300_000_000_000_000_000u64);
    cases.push((
        d,
        DEPLOYMENTS,
        "Go struct field DeploymentSpec.spec.progressDeadlineSeconds of type int32",
    ));
    let mut d = deployment("c");
    d["spec"]["replicas"] = json!("3");
    cases.push((
        d,
        DEPLOYMENTS,
        "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
    ));
    let mut c = configmap("d");
    c["metadata"]["labels"] = json!([1]);
    cases.push((c, CONFIGMAPS, "cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"));
    for (body, path, message) in cases {
        let status = expect_status(
            request(&emu, "POST", path, JSON, &body.to_string()),
            400,
            "BadRequest",
            message,
        );
        let text = status["message"].as_str().unwrap_or("");
        assert!(text.contains(message), "{text}");
        assert!(text.contains("cannot be handled as a"), "{text}");
    }
    let (code, list) = request(&emu, "GET", DEPLOYMENTS, JSON, "");
    assert_eq!(code, 200);
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "nothing was stored"
    );
}

#[test]
fn invalid_fields_get_422_invalid_naming_the_field() {
    let emu = emulator(1.0);
    let mut cases: Vec<(Value, &str, &str)> = Vec::new();
    let mut d = deployment("surge");
    d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "abc"}});
    cases.push((d, DEPLOYMENTS, "spec.strategy.rollingUpdate.maxSurge"));
    let mut d = deployment("deadline");
    d["spec"]["progressDeadlineSeconds"] = json!(5);
    d["spec"]["minReadySeconds"] = json!(10);
    cases.push((d, DEPLOYMENTS, "spec.progressDeadlineSeconds"));
    let mut d = deployment("negative");
    d["spec"]["replicas"] = json!(-1);
    cases.push((d, DEPLOYMENTS, "spec.replicas"));
    cases.push((configmap("a..b"), CONFIGMAPS, "metadata.name"));
    cases.push((configmap(&"a".repeat(254)), CONFIGMAPS, "metadata.name"));
    let mut c = configmap("labels");
    c["metadata"]["labels"] = json!({"bad key": "v"});
    cases.push((c, CONFIGMAPS, "metadata.labels"));
    let mut c = configmap("values");
    c["metadata"]["labels"] = json!({"k": "-bad-"});
    cases.push((c, CONFIGMAPS, "metadata.labels"));
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
    cases.push((namespace, "/api/v1/namespaces", "metadata.name"));
    let mut big = configmap("big");
    big["data"]["k"] = json!("x".repeat(1024 * 1024 + 1));
    cases.push((big, CONFIGMAPS, "[]"));
    for (body, path, field) in cases {
        let status = expect_status(
            request(&emu, "POST", path, JSON, &body.to_string()),
            422,
            "Invalid",
            field,
        );
        assert_eq!(cause_fields(&status), [field], "{status}");
        assert!(
            status["message"]
                .as_str()
                .unwrap_or("")
                .contains(" is invalid: "),
            "{status}"
        );
    }
    let mut ok = deployment("percent");
    ok["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": 0}});
    assert_eq!(
        request(&emu, "POST", DEPLOYMENTS, JSON, &ok.to_string()).0,
        201
    );
}

#[test]
fn patches_apply_and_deletes_are_refused_like_the_api_server() {
    let emu = emulator(1.0);
    assert_eq!(
        request(&emu, "POST", CONFIGMAPS, JSON, &configmap("c").to_string()).0,
        201
    );
    let object = format!("{CONFIGMAPS}/c");

    let status = expect_status(
        request(
            &emu,
            "PATCH",
            &object,
            "application/apply-patch+yaml",
            &configmap("c").to_string(),
        ),
        422,
        "Invalid",
        "apply without fieldManager",
    );
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert_eq!(cause_fields(&status), ["fieldManager"]);
    assert_eq!(
        request(
            &emu,
            "PATCH",
            &format!("{object}?fieldManager=me"),
            "application/apply-patch+yaml",
            &configmap("c").to_string()
        )
        .0,
        200
    );

    let rename = json!([{"op": "replace", "path": "/metadata/name", "value": "d"}]).to_string();
    let status = expect_status(
        request(
            &emu,
            "PATCH",
            &object,
            "application/json-patch+json",
            &rename,
        ),
        400,
        "BadRequest",
        "rename",
    );
    assert_eq!(
        status["message"],
        "the name of the object (d) does not match the name on the URL (c)"
    );
    let retype = json!([{"op": "replace", "path": "/kind", "value": "Secret"}]).to_string();
    let status = expect_status(
        request(
            &emu,
            "PATCH",
            &object,
            "application/json-patch+json",
            &retype,
        ),
        422,
        "Invalid",
        "retype",
    );
    assert_eq!(cause_fields(&status), ["patch"]);
    let bad_type = json!({"data": {"k": 1}}).to_string();
    let status = expect_status(
        request(
            &emu,
            "PATCH",
            &object,
            "application/merge-patch+json",
            &bad_type,
        ),
        422,
        "Invalid",
        "non-string data",
    );
    assert_eq!(cause_fields(&status), ["patch"]);
    let (code, stored) = request(&emu, "GET", &object, JSON, "");
    assert_eq!(
        (code, &stored["kind"], &stored["data"]["k"]),
        (200, &json!("ConfigMap"), &json!("v"))
    );
    assert_eq!(
        request(&emu, "GET", &format!("{CONFIGMAPS}/d"), JSON, "").0,
        404
    );

    let mut stale = stored.clone();
    stale["metadata"]["resourceVersion"] = json!("abc");
    let status = expect_status(
        request(&emu, "PUT", &object, JSON, &stale.to_string()),
        400,
        "BadRequest",
        "resourceVersion abc",
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .contains("resourceVersion")
    );

    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let status = expect_status(
            request(
                &emu,
                "DELETE",
                &format!("/api/v1/namespaces/{ns}"),
                JSON,
                "",
            ),
            403,
            "Forbidden",
            ns,
        );
        assert_eq!(
            status["message"],
            format!("namespaces \"{ns}\" is forbidden: this namespace may not be deleted")
        );
        assert_eq!(
            request(&emu, "GET", &format!("/api/v1/namespaces/{ns}"), JSON, "").0,
            200
        );
    }
}

#[test]
fn watch_with_negative_timeout_ends_at_once_and_a_textual_one_is_400() {
    let emu = emulator(1.0);
    let started = Instant::now();
    let (code, _) = request(
        &emu,
        "GET",
        &format!("{CONFIGMAPS}?watch=true&timeoutSeconds=-5"),
        JSON,
        "",
    );
    assert_eq!(code, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    expect_status(
        request(
            &emu,
            "GET",
            &format!("{CONFIGMAPS}?watch=true&timeoutSeconds=abc"),
            JSON,
            "",
        ),
        400,
        "BadRequest",
        "timeoutSeconds=abc",
    );
}

#[test]
fn an_overflowing_deadline_cannot_stop_rollouts() {
    // time_scale 1e12 turns the largest valid deadline (int32 max seconds) into ~2e21 s,
    // beyond any Duration: this used to kill the controller task for good.
    let emu = emulator(1e12);
    let mut huge = deployment("huge");
    huge["spec"]["progressDeadlineSeconds"] = json!(i32::MAX);
    assert_eq!(
        request(&emu, "POST", DEPLOYMENTS, JSON, &huge.to_string()).0,
        201
    );
    let mut bad = deployment("bad");
    bad["spec"]["progressDeadlineSeconds"] = json!(9_300_000_000_000_000_000u64);
    assert_eq!(
        request(&emu, "POST", DEPLOYMENTS, JSON, &bad.to_string()).0,
        400
    );
    // A Deployment scaled to zero completes without waiting for (time-scaled) pods.
    let mut zero = deployment("zero");
    zero["spec"]["replicas"] = json!(0);
    assert_eq!(
        request(&emu, "POST", DEPLOYMENTS, JSON, &zero.to_string()).0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if emu
            .rollout_log()
            .snapshot()
            .iter()
            .any(|r| r.name == "zero")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the controller stopped: no rollout of 'zero'"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, status) = request(&emu, "GET", &format!("{DEPLOYMENTS}/huge"), JSON, "");
    assert_eq!(status["status"]["observedGeneration"], 1, "{status}");
}

fn kubectl() -> PathBuf {
    std::env::split_paths(&std::env::var("PATH").unwrap_or_default())
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file())
        .expect("kubectl on PATH (Debian package kubernetes-client)")
}

#[test]
fn kubectl_shows_the_api_servers_messages_for_invalid_objects() {
    let emu = emulator(1.0);
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let run = |args: &[&str]| {
        let out = Command::new(kubectl())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .env("HOME", dir.path())
            .env("KUBECACHEDIR", dir.path().join("cache"))
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let manifest = dir.path().join("web.yaml");
    let write = |surge: &str, replicas: &str| {
        std::fs::write(
            &manifest,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: {replicas}\n  strategy:\n    rollingUpdate:\n      maxSurge: {surge}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - {{name: app, image: nginx:1}}\n"
            ),
        )
        .expect("manifest written");
    };
    let path = manifest.to_string_lossy().into_owned();

    write("abc", "1");
    let (ok, stderr) = run(&["apply", "-f", &path]);
    assert!(!ok);
    assert!(
        stderr.contains("The Deployment \"web\" is invalid: spec.strategy.rollingUpdate.maxSurge: Invalid value: \"abc\": a valid percent string must be"),
        "{stderr}"
    );
    write("1", "2147483648");
    let (ok, stderr) = run(&["apply", "-f", &path]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"),
        "{stderr}"
    );
    write("\"25%\"", "1");
    let (ok, stderr) = run(&["apply", "-f", &path]);
    assert!(ok, "{stderr}");
    let (ok, stderr) = run(&["delete", "namespace", "kube-system"]);
    assert!(!ok);
    assert!(
        stderr.contains("Error from server (Forbidden): namespaces \"kube-system\" is forbidden: this namespace may not be deleted"),
        "{stderr}"
    );
}
