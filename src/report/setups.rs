//! The setups of a run as every chart and table of the report shows them: in the
//! summary's order, each with its label (`gha (push: github-actions)`, see
//! [`super::table::setup_label`]) and its colour from a fixed palette of eight.

use super::load::RunDir;
use super::table::setup_label;
use crate::metric::ModelKind;

/// Eight colours told apart on screen, in print and by most colour-blind readers
/// (Okabe–Ito first, then darker tones). The baseline takes the first; the others take
/// the next ones in the summary's order. Drift (orange), bad releases (red), rollbacks
/// (violet) and the desired revision (grey) have colours of their own in the charts.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (213, 94, 0),
    (0, 114, 178),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (140, 86, 75),
    (128, 128, 0),
    (60, 60, 60),
];

/// One setup of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct SetupView {
    /// The key under `models:` (samples.csv's `model`).
    pub name: String,
    /// `gha (push: github-actions)`, or `push (github-actions)` for a setup named after
    /// its kind.
    pub label: String,
    pub kind: ModelKind,
    pub color: (u8, u8, u8),
    pub baseline: bool,
}

/// The preset of setup `name`: the summary's, or for a schema-1 summary (which did not
/// record it) the one scenario.json names.
fn preset(run: &RunDir, name: &str, recorded: &str) -> Option<String> {
    if recorded != "unknown" {
        return Some(recorded.to_string());
    }
    run.scenario
        .as_ref()
        .and_then(|s| s.pointer(&format!("/models/{name}/preset")))
        .and_then(|p| p.as_str())
        .map(str::to_string)
}

/// Every setup of the run in the summary's order.
pub fn of(run: &RunDir) -> Vec<SetupView> {
    let baseline = run.summary.baseline.as_str();
    let mut next = 1;
    run.summary
        .models
        .iter()
        .map(|(name, m)| {
            let label = match preset(run, name, &m.preset) {
                Some(p) => {
                    let mut m = m.clone();
                    m.preset = p;
                    setup_label(name, &m)
                }
                None => name.to_string(),
            };
            let is_base = name == baseline;
            let color = if is_base {
                PALETTE[0]
            } else {
                let c = PALETTE[next % PALETTE.len()];
                next += 1;
                c
            };
            SetupView {
                name: name.to_string(),
                label,
                kind: m.kind,
                color,
                baseline: is_base,
            }
        })
        .collect()
}

/// The label of setup `name` (the name itself if the run has no such setup).
pub fn label(run: &RunDir, name: &str) -> String {
    of(run)
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.label)
        .unwrap_or_else(|| name.to_string())
}
