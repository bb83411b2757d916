//! The live network's report: `{"network": {...}, "queries": [record, ...]}`.
//!
//! Records are the shared `QueryRecord` schema (the simulator writes the same), so a live
//! run and a simulated one can be compared field by field.

use serde_json::{json, Value};

use super::network::NetTotals;
use crate::node::record::QueryRecord;

/// The `network` part of a report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NetworkSummary {
    /// The config's name.
    pub name: String,
    pub peers: usize,
    pub links: usize,
    /// OS processes the peers ran in.
    pub processes: usize,
    /// Milliseconds from start until every configured link was established.
    pub overlay_up_ms: Option<f64>,
    /// Peak resident memory, summed over the processes (Linux; `None` elsewhere).
    pub rss_peak_bytes: Option<u64>,
    #[serde(flatten)]
    pub totals: NetTotals,
}

/// The whole report as JSON.
pub fn report_json(summary: &NetworkSummary, records: &[QueryRecord]) -> Value {
    json!({
        "network": summary,
        "queries": records.iter().map(QueryRecord::to_json).collect::<Vec<_>>(),
    })
}

/// Writes the report to `path` (pretty JSON, trailing newline).
pub fn write_report(path: &std::path::Path, report: &Value) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// A per-query flooding table for a terminal.
pub fn flooding_table(records: &[QueryRecord]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<28} {:>8} {:>6} {:>7} {:>5} {:>10} {:>9} {:>9}\n",
        "query", "messages", "dups", "reached", "hits", "responders", "1st hops", "1st ms"
    ));
    for r in records {
        let hops = r.first_hit_hops.map_or("-".to_string(), |h| h.to_string());
        let ms = r
            .first_hit_ms
            .map_or("-".to_string(), |m| format!("{m:.1}"));
        let mut query = r.query.clone();
        if query.chars().count() > 28 {
            query = query.chars().take(27).collect::<String>() + "…";
        }
        out.push_str(&format!(
            "{:<28} {:>8} {:>6} {:>7} {:>5} {:>10} {:>9} {:>9}\n",
            query, r.messages, r.duplicates, r.peers_reached, r.hits, r.responders, hops, ms
        ));
    }
    out
}

/// This process's peak resident set size (`VmHWM`), on Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
