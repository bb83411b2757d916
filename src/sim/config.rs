//! What a simulation is given: link behaviour, churn, the overlay's degree policy and the
//! nodes' routing configuration (the files each peer shares and the searches to run are
//! the scenario's types).

use std::net::SocketAddrV4;

use crate::node::{OverlayConfig, RoutingConfig};
pub use crate::topology::scenario::{Placement, PlannedQuery, SimFile};

use super::churn::Churn;
use super::latency::Latency;
use super::removal::Removal;

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
    /// Peers removed for good at one point of virtual time; `None` removes nobody.
    pub removal: Option<Removal>,
    /// How long after the last query starts the run goes on collecting hits, in
    /// microseconds of virtual time.
    pub settle_us: u64,
    /// The routing settings of every node (unless the simulation is given per-peer
    /// settings, see [`crate::sim::Simulation::set_peers`]).
    pub routing: RoutingConfig,
    /// The degree policy of every node. Static (the default): the graph's links and no
    /// others, as they always were. Dynamic: the graph's links are a start; every node
    /// keeps a host cache and dials from it to stay within `min_degree..=max_degree`
    /// (see [`crate::sim::engine`] for how dials are carried out).
    pub overlay: OverlayConfig,
    /// Hosts every node of a dynamic overlay knows from the start, besides its graph
    /// neighbours (a config's `overlay.bootstrap`; peers are named by
    /// [`crate::sim::peer_addr`]). Ignored in a static overlay.
    pub bootstrap: Vec<SocketAddrV4>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            latency: Latency::default(),
            loss: 0.0,
            processing_us: 0,
            churn: None,
            removal: None,
            settle_us: 60_000_000,
            routing: RoutingConfig::default(),
            overlay: OverlayConfig::default(),
            bootstrap: Vec::new(),
        }
    }
}
