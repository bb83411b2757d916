//! Topologies: the config files users launch, in-memory graphs, generators, loaders
//! and statistics.
//!
//! A leaf data layer: the live network (`net`), the simulator (`sim`), experiments, the
//! exporters and the CLI all read networks from here, so a topology means the same thing
//! everywhere, down to each link's latency and loss ([`LinkModel`]).
//! It reuses the node layer's `RoutingConfig` so a config's routing settings have one
//! definition, and [`Scenario`] is the one way any driver turns a config into peers.

pub mod config;
pub mod generate;
pub mod graph;
pub mod graph_export;
pub mod link_model;
pub mod load;
pub mod scenario;
pub mod stats;
pub mod synthetic;

pub use config::{
    BootstrapHost, ConfigError, Defaults, FileSpec, LinkConfig, OverlayBlock, PeerConfig,
    QuerySpec, ShareConfig, TopologyConfig, Workload,
};
pub use generate::{GenError, GenSpec};
pub use graph::{AddressError, ConfigOptions, Graph};
pub use link_model::{LatencySpec, LinkModel, LinkParams, DEFAULT_LATENCY_MS};
pub use load::{load, LoadError, Topology};
pub use scenario::{synthetic_placement, PeerSetup, Placement, PlannedQuery, Scenario, SimFile};
pub use stats::{Stats, StatsOptions, StatsProgress};
pub use synthetic::{sha1_of, SyntheticReader};
