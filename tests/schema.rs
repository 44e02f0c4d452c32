//! The scenario format's JSON Schema (`pushpull schema`, docs/scenario.schema.json) against
//! the parser: the committed file is the command's output byte for byte; every scenario file
//! names it on its first line for yaml-language-server; an independent validator, the
//! `check-jsonschema` Python package, accepts every library scenario and the unusual forms
//! the parser accepts, and refuses the misspelled keys the parser refuses.
//!
//! check-jsonschema is found through `CHECK_JSONSCHEMA`, `PATH` or target/pyenv/bin; where
//! it is missing the tests fail with the command that installs it (.ci/run runs it).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL: &str =
    "python3 -m venv target/pyenv && target/pyenv/bin/pip install check-jsonschema==0.39.0";

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pushpull"))
}

fn schema_file() -> PathBuf {
    repo("docs/scenario.schema.json")
}

/// check-jsonschema, or a failure naming how to install it.
fn check_jsonschema() -> Command {
    let runs = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let from_env = std::env::var_os("CHECK_JSONSCHEMA").map(PathBuf::from);
    let on_path = PathBuf::from("check-jsonschema");
    let in_target = repo("target/pyenv/bin/check-jsonschema");
    let found = from_env
        .into_iter()
        .chain([on_path, in_target])
        .find(|p| runs(p));
    match found {
        Some(p) => {
            let mut c = Command::new(p);
            c.arg("--schemafile").arg(schema_file());
            c
        }
        None => panic!(
            "check-jsonschema is not installed (looked at $CHECK_JSONSCHEMA, PATH and target/pyenv/bin): install it with `{INSTALL}` (.ci/run does; Debian needs python3-venv)"
        ),
    }
}

/// The files check-jsonschema refuses among `files` (it checks them all in one process).
fn refused_by_schema(files: &[PathBuf]) -> Vec<PathBuf> {
    let o = check_jsonschema()
        .args(["--output-format", "json"])
        .args(files)
        .output()
        .expect("check-jsonschema runs");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema printed no JSON report ({e}), exit {:?}:\n{}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let parse_errors = report["parse_errors"].as_array().map_or(0, Vec::len);
    assert_eq!(
        parse_errors, 0,
        "check-jsonschema could not read: {report:#}"
    );
    let mut refused: Vec<PathBuf> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["filename"].as_str().map(PathBuf::from))
        .collect();
    refused.dedup();
    assert_eq!(
        o.status.success(),
        refused.is_empty(),
        "exit status and report disagree: {report:#}"
    );
    refused
}

/// `pushpull validate FILE`: its exit code and stderr.
fn validate(file: &Path) -> (Option<i32>, String) {
    let o = bin()
        .arg("validate")
        .arg(file)
        .output()
        .expect("pushpull runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every YAML file under scenarios/, at any depth.
fn library() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("scenarios/ is readable")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&repo("scenarios"), &mut v);
    assert!(v.len() >= 10, "scenarios/ has only {} files", v.len());
    v
}

/// A fresh folder for this test's files.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("schema-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("target tmpdir is writable");
    d
}

#[test]
fn committed_schema_is_the_output_of_pushpull_schema() {
    let o = bin().arg("schema").output().expect("pushpull runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let committed = std::fs::read(schema_file()).expect("docs/scenario.schema.json exists");
    assert!(
        committed == o.stdout,
        "docs/scenario.schema.json is stale: a scenario key or its schema changed. Refresh it with\n    cargo run -- schema > docs/scenario.schema.json"
    );
    assert!(o.stdout.ends_with(b"}\n"));
}

#[test]
fn every_library_scenario_names_the_schema_on_its_first_line() {
    let scenarios = repo("scenarios");
    for file in library() {
        let depth = file
            .strip_prefix(&scenarios)
            .expect("under scenarios/")
            .components()
            .count();
        let want = format!(
            "# yaml-language-server: $schema={}docs/scenario.schema.json",
            "../".repeat(depth)
        );
        let text = std::fs::read_to_string(&file).expect("readable");
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            want,
            "{}: the first line must name the schema by its path relative to the file",
            file.display()
        );
        // The path it names is the schema.
        let named = file
            .parent()
            .expect("a folder")
            .join(want.rsplit_once('=').expect("a path").1);
        assert_eq!(
            std::fs::canonicalize(named).ok(),
            std::fs::canonicalize(schema_file()).ok()
        );
    }
}

#[test]
fn every_library_scenario_passes_validate_and_check_jsonschema() {
    let files = library();
    for f in &files {
        let (code, err) = validate(f);
        assert_eq!(code, Some(0), "{}: {err}", f.display());
    }
    let refused = refused_by_schema(&files);
    assert!(refused.is_empty(), "the schema refuses {refused:?}");
}

/// A valid scenario with a key at every depth the typo test misspells.
const BASE: &str = r#"
name: typos
duration: 6h
repetitions: 2
fleet:
  clusters:
    - { name: prod-eu, environment: prod }
    - { name: staging }
  replicas: 3
  rollout: { max_surge: 25%, max_unavailable: 0, progress_deadline: 10m }
  apps:
    - { name: payments, replicas: 6, rollout: { max_surge: 1 } }
    - { prefix: svc, count: 4 }
workload:
  commits:
    arrival: poisson
    mean_interval: 12m
    working_hours: { days: mon-fri, hours: 9-17, timezone: "+01:00" }
  apps_per_commit: 1
ci:
  build: { dist: normal, mean: 4m, sd: 1m }
  runners: 2
models:
  gha: { kind: push, preset: github-actions, apply_parallelism: 5 }
  argo:
    kind: pull
    preset: argocd
    poll: { interval: 3m, jitter: 0 }
    write_back: { method: pull-request, review: { dist: lognormal, median: 15m, p99: 8h } }
faults:
  - { kind: git_outage, at: 2h, duration: 15m }
  - { kind: drift, change: scale, cluster: prod-eu, app: payments, at: 3h }
thresholds:
  - { model: argo, metric: deploy_latency, quantile: p95, max: 30m, tolerance: 10% }
"#;

/// Each misspelling: what it replaces in [`BASE`] and with what.
const TYPOS: [(&str, &str, &str); 12] = [
    ("top-level", "repetitions: 2", "repetitons: 2"),
    ("setup block", "apply_parallelism: 5", "apply_paralelism: 5"),
    (
        "setup sub-block",
        "interval: 3m, jitter",
        "intervall: 3m, jitter",
    ),
    ("write-back", "review: {", "reveiw: {"),
    ("fault", "at: 2h, duration: 15m", "at: 2h, durration: 15m"),
    ("ci block", "  runners: 2", "  runers: 2"),
    ("distribution", "mean: 4m, sd: 1m", "mean: 4m, stdev: 1m"),
    ("named cluster", "environment: prod", "enviroment: prod"),
    ("app group", "replicas: 6", "replica: 6"),
    ("rollout", "max_unavailable: 0", "max_unavalable: 0"),
    ("working_hours", "hours: 9-17", "hourz: 9-17"),
    ("threshold", "quantile: p95", "quantil: p95"),
];

#[test]
fn misspelled_keys_at_every_depth_are_refused_by_validate_and_by_the_schema() {
    let dir = scratch("typos");
    let base = dir.join("base.yaml");
    std::fs::write(&base, BASE).unwrap();
    let (code, err) = validate(&base);
    assert_eq!(code, Some(0), "the base scenario is valid: {err}");
    assert!(
        refused_by_schema(std::slice::from_ref(&base)).is_empty(),
        "the schema accepts the base scenario"
    );
    let mut files = Vec::new();
    for (i, (place, from, to)) in TYPOS.iter().enumerate() {
        assert_eq!(
            BASE.matches(from).count(),
            1,
            "{place}: `{from}` once in BASE"
        );
        let f = dir.join(format!("typo-{i}.yaml"));
        std::fs::write(&f, BASE.replacen(from, to, 1)).unwrap();
        let (code, err) = validate(&f);
        // The misspelled key: the word of `to` that `from` does not have.
        let words = |t: &'static str| t.split(|c: char| !(c.is_alphanumeric() || c == '_'));
        let key = words(to)
            .find(|w| !w.is_empty() && !words(from).any(|x| x == *w))
            .expect("a misspelled word");
        assert_eq!(code, Some(2), "{place}: validate accepts `{key}`: {err}");
        assert!(
            err.contains(&format!("unknown field `{key}`")),
            "{place}: validate refuses it for another reason: {err}"
        );
        files.push(f);
    }
    let refused = refused_by_schema(&files);
    for (f, (place, _, to)) in files.iter().zip(TYPOS) {
        assert!(
            refused.contains(f),
            "{place}: the schema accepts the misspelling `{to}`"
        );
    }
}

/// Forms the parser accepts that a schema could easily get wrong.
const UNUSUAL: [(&str, &str); 13] = [
    (
        "empty values: the defaults",
        "name: t\nduration: 1h\nfleet:\nworkload:\nfaults:\nthresholds:\nci:\nmodels:\n",
    ),
    (
        "durations: 90s, 1h30m, 1h 30m, 1.5h, 250ms, 0",
        "name: t\nduration: 1h30m\nworkload: { commits: { arrival: fixed, interval: 90s } }\nmodels:\n  push: { apply: 250ms, drift_check: { every: 1.5h } }\n  pull: { reconcile_interval: 1h 30m, reconcile_jitter: 0 }\n",
    ),
    (
        "shares as percentages",
        "name: t\nduration: 1h\nfleet: { rollout: { max_surge: 5%, max_unavailable: 100% } }\nthresholds: [{ model: pull, metric: detect, quantile: p50, max: 5m, tolerance: 2.5% }]\n",
    ),
    (
        "preset names only",
        "name: t\nduration: 1h\nmodels:\n  jenkins: { kind: push, preset: jenkins }\n  flux: { kind: pull, preset: flux }\n  own: { kind: pull, preset: custom }\n",
    ),
    ("ci: none", "name: t\nduration: 1h\nci: none\n"),
    (
        "the push/pull form, one side empty",
        "name: t\nduration: 1h\nmodels:\n  push:\n  pull: { preset: flux, webhook: none }\n",
    ),
    (
        "a push key of the pull kind",
        "name: t\nduration: 1h\nmodels:\n  push: { kind: pull, preset: flux }\n  other: { kind: push }\n",
    ),
    (
        "numeric fleet",
        "schema: 1\nname: t\nduration: 1h\nfleet: { clusters: 3, apps: 12, replicas: 2 }\nfaults: [{ kind: cluster_loss, cluster: 2, at: 10m, rebuild_after: 5m }]\n",
    ),
    (
        "write_back as a method name, webhook and self_heal maps",
        "name: t\nduration: 1h\nmodels:\n  push: {}\n  pull:\n    write_back: image-automation\n    webhook: { delay: 2s, loss: 0.05 }\n    self_heal: { initial: 2s, factor: 3, max: 5m, cooldown: 5m }\n    retry: { initial: 5s, factor: 1.5, max: 3m }\n",
    ),
    (
        "every distribution kind and the bare-duration shorthand",
        "name: t\nduration: 1h\nci:\n  queue_wait: { dist: exponential, mean: 30s }\n  build: { dist: empirical, samples: [3m, 4m, 250s] }\nmodels:\n  push: { apply: { dist: uniform, min: 1s, max: 3s } }\n  pull: { apply: \"2s\" }\n",
    ),
    (
        "a fixed arrival in working hours, Poisson drift and a partition",
        "name: t\nduration: 168h\nworkload: { commits: { arrival: fixed, interval: 30m, working_hours: { days: \"mon,wed,fri-sat\", hours: \"8:30-16:30\" } } }\nfaults:\n  - { kind: drift, change: env, arrival: poisson, mean_interval: 2h }\n  - { kind: partition, between: [reconciler, git], at: 1h, duration: 20m }\n  - { kind: api_brownout, at: 2h, duration: 10m, latency: { dist: fixed, value: 2s }, error_rate: 0.3 }\n",
    ),
    (
        "push settings a preset leaves open",
        "name: t\nduration: 1h\nseed: 0\nrepetitions: 1\ntime_scale: 0.5\nmodels:\n  push: { runners: 4, wait_for_rollout: false, concurrency: queue, drift_check: none }\n  pull: { drift_detection: interval, concurrency: 4, poll: { interval: 1m } }\n",
    ),
    (
        "ci with queue concurrency and named setups",
        "name: t\nduration: 1h\nbaseline: b\nci: { runners: 3, concurrency: cancel-pending }\nmodels:\n  a: { kind: pull, preset: argocd }\n  b: { kind: pull, preset: flux }\n",
    ),
];

#[test]
fn unusual_forms_the_parser_accepts_pass_the_schema() {
    let dir = scratch("unusual");
    let mut files = Vec::new();
    for (i, (what, yaml)) in UNUSUAL.iter().enumerate() {
        let f = dir.join(format!("unusual-{i}.yaml"));
        std::fs::write(&f, yaml).unwrap();
        let (code, err) = validate(&f);
        assert_eq!(code, Some(0), "{what}: validate refuses it: {err}");
        files.push(f);
    }
    let refused = refused_by_schema(&files);
    for (f, (what, _)) in files.iter().zip(UNUSUAL) {
        assert!(!refused.contains(f), "{what}: the schema refuses it");
    }
}

#[test]
fn values_the_parser_refuses_by_form_are_refused_by_the_schema() {
    // Not misspelled keys but shapes: a duration without unit, a percentage above 100%, an
    // unknown distribution, fault or preset, another kind's key, a count of 0, text where a
    // number belongs, a name that is not a DNS label, a word that is not `none`.
    let cases = [
        "name: t\nduration: 90\n",
        "name: t\nduration: soon\n",
        "name: t\nduration: 1h\nworkload: { commits: { arrival: poisson, mean_interval: 5 parsecs } }\n",
        "name: t\nduration: 1h\nfleet: { rollout: { max_unavailable: 101% } }\n",
        "name: t\nduration: 1h\nci: { build: { dist: gamma, mean: 1m } }\n",
        "name: t\nduration: 1h\nfaults: [{ kind: meteor, at: 1h }]\n",
        "name: t\nduration: 1h\nci: { build: { dist: lognormal, mean: 4m, p99: 9m } }\n",
        "name: t\nduration: 1h\nfaults: [{ kind: git_outage, at: 1h, duration: 5m, cluster: 0 }]\n",
        "name: t\nduration: 1h\nmodels: { push: { preset: gitlab } }\n",
        "name: t\nduration: 1h\nfleet: { apps: 0 }\n",
        "name: t\nduration: 1h\ntime_scale: \"0.5\"\n",
        "name: Not_A_Label\nduration: 1h\n",
        "name: t\nduration: 1h\nci: sometimes\n",
    ];
    let dir = scratch("forms");
    let mut files = Vec::new();
    for (i, yaml) in cases.iter().enumerate() {
        let f = dir.join(format!("form-{i}.yaml"));
        std::fs::write(&f, yaml).unwrap();
        let (code, err) = validate(&f);
        assert_eq!(code, Some(2), "{yaml}: validate accepts it: {err}");
        files.push(f);
    }
    let refused = refused_by_schema(&files);
    for (f, yaml) in files.iter().zip(cases) {
        assert!(refused.contains(f), "the schema accepts\n{yaml}");
    }
}
