//! Environments and promotion: `environments:` lists the environments a change passes
//! through in order (`dev`, `staging`, `prod`), each with the named clusters that say they
//! belong to it and an optional gate before it (a soak time, a manual approval, an
//! automated check). Without the key every cluster is one stage, as before. A pull
//! setup's change enters a later environment's path by a CI commit once the gate passes,
//! or by a promotion pull request reviewed after the gate (`promotion: pull-request`).

use super::calendar::WorkingHours;
use super::dist::Dist;
use super::duration::{Dur, Nanos};
use super::fleet::Fleet;
use super::{Percent, bounds, strict};
use crate::model::ClusterId;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// What a change waits for before it enters an environment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// The change runs this long in the environment before (GitHub Actions' wait timer,
    /// a Kargo verification window).
    Soak(Dur),
    /// A person approves: a reviewer delay, counted in working time when `working_hours`
    /// is given (GitHub Actions' required reviewers, Jenkins' `input` step).
    Approval {
        delay: Dist,
        #[serde(skip_serializing_if = "Option::is_none")]
        working_hours: Option<WorkingHours>,
    },
    /// An automated check (smoke tests, an analysis run) that takes `duration` and fails
    /// for a `failure` share of changes, which then stop here.
    Check { duration: Dist, failure: Percent },
}

/// How a gate ended for one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateOutcome {
    /// When the gate passes (or fails), in scenario time.
    pub at: Nanos,
    pub passed: bool,
}

/// A person's delay from `open`, counted in working time when `working_hours` is given
/// (a change ready on Friday evening waits for Monday morning).
fn review_end<R: Rng + ?Sized>(
    delay: &Dist,
    working_hours: &Option<WorkingHours>,
    open: Nanos,
    rng: &mut R,
) -> Nanos {
    let d = delay.sample(rng);
    match working_hours {
        Some(wh) => wh
            .scenario_time(wh.working_time(open).saturating_add(d as u128))
            .max(open),
        None => open.saturating_add(d),
    }
}

/// How a pull setup's change enters an environment's path once the gate before it has
/// passed (push pipelines deploy environment by environment and ignore it).
#[derive(Clone, Debug, PartialEq, Serialize, Default)]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum Promotion {
    /// CI commits the change to the environment's path after the gate (one git push).
    #[default]
    CiCommit,
    /// A bot pushes a branch and opens a pull request to the environment's path; someone
    /// reviews and merges it, after the gate and apart from it (Kargo's PR promotion
    /// step, a GitHub flow with required reviews on the environment's folder).
    PullRequest {
        review: Dist,
        #[serde(skip_serializing_if = "Option::is_none")]
        working_hours: Option<WorkingHours>,
    },
}

impl Promotion {
    pub fn is_ci_commit(&self) -> bool {
        matches!(self, Promotion::CiCommit)
    }

    /// When a promotion PR opened at `open` is merged (`None` for a CI commit).
    pub fn merged_at<R: Rng + ?Sized>(&self, open: Nanos, rng: &mut R) -> Option<Nanos> {
        match self {
            Promotion::CiCommit => None,
            Promotion::PullRequest {
                review,
                working_hours,
            } => Some(review_end(review, working_hours, open, rng)),
        }
    }

    /// The default review of a promotion PR: as `write_back: pull-request`'s (a median
    /// of 15 minutes, 99% within 8 hours).
    fn default_review() -> Dist {
        Dist::LogNormal {
            median: 15 * super::duration::MINUTE,
            p99: 8 * super::duration::HOUR,
        }
    }
}

impl Gate {
    /// When a gate opened at `open` ends, drawing from `rng` (a soak draws nothing; an
    /// approval draws its delay; a check draws its duration, then whether it fails).
    pub fn outcome<R: Rng + ?Sized>(&self, open: Nanos, rng: &mut R) -> GateOutcome {
        match self {
            Gate::Soak(d) => GateOutcome {
                at: open.saturating_add(d.0),
                passed: true,
            },
            Gate::Approval {
                delay,
                working_hours,
            } => GateOutcome {
                at: review_end(delay, working_hours, open, rng),
                passed: true,
            },
            Gate::Check { duration, failure } => {
                let d = duration.sample(rng);
                let passed = rng.random::<f64>() >= failure.0;
                GateOutcome {
                    at: open.saturating_add(d),
                    passed,
                }
            }
        }
    }

    /// The gate's kind as the timeline names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Gate::Soak(_) => "soak",
            Gate::Approval { .. } => "approval",
            Gate::Check { .. } => "check",
        }
    }
}

/// One environment: its name, the gate before it, and its clusters (indices, ascending).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Environment {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// Pull: how a change enters this environment's path after the gate.
    #[serde(skip_serializing_if = "Promotion::is_ci_commit")]
    pub promotion: Promotion,
    #[serde(skip)]
    pub clusters: Vec<ClusterId>,
}

/// The validated environments, in promotion order, and each cluster's environment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Environments {
    pub list: Vec<Environment>,
    #[serde(skip)]
    pub of_cluster: Vec<u32>,
}

impl Environments {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The environment of cluster `c`.
    pub fn env_of(&self, c: ClusterId) -> u32 {
        self.of_cluster.get(c as usize).copied().unwrap_or(0)
    }

    /// The last environment (production).
    pub fn last(&self) -> u32 {
        self.list.len().saturating_sub(1) as u32
    }

    pub fn name(&self, env: u32) -> &str {
        self.list.get(env as usize).map_or("", |e| e.name.as_str())
    }
}

/// One environment a change passes through, in order (`dev`, `staging`, `prod`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Environment")]
pub(super) struct RawEnvironment {
    /// The environment's name; clusters name it in `fleet.clusters[].environment`.
    #[serde(deserialize_with = "strict::text")]
    #[schemars(with = "String")]
    name: String,
    /// What a change must pass before it enters this environment (not before the first).
    #[serde(default)]
    gate: Option<RawGate>,
    /// Pull setups: how a change enters this environment's path after the gate:
    /// `ci-commit` (default), `pull-request`, or `{method: pull-request, review: <dist>,
    /// working_hours: {...}}`. Not on the first environment.
    #[serde(default)]
    promotion: Option<RawPromotion>,
}

/// `promotion: ci-commit`, `promotion: pull-request` or a map of settings.
#[derive(Debug, Default)]
struct RawPromotion(RawPromotionMap);

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Promotion")]
struct RawPromotionMap {
    /// `ci-commit` (CI commits after the gate) or `pull-request` (a reviewed PR).
    #[serde(default, deserialize_with = "strict::opt_text")]
    #[schemars(with = "Option<PromotionMethod>")]
    method: Option<String>,
    /// pull-request: opened → approved and merged (default lognormal, median 15m, p99 8h).
    #[serde(default)]
    review: Option<Dist>,
    /// pull-request: reviewers merge only in these hours.
    #[serde(default)]
    working_hours: Option<WorkingHours>,
}

/// The promotion methods, for the schema.
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum PromotionMethod {
    CiCommit,
    PullRequest,
}

impl schemars::JsonSchema for RawPromotion {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PromotionOrMethod".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Pull setups: how a change enters the environment's path after the gate: a method (`ci-commit`, `pull-request`) or a map of settings.",
            "anyOf": [
                g.subschema_for::<PromotionMethod>(),
                g.subschema_for::<RawPromotionMap>(),
            ],
        })
    }
}

impl<'de> Deserialize<'de> for RawPromotion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawPromotion;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`ci-commit`, `pull-request` or a map of settings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawPromotion(RawPromotionMap {
                    method: Some(v.to_string()),
                    ..RawPromotionMap::default()
                }))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RawPromotionMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawPromotion)
            }
        }
        d.deserialize_any(V)
    }
}

fn promotion(key: &str, raw: RawPromotion) -> Result<Promotion, Refusal> {
    let m = raw.0;
    match m.method.as_deref() {
        Some("ci-commit") => {
            if m.review.is_some() || m.working_hours.is_some() {
                return Err((
                    key.to_string(),
                    "`review` and `working_hours` belong to `method: pull-request`; a CI commit has no review".into(),
                ));
            }
            Ok(Promotion::CiCommit)
        }
        Some("pull-request") | None => Ok(Promotion::PullRequest {
            review: m.review.unwrap_or_else(Promotion::default_review),
            working_hours: m.working_hours,
        }),
        Some(other) => Err((
            format!("{key}.method"),
            format!("`{other}` is not a promotion method; expected `ci-commit` or `pull-request`"),
        )),
    }
}

/// A gate: one of a soak time, a manual approval or an automated check.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Gate")]
struct RawGate {
    /// The change runs this long in the environment before it goes on.
    #[serde(default)]
    soak: Option<Dur>,
    /// A person approves, after the reviewer's delay.
    #[serde(default)]
    approval: Option<RawApproval>,
    /// An automated check that takes `duration` and fails for the `failure` share.
    #[serde(default)]
    check: Option<RawCheck>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Approval")]
struct RawApproval {
    /// The reviewer's delay (counted in working time with `working_hours`).
    delay: Dist,
    /// Reviewers approve only in these hours.
    #[serde(default)]
    working_hours: Option<WorkingHours>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Check")]
struct RawCheck {
    /// How long the check runs.
    duration: Dist,
    /// The share of changes it fails (`5%` or 0.05).
    #[serde(default = "no_failure")]
    failure: Percent,
}

fn no_failure() -> Percent {
    Percent(0.0)
}

type Refusal = (String, String);

/// Checks `environments:` against the fleet: names, gates, and that every named cluster
/// names an environment that exists and every environment has a cluster. Errors carry
/// their key path (`environments[1].gate`, `fleet.clusters[2].environment`).
pub(super) fn resolve(raw: Vec<RawEnvironment>, fleet: &Fleet) -> Result<Environments, Refusal> {
    if raw.is_empty() {
        return Err((
            "environments".into(),
            "the list of environments is empty; list them in promotion order, e.g. `[{name: dev}, {name: prod, gate: {soak: 30m}}]`, or leave the key out".into(),
        ));
    }
    if raw.len() > bounds::MAX_ENTRIES {
        return Err((
            "environments".into(),
            format!(
                "{} environments is more than {}",
                raw.len(),
                bounds::MAX_ENTRIES
            ),
        ));
    }
    let mut list: Vec<Environment> = Vec::with_capacity(raw.len());
    for (i, e) in raw.into_iter().enumerate() {
        let key = format!("environments[{i}]");
        if !bounds::is_dns_label(&e.name) {
            return Err((
                format!("{key}.name"),
                format!(
                    "`{}` is not a valid environment name; expected a DNS-1123 label: 1 to {} lowercase letters, digits and `-`, starting and ending with a letter or digit",
                    e.name,
                    bounds::MAX_NAME
                ),
            ));
        }
        if let Some(j) = list.iter().position(|o| o.name == e.name) {
            return Err((
                format!("{key}.name"),
                format!(
                    "environment `{}` is listed twice (also environments[{j}]); environment names must be unique",
                    e.name
                ),
            ));
        }
        let gate = match e.gate {
            None => None,
            Some(g) => Some(gate(&format!("{key}.gate"), g)?),
        };
        let promotion = match e.promotion {
            None => Promotion::CiCommit,
            Some(_) if i == 0 => {
                return Err((
                    format!("{key}.promotion"),
                    format!(
                        "`{}` is the first environment, which the write-back reaches directly; a promotion moves a change into a later environment (move it to the next one)",
                        e.name
                    ),
                ));
            }
            Some(p) => promotion(&format!("{key}.promotion"), p)?,
        };
        if i == 0 && gate.is_some() {
            return Err((
                format!("{key}.gate"),
                format!(
                    "`{}` is the first environment, which every build reaches directly; a gate stands before a later environment (move it to the next one)",
                    e.name
                ),
            ));
        }
        list.push(Environment {
            name: e.name,
            gate,
            promotion,
            clusters: Vec::new(),
        });
    }
    if fleet.named_clusters.is_empty() {
        return Err((
            "fleet.clusters".into(),
            format!(
                "environments need named clusters, each with its environment: write `fleet.clusters: [{{name: {0}-1, environment: {0}}}, ...]` instead of a count",
                list[0].name
            ),
        ));
    }
    let all = list
        .iter()
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let names = || all.clone();
    let mut of_cluster = Vec::with_capacity(fleet.named_clusters.len());
    for (c, nc) in fleet.named_clusters.iter().enumerate() {
        let Some(env) = &nc.environment else {
            return Err((
                format!("fleet.clusters[{c}]"),
                format!(
                    "cluster `{}` has no `environment`; with `environments:` every cluster names one of {}",
                    nc.name,
                    names()
                ),
            ));
        };
        let Some(k) = list.iter().position(|e| &e.name == env) else {
            return Err((
                format!("fleet.clusters[{c}].environment"),
                format!(
                    "there is no environment `{env}`; the environments are {}",
                    names()
                ),
            ));
        };
        list[k].clusters.push(c as ClusterId);
        of_cluster.push(k as u32);
    }
    for (k, e) in list.iter().enumerate() {
        if e.clusters.is_empty() {
            return Err((
                format!("environments[{k}].name"),
                format!(
                    "environment `{}` has no cluster; give a cluster `environment: {}` in fleet.clusters, or remove the environment",
                    e.name, e.name
                ),
            ));
        }
    }
    Ok(Environments { list, of_cluster })
}

fn gate(key: &str, g: RawGate) -> Result<Gate, Refusal> {
    match (g.soak, g.approval, g.check) {
        (Some(d), None, None) => Ok(Gate::Soak(d)),
        (None, Some(a), None) => Ok(Gate::Approval {
            delay: a.delay,
            working_hours: a.working_hours,
        }),
        (None, None, Some(c)) => {
            if c.failure.0 > 1.0 {
                return Err((
                    format!("{key}.check.failure"),
                    format!(
                        "{}% of changes cannot fail; a failure share runs from 0 to 1 (0% to 100%): expected a number like 0.05 or 5%",
                        c.failure.0 * 100.0
                    ),
                ));
            }
            Ok(Gate::Check {
                duration: c.duration,
                failure: c.failure,
            })
        }
        (None, None, None) => Err((
            key.to_string(),
            "a gate needs one of `soak` (e.g. `soak: 30m`), `approval` (`{delay: <dist>, working_hours: {...}}`) or `check` (`{duration: <dist>, failure: 5%}`)".into(),
        )),
        _ => Err((
            key.to_string(),
            "a gate is one of `soak`, `approval` or `check`, not several; put a second gate on a later environment".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::calendar::DAY;
    use crate::scenario::duration::{HOUR, MINUTE};
    use rand::SeedableRng;

    #[test]
    fn an_approval_in_working_hours_asked_late_on_friday_ends_on_monday_morning() {
        let gate = Gate::Approval {
            delay: Dist::fixed(HOUR),
            working_hours: Some(WorkingHours::new("mon-fri", "9-17", None).unwrap()),
        };
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        // Friday 16:30: half an hour that day, the other half on Monday from 9:00.
        let friday = 4 * DAY + 16 * HOUR + 30 * MINUTE;
        let o = gate.outcome(friday, &mut r);
        assert_eq!(o.at, 7 * DAY + 9 * HOUR + 30 * MINUTE);
        assert!(o.passed);
        // Asked on Saturday: the hour runs Monday 9-10.
        assert_eq!(gate.outcome(5 * DAY, &mut r).at, 7 * DAY + 10 * HOUR);
    }

    #[test]
    fn an_automated_check_fails_its_share_of_changes() {
        let gate = Gate::Check {
            duration: Dist::fixed(MINUTE),
            failure: Percent(0.25),
        };
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 4000;
        let failed = (0..n).filter(|_| !gate.outcome(0, &mut r).passed).count() as f64;
        // Binomial sd: sqrt(4000 × 0.25 × 0.75) ≈ 27.
        assert!((failed - 1000.0).abs() < 4.0 * 27.4, "{failed}");
        assert_eq!(gate.outcome(5, &mut r).at, 5 + MINUTE);
    }
}
