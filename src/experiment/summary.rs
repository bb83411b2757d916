//! The figures users compare across runs, computed from per-query records, and the JSON
//! and CSV writers for records.
//!
//! Every figure is defined once here (see the field docs) so the simulator's `--json`, the
//! experiment sweep's `results.csv` and the live network's report agree on what
//! "duplicates fraction" or "latency" means. Writers emit a fixed column order and
//! Rust's shortest round-trip float formatting, so identical inputs give identical bytes.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::node::record::QueryRecord;
use crate::sim::{OverlayShape, SimStats};

/// Aggregate figures over one run's queries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of query records summarised.
    pub queries: u64,
    /// Queries with at least one hit at the origin, divided by `queries`.
    pub success_rate: f64,
    /// Query descriptors sent over links (all peers), divided by `queries`.
    pub messages_per_query: f64,
    /// Query copies dropped as already seen, divided by query descriptors sent
    /// (`sum duplicates / sum messages`; 0 when nothing was sent).
    pub duplicates_fraction: f64,
    /// Mean over queries of the distinct peers other than the origin that received one.
    pub peers_reached_per_query: f64,
    /// Mean hops of the first hit, over successful queries (`None` when none succeeded).
    pub first_hit_hops_mean: Option<f64>,
    /// Mean milliseconds from start to first hit, over successful queries (`None` when
    /// none succeeded).
    pub latency_ms_mean: Option<f64>,
    /// QueryHits reaching the origin, divided by `queries`.
    pub hits_per_query: f64,
    /// QueryHit descriptors sent over links (responders and relays), divided by `queries`.
    pub hit_messages_per_query: f64,
    /// Mean over every peer of the network (idle ones included) of the Query and QueryHit
    /// descriptors it sent during the run: the routing load a typical peer carries.
    pub messages_per_node_mean: f64,
    /// The largest such per-peer count: the load on the busiest peer.
    pub messages_per_node_max: u64,
    /// Queries that at least one peer answered from its result cache, divided by `queries`.
    pub cache_hit_rate: f64,
    /// Simulator only (`None` elsewhere): peers in the largest connected component of the
    /// overlay among peers online at the end of the run, divided by all peers (removed and
    /// offline ones included), as in Albert, Jeong & Barabási (2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub largest_component_fraction: Option<f64>,
    /// Simulator only: mean degree of online peers (links to online peers) at the start,
    /// before any removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_degree_start: Option<f64>,
    /// Simulator only: the same at the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_degree_end: Option<f64>,
    /// Simulator with a dynamic overlay only: dials the peers asked for during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dials: Option<u64>,
    /// Of those, the ones that failed (target offline or gone, already linked, or full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dials_failed: Option<u64>,
    /// Links the dials made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links_made: Option<u64>,
    /// Two-tier runs only (`None` in a flat network): the Query and QueryHit descriptors
    /// each ultrapeer received during the run (the messages it had to handle), mean over
    /// ultrapeers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ultrapeer_load_mean: Option<f64>,
    /// Two-tier runs only: the most any one ultrapeer received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ultrapeer_load_max: Option<u64>,
    /// Two-tier runs only: the same count for leaves, mean over leaves (with QRP, a leaf
    /// receives only the queries its table lets through).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_load_mean: Option<f64>,
    /// Two-tier runs only: the most any one leaf received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_load_max: Option<u64>,
}

impl Summary {
    /// Summarises `records`; `messages_per_node` holds, per peer of the network, the Query
    /// and QueryHit descriptors it sent (e.g. `Recorder::messages_per_peer` padded to the
    /// network size, or the simulator's own counters).
    pub fn from_records(records: &[QueryRecord], messages_per_node: &[u64]) -> Summary {
        let queries = records.len() as u64;
        let per_query = |total: u64| {
            if queries == 0 {
                0.0
            } else {
                total as f64 / queries as f64
            }
        };
        let sum = |field: fn(&QueryRecord) -> u64| records.iter().map(field).sum::<u64>();
        let messages = sum(|r| r.messages);
        let duplicates = sum(|r| r.duplicates);
        let successes = records.iter().filter(|r| r.success).count() as u64;
        let with_cache = records.iter().filter(|r| r.answered_from_cache > 0).count() as u64;
        let successful = records.iter().filter(|r| r.success);
        let first_hops = mean(
            successful
                .clone()
                .filter_map(|r| r.first_hit_hops.map(f64::from)),
        );
        let latency = mean(successful.filter_map(|r| r.first_hit_ms));
        let nodes = messages_per_node.len();
        Summary {
            queries,
            success_rate: per_query(successes),
            messages_per_query: per_query(messages),
            duplicates_fraction: if messages == 0 {
                0.0
            } else {
                duplicates as f64 / messages as f64
            },
            peers_reached_per_query: per_query(sum(|r| r.peers_reached)),
            first_hit_hops_mean: first_hops,
            latency_ms_mean: latency,
            hits_per_query: per_query(sum(|r| r.hits)),
            hit_messages_per_query: per_query(sum(|r| r.hit_messages)),
            messages_per_node_mean: if nodes == 0 {
                0.0
            } else {
                messages_per_node.iter().sum::<u64>() as f64 / nodes as f64
            },
            messages_per_node_max: messages_per_node.iter().copied().max().unwrap_or(0),
            cache_hit_rate: per_query(with_cache),
            largest_component_fraction: None,
            mean_degree_start: None,
            mean_degree_end: None,
            dials: None,
            dials_failed: None,
            links_made: None,
            ultrapeer_load_mean: None,
            ultrapeer_load_max: None,
            leaf_load_mean: None,
            leaf_load_max: None,
        }
    }

    /// The summary with the load per ultrapeer and per leaf of a two-tier run:
    /// `received[v]` is what peer `v` received, `ultrapeer[v]` its role (a tier with no
    /// peer gets a mean and a max of 0).
    pub fn with_tiers(mut self, received: &[u64], ultrapeer: &[bool]) -> Summary {
        let tier = |up: bool| {
            let loads = received
                .iter()
                .zip(ultrapeer)
                .filter(move |(_, &u)| u == up)
                .map(|(&r, _)| r);
            let (count, total, max) =
                loads.fold((0u64, 0u64, 0u64), |(n, t, m), r| (n + 1, t + r, m.max(r)));
            let mean = if count == 0 {
                0.0
            } else {
                total as f64 / count as f64
            };
            (mean, max)
        };
        let (up_mean, up_max) = tier(true);
        let (leaf_mean, leaf_max) = tier(false);
        self.ultrapeer_load_mean = Some(up_mean);
        self.ultrapeer_load_max = Some(up_max);
        self.leaf_load_mean = Some(leaf_mean);
        self.leaf_load_max = Some(leaf_max);
        self
    }

    /// Whether the run was two-tier (it has the per-tier loads).
    pub fn is_two_tier(&self) -> bool {
        self.ultrapeer_load_mean.is_some()
    }

    /// The summary with the overlay figures of a simulated run.
    pub fn with_overlay(mut self, start: &OverlayShape, end: &OverlayShape) -> Summary {
        self.largest_component_fraction = Some(end.largest_component_fraction);
        self.mean_degree_start = Some(start.mean_degree);
        self.mean_degree_end = Some(end.mean_degree);
        self
    }

    /// The summary with the dial counts of a simulated run with a dynamic overlay.
    pub fn with_dials(mut self, stats: &SimStats) -> Summary {
        self.dials = Some(stats.dials);
        self.dials_failed = Some(stats.dials_failed);
        self.links_made = Some(stats.links_made);
        self
    }

    /// The summary's CSV column names, in the order [`Summary::csv_values`] writes them.
    pub const CSV_COLUMNS: [&'static str; 18] = [
        "queries",
        "success_rate",
        "messages_per_query",
        "duplicates_fraction",
        "peers_reached_per_query",
        "first_hit_hops_mean",
        "latency_ms_mean",
        "hits_per_query",
        "hit_messages_per_query",
        "messages_per_node_mean",
        "messages_per_node_max",
        "cache_hit_rate",
        "largest_component_fraction",
        "mean_degree_start",
        "mean_degree_end",
        "dials",
        "dials_failed",
        "links_made",
    ];

    /// The summary's values as CSV cells, empty where a figure is undefined.
    pub fn csv_values(&self) -> Vec<String> {
        vec![
            self.queries.to_string(),
            self.success_rate.to_string(),
            self.messages_per_query.to_string(),
            self.duplicates_fraction.to_string(),
            self.peers_reached_per_query.to_string(),
            opt(self.first_hit_hops_mean),
            opt(self.latency_ms_mean),
            self.hits_per_query.to_string(),
            self.hit_messages_per_query.to_string(),
            self.messages_per_node_mean.to_string(),
            self.messages_per_node_max.to_string(),
            self.cache_hit_rate.to_string(),
            opt(self.largest_component_fraction),
            opt(self.mean_degree_start),
            opt(self.mean_degree_end),
            opt(self.dials),
            opt(self.dials_failed),
            opt(self.links_made),
        ]
    }

    /// The per-tier load columns, written after [`Summary::CSV_COLUMNS`] only when some
    /// run of the file is two-tier (so a flat sweep's CSV keeps its columns).
    pub const TWO_TIER_CSV_COLUMNS: [&'static str; 4] = [
        "ultrapeer_load_mean",
        "ultrapeer_load_max",
        "leaf_load_mean",
        "leaf_load_max",
    ];

    /// The cells of [`Summary::TWO_TIER_CSV_COLUMNS`] (empty for a flat run).
    pub fn two_tier_csv_values(&self) -> Vec<String> {
        vec![
            opt(self.ultrapeer_load_mean),
            opt(self.ultrapeer_load_max),
            opt(self.leaf_load_mean),
            opt(self.leaf_load_max),
        ]
    }
}

impl Summary {
    /// The summary from its CSV cells (as [`Summary::csv_values`] writes them, in
    /// [`Summary::CSV_COLUMNS`] order): the same bits back, as Rust writes floats in their
    /// shortest round-trip form. Merging a sharded sweep relies on it.
    pub fn from_csv_values<S: AsRef<str>>(cells: &[S]) -> Result<Summary, String> {
        let flat = Summary::CSV_COLUMNS.len();
        let two_tier = flat + Summary::TWO_TIER_CSV_COLUMNS.len();
        if cells.len() != flat && cells.len() != two_tier {
            return Err(format!(
                "{} summary cells, expected {flat} ({}) or {two_tier} (with {})",
                cells.len(),
                Summary::CSV_COLUMNS.join(","),
                Summary::TWO_TIER_CSV_COLUMNS.join(",")
            ));
        }
        let column = |i: usize| {
            Summary::CSV_COLUMNS
                .iter()
                .chain(&Summary::TWO_TIER_CSV_COLUMNS)
                .nth(i)
                .copied()
                .unwrap_or("")
        };
        let cell = |i: usize| cells[i].as_ref();
        let bad = |i: usize, what: &str| format!("`{}` is not {what} ({})", cell(i), column(i));
        let count = |i: usize| cell(i).parse::<u64>().map_err(|_| bad(i, "a count"));
        let number = |i: usize| cell(i).parse::<f64>().map_err(|_| bad(i, "a number"));
        let optional = |i: usize| match cell(i) {
            "" => Ok(None),
            _ => number(i).map(Some),
        };
        let optional_count = |i: usize| match cell(i) {
            "" => Ok(None),
            _ => count(i).map(Some),
        };
        Ok(Summary {
            queries: count(0)?,
            success_rate: number(1)?,
            messages_per_query: number(2)?,
            duplicates_fraction: number(3)?,
            peers_reached_per_query: number(4)?,
            first_hit_hops_mean: optional(5)?,
            latency_ms_mean: optional(6)?,
            hits_per_query: number(7)?,
            hit_messages_per_query: number(8)?,
            messages_per_node_mean: number(9)?,
            messages_per_node_max: count(10)?,
            cache_hit_rate: number(11)?,
            largest_component_fraction: optional(12)?,
            mean_degree_start: optional(13)?,
            mean_degree_end: optional(14)?,
            dials: optional_count(15)?,
            dials_failed: optional_count(16)?,
            links_made: optional_count(17)?,
            ultrapeer_load_mean: if cells.len() > flat {
                optional(18)?
            } else {
                None
            },
            ultrapeer_load_max: if cells.len() > flat {
                optional_count(19)?
            } else {
                None
            },
            leaf_load_mean: if cells.len() > flat {
                optional(20)?
            } else {
                None
            },
            leaf_load_max: if cells.len() > flat {
                optional_count(21)?
            } else {
                None
            },
        })
    }
}

/// A figure of [`Summary`] that differs between runs (every field but `queries`): what
/// means and spreads over seeds are taken of, and what a plot picks to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Figure {
    SuccessRate,
    MessagesPerQuery,
    DuplicatesFraction,
    PeersReachedPerQuery,
    FirstHitHopsMean,
    LatencyMsMean,
    HitsPerQuery,
    HitMessagesPerQuery,
    MessagesPerNodeMean,
    MessagesPerNodeMax,
    CacheHitRate,
    LargestComponentFraction,
    MeanDegreeStart,
    MeanDegreeEnd,
    Dials,
    DialsFailed,
    LinksMade,
}

impl Figure {
    /// Every figure, in the order of [`Summary`]'s fields.
    pub const ALL: [Figure; 17] = [
        Figure::SuccessRate,
        Figure::MessagesPerQuery,
        Figure::DuplicatesFraction,
        Figure::PeersReachedPerQuery,
        Figure::FirstHitHopsMean,
        Figure::LatencyMsMean,
        Figure::HitsPerQuery,
        Figure::HitMessagesPerQuery,
        Figure::MessagesPerNodeMean,
        Figure::MessagesPerNodeMax,
        Figure::CacheHitRate,
        Figure::LargestComponentFraction,
        Figure::MeanDegreeStart,
        Figure::MeanDegreeEnd,
        Figure::Dials,
        Figure::DialsFailed,
        Figure::LinksMade,
    ];

    /// The field's name in [`Summary`] (and its CSV column).
    pub fn name(self) -> &'static str {
        match self {
            Figure::SuccessRate => "success_rate",
            Figure::MessagesPerQuery => "messages_per_query",
            Figure::DuplicatesFraction => "duplicates_fraction",
            Figure::PeersReachedPerQuery => "peers_reached_per_query",
            Figure::FirstHitHopsMean => "first_hit_hops_mean",
            Figure::LatencyMsMean => "latency_ms_mean",
            Figure::HitsPerQuery => "hits_per_query",
            Figure::HitMessagesPerQuery => "hit_messages_per_query",
            Figure::MessagesPerNodeMean => "messages_per_node_mean",
            Figure::MessagesPerNodeMax => "messages_per_node_max",
            Figure::CacheHitRate => "cache_hit_rate",
            Figure::LargestComponentFraction => "largest_component_fraction",
            Figure::MeanDegreeStart => "mean_degree_start",
            Figure::MeanDegreeEnd => "mean_degree_end",
            Figure::Dials => "dials",
            Figure::DialsFailed => "dials_failed",
            Figure::LinksMade => "links_made",
        }
    }

    /// The figure's value in `summary`; `None` where it is undefined (no successful query).
    pub fn of(self, summary: &Summary) -> Option<f64> {
        match self {
            Figure::SuccessRate => Some(summary.success_rate),
            Figure::MessagesPerQuery => Some(summary.messages_per_query),
            Figure::DuplicatesFraction => Some(summary.duplicates_fraction),
            Figure::PeersReachedPerQuery => Some(summary.peers_reached_per_query),
            Figure::FirstHitHopsMean => summary.first_hit_hops_mean,
            Figure::LatencyMsMean => summary.latency_ms_mean,
            Figure::HitsPerQuery => Some(summary.hits_per_query),
            Figure::HitMessagesPerQuery => Some(summary.hit_messages_per_query),
            Figure::MessagesPerNodeMean => Some(summary.messages_per_node_mean),
            Figure::MessagesPerNodeMax => Some(summary.messages_per_node_max as f64),
            Figure::CacheHitRate => Some(summary.cache_hit_rate),
            Figure::LargestComponentFraction => summary.largest_component_fraction,
            Figure::MeanDegreeStart => summary.mean_degree_start,
            Figure::MeanDegreeEnd => summary.mean_degree_end,
            Figure::Dials => summary.dials.map(|v| v as f64),
            Figure::DialsFailed => summary.dials_failed.map(|v| v as f64),
            Figure::LinksMade => summary.links_made.map(|v| v as f64),
        }
    }

    /// Whether the figure is a share of something, drawn on an axis from 0 to 1.
    pub fn is_share(self) -> bool {
        matches!(
            self,
            Figure::SuccessRate
                | Figure::DuplicatesFraction
                | Figure::CacheHitRate
                | Figure::LargestComponentFraction
        )
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (count, total) = values.fold((0u64, 0.0), |(n, s), v| (n + 1, s + v));
    (count > 0).then(|| total / count as f64)
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The record CSV's columns, in order (the per-reason drop maps stay in JSON only).
pub const RECORD_CSV_COLUMNS: [&str; 22] = [
    "guid",
    "query",
    "origin",
    "strategy",
    "ttl",
    "start_ms",
    "messages",
    "duplicates",
    "reforwards",
    "refused",
    "lost",
    "peers_reached",
    "hits",
    "records",
    "responders",
    "first_hit_hops",
    "first_hit_ms",
    "hit_messages",
    "answered",
    "answered_from_cache",
    "success",
    "scope",
];

/// Writes one CSV row per record, with a header, in the records' order.
pub fn write_records_csv<W: Write>(out: &mut W, records: &[QueryRecord]) -> io::Result<()> {
    write_csv_row(out, RECORD_CSV_COLUMNS.iter().map(|c| c.to_string()))?;
    for r in records {
        let scope = match r.scope {
            crate::node::record::Scope::Network => "network",
            crate::node::record::Scope::Searcher => "searcher",
        };
        let cells = [
            r.guid.clone(),
            r.query.clone(),
            opt(r.origin.as_deref()),
            r.strategy.clone(),
            r.ttl.to_string(),
            r.start_ms.to_string(),
            r.messages.to_string(),
            r.duplicates.to_string(),
            r.reforwards.to_string(),
            r.refused.to_string(),
            r.lost.to_string(),
            r.peers_reached.to_string(),
            r.hits.to_string(),
            r.records.to_string(),
            r.responders.to_string(),
            opt(r.first_hit_hops),
            opt(r.first_hit_ms),
            r.hit_messages.to_string(),
            r.answered.to_string(),
            r.answered_from_cache.to_string(),
            r.success.to_string(),
            scope.to_string(),
        ];
        write_csv_row(out, cells)?;
    }
    Ok(())
}

/// Writes `{"summary": ..., "queries": [...]}`, pretty-printed, with a final newline.
pub fn write_report_json<W: Write>(
    out: &mut W,
    summary: &Summary,
    records: &[QueryRecord],
) -> io::Result<()> {
    let queries: Vec<serde_json::Value> = records.iter().map(QueryRecord::to_json).collect();
    let report = serde_json::json!({ "summary": summary, "queries": queries });
    serde_json::to_writer_pretty(&mut *out, &report)?;
    writeln!(out)
}

/// Writes one CSV line, quoting cells that need it (RFC 4180).
pub fn write_csv_row<W: Write>(
    out: &mut W,
    cells: impl IntoIterator<Item = String>,
) -> io::Result<()> {
    let mut first = true;
    for cell in cells {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        if cell.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", cell.replace('"', "\"\""))?;
        } else {
            out.write_all(cell.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_read_back_to_the_same_bits() {
        let summary = Summary {
            queries: 7,
            success_rate: 1.0 / 3.0,
            messages_per_query: 0.1 + 0.2,
            duplicates_fraction: 2.0f64.sqrt() / 10.0,
            peers_reached_per_query: 1e-300,
            first_hit_hops_mean: Some(std::f64::consts::PI),
            latency_ms_mean: None,
            hits_per_query: 123_456_789.123_456_79,
            hit_messages_per_query: 5e17,
            messages_per_node_mean: f64::MIN_POSITIVE,
            messages_per_node_max: u64::MAX,
            cache_hit_rate: 0.0,
            largest_component_fraction: Some(0.999_999_999_999_9),
            mean_degree_start: Some(4.0),
            mean_degree_end: None,
            dials: Some(70_000),
            dials_failed: Some(0),
            links_made: None,
            ..Summary::default()
        };
        let cells = summary.csv_values();
        let back = Summary::from_csv_values(&cells).unwrap();
        assert_eq!(back, summary);
        assert_eq!(back.csv_values(), cells);
        let mut bad = cells.clone();
        bad[2] = "many".into();
        let err = Summary::from_csv_values(&bad).unwrap_err();
        assert!(err.contains("messages_per_query"), "{err}");
        assert!(Summary::from_csv_values(&cells[1..]).is_err());
    }

    #[test]
    fn a_two_tier_run_has_its_loads_per_tier_and_they_read_back() {
        // Peers 0 and 2 are ultrapeers.
        let summary =
            Summary::default().with_tiers(&[10, 1, 30, 0, 2], &[true, false, true, false, false]);
        assert_eq!(summary.ultrapeer_load_mean, Some(20.0));
        assert_eq!(summary.ultrapeer_load_max, Some(30));
        assert_eq!(summary.leaf_load_mean, Some(1.0));
        assert_eq!(summary.leaf_load_max, Some(2));
        let mut cells = summary.csv_values();
        cells.extend(summary.two_tier_csv_values());
        assert_eq!(Summary::from_csv_values(&cells).unwrap(), summary);
        // A flat run in a file with two-tier runs: empty cells, read back as absent.
        let mut flat = Summary::default().csv_values();
        flat.extend(Summary::default().two_tier_csv_values());
        assert!(!Summary::from_csv_values(&flat).unwrap().is_two_tier());
    }
}
