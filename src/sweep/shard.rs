//! Sweeps across machines: `pushpull sweep ... --shard I/N` runs a deterministic slice of
//! the sweep's (variant, repetition) units and writes their raw records to
//! `OUT/<name>.shards/<I>-of-<N>/`; `pushpull sweep merge DIR...` reads every shard back and
//! writes `OUT/<name>/sweep/` byte for byte as the unsharded sweep does (run.json's
//! `wall_s` and `threads` aside: they describe an execution, not the results). Exact
//! because a repetition is a pure function of (scenario, seed, repetition): the plan and
//! every model's random stream are seeded per repetition (`plan::rng`).

use crate::measure::{Counters, Event, EventKind, RunRecord, Sample};
use crate::metric::Metric;
use crate::outdir::{Kind, Staging};
use crate::run::{Progress, RunError, Sink, SweepOptions, SweepOutcome, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The version of `shard.json` and the unit files this pushpull writes and reads.
pub const SCHEMA: u32 = 1;

/// The environment variable Kubernetes sets to a pod's index in an Indexed Job.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Which slice of a sweep to run: shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The most shards a sweep may be cut into (Kubernetes caps an Indexed Job's completions
/// at 100,000).
pub const MAX_SHARDS: u32 = 100_000;

impl Shard {
    /// `I/N`, as `--shard` takes it: 0 ≤ I < N ≤ 100,000.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard {text}: expected I/N with 0 <= I < N <= {MAX_SHARDS}, for example --shard 0/3 (shards are numbered from 0, as Kubernetes numbers an Indexed Job's pods)"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count).ok_or_else(bad)
    }

    pub fn new(index: u32, count: u32) -> Option<Shard> {
        ((1..=MAX_SHARDS).contains(&count) && index < count).then_some(Shard { index, count })
    }

    /// Shard `JOB_COMPLETION_INDEX` of `count` (`--shards N` in an Indexed Job's pod).
    pub fn from_env(count: u32, index: Option<&str>) -> Result<Shard, String> {
        let Some(text) = index else {
            return Err(format!(
                "--shards {count} takes the shard index from {INDEX_ENV}, which Kubernetes sets in the pods of an Indexed Job, and it is not set here; give --shard I/{count} instead"
            ));
        };
        let index: u32 = text.trim().parse().map_err(|_| {
            format!("{INDEX_ENV}={text}: not a shard index (a whole number from 0)")
        })?;
        Shard::new(index, count).ok_or_else(|| {
            format!(
                "{INDEX_ENV}={index} with --shards {count}: the index must be below the count, and the count from 1 to {MAX_SHARDS} (set the Job's completions to --shards)"
            )
        })
    }

    /// The units of this shard: the k-th (variant, repetition) of the sweep, in variant
    /// then repetition order, belongs to shard k mod N (neighbouring repetitions, which
    /// cost the same, spread over every shard).
    pub fn units(&self, repetitions: &[u32]) -> Vec<(usize, u32)> {
        all_units(repetitions)
            .into_iter()
            .enumerate()
            .filter(|(k, _)| *k as u64 % u64::from(self.count) == u64::from(self.index))
            .map(|(_, u)| u)
            .collect()
    }
}

/// Every (variant, repetition) of a sweep whose variant `v` has `repetitions[v]`.
fn all_units(repetitions: &[u32]) -> Vec<(usize, u32)> {
    repetitions
        .iter()
        .enumerate()
        .flat_map(|(v, &n)| (0..n).map(move |r| (v, r)))
        .collect()
}

/// The command line without `--shard`/`--shards` and their values: what the unsharded
/// sweep would record in each run.json (and so what the merged reports show).
pub fn command_without_shard(args: &[String]) -> String {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if a == "--shard" || a == "--shards" {
            skip = true;
            continue;
        }
        if a.starts_with("--shard=") || a.starts_with("--shards=") {
            continue;
        }
        out.push(a.as_str());
    }
    out.join(" ")
}

/// `shard.json`: which sweep this is a slice of, and which units it holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Manifest {
    schema: u32,
    pushpull_version: String,
    scenario: String,
    scenario_file: String,
    scenario_text: String,
    set: Vec<String>,
    seed: Option<u64>,
    repetitions: Option<u32>,
    /// The sweep's command line without the shard options.
    command: String,
    shard: u32,
    shards: u32,
    threads: usize,
    units: Vec<(usize, u32)>,
}

impl Manifest {
    /// What must be equal for two shards to be of one sweep.
    fn sweep(&self) -> Manifest {
        Manifest {
            shard: 0,
            threads: 0,
            units: Vec::new(),
            ..self.clone()
        }
    }
}

/// One (variant, repetition): every setup's record.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitFile {
    schema: u32,
    variant: usize,
    slug: String,
    repetition: u32,
    wall_s: f64,
    setups: Vec<SetupRecord>,
}

/// A `RunRecord` in JSON: samples as `[metric, cluster, app, commit, start_ns, end_ns]`,
/// events as `[t_ns, cluster, app, event, detail]`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupRecord {
    name: String,
    engine_events: u64,
    counters: BTreeMap<String, u64>,
    samples: Vec<SampleRow>,
    /// Observations still open at the end (`RunRecord::censored`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    censored: Vec<SampleRow>,
    events: Vec<EventRow>,
}

/// `[metric, cluster, app, commit, start_ns, end_ns]`.
type SampleRow = (String, Option<u32>, Option<u32>, Option<u32>, u64, u64);
/// `[t_ns, cluster, app, event, detail]`.
type EventRow = (u64, Option<u32>, Option<u32>, String, String);

fn sample_row(s: &Sample) -> SampleRow {
    (
        s.metric.name().to_string(),
        s.cluster,
        s.app,
        s.commit,
        s.start,
        s.end,
    )
}

fn sample_of((m, cluster, app, commit, start, end): SampleRow) -> Result<Sample, String> {
    let metric = Metric::from_name(&m).ok_or_else(|| format!("unknown metric `{m}`"))?;
    Ok(Sample {
        metric,
        cluster,
        app,
        commit,
        start,
        end,
    })
}

impl SetupRecord {
    fn of(name: &str, r: &RunRecord) -> SetupRecord {
        SetupRecord {
            name: name.to_string(),
            engine_events: r.engine_events,
            counters: r
                .counters
                .named()
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            samples: r.samples.iter().map(sample_row).collect(),
            censored: r.censored.iter().map(sample_row).collect(),
            events: r
                .events
                .iter()
                .map(|e| {
                    (
                        e.t,
                        e.cluster,
                        e.app,
                        e.kind.name().to_string(),
                        e.detail.clone(),
                    )
                })
                .collect(),
        }
    }

    fn record(self) -> Result<RunRecord, String> {
        let mut c = Counters::default();
        for (k, &v) in &self.counters {
            let field = match k.as_str() {
                "deploys" => &mut c.deploys,
                "failed_deploys" => &mut c.failed_deploys,
                "drift_events" => &mut c.drift_events,
                "drift_unrecovered" => &mut c.drift_unrecovered,
                "api_requests" => &mut c.api_requests,
                "git_ref_checks" => &mut c.git_ref_checks,
                "git_fetches" => &mut c.git_fetches,
                "git_checkouts" => &mut c.git_checkouts,
                "apply_errors" => &mut c.apply_errors,
                "deploys_incomplete" => &mut c.deploys_incomplete,
                "clusters_unrestored" => &mut c.clusters_unrestored,
                other => return Err(format!("unknown counter `{other}`")),
            };
            *field = v;
        }
        // Every counter this version keeps must have been read (a new counter added to
        // `Counters` and not here is caught, not dropped).
        for (k, v) in c.named() {
            if self.counters.get(k) != Some(&v) {
                return Err(format!("counter `{k}` is missing"));
            }
        }
        let samples = self
            .samples
            .into_iter()
            .map(sample_of)
            .collect::<Result<Vec<_>, String>>()?;
        let censored = self
            .censored
            .into_iter()
            .map(sample_of)
            .collect::<Result<Vec<_>, String>>()?;
        let events = self
            .events
            .into_iter()
            .map(|(t, cluster, app, kind, detail)| {
                let kind =
                    EventKind::from_name(&kind).ok_or_else(|| format!("unknown event `{kind}`"))?;
                Ok(Event {
                    t,
                    cluster,
                    app,
                    kind,
                    detail,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(RunRecord {
            samples,
            censored,
            events,
            counters: c,
            engine_events: self.engine_events,
        })
    }
}

/// What a shard run did.
pub struct ShardOutcome {
    /// `OUT/<name>.shards/<I>-of-<N>`.
    pub dir: PathBuf,
    /// Units run by this shard, and in the whole sweep.
    pub units: usize,
    pub total: usize,
}

/// The folder shard `shard` of scenario `name` writes under `out`.
pub fn shard_dir(out: &Path, name: &str, shard: Shard) -> PathBuf {
    out.join(format!("{name}.shards"))
        .join(format!("{}-of-{}", shard.index, shard.count))
}

fn unit_name(v: usize, r: u32) -> String {
    format!("v{v}-r{r}.json")
}

/// Runs shard `shard` of the sweep `opts` and writes its folder (built aside, swapped in
/// whole). `command` is the command line without the shard options.
pub fn run_shard(
    opts: &SweepOptions,
    shard: Shard,
    command: &str,
    sink: Sink<'_>,
) -> Result<ShardOutcome, RunError> {
    let p = crate::run::prepare_sweep(opts, sink)?;
    crate::run::clean_up_on_signals(sink);
    let reps: Vec<u32> = p.variants.iter().map(|v| v.scenario.repetitions).collect();
    let units = shard.units(&reps);
    let total = all_units(&reps).len();
    let dir = shard_dir(&opts.out, &p.name, shard);
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            RunError::Option(format!(
                "cannot create {}: {e} (make --out writable, or pick another folder with --out)",
                parent.display()
            ))
        })?;
    }
    let staging = Staging::begin(&dir, Kind::Shard)?;
    // Units run on `threads` workers; each is written as soon as it is done.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: std::sync::Mutex<Option<RunError>> = std::sync::Mutex::new(None);
    let workers = p.threads.clamp(1, units.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(v, r)) = units.get(i) else { break };
                    let variant = &p.variants[v];
                    let started = Instant::now();
                    let s = &variant.scenario;
                    let plan = crate::plan::Plan::draw(s, r);
                    let setups = s
                        .models
                        .setups
                        .iter()
                        .map(|setup| {
                            SetupRecord::of(&setup.name, &crate::sim::run_one(s, &plan, setup, r))
                        })
                        .collect();
                    let unit = UnitFile {
                        schema: SCHEMA,
                        variant: v,
                        slug: variant.slug.clone(),
                        repetition: r,
                        wall_s: (started.elapsed().as_secs_f64() * 1e3).round() / 1e3,
                        setups,
                    };
                    let bytes = serde_json::to_vec(&unit).expect("a unit serializes");
                    let path = staging.path().join("units").join(unit_name(v, r));
                    if let Err(e) = crate::report::write_atomic(&path, &bytes) {
                        let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                        f.get_or_insert(RunError::Write(e));
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let manifest = Manifest {
        schema: SCHEMA,
        pushpull_version: env!("CARGO_PKG_VERSION").into(),
        scenario: p.name.clone(),
        scenario_file: p.file.clone(),
        scenario_text: p.text.clone(),
        set: opts.set.clone(),
        seed: opts.seed,
        repetitions: opts.repetitions,
        command: command.to_string(),
        shard: shard.index,
        shards: shard.count,
        threads: p.threads,
        units: units.clone(),
    };
    let mut json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    json.push(b'\n');
    crate::report::write_atomic(&staging.path().join("shard.json"), &json)?;
    staging.commit()?;
    Ok(ShardOutcome {
        dir,
        units: units.len(),
        total,
    })
}

fn bad(message: String) -> RunError {
    RunError::Scenario(message)
}

/// The shard folders named by `dirs`: each is a shard (it holds `shard.json`) or a
/// folder of shards (`OUT/<name>.shards`).
fn shard_folders(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, RunError> {
    let mut out = Vec::new();
    for d in dirs {
        if d.join("shard.json").is_file() {
            out.push(d.clone());
            continue;
        }
        let entries = std::fs::read_dir(d).map_err(|e| {
            bad(format!(
                "cannot read {}: {e} (give the shard folders `pushpull sweep --shard` wrote, OUT/<name>.shards/<I>-of-<N>, or their OUT/<name>.shards)",
                d.display()
            ))
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("shard.json").is_file())
            .collect();
        if found.is_empty() {
            return Err(bad(format!(
                "{} holds no shard (no shard.json in it or its folders); give the folders `pushpull sweep --shard I/N` wrote",
                d.display()
            )));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn read_manifest(dir: &Path) -> Result<Manifest, RunError> {
    let path = dir.join("shard.json");
    let bytes =
        std::fs::read(&path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "{}: not a shard manifest of this pushpull: {e}",
            path.display()
        ))
    })?;
    if m.schema != SCHEMA {
        return Err(bad(format!(
            "{}: schema {}, but this pushpull reads shard schema {SCHEMA}; run every shard and the merge with one pushpull",
            path.display(),
            m.schema
        )));
    }
    Ok(m)
}

/// Merges shard folders into `out/<name>/sweep/`, as the unsharded sweep writes it.
pub fn merge(dirs: &[PathBuf], out: &Path, sink: Sink<'_>) -> Result<SweepOutcome, RunError> {
    let folders = shard_folders(dirs)?;
    let mut manifests = Vec::new();
    for f in &folders {
        manifests.push((f.clone(), read_manifest(f)?));
    }
    let (first_dir, first) = &manifests[0];
    let count = first.shards;
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for (dir, m) in &manifests {
        if m.sweep() != first.sweep() {
            return Err(bad(format!(
                "{} and {} are shards of different sweeps (scenario, --set, --seed, --repetitions, shard count, command or pushpull version differ); merge the shards of one sweep",
                first_dir.display(),
                dir.display()
            )));
        }
        if let Some(other) = by_index.insert(m.shard, dir) {
            return Err(bad(format!(
                "shard {}/{count} is given twice: {} and {}",
                m.shard,
                other.display(),
                dir.display()
            )));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "shard(s) {} missing: run them (pushpull sweep ... --shard I/{count}) or give their folders",
            missing.join(", ")
        )));
    }
    let opts = SweepOptions {
        scenario: PathBuf::from(&first.scenario_file),
        set: first.set.clone(),
        out: out.to_path_buf(),
        seed: first.seed,
        repetitions: first.repetitions,
        threads: None,
        budgets: Default::default(),
        command: first.command.clone(),
    };
    // The variants from the scenario text the shards ran (the file may have changed, or
    // be elsewhere, since).
    let axes = first
        .set
        .iter()
        .map(|a| crate::sweep::Axis::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Option(e.to_string()))?;
    let mut variants = crate::sweep::variants(&first.scenario_text, &first.scenario_file, &axes)
        .map_err(|e| bad(e.to_string()))?;
    for v in &mut variants {
        if let Some(seed) = opts.seed {
            v.scenario.seed = seed;
        }
        if let Some(r) = opts.repetitions {
            v.scenario.repetitions = r;
        }
    }
    let reps: Vec<u32> = variants.iter().map(|v| v.scenario.repetitions).collect();
    // Where each unit is; each must be in exactly the shard that was to run it.
    let mut at: BTreeMap<(usize, u32), PathBuf> = BTreeMap::new();
    for (dir, m) in &manifests {
        let want = Shard {
            index: m.shard,
            count,
        }
        .units(&reps);
        if m.units != want {
            return Err(bad(format!(
                "{}: holds other units than shard {}/{count} of this sweep runs; it was not written by `pushpull sweep --shard`, or by another pushpull",
                dir.display(),
                m.shard
            )));
        }
        for &(v, r) in &m.units {
            at.insert((v, r), dir.join("units").join(unit_name(v, r)));
        }
    }
    let name = first.scenario.clone();
    let threads = manifests.iter().map(|(_, m)| m.threads).max().unwrap_or(1);
    crate::run::clean_up_on_signals(sink);
    let root = out.join(&name).join("sweep");
    let _scenario_lock = crate::outdir::Lock::acquire(&out.join(&name))?;
    let staging = Staging::begin(&root, Kind::Sweep)?;
    let mut rows = Vec::new();
    let mut breached = false;
    for (vi, v) in variants.iter().enumerate() {
        let started = Instant::now();
        let s = &v.scenario;
        let mut runs: Vec<(String, Vec<RunRecord>)> = s
            .models
            .setups
            .iter()
            .map(|setup| (setup.name.clone(), Vec::new()))
            .collect();
        let mut wall = 0.0;
        for r in 0..s.repetitions {
            let path = at
                .get(&(vi, r))
                .ok_or_else(|| bad(format!("no shard holds variant {} repetition {r}", v.label)))?;
            let unit_err = |why: String| bad(format!("{}: {why}", path.display()));
            let bytes = std::fs::read(path).map_err(|e| {
                unit_err(format!(
                    "{e} (the shard folder is incomplete; run that shard again)"
                ))
            })?;
            let unit: UnitFile = serde_json::from_slice(&bytes)
                .map_err(|e| unit_err(format!("not a unit of this pushpull: {e}")))?;
            if unit.schema != SCHEMA
                || unit.variant != vi
                || unit.repetition != r
                || unit.slug != v.slug
            {
                return Err(unit_err(format!(
                    "holds variant {} repetition {}, not {} repetition {r}",
                    unit.slug, unit.repetition, v.slug
                )));
            }
            wall += unit.wall_s;
            if unit.setups.len() != runs.len() {
                return Err(unit_err("holds other setups than the scenario's".into()));
            }
            for ((name, recs), rec) in runs.iter_mut().zip(unit.setups) {
                if *name != rec.name {
                    return Err(unit_err(format!(
                        "holds setup `{}` where the scenario has `{name}`",
                        rec.name
                    )));
                }
                recs.push(rec.record().map_err(unit_err)?);
            }
        }
        let summary = crate::measure::summary::Summary::build(s, "sim", &runs);
        breached |= !summary.thresholds_ok();
        let info = crate::report::RunInfo {
            pushpull_version: env!("CARGO_PKG_VERSION"),
            command: first.command.clone(),
            scenario_file: first.scenario_file.clone(),
            mode: "sim".into(),
            // The time the shards spent on this variant's repetitions, and the merge on
            // its files.
            wall_s: ((wall + started.elapsed().as_secs_f64()) * 1e3).round() / 1e3,
            threads,
        };
        crate::report::write_run(&staging.path().join(&v.slug), s, &summary, &runs, &info)?;
        rows.push((v.label.clone(), v.slug.clone(), summary));
    }
    let (table, csv) = crate::report::table::sweep(&rows);
    crate::report::write_atomic(&staging.path().join("sweep.csv"), csv.as_bytes())?;
    crate::sweep::html::write(staging.path(), &name, &variants, &rows)?;
    staging.commit()?;
    sink(Progress::Note(format!(
        "merged {} shard(s) of {name}: {} variant(s)",
        manifests.len(),
        rows.len()
    )));
    Ok(SweepOutcome {
        name,
        root,
        variants: rows.len(),
        breaches: crate::run::sweep_breaches(&rows),
        table,
        verdict: if breached {
            Verdict::Breached
        } else {
            Verdict::Ok
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_every_unit_exactly_once() {
        let reps = [5, 5, 3, 1];
        let all = all_units(&reps);
        for n in [1, 2, 3, 7, 20] {
            let mut seen: Vec<(usize, u32)> = (0..n)
                .flat_map(|i| Shard::new(i, n).unwrap().units(&reps))
                .collect();
            seen.sort();
            assert_eq!(seen, all, "{n} shards");
        }
        assert_eq!(Shard::new(1, 2).unwrap().units(&[2, 2]), [(0, 1), (1, 1)]);
    }

    #[test]
    fn shard_arguments_and_the_job_index_are_checked() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "-1/3", "a/b", "0/100001"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Shard::from_env(4, Some("3")),
            Ok(Shard { index: 3, count: 4 })
        );
        let e = Shard::from_env(4, None).unwrap_err();
        assert!(
            e.contains("JOB_COMPLETION_INDEX") && e.contains("--shard I/4"),
            "{e}"
        );
        assert!(Shard::from_env(4, Some("4")).is_err());
        assert!(Shard::from_env(4, Some("x")).is_err());
    }

    #[test]
    fn the_recorded_command_drops_only_the_shard_options() {
        let args: Vec<String> = [
            "pushpull",
            "sweep",
            "s.yaml",
            "--set",
            "a=1,2",
            "--shard",
            "1/3",
            "--shards=3",
            "--out",
            "o",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            command_without_shard(&args),
            "pushpull sweep s.yaml --set a=1,2 --out o"
        );
    }

    #[test]
    fn a_record_survives_its_unit_file() {
        let r = RunRecord {
            samples: vec![Sample {
                metric: Metric::ALL[0],
                cluster: Some(1),
                app: None,
                commit: Some(7),
                start: 5,
                end: u64::MAX,
            }],
            censored: vec![Sample {
                metric: Metric::DriftRecovery,
                cluster: Some(0),
                app: Some(3),
                commit: None,
                start: 11,
                end: 20,
            }],
            events: vec![Event {
                t: 9,
                cluster: None,
                app: Some(2),
                kind: EventKind::ALL[3],
                detail: "rev=1 \"x\"".into(),
            }],
            counters: Counters {
                deploys: 3,
                clusters_unrestored: 1,
                ..Counters::default()
            },
            engine_events: 42,
        };
        let json = serde_json::to_vec(&SetupRecord::of("push", &r)).unwrap();
        let back: SetupRecord = serde_json::from_slice(&json).unwrap();
        let back = back.record().unwrap();
        assert_eq!(back.samples, r.samples);
        assert_eq!(back.censored, r.censored);
        assert_eq!(back.events, r.events);
        assert_eq!(back.counters, r.counters);
        assert_eq!(back.engine_events, 42);
    }
}
