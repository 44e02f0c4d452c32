//! The fleet: clusters and apps, by count (`clusters: 50`, `apps: 40`) or by name
//! (`clusters: [{name: prod-eu, environment: prod}]`, `apps: [{name: payments,
//! replicas: 6}, {prefix: svc, count: 20}]`), with each app group's replicas, rollout and
//! build override. The engine addresses both by index; names are for people.

use super::bounds;
use super::dist::Dist;
use super::duration::SECOND;
use super::strict;
use super::{IntOrPercent, Rollout};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;

/// A cluster the scenario names; `environment` is kept for environments and promotion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedCluster {
    #[serde(deserialize_with = "strict::text")]
    #[schemars(with = "super::schema::Label")]
    pub name: String,
    /// The environment the cluster belongs to (`prod`, `staging`).
    #[schemars(with = "Option<super::schema::Label>")]
    #[serde(
        default,
        deserialize_with = "strict::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<String>,
}

/// A group of apps alike: one app (`name`) or `count` apps named `<prefix>-0`,
/// `<prefix>-1`, …; with its replicas, rollout and build settings resolved against the
/// fleet's (presets expanded).
#[derive(Clone, Debug, PartialEq)]
pub struct AppGroup {
    /// The app's name (a group of one) or the prefix of its apps' names.
    pub name: String,
    /// `Some(count)` for a prefix group; `None` for a single named app.
    pub count: Option<NonZeroU32>,
    /// Index of the group's first app.
    pub first: u32,
    pub replicas: NonZeroU32,
    pub rollout: Rollout,
    /// The build duration of this group's apps, overriding each setup's `build`.
    pub build: Option<Dist>,
}

impl AppGroup {
    pub fn len(&self) -> u32 {
        self.count.map_or(1, NonZeroU32::get)
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The name of app `app` (an index into the whole fleet) of this group.
    fn app_name(&self, app: u32) -> String {
        match self.count {
            None => self.name.clone(),
            Some(_) => format!("{}-{}", self.name, app - self.first),
        }
    }
}

impl Serialize for AppGroup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self.count {
            None => m.serialize_entry("name", &self.name)?,
            Some(n) => {
                m.serialize_entry("prefix", &self.name)?;
                m.serialize_entry("count", &n)?;
            }
        }
        m.serialize_entry("replicas", &self.replicas)?;
        m.serialize_entry("rollout", &self.rollout)?;
        if let Some(b) = &self.build {
            m.serialize_entry("build", b)?;
        }
        m.end()
    }
}

/// The validated fleet. `clusters` and `apps` are always the counts; `named_clusters`
/// and `groups` are empty in the numeric form (every app then has `replicas` and
/// `rollout`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fleet {
    pub clusters: NonZeroU32,
    pub apps: NonZeroU32,
    /// The default replicas of an app (every app's in the numeric form).
    pub replicas: NonZeroU32,
    /// The default rollout of an app (every app's in the numeric form).
    pub rollout: Rollout,
    pub named_clusters: Vec<NamedCluster>,
    pub groups: Vec<AppGroup>,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            clusters: NonZeroU32::MIN,
            apps: NonZeroU32::new(10).expect("10 is not zero"),
            replicas: NonZeroU32::new(3).expect("3 is not zero"),
            rollout: Rollout::default(),
            named_clusters: Vec::new(),
            groups: Vec::new(),
        }
    }
}

impl Serialize for Fleet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        if self.named_clusters.is_empty() {
            m.serialize_entry("clusters", &self.clusters)?;
        } else {
            m.serialize_entry("clusters", &self.named_clusters)?;
        }
        if self.groups.is_empty() {
            m.serialize_entry("apps", &self.apps)?;
        } else {
            m.serialize_entry("apps", &self.groups)?;
        }
        m.serialize_entry("replicas", &self.replicas)?;
        m.serialize_entry("rollout", &self.rollout)?;
        m.end()
    }
}

impl Fleet {
    /// The group of app `app`, when the fleet has groups.
    fn group(&self, app: u32) -> Option<&AppGroup> {
        if self.groups.is_empty() {
            return None;
        }
        let i = self.groups.partition_point(|g| g.first <= app);
        self.groups.get(i.saturating_sub(1))
    }

    /// Replicas of app `app`.
    pub fn replicas_of(&self, app: u32) -> u32 {
        self.group(app).map_or(self.replicas, |g| g.replicas).get()
    }

    /// Rollout settings of app `app`.
    pub fn rollout_of(&self, app: u32) -> &Rollout {
        self.group(app).map_or(&self.rollout, |g| &g.rollout)
    }

    /// The build-duration distribution of app `app` when its group overrides the
    /// setups' own (`None`: use the setup's `build`).
    pub fn build_of(&self, app: u32) -> Option<&Dist> {
        self.group(app).and_then(|g| g.build.as_ref())
    }

    /// Whether apps differ in replicas or rollout.
    pub fn uniform_apps(&self) -> bool {
        self.groups
            .iter()
            .all(|g| g.replicas == self.replicas && g.rollout == self.rollout)
    }

    /// The name of cluster `c`: its given name, or its number in the numeric form.
    pub fn cluster_name(&self, c: u32) -> String {
        match self.named_clusters.get(c as usize) {
            Some(n) => n.name.clone(),
            None => c.to_string(),
        }
    }

    /// The environment cluster `c` belongs to, if the scenario says.
    pub fn environment_of(&self, c: u32) -> Option<&str> {
        self.named_clusters
            .get(c as usize)
            .and_then(|n| n.environment.as_deref())
    }

    /// The name of app `app`: its group's name, or `app-007` (as the live config
    /// repository names it) in the numeric form.
    pub fn app_name(&self, app: u32) -> String {
        match self.group(app) {
            Some(g) => g.app_name(app),
            None => format!("app-{app:03}"),
        }
    }

    /// The index of the cluster named `name`.
    pub fn cluster_index(&self, name: &str) -> Option<u32> {
        self.named_clusters
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u32)
    }

    /// The index of the app named `name`.
    pub fn app_index(&self, name: &str) -> Option<u32> {
        self.groups.iter().find_map(|g| match g.count {
            None => (g.name == name).then_some(g.first),
            Some(n) => {
                let i: u32 = name
                    .strip_prefix(&g.name)?
                    .strip_prefix('-')?
                    .parse()
                    .ok()?;
                // `svc-01` is not `svc-1`: the number must be written as the name is.
                (i < n.get() && name == g.app_name(g.first + i)).then_some(g.first + i)
            }
        })
    }

    /// The names a fault may give for a cluster, for an error message.
    pub fn cluster_names(&self) -> String {
        list(self.named_clusters.iter().map(|c| c.name.clone()))
    }

    /// The message for a cluster name the fleet does not have (a fault's or a
    /// threshold's `cluster:`), with the names it has or how to give them.
    pub fn unknown_cluster(&self, name: &str) -> String {
        if self.named_clusters.is_empty() {
            format!(
                "there is no cluster named `{name}`: this fleet's clusters are numbered 0..{}; name them with `fleet.clusters: [{{name: ...}}]` or give a number",
                self.clusters
            )
        } else {
            format!(
                "there is no cluster named `{name}`; the clusters are {}",
                self.cluster_names()
            )
        }
    }

    /// The names a fault may give for an app, for an error message.
    pub fn app_names(&self) -> String {
        list(self.groups.iter().map(|g| match g.count {
            None => g.name.clone(),
            Some(n) => format!("{0}-0 … {0}-{1}", g.name, n.get() - 1),
        }))
    }
}

fn list(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.collect();
    if v.len() > 12 {
        format!("{}, … ({} in all)", v[..12].join(", "), v.len())
    } else {
        v.join(", ")
    }
}

/// A count or a list, as `fleet.clusters` and `fleet.apps` are written.
#[derive(Debug)]
pub(super) enum CountOr<T> {
    Count(NonZeroU32),
    List(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for CountOr<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::IntoDeserializer;
        use serde::de::value::{BoolDeserializer, F64Deserializer, I64Deserializer};
        struct V<T>(std::marker::PhantomData<T>);
        fn count<'de, E: serde::de::Error, X: IntoDeserializer<'de, E>, T>(
            x: X,
        ) -> Result<CountOr<T>, E> {
            strict::count(x.into_deserializer()).map(CountOr::Count)
        }
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = CountOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number like 3, or a list")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<CountOr<T>, E> {
                count(v)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<CountOr<T>, E> {
                strict::count(I64Deserializer::<E>::new(v)).map(CountOr::Count)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<CountOr<T>, E> {
                strict::count(F64Deserializer::<E>::new(v)).map(CountOr::Count)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CountOr<T>, E> {
                count(v)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<CountOr<T>, E> {
                strict::count(BoolDeserializer::<E>::new(v)).map(CountOr::Count)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, a: A) -> Result<CountOr<T>, A::Error> {
                Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(a))
                    .map(CountOr::List)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An app group as written: one app (`name`) or `count` apps named `<prefix>-0`, … .
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AppGroup")]
pub(super) struct RawGroup {
    /// One app of this name.
    #[serde(default, deserialize_with = "strict::opt_text")]
    #[schemars(with = "Option<super::schema::Label>")]
    name: Option<String>,
    /// With `count`: apps named `<prefix>-0`, `<prefix>-1`, … .
    #[serde(default, deserialize_with = "strict::opt_text")]
    #[schemars(with = "Option<super::schema::Label>")]
    prefix: Option<String>,
    /// With `prefix`: how many apps.
    #[serde(default, deserialize_with = "strict::opt_count")]
    count: Option<NonZeroU32>,
    /// Pods per app (else the fleet's `replicas`).
    #[serde(default, deserialize_with = "strict::opt_count")]
    replicas: Option<NonZeroU32>,
    /// Overrides of the fleet's rollout, key by key.
    #[serde(default)]
    rollout: Option<RawRollout>,
    /// The build duration of these apps, overriding every setup's `build`.
    #[serde(default)]
    build: Option<Dist>,
}

/// A group's rollout: each key given overrides the fleet's.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RolloutOverride")]
struct RawRollout {
    /// Pod created → Ready.
    pod_start: Option<Dist>,
    /// Pods above the desired count during a rollout (`maxSurge`; a percentage may exceed
    /// 100%).
    #[serde(default)]
    #[schemars(schema_with = "super::schema::surge_schema")]
    max_surge: Option<IntOrPercent>,
    /// Pods below the desired count during a rollout (`maxUnavailable`).
    max_unavailable: Option<IntOrPercent>,
    /// A rollout without progress for this long is failed.
    progress_deadline: Option<super::Dur>,
}

/// `fleet:` as written: clusters and apps by count or by name.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Fleet")]
pub(super) struct RawFleet {
    /// How many clusters (`3`), or each by name (`[{name: prod-eu, environment: prod}]`).
    #[serde(default)]
    clusters: Option<CountOr<NamedCluster>>,
    /// How many apps (`40`), or app groups (`[{name: payments, replicas: 6}, {prefix: svc,
    /// count: 20}]`).
    #[serde(default)]
    apps: Option<CountOr<RawGroup>>,
    /// Pods per app.
    #[serde(default, deserialize_with = "strict::opt_count")]
    replicas: Option<NonZeroU32>,
    /// How every app rolls out (app groups may override it).
    #[serde(default)]
    #[schemars(with = "Option<Rollout>")]
    rollout: Rollout,
}

type Refusal = (String, String);

fn refuse<T>(key: impl Into<String>, message: String) -> Result<T, Refusal> {
    Err((key.into(), message))
}

fn label(key: &str, what: &str, name: &str) -> Result<(), Refusal> {
    if bounds::is_dns_label(name) {
        return Ok(());
    }
    refuse(
        key,
        format!(
            "`{name}` is not a valid {what}; expected a DNS-1123 label: 1 to {} lowercase letters, digits and `-`, starting and ending with a letter or digit",
            bounds::MAX_NAME
        ),
    )
}

impl RawFleet {
    /// Checks names, counts and each group's settings, and resolves groups against the
    /// fleet's defaults. Errors carry their key path (`fleet.apps[1].replicas`).
    pub(super) fn resolve(self) -> Result<Fleet, Refusal> {
        let replicas = self.replicas.unwrap_or(Fleet::default().replicas);
        let rollout = self.rollout;
        let (clusters, named_clusters) = match self.clusters {
            None => (NonZeroU32::MIN, Vec::new()),
            Some(CountOr::Count(n)) => (n, Vec::new()),
            Some(CountOr::List(list)) => {
                let n = u32::try_from(list.len()).ok().and_then(NonZeroU32::new);
                let Some(n) = n else {
                    return refuse(
                        "fleet.clusters",
                        "the list of clusters is empty; name at least one, e.g. `[{name: prod-eu}]`, or give a count".into(),
                    );
                };
                if n.get() > bounds::MAX_CLUSTERS {
                    return refuse("fleet.clusters", too_many_clusters(n.get()));
                }
                for (i, c) in list.iter().enumerate() {
                    label(
                        &format!("fleet.clusters[{i}].name"),
                        "cluster name",
                        &c.name,
                    )?;
                    if let Some(j) = list[..i].iter().position(|o| o.name == c.name) {
                        return refuse(
                            format!("fleet.clusters[{i}].name"),
                            format!(
                                "cluster `{}` is named twice (also fleet.clusters[{j}]); cluster names must be unique",
                                c.name
                            ),
                        );
                    }
                    if let Some(e) = &c.environment {
                        label(
                            &format!("fleet.clusters[{i}].environment"),
                            "environment name",
                            e,
                        )?;
                    }
                }
                (n, list)
            }
        };
        let (apps, groups) = match self.apps {
            None => (Fleet::default().apps, Vec::new()),
            Some(CountOr::Count(n)) => (n, Vec::new()),
            Some(CountOr::List(list)) => {
                if list.is_empty() {
                    return refuse(
                        "fleet.apps",
                        "the list of app groups is empty; give at least one, e.g. `[{name: payments}]`, or a count".into(),
                    );
                }
                let mut groups: Vec<AppGroup> = Vec::with_capacity(list.len());
                let mut first: u64 = 0;
                for (i, g) in list.into_iter().enumerate() {
                    let key = format!("fleet.apps[{i}]");
                    let group = group(&key, g, first, replicas, &rollout)?;
                    for other in &groups {
                        if other.name == group.name {
                            return refuse(
                                format!("{key}.{}", group_key(&group)),
                                format!(
                                    "`{}` names two app groups; app and prefix names must be unique",
                                    group.name
                                ),
                            );
                        }
                    }
                    first += group.len() as u64;
                    if first > bounds::MAX_APPS as u64 {
                        return refuse("fleet.apps", too_many_apps(first));
                    }
                    groups.push(group);
                }
                // A single app may not take a name a prefix group generates.
                for g in groups.iter().filter(|g| g.count.is_none()) {
                    for p in groups.iter().filter(|p| p.count.is_some()) {
                        let fleet = Fleet {
                            groups: vec![p.clone()],
                            ..Fleet::default()
                        };
                        if fleet.app_index(&g.name).is_some() {
                            return refuse(
                                "fleet.apps",
                                format!(
                                    "app `{}` is also a name of the `{}` group's apps; app names must be unique",
                                    g.name, p.name
                                ),
                            );
                        }
                    }
                }
                let n = NonZeroU32::new(first as u32).expect("at least one group of one app");
                (n, groups)
            }
        };
        let fleet = Fleet {
            clusters,
            apps,
            replicas,
            rollout,
            named_clusters,
            groups,
        };
        check_counts(&fleet)?;
        check_shape("fleet", fleet.replicas, &fleet.rollout)?;
        Ok(fleet)
    }
}

fn group_key(g: &AppGroup) -> &'static str {
    if g.count.is_some() { "prefix" } else { "name" }
}

fn group(
    key: &str,
    g: RawGroup,
    first: u64,
    replicas: NonZeroU32,
    rollout: &Rollout,
) -> Result<AppGroup, Refusal> {
    let (name, count) = match (g.name, g.prefix, g.count) {
        (Some(name), None, None) => {
            label(&format!("{key}.name"), "app name", &name)?;
            (name, None)
        }
        (None, Some(prefix), Some(count)) => {
            let last = format!("{prefix}-{}", count.get() - 1);
            label(&format!("{key}.prefix"), "app name prefix", &prefix)?;
            if !bounds::is_dns_label(&last) {
                return refuse(
                    format!("{key}.prefix"),
                    format!(
                        "the last app of this group would be `{last}`, longer than {} characters; shorten the prefix",
                        bounds::MAX_NAME
                    ),
                );
            }
            (prefix, Some(count))
        }
        (Some(_), _, _) => {
            return refuse(
                format!("{key}.name"),
                "an app group has either `name` (one app) or `prefix` and `count` (apps <prefix>-0, <prefix>-1, …), not both".into(),
            );
        }
        (None, Some(_), None) => {
            return refuse(
                format!("{key}.count"),
                "a `prefix` group needs `count`, the number of its apps, e.g. `count: 20`".into(),
            );
        }
        (None, _, _) => {
            return refuse(
                key.to_string(),
                "an app group needs `name` (one app, e.g. `name: payments`) or `prefix` and `count` (e.g. `prefix: svc, count: 20`)".into(),
            );
        }
    };
    let replicas = g.replicas.unwrap_or(replicas);
    let mut r = rollout.clone();
    if let Some(o) = g.rollout {
        if let Some(x) = o.pod_start {
            r.pod_start = x;
        }
        if let Some(x) = o.max_surge {
            r.max_surge = x;
        }
        if let Some(x) = o.max_unavailable {
            r.max_unavailable = x;
        }
        if let Some(x) = o.progress_deadline {
            r.progress_deadline = x;
        }
    }
    check_shape(key, replicas, &r)?;
    Ok(AppGroup {
        name,
        count,
        first: first as u32,
        replicas,
        rollout: r,
        build: g.build,
    })
}

fn too_many_clusters(n: u32) -> String {
    format!(
        "{n} clusters is more than {}, beyond the largest published multi-cluster tests (hundreds of clusters)",
        bounds::MAX_CLUSTERS
    )
}

fn too_many_apps(n: u64) -> String {
    format!(
        "{n} apps per cluster is more than {}, beyond what one cluster's API server holds in practice",
        bounds::MAX_APPS
    )
}

/// The fleet's counts against Kubernetes' limits and the engine's indices.
fn check_counts(fleet: &Fleet) -> Result<(), Refusal> {
    let (clusters, apps) = (fleet.clusters.get(), fleet.apps.get());
    if clusters > bounds::MAX_CLUSTERS {
        return refuse("fleet.clusters", too_many_clusters(clusters));
    }
    if apps > bounds::MAX_APPS {
        return refuse("fleet.apps", too_many_apps(apps as u64));
    }
    if clusters as u64 * apps as u64 > bounds::MAX_DEPLOYMENTS {
        return refuse(
            "fleet.apps",
            format!(
                "{clusters} clusters × {apps} apps is {} Deployments, more than {} (the engine indexes Deployments with u32)",
                clusters as u64 * apps as u64,
                bounds::MAX_DEPLOYMENTS
            ),
        );
    }
    Ok(())
}

/// One app shape (the fleet's default, or a group's): replicas and rollout against
/// Kubernetes' limits. `key` is `fleet` or `fleet.apps[i]`.
fn check_shape(key: &str, replicas: NonZeroU32, rollout: &Rollout) -> Result<(), Refusal> {
    let replicas = replicas.get();
    if replicas > bounds::MAX_REPLICAS {
        return refuse(
            format!("{key}.replicas"),
            format!(
                "{replicas} replicas does not fit Kubernetes' spec.replicas, an int32 (at most {})",
                bounds::MAX_REPLICAS
            ),
        );
    }
    for (k, v) in [
        ("max_surge", rollout.max_surge),
        ("max_unavailable", rollout.max_unavailable),
    ] {
        if let IntOrPercent::Count(n) = v
            && n > bounds::MAX_REPLICAS
        {
            return refuse(
                format!("{key}.rollout.{k}"),
                format!(
                    "{n} pods does not fit Kubernetes' IntOrString, an int32 (at most {})",
                    bounds::MAX_REPLICAS
                ),
            );
        }
    }
    let deadline = rollout.progress_deadline.0;
    if !(SECOND..=bounds::MAX_PROGRESS_DEADLINE).contains(&deadline) {
        return refuse(
            format!("{key}.rollout.progress_deadline"),
            format!(
                "`{}` is outside 1s..{}s; Kubernetes' progressDeadlineSeconds is an int32 number of seconds above zero",
                rollout.progress_deadline,
                i32::MAX
            ),
        );
    }
    // The API server refuses both written as zero; both rounding to zero is allowed and
    // resolved to maxUnavailable 1 (`Rollout::fenceposts`).
    if rollout.max_surge.is_zero() && rollout.max_unavailable.is_zero() {
        return refuse(
            format!("{key}.rollout.max_surge"),
            "max_surge and max_unavailable are both zero, so a rollout could never progress (Kubernetes refuses this too: maxUnavailable may not be 0 when maxSurge is 0); raise one of them".into(),
        );
    }
    if let IntOrPercent::Percent(p) = rollout.max_unavailable
        && p > 100
    {
        return refuse(
            format!("{key}.rollout.max_unavailable"),
            format!(
                "`{p}%` is above 100%; max_unavailable can be at most 100% of the pods (maxSurge may exceed it)"
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Arrival, Fault, Scenario};
    use super::*;

    const NAMED: &str = "name: t\nduration: 1h\nfleet:\n  clusters:\n    - { name: prod-eu, environment: prod }\n    - { name: prod-us, environment: prod }\n    - { name: staging }\n  replicas: 3\n  apps:\n    - { name: payments, replicas: 6, rollout: { max_surge: 1, max_unavailable: 0 }, build: { dist: fixed, value: 7m } }\n    - { prefix: svc, count: 4 }\n    - { name: web, rollout: { progress_deadline: 120s } }\n";

    fn parse(text: &str) -> Scenario {
        Scenario::parse(text, "t.yaml").unwrap()
    }

    fn refused(text: &str) -> String {
        Scenario::parse(text, "t.yaml")
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn named_clusters_and_app_groups_resolve_to_indices_in_order() {
        let s = parse(NAMED);
        assert_eq!((s.clusters(), s.apps()), (3, 6));
        let f = &s.fleet;
        assert_eq!(f.cluster_name(1), "prod-us");
        assert_eq!(f.environment_of(0), Some("prod"));
        assert_eq!(f.environment_of(2), None);
        assert_eq!(f.cluster_index("staging"), Some(2));
        let names: Vec<String> = (0..6).map(|a| f.app_name(a)).collect();
        assert_eq!(
            names,
            ["payments", "svc-0", "svc-1", "svc-2", "svc-3", "web"]
        );
        assert_eq!(f.app_index("svc-3"), Some(4));
        assert_eq!(f.app_index("svc-4"), None);
        assert_eq!(f.app_index("svc-03"), None);
        assert_eq!(
            [0, 1, 4, 5].map(|a| f.replicas_of(a)),
            [6, 3, 3, 3],
            "a group without replicas takes the fleet's"
        );
        assert_eq!(f.rollout_of(0).max_surge, IntOrPercent::Count(1));
        assert_eq!(f.rollout_of(0).pod_start, Rollout::default().pod_start);
        assert_eq!(f.rollout_of(5).progress_deadline.0, 120 * SECOND);
        assert_eq!(f.rollout_of(5).max_surge, IntOrPercent::Percent(25));
        assert_eq!(s.build_for(0), Some(&Dist::fixed(420 * SECOND)));
        assert_eq!(s.build_for(3), None);
        assert!(!f.uniform_apps());
    }

    #[test]
    fn the_numeric_form_numbers_clusters_and_names_apps_as_the_live_repository_does() {
        let s = parse("name: t\nduration: 1h\nfleet: { clusters: 2, apps: 12, replicas: 5 }\n");
        let f = &s.fleet;
        assert!(f.named_clusters.is_empty() && f.groups.is_empty() && f.uniform_apps());
        assert_eq!(
            (f.cluster_name(1), f.app_name(11)),
            ("1".into(), "app-011".into())
        );
        assert_eq!(f.replicas_of(11), 5);
        let json = serde_json::to_value(&s.fleet).unwrap();
        assert_eq!(json["clusters"], 2);
        assert_eq!(json["apps"], 12);
    }

    #[test]
    fn the_named_form_is_written_back_with_names_and_resolved_settings() {
        let json = serde_json::to_value(&parse(NAMED).fleet).unwrap();
        assert_eq!(json["clusters"][0]["name"], "prod-eu");
        assert_eq!(json["clusters"][0]["environment"], "prod");
        assert_eq!(json["apps"][0]["name"], "payments");
        assert_eq!(json["apps"][0]["replicas"], 6);
        assert_eq!(json["apps"][1]["prefix"], "svc");
        assert_eq!(json["apps"][1]["count"], 4);
        assert_eq!(json["apps"][2]["rollout"]["progress_deadline"], "2m");
    }

    #[test]
    fn faults_address_clusters_and_apps_by_name_or_number() {
        let s = parse(&format!(
            "{NAMED}faults:\n  - {{ kind: cluster_loss, cluster: staging, at: 10m, rebuild_after: 5m }}\n  - {{ kind: drift, change: scale, at: 5m, cluster: prod-us, app: svc-2 }}\n  - {{ kind: bad_release, at: 20m, rollback_after: 5m, app: web }}\n  - {{ kind: reconciler_crash, at: 30m, restart_after: 1m, cluster: 0 }}\n"
        ));
        assert_eq!(s.faults[0].cluster(), Some(2));
        assert_eq!(
            (s.faults[1].cluster(), s.faults[1].app()),
            (Some(1), Some(3))
        );
        assert_eq!(s.faults[2].app(), Some(5));
        assert!(matches!(
            s.faults[3],
            Fault::ReconcilerCrash {
                cluster: Some(0),
                ..
            }
        ));
    }

    #[test]
    fn an_unknown_cluster_or_app_in_a_fault_is_refused_with_what_exists() {
        let e = refused(&format!(
            "{NAMED}faults:\n  - {{ kind: cluster_loss, cluster: prod-ap, at: 10m, rebuild_after: 5m }}\n"
        ));
        assert!(
            e.contains("faults[0].cluster")
                && e.contains("`prod-ap`")
                && e.contains("prod-eu, prod-us, staging"),
            "{e}"
        );
        assert!(e.starts_with("t.yaml:14:"), "{e}");
        let e = refused(&format!(
            "{NAMED}faults:\n  - {{ kind: bad_release, at: 10m, rollback_after: 5m, app: checkout }}\n"
        ));
        assert!(
            e.contains("faults[0].app") && e.contains("payments, svc-0 … svc-3, web"),
            "{e}"
        );
        let e = refused(
            "name: t\nduration: 1h\nfleet: { clusters: 3 }\nfaults:\n  - { kind: cluster_loss, cluster: prod-eu, at: 10m, rebuild_after: 5m }\n",
        );
        assert!(
            e.contains("numbered 0..3") && e.contains("fleet.clusters"),
            "{e}"
        );
        let e = refused(&format!(
            "{NAMED}faults:\n  - {{ kind: git_outage, cluster: prod-eu, at: 10m, duration: 5m }}\n"
        ));
        assert!(e.contains("`cluster` does not apply"), "{e}");
    }

    #[test]
    fn duplicate_and_malformed_names_are_refused_at_their_key() {
        for (fleet, key, needle) in [
            (
                "clusters: [{ name: prod-eu }, { name: prod-eu }]",
                "fleet.clusters[1].name",
                "named twice",
            ),
            (
                "clusters: [{ name: Prod_EU }]",
                "fleet.clusters[0].name",
                "DNS-1123",
            ),
            (
                "clusters: [{ name: a, environment: \"pro d\" }]",
                "fleet.clusters[0].environment",
                "DNS-1123",
            ),
            ("clusters: []", "fleet.clusters", "empty"),
            (
                "clusters: [{ name: a, region: eu }]",
                "fleet.clusters[0]",
                "region",
            ),
            (
                "apps: [{ name: api }, { prefix: api, count: 2 }]",
                "fleet.apps[1].prefix",
                "unique",
            ),
            (
                "apps: [{ name: svc-1 }, { prefix: svc, count: 2 }]",
                "fleet.apps",
                "`svc-1` is also a name",
            ),
            (
                "apps: [{ prefix: svc }]",
                "fleet.apps[0].count",
                "needs `count`",
            ),
            ("apps: [{ replicas: 2 }]", "fleet.apps[0]", "needs `name`"),
            (
                "apps: [{ name: a, prefix: b, count: 2 }]",
                "fleet.apps[0].name",
                "not both",
            ),
            (
                "apps: [{ name: a, replicas: 1, rollout: { max_surge: 0, max_unavailable: 0 } }]",
                "fleet.apps[0].rollout.max_surge",
                "both zero",
            ),
            (
                "apps: [{ name: a, replicas: 2147483648 }]",
                "fleet.apps[0].replicas",
                "int32",
            ),
            (
                "apps: [{ prefix: a, count: 60000 }, { prefix: b, count: 60000 }]",
                "fleet.apps",
                "more than 100000",
            ),
            ("apps: 1.5", "fleet.apps", "decimal number"),
            ("clusters: \"3\"", "fleet.clusters", "text"),
        ] {
            let e = refused(&format!("name: t\nduration: 1h\nfleet:\n  {fleet}\n"));
            assert!(e.contains(key) && e.contains(needle), "{fleet}: {e}");
        }
    }

    #[test]
    fn working_hours_are_parsed_with_the_commits_and_refused_for_replay() {
        let s = parse(
            "name: t\nduration: 1h\nworkload:\n  commits: { arrival: poisson, mean_interval: 10m, working_hours: { days: mon-fri, hours: 9-17 } }\n",
        );
        assert!(matches!(
            s.workload.commits,
            Arrival::Poisson {
                working_hours: Some(_),
                ..
            }
        ));
        let e = refused(
            "name: t\nduration: 1h\nworkload:\n  commits: { arrival: replay, repo: r, working_hours: { days: mon-fri, hours: 9-17 } }\n",
        );
        assert!(e.contains("working_hours"), "{e}");
        let e = refused(
            "name: t\nduration: 1h\nworkload:\n  commits:\n    arrival: poisson\n    mean_interval: 10m\n    working_hours: { days: mon-fry, hours: 9-17 }\n",
        );
        assert!(
            e.contains("workload.commits") && e.contains("`fry` is not a day"),
            "{e}"
        );
    }
}
