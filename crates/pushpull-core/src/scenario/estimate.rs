//! How much work a validated scenario is, before running it: the events the sim engine
//! will process, the rolling-update work of its replicas, the peak memory of a sim run
//! and, for live modes, the wall time. Pure arithmetic on the scenario (no I/O), so
//! `validate` can print it and `run` can refuse a scenario that does not fit the machine.
//!
//! Calibration (release build, 2 threads, peak RSS from `/usr/bin/time -v`, events from
//! summary.json's `engine.events`), estimate / measured:
//!
//! | scenario        | events              | peak memory          | CPU   |
//! |-----------------|---------------------|----------------------|-------|
//! | quickstart.yaml | 6.0k / 5,341 (+12%) | 26 / 13.6 MiB (1.9×) | 0.2 s |
//! | fleet.yaml      | 1.20M / 1.18M (+1%) | 61 / 32 MiB (1.9×)   | 0.8 s |
//! | fleet-xl.yaml   | 58.5M / 58.1M (+1%) | 457 / 248 MiB (1.8×) | 33 s  |
//! | quickstart, 500 repetitions | 970k / 888k (+9%) | 221 / 76 MiB (2.9×) | |
//! | drift-storm, 100 repetitions | 3.3M / 3.1M (+6%) | 266 / 96 MiB (2.8×) | |
//!
//! Events are within a few percent above; memory is an overestimate by 2-3× (the
//! report stage's CSV text and parsed copies are counted as if all alive at once).
//! Counts are expectations (Poisson means, average poll periods); failure retries are
//! counted at the fastest the backoff allows, so outages overestimate.

use super::bounds::MAX_SPAN;
use super::duration::{Nanos, secs};
use super::fault::{Cut, Fault, When};
use super::models::{Backoff, DriftDetection, PullConfig, SetupConfig};
use super::{Arrival, Scenario};
use std::fmt;

/// Resident memory every run has before any scenario state: the binary, the charts'
/// font and the report renderer's buffers.
const BASE_BYTES: f64 = 24.0 * MIB;
/// Per Deployment (cluster × app) of one world: the simulated Deployment, the
/// tracker's per-Deployment state, the model's (poll and sync state or pipeline
/// bookkeeping) and its pending timer in the event queue.
const BYTES_PER_DEPLOYMENT: f64 = 500.0;
/// Per sample kept for the whole run (the record, at the top of Vec growth) plus its
/// share of the report stage (the samples.csv text and its parsed copy).
const BYTES_PER_SAMPLE: f64 = 200.0;
/// Per timeline event kept for the whole run (record, detail string, events.csv text
/// and its parsed copy).
const BYTES_PER_TIMELINE_EVENT: f64 = 400.0;
/// Per planned commit (plan entry, queue entry, git tree header, tracker entry).
const BYTES_PER_COMMIT: f64 = 160.0;
/// Per planned drift (plan entry, queue entry, tracker entry).
const BYTES_PER_DRIFT: f64 = 120.0;
/// One pod of a rolling update becoming ready costs about `(1 + log2 S) / 100` of an
/// engine event, S being the pods starting at once: the stepper keeps starting pods in a
/// heap. Measured on a release build against 0.57 µs an event (fleet-xl.yaml: 58.1M
/// events, 33.3 s): quickstart.yaml with `replicas: 100000` runs in 1.45 s (estimate
/// 2.6 s), with `replicas: 1000000` in 34.6 s (estimate 32 s; cache misses grow the cost
/// of a step with the heap, so the largest counts are the least over-estimated).
const POD_STEP_PER_LOG: f64 = 1.0 / 100.0;

/// The default work budget of a sim run: 10^9 event-equivalents, about ten minutes of one
/// core at the calibration's 0.57 µs an event (repetitions run in parallel, so less on
/// several cores). fleet-xl.yaml, the largest shipped scenario, is 5.9·10^7.
pub const DEFAULT_MAX_WORK: f64 = 1e9;

const MIB: f64 = 1024.0 * 1024.0;

/// The estimate of one scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Engine events of the whole sim run: both models, every repetition.
    pub events: f64,
    /// The rolling-update stepping of every rollout, in event-equivalents.
    pub rollout_work: f64,
    /// Peak resident memory of a sim run, in bytes.
    pub peak_bytes: f64,
    /// Wall time of a live run, in seconds: duration × time_scale × repetitions.
    pub live_wall_s: f64,
    /// Worlds that run at once (threads, at most two per repetition).
    pub worlds: u32,
}

impl Estimate {
    /// Estimates `s` run on `threads` worker threads.
    pub fn of(s: &Scenario, threads: usize) -> Estimate {
        let d = secs(s.duration.0);
        let clusters = s.clusters() as f64;
        let apps = s.apps() as f64;
        let deployments = clusters * apps;
        let reps = s.repetitions as f64;
        let k = s.workload.apps_per_commit.get() as f64;

        let commits = match &s.workload.commits {
            Arrival::Poisson {
                mean_interval,
                working_hours,
            } => working(working_hours, d) / secs(mean_interval.0),
            Arrival::Fixed {
                interval,
                working_hours,
            } => (working(working_hours, d) / secs(interval.0)).floor(),
            Arrival::Replay { offsets, .. } => offsets.as_ref().map_or(0, Vec::len) as f64,
        };
        let mut drifts = 0.0;
        let mut bad = 0.0;
        for f in &s.faults {
            match f {
                Fault::Drift { when, .. } => {
                    drifts += match when {
                        When::At { .. } => 1.0,
                        When::Poisson { mean_interval, .. } => d / secs(mean_interval.0),
                    }
                }
                Fault::BadRelease { .. } => bad += 1.0,
                _ => {}
            }
        }
        // A bad release is a commit and its revert another.
        let all_commits = commits + 2.0 * bad;
        // App rollouts per cluster, per model and repetition.
        let deliveries = all_commits * k * clusters;
        let detailed = deployments <= 5_000.0;

        let mut events_per_rep = 0.0;
        let mut checks_all = 0.0;
        // Timeline lines a setup adds beyond those every setup writes.
        let mut timeline_extra = 0.0;
        for setup in &s.models.setups {
            match &setup.config {
                SetupConfig::Pull(pull) => {
                    let (events, failures) = pull_events(
                        s,
                        pull,
                        deployments,
                        apps,
                        deliveries,
                        drifts,
                        all_commits,
                        clusters,
                        d,
                    );
                    events_per_rep += events;
                    timeline_extra += failures;
                }
                SetupConfig::Push(push) => {
                    let checks = push.drift_check.map_or(0.0, |every| d / secs(every));
                    let runs = all_commits + checks;
                    events_per_rep +=
                        runs * 6.0 + deliveries * 3.0 + checks * deployments * 3.0 + drifts;
                    checks_all += checks;
                    timeline_extra += runs * 4.0;
                    if detailed {
                        timeline_extra += checks * deployments * 2.0;
                    }
                }
            }
        }
        let setups = s.models.setups.len() as f64;
        let events = reps * events_per_rep;

        // ------------------------------------------------------------ rollouts
        let shape = |replicas: u32, rollout: &super::Rollout| {
            let (surge, unavailable) = rollout.fenceposts(replicas);
            let starting = (surge as f64 + unavailable as f64).max(1.0);
            (starting, replicas as f64 * (1.0 + starting.log2()))
        };
        // Pod steps per rollout: the fleet's shape, or the mean over apps of their
        // groups' shapes; memory holds the largest group's starting pods.
        let (starting, per_rollout) = if s.fleet.groups.is_empty() {
            shape(s.fleet.replicas.get(), &s.fleet.rollout)
        } else {
            s.fleet.groups.iter().fold((1.0f64, 0.0), |(st, w), g| {
                let (a, b) = shape(g.replicas.get(), &g.rollout);
                (st.max(a), w + b * g.len() as f64 / apps)
            })
        };
        let rollouts = setups * (deliveries + drifts) + checks_all * deployments;
        let rollout_work = reps * rollouts * per_rollout * POD_STEP_PER_LOG;

        // ------------------------------------------------------------ memory
        let worlds = (threads.max(1) as f64).min(2.0 * reps);
        let tracker_commits = all_commits * clusters * 4.0;
        let git = (all_commits + 1.0) * apps * 4.0;
        let world = deployments * BYTES_PER_DEPLOYMENT
            + git
            + tracker_commits
            + all_commits * BYTES_PER_COMMIT
            + drifts * BYTES_PER_DRIFT
            // The pods of one rolling update being started at once.
            + starting * 8.0 * 2.0;
        let plans = reps * (all_commits * (BYTES_PER_COMMIT + 4.0 * k) + drifts * BYTES_PER_DRIFT);
        let samples_per = all_commits * clusters * 6.0 + commits + drifts + bad * 2.0 + 1.0;
        let mut timeline_per = all_commits * 2.0 + drifts * 3.0;
        if detailed {
            timeline_per += deliveries * 3.0;
        }
        let records = reps
            * (setups * (samples_per * BYTES_PER_SAMPLE + timeline_per * BYTES_PER_TIMELINE_EVENT)
                + timeline_extra * BYTES_PER_TIMELINE_EVENT);
        let peak_bytes = BASE_BYTES + worlds * world + plans + records;

        Estimate {
            events,
            rollout_work,
            peak_bytes,
            live_wall_s: secs(s.duration.0) * s.time_scale * reps,
            worlds: worlds as u32,
        }
    }

    /// Events plus rolling-update work: what the sim's run time grows with.
    pub fn work(&self) -> f64 {
        self.events + self.rollout_work
    }
}

/// Seconds of the horizon `d` (seconds) in which commits may arrive.
fn working(hours: &Option<super::WorkingHours>, d: f64) -> f64 {
    match hours {
        None => d,
        Some(w) => w.working_time((d * 1e9).min(u64::MAX as f64) as u64) as f64 / 1e9,
    }
}

/// Failed attempts in a window of `w` seconds when every attempt fails: the backoff
/// from its first delay, each delay capped by `cap` (a failed fetch waits no longer
/// than the next poll).
fn retries(b: &Backoff, w: f64, cap: Option<Nanos>) -> f64 {
    let cap = cap.unwrap_or(MAX_SPAN);
    let mut t = 0.0;
    let mut n = 0.0;
    for failures in 1..=64u32 {
        let delay = secs(b.delay(failures).min(cap).max(1));
        if t + delay > w {
            return n;
        }
        t += delay;
        n += 1.0;
        if b.delay(failures + 1).min(cap) == b.delay(failures).min(cap) {
            // Constant from here on.
            return n + ((w - t) / delay).floor();
        }
    }
    n
}

/// A count in words: `1.2M`, `340k`, `87`.
pub fn count(x: f64) -> String {
    if x >= 1e12 {
        format!("{x:.1e}")
    } else if x >= 1e9 {
        format!("{:.1}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Bytes in binary units: `512 MiB`, `3.2 GiB`.
pub fn bytes(x: f64) -> String {
    if x >= 1024.0 * MIB {
        format!("{:.1} GiB", x / (1024.0 * MIB))
    } else {
        format!("{:.0} MiB", (x / MIB).ceil())
    }
}

/// Seconds in words: `45 s`, `12 min`, `3.5 h`, `2.1 days`.
pub fn wall(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s < 365.25 * 86400.0 {
        format!("{:.1} days", s / 86400.0)
    } else {
        format!("{:.1} years", s / (365.25 * 86400.0))
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "~{} events, ~{} peak memory",
            count(self.events),
            bytes(self.peak_bytes)
        )?;
        if self.rollout_work > self.events {
            write!(f, ", ~{} rollout steps", count(self.rollout_work))?;
        }
        Ok(())
    }
}

/// Parses a memory size: `8GiB`, `512MiB`, `2G`, `1500M`, `1073741824` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim();
    let n: f64 = num.parse().map_err(|_| {
        format!("`{text}` is not a size; expected a number and a unit, like 8GiB or 512MiB")
    })?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => MIB,
        "g" | "gb" | "gib" => 1024.0 * MIB,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * MIB,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`; expected B, KiB, MiB, GiB or TiB (K, M, G, T mean the same)"
            ));
        }
    };
    let v = n * mult;
    if !(v.is_finite() && v >= MIB) {
        return Err(format!(
            "`{text}` is below 1 MiB; expected a size like 8GiB or 512MiB"
        ));
    }
    Ok(v.min(u64::MAX as f64) as u64)
}

/// Parses an event count: `5000000000`, `5e9`, `5G`, `200M`.
pub fn parse_count(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 1.0 => Ok(n * mult),
        _ => Err(format!(
            "`{text}` is not a count; expected a number of 1 or more, like 5e9 or 200M"
        )),
    }
}

/// A pull setup's engine events per repetition, and the failed operations among them.
#[allow(clippy::too_many_arguments)]
fn pull_events(
    s: &Scenario,
    pull: &PullConfig,
    deployments: f64,
    apps: f64,
    deliveries: f64,
    drifts: f64,
    all_commits: f64,
    clusters: f64,
    d: f64,
) -> (f64, f64) {
    let mut pull_events = match pull.refresh {
        super::models::Refresh::Poll => {
            let poll_period = secs(pull.poll.interval.0) + secs(pull.poll.jitter.0) / 2.0;
            deployments * d / poll_period
        }
        // The Argo CD hub: per shard and resync, one tick per second of jitter; per app
        // delivered, its own refresh, render, status patch and rate-limit wait.
        super::models::Refresh::Resync if pull.hub.is_some() => {
            let shards = pull.hub.as_ref().map_or(1.0, |h| f64::from(h.shards));
            let t = secs(pull.poll.interval.0).max(1e-9);
            let ticks = secs(pull.poll.jitter.0).floor() + 2.0;
            shards * d / t * ticks + deliveries * 4.0
        }
        // Argo CD: a timer per comparison (one every t·e/(e − 1) on average, see
        // model/refresh.rs) and one resync tick per controller every t.
        // Flux: one source check per cluster per interval; each config commit
        // reconciles every app of every cluster (the fan-out).
        super::models::Refresh::Source => {
            let poll_period = secs(pull.poll.interval.0) + secs(pull.poll.jitter.0) / 2.0;
            clusters * d / poll_period + all_commits * deployments
        }
        super::models::Refresh::Resync => {
            let t = secs(pull.poll.interval.0).max(1e-9);
            let e = std::f64::consts::E;
            deployments * d / (t * e / (e - 1.0)) + clusters * d / t
        }
    };
    if pull.webhook.is_some() {
        pull_events += all_commits * clusters;
    }
    if pull.drift_detection == DriftDetection::Interval {
        let period = secs(pull.reconcile_interval.0) + secs(pull.reconcile_jitter.0) / 2.0;
        pull_events += deployments * d / period;
    }
    pull_events += deliveries * 3.0 + drifts * 4.0;
    let mut failures = 0.0;
    for f in &s.faults {
        let Some((start, end)) = f.window() else {
            continue;
        };
        let w = secs(end.min(s.duration.0).saturating_sub(start));
        let scope = |c: Option<u32>| if c.is_some() { apps } else { deployments };
        failures += match f {
            Fault::GitOutage { .. }
            | Fault::Partition {
                between: Cut::ReconcilerGit,
                ..
            } => deployments * retries(&pull.retry, w, Some(pull.poll.interval.0)),
            Fault::Partition {
                between: Cut::ReconcilerCluster,
                ..
            } => deployments * retries(&pull.retry, w, None),
            Fault::ApiBrownout {
                error_rate,
                cluster,
                ..
            } => scope(*cluster) * retries(&pull.retry, w, None) * error_rate.0,
            Fault::ReconcilerCrash { cluster, .. } => scope(*cluster) * 3.0,
            Fault::ClusterLoss { .. } => apps * 3.0,
            _ => 0.0,
        };
    }
    pull_events += failures * 2.0;
    (pull_events, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn shipped(name: &str) -> Scenario {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios")
            .join(format!("{name}.yaml"));
        crate::scenario::tests::load_file(&p).unwrap()
    }

    fn with(extra: &str) -> Scenario {
        Scenario::parse(&format!("name: t\nduration: 24h\n{extra}"), "t.yaml").unwrap()
    }

    #[test]
    fn events_grow_with_polls_commits_and_repetitions() {
        let one = Estimate::of(&with(""), 1);
        let three = Estimate::of(&with("repetitions: 3\n"), 1);
        assert!((three.events / one.events - 3.0).abs() < 1e-9);
        // 10 apps compared every 190 s on average for a day (Argo CD's resync with its
        // skip): 4,552 refreshes, and 720 resync ticks.
        assert!(one.events > 5_272.0, "{}", one.events);
        let big = Estimate::of(&with("fleet: { clusters: 100, apps: 100 }\n"), 1);
        assert!(
            big.events > 500.0 * one.events,
            "{} vs {}",
            big.events,
            one.events
        );
    }

    #[test]
    fn memory_grows_with_the_fleet_and_the_threads_that_hold_a_world() {
        let small = Estimate::of(&with(""), 1);
        let fleet = Estimate::of(&with("fleet: { clusters: 1000, apps: 1000 }\n"), 1);
        let two = Estimate::of(
            &with("fleet: { clusters: 1000, apps: 1000 }\nrepetitions: 2\n"),
            2,
        );
        assert!(fleet.peak_bytes > small.peak_bytes + 400.0 * MIB);
        assert!(two.peak_bytes > 1.9 * (fleet.peak_bytes - BASE_BYTES));
        assert_eq!(two.worlds, 2);
    }

    #[test]
    fn issue_reproductions_are_over_a_default_budget() {
        // Half of a 16 GiB machine.
        let budget = 8.0 * 1024.0 * MIB;
        let mem = |extra: &str| Estimate::of(&with(extra), 2).peak_bytes;
        assert!(mem("fleet: { clusters: 10000, apps: 1000 }\n") > budget);
        assert!(mem("workload:\n  commits: { arrival: poisson, mean_interval: 1ms }\n") > budget);
        assert!(
            mem(
                "faults:\n  - { kind: drift, change: env, arrival: poisson, mean_interval: 1ms }\n"
            ) > budget
        );
        let century = Scenario::parse("name: t\nduration: 100y\n", "t.yaml").unwrap();
        assert!(Estimate::of(&century, 2).peak_bytes > budget);
        let work = |extra: &str| Estimate::of(&with(extra), 2).work();
        // A rolling update is O(R log S): 100,000 replicas run in seconds, 100 million do not.
        assert!(work("fleet: { replicas: 100000000 }\n") > DEFAULT_MAX_WORK);
        assert!(work("fleet: { replicas: 100000 }\n") < DEFAULT_MAX_WORK / 10.0);
    }

    #[test]
    fn shipped_scenarios_fit_a_small_machine() {
        for name in [
            "quickstart",
            "fleet",
            "fleet-xl",
            "drift-storm",
            "git-outage",
        ] {
            let e = Estimate::of(&shipped(name), 2);
            assert!(e.peak_bytes < 4.0 * 1024.0 * MIB, "{name}: {e}");
            assert!(e.work() < DEFAULT_MAX_WORK / 4.0, "{name}: {e}");
        }
    }

    #[test]
    fn live_wall_time_is_duration_times_scale_times_repetitions() {
        let e = Estimate::of(&shipped("quickstart-live"), 1);
        assert!((e.live_wall_s - 3.0 * 3600.0 * 0.005).abs() < 1e-6);
    }

    #[test]
    fn retries_follow_the_backoff_and_its_cap() {
        let b = Backoff {
            initial: super::super::Dur(5 * super::super::SECOND),
            factor: 2.0,
            max: super::super::Dur(180 * super::super::SECOND),
        };
        // 5+10+20+40+80 = 155 s, then 180 s each: 3600 s holds 5 + 19.
        assert_eq!(retries(&b, 3600.0, None), 24.0);
        // Capped at a 60 s poll: 5+10+20+40 = 75, then 60 each.
        assert_eq!(
            retries(&b, 3600.0, Some(60 * super::super::SECOND)),
            4.0 + 58.0
        );
    }

    #[test]
    fn counts_bytes_and_wall_times_print_in_words() {
        assert_eq!(count(87.0), "87");
        assert_eq!(count(340e3), "340k");
        assert_eq!(count(1.2e6), "1.2M");
        assert_eq!(count(3.4e9), "3.4G");
        assert_eq!(count(1.7e18), "1.7e18");
        assert_eq!(bytes(512.0 * MIB), "512 MiB");
        assert_eq!(bytes(3.2 * 1024.0 * MIB), "3.2 GiB");
        assert_eq!(wall(54.0), "54 s");
        assert_eq!(wall(3600.0), "60 min");
        assert_eq!(wall(86400.0), "24.0 h");
        assert_eq!(wall(10.0 * 86400.0), "10.0 days");
        assert_eq!(wall(2.0 * 365.25 * 86400.0), "2.0 years");
    }

    #[test]
    fn sizes_and_counts_parse_with_units() {
        assert_eq!(parse_size("8GiB").unwrap(), 8 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("1").is_err());
        assert_eq!(parse_count("5e9").unwrap(), 5e9);
        assert_eq!(parse_count("200M").unwrap(), 2e8);
        assert!(parse_count("0").is_err());
    }
}
