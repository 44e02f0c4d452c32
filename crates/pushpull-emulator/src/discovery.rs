//! Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/apps/v1`) built from
//! the resource table. kubectl first asks for aggregated discovery and falls back to these
//! classic documents when the server answers with plain JSON, as older servers do.

use serde_json::{Value, json};

use super::resource::Resource;

/// The Kubernetes version the emulator reports (matches the kubectl it is tested with).
pub const KUBERNETES_MINOR: &str = "32";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBERNETES_MINOR,
        "gitVersion": format!("v1.{KUBERNETES_MINOR}.0-pushpull-emulator"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// The named API groups served, each at version `v1`.
pub const GROUPS: [&str; 3] = ["apps", "events.k8s.io", "batch"];

fn group_document(name: &str) -> Value {
    let gv = format!("{name}/v1");
    json!({
        "name": name,
        "versions": [{"groupVersion": gv, "version": "v1"}],
        "preferredVersion": {"groupVersion": gv, "version": "v1"},
    })
}

pub fn groups() -> Value {
    let groups: Vec<Value> = GROUPS.iter().map(|g| group_document(g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(name: &str) -> Option<Value> {
    GROUPS.contains(&name).then(|| {
        let mut doc = group_document(name);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        doc
    })
}

/// `/api/v1` (group "") or `/apis/apps/v1`.
pub fn resource_list(group: &str) -> Option<Value> {
    let group_version = match group {
        "" => "v1".to_string(),
        g if GROUPS.contains(&g) => format!("{g}/v1"),
        _ => return None,
    };
    let mut resources = Vec::new();
    for r in Resource::ALL.into_iter().filter(|r| r.group() == group) {
        let mut entry = json!({
            "name": r.plural(),
            "singularName": r.singular(),
            "namespaced": r.namespaced(),
            "kind": r.kind(),
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortNames": r.short_names(),
        });
        if matches!(
            r,
            Resource::Deployment | Resource::ReplicaSet | Resource::Pod | Resource::Job
        ) {
            entry["categories"] = json!(["all"]);
        }
        resources.push(entry);
        for (sub, kind, sub_group, sub_version) in r.subresources() {
            let mut sub_entry = json!({
                "name": format!("{}/{sub}", r.plural()),
                "singularName": "",
                "namespaced": r.namespaced(),
                "kind": kind,
                "verbs": ["get", "patch", "update"],
            });
            if *sub_group != group {
                sub_entry["group"] = json!(sub_group);
                sub_entry["version"] = json!(sub_version);
            }
            resources.push(sub_entry);
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_v1_lists_deployment_scale_as_autoscaling() {
        let list = resource_list("apps").unwrap();
        let scale = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
    }

    #[test]
    fn core_v1_has_namespaces_and_configmaps() {
        let list = resource_list("").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"namespaces") && names.contains(&"configmaps"));
        assert!(resource_list("policy").is_none());
    }
}
