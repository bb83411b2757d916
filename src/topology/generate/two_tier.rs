//! The two-tier overlay of today's Gnutella (LimeWire's and gtk-gnutella's ultrapeers and
//! leaves): a few ultrapeers linked among themselves as a random graph, every other peer a
//! leaf holding links to a few ultrapeers and to no leaf. This is the network that the
//! flooding, QRP and dynamic-querying comparison runs on (issue 12).
//!
//! Which peers are ultrapeers is drawn at random (not the first ids), so that anything a
//! workload or a file placement ties to peer numbers falls on both tiers alike.
//! An ultrapeer's leaf count is not capped: leaves choose their ultrapeers uniformly, so
//! leaf counts spread around `leaves · leaf_links / ultrapeers` as in a network where
//! ultrapeers' leaf budgets are rarely the binding limit.

use rand::seq::index;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::GenError;

/// How many of the peers are ultrapeers: a share of them or a number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UltrapeerCount {
    /// A share in (0, 1]; rounded, at least one ultrapeer.
    Fraction(f64),
    /// Exactly this many (1..=n).
    Count(u32),
}

impl UltrapeerCount {
    /// Parses `up=` values: a whole number is a count, anything else a share (`0.1`).
    pub fn parse(value: &str) -> Result<UltrapeerCount, GenError> {
        let cleaned = value.trim().replace('_', "");
        if let Ok(count) = cleaned.parse::<u32>() {
            return Ok(UltrapeerCount::Count(count));
        }
        match cleaned.parse::<f64>() {
            Ok(share) if share.is_finite() => Ok(UltrapeerCount::Fraction(share)),
            _ => Err(GenError::BadNumber {
                key: "up".to_string(),
                value: value.to_string(),
                expected: "share (0.1) or whole number of ultrapeers",
            }),
        }
    }

    /// The number of ultrapeers among `n` peers, or why there is none that fits.
    pub fn of(self, n: u32) -> Result<u32, GenError> {
        match self {
            UltrapeerCount::Count(count) if (1..=n).contains(&count) => Ok(count),
            UltrapeerCount::Count(count) => Err(GenError::value(
                "up",
                format!("{count} ultrapeers: give 1 to n = {n}"),
            )),
            UltrapeerCount::Fraction(share) if share > 0.0 && share <= 1.0 => {
                Ok(((f64::from(n) * share).round() as u32).clamp(1, n))
            }
            UltrapeerCount::Fraction(share) => Err(GenError::value(
                "up",
                format!("{share} is not a share in (0, 1] (or give a whole number)"),
            )),
        }
    }
}

impl std::fmt::Display for UltrapeerCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UltrapeerCount::Count(count) => write!(f, "{count}"),
            // `{:?}` keeps the decimal point (0.5, 1.0), so the value parses back as a
            // share and never as a count.
            UltrapeerCount::Fraction(share) => write!(f, "{share:?}"),
        }
    }
}

/// A two-tier overlay's links, and which peers are ultrapeers (`true` at their index).
pub type TwoTierLinks = (Vec<(u32, u32)>, Vec<bool>);

/// The links of a two-tier overlay and which peers are ultrapeers.
///
/// `ups` ultrapeers drawn uniformly among `n` peers are linked by a uniform random graph
/// of mean degree `up_degree` (as `random:d=`); each leaf links to `leaf_links` distinct
/// ultrapeers drawn uniformly (all of them when there are fewer).
pub fn two_tier(
    n: u32,
    ups: u32,
    leaf_links: u32,
    up_degree: f64,
    rng: &mut ChaCha8Rng,
) -> Result<TwoTierLinks, GenError> {
    if leaf_links == 0 && ups < n {
        return Err(GenError::value(
            "leaf_links",
            "must be at least 1 (a leaf needs an ultrapeer)".to_string(),
        ));
    }
    let leaves = u64::from(n - ups);
    let per_leaf = leaf_links.min(ups);
    super::check_link_budget(leaves * u64::from(per_leaf))?;
    let up_ids: Vec<u32> = {
        let mut ids: Vec<u32> = index::sample(rng, n as usize, ups as usize)
            .into_iter()
            .map(|i| i as u32)
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut is_up = vec![false; n as usize];
    for &u in &up_ids {
        is_up[u as usize] = true;
    }
    let core = super::random::random_mean_degree(ups, up_degree, rng).map_err(|e| match e {
        GenError::Value { message, .. } => GenError::value("up_degree", message),
        other => other,
    })?;
    let mut edges: Vec<(u32, u32)> =
        Vec::with_capacity(core.len() + (leaves * u64::from(per_leaf)) as usize);
    edges.extend(
        core.into_iter()
            .map(|(a, b)| (up_ids[a as usize], up_ids[b as usize])),
    );
    for leaf in (0..n).filter(|&v| !is_up[v as usize]) {
        if per_leaf == ups {
            edges.extend(up_ids.iter().map(|&u| (u, leaf)));
            continue;
        }
        // A handful of draws among many ultrapeers: rejection of repeats is cheapest.
        let mut chosen: Vec<u32> = Vec::with_capacity(per_leaf as usize);
        while chosen.len() < per_leaf as usize {
            let u = up_ids[rng.gen_range(0..ups as usize)];
            if !chosen.contains(&u) {
                chosen.push(u);
            }
        }
        edges.extend(chosen.into_iter().map(|u| (u, leaf)));
    }
    Ok((edges, is_up))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::GenSpec;

    fn spec(text: &str) -> GenSpec {
        GenSpec::parse(text).expect("spec parses")
    }

    #[test]
    fn leaves_link_only_to_their_ultrapeers_and_ultrapeers_form_the_core() {
        let graph = spec("two-tier:n=2000,up=0.1,leaf_links=3,up_degree=12")
            .generate(5)
            .unwrap();
        let roles = graph.ultrapeers().expect("a two-tier graph has roles");
        assert_eq!(roles.iter().filter(|&&u| u).count(), 200);
        let mut core_degree = 0usize;
        for v in 0..2000u32 {
            let nbrs = graph.neighbours(v);
            if roles[v as usize] {
                core_degree += nbrs.iter().filter(|&&u| roles[u as usize]).count();
            } else {
                assert_eq!(nbrs.len(), 3, "leaf {v} has 3 ultrapeers");
                assert!(nbrs.iter().all(|&u| roles[u as usize]), "leaf {v}");
            }
        }
        // G(n, m) with m = n·d/2 exactly: the core's mean degree is d.
        assert_eq!(core_degree, 200 * 12);
        // Every leaf link ends at an ultrapeer: 1800 leaves × 3.
        assert_eq!(graph.link_count(), 200 * 12 / 2 + 1800 * 3);
    }

    #[test]
    fn same_seed_same_graph_other_seed_other_ultrapeers() {
        let s = spec("two-tier:n=500,up=50,leaf_links=2,up_degree=6");
        assert_eq!(s.generate(1).unwrap(), s.generate(1).unwrap());
        assert_ne!(
            s.generate(1).unwrap().ultrapeers(),
            s.generate(2).unwrap().ultrapeers()
        );
    }

    #[test]
    fn counts_and_shares_and_their_limits() {
        assert_eq!(UltrapeerCount::parse("0.25").unwrap().of(100), Ok(25));
        assert_eq!(UltrapeerCount::parse("7").unwrap().of(100), Ok(7));
        assert_eq!(UltrapeerCount::parse("0.001").unwrap().of(100), Ok(1));
        assert!(UltrapeerCount::parse("0").unwrap().of(100).is_err());
        assert!(UltrapeerCount::parse("101").unwrap().of(100).is_err());
        assert!(UltrapeerCount::parse("1.5").unwrap().of(100).is_err());
        assert!(UltrapeerCount::parse("many").is_err());
        let err = GenSpec::parse("two-tier:n=10,up=3,leaf_links=0").unwrap_err();
        assert!(err.to_string().contains("leaf_links"), "{err}");
        let err = GenSpec::parse("two-tier:n=10,up=3,up_degree=5").unwrap_err();
        assert!(err.to_string().contains("up_degree"), "{err}");
    }

    #[test]
    fn fewer_ultrapeers_than_leaf_links_links_every_leaf_to_all() {
        let graph = spec("two-tier:n=10,up=2,leaf_links=3,up_degree=1")
            .generate(3)
            .unwrap();
        let roles = graph.ultrapeers().unwrap();
        for v in (0..10u32).filter(|&v| !roles[v as usize]) {
            assert_eq!(graph.degree(v), 2);
        }
    }

    #[test]
    fn a_config_written_from_the_graph_carries_the_roles_back() {
        use crate::node::RoleSetting;
        use crate::topology::{ConfigOptions, Graph};
        let graph = spec("two-tier:n=50,up=5,leaf_links=2,up_degree=2")
            .generate(9)
            .unwrap();
        let config = graph.to_config(&ConfigOptions::default()).unwrap();
        let roles = graph.ultrapeers().unwrap();
        for (peer, &up) in config.peers.iter().zip(roles) {
            let expected = if up {
                RoleSetting::Ultrapeer
            } else {
                RoleSetting::Leaf
            };
            assert_eq!(peer.role, Some(expected), "{}", peer.id);
        }
        assert_eq!(Graph::from_config(&config).ultrapeers(), Some(roles));
        // A flat graph writes no role and reads back flat.
        let flat = spec("ring:n=5").generate(1).unwrap();
        let config = flat.to_config(&ConfigOptions::default()).unwrap();
        assert!(config.peers.iter().all(|p| p.role.is_none()));
        assert_eq!(Graph::from_config(&config).ultrapeers(), None);
    }

    #[test]
    fn the_spec_prints_back_to_itself() {
        for text in [
            "two-tier:n=1000,up=0.1,leaf_links=3,up_degree=10",
            "two-tier:n=1000,up=40,leaf_links=2,up_degree=7.5",
            "two-tier:n=1000,up=1.0,leaf_links=1,up_degree=4",
        ] {
            assert_eq!(spec(text).to_string(), text);
            assert_eq!(spec(&spec(text).to_string()), spec(text));
        }
        assert_eq!(
            spec("two-tier:n=1000").to_string(),
            "two-tier:n=1000,up=0.1,leaf_links=3,up_degree=10"
        );
    }
}
