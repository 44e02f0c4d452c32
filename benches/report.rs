//! Building every report of the quickstart (intervals.json, fourteen chart files,
//! report.html, report.md) from its run directory, as `pushpull report` does: the issue
//! asks for under 2 s.

use criterion::{Criterion, criterion_group, criterion_main};
use pushpull::measure::summary::Summary;
use pushpull::report::{self, RunInfo};
use std::hint::black_box;
use std::path::Path;

fn reports(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml");
    let s = pushpull::scenario::load(&path).expect("quickstart.yaml is valid");
    let runs = pushpull::sim::run(&s, 1);
    let summary = Summary::build(&s, "sim", &runs);
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let dir = tmp.path().join("quickstart");
    let info = RunInfo {
        pushpull_version: env!("CARGO_PKG_VERSION"),
        command: "pushpull run scenarios/quickstart.yaml".into(),
        scenario_file: "scenarios/quickstart.yaml".into(),
        mode: "sim".into(),
        wall_s: 0.0,
        threads: 1,
    };
    report::write_run(&dir, &s, &summary, &runs, &info).expect("the run is written");
    let mut g = c.benchmark_group("report");
    g.sample_size(20);
    g.bench_function("quickstart_all_reports", |b| {
        b.iter(|| black_box(report::write_reports(&dir).expect("reports are written")))
    });
    g.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
