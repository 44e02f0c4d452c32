//! Argo CD's repo-server as the hub ([`super::hub`]) uses it: a pool of manifest
//! generations (`replicas` × `--parallelismlimit`, unlimited when the limit is 0) served
//! in arrival order, and a rendered-manifest cache keyed by revision, so a commit to the
//! repository invalidates every app's manifests, changed or not.
//!
//! Upstream (v3.5.1): `cmd/argocd-repo-server/commands/argocd_repo_server.go:256`
//! (`--parallelismlimit`, default 0: no limit); the manifest cache key includes the
//! resolved revision (`reposerver/cache/cache.go` `manifestCacheKey`).

use super::Rev;
use std::collections::VecDeque;

/// Never rendered: differs from every revision.
const NONE: Rev = Rev::MAX;

/// The repo-server's work pool and cache for one controller's apps (indexed by the
/// controller's app slots).
pub struct RepoServer {
    /// Generations at once (`u32::MAX`: no limit).
    slots: u32,
    busy: u32,
    waiting: VecDeque<u32>,
    /// Per app slot: the revision its cached manifests were rendered from.
    rendered: Vec<Rev>,
}

impl RepoServer {
    /// `apps` slots, `replicas` replicas of `parallelism_limit` generations each (0: no
    /// limit). At the start every app's manifests of revision 0 are cached.
    pub fn new(apps: usize, replicas: u32, parallelism_limit: u32) -> RepoServer {
        let slots = if parallelism_limit == 0 {
            u32::MAX
        } else {
            replicas.max(1).saturating_mul(parallelism_limit)
        };
        RepoServer {
            slots,
            busy: 0,
            waiting: VecDeque::new(),
            rendered: vec![0; apps],
        }
    }

    /// Whether `slot`'s manifests of revision `rev` are cached.
    pub fn cached(&self, slot: u32, rev: Rev) -> bool {
        self.rendered[slot as usize] == rev
    }

    /// Per app slot, the revision its cached manifests were rendered from: for the hub's
    /// resync pass, which reads and settles them in slot order.
    pub fn rendered_mut(&mut self) -> &mut [Rev] {
        &mut self.rendered
    }

    /// Asks for `slot`'s manifests: `true` when a generation starts now, `false` when it
    /// waits for one to end ([`RepoServer::done`] hands it out then).
    pub fn submit(&mut self, slot: u32) -> bool {
        if self.busy < self.slots {
            self.busy += 1;
            true
        } else {
            self.waiting.push_back(slot);
            false
        }
    }

    /// `slot`'s generation of `rev` ended: cached; returns the next waiting slot, whose
    /// generation starts now.
    pub fn done(&mut self, slot: u32, rev: Rev) -> Option<u32> {
        self.rendered[slot as usize] = rev;
        match self.waiting.pop_front() {
            Some(next) => Some(next),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// Whether generations never wait (no parallelism limit).
    pub fn unlimited(&self) -> bool {
        self.slots == u32::MAX
    }

    /// Records a generation of `slot`'s manifests of `rev` that took no slot: the hub's
    /// batched refresh of an unchanged app when nothing limits generations.
    pub fn rendered_in_passing(&mut self, slot: u32, rev: Rev) {
        self.rendered[slot as usize] = rev;
    }

    /// Forgets every cached manifest (a restart of the cache).
    pub fn clear(&mut self) {
        self.rendered.iter_mut().for_each(|r| *r = NONE);
    }

    /// How long a generation waits in line now, in requests ahead of it.
    pub fn backlog(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_pool_queues_generations_in_arrival_order() {
        let mut r = RepoServer::new(5, 2, 1);
        assert!(r.submit(0));
        assert!(r.submit(1));
        assert!(!r.submit(2), "two replicas of one generation each are busy");
        assert!(!r.submit(3));
        assert_eq!(r.backlog(), 2);
        assert_eq!(r.done(0, 4), Some(2));
        assert_eq!(r.done(1, 4), Some(3));
        assert_eq!(r.done(2, 4), None);
        assert!(r.submit(4), "a slot is free again");
    }

    #[test]
    fn the_cache_is_keyed_by_revision_so_a_commit_invalidates_every_app() {
        let mut r = RepoServer::new(3, 1, 0);
        assert!((0..3).all(|s| r.cached(s, 0)));
        assert!(
            (0..3).all(|s| !r.cached(s, 1)),
            "revision 1 changed one app only"
        );
        assert!(r.submit(2));
        assert_eq!(r.done(2, 1), None);
        assert!(r.cached(2, 1) && !r.cached(0, 1));
        r.clear();
        assert!(!r.cached(2, 1));
    }

    #[test]
    fn no_limit_never_queues() {
        let mut r = RepoServer::new(1000, 1, 0);
        assert!((0..1000).all(|s| r.submit(s)));
        assert_eq!(r.backlog(), 0);
    }
}
