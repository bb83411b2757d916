//! What a simulation is given: link behaviour, churn, the nodes' configuration, the files
//! each peer shares and the searches to run.

use std::collections::BTreeMap;

use crate::node::{CacheConfig, CacheMode, Strategy, Time};
use crate::protocol::Sha1;

use super::churn::Churn;
use super::latency::Latency;

/// Everything about a run except the graph, the files and the queries.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub latency: Latency,
    /// Probability that a message put on a link is lost.
    pub loss: f64,
    /// Time a peer takes to handle a message before its forwards leave, in microseconds.
    pub processing_us: u64,
    /// Peers leaving and rejoining; `None` keeps everyone online.
    pub churn: Option<Churn>,
    /// How long after the last query starts the run goes on collecting hits, in
    /// microseconds of virtual time.
    pub settle_us: u64,
    /// The routing settings every node gets.
    pub node: NodeSettings,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency: Latency::default(),
            loss: 0.0,
            processing_us: 0,
            churn: None,
            settle_us: 60_000_000,
            node: NodeSettings::default(),
        }
    }
}

/// The part of each node's configuration a simulation chooses (addresses and servent
/// GUIDs are assigned per peer by the simulator).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSettings {
    pub max_ttl: u8,
    pub strategy: Strategy,
    pub cache: CacheConfig,
    /// Duplicate-table and reverse-route capacities per node. A flood leaves one entry at
    /// every peer it touches, so with a million peers these must stay small; they only
    /// need to cover the searches in flight at the same time (see `seen_max_age_secs`).
    pub seen_capacity: usize,
    pub seen_max_age_secs: u64,
    pub route_capacity: usize,
    pub route_max_age_secs: u64,
    pub max_results: usize,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            max_ttl: 7,
            strategy: Strategy::Flood,
            cache: CacheConfig {
                capacity: 64,
                max_age_secs: 300,
                mode: CacheMode::Off,
            },
            seen_capacity: 32,
            seen_max_age_secs: 600,
            route_capacity: 32,
            route_max_age_secs: 600,
            max_results: 50,
        }
    }
}

/// One file a simulated peer shares. Only names and URNs matter to routing, so no bytes
/// exist anywhere.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SimFile {
    pub name: String,
    pub size: u64,
    pub sha1: Sha1,
}

impl SimFile {
    /// A file whose URN is derived from its name, for workloads without real content.
    pub fn named(name: impl Into<String>, size: u64) -> SimFile {
        let name = name.into();
        let sha1 = Sha1::of_bytes(name.as_bytes());
        SimFile { name, size, sha1 }
    }
}

/// Which peers share which files (peers not named share nothing).
pub type Placement = BTreeMap<u32, Vec<SimFile>>;

/// One search to run: when, from which peer, for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedQuery {
    pub at: Time,
    pub origin: u32,
    pub words: String,
    pub sha1: Option<Sha1>,
    pub ttl: u8,
}
