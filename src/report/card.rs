//! The decision card: one row per question a team deciding on GitOps asks, each setup's
//! figure with its interval and n, the verdict, and the assumption the verdict is most
//! sensitive to. Built from summary.json alone, so `run` and `report` print the same card.

use super::findings::Table;
use super::table::human;
use crate::measure::summary::{ModelSummary, Summary};

/// The questions, in the card's order: (key, question).
pub const QUESTIONS: [(&str, &str); 9] = [
    ("lead_time", "lead time to production"),
    ("drift_exposure", "drift exposure"),
    ("bad_release_recovery", "recovery from a bad release"),
    ("rollback", "rollback"),
    ("cluster_restore", "restore after losing a cluster"),
    ("load", "load on git and the API"),
    ("monthly_cost", "monthly cost"),
    ("credential_exposure", "credential exposure"),
    ("audit_coverage", "audit coverage"),
];

/// What a row says when no setup has data for it.
pub const NOT_EXERCISED: &str = "not exercised by this scenario";

/// One setup's figure for one question.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What is compared (lower is better unless the row says otherwise).
    pub value: f64,
    /// The 95% interval of `value`, where one exists.
    pub ci: Option<[f64; 2]>,
    /// How many observations (samples, or repetitions for per-run figures).
    pub n: u64,
    /// `n`'s unit: `deploys`, `runs`, ...
    pub unit: &'static str,
    /// The figure as the card prints it.
    pub text: String,
    /// Derived from the scenario, not estimated from runs (no interval needed).
    pub exact: bool,
}

/// One question's row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub key: &'static str,
    pub question: &'static str,
    /// Per setup in the summary's order; `None` where the setup has no data.
    pub figures: Vec<(String, Option<Figure>)>,
    /// The better setup, if the figures single one out (indicative or not).
    pub winner: Option<String>,
    pub verdict: String,
    pub sensitive_to: String,
}

pub struct Card {
    pub setups: Vec<String>,
    pub rows: Vec<Row>,
    /// What the card's figures rest on (repetitions, the sensitivity pass).
    pub note: String,
}

fn interval_text(ci: Option<[f64; 2]>, reps: u32, f: &dyn Fn(f64) -> String) -> String {
    match ci {
        Some([lo, hi]) => format!(" [{} – {}]", f(lo), f(hi)),
        None if reps < crate::measure::bootstrap::MIN_REPETITIONS as u32 => " (indicative)".into(),
        None => String::new(),
    }
}

fn percent(v: f64) -> String {
    let p = v * 100.0;
    if p != 0.0 && p.abs() < 0.1 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

fn dollars(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else {
        format!("${v:.2}")
    }
}

/// A duration metric's p50 (the row's figure) with its interval and sample count.
fn metric_figure(m: &ModelSummary, metric: &str, reps: u32, unit: &'static str) -> Option<Figure> {
    let ms = m.metric(metric)?;
    let v = ms.p50_s?;
    let f = |x: f64| human(x);
    Some(Figure {
        value: v,
        ci: ms.ci95_p50_s,
        n: ms.count,
        unit,
        exact: false,
        text: format!("p50 {}{}", human(v), interval_text(ms.ci95_p50_s, reps, &f)),
    })
}

/// The figure of `key` for one setup of `s`.
pub fn figure(s: &Summary, m: &ModelSummary, key: &str) -> Option<Figure> {
    let reps = s.repetitions_run.unwrap_or(s.repetitions);
    let runs = reps as u64;
    match key {
        "lead_time" => metric_figure(m, "lead_time", reps, "commits")
            .or_else(|| metric_figure(m, "deploy_latency", reps, "deploys")),
        "drift_exposure" => {
            if m.counter("drift_events") == 0 {
                return None;
            }
            let v = m.out_of_sync_share?;
            let ci = m.out_of_sync_share_ci95;
            let unfixed = m.counter("drift_unrecovered");
            Some(Figure {
                value: v,
                ci,
                n: runs,
                unit: "runs",
                exact: false,
                text: format!(
                    "{} of app-time out of sync{}; {} of {} edits never corrected",
                    percent(v),
                    interval_text(ci, reps, &percent),
                    unfixed,
                    m.counter("drift_events")
                ),
            })
        }
        "bad_release_recovery" => metric_figure(m, "failed_deploy_recovery", reps, "releases"),
        "rollback" => metric_figure(m, "rollback", reps, "rollbacks"),
        "cluster_restore" => metric_figure(m, "cluster_restore", reps, "restores").or_else(|| {
            // Never restored before the run ended: censored, worse than any restore.
            let left = m.counter("clusters_unrestored");
            (left > 0).then(|| Figure {
                value: f64::INFINITY,
                ci: Some([f64::INFINITY; 2]),
                n: left,
                unit: "clusters",
                exact: false,
                text: format!("> run length: {left} lost clusters never restored"),
            })
        }),
        "load" => {
            let hours = s.duration_s / 3600.0 * reps.max(1) as f64;
            if hours <= 0.0 {
                return None;
            }
            let api = m.counter("api_requests") as f64 / hours;
            let git = (m.counter("git_ref_checks")
                + m.counter("git_fetches")
                + m.counter("git_checkouts")) as f64
                / hours;
            Some(Figure {
                value: api + git,
                ci: None,
                n: runs,
                unit: "runs",
                exact: false,
                text: format!("{api:.0} API + {git:.0} git requests/h"),
            })
        }
        "monthly_cost" => {
            let c = m.cost.as_ref()?;
            Some(Figure {
                value: c.monthly_usd,
                ci: c.monthly_usd_ci95,
                n: runs,
                unit: "runs",
                exact: false,
                text: format!(
                    "{}/month{} (CI {}, reconcilers {}, git {})",
                    dollars(c.monthly_usd),
                    interval_text(c.monthly_usd_ci95, reps, &dollars),
                    dollars(c.ci_runners_usd),
                    dollars(c.reconcilers_usd),
                    dollars(c.git_egress_usd)
                ),
            })
        }
        "credential_exposure" => {
            let c = m.credentials.as_ref()?;
            // Blast radius first, inbound paths break ties.
            let value = c.blast_radius as f64 + c.inbound_paths.len() as f64 / 1e6;
            Some(Figure {
                value,
                ci: None,
                n: c.holders.len() as u64,
                unit: "credentials",
                exact: true,
                text: format!(
                    "one leaked credential writes {} of {} clusters; {} inbound paths",
                    c.blast_radius,
                    c.clusters,
                    c.inbound_paths.len()
                ),
            })
        }
        "audit_coverage" => {
            let share = m.unexplained_change_share?;
            let u = m.unexplained_changes.as_ref()?;
            let ci = m
                .unexplained_change_share_ci95
                .map(|[lo, hi]| [1.0 - hi, 1.0 - lo]);
            let live = u
                .mean_live_s
                .map(|s| format!("; unexplained ones live {} on average", human(s)))
                .unwrap_or_default();
            // Higher coverage is better: compared as the unexplained share.
            Some(Figure {
                value: share,
                ci: m.unexplained_change_share_ci95,
                n: u.changes,
                unit: "changes",
                exact: false,
                text: format!(
                    "{} of changes explained by git{}{live}",
                    percent(1.0 - share),
                    interval_text(ci, reps, &percent)
                ),
            })
        }
        _ => None,
    }
}

/// The verdict of one row and its winner (lower `value` is better).
fn verdict(figures: &[(String, Option<Figure>)]) -> (Option<String>, String) {
    let have: Vec<(&str, &Figure)> = figures
        .iter()
        .filter_map(|(n, f)| f.as_ref().map(|f| (n.as_str(), f)))
        .collect();
    match have.len() {
        0 => return (None, NOT_EXERCISED.into()),
        1 if figures.len() > 1 => {
            return (None, format!("only {} measured", have[0].0));
        }
        _ => {}
    }
    let Some(&(best, bf)) = have.iter().min_by(|a, b| a.1.value.total_cmp(&b.1.value)) else {
        return (None, NOT_EXERCISED.into());
    };
    let tied: Vec<&str> = have
        .iter()
        .filter(|(_, f)| f.value == bf.value)
        .map(|(n, _)| *n)
        .collect();
    if tied.len() == have.len() {
        return (None, "no difference".into());
    }
    if tied.len() > 1 {
        return (None, format!("{} better (tied)", tied.join(" and ")));
    }
    let others: Vec<&(&str, &Figure)> = have.iter().filter(|(n, _)| *n != best).collect();
    let overlaps = |f: &Figure| match (bf.ci, f.ci) {
        (Some([_, hi]), Some([lo, _])) => lo <= hi,
        _ => false,
    };
    if let Some((other, _)) = others.iter().find(|(_, f)| overlaps(f)) {
        return (
            None,
            format!("no clear difference ({best} and {other}: intervals overlap)"),
        );
    }
    let certain = bf.ci.is_some() && others.iter().all(|(_, f)| f.ci.is_some());
    let exact = have.iter().all(|(_, f)| f.exact);
    let how = if certain || exact {
        ""
    } else {
        " (indicative)"
    };
    (Some(best.to_string()), format!("{best} better{how}"))
}

/// Every row's winner, for the sensitivity pass: `(key, winner)`.
pub fn winners(s: &Summary) -> Vec<(&'static str, Option<String>)> {
    QUESTIONS
        .iter()
        .map(|&(key, _)| {
            let figures: Vec<(String, Option<Figure>)> = s
                .models
                .iter()
                .map(|(n, m)| (n.to_string(), figure(s, m, key)))
                .collect();
            let best = figures
                .iter()
                .filter_map(|(n, f)| f.as_ref().map(|f| (n, f.value)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let tie = best.is_some_and(|(bn, bv)| {
                figures
                    .iter()
                    .any(|(n, f)| n != bn && f.as_ref().is_some_and(|f| f.value == bv))
            });
            (key, best.filter(|_| !tie).map(|(n, _)| n.clone()))
        })
        .collect()
}

impl Card {
    pub fn build(s: &Summary) -> Card {
        let setups: Vec<String> = s.models.names().map(str::to_string).collect();
        let rows = QUESTIONS
            .iter()
            .map(|&(key, question)| {
                let figures: Vec<(String, Option<Figure>)> = s
                    .models
                    .iter()
                    .map(|(n, m)| (n.to_string(), figure(s, m, key)))
                    .collect();
                let (winner, verdict) = verdict(&figures);
                let exercised = figures.iter().any(|(_, f)| f.is_some());
                let sensitive_to = if !exercised {
                    "—".to_string()
                } else if verdict.starts_with("no clear difference") {
                    "no leader to flip: the intervals overlap".to_string()
                } else if key == "credential_exposure" {
                    "the topology alone (no simulated value changes it)".to_string()
                } else {
                    match &s.sensitivity {
                        Some(p) => p
                            .skipped
                            .clone()
                            .or_else(|| p.questions.get(key).cloned())
                            .unwrap_or_else(|| "—".into()),
                        None => {
                            "not computed (a sweep's variants skip the sensitivity pass)".into()
                        }
                    }
                };
                Row {
                    key,
                    question,
                    figures,
                    winner,
                    verdict,
                    sensitive_to,
                }
            })
            .collect();
        let reps = s.repetitions_run.unwrap_or(s.repetitions);
        let mut note = format!(
            "{reps} repetitions; intervals are bootstrap 95% intervals over repetitions{}. \"No clear difference\" when the leading setup's interval overlaps another's.",
            if (reps as usize) < crate::measure::bootstrap::MIN_REPETITIONS {
                format!(
                    " (none under {} repetitions: figures are indicative)",
                    crate::measure::bootstrap::MIN_REPETITIONS
                )
            } else {
                String::new()
            }
        );
        if let Some(p) = &s.sensitivity
            && p.skipped.is_none()
        {
            note.push_str(&format!(
                " Most sensitive to: the nearest one-at-a-time scaling (×½, ×2, then ×¼, ×4) of {} that changes which setup leads, re-run with {} repetitions; a flip at ×½ or ×2 counts only if ×¼ or ×4 agrees.",
                p.values.join(", "),
                p.repetitions
            ));
        }
        Card { setups, rows, note }
    }

    /// The card as a table: question, one column per setup (figure and n), verdict,
    /// most sensitive to.
    pub fn table(&self) -> Table {
        let mut head = vec!["question".to_string()];
        head.extend(self.setups.iter().cloned());
        head.extend(["verdict".to_string(), "most sensitive to".to_string()]);
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let mut row = vec![r.question.to_string()];
                for (_, f) in &r.figures {
                    row.push(match f {
                        Some(f) => format!("{} (n={} {})", f.text, f.n, f.unit),
                        None => "—".into(),
                    });
                }
                row.push(r.verdict.clone());
                row.push(r.sensitive_to.clone());
                row
            })
            .collect();
        Table { head, rows }
    }

    /// The card for the terminal: a block per question.
    pub fn render_text(&self) -> String {
        let mut o = String::from("decision card\n");
        for r in &self.rows {
            o.push_str(&format!("  {}: {}\n", r.question, r.verdict));
            if r.figures.iter().all(|(_, f)| f.is_none()) {
                continue;
            }
            let w = self.setups.iter().map(|s| s.len()).max().unwrap_or(0);
            for (n, f) in &r.figures {
                match f {
                    Some(f) => {
                        o.push_str(&format!("    {n:<w$}  {} (n={} {})\n", f.text, f.n, f.unit))
                    }
                    None => o.push_str(&format!("    {n:<w$}  —\n")),
                }
            }
            o.push_str(&format!("    most sensitive to: {}\n", r.sensitive_to));
        }
        o.push_str(&format!("  {}\n", self.note));
        o
    }
}

impl Card {
    /// The card as an HTML table: figures wrap, the n below each figure, the verdict
    /// in bold.
    pub fn html(&self) -> String {
        use super::html::esc;
        let mut o = String::from(
            "<div class=\"scroll\"><table class=\"card\">\n<thead><tr><th>question</th>",
        );
        for s in &self.setups {
            o.push_str(&format!("<th>{}</th>", esc(s)));
        }
        o.push_str("<th>verdict</th><th>most sensitive to</th></tr></thead>\n<tbody>\n");
        for r in &self.rows {
            o.push_str(&format!("<tr><th scope=\"row\">{}</th>", esc(r.question)));
            for (name, f) in &r.figures {
                let win = r.winner.as_deref() == Some(name.as_str());
                match f {
                    Some(f) => o.push_str(&format!(
                        "<td{}>{}<br><span class=\"note\">n={} {}</span></td>",
                        if win { " class=\"lead\"" } else { "" },
                        esc(&f.text),
                        f.n,
                        f.unit
                    )),
                    None => o.push_str("<td>—</td>"),
                }
            }
            o.push_str(&format!(
                "<td><b>{}</b></td><td>{}</td></tr>\n",
                esc(&r.verdict),
                esc(&r.sensitive_to)
            ));
        }
        o.push_str("</tbody></table></div>\n");
        o
    }
}
