//! The `scale` subresource: Deployments seen as `autoscaling/v1 Scale` objects, and
//! scale writes turned back into a Deployment with new `spec.replicas`.

use serde_json::{Value, json};

use super::resource::Resource;
use super::selector::LabelSelector;
use super::status::{ApiError, Cause, Subject};

fn meta_str<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

/// The `autoscaling/v1` Scale view of a Deployment.
pub fn scale_of(deployment: &Value) -> Result<Value, ApiError> {
    let meta = deployment.get("metadata").cloned().unwrap_or(json!({}));
    let selector = deployment
        .pointer("/spec/selector")
        .map(LabelSelector::from_label_selector_object)
        .map(|s| s.to_text())
        .unwrap_or_default();
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": deployment.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": deployment.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    }))
}

pub fn check_scale_precondition(old: &Value, scale: &Value) -> Result<(), ApiError> {
    match meta_str(scale, "resourceVersion") {
        Some(rv) if !rv.is_empty() && Some(rv) != meta_str(old, "resourceVersion") => Err(
            ApiError::Modified(Resource::Deployment.subject(meta_str(old, "name").unwrap_or(""))),
        ),
        _ => Ok(()),
    }
}

/// The Deployment with the Scale's `spec.replicas`: an int32 (else the 400 the API
/// server's decoding gives) that is not negative (else 422, as Scale validation).
pub fn with_replicas(old: &Value, scale: &Value) -> Result<Value, ApiError> {
    let raw = scale.pointer("/spec/replicas");
    let replicas = match raw {
        Some(Value::Number(n)) => match n.as_i64().filter(|r| i32::try_from(*r).is_ok()) {
            Some(r) => r,
            None => {
                return Err(ApiError::BadRequest(format!(
                    "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal number {n} into Go struct field ScaleSpec.spec.replicas of type int32"
                )));
            }
        },
        _ => {
            return Err(ApiError::BadRequest(
                "Scale.spec.replicas must be a non-negative integer".into(),
            ));
        }
    };
    if replicas < 0 {
        let name = meta_str(old, "name").unwrap_or("");
        return Err(ApiError::Invalid {
            kind: "Scale.autoscaling".into(),
            subject: Subject::new("autoscaling", "Scale", name),
            causes: vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            }],
        });
    }
    let mut new = old.clone();
    if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("replicas".into(), json!(replicas));
    }
    if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({"metadata": {"name": "web", "namespace": "d", "resourceVersion": "7"},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
               "status": {"replicas": 3}})
    }

    #[test]
    fn scale_view_carries_replicas_selector_and_version() {
        let scale = scale_of(&deployment()).unwrap();
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"]["selector"], "app=web");
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn stale_scale_is_a_conflict_and_bad_replicas_are_rejected() {
        let d = deployment();
        assert!(
            check_scale_precondition(&d, &json!({"metadata": {"resourceVersion": "6"}})).is_err()
        );
        assert!(
            check_scale_precondition(&d, &json!({"metadata": {"resourceVersion": "7"}})).is_ok()
        );
        assert_eq!(
            with_replicas(&d, &json!({"spec": {"replicas": -1}}))
                .unwrap_err()
                .code()
                .as_u16(),
            422
        );
        assert_eq!(
            with_replicas(&d, &json!({"spec": {"replicas": 2_147_483_648u64}}))
                .unwrap_err()
                .code()
                .as_u16(),
            400
        );
        assert_eq!(
            with_replicas(&d, &json!({"spec": {"replicas": 5}})).unwrap()["spec"]["replicas"],
            5
        );
    }
}
