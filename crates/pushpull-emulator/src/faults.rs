//! Fault hooks the live world flips at run time: added latency, a share of requests failed
//! with 429/500/503 (drawn from a seeded ChaCha stream, so a run is repeatable), dropped
//! watch streams, full outages, and watch-history expiry (clients must re-list on 410).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use super::status::ApiError;
use super::store::Store;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("error rate must be within 0.0..=1.0, got {0}")]
    Rate(f64),
    #[error("an error rate above zero needs at least one status to inject")]
    NoStatuses,
}

/// An injectable failure status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedError {
    TooManyRequests,
    Internal,
    Unavailable,
}

impl InjectedError {
    fn to_api_error(self) -> ApiError {
        match self {
            InjectedError::TooManyRequests => ApiError::TooManyRequests(
                "the server has received too many requests and has asked us to try again later"
                    .into(),
            ),
            InjectedError::Internal => ApiError::Internal(
                "an error on the server (injected fault) has prevented the request from succeeding"
                    .into(),
            ),
            InjectedError::Unavailable => {
                ApiError::Unavailable("the server is currently unable to handle the request".into())
            }
        }
    }
}

/// Counters of what the fault layer saw and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultStats {
    pub requests: u64,
    pub injected_errors: u64,
    pub outage_rejections: u64,
    pub watch_drops: u64,
}

struct ErrorInjection {
    rate: f64,
    statuses: Vec<InjectedError>,
    rng: ChaCha8Rng,
}

struct Inner {
    latency: Mutex<Duration>,
    errors: Mutex<ErrorInjection>,
    outage_until: Mutex<Option<Instant>>,
    drops: watch::Sender<u64>,
    store: Arc<Store>,
    requests: AtomicU64,
    injected: AtomicU64,
    rejected: AtomicU64,
}

/// A cheap, clonable handle on one emulator's fault state.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    pub(crate) fn new(seed: u64, store: Arc<Store>) -> Faults {
        let (drops, _) = watch::channel(0);
        Faults {
            inner: Arc::new(Inner {
                latency: Mutex::new(Duration::ZERO),
                errors: Mutex::new(ErrorInjection {
                    rate: 0.0,
                    statuses: Vec::new(),
                    rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6661_756c_7473),
                }),
                outage_until: Mutex::new(None),
                drops,
                store,
                requests: AtomicU64::new(0),
                injected: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
            }),
        }
    }

    /// Delay added before every request is handled.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.inner.latency) = latency;
    }

    /// Fails `rate` of requests, each with a status drawn uniformly from `statuses`.
    pub fn set_error_rate(&self, rate: f64, statuses: &[InjectedError]) -> Result<(), FaultError> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(FaultError::Rate(rate));
        }
        if rate > 0.0 && statuses.is_empty() {
            return Err(FaultError::NoStatuses);
        }
        let mut errors = lock(&self.inner.errors);
        errors.rate = rate;
        errors.statuses = statuses.to_vec();
        Ok(())
    }

    /// Ends every open watch stream now (clients see the stream close and re-watch).
    pub fn drop_watches(&self) {
        self.inner.drops.send_modify(|epoch| *epoch += 1);
    }

    /// Every request fails with 503 until `end_outage` (or until `duration` has passed);
    /// open watches are dropped at the start.
    pub fn begin_outage(&self, duration: Option<Duration>) {
        // A far-future instant stands in for "until ended" (and for a duration too long
        // to add to now).
        let now = Instant::now();
        let forever = Duration::from_secs(100 * 365 * 86_400);
        let until = duration
            .and_then(|d| now.checked_add(d))
            .or_else(|| now.checked_add(forever))
            .unwrap_or(now);
        *lock(&self.inner.outage_until) = Some(until);
        self.drop_watches();
    }

    pub fn end_outage(&self) {
        *lock(&self.inner.outage_until) = None;
    }

    /// Forgets the watch history: a watch resuming from an older resourceVersion gets
    /// `410 Gone` and must re-list (what an etcd compaction does to real clients).
    pub fn expire_watch_history(&self) {
        self.inner.store.compact();
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.set_latency(Duration::ZERO);
        lock(&self.inner.errors).rate = 0.0;
        self.end_outage();
    }

    pub fn stats(&self) -> FaultStats {
        FaultStats {
            requests: self.inner.requests.load(Ordering::Relaxed),
            injected_errors: self.inner.injected.load(Ordering::Relaxed),
            outage_rejections: self.inner.rejected.load(Ordering::Relaxed),
            watch_drops: *self.inner.drops.borrow(),
        }
    }

    pub(crate) fn watch_drops(&self) -> watch::Receiver<u64> {
        self.inner.drops.subscribe()
    }

    /// Called before each request: waits out added latency, then decides its fate.
    pub(crate) async fn before_request(&self) -> Result<(), ApiError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let in_outage = lock(&self.inner.outage_until).is_some_and(|until| Instant::now() < until);
        if in_outage {
            self.inner.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::Unavailable(
                "the server is currently unable to handle the request (outage)".into(),
            ));
        }
        let latency = *lock(&self.inner.latency);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let injected = {
            let mut guard = lock(&self.inner.errors);
            let errors = &mut *guard;
            if errors.rate > 0.0 && errors.rng.random_bool(errors.rate) {
                let i = errors.rng.random_range(0..errors.statuses.len());
                Some(errors.statuses[i])
            } else {
                None
            }
        };
        match injected {
            Some(status) => {
                self.inner.injected.fetch_add(1, Ordering::Relaxed);
                Err(status.to_api_error())
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(seed: u64) -> Faults {
        Faults::new(seed, Arc::new(Store::new(1, 10)))
    }

    fn outcomes(f: &Faults, n: usize) -> Vec<bool> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        (0..n)
            .map(|_| rt.block_on(f.before_request()).is_err())
            .collect()
    }

    #[test]
    fn error_rate_is_seeded_and_roughly_honoured() {
        let a = faults(7);
        let b = faults(7);
        a.set_error_rate(0.3, &[InjectedError::Unavailable])
            .unwrap();
        b.set_error_rate(0.3, &[InjectedError::Unavailable])
            .unwrap();
        let (ra, rb) = (outcomes(&a, 1000), outcomes(&b, 1000));
        assert_eq!(ra, rb, "same seed, same failures");
        let failed = ra.iter().filter(|x| **x).count();
        assert!(
            (200..400).contains(&failed),
            "{failed} of 1000 failed at rate 0.3"
        );
        assert_eq!(a.stats().injected_errors, failed as u64);
    }

    #[test]
    fn invalid_rates_are_rejected() {
        let f = faults(1);
        assert_eq!(
            f.set_error_rate(1.5, &[InjectedError::Internal]),
            Err(FaultError::Rate(1.5))
        );
        assert_eq!(f.set_error_rate(0.5, &[]), Err(FaultError::NoStatuses));
    }

    #[test]
    fn an_outage_too_long_to_represent_lasts_until_ended() {
        let f = faults(1);
        f.begin_outage(Some(Duration::MAX));
        assert!(outcomes(&f, 3).iter().all(|rejected| *rejected));
        f.end_outage();
        assert!(outcomes(&f, 3).iter().all(|rejected| !rejected));
    }

    #[test]
    fn outage_rejects_everything_until_ended() {
        let f = faults(1);
        f.begin_outage(None);
        assert!(outcomes(&f, 5).iter().all(|x| *x));
        assert_eq!(f.stats().watch_drops, 1);
        f.end_outage();
        assert!(outcomes(&f, 5).iter().all(|x| !*x));
    }

    #[test]
    fn timed_outage_expires() {
        let f = faults(1);
        f.begin_outage(Some(Duration::from_millis(20)));
        assert!(outcomes(&f, 1)[0]);
        std::thread::sleep(Duration::from_millis(30));
        assert!(!outcomes(&f, 1)[0]);
    }
}
