//! Server-side apply: merges an applied configuration into the live object, owning exactly
//! the applied fields for the field manager. Changing a value another manager owns is a
//! conflict (409) unless `force`, which transfers ownership, as the Kubernetes docs describe.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fields::{self, FieldSet, ManagedEntry, Path};
use super::schema;
use super::status::{ApiError, Cause, Subject};

/// Who applies and how.
#[derive(Debug, Clone)]
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub api_version: &'a str,
    /// RFC 3339 time stamped on the manager's entry.
    pub now: &'a str,
    pub subject: Subject,
}

/// Returns the merged object (with updated `managedFields`) or the conflicts.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    req: &ApplyRequest<'_>,
) -> Result<Value, ApiError> {
    let applied_set = FieldSet::of_object(applied);
    let mut entries = live.map(fields::read_managed_fields).unwrap_or_default();
    let is_mine =
        |e: &ManagedEntry| e.manager == req.manager && e.is_apply() && e.subresource.is_none();
    let previous = entries
        .iter()
        .find(|e| is_mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();

    let mut conflicts: BTreeMap<(String, String), Vec<Path>> = BTreeMap::new();
    for path in applied_set.leaves() {
        if path.last().map(String::as_str) == Some(".") {
            continue;
        }
        let live_value = live.and_then(|l| fields::value_at(l, &path));
        if live_value == fields::value_at(applied, &path) {
            continue;
        }
        for entry in entries
            .iter()
            .filter(|e| !is_mine(e) && e.subresource.as_deref() != Some("status"))
        {
            if entry.fields.contains(&path) {
                conflicts
                    .entry((entry.manager.clone(), entry.api_version.clone()))
                    .or_default()
                    .push(path.clone());
            }
        }
    }
    if !conflicts.is_empty() {
        if !req.force {
            return Err(conflict_error(&conflicts, req.subject.clone()));
        }
        for ((manager, _), paths) in &conflicts {
            for entry in entries
                .iter_mut()
                .filter(|e| &e.manager == manager && !is_mine(e))
            {
                for path in paths {
                    entry.fields.remove(path);
                }
            }
        }
    }

    let mut merged = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    for path in previous.leaves() {
        if applied_set.contains(&path) {
            continue;
        }
        let owned_elsewhere = entries
            .iter()
            .any(|e| !is_mine(e) && e.fields.contains(&path));
        if !owned_elsewhere {
            fields::remove_at(&mut merged, &path);
        }
    }
    merge_applied(&mut merged, applied);

    let entry = ManagedEntry {
        manager: req.manager.to_string(),
        operation: "Apply".into(),
        api_version: req.api_version.to_string(),
        time: req.now.to_string(),
        subresource: None,
        fields: applied_set,
    };
    match entries.iter().position(is_mine) {
        Some(i) => {
            let unchanged = entries[i].fields == entry.fields;
            let time = entries[i].time.clone();
            entries[i] = entry;
            if unchanged {
                entries[i].time = time;
            }
        }
        None => entries.push(entry),
    }
    fields::write_managed_fields(&mut merged, &entries);
    Ok(merged)
}

fn conflict_error(conflicts: &BTreeMap<(String, String), Vec<Path>>, subject: Subject) -> ApiError {
    let total: usize = conflicts.values().map(Vec::len).sum();
    let mut parts = Vec::new();
    let mut causes = Vec::new();
    for ((manager, version), paths) in conflicts {
        let rendered: Vec<String> = paths.iter().map(|p| fields::path_to_string(p)).collect();
        if rendered.len() == 1 {
            parts.push(format!(
                "conflict with \"{manager}\" using {version}: {}",
                rendered[0]
            ));
        } else {
            parts.push(format!(
                "conflicts with \"{manager}\" using {version}:\n- {}",
                rendered.join("\n- ")
            ));
        }
        for field in rendered {
            causes.push(Cause {
                reason: "FieldManagerConflict".into(),
                message: format!("conflict with \"{manager}\" using {version}"),
                field,
            });
        }
    }
    let plural = if total == 1 { "" } else { "s" };
    ApiError::ApplyConflict {
        subject,
        message: format!(
            "Apply failed with {total} conflict{plural}: {}",
            parts.join("\n")
        ),
        causes,
    }
}

/// Overlays the applied configuration: structs merge, keyed lists merge item by item,
/// atomic values replace.
fn merge_applied(target: &mut Value, applied: &Value) {
    let (Value::Object(target_map), Value::Object(applied_map)) = (&mut *target, applied) else {
        *target = applied.clone();
        return;
    };
    for (key, value) in applied_map {
        if key == "metadata" {
            if let Value::Object(meta) = value {
                let slot = target_map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                for (mk, mv) in meta {
                    if mk == "managedFields" || mk == "resourceVersion" || mk == "uid" {
                        continue;
                    }
                    if let Value::Object(slot_map) = slot {
                        merge_field(slot_map, mk, mv);
                    }
                }
            }
            continue;
        }
        merge_field(target_map, key, value);
    }
}

fn merge_field(target: &mut Map<String, Value>, key: &str, value: &Value) {
    match value {
        Value::Object(_) if !schema::is_atomic_object(key) => {
            let slot = target
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            merge_applied(slot, value);
        }
        Value::Array(items) if schema::list_keys(key).is_some() => {
            let keys = schema::list_keys(key).unwrap_or(&[]);
            let slot = target
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(existing) = slot {
                for item in items {
                    // Compare rendered keys so defaulted key fields (a port's protocol) match.
                    let key = fields::key_element(item, keys);
                    match existing
                        .iter_mut()
                        .find(|e| key.is_some() && fields::key_element(e, keys) == key)
                    {
                        Some(found) => merge_applied(found, item),
                        None => existing.push(item.clone()),
                    }
                }
            }
        }
        other => {
            target.insert(key.to_string(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req<'a>(manager: &'a str, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            manager,
            force,
            api_version: "v1",
            now: "2024-01-01T00:00:00Z",
            subject: Subject::new("", "configmaps", "test-cm"),
        }
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "test-cm", "namespace": "default"}, "data": data})
    }

    #[test]
    fn second_manager_changing_owned_field_conflicts_and_force_takes_ownership() {
        let first = server_side_apply(
            None,
            &cm(json!({"key": "value1"})),
            &req("manager-one", false),
        )
        .expect("first apply creates");
        let err = server_side_apply(
            Some(&first),
            &cm(json!({"key": "value2"})),
            &req("manager-two", false),
        )
        .expect_err("changing a field owned by another manager conflicts");
        let ApiError::ApplyConflict {
            message, causes, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(
            message,
            "Apply failed with 1 conflict: conflict with \"manager-one\" using v1: .data.key"
        );
        assert_eq!(causes[0].field, ".data.key");

        let forced = server_side_apply(
            Some(&first),
            &cm(json!({"key": "value2"})),
            &req("manager-two", true),
        )
        .expect("force succeeds");
        assert_eq!(forced["data"]["key"], "value2");
        let entries = fields::read_managed_fields(&forced);
        let key: Path = vec!["f:data".into(), "f:key".into()];
        assert!(
            entries
                .iter()
                .find(|e| e.manager == "manager-two")
                .unwrap()
                .fields
                .contains(&key)
        );
        assert!(
            !entries
                .iter()
                .any(|e| e.manager == "manager-one" && e.fields.contains(&key))
        );
    }

    #[test]
    fn applying_the_same_value_shares_ownership() {
        let first = server_side_apply(None, &cm(json!({"key": "v"})), &req("a", false)).unwrap();
        let second =
            server_side_apply(Some(&first), &cm(json!({"key": "v"})), &req("b", false)).unwrap();
        let entries = fields::read_managed_fields(&second);
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn fields_dropped_from_the_config_are_removed_when_nobody_else_owns_them() {
        let first =
            server_side_apply(None, &cm(json!({"a": "1", "b": "2"})), &req("a", false)).unwrap();
        let second =
            server_side_apply(Some(&first), &cm(json!({"a": "1"})), &req("a", false)).unwrap();
        assert_eq!(second["data"], json!({"a": "1"}));
    }

    #[test]
    fn keyed_lists_merge_by_name() {
        let live = json!({"spec": {"containers": [{"name": "app", "image": "x:1", "env": [{"name": "A", "value": "1"}]}]}});
        let applied = json!({"spec": {"containers": [{"name": "app", "image": "x:2"}, {"name": "side", "image": "s"}]}});
        let merged = server_side_apply(Some(&live), &applied, &req("m", false)).unwrap();
        let containers = merged["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["image"], "x:2");
        assert_eq!(containers[0]["env"][0]["value"], "1");
    }
}
