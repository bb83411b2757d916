//! Topologies: the config files users launch, in-memory graphs, generators, loaders
//! and statistics.
//!
//! A leaf data layer: the live network (`net`), the simulator (`sim`), experiments and
//! the CLI all read networks from here, so a topology means the same thing everywhere.

pub mod config;
pub mod generate;
pub mod graph;
pub mod synthetic;

pub use config::{
    ConfigError, Defaults, FileSpec, LinkConfig, PeerConfig, QuerySpec, ShareConfig,
    TopologyConfig, Workload,
};
pub use generate::{GenError, GenSpec};
pub use graph::{AddressError, ConfigOptions, Graph};
