//! Scenario files: parse, validate, expand presets. The engine reads only the validated
//! [`Scenario`]; every refusal names the file, line, column and key path, and says what
//! was expected, so a user can fix the file without reading our source.

pub mod bounds;
pub mod calendar;
pub mod dist;
pub mod duration;
pub mod environments;
pub mod estimate;
pub mod fault;
pub mod fleet;
mod locate;
pub mod models;
mod nesting;
pub mod prices;
pub mod schema;
pub mod selection;
mod strict;
mod words;

use crate::measure::summary::FigureKind;
use crate::metric::{ModelKind, Quantile};
pub use calendar::WorkingHours;
pub use dist::Dist;
pub use duration::{Dur, HOUR, MINUTE, Nanos, SECOND};
pub use environments::{Environment, Environments, Gate, Promotion as EnvPromotion};
pub use estimate::Estimate;
pub use fault::{Cut, DriftChange, Fault, When};
pub use fleet::{AppGroup, Fleet, NamedCluster};
pub use models::{
    Ci, Concurrency, DriftDetection, PullConfig, PushConfig, Rollback, RollbackMethod, Setup,
    SetupConfig, WriteBack, WriteBackMethod,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_invalid(.file, *.line, *.column, .key_path, .message))]
    Invalid {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        key_path: String,
        message: String,
    },
}

fn render_invalid(
    file: &str,
    line: Option<usize>,
    column: Option<usize>,
    key_path: &str,
    message: &str,
) -> String {
    let place = match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file.to_string(),
    };
    let key = if key_path.is_empty() {
        "top level"
    } else {
        key_path
    };
    format!("{place}: {key}: {message}")
}

/// A percentage (`25%`) or an absolute count (`1`), as Kubernetes' IntOrString.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Count(u32),
    Percent(u32),
}

impl IntOrPercent {
    /// Resolves against `replicas`, rounding up (maxSurge) or down (maxUnavailable) as
    /// the Deployment controller does.
    pub fn resolve(self, replicas: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Count(n) => n,
            IntOrPercent::Percent(p) => {
                let x = replicas as u64 * p as u64;
                let n = if round_up { x.div_ceil(100) } else { x / 100 };
                u32::try_from(n).unwrap_or(u32::MAX)
            }
        }
    }

    /// Written as zero (`0` or `0%`): what the API server checks, before rounding.
    pub fn is_zero(self) -> bool {
        matches!(self, IntOrPercent::Count(0) | IntOrPercent::Percent(0))
    }
}

impl Serialize for IntOrPercent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrPercent::Count(n) => s.serialize_u32(*n),
            IntOrPercent::Percent(p) => s.collect_str(&format_args!("{p}%")),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrPercent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = IntOrPercent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole percentage like `25%` or a whole number of pods")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrPercent, E> {
                u32::try_from(v)
                    .map(IntOrPercent::Count)
                    .map_err(|_| E::custom(format!("`{v}` pods is too many")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrPercent, E> {
                if v < 0 {
                    return Err(E::custom(format!(
                        "`{v}` is negative; expected a whole percentage like `25%` or a whole number of pods"
                    )));
                }
                self.visit_u64(v as u64)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrPercent, E> {
                let bad = || {
                    E::custom(format!(
                        "`{v}` is not a percentage; expected a whole percentage, like `25%`"
                    ))
                };
                let num = v.trim().strip_suffix('%').ok_or_else(bad)?;
                let p: i64 = num.trim().parse().map_err(|_| bad())?;
                // maxSurge may exceed 100%; maxUnavailable's bound is checked with the
                // fleet (`fleet::check_shape`).
                if !(0..=i64::from(i32::MAX)).contains(&p) {
                    return Err(E::custom(format!(
                        "`{v}` is outside 0%..{}%; Kubernetes' IntOrString is an int32",
                        i32::MAX
                    )));
                }
                Ok(IntOrPercent::Percent(p as u32))
            }
        }
        d.deserialize_any(V)
    }
}

/// How an app's Deployment rolls out a new version (Kubernetes' RollingUpdate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Pod created → Ready: image pull, start-up and readiness probe.
    #[serde(default = "default_pod_start")]
    pub pod_start: Dist,
    /// How many pods above the desired count a rollout may create (`maxSurge`; a
    /// percentage may exceed 100%).
    #[serde(default = "default_quarter")]
    #[schemars(schema_with = "schema::surge_schema")]
    pub max_surge: IntOrPercent,
    /// How many pods below the desired count a rollout may go (`maxUnavailable`).
    #[serde(default = "default_quarter")]
    pub max_unavailable: IntOrPercent,
    /// A rollout without progress for this long is failed (`progressDeadlineSeconds`).
    #[serde(default = "default_deadline")]
    pub progress_deadline: Dur,
}

fn default_pod_start() -> Dist {
    Dist::LogNormal {
        median: 5 * SECOND,
        p99: 30 * SECOND,
    }
}
fn default_quarter() -> IntOrPercent {
    IntOrPercent::Percent(25)
}
fn default_deadline() -> Dur {
    Dur(600 * SECOND)
}

impl Rollout {
    /// maxSurge and maxUnavailable resolved against `replicas` together, as Kubernetes'
    /// `ResolveFenceposts`: when both round to zero, maxUnavailable is 1.
    pub fn fenceposts(&self, replicas: u32) -> (u32, u32) {
        let surge = self.max_surge.resolve(replicas, true);
        let unavailable = self.max_unavailable.resolve(replicas, false);
        if surge == 0 && unavailable == 0 {
            (0, 1)
        } else {
            (surge, unavailable)
        }
    }
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            pod_start: default_pod_start(),
            max_surge: default_quarter(),
            max_unavailable: default_quarter(),
            progress_deadline: default_deadline(),
        }
    }
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

/// How commits arrive.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "arrival", rename_all = "lowercase")]
pub enum Arrival {
    /// `mean_interval` counts working time when `working_hours` is given.
    Poisson {
        mean_interval: Dur,
        #[serde(skip_serializing_if = "Option::is_none")]
        working_hours: Option<WorkingHours>,
    },
    /// `interval` counts working time when `working_hours` is given.
    Fixed {
        interval: Dur,
        #[serde(skip_serializing_if = "Option::is_none")]
        working_hours: Option<WorkingHours>,
    },
    /// The commit times of an existing repository's branch, replayed with their spacing.
    /// `offsets` (nanoseconds from its first commit) are read by [`Scenario::resolve_replay`]
    /// before a run, since reading git is I/O and this module has none.
    Replay {
        repo: String,
        branch: String,
        #[serde(skip)]
        offsets: Option<Vec<Nanos>>,
    },
}

/// How commits arrive: `{arrival: poisson, mean_interval: 10m}`, `{arrival: fixed,
/// interval: 10m}` (either optionally with `working_hours`) or `{arrival: replay, repo:
/// ../app, branch: main}`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawArrival {
    #[serde(deserialize_with = "strict::text")]
    #[schemars(with = "schema::ArrivalKind")]
    arrival: String,
    /// poisson: the mean time between commits (working time with `working_hours`).
    mean_interval: Option<Dur>,
    /// fixed: the time between commits (working time with `working_hours`).
    interval: Option<Dur>,
    /// replay: a git repository, relative to the scenario file's folder.
    #[serde(default, deserialize_with = "strict::opt_text")]
    repo: Option<String>,
    /// replay: the branch whose commit times are replayed (default main).
    #[serde(default, deserialize_with = "strict::opt_text")]
    branch: Option<String>,
    /// poisson and fixed: commits arrive only in these days and hours.
    working_hours: Option<WorkingHours>,
}

/// The schema of what [`RawArrival`] reads.
impl schemars::JsonSchema for Arrival {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Arrival".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawArrival::json_schema(g)
    }
}

impl<'de> Deserialize<'de> for Arrival {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = RawArrival::deserialize(d)?;
        let working_hours = r.working_hours;
        match (r.arrival.as_str(), r.mean_interval, r.interval) {
            ("replay", ..) if working_hours.is_some() => Err(D::Error::custom(
                "replay arrival keeps the recorded commit times, so it takes no `working_hours`",
            )),
            ("poisson", Some(m), None) if m.0 > 0 => Ok(Arrival::Poisson {
                mean_interval: m,
                working_hours,
            }),
            ("fixed", None, Some(i)) if i.0 > 0 => Ok(Arrival::Fixed {
                interval: i,
                working_hours,
            }),
            ("poisson", Some(_), None) | ("fixed", None, Some(_)) => {
                Err(D::Error::custom("the commit interval must be above zero"))
            }
            ("poisson", _, _) => Err(D::Error::custom(
                "poisson arrival takes `mean_interval` (e.g. `10m`) and optionally `working_hours`",
            )),
            ("fixed", _, _) => Err(D::Error::custom(
                "fixed arrival takes `interval` (e.g. `10m`) and optionally `working_hours`",
            )),
            ("replay", None, None) => match r.repo {
                Some(repo) if !repo.is_empty() => Ok(Arrival::Replay {
                    repo,
                    branch: r.branch.unwrap_or_else(|| "main".into()),
                    offsets: None,
                }),
                _ => Err(D::Error::custom(
                    "replay arrival needs `repo` (a path to a git repository) and optionally `branch` (default main)",
                )),
            },
            ("replay", ..) => Err(D::Error::custom(
                "replay arrival takes `repo` and `branch`, not an interval",
            )),
            (other, ..) => Err(D::Error::custom(format!(
                "unknown arrival `{other}`; expected poisson, fixed or replay"
            ))),
        }
    }
}

/// The commits the setups deliver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// How source commits arrive.
    #[serde(default = "default_commits")]
    pub commits: Arrival,
    /// How many apps (chosen at random) each commit changes.
    #[serde(default = "one", deserialize_with = "strict::count")]
    pub apps_per_commit: NonZeroU32,
}

fn default_commits() -> Arrival {
    Arrival::Poisson {
        mean_interval: Dur(10 * MINUTE),
        working_hours: None,
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            commits: default_commits(),
            apps_per_commit: one(),
        }
    }
}

/// The delivery setups a scenario compares, in the order they are reported: 2 to
/// [`bounds::MAX_SETUPS`], each named. Written as a map (`models: {gha: {kind: push,
/// preset: github-actions}, flux: {kind: pull, preset: flux}}`); the keys `push` and
/// `pull` name their own kind, and a map of only those keys (the form before named setups)
/// always holds both, `push` first, the missing one at its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Models {
    pub setups: Vec<Setup>,
}

impl Models {
    /// The setup named `name`.
    pub fn get(&self, name: &str) -> Option<&Setup> {
        self.setups.iter().find(|s| s.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.setups.iter().map(|s| s.name.as_str())
    }

    /// The first push setup's settings (for tests and tools that tune one).
    pub fn push_mut(&mut self) -> Option<&mut PushConfig> {
        self.setups.iter_mut().find_map(|s| match &mut s.config {
            SetupConfig::Push(c) => Some(c),
            SetupConfig::Pull(_) => None,
        })
    }

    /// The first pull setup's settings (for tests and tools that tune one).
    pub fn pull_mut(&mut self) -> Option<&mut PullConfig> {
        self.setups.iter_mut().find_map(|s| match &mut s.config {
            SetupConfig::Pull(c) => Some(c),
            SetupConfig::Push(_) => None,
        })
    }
}

impl Serialize for Models {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.setups.len()))?;
        for setup in &self.setups {
            m.serialize_entry(&setup.name, setup)?;
        }
        m.end()
    }
}

/// A bound on one figure: the run fails (exit 1) when it is exceeded. The figure is a
/// duration metric at a quantile (`max: 5m`), a counter (`max: 3`) or a share
/// (`max: 5%` or `max: 0.05`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The setup whose figure is bounded.
    #[serde(deserialize_with = "strict::text")]
    pub model: String,
    /// The measured quantity: a metric (the README's metric table), a counter where more
    /// is worse (`drift_unrecovered`, `deploys_incomplete`, `apply_errors`,
    /// `clusters_unrestored`, `failed_deploys`) or a share (`drift_unrecovered_share`,
    /// `deploys_incomplete_share`, `out_of_sync_share`, `unexplained_change_share`).
    pub metric: FigureName,
    /// The summary statistic of a metric that is bounded (not given for a counter or a
    /// share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<Quantile>,
    /// The largest value that passes: a duration for a metric, a whole number for a
    /// counter, a share like `5%` or `0.05` for a share.
    pub max: Bound,
    /// How much worse than a baseline this figure may get before `pushpull check` calls it
    /// a regression (overrides `--tolerance` for this figure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Percent>,
    /// Bound only this cluster's samples of the metric: a name of `fleet.clusters` or a
    /// number (0, 1, …). Default: the whole fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<fault::Ref>,
    /// Bound only this app's samples: an app's name, an app group's name (`prefix` of
    /// `fleet.apps`, all its apps) or a number. Default: every app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<fault::Ref>,
    /// Bound only the samples of this environment's clusters (a name of `environments`,
    /// or of `fleet.clusters[].environment`). Default: every environment.
    #[serde(
        default,
        deserialize_with = "strict::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<schema::Label>")]
    pub environment: Option<String>,
    /// The samples `cluster`, `app` and `environment` select, resolved against the fleet
    /// by `Scenario::parse` (`None`: the whole fleet).
    #[serde(skip)]
    #[schemars(skip)]
    pub selection: Option<selection::Selection>,
}

/// The name of a figure a threshold bounds: a metric, a counter or a share
/// ([`FigureKind::names`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FigureName(pub String);

impl FigureName {
    pub fn kind(&self) -> FigureKind {
        // Only names `of` knows are ever built (see `Deserialize`).
        FigureKind::of(&self.0).unwrap_or(FigureKind::Count)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for FigureName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = strict::Text::deserialize(d)?.0;
        match FigureKind::of(&s) {
            Some(_) => Ok(FigureName(s)),
            None => Err(serde::de::Error::custom(format!(
                "`{s}` is not a metric, counter or share; expected one of {}",
                FigureKind::names().join(", ")
            ))),
        }
    }
}

/// A threshold's `max` as written: a duration (`5m`), a number (`3`, `0.05`) or a
/// percentage (`5%`); which one fits is checked against the figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    Duration(Dur),
    Number(f64),
    Percent(Percent),
}

impl Bound {
    /// The bound in the figure's unit (seconds, a count, a share), or why it does not
    /// fit `kind`.
    pub fn value_for(&self, kind: FigureKind) -> Result<f64, String> {
        match (kind, *self) {
            (FigureKind::Duration(_), Bound::Duration(d)) => Ok(duration::secs(d.0)),
            (FigureKind::Duration(m), _) => Err(format!(
                "{m} is a duration: expected a duration like `5m` or `90s`"
            )),
            (FigureKind::Count, Bound::Number(n)) if n >= 0.0 && n.fract() == 0.0 => Ok(n),
            (FigureKind::Count, _) => {
                Err("this counter is a whole number of events: expected a number like 3".into())
            }
            (FigureKind::Share, Bound::Number(n)) if (0.0..=1.0).contains(&n) => Ok(n),
            (FigureKind::Share, Bound::Percent(p)) if p.0 <= 1.0 => Ok(p.0),
            (FigureKind::Share, _) => {
                Err("this is a share from 0 to 1: expected a number like 0.05 or 5%".into())
            }
        }
    }
}

impl Serialize for Bound {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Bound::Duration(d) => d.serialize(s),
            Bound::Number(n) => s.serialize_f64(*n),
            Bound::Percent(p) => p.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Bound;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration like `5m`, a count like 3, or a share like 0.05 or 5%")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bound, E> {
                if v.trim().ends_with('%') {
                    Percent::parse(v).map(Bound::Percent).map_err(E::custom)
                } else {
                    Dur::parse(v).map(Bound::Duration).map_err(|e| {
                        E::custom(format!(
                            "{e} (or, for a counter or a share, a number like 3, 0.05 or 5%)"
                        ))
                    })
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Bound, E> {
                Ok(Bound::Number(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Bound, E> {
                if v < 0 {
                    return Err(E::custom(format!("{v} is negative: a bound is 0 or more")));
                }
                Ok(Bound::Number(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Bound, E> {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(E::custom(format!("{v} is not a number of 0 or more")));
                }
                Ok(Bound::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A percentage written `10%` (or `2.5%`), held as a fraction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(pub f64);

impl Percent {
    pub fn parse(text: &str) -> Result<Percent, String> {
        let num = text.trim().strip_suffix('%').ok_or_else(|| {
            format!("`{text}` is not a percentage; expected something like `10%`")
        })?;
        match num.trim().parse::<f64>() {
            Ok(p) if p.is_finite() && p >= 0.0 => Ok(Percent(p / 100.0)),
            _ => Err(format!(
                "`{text}` is not a percentage; expected a number of 0 or more followed by `%`, like `10%`"
            )),
        }
    }
}

impl Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}%", self.0 * 100.0))
    }
}

/// `5%` or the fraction `0.05`: a share is accepted either way, as everywhere a
/// scenario takes one.
impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number like 0.05 or 5%")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Percent, E> {
                if !v.trim().ends_with('%') {
                    return Err(E::custom(format!(
                        "`{v}` is text; expected a number like 0.05 or 5%"
                    )));
                }
                Percent::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Percent, E> {
                Ok(Percent(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Percent, E> {
                if v < 0 {
                    return Err(E::custom(format!(
                        "`{v}` is negative; expected a number of 0 or more like 0.05 or 5%"
                    )));
                }
                Ok(Percent(v as f64))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Percent, E> {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(E::custom(format!(
                        "`{v}` is not a number of 0 or more; expected a number like 0.05 or 5%"
                    )));
                }
                Ok(Percent(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Percent, E> {
                Err(E::custom(format!(
                    "`{v}` is a true/false value; expected a number like 0.05 or 5%"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A validated scenario with presets expanded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: Dur,
    pub repetitions: u32,
    pub time_scale: f64,
    pub fleet: Fleet,
    pub workload: Workload,
    pub models: Models,
    /// The CI stage every setup shares before delivery (`None`: `ci: none`, the
    /// source commit is the config commit and no CI stage is measured).
    #[serde(serialize_with = "ser_ci")]
    pub ci: Option<Ci>,
    /// The setup the others are compared with (by default the first).
    pub baseline: String,
    pub faults: Vec<Fault>,
    pub thresholds: Vec<Threshold>,
    /// The environments a change is promoted through, in order (`None`: every cluster
    /// is one stage, as without the key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environments: Option<Environments>,
    /// What CI minutes, runner hours, reconciler resources and git egress cost (the
    /// monthly cost in the summary; defaults in docs/PRESETS.md).
    pub prices: prices::Prices,
}

fn ser_ci<S: serde::Serializer>(v: &Option<Ci>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_str("none"),
        Some(c) => c.serialize(s),
    }
}

/// A pushpull scenario: the fleet, the commits, the delivery setups it compares, the
/// faults it injects and the thresholds it checks (README, "Scenario files").
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Scenario", title = "pushpull scenario")]
struct RawScenario {
    #[serde(default)]
    #[schemars(with = "Option<schema::SchemaVersion>")]
    schema: Option<strict::Whole>,
    #[serde(deserialize_with = "strict::text")]
    #[schemars(with = "schema::ScenarioName")]
    name: String,
    /// What the scenario asks, in a sentence or two (shown in reports).
    #[serde(default, deserialize_with = "strict::text")]
    description: String,
    /// The seed of every random draw: the same scenario and seed give the same results.
    #[serde(default = "default_seed")]
    seed: strict::Whole,
    /// The simulated time each repetition covers (e.g. `6h`).
    duration: Dur,
    /// How many times the run is repeated with derived seeds (confidence intervals).
    #[serde(default = "one", deserialize_with = "strict::count")]
    repetitions: NonZeroU32,
    /// Live modes only: real seconds per simulated second, from 0.001 to 1.
    #[serde(default = "unit_scale")]
    time_scale: strict::Real,
    // `Option` in a schema type here and below: YAML's empty value (`fleet:`), which
    // serde_yaml_ng reads as an empty map or list, so the defaults.
    /// The clusters and apps.
    #[serde(default)]
    #[schemars(with = "Option<fleet::RawFleet>")]
    fleet: fleet::RawFleet,
    /// The commits.
    #[serde(default)]
    #[schemars(with = "Option<Workload>")]
    workload: Workload,
    // Parsed after the rest (see [`parse_models`]): a setup's kind decides which keys
    // it may hold.
    /// The delivery setups the scenario compares, by name (2 to 8): `gha: {kind: push,
    /// preset: github-actions}`, `argocd: {kind: pull, preset: argocd}`. The keys `push`
    /// and `pull` name their own kind; a map of only those keys always holds both.
    #[serde(default)]
    #[schemars(schema_with = "schema::models")]
    models: Option<serde_yaml_ng::Mapping>,
    /// `none` (no CI stage: a delivery-only comparison), or the CI stage every setup
    /// shares (by default the first push setup's pipeline).
    #[serde(default)]
    ci: Option<models::NoneOr<models::RawCi>>,
    /// The setup the others are compared with (by default the first).
    #[serde(default, deserialize_with = "strict::opt_text")]
    baseline: Option<String>,
    /// Failures injected into every setup alike.
    #[serde(default)]
    #[schemars(with = "Option<Vec<fault::Addressed>>")]
    faults: Vec<fault::Addressed>,
    /// The environments a change passes through, in order, each with an optional gate.
    #[serde(default)]
    environments: Option<Vec<environments::RawEnvironment>>,
    /// Bounds on figures; a run that exceeds one exits 1.
    #[serde(default)]
    #[schemars(with = "Option<Vec<Threshold>>")]
    thresholds: Vec<Threshold>,
    /// Prices for the monthly cost (every key optional; cited defaults).
    #[serde(default)]
    #[schemars(with = "Option<prices::RawPrices>")]
    prices: prices::RawPrices,
}

fn default_seed() -> strict::Whole {
    strict::Whole(1)
}
fn unit_scale() -> strict::Real {
    strict::Real(1.0)
}

impl Scenario {
    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        check_nesting(text, file)?;
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawScenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let mut key_path = clean_path(&e.path().to_string());
            let inner = e.into_inner();
            let located = if key_path.is_empty() {
                None
            } else {
                locate::locate(text, &key_path)
            };
            let (line, column) = match (inner.location(), located) {
                // A value refused after it was read (`repetitions: 0`) is placed by the
                // parser where its mapping starts, before the key: name the key's line.
                (Some(l), Some((kl, kc))) if l.line() < kl => (Some(kl), Some(kc)),
                (Some(l), _) => (Some(l.line()), Some(l.column())),
                (None, Some((l, c))) => (Some(l), Some(c)),
                (None, None) => (None, None),
            };
            let mut message = strip_location(&inner.to_string(), &key_path);
            let (mut line, mut column) = (line, column);
            // serde names a key given twice but not where: the second one's line.
            if let Some(field) = message
                .strip_prefix("duplicate field `")
                .and_then(|r| r.strip_suffix('`'))
                .map(str::to_string)
                && let Some((l, c, first)) = words::duplicate_at(text, &key_path, &field)
            {
                message = format!("`{field}` is given twice (first on line {first}); keep one");
                (line, column) = (Some(l), Some(c));
                key_path = if key_path.is_empty() {
                    field.to_string()
                } else {
                    format!("{key_path}.{field}")
                };
            }
            ScenarioError::Invalid {
                file: file.to_string(),
                line,
                column,
                key_path,
                message,
            }
        })?;
        let invalid = |key_path: &str, message: String| invalid_at(text, file, key_path, message);
        if let Some(s) = raw.schema
            && s.0 != 1
        {
            return Err(invalid(
                "schema",
                format!("schema {} is not known; this pushpull reads schema 1", s.0),
            ));
        }
        if !bounds::is_dns_label(&raw.name) {
            let shown: String = raw.name.chars().take(70).collect();
            let more = if raw.name.chars().count() > 70 {
                format!("… ({} characters)", raw.name.chars().count())
            } else {
                String::new()
            };
            return Err(invalid(
                "name",
                format!(
                    "`{shown}{more}` is not a valid name; expected a DNS-1123 label: 1 to {} lowercase letters, digits and `-`, starting and ending with a letter or digit (it names the folder reports/<name>/ and the live namespaces)",
                    bounds::MAX_NAME
                ),
            ));
        }
        if raw.duration.0 == 0 {
            return Err(invalid(
                "duration",
                "the horizon must be above zero, e.g. `6h`".into(),
            ));
        }
        let time_scale = raw.time_scale.0;
        bounds::check_time_scale(time_scale).map_err(|e| invalid("time_scale", e))?;
        let repetitions = raw.repetitions.get();
        if repetitions > bounds::MAX_REPETITIONS {
            return Err(invalid(
                "repetitions",
                format!(
                    "{repetitions} repetitions is more than {}; confidence intervals stop narrowing long before, and every repetition's plan is kept in memory",
                    bounds::MAX_REPETITIONS
                ),
            ));
        }
        let fleet = raw.fleet.resolve().map_err(|(k, m)| invalid(&k, m))?;
        let prices = raw.prices.resolve().map_err(|(k, m)| invalid(&k, m))?;
        let environments = match raw.environments {
            None => None,
            Some(list) => {
                Some(environments::resolve(list, &fleet).map_err(|(k, m)| invalid(&k, m))?)
            }
        };
        if raw.workload.apps_per_commit > fleet.apps {
            return Err(invalid(
                "workload.apps_per_commit",
                format!(
                    "{} apps per commit but the fleet has only {} apps",
                    raw.workload.apps_per_commit, fleet.apps
                ),
            ));
        }
        match &raw.workload.commits {
            Arrival::Poisson {
                mean_interval: d, ..
            } => min_interval(*d).map_err(|m| invalid("workload.commits.mean_interval", m))?,
            Arrival::Fixed { interval: d, .. } => {
                min_interval(*d).map_err(|m| invalid("workload.commits.interval", m))?
            }
            Arrival::Replay { .. } => {}
        }
        let ci_block = raw.ci;
        let written_ci = matches!(ci_block, Some(models::NoneOr(Some(_))));
        let (mut models, ci_writers) = parse_models(text, file, raw.models)?;
        if written_ci && let Some(name) = ci_writers.first() {
            return Err(invalid(
                &format!("models.{name}"),
                format!(
                    "setup `{name}` writes `queue_wait` or `build` and the scenario has a `ci:` block; the CI stage is shared by every setup, so write these once, under `ci:`"
                ),
            ));
        }
        let ci = resolve_ci(&mut models, ci_block);
        if let Some(c) = &ci {
            check_workers(&[("ci.runners".into(), c.runners)]).map_err(|(k, m)| invalid(&k, m))?;
        }
        let baseline = match raw.baseline {
            None => models.setups[0].name.clone(),
            Some(b) if models.get(&b).is_some() => b,
            Some(b) => {
                return Err(invalid(
                    "baseline",
                    format!(
                        "there is no setup named `{b}`; the setups are {}",
                        models.names().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        };
        for (key, n) in [
            ("faults", raw.faults.len()),
            ("thresholds", raw.thresholds.len()),
        ] {
            if n > bounds::MAX_ENTRIES {
                return Err(invalid(
                    key,
                    format!("{n} entries is more than {}", bounds::MAX_ENTRIES),
                ));
            }
        }
        let mut faults = Vec::with_capacity(raw.faults.len());
        for (i, a) in raw.faults.into_iter().enumerate() {
            let mut f = a.fault;
            if let Some(at) = fault::at_of(&f)
                && at > raw.duration.0
            {
                return Err(invalid(
                    &format!("faults[{i}].at"),
                    format!("{} is after the end of the run ({})", Dur(at), raw.duration),
                ));
            }
            if let Some(name) = a.cluster {
                match fleet.cluster_index(&name) {
                    Some(c) => f.set_cluster(c),
                    None => {
                        return Err(invalid(
                            &format!("faults[{i}].cluster"),
                            fleet.unknown_cluster(&name),
                        ));
                    }
                }
            }
            if let Some(name) = a.app {
                match fleet.app_index(&name) {
                    Some(x) => f.set_app(x),
                    None => {
                        return Err(invalid(
                            &format!("faults[{i}].app"),
                            if fleet.groups.is_empty() {
                                format!(
                                    "there is no app named `{name}`: this fleet's apps are numbered 0..{}; name them with `fleet.apps: [{{name: ...}}]` or give a number",
                                    fleet.apps
                                )
                            } else {
                                format!(
                                    "there is no app named `{name}`; the apps are {}",
                                    fleet.app_names()
                                )
                            },
                        ));
                    }
                }
            }
            let (cluster, app) = (f.cluster(), f.app());
            if let Some(c) = cluster
                && c >= fleet.clusters.get()
            {
                return Err(invalid(
                    &format!("faults[{i}].cluster"),
                    format!(
                        "cluster {c} does not exist; clusters are numbered 0..{}",
                        fleet.clusters
                    ),
                ));
            }
            if let Some(a) = app
                && a >= fleet.apps.get()
            {
                return Err(invalid(
                    &format!("faults[{i}].app"),
                    format!(
                        "app {a} does not exist; apps are numbered 0..{}",
                        fleet.apps
                    ),
                ));
            }
            faults.push(f);
        }
        let mut selected = Vec::with_capacity(raw.thresholds.len());
        for (i, t) in raw.thresholds.iter().enumerate() {
            let kind = t.metric.kind();
            if let Err(why) = t.max.value_for(kind) {
                return Err(invalid(&format!("thresholds[{i}].max"), why));
            }
            match (kind, t.quantile) {
                (FigureKind::Duration(m), None) => {
                    return Err(invalid(
                        &format!("thresholds[{i}].quantile"),
                        format!(
                            "a threshold on {m} needs the quantile it bounds: one of p50, p90, p95, p99, max, mean"
                        ),
                    ));
                }
                (FigureKind::Count | FigureKind::Share, Some(q)) => {
                    return Err(invalid(
                        &format!("thresholds[{i}].quantile"),
                        format!(
                            "`{}` is a single figure per setup, not a distribution: remove `quantile: {}`",
                            t.metric.as_str(),
                            q.name()
                        ),
                    ));
                }
                _ => {}
            }
            if models.get(&t.model).is_none() {
                return Err(invalid(
                    &format!("thresholds[{i}].model"),
                    format!(
                        "there is no setup named `{}`; the setups are {}",
                        t.model,
                        models.names().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            let selection = selection::resolve(t, i, &fleet, environments.as_ref())
                .map_err(|(k, m)| invalid(&k, m))?;
            selected.push(selection);
            if let Some(p) = t.tolerance
                && p.0 > bounds::MAX_TOLERANCE
            {
                return Err(invalid(
                    &format!("thresholds[{i}].tolerance"),
                    format!(
                        "{}% is more than {}%, a figure a hundred times its baseline; no regression gate means anything beyond that",
                        p.0 * 100.0,
                        bounds::MAX_TOLERANCE * 100.0
                    ),
                ));
            }
        }
        models::check_hub_scenario(&models, &faults, environments.is_some())
            .map_err(|(k, m)| invalid(&k, m))?;
        Ok(Scenario {
            name: raw.name,
            description: raw.description,
            seed: raw.seed.0,
            duration: raw.duration,
            repetitions,
            time_scale,
            fleet,
            workload: raw.workload,
            models,
            ci,
            baseline,
            faults,
            thresholds: raw
                .thresholds
                .into_iter()
                .zip(selected)
                .map(|(t, selection)| Threshold { selection, ..t })
                .collect(),
            environments,
            prices,
        })
    }

    /// Reads the commit times of a `replay` arrival with `read(repo, branch)`; `base` is
    /// the scenario file's folder, against which a relative `repo` is resolved. Does
    /// nothing for other arrivals.
    pub fn resolve_replay<E: std::fmt::Display>(
        &mut self,
        base: &Path,
        read: impl Fn(&Path, &str) -> Result<Vec<Nanos>, E>,
    ) -> Result<(), String> {
        if let Arrival::Replay {
            repo,
            branch,
            offsets,
        } = &mut self.workload.commits
        {
            let path = base.join(&*repo);
            let v = read(&path, branch)
                .map_err(|e| format!("workload.commits: cannot replay {}: {e}", path.display()))?;
            if v.is_empty() {
                return Err(format!(
                    "workload.commits: branch `{branch}` of {} has no commits",
                    path.display()
                ));
            }
            *offsets = Some(v);
        }
        Ok(())
    }

    pub fn clusters(&self) -> u32 {
        self.fleet.clusters.get()
    }
    pub fn apps(&self) -> u32 {
        self.fleet.apps.get()
    }

    /// The build-duration distribution of app `app` when its app group overrides the
    /// setups' `build` (`None`: each setup's own). For the shared CI build stage.
    pub fn build_for(&self, app: u32) -> Option<&Dist> {
        self.fleet.build_of(app)
    }
}

/// Refuses YAML nested deeper than [`bounds::MAX_DEPTH`] before the parser sees it (its
/// cost grows faster than the file with depth); the error names the line and column
/// where the limit is crossed.
pub fn check_nesting(text: &str, file: &str) -> Result<(), ScenarioError> {
    match nesting::too_deep(text, bounds::MAX_DEPTH) {
        None => Ok(()),
        Some((line, column)) => Err(ScenarioError::Invalid {
            file: file.to_string(),
            line: Some(line),
            column: Some(column),
            key_path: String::new(),
            message: format!(
                "nested deeper than {} levels here; a scenario needs about 6 (check for unclosed `[` or `{{`)",
                bounds::MAX_DEPTH
            ),
        }),
    }
}

/// The position of `key_path`, or of its closest enclosing key that the text has (a
/// value that came from a preset has no line of its own).
/// An error at `key_path`, with the line and column of the nearest key of it in `text`.
fn invalid_at(text: &str, file: &str, key_path: &str, message: String) -> ScenarioError {
    let (line, column) = locate_nearest(text, key_path).unzip();
    ScenarioError::Invalid {
        file: file.to_string(),
        line,
        column,
        key_path: key_path.to_string(),
        message,
    }
}

fn locate_nearest(text: &str, key_path: &str) -> Option<(usize, usize)> {
    let mut path = key_path;
    loop {
        if let Some(p) = locate::locate(text, path) {
            return Some(p);
        }
        path = &path[..path.rfind(['.', '['])?];
    }
}

/// Each value at least [`bounds::MIN_INTERVAL`].
fn min_interval(d: Dur) -> Result<(), String> {
    if d.0 < bounds::MIN_INTERVAL {
        Err(format!(
            "`{d}` is too short; an interval must be at least 1ms (a timer that re-arms faster than any API call answers is a livelock, not a scenario)"
        ))
    } else {
        Ok(())
    }
}

/// Reads `models:`: each setup's kind (its `kind` key, or the key itself for `push` and
/// `pull`), then its settings as that kind's keys, each error at its key path
/// (`models.<name>.<key>`) and line. See [`Models`] for the two forms.
/// The shared CI stage: `none`; the `ci:` block over the first push setup's pipeline (or
/// the github-actions preset), whose `queue_wait` and `build` then become every push
/// setup's too; or, without a block, the first push setup's pipeline.
fn resolve_ci(models: &mut Models, block: Option<models::NoneOr<models::RawCi>>) -> Option<Ci> {
    let base = match models.setups.iter().find_map(|s| s.push().map(|p| (s, p))) {
        Some((s, p)) => Ci::of_push(p, &s.name),
        None => Ci::of_push(
            &PushConfig::preset(models::PushPreset::GithubActions),
            "github-actions",
        ),
    };
    match block {
        None => Some(base),
        Some(models::NoneOr(None)) => None,
        Some(models::NoneOr(Some(raw))) => {
            let ci = raw.overlay(base);
            for s in &mut models.setups {
                if let SetupConfig::Push(p) = &mut s.config {
                    p.queue_wait = ci.queue_wait.clone();
                    p.build = ci.build.clone();
                }
            }
            Some(ci)
        }
    }
}

/// Reads the setups; also returns the push setups that write a CI key themselves.
fn parse_models(
    text: &str,
    file: &str,
    raw: Option<serde_yaml_ng::Mapping>,
) -> Result<(Models, Vec<String>), ScenarioError> {
    use serde_yaml_ng::Value;
    let invalid = |key_path: &str, message: String| invalid_at(text, file, key_path, message);
    let raw = raw.unwrap_or_default();
    let mut written: Vec<(String, Value)> = Vec::with_capacity(raw.len());
    for (k, v) in raw {
        let Value::String(name) = k else {
            return Err(invalid(
                "models",
                format!(
                    "a setup's name is text (like `gha` or `argocd`), not {}",
                    serde_yaml_ng::to_string(&k).unwrap_or_default().trim_end()
                ),
            ));
        };
        if !bounds::is_dns_label(&name) || name.len() > bounds::MAX_SETUP_NAME {
            return Err(invalid(
                &format!("models.{name}"),
                format!(
                    "`{name}` is not a valid setup name; expected 1 to {} lowercase letters, digits and `-`, starting and ending with a letter or digit (it names the setup in every output and its live namespaces pushpull-live-<name>-c<cluster>)",
                    bounds::MAX_SETUP_NAME
                ),
            ));
        }
        written.push((name, v));
    }
    let legacy = written.iter().all(|(n, _)| n == "push" || n == "pull");
    if legacy {
        // The form before named setups: both models, push first, defaults for the other.
        for kind in ["push", "pull"] {
            if !written.iter().any(|(n, _)| n == kind) {
                written.push((kind.to_string(), Value::Null));
            }
        }
        written.sort_by_key(|(n, _)| n != "push");
    }
    if written.len() < 2 || written.len() > bounds::MAX_SETUPS {
        return Err(invalid(
            "models",
            format!(
                "{} setups; a scenario compares 2 to {} named setups (e.g. `gha: {{kind: push, preset: github-actions}}` and `argocd: {{kind: pull, preset: argocd}}`)",
                written.len(),
                bounds::MAX_SETUPS
            ),
        ));
    }
    let mut setups = Vec::with_capacity(written.len());
    let mut ci_writers = Vec::new();
    for (name, v) in written {
        let at = |k: &str| format!("models.{name}.{k}");
        let mut map = match v {
            Value::Null => serde_yaml_ng::Mapping::new(),
            Value::Mapping(m) => m,
            other => {
                return Err(invalid(
                    &format!("models.{name}"),
                    format!(
                        "expected a map of settings (`{{kind: push, preset: github-actions}}`), found {}",
                        serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim_end()
                    ),
                ));
            }
        };
        let kind = match map.remove("kind") {
            Some(Value::String(k)) if k == "push" => ModelKind::Push,
            Some(Value::String(k)) if k == "pull" => ModelKind::Pull,
            Some(other) => {
                return Err(invalid(
                    &at("kind"),
                    format!(
                        "`{}` is not a setup kind; expected `push` (a CI pipeline applies manifests) or `pull` (a reconciler watches git)",
                        serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim_end()
                    ),
                ));
            }
            None if name == "push" => ModelKind::Push,
            None if name == "pull" => ModelKind::Pull,
            None => {
                return Err(invalid(
                    &format!("models.{name}"),
                    format!(
                        "setup `{name}` has no `kind`; add `kind: push` (a CI pipeline applies manifests) or `kind: pull` (a reconciler watches git)"
                    ),
                ));
            }
        };
        let located = |e: serde_path_to_error::Error<serde_yaml_ng::Error>| {
            let inner_path = clean_path(&e.path().to_string());
            let key_path = if inner_path.is_empty() {
                format!("models.{name}")
            } else {
                at(&inner_path)
            };
            let message = strip_location(&e.into_inner().to_string(), &inner_path);
            invalid(&key_path, message)
        };
        let config = match kind {
            ModelKind::Push => {
                let raw: models::RawPush =
                    serde_path_to_error::deserialize(Value::Mapping(map)).map_err(located)?;
                if raw.writes_ci() {
                    ci_writers.push(name.clone());
                }
                let push = raw.resolve();
                check_push(&name, &push).map_err(|(k, m)| invalid(&k, m))?;
                SetupConfig::Push(push)
            }
            ModelKind::Pull => {
                let raw: models::RawPull =
                    serde_path_to_error::deserialize(Value::Mapping(map)).map_err(located)?;
                if let Some(k) = raw.hub_key_without_hub() {
                    return Err(invalid(
                        &format!("models.{name}.{k}"),
                        format!(
                            "`{k}` sets the Argo CD hub; add `topology: hub` to this setup, or remove `{k}`"
                        ),
                    ));
                }
                let written_cooldown = raw.self_heal_cooldown();
                let pull = raw.resolve();
                check_pull(&name, &pull, written_cooldown).map_err(|(k, m)| invalid(&k, m))?;
                SetupConfig::Pull(pull)
            }
        };
        setups.push(Setup { name, config });
    }
    Ok((Models { setups }, ci_writers))
}

fn check_workers(workers: &[(String, u32)]) -> Result<(), (String, String)> {
    for (key, n) in workers {
        if *n > bounds::MAX_WORKERS {
            return Err((
                key.clone(),
                format!(
                    "{n} is more than {}, beyond any CI system or controller in one place",
                    bounds::MAX_WORKERS
                ),
            ));
        }
    }
    Ok(())
}

/// A push setup's settings: worker counts, and no delay that lets it loop without virtual
/// time advancing.
fn check_push(name: &str, push: &PushConfig) -> Result<(), (String, String)> {
    let at = |k: &str| format!("models.{name}.{k}");
    check_workers(&[
        (at("runners"), push.runners),
        (at("apply_parallelism"), push.apply_parallelism),
    ])?;
    if let Some(every) = push.drift_check {
        min_interval(Dur(every)).map_err(|m| (at("drift_check.every"), m))?;
    }
    if push.concurrency_scope == models::ConcurrencyScope::DeployJob
        && push.concurrency != Concurrency::CancelPending
    {
        return Err((
            at("concurrency_scope"),
            "`deploy-job` scopes a GitHub Actions concurrency group; it needs `concurrency: cancel-pending` (or leave `concurrency_scope` out)".into(),
        ));
    }
    Ok(())
}

/// A pull setup's settings, as [`check_push`].
fn check_pull(
    name: &str,
    pull: &PullConfig,
    written_cooldown: Option<Dur>,
) -> Result<(), (String, String)> {
    let at = |k: &str| format!("models.{name}.{k}");
    check_workers(&[(at("concurrency"), pull.concurrency)])?;
    let mut intervals: Vec<(String, Dur)> = vec![
        (at("poll.interval"), pull.poll.interval),
        (at("reconcile_interval"), pull.reconcile_interval),
        (at("retry.initial"), pull.retry.initial),
        (at("retry.max"), pull.retry.max),
    ];
    if pull.drift_detection == DriftDetection::Watch {
        intervals.push((at("self_heal.initial"), pull.self_heal.backoff.initial));
        intervals.push((at("self_heal.max"), pull.self_heal.backoff.max));
        if let Some(c) = pull.self_heal.cooldown {
            intervals.push((at("self_heal.cooldown"), c));
        }
    } else if let Some(c) = written_cooldown {
        intervals.push((at("self_heal.cooldown"), c));
    }
    if pull.rollback.method == RollbackMethod::AppRollback
        && pull.preset == models::PullPreset::Flux
    {
        return Err((
            at("rollback"),
            "`app-rollback` is Argo CD's `argocd app rollback`; Flux has none (a team suspends the Kustomization and reverts in git): use `rollback: revert-commit`, or `preset: argocd`".into(),
        ));
    }
    let w = &pull.write_back;
    intervals.push((at("write_back.retry"), w.retry));
    if w.method == WriteBackMethod::ImageAutomation {
        intervals.push((at("write_back.scan_interval"), w.scan_interval));
        if w.update_interval.0 > 0 {
            intervals.push((at("write_back.update_interval"), w.update_interval));
        }
    }
    for (key, d) in intervals {
        min_interval(d).map_err(|m| (key, m))?;
    }
    Ok(())
}

/// A scenario file's bytes as text: YAML files are UTF-8 (a UTF-8 byte order mark is
/// allowed). Anything else is refused with the line and column of the first byte that is
/// not UTF-8, or, for UTF-16 and UTF-32, with the encoding to save the file in.
pub fn decode<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, ScenarioError> {
    let invalid =
        |line: Option<usize>, column: Option<usize>, message: String| ScenarioError::Invalid {
            file: file.to_string(),
            line,
            column,
            key_path: String::new(),
            message,
        };
    let wide = [
        (&[0xFF, 0xFE, 0, 0][..], "UTF-32"),
        (&[0, 0, 0xFE, 0xFF][..], "UTF-32"),
        (&[0xFF, 0xFE][..], "UTF-16"),
        (&[0xFE, 0xFF][..], "UTF-16"),
    ];
    if let Some((_, name)) = wide.iter().find(|(bom, _)| bytes.starts_with(bom)) {
        return Err(invalid(
            Some(1),
            Some(1),
            format!("the file is {name}; save it as UTF-8, the encoding of scenario files"),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
        let at = bytes[e.valid_up_to()];
        invalid(
            Some(line),
            Some(column),
            format!(
                "byte 0x{at:02X} is not UTF-8 (the file may be cut, or saved in another encoding); save it as UTF-8"
            ),
        )
    })
}

/// serde_path_to_error writes `?` for unknown positions; the root is empty.
fn clean_path(p: &str) -> String {
    if p == "." {
        String::new()
    } else {
        p.to_string()
    }
}

/// serde_yaml_ng puts the parent's path before a message and " at line L column C"
/// after it; we print both up front ourselves.
fn strip_location(msg: &str, key_path: &str) -> String {
    let mut m = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    if let Some((head, rest)) = m.split_once(": ")
        && !head.contains(' ')
        && key_path.starts_with(head)
    {
        m = rest;
    }
    words::plain(m)
}

#[cfg(test)]
mod tests;
