//! The object store: every object of every served type, one global resourceVersion counter
//! (like etcd's revision), and the event history (`history::Feed`, bounded in count and
//! bytes) that open watches read from and resuming watches start from. All write verbs funnel through `commit`, which does the
//! bookkeeping the API server does: preconditions, generation, managedFields, no-op writes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

use super::apply::{ApplyRequest, server_side_apply};
use super::defaults;
use super::event::{Event, EventKind};
use super::fields;
use super::history::{DEFAULT_HISTORY_BYTES, Feed};
use super::patch;
use super::resource::Resource;
use super::scale::{check_scale_precondition, scale_of, with_replicas};
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, Cause, Subject};
use super::validation;

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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    resource: Resource,
    namespace: String,
    name: String,
}

impl Key {
    fn new(resource: Resource, namespace: &str, name: &str) -> Key {
        let namespace = if resource.namespaced() {
            namespace.to_string()
        } else {
            String::new()
        };
        Key {
            resource,
            namespace,
            name: name.to_string(),
        }
    }
}

struct State {
    rv: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    rng: ChaCha8Rng,
    dirty_deployments: Vec<(String, String)>,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// Synthetic ADDED events for the current state, then changes.
    Current,
    /// Every change after this resourceVersion.
    Version(u64),
}

/// A watch's starting point: events to send first, then every change after `start_rv`
/// read from the history feed.
pub struct WatchStart {
    pub initial: Vec<Arc<Event>>,
    pub feed: Arc<Feed>,
    pub start_rv: u64,
}

impl WatchStart {
    /// The events this watch has to send before waiting (initial ones, then history).
    #[cfg(test)]
    pub fn backlog(&self) -> Vec<Arc<Event>> {
        let mut events = self.initial.clone();
        events.extend(
            self.feed
                .after(self.start_rv, usize::MAX)
                .unwrap_or_default(),
        );
        events
    }
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

    pub fn get(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        self.lock()
            .objects
            .get(&Key::new(resource, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::NotFound(resource.subject(name)))
    }

    /// Objects of a type (in one namespace or all), filtered, sorted by namespace and name.
    pub fn list(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> (Vec<Arc<Value>>, u64) {
        let state = self.lock();
        let items = state
            .objects
            .iter()
            .filter(|(k, _)| k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns))
            .filter(|(_, v)| labels.matches(v) && fields.matches(v))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.rv)
    }

    pub fn create(
        &self,
        resource: Resource,
        namespace: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        check_type(resource, &body)?;
        validation::check_types(resource, &body).map_err(|e| e.for_body(resource))?;
        if resource.namespaced() {
            check_namespace(&state, namespace, &body)?;
        }
        let name = match meta_str(&body, "name") {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match meta_str(&body, "generateName") {
                Some(prefix) => {
                    let suffix: String = (0..5)
                        .map(|_| {
                            b"bcdfghjklmnpqrstvwxz2456789"[state.rng.random_range(0..27)] as char
                        })
                        .collect();
                    format!("{prefix}{suffix}")
                }
                None => {
                    return Err(validation::invalid(
                        resource,
                        "",
                        vec![Cause {
                            reason: "FieldValueRequired".into(),
                            message: "Required value: name or generateName is required".into(),
                            field: "metadata.name".into(),
                        }],
                    ));
                }
            },
        };
        let key = Key::new(resource, namespace, &name);
        if state.objects.contains_key(&key) {
            return Err(ApiError::AlreadyExists(resource.subject(&name)));
        }
        prepare_new(&mut state, resource, namespace, &name, &mut body);
        defaults::apply_defaults(resource, &mut body);
        validation::validate(resource, &body)?;
        if resource == Resource::Deployment {
            if let Some(map) = body.as_object_mut() {
                map.remove("status");
            }
        }
        fields::record_update(
            None,
            &mut body,
            &opts.manager,
            None,
            resource.api_version(),
            &now_rfc3339(),
        );
        if opts.dry_run {
            return Ok(Arc::new(body));
        }
        Ok(self.insert(&mut state, key, None, body))
    }

    /// PUT: replaces the object (or its status / scale).
    pub fn update(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        subresource: Subresource,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        check_body_name(name, &body)?;
        let key = Key::new(resource, namespace, name);
        let old = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(resource.subject(name)))?;
        let new = match subresource {
            Subresource::Scale => {
                check_scale_precondition(&old, &body)?;
                with_replicas(&old, &body)?
            }
            _ => {
                check_type(resource, &body)?;
                validation::check_types(resource, &body).map_err(|e| e.for_body(resource))?;
                body
            }
        };
        self.commit(
            &mut state,
            resource,
            key,
            old,
            new,
            subresource,
            opts,
            false,
        )
    }

    /// PATCH in any of the four formats; apply may create the object.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        subresource: Subresource,
        kind: PatchKind,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        let key = Key::new(resource, namespace, name);
        let old = state.objects.get(&key).cloned();
        if kind == PatchKind::Apply {
            if subresource != Subresource::Main {
                return Err(ApiError::MethodNotAllowed);
            }
            return self.apply(&mut state, resource, namespace, name, key, old, body, opts);
        }
        let old = old.ok_or_else(|| ApiError::NotFound(resource.subject(name)))?;
        let mut target = match subresource {
            Subresource::Scale => scale_of(&old)?,
            _ => (*old).clone(),
        };
        let patch_error = |e: patch::PatchError| ApiError::BadRequest(e.to_string());
        match kind {
            PatchKind::Merge => patch::merge_patch(&mut target, body),
            PatchKind::Json => patch::json_patch(&mut target, body).map_err(patch_error)?,
            PatchKind::Strategic => {
                patch::strategic_merge_patch(&mut target, body).map_err(patch_error)?
            }
            PatchKind::Apply => {
                return Err(ApiError::Internal(
                    "apply patches take the apply path".into(),
                ));
            }
        }
        let new = match subresource {
            Subresource::Scale => {
                check_scale_precondition(&old, &target)?;
                with_replicas(&old, &target)?
            }
            _ => {
                validation::check_patched_identity(resource, namespace, name, &target)?;
                validation::check_types(resource, &target)
                    .map_err(|e| e.for_patch(resource, name))?;
                target
            }
        };
        self.commit(
            &mut state,
            resource,
            key,
            old,
            new,
            subresource,
            opts,
            false,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        state: &mut State,
        resource: Resource,
        namespace: &str,
        name: &str,
        key: Key,
        old: Option<Arc<Value>>,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        if opts.manager.is_empty() {
            return Err(ApiError::Invalid {
                kind: "PatchOptions.meta.k8s.io".into(),
                subject: Subject::new("meta.k8s.io", "PatchOptions", ""),
                causes: vec![Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value: is required for apply patch".into(),
                    field: "fieldManager".into(),
                }],
            });
        }
        check_type(resource, body)?;
        validation::check_types(resource, body).map_err(|e| e.for_body(resource))?;
        validation::check_resource_version(body)?;
        if body.get("kind").is_none() || body.get("apiVersion").is_none() {
            return Err(ApiError::BadRequest(
                "apply requests need apiVersion and kind".into(),
            ));
        }
        check_body_name(name, body)?;
        if let (Some(ns), true) = (meta_str(body, "namespace"), resource.namespaced()) {
            if ns != namespace {
                return Err(namespace_mismatch());
            }
        }
        let mut applied = body.clone();
        if resource.has_status_subresource() {
            if let Some(map) = applied.as_object_mut() {
                map.remove("status");
            }
        }
        let now = now_rfc3339();
        let request = ApplyRequest {
            manager: &opts.manager,
            force: opts.force,
            api_version: resource.api_version(),
            now: &now,
            subject: resource.subject(name),
        };
        match old {
            None => {
                if resource.namespaced() {
                    check_namespace(state, namespace, body)?;
                }
                let mut merged = server_side_apply(None, &applied, &request)?;
                prepare_new(state, resource, namespace, name, &mut merged);
                defaults::apply_defaults(resource, &mut merged);
                validation::validate(resource, &merged)?;
                if opts.dry_run {
                    return Ok(Arc::new(merged));
                }
                Ok(self.insert(state, key, None, merged))
            }
            Some(old) => {
                if let Some(rv) = meta_str(body, "resourceVersion") {
                    if rv != meta_str(&old, "resourceVersion").unwrap_or("") {
                        return Err(ApiError::Modified(resource.subject(name)));
                    }
                }
                let merged = server_side_apply(Some(&old), &applied, &request)?;
                self.commit(
                    state,
                    resource,
                    key,
                    old,
                    merged,
                    Subresource::Main,
                    opts,
                    true,
                )
            }
        }
    }

    /// The shared write path for an existing object.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        state: &mut State,
        resource: Resource,
        key: Key,
        old: Arc<Value>,
        mut new: Value,
        subresource: Subresource,
        opts: &WriteOptions,
        applied: bool,
    ) -> Result<Arc<Value>, ApiError> {
        validation::check_resource_version(&new)?;
        validation::check_uid_unchanged(resource, &old, &new)?;
        let old_rv = meta_str(&old, "resourceVersion").unwrap_or("").to_string();
        if let Some(rv) = meta_str(&new, "resourceVersion") {
            if !rv.is_empty() && rv != old_rv {
                return Err(ApiError::Modified(resource.subject(&key.name)));
            }
        }
        if subresource == Subresource::Status {
            let status = new.get("status").cloned();
            new = (*old).clone();
            if let Some(map) = new.as_object_mut() {
                match status {
                    Some(s) => map.insert("status".into(), s),
                    None => map.remove("status"),
                };
            }
        } else if resource.has_status_subresource() {
            if let Some(map) = new.as_object_mut() {
                match old.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
        }
        if let Some(map) = new.as_object_mut() {
            map.insert("apiVersion".into(), json!(resource.api_version()));
            map.insert("kind".into(), json!(resource.kind()));
        }
        let meta = metadata_mut(&mut new);
        let old_meta = old.get("metadata").and_then(Value::as_object);
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
        ] {
            match old_meta.and_then(|m| m.get(field)) {
                Some(v) => meta.insert(field.into(), v.clone()),
                None => meta.remove(field),
            };
        }
        meta.insert("resourceVersion".into(), json!(old_rv));
        if !applied {
            // Client-sent managedFields are not honoured; ownership is recomputed below.
            match old_meta.and_then(|m| m.get("managedFields")) {
                Some(v) => meta.insert("managedFields".into(), v.clone()),
                None => meta.remove("managedFields"),
            };
        }
        defaults::apply_defaults(resource, &mut new);
        if resource.has_generation() && new.get("spec") != old.get("spec") {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                + 1;
            metadata_mut(&mut new).insert("generation".into(), json!(generation));
        }
        validation::validate(resource, &new)?;
        if !applied {
            let manager = if opts.manager.is_empty() {
                "unknown"
            } else {
                opts.manager.as_str()
            };
            fields::record_update(
                Some(&old),
                &mut new,
                manager,
                subresource.name(),
                resource.api_version(),
                &now_rfc3339(),
            );
        }
        if new == *old || opts.dry_run {
            return Ok(if opts.dry_run { Arc::new(new) } else { old });
        }
        Ok(self.insert(state, key, Some(old), new))
    }

    /// Stores a new version, assigns the next resourceVersion and publishes the event.
    fn insert(
        &self,
        state: &mut State,
        key: Key,
        old: Option<Arc<Value>>,
        mut new: Value,
    ) -> Arc<Value> {
        state.rv += 1;
        let rv = state.rv;
        metadata_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let object = Arc::new(new);
        let kind = if old.is_some() {
            EventKind::Modified
        } else {
            EventKind::Added
        };
        if key.resource == Resource::Deployment {
            state
                .dirty_deployments
                .push((key.namespace.clone(), key.name.clone()));
            self.deployments_changed.notify_one();
        }
        state.objects.insert(key.clone(), object.clone());
        self.publish(
            state,
            Event::new(rv, kind, key.resource, object.clone(), old),
        );
        object
    }

    /// Records an event in the history; called with the state lock held, so events
    /// enter the feed in resourceVersion order.
    fn publish(&self, _state: &mut State, event: Event) {
        self.feed.push(Arc::new(event));
    }

    pub fn delete(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        precondition_rv: Option<&str>,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        let key = Key::new(resource, namespace, name);
        let old = state
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(resource.subject(name)))?;
        if resource == Resource::Namespace {
            validation::check_namespace_delete(name)?;
        }
        if let Some(rv) = precondition_rv {
            if meta_str(&old, "resourceVersion") != Some(rv) {
                return Err(ApiError::Modified(resource.subject(name)));
            }
        }
        if dry_run {
            return Ok(old);
        }
        if resource == Resource::Namespace {
            let contained: Vec<Key> = state
                .objects
                .keys()
                .filter(|k| k.resource.namespaced() && k.namespace == name)
                .cloned()
                .collect();
            for k in contained {
                self.remove(&mut state, k);
            }
        }
        Ok(self.remove(&mut state, key).unwrap_or(old))
    }

    fn remove(&self, state: &mut State, key: Key) -> Option<Arc<Value>> {
        let old = state.objects.remove(&key)?;
        state.rv += 1;
        let mut last = (*old).clone();
        metadata_mut(&mut last).insert("resourceVersion".into(), json!(state.rv.to_string()));
        let last = Arc::new(last);
        if key.resource == Resource::Deployment {
            state
                .dirty_deployments
                .push((key.namespace.clone(), key.name.clone()));
            self.deployments_changed.notify_one();
        }
        let rv = state.rv;
        self.publish(
            state,
            Event::new(
                rv,
                EventKind::Deleted,
                key.resource,
                last.clone(),
                Some(old),
            ),
        );
        Some(last)
    }

    /// Subscribes to changes, with the backlog a watch from `from` must see first.
    pub fn watch(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        from: WatchFrom,
    ) -> Result<WatchStart, ApiError> {
        let state = self.lock();
        let (initial, start_rv) = match from {
            WatchFrom::Version(rv) => {
                self.feed.check(rv).map_err(|e| ApiError::Gone {
                    requested: rv,
                    oldest: e.oldest,
                })?;
                (Vec::new(), rv)
            }
            WatchFrom::Current => (
                state
                    .objects
                    .iter()
                    .filter(|(k, _)| {
                        k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns)
                    })
                    .map(|(_, v)| {
                        let rv = meta_str(v, "resourceVersion")
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(0);
                        Arc::new(Event::new(rv, EventKind::Added, resource, v.clone(), None))
                    })
                    .collect(),
                state.rv,
            ),
        };
        Ok(WatchStart {
            initial,
            feed: self.feed.clone(),
            start_rv,
        })
    }

    /// Forgets the event history, as an etcd compaction does: watches resuming from any
    /// earlier resourceVersion get 410 Gone and must re-list.
    pub fn compact(&self) {
        let state = self.lock();
        self.feed.compact(state.rv);
    }

    /// (events, estimated bytes) held by the watch history.
    #[cfg(test)]
    pub fn history_usage(&self) -> (usize, usize) {
        self.feed.usage()
    }

    /// Marks every Deployment as written (a restarted rollout controller re-reads them all).
    pub(crate) fn mark_all_deployments_dirty(&self) {
        let mut state = self.lock();
        let keys: Vec<(String, String)> = state
            .objects
            .keys()
            .filter(|k| k.resource == Resource::Deployment)
            .map(|k| (k.namespace.clone(), k.name.clone()))
            .collect();
        state.dirty_deployments.extend(keys);
        self.deployments_changed.notify_one();
    }

    /// Deployments written since the last call (for the rollout controller).
    pub(crate) fn take_dirty_deployments(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.lock().dirty_deployments)
    }

    /// The controller's status write; skipped when the status did not change or the
    /// Deployment moved on to a newer generation meanwhile.
    pub(crate) fn write_deployment_status(
        &self,
        namespace: &str,
        name: &str,
        generation: i64,
        status: Value,
    ) -> Option<Arc<Value>> {
        let mut state = self.lock();
        let key = Key::new(Resource::Deployment, namespace, name);
        let old = state.objects.get(&key).cloned()?;
        if old.pointer("/metadata/generation").and_then(Value::as_i64) != Some(generation) {
            return None;
        }
        if old.get("status") == Some(&status) {
            return None;
        }
        let mut new = (*old).clone();
        if let Some(map) = new.as_object_mut() {
            map.insert("status".into(), status);
        }
        fields::record_update(
            Some(&old),
            &mut new,
            "kube-controller-manager",
            Some("status"),
            "apps/v1",
            &now_rfc3339(),
        );
        // The controller's own writes do not re-trigger it.
        let object = self.insert(&mut state, key.clone(), Some(old), new);
        state
            .dirty_deployments
            .retain(|(ns, n)| !(ns == namespace && n == name));
        Some(object)
    }
}

fn namespace_mismatch() -> ApiError {
    ApiError::BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request"
            .into(),
    )
}

fn check_type(resource: Resource, body: &Value) -> Result<(), ApiError> {
    let kind = body.get("kind").and_then(Value::as_str);
    let api_version = body.get("apiVersion").and_then(Value::as_str);
    if kind.is_some_and(|k| k != resource.kind())
        || api_version.is_some_and(|v| v != resource.api_version())
    {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({}) does not match the expected API version ({}) or kind ({}) does not match {}",
            api_version.unwrap_or(""),
            resource.api_version(),
            kind.unwrap_or(""),
            resource.kind()
        )));
    }
    Ok(())
}

fn check_body_name(name: &str, body: &Value) -> Result<(), ApiError> {
    match meta_str(body, "name") {
        Some(n) if n != name => Err(ApiError::BadRequest(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

fn check_namespace(state: &State, namespace: &str, body: &Value) -> Result<(), ApiError> {
    if let Some(ns) = meta_str(body, "namespace") {
        if !ns.is_empty() && ns != namespace {
            return Err(namespace_mismatch());
        }
    }
    if !state
        .objects
        .contains_key(&Key::new(Resource::Namespace, "", namespace))
    {
        return Err(ApiError::NotFound(Resource::Namespace.subject(namespace)));
    }
    Ok(())
}

/// Server-set metadata of a new object.
fn prepare_new(
    state: &mut State,
    resource: Resource,
    namespace: &str,
    name: &str,
    body: &mut Value,
) {
    let uid = {
        let b: [u8; 16] = state.rng.random();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_be_bytes([b[4], b[5]]),
            u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
            (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
            u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
        )
    };
    if let Some(map) = body.as_object_mut() {
        map.insert("apiVersion".into(), json!(resource.api_version()));
        map.insert("kind".into(), json!(resource.kind()));
    }
    let meta = metadata_mut(body);
    meta.insert("name".into(), json!(name));
    if resource.namespaced() {
        meta.insert("namespace".into(), json!(namespace));
    } else {
        meta.remove("namespace");
    }
    meta.insert("uid".into(), json!(uid));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    meta.remove("resourceVersion");
    meta.remove("generateName");
    if resource.has_generation() {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(manager: &str) -> WriteOptions {
        WriteOptions {
            manager: manager.into(),
            ..Default::default()
        }
    }

    fn deployment(name: &str, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}},
                                     "spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    #[test]
    fn builtin_namespaces_exist() {
        let store = Store::new(1, 100);
        let (items, _) = store.list(
            Resource::Namespace,
            None,
            &LabelSelector::default(),
            &FieldSelector::default(),
        );
        assert_eq!(items.len(), 4);
    }

    #[test]
    fn create_in_missing_namespace_is_not_found() {
        let store = Store::new(1, 100);
        let body = json!({"metadata": {"name": "c"}});
        let err = store
            .create(Resource::ConfigMap, "nope", body, &opts("t"))
            .unwrap_err();
        assert_eq!(err.to_string(), "namespaces \"nope\" not found");
    }

    #[test]
    fn stale_resource_version_update_conflicts() {
        let store = Store::new(1, 100);
        let created = store
            .create(
                Resource::Deployment,
                "default",
                deployment("web", "a:1"),
                &opts("t"),
            )
            .unwrap();
        let mut first = (*created).clone();
        first["spec"]["replicas"] = json!(3);
        store
            .update(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Main,
                first,
                &opts("t"),
            )
            .unwrap();
        let mut stale = (*created).clone();
        stale["spec"]["replicas"] = json!(4);
        let err = store
            .update(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Main,
                stale,
                &opts("t"),
            )
            .unwrap_err();
        assert!(matches!(err, ApiError::Modified(_)), "{err:?}");
    }

    #[test]
    fn generation_bumps_only_on_spec_change() {
        let store = Store::new(1, 100);
        store
            .create(
                Resource::Deployment,
                "default",
                deployment("web", "a:1"),
                &opts("t"),
            )
            .unwrap();
        let labelled = store
            .patch(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Main,
                PatchKind::Merge,
                &json!({"metadata": {"labels": {"x": "y"}}}),
                &opts("t"),
            )
            .unwrap();
        assert_eq!(labelled["metadata"]["generation"], 1);
        let scaled = store
            .patch(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Scale,
                PatchKind::Merge,
                &json!({"spec": {"replicas": 5}}),
                &opts("kubectl-scale"),
            )
            .unwrap();
        assert_eq!(scaled["metadata"]["generation"], 2);
        assert_eq!(scaled["spec"]["replicas"], 5);
    }

    #[test]
    fn no_op_write_keeps_resource_version() {
        let store = Store::new(1, 100);
        let created = store
            .create(
                Resource::Deployment,
                "default",
                deployment("web", "a:1"),
                &opts("t"),
            )
            .unwrap();
        let again = store
            .patch(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Main,
                PatchKind::Merge,
                &json!({"spec": {"replicas": 2}}),
                &opts("t"),
            )
            .unwrap();
        assert_eq!(
            created["metadata"]["resourceVersion"],
            again["metadata"]["resourceVersion"]
        );
    }

    #[test]
    fn reapplying_the_same_config_is_a_no_op() {
        let store = Store::new(1, 100);
        let mut config = deployment("web", "a:1");
        config["spec"]["template"]["spec"]["containers"][0]["ports"] =
            json!([{"containerPort": 80}]);
        let opts = WriteOptions {
            manager: "pushpull".into(),
            ..Default::default()
        };
        let apply = || {
            store
                .patch(
                    Resource::Deployment,
                    "default",
                    "web",
                    Subresource::Main,
                    PatchKind::Apply,
                    &config,
                    &opts,
                )
                .unwrap()
        };
        let first = apply();
        let second = apply();
        assert_eq!(
            second["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]
        );
        assert_eq!(second["metadata"]["generation"], 1);
        assert_eq!(
            second["spec"]["template"]["spec"]["containers"][0]["ports"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        let store = Store::new(1, 100);
        for body in [
            Value::Null,
            json!([]),
            json!("x"),
            json!({"metadata": 3}),
            json!({"metadata": {"name": 7}}),
        ] {
            assert!(
                store
                    .create(Resource::Deployment, "default", body.clone(), &opts("t"))
                    .is_err(),
                "{body}"
            );
            assert!(
                store
                    .create(Resource::Namespace, "", body.clone(), &opts("t"))
                    .is_err(),
                "{body}"
            );
            let applied = store.patch(
                Resource::Deployment,
                "default",
                "x",
                Subresource::Main,
                PatchKind::Apply,
                &body,
                &opts("t"),
            );
            assert!(applied.is_err(), "{body}");
        }
        store
            .create(
                Resource::Deployment,
                "default",
                deployment("web", "a:1"),
                &opts("t"),
            )
            .unwrap();
        for (kind, body) in [
            (PatchKind::Merge, json!("x")),
            (PatchKind::Merge, json!({"spec": "x"})),
            (PatchKind::Merge, json!({"spec": {"replicas": -1}})),
            (PatchKind::Json, json!({"op": "add"})),
            (
                PatchKind::Json,
                json!([{"op": "add", "path": "/spec/template/spec/containers/9", "value": 1}]),
            ),
            (PatchKind::Strategic, json!([1])),
            (
                PatchKind::Strategic,
                json!({"spec": {"template": {"spec": {"containers": [1]}}}}),
            ),
        ] {
            let patched = store.patch(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Main,
                kind,
                &body,
                &opts("t"),
            );
            assert!(patched.is_err(), "{kind:?} {body}");
        }
        for body in [
            json!({"spec": {"replicas": "x"}}),
            json!({"spec": null}),
            json!("x"),
        ] {
            let scaled = store.patch(
                Resource::Deployment,
                "default",
                "web",
                Subresource::Scale,
                PatchKind::Merge,
                &body,
                &opts("t"),
            );
            assert!(scaled.is_err(), "{body}");
        }
        assert_eq!(
            store.get(Resource::Deployment, "default", "web").unwrap()["metadata"]["generation"],
            1
        );
    }

    #[test]
    fn watch_from_compacted_version_is_gone() {
        let store = Store::new(1, 100);
        let rv = store.resource_version();
        store
            .create(
                Resource::ConfigMap,
                "default",
                json!({"metadata": {"name": "a"}}),
                &opts("t"),
            )
            .unwrap();
        assert_eq!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(rv))
                .unwrap()
                .backlog()
                .len(),
            1
        );
        store.compact();
        assert!(matches!(
            store.watch(Resource::ConfigMap, None, WatchFrom::Version(rv)),
            Err(ApiError::Gone { .. })
        ));
    }

    #[test]
    fn history_limit_compacts_oldest_events() {
        let store = Store::new(1, 2);
        let rv = store.resource_version();
        for name in ["a", "b", "c"] {
            store
                .create(
                    Resource::ConfigMap,
                    "default",
                    json!({"metadata": {"name": name}}),
                    &opts("t"),
                )
                .unwrap();
        }
        assert!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(rv))
                .is_err()
        );
        assert_eq!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(rv + 1))
                .unwrap()
                .backlog()
                .len(),
            2
        );
    }

    #[test]
    fn large_updates_keep_the_watch_history_within_its_byte_budget() {
        let budget = 8 * 1024 * 1024;
        let store = Store::with_history(1, 10_000, budget);
        let from = store.resource_version();
        let big = "x".repeat(900 * 1024);
        store
            .create(
                Resource::ConfigMap,
                "default",
                json!({"metadata": {"name": "big"}, "data": {"v": big}}),
                &opts("t"),
            )
            .unwrap();
        for i in 0..200 {
            store
                .patch(
                    Resource::ConfigMap,
                    "default",
                    "big",
                    Subresource::Main,
                    PatchKind::Merge,
                    &json!({"metadata": {"labels": {"i": i.to_string()}}}),
                    &opts("t"),
                )
                .unwrap();
            let (_, bytes) = store.history_usage();
            assert!(bytes <= budget, "update {i}: {bytes} bytes held");
        }
        assert!(matches!(
            store.watch(Resource::ConfigMap, None, WatchFrom::Version(from)),
            Err(ApiError::Gone { .. })
        ));
        let now = store.resource_version();
        assert!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(now - 1))
                .is_ok()
        );
    }

    #[test]
    fn system_namespaces_cannot_be_deleted_even_in_dry_run() {
        let store = Store::new(1, 100);
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            for dry_run in [false, true] {
                let err = store
                    .delete(Resource::Namespace, "", ns, None, dry_run)
                    .unwrap_err();
                assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
            }
        }
        assert!(store.get(Resource::Namespace, "", "default").is_ok());
    }

    #[test]
    fn deleting_a_namespace_deletes_its_objects() {
        let store = Store::new(1, 100);
        store
            .create(
                Resource::Namespace,
                "",
                json!({"metadata": {"name": "pushpull-a"}}),
                &opts("t"),
            )
            .unwrap();
        store
            .create(
                Resource::ConfigMap,
                "pushpull-a",
                json!({"metadata": {"name": "c"}}),
                &opts("t"),
            )
            .unwrap();
        store
            .delete(Resource::Namespace, "", "pushpull-a", None, false)
            .unwrap();
        assert!(store.get(Resource::ConfigMap, "pushpull-a", "c").is_err());
    }
}
