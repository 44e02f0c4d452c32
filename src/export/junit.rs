//! JUnit XML of a run's scenario thresholds and, when a baseline is given, of `pushpull
//! check`'s comparison: one test case per figure, a `<failure>` for each breached
//! threshold and each regression, so a CI system's test view names the figure that got
//! worse. Valid against Apache Ant's JUnit schema as published by Windy Road
//! (<https://github.com/windyroad/JUnit-Schema/blob/master/JUnit.xsd>, committed as
//! `tests/data/export/JUnit.xsd` and checked with `xmllint --schema` in
//! `tests/export.rs`): a `<testsuites>` of `<testsuite>`s, each with `id`, `package`,
//! `timestamp`, `hostname`, `<properties>`, `<system-out>` and `<system-err>`.

use crate::check::{Report, Unit, Verdict};
use crate::report::load::SummaryFile;
use crate::report::table::human;
use std::fmt::Write;

/// A comparison with a baseline, as `pushpull check` made it.
pub struct Check<'a> {
    /// The baseline as the user named it (a property of the suite).
    pub baseline: &'a str,
    pub report: &'a Report,
}

/// Text as XML character data or an attribute value.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\t' => o.push_str("&#9;"),
            '\r' => o.push_str("&#13;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

struct Case {
    classname: String,
    name: String,
    /// `(type, message)` of a failure.
    failure: Option<(&'static str, String)>,
}

struct Suite {
    name: String,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
}

/// The cases of the scenario's thresholds, as summary.json judged them.
fn thresholds(s: &SummaryFile) -> Vec<Case> {
    s.thresholds
        .iter()
        .map(|t| {
            let (metric, q) = (t.metric.as_str(), t.statistic());
            let show = |v: f64| crate::report::table::threshold_value(t, v);
            let failure = (!t.ok).then(|| {
                let message = match t.value_s {
                    Some(v) => format!(
                        "{} {metric} {q}{} is {}, over its threshold of {}",
                        t.model,
                        t.scope(),
                        show(v),
                        show(t.max_s)
                    ),
                    None => format!(
                        "{} {metric}{} has no figure (no samples, or still open at the end of the run), so its {q} cannot be held to {}",
                        t.model,
                        t.scope(),
                        show(t.max_s)
                    ),
                };
                ("threshold", message)
            });
            Case {
                classname: format!("pushpull.{}.{}", s.scenario, t.model),
                name: format!("{metric} {q}{} max {}", t.scope(), show(t.max_s)),
                failure,
            }
        })
        .collect()
}

/// The cases of a comparison: one per (setup, metric, statistic).
fn comparison(scenario: &str, r: &Report) -> Vec<Case> {
    r.rows
        .iter()
        .map(|row| {
            let unit = row.unit;
            let cell = |v: Option<f64>| match (v, unit) {
                (Some(v), Unit::Seconds) => human(v),
                (Some(v), Unit::Count) => format!("{v:.0}"),
                (Some(v), Unit::Share) => format!("{:.1}%", v * 100.0),
                (None, _) => match row.now_beyond_s {
                    Some(b) => format!("more than {}", human(b)),
                    None => "none".into(),
                },
            };
            let failure = match row.verdict {
                Verdict::Worse => Some((
                    "regression",
                    format!(
                        "{} {} {} went from {} to {} ({:+.1}%), beyond the tolerance of {:.0}%",
                        row.model,
                        row.metric,
                        row.quantile,
                        cell(row.baseline_s),
                        cell(row.now_s),
                        row.change.unwrap_or(0.0) * 100.0,
                        row.tolerance * 100.0
                    ),
                )),
                Verdict::Missing => Some((
                    "missing",
                    format!(
                        "{} {} has no samples now; the baseline's {} was {}",
                        row.model,
                        row.metric,
                        row.quantile,
                        cell(row.baseline_s)
                    ),
                )),
                Verdict::Unknown => Some((
                    "unknown",
                    format!(
                        "{} {} {} is {} (still open when the run ended), against the baseline's {}: it cannot be shown to be within the tolerance of {:.0}%",
                        row.model,
                        row.metric,
                        row.quantile,
                        cell(row.now_s),
                        cell(row.baseline_s),
                        row.tolerance * 100.0
                    ),
                )),
                Verdict::Ok | Verdict::Better | Verdict::Noise => None,
            };
            Case {
                classname: format!("pushpull.{scenario}.{}.{}", row.model, row.metric),
                name: row.quantile.clone(),
                failure,
            }
        })
        .collect()
}

/// The document: a suite of the thresholds (when the scenario has any) and a suite of
/// the comparison (when `check` is given). `stamp` is the suites' timestamp
/// (`YYYY-MM-DDTHH:MM:SS`, UTC: when the results were written).
pub fn render(s: &SummaryFile, check: Option<&Check<'_>>, stamp: &str) -> String {
    let run_props = || {
        vec![
            ("scenario", s.scenario.clone()),
            ("mode", s.mode.clone()),
            ("seed", s.seed.to_string()),
            ("repetitions", s.repetitions.to_string()),
            ("baseline_setup", s.baseline.clone()),
        ]
    };
    let mut suites = Vec::new();
    if !s.thresholds.is_empty() {
        suites.push(Suite {
            name: format!("pushpull thresholds of {}", s.scenario),
            properties: run_props(),
            cases: thresholds(s),
        });
    }
    if let Some(c) = check {
        let mut properties = run_props();
        properties.push(("baseline_file", c.baseline.to_string()));
        suites.push(Suite {
            name: format!("pushpull check of {} against its baseline", s.scenario),
            properties,
            cases: comparison(&s.scenario, c.report),
        });
    }
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, suite) in suites.iter().enumerate() {
        let failures = suite.cases.iter().filter(|c| c.failure.is_some()).count();
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}\" package=\"pushpull.{}\" id=\"{id}\" timestamp=\"{stamp}\" hostname=\"localhost\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">",
            esc(&suite.name),
            esc(&s.scenario),
            suite.cases.len(),
        );
        o.push_str("    <properties>\n");
        for (k, v) in &suite.properties {
            let _ = writeln!(o, "      <property name=\"{k}\" value=\"{}\"/>", esc(v));
        }
        o.push_str("    </properties>\n");
        for c in &suite.cases {
            let head = format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
                esc(&c.classname),
                esc(&c.name)
            );
            match &c.failure {
                None => {
                    let _ = writeln!(o, "{head}/>");
                }
                Some((kind, message)) => {
                    let _ = writeln!(o, "{head}>");
                    let _ = writeln!(
                        o,
                        "      <failure type=\"{kind}\" message=\"{m}\">{m}</failure>",
                        m = esc(message)
                    );
                    o.push_str("    </testcase>\n");
                }
            }
        }
        o.push_str("    <system-out/>\n    <system-err/>\n  </testsuite>\n");
    }
    o.push_str("</testsuites>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(esc("a<b & \"c\"\n"), "a&lt;b &amp; &quot;c&quot;&#10;");
        assert_eq!(esc("\u{1}"), "?");
    }
}
