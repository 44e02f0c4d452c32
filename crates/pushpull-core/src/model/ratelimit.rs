//! A client-side token bucket (rate `r` per second, burst `b`) as a pure value: given the
//! time a request asks to go, it says when the request may go. It is the limiter every
//! Kubernetes client puts in front of its API calls, and the one Argo CD's controller uses.
//!
//! Upstream: client-go `util/flowcontrol/throttle.go` `NewTokenBucketRateLimiter(qps,
//! burst)` wraps `golang.org/x/time/rate.NewLimiter(rate.Limit(qps), burst)`; `Accept()`
//! sleeps for `limiter.ReserveN(now, 1).DelayFrom(now)`. The bucket starts full with `b`
//! tokens, refills at `r` tokens a second up to `b`, and every request takes one token,
//! waiting in arrival order when none is left. Modelled here as the equivalent virtual
//! scheduling (GCRA) form: a theoretical arrival time `tat` that each request pushes on by
//! one emission interval `1/r`, with a tolerance of `b − 1` intervals.

use crate::scenario::Nanos;

/// One token bucket. Cheap to copy; `Default` is an unlimited bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TokenBucket {
    /// Nanoseconds between two tokens (`1e9 / r`, rounded to the nanosecond); 0: no limit.
    interval: Nanos,
    /// `(b − 1) × interval`: how far ahead of `tat` a request may still go at once.
    tolerance: Nanos,
    /// The theoretical arrival time of the next request if requests came exactly every
    /// `interval` (a bucket is full again once `tat` ≤ now).
    tat: Nanos,
}

impl TokenBucket {
    /// A bucket of `qps` tokens a second and `burst` tokens at most (`qps` ≤ 0 or not
    /// finite: no limit, as client-go does with QPS 0 and a nil limiter; `burst` 0 counts
    /// as 1, as client-go adjusts it).
    pub fn new(qps: f64, burst: u32) -> TokenBucket {
        if !(qps.is_finite() && qps > 0.0) {
            return TokenBucket::default();
        }
        let interval = ((1e9 / qps).round() as Nanos).max(1);
        TokenBucket {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst.max(1)) - 1),
            tat: 0,
        }
    }

    /// Takes one token for a request that asks at `now`; returns when it may go (`now`
    /// when a token is left, later when it must wait for the refill). Requests are served
    /// in the order they call this, as `rate.Limiter.ReserveN` reserves them.
    pub fn take(&mut self, now: Nanos) -> Nanos {
        if self.interval == 0 {
            return now;
        }
        let start = now.max(self.tat.saturating_sub(self.tolerance));
        self.tat = self.tat.max(start).saturating_add(self.interval);
        start
    }

    /// Takes `n` tokens for `n` requests asked together at `now` (one after another as a
    /// client sends them); returns when the last may go (`now` for `n` = 0).
    pub fn take_n(&mut self, now: Nanos, n: u32) -> Nanos {
        if self.interval == 0 || n == 0 {
            return now;
        }
        // Request k (from 0) of the batch finds tat = max(tat, now) + k·interval, so the
        // last goes at max(now, that − tolerance) and leaves tat one interval further.
        let base = self.tat.max(now);
        let before_last = base.saturating_add(self.interval.saturating_mul(u64::from(n - 1)));
        self.tat = before_last.saturating_add(self.interval);
        now.max(before_last.saturating_sub(self.tolerance))
    }

    /// Takes `milli` thousandths of a token for requests asked together at `now`: an
    /// average cost that is not a whole number of requests (a calibration, as the Argo CD
    /// hub's requests per sync are). Returns when the last thousandth may go; `take_n(now,
    /// n)` is `take_milli(now, 1000·n)`.
    pub fn take_milli(&mut self, now: Nanos, milli: u64) -> Nanos {
        if self.interval == 0 || milli == 0 {
            return now;
        }
        // As take_n with the batch's span `milli/1000` intervals instead of `n`: the
        // batch ends where a whole request would have started one interval earlier.
        let base = self.tat.max(now);
        let span = (u128::from(self.interval) * u128::from(milli) / 1000) as Nanos;
        let end = base.saturating_add(span);
        self.tat = end;
        now.max(
            end.saturating_sub(self.interval)
                .saturating_sub(self.tolerance),
        )
    }

    /// Whether the bucket limits anything.
    pub fn limited(&self) -> bool {
        self.interval > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;

    /// A burst of k·b requests at t = 0 through a full bucket of rate r and burst b: the
    /// first b go at once, the rest one every 1/r, so the last goes at (k·b − b)/r.
    #[test]
    fn a_burst_of_k_times_b_requests_finishes_at_k_b_minus_b_over_r() {
        for (qps, burst, k) in [
            (50.0, 100u32, 5u64),
            (100.0, 200, 3),
            (20.0, 1, 7),
            (5.0, 3, 4),
        ] {
            let mut one = TokenBucket::new(qps, burst);
            let mut last = 0;
            for _ in 0..k * u64::from(burst) {
                last = one.take(0);
            }
            let expected = ((k * u64::from(burst) - u64::from(burst)) as f64 / qps * 1e9) as Nanos;
            assert_eq!(last, expected, "qps {qps} burst {burst} k {k}");
            let mut many = TokenBucket::new(qps, burst);
            assert_eq!(
                many.take_n(0, (k * u64::from(burst)) as u32),
                expected,
                "take_n agrees with one take at a time"
            );
            assert_eq!(many, one, "and leaves the bucket in the same state");
        }
    }

    #[test]
    fn take_milli_of_whole_requests_is_take_n() {
        for (pre, at, n) in [
            (0u32, 0, 10u32),
            (150, 0, 10),
            (30, SECOND, 200),
            (101, 0, 1),
        ] {
            let mut a = TokenBucket::new(50.0, 100);
            for _ in 0..pre {
                a.take(0);
            }
            let mut b = a;
            assert_eq!(a.take_n(at, n), b.take_milli(at, 1000 * u64::from(n)));
            assert_eq!(a, b);
        }
    }

    /// N batches of c·1000 thousandths through a bucket of rate r drain at r/c batches a
    /// second once the burst is spent: the last of N goes at (N·c − b)/r, with c = 11.6.
    #[test]
    fn fractional_batches_drain_at_rate_over_cost() {
        let (qps, burst) = (50.0, 100u32);
        let mut b = TokenBucket::new(qps, burst);
        let n = 1000u64;
        let mut last = 0;
        for _ in 0..n {
            last = b.take_milli(0, 11_600);
        }
        let expected = (n as f64 * 11.6 - f64::from(burst)) / qps * 1e9;
        assert!(
            (last as f64 - expected).abs() < 1e6,
            "last batch at {last} ns, expected {expected} ns"
        );
    }

    #[test]
    fn an_idle_bucket_refills_to_its_burst_and_no_further() {
        let mut b = TokenBucket::new(50.0, 100);
        for _ in 0..100 {
            assert_eq!(b.take(0), 0);
        }
        // Empty: the next waits one interval (20 ms).
        assert_eq!(b.take(0), SECOND / 50);
        // After an hour idle the bucket holds 100 tokens again, not more.
        let t = 3600 * SECOND;
        for _ in 0..100 {
            assert_eq!(b.take(t), t);
        }
        assert_eq!(b.take(t), t + SECOND / 50);
    }

    #[test]
    fn take_n_matches_single_takes_from_any_state() {
        for (pre, at, n) in [
            (0u32, 0, 10u32),
            (150, 0, 10),
            (30, SECOND, 200),
            (99, 0, 1),
            (100, 0, 1),
            (101, 3 * SECOND / 2, 80),
        ] {
            let mut a = TokenBucket::new(50.0, 100);
            let mut b = a;
            for _ in 0..pre {
                a.take(0);
                b.take(0);
            }
            let mut last = 0;
            for _ in 0..n {
                last = a.take(at);
            }
            assert_eq!(b.take_n(at, n), last, "pre {pre} at {at} n {n}");
            assert_eq!(a, b);
        }
    }

    #[test]
    fn zero_qps_is_no_limit() {
        let mut b = TokenBucket::new(0.0, 10);
        assert!(!b.limited());
        assert_eq!(b.take_n(7, 1_000_000), 7);
    }
}
