//! The store's side of watches: every stored change becomes an event in the history feed
//! under the state lock (so in resourceVersion order), and a new watch gets its starting
//! point (synthetic ADDED events, or a resume point checked against the history).

use std::sync::Arc;

use super::state::State;
use super::{Store, meta_str};
use crate::event::{Event, EventKind};
use crate::history::{WatchFrom, WatchStart};
use crate::resource::Resource;
use crate::status::ApiError;

impl Store {
    /// Records an event in the history; called with the state lock held, so events
    /// enter the feed in resourceVersion order.
    pub(super) fn publish(&self, _state: &mut State, event: Event) {
        self.feed.push(Arc::new(event));
    }

    /// Subscribes to changes, with the backlog a watch from `from` must see first.
    pub fn watch(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        from: WatchFrom,
    ) -> Result<WatchStart, ApiError> {
        let state = self.lock();
        let (initial, start_rv) = match from {
            WatchFrom::Version(rv) => {
                self.feed.check(rv).map_err(|e| ApiError::Gone {
                    requested: rv,
                    oldest: e.oldest,
                })?;
                (Vec::new(), rv)
            }
            WatchFrom::Current => (
                state
                    .objects
                    .iter()
                    .filter(|(k, _)| {
                        k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns)
                    })
                    .map(|(_, v)| {
                        let rv = meta_str(v, "resourceVersion")
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(0);
                        Arc::new(Event::new(rv, EventKind::Added, resource, v.clone(), None))
                    })
                    .collect(),
                state.rv,
            ),
        };
        Ok(WatchStart {
            initial,
            feed: self.feed.clone(),
            start_rv,
        })
    }

    /// Forgets the event history, as an etcd compaction does: watches resuming from any
    /// earlier resourceVersion get 410 Gone and must re-list.
    pub fn compact(&self) {
        let state = self.lock();
        self.feed.compact(state.rv);
    }

    /// (events, estimated bytes) held by the watch history.
    #[cfg(test)]
    pub fn history_usage(&self) -> (usize, usize) {
        self.feed.usage()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::history::WatchFrom;
    use crate::resource::Resource;
    use crate::status::ApiError;
    use crate::store::fixtures::opts;
    use crate::store::{PatchKind, Store, Subresource};

    #[test]
    fn watch_from_compacted_version_is_gone() {
        let store = Store::new(1, 100);
        let rv = store.resource_version();
        store
            .create(
                Resource::ConfigMap,
                "default",
                json!({"metadata": {"name": "a"}}),
                &opts("t"),
            )
            .unwrap();
        assert_eq!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(rv))
                .unwrap()
                .backlog()
                .len(),
            1
        );
        store.compact();
        assert!(matches!(
            store.watch(Resource::ConfigMap, None, WatchFrom::Version(rv)),
            Err(ApiError::Gone { .. })
        ));
    }

    #[test]
    fn history_limit_compacts_oldest_events() {
        let store = Store::new(1, 2);
        let rv = store.resource_version();
        for name in ["a", "b", "c"] {
            store
                .create(
                    Resource::ConfigMap,
                    "default",
                    json!({"metadata": {"name": name}}),
                    &opts("t"),
                )
                .unwrap();
        }
        assert!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(rv))
                .is_err()
        );
        assert_eq!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(rv + 1))
                .unwrap()
                .backlog()
                .len(),
            2
        );
    }

    #[test]
    fn large_updates_keep_the_watch_history_within_its_byte_budget() {
        let budget = 8 * 1024 * 1024;
        let store = Store::with_history(1, 10_000, budget);
        let from = store.resource_version();
        let big = "x".repeat(900 * 1024);
        store
            .create(
                Resource::ConfigMap,
                "default",
                json!({"metadata": {"name": "big"}, "data": {"v": big}}),
                &opts("t"),
            )
            .unwrap();
        for i in 0..200 {
            store
                .patch(
                    Resource::ConfigMap,
                    "default",
                    "big",
                    Subresource::Main,
                    PatchKind::Merge,
                    &json!({"metadata": {"labels": {"i": i.to_string()}}}),
                    &opts("t"),
                )
                .unwrap();
            let (_, bytes) = store.history_usage();
            assert!(bytes <= budget, "update {i}: {bytes} bytes held");
        }
        assert!(matches!(
            store.watch(Resource::ConfigMap, None, WatchFrom::Version(from)),
            Err(ApiError::Gone { .. })
        ));
        let now = store.resource_version();
        assert!(
            store
                .watch(Resource::ConfigMap, None, WatchFrom::Version(now - 1))
                .is_ok()
        );
    }
}
