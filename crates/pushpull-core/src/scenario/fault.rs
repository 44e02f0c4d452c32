//! The fault catalogue as the scenario writes it. Each kind is a variant with its own
//! keys; the engine adds a fault by adding a variant and its handler. Kinds that the
//! engine cannot inject yet are refused by name rather than silently ignored.

use super::bounds::MIN_INTERVAL;
use super::dist::Dist;
use super::duration::{Dur, Nanos};
use super::models::Probability;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftChange {
    /// Someone runs `kubectl scale` on a Deployment.
    Scale,
    /// Someone runs `kubectl set image` (a hotfix by hand).
    Image,
    /// Someone deletes the Deployment.
    Delete,
    /// Someone edits an environment variable in the pod template.
    Env,
}

impl DriftChange {
    pub fn name(self) -> &'static str {
        match self {
            DriftChange::Scale => "scale",
            DriftChange::Image => "image",
            DriftChange::Delete => "delete",
            DriftChange::Env => "env",
        }
    }
}

/// When a fault happens: once at a time, or again and again as a Poisson process.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum When {
    At {
        at: Dur,
    },
    Poisson {
        arrival: &'static str,
        mean_interval: Dur,
    },
}

/// The two sides of a network cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cut {
    /// The CI runners cannot reach the cluster APIs.
    PipelineCluster,
    /// The CI runners cannot reach the git host.
    PipelineGit,
    /// The reconciler cannot reach the git host.
    ReconcilerGit,
    /// The reconciler cannot reach the cluster APIs (a hub reconciler managing remote
    /// clusters).
    ReconcilerCluster,
}

impl Cut {
    /// A dense index, for worlds that keep one counter per cut.
    pub fn index(self) -> usize {
        match self {
            Cut::PipelineCluster => 0,
            Cut::PipelineGit => 1,
            Cut::ReconcilerGit => 2,
            Cut::ReconcilerCluster => 3,
        }
    }

    pub fn sides(self) -> [&'static str; 2] {
        match self {
            Cut::PipelineCluster => ["pipeline", "cluster"],
            Cut::PipelineGit => ["pipeline", "git"],
            Cut::ReconcilerGit => ["reconciler", "git"],
            Cut::ReconcilerCluster => ["reconciler", "cluster"],
        }
    }
}

impl Serialize for Cut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.sides().serialize(s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    Drift {
        change: DriftChange,
        #[serde(flatten)]
        when: When,
        /// Restrict to one cluster (index), else a random one each time.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<u32>,
        /// Restrict to one app (index), else a random one each time.
        #[serde(skip_serializing_if = "Option::is_none")]
        app: Option<u32>,
    },
    BadRelease {
        at: Dur,
        rollback_after: Dur,
        #[serde(skip_serializing_if = "Option::is_none")]
        app: Option<u32>,
    },
    /// The git host is down: fetches and checkouts fail, webhooks are not sent.
    GitOutage { at: Dur, duration: Dur },
    /// Cluster APIs answer slowly and fail a share of requests (429/500/503).
    ApiBrownout {
        at: Dur,
        duration: Dur,
        latency: Dist,
        error_rate: Probability,
        /// One cluster (index), else every cluster.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<u32>,
    },
    /// Traffic across the cut fails for the window.
    Partition {
        between: Cut,
        at: Dur,
        duration: Dur,
    },
    /// The reconciler process dies, losing its in-memory state, and restarts.
    ReconcilerCrash {
        at: Dur,
        restart_after: Dur,
        /// One cluster's agent (index), else every agent.
        #[serde(skip_serializing_if = "Option::is_none")]
        cluster: Option<u32>,
    },
    /// No pipeline runner is available for the window.
    RunnerOutage { at: Dur, duration: Dur },
    /// A cluster is wiped and comes back empty after `rebuild_after`.
    ClusterLoss {
        cluster: u32,
        at: Dur,
        rebuild_after: Dur,
    },
}

/// Each fault kind and what it does, as the README's fault table and the report's
/// methodology section say it.
pub const DEFINITIONS: [(&str, &str); 8] = [
    (
        "drift",
        "someone edits a live Deployment by hand (scale, image, env or delete); drift_recovery measures until live state equals desired again.",
    ),
    (
        "bad_release",
        "a commit ships an image that never becomes ready; rollback is a revert commit decided rollback_after after the rollout fails its progress deadline.",
    ),
    (
        "git_outage",
        "the git host is down: fetches and checkouts fail, and webhooks (the pipeline's trigger too) are lost.",
    ),
    (
        "api_brownout",
        "cluster APIs answer slower and fail a share of requests; every setup retries with its backoff.",
    ),
    (
        "partition",
        "traffic across one cut fails: pipeline to cluster, pipeline to git, reconciler to git or reconciler to cluster.",
    ),
    (
        "reconciler_crash",
        "a reconciler loses its memory; when it restarts it re-checks every app.",
    ),
    (
        "runner_outage",
        "no CI runner is available: the pipeline's queue grows.",
    ),
    (
        "cluster_loss",
        "a cluster is wiped and comes back empty; cluster_restore measures until every app runs on it again.",
    ),
];

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Drift { .. } => "drift",
            Fault::BadRelease { .. } => "bad_release",
            Fault::GitOutage { .. } => "git_outage",
            Fault::ApiBrownout { .. } => "api_brownout",
            Fault::Partition { .. } => "partition",
            Fault::ReconcilerCrash { .. } => "reconciler_crash",
            Fault::RunnerOutage { .. } => "runner_outage",
            Fault::ClusterLoss { .. } => "cluster_loss",
        }
    }

    /// What a fault of this kind does, in a sentence ([`DEFINITIONS`]).
    pub fn definition(&self) -> &'static str {
        let kind = self.kind();
        DEFINITIONS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("", |(_, d)| d)
    }

    /// The fault's start and end, for the ones that are a window of time.
    pub fn window(&self) -> Option<(Nanos, Nanos)> {
        match self {
            Fault::GitOutage { at, duration }
            | Fault::ApiBrownout { at, duration, .. }
            | Fault::Partition { at, duration, .. }
            | Fault::RunnerOutage { at, duration } => Some((at.0, at.0.saturating_add(duration.0))),
            Fault::ReconcilerCrash {
                at, restart_after, ..
            } => Some((at.0, at.0.saturating_add(restart_after.0))),
            Fault::ClusterLoss {
                at, rebuild_after, ..
            } => Some((at.0, at.0.saturating_add(rebuild_after.0))),
            Fault::Drift { .. } | Fault::BadRelease { .. } => None,
        }
    }

    /// The cluster a fault is limited to, if any.
    pub fn cluster(&self) -> Option<u32> {
        match self {
            Fault::Drift { cluster, .. }
            | Fault::ApiBrownout { cluster, .. }
            | Fault::ReconcilerCrash { cluster, .. } => *cluster,
            Fault::ClusterLoss { cluster, .. } => Some(*cluster),
            _ => None,
        }
    }

    /// Points the fault at cluster `c` (a name resolved to its index).
    pub fn set_cluster(&mut self, c: u32) {
        match self {
            Fault::Drift { cluster, .. }
            | Fault::ApiBrownout { cluster, .. }
            | Fault::ReconcilerCrash { cluster, .. } => *cluster = Some(c),
            Fault::ClusterLoss { cluster, .. } => *cluster = c,
            Fault::BadRelease { .. }
            | Fault::GitOutage { .. }
            | Fault::Partition { .. }
            | Fault::RunnerOutage { .. } => {}
        }
    }

    /// Points the fault at app `a` (a name resolved to its index).
    pub fn set_app(&mut self, a: u32) {
        if let Fault::Drift { app, .. } | Fault::BadRelease { app, .. } = self {
            *app = Some(a);
        }
    }

    pub fn app(&self) -> Option<u32> {
        match self {
            Fault::Drift { app, .. } | Fault::BadRelease { app, .. } => *app,
            _ => None,
        }
    }
}

const KINDS: &str = "drift, bad_release, git_outage, api_brownout, partition, \
                     reconciler_crash, runner_outage or cluster_loss";

/// A fault: its `kind` and that kind's keys (`{kind: git_outage, at: 2h, duration: 15m}`).
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Fault", transform = super::schema::fault_keys)]
pub struct RawFault {
    #[serde(deserialize_with = "super::strict::text")]
    #[schemars(with = "super::schema::FaultKind")]
    kind: String,
    /// drift: what the hand edit changes.
    change: Option<DriftChange>,
    /// When the fault starts (time since the start of the run).
    at: Option<Dur>,
    #[serde(default, deserialize_with = "super::strict::opt_text")]
    #[schemars(with = "Option<super::schema::DriftArrival>")]
    arrival: Option<String>,
    /// drift with `arrival: poisson`: the mean time between drifts.
    mean_interval: Option<Dur>,
    /// bad_release: how long until someone reverts the bad commit.
    rollback_after: Option<Dur>,
    /// The cluster, by number (0, 1, …) or by name; else every one or one at random.
    #[serde(default)]
    cluster: Option<Ref>,
    /// The app, by number (0, 1, …) or by name; else one at random.
    #[serde(default)]
    app: Option<Ref>,
    /// How long the outage, brownout or partition lasts.
    duration: Option<Dur>,
    /// api_brownout: the extra latency of each API call.
    latency: Option<Dist>,
    /// api_brownout: the share of API calls that fail (429/500/503).
    error_rate: Option<Probability>,
    #[schemars(with = "Option<super::schema::CutSides>")]
    between: Option<Vec<super::strict::Text>>,
    /// reconciler_crash: how long until the reconciler is back.
    restart_after: Option<Dur>,
    /// cluster_loss: how long until the cluster is back, empty.
    rebuild_after: Option<Dur>,
}

impl RawFault {
    /// The keys given, by name (`cluster` and `app` are taken out before).
    fn present(&self, cluster: bool, app: bool) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut k = |name, is: bool| {
            if is {
                v.push(name)
            }
        };
        k("change", self.change.is_some());
        k("at", self.at.is_some());
        k("arrival", self.arrival.is_some());
        k("mean_interval", self.mean_interval.is_some());
        k("rollback_after", self.rollback_after.is_some());
        k("cluster", cluster);
        k("app", app);
        k("duration", self.duration.is_some());
        k("latency", self.latency.is_some());
        k("error_rate", self.error_rate.is_some());
        k("between", self.between.is_some());
        k("restart_after", self.restart_after.is_some());
        k("rebuild_after", self.rebuild_after.is_some());
        v
    }
}

fn need<T>(v: Option<T>, kind: &str, key: &str, example: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("a `{kind}` fault needs `{key}`, e.g. `{key}: {example}`"))
}

fn positive(d: Dur, key: &str) -> Result<Dur, String> {
    if d.0 == 0 {
        Err(format!("`{key}` must be above zero"))
    } else {
        Ok(d)
    }
}

/// A repeating interval must be at least [`MIN_INTERVAL`] (1 ms).
fn at_least_interval(d: Dur, key: &str) -> Result<Dur, String> {
    if d.0 < MIN_INTERVAL {
        Err(format!(
            "`{key}: {d}` is too short; it must be at least 1ms (a drift arriving faster than any API call answers is a livelock, not a scenario)"
        ))
    } else {
        Ok(d)
    }
}

fn parse_cut(sides: &[String]) -> Result<Cut, String> {
    let mut s: Vec<&str> = sides.iter().map(String::as_str).collect();
    s.sort_unstable();
    Ok(match s.as_slice() {
        ["cluster", "pipeline"] => Cut::PipelineCluster,
        ["git", "pipeline"] => Cut::PipelineGit,
        ["git", "reconciler"] => Cut::ReconcilerGit,
        ["cluster", "reconciler"] => Cut::ReconcilerCluster,
        _ => {
            return Err(format!(
                "`between: [{}]` is not a cut this simulator knows; expected [pipeline, cluster], \
                 [pipeline, git], [reconciler, git] or [reconciler, cluster]",
                sides.join(", ")
            ));
        }
    })
}

impl TryFrom<RawFault> for Addressed {
    type Error = String;
    fn try_from(mut r: RawFault) -> Result<Addressed, String> {
        let (cluster, app) = (r.cluster.take(), r.app.take());
        let present = |x: &Option<Ref>| x.as_ref().map(Ref::index);
        let names = (
            cluster.as_ref().and_then(Ref::name),
            app.as_ref().and_then(Ref::name),
        );
        let fault = fault(r, present(&cluster), present(&app))?;
        Ok(Addressed {
            fault,
            cluster: names.0,
            app: names.1,
        })
    }
}

/// A cluster or an app as a fault or a threshold addresses it: by number or by name.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Ref {
    Index(u32),
    Name(String),
}

impl Ref {
    /// The index, or 0 standing in for a name until [`Addressed`] is resolved.
    fn index(&self) -> u32 {
        match self {
            Ref::Index(i) => *i,
            Ref::Name(_) => 0,
        }
    }
    pub(super) fn name(&self) -> Option<String> {
        match self {
            Ref::Index(_) => None,
            Ref::Name(n) => Some(n.clone()),
        }
    }
}

impl schemars::JsonSchema for Ref {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Ref".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": u32::MAX},
                {"type": "string"},
            ],
        })
    }
}

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{BoolDeserializer, F64Deserializer, I64Deserializer};
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Ref;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number (0, 1, …) or a name")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Ref, E> {
                u32::try_from(v).map(Ref::Index).map_err(|_| {
                    E::custom(format!("`{v}` is too large (the limit is {})", u32::MAX))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Ref, E> {
                super::strict::Index::deserialize(I64Deserializer::<E>::new(v))
                    .map(|i| Ref::Index(i.0))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Ref, E> {
                super::strict::Index::deserialize(F64Deserializer::<E>::new(v))
                    .map(|i| Ref::Index(i.0))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Ref, E> {
                super::strict::Index::deserialize(BoolDeserializer::<E>::new(v))
                    .map(|i| Ref::Index(i.0))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ref, E> {
                Ok(Ref::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A fault with the names it gave for its cluster and app; `Scenario::parse` turns them
/// into indices with [`Fault::set_cluster`] and [`Fault::set_app`] once the fleet is known.
#[derive(Clone, Debug, PartialEq)]
pub struct Addressed {
    pub fault: Fault,
    pub cluster: Option<String>,
    pub app: Option<String>,
}

/// The schema of what [`RawFault`] reads.
impl schemars::JsonSchema for Addressed {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Fault".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawFault::json_schema(g)
    }
}

impl<'de> Deserialize<'de> for Addressed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawFault::deserialize(d)?;
        Addressed::try_from(raw).map_err(serde::de::Error::custom)
    }
}

fn fault(r: RawFault, cluster: Option<u32>, app: Option<u32>) -> Result<Fault, String> {
    let present = r.present(cluster.is_some(), app.is_some());
    {
        let kind = r.kind.clone();
        let kind = kind.as_str();
        let allowed: &[&str] = match kind {
            "drift" => &["change", "at", "arrival", "mean_interval", "cluster", "app"],
            "bad_release" => &["at", "rollback_after", "app"],
            "git_outage" => &["at", "duration"],
            "api_brownout" => &["at", "duration", "latency", "error_rate", "cluster"],
            "partition" => &["between", "at", "duration"],
            "reconciler_crash" => &["at", "restart_after", "cluster"],
            "runner_outage" => &["at", "duration"],
            "cluster_loss" => &["cluster", "at", "rebuild_after"],
            other => return Err(format!("unknown fault kind `{other}`; expected {KINDS}")),
        };
        if let Some(k) = present.into_iter().find(|k| !allowed.contains(k)) {
            return Err(format!(
                "`{k}` does not apply to a `{kind}` fault (it takes {})",
                allowed.join(", ")
            ));
        }
        let at = || need(r.at, kind, "at", "1h");
        Ok(match kind {
            "drift" => {
                let change = need(r.change, kind, "change", "scale")
                    .map_err(|e| format!("{e} (scale, image, delete or env)"))?;
                let when = match (r.at, r.arrival.as_deref(), r.mean_interval) {
                    (Some(at), None, None) => When::At { at },
                    (None, Some("poisson"), Some(m)) => When::Poisson {
                        arrival: "poisson",
                        mean_interval: at_least_interval(m, "mean_interval")?,
                    },
                    (None, Some("poisson"), None) => {
                        return Err("a Poisson drift needs `mean_interval`, e.g. `2h`".into());
                    }
                    (None, Some(other), _) => {
                        return Err(format!(
                            "unknown arrival `{other}` for a drift; expected `poisson` (or give `at`)"
                        ));
                    }
                    (None, None, _) => {
                        return Err(
                            "a drift fault needs `at: <time>` or `arrival: poisson` with `mean_interval`".into(),
                        );
                    }
                    (Some(_), _, _) => {
                        return Err(
                            "give either `at` or `arrival`/`mean_interval`, not both".into()
                        );
                    }
                };
                Fault::Drift {
                    change,
                    when,
                    cluster,
                    app,
                }
            }
            "bad_release" => Fault::BadRelease {
                at: at()?,
                rollback_after: need(r.rollback_after, kind, "rollback_after", "5m")?,
                app,
            },
            "git_outage" => Fault::GitOutage {
                at: at()?,
                duration: positive(need(r.duration, kind, "duration", "15m")?, "duration")?,
            },
            "api_brownout" => Fault::ApiBrownout {
                at: at()?,
                duration: positive(need(r.duration, kind, "duration", "10m")?, "duration")?,
                latency: r.latency.unwrap_or(Dist::zero()),
                error_rate: r.error_rate.unwrap_or_default(),
                cluster,
            },
            "partition" => Fault::Partition {
                between: parse_cut(
                    &need(r.between, kind, "between", "[pipeline, cluster]")?
                        .into_iter()
                        .map(|t| t.0)
                        .collect::<Vec<_>>(),
                )?,
                at: at()?,
                duration: positive(need(r.duration, kind, "duration", "20m")?, "duration")?,
            },
            "reconciler_crash" => Fault::ReconcilerCrash {
                at: at()?,
                restart_after: need(r.restart_after, kind, "restart_after", "30s")?,
                cluster,
            },
            "runner_outage" => Fault::RunnerOutage {
                at: at()?,
                duration: positive(need(r.duration, kind, "duration", "30m")?, "duration")?,
            },
            "cluster_loss" => Fault::ClusterLoss {
                cluster: need(cluster, kind, "cluster", "0")?,
                at: at()?,
                rebuild_after: need(r.rebuild_after, kind, "rebuild_after", "5m")?,
            },
            _ => unreachable!("kinds matched above"),
        })
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let a = Addressed::deserialize(d)?;
        match (a.cluster, a.app) {
            (None, None) => Ok(a.fault),
            _ => Err(serde::de::Error::custom(
                "a fault read on its own addresses clusters and apps by number",
            )),
        }
    }
}

pub fn at_of(f: &Fault) -> Option<Nanos> {
    match f {
        Fault::Drift {
            when: When::At { at },
            ..
        } => Some(at.0),
        Fault::Drift { .. } => None,
        Fault::BadRelease { at, .. }
        | Fault::GitOutage { at, .. }
        | Fault::ApiBrownout { at, .. }
        | Fault::Partition { at, .. }
        | Fault::ReconcilerCrash { at, .. }
        | Fault::RunnerOutage { at, .. }
        | Fault::ClusterLoss { at, .. } => Some(at.0),
    }
}
