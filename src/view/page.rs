//! Builds the page: the drawn overlay, the trace's steps as compact rows, the assets.
//!
//! Rows are arrays, one per trace line, `[code, t, query, peer, ...]` with peers as
//! indices into the drawn peers (`-1`: unknown), queries as indices into `queries`, and
//! servents into `servents`:
//!
//! | code | step | fields after `peer` |
//! |---|---|---|
//! | 0 | start | ttl, words, strategy |
//! | 1 | send | to, hop, ttl |
//! | 2 | first | from, hop, ttl |
//! | 3 | duplicate | from, hop, ttl |
//! | 4 | reforward | from, hop, ttl |
//! | 5 | drop | from, hop, ttl, reason, to |
//! | 6 | answered | records, from_cache (0/1) |
//! | 7 | hit_routed | to, hop, ttl, servent |
//! | 8 | hit_dropped | from, reason, servent, to |
//! | 9 | hit_delivered | from, hops, records, servent, cached |

use std::collections::HashMap;

use serde_json::{json, Value};

use super::layout::layout;
use crate::node::DropReason;
use crate::trace::{Trace, TraceLine};

/// Overlays larger than this are drawn as the part the traced queries touched.
pub const MAX_DRAWN: usize = 20_000;

const TEMPLATE: &str = include_str!("assets/view.html");
const STYLE: &str = include_str!("assets/view.css");
const SCRIPT: &str = include_str!("assets/view.js");
/// The live page's part of the script (server calls), spliced into [`SCRIPT`] by
/// [`render_live`] only: a page made from a trace holds no code that talks to a server.
const LIVE_SCRIPT: &str = include_str!("assets/view_live.js");
const LIVE_MARK: &str = "/*{{LIVE}}*/";

/// How to draw a trace.
#[derive(Clone, Debug, Default)]
pub struct ViewOptions {
    /// Seed of the layout.
    pub seed: u64,
    /// The page's title (default: the trace's network name).
    pub title: Option<String>,
    /// Draw this overlay instead of the trace header's: peer ids and links by index (a
    /// topology config's). Trace peers are matched to it by id.
    pub overlay: Option<(Vec<String>, Vec<[u32; 2]>)>,
}

/// Why a page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("the trace names peer {0:?}, which the topology does not have")]
    UnknownPeer(String),
    #[error("the trace follows no query (was the run's first search traced?)")]
    NoQuery,
    #[error(
        "the traced queries touch {touched} of the {peers} peers; a page draws at most \
         {MAX_DRAWN}: trace fewer queries (--trace-queries 1, --trace-guid) or smaller floods"
    )]
    TooMany { touched: usize, peers: usize },
}

/// The page for `trace`, as one self-contained HTML document.
pub fn render(trace: &Trace, options: &ViewOptions) -> Result<String, ViewError> {
    let data = page_data(trace, options)?;
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
    // `<` never appears raw inside the script element: no `</script>` can end it early.
    let json = json.replace('<', "\\u003c");
    let title = html_escape(
        options
            .title
            .as_deref()
            .or(trace.header.name.as_deref())
            .unwrap_or("flood"),
    );
    // The trusted assets first; the title is escaped (braces too), so neither it nor the
    // data can carry a placeholder into a later replacement.
    Ok(TEMPLATE
        .replace("/*{{STYLE}}*/", STYLE)
        .replace("/*{{SCRIPT}}*/", &SCRIPT.replace(LIVE_MARK, ""))
        .replace("{{TITLE}}", &title)
        .replacen("{{DATA}}", &json, 1))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('{', "&#123;")
}

/// The drawn overlay: ids and links, and where each trace peer is drawn.
struct Drawn {
    ids: Vec<String>,
    links: Vec<[u32; 2]>,
    /// Trace peer index → drawn index.
    map: Vec<Option<u32>>,
}

fn drawn_overlay(trace: &Trace, options: &ViewOptions) -> Result<Drawn, ViewError> {
    let trace_ids: Vec<String> = trace.header.peers.iter().map(|p| p.id.clone()).collect();
    let (ids, links, map) = match &options.overlay {
        Some((ids, links)) => {
            let by_id: HashMap<&str, u32> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.as_str(), i as u32))
                .collect();
            let mut map = Vec::with_capacity(trace_ids.len());
            for id in &trace_ids {
                map.push(by_id.get(id.as_str()).copied());
            }
            // Only a peer a line names must be drawable.
            for line in &trace.lines {
                for p in line_peers(line) {
                    if map.get(p as usize).copied().flatten().is_none() {
                        let id = trace_ids.get(p as usize).cloned().unwrap_or_default();
                        return Err(ViewError::UnknownPeer(id));
                    }
                }
            }
            (ids.clone(), links.clone(), map)
        }
        None => {
            let map = (0..trace_ids.len() as u32).map(Some).collect();
            (trace_ids, trace.header.links.clone(), map)
        }
    };
    if ids.len() <= MAX_DRAWN {
        return Ok(Drawn { ids, links, map });
    }
    // Too many to draw: the peers the traced queries touched, and links among them.
    let mut keep = vec![false; ids.len()];
    for line in &trace.lines {
        for p in line_peers(line) {
            if let Some(Some(d)) = map.get(p as usize) {
                keep[*d as usize] = true;
            }
        }
    }
    let touched = keep.iter().filter(|&&k| k).count();
    if touched > MAX_DRAWN {
        return Err(ViewError::TooMany {
            touched,
            peers: ids.len(),
        });
    }
    let mut renumber = vec![None; ids.len()];
    let mut kept_ids = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if keep[i] {
            renumber[i] = Some(kept_ids.len() as u32);
            kept_ids.push(id.clone());
        }
    }
    let kept_links = links
        .iter()
        .filter_map(|&[a, b]| {
            let a = renumber.get(a as usize).copied().flatten()?;
            let b = renumber.get(b as usize).copied().flatten()?;
            Some([a, b])
        })
        .collect();
    let map = map
        .into_iter()
        .map(|d| d.and_then(|d| renumber.get(d as usize).copied().flatten()))
        .collect();
    Ok(Drawn {
        ids: kept_ids,
        links: kept_links,
        map,
    })
}

fn line_peers(line: &TraceLine) -> Vec<u32> {
    let mut out = Vec::with_capacity(3);
    match line {
        TraceLine::Start { peer, .. } | TraceLine::Answered { peer, .. } => out.push(*peer),
        TraceLine::Send { peer, to, .. } | TraceLine::HitRouted { peer, to, .. } => {
            out.push(*peer);
            out.extend(*to);
        }
        TraceLine::First { peer, from, .. }
        | TraceLine::Duplicate { peer, from, .. }
        | TraceLine::Reforward { peer, from, .. }
        | TraceLine::HitDelivered { peer, from, .. } => {
            out.push(*peer);
            out.extend(*from);
        }
        TraceLine::Drop { peer, from, to, .. } | TraceLine::HitDropped { peer, from, to, .. } => {
            out.push(*peer);
            out.extend(*from);
            out.extend(*to);
        }
        TraceLine::Record { .. } => {}
    }
    out
}

fn reason_name(reason: DropReason) -> String {
    match serde_json::to_value(reason) {
        Ok(Value::String(name)) => name,
        _ => format!("{reason:?}"),
    }
}

/// Milliseconds rounded to the microsecond, so the page never carries float noise.
fn ms(t: f64) -> Value {
    let us = (t * 1000.0).round();
    json!(us / 1000.0)
}

/// One trace line as the page takes it.
pub enum Encoded {
    /// A row (see the module docs).
    Row(Value),
    /// The record of query `q` (a trace's `record` line).
    Record(usize, Value),
}

/// Turns trace lines into the page's rows, numbering queries and servents in the order
/// they first show. `gnutella view` runs one over a whole trace; a live page's event
/// stream runs one per page, over the lines as they come, so its numbers are the ones
/// that page gives (`gnutellaView.addQuery`).
pub struct RowEncoder {
    /// Trace peer index → drawn index.
    map: Vec<Option<u32>>,
    query_index: HashMap<String, usize>,
    servent_index: HashMap<String, usize>,
    /// Query GUIDs by index, in order of first appearance.
    pub queries: Vec<String>,
    /// Servent GUIDs by index.
    pub servents: Vec<String>,
}

impl RowEncoder {
    /// An encoder drawing trace peer `i` as `map[i]` (`None`: not drawn).
    pub fn new(map: Vec<Option<u32>>) -> RowEncoder {
        RowEncoder {
            map,
            query_index: HashMap::new(),
            servent_index: HashMap::new(),
            queries: Vec::new(),
            servents: Vec::new(),
        }
    }

    fn query(&mut self, guid: &str) -> usize {
        match self.query_index.get(guid) {
            Some(&q) => q,
            None => {
                self.query_index
                    .insert(guid.to_string(), self.queries.len());
                self.queries.push(guid.to_string());
                self.queries.len() - 1
            }
        }
    }

    fn servent(&mut self, s: Option<&String>) -> i64 {
        match s {
            None => -1,
            Some(s) => match self.servent_index.get(s) {
                Some(&i) => i as i64,
                None => {
                    self.servent_index.insert(s.clone(), self.servents.len());
                    self.servents.push(s.clone());
                    (self.servents.len() - 1) as i64
                }
            },
        }
    }

    /// The row (or record) of one line.
    pub fn encode(&mut self, line: &TraceLine) -> Encoded {
        let q = self.query(line.query());
        let n8 = |v: Option<u8>| -> i64 { v.map_or(-1, i64::from) };
        let servent_of = match line {
            TraceLine::HitRouted { servent, .. } | TraceLine::HitDropped { servent, .. } => {
                servent.clone()
            }
            TraceLine::HitDelivered { servent, .. } => Some(servent.clone()),
            _ => None,
        };
        let s = self.servent(servent_of.as_ref());
        let map = &self.map;
        let p = |i: u32| -> i64 { map.get(i as usize).copied().flatten().map_or(-1, i64::from) };
        let po = |i: Option<u32>| -> i64 { i.map_or(-1, p) };
        let row = match line {
            TraceLine::Start {
                t,
                peer,
                words,
                ttl,
                strategy,
                ..
            } => json!([0, ms(*t), q, p(*peer), ttl, words, strategy]),
            TraceLine::Send {
                t,
                peer,
                to,
                hop,
                ttl,
                ..
            } => json!([1, ms(*t), q, p(*peer), po(*to), hop, ttl]),
            TraceLine::First {
                t,
                peer,
                from,
                hop,
                ttl,
                ..
            } => json!([2, ms(*t), q, p(*peer), po(*from), hop, n8(*ttl)]),
            TraceLine::Duplicate {
                t,
                peer,
                from,
                hop,
                ttl,
                ..
            } => json!([3, ms(*t), q, p(*peer), po(*from), n8(*hop), n8(*ttl)]),
            TraceLine::Reforward {
                t,
                peer,
                from,
                hop,
                ttl,
                ..
            } => json!([4, ms(*t), q, p(*peer), po(*from), n8(*hop), n8(*ttl)]),
            TraceLine::Drop {
                t,
                peer,
                reason,
                from,
                to,
                hop,
                ttl,
                ..
            } => json!([
                5,
                ms(*t),
                q,
                p(*peer),
                po(*from),
                n8(*hop),
                n8(*ttl),
                reason_name(*reason),
                po(*to)
            ]),
            TraceLine::Answered {
                t,
                peer,
                records,
                from_cache,
                ..
            } => json!([6, ms(*t), q, p(*peer), records, u8::from(*from_cache)]),
            TraceLine::HitRouted {
                t,
                peer,
                to,
                hop,
                ttl,
                servent: _,
                ..
            } => json!([7, ms(*t), q, p(*peer), po(*to), hop, ttl, s]),
            TraceLine::HitDropped {
                t,
                peer,
                reason,
                from,
                to,
                servent: _,
                ..
            } => json!([
                8,
                ms(*t),
                q,
                p(*peer),
                po(*from),
                reason_name(*reason),
                s,
                po(*to)
            ]),
            TraceLine::HitDelivered {
                t,
                peer,
                from,
                hops,
                records,
                servent: _,
                cached,
                ..
            } => json!([
                9,
                ms(*t),
                q,
                p(*peer),
                po(*from),
                hops,
                records,
                s,
                n8(*cached)
            ]),
            TraceLine::Record { record, .. } => {
                return Encoded::Record(
                    q,
                    json!({
                        "messages": record.messages,
                        "duplicates": record.duplicates,
                        "peers_reached": record.peers_reached,
                        "hits": record.hits,
                        "query": record.query,
                        "origin": record.origin,
                        "ttl": record.ttl,
                        "first_hit_ms": record.first_hit_ms,
                        "first_hit_hops": record.first_hit_hops,
                    }),
                );
            }
        };
        Encoded::Row(row)
    }
}

fn page_data(trace: &Trace, options: &ViewOptions) -> Result<Value, ViewError> {
    let drawn = drawn_overlay(trace, options)?;
    let positions = layout(drawn.ids.len(), &drawn.links, options.seed);
    let peers: Vec<Value> = drawn
        .ids
        .iter()
        .zip(&positions)
        .map(|(id, &(x, y))| json!([id, x, y]))
        .collect();
    let mut encoder = RowEncoder::new(drawn.map.clone());
    let mut records: HashMap<usize, Value> = HashMap::new();
    let mut rows: Vec<Value> = Vec::with_capacity(trace.lines.len());
    for line in &trace.lines {
        match encoder.encode(line) {
            Encoded::Row(row) => rows.push(row),
            Encoded::Record(q, record) => {
                records.insert(q, record);
            }
        }
    }
    let queries = encoder.queries;
    let servents = encoder.servents;
    if queries.is_empty() {
        return Err(ViewError::NoQuery);
    }
    let records: Vec<Value> = (0..queries.len())
        .map(|q| records.remove(&q).unwrap_or(Value::Null))
        .collect();
    let note = if drawn.ids.len() < trace.header.peers.len() && options.overlay.is_none() {
        format!(
            "{} of {} peers drawn: those the traced queries touched",
            drawn.ids.len(),
            trace.header.peers.len()
        )
    } else {
        String::new()
    };
    Ok(json!({
        "world": trace.header.world,
        "name": trace.header.name,
        "note": note,
        "peers": peers,
        "links": drawn.links,
        "queries": queries,
        "servents": servents,
        "records": records,
        "rows": rows,
    }))
}

/// The live page of a running network (`launch --ui`): the same page with no query yet,
/// `"live": true` (the script then polls `GET /peers`, listens to `GET /events` for rows,
/// and shows the search form and the kill and revive buttons), the overlay laid out from
/// `ids` and `links` (peer index = position in `ids`, as in the live trace's header).
pub fn render_live(
    title: &str,
    ids: &[String],
    links: &[[u32; 2]],
    seed: u64,
    note: &str,
) -> String {
    let positions = layout(ids.len(), links, seed);
    let peers: Vec<Value> = ids
        .iter()
        .zip(&positions)
        .map(|(id, &(x, y))| json!([id, x, y]))
        .collect();
    let data = json!({
        "world": "live",
        "live": true,
        "name": title,
        "note": note,
        "peers": peers,
        "links": links,
        "queries": [],
        "servents": [],
        "records": [],
        "rows": [],
    });
    let json = serde_json::to_string(&data)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    TEMPLATE
        .replace("/*{{STYLE}}*/", STYLE)
        .replace("/*{{SCRIPT}}*/", &SCRIPT.replace(LIVE_MARK, LIVE_SCRIPT))
        .replace("{{TITLE}}", &html_escape(title))
        .replacen("{{DATA}}", &json, 1)
}

/// The rows of a live page's event stream: each message holds the queries and servents
/// first named in it (the page appends them to its lists, so the numbers agree), the
/// rows, and the records (`[query, record]`) of lines that carry one.
pub struct LiveRows {
    rows: RowEncoder,
    queries_sent: usize,
    servents_sent: usize,
}

impl LiveRows {
    /// For a live trace of `peers` peers, drawn in the trace's order.
    pub fn new(peers: usize) -> LiveRows {
        LiveRows {
            rows: RowEncoder::new((0..peers as u32).map(Some).collect()),
            queries_sent: 0,
            servents_sent: 0,
        }
    }
}

impl crate::net::live_feed::FeedEncoder for LiveRows {
    fn encode(&mut self, lines: &[std::sync::Arc<TraceLine>]) -> Value {
        let mut rows = Vec::with_capacity(lines.len());
        let mut records = Vec::new();
        for line in lines {
            match self.rows.encode(line) {
                Encoded::Row(row) => rows.push(row),
                Encoded::Record(q, record) => records.push(json!([q, record])),
            }
        }
        let queries = &self.rows.queries[self.queries_sent..];
        let servents = &self.rows.servents[self.servents_sent..];
        let message = json!({
            "queries": queries,
            "servents": servents,
            "rows": rows,
            "records": records,
        });
        self.queries_sent = self.rows.queries.len();
        self.servents_sent = self.rows.servents.len();
        message
    }
}
