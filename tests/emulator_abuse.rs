//! Abusive HTTP clients against `pushpull emulator serve` (the binary, on loopback): bodies
//! over kube-apiserver's 3 MiB limit, wrong media types, slowloris headers, idle connections
//! under a low descriptor limit and a thousand concurrent connections. The emulator must
//! answer each with a Kubernetes `Status`, close what is too slow, keep serving a normal
//! client throughout, and stay under a memory bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// kube-apiserver's `MaxRequestBodyBytes`.
const LIMIT: usize = 3 * 1024 * 1024;

/// One `pushpull emulator serve` process.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    /// Starts the binary, under `ulimit -n N` when given, and waits for its address.
    fn start(nofile: Option<u32>) -> Served {
        let bin = env!("CARGO_BIN_EXE_pushpull");
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!(
                        "ulimit -n {n} && exec \"$0\" emulator serve --port 0"
                    ))
                    .arg(bin);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.args(["emulator", "serve", "--port", "0"]);
                c
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("the emulator prints its URL")
            .expect("stdout is text");
        let url = first
            .strip_prefix("pushpull emulator listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        let addr = url.parse().expect("an address");
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Served { child, addr }
    }

    fn proc_status(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status is readable");
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in /proc/PID/status"))
    }

    /// Resident memory of the emulator process, in MiB.
    fn rss_mib(&self) -> u64 {
        self.proc_status("VmRSS:") / 1024
    }

    /// Open file descriptors of the emulator process.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .expect("connects to the emulator");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout set");
        stream
    }

    /// Sends one request (with `Connection: close`) and returns the status code and body.
    fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        let mut stream = self.connect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: emulator\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("headers sent");
        stream.write_all(body).expect("body sent");
        read_response(&mut stream)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, "application/json", b"")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a whole `Connection: close` response: the status code and the body as JSON
/// (`Value::Null` when the body is not JSON).
fn read_response(stream: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("a response arrives");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {text:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn assert_status(reply: &(u16, Value), code: u16, reason: &str) {
    let (got, body) = reply;
    assert_eq!(*got, code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["reason"], reason, "{body}");
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})
}

/// A ConfigMap document padded with whitespace to exactly `size` bytes.
fn padded(name: &str, size: usize) -> Vec<u8> {
    let mut body = serde_json::to_vec(&configmap(name)).expect("serializes");
    body.resize(size, b' ');
    body
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

#[test]
fn bodies_over_3_mib_get_a_413_status_and_bodies_under_it_are_served() {
    let emulator = Served::start(None);
    // Under the limit (axum's old 2 MB default refused this one).
    let (code, body) = emulator.request(
        "POST",
        CONFIGMAPS,
        "application/json",
        &padded("fits", LIMIT),
    );
    assert_eq!(code, 201, "{body}");
    // Over it, by a byte, by 1 MiB and by 7 MiB: answered before the connection closes.
    for (name, size) in [("byte", LIMIT + 1), ("four", 4 << 20), ("ten", 10 << 20)] {
        let reply = emulator.request("POST", CONFIGMAPS, "application/json", &padded(name, size));
        assert_status(&reply, 413, "RequestEntityTooLarge");
        assert_eq!(
            reply.1["message"],
            "Request entity too large: limit is 3145728"
        );
        assert_eq!(
            emulator.get(&format!("{CONFIGMAPS}/{name}")).0,
            404,
            "{name} not stored"
        );
    }
    // Without a Content-Length (chunked), the limit holds while reading.
    let mut stream = emulator.connect();
    stream
        .write_all(
            format!("PUT {CONFIGMAPS}/fits HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .expect("headers sent");
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..4 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|()| stream.write_all(&chunk))
            .and_then(|()| stream.write_all(b"\r\n"))
            .expect("chunk sent");
    }
    stream.write_all(b"0\r\n\r\n").expect("last chunk sent");
    assert_status(&read_response(&mut stream), 413, "RequestEntityTooLarge");
    // A 10 MiB patch, too.
    let reply = emulator.request(
        "PATCH",
        &format!("{CONFIGMAPS}/fits"),
        "application/merge-patch+json",
        &padded("fits", 10 << 20),
    );
    assert_status(&reply, 413, "RequestEntityTooLarge");
    assert_eq!(emulator.get("/healthz").0, 200);
}

#[test]
fn unsupported_media_types_get_a_415_status_and_store_nothing() {
    let emulator = Served::start(None);
    let object = serde_json::to_vec(&configmap("typed")).expect("serializes");
    for content_type in [
        "text/plain",
        "application/xml",
        "text/yaml",
        "application/jsonx",
    ] {
        let reply = emulator.request("POST", CONFIGMAPS, content_type, &object);
        assert_status(&reply, 415, "UnsupportedMediaType");
        let message = reply.1["message"].as_str().unwrap_or("");
        assert!(
            message.contains("application/json, application/yaml"),
            "{message}"
        );
    }
    assert_eq!(emulator.get(&format!("{CONFIGMAPS}/typed")).0, 404);
    // JSON with parameters is JSON.
    let (code, body) = emulator.request(
        "POST",
        CONFIGMAPS,
        "application/json; charset=utf-8",
        &object,
    );
    assert_eq!(code, 201, "{body}");
    let path = format!("{CONFIGMAPS}/typed");
    assert_status(
        &emulator.request("PUT", &path, "text/plain", &object),
        415,
        "UnsupportedMediaType",
    );
    // A patch must say which kind of patch it is.
    for content_type in ["application/json", "text/plain"] {
        let reply = emulator.request("PATCH", &path, content_type, br#"{"data":{"k":"x"}}"#);
        assert_status(&reply, 415, "UnsupportedMediaType");
        assert!(
            reply.1["message"]
                .as_str()
                .unwrap_or("")
                .contains("merge-patch"),
            "{}",
            reply.1
        );
    }
    assert_status(
        &emulator.request("DELETE", &path, "text/plain", b"{}"),
        415,
        "UnsupportedMediaType",
    );
    // Malformed JSON and a bad query parameter are 400 Status objects.
    assert_status(
        &emulator.request("POST", CONFIGMAPS, "application/json", b"{"),
        400,
        "BadRequest",
    );
    assert_status(
        &emulator.get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=soon"),
        400,
        "BadRequest",
    );
    assert_eq!(emulator.get(&path).1["data"]["k"], "v", "nothing changed");
}

#[test]
fn a_negative_watch_timeout_ends_the_watch_at_once() {
    let emulator = Served::start(None);
    let started = Instant::now();
    let (code, _) =
        emulator.get("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=-5");
    assert_eq!(code, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Sends `GET /healthz HTTP/1.1\r\n` and then one header byte a second until the server
/// closes the connection; returns how long that took.
fn slowloris(emulator_addr: SocketAddr, send_nothing: bool) -> Duration {
    let mut stream = TcpStream::connect(emulator_addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_millis(900)))
        .expect("timeout set");
    let started = Instant::now();
    if !send_nothing {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            .expect("first bytes sent");
    }
    let mut buf = [0u8; 256];
    loop {
        if started.elapsed() > Duration::from_secs(50) {
            panic!("a slow client was still connected after 50s");
        }
        if !send_nothing && stream.write_all(b"a").is_err() {
            return started.elapsed();
        }
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => panic!("the server answered an incomplete request"),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return started.elapsed(),
        }
    }
}

#[test]
fn slowloris_and_silent_connections_are_closed_after_the_32s_header_timeout() {
    let emulator = Served::start(None);
    let addr = emulator.addr;
    let slow: Vec<_> = (0..6)
        .map(|i| std::thread::spawn(move || slowloris(addr, i == 0)))
        .collect();
    // Meanwhile a normal client is served.
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    assert_eq!(emulator.get("/healthz").0, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    for handle in slow {
        let closed_after = handle.join().expect("the slow client thread ends");
        // kube-apiserver's ReadHeaderTimeout is 32 s; allow the 250 ms check period and a
        // loaded machine's scheduling on top.
        assert!(
            closed_after >= Duration::from_secs(31) && closed_after <= Duration::from_secs(36),
            "closed after {closed_after:?}"
        );
    }
}

#[test]
fn under_ulimit_100_idle_connections_do_not_starve_healthz() {
    let emulator = Served::start(Some(100));
    let idle: Vec<TcpStream> = (0..120).map(|_| emulator.connect()).collect();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..10 {
        let started = Instant::now();
        let (code, _) = emulator.get("/healthz");
        assert_eq!(code, 200);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let fds = emulator.fds();
    assert!(fds <= 100, "{fds} descriptors open under ulimit -n 100");
    // And a Deployment list is served too.
    assert_eq!(
        emulator
            .get("/apis/apps/v1/namespaces/default/deployments")
            .0,
        200
    );
    drop(idle);
}

fn deployment(name: &str, image: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}
    }))
    .expect("serializes")
}

/// The RSS bound for the emulator holding 1,000 connections (a third of them watches).
const RSS_BOUND_MIB: u64 = 100;

/// How many connections this process can open besides its own needs: 1,000 when the soft
/// descriptor limit allows, proportionally fewer under a low limit.
fn connection_budget() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1024);
    1000.min(soft.saturating_sub(256))
}

#[test]
fn a_thousand_connections_leave_a_normal_client_served_and_memory_bounded() {
    let emulator = Served::start(None);
    let (code, body) = emulator.request(
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        &deployment("web", "nginx:1"),
    );
    assert_eq!(code, 201, "{body}");
    let rss_before = emulator.rss_mib();
    let total = connection_budget();
    if total < 1000 {
        eprintln!("descriptor limit allows {total} connections, not 1000");
    }

    // The normal client: a Deployment list on a fresh connection every 50 ms.
    let addr = emulator.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_client = stop.clone();
    let client = std::thread::spawn(move || {
        let mut latencies = Vec::new();
        while !stop_client.load(std::sync::atomic::Ordering::Relaxed) {
            let started = Instant::now();
            let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                .expect("the normal client connects");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout set");
            stream
                .write_all(b"GET /apis/apps/v1/namespaces/default/deployments HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
                .expect("request sent");
            let (code, body) = read_response(&mut stream);
            assert_eq!(code, 200, "{body}");
            assert_eq!(body["items"][0]["metadata"]["name"], "web");
            latencies.push(started.elapsed());
            std::thread::sleep(Duration::from_millis(50));
        }
        latencies
    });

    // The crowd: a third idle, a third with a keep-alive request answered, a third watching.
    let mut crowd = Vec::with_capacity(total);
    for i in 0..total {
        let mut stream = emulator.connect();
        match i % 3 {
            0 => {}
            1 => {
                stream
                    .write_all(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: e\r\n\r\n")
                    .expect("request sent");
                let mut buf = [0u8; 512];
                let n = stream.read(&mut buf).expect("an answer");
                assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
            }
            _ => stream
                .write_all(b"GET /apis/apps/v1/namespaces/default/deployments?watch=true HTTP/1.1\r\nHost: e\r\n\r\n")
                .expect("watch sent"),
        }
        crowd.push(stream);
    }
    // Changes flow to every watcher while the crowd holds on.
    for round in 0..20 {
        let patch = format!(
            r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"c","image":"nginx:{round}"}}]}}}}}}}}"#
        );
        let (code, body) = emulator.request(
            "PATCH",
            "/apis/apps/v1/namespaces/default/deployments/web",
            "application/strategic-merge-patch+json",
            patch.as_bytes(),
        );
        assert_eq!(code, 200, "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss = emulator.rss_mib();
    let fds = emulator.fds();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut latencies = client
        .join()
        .expect("the normal client was served throughout");
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = *latencies.last().expect("requests were made");
    eprintln!(
        "{total} connections: {} normal requests, median {median:?}, max {max:?}; emulator RSS {rss_before} MiB -> {rss} MiB, {fds} descriptors",
        latencies.len()
    );
    assert!(latencies.len() >= 20, "only {} requests", latencies.len());
    assert!(median < Duration::from_millis(500), "median {median:?}");
    assert!(max < Duration::from_secs(5), "max {max:?}");
    assert!(
        rss < RSS_BOUND_MIB,
        "emulator RSS {rss} MiB over {RSS_BOUND_MIB} MiB"
    );
    drop(crowd);
}
