//! The part of the fleet a threshold bounds: `cluster:`, `app:` and `environment:` on a
//! threshold, by name or number, resolved against the fleet and the environments into the
//! set of samples (samples.csv rows by their cluster and app) its figure is computed from.

use super::environments::Environments;
use super::fault::Ref;
use super::fleet::Fleet;
use super::{FigureKind, Threshold};
use crate::metric::Metric;

/// The samples a threshold selects: those of `clusters` (any cluster when `None`) and of
/// the apps `apps.0 .. apps.1` (any app when `None`). A sample without a cluster (or app)
/// is never selected by a cluster (or app) selection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// The clusters, ascending.
    pub clusters: Option<Vec<u32>>,
    /// The apps, as a half-open range of indices.
    pub apps: Option<(u32, u32)>,
    /// How the scenario wrote it, for messages: `environment prod`, `cluster prod-eu-1,
    /// app payments`.
    pub label: String,
}

impl Selection {
    /// Whether a sample of `cluster` and `app` is selected.
    pub fn matches(&self, cluster: Option<u32>, app: Option<u32>) -> bool {
        let cluster_ok = match (&self.clusters, cluster) {
            (None, _) => true,
            (Some(cs), Some(c)) => cs.binary_search(&c).is_ok(),
            (Some(_), None) => false,
        };
        let app_ok = match (self.apps, app) {
            (None, _) => true,
            (Some((a, b)), Some(x)) => (a..b).contains(&x),
            (Some(_), None) => false,
        };
        cluster_ok && app_ok
    }
}

/// Metrics recorded once per commit or per release for the whole fleet: their samples
/// name no cluster, so no cluster or environment selects any of them.
const NO_CLUSTER: [Metric; 6] = [
    Metric::LeadTime,
    Metric::FleetDeployLatency,
    Metric::FleetSyncTime,
    Metric::Rollback,
    Metric::FailedDeployRecovery,
    Metric::GitDivergence,
];

/// Metrics whose samples name no app.
const NO_APP: [Metric; 6] = [
    Metric::LeadTime,
    Metric::FleetDeployLatency,
    Metric::FleetSyncTime,
    Metric::Rollback,
    Metric::FailedDeployRecovery,
    Metric::ClusterRestore,
];

type Refusal = (String, String);

/// Resolves threshold `i`'s `cluster`, `app` and `environment` (`None` when it gives
/// none). Errors carry the key path (`thresholds[2].environment`) and name what exists.
pub(super) fn resolve(
    t: &Threshold,
    i: usize,
    fleet: &Fleet,
    envs: Option<&Environments>,
) -> Result<Option<Selection>, Refusal> {
    if t.cluster.is_none() && t.app.is_none() && t.environment.is_none() {
        return Ok(None);
    }
    let key = |k: &str| format!("thresholds[{i}].{k}");
    let first = if t.cluster.is_some() {
        "cluster"
    } else if t.environment.is_some() {
        "environment"
    } else {
        "app"
    };
    if t.tolerance.is_some() {
        return Err((
            key("tolerance"),
            format!(
                "`pushpull check` compares the whole fleet's figures with a baseline, so a tolerance on a threshold that bounds `{first}` would never apply; put it on a threshold without `cluster`, `app` or `environment`"
            ),
        ));
    }
    let metric = match t.metric.kind() {
        FigureKind::Duration(m) => m,
        FigureKind::Count | FigureKind::Share => {
            return Err((
                key(first),
                format!(
                    "`{}` is counted over the whole fleet, so `{first}` cannot narrow it; a selection bounds a duration metric's samples (e.g. deploy_latency)",
                    t.metric.as_str()
                ),
            ));
        }
    };
    let mut label = Vec::new();
    let mut clusters: Option<Vec<u32>> = None;
    if let Some(env) = &t.environment {
        let (known, members): (Vec<String>, Vec<u32>) = match envs {
            Some(e) => (
                e.list.iter().map(|x| x.name.clone()).collect(),
                e.list
                    .iter()
                    .find(|x| &x.name == env)
                    .map(|x| x.clusters.clone())
                    .unwrap_or_default(),
            ),
            None => {
                let mut known: Vec<String> = Vec::new();
                for n in fleet
                    .named_clusters
                    .iter()
                    .filter_map(|c| c.environment.clone())
                {
                    if !known.contains(&n) {
                        known.push(n);
                    }
                }
                let members = (0..fleet.clusters.get())
                    .filter(|&c| fleet.environment_of(c) == Some(env.as_str()))
                    .collect();
                (known, members)
            }
        };
        if members.is_empty() {
            return Err((
                key("environment"),
                if known.is_empty() {
                    format!(
                        "there is no environment `{env}`: no cluster of this fleet names an environment; give clusters one with `fleet.clusters: [{{name: ..., environment: {env}}}]`"
                    )
                } else {
                    format!(
                        "there is no environment `{env}`; the environments are {}",
                        known.join(", ")
                    )
                },
            ));
        }
        label.push(format!("environment {env}"));
        clusters = Some(members);
    }
    if let Some(r) = &t.cluster {
        let c = match r {
            Ref::Index(c) if *c < fleet.clusters.get() => *c,
            Ref::Index(c) => {
                return Err((
                    key("cluster"),
                    format!(
                        "cluster {c} does not exist; clusters are numbered 0..{}",
                        fleet.clusters
                    ),
                ));
            }
            Ref::Name(name) => fleet
                .cluster_index(name)
                .ok_or_else(|| (key("cluster"), fleet.unknown_cluster(name)))?,
        };
        if let Some(members) = &clusters
            && !members.contains(&c)
        {
            return Err((
                key("cluster"),
                format!(
                    "cluster `{}` is not in environment `{}`, so the two select nothing; give one of them",
                    fleet.cluster_name(c),
                    t.environment.as_deref().unwrap_or_default()
                ),
            ));
        }
        label.push(format!("cluster {}", fleet.cluster_name(c)));
        clusters = Some(vec![c]);
    }
    let mut apps = None;
    if let Some(r) = &t.app {
        let (range, shown) = match r {
            Ref::Index(a) if *a < fleet.apps.get() => {
                ((*a, a + 1), format!("app {}", fleet.app_name(*a)))
            }
            Ref::Index(a) => {
                return Err((
                    key("app"),
                    format!(
                        "app {a} does not exist; apps are numbered 0..{}",
                        fleet.apps
                    ),
                ));
            }
            Ref::Name(name) => {
                if let Some(a) = fleet.app_index(name) {
                    ((a, a + 1), format!("app {name}"))
                } else if let Some(g) = fleet
                    .groups
                    .iter()
                    .find(|g| g.count.is_some() && &g.name == name)
                {
                    ((g.first, g.first + g.len()), format!("app group {name}"))
                } else if fleet.groups.is_empty() {
                    return Err((
                        key("app"),
                        format!(
                            "there is no app named `{name}`: this fleet's apps are numbered 0..{}; name them with `fleet.apps: [{{name: ...}}]` or give a number",
                            fleet.apps
                        ),
                    ));
                } else {
                    let groups: Vec<&str> = fleet
                        .groups
                        .iter()
                        .filter(|g| g.count.is_some())
                        .map(|g| g.name.as_str())
                        .collect();
                    let also = if groups.is_empty() {
                        String::new()
                    } else {
                        format!("; the app groups are {}", groups.join(", "))
                    };
                    return Err((
                        key("app"),
                        format!(
                            "there is no app or app group named `{name}`; the apps are {}{also}",
                            fleet.app_names()
                        ),
                    ));
                }
            }
        };
        label.push(shown);
        apps = Some(range);
    }
    if clusters.is_some() && NO_CLUSTER.contains(&metric) {
        let k = if t.cluster.is_some() {
            "cluster"
        } else {
            "environment"
        };
        return Err((
            key(k),
            format!(
                "{} is measured once for the whole fleet (its samples name no cluster), so `{k}` would select none; bound deploy_latency or another per-cluster metric instead",
                metric.name()
            ),
        ));
    }
    if apps.is_some() && NO_APP.contains(&metric) {
        return Err((
            key("app"),
            format!(
                "{} is measured once per commit or release for every app together (its samples name no app), so `app` would select none",
                metric.name()
            ),
        ));
    }
    Ok(Some(Selection {
        clusters,
        apps,
        label: label.join(", "),
    }))
}
