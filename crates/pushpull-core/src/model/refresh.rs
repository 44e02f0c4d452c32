//! Argo CD's refresh path as the application controller runs it: when an Application is
//! compared with git, and which revision that comparison reads. The pull
//! [`Reconciler`](super::pull::Reconciler) keeps one [`ArgoRefresh`] when its config says
//! `refresh: resync` (the `argocd` preset) and asks it what to do.
//!
//! Upstream (Argo CD v3.5.1, file:line in docs/PRESETS.md): the Application informer
//! resyncs every `timeout.reconciliation` (120 s) and its update handler asks each app for
//! a refresh after a uniform jitter of up to `timeout.reconciliation.jitter` (60 s); the
//! refresh is skipped unless the app's `status.reconciledAt` is older than 120 s
//! (`needRefreshAppStatus`/`comparisonExpiry`); a refresh resolves the branch through the
//! repo-server's revision cache (`--revision-cache-expiration`, 3 m), and only a webhook
//! or a user-requested refresh forces a fresh `ls-remote`. A change of a managed object
//! seen on the watch asks for a refresh that compares with the recent revision, without
//! git and without moving `reconciledAt` (the self-heal path, in `pull.rs`); an automated
//! sync that completes asks for a refresh through the cache, which does move it.

use super::{AppId, Rev, SpecId, Tree};
use crate::scenario::Nanos;

/// `reconciledAt` of an app that was never compared: always due.
const NEVER: Nanos = Nanos::MAX;

/// The repo-server's cache of the branch's resolved revision (Argo CD keys it by
/// repository; the scenario has one config repository).
#[derive(Clone, Copy, Debug)]
pub struct RevisionCache {
    ttl: Nanos,
    entry: Option<(Rev, Nanos)>,
}

impl RevisionCache {
    pub fn new(ttl: Nanos) -> RevisionCache {
        RevisionCache { ttl, entry: None }
    }

    /// The cached revision, if the entry is younger than the TTL at `now`.
    pub fn get(&self, now: Nanos) -> Option<Rev> {
        self.entry
            .filter(|&(_, at)| now < at.saturating_add(self.ttl))
            .map(|(rev, _)| rev)
    }

    pub fn put(&mut self, rev: Rev, now: Nanos) {
        self.entry = Some((rev, now));
    }
}

/// What a refresh request leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Compare now with this manifest (the cached revision's).
    Now(SpecId),
    /// Wait for a resolution; `Some(have)`: start one (`Action::Resolve { have }`), `None`:
    /// one is already on its way.
    Wait(Option<Rev>),
}

/// The refresh state of one application controller (and its repo-server).
pub struct ArgoRefresh {
    /// `timeout.reconciliation`: the resync period and the age below which a periodic
    /// refresh is skipped.
    pub period: Nanos,
    /// Per app: when it was last compared with the latest revision (`reconciledAt`).
    reconciled: Vec<Nanos>,
    /// Per app: the time of a periodic refresh the last resync asked for and the
    /// reconciler found to be a no-op (see [`ArgoRefresh::defer`]), or [`NEVER`].
    deferred: Vec<Nanos>,
    /// How many entries of `deferred` are set.
    deferred_count: u32,
    /// The newest revision the repo-server has fetched, and its tree.
    tree: Tree,
    tree_rev: Rev,
    cache: RevisionCache,
    /// Apps waiting for the resolution in flight.
    pending: Vec<AppId>,
    resolving: bool,
    /// Tells the current resync timer from one armed before a restart.
    pub generation: u32,
}

impl ArgoRefresh {
    /// `initial` is the tree of revision 0, which the repo-server holds at the start.
    pub fn new(period: Nanos, revision_cache: Nanos, initial: Tree) -> ArgoRefresh {
        ArgoRefresh {
            period,
            reconciled: vec![NEVER; initial.len()],
            deferred: vec![NEVER; initial.len()],
            deferred_count: 0,
            tree: initial,
            tree_rev: 0,
            cache: RevisionCache::new(revision_cache),
            pending: Vec::new(),
            resolving: false,
            generation: 0,
        }
    }

    /// Whether a periodic refresh of `app` at `now` compares it (`comparisonExpiry`: the
    /// last comparison is older than the period, or there was none).
    pub fn due(&self, now: Nanos, app: AppId) -> bool {
        let at = self.reconciled[app as usize];
        at == NEVER || at.saturating_add(self.period) < now
    }

    /// The manifest a refresh of `app` at `at`, asked for now, will compare with, if the
    /// cache will answer it: the entry is still fresh at `at` and no resolution is in
    /// flight. Only a forced refresh (a webhook), a resolution, a failure or a restart can
    /// change that before `at`, and the reconciler materializes deferred refreshes on each.
    pub fn cached_spec_at(&self, now: Nanos, at: Nanos, app: AppId) -> Option<SpecId> {
        (!self.resolving && at >= now && self.cache.get(at) == Some(self.tree_rev))
            .then(|| self.tree[app as usize])
    }

    /// Records a periodic refresh of `app` at `at` whose outcome is known now to be a
    /// comparison through the cache that finds nothing new: all it does is move
    /// `reconciledAt` to `at`. No timer fires for it (most of a large fleet's events
    /// were such refreshes, docs/PERFORMANCE.md); [`ArgoRefresh::materialize`] turns it
    /// back into a timer as soon as something could change its outcome.
    pub fn defer(&mut self, app: AppId, at: Nanos) {
        let d = &mut self.deferred[app as usize];
        if *d == NEVER {
            self.deferred_count += 1;
        }
        *d = at;
    }

    /// Ends the deferral of `app` at `now`: a refresh whose time has come is applied
    /// (`reconciledAt` moves to it); one still to come is returned, for the reconciler
    /// to arm as an ordinary timer.
    pub fn materialize(&mut self, now: Nanos, app: AppId) -> Option<Nanos> {
        let d = std::mem::replace(&mut self.deferred[app as usize], NEVER);
        if d == NEVER {
            return None;
        }
        self.deferred_count -= 1;
        if d <= now {
            self.reconciled[app as usize] = d;
            None
        } else {
            Some(d)
        }
    }

    /// Whether any refresh is deferred.
    pub fn has_deferred(&self) -> bool {
        self.deferred_count > 0
    }

    /// A refresh of `app` at `now` that compares with the latest revision: through the
    /// revision cache, or past it when `force` (a webhook, a user's refresh).
    pub fn request(&mut self, now: Nanos, app: AppId, force: bool) -> Route {
        if !force && !self.resolving && self.cache.get(now) == Some(self.tree_rev) {
            self.reconciled[app as usize] = now;
            return Route::Now(self.tree[app as usize]);
        }
        self.pending.push(app);
        if self.resolving {
            Route::Wait(None)
        } else {
            self.resolving = true;
            Route::Wait(Some(self.tree_rev))
        }
    }

    /// The branch resolved to `rev` (with its tree when it was new): the apps that waited,
    /// each with the manifest it compares with now.
    pub fn resolved(&mut self, now: Nanos, rev: Rev, tree: Option<Tree>) -> Vec<(AppId, SpecId)> {
        self.resolving = false;
        if let Some(t) = tree
            && t.len() == self.tree.len()
        {
            self.tree = t;
            self.tree_rev = rev;
        }
        self.cache.put(self.tree_rev, now);
        let pending = std::mem::take(&mut self.pending);
        pending
            .into_iter()
            .map(|app| {
                self.reconciled[app as usize] = now;
                (app, self.tree[app as usize])
            })
            .collect()
    }

    /// The resolution failed: the apps that waited (their comparison failed; they stay
    /// due, so the next resync tries again).
    pub fn failed(&mut self) -> Vec<AppId> {
        self.resolving = false;
        std::mem::take(&mut self.pending)
    }

    /// A controller restart: nothing reconciled, no resolution in flight, the cache gone.
    pub fn restart(&mut self) {
        self.reconciled.iter_mut().for_each(|r| *r = NEVER);
        self.deferred.iter_mut().for_each(|r| *r = NEVER);
        self.deferred_count = 0;
        self.pending.clear();
        self.resolving = false;
        self.cache = RevisionCache::new(self.cache.ttl);
        self.generation = self.generation.wrapping_add(1);
    }
}

/// The mean time from a change in git to the first periodic refresh that compares the
/// app, with no revision cache: the renewal-theory value E[G²] / (2 E[G]) of the gaps G
/// between an app's comparisons, for resync period `t` and jitter `j` (seconds).
///
/// Derivation. Resyncs fire every `t`; at resync k the app's refresh comes `j·U_k` later
/// (U_k uniform on [0, 1]) and compares only if more than `t` passed since the last
/// comparison. Let x be the jitter fraction of the last comparison. At the next resync
/// it compares iff U > x (probability 1 − x), after a gap `t + j(U − x)`; otherwise
/// (probability x) it compares at the resync after, whatever its jitter, after a gap
/// `2t + j(V − x)`. x is a Markov chain whose stationary density π solves
/// π(y) = ∫₀^y π(x) dx + ∫₀^1 x π(x) dx, so π(y) = eʸ / (e − 1). Given x,
/// E[G²] = (1 − x)·(t² + t·j·(1 − x) + j²(1 − x)²/3)
///       + x·(4t² + 4t·j·(½ − x) + j²((1 − x)³ + x³)/3),
/// E[G] = (1 − x)(t + j(1 − x)/2) + x(2t + j(½ − x)) (whose π-mean is t·e/(e − 1)).
/// A change at a time independent of the resync phase waits the forward recurrence time
/// of this stationary point process, whose mean is E[G²] / (2 E[G]) (for any stationary
/// sequence of gaps, independent or not). The integrals over π are taken numerically
/// (midpoint rule, 100,000 steps). For 120 s and 60 s: E[G] = 189.8 s and the mean wait
/// is 100.9 s (a plain timer of 120 s + U(0, 60 s) would give 76 s).
pub fn mean_detection_delay(t: f64, j: f64) -> f64 {
    const STEPS: u32 = 100_000;
    let e = std::f64::consts::E;
    let (mut g1, mut g2) = (0.0, 0.0);
    for i in 0..STEPS {
        let x = (f64::from(i) + 0.5) / f64::from(STEPS);
        let w = x.exp() / (e - 1.0) / f64::from(STEPS);
        let y = 1.0 - x;
        let a2 = t * t + t * j * y + j * j * y * y / 3.0;
        let b2 = 4.0 * t * t + 4.0 * t * j * (0.5 - x) + j * j * (y.powi(3) + x.powi(3)) / 3.0;
        g2 += w * (y * a2 + x * b2);
        g1 += w * (y * (t + j * y / 2.0) + x * (2.0 * t + j * (0.5 - x)));
    }
    g2 / (2.0 * g1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::harness::{Harness, Script};
    use crate::model::pull::Reconciler;
    use crate::scenario::models::PullPreset;
    use crate::scenario::{Dist, Dur, PullConfig, SECOND};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::sync::Arc;

    #[test]
    fn the_renewal_value_of_the_default_timer_is_about_101_s() {
        let d = mean_detection_delay(120.0, 60.0);
        assert!((d - 100.88).abs() < 0.05, "{d}");
    }

    /// Drives the Argo CD reconciler with `apps` apps, no revision cache and syncs that
    /// take no time, commits every app at times independent of the resync phase, and
    /// returns the mean delay from each commit to the comparison that saw it.
    fn measured_detection(cache: Nanos, apps: u32, commits: u32, seed: u64) -> f64 {
        let mut cfg = PullConfig::preset(PullPreset::Argocd);
        cfg.revision_cache = Dur(cache);
        cfg.apply = Dist::fixed(0);
        let initial: Vec<SpecId> = (0..apps).collect();
        let r = Reconciler::new(cfg, 0, &initial, ChaCha8Rng::seed_from_u64(seed));
        let mut h = Harness::new(r, initial, Script::default());
        let mut gaps = ChaCha8Rng::seed_from_u64(seed + 1);
        let mut t = 0;
        let mut times = Vec::new();
        for k in 1..=commits {
            // 400 s or more apart (no gap between comparisons exceeds 300 s), at a
            // continuous random spacing so commits meet the resync at every phase.
            t += 400 * SECOND + gaps.random_range(0..600 * SECOND);
            h.run_until(t);
            h.commit((0..apps).map(|a| k * apps + a).collect());
            times.push(t);
        }
        h.run_until(t + 1000 * SECOND);
        let applies = h.applies();
        assert_eq!(
            applies.len(),
            (apps * commits) as usize,
            "every change synced once"
        );
        let total: f64 = applies
            .iter()
            .map(|(_, a)| {
                let spec = a.items[0].1;
                let at = times[(spec / apps - 1) as usize];
                (a.trace.picked_up - at) as f64 / SECOND as f64
            })
            .sum();
        total / applies.len() as f64
    }

    /// The closed form of the refresh timer: with no revision cache, the mean delay from a
    /// commit to the refresh that compares it is the renewal-theory value (100.9 s), not
    /// the 76 s a plain 120 s + U(0, 60 s) poll gives.
    #[test]
    fn the_refresh_timers_mean_detection_delay_is_its_renewal_theory_value() {
        let expected = mean_detection_delay(120.0, 60.0);
        let got = measured_detection(0, 20, 1500, 11);
        assert!(
            (got - expected).abs() < 0.03 * expected,
            "measured {got:.2} s, renewal theory {expected:.2} s"
        );
    }

    /// The 3-minute revision cache adds to it: a comparison reads the revision the cache
    /// resolved up to 3 minutes earlier.
    #[test]
    fn the_revision_cache_delays_detection_by_a_share_of_its_ttl() {
        let without = measured_detection(0, 20, 400, 5);
        let with = measured_detection(180 * SECOND, 20, 400, 5);
        assert!(with > without + 40.0, "{without:.1} s → {with:.1} s");
    }

    #[test]
    fn a_periodic_refresh_is_skipped_when_the_app_was_compared_within_the_period() {
        let mut r = ArgoRefresh::new(120 * SECOND, 0, Arc::from(vec![0, 1]));
        assert!(r.due(0, 0), "never compared");
        assert_eq!(r.request(10 * SECOND, 0, false), Route::Wait(Some(0)));
        assert_eq!(r.resolved(10 * SECOND, 0, None), vec![(0, 0)]);
        assert!(
            !r.due(130 * SECOND, 0),
            "exactly the period: not yet expired"
        );
        assert!(r.due(130 * SECOND + 1, 0));
    }

    #[test]
    fn the_cache_answers_within_its_ttl_and_a_forced_refresh_goes_past_it() {
        let mut r = ArgoRefresh::new(120 * SECOND, 180 * SECOND, Arc::from(vec![0, 1]));
        assert_eq!(r.request(0, 0, false), Route::Wait(Some(0)));
        assert_eq!(
            r.request(0, 1, false),
            Route::Wait(None),
            "joins the one in flight"
        );
        assert_eq!(
            r.resolved(0, 3, Some(Arc::from(vec![5, 6]))),
            vec![(0, 5), (1, 6)]
        );
        assert_eq!(r.request(179 * SECOND, 0, false), Route::Now(5));
        assert_eq!(
            r.request(180 * SECOND, 0, false),
            Route::Wait(Some(3)),
            "expired"
        );
        assert_eq!(r.resolved(180 * SECOND, 3, None), vec![(0, 5)]);
        assert_eq!(
            r.request(181 * SECOND, 1, true),
            Route::Wait(Some(3)),
            "webhook"
        );
        assert_eq!(r.failed(), vec![1]);
    }
}
