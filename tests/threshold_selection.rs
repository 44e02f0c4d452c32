//! Thresholds on part of the fleet (`cluster:`, `app:`, `environment:`): the figure is
//! computed from the selected samples only, so a fleet-wide figure that holds can hide a
//! cluster, app or environment that breaches, and the reverse. Unknown names are refused
//! with the known ones, exit 2.

use pushpull::measure::summary::Summary;
use pushpull::scenario::Scenario;
use std::process::Command;

/// Pods start in exactly 10 s with maxUnavailable 0 and maxSurge 1, so a rollout takes
/// ceil(replicas / 1) waves of 10 s: the 19 `web` apps (2 replicas) 20 s, the one
/// `batch` app (4 replicas) 40 s. One app per commit, chosen uniformly: about 5% of the
/// rollouts are `batch`'s, so the fleet's p50 is 20 s and its max 40 s.
const GROUPS: &str = "name: groups\nduration: 24h\nseed: 11\nrepetitions: 2\n\
     fleet:\n  clusters: [{ name: prod-eu }, { name: prod-us }]\n  replicas: 2\n\
     \x20 rollout: { pod_start: { dist: fixed, value: 10s }, max_surge: 1, max_unavailable: 0 }\n\
     \x20 apps:\n    - { prefix: web, count: 19 }\n    - { name: batch, replicas: 4 }\n\
     workload: { commits: { arrival: fixed, interval: 10m } }\n\
     models:\n  gha: { kind: push, preset: github-actions }\n  argocd: { kind: pull, preset: argocd }\n";

fn judged(thresholds: &str) -> Summary {
    let yaml = format!("{GROUPS}thresholds:\n{thresholds}");
    let s = Scenario::parse(&yaml, "test.yaml").expect("valid scenario");
    let runs = pushpull::sim::run(&s, 2);
    Summary::build(&s, "sim", &runs)
}

#[test]
fn an_app_selection_breaches_where_the_fleet_wide_figure_holds_and_the_reverse() {
    let s = judged(
        "  - { model: argocd, metric: rollout, quantile: p50, max: 30s }\n\
         \x20 - { model: argocd, metric: rollout, quantile: p50, max: 30s, app: batch }\n\
         \x20 - { model: argocd, metric: rollout, quantile: max, max: 30s }\n\
         \x20 - { model: argocd, metric: rollout, quantile: max, max: 30s, app: web }\n\
         \x20 - { model: gha, metric: rollout, quantile: p50, max: 30s, cluster: prod-us, app: batch }\n",
    );
    let t = &s.thresholds;
    let fig = |i: usize| t[i].value_s.expect("a figure");
    // Fleet-wide p50: a web rollout, 20 s; batch alone: 40 s.
    assert_eq!((fig(0), t[0].ok), (20.0, true));
    assert_eq!((fig(1), t[1].ok), (40.0, false));
    assert_eq!(t[1].selection.as_deref(), Some("app batch"));
    // Fleet-wide max: batch's 40 s; the web group alone never exceeds 20 s.
    assert_eq!((fig(2), t[2].ok), (40.0, false));
    assert_eq!((fig(3), t[3].ok), (20.0, true));
    assert_eq!(t[3].selection.as_deref(), Some("app group web"));
    // A cluster and an app together: batch's rollouts on prod-us, 40 s each.
    assert_eq!((fig(4), t[4].ok), (40.0, false));
    assert_eq!(
        t[4].selection.as_deref(),
        Some("cluster prod-us, app batch")
    );
    // The selected counts add up: batch's rollouts and web's are every rollout.
    let all = s.model("argocd").unwrap().metric("rollout").unwrap().count;
    assert_eq!(t[1].n.unwrap() + t[3].n.unwrap(), all);
    assert!(
        t[1].n.unwrap() > 0 && t[1].n.unwrap() * 10 < all,
        "{:?}",
        t[1].n
    );
    // The breach names the selection wherever a threshold is shown.
    let line = pushpull::run::sweep_breaches(&[("v".into(), "v".into(), s.clone())]);
    assert!(
        line.iter()
            .any(|l| l
                .contains("argocd rollout p50 in app batch is 40.0s, over its threshold of 30.0s")),
        "{line:?}"
    );
}

/// One prod cluster among twenty, behind a one-hour soak: every prod deploy starts at
/// its source commit and waits the soak after dev, so each takes more than 1 h, while the
/// 19 dev clusters' deploys take minutes. The prod samples are 5% of all, so the fleet's
/// p50 is a dev figure.
#[test]
fn an_environment_selection_bounds_only_its_clusters() {
    let mut clusters: Vec<String> = (0..19)
        .map(|i| format!("{{ name: dev-{i}, environment: dev }}"))
        .collect();
    clusters.push("{ name: prod-1, environment: prod }".into());
    let yaml = format!(
        "name: envs\nduration: 12h\nseed: 5\nfleet:\n  clusters: [{}]\n  apps: 4\n\
         environments:\n  - {{ name: dev }}\n  - {{ name: prod, gate: {{ soak: 1h }} }}\n\
         workload: {{ commits: {{ arrival: fixed, interval: 30m }} }}\n\
         models:\n  gha: {{ kind: push, preset: github-actions }}\n  argocd: {{ kind: pull, preset: argocd }}\n\
         thresholds:\n\
         \x20 - {{ model: argocd, metric: deploy_latency, quantile: p50, max: 1h }}\n\
         \x20 - {{ model: argocd, metric: deploy_latency, quantile: p50, max: 1h, environment: prod }}\n\
         \x20 - {{ model: argocd, metric: deploy_latency, quantile: max, max: 1h, environment: dev }}\n\
         \x20 - {{ model: argocd, metric: deploy_latency, quantile: max, max: 1h }}\n",
        clusters.join(", ")
    );
    let s = Scenario::parse(&yaml, "test.yaml").expect("valid scenario");
    let runs = pushpull::sim::run(&s, 1);
    let sum = Summary::build(&s, "sim", &runs);
    let t = &sum.thresholds;
    assert!(t[0].ok, "fleet-wide p50 {:?}", t[0].value_s);
    // Every prod sample (completed or still open) exceeds the soak: its p50 is over 1 h.
    assert!(!t[1].ok, "prod p50 {:?}", t[1].value_s);
    assert!(
        t[1].value_s.is_none_or(|v| v > 3600.0),
        "{:?}",
        t[1].value_s
    );
    assert_eq!(t[1].selection.as_deref(), Some("environment prod"));
    // Dev alone holds the 1 h max; the fleet's max is a prod deploy, over it.
    assert!(t[2].ok, "dev max {:?}", t[2].value_s);
    assert!(!t[3].ok, "fleet max {:?}", t[3].value_s);
}

fn validate(yaml: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_cluster_app_or_environment_in_a_threshold_is_refused_naming_the_known_ones() {
    let cases = [
        (
            "{ model: argocd, metric: rollout, quantile: p50, max: 30s, cluster: prod-ap }",
            "thresholds[0].cluster",
            "the clusters are prod-eu, prod-us",
        ),
        (
            "{ model: argocd, metric: rollout, quantile: p50, max: 30s, app: api }",
            "thresholds[0].app",
            "the app groups are web",
        ),
        (
            "{ model: argocd, metric: rollout, quantile: p50, max: 30s, environment: prod }",
            "thresholds[0].environment",
            "no cluster of this fleet names an environment",
        ),
        (
            "{ model: argocd, metric: rollout, quantile: p50, max: 30s, cluster: 7 }",
            "thresholds[0].cluster",
            "clusters are numbered 0..2",
        ),
        (
            "{ model: argocd, metric: apply_errors, max: 3, cluster: prod-eu }",
            "thresholds[0].cluster",
            "counted over the whole fleet",
        ),
        (
            "{ model: argocd, metric: rollout, quantile: p50, max: 30s, app: web, tolerance: 5% }",
            "thresholds[0].tolerance",
            "compares the whole fleet's figures",
        ),
        (
            "{ model: argocd, metric: lead_time, quantile: p50, max: 1h, cluster: prod-eu }",
            "thresholds[0].cluster",
            "measured once for the whole fleet",
        ),
    ];
    for (threshold, key, says) in cases {
        let (code, err) = validate(&format!("{GROUPS}thresholds:\n  - {threshold}\n"));
        assert_eq!(code, 2, "{threshold}: {err}");
        assert!(
            err.contains(key) && err.contains(says),
            "{threshold}: {err}"
        );
        // The threshold's line (the scenario's last).
        let line = GROUPS.lines().count() + 2;
        assert!(
            err.contains(&format!("bad.yaml:{line}")),
            "{threshold}: {err}"
        );
    }
}
