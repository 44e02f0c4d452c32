//! `pushpull sweep` writes sweep.html and its charts next to sweep.csv: each metric
//! against the swept parameter, a line per setup, a band where the variant has an
//! interval and "indicative" where its repetitions are too few.

use std::path::Path;
use std::process::Command;

#[test]
fn a_sweep_page_draws_each_metric_per_setup_with_bands_only_where_intervals_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("tiny.yaml");
    std::fs::write(
        &scenario,
        "name: tiny\nseed: 1\nduration: 30m\nrepetitions: 10\n\
         fleet: { clusters: 1, apps: 2, replicas: 1 }\n\
         workload: { commits: { arrival: poisson, mean_interval: 5m }, apps_per_commit: 1 }\n\
         models: { push: { preset: github-actions }, pull: { preset: argocd } }\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_pushpull"))
        .arg("sweep")
        .arg(&scenario)
        .args([
            "--set",
            "models.pull.poll.interval=60s,3m",
            "--set",
            "repetitions=3,10",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = out.join("tiny/sweep");
    let html = std::fs::read_to_string(root.join("sweep.html")).unwrap();
    let svg = |n: &str| std::fs::read_to_string(root.join("charts").join(format!("{n}.svg")));
    let deploy = svg("sweep_deploy_latency").unwrap();
    // One panel per value of the second parameter, both setups in the legend.
    for text in [
        "repetitions=3",
        "repetitions=10",
        "push",
        "pull",
        "60s",
        "3m",
    ] {
        assert!(deploy.contains(text), "{text}");
    }
    assert!(svg("sweep_api_requests").is_ok());
    // The chart is inlined in the page, with its caption.
    assert!(html.contains("Deploy latency p50 against models.pull.poll.interval"));
    assert_eq!(
        html.matches("<svg").count(),
        std::fs::read_dir(root.join("charts")).unwrap().count()
    );
    // Each deploy_latency row: 3 repetitions have no interval (indicative), 10 have one.
    let table = html
        .split("Deploy latency p50 against")
        .nth(2)
        .and_then(|t| t.split("</table>").next())
        .unwrap();
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2 * 2 * 2, "{table}");
    for r in rows {
        if r.contains("repetitions=3") {
            assert!(r.contains("none (indicative)"), "{r}");
        } else {
            assert!(r.contains(" – "), "{r}");
        }
    }
    assert!(Path::new(&root.join("sweep.csv")).is_file());
}
