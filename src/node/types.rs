//! The vocabulary of the routing core: time, connection ids, configuration, actions, events.

use std::net::SocketAddrV4;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::request::Request;
use super::role::Role;
use super::strategy::StrategySpec;
use crate::protocol::{Bye, Guid, Message, QueryHit, Sha1};

/// Driver time in microseconds since an epoch the driver chooses (virtual in the
/// simulator, monotonic wall clock in the live network).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    pub const ZERO: Time = Time(0);
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1000))
    }
    pub const fn from_secs(s: u64) -> Time {
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
    /// The neighbour's role (`X-Ultrapeer` in the handshake; the placement in the
    /// simulator). A neighbour that says nothing is a relay: [`Role::Ultrapeer`].
    pub role: Role,
    /// The neighbour takes QRP tables from us: `X-Query-Routing` from an ultrapeer we
    /// are a leaf of, `X-Ultrapeer-Query-Routing` between ultrapeers (last-hop QRP).
    pub query_routing: bool,
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

/// A search the local user starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// Keywords (may be empty when `sha1` is set).
    pub words: String,
    pub sha1: Option<Sha1>,
    pub ttl: u8,
}

impl SearchRequest {
    /// The search a user means by typing `words`: `urn:sha1:...` searches by hash,
    /// anything else by keywords. Every driver reads workloads through this, so the same
    /// entry is the same search live and simulated.
    pub fn from_words(words: &str, ttl: u8) -> SearchRequest {
        match Sha1::from_urn(words.trim()) {
            Some(sha1) => SearchRequest {
                words: String::new(),
                sha1: Some(sha1),
                ttl,
            },
            None => SearchRequest {
                words: words.to_string(),
                sha1: None,
                ttl,
            },
        }
    }
}

impl Event {
    /// The GUID of the descriptor or search the event is about.
    pub fn guid(&self) -> Guid {
        match self {
            Event::SearchStarted { guid, .. }
            | Event::QueryReceived { guid, .. }
            | Event::Reforwarded { guid, .. }
            | Event::Sent { guid, .. }
            | Event::Dropped { guid, .. }
            | Event::Answered { guid, .. }
            | Event::HitReceived { guid, .. } => *guid,
        }
    }
}

/// Everything a node asks of its driver, one at a time from [`crate::node::Node::poll_output`]
/// (see its drain rule).
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Put `msg` on the link `to`.
    Send { to: ConnId, msg: Message },
    /// Close the link, after sending `bye` if the neighbour accepts Bye.
    Close { conn: ConnId, bye: Option<Bye> },
    /// Something only the driver can do (walker check-backs, connect-backs); every
    /// request has a fallback in the node, so a driver may answer it or let it go.
    Request(Request),
    /// Metrics, for the driver to fold into records (and log).
    Event(Event),
    /// Open a link to the servent listening at this address (a dynamic overlay below its
    /// minimum degree). The driver answers with `on_connected` (its `listen_addr` being
    /// this address) or `on_dial_failed`; unanswered, the dial counts as failed after
    /// `overlay::DIAL_TIMEOUT`.
    Dial(SocketAddrV4),
    /// Nothing more for now: call `on_timeout` at this time (`None`: not until another
    /// input). Draining stops here.
    Timeout(Option<Time>),
}

/// What the driver must do (the queued form of [`Output::Send`] and [`Output::Close`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Put `msg` on the link `to`.
    Send { to: ConnId, msg: Message },
    /// Put `msg` on each of the next `links` links of the outbox's flood list, one
    /// [`Output::Send`] each (the last one gets `msg` itself): a flood is queued once,
    /// not once per link, and shared only as it is polled.
    Flood { msg: Message, links: u32 },
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
    /// Arrived with TTL 0 or hops 255 (never sent so by a well-behaved servent).
    BadTtl,
    /// A Ping within the per-link Ping interval of the last one handled, or a leaf's
    /// query while it runs its share of our dynamic queries
    /// ([`crate::node::dynamic_query::MAX_QUERIES_PER_LEAF`]).
    Throttled,
    /// Dropped by the driver's send queue (flow control).
    QueueFull,
    /// Put on a link that went down before it was handled at the other end (or sent to
    /// a link already gone).
    LinkDown,
    /// Lost on a simulated link (the loss probability).
    LinkLoss,
    /// Still travelling when the run ended.
    InFlight,
}

/// What became of one copy of a descriptor put on a link, as the records count it: every
/// copy sent is exactly one of these (see [`crate::node::record::QueryRecord`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFate {
    /// The first copy a peer handled.
    First,
    /// A copy of a GUID the peer had already handled.
    Duplicate,
    /// A later copy with more TTL left (or a random walker passing again), forwarded again.
    Reforwarded,
    /// Refused by the receiving peer on arrival (malformed, over its limits).
    Refused,
    /// Never handled: dropped by a queue, a link that went down, or still travelling.
    Lost,
}

impl DropReason {
    /// The fate of a copy that this drop ends, if the drop is about a copy on arrival or
    /// on a link (the other reasons stop forwarding after a copy was handled).
    pub fn copy_fate(self) -> Option<CopyFate> {
        match self {
            DropReason::Duplicate => Some(CopyFate::Duplicate),
            DropReason::BadTtl
            | DropReason::Throttled
            | DropReason::OverMaxTtl
            | DropReason::TooBig
            | DropReason::BadPayload
            | DropReason::BadQuery => Some(CopyFate::Refused),
            DropReason::QueueFull
            | DropReason::LinkDown
            | DropReason::LinkLoss
            | DropReason::InFlight => Some(CopyFate::Lost),
            DropReason::TtlExpired
            | DropReason::NoRoute
            | DropReason::BackToHolder
            | DropReason::UnknownType
            | DropReason::AnsweredFromCache => None,
        }
    }
}

/// Metrics: what happened at this node, for the driver to fold into per-query records.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// We originated a query with this GUID, running `strategy` (our settings' name).
    SearchStarted {
        guid: Guid,
        words: String,
        ttl: u8,
        strategy: StrategySpec,
    },
    /// The first copy of a query reached us (`hops` after our increment).
    QueryReceived { guid: Guid, from: ConnId, hops: u8 },
    /// A later copy of a query we already handled arrived with more TTL left than any
    /// before (or a random walker passed again) and was forwarded again, not handled.
    Reforwarded { guid: Guid, from: ConnId },
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
