//! The fault catalogue as the scenario writes it. Each kind is a variant with its own
//! keys; the engine adds a fault by adding a variant and its handler. Kinds that the
//! engine cannot inject yet are refused by name rather than silently ignored.

use super::duration::{Dur, Nanos};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Drift { .. } => "drift",
            Fault::BadRelease { .. } => "bad_release",
        }
    }
}

/// Fault kinds in DESIGN.md that a later version injects.
const LATER: &[&str] = &[
    "git_outage",
    "api_brownout",
    "partition",
    "reconciler_crash",
    "runner_outage",
    "cluster_loss",
];

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    kind: String,
    change: Option<DriftChange>,
    at: Option<Dur>,
    arrival: Option<String>,
    mean_interval: Option<Dur>,
    rollback_after: Option<Dur>,
    cluster: Option<u32>,
    app: Option<u32>,
    // Keys of the later kinds, accepted here so that the message names the kind.
    duration: Option<Dur>,
    latency: Option<serde_yaml_ng::Value>,
    error_rate: Option<f64>,
    between: Option<Vec<String>>,
    restart_after: Option<Dur>,
    rebuild_after: Option<Dur>,
}

impl TryFrom<RawFault> for Fault {
    type Error = String;
    fn try_from(r: RawFault) -> Result<Fault, String> {
        let kind = r.kind.as_str();
        let extra = |keys: &[(&str, bool)]| -> Result<(), String> {
            for (k, present) in keys {
                if *present {
                    return Err(format!("`{k}` does not apply to a `{kind}` fault"));
                }
            }
            Ok(())
        };
        let later_keys = [
            ("duration", r.duration.is_some()),
            ("latency", r.latency.is_some()),
            ("error_rate", r.error_rate.is_some()),
            ("between", r.between.is_some()),
            ("restart_after", r.restart_after.is_some()),
            ("rebuild_after", r.rebuild_after.is_some()),
        ];
        match kind {
            "drift" => {
                extra(&later_keys)?;
                extra(&[("rollback_after", r.rollback_after.is_some())])?;
                let change = r.change.ok_or(
                    "a drift fault needs `change`: scale, image, delete or env".to_string(),
                )?;
                let when = match (r.at, r.arrival.as_deref(), r.mean_interval) {
                    (Some(at), None, None) => When::At { at },
                    (None, Some("poisson"), Some(m)) if m.0 > 0 => When::Poisson {
                        arrival: "poisson",
                        mean_interval: m,
                    },
                    (None, Some("poisson"), Some(_)) => {
                        return Err("`mean_interval` must be above zero".into());
                    }
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
                            "a drift fault needs `at: <time>` or `arrival: poisson` with `mean_interval`"
                                .into(),
                        );
                    }
                    (Some(_), _, _) => {
                        return Err(
                            "give either `at` or `arrival`/`mean_interval`, not both".into()
                        );
                    }
                };
                Ok(Fault::Drift {
                    change,
                    when,
                    cluster: r.cluster,
                    app: r.app,
                })
            }
            "bad_release" => {
                extra(&later_keys)?;
                extra(&[
                    ("change", r.change.is_some()),
                    ("arrival", r.arrival.is_some()),
                    ("mean_interval", r.mean_interval.is_some()),
                    ("cluster", r.cluster.is_some()),
                ])?;
                let at = r.at.ok_or("a bad_release needs `at: <time>`".to_string())?;
                let rollback_after = r.rollback_after.ok_or(
                    "a bad_release needs `rollback_after` (time from detection to the rollback decision)"
                        .to_string(),
                )?;
                Ok(Fault::BadRelease {
                    at,
                    rollback_after,
                    app: r.app,
                })
            }
            k if LATER.contains(&k) => Err(format!(
                "fault kind `{k}` is not supported yet by this version of pushpull \
                 (supported now: drift, bad_release); remove it or upgrade"
            )),
            other => Err(format!(
                "unknown fault kind `{other}`; expected drift, bad_release, git_outage, \
                 api_brownout, partition, reconciler_crash, runner_outage or cluster_loss"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawFault::deserialize(d)?;
        Fault::try_from(raw).map_err(serde::de::Error::custom)
    }
}

pub fn at_of(f: &Fault) -> Option<Nanos> {
    match f {
        Fault::Drift {
            when: When::At { at },
            ..
        } => Some(at.0),
        Fault::BadRelease { at, .. } => Some(at.0),
        _ => None,
    }
}
