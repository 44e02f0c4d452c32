//! The watch history: recent change events kept for resuming watches and read by every
//! open watch, bounded both in count and in (estimated) bytes. When it is full the oldest
//! events go; a watch asking for a resourceVersion older than what is left gets 410 Gone,
//! and an open watch that falls that far behind ends (its client resumes and re-lists).
//! `WatchFrom`/`WatchStart` say where in it a new watch begins.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::watch;

use super::event::Event;

/// Default byte budget of the watch history (estimated heap held by its events).
pub const DEFAULT_HISTORY_BYTES: usize = 64 * 1024 * 1024;

/// Estimated heap bytes of a JSON value as `serde_json` holds it (allocation overheads
/// included roughly: a slot per value, a node share per map entry).
pub fn value_bytes(value: &Value) -> usize {
    const SLOT: usize = 32;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => SLOT,
        Value::String(s) => SLOT + s.len(),
        Value::Array(items) => SLOT + items.iter().map(value_bytes).sum::<usize>(),
        Value::Object(map) => {
            SLOT + map
                .iter()
                .map(|(k, v)| 48 + k.len() + value_bytes(v))
                .sum::<usize>()
        }
    }
}

/// What an event may hold in memory: its object three times over (the value, its cached
/// JSON and its cached watch line) plus the previous version it keeps alive.
pub fn event_cost(event: &Event) -> usize {
    3 * value_bytes(&event.object) + event.previous.as_deref().map_or(0, value_bytes)
}

struct Log {
    events: VecDeque<(Arc<Event>, usize)>,
    bytes: usize,
    count_limit: usize,
    byte_limit: usize,
    /// Events at or below this version have been forgotten.
    compacted: u64,
}

/// The shared history; writers push, watches read after their last resourceVersion.
pub struct Feed {
    log: Mutex<Log>,
    latest: watch::Sender<u64>,
}

/// A resourceVersion older than the history: the caller must re-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    /// The oldest resourceVersion a watch can still resume from.
    pub oldest: u64,
}

impl Feed {
    pub fn new(count_limit: usize, byte_limit: usize) -> Feed {
        Feed {
            log: Mutex::new(Log {
                events: VecDeque::new(),
                bytes: 0,
                count_limit: count_limit.max(1),
                byte_limit,
                compacted: 0,
            }),
            latest: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // Pushes and evictions keep `bytes` consistent at every await-free step.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends an event (versions must increase), evicting the oldest beyond the limits
    /// (the newest event is always kept), and wakes every watch.
    pub fn push(&self, event: Arc<Event>) {
        let rv = event.rv;
        let cost = event_cost(&event);
        {
            let mut log = self.lock();
            log.bytes += cost;
            log.events.push_back((event, cost));
            while log.events.len() > log.count_limit
                || (log.bytes > log.byte_limit && log.events.len() > 1)
            {
                match log.events.pop_front() {
                    Some((old, old_cost)) => {
                        log.bytes -= old_cost;
                        log.compacted = old.rv;
                    }
                    None => break,
                }
            }
        }
        self.latest.send_replace(rv);
    }

    /// Forgets every event up to `rv` (an etcd compaction).
    pub fn compact(&self, rv: u64) {
        let mut log = self.lock();
        log.events.clear();
        log.bytes = 0;
        log.compacted = log.compacted.max(rv);
    }

    /// Whether a watch can resume after `rv`.
    pub fn check(&self, rv: u64) -> Result<(), Expired> {
        let log = self.lock();
        if rv < log.compacted {
            return Err(Expired {
                oldest: log.compacted + 1,
            });
        }
        Ok(())
    }

    /// Up to `max` events after `rv`, oldest first; `Expired` when some were evicted.
    pub fn after(&self, rv: u64, max: usize) -> Result<Vec<Arc<Event>>, Expired> {
        let log = self.lock();
        if rv < log.compacted {
            return Err(Expired {
                oldest: log.compacted + 1,
            });
        }
        let start = log.events.partition_point(|(e, _)| e.rv <= rv);
        Ok(log
            .events
            .range(start..)
            .take(max)
            .map(|(e, _)| e.clone())
            .collect())
    }

    /// A receiver that changes whenever an event is pushed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// (events, estimated bytes) held now.
    #[cfg(test)]
    pub fn usage(&self) -> (usize, usize) {
        let log = self.lock();
        (log.events.len(), log.bytes)
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFrom {
    /// Synthetic ADDED events for the current state, then changes.
    Current,
    /// Every change after this resourceVersion.
    Version(u64),
}

/// A watch's starting point: events to send first, then every change after `start_rv`
/// read from the history feed.
pub struct WatchStart {
    pub initial: Vec<Arc<Event>>,
    pub feed: Arc<Feed>,
    pub start_rv: u64,
}

impl WatchStart {
    /// The events this watch has to send before waiting (initial ones, then history).
    #[cfg(test)]
    pub fn backlog(&self) -> Vec<Arc<Event>> {
        let mut events = self.initial.clone();
        events.extend(
            self.feed
                .after(self.start_rv, usize::MAX)
                .unwrap_or_default(),
        );
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::resource::Resource;
    use serde_json::json;

    fn event(rv: u64, size: usize) -> Arc<Event> {
        let object = json!({"metadata": {"name": "c", "namespace": "default"}, "data": {"k": "x".repeat(size)}});
        Arc::new(Event::new(
            rv,
            EventKind::Added,
            Resource::ConfigMap,
            Arc::new(object),
            None,
        ))
    }

    #[test]
    fn byte_budget_evicts_oldest_and_resuming_before_them_is_expired() {
        let feed = Feed::new(10_000, 10 * 1024 * 1024);
        for rv in 1..=100 {
            feed.push(event(rv, 1024 * 1024));
        }
        let (count, bytes) = feed.usage();
        assert!(bytes <= 10 * 1024 * 1024, "{bytes}");
        assert!((2..=4).contains(&count), "{count}");
        assert!(feed.after(50, 10).is_err());
        assert_eq!(
            feed.check(1),
            Err(Expired {
                oldest: 101 - count as u64
            })
        );
        let tail = feed.after(100 - count as u64, 10).unwrap();
        assert_eq!(tail.len(), count);
        assert_eq!(tail.last().map(|e| e.rv), Some(100));
    }

    #[test]
    fn count_limit_still_applies_to_small_events() {
        let feed = Feed::new(3, DEFAULT_HISTORY_BYTES);
        for rv in 1..=5 {
            feed.push(event(rv, 10));
        }
        assert_eq!(feed.usage().0, 3);
        assert!(feed.after(1, 10).is_err());
        assert_eq!(feed.after(2, 10).unwrap().len(), 3);
    }

    #[test]
    fn an_event_larger_than_the_budget_is_kept_alone() {
        let feed = Feed::new(100, 1000);
        feed.push(event(1, 10));
        feed.push(event(2, 5000));
        assert_eq!(feed.usage().0, 1);
        assert_eq!(feed.after(1, 10).unwrap().len(), 1);
    }
}
