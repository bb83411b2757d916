//! Roles of the two-tier network (PROTOCOL.md §3.2, §4.4): what a peer is, and what it
//! is told its neighbours are.
//!
//! Today's Gnutella is two-tier. **Leaves** hold a few links to **ultrapeers**, send them
//! a QRP table of their shared keywords, and never relay a query. **Ultrapeers** flood
//! queries among themselves and hand one to a leaf only when the leaf's table matches.
//! A peer's own role comes from its routing configuration (`"role"` in a topology
//! config's `defaults` or per peer, `--role` on `gnutella peer`); a link's role from the
//! handshake (`X-Ultrapeer`) in the live network, or from the simulator's placement, as
//! [`super::PeerInfo::role`].
//!
//! A configuration without `"role"` runs the **flat** network this project started with:
//! every peer an equal relay (it says `X-Ultrapeer: True`, as gtk-gnutella expects of a
//! relay), no QRP table sent. Such a peer still treats a neighbour that calls itself a
//! leaf as an ultrapeer would (only matching queries, by its table).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a peer is in a two-tier network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Relays queries to other ultrapeers and, by their QRP tables, to its leaves. Also
    /// what a neighbour is taken for when its handshake says nothing (a relay).
    #[default]
    Ultrapeer,
    /// Links only to ultrapeers, publishes its QRP table to them, never relays a query.
    Leaf,
}

impl Role {
    /// The `X-Ultrapeer` value a peer of this role sends (`True` / `False`).
    pub fn is_ultrapeer(self) -> bool {
        self == Role::Ultrapeer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Ultrapeer => "ultrapeer",
            Role::Leaf => "leaf",
        })
    }
}

/// The `"role"` a configuration asks for: a role, or `auto`.
///
/// `auto` is an ultrapeer that offers itself as one (`X-Ultrapeer: True`), as an
/// ultrapeer-capable gtk-gnutella or LimeWire does, and that becomes the leaf of an
/// ultrapeer asking it to (`X-Ultrapeer-Needed: False`) while it has no leaves
/// ([`TierPolicy::takes_guidance`]); the simulator's generators place `auto` peers
/// themselves. [`RoleSetting::role`] gives the role a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleSetting {
    Ultrapeer,
    Leaf,
    Auto,
}

impl RoleSetting {
    /// The role a node of this setting runs.
    pub fn role(self) -> Role {
        match self {
            RoleSetting::Ultrapeer | RoleSetting::Auto => Role::Ultrapeer,
            RoleSetting::Leaf => Role::Leaf,
        }
    }
}

impl fmt::Display for RoleSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleSetting::Ultrapeer => "ultrapeer",
            RoleSetting::Leaf => "leaf",
            RoleSetting::Auto => "auto",
        })
    }
}

impl FromStr for RoleSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ultrapeer" | "up" => Ok(RoleSetting::Ultrapeer),
            "leaf" => Ok(RoleSetting::Leaf),
            "auto" => Ok(RoleSetting::Auto),
            other => Err(format!(
                "unknown role {other:?}: expected ultrapeer, leaf or auto"
            )),
        }
    }
}

/// Why a node turns a link away for its role ([`crate::node::Node::admits`]); a driver
/// answers the handshake with 503 and hosts to try instead (PROTOCOL.md §4.3, §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// We are a leaf and so is the other peer: leaves link only to ultrapeers.
    #[error("I am a shielded leaf")]
    LeafToLeaf,
    /// We are a leaf already linked with `leaf_ultrapeers` ultrapeers.
    #[error("Enough ultrapeers")]
    EnoughUltrapeers,
    /// We are an ultrapeer holding `max_leaves` leaves.
    #[error("Too many leaves")]
    LeavesFull,
}

/// A node's role with its budgets: what decides whether a link may come up. Both the node
/// ([`crate::node::Node::admits`]) and the live handshake (before the node hears of the
/// link) ask it, with their own counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierPolicy {
    /// Our role; `None` in the flat network, which takes anyone.
    pub role: Option<Role>,
    /// Most leaves we take as an ultrapeer.
    pub max_leaves: usize,
    /// Most ultrapeers we link with as a leaf.
    pub leaf_ultrapeers: usize,
    /// We run dynamic queries (strategy `dq`): `X-Dynamic-Querying`, `Vendor-Message`.
    pub dynamic_querying: bool,
    /// Our role came from `auto`: as an ultrapeer without leaves we take an
    /// ultrapeer's leaf guidance and become its leaf ([`TierPolicy::takes_guidance`]).
    pub auto: bool,
}

impl TierPolicy {
    /// Whether a link with a peer of role `theirs` may come up while we hold `leaves`
    /// leaves and `ultrapeers` ultrapeers: a leaf links only with ultrapeers, at most
    /// `leaf_ultrapeers`; an ultrapeer takes at most `max_leaves` leaves (its links with
    /// ultrapeers are the driver's degree policy).
    pub fn admit(&self, theirs: Role, leaves: usize, ultrapeers: usize) -> Result<(), LinkRefusal> {
        match (self.role, theirs) {
            (Some(Role::Leaf), Role::Leaf) => Err(LinkRefusal::LeafToLeaf),
            (Some(Role::Leaf), Role::Ultrapeer) if ultrapeers >= self.leaf_ultrapeers => {
                Err(LinkRefusal::EnoughUltrapeers)
            }
            (Some(Role::Ultrapeer), Role::Leaf) if leaves >= self.max_leaves => {
                Err(LinkRefusal::LeavesFull)
            }
            _ => Ok(()),
        }
    }

    /// Whether we become the leaf of an ultrapeer that answered our hello with
    /// `X-Ultrapeer-Needed: False` ("become my leaf") while we hold `leaves` leaves:
    /// only an `auto` ultrapeer with no leaves does, and only if the guide has been up
    /// longer than we have (`theirs` and `ours` are the starts, in seconds, its
    /// `X-Live-Since` and ours; unknown means no), as gtk-gnutella's auto mode does
    /// (`nodes.c`, `node_process_handshake_header`: not a configured ultrapeer, no
    /// leaves, `n->up_date != 0 && n->up_date < start_stamp`). The times come from the
    /// driver: this policy has no clock.
    pub fn takes_guidance(
        &self,
        needed: Option<bool>,
        leaves: usize,
        theirs: Option<i64>,
        ours: Option<i64>,
    ) -> bool {
        let older = matches!((theirs, ours), (Some(t), Some(o)) if t < o);
        self.auto
            && self.role == Some(Role::Ultrapeer)
            && needed == Some(false)
            && leaves == 0
            && older
    }

    /// This policy once we are a leaf (after taking leaf guidance).
    pub fn as_leaf(&self) -> TierPolicy {
        TierPolicy {
            role: Some(Role::Leaf),
            auto: false,
            ..*self
        }
    }

    /// The `X-Ultrapeer-Needed` an ultrapeer puts in its 200 (leaf guidance), as
    /// gtk-gnutella's `node_process_handshake_header` does: `True` while it has room for
    /// more ultrapeer links (`ultrapeers < max_ultrapeers`), else `False` ("become my
    /// leaf") while it has room for leaves, else nothing. Only an ultrapeer guides.
    pub fn ultrapeer_needed(
        &self,
        ultrapeers: usize,
        max_ultrapeers: usize,
        leaves: usize,
    ) -> Option<bool> {
        if self.role != Some(Role::Ultrapeer) {
            return None;
        }
        if ultrapeers < max_ultrapeers {
            Some(true)
        } else if leaves < self.max_leaves {
            Some(false)
        } else {
            None
        }
    }
}

/// Most leaves an ultrapeer takes by default (LimeWire's `MAX_LEAVES`, 30).
pub const DEFAULT_MAX_LEAVES: usize = 30;
/// How many ultrapeers a leaf links with by default (LimeWire's leaves keep 3).
pub const DEFAULT_LEAF_ULTRAPEERS: usize = 3;
/// Ultrapeer links an ultrapeer of a dynamic overlay keeps at most by default, and so
/// the `X-Degree` it advertises: LimeWire's 32. A gtk-gnutella leaf refuses an
/// ultrapeer whose `X-Degree` is below 16 (`2 * NODE_LEGACY_DEGREE` in `nodes.c`,
/// `node_process_handshake_header`: "403 High Outdegree and Dynamic Querying Required").
pub const DEFAULT_ULTRAPEER_DEGREE: usize = 32;
/// The lowest `X-Degree` a gtk-gnutella leaf accepts from an ultrapeer (see above).
pub const GTKG_LEAF_MIN_DEGREE: u32 = 16;
/// Most ultrapeer links a leaf may be configured to keep (issue 12: 1–3; gtk-gnutella's
/// leaves allow a few more, so a little headroom).
pub const MAX_LEAF_ULTRAPEERS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_print_and_resolve() {
        for (text, setting, role) in [
            ("ultrapeer", RoleSetting::Ultrapeer, Role::Ultrapeer),
            ("Leaf", RoleSetting::Leaf, Role::Leaf),
            ("auto", RoleSetting::Auto, Role::Ultrapeer),
        ] {
            let parsed: RoleSetting = text.parse().unwrap();
            assert_eq!(parsed, setting);
            assert_eq!(parsed.role(), role);
            assert_eq!(parsed.to_string(), text.to_ascii_lowercase());
        }
        let e = "hub".parse::<RoleSetting>().unwrap_err();
        assert!(e.contains("ultrapeer, leaf or auto"), "{e}");
        let json: RoleSetting = serde_json::from_str(r#""leaf""#).unwrap();
        assert_eq!(json, RoleSetting::Leaf);
    }

    #[test]
    fn an_ultrapeer_guides_as_gtk_gnutella_does() {
        let up = TierPolicy {
            role: Some(Role::Ultrapeer),
            max_leaves: 2,
            ..TierPolicy::default()
        };
        assert_eq!(up.ultrapeer_needed(3, 4, 0), Some(true));
        assert_eq!(up.ultrapeer_needed(4, 4, 1), Some(false));
        assert_eq!(up.ultrapeer_needed(4, 4, 2), None);
        let leaf = TierPolicy {
            role: Some(Role::Leaf),
            ..up
        };
        assert_eq!(leaf.ultrapeer_needed(0, 4, 0), None);
        assert_eq!(TierPolicy::default().ultrapeer_needed(0, 4, 0), None);
    }

    #[test]
    fn only_an_auto_ultrapeer_without_leaves_takes_leaf_guidance() {
        let auto = TierPolicy {
            role: Some(Role::Ultrapeer),
            auto: true,
            ..TierPolicy::default()
        };
        let (up_longer, ours) = (Some(100), Some(200));
        assert!(auto.takes_guidance(Some(false), 0, up_longer, ours));
        assert!(!auto.takes_guidance(Some(true), 0, up_longer, ours));
        assert!(!auto.takes_guidance(None, 0, up_longer, ours));
        assert!(
            !auto.takes_guidance(Some(false), 1, up_longer, ours),
            "it has leaves"
        );
        for younger in [Some(200), Some(300), None] {
            assert!(
                !auto.takes_guidance(Some(false), 0, younger, ours),
                "a guide up for less time than we are, or that does not say: {younger:?}"
            );
        }
        assert!(!auto.takes_guidance(Some(false), 0, up_longer, None));
        let configured = TierPolicy {
            auto: false,
            ..auto
        };
        assert!(!configured.takes_guidance(Some(false), 0, up_longer, ours));
        let leaf = auto.as_leaf();
        assert_eq!(leaf.role, Some(Role::Leaf));
        assert!(!leaf.takes_guidance(Some(false), 0, up_longer, ours));
    }
}
