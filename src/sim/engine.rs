//! The discrete-event loop: the real routing `Node` of every peer, fed messages over
//! virtual links by a virtual clock.
//!
//! Everything that happens is an item in one [`EventQueue`] ordered by (time, sequence
//! number): a message arriving, a node's timer, a search starting, a peer leaving or
//! rejoining. Handling an item calls into one `Node`; the actions it returns become future
//! deliveries over its links, its events go to the shared [`Recorder`]. Nothing reads the
//! wall clock and every random draw comes from RNGs seeded from the run's seed, so a run is
//! a pure function of its inputs.
//!
//! Memory: every peer has a slot holding its `Node` in place (no box, so a delivery costs
//! one memory wait less; the table is advised onto huge pages), created the first time
//! something reaches it; nodes hold no output queues between inputs (the driver lends them
//! one `Outbox`); a queued delivery is 20 bytes (the receiver and its link, a session
//! check; its time is kept by the queue's block, in runs of equal times): its message names its payload by
//! a row of a per-run table ([`Payloads`]) shared by every copy of it in flight.
//!
//! Modelling choices, each the simplest that keeps the search figures honest:
//! - in a static overlay (the default) links exist before the run starts; what nodes say
//!   when a link comes up (handshake Pings) is not simulated;
//! - a peer that leaves (churn) loses its links at both ends and its state; in a static
//!   overlay it comes back with fresh state and links to the neighbours online then;
//!   messages in flight on a link that went down are lost;
//! - in a dynamic overlay ([`SimConfig::overlay`]) the graph's links are only a start:
//!   every node runs the degree policy of `node::overlay` and the driver carries out its
//!   dials (see "Dynamic overlay" below); a peer that comes back keeps nothing but its
//!   host cache and rejoins by dialling from it;
//! - a removal ([`SimConfig::removal`], see [`super::removal`]) takes its peers offline
//!   the same way, for good: they never rejoin, and their planned queries are skipped and
//!   counted in [`SimStats::skipped_removed`];
//! - the overlay figures (mean degree, largest component) count a link when both its ends
//!   are online (links a node closed itself, see `SimStats::closed_by_node`, still count);
//! - the per-second timeseries recomputes the largest component (one pass over all links)
//!   only at the end of a second in which a peer left or joined: free without churn, about
//!   3 ms per second of virtual time for 100,000 peers under churn.
//! - a random walker's check-back is a direct exchange with the origin (one message there,
//!   one back, as in Lv et al. 2002): answered after two link delays, counted per query in
//!   [`SimReport::check_backs`] and not in the record's `messages` (Query descriptors);
//! - the processing delay is added to every message a node sends in reply to an input.
//!
//! Dynamic overlay. Every online peer's node exists from the start with the overlay
//! enabled; its host cache starts with the config's bootstrap hosts (`SimConfig::bootstrap`)
//! and its graph neighbours (as saved hosts: what a servent that ran before would have in
//! its host file), so a generated graph needs no bootstrap list. Links live in the
//! [`DynamicLinks`] table instead of the static one (which a static run keeps using, and
//! pays nothing for any of this). A node's `Output::Dial(addr)` is answered
//! [`CONNECT_ONE_WAYS`] one-way link delays later (a TCP connect, one round trip, and the
//! 0.6 handshake's CONNECT and answer, one more), judged on the state at that moment:
//! - the address names no peer of the run, the peer is offline or removed, or the two are
//!   already linked: `on_dial_failed` (a refused or timed-out connect);
//! - the peer has all the links it accepts (`Node::overlay_full`): refused like the live
//!   503, whose `X-Try` header names [`X_TRY_HOSTS`] hosts of the target's cache; the
//!   dialler learns them (`HostSource::XTry`), then `on_dial_failed`, and the target
//!   learns the dialler's address (`HostSource::Knocked`);
//! - otherwise the link comes up at both ends at once (`on_connected`, each told the
//!   other's listening address), with fresh `ConnId`s;
//! - a dialler that left meanwhile is not answered (its node is gone).
//!
//! A leaving peer's host cache is kept as a live peer saves its host file, and read back
//! (`Node::restore_hosts`, ages counted on) when it returns; a removed peer never returns.
//! Survivors of a removal or of churn see their links go down and dial replacements.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::node::record::{QueryRecord, Recorder};
use crate::node::{
    ConnId, DropReason, Event, Library, Node, NodeSetting, Outbox, Output, PeerIdentity, PeerInfo,
    Request, RoutingConfig, SharedFile, Time,
};
use crate::protocol::{Guid, Message, Payload};
use crate::trace::{TracedCopy, Tracer};

use super::config::{Placement, PlannedQuery, SimConfig};
use super::dynamic::DynamicLinks;
use super::links::Links;
use super::node_table::NodeTable;
use super::packed::{PackedMessage, Payloads};
use super::peer_column::PeerColumn;
use super::queue::EventQueue;
use super::removal::{overlay_shape, shape_of, OverlayShape};
use super::tiers::TierLoads;
use crate::node::identity::mix;
use crate::node::HostSource;
use crate::node::{PeerStats, PeerTally};

/// One-way link delays between a dial and its outcome: a TCP connect (one round trip)
/// and the 0.6 handshake's CONNECT and its answer (one more).
pub const CONNECT_ONE_WAYS: u64 = 4;
/// Hosts a refusal names in its `X-Try` header.
pub const X_TRY_HOSTS: usize = 10;

/// One thing due at a point of virtual time.
#[derive(Debug)]
enum Work {
    /// `msg` arrives at `to` on its connection `conn`. `sessions` is the sum of the two
    /// ends' session numbers when it was sent (static runs with churn or removal):
    /// session numbers only grow, so the sum is unchanged exactly when neither end left
    /// since (short of 2^32 departures of the two during one message's flight); if one
    /// did, the link it travelled on is gone and so is the message. One sum instead of
    /// two numbers keeps a queued item at 20 bytes.
    Deliver {
        to: u32,
        conn: ConnId,
        sessions: u32,
        msg: PackedMessage,
    },
    /// A node's timer (stale if the node re-armed it since).
    Timer { node: u32 },
    /// The planned query with this index starts.
    Search { index: u32 },
    /// Churn: the peer leaves if online, rejoins if offline.
    Toggle { node: u32 },
    /// The configured removal: its peers leave for good.
    Remove,
    /// The origin's answer to a random walker parked at `walker` (in its session
    /// `session`) arrives. (The GUID waits in `Simulation::check_back_guids` under the
    /// key `guid`: walkers are rare, and inline, or boxed (a pointer aligns every item to
    /// 8 bytes), it would make every queued item, deliveries included, larger.)
    CheckBack {
        walker: u32,
        session: u32,
        guid: u32,
    },
    /// The outcome of peer `from`'s dial of `addr` (asked in its session `session`) is
    /// known (dynamic overlay only).
    Connect {
        from: u32,
        session: u32,
        addr: SocketAddrV4,
    },
}

/// Counters about the run itself (not about any one query).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimStats {
    /// Messages handed to a node.
    pub delivered: u64,
    /// Messages lost on links (the loss probability).
    pub lost: u64,
    /// Messages that found their link gone (an end left while they travelled).
    pub lost_link_down: u64,
    /// Nodes that were ever created (peers something reached).
    pub nodes_created: u64,
    /// Node timers that fired.
    pub timers: u64,
    /// Links a node closed itself.
    pub closed_by_node: u64,
    pub churn_leaves: u64,
    pub churn_joins: u64,
    /// Random-walker check-backs answered (each one a message to the origin and its reply).
    pub check_backs: u64,
    /// Planned queries not started because their origin was offline at the time (churn).
    pub skipped_offline: u64,
    /// Peers removed for good (`SimConfig::removal`).
    pub removed: u64,
    /// Planned queries not started because their origin had been removed.
    pub skipped_removed: u64,
    /// Virtual time when the run ended, in microseconds.
    pub end_time_us: u64,
    /// Dynamic overlay: dials the nodes asked for.
    pub dials: u64,
    /// Of those, the ones that failed (no such peer, offline, already linked, or full).
    pub dials_failed: u64,
    /// Of the failed ones, those the target refused because it was full (503 + X-Try).
    pub dials_refused: u64,
    /// Links the dials made.
    pub links_made: u64,
}

/// Events between two progress calls of [`Simulation::execute`] (a few per second of a
/// large run; the check costs one increment per event).
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// How far a run is, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimProgress {
    /// Searches started so far.
    pub started: usize,
    /// This call is for a search that just started (else for a batch of events).
    pub search_started: bool,
    /// Messages delivered so far.
    pub delivered: u64,
    /// Virtual time, µs.
    pub now_us: u64,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct SimReport {
    /// One record per started query, in planned order.
    pub records: Vec<QueryRecord>,
    /// For each record, the index of its planned query.
    pub planned_index: Vec<usize>,
    /// For each record, the random-walker check-backs its search cost (each one a message
    /// to the origin and one back; not included in the record's `messages`).
    pub check_backs: Vec<u64>,
    /// Query and QueryHit descriptors each peer put on links (index = peer).
    pub messages_per_peer: Vec<u64>,
    pub stats: SimStats,
    /// The overlay among online peers when the first event runs (after churn's initial
    /// draw, before any removal) and when the run ends.
    pub overlay_start: OverlayShape,
    pub overlay_end: OverlayShape,
    /// One row per virtual second when [`Simulation::record_timeseries`] asked for it.
    pub timeseries: Vec<SecondRow>,
    /// A two-tier run's roles and load per peer ([`Simulation::set_tiers`]); `None` in a
    /// flat run.
    pub tiers: Option<TierLoads>,
}

/// The state of the run at the end of one virtual second (see [`SimReport::timeseries`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct SecondRow {
    /// The second: events in [second, second + 1) s of virtual time.
    pub second: u64,
    /// The overlay among online peers at the end of that second (recomputed only in
    /// seconds where a peer left or joined; otherwise the previous row's shape).
    pub overlay: OverlayShape,
    /// Searches that started in that second.
    pub queries_started: u64,
    /// Of those, the ones that succeeded (by the end of the run): a query is counted in
    /// the second it started, so the two columns divide into that second's success rate.
    pub queries_succeeded: u64,
}

/// `Simulation::timer_due` of a node with no timer armed.
const NO_TIMER: u64 = 0;

/// A simulation of one overlay, ready to run a list of searches.
pub struct Simulation {
    links: Links,
    config: SimConfig,
    /// The setting (routing configuration, identity rule) of each peer (`shared` for all
    /// when empty): nodes point to these, a few distinct ones between them.
    per_peer: Vec<Arc<NodeSetting>>,
    shared: Arc<NodeSetting>,
    placement: Placement,
    seed: u64,
    /// The seed peers' identities derive from (the run's seed unless `set_peers` says).
    network_seed: u64,
    /// Every peer's node, created on first use (nothing is written for a peer before).
    nodes: NodeTable,
    /// The output queues lent to whichever node is handling an input, so that nodes hold
    /// none between inputs.
    outbox: Option<Box<Outbox>>,
    online: PeerColumn<bool>,
    /// Peers removed for good (never rejoin).
    removed: PeerColumn<bool>,
    /// Whether peers can be offline at all (churn or removal): else presence checks are
    /// skipped on the hot path.
    presence: bool,
    /// Whether a peer left or joined since the overlay shape was last computed.
    shape_dirty: bool,
    timeseries: Option<Vec<SecondRow>>,
    /// Session number of each peer, bumped when it leaves.
    session: PeerColumn<u32>,
    /// Due time of each node's armed timer, bitwise negated so that none (`!u64::MAX`)
    /// is 0. A run whose nodes arm no timer (a flood) holds none (8 bytes a peer).
    timer_due: PeerColumn<u64>,
    queue: EventQueue<Work>,
    /// The payloads of the queued deliveries, which carry only their row.
    payloads: Payloads,
    link_rng: ChaCha8Rng,
    churn_rng: ChaCha8Rng,
    recorder: Recorder,
    /// The origin of every search started, for walker check-backs.
    origins: HashMap<Guid, u32>,
    check_backs: HashMap<Guid, u64>,
    /// The GUIDs of the check-backs queued (`Work::CheckBack::guid`).
    check_back_guids: slab::Slab<Guid>,
    stats: SimStats,
    /// What only a dynamic overlay needs; `None` in a static run, which pays for none
    /// of it.
    dynamic: Option<Box<DynamicRun>>,
    /// The flood trace, when one was asked for ([`Simulation::trace`]).
    tracer: Option<Box<Tracer>>,
    /// Per-peer statistics, when asked for ([`Simulation::count_peer_stats`]): each
    /// peer's drops and what its earlier sessions counted (a node that leaves takes its
    /// counters with it). `None` in a run that wants no per-peer rows.
    tallies: Option<Vec<PeerTally>>,
    /// A two-tier run's roles and per-peer load; `None` (and no cost) in a flat run.
    tiers: Option<Box<TierLoads>>,
    /// Some peer runs a role (two-tier routing): nodes' link-up outputs (QRP tables)
    /// are carried out, and the run starts with the tables' exchange.
    roles: bool,
    /// When the planned work started: the end of a two-tier run's table exchange (0
    /// otherwise). Records' start times are counted from here.
    start_offset: Time,
}

/// The state of a dynamic overlay's run (see the module documentation).
struct DynamicRun {
    links: DynamicLinks,
    /// Each peer's host cache as it left it (a live peer's saved host file); `None` for a
    /// peer that has not run yet, whose cache starts from its graph neighbours.
    saved: Vec<Option<Vec<SavedHost>>>,
}

/// One host of a saved host cache.
#[derive(Clone, Copy, Debug)]
struct SavedHost {
    addr: SocketAddrV4,
    failures: u8,
    last_seen: Time,
}

impl Simulation {
    /// A simulation of `links` with files placed per `placement`, every random choice
    /// drawn from `seed`.
    pub fn new(links: Links, config: SimConfig, placement: Placement, seed: u64) -> Simulation {
        let n = links.node_count() as usize;
        let mut recorder = Recorder::new();
        recorder.set_peer_count(n);
        // Nodes keep no counters of their own until `count_peer_stats` asks for them.
        let shared =
            Arc::new(NodeSetting::numbered(Arc::new(config.routing.clone()), seed).counting(false));
        let presence =
            config.churn.is_some() || config.removal.is_some() || config.overlay.is_dynamic();
        Simulation {
            links,
            config,
            per_peer: Vec::new(),
            shared,
            placement,
            seed,
            network_seed: seed,
            nodes: NodeTable::new(n),
            outbox: Some(Box::default()),
            online: PeerColumn::new(n, true),
            removed: PeerColumn::new(n, false),
            presence,
            shape_dirty: true,
            timeseries: None,
            session: PeerColumn::new(n, 0),
            timer_due: PeerColumn::new(n, NO_TIMER),
            queue: EventQueue::new(),
            payloads: Payloads::default(),
            link_rng: ChaCha8Rng::seed_from_u64(mix(seed ^ 0x6c69_6e6b)),
            churn_rng: ChaCha8Rng::seed_from_u64(mix(seed ^ 0x6368_7572)),
            recorder,
            origins: HashMap::new(),
            check_backs: HashMap::new(),
            check_back_guids: slab::Slab::new(),
            stats: SimStats::default(),
            dynamic: None,
            tracer: None,
            tallies: None,
            tiers: None,
            roles: false,
            start_offset: Time::ZERO,
        }
    }

    /// Keeps what [`Simulation::peer_stats`] needs besides the nodes (one small tally per
    /// peer). Call before running.
    pub fn count_peer_stats(&mut self) {
        self.tallies = Some(vec![PeerTally::default(); self.nodes.len()]);
        // The rows come from the nodes' counters, which nodes keep only when asked.
        let counted = |s: &Arc<NodeSetting>| Arc::new(NodeSetting::clone(s).counting(true));
        self.shared = counted(&self.shared);
        let mut done: HashMap<usize, Arc<NodeSetting>> = HashMap::new();
        for setting in &mut self.per_peer {
            let key = Arc::as_ptr(setting) as usize;
            let new = Arc::clone(done.entry(key).or_insert_with(|| counted(setting)));
            *setting = new;
        }
    }

    /// One row per peer (index order) of what it counted over the run, every session of
    /// it together; empty unless [`Simulation::count_peer_stats`] was called. The
    /// simulator serves no files: `bytes_served` is `None`.
    pub fn peer_stats(&self) -> Vec<PeerStats> {
        let Some(tallies) = &self.tallies else {
            return Vec::new();
        };
        tallies
            .iter()
            .enumerate()
            .map(|(u, before)| {
                let mut tally = *before;
                if let Some(node) = self.node(u as u32) {
                    tally.merge(&PeerTally::of_node(node));
                }
                PeerStats {
                    peer: self.recorder.peer_name(u as u32),
                    tally,
                    bytes_served: None,
                }
            })
            .collect()
    }

    /// Folds the counters of peer `i`'s node, about to go, into its tally.
    fn retire_node(&mut self, i: usize) {
        if let (Some(tallies), Some(node)) = (self.tallies.as_mut(), self.nodes.get(i)) {
            if let Some(t) = tallies.get_mut(i) {
                t.merge(&PeerTally::of_node(node));
            }
        }
    }

    /// A two-tier graph's roles for the run (`ultrapeer[v]`: peer `v` is an ultrapeer,
    /// else a leaf): when every peer runs the run's own routing and it asks for roles
    /// ([`super::tiers::wants_roles`], the `qrp` strategy), each peer runs it with its
    /// role; the report counts the load per tier in any case ([`Simulation::set_tiers`]).
    /// Peers given their own routing ([`Simulation::set_peers`]) keep their own roles.
    /// Call before running.
    pub fn set_roles(&mut self, ultrapeer: &[bool]) {
        if self.per_peer.is_empty() && super::tiers::wants_roles(self.shared.config()) {
            let routing = super::tiers::two_tier_routing(self.shared.config(), ultrapeer);
            self.per_peer = settings_of(self.network_seed, routing, self.tallies.is_some());
        }
        self.set_tiers(ultrapeer.to_vec());
    }

    /// Makes the run two-tier: `ultrapeer[v]` says whether peer `v` is an ultrapeer or
    /// a leaf (a shorter list makes the rest leaves), and the report counts the load per
    /// peer of each tier ([`SimReport::tiers`]). Call before running.
    pub fn set_tiers(&mut self, mut ultrapeer: Vec<bool>) {
        let n = self.links.node_count() as usize;
        ultrapeer.resize(n, false);
        self.tiers = Some(Box::new(TierLoads {
            ultrapeer,
            received: vec![0; n],
        }));
    }

    /// Traces floods into `tracer` (see `crate::trace`): every copy sent, every
    /// arrival's verdict, every hit. Call before running; take it back with
    /// [`Simulation::take_tracer`] to finish the file with the run's records.
    pub fn trace(&mut self, tracer: Tracer) {
        self.tracer = Some(Box::new(tracer));
    }

    /// The tracer given to [`Simulation::trace`], once the run is over.
    pub fn take_tracer(&mut self) -> Option<Tracer> {
        self.tracer.take().map(|t| *t)
    }

    /// Gives every peer its own routing configuration (`routing[u]` for peer `u`; peers
    /// beyond the list keep `config.routing`) and derives identities from
    /// `network_seed`: a topology config's peers, exactly as `launch` builds them (see
    /// [`crate::topology::Scenario`]). Call before running.
    pub fn set_peers(&mut self, network_seed: u64, routing: Vec<Arc<RoutingConfig>>) {
        self.network_seed = network_seed;
        let counting = self.tallies.is_some();
        let shared = NodeSetting::numbered(Arc::clone(self.shared.config()), network_seed)
            .counting(counting);
        self.shared = Arc::new(shared);
        self.per_peer = settings_of(network_seed, routing, counting);
    }

    /// The routing configuration peer `u` runs.
    pub fn routing_of(&self, u: u32) -> &Arc<RoutingConfig> {
        self.setting_of(u).config()
    }

    /// The setting peer `u`'s node is built from.
    fn setting_of(&self, u: u32) -> &Arc<NodeSetting> {
        self.per_peer.get(u as usize).unwrap_or(&self.shared)
    }

    /// The identity peer `u` runs with.
    pub fn identity_of(&self, u: u32) -> PeerIdentity {
        PeerIdentity::derive(self.network_seed, u)
    }

    /// Names peers in the records (`origin`) as `names[i]` instead of by index, e.g. a
    /// config's peer ids or a SNAP file's node labels. Call before running.
    pub fn set_peer_names(&mut self, names: Vec<String>) {
        let mut recorder = Recorder::with_names(names);
        recorder.set_peer_count(self.links.node_count() as usize);
        self.recorder = recorder;
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The peers `u` has a link up with now: its online neighbours of the graph, or in a
    /// dynamic overlay its live links (after [`Simulation::execute`], as the run ended).
    pub fn linked_peers(&self, u: u32) -> Vec<u32> {
        match self.dynamic.as_deref() {
            Some(dynamic) => dynamic.links.neighbours(u).collect(),
            None if !self.online.get(u as usize).copied().unwrap_or(false) => Vec::new(),
            None => self
                .links
                .neighbours(u)
                .iter()
                .copied()
                .filter(|&v| self.online[v as usize])
                .collect(),
        }
    }

    /// `close_link` in a dynamic overlay: the link leaves the table, both ends hear of it.
    #[cold]
    #[inline(never)]
    fn close_dynamic_link(&mut self, now: Time, u: u32, conn: ConnId) {
        let Some(link) = self
            .dynamic
            .as_deref_mut()
            .and_then(|d| d.links.unlink(u, conn))
        else {
            return;
        };
        self.shape_dirty = true;
        self.with_node(now, link.peer, |peer| peer.on_disconnected(now, link.back));
        self.with_node(now, u, |n| n.on_disconnected(now, conn));
    }

    /// Peer `u`'s node, if it is online and something created it.
    pub fn node(&self, u: u32) -> Option<&Node> {
        self.nodes.get(u as usize)
    }

    /// Asks for [`SimReport::timeseries`]: one row per virtual second of the run.
    pub fn record_timeseries(&mut self) {
        self.timeseries = Some(Vec::new());
    }

    /// Closes the rows of every second that ended before `now` (the overlay is computed at
    /// most once per call, and only if a peer left or joined since the last time).
    fn close_seconds(&mut self, now: Time) {
        let Some(rows) = self.timeseries.as_ref() else {
            return;
        };
        let next = rows.len() as u64;
        let current = now.0 / 1_000_000;
        if current <= next {
            return;
        }
        let shape = if self.shape_dirty || rows.is_empty() {
            self.shape_dirty = false;
            self.shape()
        } else {
            rows.last().map(|r| r.overlay).unwrap_or_default()
        };
        let rows = self.timeseries.get_or_insert_with(Vec::new);
        for second in next..current {
            rows.push(SecondRow {
                second,
                overlay: shape,
                ..SecondRow::default()
            });
        }
    }

    /// Runs `queries` to completion (until `settle_us` after the last one starts).
    pub fn run(self, queries: &[PlannedQuery]) -> SimReport {
        self.run_with_progress(queries, &mut |_| {})
    }

    /// Like [`Simulation::run`], calling `progress(started)` each time a search starts.
    pub fn run_with_progress(
        mut self,
        queries: &[PlannedQuery],
        progress: &mut dyn FnMut(usize),
    ) -> SimReport {
        self.execute(queries, &mut |p: SimProgress| {
            if p.search_started {
                progress(p.started)
            }
        })
    }

    /// Runs `queries` like [`Simulation::run_with_progress`] but leaves the simulation
    /// (every node's state) with the caller: a process about to exit can skip tearing
    /// down a million nodes one allocation at a time. Call it once per simulation.
    ///
    /// `progress` is called each time a search starts and every [`PROGRESS_EVERY`]
    /// events, so a long settle after the last start still shows work going on.
    pub fn execute(
        &mut self,
        queries: &[PlannedQuery],
        progress: &mut dyn FnMut(SimProgress),
    ) -> SimReport {
        let t0 = self.exchange_tables();
        self.start_offset = t0;
        let last_start = queries.iter().map(|q| q.at).max().unwrap_or(Time::ZERO);
        let end = last_start.plus_micros(t0.0 + self.config.settle_us);
        for (index, q) in queries.iter().enumerate() {
            // (More than 2^32 planned queries would not fit in memory anyway.)
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            self.queue
                .push_planned(q.at.plus_micros(t0.0), Work::Search { index });
        }
        self.start_churn();
        if let Some(removal) = self.config.removal {
            if removal.at_us > 0 {
                self.queue
                    .push(Time(removal.at_us).plus_micros(t0.0), Work::Remove);
            }
        }
        self.start_dynamic();
        let overlay_start = self.shape();
        if self.config.removal.is_some_and(|r| r.at_us == 0) {
            self.remove(t0);
        }
        let mut guid_to_index: HashMap<Guid, usize> = HashMap::new();
        let mut started = 0usize;
        let mut now = Time::ZERO;
        let mut events: u64 = 0;
        while let Some(item) = self.queue.pop() {
            events += 1;
            if events % PROGRESS_EVERY == 0 {
                progress(SimProgress {
                    started,
                    search_started: false,
                    delivered: self.stats.delivered,
                    now_us: now.0,
                });
            }
            if item.time > end {
                // Every copy still travelling at the end is lost to its query's record.
                self.drain_in_flight(now, item.item);
                break;
            }
            self.prefetch_upcoming();
            if self.timeseries.is_some() {
                self.close_seconds(item.time);
            }
            now = item.time;
            match item.item {
                Work::Deliver {
                    to,
                    conn,
                    sessions,
                    msg,
                } => self.deliver(now, to, conn, sessions, msg),
                Work::Timer { node } => self.fire_timer(now, node, item.time),
                Work::Search { index } => {
                    let index = index as usize;
                    if let Some(q) = queries.get(index) {
                        if let Some(guid) = self.start_search(now, q) {
                            guid_to_index.insert(guid, index);
                        }
                    }
                    started += 1;
                    progress(SimProgress {
                        started,
                        search_started: true,
                        delivered: self.stats.delivered,
                        now_us: now.0,
                    });
                }
                Work::Toggle { node } => self.toggle(now, node),
                Work::Remove => self.remove(now),
                Work::CheckBack {
                    walker,
                    session,
                    guid,
                } => {
                    if let Some(guid) = self.check_back_guids.try_remove(guid as usize) {
                        self.answer_check_back(now, walker, session, guid);
                    }
                }
                Work::Connect {
                    from,
                    session,
                    addr,
                } => self.connect(now, from, session, addr),
            }
        }
        self.stats.end_time_us = now.0;
        if self.timeseries.is_some() {
            // Every second up to the one the run ended in gets its row.
            self.close_seconds(Time((now.0 / 1_000_000 + 1) * 1_000_000));
        }
        let mut report = self.finish(guid_to_index);
        report.overlay_start = overlay_start;
        // Without churn, removal or a dynamic overlay nobody left or joined and no link
        // changed: the overlay ends as it started (one pass over every link saved, a
        // tenth of a million-peer flood's time).
        report.overlay_end = if self.presence {
            self.shape()
        } else {
            overlay_start
        };
        if let Some(mut rows) = self.timeseries.take() {
            for (record, &index) in report.records.iter().zip(&report.planned_index) {
                let second = queries
                    .get(index)
                    .map_or(0, |q| (q.at.0 + t0.0) / 1_000_000)
                    as usize;
                if let Some(row) = rows.get_mut(second) {
                    row.queries_started += 1;
                    row.queries_succeeded += u64::from(record.success);
                }
            }
            report.timeseries = rows;
        }
        report
    }

    /// Two-tier runs (some peer runs a role), in a static overlay without churn: every
    /// node is created at time 0 with its links up, and the QRP tables nodes send then
    /// (a leaf's own at once, an ultrapeer's merged one after its pause) travel the links
    /// as messages and are applied by the same node code as in the live network. Returns
    /// when the planned work starts: the next whole second after the last table arrived
    /// (0 in every other run). With churn or a dynamic overlay, a node sends its tables
    /// when it is created, which may be after the first queries reached it.
    fn exchange_tables(&mut self) -> Time {
        self.roles = self.shared.config().role.is_some()
            || self.per_peer.iter().any(|s| s.config().role.is_some());
        if !self.roles || self.config.churn.is_some() || self.config.overlay.is_dynamic() {
            return Time::ZERO;
        }
        for u in 0..self.links.node_count() {
            self.node_mut(Time::ZERO, u);
        }
        let mut now = Time::ZERO;
        while let Some(item) = self.queue.pop() {
            now = item.time;
            match item.item {
                Work::Deliver {
                    to,
                    conn,
                    sessions,
                    msg,
                } => self.deliver(now, to, conn, sessions, msg),
                Work::Timer { node } => self.fire_timer(now, node, item.time),
                // Nothing else is queued before the planned work.
                _ => {}
            }
        }
        Time(now.0.div_ceil(1_000_000) * 1_000_000)
    }

    /// Takes the configured removal's peers offline for good: their links go down at both
    /// ends and their state is dropped, as when a peer leaves under churn.
    fn remove(&mut self, now: Time) {
        let Some(removal) = self.config.removal else {
            return;
        };
        for node in removal.pick(&self.links, self.seed) {
            let i = node as usize;
            self.removed[i] = true;
            self.stats.removed += 1;
            if self.online[i] {
                self.leave(now, node);
            }
        }
    }

    /// Peer `node` goes offline: its links go down at both ends, its state goes with it
    /// (in a dynamic overlay, all but its host cache, kept for its return).
    fn leave(&mut self, now: Time, node: u32) {
        let i = node as usize;
        self.shape_dirty = true;
        self.online[i] = false;
        self.session[i] = self.session[i].wrapping_add(1);
        if self.dynamic.is_some() {
            return self.leave_dynamic(now, node);
        }
        self.retire_node(i);
        self.nodes.remove(i);
        self.timer_due[i] = NO_TIMER;
        for conn in 0..self.links.degree(node) {
            let Some(slot) = self.links.slot(node, ConnId(conn)) else {
                continue;
            };
            let back = self.links.mirror(node, slot);
            let peer = self.links.target(slot);
            self.with_node(now, peer, |n| n.on_disconnected(now, back));
        }
    }

    /// Deliveries touch nodes scattered over gigabytes, so most of a delivery's time is a
    /// wait for memory. The in-order lane says which nodes come next: warm the node slot
    /// a few deliveries ahead and the node itself a little later, so those waits overlap.
    ///
    /// Three stages, each reading only what the one before warmed: far ahead, the peer's
    /// entry in the node index and in the link offsets; nearer, what those point to (the
    /// node, its links' targets and mirrors); nearest, the node's neighbour list and
    /// the heap part of its route table.
    fn prefetch_upcoming(&self) {
        if let Some(Work::Deliver { to, .. }) = self.queue.upcoming(PREFETCH_NODE_AHEAD) {
            if let Some(hint) = self.nodes.index_hint(*to as usize) {
                prefetch(hint, 1);
            }
            prefetch(self.links.prefetch_targets(*to, false)[0], 1);
        }
        if let Some(Work::Deliver { to, msg, .. }) = self.queue.upcoming(PREFETCH_LINKS_AHEAD) {
            if let Some(node) = self.nodes.node_hint(*to as usize) {
                // A node is 80 bytes (`node::Node`); three lines cover it at any
                // alignment.
                prefetch(node, NODE_HOT_LINES);
            }
            let [_, targets, reverse] = self.links.prefetch_targets(*to, true);
            prefetch(targets, 1);
            prefetch(reverse, 1);
            // The recorder's writes for this delivery: the peer's message count and its
            // bit in the query's reached set, each a miss over a million peers.
            for hint in self.recorder.write_hint(self.payloads.record_of(msg), *to) {
                prefetch(hint, 1);
            }
        }
        if let Some(Work::Deliver { to, .. }) = self.queue.upcoming(PREFETCH_HEAP_AHEAD) {
            if let Some(node) = self.nodes.get(*to as usize) {
                for hint in node.prefetch_hints() {
                    prefetch(hint, 1);
                }
            }
        }
    }

    fn finish(&self, guid_to_index: HashMap<Guid, usize>) -> SimReport {
        let by_hex: HashMap<String, usize> = guid_to_index
            .iter()
            .map(|(g, i)| (g.to_hex(), *i))
            .collect();
        let mut indexed: Vec<(usize, QueryRecord)> = self
            .recorder
            .records()
            .into_iter()
            .filter_map(|r| by_hex.get(&r.guid).map(|i| (*i, r)))
            .collect();
        indexed.sort_by_key(|(i, _)| *i);
        let planned_index = indexed.iter().map(|(i, _)| *i).collect();
        let index_to_guid: HashMap<usize, Guid> =
            guid_to_index.iter().map(|(g, i)| (*i, *g)).collect();
        let check_backs = indexed
            .iter()
            .map(|(i, _)| {
                index_to_guid
                    .get(i)
                    .and_then(|g| self.check_backs.get(g).copied())
                    .unwrap_or(0)
            })
            .collect();
        let offset_ms = self.start_offset.0 as f64 / 1000.0;
        let records = indexed
            .into_iter()
            .map(|(_, mut r)| {
                // A two-tier run's clock started with the table exchange.
                if offset_ms > 0.0 {
                    r.start_ms -= offset_ms;
                }
                r
            })
            .collect();
        let mut messages_per_peer = self.recorder.messages_per_peer();
        messages_per_peer.resize(self.links.node_count() as usize, 0);
        SimReport {
            records,
            planned_index,
            check_backs,
            messages_per_peer,
            stats: self.stats.clone(),
            overlay_start: OverlayShape::default(),
            overlay_end: OverlayShape::default(),
            timeseries: Vec::new(),
            tiers: self.tiers.as_deref().cloned(),
        }
    }

    fn start_churn(&mut self) {
        let Some(churn) = self.config.churn else {
            return;
        };
        for node in 0..self.links.node_count() {
            let online = churn.starts_online(&mut self.churn_rng);
            self.online[node as usize] = online;
            let wait = churn.next_period_us(online, &mut self.churn_rng);
            self.queue.push(Time(wait), Work::Toggle { node });
        }
    }

    fn toggle(&mut self, now: Time, node: u32) {
        let Some(churn) = self.config.churn else {
            return;
        };
        let i = node as usize;
        if self.removed.get(i).copied().unwrap_or(true) {
            // Removed for good: no more sessions.
            return;
        }
        let was_online = self.online.get(i).copied().unwrap_or(false);
        if was_online {
            self.stats.churn_leaves += 1;
            // The links go down at both ends; the leaver's state goes with it (a peer that
            // comes back starts afresh, as a restarted servent does).
            self.leave(now, node);
        } else {
            self.stats.churn_joins += 1;
            self.shape_dirty = true;
            self.online[i] = true;
            if self.dynamic.is_some() {
                // Back with its saved host cache, not its old links: it dials.
                self.start_node(now, node);
            } else {
                self.relink(now, node);
            }
        }
        let wait = churn.next_period_us(!was_online, &mut self.churn_rng);
        self.queue
            .push(now.plus_micros(wait), Work::Toggle { node });
    }

    /// `leave` in a dynamic overlay: the node's host cache is kept (the file a live peer
    /// saves) unless the peer is removed for good; its links leave the table.
    #[cold]
    #[inline(never)]
    fn leave_dynamic(&mut self, now: Time, node: u32) {
        let i = node as usize;
        let hosts: Option<Vec<SavedHost>> = self.nodes.get(i).and_then(|n| n.overlay()).map(|o| {
            o.hosts()
                .iter()
                .map(|e| SavedHost {
                    addr: e.addr,
                    failures: e.failures,
                    last_seen: e.last_seen,
                })
                .collect()
        });
        self.retire_node(i);
        self.nodes.remove(i);
        self.timer_due[i] = NO_TIMER;
        let Some(dynamic) = self.dynamic.as_deref_mut() else {
            return;
        };
        if !self.removed[i] {
            dynamic.saved[i] = Some(hosts.unwrap_or_default());
        }
        for link in dynamic.links.unlink_all(node) {
            self.with_node(now, link.peer, |n| n.on_disconnected(now, link.back));
        }
    }

    /// Static overlay: a peer back online is linked again with its neighbours online now
    /// (its own node is created when something first reaches it).
    fn relink(&mut self, now: Time, node: u32) {
        for conn in 0..self.links.degree(node) {
            let Some(slot) = self.links.slot(node, ConnId(conn)) else {
                continue;
            };
            let back = self.links.mirror(node, slot);
            let peer = self.links.target(slot);
            if !self.online[peer as usize] {
                continue;
            }
            let info = self.peer_info(node);
            self.with_node(now, peer, |n| n.on_connected(now, back, info));
        }
    }

    /// Dynamic overlay: every peer online at the start gets its node now, with the
    /// graph's links between online peers up (a no-op in a static run).
    fn start_dynamic(&mut self) {
        if !self.config.overlay.is_dynamic() {
            return;
        }
        let n = self.links.node_count();
        self.dynamic = Some(Box::new(DynamicRun {
            links: DynamicLinks::from_static(&self.links, self.online.as_slice()),
            saved: vec![None; n as usize],
        }));
        for u in 0..n {
            if self.online[u as usize] {
                self.start_node(Time::ZERO, u);
            }
        }
    }

    /// Dynamic overlay: peer `u` (online) starts its node with the overlay on, its host
    /// cache (saved when it last left, else its graph neighbours) and the bootstrap hosts,
    /// and the links it has in the table (the graph's, at the start of the run).
    fn start_node(&mut self, now: Time, u: u32) {
        let i = u as usize;
        let Some(dynamic) = self.dynamic.as_deref_mut() else {
            return;
        };
        let saved = dynamic.saved.get_mut(i).and_then(Option::take);
        let links: Vec<(ConnId, u32)> = dynamic
            .links
            .of(u)
            .iter()
            .map(|l| (l.conn, l.peer))
            .collect();
        let neighbours: Vec<SocketAddrV4> = match saved {
            Some(_) => Vec::new(),
            None => self
                .links
                .neighbours(u)
                .iter()
                .map(|&v| peer_addr(v))
                .collect(),
        };
        let links: Vec<(ConnId, PeerInfo)> = links
            .into_iter()
            .map(|(conn, v)| (conn, self.peer_info(v)))
            .collect();
        let mut node = self.build_node(u);
        node.enable_overlay(self.config.overlay);
        self.nodes.insert(i, node);
        self.stats.nodes_created += 1;
        let bootstrap = self.config.bootstrap.clone();
        self.with_node(now, u, |n| {
            n.learn_hosts(now, bootstrap, HostSource::Bootstrap);
            match saved {
                Some(hosts) => n.restore_hosts(
                    now,
                    hosts
                        .into_iter()
                        .map(|h| (h.addr, h.failures, now.saturating_sub(h.last_seen))),
                ),
                None => n.learn_hosts(now, neighbours, HostSource::Saved),
            }
            for (conn, info) in links {
                n.on_connected(now, conn, info);
            }
        });
    }

    /// Node `u` asked to dial `addr`: the outcome is due after a connect and handshake.
    #[cold]
    #[inline(never)]
    fn dial(&mut self, now: Time, u: u32, addr: SocketAddrV4) {
        self.stats.dials += 1;
        let target = peer_of_addr(addr, self.links.node_count()).unwrap_or(u);
        let one_way = self
            .config
            .latency
            .sample(u, target, None, self.seed, &mut self.link_rng);
        self.queue.push(
            now.plus_micros(CONNECT_ONE_WAYS.saturating_mul(one_way)),
            Work::Connect {
                from: u,
                session: self.session[u as usize],
                addr,
            },
        );
    }

    /// The outcome of `from`'s dial of `addr` (see the module documentation).
    #[inline(never)]
    fn connect(&mut self, now: Time, from: u32, session: u32, addr: SocketAddrV4) {
        let i = from as usize;
        if self.session.get(i) != Some(&session) || !self.online[i] {
            // The dialler left: nobody is waiting for the answer.
            return;
        }
        let target = peer_of_addr(addr, self.links.node_count())
            .filter(|&v| v != from && self.online[v as usize]);
        let Some(v) = target else {
            return self.dial_failed(now, from, addr, Vec::new());
        };
        let Some(dynamic) = self.dynamic.as_deref_mut() else {
            return;
        };
        if dynamic.links.linked(from, v) {
            return self.dial_failed(now, from, addr, Vec::new());
        }
        if let Some(full) = self.nodes.get(v as usize).filter(|n| n.overlay_full()) {
            // The live network's 503, with hosts to try instead; the full peer
            // remembers who knocked (`HostSource::Knocked`).
            let tries = full.try_hosts(X_TRY_HOSTS);
            self.stats.dials_refused += 1;
            let knocker = peer_addr(from);
            self.with_node(now, v, |n| {
                n.learn_hosts(now, [knocker], HostSource::Knocked)
            });
            return self.dial_failed(now, from, addr, tries);
        }
        let (mine, theirs) = dynamic.links.link(from, v);
        self.stats.links_made += 1;
        self.shape_dirty = true;
        let (to_them, to_me) = (self.peer_info(v), self.peer_info(from));
        self.with_node(now, from, |n| n.on_connected(now, mine, to_them));
        self.with_node(now, v, |n| n.on_connected(now, theirs, to_me));
    }

    /// `from`'s dial of `addr` failed; a refusal's `X-Try` hosts are learnt first.
    fn dial_failed(&mut self, now: Time, from: u32, addr: SocketAddrV4, tries: Vec<SocketAddrV4>) {
        self.stats.dials_failed += 1;
        self.with_node(now, from, |n| {
            if !tries.is_empty() {
                n.learn_hosts(now, tries, HostSource::XTry);
            }
            n.on_dial_failed(now, addr);
        });
    }

    /// The overlay among online peers now: the static table's links, or the live links
    /// of a dynamic run.
    fn shape(&self) -> OverlayShape {
        match self.dynamic.as_deref() {
            None => overlay_shape(&self.links, self.online.as_slice()),
            Some(dynamic) => shape_of(
                self.links.node_count() as usize,
                |u| dynamic.links.neighbours(u),
                self.online.as_slice(),
            ),
        }
    }

    fn start_search(&mut self, now: Time, q: &PlannedQuery) -> Option<Guid> {
        if self
            .removed
            .get(q.origin as usize)
            .copied()
            .unwrap_or(false)
        {
            self.stats.skipped_removed += 1;
            return None;
        }
        if !self.online.get(q.origin as usize).copied().unwrap_or(false) {
            self.stats.skipped_offline += 1;
            return None;
        }
        let request = q.request();
        self.node_mut(now, q.origin)?;
        let guid = self.with_node(now, q.origin, |n| n.start_search(now, request))?;
        self.origins.insert(guid, q.origin);
        Some(guid)
    }

    fn deliver(&mut self, now: Time, to: u32, conn: ConnId, sessions: u32, msg: PackedMessage) {
        // Without churn, removal or a dynamic overlay every peer stays online in its first
        // session: nothing to check.
        let link_up = !self.presence || self.link_up(to, conn, sessions);
        if !link_up {
            self.stats.lost_link_down += 1;
            self.lost(to, conn, now, msg, DropReason::LinkDown);
            return;
        }
        self.stats.delivered += 1;
        if let Some(tiers) = self.tiers.as_deref_mut() {
            if Payloads::is_query_traffic(&msg) {
                if let Some(count) = tiers.received.get_mut(to as usize) {
                    *count += 1;
                }
            }
        }
        let exists = self.node_mut(now, to).is_some();
        // Unpacked after the node is made (making it may queue messages of its own), so
        // that this payload is the table's last row when the node relays it.
        let msg = self.payloads.unpack(msg);
        if exists {
            if self.tracer.is_some() {
                let from = self.far_end(to, conn);
                let tracer = self.tracer.as_deref_mut().expect("checked");
                if let Some(copy) = TracedCopy::of(&msg, from, Some(to)) {
                    tracer.arrival(to, copy);
                }
            }
            self.with_node(now, to, |n| n.on_message(now, conn, msg));
            if let Some(tracer) = self.tracer.as_deref_mut() {
                tracer.input_done(to);
            }
        }
    }

    /// A dynamic run's link `conn` of `u`: (far end, its id there, static slot or
    /// `NO_SLOT`). Out of line, so static runs' sends stay as small as they were.
    #[cold]
    #[inline(never)]
    fn dynamic_link(&self, u: u32, conn: ConnId) -> Option<(u32, ConnId, u32)> {
        let link = self.dynamic.as_deref()?.links.get(u, conn)?;
        Some((link.peer, link.back, link.slot))
    }

    /// The peer at the other end of `u`'s link `conn`, in a static or a dynamic run.
    fn far_end(&self, u: u32, conn: ConnId) -> Option<u32> {
        if self.dynamic.is_some() {
            self.dynamic_link(u, conn).map(|(far, _, _)| far)
        } else {
            self.links.slot(u, conn).map(|s| self.links.target(s))
        }
    }

    /// Whether `to`'s link `conn` is still the one a message sent when the two ends'
    /// session numbers summed to `sessions` travelled on (see `Work::Deliver`).
    #[inline]
    fn link_up(&self, to: u32, conn: ConnId, sessions: u32) -> bool {
        if self.dynamic.is_some() {
            // Ids are never reused: a link under this id is the one it was sent on.
            return self.dynamic_link(to, conn).is_some();
        }
        self.links
            .slot(to, conn)
            .map(|s| self.links.target(s))
            .is_some_and(|f| {
                self.online[f as usize]
                    && self.online[to as usize]
                    && self.session[f as usize].wrapping_add(self.session[to as usize]) == sessions
            })
    }

    /// A copy that will never be handled by `peer` (arriving on its link `conn`), counted
    /// against its query.
    fn lost(&mut self, peer: u32, conn: ConnId, now: Time, msg: PackedMessage, reason: DropReason) {
        let msg = self.payloads.unpack(msg);
        self.lost_copy(peer, now, msg.guid, msg.payload.kind(), reason);
        if self.tracer.is_some() {
            let from = self.far_end(peer, conn);
            let tracer = self.tracer.as_deref_mut().expect("checked");
            if let Some(copy) = TracedCopy::of(&msg, from, Some(peer)) {
                tracer.lost(now, peer, &copy, reason);
            }
        }
    }

    fn lost_copy(&mut self, peer: u32, now: Time, guid: Guid, kind: u8, reason: DropReason) {
        self.record(peer, now, &Event::Dropped { guid, kind, reason });
    }

    /// Folds an event of `peer` into the records, by the recorder's index for the GUID
    /// when the payload table has it (the message being handled is nearly always it).
    #[inline]
    fn record(&mut self, peer: u32, now: Time, event: &Event) {
        match self.payloads.record_hint(event.guid()) {
            Some(hint) => self.recorder.record_hinted(hint, peer, now, event),
            None => self.recorder.record(peer, now, event),
        }
    }

    /// Counts the deliveries still queued when the run ends (`first` already popped).
    fn drain_in_flight(&mut self, now: Time, first: Work) {
        let mut next = Some(first);
        while let Some(work) = next {
            if let Work::Deliver { to, conn, msg, .. } = work {
                self.lost(to, conn, now, msg, DropReason::InFlight);
            }
            next = self.queue.pop().map(|item| item.item);
        }
    }

    fn fire_timer(&mut self, now: Time, node: u32, due: Time) {
        let i = node as usize;
        if self.timer_due.get(i) != Some(&!due.0) {
            return;
        }
        self.timer_due[i] = NO_TIMER;
        if self.nodes.contains(i) {
            self.stats.timers += 1;
            self.with_node(now, node, |n| n.on_timeout(now));
        }
    }

    /// Drains what node `u` asked for after an input (the node's drain rule): sends
    /// become deliveries, events go to the recorder, a check-back is scheduled, the next
    /// timer is queued; links it closed go down last. The lent outbox comes back first and
    /// is drained in place (the bulk of a flood's outputs then costs no trip through the
    /// node), then the node gives what only it holds (requests, the timeout).
    fn drain(&mut self, now: Time, u: u32) {
        let depart = now.plus_micros(self.config.processing_us);
        let mut closed: Vec<ConnId> = Vec::new();
        if let Some(node) = self.nodes.get_mut(u as usize) {
            node.swap_outbox(&mut self.outbox);
        }
        if let Some(mut out) = self.outbox.take() {
            while let Some(output) = out.pop_output() {
                self.carry_out(now, depart, u, output, &mut closed);
            }
            self.outbox = Some(out);
        }
        while let Some(node) = self.nodes.get_mut(u as usize) {
            let output = node.poll_output();
            if self.carry_out(now, depart, u, output, &mut closed) {
                break;
            }
        }
        for conn in closed {
            self.close_link(now, u, conn);
        }
    }

    /// Carries out one output of node `u` (the one exhaustive match over the node's
    /// outputs); true at `Output::Timeout`, the end of a drain.
    #[inline(always)]
    fn carry_out(
        &mut self,
        now: Time,
        depart: Time,
        u: u32,
        output: Output,
        closed: &mut Vec<ConnId>,
    ) -> bool {
        match output {
            Output::Send { to, msg } => self.send(now, depart, u, to, msg),
            Output::Close { conn, .. } => closed.push(conn),
            Output::Event(event) => {
                if let Some(tracer) = self.tracer.as_deref_mut() {
                    tracer.event(u, now, &event);
                }
                self.record(u, now, &event)
            }
            // The walker asks its origin directly (one message there, one back, as in
            // Lv et al.'s walkers), so the answer comes after two link delays.
            Output::Request(Request::CheckBack { guid, .. }) => {
                let origin = self.origins.get(&guid).copied().unwrap_or(u);
                let one_way =
                    self.config
                        .latency
                        .sample(u, origin, None, self.seed, &mut self.link_rng);
                *self.check_backs.entry(guid).or_insert(0) += 1;
                // Keys stay below the check-backs queued at once, themselves far fewer
                // than 2^32 (each is a queued item).
                let key = self.check_back_guids.insert(guid) as u32;
                self.queue.push(
                    now.plus_micros(2 * one_way + self.config.processing_us),
                    Work::CheckBack {
                        walker: u,
                        session: self.session[u as usize],
                        guid: key,
                    },
                );
            }
            // Only a dynamic overlay dials.
            Output::Dial(addr) => self.dial(now, u, addr),
            // Pushes ask for a TCP connection back; nothing in a search needs one.
            Output::Request(Request::ConnectBack { .. }) => {}
            Output::Timeout(next) => {
                if let Some(due) = next {
                    let due = due.max(now);
                    if self.timer_due[u as usize] != !due.0 {
                        self.timer_due[u as usize] = !due.0;
                        self.queue.push(due, Work::Timer { node: u });
                    }
                }
                return true;
            }
        }
        false
    }

    /// Puts one copy from `u` on its link `to`: a delivery later, or a loss.
    fn send(&mut self, now: Time, depart: Time, u: u32, to: ConnId, msg: Message) {
        let found = if self.dynamic.is_none() {
            self.links
                .slot(u, to)
                .map(|slot| (self.links.target(slot), self.links.mirror(u, slot), slot))
        } else {
            self.dynamic_link(u, to)
        };
        if let Some(tracer) = self.tracer.as_deref_mut() {
            if let Some(copy) = TracedCopy::of(&msg, Some(u), found.map(|f| f.0)) {
                tracer.sent(now, &copy);
            }
        }
        let Some((v, back, slot)) = found else {
            self.lost_on_send(u, None, now, &msg, DropReason::LinkDown);
            return;
        };
        let sessions = if self.presence {
            if !self.online[v as usize] {
                self.stats.lost_link_down += 1;
                self.lost_on_send(u, Some(v), now, &msg, DropReason::LinkDown);
                return;
            }
            self.session[u as usize].wrapping_add(self.session[v as usize])
        } else {
            0
        };
        let loss = self.links.slot_loss(slot).unwrap_or(self.config.loss);
        // QRP tables are never lost: they go right after the handshake on a TCP link, and
        // one lost part would cut a leaf off for the whole run.
        if loss > 0.0
            && !matches!(msg.payload, Payload::RouteTableUpdate(_))
            && self.link_rng.gen_bool(loss.min(1.0))
        {
            self.stats.lost += 1;
            self.lost_on_send(u, Some(v), now, &msg, DropReason::LinkLoss);
            return;
        }
        // A link made at run time has `NO_SLOT`, beyond the table: no latency of its own.
        let given = self.links.slot_latency_us(slot);
        let delay = self
            .config
            .latency
            .sample(u, v, given, self.seed, &mut self.link_rng);
        self.queue.push(
            depart.plus_micros(delay),
            Work::Deliver {
                to: v,
                conn: back,
                sessions,
                msg: self.payloads.pack(msg),
            },
        );
    }

    /// A copy `u` put on its link to `v` that never left (no such link, `v` offline, lost).
    fn lost_on_send(&mut self, u: u32, v: Option<u32>, now: Time, msg: &Message, why: DropReason) {
        if let Some(t) = self.tallies.as_mut().and_then(|t| t.get_mut(u as usize)) {
            t.drops += 1;
        }
        self.lost_copy(u, now, msg.guid, msg.payload.kind(), why);
        if let Some(tracer) = self.tracer.as_deref_mut() {
            if let Some(copy) = TracedCopy::of(msg, Some(u), v) {
                tracer.lost(now, u, &copy, why);
            }
        }
    }

    /// Tells a parked walker whether its origin has a hit yet (asked now, at arrival).
    fn answer_check_back(&mut self, now: Time, walker: u32, session: u32, guid: Guid) {
        if self.session.get(walker as usize) != Some(&session) {
            return;
        }
        self.stats.check_backs += 1;
        let satisfied = self
            .origins
            .get(&guid)
            .and_then(|&o| self.nodes.get(o as usize))
            .is_some_and(|origin| origin.search_satisfied(guid));
        self.with_node(now, walker, |n| n.on_check_back(now, guid, satisfied));
    }

    /// A node dropped one of its links: the far end sees it go down (in a dynamic
    /// overlay the link leaves the table and the closing node's policy hears of it too).
    fn close_link(&mut self, now: Time, u: u32, conn: ConnId) {
        self.stats.closed_by_node += 1;
        if self.dynamic.is_some() {
            return self.close_dynamic_link(now, u, conn);
        }
        let Some(slot) = self.links.slot(u, conn) else {
            return;
        };
        let v = self.links.target(slot);
        let back = self.links.mirror(u, slot);
        self.with_node(now, v, |peer| peer.on_disconnected(now, back));
    }

    /// The peer's node, created on first use with its files and its links to the
    /// neighbours online now. `None` if the peer is offline or out of range.
    fn node_mut(&mut self, now: Time, u: u32) -> Option<&mut Node> {
        let i = u as usize;
        // Without churn or removal every peer is online: skip a memory access per delivery.
        let churn = self.presence;
        if i >= self.nodes.len() || (churn && !self.online[i]) {
            return None;
        }
        if !self.nodes.contains(i) {
            if self.dynamic.is_some() {
                // Every online peer of a dynamic run has its node from the start.
                return None;
            }
            let mut node = self.build_node(u);
            node.reserve_links(self.links.neighbours(u).len());
            for (conn, &v) in self.links.neighbours(u).iter().enumerate() {
                if !churn || self.online[v as usize] {
                    // No listen address: in a static overlay the link table knows every
                    // link's far end, and a node that keeps no addresses keeps its links
                    // as a count (`node::neighbours`) instead of a heap list per peer. A
                    // static run sends no Ping a node would need them for (pong caching
                    // and host learning belong to dynamic overlays and to live peers).
                    let info = PeerInfo {
                        listen_addr: None,
                        ..self.peer_info(v)
                    };
                    node.on_connected(now, ConnId(conn as u32), info);
                }
            }
            self.stats.nodes_created += 1;
            if self.roles {
                // Two-tier: what a node sends when its links come up is its QRP table
                // (a leaf's own, an ultrapeer's merged one later), which routing needs.
                self.nodes.insert(i, node);
                self.drain(now, u);
                return self.nodes.get_mut(i);
            }
            // Links exist before the run starts; what a node says when they come up (e.g.
            // handshake Pings) is not part of any search, so it is not simulated.
            while !matches!(node.poll_output(), Output::Timeout(_)) {}
            return Some(self.nodes.insert(i, node));
        }
        self.nodes.get_mut(i)
    }

    /// Hands an input to peer `u`'s node (if it exists) with the shared outbox lent to
    /// it, then drains what it produced (the outbox comes back at the end of the drain).
    fn with_node<R>(&mut self, now: Time, u: u32, input: impl FnOnce(&mut Node) -> R) -> Option<R> {
        let node = self.nodes.get_mut(u as usize)?;
        node.swap_outbox(&mut self.outbox);
        let result = input(node);
        self.drain(now, u);
        Some(result)
    }

    /// Peer `u`'s node as the simulation creates it the first time something reaches it
    /// (public so tests can compare it with the live network's build of the same peer).
    pub fn build_node(&self, u: u32) -> Node {
        let files = self.placement.get(&u).map(|files| {
            files.iter().enumerate().map(|(i, f)| SharedFile {
                index: i as u32,
                name: f.name.clone(),
                size: f.size,
                sha1: f.sha1,
            })
        });
        let library = files.map(Library::from_files).unwrap_or_default();
        // Identity and address derive from `u` (`identity_of`, `peer_addr`).
        let mut node = Node::of_peer(Arc::clone(self.setting_of(u)), u, library);
        // Traffic by type is only read for the per-peer rows.
        if self.tallies.is_some() {
            node.count_traffic();
        }
        node
    }

    /// What a node is told about its neighbour `v`. Not its servent GUID: the live
    /// handshake carries one, but the only user is the result cache's rule never to send
    /// a hit back to its holder, which matters to real servents, not to simulated ones,
    /// and a GUID per link would cost a cache-on million-node run some 200 MB. Nodes
    /// still learn a neighbour's GUID from its own hits.
    /// A neighbour's role is the one its routing configuration gives it, and a peer with
    /// a role takes QRP tables, as the live handshake's headers say.
    fn peer_info(&self, v: u32) -> PeerInfo {
        let role = self.routing_of(v).node_role();
        PeerInfo {
            listen_addr: Some(peer_addr(v)),
            accepts_bye: true,
            servent_guid: None,
            role: role.unwrap_or_default(),
            query_routing: role.is_some(),
        }
    }
}

/// How far ahead in the in-order lane nodes, and then what they point to, are prefetched.
const PREFETCH_NODE_AHEAD: usize = 8;
const PREFETCH_LINKS_AHEAD: usize = 4;
const PREFETCH_HEAP_AHEAD: usize = 2;
/// Cache lines of a node prefetched before its delivery.
const NODE_HOT_LINES: usize = 3;

/// Asks the CPU to start loading `lines` cache lines from `ptr` (a hint: no effect on
/// results, and a no-op on other architectures).
#[inline(always)]
fn prefetch(ptr: *const u8, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in 0..lines {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is only a hint; it never faults, even on an invalid address,
        // and wrapping_add keeps the pointer arithmetic defined.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(line * 64) as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, lines);
}

/// Peer `u`'s made-up address: 10.0.0.0/8 numbered from 10.0.0.1, port 6346 (the rule
/// of the nodes' numbered settings).
pub fn peer_addr(u: u32) -> SocketAddrV4 {
    crate::node::setting::numbered_addr(u)
}

/// One setting per peer of `routing` (peers sharing a configuration share its setting),
/// whose nodes keep counters if `counting`.
fn settings_of(
    network_seed: u64,
    routing: Vec<Arc<RoutingConfig>>,
    counting: bool,
) -> Vec<Arc<NodeSetting>> {
    let mut distinct: HashMap<usize, Arc<NodeSetting>> = HashMap::new();
    routing
        .into_iter()
        .map(|config| {
            let key = Arc::as_ptr(&config) as usize;
            let setting = distinct.entry(key).or_insert_with(|| {
                Arc::new(NodeSetting::numbered(config, network_seed).counting(counting))
            });
            Arc::clone(setting)
        })
        .collect()
}

/// The peer of a run of `nodes` peers whose made-up address is `addr` (the inverse of
/// [`peer_addr`]); `None` for any other address.
pub fn peer_of_addr(addr: SocketAddrV4, nodes: u32) -> Option<u32> {
    if addr.port() != 6346 {
        return None;
    }
    let u = u32::from(*addr.ip()).checked_sub(0x0A00_0001)?;
    (u < nodes).then_some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::queue::Due;

    /// A million-peer flood queues over a million deliveries at once, nearly all in the
    /// queue's FIFO lane: their size is a large share of the run's memory, and every pop
    /// and push moves one. In the lane an item is its 20 bytes (times are kept as runs),
    /// and its alignment must stay 4 (no pointer or `u64` in any `Work`).
    #[test]
    fn a_queued_delivery_takes_20_bytes() {
        assert!(std::mem::size_of::<Work>() <= 20);
        assert_eq!(std::mem::align_of::<Work>(), 4);
        assert!(std::mem::size_of::<Due<Work>>() <= 32);
    }
}
