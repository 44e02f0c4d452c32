//! End-to-end tests of the reports: every chart is written, `pushpull report` rebuilds a
//! copied run directory byte for byte, the HTML is self-contained, every number in the
//! reports comes from the run's files, and one repetition gives no confidence interval.

use pushpull::report::charts::rate;
use pushpull::report::table::human;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CHARTS: [&str; 9] = [
    "deploy_latency_cdf",
    "stages",
    "drift_recovery",
    "recovery",
    "timeline_push",
    "timeline_pull",
    "cost",
    "money",
    "hand_edit_survival",
];

/// Inputs of a report; everything else in a run directory is rebuilt from them.
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

fn quickstart_into(out: &Path, extra: &[&str]) -> PathBuf {
    let o: Output = bin()
        .arg("run")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.join("quickstart")
}

/// One quickstart run shared by the tests of this file (they only read it, or rewrite it
/// with identical bytes), so the suite runs the simulation once instead of once a test.
fn shared_quickstart() -> &'static Path {
    static RUN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_files");
        let _ = std::fs::remove_dir_all(&out);
        quickstart_into(&out, &[])
    })
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn text(p: &Path) -> String {
    String::from_utf8(read(p)).unwrap()
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&read(p)).unwrap()
}

/// Every output of a report, as paths relative to the run directory.
fn outputs() -> Vec<String> {
    let mut v: Vec<String> = ["report.html", "report.md", "intervals.json"]
        .map(String::from)
        .to_vec();
    for c in CHARTS {
        v.push(format!("charts/{c}.svg"));
        v.push(format!("charts/{c}.png"));
    }
    v
}

#[test]
fn quickstart_writes_every_chart_as_svg_and_png() {
    let dir = shared_quickstart();
    for c in CHARTS {
        let png = read(&dir.join(format!("charts/{c}.png")));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{c}.png is not a PNG"
        );
        assert!(png.len() > 10_000, "{c}.png is suspiciously small");
        let svg = text(&dir.join(format!("charts/{c}.svg")));
        assert!(
            svg.contains("<svg") && svg.contains("<text"),
            "{c}.svg has no text"
        );
    }
    let html = text(&dir.join("report.html"));
    for c in CHARTS {
        assert!(
            html.contains(&format!("id=\"chart-{c}\"")),
            "report.html lacks {c}"
        );
    }
    let md = text(&dir.join("report.md"));
    for c in CHARTS {
        assert!(
            md.contains(&format!("(charts/{c}.png)")),
            "report.md lacks {c}"
        );
    }
}

#[test]
fn report_rebuilds_a_copied_run_directory_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let original = shared_quickstart();
    let copy = tmp.path().join("elsewhere/deeper/copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in INPUTS {
        std::fs::copy(original.join(f), copy.join(f)).unwrap();
    }
    let o = bin().arg("report").arg(&copy).output().unwrap();
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in outputs() {
        assert!(
            read(&original.join(&f)) == read(&copy.join(&f)),
            "{f} differs between the run and `pushpull report` on a copy"
        );
    }
    // Rebuilding in place changes nothing either.
    let o = bin().arg("report").arg(original).output().unwrap();
    assert!(o.status.success());
    for f in outputs() {
        assert!(
            read(&original.join(&f)) == read(&copy.join(&f)),
            "{f} changed"
        );
    }
}

/// A live run that could not inject some faults says so in the executive summary, so a
/// reader of the forwarded report knows which disruptions never happened.
#[test]
fn a_live_run_with_faults_it_could_not_inject_says_so_in_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("kind-run");
    std::fs::create_dir_all(&copy).unwrap();
    for f in INPUTS {
        std::fs::copy(shared_quickstart().join(f), copy.join(f)).unwrap();
    }
    let mut summary = json(&copy.join("summary.json"));
    summary["mode"] = "kind".into();
    summary["unsupported_faults"] = serde_json::json!(["api_brownout", "cluster_loss"]);
    std::fs::write(copy.join("summary.json"), summary.to_string()).unwrap();
    let o = bin().arg("report").arg(&copy).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sentence = "--mode kind cannot inject api_brownout or cluster_loss, so the scenario's \
                    faults of those kinds did not happen in this run";
    for f in ["report.md", "report.html"] {
        let t = text(&copy.join(f)).replace("&#39;", "'");
        assert!(
            t.contains(sentence),
            "{f} does not say which faults were skipped"
        );
    }
    // A run that injected everything says nothing of the kind.
    assert!(!text(&shared_quickstart().join("report.md")).contains("cannot inject"));
}

#[test]
fn report_of_a_directory_without_a_run_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin().arg("report").arg(tmp.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("summary.json"), "{err}");
}

#[test]
fn html_is_self_contained_and_under_two_megabytes() {
    let dir = shared_quickstart();
    let html = text(&dir.join("report.html"));
    assert!(
        html.len() < 2 * 1024 * 1024,
        "report.html is {} bytes",
        html.len()
    );
    let lower = html.to_lowercase();
    for forbidden in [
        "http://", "https://", "<script", "<link", "@import", "url(", "<iframe", "<object",
        "<embed", "<video", "<audio", "<source", "srcset",
    ] {
        assert!(
            !lower.contains(forbidden),
            "report.html contains `{forbidden}`"
        );
    }
    let mut images = 0;
    for (i, _) in lower.match_indices(" src=\"") {
        assert!(
            lower[i + 6..].starts_with("data:image/png;base64,"),
            "an src is not an inline image: {}",
            &html[i..(i + 60).min(html.len())]
        );
        images += 1;
    }
    assert_eq!(images, CHARTS.len());
    assert!(lower.contains("@media print") && lower.contains("name=\"viewport\""));
}

/// Splits report text into tokens; numbers keep their units (`5m44s`, `2.6%`, `3.7×`).
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || "()[],;:!?=|*`'\"<>/{}+−–—≤&#_".contains(c))
        .map(|t| t.trim_end_matches('.').trim_start_matches('.').to_string())
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .collect()
}

/// Visible text of the HTML: the title and the body without tags (and so without the
/// inline images), entities decoded. The style sheet is not text.
fn visible(html: &str) -> String {
    let title = html
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next());
    let body = html.split("<body>").nth(1).expect("report.html has a body");
    let mut out = title.unwrap_or_default().to_string();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn numbers(v: &Value, out: &mut Vec<f64>) {
    match v {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        Value::Object(m) => m.values().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

fn leaf_text(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| leaf_text(&format!("{prefix}.{k}"), x, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| leaf_text(&format!("{prefix}[{i}]"), x, out)),
        Value::String(s) => out.push(format!("{prefix} {s}")),
        other => out.push(format!("{prefix} {other}")),
    }
}

/// Every token a report may print: the numbers of summary.json and intervals.json in
/// the report's formats, the derived figures recomputed here from summary.json, the
/// scenario's parameters, the run's command, and a few fixed words of the text.
fn allowed(dir: &Path) -> BTreeSet<String> {
    let summary = json(&dir.join("summary.json"));
    let intervals = json(&dir.join("intervals.json"));
    let scenario = json(&dir.join("scenario.json"));
    let run = json(&dir.join("run.json"));
    let mut ok = BTreeSet::new();
    let mut nums = Vec::new();
    numbers(&summary, &mut nums);
    numbers(&intervals, &mut nums);
    for x in nums {
        ok.insert(human(x.abs()));
        ok.insert(x.to_string());
    }
    let reps = summary["repetitions"].as_f64().unwrap();
    let duration_s = summary["duration_s"].as_f64().unwrap();
    let clusters = scenario["fleet"]["clusters"].as_f64().unwrap();
    let hours = duration_s / 3600.0 * reps;
    let days = duration_s / 86_400.0 * reps;
    let m = |model: &str| &summary["models"][model];
    let c = |model: &str, name: &str| m(model)["counters"][name].as_f64().unwrap();
    // Git requests as the report sums them: ref checks, fetches and CI checkouts.
    let git = |model: &str| {
        c(model, "git_ref_checks") + c(model, "git_fetches") + c(model, "git_checkouts")
    };
    for model in ["push", "pull"] {
        for name in [
            "api_requests",
            "git_ref_checks",
            "git_fetches",
            "git_checkouts",
        ] {
            ok.insert(rate(c(model, name) / hours));
        }
        ok.insert(rate(git(model) / hours));
        // The git traffic table and sentence: summary.json's per-day figures per
        // repository, as the report rounds them.
        for t in m(model)["git_traffic"].as_array().into_iter().flatten() {
            let mut total = 0.0;
            for k in [
                "git_ref_checks_per_day",
                "git_fetches_per_day",
                "git_checkouts_per_day",
            ] {
                let v = t[k].as_f64().unwrap_or(0.0);
                total += v;
                ok.insert(rate(v));
            }
            ok.insert(rate(total));
        }
        ok.insert(rate(c(model, "deploys") / days / clusters));
        let (d, f) = (c(model, "deploys"), c(model, "failed_deploys"));
        ok.insert(format!("{:.1}%", f / (d + f) * 100.0));
        ok.insert((c(model, "drift_events") - c(model, "drift_unrecovered")).to_string());
    }
    // Shares of hand edits corrected within 1m / 10m / 1h, as percentages.
    for model in ["push", "pull"] {
        if let Some(c) = m(model)["metrics"]["drift_recovery"]["corrected_within"].as_object() {
            for v in c.values().filter_map(Value::as_f64) {
                ok.insert(format!("{:.0}%", v * 100.0));
            }
        }
    }
    let metrics = m("push")["metrics"].as_object().unwrap();
    for name in metrics.keys() {
        let p50 = |model: &str| m(model)["metrics"][name]["p50_s"].as_f64();
        if let (Some(a), Some(b)) = (p50("push"), p50("pull")) {
            ok.insert(human((a - b).abs()));
            if a > 0.0 && b > 0.0 {
                ok.insert(format!("{:.1}×", a / b));
                ok.insert(format!("{:.1}×", b / a));
            }
        }
    }
    // The decision card and the money chart (docs/REPORT.md): shares as percents, the
    // audit coverage as 1 − the unexplained share, dollars, requests per hour, how long
    // unexplained changes stayed live.
    let pct = |v: f64| {
        let p = v * 100.0;
        if p != 0.0 && p.abs() < 0.1 {
            format!("{p:.2}%")
        } else {
            format!("{p:.1}%")
        }
    };
    let usd = |v: f64| {
        if v >= 100.0 {
            format!("${v:.0}")
        } else {
            format!("${v:.2}")
        }
    };
    let values = |v: &Value| -> Vec<f64> {
        match v {
            Value::Array(a) => a.iter().filter_map(Value::as_f64).collect(),
            v => v.as_f64().into_iter().collect(),
        }
    };
    for model in ["push", "pull"] {
        for key in ["out_of_sync_share", "out_of_sync_share_ci95"] {
            ok.extend(values(&m(model)[key]).into_iter().map(pct));
        }
        for key in ["unexplained_change_share", "unexplained_change_share_ci95"] {
            ok.extend(values(&m(model)[key]).into_iter().map(|v| pct(1.0 - v)));
        }
        if let Some(live) = m(model)["unexplained_changes"]["mean_live_s"].as_f64() {
            ok.insert(human(live));
        }
        let cost = &m(model)["cost"];
        for key in [
            "monthly_usd",
            "monthly_usd_ci95",
            "ci_runners_usd",
            "reconcilers_usd",
            "git_egress_usd",
        ] {
            ok.extend(values(&cost[key]).into_iter().map(usd));
        }
        ok.insert(format!("{:.0}", c(model, "api_requests") / hours));
        ok.insert(format!("{:.0}", git(model) / hours));
    }
    // The sensitivity pass's factors and the month costs are scaled to.
    for w in ["×½", "×2", "×¼", "×4", "30"] {
        ok.insert(w.to_string());
    }
    let (pg, lg) = (git("push") / hours, git("pull") / hours);
    ok.insert(format!("{:.1}×", lg / pg));
    ok.insert(format!("{:.1}×", pg / lg));
    ok.insert(human(duration_s));
    let mut words = Vec::new();
    leaf_text("", &scenario, &mut words);
    words.push(run["command"].as_str().unwrap().to_string());
    words.push(run["pushpull_version"].as_str().unwrap().to_string());
    words.push(run["scenario_file"].as_str().unwrap().to_string());
    for w in words {
        ok.extend(tokens(&w));
    }
    // Fixed words: quantile names, the interval level, the DORA report's year and its
    // clusters' change failure rates (src/report/dora.rs), the bootstrap's resample count, its
    // fewest repetitions, the year of the paper behind its method and the coverage floor
    // it was measured against (docs/STATISTICS.md).
    for w in [
        "p50", "p90", "p95", "p99", "95%", "0.1%", "2023", "2024", "5%", "10%", "15%", "20%",
        "40%", "2015", "92%",
    ] {
        ok.insert(w.to_string());
    }
    ok.insert(pushpull::measure::bootstrap::RESAMPLES.to_string());
    ok.insert(pushpull::measure::bootstrap::MIN_REPETITIONS.to_string());
    ok
}

fn assert_numbers_come_from_files(dir: &Path, name: &str, body: &str) {
    let ok = allowed(dir);
    let stray: BTreeSet<String> = tokens(body)
        .into_iter()
        .filter(|t| !ok.contains(t))
        .collect();
    assert!(
        stray.is_empty(),
        "{name} prints numbers that no run file holds: {stray:?}"
    );
}

#[test]
fn every_number_in_the_reports_comes_from_the_run_files() {
    let dir = shared_quickstart();
    let html = visible(&text(&dir.join("report.html")));
    let md = text(&dir.join("report.md"));
    assert_numbers_come_from_files(dir, "report.html", &html);
    assert_numbers_come_from_files(dir, "report.md", &md);
    // The headline figures are there, read from summary.json.
    let summary = json(&dir.join("summary.json"));
    for model in ["push", "pull"] {
        let p50 = summary["models"][model]["metrics"]["deploy_latency"]["p50_s"]
            .as_f64()
            .unwrap();
        assert!(html.contains(&human(p50)) && md.contains(&human(p50)));
    }
    // The check can fail: a number that is in no file is caught.
    let doctored = format!("{md}\nPull is 17.3× faster.");
    let ok = allowed(dir);
    assert!(tokens(&doctored).iter().any(|t| !ok.contains(t)));
}

#[test]
fn summary_intervals_are_the_reports_bootstrap_intervals() {
    let dir = shared_quickstart();
    let summary = json(&dir.join("summary.json"));
    let intervals = json(&dir.join("intervals.json"));
    let mut compared = 0;
    for (name, iv) in intervals["metrics"].as_object().unwrap() {
        for model in ["push", "pull"] {
            let from_summary = &summary["models"][model]["metrics"][name]["ci95_p50_s"];
            assert_eq!(
                from_summary, &iv["setups"][model]["ci95_p50_s"],
                "{model} {name}"
            );
            compared += from_summary.is_array() as usize;
        }
    }
    assert!(compared >= 10, "only {compared} intervals compared");
}

#[test]
fn fewer_than_ten_repetitions_report_indicative_figures_without_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quickstart_into(tmp.path(), &["--repetitions", "3"]);
    let summary = json(&dir.join("summary.json"));
    for model in ["push", "pull"] {
        for (name, m) in summary["models"][model]["metrics"].as_object().unwrap() {
            assert!(m["ci95_p50_s"].is_null(), "{model} {name} has an interval");
        }
    }
    let intervals = text(&dir.join("intervals.json"));
    assert!(!intervals.contains("\"ci95_p50_s\": ["), "{intervals}");
    for f in ["report.html", "report.md"] {
        let body = text(&dir.join(f));
        assert!(
            body.contains("indicative") && body.contains("no confidence interval is given"),
            "{f} does not say that its figures are indicative, without intervals"
        );
        assert!(!body.contains("95% CI]"), "{f} has interval columns");
        assert!(!body.contains("excludes zero"), "{f} claims significance");
    }
}

#[test]
fn committed_example_is_what_pushpull_report_builds_from_its_inputs() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example");
    let tmp = tempfile::tempdir().unwrap();
    for f in INPUTS {
        std::fs::copy(example.join(f), tmp.path().join(f)).unwrap();
    }
    let o = bin().arg("report").arg(tmp.path()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in outputs() {
        assert!(
            read(&example.join(&f)) == read(&tmp.path().join(&f)),
            "reports/example/{f} is stale: run `pushpull report reports/example`"
        );
    }
}

#[test]
fn the_stages_waterfall_adds_up_to_the_mean_deploy_latency_of_the_same_deploys() {
    let dir = shared_quickstart();
    let run = pushpull::report::load::load(dir).unwrap();
    // The completed deploy_latency rows of samples.csv, per setup: (sum, n, still open).
    let csv = text(&dir.join("samples.csv"));
    let mut rows: std::collections::BTreeMap<String, (f64, usize, usize)> = Default::default();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[2] == "deploy_latency" {
            let e = rows.entry(f[1].to_string()).or_default();
            if f[9] == "0" {
                e.0 += f[8].parse::<f64>().unwrap();
                e.1 += 1;
            } else {
                e.2 += 1;
            }
        }
    }
    let summary = json(&dir.join("summary.json"));
    for (setup, (sum, n, open)) in rows {
        let w = pushpull::report::charts::waterfall(&run, &setup).unwrap();
        let stages: f64 = w.stages.iter().map(|s| s.2).sum();
        // Means of microsecond values: equal to within a microsecond per stage.
        assert!(
            (stages - w.total_s).abs() < 1e-6 * w.stages.len() as f64,
            "{setup}: stages add up to {stages} s, deploy_latency mean {} s",
            w.total_s
        );
        assert!((w.total_s - sum / n as f64).abs() < 1e-6, "{setup}");
        assert_eq!((w.n, w.open), (n, open), "{setup}");
        // The summary's mean counts the deploys still rolling out (Kaplan–Meier): with
        // some open it is above the completed deploys' mean, which is why the chart says so.
        let km = summary["models"][&setup]["metrics"]["deploy_latency"]["mean_s"]
            .as_f64()
            .unwrap();
        assert!(
            open == 0 || km > w.total_s,
            "{setup}: {km} vs {}",
            w.total_s
        );
        let names: Vec<&str> = w.stages.iter().map(|s| s.0).collect();
        let svg = text(&dir.join("charts/stages.svg"));
        for st in &names {
            assert!(svg.contains(&format!("{setup} · {st}")), "{setup} {st}");
        }
        assert!(svg.contains(&format!("n={n}")), "{setup}");
    }
}
