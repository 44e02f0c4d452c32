//! Field ownership for `metadata.managedFields`: a `FieldSet` is the tree of field paths a
//! manager owns, in the API's `FieldsV1` shape (`f:spec`, `k:{"name":"app"}`, `.`). Updates
//! move changed fields to their manager; server-side apply (`apply.rs`) checks conflicts here.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::schema;

/// One step of a field path: `f:name`, `k:{"name":"app"}` or `.` (the node itself).
pub type Path = Vec<String>;

/// Metadata fields the server owns; they never appear in managedFields.
const SERVER_METADATA: [&str; 9] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    /// The fields an object sets: every leaf value, keyed list item and map node.
    pub fn of_object(object: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(map) = object {
            for (key, value) in map {
                if key == "apiVersion" || key == "kind" {
                    continue;
                }
                if key == "metadata" {
                    if let Value::Object(meta) = value {
                        let mut node = FieldSet::default();
                        for (mk, mv) in meta {
                            if !SERVER_METADATA.contains(&mk.as_str()) {
                                node.add_value(mk, mv);
                            }
                        }
                        if !node.children.is_empty() {
                            set.children.insert("f:metadata".into(), node);
                        }
                    }
                    continue;
                }
                set.add_value(key, value);
            }
        }
        set
    }

    fn add_value(&mut self, field: &str, value: &Value) {
        let element = format!("f:{field}");
        match value {
            Value::Object(map) if !map.is_empty() && !schema::is_atomic_object(field) => {
                let node = self.children.entry(element).or_default();
                if schema::is_map(field) {
                    node.children.insert(".".into(), FieldSet::default());
                }
                for (k, v) in map {
                    node.add_value(k, v);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let keyed = schema::list_keys(field).and_then(|keys| {
                    items
                        .iter()
                        .map(|item| key_element(item, keys))
                        .collect::<Option<Vec<_>>>()
                });
                let node = self.children.entry(element).or_default();
                if let Some(elements) = keyed {
                    for (item, key) in items.iter().zip(elements) {
                        let item_node = node.children.entry(key).or_default();
                        item_node.children.insert(".".into(), FieldSet::default());
                        if let Value::Object(item_map) = item {
                            for (k, v) in item_map {
                                item_node.add_value(k, v);
                            }
                        }
                    }
                }
            }
            _ => {
                self.children.entry(element).or_default();
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Every path that ends at a leaf (an owned value or a `.` marker).
    pub fn leaves(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_leaves(&mut prefix, &mut out);
        out
    }

    fn collect_leaves(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (element, child) in &self.children {
            prefix.push(element.clone());
            if child.children.is_empty() {
                out.push(prefix.clone());
            } else {
                child.collect_leaves(prefix, out);
            }
            prefix.pop();
        }
    }

    pub fn contains(&self, path: &[String]) -> bool {
        let mut node = self;
        for element in path {
            match node.children.get(element) {
                Some(child) => node = child,
                None => return false,
            }
        }
        true
    }

    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
    }

    /// Removes the path and prunes ancestors left without children.
    pub fn remove(&mut self, path: &[String]) {
        fn go(node: &mut FieldSet, path: &[String]) -> bool {
            let Some((first, rest)) = path.split_first() else {
                return false;
            };
            if rest.is_empty() {
                node.children.remove(first);
            } else if let Some(child) = node.children.get_mut(first)
                && go(child, rest)
            {
                node.children.remove(first);
            }
            node.children.is_empty()
        }
        go(self, path);
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.children
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    pub fn from_json(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(map) = value {
            for (k, v) in map {
                set.children.insert(k.clone(), FieldSet::from_json(v));
            }
        }
        set
    }
}

/// `k:{"name":"app"}` for a keyed list item; `None` if the item lacks a key field.
pub fn key_element(item: &Value, keys: &[&str]) -> Option<String> {
    let mut key = Map::new();
    for field in keys {
        match item.get(*field) {
            Some(v) => {
                key.insert((*field).to_string(), v.clone());
            }
            None if *field == "protocol" => {
                key.insert("protocol".into(), json!("TCP"));
            }
            None => return None,
        }
    }
    Some(format!("k:{}", Value::Object(key)))
}

/// Resolves a path in an object; `.` resolves to the node itself.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut node = object;
    let mut last_field = "";
    for element in path {
        if element == "." {
            continue;
        }
        if let Some(field) = element.strip_prefix("f:") {
            node = node.get(field)?;
            last_field = field;
        } else if element.starts_with("k:") {
            let keys = schema::list_keys(last_field)?;
            node = node
                .as_array()?
                .iter()
                .find(|item| key_element(item, keys).as_deref() == Some(element))?;
        } else {
            return None;
        }
    }
    Some(node)
}

/// Removes the value a path names (a map entry or a keyed list item).
pub fn remove_at(object: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|e| *e != ".").collect();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = object;
    let mut last_field = String::new();
    for element in parents {
        let next = if let Some(field) = element.strip_prefix("f:") {
            last_field = field.to_string();
            node.get_mut(field)
        } else {
            let keys = schema::list_keys(&last_field);
            node.as_array_mut().and_then(|items| {
                items.iter_mut().find(|item| {
                    keys.and_then(|k| key_element(item, k)).as_deref() == Some(element.as_str())
                })
            })
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Some(field) = last.strip_prefix("f:") {
        if let Value::Object(map) = node {
            map.remove(field);
        }
    } else if let (Some(keys), Value::Array(items)) = (schema::list_keys(&last_field), node) {
        items.retain(|item| key_element(item, keys).as_deref() != Some(last.as_str()));
    }
}

/// `.spec.template.spec.containers[name="app"].image`, as in apply conflict messages.
pub fn path_to_string(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let parsed: Value = serde_json::from_str(key).unwrap_or(Value::Null);
            let parts: Vec<String> = parsed
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            out.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    out
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl ManagedEntry {
    pub fn is_apply(&self) -> bool {
        self.operation == "Apply"
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_json(),
        });
        if let Some(sub) = &self.subresource {
            entry["subresource"] = json!(sub);
        }
        entry
    }
}

pub fn read_managed_fields(object: &Value) -> Vec<ManagedEntry> {
    let Some(entries) = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(String::from);
            Some(ManagedEntry {
                manager: text("manager")?,
                operation: text("operation").unwrap_or_else(|| "Update".into()),
                api_version: text("apiVersion").unwrap_or_default(),
                time: text("time").unwrap_or_default(),
                subresource: text("subresource"),
                fields: FieldSet::from_json(e.get("fieldsV1").unwrap_or(&Value::Null)),
            })
        })
        .collect()
}

pub fn write_managed_fields(object: &mut Value, entries: &[ManagedEntry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(ManagedEntry::to_json)
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Records a non-apply write (create, update, patch): `manager` takes every field whose
/// value changed, other managers lose those, and removed fields leave every manager.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    api_version: &str,
    now: &str,
) {
    let mut entries = old.map(read_managed_fields).unwrap_or_default();
    let new_set = FieldSet::of_object(new);
    let changed: Vec<Path> = new_set
        .leaves()
        .into_iter()
        .filter(|p| match old {
            None => true,
            Some(old) => {
                if p.last().map(String::as_str) == Some(".") {
                    value_at(old, p).is_none()
                } else {
                    value_at(old, p) != value_at(new, p)
                }
            }
        })
        .collect();
    let removed: Vec<Path> = old
        .map(|o| {
            FieldSet::of_object(o)
                .leaves()
                .into_iter()
                .filter(|p| !new_set.contains(p))
                .collect()
        })
        .unwrap_or_default();
    if changed.is_empty() && removed.is_empty() {
        write_managed_fields(new, &entries);
        return;
    }
    let is_mine = |e: &ManagedEntry| {
        e.manager == manager && !e.is_apply() && e.subresource.as_deref() == subresource
    };
    for entry in entries.iter_mut() {
        for path in removed.iter() {
            entry.fields.remove(path);
        }
        if !is_mine(entry) {
            for path in changed.iter() {
                entry.fields.remove(path);
            }
        }
    }
    let position = entries.iter().position(is_mine);
    let entry = match position {
        Some(i) => &mut entries[i],
        None => {
            entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: api_version.to_string(),
                time: now.to_string(),
                subresource: subresource.map(String::from),
                fields: FieldSet::default(),
            });
            let last = entries.len() - 1;
            &mut entries[last]
        }
    };
    for path in changed.iter() {
        entry.fields.insert(path);
    }
    entry.time = now.to_string();
    write_managed_fields(new, &entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(image: &str, replicas: i64) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "d", "labels": {"app": "web"}, "uid": "u"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "app", "image": image,
                    "ports": [{"containerPort": 80}]}]}}
            }
        })
    }

    #[test]
    fn field_set_matches_api_server_shape() {
        let set = FieldSet::of_object(&deployment("nginx", 3)).to_json();
        assert_eq!(
            set["f:metadata"],
            json!({"f:labels": {".": {}, "f:app": {}}})
        );
        assert_eq!(set["f:spec"]["f:selector"], json!({}));
        let container =
            &set["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert_eq!(container["."], json!({}));
        assert_eq!(container["f:image"], json!({}));
        assert!(
            container["f:ports"]
                .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
                .is_some()
        );
    }

    #[test]
    fn value_at_resolves_keyed_items() {
        let obj = deployment("nginx:2", 3);
        let path: Path = [
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"app\"}",
            "f:image",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(value_at(&obj, &path), Some(&json!("nginx:2")));
        assert_eq!(
            path_to_string(&path),
            ".spec.template.spec.containers[name=\"app\"].image"
        );
    }

    #[test]
    fn update_moves_changed_fields_to_the_updating_manager() {
        let mut first = deployment("nginx", 3);
        record_update(None, &mut first, "creator", None, "apps/v1", "t0");
        let mut scaled = first.clone();
        scaled["spec"]["replicas"] = json!(5);
        record_update(
            Some(&first),
            &mut scaled,
            "kubectl-scale",
            Some("scale"),
            "apps/v1",
            "t1",
        );
        let entries = read_managed_fields(&scaled);
        let replicas: Path = vec!["f:spec".into(), "f:replicas".into()];
        let creator = entries.iter().find(|e| e.manager == "creator").unwrap();
        let scaler = entries
            .iter()
            .find(|e| e.manager == "kubectl-scale")
            .unwrap();
        assert!(!creator.fields.contains(&replicas));
        assert!(scaler.fields.contains(&replicas));
        assert_eq!(scaler.subresource.as_deref(), Some("scale"));
        assert_eq!(scaler.fields.leaves(), vec![replicas]);
    }

    #[test]
    fn remove_prunes_empty_parents() {
        let mut set = FieldSet::default();
        let a: Path = vec!["f:spec".into(), "f:replicas".into()];
        set.insert(&a);
        set.remove(&a);
        assert!(set.is_empty());
    }

    #[test]
    fn remove_at_drops_keyed_item() {
        let mut obj = deployment("nginx", 1);
        let path: Path = [
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"app\"}",
            ".",
        ]
        .map(String::from)
        .to_vec();
        remove_at(&mut obj, &path);
        assert_eq!(obj["spec"]["template"]["spec"]["containers"], json!([]));
    }
}
