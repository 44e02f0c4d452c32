//! The DORA view of a run: the four key measures and the performance cluster each setup's
//! figure falls in. The clusters are those of the *Accelerate State of DevOps Report 2024*
//! (Google Cloud / DORA, October 2024), table "Software delivery performance levels"
//! (p. 14), which the report derives by cluster analysis of its survey:
//!
//! | cluster (share) | lead time for changes | deployment frequency | change failure rate | failed deployment recovery time |
//! |---|---|---|---|---|
//! | elite (19%) | less than one day | on demand (multiple deploys per day) | 5% | less than one hour |
//! | high (22%) | between one day and one week | between once per day and once per week | 20% | less than one day |
//! | medium (35%) | between one week and one month | between once per week and once per month | 10% | less than one day |
//! | low (25%) | between one month and six months | between once per month and once every six months | 40% | between one week and one month |
//!
//! Lead time, frequency and recovery are ranges: a figure takes the best cluster whose
//! range it meets (so recovery under a day is "high", which medium shares, and recovery
//! between a day and a week, which no cluster covers, is "low"). The change failure
//! rates are one typical value per cluster and are not in order (2024's high cluster
//! fails more often than its medium one): a rate takes the cluster whose value is
//! nearest, the better on a tie. Deployment frequency counts calendar days, or working
//! days when commits follow working hours (a team that ships every working day is
//! "daily", weekends or not).

use crate::scenario::WorkingHours;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Elite,
    High,
    Medium,
    Low,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Elite => "elite",
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        })
    }
}

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;
const WEEK: f64 = 7.0 * DAY;
/// DORA's "once per month": thirty days.
const MONTH: f64 = 30.0 * DAY;

/// Upper bounds of lead time (seconds) for elite, high and medium.
pub const LEAD_TIME_S: [f64; 3] = [DAY, WEEK, MONTH];
/// Lower bounds of deployments per day for elite (more than this), high and medium (at
/// least this).
pub const DEPLOYS_PER_DAY: [f64; 3] = [1.0, 1.0 / 7.0, 1.0 / 30.0];
/// Each cluster's change failure rate (a fraction): elite, high, medium, low.
pub const CHANGE_FAILURE_RATE: [f64; 4] = [0.05, 0.20, 0.10, 0.40];
/// Upper bounds of failed deployment recovery time (seconds) for elite, high, medium
/// and low (2024's high and medium clusters share "less than one day").
pub const RECOVERY_S: [f64; 4] = [HOUR, DAY, DAY, MONTH];

const TIERS: [Tier; 4] = [Tier::Elite, Tier::High, Tier::Medium, Tier::Low];

/// The four measures, for [`cluster_value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    LeadTime,
    DeploymentFrequency,
    ChangeFailureRate,
    RecoveryTime,
}

/// What the 2024 report gives for `tier` on `measure`, as the report words it: printed
/// beside the tier so a reader sees what the tier means.
pub fn cluster_value(measure: Measure, tier: Tier) -> &'static str {
    let i = TIERS.iter().position(|&t| t == tier).unwrap_or(3);
    match measure {
        Measure::LeadTime => [
            "less than one day",
            "one day to one week",
            "one week to one month",
            "one to six months",
        ][i],
        Measure::DeploymentFrequency => [
            "several a day",
            "daily to weekly",
            "weekly to monthly",
            "monthly to every six months",
        ][i],
        Measure::ChangeFailureRate => ["5%", "20%", "10%", "40%"][i],
        Measure::RecoveryTime => [
            "less than one hour",
            "less than one day",
            "less than one day",
            "one week to one month",
        ][i],
    }
}

/// `elite (less than one day)`: the tier and its cluster's value.
pub fn describe(measure: Measure, tier: Tier) -> String {
    format!("{tier} ({})", cluster_value(measure, tier))
}

fn below(v: f64, bounds: &[f64]) -> Tier {
    TIERS
        .into_iter()
        .zip(bounds)
        .find(|&(_, &b)| v < b)
        .map(|(t, _)| t)
        .unwrap_or(Tier::Low)
}

pub fn lead_time(seconds: f64) -> Tier {
    below(seconds, &LEAD_TIME_S)
}

pub fn deployment_frequency(per_day: f64) -> Tier {
    if per_day > DEPLOYS_PER_DAY[0] {
        return Tier::Elite;
    }
    TIERS[1..]
        .iter()
        .zip(&DEPLOYS_PER_DAY[1..])
        .find(|&(_, &b)| per_day >= b)
        .map(|(&t, _)| t)
        .unwrap_or(Tier::Low)
}

/// The days over which deployment frequency is counted in one repetition of
/// `duration_s` seconds: working days when the scenario's commits follow working hours
/// (`workload.commits.working_hours` in scenario.json), else calendar days. The flag says
/// which.
pub fn days_counted(scenario: Option<&serde_json::Value>, duration_s: f64) -> (f64, bool) {
    let hours = scenario
        .and_then(|s| s.pointer("/workload/commits/working_hours"))
        .and_then(|h| serde_json::from_value::<WorkingHours>(h.clone()).ok());
    match hours {
        Some(h) => {
            let ns = (duration_s * 1e9).clamp(0.0, u64::MAX as f64) as u64;
            (h.working_days(ns), true)
        }
        None => (duration_s / DAY, false),
    }
}

/// The cluster whose change failure rate is nearest to `fraction` (the better on a tie).
pub fn change_failure_rate(fraction: f64) -> Tier {
    // Distances in basis points, so 15% sits exactly between 10% and 20%.
    let bp = |v: f64| ((fraction - v).abs() * 1e4).round();
    TIERS
        .into_iter()
        .zip(CHANGE_FAILURE_RATE)
        .min_by(|a, b| bp(a.1).total_cmp(&bp(b.1)).then(a.0.cmp(&b.0)))
        .map_or(Tier::Low, |(t, _)| t)
}

/// Failed deployment recovery time: beyond a month, still low (the report's low
/// cluster ends at a month; nothing slower is better).
pub fn recovery_time(seconds: f64) -> Tier {
    below(seconds, &RECOVERY_S[..3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_2024_dora_clusters() {
        assert_eq!(lead_time(3600.0), Tier::Elite);
        assert_eq!(lead_time(2.0 * DAY), Tier::High);
        assert_eq!(lead_time(2.0 * WEEK), Tier::Medium);
        assert_eq!(lead_time(2.0 * MONTH), Tier::Low);
        assert_eq!(deployment_frequency(12.0), Tier::Elite);
        // Once a day is the top of "between once per day and once per week".
        assert_eq!(deployment_frequency(1.0), Tier::High);
        assert_eq!(deployment_frequency(0.5), Tier::High);
        assert_eq!(deployment_frequency(0.1), Tier::Medium);
        assert_eq!(deployment_frequency(0.01), Tier::Low);
        assert_eq!(change_failure_rate(0.0), Tier::Elite);
        assert_eq!(change_failure_rate(0.07), Tier::Elite);
        // Nearer 2024's medium cluster (10%) than its high one (20%).
        assert_eq!(change_failure_rate(0.08), Tier::Medium);
        assert_eq!(change_failure_rate(0.12), Tier::Medium);
        // Halfway between medium and high: the better.
        assert_eq!(change_failure_rate(0.15), Tier::High);
        assert_eq!(change_failure_rate(0.25), Tier::High);
        assert_eq!(change_failure_rate(0.5), Tier::Low);
        assert_eq!(recovery_time(1800.0), Tier::Elite);
        assert_eq!(recovery_time(2.0 * HOUR), Tier::High);
        // Between a day and a week no 2024 cluster lies: the low one's range is next.
        assert_eq!(recovery_time(3.0 * DAY), Tier::Low);
        assert_eq!(recovery_time(2.0 * MONTH), Tier::Low);
        assert_eq!(
            describe(Measure::ChangeFailureRate, Tier::Medium),
            "medium (10%)"
        );
        assert_eq!(
            describe(Measure::LeadTime, Tier::Elite),
            "elite (less than one day)"
        );
    }

    #[test]
    fn deployment_frequency_counts_working_days_when_commits_keep_working_hours() {
        let plain = serde_json::json!({"workload": {"commits": {"arrival": "poisson"}}});
        assert_eq!(days_counted(Some(&plain), 2.0 * WEEK), (14.0, false));
        assert_eq!(days_counted(None, DAY / 2.0), (0.5, false));
        let office = serde_json::json!({"workload": {"commits": {"arrival": "poisson",
            "working_hours": {"days": "mon-fri", "hours": "9-17"}}}});
        // Two weeks hold ten working days; Monday to noon Tuesday holds one and three eighths.
        assert_eq!(days_counted(Some(&office), 2.0 * WEEK), (10.0, true));
        assert_eq!(
            days_counted(Some(&office), DAY + 12.0 * HOUR),
            (1.375, true)
        );
    }
}
