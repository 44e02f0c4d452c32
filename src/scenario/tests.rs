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
        Dur(57 * SECOND),
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
fn every_fault_kind_of_the_design_is_accepted() {
    let s = parse(&format!(
        "{BASE}fleet: {{ clusters: 2 }}\nfaults:\n\
  - {{ kind: drift, change: scale, arrival: poisson, mean_interval: 2h }}\n\
  - {{ kind: bad_release, at: 40m, rollback_after: 5m }}\n\
  - {{ kind: git_outage, at: 50m, duration: 5m }}\n\
  - {{ kind: api_brownout, at: 20m, duration: 10m, latency: {{dist: fixed, value: 2s}}, error_rate: 0.2 }}\n\
  - {{ kind: partition, between: [pipeline, cluster], at: 10m, duration: 20m }}\n\
  - {{ kind: partition, between: [git, reconciler], at: 10m, duration: 20m }}\n\
  - {{ kind: reconciler_crash, at: 30m, restart_after: 30s }}\n\
  - {{ kind: runner_outage, at: 45m, duration: 10m }}\n\
  - {{ kind: cluster_loss, cluster: 1, at: 55m, rebuild_after: 5m }}\n"
    ))
    .unwrap();
    let kinds: Vec<&str> = s.faults.iter().map(|f| f.kind()).collect();
    assert_eq!(
        kinds,
        [
            "drift",
            "bad_release",
            "git_outage",
            "api_brownout",
            "partition",
            "partition",
            "reconciler_crash",
            "runner_outage",
            "cluster_loss"
        ]
    );
    assert_eq!(
        s.faults[5],
        Fault::Partition {
            between: Cut::ReconcilerGit,
            at: Dur(10 * MINUTE),
            duration: Dur(20 * MINUTE)
        }
    );
}

#[test]
fn bad_faults_are_refused_with_their_place() {
    let e = err(&format!(
        "{BASE}faults:\n  - {{ kind: partition, between: [pipeline, moon], at: 5m, duration: 1m }}\n"
    ));
    assert!(e.starts_with("test.yaml:4:"), "{e}");
    assert!(
        e.contains("faults[0]") && e.contains("[pipeline, cluster]"),
        "{e}"
    );
    let e = err(&format!("{BASE}faults:\n  - {{ kind: meteor, at: 5m }}\n"));
    assert!(e.contains("unknown fault kind `meteor`"), "{e}");
    let e = err(&format!(
        "{BASE}faults:\n  - {{ kind: git_outage, at: 5m }}\n"
    ));
    assert!(e.contains("needs `duration`"), "{e}");
    let e = err(&format!(
        "{BASE}faults:\n  - {{ kind: runner_outage, at: 5m, duration: 1m, change: env }}\n"
    ));
    assert!(
        e.contains("`change` does not apply to a `runner_outage`"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}faults:\n  - {{ kind: cluster_loss, cluster: 3, at: 5m, rebuild_after: 1m }}\n"
    ));
    assert!(
        e.contains("faults[0].cluster") && e.contains("cluster 3 does not exist"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}faults:\n  - {{ kind: api_brownout, at: 5m, duration: 1m, error_rate: 1.5 }}\n"
    ));
    assert!(e.contains("probability"), "{e}");
}

#[test]
fn fault_after_the_horizon_is_located() {
    let e = err(&format!(
        "{BASE}faults:\n  - kind: drift\n    change: env\n    at: 2h\n"
    ));
    assert!(e.starts_with("test.yaml:6:5: faults[0].at:"), "{e}");
}

#[test]
fn replay_reads_offsets_through_the_resolver() {
    let mut s = parse(&format!(
        "{BASE}workload:\n  commits: {{ arrival: replay, repo: ../repo }}\n"
    ))
    .unwrap();
    let Arrival::Replay { repo, branch, .. } = &s.workload.commits else {
        panic!()
    };
    assert_eq!((repo.as_str(), branch.as_str()), ("../repo", "main"));
    s.resolve_replay(Path::new("/base"), |p, b| {
        assert_eq!((p, b), (Path::new("/base/../repo"), "main"));
        Ok::<_, String>(vec![0, 60 * SECOND, 90 * SECOND])
    })
    .unwrap();
    let plan = crate::plan::Plan::draw(&s, 0);
    let times: Vec<Nanos> = plan.commits.iter().map(|c| c.at).collect();
    assert_eq!(times, [SECOND, 61 * SECOND, 91 * SECOND]);
    let e = err(&format!(
        "{BASE}workload:\n  commits: {{ arrival: replay }}\n"
    ));
    assert!(
        e.contains("workload.commits") && e.contains("needs `repo`"),
        "{e}"
    );
}

#[test]
fn expanded_scenario_serializes() {
    let s = parse(BASE).unwrap();
    let y = serde_json::to_string(&s).unwrap();
    assert!(y.contains("\"preset\":\"argocd\""), "{y}");
    assert!(y.contains("\"drift_check\":\"none\""), "{y}");
}
