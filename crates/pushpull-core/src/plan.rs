//! The plan of one repetition: when commits land and which apps they change, when and
//! where drift happens, when bad releases are pushed. It is drawn from the scenario with
//! one RNG stream per component, before any model runs, so both delivery models face
//! exactly the same workload and adding a fault never reshuffles the commits.

use crate::model::{AppId, ClusterId};
use crate::scenario::{Arrival, DriftChange, Fault, Nanos, SECOND, Scenario, When};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};

/// Components that own an RNG stream. The stream id keeps them independent.
#[derive(Clone, Copy, Debug)]
pub enum Component {
    Workload,
    Push,
    Webhook,
    Rollout {
        cluster: ClusterId,
    },
    Pull {
        cluster: ClusterId,
    },
    Fault {
        index: u32,
    },
    /// Cluster API behaviour under faults (brownout latency and errors).
    Api,
    /// One source commit's CI and write-back draws (trigger, build, git push, review):
    /// workload commit `index`, or bad release `index` when `bad`. Keyed by the commit,
    /// so every setup draws the same values for it whatever happened before.
    Source {
        index: u32,
        bad: bool,
    },
    /// When image-automation controllers first scan the registry.
    ImageScan,
    /// The gate before environment `env` for one change: source commit `source` (a
    /// workload commit for `kind` 0, a bad release for 1) or, for `kind` 2, the config
    /// revision `source` (a revert). Keyed by the change, as [`Component::Source`].
    Gate {
        env: u32,
        source: u32,
        kind: u8,
    },
    /// Bad release `index`'s rollback around git: the fix delay, the re-enable delay and
    /// the undo applies.
    Rollback {
        index: u32,
    },
}

impl Component {
    fn stream(self) -> u64 {
        match self {
            Component::Workload => 1,
            Component::Push => 2,
            Component::Webhook => 3,
            Component::Rollout { cluster } => (4 << 32) | cluster as u64,
            Component::Pull { cluster } => (5 << 32) | cluster as u64,
            Component::Fault { index } => (6 << 32) | index as u64,
            Component::Api => 7,
            Component::Source { index, bad: false } => (8 << 32) | index as u64,
            Component::Source { index, bad: true } => (9 << 32) | index as u64,
            Component::ImageScan => 10,
            Component::Gate { env, source, kind } => {
                (0xC << 56)
                    | ((kind as u64 & 0x3) << 54)
                    | ((env as u64 & 0x3F_FFFF) << 32)
                    | source as u64
            }
            Component::Rollback { index } => (11 << 32) | index as u64,
        }
    }
}

/// The RNG of one component in one repetition: a ChaCha8 key from the scenario seed and
/// the repetition, a stream per component.
pub fn rng(seed: u64, repetition: u32, component: Component) -> ChaCha8Rng {
    let key = splitmix(seed ^ splitmix(repetition as u64 ^ 0x7075_7368_7075_6c6c));
    let mut r = ChaCha8Rng::seed_from_u64(key);
    r.set_stream(component.stream());
    r
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedCommit {
    pub at: Nanos,
    /// Distinct apps, ascending.
    pub apps: Vec<AppId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedDrift {
    pub at: Nanos,
    pub cluster: ClusterId,
    pub app: AppId,
    pub change: DriftChange,
    /// For `scale`: the replica count someone sets by hand.
    pub scale_to: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlannedBadRelease {
    pub at: Nanos,
    pub app: AppId,
    pub rollback_after: Nanos,
}

/// A fault that lasts a window of time (an outage, a partition, a crash, a loss).
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedWindow {
    /// Index into the scenario's `faults`.
    pub fault: u32,
    pub start: Nanos,
    pub end: Nanos,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub commits: Vec<PlannedCommit>,
    pub drifts: Vec<PlannedDrift>,
    pub bad_releases: Vec<PlannedBadRelease>,
    pub windows: Vec<PlannedWindow>,
}

/// Why a scenario cannot be planned as it stands.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "workload.commits: the replay of {repo} (branch {branch}) was never read from the repository, so no commit would land; read it with Scenario::resolve_replay (as `pushpull run` and `pushpull sweep` do) before running"
    )]
    UnresolvedReplay { repo: String, branch: String },
}

impl Plan {
    /// Refuses a scenario whose plan would silently miss part of its workload: an
    /// `arrival: replay` whose commit times were never read from the repository.
    pub fn ready(s: &Scenario) -> Result<(), PlanError> {
        match &s.workload.commits {
            Arrival::Replay {
                repo,
                branch,
                offsets: None,
            } => Err(PlanError::UnresolvedReplay {
                repo: repo.clone(),
                branch: branch.clone(),
            }),
            Arrival::Replay {
                offsets: Some(_), ..
            }
            | Arrival::Poisson { .. }
            | Arrival::Fixed { .. } => Ok(()),
        }
    }

    /// Draws repetition `repetition`'s plan. The scenario must pass [`Plan::ready`]
    /// (every run is admitted through it); an unresolved replay would draw no commit.
    pub fn draw(s: &Scenario, repetition: u32) -> Plan {
        let horizon = s.duration.0;
        let apps = s.apps();
        let mut plan = Plan::default();

        let mut r = rng(s.seed, repetition, Component::Workload);
        let k = s.workload.apps_per_commit.get().min(apps);
        if let Arrival::Replay { offsets, .. } = &s.workload.commits {
            // The first replayed commit lands one second in; the rest keep their spacing.
            debug_assert!(
                offsets.is_some(),
                "Plan::ready refuses an unresolved replay"
            );
            for &off in offsets.as_deref().unwrap_or(&[]) {
                let at = SECOND.saturating_add(off);
                if at >= horizon {
                    break;
                }
                plan.commits.push(PlannedCommit {
                    at,
                    apps: choose(&mut r, apps, k),
                });
            }
        } else {
            let (gap, hours) = match &s.workload.commits {
                Arrival::Poisson {
                    mean_interval,
                    working_hours,
                } => (Gap::Exp(mean_interval.0), working_hours.as_ref()),
                Arrival::Fixed {
                    interval,
                    working_hours,
                } => (Gap::Fixed(interval.0), working_hours.as_ref()),
                Arrival::Replay { .. } => unreachable!("handled above"),
            };
            // With working hours the process runs in working time `w` and each arrival
            // is mapped to the scenario time at which that much working time has passed:
            // an exact Poisson process whose rate is the scenario's inside working hours
            // and zero outside (no thinning, so no arrival is drawn and thrown away).
            let mut w: u128 = 0;
            let mut t: Nanos = 0;
            loop {
                let d = match gap {
                    Gap::Exp(mean) => exp(&mut r, mean),
                    Gap::Fixed(i) => i,
                };
                // Saturating: a gap past the end of time means no further commit.
                t = match hours {
                    None => t.saturating_add(d),
                    Some(h) => {
                        w = w.saturating_add(d as u128);
                        h.scenario_time(w)
                    }
                };
                if t >= horizon {
                    break;
                }
                plan.commits.push(PlannedCommit {
                    at: t,
                    apps: choose(&mut r, apps, k),
                });
            }
        }

        for (i, f) in s.faults.iter().enumerate() {
            let mut r = rng(s.seed, repetition, Component::Fault { index: i as u32 });
            match f {
                Fault::Drift {
                    change,
                    when,
                    cluster,
                    app,
                } => {
                    let times: Vec<Nanos> = match when {
                        When::At { at } => vec![at.0],
                        When::Poisson { mean_interval, .. } => {
                            let mut v = Vec::new();
                            let mut t: Nanos = 0;
                            loop {
                                t = t.saturating_add(exp(&mut r, mean_interval.0));
                                if t >= horizon {
                                    break v;
                                }
                                v.push(t);
                            }
                        }
                    };
                    for at in times {
                        let c = cluster.unwrap_or_else(|| r.random_range(0..s.clusters()));
                        let a = app.unwrap_or_else(|| r.random_range(0..apps));
                        let replicas = s.fleet.replicas_of(a);
                        // Someone scales by hand to any other count from 0 to twice the
                        // desired replicas (to u32::MAX where twice does not fit).
                        let mut scale_to = r.random_range(0..replicas.saturating_mul(2));
                        if scale_to >= replicas {
                            scale_to += 1;
                        }
                        plan.drifts.push(PlannedDrift {
                            at,
                            cluster: c,
                            app: a,
                            change: *change,
                            scale_to,
                        });
                    }
                }
                Fault::BadRelease {
                    at,
                    rollback_after,
                    app,
                } => {
                    let a = app.unwrap_or_else(|| r.random_range(0..apps));
                    plan.bad_releases.push(PlannedBadRelease {
                        at: at.0,
                        app: a,
                        rollback_after: rollback_after.0,
                    });
                }
                other => {
                    if let Some((start, end)) = window(other) {
                        plan.windows.push(PlannedWindow {
                            fault: i as u32,
                            start,
                            end,
                        });
                    }
                }
            }
        }
        plan.drifts.sort_by_key(|d| d.at);
        plan.bad_releases.sort_by_key(|b| b.at);
        plan
    }
}

/// A fault's window. The end saturates: a window that would end after the last
/// nanosecond never ends (its end event is never due, so it lasts to the end of the run).
fn window(f: &Fault) -> Option<(Nanos, Nanos)> {
    let (at, length) = match f {
        Fault::GitOutage { at, duration }
        | Fault::ApiBrownout { at, duration, .. }
        | Fault::Partition { at, duration, .. }
        | Fault::RunnerOutage { at, duration } => (at, duration),
        Fault::ReconcilerCrash {
            at, restart_after, ..
        } => (at, restart_after),
        Fault::ClusterLoss {
            at, rebuild_after, ..
        } => (at, rebuild_after),
        Fault::Drift { .. } | Fault::BadRelease { .. } => return None,
    };
    Some((at.0, at.0.saturating_add(length.0)))
}

#[derive(Clone, Copy)]
enum Gap {
    Exp(Nanos),
    Fixed(Nanos),
}

fn exp(r: &mut ChaCha8Rng, mean: Nanos) -> Nanos {
    let x: f64 = Exp1.sample(r);
    ((x * mean as f64).round() as Nanos).max(1)
}

/// `k` distinct apps out of `n`, ascending (Floyd's algorithm).
fn choose(r: &mut ChaCha8Rng, n: u32, k: u32) -> Vec<AppId> {
    let mut out: Vec<AppId> = Vec::with_capacity(k as usize);
    for j in (n - k)..n {
        let t = r.random_range(0..=j);
        if out.contains(&t) {
            out.push(j);
        } else {
            out.push(t);
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{HOUR, Scenario};

    fn scenario(extra: &str) -> Scenario {
        Scenario::parse(
            &format!("name: t\nduration: 24h\nseed: 5\n{extra}"),
            "t.yaml",
        )
        .unwrap()
    }

    #[test]
    fn an_unresolved_replay_is_refused_rather_than_drawing_no_commit() {
        let mut s = scenario("workload:\n  commits: { arrival: replay, repo: history }\n");
        let e = Plan::ready(&s).unwrap_err().to_string();
        assert!(e.contains("history") && e.contains("resolve_replay"), "{e}");
        s.resolve_replay(std::path::Path::new("."), |_, _| {
            Ok::<_, String>(vec![0, 60 * SECOND])
        })
        .unwrap();
        assert_eq!(Plan::ready(&s), Ok(()));
        assert_eq!(Plan::draw(&s, 0).commits.len(), 2);
        assert_eq!(Plan::ready(&scenario("")), Ok(()));
    }

    #[test]
    fn faults_do_not_reshuffle_commits() {
        let a = Plan::draw(&scenario(""), 0);
        let b = Plan::draw(
            &scenario(
                "faults:\n  - { kind: drift, change: env, arrival: poisson, mean_interval: 1h }\n",
            ),
            0,
        );
        assert_eq!(a.commits, b.commits);
        assert!(!b.drifts.is_empty());
    }

    #[test]
    fn repetitions_differ_and_are_reproducible() {
        let s = scenario("");
        assert_eq!(Plan::draw(&s, 1), Plan::draw(&s, 1));
        assert_ne!(Plan::draw(&s, 0).commits, Plan::draw(&s, 1).commits);
    }

    #[test]
    fn poisson_commit_rate_matches_the_mean_interval() {
        let s = Scenario::parse("name: t\nduration: 10000h\nworkload:\n  commits: { arrival: poisson, mean_interval: 10m }\n", "t").unwrap();
        let n = Plan::draw(&s, 0).commits.len() as f64;
        assert!((n - 60_000.0).abs() < 4.0 * 60_000f64.sqrt(), "{n} commits");
    }

    fn working_hours_scenario(duration: &str, commits: &str) -> Scenario {
        Scenario::parse(
            &format!(
                "name: t\nduration: {duration}\nseed: 9\nworkload:\n  commits: {{ {commits}, working_hours: {{ days: mon-fri, hours: 9-17, timezone: \"+01:00\" }} }}\n"
            ),
            "t",
        )
        .unwrap()
    }

    /// A Poisson process of rate 1/10m over working hours only: over 200 weeks of
    /// 40 working hours, N ~ Poisson(200 × 40 × 6 = 48,000), so |N − 48,000| stays
    /// under 4σ = 4√48,000 ≈ 876 except with probability about 6e-5.
    #[test]
    fn working_hours_arrivals_count_working_time_times_the_rate_and_none_fall_outside() {
        let s = working_hours_scenario("33600h", "arrival: poisson, mean_interval: 10m");
        let Arrival::Poisson {
            working_hours: Some(h),
            ..
        } = &s.workload.commits
        else {
            panic!("working hours were not parsed")
        };
        let plan = Plan::draw(&s, 0);
        let n = plan.commits.len() as f64;
        let expected = 200.0 * 40.0 * 6.0;
        assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n} commits");
        assert!(plan.commits.iter().all(|c| h.is_working(c.at)));
        // UTC+01:00: 9-17 local is 8-16 UTC, Monday to Friday.
        for c in &plan.commits {
            let in_week = c.at % crate::scenario::calendar::WEEK;
            let (day, hour) = (in_week / (24 * HOUR), in_week % (24 * HOUR) / HOUR);
            assert!(day < 5 && (8..16).contains(&hour), "{}", c.at);
        }
        // Counts per working day are Poisson(48): their variance equals their mean
        // (a thinned or clumped process would not keep the dispersion index at 1).
        let mut per_day = vec![0f64; 200 * 7];
        for c in &plan.commits {
            per_day[(c.at / (24 * HOUR)) as usize] += 1.0;
        }
        let days: Vec<f64> = per_day.chunks(7).flat_map(|w| w[..5].to_vec()).collect();
        let mean = days.iter().sum::<f64>() / days.len() as f64;
        let var = days.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (days.len() - 1) as f64;
        assert!((mean - 48.0).abs() < 1.0, "{mean}");
        // The sample variance of 1,000 Poisson(48) counts has sd ≈ 48 × √(2/999) ≈ 2.1.
        assert!(
            (var / mean - 1.0).abs() < 0.2,
            "variance {var}, mean {mean}"
        );
    }

    #[test]
    fn fixed_arrivals_in_working_hours_tick_through_working_time_only() {
        let s = working_hours_scenario("168h", "arrival: fixed, interval: 1h");
        let at: Vec<Nanos> = Plan::draw(&s, 0).commits.iter().map(|c| c.at).collect();
        // Working time 1h, 2h, ... 39h (the 40th is next Monday): Monday 10:00 local
        // (09:00 UTC) to 16:00, then Tuesday 09:00 local (08:00 UTC), and so on.
        assert_eq!(at.len(), 39);
        assert_eq!(at[0], 9 * HOUR);
        assert_eq!(at[6], 15 * HOUR);
        assert_eq!(at[7], 24 * HOUR + 8 * HOUR);
    }

    /// Issue 11 item 1: `2 * replicas` wrapped for 2^31 replicas and the draw of a
    /// hand-scaled count panicked ("cannot sample empty range").
    #[test]
    fn hand_scaled_counts_differ_from_replicas_at_any_replica_count() {
        let mut s = scenario(
            "faults:\n  - { kind: drift, change: scale, arrival: poisson, mean_interval: 10m }\n",
        );
        for replicas in [1, 3, i32::MAX as u32, 1 << 31, u32::MAX - 1, u32::MAX] {
            s.fleet.replicas = std::num::NonZeroU32::new(replicas).unwrap();
            let plan = Plan::draw(&s, 0);
            assert!(plan.drifts.len() > 100);
            for d in &plan.drifts {
                assert_ne!(d.scale_to, replicas, "{replicas}");
                if let Some(twice) = replicas.checked_mul(2) {
                    assert!(d.scale_to <= twice, "{replicas}: {}", d.scale_to);
                }
            }
        }
    }

    #[test]
    fn windows_past_the_end_of_time_end_never() {
        let mut s = scenario("");
        let max = crate::scenario::Dur(Nanos::MAX);
        s.faults = vec![
            Fault::GitOutage {
                at: crate::scenario::Dur(Nanos::MAX - 5),
                duration: max,
            },
            Fault::ClusterLoss {
                cluster: 0,
                at: crate::scenario::Dur(10),
                rebuild_after: crate::scenario::Dur(Nanos::MAX - 10),
            },
            Fault::ReconcilerCrash {
                at: crate::scenario::Dur(1),
                restart_after: crate::scenario::Dur(2),
                cluster: None,
            },
        ];
        let plan = Plan::draw(&s, 0);
        let ends: Vec<(Nanos, Nanos)> = plan.windows.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(
            ends,
            [(Nanos::MAX - 5, Nanos::MAX), (10, Nanos::MAX), (1, 3)]
        );
    }

    #[test]
    fn commit_and_drift_gaps_past_the_end_of_time_end_the_stream() {
        let mut s = scenario(
            "faults:\n  - { kind: drift, change: env, arrival: poisson, mean_interval: 1h }\n",
        );
        s.duration = crate::scenario::Dur(Nanos::MAX);
        s.workload.commits = Arrival::Fixed {
            interval: crate::scenario::Dur(Nanos::MAX / 2 + 1),
            working_hours: None,
        };
        if let Fault::Drift { when, .. } = &mut s.faults[0] {
            *when = When::Poisson {
                arrival: "poisson",
                mean_interval: crate::scenario::Dur(Nanos::MAX),
            };
        }
        let plan = Plan::draw(&s, 0);
        assert_eq!(plan.commits.len(), 1);
        assert!(plan.drifts.len() <= 64);
    }

    #[test]
    fn choose_gives_distinct_sorted_apps() {
        let mut r = rng(1, 0, Component::Workload);
        for _ in 0..1000 {
            let v = choose(&mut r, 10, 4);
            assert_eq!(v.len(), 4);
            assert!(v.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
