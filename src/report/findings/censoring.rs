//! What the report says about observations still open when the run ended: the share of
//! hand edits corrected within 1 minute, 10 minutes and 1 hour per setup (from the
//! Kaplan–Meier estimate in summary.json), and the note that explains "> 4h34m".

use super::{Table, View};
use crate::measure::summary::CorrectedWithin;
use crate::report::table::observations;

impl View<'_> {
    /// One row per setup with hand edits: how many there were, how many were still live
    /// at the end, and the estimated share corrected within each horizon.
    pub(super) fn hand_edits(&self) -> (Table, String) {
        let mut rows = Vec::new();
        for s in self.names() {
            let Some(m) = self.metric(s, "drift_recovery") else {
                continue;
            };
            let Some(c) = &m.corrected_within else {
                continue;
            };
            let mut r = vec![
                self.label(s),
                observations(m).to_string(),
                m.censored.to_string(),
            ];
            r.extend(c.shares().iter().map(|x| {
                x.map_or("? (past the longest observation)".into(), |v| {
                    format!("{:.0}%", v * 100.0)
                })
            }));
            rows.push(r);
        }
        if rows.is_empty() {
            return (Table::default(), String::new());
        }
        let mut head = vec![
            "setup".to_string(),
            "hand edits (n)".to_string(),
            "still live at the end".to_string(),
        ];
        head.extend(
            CorrectedWithin::HORIZONS
                .iter()
                .map(|(name, _)| format!("corrected within {name}")),
        );
        let note = "Shares come from the Kaplan–Meier estimate: a hand edit still live when the run ended counts as open for as long as it was observed, never as corrected and never dropped. The same estimate gives every quantile of drift_recovery, deploy_latency, rollback, failed_deploy_recovery and cluster_restore when some are still open at the end; a quantile it never reaches is shown as \"> t\", t being the longest observation (at most the run's length).".to_string();
        (Table { head, rows }, note)
    }
}
