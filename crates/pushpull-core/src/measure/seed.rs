//! The seed's questions and money for one setup, gathered for the summary: the
//! out-of-sync and unexplained-change shares (`audit.rs`), the credential table
//! (`credentials.rs`) and the monthly cost (`cost.rs`).

use super::RunRecord;
use super::audit::{self, Unexplained};
use super::bootstrap::stream_seed;
use super::cost::{self, Cost};
use super::credentials::{self, Credentials};
use crate::scenario::Scenario;
use crate::scenario::models::Setup;

/// What [`crate::measure::summary::ModelSummary`] holds of the seed's questions.
pub struct SeedFigures {
    pub out_of_sync_share: Option<f64>,
    pub out_of_sync_share_ci95: Option<[f64; 2]>,
    pub unexplained_change_share: Option<f64>,
    pub unexplained_change_share_ci95: Option<[f64; 2]>,
    pub unexplained_changes: Option<Unexplained>,
    pub credentials: Credentials,
    pub cost: Option<Cost>,
}

impl SeedFigures {
    /// The figures of setup `name` over its repetitions `reps`.
    pub fn build(s: &Scenario, setup: &Setup, name: &str, reps: &[RunRecord]) -> SeedFigures {
        let horizon = s.duration.0;
        let (clusters, apps) = (s.fleet.clusters.get(), s.fleet.apps.get());
        let audits: Vec<_> = reps
            .iter()
            .map(|r| audit::of_run(r, clusters, apps, horizon))
            .collect();
        let (oos, oos_ci) = if audits.is_empty() {
            (None, None)
        } else {
            audit::out_of_sync_share(&audits, stream_seed(s.seed, &[name, "out_of_sync_share"]))
        };
        let unexplained = audit::unexplained(
            &audits,
            stream_seed(s.seed, &[name, "unexplained_change_share"]),
        );
        let costs: Vec<_> = reps
            .iter()
            .map(|r| cost::of_run(s, setup, &s.prices, r, horizon))
            .collect();
        SeedFigures {
            out_of_sync_share: oos,
            out_of_sync_share_ci95: oos_ci,
            unexplained_change_share: unexplained.as_ref().map(|u| u.0),
            unexplained_change_share_ci95: unexplained.as_ref().and_then(|u| u.1),
            unexplained_changes: unexplained.map(|u| u.2),
            credentials: credentials::of_setup(s, setup),
            cost: cost::monthly(
                &s.prices,
                &costs,
                horizon,
                stream_seed(s.seed, &[name, "monthly_usd"]),
            ),
        }
    }
}

/// `sensitivity` in summary.json: the one-at-a-time sensitivity pass of the decision
/// card (`pushpull run` in sim mode re-runs the scenario with each key preset value
/// scaled and records, per question, where the verdict flips).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sensitivity {
    /// Repetitions each variant ran.
    pub repetitions: u32,
    /// The factors each value was scaled by.
    pub factors: Vec<f64>,
    /// The values scaled (those the scenario has).
    #[serde(default)]
    pub values: Vec<String>,
    /// Why the pass did not run (live modes), if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Per card question (`lead_time`, `drift_exposure`, ...): the assumption its
    /// verdict is most sensitive to, in a sentence.
    pub questions: std::collections::BTreeMap<String, String>,
}
