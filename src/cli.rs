//! The command line (`pushpull run | validate | report`): parses arguments, runs scenarios, prints
//! tables, and maps every outcome to the exit codes of DESIGN.md (0 ok, 1 a threshold
//! breached, 2 bad input or usage, 3 a needed tool or cluster is missing).

use crate::measure::summary::Summary;
use crate::report::{self, RunInfo};
use crate::scenario::Scenario;
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
    /// Rebuild the charts, report.html and report.md of a run directory from its
    /// summary.json, samples.csv and events.csv, without re-running anything.
    Report {
        /// A directory written by `pushpull run` (e.g. reports/quickstart).
        run_dir: PathBuf,
    },
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
    /// Folder for results; each scenario writes to OUT/<name>/.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's number of repetitions.
    #[arg(long)]
    pub repetitions: Option<u32>,
    /// What to print: a table (text) or summary.json (json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Worker threads for repetitions (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
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
    Scenario::load(path).map_err(|e| Failure::bad_input(e.to_string()))
}

fn validate(paths: &[PathBuf]) -> Result<ExitCode, Failure> {
    let mut failed = 0;
    for p in paths {
        match Scenario::load(p) {
            Ok(s) => println!(
                "{}: ok ({}, {} cluster(s) × {} apps, {}, {} fault(s))",
                p.display(),
                s.name,
                s.clusters(),
                s.apps(),
                s.duration,
                s.faults.len()
            ),
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

/// Names of written files relative to `dir` (`summary.json`, `charts/cost.png`, ...).
fn relative_names(dir: &std::path::Path, written: &[PathBuf]) -> String {
    written
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn rebuild_report(dir: &std::path::Path) -> Result<ExitCode, Failure> {
    let written = report::write_reports(dir).map_err(|e| Failure::bad_input(e.to_string()))?;
    println!(
        "wrote {}/{{{}}}",
        dir.display(),
        relative_names(dir, &written)
    );
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    if args.mode != Mode::Sim {
        return Err(Failure::bad_input(format!(
            "--mode {} is not available in this version yet; use --mode sim (the default)",
            args.mode
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        )));
    }
    if args.context.is_some() {
        return Err(Failure::bad_input(
            "--context only applies to --mode kubeconfig",
        ));
    }
    if args.repetitions == Some(0) {
        return Err(Failure::bad_input("--repetitions must be at least 1"));
    }
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
        scenarios.push((p.clone(), s));
    }
    let threads = args
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let mut breached = false;
    let command: Vec<String> = std::env::args().collect();
    for (path, s) in &scenarios {
        let started = Instant::now();
        tracing::info!(scenario = %s.name, repetitions = s.repetitions, threads, "running");
        let runs = crate::sim::run(s, threads);
        let summary = Summary::build(s, "sim", &runs);
        let wall = started.elapsed().as_secs_f64();
        let dir = args.out.join(&s.name);
        let info = RunInfo {
            pushpull_version: env!("CARGO_PKG_VERSION"),
            command: command.join(" "),
            scenario_file: path.display().to_string(),
            mode: "sim".into(),
            wall_s: (wall * 1e3).round() / 1e3,
            threads,
        };
        let written = report::write_run(&dir, s, &summary, &runs, &info).map_err(|e| Failure {
            code: 2,
            message: e.to_string(),
        })?;
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
                    "wrote {}/{{{}}}; {} events in {}",
                    dir.display(),
                    relative_names(&dir, &written),
                    summary.engine.events,
                    report::table::human(wall),
                );
            }
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
