//! `report.html`: one self-contained page (charts inlined as PNG data URIs, CSS inline, no
//! script, no font or network fetch) that reads on a phone and prints cleanly. Sections in
//! the order a stakeholder reads: the decision card, summary, DORA, charts, details, thresholds, scenario,
//! methodology, reproducibility.

use super::charts::ChartFile;
use super::findings::{COUNTER_DEFINITIONS, DEFINITIONS, FAULT_DEFINITIONS, Findings, Table};
use crate::measure::bootstrap;
use base64::Engine;
use std::fmt::Write;

const CSS: &str = r#"
:root { --fg:#1d2125; --muted:#5b6470; --line:#d9dde3; --accent:#0072b2; --bad:#b42318; --ok:#067647; }
* { box-sizing:border-box; }
body { margin:0 auto; max-width:1000px; padding:1.5rem 1rem 3rem; color:var(--fg); background:#fff;
  font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif; }
h1 { font-size:1.7rem; line-height:1.25; margin:0 0 .25rem; }
h2 { font-size:1.3rem; margin:2.2rem 0 .6rem; padding-bottom:.25rem; border-bottom:2px solid var(--line); }
h3 { font-size:1.05rem; margin:1.4rem 0 .4rem; }
.sub { color:var(--muted); margin:0 0 1rem; }
.summary { background:#f5f7fa; border-left:4px solid var(--accent); padding:.8rem 1rem; border-radius:4px; }
.summary p { margin:.35rem 0; }
table.card { font-size:.86rem; }
table.card th[scope=row] { background:none; }
table.card td.lead { background:#eaf5ee; }
.note { color:var(--muted); font-size:.9rem; }
.scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; }
table { border-collapse:collapse; width:100%; font-size:.92rem; margin:.4rem 0 .6rem; }
th, td { border-bottom:1px solid var(--line); padding:.35rem .5rem; text-align:left; vertical-align:top; }
th { background:#f0f2f5; font-weight:600; }
td.num { font-variant-numeric:tabular-nums; white-space:nowrap; }
.elite, .ok { color:var(--ok); font-weight:600; }
.low, .breached { color:var(--bad); font-weight:600; }
figure { margin:1.2rem 0 1.8rem; }
figure img { display:block; width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
figcaption { margin-top:.4rem; font-size:.92rem; }
figcaption b { display:block; }
code, pre { font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace; font-size:.88rem; }
pre { background:#f5f7fa; padding:.6rem .8rem; overflow-x:auto; white-space:pre-wrap; word-break:break-all; border-radius:4px; }
dl dt { font-weight:600; margin-top:.5rem; }
dl dd { margin:0 0 0 1rem; }
@media (max-width:600px) {
  body { font-size:15px; padding:1rem .7rem 2rem; }
  h1 { font-size:1.35rem; }
  table { font-size:.82rem; }
  th, td { padding:.3rem .35rem; }
}
@media print {
  body { max-width:none; padding:0; font-size:11pt; }
  .summary { background:none; border:1px solid #999; }
  h2 { break-after:avoid; page-break-after:avoid; }
  figure, table, tr { break-inside:avoid; page-break-inside:avoid; }
  .scroll { overflow:visible; }
  a { color:inherit; text-decoration:none; }
}
"#;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn cell_class(text: &str) -> &'static str {
    match text {
        t if t == "elite" || t.starts_with("elite (") => " class=\"elite\"",
        t if t == "low" || t.starts_with("low (") => " class=\"low\"",
        "ok" => " class=\"ok\"",
        "BREACHED" => " class=\"breached\"",
        t if t.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '\u{2212}') => {
            " class=\"num\""
        }
        _ => "",
    }
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<div class=\"scroll\"><table>\n");
    if t.head.iter().any(|h| !h.is_empty()) {
        out.push_str("<thead><tr>");
        for h in &t.head {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td{}>{}</td>", cell_class(c), esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

pub fn render(f: &Findings, card: &super::card::Card, charts: &[ChartFile]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut o = String::with_capacity(1 << 20);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        esc(&f.title),
        CSS
    );
    let _ = writeln!(
        o,
        "<h1>{}</h1>\n<p class=\"sub\">{}</p>",
        esc(&f.title),
        esc(&f.subtitle)
    );

    o.push_str("<h2 id=\"card\">Decision card</h2>\n");
    o.push_str(&card.html());
    let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(&card.note));

    o.push_str("<h2 id=\"summary\">Executive summary</h2>\n<div class=\"summary\">\n");
    for s in &f.summary {
        let _ = writeln!(o, "<p>{}</p>", esc(s));
    }
    o.push_str("</div>\n");

    o.push_str("<h2 id=\"dora\">DORA view</h2>\n");
    table(&mut o, &f.dora);
    let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(&f.dora_note));

    o.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for c in charts {
        let _ = writeln!(
            o,
            "<figure id=\"chart-{name}\"><img alt=\"{title}\" src=\"data:image/png;base64,{data}\">\
             <figcaption><b>{title}</b>{caption} <span class=\"note\">(charts/{name}.svg, charts/{name}.png)</span></figcaption></figure>",
            name = c.name,
            title = esc(&c.title),
            caption = esc(&c.caption),
            data = b64.encode(&c.png),
        );
    }

    o.push_str("<h2 id=\"results\">Results in detail</h2>\n");
    table(&mut o, &f.results);
    let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(&f.results_note));
    if !f.hand_edits.rows.is_empty() {
        o.push_str("<h3 id=\"hand-edits\">Hand edits corrected</h3>\n");
        table(&mut o, &f.hand_edits);
        let _ = writeln!(o, "<p class=\"note\">{}</p>", esc(&f.hand_edits_note));
    }
    o.push_str("<h3>Counters</h3>\n");
    table(&mut o, &f.counters);
    if !f.git_traffic.rows.is_empty() {
        o.push_str("<h3 id=\"git-traffic\">Git traffic per repository</h3>\n");
        table(&mut o, &f.git_traffic);
    }

    o.push_str("<h2 id=\"thresholds\">Thresholds</h2>\n");
    if f.thresholds.rows.is_empty() {
        o.push_str("<p>The scenario sets no thresholds.</p>\n");
    } else {
        table(&mut o, &f.thresholds);
    }

    o.push_str("<h2 id=\"scenario\">Scenario</h2>\n");
    let _ = writeln!(o, "<p>{}</p>", esc(&f.description));
    table(&mut o, &f.scenario);

    o.push_str("<h2 id=\"methodology\">Methodology</h2>\n<h3>Metrics</h3>\n<dl>\n");
    // The environments' metrics are defined only in a run that has environments.
    let environments = f
        .results
        .rows
        .iter()
        .any(|r| r.first().is_some_and(|c| c == "lead_time"));
    for (name, def) in DEFINITIONS {
        if !environments && matches!(name, "lead_time" | "promotion" | "gate") {
            continue;
        }
        let _ = writeln!(o, "<dt><code>{name}</code></dt><dd>{}</dd>", esc(def));
    }
    o.push_str("</dl>\n<h3>Counters</h3>\n<dl>\n");
    for (name, def) in COUNTER_DEFINITIONS {
        let _ = writeln!(o, "<dt><code>{name}</code></dt><dd>{}</dd>", esc(def));
    }
    o.push_str("</dl>\n<h3>Faults</h3>\n<dl>\n");
    for (name, def) in FAULT_DEFINITIONS {
        let _ = writeln!(o, "<dt><code>{name}</code></dt><dd>{}</dd>", esc(def));
    }
    o.push_str("</dl>\n<h3>Statistics</h3>\n");
    let _ = writeln!(o, "<p>{}</p>", esc(&statistics_text()));

    o.push_str("<h2 id=\"reproducibility\">Reproducibility</h2>\n");
    let _ = writeln!(o, "<pre>{}</pre>", esc(&f.command));
    table(&mut o, &f.reproduce);
    o.push_str("<p class=\"note\">The same scenario, seed and version give byte-identical results; <code>pushpull report DIR</code> rebuilds this page and the charts from the run directory without re-running.</p>\n");
    o.push_str("</body>\n</html>\n");
    o
}

/// How the numbers are computed, for the methodology section of both reports.
pub fn statistics_text() -> String {
    format!(
        "Quantiles (p50, p95) come from an HdrHistogram over the samples of all repetitions (0.1% resolution). Confidence intervals are seeded expanded-percentile bootstrap 95% intervals (Hesterberg 2015: the tails widened as a t interval's would for few units) with {} resamples that draw whole repetitions with replacement, because samples inside one repetition share a commit stream and fault timeline and are not independent; the difference of each setup from the baseline resamples the same repetitions for both setups (every setup runs the same workload). A difference whose interval includes zero is reported as no significant difference. Under {} repetitions no interval is given and the figures are indicative: measured coverage (docs/STATISTICS.md) stays below 92% there.",
        bootstrap::RESAMPLES,
        bootstrap::MIN_REPETITIONS
    )
}
