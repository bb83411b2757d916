//! The discrete-event driver: many nodes over virtual links, deterministic from a seed.
//!
//! [`Simulation`] runs the real routing [`Node`](crate::node) of every peer of a graph over
//! virtual links with a latency model, optional loss and churn, and folds the nodes' events
//! into the same per-query records the live network writes.

pub mod churn;
pub mod config;
pub mod dynamic;
pub mod engine;
pub mod latency;
pub mod links;
pub mod memory;
pub mod node_table;
pub mod packed;
pub mod parallel;
pub mod peer_column;
pub mod queue;
pub mod removal;
pub mod tiers;

pub use churn::Churn;
pub use config::{Placement, PlannedQuery, SimConfig, SimFile};
pub use dynamic::DynamicLinks;
pub use engine::{
    peer_addr, peer_of_addr, SecondRow, SimProgress, SimReport, SimStats, Simulation,
};
pub use latency::Latency;
pub use links::Links;
pub use removal::{overlay_shape, shape_of, OverlayShape, Removal, RemovalKind};
pub use tiers::{two_tier_routing, wants_roles, TierLoads};
