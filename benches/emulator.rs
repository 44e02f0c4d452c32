//! Emulator throughput and latency over loopback, with kube-rs as the client:
//! - `ssa_apply`: server-side applies of Deployments per second (16 in flight);
//! - `watch_fanout_100_*`: one change delivered to 100 concurrent watch streams, read by
//!   minimal line readers (`raw`: the emulator's own delivery cost) or by kube-rs typed
//!   watches (`kube_rs`: what the live world sees, including kube-rs decoding on the same
//!   two cores).
//!
//! - `pods_created_per_second`: a Deployment of 10,000 replicas scaled from nothing; the
//!   time until all 10,000 Pod objects exist (ReplicaSet-owned, written by the emulator's
//!   controller), read through the API with kube-rs.
//!
//! After the criterion groups it prints the figures docs/PERFORMANCE.md records:
//! applies/s over a fixed batch, the p50/p99/max per-watcher delivery latency, and pods
//! created per second.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use pushpull::emulator::{Emulator, EmulatorConfig, PodStartDelay, RunningEmulator};
use serde_json::json;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// The allocator the `pushpull` binary runs the emulator with (src/main.rs).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const IN_FLIGHT: usize = 16;
const DEPLOYMENTS: usize = 50;
const WATCHERS: usize = 100;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn client(emulator: &RunningEmulator) -> Client {
    let mut config = Config::new(emulator.url().parse().expect("URI"));
    config.default_retry = false;
    Client::try_from(config).expect("client")
}

fn deployment(i: usize, revision: u64) -> serde_json::Value {
    let name = format!("app-{i}");
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default",
                     "labels": {"app.kubernetes.io/managed-by": "pushpull"},
                     "annotations": {"pushpull/revision": revision.to_string()}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                       "ports": [{"containerPort": 80}]}]}}}})
}

/// Runs `count` applies with `IN_FLIGHT` concurrent requests; returns the wall time.
async fn apply_batch(api: &Api<Deployment>, count: u64, start_revision: u64) -> Duration {
    let params = PatchParams::apply("pushpull-bench");
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|n| {
            let api = api.clone();
            let params = params.clone();
            async move {
                let revision = start_revision + n;
                let i = (revision as usize) % DEPLOYMENTS;
                let body = deployment(i, revision);
                api.patch(&format!("app-{i}"), &params, &Patch::Apply(&body))
                    .await
                    .expect("apply succeeds");
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// Shared by the writer and the watcher tasks. Deliveries are recorded in place (no
/// per-delivery message to the writer), so the harness adds no wake-ups of its own.
struct Probe {
    base: Instant,
    /// The change in flight: its sequence number and when it was written (ns after `base`).
    seq: AtomicUsize,
    sent_ns: AtomicU64,
    delivered: AtomicUsize,
    all_delivered: Notify,
    histogram: Mutex<Histogram<u64>>,
}

impl Probe {
    fn record(&self, seq: usize, received: Instant) {
        if seq != self.seq.load(Ordering::Acquire) {
            return;
        }
        let sent = self.base + Duration::from_nanos(self.sent_ns.load(Ordering::Acquire));
        let micros = received.saturating_duration_since(sent).as_micros().max(1) as u64;
        let _ = self.histogram.lock().expect("lock").record(micros);
        if self.delivered.fetch_add(1, Ordering::AcqRel) + 1 == WATCHERS {
            self.all_delivered.notify_one();
        }
    }
}

struct WatchRig {
    emulator: RunningEmulator,
    probe: Arc<Probe>,
    next_seq: usize,
}

/// How the 100 watchers read their streams.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Watchers {
    /// Read lines and pick out the sequence number (no object decoding).
    Raw,
    /// `Api::<ConfigMap>::watch`: kube-rs decodes every event into the typed object.
    KubeRs,
}

/// The sequence number carried in a raw watch line (`..."seq":"42"...`).
fn seq_in_line(line: &str) -> Option<usize> {
    let start = line.find("\"seq\":\"")? + 7;
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

async fn watch_rig(watchers: Watchers) -> WatchRig {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("start");
    let probe_object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "probe", "namespace": "default"}, "data": {"seq": "0"}});
    emulator.apply(&probe_object, "bench", false).expect("seed");
    let probe = Arc::new(Probe {
        base: Instant::now(),
        seq: AtomicUsize::new(0),
        sent_ns: AtomicU64::new(0),
        delivered: AtomicUsize::new(0),
        all_delivered: Notify::new(),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 10_000_000, 3).expect("histogram")),
    });
    let client = client(&emulator);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let rv = api
        .get("probe")
        .await
        .expect("get")
        .metadata
        .resource_version
        .unwrap_or_default();
    let mut ready = Vec::new();
    for _ in 0..WATCHERS {
        let api = api.clone();
        let client = client.clone();
        let probe = probe.clone();
        let rv = rv.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        ready.push(ready_rx);
        tokio::spawn(async move {
            let params = WatchParams::default().timeout(290).disable_bookmarks();
            match watchers {
                Watchers::KubeRs => {
                    let mut stream = api.watch(&params, &rv).await.expect("watch").boxed();
                    let _ = ready_tx.send(());
                    while let Ok(Some(event)) = stream.try_next().await {
                        let received = Instant::now();
                        if let WatchEvent::Modified(cm) = event {
                            let seq = cm
                                .data
                                .and_then(|d| d.get("seq").and_then(|s| s.parse().ok()));
                            probe.record(seq.unwrap_or(0), received);
                        }
                    }
                }
                Watchers::Raw => {
                    let request = kube::core::Request::new("/api/v1/namespaces/default/configmaps")
                        .watch(&params, &rv)
                        .expect("watch request");
                    let reader = client.request_stream(request).await.expect("watch");
                    let _ = ready_tx.send(());
                    let mut lines = reader.lines();
                    while let Some(Ok(line)) = lines.next().await {
                        let received = Instant::now();
                        if let Some(seq) = seq_in_line(&line) {
                            probe.record(seq, received);
                        }
                    }
                }
            }
        });
    }
    for r in ready {
        let _ = r.await;
    }
    // Let every connection finish setting up before the first change.
    tokio::time::sleep(Duration::from_millis(200)).await;
    WatchRig {
        emulator,
        probe,
        next_seq: 1,
    }
}

impl WatchRig {
    /// One in-process change; returns when every watcher has received it.
    async fn one_change(&mut self) -> Duration {
        let seq = self.next_seq;
        self.next_seq += 1;
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "probe", "namespace": "default"}, "data": {"seq": seq.to_string()}});
        let probe = &self.probe;
        probe.delivered.store(0, Ordering::Release);
        let started = Instant::now();
        let sent_ns = started.duration_since(probe.base).as_nanos() as u64;
        probe.sent_ns.store(sent_ns, Ordering::Release);
        probe.seq.store(seq, Ordering::Release);
        self.emulator.apply(&body, "bench", false).expect("apply");
        tokio::time::timeout(Duration::from_secs(10), probe.all_delivered.notified())
            .await
            .expect("every watcher receives the change");
        started.elapsed()
    }
}

fn bench_applies(c: &mut Criterion, rt: &Runtime) {
    let emulator = rt
        .block_on(Emulator::start(EmulatorConfig::default()))
        .expect("start");
    let api: Api<Deployment> = Api::namespaced(client(&emulator), "default");
    let mut revision = 1;
    rt.block_on(apply_batch(&api, DEPLOYMENTS as u64, revision));
    revision += DEPLOYMENTS as u64;

    let mut group = c.benchmark_group("emulator");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ssa_apply", |b| {
        b.iter_custom(|iters| {
            let elapsed = rt.block_on(apply_batch(&api, iters, revision));
            revision += iters;
            elapsed
        })
    });
    group.finish();

    let batch = 10_000;
    let elapsed = rt.block_on(apply_batch(&api, batch, revision));
    println!(
        "ssa_applies_per_second: {:.0} ({batch} server-side applies of Deployments over loopback, {IN_FLIGHT} in flight, kube-rs client, {:.2}s)",
        batch as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    rt.block_on(emulator.shutdown());
}

fn bench_watch(c: &mut Criterion, rt: &Runtime, watchers: Watchers) {
    let mut rig = rt.block_on(watch_rig(watchers));
    let mut group = c.benchmark_group("emulator");
    let name = match watchers {
        Watchers::Raw => "watch_fanout_100_raw",
        Watchers::KubeRs => "watch_fanout_100_kube_rs",
    };
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(rig.one_change());
                // Space changes out a little: this measures delivery, not saturation.
                std::thread::sleep(Duration::from_millis(2));
            }
            total
        })
    });
    group.finish();

    rig.probe.histogram.lock().expect("lock").reset();
    let changes = 1_000;
    for _ in 0..changes {
        rt.block_on(rig.one_change());
        std::thread::sleep(Duration::from_millis(2));
    }
    let h = rig.probe.histogram.lock().expect("lock").clone();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "watch_delivery_latency_ms[{name}]: p50 {:.3} p90 {:.3} p99 {:.3} max {:.3} ({WATCHERS} concurrent watch streams, {changes} changes 2 ms apart, {} deliveries)",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        h.max() as f64 / 1000.0,
        h.len()
    );
    let WatchRig { emulator, .. } = rig;
    rt.block_on(emulator.shutdown());
}

/// Creates a Deployment of `PODS` replicas (pods start in 1 ms) and times until that many
/// Pod objects exist, counted with `limit=1` lists (`remainingItemCount`).
fn bench_pods(rt: &Runtime) {
    const PODS: u64 = 10_000;
    let emulator = rt
        .block_on(Emulator::start(EmulatorConfig {
            pod_start: PodStartDelay::Fixed(Duration::from_millis(1)),
            max_pods: PODS as usize,
            ..EmulatorConfig::default()
        }))
        .expect("start");
    let client = client(&emulator);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut object = deployment(0, 1);
    object["spec"]["replicas"] = json!(PODS);
    let object: Deployment = serde_json::from_value(object).expect("Deployment");
    let started = Instant::now();
    let elapsed = rt.block_on(async {
        deployments
            .create(&Default::default(), &object)
            .await
            .expect("created");
        loop {
            let page = pods
                .list(&ListParams::default().limit(1))
                .await
                .expect("pods listed");
            let count =
                page.items.len() as u64 + page.metadata.remaining_item_count.unwrap_or(0) as u64;
            if count >= PODS {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    println!(
        "pods_created_per_second: {:.0} ({PODS} Pod objects of one Deployment, from create to the last Pod listed, {:.2}s)",
        PODS as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    rt.block_on(emulator.shutdown());
}

fn main() {
    let rt = runtime();
    // kube's client spawns its request buffer on the ambient runtime.
    let _guard = rt.enter();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    bench_applies(&mut c, &rt);
    bench_watch(&mut c, &rt, Watchers::Raw);
    bench_watch(&mut c, &rt, Watchers::KubeRs);
    bench_pods(&rt);
    c.final_summary();
}
