//! `pushpull export`: each format checked by its own tool where one exists — `promtool
//! check metrics` (Debian `prometheus`) for OpenMetrics, `xmllint --schema` with Apache
//! Ant's JUnit XSD (Debian `libxml2-utils`) for JUnit, Bencher's JSON Schema (Python
//! `jsonschema`, Debian `python3-jsonschema`) for BMF — and golden files in
//! `tests/data/export/` for the exact bytes (`PUSHPULL_BLESS=1` rewrites them after an
//! intended change). A missing tool fails the test naming its package.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/export")
        .join(p)
}

/// The run of tests/data/export/export.yaml, made once for this file's tests.
fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let o = bin()
            .arg("run")
            .arg(data("export.yaml"))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("pushpull runs");
        // The scenario breaches one threshold on purpose: exit 1, results written.
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.join("export")
    })
}

fn export(dir: &Path, args: &[&str]) -> Output {
    bin()
        .arg("export")
        .arg(dir)
        .args(args)
        .output()
        .expect("pushpull runs")
}

fn stdout_of(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8")
}

/// A checker on PATH, or a failure naming the package that provides it.
fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not installed: install the Debian package `{package}` (`apt-get install {package}`; .ci/run does)"
    );
    Command::new(name)
}

fn golden(name: &str, text: &str) {
    let path = data(name);
    if std::env::var_os("PUSHPULL_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (make it with PUSHPULL_BLESS=1 cargo test --test export)",
            path.display()
        )
    });
    assert!(
        want == text,
        "{} differs from the export (if the change is intended, rewrite it with PUSHPULL_BLESS=1 cargo test --test export):\n{text}",
        path.display()
    );
}

#[test]
fn openmetrics_export_passes_promtool_check_metrics() {
    let text = stdout_of(export(run_dir(), &["--format", "openmetrics"]));
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    assert!(
        text.contains("pushpull_duration_seconds{scenario=\"export\",setup=\"push\",kind=\"push\",preset=\"github-actions\",metric=\"deploy_latency\",quantile=\"0.95\"}"),
        "{text}"
    );
    assert!(
        text.contains("pushpull_threshold_ok{scenario=\"export\",setup=\"push\",kind=\"push\",metric=\"deploy_latency\",statistic=\"p95\"} 0"),
        "the breached threshold is 0: {text}"
    );
    let mut child = tool("promtool", "prometheus")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && said.trim().is_empty(),
        "promtool check metrics: exit {:?}\n{said}",
        o.status.code()
    );
}

fn xmllint(file: &Path) {
    let o = tool("xmllint", "libxml2-utils")
        .args(["--noout", "--schema"])
        .arg(data("JUnit.xsd"))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{} does not validate against the JUnit XSD:\n{}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A baseline in which pull's deploy latency was half what it is now: every one of its
/// six figures is a regression.
fn faster_baseline(dir: &Path) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir().join("summary.json")).unwrap()).unwrap();
    let m = &mut v["models"]["pull"]["metrics"]["deploy_latency"];
    for k in ["mean_s", "p50_s", "p90_s", "p95_s", "p99_s", "max_s"] {
        m[k] = serde_json::json!(m[k].as_f64().unwrap() / 2.0);
    }
    let ci = m["ci95_p50_s"].as_array().unwrap().clone();
    m["ci95_p50_s"] =
        serde_json::json!([ci[0].as_f64().unwrap() / 2.0, ci[1].as_f64().unwrap() / 2.0]);
    let p = dir.join("baseline.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

fn failures(xml: &str) -> Vec<&str> {
    xml.lines().filter(|l| l.contains("<failure ")).collect()
}

#[test]
fn junit_of_thresholds_and_of_check_validates_against_the_junit_xsd_and_fails_only_the_figures_that_got_worse()
 {
    let tmp = tempfile::tempdir().unwrap();
    // Thresholds alone: one case per threshold, the breached one failed.
    let file = tmp.path().join("thresholds.xml");
    let o = export(
        run_dir(),
        &["--format", "junit", "--out", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    xmllint(&file);
    let xml = std::fs::read_to_string(&file).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    let f = failures(&xml);
    assert_eq!(f.len(), 1, "{xml}");
    assert!(
        f[0].contains("push deploy_latency p95 is 9m13s")
            && f[0].contains("over its threshold of 1m00s"),
        "{xml}"
    );

    // `check --junit`: the comparison too, exit 1, the six regressed figures failed.
    let baseline = faster_baseline(tmp.path());
    let file = tmp.path().join("check.xml");
    let o = bin()
        .arg("check")
        .arg(run_dir())
        .arg("--baseline")
        .arg(&baseline)
        .arg("--junit")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    xmllint(&file);
    let xml = std::fs::read_to_string(&file).unwrap();
    let regressions: Vec<&str> = failures(&xml)
        .into_iter()
        .filter(|l| l.contains("type=\"regression\""))
        .collect();
    assert_eq!(regressions.len(), 6, "{xml}");
    assert!(
        regressions
            .iter()
            .all(|l| l.contains("pull deploy_latency")),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"pushpull.export.pull.deploy_latency\" name=\"p95\" time=\"0\">"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase classname=\"pushpull.export.push.deploy_latency\" name=\"p95\" time=\"0\"/>"
        ),
        "an unchanged figure passes: {xml}"
    );
    // `export --format junit --baseline` writes the same document.
    let o = export(
        run_dir(),
        &[
            "--format",
            "junit",
            "--baseline",
            baseline.to_str().unwrap(),
        ],
    );
    assert_eq!(stdout_of(o), xml);
}

#[test]
fn github_action_benchmark_export_matches_its_golden_file_and_the_actions_entry_schema() {
    let text = stdout_of(export(run_dir(), &["--format", "github-action-benchmark"]));
    golden("export.github-action-benchmark.json", &text);
    // benchmark-action/github-action-benchmark src/extract.ts: an array of
    // {name: string, value: number, unit: string, range?: string, extra?: string}.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = v.as_array().expect("an array");
    assert!(!entries.is_empty());
    for e in entries {
        let o = e.as_object().unwrap();
        assert!(
            o["name"].is_string() && o["unit"] == "s" && o["value"].is_f64(),
            "{e}"
        );
        for k in o.keys() {
            assert!(
                ["name", "unit", "value", "range", "extra"].contains(&k.as_str()),
                "{e}"
            );
        }
        if let Some(r) = o.get("range") {
            assert!(r.as_str().unwrap().starts_with("95% CI ["), "{e}");
        }
    }
    let names: std::collections::BTreeSet<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), entries.len(), "names are unique");
    assert!(names.contains("export/pull/deploy_latency/p95"));
}

#[test]
fn bmf_export_matches_its_golden_file_validates_against_bencher_schema_and_carries_the_intervals_of_intervals_json()
 {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bmf.json");
    let o = export(
        run_dir(),
        &["--format", "bmf", "--out", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    golden("export.bmf.json", &text);
    let check = "import json,sys,jsonschema\n\
                 jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))\n";
    let o = tool("python3", "python3")
        .args(["-c", check])
        .arg(data("bmf.schema.json"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the BMF export does not validate against Bencher's schema (or Python's jsonschema is missing: install the Debian package `python3-jsonschema`):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let iv: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir().join("intervals.json")).unwrap()).unwrap();
    for setup in ["push", "pull"] {
        let m = &v[format!("export/{setup}/deploy_latency")]["p95_s"];
        let ci = &iv["metrics"]["deploy_latency"]["setups"][setup]["ci95_p95_s"];
        assert_eq!(m["lower_value"], ci[0], "{setup}");
        assert_eq!(m["upper_value"], ci[1], "{setup}");
    }
    assert_eq!(
        v["export/push/counters"]["drift_unrecovered"]["value"],
        12.0
    );
}

#[test]
fn export_refuses_a_folder_that_is_not_a_run_and_a_junit_with_nothing_to_test() {
    let tmp = tempfile::tempdir().unwrap();
    let o = export(tmp.path(), &["--format", "bmf"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("summary.json"));
    // A run without thresholds and no baseline: JUnit would hold no test case.
    let copy = tmp.path().join("run");
    std::fs::create_dir(&copy).unwrap();
    for f in ["summary.json", "samples.csv", "events.csv"] {
        std::fs::copy(run_dir().join(f), copy.join(f)).unwrap();
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(copy.join("summary.json")).unwrap()).unwrap();
    v["thresholds"] = serde_json::json!([]);
    std::fs::write(copy.join("summary.json"), serde_json::to_vec(&v).unwrap()).unwrap();
    let o = export(&copy, &["--format", "junit"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no thresholds") && e.contains("--baseline"),
        "{e}"
    );
    let o = export(&copy, &["--format", "bmf", "--baseline", "x.json"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_copyable_workflow_can_chart_the_github_action_benchmark_export_and_writes_junit() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/pushpull.yml");
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        doc["env"]["TRACK_BENCHMARKS"].as_str(),
        Some("false"),
        "an option, off by default"
    );
    let steps = doc["jobs"]["delivery-benchmark"]["steps"]
        .as_sequence()
        .unwrap();
    let step = |needle: &str| {
        steps
            .iter()
            .find(|s| serde_yaml_ng::to_string(s).unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no step with {needle}"))
    };
    let export = step("--format github-action-benchmark");
    let bench = step("benchmark-action/github-action-benchmark@");
    assert_eq!(
        bench["with"]["tool"].as_str(),
        Some("customSmallerIsBetter")
    );
    let file = bench["with"]["output-file-path"].as_str().unwrap();
    assert!(
        export["run"]
            .as_str()
            .unwrap()
            .contains(&format!("--out {file}"))
    );
    for s in [export, bench] {
        assert!(
            s["if"]
                .as_str()
                .unwrap()
                .contains("env.TRACK_BENCHMARKS == 'true'")
        );
    }
    assert!(
        serde_yaml_ng::to_string(step("pushpull check"))
            .unwrap()
            .contains("--junit")
    );
}
