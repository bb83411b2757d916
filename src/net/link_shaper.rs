//! The link model applied by the live driver: each link's one-way latency and loss, so
//! that a launched network (or peers on separate hosts) sees the network the simulator
//! models.
//!
//! The simulator delays each copy on a link by the link's latency and loses it with the
//! link's loss probability ([`LinkModel`]); a live peer does the same in its send path:
//! a lost copy is never queued and is counted as [`DropReason::LinkLoss`](crate::node::DropReason::LinkLoss)
//! (crate::node::DropReason), exactly as the simulator counts it, so a record's copies
//! still add up; a kept copy is stamped with the time it may leave, and the link's
//! writer holds it in a per-link delay line until then (FIFO per link: one constant
//! latency per link keeps the order). A latency is one-way, so a query answered `h` hops
//! away comes back after `2 × h × latency` plus the real network's own time.
//!
//! A launch applies the model whenever its config gives a latency or a loss (configs
//! without either run as before); `gnutella peer` takes one latency and loss for all of
//! its links (`--latency-ms`, `--loss`). The loss draws come from a generator seeded per
//! peer, so a loss of 0 or 1 is exact and a fraction is reproducible in distribution.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::RwLock;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::node::identity::mix;
use crate::topology::{LinkModel, TopologyConfig};

/// What one live link does to the copies put on it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkShape {
    /// Added before a copy leaves (one-way latency).
    pub delay: Duration,
    /// Probability that a copy is lost, 0 to 1.
    pub loss: f64,
}

impl LinkShape {
    /// A shape from milliseconds and a loss fraction (a bad value means none).
    pub fn new(latency_ms: f64, loss: f64) -> LinkShape {
        let delay = if latency_ms.is_finite() && latency_ms > 0.0 {
            Duration::from_micros((latency_ms * 1000.0).round() as u64)
        } else {
            Duration::ZERO
        };
        LinkShape {
            delay,
            loss: if loss.is_finite() {
                loss.clamp(0.0, 1.0)
            } else {
                0.0
            },
        }
    }

    /// Whether the link is left as the real network makes it.
    pub fn is_none(&self) -> bool {
        self.delay.is_zero() && self.loss <= 0.0
    }
}

/// The link model of one process: the shape of each link by the neighbour's listening
/// address. Shared by every peer actor of the process.
#[derive(Debug)]
pub struct LinkShaper {
    /// The config's model (`None`: every link has `fallback`).
    model: Option<LinkModel>,
    /// Config index of the peer listening at each address (filled as addresses bind).
    index_of: RwLock<HashMap<SocketAddrV4, usize>>,
    /// The shape of a link to a neighbour the model does not know.
    fallback: LinkShape,
    seed: u64,
}

impl LinkShaper {
    /// One shape for every link (`gnutella peer --latency-ms --loss`); `None` when it
    /// changes nothing.
    pub fn uniform(shape: LinkShape, seed: u64) -> Option<LinkShaper> {
        (!shape.is_none()).then(|| LinkShaper {
            model: None,
            index_of: RwLock::new(HashMap::new()),
            fallback: shape,
            seed,
        })
    }

    /// The link model of a config; `None` when the config gives no latency and no loss
    /// (then a launch leaves its links as the real network makes them, as it always did).
    pub fn of_config(config: &TopologyConfig) -> Option<LinkShaper> {
        let model = LinkModel::of(config);
        if !model.sets_latency() && !model.sets_loss() {
            return None;
        }
        Some(LinkShaper {
            model: Some(model),
            index_of: RwLock::new(HashMap::new()),
            fallback: LinkShape::default(),
            seed: config.defaults.seed,
        })
    }

    /// The peer of config index `index` listens at `addr`.
    pub fn learn(&self, addr: SocketAddrV4, index: usize) {
        let mut map = self.index_of.write().unwrap_or_else(|e| e.into_inner());
        map.insert(addr, index);
    }

    /// The shape of the link between config peer `own` and the neighbour listening at
    /// `neighbour` (its claimed listening address, else its socket address).
    pub fn shape(&self, own: u32, neighbour: Option<SocketAddrV4>) -> LinkShape {
        let Some(model) = &self.model else {
            return self.fallback;
        };
        let map = self.index_of.read().unwrap_or_else(|e| e.into_inner());
        match neighbour.and_then(|a| map.get(&a)) {
            Some(&j) => {
                let params = model.link(own as usize, j);
                LinkShape::new(params.latency_ms.unwrap_or(0.0), params.loss)
            }
            None => self.fallback,
        }
    }

    /// The loss generator of peer `own`: seeded from the model's seed and the peer.
    pub fn rng_for(&self, own: u32) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(0x6c6f_7373 ^ u64::from(own))))
    }
}

/// Whether a copy put on a link of `shape` is lost, drawing from `rng` only when the
/// loss is a real fraction (0 and 1 are exact).
pub fn lost(shape: &LinkShape, rng: &mut ChaCha8Rng) -> bool {
    if shape.loss <= 0.0 {
        false
    } else if shape.loss >= 1.0 {
        true
    } else {
        rng.gen_bool(shape.loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_without_latency_or_loss_is_left_alone() {
        let config: TopologyConfig = serde_json::from_str(
            r#"{"name":"t","peers":[{"id":"a","listen":"127.0.0.1:0"},{"id":"b","listen":"127.0.0.1:0"}],"links":[{"between":["a","b"]}]}"#,
        )
        .unwrap();
        assert!(LinkShaper::of_config(&config).is_none());
    }

    #[test]
    fn a_link_gets_its_own_latency_and_loss_by_neighbour_address() {
        let config: TopologyConfig = serde_json::from_str(
            r#"{"name":"t","defaults":{"latency_ms":20},
                "peers":[{"id":"a","listen":"127.0.0.1:0"},{"id":"b","listen":"127.0.0.1:0"},{"id":"c","listen":"127.0.0.1:0"}],
                "links":[{"between":["a","b"]},{"between":["b","c"],"loss":1.0,"latency_ms":5}]}"#,
        )
        .unwrap();
        let shaper = LinkShaper::of_config(&config).expect("a model");
        let addr = |p| SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, p);
        shaper.learn(addr(1), 0);
        shaper.learn(addr(2), 1);
        shaper.learn(addr(3), 2);
        assert_eq!(shaper.shape(0, Some(addr(2))), LinkShape::new(20.0, 0.0));
        assert_eq!(shaper.shape(2, Some(addr(2))), LinkShape::new(5.0, 1.0));
        assert_eq!(shaper.shape(1, Some(addr(9))), LinkShape::default());
        let mut rng = shaper.rng_for(1);
        assert!(lost(&shaper.shape(1, Some(addr(3))), &mut rng));
        assert!(!lost(&shaper.shape(1, Some(addr(1))), &mut rng));
    }
}
