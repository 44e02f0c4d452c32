//! Change events: what the store records in its history and broadcasts to open watches.
//! Each event keeps the object before and after the change (selector watches need both)
//! and renders its watch line once, shared by every watch that sends it.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use serde_json::Value;

use super::resource::Resource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in history and fanned out to watches.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub kind: EventKind,
    pub resource: Resource,
    pub namespace: String,
    pub object: Arc<Value>,
    /// The object before the change (so selector watches can turn a change into ADDED/DELETED).
    pub previous: Option<Arc<Value>>,
    json: OnceLock<String>,
    line: OnceLock<Bytes>,
}

impl Event {
    pub(crate) fn new(
        rv: u64,
        kind: EventKind,
        resource: Resource,
        object: Arc<Value>,
        previous: Option<Arc<Value>>,
    ) -> Event {
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Event {
            rv,
            kind,
            resource,
            namespace,
            object,
            previous,
            json: OnceLock::new(),
            line: OnceLock::new(),
        }
    }

    /// The object serialized once, shared by every watch that sends it.
    pub fn object_json(&self) -> &str {
        self.json
            .get_or_init(|| serde_json::to_string(&*self.object).unwrap_or_default())
    }

    /// The watch line `{"type":..,"object":..}` for `kind`; rendered once for the event's
    /// own type and shared (reference-counted) by every watch that sends it.
    pub fn line(&self, kind: EventKind) -> Bytes {
        let render = |k: EventKind| {
            Bytes::from(format!(
                "{{\"type\":\"{}\",\"object\":{}}}\n",
                k.as_str(),
                self.object_json()
            ))
        };
        if kind == self.kind {
            self.line.get_or_init(|| render(kind)).clone()
        } else {
            render(kind)
        }
    }
}
