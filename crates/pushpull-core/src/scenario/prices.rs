//! The `prices:` block: what CI minutes, runner hours, reconciler CPU and memory and git
//! egress cost, and the footprints that turn a run's counts into those units. Every key
//! is optional; the defaults and their sources are in docs/PRESETS.md ("Prices").

use super::strict::Real;
use serde::{Deserialize, Serialize};

/// Where the CI runs: GitHub-hosted runners billed per job minute, or a self-hosted
/// pool billed per hour whether it is busy or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunnerBilling {
    /// Per job minute, each job rounded up to a whole minute (GitHub's billing).
    GithubHosted,
    /// Per hour of every runner of the pool, for the whole period.
    SelfHosted,
}

/// A GitHub-hosted Linux runner size (the per-minute rate table of GitHub's billing docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunnerSize {
    #[serde(rename = "linux-1-core")]
    Linux1,
    #[serde(rename = "linux-2-core")]
    Linux2,
    #[serde(rename = "linux-4-core")]
    Linux4,
    #[serde(rename = "linux-8-core")]
    Linux8,
    #[serde(rename = "linux-16-core")]
    Linux16,
    #[serde(rename = "linux-32-core")]
    Linux32,
    #[serde(rename = "linux-64-core")]
    Linux64,
}

impl RunnerSize {
    /// USD per minute: GitHub docs, "Actions minute multiplier reference", standard and
    /// larger Linux runners (github/docs content/billing/reference/
    /// actions-minute-multipliers.md and about-billing-for-github-actions.md, read
    /// 2026-12-01).
    pub fn minute_usd(self) -> f64 {
        match self {
            RunnerSize::Linux1 => 0.002,
            RunnerSize::Linux2 => 0.008,
            RunnerSize::Linux4 => 0.016,
            RunnerSize::Linux8 => 0.032,
            RunnerSize::Linux16 => 0.064,
            RunnerSize::Linux32 => 0.128,
            RunnerSize::Linux64 => 0.256,
        }
    }
}

/// The prices a run's monthly cost is computed with (resolved: every field set).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prices {
    pub runners: RunnerBilling,
    pub runner_size: RunnerSize,
    /// USD per GitHub-hosted job minute (the size's rate unless overridden).
    pub github_hosted_minute_usd: f64,
    /// USD per hour of one self-hosted runner.
    pub self_hosted_runner_hour_usd: f64,
    /// USD per vCPU-hour and per GiB-hour of the cluster's nodes (what a reconciler's
    /// requests reserve).
    pub vcpu_hour_usd: f64,
    pub gib_hour_usd: f64,
    /// USD per GiB the git host sends.
    pub egress_gib_usd: f64,
    /// One reconciler instance's CPU (vCPU) and memory (GiB) requests.
    pub reconciler_vcpu: f64,
    pub reconciler_memory_gib: f64,
    /// Bytes a ref check, a fetch of a new revision and a CI checkout transfer, in KiB.
    pub git_ref_check_kib: f64,
    pub git_fetch_kib: f64,
    pub git_checkout_kib: f64,
}

impl Default for Prices {
    fn default() -> Prices {
        Prices {
            runners: RunnerBilling::GithubHosted,
            runner_size: RunnerSize::Linux2,
            github_hosted_minute_usd: RunnerSize::Linux2.minute_usd(),
            // AWS EC2 on-demand m5.large (2 vCPU, 8 GiB), Linux, us-east-1.
            self_hosted_runner_hour_usd: 0.096,
            // AWS Fargate, Linux/x86, us-east-1: per vCPU-hour and per GB-hour.
            vcpu_hour_usd: 0.04048,
            gib_hour_usd: 0.004445,
            // AWS data transfer out to the internet, first 10 TB a month.
            egress_gib_usd: 0.09,
            // Flux kustomize-controller's requests (config/manager/deployment.yaml:
            // cpu 100m, memory 64Mi); Argo CD's manifests set none.
            reconciler_vcpu: 0.1,
            reconciler_memory_gib: 0.0625,
            // Assumptions, not upstream figures (docs/PRESETS.md): a ref advertisement
            // of a small config repository, a pack of one config commit, a shallow
            // checkout of an application repository.
            git_ref_check_kib: 4.0,
            git_fetch_kib: 64.0,
            git_checkout_kib: 50.0 * 1024.0,
        }
    }
}

/// `prices:` as written: every key optional.
#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RawPrices {
    /// `github-hosted` (default: per job minute) or `self-hosted` (per runner hour).
    #[serde(default)]
    runners: Option<RunnerBilling>,
    /// GitHub-hosted Linux runner size (default `linux-2-core`, $0.008 a minute).
    #[serde(default)]
    runner_size: Option<RunnerSize>,
    /// USD per GitHub-hosted job minute (default: the size's rate).
    #[serde(default)]
    github_hosted_minute_usd: Option<Real>,
    /// USD per self-hosted runner hour (default 0.096, an on-demand m5.large).
    #[serde(default)]
    self_hosted_runner_hour_usd: Option<Real>,
    /// USD per vCPU-hour (default 0.04048, AWS Fargate us-east-1).
    #[serde(default)]
    vcpu_hour_usd: Option<Real>,
    /// USD per GiB-hour of memory (default 0.004445, AWS Fargate us-east-1).
    #[serde(default)]
    gib_hour_usd: Option<Real>,
    /// USD per GiB the git host sends (default 0.09).
    #[serde(default)]
    egress_gib_usd: Option<Real>,
    /// vCPU one reconciler instance reserves (default 0.1).
    #[serde(default)]
    reconciler_vcpu: Option<Real>,
    /// GiB of memory one reconciler instance reserves (default 0.0625).
    #[serde(default)]
    reconciler_memory_gib: Option<Real>,
    /// KiB one ref check transfers (default 4).
    #[serde(default)]
    git_ref_check_kib: Option<Real>,
    /// KiB one fetch of a new revision transfers (default 64).
    #[serde(default)]
    git_fetch_kib: Option<Real>,
    /// KiB one CI checkout transfers (default 51200, 50 MiB).
    #[serde(default)]
    git_checkout_kib: Option<Real>,
}

impl RawPrices {
    /// The prices with defaults filled in; `Err((key path, message))` for a negative or
    /// non-finite number.
    pub fn resolve(self) -> Result<Prices, (String, String)> {
        let mut p = Prices::default();
        if let Some(r) = self.runners {
            p.runners = r;
        }
        if let Some(s) = self.runner_size {
            p.runner_size = s;
            p.github_hosted_minute_usd = s.minute_usd();
        }
        let fields: [(&str, Option<Real>, &mut f64); 10] = [
            (
                "github_hosted_minute_usd",
                self.github_hosted_minute_usd,
                &mut p.github_hosted_minute_usd,
            ),
            (
                "self_hosted_runner_hour_usd",
                self.self_hosted_runner_hour_usd,
                &mut p.self_hosted_runner_hour_usd,
            ),
            ("vcpu_hour_usd", self.vcpu_hour_usd, &mut p.vcpu_hour_usd),
            ("gib_hour_usd", self.gib_hour_usd, &mut p.gib_hour_usd),
            ("egress_gib_usd", self.egress_gib_usd, &mut p.egress_gib_usd),
            (
                "reconciler_vcpu",
                self.reconciler_vcpu,
                &mut p.reconciler_vcpu,
            ),
            (
                "reconciler_memory_gib",
                self.reconciler_memory_gib,
                &mut p.reconciler_memory_gib,
            ),
            (
                "git_ref_check_kib",
                self.git_ref_check_kib,
                &mut p.git_ref_check_kib,
            ),
            ("git_fetch_kib", self.git_fetch_kib, &mut p.git_fetch_kib),
            (
                "git_checkout_kib",
                self.git_checkout_kib,
                &mut p.git_checkout_kib,
            ),
        ];
        for (key, v, slot) in fields {
            let Some(Real(v)) = v else { continue };
            if !v.is_finite() || v < 0.0 {
                return Err((
                    format!("prices.{key}"),
                    format!("{v} is not a price or size; write a number of 0 or more, like 0.008"),
                ));
            }
            *slot = v;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Prices, (String, String)> {
        let raw: RawPrices =
            serde_yaml_ng::from_str(yaml).map_err(|e| (String::new(), e.to_string()))?;
        raw.resolve()
    }

    #[test]
    fn a_runner_size_sets_its_minute_rate_unless_the_rate_is_given() {
        let p = parse("runner_size: linux-8-core").unwrap();
        assert_eq!(p.github_hosted_minute_usd, 0.032);
        let p = parse("{runner_size: linux-8-core, github_hosted_minute_usd: 0.01}").unwrap();
        assert_eq!(p.github_hosted_minute_usd, 0.01);
        assert_eq!(parse("{}").unwrap(), Prices::default());
    }

    #[test]
    fn a_negative_price_is_refused_with_its_key() {
        let (key, msg) = parse("egress_gib_usd: -1").unwrap_err();
        assert_eq!(key, "prices.egress_gib_usd");
        assert!(msg.contains("0 or more"), "{msg}");
    }
}
