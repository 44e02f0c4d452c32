//! Named clusters, app groups and working-hours arrivals reaching the simulator: each
//! app group's replicas and rollout settle its rollout time (against the rolling-update
//! maths), and commits land only inside working hours.

use pushpull::metric::Metric;
use pushpull::scenario::Scenario;

fn parse(yaml: &str) -> Scenario {
    Scenario::parse(yaml, "test.yaml").expect("valid scenario")
}

/// Pods start in exactly 10 s and maxUnavailable is 0, so a rolling update starts
/// maxSurge new pods per wave: ceil(replicas / surge) waves of 10 s. `small` (2 replicas,
/// maxSurge 1) takes 2 waves, 20 s; `big` (8 replicas, maxSurge 25% → 2) takes 4, 40 s.
#[test]
fn two_app_groups_roll_out_in_the_time_their_own_replicas_and_surge_give() {
    let s = parse(
        "name: groups\nduration: 48h\nseed: 4\n\
         fleet:\n  clusters: [{ name: prod-eu }, { name: prod-us }]\n  replicas: 3\n\
         \x20 rollout: { pod_start: { dist: fixed, value: 10s }, max_surge: 1, max_unavailable: 0 }\n\
         \x20 apps:\n    - { prefix: small, count: 3, replicas: 2 }\n\
         \x20   - { prefix: big, count: 3, replicas: 8, rollout: { max_surge: 25% } }\n\
         workload: { commits: { arrival: fixed, interval: 20m } }\n",
    );
    let runs = pushpull::sim::run(&s, 2);
    let mut seen = [0usize; 2];
    for (setup, reps) in &runs {
        for sample in reps
            .iter()
            .flat_map(|r| r.samples.iter())
            .filter(|x| x.metric == Metric::Rollout)
        {
            let app = sample.app.expect("a rollout sample names its app");
            let (group, expected) = if app < 3 { (0, 20.0) } else { (1, 40.0) };
            seen[group] += 1;
            let got = sample.value() as f64 / 1e9;
            assert_eq!(
                got,
                expected,
                "{setup}: app {} ({}) rolled out in {got}s",
                app,
                s.fleet.app_name(app)
            );
        }
    }
    assert!(seen[0] > 50 && seen[1] > 50, "{seen:?} rollouts");
}

/// A working week of 9-17 commits through the whole simulator: every deploy_latency
/// sample starts inside working hours (UTC-05:00 here), and their number is the plan's.
#[test]
fn commits_of_a_working_hours_scenario_start_only_inside_working_hours() {
    let s = parse(
        "name: week\nduration: 168h\nseed: 8\nfleet: { clusters: 1, apps: 5 }\n\
         workload:\n  commits:\n    arrival: poisson\n    mean_interval: 30m\n\
         \x20   working_hours: { days: mon-fri, hours: 9-17, timezone: \"-05:00\" }\n",
    );
    let pushpull::scenario::Arrival::Poisson {
        working_hours: Some(hours),
        ..
    } = &s.workload.commits
    else {
        panic!("working hours were not parsed")
    };
    let planned = pushpull::plan::Plan::draw(&s, 0).commits.len();
    let runs = pushpull::sim::run(&s, 2);
    for (setup, reps) in &runs {
        let starts: std::collections::BTreeSet<u64> = reps[0]
            .samples
            .iter()
            .filter(|x| x.metric == Metric::DeployLatency)
            .map(|x| x.start)
            .collect();
        assert!(starts.iter().all(|&t| hours.is_working(t)), "{setup}");
        // Every commit but those still rolling out at the horizon is measured.
        assert!(
            starts.len() + 2 >= planned && starts.len() <= planned,
            "{setup}"
        );
    }
    assert!(
        planned > 40,
        "{planned} commits in 40 working hours at 2 an hour"
    );
}
