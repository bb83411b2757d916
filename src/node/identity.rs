//! A peer's identity, the same in both worlds: its servent GUID and the seed of its
//! routing RNG, derived once from (network seed, peer index).
//!
//! A launched peer and its simulated twin must be the same peer: the same servent GUID in
//! its hits, the same GUIDs for its searches, the same random choices for its walkers. So
//! neither driver derives identity itself; both call [`PeerIdentity::derive`].

use crate::protocol::Guid;

/// SplitMix64's finaliser: a cheap, well-spread hash for seeds and keys.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Who a peer is, apart from where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerIdentity {
    /// The stable servent GUID of the peer's QueryHits (and the target of Pushes).
    pub servent_guid: Guid,
    /// Seed of the peer's routing RNG (its search GUIDs, walker choices).
    pub seed: u64,
}

impl PeerIdentity {
    /// The identity of peer `peer` of a network whose seed is `network_seed`. Cheap (a
    /// few multiplications): the simulator derives it for every peer a flood reaches.
    pub fn derive(network_seed: u64, peer: u32) -> PeerIdentity {
        let peer = u64::from(peer);
        let seed = mix(network_seed ^ mix(peer ^ 0x6e6f_6465_0000_0000));
        let a = mix(network_seed ^ mix(peer ^ 0x7365_7276));
        let b = mix(a);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
        // The marks of a modern servent's GUIDs (PROTOCOL.md §1.2).
        bytes[8] = 0xFF;
        bytes[15] = 0;
        PeerIdentity {
            servent_guid: Guid(bytes),
            seed,
        }
    }

    /// The identity of a peer outside any network (`gnutella peer`, the short-lived
    /// searcher of `gnutella search`), from its own seed.
    pub fn of_seed(seed: u64) -> PeerIdentity {
        PeerIdentity::derive(seed, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_stable_distinct_and_marked() {
        let a = PeerIdentity::derive(1, 0);
        assert_eq!(a, PeerIdentity::derive(1, 0));
        assert_ne!(a, PeerIdentity::derive(1, 1));
        assert_ne!(a, PeerIdentity::derive(2, 0));
        assert_ne!(a.seed, PeerIdentity::derive(1, 1).seed);
        assert_eq!((a.servent_guid.0[8], a.servent_guid.0[15]), (0xFF, 0));
    }

    /// Seeds offset by multiples of SplitMix64's own step would make two peers' RNGs the
    /// same stream a few steps apart (and draw the same search GUIDs); mixed seeds do not.
    #[test]
    fn peers_of_one_network_draw_different_random_streams() {
        use crate::node::rng::NodeRng;
        use rand::RngCore;
        for network_seed in 0..64u64 {
            let mut seen = std::collections::HashSet::new();
            for peer in 0..8 {
                let mut rng = NodeRng::seed_from(PeerIdentity::derive(network_seed, peer).seed);
                for _ in 0..64 {
                    assert!(
                        seen.insert(rng.next_u64()),
                        "seed {network_seed}: peer {peer} repeats another peer's stream"
                    );
                }
            }
        }
    }
}
