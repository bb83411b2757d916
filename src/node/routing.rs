//! The routing configuration: every setting that decides what a node forwards, answers
//! and remembers, with one set of documented defaults for every driver.
//!
//! Topology configs (`defaults`), `gnutella peer`, `launch`, `sim`, `experiment` and the
//! tests all build nodes from a [`RoutingConfig`]; what differs between a launched peer
//! and its simulated twin is only where it listens (see [`super::identity`] for who it
//! is). Drivers never invent settings of their own: a simulation of a million peers that
//! wants a smaller duplicate table says so in its `RoutingConfig`.
//!
//! The keys can be read one at a time ([`RoutingConfig::read_key`]) so that a document
//! may embed them among its own keys (a topology config's `defaults`) and still refuse
//! unknown keys with the exact place of the error.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::role::{RoleSetting, DEFAULT_LEAF_ULTRAPEERS, DEFAULT_MAX_LEAVES, MAX_LEAF_ULTRAPEERS};
use super::strategy::{Strategy, StrategySpec};
use super::types::{CacheConfig, OverMaxTtl};

/// How a node routes. `Default` gives the documented defaults below.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoutingConfig {
    /// Broadcast limit: a Query or Ping whose hops + TTL exceed it is trimmed or dropped
    /// (`over_max_ttl`). Default 7, as gtk-gnutella and LimeWire.
    pub max_ttl: u8,
    /// What happens above `max_ttl`. Default `trim`.
    pub over_max_ttl: OverMaxTtl,
    /// Most (GUID, type) pairs the duplicate table holds. Default 100,000 (gtk-gnutella
    /// keeps about that many). A simulation of many peers needs only the searches in
    /// flight at once and sets it lower to save memory.
    pub seen_capacity: usize,
    /// How long a (GUID, type) counts as seen, in seconds. Default 600.
    pub seen_max_age_secs: u64,
    /// Most reverse routes (Query/Ping GUID -> link) kept. Default 100,000.
    pub route_capacity: usize,
    /// How long a reverse route lives, in seconds. Default 600.
    pub route_max_age_secs: u64,
    /// The LRU result cache. Default: 1,024 queries, 300 s, `answer-and-forward`.
    pub cache: CacheConfig,
    /// How queries are forwarded. Default `{"kind": "flood"}`.
    pub strategy: Strategy,
    /// Most hit records returned for one query (split into QueryHits of at most 10
    /// records). Default 50.
    pub max_results: usize,
    /// The peer's place in a two-tier network (`node::role`): `ultrapeer`, `leaf` or
    /// `auto`. Default none: the flat network, every peer an equal relay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleSetting>,
    /// Most leaves an ultrapeer takes; further leaves are refused (503). Default 30
    /// (LimeWire's).
    #[serde(skip_serializing_if = "is_default_max_leaves")]
    pub max_leaves: usize,
    /// How many ultrapeers a leaf links with (1 to 8); further ultrapeers are refused.
    /// Default 3 (LimeWire's).
    #[serde(skip_serializing_if = "is_default_leaf_ultrapeers")]
    pub leaf_ultrapeers: usize,
}

fn is_default_max_leaves(n: &usize) -> bool {
    *n == DEFAULT_MAX_LEAVES
}

fn is_default_leaf_ultrapeers(n: &usize) -> bool {
    *n == DEFAULT_LEAF_ULTRAPEERS
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            max_ttl: 7,
            over_max_ttl: OverMaxTtl::Trim,
            seen_capacity: 100_000,
            seen_max_age_secs: 600,
            route_capacity: 100_000,
            route_max_age_secs: 600,
            cache: CacheConfig::default(),
            strategy: Strategy::Flood,
            max_results: 50,
            role: None,
            max_leaves: DEFAULT_MAX_LEAVES,
            leaf_ultrapeers: DEFAULT_LEAF_ULTRAPEERS,
        }
    }
}

impl RoutingConfig {
    /// Every key, in documentation order.
    pub const KEYS: &'static [&'static str] = &[
        "max_ttl",
        "over_max_ttl",
        "seen_capacity",
        "seen_max_age_secs",
        "route_capacity",
        "route_max_age_secs",
        "cache",
        "strategy",
        "max_results",
        "role",
        "max_leaves",
        "leaf_ultrapeers",
    ];

    /// The role a node of this config runs: `None` in the flat network.
    pub fn node_role(&self) -> Option<super::role::Role> {
        self.role.map(RoleSetting::role)
    }

    /// This config's role and budgets, for admitting links.
    pub fn tier_policy(&self) -> super::role::TierPolicy {
        super::role::TierPolicy {
            role: self.node_role(),
            max_leaves: self.max_leaves,
            leaf_ultrapeers: self.leaf_ultrapeers,
            dynamic_querying: matches!(self.strategy, Strategy::Dynamic { .. }),
            auto: self.role == Some(RoleSetting::Auto),
        }
    }

    /// Gives an ultrapeer (`role` `ultrapeer` or `auto`) whose configuration names no
    /// strategy dynamic querying (`dq`), as `gnutella peer` does: a gtk-gnutella leaf
    /// takes only an ultrapeer that says `X-Dynamic-Querying` (`nodes.c`,
    /// `node_process_handshake_header`), and we say it only when we run it. Call it only
    /// when no strategy was given; any other config is left as it is.
    pub fn default_strategy_for_role(&mut self) {
        if self.strategy == Strategy::Flood
            && self.node_role() == Some(super::role::Role::Ultrapeer)
        {
            let mut dq = self.clone();
            StrategySpec::DQ.apply(&mut dq, &super::strategy::StrategyParams::default());
            self.strategy = dq.strategy;
        }
    }

    /// The strategy as users name it (`flood`, `flood+cache`, `ring`, `walk:16`), the
    /// label records carry.
    pub fn label(&self) -> String {
        StrategySpec::of(self).to_string()
    }

    /// Reads the value of `key` from `map` into this config. `Ok(false)` when `key` is
    /// not a routing key (the caller decides whether that is an error).
    pub fn read_key<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key {
            "max_ttl" => self.max_ttl = map.next_value::<crate::validate::Ttl>()?.0,
            "over_max_ttl" => self.over_max_ttl = map.next_value()?,
            "seen_capacity" => self.seen_capacity = map.next_value()?,
            "seen_max_age_secs" => self.seen_max_age_secs = map.next_value()?,
            "route_capacity" => self.route_capacity = map.next_value()?,
            "route_max_age_secs" => self.route_max_age_secs = map.next_value()?,
            "cache" => self.cache = map.next_value()?,
            "strategy" => self.strategy = map.next_value()?,
            "max_results" => self.max_results = map.next_value()?,
            "role" => self.role = Some(map.next_value()?),
            "max_leaves" => self.max_leaves = map.next_value()?,
            "leaf_ultrapeers" => self.leaf_ultrapeers = map.next_value()?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What a driver must refuse before building nodes from this config.
    pub fn validate(&self) -> Result<(), String> {
        if let Err(e) = crate::validate::check_ttl(self.max_ttl) {
            return Err(format!("max_ttl: {e}"));
        }
        if self.seen_capacity == 0 || self.route_capacity == 0 {
            return Err("seen_capacity and route_capacity must be at least 1".into());
        }
        if !(1..=MAX_LEAF_ULTRAPEERS).contains(&self.leaf_ultrapeers) {
            return Err(format!(
                "leaf_ultrapeers must be 1 to {MAX_LEAF_ULTRAPEERS}, not {}",
                self.leaf_ultrapeers
            ));
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for RoutingConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RoutingVisitor;
        impl<'de> Visitor<'de> for RoutingVisitor {
            type Value = RoutingConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a routing configuration (an object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RoutingConfig, A::Error> {
                let mut config = RoutingConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    if !config.read_key(&key, &mut map)? {
                        return Err(de::Error::unknown_field(&key, RoutingConfig::KEYS));
                    }
                }
                Ok(config)
            }
        }
        deserializer.deserialize_map(RoutingVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::CacheMode;

    #[test]
    fn an_ultrapeer_without_a_strategy_runs_dynamic_querying() {
        for (role, dq) in [
            (Some(RoleSetting::Ultrapeer), true),
            (Some(RoleSetting::Auto), true),
            (Some(RoleSetting::Leaf), false),
            (None, false),
        ] {
            let mut config = RoutingConfig {
                role,
                ..RoutingConfig::default()
            };
            config.default_strategy_for_role();
            assert_eq!(
                matches!(config.strategy, Strategy::Dynamic { .. }),
                dq,
                "{role:?}"
            );
            assert_eq!(config.tier_policy().dynamic_querying, dq);
            assert_eq!(
                config.cache,
                CacheConfig::default(),
                "the cache is left alone"
            );
        }
        // A strategy other than the default flood is kept.
        let mut walk = RoutingConfig {
            role: Some(RoleSetting::Ultrapeer),
            strategy: Strategy::RandomWalk {
                walkers: 4,
                check_every: 4,
            },
            ..RoutingConfig::default()
        };
        walk.default_strategy_for_role();
        assert!(matches!(walk.strategy, Strategy::RandomWalk { .. }));
    }

    #[test]
    fn missing_keys_take_the_documented_defaults_and_unknown_keys_are_refused() {
        let c: RoutingConfig = serde_json::from_str(r#"{"max_ttl": 5}"#).unwrap();
        assert_eq!(
            c,
            RoutingConfig {
                max_ttl: 5,
                ..RoutingConfig::default()
            }
        );
        let e = serde_json::from_str::<RoutingConfig>(r#"{"max_tll": 5}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `max_tll`"), "{e}");
    }

    #[test]
    fn a_config_round_trips_through_json() {
        let mut c = RoutingConfig::default();
        c.cache.mode = CacheMode::AnswerAndStop;
        c.strategy = Strategy::RandomWalk {
            walkers: 16,
            check_every: 4,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RoutingConfig>(&text).unwrap(), c);
        assert_eq!(c.label(), "walk:16+cache");
    }
}
