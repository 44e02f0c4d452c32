//! `pushpull export`: a run folder's figures in the formats CI trackers read — the
//! `customSmallerIsBetter` JSON of github-action-benchmark, Bencher Metric Format, the
//! Prometheus/OpenMetrics text format, and JUnit XML of thresholds and `check` results.
//! Pure rendering over the typed loader (`report::load`): a folder is read and checked
//! once, the bootstrap intervals are the ones `intervals.json` holds (`report::stats`).

pub mod bmf;
pub mod gab;
pub mod junit;
pub mod openmetrics;

use crate::report::load::{self, QUANTILES, RunDir};
use crate::report::stats::Intervals;
use std::path::Path;

/// The formats `pushpull export --format` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// benchmark-action/github-action-benchmark, `tool: customSmallerIsBetter`.
    GithubActionBenchmark,
    /// Bencher Metric Format JSON.
    Bmf,
    /// Prometheus text exposition / OpenMetrics text (ends in `# EOF`).
    OpenMetrics,
    /// JUnit XML (Apache Ant's schema).
    Junit,
}

/// A run folder read for export: the checked files and the bootstrap intervals.
pub struct Run {
    pub dir: RunDir,
    pub intervals: Intervals,
}

impl Run {
    /// Reads `dir` through the typed loader (summary.json schema 1 or 2, samples.csv,
    /// events.csv, checked against each other) and computes its intervals exactly as
    /// `intervals.json` holds them.
    pub fn read(dir: &Path) -> Result<Run, load::LoadError> {
        let dir = load::load(dir)?;
        let intervals = Intervals::compute(&dir);
        Ok(Run { dir, intervals })
    }

    /// Every figure of every setup: metric by metric (summary.json's order), statistic by
    /// statistic (mean, p50, p90, p95, p99, max), skipping figures without samples.
    pub fn figures(&self) -> Vec<Figure<'_>> {
        let mut out = Vec::new();
        for (setup, m) in self.dir.summary.models.iter() {
            for (metric, stats) in &m.metrics {
                for stat in QUANTILES {
                    let value = match stat {
                        "mean" => stats.mean_s,
                        "p50" => stats.p50_s,
                        "p90" => stats.p90_s,
                        "p95" => stats.p95_s,
                        "p99" => stats.p99_s,
                        _ => stats.max_s,
                    };
                    let Some(value_s) = value else { continue };
                    let ci95 = self
                        .intervals
                        .metric(metric)
                        .and_then(|mi| mi.setup(setup))
                        .and_then(|q| match stat {
                            "p50" => q.ci95_p50_s,
                            "p95" => q.ci95_p95_s,
                            _ => None,
                        });
                    out.push(Figure {
                        setup,
                        kind: m.kind.name(),
                        preset: &m.preset,
                        metric,
                        stat,
                        value_s,
                        count: stats.count,
                        ci95,
                    });
                }
            }
        }
        out
    }

    pub fn scenario(&self) -> &str {
        &self.dir.summary.scenario
    }
}

/// One figure of summary.json: a statistic of one metric of one setup.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure<'a> {
    pub setup: &'a str,
    /// `push` or `pull`.
    pub kind: &'a str,
    pub preset: &'a str,
    pub metric: &'a str,
    /// `mean`, `p50`, `p90`, `p95`, `p99` or `max`.
    pub stat: &'static str,
    pub value_s: f64,
    /// Samples behind it, across repetitions.
    pub count: u64,
    /// The bootstrap 95% interval over repetitions (p50 and p95 with 2+ repetitions).
    pub ci95: Option<[f64; 2]>,
}

/// The figure's quantile as a fraction (`p95` → 0.95, `max` → 1); `None` for the mean.
pub fn quantile_fraction(stat: &str) -> Option<&'static str> {
    match stat {
        "p50" => Some("0.5"),
        "p90" => Some("0.9"),
        "p95" => Some("0.95"),
        "p99" => Some("0.99"),
        "max" => Some("1"),
        _ => None,
    }
}

/// Renders `run` in `format`. `junit` also takes the comparison with a baseline, when
/// one is given (see [`junit::render`]).
pub fn render(run: &Run, format: Format, check: Option<&junit::Check<'_>>, stamp: &str) -> String {
    match format {
        Format::GithubActionBenchmark => gab::render(run),
        Format::Bmf => bmf::render(run),
        Format::OpenMetrics => openmetrics::render(run),
        Format::Junit => junit::render(&run.dir.summary, check, stamp),
    }
}

/// A file's modification time as `YYYY-MM-DDTHH:MM:SS` in UTC (the JUnit timestamp: when
/// the results were written), or the Unix epoch if the file system does not say.
pub fn modified_utc(path: &Path) -> String {
    let secs = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS` (proleptic Gregorian, UTC).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(utc(1_796_083_199), "2026-11-30T23:59:59");
    }

    #[test]
    fn quantiles_are_fractions_and_the_mean_is_none() {
        assert_eq!(quantile_fraction("p95"), Some("0.95"));
        assert_eq!(quantile_fraction("max"), Some("1"));
        assert_eq!(quantile_fraction("mean"), None);
    }
}
