//! The executive summary: at most six sentences written from the run's numbers (speed,
//! drift, bad releases, faults, cost, caveats), each saying what was measured and how sure.

use super::View;
use super::format::{capitalised, dur, join_and, signed_interval, times};
use crate::measure::bootstrap::MIN_REPETITIONS;
use crate::report::charts::{rate, simulated_hours};
use crate::report::stats::Verdict;
use crate::report::table::human;

impl View<'_> {
    pub(super) fn speed_sentences(&self) -> Vec<String> {
        let base = self.base();
        let missing: Vec<&str> = self
            .names()
            .into_iter()
            .filter(|m| self.p50(m, "deploy_latency").is_none())
            .collect();
        if !missing.is_empty() {
            let who = if missing.len() == self.setups.len() {
                "No setup".to_string()
            } else {
                join_and(&missing)
            };
            return vec![format!(
                "{who} completed no deploy, so deploy speed cannot be compared."
            )];
        }
        let others = self.others();
        if let [other] = others[..] {
            return self.speed_of_two(base, other);
        }
        let a = self.p50(base, "deploy_latency").unwrap_or(0.0);
        let medians: Vec<String> = self
            .names()
            .iter()
            .map(|&m| {
                let v = dur(self.p50(m, "deploy_latency"));
                if m == base {
                    format!("{v} with the baseline {}", self.label(m))
                } else {
                    format!("{v} with {}", self.label(m))
                }
            })
            .collect();
        let p95s: Vec<String> = self
            .names()
            .iter()
            .map(|&m| format!("{} ({m})", dur(self.p95(m, "deploy_latency"))))
            .collect();
        let first = format!(
            "Median deploy latency is {}; at p95, {}.",
            join_and(&medians.iter().map(String::as_str).collect::<Vec<_>>()),
            join_and(&p95s.iter().map(String::as_str).collect::<Vec<_>>())
        );
        let parts: Vec<String> = others
            .iter()
            .map(|&o| {
                let b = self.p50(o, "deploy_latency").unwrap_or(0.0);
                let d = self.diff("deploy_latency", o);
                let ci = d.and_then(|d| d.ci95_p50_s);
                let how = if b < a {
                    let x = if b > 0.0 {
                        format!(", {} faster", times(a, b))
                    } else {
                        String::new()
                    };
                    format!("{o} delivers a commit {} sooner{x}", human(a - b))
                } else if b > a {
                    let x = if a > 0.0 {
                        format!(", {} slower", times(b, a))
                    } else {
                        String::new()
                    };
                    format!("{o} delivers a commit {} later{x}", human(b - a))
                } else {
                    format!("{o} delivers a commit as soon")
                };
                let judged = match (d.and_then(|d| d.p50_verdict), ci) {
                    (Some(Verdict::NoSignificantDifference), ci) => format!(
                        " (95% CI of {o} − {base} {}, which includes zero: no significant difference)",
                        signed_interval(ci)
                    ),
                    (Some(_), ci) => format!(
                        " (95% CI of {o} − {base} {}, which excludes zero)",
                        signed_interval(ci)
                    ),
                    (None, _) => format!(
                        " (indicative: not tested for significance with {} repetition{}; an interval needs {})",
                        self.reps(),
                        if self.reps() == 1 { "" } else { "s" },
                        MIN_REPETITIONS
                    ),
                };
                format!("{how}{judged}")
            })
            .collect();
        let second = format!(
            "Against the baseline {base}, at the median: {}.",
            parts.join("; ")
        );
        vec![first, second]
    }

    /// The speed sentences of a run of two setups: the baseline and `other`.
    fn speed_of_two(&self, base: &str, other: &str) -> Vec<String> {
        let (Some(a), Some(b)) = (
            self.p50(base, "deploy_latency"),
            self.p50(other, "deploy_latency"),
        ) else {
            return vec![
                "At least one setup completed no deploy, so deploy speed cannot be compared."
                    .into(),
            ];
        };
        let diff = self.diff("deploy_latency", other);
        let verdict = diff.and_then(|d| d.p50_verdict);
        let p95s = format!(
            "at p95, {} ({base}) against {} ({other})",
            dur(self.p95(base, "deploy_latency")),
            dur(self.p95(other, "deploy_latency"))
        );
        if verdict == Some(Verdict::NoSignificantDifference) {
            return vec![format!(
                "Neither setup deploys significantly faster: median deploy latency is {} with {} and {} with {}, and the 95% confidence interval of the difference ({other} − {base}) {} includes zero; {}.",
                human(a),
                self.label(base),
                human(b),
                self.label(other),
                signed_interval(diff.and_then(|d| d.ci95_p50_s)),
                p95s
            )];
        }
        let (fast, slow, f, s) = if b < a {
            (other, base, b, a)
        } else {
            (base, other, a, b)
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
                "The bootstrap 95% confidence interval of the difference in medians ({other} − {base}) is {}, which excludes zero: the gap is statistically significant across the {} repetitions.",
                signed_interval(Some(ci)),
                self.reps()
            ),
            _ => format!(
                "With {} repetition{} this gap is indicative: no confidence interval is given under {} repetitions (fewer do not hold a 95% interval's coverage), so it is not tested for significance.",
                self.reps(),
                if self.reps() == 1 { "" } else { "s" },
                MIN_REPETITIONS
            ),
        };
        vec![first, second]
    }

    /// "`a` with gha, `b` with argocd and `c` with flux" for `f` of each setup.
    fn each(&self, f: impl Fn(&str) -> String) -> String {
        let parts: Vec<String> = self.names().iter().map(|&m| f(m)).collect();
        join_and(&parts.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The setups whose p50 difference from the baseline in `metric` has `verdict`.
    fn judged(&self, metric: &str, verdict: Verdict) -> Vec<&str> {
        self.others()
            .into_iter()
            .filter(|&o| self.diff(metric, o).and_then(|d| d.p50_verdict) == Some(verdict))
            .collect()
    }

    pub(super) fn drift_sentence(&self) -> String {
        let events: u64 = self
            .names()
            .iter()
            .map(|m| self.counter(m, "drift_events"))
            .sum();
        if events == 0 {
            return format!("No hand edit was measured: {}.", self.run.no_drift_reason());
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
        let parts: Vec<String> = self.names().iter().map(|m| part(m)).collect();
        let same = self.judged("drift_recovery", Verdict::NoSignificantDifference);
        if let [a, b] = &parts[..] {
            let tail = if same.is_empty() {
                ""
            } else {
                " (the difference in medians is no significant difference at 95%)"
            };
            return format!("Drift: {a}, while {b}{tail}.");
        }
        let tail = if same.is_empty() {
            String::new()
        } else {
            format!(
                " ({} differ{} from the baseline {} by no significant difference in medians at 95%)",
                join_and(&same),
                if same.len() == 1 { "s" } else { "" },
                self.base()
            )
        };
        format!(
            "Drift: {}{tail}.",
            join_and(&parts.iter().map(String::as_str).collect::<Vec<_>>())
        )
    }

    pub(super) fn bad_release_sentence(&self) -> String {
        let names = self.names();
        let failed: u64 = names
            .iter()
            .map(|m| self.counter(m, "failed_deploys"))
            .sum();
        let n = |m: &str| {
            self.metric(m, "failed_deploy_recovery")
                .map(|s| s.count)
                .unwrap_or(0)
        };
        if failed == 0 && names.iter().all(|m| n(m) == 0) {
            return format!(
                "No recovery from a bad release was measured: {}.",
                self.run.no_bad_release_reason()
            );
        }
        let metric = "failed_deploy_recovery";
        let judged = if let [other] = self.others()[..] {
            match self.diff(metric, other).and_then(|d| d.p50_verdict) {
                Some(Verdict::NoSignificantDifference) => {
                    "; the 95% interval of the difference includes zero, so this is no significant difference".to_string()
                }
                Some(_) => "; the 95% interval of the difference excludes zero".to_string(),
                None => String::new(),
            }
        } else {
            let same = self.judged(metric, Verdict::NoSignificantDifference);
            let mut differ = self.judged(metric, Verdict::Lower);
            differ.extend(self.judged(metric, Verdict::Higher));
            let differ: Vec<&str> = self
                .others()
                .into_iter()
                .filter(|o| differ.contains(o))
                .collect();
            let mut clauses = Vec::new();
            if !differ.is_empty() {
                clauses.push(format!("excludes zero for {}", join_and(&differ)));
            }
            if !same.is_empty() {
                clauses.push(format!(
                    "includes zero for {} (no significant difference)",
                    join_and(&same)
                ));
            }
            if clauses.is_empty() {
                String::new()
            } else {
                format!(
                    "; the 95% interval of the difference from the baseline {} {}",
                    self.base(),
                    clauses.join(" and ")
                )
            }
        };
        let with =
            |metric: &'static str| move |m: &str| format!("{} with {m}", dur(self.p50(m, metric)));
        let rollbacks: Vec<String> = names.iter().map(|m| dur(self.p50(m, "rollback"))).collect();
        // Rollbacks around git (redeploy, rollout-undo, app-rollback) leave git naming the
        // bad version for a while: said where the rollback figures are.
        let diverged: Vec<String> = names
            .iter()
            .filter_map(|&m| {
                let count = self.metric(m, "git_divergence")?.count;
                (count > 0).then(|| {
                    format!(
                        "{} with {m} ({count} of {} rollbacks)",
                        dur(self.p50(m, "git_divergence")),
                        n(m)
                    )
                })
            })
            .collect();
        let divergence = if diverged.is_empty() {
            String::new()
        } else {
            format!(
                " Rolled back around git, the live state differed from git, which still named the bad version, for a median of {} (until the fix commit landed or the bad version was applied again).",
                join_and(&diverged.iter().map(String::as_str).collect::<Vec<_>>())
            )
        };
        format!(
            "Bad releases: recovering from a failed deploy (bad commit to healthy again) took a median of {}, and the rollback itself, once decided, took {}{}.{divergence}",
            self.each(with("failed_deploy_recovery")),
            join_and(&rollbacks.iter().map(String::as_str).collect::<Vec<_>>()),
            judged
        )
    }

    /// The window faults of the scenario (outages, partitions, crashes, losses) and what
    /// they did to each setup, from the run's own figures.
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
            "Under {}, deploy latency at p95 was {}",
            join_and(&kinds),
            self.each(|m| format!("{} with {m}", dur(self.p95(m, "deploy_latency"))))
        );
        let errors: u64 = self
            .names()
            .iter()
            .map(|m| self.counter(m, "apply_errors"))
            .sum();
        if errors > 0 {
            let parts: Vec<String> = self
                .names()
                .iter()
                .enumerate()
                .map(|(i, &m)| {
                    let n = self.counter(m, "apply_errors");
                    if i == 0 {
                        format!("{n} applies failed under {m}")
                    } else {
                        format!("{n} under {m}")
                    }
                })
                .collect();
            s.push_str(&format!(
                "; {}, each retried with backoff",
                join_and(&parts.iter().map(String::as_str).collect::<Vec<_>>())
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
        let restores: Vec<String> = self.names().iter().filter_map(|m| restore(m)).collect();
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
        // Git requests as the hosts see them: ref checks and object fetches at the config
        // repository, CI checkouts at the source repository.
        let git =
            |m: &str| per(m, "git_ref_checks") + per(m, "git_fetches") + per(m, "git_checkouts");
        let parts: Vec<String> = self
            .names()
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                format!(
                    "{m}{} {} API requests and {} git requests ({} ref checks, {} fetches, {} CI checkouts)",
                    if i == 0 { " made" } else { "" },
                    rate(per(m, "api_requests")),
                    rate(git(m)),
                    rate(per(m, "git_ref_checks")),
                    rate(per(m, "git_fetches")),
                    rate(per(m, "git_checkouts"))
                )
            })
            .collect();
        let mut s = format!("Load: per scenario hour {}", parts.join(", "));
        let base = self.base();
        let bg = git(base);
        // The comparison names what each setup's git requests are, per repository and
        // day (summary.json's `git_traffic`), so a multiplier reads with its figures.
        let repos = |m: &str| -> String {
            let Some(x) = self.model(m) else {
                return String::new();
            };
            let list: Vec<String> = x
                .git_traffic
                .iter()
                .filter(|t| t.total_per_day() > 0.0)
                .map(|t| {
                    let mut what = Vec::new();
                    if t.git_ref_checks_per_day > 0.0 {
                        what.push(format!("{} ref checks", rate(t.git_ref_checks_per_day)));
                    }
                    if t.git_fetches_per_day > 0.0 {
                        what.push(format!("{} fetches", rate(t.git_fetches_per_day)));
                    }
                    if t.git_checkouts_per_day > 0.0 {
                        what.push(format!("{} CI checkouts", rate(t.git_checkouts_per_day)));
                    }
                    format!("{} repository {}", t.repository, what.join(" and "))
                })
                .collect();
            if list.is_empty() {
                String::new()
            } else {
                format!("{m}: {}", list.join(", "))
            }
        };
        for o in self.others() {
            let og = git(o);
            let (more, less) = if bg > 0.0 && og > bg {
                (o, base)
            } else if og > 0.0 && bg > og {
                (base, o)
            } else {
                continue;
            };
            let detail: Vec<String> = [repos(more), repos(less)]
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect();
            if detail.is_empty() {
                // A summary written before `git_traffic` existed: its words as then.
                let polling = |m: &str| match self.model(m).map(|x| x.kind) {
                    Some(crate::metric::ModelKind::Pull) => format!("{m}'s polling"),
                    _ => m.to_string(),
                };
                s.push_str(&format!(
                    "; {} costs {} the git requests of {less}",
                    polling(more),
                    times(git(more), git(less))
                ));
            } else {
                s.push_str(&format!(
                    "; {more} makes {} the git requests of {less} (a day, {})",
                    times(git(more), git(less)),
                    detail.join("; ")
                ));
            }
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
            crate::report::fleet::clusters(self.run.scenario.as_ref()),
            crate::report::fleet::apps(self.run.scenario.as_ref()),
        ) {
            s.push_str(&format!(
                " on {c} cluster{} × {a} apps",
                if c == 1 { "" } else { "s" }
            ));
        }
        s.push_str(" and hold for this scenario's presets and distributions only");
        let builds: Vec<(&str, f64)> = self
            .names()
            .into_iter()
            .filter_map(|m| self.p50(m, "build").filter(|&b| b > 0.0).map(|b| (m, b)))
            .collect();
        let unbuilt: Vec<&str> = self
            .names()
            .into_iter()
            .filter(|m| self.p50(m, "build").is_none())
            .collect();
        if !builds.is_empty() && !unbuilt.is_empty() {
            let built: Vec<String> = builds
                .iter()
                .enumerate()
                .map(|(i, (m, b))| {
                    if i == 0 {
                        format!(
                            "{m}'s deploy latency includes a median build of {}",
                            human(*b)
                        )
                    } else {
                        format!("{m}'s of {}", human(*b))
                    }
                })
                .collect();
            let (verb, who) = if unbuilt.len() == 1 {
                ("does", "it deploys")
            } else {
                ("do", "they deploy")
            };
            s.push_str(&format!(
                "; {}, which {} {verb} not perform ({who} manifests built elsewhere)",
                join_and(&built.iter().map(String::as_str).collect::<Vec<_>>()),
                join_and(&unbuilt)
            ));
        }
        if unbuilt.is_empty() && builds.len() >= 2 && self.p50(builds[0].0, "ci_queue").is_some() {
            // The shared CI stage: every setup builds the same commits with the same draws.
            s.push_str(&format!(
                "; every setup's deploy latency starts at the source commit and includes the same CI stage (a median build of {}), so differences come from delivery; delivery_latency compares delivery alone",
                human(builds[0].1)
            ));
        }
        if (sm.repetitions as usize) < MIN_REPETITIONS {
            s.push_str(&format!(
                "; with {} repetition{} the figures are indicative: confidence intervals need {}",
                sm.repetitions,
                if sm.repetitions == 1 { "" } else { "s" },
                MIN_REPETITIONS
            ));
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
