//! kube-rs (the live world's client) against the emulator: watcher resilience to dropped
//! streams and 410 Gone, server-side apply conflicts, optimistic concurrency, Status errors,
//! fault hooks, bookmarks, the ground-truth rollout log, and loopback-only binding.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use pushpull::emulator::{Emulator, EmulatorConfig, InjectedError, PodStartDelay, RunningEmulator};
use serde_json::json;

fn config() -> EmulatorConfig {
    EmulatorConfig {
        pod_start: PodStartDelay::Fixed(Duration::from_millis(30)),
        bookmark_interval: Duration::from_millis(100),
        ..EmulatorConfig::default()
    }
}

fn client(emulator: &RunningEmulator) -> Client {
    let url = emulator.url().parse().expect("emulator URL is a URI");
    Client::try_from(Config::new(url)).expect("client builds")
}

/// A client without kube's built-in retries (which would ride out 429/503 for minutes),
/// so each injected failure is seen as it happens.
fn client_without_retries(emulator: &RunningEmulator) -> Client {
    let mut config = Config::new(emulator.url().parse().expect("emulator URL is a URI"));
    config.default_retry = false;
    Client::try_from(config).expect("client builds")
}

fn configmap(name: &str, value: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"value": value}})
}

fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// What a reflector-like consumer believes, plus how often it had to re-list.
#[derive(Default)]
struct Observed {
    /// Contents after the last complete (re)list and the events since.
    state: BTreeMap<String, String>,
    relist_buffer: Option<BTreeMap<String, String>>,
    inits: usize,
}

async fn wait_until(what: &str, observed: &Arc<Mutex<Observed>>, pred: impl Fn(&Observed) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if pred(&observed.lock().expect("lock")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let o = observed.lock().expect("lock");
    panic!(
        "timed out waiting for {what}; state {:?}, inits {}",
        o.state, o.inits
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_survives_dropped_watch_and_410_gone_without_losing_events() {
    let emulator = Emulator::start(config()).await.expect("start");
    for i in 0..3 {
        emulator
            .apply(&configmap(&format!("cm-{i}"), "v1"), "test", false)
            .expect("seed");
    }
    let api: Api<ConfigMap> = Api::namespaced(client(&emulator), "default");
    let observed = Arc::new(Mutex::new(Observed::default()));
    let sink = observed.clone();
    let consumer = tokio::spawn(async move {
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let Ok(event) = event else { continue };
            let mut o = sink.lock().expect("lock");
            let entry = |cm: &ConfigMap| {
                let name = cm.metadata.name.clone().unwrap_or_default();
                let value = cm
                    .data
                    .as_ref()
                    .and_then(|d| d.get("value"))
                    .cloned()
                    .unwrap_or_default();
                (name, value)
            };
            match event {
                watcher::Event::Init => {
                    o.inits += 1;
                    o.relist_buffer = Some(BTreeMap::new());
                }
                watcher::Event::InitApply(cm) => {
                    let (k, v) = entry(&cm);
                    if let Some(buffer) = o.relist_buffer.as_mut() {
                        buffer.insert(k, v);
                    }
                }
                watcher::Event::InitDone => {
                    let buffer = o.relist_buffer.take().unwrap_or_default();
                    o.state = buffer;
                }
                watcher::Event::Apply(cm) => {
                    let (k, v) = entry(&cm);
                    o.state.insert(k, v);
                }
                watcher::Event::Delete(cm) => {
                    let (k, _) = entry(&cm);
                    o.state.remove(&k);
                }
            }
        }
    });
    wait_until("the initial list", &observed, |o| o.state.len() == 3).await;

    // A dropped watch: changes made while the client is cut off arrive after it resumes
    // from its last resourceVersion, without a re-list.
    let faults = emulator.faults();
    faults.begin_outage(None);
    emulator
        .apply(&configmap("cm-0", "v2"), "test", false)
        .expect("update during outage");
    emulator
        .apply(&configmap("cm-3", "v1"), "test", false)
        .expect("create during outage");
    tokio::time::sleep(Duration::from_millis(200)).await;
    faults.end_outage();
    wait_until("the events missed while dropped", &observed, |o| {
        o.state.get("cm-0").map(String::as_str) == Some("v2") && o.state.contains_key("cm-3")
    })
    .await;
    assert_eq!(
        observed.lock().expect("lock").inits,
        1,
        "resumed from its resourceVersion, no re-list"
    );
    assert!(faults.stats().watch_drops >= 1);

    // 410 Gone: the history the client would resume from is expired; it must re-list and
    // still end up with every change (including a delete it never saw as an event).
    faults.begin_outage(None);
    emulator
        .apply(&configmap("cm-1", "v2"), "test", false)
        .expect("update");
    emulator
        .delete("v1", "ConfigMap", "default", "cm-2")
        .expect("delete");
    faults.expire_watch_history();
    tokio::time::sleep(Duration::from_millis(200)).await;
    faults.end_outage();
    wait_until("the state after re-listing on 410", &observed, |o| {
        o.inits >= 2
            && o.state.get("cm-1").map(String::as_str) == Some("v2")
            && !o.state.contains_key("cm-2")
            && o.state.len() == 3
    })
    .await;

    // And it keeps watching afterwards.
    emulator
        .apply(&configmap("cm-4", "v1"), "test", false)
        .expect("create after recovery");
    wait_until("a change after recovery", &observed, |o| {
        o.state.contains_key("cm-4")
    })
    .await;
    consumer.abort();
    emulator.shutdown().await;
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_objects_then_changes() {
    // kube-rs's `streaming_lists()` uses `sendInitialEvents=true` and waits for the
    // bookmark annotated `k8s.io/initial-events-end` before reporting InitDone.
    let emulator = Emulator::start(config()).await.expect("start");
    emulator
        .apply(&configmap("a", "1"), "test", false)
        .expect("seed");
    emulator
        .apply(&configmap("b", "1"), "test", false)
        .expect("seed");
    let api: Api<ConfigMap> = Api::namespaced(client(&emulator), "default");
    let mut events = watcher(api, watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .expect("watcher progresses")
            .expect("no error")
            .expect("stream open");
        match event {
            watcher::Event::Init => {}
            watcher::Event::InitApply(cm) => initial.push(cm.metadata.name.unwrap_or_default()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected before InitDone: {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "b"]);
    emulator
        .apply(&configmap("a", "2"), "test", false)
        .expect("update");
    let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("change arrives")
        .expect("no error")
        .expect("stream open");
    let watcher::Event::Apply(cm) = event else {
        panic!("expected Apply, got {event:?}")
    };
    assert_eq!(
        cm.data.unwrap_or_default().get("value").map(String::as_str),
        Some("2")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_conflict_needs_force_to_take_ownership() {
    // Mirrors the Kubernetes docs: a second manager changing a field the first manager
    // applied gets a conflict; with force it becomes the field's only owner.
    let emulator = Emulator::start(config()).await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&emulator), "default");
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
        "data": {"key": "some value"}});
    api.patch(
        "test-cm",
        &PatchParams::apply("kubectl"),
        &Patch::Apply(&first),
    )
    .await
    .expect("first apply");

    let second = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default"}, "data": {"key": "other value"}});
    let err = api
        .patch(
            "test-cm",
            &PatchParams::apply("other-manager"),
            &Patch::Apply(&second),
        )
        .await
        .expect_err("changing a field owned by another manager conflicts");
    let kube::Error::Api(status) = &err else {
        panic!("unexpected error {err:?}")
    };
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");
    assert!(
        status.message.contains("conflict with \"kubectl\"")
            && status.message.contains(".data.key"),
        "{}",
        status.message
    );
    let unchanged = api.get("test-cm").await.expect("get");
    assert_eq!(
        unchanged
            .data
            .unwrap_or_default()
            .get("key")
            .map(String::as_str),
        Some("some value")
    );

    let forced = api
        .patch(
            "test-cm",
            &PatchParams::apply("other-manager").force(),
            &Patch::Apply(&second),
        )
        .await
        .expect("forced apply");
    assert_eq!(
        forced
            .data
            .clone()
            .unwrap_or_default()
            .get("key")
            .map(String::as_str),
        Some("other value")
    );
    let managed = forced.metadata.managed_fields.unwrap_or_default();
    let owns_key = |manager: &str| {
        managed.iter().any(|m| {
            m.manager.as_deref() == Some(manager)
                && m.fields_v1
                    .as_ref()
                    .is_some_and(|f| f.0.pointer("/f:data/f:key").is_some())
        })
    };
    assert!(owns_key("other-manager"), "{managed:?}");
    assert!(!owns_key("kubectl"), "{managed:?}");
    let kubectl = managed
        .iter()
        .find(|m| m.manager.as_deref() == Some("kubectl"))
        .expect("kubectl keeps its label");
    assert_eq!(kubectl.operation.as_deref(), Some("Apply"));
    assert!(
        kubectl
            .fields_v1
            .as_ref()
            .is_some_and(|f| f.0.pointer("/f:metadata/f:labels/f:test-label").is_some())
    );

    // Re-applying its own (now shared-value-free) config as the first manager conflicts again.
    let err = api
        .patch(
            "test-cm",
            &PatchParams::apply("kubectl"),
            &Patch::Apply(&first),
        )
        .await
        .expect_err("conflict");
    assert_eq!(api_code(&err), Some(409));
    emulator.shutdown().await;
}

#[tokio::test]
async fn stale_replace_gets_409_and_errors_are_status_objects() {
    let emulator = Emulator::start(config()).await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&emulator), "default");
    let created: ConfigMap = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(configmap("c", "1")).expect("cm"),
        )
        .await
        .expect("create");
    let mut fresh = created.clone();
    fresh.data = Some([("value".to_string(), "2".to_string())].into());
    api.replace("c", &PostParams::default(), &fresh)
        .await
        .expect("replace with current resourceVersion");
    let mut stale = created;
    stale.data = Some([("value".to_string(), "3".to_string())].into());
    let err = api
        .replace("c", &PostParams::default(), &stale)
        .await
        .expect_err("stale resourceVersion");
    let kube::Error::Api(status) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("the object has been modified"));

    let err = api.get("missing").await.expect_err("not found");
    let kube::Error::Api(status) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "configmaps \"missing\" not found");

    let err = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(configmap("c", "1")).expect("cm"),
        )
        .await
        .expect_err("exists");
    assert_eq!(api_code(&err), Some(409));

    api.delete("c", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(
        api_code(&api.get("c").await.expect_err("deleted")),
        Some(404)
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn fault_hooks_inject_errors_latency_and_outages() {
    let emulator = Emulator::start(config()).await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client_without_retries(&emulator), "default");
    let faults = emulator.faults();

    faults
        .set_error_rate(1.0, &[InjectedError::TooManyRequests])
        .expect("valid rate");
    assert_eq!(
        api_code(&api.list(&Default::default()).await.expect_err("429")),
        Some(429)
    );
    faults
        .set_error_rate(1.0, &[InjectedError::Internal])
        .expect("valid rate");
    assert_eq!(
        api_code(&api.list(&Default::default()).await.expect_err("500")),
        Some(500)
    );
    faults.set_error_rate(0.0, &[]).expect("valid rate");

    faults.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    api.list(&Default::default()).await.expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_millis(150));
    faults.set_latency(Duration::ZERO);

    faults.begin_outage(None);
    assert_eq!(
        api_code(&api.list(&Default::default()).await.expect_err("outage")),
        Some(503)
    );
    faults.end_outage();
    api.list(&Default::default()).await.expect("outage over");
    let stats = faults.stats();
    assert_eq!((stats.injected_errors, stats.outage_rejections), (2, 1));

    // A timed outage ends by itself; kube's default client retries 503s (backing off from
    // 5 ms), so it rides out a short outage and succeeds.
    let retrying: Api<ConfigMap> = Api::namespaced(client(&emulator), "default");
    faults.begin_outage(Some(Duration::from_millis(300)));
    retrying
        .list(&Default::default())
        .await
        .expect("retried past the outage");
    assert!(faults.stats().outage_rejections > stats.outage_rejections);
    emulator.shutdown().await;
}

#[tokio::test]
async fn watch_sends_bookmarks_and_label_selected_events() {
    let emulator = Emulator::start(config()).await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&emulator), "default");
    let params = WatchParams::default()
        .labels("app.kubernetes.io/managed-by=pushpull")
        .timeout(10);
    let mut stream = api.watch(&params, "0").await.expect("watch").boxed();
    let mut owned = configmap("owned", "1");
    owned["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "pushpull"});
    emulator
        .apply(&configmap("foreign", "1"), "test", false)
        .expect("apply");
    emulator.apply(&owned, "test", false).expect("apply");

    let mut added = Vec::new();
    let mut bookmarks = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && (added.is_empty() || bookmarks == 0) {
        match tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await {
            Ok(Ok(Some(WatchEvent::Added(cm)))) => added.push(cm.metadata.name.unwrap_or_default()),
            Ok(Ok(Some(WatchEvent::Bookmark(_)))) => bookmarks += 1,
            Ok(Ok(Some(other))) => panic!("unexpected event {other:?}"),
            other => panic!("watch ended early: {other:?}"),
        }
    }
    assert_eq!(added, ["owned"], "only the selected object");
    assert!(bookmarks > 0, "bookmarks arrive when allowed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn rollout_log_matches_what_a_client_observes() {
    let emulator = Emulator::start(config()).await.expect("start");
    let api: Api<Deployment> = Api::namespaced(client(&emulator), "default");
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}});
    let applied = Instant::now();
    api.patch(
        "web",
        &PatchParams::apply("pushpull"),
        &Patch::Apply(&deployment),
    )
    .await
    .expect("apply");
    let record = tokio::time::timeout(
        Duration::from_secs(10),
        emulator.rollout_log().wait_for(|r| r.name == "web"),
    )
    .await
    .expect("rolled out");
    assert_eq!(
        (record.generation, record.images.as_slice()),
        (1, ["nginx:1".to_string()].as_slice())
    );
    assert!(
        record.at >= applied + Duration::from_millis(30),
        "pods take the configured start delay"
    );
    let status = api.get("web").await.expect("get").status.expect("status");
    assert_eq!(
        (
            status.updated_replicas,
            status.available_replicas,
            status.observed_generation
        ),
        (Some(4), Some(4), Some(1))
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn kube_rs_accepts_the_emulator_kubeconfig() {
    let emulator = Emulator::start(config()).await.expect("start");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emulator.kubeconfig_yaml("cluster-0"))
        .expect("parses");
    let options = kube::config::KubeConfigOptions {
        context: Some("cluster-0".into()),
        ..Default::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .expect("config");
    let client = Client::try_from(config).expect("client");
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.minor, "32");
    emulator.shutdown().await;
}

/// Every listening socket on the emulator's port is bound to 127.0.0.1 (read from the
/// kernel's socket table), for several emulators started side by side.
#[tokio::test]
async fn emulators_bind_only_loopback() {
    let emulators = futures::future::join_all((0..3).map(|_| Emulator::start(config()))).await;
    let emulators: Vec<RunningEmulator> =
        emulators.into_iter().map(|e| e.expect("start")).collect();
    let mut ports: Vec<u16> = emulators.iter().map(|e| e.addr().port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "each emulator has its own port");
    for emulator in &emulators {
        assert!(emulator.addr().ip().is_loopback());
        assert!(emulator.url().starts_with("http://127.0.0.1:"));
        let listeners = listening_sockets(emulator.addr().port());
        assert!(!listeners.is_empty(), "the socket table shows the listener");
        for (table, local) in listeners {
            assert!(
                local == "0100007F",
                "{table} has a listener on {local} (hex), not 127.0.0.1"
            );
        }
    }
    for emulator in emulators {
        emulator.shutdown().await;
    }
}

/// `(table, local address hex)` of LISTEN sockets on `port` in /proc/net/tcp and tcp6.
fn listening_sockets(port: u16) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (cols.get(1), cols.get(3)) else {
                continue;
            };
            let Some((addr, port_hex)) = local.rsplit_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(port_hex, 16).ok() == Some(port) {
                found.push((table.to_string(), addr.to_string()));
            }
        }
    }
    found
}
