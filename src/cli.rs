//! The command line (`pushpull run | validate | schema | sweep | check | report | export | cluster |
//! emulator`): the clap argument types, their mapping to the options of the library entry
//! points in `crate::run`, what is printed, and the exit codes the README documents (0 ok, 1 a
//! threshold breached, 2 bad input or usage, 3 a needed tool or cluster is missing, 130
//! interrupted).

use crate::report;
use crate::run::{Budgets, End, Progress, RunError, RunOptions, SweepOptions, Verdict};
use crate::scenario::Estimate;
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Print the JSON Schema of scenario files (docs/scenario.schema.json), for editors:
    /// start a scenario with `# yaml-language-server: $schema=<path to it>`.
    Schema,
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
    /// Fit a scenario fragment to a team's own history: GitHub Actions runs and jobs,
    /// Jenkins builds, Argo CD sync history, commit times of a git branch.
    Fit(FitArgs),
    /// Write a run's figures in a format CI trackers read (github-action-benchmark,
    /// Bencher, Prometheus/OpenMetrics, JUnit).
    Export(ExportArgs),
    /// Rebuild the charts, report.html and report.md of a run directory from its
    /// summary.json, samples.csv and events.csv, without re-running anything.
    Report {
        /// A directory written by `pushpull run` (e.g. reports/quickstart).
        run_dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// GitHub Actions workflow runs: the JSON of `GET /repos/{owner}/{repo}/actions/runs`
    /// or of `gh run list --json createdAt,startedAt,updatedAt,status,conclusion`.
    #[arg(long, value_name = "RUNS.json")]
    pub github_actions: Option<PathBuf>,
    /// GitHub Actions jobs: the JSON of `GET .../actions/runs/{id}/jobs` (one, or an
    /// array of several) or of `gh run view ID --json jobs`.
    #[arg(long, value_name = "JOBS.json")]
    pub jobs: Option<PathBuf>,
    /// Jenkins builds: `<job>/api/json?tree=builds[number,timestamp,duration,result,actions[queuingDurationMillis]]`.
    #[arg(long, value_name = "BUILDS.json")]
    pub jenkins: Option<PathBuf>,
    /// Argo CD Applications: `kubectl get applications -n argocd -o json`.
    #[arg(long, value_name = "APPS.json")]
    pub argocd: Option<PathBuf>,
    /// A git repository (work tree or bare) whose commit times give the arrivals.
    #[arg(long, value_name = "REPO")]
    pub git: Option<PathBuf>,
    /// The branch of --git.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Jobs whose name contains this (case-insensitive) are the build.
    #[arg(long, default_value = "build")]
    pub build_job: String,
    /// Jobs whose name contains this are the deploy.
    #[arg(long, default_value = "deploy")]
    pub deploy_job: String,
    /// Steps of deploy jobs whose name contains this are the apply.
    #[arg(long, default_value = "apply")]
    pub apply_step: String,
    /// Write the fragment here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    /// Also write the comparison and the run's thresholds as JUnit XML to FILE (one test
    /// case per figure, a failure per regression), for a CI system's test view.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// The formats of `pushpull export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// benchmark-action/github-action-benchmark with `tool: customSmallerIsBetter`.
    GithubActionBenchmark,
    /// Bencher Metric Format JSON (`bencher run --adapter json`).
    Bmf,
    /// Prometheus text exposition / OpenMetrics (Pushgateway, text-file collector).
    Openmetrics,
    /// JUnit XML of the scenario's thresholds and, with --baseline, of `check`.
    Junit,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A directory written by `pushpull run` (e.g. reports/quickstart).
    pub run_dir: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// junit: also compare with this baseline summary.json, as `pushpull check` does,
    /// one test case per figure.
    #[arg(long, value_name = "SUMMARY")]
    pub baseline: Option<PathBuf>,
    /// junit with --baseline: how much worse a figure may get (a threshold's own
    /// `tolerance` wins).
    #[arg(long, default_value = "10%")]
    pub tolerance: String,
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// Scenario file (YAML).
    #[arg(required = true)]
    pub scenario: Option<PathBuf>,
    /// KEY=V1,V2,...: a dotted key path of the scenario and the values to try (YAML;
    /// a flow map may contain commas). Repeat to sweep a grid.
    #[arg(long = "set", required = true, value_name = "KEY=V1,V2,...")]
    pub set: Vec<String>,
    /// Run only shard I of N (0 <= I < N): a deterministic slice of the sweep's
    /// (variant, repetition) units, written to OUT/<name>.shards/<I>-of-<N>/ for
    /// `pushpull sweep merge`.
    #[arg(long, value_name = "I/N", conflicts_with = "shards")]
    pub shard: Option<String>,
    /// Cut the sweep into N shards and run the one JOB_COMPLETION_INDEX names (set by
    /// Kubernetes in an Indexed Job's pods); with --emit-job, the Job's completions.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Print a Kubernetes Indexed Job (with its pushpull-* Namespace and the scenario as
    /// a ConfigMap) that runs this sweep's shards, instead of running it.
    #[arg(long, conflicts_with = "shard")]
    pub emit_job: bool,
    /// --emit-job: the container image with pushpull in it (see the Dockerfile).
    #[arg(long, value_name = "IMAGE", default_value = concat!("pushpull:", env!("CARGO_PKG_VERSION")))]
    pub job_image: String,
    /// --emit-job: the namespace (pushpull-*).
    #[arg(long, value_name = "NS", default_value = "pushpull-sweep")]
    pub job_namespace: String,
    /// --emit-job: pods at once (default: every shard).
    #[arg(long, value_name = "P")]
    pub job_parallelism: Option<u32>,
    /// --emit-job: where shards write, pvc:NAME (a ReadWriteMany claim) or emptydir.
    #[arg(long, value_name = "VOLUME", default_value = "pvc:pushpull-results")]
    pub job_results: String,
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

#[derive(Subcommand, Debug)]
pub enum SweepAction {
    /// Combine the shard folders of `sweep --shard` into OUT/<name>/sweep/, as the
    /// unsharded sweep writes it.
    Merge {
        /// Shard folders (OUT/<name>.shards/<I>-of-<N>) or the folder holding them.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Folder for results; the sweep goes to OUT/<name>/sweep/.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
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

impl From<RunError> for Failure {
    /// Every run error is bad input (2) but a live one, which says its own code.
    fn from(e: RunError) -> Failure {
        match e {
            RunError::Live(e) => live_failure(e),
            other => Failure::bad_input(other.to_string()),
        }
    }
}

pub fn main_with(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenarios } => validate(&scenarios),
        Command::Schema => {
            print!("{}", crate::scenario::schema::scenario_schema_text());
            Ok(ExitCode::SUCCESS)
        }
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
        Command::Fit(args) => fit(args),
        Command::Export(args) => export(args),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// `pushpull fit`: prints the fragment, or writes it to `--out`.
fn fit(a: FitArgs) -> Result<ExitCode, Failure> {
    let inputs = crate::fit::FitInputs {
        github_actions: a.github_actions,
        jobs: a.jobs,
        jenkins: a.jenkins,
        argocd: a.argocd,
        git: a.git,
        branch: a.branch,
        build_job: a.build_job.to_lowercase(),
        deploy_job: a.deploy_job.to_lowercase(),
        apply_step: a.apply_step.to_lowercase(),
    };
    let yaml = crate::fit::fit(&inputs).map_err(|e| Failure::bad_input(e.to_string()))?;
    match a.out {
        Some(path) => {
            crate::outdir::write_file(&path, yaml.as_bytes()).map_err(|e| {
                Failure::bad_input(format!(
                    "cannot write {}: {e} (check that the folder exists and is writable)",
                    path.display()
                ))
            })?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{yaml}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the warnings and notes of a run on stderr.
fn show(p: Progress<'_>) {
    match p {
        Progress::Warning(w) => eprintln!("warning: {w}"),
        Progress::Note(n) => eprintln!("note: {n}"),
        Progress::Finished(_) => {}
    }
}

fn exit_code(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Ok => ExitCode::SUCCESS,
        Verdict::Breached => ExitCode::from(1),
        Verdict::Interrupted => ExitCode::from(130),
    }
}

fn budgets(args: &BudgetArgs) -> Budgets {
    Budgets {
        max_memory: args.max_memory.clone(),
        max_events: args.max_events.clone(),
    }
}

fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode, Failure> {
    let mut failed = 0;
    let workers = crate::run::threads(None);
    let budget = crate::run::Budget::resolve(&Budgets::default())?;
    for p in paths {
        match crate::scenario::load(p)
            .map_err(|e| e.to_string())
            .and_then(|mut s| {
                crate::run::resolve_replay(&mut s, p)
                    .map_err(|e| format!("{}: {e}", p.display()))?;
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

/// Live errors to exit codes: a missing tool, an unreachable cluster or a context not in
/// the kubeconfig is 3; a refused context or cluster count is bad input (2).
fn live_failure(e: crate::live::LiveError) -> Failure {
    use crate::live::LiveError as E;
    let code = match e {
        E::ContextRefused(_)
        | E::ContextNotLocal { .. }
        | E::KindClusters { .. }
        | E::Manifest(_)
        | E::TimeScale { .. }
        | E::AppGroups { .. }
        | E::Rollback { .. } => 2,
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
        if crate::measure::summary::FigureKind::of(m).is_none() {
            return Err(Failure::bad_input(format!(
                "--metric {m}: not a pushpull metric, counter or share; expected one of {} (the README's table under \"What it measures\" says what each one measures)",
                crate::measure::summary::FigureKind::names().join(", ")
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
    if let Some(file) = &args.junit {
        let stamp = crate::export::modified_utc(&summary_path(&args.run));
        let check = crate::export::junit::Check {
            baseline: &args.baseline.display().to_string(),
            report: &report,
        };
        let xml = crate::export::junit::render(&now, Some(&check), &stamp);
        report::write_atomic(file, xml.as_bytes())
            .map_err(|e| Failure::bad_input(format!("--junit: {e}")))?;
    }
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
                    Verdict::Unknown => {
                        "UNKNOWN (not reached: still open at the end of the run)".to_string()
                    }
                };
                let unit = r.unit;
                let cell = |v: Option<f64>| match (v, unit) {
                    (Some(v), crate::check::Unit::Seconds) => report::table::human(v),
                    (Some(v), crate::check::Unit::Count) => format!("{v:.0}"),
                    (Some(v), crate::check::Unit::Share) => format!("{:.1}%", v * 100.0),
                    (None, _) => "—".into(),
                };
                let now = match (r.now_s, r.now_beyond_s) {
                    (None, Some(b)) => format!("> {}", report::table::human(b)),
                    (v, _) => cell(v),
                };
                println!(
                    "{:<6} {:<24} {:<5} {:>10} {:>10} {:>8}  {}",
                    r.model,
                    r.metric,
                    r.quantile,
                    cell(r.baseline_s),
                    now,
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

/// The summary.json of a run directory, or the file itself.
fn summary_path(run: &std::path::Path) -> PathBuf {
    if run.is_dir() {
        run.join("summary.json")
    } else {
        run.to_path_buf()
    }
}

fn export(args: ExportArgs) -> Result<ExitCode, Failure> {
    use crate::export::{Format as F, Run, junit};
    let format = match args.format {
        ExportFormat::GithubActionBenchmark => F::GithubActionBenchmark,
        ExportFormat::Bmf => F::Bmf,
        ExportFormat::Openmetrics => F::OpenMetrics,
        ExportFormat::Junit => F::Junit,
    };
    if args.baseline.is_some() && format != F::Junit {
        return Err(Failure::bad_input(
            "--baseline only applies to --format junit (the other formats carry the run's own figures; compare them in the tracker)",
        ));
    }
    if !args.run_dir.is_dir() {
        return Err(Failure::bad_input(format!(
            "{} is not a run directory; give the folder `pushpull run` wrote (e.g. reports/quickstart)",
            args.run_dir.display()
        )));
    }
    let run = Run::read(&args.run_dir).map_err(|e| Failure::bad_input(e.to_string()))?;
    let report = match &args.baseline {
        Some(b) => {
            let tolerance = crate::scenario::Percent::parse(&args.tolerance)
                .map_err(|e| Failure::bad_input(format!("--tolerance: {e}")))?;
            let baseline = read_summary(b)?;
            let opts = crate::check::Options {
                tolerance: tolerance.0,
                ..crate::check::Options::default()
            };
            Some(
                crate::check::compare(&run.dir.summary, &baseline, &opts)
                    .map_err(|e| Failure::bad_input(e.to_string()))?,
            )
        }
        None => None,
    };
    if format == F::Junit && report.is_none() && run.dir.summary.thresholds.is_empty() {
        return Err(Failure::bad_input(format!(
            "{}: the scenario has no thresholds, so JUnit would hold no test case; add `thresholds:` to the scenario or compare with a baseline (--baseline SUMMARY)",
            args.run_dir.display()
        )));
    }
    let baseline_name = args
        .baseline
        .as_ref()
        .map(|b| b.display().to_string())
        .unwrap_or_default();
    let check = report.as_ref().map(|r| junit::Check {
        baseline: &baseline_name,
        report: r,
    });
    let stamp = crate::export::modified_utc(&args.run_dir.join("summary.json"));
    let text = crate::export::render(&run, format, check.as_ref(), &stamp);
    match &args.out {
        Some(file) => {
            report::write_atomic(file, text.as_bytes())
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            eprintln!("wrote {}", file.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_sweep(done: &crate::run::SweepOutcome, how: &str) {
    println!(
        "{} — sweep of {} variant(s), {how}\n",
        done.name, done.variants
    );
    print!("{}", done.table);
    println!(
        "\nwrote {}/{{sweep.csv, <variant>/...}}",
        done.root.display()
    );
    if !done.breaches.is_empty() {
        eprintln!(
            "{}: {} threshold(s) breached (exit code 1):",
            done.name,
            done.breaches.len()
        );
        for b in &done.breaches {
            eprintln!("  {b}");
        }
    }
}

fn sweep(args: SweepArgs) -> Result<ExitCode, Failure> {
    use crate::sweep::shard::{self, Shard};
    if let Some(SweepAction::Merge { dirs, out }) = &args.action {
        let done = shard::merge(dirs, out, &mut show)?;
        print_sweep(&done, "sim mode, merged from shards");
        return Ok(exit_code(done.verdict));
    }
    let Some(scenario) = args.scenario.clone() else {
        return Err(Failure::bad_input(
            "sweep needs a scenario file (or `sweep merge DIR...`)",
        ));
    };
    let argv: Vec<String> = std::env::args().collect();
    let opts = SweepOptions {
        scenario,
        set: args.set.clone(),
        out: args.out.clone(),
        seed: args.seed,
        repetitions: args.repetitions,
        threads: args.threads,
        budgets: budgets(&args.budget),
        command: shard::command_without_shard(&argv),
    };
    if args.emit_job {
        return emit_job(&args, &opts);
    }
    let shard = match (&args.shard, args.shards) {
        (Some(text), _) => Some(Shard::parse(text).map_err(Failure::bad_input)?),
        (None, Some(n)) => Some(
            Shard::from_env(n, std::env::var(shard::INDEX_ENV).ok().as_deref())
                .map_err(Failure::bad_input)?,
        ),
        (None, None) => None,
    };
    if let Some(shard) = shard {
        let done = shard::run_shard(&opts, shard, &opts.command, &mut show)?;
        println!(
            "shard {}/{}: ran {} of the sweep's {} (variant, repetition) unit(s); wrote {}/\nmerge every shard with: pushpull sweep merge {} --out {}",
            shard.index,
            shard.count,
            done.units,
            done.total,
            done.dir.display(),
            done.dir
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            opts.out.display(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let done = crate::run::sweep(&opts, &mut show)?;
    print_sweep(&done, "sim mode");
    Ok(exit_code(done.verdict))
}

/// Prints the Indexed Job of `--emit-job`.
fn emit_job(args: &SweepArgs, opts: &SweepOptions) -> Result<ExitCode, Failure> {
    use crate::sweep::job::{JobSpec, Results, check_namespace, manifest};
    check_namespace(&args.job_namespace).map_err(Failure::bad_input)?;
    let results = Results::parse(&args.job_results).map_err(Failure::bad_input)?;
    let p = crate::run::prepare_sweep(opts, &mut show)?;
    let shards = args.shards.unwrap_or(p.variants.len() as u32).max(1);
    if shards > crate::sweep::shard::MAX_SHARDS {
        return Err(Failure::bad_input(format!(
            "--shards {shards}: at most {} (an Indexed Job's completions)",
            crate::sweep::shard::MAX_SHARDS
        )));
    }
    let parallelism = args.job_parallelism.unwrap_or(shards);
    if parallelism == 0 {
        return Err(Failure::bad_input(
            "--job-parallelism 0: a Job with no pod at once never runs; give 1 or more",
        ));
    }
    let memory_bytes = p
        .variants
        .iter()
        .map(|v| Estimate::of(&v.scenario, 1).peak_bytes)
        .fold(0.0, f64::max);
    let file_name = opts
        .scenario
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario.yaml".into());
    if file_name.starts_with('.')
        || !file_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return Err(Failure::bad_input(format!(
            "{file_name}: a ConfigMap key holds only letters, digits, `-`, `_` and `.`; rename the scenario file"
        )));
    }
    let spec = JobSpec {
        name: p.name,
        file_name,
        text: p.text,
        set: opts.set.clone(),
        seed: opts.seed,
        repetitions: opts.repetitions,
        shards,
        parallelism: parallelism.min(shards),
        image: args.job_image.clone(),
        namespace: args.job_namespace.clone(),
        results,
        memory_bytes,
    };
    print!("{}", manifest(&spec));
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds a run folder's reports in place.
fn rebuild_report(dir: &std::path::Path) -> Result<ExitCode, Failure> {
    let names = crate::run::rebuild_report(dir, &mut show)?;
    println!("wrote {}/ ({})", dir.display(), names);
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
    let opts = RunOptions {
        scenarios: args.scenarios,
        live,
        out: args.out,
        seed: args.seed,
        repetitions: args.repetitions,
        time_scale: args.time_scale,
        threads: args.threads,
        budgets: budgets(&args.budget),
        command: command_line(),
    };
    let format = args.format;
    let mut print = |p: Progress<'_>| {
        let Progress::Finished(done) = p else {
            return show(p);
        };
        let (s, summary, dir) = (&done.scenario, &done.summary, &done.dir);
        match format {
            Format::Json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(summary).expect("summary serializes")
                );
            }
            Format::Text => {
                print!("{}", report::card::Card::build(summary).render_text());
                println!();
                print!("{}", report::table::render(s, summary));
                println!();
                println!(
                    "wrote {}/ ({}); {} events in {}",
                    dir.display(),
                    done.written,
                    summary.engine.events,
                    report::table::human(done.wall),
                );
            }
        }
        match done.end {
            End::Stopped => eprintln!(
                "{}: stopped by an error; the repetitions before it are in {} with \"partial\": true",
                s.name,
                dir.display()
            ),
            // Interrupted: what was measured is written, marked partial; the run stops.
            End::Interrupted => eprintln!(
                "{}: interrupted; the results so far are in {} with \"partial\": true",
                s.name,
                dir.display()
            ),
            End::Complete => {
                if !summary.thresholds_ok()
                    && (std::io::stderr().is_terminal() || format == Format::Text)
                {
                    eprintln!("{}: a threshold was breached (exit code 1)", s.name);
                }
            }
        }
    };
    let outcome = crate::run::run(&opts, &mut print)?;
    Ok(exit_code(outcome.verdict))
}
