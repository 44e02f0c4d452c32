//! Named setups end to end: a schema-1 summary reads as setups `push` and `pull` and still
//! gates a new quickstart run; `scenarios/three-way.yaml` runs three setups into one
//! summary; setups of one kind meet the very same workload and random draws.

use pushpull::measure::RunRecord;
use pushpull::metric::ModelKind;
use pushpull::scenario::Scenario;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(scenario: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = bin()
        .arg("run")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn a_schema_1_summary_reads_as_setups_push_and_pull_with_push_the_baseline() {
    let path = repo(".github/pushpull/quickstart-baseline.json");
    assert_eq!(
        json(&path)["schema"],
        1,
        "the committed baseline is schema 1"
    );
    let s = pushpull::report::load::read_summary(&path).unwrap();
    let setups: Vec<(&str, ModelKind)> = s.models.iter().map(|(n, m)| (n, m.kind)).collect();
    assert_eq!(
        setups,
        [("push", ModelKind::Push), ("pull", ModelKind::Pull)]
    );
    assert_eq!(s.baseline, "push");
    assert!(
        s.models["pull"].metric("deploy_latency").unwrap().count > 0,
        "the figures are kept"
    );
}

#[test]
fn check_of_a_new_quickstart_run_against_the_schema_1_baseline_passes() {
    let tmp = tempfile::tempdir().unwrap();
    run(&repo("scenarios/quickstart.yaml"), tmp.path(), &[]);
    let dir = tmp.path().join("quickstart");
    assert_eq!(json(&dir.join("summary.json"))["schema"], 2);
    let o = bin()
        .arg("check")
        .arg(&dir)
        .arg("--baseline")
        .arg(repo(".github/pushpull/quickstart-baseline.json"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["regressions"], 0, "{report}");
    let rows = report["rows"].as_array().unwrap();
    for model in ["push", "pull"] {
        assert!(
            rows.iter().any(|r| r["model"] == model),
            "no {model} figure compared: {report}"
        );
    }
}

#[test]
fn three_way_runs_gha_argocd_and_flux_into_one_summary_with_gha_the_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(
        &repo("scenarios/three-way.yaml"),
        tmp.path(),
        &["--repetitions", "2"],
    );
    let table = String::from_utf8_lossy(&o.stdout);
    for head in [
        "gha (push: github-actions)",
        "argocd (pull: argocd)",
        "flux (pull: flux)",
    ] {
        assert!(table.contains(head), "no `{head}` in the table:\n{table}");
    }
    let dir = tmp.path().join("three-way");
    let s = json(&dir.join("summary.json"));
    assert_eq!(s["schema"], 2);
    assert_eq!(s["baseline"], "gha");
    // Typed, since a JSON value sorts its keys: the setups in the scenario's order.
    let typed = pushpull::report::load::read_summary(&dir.join("summary.json")).unwrap();
    let models: Vec<(&str, ModelKind, &str)> = typed
        .models
        .iter()
        .map(|(n, m)| (n, m.kind, m.preset.as_str()))
        .collect();
    assert_eq!(
        models,
        [
            ("gha", ModelKind::Push, "github-actions"),
            ("argocd", ModelKind::Pull, "argocd"),
            ("flux", ModelKind::Pull, "flux"),
        ],
        "the scenario's order"
    );
    for name in ["gha", "argocd", "flux"] {
        assert!(
            s["models"][name]["metrics"]["deploy_latency"]["count"]
                .as_u64()
                .unwrap()
                > 0,
            "{name} deployed nothing"
        );
    }
    // The report's intervals compare each setup with the baseline.
    let iv = json(&dir.join("intervals.json"));
    assert_eq!(iv["baseline"], "gha");
    let dl = &iv["metrics"]["deploy_latency"];
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&dl["setups"]), ["argocd", "flux", "gha"]);
    assert_eq!(keys(&dl["vs_baseline"]), ["argocd", "flux"]);
    // ... written in the summary's order.
    let text = std::fs::read_to_string(dir.join("intervals.json")).unwrap();
    let at = |k: &str| text.find(&format!("\"{k}\": {{")).unwrap();
    assert!(
        at("gha") < at("argocd") && at("argocd") < at("flux"),
        "{text}"
    );
    // Every setup has its timeline, and the reports name every setup, by its label in
    // the DORA table, and compare the others with the baseline.
    for name in ["gha", "argocd", "flux"] {
        assert!(
            dir.join(format!("charts/timeline_{name}.png")).exists(),
            "{name}"
        );
    }
    for file in ["report.md", "report.html"] {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        for needle in [
            "gha (push: github-actions) against argocd (pull: argocd) and flux (pull: flux)",
            "− gha at p50",
            "Against the baseline gha",
            "timeline_flux",
        ] {
            assert!(body.contains(needle), "{file} lacks `{needle}`");
        }
        // No sentence speaks of models named push or pull: this run has none.
        for stray in [
            "with push",
            "with pull",
            "under push",
            "push −",
            "pull −",
            "push faster",
            "pull faster",
        ] {
            assert!(!body.contains(stray), "{file} says `{stray}`");
        }
    }
}

/// gha, then two identical Argo CD setups under different names.
const TWINS: &str = "name: twins
duration: 2h
repetitions: 2
fleet: { clusters: 2, apps: 3 }
workload:
  commits: { arrival: poisson, mean_interval: 10m }
models:
  gha: { kind: push, preset: github-actions }
  one: { kind: pull, preset: argocd }
  two: { kind: pull, preset: argocd }
faults:
  - { kind: drift, change: image, arrival: poisson, mean_interval: 30m }
  - { kind: bad_release, at: 1h, rollback_after: 5m }
";

fn records<'a>(runs: &'a [(String, Vec<RunRecord>)], name: &str) -> &'a [RunRecord] {
    &runs.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn two_setups_of_one_kind_and_settings_meet_the_same_draws_and_measure_the_same() {
    let s = Scenario::parse(TWINS, "twins.yaml").unwrap();
    let runs = pushpull::sim::run(&s, 2);
    let names: Vec<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["gha", "one", "two"]);
    let (one, two) = (records(&runs, "one"), records(&runs, "two"));
    assert_eq!(one.len(), 2);
    for (rep, (a, b)) in one.iter().zip(two).enumerate() {
        assert!(!a.samples.is_empty(), "repetition {rep} measured nothing");
        assert_eq!(a.samples, b.samples, "repetition {rep}: samples differ");
        assert_eq!(a.events, b.events, "repetition {rep}: events differ");
        assert_eq!(a.counters, b.counters, "repetition {rep}: counters differ");
    }
    // The push setup met the same source commits at the same times: its commits (a
    // pipeline builds and deploys the source commit) are the pull setups' source commits
    // (their config commits follow by the write-back).
    use pushpull::measure::EventKind;
    let commits = |r: &RunRecord, kinds: &[EventKind]| {
        r.events
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .map(|e| {
                (
                    e.t,
                    e.detail
                        .split_once(" apps=")
                        .map(|(_, a)| a.trim_end_matches(" bad").to_string()),
                )
            })
            .collect::<Vec<_>>()
    };
    let gha = records(&runs, "gha");
    let pushed = commits(&gha[0], &[EventKind::Commit, EventKind::BadCommit]);
    assert!(!pushed.is_empty());
    assert_eq!(pushed, commits(&one[0], &[EventKind::SourceCommit]));
    // And a different seed gives different draws, so the equality above is not vacuous.
    let mut other = s.clone();
    other.seed += 1;
    let runs2 = pushpull::sim::run(&other, 2);
    assert_ne!(records(&runs2, "one")[0].samples, one[0].samples);
}

#[test]
fn eight_setups_get_eight_colours_the_baseline_the_first_and_a_timeline_each() {
    let tmp = tempfile::tempdir().unwrap();
    let mut body = String::from(
        "name: eight\nduration: 1h\nrepetitions: 2\nfleet: { clusters: 1, apps: 2 }\nbaseline: p2\nmodels:\n",
    );
    for i in 0..8 {
        let kind = if i % 2 == 0 { "pull" } else { "push" };
        body.push_str(&format!("  p{i}: {{ kind: {kind} }}\n"));
    }
    let file = tmp.path().join("eight.yaml");
    std::fs::write(&file, body).unwrap();
    run(&file, tmp.path(), &[]);
    let dir = tmp.path().join("eight");
    let loaded = pushpull::report::load::load(&dir).unwrap();
    let setups = pushpull::report::setups::of(&loaded);
    let names: Vec<&str> = setups.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    let base = setups.iter().find(|s| s.baseline).unwrap();
    assert_eq!(base.name, "p2");
    assert_eq!(base.color, pushpull::report::setups::PALETTE[0]);
    let mut colors: Vec<_> = setups.iter().map(|s| s.color).collect();
    colors.sort();
    colors.dedup();
    assert_eq!(colors.len(), 8, "every setup has its own colour");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for n in names {
        assert!(md.contains(&format!("(charts/timeline_{n}.png)")), "{n}");
    }
    assert!(
        md.contains("− p2 at p50"),
        "differences are against the baseline p2"
    );
}
