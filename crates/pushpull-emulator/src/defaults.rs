//! API defaulting for the served types, run on every write like the real API server does
//! before validation (`validation.rs`), so clients read back what they would from a cluster.

use serde_json::{Map, Value, json};

use super::resource::Resource;

/// Fills in the fields the API server would default.
pub fn apply_defaults(resource: Resource, object: &mut Value) {
    match resource {
        Resource::Namespace => default_namespace(object),
        Resource::ConfigMap => {}
        Resource::Deployment => default_deployment(object),
        Resource::Job => default_job(object),
        Resource::ReplicaSet | Resource::Pod | Resource::Event | Resource::EventV1 => {}
    }
}

fn object_entry<'a>(parent: &'a mut Value, key: &str) -> &'a mut Value {
    if !parent.is_object() {
        *parent = Value::Object(Map::new());
    }
    let map = parent.as_object_mut().expect("made an object above");
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot
}

fn default_key(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.entry(key.to_string()).or_insert(value);
    }
}

fn default_namespace(object: &mut Value) {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let labels = object_entry(object_entry(object, "metadata"), "labels");
    default_key(labels, "kubernetes.io/metadata.name", json!(name));
    default_key(
        object_entry(object, "spec"),
        "finalizers",
        json!(["kubernetes"]),
    );
    default_key(object_entry(object, "status"), "phase", json!("Active"));
}

fn default_deployment(object: &mut Value) {
    let spec = object_entry(object, "spec");
    default_key(spec, "replicas", json!(1));
    default_key(spec, "revisionHistoryLimit", json!(10));
    default_key(spec, "progressDeadlineSeconds", json!(600));
    let strategy = object_entry(spec, "strategy");
    default_key(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let rolling = object_entry(strategy, "rollingUpdate");
        default_key(rolling, "maxSurge", json!("25%"));
        default_key(rolling, "maxUnavailable", json!("25%"));
    }
    let pod = object_entry(object_entry(spec, "template"), "spec");
    default_key(pod, "restartPolicy", json!("Always"));
    default_key(pod, "terminationGracePeriodSeconds", json!(30));
    default_key(pod, "dnsPolicy", json!("ClusterFirst"));
    default_key(pod, "schedulerName", json!("default-scheduler"));
    default_key(pod, "securityContext", json!({}));
    if let Some(containers) = pod.get_mut("containers").and_then(Value::as_array_mut) {
        for container in containers.iter_mut().filter(|c| c.is_object()) {
            let image = container.get("image").and_then(Value::as_str).unwrap_or("");
            let tag = image
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, t)| t);
            let policy = if tag.is_none() || tag == Some("latest") {
                "Always"
            } else {
                "IfNotPresent"
            };
            default_key(container, "imagePullPolicy", json!(policy));
            default_key(
                container,
                "terminationMessagePath",
                json!("/dev/termination-log"),
            );
            default_key(container, "terminationMessagePolicy", json!("File"));
            default_key(container, "resources", json!({}));
            if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports.iter_mut() {
                    default_key(port, "protocol", json!("TCP"));
                }
            }
        }
    }
}

/// `batch/v1` Job defaults (pkg/apis/batch/v1/defaults.go) and the selector the API
/// server generates from the Job's uid (pkg/registry/batch/job/strategy.go,
/// `generateSelector`), unless `manualSelector` is set.
fn default_job(object: &mut Value) {
    let uid = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let spec = object_entry(object, "spec");
    let indexed = spec.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if spec.get("completions").is_none_or(Value::is_null)
        && spec.get("parallelism").is_none_or(Value::is_null)
    {
        default_key(spec, "completions", json!(1));
    }
    default_key(spec, "parallelism", json!(1));
    default_key(
        spec,
        "backoffLimit",
        json!(if indexed { 2147483647 } else { 6 }),
    );
    default_key(spec, "completionMode", json!("NonIndexed"));
    default_key(spec, "suspend", json!(false));
    default_key(spec, "manualSelector", json!(false));
    default_key(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    let manual = spec.get("manualSelector").and_then(Value::as_bool) == Some(true);
    if !manual && !uid.is_empty() {
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        let labels = object_entry(
            object_entry(object_entry(spec, "template"), "metadata"),
            "labels",
        );
        for (key, value) in [
            ("batch.kubernetes.io/controller-uid", &uid),
            ("controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &name),
            ("job-name", &name),
        ] {
            default_key(labels, key, json!(value));
        }
    }
    let pod = object_entry(object_entry(spec, "template"), "spec");
    default_key(pod, "terminationGracePeriodSeconds", json!(30));
    default_key(pod, "dnsPolicy", json!("ClusterFirst"));
    default_key(pod, "schedulerName", json!("default-scheduler"));
    default_key(pod, "securityContext", json!({}));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ApiError;
    use crate::validation::validate;

    fn deployment() -> Value {
        json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn deployment_defaults_match_the_api_server() {
        let mut d = deployment();
        apply_defaults(Resource::Deployment, &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert!(validate(Resource::Deployment, &d).is_ok());
    }

    #[test]
    fn selector_mismatch_is_invalid() {
        let mut d = deployment();
        d["spec"]["selector"]["matchLabels"]["app"] = json!("other");
        apply_defaults(Resource::Deployment, &mut d);
        let err = validate(Resource::Deployment, &d).unwrap_err();
        assert_eq!(err.code().as_u16(), 422);
        assert!(
            err.to_string()
                .starts_with("Deployment.apps \"web\" is invalid: spec.template.metadata.labels")
        );
    }

    #[test]
    fn uppercase_names_are_invalid() {
        let err = validate(Resource::ConfigMap, &json!({"metadata": {"name": "Bad"}})).unwrap_err();
        assert!(matches!(err, ApiError::Invalid { .. }));
    }

    #[test]
    fn namespace_gets_phase_and_name_label() {
        let mut ns = json!({"metadata": {"name": "pushpull-a"}});
        apply_defaults(Resource::Namespace, &mut ns);
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "pushpull-a"
        );
    }
}
