//! The vocabulary of the routing core: time, connection ids, configuration, actions, events.

use std::net::SocketAddrV4;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::{Bye, Guid, Message, QueryHit, Sha1};

/// Driver time in microseconds since an epoch the driver chooses (virtual in the
/// simulator, monotonic wall clock in the live network).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);
    pub fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1000))
    }
    pub fn from_secs(s: u64) -> Time {
        Time(s.saturating_mul(1_000_000))
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn saturating_sub(self, other: Time) -> Time {
        Time(self.0.saturating_sub(other.0))
    }
    pub fn plus_micros(self, us: u64) -> Time {
        Time(self.0.saturating_add(us))
    }
}

/// A node-local handle for one neighbour link, chosen by the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u32);

/// What the driver knows about a neighbour when the link comes up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// The neighbour's listening address, if known (handshake `Listen-IP`/`Node`).
    pub listen_addr: Option<SocketAddrV4>,
    /// The neighbour advertised `Bye-Packet: 0.1`, so we may send it a Bye (PROTOCOL.md §2.6).
    pub accepts_bye: bool,
    /// The neighbour's servent GUID, if its handshake said (`GUID`, gtk-gnutella and us).
    /// The node also learns it from the neighbour's own hits (hops 0), so `None` is fine.
    pub servent_guid: Option<Guid>,
}

/// What the result cache does with a query it can answer (issue: "LRU result cache").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// No result cache.
    Off,
    /// Answer from the cache and still forward the query.
    #[default]
    AnswerAndForward,
    /// Answer from the cache and do not forward the query further.
    AnswerAndStop,
}

/// The LRU result cache settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub capacity: usize,
    pub max_age_secs: u64,
    pub mode: CacheMode,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: 1024,
            max_age_secs: 300,
            mode: CacheMode::AnswerAndForward,
        }
    }
}

/// What happens to a descriptor whose hops+TTL exceed `max_ttl`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverMaxTtl {
    /// Lower the TTL so hops+TTL = max_ttl (gtk-gnutella, LimeWire).
    #[default]
    Trim,
    /// Drop the descriptor.
    Drop,
}

/// How a node forwards a query (the seam the simulator's strategies plug into).
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
}

/// Everything a node is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeConfig {
    /// The address put in our QueryHits (where downloads come to) and Pongs.
    pub advertised_addr: SocketAddrV4,
    /// Our stable servent GUID (QueryHit trailer, Push target).
    pub servent_guid: Guid,
    /// Broadcast limit: hops+TTL above it is trimmed or dropped (`over_max_ttl`).
    pub max_ttl: u8,
    pub over_max_ttl: OverMaxTtl,
    /// Capacity and age limit of the duplicate table keyed by (GUID, payload type).
    pub seen_capacity: usize,
    pub seen_max_age_secs: u64,
    /// Capacity and age limit of the reverse-route table (Query/Ping GUID -> connection).
    pub route_capacity: usize,
    pub route_max_age_secs: u64,
    pub cache: CacheConfig,
    pub strategy: Strategy,
    /// Most hit records returned for one query (split into QueryHits of <= 10 records).
    pub max_results: usize,
}

impl NodeConfig {
    pub fn new(advertised_addr: SocketAddrV4, servent_guid: Guid) -> NodeConfig {
        NodeConfig {
            advertised_addr,
            servent_guid,
            max_ttl: 7,
            over_max_ttl: OverMaxTtl::Trim,
            seen_capacity: 100_000,
            seen_max_age_secs: 600,
            route_capacity: 100_000,
            route_max_age_secs: 600,
            cache: CacheConfig::default(),
            strategy: Strategy::Flood,
            max_results: 50,
        }
    }
}

/// A search the local user starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// Keywords (may be empty when `sha1` is set).
    pub words: String,
    pub sha1: Option<Sha1>,
    pub ttl: u8,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put `msg` on the link `to`.
    Send { to: ConnId, msg: Message },
    /// Close the link, after sending `bye` if the neighbour accepts Bye.
    Close { conn: ConnId, bye: Option<Bye> },
}

/// Why a descriptor was not handled or not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Already seen (GUID, type) within the age limit.
    Duplicate,
    /// TTL reached 0 after this hop: handled here, not forwarded.
    TtlExpired,
    /// hops+TTL above the configured maximum and the policy is to drop.
    OverMaxTtl,
    /// A reply (QueryHit, Pong, Push) whose reverse route is unknown or gone.
    NoRoute,
    /// A QueryHit (some peer's cache answer) whose next hop is the servent it names.
    BackToHolder,
    /// Larger than the forwarding limit for its type.
    TooBig,
    /// Malformed payload.
    BadPayload,
    /// A payload type we do not handle.
    UnknownType,
    /// Query criteria too short or too long (PROTOCOL.md §2.3).
    BadQuery,
    /// Answered from the result cache and not forwarded (`answer-and-stop`).
    AnsweredFromCache,
    /// Dropped by the driver's send queue (flow control).
    QueueFull,
}

/// Metrics: what happened at this node, for the driver to fold into per-query records.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// We originated a query with this GUID.
    SearchStarted { guid: Guid, words: String, ttl: u8 },
    /// The first copy of a query reached us (`hops` after our increment).
    QueryReceived { guid: Guid, from: ConnId, hops: u8 },
    /// We put `count` descriptors of payload type `kind` for this GUID on links.
    Sent { guid: Guid, kind: u8, count: u32 },
    /// A descriptor for this GUID was dropped here.
    Dropped {
        guid: Guid,
        kind: u8,
        reason: DropReason,
    },
    /// We answered a query with `records` records, from our library or our result cache.
    Answered {
        guid: Guid,
        records: u32,
        from_cache: bool,
    },
    /// A hit for one of our own searches arrived.
    HitReceived {
        guid: Guid,
        /// Hops from us to the peer that answered: the holder, or for an answer from a
        /// result cache, the peer that answered from its cache.
        hops: u8,
        hit: Arc<QueryHit>,
        /// `Some(h)` when a peer answered from its result cache (our marker,
        /// `protocol::cache_mark`): the holder was `h` hops from that peer, so the hit
        /// made `hops + h` hops in all and its holder may lie beyond the query's TTL.
        cached: Option<u8>,
    },
}
