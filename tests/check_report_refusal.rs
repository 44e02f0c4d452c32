//! `pushpull report` and `pushpull check` refuse what they cannot trust: corrupt copies of
//! one real quickstart run folder (missing columns, cut files, wrong types, NaN and
//! negative durations, unknown names, foreign schemas, absurd repetition counts) and
//! baselines that compare nothing or another experiment. Each is exit 2 naming the file,
//! and the line for CSV, and never a panic.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const INPUTS: [&str; 5] = [
    "summary.json",
    "samples.csv",
    "events.csv",
    "run.json",
    "scenario.json",
];

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// One quickstart run (the shipped scenario as is), shared by every test: they copy it.
fn run_dir() -> &'static Path {
    static RUN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check_report_refusal");
        let _ = std::fs::remove_dir_all(&out);
        let o = bin()
            .arg("run")
            .arg(repo("scenarios/quickstart.yaml"))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        out.join("quickstart")
    })
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A copy of the run's inputs in a fresh folder (kept alive by the returned guard).
fn copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("quickstart");
    std::fs::create_dir(&dir).unwrap();
    for f in INPUTS {
        std::fs::copy(run_dir().join(f), dir.join(f)).unwrap();
    }
    (tmp, dir)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

fn write(dir: &Path, file: &str, body: impl AsRef<[u8]>) {
    std::fs::write(dir.join(file), body).unwrap();
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&read(dir, "summary.json")).unwrap()
}

fn set_summary(dir: &Path, v: &Value) {
    write(dir, "summary.json", serde_json::to_vec_pretty(v).unwrap());
}

/// Replaces line `n` (1-based) of a CSV with `f(line)`.
fn edit_line(dir: &Path, file: &str, n: usize, f: impl FnOnce(&str) -> String) {
    let body = read(dir, file);
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    lines[n - 1] = f(&lines[n - 1]);
    write(dir, file, lines.join("\n") + "\n");
}

/// Replaces field `i` (0-based) of line `n` of a CSV.
fn edit_field(dir: &Path, file: &str, n: usize, i: usize, value: &str) {
    edit_line(dir, file, n, |l| {
        let mut f: Vec<&str> = l.split(',').collect();
        f[i] = value;
        f.join(",")
    });
}

fn report(dir: &Path) -> Output {
    bin().arg("report").arg(dir).output().unwrap()
}

/// Exit 2, a message naming `place` (`samples.csv:3:` or `summary.json`) and `words`,
/// and no panic.
fn refused(o: &Output, place: &str, words: &[&str]) {
    let log = text(o);
    assert_eq!(o.status.code(), Some(2), "{log}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{log}");
    assert!(err.contains(place), "no `{place}` in: {log}");
    for w in words {
        assert!(err.contains(w), "no `{w}` in: {log}");
    }
}

#[test]
fn report_rebuilds_the_untouched_copy() {
    let (_t, dir) = copy();
    let o = report(&dir);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn report_refuses_a_samples_csv_with_missing_columns_naming_line_1() {
    let (_t, dir) = copy();
    write(&dir, "samples.csv", "repetition,model\n0,push\n");
    refused(&report(&dir), "samples.csv:1:", &["missing metric"]);
}

#[test]
fn report_refuses_an_events_csv_with_missing_columns_naming_line_1() {
    let (_t, dir) = copy();
    write(&dir, "events.csv", "repetition\n0\n");
    refused(&report(&dir), "events.csv:1:", &["missing model"]);
}

#[test]
fn report_refuses_empty_csv_files() {
    for file in ["samples.csv", "events.csv"] {
        let (_t, dir) = copy();
        write(&dir, file, "");
        refused(&report(&dir), &format!("{file}:1:"), &["empty"]);
    }
}

#[test]
fn report_refuses_a_csv_cut_mid_line_naming_the_last_line() {
    for file in ["samples.csv", "events.csv"] {
        let (_t, dir) = copy();
        let body = read(&dir, file);
        let cut = &body[..body.len() / 2];
        let cut = cut.trim_end_matches('\n');
        write(&dir, file, cut);
        let line = cut.matches('\n').count() + 1;
        refused(&report(&dir), &format!("{file}:{line}:"), &["cut short"]);
    }
}

#[test]
fn report_refuses_a_samples_csv_cut_at_a_line_end_by_its_counts() {
    let (_t, dir) = copy();
    let body = read(&dir, "samples.csv");
    let kept: Vec<&str> = body.lines().take(50).collect();
    write(&dir, "samples.csv", kept.join("\n") + "\n");
    refused(&report(&dir), "summary.json", &["samples.csv holds"]);
}

#[test]
fn report_refuses_an_events_csv_cut_to_its_header_by_the_samples_it_lacks() {
    let (_t, dir) = copy();
    let header = read(&dir, "events.csv").lines().next().unwrap().to_string();
    write(&dir, "events.csv", header + "\n");
    refused(&report(&dir), "samples.csv:2:", &["events.csv has no"]);
}

#[test]
fn report_refuses_a_row_with_a_field_too_many_or_too_few() {
    let (_t, dir) = copy();
    edit_line(&dir, "samples.csv", 4, |l| format!("{l},9"));
    refused(&report(&dir), "samples.csv:4:", &["11 field(s)"]);
    let (_t, dir) = copy();
    edit_line(&dir, "events.csv", 6, |l| {
        l.rsplit_once(',').map(|(a, _)| a.to_string()).unwrap()
    });
    refused(&report(&dir), "events.csv:6:", &["6 field(s)"]);
}

#[test]
fn report_refuses_cells_of_the_wrong_type_naming_file_and_line() {
    let cases: [(&str, usize, usize, &str, &str); 8] = [
        ("samples.csv", 3, 0, "x", "repetition `x`"),
        ("samples.csv", 4, 3, "-1", "cluster `-1`"),
        ("samples.csv", 5, 5, "rev9", "commit `rev9`"),
        ("samples.csv", 6, 8, "fast", "value_s `fast`"),
        ("samples.csv", 7, 6, "1e3", "start_s `1e3`"),
        ("events.csv", 3, 0, "one", "repetition `one`"),
        ("events.csv", 4, 2, "soon", "t_s `soon`"),
        ("events.csv", 5, 4, "9999999999", "app `9999999999`"),
    ];
    for (file, line, field, value, words) in cases {
        let (_t, dir) = copy();
        edit_field(&dir, file, line, field, value);
        refused(&report(&dir), &format!("{file}:{line}:"), &[words]);
    }
}

#[test]
fn report_refuses_nan_and_negative_durations() {
    for (file, line, field, value) in [
        ("samples.csv", 3, 8, "NaN"),
        ("samples.csv", 3, 8, "-38.222144"),
        ("samples.csv", 9, 7, "inf"),
        ("events.csv", 7, 2, "NaN"),
        ("events.csv", 7, 2, "-1.0"),
    ] {
        let (_t, dir) = copy();
        edit_field(&dir, file, line, field, value);
        refused(
            &report(&dir),
            &format!("{file}:{line}:"),
            &["non-negative number of seconds"],
        );
    }
    // A value that is not end − start is not a sample of this run.
    let (_t, dir) = copy();
    edit_field(&dir, "samples.csv", 3, 8, "1.0");
    refused(&report(&dir), "samples.csv:3:", &["is not end_s"]);

    for (pointer, value, words) in [
        (
            "/models/push/metrics/deploy_latency/p50_s",
            json!(-1.0),
            "p50_s is -1",
        ),
        ("/duration_s", json!(-21600.0), "duration_s is -21600"),
        ("/thresholds/0/max_s", json!(-600.0), "max_s is -600"),
    ] {
        let (_t, dir) = copy();
        let mut s = summary(&dir);
        *s.pointer_mut(pointer).unwrap() = value;
        set_summary(&dir, &s);
        refused(&report(&dir), "summary.json", &[words]);
    }
}

#[test]
fn report_refuses_times_far_beyond_the_runs_duration() {
    // A summary of a 1 ms run over these samples (it made the charts' axes overflow).
    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["duration_s"] = json!(0.001);
    set_summary(&dir, &s);
    refused(
        &report(&dir),
        "samples.csv:2:",
        &["end_s", "after twice the run's duration"],
    );
    let (_t, dir) = copy();
    edit_field(&dir, "events.csv", 4, 2, "99999999999.0");
    refused(
        &report(&dir),
        "events.csv:4:",
        &["t_s 99999999999.0 is after twice the run's duration"],
    );
}

#[test]
fn report_refuses_unknown_model_and_metric_names() {
    for (field, value, words) in [
        (1, "canary", "`canary` is not a setup of this run"),
        (
            2,
            "deploy_latencyy",
            "`deploy_latencyy` is not a pushpull metric",
        ),
    ] {
        let (_t, dir) = copy();
        edit_field(&dir, "samples.csv", 3, field, value);
        refused(&report(&dir), "samples.csv:3:", &[words]);
    }
    let (_t, dir) = copy();
    edit_field(&dir, "events.csv", 3, 1, "canary");
    refused(
        &report(&dir),
        "events.csv:3:",
        &["`canary` is not a setup of this run"],
    );

    let (_t, dir) = copy();
    let mut s = summary(&dir);
    let m = s["models"]["push"]["metrics"]
        .as_object_mut()
        .unwrap()
        .remove("rollback")
        .unwrap();
    s["models"]["push"]["metrics"]["rolback"] = m;
    set_summary(&dir, &s);
    refused(
        &report(&dir),
        "summary.json",
        &["`rolback` is not a pushpull metric"],
    );

    let (_t, dir) = copy();
    let mut s = summary(&dir);
    let m = s["models"].as_object_mut().unwrap().remove("pull").unwrap();
    s["models"]["flux"] = m;
    for t in s["thresholds"].as_array_mut().unwrap() {
        if t["model"] == "pull" {
            t["model"] = json!("flux");
        }
    }
    set_summary(&dir, &s);
    // The samples of `pull` belong to no setup of the summary any more.
    refused(
        &report(&dir),
        "samples.csv:",
        &["`pull` is not a setup of this run", "flux"],
    );
    // Schema 1 knew push and pull only.
    let (_t, dir) = copy();
    let mut s = summary(&dir);
    as_schema_1(&mut s);
    let m = s["models"].as_object_mut().unwrap().remove("pull").unwrap();
    s["models"]["flux"] = m;
    set_summary(&dir, &s);
    refused(&report(&dir), "summary.json", &["no `pull`"]);

    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["models"]["pull"]["counters"]["deploy"] = json!(1);
    set_summary(&dir, &s);
    refused(
        &report(&dir),
        "summary.json",
        &["`deploy` is not a pushpull counter"],
    );

    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["mode"] = json!("production");
    set_summary(&dir, &s);
    refused(&report(&dir), "summary.json", &["mode `production`"]);
}

/// The run's schema-2 summary in the schema-1 form (before named setups): no baseline,
/// no kind or preset.
fn as_schema_1(s: &mut Value) {
    s["schema"] = json!(1);
    s.as_object_mut().unwrap().remove("baseline");
    s.as_object_mut().unwrap().remove("sensitivity");
    for (_, m) in s["models"].as_object_mut().unwrap().iter_mut() {
        let m = m.as_object_mut().unwrap();
        m.remove("kind");
        m.remove("preset");
        // The seed's questions and money came with schema 2 (docs/REPORT.md).
        for key in [
            "out_of_sync_share",
            "out_of_sync_share_ci95",
            "unexplained_change_share",
            "unexplained_change_share_ci95",
            "unexplained_changes",
            "credentials",
            "cost",
            "git_traffic",
        ] {
            m.remove(key);
        }
    }
}

#[test]
fn report_reads_schemas_1_and_2_and_refuses_any_other() {
    let (_t, dir) = copy();
    assert_eq!(summary(&dir)["schema"], 2, "a run writes schema 2");
    let mut s = summary(&dir);
    as_schema_1(&mut s);
    set_summary(&dir, &s);
    let o = report(&dir);
    assert!(o.status.success(), "schema 1 is read: {}", text(&o));
    for schema in [json!(3), json!(999), json!(0), json!("1"), json!("x")] {
        let (_t, dir) = copy();
        let mut s = summary(&dir);
        s["schema"] = schema.clone();
        set_summary(&dir, &s);
        refused(
            &report(&dir),
            "summary.json",
            &[&format!("schema {schema}"), "reads schemas 1 and 2"],
        );
    }
    let (_t, dir) = copy();
    write(&dir, "summary.json", "[1, 2]");
    refused(&report(&dir), "summary.json", &["no `schema`"]);
}

#[test]
fn report_refuses_a_summary_with_a_field_this_version_never_writes() {
    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["models"]["push"]["metrics"]["apply"]["p95"] = json!(1.0);
    set_summary(&dir, &s);
    refused(&report(&dir), "summary.json:", &["unknown field `p95`"]);
}

#[test]
fn report_refuses_a_figure_that_is_not_a_number_naming_its_line() {
    let (_t, dir) = copy();
    let body = read(&dir, "summary.json");
    let at = body.find("\"p95_s\": ").unwrap();
    let line = body[..at].matches('\n').count() + 1;
    let end = at + body[at..].find(',').unwrap();
    let bad = format!("{}\"p95_s\": \"fast\"{}", &body[..at], &body[end..]);
    write(&dir, "summary.json", bad);
    refused(
        &report(&dir),
        &format!("summary.json:{line}:"),
        &["p95_s", "invalid type: string \"fast\""],
    );
}

#[test]
fn report_refuses_a_cut_summary_naming_where_it_ends() {
    let (_t, dir) = copy();
    let body = read(&dir, "summary.json");
    write(&dir, "summary.json", &body[..body.len() / 3]);
    refused(&report(&dir), "summary.json:", &["EOF while parsing"]);
}

#[test]
fn report_refuses_repetition_counts_that_disagree_with_the_samples() {
    // Fewer repetitions than the samples hold.
    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["repetitions"] = json!(2);
    set_summary(&dir, &s);
    let first_rep2 = read(&dir, "samples.csv")
        .lines()
        .position(|l| l.starts_with("2,"))
        .unwrap()
        + 1;
    refused(
        &report(&dir),
        &format!("samples.csv:{first_rep2}:"),
        &["repetition 2, but summary.json says 2 repetition(s)"],
    );

    // A partial run that measured fewer than the rows hold.
    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["partial"] = json!(true);
    s["repetitions_run"] = json!(1);
    set_summary(&dir, &s);
    refused(&report(&dir), "samples.csv:", &["measured 1 repetition(s)"]);

    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["repetitions_run"] = json!(2);
    set_summary(&dir, &s);
    refused(&report(&dir), "summary.json", &["partial is false"]);

    let (_t, dir) = copy();
    let mut s = summary(&dir);
    s["repetitions"] = json!(0);
    set_summary(&dir, &s);
    refused(&report(&dir), "summary.json", &["repetitions is 0"]);
}

#[test]
fn report_refuses_absurd_repetition_counts_quickly_without_allocating_for_them() {
    for (value, words) in [
        (json!(4_000_000_000u64), "repetitions is 4000000000"),
        (json!(10_000_001), "repetitions is 10000001"),
        (json!(1e8), "invalid type: floating point"),
        (json!(5_000_000_000u64), "invalid value"),
    ] {
        let (_t, dir) = copy();
        let mut s = summary(&dir);
        s["repetitions"] = value;
        set_summary(&dir, &s);
        let t0 = Instant::now();
        let o = report(&dir);
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        refused(&o, "summary.json", &[words]);
    }
    // With one sample left (and its counts made to agree), the claim is still refused.
    let (_t, dir) = copy();
    let samples = read(&dir, "samples.csv");
    let mut lines = samples.lines();
    let header = lines.next().unwrap();
    let one = lines.next().unwrap();
    write(&dir, "samples.csv", format!("{header}\n{one}\n"));
    let fields: Vec<&str> = one.split(',').collect();
    let mut s = summary(&dir);
    for model in ["push", "pull"] {
        let metrics = s["models"][model]["metrics"].as_object_mut().unwrap();
        for (name, m) in metrics.iter_mut() {
            if model == fields[1] && name == fields[2] {
                let v: f64 = fields[8].parse().unwrap();
                *m = json!({"count": 1, "mean_s": v, "p50_s": v, "p90_s": v, "p95_s": v,
                    "p99_s": v, "max_s": v, "ci95_p50_s": null});
            } else {
                *m = json!({"count": 0, "mean_s": null, "p50_s": null, "p90_s": null,
                    "p95_s": null, "p99_s": null, "max_s": null, "ci95_p50_s": null});
            }
        }
    }
    s["repetitions"] = json!(4_000_000_000u64);
    set_summary(&dir, &s);
    let t0 = Instant::now();
    let o = report(&dir);
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    refused(&o, "summary.json", &["repetitions is 4000000000", "row(s)"]);
    // The same folder claiming its true count is a valid run.
    s["repetitions"] = json!(10);
    set_summary(&dir, &s);
    let o = report(&dir);
    assert!(o.status.success(), "{}", text(&o));
}

// ---- check ----

fn check(run: &Path, baseline: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("check")
        .arg(run)
        .arg("--baseline")
        .arg(baseline)
        .args(extra)
        .output()
        .unwrap()
}

/// The run's own summary, changed by `f`, as a baseline file in `dir`.
fn baseline(dir: &Path, f: impl FnOnce(&mut Value)) -> PathBuf {
    let mut s: Value = serde_json::from_str(&read(run_dir(), "summary.json")).unwrap();
    f(&mut s);
    let p = dir.join("baseline.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    p
}

#[test]
fn check_passes_the_committed_baseline_and_the_run_itself() {
    let o = check(
        run_dir(),
        &repo(".github/pushpull/quickstart-baseline.json"),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = check(run_dir(), &run_dir().join("summary.json"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
}

#[test]
fn check_refuses_a_baseline_without_models() {
    let tmp = tempfile::tempdir().unwrap();
    let b = baseline(tmp.path(), |s| s["models"] = json!({}));
    refused(
        &check(run_dir(), &b, &[]),
        "baseline.json",
        &["models holds 0 setup(s)", "2 to 8"],
    );
    // A schema-1 summary always held both models.
    let tmp = tempfile::tempdir().unwrap();
    let b = baseline(tmp.path(), |s| {
        as_schema_1(s);
        s["models"].as_object_mut().unwrap().remove("push");
    });
    refused(&check(run_dir(), &b, &[]), "baseline.json", &["no `push`"]);
}

#[test]
fn check_that_compares_nothing_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let b = baseline(tmp.path(), |s| {
        for model in ["push", "pull"] {
            for (_, m) in s["models"][model]["metrics"]
                .as_object_mut()
                .unwrap()
                .iter_mut()
            {
                *m = json!({"count": 0, "mean_s": null, "p50_s": null, "p90_s": null,
                    "p95_s": null, "p99_s": null, "max_s": null, "ci95_p50_s": null});
            }
        }
    });
    refused(&check(run_dir(), &b, &[]), "no figure was compared", &[]);
    // The quickstart has no cluster loss: a gate on cluster_restore checks nothing.
    let own = run_dir().join("summary.json");
    refused(
        &check(run_dir(), &own, &["--metric", "cluster_restore"]),
        "no figure was compared",
        &["cluster_restore"],
    );
}

#[test]
fn check_refuses_a_figure_that_is_not_a_number_naming_the_baseline_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let b = baseline(tmp.path(), |s| {
        s["models"]["pull"]["metrics"]["deploy_latency"]["p95_s"] = json!("fast")
    });
    let body = std::fs::read_to_string(&b).unwrap();
    let line = body[..body.find("\"fast\"").unwrap()].matches('\n').count() + 1;
    refused(
        &check(run_dir(), &b, &[]),
        &format!("baseline.json:{line}:"),
        &["models.pull.metrics.deploy_latency.p95_s", "\"fast\""],
    );
}

#[test]
fn check_refuses_a_baseline_of_another_experiment_unless_allowed_with_a_warning() {
    let cases: [(&str, Value, &str); 6] = [
        (
            "scenario",
            json!("drift-storm"),
            "scenario: baseline `drift-storm`",
        ),
        ("seed", json!(7), "seed: baseline 7, this run 42"),
        (
            "mode",
            json!("emulated"),
            "mode: baseline emulated, this run sim",
        ),
        (
            "repetitions",
            json!(5),
            "repetitions: baseline 5, this run 10",
        ),
        ("duration_s", json!(3600.0), "duration_s: baseline 3600"),
        ("partial", json!(true), "partial: baseline partial"),
    ];
    for (key, value, words) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let b = baseline(tmp.path(), |s| s[key] = value.clone());
        refused(&check(run_dir(), &b, &[]), words, &["--allow-mismatch"]);
        let o = check(run_dir(), &b, &["--allow-mismatch"]);
        assert_eq!(o.status.code(), Some(0), "{key}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("warning") && err.contains(words),
            "{key}: {err}"
        );
    }
    // Every difference is named, each on its own line.
    let tmp = tempfile::tempdir().unwrap();
    let b = baseline(tmp.path(), |s| {
        s["seed"] = json!(7);
        s["mode"] = json!("kind");
    });
    let o = check(run_dir(), &b, &["--allow-mismatch", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("warning").count(), 2, "{err}");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["mismatches"].as_array().unwrap().len(), 2);
}

#[test]
fn check_reads_a_schema_1_baseline_and_refuses_schemas_it_does_not_know() {
    let tmp = tempfile::tempdir().unwrap();
    let b = baseline(tmp.path(), as_schema_1);
    let o = check(run_dir(), &b, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(o.stderr.is_empty(), "{}", text(&o));
    for schema in [json!(0), json!(3), json!("x")] {
        let tmp = tempfile::tempdir().unwrap();
        let b = baseline(tmp.path(), |s| s["schema"] = schema.clone());
        refused(
            &check(run_dir(), &b, &[]),
            "baseline.json",
            &[&format!("schema {schema}"), "reads schemas 1 and 2"],
        );
    }
}

#[test]
fn check_reads_a_run_directory_whole_and_refuses_a_corrupt_one() {
    let (_t, dir) = copy();
    edit_field(&dir, "samples.csv", 3, 8, "NaN");
    refused(
        &check(&dir, &run_dir().join("summary.json"), &[]),
        "samples.csv:3:",
        &[],
    );
}

#[test]
fn an_unknown_metric_points_at_the_readme_table_not_a_missing_design_doc() {
    let o = check(
        run_dir(),
        &run_dir().join("summary.json"),
        &["--metric", "speed"],
    );
    refused(&o, "--metric speed", &["README", "deploy_latency"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("DESIGN"));
}
