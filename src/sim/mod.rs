//! The sim world: virtual time, simulated git and clusters, deterministic. Repetitions
//! run in parallel across cores; each is a pure function of (scenario, seed, repetition),
//! so the results equal a serial run's.

mod cluster;
pub mod git;
mod queue;
mod world;

pub use queue::EventQueue;

/// The last nanosecond of virtual time. Time arithmetic saturates here, and an event
/// due at `NEVER` never happens: a timer past the end of time never fires, a window
/// that would close after it lasts to the end of the run.
pub const NEVER: Nanos = Nanos::MAX;

use crate::measure::RunRecord;
use crate::metric::ModelKind;
use crate::plan::Plan;
use crate::scenario::{Nanos, Scenario};

/// Runs one model for one repetition.
pub fn run_one(s: &Scenario, plan: &Plan, kind: ModelKind, repetition: u32) -> RunRecord {
    world::World::new(s, plan, kind, repetition).run()
}

/// Runs every repetition of both models on up to `threads` threads; results are in
/// (model, repetition) order whatever the thread count.
pub fn run(s: &Scenario, threads: usize) -> Vec<(ModelKind, Vec<RunRecord>)> {
    let jobs: Vec<(ModelKind, u32)> = ModelKind::BOTH
        .iter()
        .flat_map(|&k| (0..s.repetitions).map(move |r| (k, r)))
        .collect();
    let plans: Vec<Plan> = (0..s.repetitions).map(|r| Plan::draw(s, r)).collect();
    let threads = threads.clamp(1, jobs.len().max(1));
    let mut results: Vec<Option<RunRecord>> = (0..jobs.len()).map(|_| None).collect();
    if threads == 1 {
        for (i, &(k, r)) in jobs.iter().enumerate() {
            results[i] = Some(run_one(s, &plans[r as usize], k, r));
        }
    } else {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::Mutex::new(&mut results);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(k, r)) = jobs.get(i) else { break };
                        let rec = run_one(s, &plans[r as usize], k, r);
                        done.lock()
                            .expect("no worker panics while holding the lock")[i] = Some(rec);
                    }
                });
            }
        });
    }
    let mut out: Vec<(ModelKind, Vec<RunRecord>)> =
        ModelKind::BOTH.iter().map(|&k| (k, Vec::new())).collect();
    for ((k, _), rec) in jobs.into_iter().zip(results) {
        let slot = out
            .iter_mut()
            .find(|(kk, _)| *kk == k)
            .expect("both models present");
        slot.1.push(rec.expect("every job ran"));
    }
    out
}
