//! The slice of the Kubernetes OpenAPI schema that merging needs: which lists are keyed
//! (merged item by item), which objects are atomic, which are free-form maps. Strategic
//! merge patch and server-side apply both consult it; everything else is treated as a struct.

/// Key fields of an associative list, looked up by the list's field name
/// (e.g. `containers` merge by `name`). `None`: the list is atomic (replaced whole).
pub fn list_keys(field: &str) -> Option<&'static [&'static str]> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "hostAliases" => Some(&["name"]),
        "ports" => Some(&["containerPort", "protocol"]),
        "volumeMounts" | "volumeDevices" => Some(&["mountPath"]),
        "conditions" => Some(&["type"]),
        _ => None,
    }
}

/// The key used by strategic merge patch (a single field, unlike SSA's list-map keys).
pub fn patch_merge_key(field: &str) -> Option<&'static str> {
    match field {
        "ports" => Some("containerPort"),
        other => list_keys(other).map(|keys| keys[0]),
    }
}

/// Objects replaced as a unit rather than merged field by field.
pub fn is_atomic_object(field: &str) -> bool {
    matches!(field, "selector" | "matchLabels" | "matchExpressions")
}

/// Objects whose keys are data, not schema fields (their nodes carry a `.` entry in
/// managedFields, as in `f:labels: {.: {}, f:app: {}}`).
pub fn is_map(field: &str) -> bool {
    matches!(
        field,
        "labels" | "annotations" | "data" | "binaryData" | "nodeSelector" | "limits" | "requests"
    )
}
