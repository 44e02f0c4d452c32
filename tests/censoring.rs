//! Right-censored observations end to end: hand edits, deploys, rollbacks and restores
//! still open when a run ends are written to samples.csv as censored rows lasting to the
//! end, their metrics' figures come from the Kaplan–Meier estimate, and a median that
//! estimate never reaches is shown as more than the longest observation in the terminal
//! table, report.md, report.html and summary.json, never as the median of the few
//! edits that were corrected.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(scenario: &str, out: &Path) -> (String, PathBuf) {
    let o: Output = bin()
        .arg("run")
        .arg(root().join("scenarios").join(scenario))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let name = scenario.trim_end_matches(".yaml");
    (String::from_utf8(o.stdout).unwrap(), out.join(name))
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Rows of samples.csv as (model, metric, start, end, value, censored).
fn rows(dir: &Path) -> Vec<(String, String, f64, f64, f64, bool)> {
    let text = std::fs::read_to_string(dir.join("samples.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("repetition,model,metric,cluster,app,commit,start_s,end_s,value_s,censored")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            (
                f[1].to_string(),
                f[2].to_string(),
                n(6),
                n(7),
                n(8),
                match f[9] {
                    "0" => false,
                    "1" => true,
                    other => panic!("censored `{other}`"),
                },
            )
        })
        .collect()
}

#[test]
fn push_median_of_mostly_uncorrected_drift_is_more_than_the_run_observed() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, dir) = run("drift-unrecovered.yaml", tmp.path());
    let summary = json(&dir.join("summary.json"));
    let duration = summary["duration_s"].as_f64().unwrap();
    let push = &summary["models"]["push"];
    let drift = &push["metrics"]["drift_recovery"];
    let (events, open) = (
        push["counters"]["drift_events"].as_u64().unwrap(),
        push["counters"]["drift_unrecovered"].as_u64().unwrap(),
    );
    assert!(
        open * 2 > events,
        "most push edits stay live: {open} of {events}"
    );
    // summary.json: the median is null, listed as unreached, beyond the longest
    // observation; the completed and the censored add up to every edit.
    assert_eq!(drift["p50_s"], Value::Null, "{drift}");
    let unreached: Vec<&str> = drift["unreached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(unreached.contains(&"p50"), "{unreached:?}");
    let beyond = drift["beyond_s"].as_f64().unwrap();
    assert!(beyond > 0.0 && beyond <= duration, "{beyond}");
    assert_eq!(drift["censored"].as_u64(), Some(open));
    assert_eq!(drift["count"].as_u64().unwrap() + open, events);
    let shown = format!("> {}", pushpull::report::table::human(beyond));
    // The terminal table, report.md and report.html say "> t" for push's median.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("drift_recovery"))
        .unwrap();
    let push_cells = line.split('│').next().unwrap();
    assert!(
        push_cells.contains(&shown),
        "terminal row `{line}` lacks `{shown}`"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let md_row = md
        .lines()
        .find(|l| l.starts_with("| drift_recovery |"))
        .unwrap();
    assert!(
        md_row.contains(&shown),
        "report.md row `{md_row}` lacks `{shown}`"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(&format!("&gt; {}", pushpull::report::table::human(beyond))));
    // The hand edits' survival chart and the corrected-within table are there.
    assert!(dir.join("charts/hand_edit_survival.png").is_file());
    assert!(md.contains("corrected within 1h"));
    // Pull corrects every edit: its figures are plain numbers.
    let pull = &summary["models"]["pull"]["metrics"]["drift_recovery"];
    assert!(pull["p50_s"].as_f64().is_some() && pull.get("unreached").is_none());
}

#[test]
fn open_observations_are_censored_rows_lasting_to_the_end_and_match_the_counters() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, dir) = run("drift-unrecovered.yaml", tmp.path());
    let summary = json(&dir.join("summary.json"));
    let duration = summary["duration_s"].as_f64().unwrap();
    let rows = rows(&dir);
    for setup in ["push", "pull"] {
        let c = |name: &str| summary["models"][setup]["counters"][name].as_u64().unwrap();
        let censored = |metric: &str| {
            rows.iter()
                .filter(|r| r.0 == setup && r.1 == metric && r.5)
                .count() as u64
        };
        assert_eq!(
            censored("drift_recovery"),
            c("drift_unrecovered"),
            "{setup}"
        );
        assert_eq!(
            censored("deploy_latency"),
            c("deploys_incomplete"),
            "{setup}"
        );
        assert_eq!(
            censored("cluster_restore"),
            c("clusters_unrestored"),
            "{setup}"
        );
        for m in ["drift_recovery", "deploy_latency"] {
            let n = summary["models"][setup]["metrics"][m]["censored"]
                .as_u64()
                .unwrap_or(0);
            assert_eq!(n, censored(m), "{setup} {m}");
        }
    }
    for r in rows.iter().filter(|r| r.5) {
        assert_eq!(
            r.3, duration,
            "a censored row ends when the run ends: {r:?}"
        );
        assert!((r.3 - r.2 - r.4).abs() < 2e-6, "{r:?}");
    }
}

#[test]
fn censored_rows_keep_sim_runs_byte_identical() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, da) = run("drift-unrecovered.yaml", a.path());
    let (_, db) = run("drift-unrecovered.yaml", b.path());
    for f in ["samples.csv", "summary.json", "intervals.json"] {
        assert!(
            std::fs::read(da.join(f)).unwrap() == std::fs::read(db.join(f)).unwrap(),
            "{f} differs between two runs of one scenario and seed"
        );
    }
}

/// A run folder written before censored rows (nine columns, no `censored` keys) is
/// still read: reported again, and usable as a `check` baseline.
#[test]
fn a_run_folder_without_the_censored_column_is_still_read() {
    // The quickstart's example run as committed before censored rows (main at d46033c).
    let old = root().join("tests/data/run-before-censoring");
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "summary.json",
        "samples.csv",
        "events.csv",
        "run.json",
        "scenario.json",
    ] {
        std::fs::copy(old.join(f), tmp.path().join(f)).unwrap();
    }
    let head = std::fs::read_to_string(tmp.path().join("samples.csv")).unwrap();
    assert!(head.starts_with("repetition,model,metric,cluster,app,commit,start_s,end_s,value_s\n"));
    let o = bin().arg("report").arg(tmp.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin()
        .arg("check")
        .arg(tmp.path())
        .arg("--baseline")
        .arg(tmp.path().join("summary.json"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
