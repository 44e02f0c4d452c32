//! One commit of a live run's config repository (`LiveRepo::commit`: the manifests of
//! the changed apps written, a tree and a commit object, the branch moved), measured as
//! a live run makes it every time the scenario commits: `cargo bench --bench live_git`.

use criterion::{Criterion, criterion_group, criterion_main};
use pushpull::live::git::{LiveRepo, ManifestParams};
use std::hint::black_box;

const EPOCH: i64 = 1_700_000_000;
const SEC: u64 = 1_000_000_000;

fn commits(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let params = ManifestParams {
        replicas: 3,
        ..ManifestParams::default()
    };
    let mut repo = LiveRepo::create(&tmp.path().join("git"), 20, params, EPOCH)
        .expect("the repository is created");
    let mut t = 0u64;
    let mut g = c.benchmark_group("live_git");
    g.sample_size(30);
    g.bench_function("commit_one_app_of_20", |b| {
        b.iter(|| {
            t += SEC;
            let app = (t / SEC % 20) as u32;
            black_box(
                repo.commit(t, &[(app, (t / SEC) as u32, false)], "bench")
                    .expect("the commit is written"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, commits);
criterion_main!(benches);
