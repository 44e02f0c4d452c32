//! The tokio shell around `rollout::Rollout`: wakes on Deployment writes and on the next
//! simulated pod event, advances each rollout to now, writes `status` back through the
//! store, and logs the monotonic instant each Deployment generation became fully rolled
//! out — the ground truth that client-observed rollout times are measured against.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};

use super::config::PodStartSampler;
use super::resource::Resource;
use super::rollout::{self, ConditionView, Rollout, RolloutSpec, StatusView};
use super::store::{Store, now_rfc3339};

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
}

pub(crate) struct Controller {
    store: Arc<Store>,
    sampler: PodStartSampler,
    time_scale: f64,
    tracked: HashMap<(String, String), Tracked>,
    log: Arc<RolloutLog>,
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
        }
    }

    pub(crate) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let now = Instant::now();
            self.sync(now);
            let wake = self
                .tracked
                .values()
                .filter_map(|t| t.rollout.next_wake(now))
                .min();
            let store = self.store.clone();
            tokio::select! {
                _ = store.deployments_changed.notified() => {}
                _ = sleep_until(wake) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    fn sync(&mut self, now: Instant) {
        let mut touched: Vec<(String, String)> = Vec::new();
        for key in self.store.take_dirty_deployments() {
            match self.store.get(Resource::Deployment, &key.0, &key.1) {
                Ok(object) => {
                    let spec = RolloutSpec::from_deployment(&object, self.time_scale);
                    match self.tracked.get_mut(&key) {
                        Some(t) => t.rollout.set_spec(now, spec),
                        None => {
                            let rollout = Rollout::new(now, spec);
                            self.tracked.insert(
                                key.clone(),
                                Tracked {
                                    rollout,
                                    recorded_generation: None,
                                },
                            );
                        }
                    }
                    touched.push(key);
                }
                Err(_) => {
                    self.tracked.remove(&key);
                }
            }
        }
        let sampler = &mut self.sampler;
        for (key, tracked) in self.tracked.iter_mut() {
            let mut draw = || sampler.sample();
            if tracked.rollout.advance(now, &mut draw) && !touched.contains(key) {
                touched.push(key.clone());
            }
        }
        for key in touched {
            self.publish(&key, now);
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
        let status = status_json(&view, current.get("status"));
        let generation = tracked.rollout.spec().generation;
        let written =
            self.store
                .write_deployment_status(&key.0, &key.1, generation, status.clone());
        let shows_complete = written.is_some() || current.get("status") == Some(&status);
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
