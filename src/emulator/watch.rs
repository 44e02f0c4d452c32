//! Watch streams: newline-delimited `{"type":..,"object":..}` events over a chunked
//! response, as the API server sends them. Handles selector transitions (a change that
//! makes an object stop matching is a DELETED), bookmarks, the `sendInitialEvents` end
//! marker, 410 Gone as an in-stream ERROR, timeouts, and fault-injected drops.

use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use super::resource::Resource;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Event, EventKind, WatchStart};
use super::table::{self, IncludeObject};

/// Which events a watch wants and how to render them.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub bookmarks: bool,
    pub bookmark_interval: Duration,
    pub timeout: Duration,
    /// `sendInitialEvents=true`: end the initial ADDED burst with an annotated bookmark.
    pub initial_events_end: bool,
    /// `Some` when the client asked for Table rows.
    pub table: Option<IncludeObject>,
}

impl WatchSpec {
    fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }

    /// The event type this watch should see for `event`, if any.
    fn classify(&self, event: &Event) -> Option<EventKind> {
        if event.resource != self.resource {
            return None;
        }
        if let Some(ns) = &self.namespace {
            if &event.namespace != ns {
                return None;
            }
        }
        let now = self.matches(&event.object);
        match event.kind {
            EventKind::Added | EventKind::Deleted => now.then_some(event.kind),
            EventKind::Modified => {
                let before = event.previous.as_ref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => Some(EventKind::Modified),
                    (false, true) => Some(EventKind::Added),
                    (true, false) => Some(EventKind::Deleted),
                    (false, false) => None,
                }
            }
        }
    }
}

struct Renderer {
    spec: WatchSpec,
    headers_sent: bool,
}

impl Renderer {
    fn event(&mut self, kind: EventKind, event: &Event) -> Bytes {
        match self.spec.table {
            None => Bytes::from(format!(
                "{{\"type\":\"{}\",\"object\":{}}}\n",
                kind.as_str(),
                event.object_json()
            )),
            Some(include) => {
                let t = table::table(
                    self.spec.resource,
                    [&*event.object],
                    event.rv,
                    include,
                    !self.headers_sent,
                );
                self.headers_sent = true;
                line(kind.as_str(), &t)
            }
        }
    }

    fn bookmark(&self, rv: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.spec.resource.kind(), "apiVersion": self.spec.resource.api_version(), "metadata": metadata});
        line("BOOKMARK", &object)
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text =
        serde_json::to_string(&json!({"type": kind, "object": object})).unwrap_or_default();
    text.push('\n');
    Bytes::from(text)
}

/// The single ERROR event a watch gets when it cannot start (e.g. 410 Gone).
pub fn error_line(err: &ApiError) -> Bytes {
    line("ERROR", &err.to_status())
}

/// Pumps one watch into `tx` until the client leaves, the timeout passes, the emulator
/// shuts down or a fault drops it.
pub async fn run(
    spec: WatchSpec,
    start: WatchStart,
    tx: mpsc::Sender<Bytes>,
    mut drops: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut renderer = Renderer {
        spec: spec.clone(),
        headers_sent: false,
    };
    let WatchStart {
        initial,
        mut receiver,
        start_rv,
    } = start;
    let mut last_rv = start_rv;
    for event in &initial {
        if let Some(kind) = spec.classify(event) {
            if tx.send(renderer.event(kind, event)).await.is_err() {
                return;
            }
        }
    }
    if spec.initial_events_end
        && spec.bookmarks
        && tx.send(renderer.bookmark(start_rv, true)).await.is_err()
    {
        return;
    }
    let deadline = tokio::time::sleep(spec.timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval(spec.bookmark_interval.max(Duration::from_millis(10)));
    ticker.tick().await;
    loop {
        tokio::select! {
            received = receiver.recv() => match received {
                Ok(event) => {
                    last_rv = last_rv.max(event.rv);
                    if let Some(kind) = spec.classify(&event) {
                        if tx.send(renderer.event(kind, &event)).await.is_err() {
                            return;
                        }
                    }
                }
                // A watcher too slow to keep up is closed; it resumes from its last version.
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = ticker.tick(), if spec.bookmarks => {
                if tx.send(renderer.bookmark(last_rv, false)).await.is_err() {
                    return;
                }
            }
            _ = &mut deadline => return,
            _ = drops.changed() => return,
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{Store, WatchFrom, WriteOptions};
    use std::sync::Arc;

    fn spec(labels: &str) -> WatchSpec {
        WatchSpec {
            resource: Resource::ConfigMap,
            namespace: Some("default".into()),
            labels: LabelSelector::parse(labels).unwrap(),
            fields: FieldSelector::default(),
            bookmarks: false,
            bookmark_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
            initial_events_end: false,
            table: None,
        }
    }

    #[test]
    fn label_change_out_of_selector_is_a_delete() {
        let store = Store::new(1, 100);
        let opts = WriteOptions {
            manager: "t".into(),
            ..Default::default()
        };
        let from = store.resource_version();
        store
            .create(
                Resource::ConfigMap,
                "default",
                json!({"metadata": {"name": "a", "labels": {"x": "1"}}}),
                &opts,
            )
            .unwrap();
        store
            .patch(
                Resource::ConfigMap,
                "default",
                "a",
                crate::emulator::store::Subresource::Main,
                crate::emulator::store::PatchKind::Merge,
                &json!({"metadata": {"labels": {"x": "2"}}}),
                &opts,
            )
            .unwrap();
        let start = store
            .watch(
                Resource::ConfigMap,
                Some("default"),
                WatchFrom::Version(from),
            )
            .unwrap();
        let s = spec("x=1");
        let kinds: Vec<Option<EventKind>> = start.initial.iter().map(|e| s.classify(e)).collect();
        assert_eq!(
            kinds,
            vec![Some(EventKind::Added), Some(EventKind::Deleted)]
        );
        let other = spec("x=2");
        let kinds: Vec<Option<EventKind>> =
            start.initial.iter().map(|e| other.classify(e)).collect();
        assert_eq!(kinds, vec![None, Some(EventKind::Added)]);
    }

    #[tokio::test]
    async fn stream_ends_when_watches_are_dropped() {
        let store = Arc::new(Store::new(1, 100));
        let start = store
            .watch(Resource::ConfigMap, None, WatchFrom::Current)
            .unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let (drop_tx, drop_rx) = watch::channel(0u64);
        let (_shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(run(spec(""), start, tx, drop_rx, shutdown_rx));
        drop_tx.send_modify(|e| *e += 1);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("watch ended")
            .unwrap();
        assert!(rx.recv().await.is_none());
    }
}
