//! Writes a run's results: `summary.json`, `samples.csv`, `events.csv`, `run.json` and
//! `scenario.json` under `reports/<scenario>/`, then the charts, `intervals.json`,
//! `report.html` and `report.md` built from those files alone (so `pushpull report`
//! rebuilds them byte for byte). Each file is written atomically (an exclusively created temp
//! file + rename), so no reader sees a half-written file; a run writes them into a
//! temporary folder that `crate::outdir` swaps in whole. Also renders the terminal table.

pub mod card;
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
use crate::scenario::Nanos;
use crate::scenario::Scenario;
use crate::scenario::duration::secs;
use std::io::{self, Write};
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

/// The microseconds that `{:.6}` of `n` nanoseconds as seconds prints, which is what
/// samples.csv and events.csv hold and what [`load::parse_micros`] reads back.
///
/// Below 10^15 ns (11.5 days) the f64 `n / 10^9` is within 1.2e-10 s of the exact
/// quotient, less than the 1 ns that separates it from a rounding boundary unless `n`
/// ends in exactly 500 ns: there integer rounding and the printed decimal agree, and
/// the tie (and anything longer) takes the float path itself.
pub fn micros_of(n: Nanos) -> u64 {
    if n < 1_000_000_000_000_000 && n % 1_000 != 500 {
        (n + 500) / 1_000
    } else {
        let text = format!("{:.6}", secs(n));
        load::parse_micros(&text).unwrap_or(u64::MAX)
    }
}

/// Appends `n` nanoseconds as seconds with six decimals (`12.345678`), exactly as
/// `format!("{:.6}", secs(n))` would.
fn push_secs(buf: &mut Vec<u8>, n: Nanos) {
    let us = micros_of(n);
    if us == u64::MAX {
        buf.extend_from_slice(format!("{:.6}", secs(n)).as_bytes());
        return;
    }
    push_u64(buf, us / 1_000_000);
    let frac = us % 1_000_000;
    let mut digits = [b'0'; 7];
    digits[0] = b'.';
    let mut f = frac;
    for d in digits[1..].iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    buf.extend_from_slice(&digits);
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

fn push_opt(buf: &mut Vec<u8>, v: Option<impl Into<u64>>) {
    if let Some(v) = v {
        push_u64(buf, v.into());
    }
}

/// Appends one CSV field as the csv crate writes it (quoted only when it holds a comma, a
/// quote or a line break, quotes doubled), then `end` (`,` or `\n`).
fn push_field(buf: &mut Vec<u8>, field: &[u8], end: u8) {
    if field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        buf.push(b'"');
        for &b in field {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(field);
    }
    buf.push(end);
}

/// The header line of a CSV file.
fn header(columns: &[&str]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        let end = if i + 1 == columns.len() { b'\n' } else { b',' };
        push_field(&mut buf, c.as_bytes(), end);
    }
    buf
}

/// How many bytes of `samples.csv` are formatted before they are written out: enough that
/// the writes cost little, few enough to stay in the cache and to spare the memory of the
/// whole file (fleet-xl's is 147 MB, which the kernel's copy into fresh pages of the page
/// cache makes costly enough already).
const CHUNK: usize = 512 << 10;

/// Writes `samples.csv` into `out`: one row per sample. Every field is a number, a setup
/// name (a DNS label) or a metric name, none of which a CSV quotes, so rows are formatted
/// straight into a buffer (a test compares them with the csv crate's), written out
/// whenever it holds [`CHUNK`] bytes.
pub fn write_samples_csv(
    out: &mut impl Write,
    runs: &[(String, Vec<RunRecord>)],
) -> io::Result<()> {
    let mut buf = header(&load::SAMPLES_HEADER);
    buf.reserve(CHUNK + 256);
    for (name, reps) in runs {
        for (rep, r) in reps.iter().enumerate() {
            // Completed observations, then those still open at the end (`censored` 1).
            let rows = r.samples.iter().map(|s| (s, b'0'));
            for (smp, censored) in rows.chain(r.censored.iter().map(|s| (s, b'1'))) {
                push_u64(&mut buf, rep as u64);
                buf.push(b',');
                push_field(&mut buf, name.as_bytes(), b',');
                push_field(&mut buf, smp.metric.name().as_bytes(), b',');
                push_opt(&mut buf, smp.cluster);
                buf.push(b',');
                push_opt(&mut buf, smp.app);
                buf.push(b',');
                push_opt(&mut buf, smp.commit);
                buf.push(b',');
                push_secs(&mut buf, smp.start);
                buf.push(b',');
                push_secs(&mut buf, smp.end);
                buf.push(b',');
                push_secs(&mut buf, smp.value());
                buf.push(b',');
                buf.push(censored);
                buf.push(b'\n');
                if buf.len() >= CHUNK {
                    out.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
    }
    out.write_all(&buf)
}

/// `events.csv`: the timeline.
pub fn events_csv(runs: &[(String, Vec<RunRecord>)]) -> Vec<u8> {
    let rows: usize = runs
        .iter()
        .flat_map(|(_, reps)| reps.iter().map(|r| r.events.len()))
        .sum();
    let mut buf = header(&load::EVENTS_HEADER);
    buf.reserve(rows * 64);
    for (name, reps) in runs {
        for (rep, r) in reps.iter().enumerate() {
            for e in &r.events {
                push_u64(&mut buf, rep as u64);
                buf.push(b',');
                push_field(&mut buf, name.as_bytes(), b',');
                push_secs(&mut buf, e.t);
                buf.push(b',');
                push_opt(&mut buf, e.cluster);
                buf.push(b',');
                push_opt(&mut buf, e.app);
                buf.push(b',');
                push_field(&mut buf, e.kind.name().as_bytes(), b',');
                push_field(&mut buf, e.detail.as_bytes(), b'\n');
            }
        }
    }
    buf
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
/// written. The CSVs are formatted and written on one thread ([`write_csvs`]) while the
/// reports are built on another from the same records ([`write_rest`]), exactly as
/// [`write_reports`] builds them from the files (a test compares the two byte for byte).
pub fn write_run(
    dir: &Path,
    scenario: &Scenario,
    summary: &Summary,
    runs: &[(String, Vec<RunRecord>)],
    info: &RunInfo,
) -> Result<Vec<PathBuf>, ReportError> {
    let (csvs, rest) = std::thread::scope(|scope| {
        let csvs = scope.spawn(|| write_csvs(dir, runs));
        let rest = write_rest(dir, scenario, summary, runs, info);
        let csvs = csvs
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (csvs, rest)
    });
    let mut written = csvs?;
    written.extend(rest?);
    Ok(written)
}

/// Writes `samples.csv` and `events.csv` of `runs` into `dir`, each flushed to disk as
/// soon as it is written (so that the commit of the run folder finds them clean); returns
/// their paths. The largest files of a run: a caller starts this on a thread of its own as
/// soon as the records exist, and writes the rest with [`write_rest`].
pub fn write_csvs(
    dir: &Path,
    runs: &[(String, Vec<RunRecord>)],
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let p = dir.join("samples.csv");
    crate::outdir::write_file_synced_with(&p, |f| write_samples_csv(f, runs)).map_err(
        |source| ReportError::Write {
            path: p.clone(),
            source,
        },
    )?;
    written.push(p);
    let p = dir.join("events.csv");
    crate::outdir::write_file_synced(&p, &events_csv(runs)).map_err(|source| {
        ReportError::Write {
            path: p.clone(),
            source,
        }
    })?;
    written.push(p);
    Ok(written)
}

/// Writes every output file of a run but the CSVs ([`write_csvs`]) into `dir`:
/// `summary.json`, `run.json`, `scenario.json`, then the reports, built from `runs` as
/// [`write_reports`] builds them from the files. Returns the paths written.
pub fn write_rest(
    dir: &Path,
    scenario: &Scenario,
    summary: &Summary,
    runs: &[(String, Vec<RunRecord>)],
    info: &RunInfo,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        write_atomic(&p, bytes)?;
        written.push(p);
        Ok::<(), ReportError>(())
    };
    let mut json = serde_json::to_vec_pretty(summary).expect("summary serializes");
    json.push(b'\n');
    put("summary.json", &json)?;
    let mut json = serde_json::to_vec_pretty(info).expect("run info serializes");
    json.push(b'\n');
    put("run.json", &json)?;
    // The expanded scenario, so `pushpull report` can show every parameter without the
    // YAML file.
    let mut json = serde_json::to_vec_pretty(scenario).expect("scenario serializes");
    json.push(b'\n');
    put("scenario.json", &json)?;
    let run = load::from_records(dir, runs)?;
    written.extend(reports_of(dir, &run)?);
    Ok(written)
}

/// Builds `intervals.json`, `charts/*.{svg,png}`, `report.html` and `report.md` from the
/// files of the run directory `dir` alone; returns the paths written.
pub fn write_reports(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    reports_of(dir, &load::load(dir)?)
}

/// Writes the reports of `run` into `dir`.
fn reports_of(dir: &Path, run: &load::RunDir) -> Result<Vec<PathBuf>, ReportError> {
    let intervals = stats::Intervals::compute(run);
    let charts = charts::all(run)?;
    let findings = findings::build(run, &intervals);
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
    let card = card::Card::build(&run.summary);
    put(
        "report.html",
        html::render(&findings, &card, &charts).as_bytes(),
    )?;
    put(
        "report.md",
        markdown::render(&findings, &card, &charts).as_bytes(),
    )?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Rows formatted straight into the buffer are what the csv crate writes for the same
    /// fields, quoting included.
    #[test]
    fn csv_fields_are_written_as_the_csv_crate_writes_them() {
        let fields: [&[u8]; 8] = [
            b"rev=12 apps=3",
            b"",
            b"a,b",
            b"say \"hi\"",
            b"line\nbreak",
            b"cr\rhere",
            b" spaced ",
            b"#hash",
        ];
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(fields).unwrap();
        let mut theirs = w.into_inner().unwrap();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["only"]).unwrap();
        theirs.extend(w.into_inner().unwrap());
        let mut ours = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            push_field(
                &mut ours,
                f,
                if i + 1 == fields.len() { b'\n' } else { b',' },
            );
        }
        push_field(&mut ours, b"only", b'\n');
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
    }

    /// The integer formatting of the CSVs prints what `{:.6}` of the f64 seconds prints,
    /// ties at exactly 500 ns and very long times included.
    #[test]
    fn seconds_are_printed_as_the_float_formatting_prints_them() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut values: Vec<u64> = vec![0, 1, 499, 500, 501, 999, 1_000, 1_500, 2_500, u64::MAX];
        for _ in 0..200_000 {
            let scale = 10u64.pow(rng.random_range(0..17));
            let v = rng.random_range(0..scale.max(1));
            values.extend([v, v / 1_000 * 1_000 + 500, v / 1_000 * 1_000 + 499]);
        }
        values.extend((0..64).map(|b| 1u64 << b));
        values.extend([
            999_999_999_999_999,
            1_000_000_000_000_000,
            1_000_000_000_000_500,
        ]);
        for n in values {
            let mut ours = Vec::new();
            push_secs(&mut ours, n);
            let float = format!("{:.6}", secs(n));
            assert_eq!(String::from_utf8(ours).unwrap(), float, "n = {n}");
            if let Some(us) = load::parse_micros(&float) {
                assert_eq!(micros_of(n), us, "n = {n}");
            }
        }
    }
}
