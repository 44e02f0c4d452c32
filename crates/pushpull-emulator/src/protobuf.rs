//! Decodes the Kubernetes protobuf wire form for the bodies kubectl sends that way
//! (`kubectl create namespace` posts `application/vnd.kubernetes.protobuf` and does not
//! fall back to JSON). Covers the `k8s\0` envelope, ObjectMeta's user-set fields, Namespace
//! and ConfigMap; other types get 415 and clients that can, retry with JSON.

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

    #[test]
    fn truncated_input_is_an_error() {
        assert!(decode(&CREATE_NS_DEMO[..20]).is_err());
        assert_eq!(decode(b"nope"), Err(ProtobufError::Magic));
    }
}
