//! The sim event loop's throughput on a slice of the fleet scenario (10 clusters × 40
//! apps, 24 h, Argo CD and GitHub Actions presets): criterion reports events per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pushpull::metric::ModelKind;
use pushpull::plan::Plan;
use pushpull::scenario::Scenario;
use std::hint::black_box;
use std::path::Path;

fn fleet_slice() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fleet.yaml");
    let mut s = Scenario::load(&path).expect("fleet.yaml is valid");
    s.fleet.clusters = std::num::NonZeroU32::new(10).expect("ten");
    s
}

fn event_loop(c: &mut Criterion) {
    let s = fleet_slice();
    let plan = Plan::draw(&s, 0);
    let mut g = c.benchmark_group("event_loop");
    g.sample_size(20);
    for kind in ModelKind::BOTH {
        let events = pushpull::sim::run_one(&s, &plan, kind, 0).engine_events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(format!("fleet_slice_10x40_24h_{kind}"), |b| {
            b.iter(|| black_box(pushpull::sim::run_one(&s, &plan, kind, 0)))
        });
    }
    g.finish();
}

fn parse(c: &mut Criterion) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.yaml"),
    )
    .expect("quickstart exists");
    c.bench_function("scenario_parse_quickstart", |b| {
        b.iter(|| black_box(Scenario::parse(black_box(&text), "quickstart.yaml").expect("valid")))
    });
}

criterion_group!(benches, event_loop, parse);
criterion_main!(benches);
