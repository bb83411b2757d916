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
    /// Child processes of a sharded launch that ended before handing over their counts
    /// (absent when none did): their peers' counts are missing from every record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost_shards: Vec<LostShard>,
}

/// A child process of a sharded launch that ended before the parent had its counts.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LostShard {
    /// The shard's number (0-based, in the order the shards were started).
    pub shard: usize,
    /// Config ids of the peers it ran.
    pub peers: Vec<String>,
    /// Milliseconds from the launch's start until the parent saw it end.
    pub at_ms: f64,
    /// How it ended: `killed by signal 9 (SIGKILL)`, `exited with status 1`, ...
    pub why: String,
    /// The last line it wrote to stderr, if it wrote any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Workload queries from its peers that were due after it ended, so never started.
    #[serde(default)]
    pub queries_not_run: usize,
}

/// The whole report as JSON.
pub fn report_json(summary: &NetworkSummary, records: &[QueryRecord]) -> Value {
    json!({
        "network": summary,
        "queries": records.iter().map(QueryRecord::to_json).collect::<Vec<_>>(),
    })
}

/// Writes the report to `path` (pretty JSON, trailing newline). The text goes to a temp
/// file in the same folder first and is renamed into place, so a reader (or a crash) never
/// sees a half-written report.
pub fn write_report(path: &std::path::Path, report: &Value) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

/// Writes `bytes` to `path` via a sibling temp file and a rename (atomic on one filesystem).
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} names no file", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A per-query flooding table for a terminal.
pub fn flooding_table(records: &[QueryRecord]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<28} {:>8} {:>6} {:>6} {:>5} {:>7} {:>5} {:>10} {:>9} {:>9}\n",
        "query",
        "messages",
        "dups",
        "refwd",
        "lost",
        "reached",
        "hits",
        "responders",
        "1st hops",
        "1st ms"
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
            "{:<28} {:>8} {:>6} {:>6} {:>5} {:>7} {:>5} {:>10} {:>9} {:>9}\n",
            query,
            r.messages,
            r.duplicates,
            r.reforwards,
            r.lost,
            r.peers_reached,
            r.hits,
            r.responders,
            hops,
            ms
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_replaces_the_old_file_whole_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").unwrap();
        write_report(&path, &json!({"network": {"peers": 3}})).unwrap();
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["network"]["peers"], 3);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temp file was renamed into place");
    }

    #[test]
    fn report_into_a_missing_folder_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("report.json");
        assert!(write_report(&path, &json!({})).is_err());
    }
}
