//! Minimal OpenAPI v3 documents. `kubectl apply` (validation on, the default) reads
//! `/openapi/v3` to learn whether the server validates fields itself: it looks for the
//! PATCH operation tagged with the object's group/version/kind and a `fieldValidation`
//! query parameter. Answering yes lets kubectl skip client-side schema validation, which
//! would otherwise need the full schema. Only operations, no object schemas, are described.

use serde_json::{Map, Value, json};

use super::resource::Resource;

/// The group-versions served, as `/openapi/v3` index keys (`api/v1`, `apis/apps/v1`).
fn group_versions() -> Vec<(&'static str, &'static str)> {
    vec![
        ("api/v1", ""),
        ("apis/apps/v1", "apps"),
        ("apis/events.k8s.io/v1", "events.k8s.io"),
        ("apis/batch/v1", "batch"),
    ]
}

/// `/openapi/v2` as the protobuf `openapi_v2.Document` older kubectl (1.20, Debian's
/// `kubernetes-client`) insists on for client-side validation: just `swagger: "2.0"` and
/// an `info`, no definitions, so validation finds no schema for our types and skips them.
pub fn v2_document() -> Vec<u8> {
    fn string_field(number: u8, text: &str, out: &mut Vec<u8>) {
        out.push(number << 3 | 2);
        out.push(text.len() as u8);
        out.extend_from_slice(text.as_bytes());
    }
    let mut info = Vec::new();
    string_field(1, "Kubernetes", &mut info);
    string_field(2, "v1.32.0", &mut info);
    let mut document = Vec::new();
    string_field(1, "2.0", &mut document);
    document.push(2 << 3 | 2);
    document.push(info.len() as u8);
    document.extend_from_slice(&info);
    document
}

pub fn index() -> Value {
    let paths: Map<String, Value> = group_versions()
        .into_iter()
        .map(|(gv, _)| {
            (
                gv.to_string(),
                json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash=pushpull1")}),
            )
        })
        .collect();
    json!({"paths": paths})
}

fn query_param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(resource: Resource, action: &str, id: &str) -> Value {
    let mut parameters = vec![query_param("dryRun"), query_param("fieldManager")];
    if action != "get" && action != "delete" {
        parameters.push(query_param("fieldValidation"));
    }
    if action == "patch" {
        parameters.push(json!({"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}));
    }
    json!({
        "operationId": format!("{action}{id}"),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": resource.group(), "version": "v1", "kind": resource.kind()},
    })
}

/// The document for one group-version path (`api/v1` or `apis/apps/v1`).
pub fn document(group_version: &str) -> Option<Value> {
    let group = group_versions()
        .into_iter()
        .find(|(gv, _)| *gv == group_version)?
        .1;
    let mut paths = Map::new();
    for resource in Resource::ALL.into_iter().filter(|r| r.group() == group) {
        let prefix = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/v1")
        };
        let scope = if resource.namespaced() {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let id = format!(
            "{}{}",
            resource.kind(),
            if resource.namespaced() {
                "Namespaced"
            } else {
                ""
            }
        );
        let item = format!("{prefix}{scope}/{}/{{name}}", resource.plural());
        paths.insert(
            item,
            json!({
                "get": operation(resource, "get", &id),
                "put": operation(resource, "put", &id),
                "patch": operation(resource, "patch", &id),
                "delete": operation(resource, "delete", &id),
            }),
        );
        let collection = format!("{prefix}{scope}/{}", resource.plural());
        paths.insert(collection, json!({"get": operation(resource, "list", &id), "post": operation(resource, "post", &id)}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_document_is_a_swagger_2_protobuf_message() {
        let doc = v2_document();
        assert_eq!(&doc[..5], b"\x0a\x032.0");
        assert_eq!(doc[5], 0x12);
        assert_eq!(doc[6] as usize, doc.len() - 7);
    }

    #[test]
    fn deployment_patch_advertises_field_validation() {
        let doc = document("apis/apps/v1").unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(document("apis/policy/v1").is_none());
        assert!(
            index()["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1")
        );
    }
}
