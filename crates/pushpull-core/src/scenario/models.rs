//! The two delivery models' settings and their presets. A preset fills every key with
//! the upstream tool's default; keys written in the scenario override it one by one
//! (nested maps too: `poll: {interval: 60s}` keeps the preset's jitter).

use super::dist::Dist;
use super::duration::{Dur, MINUTE, Nanos, SECOND};
use crate::metric::ModelKind;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;

// ---------------------------------------------------------------- push pipeline

/// The push pipeline a setup starts from: every key it does not write takes the preset's
/// value (`custom` is github-actions' values, named as yours).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PushPreset {
    #[default]
    GithubActions,
    Jenkins,
    Custom,
}

/// What happens to a run when every runner is busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Concurrency {
    /// Every run waits its turn for a runner, FIFO; none is dropped.
    Queue,
    /// GitHub Actions concurrency group: one running, one pending; a newer run
    /// replaces (cancels) the pending one.
    CancelPending,
    /// Jenkins with `disableConcurrentBuilds()`: one build of the job runs at a time, and
    /// a trigger while a build of the job waits in the queue (its quiet period, or behind
    /// the running one) folds into it; that build builds the newest commit.
    Fold,
}

/// What a `cancel-pending` concurrency group wraps (GitHub Actions `concurrency:` at the
/// workflow's top level or on the deploy job).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ConcurrencyScope {
    /// The whole workflow: a run waits in the group before it builds.
    #[default]
    Workflow,
    /// Only the deploy job: builds run side by side; a run joins the group when its build
    /// ends, and its deploy job takes a runner again once admitted.
    DeployJob,
}

/// A scheduled job that re-applies everything (`drift_check: {every: 24h}`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftCheck {
    /// How often a scheduled job re-applies every app to every cluster.
    pub every: Dur,
}

/// The word `none` or a map of settings (`drift_check: none | {every: 24h}`), with an
/// error that says so when it is neither.
#[derive(Clone, Debug, PartialEq)]
pub struct NoneOr<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NoneOr<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = NoneOr<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`none` or a map of settings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == "none" {
                    Ok(NoneOr(None))
                } else {
                    Err(E::custom(format!(
                        "`{v}` is not valid here; expected `none` or a map of settings"
                    )))
                }
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(NoneOr(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| NoneOr(Some(t)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushConfig {
    pub preset: PushPreset,
    pub runners: u32,
    pub queue_wait: Dist,
    pub build: Dist,
    pub apply: Dist,
    pub apply_parallelism: u32,
    pub wait_for_rollout: bool,
    pub concurrency: Concurrency,
    /// What the `cancel-pending` group wraps.
    pub concurrency_scope: ConcurrencyScope,
    #[serde(serialize_with = "ser_drift_check")]
    pub drift_check: Option<Nanos>,
    /// How the team rolls back a bad release.
    pub rollback: Rollback,
}

fn ser_drift_check<S: serde::Serializer>(v: &Option<Nanos>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_str("none"),
        Some(n) => DriftCheck { every: Dur(*n) }.serialize(s),
    }
}

impl PushConfig {
    pub fn preset(p: PushPreset) -> PushConfig {
        match p {
            // GitHub-hosted runners: a wait for a runner that is mostly seconds with a
            // tail of minutes (lognormal, median 5 s, p99 5 min: docs/PRESETS.md), one
            // deploy per concurrency group with the newest pending run replacing older
            // ones.
            PushPreset::GithubActions | PushPreset::Custom => PushConfig {
                preset: p,
                runners: 2,
                queue_wait: Dist::LogNormal {
                    median: 5 * SECOND,
                    p99: 5 * MINUTE,
                },
                build: Dist::Normal {
                    mean: 4 * MINUTE,
                    sd: MINUTE,
                },
                apply: Dist::fixed(2 * SECOND),
                apply_parallelism: 5,
                wait_for_rollout: true,
                concurrency: Concurrency::CancelPending,
                concurrency_scope: ConcurrencyScope::Workflow,
                drift_check: None,
                rollback: Rollback::default(),
            },
            // Jenkins: the 5 s quiet period before a build is queued, executors as
            // runners, `disableConcurrentBuilds()`: one build at a time, later triggers
            // folded into the one queued build.
            PushPreset::Jenkins => PushConfig {
                preset: p,
                runners: 2,
                queue_wait: Dist::fixed(5 * SECOND),
                build: Dist::Normal {
                    mean: 4 * MINUTE,
                    sd: MINUTE,
                },
                apply: Dist::fixed(2 * SECOND),
                apply_parallelism: 5,
                wait_for_rollout: true,
                concurrency: Concurrency::Fold,
                concurrency_scope: ConcurrencyScope::Workflow,
                drift_check: None,
                rollback: Rollback::default(),
            },
        }
    }
}

/// A push setup's settings: a preset, then the keys that override it.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PushSettings")]
pub struct RawPush {
    /// The pipeline whose defaults the other keys override.
    preset: Option<PushPreset>,
    /// CI runners (or Jenkins executors) that may run at once.
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    runners: Option<NonZeroU32>,
    /// Push event → the run enters the runner queue (shared CI stage; with a `ci:` block,
    /// write it there).
    queue_wait: Option<Dist>,
    /// Build and test steps up to the published image (shared CI stage; with a `ci:`
    /// block, write it there).
    build: Option<Dist>,
    /// One `kubectl apply` of one app to one cluster.
    apply: Option<Dist>,
    /// How many applies the deploy job runs at once.
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    apply_parallelism: Option<NonZeroU32>,
    /// Whether the deploy job waits for each rollout to finish (`kubectl rollout status`).
    wait_for_rollout: Option<bool>,
    /// What happens to a run when every runner is busy.
    concurrency: Option<Concurrency>,
    /// What a `cancel-pending` group wraps: `workflow` (the whole run) or `deploy-job`
    /// (builds run side by side; only deploys queue in the group).
    concurrency_scope: Option<ConcurrencyScope>,
    /// `none`, or a scheduled job that re-applies everything (`{every: 24h}`).
    drift_check: Option<NoneOr<DriftCheck>>,
    rollback: Option<RawRollback<PushRollback>>,
}

impl RawPush {
    /// Whether the setup writes a key of the shared CI stage (`queue_wait`, `build`).
    pub fn writes_ci(&self) -> bool {
        self.queue_wait.is_some() || self.build.is_some()
    }

    pub fn resolve(self) -> PushConfig {
        let mut c = PushConfig::preset(self.preset.unwrap_or_default());
        if let Some(v) = self.runners {
            c.runners = v.get();
        }
        if let Some(v) = self.queue_wait {
            c.queue_wait = v;
        }
        if let Some(v) = self.build {
            c.build = v;
        }
        if let Some(v) = self.apply {
            c.apply = v;
        }
        if let Some(v) = self.apply_parallelism {
            c.apply_parallelism = v.get();
        }
        if let Some(v) = self.wait_for_rollout {
            c.wait_for_rollout = v;
        }
        if let Some(v) = self.concurrency {
            c.concurrency = v;
        }
        if let Some(v) = self.concurrency_scope {
            c.concurrency_scope = v;
        }
        if let Some(v) = self.drift_check {
            c.drift_check = v.0.map(|d| d.every.0);
        }
        if let Some(r) = self.rollback {
            r.overlay(&mut c.rollback);
        }
        c
    }
}

// ---------------------------------------------------------------- pull reconciler

/// The reconciler a setup starts from: every key it does not write takes the preset's
/// value (`custom` is argocd's values, named as yours).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PullPreset {
    #[default]
    Argocd,
    Flux,
    Custom,
}

/// How the reconciler notices and corrects a change made by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriftDetection {
    /// React to a live change seen on the watch (Argo CD self-heal).
    Watch,
    /// Diff and correct every `reconcile_interval` (Flux Kustomization).
    Interval,
    /// Never correct drift on its own.
    None,
}

/// How a pull reconciler decides to compare an app with git.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Refresh {
    /// Each app polls git on its own timer (`poll.interval` + up to `poll.jitter`), one
    /// ref check per poll (Flux's GitRepository interval).
    Poll,
    /// Argo CD: the informer resyncs every `poll.interval`, each app's refresh follows
    /// after up to `poll.jitter` and is skipped when the app was compared within the
    /// interval; the branch resolves through a revision cache of `revision_cache`.
    Resync,
    /// Flux: one GitRepository per config repository and cluster checks the branch once
    /// per `poll.interval` (+ up to `poll.jitter`); a new revision is fetched once and
    /// every Kustomization of the source (one per app) is reconciled through
    /// `concurrency` workers (see `kustomization`).
    Source,
}

/// A Flux Kustomization's reconcile (with `refresh: source`): kustomize build, a
/// server-side apply of each object, and with `wait` a health check that polls until the
/// objects are ready or `timeout`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Kustomization {
    /// The kustomize build (render) of one Kustomization.
    pub render: Dist,
    /// Objects each Kustomization applies (`apply` is the time of one).
    pub objects: u32,
    /// `spec.wait`: hold the worker until every applied object is ready.
    pub wait: bool,
    /// `spec.timeout`: how long the health check may take (at least 30 s, as
    /// kustomize-controller's `GetTimeout` makes it).
    pub timeout: Dur,
    /// How often the health check polls the objects' status.
    pub health_poll: Dur,
}

/// A Flux Kustomization's reconcile (with `refresh: source`).
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Kustomization")]
struct RawKustomization {
    /// The kustomize build (render) of one Kustomization.
    render: Option<Dist>,
    /// Objects each Kustomization applies (`apply` is the time of one).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    objects: Option<NonZeroU32>,
    /// `spec.wait`: hold the worker until every applied object is ready.
    wait: Option<bool>,
    /// `spec.timeout`: how long the health check may take (below 30 s counts as 30 s, as
    /// in kustomize-controller).
    timeout: Option<Dur>,
    /// How often the health check polls the objects' status (kustomize-controller: 5 s).
    health_poll: Option<Dur>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub interval: Dur,
    pub jitter: Dur,
}

/// How often the reconciler fetches git.
#[derive(Clone, Copy, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Poll")]
struct RawPoll {
    /// The time between fetches.
    interval: Option<Dur>,
    /// A uniform extra of up to this much on each interval.
    jitter: Option<Dur>,
}

/// A git webhook that triggers a fetch at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Push → the webhook reaches the reconciler.
    pub delay: Dist,
    /// The share of webhooks that never arrive (polling still catches the commit).
    #[serde(default)]
    pub loss: Probability,
}

/// A share between 0 and 1 inclusive, written as a number (`0.05`) or a percentage
/// (`5%`); always written out as the number.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Default)]
pub struct Probability(pub f64);

impl Probability {
    /// `v` as a share, or a message in the scenario's words.
    fn of(v: f64, written: &str) -> Result<Probability, String> {
        if (0.0..=1.0).contains(&v) {
            Ok(Probability(v))
        } else {
            Err(format!(
                "`{written}` is not a share from 0 to 1; expected a number like 0.05 or 5%"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Probability;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number like 0.05 or 5%")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Probability, E> {
                Probability::of(v, &v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Probability, E> {
                Probability::of(v as f64, &v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Probability, E> {
                Probability::of(v as f64, &v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Probability, E> {
                if v.trim().ends_with('%') {
                    let p = super::Percent::parse(v).map_err(|_| {
                        E::custom(format!(
                            "`{v}` is not a share; expected a number like 0.05 or 5%"
                        ))
                    })?;
                    Probability::of(p.0, v).map_err(E::custom)
                } else {
                    Err(E::custom(format!(
                        "`{v}` is text; expected a number like 0.05 or 5%"
                    )))
                }
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Probability, E> {
                Err(E::custom(format!(
                    "`{v}` is not a share; expected a number like 0.05 or 5%"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Self-heal: a backoff between repairs of the same app, reset after a quiet cooldown.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SelfHeal {
    #[serde(flatten)]
    pub backoff: Backoff,
    /// How long after its last sync an app that is still in sync starts the backoff again
    /// from `initial` (Argo CD v3.1–v3.2 `--self-heal-backoff-cooldown-seconds`); `None`:
    /// never, the count resets only when a new revision is synced (Argo CD ≥ v3.3, where
    /// the flag has no effect).
    #[serde(serialize_with = "ser_opt_dur")]
    pub cooldown: Option<Dur>,
}

fn ser_opt_dur<S: serde::Serializer>(v: &Option<Dur>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_str("none"),
        Some(d) => d.serialize(s),
    }
}

fn ser_opt_count<S: serde::Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_str("none"),
        Some(n) => s.serialize_u32(*n),
    }
}

/// A scalar setting or the word `none` (`cooldown: none`, `limit: 5`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrNone<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OrNone<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::IntoDeserializer;
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = OrNone<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`none` or a value")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                if v == "none" {
                    return Ok(OrNone(None));
                }
                let de: serde::de::value::StrDeserializer<E> = v.into_deserializer();
                T::deserialize(de).map(|t| OrNone(Some(t)))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrNone(None))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                let de: serde::de::value::U64Deserializer<E> = v.into_deserializer();
                T::deserialize(de).map(|t| OrNone(Some(t)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                let de: serde::de::value::I64Deserializer<E> = v.into_deserializer();
                T::deserialize(de).map(|t| OrNone(Some(t)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                let de: serde::de::value::F64Deserializer<E> = v.into_deserializer();
                T::deserialize(de).map(|t| OrNone(Some(t)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for OrNone<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("OrNone_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"enum": ["none", null], "description": "`none`: switched off."},
                g.subschema_for::<T>(),
            ],
        })
    }
}

/// Self-heal: a backoff between repairs of the same app, reset after a quiet cooldown.
#[derive(Clone, Copy, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SelfHeal")]
struct RawSelfHeal {
    /// The delay before the first repair.
    initial: Option<Dur>,
    /// Each further repair waits this many times longer.
    factor: Option<Factor>,
    /// The longest delay.
    max: Option<Dur>,
    /// How long after its last sync an app still in sync starts the backoff again from
    /// `initial` (Argo CD v3.1–v3.2); `none`: only a new revision resets it (Argo CD ≥ v3.3).
    cooldown: Option<OrNone<Dur>>,
}

/// A backoff factor: from 1 to [`MAX_FACTOR`](super::bounds::MAX_FACTOR) (1,000).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(try_from = "super::strict::Real")]
struct Factor(f64);

impl schemars::JsonSchema for Factor {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Factor".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "number",
            "minimum": 1,
            "maximum": super::bounds::MAX_FACTOR,
            "description": "A backoff factor from 1 (a constant delay) to 1000.",
        })
    }
}

impl TryFrom<super::strict::Real> for Factor {
    type Error = String;
    fn try_from(v: super::strict::Real) -> Result<Self, String> {
        let v = v.0;
        if v.is_finite() && (1.0..=super::bounds::MAX_FACTOR).contains(&v) {
            Ok(Factor(v))
        } else {
            Err(format!(
                "`{v}` is not a backoff factor; expected a number from 1 to 1000 (1 keeps the delay constant; above 1000 any cap is reached at the second retry)"
            ))
        }
    }
}

/// A backoff: `initial × factorⁿ`, capped at `max` (fetch and sync retries, self-heal).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Backoff {
    pub initial: Dur,
    pub factor: f64,
    pub max: Dur,
}

impl Backoff {
    /// The delay before the next attempt after `failures` failures in a row (≥ 1).
    pub fn delay(&self, failures: u32) -> Nanos {
        let n = failures.saturating_sub(1).min(64) as i32;
        let d = super::duration::secs(self.initial.0) * self.factor.powi(n);
        super::duration::from_secs_f64(d.min(super::duration::secs(self.max.0)))
    }
}

/// A pull setup's retry of a failed fetch or sync: a backoff, a limit on sync retries,
/// and which revision a retry syncs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Retry {
    #[serde(flatten)]
    pub backoff: Backoff,
    /// Retries of one failed sync before the reconciler gives that revision up (Argo CD's
    /// `syncPolicy.retry.limit`, 5 for automated sync); `None`: retried until it works
    /// (Flux). A fetch is always retried.
    #[serde(serialize_with = "ser_opt_count")]
    pub limit: Option<u32>,
    /// A retry syncs the newest revision known rather than the one that failed (Argo CD's
    /// `syncPolicy.retry.refresh`, false by default; Flux reconciles the latest artifact).
    pub refresh: bool,
}

impl std::ops::Deref for Retry {
    type Target = Backoff;
    fn deref(&self) -> &Backoff {
        &self.backoff
    }
}

/// A backoff: `initial × factorⁿ`, capped at `max`, with a limit on sync retries.
#[derive(Clone, Copy, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Backoff")]
struct RawBackoff {
    /// The delay after the first failure.
    initial: Option<Dur>,
    /// Each further failure waits this many times longer.
    factor: Option<Factor>,
    /// The longest delay.
    max: Option<Dur>,
    /// Retries of one failed sync before that revision is given up (Argo CD
    /// `syncPolicy.retry.limit`); `none`: no limit.
    limit: Option<OrNone<u32>>,
    /// A retry syncs the newest revision known, not the one that failed (Argo CD
    /// `syncPolicy.retry.refresh`).
    refresh: Option<bool>,
}

impl RawBackoff {
    /// Overrides the preset's values with the ones the scenario gives.
    fn overlay(self, b: &mut Backoff) {
        if let Some(v) = self.initial {
            b.initial = v;
        }
        if let Some(v) = self.factor {
            b.factor = v.0;
        }
        if let Some(v) = self.max {
            b.max = v;
        }
    }

    fn overlay_retry(self, r: &mut Retry) {
        self.overlay(&mut r.backoff);
        if let Some(v) = self.limit {
            r.limit = v.0;
        }
        if let Some(v) = self.refresh {
            r.refresh = v;
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PullConfig {
    pub preset: PullPreset,
    pub refresh: Refresh,
    pub poll: Poll,
    /// `refresh: resync`: how long a resolved branch revision is reused
    /// (`--revision-cache-expiration`); 0 resolves at every refresh.
    pub revision_cache: Dur,
    #[serde(serialize_with = "ser_webhook")]
    pub webhook: Option<Webhook>,
    pub drift_detection: DriftDetection,
    pub self_heal: SelfHeal,
    pub reconcile_interval: Dur,
    /// A uniform extra of up to this much on each reconcile interval.
    pub reconcile_jitter: Dur,
    /// Backoff after a failed fetch or sync, and the limit on sync retries.
    pub retry: Retry,
    /// One apply of one app (with `refresh: source`: of one object of a Kustomization).
    pub apply: Dist,
    pub concurrency: u32,
    /// `refresh: source`: how a Kustomization reconciles.
    pub kustomization: Kustomization,
    /// How the new image tag reaches the config repository after CI.
    pub write_back: WriteBack,
    /// How the team rolls back a bad release.
    pub rollback: Rollback,
    /// `topology: hub`: the Argo CD application controller that serves every cluster
    /// (`None`: one reconciler per cluster, `topology: per-cluster`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<Box<Hub>>,
}

fn ser_webhook<S: serde::Serializer>(v: &Option<Webhook>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_str("none"),
        Some(w) => w.serialize(s),
    }
}

impl PullConfig {
    pub fn preset(p: PullPreset) -> PullConfig {
        match p {
            // Argo CD: timeout.reconciliation 120 s with 60 s jitter, self-heal on watch
            // events with backoff 2 s × 3ⁿ capped at 300 s, 10 operation processors.
            PullPreset::Argocd | PullPreset::Custom => PullConfig {
                preset: p,
                refresh: Refresh::Resync,
                revision_cache: Dur(3 * MINUTE),
                poll: Poll {
                    interval: Dur(120 * SECOND),
                    jitter: Dur(60 * SECOND),
                },
                webhook: None,
                drift_detection: DriftDetection::Watch,
                self_heal: SelfHeal {
                    backoff: Backoff {
                        initial: Dur(2 * SECOND),
                        factor: 3.0,
                        max: Dur(300 * SECOND),
                    },
                    // v3.5.1: the cooldown flag is deprecated and has no effect.
                    cooldown: None,
                },
                reconcile_interval: Dur(10 * MINUTE),
                reconcile_jitter: Dur(0),
                // Sync retry: `duration: 5s`, `factor: 2`, `maxDuration: 3m`, `limit: 5`
                // for automated sync. The first retry waits 10 s: the controller computes
                // the wait with the retry count already incremented (docs/PRESETS.md).
                retry: Retry {
                    backoff: Backoff {
                        initial: Dur(10 * SECOND),
                        factor: 2.0,
                        max: Dur(3 * MINUTE),
                    },
                    limit: Some(5),
                    refresh: false,
                },
                apply: Dist::fixed(SECOND),
                concurrency: 10,
                kustomization: Kustomization::flux(),
                write_back: WriteBack::preset(WriteBackMethod::CiCommit, p),
                rollback: Rollback::default(),
                hub: None,
            },
            // Flux (v2.9: source-controller v1.9, kustomize-controller v1.9; file:line in
            // docs/PRESETS.md): one GitRepository per cluster checks the branch every 1 m,
            // a new revision reconciles every Kustomization of the source through
            // --concurrent=4 workers; each Kustomization also reconciles every 10 m (the
            // bootstrap Kustomization's interval), which corrects drift. Intervals carry
            // Flux's ±5% jitter as a uniform extra on 95% of the interval (57 s + up to
            // 6 s is 60 s ± 5%); a failed reconcile is retried after the interval
            // (retryInterval defaults to interval). `apply` is one object's server-side
            // apply.
            PullPreset::Flux => PullConfig {
                preset: p,
                refresh: Refresh::Source,
                revision_cache: Dur(0),
                poll: Poll {
                    interval: Dur(57 * SECOND),
                    jitter: Dur(6 * SECOND),
                },
                webhook: None,
                drift_detection: DriftDetection::Interval,
                self_heal: SelfHeal {
                    backoff: Backoff {
                        initial: Dur(10 * MINUTE),
                        factor: 1.0,
                        max: Dur(10 * MINUTE),
                    },
                    cooldown: None,
                },
                reconcile_interval: Dur(570 * SECOND),
                reconcile_jitter: Dur(60 * SECOND),
                retry: Retry {
                    backoff: Backoff {
                        initial: Dur(10 * MINUTE),
                        factor: 1.0,
                        max: Dur(10 * MINUTE),
                    },
                    limit: None,
                    refresh: true,
                },
                apply: Dist::fixed(FLUX_APPLY_PER_OBJECT),
                concurrency: 4,
                kustomization: Kustomization::flux(),
                write_back: WriteBack::preset(WriteBackMethod::CiCommit, p),
                rollback: Rollback::default(),
                hub: None,
            },
        }
    }
}

/// Flux calibration, set once from the mechanism (docs/PRESETS.md, "Flux"): one object's
/// server-side apply (a dry run and an apply, two requests of a few milliseconds each to
/// the API server) and one kustomize build of a small package.
pub const FLUX_APPLY_PER_OBJECT: Nanos = SECOND / 100;
pub const FLUX_RENDER: Nanos = SECOND / 50;

/// Flux's API request model, per Kustomization reconcile (kustomize-controller v1.9.0,
/// fluxcd/pkg ssa v0.76.0, fluxcd/cli-utils v1.2.1; file:line in docs/PRESETS.md, "Flux
/// as it runs"). Status patches of the Kustomization every reconcile makes: three
/// progress reports before the apply and the final status (with the inventory).
pub const FLUX_STATUS_PATCHES: u32 = 4;
/// Per object, every reconcile: the server-side apply's GET of the live object and its
/// dry-run apply (the diff).
pub const FLUX_REQUESTS_PER_OBJECT: u32 = 2;
/// Objects a new manifest or a drift correction applies for real (the Deployment whose
/// image changed, or the one object that drifted); the dry run leaves the others alone.
pub const FLUX_CHANGED_OBJECTS: u32 = 1;
/// With `wait`: the status patch that starts the health check and the one that records
/// it passed.
pub const FLUX_WAIT_STATUS_PATCHES: u32 = 2;
/// Per health-check poll, besides one GET per object: the Deployment's status reader
/// lists its ReplicaSets and the ReplicaSet's Pods.
pub const FLUX_POLL_EXTRA_REQUESTS: u32 = 2;

impl Kustomization {
    /// The Kustomization API's defaults: no wait, `timeout` = the 10 m interval less
    /// 30 s (`GetTimeout`), and kustomize-controller's fixed 5 s health-check poll; the
    /// app is a Deployment and a ConfigMap (two objects).
    pub fn flux() -> Kustomization {
        Kustomization {
            render: Dist::fixed(FLUX_RENDER),
            objects: 2,
            wait: false,
            timeout: Dur(9 * MINUTE + 30 * SECOND),
            health_poll: Dur(5 * SECOND),
        }
    }
}

/// A pull setup's settings: a preset, then the keys that override it.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PullSettings")]
pub struct RawPull {
    /// The reconciler whose defaults the other keys override.
    preset: Option<PullPreset>,
    /// Where refreshes come from: `resync` (Argo CD's informer resync, with the
    /// repo-server's revision cache), `source` (Flux: one GitRepository check per
    /// interval, a new revision reconciles every Kustomization) or `poll` (a fetch per app
    /// per interval).
    refresh: Option<Refresh>,
    /// How long a resolved branch revision is reused (Argo CD
    /// `--revision-cache-expiration`).
    revision_cache: Option<Dur>,
    /// How often git is fetched (Argo CD `timeout.reconciliation`, Flux GitRepository
    /// `interval`).
    poll: Option<RawPoll>,
    /// `none`, or a webhook that triggers a fetch on push.
    webhook: Option<NoneOr<Webhook>>,
    /// How a change made by hand is noticed and corrected.
    drift_detection: Option<DriftDetection>,
    /// The backoff between repairs of one app (with `drift_detection: watch`).
    self_heal: Option<RawSelfHeal>,
    /// A full diff and correction this often (Flux Kustomization `interval`).
    reconcile_interval: Option<Dur>,
    /// A uniform extra of up to this much on each reconcile interval.
    reconcile_jitter: Option<Dur>,
    /// Backoff after a failed fetch or sync.
    retry: Option<RawBackoff>,
    /// One apply of one app to one cluster (with `refresh: source`: of one object of a
    /// Kustomization, which applies `kustomization.objects` of them).
    apply: Option<Dist>,
    /// Apps synced at once (Argo CD operation processors, Flux `--concurrent`).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    concurrency: Option<NonZeroU32>,
    /// `refresh: source` (Flux): how each Kustomization reconciles.
    kustomization: Option<RawKustomization>,
    /// How the new image tag reaches the config repository after CI.
    write_back: Option<RawWriteBack>,
    rollback: Option<RawRollback<PullRollback>>,
    /// Argo CD: `per-cluster` (one controller per cluster, the compatible default) or
    /// `hub` (one application controller, optionally sharded, serves every cluster with
    /// shared processors, client rate limit and repo-server: how Argo CD runs).
    topology: Option<Topology>,
    /// `topology: hub`: controller replicas (shards) the clusters are spread over.
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    shards: Option<NonZeroU32>,
    /// `topology: hub`: how clusters are assigned to shards (`legacy`: FNV-32a hash of the
    /// cluster id; `round-robin`: by rank in the sorted cluster list).
    sharding: Option<Sharding>,
    /// `topology: hub`: refreshes (comparisons) at once per controller
    /// (`--status-processors`).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    status_processors: Option<NonZeroU32>,
    /// `topology: hub`: syncs at once per controller (`--operation-processors`; the same
    /// setting as `concurrency`).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    operation_processors: Option<NonZeroU32>,
    /// `topology: hub`: the controller's client-side rate limit, requests a second
    /// (`ARGOCD_K8S_CLIENT_QPS`).
    qps: Option<super::strict::Real>,
    /// `topology: hub`: the rate limit's burst (`ARGOCD_K8S_CLIENT_BURST`).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    burst: Option<NonZeroU32>,
    /// `topology: hub`: kubectl applies at once per controller
    /// (`--kubectl-parallelism-limit`; 0: no limit).
    kubectl_parallelism_limit: Option<u32>,
    /// `topology: hub`: the repo-server that renders manifests.
    repo_server: Option<RawRepoServer>,
    /// `topology: hub`: Kubernetes objects per app (each costs API requests in a sync).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    resources_per_app: Option<NonZeroU32>,
}

impl RawPull {
    /// The `topology: hub` keys written with `topology: per-cluster` (or none), which
    /// would be ignored: the first one's name.
    pub fn hub_key_without_hub(&self) -> Option<&'static str> {
        if self.topology == Some(Topology::Hub) {
            return None;
        }
        [
            ("shards", self.shards.is_some()),
            ("sharding", self.sharding.is_some()),
            ("status_processors", self.status_processors.is_some()),
            ("operation_processors", self.operation_processors.is_some()),
            ("qps", self.qps.is_some()),
            ("burst", self.burst.is_some()),
            (
                "kubectl_parallelism_limit",
                self.kubectl_parallelism_limit.is_some(),
            ),
            ("repo_server", self.repo_server.is_some()),
            ("resources_per_app", self.resources_per_app.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(k, _)| k)
    }

    /// The self-heal cooldown the scenario writes, if it writes a duration.
    pub fn self_heal_cooldown(&self) -> Option<Dur> {
        self.self_heal.and_then(|s| s.cooldown).and_then(|c| c.0)
    }

    pub fn resolve(self) -> PullConfig {
        let mut c = PullConfig::preset(self.preset.unwrap_or_default());
        if let Some(v) = self.refresh {
            c.refresh = v;
        }
        if let Some(v) = self.revision_cache {
            c.revision_cache = v;
        }
        if let Some(p) = self.poll {
            if let Some(v) = p.interval {
                c.poll.interval = v;
            }
            if let Some(v) = p.jitter {
                c.poll.jitter = v;
            }
        }
        if let Some(w) = self.webhook {
            c.webhook = w.0;
        }
        if let Some(v) = self.drift_detection {
            c.drift_detection = v;
        }
        if let Some(s) = self.self_heal {
            let backoff = RawBackoff {
                initial: s.initial,
                factor: s.factor,
                max: s.max,
                ..RawBackoff::default()
            };
            backoff.overlay(&mut c.self_heal.backoff);
            if let Some(v) = s.cooldown {
                c.self_heal.cooldown = v.0;
            }
        }
        if let Some(v) = self.reconcile_interval {
            c.reconcile_interval = v;
        }
        if let Some(v) = self.reconcile_jitter {
            c.reconcile_jitter = v;
        }
        if let Some(b) = self.retry {
            b.overlay_retry(&mut c.retry);
        }
        let apply_set = self.apply.is_some();
        if let Some(v) = self.apply {
            c.apply = v;
        }
        if let Some(v) = self.concurrency {
            c.concurrency = v.get();
        }
        if let Some(k) = self.kustomization {
            if let Some(v) = k.render {
                c.kustomization.render = v;
            }
            if let Some(v) = k.objects {
                c.kustomization.objects = v.get();
            }
            if let Some(v) = k.wait {
                c.kustomization.wait = v;
            }
            if let Some(v) = k.timeout {
                c.kustomization.timeout = v;
            }
            if let Some(v) = k.health_poll {
                c.kustomization.health_poll = v;
            }
        }
        if let Some(w) = self.write_back {
            w.overlay(&mut c.write_back, c.preset);
        }
        if let Some(r) = self.rollback {
            r.overlay(&mut c.rollback);
        }
        if let Some(v) = self.operation_processors {
            c.concurrency = v.get();
        }
        if self.topology == Some(Topology::Hub) {
            let mut h = Hub::preset();
            if let Some(v) = self.shards {
                h.shards = v.get();
            }
            if let Some(v) = self.sharding {
                h.sharding = v;
            }
            if let Some(v) = self.status_processors {
                h.status_processors = v.get();
            }
            if let Some(v) = self.qps {
                h.qps = v.0;
            }
            if let Some(v) = self.burst {
                h.burst = v.get();
            }
            if let Some(v) = self.kubectl_parallelism_limit {
                h.kubectl_parallelism_limit = v;
            }
            if let Some(r) = self.repo_server {
                if let Some(v) = r.replicas {
                    h.repo_server.replicas = v.get();
                }
                if let Some(v) = r.parallelism_limit {
                    h.repo_server.parallelism_limit = v;
                }
                if let Some(v) = r.render {
                    h.repo_server.render = v;
                }
            }
            if let Some(v) = self.resources_per_app {
                h.resources_per_app = v.get();
            }
            if !apply_set {
                // The hub's sync of k objects: a fixed part and a part per object (the
                // preset's one second is an app of two; docs/PRESETS.md).
                c.apply = Dist::fixed(
                    HUB_SYNC_FIXED
                        + HUB_SYNC_PER_OBJECT.saturating_mul(u64::from(h.resources_per_app)),
                );
            }
            c.hub = Some(Box::new(h));
        }
        c
    }
}

// ---------------------------------------------------------------- Argo CD hub

/// Where Argo CD's application controller runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// One controller per cluster, each with its own processors (pushpull's original
    /// model, kept as the default so older scenarios give the same figures).
    PerCluster,
    /// One application controller (split into `shards`) serves every cluster: its
    /// processors, client rate limit and repo-server are shared by all their apps.
    Hub,
}

/// Argo CD's cluster-to-shard assignment (`controller/sharding/sharding.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Sharding {
    /// FNV-32a hash of the cluster id modulo the shard count (uneven for few clusters).
    Legacy,
    /// The cluster's rank in the list sorted by id, modulo the shard count.
    RoundRobin,
}

/// The repo-server: renders an app's manifests for a revision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepoServer {
    pub replicas: u32,
    /// Manifest generations at once per replica (`--parallelismlimit`; 0: no limit).
    pub parallelism_limit: u32,
    /// One app's manifest generation.
    pub render: Dist,
}

#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RepoServer")]
struct RawRepoServer {
    /// Repo-server replicas (each renders on its own).
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    replicas: Option<NonZeroU32>,
    /// Manifest generations at once per replica (`--parallelismlimit`; 0: no limit).
    parallelism_limit: Option<u32>,
    /// How long one app's manifest generation takes.
    render: Option<Dist>,
}

/// The Argo CD hub's settings (`topology: hub`). Operation processors are the setup's
/// `concurrency`. The request counts are the preset's calibration (docs/PRESETS.md).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hub {
    pub shards: u32,
    pub sharding: Sharding,
    pub status_processors: u32,
    pub qps: f64,
    pub burst: u32,
    /// 0: no limit.
    pub kubectl_parallelism_limit: u32,
    pub repo_server: RepoServer,
    pub resources_per_app: u32,
    /// API requests of one sync besides its resources' (Application operation-state
    /// updates), an average: the calibration is not a whole number (docs/PRESETS.md).
    pub sync_requests: f64,
    /// API requests per resource in a sync (dry run and apply).
    pub resource_requests: u32,
    /// API requests of a comparison whose result changes the app's status (the status
    /// patch).
    pub status_requests: u32,
}

impl Hub {
    /// Argo CD v3.5.1's defaults (file:line in docs/PRESETS.md).
    pub fn preset() -> Hub {
        Hub {
            shards: 1,
            sharding: Sharding::Legacy,
            status_processors: 20,
            qps: 50.0,
            burst: 100,
            kubectl_parallelism_limit: 20,
            repo_server: RepoServer {
                replicas: 1,
                parallelism_limit: 0,
                render: Dist::fixed(SECOND / 10),
            },
            resources_per_app: 2,
            sync_requests: SYNC_REQUESTS,
            resource_requests: RESOURCE_REQUESTS,
            status_requests: 1,
        }
    }

    /// API requests one sync of one app makes, on average, in thousandths.
    pub fn requests_per_sync_milli(&self) -> u64 {
        let whole = f64::from(self.resource_requests) * f64::from(self.resources_per_app);
        ((self.sync_requests + whole) * 1000.0).round() as u64
    }
}

/// What `topology: hub` does not model yet, refused with the key to change: another
/// preset than Argo CD's, interval drift detection, app rollbacks, controller crashes
/// and environments; a rate limit that is not a number of requests a second.
pub fn check_hub_scenario(
    models: &super::Models,
    faults: &[super::Fault],
    environments: bool,
) -> Result<(), (String, String)> {
    for setup in &models.setups {
        let SetupConfig::Pull(p) = &setup.config else {
            continue;
        };
        let Some(h) = &p.hub else {
            continue;
        };
        let at = |k: &str| format!("models.{}.{k}", setup.name);
        if p.preset == PullPreset::Flux {
            return Err((
                at("topology"),
                "`topology: hub` is Argo CD's application controller; Flux runs its controllers in each cluster: use `preset: argocd`, or remove `topology`".into(),
            ));
        }
        if p.drift_detection == DriftDetection::Interval {
            return Err((
                at("drift_detection"),
                "the Argo CD hub heals drift from the watch: use `drift_detection: watch` or `none` with `topology: hub`".into(),
            ));
        }
        if p.rollback.method == RollbackMethod::AppRollback {
            return Err((
                at("rollback"),
                "`app-rollback` is not modelled with `topology: hub` yet: use `rollback: revert-commit`, or `topology: per-cluster`".into(),
            ));
        }
        if !(h.qps.is_finite() && h.qps >= 0.0) {
            return Err((
                at("qps"),
                format!(
                    "{} is not a request rate; write requests a second, 0 for no limit",
                    h.qps
                ),
            ));
        }
        if environments {
            return Err((
                "environments".into(),
                format!(
                    "environments are not modelled with `topology: hub` yet (setup `{}`): remove `topology: hub` or `environments`",
                    setup.name
                ),
            ));
        }
        if let Some(i) = faults
            .iter()
            .position(|f| matches!(f, super::Fault::ReconcilerCrash { .. }))
        {
            return Err((
                format!("faults[{i}]"),
                format!(
                    "a reconciler crash is not modelled with `topology: hub` yet (setup `{}`): remove the fault or `topology: hub`",
                    setup.name
                ),
            ));
        }
    }
    Ok(())
}

/// Requests of one sync besides its resources', on average; see docs/PRESETS.md ("Argo CD
/// hub", "API requests").
pub const SYNC_REQUESTS: f64 = 5.6;
/// The hub's sync of one app without a set `apply`: this plus [`HUB_SYNC_PER_OBJECT`] per
/// Kubernetes object, 1 s for the preset's app of two objects (the per-cluster preset's
/// `apply`) and 0.7 s for one ConfigMap; docs/PRESETS.md ("Argo CD hub", "Sync time").
pub const HUB_SYNC_FIXED: Nanos = 400 * SECOND / 1000;
/// The hub's sync time per object; see [`HUB_SYNC_FIXED`].
pub const HUB_SYNC_PER_OBJECT: Nanos = 300 * SECOND / 1000;
/// Requests per resource of one sync; see docs/PRESETS.md ("Argo CD hub").
pub const RESOURCE_REQUESTS: u32 = 4;

// ---------------------------------------------------------------- CI and write-back

/// The shared CI stage: what every setup's pipeline does with a source commit before
/// anything is delivered (trigger, a runner, build and tests, the image published).
/// Written as the top-level `ci:` block; without one, the first push setup's pipeline
/// settings; `ci: none` drops the stage (a delivery-only comparison).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ci {
    /// Push event → the run enters the runner queue.
    pub queue_wait: Dist,
    /// Build and test steps up to the published image.
    pub build: Dist,
    /// Runners the CI of pull setups may use at once.
    pub runners: u32,
    pub concurrency: Concurrency,
    /// Where the settings come from: `ci` (the block), a push setup's name, or
    /// `github-actions` (the preset, when there is no push setup).
    pub from: String,
}

impl Ci {
    /// The CI of a push setup's pipeline.
    pub fn of_push(c: &PushConfig, from: &str) -> Ci {
        Ci {
            queue_wait: c.queue_wait.clone(),
            build: c.build.clone(),
            runners: c.runners,
            concurrency: c.concurrency,
            from: from.to_string(),
        }
    }

    /// The pipeline a pull setup's CI runs on: these settings, no deploy step.
    pub fn pipeline(&self) -> PushConfig {
        let mut c = PushConfig::preset(PushPreset::Custom);
        c.queue_wait = self.queue_wait.clone();
        c.build = self.build.clone();
        c.runners = self.runners;
        c.concurrency = self.concurrency;
        c
    }
}

/// The `ci:` block as written: `none`, or any of the CI keys of a push setup.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ci")]
pub struct RawCi {
    /// Push event → the run enters the runner queue.
    pub queue_wait: Option<Dist>,
    /// Build and test steps up to the published image.
    pub build: Option<Dist>,
    /// Runners the CI may use at once.
    #[serde(default, deserialize_with = "super::strict::opt_count")]
    pub runners: Option<NonZeroU32>,
    /// What happens to a run when every runner is busy.
    pub concurrency: Option<Concurrency>,
}

impl RawCi {
    /// Overrides `base` with the keys written.
    pub fn overlay(self, mut base: Ci) -> Ci {
        if let Some(v) = self.queue_wait {
            base.queue_wait = v;
        }
        if let Some(v) = self.build {
            base.build = v;
        }
        if let Some(v) = self.runners {
            base.runners = v.get();
        }
        if let Some(v) = self.concurrency {
            base.concurrency = v;
        }
        base.from = "ci".into();
        base
    }
}

/// How a pull setup's config repository gets the new image tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WriteBackMethod {
    /// The CI pipeline commits the tag and pushes it.
    CiCommit,
    /// A bot opens a pull request; someone reviews and merges it.
    PullRequest,
    /// A controller scans the registry every `scan_interval` and commits the new tag
    /// (Argo CD Image Updater; Flux image-reflector-controller and
    /// image-automation-controller, which commits every `update_interval`).
    ImageAutomation,
}

impl WriteBackMethod {
    pub fn name(self) -> &'static str {
        match self {
            WriteBackMethod::CiCommit => "ci-commit",
            WriteBackMethod::PullRequest => "pull-request",
            WriteBackMethod::ImageAutomation => "image-automation",
        }
    }
}

/// A pull setup's write-back: the method and every parameter (the ones a method does not
/// use are listed too, so a report shows what a switch of method would use).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WriteBack {
    pub method: WriteBackMethod,
    /// One commit and `git push` to the config repository.
    pub git_push: Dist,
    /// ci-commit and pull-request: the wait before a push that failed (git unreachable)
    /// is tried again.
    pub retry: Dur,
    /// pull-request: opened → approved and merged.
    pub review: Dist,
    /// image-automation: how often the registry is scanned for new tags.
    pub scan_interval: Dur,
    /// image-automation: how often the automation commits what the scans found (0: at
    /// the scan itself, as Argo CD Image Updater does).
    pub update_interval: Dur,
}

impl WriteBack {
    /// The defaults for `method` under a pull preset: the image-automation intervals are
    /// the preset tool's (Argo CD Image Updater `--interval` 2m; Flux's image guide,
    /// ImageRepository 5m and ImageUpdateAutomation 30m).
    pub fn preset(method: WriteBackMethod, p: PullPreset) -> WriteBack {
        let (scan, update) = match p {
            PullPreset::Argocd | PullPreset::Custom => (2 * MINUTE, 0),
            PullPreset::Flux => (5 * MINUTE, 30 * MINUTE),
        };
        WriteBack {
            method,
            git_push: Dist::fixed(2 * SECOND),
            retry: Dur(MINUTE),
            review: Dist::LogNormal {
                median: 15 * MINUTE,
                p99: 8 * super::duration::HOUR,
            },
            scan_interval: Dur(scan),
            update_interval: Dur(update),
        }
    }
}

/// A pull setup's write-back: the method and its parameters.
#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WriteBack")]
struct RawWriteBackMap {
    /// How the tag gets there (default ci-commit).
    method: Option<WriteBackMethod>,
    /// One commit and `git push` to the config repository.
    git_push: Option<Dist>,
    /// ci-commit and pull-request: the wait before a failed push is tried again.
    retry: Option<Dur>,
    /// pull-request: opened → approved and merged.
    review: Option<Dist>,
    /// image-automation: how often the registry is scanned for new tags.
    scan_interval: Option<Dur>,
    /// image-automation: how often the automation commits what the scans found (0: at
    /// the scan itself, as Argo CD Image Updater does).
    update_interval: Option<Dur>,
}

/// `write_back: ci-commit` (a method at its defaults) or a map of settings.
#[derive(Clone, Debug, Default)]
pub struct RawWriteBack(RawWriteBackMap);

/// A method's name or the map, as [`RawWriteBack`]'s `Deserialize` reads.
impl schemars::JsonSchema for RawWriteBack {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WriteBackOrMethod".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "How the new image tag reaches the config repository: a method at its defaults (`ci-commit`), or a map of settings.",
            "anyOf": [
                g.subschema_for::<WriteBackMethod>(),
                g.subschema_for::<RawWriteBackMap>(),
            ],
        })
    }
}

impl<'de> Deserialize<'de> for RawWriteBack {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawWriteBack;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`ci-commit`, `pull-request`, `image-automation` or a map of settings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let method = match v {
                    "ci-commit" => WriteBackMethod::CiCommit,
                    "pull-request" => WriteBackMethod::PullRequest,
                    "image-automation" => WriteBackMethod::ImageAutomation,
                    _ => {
                        return Err(E::custom(format!(
                            "`{v}` is not a write-back method; expected `ci-commit`, `pull-request` or `image-automation`"
                        )));
                    }
                };
                Ok(RawWriteBack(RawWriteBackMap {
                    method: Some(method),
                    ..RawWriteBackMap::default()
                }))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RawWriteBackMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawWriteBack)
            }
        }
        d.deserialize_any(V)
    }
}

impl RawWriteBack {
    fn overlay(self, w: &mut WriteBack, p: PullPreset) {
        let m = self.0;
        if let Some(v) = m.method {
            *w = WriteBack::preset(v, p);
        }
        if let Some(v) = m.git_push {
            w.git_push = v;
        }
        if let Some(v) = m.retry {
            w.retry = v;
        }
        if let Some(v) = m.review {
            w.review = v;
        }
        if let Some(v) = m.scan_interval {
            w.scan_interval = v;
        }
        if let Some(v) = m.update_interval {
            w.update_interval = v;
        }
    }
}

// ---------------------------------------------------------------- rollback

/// How a team rolls back a bad release once it decides to (docs/PRESETS.md, "Rollback
/// methods").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackMethod {
    /// A revert commit that goes the whole way (push: a pipeline run with its build;
    /// pull: the config repository's revert picked up by the reconcilers).
    #[default]
    RevertCommit,
    /// Push: re-run the last good deploy job (no build); git keeps the bad commit.
    Redeploy,
    /// Push: `kubectl rollout undo` / `helm rollback` by the operator, straight to the
    /// clusters; git keeps the bad commit.
    RolloutUndo,
    /// Pull: `argocd app rollback` (automated sync off until someone re-enables it).
    AppRollback,
}

impl RollbackMethod {
    pub fn name(self) -> &'static str {
        match self {
            RollbackMethod::RevertCommit => "revert-commit",
            RollbackMethod::Redeploy => "redeploy",
            RollbackMethod::RolloutUndo => "rollout-undo",
            RollbackMethod::AppRollback => "app-rollback",
        }
    }

    /// Whether git keeps naming the bad version after the rollback, until a fix commit.
    pub fn leaves_git_behind(self) -> bool {
        self != RollbackMethod::RevertCommit
    }
}

/// A setup's rollback: the method and its parameters (all listed, so a report shows what
/// a switch of method would use).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rollback {
    pub method: RollbackMethod,
    /// rollout-undo: the operator's `kubectl rollout undo` against one cluster.
    pub apply: Dist,
    /// redeploy, rollout-undo, app-rollback: rollback decided → the revert commit that
    /// makes git name the good version again (through the setup's whole path).
    pub fix_after: Dist,
    /// app-rollback: rollback decided → someone re-enables automated sync.
    pub reenable_after: Dist,
}

impl Default for Rollback {
    fn default() -> Rollback {
        Rollback {
            method: RollbackMethod::RevertCommit,
            apply: Dist::fixed(2 * SECOND),
            fix_after: Dist::LogNormal {
                median: 30 * MINUTE,
                p99: 4 * super::duration::HOUR,
            },
            reenable_after: Dist::LogNormal {
                median: super::duration::HOUR,
                p99: 8 * super::duration::HOUR,
            },
        }
    }
}

/// The methods one setup kind takes, with the sentence that refuses the others.
pub trait RollbackKind {
    fn method(word: &str) -> Result<RollbackMethod, String>;
}

/// A push setup's methods.
#[derive(Clone, Copy, Debug, Default)]
pub struct PushRollback;
/// A pull setup's methods.
#[derive(Clone, Copy, Debug, Default)]
pub struct PullRollback;

impl RollbackKind for PushRollback {
    fn method(word: &str) -> Result<RollbackMethod, String> {
        match word {
            "revert-commit" => Ok(RollbackMethod::RevertCommit),
            "redeploy" => Ok(RollbackMethod::Redeploy),
            "rollout-undo" => Ok(RollbackMethod::RolloutUndo),
            "app-rollback" => Err(
                "`app-rollback` is Argo CD's rollback, a pull setup's method; a push setup rolls back with `revert-commit`, `redeploy` or `rollout-undo`".into(),
            ),
            _ => Err(format!(
                "`{word}` is not a push rollback method; expected `revert-commit`, `redeploy` or `rollout-undo`"
            )),
        }
    }
}

impl RollbackKind for PullRollback {
    fn method(word: &str) -> Result<RollbackMethod, String> {
        match word {
            "revert-commit" => Ok(RollbackMethod::RevertCommit),
            "app-rollback" => Ok(RollbackMethod::AppRollback),
            "redeploy" | "rollout-undo" => Err(format!(
                "`{word}` is a push pipeline's rollback; a pull setup rolls back with `revert-commit` (through git) or `app-rollback` (Argo CD's `argocd app rollback`)"
            )),
            _ => Err(format!(
                "`{word}` is not a pull rollback method; expected `revert-commit` or `app-rollback`"
            )),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RollbackSettings")]
struct RawRollbackMap {
    /// The method (push: `revert-commit`, `redeploy`, `rollout-undo`; pull:
    /// `revert-commit`, `app-rollback`).
    method: Option<String>,
    /// How long the operator's own apply takes (`rollout-undo`, `app-rollback`).
    apply: Option<Dist>,
    /// After a rollback around git, how long until a fix commit brings git back in line.
    fix_after: Option<Dist>,
    /// After `app-rollback`, how long until someone re-enables automated sync.
    reenable_after: Option<Dist>,
}

/// `rollback: redeploy` (a method at its defaults) or a map (`{method: rollout-undo,
/// fix_after: 1h}`), checked against the setup's kind `K`.
#[derive(Clone, Debug)]
pub struct RawRollback<K> {
    method: Option<RollbackMethod>,
    map: RawRollbackMap,
    kind: std::marker::PhantomData<K>,
}

impl<'de, K: RollbackKind> Deserialize<'de> for RawRollback<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(std::marker::PhantomData<K>);
        impl<'de, K: RollbackKind> serde::de::Visitor<'de> for V<K> {
            type Value = RawRollback<K>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a rollback method or a map of settings with `method`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawRollback {
                    method: Some(K::method(v).map_err(E::custom)?),
                    map: RawRollbackMap::default(),
                    kind: std::marker::PhantomData,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let m =
                    RawRollbackMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let method = match m.method.as_deref() {
                    Some(w) => Some(K::method(w).map_err(serde::de::Error::custom)?),
                    None => None,
                };
                Ok(RawRollback {
                    method,
                    map: m,
                    kind: std::marker::PhantomData,
                })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A method's name or the map, as [`RawRollback`]'s `Deserialize` reads (the kind's
/// methods are checked by the parser, which names the methods of the other kind).
impl<K> schemars::JsonSchema for RawRollback<K> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RollbackOrMethod".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "How this setup rolls back a bad release: a method at its defaults (`revert-commit`, `redeploy`, `rollout-undo` for push; `revert-commit`, `app-rollback` for pull), or a map of settings with `method`.",
            "anyOf": [
                {"type": "string", "enum": ["revert-commit", "redeploy", "rollout-undo", "app-rollback"]},
                g.subschema_for::<RawRollbackMap>(),
            ],
        })
    }
}

impl<K> RawRollback<K> {
    fn overlay(self, r: &mut Rollback) {
        if let Some(m) = self.method {
            r.method = m;
        }
        if let Some(v) = self.map.apply {
            r.apply = v;
        }
        if let Some(v) = self.map.fix_after {
            r.fix_after = v;
        }
        if let Some(v) = self.map.reenable_after {
            r.reenable_after = v;
        }
    }
}

// ---------------------------------------------------------------- named setups

impl PushPreset {
    pub fn name(self) -> &'static str {
        match self {
            PushPreset::GithubActions => "github-actions",
            PushPreset::Jenkins => "jenkins",
            PushPreset::Custom => "custom",
        }
    }
}

impl PullPreset {
    pub fn name(self) -> &'static str {
        match self {
            PullPreset::Argocd => "argocd",
            PullPreset::Flux => "flux",
            PullPreset::Custom => "custom",
        }
    }
}

/// What a setup is: a pipeline that pushes, or a reconciler that pulls, with its settings.
// One value per setup (at most eight a scenario), read on setup, never in the event loop:
// boxing the larger variant would save nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum SetupConfig {
    Push(PushConfig),
    Pull(PullConfig),
}

/// One named delivery setup of a scenario (`gha: {kind: push, preset: github-actions}`).
/// Every setup of a run meets the same workload, faults and random draws.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// The key under `models:`; names the setup in every output.
    pub name: String,
    pub config: SetupConfig,
}

impl Setup {
    pub fn kind(&self) -> ModelKind {
        match self.config {
            SetupConfig::Push(_) => ModelKind::Push,
            SetupConfig::Pull(_) => ModelKind::Pull,
        }
    }

    /// The preset the setup starts from, as written in scenarios.
    pub fn preset(&self) -> &'static str {
        match &self.config {
            SetupConfig::Push(c) => c.preset.name(),
            SetupConfig::Pull(c) => c.preset.name(),
        }
    }

    pub fn push(&self) -> Option<&PushConfig> {
        match &self.config {
            SetupConfig::Push(c) => Some(c),
            SetupConfig::Pull(_) => None,
        }
    }

    pub fn pull(&self) -> Option<&PullConfig> {
        match &self.config {
            SetupConfig::Pull(c) => Some(c),
            SetupConfig::Push(_) => None,
        }
    }

    /// How the setup rolls back a bad release.
    pub fn rollback(&self) -> &Rollback {
        match &self.config {
            SetupConfig::Push(c) => &c.rollback,
            SetupConfig::Pull(c) => &c.rollback,
        }
    }
}

impl Serialize for Setup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a, C> {
            kind: ModelKind,
            #[serde(flatten)]
            config: &'a C,
        }
        match &self.config {
            SetupConfig::Push(c) => Out {
                kind: ModelKind::Push,
                config: c,
            }
            .serialize(s),
            SetupConfig::Pull(c) => Out {
                kind: ModelKind::Pull,
                config: c,
            }
            .serialize(s),
        }
    }
}
