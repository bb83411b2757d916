//! An undirected graph in compressed sparse row form: the shape the simulator walks and
//! the statistics measure, small enough for a million nodes and millions of links
//! (4 bytes per link end, 8 per node).
//!
//! Nodes are `0..n` as `u32`; each node's neighbours are a sorted slice. Links have no
//! direction, no duplicates and no self loops, whatever the edge list they came from.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::node::{Role, RoleSetting};
use crate::topology::config::{Defaults, LinkConfig, PeerConfig, TopologyConfig};
use crate::topology::link_model::{LatencySpec, DEFAULT_LATENCY_MS};

/// An undirected simple graph, optionally with a latency (ms) and a loss rate per link.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// `neighbours[offsets[v]..offsets[v + 1]]` are v's neighbours; `offsets.len() == n + 1`.
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
    /// Parallel to `neighbours`: the latency of each link end, both ends equal.
    latencies: Option<Vec<f32>>,
    /// Parallel to `neighbours`: the loss rate of each link end, both ends equal (only
    /// when some link loses messages).
    losses: Option<Vec<f32>>,
    /// Which nodes are ultrapeers (`true`) and which leaves, when the graph is a two-tier
    /// overlay (a `two-tier` generator or a config giving roles); `None` for a flat one.
    ultrapeers: Option<Vec<bool>>,
}

impl Graph {
    /// A graph of `n` nodes from links given in any order and direction; self loops and
    /// repeated links are dropped. Endpoints must be `< n` (others are dropped too).
    pub fn from_edges(n: usize, edges: &[(u32, u32)]) -> Graph {
        let mut norm: Vec<(u32, u32)> = edges
            .iter()
            .filter(|&&(a, b)| a != b && (a as usize) < n && (b as usize) < n)
            .map(|&(a, b)| (a.min(b), a.max(b)))
            .collect();
        // A radix sort: a generated million-peer graph's links sort in a few linear
        // passes instead of a comparison sort's ~20 (equal keys are equal pairs, so its
        // stability changes nothing).
        radsort::sort_by_key(&mut norm, |&(a, b)| (a, b));
        norm.dedup();
        Graph::from_sorted_unique(n, &norm, None, None)
    }

    /// Like [`from_edges`](Self::from_edges) with a latency in ms per link; of repeated
    /// links the first one's latency is kept.
    pub fn from_edges_with_latency(n: usize, edges: &[(u32, u32, f32)]) -> Graph {
        let mut norm: Vec<(u32, u32, usize)> = edges
            .iter()
            .enumerate()
            .filter(|(_, &(a, b, _))| a != b && (a as usize) < n && (b as usize) < n)
            .map(|(i, &(a, b, _))| (a.min(b), a.max(b), i))
            .collect();
        norm.sort_unstable();
        norm.dedup_by_key(|e| (e.0, e.1));
        let pairs: Vec<(u32, u32)> = norm.iter().map(|e| (e.0, e.1)).collect();
        let lat: Vec<f32> = norm.iter().map(|e| edges[e.2].2).collect();
        Graph::from_sorted_unique(n, &pairs, Some(&lat), None)
    }

    /// `edges` sorted, deduplicated, each `(a, b)` with `a < b < n`; `lat` and `loss`
    /// parallel to `edges`.
    fn from_sorted_unique(
        n: usize,
        edges: &[(u32, u32)],
        lat: Option<&[f32]>,
        loss: Option<&[f32]>,
    ) -> Graph {
        let mut offsets = vec![0usize; n + 1];
        for &(a, b) in edges {
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        for v in 0..n {
            offsets[v + 1] += offsets[v];
        }
        let mut fill = offsets.clone();
        let mut neighbours = vec![0u32; 2 * edges.len()];
        let mut latencies = lat.map(|_| vec![0f32; 2 * edges.len()]);
        let mut losses = loss.map(|_| vec![0f32; 2 * edges.len()]);
        // Edges sorted by (a, b) fill every list in ascending order: a node's lower
        // neighbours all come from edges sorted before its own higher ones.
        for (i, &(a, b)) in edges.iter().enumerate() {
            let (ia, ib) = (fill[a as usize], fill[b as usize]);
            neighbours[ia] = b;
            neighbours[ib] = a;
            if let (Some(out), Some(lat)) = (latencies.as_mut(), lat) {
                out[ia] = lat[i];
                out[ib] = lat[i];
            }
            if let (Some(out), Some(loss)) = (losses.as_mut(), loss) {
                out[ia] = loss[i];
                out[ib] = loss[i];
            }
            fill[a as usize] += 1;
            fill[b as usize] += 1;
        }
        Graph {
            offsets,
            neighbours,
            latencies,
            losses,
            ultrapeers: None,
        }
    }

    /// The graph with roles: `ultrapeers[v]` says whether node `v` is an ultrapeer (a
    /// list of another length is cut or padded with leaves).
    pub fn with_ultrapeers(mut self, mut ultrapeers: Vec<bool>) -> Graph {
        ultrapeers.resize(self.node_count(), false);
        self.ultrapeers = Some(ultrapeers);
        self
    }

    /// Which nodes are ultrapeers, when the graph is a two-tier overlay.
    pub fn ultrapeers(&self) -> Option<&[bool]> {
        self.ultrapeers.as_deref()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of (undirected) links.
    pub fn link_count(&self) -> usize {
        self.neighbours.len() / 2
    }

    /// Number of neighbours of `v`.
    pub fn degree(&self, v: u32) -> usize {
        let v = v as usize;
        self.offsets[v + 1] - self.offsets[v]
    }

    /// The neighbours of `v`, ascending.
    pub fn neighbours(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.neighbours[self.offsets[v]..self.offsets[v + 1]]
    }

    /// The latencies (ms) of `v`'s links, parallel to [`neighbours`](Self::neighbours),
    /// when the graph has latencies.
    pub fn latencies(&self, v: u32) -> Option<&[f32]> {
        let v = v as usize;
        self.latencies
            .as_ref()
            .map(|l| &l[self.offsets[v]..self.offsets[v + 1]])
    }

    /// Whether the graph carries per-link latencies.
    pub fn has_latencies(&self) -> bool {
        self.latencies.is_some()
    }

    /// The loss rates of `v`'s links, parallel to [`neighbours`](Self::neighbours), when
    /// some link of the graph loses messages.
    pub fn losses(&self, v: u32) -> Option<&[f32]> {
        let v = v as usize;
        self.losses
            .as_ref()
            .map(|l| &l[self.offsets[v]..self.offsets[v + 1]])
    }

    /// Whether the graph carries per-link loss rates.
    pub fn has_losses(&self) -> bool {
        self.losses.is_some()
    }

    /// Forgets the per-link loss rates (a run that sets one loss rate for every link).
    pub fn clear_losses(&mut self) {
        self.losses = None;
    }

    /// Whether `a` and `b` are linked (binary search).
    pub fn has_link(&self, a: u32, b: u32) -> bool {
        (a as usize) < self.node_count() && self.neighbours(a).binary_search(&b).is_ok()
    }

    /// Every link once, as `(a, b)` with `a < b`, ascending.
    pub fn links(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.node_count() as u32).flat_map(move |a| {
            self.neighbours(a)
                .iter()
                .filter(move |&&b| b > a)
                .map(move |&b| (a, b))
        })
    }

    /// The raw CSR arrays `(offsets, neighbours)` for tight loops.
    pub fn csr(&self) -> (&[usize], &[u32]) {
        (&self.offsets, &self.neighbours)
    }

    /// The graph of a topology config: peer `i` is node `i`, with each link's latency
    /// and loss from the config's [`LinkModel`](crate::topology::LinkModel). When the
    /// config gives any latency, every link gets one (links it leaves out get
    /// [`DEFAULT_LATENCY_MS`]); otherwise the graph has none and the simulator applies its
    /// own. Loss rates are kept only when some link loses messages.
    pub fn from_config(config: &TopologyConfig) -> Graph {
        let links = config.links_with_params();
        let n = config.peers.len();
        let pairs: Vec<(u32, u32)> = links.iter().map(|l| (l.0 as u32, l.1 as u32)).collect();
        let lat: Option<Vec<f32>> = links.iter().any(|l| l.2.latency_ms.is_some()).then(|| {
            links
                .iter()
                .map(|l| l.2.latency_ms.unwrap_or(DEFAULT_LATENCY_MS) as f32)
                .collect()
        });
        let loss: Option<Vec<f32>> = links
            .iter()
            .any(|l| l.2.loss > 0.0)
            .then(|| links.iter().map(|l| l.2.loss as f32).collect());
        let graph = Graph::from_sorted_unique(n, &pairs, lat.as_deref(), loss.as_deref());
        // Roles, when the config gives any (a peer without one is a flat relay, which
        // neighbours treat as an ultrapeer).
        let default = config.defaults.routing.role;
        let roles: Vec<Option<Role>> = config
            .peers
            .iter()
            .map(|p| p.role.or(default).map(RoleSetting::role))
            .collect();
        if roles.iter().any(Option::is_some) {
            let ultrapeers = roles
                .iter()
                .map(|r| r.map_or(true, |r| r == Role::Ultrapeer))
                .collect();
            return graph.with_ultrapeers(ultrapeers);
        }
        graph
    }

    /// A topology config for this graph: peers `p0..p{n-1}` on `options.host` with
    /// consecutive ports from `options.base_port` (or all port 0), each listing all its
    /// neighbours, and its `role` when the graph is two-tier. Per-link latencies and loss rates become `links` entries.
    pub fn to_config(&self, options: &ConfigOptions) -> Result<TopologyConfig, AddressError> {
        let n = self.node_count();
        let base_port = options.base_port.filter(|&p| p != 0);
        if let Some(base) = base_port {
            let last = (u64::from(base) + n as u64).saturating_sub(1);
            if last > 65535 {
                return Err(AddressError {
                    nodes: n,
                    base_port: base,
                });
            }
        }
        let peers = (0..n as u32)
            .map(|v| PeerConfig {
                id: format!("p{v}"),
                listen: SocketAddrV4::new(options.host, base_port.map_or(0, |b| b + v as u16)),
                neighbours: self.neighbours(v).iter().map(|u| format!("p{u}")).collect(),
                share: Default::default(),
                max_ttl: None,
                cache: None,
                strategy: None,
                role: self.ultrapeers.as_ref().map(|up| {
                    if up[v as usize] {
                        RoleSetting::Ultrapeer
                    } else {
                        RoleSetting::Leaf
                    }
                }),
            })
            .collect();
        let links = if self.latencies.is_none() && self.losses.is_none() {
            Vec::new()
        } else {
            self.links()
                .map(|(a, b)| LinkConfig {
                    between: [format!("p{a}"), format!("p{b}")],
                    latency_ms: self
                        .latency_of(a, b)
                        .map(|ms| LatencySpec::Fixed(f64::from(ms))),
                    loss: self.loss_of(a, b).map(f64::from),
                })
                .collect()
        };
        Ok(TopologyConfig {
            name: options.name.clone(),
            defaults: options.defaults.clone(),
            peers,
            links,
            workload: Default::default(),
            overlay: Default::default(),
            base_dir: Default::default(),
        })
    }

    /// The latency of link `a`-`b`, if the graph has latencies and the link exists.
    pub fn latency_of(&self, a: u32, b: u32) -> Option<f32> {
        let i = self.neighbours(a).binary_search(&b).ok()?;
        self.latencies(a).and_then(|l| l.get(i).copied())
    }

    /// The loss rate of link `a`-`b`, if the graph has loss rates and the link exists.
    pub fn loss_of(&self, a: u32, b: u32) -> Option<f32> {
        let i = self.neighbours(a).binary_search(&b).ok()?;
        self.losses(a).and_then(|l| l.get(i).copied())
    }
}

/// How [`Graph::to_config`] assigns names and addresses.
#[derive(Clone, Debug)]
pub struct ConfigOptions {
    pub name: String,
    pub host: Ipv4Addr,
    /// First port; `None` (or `Some(0)`) gives every peer port 0, so the launcher picks
    /// ephemeral ports.
    pub base_port: Option<u16>,
    pub defaults: Defaults,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        ConfigOptions {
            name: String::new(),
            host: Ipv4Addr::LOCALHOST,
            base_port: Some(6346),
            defaults: Defaults::default(),
        }
    }
}

/// Consecutive ports from the base port do not fit below 65536.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{nodes} peers need ports {base_port}..{} on one address, but ports end at 65535; {}",
    (u64::from(*base_port) + *nodes as u64).saturating_sub(1),
    self.hint()
)]
pub struct AddressError {
    pub nodes: usize,
    pub base_port: u16,
}

/// Ports from here up are not privileged.
const FIRST_USER_PORT: usize = 1024;

impl AddressError {
    /// What would fit: a lower base port while one exists above the privileged ports,
    /// otherwise port 0 (which `sim` ignores and `launch` turns into free ports).
    fn hint(&self) -> String {
        let port_zero =
            "--port-zero (every peer gets port 0: `launch` picks free ports, `sim` ignores them)";
        if self.nodes + FIRST_USER_PORT <= 65536 {
            format!(
                "use --base-port {} or lower, or {port_zero}",
                65536 - self.nodes
            )
        } else {
            format!("use {port_zero}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_is_undirected_sorted_and_simple() {
        let g = Graph::from_edges(4, &[(2, 0), (0, 2), (1, 1), (3, 0), (1, 2), (9, 1)]);
        assert_eq!(g.link_count(), 3);
        assert_eq!(g.neighbours(0), &[2, 3]);
        assert_eq!(g.neighbours(2), &[0, 1]);
        assert_eq!(g.links().collect::<Vec<_>>(), vec![(0, 2), (0, 3), (1, 2)]);
    }

    #[test]
    fn config_round_trip_keeps_links_and_latency() {
        let g = Graph::from_edges_with_latency(3, &[(0, 1, 5.0), (1, 2, 7.5)]);
        let c = g.to_config(&ConfigOptions::default()).unwrap();
        c.validate().unwrap();
        assert_eq!(c.peers[2].listen.port(), 6348);
        let back = Graph::from_config(&TopologyConfig::parse(&c.to_json_pretty()).unwrap());
        assert_eq!(back, g);
        assert_eq!(back.latency_of(2, 1), Some(7.5));
    }

    #[test]
    fn ports_must_fit() {
        let g = Graph::from_edges(10, &[]);
        let opts = ConfigOptions {
            base_port: Some(65530),
            ..Default::default()
        };
        let err = g.to_config(&opts).unwrap_err().to_string();
        assert!(err.contains("--base-port 65526 or lower"), "{err}");
    }

    #[test]
    fn too_many_peers_for_one_address_are_pointed_at_port_zero() {
        let g = Graph::from_edges(100_000, &[]);
        let err = g
            .to_config(&ConfigOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("ports 6346..106345"), "{err}");
        assert!(err.contains("use --port-zero"), "{err}");
        assert!(
            !err.contains("--base-port"),
            "a lower base port cannot help: {err}"
        );
        let zero = ConfigOptions {
            base_port: None,
            ..Default::default()
        };
        assert!(g.to_config(&zero).is_ok());
    }
}
