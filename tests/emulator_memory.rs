//! The emulator's memory stays bounded under abuse: 1,000 large updates of a ConfigMap
//! (with one watcher reading every event and one that never reads), a Deployment with
//! 100,000,000 replicas, and one with 2,147,483,648 (refused, the process survives). RSS
//! of `pushpull emulator serve` is read from /proc/<pid>/status; a normal client is
//! served throughout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the emulator may grow above its idle RSS at any point of this test. The watch
/// history's byte budget is 64 MiB (estimated: each update counts four times its object:
/// the value, its rendered JSON and watch line, the previous version it keeps), plus
/// allocator slack; measured: about 100 MiB. Before the bound, the 10,000-event history
/// kept all 1,000 updates with their rendered lines: about 390 MiB at 128 KiB each.
const RSS_GROWTH_BOUND_MIB: u64 = 250;

/// Size of the ConfigMap value each update rewrites (Kubernetes allows 1 MiB; 128 KiB
/// keeps 1,000 updates of a debug build within this test's time budget).
const VALUE_BYTES: usize = 128 * 1024;

const UPDATES: usize = 1000;

/// What one materialized Pod may add to the emulator's RSS, in KiB (plus 64 MiB for the
/// watch history's share). Measured with 100,000 Pods: 10.8 KiB with jemalloc, the binary's
/// allocator (12.5 KiB with glibc malloc): a serde_json object tree of ~20 maps at ~640
/// bytes per B-tree node; see docs/EMULATOR.md.
const PODS_RSS_BOUND_KIB_EACH: u64 = 16;

struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_with(extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .args(["emulator", "serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("pushpull emulator serve starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the emulator announces its URL")
            .expect("stdout readable");
        if let Some(url) = line.split("listening on http://").nth(1) {
            break url.trim().parse().expect("host:port");
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, addr }
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        / 1024
}

fn send(addr: SocketAddr, method: &str, path: &str, content_type: &str, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout set");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("head written");
    stream.write_all(body).expect("body written");
    stream
}

/// (status code, body)
fn request(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, String) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let content_type = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let mut stream = send(addr, method, path, content_type, &bytes);
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("response read");
    let code = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (code, body)
}

fn deployment(name: &str, replicas: u64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}})
}

/// A normal client: a list and the health check answer, quickly.
fn assert_served(addr: SocketAddr, when: &str) {
    let started = Instant::now();
    assert_eq!(
        request(addr, "GET", "/healthz", &Value::Null).0,
        200,
        "{when}"
    );
    assert_eq!(
        request(addr, "GET", "/api/v1/namespaces", &Value::Null).0,
        200,
        "{when}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{when}: a normal client waited {:?}",
        started.elapsed()
    );
}

#[test]
fn large_updates_and_huge_replica_counts_keep_the_emulators_memory_bounded() {
    // Pod objects are measured on their own below; here the rollout model's own memory.
    let served = serve_with(&["--max-pods", "1000"]);
    let (addr, pid) = (served.addr, served.child.id());
    assert_served(addr, "at start");
    let base = rss_mib(pid);
    let bound = base + RSS_GROWTH_BOUND_MIB;
    let started = Instant::now();

    // One watcher reads (and drops) every event; one never reads after connecting.
    let reader = send(
        addr,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=300",
        "application/json",
        b"",
    );
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut sink = vec![0u8; 1 << 16];
        while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    });
    let _stalled = send(
        addr,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=300",
        "application/json",
        b"",
    );

    let path = "/api/v1/namespaces/default/configmaps";
    let created = request(
        addr,
        "POST",
        path,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                "data": {"v": "a".repeat(VALUE_BYTES)}}),
    );
    assert_eq!(created.0, 201, "{}", &created.1[..created.1.len().min(300)]);
    let mut peak = base;
    for i in 0..UPDATES {
        // Built by hand: serializing the value in this (debug) test would cost more than
        // the emulator's work.
        let fill = char::from(b'a' + (i % 26) as u8).to_string();
        let patch = format!(
            r#"{{"data":{{"v":"{}","i":"{i}"}}}}"#,
            fill.repeat(VALUE_BYTES)
        );
        let mut stream = send(
            addr,
            "PATCH",
            &format!("{path}/big"),
            "application/merge-patch+json",
            patch.as_bytes(),
        );
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).expect("status line");
        let code = String::from_utf8_lossy(&head[9..12])
            .parse::<u16>()
            .unwrap_or(0);
        let body = String::new();
        assert_eq!(code, 200, "update {i}: {}", &body[..body.len().min(300)]);
        if i % 50 == 49 {
            peak = peak.max(rss_mib(pid));
            assert!(
                peak <= bound,
                "after {} updates RSS is {peak} MiB (idle {base} MiB)",
                i + 1
            );
            assert_served(addr, &format!("after {} updates", i + 1));
        }
    }
    let updates_took = started.elapsed();
    assert_eq!(
        request(addr, "DELETE", &format!("{path}/big"), &Value::Null).0,
        200
    );
    std::thread::sleep(Duration::from_millis(300));
    let after_delete = rss_mib(pid);
    assert!(
        after_delete <= bound,
        "after DELETE RSS is {after_delete} MiB (idle {base} MiB)"
    );
    assert_served(addr, "after the delete");

    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    let (code, body) = request(
        addr,
        "POST",
        deployments,
        &deployment("huge", 2_147_483_648),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("of type int32"), "{body}");
    assert_eq!(
        request(addr, "POST", deployments, &deployment("many", 100_000_000)).0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = request(addr, "GET", &format!("{deployments}/many"), &Value::Null);
        let object: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        peak = peak.max(rss_mib(pid));
        assert!(
            peak <= bound,
            "with 100,000,000 replicas RSS is {peak} MiB (idle {base} MiB)"
        );
        if object.pointer("/status/availableReplicas") == Some(&json!(100_000_000)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollout did not complete: {object}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut served = served;
    assert!(
        matches!(served.child.try_wait(), Ok(None)),
        "the emulator process is still running"
    );
    assert_served(addr, "at the end");
    eprintln!(
        "RSS idle {base} MiB, peak {peak} MiB, after DELETE {after_delete} MiB, bound {bound} MiB; {UPDATES} updates of {} KiB took {updates_took:?}",
        VALUE_BYTES / 1024
    );
}

/// How many Pod objects a list reports (paged, 5,000 at a time).
fn count_pods(addr: SocketAddr) -> (u64, u64) {
    let (mut total, mut running) = (0, 0);
    let mut token = String::new();
    loop {
        let path = format!("/api/v1/namespaces/default/pods?limit=5000&continue={token}");
        let (code, body) = request(addr, "GET", &path, &Value::Null);
        assert_eq!(code, 200, "{body}");
        let page: Value = serde_json::from_str(&body).expect("pod list");
        for pod in page["items"].as_array().into_iter().flatten() {
            total += 1;
            running += u64::from(pod["status"]["phase"] == "Running");
        }
        match page["metadata"]["continue"].as_str() {
            Some(next) if !next.is_empty() => token = next.to_string(),
            _ => return (total, running),
        }
    }
}

/// Pods are materialized one object each (ReplicaSet-owned, on a fake node, Running and
/// Ready once started) up to `--max-pods`, and the RSS they add is measured and bounded.
/// 10,000 in CI; `PUSHPULL_EMULATOR_PODS=100000` measures kwok's anchor (docs/EMULATOR.md
/// quotes both). The cap holds: a second Deployment gets no Pod objects beyond it.
#[test]
fn materialized_pods_stay_within_their_memory_bound_and_the_pod_cap() {
    let pods: u64 = std::env::var("PUSHPULL_EMULATOR_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let cap = pods.to_string();
    let served = serve_with(&["--max-pods", &cap]);
    let (addr, pid) = (served.addr, served.child.id());
    let base = rss_mib(pid);
    let started = Instant::now();
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    assert_eq!(
        request(addr, "POST", deployments, &deployment("kwok", pods)).0,
        201
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, body) = request(addr, "GET", &format!("{deployments}/kwok"), &Value::Null);
        let object: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if object.pointer("/status/availableReplicas") == Some(&json!(pods)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollout did not complete: {object}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rolled_out = started.elapsed();
    // The controller writes the pods right after the Deployment's status.
    let (total, running) = loop {
        let counted = count_pods(addr);
        if counted == (pods, pods) || Instant::now() > deadline {
            break counted;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let rss = rss_mib(pid);
    println!(
        "{pods} pods: RSS {rss} MiB (idle {base} MiB), {} bytes per pod, rolled out in {:.1} s",
        (rss.saturating_sub(base)) * 1024 * 1024 / pods,
        rolled_out.as_secs_f64()
    );
    assert_eq!((total, running), (pods, pods));
    let bound = base + PODS_RSS_BOUND_KIB_EACH * pods / 1024 + 64;
    assert!(
        rss <= bound,
        "{pods} pods take {rss} MiB (idle {base} MiB, bound {bound} MiB)"
    );
    assert_eq!(
        request(addr, "POST", deployments, &deployment("more", 10)).0,
        201
    );
    std::thread::sleep(Duration::from_secs(2));
    let (total, _) = count_pods(addr);
    assert_eq!(total, pods, "no Pod objects beyond --max-pods");
    assert_served(addr, "after the pods");
}
