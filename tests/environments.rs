//! Environments and promotion: a gate adds what its closed form says to the lead time
//! (a soak exactly its length, an approval its mean), a zero-delay gate adds nothing but
//! the next environment's own deploy path, the stages still add up to deploy_latency,
//! every setup meets the same reviewer delays for the same commit, and `environments:`
//! mistakes are refused with their line.

use pushpull::measure::RunRecord;
use pushpull::metric::Metric;
use pushpull::scenario::{Nanos, SECOND, Scenario};
use std::collections::BTreeMap;

const MINUTE: Nanos = 60 * SECOND;

/// Two environments of one cluster each (dev, prod), deterministic CI, applies and
/// rollouts; a push pipeline with room for every run and a pull reconciler told of each
/// commit at once by a webhook; `gate` stands before prod.
fn scenario(gate: &str, commits: &str, duration: &str, reps: u32) -> Scenario {
    let yaml = format!(
        "name: envs\nduration: {duration}\nseed: 11\nrepetitions: {reps}\n\
         fleet:\n  clusters: [{{name: dev-1, environment: dev}}, {{name: prod-1, environment: prod}}]\n  apps: 4\n  replicas: 2\n  rollout: {{ pod_start: {{ dist: fixed, value: 5s }}, max_surge: 1, max_unavailable: 0 }}\n\
         environments:\n  - {{ name: dev }}\n  - {{ name: prod, gate: {gate} }}\n\
         workload: {{ commits: {commits} }}\n\
         ci: {{ queue_wait: 0s, build: {{ dist: fixed, value: 1m }}, runners: 50, concurrency: queue }}\n\
         models:\n  gha: {{ kind: push, preset: github-actions, runners: 50, concurrency: queue, apply: {{ dist: fixed, value: 2s }} }}\n  \
         argocd: {{ kind: pull, preset: argocd, apply: {{ dist: fixed, value: 1s }}, webhook: {{ delay: 0s }}, write_back: {{ method: ci-commit, git_push: 0s }} }}\n"
    );
    Scenario::parse(&yaml, "envs.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario) -> BTreeMap<String, Vec<RunRecord>> {
    pushpull::sim::run(s, 2).into_iter().collect()
}

/// Per (repetition, commit, cluster): the sample's value (cluster `u32::MAX` for a
/// per-commit metric).
fn by_commit(recs: &[RunRecord], m: Metric) -> BTreeMap<(usize, u32, u32), Nanos> {
    recs.iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.samples
                .iter()
                .filter(move |s| s.metric == m)
                .map(move |s| {
                    (
                        (
                            i,
                            s.commit.expect("a deploy sample names its commit"),
                            s.cluster.unwrap_or(u32::MAX),
                        ),
                        s.value(),
                    )
                })
        })
        .collect()
}

/// Commits far apart: no change overtakes another at a gate.
const SPARSE: &str = "{ arrival: fixed, interval: 6h }";

#[test]
fn a_fixed_soak_adds_exactly_its_length_to_every_commits_lead_time() {
    let none = run(&scenario("{ soak: 0s }", SPARSE, "72h", 2));
    let soak = run(&scenario("{ soak: 20m }", SPARSE, "72h", 2));
    for setup in ["gha", "argocd"] {
        let a = by_commit(&none[setup], Metric::LeadTime);
        let b = by_commit(&soak[setup], Metric::LeadTime);
        assert!(a.len() >= 20, "{setup}: {} lead times", a.len());
        assert_eq!(a.len(), b.len(), "{setup}");
        for (k, v) in &a {
            assert_eq!(b[k], v + 20 * MINUTE, "{setup} {k:?}");
        }
        // The soak is the gate stage of the prod cluster, nothing else moved.
        let gates = by_commit(&soak[setup], Metric::Gate);
        assert!(
            gates
                .iter()
                .all(|((_, _, c), v)| *v == if *c == 1 { 20 * MINUTE } else { 0 })
        );
    }
}

#[test]
fn a_manual_approval_with_mean_d_adds_d_to_the_mean_and_the_same_delay_to_each_setup() {
    let d = 30 * MINUTE;
    let none = run(&scenario("{ soak: 0s }", SPARSE, "600h", 2));
    let gated = run(&scenario(
        "{ approval: { delay: { dist: exponential, mean: 30m } } }",
        SPARSE,
        "600h",
        2,
    ));
    let diffs = |setup: &str| -> BTreeMap<(usize, u32, u32), i128> {
        let a = by_commit(&none[setup], Metric::LeadTime);
        let b = by_commit(&gated[setup], Metric::LeadTime);
        a.iter()
            .filter_map(|(k, v)| b.get(k).map(|w| (*k, *w as i128 - *v as i128)))
            .collect()
    };
    let push = diffs("gha");
    let pull = diffs("argocd");
    assert!(push.len() >= 180, "{} commits", push.len());
    // Common random numbers: the reviewer takes as long for a commit whatever delivers it.
    assert_eq!(push, pull);
    let v: Vec<f64> = push.values().map(|&x| x as f64).collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let se = sd / n.sqrt();
    assert!(
        (mean - d as f64).abs() < 4.0 * se,
        "mean added {:.1}s, expected {:.1}s ± {:.1}s",
        mean / 1e9,
        d as f64 / 1e9,
        4.0 * se / 1e9
    );
}

#[test]
fn with_a_zero_delay_gate_the_lead_time_to_prod_is_the_lead_time_to_dev_plus_prods_own_deploy_path()
{
    let recs = run(&scenario("{ soak: 0s }", SPARSE, "72h", 2));
    for setup in ["gha", "argocd"] {
        let r = &recs[setup];
        let total = by_commit(r, Metric::DeployLatency);
        // The prod cluster's own deploy path: what follows the gate.
        let after_gate: Vec<Metric> = vec![
            Metric::DeployStart,
            Metric::Detect,
            Metric::Queue,
            Metric::Apply,
            Metric::Rollout,
        ];
        let parts: Vec<_> = after_gate.iter().map(|&m| by_commit(r, m)).collect();
        let mut n = 0;
        for ((rep, commit, c), v) in &total {
            if *c != 1 {
                continue;
            }
            let dev = total[&(*rep, *commit, 0)];
            let path: Nanos = parts
                .iter()
                .filter_map(|p| p.get(&(*rep, *commit, 1)))
                .sum();
            assert_eq!(*v, dev + path, "{setup} commit {commit}");
            // ... and that path is the same deploy as dev's own (deterministic applies and
            // rollouts; for pull the webhook makes detection immediate).
            let dev_path: Nanos = parts
                .iter()
                .filter_map(|p| p.get(&(*rep, *commit, 0)))
                .sum();
            assert_eq!(path, dev_path, "{setup} commit {commit}");
            n += 1;
        }
        assert!(n >= 20, "{setup}: {n} commits");
    }
}

#[test]
fn the_stages_with_promotion_and_gate_add_up_to_deploy_latency_in_every_environment() {
    let s = scenario(
        "{ approval: { delay: { dist: exponential, mean: 2h }, working_hours: { days: mon-fri, hours: 9-17 } } }",
        "{ arrival: poisson, mean_interval: 20m }",
        "48h",
        2,
    );
    let recs = run(&s);
    let stages = [
        Metric::CiQueue,
        Metric::Build,
        Metric::WriteBack,
        Metric::Promotion,
        Metric::Gate,
        Metric::DeployStart,
        Metric::Detect,
        Metric::Queue,
        Metric::Apply,
        Metric::Rollout,
    ];
    for (setup, r) in &recs {
        let total = by_commit(r, Metric::DeployLatency);
        let parts: Vec<_> = stages.iter().map(|&m| by_commit(r, m)).collect();
        assert!(total.len() > 100, "{setup}");
        for (k, v) in &total {
            let sum: Nanos = parts.iter().filter_map(|p| p.get(k)).sum();
            assert_eq!(sum, *v, "{setup} {k:?}");
        }
    }
    // Approvals wait for working hours: what the gate adds to the mean lead time is most
    // of it, in every setup.
    let free = run(&scenario(
        "{ soak: 0s }",
        "{ arrival: poisson, mean_interval: 20m }",
        "48h",
        2,
    ));
    let mean = |r: &[RunRecord]| {
        let v = by_commit(r, Metric::LeadTime);
        v.values().sum::<Nanos>() as f64 / v.len() as f64
    };
    for (setup, r) in &recs {
        let (gated, open) = (mean(r), mean(&free[setup]));
        assert!(
            (gated - open) / gated > 0.5,
            "{setup}: lead time {:.0}s with the approval, {:.0}s without",
            gated / 1e9,
            open / 1e9
        );
    }
}

#[test]
fn environment_mistakes_are_refused_with_their_line() {
    let base = |clusters: &str, envs: &str| {
        format!(
            "name: bad\nduration: 1h\nfleet:\n  clusters: {clusters}\nenvironments: {envs}\nmodels: {{ push: {{}}, pull: {{}} }}\n"
        )
    };
    let two = "[{name: dev-1, environment: dev}, {name: prod-1, environment: prod}]";
    for (text, needle) in [
        (
            base(
                "[{name: dev-1, environment: dev}, {name: prod-1, environment: prd}]",
                "[{name: dev}, {name: prod}]",
            ),
            "fleet.clusters[1].environment: there is no environment `prd`; the environments are dev, prod",
        ),
        (
            base(
                "[{name: dev-1, environment: dev}, {name: prod-1}]",
                "[{name: dev}, {name: prod}]",
            ),
            "fleet.clusters[1]: cluster `prod-1` has no `environment`",
        ),
        (
            base(two, "[{name: dev}, {name: staging}, {name: prod}]"),
            "environments[1].name: environment `staging` has no cluster",
        ),
        (
            base(two, "[{name: dev, gate: {soak: 5m}}, {name: prod}]"),
            "environments[0].gate: `dev` is the first environment",
        ),
        (
            base(
                two,
                "[{name: dev}, {name: prod, gate: {soak: 5m, check: {duration: 1m}}}]",
            ),
            "environments[1].gate: a gate is one of `soak`, `approval` or `check`, not several",
        ),
        (
            base(
                two,
                "[{name: dev}, {name: prod, gate: {check: {duration: 1m, failure: 150%}}}]",
            ),
            "environments[1].gate.check.failure",
        ),
        (
            base(two, "[{name: dev}, {name: dev}]"),
            "environments[1].name: environment `dev` is listed twice",
        ),
        (
            base("2", "[{name: dev}]"),
            "fleet.clusters: environments need named clusters",
        ),
        (
            base(two, "[]"),
            "environments: the list of environments is empty",
        ),
    ] {
        let e = Scenario::parse(&text, "bad.yaml")
            .expect_err(&text)
            .to_string();
        assert!(e.contains(needle), "{text}\n→ {e}");
        assert!(e.starts_with("bad.yaml:"), "no line: {e}");
        assert!(
            e.split(':')
                .nth(1)
                .is_some_and(|l| l.parse::<u32>().is_ok()),
            "no line: {e}"
        );
    }
    // Named clusters with environments but no `environments:` key: today's behaviour.
    let ok = format!(
        "name: ok\nduration: 1h\nfleet:\n  clusters: {two}\nmodels: {{ push: {{}}, pull: {{}} }}\n"
    );
    let s = Scenario::parse(&ok, "ok.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert!(s.environments.is_none());
}
