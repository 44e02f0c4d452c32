//! The sim world: virtual time, simulated git and clusters, deterministic. Repetitions
//! run in parallel across cores; each is a pure function of (scenario, seed, repetition),
//! so the results equal a serial run's.

mod cluster;
/// The model of git the sim keeps (it lives in the core, which both worlds share).
pub use pushpull_core::git;
mod queue;
mod world;

pub use queue::EventQueue;

/// The last nanosecond of virtual time. Time arithmetic saturates here, and an event
/// due at `NEVER` never happens: a timer past the end of time never fires, a window
/// that would close after it lasts to the end of the run.
pub const NEVER: Nanos = Nanos::MAX;

use crate::measure::{RunRecord, Runs};
use crate::plan::Plan;
use crate::scenario::{Nanos, Scenario, Setup};

/// Runs one setup for one repetition.
pub fn run_one(s: &Scenario, plan: &Plan, setup: &Setup, repetition: u32) -> RunRecord {
    world::World::new(s, plan, setup, repetition).run()
}

/// Runs every repetition of every setup on up to `threads` threads; results are in
/// (setup, repetition) order, setups as the scenario lists them, whatever the thread count.
pub fn run(s: &Scenario, threads: usize) -> Runs {
    let setups = &s.models.setups;
    let jobs: Vec<(usize, u32)> = (0..setups.len())
        .flat_map(|k| (0..s.repetitions).map(move |r| (k, r)))
        .collect();
    let plans: Vec<Plan> = (0..s.repetitions).map(|r| Plan::draw(s, r)).collect();
    let threads = threads.clamp(1, jobs.len().max(1));
    let mut results: Vec<Option<RunRecord>> = (0..jobs.len()).map(|_| None).collect();
    if threads == 1 {
        for (i, &(k, r)) in jobs.iter().enumerate() {
            results[i] = Some(run_one(s, &plans[r as usize], &setups[k], r));
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
                        let rec = run_one(s, &plans[r as usize], &setups[k], r);
                        done.lock()
                            .expect("no worker panics while holding the lock")[i] = Some(rec);
                    }
                });
            }
        });
    }
    let mut out: Runs = setups
        .iter()
        .map(|setup| (setup.name.clone(), Vec::new()))
        .collect();
    for ((k, _), rec) in jobs.into_iter().zip(results) {
        out[k].1.push(rec.expect("every job ran"));
    }
    out
}

#[cfg(test)]
mod tests {
    //! The engine at the extremes of its types, with scenarios built as structs (no
    //! validation in the way): with overflow checks on (test builds), any wrapping
    //! addition panics here.
    use super::*;
    use crate::measure::{EventKind, RunRecord};
    use crate::scenario::{Arrival, Cut, Dist, DriftChange, Dur, Fault, HOUR, SECOND, When};
    use crate::scenario::{IntOrPercent, models::Backoff, models::Probability};
    use std::num::NonZeroU32;

    const DAY: Nanos = 24 * HOUR;

    fn base(extra: &str) -> Scenario {
        Scenario::parse(
            &format!("name: t\nduration: 2h\nseed: 3\nfleet: {{ apps: 2 }}\n{extra}"),
            "t.yaml",
        )
        .expect("a valid base")
    }

    fn events(r: &RunRecord, kind: EventKind) -> impl Iterator<Item = Nanos> + '_ {
        r.events.iter().filter(move |e| e.kind == kind).map(|e| e.t)
    }

    fn check_inside_the_run(s: &Scenario, runs: &[(String, Vec<RunRecord>)]) {
        for (kind, reps) in runs {
            for r in reps {
                for smp in &r.samples {
                    assert!(
                        smp.start <= smp.end && smp.end <= s.duration.0,
                        "{kind}: {smp:?}"
                    );
                }
                for e in &r.events {
                    assert!(e.t <= s.duration.0, "{kind}: {e:?}");
                }
            }
        }
    }

    /// Issue 11 item 9: `at + duration` wrapped, so an outage past the end of the run
    /// ended at once and a rollback came 57 s after the decision.
    #[test]
    fn an_outage_and_a_rollback_past_the_end_of_time_last_to_the_end_of_the_run() {
        let mut s = base("workload: { commits: { arrival: fixed, interval: 6h } }\n");
        // Delivery alone: the commits land in git when planned.
        s.ci = None;
        s.duration = Dur(200 * DAY);
        s.faults = vec![
            Fault::GitOutage {
                at: Dur(199 * DAY),
                duration: Dur(584 * 365 * DAY),
            },
            Fault::BadRelease {
                at: Dur(199 * DAY),
                rollback_after: Dur(584 * 365 * DAY),
                app: Some(0),
            },
        ];
        let runs = run(&s, 1);
        check_inside_the_run(&s, &runs);
        for (kind, reps) in &runs {
            let r = &reps[0];
            assert_eq!(events(r, EventKind::FaultStart).count(), 1, "{kind}");
            assert_eq!(
                events(r, EventKind::FaultEnd).count(),
                0,
                "{kind}: the outage never ends"
            );
            assert_eq!(events(r, EventKind::RollbackDecided).count(), 0, "{kind}");
            // Commits before the outage deploy within a day; none during it.
            for smp in &r.samples {
                assert!(smp.value() < DAY, "{kind}: {smp:?}");
                assert!(smp.start < 199 * DAY + HOUR, "{kind}: {smp:?}");
            }
            assert!(r.counters.deploys > 0 && r.counters.deploys_incomplete > 0);
        }
    }

    /// Every time and count of a scenario at its type's maximum: nothing overflows,
    /// everything measured lies inside the run.
    #[test]
    fn every_duration_at_u64_max_and_count_at_u32_max_runs_inside_the_run() {
        let mut s = base("");
        let max = Dur(Nanos::MAX);
        s.duration = max;
        s.workload.commits = Arrival::Fixed {
            interval: Dur(Nanos::MAX / 3),
            working_hours: None,
        };
        s.fleet.rollout.pod_start = Dist::fixed(Nanos::MAX / 2);
        s.fleet.rollout.progress_deadline = max;
        s.fleet.rollout.max_surge = IntOrPercent::Count(u32::MAX);
        s.fleet.rollout.max_unavailable = IntOrPercent::Count(u32::MAX);
        let push = s.models.push_mut().expect("a push setup");
        push.queue_wait = Dist::fixed(Nanos::MAX / 5);
        push.build = Dist::Uniform {
            min: 0,
            max: Nanos::MAX,
        };
        push.apply = Dist::fixed(Nanos::MAX);
        push.runners = u32::MAX;
        push.apply_parallelism = u32::MAX;
        push.drift_check = Some(Nanos::MAX / 7);
        let pull = s.models.pull_mut().expect("a pull setup");
        pull.poll.interval = Dur(Nanos::MAX / 5);
        pull.poll.jitter = max;
        pull.reconcile_interval = max;
        pull.reconcile_jitter = max;
        pull.retry.backoff = Backoff {
            initial: max,
            factor: f64::MAX,
            max,
        };
        pull.self_heal.backoff = pull.retry.backoff;
        pull.self_heal.cooldown = Some(max);
        pull.apply = Dist::Exponential { mean: Nanos::MAX };
        pull.concurrency = u32::MAX;
        pull.webhook = Some(crate::scenario::models::Webhook {
            delay: Dist::fixed(Nanos::MAX),
            loss: Probability(0.0),
        });
        let mid = Dur(Nanos::MAX / 2);
        s.faults = vec![
            Fault::Drift {
                change: DriftChange::Scale,
                when: When::Poisson {
                    arrival: "poisson",
                    mean_interval: Dur(Nanos::MAX / 8),
                },
                cluster: None,
                app: None,
            },
            Fault::Drift {
                change: DriftChange::Image,
                when: When::At { at: mid },
                cluster: Some(0),
                app: Some(1),
            },
            Fault::BadRelease {
                at: Dur(Nanos::MAX / 3),
                rollback_after: max,
                app: None,
            },
            Fault::GitOutage {
                at: mid,
                duration: max,
            },
            Fault::ApiBrownout {
                at: mid,
                duration: max,
                latency: Dist::fixed(Nanos::MAX),
                error_rate: Probability(0.5),
                cluster: None,
            },
            Fault::Partition {
                between: Cut::ReconcilerGit,
                at: max,
                duration: max,
            },
            Fault::ReconcilerCrash {
                at: mid,
                restart_after: max,
                cluster: None,
            },
            Fault::RunnerOutage {
                at: mid,
                duration: max,
            },
            Fault::ClusterLoss {
                cluster: 0,
                at: Dur(Nanos::MAX - 1),
                rebuild_after: max,
            },
        ];
        let runs = run(&s, 1);
        check_inside_the_run(&s, &runs);
        for (kind, reps) in &runs {
            assert!(
                events(&reps[0], EventKind::FaultStart).count() > 0,
                "{kind}: the faults did start"
            );
            assert_eq!(events(&reps[0], EventKind::FaultEnd).count(), 0, "{kind}");
        }
    }

    /// The same at the smallest positive times: 1 ns intervals everywhere in a 20 µs run.
    #[test]
    fn one_nanosecond_intervals_run_to_the_end_of_a_short_run() {
        let mut s = base("");
        s.duration = Dur(20_000);
        s.workload.commits = Arrival::Fixed {
            interval: Dur(1),
            working_hours: None,
        };
        s.fleet.rollout.pod_start = Dist::fixed(1);
        s.fleet.rollout.progress_deadline = Dur(1);
        let pull = s.models.pull_mut().expect("a pull setup");
        pull.poll.interval = Dur(1);
        pull.poll.jitter = Dur(1);
        pull.self_heal.backoff.initial = Dur(1);
        pull.self_heal.cooldown = Some(Dur(1));
        s.models.push_mut().expect("a push setup").drift_check = Some(1);
        s.faults = vec![Fault::Drift {
            change: DriftChange::Env,
            when: When::Poisson {
                arrival: "poisson",
                mean_interval: Dur(1),
            },
            cluster: None,
            app: None,
        }];
        let runs = run(&s, 1);
        check_inside_the_run(&s, &runs);
        for (kind, reps) in &runs {
            assert!(reps[0].counters.drift_events > 1_000, "{kind}");
        }
    }

    /// Issue 11 item 7: zero-delay retries during a git outage looped without time
    /// advancing, and the event queue grew by gigabytes. Retries now wait at least
    /// `MIN_RETRY_DELAY`, so a 1 s outage costs a bounded number of events.
    #[test]
    fn zero_delay_fetch_and_sync_retries_advance_time() {
        use crate::model::pull::MIN_RETRY_DELAY;
        let mut s = base("");
        // Delivery alone: the commit lands in git inside the brownout, as planned.
        s.ci = None;
        s.models.pull_mut().expect("a pull setup").retry.backoff = Backoff {
            initial: Dur(0),
            factor: 1.0,
            max: Dur(0),
        };
        s.models.pull_mut().expect("a pull setup").apply = Dist::zero();
        s.faults = vec![
            // Every apply fails for a second: sync retries with a zero backoff.
            Fault::ApiBrownout {
                at: Dur(HOUR),
                duration: Dur(SECOND),
                latency: Dist::zero(),
                error_rate: Probability(1.0),
                cluster: None,
            },
            // Then every fetch fails for a second: fetch retries with a zero backoff.
            Fault::GitOutage {
                at: Dur(HOUR + SECOND),
                duration: Dur(SECOND),
            },
        ];
        // One commit, in the brownout, so that its sync fails there.
        s.workload.commits = Arrival::Fixed {
            interval: Dur(HOUR + SECOND / 10),
            working_hours: None,
        };
        // A fetch per app per poll, so that fetches meet the outage.
        s.models.pull_mut().expect("a pull setup").refresh = crate::scenario::models::Refresh::Poll;
        s.models.pull_mut().expect("a pull setup").poll.interval = Dur(SECOND / 4);
        s.models.pull_mut().expect("a pull setup").poll.jitter = Dur(0);
        let plan = Plan::draw(&s, 0);
        let r = run_one(&s, &plan, s.models.get("pull").expect("a pull setup"), 0);
        let fails: Vec<Nanos> = events(&r, EventKind::FetchFailed).collect();
        let sync_fails: Vec<Nanos> = events(&r, EventKind::SyncFailed).collect();
        assert!(!fails.is_empty() && !sync_fails.is_empty());
        // Two apps, one retry each per millisecond at most, through each 1 s window.
        let most = 2 * (SECOND / MIN_RETRY_DELAY + 1) as usize;
        assert!(fails.len() <= most, "{} fetch failures", fails.len());
        assert!(
            sync_fails.len() <= most,
            "{} sync failures",
            sync_fails.len()
        );
        assert!(r.engine_events < 100_000, "{} events", r.engine_events);
    }

    #[test]
    fn no_repetitions_give_no_records_instead_of_a_panic() {
        let mut s = base("");
        s.repetitions = 0;
        let runs = run(&s, 4);
        assert!(runs.iter().all(|(_, reps)| reps.is_empty()));
    }

    #[test]
    fn replicas_beyond_int32_run_a_rollout_free_scenario() {
        let mut s = base("workload: { commits: { arrival: fixed, interval: 3h } }\n");
        s.fleet.replicas = NonZeroU32::MAX;
        let runs = run(&s, 1);
        check_inside_the_run(&s, &runs);
    }
}
