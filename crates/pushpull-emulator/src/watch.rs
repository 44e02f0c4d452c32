//! Watch streams: newline-delimited `{"type":..,"object":..}` events over a chunked
//! response, as the API server sends them. Handles selector transitions (a change that
//! makes an object stop matching is a DELETED), bookmarks, the `sendInitialEvents` end
//! marker, 410 Gone as an in-stream ERROR, timeouts, and fault-injected drops.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::event::{Event, EventKind};
use super::history::Feed;
use super::resource::Resource;
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::WatchStart;
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
            None => event.line(kind),
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
        let object = json!({
            "kind": self.spec.resource.kind(),
            "apiVersion": self.spec.resource.api_version(),
            "metadata": metadata,
        });
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

/// How many history events a watch takes from the feed at a time: what a watch whose
/// client stopped reading can keep alive beyond the history's own budget.
const FEED_BATCH: usize = 8;

/// Everything one open watch needs between events.
struct Pump {
    spec: WatchSpec,
    renderer: Renderer,
    /// Lines to send before waiting for changes (the initial state or history replay).
    pending: VecDeque<Bytes>,
    feed: Arc<Feed>,
    /// Changes whenever the feed gets an event.
    changed: watch::Receiver<u64>,
    /// The last resourceVersion read from the feed.
    last_rv: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
    ticker: tokio::time::Interval,
    drops: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
}

impl Pump {
    /// Renders the next batch of feed events after `last_rv` into `pending`; false when
    /// the watch fell behind the history (the events it needs were evicted).
    fn pull(&mut self) -> bool {
        match self.feed.after(self.last_rv, FEED_BATCH) {
            Ok(events) => {
                for event in events {
                    self.last_rv = self.last_rv.max(event.rv);
                    if let Some(kind) = self.spec.classify(&event) {
                        let line = self.renderer.event(kind, &event);
                        self.pending.push_back(line);
                    }
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The next line to send, or `None` when the watch ends (timeout, emulator shutdown,
    /// a fault dropping watches, or a watcher so slow that the history evicted what it
    /// still had to send — it then resumes from its last resourceVersion, gets 410 Gone
    /// and re-lists, like after an etcd compaction).
    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if self.drops.has_changed().unwrap_or(true)
                || self.shutdown.has_changed().unwrap_or(true)
            {
                return None;
            }
            if let Some(line) = self.pending.pop_front() {
                return Some(line);
            }
            // Mark the current feed version seen before reading, so no push is missed.
            self.changed.borrow_and_update();
            if !self.pull() {
                return None;
            }
            if !self.pending.is_empty() {
                continue;
            }
            tokio::select! {
                // Ending conditions first: once watches are dropped (or the emulator stops),
                // no further event may slip out on the dying stream.
                biased;
                _ = self.drops.changed() => return None,
                _ = self.shutdown.changed() => return None,
                _ = &mut self.deadline => return None,
                changed = self.changed.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = self.ticker.tick(), if self.spec.bookmarks => {
                    return Some(self.renderer.bookmark(self.last_rv, false));
                }
            }
        }
    }
}

/// The body of one watch response: initial lines, then one line per matching change.
/// Polled directly by the HTTP connection, so a change reaches the socket without an
/// intermediate task; dropping the body (client gone) ends the watch.
pub fn stream(
    spec: WatchSpec,
    start: WatchStart,
    drops: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let mut renderer = Renderer {
        spec: spec.clone(),
        headers_sent: false,
    };
    let WatchStart {
        initial,
        feed,
        start_rv,
    } = start;
    let mut pending = VecDeque::new();
    for event in &initial {
        if let Some(kind) = spec.classify(event) {
            pending.push_back(renderer.event(kind, event));
        }
    }
    if spec.initial_events_end && spec.bookmarks {
        pending.push_back(renderer.bookmark(start_rv, true));
    }
    let period = spec.bookmark_interval.max(Duration::from_millis(10));
    let pump = Pump {
        deadline: Box::pin(tokio::time::sleep(spec.timeout)),
        ticker: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        spec,
        renderer,
        pending,
        changed: feed.subscribe(),
        feed,
        last_rv: start_rv,
        drops,
        shutdown,
    };
    futures::stream::unfold(pump, |mut pump| async move {
        pump.next_line().await.map(|line| (Ok(line), pump))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, WatchFrom, WriteOptions};
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
                crate::store::Subresource::Main,
                crate::store::PatchKind::Merge,
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
        let backlog = start.backlog();
        let kinds: Vec<Option<EventKind>> = backlog.iter().map(|e| s.classify(e)).collect();
        assert_eq!(
            kinds,
            vec![Some(EventKind::Added), Some(EventKind::Deleted)]
        );
        let other = spec("x=2");
        let kinds: Vec<Option<EventKind>> = backlog.iter().map(|e| other.classify(e)).collect();
        assert_eq!(kinds, vec![None, Some(EventKind::Added)]);
    }

    #[tokio::test]
    async fn stream_ends_when_watches_are_dropped() {
        use futures::StreamExt;
        let store = Arc::new(Store::new(1, 100));
        let start = store
            .watch(Resource::ConfigMap, None, WatchFrom::Current)
            .unwrap();
        let (drop_tx, drop_rx) = watch::channel(0u64);
        let (_shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut body = Box::pin(stream(spec(""), start, drop_rx, shutdown_rx));
        drop_tx.send_modify(|e| *e += 1);
        // A change right after the drop must not slip out on the dying stream.
        let opts = crate::store::WriteOptions {
            manager: "t".into(),
            ..Default::default()
        };
        store
            .create(
                Resource::ConfigMap,
                "default",
                json!({"metadata": {"name": "late"}}),
                &opts,
            )
            .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
        assert!(
            matches!(next, Ok(None)),
            "the stream ended without the late event"
        );
    }
}
