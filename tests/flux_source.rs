//! Flux's git traffic and fan-out in a whole run (`scenarios/three-way.yaml`, the flux
//! setup): one GitRepository per cluster checks the branch once per 1 m ± 5% interval, so
//! git sees clusters × 60 ref checks an hour whatever the number of apps, and one fetch
//! per new config revision per cluster (the fan-out itself is pinned in model/flux.rs).

use pushpull::measure::{Counters, EventKind};
use std::path::Path;

#[test]
fn flux_checks_git_once_per_interval_per_cluster_and_fetches_once_per_new_revision() {
    let mut s = pushpull::scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/three-way.yaml"),
    )
    .unwrap();
    s.repetitions = 2;
    let runs = pushpull::sim::run(&s, 2);
    let flux = &runs.iter().find(|(n, _)| n == "flux").unwrap().1;
    let mut c = Counters::default();
    for r in flux {
        c.add(&r.counters);
    }
    let hours = s.duration.0 as f64 / 3600e9 * f64::from(s.repetitions);
    let clusters = f64::from(s.clusters());
    // 57 s + up to 6 s between checks: between 60/63 and 60/57 an hour per cluster.
    let per_cluster_hour = c.git_ref_checks as f64 / clusters / hours;
    assert!(
        (60.0 * 60.0 / 63.0..=60.0 * 60.0 / 57.0 + 1.0).contains(&per_cluster_hour),
        "{per_cluster_hour:.1} checks per cluster per hour: {c:?}"
    );
    // Not one per app: the ten apps of a cluster share its source.
    assert!(c.git_ref_checks as f64 <= clusters * hours * 64.0);
    // One fetch per cluster per config revision, at most.
    let config_commits = flux
        .iter()
        .flat_map(|r| r.events.iter())
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Commit | EventKind::BadCommit | EventKind::RevertCommit
            )
        })
        .count() as f64;
    assert!(c.git_fetches > 0);
    assert!(
        c.git_fetches as f64 <= clusters * config_commits,
        "{} fetches for {config_commits} config commits",
        c.git_fetches
    );
}
