//! The bounds of every number a scenario holds, each with the reason it is where it is:
//! Kubernetes' own limits where one exists, otherwise a range in which the engine's
//! nanosecond (u64) arithmetic and u32 indices cannot overflow. Feasibility (memory and
//! work) is not a bound here: it depends on the machine, see [`super::estimate`].

use super::duration::{Nanos, SECOND};

/// One year as humantime counts it (365.25 days), so `100y` is exactly [`MAX_SPAN`].
pub const YEAR: Nanos = 31_557_600 * SECOND;

/// The longest duration any field may hold (the run's `duration`, a fault's `at` or
/// length, every delay and distribution parameter): 100 years. Virtual time is u64
/// nanoseconds, which end at 584 years; a point (≤ the run's duration, so ≤ 100 years)
/// plus a few spans of ≤ 100 years each stays far below that, so no schedule can wrap.
pub const MAX_SPAN: Nanos = 100 * YEAR;

/// The last instant any fault may reach (`at` + its length): 200 years, the run's
/// longest duration plus the longest span. Well under u64's 584 years.
pub const HORIZON: Nanos = 2 * MAX_SPAN;

/// The shortest interval of anything that repeats on its own (commit and drift
/// arrivals, polls, reconcile and drift-check intervals, retry and self-heal delays):
/// 1 ms. Below one API round trip a timer only spins: a loop that re-arms faster than
/// any Kubernetes or git operation answers is a livelock, not a scenario.
pub const MIN_INTERVAL: Nanos = 1_000_000;

/// Kubernetes' `spec.replicas`, `maxSurge` and `maxUnavailable` are int32.
pub const MAX_REPLICAS: u32 = i32::MAX as u32;

/// `progressDeadlineSeconds` is an int32 number of seconds, and must be above zero.
pub const MAX_PROGRESS_DEADLINE: Nanos = i32::MAX as Nanos * SECOND;

/// Clusters in one fleet: 10,000, beyond the largest published multi-cluster tests
/// (kube-burner and clusterloader2 fleets run to hundreds of clusters).
pub const MAX_CLUSTERS: u32 = 10_000;

/// Apps (Deployments) per cluster: 100,000, beyond what one cluster's API server holds
/// in practice (a few thousand Deployments per namespace-heavy cluster).
pub const MAX_APPS: u32 = 100_000;

/// Clusters × apps: 10 million Deployments. Every per-Deployment index of the engine is
/// a u32, and this keeps any count derived from it (× replicas, × apps per commit) far
/// from u32 and u64 limits.
pub const MAX_DEPLOYMENTS: u64 = 10_000_000;

/// Repetitions of a run: 10,000. Confidence intervals stop narrowing in any useful way
/// long before; each repetition's plan is kept in memory for the run.
pub const MAX_REPETITIONS: u32 = 10_000;

/// Pipeline runners, apply parallelism and reconciler concurrency: 10,000 each, more
/// than any CI system or controller runs in one place; workers are u32-indexed.
pub const MAX_WORKERS: u32 = 10_000;

/// A backoff factor between 1 (constant) and 1,000 (any cap is reached at the second
/// retry): beyond that `initial × factorⁿ` stops meaning anything.
pub const MAX_FACTOR: f64 = 1_000.0;

/// Entries of `faults` and `thresholds`: 10,000 each (every fault owns an RNG stream
/// and a handler; a threshold is per model, metric and quantile, of which there are a few hundred).
pub const MAX_ENTRIES: usize = 10_000;

/// Values of an `empirical` distribution: 1,000,000 (8 MB, copied into every world).
pub const MAX_EMPIRICAL: usize = 1_000_000;

/// A threshold's `tolerance`: at most 10,000% (a figure 100 times the baseline).
pub const MAX_TOLERANCE: f64 = 100.0;

/// A scenario name is a DNS-1123 label (as a Kubernetes namespace name): at most 63
/// characters. It names the folder reports/<name>/ and the live namespaces.
pub const MAX_NAME: usize = 63;

/// Delivery setups one scenario compares: enough for every pipeline and reconciler a team
/// shortlists; each runs the whole workload, so the cost grows with the count.
pub const MAX_SETUPS: usize = 8;

/// A setup's name: its live namespaces (`pushpull-live-<name>-c<cluster>`) are DNS-1123
/// labels of at most [`MAX_NAME`] characters, with room for 64 clusters.
pub const MAX_SETUP_NAME: usize = MAX_NAME - "pushpull-live-".len() - "-c63".len();

/// `time_scale` runs from 0.001 to 1. Below 0.001 a one-second scenario delay is under a
/// millisecond, shorter than one API round trip, so live timings measure the harness
/// rather than the scenario (and `1e-300` rounds every delay to zero). Above 1 a live run
/// only gets slower than real time, and `1e12` turns minutes into millennia.
pub const MIN_TIME_SCALE: f64 = 0.001;
pub const MAX_TIME_SCALE: f64 = 1.0;

/// The deepest nesting of YAML collections a scenario may have: 64. A scenario needs
/// about 6 (`faults[0].latency.samples`); the parser's cost grows with depth.
pub const MAX_DEPTH: usize = 64;

/// Why `time_scale` is bounded, for messages.
pub const TIME_SCALE_WHY: &str = "below 0.001 a one-second delay is shorter than an API round trip, above 1 a live run is slower than real time (quickstart-live uses 0.005)";

/// A number as a user would write it: `0.005`, `0`, `1e300`, `1e-300`.
pub fn show(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Whether `x` is a time scale in range.
pub fn time_scale_ok(x: f64) -> bool {
    x.is_finite() && (MIN_TIME_SCALE..=MAX_TIME_SCALE).contains(&x)
}

/// Checks a time scale; the error says the range and why.
pub fn check_time_scale(x: f64) -> Result<(), String> {
    if time_scale_ok(x) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is outside {MIN_TIME_SCALE}..{MAX_TIME_SCALE}; {TIME_SCALE_WHY}",
            show(x)
        ))
    }
}

/// Whether `name` is a DNS-1123 label: 1 to 63 of `a-z`, `0-9` and `-`, starting and
/// ending with a letter or digit.
pub fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_years_and_the_horizon_fit_in_u64_nanoseconds() {
        assert_eq!(
            super::super::Dur::parse("100y").unwrap().0,
            MAX_SPAN,
            "humantime's year"
        );
        // Duration + fault span + a few delays never wraps.
        assert!(HORIZON.checked_add(2 * MAX_SPAN).is_some());
    }

    #[test]
    fn dns_labels_are_lowercase_alphanumerics_and_inner_dashes_up_to_63() {
        assert!(is_dns_label("fleet-xl"));
        assert!(is_dns_label(&"a".repeat(63)));
        assert!(!is_dns_label(&"a".repeat(64)));
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "é"] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn time_scale_outside_a_thousandth_to_one_is_refused_with_the_range() {
        assert!(check_time_scale(0.005).is_ok() && check_time_scale(1.0).is_ok());
        assert_eq!(
            [show(1e300), show(1e-300), show(0.0), show(0.005)],
            ["1e300", "1e-300", "0", "0.005"]
        );
        for x in [1e300, 1e-300, 1e12, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = check_time_scale(x).unwrap_err();
            assert!(e.contains("0.001..1"), "{e}");
        }
    }
}
