//! The DORA view of a run: the four key measures and the performance tier each model
//! reaches. Thresholds are the cluster boundaries of the DORA "Accelerate State of DevOps
//! Report 2023" (Google Cloud / DORA), table "Software delivery performance":
//!   elite:  lead time < 1 day,  deploys on demand (several a day), change failure rate 5%,
//!           failed deployment recovery < 1 hour;
//!   high:   1 day – 1 week,     once a day – once a week,          10%,  < 1 day;
//!   medium: 1 week – 1 month,   once a week – once a month,        15%,  1 day – 1 week;
//!   low:    beyond medium on any measure (the report's low cluster: 64% failures,
//!           recovery of one to six months).
//! The report's ranges touch or overlap; a measure takes the best tier whose bound it meets.
//! Deployment frequency counts calendar days, or working days when commits follow
//! working hours (a team that ships every working day is "daily", weekends or not).

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
/// Lower bounds of deployments per day for elite, high and medium.
pub const DEPLOYS_PER_DAY: [f64; 3] = [1.0, 1.0 / 7.0, 1.0 / 30.0];
/// Upper bounds of the change failure rate (a fraction) for elite, high and medium.
pub const CHANGE_FAILURE_RATE: [f64; 3] = [0.05, 0.10, 0.15];
/// Upper bounds of failed deployment recovery time (seconds) for elite, high and medium.
pub const RECOVERY_S: [f64; 3] = [HOUR, DAY, WEEK];

const TIERS: [Tier; 3] = [Tier::Elite, Tier::High, Tier::Medium];

fn below(v: f64, bounds: [f64; 3], strict: bool) -> Tier {
    TIERS
        .into_iter()
        .zip(bounds)
        .find(|&(_, b)| if strict { v < b } else { v <= b })
        .map(|(t, _)| t)
        .unwrap_or(Tier::Low)
}

pub fn lead_time(seconds: f64) -> Tier {
    below(seconds, LEAD_TIME_S, true)
}

pub fn deployment_frequency(per_day: f64) -> Tier {
    TIERS
        .into_iter()
        .zip(DEPLOYS_PER_DAY)
        .find(|&(_, b)| per_day >= b)
        .map(|(t, _)| t)
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

pub fn change_failure_rate(fraction: f64) -> Tier {
    below(fraction, CHANGE_FAILURE_RATE, false)
}

pub fn recovery_time(seconds: f64) -> Tier {
    below(seconds, RECOVERY_S, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_dora_bounds() {
        assert_eq!(lead_time(3600.0), Tier::Elite);
        assert_eq!(lead_time(2.0 * DAY), Tier::High);
        assert_eq!(lead_time(2.0 * WEEK), Tier::Medium);
        assert_eq!(lead_time(2.0 * MONTH), Tier::Low);
        assert_eq!(deployment_frequency(12.0), Tier::Elite);
        assert_eq!(deployment_frequency(0.5), Tier::High);
        assert_eq!(deployment_frequency(0.1), Tier::Medium);
        assert_eq!(deployment_frequency(0.01), Tier::Low);
        assert_eq!(change_failure_rate(0.05), Tier::Elite);
        assert_eq!(change_failure_rate(0.08), Tier::High);
        assert_eq!(change_failure_rate(0.15), Tier::Medium);
        assert_eq!(change_failure_rate(0.5), Tier::Low);
        assert_eq!(recovery_time(1800.0), Tier::Elite);
        assert_eq!(recovery_time(2.0 * HOUR), Tier::High);
        assert_eq!(recovery_time(3.0 * DAY), Tier::Medium);
        assert_eq!(recovery_time(2.0 * WEEK), Tier::Low);
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
