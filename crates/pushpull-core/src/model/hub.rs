//! Argo CD's application controller as it runs (`topology: hub`): one controller instance
//! (one shard) serves every app of a set of clusters with shared capacity. A sans-IO state
//! machine like [`super::pull::Reconciler`], addressed with app ids `cluster × apps + app`.
//!
//! - Refreshes follow the informer's resync (every `poll.interval`, each app after a
//!   uniform jitter of up to `poll.jitter`, skipped when compared within the interval)
//!   and resolve the branch through the revision cache ([`super::refresh`] has the same
//!   rules for one cluster). A comparison takes one of `status_processors`; when the
//!   app's rendered manifests are not of the resolved revision it waits for the
//!   repo-server ([`super::reposerver`]); a comparison that changes the app's status
//!   patches it (`status_requests` through the rate limit).
//! - An app found OutOfSync waits for one of the operation processors (`concurrency`);
//!   its sync's API requests (`sync_requests` + `resource_requests` per resource) pass
//!   the controller's one client-side token bucket (`qps`, `burst`), then the apply takes
//!   one of `kubectl_parallelism_limit` slots. The wait between the processor taking the
//!   app and the apply is the `api_throttle_wait` stage.
//! - Drift seen on the watch is healed after the self-heal backoff, as the per-cluster
//!   reconciler does; a webhook refreshes past the revision cache.
//!
//! Cost: an app whose resync refresh finds nothing to do (in sync with the cached
//! revision's manifest, rendered or renderable at once) changes no status and makes no
//! request, so it is not handled at its own time: the resync marks it `pending`, and the
//! refresh is applied when the app is next looked at (settled: its `reconciledAt` and its
//! manifests' revision as the refresh would have left them). Anything that could make
//! the refresh do something (a request, a sync, a new revision of the app's manifests)
//! looks at the app first, and a refresh still ahead becomes a timer of its own. Only
//! the revision cache's expiry needs the refreshes' seconds: a one-second tick resolves
//! the branch when a refresh of that second finds the cache stale, and the refreshes of
//! that second wait for the answer. This keeps a 100,000-app day to a pass over the apps
//! per resync and a few hundred thousand events (docs/PERFORMANCE.md); the resync keeps
//! a list of the slots it left pending, so the next one applies those that fell without
//! a branch per app, and decides each app's refresh by arithmetic. When a commit
//! left the manifests stale, the re-render is done in passing if nothing limits the
//! repo-server (its render time then holds no processor: an approximation, exact when
//! the status processors do not bind); otherwise the refresh takes the full path.

use super::ratelimit::TokenBucket;
use super::refresh::RevisionCache;
use super::reposerver::RepoServer;
use super::{
    Action, AppId, Apply, ClusterId, Input, Model, Note, NoteKind, OpId, Rev, SpecId, Timer, Trace,
    Tree,
};
use crate::scenario::models::Hub as HubConfig;
use crate::scenario::{DriftDetection, Nanos, PullConfig, SECOND};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Arc;

/// A step of the hub's work that waits for time to pass (the `slot` of
/// [`Timer::Hub`] is an app slot, or unused for [`HubStep::Tick`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubStep {
    /// A second in which resync refreshes fall: the revision cache is checked.
    Tick,
    /// One app's periodic refresh at its own time (it has something to do).
    Refresh,
    /// The repo-server finished rendering the app's manifests.
    Rendered,
    /// The comparison's status patch went through the rate limit.
    StatusPatched,
    /// The sync's requests went through the rate limit: the apply may go.
    Throttled,
    /// Retry a failed sync.
    Retry,
    /// Self-heal after the backoff.
    Heal,
}

/// `reconciledAt` of an app never compared.
const NEVER: Nanos = Nanos::MAX;
/// No resync refresh pending.
const NONE: Nanos = Nanos::MAX;
/// The resync's refreshes are grouped by this much (see the module's cost note).
const TICK: Nanos = SECOND;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Idle,
    Queued,
    Syncing,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// When the app went OutOfSync with its `target`.
    target_seen: Nanos,
    attempting: SpecId,
    force: bool,
    sync_started: Nanos,
    sync_failures: u32,
    heal_attempts: u32,
    last_heal: Option<Nanos>,
    heal_pending: bool,
}

/// What the resync pass reads and writes for every app, apart from the rest of its state.
#[derive(Clone, Copy, Debug)]
struct Hot {
    /// `reconciledAt`: when the app was last compared (settled refreshes included).
    reconciled: Nanos,
    /// When a resync refresh of an idle app falls that has not been applied yet.
    pending: Nanos,
    /// Newest manifest a comparison saw.
    target: SpecId,
    synced: SpecId,
    op: Op,
    /// Queued for or held by a status processor.
    in_status: bool,
}

/// What became of the pending resync refreshes of one second.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// Done with the revision `rev`, at their own time or, when they waited for a
    /// resolution, when it ended.
    Applied { not_before: Nanos, rev: Rev },
    /// They waited for a resolution that failed.
    Dropped,
    /// They wait for the resolution in flight.
    Waiting,
}

/// How a revision-cache resolution that resync refreshes waited for ended.
#[derive(Clone, Copy, Debug)]
struct Resolution {
    at: Nanos,
    rev: Rev,
    ok: bool,
}

/// What happened to the resync refreshes of the second starting at `bin`, from the
/// hub's `waits`, `resolutions` and `revs` ([`Hub::outcome`]).
fn outcome_of(
    waits: &[(Nanos, usize)],
    resolutions: &[Resolution],
    revs: &[(Nanos, Rev)],
    bin: Nanos,
) -> Outcome {
    let waited = waits
        .binary_search_by_key(&bin, |w| w.0)
        .ok()
        .map(|i| waits[i].1);
    match waited {
        Some(i) => match resolutions.get(i) {
            Some(r) if r.ok => Outcome::Applied {
                not_before: r.at,
                rev: r.rev,
            },
            Some(_) => Outcome::Dropped,
            None => Outcome::Waiting,
        },
        None => {
            let k = revs.partition_point(|r| r.0 <= bin);
            Outcome::Applied {
                not_before: 0,
                rev: revs[k.saturating_sub(1)].1,
            }
        }
    }
}

/// `rng.random_range(0..=high)` for `u64` as rand 0.9 computes it (the widening multiply
/// of one draw by the range, and a second draw when the first lands in the biased
/// zone), inlined for the resync pass: the same values and the same draws from the
/// stream (a test compares the two).
#[inline(always)]
fn draw_inclusive(rng: &mut ChaCha8Rng, high: u64) -> u64 {
    use rand::RngCore;
    let range = high.wrapping_add(1);
    if range == 0 {
        return rng.next_u64();
    }
    let m = u128::from(rng.next_u64()) * u128::from(range);
    let (mut result, lo_order) = ((m >> 64) as u64, m as u64);
    if lo_order > range.wrapping_neg() {
        let new_hi_order = ((u128::from(rng.next_u64()) * u128::from(range)) >> 64) as u64;
        result += u64::from(lo_order.checked_add(new_hi_order).is_none());
    }
    result
}

/// One Argo CD application controller (shard).
pub struct Hub {
    cfg: PullConfig,
    hub: HubConfig,
    /// The clusters this shard serves, in id order; `local[cluster]` is the position of a
    /// cluster in it (`u32::MAX`: another shard's).
    clusters: Vec<ClusterId>,
    local: Vec<u32>,
    apps: u32,
    rng: ChaCha8Rng,
    slots: Vec<Slot>,
    hot: Vec<Hot>,
    tree: Tree,
    tree_rev: Rev,
    cache: RevisionCache,
    resolving: bool,
    /// Comparisons (holding a status processor) waiting for the resolution in flight.
    resolve_waiters: Vec<u32>,
    /// Resync refreshes taken out of `pending` while they wait for the resolution in
    /// flight, with their times.
    tick_waiters: Vec<(u32, Nanos)>,
    /// The ticks that found the revision cache stale, in time order, each with the index
    /// in `resolutions` of the resolution its refreshes waited for.
    waits: Vec<(Nanos, usize)>,
    /// Resolutions that ticks waited for, in the order they ended.
    resolutions: Vec<Resolution>,
    /// The revision of `tree` from each time on.
    revs: Vec<(Nanos, Rev)>,
    status_queue: VecDeque<u32>,
    status_busy: u32,
    /// `dispatch_status` is running: a processor freed within it is taken by its loop
    /// rather than by a nested call (a queue of thousands of comparisons that finish at
    /// once would otherwise recurse once per app).
    dispatching_status: bool,
    op_queue: VecDeque<u32>,
    op_busy: u32,
    kubectl_queue: VecDeque<u32>,
    kubectl_busy: u32,
    bucket: TokenBucket,
    repo: RepoServer,
    next_op: OpId,
    /// API requests made and not yet counted by the world ([`Hub::take_requests`]), in
    /// thousandths (a sync's average count is not a whole number).
    requests_milli: u64,
    out: VecDeque<Action>,
    /// The resync's jitter per slot (a buffer kept between resyncs).
    jitters: Vec<Nanos>,
    /// In slot order, the slots whose `pending` the resyncs set (some may have been
    /// settled since): the next resync applies those that fell.
    pending_slots: Vec<u32>,
}

impl Hub {
    /// A controller serving `clusters` (of `all_clusters`), each with the apps of
    /// `initial` already synced.
    pub fn new(
        cfg: PullConfig,
        hub: HubConfig,
        clusters: Vec<ClusterId>,
        all_clusters: u32,
        initial: Tree,
        rng: ChaCha8Rng,
    ) -> Hub {
        let apps = initial.len() as u32;
        let mut local = vec![u32::MAX; all_clusters as usize];
        for (i, &c) in clusters.iter().enumerate() {
            local[c as usize] = i as u32;
        }
        let n = clusters.len() * apps as usize;
        let slots = (0..n)
            .map(|s| {
                let spec = initial[s % apps.max(1) as usize];
                Slot {
                    target_seen: 0,
                    attempting: spec,
                    force: false,
                    sync_started: 0,
                    sync_failures: 0,
                    heal_attempts: 0,
                    last_heal: None,
                    heal_pending: false,
                }
            })
            .collect();
        let mut h = Hub {
            bucket: TokenBucket::new(hub.qps, hub.burst),
            repo: RepoServer::new(
                n,
                hub.repo_server.replicas,
                hub.repo_server.parallelism_limit,
            ),
            cache: RevisionCache::new(cfg.revision_cache.0),
            cfg,
            hub,
            clusters,
            local,
            apps,
            rng,
            slots,
            hot: (0..n)
                .map(|s| {
                    let spec = initial[s % apps.max(1) as usize];
                    Hot {
                        reconciled: NEVER,
                        pending: NONE,
                        target: spec,
                        synced: spec,
                        op: Op::Idle,
                        in_status: false,
                    }
                })
                .collect(),
            tree: initial,
            tree_rev: 0,
            resolving: false,
            resolve_waiters: Vec::new(),
            tick_waiters: Vec::new(),
            waits: Vec::new(),
            resolutions: Vec::new(),
            revs: vec![(0, 0)],
            status_queue: VecDeque::new(),
            status_busy: 0,
            dispatching_status: false,
            op_queue: VecDeque::new(),
            op_busy: 0,
            kubectl_queue: VecDeque::new(),
            kubectl_busy: 0,
            next_op: 0,
            requests_milli: 0,
            out: VecDeque::new(),
            jitters: Vec::new(),
            pending_slots: Vec::new(),
        };
        // The informer's resync runs from when the controller started: a uniform phase.
        let period = h.period();
        let first = h.rng.random_range(0..period);
        h.out.push_back(Action::SetTimer {
            at: first,
            timer: Timer::Resync { generation: 0 },
        });
        h
    }

    /// The API requests made since the last call (the world counts them).
    pub fn take_requests(&mut self) -> u64 {
        let whole = self.requests_milli / 1000;
        self.requests_milli %= 1000;
        whole
    }

    fn period(&self) -> Nanos {
        self.cfg.poll.interval.0.max(1)
    }

    /// The slot of an app id `cluster × apps + app`, if this shard serves the cluster.
    fn slot_of(&self, id: AppId) -> Option<u32> {
        let apps = self.apps.max(1);
        let (cluster, app) = (id / apps, id % apps);
        let l = *self.local.get(cluster as usize)?;
        (l != u32::MAX).then(|| l * self.apps + app)
    }

    fn place(&self, slot: u32) -> (ClusterId, AppId) {
        let apps = self.apps.max(1);
        (self.clusters[(slot / apps) as usize], slot % apps)
    }

    fn timer(&mut self, at: Nanos, step: HubStep, slot: u32) {
        self.out.push_back(Action::SetTimer {
            at,
            timer: Timer::Hub { step, slot },
        });
    }

    fn note(&mut self, kind: NoteKind, slot: Option<u32>, detail: u64) {
        let (cluster, app) = match slot {
            Some(s) => {
                let (c, a) = self.place(s);
                (Some(c), Some(a))
            }
            None => (None, None),
        };
        self.out.push_back(Action::Note(Note {
            kind,
            cluster,
            app,
            detail,
        }));
    }

    /// Whether a refresh at `at` is due (the app was not compared within the interval);
    /// the slot's pending refresh must be settled first.
    fn due(&self, at: Nanos, slot: u32) -> bool {
        let r = self.hot[slot as usize].reconciled;
        r == NEVER || r.saturating_add(self.period()) < at
    }

    fn cache_fresh(&self, now: Nanos) -> bool {
        !self.resolving && self.cache.get(now) == Some(self.tree_rev)
    }

    /// Whether a comparison of `slot` now would change nothing: it is synced to the
    /// cached revision's manifest with nothing in flight, and its manifests of that
    /// revision are rendered, or would be rendered at once (no parallelism limit on the
    /// repo-server).
    fn idle_refresh(&self, slot: u32) -> bool {
        let s = &self.hot[slot as usize];
        let spec = self.tree[(slot % self.apps.max(1)) as usize];
        let unchanged =
            !s.in_status && s.op == Op::Idle && s.target >= spec && s.synced >= s.target;
        unchanged && (self.repo.unlimited() || self.repo.cached(slot, self.tree_rev))
    }

    // ------------------------------------------------------------ refresh

    /// The resync: every due app is asked for a refresh after its jitter. An idle app's
    /// refresh is left pending (module docs); the others get a timer of their own.
    fn resync(&mut self, now: Nanos, generation: u32) {
        let jitter = self.cfg.poll.jitter.0;
        let first = now / TICK;
        let mut seconds = vec![false; (jitter / TICK) as usize + 2];
        // The last resync's refreshes fall in the seconds just before: their outcomes,
        // looked up once a second rather than once an app.
        let lo = now.saturating_sub(self.period().saturating_add(jitter)) / TICK;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; (first - lo) as usize + 1];
        let (period, unlimited) = (self.period(), self.repo.unlimited());
        let apps = self.apps.max(1) as usize;
        debug_assert_eq!(self.tree.len(), self.apps as usize);
        // Every app's jitter first, in slot order: the same draws from the stream as one
        // per app inside the pass (nothing in the pass draws), in a loop of their own.
        let mut jitters = std::mem::take(&mut self.jitters);
        jitters.clear();
        if jitter > 0 {
            let rng = &mut self.rng;
            jitters.extend((0..self.hot.len()).map(|_| draw_inclusive(rng, jitter)));
        } else {
            jitters.resize(self.hot.len(), 0);
        }
        let Hub {
            hot,
            repo,
            tree,
            tree_rev,
            out,
            tick_waiters,
            waits,
            resolutions,
            revs,
            ..
        } = self;
        let (tree_rev, rendered) = (*tree_rev, repo.rendered_mut());
        // First the pending refreshes that fell since the last resync are applied
        // (`settle_as` on the fields at hand), in slot order: the slots the resyncs left
        // pending are listed (an entry whose refresh was applied since is skipped), so
        // the pass over every app below need not branch on them. Settling an app first
        // changes nothing for the others: each app's check reads only its own state.
        let mut pending = std::mem::take(&mut self.pending_slots);
        let mut kept = 0;
        for i in 0..pending.len() {
            let slot = pending[i];
            let h = &mut hot[slot as usize];
            let p = h.pending;
            if p == NONE {
                continue;
            }
            // A refresh of the last resync still ahead (jitter above the interval) stays:
            // the refresh queue holds an app once, at the earlier of the two times
            // (client-go's delaying queue keeps the earlier ready time).
            if p > now {
                pending[kept] = slot;
                kept += 1;
                continue;
            }
            let bin = p / TICK * TICK;
            let k = (p / TICK).saturating_sub(lo) as usize;
            let outcome = match outcomes.get_mut(k) {
                Some(o) if p / TICK >= lo => {
                    *o.get_or_insert_with(|| outcome_of(waits, resolutions, revs, bin))
                }
                _ => outcome_of(waits, resolutions, revs, bin),
            };
            h.pending = NONE;
            match outcome {
                Outcome::Applied { not_before, rev } => {
                    h.reconciled = p.max(not_before);
                    rendered[slot as usize] = rev;
                }
                Outcome::Dropped => {}
                Outcome::Waiting => tick_waiters.push((slot, p)),
            }
        }
        // Then every app's check, without a branch on the coin flips of the jitter (an
        // idle app's refresh is due about every other resync): whether it is due and
        // idle is computed for each, its `pending` and second set or left, and its slot
        // listed or not, by arithmetic. Only an app with work to do branches (a timer).
        let base = kept;
        pending.truncate(base);
        pending.resize(base + hot.len(), 0);
        let mut listed = base;
        let mut slot = 0u32;
        // Slots are `cluster × apps + app`: a cluster's apps, then the next cluster's.
        for ((hots, rendered), jitters) in hot
            .chunks_mut(apps)
            .zip(rendered.chunks(apps))
            .zip(jitters.chunks(apps))
        {
            for (((h, &rendered), &extra), &spec) in
                hots.iter_mut().zip(rendered).zip(jitters).zip(tree.iter())
            {
                let at = now.saturating_add(extra);
                let r = h.reconciled;
                let due = (r == NEVER) | (r.saturating_add(period) < at);
                // `idle_refresh`, with the app's manifest at hand.
                let idle = !h.in_status
                    & (h.op == Op::Idle)
                    & (h.target >= spec)
                    & (h.synced >= h.target)
                    & (unlimited | (rendered == tree_rev));
                if due & !idle & !h.in_status {
                    out.push_back(Action::SetTimer {
                        at,
                        timer: Timer::Hub {
                            step: HubStep::Refresh,
                            slot,
                        },
                    });
                }
                let set = due & idle & (at < h.pending);
                h.pending = if set { at } else { h.pending };
                if let Some(second) = seconds.get_mut((at / TICK - first) as usize) {
                    *second |= set;
                }
                pending[listed] = slot;
                listed += usize::from(set);
                slot += 1;
            }
        }
        pending.truncate(listed);
        if base > 0 {
            pending.sort_unstable();
            pending.dedup();
        }
        self.pending_slots = pending;
        self.jitters = jitters;
        for (k, any) in seconds.into_iter().enumerate() {
            if any {
                self.out.push_back(Action::SetTimer {
                    at: (first + k as Nanos) * TICK,
                    timer: Timer::Hub {
                        step: HubStep::Tick,
                        slot: 0,
                    },
                });
            }
        }
        self.out.push_back(Action::SetTimer {
            at: now.saturating_add(self.period()),
            timer: Timer::Resync { generation },
        });
    }

    /// A second with pending refreshes: when the revision cache is stale the first of
    /// them resolves the branch and the others of the second wait for it.
    fn tick(&mut self, now: Nanos) {
        if self.cache_fresh(now) {
            return;
        }
        if self.waits.last().map(|w| w.0) != Some(now) {
            self.waits.push((now, self.resolutions.len()));
        }
        self.resolve();
    }

    /// What happened to the resync refreshes of the second starting at `bin`.
    fn outcome(&self, bin: Nanos) -> Outcome {
        outcome_of(&self.waits, &self.resolutions, &self.revs, bin)
    }

    /// Applies `slot`'s pending refresh, which fell at or before now on an app that
    /// stayed idle until then: `reconciledAt` and its manifests' revision as the
    /// refresh left them. A refresh waiting for the resolution in flight joins
    /// `tick_waiters` instead.
    fn settle(&mut self, slot: u32) {
        let at = self.hot[slot as usize].pending;
        if at != NONE {
            let outcome = self.outcome(at / TICK * TICK);
            self.settle_as(slot, outcome);
        }
    }

    fn settle_as(&mut self, slot: u32, outcome: Outcome) {
        let at = std::mem::replace(&mut self.hot[slot as usize].pending, NONE);
        match outcome {
            Outcome::Applied { not_before, rev } => {
                self.hot[slot as usize].reconciled = at.max(not_before);
                self.repo.rendered_in_passing(slot, rev);
            }
            Outcome::Dropped => {}
            Outcome::Waiting => self.tick_waiters.push((slot, at)),
        }
    }

    /// Something is about to change `slot`: a pending refresh already past is applied,
    /// one still ahead gets its own timer (it may now have work to do).
    fn touch(&mut self, now: Nanos, slot: u32) {
        let p = self.hot[slot as usize].pending;
        if p == NONE {
            return;
        }
        if p > now {
            self.hot[slot as usize].pending = NONE;
            self.timer(p, HubStep::Refresh, slot);
        } else {
            self.settle(slot);
        }
    }

    /// Resync refreshes that waited for a resolution, with the cache fresh again: the
    /// idle ones are done here, the others go to a status processor at their own time.
    fn tick_refreshes(&mut self, now: Nanos, ready: Vec<(u32, Nanos)>) {
        for (slot, at) in ready {
            if !self.due(at, slot) || self.hot[slot as usize].in_status {
                continue;
            }
            if self.idle_refresh(slot) {
                self.repo.rendered_in_passing(slot, self.tree_rev);
                self.hot[slot as usize].reconciled = at.max(now);
            } else if at > now {
                self.timer(at, HubStep::Refresh, slot);
            } else {
                self.request(now, slot, false);
            }
        }
    }

    fn resolve(&mut self) {
        if self.resolving {
            return;
        }
        self.resolving = true;
        let cluster = self.clusters.first().copied().unwrap_or(0);
        self.out.push_back(Action::Resolve {
            cluster,
            have: self.tree_rev,
        });
    }

    /// A refresh of `slot`: queued for a status processor (once; `force` goes past the
    /// revision cache).
    fn request(&mut self, now: Nanos, slot: u32, force: bool) {
        self.touch(now, slot);
        self.slots[slot as usize].force |= force;
        let s = &mut self.hot[slot as usize];
        if s.in_status {
            return;
        }
        s.in_status = true;
        self.status_queue.push_back(slot);
        self.dispatch_status(now);
    }

    fn dispatch_status(&mut self, now: Nanos) {
        if self.dispatching_status {
            return;
        }
        self.dispatching_status = true;
        while self.status_busy < self.hub.status_processors {
            let Some(slot) = self.status_queue.pop_front() else {
                break;
            };
            self.status_busy += 1;
            let force = std::mem::take(&mut self.slots[slot as usize].force);
            if force || !self.cache_fresh(now) {
                self.resolve_waiters.push(slot);
                self.resolve();
            } else {
                self.with_revision(now, slot);
            }
        }
        self.dispatching_status = false;
    }

    /// The revision is known: render the manifests if they are not cached, then compare.
    fn with_revision(&mut self, now: Nanos, slot: u32) {
        if self.repo.cached(slot, self.tree_rev) {
            self.compare(now, slot);
        } else if self.repo.submit(slot) {
            let d = self.hub.repo_server.render.sample(&mut self.rng);
            self.timer(now.saturating_add(d), HubStep::Rendered, slot);
        }
    }

    fn rendered(&mut self, now: Nanos, slot: u32) {
        if let Some(next) = self.repo.done(slot, self.tree_rev) {
            let d = self.hub.repo_server.render.sample(&mut self.rng);
            self.timer(now.saturating_add(d), HubStep::Rendered, next);
        }
        self.compare(now, slot);
    }

    /// CompareAppState: the app against the resolved revision. OutOfSync: its status is
    /// patched (through the rate limit), then it waits for an operation processor.
    fn compare(&mut self, now: Nanos, slot: u32) {
        let spec = self.tree[(slot % self.apps.max(1)) as usize];
        let s = &mut self.hot[slot as usize];
        s.reconciled = now;
        if spec > s.target {
            s.target = spec;
        }
        let attempting = self.slots[slot as usize].attempting;
        let s = &self.hot[slot as usize];
        let out_of_sync = s.target > s.synced && s.target > attempting && s.op == Op::Idle;
        if !out_of_sync {
            self.release_status(now, slot);
            return;
        }
        let n = self.hub.status_requests;
        self.requests_milli += 1000 * u64::from(n);
        let at = self.bucket.take_n(now, n);
        if at > now {
            self.timer(at, HubStep::StatusPatched, slot);
        } else {
            self.status_patched(now, slot);
        }
    }

    fn status_patched(&mut self, now: Nanos, slot: u32) {
        self.slots[slot as usize].target_seen = now;
        self.release_status(now, slot);
        self.enqueue(now, slot, false);
    }

    fn release_status(&mut self, now: Nanos, slot: u32) {
        self.hot[slot as usize].in_status = false;
        self.status_busy = self.status_busy.saturating_sub(1);
        self.dispatch_status(now);
    }

    fn resolved(&mut self, now: Nanos, rev: Rev, tree: Option<Tree>, at: Nanos) {
        self.resolving = false;
        if let Some(t) = tree
            && t.len() == self.tree.len()
        {
            // The apps whose refreshes may now have work: those whose manifest changed,
            // or every app when the repo-server cannot re-render in passing. Their
            // pending refreshes are settled (or given timers) under the old revision.
            let apps = self.apps.max(1) as usize;
            let changed: Vec<bool> = if self.repo.unlimited() {
                (0..apps).map(|a| t[a] != self.tree[a]).collect()
            } else {
                vec![true; apps]
            };
            if changed.iter().any(|&c| c) {
                for slot in 0..self.slots.len() as u32 {
                    if changed[slot as usize % apps] {
                        self.touch(now, slot);
                    }
                }
            }
            self.tree = t;
            self.tree_rev = rev;
            if self.revs.last().map(|r| r.1) != Some(rev) {
                self.revs.push((now, rev));
            }
        }
        self.resolutions.push(Resolution {
            at: now,
            rev: self.tree_rev,
            ok: true,
        });
        self.cache.put(self.tree_rev, at.min(now));
        for slot in std::mem::take(&mut self.resolve_waiters) {
            self.with_revision(now, slot);
        }
        let ticks = std::mem::take(&mut self.tick_waiters);
        self.tick_refreshes(now, ticks);
    }

    fn resolve_failed(&mut self, now: Nanos) {
        self.resolving = false;
        self.tick_waiters.clear();
        self.resolutions.push(Resolution {
            at: now,
            rev: self.tree_rev,
            ok: false,
        });
        for slot in std::mem::take(&mut self.resolve_waiters) {
            self.note(NoteKind::FetchFailed, Some(slot), 0);
            self.release_status(now, slot);
        }
    }

    // ------------------------------------------------------------ sync

    fn enqueue(&mut self, now: Nanos, slot: u32, force: bool) {
        self.touch(now, slot);
        self.slots[slot as usize].force |= force;
        let s = &mut self.hot[slot as usize];
        if s.op == Op::Idle {
            s.op = Op::Queued;
            self.op_queue.push_back(slot);
            self.dispatch_ops(now);
        }
    }

    fn dispatch_ops(&mut self, now: Nanos) {
        while self.op_busy < self.cfg.concurrency {
            let Some(slot) = self.op_queue.pop_front() else {
                break;
            };
            self.op_busy += 1;
            let h = &mut self.hot[slot as usize];
            h.op = Op::Syncing;
            let target = h.target;
            let s = &mut self.slots[slot as usize];
            s.force = false;
            s.attempting = target;
            s.sync_started = now;
            let milli = self.hub.requests_per_sync_milli();
            self.requests_milli += milli;
            let at = self.bucket.take_milli(now, milli);
            if at > now {
                self.timer(at, HubStep::Throttled, slot);
            } else {
                self.kubectl(now, slot);
            }
        }
    }

    /// The sync's requests went through: the apply waits for a kubectl slot.
    fn kubectl(&mut self, now: Nanos, slot: u32) {
        let limit = self.hub.kubectl_parallelism_limit;
        if limit == 0 || self.kubectl_busy < limit {
            self.kubectl_busy += 1;
            self.apply(now, slot);
        } else {
            self.kubectl_queue.push_back(slot);
        }
    }

    fn apply(&mut self, now: Nanos, slot: u32) {
        let (cluster, app) = self.place(slot);
        let duration = self.cfg.apply.sample(&mut self.rng);
        let s = &self.slots[slot as usize];
        let (spec, trace) = (
            s.attempting,
            Trace {
                picked_up: s.target_seen,
                started: s.sync_started,
                first_apply: now,
                built: 0,
                gate_open: 0,
                gate_passed: 0,
            },
        );
        let op = (self.next_op << 32) | u64::from(slot);
        self.next_op = self.next_op.wrapping_add(1);
        self.note(NoteKind::SyncStarted, Some(slot), u64::from(spec));
        self.out.push_back(Action::Apply(Apply {
            op,
            cluster,
            items: Arc::from([(app, spec)]),
            duration,
            trace,
        }));
    }

    fn applied(&mut self, now: Nanos, op: OpId, ok: bool) {
        let slot = op as u32;
        let Some(h) = self.hot.get_mut(slot as usize) else {
            return;
        };
        if h.op != Op::Syncing {
            return;
        }
        h.op = Op::Idle;
        self.op_busy = self.op_busy.saturating_sub(1);
        if let Some(next) = self.kubectl_queue.pop_front() {
            self.apply(now, next);
        } else {
            self.kubectl_busy = self.kubectl_busy.saturating_sub(1);
        }
        let synced = self.hot[slot as usize].synced;
        let s = &mut self.slots[slot as usize];
        if ok {
            if s.attempting > synced {
                // A new revision synced: self-heal counts from zero again, as the
                // reconciler's (`SelfHealAttemptsCount` is kept only within a revision).
                s.heal_attempts = 0;
            }
            let attempting = s.attempting;
            s.sync_failures = 0;
            let h = &mut self.hot[slot as usize];
            h.synced = h.synced.max(attempting);
            // The refresh after the sync finds it Synced: a status patch, through the
            // rate limit, that holds nothing up.
            let n = self.hub.status_requests;
            self.requests_milli += 1000 * u64::from(n);
            self.bucket.take_n(now, n);
            let (h, s) = (&self.hot[slot as usize], &self.slots[slot as usize]);
            if h.target > h.synced || s.force {
                let force = s.force;
                self.enqueue(now, slot, force);
            }
        } else {
            s.sync_failures = s.sync_failures.saturating_add(1);
            let (failures, spec) = (s.sync_failures, s.attempting);
            s.attempting = synced;
            let delay = self
                .cfg
                .retry
                .delay(failures)
                .max(super::pull::MIN_RETRY_DELAY);
            self.note(NoteKind::SyncFailed, Some(slot), u64::from(spec));
            self.timer(now.saturating_add(delay), HubStep::Retry, slot);
        }
        self.dispatch_ops(now);
    }

    fn live_changed(&mut self, now: Nanos, slot: u32) {
        if self.cfg.drift_detection != DriftDetection::Watch {
            return;
        }
        let heal = self.cfg.self_heal;
        let s = &mut self.slots[slot as usize];
        if s.heal_pending {
            return;
        }
        // The cooldown of Argo CD v3.1–v3.2 (`self_heal.cooldown`); v3.5.1 has none.
        if let (Some(t), Some(cooldown)) = (s.last_heal, heal.cooldown)
            && now.saturating_sub(t) >= cooldown.0
        {
            s.heal_attempts = 0;
        }
        // Argo CD v3.5.1, as the per-cluster reconciler: the first attempt is immediate,
        // the n-th further one waits `initial × factorⁿ⁻¹` (capped).
        let delay = match s.heal_attempts {
            0 => 0,
            n => heal.backoff.delay(n),
        };
        s.heal_pending = true;
        self.note(NoteKind::SelfHealScheduled, Some(slot), delay / 1_000_000);
        self.timer(now.saturating_add(delay), HubStep::Heal, slot);
    }
}

impl Model for Hub {
    fn handle(&mut self, now: Nanos, input: Input) {
        match input {
            Input::Timer(Timer::Resync { generation }) => self.resync(now, generation),
            Input::Timer(Timer::Hub { step, slot }) => match step {
                HubStep::Tick => self.tick(now),
                HubStep::Refresh => {
                    self.touch(now, slot);
                    if self.due(now, slot) {
                        self.request(now, slot, false);
                    }
                }
                HubStep::Rendered => self.rendered(now, slot),
                HubStep::StatusPatched => self.status_patched(now, slot),
                HubStep::Throttled => self.kubectl(now, slot),
                HubStep::Retry => {
                    if self.hot[slot as usize].op == Op::Idle {
                        self.enqueue(now, slot, true);
                    }
                }
                HubStep::Heal => {
                    let s = &mut self.slots[slot as usize];
                    if s.heal_pending {
                        s.heal_pending = false;
                        s.heal_attempts = s.heal_attempts.saturating_add(1);
                        s.last_heal = Some(now);
                        self.enqueue(now, slot, true);
                    }
                }
            },
            Input::Webhook { app } => {
                if let Some(slot) = self.slot_of(app) {
                    self.request(now, slot, true);
                }
            }
            Input::LiveChanged { app } => {
                if let Some(slot) = self.slot_of(app) {
                    self.live_changed(now, slot);
                }
            }
            Input::Resolved { rev, tree, at } => self.resolved(now, rev, tree, at),
            Input::ResolveFailed => self.resolve_failed(now),
            Input::Applied { op, ok } => self.applied(now, op, ok),
            Input::RolloutFinished {
                cluster,
                app,
                spec,
                ok,
            } => {
                if !ok && let Some(slot) = self.slot_of(cluster.saturating_mul(self.apps) + app) {
                    self.note(NoteKind::Degraded, Some(slot), u64::from(spec));
                }
            }
            // What the hub is never asked (the scenario refuses crashes, app rollbacks
            // and environments with `topology: hub`), and the push model's inputs.
            Input::Timer(_)
            | Input::Fetched { .. }
            | Input::FetchFailed { .. }
            | Input::Diffed { .. }
            | Input::Restart { .. }
            | Input::Rollback { .. }
            | Input::AutoSyncEnabled { .. }
            | Input::Commit { .. }
            | Input::Redeploy { .. }
            | Input::CheckedOut { .. }
            | Input::CheckoutFailed { .. }
            | Input::Runners { .. }
            | Input::Gate { .. } => {}
        }
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }
}

/// The shard each cluster belongs to (`controller/sharding/sharding.go` of Argo CD
/// v3.5.1): `legacy` hashes the cluster id with FNV-32a modulo the shard count
/// (`LegacyDistributionFunction`, :106-131); `round-robin` takes the cluster's rank in
/// the list sorted by id modulo the shard count (`RoundRobinDistributionFunction`,
/// :141-161, `getSortedClustersList` :280). `ids` are the clusters' ids (names).
pub fn shard_of(
    ids: &[String],
    shards: u32,
    sharding: crate::scenario::models::Sharding,
) -> Vec<u32> {
    use crate::scenario::models::Sharding;
    let shards = shards.max(1);
    match sharding {
        Sharding::Legacy => ids
            .iter()
            .map(|id| fnv32a(id.as_bytes()) % shards)
            .collect(),
        Sharding::RoundRobin => {
            let mut order: Vec<usize> = (0..ids.len()).collect();
            order.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
            let mut out = vec![0; ids.len()];
            for (rank, &i) in order.iter().enumerate() {
                out[i] = rank as u32 % shards;
            }
            out
        }
    }
}

/// FNV-1a, 32 bits (Go's `hash/fnv` `New32a`).
fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::harness::{Harness, Script};
    use crate::scenario::Dist;
    use crate::scenario::models::{Hub as HubConfig, PullPreset, Sharding};
    use rand::SeedableRng;

    const HOUR: Nanos = 3600 * SECOND;

    /// The resync's inlined jitter draw gives what `random_range(0..=high)` gives and
    /// takes as many values from the stream, the rare second draw of the biased zone
    /// (likely only for ranges near 2^64) included.
    #[test]
    fn the_inlined_jitter_draw_takes_the_values_and_draws_of_random_range() {
        use rand::RngCore;
        let mut highs = vec![
            0,
            1,
            2,
            60 * SECOND,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            (1 << 63) + 1,
            3 << 62,
        ];
        let mut pick = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let shift = pick.random_range(0..64);
            highs.push(pick.next_u64() >> shift);
        }
        for (i, &high) in highs.iter().enumerate() {
            let mut ours = ChaCha8Rng::seed_from_u64(i as u64);
            let mut theirs = ours.clone();
            for _ in 0..2_000 {
                assert_eq!(
                    draw_inclusive(&mut ours, high),
                    theirs.random_range(0..=high),
                    "high {high}"
                );
            }
            assert_eq!(ours.next_u64(), theirs.next_u64(), "high {high}");
        }
    }

    fn config() -> (PullConfig, HubConfig) {
        let mut cfg = PullConfig::preset(PullPreset::Argocd);
        let hub = HubConfig::preset();
        cfg.hub = Some(Box::new(hub.clone()));
        (cfg, hub)
    }

    fn hub(cfg: PullConfig, h: HubConfig, clusters: u32, initial: Vec<SpecId>) -> Hub {
        Hub::new(
            cfg,
            h,
            (0..clusters).collect(),
            clusters,
            Arc::from(initial),
            ChaCha8Rng::seed_from_u64(5),
        )
    }

    #[test]
    fn fnv32a_matches_go_hash_fnv() {
        // Go: fnv.New32a() of "" and "a" (the published FNV test vectors).
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn round_robin_spreads_clusters_evenly_and_legacy_by_hash() {
        let ids: Vec<String> = (0..10).map(|i| format!("cluster-{i:02}")).collect();
        let rr = shard_of(&ids, 3, Sharding::RoundRobin);
        assert_eq!(rr, vec![0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
        let legacy = shard_of(&ids, 3, Sharding::Legacy);
        for (id, s) in ids.iter().zip(&legacy) {
            assert_eq!(*s, fnv32a(id.as_bytes()) % 3);
        }
        assert!(shard_of(&ids, 1, Sharding::Legacy).iter().all(|&s| s == 0));
    }

    /// N apps changed at once through c operation processors with a fixed sync time s and
    /// no rate limit finish ⌈N/c⌉·s after the first sync starts, whatever the number of
    /// clusters they are spread over: the processors are the controller's, not a
    /// cluster's.
    #[test]
    fn n_apps_through_c_operation_processors_of_fixed_time_s_take_ceil_n_over_c_times_s() {
        for (clusters, apps, c, s) in [
            (1u32, 100u32, 10u32, 3u64),
            (4, 25, 10, 3),
            (3, 7, 3, 5),
            (10, 4, 7, 2),
            (2, 20, 40, 1),
        ] {
            let (mut cfg, mut h) = config();
            cfg.concurrency = c;
            cfg.apply = Dist::fixed(s * SECOND);
            h.qps = 0.0; // no rate limit
            h.kubectl_parallelism_limit = 0;
            h.repo_server.render = Dist::fixed(0);
            let initial: Vec<SpecId> = (0..apps).collect();
            let model = hub(cfg, h, clusters, initial.clone());
            let mut harness = Harness::new(model, initial, Script::default());
            harness.run_until(10 * SECOND);
            harness.commit((0..apps).map(|a| apps + a).collect());
            for id in 0..clusters * apps {
                harness.inject(Input::Webhook { app: id });
            }
            harness.run_until(HOUR);
            let a = harness.applies();
            let n = clusters * apps;
            assert_eq!(a.len(), n as usize, "one sync per app on every cluster");
            let first = a.iter().map(|(t, _)| *t).min().unwrap();
            let last_done = a.iter().map(|(t, ap)| t + ap.duration).max().unwrap();
            assert_eq!(
                last_done - first,
                u64::from(n.div_ceil(c)) * s * SECOND,
                "clusters {clusters} apps {apps} c {c} s {s}"
            );
        }
    }

    /// With the rate limit the bottleneck, N syncs of k requests each end when the bucket
    /// has let N·k requests through: (N·k − b)/r after the burst, not N/c·s (k is the
    /// preset's average, 13.6 for two resources: not a whole number).
    #[test]
    fn syncs_wait_on_the_shared_token_bucket_when_it_is_the_bottleneck() {
        let (mut cfg, mut h) = config();
        cfg.apply = Dist::fixed(0);
        cfg.concurrency = 50;
        h.qps = 10.0;
        h.burst = 20;
        h.status_requests = 0;
        h.repo_server.render = Dist::fixed(0);
        let k = h.requests_per_sync_milli() as f64 / 1000.0;
        let apps = 40u32;
        let initial: Vec<SpecId> = (0..apps).collect();
        let model = hub(cfg, h, 2, initial.clone());
        let mut harness = Harness::new(model, initial, Script::default());
        harness.run_until(HOUR);
        harness.commit((0..apps).map(|a| apps + a).collect());
        for id in 0..2 * apps {
            harness.inject(Input::Webhook { app: id });
        }
        harness.run_until(2 * HOUR);
        let a = harness.applies();
        assert_eq!(a.len(), 80);
        let last = a.iter().map(|(t, _)| *t).max().unwrap();
        let expected = (80.0 * k - 20.0) / 10.0 * 1e9;
        assert!(
            ((last - HOUR) as f64 - expected).abs() < 1e6,
            "last apply {} ns after the commit, expected {expected}",
            last - HOUR
        );
        let waited: Vec<Nanos> = a
            .iter()
            .map(|(_, ap)| ap.trace.first_apply - ap.trace.started)
            .collect();
        assert!(waited.iter().any(|&w| w > 0), "the throttle wait is traced");
    }

    /// A commit invalidates every app's rendered manifests: each app's next comparison
    /// waits for the repo-server, whose parallelism limit queues the generations.
    #[test]
    fn a_commit_makes_every_app_wait_for_the_repo_server() {
        let (mut cfg, mut h) = config();
        cfg.apply = Dist::fixed(0);
        h.qps = 0.0;
        h.repo_server.parallelism_limit = 2;
        h.repo_server.render = Dist::fixed(SECOND);
        let apps = 10u32;
        let initial: Vec<SpecId> = (0..apps).collect();
        let model = hub(cfg, h, 1, initial.clone());
        let mut harness = Harness::new(model, initial, Script::default());
        harness.run_until(HOUR);
        // Only app 0 changes; every app is refreshed.
        let mut next: Vec<SpecId> = (0..apps).collect();
        next[0] = 100;
        harness.commit(next);
        for id in 0..apps {
            harness.inject(Input::Webhook { app: id });
        }
        harness.run_until(2 * HOUR);
        let a = harness.applies();
        assert_eq!(a.len(), 1, "one app changed");
        // Two generations at a time of 1 s: app 0 is among the first two.
        assert_eq!(a[0].0, HOUR + SECOND);
    }

    /// Periodic refreshes through the resync and the revision cache: a commit without a
    /// webhook is seen within one resync period plus its jitter and the cache's TTL, and
    /// git sees at most one resolution per TTL.
    #[test]
    fn resync_detects_a_commit_within_period_jitter_and_cache_ttl() {
        let (cfg, mut h) = config();
        h.repo_server.render = Dist::fixed(0);
        let apps = 50u32;
        let initial: Vec<SpecId> = (0..apps).collect();
        let model = hub(cfg, h, 2, initial.clone());
        let mut harness = Harness::new(model, initial, Script::default());
        harness.run_until(HOUR);
        harness.commit((0..apps).map(|a| apps + a).collect());
        harness.run_until(2 * HOUR);
        let a = harness.applies();
        assert_eq!(a.len(), 100);
        let latest = a.iter().map(|(t, _)| *t - HOUR).max().unwrap();
        assert!(
            latest <= (120 + 60 + 180 + 120 + 60) * SECOND,
            "{}",
            latest / SECOND
        );
        let r = harness.resolves();
        assert!(r.windows(2).all(|w| w[1] - w[0] >= 180 * SECOND), "{r:?}");
        assert!(r.len() <= 2 * 3600 / 180 + 1);
    }

    #[test]
    fn self_heal_reapplies_at_once_on_the_drifted_cluster_only() {
        let (mut cfg, h) = config();
        cfg.self_heal.cooldown = None;
        let model = hub(cfg, h, 3, vec![0, 1]);
        let mut harness = Harness::new(model, vec![0, 1], Script::default());
        harness.run_until(100 * SECOND);
        // Cluster 2, app 1.
        harness.inject(Input::LiveChanged { app: 2 * 2 + 1 });
        harness.run_until(200 * SECOND);
        let a = harness.applies();
        assert_eq!(a.len(), 1);
        assert_eq!(
            (a[0].0, a[0].1.cluster, a[0].1.items.to_vec()),
            (100 * SECOND, 2, vec![(1, 1)])
        );
    }
}
