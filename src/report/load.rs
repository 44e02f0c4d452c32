//! Reads a run directory back: `summary.json`, `samples.csv`, `events.csv`, and the
//! optional `run.json` and `scenario.json`. This is all `pushpull report` needs, so the
//! charts and reports can be rebuilt from a copied directory without re-running anything.

use crate::measure::bootstrap::Groups;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source} (is this a run directory written by `pushpull run`?)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a pushpull summary: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path}:{line}: {message}")]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// One metric's statistics as `summary.json` holds them: the very type that writes them.
pub use crate::measure::summary::MetricSummary as MetricStats;

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ModelStats {
    pub metrics: BTreeMap<String, MetricStats>,
    pub counters: BTreeMap<String, u64>,
}

impl ModelStats {
    pub fn metric(&self, name: &str) -> Option<&MetricStats> {
        self.metrics.get(name)
    }
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ThresholdStats {
    pub model: String,
    pub metric: String,
    pub quantile: String,
    pub max_s: f64,
    pub value_s: Option<f64>,
    pub ok: bool,
}

/// `summary.json`, the CI contract of DESIGN.md.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SummaryFile {
    pub schema: u32,
    pub scenario: String,
    pub mode: String,
    pub seed: u64,
    pub repetitions: u32,
    pub duration_s: f64,
    #[serde(default)]
    pub partial: bool,
    /// In a partial run, the repetitions measured (the last possibly in part).
    #[serde(default)]
    pub repetitions_run: Option<u32>,
    /// Fault kinds a live mode could not inject (they did not happen in the run).
    #[serde(default)]
    pub unsupported_faults: Vec<String>,
    pub models: BTreeMap<String, ModelStats>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdStats>,
}

impl SummaryFile {
    pub fn model(&self, name: &str) -> Option<&ModelStats> {
        self.models.get(name)
    }
}

/// `run.json`: how the run was made.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct RunFile {
    pub pushpull_version: String,
    pub command: String,
    #[serde(default)]
    pub scenario_file: String,
    pub mode: String,
}

/// One line of `events.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub model: String,
    pub t_s: f64,
    pub cluster: Option<u32>,
    pub app: Option<u32>,
    pub event: String,
    pub detail: String,
}

impl EventRow {
    /// The revision named in `detail` (`rev=12 apps=3` → 12).
    pub fn rev(&self) -> Option<u64> {
        self.detail
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("rev="))
            .and_then(|v| v.parse().ok())
    }
}

/// Everything a report is made from.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub summary: SummaryFile,
    /// `(model, metric)` → values in microseconds, one vector per repetition.
    pub samples: BTreeMap<(String, String), Groups>,
    /// The timeline of repetition 0 (the timeline chart draws only that one).
    pub events: Vec<EventRow>,
    pub run: Option<RunFile>,
    /// The scenario with presets expanded, as `pushpull run` stored it.
    pub scenario: Option<serde_json::Value>,
}

impl RunDir {
    pub fn samples(&self, model: &str, metric: &str) -> Option<&Groups> {
        self.samples.get(&(model.to_string(), metric.to_string()))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    serde_json::from_slice(&read(path)?).map_err(|source| LoadError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn optional_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, LoadError> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Seconds as written in the CSVs (`12.345678`) to whole microseconds, exactly.
pub fn parse_micros(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: u64 = whole.parse().ok()?;
    let f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(6 - frac.len() as u32)
    };
    w.checked_mul(1_000_000)?.checked_add(f)
}

fn opt_u32(s: &str) -> Result<Option<u32>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse()
            .map(Some)
            .map_err(|_| format!("`{s}` is not an index"))
    }
}

pub fn load(dir: &Path) -> Result<RunDir, LoadError> {
    let summary: SummaryFile = read_json(&dir.join("summary.json"))?;
    let reps = summary.repetitions.max(1) as usize;

    let path = dir.join("samples.csv");
    let bytes = read(&path)?;
    let mut per: BTreeMap<(String, String), Vec<Vec<u64>>> = BTreeMap::new();
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    for row in rdr.records() {
        let row = row.map_err(|source| LoadError::Csv {
            path: path.clone(),
            source,
        })?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let bad = |message: String| LoadError::Row {
            path: path.clone(),
            line,
            message,
        };
        let rep: usize = row[0]
            .parse()
            .map_err(|_| bad(format!("repetition `{}` is not a number", &row[0])))?;
        if rep >= reps {
            return Err(bad(format!(
                "repetition {rep} but summary.json says {reps} repetition(s)"
            )));
        }
        let value = parse_micros(&row[8])
            .ok_or_else(|| bad(format!("value_s `{}` is not seconds", &row[8])))?;
        per.entry((row[1].to_string(), row[2].to_string()))
            .or_insert_with(|| vec![Vec::new(); reps])[rep]
            .push(value);
    }
    let samples = per.into_iter().map(|(k, v)| (k, Groups::new(v))).collect();

    let path = dir.join("events.csv");
    let bytes = read(&path)?;
    let mut events = Vec::new();
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    for row in rdr.records() {
        let row = row.map_err(|source| LoadError::Csv {
            path: path.clone(),
            source,
        })?;
        if &row[0] != "0" {
            continue;
        }
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        let bad = |message: String| LoadError::Row {
            path: path.clone(),
            line,
            message,
        };
        events.push(EventRow {
            model: row[1].to_string(),
            t_s: row[2]
                .parse()
                .map_err(|_| bad(format!("t_s `{}` is not seconds", &row[2])))?,
            cluster: opt_u32(&row[3]).map_err(bad)?,
            app: opt_u32(&row[4]).map_err(bad)?,
            event: row[5].to_string(),
            detail: row[6].to_string(),
        });
    }

    Ok(RunDir {
        summary,
        samples,
        events,
        run: optional_json(&dir.join("run.json"))?,
        scenario: optional_json(&dir.join("scenario.json"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_parse_exactly() {
        assert_eq!(parse_micros("12.345678"), Some(12_345_678));
        assert_eq!(parse_micros("0.000001"), Some(1));
        assert_eq!(parse_micros("7"), Some(7_000_000));
        assert_eq!(parse_micros("1.5"), Some(1_500_000));
        assert_eq!(parse_micros("-1.0"), None);
        assert_eq!(parse_micros("1.1234567"), None);
    }

    #[test]
    fn event_revision_comes_from_the_detail() {
        let e = EventRow {
            model: "push".into(),
            t_s: 1.0,
            cluster: None,
            app: None,
            event: "commit".into(),
            detail: "rev=12 apps=3".into(),
        };
        assert_eq!(e.rev(), Some(12));
    }
}
