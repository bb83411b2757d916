//! Summary arithmetic on hand-made records, and byte-stable CSV/JSON writers.

use std::collections::BTreeMap;

use gnutella::experiment::summary::{write_records_csv, write_report_json, Summary};
use gnutella::node::record::{QueryRecord, Scope};

fn record(
    messages: u64,
    duplicates: u64,
    reached: u64,
    hit: Option<(u8, f64)>,
    cache: u64,
) -> QueryRecord {
    QueryRecord {
        guid: format!("{messages:032x}"),
        query: "amber, \"river\"".into(),
        origin: Some("3".into()),
        strategy: "flood".into(),
        ttl: 4,
        start_ms: 0.0,
        messages,
        duplicates,
        reforwards: 0,
        refused: 0,
        lost: 0,
        peers_reached: reached,
        hits: u64::from(hit.is_some()) * 2,
        records: u64::from(hit.is_some()) * 3,
        responders: u64::from(hit.is_some()),
        first_hit_hops: hit.map(|h| h.0),
        first_hit_ms: hit.map(|h| h.1),
        hit_messages: u64::from(hit.is_some()) * 4,
        answered: cache,
        answered_from_cache: cache,
        query_drops: BTreeMap::new(),
        hit_drops: BTreeMap::new(),
        success: hit.is_some(),
        scope: Scope::Network,
    }
}

#[test]
fn summary_figures_follow_their_definitions() {
    let records = [
        record(10, 2, 8, Some((2, 3.0)), 0),
        record(20, 8, 12, Some((4, 5.0)), 1),
        record(30, 0, 10, None, 0),
        record(40, 10, 10, None, 0),
    ];
    let s = Summary::from_records(&records, &[10, 0, 50, 40]);
    assert_eq!(s.queries, 4);
    assert_eq!(s.success_rate, 0.5);
    assert_eq!(s.messages_per_query, 25.0);
    assert_eq!(s.duplicates_fraction, 0.2);
    assert_eq!(s.peers_reached_per_query, 10.0);
    assert_eq!(s.first_hit_hops_mean, Some(3.0));
    assert_eq!(s.latency_ms_mean, Some(4.0));
    assert_eq!(s.hits_per_query, 1.0);
    assert_eq!(s.hit_messages_per_query, 2.0);
    assert_eq!(s.messages_per_node_mean, 25.0);
    assert_eq!(s.messages_per_node_max, 50);
    assert_eq!(s.cache_hit_rate, 0.25);
}

#[test]
fn empty_and_all_failed_runs_have_no_hit_figures_and_no_nan() {
    let s = Summary::from_records(&[], &[]);
    assert_eq!(s.success_rate, 0.0);
    assert_eq!(s.duplicates_fraction, 0.0);
    assert_eq!(s.latency_ms_mean, None);
    let failed = Summary::from_records(&[record(0, 0, 0, None, 0)], &[0]);
    assert_eq!(failed.first_hit_hops_mean, None);
    let json = serde_json::to_string(&failed).unwrap();
    assert!(json.contains("\"latency_ms_mean\":null"), "{json}");
}

#[test]
fn record_csv_is_quoted_and_byte_stable() {
    let records = [
        record(10, 2, 8, Some((2, 3.5)), 0),
        record(30, 0, 10, None, 0),
    ];
    let mut a = Vec::new();
    let mut b = Vec::new();
    write_records_csv(&mut a, &records).unwrap();
    write_records_csv(&mut b, &records).unwrap();
    assert_eq!(a, b);
    let text = String::from_utf8(a).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0]
        .starts_with("guid,query,origin,strategy,ttl,start_ms,messages,duplicates,reforwards,refused,lost,peers_reached"));
    assert!(
        lines[1].contains(
            ",\"amber, \"\"river\"\"\",3,flood,4,0,10,2,0,0,0,8,2,3,1,2,3.5,4,0,0,true,network"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(",30,0,0,0,0,10,0,0,0,,,0,0,0,false,network"),
        "{}",
        lines[2]
    );
}

#[test]
fn report_json_has_summary_and_queries() {
    let records = [record(10, 2, 8, Some((2, 3.0)), 0)];
    let summary = Summary::from_records(&records, &[10]);
    let mut out = Vec::new();
    write_report_json(&mut out, &summary, &records).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["summary"]["messages_per_query"], 10.0);
    assert_eq!(value["queries"][0]["peers_reached"], 8);
    let back: QueryRecord = serde_json::from_value(value["queries"][0].clone()).unwrap();
    assert_eq!(back, records[0]);
}
