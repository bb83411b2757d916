//! `gnutella report shadow`: what a Shadow run of our peers wrote, as our report.
//!
//! Shadow keeps each process's output in `DATA/hosts/<host>/<program>.<pid>.stdout` (and
//! `.stderr`) and its expanded configuration in `DATA/processed-config.yaml`. Two kinds of
//! output become records:
//!
//! - a peer's `counters` line (`gnutella peer --json-counters`, as `export shadow` runs
//!   them): its share of every query. The shares of all peers are summed per query
//!   ([`merge_records`]) into the network's record, exactly as a sharded `launch` merges
//!   its processes' shares; a search a peer started itself (`--search-at`) names that
//!   peer (its host) as the origin.
//! - the JSON of `gnutella search --json` run on a host of its own (as in the recorded
//!   sample): the searcher's view, with the network-wide counters `null`. Such a searcher
//!   is a leaf of the peer it joins through (`via`): its hops and milliseconds count that
//!   extra link.
//!
//! Times: a record's `start_ms` is in Shadow's clock (ms since the simulation started);
//! first-hit times are from the search's start, as everywhere.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::counters::{PeerCounters, PREFIX};
use super::shadow_hosts::{read_hosts, Host};
use crate::node::record::{merge_records, QueryRecord};

/// Why a data directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: not a Shadow data directory (it has no hosts/ folder of per-host outputs)", .0.display())]
    NoHosts(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Bad { path: PathBuf, message: String },
}

/// A Shadow run of our peers, read back.
#[derive(Clone, Debug, Default)]
pub struct ShadowRun {
    /// Hosts that ran `gnutella peer`, by name.
    pub peers: Vec<String>,
    /// Of those, how many printed a `counters` line.
    pub peers_with_counters: usize,
    /// Links between peers their `--connect` flags asked for.
    pub links: usize,
    /// Processes whose output was read.
    pub processes: usize,
    /// The peers' totals, summed (`frames_in`, `queue_drops`, ...).
    pub totals: BTreeMap<String, u64>,
    /// Every query record, network view (from counters) and searcher view (from
    /// `search --json`), ordered by start then GUID, as report JSON.
    pub queries: Vec<Value>,
    /// What the report could not know, and why.
    pub notes: Vec<String>,
}

/// Reads the outputs under `dir` (Shadow's data directory).
pub fn read(dir: &Path) -> Result<ShadowRun, ReportError> {
    let hosts_dir = dir.join("hosts");
    if !hosts_dir.is_dir() {
        return Err(ReportError::NoHosts(dir.to_path_buf()));
    }
    let mut run = ShadowRun::default();
    let config_path = dir.join("processed-config.yaml");
    let hosts: Vec<Host> = match std::fs::read_to_string(&config_path) {
        Ok(text) => read_hosts(&text).map_err(|message| ReportError::Bad {
            path: config_path.clone(),
            message,
        })?,
        Err(_) => {
            run.notes.push(format!(
                "{} is missing: hosts are named by their folders, and start times, \
                 addresses and links are unknown",
                config_path.display()
            ));
            Vec::new()
        }
    };
    let by_ip: HashMap<Ipv4Addr, &Host> = hosts.iter().filter_map(|h| Some((h.ip?, h))).collect();
    let start_of = |name: &str| -> u64 {
        hosts
            .iter()
            .find(|h| h.name == name)
            .and_then(|h| h.processes.first())
            .map_or(0, |p| p.start_ms)
    };
    run.links = configured_links(&hosts, &by_ip);

    let mut shares: Vec<QueryRecord> = Vec::new();
    let mut searches: Vec<Value> = Vec::new();
    for (host, outputs) in host_outputs(&hosts_dir)? {
        let start_ms = start_of(&host) as f64;
        let mut peer = false;
        for path in outputs {
            run.processes += 1;
            let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
                path: path.clone(),
                source,
            })?;
            match kind_of(&text) {
                Output::Peer => {
                    peer = true;
                    let mut counted = false;
                    for (n, line) in text.lines().enumerate() {
                        if !line.starts_with(PREFIX) {
                            continue;
                        }
                        let counters: PeerCounters =
                            line.parse().map_err(|e| ReportError::Bad {
                                path: path.clone(),
                                message: format!("line {}: {e}", n + 1),
                            })?;
                        counted = true;
                        for (k, v) in &counters.totals {
                            *run.totals.entry(k.clone()).or_default() += v;
                        }
                        for mut record in counters.queries {
                            if record.origin.is_some() {
                                record.origin = Some(host.clone());
                                record.start_ms += start_ms;
                            }
                            shares.push(record);
                        }
                    }
                    run.peers_with_counters += usize::from(counted);
                }
                Output::Search(mut report) => {
                    let via = report["network"]["name"]
                        .as_str()
                        .and_then(|n| n.strip_prefix("search via "))
                        .and_then(|a| a.parse::<SocketAddrV4>().ok())
                        .map(|a| {
                            by_ip
                                .get(a.ip())
                                .map_or_else(|| a.to_string(), |h| h.name.clone())
                        });
                    let Some(queries) = report.get_mut("queries").and_then(Value::as_array_mut)
                    else {
                        return Err(ReportError::Bad {
                            path,
                            message: "the JSON of `gnutella search --json` has no queries".into(),
                        });
                    };
                    for q in queries.drain(..) {
                        searches.push(searcher_record(q, &host, via.as_deref(), start_ms));
                    }
                }
                Output::Empty => {
                    let stderr = path.with_extension("stderr");
                    let last = std::fs::read_to_string(&stderr)
                        .ok()
                        .and_then(|t| t.lines().last().map(str::to_string))
                        .unwrap_or_default();
                    run.notes.push(format!(
                        "{} is empty{}",
                        path.display(),
                        if last.is_empty() {
                            String::new()
                        } else {
                            format!("; its stderr ends: {last}")
                        }
                    ));
                }
                Output::Other(first) => {
                    return Err(ReportError::Bad {
                        path,
                        message: format!(
                            "neither a `gnutella peer` output nor `gnutella search --json`'s; \
                             it starts: {first:?}"
                        ),
                    });
                }
            }
        }
        if peer {
            run.peers.push(host);
        }
    }
    if run.peers_with_counters < run.peers.len() {
        run.notes.push(format!(
            "{} of {} peers printed no counters line (run them with --json-counters and stop \
             them with SIGTERM, as `export shadow` does): messages, duplicates and peers \
             reached are missing from the records",
            run.peers.len() - run.peers_with_counters,
            run.peers.len()
        ));
    }
    if !searches.is_empty() {
        run.notes.push(
            "searcher hosts (`gnutella search --json`) are leaves of their `via` peer: their \
             hops and times include that link, and their network-wide counters are null"
                .to_string(),
        );
    }
    let mut queries: Vec<(f64, String, Value)> = merge_records(shares)
        .into_iter()
        .map(|r| (r.start_ms, r.guid.clone(), r.to_json()))
        .collect();
    for s in searches {
        let start = s["start_ms"].as_f64().unwrap_or(0.0);
        let guid = s["guid"].as_str().unwrap_or_default().to_string();
        queries.push((start, guid, s));
    }
    queries.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    run.queries = queries.into_iter().map(|q| q.2).collect();
    Ok(run)
}

/// What a process's stdout is.
enum Output {
    Peer,
    Search(Value),
    Empty,
    /// Its first line.
    Other(String),
}

fn kind_of(text: &str) -> Output {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Output::Empty;
    }
    if trimmed.starts_with('{') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(v) if v.get("queries").is_some() => Output::Search(v),
            _ => Output::Other(first_line(trimmed)),
        };
    }
    if trimmed.starts_with("listening on ") {
        return Output::Peer;
    }
    Output::Other(first_line(trimmed))
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(80)
        .collect()
}

/// A searcher's record, named by its host, with its start in Shadow's clock.
fn searcher_record(mut q: Value, host: &str, via: Option<&str>, start_ms: f64) -> Value {
    if let Some(map) = q.as_object_mut() {
        map.insert("origin".into(), Value::from(host));
        map.insert("via".into(), via.map_or(Value::Null, Value::from));
        let start = map.get("start_ms").and_then(Value::as_f64).unwrap_or(0.0);
        map.insert("start_ms".into(), Value::from(start + start_ms));
    }
    q
}

/// Every host folder (sorted by name) with its `*.stdout` files (sorted).
fn host_outputs(hosts_dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, ReportError> {
    let read = |path: &Path| {
        std::fs::read_dir(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut out = Vec::new();
    for entry in read(hosts_dir)? {
        let entry = entry.map_err(|source| ReportError::Read {
            path: hosts_dir.to_path_buf(),
            source,
        })?;
        if !entry.path().is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = read(&entry.path())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "stdout"))
            .collect();
        files.sort();
        out.push((entry.file_name().to_string_lossy().into_owned(), files));
    }
    out.sort();
    Ok(out)
}

/// Links the peers asked for with `--connect` (each pair once).
fn configured_links(hosts: &[Host], by_ip: &HashMap<Ipv4Addr, &Host>) -> usize {
    let mut pairs = std::collections::BTreeSet::new();
    for host in hosts {
        for process in host
            .processes
            .iter()
            .filter(|p| p.subcommand() == Some("peer"))
        {
            for target in process.flag_values("--connect") {
                let other = target
                    .parse::<SocketAddrV4>()
                    .ok()
                    .and_then(|a| by_ip.get(a.ip()))
                    .map_or(target.to_string(), |h| h.name.clone());
                if other != host.name {
                    let (a, b) = (host.name.clone(), other);
                    pairs.insert(if a < b { (a, b) } else { (b, a) });
                }
            }
        }
    }
    pairs.len()
}
