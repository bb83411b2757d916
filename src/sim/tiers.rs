//! The two-tier network in the simulator: which peers are ultrapeers and which leaves,
//! the routing each one runs, and the load each tier carries.
//!
//! Roles live where the live network keeps them, in each peer's routing configuration
//! (`role`, see `node::role`): a topology config's peers bring their own, and a generated
//! two-tier graph ([`crate::topology::Graph::ultrapeers`]) gives them to the peers here
//! ([`two_tier_routing`]) when the run's routing asks for roles at all (the `qrp` and `dq`
//! strategies; plain `flood` on the same graph stays the flat network on that graph).
//! The engine tells each node its neighbours' roles in `PeerInfo`, creates every node
//! at the start and lets the QRP tables travel as messages before the first search (see
//! `engine`'s "Two-tier runs").

use std::sync::Arc;

use crate::node::{RoleSetting, RoutingConfig, Strategy};

/// Which peers of a two-tier run are ultrapeers, and the load each one carried.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TierLoads {
    /// `ultrapeer[v]`: whether peer `v` is an ultrapeer (else a leaf).
    pub ultrapeer: Vec<bool>,
    /// Query and QueryHit descriptors delivered to each peer (the messages it handled).
    pub received: Vec<u64>,
}

/// Whether peers running `routing` take the roles a two-tier graph gives them: a
/// routing with a role (`qrp`) and dynamic querying (`dq`, which real servents run only
/// in a two-tier network).
pub fn wants_roles(routing: &RoutingConfig) -> bool {
    routing.role.is_some() || matches!(routing.strategy, Strategy::Dynamic { .. })
}

/// Every peer's routing in a two-tier graph: `shared` with the peer's role from
/// `ultrapeer` (two configurations in all, shared between the peers of a tier).
pub fn two_tier_routing(shared: &RoutingConfig, ultrapeer: &[bool]) -> Vec<Arc<RoutingConfig>> {
    let with = |role: RoleSetting| {
        Arc::new(RoutingConfig {
            role: Some(role),
            ..shared.clone()
        })
    };
    let (up, leaf) = (with(RoleSetting::Ultrapeer), with(RoleSetting::Leaf));
    ultrapeer
        .iter()
        .map(|&u| Arc::clone(if u { &up } else { &leaf }))
        .collect()
}
