//! Kubernetes' own checks on the objects the emulator stores, with the API server's codes:
//! first the typed decoding (a string or a non-int32 number where an int32 belongs, a list
//! where a label map belongs: 400 on create/update/apply, 422 `patch` on patches), then
//! field validation (DNS-1123 names, label syntax, int32 ranges, int-or-string: 422).

use serde_json::{Map, Value};

use super::resource::Resource;
use super::selector::LabelSelector;
use super::status::{ApiError, Cause, Subject};

/// Kubernetes' cap on the total size of one object's annotations (bytes of keys + values).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// Kubernetes' cap on a ConfigMap's `data` + `binaryData` (bytes of keys + values).
pub const MAX_CONFIGMAP_BYTES: usize = 1024 * 1024;

/// The namespaces the API server's NamespaceLifecycle admission refuses to delete (the
/// emulator adds `kube-node-lease`, which a real server would recreate).
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// A value Go's JSON decoder would refuse for the typed object (the text is its message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

impl DecodeError {
    /// The 400 a create, update or apply body gets.
    pub fn for_body(self, resource: Resource) -> ApiError {
        let kind = resource.kind();
        let version = resource.api_version().rsplit('/').next().unwrap_or("v1");
        ApiError::BadRequest(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {}",
            self.0
        ))
    }

    /// The 422 a patch gets when its result cannot be decoded.
    pub fn for_patch(self, resource: Resource, name: &str) -> ApiError {
        invalid(
            resource,
            name,
            vec![cause("FieldValueInvalid", "patch", self.0)],
        )
    }
}

/// The shape of a field, as the Go type it decodes into.
enum Ty {
    Str,
    Int32,
    Int64,
    Bool,
    /// `map[string]string`
    StrMap,
    /// `[]string`
    StrList,
    IntOrString,
    /// Not checked (managedFields, conditions, ...).
    Any,
    /// A struct: its Go name and fields.
    Obj(&'static str, &'static [(&'static str, Ty)]),
    List(&'static Ty),
}

const OBJECT_META: Ty = Ty::Obj(
    "ObjectMeta",
    &[
        ("name", Ty::Str),
        ("generateName", Ty::Str),
        ("namespace", Ty::Str),
        ("uid", Ty::Str),
        ("resourceVersion", Ty::Str),
        ("generation", Ty::Int64),
        ("labels", Ty::StrMap),
        ("annotations", Ty::StrMap),
        ("finalizers", Ty::StrList),
        ("managedFields", Ty::Any),
        ("ownerReferences", Ty::Any),
    ],
);

const LABEL_SELECTOR: Ty = Ty::Obj(
    "LabelSelector",
    &[
        ("matchLabels", Ty::StrMap),
        (
            "matchExpressions",
            Ty::List(&Ty::Obj(
                "LabelSelectorRequirement",
                &[
                    ("key", Ty::Str),
                    ("operator", Ty::Str),
                    ("values", Ty::StrList),
                ],
            )),
        ),
    ],
);

const CONTAINER: Ty = Ty::Obj(
    "Container",
    &[
        ("name", Ty::Str),
        ("image", Ty::Str),
        ("imagePullPolicy", Ty::Str),
        ("command", Ty::StrList),
        ("args", Ty::StrList),
        (
            "ports",
            Ty::List(&Ty::Obj(
                "ContainerPort",
                &[
                    ("name", Ty::Str),
                    ("containerPort", Ty::Int32),
                    ("hostPort", Ty::Int32),
                    ("protocol", Ty::Str),
                ],
            )),
        ),
    ],
);

const DEPLOYMENT: Ty = Ty::Obj(
    "Deployment",
    &[
        ("metadata", OBJECT_META),
        (
            "spec",
            Ty::Obj(
                "DeploymentSpec",
                &[
                    ("replicas", Ty::Int32),
                    ("minReadySeconds", Ty::Int32),
                    ("revisionHistoryLimit", Ty::Int32),
                    ("progressDeadlineSeconds", Ty::Int32),
                    ("paused", Ty::Bool),
                    ("selector", LABEL_SELECTOR),
                    (
                        "strategy",
                        Ty::Obj(
                            "DeploymentStrategy",
                            &[
                                ("type", Ty::Str),
                                (
                                    "rollingUpdate",
                                    Ty::Obj(
                                        "RollingUpdateDeployment",
                                        &[
                                            ("maxSurge", Ty::IntOrString),
                                            ("maxUnavailable", Ty::IntOrString),
                                        ],
                                    ),
                                ),
                            ],
                        ),
                    ),
                    (
                        "template",
                        Ty::Obj(
                            "PodTemplateSpec",
                            &[
                                ("metadata", OBJECT_META),
                                (
                                    "spec",
                                    Ty::Obj(
                                        "PodSpec",
                                        &[
                                            ("containers", Ty::List(&CONTAINER)),
                                            ("initContainers", Ty::List(&CONTAINER)),
                                            ("terminationGracePeriodSeconds", Ty::Int64),
                                            ("restartPolicy", Ty::Str),
                                            ("dnsPolicy", Ty::Str),
                                            ("schedulerName", Ty::Str),
                                            ("serviceAccountName", Ty::Str),
                                            ("nodeSelector", Ty::StrMap),
                                        ],
                                    ),
                                ),
                            ],
                        ),
                    ),
                ],
            ),
        ),
        (
            "status",
            Ty::Obj(
                "DeploymentStatus",
                &[
                    ("observedGeneration", Ty::Int64),
                    ("replicas", Ty::Int32),
                    ("updatedReplicas", Ty::Int32),
                    ("readyReplicas", Ty::Int32),
                    ("availableReplicas", Ty::Int32),
                    ("unavailableReplicas", Ty::Int32),
                    ("conditions", Ty::Any),
                ],
            ),
        ),
    ],
);

const CONFIG_MAP: Ty = Ty::Obj(
    "ConfigMap",
    &[
        ("metadata", OBJECT_META),
        ("data", Ty::StrMap),
        ("binaryData", Ty::StrMap),
        ("immutable", Ty::Bool),
    ],
);

const NAMESPACE: Ty = Ty::Obj(
    "Namespace",
    &[
        ("metadata", OBJECT_META),
        (
            "spec",
            Ty::Obj("NamespaceSpec", &[("finalizers", Ty::StrList)]),
        ),
        ("status", Ty::Obj("NamespaceStatus", &[("phase", Ty::Str)])),
    ],
);

const POD_TEMPLATE: Ty = Ty::Obj(
    "PodTemplateSpec",
    &[
        ("metadata", OBJECT_META),
        (
            "spec",
            Ty::Obj(
                "PodSpec",
                &[
                    ("containers", Ty::List(&CONTAINER)),
                    ("initContainers", Ty::List(&CONTAINER)),
                    ("terminationGracePeriodSeconds", Ty::Int64),
                    ("activeDeadlineSeconds", Ty::Int64),
                    ("restartPolicy", Ty::Str),
                    ("dnsPolicy", Ty::Str),
                    ("schedulerName", Ty::Str),
                    ("serviceAccountName", Ty::Str),
                    ("nodeName", Ty::Str),
                    ("nodeSelector", Ty::StrMap),
                ],
            ),
        ),
    ],
);

/// ReplicaSets, Pods and Events are written by the emulator's controllers; a client body
/// only has its metadata checked (the rest is the controllers' own shape).
const REPLICA_SET: Ty = Ty::Obj(
    "ReplicaSet",
    &[
        ("metadata", OBJECT_META),
        (
            "spec",
            Ty::Obj(
                "ReplicaSetSpec",
                &[
                    ("replicas", Ty::Int32),
                    ("minReadySeconds", Ty::Int32),
                    ("selector", LABEL_SELECTOR),
                    ("template", POD_TEMPLATE),
                ],
            ),
        ),
        ("status", Ty::Any),
    ],
);

const POD: Ty = Ty::Obj(
    "Pod",
    &[
        ("metadata", OBJECT_META),
        ("spec", Ty::Any),
        ("status", Ty::Any),
    ],
);

const EVENT: Ty = Ty::Obj("Event", &[("metadata", OBJECT_META)]);

const JOB: Ty = Ty::Obj(
    "Job",
    &[
        ("metadata", OBJECT_META),
        (
            "spec",
            Ty::Obj(
                "JobSpec",
                &[
                    ("parallelism", Ty::Int32),
                    ("completions", Ty::Int32),
                    ("activeDeadlineSeconds", Ty::Int64),
                    ("backoffLimit", Ty::Int32),
                    ("backoffLimitPerIndex", Ty::Int32),
                    ("maxFailedIndexes", Ty::Int32),
                    ("ttlSecondsAfterFinished", Ty::Int32),
                    ("completionMode", Ty::Str),
                    ("suspend", Ty::Bool),
                    ("manualSelector", Ty::Bool),
                    ("podReplacementPolicy", Ty::Str),
                    ("selector", LABEL_SELECTOR),
                    ("template", POD_TEMPLATE),
                ],
            ),
        ),
        ("status", Ty::Any),
    ],
);

/// How Go's decoder names a JSON value in its errors.
fn json_kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// Checks that `object` decodes into the Go type of `resource`, like the API server's
/// JSON decoding does before anything else looks at it.
pub fn check_types(resource: Resource, object: &Value) -> Result<(), DecodeError> {
    let ty = match resource {
        Resource::Deployment => &DEPLOYMENT,
        Resource::ConfigMap => &CONFIG_MAP,
        Resource::Namespace => &NAMESPACE,
        Resource::ReplicaSet => &REPLICA_SET,
        Resource::Pod => &POD,
        Resource::Event | Resource::EventV1 => &EVENT,
        Resource::Job => &JOB,
    };
    if !object.is_object() {
        return Err(DecodeError(format!(
            "json: cannot unmarshal {} into Go value of type {}",
            json_kind(object),
            resource.kind()
        )));
    }
    check(ty, object, resource.kind(), "")
}

fn check(ty: &Ty, value: &Value, owner: &str, path: &str) -> Result<(), DecodeError> {
    if value.is_null() {
        return Ok(());
    }
    let mismatch = |go_type: &str| {
        Err(DecodeError(format!(
            "json: cannot unmarshal {} into Go struct field {owner}.{path} of type {go_type}",
            json_kind(value).split(' ').next().unwrap_or("value")
        )))
    };
    let out_of_range = |go_type: &str| {
        Err(DecodeError(format!(
            "json: cannot unmarshal {} into Go struct field {owner}.{path} of type {go_type}",
            json_kind(value)
        )))
    };
    match ty {
        Ty::Any => Ok(()),
        Ty::Str if value.is_string() => Ok(()),
        Ty::Str => mismatch("string"),
        Ty::Bool if value.is_boolean() => Ok(()),
        Ty::Bool => mismatch("bool"),
        Ty::Int32 | Ty::Int64 => {
            let go_type = if matches!(ty, Ty::Int32) {
                "int32"
            } else {
                "int64"
            };
            match value {
                Value::Number(n) => match n.as_i64() {
                    Some(i) if matches!(ty, Ty::Int64) || i32::try_from(i).is_ok() => Ok(()),
                    _ => out_of_range(go_type),
                },
                _ => mismatch(go_type),
            }
        }
        Ty::IntOrString => match value {
            Value::String(_) => Ok(()),
            Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Ok(()),
            other => Err(DecodeError(format!(
                "json: cannot unmarshal {} into Go value of type int32",
                json_kind(other)
            ))),
        },
        Ty::StrMap => match value {
            Value::Object(map) => {
                for item in map.values() {
                    if !item.is_string() && !item.is_null() {
                        return Err(DecodeError(format!(
                            "json: cannot unmarshal {} into Go struct field {owner}.{path} of type string",
                            json_kind(item).split(' ').next().unwrap_or("value")
                        )));
                    }
                }
                Ok(())
            }
            _ => mismatch("map[string]string"),
        },
        Ty::StrList => match value {
            Value::Array(items) => {
                for item in items {
                    if !item.is_string() && !item.is_null() {
                        return Err(DecodeError(format!(
                            "json: cannot unmarshal {} into Go struct field {owner}.{path} of type string",
                            json_kind(item).split(' ').next().unwrap_or("value")
                        )));
                    }
                }
                Ok(())
            }
            _ => mismatch("[]string"),
        },
        Ty::List(item) => match value {
            Value::Array(items) => items.iter().try_for_each(|v| check(item, v, owner, path)),
            _ => mismatch("[]"),
        },
        Ty::Obj(name, fields) => match value {
            Value::Object(map) => {
                for (key, field_ty) in fields.iter() {
                    if let Some(v) = map.get(*key) {
                        let child = if path.is_empty() {
                            (*key).to_string()
                        } else {
                            format!("{path}.{key}")
                        };
                        check(field_ty, v, name, &child)?;
                    }
                }
                Ok(())
            }
            _ if path.is_empty() => Err(DecodeError(format!(
                "json: cannot unmarshal {} into Go value of type {name}",
                json_kind(value)
            ))),
            _ => mismatch(name),
        },
    }
}

fn cause(reason: &str, field: &str, message: String) -> Cause {
    Cause {
        reason: reason.into(),
        message,
        field: field.into(),
    }
}

fn invalid_value(field: &str, value: &Value, detail: &str) -> Cause {
    let shown = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    cause(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {shown}: {detail}"),
    )
}

fn required(field: &str, detail: &str) -> Cause {
    let message = if detail.is_empty() {
        "Required value".to_string()
    } else {
        format!("Required value: {detail}")
    };
    cause("FieldValueRequired", field, message)
}

/// The `422 Invalid` for `causes` on `resource` named `name`.
pub fn invalid(resource: Resource, name: &str, causes: Vec<Cause>) -> ApiError {
    let kind = match resource.group() {
        "" => resource.kind().to_string(),
        group => format!("{}.{group}", resource.kind()),
    };
    // As upstream's NewInvalid: `details.kind` is the kind (kubectl prints "The Deployment
    // "web" is invalid"), not the plural resource other errors carry.
    ApiError::Invalid {
        kind,
        subject: Subject::new(resource.group(), resource.kind(), name),
        causes,
    }
}

const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME_MESSAGE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const CONFIG_KEY_MESSAGE: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const PERCENT_MESSAGE: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Labels joined by dots; `a..b` has an empty label and is refused.
fn is_dns_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Validates `metadata.name` (or another DNS name) into `causes`.
fn check_dns_name(field: &str, name: &str, label: bool, causes: &mut Vec<Cause>) {
    let value = Value::String(name.to_string());
    let max = if label { 63 } else { 253 };
    if name.len() > max {
        causes.push(invalid_value(
            field,
            &value,
            &format!("must be no more than {max} characters"),
        ));
    }
    let ok = if label {
        is_dns_label(name)
    } else {
        is_dns_subdomain(name)
    };
    if !ok {
        let message = if label {
            DNS1123_LABEL_MESSAGE
        } else {
            DNS1123_SUBDOMAIN_MESSAGE
        };
        causes.push(invalid_value(field, &value, message));
    }
}

/// A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name part.
fn check_qualified_name(field: &str, key: &str, causes: &mut Vec<Cause>) {
    let value = Value::String(key.to_string());
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            causes.push(invalid_value(
                field,
                &value,
                "prefix part must be non-empty",
            ));
        } else if prefix.len() > 253 || !is_dns_subdomain(prefix) {
            causes.push(invalid_value(
                field,
                &value,
                &format!("prefix part {DNS1123_SUBDOMAIN_MESSAGE}"),
            ));
        }
    }
    if name.is_empty() {
        causes.push(invalid_value(field, &value, "name part must be non-empty"));
        return;
    }
    if name.len() > 63 {
        causes.push(invalid_value(
            field,
            &value,
            "name part must be no more than 63 characters",
        ));
    }
    if !is_qualified_name_part(name) {
        causes.push(invalid_value(field, &value, QUALIFIED_NAME_MESSAGE));
    }
}

fn check_labels(field: &str, labels: Option<&Map<String, Value>>, causes: &mut Vec<Cause>) {
    for (key, value) in labels.into_iter().flatten() {
        check_qualified_name(field, key, causes);
        let text = value.as_str().unwrap_or("");
        if text.len() > 63 {
            causes.push(invalid_value(
                field,
                value,
                "must be no more than 63 characters",
            ));
        }
        if !text.is_empty() && !is_qualified_name_part(text) {
            causes.push(invalid_value(field, value, LABEL_VALUE_MESSAGE));
        }
    }
}

fn check_annotations(
    field: &str,
    annotations: Option<&Map<String, Value>>,
    causes: &mut Vec<Cause>,
) {
    let mut total = 0usize;
    for (key, value) in annotations.into_iter().flatten() {
        check_qualified_name(field, &key.to_lowercase(), causes);
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > MAX_ANNOTATIONS_BYTES {
        causes.push(cause(
            "FieldValueTooLong",
            field,
            format!("Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes"),
        ));
    }
}

fn check_metadata(prefix: &str, meta: Option<&Value>, causes: &mut Vec<Cause>) {
    let meta = meta.and_then(Value::as_object);
    let labels = meta
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object);
    check_labels(&format!("{prefix}.labels"), labels, causes);
    let annotations = meta
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object);
    check_annotations(&format!("{prefix}.annotations"), annotations, causes);
}

/// Validates a fully defaulted object (decoded types already checked); the error is the
/// `422 Invalid` the API server returns, one cause per failed field.
pub fn validate(resource: Resource, object: &Value) -> Result<(), ApiError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut causes = Vec::new();
    if name.is_empty() {
        causes.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        check_dns_name(
            "metadata.name",
            name,
            resource == Resource::Namespace,
            &mut causes,
        );
    }
    check_metadata("metadata", object.get("metadata"), &mut causes);
    match resource {
        Resource::Deployment => validate_deployment(object, &mut causes),
        Resource::ConfigMap => validate_configmap(object, &mut causes),
        Resource::Job => validate_job(object, &mut causes),
        Resource::Namespace
        | Resource::ReplicaSet
        | Resource::Pod
        | Resource::Event
        | Resource::EventV1 => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(resource, name, causes))
    }
}

fn validate_configmap(object: &Value, causes: &mut Vec<Cause>) {
    let mut total = 0usize;
    for section in ["data", "binaryData"] {
        for (key, value) in object
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let field = format!("{section}[{key}]");
            let shown = Value::String(key.clone());
            if key.len() > 253 {
                causes.push(invalid_value(
                    &field,
                    &shown,
                    "must be no more than 253 characters",
                ));
            }
            let ok = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok || key == "." || key == ".." {
                causes.push(invalid_value(&field, &shown, CONFIG_KEY_MESSAGE));
            }
            total += key.len() + value.as_str().map_or(0, str::len);
        }
    }
    if total > MAX_CONFIGMAP_BYTES {
        causes.push(cause(
            "FieldValueTooLong",
            "[]",
            format!("Too long: must have at most {MAX_CONFIGMAP_BYTES} bytes"),
        ));
    }
}

fn non_negative(spec: &Value, key: &str, causes: &mut Vec<Cause>) -> i64 {
    let value = spec.get(key).and_then(Value::as_i64).unwrap_or(0);
    if value < 0 {
        causes.push(invalid_value(
            &format!("spec.{key}"),
            &Value::from(value),
            "must be greater than or equal to 0",
        ));
    }
    value
}

/// An int-or-string's value as (number, is_percent), or a cause when it is malformed.
fn int_or_percent(field: &str, value: &Value, causes: &mut Vec<Cause>) -> Option<(i64, bool)> {
    match value {
        Value::Number(n) => {
            let v = n.as_i64().unwrap_or(0);
            if v < 0 {
                causes.push(invalid_value(
                    field,
                    value,
                    "must be greater than or equal to 0",
                ));
            }
            Some((v, false))
        }
        Value::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or("");
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                causes.push(invalid_value(field, value, PERCENT_MESSAGE));
                return None;
            }
            Some((digits.parse().unwrap_or(i64::MAX), true))
        }
        _ => None,
    }
}

fn validate_deployment(object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    non_negative(spec, "replicas", causes);
    let min_ready = non_negative(spec, "minReadySeconds", causes);
    non_negative(spec, "revisionHistoryLimit", causes);
    if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        let value = Value::from(deadline);
        if deadline < 0 {
            causes.push(invalid_value(
                "spec.progressDeadlineSeconds",
                &value,
                "must be greater than or equal to 0",
            ));
        }
        if deadline <= min_ready {
            causes.push(invalid_value(
                "spec.progressDeadlineSeconds",
                &value,
                "must be greater than minReadySeconds",
            ));
        }
    }
    validate_strategy(spec.get("strategy").unwrap_or(&Value::Null), causes);
    validate_selector(spec, causes);
    check_metadata(
        "spec.template.metadata",
        spec.pointer("/template/metadata"),
        causes,
    );
    validate_containers(spec, causes);
}

/// The largest `completions` / `parallelism` of an Indexed Job
/// (pkg/apis/batch/validation/validation.go, `maxParallelismForIndexedJob` and
/// `completionsSoftLimit`).
const MAX_INDEXED_JOB: i64 = 100_000;

/// `batch/v1` Job rules after defaulting (pkg/apis/batch/validation/validation.go,
/// `validateJobSpec`): counts non-negative, a known completion mode, an Indexed Job has
/// `completions` (at most 100,000) and `parallelism` at most 100,000, the pod template
/// restarts `OnFailure` or `Never`, and the selector matches the template's labels.
fn validate_job(object: &Value, causes: &mut Vec<Cause>) {
    let spec = object.get("spec").unwrap_or(&Value::Null);
    let parallelism = non_negative(spec, "parallelism", causes);
    let completions = spec.get("completions").and_then(Value::as_i64);
    non_negative(spec, "completions", causes);
    non_negative(spec, "backoffLimit", causes);
    non_negative(spec, "ttlSecondsAfterFinished", causes);
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if deadline <= 0 {
            causes.push(invalid_value(
                "spec.activeDeadlineSeconds",
                &Value::from(deadline),
                "must be greater than 0",
            ));
        }
    }
    match spec.get("completionMode").and_then(Value::as_str) {
        Some("NonIndexed") | None => {}
        Some("Indexed") => {
            match completions {
                None => causes.push(required(
                    "spec.completions",
                    "when completion mode is Indexed",
                )),
                Some(c) if c > MAX_INDEXED_JOB => causes.push(invalid_value(
                    "spec.completions",
                    &Value::from(c),
                    "must be less than or equal to 100000 when completion mode is Indexed",
                )),
                Some(_) => {}
            }
            if parallelism > MAX_INDEXED_JOB {
                causes.push(invalid_value(
                    "spec.parallelism",
                    &Value::from(parallelism),
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
        }
        Some(other) => causes.push(cause(
            "FieldValueNotSupported",
            "spec.completionMode",
            format!("Unsupported value: {other:?}: supported values: \"NonIndexed\", \"Indexed\""),
        )),
    }
    match spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
    {
        Some("OnFailure" | "Never") => {}
        Some(other) => causes.push(cause(
            "FieldValueNotSupported",
            "spec.template.spec.restartPolicy",
            format!("Unsupported value: {other:?}: supported values: \"OnFailure\", \"Never\""),
        )),
        None => causes.push(required(
            "spec.template.spec.restartPolicy",
            "valid values: \"OnFailure\", \"Never\"",
        )),
    }
    validate_selector(spec, causes);
    check_metadata(
        "spec.template.metadata",
        spec.pointer("/template/metadata"),
        causes,
    );
    validate_containers(spec, causes);
}

fn validate_strategy(strategy: &Value, causes: &mut Vec<Cause>) {
    let kind = strategy.get("type").and_then(Value::as_str).unwrap_or("");
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match kind {
        "Recreate" if rolling.is_some() => causes.push(cause(
            "FieldValueForbidden",
            "spec.strategy.rollingUpdate",
            "Forbidden: may not be specified when strategy `type` is 'Recreate'".into(),
        )),
        "Recreate" => {}
        "RollingUpdate" => {
            let Some(rolling) = rolling else {
                causes.push(required(
                    "spec.strategy.rollingUpdate",
                    "this should be defaulted and never be nil",
                ));
                return;
            };
            let field = |k: &str| format!("spec.strategy.rollingUpdate.{k}");
            let surge = rolling
                .get("maxSurge")
                .and_then(|v| int_or_percent(&field("maxSurge"), v, causes));
            let unavailable = rolling
                .get("maxUnavailable")
                .and_then(|v| int_or_percent(&field("maxUnavailable"), v, causes));
            if let Some((v, true)) = unavailable {
                if v > 100 {
                    causes.push(invalid_value(
                        &field("maxUnavailable"),
                        &rolling["maxUnavailable"],
                        "must not be greater than 100%",
                    ));
                }
            }
            if let (Some((0, _)), Some((0, _))) = (surge, unavailable) {
                causes.push(invalid_value(
                    &field("maxUnavailable"),
                    &rolling["maxUnavailable"],
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        other => causes.push(cause(
            "FieldValueNotSupported",
            "spec.strategy.type",
            format!(
                "Unsupported value: {other:?}: supported values: \"Recreate\", \"RollingUpdate\""
            ),
        )),
    }
}

fn validate_selector(spec: &Value, causes: &mut Vec<Cause>) {
    let selector = spec.get("selector").filter(|s| s.is_object());
    let template_labels = spec
        .pointer("/template/metadata/labels")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let Some(selector) = selector else {
        causes.push(required("spec.selector", ""));
        return;
    };
    check_labels(
        "spec.selector.matchLabels",
        selector.get("matchLabels").and_then(Value::as_object),
        causes,
    );
    let parsed = LabelSelector::from_label_selector_object(selector);
    let probe = serde_json::json!({"metadata": {"labels": template_labels}});
    if parsed.is_empty() {
        causes.push(invalid_value(
            "spec.selector",
            selector,
            "empty selector is invalid for deployment",
        ));
    } else if !parsed.matches(&probe) {
        causes.push(invalid_value(
            "spec.template.metadata.labels",
            &template_labels,
            "`selector` does not match template `labels`",
        ));
    }
}

fn validate_containers(spec: &Value, causes: &mut Vec<Cause>) {
    let containers = spec
        .pointer("/template/spec/containers")
        .and_then(Value::as_array)
        .filter(|cs| !cs.is_empty());
    let Some(containers) = containers else {
        causes.push(required("spec.template.spec.containers", ""));
        return;
    };
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let field = |k: &str| format!("spec.template.spec.containers[{i}].{k}");
        match c
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            None => causes.push(required(&field("name"), "")),
            Some(name) => {
                check_dns_name(&field("name"), name, true, causes);
                if seen.contains(&name) {
                    causes.push(cause(
                        "FieldValueDuplicate",
                        &field("name"),
                        format!("Duplicate value: {name:?}"),
                    ));
                }
                seen.push(name);
            }
        }
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            causes.push(required(&field("image"), ""));
        }
        for (j, port) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let number = port
                .get("containerPort")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if !(1..=65535).contains(&number) {
                causes.push(invalid_value(
                    &field(&format!("ports[{j}].containerPort")),
                    &Value::from(number),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
}

/// NamespaceLifecycle admission: the system namespaces cannot be deleted (403).
pub fn check_namespace_delete(name: &str) -> Result<(), ApiError> {
    if SYSTEM_NAMESPACES.contains(&name) {
        return Err(ApiError::Forbidden {
            subject: Resource::Namespace.subject(name),
            message: "this namespace may not be deleted".into(),
        });
    }
    Ok(())
}

/// `metadata.resourceVersion` as the storage layer parses it: empty or a decimal number.
pub fn check_resource_version(object: &Value) -> Result<(), ApiError> {
    match object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        None | Some("") => Ok(()),
        Some(rv) if rv.parse::<u64>().is_ok() => Ok(()),
        Some(rv) => Err(ApiError::BadRequest(format!(
            "metadata.resourceVersion: Invalid value: {rv:?}: strconv.ParseUint: parsing {rv:?}: invalid syntax"
        ))),
    }
}

/// A patch may not change what the URL names: a different kind or apiVersion cannot be
/// decoded (422 `patch`), a different name or namespace is a 400, as upstream's checkName.
pub fn check_patched_identity(
    resource: Resource,
    namespace: &str,
    name: &str,
    patched: &Value,
) -> Result<(), ApiError> {
    let kind = patched.get("kind").and_then(Value::as_str);
    let api_version = patched.get("apiVersion").and_then(Value::as_str);
    if kind.is_some_and(|k| k != resource.kind())
        || api_version.is_some_and(|v| v != resource.api_version())
    {
        return Err(DecodeError(format!(
            "no kind {:?} is registered for version {:?}",
            kind.unwrap_or(resource.kind()),
            api_version.unwrap_or(resource.api_version())
        ))
        .for_patch(resource, name));
    }
    let patched_name = patched
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if patched_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({patched_name}) does not match the name on the URL ({name})"
        )));
    }
    if resource.namespaced() {
        if let Some(ns) = patched
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty() && *ns != namespace)
        {
            return Err(ApiError::BadRequest(format!(
                "the namespace of the object ({ns}) does not match the namespace on the request ({namespace})"
            )));
        }
    }
    Ok(())
}

/// The uid of an existing object cannot change (422, as ValidateObjectMetaUpdate).
pub fn check_uid_unchanged(resource: Resource, old: &Value, new: &Value) -> Result<(), ApiError> {
    let uid = |v: &Value| {
        v.pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (before, after) = (uid(old), uid(new));
    if !after.is_empty() && after != before {
        let name = old
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(invalid(
            resource,
            name,
            vec![invalid_value(
                "metadata.uid",
                &Value::String(after),
                "field is immutable",
            )],
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"metadata": {"name": "web"}, "spec": {
            "replicas": 1, "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Invalid { causes, .. } => causes.into_iter().map(|c| c.field).collect(),
            other => panic!("not Invalid: {other:?}"),
        }
    }

    #[test]
    fn int32_fields_refuse_numbers_outside_int32_like_go_decoding() {
        for (key, value) in [
            ("replicas", json!(2_147_483_648u64)),
            (
                "progressDeadlineSeconds",
                json!(9_300_000_000_000_000_000u64),
            ),
            ("minReadySeconds", json!(-2_147_483_649i64)),
            ("revisionHistoryLimit", json!(1.5)),
        ] {
            let mut d = deployment();
            d["spec"][key] = value.clone();
            let err = check_types(Resource::Deployment, &d).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "json: cannot unmarshal number {value} into Go struct field DeploymentSpec.spec.{key} of type int32"
                )
            );
            let bad = err.for_body(Resource::Deployment);
            assert_eq!(bad.code().as_u16(), 400);
            assert!(bad.to_string().starts_with(
                "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal"
            ));
        }
        let mut d = deployment();
        d["spec"]["replicas"] = json!(2_147_483_647);
        assert!(check_types(Resource::Deployment, &d).is_ok());
    }

    #[test]
    fn labels_must_be_a_map_of_strings() {
        let mut d = deployment();
        d["metadata"]["labels"] = json!([1]);
        assert_eq!(
            check_types(Resource::Deployment, &d)
                .unwrap_err()
                .to_string(),
            "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string"
        );
        d["metadata"]["labels"] = json!({"a": 1});
        assert!(check_types(Resource::Deployment, &d).is_err());
    }

    #[test]
    fn names_are_dns_1123() {
        for bad in ["a..b", "-a", "A", "a_b", &"a".repeat(254)] {
            let err =
                validate(Resource::ConfigMap, &json!({"metadata": {"name": bad}})).unwrap_err();
            assert_eq!(fields(err)[0], "metadata.name", "{bad}");
        }
        assert!(validate(Resource::ConfigMap, &json!({"metadata": {"name": "a.b-c"}})).is_ok());
        let err = validate(Resource::Namespace, &json!({"metadata": {"name": "a.b"}})).unwrap_err();
        assert_eq!(fields(err), ["metadata.name"]);
        assert!(
            validate(
                Resource::Namespace,
                &json!({"metadata": {"name": &"a".repeat(64)}})
            )
            .is_err()
        );
    }

    #[test]
    fn label_keys_and_values_follow_kubernetes_syntax() {
        for (key, value) in [
            ("bad key", "v"),
            ("a/", "v"),
            ("A.B/c", "v"),
            ("k", "-v"),
            ("k", &"v".repeat(64) as &str),
        ] {
            let object = json!({"metadata": {"name": "c", "labels": {key: value}}});
            let err = validate(Resource::ConfigMap, &object).unwrap_err();
            assert_eq!(fields(err)[0], "metadata.labels", "{key}={value}");
        }
        let ok = json!({"metadata": {"name": "c", "labels": {"app.kubernetes.io/name": "web_1", "empty": ""}}});
        assert!(validate(Resource::ConfigMap, &ok).is_ok());
    }

    #[test]
    fn int_or_string_accepts_numbers_and_percentages_only() {
        let mut d = deployment();
        d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = json!("abc");
        assert_eq!(
            fields(validate(Resource::Deployment, &d).unwrap_err()),
            ["spec.strategy.rollingUpdate.maxSurge"]
        );
        for ok in [json!("0%"), json!("150%"), json!(3)] {
            d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = ok;
            assert!(validate(Resource::Deployment, &d).is_ok());
        }
        d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = json!("101%");
        assert!(validate(Resource::Deployment, &d).is_err());
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": true});
        assert!(check_types(Resource::Deployment, &d).is_err());
    }

    #[test]
    fn progress_deadline_must_exceed_min_ready_seconds() {
        let mut d = deployment();
        d["spec"]["minReadySeconds"] = json!(600);
        assert_eq!(
            fields(validate(Resource::Deployment, &d).unwrap_err()),
            ["spec.progressDeadlineSeconds"]
        );
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["minReadySeconds"] = json!(0);
        assert_eq!(
            fields(validate(Resource::Deployment, &d).unwrap_err()),
            ["spec.replicas"]
        );
    }

    #[test]
    fn configmaps_are_limited_to_one_mebibyte() {
        let big = "x".repeat(MAX_CONFIGMAP_BYTES);
        let err = validate(
            Resource::ConfigMap,
            &json!({"metadata": {"name": "c"}, "data": {"k": big}}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["[]"]);
        let err = validate(
            Resource::ConfigMap,
            &json!({"metadata": {"name": "c"}, "data": {"a b": "v"}}),
        )
        .unwrap_err();
        assert_eq!(fields(err), ["data[a b]"]);
    }

    #[test]
    fn system_namespaces_cannot_be_deleted() {
        for ns in SYSTEM_NAMESPACES {
            let err = check_namespace_delete(ns).unwrap_err();
            assert_eq!(err.code().as_u16(), 403);
            assert_eq!(
                err.to_string(),
                format!("namespaces {ns:?} is forbidden: this namespace may not be deleted")
            );
        }
        assert!(check_namespace_delete("pushpull-a").is_ok());
    }

    #[test]
    fn patches_cannot_rename_or_retype_the_object() {
        let mut d = deployment();
        d["metadata"]["namespace"] = json!("default");
        assert!(check_patched_identity(Resource::Deployment, "default", "web", &d).is_ok());
        d["metadata"]["name"] = json!("other");
        assert_eq!(
            check_patched_identity(Resource::Deployment, "default", "web", &d)
                .unwrap_err()
                .code()
                .as_u16(),
            400
        );
        d["metadata"]["name"] = json!("web");
        d["kind"] = json!("Foo");
        let err = check_patched_identity(Resource::Deployment, "default", "web", &d).unwrap_err();
        assert_eq!(err.code().as_u16(), 422);
        assert_eq!(fields(err), ["patch"]);
    }
}
