//! The seed's single-source-of-truth, auditability and security questions as figures,
//! on scenarios small enough to compute by hand.

use pushpull::measure::summary::Summary;
use pushpull::scenario::Scenario;

fn summary(yaml: &str) -> Summary {
    let s = Scenario::parse(yaml, "test.yaml").expect("valid scenario");
    let runs = pushpull::sim::run(&s, 2);
    Summary::build(&s, "sim", &runs)
}

/// 2 clusters × 2 apps for 4 h, no commits. A scale edit on (cluster 0, app 0) at 1 h and
/// an image edit on (cluster 1, app 1) at 3 h. GitHub Actions has no drift check: both
/// stay until the end, 3 h + 1 h out of 4 deployments × 4 h = 16 h → 0.25. Both edits are
/// unexplained and the only changes (no rollout): share 1, live 3 h and 1 h, mean 2 h.
const TWO_EDITS: &str = "name: audit-hand\nduration: 4h\nseed: 3\n\
    fleet: { clusters: 2, apps: 2, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
    workload: { commits: { arrival: fixed, interval: 3000h } }\n\
    models:\n  push: { preset: github-actions }\n  pull: { preset: argocd }\n\
    faults:\n  - { kind: drift, change: scale, at: 1h, cluster: 0, app: 0 }\n\
    \x20 - { kind: drift, change: image, at: 3h, cluster: 1, app: 1 }\n";

#[test]
fn drift_left_in_place_is_a_quarter_of_app_time_out_of_sync_and_wholly_unexplained() {
    let s = summary(TWO_EDITS);
    let push = s.model("push").unwrap();
    assert_eq!(push.out_of_sync_share, Some(0.25));
    assert_eq!(push.unexplained_change_share, Some(1.0));
    let u = push.unexplained_changes.as_ref().unwrap();
    assert_eq!((u.changes, u.unexplained, u.still_live), (2, 2, 2));
    assert_eq!(u.mean_live_s, Some(7200.0));
    assert!(
        push.out_of_sync_share_ci95.is_none(),
        "one repetition: no interval"
    );
}

#[test]
fn a_self_healing_reconciler_keeps_live_state_in_sync_but_the_edits_stay_unexplained() {
    let s = summary(TWO_EDITS);
    let pull = s.model("pull").unwrap();
    let u = pull.unexplained_changes.as_ref().unwrap();
    // Argo CD's self-heal reverts each edit within seconds: under a minute of the 16 h.
    let share = pull.out_of_sync_share.unwrap();
    assert!(share > 0.0 && share < 60.0 / 57_600.0, "{share}");
    // The same two edits, corrected: each correction is a rollout git explains.
    assert_eq!((u.unexplained, u.still_live), (2, 0));
    assert_eq!(u.changes, 4);
    assert_eq!(pull.unexplained_change_share, Some(0.5));
    // The time out of sync is exactly the time the edits stayed live.
    let live = u.mean_live_s.unwrap() * 2.0;
    assert!(
        (share * 4.0 * 14_400.0 - live).abs() < 1e-6,
        "{share} {live}"
    );
}

#[test]
fn the_credential_table_follows_the_topology() {
    // Push: the CI runners hold kubeconfigs of both clusters and reach both API servers;
    // one leaked kubeconfig writes 2 clusters. Pull: one agent per cluster, nothing
    // inbound, one cluster per credential.
    let s = summary(TWO_EDITS);
    let push = s.model("push").unwrap().credentials.as_ref().unwrap();
    assert_eq!(push.holders.len(), 1);
    assert_eq!(push.holders[0].clusters.len(), 2);
    assert_eq!(push.inbound_paths.len(), 2);
    assert_eq!(push.blast_radius, 2);
    let pull = s.model("pull").unwrap().credentials.as_ref().unwrap();
    assert_eq!(pull.holders.len(), 2);
    assert!(pull.inbound_paths.is_empty());
    assert_eq!(pull.blast_radius, 1);
}

#[test]
fn the_seed_figures_are_documented_summary_keys() {
    let s = summary(TWO_EDITS);
    let json = serde_json::to_value(&s).unwrap();
    let push = &json["models"]["push"];
    for key in [
        "out_of_sync_share",
        "unexplained_change_share",
        "unexplained_changes",
        "credentials",
        "cost",
    ] {
        assert!(
            push.get(key).is_some(),
            "summary.json lacks models.push.{key}"
        );
    }
    let text = serde_json::to_string(&s).unwrap();
    let back: Summary = serde_json::from_str(&text).unwrap();
    assert!(back == s, "summary.json reads back");
}
