//! The report's 95% intervals hold their promise: over 200 seeds of the quickstart at its
//! own repetitions, the interval of each setup's p50 covers the population p50 at least 92%
//! of the time. The population value pools every repetition of every seed (2,000 or more
//! repetitions: its own error is a small fraction of one interval's width). The interval is
//! the one summary.json and report.html print (`summary::ci95_p50`), from the same
//! microseconds samples.csv holds. docs/STATISTICS.md has the study behind the method.

use pushpull::measure::RunRecord;
use pushpull::measure::bootstrap::Groups;
use pushpull::measure::summary::ci95_p50;
use pushpull::metric::Metric;
use pushpull::scenario::Scenario;

const SEEDS: u64 = 200;

/// One seed's values: per (setup, metric), per repetition.
type SeedValues = Vec<(String, Metric, Vec<Vec<u64>>)>;
const FLOOR: f64 = 0.92;

fn micros(n: u64) -> u64 {
    pushpull::report::micros_of(n)
}

/// Per repetition, the values of `metric` in microseconds.
fn groups(reps: &[RunRecord], metric: Metric) -> Vec<Vec<u64>> {
    reps.iter()
        .map(|r| {
            r.samples
                .iter()
                .filter(|s| s.metric == metric)
                .map(|s| micros(s.value()))
                .collect()
        })
        .collect()
}

#[test]
fn quickstart_p50_intervals_cover_the_population_p50_at_least_92_percent_of_the_time() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.yaml");
    let text = std::fs::read_to_string(path).expect("scenarios/quickstart.yaml");
    let base = Scenario::parse(&text, "quickstart.yaml").expect("the quickstart parses");
    assert!(
        base.repetitions as usize >= pushpull::measure::bootstrap::MIN_REPETITIONS,
        "the quickstart's {} repetitions give no interval at all",
        base.repetitions
    );
    let metrics = [Metric::DeployLatency, Metric::DriftRecovery];
    // (setup, metric) -> per seed, per repetition values.
    let mut per_seed: Vec<SeedValues> = Vec::new();
    for i in 0..SEEDS {
        let mut s = base.clone();
        s.seed = 1_000 + i;
        let runs = pushpull::sim::run(&s, 2);
        let mut rows = Vec::new();
        for (setup, reps) in &runs {
            for m in metrics {
                rows.push((setup.clone(), m, groups(reps, m)));
            }
        }
        per_seed.push(rows);
    }
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for k in 0..per_seed[0].len() {
        let (setup, metric) = (per_seed[0][k].0.clone(), per_seed[0][k].1);
        let pooled: Vec<Vec<u64>> = per_seed
            .iter()
            .flat_map(|rows| rows[k].2.iter().cloned())
            .collect();
        let population = Groups::new(pooled)
            .quantile(0.5)
            .expect("the pooled run has samples") as f64
            / 1e6;
        let (mut covered, mut given) = (0u32, 0u32);
        for (i, rows) in per_seed.iter().enumerate() {
            let g = Groups::new(rows[k].2.clone());
            let Some([lo, hi]) = ci95_p50(1_000 + i as u64, &setup, metric.name(), &g) else {
                continue;
            };
            given += 1;
            if lo <= population && population <= hi {
                covered += 1;
            }
        }
        let share = covered as f64 / SEEDS as f64;
        let line = format!(
            "{setup} {}: population p50 {population:.3}s, covered {covered}/{SEEDS} = {:.1}% ({given} intervals given)",
            metric.name(),
            share * 100.0
        );
        eprintln!("{line}");
        if share < FLOOR {
            failures.push(line.clone());
        }
        report.push(line);
    }
    assert!(
        failures.is_empty(),
        "coverage under {:.0}%:\n{}\nall:\n{}",
        FLOOR * 100.0,
        failures.join("\n"),
        report.join("\n")
    );
}
