//! The command line (`pushpull run | validate | report`): parses arguments, runs scenarios, prints
//! tables, and maps every outcome to the exit codes the README documents (0 ok, 1 a threshold
//! breached, 2 bad input or usage, 3 a needed tool or cluster is missing).

use crate::measure::summary::Summary;
use crate::outdir::{Kind, Staging};
use crate::report::{self, RunInfo};
use crate::scenario::{Estimate, Scenario};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "pushpull",
    version,
    about = "Compare push-based delivery pipelines with pull-based GitOps reconcilers on Kubernetes",
    long_about = "Runs the same deployment workload through a push pipeline (CI applies manifests) and a \
                  pull reconciler (an agent converges clusters to git), injects drift and failures, and \
                  measures deploy latency, drift recovery and rollback speed."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios through both delivery models and write reports/<name>/.
    Run(RunArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files (YAML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Run one scenario once per combination of values and compare the results.
    Sweep(SweepArgs),
    /// Compare a run with a baseline; exit 1 if a figure got worse than the tolerance.
    Check(CheckArgs),
    /// The embedded Kubernetes API emulator (live mode without Docker).
    Emulator {
        #[command(subcommand)]
        command: EmulatorCommand,
    },
    /// kind clusters for --mode kind (needs docker and kind).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Rebuild the charts, report.html and report.md of a run directory from its
    /// summary.json, samples.csv and events.csv, without re-running anything.
    Report {
        /// A directory written by `pushpull run` (e.g. reports/quickstart).
        run_dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Create kind clusters pushpull-0..N-1 (contexts kind-pushpull-N) and wait for them.
    Up {
        #[arg(long, default_value = "kind-config.yaml")]
        config: PathBuf,
        /// How many clusters: 1 to 64 (each is two node containers on this machine).
        #[arg(long, default_value_t = 1)]
        clusters: u32,
    },
    /// Delete the kind clusters `cluster up` made: those named pushpull-<digits> (others
    /// whose names merely start with pushpull- are left alone).
    Down,
}

#[derive(Subcommand, Debug)]
pub enum EmulatorCommand {
    /// Serve the API on 127.0.0.1 in the foreground and write a kubeconfig (context
    /// `pushpull-emulator`) that kubectl and kube-rs accept; Ctrl-C stops it.
    Serve(crate::emulator::cli::ServeArgs),
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// A run directory (with summary.json) or a summary.json.
    pub run: PathBuf,
    /// The baseline summary.json.
    #[arg(long)]
    pub baseline: PathBuf,
    /// How much worse a figure may get, e.g. 10% (a threshold's own `tolerance` wins).
    #[arg(long, default_value = "10%")]
    pub tolerance: String,
    /// Compare only this metric (repeatable).
    #[arg(long = "metric")]
    pub metrics: Vec<String>,
    /// Compare only this quantile: mean, p50, p90, p95, p99, max (repeatable).
    #[arg(long = "quantile")]
    pub quantiles: Vec<String>,
    /// What to print: a table (text) or the comparison as JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Compare although the baseline's scenario, seed, mode, repetitions, duration or
    /// partial flag differ from the run's (each difference is printed as a warning).
    #[arg(long)]
    pub allow_mismatch: bool,
}

#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// Scenario file (YAML).
    pub scenario: PathBuf,
    /// KEY=V1,V2,...: a dotted key path of the scenario and the values to try (YAML;
    /// a flow map may contain commas). Repeat to sweep a grid.
    #[arg(long = "set", required = true, value_name = "KEY=V1,V2,...")]
    pub set: Vec<String>,
    /// Folder for results; variants write to OUT/<name>/sweep/<variant>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's number of repetitions.
    #[arg(long)]
    pub repetitions: Option<u32>,
    /// Worker threads for repetitions (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// The budgets a run must fit before it starts.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BudgetArgs {
    /// Refuse a scenario whose estimated peak memory exceeds SIZE (e.g. 8GiB, 512MiB;
    /// default: half of physical memory, or 4GiB where it cannot be read).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Refuse a sim run whose estimated work (engine events plus rolling-update steps)
    /// exceeds N (e.g. 5e9, 200M; default 1e9, about ten minutes of one core).
    #[arg(long, value_name = "N")]
    pub max_events: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Virtual time: simulated clusters and git (deterministic, fast).
    Sim,
    /// Real time against the embedded Kubernetes API emulator.
    Emulated,
    /// Real time against kind clusters.
    Kind,
    /// Real time against an existing kubeconfig context.
    Kubeconfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files (YAML).
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Mode::Sim)]
    pub mode: Mode,
    /// kubeconfig context (with --mode kubeconfig).
    #[arg(long)]
    pub context: Option<String>,
    /// Allow --mode kubeconfig to use this context although it is not a kind-pushpull-*
    /// cluster or the emulator (pushpull only touches pushpull-* namespaces).
    #[arg(long, value_name = "NAME")]
    pub allow_context: Option<String>,
    /// Folder for results; each scenario writes to OUT/<name>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's number of repetitions.
    #[arg(long)]
    pub repetitions: Option<u32>,
    /// Override the scenario's time_scale, from 0.001 to 1 (live modes: every model delay
    /// is multiplied by it; --mode kind and kubeconfig need 1, as a real cluster runs in
    /// real time).
    #[arg(long, value_name = "FACTOR")]
    pub time_scale: Option<f64>,
    /// What to print: a table (text) or summary.json (json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Worker threads for repetitions (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// A failure with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

pub fn main_with(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Sweep(args) => sweep(args),
        Command::Check(args) => check(args),
        Command::Cluster { command } => cluster(command),
        Command::Emulator {
            command: EmulatorCommand::Serve(args),
        } => crate::emulator::cli::run_serve(args)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| Failure {
                code: 2,
                message: format!("emulator: {e:#}"),
            }),
        Command::Report { run_dir } => rebuild_report(&run_dir),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn load(path: &std::path::Path) -> Result<Scenario, Failure> {
    let mut s = crate::scenario::load(path).map_err(|e| Failure::bad_input(e.to_string()))?;
    resolve_replay(&mut s, path)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    Ok(s)
}

/// Reads the commit times of an `arrival: replay` scenario from its git repository.
fn resolve_replay(s: &mut Scenario, file: &std::path::Path) -> Result<(), String> {
    let base = file.parent().unwrap_or(std::path::Path::new("."));
    s.resolve_replay(base, crate::live::git::replay_offsets)
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode, Failure> {
    let mut failed = 0;
    let workers = threads(None);
    let budget = Budget::resolve(&BudgetArgs::default())?;
    for p in paths {
        match crate::scenario::load(p)
            .map_err(|e| e.to_string())
            .and_then(|mut s| {
                resolve_replay(&mut s, p).map_err(|e| format!("{}: {e}", p.display()))?;
                Ok(s)
            }) {
            Ok(s) => {
                let est = Estimate::of(&s, workers);
                println!(
                    "{}: ok ({}, {} cluster(s) × {} apps, {}, {} fault(s)); sim: {}; live modes: ~{} of wall time",
                    p.display(),
                    s.name,
                    s.clusters(),
                    s.apps(),
                    s.duration,
                    s.faults.len(),
                    est,
                    crate::scenario::estimate::wall(est.live_wall_s),
                );
                if let Err(why) = budget.check(&est, true) {
                    eprintln!(
                        "warning: {}: `pushpull run` will refuse it on this machine: {why}",
                        p.display()
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The memory and work a run may take, from `--max-memory` and `--max-events`.
struct Budget {
    memory: f64,
    /// Where the memory budget came from, for messages.
    memory_from: String,
    work: f64,
}

impl Budget {
    fn resolve(args: &BudgetArgs) -> Result<Budget, Failure> {
        use crate::scenario::estimate::{bytes, parse_count, parse_size};
        let (memory, memory_from) = match &args.max_memory {
            Some(t) => {
                let v =
                    parse_size(t).map_err(|e| Failure::bad_input(format!("--max-memory {e}")))?;
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
            Some(t) => {
                parse_count(t).map_err(|e| Failure::bad_input(format!("--max-events {e}")))?
            }
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
    fn check(&self, est: &Estimate, sim: bool) -> Result<(), String> {
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
    file: &std::path::Path,
    budget: &Budget,
    workers: usize,
    live: Option<&str>,
) -> Result<(), Failure> {
    crate::plan::Plan::ready(s)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", file.display())))?;
    let est = Estimate::of(s, workers);
    budget.check(&est, live.is_none()).map_err(|why| {
        Failure::bad_input(format!(
            "{}: {} is too big to run: {why}",
            file.display(),
            s.name
        ))
    })?;
    if let Some(mode) = live
        && est.live_wall_s > 600.0
    {
        eprintln!(
            "warning: {}: this --mode {mode} run will take about {} of wall time ({} × time_scale {} × {} repetition(s)); Ctrl-C stops it and keeps the repetitions so far",
            file.display(),
            crate::scenario::estimate::wall(est.live_wall_s),
            s.duration,
            s.time_scale,
            s.repetitions
        );
    }
    Ok(())
}

/// `--repetitions` and `--time-scale` within the scenario format's bounds.
fn check_overrides(repetitions: Option<u32>, time_scale: Option<f64>) -> Result<(), Failure> {
    use crate::scenario::bounds::{
        MAX_REPETITIONS, MAX_TIME_SCALE, MIN_TIME_SCALE, TIME_SCALE_WHY, time_scale_ok,
    };
    if let Some(r) = repetitions
        && !(1..=MAX_REPETITIONS).contains(&r)
    {
        return Err(Failure::bad_input(format!(
            "--repetitions {r}: must be from 1 to {MAX_REPETITIONS} (confidence intervals stop narrowing long before, and every repetition's plan is kept in memory)"
        )));
    }
    if let Some(x) = time_scale
        && !time_scale_ok(x)
    {
        return Err(Failure::bad_input(format!(
            "--time-scale {}: must be a positive number in {MIN_TIME_SCALE}..{MAX_TIME_SCALE}; {TIME_SCALE_WHY}",
            crate::scenario::bounds::show(x)
        )));
    }
    Ok(())
}

fn threads(asked: Option<usize>) -> usize {
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
    stopped_by: Option<Failure>,
}

/// Runs one validated scenario in sim mode and writes its results into `dir`.
fn execute(
    s: &Scenario,
    file: &str,
    dir: &std::path::Path,
    threads: usize,
) -> Result<Executed, Failure> {
    execute_in(s, file, dir, threads, None)
}

/// Runs one scenario in sim mode, or live when `live` is given, and writes its results.
fn execute_in(
    s: &Scenario,
    file: &str,
    dir: &std::path::Path,
    threads: usize,
    live: Option<crate::live::Target>,
) -> Result<Executed, Failure> {
    let started = Instant::now();
    tracing::info!(scenario = %s.name, repetitions = s.repetitions, threads, "running");
    let mut stopped_by = None;
    let (runs, mode, summary) = match live {
        None => {
            let runs = crate::sim::run(s, threads);
            let summary = Summary::build(s, "sim", &runs);
            (runs, "sim", summary)
        }
        Some(target) => {
            let mode = match target {
                crate::live::Target::Emulated => "emulated",
                crate::live::Target::Kind => "kind",
                crate::live::Target::Kubeconfig { .. } => "kubeconfig",
            };
            let unsupported = crate::live::unsupported_faults(s, &target);
            if !unsupported.is_empty() {
                eprintln!(
                    "note: --mode {mode} cannot inject {}: those faults are skipped and listed in summary.json (unsupported_faults)",
                    unsupported.join(", ")
                );
            }
            let opts = crate::live::LiveOptions {
                target,
                run_dir: dir.to_path_buf(),
            };
            let outcome = crate::live::run_live(s, &opts).map_err(live_failure)?;
            let mut summary = Summary::build(s, mode, &outcome.runs);
            summary.partial = outcome.partial;
            if outcome.partial {
                let measured = outcome.runs.iter().map(|(_, r)| r.len()).max();
                summary.repetitions_run = Some(measured.unwrap_or(0) as u32);
            }
            summary.unsupported_faults = outcome.unsupported_faults;
            stopped_by = outcome.error.map(live_failure);
            summary.engine.wall_s = Some((started.elapsed().as_secs_f64() * 1e3).round() / 1e3);
            (outcome.runs, mode, summary)
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let info = RunInfo {
        pushpull_version: env!("CARGO_PKG_VERSION"),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        scenario_file: file.to_string(),
        mode: mode.into(),
        wall_s: (wall * 1e3).round() / 1e3,
        threads,
    };
    let written = report::write_run(dir, s, &summary, &runs, &info).map_err(|e| Failure {
        code: 2,
        message: e.to_string(),
    })?;
    Ok(Executed {
        summary,
        wall,
        written,
        stopped_by,
    })
}

/// A result folder that cannot be used: bad input (exit 2).
fn folder_failure(e: crate::outdir::OutdirError) -> Failure {
    Failure::bad_input(e.to_string())
}

/// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files and folders of this process.
fn clean_up_on_signals() {
    if let Err(e) = crate::outdir::clean_up_on_signals() {
        eprintln!(
            "warning: cannot handle Ctrl-C ({e}); an interrupted run leaves a temporary folder, which the next run into the same folder removes"
        );
    }
}

/// Live errors to exit codes: a missing tool, an unreachable cluster or a context not in
/// the kubeconfig is 3; a refused context or cluster count is bad input (2).
fn live_failure(e: crate::live::LiveError) -> Failure {
    use crate::live::LiveError as E;
    let code = match e {
        E::ContextRefused(_)
        | E::ContextNotLocal { .. }
        | E::KindClusters { .. }
        | E::Manifest(_)
        | E::TimeScale { .. } => 2,
        E::Interrupted(_) => 130,
        E::MissingTool { .. }
        | E::ContextUnresolved { .. }
        | E::Kube { .. }
        | E::Setup(_)
        | E::Emulator(_)
        | E::Git(_) => 3,
    };
    Failure {
        code,
        message: e.to_string(),
    }
}

fn cluster(command: ClusterCommand) -> Result<ExitCode, Failure> {
    match command {
        ClusterCommand::Up { config, clusters } => {
            let made = crate::live::kind::up(clusters, &config).map_err(live_failure)?;
            println!(
                "kind clusters pushpull-0..{} ready ({} created); run with --mode kind",
                clusters.saturating_sub(1),
                made.len()
            );
        }
        ClusterCommand::Down => {
            let gone = crate::live::kind::down(None).map_err(live_failure)?;
            if gone.is_empty() {
                println!("no pushpull-<digits> kind cluster to delete");
            } else {
                println!(
                    "deleted {} kind cluster(s): {}",
                    gone.len(),
                    gone.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A run's summary, typed and checked: a run directory is read whole (its samples must
/// agree with its summary), a summary.json on its own.
fn read_summary(path: &std::path::Path) -> Result<crate::report::load::SummaryFile, Failure> {
    use crate::report::load;
    let read = if path.is_dir() {
        load::load(path).map(|run| run.summary)
    } else {
        load::read_summary(path)
    };
    read.map_err(|e| match e {
        load::LoadError::Read { path, source } => Failure::bad_input(format!(
            "cannot read {}: {source} (give a run directory or its summary.json)",
            path.display()
        )),
        other => Failure::bad_input(other.to_string()),
    })
}

fn check(args: CheckArgs) -> Result<ExitCode, Failure> {
    use crate::check::{Options, QUANTILES, Verdict, compare};
    let tolerance = crate::scenario::Percent::parse(&args.tolerance)
        .map_err(|e| Failure::bad_input(format!("--tolerance: {e}")))?;
    for q in &args.quantiles {
        if !QUANTILES.contains(&q.as_str()) {
            return Err(Failure::bad_input(format!(
                "--quantile {q}: expected one of {}",
                QUANTILES.join(", ")
            )));
        }
    }
    for m in &args.metrics {
        if crate::metric::Metric::from_name(m).is_none() {
            return Err(Failure::bad_input(format!(
                "--metric {m}: not a pushpull metric; expected one of {} (the README's table under \"What it measures\" says what each one measures)",
                crate::metric::Metric::ALL
                    .map(crate::metric::Metric::name)
                    .join(", ")
            )));
        }
    }
    let now = read_summary(&args.run)?;
    let baseline = read_summary(&args.baseline)?;
    let opts = Options {
        tolerance: tolerance.0,
        metrics: args.metrics,
        quantiles: args.quantiles,
        allow_mismatch: args.allow_mismatch,
        ..Options::default()
    };
    let report = compare(&now, &baseline, &opts).map_err(|e| Failure::bad_input(e.to_string()))?;
    for m in &report.mismatches {
        eprintln!("warning: compared anyway (--allow-mismatch), but the baseline differs in {m}");
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        ),
        Format::Text => {
            println!(
                "{:<6} {:<24} {:<5} {:>10} {:>10} {:>8}  verdict",
                "model", "metric", "stat", "baseline", "now", "change"
            );
            for r in &report.rows {
                let change = r
                    .change
                    .map(|c| format!("{:+.1}%", c * 100.0))
                    .unwrap_or_else(|| "—".into());
                let verdict = match r.verdict {
                    Verdict::Ok => "ok".to_string(),
                    Verdict::Better => "better".to_string(),
                    Verdict::Noise => "within noise (95% CIs overlap)".to_string(),
                    Verdict::Worse => format!("WORSE (tolerance {:.0}%)", r.tolerance * 100.0),
                    Verdict::Missing => "MISSING (no samples now)".to_string(),
                };
                let cell =
                    |v: Option<f64>| v.map(report::table::human).unwrap_or_else(|| "—".into());
                println!(
                    "{:<6} {:<24} {:<5} {:>10} {:>10} {:>8}  {}",
                    r.model,
                    r.metric,
                    r.quantile,
                    cell(r.baseline_s),
                    cell(r.now_s),
                    change,
                    verdict
                );
            }
            println!(
                "\n{}: {} figure(s) compared, {} regression(s)",
                report.scenario,
                report.rows.len(),
                report.regressions
            );
        }
    }
    Ok(if report.regressions > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn sweep(args: SweepArgs) -> Result<ExitCode, Failure> {
    check_overrides(args.repetitions, None)?;
    let budget = Budget::resolve(&args.budget)?;
    let bytes = std::fs::read(&args.scenario).map_err(|e| {
        Failure::bad_input(format!(
            "cannot read scenario {}: {e}",
            args.scenario.display()
        ))
    })?;
    let text = crate::scenario::decode(&bytes, &args.scenario.display().to_string())
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let axes = args
        .set
        .iter()
        .map(|a| crate::sweep::Axis::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let file = args.scenario.display().to_string();
    let mut variants = crate::sweep::variants(text, &file, &axes)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let threads = threads(args.threads);
    let name = variants
        .first()
        .map(|v| v.scenario.name.clone())
        .unwrap_or_default();
    let root = args.out.join(&name).join("sweep");
    // Every variant must fit the budget before the first one runs.
    for v in &mut variants {
        if let Some(seed) = args.seed {
            v.scenario.seed = seed;
        }
        if let Some(r) = args.repetitions {
            v.scenario.repetitions = r;
        }
        admit(
            &v.scenario,
            &PathBuf::from(format!("{file} [{}]", v.label)),
            &budget,
            threads,
            None,
        )?;
    }
    clean_up_on_signals();
    // The whole sweep folder is built aside and swapped in at the end, under the lock of
    // the scenario's folder too (a run into it carries sweep/ over, so must not run now).
    let _scenario_lock =
        crate::outdir::Lock::acquire(&args.out.join(&name)).map_err(folder_failure)?;
    let staging = Staging::begin(&root, Kind::Sweep).map_err(folder_failure)?;
    let mut rows = Vec::new();
    let mut breached = false;
    for v in &mut variants {
        let done = execute(&v.scenario, &file, &staging.path().join(&v.slug), threads)?;
        breached |= !done.summary.thresholds_ok();
        rows.push((v.label.clone(), v.slug.clone(), done.summary));
    }
    let (table, csv) = report::table::sweep(&rows);
    report::write_atomic(&staging.path().join("sweep.csv"), csv.as_bytes()).map_err(|e| {
        Failure {
            code: 2,
            message: e.to_string(),
        }
    })?;
    staging.commit().map_err(folder_failure)?;
    println!("{name} — sweep of {} variant(s), sim mode\n", rows.len());
    print!("{table}");
    println!("\nwrote {}/{{sweep.csv, <variant>/...}}", root.display());
    Ok(if breached {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Names of written files relative to `dir`, charts counted rather than listed
/// (`summary.json, report.html, 14 charts`).
fn relative_names(dir: &std::path::Path, written: &[PathBuf]) -> String {
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

/// Rebuilds a run folder's reports in place: under the folder's lock (so no run swaps it
/// meanwhile), each file written atomically without following links.
fn rebuild_report(dir: &std::path::Path) -> Result<ExitCode, Failure> {
    clean_up_on_signals();
    // The folder as it is on disk, so that its lock is the one a run into it takes.
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let _lock = if real.is_dir() && real.file_name().is_some() {
        let lock = crate::outdir::Lock::acquire_if_writable(&real).map_err(folder_failure)?;
        crate::outdir::remove_stale_files(&real, &["charts"]);
        lock
    } else {
        None
    };
    let written = report::write_reports(&real).map_err(|e| Failure::bad_input(e.to_string()))?;
    println!(
        "wrote {}/ ({})",
        dir.display(),
        relative_names(&real, &written)
    );
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let live = match args.mode {
        Mode::Sim => None,
        Mode::Emulated => Some(crate::live::Target::Emulated),
        Mode::Kind => Some(crate::live::Target::Kind),
        Mode::Kubeconfig => {
            let context = args.context.clone().ok_or_else(|| {
                Failure::bad_input(
                    "--mode kubeconfig needs --context NAME (see `kubectl config get-contexts`)",
                )
            })?;
            Some(crate::live::Target::Kubeconfig {
                context,
                allow: args.allow_context.clone(),
            })
        }
    };
    if args.context.is_some() && args.mode != Mode::Kubeconfig {
        return Err(Failure::bad_input(
            "--context only applies to --mode kubeconfig",
        ));
    }
    if let Some(target) = &live {
        crate::live::preflight(target).map_err(live_failure)?;
    }
    check_overrides(args.repetitions, args.time_scale)?;
    let budget = Budget::resolve(&args.budget)?;
    let workers = threads(args.threads);
    let mode_name = match args.mode {
        Mode::Sim => None,
        Mode::Emulated => Some("emulated"),
        Mode::Kind => Some("kind"),
        Mode::Kubeconfig => Some("kubeconfig"),
    };
    // Validate every file before running any, so a typo in the third file does not
    // surface after the first two ran for minutes.
    let mut scenarios = Vec::new();
    for p in &args.scenarios {
        let mut s = load(p)?;
        if let Some(seed) = args.seed {
            s.seed = seed;
        }
        if let Some(r) = args.repetitions {
            s.repetitions = r;
        }
        if let Some(x) = args.time_scale {
            s.time_scale = x;
        }
        if let Some(target) = &live {
            crate::live::check_time_scale(&s, target)
                .map_err(|e| Failure::bad_input(format!("{}: {e}", p.display())))?;
        }
        admit(&s, p, &budget, workers, mode_name)?;
        scenarios.push((p.clone(), s));
    }
    let threads = threads(args.threads);
    if live.is_none() {
        // Live runs stop on Ctrl-C themselves and write what they measured.
        clean_up_on_signals();
    }
    // Every result folder is locked and its temporary folder created before anything runs,
    // so a bad --out, a name that cannot be a folder there, or another run writing the same
    // folder is reported now rather than after the simulation.
    let mut stagings = Vec::new();
    for (_, s) in &scenarios {
        let target = args.out.join(&s.name);
        stagings.push(Staging::begin(&target, Kind::Run).map_err(folder_failure)?);
    }
    let mut breached = false;
    for ((path, s), staging) in scenarios.iter().zip(stagings) {
        let dir = staging.target().to_path_buf();
        let Executed {
            summary,
            wall,
            written,
            stopped_by,
        } = execute_in(
            s,
            &path.display().to_string(),
            staging.path(),
            threads,
            live.clone(),
        )?;
        let names = relative_names(staging.path(), &written);
        staging.commit().map_err(folder_failure)?;
        match args.format {
            Format::Json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).expect("summary serializes")
                );
            }
            Format::Text => {
                print!("{}", report::table::render(s, &summary));
                println!();
                println!(
                    "wrote {}/ ({}); {} events in {}",
                    dir.display(),
                    names,
                    summary.engine.events,
                    report::table::human(wall),
                );
            }
        }
        if let Some(failure) = stopped_by {
            eprintln!(
                "{}: stopped by an error; the repetitions before it are in {} with \"partial\": true",
                s.name,
                dir.display()
            );
            return Err(failure);
        }
        if summary.partial {
            // Interrupted: what was measured is written, marked partial; stop here.
            eprintln!(
                "{}: interrupted; the results so far are in {} with \"partial\": true",
                s.name,
                dir.display()
            );
            return Ok(ExitCode::from(130));
        }
        if !summary.thresholds_ok() {
            breached = true;
            if std::io::stderr().is_terminal() || args.format == Format::Text {
                eprintln!("{}: a threshold was breached (exit code 1)", s.name);
            }
        }
    }
    Ok(if breached {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
