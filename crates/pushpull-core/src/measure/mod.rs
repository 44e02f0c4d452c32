//! Measurement: what one run of one model observed (samples, a timeline, counters), the
//! tracker that turns world observations into metric samples, and the summary across
//! repetitions. Pure: no clock, no files; the worlds feed it, the report writes it.

pub mod bootstrap;
pub mod summary;
pub mod track;

use crate::metric::Metric;
use crate::model::{AppId, ClusterId, Rev};
use crate::scenario::Nanos;
use serde::Serialize;

/// One measured interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub metric: Metric,
    pub cluster: Option<ClusterId>,
    pub app: Option<AppId>,
    pub commit: Option<Rev>,
    pub start: Nanos,
    pub end: Nanos,
}

impl Sample {
    /// The interval's length (zero if the ends were ever out of order).
    pub fn value(&self) -> Nanos {
        self.end.saturating_sub(self.start)
    }
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub t: Nanos,
    pub cluster: Option<ClusterId>,
    pub app: Option<AppId>,
    pub kind: &'static str,
    pub detail: String,
}

/// Counters of one run (names are part of summary.json's contract).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// (commit, cluster) pairs rolled out.
    pub deploys: u64,
    /// (commit, cluster) pairs whose rollout failed.
    pub failed_deploys: u64,
    pub drift_events: u64,
    /// Drift never corrected before the horizon.
    pub drift_unrecovered: u64,
    /// Requests to cluster APIs: one per app per apply (its Deployment and ConfigMap),
    /// one per diff.
    pub api_requests: u64,
    /// Git fetches and checkouts.
    pub git_fetches: u64,
    pub apply_errors: u64,
    /// (commit, cluster) pairs not yet rolled out at the horizon.
    pub deploys_incomplete: u64,
    /// Lost clusters rebuilt but not yet running every app at the horizon.
    pub clusters_unrestored: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.deploys = self.deploys.saturating_add(o.deploys);
        self.failed_deploys = self.failed_deploys.saturating_add(o.failed_deploys);
        self.drift_events = self.drift_events.saturating_add(o.drift_events);
        self.drift_unrecovered = self.drift_unrecovered.saturating_add(o.drift_unrecovered);
        self.api_requests = self.api_requests.saturating_add(o.api_requests);
        self.git_fetches = self.git_fetches.saturating_add(o.git_fetches);
        self.apply_errors = self.apply_errors.saturating_add(o.apply_errors);
        self.deploys_incomplete = self.deploys_incomplete.saturating_add(o.deploys_incomplete);
        self.clusters_unrestored = self
            .clusters_unrestored
            .saturating_add(o.clusters_unrestored);
    }

    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("deploys", self.deploys),
            ("failed_deploys", self.failed_deploys),
            ("drift_events", self.drift_events),
            ("drift_unrecovered", self.drift_unrecovered),
            ("api_requests", self.api_requests),
            ("git_fetches", self.git_fetches),
            ("apply_errors", self.apply_errors),
            ("deploys_incomplete", self.deploys_incomplete),
            ("clusters_unrestored", self.clusters_unrestored),
        ]
    }
}

/// Every setup's records, one per repetition: `(setup name, records)` in the scenario's
/// order of setups.
pub type Runs = Vec<(String, Vec<RunRecord>)>;

/// Everything one model observed in one repetition.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    pub samples: Vec<Sample>,
    pub events: Vec<Event>,
    pub counters: Counters,
    /// Events the engine processed (for engine statistics).
    pub engine_events: u64,
}
