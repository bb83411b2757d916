//! How much memory a simulation (or a generated graph) will take, and how much there is.
//!
//! A run too large for the machine used to die with an allocation failure and a
//! backtrace after minutes of work (`--gen random:n=50000000` under a 4 GB limit). The
//! CLI now compares an estimate with the memory available before it allocates, and
//! refuses with a message (`--force` runs anyway).
//!
//! The estimate is a calibrated formula, not a measurement. Peak resident sets measured
//! with `/usr/bin/time -v gnutella sim ...` on the development machine (release build;
//! nodes in a slab behind a zeroed index, `sim::node_table`, their links a count instead
//! of a list, `node::neighbours`). The first seven rows were measured with 80-byte nodes
//! (`node::setting`), 20-byte queued deliveries, a one-byte mirror per link slot
//! (`sim::queue`, `sim::links`) and per-peer columns written only when used
//! (`sim::peer_column`); the others, older, with larger tables, which the formula still
//! covers. (The 2,000,000-peer TTL-1 run peaks at its end, when the report lists every
//! peer's message count: 8 bytes a peer.)
//!
//! | run | peak RSS | formula |
//! |---|---|---|
//! | `--gen ring:n=1000000 --ttl 1 --queries 1` | 54 MB | 298 MB |
//! | `--gen random:n=2000000,d=4 --ttl 1 --queries 1` | 141 MB | 632 MB |
//! | `--gen random:n=1000000,d=4 --ttl 12 --queries 1` | 151 MB | 316 MB |
//! | `--gen random:n=1000000,d=4 --ttl 12 --queries 4` | 570 MB | 1246 MB |
//! | `--gen ba:n=100000,m=2 --queries 40` | 347 MB | 629 MB |
//! | `--gen ba:n=100000,m=2 --queries 100` | 886 MB | 965 MB |
//! | `--gen ba:n=100000,m=2 --strategy flood+cache --zipf 1.0 --queries 100` (1397 MB before the result cache noted queries in `node::asked_log`) | 1088 MB | 1.9 GB |
//! | `--gen ba:n=100000,m=2 --strategy flood+cache --zipf 1.0 --queries 1000` (measured with 320-byte nodes) | 2557 MB | 3.3 GB |
//! | `--gen ba:n=1000000,m=2 --queries 1000 --seen-capacity 8` (`QUERIES_B=1000 scripts/bench-sim.sh b`; measured before the slab, 1361 MB) | | 1.8 GB |
//! | `--gen random:n=100000,d=4 --overlay dynamic --queries 10` | 1301 MB | 1.4 GB |
//!
//! Per peer 56 bytes (its node-index entry, link offsets, message count, placement, and
//! presence and timer slots in runs that use them), per link 18 bytes (each end's neighbour entry and mirror
//! byte, and the generator's share): a run whose searches reach few peers costs little
//! more (the two TTL-1 rows). A peer a search reaches costs 84 bytes more (its 80-byte
//! node, built on first use, in a slab grown by doubling); each search it remembers 140
//! bytes (duplicate table and reverse routes, at most `seen_capacity`, and its share of
//! the event queue), plus 510 once it holds two or more (the route table's heap part,
//! its first map and the queue of searches in flight together); each cached answer 90
//! bytes (at most `cache.capacity`). The formula
//! assumes every search reaches every peer (a flood that covers the graph), so it is an
//! upper bound: walkers, small TTLs and cache answers stay well below it.
//!
//! A dynamic overlay adds, per peer, 300 bytes (its link list, id counter, saved-cache
//! slot and the node's overlay state), 32 per link it may hold (`max_degree`) and 110 per
//! host-cache entry (`host_cache`, 100 by default: some 11 KB a peer, the bulk of such a
//! run); a static run holds none of it.
//!
//! A two-tier run (peers with roles: `qrp`, `dq`) holds QRP tables of 2^17 one-bit slots,
//! 16 KiB each (`node::qrp_table::DEFAULT_BITS`): every peer its own, every ultrapeer its
//! merged one, and the table each link's other end sent (a leaf's at its ultrapeer, an
//! ultrapeer's at each ultrapeer neighbour; leaves keep none). `--gen
//! two-tier:n=2000,up=0.1,leaf_links=3,up_degree=10 --strategy qrp --ttl 4 --replicas 10
//! --queries 50`: 9,600 tables, 171 MB measured (20 MB as a flat `flood` on the same
//! graph), 174 MB by the formula; `two-tier:n=5000` (`experiments/two-tier.json`'s graph,
//! `qrp --ttl 3 --queries 100`): 24,000 tables, 422 MB measured, 444 MB by the formula. Real servents send no smaller tables: gtk-gnutella's
//! are 2^16 slots at least (`MIN_TABLE_BITS`), LimeWire's 2^16 or more.
//!
//! A generated graph alone (`topology gen|stats`) peaks at about 20 bytes per node and
//! 26 per link (`topology stats --gen random:n=2000000,d=4`: 131 MB).

use std::path::Path;

/// Bytes per peer of the simulator's tables, whether or not a search reaches it.
pub const BYTES_PER_PEER: u64 = 56;
/// Bytes per link (both directions).
pub const BYTES_PER_LINK: u64 = 18;
/// Bytes of a node built when a search first reaches its peer.
pub const BYTES_PER_REACHED_PEER: u64 = 84;
/// Bytes per search a node remembers (duplicate detection and reverse routes).
pub const BYTES_PER_HELD_SEARCH: u64 = 140;
/// Bytes once a node remembers two searches or more (its duplicate table's heap part and
/// first map; one search is held inline).
pub const BYTES_PER_SEARCH_TABLE: u64 = 510;
/// Bytes per entry of a node's result cache.
pub const BYTES_PER_CACHE_ENTRY: u64 = 90;
/// Bytes of one QRP table a node holds (2^17 one-bit slots and their headers).
pub const BYTES_PER_QRP_TABLE: u64 = (1 << crate::node::qrp_table::DEFAULT_BITS) / 8 + 64;
/// Generator peak per node and per link.
pub const GRAPH_BYTES_PER_NODE: u64 = 20;
pub const GRAPH_BYTES_PER_LINK: u64 = 26;

/// Bytes per peer of a dynamic overlay's tables besides its links and host cache (the
/// link list's header and id counter, the saved host cache's slot, the node's overlay
/// policy state).
pub const DYNAMIC_BYTES_PER_PEER: u64 = 300;
/// Bytes per link a dynamic overlay's peer may hold (a `DynLink` and its share of the
/// list's growth).
pub const DYNAMIC_BYTES_PER_LINK: u64 = 32;
/// Bytes per entry of a host cache, held by its node and again, as a saved host file,
/// while its peer is offline.
pub const BYTES_PER_HOST_ENTRY: u64 = 110;

/// A dynamic overlay's size limits, for the estimate (`SimShape::dynamic`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynamicShape {
    /// Links a peer holds at most (`overlay.max_degree`).
    pub max_degree: u64,
    /// Host-cache entries per peer (`overlay.host_cache`).
    pub host_cache: u64,
}

/// What a simulation holds, for the estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimShape {
    pub peers: u64,
    pub links: u64,
    /// Searches in the run.
    pub queries: u64,
    /// Searches a node remembers at most (`seen_capacity`).
    pub seen_capacity: u64,
    /// Result-cache entries a node holds at most (0 when caching is off).
    pub cache_capacity: u64,
    /// A dynamic overlay's limits; `None` for a static overlay, which holds no such
    /// tables.
    pub dynamic: Option<DynamicShape>,
    /// QRP tables the run's nodes hold ([`qrp_tables`]; 0 without roles).
    pub qrp_tables: u64,
}

/// QRP tables a two-tier run holds, from each peer's role (`ultrapeer[v]`; a leaf
/// otherwise) and the links: one per peer (its own), one more per ultrapeer (its merged
/// table), one per leaf link (the leaf's, at its ultrapeer) and two per ultrapeer link
/// (each end's merged table at the other).
pub fn qrp_tables(ultrapeer: &[bool], links: impl Iterator<Item = (u32, u32)>) -> u64 {
    let up = |v: u32| ultrapeer.get(v as usize).copied().unwrap_or(false);
    let held: u64 = links
        .map(|(a, b)| match (up(a), up(b)) {
            (true, true) => 2,
            (false, false) => 0,
            _ => 1,
        })
        .sum();
    let ups = ultrapeer.iter().filter(|&&u| u).count() as u64;
    held + ultrapeer.len() as u64 + ups
}

impl SimShape {
    /// Searches a node holds at once, at most (its table's two generations together
    /// hold at most `seen_capacity`).
    pub fn held_searches(&self) -> u64 {
        self.queries.min(self.seen_capacity)
    }

    /// Cache entries a node holds at most.
    pub fn cache_entries(&self) -> u64 {
        self.queries.min(self.cache_capacity)
    }

    /// Upper bound of the run's memory in bytes (every search reaches every peer).
    pub fn estimate_bytes(&self) -> u64 {
        let per_peer = BYTES_PER_PEER
            + BYTES_PER_REACHED_PEER
            + BYTES_PER_HELD_SEARCH.saturating_mul(self.held_searches())
            + if self.held_searches() >= 2 {
                BYTES_PER_SEARCH_TABLE
            } else {
                0
            }
            + BYTES_PER_CACHE_ENTRY.saturating_mul(self.cache_entries())
            + self.dynamic.map_or(0, |d| {
                DYNAMIC_BYTES_PER_PEER
                    + DYNAMIC_BYTES_PER_LINK.saturating_mul(d.max_degree)
                    + BYTES_PER_HOST_ENTRY.saturating_mul(d.host_cache)
            });
        self.peers
            .saturating_mul(per_peer)
            .saturating_add(self.links.saturating_mul(BYTES_PER_LINK))
            .saturating_add(self.qrp_tables.saturating_mul(BYTES_PER_QRP_TABLE))
    }
}

/// Peak bytes of generating a graph of `nodes` and `links`.
pub fn graph_bytes(nodes: u64, links: u64) -> u64 {
    nodes
        .saturating_mul(GRAPH_BYTES_PER_NODE)
        .saturating_add(links.saturating_mul(GRAPH_BYTES_PER_LINK))
}

/// Memory this process may still use, and where the figure comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Available {
    pub bytes: u64,
    pub source: &'static str,
}

/// The smaller of the system's `MemAvailable` and the room left under this process's
/// cgroup memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`); `None` when neither
/// can be read (not Linux).
pub fn available() -> Option<Available> {
    let system = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| meminfo_available(&text))
        .map(|bytes| Available {
            bytes,
            source: "MemAvailable in /proc/meminfo",
        });
    let cgroup = cgroup_room().map(|bytes| Available {
        bytes,
        source: "the cgroup memory limit",
    });
    match (system, cgroup) {
        (Some(a), Some(b)) => Some(if b.bytes < a.bytes { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// `MemAvailable` in bytes from the text of /proc/meminfo.
pub fn meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Room left under the cgroup limit, when one is set.
fn cgroup_room() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // cgroup v2: "0::/path"; the limit may sit on the group or on any parent.
    if let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) {
        let mut dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        let mut best: Option<u64> = None;
        loop {
            let max = read_limit(&dir.join("memory.max"));
            let current = read_limit(&dir.join("memory.current")).unwrap_or(0);
            if let Some(max) = max {
                let room = max.saturating_sub(current);
                best = Some(best.map_or(room, |b| b.min(room)));
            }
            if dir == Path::new("/sys/fs/cgroup") || !dir.pop() {
                break;
            }
        }
        if best.is_some() {
            return best;
        }
    }
    // cgroup v1.
    let max = read_limit(Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes"))?;
    let used = read_limit(Path::new("/sys/fs/cgroup/memory/memory.usage_in_bytes")).unwrap_or(0);
    // v1 says "no limit" with a number near 2^63.
    (max < 1 << 60).then(|| max.saturating_sub(used))
}

/// A limit file's number; "max" (no limit) and unreadable files are `None`.
fn read_limit(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `bytes` in the unit a person reads best: "840 MB", "3.4 GB".
pub fn human_bytes(bytes: u64) -> String {
    const GB: f64 = 1e9;
    const MB: f64 = 1e6;
    let b = bytes as f64;
    if b >= GB {
        format!("{:.1} GB", b / GB)
    } else {
        format!("{:.0} MB", (b / MB).max(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formula_bounds_the_measured_runs() {
        // ring:n=1000000, one search of TTL 1: 54 MB measured (the bound assumes the
        // search reaches every peer).
        let ring = SimShape {
            peers: 1_000_000,
            links: 1_000_000,
            queries: 1,
            seen_capacity: 64,
            cache_capacity: 0,
            dynamic: None,
            qrp_tables: 0,
        };
        assert!((54e6..600e6).contains(&(ring.estimate_bytes() as f64)));
        // random:n=1000000,d=4, TTL 12: one flood 151 MB, four 570 MB measured.
        let random = SimShape {
            peers: 1_000_000,
            links: 2_000_000,
            ..ring
        };
        assert!((151e6..450e6).contains(&(random.estimate_bytes() as f64)));
        let four = SimShape {
            queries: 4,
            ..random
        };
        assert!((570e6..1400e6).contains(&(four.estimate_bytes() as f64)));
        // ba:n=100000,m=2, 40 floods: 347 MB measured; 100 floods: 886 MB.
        let ba = SimShape {
            peers: 100_000,
            links: 199_997,
            queries: 40,
            seen_capacity: 64,
            cache_capacity: 0,
            dynamic: None,
            qrp_tables: 0,
        };
        assert!((347e6..700e6).contains(&(ba.estimate_bytes() as f64)));
        let hundred = SimShape { queries: 100, ..ba };
        assert!((886e6..1100e6).contains(&(hundred.estimate_bytes() as f64)));
        // A node holds at most `seen_capacity` searches: the benchmark's million-peer
        // run with --seen-capacity 8 and 1000 floods peaked at 1361 MB (before the slab).
        let many = SimShape {
            queries: 1000,
            ..ba
        };
        assert_eq!(many.held_searches(), 64);
        let bench = SimShape {
            peers: 1_000_000,
            links: 2_000_000,
            queries: 1000,
            seen_capacity: 8,
            cache_capacity: 0,
            dynamic: None,
            qrp_tables: 0,
        };
        assert!((1361e6..2100e6).contains(&(bench.estimate_bytes() as f64)));
    }

    #[test]
    fn a_dynamic_overlay_counts_its_tables() {
        // random:n=100000,d=4 --overlay dynamic --queries 10: 1301 MB measured.
        let stat = SimShape {
            peers: 100_000,
            links: 200_000,
            queries: 10,
            seen_capacity: 64,
            cache_capacity: 0,
            dynamic: None,
            qrp_tables: 0,
        };
        let dynamic = SimShape {
            dynamic: Some(DynamicShape {
                max_degree: 8,
                host_cache: 100,
            }),
            ..stat
        };
        assert!(stat.estimate_bytes() < 300e6 as u64);
        assert!((1301e6..1500e6).contains(&(dynamic.estimate_bytes() as f64)));
    }

    #[test]
    fn a_two_tier_run_counts_its_qrp_tables() {
        // Ultrapeers 0 and 1 linked; leaves 2 and 3 on both: 4 own tables, 2 merged,
        // 2 at the ends of the ultrapeer link, 4 leaves' tables at their ultrapeers.
        let ultrapeer = [true, true, false, false];
        let links = [(0, 1), (2, 0), (2, 1), (0, 3), (1, 3)];
        assert_eq!(qrp_tables(&ultrapeer, links.iter().copied()), 12);
        // two-tier:n=2000,up=0.1,leaf_links=3,up_degree=10, qrp, 50 searches: 171 MB
        // measured, 20 MB as a flat flood on the same graph (no tables).
        let flat = SimShape {
            peers: 2000,
            links: 6400,
            queries: 50,
            seen_capacity: 64,
            cache_capacity: 0,
            dynamic: None,
            qrp_tables: 0,
        };
        let two_tier = SimShape {
            qrp_tables: 2000 + 200 + 1800 * 3 + 2 * 1000,
            ..flat
        };
        assert!(flat.estimate_bytes() < 30e6 as u64);
        assert!((171e6..200e6).contains(&(two_tier.estimate_bytes() as f64)));
    }

    #[test]
    fn meminfo_is_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   22000000 kB\n";
        assert_eq!(meminfo_available(text), Some(22_000_000 * 1024));
        assert_eq!(meminfo_available("MemTotal: 3 kB\n"), None);
        assert_eq!(human_bytes(3_400_000_000), "3.4 GB");
        assert_eq!(human_bytes(840_000_000), "840 MB");
    }
}
