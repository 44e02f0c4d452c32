//! How the report prints numbers in sentences and table cells: durations, signed
//! differences, intervals, percentages, ratios, verdicts and word lists.

use crate::report::stats::Verdict;
use crate::report::table::human;

/// A duration or "—" when there is none.
pub fn dur(v: Option<f64>) -> String {
    v.map(human).unwrap_or_else(|| "—".into())
}

/// A signed duration: `+4m10s`, `−12.0s` (U+2212), `0ms`.
pub fn signed(v: f64) -> String {
    // Below the printed resolution a sign would claim a difference that is not shown.
    if human(v.abs()) == human(0.0) {
        human(0.0)
    } else if v > 0.0 {
        format!("+{}", human(v))
    } else if v < 0.0 {
        format!("\u{2212}{}", human(-v))
    } else {
        human(0.0)
    }
}

pub fn interval(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("[{} – {}]", human(lo), human(hi)),
        None => "n/a".into(),
    }
}

pub fn signed_interval(ci: Option<[f64; 2]>) -> String {
    match ci {
        Some([lo, hi]) => format!("[{} – {}]", signed(lo), signed(hi)),
        None => "n/a".into(),
    }
}

/// A percentage with one decimal.
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// How many times larger `a` is than `b`, one decimal.
pub fn times(a: f64, b: f64) -> String {
    format!("{:.1}×", a / b)
}

/// What a verdict of `setup − baseline` says, in the words of the results table.
pub fn verdict_text(v: Option<Verdict>, setup: &str, baseline: &str) -> String {
    match v {
        Some(Verdict::Lower) => format!("{setup} faster"),
        Some(Verdict::Higher) => format!("{baseline} faster"),
        Some(Verdict::NoSignificantDifference) => "no significant difference".into(),
        None => format!(
            "indicative (an interval needs {} repetitions)",
            crate::measure::bootstrap::MIN_REPETITIONS
        ),
    }
}

pub(super) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// "a, b and c".
pub(super) fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
