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
    let s = load_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/quickstart.yaml"
    )))
    .unwrap();
    assert_eq!(s.name, "quickstart");
    assert_eq!(
        s.models
            .get("pull")
            .and_then(|m| m.pull())
            .unwrap()
            .poll
            .interval,
        Dur(120 * SECOND)
    );
    assert_eq!(
        s.models
            .get("pull")
            .and_then(|m| m.pull())
            .unwrap()
            .poll
            .jitter,
        Dur(60 * SECOND)
    );
    assert_eq!(
        s.models
            .get("push")
            .and_then(|m| m.push())
            .unwrap()
            .concurrency,
        Concurrency::CancelPending
    );
    assert_eq!(s.faults.len(), 5);
}

#[test]
fn explicit_keys_override_the_preset_one_by_one() {
    let s = parse(&format!(
        "{BASE}models:\n  pull:\n    preset: flux\n    poll: {{ jitter: 5s }}\n  push:\n    preset: jenkins\n    runners: 7\n"
    ))
    .unwrap();
    assert_eq!(
        s.models
            .get("pull")
            .and_then(|m| m.pull())
            .unwrap()
            .poll
            .interval,
        Dur(57 * SECOND),
        "interval kept from flux"
    );
    assert_eq!(
        s.models
            .get("pull")
            .and_then(|m| m.pull())
            .unwrap()
            .poll
            .jitter,
        Dur(5 * SECOND)
    );
    assert_eq!(
        s.models
            .get("pull")
            .and_then(|m| m.pull())
            .unwrap()
            .drift_detection,
        DriftDetection::Interval
    );
    assert_eq!(
        s.models.get("push").and_then(|m| m.push()).unwrap().runners,
        7
    );
    assert_eq!(
        s.models
            .get("push")
            .and_then(|m| m.push())
            .unwrap()
            .queue_wait,
        Dist::fixed(5 * SECOND)
    );
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
fn max_unavailable_over_100_percent_is_refused_max_surge_over_100_percent_is_not() {
    let e = err(&format!(
        "{BASE}fleet:\n  rollout:\n    max_unavailable: 150%\n"
    ));
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(e.contains("fleet.rollout.max_unavailable"), "{e}");
    assert!(e.contains("at most 100%"), "{e}");
    assert!(parse(&format!("{BASE}fleet:\n  rollout:\n    max_surge: 150%\n")).is_ok());
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
    assert!(e.contains("not a share from 0 to 1"), "{e}");
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

/// The error for `extra` appended to a valid base, which must be located and name `key`.
fn located(extra: &str, key: &str) -> String {
    let e = err(&format!("{BASE}{extra}"));
    assert!(e.starts_with("test.yaml:"), "not located: {e}");
    assert!(
        e.split(':')
            .nth(1)
            .is_some_and(|l| l.parse::<usize>().is_ok()),
        "no line: {e}"
    );
    assert!(e.contains(key), "does not name {key}: {e}");
    e
}

#[test]
fn replicas_beyond_int32_are_refused_with_the_kubernetes_limit() {
    let e = located("fleet:\n  replicas: 2147483648\n", "fleet.replicas");
    assert!(e.starts_with("test.yaml:4:"), "{e}");
    assert!(e.contains("int32") && e.contains("2147483647"), "{e}");
    assert!(parse(&format!("{BASE}fleet:\n  replicas: 2147483647\n")).is_ok());
    let e = located(
        "fleet:\n  rollout:\n    max_surge: 2147483648\n",
        "fleet.rollout.max_surge",
    );
    assert!(e.contains("int32"), "{e}");
}

#[test]
fn fleet_and_repetition_counts_have_bounds_that_say_why() {
    let e = located("fleet:\n  clusters: 100000\n", "fleet.clusters");
    assert!(e.contains("10000"), "{e}");
    let e = located("fleet:\n  apps: 1000000\n", "fleet.apps");
    assert!(e.contains("100000"), "{e}");
    let e = located("fleet:\n  clusters: 10000\n  apps: 10000\n", "fleet.apps");
    assert!(e.contains("u32"), "{e}");
    let e = located("repetitions: 100000\n", "repetitions");
    assert!(e.contains("10000"), "{e}");
    let e = located(
        "models:\n  push:\n    runners: 100000\n",
        "models.push.runners",
    );
    assert!(e.contains("10000"), "{e}");
}

#[test]
fn floats_and_text_where_counts_belong_are_refused_with_the_line() {
    for (extra, key) in [
        ("fleet:\n  clusters: !!float 1\n", "fleet.clusters"),
        ("fleet:\n  clusters: 1e9\n", "fleet.clusters"),
        ("fleet:\n  apps: \"10\"\n", "fleet.apps"),
        ("repetitions: 1e9\n", "repetitions"),
        ("seed: \"7\"\n", "seed"),
        ("time_scale: \"0.5\"\n", "time_scale"),
        ("time_scale: true\n", "time_scale"),
        (
            "faults:\n  - { kind: api_brownout, at: 5m, duration: 1m, error_rate: \"0.3\" }\n",
            "faults[0]",
        ),
    ] {
        let e = located(extra, key);
        assert!(
            e.contains("decimal number") || e.contains("text") || e.contains("true/false"),
            "{extra}: {e}"
        );
    }
}

#[test]
fn a_name_is_a_dns_label_of_at_most_63_and_never_a_bool_or_number() {
    for bad in ["name: true", "name: 123", "name: 1.5"] {
        let e = err(&format!("{bad}\nduration: 1h\n"));
        assert!(e.starts_with("test.yaml:1:") && e.contains("name"), "{e}");
        assert!(e.contains("quote it"), "{e}");
    }
    let long = "a".repeat(300);
    let e = err(&format!("name: {long}\nduration: 1h\n"));
    assert!(e.starts_with("test.yaml:1:"), "{e}");
    assert!(e.contains("63") && e.contains("300 characters"), "{e}");
    for bad in ["-a", "a-", "A", "a_b"] {
        let e = err(&format!("name: {bad}\nduration: 1h\n"));
        assert!(e.contains("DNS-1123"), "{bad}: {e}");
    }
    assert!(parse(&format!("name: {}\nduration: 1h\n", "a".repeat(63))).is_ok());
    assert!(parse("name: \"123\"\nduration: 1h\n").is_ok());
}

#[test]
fn durations_over_a_hundred_years_are_refused_where_written() {
    let e = err("name: t\nduration: 584y\n");
    assert!(e.starts_with("test.yaml:2:"), "{e}");
    assert!(e.contains("at most 100 years"), "{e}");
    let e = err(
        "name: t\nduration: 200days\nfaults:\n  - { kind: git_outage, at: 199days, duration: 584y }\n",
    );
    assert!(
        e.starts_with("test.yaml:4:") && e.contains("100 years"),
        "{e}"
    );
    let e = err(
        "name: t\nduration: 200days\nfaults:\n  - { kind: bad_release, at: 199days, rollback_after: 584y }\n",
    );
    assert!(
        e.starts_with("test.yaml:4:") && e.contains("100 years"),
        "{e}"
    );
}

#[test]
fn time_scale_is_between_a_thousandth_and_one() {
    for x in ["1e300", "1e-300", "1e12", "0.0001", "2"] {
        let e = located(&format!("time_scale: {x}\n"), "time_scale");
        assert!(e.contains("0.001..1"), "{x}: {e}");
    }
    assert!(parse(&format!("{BASE}time_scale: 0.005\n")).is_ok());
}

#[test]
fn intervals_that_would_spin_the_engine_are_refused() {
    for (extra, key) in [
        (
            "workload:\n  commits: { arrival: poisson, mean_interval: 1ns }\n",
            "workload.commits.mean_interval",
        ),
        (
            "workload:\n  commits: { arrival: fixed, interval: 10us }\n",
            "workload.commits.interval",
        ),
        (
            "faults:\n  - { kind: drift, change: env, arrival: poisson, mean_interval: 1ns }\n",
            "faults[0]",
        ),
        (
            "models:\n  push:\n    drift_check: { every: 1ns }\n",
            "models.push.drift_check",
        ),
        (
            "models:\n  pull:\n    retry: { initial: 0s, max: 0s }\n",
            "models.pull.retry.initial",
        ),
        (
            "models:\n  pull:\n    retry: { max: 0s }\n",
            "models.pull.retry.max",
        ),
        (
            "models:\n  pull:\n    self_heal: { initial: 0s }\n",
            "models.pull.self_heal.initial",
        ),
        (
            "models:\n  pull:\n    self_heal: { cooldown: 0s }\n",
            "models.pull.self_heal.cooldown",
        ),
        (
            "models:\n  pull:\n    preset: flux\n    self_heal: { cooldown: 0s }\n",
            "models.pull.self_heal.cooldown",
        ),
        (
            "models:\n  pull:\n    reconcile_interval: 0s\n",
            "models.pull.reconcile_interval",
        ),
        (
            "models:\n  pull:\n    poll: { interval: 1ns }\n",
            "models.pull.poll.interval",
        ),
    ] {
        let e = located(extra, key);
        assert!(e.contains("1ms"), "{extra}: {e}");
    }
    // The Flux preset's cooldown of 0 is unused (Flux does not self-heal on watch).
    assert!(parse(&format!("{BASE}models:\n  pull:\n    preset: flux\n")).is_ok());
}

#[test]
fn progress_deadline_is_int32_seconds_above_zero() {
    for d in ["0s", "500ms", "69y"] {
        let e = located(
            &format!("fleet:\n  rollout:\n    progress_deadline: {d}\n"),
            "fleet.rollout.progress_deadline",
        );
        assert!(e.contains("int32"), "{d}: {e}");
    }
}

#[test]
fn backoff_factor_and_tolerance_have_upper_bounds() {
    let e = located(
        "models:\n  pull:\n    retry: { factor: 1e9 }\n",
        "models.pull.retry",
    );
    assert!(e.contains("1000"), "{e}");
    let e = located(
        "thresholds:\n  - { model: pull, metric: deploy_latency, quantile: p95, max: 10m, tolerance: 1000000% }\n",
        "thresholds[0].tolerance",
    );
    assert!(e.contains("10000%"), "{e}");
}

#[test]
fn deep_yaml_nesting_is_refused_at_its_line_quickly() {
    let n = 160_000;
    let text = format!(
        "name: t\nduration: 1h\nfleet:\n{}{}\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    let t = std::time::Instant::now();
    let e = parse(&text).unwrap_err().to_string();
    assert!(t.elapsed().as_millis() < 500, "{:?}", t.elapsed());
    assert!(e.starts_with("test.yaml:4:"), "{e}");
    assert!(e.contains("deeper than 64"), "{e}");
}

#[test]
fn every_shipped_scenario_is_within_bounds() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            load_file(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 10, "{n} scenarios");
}

/// A scenario file of the repository, read for a test (the core itself never reads files).
pub(crate) fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    Scenario::parse(decode(&bytes, &file)?, &file)
}

// ---------------------------------------------------------------- named setups

/// `models:` with one line per setup, `name: {body}`.
fn setups(lines: &[&str]) -> String {
    let mut s = format!("{BASE}models:\n");
    for l in lines {
        s.push_str(&format!("  {l}\n"));
    }
    s
}

fn names(s: &Scenario) -> Vec<(&str, ModelKind, &str)> {
    s.models
        .setups
        .iter()
        .map(|x| (x.name.as_str(), x.kind(), x.preset()))
        .collect()
}

#[test]
fn named_setups_keep_the_written_order_and_the_first_is_the_baseline() {
    let s = parse(&setups(&[
        "flux: {kind: pull, preset: flux}",
        "gha: {kind: push, preset: github-actions}",
        "argocd: {kind: pull, preset: argocd, poll: {interval: 30s}}",
    ]))
    .unwrap();
    assert_eq!(
        names(&s),
        [
            ("flux", ModelKind::Pull, "flux"),
            ("gha", ModelKind::Push, "github-actions"),
            ("argocd", ModelKind::Pull, "argocd"),
        ]
    );
    assert_eq!(s.baseline, "flux");
    let argocd = s.models.get("argocd").and_then(|m| m.pull()).unwrap();
    assert_eq!(argocd.poll.interval, Dur(30 * SECOND));
    // The preset's other keys stay.
    assert_eq!(
        argocd.reconcile_interval,
        PullConfig::preset(models::PullPreset::Argocd).reconcile_interval
    );
    let s = parse(&format!(
        "{}baseline: argocd\n",
        setups(&["gha: {kind: push}", "argocd: {kind: pull}"])
    ))
    .unwrap();
    assert_eq!(s.baseline, "argocd");
}

#[test]
fn push_and_pull_keys_are_the_legacy_form_push_first_the_missing_one_at_defaults() {
    let s = parse(&setups(&["pull: {preset: flux}", "push: {runners: 3}"])).unwrap();
    assert_eq!(
        names(&s),
        [
            ("push", ModelKind::Push, "github-actions"),
            ("pull", ModelKind::Pull, "flux"),
        ]
    );
    assert_eq!(s.baseline, "push");
    assert_eq!(
        s.models.get("push").and_then(|m| m.push()).unwrap().runners,
        3
    );
    let s = parse(&setups(&["pull: {preset: flux}"])).unwrap();
    assert_eq!(
        names(&s),
        [
            ("push", ModelKind::Push, "github-actions"),
            ("pull", ModelKind::Pull, "flux"),
        ]
    );
    assert_eq!(
        s.models.get("push").and_then(|m| m.push()),
        Some(&PushConfig::preset(models::PushPreset::GithubActions))
    );
    // No `models:` at all: both at their defaults.
    let s = parse(BASE).unwrap();
    assert_eq!(
        names(&s),
        [
            ("push", ModelKind::Push, "github-actions"),
            ("pull", ModelKind::Pull, "argocd"),
        ]
    );
}

#[test]
fn a_setup_without_kind_is_refused_at_its_line_with_the_fix() {
    let e = err(&setups(&["gha: {kind: push}", "argo: {preset: argocd}"]));
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(e.contains("models.argo"), "{e}");
    assert!(e.contains("no `kind`"), "{e}");
    assert!(e.contains("kind: push") && e.contains("kind: pull"), "{e}");
    let e = err(&setups(&["gha: {kind: push}", "argo: {kind: poll}"]));
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(
        e.contains("models.argo.kind") && e.contains("`poll`"),
        "{e}"
    );
}

#[test]
fn one_setup_or_nine_are_refused_with_the_bounds() {
    let e = err(&setups(&["gha: {kind: push}"]));
    assert!(e.starts_with("test.yaml:3:"), "{e}");
    assert!(e.contains("1 setups") && e.contains("2 to 8"), "{e}");
    let nine: Vec<String> = (0..9).map(|i| format!("s{i}: {{kind: pull}}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    let e = err(&setups(&nine));
    assert!(e.contains("9 setups") && e.contains("2 to 8"), "{e}");
    let eight: Vec<String> = (0..8).map(|i| format!("s{i}: {{kind: pull}}")).collect();
    let eight: Vec<&str> = eight.iter().map(String::as_str).collect();
    assert_eq!(parse(&setups(&eight)).unwrap().models.setups.len(), 8);
}

#[test]
fn a_setup_name_that_is_not_a_dns_label_is_refused_at_its_line() {
    for bad in ["Argo", "argo_cd", "-x", "a.b"] {
        let e = err(&setups(&[
            "gha: {kind: push}",
            &format!("{bad}: {{kind: pull}}"),
        ]));
        // A dot reads as a key path separator, so `a.b` is located at `models:`.
        let line = if bad.contains('.') { 3 } else { 5 };
        assert!(e.starts_with(&format!("test.yaml:{line}:")), "{bad}: {e}");
        assert!(
            e.contains(&format!("`{bad}` is not a valid setup name")),
            "{bad}: {e}"
        );
    }
    let long = "a".repeat(bounds::MAX_SETUP_NAME + 1);
    let e = err(&setups(&[
        "gha: {kind: push}",
        &format!("{long}: {{kind: pull}}"),
    ]));
    assert!(e.contains("not a valid setup name"), "{e}");
}

#[test]
fn a_baseline_or_threshold_naming_no_setup_is_refused_with_the_setups() {
    let two = setups(&["gha: {kind: push}", "argocd: {kind: pull}"]);
    let e = err(&format!("{two}baseline: flux\n"));
    assert!(e.starts_with("test.yaml:6:"), "{e}");
    assert!(e.contains("baseline") && e.contains("`flux`"), "{e}");
    assert!(e.contains("gha, argocd"), "{e}");
    let e = err(&format!(
        "{two}thresholds:\n  - {{ model: push, metric: deploy_latency, quantile: p95, max: 10m }}\n"
    ));
    assert!(e.starts_with("test.yaml:7:"), "{e}");
    assert!(
        e.contains("thresholds[0].model") && e.contains("`push`"),
        "{e}"
    );
    assert!(e.contains("gha, argocd"), "{e}");
}

#[test]
fn an_unknown_key_inside_a_named_setup_is_refused_at_its_path_and_line() {
    let e = err(&format!(
        "{BASE}models:\n  gha:\n    kind: push\n  argocd:\n    kind: pull\n    pol: {{interval: 1m}}\n"
    ));
    assert!(e.starts_with("test.yaml:8:"), "{e}");
    assert!(e.contains("models.argocd.pol"), "{e}");
    assert!(e.contains("unknown field `pol`"), "{e}");
    // A push key in a pull setup is unknown there too.
    let e = err(&format!(
        "{BASE}models:\n  gha:\n    kind: push\n  argocd:\n    kind: pull\n    runners: 2\n"
    ));
    assert!(e.starts_with("test.yaml:8:"), "{e}");
    assert!(e.contains("models.argocd.runners"), "{e}");
}

#[test]
fn without_a_ci_block_the_ci_is_the_first_push_setups_pipeline() {
    let s = parse(&format!(
        "{BASE}models:\n  jk: {{ kind: push, preset: jenkins }}\n  gha: {{ kind: push }}\n  argo: {{ kind: pull }}\n"
    ))
    .unwrap();
    let ci = s.ci.expect("a CI stage by default");
    assert_eq!(ci.from, "jk");
    assert_eq!(ci.queue_wait, Dist::fixed(5 * SECOND));
    assert_eq!(ci.concurrency, Concurrency::Fold);
    let only_pull = parse(&format!(
        "{BASE}models:\n  a: {{ kind: pull }}\n  b: {{ kind: pull, preset: flux }}\n"
    ))
    .unwrap();
    assert_eq!(only_pull.ci.expect("a CI stage").from, "github-actions");
}

#[test]
fn a_ci_block_is_every_setups_ci_and_ci_none_drops_the_stage() {
    let s = parse(&format!(
        "{BASE}ci: {{ build: {{ dist: fixed, value: 90s }}, runners: 3 }}\nmodels:\n  push: {{}}\n  pull: {{}}\n"
    ))
    .unwrap();
    let ci = s.ci.as_ref().expect("a CI stage");
    assert_eq!((ci.from.as_str(), ci.runners), ("ci", 3));
    let push = s.models.get("push").and_then(|m| m.push()).unwrap();
    assert_eq!(
        push.build,
        Dist::fixed(90 * SECOND),
        "the push setup builds as the block says"
    );
    let none = parse(&format!(
        "{BASE}ci: none\nmodels:\n  push: {{}}\n  pull: {{}}\n"
    ))
    .unwrap();
    assert!(none.ci.is_none());
}

#[test]
fn a_ci_key_written_twice_and_a_bad_write_back_are_refused_with_their_path() {
    let e = err(&format!(
        "{BASE}ci: {{ build: {{ dist: fixed, value: 90s }} }}\nmodels:\n  gha: {{ kind: push, build: {{ dist: fixed, value: 1m }} }}\n  pull: {{ kind: pull }}\n"
    ));
    assert!(e.contains("models.gha") && e.contains("under `ci:`"), "{e}");
    let e = err(&format!(
        "{BASE}models:\n  push: {{}}\n  pull: {{ write_back: git-push }}\n"
    ));
    assert!(
        e.contains("models.pull.write_back") && e.contains("`ci-commit`"),
        "{e}"
    );
    let e = err(&format!(
        "{BASE}models:\n  push: {{}}\n  pull: {{ write_back: {{ method: image-automation, scan_interval: 0s }} }}\n"
    ));
    assert!(e.contains("models.pull.write_back.scan_interval"), "{e}");
}

#[test]
fn write_back_presets_follow_the_pull_tool() {
    let s = parse(&format!(
        "{BASE}models:\n  push: {{}}\n  argo: {{ kind: pull, write_back: image-automation }}\n  flux: {{ kind: pull, preset: flux, write_back: {{ method: image-automation }} }}\n  pr: {{ kind: pull, write_back: {{ method: pull-request, review: {{ dist: fixed, value: 1h }} }} }}\n"
    ))
    .unwrap();
    let wb = |n: &str| {
        s.models
            .get(n)
            .and_then(|m| m.pull())
            .unwrap()
            .write_back
            .clone()
    };
    assert_eq!(
        (wb("argo").scan_interval, wb("argo").update_interval),
        (Dur(2 * MINUTE), Dur(0))
    );
    assert_eq!(
        (wb("flux").scan_interval, wb("flux").update_interval),
        (Dur(5 * MINUTE), Dur(30 * MINUTE))
    );
    assert_eq!(wb("pr").method, WriteBackMethod::PullRequest);
    assert_eq!(wb("pr").review, Dist::fixed(crate::scenario::HOUR));
    let default = parse(&format!("{BASE}models:\n  push: {{}}\n  pull: {{}}\n")).unwrap();
    assert_eq!(
        default
            .models
            .get("pull")
            .and_then(|m| m.pull())
            .unwrap()
            .write_back
            .method,
        WriteBackMethod::CiCommit
    );
}

/// Shares are written as a number or a percentage wherever a fraction is, and a wrong
/// one is refused in the scenario's words, not the parser's types.
#[test]
fn a_share_is_accepted_as_a_percentage_and_refused_in_the_scenarios_words() {
    let brownout = |rate: &str| {
        format!(
            "{BASE}faults:\n  - {{ kind: api_brownout, at: 10m, duration: 5m, latency: 1s, error_rate: {rate} }}\n"
        )
    };
    let a = parse(&brownout("5%")).unwrap();
    let b = parse(&brownout("0.05")).unwrap();
    assert_eq!(a.faults, b.faults);
    for bad in ["150%", "1.5", "lots", "true"] {
        let e = err(&brownout(bad));
        assert!(e.contains("faults[0].error_rate"), "{e}");
        assert!(e.contains("a number like 0.05 or 5%"), "{bad}: {e}");
        assert!(!e.contains("f64"), "{e}");
    }
}

/// A value refused after it was read (a top-level count of 0) names its own line, not
/// the top of the file.
#[test]
fn a_refused_top_level_value_names_its_line() {
    let e = err("description: x\nseed: 3\nname: t\nduration: 1h\nrepetitions: 0\n");
    assert!(e.starts_with("test.yaml:5:"), "{e}");
    assert!(!e.contains("nonzero"), "{e}");
}

/// A bad `name` points at the `name` line wherever it is.
#[test]
fn a_bad_name_points_at_the_name_line() {
    let e = err("description: x\nseed: 3\nname: Bad Name!\nduration: 1h\n");
    assert!(e.starts_with("test.yaml:3:"), "{e}");
    assert!(e.contains("name"), "{e}");
}

/// A fault's cluster given as a negative or fractional number is refused as a number,
/// not as a missing "option".
#[test]
fn a_fault_cluster_that_is_not_an_index_says_what_an_index_is() {
    for bad in ["-1", "1.5"] {
        let e = err(&format!(
            "{BASE}faults:\n  - {{ kind: drift, change: scale, at: 10m, cluster: {bad} }}\n"
        ));
        assert!(e.contains("faults[0].cluster"), "{e}");
        assert!(!e.contains("expected option"), "{e}");
        assert!(e.contains("whole number"), "{e}");
    }
}
