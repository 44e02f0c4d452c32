//! Reads a run directory back: `summary.json`, `samples.csv`, `events.csv`, and the
//! optional `run.json` and `scenario.json`. This is all `pushpull report` needs, so the
//! charts and reports can be rebuilt from a copied directory without re-running anything.
//! Every file is read with types and checked against the others (schema, names, sample
//! counts, repetitions): a malformed, truncated or foreign file is refused with its name,
//! and its line for CSV, never turned into a report.

use crate::measure::bootstrap::Groups;
use crate::metric::{Metric, ModelKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `summary.json` schema this version writes.
pub use crate::measure::summary::SCHEMA;

/// The `summary.json` schemas this version reads: 1 (push and pull) and 2 (named setups).
pub const SCHEMAS_READ: [u32; 2] = [1, 2];

/// The modes a run can be made in (`summary.json`'s `mode`).
pub const MODES: [&str; 4] = ["sim", "emulated", "kind", "kubeconfig"];

/// The statistics a figure can be (`summary.json`'s `<quantile>_s` keys, thresholds).
pub const QUANTILES: [&str; 6] = ["mean", "p50", "p90", "p95", "p99", "max"];

/// The columns of `samples.csv`, in order. `censored` is 1 for an observation still open
/// when the run ended (its `end_s` is the run's end: it lasted at least `value_s`), 0
/// for a completed one.
pub const SAMPLES_HEADER: [&str; 10] = [
    "repetition",
    "model",
    "metric",
    "cluster",
    "app",
    "commit",
    "start_s",
    "end_s",
    "value_s",
    "censored",
];

/// The columns of `samples.csv` before censored rows (still read: every row completed).
pub const SAMPLES_HEADER_UNCENSORED: [&str; 9] = [
    "repetition",
    "model",
    "metric",
    "cluster",
    "app",
    "commit",
    "start_s",
    "end_s",
    "value_s",
];

/// The columns of `events.csv`, in order.
pub const EVENTS_HEADER: [&str; 7] = [
    "repetition",
    "model",
    "t_s",
    "cluster",
    "app",
    "event",
    "detail",
];

/// How many repetitions a directory may claim whatever it holds. A report keeps one
/// group of samples per repetition and its bootstrap draws every repetition in each of
/// its 2,000 resamples, so a larger claim is believed only when the CSVs hold at least as
/// many rows: the work of a report then stays proportional to the data actually present
/// (a `summary.json` saying 4,000,000,000 repetitions over one sample is refused instead
/// of allocating 96 GB).
pub const REPETITIONS_WITHOUT_ROWS: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source} (is this a run directory written by `pushpull run`?)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {field}{message} (is this a file written by `pushpull run`?)")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        /// `models.push.metrics.apply.p95_s: `, or empty at the top level.
        field: String,
        message: String,
    },
    #[error(
        "{path}: schema {found}, but this pushpull ({version}) reads schemas 1 and 2 (it writes {SCHEMA}): make the run again with this version (or use the pushpull that made it)",
        version = env!("CARGO_PKG_VERSION")
    )]
    Schema { path: PathBuf, found: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
}

/// `summary.json` as this version writes it (schema 2): the very types that write it.
pub use crate::measure::summary::{
    Engine as EngineStats, MetricSummary as MetricStats, ModelSummary as ModelStats, Named,
    Summary as SummaryFile, ThresholdResult as ThresholdStats,
};

/// `summary.json` of schema 1 (before named setups): always the two models `push` and
/// `pull`, without kind, preset or baseline. Read and turned into schema 2.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryV1 {
    #[allow(dead_code)]
    schema: u32,
    scenario: String,
    mode: String,
    seed: u64,
    repetitions: u32,
    duration_s: f64,
    #[serde(default)]
    partial: bool,
    #[serde(default)]
    repetitions_run: Option<u32>,
    #[serde(default)]
    unsupported_faults: Vec<String>,
    models: BTreeMap<String, ModelV1>,
    #[serde(default)]
    thresholds: Vec<ThresholdStats>,
    #[serde(default)]
    engine: Option<EngineStats>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelV1 {
    metrics: BTreeMap<String, MetricStats>,
    counters: BTreeMap<String, u64>,
}

/// What a schema-1 summary's setups are: `push` and `pull`, push the baseline (the
/// report compared pull with push). The preset was not recorded.
impl From<SummaryV1> for SummaryFile {
    fn from(v: SummaryV1) -> SummaryFile {
        let mut models = Vec::new();
        let mut v1 = v.models;
        for kind in ModelKind::BOTH {
            if let Some(m) = v1.remove(kind.name()) {
                models.push((
                    kind.name().to_string(),
                    ModelStats {
                        kind,
                        preset: "unknown".into(),
                        metrics: m.metrics,
                        counters: m.counters,
                        environments: Named::default(),
                        ..ModelStats::empty(kind)
                    },
                ));
            }
        }
        // Any other key is refused by `check_summary` (schema 1 knew only push and pull).
        for (name, m) in v1 {
            models.push((
                name,
                ModelStats {
                    kind: ModelKind::Push,
                    preset: "unknown".into(),
                    metrics: m.metrics,
                    counters: m.counters,
                    environments: Named::default(),
                    ..ModelStats::empty(ModelKind::Push)
                },
            ));
        }
        SummaryFile {
            schema: 1,
            scenario: v.scenario,
            mode: v.mode,
            seed: v.seed,
            repetitions: v.repetitions,
            duration_s: v.duration_s,
            partial: v.partial,
            repetitions_run: v.repetitions_run,
            unsupported_faults: v.unsupported_faults,
            baseline: "push".into(),
            models: Named(models),
            thresholds: v.thresholds,
            engine: v.engine.unwrap_or(EngineStats {
                events: 0,
                wall_s: None,
            }),
            sensitivity: None,
        }
    }
}

/// `run.json`: how the run was made.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct RunFile {
    pub pushpull_version: String,
    pub command: String,
    #[serde(default)]
    pub scenario_file: String,
    pub mode: String,
}

/// One line of `events.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub model: String,
    pub t_s: f64,
    pub cluster: Option<u32>,
    pub app: Option<u32>,
    pub event: String,
    pub detail: String,
}

impl EventRow {
    /// The revision named in `detail` (`rev=12 apps=3` → 12).
    pub fn rev(&self) -> Option<u64> {
        self.detail
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("rev="))
            .and_then(|v| v.parse().ok())
    }
}

/// Everything a report is made from.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub summary: SummaryFile,
    /// `(model, metric)` → values in microseconds, one vector per repetition.
    pub samples: BTreeMap<(String, String), Groups>,
    /// `(model, metric)` → the censored observations (still open at the end, lasting at
    /// least this long), likewise; only metrics that have some.
    pub censored: BTreeMap<(String, String), Groups>,
    /// The timeline of repetition 0 (the timeline chart draws only that one).
    pub events: Vec<EventRow>,
    pub run: Option<RunFile>,
    /// The scenario with presets expanded, as `pushpull run` stored it.
    pub scenario: Option<serde_json::Value>,
}

impl RunDir {
    pub fn samples(&self, model: &str, metric: &str) -> Option<&Groups> {
        self.samples.get(&(model.to_string(), metric.to_string()))
    }

    /// The censored observations of one setup's metric, if it has any.
    pub fn censored(&self, model: &str, metric: &str) -> Option<&Groups> {
        self.censored.get(&(model.to_string(), metric.to_string()))
    }

    /// Why a run measured no hand edit, in a sentence: the scenario plans none, the run
    /// was interrupted before the first, or its mode cannot inject them. Without
    /// scenario.json it says only what was measured.
    pub fn no_drift_reason(&self) -> &'static str {
        let planned = self.plans("drift");
        let unsupported = self.summary.unsupported_faults.iter().any(|f| f == "drift");
        match planned {
            Some(false) => "the scenario injects no drift",
            _ if unsupported => "this mode cannot inject the scenario's drift",
            Some(true) if self.summary.partial => {
                "the run was stopped before the scenario's first hand edit"
            }
            Some(true) => "none of the scenario's hand edits fell inside the run",
            None => "no hand edit was measured in this run",
        }
    }

    /// Whether the scenario plans a fault of `kind` (`None` without scenario.json).
    fn plans(&self, kind: &str) -> Option<bool> {
        self.scenario.as_ref().map(|s| {
            s["faults"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x["kind"] == kind))
        })
    }

    /// Why a run measured no bad release, as [`RunDir::no_drift_reason`] says it for hand
    /// edits: never "none was injected" when the scenario planned one.
    pub fn no_bad_release_reason(&self) -> &'static str {
        let unsupported = self
            .summary
            .unsupported_faults
            .iter()
            .any(|f| f == "bad_release");
        match self.plans("bad_release") {
            Some(false) => "the scenario injects no bad release",
            _ if unsupported => "this mode cannot inject the scenario's bad releases",
            Some(true) if self.summary.partial => {
                "the run was stopped before the scenario's first bad release was rolled back"
            }
            Some(true) => "none of the scenario's bad releases was rolled back inside the run",
            None => "no bad release was measured in this run",
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// serde_json's message without its trailing " at line L column C" (we put the place
/// first, as `file:line:column`).
fn json_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    match m.rfind(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m,
    }
}

/// Typed JSON with the place and the key path of the first error.
fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, LoadError> {
    let located = |e: &serde_json::Error, field: String| LoadError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        field,
        message: json_message(e),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        // serde_path_to_error writes `?` where it does not know the key (in a cut file).
        let field = field.trim_end_matches('?').trim_end_matches('.');
        let field = if field.is_empty() {
            String::new()
        } else {
            format!("{field}: ")
        };
        located(e.inner(), field)
    })?;
    de.end().map_err(|e| located(&e, String::new()))?;
    Ok(value)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    parse_json(path, &read(path)?)
}

fn optional_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, LoadError> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads a `summary.json` on its own, typed and checked: the schema this version
/// writes, known models, metrics, counters and quantiles, and figures that are
/// non-negative finite seconds. What it cannot check alone (the samples behind the
/// counts) [`load`] checks for a whole run directory.
pub fn read_summary(path: &Path) -> Result<SummaryFile, LoadError> {
    let bytes = read(path)?;
    // The schema first, so that a file of another version is named as such rather than
    // by the first field this version does not know.
    let head: serde_json::Value = parse_json(path, &bytes)?;
    let schema = match head.get("schema") {
        Some(serde_json::Value::Number(n))
            if n.as_u64()
                .is_some_and(|n| SCHEMAS_READ.iter().any(|&s| s as u64 == n)) =>
        {
            n.as_u64().unwrap_or(0)
        }
        Some(other) => {
            return Err(LoadError::Schema {
                path: path.to_path_buf(),
                found: other.to_string(),
            });
        }
        None => {
            return Err(LoadError::Invalid {
                path: path.to_path_buf(),
                message: "no `schema`: not a pushpull summary.json".into(),
            });
        }
    };
    let summary: SummaryFile = if schema == 1 {
        parse_json::<SummaryV1>(path, &bytes)?.into()
    } else {
        parse_json(path, &bytes)?
    };
    check_summary(&summary).map_err(|message| LoadError::Invalid {
        path: path.to_path_buf(),
        message,
    })?;
    Ok(summary)
}

/// `Err` unless `v` is a finite, non-negative number of seconds.
fn seconds(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{field} is {v}: a duration is a finite, non-negative number of seconds"
        ))
    }
}

/// `Ok` if `name` is one of the run's setups.
fn model_name(field: &str, name: &str, s: &SummaryFile) -> Result<(), String> {
    if s.models.contains_key(name) {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{name}` is not a setup of this run (its setups are {})",
            s.models.names().collect::<Vec<_>>().join(", ")
        ))
    }
}

fn metric_name(field: &str, name: &str) -> Result<(), String> {
    if Metric::from_name(name).is_some() {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{name}` is not a pushpull metric (expected one of {})",
            Metric::ALL.map(Metric::name).join(", ")
        ))
    }
}

/// What `summary.json` must say of itself, whatever else is in the directory.
fn check_summary(s: &SummaryFile) -> Result<(), String> {
    if s.scenario.is_empty() {
        return Err("scenario is empty: a run always names its scenario".into());
    }
    if !MODES.contains(&s.mode.as_str()) {
        return Err(format!(
            "mode `{}` is not a pushpull mode (expected one of {})",
            s.mode,
            MODES.join(", ")
        ));
    }
    if s.repetitions == 0 {
        return Err("repetitions is 0: a run has at least one".into());
    }
    if let Some(k) = s.repetitions_run {
        if !s.partial {
            return Err(format!(
                "repetitions_run is {k} but partial is false: only a run stopped early records it"
            ));
        }
        if k > s.repetitions {
            return Err(format!(
                "repetitions_run is {k}, more than the {} repetitions planned",
                s.repetitions
            ));
        }
    }
    if !(s.duration_s.is_finite() && s.duration_s > 0.0) {
        return Err(format!(
            "duration_s is {}: a run lasts a positive, finite number of seconds",
            s.duration_s
        ));
    }
    if s.schema == 1 {
        for m in ModelKind::BOTH {
            if !s.models.contains_key(m.name()) {
                return Err(format!(
                    "models has no `{m}`: a schema-1 summary always holds both models"
                ));
            }
        }
        if let Some(other) = s.models.names().find(|n| *n != "push" && *n != "pull") {
            return Err(format!(
                "models: `{other}` is not a pushpull model (schema 1 knows push and pull)"
            ));
        }
    }
    let max = crate::scenario::bounds::MAX_SETUPS;
    if s.models.len() < 2 || s.models.len() > max {
        return Err(format!(
            "models holds {} setup(s): a run compares 2 to {max}",
            s.models.len()
        ));
    }
    for name in s.models.names() {
        if !crate::scenario::bounds::is_dns_label(name)
            || name.len() > crate::scenario::bounds::MAX_SETUP_NAME
        {
            return Err(format!(
                "models: `{name}` is not a setup name (lowercase letters, digits and `-`, at most {} characters)",
                crate::scenario::bounds::MAX_SETUP_NAME
            ));
        }
    }
    if !s.models.contains_key(&s.baseline) {
        return Err(format!(
            "baseline `{}` is not a setup of this run (its setups are {})",
            s.baseline,
            s.models.names().collect::<Vec<_>>().join(", ")
        ));
    }
    let counters: Vec<&str> = crate::measure::Counters::default()
        .named()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for (model, stats) in s.models.iter() {
        if stats.preset.is_empty() || stats.preset.len() > 63 {
            return Err(format!(
                "models.{model}.preset is `{}`: a preset is a short name like `argocd`",
                stats.preset
            ));
        }
        for (metric, ms) in &stats.metrics {
            let field = format!("models.{model}.metrics.{metric}");
            metric_name(&format!("models.{model}.metrics"), metric)?;
            let figures = [
                ("mean_s", ms.mean_s),
                ("p50_s", ms.p50_s),
                ("p90_s", ms.p90_s),
                ("p95_s", ms.p95_s),
                ("p99_s", ms.p99_s),
                ("max_s", ms.max_s),
            ];
            for (key, v) in figures {
                let unreached = ms
                    .unreached
                    .iter()
                    .any(|q| format!("{}_s", q.name()) == key);
                match v {
                    Some(v) if unreached => {
                        return Err(format!(
                            "{field}.{key} is {v} although `unreached` lists it: an unreached figure is null"
                        ));
                    }
                    Some(v) => seconds(&format!("{field}.{key}"), v)?,
                    None if unreached => {}
                    None if ms.count > 0 => {
                        return Err(format!(
                            "{field}.{key} is null although count is {}: a metric with samples has every figure",
                            ms.count
                        ));
                    }
                    None => {}
                }
                if ms.count == 0 && v.is_some() {
                    return Err(format!(
                        "{field}.{key} is set although count is 0: a metric without samples has no figures"
                    ));
                }
            }
            if !ms.unreached.is_empty() && ms.censored == 0 {
                return Err(format!(
                    "{field}.unreached is set although censored is 0: only observations still open at the end leave a figure unreached"
                ));
            }
            match ms.beyond_s {
                Some(b) => seconds(&format!("{field}.beyond_s"), b)?,
                None if !ms.unreached.is_empty() => {
                    return Err(format!(
                        "{field}.unreached is set without beyond_s: an unreached figure is more than the longest observation"
                    ));
                }
                None => {}
            }
            if let Some([lo, hi]) = ms.ci95_p50_s {
                seconds(&format!("{field}.ci95_p50_s[0]"), lo)?;
                seconds(&format!("{field}.ci95_p50_s[1]"), hi)?;
                if lo > hi {
                    return Err(format!(
                        "{field}.ci95_p50_s is [{lo}, {hi}]: an interval's low end is not above its high end"
                    ));
                }
            }
        }
        for name in stats.counters.keys() {
            if !counters.contains(&name.as_str()) {
                return Err(format!(
                    "models.{model}.counters: `{name}` is not a pushpull counter (expected one of {})",
                    counters.join(", ")
                ));
            }
        }
    }
    for (i, t) in s.thresholds.iter().enumerate() {
        let field = format!("thresholds[{i}]");
        model_name(&format!("{field}.model"), &t.model, s)?;
        match (
            crate::measure::summary::FigureKind::of(&t.metric),
            t.quantile,
        ) {
            (None, _) => {
                return Err(format!(
                    "{field}.metric: `{}` is not a pushpull metric, counter or share",
                    t.metric
                ));
            }
            (Some(crate::measure::summary::FigureKind::Duration(_)), None) => {
                return Err(format!(
                    "{field}.quantile is missing: a threshold on a metric bounds one of its quantiles"
                ));
            }
            _ => {}
        }
        seconds(&format!("{field}.max_s"), t.max_s)?;
        if let Some(v) = t.value_s {
            seconds(&format!("{field}.value_s"), v)?;
        }
        if let Some(x) = t.tolerance
            && !(x.is_finite() && x >= 0.0)
        {
            return Err(format!(
                "{field}.tolerance is {x}: a tolerance is a finite, non-negative fraction"
            ));
        }
    }
    if let Some(w) = s.engine.wall_s {
        seconds("engine.wall_s", w)?;
    }
    Ok(())
}

/// Seconds as written in the CSVs (`12.345678`) to whole microseconds, exactly.
pub fn parse_micros(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let w: u64 = whole.parse().ok()?;
    let f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(6 - frac.len() as u32)
    };
    w.checked_mul(1_000_000)?.checked_add(f)
}

fn opt_index<T: std::str::FromStr>(column: &str, s: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        Ok(None)
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse()
            .map(Some)
            .map_err(|_| format!("{column} `{s}` is out of range"))
    } else {
        Err(format!("{column} `{s}` is not an index"))
    }
}

/// A CSV file checked for the shape `pushpull run` writes: the exact header, every
/// record as long as it, and a final newline (a file cut short ends mid-line).
struct Csv {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Csv {
    fn open(path: PathBuf, header: &[&str]) -> Result<Csv, LoadError> {
        let bytes = read(&path)?;
        let row = |line: u64, message: String| LoadError::Row {
            path: path.clone(),
            line,
            message,
        };
        let expected = header.join(",");
        if bytes.is_empty() {
            return Err(row(
                1,
                format!("the file is empty; expected the header `{expected}`"),
            ));
        }
        if !bytes.ends_with(b"\n") {
            let line = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            return Err(row(
                line,
                "the last line has no line end: the file was cut short".into(),
            ));
        }
        let mut rdr = csv::Reader::from_reader(bytes.as_slice());
        let found = rdr.headers().map_err(|e| csv_error(&path, e))?;
        if found.iter().ne(header.iter().copied()) {
            let missing: Vec<&str> = header
                .iter()
                .copied()
                .filter(|h| !found.iter().any(|f| f == *h))
                .collect();
            let extra: Vec<&str> = found.iter().filter(|f| !header.contains(f)).collect();
            let mut why = Vec::new();
            if !missing.is_empty() {
                why.push(format!("missing {}", missing.join(", ")));
            }
            if !extra.is_empty() {
                why.push(format!("unknown {}", extra.join(", ")));
            }
            if why.is_empty() {
                why.push("columns out of order".into());
            }
            return Err(row(
                1,
                format!(
                    "the header is `{}` ({}); expected `{expected}`",
                    found.iter().collect::<Vec<_>>().join(","),
                    why.join("; ")
                ),
            ));
        }
        Ok(Csv { path, bytes })
    }

    /// Like [`Csv::open`], for a file that may have either of two headers (the current
    /// one, named in the error, or an older one still read).
    fn open_either(path: PathBuf, header: &[&str], older: &[&str]) -> Result<Csv, LoadError> {
        match Csv::open(path.clone(), header) {
            Ok(c) => Ok(c),
            Err(e) => Csv::open(path, older).map_err(|_| e),
        }
    }

    /// Every record with its line; each has as many fields as the header.
    fn records(&self) -> impl Iterator<Item = Result<(u64, csv::StringRecord), LoadError>> + '_ {
        csv::Reader::from_reader(self.bytes.as_slice())
            .into_records()
            .map(|r| {
                let r = r.map_err(|e| csv_error(&self.path, e))?;
                Ok((r.position().map(|p| p.line()).unwrap_or(0), r))
            })
    }
}

/// A csv error with the line it names in front, as `file:line:`.
fn csv_error(path: &Path, e: csv::Error) -> LoadError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{len} field(s), but the header has {expected_len}: the row is truncated or malformed"
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8 text ({err})"),
        _ => e.to_string(),
    };
    LoadError::Row {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// One row of `samples.csv`, typed.
struct SampleRow {
    rep: u32,
    model: String,
    metric: Metric,
    value: u64,
    censored: bool,
}

/// The latest time a row of a run of `duration_s` may name, in microseconds: the
/// horizon, with as much again for a live run's last messages. A time far beyond it is
/// not of this run (and would throw a chart's axis off by orders of magnitude).
fn latest_micros(duration_s: f64) -> u64 {
    // `as` saturates: a horizon beyond u64 microseconds bounds nothing.
    (duration_s * 2e6).ceil() as u64
}

fn after_horizon(column: &str, text: &str, duration_s: f64) -> String {
    format!(
        "{column} {text} is after twice the run's duration ({duration_s} s in summary.json): not a time of this run"
    )
}

fn sample_row(r: &csv::StringRecord, summary: &SummaryFile) -> Result<SampleRow, String> {
    let duration_s = summary.duration_s;
    // `Csv::records` guarantees the header's nine fields.
    let f = |i: usize| r.get(i).unwrap_or("");
    let rep: u32 =
        opt_index("repetition", f(0))?.ok_or_else(|| "repetition is empty".to_string())?;
    model_name("model", f(1), summary)?;
    metric_name("metric", f(2))?;
    opt_index::<u32>("cluster", f(3))?;
    opt_index::<u32>("app", f(4))?;
    opt_index::<u32>("commit", f(5))?;
    let secs = |i: usize, column: &str| {
        parse_micros(f(i)).ok_or_else(|| {
            format!(
                "{column} `{}` is not a non-negative number of seconds with at most 6 decimals",
                f(i)
            )
        })
    };
    let start = secs(6, "start_s")?;
    let end = secs(7, "end_s")?;
    let value = secs(8, "value_s")?;
    if end > latest_micros(duration_s) {
        return Err(after_horizon("end_s", f(7), duration_s));
    }
    // Each is rounded to the microsecond on its own: they may disagree by one.
    if end < start || (end - start).abs_diff(value) > 1 {
        return Err(format!(
            "value_s {} is not end_s {} − start_s {}",
            f(8),
            f(7),
            f(6)
        ));
    }
    let model = f(1).to_string();
    let metric =
        Metric::from_name(f(2)).ok_or_else(|| format!("metric: `{}` is not a metric", f(2)))?;
    // The tenth column, absent from files written before censored rows.
    let censored = match r.get(9) {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(format!("censored `{other}` is neither 0 nor 1")),
    };
    Ok(SampleRow {
        rep,
        model,
        metric,
        value,
        censored,
    })
}

/// One row of `events.csv`, typed, with its repetition.
fn event_row(r: &csv::StringRecord, summary: &SummaryFile) -> Result<(u32, EventRow), String> {
    let duration_s = summary.duration_s;
    let f = |i: usize| r.get(i).unwrap_or("");
    let rep: u32 =
        opt_index("repetition", f(0))?.ok_or_else(|| "repetition is empty".to_string())?;
    model_name("model", f(1), summary)?;
    let Some(t) = parse_micros(f(2)) else {
        return Err(format!(
            "t_s `{}` is not a non-negative number of seconds with at most 6 decimals",
            f(2)
        ));
    };
    if t > latest_micros(duration_s) {
        return Err(after_horizon("t_s", f(2), duration_s));
    }
    let t_s: f64 = f(2)
        .parse()
        .map_err(|_| format!("t_s `{}` is not seconds", f(2)))?;
    if f(5).is_empty() {
        return Err("event is empty".into());
    }
    Ok((
        rep,
        EventRow {
            model: f(1).to_string(),
            t_s,
            cluster: opt_index("cluster", f(3))?,
            app: opt_index("app", f(4))?,
            event: f(5).to_string(),
            detail: f(6).to_string(),
        },
    ))
}

pub fn load(dir: &Path) -> Result<RunDir, LoadError> {
    let summary_path = dir.join("summary.json");
    let summary = read_summary(&summary_path)?;
    // Rows of a repetition beyond this one cannot come from this run.
    let measured = summary.repetitions_run.unwrap_or(summary.repetitions);
    let beyond = |path: &Path, line: u64, rep: u32| LoadError::Row {
        path: path.to_path_buf(),
        line,
        message: if summary.repetitions_run.is_some() {
            format!(
                "repetition {rep}, but summary.json says the run measured {measured} repetition(s)"
            )
        } else {
            format!("repetition {rep}, but summary.json says {measured} repetition(s)")
        },
    };

    let samples_csv = Csv::open_either(
        dir.join("samples.csv"),
        &SAMPLES_HEADER,
        &SAMPLES_HEADER_UNCENSORED,
    )?;
    // Values per (model, metric) and repetition, grown as rows name repetitions (each is
    // below `measured`, checked per row), so no allocation is sized by a number read from
    // summary.json before the rows confirm it.
    let mut per: BTreeMap<(String, Metric), Vec<Vec<u64>>> = BTreeMap::new();
    let mut open: BTreeMap<(String, Metric), Vec<Vec<u64>>> = BTreeMap::new();
    let mut rows: u64 = 0;
    // (repetition, model) → the first line with a sample of it, until an event of it.
    let mut sampled: BTreeMap<(u32, String), u64> = BTreeMap::new();
    for r in samples_csv.records() {
        let (line, r) = r?;
        let row = sample_row(&r, &summary).map_err(|message| LoadError::Row {
            path: samples_csv.path.clone(),
            line,
            message,
        })?;
        if row.rep >= measured {
            return Err(beyond(&samples_csv.path, line, row.rep));
        }
        let into = if row.censored { &mut open } else { &mut per };
        let groups = into.entry((row.model.clone(), row.metric)).or_default();
        let rep = row.rep as usize;
        if groups.len() <= rep {
            groups.resize_with(rep + 1, Vec::new);
        }
        groups[rep].push(row.value);
        rows += 1;
        sampled.entry((row.rep, row.model)).or_insert(line);
    }

    let events_csv = Csv::open(dir.join("events.csv"), &EVENTS_HEADER)?;
    let mut events = Vec::new();
    let mut event_rows: u64 = 0;
    for r in events_csv.records() {
        let (line, r) = r?;
        let (rep, e) = event_row(&r, &summary).map_err(|message| LoadError::Row {
            path: events_csv.path.clone(),
            line,
            message,
        })?;
        if rep >= measured {
            return Err(beyond(&events_csv.path, line, rep));
        }
        event_rows += 1;
        // Every sample is measured between two events of its repetition and model.
        sampled.remove(&(rep, e.model.clone()));
        if rep == 0 {
            events.push(e);
        }
    }

    if let Some(((rep, model), line)) = sampled.iter().min_by_key(|(_, line)| **line) {
        return Err(LoadError::Row {
            path: samples_csv.path.clone(),
            line: *line,
            message: format!(
                "a {model} sample of repetition {rep}, but events.csv has no {model} event of repetition {rep}: every sample is measured between events, so events.csv is cut short or of another run"
            ),
        });
    }

    // summary.json's counts are the samples' counts.
    let invalid = |message: String| LoadError::Invalid {
        path: summary_path.clone(),
        message,
    };
    let count = |groups: &Vec<Vec<u64>>| groups.iter().map(|g| g.len() as u64).sum::<u64>();
    for (model, stats) in summary.models.iter() {
        for (metric, ms) in &stats.metrics {
            let have = per
                .iter()
                .find(|((m, x), _)| m == model && x.name() == metric)
                .map_or(0, |(_, groups)| count(groups));
            if have != ms.count {
                return Err(invalid(format!(
                    "models.{model}.metrics.{metric}.count is {}, but samples.csv holds {have} such sample(s): the files are not of one run",
                    ms.count
                )));
            }
            let have = open
                .iter()
                .find(|((m, x), _)| m == model && x.name() == metric)
                .map_or(0, |(_, groups)| count(groups));
            if have != ms.censored {
                return Err(invalid(format!(
                    "models.{model}.metrics.{metric}.censored is {}, but samples.csv holds {have} such censored row(s): the files are not of one run",
                    ms.censored
                )));
            }
        }
    }
    for ((model, metric), groups) in per.iter().chain(&open) {
        let (model, metric, n) = (model.as_str(), metric.name(), count(groups));
        if summary
            .model(model)
            .and_then(|m| m.metric(metric))
            .is_none()
        {
            return Err(invalid(format!(
                "samples.csv holds {n} {model} {metric} sample(s), but summary.json has no models.{model}.metrics.{metric}"
            )));
        }
    }
    let present = rows + event_rows;
    if summary.repetitions > REPETITIONS_WITHOUT_ROWS && u64::from(summary.repetitions) > present {
        return Err(invalid(format!(
            "repetitions is {}, but samples.csv and events.csv hold only {present} row(s): more than {REPETITIONS_WITHOUT_ROWS} repetitions are believed only with at least one row each",
            summary.repetitions
        )));
    }

    finish(dir, summary, per, open, events)
}

/// The run directory from its checked summary, the values per (setup, metric) and
/// repetition, and repetition 0's timeline; `run.json` and `scenario.json` read from `dir`.
fn finish(
    dir: &Path,
    summary: SummaryFile,
    per: BTreeMap<(String, Metric), Vec<Vec<u64>>>,
    open: BTreeMap<(String, Metric), Vec<Vec<u64>>>,
    events: Vec<EventRow>,
) -> Result<RunDir, LoadError> {
    // Every repetition has a group, if an empty one.
    let reps = summary.repetitions as usize;
    let grouped = |per: BTreeMap<(String, Metric), Vec<Vec<u64>>>| {
        per.into_iter()
            .map(|((model, metric), mut groups)| {
                if groups.len() < reps {
                    groups.resize_with(reps, Vec::new);
                }
                ((model, metric.name().to_string()), Groups::new(groups))
            })
            .collect()
    };
    let (samples, censored) = (grouped(per), grouped(open));
    Ok(RunDir {
        summary,
        samples,
        censored,
        events,
        run: optional_json(&dir.join("run.json"))?,
        scenario: optional_json(&dir.join("scenario.json"))?,
    })
}

/// What [`load`] would read from `dir` once `samples.csv` and `events.csv` of `runs` are
/// written there, built from the records themselves: the values are rounded to the
/// microseconds the CSVs hold, so the report is the same byte for byte. `summary.json`,
/// `run.json` and `scenario.json` are read from `dir` (written already, and small).
pub fn from_records(
    dir: &Path,
    runs: &[(String, Vec<crate::measure::RunRecord>)],
) -> Result<RunDir, LoadError> {
    use super::micros_of;
    let summary = read_summary(&dir.join("summary.json"))?;
    let mut per: BTreeMap<(String, Metric), Vec<Vec<u64>>> = BTreeMap::new();
    let mut open: BTreeMap<(String, Metric), Vec<Vec<u64>>> = BTreeMap::new();
    let mut events = Vec::new();
    // A record's values are grouped by metric locally (a short list, the last metric
    // tried first), then moved into the map once per metric: no key built per sample.
    let mut local: Vec<(Metric, Vec<u64>)> = Vec::new();
    for (name, reps) in runs {
        for (rep, r) in reps.iter().enumerate() {
            for (into, list) in [(&mut per, &r.samples), (&mut open, &r.censored)] {
                let mut last = 0;
                for smp in list {
                    if local.get(last).is_none_or(|(m, _)| *m != smp.metric) {
                        last = match local.iter().position(|(m, _)| *m == smp.metric) {
                            Some(i) => i,
                            None => {
                                local.push((smp.metric, Vec::new()));
                                local.len() - 1
                            }
                        };
                    }
                    local[last].1.push(micros_of(smp.value()));
                }
                for (metric, values) in local.drain(..) {
                    let groups = into.entry((name.clone(), metric)).or_default();
                    if groups.len() <= rep {
                        groups.resize_with(rep + 1, Vec::new);
                    }
                    if groups[rep].is_empty() {
                        groups[rep] = values;
                    } else {
                        groups[rep].extend(values);
                    }
                }
            }
            if rep == 0 {
                events.extend(r.events.iter().map(|e| EventRow {
                    model: name.clone(),
                    // The f64 nearest micros / 10^6, as parsing the six-decimal text gives.
                    t_s: micros_of(e.t) as f64 / 1e6,
                    cluster: e.cluster,
                    app: e.app,
                    event: e.kind.name().to_string(),
                    detail: e.detail.clone(),
                }));
            }
        }
    }
    finish(dir, summary, per, open, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(faults: Option<serde_json::Value>, partial: bool, unsupported: &[&str]) -> RunDir {
        let summary: SummaryFile = serde_json::from_value(serde_json::json!({
            "schema": 2, "scenario": "s", "mode": "emulated", "seed": 1, "repetitions": 1,
            "duration_s": 60.0, "partial": partial, "unsupported_faults": unsupported,
            "baseline": "push", "models": {}, "engine": {"events": 0, "wall_s": null}}))
        .unwrap();
        RunDir {
            summary,
            samples: BTreeMap::new(),
            censored: BTreeMap::new(),
            events: Vec::new(),
            run: None,
            scenario: faults.map(|f| serde_json::json!({ "faults": f })),
        }
    }

    #[test]
    fn a_run_without_hand_edits_says_why_never_that_none_were_planned_when_some_were() {
        let drift = serde_json::json!([{"kind": "drift", "change": "scale", "at": "3h"}]);
        let other = serde_json::json!([{"kind": "bad_release", "at": "1h"}]);
        assert_eq!(
            run_with(Some(drift.clone()), true, &[]).no_drift_reason(),
            "the run was stopped before the scenario's first hand edit"
        );
        assert_eq!(
            run_with(Some(drift.clone()), false, &["drift"]).no_drift_reason(),
            "this mode cannot inject the scenario's drift"
        );
        assert_eq!(
            run_with(Some(drift), false, &[]).no_drift_reason(),
            "none of the scenario's hand edits fell inside the run"
        );
        assert_eq!(
            run_with(Some(other.clone()), true, &[]).no_drift_reason(),
            "the scenario injects no drift"
        );
        assert_eq!(
            run_with(None, true, &[]).no_drift_reason(),
            "no hand edit was measured in this run"
        );
        let bad = serde_json::json!([{"kind": "bad_release", "at": "3h", "rollback_after": "5m"}]);
        assert_eq!(
            run_with(Some(bad.clone()), true, &[]).no_bad_release_reason(),
            "the run was stopped before the scenario's first bad release was rolled back"
        );
        assert_eq!(
            run_with(Some(bad), false, &["bad_release"]).no_bad_release_reason(),
            "this mode cannot inject the scenario's bad releases"
        );
        assert_eq!(
            run_with(Some(other), false, &[]).no_bad_release_reason(),
            "none of the scenario's bad releases was rolled back inside the run"
        );
        assert_eq!(
            run_with(Some(serde_json::json!([{"kind": "drift"}])), false, &[])
                .no_bad_release_reason(),
            "the scenario injects no bad release"
        );
    }

    #[test]
    fn micros_parse_exactly() {
        assert_eq!(parse_micros("12.345678"), Some(12_345_678));
        assert_eq!(parse_micros("0.000001"), Some(1));
        assert_eq!(parse_micros("7"), Some(7_000_000));
        assert_eq!(parse_micros("1.5"), Some(1_500_000));
        assert_eq!(parse_micros("-1.0"), None);
        assert_eq!(parse_micros("+1.0"), None);
        assert_eq!(parse_micros(".5"), None);
        assert_eq!(parse_micros("NaN"), None);
        assert_eq!(parse_micros("1.1234567"), None);
    }

    #[test]
    fn event_revision_comes_from_the_detail() {
        let e = EventRow {
            model: "push".into(),
            t_s: 1.0,
            cluster: None,
            app: None,
            event: "commit".into(),
            detail: "rev=12 apps=3".into(),
        };
        assert_eq!(e.rev(), Some(12));
    }
}
