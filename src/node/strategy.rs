//! Search strategies: how a node forwards a query ([`Strategy`], a routing setting) and
//! the one grammar users name strategies by ([`StrategySpec`]: `flood`, `ring`, `walk:K`,
//! `qrp`, `dq`, `dq:N`, each optionally `+cache`), used by `sim --strategy`, experiment
//! specs and the labels of every record.
//!
//! `qrp` is flooding in a two-tier network: the node has a role (`node::role`), so
//! ultrapeers flood among themselves, hand a query to a leaf only when its QRP table
//! matches, and to an ultrapeer on the last hop only when its merged table does. It is
//! `flood` with a role: a config's peers that have roles and flood are labelled `qrp`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::dynamic_query::{DEFAULT_WAIT_MS, LEAF_RESULTS, OWN_RESULTS};
use super::routing::RoutingConfig;
use super::types::CacheMode;

/// Most random walkers one query may send (`walk:K`): each walker is a message the origin
/// queues at once, so a typo such as `walk:1000000000` must be refused, not allocated.
pub const MAX_WALKERS: u32 = 1024;

/// How a node forwards a query (all peers of a network usually run the same one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Strategy {
    /// Every neighbour but the sender.
    #[default]
    Flood,
    /// The origin floods with TTL 1, 2, 4, ... (up to the search TTL) until a hit arrives.
    ExpandingRing { wait_ms: u64 },
    /// The origin sends `walkers` copies to random neighbours; each relay passes a walker to
    /// one random neighbour; every `check_every` hops a walker checks back with the origin
    /// and stops once the origin has a hit.
    RandomWalk { walkers: u32, check_every: u8 },
    /// Dynamic querying (`dynamic_query`): the origin probes a few links at low TTL, then
    /// queries one more link every `wait_ms` with the TTL the results so far call for,
    /// until `results` results came (`leaf_results` for a query a leaf sent us). Relays
    /// flood.
    Dynamic {
        #[serde(default = "own_results")]
        results: u32,
        #[serde(default = "leaf_results")]
        leaf_results: u32,
        #[serde(default = "dq_wait_ms")]
        wait_ms: u64,
    },
}

fn own_results() -> u32 {
    OWN_RESULTS
}

fn leaf_results() -> u32 {
    LEAF_RESULTS
}

fn dq_wait_ms() -> u64 {
    DEFAULT_WAIT_MS
}

/// The forwarding part of a strategy's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forwarding {
    Flood,
    Ring,
    Walk {
        walkers: u32,
    },
    /// Flooding with roles: QRP to leaves and on the last hop between ultrapeers.
    Qrp,
    /// `dq` (results wanted: 150 for our searches, 50 for a leaf's), `dq:N` (N for both).
    Dynamic {
        results: u32,
        leaf_results: u32,
    },
}

/// A strategy as users name it: forwarding plus whether peers answer from their result
/// cache. `Display` and `FromStr` are each other's inverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StrategySpec {
    pub forwarding: Forwarding,
    pub cache: bool,
}

/// The parameters a strategy's name leaves open, used when a name becomes settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrategyParams {
    /// Pause between expanding-ring rounds, in milliseconds.
    pub ring_wait_ms: u64,
    /// Hops between a random walker's check-backs.
    pub walk_check_every: u8,
    /// What a `+cache` strategy's peers do with a query their cache answers.
    pub cache_mode: CacheMode,
    /// Pause after each step of a dynamic query, in milliseconds (gtk-gnutella: 3,700).
    pub dq_wait_ms: u64,
}

impl Default for StrategyParams {
    fn default() -> Self {
        StrategyParams {
            ring_wait_ms: 300,
            walk_check_every: 4,
            cache_mode: CacheMode::AnswerAndForward,
            dq_wait_ms: DEFAULT_WAIT_MS,
        }
    }
}

impl StrategySpec {
    pub const FLOOD: StrategySpec = StrategySpec {
        forwarding: Forwarding::Flood,
        cache: false,
    };

    /// `dq`: dynamic querying with gtk-gnutella's and LimeWire's result targets.
    pub const DQ: StrategySpec = StrategySpec {
        forwarding: Forwarding::Dynamic {
            results: OWN_RESULTS,
            leaf_results: LEAF_RESULTS,
        },
        cache: false,
    };

    /// The name of the strategy these settings run.
    pub fn of(config: &RoutingConfig) -> StrategySpec {
        let forwarding = match config.strategy {
            Strategy::Flood if config.role.is_some() => Forwarding::Qrp,
            Strategy::Flood => Forwarding::Flood,
            Strategy::ExpandingRing { .. } => Forwarding::Ring,
            Strategy::RandomWalk { walkers, .. } => Forwarding::Walk { walkers },
            Strategy::Dynamic {
                results,
                leaf_results,
                ..
            } => Forwarding::Dynamic {
                results,
                leaf_results,
            },
        };
        StrategySpec {
            forwarding,
            cache: config.cache.mode != CacheMode::Off && config.cache.capacity > 0,
        }
    }

    /// Sets `config`'s strategy and cache mode to run this strategy; everything else
    /// (TTLs, table sizes, cache capacity, role) is left as it is, except that `qrp`
    /// gives a config without a role one (`auto`: an ultrapeer, until a two-tier graph
    /// says which peers are leaves).
    pub fn apply(self, config: &mut RoutingConfig, params: &StrategyParams) {
        if self.forwarding == Forwarding::Qrp {
            config.role = config.role.or(Some(super::role::RoleSetting::Auto));
        }
        config.strategy = match self.forwarding {
            Forwarding::Flood | Forwarding::Qrp => Strategy::Flood,
            Forwarding::Ring => Strategy::ExpandingRing {
                wait_ms: params.ring_wait_ms,
            },
            Forwarding::Walk { walkers } => Strategy::RandomWalk {
                walkers,
                check_every: params.walk_check_every,
            },
            Forwarding::Dynamic {
                results,
                leaf_results,
            } => Strategy::Dynamic {
                results,
                leaf_results,
                wait_ms: params.dq_wait_ms,
            },
        };
        config.cache.mode = if self.cache {
            params.cache_mode
        } else {
            CacheMode::Off
        };
    }
}

impl fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.forwarding {
            Forwarding::Flood => f.write_str("flood")?,
            Forwarding::Qrp => f.write_str("qrp")?,
            Forwarding::Ring => f.write_str("ring")?,
            Forwarding::Walk { walkers } => write!(f, "walk:{walkers}")?,
            Forwarding::Dynamic {
                results,
                leaf_results,
            } => {
                if (results, leaf_results) == (OWN_RESULTS, LEAF_RESULTS) {
                    f.write_str("dq")?
                } else if results == leaf_results {
                    write!(f, "dq:{results}")?
                } else {
                    write!(f, "dq:{results}/{leaf_results}")?
                }
            }
        }
        if self.cache {
            f.write_str("+cache")?;
        }
        Ok(())
    }
}

impl FromStr for StrategySpec {
    type Err = String;

    fn from_str(text: &str) -> Result<StrategySpec, String> {
        let text = text.trim();
        if text == "cache" {
            return Ok(StrategySpec {
                cache: true,
                ..StrategySpec::FLOOD
            });
        }
        let (base, cache) = match text.strip_suffix("+cache") {
            Some(base) => (base, true),
            None => (text, false),
        };
        let forwarding = match base {
            "flood" => Forwarding::Flood,
            "qrp" => Forwarding::Qrp,
            "ring" => Forwarding::Ring,
            "dq" => StrategySpec::DQ.forwarding,
            _ if base.starts_with("dq:") => parse_dq(&base[3..])?,
            _ => match base.strip_prefix("walk:") {
                Some(k) => match k.parse::<u32>() {
                    Ok(walkers) if (1..=MAX_WALKERS).contains(&walkers) => {
                        Forwarding::Walk { walkers }
                    }
                    _ => {
                        return Err(format!(
                            "walk:K needs a whole number of walkers from 1 to {MAX_WALKERS}, not \"{k}\""
                        ))
                    }
                },
                None => {
                    return Err(format!(
                        "unknown strategy \"{text}\" (expected flood, ring, walk:K, qrp, dq or dq:N, each optionally +cache)"
                    ))
                }
            },
        };
        Ok(StrategySpec { forwarding, cache })
    }
}

/// Most results a `dq:N` may ask for: the leaf reports its count in 16 bits.
pub const MAX_DQ_RESULTS: u32 = 65_000;

/// `N` or `N/M` after `dq:` (results for our searches / for a leaf's).
fn parse_dq(text: &str) -> Result<Forwarding, String> {
    let number = |t: &str| {
        match t.parse::<u32>() {
        Ok(n) if (1..=MAX_DQ_RESULTS).contains(&n) => Ok(n),
        _ => Err(format!(
            "dq:N needs a whole number of results from 1 to {MAX_DQ_RESULTS} (or dq:N/M for our searches/a leaf's), not \"{text}\""
        )),
    }
    };
    let (results, leaf_results) = match text.split_once('/') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => (number(text)?, number(text)?),
    };
    Ok(Forwarding::Dynamic {
        results,
        leaf_results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_display_and_map_to_settings_and_back() {
        for name in [
            "flood",
            "ring",
            "walk:16",
            "flood+cache",
            "ring+cache",
            "walk:1+cache",
            "qrp",
            "qrp+cache",
            "dq",
            "dq:20",
            "dq:100/30",
            "dq+cache",
        ] {
            let spec: StrategySpec = name.parse().unwrap();
            assert_eq!(spec.to_string(), name);
            let mut config = RoutingConfig::default();
            spec.apply(&mut config, &StrategyParams::default());
            assert_eq!(StrategySpec::of(&config), spec, "{name}");
            assert_eq!(config.label(), name);
        }
        assert_eq!(
            "cache".parse::<StrategySpec>().unwrap().to_string(),
            "flood+cache"
        );
    }

    #[test]
    fn a_dynamic_strategy_in_json_takes_the_documented_defaults() {
        let s: Strategy = serde_json::from_str(r#"{"kind": "dynamic"}"#).unwrap();
        assert_eq!(
            s,
            Strategy::Dynamic {
                results: 150,
                leaf_results: 50,
                wait_ms: 3700
            }
        );
        let s: Strategy = serde_json::from_str(r#"{"kind": "dynamic", "results": 20}"#).unwrap();
        let mut config = RoutingConfig {
            strategy: s,
            ..RoutingConfig::default()
        };
        config.cache.mode = CacheMode::Off;
        assert_eq!(config.label(), "dq:20/50");
    }

    #[test]
    fn bad_names_say_what_is_expected() {
        for bad in ["walk:0", "walk:x", "walk:1025", "bfs", "flood+cash", ""] {
            let e = bad.parse::<StrategySpec>().unwrap_err();
            assert!(e.contains("walk:K"), "{bad}: {e}");
        }
        for bad in ["dq:0", "dq:", "dq:x", "dq:1/", "dq:70000", "dq:5/0"] {
            let e = bad.parse::<StrategySpec>().unwrap_err();
            assert!(e.contains("dq:N"), "{bad}: {e}");
        }
        assert_eq!(
            "dq:150/50".parse::<StrategySpec>().unwrap().to_string(),
            "dq"
        );
    }
}
