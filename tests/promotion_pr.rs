//! Promotion by pull request (`environments[].promotion: pull-request`): a pull setup's
//! change enters the environment's path when a reviewed PR is merged, after the gate and
//! apart from it. A review of fixed delay D adds exactly D to the lead time of a one-step
//! promotion; a gate and a PR are both paid; push pipelines are unaffected; each merge is
//! an event with its review time.

use pushpull::measure::{EventKind, RunRecord};
use pushpull::metric::Metric;
use pushpull::scenario::{Nanos, SECOND, Scenario};
use std::collections::BTreeMap;

const MINUTE: Nanos = 60 * SECOND;

/// dev → prod, one cluster each, deterministic CI, applies and rollouts; the pull
/// reconciler is told of every commit at once by a webhook, so only the promotion moves.
fn scenario(prod: &str) -> Scenario {
    let yaml = format!(
        "name: promo\nduration: 48h\nseed: 3\nrepetitions: 2\n\
         fleet:\n  clusters: [{{name: dev-1, environment: dev}}, {{name: prod-1, environment: prod}}]\n  apps: 4\n  replicas: 2\n  rollout: {{ pod_start: {{ dist: fixed, value: 5s }}, max_surge: 1, max_unavailable: 0 }}\n\
         environments:\n  - {{ name: dev }}\n  - {{ name: prod{prod} }}\n\
         workload: {{ commits: {{ arrival: fixed, interval: 6h }} }}\n\
         ci: {{ queue_wait: 0s, build: {{ dist: fixed, value: 1m }}, runners: 50, concurrency: queue }}\n\
         models:\n  gha: {{ kind: push, preset: github-actions, runners: 50, concurrency: queue, apply: {{ dist: fixed, value: 2s }} }}\n  \
         argocd: {{ kind: pull, preset: argocd, apply: {{ dist: fixed, value: 1s }}, webhook: {{ delay: 0s }}, write_back: {{ method: ci-commit, git_push: 0s }} }}\n"
    );
    Scenario::parse(&yaml, "promo.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn runs(s: &Scenario) -> BTreeMap<String, Vec<RunRecord>> {
    pushpull::sim::run(s, 2).into_iter().collect()
}

/// Per (repetition, commit): the lead time (source commit → rolled out in prod).
fn lead_times(recs: &[RunRecord]) -> BTreeMap<(usize, u32), Nanos> {
    recs.iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.samples
                .iter()
                .filter(|s| s.metric == Metric::LeadTime)
                .map(move |s| {
                    (
                        (i, s.commit.expect("a lead time names its commit")),
                        s.value(),
                    )
                })
        })
        .collect()
}

/// `with` − `without`, commit by commit, for setup `setup`: every difference, which must
/// all be the same.
fn shift(with: &Scenario, without: &Scenario, setup: &str) -> Nanos {
    let (a, b) = (runs(with), runs(without));
    let (a, b) = (lead_times(&a[setup]), lead_times(&b[setup]));
    assert!(a.len() >= 12, "{setup}: {} lead times", a.len());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{setup}: the same commits reach prod"
    );
    let diffs: Vec<i128> = a.iter().map(|(k, &v)| v as i128 - b[k] as i128).collect();
    assert!(
        diffs.iter().all(|&d| d == diffs[0]),
        "{setup}: differences {diffs:?}"
    );
    diffs[0] as Nanos
}

#[test]
fn a_promotion_pr_reviewed_in_fixed_d_adds_d_to_the_lead_time_of_pull_only() {
    let d = 30 * MINUTE;
    let pr = scenario(", promotion: { method: pull-request, review: { dist: fixed, value: 30m } }");
    let ci = scenario("");
    assert_eq!(shift(&pr, &ci, "argocd"), d);
    // A push pipeline deploys each environment itself: no promotion commit, no PR.
    assert_eq!(shift(&pr, &ci, "gha"), 0);
    // Each merge is in the timeline with its review time, just before the promotion.
    let r = runs(&pr);
    let merged: Vec<&str> = r["argocd"][0]
        .events
        .iter()
        .filter(|e| e.kind == EventKind::PromotionMerged)
        .map(|e| e.detail.as_str())
        .collect();
    assert!(merged.len() >= 6, "{merged:?}");
    assert!(
        merged
            .iter()
            .all(|m| m.starts_with("env=prod ") && m.ends_with("review_s=1800.000000")),
        "{merged:?}"
    );
}

#[test]
fn a_gate_and_a_promotion_pr_are_both_paid() {
    let both = scenario(
        ", gate: { soak: 10m }, promotion: { method: pull-request, review: { dist: fixed, value: 30m } }",
    );
    let gate_only = scenario(", gate: { soak: 10m }");
    let neither = scenario("");
    assert_eq!(shift(&both, &gate_only, "argocd"), 30 * MINUTE);
    assert_eq!(shift(&both, &neither, "argocd"), 40 * MINUTE);
}

#[test]
fn a_promotion_on_the_first_environment_or_an_unknown_method_is_refused() {
    let first = "name: p\nduration: 1h\nfleet:\n  clusters: [{name: a, environment: dev}, {name: b, environment: prod}]\n\
                 environments:\n  - { name: dev, promotion: pull-request }\n  - { name: prod }\n";
    let e = Scenario::parse(first, "p.yaml").unwrap_err().to_string();
    assert!(
        e.contains("p.yaml:6")
            && e.contains("environments[0].promotion")
            && e.contains("first environment"),
        "{e}"
    );
    let unknown = first.replace(
        "{ name: dev, promotion: pull-request }\n  - { name: prod }",
        "{ name: dev }\n  - { name: prod, promotion: merge-train }",
    );
    let e = Scenario::parse(&unknown, "p.yaml").unwrap_err().to_string();
    assert!(
        e.contains("environments[1].promotion.method")
            && e.contains("`ci-commit` or `pull-request`"),
        "{e}"
    );
}
