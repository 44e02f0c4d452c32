//! The executive summary: at most six sentences written from the run's numbers (speed,
//! drift, bad releases, faults, cost, caveats), each saying what was measured and how sure.

use super::format::{capitalised, dur, join_and, signed_interval, times};
use super::{View, scenario_u64};
use crate::report::charts::{MODELS, rate, simulated_hours};
use crate::report::stats::Verdict;
use crate::report::table::human;

impl View<'_> {
    pub(super) fn speed_sentences(&self) -> Vec<String> {
        let (Some(a), Some(b)) = (
            self.p50("push", "deploy_latency"),
            self.p50("pull", "deploy_latency"),
        ) else {
            return vec![
                "At least one model completed no deploy, so deploy speed cannot be compared."
                    .into(),
            ];
        };
        let diff = self.iv.metric("deploy_latency").map(|m| &m.push_minus_pull);
        let verdict = diff.and_then(|d| d.p50_verdict);
        let p95s = format!(
            "at p95, {} (push) against {} (pull)",
            dur(self.p95("push", "deploy_latency")),
            dur(self.p95("pull", "deploy_latency"))
        );
        if verdict == Some(Verdict::NoSignificantDifference) {
            return vec![format!(
                "Neither model deploys significantly faster: median deploy latency is {} with {} and {} with {}, and the 95% confidence interval of the difference (push − pull) {} includes zero; {}.",
                human(a),
                self.label("push"),
                human(b),
                self.label("pull"),
                signed_interval(diff.and_then(|d| d.ci95_p50_s)),
                p95s
            )];
        }
        let (fast, slow, f, s) = if b < a {
            ("pull", "push", b, a)
        } else {
            ("push", "pull", a, b)
        };
        let how_much = if f > 0.0 {
            format!("{} less ({} faster)", human(s - f), times(s, f))
        } else {
            format!("{} less", human(s - f))
        };
        let first = format!(
            "{} deploys faster: its median deploy latency is {} against {} for {}, {}; {}.",
            capitalised(&self.label(fast)),
            human(f),
            human(s),
            self.label(slow),
            how_much,
            p95s
        );
        let second = match (verdict, diff.and_then(|d| d.ci95_p50_s)) {
            (Some(_), Some(ci)) => format!(
                "The bootstrap 95% confidence interval of the difference in medians (push − pull) is {}, which excludes zero: the gap is statistically significant across the {} repetitions.",
                signed_interval(Some(ci)),
                self.reps()
            ),
            _ => "With a single repetition no confidence interval is available, so this gap is not tested for significance.".into(),
        };
        vec![first, second]
    }

    pub(super) fn drift_sentence(&self) -> String {
        let events: u64 = MODELS.iter().map(|m| self.counter(m, "drift_events")).sum();
        if events == 0 {
            return "No drift was injected in this scenario.".into();
        }
        let part = |m: &str| {
            let ev = self.counter(m, "drift_events");
            let un = self.counter(m, "drift_unrecovered");
            let mut s = format!(
                "{m} corrected {} of {} manual edits (median {})",
                ev - un,
                ev,
                dur(self.p50(m, "drift_recovery"))
            );
            if un > 0 {
                s.push_str(&format!(" and left {un} in place when the run ended"));
            }
            s
        };
        let verdict = self
            .iv
            .metric("drift_recovery")
            .and_then(|m| m.push_minus_pull.p50_verdict);
        let tail = if verdict == Some(Verdict::NoSignificantDifference) {
            " (the difference in medians is no significant difference at 95%)"
        } else {
            ""
        };
        format!("Drift: {}, while {}{}.", part("push"), part("pull"), tail)
    }

    pub(super) fn bad_release_sentence(&self) -> String {
        let failed: u64 = MODELS
            .iter()
            .map(|m| self.counter(m, "failed_deploys"))
            .sum();
        let n = |m: &str| {
            self.metric(m, "failed_deploy_recovery")
                .map(|s| s.count)
                .unwrap_or(0)
        };
        if failed == 0 && n("push") == 0 && n("pull") == 0 {
            return "No bad release was injected in this scenario.".into();
        }
        let verdict = self
            .iv
            .metric("failed_deploy_recovery")
            .and_then(|m| m.push_minus_pull.p50_verdict);
        let judged = match verdict {
            Some(Verdict::NoSignificantDifference) => {
                "; the 95% interval of the difference includes zero, so this is no significant difference"
            }
            Some(_) => "; the 95% interval of the difference excludes zero",
            None => "",
        };
        format!(
            "Bad releases: recovering from a failed deploy (bad commit to healthy again) took a median of {} with push and {} with pull, and the rollback itself, once decided, took {} and {}{}.",
            dur(self.p50("push", "failed_deploy_recovery")),
            dur(self.p50("pull", "failed_deploy_recovery")),
            dur(self.p50("push", "rollback")),
            dur(self.p50("pull", "rollback")),
            judged
        )
    }

    /// The window faults of the scenario (outages, partitions, crashes, losses) and what
    /// they did to each model, from the run's own figures.
    pub(super) fn fault_sentence(&self) -> Option<String> {
        let faults = self.run.scenario.as_ref()?.get("faults")?.as_array()?;
        let mut kinds: Vec<&str> = Vec::new();
        for f in faults {
            let name = match f.get("kind").and_then(|k| k.as_str()) {
                Some("git_outage") => "a git outage",
                Some("api_brownout") => "an API brownout",
                Some("partition") => "a network partition",
                Some("reconciler_crash") => "a reconciler crash",
                Some("runner_outage") => "a CI runner outage",
                Some("cluster_loss") => "a cluster loss",
                _ => continue,
            };
            if !kinds.contains(&name) {
                kinds.push(name);
            }
        }
        if kinds.is_empty() {
            return None;
        }
        let mut s = format!(
            "Under {}, deploy latency at p95 was {} with push and {} with pull",
            join_and(&kinds),
            dur(self.p95("push", "deploy_latency")),
            dur(self.p95("pull", "deploy_latency"))
        );
        let (ep, el) = (
            self.counter("push", "apply_errors"),
            self.counter("pull", "apply_errors"),
        );
        if ep + el > 0 {
            s.push_str(&format!(
                "; {ep} applies failed under push and {el} under pull, each retried with backoff"
            ));
        }
        let restore = |m: &str| {
            let n = self
                .metric(m, "cluster_restore")
                .map(|x| x.count)
                .unwrap_or(0);
            let missing = self.counter(m, "clusters_unrestored");
            match (n, missing) {
                (0, 0) => None,
                (0, k) => Some(format!(
                    "{m} never did ({k} rebuilt cluster(s) still missing apps at the end)"
                )),
                (_, 0) => Some(format!(
                    "{m} after a median of {}",
                    dur(self.p50(m, "cluster_restore"))
                )),
                (_, k) => Some(format!(
                    "{m} after a median of {} ({k} rebuilt cluster(s) still missing apps at the end)",
                    dur(self.p50(m, "cluster_restore"))
                )),
            }
        };
        let restores: Vec<String> = MODELS.iter().filter_map(|m| restore(m)).collect();
        if !restores.is_empty() {
            s.push_str(&format!(
                "; a rebuilt cluster ran every app again: {}",
                restores.join(", ")
            ));
        }
        s.push('.');
        Some(s)
    }

    pub(super) fn cost_sentence(&self) -> String {
        let hours = simulated_hours(self.run);
        let per = |m: &str, c: &str| {
            if hours > 0.0 {
                self.counter(m, c) as f64 / hours
            } else {
                0.0
            }
        };
        let (pg, lg) = (per("push", "git_fetches"), per("pull", "git_fetches"));
        let mut s = format!(
            "Load: per scenario hour push made {} API requests and {} git fetches, pull {} API requests and {} git fetches",
            rate(per("push", "api_requests")),
            rate(pg),
            rate(per("pull", "api_requests")),
            rate(lg)
        );
        if pg > 0.0 && lg > pg {
            s.push_str(&format!(
                "; pull's polling costs {} the git traffic of push",
                times(lg, pg)
            ));
        } else if lg > 0.0 && pg > lg {
            s.push_str(&format!(
                "; push costs {} the git traffic of pull",
                times(pg, lg)
            ));
        }
        s.push('.');
        s
    }

    pub(super) fn caveat_sentence(&self) -> String {
        let sm = &self.run.summary;
        // A run stopped early measured fewer repetitions than it planned.
        let reps = match sm.repetitions_run {
            Some(k) => format!("{k} of {} planned repetitions", sm.repetitions),
            None if sm.repetitions == 1 => "1 repetition".to_string(),
            None => format!("{} repetitions", sm.repetitions),
        };
        let mut s = format!(
            "Caveats: these are {}-mode results from {reps} of {}",
            sm.mode,
            human(sm.duration_s)
        );
        if let (Some(c), Some(a)) = (
            scenario_u64(self.run, "/fleet/clusters"),
            scenario_u64(self.run, "/fleet/apps"),
        ) {
            s.push_str(&format!(
                " on {c} cluster{} × {a} apps",
                if c == 1 { "" } else { "s" }
            ));
        }
        s.push_str(" and hold for this scenario's presets and distributions only");
        if let Some(b) = self.p50("push", "build").filter(|&b| b > 0.0)
            && self.p50("pull", "build").is_none()
        {
            s.push_str(&format!(
                "; push's deploy latency includes a median build of {}, which pull does not perform (it deploys manifests built elsewhere)",
                human(b)
            ));
        }
        if sm.repetitions <= 1 {
            s.push_str("; with a single repetition no confidence interval is available");
        }
        if sm.partial {
            s.push_str(if sm.repetitions_run.is_some() {
                "; the run was stopped early (interrupted, or a cluster failed), the last repetition possibly in part, so these results are partial"
            } else {
                "; the run was interrupted, so these results are partial"
            });
        }
        if !sm.unsupported_faults.is_empty() {
            s.push_str(&format!(
                "; --mode {} cannot inject {}, so the scenario's {} did not happen in this run",
                sm.mode,
                sm.unsupported_faults.join(" or "),
                if sm.unsupported_faults.len() == 1 {
                    "fault of that kind"
                } else {
                    "faults of those kinds"
                }
            ));
        }
        s.push('.');
        s
    }
}
