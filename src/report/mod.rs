//! Writes a run's results: `summary.json`, `samples.csv`, `events.csv`, `run.json` and
//! `scenario.json` under `reports/<scenario>/`, then the charts, `intervals.json`,
//! `report.html` and `report.md` built from those files alone (so `pushpull report`
//! rebuilds them byte for byte). Each file is written atomically (an exclusively created temp
//! file + rename), so no reader sees a half-written file; a run writes them into a
//! temporary folder that `crate::outdir` swaps in whole. Also renders the terminal table.

pub mod charts;
pub mod dora;
pub mod findings;
pub mod fleet;
mod font;
pub mod html;
pub mod load;
pub mod markdown;
pub mod setups;
pub mod stats;
pub mod table;

use crate::measure::RunRecord;
use crate::measure::summary::Summary;
use crate::scenario::Scenario;
use crate::scenario::duration::secs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "cannot write {path}: {source} (check that the folder is writable, or pick another with --out)"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Load(#[from] load::LoadError),
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
}

/// Writes `bytes` to `path` through a uniquely named temporary file in the same folder,
/// created exclusively (a link planted there is never followed), fsynced and renamed over
/// `path`. The folder must exist, but for one missing last level (`charts/`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    crate::outdir::write_file(path, bytes).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn s6(n: u64) -> String {
    format!("{:.6}", secs(n))
}

/// `samples.csv`: one row per sample.
pub fn samples_csv(runs: &[(String, Vec<RunRecord>)]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(load::SAMPLES_HEADER)?;
    for (name, reps) in runs {
        for (rep, r) in reps.iter().enumerate() {
            for smp in &r.samples {
                w.write_record([
                    rep.to_string(),
                    name.clone(),
                    smp.metric.name().to_string(),
                    opt(smp.cluster),
                    opt(smp.app),
                    opt(smp.commit),
                    s6(smp.start),
                    s6(smp.end),
                    s6(smp.value()),
                ])?;
            }
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// `events.csv`: the timeline.
pub fn events_csv(runs: &[(String, Vec<RunRecord>)]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(load::EVENTS_HEADER)?;
    for (name, reps) in runs {
        for (rep, r) in reps.iter().enumerate() {
            for e in &r.events {
                w.write_record([
                    rep.to_string(),
                    name.clone(),
                    s6(e.t),
                    opt(e.cluster),
                    opt(e.app),
                    e.kind.name().to_string(),
                    e.detail.clone(),
                ])?;
            }
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// What `run.json` records beside the deterministic summary: facts of this execution.
#[derive(serde::Serialize)]
pub struct RunInfo {
    pub pushpull_version: &'static str,
    pub command: String,
    pub scenario_file: String,
    pub mode: String,
    pub wall_s: f64,
    pub threads: usize,
}

/// Writes every output file of a run into `dir`, reports included; returns the paths
/// written.
pub fn write_run(
    dir: &Path,
    scenario: &Scenario,
    summary: &Summary,
    runs: &[(String, Vec<RunRecord>)],
    info: &RunInfo,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| -> Result<(), ReportError> {
        let p = dir.join(name);
        write_atomic(&p, &bytes)?;
        written.push(p);
        Ok(())
    };
    let csv_err = |name: &str| {
        let path = dir.join(name);
        move |source| ReportError::Csv { path, source }
    };
    put(
        "samples.csv",
        samples_csv(runs).map_err(csv_err("samples.csv"))?,
    )?;
    put(
        "events.csv",
        events_csv(runs).map_err(csv_err("events.csv"))?,
    )?;
    let mut json = serde_json::to_vec_pretty(summary).expect("summary serializes");
    json.push(b'\n');
    put("summary.json", json)?;
    let mut json = serde_json::to_vec_pretty(info).expect("run info serializes");
    json.push(b'\n');
    put("run.json", json)?;
    // The expanded scenario, so `pushpull report` can show every parameter without the
    // YAML file.
    let mut json = serde_json::to_vec_pretty(scenario).expect("scenario serializes");
    json.push(b'\n');
    put("scenario.json", json)?;
    written.extend(write_reports(dir)?);
    Ok(written)
}

/// Builds `intervals.json`, `charts/*.{svg,png}`, `report.html` and `report.md` from the
/// files of the run directory `dir` alone; returns the paths written.
pub fn write_reports(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let run = load::load(dir)?;
    let intervals = stats::Intervals::compute(&run);
    let charts = charts::all(&run)?;
    let findings = findings::build(&run, &intervals);
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), ReportError> {
        let p = dir.join(name);
        write_atomic(&p, bytes)?;
        written.push(p);
        Ok(())
    };
    let mut json = serde_json::to_vec_pretty(&intervals).expect("intervals serialize");
    json.push(b'\n');
    put("intervals.json", &json)?;
    for c in &charts {
        put(&format!("charts/{}.svg", c.name), c.svg.as_bytes())?;
        put(&format!("charts/{}.png", c.name), &c.png)?;
    }
    put("report.html", html::render(&findings, &charts).as_bytes())?;
    put("report.md", markdown::render(&findings, &charts).as_bytes())?;
    Ok(written)
}
