//! The sim event loop's throughput on a slice of the fleet scenario (10 clusters × 40
//! apps, 24 h, Argo CD and GitHub Actions presets): criterion reports events per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pushpull::plan::Plan;
use pushpull::scenario::Scenario;
use std::hint::black_box;
use std::path::Path;

fn fleet_slice() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/fleet.yaml");
    let mut s = pushpull::scenario::load(&path).expect("fleet.yaml is valid");
    s.fleet.clusters = std::num::NonZeroU32::new(10).expect("ten");
    s
}

fn event_loop(c: &mut Criterion) {
    let s = fleet_slice();
    let plan = Plan::draw(&s, 0);
    let mut g = c.benchmark_group("event_loop");
    g.sample_size(20);
    for setup in &s.models.setups {
        let events = pushpull::sim::run_one(&s, &plan, setup, 0).engine_events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(format!("fleet_slice_10x40_24h_{}", setup.name), |b| {
            b.iter(|| black_box(pushpull::sim::run_one(&s, &plan, setup, 0)))
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

/// One input through each model and its actions drained: the cost the sim pays per step
/// beyond the queue (a poll for the reconciler, a commit trigger for the pipeline).
fn model_step(c: &mut Criterion) {
    use pushpull::model::{Input, Model, Timer, pull::Reconciler, push::Pipeline};
    use pushpull::plan::{Component, rng};
    let s = fleet_slice();
    let initial: Vec<u32> = (0..s.apps()).collect();
    let mut g = c.benchmark_group("model_step");
    let mut r = Reconciler::new(
        s.models
            .get("pull")
            .and_then(|m| m.pull())
            .expect("fleet.yaml has a pull setup")
            .clone(),
        0,
        &initial,
        rng(1, 0, Component::Pull { cluster: 0 }),
    );
    while r.poll_action().is_some() {}
    let mut now = 0;
    g.bench_function("pull_poll_and_fetch", |b| {
        b.iter(|| {
            now += 1_000_000;
            r.handle(
                now,
                Input::Timer(Timer::Poll {
                    app: 7,
                    generation: 0,
                }),
            );
            while let Some(a) = r.poll_action() {
                black_box(&a);
            }
            r.handle(now, Input::Fetched { app: 7, spec: 7 });
        })
    });
    let mut p = Pipeline::new(
        s.models
            .get("push")
            .and_then(|m| m.push())
            .expect("fleet.yaml has a push setup")
            .clone(),
        s.clusters(),
        &initial,
        rng(1, 0, Component::Push),
    );
    while p.poll_action().is_some() {}
    let mut rev = 0;
    g.bench_function("push_commit_trigger", |b| {
        b.iter(|| {
            rev += 1;
            p.handle(0, Input::Commit { rev, ci: None });
            while let Some(a) = p.poll_action() {
                black_box(&a);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, event_loop, model_step, parse);
criterion_main!(benches);
