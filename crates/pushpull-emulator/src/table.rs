//! Server-side printing: `meta.k8s.io/v1 Table` responses, which `kubectl get` asks for
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`). Columns follow the real
//! printers: deployments show NAME / READY / UP-TO-DATE / AVAILABLE / AGE.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::resource::Resource;
use super::rollout;

/// The `includeObject` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

fn column(name: &str, kind: &str, format: &str, description: &str, priority: u8) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority})
}

fn columns(resource: Resource) -> Vec<Value> {
    let name = column(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace.",
        0,
    );
    let age = column(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
        0,
    );
    match resource {
        Resource::Namespace => vec![
            name,
            column("Status", "string", "", "The status of the namespace", 0),
            age,
        ],
        Resource::ConfigMap => vec![
            name,
            column(
                "Data",
                "integer",
                "",
                "Data contains the configuration data.",
                0,
            ),
            age,
        ],
        Resource::Deployment => vec![
            name,
            column(
                "Ready",
                "string",
                "",
                "Number of the pod with ready state",
                0,
            ),
            column(
                "Up-to-date",
                "integer",
                "",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                0,
            ),
            column(
                "Available",
                "integer",
                "",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                0,
            ),
            age,
            column(
                "Containers",
                "string",
                "",
                "Names of each container in the template.",
                1,
            ),
            column(
                "Images",
                "string",
                "",
                "Images referenced by each container in the template.",
                1,
            ),
            column(
                "Selector",
                "string",
                "",
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
                1,
            ),
        ],
        Resource::ReplicaSet => vec![
            name,
            column("Desired", "integer", "", "Number of desired pods.", 0),
            column("Current", "integer", "", "Number of actual replicas.", 0),
            column("Ready", "integer", "", "Number of pods ready.", 0),
            age,
            column(
                "Containers",
                "string",
                "",
                "Names of each container in the template.",
                1,
            ),
            column(
                "Images",
                "string",
                "",
                "Images referenced by each container in the template.",
                1,
            ),
            column("Selector", "string", "", "Label selector for pods.", 1),
        ],
        Resource::Pod => vec![
            name,
            column(
                "Ready",
                "string",
                "",
                "The aggregate readiness state of this pod for accepting traffic.",
                0,
            ),
            column(
                "Status",
                "string",
                "",
                "The aggregate status of the containers in this pod.",
                0,
            ),
            column(
                "Restarts",
                "string",
                "",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                0,
            ),
            age,
            column(
                "IP",
                "string",
                "",
                "IP address allocated to the pod. Routable at least within the cluster.",
                1,
            ),
            column(
                "Node",
                "string",
                "",
                "Name of the node the pod is scheduled on.",
                1,
            ),
            column(
                "Nominated Node",
                "string",
                "",
                "Name of the node where the pod is nominated to run.",
                1,
            ),
            column(
                "Readiness Gates",
                "string",
                "",
                "The readiness gates of the pod.",
                1,
            ),
        ],
        Resource::Event | Resource::EventV1 => vec![
            column(
                "Last Seen",
                "string",
                "",
                "Time when last this event was seen.",
                0,
            ),
            column(
                "Type",
                "string",
                "",
                "Type of this event (Normal, Warning), new types could be added in the future.",
                0,
            ),
            column(
                "Reason",
                "string",
                "",
                "Short, machine understandable string that gives the reason for this event being generated.",
                0,
            ),
            column("Object", "string", "", "The object this event is about.", 0),
            column(
                "Subobject",
                "string",
                "",
                "The subobject this event is about.",
                1,
            ),
            column(
                "Source",
                "string",
                "",
                "The component reporting this event.",
                1,
            ),
            column(
                "Message",
                "string",
                "",
                "A human-readable description of the status of this operation.",
                0,
            ),
            column(
                "First Seen",
                "string",
                "",
                "The time at which the most recent occurrence of this event was recorded.",
                1,
            ),
            column(
                "Count",
                "string",
                "",
                "The number of times this event has occurred.",
                1,
            ),
            column(
                "Name",
                "string",
                "name",
                "Name must be unique within a namespace.",
                1,
            ),
        ],
        Resource::Job => vec![
            name,
            column("Status", "string", "", "Status of the job.", 0),
            column(
                "Completions",
                "string",
                "",
                "The completion status of the job.",
                0,
            ),
            column(
                "Duration",
                "string",
                "",
                "Time required to complete the job.",
                0,
            ),
            age,
            column(
                "Containers",
                "string",
                "",
                "Names of each container in the template.",
                1,
            ),
            column(
                "Images",
                "string",
                "",
                "Images referenced by each container in the template.",
                1,
            ),
            column("Selector", "string", "", "Label selector for pods.", 1),
        ],
    }
}

fn container_names(template: &Value) -> String {
    template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

fn selector_text(object: &Value) -> String {
    object
        .pointer("/spec/selector")
        .map(super::selector::LabelSelector::from_label_selector_object)
        .map(|s| s.to_text())
        .unwrap_or_default()
}

fn age_of(object: &Value, pointer: &str, now: SystemTime) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .map(|at| human_duration(now.duration_since(at).unwrap_or(Duration::ZERO)))
        .unwrap_or_else(|| "<unknown>".into())
}

/// The STATUS column of `kubectl get pods` (pkg/printers/internalversion `printPod`): a
/// waiting container's reason, else the phase.
fn pod_status(pod: &Value) -> String {
    let waiting = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
    waiting
        .or_else(|| pod.pointer("/status/phase").and_then(Value::as_str))
        .unwrap_or("Pending")
        .to_string()
}

fn cells(resource: Resource, object: &Value, now: SystemTime) -> Vec<Value> {
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(json!(""));
    let age = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| humantime::parse_rfc3339(t).ok())
        .map(|created| human_duration(now.duration_since(created).unwrap_or(Duration::ZERO)))
        .unwrap_or_else(|| "<unknown>".into());
    let int = |pointer: &str| object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    match resource {
        Resource::Namespace => {
            vec![
                name,
                object
                    .pointer("/status/phase")
                    .cloned()
                    .unwrap_or(json!("Active")),
                json!(age),
            ]
        }
        Resource::ConfigMap => {
            let count = |key: &str| {
                object
                    .get(key)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            vec![name, json!(count("data") + count("binaryData")), json!(age)]
        }
        Resource::Deployment => {
            let template = object.pointer("/spec/template").unwrap_or(&Value::Null);
            let containers: Vec<String> = template
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let selector = object
                .pointer("/spec/selector")
                .map(super::selector::LabelSelector::from_label_selector_object)
                .map(|s| s.to_text())
                .unwrap_or_default();
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int("/status/readyReplicas"),
                    int("/spec/replicas")
                )),
                json!(int("/status/updatedReplicas")),
                json!(int("/status/availableReplicas")),
                json!(age),
                json!(containers.join(",")),
                json!(rollout::images(template).join(",")),
                json!(selector),
            ]
        }
        Resource::ReplicaSet => {
            let template = object.pointer("/spec/template").unwrap_or(&Value::Null);
            vec![
                name,
                json!(int("/spec/replicas")),
                json!(int("/status/replicas")),
                json!(int("/status/readyReplicas")),
                json!(age),
                json!(container_names(template)),
                json!(rollout::images(template).join(",")),
                json!(selector_text(object)),
            ]
        }
        Resource::Pod => {
            let statuses = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array);
            let total = object
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses.map_or(0, |cs| {
                cs.iter()
                    .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                    .count()
            });
            let text = |pointer: &str| {
                object
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or("<none>")
                    .to_string()
            };
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(object)),
                json!("0"),
                json!(age),
                json!(text("/status/podIP")),
                json!(text("/spec/nodeName")),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        Resource::Event | Resource::EventV1 => {
            let v1 = resource == Resource::EventV1;
            let regarding = if v1 { "/regarding" } else { "/involvedObject" };
            let kind = object
                .pointer(&format!("{regarding}/kind"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let target = object
                .pointer(&format!("{regarding}/name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let text = |pointer: &str| {
                object
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let (last, first, source, message, count) = if v1 {
                (
                    age_of(object, "/eventTime", now),
                    age_of(object, "/eventTime", now),
                    text("/reportingController"),
                    text("/note"),
                    1,
                )
            } else {
                (
                    age_of(object, "/lastTimestamp", now),
                    age_of(object, "/firstTimestamp", now),
                    text("/source/component"),
                    text("/message"),
                    int("/count").max(1),
                )
            };
            vec![
                json!(last),
                json!(text("/type")),
                json!(text("/reason")),
                json!(format!("{}/{target}", kind.to_ascii_lowercase())),
                json!(""),
                json!(source),
                json!(message),
                json!(first),
                json!(count.to_string()),
                name,
            ]
        }
        Resource::Job => {
            let template = object.pointer("/spec/template").unwrap_or(&Value::Null);
            let completions = object
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .map_or_else(|| "<none>".to_string(), |c| c.to_string());
            let status = if object.pointer("/spec/suspend") == Some(&json!(true)) {
                "Suspended"
            } else {
                "Pending"
            };
            vec![
                name,
                json!(status),
                json!(format!("{}/{completions}", int("/status/succeeded"))),
                json!(""),
                json!(age),
                json!(container_names(template)),
                json!(rollout::images(template).join(",")),
                json!(selector_text(object)),
            ]
        }
    }
}

fn row_object(object: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(object.clone()),
        IncludeObject::Metadata => {
            let mut metadata = object.get("metadata").cloned().unwrap_or(json!({}));
            if let Some(m) = metadata.as_object_mut() {
                m.remove("managedFields");
            }
            Some(
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}),
            )
        }
    }
}

/// A Table of `objects`; `headers: false` leaves out the column definitions (watch events
/// after the first, as the API server does).
pub fn table<'a>(
    resource: Resource,
    objects: impl IntoIterator<Item = &'a Value>,
    resource_version: u64,
    include: IncludeObject,
    headers: bool,
) -> Value {
    let now = SystemTime::now();
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|o| {
            let mut row = json!({"cells": cells(resource, o, now)});
            if let Some(obj) = row_object(o, include) {
                row["object"] = obj;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": if headers { Value::Array(columns(resource)) } else { Value::Null },
        "rows": rows,
    })
}

/// kubectl's AGE format (apimachinery's `HumanDuration`): `45s`, `3m20s`, `5h10m`, `12d`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    let years = hours / 24 / 365;
    let days = (hours / 24) % 365;
    if hours < 24 * 365 * 8 && days != 0 {
        return format!("{years}y{days}d");
    }
    format!("{years}y")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_kubectl() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (10 * 3600, "10h"),
            (3 * 86400 + 3600, "3d1h"),
            (30 * 86400, "30d"),
            (3 * 365 * 86400, "3y"),
        ];
        for (secs, expected) in cases {
            assert_eq!(
                human_duration(Duration::from_secs(secs)),
                expected,
                "{secs}s"
            );
        }
    }

    #[test]
    fn deployment_row_shows_ready_over_desired() {
        let d = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "app", "image": "nginx:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let t = table(Resource::Deployment, [&d], 7, IncludeObject::Metadata, true);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            &names[..5],
            ["Name", "Ready", "Up-to-date", "Available", "Age"]
        );
        assert_eq!(t["rows"][0]["cells"][1], "2/3");
        assert_eq!(t["rows"][0]["cells"][6], "nginx:1");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
