//! The lines a sharded launch's parent and its children exchange over the children's
//! stdin and stdout, as two typed enums with `Display`/`FromStr`: one line per message,
//! and a line that does not parse is an error naming the line, never a guess.
//!
//! ```text
//! child:  BOUND <config index> <addr> ... READY
//! parent: ADDRS <addr of peer 0> <addr of peer 1> ...
//! child:  UP                      (every link of its peers established) | FAIL <why>
//! parent: SEARCH <index> <ttl> <words>   child: GUID <hex>
//! parent: STATUS                         child: STATUS <last frame, µs since the shared epoch>
//! parent: TABLES                         child: TABLES <peers still owing a QRP table>
//! parent: REPORT                         child: REPORT {"records": [...], "totals": {...}}
//! parent: STOP                           child: STOPPED, then exits
//! ```
//!
//! The control API (`launch --control`) reaches the child that holds a peer with:
//!
//! ```text
//! parent: PEERS                          child: PEERS [{"id", "address", "up", ...}, ...]
//! parent: KILL <index> | REVIVE <index>  child: DONE | FAIL <why>
//! parent: RECORD <guid hex>              child: RECORDS [record, ...]   (its part of that query)
//! parent: SNAPSHOT                       child: SNAPSHOT {like REPORT; the child runs on}
//! ```

use std::fmt;
use std::net::SocketAddrV4;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::control::PeerStatus;
use super::network::NetTotals;
use crate::node::record::QueryRecord;
use crate::node::Time;
use crate::protocol::Guid;
use crate::trace::TraceLine;

/// What went wrong between the parent and a child.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("cannot start a child process: {0}")]
    Spawn(std::io::Error),
    #[error("child {shard}: {what}")]
    Child { shard: usize, what: String },
    #[error("the overlay was not up after {0:.1} s")]
    OverlayTimeout(f64),
    /// Children ended before handing over their counts. The launch still finished with
    /// the others and wrote its report (`network.lost_shards` names the lost ones); the
    /// command line exits with status 3 for this.
    #[error(
        "{lost} of {shards} shards lost ({first}); the results cover only the surviving shards"
    )]
    Lost {
        lost: usize,
        shards: usize,
        /// The first loss, in words.
        first: String,
    },
}

/// What a child reports at the end: its peers' records (those of queries it only
/// relayed too, for the parent's merge) and its totals.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChildReport {
    pub records: Vec<QueryRecord>,
    pub totals: NetTotals,
    pub rss_peak_bytes: Option<u64>,
}

/// A line from the parent to a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToChild {
    /// Every peer's listening address, by config index.
    Addrs(Vec<SocketAddrV4>),
    /// Start a search from config peer `peer`.
    Search {
        peer: usize,
        ttl: u8,
        words: String,
    },
    /// When did a frame last arrive anywhere in the child?
    Status,
    /// How many of the child's peers still owe a neighbour a QRP table?
    Tables,
    Report,
    Stop,
    /// Every peer of the child, as the control API shows them.
    Peers,
    /// Stop config peer `index`.
    Kill(usize),
    /// Start stopped config peer `index` again.
    Revive(usize),
    /// The child's records of one query.
    Record(Guid),
    /// Records and totals so far, without ending anything (unlike `Report`, which is the
    /// child's last word).
    Snapshot,
    /// Trace the floods of the child's peers from now on (`None`: every query; the parent
    /// keeps those its filter admits), sending each step as a `TRACE` line.
    Trace(Option<Guid>),
}

/// A line from a child to the parent.
#[derive(Clone, Debug)]
pub enum ToParent {
    /// Config peer `peer` listens on `addr`.
    Bound {
        peer: usize,
        addr: SocketAddrV4,
    },
    /// Every peer is bound.
    Ready,
    /// Every link of the child's peers is up.
    Up,
    /// A command failed (the reason is one line).
    Fail(String),
    /// The GUID of the search just started.
    Guid(Guid),
    /// Driver time of the last frame received anywhere in the child.
    Status(Time),
    /// How many of the child's peers still owe a neighbour a QRP table.
    Tables(usize),
    Report(Box<ChildReport>),
    Stopped,
    Peers(Vec<PeerStatus>),
    /// A `KILL` or `REVIVE` was carried out.
    Done,
    Records(Vec<QueryRecord>),
    Snapshot(Box<ChildReport>),
    /// One step of a traced flood at one of the child's peers (said unasked, between
    /// answers, once `TRACE` was asked).
    Trace(Box<TraceLine>),
}

/// A line that is not a message of the shard protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a shard protocol line: {0:?}")]
pub struct BadLine(pub String);

/// Text on one line: a line break would split the message in two.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

impl fmt::Display for ToChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToChild::Addrs(addrs) => {
                f.write_str("ADDRS")?;
                for addr in addrs {
                    write!(f, " {addr}")?;
                }
                Ok(())
            }
            ToChild::Search { peer, ttl, words } => {
                write!(f, "SEARCH {peer} {ttl} {}", one_line(words))
            }
            ToChild::Status => f.write_str("STATUS"),
            ToChild::Tables => f.write_str("TABLES"),
            ToChild::Report => f.write_str("REPORT"),
            ToChild::Stop => f.write_str("STOP"),
            ToChild::Peers => f.write_str("PEERS"),
            ToChild::Kill(peer) => write!(f, "KILL {peer}"),
            ToChild::Revive(peer) => write!(f, "REVIVE {peer}"),
            ToChild::Record(guid) => write!(f, "RECORD {}", guid.to_hex()),
            ToChild::Snapshot => f.write_str("SNAPSHOT"),
            ToChild::Trace(None) => f.write_str("TRACE ALL"),
            ToChild::Trace(Some(guid)) => write!(f, "TRACE {}", guid.to_hex()),
        }
    }
}

impl FromStr for ToChild {
    type Err = BadLine;

    fn from_str(line: &str) -> Result<ToChild, BadLine> {
        let bad = || BadLine(line.to_string());
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        Ok(match word {
            "ADDRS" => ToChild::Addrs(
                rest.split(' ')
                    .filter(|a| !a.is_empty())
                    .map(|a| a.parse().map_err(|_| bad()))
                    .collect::<Result<_, _>>()?,
            ),
            "SEARCH" => {
                let mut parts = rest.splitn(3, ' ');
                let peer = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
                let ttl = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
                let words = parts.next().unwrap_or("").to_string();
                ToChild::Search { peer, ttl, words }
            }
            "STATUS" if rest.is_empty() => ToChild::Status,
            "TABLES" if rest.is_empty() => ToChild::Tables,
            "REPORT" if rest.is_empty() => ToChild::Report,
            "STOP" if rest.is_empty() => ToChild::Stop,
            "PEERS" if rest.is_empty() => ToChild::Peers,
            "KILL" => ToChild::Kill(rest.parse().map_err(|_| bad())?),
            "REVIVE" => ToChild::Revive(rest.parse().map_err(|_| bad())?),
            "RECORD" => ToChild::Record(Guid::from_hex(rest).ok_or_else(bad)?),
            "SNAPSHOT" if rest.is_empty() => ToChild::Snapshot,
            "TRACE" if rest == "ALL" => ToChild::Trace(None),
            "TRACE" => ToChild::Trace(Some(Guid::from_hex(rest).ok_or_else(bad)?)),
            _ => return Err(bad()),
        })
    }
}

impl fmt::Display for ToParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToParent::Bound { peer, addr } => write!(f, "BOUND {peer} {addr}"),
            ToParent::Ready => f.write_str("READY"),
            ToParent::Up => f.write_str("UP"),
            ToParent::Fail(why) => write!(f, "FAIL {}", one_line(why)),
            ToParent::Guid(guid) => write!(f, "GUID {}", guid.to_hex()),
            ToParent::Status(at) => write!(f, "STATUS {}", at.0),
            ToParent::Tables(due) => write!(f, "TABLES {due}"),
            ToParent::Report(report) => {
                // Serialising plain structs with string keys cannot fail.
                let json = serde_json::to_string(report).unwrap_or_default();
                write!(f, "REPORT {json}")
            }
            ToParent::Stopped => f.write_str("STOPPED"),
            // Serialising plain structs with string keys cannot fail.
            ToParent::Peers(peers) => {
                write!(
                    f,
                    "PEERS {}",
                    serde_json::to_string(peers).unwrap_or_default()
                )
            }
            ToParent::Done => f.write_str("DONE"),
            ToParent::Records(records) => write!(
                f,
                "RECORDS {}",
                serde_json::to_string(records).unwrap_or_default()
            ),
            ToParent::Snapshot(report) => write!(
                f,
                "SNAPSHOT {}",
                serde_json::to_string(report).unwrap_or_default()
            ),
            ToParent::Trace(line) => write!(
                f,
                "TRACE {}",
                serde_json::to_string(line).unwrap_or_default()
            ),
        }
    }
}

impl FromStr for ToParent {
    type Err = BadLine;

    fn from_str(line: &str) -> Result<ToParent, BadLine> {
        let bad = || BadLine(line.to_string());
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        Ok(match word {
            "BOUND" => {
                let (peer, addr) = rest.split_once(' ').ok_or_else(bad)?;
                ToParent::Bound {
                    peer: peer.parse().map_err(|_| bad())?,
                    addr: addr.parse().map_err(|_| bad())?,
                }
            }
            "READY" if rest.is_empty() => ToParent::Ready,
            "UP" if rest.is_empty() => ToParent::Up,
            "FAIL" => ToParent::Fail(rest.to_string()),
            "GUID" => ToParent::Guid(Guid::from_hex(rest).ok_or_else(bad)?),
            "STATUS" => ToParent::Status(Time(rest.parse().map_err(|_| bad())?)),
            "TABLES" => ToParent::Tables(rest.parse().map_err(|_| bad())?),
            "REPORT" => ToParent::Report(Box::new(
                serde_json::from_str(rest).map_err(|e| BadLine(format!("{line}: {e}")))?,
            )),
            "STOPPED" if rest.is_empty() => ToParent::Stopped,
            "PEERS" => ToParent::Peers(json(line, rest)?),
            "DONE" if rest.is_empty() => ToParent::Done,
            "RECORDS" => ToParent::Records(json(line, rest)?),
            "SNAPSHOT" => ToParent::Snapshot(Box::new(json(line, rest)?)),
            "TRACE" => ToParent::Trace(Box::new(json(line, rest)?)),
            _ => return Err(bad()),
        })
    }
}

/// The JSON part of a line, or an error naming the line.
fn json<T: serde::de::DeserializeOwned>(line: &str, rest: &str) -> Result<T, BadLine> {
    serde_json::from_str(rest).map_err(|e| BadLine(format!("{line}: {e}")))
}

impl ToChild {
    /// The message's first word, to name it in errors.
    pub fn word(&self) -> &'static str {
        match self {
            ToChild::Addrs(_) => "ADDRS",
            ToChild::Search { .. } => "SEARCH",
            ToChild::Status => "STATUS",
            ToChild::Tables => "TABLES",
            ToChild::Report => "REPORT",
            ToChild::Stop => "STOP",
            ToChild::Peers => "PEERS",
            ToChild::Kill(_) => "KILL",
            ToChild::Revive(_) => "REVIVE",
            ToChild::Record(_) => "RECORD",
            ToChild::Snapshot => "SNAPSHOT",
            ToChild::Trace(_) => "TRACE",
        }
    }
}

impl ToParent {
    /// The message's first word, to name what was expected in errors.
    pub fn word(&self) -> &'static str {
        match self {
            ToParent::Bound { .. } => "BOUND",
            ToParent::Ready => "READY",
            ToParent::Up => "UP",
            ToParent::Fail(_) => "FAIL",
            ToParent::Guid(_) => "GUID",
            ToParent::Status(_) => "STATUS",
            ToParent::Tables(_) => "TABLES",
            ToParent::Report(_) => "REPORT",
            ToParent::Stopped => "STOPPED",
            ToParent::Peers(_) => "PEERS",
            ToParent::Done => "DONE",
            ToParent::Records(_) => "RECORDS",
            ToParent::Snapshot(_) => "SNAPSHOT",
            ToParent::Trace(_) => "TRACE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::record::Scope;
    use std::collections::BTreeMap;

    #[test]
    fn parent_lines_round_trip() {
        let lines = [
            ToChild::Addrs(vec![
                "127.0.0.1:6346".parse().unwrap(),
                "127.0.0.2:1".parse().unwrap(),
            ]),
            ToChild::Search {
                peer: 12,
                ttl: 7,
                words: "debian netinst iso".into(),
            },
            ToChild::Status,
            ToChild::Tables,
            ToChild::Report,
            ToChild::Stop,
            ToChild::Peers,
            ToChild::Kill(3),
            ToChild::Revive(40_000),
            ToChild::Record(Guid([0xAB; 16])),
            ToChild::Snapshot,
            ToChild::Trace(None),
            ToChild::Trace(Some(Guid([0xCD; 16]))),
        ];
        for msg in lines {
            let text = msg.to_string();
            assert!(!text.contains('\n'));
            assert_eq!(text.parse::<ToChild>(), Ok(msg), "{text}");
        }
    }

    #[test]
    fn words_with_line_breaks_stay_on_one_line() {
        let msg = ToChild::Search {
            peer: 1,
            ttl: 3,
            words: "a\nSTOP\r\nb".into(),
        };
        let text = msg.to_string();
        assert_eq!(text, "SEARCH 1 3 a STOP  b");
        assert!(matches!(text.parse(), Ok(ToChild::Search { .. })));
    }

    #[test]
    fn child_lines_round_trip() {
        let record = QueryRecord {
            guid: Guid([7; 16]).to_hex(),
            query: "x".into(),
            origin: Some("p1".into()),
            strategy: "flood+cache".into(),
            ttl: 4,
            start_ms: 1.5,
            messages: 10,
            duplicates: 2,
            reforwards: 1,
            refused: 0,
            lost: 0,
            peers_reached: 7,
            hits: 1,
            records: 1,
            responders: 1,
            first_hit_hops: Some(2),
            first_hit_ms: Some(3.0),
            hit_messages: 2,
            answered: 1,
            answered_from_cache: 0,
            query_drops: BTreeMap::from([("duplicate".to_string(), 2)]),
            hit_drops: BTreeMap::new(),
            success: true,
            scope: Scope::Network,
        };
        let status = PeerStatus {
            id: "p 3\nSTOP".into(),
            address: "127.0.0.1:40001".parse().unwrap(),
            up: true,
            degree: 2,
            neighbours: vec!["p1".into(), "127.0.0.1:9".into()],
            stats: Some(crate::node::PeerStats {
                peer: "p 3\nSTOP".into(),
                bytes_served: Some(7),
                ..Default::default()
            }),
        };
        let lines = [
            ToParent::Bound {
                peer: 3,
                addr: "127.0.0.1:40000".parse().unwrap(),
            },
            ToParent::Ready,
            ToParent::Up,
            ToParent::Fail("the overlay was not up\nafter 3 s".into()),
            ToParent::Guid(Guid([9; 16])),
            ToParent::Status(Time(123_456)),
            ToParent::Tables(3),
            ToParent::Report(Box::new(ChildReport {
                records: vec![record.clone()],
                totals: NetTotals::default(),
                rss_peak_bytes: Some(4096),
            })),
            ToParent::Stopped,
            ToParent::Peers(vec![status.clone()]),
            ToParent::Done,
            ToParent::Records(vec![record.clone()]),
            ToParent::Snapshot(Box::new(ChildReport {
                records: vec![record.clone()],
                totals: NetTotals::default(),
                rss_peak_bytes: None,
            })),
            ToParent::Trace(Box::new(TraceLine::First {
                t: 1.25,
                q: Guid([7; 16]).to_hex(),
                peer: 3,
                from: Some(1),
                hop: 2,
                ttl: Some(5),
            })),
        ];
        for msg in lines {
            let text = msg.to_string();
            assert!(!text.contains('\n'), "{text}");
            let back: ToParent = text.parse().expect(&text);
            assert_eq!(back.to_string(), text);
            assert_eq!(back.word(), msg.word());
            match back {
                ToParent::Report(report) | ToParent::Snapshot(report) => {
                    assert_eq!(report.records, vec![record.clone()])
                }
                ToParent::Records(records) => assert_eq!(records, vec![record.clone()]),
                ToParent::Peers(peers) => assert_eq!(peers, vec![status.clone()]),
                _ => {}
            }
        }
    }

    #[test]
    fn garbage_is_refused_with_the_line() {
        for line in [
            "",
            "HELLO",
            "BOUND x 1.2.3.4:5",
            "GUID zz",
            "STATUS soon",
            "STOP now",
            "REPORT {",
            "PEERS {}",
            "DONE now",
            "RECORDS [1]",
            "SNAPSHOT",
        ] {
            assert!(line.parse::<ToParent>().is_err(), "{line:?}");
        }
        for line in [
            "",
            "SEARCH x 7 a",
            "ADDRS nowhere",
            "STOP now",
            "KILL",
            "KILL p3",
            "REVIVE -1",
            "RECORD zz",
            "PEERS now",
        ] {
            assert!(line.parse::<ToChild>().is_err(), "{line:?}");
        }
    }
}
