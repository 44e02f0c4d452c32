//! The library-level entry points behind `pushpull run` and `pushpull sweep`: load and check
//! the scenarios, hold them to the memory and work budgets, run them in the sim or a live
//! world, write each run folder, and decide the outcome (ok, a threshold breached,
//! interrupted). Callers other than the CLI use `run` and `sweep` with a `Sink` that shows
//! the warnings and results; nothing here prints or exits.

use crate::live::{LiveError, Target};
use crate::measure::summary::Summary;
use crate::outdir::{Kind, OutdirError, Staging};
use crate::report::{self, ReportError, RunInfo};
use crate::scenario::{Estimate, Scenario};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a run or sweep did not complete. Every variant but `Live` is bad input; a `Live`
/// error may also be a missing tool or cluster (`LiveError` tells which).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An option out of range (`--repetitions`, `--time-scale`, `--max-memory`,
    /// `--max-events`, `--set`).
    #[error("{0}")]
    Option(String),
    /// A scenario file that cannot be read, parsed, resolved or planned.
    #[error("{0}")]
    Scenario(String),
    /// A scenario over the memory or work budget.
    #[error("{0}")]
    TooBig(String),
    /// A result folder that cannot be locked, staged or swapped in.
    #[error(transparent)]
    Folder(#[from] OutdirError),
    /// A result file that cannot be written.
    #[error(transparent)]
    Write(#[from] ReportError),
    /// The live world failed before it measured anything, or stopped after it had (the
    /// repetitions before it are written, marked partial).
    #[error(transparent)]
    Live(#[from] LiveError),
}

/// What a run reports while it goes on, for the caller to show.
pub enum Progress<'a> {
    /// Something the user should know before the run goes on (the CLI prints
    /// `warning: ...`).
    Warning(String),
    /// A fact about how the run will be carried out (the CLI prints `note: ...`).
    Note(String),
    /// One scenario ran and its folder is in place.
    Finished(&'a Finished),
}

/// Receives a run's progress.
pub type Sink<'a> = &'a mut dyn FnMut(Progress<'_>);

/// The memory and work budgets as given (`--max-memory 8GiB`, `--max-events 5e9`); `None`
/// takes the default.
#[derive(Clone, Debug, Default)]
pub struct Budgets {
    pub max_memory: Option<String>,
    pub max_events: Option<String>,
}

/// What `run` runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Scenario files (YAML), run in this order.
    pub scenarios: Vec<PathBuf>,
    /// `None`: the sim; otherwise the live target.
    pub live: Option<Target>,
    /// Each scenario writes to `out/<name>/`.
    pub out: PathBuf,
    pub seed: Option<u64>,
    pub repetitions: Option<u32>,
    pub time_scale: Option<f64>,
    /// Worker threads for repetitions (`None`: every core).
    pub threads: Option<usize>,
    pub budgets: Budgets,
    /// The command line recorded in each run.json.
    pub command: String,
}

/// One scenario that ran.
pub struct Finished {
    pub scenario: Scenario,
    /// The run folder (`out/<name>`).
    pub dir: PathBuf,
    /// The files written, relative to `dir`, charts counted (`summary.json, …, 14 charts`).
    pub written: String,
    pub summary: Summary,
    /// Wall time of the run, reports included, in seconds.
    pub wall: f64,
    /// How it ended.
    pub end: End,
}

/// How one scenario's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Every repetition ran.
    Complete,
    /// Ctrl-C: what was measured is written, marked partial; no later scenario runs.
    Interrupted,
    /// A live error after some repetitions: they are written, marked partial, and `run`
    /// returns the error.
    Stopped,
}

/// The outcome of a `run` or `sweep` that completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every threshold held.
    Ok,
    /// At least one scenario (or variant) breached a threshold.
    Breached,
    /// Interrupted; the scenario that was running is written, marked partial.
    Interrupted,
}

pub struct RunOutcome {
    pub verdict: Verdict,
}

/// Runs every scenario of `opts`: all are loaded, checked against the budgets and their
/// folders locked before the first runs; each one's result is passed to `sink` as soon as
/// its folder is in place.
pub fn run(opts: &RunOptions, sink: Sink<'_>) -> Result<RunOutcome, RunError> {
    if let Some(target) = &opts.live {
        crate::live::preflight(target)?;
    }
    check_overrides(opts.repetitions, opts.time_scale)?;
    let budget = Budget::resolve(&opts.budgets)?;
    let workers = threads(opts.threads);
    let mode_name = opts.live.as_ref().map(mode_of);
    // Validate every file before running any, so a typo in the third file does not
    // surface after the first two ran for minutes.
    let mut scenarios = Vec::new();
    for p in &opts.scenarios {
        let mut s = load(p)?;
        if let Some(seed) = opts.seed {
            s.seed = seed;
        }
        if let Some(r) = opts.repetitions {
            s.repetitions = r;
        }
        if let Some(x) = opts.time_scale {
            s.time_scale = x;
        }
        if let Some(target) = &opts.live {
            crate::live::check_time_scale(&s, target)
                .and_then(|()| crate::live::check_app_groups(&s))
                .map_err(|e| RunError::Scenario(format!("{}: {e}", p.display())))?;
        }
        admit(&s, p, &budget, workers, mode_name, sink)?;
        scenarios.push((p.clone(), s));
    }
    if opts.live.is_none() {
        // Live runs stop on Ctrl-C themselves and write what they measured.
        clean_up_on_signals(sink);
    }
    // Every result folder is locked and its temporary folder created before anything runs,
    // so a bad --out, a name that cannot be a folder there, or another run writing the same
    // folder is reported now rather than after the simulation.
    let mut stagings = Vec::new();
    for (_, s) in &scenarios {
        stagings.push(Staging::begin(&opts.out.join(&s.name), Kind::Run)?);
    }
    let mut breached = false;
    for ((path, s), staging) in scenarios.into_iter().zip(stagings) {
        let dir = staging.target().to_path_buf();
        let done = execute(
            &s,
            &path.display().to_string(),
            staging.path(),
            workers,
            opts.live.clone(),
            &opts.command,
            true,
            sink,
        )?;
        let written = relative_names(staging.path(), &done.written);
        staging.commit()?;
        let end = if done.stopped_by.is_some() {
            End::Stopped
        } else if done.summary.partial {
            End::Interrupted
        } else {
            End::Complete
        };
        let finished = Finished {
            scenario: s,
            dir,
            written,
            summary: done.summary,
            wall: done.wall,
            end,
        };
        sink(Progress::Finished(&finished));
        if let Some(e) = done.stopped_by {
            return Err(RunError::Live(e));
        }
        if end == End::Interrupted {
            return Ok(RunOutcome {
                verdict: Verdict::Interrupted,
            });
        }
        breached |= !finished.summary.thresholds_ok();
    }
    Ok(RunOutcome {
        verdict: if breached {
            Verdict::Breached
        } else {
            Verdict::Ok
        },
    })
}

/// What `sweep` runs: one scenario once per combination of `set` values, in the sim.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub scenario: PathBuf,
    /// `KEY=V1,V2,...`, one per axis of the grid.
    pub set: Vec<String>,
    /// Variants write to `out/<name>/sweep/<variant>/`.
    pub out: PathBuf,
    pub seed: Option<u64>,
    pub repetitions: Option<u32>,
    pub threads: Option<usize>,
    pub budgets: Budgets,
    /// The command line recorded in each variant's run.json.
    pub command: String,
}

pub struct SweepOutcome {
    /// The scenario's name.
    pub name: String,
    /// The sweep folder (`out/<name>/sweep`).
    pub root: PathBuf,
    pub variants: usize,
    /// The comparison table, as `sweep.csv` holds it in CSV.
    pub table: String,
    /// One line per threshold a variant breached: which variant, which figure, by how much.
    pub breaches: Vec<String>,
    pub verdict: Verdict,
}

/// The thresholds each variant of a sweep breached, one line each: "variant `<label>`:
/// <setup> <metric> <quantile> is <value>, over its threshold of <max>".
pub fn sweep_breaches(rows: &[(String, String, Summary)]) -> Vec<String> {
    rows.iter()
        .flat_map(|(label, _, summary)| {
            summary.thresholds.iter().filter(|t| !t.ok).map(move |t| {
                format!(
                    "variant `{label}`: {} {} {}{} is {}, over its threshold of {}",
                    t.model,
                    t.metric,
                    t.statistic(),
                    t.scope(),
                    match (
                        t.value_s,
                        // A selection's own estimate, else the whole fleet's.
                        match t.selection {
                            Some(_) => t.beyond_s,
                            None => t.quantile.and_then(|q| {
                                summary
                                    .model(&t.model)
                                    .and_then(|m| m.metric(&t.metric))
                                    .and_then(|m| m.beyond(q))
                            }),
                        }
                    ) {
                        (Some(v), _) => crate::report::table::threshold_value(t, v),
                        (None, Some(b)) => format!(
                            "more than {} (still open at the end of the run)",
                            crate::report::table::human(b)
                        ),
                        (None, None) => "without samples".into(),
                    },
                    crate::report::table::threshold_value(t, t.max_s)
                )
            })
        })
        .collect()
}

/// A sweep ready to run: its variants validated, overridden and held to the budgets.
pub struct PreparedSweep {
    /// The scenario file as given (`run.json`'s `scenario_file`).
    pub file: String,
    /// The scenario file's text.
    pub text: String,
    /// The scenario's name.
    pub name: String,
    pub variants: Vec<crate::sweep::Variant>,
    /// Worker threads.
    pub threads: usize,
}

/// Reads the scenario, builds every variant of `opts.set`, applies `--seed` and
/// `--repetitions`, and checks every variant against the budgets before any runs.
pub fn prepare_sweep(opts: &SweepOptions, sink: Sink<'_>) -> Result<PreparedSweep, RunError> {
    check_overrides(opts.repetitions, None)?;
    let budget = Budget::resolve(&opts.budgets)?;
    let bytes = std::fs::read(&opts.scenario).map_err(|e| {
        RunError::Scenario(format!(
            "cannot read scenario {}: {e}",
            opts.scenario.display()
        ))
    })?;
    let text = crate::scenario::decode(&bytes, &opts.scenario.display().to_string())
        .map_err(|e| RunError::Scenario(e.to_string()))?;
    let axes = opts
        .set
        .iter()
        .map(|a| crate::sweep::Axis::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Option(e.to_string()))?;
    let file = opts.scenario.display().to_string();
    let mut variants = crate::sweep::variants(text, &file, &axes)
        .map_err(|e| RunError::Scenario(e.to_string()))?;
    let threads = threads(opts.threads);
    let name = variants
        .first()
        .map(|v| v.scenario.name.clone())
        .unwrap_or_default();
    // Every variant must fit the budget before the first one runs.
    for v in &mut variants {
        if let Some(seed) = opts.seed {
            v.scenario.seed = seed;
        }
        if let Some(r) = opts.repetitions {
            v.scenario.repetitions = r;
        }
        admit(
            &v.scenario,
            &PathBuf::from(format!("{file} [{}]", v.label)),
            &budget,
            threads,
            None,
            sink,
        )?;
    }
    Ok(PreparedSweep {
        file,
        text: text.to_string(),
        name,
        variants,
        threads,
    })
}

/// Runs every variant of a sweep; the whole sweep folder is built aside and swapped in at
/// the end.
pub fn sweep(opts: &SweepOptions, sink: Sink<'_>) -> Result<SweepOutcome, RunError> {
    let PreparedSweep {
        file,
        name,
        mut variants,
        threads,
        ..
    } = prepare_sweep(opts, sink)?;
    let root = opts.out.join(&name).join("sweep");
    clean_up_on_signals(sink);
    // The whole sweep folder is built aside and swapped in at the end, under the lock of
    // the scenario's folder too (a run into it carries sweep/ over, so must not run now).
    let _scenario_lock = crate::outdir::Lock::acquire(&opts.out.join(&name))?;
    let staging = Staging::begin(&root, Kind::Sweep)?;
    let mut rows = Vec::new();
    let mut breached = false;
    for v in &mut variants {
        let done = execute(
            &v.scenario,
            &file,
            &staging.path().join(&v.slug),
            threads,
            None,
            &opts.command,
            false,
            sink,
        )?;
        breached |= !done.summary.thresholds_ok();
        rows.push((v.label.clone(), v.slug.clone(), done.summary));
    }
    let (table, csv) = report::table::sweep(&rows);
    report::write_atomic(&staging.path().join("sweep.csv"), csv.as_bytes())?;
    crate::sweep::html::write(staging.path(), &name, &variants, &rows)?;
    staging.commit()?;
    Ok(SweepOutcome {
        name,
        root,
        variants: rows.len(),
        breaches: sweep_breaches(&rows),
        table,
        verdict: if breached {
            Verdict::Breached
        } else {
            Verdict::Ok
        },
    })
}

/// Rebuilds a run folder's reports in place: under the folder's lock (so no run swaps it
/// meanwhile), each file written atomically without following links. Returns the files
/// written, relative to the folder, charts counted.
pub fn rebuild_report(dir: &Path, sink: Sink<'_>) -> Result<String, RunError> {
    clean_up_on_signals(sink);
    // The folder as it is on disk, so that its lock is the one a run into it takes.
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let _lock = if real.is_dir() && real.file_name().is_some() {
        let lock = crate::outdir::Lock::acquire_if_writable(&real)?;
        crate::outdir::remove_stale_files(&real, &["charts"]);
        lock
    } else {
        None
    };
    let written = report::write_reports(&real)?;
    Ok(relative_names(&real, &written))
}

/// Reads a scenario file and, for `arrival: replay`, the commit times from its repository.
pub fn load(path: &Path) -> Result<Scenario, RunError> {
    let mut s = crate::scenario::load(path).map_err(|e| RunError::Scenario(e.to_string()))?;
    resolve_replay(&mut s, path)
        .map_err(|e| RunError::Scenario(format!("{}: {e}", path.display())))?;
    Ok(s)
}

/// Reads the commit times of an `arrival: replay` scenario from its git repository.
pub fn resolve_replay(s: &mut Scenario, file: &Path) -> Result<(), String> {
    let base = file.parent().unwrap_or(Path::new("."));
    s.resolve_replay(base, crate::live::git::replay_offsets)
}

/// The `--mode` name of a live target.
fn mode_of(target: &Target) -> &'static str {
    match target {
        Target::Emulated => "emulated",
        Target::Kind => "kind",
        Target::Kubeconfig { .. } => "kubeconfig",
    }
}

/// The memory and work a run may take, from `--max-memory` and `--max-events`.
pub struct Budget {
    memory: f64,
    /// Where the memory budget came from, for messages.
    memory_from: String,
    work: f64,
}

impl Budget {
    pub fn resolve(args: &Budgets) -> Result<Budget, RunError> {
        use crate::scenario::estimate::{bytes, parse_count, parse_size};
        let (memory, memory_from) = match &args.max_memory {
            Some(t) => {
                let v = parse_size(t).map_err(|e| RunError::Option(format!("--max-memory {e}")))?;
                (v as f64, "--max-memory".to_string())
            }
            None => match physical_memory() {
                Some(total) => (
                    total as f64 / 2.0,
                    format!("half of this machine's {}", bytes(total as f64)),
                ),
                None => (
                    4.0 * 1024.0 * 1024.0 * 1024.0,
                    "a fixed 4 GiB, as physical memory cannot be read here (/proc/meminfo)"
                        .to_string(),
                ),
            },
        };
        let work = match &args.max_events {
            Some(t) => parse_count(t).map_err(|e| RunError::Option(format!("--max-events {e}")))?,
            None => crate::scenario::estimate::DEFAULT_MAX_WORK,
        };
        Ok(Budget {
            memory,
            memory_from,
            work,
        })
    }

    /// Whether `est` fits; `sim` also checks the work budget (a live run is bounded by
    /// its wall time instead).
    pub fn check(&self, est: &Estimate, sim: bool) -> Result<(), String> {
        use crate::scenario::estimate::{bytes, count};
        if est.peak_bytes > self.memory {
            return Err(format!(
                "its estimated peak memory is {} ({}), over the budget of {} ({}); raise it with --max-memory SIZE (e.g. --max-memory {}) or make the scenario smaller (fewer repetitions, clusters or apps, or longer intervals)",
                bytes(est.peak_bytes),
                est,
                bytes(self.memory),
                self.memory_from,
                bytes((est.peak_bytes * 1.25).max(self.memory)).replace(' ', ""),
            ));
        }
        if sim && est.work() > self.work {
            return Err(format!(
                "its estimated work is {} events and rolling-update steps ({}), over the budget of {}; raise it with --max-events N (e.g. --max-events {:.1e}) or make the scenario smaller (fewer replicas, repetitions, clusters or apps, or longer intervals)",
                count(est.work()),
                est,
                count(self.work),
                (est.work() * 1.25).ceil(),
            ));
        }
        Ok(())
    }
}

/// Physical memory in bytes from /proc/meminfo (Linux); None elsewhere.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses a scenario over the budget and warns before a long live run.
fn admit(
    s: &Scenario,
    file: &Path,
    budget: &Budget,
    workers: usize,
    live: Option<&str>,
    sink: Sink<'_>,
) -> Result<(), RunError> {
    crate::plan::Plan::ready(s)
        .map_err(|e| RunError::Scenario(format!("{}: {e}", file.display())))?;
    let est = Estimate::of(s, workers);
    budget.check(&est, live.is_none()).map_err(|why| {
        RunError::TooBig(format!(
            "{}: {} is too big to run: {why}",
            file.display(),
            s.name
        ))
    })?;
    if let Some(mode) = live
        && est.live_wall_s > 600.0
    {
        sink(Progress::Warning(format!(
            "{}: this --mode {mode} run will take about {} of wall time ({} × time_scale {} × {} repetition(s)); Ctrl-C stops it and keeps the repetitions so far",
            file.display(),
            crate::scenario::estimate::wall(est.live_wall_s),
            s.duration,
            s.time_scale,
            s.repetitions
        )));
    }
    Ok(())
}

/// `--repetitions` and `--time-scale` within the scenario format's bounds.
fn check_overrides(repetitions: Option<u32>, time_scale: Option<f64>) -> Result<(), RunError> {
    use crate::scenario::bounds::{
        MAX_REPETITIONS, MAX_TIME_SCALE, MIN_TIME_SCALE, TIME_SCALE_WHY, time_scale_ok,
    };
    if let Some(r) = repetitions
        && !(1..=MAX_REPETITIONS).contains(&r)
    {
        return Err(RunError::Option(format!(
            "--repetitions {r}: must be from 1 to {MAX_REPETITIONS} (confidence intervals stop narrowing long before, and every repetition's plan is kept in memory)"
        )));
    }
    if let Some(x) = time_scale
        && !time_scale_ok(x)
    {
        return Err(RunError::Option(format!(
            "--time-scale {}: must be a positive number in {MIN_TIME_SCALE}..{MAX_TIME_SCALE}; {TIME_SCALE_WHY}",
            crate::scenario::bounds::show(x)
        )));
    }
    Ok(())
}

/// Worker threads: as asked, or every core.
pub fn threads(asked: Option<usize>) -> usize {
    asked
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1)
}

/// What one scenario run produced.
struct Executed {
    summary: Summary,
    wall: f64,
    written: Vec<PathBuf>,
    /// A live run stopped by an error after some repetitions: they are written, marked
    /// partial, and the run fails with this.
    stopped_by: Option<LiveError>,
}

/// Runs one validated scenario in sim mode, or live when `live` is given, and writes its
/// results into `dir`.
#[allow(clippy::too_many_arguments)]
fn execute(
    s: &Scenario,
    file: &str,
    dir: &Path,
    threads: usize,
    live: Option<Target>,
    command: &str,
    sensitivity: bool,
    sink: Sink<'_>,
) -> Result<Executed, RunError> {
    let started = Instant::now();
    tracing::info!(scenario = %s.name, repetitions = s.repetitions, threads, "running");
    let mut stopped_by = None;
    // The summary of a sim run is built below, once its CSVs are being written.
    let (runs, mode, summary) = match live {
        None => (crate::sim::run(s, threads), "sim", None),
        Some(target) => {
            let mode = mode_of(&target);
            let unsupported = crate::live::unsupported_faults(s, &target);
            if !unsupported.is_empty() {
                sink(Progress::Note(format!(
                    "--mode {mode} cannot inject {}: those faults are skipped and listed in summary.json (unsupported_faults)",
                    unsupported.join(", ")
                )));
            }
            let opts = crate::live::LiveOptions {
                target,
                run_dir: dir.to_path_buf(),
            };
            let outcome = crate::live::run_live(s, &opts)?;
            let mut summary = Summary::build(s, mode, &outcome.runs);
            summary.partial = outcome.partial;
            if outcome.partial {
                let measured = outcome.runs.iter().map(|(_, r)| r.len()).max();
                summary.repetitions_run = Some(measured.unwrap_or(0) as u32);
            }
            summary.unsupported_faults = outcome.unsupported_faults;
            summary.sensitivity = Some(crate::sensitivity::skipped_live());
            stopped_by = outcome.error;
            summary.engine.wall_s = Some((started.elapsed().as_secs_f64() * 1e3).round() / 1e3);
            (outcome.runs, mode, Some(summary))
        }
    };
    // The CSVs, the largest files (fleet-xl's samples.csv is 147 MB), are written on a
    // thread of their own from here on, while the summary and the reports are built.
    let (csvs, rest) = std::thread::scope(|scope| {
        let csvs = scope.spawn(|| report::write_csvs(dir, &runs));
        let summary = summary.unwrap_or_else(|| {
            let mut summary = Summary::build(s, "sim", &runs);
            // The decision card's sensitivity pass (not for a sweep's variants: a sweep
            // is itself the wider study, and its merged shards could not repeat it).
            if sensitivity {
                summary.sensitivity = Some(crate::sensitivity::pass(s, threads));
            }
            summary
        });
        let wall = started.elapsed().as_secs_f64();
        let info = RunInfo {
            pushpull_version: env!("CARGO_PKG_VERSION"),
            command: command.to_string(),
            scenario_file: file.to_string(),
            mode: mode.into(),
            wall_s: (wall * 1e3).round() / 1e3,
            threads,
        };
        let rest = report::write_rest(dir, s, &summary, &runs, &info);
        let csvs = csvs
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (csvs, rest.map(|written| (written, summary, wall)))
    });
    let mut written = csvs?;
    let (rest, summary, wall) = rest?;
    written.extend(rest);
    Ok(Executed {
        summary,
        wall,
        written,
        stopped_by,
    })
}

/// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files and folders of this process.
pub(crate) fn clean_up_on_signals(sink: Sink<'_>) {
    if let Err(e) = crate::outdir::clean_up_on_signals() {
        sink(Progress::Warning(format!(
            "cannot handle Ctrl-C ({e}); an interrupted run leaves a temporary folder, which the next run into the same folder removes"
        )));
    }
}

/// Names of written files relative to `dir`, charts counted rather than listed
/// (`summary.json, report.html, 14 charts`).
fn relative_names(dir: &Path, written: &[PathBuf]) -> String {
    let rel: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .collect();
    let charts = rel.iter().filter(|n| n.starts_with("charts")).count();
    let mut names: Vec<String> = rel
        .into_iter()
        .filter(|n| !n.starts_with("charts"))
        .collect();
    if charts > 0 {
        names.push(format!("{charts} charts"));
    }
    names.join(", ")
}
