//! `pushpull fit`: turns a team's own delivery history into a scenario fragment. It reads
//! GitHub Actions runs and jobs, Jenkins builds, Argo CD sync history and the commit times
//! of a git branch, fits each duration (a lognormal when it fits, else the samples), and
//! writes YAML with a comment per value saying where it came from and how well it fits.

pub mod dist;
pub mod sources;

use crate::scenario::Nanos;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What to read, and how job and step names are told apart.
#[derive(Clone, Debug, Default)]
pub struct FitInputs {
    pub github_actions: Option<PathBuf>,
    pub jobs: Option<PathBuf>,
    pub jenkins: Option<PathBuf>,
    pub argocd: Option<PathBuf>,
    pub git: Option<PathBuf>,
    pub branch: String,
    pub build_job: String,
    pub deploy_job: String,
    pub apply_step: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(
        "nothing to fit: give at least one of --github-actions RUNS.json, --jobs JOBS.json, --jenkins BUILDS.json, --argocd APPS.json, --git REPO"
    )]
    NoInput,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Source(#[from] sources::SourceError),
    #[error("{0}")]
    Git(String),
    #[error("{path}: {what}: none found, so there is nothing to fit{hint}")]
    Empty {
        path: String,
        what: String,
        hint: String,
    },
}

fn read(path: &Path) -> Result<String, FitError> {
    std::fs::read_to_string(path).map_err(|source| FitError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn name_of(path: &Path) -> String {
    path.display().to_string()
}

/// One fitted key of the fragment: `key: {dist...}  # comment`.
struct Line {
    key: &'static str,
    comment: String,
    value: String,
}

fn fitted(key: &'static str, source: String, samples: &[Nanos]) -> Line {
    let f = dist::fit(samples);
    Line {
        key,
        comment: format!("{source}: {}", f.comment()),
        value: f.yaml(),
    }
}

fn nonempty(path: &str, what: &str, hint: &str, v: &[Nanos]) -> Result<(), FitError> {
    if v.is_empty() {
        Err(FitError::Empty {
            path: path.into(),
            what: what.into(),
            hint: hint.into(),
        })
    } else {
        Ok(())
    }
}

fn share(o: &sources::Outcomes, what: &str) -> Option<String> {
    o.failed_share().map(|s| {
        format!(
            "{:.1}% of finished {what} failed ({} of {}, {} cancelled or skipped not counted); pushpull injects failed releases as `bad_release` faults",
            s * 100.0,
            o.failed,
            o.finished - o.other,
            o.other
        )
    })
}

/// A setup of the fragment.
struct SetupOut {
    name: &'static str,
    kind: &'static str,
    preset: &'static str,
    notes: Vec<String>,
    lines: Vec<Line>,
}

/// Reads every input and writes the fragment.
pub fn fit(inputs: &FitInputs) -> Result<String, FitError> {
    if inputs.github_actions.is_none()
        && inputs.jobs.is_none()
        && inputs.jenkins.is_none()
        && inputs.argocd.is_none()
        && inputs.git.is_none()
    {
        return Err(FitError::NoInput);
    }
    let mut setups = Vec::new();
    let mut read_from = Vec::new();

    if inputs.github_actions.is_some() || inputs.jobs.is_some() {
        let mut s = SetupOut {
            name: "gha",
            kind: "push",
            preset: "github-actions",
            notes: Vec::new(),
            lines: Vec::new(),
        };
        let runs = match &inputs.github_actions {
            Some(p) => {
                let r = sources::gha_runs(&name_of(p), &read(p)?)?;
                read_from.push(format!(
                    "{} ({} finished runs)",
                    name_of(p),
                    r.outcomes.finished
                ));
                s.notes.extend(share(&r.outcomes, "runs"));
                Some((name_of(p), r))
            }
            None => None,
        };
        let jobs = match &inputs.jobs {
            Some(p) => {
                let patterns = sources::Patterns {
                    build: &inputs.build_job,
                    deploy: &inputs.deploy_job,
                    apply: &inputs.apply_step,
                };
                let j = sources::gha_jobs(&name_of(p), &read(p)?, &patterns)?;
                read_from.push(format!("{} ({} finished jobs)", name_of(p), j.jobs));
                Some((name_of(p), j))
            }
            None => None,
        };
        // The wait for a runner: per job where jobs are given (created → started), else
        // per run.
        match (&jobs, &runs) {
            (Some((p, j)), _) if !j.queue.is_empty() => s.lines.push(fitted(
                "queue_wait",
                format!("job created → started ({p})"),
                &j.queue,
            )),
            (_, Some((p, r))) => {
                nonempty(p, "finished runs", "", &r.queue)?;
                s.lines.push(fitted(
                    "queue_wait",
                    format!("run created → started ({p}; a jobs file measures the runner wait more closely)"),
                    &r.queue,
                ))
            }
            _ => {}
        }
        match (&jobs, &runs) {
            (Some((p, j)), _) => {
                nonempty(
                    p,
                    &format!("jobs whose name contains `{}`", inputs.build_job),
                    " (name the build job with --build-job)",
                    &j.build,
                )?;
                s.lines.push(fitted(
                    "build",
                    format!("jobs named *{}* ({p})", inputs.build_job),
                    &j.build,
                ));
                if !j.apply.is_empty() {
                    s.lines.push(fitted(
                        "apply",
                        format!(
                            "steps named *{}* of jobs named *{}* ({p})",
                            inputs.apply_step, inputs.deploy_job
                        ),
                        &j.apply,
                    ));
                }
                if !j.deploy.is_empty() {
                    let f = dist::fit(&j.deploy);
                    s.notes.push(format!(
                        "whole deploy jobs (*{}*) took median {}, p99 {} (n = {}): they include waiting for the rollout, which pushpull models from fleet.rollout, so they are not used as `apply`",
                        inputs.deploy_job,
                        dist::readable(f.observed_median),
                        dist::readable(f.observed_p99),
                        f.n
                    ));
                }
            }
            (None, Some((p, r))) => {
                nonempty(p, "finished runs", "", &r.duration)?;
                s.lines.push(fitted(
                    "build",
                    format!("whole runs, started → last update ({p}; give --jobs to separate build from deploy)"),
                    &r.duration,
                ));
            }
            (None, None) => {}
        }
        setups.push(s);
    }

    if let Some(p) = &inputs.jenkins {
        let path = name_of(p);
        let b = sources::jenkins(&path, &read(p)?)?;
        read_from.push(format!("{path} ({} finished builds)", b.outcomes.finished));
        let mut s = SetupOut {
            name: "jenkins",
            kind: "push",
            preset: "jenkins",
            notes: share(&b.outcomes, "builds").into_iter().collect(),
            lines: Vec::new(),
        };
        if b.queue.is_empty() {
            s.notes.push(
                "no queue times (the Metrics plugin's TimeInQueueAction records them as queuingDurationMillis): queue_wait stays the preset's".into(),
            );
        } else {
            s.lines.push(fitted(
                "queue_wait",
                format!("queuingDurationMillis ({path})"),
                &b.queue,
            ));
        }
        nonempty(&path, "finished builds", "", &b.duration)?;
        s.lines.push(fitted(
            "build",
            format!(
                "build duration ({path}; a pipeline that also deploys includes its deploy stage)"
            ),
            &b.duration,
        ));
        setups.push(s);
    }

    if let Some(p) = &inputs.argocd {
        let path = name_of(p);
        let a = sources::argocd(&path, &read(p)?)?;
        read_from.push(format!(
            "{path} ({} Applications, {} syncs)",
            a.applications,
            a.sync.len()
        ));
        nonempty(
            &path,
            "sync history (status.history with deployStartedAt and deployedAt)",
            "",
            &a.sync,
        )?;
        let mut s = SetupOut {
            name: "argocd",
            kind: "pull",
            preset: "argocd",
            notes: share(&a.outcomes, "last sync operations")
                .into_iter()
                .collect(),
            lines: Vec::new(),
        };
        s.lines.push(fitted(
            "apply",
            format!("sync deployStartedAt → deployedAt ({path})"),
            &a.sync,
        ));
        setups.push(s);
    }

    let arrivals = match &inputs.git {
        Some(repo) => {
            let times = crate::live::git::replay::commit_times(repo, &inputs.branch)
                .map_err(|e| FitError::Git(e.to_string()))?;
            read_from.push(format!(
                "{} branch {} ({} commits)",
                name_of(repo),
                inputs.branch,
                times.len()
            ));
            Some(arrivals(&times))
        }
        None => None,
    };

    Ok(render(&read_from, arrivals.as_ref(), &setups))
}

/// What the commit history says about arrivals.
#[derive(Debug, PartialEq)]
pub struct Arrivals {
    pub commits: usize,
    /// Wall-clock span ÷ gaps.
    pub mean_interval: Nanos,
    /// Coefficient of variation of the gaps (1 for a Poisson process).
    pub cv: f64,
    /// Share of commits made Monday to Friday, in the committer's own time zone.
    pub weekday_share: f64,
    /// The narrowest whole-hour window holding at least 90% of weekday commits, and the
    /// share it holds.
    pub hours: (u32, u32, f64),
    /// The mean interval counting only that window on weekdays.
    pub working_mean_interval: Option<Nanos>,
}

/// Reads arrival statistics from commit times (seconds, UTC offset).
pub fn arrivals(times: &[(i64, i32)]) -> Arrivals {
    let mut secs: Vec<i64> = times.iter().map(|t| t.0).collect();
    secs.sort_unstable();
    let n = secs.len();
    let gaps: Vec<f64> = secs.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let span = (secs[n - 1] - secs[0]) as f64;
    let mean = if gaps.is_empty() {
        0.0
    } else {
        span / gaps.len() as f64
    };
    let cv = if gaps.len() > 1 && mean > 0.0 {
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (gaps.len() - 1) as f64;
        var.sqrt() / mean
    } else {
        0.0
    };
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
    let local = |&(s, off): &(i64, i32)| s + off as i64;
    let weekday = |l: i64| (l.div_euclid(86_400) + 3).rem_euclid(7);
    let hour = |l: i64| (l.rem_euclid(86_400) / 3_600) as u32;
    let weekday_hours: Vec<u32> = times
        .iter()
        .map(local)
        .filter(|&l| weekday(l) < 5)
        .map(hour)
        .collect();
    let weekday_share = weekday_hours.len() as f64 / n as f64;
    let mut best = (0, 24, 1.0);
    'width: for width in 1..=24u32 {
        for start in 0..=(24 - width) {
            let inside = weekday_hours
                .iter()
                .filter(|&&h| h >= start && h < start + width)
                .count();
            let share = inside as f64 / weekday_hours.len().max(1) as f64;
            if share >= 0.9 {
                best = (start, start + width, share);
                break 'width;
            }
        }
    }
    let (h0, h1, _) = best;
    let working_mean_interval = (weekday_share >= 0.9 && h1 - h0 <= 14 && n > 1).then(|| {
        // Working seconds between the first and last commit, day by day (in the zone
        // of the first commit).
        let off = times.iter().map(|t| t.1 as i64).next().unwrap_or(0);
        let (a, b) = (secs[0] + off, secs[n - 1] + off);
        let mut work = 0i64;
        let mut day = a.div_euclid(86_400);
        while day <= b.div_euclid(86_400) {
            if weekday(day * 86_400) < 5 {
                let lo = (day * 86_400 + h0 as i64 * 3_600).max(a);
                let hi = (day * 86_400 + h1 as i64 * 3_600).min(b);
                work += (hi - lo).max(0);
            }
            day += 1;
        }
        (work as f64 / (n - 1) as f64 * 1e9) as Nanos
    });
    Arrivals {
        commits: n,
        mean_interval: (mean * 1e9) as Nanos,
        cv,
        weekday_share,
        hours: best,
        working_mean_interval,
    }
}

fn render(read_from: &[String], arrivals: Option<&Arrivals>, setups: &[SetupOut]) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Fitted by `pushpull fit` ({}) from:",
        env!("CARGO_PKG_VERSION")
    );
    for r in read_from {
        let _ = writeln!(y, "#   {r}");
    }
    let _ = writeln!(
        y,
        "# A duration is a lognormal where one fits (Kolmogorov–Smirnov against Lilliefors' 5%\n# critical value), else the observed samples. Merge these keys into a scenario, then\n# `pushpull validate` it."
    );
    if let Some(a) = arrivals {
        let _ = writeln!(y, "workload:");
        let _ = writeln!(y, "  commits:");
        let _ = writeln!(
            y,
            "    # {} commits; gaps have a coefficient of variation of {:.2} (1 for a Poisson process)",
            a.commits, a.cv
        );
        let (h0, h1, share) = a.hours;
        let _ = writeln!(
            y,
            "    # {:.0}% of commits on Monday–Friday, {:.0}% of those between {h0}:00 and {h1}:00 local time",
            a.weekday_share * 100.0,
            share * 100.0
        );
        if let Some(w) = a.working_mean_interval {
            let _ = writeln!(
                y,
                "    # counting only those working hours, the mean interval is {} (for a calendar of mon-fri {h0}-{h1})",
                dist::readable(w)
            );
        }
        let _ = writeln!(y, "    arrival: poisson");
        let _ = writeln!(
            y,
            "    mean_interval: {}  # wall-clock span ÷ gaps",
            dist::readable(a.mean_interval.max(1_000_000_000))
        );
    }
    if !setups.is_empty() {
        let _ = writeln!(y, "models:");
    }
    for s in setups {
        let _ = writeln!(y, "  {}:", s.name);
        for n in &s.notes {
            let _ = writeln!(y, "    # {n}");
        }
        let _ = writeln!(y, "    kind: {}", s.kind);
        let _ = writeln!(y, "    preset: {}", s.preset);
        for l in &s.lines {
            let _ = writeln!(y, "    # {}", l.comment);
            let _ = writeln!(y, "    {}: {}", l.key, l.value);
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_hours_are_found_in_commit_times() {
        // Two weeks of commits at 10:00, 11:30, 14:00 and 16:45 UTC+1 on weekdays
        // (2024-05-06 was a Monday).
        let monday = 1_714_953_600i64; // 2024-05-06T00:00:00Z
        let off = 3_600;
        let mut times = Vec::new();
        for week in 0..2 {
            for day in 0..5 {
                for (h, m) in [(10, 0), (11, 30), (14, 0), (16, 45)] {
                    let local = monday + (week * 7 + day) * 86_400 + h * 3_600 + m * 60;
                    times.push((local - off as i64, off));
                }
            }
        }
        let a = arrivals(&times);
        assert_eq!(a.commits, 40);
        assert_eq!(a.weekday_share, 1.0);
        assert_eq!((a.hours.0, a.hours.1), (10, 17));
        // Working time from the first commit (Mon 10:00) to the last (Fri 16:45 of
        // week 2): 10 days × 7 h minus 15 min, over 39 gaps.
        let work = (10 * 7 * 3_600 - 15 * 60) as f64 / 39.0;
        let got = a.working_mean_interval.unwrap() as f64 / 1e9;
        assert!((got - work).abs() < 1.0, "{got} vs {work}");
    }
}
