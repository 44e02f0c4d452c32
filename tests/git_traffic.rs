//! Git traffic as the hosts see it, on the shipped fleet scenario: Argo CD resolves the
//! branch through its repo-server's 3-minute revision cache (one `ls-remote` per
//! controller per TTL at most), fetches a revision once per controller, and CI checks out
//! the source once per run; so pull's git requests are no longer thousands of times push's.

use pushpull::measure::Counters;
use std::path::Path;

type Runs = Vec<(String, Vec<pushpull::measure::RunRecord>)>;

fn fleet_runs() -> (Runs, pushpull::scenario::Scenario) {
    let s = pushpull::scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fleet.yaml"),
    )
    .unwrap();
    let runs = pushpull::sim::run(&s, 2);
    (runs, s)
}

fn fleet() -> (Counters, Counters, pushpull::scenario::Scenario) {
    let (runs, s) = fleet_runs();
    let sum = |name: &str| {
        let mut c = Counters::default();
        for r in &runs.iter().find(|(n, _)| n == name).unwrap().1 {
            c.add(&r.counters);
        }
        c
    };
    (sum("push"), sum("pull"), s)
}

#[test]
fn argocd_ref_checks_are_bounded_by_the_revision_cache_and_fetches_by_new_revisions() {
    let (push, pull, s) = fleet();
    let days = s.duration.0 as f64 / 86_400e9;
    // fleet.yaml's Argo CD is a hub: one application controller for the fleet.
    let pull_setup = s.models.setups.iter().find(|m| m.name == "pull").unwrap();
    let controllers = match &pull_setup.config {
        pushpull::scenario::models::SetupConfig::Pull(p) => p
            .hub
            .as_ref()
            .map_or(f64::from(s.clusters()), |h| f64::from(h.shards)),
        pushpull::scenario::models::SetupConfig::Push(_) => unreachable!("pull is a pull setup"),
    };
    assert_eq!(
        controllers, 1.0,
        "fleet.yaml's Argo CD is one hub controller"
    );
    let clusters = f64::from(s.clusters());
    // One ls-remote per controller per 3 minutes at most (no webhook, no restart here).
    assert!(
        pull.git_ref_checks as f64 <= controllers * days * 480.0,
        "{} ref checks",
        pull.git_ref_checks
    );
    assert!(
        pull.git_ref_checks as f64 > controllers * days * 300.0,
        "{pull:?}"
    );
    // A fetch only for a config revision a controller did not have: at most one per
    // controller per config commit (commits were written at most once per source commit
    // and revert, fewer than 200 a day here).
    assert!(
        pull.git_fetches as f64 <= clusters * 200.0 * days,
        "{pull:?}"
    );
    assert!(pull.git_fetches > 0 && pull.git_checkouts > 0);
    assert_eq!((push.git_ref_checks, push.git_fetches), (0, 0));
    // Neither setup's CI checks out more than once per source commit.
    assert!(
        push.git_checkouts <= 200 && pull.git_checkouts <= 200,
        "{push:?} {pull:?}"
    );
    let git = |c: &Counters| (c.git_ref_checks + c.git_fetches + c.git_checkouts) as f64;
    let ratio = git(&pull) / git(&push);
    assert!(
        ratio < 10.0,
        "pull makes {ratio:.0}× the git requests of push: one hub controller resolves the branch at most once per cache period"
    );
}

/// summary.json's `git_traffic`: per setup, the config repository the reconcilers read
/// (ref checks, fetches) and the source repository CI checks out, per simulated day;
/// the rows add up to the counters, and the hub's config repository sees hundreds of
/// requests a day, not one per app per cluster per poll.
#[test]
fn the_summary_reports_git_traffic_per_repository_per_day() {
    let (runs, s) = fleet_runs();
    let sm = pushpull::measure::summary::Summary::build(&s, "sim", &runs);
    let days = s.duration.0 as f64 / 86_400e9;
    for (name, reps) in &runs {
        let m = sm.model(name).unwrap();
        let mut c = Counters::default();
        for r in reps {
            c.add(&r.counters);
        }
        let per_day = |n: u64| n as f64 / (days * reps.len() as f64);
        let repos: Vec<&str> = m
            .git_traffic
            .iter()
            .map(|t| t.repository.as_str())
            .collect();
        let total: f64 = m.git_traffic.iter().map(|t| t.total_per_day()).sum();
        let expected = per_day(c.git_ref_checks + c.git_fetches + c.git_checkouts);
        assert!(
            (total - expected).abs() < 1e-6,
            "{name}: {total} vs {expected}"
        );
        match name.as_str() {
            "push" => assert_eq!(repos, ["source"]),
            _ => {
                assert_eq!(repos, ["config", "source"]);
                let config = &m.git_traffic[0];
                assert_eq!(config.git_ref_checks_per_day, per_day(c.git_ref_checks));
                assert!(
                    config.total_per_day() > 100.0 && config.total_per_day() < 1000.0,
                    "{config:?}"
                );
            }
        }
    }
}

/// The report on fleet.yaml shows the "Git traffic per repository" table and a load
/// sentence whose multiplier is read with its per-repository figures, and small: the
/// hub's config repository sees hundreds of requests a day, so pull's git requests are
/// a few times push's CI checkouts, not thousands of times.
#[test]
fn the_fleet_report_shows_git_traffic_per_repository_and_a_small_multiplier() {
    let out = std::env::temp_dir().join(format!("pushpull-git-traffic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .args(["run", "scenarios/fleet.yaml", "--out"])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let md = std::fs::read_to_string(out.join("fleet/report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("fleet/report.html")).unwrap();
    assert!(md.contains("### Git traffic per repository"));
    assert!(html.contains("Git traffic per repository"));
    assert!(md.contains("| pull (argocd) | config |"), "{md}");
    let load = md.lines().find(|l| l.starts_with("Load: ")).unwrap();
    let at = load.find("× the git requests of").unwrap();
    let multiplier: f64 = load[..at].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(multiplier < 10.0, "{load}");
    assert!(load.contains("config repository"), "{load}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The shards of one Argo CD installation share the repo-server and its Redis: the
/// branch is resolved at the git host once per revision-cache TTL for the installation,
/// not once per shard, and a revision is fetched once. fleet.yaml with its hub split into
/// five shards makes the git traffic of one controller (the old per-shard caches made
/// five times as many ref checks and fetches).
#[test]
fn the_shards_of_one_installation_share_the_revision_cache_and_the_fetches() {
    let (_, one, s) = fleet();
    let mut sharded = s.clone();
    for m in sharded.models.setups.iter_mut() {
        if let pushpull::scenario::models::SetupConfig::Pull(p) = &mut m.config
            && let Some(h) = p.hub.as_mut()
        {
            h.shards = 5;
            h.sharding = pushpull::scenario::models::Sharding::RoundRobin;
        }
    }
    let runs = pushpull::sim::run(&sharded, 2);
    let mut five = Counters::default();
    for r in &runs.iter().find(|(n, _)| n == "pull").unwrap().1 {
        five.add(&r.counters);
    }
    let days = s.duration.0 as f64 / 86_400e9;
    assert!(
        five.git_ref_checks as f64 <= days * 480.0,
        "5 shards made {} ref checks in {days} days: more than one per 3 minutes",
        five.git_ref_checks
    );
    assert!(
        five.git_fetches as f64 <= 1.1 * one.git_fetches as f64,
        "5 shards fetched {} times, one controller {}",
        five.git_fetches,
        one.git_fetches
    );
}
