//! The security question of the seed's table, as figures derived from a scenario's
//! topology: which systems hold write credentials to which clusters, the inbound network
//! paths into each cluster, and how many clusters one leaked credential can write.

use crate::metric::ModelKind;
use crate::scenario::Scenario;
use crate::scenario::models::{Setup, SetupConfig, Sharding};
use serde::{Deserialize, Serialize};

/// One system holding write credentials to clusters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// What holds the credential (`CI runners`, `in-cluster agent on eu-1`, `hub controller`).
    pub system: String,
    /// Where it runs: `outside` the clusters (a CI service, a hub) or `in-cluster`.
    pub runs: String,
    /// The clusters it can write to.
    pub clusters: Vec<String>,
}

/// One network path that must be open into a cluster's API server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    pub from: String,
    pub cluster: String,
}

/// The credential table of one setup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// `push`, `pull-per-cluster` or `pull-hub`.
    pub topology: String,
    pub holders: Vec<Holder>,
    /// Inbound paths into cluster API servers (none for in-cluster agents).
    pub inbound_paths: Vec<Inbound>,
    /// Clusters writable with the single most powerful credential of the setup.
    pub blast_radius: u32,
    /// The fleet's size, for the blast radius as a share.
    pub clusters: u32,
}

/// How a pull setup's reconcilers are placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// One agent inside each cluster, writing only to its own.
    PerCluster,
    /// One controller outside the fleet writing to every cluster.
    Hub,
}

/// The placement of a pull setup's reconcilers: `topology: hub` is one controller (per
/// shard) outside the fleet, anything else an agent per cluster.
pub fn placement(_s: &Scenario, setup: &Setup) -> Placement {
    match &setup.config {
        SetupConfig::Pull(p) if p.hub.is_some() => Placement::Hub,
        SetupConfig::Pull(_) | SetupConfig::Push(_) => Placement::PerCluster,
    }
}

/// The credential table of `setup` in `s`'s fleet.
pub fn of_setup(s: &Scenario, setup: &Setup) -> Credentials {
    let n = s.fleet.clusters.get();
    let names: Vec<String> = (0..n).map(|c| s.fleet.cluster_name(c)).collect();
    let outside = |from: &str| -> Vec<Inbound> {
        names
            .iter()
            .map(|c| Inbound {
                from: from.to_string(),
                cluster: c.clone(),
            })
            .collect()
    };
    match (setup.kind(), placement(s, setup)) {
        (ModelKind::Push, _) => Credentials {
            topology: "push".into(),
            holders: vec![Holder {
                system: format!("CI runners ({})", setup.preset()),
                runs: "outside".into(),
                clusters: names.clone(),
            }],
            inbound_paths: outside("CI runners"),
            blast_radius: n,
            clusters: n,
        },
        (ModelKind::Pull, Placement::PerCluster) => Credentials {
            topology: "pull-per-cluster".into(),
            holders: names
                .iter()
                .map(|c| Holder {
                    system: format!("{} agent in {c}", setup.preset()),
                    runs: "in-cluster".into(),
                    clusters: vec![c.clone()],
                })
                .collect(),
            inbound_paths: Vec::new(),
            blast_radius: 1,
            clusters: n,
        },
        (ModelKind::Pull, Placement::Hub) => {
            // One controller per shard, each holding the credentials of its clusters.
            let (shards, sharding) = match &setup.config {
                SetupConfig::Pull(p) => p
                    .hub
                    .as_ref()
                    .map_or((1, Sharding::Legacy), |h| (h.shards.max(1), h.sharding)),
                SetupConfig::Push(_) => (1, Sharding::Legacy),
            };
            let of = crate::model::hub::shard_of(&names, shards, sharding);
            let holders: Vec<Holder> = (0..shards)
                .map(|k| Holder {
                    system: if shards == 1 {
                        format!("{} hub controller", setup.preset())
                    } else {
                        format!("{} hub controller, shard {k}", setup.preset())
                    },
                    runs: "outside".into(),
                    clusters: names
                        .iter()
                        .zip(&of)
                        .filter(|&(_, &sh)| sh == k)
                        .map(|(c, _)| c.clone())
                        .collect(),
                })
                .filter(|h| !h.clusters.is_empty())
                .collect();
            let blast_radius = holders
                .iter()
                .map(|h| h.clusters.len() as u32)
                .max()
                .unwrap_or(0);
            Credentials {
                topology: "pull-hub".into(),
                holders,
                inbound_paths: outside("hub controller"),
                blast_radius,
                clusters: n,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(clusters: u32) -> Scenario {
        let text = format!(
            "name: t\nduration: 1h\nfleet: {{clusters: {clusters}, apps: 2}}\nmodels:\n  gha: {{kind: push, preset: github-actions}}\n  argo: {{kind: pull, preset: argocd}}\n"
        );
        Scenario::parse(&text, "t.yaml").unwrap()
    }

    #[test]
    fn push_gives_ci_every_cluster_and_an_inbound_path_to_each() {
        let s = scenario(3);
        let c = of_setup(&s, &s.models.setups[0]);
        assert_eq!(c.holders.len(), 1);
        assert_eq!(c.holders[0].clusters.len(), 3);
        assert_eq!(c.inbound_paths.len(), 3);
        assert_eq!(c.blast_radius, 3);
    }

    #[test]
    fn a_per_cluster_agent_writes_only_its_own_cluster_with_no_inbound_path() {
        let s = scenario(3);
        let c = of_setup(&s, &s.models.setups[1]);
        assert_eq!(c.topology, "pull-per-cluster");
        assert_eq!(c.holders.len(), 3);
        assert!(c.holders.iter().all(|h| h.clusters.len() == 1));
        assert!(c.inbound_paths.is_empty());
        assert_eq!(c.blast_radius, 1);
    }

    #[test]
    fn a_sharded_hub_holds_every_cluster_and_one_leak_writes_the_largest_shard() {
        let text = "name: t\nduration: 1h\nfleet: {clusters: 5, apps: 2}\nmodels:\n  gha: {kind: push, preset: github-actions}\n  hub: {kind: pull, preset: argocd, topology: hub, shards: 2, sharding: round-robin}\n";
        let s = Scenario::parse(text, "t.yaml").unwrap();
        let c = of_setup(&s, &s.models.setups[1]);
        assert_eq!(c.topology, "pull-hub");
        assert_eq!(c.holders.len(), 2);
        let mut sizes: Vec<usize> = c.holders.iter().map(|h| h.clusters.len()).collect();
        sizes.sort();
        // Round-robin over five sorted clusters: shards of 3 and 2.
        assert_eq!(sizes, [2, 3]);
        assert_eq!(c.blast_radius, 3);
        assert_eq!(c.inbound_paths.len(), 5);
    }
}
