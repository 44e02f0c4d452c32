use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(text, "test.yaml")
}

fn err(text: &str) -> String {
    parse(text).expect_err("should be refused").to_string()
}

const BASE: &str = "name: t\nduration: 1h\n";

#[test]
fn quickstart_parses_and_expands_presets() {
    let s = Scenario::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/quickstart.yaml"
    )))
    .unwrap();
    assert_eq!(s.name, "quickstart");
    assert_eq!(s.models.pull.poll.interval, Dur(120 * SECOND));
    assert_eq!(s.models.pull.poll.jitter, Dur(60 * SECOND));
    assert_eq!(s.models.push.concurrency, Concurrency::CancelPending);
    assert_eq!(s.faults.len(), 5);
}

#[test]
fn explicit_keys_override_the_preset_one_by_one() {
    let s = parse(&format!(
        "{BASE}models:\n  pull:\n    preset: flux\n    poll: {{ jitter: 5s }}\n  push:\n    preset: jenkins\n    runners: 7\n"
    ))
    .unwrap();
    assert_eq!(
        s.models.pull.poll.interval,
        Dur(MINUTE),
        "interval kept from flux"
    );
    assert_eq!(s.models.pull.poll.jitter, Dur(5 * SECOND));
    assert_eq!(s.models.pull.drift_detection, DriftDetection::Interval);
    assert_eq!(s.models.push.runners, 7);
    assert_eq!(s.models.push.queue_wait, Dist::fixed(5 * SECOND));
}

#[test]
fn misspelled_key_names_line_and_path() {
    let e = err(&format!("{BASE}fleet:\n  clusters: 2\n  replcas: 3\n"));
    assert!(
        e.starts_with("test.yaml:5:3: fleet.replcas: unknown field `replcas`"),
        "{e}"
    );
    assert!(e.contains("expected one of"), "{e}");
}

#[test]
fn negative_duration_is_refused_with_path() {
    let e = err(&format!(
        "{BASE}models:\n  pull:\n    poll: {{ interval: -5m }}\n"
    ));
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(e.contains("models.pull.poll.interval"), "{e}");
    assert!(e.contains("negative"), "{e}");
}

#[test]
fn unknown_preset_lists_the_known_ones() {
    let e = err(&format!("{BASE}models:\n  pull:\n    preset: argo\n"));
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(e.contains("models.pull.preset"), "{e}");
    assert!(e.contains("argocd") && e.contains("flux"), "{e}");
}

#[test]
fn percentage_over_100_is_refused() {
    let e = err(&format!("{BASE}fleet:\n  rollout:\n    max_surge: 150%\n"));
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(e.contains("fleet.rollout.max_surge"), "{e}");
    assert!(e.contains("at most 100%"), "{e}");
}

#[test]
fn malformed_yaml_names_the_line() {
    let e = err("name: t\nduration: 1h\nfleet: [clusters: 2\n");
    assert!(e.starts_with("test.yaml:"), "{e}");
    assert!(e.contains(':'), "{e}");
}

#[test]
fn bad_distribution_parameters_are_refused() {
    let e = err(&format!(
        "{BASE}fleet:\n  rollout:\n    pod_start: {{ dist: lognormal, median: 5s, p99: 1s }}\n"
    ));
    assert!(e.contains("fleet.rollout.pod_start"), "{e}");
    assert!(e.contains("p99 ≥ median"), "{e}");
}

#[test]
fn later_fault_kinds_are_refused_by_name() {
    let e = err(&format!(
        "{BASE}faults:\n  - {{ kind: git_outage, at: 5m, duration: 15m }}\n"
    ));
    assert!(e.contains("faults[0]"), "{e}");
    assert!(e.contains("`git_outage` is not supported yet"), "{e}");
}

#[test]
fn fault_after_the_horizon_is_located() {
    let e = err(&format!(
        "{BASE}faults:\n  - kind: drift\n    change: env\n    at: 2h\n"
    ));
    assert!(e.starts_with("test.yaml:6:5: faults[0].at:"), "{e}");
}

#[test]
fn replay_is_refused_until_live_git() {
    let e = err(&format!(
        "{BASE}workload:\n  commits: {{ arrival: replay, repo: ., branch: main }}\n"
    ));
    assert!(e.contains("workload.commits"), "{e}");
    assert!(e.contains("live git"), "{e}");
}

#[test]
fn expanded_scenario_serializes() {
    let s = parse(BASE).unwrap();
    let y = serde_json::to_string(&s).unwrap();
    assert!(y.contains("\"preset\":\"argocd\""), "{y}");
    assert!(y.contains("\"drift_check\":\"none\""), "{y}");
}
