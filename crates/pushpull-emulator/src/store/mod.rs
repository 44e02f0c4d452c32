//! The object store: every object of every served type behind one lock, with one global
//! resourceVersion counter (like etcd's revision). `state` holds the objects and the verbs
//! that read and write them, `admission` what a write goes through before it is stored, and
//! `feed` the store's side of watches (the history itself is `history::Feed`).

mod admission;
mod feed;
mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::history::{DEFAULT_HISTORY_BYTES, Feed};
use super::resource::Resource;
use state::State;

pub use super::history::{WatchFrom, WatchStart};
pub use state::Propagation;
pub(crate) use state::owner_uid;

/// Which part of an object a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
    Scale,
}

impl Subresource {
    fn name(self) -> Option<&'static str> {
        match self {
            Subresource::Main => None,
            Subresource::Status => Some("status"),
            Subresource::Scale => Some("scale"),
        }
    }
}

/// The four patch media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

/// Per-request write options (query parameters).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub manager: String,
    pub force: bool,
    pub dry_run: bool,
}

pub struct Store {
    state: Mutex<State>,
    feed: Arc<Feed>,
    /// Wakes the rollout controller after a Deployment write.
    pub(crate) deployments_changed: Notify,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn meta_str<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let map = object.as_object_mut().expect("made an object above");
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("made an object above")
}

impl Store {
    /// A store whose watch history keeps at most `history_limit` events and
    /// `DEFAULT_HISTORY_BYTES` of them.
    pub fn new(seed: u64, history_limit: usize) -> Store {
        Store::with_history(seed, history_limit, DEFAULT_HISTORY_BYTES)
    }

    /// A store with explicit watch history limits (events, estimated bytes).
    pub fn with_history(seed: u64, history_limit: usize, history_bytes: usize) -> Store {
        let store = Store {
            state: Mutex::new(State {
                rv: 0,
                objects: BTreeMap::new(),
                rng: ChaCha8Rng::seed_from_u64(seed),
                dirty_deployments: Vec::new(),
                resync_deployments: Vec::new(),
            }),
            feed: Arc::new(Feed::new(history_limit, history_bytes)),
            deployments_changed: Notify::new(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            let opts = WriteOptions {
                manager: "kube-apiserver".into(),
                ..Default::default()
            };
            // Built-in namespaces are valid by construction.
            let _ = store.create(Resource::Namespace, "", body, &opts);
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written object (writes are
        // single inserts), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }
}

#[cfg(test)]
mod fixtures {
    use serde_json::{Value, json};

    use super::WriteOptions;

    pub(super) fn opts(manager: &str) -> WriteOptions {
        WriteOptions {
            manager: manager.into(),
            ..Default::default()
        }
    }

    pub(super) fn deployment(name: &str, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": {"containers": [{"name": "app", "image": image}]}}}})
    }
}
