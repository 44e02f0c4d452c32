//! `report.md`: the report's summary and tables as GitHub-flavoured Markdown for a pull
//! request comment; charts are linked by relative path (`charts/NAME.png`).

use super::charts::ChartFile;
use super::findings::{Findings, Table};
use super::html::statistics_text;
use std::fmt::Write;

/// Escapes a table cell: pipes split cells, newlines end rows.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(o: &mut String, t: &Table) {
    let head: Vec<String> = if t.head.iter().all(|h| h.is_empty()) {
        vec![" ".into(); t.head.len()]
    } else {
        t.head.iter().map(|h| cell(h)).collect()
    };
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(head.len()));
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    o.push('\n');
}

pub fn render(f: &Findings, card: &super::card::Card, charts: &[ChartFile]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n\n_{}_\n", f.title, f.subtitle);
    o.push_str("## Decision card\n\n");
    table(&mut o, &card.table());
    let _ = writeln!(o, "{}\n", card.note);
    o.push_str("## Executive summary\n\n");
    for s in &f.summary {
        let _ = writeln!(o, "{s}");
    }
    o.push_str("\n## DORA view\n\n");
    table(&mut o, &f.dora);
    let _ = writeln!(o, "{}\n", f.dora_note);
    o.push_str("## Charts\n\n");
    for c in charts {
        let _ = writeln!(
            o,
            "![{title}](charts/{name}.png)\n\n**{title}.** {caption}\n",
            title = c.title,
            name = c.name,
            caption = c.caption
        );
    }
    o.push_str("## Results in detail\n\n");
    table(&mut o, &f.results);
    let _ = writeln!(o, "{}\n", f.results_note);
    if !f.hand_edits.rows.is_empty() {
        o.push_str("### Hand edits corrected\n\n");
        table(&mut o, &f.hand_edits);
        let _ = writeln!(o, "{}\n", f.hand_edits_note);
    }
    table(&mut o, &f.counters);
    if !f.git_traffic.rows.is_empty() {
        o.push_str("### Git traffic per repository\n\n");
        table(&mut o, &f.git_traffic);
    }
    o.push_str("## Thresholds\n\n");
    if f.thresholds.rows.is_empty() {
        o.push_str("The scenario sets no thresholds.\n\n");
    } else {
        table(&mut o, &f.thresholds);
    }
    o.push_str("## Scenario\n\n");
    let _ = writeln!(o, "{}\n", f.description);
    o.push_str("<details><summary>Every parameter, presets expanded</summary>\n\n");
    table(&mut o, &f.scenario);
    o.push_str("</details>\n\n## Methodology\n\n");
    let _ = writeln!(
        o,
        "Metric and counter definitions are in report.html and the pushpull README. {}\n",
        statistics_text()
    );
    o.push_str("## Reproducibility\n\n```sh\n");
    let _ = writeln!(o, "{}", f.command);
    o.push_str("```\n\n");
    table(&mut o, &f.reproduce);
    o
}
