//! The object state: objects keyed by type, namespace and name, the resourceVersion
//! counter, and the verbs on them (get, list, create, update, patch, apply, delete, the
//! rollout controller's hooks). Each write runs `admission` and then `insert` or `remove`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::admission::{self, check_body_name, check_namespace, prepare_new};
use super::{PatchKind, Store, Subresource, WriteOptions, meta_str, metadata_mut, now_rfc3339};
use crate::apply::{ApplyRequest, server_side_apply};
use crate::event::{Event, EventKind};
use crate::fields;
use crate::patch;
use crate::resource::Resource;
use crate::scale::{check_scale_precondition, scale_of, with_replicas};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, Cause};
use crate::validation;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub(super) resource: Resource,
    pub(super) namespace: String,
    pub(super) name: String,
}

impl Key {
    pub(super) fn new(resource: Resource, namespace: &str, name: &str) -> Key {
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

pub(super) struct State {
    pub(super) rv: u64,
    pub(super) objects: BTreeMap<Key, Arc<Value>>,
    pub(super) rng: ChaCha8Rng,
    pub(super) dirty_deployments: Vec<(String, String)>,
    /// Deployments one of whose ReplicaSets or Pods a client deleted or marked.
    pub(super) resync_deployments: Vec<(String, String)>,
}

impl Store {
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
        // Keys order by type, then namespace: one range scan, not a walk over every object.
        let start = Key {
            resource,
            namespace: namespace.unwrap_or("").to_string(),
            name: String::new(),
        };
        let items = state
            .objects
            .range(start..)
            .take_while(|(k, _)| {
                k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .filter(|(_, v)| labels.matches(v) && fields.matches(v))
            .map(|(_, v)| v.clone())
            .collect();
        (items, state.rv)
    }

    /// The controllers' write path: creates or replaces an object without admission (they
    /// write only well-formed objects, generation included). uid and creationTimestamp are
    /// kept; nothing is written when nothing changed.
    pub(crate) fn put_owned(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        mut new: Value,
    ) -> Option<Arc<Value>> {
        let mut state = self.lock();
        let key = Key::new(resource, namespace, name);
        let old = state.objects.get(&key).cloned();
        match &old {
            None => {
                let generation = new.pointer("/metadata/generation").cloned();
                prepare_new(&mut state, resource, namespace, name, &mut new);
                if let Some(g) = generation {
                    metadata_mut(&mut new).insert("generation".into(), g);
                }
            }
            Some(old) => {
                let meta = metadata_mut(&mut new);
                for field in ["uid", "creationTimestamp", "resourceVersion"] {
                    match old.get("metadata").and_then(|m| m.get(field)) {
                        Some(v) => meta.insert(field.into(), v.clone()),
                        None => meta.remove(field),
                    };
                }
                if new == **old {
                    return None;
                }
            }
        }
        Some(self.insert(&mut state, key, old, new))
    }

    /// The controllers' in-place change of an existing object (a Deployment's revision
    /// annotation, a finalizer); no write when `change` leaves it equal. A Deployment
    /// changed this way is not handed back to the controller as dirty.
    pub(crate) fn update_owned(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Option<Arc<Value>> {
        let mut state = self.lock();
        let key = Key::new(resource, namespace, name);
        let old = state.objects.get(&key).cloned()?;
        let mut new = (*old).clone();
        change(&mut new);
        if new == *old {
            return None;
        }
        let object = self.insert(&mut state, key, Some(old), new);
        if resource == Resource::Deployment {
            state
                .dirty_deployments
                .retain(|(ns, n)| !(ns == namespace && n == name));
        }
        Some(object)
    }

    /// The controllers' delete (garbage collection, finalized foreground deletion).
    pub(crate) fn remove_owned(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<Value>> {
        let mut state = self.lock();
        self.remove_as(&mut state, Key::new(resource, namespace, name), false)
    }

    pub fn create(
        &self,
        resource: Resource,
        namespace: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, ApiError> {
        let mut state = self.lock();
        admission::check_body(resource, &body)?;
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
        admission::admit_created(resource, &mut body, opts)?;
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
                admission::check_body(resource, &body)?;
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
                admission::check_patched(resource, namespace, name, &target)?;
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
        let applied = admission::check_apply(resource, namespace, name, body, opts)?;
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
                admission::default_and_validate(resource, &mut merged)?;
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
        new: Value,
        subresource: Subresource,
        opts: &WriteOptions,
        applied: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let new =
            admission::admit_update(resource, &key.name, &old, new, subresource, opts, applied)?;
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

    pub fn delete(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        precondition_rv: Option<&str>,
        dry_run: bool,
    ) -> Result<Arc<Value>, ApiError> {
        self.delete_with(
            resource,
            namespace,
            name,
            precondition_rv,
            dry_run,
            Propagation::Background,
        )
    }

    /// DELETE with a propagation policy. `Foreground` on a Deployment or ReplicaSet marks it
    /// (`deletionTimestamp`, finalizer `foregroundDeletion`) and leaves it to the controller,
    /// which deletes the dependents first and then the object; `Orphan` on them strips the
    /// dependents' owner references before the object goes; `Background` removes it at once
    /// and the controller collects the dependents after.
    pub fn delete_with(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        precondition_rv: Option<&str>,
        dry_run: bool,
        propagation: Propagation,
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
        let owner = matches!(resource, Resource::Deployment | Resource::ReplicaSet);
        if owner && propagation == Propagation::Foreground {
            if old.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(old);
            }
            let mut marked = (*old).clone();
            let meta = metadata_mut(&mut marked);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut() {
                list.push(json!("foregroundDeletion"));
            }
            let marked = self.insert(&mut state, key, Some(old), marked);
            self.mark_owner_dirty(&mut state, resource, namespace, &marked);
            return Ok(marked);
        }
        if owner && propagation == Propagation::Orphan {
            let uid = meta_str(&old, "uid").unwrap_or("").to_string();
            let dependent = if resource == Resource::Deployment {
                Resource::ReplicaSet
            } else {
                Resource::Pod
            };
            let start = Key::new(dependent, namespace, "");
            let owned: Vec<Key> = state
                .objects
                .range(start..)
                .take_while(|(k, _)| k.resource == dependent && k.namespace == namespace)
                .filter(|(_, v)| owner_uid(v) == Some(uid.as_str()))
                .map(|(k, _)| k.clone())
                .collect();
            for k in owned {
                if let Some(child) = state.objects.get(&k).cloned() {
                    let mut freed = (*child).clone();
                    metadata_mut(&mut freed).remove("ownerReferences");
                    self.insert(&mut state, k, Some(child), freed);
                }
            }
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

    /// A client's write to a ReplicaSet or Pod wakes the Deployment that owns it.
    fn mark_owner_dirty(
        &self,
        state: &mut State,
        resource: Resource,
        namespace: &str,
        object: &Value,
    ) {
        let deployment = match resource {
            Resource::Deployment => meta_str(object, "name").map(String::from),
            Resource::ReplicaSet => owner_name(object, "Deployment"),
            Resource::Pod => owner_name(object, "ReplicaSet").and_then(|rs| {
                state
                    .objects
                    .get(&Key::new(Resource::ReplicaSet, namespace, &rs))
                    .and_then(|rs| owner_name(rs, "Deployment"))
            }),
            _ => None,
        };
        if let Some(name) = deployment {
            if resource != Resource::Deployment {
                state
                    .resync_deployments
                    .push((namespace.to_string(), name.clone()));
            }
            state.dirty_deployments.push((namespace.to_string(), name));
            self.deployments_changed.notify_one();
        }
    }

    /// Deployments whose ReplicaSets or Pods a client deleted since the last call.
    pub(crate) fn take_resync_deployments(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.lock().resync_deployments)
    }

    fn remove(&self, state: &mut State, key: Key) -> Option<Arc<Value>> {
        self.remove_as(state, key, true)
    }

    /// Removes an object; `wake_owner`: a client's delete, which the controller of the
    /// owning Deployment must see (it re-creates what it still wants).
    fn remove_as(&self, state: &mut State, key: Key, wake_owner: bool) -> Option<Arc<Value>> {
        let old = state.objects.remove(&key)?;
        state.rv += 1;
        let mut last = (*old).clone();
        metadata_mut(&mut last).insert("resourceVersion".into(), json!(state.rv.to_string()));
        let last = Arc::new(last);
        if key.resource == Resource::Deployment
            || (wake_owner && matches!(key.resource, Resource::ReplicaSet | Resource::Pod))
        {
            self.mark_owner_dirty(state, key.resource, &key.namespace, &old);
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

    /// Deployments written since the last call (for the rollout controller), each once
    /// in the order of its first write: like kube-controller-manager's work queue, a burst
    /// of writes to one Deployment is one sync.
    pub(crate) fn take_dirty_deployments(&self) -> Vec<(String, String)> {
        let mut keys = std::mem::take(&mut self.lock().dirty_deployments);
        if keys.len() > 1 {
            let mut seen = std::collections::HashSet::with_capacity(keys.len());
            keys.retain(|k| seen.insert(k.clone()));
        }
        keys
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
        if old
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            != Some(generation)
        {
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

/// How a delete treats the object's dependents (`DeleteOptions.propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

/// The uid of an object's controller owner reference.
pub(crate) fn owner_uid(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
}

/// The name of an object's controller owner of the given kind.
fn owner_name(object: &Value, kind: &str) -> Option<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("kind").and_then(Value::as_str) == Some(kind)
        })
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::resource::Resource;
    use crate::selector::{FieldSelector, LabelSelector};
    use crate::status::ApiError;
    use crate::store::fixtures::{deployment, opts};
    use crate::store::{PatchKind, Store, Subresource, WriteOptions};

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
