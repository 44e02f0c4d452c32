//! The side-by-side table `pushpull run` prints on a terminal: one column per setup, the
//! headline metrics and the counters, in units a person reads at a glance.

use crate::measure::summary::{MetricSummary, ModelSummary, Summary};
use crate::metric::Quantile;
use crate::scenario::Scenario;
use std::fmt::Write;

/// A duration in seconds, short and human: `850ms`, `4.2s`, `3m05s`, `2h07m`.
pub fn human(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0}ms", s * 1000.0)
    } else if s < 10.0 {
        format!("{s:.2}s")
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        let t = s.round() as u64;
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        let t = (s / 60.0).round() as u64;
        format!("{}h{:02}m", t / 60, t % 60)
    }
}

fn cell(v: Option<f64>) -> String {
    v.map(human).unwrap_or_else(|| "—".into())
}

/// A figure of `m`: its value, `> 4h34m` when the Kaplan–Meier estimate never reaches it
/// (more than the longest observation, which is at most the run's length), `—` when
/// there is none.
pub fn figure(m: &MetricSummary, q: Quantile) -> String {
    match (m.get(q), m.beyond(q)) {
        (Some(v), _) => human(v),
        (None, Some(b)) => format!("> {}", human(b)),
        (None, None) => "—".into(),
    }
}

/// A threshold's bound or value in its figure's unit: a duration, a count or a share.
pub fn threshold_value(t: &crate::measure::summary::ThresholdResult, v: f64) -> String {
    match t.statistic() {
        "count" => format!("{v:.0}"),
        "share" => format!("{:.1}%", v * 100.0),
        _ => human(v),
    }
}

/// How many observations a figure of `m` stands on: the completed ones and those still
/// open at the end (`n` in the tables).
pub fn observations(m: &MetricSummary) -> u64 {
    m.count + m.censored
}

/// Rows always shown, then rows shown when any setup has samples.
const HEADLINE: [&str; 5] = [
    "deploy_latency",
    "delivery_latency",
    "drift_recovery",
    "rollback",
    "failed_deploy_recovery",
];
const WHEN_PRESENT: [&str; 4] = [
    "lead_time",
    "fleet_deploy_latency",
    "cluster_restore",
    "git_divergence",
];

/// What heads a setup's column: `push (github-actions)` for a setup named after its kind,
/// `argocd (pull: argocd)` for any other name.
pub fn setup_label(name: &str, m: &ModelSummary) -> String {
    if name == m.kind.name() {
        format!("{name} ({})", m.preset)
    } else {
        format!("{name} ({}: {})", m.kind, m.preset)
    }
}

pub fn render(s: &Scenario, summary: &Summary) -> String {
    let mut out = String::new();
    let setups: Vec<(&str, &ModelSummary)> = summary.models.iter().collect();
    let _ = writeln!(
        out,
        "{} — {} mode, seed {}, {} repetition{} × {}, {} cluster{} × {} apps",
        summary.scenario,
        summary.mode,
        summary.seed,
        summary.repetitions,
        if summary.repetitions == 1 { "" } else { "s" },
        s.duration,
        s.clusters(),
        if s.clusters() == 1 { "" } else { "s" },
        s.apps(),
    );
    // Up to three setups get n, p50, p95 and max each; more get n, p50 and p95 so that
    // eight still fit a wide terminal.
    let full = setups.len() <= 3;
    let width = if full { 29 } else { 21 };
    let _ = writeln!(out);
    let heads: Vec<String> = setups
        .iter()
        .map(|(n, m)| format!("{:^width$}", setup_label(n, m)))
        .collect();
    let _ = writeln!(out, "{:<24} {}", "", heads.join(" │ "));
    let sub = if full {
        format!("{:>5} {:>7} {:>7} {:>7}", "n", "p50", "p95", "max")
    } else {
        format!("{:>5} {:>7} {:>7}", "n", "p50", "p95")
    };
    let subs = vec![sub; setups.len()];
    let _ = writeln!(out, "{:<24} {}", "metric", subs.join(" │ "));
    let row = |m: Option<&MetricSummary>| match m {
        Some(m) if full => format!(
            "{:>5} {:>7} {:>7} {:>7}",
            observations(m),
            figure(m, Quantile::P50),
            figure(m, Quantile::P95),
            figure(m, Quantile::Max)
        ),
        Some(m) => format!(
            "{:>5} {:>7} {:>7}",
            observations(m),
            figure(m, Quantile::P50),
            figure(m, Quantile::P95)
        ),
        None => format!("{:>width$}", "—"),
    };
    // With one cluster the fleet latency is the deploy latency: not worth a row.
    let present = |name: &&&str| {
        setups
            .iter()
            .any(|(_, m)| m.metric(name).is_some_and(|x| x.count > 0))
            && !(**name == "fleet_deploy_latency" && s.clusters() == 1)
    };
    for name in HEADLINE.iter().chain(WHEN_PRESENT.iter().filter(present)) {
        let cells: Vec<String> = setups.iter().map(|(_, m)| row(m.metric(name))).collect();
        let _ = writeln!(out, "{:<24} {}", name, cells.join(" │ "));
    }
    env_rows(&mut out, &setups, row);
    let _ = writeln!(out);
    for (label, m) in &setups {
        let events = m.counter("drift_events");
        let never = m.counter("drift_unrecovered");
        let unrestored = m.counter("clusters_unrestored");
        if unrestored > 0 {
            let _ = writeln!(
                out,
                "  {label}: {unrestored} rebuilt cluster(s) were still missing apps at the end of the run"
            );
        }
        if never > 0 {
            let _ = writeln!(
                out,
                "  {label}: {never} of {events} drift events were never corrected before the end of the run"
            );
        }
        if let Some(line) = corrected_within_line(m) {
            let _ = writeln!(out, "  {label}: {line}");
        }
    }
    let _ = writeln!(out);
    // The stages some setup has (a push pipeline has no write-back, a reconciler no
    // deploy step).
    let stages: Vec<&str> = crate::report::charts::STAGES
        .into_iter()
        .filter(|st| {
            setups
                .iter()
                .any(|(_, m)| m.metric(st).is_some_and(|x| x.count > 0))
        })
        .collect();
    let mut head = format!("{:<24}", "where deploys spend (mean)");
    for st in &stages {
        head.push_str(&format!(" {:>12}", st));
    }
    let _ = writeln!(out, "{}", head.trim_end());
    for (label, m) in &setups {
        // Every stage has one sample per completed deploy: their n.
        let n = stages
            .iter()
            .find_map(|st| m.metric(st).map(|x| x.count))
            .unwrap_or(0);
        let mut line = format!("{:<24}", format!("{label} (n={n})"));
        for st in &stages {
            let v = m
                .metric(st)
                .filter(|x| x.count > 0)
                .map(|x| cell(x.mean_s))
                .unwrap_or_else(|| "—".into());
            line.push_str(&format!(" {v:>12}"));
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out);
    let names: Vec<String> = setups.iter().map(|(n, _)| format!("{n:>width$}")).collect();
    let _ = writeln!(
        out,
        "{:<24} {}",
        "counter (all repetitions)",
        names.join(" │ ")
    );
    for (name, _) in crate::measure::Counters::default().named() {
        let values: Vec<String> = setups
            .iter()
            .map(|(_, m)| format!("{:>width$}", m.counter(name)))
            .collect();
        let _ = writeln!(out, "{:<24} {}", name, values.join(" │ "));
    }
    if !summary.thresholds.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "thresholds");
        for t in &summary.thresholds {
            let setup = summary.model(&t.model);
            let m = setup.and_then(|m| m.metric(&t.metric));
            let beyond = match t.selection {
                Some(_) => t.beyond_s,
                None => t.quantile.and_then(|q| m.and_then(|m| m.beyond(q))),
            };
            let value = match (t.value_s, beyond) {
                (Some(v), _) => threshold_value(t, v),
                (None, Some(b)) => format!("> {} (not reached)", human(b)),
                (None, None) if t.quantile.is_none() => "nothing to count".into(),
                (None, None) => "no samples".into(),
            };
            // A counter or share stands on the setup's repetitions.
            let n = match (t.quantile, t.n) {
                (Some(_), Some(n)) => format!("n={n}"),
                (Some(_), None) => format!("n={}", m.map_or(0, observations)),
                (None, _) => format!("{} repetitions", summary.repetitions),
            };
            let _ = writeln!(
                out,
                "  {} {} {}{} ≤ {}: {} ({n}) {}",
                t.model,
                t.metric,
                t.statistic(),
                t.scope(),
                threshold_value(t, t.max_s),
                value,
                if t.ok { "ok" } else { "BREACHED" }
            );
        }
    }
    out
}

/// `hand edits corrected within 1m / 10m / 1h: 1% / 12% / 48% (n=81)` for a setup with
/// hand edits (Kaplan–Meier shares; `?` past the longest observation).
pub fn corrected_within_line(m: &ModelSummary) -> Option<String> {
    let d = m.metric("drift_recovery")?;
    let c = d.corrected_within.as_ref()?;
    let shares: Vec<String> = c
        .shares()
        .iter()
        .map(|s| s.map_or("?".into(), |x| format!("{:.0}%", x * 100.0)))
        .collect();
    Some(format!(
        "hand edits corrected within 1m / 10m / 1h: {} (n={})",
        shares.join(" / "),
        observations(d)
    ))
}

/// With environments: a `lead_time@<env>` row per environment, in promotion order (the
/// lead time to every cluster of that environment; the last one is `lead_time`).
fn env_rows(
    out: &mut String,
    setups: &[(&str, &ModelSummary)],
    row: impl Fn(Option<&MetricSummary>) -> String,
) {
    let Some((_, first)) = setups.first() else {
        return;
    };
    for env in first.environments.names() {
        let cells: Vec<String> = setups
            .iter()
            .map(|(_, m)| row(m.environments.get(env)))
            .collect();
        let _ = writeln!(
            out,
            "{:<24} {}",
            format!("lead_time@{env}"),
            cells.join(" │ ")
        );
    }
}

/// The comparison table of a sweep and its CSV form: one row per (variant, model).
pub fn sweep(rows: &[(String, String, Summary)]) -> (String, String) {
    let mut out = String::new();
    let mut csv = String::from(
        "variant,model,deploy_latency_p50_s,deploy_latency_p95_s,drift_recovery_p50_s,drift_unrecovered,rollback_p50_s,api_requests,git_ref_checks,git_fetches\n",
    );
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(7).max(7);
    let mw = rows
        .iter()
        .flat_map(|r| r.2.models.names().map(str::len))
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{:<width$}  {:<mw$} {:>10} {:>10} {:>10} {:>7} {:>10} {:>9} {:>10} {:>10}",
        "variant",
        "model",
        "deploy p50",
        "deploy p95",
        "drift p50",
        "drift∞",
        "rollback",
        "api req",
        "git refs",
        "git fetch"
    );
    for (label, _, summary) in rows {
        for (model, m) in summary.models.iter() {
            let p = |metric: &str, q: fn(&MetricSummary) -> Option<f64>| {
                m.metrics.get(metric).and_then(q)
            };
            let dl50 = p("deploy_latency", |x| x.p50_s);
            let dl95 = p("deploy_latency", |x| x.p95_s);
            let dr50 = p("drift_recovery", |x| x.p50_s);
            let rb50 = p("rollback", |x| x.p50_s);
            let c = |name: &str| m.counters.get(name).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{:<width$}  {:<mw$} {:>10} {:>10} {:>10} {:>7} {:>10} {:>9} {:>10} {:>10}",
                label,
                model,
                cell(dl50),
                cell(dl95),
                cell(dr50),
                c("drift_unrecovered"),
                cell(rb50),
                c("api_requests"),
                c("git_ref_checks"),
                c("git_fetches")
            );
            let f = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
            let _ = writeln!(
                csv,
                "\"{label}\",{model},{},{},{},{},{},{},{},{}",
                f(dl50),
                f(dl95),
                f(dr50),
                c("drift_unrecovered"),
                f(rb50),
                c("api_requests"),
                c("git_ref_checks"),
                c("git_fetches")
            );
        }
    }
    (out, csv)
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_durations() {
        assert_eq!(human(0.25), "250ms");
        assert_eq!(human(4.2), "4.20s");
        assert_eq!(human(42.0), "42.0s");
        assert_eq!(human(185.0), "3m05s");
        assert_eq!(human(7620.0), "2h07m");
    }
}
