//! A threshold's figure over part of the fleet: the samples of the clusters, apps or
//! environment it selects, summarised as the whole fleet's are (Kaplan–Meier when some
//! observations are still open at the end of a run).

use super::RunRecord;
use super::summary::MetricSummary;
use crate::metric::Metric;
use crate::scenario::Nanos;
use crate::scenario::selection::Selection;

/// The summary of `metric` over the samples `sel` selects in every repetition of `reps`.
pub fn figure(reps: &[RunRecord], metric: Metric, sel: &Selection) -> MetricSummary {
    let pick = |v: &[super::Sample]| -> Vec<Nanos> {
        v.iter()
            .filter(|s| s.metric == metric && sel.matches(s.cluster, s.app))
            .map(super::Sample::value)
            .collect()
    };
    let mut done: Vec<Nanos> = reps.iter().flat_map(|r| pick(&r.samples)).collect();
    let open: Vec<Nanos> = reps.iter().flat_map(|r| pick(&r.censored)).collect();
    MetricSummary::from_observations(&mut done, &open)
}
