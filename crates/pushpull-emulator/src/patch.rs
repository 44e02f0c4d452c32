//! The three client-side patch formats the API accepts: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902) and strategic merge patch (merge patch plus keyed lists and
//! `$patch`/`$setElementOrder`/`$retainKeys` directives, enough for kubectl's patches).

use serde_json::{Map, Value};

use super::schema;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    #[error("the patch is not valid JSON: {0}")]
    Json(String),
    #[error("json patch operation {index} is invalid: {reason}")]
    Operation { index: usize, reason: String },
    #[error("json patch path {path:?} does not exist in the object")]
    MissingPath { path: String },
    #[error("json patch test operation at {path:?} failed")]
    TestFailed { path: String },
    #[error("strategic merge patch: {0}")]
    Strategic(String),
}

/// RFC 7386: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                merge_patch(target_map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// RFC 6902 applied to a copy: either every operation succeeds or `target` is untouched.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError::Json("a JSON patch must be an array of operations".into()))?;
    let mut doc = target.clone();
    for (index, op) in ops.iter().enumerate() {
        let bad = |reason: &str| PatchError::Operation {
            index,
            reason: reason.to_string(),
        };
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing \"op\""))?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing \"path\""))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| bad("missing \"value\""))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("missing \"from\""))
        };
        match name {
            "add" => pointer_add(&mut doc, path, value()?)?,
            "remove" => {
                pointer_remove(&mut doc, path)?;
            }
            "replace" => {
                let slot = doc
                    .pointer_mut(path)
                    .ok_or_else(|| PatchError::MissingPath {
                        path: path.to_string(),
                    })?;
                *slot = value()?;
            }
            "move" => {
                let moved = pointer_remove(&mut doc, from()?)?;
                pointer_add(&mut doc, path, moved)?;
            }
            "copy" => {
                let copied =
                    doc.pointer(from()?)
                        .cloned()
                        .ok_or_else(|| PatchError::MissingPath {
                            path: path.to_string(),
                        })?;
                pointer_add(&mut doc, path, copied)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(PatchError::TestFailed {
                        path: path.to_string(),
                    });
                }
            }
            other => return Err(bad(&format!("unknown op {other:?}"))),
        }
    }
    *target = doc;
    Ok(())
}

fn split_pointer(path: &str) -> Result<(String, String), PatchError> {
    let missing = || PatchError::MissingPath {
        path: path.to_string(),
    };
    let (parent, last) = path.rsplit_once('/').ok_or_else(missing)?;
    Ok((
        parent.to_string(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn pointer_add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    let missing = || PatchError::MissingPath {
        path: path.to_string(),
    };
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) => {
            if last == "-" {
                items.push(value);
            } else {
                let idx: usize = last.parse().map_err(|_| missing())?;
                if idx > items.len() {
                    return Err(missing());
                }
                items.insert(idx, value);
            }
        }
        _ => return Err(missing()),
    }
    Ok(())
}

fn pointer_remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, last) = split_pointer(path)?;
    let missing = || PatchError::MissingPath {
        path: path.to_string(),
    };
    match doc.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(map) => map.remove(&last).ok_or_else(missing),
        Value::Array(items) => {
            let idx: usize = last.parse().map_err(|_| missing())?;
            if idx >= items.len() {
                return Err(missing());
            }
            Ok(items.remove(idx))
        }
        _ => Err(missing()),
    }
}

/// Strategic merge patch: like a merge patch, but lists named in the schema merge by key.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch_map) = patch else {
        return Err(PatchError::Strategic(
            "a strategic merge patch must be an object".into(),
        ));
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    strategic_object(target, patch_map)
}

fn strategic_object(target: &mut Value, patch: &Map<String, Value>) -> Result<(), PatchError> {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = patch.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return Ok(());
    };
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        target_map.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(gone)) =
                (target_map.get_mut(field), value)
            {
                items.retain(|item| !gone.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            // `$setElementOrder/...` and friends are ordering hints: merged lists keep the
            // target's order with new items appended, which is what kubectl's patches expect.
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        match value {
            Value::Object(sub) => {
                if sub.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target_map.remove(key);
                    continue;
                }
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                strategic_object(slot, sub)?;
            }
            Value::Array(items) => match schema::patch_merge_key(key) {
                Some(merge_key) => {
                    let slot = target_map
                        .entry(key.clone())
                        .or_insert(Value::Array(Vec::new()));
                    strategic_list(slot, items, merge_key)?;
                }
                None => {
                    target_map.insert(key.clone(), value.clone());
                }
            },
            other => {
                target_map.insert(key.clone(), other.clone());
            }
        }
    }
    Ok(())
}

fn strategic_list(target: &mut Value, patch: &[Value], merge_key: &str) -> Result<(), PatchError> {
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        let items = patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .cloned()
            .collect();
        *target = Value::Array(items);
        return Ok(());
    }
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Value::Array(items) = target else {
        return Ok(());
    };
    for element in patch {
        let Value::Object(element_map) = element else {
            return Err(PatchError::Strategic(format!(
                "list merged by {merge_key:?} has a non-object element"
            )));
        };
        let key = element_map.get(merge_key).ok_or_else(|| {
            PatchError::Strategic(format!(
                "list element is missing its merge key {merge_key:?}"
            ))
        })?;
        let position = items.iter().position(|i| i.get(merge_key) == Some(key));
        let delete = element_map.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(idx), true) => {
                items.remove(idx);
            }
            (None, true) => {}
            (Some(idx), false) => strategic_object(&mut items[idx], element_map)?,
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                strategic_object(&mut fresh, element_map)?;
                items.push(fresh);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_sets_and_deletes() {
        let mut doc = json!({"spec": {"replicas": 3, "paused": true}, "a": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"spec": {"replicas": 5, "paused": null}, "a": [3]}),
        );
        assert_eq!(doc, json!({"spec": {"replicas": 5}, "a": [3]}));
    }

    #[test]
    fn json_patch_ops_and_atomicity() {
        let mut doc = json!({"spec": {"replicas": 1, "list": [1, 2]}});
        let ops = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "remove", "path": "/spec/list/0"},
            {"op": "test", "path": "/spec/replicas", "value": 4}
        ]);
        json_patch(&mut doc, &ops).unwrap();
        assert_eq!(doc, json!({"spec": {"replicas": 4, "list": [2, 3]}}));

        let failing = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 9},
            {"op": "test", "path": "/spec/replicas", "value": 1}
        ]);
        assert!(matches!(
            json_patch(&mut doc, &failing),
            Err(PatchError::TestFailed { .. })
        ));
        assert_eq!(
            doc["spec"]["replicas"], 4,
            "a failed patch leaves the object untouched"
        );
    }

    #[test]
    fn json_patch_missing_path_is_an_error() {
        let mut doc = json!({});
        let err = json_patch(
            &mut doc,
            &json!([{"op": "replace", "path": "/x/y", "value": 1}]),
        );
        assert!(matches!(err, Err(PatchError::MissingPath { .. })));
    }

    #[test]
    fn strategic_patch_merges_containers_by_name_like_set_image() {
        let mut doc = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.0", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "envoy:1"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"name": "app", "image": "nginx:2.0"}]
        }}}});
        strategic_merge_patch(&mut doc, &patch).unwrap();
        let containers = &doc["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "nginx:2.0");
        assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
        assert_eq!(containers[1]["image"], "envoy:1");
    }

    #[test]
    fn strategic_patch_delete_directive_removes_list_item() {
        let mut doc = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]});
        strategic_merge_patch(
            &mut doc,
            &json!({"env": [{"name": "A", "$patch": "delete"}]}),
        )
        .unwrap();
        assert_eq!(doc, json!({"env": [{"name": "B", "value": "2"}]}));
    }

    #[test]
    fn strategic_patch_replaces_unkeyed_lists() {
        let mut doc = json!({"args": ["a", "b"]});
        strategic_merge_patch(&mut doc, &json!({"args": ["c"]})).unwrap();
        assert_eq!(doc, json!({"args": ["c"]}));
    }
}
