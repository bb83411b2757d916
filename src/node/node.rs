//! `Node`: one peer's routing state machine — descriptors and timers in, actions and
//! events out, with no sockets, clocks or threads (see the module docs of `node`).
//!
//! The per-descriptor pipeline follows gtk-gnutella and LimeWire (PROTOCOL.md §3.1):
//! 1. a descriptor arriving with TTL 0 or hops 255 is dropped;
//! 2. a broadcast (Query, Ping) whose hops+TTL exceeds `max_ttl` is trimmed to
//!    TTL := max(max_ttl − hops, 1) or dropped, per `over_max_ttl`, and counted;
//! 3. hops+1, TTL−1 ("hop on receipt");
//! 4. duplicates are judged on (GUID, payload type) (Pings, never relayed, are not kept);
//! 5. the reverse route is recorded before anything is forwarded;
//! 6. the descriptor is handled, then forwarded only while TTL > 0.
//!
//! **A duplicate Query with more TTL left than the first copy** is forwarded again (to
//! every neighbour but its sender) without being handled again, as gtk-gnutella does: the
//! stored TTL is raised and no new answer or event `QueryReceived` is produced. The
//! reverse route moves to that copy's sender: it came the shorter way, and a responder
//! reached only through the re-forward sets its hit's TTL (hops + 2) from that shorter
//! hop count, so the hit would run out of TTL on the first copy's longer way back.
//! This keeps a flood's reach equal to the TTL ball even when a longer path delivers
//! first (variable latencies in the simulator), and it is what lets an expanding ring
//! re-use one GUID. With equal link latencies the first copy always has the most TTL, so
//! the closed forms hold exactly: a ring of N with a large TTL carries N+1 query messages,
//! a tree carries no duplicates, a TTL-t flood on a grid reaches the 2t(t+1) cells within
//! distance t. Such re-forwarded copies are not reported as `Dropped { Duplicate }`
//! (they were not dropped); they raise `Event::Reforwarded` and `Counters::reforwarded`
//! counts them.
//!
//! **Pings are answered here, never relayed** (pong caching, as gtk-gnutella and
//! LimeWire do; `pong_cache`): with our own Pong and up to ten cached ones, at most one
//! Ping per link per `ping_throttle::PING_INTERVAL` (keep-alives, hops 0 and TTL 1, get
//! one Pong each, at most one per link per 100 ms). Pongs are never routed either: those answering our
//! own Pings (keep-alives, and the Pings that refill the cache when it has gone stale)
//! feed the cache and go on to the Pings still waiting for some. A Ping or Pong with more
//! than 1,536 bytes of GGEP is dropped. So a Ping costs the network a bounded number of
//! Pongs, and one neighbour's Ping flood costs nobody else anything.
//!
//! **Answers from the result cache are labelled, and never go home.** A cached answer is
//! another servent's hit: it keeps the hops it had made to reach this node (a hops-0 hit
//! is the sending neighbour's own to a real servent; gtk-gnutella counts any other as
//! "weird" and closes the link with `412 Security violation` after five) and carries our
//! cache marker (`protocol::cache_mark`), which the searcher reads back into
//! `Event::HitReceived::cached`. It is never sent on the link of the servent it names
//! (known from the handshake's `GUID` header and from that neighbour's hops-0 hits), and a
//! hit whose reverse route leads to the servent it names is dropped (`BackToHolder`), as
//! gtk-gnutella drops it.
//!
//! **A dynamic overlay** (`enable_overlay`; `overlay`, `host_cache`): Pongs answering our
//! Pings and the responders of hits feed a host cache (the driver adds `X-Try` hosts and
//! the user's bootstrap hosts with `learn_hosts`); below `min_degree`, or after losing a
//! neighbour, the node asks its driver to link with hosts from it (`Output::Dial`), and
//! Pings its neighbours for more when it runs short. A static node has none of this.
//!
//! **Two tiers** (`role`, `tier`; a config without `role` is flat and none of this
//! applies): a leaf answers queries and never relays one; it sends its QRP table to each
//! ultrapeer that takes it when the link comes up and the difference when its share
//! changes (`set_library`). An ultrapeer (and a flat node with leaf neighbours) relays a
//! query to a leaf only when the leaf's table matches, also when the TTL ran out here
//! (sent with TTL 1), and to another ultrapeer on its last hop (TTL 1) only when that
//! one's merged table matches (last-hop QRP); ultrapeers send each other a table merged
//! from their library and their leaves' tables, `tier::MERGE_DELAY` after a change.
//! `admits` is the leaf budget (`max_leaves`) and a leaf's ultrapeer count
//! (`leaf_ultrapeers`), asked by the driver before a link comes up.
//!
//! **Strategies** (all peers of a network run the same one; it is configuration):
//! - `Flood`: a query goes to every neighbour but its sender.
//! - `ExpandingRing { wait_ms }`: the origin floods with TTL 1, 2, 4, ... up to the
//!   requested TTL, `wait_ms` apart, and stops issuing rounds once a hit has arrived.
//!   Every round re-uses the search's GUID: peers already reached forward the round
//!   because it has more TTL left (rule above) but do not answer again, so one search is
//!   one GUID in every metric, and each round still costs the messages of a full flood of
//!   its radius, as in Lv et al. (ICS 2002). Relays simply flood.
//! - `RandomWalk { walkers, check_every }`: the origin sends `walkers` copies (same GUID)
//!   to distinct random neighbours, several per link when there are more walkers than
//!   links; a relay handles a query the first time only but passes
//!   every walker that reaches it on to ONE random neighbour other than the one it came
//!   from (back to it only when it is the sole neighbour, so walkers do not die in dead
//!   ends of power-law graphs). Walkers stop when TTL runs out, so runs with walkers set
//!   `max_ttl` to the walk length (up to 255). Every `check_every` hops a walker parks and
//!   the node raises `Request::CheckBack`; the driver asks the origin and answers with
//!   `on_check_back`; an unanswered walker walks on after `CHECK_BACK_TIMEOUT`.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::sync::Arc;

use super::answering::{self, Responder};
use super::counters::{Counters, Traffic};
use super::dynamic_query::{DqSettings, DqStart, DynamicQueries, LinkProfile, LinkView, Step};
use super::fast_hash::KeyedHash;
use super::host_cache::HostSource;
use super::identity::PeerIdentity;
use super::library::Library;
use super::neighbours::{self, Neighbour, NeighbourList, Neighbours};
use super::overlay::{Overlay, OverlayConfig};
use super::own_searches::OwnSearches;
use super::ping_throttle::{PingThrottle, KEEP_ALIVE_INTERVAL, PING_INTERVAL};
use super::pong_cache::{Pinger, PongCache, PongCacheConfig};
use super::qrp_receiver::{QrpError, QrpProgress, QrpReceiver};
use super::qrp_table::QrpTable;
use super::qrp_table::QueryKeys;
use super::query_rules::check_query;
use super::query_words::QueryWords;
use super::request::Request;
use super::result_cache::ResultCache;
use super::rng::NodeRng;
use super::role::{LinkRefusal, Role};
use super::routes::{route_bounds, Admission, Origin, Routes};
use super::routing::RoutingConfig;
use super::servent_routes::ServentRoutes;
use super::setting::NodeSetting;
use super::strategy::{Strategy, StrategySpec};
use super::tier::TableSender;
use super::types::{
    Action, CacheMode, ConnId, DropReason, Event, Output, OverMaxTtl, PeerInfo, SearchRequest, Time,
};
use super::walkers::{self, ParkedWalkers};
use crate::protocol::codec::{DEFAULT_MAX_HIT_PAYLOAD, DEFAULT_MAX_QUERY_PAYLOAD, MAX_PING_GGEP};
use crate::protocol::{
    kind, query_flags, Bye, Extension, Guid, Header, Message, Payload, Ping, Pong, Push, Query,
    QueryHit, RouteTableUpdate, Vendor, VendorId,
};

pub use super::answering::VENDOR_CODE;
pub use super::walkers::CHECK_BACK_TIMEOUT;

/// Most driver requests kept unpolled (a driver that never polls loses the oldest).
const MAX_REQUESTS: usize = 1024;

/// TTL of the Pings that refill the pong cache (gtk-gnutella's `my_ttl`): a neighbour
/// answers one with Pongs from up to 3 hops beyond it.
const REFRESH_TTL: u8 = 4;

/// Ping/Pong state, allocated on the first Ping or Pong (simulated searches never have
/// any): the pong cache, the per-link Ping throttle, and when we last pinged our
/// neighbours to refill the cache.
#[derive(Debug)]
struct Pings {
    cache: PongCache,
    throttle: PingThrottle,
    keep_alives: PingThrottle,
    refreshed: Option<Time>,
}

/// State only some nodes ever need, allocated on first use.
#[derive(Debug, Default)]
struct Pending {
    parked: ParkedWalkers,
    requests: VecDeque<Request>,
    /// Boxed again: a node that only ever parks walkers does not pay for a pong cache.
    pings: Option<Box<Pings>>,
    /// The degree policy and host cache of a dynamic overlay (`overlay`); `None` in a
    /// static one.
    overlay: Option<Box<Overlay>>,
    /// The QRP tables our neighbours sent us, per link (`on_route_table_update`).
    qrp: Vec<(ConnId, QrpReceiver)>,
    /// What the driver said of each link (`set_link_profile`); links not listed are
    /// unknown ultrapeer-like peers.
    profiles: Vec<(ConnId, LinkProfile)>,
    /// The dynamic queries running here (strategy `dq`).
    dq: Option<Box<DynamicQueries>>,
    /// The QRP tables we send (two-tier roles only, `tier`).
    tables: TableSender,
}

/// What only some nodes ever need, behind one pointer allocated on first use (a
/// simulated peer in a flood has none of it; inline, the pointers alone would cost it 64
/// bytes): the routing RNG, the library, the pending work, the counters, own
/// searches, the result cache, push routes, traffic counts and the list of links once
/// they broke the dense pattern.
#[derive(Debug)]
struct Cold {
    /// The routing RNG, here because only nodes that search, walk, ping or dial draw from
    /// it. It starts as it was left by the node's construction (`Peers::rng`), whenever
    /// this box is allocated: no draw is made before.
    rng: NodeRng,
    library: Option<Box<Library>>,
    /// Read after every input (`poll_request`, `poll_timeout`): a node without this box
    /// answers with one null test.
    pending: Option<Box<Pending>>,
    /// The node's counters, allocated on first increment (never, in a simulation that
    /// reads none: `NodeSetting::counting`).
    rare: Option<Box<Counters>>,
    own: Option<Box<OwnSearches>>,
    cache: Option<Box<ResultCache>>,
    /// Push routes and the servent on each link.
    servents: Option<Box<ServentRoutes>>,
    /// Descriptors in and out by payload type (per-peer statistics), only once a driver
    /// asked for them ([`Node::count_traffic`]).
    traffic: Option<Box<Traffic>>,
    /// The links, once they broke the dense pattern (`node::neighbours`); empty before.
    links: NeighbourList,
}

impl Cold {
    fn new(rng: NodeRng) -> Cold {
        Cold {
            rng,
            library: None,
            pending: None,
            rare: None,
            own: None,
            cache: None,
            servents: None,
            traffic: None,
            links: NeighbourList::default(),
        }
    }
}

/// The node's cold box, allocated with the node's RNG on first use: a function of the
/// fields it needs, for callers that hold other fields of the node.
fn cold_in<'a>(cold: &'a mut Option<Box<Cold>>, setting: &NodeSetting, peer: u32) -> &'a mut Cold {
    cold.get_or_insert_with(|| Box::new(Cold::new(setting.peers().rng(peer))))
}

/// Where the node's list of links is, if it has a cold box (computed without reading the
/// box: a dense run of links never does).
#[inline]
fn list_in(cold: &Option<Box<Cold>>) -> Option<&NeighbourList> {
    cold.as_deref().map(|c| &c.links)
}

/// One peer's routing state machine. See the module documentation for the rules.
///
/// 80 bytes: a simulator holds a million of these, and each cache line is a wait for
/// memory. Inline is only what a peer of a flood uses (its setting, the lent outbox, its
/// links as a count, the newest duplicate/route entry, its index);
/// the rest of the routing state is behind two pointers allocated on first use (the
/// route table's `more`, the node's `cold`). `repr(C)`: the fields every descriptor touches first.
#[derive(Debug)]
#[repr(C)]
pub struct Node {
    /// The routing configuration and where this node's identity comes from, shared with
    /// the nodes built alike (`setting`).
    setting: Arc<NodeSetting>,
    /// Actions and events not yet polled; allocated on first output, or lent by the
    /// driver (`swap_outbox`).
    out: Option<Box<Outbox>>,
    /// The links: a count and their shared traits, or a mark that they are the list in
    /// `cold` (`node::neighbours`).
    neighbours: Neighbours,
    /// Which peer of its setting this node is (0 for a setting of one peer). Here, after
    /// the 12 bytes of `neighbours`, it fills what would be padding before `routes`.
    peer: u32,
    /// Duplicate table and reverse routes in one, keyed by (GUID, payload type).
    routes: Routes,
    /// The RNG, library, pending work, counters, own searches, result cache, push
    /// routes, traffic counts and list of links: one pointer for what a simulated peer in
    /// a flood never has.
    cold: Option<Box<Cold>>,
}

/// A node's output queues: what the driver must do ([`Action`]s) and what happened
/// ([`Event`]s). A driver of many nodes (the simulator) keeps one and lends it to the node
/// it is about to call ([`Node::swap_outbox`]), so idle nodes hold no queues at all.
#[derive(Debug, Default)]
pub struct Outbox {
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    /// The links of the queued [`Action::Flood`]s, in order: each flood takes its
    /// `links` from the front as it is polled.
    flood_to: VecDeque<ConnId>,
}

impl Outbox {
    /// The next queued output, in [`Node::poll_output`]'s order (sends and closes, then
    /// events). A driver that took its lent outbox back drains it with this, then asks
    /// the node for the rest (requests, the timeout): the same outputs, without going
    /// through the node for each.
    #[inline(always)]
    pub fn pop_output(&mut self) -> Option<Output> {
        loop {
            if let Some(Action::Flood { msg, links }) = self.actions.front_mut() {
                if *links > 1 {
                    if let Some(to) = self.flood_to.pop_front() {
                        *links -= 1;
                        return Some(Output::Send {
                            to,
                            msg: share(msg),
                        });
                    }
                }
            }
            return Some(match self.actions.pop_front() {
                Some(Action::Send { to, msg }) => Output::Send { to, msg },
                Some(Action::Flood { msg, .. }) => match self.flood_to.pop_front() {
                    Some(to) => Output::Send { to, msg },
                    // Never: a flood queues exactly `links` links.
                    None => continue,
                },
                Some(Action::Close { conn, bye }) => Output::Close { conn, bye },
                None => return self.events.pop_front().map(Output::Event),
            });
        }
    }

    /// Queues `msg` for every link of `links` (none: nothing); how many there were.
    fn flood(&mut self, msg: Message, links: impl Iterator<Item = ConnId>) -> u32 {
        let mut n = 0;
        for to in links {
            self.flood_to.push_back(to);
            n += 1;
        }
        if n > 0 {
            self.actions.push_back(Action::Flood { msg, links: n });
        }
        n
    }
}

/// Another copy of a flooded message: a Query (every flood but a hit's) shares its
/// payload without going through the match of every payload type.
#[inline(always)]
fn share(msg: &Message) -> Message {
    let payload = match &msg.payload {
        Payload::Query(query) => Payload::Query(Arc::clone(query)),
        other => other.clone(),
    };
    Message { payload, ..*msg }
}

static EMPTY_LIBRARY: Library = Library::EMPTY;

impl Node {
    /// A node of peer `identity`, listening at `advertised_addr` (what its hits and Pongs
    /// say), routing by `config`. Many nodes may share one `config`.
    pub fn new(
        config: Arc<RoutingConfig>,
        identity: PeerIdentity,
        advertised_addr: SocketAddrV4,
        library: Library,
    ) -> Node {
        let setting = NodeSetting::one(config, identity, advertised_addr);
        Node::of_peer(Arc::new(setting), 0, library)
    }

    /// The node of peer `peer` of `setting` (the simulator's million nodes share a few
    /// settings and hold only their index).
    pub fn of_peer(setting: Arc<NodeSetting>, peer: u32, library: Library) -> Node {
        let mut node = Node {
            setting,
            peer,
            neighbours: Neighbours::default(),
            routes: Routes::new(),
            cold: None,
            out: None,
        };
        if !library.is_empty() {
            node.cold_mut().library = Some(Box::new(library));
        }
        node
    }

    /// The routing configuration this node runs.
    pub fn config(&self) -> &RoutingConfig {
        &self.setting.config
    }

    /// The shared handle of this node's routing configuration.
    pub fn config_arc(&self) -> &Arc<RoutingConfig> {
        &self.setting.config
    }

    /// The setting this node was built from (`Node::of_peer`).
    pub fn setting(&self) -> &Arc<NodeSetting> {
        &self.setting
    }

    pub fn servent_guid(&self) -> Guid {
        self.setting.peers().identity(self.peer).servent_guid
    }

    pub fn advertised_addr(&self) -> SocketAddrV4 {
        self.setting.peers().addr(self.peer)
    }

    pub fn library(&self) -> &Library {
        self.cold
            .as_ref()
            .and_then(|c| c.library.as_deref())
            .unwrap_or(&EMPTY_LIBRARY)
    }

    /// The node's running totals (all zero when its setting keeps none:
    /// `NodeSetting::counting`).
    pub fn counters(&self) -> Counters {
        self.cold
            .as_ref()
            .and_then(|c| c.rare.as_deref())
            .copied()
            .unwrap_or_default()
    }

    /// Descriptors in and out by payload type since [`Node::count_traffic`] (all zero
    /// when it was never called).
    pub fn traffic(&self) -> Traffic {
        self.cold
            .as_ref()
            .and_then(|c| c.traffic.as_deref())
            .copied()
            .unwrap_or_default()
    }

    /// Starts counting descriptors in and out by payload type ([`Node::traffic`]). A
    /// driver that reports per-peer statistics calls this when it creates the node (the
    /// live driver always does; the simulator with `--peer-stats`).
    pub fn count_traffic(&mut self) {
        self.cold_mut().traffic.get_or_insert_with(Box::default);
    }

    /// This node's role in a two-tier network (`node::role`); `None` in the flat network.
    pub fn role(&self) -> Option<Role> {
        self.setting.config.node_role()
    }

    /// The role of the neighbour on `conn`, as the driver said when the link came up.
    pub fn link_role(&self, conn: ConnId) -> Option<Role> {
        self.link(conn).map(|n| n.role)
    }

    /// The links currently up, in the order they came up.
    pub fn neighbours(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.links().map(|n| n.conn)
    }

    /// The links up, with what we keep of each neighbour, whether they are a dense run
    /// or a list (`node::neighbours`).
    #[inline]
    fn links(&self) -> neighbours::Iter<'_> {
        self.neighbours.iter(list_in(&self.cold))
    }

    /// The neighbour on `conn`, if that link is up.
    #[inline]
    fn link(&self, conn: ConnId) -> Option<Neighbour> {
        self.neighbours.get(list_in(&self.cold), conn)
    }

    /// Where this node's neighbour list and the heap part of its route table live (null
    /// for either it does not have): hints for a driver of many nodes that prefetches the
    /// next node's memory (never dereferenced through these pointers).
    #[doc(hidden)]
    pub fn prefetch_hints(&self) -> [*const u8; 2] {
        [
            self.neighbours.as_ptr(list_in(&self.cold)),
            self.routes.prefetch_hint(),
        ]
    }

    /// What the driver told us about a neighbour, with the servent GUID it gave in its
    /// handshake or, failing that, in its own hits.
    pub fn peer_info(&self, conn: ConnId) -> Option<PeerInfo> {
        let n = self.link(conn)?;
        Some(PeerInfo {
            listen_addr: n.listen_addr,
            accepts_bye: n.accepts_bye,
            servent_guid: self.servents().and_then(|s| s.guid_of(conn)),
            role: n.role,
            query_routing: n.query_routing,
        })
    }

    /// Heap bytes this node holds (an estimate, for memory reports; the shared config
    /// is not counted).
    pub fn heap_bytes(&self) -> usize {
        self.neighbours.heap_bytes(list_in(&self.cold))
            + self.routes.heap_bytes()
            + self.cold.as_ref().map_or(0, |c| {
                std::mem::size_of::<Cold>()
                    + c.library
                        .as_ref()
                        .map_or(0, |l| std::mem::size_of::<Library>() + l.heap_bytes())
                    + c.rare
                        .as_ref()
                        .map_or(0, |_| std::mem::size_of::<Counters>())
                    + c.traffic
                        .as_ref()
                        .map_or(0, |_| std::mem::size_of::<Traffic>())
                    + c.servents
                        .as_ref()
                        .map_or(0, |s| std::mem::size_of::<ServentRoutes>() + s.heap_bytes())
                    + c.own.as_ref().map_or(0, |o| o.heap_bytes())
                    + c.cache
                        .as_ref()
                        .map_or(0, |_| std::mem::size_of::<ResultCache>())
            })
            + self.pending().map_or(0, |p| {
                std::mem::size_of::<Pending>()
                    + p.profiles.capacity() * std::mem::size_of::<(ConnId, LinkProfile)>()
                    + p.dq.as_ref().map_or(0, |d| {
                        std::mem::size_of::<DynamicQueries>() + d.heap_bytes()
                    })
                    + p.qrp
                        .iter()
                        .map(|(_, rx)| std::mem::size_of::<QrpReceiver>() + rx.heap_bytes())
                        .sum::<usize>()
                    + p.tables.heap_bytes()
            })
            + self
                .overlay()
                .map_or(0, |o| std::mem::size_of::<Overlay>() + o.heap_bytes())
            + self.pings().map_or(0, |p| {
                std::mem::size_of::<Pings>()
                    + p.cache.len() * std::mem::size_of::<super::pong_cache::CachedPong>()
                    + (p.throttle.len() + p.keep_alives.len()) * 24
            })
            + self.out.as_ref().map_or(0, |o| {
                std::mem::size_of::<Outbox>()
                    + o.actions.capacity() * std::mem::size_of::<Action>()
                    + o.events.capacity() * std::mem::size_of::<Event>()
                    + o.flood_to.capacity() * std::mem::size_of::<ConnId>()
            })
    }

    /// Room for `links` more links without regrowing the neighbour list: a driver that
    /// knows a node's degree up front (the simulator's static overlay) says so, and the
    /// list is allocated once at its exact size instead of growing by doubling (a
    /// degree-5 peer would otherwise hold room for 8).
    pub fn reserve_links(&mut self, links: usize) {
        let (cold, setting, peer) = (&mut self.cold, &self.setting, self.peer);
        self.neighbours
            .reserve(|| &mut cold_in(cold, setting, peer).links, links);
    }

    // ----- driver inputs -------------------------------------------------------------

    /// A link came up (after the handshake).
    pub fn on_connected(&mut self, now: Time, conn: ConnId, info: PeerInfo) {
        if let Some(guid) = info.servent_guid {
            self.servents_mut().from_header(conn, guid);
        }
        let (cold, setting, peer) = (&mut self.cold, &self.setting, self.peer);
        self.neighbours.insert(
            || &mut cold_in(cold, setting, peer).links,
            Neighbour::new(conn, &info),
        );
        let degree = self.overlay_degree();
        if let Some(overlay) = self.overlay_mut() {
            overlay.linked(now, info.listen_addr, degree);
        }
        if self.asks_new_link(now, &info) {
            self.send_ping(now, conn, REFRESH_TTL);
        }
        if info.query_routing && info.role == Role::Ultrapeer {
            match self.role() {
                // A leaf publishes its table at once (PROTOCOL.md §4.4).
                Some(Role::Leaf) => self.send_own_table(conn),
                Some(Role::Ultrapeer) => self.pending_mut().tables.schedule_merge(now),
                None => {}
            }
        }
    }

    /// Whether a link with a peer of `role` may come up now, by our role's budget: a
    /// leaf links only with ultrapeers, at most `leaf_ultrapeers` of them; an ultrapeer
    /// takes at most `max_leaves` leaves (its ultrapeer links are the driver's degree
    /// policy). A flat node takes anyone. The driver asks before accepting a link.
    pub fn admits(&self, role: Role) -> Result<(), LinkRefusal> {
        let count = |r: Role| self.links().filter(|n| n.role == r).count();
        self.setting
            .config
            .tier_policy()
            .admit(role, count(Role::Leaf), count(Role::Ultrapeer))
    }

    /// We take an ultrapeer's leaf guidance (`X-Ultrapeer-Needed: False`; the driver
    /// decides, `TierPolicy::takes_guidance`): from now on we are a leaf, and every link
    /// we hold closes with Bye 203 "Becoming a leaf node", as gtk-gnutella's
    /// `node_bye_all_but_one` does when it accepts to become a leaf. The guiding
    /// ultrapeer's link comes up next (`on_connected`), and gets our table then.
    /// Nothing happens unless we are an ultrapeer.
    ///
    /// A dynamic overlay's degree policy is clamped to `leaf_ultrapeers` as
    /// `enable_overlay` clamps a configured leaf's (else the new leaf would dial
    /// ultrapeers for ever, only to refuse each with 503 "Enough ultrapeers"). Ultrapeer
    /// work ends: our dynamic queries stop, as gtk-gnutella's `dq_send_next` ends one
    /// once it is "no longer an ultra node", and no merged table is owed any more.
    pub fn become_leaf(&mut self, now: Time) {
        if self.role() != Some(Role::Ultrapeer) {
            return;
        }
        // This node's own copy of its setting and configuration, if others share them.
        let setting = Arc::make_mut(&mut self.setting);
        Arc::make_mut(&mut setting.config).role = Some(super::role::RoleSetting::Leaf);
        let most = self.setting.config.leaf_ultrapeers;
        if let Some(pending) = self.pending_if_any() {
            if let Some(overlay) = pending.overlay.as_deref_mut() {
                overlay.limit_degree(now, most);
            }
            pending.dq = None;
            pending.tables.cancel_merge();
        }
        let conns: Vec<ConnId> = self.links().map(|n| n.conn).collect();
        for conn in conns {
            self.forget_link(now, conn);
            self.count_bye_sent();
            self.outbox().actions.push_back(Action::Close {
                conn,
                bye: Some(Bye {
                    code: 203,
                    message: "Becoming a leaf node".to_string(),
                }),
            });
        }
    }

    /// A Bye we put in a `Close` counts as a descriptor sent (when traffic is counted).
    fn count_bye_sent(&mut self) {
        if let Some(traffic) = self.cold.as_mut().and_then(|c| c.traffic.as_mut()) {
            traffic.sent.add(kind::BYE, 1);
        }
    }

    /// Replaces the shared library (the share changed): our answers use the new one at
    /// once, and our QRP table follows it: a leaf sends its ultrapeers the difference
    /// now, an ultrapeer its merged table after `tier::MERGE_DELAY`.
    pub fn set_library(&mut self, now: Time, library: Library) {
        if !library.is_empty() {
            self.cold_mut().library = Some(Box::new(library));
        } else if let Some(cold) = self.cold.as_mut() {
            cold.library = None;
        }
        let Some(role) = self.role() else {
            return;
        };
        self.pending_mut().tables.library_changed();
        match role {
            Role::Leaf => {
                for conn in self.table_takers() {
                    self.send_own_table(conn);
                }
            }
            Role::Ultrapeer => self.pending_mut().tables.schedule_merge(now),
        }
    }

    /// A link went down. Routes through it are dropped lazily: a reply for it is then
    /// dropped as `NoRoute`. Drivers must not reuse a `ConnId` for a later link.
    pub fn on_disconnected(&mut self, now: Time, conn: ConnId) {
        self.forget_link(now, conn);
        let degree = self.overlay_degree();
        if let Some(cold) = self.cold.as_deref_mut() {
            if let Some(overlay) = cold.pending.as_mut().and_then(|p| p.overlay.as_deref_mut()) {
                overlay.unlinked(now, degree, &mut cold.rng);
            }
        }
    }

    /// Turns on the dynamic overlay's degree policy and host cache (`overlay`); a static
    /// `config` leaves the node as it is. Bootstrap hosts are added with
    /// [`Node::learn_hosts`].
    ///
    /// A leaf keeps `leaf_ultrapeers` links at most (and wants no more than that), so its
    /// degree policy is clamped to it; an ultrapeer's degree counts its ultrapeer links
    /// only (its leaves have their own budget).
    pub fn enable_overlay(&mut self, mut config: OverlayConfig) {
        if self.role() == Some(Role::Leaf) {
            let most = self.setting.config.leaf_ultrapeers;
            config.max_degree = config.max_degree.min(most);
            config.min_degree = config.min_degree.min(most);
        }
        if config.is_dynamic() {
            self.pending_mut().overlay = Some(Box::new(Overlay::new(config)));
        }
    }

    /// The degree policy and host cache, in a dynamic overlay.
    pub fn overlay(&self) -> Option<&Overlay> {
        self.pending().and_then(|p| p.overlay.as_deref())
    }

    /// Hosts heard of outside the descriptors (`X-Try` headers, the user's bootstrap
    /// list): kept in the host cache of a dynamic overlay, ignored in a static one.
    pub fn learn_hosts(
        &mut self,
        now: Time,
        hosts: impl IntoIterator<Item = SocketAddrV4>,
        source: HostSource,
    ) {
        let own = self.advertised_addr();
        if let Some(overlay) = self.overlay_mut() {
            for addr in hosts.into_iter().filter(|&a| a != own) {
                overlay.learn(now, addr, source);
            }
        }
    }

    /// Adds hosts read back from a saved host cache: (address, failures, age).
    pub fn restore_hosts(
        &mut self,
        now: Time,
        hosts: impl IntoIterator<Item = (SocketAddrV4, u8, Time)>,
    ) {
        let own = self.advertised_addr();
        if let Some(overlay) = self.overlay_mut() {
            for (addr, failures, age) in hosts.into_iter().filter(|h| h.0 != own) {
                overlay.restore(now, addr, failures, age);
            }
        }
    }

    /// The driver could not link with `addr`, which this node asked it to dial
    /// (`Output::Dial`): a connect error, a timeout or a refused handshake.
    pub fn on_dial_failed(&mut self, now: Time, addr: SocketAddrV4) {
        if let Some(overlay) = self.overlay_mut() {
            overlay.dial_failed(now, addr);
        }
    }

    /// Whether this node still owes its neighbour ultrapeers a merged QRP table (one goes
    /// out `tier::MERGE_DELAY` after its leaves' tables or its links changed). A launch
    /// starts its workload once no peer owes one, as the simulator starts its searches
    /// after the last table arrived.
    pub fn merged_table_due(&self) -> bool {
        self.pending()
            .is_some_and(|p| p.tables.next_timeout().is_some())
    }

    /// Whether a dynamic overlay has all the links it accepts (an inbound handshake is
    /// then answered 503 with `X-Try`); always false in a static one.
    pub fn overlay_full(&self) -> bool {
        self.overlay()
            .is_some_and(|o| o.full(self.overlay_degree()))
    }

    /// Up to `n` hosts for an `X-Try` header (a dynamic overlay's host cache, freshest
    /// first; empty in a static one).
    pub fn try_hosts(&self, n: usize) -> Vec<SocketAddrV4> {
        self.overlay()
            .map(|o| o.try_hosts(n, self.advertised_addr()))
            .unwrap_or_default()
    }

    /// The decoder skipped a complete frame from `_from` (unknown type or malformed
    /// payload): counted, never forwarded; the link stays up. (Why it was skipped is the
    /// driver's to log: it knows the peer's name.)
    pub fn on_skipped(&mut self, _now: Time, _from: ConnId, header: Header) {
        let known = matches!(
            header.kind,
            kind::PING
                | kind::PONG
                | kind::BYE
                | kind::PUSH
                | kind::QUERY
                | kind::QUERY_HIT
                | kind::ROUTE_TABLE_UPDATE
                | kind::VENDOR
                | kind::STANDARD_VENDOR
        );
        let len = header.payload_len as usize;
        let too_big = (header.kind == kind::QUERY && len > DEFAULT_MAX_QUERY_PAYLOAD)
            || (header.kind == kind::QUERY_HIT && len > DEFAULT_MAX_HIT_PAYLOAD);
        let why = if too_big {
            self.rare_counters().bad_payload += 1;
            DropReason::TooBig
        } else if known {
            self.rare_counters().bad_payload += 1;
            DropReason::BadPayload
        } else {
            self.rare_counters().unknown_type += 1;
            DropReason::UnknownType
        };
        self.dropped(header.guid, header.kind, why);
    }

    /// A descriptor arrived on `from`.
    pub fn on_message(&mut self, now: Time, from: ConnId, msg: Message) {
        self.count(|c| c.received += 1);
        if let Some(traffic) = self.cold.as_mut().and_then(|c| c.traffic.as_mut()) {
            traffic.received.add(msg.payload.kind(), 1);
        }
        let Message {
            guid,
            ttl,
            hops,
            payload,
        } = msg;
        let kind = payload.kind();
        match payload {
            Payload::Unknown { .. } => {
                self.rare_counters().unknown_type += 1;
                self.dropped(guid, kind, DropReason::UnknownType);
                return;
            }
            Payload::Bye(_) => {
                // Never answer a Bye with a Bye (PROTOCOL.md §2.6).
                self.forget_link(now, from);
                self.outbox().actions.push_back(Action::Close {
                    conn: from,
                    bye: None,
                });
                return;
            }
            Payload::RouteTableUpdate(update) => {
                self.on_route_table_update(now, from, guid, ttl, hops, &update);
                return;
            }
            Payload::Vendor(vendor) => {
                self.on_vendor(now, from, guid, hops, vendor);
                return;
            }
            _ => {}
        }
        if ttl == 0 || hops == u8::MAX {
            self.rare_counters().bad_ttl += 1;
            self.dropped(guid, kind, DropReason::BadTtl);
            return;
        }
        match payload {
            Payload::Query(query) => self.on_query(now, from, guid, ttl, hops, query),
            Payload::QueryHit(hit) => self.on_hit(now, from, guid, ttl - 1, hops + 1, hit),
            Payload::Ping(ping) => self.on_ping(now, from, guid, ttl, hops, ping),
            Payload::Pong(pong) => self.on_pong(now, from, guid, hops + 1, pong),
            Payload::Push(push) => self.on_push(now, from, guid, ttl - 1, hops + 1, push),
            Payload::Bye(_)
            | Payload::RouteTableUpdate(_)
            | Payload::Vendor(_)
            | Payload::Unknown { .. } => {}
        }
    }

    /// The last complete QRP table the neighbour on `conn` sent us, if any: a leaf's
    /// decides which queries it gets, an ultrapeer's which queries on their last hop.
    pub fn neighbour_qrp_table(&self, conn: ConnId) -> Option<&QrpTable> {
        let links = &self.pending()?.qrp;
        links
            .iter()
            .find(|(c, _)| *c == conn)
            .and_then(|(_, rx)| rx.table())
    }

    /// What the driver knows of the link `conn` beyond `PeerInfo` (`X-Degree`,
    /// `X-Max-TTL`; the node adds what the link's Messages Supported says). Dynamic
    /// queries read it to pick each step's TTL.
    pub fn set_link_profile(&mut self, conn: ConnId, profile: LinkProfile) {
        let profiles = &mut self.pending_mut().profiles;
        match profiles.iter_mut().find(|(c, _)| *c == conn) {
            Some((_, p)) => {
                *p = LinkProfile {
                    query_status: p.query_status || profile.query_status,
                    ..profile
                }
            }
            None => profiles.push((conn, profile)),
        }
    }

    /// Whether this node runs dynamic queries (strategy `dq`, as an ultrapeer or in the
    /// flat network) and so speaks the Query Status vendor messages.
    pub fn runs_dynamic_queries(&self) -> bool {
        matches!(self.setting.config.strategy, Strategy::Dynamic { .. })
    }

    /// The vendor messages this node understands, for its Messages Supported.
    pub fn supported_vendor_messages(&self) -> Vec<VendorId> {
        vec![
            VendorId::QUERY_STATUS_REQUEST,
            VendorId::QUERY_STATUS_RESPONSE,
        ]
    }

    /// Sends our Messages Supported on `conn`: the first message on a link whose peer
    /// advertised `Vendor-Message` (PROTOCOL.md §2.8).
    pub fn send_messages_supported(&mut self, conn: ConnId) {
        let guid = Guid::random(self.rng());
        let msg = Message {
            guid,
            ttl: 1,
            hops: 0,
            payload: Payload::Vendor(Vendor::MessagesSupported(self.supported_vendor_messages())),
        };
        self.send_one(conn, msg);
    }

    /// A vendor message from `from`: link-local (hops 0), never relayed. Messages
    /// Supported tells whether a leaf guides our dynamic queries; a Query Status Request
    /// (from our ultrapeer) is answered with the records our search received, `0xFFFF`
    /// if it is not ours (gtk-gnutella's "stop"); a Query Status Response (from our leaf)
    /// guides the dynamic query run for it. Others are dropped silently.
    fn on_vendor(&mut self, now: Time, from: ConnId, guid: Guid, hops: u8, vendor: Vendor) {
        let kind = vendor.kind();
        if hops != 0 {
            self.rare_counters().bad_ttl += 1;
            self.dropped(guid, kind, DropReason::BadTtl);
            return;
        }
        if !self.is_connected(from) {
            return;
        }
        match vendor {
            Vendor::MessagesSupported(ids) => {
                let guides = ids
                    .iter()
                    .any(|id| id.covers(&VendorId::QUERY_STATUS_REQUEST));
                let profiles = &mut self.pending_mut().profiles;
                match profiles.iter_mut().find(|(c, _)| *c == from) {
                    Some((_, p)) => p.query_status = guides,
                    None => profiles.push((
                        from,
                        LinkProfile {
                            query_status: guides,
                            ..LinkProfile::default()
                        },
                    )),
                }
            }
            Vendor::QueryStatusRequest => {
                let kept = self
                    .own()
                    .and_then(|o| o.records(guid))
                    .map_or(crate::protocol::vendor::STOP_QUERY, |r| {
                        r.min(u32::from(crate::protocol::vendor::STOP_QUERY - 1)) as u16
                    });
                let msg = Message {
                    guid,
                    ttl: 1,
                    hops: 0,
                    payload: Payload::Vendor(Vendor::QueryStatusResponse { kept }),
                };
                self.send_one(from, msg);
            }
            Vendor::QueryStatusResponse { kept } => {
                let links = self.dq_links_of(guid);
                let steps = match self.pending_if_any().and_then(|p| p.dq.as_mut()) {
                    Some(dq) => dq.on_status(now, guid, from, kept, &links),
                    None => Vec::new(),
                };
                self.run_dq_steps(guid, steps);
            }
            Vendor::Other { .. } => {
                self.rare_counters().unknown_type += 1;
                self.dropped(guid, kind, DropReason::UnknownType);
            }
        }
    }

    /// A Route-Table-Update (QRP RESET or PATCH) from `from`: link-local, never relayed.
    /// It must come with hops 0 and TTL at most 1 (gtk-gnutella drops it otherwise). The
    /// link's table is rebuilt from the messages; a hostile table (`QrpError`: a bad
    /// size, a broken sequence, a decompression bomb) closes that link with Bye 413, as
    /// gtk-gnutella does.
    fn on_route_table_update(
        &mut self,
        now: Time,
        from: ConnId,
        guid: Guid,
        ttl: u8,
        hops: u8,
        update: &RouteTableUpdate,
    ) {
        let kind = kind::ROUTE_TABLE_UPDATE;
        if hops != 0 || ttl > 1 {
            self.rare_counters().bad_ttl += 1;
            self.dropped(guid, kind, DropReason::BadTtl);
            return;
        }
        if !self.is_connected(from) {
            return;
        }
        let links = &mut self.pending_mut().qrp;
        let at = match links.iter().position(|(c, _)| *c == from) {
            Some(at) => at,
            None => {
                links.push((from, QrpReceiver::new()));
                links.len() - 1
            }
        };
        let error = match links[at].1.apply(update) {
            Ok(QrpProgress::Complete) => {
                // A leaf's new table changes what our merged table says.
                if self.role() == Some(Role::Ultrapeer) && self.link_role(from) == Some(Role::Leaf)
                {
                    self.pending_mut().tables.schedule_merge(now);
                }
                return;
            }
            Ok(_) => return,
            Err(error) => error,
        };
        self.rare_counters().bad_payload += 1;
        self.dropped(guid, kind, DropReason::BadPayload);
        self.forget_link(now, from);
        self.count_bye_sent();
        self.outbox().actions.push_back(Action::Close {
            conn: from,
            bye: Some(Bye {
                code: QrpError::BYE_CODE,
                message: error.to_string(),
            }),
        });
    }

    /// Starts a search of our own and returns its GUID (the one every event, round and
    /// walker of this search carries). The TTL is clamped to 1..=`max_ttl`.
    pub fn start_search(&mut self, now: Time, request: SearchRequest) -> Guid {
        let ttl = request.ttl.clamp(1, self.setting.config.max_ttl.max(1));
        let guid = Guid::random(self.rng());
        let mut query = if request.words.trim().is_empty() {
            match request.sha1 {
                Some(sha1) => Query::by_urn(sha1),
                None => Query::keywords(&request.words),
            }
        } else {
            let mut q = Query::keywords(&request.words);
            if let Some(sha1) = request.sha1 {
                q.extensions.push(Extension::Sha1(sha1));
            }
            q
        };
        query.trailing_nul = false;
        if self.role() == Some(Role::Leaf) {
            // We answer Query Status Requests: our ultrapeers may guide their dynamic
            // query by what we received (gtk-gnutella reads this flag).
            query.flags |= query_flags::LEAF_GUIDED;
        }
        let query = Arc::new(query);
        let strategy = StrategySpec::of(&self.setting.config);
        self.outbox().events.push_back(Event::SearchStarted {
            guid,
            words: request.words,
            ttl,
            strategy,
        });
        if self.setting.config.cache.mode != CacheMode::Off {
            let bounds = route_bounds(&self.setting.config);
            self.cache_mut().note_query(guid, &query, now, bounds);
        }
        // A leaf hands its searches to its ultrapeers, which run the dynamic query.
        let strategy = match self.setting.config.strategy {
            Strategy::Dynamic { .. } if self.role() == Some(Role::Leaf) => Strategy::Flood,
            other => other,
        };
        let first_round = match strategy {
            Strategy::ExpandingRing { .. } => 1,
            Strategy::Dynamic { .. } => ttl.min(super::dynamic_query::MAX_TTL),
            _ => ttl,
        };
        let bounds = route_bounds(&self.setting.config);
        self.own_mut()
            .start(guid, Arc::clone(&query), ttl, first_round, now, bounds);
        self.remember_ours(guid, kind::QUERY, first_round, now);
        match strategy {
            Strategy::Flood => self.flood_query(guid, first_round, 0, query, None),
            Strategy::Dynamic {
                results, wait_ms, ..
            } => {
                let start = DqStart {
                    guid,
                    query,
                    leaf: None,
                    guided: false,
                    ttl: first_round,
                    settings: DqSettings {
                        target: results,
                        wait_ms,
                    },
                };
                self.start_dynamic_query(now, start);
            }
            Strategy::ExpandingRing { wait_ms } => {
                self.flood_query(guid, first_round, 0, query, None);
                if first_round < ttl {
                    let due = now.plus_micros(wait_ms.saturating_mul(1000));
                    self.own_mut().schedule_round(due, guid);
                }
            }
            Strategy::RandomWalk { walkers, .. } => {
                // The first `degree` walkers go to distinct random neighbours; when there
                // are more walkers than links (Lv et al.'s k = 16 or 32 on a degree-4
                // graph), the rest go round the same shuffled links again: several walkers
                // share a link, each then an independent walk.
                let mut targets: Vec<ConnId> = self.neighbours().collect();
                let distinct = (walkers as usize).min(targets.len());
                for i in 0..distinct {
                    let j = i + self.rng().below(targets.len() - i);
                    targets.swap(i, j);
                }
                targets.truncate(distinct);
                let msg = Message {
                    guid,
                    ttl,
                    hops: 0,
                    payload: Payload::Query(query),
                };
                let k = if targets.is_empty() { 0 } else { walkers };
                for to in targets.iter().cycle().take(k as usize) {
                    self.outbox().actions.push_back(Action::Send {
                        to: *to,
                        msg: msg.clone(),
                    });
                }
                self.sent(guid, kind::QUERY, k);
            }
        }
        guid
    }

    /// Whether our search `guid` has had a hit (what a walker's check-back asks).
    pub fn search_satisfied(&self, guid: Guid) -> bool {
        self.own().is_some_and(|o| o.satisfied(guid))
    }

    /// The origin's answer to a `Request::CheckBack` for `guid`: `satisfied` stops the
    /// walkers parked here, otherwise they walk on.
    pub fn on_check_back(&mut self, _now: Time, guid: Guid, satisfied: bool) {
        let Some(pending) = self.pending_if_any() else {
            return;
        };
        let resumed = pending.parked.take(guid);
        if satisfied {
            return;
        }
        for (from, msg) in resumed {
            self.step_walker(from, msg);
        }
    }

    /// Sends a Push asking servent `target` to connect back to us for file `index`,
    /// along the route its hits came by. `None` when no route is known.
    pub fn start_push(&mut self, now: Time, target: Guid, index: u32, ttl: u8) -> Option<Guid> {
        let to = self.push_route(&target, now)?;
        let guid = Guid::random(self.rng());
        let ttl = ttl.clamp(1, self.setting.config.max_ttl.max(1));
        let push = Push {
            servent_guid: target,
            index,
            ip: *self.advertised_addr().ip(),
            port: self.advertised_addr().port(),
            ggep: Default::default(),
        };
        self.remember_ours(guid, kind::PUSH, ttl, now);
        let msg = Message {
            guid,
            ttl,
            hops: 0,
            payload: Payload::Push(push),
        };
        self.send_one(to, msg);
        Some(guid)
    }

    /// Sends a Ping of our own on `conn` (a TTL 1 ping is a keep-alive); its Pongs are
    /// consumed here.
    pub fn send_ping(&mut self, now: Time, conn: ConnId, ttl: u8) -> Guid {
        let guid = Guid::random(self.rng());
        let ttl = ttl.clamp(1, self.setting.config.max_ttl.max(1));
        self.remember_ours(guid, kind::PING, ttl, now);
        let msg = Message {
            guid,
            ttl,
            hops: 0,
            payload: Payload::Ping(Ping::default()),
        };
        self.send_one(conn, msg);
        guid
    }

    /// The next time `on_timeout` has work; `None` when idle, so a driver never ticks
    /// idle nodes. **Timers** live in the parts that own them and are gathered here and
    /// in `on_timeout`: expanding-ring rounds (`own_searches`), then parked walkers'
    /// deadlines (`walkers`). A part with timers adds its `next_timeout` here and its
    /// due work to `on_timeout`, in that order.
    pub fn poll_timeout(&self) -> Option<Time> {
        // Asked after every input: a node without pending work answers at once.
        let cold = self.cold.as_deref()?;
        let ring = cold.own.as_deref().and_then(|o| o.next_timeout());
        let Some(pending) = cold.pending.as_deref() else {
            return ring;
        };
        let parked = pending.parked.next_timeout();
        let overlay = pending.overlay.as_deref().map(|o| o.next_timeout());
        let dq = pending.dq.as_ref().and_then(|d| d.next_timeout());
        let tables = pending.tables.next_timeout();
        [ring, parked, overlay, dq, tables]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs every timer due at `now`.
    pub fn on_timeout(&mut self, now: Time) {
        let due = self
            .own_if_any()
            .map(|o| o.take_due(now))
            .unwrap_or_default();
        for (_, guid) in due {
            self.next_ring_round(now, guid);
        }
        let expired = self
            .pending_if_any()
            .map(|p| p.parked.take_expired(now))
            .unwrap_or_default();
        for (from, msg) in expired {
            self.step_walker(from, msg);
        }
        let due = self
            .pending()
            .and_then(|p| p.dq.as_ref())
            .map(|d| d.take_due(now))
            .unwrap_or_default();
        for guid in due {
            let links = self.dq_links_of(guid);
            let steps = match self.pending_if_any().and_then(|p| p.dq.as_mut()) {
                Some(dq) => dq.on_timer(now, guid, &links),
                None => Vec::new(),
            };
            self.run_dq_steps(guid, steps);
        }
        self.maintain_overlay(now);
        if self
            .pending_if_any()
            .is_some_and(|p| p.tables.take_due(now))
        {
            self.send_merged_table();
        }
    }

    /// Whether a link of a dynamic overlay that just came up (with `info`) is asked for
    /// hosts at once (`Overlay::asks_new_link`). A leaf of ours is not: it counts for no
    /// degree and keeps no host cache for us.
    fn asks_new_link(&mut self, now: Time, info: &PeerInfo) -> bool {
        if self.role() == Some(Role::Ultrapeer) && info.role == Role::Leaf {
            return false;
        }
        let degree = self.overlay_degree();
        self.with_overlay(|overlay, _, linked| overlay.asks_new_link(now, degree, linked))
            .unwrap_or(false)
    }

    /// Runs `f` on a dynamic overlay's policy (`None` in a static one), with the node's
    /// RNG and whether an address is ourselves or a neighbour's (never dialled, and no
    /// spare to replace a neighbour with).
    fn with_overlay<R>(
        &mut self,
        f: impl FnOnce(&mut Overlay, &mut NodeRng, &dyn Fn(SocketAddrV4) -> bool) -> R,
    ) -> Option<R> {
        let own = self.advertised_addr();
        let cold = self.cold.as_deref_mut()?;
        let overlay = cold.pending.as_mut()?.overlay.as_deref_mut()?;
        let links = self.neighbours.iter(Some(&cold.links));
        let linked = |a: SocketAddrV4| a == own || links.clone().any(|n| n.listen_addr == Some(a));
        Some(f(overlay, &mut cold.rng, &linked))
    }

    /// The dynamic overlay's check: dials up to the minimum degree, and Pings the
    /// neighbours for Pongs (new hosts) when the host cache runs short.
    fn maintain_overlay(&mut self, now: Time) {
        let degree = self.overlay_degree();
        let Some(wants) =
            self.with_overlay(|overlay, rng, linked| overlay.maintain(now, degree, rng, linked))
        else {
            return;
        };
        if wants.ask_neighbours {
            let links: Vec<ConnId> = self.neighbours().collect();
            for conn in links {
                self.send_ping(now, conn, REFRESH_TTL);
            }
        }
    }

    /// Exchanges the node's output queues with `outbox`. A driver of many nodes lends
    /// its (empty, pre-grown) outbox before an input and takes it back after draining
    /// [`Node::poll_output`]: between inputs the node then holds no queue memory.
    pub fn swap_outbox(&mut self, outbox: &mut Option<Box<Outbox>>) {
        std::mem::swap(&mut self.out, outbox);
    }

    /// The node's next output. **Drain rule:** after every input (`on_connected`,
    /// `on_message`, `on_skipped`, `on_disconnected`, `start_search`, `on_timeout`,
    /// `on_check_back`, `send_ping`, `start_push`), call `poll_output` until it returns
    /// [`Output::Timeout`]; that value is when the node next wants `on_timeout` (`None`:
    /// not until another input). Handling a [`Output::Request`] may be an input too
    /// (`on_check_back`): keep draining until `Timeout`.
    ///
    /// Outputs come in this order: what to put on links or close, then events, then
    /// requests. Each driver drains them with one exhaustive `match`, so a new kind of
    /// output fails to compile in every driver rather than being ignored by one.
    #[inline(always)]
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.out.as_mut().and_then(|out| out.pop_output()) {
            return output;
        }
        if let Some(pending) = self.pending_if_any() {
            if let Some(request) = pending.requests.pop_front() {
                return Output::Request(request);
            }
            if let Some(addr) = pending.overlay.as_mut().and_then(|o| o.pop_dial()) {
                return Output::Dial(addr);
            }
        }
        Output::Timeout(self.poll_timeout())
    }

    // ----- per-type handling ---------------------------------------------------------

    fn on_query(
        &mut self,
        now: Time,
        from: ConnId,
        guid: Guid,
        ttl: u8,
        hops: u8,
        query: Arc<Query>,
    ) {
        if check_query(&query).is_err() {
            self.rare_counters().bad_queries += 1;
            self.dropped(guid, kind::QUERY, DropReason::BadQuery);
            return;
        }
        if hops == 0 && self.leaf_over_its_share(from) {
            // A leaf already running its share of our dynamic queries: refused on
            // arrival, so that one leaf cannot take every slot from the others.
            self.dropped(guid, kind::QUERY, DropReason::Throttled);
            return;
        }
        let Some(ttl) = self.admit_broadcast(guid, kind::QUERY, ttl, hops) else {
            return;
        };
        let (ttl, hops) = (ttl - 1, hops + 1);
        let walking = matches!(self.setting.config.strategy, Strategy::RandomWalk { .. });
        let hash = self.hash_of();
        let admission =
            self.routes
                .admit_query(&self.setting.config, hash, guid, from, ttl, walking, now);
        // A leaf never relays (PROTOCOL.md §3.2), also not a later copy with more TTL or
        // a walker passing by: for it those are duplicates.
        let admission = match admission {
            Admission::Walker | Admission::Reforward if self.role() == Some(Role::Leaf) => {
                Admission::Duplicate
            }
            other => other,
        };
        match admission {
            Admission::Fresh => {}
            Admission::Walker => {
                self.count(|c| c.reforwarded += 1);
                self.outbox()
                    .events
                    .push_back(Event::Reforwarded { guid, from });
                if ttl == 0 {
                    self.dropped(guid, kind::QUERY, DropReason::TtlExpired);
                } else {
                    let msg = Message {
                        guid,
                        ttl,
                        hops,
                        payload: Payload::Query(query),
                    };
                    self.forward_walker(now, from, msg);
                }
                return;
            }
            Admission::Reforward => {
                self.count(|c| c.reforwarded += 1);
                self.outbox()
                    .events
                    .push_back(Event::Reforwarded { guid, from });
                // Leaves had it with the first copy, whatever its TTL.
                self.relay_query(guid, ttl, hops, query, Some(from), false);
                return;
            }
            Admission::Duplicate => {
                self.count(|c| c.duplicates += 1);
                self.dropped(guid, kind::QUERY, DropReason::Duplicate);
                return;
            }
        }
        self.outbox()
            .events
            .push_back(Event::QueryReceived { guid, from, hops });
        let from_cache = self.answer(now, from, guid, hops, &query);
        if from_cache && self.setting.config.cache.mode == CacheMode::AnswerAndStop {
            self.dropped(guid, kind::QUERY, DropReason::AnsweredFromCache);
            return;
        }
        if self.role() == Some(Role::Leaf) {
            // A leaf answers and never relays (PROTOCOL.md §3.2).
            return;
        }
        if ttl == 0 {
            // Leaves whose tables match get it even so (PROTOCOL.md §3.2).
            self.query_to_leaves(guid, hops, query, from);
            self.dropped(guid, kind::QUERY, DropReason::TtlExpired);
            return;
        }
        if walking {
            let msg = Message {
                guid,
                ttl,
                hops,
                payload: Payload::Query(query),
            };
            self.forward_walker(now, from, msg);
        } else if let (
            Strategy::Dynamic {
                leaf_results,
                wait_ms,
                ..
            },
            1,
            Some(profile),
        ) = (self.setting.config.strategy, hops, self.leaf_profile(from))
        {
            // Our leaf's own query: widened step by step for it, as gtk-gnutella's
            // `dq_launch_net`: the TTL left after our hop bounds the steps (gtk reads it
            // from the header once hops is 1), so a step never goes further than a
            // flood of the leaf's query would.
            let flagged = query.flags & query_flags::MARKER != 0
                && query.flags & query_flags::LEAF_GUIDED != 0;
            let start = DqStart {
                guid,
                query,
                leaf: Some(from),
                guided: profile.query_status || flagged,
                ttl: ttl.min(super::dynamic_query::MAX_TTL),
                settings: DqSettings {
                    target: leaf_results,
                    wait_ms,
                },
            };
            self.start_dynamic_query(now, start);
        } else {
            self.flood_query(guid, ttl, hops, query, Some(from));
        }
    }

    /// Answers a fresh query from our library and our result cache (`answering`); true
    /// when the cache answered.
    fn answer(&mut self, now: Time, to: ConnId, guid: Guid, hops: u8, query: &Arc<Query>) -> bool {
        let reply_ttl = answering::reply_ttl(hops);
        let max_results = self.setting.config.max_results;
        let mut budget = max_results;
        // Split once for the library and the result cache (in place: see QueryWords).
        let mut split = QueryWords::empty();
        let words = split.fill(&query.criteria).then_some(&split);
        if let Some(library) = self.cold.as_ref().and_then(|c| c.library.as_deref()) {
            let records = answering::library_records(library, query, words, max_results);
            if !records.is_empty() {
                budget -= records.len().min(budget);
                self.rare_counters().answered += 1;
                self.outbox().events.push_back(Event::Answered {
                    guid,
                    records: records.len() as u32,
                    from_cache: false,
                });
                let me = self.responder();
                let out = &mut self.out;
                let sent = answering::send_hits(me, guid, reply_ttl, records, |msg| {
                    let out = out.get_or_insert_with(Box::default);
                    out.actions.push_back(Action::Send { to, msg })
                });
                self.sent(guid, kind::QUERY_HIT, sent);
            }
        }
        if self.setting.config.cache.mode == CacheMode::Off {
            return false;
        }
        let bounds = route_bounds(&self.setting.config);
        let me = self.responder();
        let hash = self.keyed_hash();
        let cold = cold_in(&mut self.cold, &self.setting, self.peer);
        let servents = cold.servents.as_deref();
        let cache = cold
            .cache
            .get_or_insert_with(|| Box::new(ResultCache::new(hash)));
        let out = &mut self.out;
        let answer = answering::answer_from_cache(
            cache,
            &self.setting.config.cache,
            me,
            guid,
            query,
            words,
            reply_ttl,
            budget,
            now,
            bounds,
            |holder| servents.is_some_and(|s| s.is_on(to, holder)),
            |msg| {
                let out = out.get_or_insert_with(Box::default);
                out.actions.push_back(Action::Send { to, msg })
            },
        );
        if answer.hits == 0 {
            return false;
        }
        self.rare_counters().answered_from_cache += 1;
        self.outbox().events.push_back(Event::Answered {
            guid,
            records: answer.records,
            from_cache: true,
        });
        self.sent(guid, kind::QUERY_HIT, answer.hits);
        true
    }

    /// Who our hits say we are.
    fn responder(&self) -> Responder {
        Responder {
            addr: self.advertised_addr(),
            servent_guid: self.servent_guid(),
        }
    }

    /// `hops` and `ttl` are already hopped.
    fn on_hit(
        &mut self,
        now: Time,
        from: ConnId,
        guid: Guid,
        ttl: u8,
        hops: u8,
        hit: Arc<QueryHit>,
    ) {
        if hit.servent_guid != self.servent_guid() {
            let addr = SocketAddrV4::new(hit.ip, hit.port);
            if let Some(overlay) = self.overlay_mut() {
                overlay.learn(now, addr, HostSource::Hit);
            }
            let bounds = route_bounds(&self.setting.config);
            // Hops 0 on arrival (1 after our hop): the neighbour's own hit.
            let own = hops == 1;
            self.servents_mut()
                .hit_from(from, hit.servent_guid, own, now, bounds);
        }
        if self.setting.config.cache.mode != CacheMode::Off {
            let bounds = route_bounds(&self.setting.config);
            let cache_config = self.setting.config.cache;
            if let Some(cache) = self.cold.as_mut().and_then(|c| c.cache.as_mut()) {
                cache.add_hit(&guid, &hit, hops, now, &cache_config, bounds);
            }
        }
        if let Some(dq) = self.pending_if_any().and_then(|p| p.dq.as_mut()) {
            dq.on_results(guid, hit.records.len() as u32);
        }
        match self
            .routes
            .route_of(&self.setting.config, guid, kind::QUERY, now)
        {
            None => self.no_route(guid, kind::QUERY_HIT),
            Some(Origin::Ours) => {
                if let Some(own) = self.own_if_any() {
                    own.on_hit(guid, hit.records.len() as u32, now);
                }
                // A cached answer's hops count the holder's way to the cache too.
                let cached = hit.cache_mark().map(|m| m.holder_hops.min(hops - 1));
                let hops = hops - cached.unwrap_or(0);
                self.outbox().events.push_back(Event::HitReceived {
                    guid,
                    hops,
                    hit,
                    cached,
                });
            }
            Some(Origin::Via(conn)) => {
                if !self.is_connected(conn) {
                    self.no_route(guid, kind::QUERY_HIT);
                } else if self.holder_is_on(conn, &hit.servent_guid) {
                    // Someone's cache answer on its way to the servent it names: the
                    // holder would count it as weird (gtk-gnutella routes none there).
                    self.dropped(guid, kind::QUERY_HIT, DropReason::BackToHolder);
                } else if ttl == 0 {
                    self.dropped(guid, kind::QUERY_HIT, DropReason::TtlExpired);
                } else {
                    let msg = Message {
                        guid,
                        ttl,
                        hops,
                        payload: Payload::QueryHit(hit),
                    };
                    self.send_one(conn, msg);
                }
            }
        }
    }

    /// A Ping is answered here and never relayed (pong caching, see `pong_cache`): with
    /// our own Pong, plus, unless it is a keep-alive (hops 0, TTL 1), up to ten cached
    /// Pongs from as far as it could have reached. At most one Ping per link per
    /// `PING_INTERVAL` is answered (one keep-alive per `KEEP_ALIVE_INTERVAL`), the rest
    /// are dropped as `Throttled`. A Ping whose GGEP is over
    /// `MAX_PING_GGEP` bytes is dropped as `TooBig`. No (GUID, type) entry is kept for
    /// others' Pings: nothing is relayed, so there is no loop to stop, and a Ping flood
    /// cannot push query routes out of the table.
    fn on_ping(&mut self, now: Time, from: ConnId, guid: Guid, ttl: u8, hops: u8, ping: Ping) {
        if ping.ggep.len() > MAX_PING_GGEP {
            self.rare_counters().bad_payload += 1;
            self.dropped(guid, kind::PING, DropReason::TooBig);
            return;
        }
        let Some(ttl) = self.admit_broadcast(guid, kind::PING, ttl, hops) else {
            return;
        };
        let keep_alive = hops == 0 && ttl == 1;
        let pings = self.pings_mut();
        let throttle = if keep_alive {
            &mut pings.keep_alives
        } else {
            &mut pings.throttle
        };
        if !throttle.admit(now, from) {
            self.rare_counters().pings_throttled += 1;
            self.dropped(guid, kind::PING, DropReason::Throttled);
            return;
        }
        // Answers need as many hops as the Ping made (hops after our own).
        let back = hops + 1;
        let library = self.library();
        let pong = Pong {
            port: self.advertised_addr().port(),
            ip: *self.advertised_addr().ip(),
            files: library.len() as u32,
            kbytes: library.total_kib(),
            ggep: Default::default(),
        };
        let msg = Message {
            guid,
            ttl: back,
            hops: 0,
            payload: Payload::Pong(pong),
        };
        self.send_one(from, msg);
        if keep_alive {
            return;
        }
        // The Ping could reach hosts up to ttl - 1 hops beyond us.
        let pinger = Pinger {
            conn: from,
            guid,
            ttl: back,
            within: ttl - 1,
            addr: self.link(from).and_then(|n| n.listen_addr),
        };
        let cache = &mut self.pings_mut().cache;
        let cached: Vec<(u8, Pong)> = cache
            .answers(now, &pinger)
            .into_iter()
            .map(|c| (c.hops, c.pong.clone()))
            .collect();
        cache.wait(now, pinger, cached.len());
        for (hops, pong) in cached {
            self.send_cached_pong(pinger, hops, pong);
        }
        self.refresh_pong_cache(now);
    }

    /// Pings every neighbour when the pong cache has gone stale, so the next Pings find
    /// fresh Pongs (gtk-gnutella `pcache_possibly_expired`): at most once per cache age.
    fn refresh_pong_cache(&mut self, now: Time) {
        let pings = self.pings_mut();
        let max_age = pings.cache.config().max_age;
        if pings
            .refreshed
            .is_some_and(|at| now.saturating_sub(at) < max_age)
        {
            return;
        }
        pings.refreshed = Some(now);
        let links: Vec<ConnId> = self.neighbours().collect();
        for conn in links {
            self.send_ping(now, conn, REFRESH_TTL);
        }
    }

    /// A Pong answering one of our own Pings feeds the pong cache. Pongs are never routed
    /// (we relay no Ping, as gtk-gnutella): any other is dropped as `NoRoute`, and one
    /// whose GGEP is over `MAX_PING_GGEP` bytes as `TooBig`.
    fn on_pong(&mut self, now: Time, from: ConnId, guid: Guid, hops: u8, pong: Pong) {
        if pong.ggep.len() > MAX_PING_GGEP {
            self.rare_counters().bad_payload += 1;
            self.dropped(guid, kind::PONG, DropReason::TooBig);
            return;
        }
        let ours = self
            .routes
            .route_of(&self.setting.config, guid, kind::PING, now)
            == Some(Origin::Ours);
        if !ours {
            self.no_route(guid, kind::PONG);
            return;
        }
        let addr = SocketAddrV4::new(pong.ip, pong.port);
        if addr == self.advertised_addr() {
            return;
        }
        if let Some(overlay) = self.overlay_mut() {
            overlay.learn(now, addr, HostSource::Pong);
        }
        let cache = &mut self.pings_mut().cache;
        let Some(entry) = cache.insert(now, from, hops, pong).cloned() else {
            return;
        };
        // Pings answered a moment ago still want some (pong demultiplexing).
        for pinger in cache.waiting_for(now, &entry) {
            self.send_cached_pong(pinger, entry.hops, entry.pong.clone());
        }
    }

    fn send_cached_pong(&mut self, to: Pinger, hops: u8, pong: Pong) {
        self.rare_counters().cached_pongs_sent += 1;
        let msg = Message {
            guid: to.guid,
            ttl: to.ttl,
            hops,
            payload: Payload::Pong(pong),
        };
        self.send_one(to.conn, msg);
    }

    fn on_push(&mut self, now: Time, from: ConnId, guid: Guid, ttl: u8, hops: u8, push: Push) {
        if self
            .routes
            .seen(&self.setting.config, guid, kind::PUSH, now)
        {
            self.count(|c| c.duplicates += 1);
            self.dropped(guid, kind::PUSH, DropReason::Duplicate);
            return;
        }
        let hash = self.hash_of();
        self.routes
            .remember_via(&self.setting.config, hash, guid, kind::PUSH, from, ttl, now);
        if push.servent_guid == self.servent_guid() {
            self.request(Request::ConnectBack { push, from });
            return;
        }
        match self.push_route(&push.servent_guid, now) {
            None => self.no_route(guid, kind::PUSH),
            Some(_) if ttl == 0 => self.dropped(guid, kind::PUSH, DropReason::TtlExpired),
            Some(to) => {
                let msg = Message {
                    guid,
                    ttl,
                    hops,
                    payload: Payload::Push(push),
                };
                self.send_one(to, msg);
            }
        }
    }

    // ----- strategies ----------------------------------------------------------------

    /// Starts a dynamic query and sends its probe.
    fn start_dynamic_query(&mut self, now: Time, start: DqStart) {
        let (guid, leaf) = (start.guid, start.leaf);
        // Our (other) leaves whose tables match get it at once, as gtk-gnutella's
        // `dq_sendto_leaves`: the steps go to ultrapeers only.
        if self
            .links()
            .any(|n| n.role == Role::Leaf && Some(n.conn) != leaf)
        {
            let hops = u8::from(leaf.is_some());
            self.relay_query(guid, 0, hops, Arc::clone(&start.query), leaf, true);
        }
        let links = self.dq_links(Some(&start.query));
        let dq = self.pending_mut().dq.get_or_insert_with(Box::default);
        if dq.full() {
            // Too many at once (a leaf flooding us with queries): this one is flooded
            // to the ultrapeers, as before dynamic querying. A leaf's query already
            // counts our hop in `start.ttl`.
            let hops = u8::from(leaf.is_some());
            self.relay_query(guid, start.ttl, hops, start.query, leaf, false);
            return;
        }
        let steps = dq.start(now, start, &links);
        self.run_dq_steps(guid, steps);
    }

    /// Carries out what a dynamic query asked for.
    fn run_dq_steps(&mut self, guid: Guid, steps: Vec<Step>) {
        if steps.is_empty() {
            return;
        }
        let Some((query, leaf)) = self
            .pending()
            .and_then(|p| p.dq.as_ref())
            .and_then(|d| d.query(guid))
        else {
            return;
        };
        // Copies for a leaf go out as relayed by us (hops 1); ours with hops 0.
        let hops = u8::from(leaf.is_some());
        for step in steps {
            match step {
                Step::Send { to, ttl } => {
                    let msg = Message {
                        guid,
                        ttl,
                        hops,
                        payload: Payload::Query(Arc::clone(&query)),
                    };
                    self.send_one(to, msg);
                }
                Step::AskStatus { leaf } => {
                    let msg = Message {
                        guid,
                        ttl: 1,
                        hops: 0,
                        payload: Payload::Vendor(Vendor::QueryStatusRequest),
                    };
                    self.send_one(leaf, msg);
                }
            }
        }
    }

    /// The links a dynamic query may query, with their degree (`X-Degree`, else ours:
    /// in a network of equals the best guess), TTL limit and, for `query`, what their
    /// last-hop QRP table says.
    fn dq_links(&self, query: Option<&Query>) -> Vec<LinkView> {
        let profile = |conn: ConnId| self.link_profile(conn);
        let relays = || self.links().filter(|n| n.role != Role::Leaf);
        let ours = relays().count() as u32;
        let keys = query.map(QueryKeys::of);
        let qrp = |conn: ConnId| {
            let table = self.neighbour_qrp_table(conn)?;
            keys.as_ref().map(|k| table.matches(k))
        };
        relays()
            .map(|n| {
                let p = profile(n.conn);
                LinkView {
                    conn: n.conn,
                    degree: p.degree.unwrap_or(ours).max(2),
                    max_ttl: p.max_ttl,
                    qrp: qrp(n.conn),
                }
            })
            .collect()
    }

    /// [`Self::dq_links`] for the query of dynamic query `guid`.
    fn dq_links_of(&self, guid: Guid) -> Vec<LinkView> {
        let query = self
            .pending()
            .and_then(|p| p.dq.as_ref())
            .and_then(|d| d.query(guid))
            .map(|(q, _)| q);
        self.dq_links(query.as_deref())
    }

    /// Whether `conn` is our leaf and runs [`MAX_QUERIES_PER_LEAF`] dynamic queries here
    /// already (strategy `dq` only).
    ///
    /// [`MAX_QUERIES_PER_LEAF`]: super::dynamic_query::MAX_QUERIES_PER_LEAF
    fn leaf_over_its_share(&self, conn: ConnId) -> bool {
        let Some(dq) = self.pending().and_then(|p| p.dq.as_ref()) else {
            return false;
        };
        matches!(self.setting.config.strategy, Strategy::Dynamic { .. })
            && dq.for_leaf(conn) >= super::dynamic_query::MAX_QUERIES_PER_LEAF
            && self.leaf_profile(conn).is_some()
    }

    /// The profile of `conn` if it is our leaf (and we are not a leaf ourselves).
    fn leaf_profile(&self, conn: ConnId) -> Option<LinkProfile> {
        if self.role() == Some(Role::Leaf) || self.link_role(conn) != Some(Role::Leaf) {
            return None;
        }
        Some(self.link_profile(conn))
    }

    /// What the driver and the link's Messages Supported told us of `conn`.
    fn link_profile(&self, conn: ConnId) -> LinkProfile {
        self.pending()
            .and_then(|p| p.profiles.iter().find(|(c, _)| *c == conn))
            .map_or_else(LinkProfile::default, |(_, p)| *p)
    }

    fn next_ring_round(&mut self, now: Time, guid: Guid) {
        let Strategy::ExpandingRing { wait_ms } = self.setting.config.strategy else {
            return;
        };
        let Some(own) = self.own_if_any() else {
            return;
        };
        let Some((round_ttl, query)) = own.next_round(now, guid, wait_ms) else {
            return;
        };
        self.remember_ours(guid, kind::QUERY, round_ttl, now);
        self.flood_query(guid, round_ttl, 0, query, None);
    }

    /// Passes a walker on, parking it for a check-back every `check_every` hops.
    fn forward_walker(&mut self, now: Time, from: ConnId, msg: Message) {
        if let Strategy::RandomWalk { check_every, .. } = self.setting.config.strategy {
            let parked = self.pending().map_or(0, |p| p.parked.len());
            if walkers::parks(check_every, msg.hops, parked) {
                let (guid, hops) = (msg.guid, msg.hops);
                self.pending_mut().parked.park(msg, from, now);
                self.request(Request::CheckBack { guid, hops });
                return;
            }
        }
        self.step_walker(from, msg);
    }

    /// Sends a walker to one random neighbour other than `from` (or back to `from` when it
    /// is the only one).
    fn step_walker(&mut self, from: ConnId, msg: Message) {
        let cold = cold_in(&mut self.cold, &self.setting, self.peer);
        let links = self.neighbours.iter(Some(&cold.links)).map(|n| n.conn);
        if let Some(to) = walkers::next_step(links, from, &mut cold.rng) {
            self.send_one(to, msg);
        }
    }

    // ----- helpers -------------------------------------------------------------------

    fn flood_query(
        &mut self,
        guid: Guid,
        ttl: u8,
        hops: u8,
        query: Arc<Query>,
        except: Option<ConnId>,
    ) {
        self.relay_query(guid, ttl, hops, query, except, true);
    }

    /// Sends a query on: to every neighbour but `except` in a flat network; by QRP
    /// tables where neighbours are leaves or sent us one (PROTOCOL.md §3.2, §6.2):
    /// - a leaf gets it only when its table matches (none yet: nothing, as
    ///   gtk-gnutella; but a flat peer, which offers no QRP, floods it to a leaf
    ///   without a table), with TTL 1 when it ran out here, and only if `leaves`;
    /// - an ultrapeer gets it while TTL is left, but on its last hop (TTL 1) only when
    ///   the merged table it sent us matches (last-hop QRP; no table: always).
    fn relay_query(
        &mut self,
        guid: Guid,
        ttl: u8,
        hops: u8,
        query: Arc<Query>,
        except: Option<ConnId>,
        leaves: bool,
    ) {
        // Taken, not borrowed: the caller's last use, so forwarding costs no extra
        // shared-count update (an atomic) in and out.
        let msg = Message {
            guid,
            ttl,
            hops,
            payload: Payload::Query(query),
        };
        let tables = self.pending().map_or(0, |p| p.qrp.len());
        let any_leaf = self.links().any(|n| n.role == Role::Leaf);
        if ttl > 0 && tables == 0 && !any_leaf {
            let n = self.flood(msg, except);
            self.sent(guid, kind::QUERY, n);
            return;
        }
        let keys = match &msg.payload {
            Payload::Query(query) => QueryKeys::of(query),
            _ => QueryKeys::default(),
        };
        let flat = self.role().is_none();
        let received = self.pending().map(|p| &p.qrp[..]).unwrap_or_default();
        let table_of = |conn: ConnId| {
            received
                .iter()
                .find(|(c, _)| *c == conn)
                .and_then(|(_, rx)| rx.table())
        };
        let mut targets = Vec::new();
        for n in self.links().filter(|n| Some(n.conn) != except) {
            let send = match n.role {
                // A flat peer offers no QRP (no `X-Query-Routing`), so a leaf that
                // attached to it sends no table and gets every query, as before roles.
                Role::Leaf => {
                    leaves && table_of(n.conn).map_or(flat && ttl > 0, |t| t.matches(&keys))
                }
                Role::Ultrapeer => {
                    ttl > 1 || (ttl == 1 && table_of(n.conn).map_or(true, |t| t.matches(&keys)))
                }
            };
            if send {
                targets.push(n.conn);
            }
        }
        // Every target gets the same copy: an ultrapeer only while TTL is left, a leaf
        // with TTL 1 at least.
        let msg = Message {
            ttl: ttl.max(1),
            ..msg
        };
        let out = self.out.get_or_insert_with(Box::default);
        let n = out.flood(msg, targets.into_iter());
        self.sent(guid, kind::QUERY, n);
    }

    /// A query whose TTL ran out here still goes to the leaves it matches.
    fn query_to_leaves(&mut self, guid: Guid, hops: u8, query: Arc<Query>, from: ConnId) {
        let any_leaf = self.links().any(|n| n.role == Role::Leaf && n.conn != from);
        if any_leaf {
            self.relay_query(guid, 0, hops, query, Some(from), true);
        }
    }

    /// Sends `conn` what it lacks of our library's table (a leaf to its ultrapeer).
    fn send_own_table(&mut self, conn: ConnId) {
        let cold = self.cold_mut();
        let library = cold.library.as_deref().unwrap_or(&EMPTY_LIBRARY);
        let table = cold
            .pending
            .get_or_insert_with(Box::default)
            .tables
            .own(|| QrpTable::from_library(library));
        self.send_table(conn, &table);
    }

    /// Sends every neighbour ultrapeer that takes QRP what it lacks of our merged table:
    /// our library's keywords and our leaves' (last-hop QRP).
    fn send_merged_table(&mut self) {
        let Cold {
            library,
            pending,
            links,
            ..
        } = cold_in(&mut self.cold, &self.setting, self.peer);
        let library = library.as_deref().unwrap_or(&EMPTY_LIBRARY);
        let pending = pending.get_or_insert_with(Box::default);
        let own = pending.tables.own(|| QrpTable::from_library(library));
        let mut merged = QrpTable::clone(&own);
        for n in self
            .neighbours
            .iter(Some(links))
            .filter(|n| n.role == Role::Leaf)
        {
            let leaf = pending.qrp.iter().find(|(c, _)| *c == n.conn);
            if let Some(table) = leaf.and_then(|(_, rx)| rx.table()) {
                merged.merge(table);
            }
        }
        let merged = Arc::new(merged);
        for conn in self.table_takers() {
            self.send_table(conn, &merged);
        }
    }

    /// The ultrapeer links that take our QRP table (`PeerInfo::query_routing`).
    fn table_takers(&self) -> Vec<ConnId> {
        self.links()
            .filter(|n| n.query_routing && n.role == Role::Ultrapeer)
            .map(|n| n.conn)
            .collect()
    }

    /// Sends `conn` the RESET and PATCH messages that bring it to `table` (none when it
    /// holds it already): link-local, TTL 1, hops 0.
    fn send_table(&mut self, conn: ConnId, table: &Arc<QrpTable>) {
        let updates = self.pending_mut().tables.update(conn, table);
        for update in updates {
            let msg = Message {
                guid: Guid::random(self.rng()),
                ttl: 1,
                hops: 0,
                payload: Payload::RouteTableUpdate(update),
            };
            self.send_one(conn, msg);
        }
    }

    /// Puts `msg` on every link but `except`; the payload is shared, not copied (the last
    /// link gets `msg` itself: one shared-count update fewer per flood). Queued once
    /// ([`Action::Flood`]), it becomes one send per link as the driver polls it.
    fn flood(&mut self, msg: Message, except: Option<ConnId>) -> u32 {
        let out = self.out.get_or_insert_with(Box::default);
        let links = self
            .neighbours
            .iter(list_in(&self.cold))
            .map(|n| n.conn)
            .filter(|&conn| Some(conn) != except);
        out.flood(msg, links)
    }

    /// Applies `max_ttl` to a broadcast before its hop: the TTL to use, or `None` if dropped.
    fn admit_broadcast(&mut self, guid: Guid, kind: u8, ttl: u8, hops: u8) -> Option<u8> {
        let max = self.setting.config.max_ttl;
        if u16::from(hops) + u16::from(ttl) <= u16::from(max) {
            return Some(ttl);
        }
        match self.setting.config.over_max_ttl {
            OverMaxTtl::Trim => {
                self.rare_counters().ttl_trimmed += 1;
                Some(max.saturating_sub(hops).max(1))
            }
            OverMaxTtl::Drop => {
                self.rare_counters().over_max_ttl += 1;
                self.dropped(guid, kind, DropReason::OverMaxTtl);
                None
            }
        }
    }

    fn push_route(&self, target: &Guid, now: Time) -> Option<ConnId> {
        let bounds = route_bounds(&self.setting.config);
        let conn = self.servents()?.push_route(target, now, bounds)?;
        self.is_connected(conn).then_some(conn)
    }

    /// Whether servent `holder` is the neighbour on `conn`, as far as we know.
    fn holder_is_on(&self, conn: ConnId, holder: &Guid) -> bool {
        self.servents().is_some_and(|s| s.is_on(conn, holder))
    }

    fn forget_link(&mut self, now: Time, conn: ConnId) {
        let was_leaf = self.link_role(conn) == Some(Role::Leaf);
        if was_leaf && self.role() == Some(Role::Ultrapeer) {
            // Its keywords leave our merged table.
            self.pending_mut().tables.schedule_merge(now);
        }
        let (cold, setting, peer) = (&mut self.cold, &self.setting, self.peer);
        self.neighbours
            .remove(|| &mut cold_in(cold, setting, peer).links, conn);
        if let Some(pings) = self.pending_if_any().and_then(|p| p.pings.as_mut()) {
            pings.throttle.forget(conn);
            pings.keep_alives.forget(conn);
            pings.cache.forget(conn);
        }
        if let Some(servents) = self.cold.as_mut().and_then(|c| c.servents.as_mut()) {
            servents.forget(conn);
        }
        if let Some(pending) = self.pending_if_any() {
            pending.qrp.retain(|(c, _)| *c != conn);
            pending.profiles.retain(|(c, _)| *c != conn);
            if let Some(dq) = pending.dq.as_mut() {
                dq.link_down(conn);
            }
            pending.tables.forget(conn);
        }
    }

    /// The degree the overlay's policy sees: an ultrapeer's leaves do not count.
    fn overlay_degree(&self) -> usize {
        if self.role() == Some(Role::Ultrapeer) {
            self.links().filter(|n| n.role != Role::Leaf).count()
        } else {
            self.neighbours.len(list_in(&self.cold))
        }
    }

    fn is_connected(&self, conn: ConnId) -> bool {
        self.neighbours.contains(list_in(&self.cold), conn)
    }

    fn dropped(&mut self, guid: Guid, kind: u8, reason: DropReason) {
        self.outbox()
            .events
            .push_back(Event::Dropped { guid, kind, reason });
    }

    fn no_route(&mut self, guid: Guid, kind: u8) {
        self.rare_counters().no_route += 1;
        self.dropped(guid, kind, DropReason::NoRoute);
    }

    /// Puts one descriptor on one link and counts it under its own GUID and type.
    fn send_one(&mut self, to: ConnId, msg: Message) {
        let (guid, kind) = (msg.guid, msg.payload.kind());
        self.outbox().actions.push_back(Action::Send { to, msg });
        self.sent(guid, kind, 1);
    }

    fn sent(&mut self, guid: Guid, kind: u8, count: u32) {
        if count > 0 {
            self.count(|c| c.sent += u64::from(count));
            if let Some(traffic) = self.cold.as_mut().and_then(|c| c.traffic.as_mut()) {
                traffic.sent.add(kind, count);
            }
            self.outbox()
                .events
                .push_back(Event::Sent { guid, kind, count });
        }
    }

    fn request(&mut self, request: Request) {
        let pending = self.pending_mut();
        if pending.requests.len() >= MAX_REQUESTS {
            pending.requests.pop_front();
        }
        pending.requests.push_back(request);
    }

    fn cold_mut(&mut self) -> &mut Cold {
        cold_in(&mut self.cold, &self.setting, self.peer)
    }

    /// The routing RNG.
    fn rng(&mut self) -> &mut NodeRng {
        &mut self.cold_mut().rng
    }

    /// The counters kept out of line, for an increment.
    fn rare_counters(&mut self) -> &mut Counters {
        self.cold_mut().rare.get_or_insert_with(Box::default)
    }

    /// Moves the counters every descriptor may move, if this node keeps counters: a
    /// test of the shared setting (read for the config anyway) before the box.
    #[inline]
    fn count(&mut self, add: impl FnOnce(&mut Counters)) {
        if self.setting.counts() {
            add(self.rare_counters());
        }
    }

    fn own(&self) -> Option<&OwnSearches> {
        self.cold.as_ref()?.own.as_deref()
    }

    fn own_if_any(&mut self) -> Option<&mut OwnSearches> {
        self.cold.as_mut()?.own.as_deref_mut()
    }

    fn own_mut(&mut self) -> &mut OwnSearches {
        let hash = self.keyed_hash();
        self.cold_mut()
            .own
            .get_or_insert_with(|| Box::new(OwnSearches::new(hash)))
    }

    fn servents(&self) -> Option<&ServentRoutes> {
        self.cold.as_ref()?.servents.as_deref()
    }

    fn servents_mut(&mut self) -> &mut ServentRoutes {
        let hash = self.keyed_hash();
        self.cold_mut()
            .servents
            .get_or_insert_with(|| Box::new(ServentRoutes::new(hash)))
    }

    fn cache_mut(&mut self) -> &mut ResultCache {
        let hash = self.keyed_hash();
        self.cold_mut()
            .cache
            .get_or_insert_with(|| Box::new(ResultCache::new(hash)))
    }

    /// Records a descriptor we originated with `ttl` in the route table.
    fn remember_ours(&mut self, guid: Guid, kind: u8, ttl: u8, now: Time) {
        let hash = self.hash_of();
        self.routes
            .remember_ours(&self.setting.config, hash, guid, kind, ttl, now);
    }

    /// The keyed hash of this node's tables.
    fn keyed_hash(&self) -> KeyedHash {
        self.setting.peers().hash(self.peer)
    }

    /// The keyed hash, for a table to ask for when it needs it.
    fn hash_of(&self) -> impl Fn() -> KeyedHash + Copy {
        let (peers, peer) = (self.setting.peers(), self.peer);
        move || peers.hash(peer)
    }

    fn outbox(&mut self) -> &mut Outbox {
        self.out.get_or_insert_with(Box::default)
    }

    fn pending(&self) -> Option<&Pending> {
        self.cold.as_ref()?.pending.as_deref()
    }

    fn pending_if_any(&mut self) -> Option<&mut Pending> {
        self.cold.as_mut()?.pending.as_deref_mut()
    }

    fn pending_mut(&mut self) -> &mut Pending {
        self.cold_mut().pending.get_or_insert_with(Box::default)
    }

    fn overlay_mut(&mut self) -> Option<&mut Overlay> {
        self.pending_if_any().and_then(|p| p.overlay.as_deref_mut())
    }

    fn pings(&self) -> Option<&Pings> {
        self.pending().and_then(|p| p.pings.as_deref())
    }

    fn pings_mut(&mut self) -> &mut Pings {
        self.pending_mut().pings.get_or_insert_with(|| {
            Box::new(Pings {
                cache: PongCache::new(PongCacheConfig::default()),
                throttle: PingThrottle::new(PING_INTERVAL),
                keep_alives: PingThrottle::new(KEEP_ALIVE_INTERVAL),
                refreshed: None,
            })
        })
    }

    /// The pong cache, once a Pong has come back to one of our Pings.
    pub fn pong_cache(&self) -> Option<&PongCache> {
        self.pings().map(|p| &p.cache)
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// A query from link 0 of a node with links 0..3, seen twice.
    fn flood_twice(setting: NodeSetting) -> Node {
        let mut node = Node::of_peer(Arc::new(setting), 7, Library::default());
        for conn in 0..3 {
            node.on_connected(Time::ZERO, ConnId(conn), PeerInfo::default());
        }
        let query = Message {
            guid: Guid([5; 16]),
            ttl: 3,
            hops: 0,
            payload: Payload::Query(Arc::new(Query::keywords("some words"))),
        };
        node.on_message(Time(1), ConnId(0), query.clone());
        node.on_message(Time(2), ConnId(1), query);
        while node.poll_output() != Output::Timeout(None) {}
        node
    }

    #[test]
    fn a_node_counts_unless_its_setting_says_not_to() {
        let config = Arc::new(RoutingConfig::default());
        let counted = flood_twice(NodeSetting::numbered(Arc::clone(&config), 1));
        let c = counted.counters();
        assert_eq!((c.received, c.sent, c.duplicates), (2, 2, 1));
        let box_of = |n: &Node| n.cold.as_ref().and_then(|c| c.rare.as_ref()).is_some();
        assert!(box_of(&counted));
        // A simulator that reads no per-node totals: nothing counted, no box for it.
        let uncounted = flood_twice(NodeSetting::numbered(config, 1).counting(false));
        assert_eq!(uncounted.counters(), Counters::default());
        assert!(!box_of(&uncounted));
    }

    /// A simulated million-peer flood holds a million of these: growing one is a
    /// decision (`sim::memory` has the per-peer figures), not an accident.
    #[test]
    fn a_node_stays_within_its_byte_budget() {
        assert!(
            std::mem::size_of::<Node>() <= 80,
            "{}",
            std::mem::size_of::<Node>()
        );
        // The newest (GUID, type) entry inline (32 bytes) and one pointer to the rest.
        assert!(std::mem::size_of::<Routes>() <= 40);
        // A count, the size a list would take and the links' shared traits; the list
        // itself is in the cold box.
        assert!(std::mem::size_of::<Neighbours>() <= 12);
    }
}
