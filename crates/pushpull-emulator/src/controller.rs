//! The tokio shell around `rollout::Rollout`: wakes on Deployment writes and on the next
//! simulated pod event, advances each rollout to now, writes `status` back through the
//! store, and logs the monotonic instant each Deployment generation became fully rolled
//! out — the ground truth that client-observed rollout times are measured against.
//! Each Deployment is processed in isolation (a panic drops that one Deployment until its
//! next write), and the task is supervised: if it ever dies it is restarted and logged.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};

use super::config::PodStartSampler;
use super::resource::Resource;
use super::rollout::{self, ConditionView, Rollout, RolloutSpec, StatusView};
use super::store::{Store, now_rfc3339};
use super::workloads::{Events, PodBudget, Workloads};

/// Events kept (core and events.k8s.io each); the oldest go first, as the API server's
/// one-hour event TTL would drop them.
const EVENTS_KEPT: usize = 5_000;

/// One Deployment generation reaching "successfully rolled out" (kubectl's rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRecord {
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    pub images: Vec<String>,
    /// When the status showing completion was written (monotonic).
    pub at: Instant,
    pub wall: SystemTime,
}

/// The shared, append-only ground-truth log.
#[derive(Default)]
pub struct RolloutLog {
    records: Mutex<Vec<RolloutRecord>>,
    appended: Notify,
}

impl RolloutLog {
    pub fn snapshot(&self) -> Vec<RolloutRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn push(&self, record: RolloutRecord) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
        self.appended.notify_waiters();
    }

    /// The latest generation of `namespace/name` recorded as rolled out.
    fn recorded_generation(&self, namespace: &str, name: &str) -> Option<i64> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .rev()
            .find(|r| r.namespace == namespace && r.name == name)
            .map(|r| r.generation)
    }

    /// Waits until a record matching `pred` exists, returning it.
    pub async fn wait_for(&self, pred: impl Fn(&RolloutRecord) -> bool) -> RolloutRecord {
        loop {
            let notified = self.appended.notified();
            if let Some(found) = self.snapshot().into_iter().find(|r| pred(r)) {
                return found;
            }
            notified.await;
        }
    }
}

struct Tracked {
    rollout: Rollout,
    recorded_generation: Option<i64>,
    workloads: Workloads,
    /// A client deleted one of its ReplicaSets or Pods since the last publish: check that
    /// every object the controller owns is still there.
    resync: bool,
    /// The status last written or found in place, with the view it was built from: while
    /// both still hold, the status is not built again (most syncs change no status).
    shown: Option<(StatusView, Value)>,
}

/// The longest the controller sleeps without looking again (bounds a far-future wake).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// Pause before restarting a controller task that died, so a persistent fault cannot spin.
const RESTART_DELAY: Duration = Duration::from_millis(100);

pub(crate) struct Controller {
    store: Arc<Store>,
    sampler: PodStartSampler,
    time_scale: f64,
    tracked: HashMap<(String, String), Tracked>,
    log: Arc<RolloutLog>,
    events: Events,
    pods: PodBudget,
    /// After a restart: take recorded generations from the log, not from scratch.
    resumed: bool,
    #[cfg(test)]
    test_faults: TestFaults,
}

/// Test-only fault hooks: make one Deployment's reconcile step panic, or the whole
/// controller loop panic once.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct TestFaults {
    pub panic_on_deployment: Option<String>,
    pub panic_loop_once: Arc<std::sync::atomic::AtomicBool>,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Controller {
    pub(crate) fn new(
        store: Arc<Store>,
        sampler: PodStartSampler,
        time_scale: f64,
        log: Arc<RolloutLog>,
    ) -> Controller {
        Controller {
            store,
            sampler,
            time_scale,
            tracked: HashMap::new(),
            log,
            events: Events::new(EVENTS_KEPT),
            pods: PodBudget::new(usize::MAX),
            resumed: false,
            #[cfg(test)]
            test_faults: TestFaults::default(),
        }
    }

    /// Caps the Pod objects materialized (`EmulatorConfig::max_pods`).
    pub(crate) fn with_max_pods(mut self, limit: usize) -> Controller {
        self.pods = PodBudget::new(limit);
        self
    }

    /// A fresh controller picking up after one that died: every Deployment is re-read.
    fn restarted(&self) -> Controller {
        self.store.mark_all_deployments_dirty();
        self.restarted_template()
    }

    /// Runs the controller until shutdown, restarting its loop (with every Deployment
    /// re-read) whenever the loop's task ends by a panic.
    pub(crate) async fn run(self, shutdown: watch::Receiver<bool>) {
        let template = self.restarted_template();
        let mut next = Some(self);
        let mut restarts: u64 = 0;
        loop {
            let controller = match next.take() {
                Some(c) => c,
                None => template.restarted(),
            };
            let task = tokio::spawn(controller.run_loop(shutdown.clone()));
            match task.await {
                Ok(()) => return,
                Err(err) if err.is_cancelled() => return,
                Err(err) => {
                    restarts += 1;
                    let message = err
                        .try_into_panic()
                        .map(|p| panic_message(&*p))
                        .unwrap_or_else(|e| e.to_string());
                    tracing::error!(
                        restarts,
                        %message,
                        "the emulator's rollout controller died; restarting it"
                    );
                    tokio::time::sleep(RESTART_DELAY).await;
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// What a restart is built from (the shared handles, a copy of the sampler).
    fn restarted_template(&self) -> Controller {
        Controller {
            store: self.store.clone(),
            sampler: self.sampler.clone(),
            time_scale: self.time_scale,
            tracked: HashMap::new(),
            log: self.log.clone(),
            events: Events::new(EVENTS_KEPT),
            pods: PodBudget::new(self.pods.limit),
            resumed: true,
            #[cfg(test)]
            test_faults: self.test_faults.clone(),
        }
    }

    async fn run_loop(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            #[cfg(test)]
            if self
                .test_faults
                .panic_loop_once
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                panic!("test fault: the controller loop panics once");
            }
            let now = Instant::now();
            self.sync(now);
            let wake = self
                .tracked
                .values()
                .filter_map(|t| t.rollout.next_wake(now))
                .min()
                .map(|w| now.checked_add(MAX_SLEEP).map_or(w, |cap| w.min(cap)));
            let store = self.store.clone();
            tokio::select! {
                _ = store.deployments_changed.notified() => {}
                _ = sleep_until(wake) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Runs `step` for one Deployment; a panic in it is logged and the Deployment is
    /// dropped from tracking until its next write (which re-reads it).
    fn isolated<T>(
        &mut self,
        key: &(String, String),
        step: impl FnOnce(&mut Controller) -> T,
    ) -> Option<T> {
        match catch_unwind(AssertUnwindSafe(|| step(self))) {
            Ok(value) => Some(value),
            Err(payload) => {
                report_failure(key, &*payload);
                self.tracked.remove(key);
                None
            }
        }
    }

    fn sync(&mut self, now: Instant) {
        let mut touched: Vec<(String, String)> = Vec::new();
        let resync = self.store.take_resync_deployments();
        for key in self.store.take_dirty_deployments() {
            let tracked = self.isolated(&key, |c| c.track(&key, now));
            if tracked == Some(true) {
                touched.push(key);
            }
        }
        for key in resync {
            if let Some(t) = self.tracked.get_mut(&key) {
                t.resync = true;
            }
        }
        // Every tracked rollout moves on to `now`, in place (no copy of the keys: this
        // runs on every wake). A panic drops that Deployment as `isolated` does.
        let mut failed = Vec::new();
        let sampler = &mut self.sampler;
        #[cfg(test)]
        let faults = &self.test_faults;
        for (key, tracked) in self.tracked.iter_mut() {
            let step = catch_unwind(AssertUnwindSafe(|| {
                #[cfg(test)]
                if faults.panic_on_deployment.as_deref() == Some(key.1.as_str()) {
                    panic!("test fault: reconcile of {} panics", key.1);
                }
                let mut draw = || sampler.sample();
                tracked.rollout.advance(now, &mut draw)
            }));
            match step {
                Ok(true) if !touched.contains(key) => touched.push(key.clone()),
                Ok(_) => {}
                Err(payload) => {
                    report_failure(key, &*payload);
                    failed.push(key.clone());
                }
            }
        }
        for key in failed {
            self.tracked.remove(&key);
            touched.retain(|k| k != &key);
        }
        for key in touched {
            self.isolated(&key, |c| c.publish(&key, now));
        }
        self.resumed = false;
    }

    /// Starts or updates tracking of a written Deployment; false when it is gone. A gone
    /// Deployment's ReplicaSets and Pods are collected (background propagation); one marked
    /// for foreground deletion loses them first and is then removed.
    fn track(&mut self, key: &(String, String), now: Instant) -> bool {
        match self.store.get(Resource::Deployment, &key.0, &key.1) {
            Ok(object) if object.pointer("/metadata/deletionTimestamp").is_some() => {
                let mut workloads = match self.tracked.remove(key) {
                    Some(t) => t.workloads,
                    None => Workloads::new(&key.0, &key.1),
                };
                workloads.adopt(&object);
                workloads.collect(&self.store, &mut self.pods);
                self.store
                    .remove_owned(Resource::Deployment, &key.0, &key.1);
                false
            }
            Ok(object) => {
                let spec = RolloutSpec::from_deployment(&object, self.time_scale);
                match self.tracked.get_mut(key) {
                    Some(t) => t.rollout.set_spec(now, spec),
                    None => {
                        let recorded_generation = if self.resumed {
                            self.log.recorded_generation(&key.0, &key.1)
                        } else {
                            None
                        };
                        let rollout = Rollout::new(now, spec);
                        self.tracked.insert(
                            key.clone(),
                            Tracked {
                                rollout,
                                recorded_generation,
                                workloads: Workloads::new(&key.0, &key.1),
                                resync: true,
                                shown: None,
                            },
                        );
                    }
                }
                true
            }
            Err(_) => {
                if let Some(mut t) = self.tracked.remove(key) {
                    t.workloads.collect(&self.store, &mut self.pods);
                }
                false
            }
        }
    }

    fn publish(&mut self, key: &(String, String), now: Instant) {
        let Some(tracked) = self.tracked.get_mut(key) else {
            return;
        };
        let Ok(current) = self.store.get(Resource::Deployment, &key.0, &key.1) else {
            return;
        };
        let view = tracked.rollout.view(&key.1, now);
        let generation = tracked.rollout.spec().generation;
        let in_place = tracked
            .shown
            .as_ref()
            .is_some_and(|(v, s)| *v == view && current.get("status") == Some(s));
        // Built from an unchanged view over the status it built, the status would come
        // out the same (its conditions keep their times): nothing to build or write.
        let shows_complete = in_place || {
            let status = status_json(&view, current.get("status"));
            let written =
                self.store
                    .write_deployment_status(&key.0, &key.1, generation, status.clone());
            let shows = written.is_some() || current.get("status") == Some(&status);
            tracked.shown = shows.then(|| (view.clone(), status));
            shows
        };
        let resync = std::mem::take(&mut tracked.resync);
        tracked.workloads.sync(
            &self.store,
            &mut self.events,
            &mut self.pods,
            &current,
            &tracked.rollout,
            now,
            resync,
        );
        if view.complete && shows_complete && tracked.recorded_generation != Some(generation) {
            tracked.recorded_generation = Some(generation);
            let images = current
                .pointer("/spec/template")
                .map(rollout::images)
                .unwrap_or_default();
            self.log.push(RolloutRecord {
                namespace: key.0.clone(),
                name: key.1.clone(),
                generation,
                images,
                at: Instant::now(),
                wall: SystemTime::now(),
            });
        }
    }
}

/// Logs a panic of one Deployment's reconcile step (the Deployment is then dropped from
/// tracking until its next write).
fn report_failure(key: &(String, String), payload: &(dyn std::any::Any + Send)) {
    tracing::error!(
        namespace = %key.0,
        name = %key.1,
        message = %panic_message(payload),
        "the rollout controller failed on this Deployment; it is skipped until its next change"
    );
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn condition(kind: &str, view: &ConditionView, previous: Option<&Value>) -> Value {
    let status = if view.status { "True" } else { "False" };
    let prev = previous
        .and_then(|p| p.get("conditions"))
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        });
    let now = now_rfc3339();
    let (update_time, transition_time) = match prev {
        Some(p)
            if p.get("status").and_then(Value::as_str) == Some(status)
                && p.get("reason").and_then(Value::as_str) == Some(view.reason)
                && p.get("message").and_then(Value::as_str) == Some(view.message.as_str()) =>
        {
            (
                p.get("lastUpdateTime").cloned(),
                p.get("lastTransitionTime").cloned(),
            )
        }
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => {
            (Some(json!(now)), p.get("lastTransitionTime").cloned())
        }
        _ => (Some(json!(now)), Some(json!(now))),
    };
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": update_time.unwrap_or(json!(now)),
        "lastTransitionTime": transition_time.unwrap_or(json!(now)),
        "reason": view.reason,
        "message": view.message,
    })
}

/// The `status` object, omitting zero counts like the API server's `omitempty`.
fn status_json(view: &StatusView, previous: Option<&Value>) -> Value {
    let mut status = Map::new();
    status.insert("observedGeneration".into(), json!(view.observed_generation));
    for (key, value) in [
        ("replicas", view.replicas),
        ("updatedReplicas", view.updated_replicas),
        ("readyReplicas", view.ready_replicas),
        ("availableReplicas", view.available_replicas),
        ("unavailableReplicas", view.unavailable_replicas),
    ] {
        if value > 0 {
            status.insert(key.into(), json!(value));
        }
    }
    status.insert(
        "conditions".into(),
        json!([
            condition("Available", &view.available, previous),
            condition("Progressing", &view.progressing, previous)
        ]),
    );
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PodStartDelay;
    use crate::store::WriteOptions;

    fn deployment(name: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}}})
    }

    /// Starts a controller with the given test faults; returns the store, log and shutdown.
    fn start(faults: TestFaults) -> (Arc<Store>, Arc<RolloutLog>, watch::Sender<bool>) {
        let store = Arc::new(Store::new(1, 100));
        let log = Arc::new(RolloutLog::default());
        let sampler = PodStartSampler::new(PodStartDelay::Fixed(Duration::from_millis(20)), 1.0, 1);
        let mut controller = Controller::new(store.clone(), sampler, 1.0, log.clone());
        controller.test_faults = faults;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(controller.run(rx));
        (store, log, tx)
    }

    fn create(store: &Store, name: &str) {
        let opts = WriteOptions {
            manager: "t".into(),
            ..Default::default()
        };
        store
            .create(Resource::Deployment, "default", deployment(name), &opts)
            .expect("valid deployment");
    }

    #[tokio::test]
    async fn a_panic_reconciling_one_deployment_does_not_stop_the_others() {
        let (store, log, shutdown) = start(TestFaults {
            panic_on_deployment: Some("bad".into()),
            ..Default::default()
        });
        create(&store, "bad");
        create(&store, "good");
        let done =
            tokio::time::timeout(Duration::from_secs(10), log.wait_for(|r| r.name == "good")).await;
        assert!(done.is_ok(), "the healthy Deployment rolled out");
        create(&store, "later");
        let later =
            tokio::time::timeout(Duration::from_secs(10), log.wait_for(|r| r.name == "later"))
                .await;
        assert!(
            later.is_ok(),
            "the controller keeps serving new Deployments"
        );
        assert!(log.snapshot().iter().all(|r| r.name != "bad"));
        let _ = shutdown.send(true);
    }

    #[tokio::test]
    async fn a_controller_task_that_panics_is_restarted() {
        let faults = TestFaults::default();
        faults
            .panic_loop_once
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let (store, log, shutdown) = start(faults.clone());
        create(&store, "web");
        let done =
            tokio::time::timeout(Duration::from_secs(10), log.wait_for(|r| r.name == "web")).await;
        assert!(
            done.is_ok(),
            "the restarted controller rolled the Deployment out"
        );
        assert!(
            !faults
                .panic_loop_once
                .load(std::sync::atomic::Ordering::SeqCst),
            "the fault fired"
        );
        let _ = shutdown.send(true);
    }

    #[tokio::test]
    async fn pod_objects_stop_at_the_cap_while_the_rollout_completes() {
        let store = Arc::new(Store::new(1, 1000));
        let log = Arc::new(RolloutLog::default());
        let sampler = PodStartSampler::new(PodStartDelay::Fixed(Duration::from_millis(5)), 1.0, 1);
        let controller = Controller::new(store.clone(), sampler, 1.0, log.clone()).with_max_pods(3);
        let (tx, rx) = watch::channel(false);
        tokio::spawn(controller.run(rx));
        let mut d = deployment("capped");
        d["spec"]["replicas"] = json!(5);
        let opts = WriteOptions {
            manager: "t".into(),
            ..Default::default()
        };
        store
            .create(Resource::Deployment, "default", d, &opts)
            .expect("valid");
        let done = tokio::time::timeout(
            Duration::from_secs(10),
            log.wait_for(|r| r.name == "capped"),
        )
        .await;
        assert!(done.is_ok(), "the rollout completes beyond the pod cap");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let none = Default::default();
        let (pods, _) = store.list(Resource::Pod, Some("default"), &none, &Default::default());
        assert_eq!(pods.len(), 3, "Pod objects stop at max_pods");
        let (sets, _) = store.list(
            Resource::ReplicaSet,
            Some("default"),
            &none,
            &Default::default(),
        );
        assert_eq!(sets.len(), 1);
        assert_eq!(
            sets[0]["status"]["readyReplicas"], 5,
            "counts follow the model"
        );
        let _ = tx.send(true);
    }

    /// The one ReplicaSet of `default/name` once `pred` holds for it (5 s at most).
    async fn replica_set_once(store: &Store, pred: impl Fn(&Value) -> bool) -> Value {
        let none = Default::default();
        for _ in 0..500 {
            let (sets, _) = store.list(
                Resource::ReplicaSet,
                Some("default"),
                &none,
                &Default::default(),
            );
            if let [set] = sets.as_slice() {
                if pred(set) {
                    return (**set).clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no ReplicaSet matched in time");
    }

    #[tokio::test]
    async fn replica_set_follows_each_deployment_annotation_change_and_only_those() {
        let (store, log, shutdown) = start(TestFaults::default());
        create(&store, "web");
        let done =
            tokio::time::timeout(Duration::from_secs(10), log.wait_for(|r| r.name == "web")).await;
        assert!(done.is_ok(), "rolled out");
        let merge = |body: Value| {
            let opts = WriteOptions {
                manager: "t".into(),
                ..Default::default()
            };
            store
                .patch(
                    Resource::Deployment,
                    "default",
                    "web",
                    crate::store::Subresource::Main,
                    crate::store::PatchKind::Merge,
                    &body,
                    &opts,
                )
                .expect("patched");
        };
        let annotate = |value: Value| {
            merge(json!({"metadata": {"annotations": {"kubernetes.io/change-cause": value}}}))
        };
        let cause =
            |rs: &Value| rs["metadata"]["annotations"]["kubernetes.io/change-cause"].clone();
        for text in ["first", "second"] {
            annotate(json!(text));
            let rs = replica_set_once(&store, |rs| cause(rs) == json!(text)).await;
            assert_eq!(
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
                "1"
            );
            assert_eq!(rs["spec"]["replicas"], 2, "the rest of the object is kept");
        }
        annotate(Value::Null);
        let rs = replica_set_once(&store, |rs| cause(rs).is_null()).await;
        let version = rs["metadata"]["resourceVersion"].clone();
        // A Deployment write that changes nothing the ReplicaSet shows leaves it alone.
        merge(json!({"metadata": {"labels": {"team": "a"}}}));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rs = replica_set_once(&store, |_| true).await;
        assert_eq!(rs["metadata"]["resourceVersion"], version, "not rewritten");
        let _ = shutdown.send(true);
    }

    fn view(reason: &'static str) -> ConditionView {
        ConditionView {
            status: true,
            reason,
            message: "m".into(),
        }
    }

    #[test]
    fn unchanged_condition_keeps_its_timestamps() {
        let previous = json!({"conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
            "message": "m", "lastUpdateTime": "2000-01-01T00:00:00Z", "lastTransitionTime": "1999-01-01T00:00:00Z"}]});
        let same = condition("Progressing", &view("ReplicaSetUpdated"), Some(&previous));
        assert_eq!(same["lastUpdateTime"], "2000-01-01T00:00:00Z");
        let moved = condition(
            "Progressing",
            &view("NewReplicaSetAvailable"),
            Some(&previous),
        );
        assert_ne!(moved["lastUpdateTime"], "2000-01-01T00:00:00Z");
        assert_eq!(
            moved["lastTransitionTime"], "1999-01-01T00:00:00Z",
            "status unchanged: no transition"
        );
    }
}
