//! The decision card: its rows and verdicts from a summary, the sensitivity pass that
//! names where a verdict flips, and its place first in `run`'s output and the reports.

use pushpull::measure::summary::Summary;
use pushpull::report::card::{Card, NOT_EXERCISED};
use pushpull::scenario::Scenario;
use std::process::Command;

fn summary(yaml: &str) -> (Scenario, Summary) {
    let s = Scenario::parse(yaml, "test.yaml").expect("valid scenario");
    let runs = pushpull::sim::run(&s, 2);
    let summary = Summary::build(&s, "sim", &runs);
    (s, summary)
}

/// 2 clusters × 2 apps for 4 h, no commits, two hand edits: push leaves both in place,
/// Argo CD's self-heal reverts them in seconds.
const TWO_EDITS: &str = "name: card-edits\nduration: 4h\nseed: 3\n\
    fleet: { clusters: 2, apps: 2, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
    workload: { commits: { arrival: fixed, interval: 3000h } }\n\
    models:\n  push: { preset: github-actions }\n  pull: { preset: argocd }\n\
    faults:\n  - { kind: drift, change: scale, at: 1h, cluster: 0, app: 0 }\n\
    \x20 - { kind: drift, change: image, at: 3h, cluster: 1, app: 1 }\n";

fn row<'a>(card: &'a Card, key: &str) -> &'a pushpull::report::card::Row {
    card.rows.iter().find(|r| r.key == key).expect("row")
}

#[test]
fn the_card_has_one_row_per_question_and_says_which_were_not_exercised() {
    let (_, s) = summary(TWO_EDITS);
    let card = Card::build(&s);
    assert_eq!(card.rows.len(), 9);
    for key in [
        "bad_release_recovery",
        "rollback",
        "cluster_restore",
        "lead_time",
    ] {
        assert_eq!(row(&card, key).verdict, NOT_EXERCISED, "{key}");
    }
    // 25% against a few seconds of 16 h, one repetition: no interval, so indicative.
    let drift = row(&card, "drift_exposure");
    assert_eq!(drift.verdict, "pull better (indicative)");
    assert!(
        drift.figures[0]
            .1
            .as_ref()
            .unwrap()
            .text
            .starts_with("25.0%")
    );
    // Derived from the topology: no interval needed.
    assert_eq!(row(&card, "credential_exposure").verdict, "pull better");
}

#[test]
fn overlapping_intervals_give_no_clear_difference_and_separate_ones_a_verdict() {
    let (_, mut s) = summary(TWO_EDITS);
    let set = |s: &mut Summary, name: &str, v: f64, ci: [f64; 2]| {
        let m = s.models.0.iter_mut().find(|(n, _)| n == name).unwrap();
        m.1.out_of_sync_share = Some(v);
        m.1.out_of_sync_share_ci95 = Some(ci);
    };
    set(&mut s, "push", 0.20, [0.15, 0.25]);
    set(&mut s, "pull", 0.18, [0.12, 0.22]);
    let card = Card::build(&s);
    assert!(
        row(&card, "drift_exposure")
            .verdict
            .starts_with("no clear difference"),
        "{}",
        row(&card, "drift_exposure").verdict
    );
    set(&mut s, "pull", 0.05, [0.03, 0.07]);
    let card = Card::build(&s);
    assert_eq!(row(&card, "drift_exposure").verdict, "pull better");
}

/// Push: a fixed 60 s build and 1 s apply. Pull polls every 60 s without jitter and
/// applies in 1 s: a commit waits 30 s on average, so pull leads. Scaling the poll
/// interval ×4 makes the mean wait 120 s, beyond push's 61 s: the verdict flips to push.
const POLL_VS_BUILD: &str = "name: card-flip\nduration: 4h\nseed: 8\nrepetitions: 3\nci: none\n\
    fleet: { clusters: 1, apps: 2, replicas: 1, rollout: { pod_start: { dist: fixed, value: 0s } } }\n\
    workload: { commits: { arrival: poisson, mean_interval: 10m } }\n\
    models:\n  push:\n    preset: custom\n    runners: 4\n\
    \x20   queue_wait: { dist: fixed, value: 0s }\n    build: { dist: fixed, value: 60s }\n\
    \x20   apply: { dist: fixed, value: 1s }\n    wait_for_rollout: false\n\
    \x20 pull:\n    preset: custom\n    refresh: poll\n    poll: { interval: 60s, jitter: 0s }\n\
    \x20   apply: { dist: fixed, value: 1s }\n";

#[test]
fn the_sensitivity_pass_names_the_poll_interval_where_lead_time_flips() {
    let (s, mut summary) = summary(POLL_VS_BUILD);
    let card = Card::build(&summary);
    assert_eq!(row(&card, "lead_time").winner.as_deref(), Some("pull"));
    let pass = pushpull::sensitivity::pass(&s, 2);
    let lead = pass.questions["lead_time"].clone();
    assert!(
        lead.starts_with("flips to push if the pull poll interval is"),
        "{lead}"
    );
    assert_eq!(pass, pushpull::sensitivity::pass(&s, 1), "deterministic");
    summary.sensitivity = Some(pass);
    let card = Card::build(&summary);
    assert_eq!(row(&card, "lead_time").sensitive_to, lead);
}

#[test]
fn a_live_run_says_the_pass_was_skipped() {
    let (_, mut s) = summary(TWO_EDITS);
    s.sensitivity = Some(pushpull::sensitivity::skipped_live());
    let card = Card::build(&s);
    assert!(
        row(&card, "drift_exposure")
            .sensitive_to
            .contains("skipped in live modes")
    );
}

#[test]
fn run_prints_the_card_first_and_both_reports_show_it_above_the_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("card.yaml");
    std::fs::write(&file, TWO_EDITS).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .args(["run", file.to_str().unwrap(), "--out"])
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("decision card\n"), "{stdout}");
    assert!(
        stdout.contains("  drift exposure: pull better (indicative)\n"),
        "{stdout}"
    );
    let dir = tmp.path().join("out/card-edits");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let card = html.find("id=\"card\"").expect("card in report.html");
    assert!(card < html.find("id=\"charts\"").unwrap());
    assert!(card < html.find("id=\"summary\"").unwrap());
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let card = md.find("## Decision card").expect("card in report.md");
    assert!(card < md.find("## Charts").unwrap());
    assert!(md.contains("| credential exposure |"));
}

#[test]
fn a_lost_cluster_never_restored_counts_as_longer_than_the_run_not_as_missing() {
    let (_, mut s) = summary(TWO_EDITS);
    for (name, m) in s.models.0.iter_mut() {
        if name == "push" {
            m.counters.insert("clusters_unrestored".into(), 1);
        } else {
            let r = m.metrics.get_mut("cluster_restore").unwrap();
            r.count = 1;
            r.p50_s = Some(30.0);
        }
    }
    let card = Card::build(&s);
    let restore = row(&card, "cluster_restore");
    assert!(
        restore.verdict.starts_with("pull better"),
        "{}",
        restore.verdict
    );
    let push = restore.figures[0].1.as_ref().unwrap();
    assert!(push.text.starts_with("> run length"), "{}", push.text);
}

#[test]
fn two_setups_tied_for_the_best_figure_are_named_together() {
    // Three setups on two clusters: the push CI writes both, each pull agent one.
    let three = TWO_EDITS.replace(
        "  pull: { preset: argocd }\n",
        "  pull: { preset: argocd }\n  flux: { kind: pull, preset: flux }\n",
    );
    let (_, s) = summary(&three);
    let card = Card::build(&s);
    assert_eq!(
        row(&card, "credential_exposure").verdict,
        "pull and flux better (tied)"
    );
}
