//! Admission: what a write request goes through before the store keeps it, as in the API
//! server: type, name and namespace checks, server-set metadata, server-owned fields carried
//! over, defaulting, generation, validation and the field manager's managedFields entry.

use rand::Rng;
use serde_json::{Value, json};

use super::state::{Key, State};
use super::{Subresource, WriteOptions, meta_str, metadata_mut, now_rfc3339};
use crate::defaults;
use crate::fields;
use crate::resource::Resource;
use crate::status::{ApiError, Cause, Subject};
use crate::validation;

/// A body's declared type and field types, before anything else looks at it.
pub(super) fn check_body(resource: Resource, body: &Value) -> Result<(), ApiError> {
    check_type(resource, body)?;
    validation::check_types(resource, body).map_err(|e| e.for_body(resource))
}

/// A patched object keeps its identity and field types.
pub(super) fn check_patched(
    resource: Resource,
    namespace: &str,
    name: &str,
    target: &Value,
) -> Result<(), ApiError> {
    validation::check_patched_identity(resource, namespace, name, target)?;
    validation::check_types(resource, target).map_err(|e| e.for_patch(resource, name))?;
    Ok(())
}

/// Defaulting, then validation of the defaulted object.
pub(super) fn default_and_validate(resource: Resource, body: &mut Value) -> Result<(), ApiError> {
    defaults::apply_defaults(resource, body);
    validation::validate(resource, body)
}

/// A created object (server-set metadata already in place): defaults, validation, no
/// status on create, and the creating manager's managedFields entry.
pub(super) fn admit_created(
    resource: Resource,
    body: &mut Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    default_and_validate(resource, body)?;
    if resource == Resource::Deployment {
        if let Some(map) = body.as_object_mut() {
            map.remove("status");
        }
    }
    fields::record_update(
        None,
        body,
        &opts.manager,
        None,
        resource.api_version(),
        &now_rfc3339(),
    );
    Ok(())
}

/// A server-side apply request's checks; returns the configuration to merge (without the
/// status, which apply cannot set on a type with a status subresource).
pub(super) fn check_apply(
    resource: Resource,
    namespace: &str,
    name: &str,
    body: &Value,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
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
    check_body(resource, body)?;
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
    Ok(applied)
}

/// An update of an existing object (`old`): resourceVersion precondition, the fields the
/// server owns carried over from `old` (status unless this is a status write, identity,
/// managedFields unless applied), defaults, generation, validation and the manager's
/// managedFields entry. Returns the object to store.
#[allow(clippy::too_many_arguments)]
pub(super) fn admit_update(
    resource: Resource,
    name: &str,
    old: &Value,
    mut new: Value,
    subresource: Subresource,
    opts: &WriteOptions,
    applied: bool,
) -> Result<Value, ApiError> {
    validation::check_resource_version(&new)?;
    validation::check_uid_unchanged(resource, old, &new)?;
    let old_rv = meta_str(old, "resourceVersion").unwrap_or("").to_string();
    if let Some(rv) = meta_str(&new, "resourceVersion") {
        if !rv.is_empty() && rv != old_rv {
            return Err(ApiError::Modified(resource.subject(name)));
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
            Some(old),
            &mut new,
            manager,
            subresource.name(),
            resource.api_version(),
            &now_rfc3339(),
        );
    }
    Ok(new)
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

pub(super) fn check_body_name(name: &str, body: &Value) -> Result<(), ApiError> {
    match meta_str(body, "name") {
        Some(n) if n != name => Err(ApiError::BadRequest(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

pub(super) fn check_namespace(
    state: &State,
    namespace: &str,
    body: &Value,
) -> Result<(), ApiError> {
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
pub(super) fn prepare_new(
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
    use serde_json::{Value, json};

    use crate::resource::Resource;
    use crate::store::fixtures::{deployment, opts};
    use crate::store::{PatchKind, Store, Subresource};

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
}
