//! Summaries across repetitions: HdrHistogram per (model, metric) for quantiles, exact
//! mean and max from the raw samples, a bootstrap 95% confidence interval for the median
//! (over repetitions, so `null` with one repetition), thresholds, and the `summary.json`
//! shape that `check` and other tools read (schema 2). A metric with observations still
//! open at the end (censored) takes its figures from the Kaplan–Meier estimate
//! (`survival.rs`) instead, and a figure the estimate never reaches is `null` and listed
//! in `unreached`: more than `beyond_s`, never a smaller number.

use super::bootstrap::{self, Groups};
use super::survival::{self, Survival};
use super::{Counters, RunRecord};
use crate::metric::{Metric, ModelKind, Quantile};
use crate::scenario::{Nanos, Scenario, duration::secs};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Statistics of one metric of one model, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSummary {
    pub count: u64,
    pub mean_s: Option<f64>,
    pub p50_s: Option<f64>,
    pub p90_s: Option<f64>,
    pub p95_s: Option<f64>,
    pub p99_s: Option<f64>,
    pub max_s: Option<f64>,
    pub ci95_p50_s: Option<[f64; 2]>,
    /// Observations still open when the run ended (right-censored; `count` has the
    /// completed ones). Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub censored: u64,
    /// With censored observations: the figures (`mean`, `p50` ... `max`) the
    /// Kaplan–Meier estimate never reaches. Each is `null` above and more than
    /// `beyond_s`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreached: Vec<Quantile>,
    /// With unreached figures: the longest observation, open or not (the estimate's
    /// horizon), in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyond_s: Option<f64>,
    /// For drift_recovery with any observation: the estimated share of hand edits
    /// corrected within 1 minute, 10 minutes and 1 hour (Kaplan–Meier, so edits still
    /// open at the end count as not corrected by then only while they were observed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_within: Option<CorrectedWithin>,
}

/// Shares (0 to 1) of observations closed within three horizons; `null` for a horizon
/// past the longest observation while some are still open (the estimate does not reach
/// it).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectedWithin {
    #[serde(rename = "1m")]
    pub m1: Option<f64>,
    #[serde(rename = "10m")]
    pub m10: Option<f64>,
    #[serde(rename = "1h")]
    pub h1: Option<f64>,
}

impl CorrectedWithin {
    /// The three horizons, in seconds, with their labels.
    pub const HORIZONS: [(&'static str, u64); 3] = [("1m", 60), ("10m", 600), ("1h", 3_600)];

    /// The shares in [`CorrectedWithin::HORIZONS`] order.
    pub fn shares(&self) -> [Option<f64>; 3] {
        [self.m1, self.m10, self.h1]
    }

    fn of(km: &Survival) -> CorrectedWithin {
        // Microseconds, as the estimate is built.
        let share = |s: u64| {
            let t = s * 1_000_000;
            (t <= km.horizon || km.complete()).then(|| (km.share_within(t) * 1e6).round() / 1e6)
        };
        CorrectedWithin {
            m1: share(60),
            m10: share(600),
            h1: share(3_600),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl MetricSummary {
    pub fn get(&self, q: Quantile) -> Option<f64> {
        match q {
            Quantile::P50 => self.p50_s,
            Quantile::P90 => self.p90_s,
            Quantile::P95 => self.p95_s,
            Quantile::P99 => self.p99_s,
            Quantile::Max => self.max_s,
            Quantile::Mean => self.mean_s,
        }
    }

    /// The figure `q` is not reached by the estimate: it is more than this many seconds.
    pub fn beyond(&self, q: Quantile) -> Option<f64> {
        if self.unreached.contains(&q) {
            self.beyond_s
        } else {
            None
        }
    }

    /// Summarises completed values and censored ones (both in nanoseconds). Without
    /// censored ones this is [`MetricSummary::from_values`]; with them every figure comes
    /// from the Kaplan–Meier estimate over both, in the microseconds samples.csv holds,
    /// and a figure it never reaches is `None` and listed in `unreached`.
    pub fn from_observations(values: &mut [Nanos], censored: &[Nanos]) -> MetricSummary {
        let mut ms = MetricSummary::from_values(values);
        if censored.is_empty() {
            return ms;
        }
        let obs: Vec<u64> = values.iter().map(|&v| csv_micros(v)).collect();
        let cen: Vec<u64> = censored.iter().map(|&v| csv_micros(v)).collect();
        let km = Survival::estimate(&obs, &cen);
        let us = |v: u64| round_us(v as f64 / 1e6);
        let mut unreached = Vec::new();
        let mut fig = |q: Quantile, v: Option<f64>| {
            if v.is_none() {
                unreached.push(q);
            }
            v
        };
        ms.mean_s = fig(Quantile::Mean, km.mean().map(|m| round_us(m / 1e6)));
        ms.p50_s = fig(Quantile::P50, km.quantile(0.50).map(us));
        ms.p90_s = fig(Quantile::P90, km.quantile(0.90).map(us));
        ms.p95_s = fig(Quantile::P95, km.quantile(0.95).map(us));
        ms.p99_s = fig(Quantile::P99, km.quantile(0.99).map(us));
        ms.max_s = fig(Quantile::Max, km.max().map(us));
        ms.censored = censored.len() as u64;
        ms.beyond_s = (!unreached.is_empty()).then(|| us(km.horizon));
        ms.unreached = unreached;
        ms
    }

    /// Summarises raw values in nanoseconds.
    pub fn from_values(values: &mut [Nanos]) -> MetricSummary {
        if values.is_empty() {
            return MetricSummary {
                count: 0,
                mean_s: None,
                p50_s: None,
                p90_s: None,
                p95_s: None,
                p99_s: None,
                max_s: None,
                ci95_p50_s: None,
                censored: 0,
                unreached: Vec::new(),
                beyond_s: None,
                corrected_within: None,
            };
        }
        // Microsecond resolution up to 115 days, three significant digits (0.1% relative
        // error); longer values saturate (the exact max comes from the raw samples).
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000_000, 3)
            .expect("static bounds are valid");
        let mut sum: u128 = 0;
        for &v in values.iter() {
            h.saturating_record(to_micros(v).max(1));
            sum += v as u128;
        }
        values.sort_unstable();
        let n = values.len();
        // A histogram bucket spans a range of values; report its midpoint, never beyond
        // the observed extremes.
        let (lo, hi) = (to_micros(values[0]), to_micros(values[n - 1]));
        let q = |p: f64| {
            let v = h.median_equivalent(h.value_at_quantile(p)).clamp(lo, hi);
            Some(round_us(v as f64 / 1e6))
        };
        MetricSummary {
            count: n as u64,
            mean_s: Some(round_us(sum as f64 / n as f64 / 1e9)),
            p50_s: q(0.50),
            p90_s: q(0.90),
            p95_s: q(0.95),
            p99_s: q(0.99),
            max_s: Some(round_us(secs(values[n - 1]))),
            // Filled by `Summary::build` from repetitions; samples alone cannot give an
            // honest interval because samples of one repetition are correlated.
            ci95_p50_s: None,
            censored: 0,
            unreached: Vec::new(),
            beyond_s: None,
            corrected_within: None,
        }
    }
}

fn to_micros(n: Nanos) -> u64 {
    n / 1_000
}

fn round_us(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

/// A duration in whole microseconds exactly as `samples.csv` writes it (`{:.6}` of the
/// seconds), so intervals computed here and by `pushpull report` from the CSV agree to
/// the bit. Only an exact half microsecond needs the formatter to decide the rounding.
pub fn csv_micros(n: Nanos) -> u64 {
    let (us, rest) = (n / 1_000, n % 1_000);
    match rest.cmp(&500) {
        std::cmp::Ordering::Less => us,
        std::cmp::Ordering::Greater => us + 1,
        std::cmp::Ordering::Equal => {
            let text = format!("{:.6}", secs(n));
            let (whole, frac) = text.split_once('.').unwrap_or((&text, "0"));
            whole.parse::<u64>().unwrap_or(0) * 1_000_000 + frac.parse::<u64>().unwrap_or(0)
        }
    }
}

/// The bootstrap interval of the median of one model's metric, in seconds; `None` with
/// one repetition. The same function serves `pushpull report` (see `report::stats`).
pub fn ci95_p50(seed: u64, model: &str, metric: &str, g: &Groups) -> Option<[f64; 2]> {
    bootstrap::quantile_ci(
        g,
        0.5,
        bootstrap::stream_seed(seed, &[model, metric, "p50"]),
    )
    .map(|[lo, hi]| [lo as f64 / 1e6, hi as f64 / 1e6])
}

/// [`ci95_p50`] for a metric with censored observations: the interval of the
/// Kaplan–Meier median over the same resampled repetitions (same seed stream).
pub fn ci95_p50_censored(
    seed: u64,
    model: &str,
    metric: &str,
    observed: &Groups,
    censored: &Groups,
) -> Option<[f64; 2]> {
    survival::quantile_ci(
        observed,
        censored,
        0.5,
        bootstrap::stream_seed(seed, &[model, metric, "p50"]),
    )
    .map(|[lo, hi]| [lo as f64 / 1e6, hi as f64 / 1e6])
}

/// One delivery setup's results: what it is (`kind`, `preset`) and what it measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSummary {
    /// `push` or `pull`.
    pub kind: ModelKind,
    /// The preset the setup started from (`github-actions`, `argocd`, ...).
    pub preset: String,
    pub metrics: BTreeMap<String, MetricSummary>,
    pub counters: BTreeMap<String, u64>,
    /// With environments: per environment in promotion order, the lead time to it
    /// (source commit → rolled out on every cluster of that environment; the last one's
    /// is `lead_time`).
    #[serde(default, skip_serializing_if = "Named::is_empty")]
    pub environments: Named<MetricSummary>,
    /// Single source of truth: the share of app-time live state differed from git
    /// (`measure/audit.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_sync_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_sync_share_ci95: Option<[f64; 2]>,
    /// Auditability: the share of changes to live state no git revision explains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplained_change_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplained_change_share_ci95: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexplained_changes: Option<super::audit::Unexplained>,
    /// Security: who holds write credentials to which clusters (`measure/credentials.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<super::credentials::Credentials>,
    /// Money: the monthly cost at the scenario's prices (`measure/cost.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<super::cost::Cost>,
    /// Git traffic per repository the setup reads, per simulated day ([`RepoTraffic`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub git_traffic: Vec<RepoTraffic>,
}

/// What one repository's git host sees from a setup, per simulated day (the counters
/// over every repetition, divided by the repetitions' simulated days). The scenario's
/// reconcilers read one config repository (`config`: ref checks and object fetches) and
/// CI checks out one source repository (`source`: CI checkouts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoTraffic {
    /// `config` or `source`.
    pub repository: String,
    pub git_ref_checks_per_day: f64,
    pub git_fetches_per_day: f64,
    pub git_checkouts_per_day: f64,
}

impl RepoTraffic {
    /// Every git request per day at this repository.
    pub fn total_per_day(&self) -> f64 {
        self.git_ref_checks_per_day + self.git_fetches_per_day + self.git_checkouts_per_day
    }

    /// The repositories of a setup of `kind` whose counters over `days` simulated days
    /// (every repetition's) are `c`: a pull setup's config repository, then the source
    /// repository CI checks out (a push setup reads only that one; it writes the config
    /// repository, which is not a read at the git host's fetch side).
    pub fn of(kind: ModelKind, c: &Counters, days: f64) -> Vec<RepoTraffic> {
        let per = |n: u64| if days > 0.0 { n as f64 / days } else { 0.0 };
        let mut out = Vec::with_capacity(2);
        if kind == ModelKind::Pull || c.git_ref_checks + c.git_fetches > 0 {
            out.push(RepoTraffic {
                repository: "config".into(),
                git_ref_checks_per_day: per(c.git_ref_checks),
                git_fetches_per_day: per(c.git_fetches),
                git_checkouts_per_day: 0.0,
            });
        }
        out.push(RepoTraffic {
            repository: "source".into(),
            git_ref_checks_per_day: 0.0,
            git_fetches_per_day: 0.0,
            git_checkouts_per_day: per(c.git_checkouts),
        });
        out
    }
}

impl ModelSummary {
    /// A setup of `kind` with nothing measured (schema-1 summaries fill in the rest).
    pub fn empty(kind: ModelKind) -> ModelSummary {
        ModelSummary {
            kind,
            preset: String::new(),
            metrics: BTreeMap::new(),
            counters: BTreeMap::new(),
            environments: Named::default(),
            out_of_sync_share: None,
            out_of_sync_share_ci95: None,
            unexplained_change_share: None,
            unexplained_change_share_ci95: None,
            unexplained_changes: None,
            credentials: None,
            cost: None,
            git_traffic: Vec::new(),
        }
    }
    pub fn metric(&self, name: &str) -> Option<&MetricSummary> {
        self.metrics.get(name)
    }
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// The share `name` (one of [`SHARES`]) from the counters: `None` when its
    /// denominator is 0 (nothing to be a share of) or `name` is not a share.
    pub fn share(&self, name: &str) -> Option<f64> {
        match name {
            "out_of_sync_share" => return self.out_of_sync_share,
            "unexplained_change_share" => return self.unexplained_change_share,
            _ => {}
        }
        let (_, top, bottom) = SHARES.iter().find(|(n, ..)| *n == name)?;
        let total: u64 = bottom.iter().map(|c| self.counter(c)).sum();
        (total > 0).then(|| self.counter(top) as f64 / total as f64)
    }

    /// Any figure a threshold or `check` may bound, by name: a counter of
    /// [`BAD_COUNTERS`] or a share of [`SHARES`] (durations are read per quantile from
    /// [`ModelSummary::metric`]).
    pub fn count_or_share(&self, name: &str) -> Option<f64> {
        if BAD_COUNTERS.contains(&name) {
            Some(self.counter(name) as f64)
        } else {
            self.share(name)
        }
    }
}

/// Counters where more is worse, which thresholds and `pushpull check --metric` accept
/// beside the duration metrics (summed over every repetition).
pub const BAD_COUNTERS: [&str; 5] = [
    "drift_unrecovered",
    "deploys_incomplete",
    "apply_errors",
    "clusters_unrestored",
    "failed_deploys",
];

/// Shares (0 to 1) thresholds and `check --metric` accept: (name, counter, the
/// counters whose sum it is a share of).
pub const SHARES: [(&str, &str, &[&str]); 2] = [
    (
        "drift_unrecovered_share",
        "drift_unrecovered",
        &["drift_events"],
    ),
    (
        "deploys_incomplete_share",
        "deploys_incomplete",
        &["deploys", "deploys_incomplete"],
    ),
];

/// Shares (0 to 1) measured over app-time or over changes, each kept under its own key
/// of the setup's summary (the decision card's drift exposure and audit coverage):
/// (name, what it is a share of).
pub const MEASURED_SHARES: [(&str, &str); 2] = [
    (
        "out_of_sync_share",
        "app-time during which live state differed from git",
    ),
    (
        "unexplained_change_share",
        "changes to live state that no git revision explains",
    ),
];

/// What kind of figure a name a threshold or `check --metric` gives is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FigureKind {
    /// A duration metric, bounded per quantile in seconds.
    Duration(Metric),
    /// A counter of [`BAD_COUNTERS`].
    Count,
    /// A share of [`SHARES`].
    Share,
}

impl FigureKind {
    /// The kind of figure `name` is, if any.
    pub fn of(name: &str) -> Option<FigureKind> {
        if let Some(m) = Metric::from_name(name) {
            Some(FigureKind::Duration(m))
        } else if BAD_COUNTERS.contains(&name) {
            Some(FigureKind::Count)
        } else if SHARES.iter().any(|(n, ..)| *n == name)
            || MEASURED_SHARES.iter().any(|(n, _)| *n == name)
        {
            Some(FigureKind::Share)
        } else {
            None
        }
    }

    /// Every name accepted, for messages: metrics, then counters, then shares.
    pub fn names() -> Vec<&'static str> {
        Metric::ALL
            .iter()
            .map(|m| m.name())
            .chain(BAD_COUNTERS)
            .chain(SHARES.iter().map(|(n, ..)| *n))
            .chain(MEASURED_SHARES.iter().map(|(n, _)| *n))
            .collect()
    }
}

/// Per environment, the lead time to it: for each commit whose `deploy_latency` has a
/// sample on every cluster of the environment, the latest of them.
fn env_lead_times(
    seed: u64,
    name: &str,
    envs: &crate::scenario::Environments,
    reps: &[RunRecord],
) -> Named<MetricSummary> {
    let mut out = Vec::with_capacity(envs.len());
    for (k, env) in envs.list.iter().enumerate() {
        let size = env.clusters.len();
        let mut values = Vec::new();
        let mut per_rep = vec![Vec::new(); reps.len()];
        for (i, r) in reps.iter().enumerate() {
            // commit → (clusters seen, start, latest end)
            let mut by_commit: BTreeMap<u32, (usize, Nanos, Nanos)> = BTreeMap::new();
            for smp in &r.samples {
                let (Metric::DeployLatency, Some(c), Some(rev)) =
                    (smp.metric, smp.cluster, smp.commit)
                else {
                    continue;
                };
                if envs.env_of(c) as usize != k {
                    continue;
                }
                let e = by_commit.entry(rev).or_insert((0, smp.start, smp.end));
                e.0 += 1;
                e.1 = e.1.min(smp.start);
                e.2 = e.2.max(smp.end);
            }
            for (n, start, end) in by_commit.into_values() {
                if n == size {
                    let v = end.saturating_sub(start);
                    values.push(v);
                    per_rep[i].push(csv_micros(v));
                }
            }
        }
        let mut ms = MetricSummary::from_values(&mut values);
        if ms.count > 0 {
            let g = Groups::new(per_rep);
            ms.ci95_p50_s = ci95_p50(seed, name, &format!("lead_time@{}", env.name), &g);
        }
        out.push((env.name.clone(), ms));
    }
    Named(out)
}

/// Values by setup name, in the scenario's order (a JSON object whose key order is kept:
/// tables and charts list setups as the scenario does).
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T>(pub Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<T> Named<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> std::ops::Index<&str> for Named<T> {
    type Output = T;
    fn index(&self, name: &str) -> &T {
        self.get(name)
            .unwrap_or_else(|| panic!("no setup named `{name}`"))
    }
}

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of setup names")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, T)> = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(serde::de::Error::custom(format!(
                            "setup `{k}` appears twice"
                        )));
                    }
                    let v = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Named(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdResult {
    /// The setup the threshold bounds.
    pub model: String,
    /// A metric, a counter or a share ([`FigureKind::of`]).
    pub metric: String,
    /// The statistic of a metric; absent for a counter or a share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<Quantile>,
    /// The bound, in seconds for a metric, as a count or a share (0 to 1) for the others.
    pub max_s: f64,
    /// The figure, in the same unit; `null` when there is none (no samples, nothing to
    /// be a share of, or a quantile still open at the end).
    pub value_s: Option<f64>,
    pub ok: bool,
    /// The scenario's tolerance for this figure in `pushpull check`, as a fraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// The part of the fleet the figure is computed from, as the scenario names it
    /// (`environment prod`, `cluster prod-eu-1, app payments`); absent: the whole fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    /// With a selection: the observations selected (completed and still open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// With a selection: the figure is more than this many seconds (the estimate never
    /// reaches the quantile before the run ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyond_s: Option<f64>,
}

impl ThresholdResult {
    /// The quantile's name for a metric, `count` or `share` for the others.
    pub fn statistic(&self) -> &'static str {
        match (self.quantile, FigureKind::of(&self.metric)) {
            (Some(q), _) => q.name(),
            (None, Some(FigureKind::Share)) => "share",
            (None, _) => "count",
        }
    }

    /// ` in environment prod` when the threshold bounds part of the fleet, else empty:
    /// appended to the figure's name wherever a threshold is shown.
    pub fn scope(&self) -> String {
        match &self.selection {
            Some(s) => format!(" in {s}"),
            None => String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    pub events: u64,
    /// Wall-clock seconds of the run; `null` in sim mode so that summary.json depends
    /// only on the scenario and seed (the wall time is in run.json).
    pub wall_s: Option<f64>,
}

/// The schema [`Summary`] writes. Schema 1 (before named setups: `models.push` and
/// `models.pull`, no `kind`, `preset` or `baseline`) is still read, by `report::load`.
pub const SCHEMA: u32 = 2;

/// `summary.json`: the CI contract of the README, written by `pushpull run` and read back
/// by `pushpull report` and `pushpull check`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub schema: u32,
    pub scenario: String,
    pub mode: String,
    pub seed: u64,
    pub repetitions: u32,
    pub duration_s: f64,
    #[serde(default)]
    pub partial: bool,
    /// In a partial run: how many repetitions were measured, the last possibly in part
    /// (absent from a complete run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetitions_run: Option<u32>,
    /// Fault kinds of the scenario this mode could not inject (live modes only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported_faults: Vec<String>,
    /// The setup the others are compared with.
    pub baseline: String,
    /// Every setup of the run, in the scenario's order.
    pub models: Named<ModelSummary>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    pub engine: Engine,
    /// The decision card's sensitivity pass (`pushpull run` fills it in; `None` from
    /// [`Summary::build`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<super::seed::Sensitivity>,
}

impl Summary {
    /// `runs[m]` is setup `m`'s records, one per repetition.
    pub fn build(s: &Scenario, mode: &str, runs: &[(String, Vec<RunRecord>)]) -> Summary {
        let mut models = Vec::with_capacity(runs.len());
        let mut events = 0;
        for (name, reps) in runs {
            let Some(setup) = s.models.get(name) else {
                continue;
            };
            let mut counters = Counters::default();
            let mut values: BTreeMap<Metric, Vec<Nanos>> =
                Metric::ALL.iter().map(|&m| (m, Vec::new())).collect();
            // Per repetition, in the microseconds of samples.csv, for the bootstrap.
            let mut per_rep: BTreeMap<Metric, Vec<Vec<u64>>> = Metric::ALL
                .iter()
                .map(|&m| (m, vec![Vec::new(); reps.len()]))
                .collect();
            // Observations still open at the end, likewise (only metrics that have some).
            let mut open: BTreeMap<Metric, Vec<Nanos>> = BTreeMap::new();
            let mut open_rep: BTreeMap<Metric, Vec<Vec<u64>>> = BTreeMap::new();
            for (i, r) in reps.iter().enumerate() {
                counters.add(&r.counters);
                events = r.engine_events.saturating_add(events);
                for smp in &r.samples {
                    values.entry(smp.metric).or_default().push(smp.value());
                    per_rep
                        .entry(smp.metric)
                        .or_insert_with(|| vec![Vec::new(); reps.len()])[i]
                        .push(csv_micros(smp.value()));
                }
                for smp in &r.censored {
                    open.entry(smp.metric).or_default().push(smp.value());
                    open_rep
                        .entry(smp.metric)
                        .or_insert_with(|| vec![Vec::new(); reps.len()])[i]
                        .push(csv_micros(smp.value()));
                }
            }
            let metrics = values
                .into_iter()
                .map(|(m, mut v)| {
                    let cen = open.remove(&m).unwrap_or_default();
                    let mut ms = MetricSummary::from_observations(&mut v, &cen);
                    let g = Groups::new(per_rep.remove(&m).unwrap_or_default());
                    if cen.is_empty() {
                        if ms.count > 0 {
                            ms.ci95_p50_s = ci95_p50(s.seed, name, m.name(), &g);
                        }
                    } else {
                        let c = Groups::new(open_rep.remove(&m).unwrap_or_default());
                        ms.ci95_p50_s = ci95_p50_censored(s.seed, name, m.name(), &g, &c);
                    }
                    if m == Metric::DriftRecovery && ms.count + ms.censored > 0 {
                        let obs: Vec<u64> = v.iter().map(|&x| csv_micros(x)).collect();
                        let c: Vec<u64> = cen.iter().map(|&x| csv_micros(x)).collect();
                        ms.corrected_within =
                            Some(CorrectedWithin::of(&Survival::estimate(&obs, &c)));
                    }
                    (m.name().to_string(), ms)
                })
                .collect();
            let days = reps.len() as f64 * s.duration.0 as f64 / 86_400e9;
            let git_traffic = RepoTraffic::of(setup.kind(), &counters, days);
            let counters = counters
                .named()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let environments = match &s.environments {
                Some(e) => env_lead_times(s.seed, name, e, reps),
                None => Named::default(),
            };
            let seed = super::seed::SeedFigures::build(s, setup, name, reps);
            models.push((
                name.clone(),
                ModelSummary {
                    kind: setup.kind(),
                    preset: setup.preset().to_string(),
                    metrics,
                    counters,
                    environments,
                    out_of_sync_share: seed.out_of_sync_share,
                    out_of_sync_share_ci95: seed.out_of_sync_share_ci95,
                    unexplained_change_share: seed.unexplained_change_share,
                    unexplained_change_share_ci95: seed.unexplained_change_share_ci95,
                    unexplained_changes: seed.unexplained_changes,
                    credentials: Some(seed.credentials),
                    cost: seed.cost,
                    git_traffic,
                },
            ));
        }
        let models = Named(models);
        let thresholds = s
            .thresholds
            .iter()
            .map(|t| {
                let kind = t.metric.kind();
                let setup = models.get(&t.model);
                let mut selected = None;
                let value_s = match (kind, t.quantile, &t.selection) {
                    (FigureKind::Duration(m), Some(q), Some(sel)) => {
                        let reps = runs.iter().find(|(n, _)| *n == t.model).map(|(_, r)| r);
                        let ms = super::select::figure(reps.map_or(&[][..], Vec::as_slice), m, sel);
                        let v = ms.get(q);
                        selected = Some((ms.count + ms.censored, ms.beyond(q)));
                        v
                    }
                    (FigureKind::Duration(m), Some(q), None) => setup
                        .and_then(|x| x.metrics.get(m.name()))
                        .and_then(|ms| ms.get(q)),
                    _ => setup.and_then(|x| x.count_or_share(t.metric.as_str())),
                };
                // `Scenario::parse` checked that the bound fits the figure.
                let max_s = t.max.value_for(kind).unwrap_or(0.0);
                ThresholdResult {
                    model: t.model.clone(),
                    metric: t.metric.as_str().to_string(),
                    quantile: t.quantile,
                    max_s,
                    value_s,
                    // A threshold on a metric with no samples cannot be shown to hold.
                    ok: value_s.is_some_and(|v| v <= max_s),
                    tolerance: t.tolerance.map(|p| p.0),
                    selection: t.selection.as_ref().map(|x| x.label.clone()),
                    n: selected.map(|(n, _)| n),
                    beyond_s: selected.and_then(|(_, b)| b),
                }
            })
            .collect();
        Summary {
            schema: SCHEMA,
            scenario: s.name.clone(),
            mode: mode.to_string(),
            seed: s.seed,
            repetitions: s.repetitions,
            duration_s: secs(s.duration.0),
            partial: false,
            repetitions_run: None,
            unsupported_faults: Vec::new(),
            baseline: s.baseline.clone(),
            models,
            thresholds,
            engine: Engine {
                events,
                wall_s: None,
            },
            sensitivity: None,
        }
    }

    /// The setup named `name`.
    pub fn model(&self, name: &str) -> Option<&ModelSummary> {
        self.models.get(name)
    }

    pub fn thresholds_ok(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::SECOND;

    #[test]
    fn quantiles_and_mean_of_a_uniform_grid() {
        let mut v: Vec<Nanos> = (1..=1000).map(|i| i * SECOND / 10).collect();
        let s = MetricSummary::from_values(&mut v);
        assert_eq!(s.count, 1000);
        assert!((s.mean_s.unwrap() - 50.05).abs() < 1e-9);
        assert!((s.p50_s.unwrap() - 50.0).abs() < 0.05, "{:?}", s.p50_s);
        assert!((s.p99_s.unwrap() - 99.0).abs() < 0.1, "{:?}", s.p99_s);
        assert_eq!(s.max_s, Some(100.0));
    }

    #[test]
    fn csv_micros_rounds_like_the_csv_text() {
        for n in [
            0,
            499,
            500,
            501,
            1_500,
            2_500,
            1_234_567_500,
            987_654_321_499,
        ] {
            let text = format!("{:.6}", secs(n));
            let (w, f) = text.split_once('.').unwrap();
            let from_text = w.parse::<u64>().unwrap() * 1_000_000 + f.parse::<u64>().unwrap();
            assert_eq!(csv_micros(n), from_text, "{n}");
        }
    }

    #[test]
    fn empty_metric_has_count_zero_and_no_values() {
        let s = MetricSummary::from_values(&mut []);
        assert_eq!(s.count, 0);
        assert!(s.p50_s.is_none() && s.ci95_p50_s.is_none());
    }
}
