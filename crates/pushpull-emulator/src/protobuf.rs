//! Decodes the Kubernetes protobuf wire form for the bodies kubectl sends that way
//! (`kubectl create namespace` posts `application/vnd.kubernetes.protobuf` and does not
//! fall back to JSON; nor does `kubectl create deployment`). Covers the `k8s\0` envelope,
//! ObjectMeta's user-set fields, Namespace, ConfigMap and `apps/v1` Deployment (spec,
//! strategy, selector, pod template with containers, ports, env and resources); other
//! types get 415 and clients that can, retry with JSON. Field numbers are those of
//! k8s.io/api's generated.proto (apps/v1, core/v1) and apimachinery's meta/v1.
//! Hand-written: the emulator's objects are JSON, and the protobuf crates (k8s-pb) give
//! prost structs without a JSON mapping, so each field would be mapped by hand anyway.

use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    #[error("protobuf body lacks the k8s envelope magic")]
    Magic,
    #[error("protobuf body is truncated or malformed at byte {0}")]
    Malformed(usize),
    #[error("protobuf decoding is not supported for {0}; send JSON")]
    Unsupported(String),
}

/// One field of a protobuf message: number and value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, ProtobufError> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or(ProtobufError::Malformed(*pos))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtobufError::Malformed(*pos))
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtobufError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = read_varint(buf, &mut pos)?;
        let (number, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => out.push((number, Field::Varint(read_varint(buf, &mut pos)?))),
            2 => {
                let len = read_varint(buf, &mut pos)? as usize;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or(ProtobufError::Malformed(pos))?;
                out.push((number, Field::Bytes(&buf[pos..end])));
                pos = end;
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return Err(ProtobufError::Malformed(pos)),
        }
    }
    if pos > buf.len() {
        return Err(ProtobufError::Malformed(pos));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `map<string,string>` entry (key = 1, value = 2).
fn map_entry(bytes: &[u8]) -> Result<(String, String), ProtobufError> {
    let mut key = String::new();
    let mut value = String::new();
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => key = text(b),
            (2, Field::Bytes(b)) => value = text(b),
            _ => {}
        }
    }
    Ok((key, value))
}

fn object_meta(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut meta = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) if !b.is_empty() => {
                meta.insert("name".into(), json!(text(b)));
            }
            (2, Field::Bytes(b)) if !b.is_empty() => {
                meta.insert("generateName".into(), json!(text(b)));
            }
            (3, Field::Bytes(b)) if !b.is_empty() => {
                meta.insert("namespace".into(), json!(text(b)));
            }
            (6, Field::Bytes(b)) if !b.is_empty() => {
                meta.insert("resourceVersion".into(), json!(text(b)));
            }
            (11, Field::Bytes(b)) => {
                let (k, v) = map_entry(b)?;
                labels.insert(k, json!(v));
            }
            (12, Field::Bytes(b)) => {
                let (k, v) = map_entry(b)?;
                annotations.insert(k, json!(v));
            }
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    Ok(Value::Object(meta))
}

/// Go's protobuf encoder writes every non-pointer field, empty or not: an empty string or
/// a zero is "not set" for the JSON form (API defaulting fills it in as usual).
fn put_text(map: &mut Map<String, Value>, key: &str, bytes: &[u8]) {
    if !bytes.is_empty() {
        map.insert(key.into(), json!(text(bytes)));
    }
}

fn put_int(map: &mut Map<String, Value>, key: &str, v: u64) {
    // int32/int64 fields are varints of the two's complement value.
    let v = v as i64;
    map.insert(key.into(), json!(v));
}

fn string_map(entries: Vec<(String, String)>) -> Option<Value> {
    (!entries.is_empty())
        .then(|| Value::Object(entries.into_iter().map(|(k, v)| (k, json!(v))).collect()))
}

/// `IntOrString`: type = 1 (0 int, 1 string), intVal = 2, strVal = 3.
fn int_or_string(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let (mut kind, mut int, mut string) = (0, 0i64, String::new());
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Varint(v)) => kind = v,
            (2, Field::Varint(v)) => int = v as i64,
            (3, Field::Bytes(b)) => string = text(b),
            _ => {}
        }
    }
    Ok(if kind == 1 { json!(string) } else { json!(int) })
}

/// `LabelSelector`: matchLabels = 1, matchExpressions = 2 (key 1, operator 2, values 3).
fn label_selector(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut labels = Vec::new();
    let mut expressions = Vec::new();
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => labels.push(map_entry(b)?),
            (2, Field::Bytes(b)) => {
                let mut e = Map::new();
                let mut values = Vec::new();
                for (en, ef) in fields(b)? {
                    match (en, ef) {
                        (1, Field::Bytes(v)) => put_text(&mut e, "key", v),
                        (2, Field::Bytes(v)) => put_text(&mut e, "operator", v),
                        (3, Field::Bytes(v)) => values.push(json!(text(v))),
                        _ => {}
                    }
                }
                if !values.is_empty() {
                    e.insert("values".into(), Value::Array(values));
                }
                expressions.push(Value::Object(e));
            }
            _ => {}
        }
    }
    let mut selector = Map::new();
    if let Some(m) = string_map(labels) {
        selector.insert("matchLabels".into(), m);
    }
    if !expressions.is_empty() {
        selector.insert("matchExpressions".into(), Value::Array(expressions));
    }
    Ok(Value::Object(selector))
}

/// `ResourceRequirements`: limits = 1, requests = 2, each `map<string, Quantity>` where a
/// Quantity is `{string = 1}`.
fn resources(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut out = Map::new();
    for (n, f) in fields(bytes)? {
        let key = match n {
            1 => "limits",
            2 => "requests",
            _ => continue,
        };
        if let Field::Bytes(entry) = f {
            let (mut name, mut quantity) = (String::new(), String::new());
            for (en, ef) in fields(entry)? {
                match (en, ef) {
                    (1, Field::Bytes(b)) => name = text(b),
                    (2, Field::Bytes(b)) => {
                        for (qn, qf) in fields(b)? {
                            if let (1, Field::Bytes(q)) = (qn, qf) {
                                quantity = text(q);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let slot = out.entry(key).or_insert_with(|| json!({}));
            slot[name] = json!(quantity);
        }
    }
    Ok(Value::Object(out))
}

/// `Container`: name 1, image 2, command 3, args 4, workingDir 5, ports 6 (name 1,
/// hostPort 2, containerPort 3, protocol 4, hostIP 5), env 7 (name 1, value 2),
/// resources 8, terminationMessagePath 13, imagePullPolicy 14, terminationMessagePolicy 20.
fn container(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut c = Map::new();
    let (mut command, mut args, mut ports, mut env) = (vec![], vec![], vec![], vec![]);
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => put_text(&mut c, "name", b),
            (2, Field::Bytes(b)) => put_text(&mut c, "image", b),
            (3, Field::Bytes(b)) => command.push(json!(text(b))),
            (4, Field::Bytes(b)) => args.push(json!(text(b))),
            (5, Field::Bytes(b)) => put_text(&mut c, "workingDir", b),
            (6, Field::Bytes(b)) => {
                let mut p = Map::new();
                for (pn, pf) in fields(b)? {
                    match (pn, pf) {
                        (1, Field::Bytes(v)) => put_text(&mut p, "name", v),
                        (2, Field::Varint(v)) if v != 0 => put_int(&mut p, "hostPort", v),
                        (3, Field::Varint(v)) => put_int(&mut p, "containerPort", v),
                        (4, Field::Bytes(v)) => put_text(&mut p, "protocol", v),
                        (5, Field::Bytes(v)) => put_text(&mut p, "hostIP", v),
                        _ => {}
                    }
                }
                ports.push(Value::Object(p));
            }
            (7, Field::Bytes(b)) => {
                let mut e = Map::new();
                for (en, ef) in fields(b)? {
                    match (en, ef) {
                        (1, Field::Bytes(v)) => put_text(&mut e, "name", v),
                        (2, Field::Bytes(v)) => put_text(&mut e, "value", v),
                        _ => {}
                    }
                }
                env.push(Value::Object(e));
            }
            (8, Field::Bytes(b)) => {
                c.insert("resources".into(), resources(b)?);
            }
            (13, Field::Bytes(b)) => put_text(&mut c, "terminationMessagePath", b),
            (14, Field::Bytes(b)) => put_text(&mut c, "imagePullPolicy", b),
            (20, Field::Bytes(b)) => put_text(&mut c, "terminationMessagePolicy", b),
            _ => {}
        }
    }
    for (key, list) in [
        ("command", command),
        ("args", args),
        ("ports", ports),
        ("env", env),
    ] {
        if !list.is_empty() {
            c.insert(key.into(), Value::Array(list));
        }
    }
    Ok(Value::Object(c))
}

/// `PodTemplateSpec`: metadata 1, spec 2 (`PodSpec`: containers 2, restartPolicy 3,
/// terminationGracePeriodSeconds 4, activeDeadlineSeconds 5, dnsPolicy 6, nodeSelector 7,
/// serviceAccountName 8, nodeName 10, schedulerName 19, initContainers 20).
fn pod_template(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut template = Map::new();
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => {
                template.insert("metadata".into(), object_meta(b)?);
            }
            (2, Field::Bytes(b)) => {
                let mut spec = Map::new();
                let (mut containers, mut init, mut selector) = (vec![], vec![], vec![]);
                for (sn, sf) in fields(b)? {
                    match (sn, sf) {
                        (2, Field::Bytes(v)) => containers.push(container(v)?),
                        (3, Field::Bytes(v)) => put_text(&mut spec, "restartPolicy", v),
                        (4, Field::Varint(v)) => {
                            put_int(&mut spec, "terminationGracePeriodSeconds", v)
                        }
                        (5, Field::Varint(v)) => put_int(&mut spec, "activeDeadlineSeconds", v),
                        (6, Field::Bytes(v)) => put_text(&mut spec, "dnsPolicy", v),
                        (7, Field::Bytes(v)) => selector.push(map_entry(v)?),
                        (8, Field::Bytes(v)) => put_text(&mut spec, "serviceAccountName", v),
                        (10, Field::Bytes(v)) => put_text(&mut spec, "nodeName", v),
                        (19, Field::Bytes(v)) => put_text(&mut spec, "schedulerName", v),
                        (20, Field::Bytes(v)) => init.push(container(v)?),
                        _ => {}
                    }
                }
                spec.insert("containers".into(), Value::Array(containers));
                if !init.is_empty() {
                    spec.insert("initContainers".into(), Value::Array(init));
                }
                if let Some(m) = string_map(selector) {
                    spec.insert("nodeSelector".into(), m);
                }
                template.insert("spec".into(), Value::Object(spec));
            }
            _ => {}
        }
    }
    Ok(Value::Object(template))
}

/// `DeploymentSpec`: replicas 1, selector 2, template 3, strategy 4 (type 1, rollingUpdate
/// 2: maxUnavailable 1, maxSurge 2), minReadySeconds 5, revisionHistoryLimit 6, paused 7,
/// progressDeadlineSeconds 9.
fn deployment_spec(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let mut spec = Map::new();
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Varint(v)) => put_int(&mut spec, "replicas", v),
            (2, Field::Bytes(b)) => {
                spec.insert("selector".into(), label_selector(b)?);
            }
            (3, Field::Bytes(b)) => {
                spec.insert("template".into(), pod_template(b)?);
            }
            (4, Field::Bytes(b)) => {
                let mut strategy = Map::new();
                for (sn, sf) in fields(b)? {
                    match (sn, sf) {
                        (1, Field::Bytes(v)) => put_text(&mut strategy, "type", v),
                        (2, Field::Bytes(v)) => {
                            let mut rolling = Map::new();
                            for (rn, rf) in fields(v)? {
                                match (rn, rf) {
                                    (1, Field::Bytes(x)) => {
                                        rolling.insert("maxUnavailable".into(), int_or_string(x)?);
                                    }
                                    (2, Field::Bytes(x)) => {
                                        rolling.insert("maxSurge".into(), int_or_string(x)?);
                                    }
                                    _ => {}
                                }
                            }
                            strategy.insert("rollingUpdate".into(), Value::Object(rolling));
                        }
                        _ => {}
                    }
                }
                if !strategy.is_empty() {
                    spec.insert("strategy".into(), Value::Object(strategy));
                }
            }
            (5, Field::Varint(v)) if v != 0 => put_int(&mut spec, "minReadySeconds", v),
            (6, Field::Varint(v)) => put_int(&mut spec, "revisionHistoryLimit", v),
            (7, Field::Varint(v)) if v != 0 => {
                spec.insert("paused".into(), json!(true));
            }
            (9, Field::Varint(v)) => put_int(&mut spec, "progressDeadlineSeconds", v),
            _ => {}
        }
    }
    Ok(Value::Object(spec))
}

/// Decodes an enveloped protobuf body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let envelope = body.strip_prefix(b"k8s\0").ok_or(ProtobufError::Magic)?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (n, f) in fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(type_meta)) => {
                for (tn, tf) in fields(type_meta)? {
                    match (tn, tf) {
                        (1, Field::Bytes(b)) => api_version = text(b),
                        (2, Field::Bytes(b)) => kind = text(b),
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut object = json!({"apiVersion": api_version, "kind": kind});
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => {
            for (n, f) in fields(raw)? {
                if let (1, Field::Bytes(b)) = (n, f) {
                    object["metadata"] = object_meta(b)?;
                }
            }
        }
        ("v1", "ConfigMap") => {
            let mut data = Map::new();
            for (n, f) in fields(raw)? {
                match (n, f) {
                    (1, Field::Bytes(b)) => object["metadata"] = object_meta(b)?,
                    (2, Field::Bytes(b)) => {
                        let (k, v) = map_entry(b)?;
                        data.insert(k, json!(v));
                    }
                    (4, Field::Varint(v)) => object["immutable"] = json!(v != 0),
                    _ => {}
                }
            }
            if !data.is_empty() {
                object["data"] = Value::Object(data);
            }
        }
        ("apps/v1", "Deployment") => {
            for (n, f) in fields(raw)? {
                match (n, f) {
                    (1, Field::Bytes(b)) => object["metadata"] = object_meta(b)?,
                    (2, Field::Bytes(b)) => object["spec"] = deployment_spec(b)?,
                    _ => {}
                }
            }
        }
        _ => return Err(ProtobufError::Unsupported(format!("{api_version}/{kind}"))),
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact body `kubectl create ns demo` (v1.32) sends.
    const CREATE_NS_DEMO: &[u8] = &[
        0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61, 0x6d,
        0x65, 0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x1c, 0x0a, 0x14, 0x0a, 0x04, 0x64, 0x65, 0x6d,
        0x6f, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00,
        0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00,
    ];

    #[test]
    fn decodes_kubectl_create_namespace() {
        let ns = decode(CREATE_NS_DEMO).unwrap();
        assert_eq!(
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        );
    }

    /// A length-delimited field.
    fn bytes(number: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, body.len() as u8];
        out.extend_from_slice(body);
        out
    }

    fn varint(number: u8, value: u8) -> Vec<u8> {
        vec![number << 3, value]
    }

    /// `kubectl create deployment good --image=x --replicas=2`'s shape: labels, selector,
    /// template with one container, an empty strategy; empty strings left out.
    #[test]
    fn decodes_a_deployment_like_kubectl_create_deployment_sends() {
        let entry = [bytes(1, b"app"), bytes(2, b"good")].concat();
        let meta = [bytes(1, b"good"), bytes(3, b""), bytes(11, &entry)].concat();
        let container = [
            bytes(1, b"x"),
            bytes(2, b"x"),
            bytes(8, &[]),
            bytes(14, b""),
        ]
        .concat();
        let pod_spec = [bytes(2, &container), bytes(3, b"")].concat();
        let template = [bytes(1, &bytes(11, &entry)), bytes(2, &pod_spec)].concat();
        let surge = [varint(1, 1), bytes(3, b"25%")].concat();
        let strategy = [bytes(1, b""), bytes(2, &bytes(2, &surge))].concat();
        let spec = [
            varint(1, 2),
            bytes(2, &bytes(1, &entry)),
            bytes(3, &template),
            bytes(4, &strategy),
            varint(5, 0),
        ]
        .concat();
        let raw = [bytes(1, &meta), bytes(2, &spec), bytes(3, &[])].concat();
        let type_meta = [bytes(1, b"apps/v1"), bytes(2, b"Deployment")].concat();
        let body = [b"k8s\0".to_vec(), bytes(1, &type_meta), bytes(2, &raw)].concat();
        let d = decode(&body).unwrap();
        assert_eq!(
            d["metadata"],
            json!({"name": "good", "labels": {"app": "good"}})
        );
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(
            d["spec"]["selector"],
            json!({"matchLabels": {"app": "good"}})
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([{"name": "x", "image": "x", "resources": {}}])
        );
        assert_eq!(
            d["spec"]["strategy"],
            json!({"rollingUpdate": {"maxSurge": "25%"}})
        );
        assert!(
            d["spec"].get("minReadySeconds").is_none(),
            "a zero is not set"
        );
        for cut in 5..body.len() {
            let _ = decode(&body[..cut]);
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(decode(&CREATE_NS_DEMO[..20]).is_err());
        assert_eq!(decode(b"nope"), Err(ProtobufError::Magic));
    }
}
