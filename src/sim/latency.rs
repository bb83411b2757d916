//! How long a message spends on a virtual link.
//!
//! A per-link model (each link keeps one delay for the whole run, like a real route) is
//! derived by hashing the link and the seed, so it needs no per-link storage; a per-message
//! model draws from the simulator's seeded RNG; a topology may give each link its own value.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The latency model of every link, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Latency {
    /// The same delay on every link.
    Constant { micros: u64 },
    /// Each link gets a fixed delay, uniform in `[min, max]`, chosen from the seed.
    UniformPerLink { min: u64, max: u64 },
    /// Each message gets a fresh delay, uniform in `[min, max]`.
    UniformPerMessage { min: u64, max: u64 },
    /// The delay the topology gives each link (a config's `latency_ms`), and `default`
    /// for links it says nothing about.
    Topology { default: u64 },
}

impl Default for Latency {
    /// 10 ms per hop, a typical broadband one-way delay between Gnutella peers.
    fn default() -> Self {
        Latency::Constant { micros: 10_000 }
    }
}

impl Latency {
    /// The delay of one message from `from` to `to`.
    pub(crate) fn sample<R: Rng>(
        &self,
        from: u32,
        to: u32,
        topology: Option<u64>,
        seed: u64,
        rng: &mut R,
    ) -> u64 {
        match self {
            Latency::Constant { micros } => *micros,
            Latency::UniformPerLink { min, max } => {
                let (a, b) = if from < to { (from, to) } else { (to, from) };
                let h = mix(seed ^ mix(((a as u64) << 32) | b as u64));
                let span = max.saturating_sub(*min).saturating_add(1);
                min + h % span
            }
            Latency::UniformPerMessage { min, max } => {
                if max <= min {
                    *min
                } else {
                    rng.gen_range(*min..=*max)
                }
            }
            Latency::Topology { default } => topology.unwrap_or(*default),
        }
    }
}

pub(crate) use crate::node::identity::mix;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn per_link_delay_is_symmetric_stable_and_in_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let model = Latency::UniformPerLink {
            min: 1000,
            max: 5000,
        };
        for (u, v) in [(1, 2), (7, 3), (100, 5)] {
            let d = model.sample(u, v, None, 9, &mut rng);
            assert_eq!(d, model.sample(v, u, None, 9, &mut rng));
            assert!((1000..=5000).contains(&d));
        }
        let topo = Latency::Topology { default: 3 };
        assert_eq!(topo.sample(2, 5, Some(77), 0, &mut rng), 77);
        assert_eq!(topo.sample(1, 5, None, 0, &mut rng), 3);
    }
}
