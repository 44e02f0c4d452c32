//! Money: the monthly cost per setup at the scenario's prices, on a scenario small
//! enough to compute by hand.

use pushpull::measure::summary::Summary;
use pushpull::scenario::Scenario;

fn summary(yaml: &str) -> Summary {
    let s = Scenario::parse(yaml, "test.yaml").expect("valid scenario");
    let runs = pushpull::sim::run(&s, 2);
    Summary::build(&s, "sim", &runs)
}

/// 6 h, 2 clusters × 1 app, commits at 2 h and 4 h, no CI stage. Push: each run is a
/// 90 s build and 1 s applies: 91 s, billed as 2 minutes; 2 runs → 4 minutes per 6 h,
/// ×120 for 30 days = 480 min × $0.008 = $3.84. Its 2 checkouts × 50 MiB = 100 MiB per
/// 6 h → 11.71875 GiB a month × $0.09 = $1.0546875. Pull: 2 in-cluster agents × 720 h =
/// 1440 h × (0.1 vCPU × $0.04048 + 0.0625 GiB × $0.004445) = $6.22917, no CI minutes.
fn scenario(prices: &str) -> String {
    format!(
        "name: cost-hand\nduration: 6h\nseed: 3\nci: none\n\
         fleet: {{ clusters: 2, apps: 1, replicas: 1, rollout: {{ pod_start: {{ dist: fixed, value: 0s }} }} }}\n\
         workload: {{ commits: {{ arrival: fixed, interval: 2h }} }}\n\
         models:\n  push:\n    preset: custom\n    runners: 1\n\
         \x20   queue_wait: {{ dist: fixed, value: 0s }}\n    build: {{ dist: fixed, value: 90s }}\n\
         \x20   apply: {{ dist: fixed, value: 1s }}\n    wait_for_rollout: false\n\
         \x20 pull: {{ preset: argocd }}\n{prices}"
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn github_hosted_minutes_round_each_job_up_and_scale_to_thirty_days() {
    let s = summary(&scenario(""));
    let push = s.model("push").unwrap().cost.as_ref().unwrap();
    assert!(close(push.ci_job_minutes, 480.0), "{push:?}");
    assert!(close(push.ci_runners_usd, 3.84), "{push:?}");
    assert!(close(push.git_egress_gib, 11.71875), "{push:?}");
    assert!(close(push.git_egress_usd, 1.0546875), "{push:?}");
    assert_eq!(push.reconcilers_usd, 0.0);
    assert!(close(push.monthly_usd, 3.84 + 1.0546875), "{push:?}");
}

#[test]
fn in_cluster_agents_cost_their_requests_around_the_clock() {
    let s = summary(&scenario(""));
    let pull = s.model("pull").unwrap().cost.as_ref().unwrap();
    assert!(close(pull.reconciler_hours, 1440.0), "{pull:?}");
    assert!(close(pull.reconcilers_usd, 6.22917), "{pull:?}");
    assert_eq!(pull.ci_runners_usd, 0.0, "no CI stage, no CI minutes");
    assert!(pull.monthly_usd > pull.reconcilers_usd, "plus git egress");
}

#[test]
fn a_self_hosted_pool_is_paid_by_the_hour_whether_busy_or_not() {
    // 1 runner × 720 h × $0.5 = $360, whatever the 4 minutes of jobs.
    let s = summary(&scenario(
        "prices: { runners: self-hosted, self_hosted_runner_hour_usd: 0.5, egress_gib_usd: 0 }\n",
    ));
    let push = s.model("push").unwrap().cost.as_ref().unwrap();
    assert!(close(push.ci_runners_usd, 360.0), "{push:?}");
    assert!(close(push.monthly_usd, 360.0), "{push:?}");
    assert_eq!(push.runners, "self-hosted");
}

#[test]
fn a_bigger_runner_size_costs_its_rate() {
    // linux-8-core: $0.032 a minute, 480 min → $15.36.
    let s = summary(&scenario("prices: { runner_size: linux-8-core }\n"));
    let push = s.model("push").unwrap().cost.as_ref().unwrap();
    assert!(close(push.ci_runners_usd, 15.36), "{push:?}");
}

#[test]
fn a_negative_price_is_refused_naming_its_key() {
    let e = Scenario::parse(&scenario("prices: { vcpu_hour_usd: -1 }\n"), "t.yaml")
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("vcpu_hour_usd") && e.contains("0 or more"),
        "{e}"
    );
}
