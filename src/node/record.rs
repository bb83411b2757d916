//! Per-query records folded from node events: the one record schema the live network and
//! the simulator share.
//!
//! Both drivers hand every `Event` of every node they run to one [`Recorder`], tagged with
//! the peer's index and the driver's `now`. The recorder groups events by query GUID and
//! turns them into [`QueryRecord`]s, so "messages per query" or "peers reached" mean the
//! same thing whether the numbers come from TCP sockets or from virtual links. Events may
//! arrive in any interleaving across nodes (the live network runs nodes on many tasks);
//! the records come out in a deterministic order (start time, then GUID).
//!
//! Only query traffic opens a record: a `SearchStarted`, or a Query descriptor a recorded
//! peer received, sent or dropped. QueryHits, hit drops and answers only add to a record
//! that already exists, so junk QueryHits from the network (random GUIDs, no route) cost
//! nothing and never show up as phantom queries. Records of queries that started outside
//! the recorded peers are kept (a shard relaying another shard's query needs its counts for
//! the parent's merge) but left out of [`Recorder::records`] unless
//! [`Recorder::keep_relayed`] asks for them. Memory stays bounded for long-running peers:
//! at most [`DEFAULT_MAX_RELAYED`] records of relayed queries stay open (oldest evicted
//! first, [`Recorder::set_max_relayed`]), and an optional cap on all open records
//! ([`Recorder::set_max_queries`]) evicts relayed ones first, then the oldest searches.
//!
//! Open records sit in dense slots found by GUID through one hash map; a driver that knows
//! which query a run of events belongs to (the simulator, whose queued messages carry it)
//! passes the slot back as a [`RecordHint`] and skips the hashing.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::fast_hash::KeyedHash;
use super::strategy::StrategySpec;
use super::types::{CopyFate, DropReason, Event, Time};
use crate::protocol::{kind, Guid};

/// Whose view a record gives: the whole network's, or only the searcher's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Events from every peer of the network were recorded (`launch`, `sim`).
    #[default]
    Network,
    /// Only the searching peer's own events were recorded (`search --json`): the
    /// network-wide counters are unknown and print as `null` (see
    /// [`QueryRecord::to_json`]).
    Searcher,
}

/// What one query did across the network.
///
/// Counters are exact totals over every recorded peer: a descriptor is counted once per
/// link it was put on, so `messages` for a flood over a ring of N peers with a large TTL
/// is N+1.
///
/// Every Query copy put on a link is accounted for exactly once:
///
/// `messages == peers_reached + duplicates + reforwards + refused + lost`
///
/// (see [`QueryRecord::unaccounted`]). `reforwards` are timing effects (a copy that came
/// the shorter way after a longer one), `lost` are copies never handled; a run with
/// neither has the closed-form counts, live or simulated. Under simulated churn a peer
/// that rejoined with fresh state may take a first copy again while `peers_reached`
/// counts it once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRecord {
    /// The query's GUID (lower-case hex, 32 characters).
    pub guid: String,
    /// The search words as the origin sent them.
    pub query: String,
    /// The originating peer's name; `None` when the query came from outside the recorded
    /// peers (e.g. a `gnutella search` client joining a launched network).
    pub origin: Option<String>,
    /// The strategy the origin ran the search under (`flood`, `flood+cache`, `ring`,
    /// `walk:4`, ...), from its own settings; `unknown` when the origin was not recorded.
    pub strategy: String,
    /// The TTL the origin gave the query (0 when the origin was not recorded).
    pub ttl: u8,
    /// When the query started (the origin's `SearchStarted`, or else the first event seen),
    /// in milliseconds of driver time.
    pub start_ms: f64,
    /// Query descriptors put on links, network-wide (the origin's sends included).
    pub messages: u64,
    /// Query copies dropped because the receiving peer had already seen the GUID.
    pub duplicates: u64,
    /// Query copies that reached a peer again with more TTL left than any before (or a
    /// random walker passing again) and were forwarded again, not handled again.
    #[serde(default)]
    pub reforwards: u64,
    /// Query copies the receiving peer refused on arrival (malformed, over its limits).
    #[serde(default)]
    pub refused: u64,
    /// Query copies sent but never handled: dropped from a send queue, lost on a link or
    /// with it, or still travelling when the run ended (by reason in `query_drops`).
    #[serde(default)]
    pub lost: u64,
    /// Distinct peers other than the origin that received at least one copy.
    pub peers_reached: u64,
    /// QueryHit descriptors that reached the origin.
    pub hits: u64,
    /// File results (hit records) in those QueryHits.
    pub records: u64,
    /// Distinct servent GUIDs among the hits that reached the origin.
    pub responders: u64,
    /// Hops from the origin to the peer that sent the first hit to reach it (the holder,
    /// or a peer that answered from its result cache).
    pub first_hit_hops: Option<u8>,
    /// Milliseconds from the start to the first hit reaching the origin.
    pub first_hit_ms: Option<f64>,
    /// QueryHit descriptors put on links, network-wide (responders and relays).
    pub hit_messages: u64,
    /// Times a peer answered this query (from its library or its result cache).
    pub answered: u64,
    /// Of those, answers that came from a peer's result cache.
    pub answered_from_cache: u64,
    /// Query descriptors dropped, by reason (`duplicate`, `ttl_expired`, ...).
    pub query_drops: BTreeMap<String, u64>,
    /// QueryHit descriptors dropped on the way back, by reason (`no_route`, ...).
    pub hit_drops: BTreeMap<String, u64>,
    /// At least one hit reached the origin.
    pub success: bool,
    /// Whose events this record was folded from.
    #[serde(default)]
    pub scope: Scope,
}

/// The fields a searcher alone cannot know; printed as `null` in its view.
const NETWORK_WIDE_FIELDS: [&str; 8] = [
    "messages",
    "duplicates",
    "reforwards",
    "refused",
    "lost",
    "peers_reached",
    "hit_messages",
    "answered",
];

impl QueryRecord {
    /// The record as JSON. In the searcher's view the network-wide counters are `null`,
    /// so `search --json` keeps the same keys without claiming numbers it cannot know.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if self.scope == Scope::Searcher {
            if let Some(map) = value.as_object_mut() {
                for field in NETWORK_WIDE_FIELDS {
                    map.insert(field.to_string(), serde_json::Value::Null);
                }
                map.remove("query_drops");
                map.insert("answered_from_cache".to_string(), serde_json::Value::Null);
            }
        }
        value
    }
}

impl QueryRecord {
    /// Query copies sent that no other counter accounts for: 0 when the books balance
    /// (`messages == peers_reached + duplicates + reforwards + refused + lost`), positive
    /// when copies went missing, negative when more were handled than sent.
    pub fn unaccounted(&self) -> i64 {
        let handled = self.peers_reached + self.duplicates + self.reforwards + self.refused;
        self.messages as i64 - (handled + self.lost) as i64
    }

    /// Adds `other`, the record of the same query folded from a disjoint set of peers
    /// (another shard's), to this one. Every counter is a sum over disjoint peers; the
    /// origin's view alone knows the search itself (words, TTL, strategy, start) and its
    /// hits' timing, so those come from whichever of the two has an origin.
    pub fn merge(&mut self, other: QueryRecord) {
        self.messages += other.messages;
        self.duplicates += other.duplicates;
        self.reforwards += other.reforwards;
        self.refused += other.refused;
        self.lost += other.lost;
        self.peers_reached += other.peers_reached;
        self.hit_messages += other.hit_messages;
        self.answered += other.answered;
        self.answered_from_cache += other.answered_from_cache;
        self.hits += other.hits;
        self.records += other.records;
        self.responders += other.responders;
        for (k, v) in other.query_drops {
            *self.query_drops.entry(k).or_default() += v;
        }
        for (k, v) in other.hit_drops {
            *self.hit_drops.entry(k).or_default() += v;
        }
        self.success |= other.success;
        if other.origin.is_some() {
            self.origin = other.origin;
            self.query = other.query;
            self.strategy = other.strategy;
            self.ttl = other.ttl;
            self.start_ms = other.start_ms;
            self.first_hit_hops = other.first_hit_hops;
            self.first_hit_ms = other.first_hit_ms;
        } else if self.origin.is_none() {
            self.start_ms = self.start_ms.min(other.start_ms);
        }
    }
}

/// Merges records of the same queries folded in different processes (shards of one
/// network) into one record per query a recorded peer started, ordered by start, then
/// GUID. Records of queries no recorded peer started (junk from outside) are dropped.
pub fn merge_records(parts: Vec<QueryRecord>) -> Vec<QueryRecord> {
    let mut by_guid: BTreeMap<String, QueryRecord> = BTreeMap::new();
    for r in parts {
        match by_guid.get_mut(&r.guid) {
            None => {
                by_guid.insert(r.guid.clone(), r);
            }
            Some(m) => m.merge(r),
        }
    }
    let mut out: Vec<QueryRecord> = by_guid
        .into_values()
        .filter(|r| r.origin.is_some())
        .collect();
    out.sort_by(|a, b| {
        a.start_ms
            .total_cmp(&b.start_ms)
            .then_with(|| a.guid.cmp(&b.guid))
    });
    out
}

/// A set of peer indices, one bit each: a flood over a million peers stays at 125 KB per
/// query instead of a hash set of millions of entries.
#[derive(Clone, Debug, Default)]
struct PeerSet {
    words: Vec<u64>,
    len: u64,
}

impl PeerSet {
    fn insert(&mut self, peer: u32) {
        let word = (peer / 64) as usize;
        let bit = 1u64 << (peer % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            if *w & bit == 0 {
                *w |= bit;
                self.len += 1;
            }
        }
    }

    fn contains(&self, peer: u32) -> bool {
        let bit = 1u64 << (peer % 64);
        self.words
            .get((peer / 64) as usize)
            .is_some_and(|w| w & bit != 0)
    }
}

/// What the recorder has gathered about one query so far.
#[derive(Clone, Debug, Default)]
struct Accumulator {
    origin: Option<u32>,
    words: String,
    ttl: u8,
    strategy: Option<StrategySpec>,
    started: Option<Time>,
    first_seen: Option<Time>,
    messages: u64,
    duplicates: u64,
    reforwards: u64,
    refused: u64,
    lost: u64,
    reached: PeerSet,
    hits: u64,
    records: u64,
    responders: HashSet<Guid>,
    first_hit: Option<(Time, u8)>,
    hit_messages: u64,
    answered: u64,
    answered_from_cache: u64,
    /// Drop counts by reason; a handful of reasons at most, so a short list beats a map
    /// on the hot path (a flood over a million peers drops millions of duplicates).
    query_drops: Vec<(DropReason, u64)>,
    hit_drops: Vec<(DropReason, u64)>,
}

impl Accumulator {
    fn start(&self) -> Time {
        self.started.or(self.first_seen).unwrap_or(Time::ZERO)
    }
}

/// How many records of queries started outside the recorded peers a recorder keeps open
/// before it evicts the oldest: a long-running peer (`gnutella peer`, a launched network)
/// sees every query the network floods, each open record holds a few hundred bytes (more
/// for a wide reach), and such records are never reported on their own. Searches the
/// recorded peers started are bounded by the driver's workload and are not capped unless
/// [`Recorder::set_max_queries`] asks.
pub const DEFAULT_MAX_RELAYED: usize = 100_000;

/// One open record in its dense slot (`acc` is `None` once evicted, until reused).
#[derive(Clone, Debug)]
struct Slot {
    guid: Guid,
    acc: Option<Accumulator>,
}

/// Where the record of one query sits in a [`Recorder`]: a driver that carries it with
/// the query's messages (the simulator keeps one per queued payload) hands it back with
/// each event of that query, and the recorder reaches the record by index instead of
/// hashing the GUID. Only a hint: it is checked against the event's GUID, so a stale or
/// foreign one costs a lookup, never a wrong count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHint(u32);

impl RecordHint {
    /// No record known yet.
    pub const NONE: RecordHint = RecordHint(u32::MAX);
}

impl Default for RecordHint {
    fn default() -> Self {
        RecordHint::NONE
    }
}

/// Folds node events from any number of peers into per-query records.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    names: Option<Vec<String>>,
    scope: Scope,
    /// Open records beyond this many evict the oldest (`None`: no cap, the default).
    max_queries: Option<usize>,
    /// Open records of relayed queries beyond this many evict the oldest of them.
    max_relayed: Option<usize>,
    /// Open records no recorded peer has started (yet).
    relayed_open: usize,
    /// Report records of queries no recorded peer started (a shard child does, for the
    /// parent's merge).
    keep_relayed: bool,
    /// Record GUIDs in creation order, split by whether a recorded peer started the query:
    /// relayed ones are evicted first. Entries may be stale (evicted, or since started
    /// here); eviction skips those. `started_order` is kept only under `max_queries`.
    relayed_order: VecDeque<Guid>,
    started_order: VecDeque<Guid>,
    /// Where each open record sits in `slots`. Keyed with a per-process random key: the
    /// live network's GUIDs come from peers, and SipHash would cost more than the rest of
    /// an event's bookkeeping.
    queries: HashMap<Guid, u32, KeyedHash>,
    /// The open records, densely numbered so that a driver that knows which record an
    /// event belongs to ([`RecordHint`]) reaches it without hashing its GUID.
    slots: Vec<Slot>,
    /// Slots of evicted records, reused first.
    free: Vec<u32>,
    /// Descriptor GUIDs that belong to another search (e.g. the rounds of an expanding
    /// ring), mapped to the GUID the search is recorded under.
    aliases: HashMap<Guid, Guid>,
    /// Query and QueryHit descriptors each peer put on links, by peer index, modulo 2^32
    /// (4 bytes a peer: a million-peer flood writes every entry)...
    sent_per_peer: Vec<u32>,
    /// ...and the multiples of 2^32 of the peers whose count went past it (none in any
    /// run of today's sizes, but the count stays exact).
    sent_high: HashMap<u32, u64>,
}

impl Recorder {
    /// A recorder naming peers by their index (`"0"`, `"1"`, ...), as the simulator does.
    pub fn new() -> Recorder {
        Recorder {
            max_relayed: Some(DEFAULT_MAX_RELAYED),
            ..Recorder::default()
        }
    }

    /// A recorder naming peer `i` as `names[i]` (the live network's `"p0"`, `"p1"`, ...).
    pub fn with_names(names: Vec<String>) -> Recorder {
        let peers = names.len();
        Recorder {
            names: Some(names),
            queries: HashMap::with_hasher(random_key()),
            sent_per_peer: vec![0; peers],
            max_relayed: Some(DEFAULT_MAX_RELAYED),
            ..Recorder::default()
        }
    }

    /// A recorder for a searcher that sees only its own events (`search --json`).
    pub fn searcher(name: impl Into<String>) -> Recorder {
        let mut recorder = Recorder::with_names(vec![name.into()]);
        recorder.scope = Scope::Searcher;
        recorder
    }

    /// Caps the number of open query records at `max` (at least 1); beyond it the oldest
    /// record of a query started elsewhere is dropped, or else the oldest search. `None`
    /// (the default) lifts the cap.
    pub fn set_max_queries(&mut self, max: Option<usize>) {
        if self.max_queries.is_none() && max.is_some() {
            // Searches opened while uncapped join the order list, oldest first.
            let mut open: Vec<(Time, Guid)> = self
                .open()
                .filter(|(_, a)| a.started.is_some())
                .map(|(g, a)| (a.start(), *g))
                .collect();
            open.sort();
            self.started_order = open.into_iter().map(|(_, g)| g).collect();
        }
        self.max_queries = max.map(|m| m.max(1));
        if max.is_none() {
            self.started_order.clear();
        }
    }

    /// Caps the open records of relayed queries (no recorded peer started them) at `max`
    /// (at least 1), evicting the oldest; `None` lifts the cap. Default:
    /// [`DEFAULT_MAX_RELAYED`].
    pub fn set_max_relayed(&mut self, max: Option<usize>) {
        self.max_relayed = max.map(|m| m.max(1));
    }

    /// Makes [`Recorder::records`] include queries no recorded peer started (origin
    /// `None`): a shard child reports them so the parent can add their counts to the
    /// origin shard's record.
    pub fn keep_relayed(&mut self) {
        self.keep_relayed = true;
    }

    /// Number of query records currently open (reported or not).
    pub fn open_queries(&self) -> usize {
        self.queries.len()
    }

    /// Makes sure per-peer counts cover `peers` peers, so peers that sent nothing count
    /// as zeros in [`Recorder::messages_per_peer`].
    pub fn set_peer_count(&mut self, peers: usize) {
        if self.sent_per_peer.is_empty() {
            // Zeroed at allocation (calloc): pages of peers that never send stay untouched.
            self.sent_per_peer = vec![0; peers];
        } else if self.sent_per_peer.len() < peers {
            self.sent_per_peer.resize(peers, 0);
        }
    }

    /// Records descriptors with GUID `round` as part of the search recorded under `search`
    /// (a driver or strategy that re-issues a search under fresh GUIDs calls this before
    /// the round's events arrive).
    pub fn alias(&mut self, round: Guid, search: Guid) {
        if round != search {
            let target = self.aliases.get(&search).copied().unwrap_or(search);
            self.aliases.insert(round, target);
        }
    }

    /// Folds one event that happened at `peer` at time `now`.
    pub fn record(&mut self, peer: u32, now: Time, event: &Event) {
        self.record_hinted(&mut RecordHint::default(), peer, now, event);
    }

    /// Like [`Recorder::record`], with where the event's record was last seen: `hint` is
    /// used if it still names that record, and is left naming it (or `NONE` when the
    /// event opened none).
    pub fn record_hinted(&mut self, hint: &mut RecordHint, peer: u32, now: Time, event: &Event) {
        let guid = event.guid();
        let guid = if self.aliases.is_empty() {
            guid
        } else {
            self.aliases.get(&guid).copied().unwrap_or(guid)
        };
        if let Event::Sent { kind: k, count, .. } = event {
            if *k == kind::QUERY || *k == kind::QUERY_HIT {
                let index = peer as usize;
                if self.sent_per_peer.len() <= index {
                    self.sent_per_peer.resize(index + 1, 0);
                }
                if let Some(slot) = self.sent_per_peer.get_mut(index) {
                    let (sum, wrapped) = slot.overflowing_add(*count);
                    *slot = sum;
                    if wrapped {
                        *self.sent_high.entry(peer).or_insert(0) += 1 << 32;
                    }
                }
            }
        }
        let starts = matches!(event, Event::SearchStarted { .. });
        let known = match self.slot_of(*hint, &guid) {
            Some(slot) => Some(slot),
            None => self.queries.get(&guid).copied(),
        };
        let slot = match known {
            Some(slot) => {
                let acc = self.slots[slot as usize].acc.as_ref();
                if starts && acc.is_some_and(|a| a.started.is_none()) {
                    self.relayed_open = self.relayed_open.saturating_sub(1);
                    if self.max_queries.is_some() {
                        self.started_order.push_back(guid);
                    }
                }
                slot
            }
            None => {
                let opens = match event {
                    Event::SearchStarted { .. }
                    | Event::QueryReceived { .. }
                    | Event::Reforwarded { .. } => true,
                    Event::Sent { kind: k, .. } | Event::Dropped { kind: k, .. } => {
                        *k == kind::QUERY
                    }
                    Event::Answered { .. } | Event::HitReceived { .. } => false,
                };
                if !opens {
                    *hint = RecordHint::NONE;
                    return;
                }
                self.make_room(starts);
                let slot = self.open_slot(guid);
                if !starts {
                    self.relayed_open += 1;
                    self.relayed_order.push_back(guid);
                } else if self.max_queries.is_some() {
                    // Without a cap no search is evicted: spare the list (a simulated
                    // workload may hold millions of queries).
                    self.started_order.push_back(guid);
                }
                slot
            }
        };
        *hint = RecordHint(slot);
        let Some(acc) = self.slots[slot as usize].acc.as_mut() else {
            return;
        };
        acc.first_seen = Some(acc.first_seen.map_or(now, |t| t.min(now)));
        match event {
            Event::SearchStarted {
                words,
                ttl,
                strategy,
                ..
            } => {
                // A re-issued round of a grouped search keeps the first start.
                if acc.started.is_none() {
                    acc.origin = Some(peer);
                    acc.words = words.clone();
                    acc.started = Some(now);
                    acc.strategy = Some(*strategy);
                }
                acc.ttl = acc.ttl.max(*ttl);
            }
            Event::QueryReceived { .. } => acc.reached.insert(peer),
            Event::Reforwarded { .. } => acc.reforwards += 1,
            Event::Sent { kind: k, count, .. } => {
                let count = u64::from(*count);
                match *k {
                    kind::QUERY => acc.messages += count,
                    kind::QUERY_HIT => acc.hit_messages += count,
                    _ => {}
                }
            }
            Event::Dropped {
                kind: k, reason, ..
            } => {
                let drops = match *k {
                    kind::QUERY => {
                        match reason.copy_fate() {
                            Some(CopyFate::Duplicate) => acc.duplicates += 1,
                            Some(CopyFate::Refused) => acc.refused += 1,
                            Some(CopyFate::Lost) => acc.lost += 1,
                            _ => {}
                        }
                        &mut acc.query_drops
                    }
                    kind::QUERY_HIT => &mut acc.hit_drops,
                    _ => return,
                };
                match drops.iter_mut().find(|(r, _)| r == reason) {
                    Some((_, n)) => *n += 1,
                    None => drops.push((*reason, 1)),
                }
            }
            Event::Answered { from_cache, .. } => {
                acc.answered += 1;
                if *from_cache {
                    acc.answered_from_cache += 1;
                }
            }
            Event::HitReceived { hops, hit, .. } => {
                acc.hits += 1;
                acc.records += hit.records.len() as u64;
                acc.responders.insert(hit.servent_guid);
                let earlier = match acc.first_hit {
                    Some((t, _)) => now < t,
                    None => true,
                };
                if earlier {
                    acc.first_hit = Some((now, *hops));
                }
            }
        }
    }

    /// The slot `hint` names if it holds the open record of `guid`.
    #[inline]
    fn slot_of(&self, hint: RecordHint, guid: &Guid) -> Option<u32> {
        self.slots
            .get(hint.0 as usize)
            .filter(|s| s.acc.is_some() && s.guid == *guid)
            .map(|_| hint.0)
    }

    /// Opens an empty record for `guid` in a free slot (or a new one).
    fn open_slot(&mut self, guid: Guid) -> u32 {
        let fresh = Slot {
            guid,
            acc: Some(Accumulator::default()),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = fresh;
                slot
            }
            None => {
                self.slots.push(fresh);
                (self.slots.len() - 1) as u32
            }
        };
        self.queries.insert(guid, slot);
        slot
    }

    /// The open record of `guid`, if any.
    fn get(&self, guid: &Guid) -> Option<&Accumulator> {
        let slot = *self.queries.get(guid)?;
        self.slots.get(slot as usize)?.acc.as_ref()
    }

    /// Closes the open record of `guid`; false if there was none.
    fn remove(&mut self, guid: &Guid) -> bool {
        let Some(slot) = self.queries.remove(guid) else {
            return false;
        };
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.acc = None;
            self.free.push(slot);
        }
        true
    }

    /// Every open record with its GUID, in slot order.
    fn open(&self) -> impl Iterator<Item = (&Guid, &Accumulator)> {
        self.slots
            .iter()
            .filter_map(|s| s.acc.as_ref().map(|a| (&s.guid, a)))
    }

    /// Drops open records until one more fits under the caps: a new relayed record
    /// (`starts` false) must fit under the relayed cap, any new record under the total
    /// cap; relayed records go first, oldest first, then the oldest searches.
    fn make_room(&mut self, starts: bool) {
        if !starts {
            if let Some(max) = self.max_relayed {
                while self.relayed_open >= max && self.evict_relayed() {}
            }
        }
        if let Some(max) = self.max_queries {
            while self.queries.len() >= max {
                if !self.evict_relayed() && !self.evict_started() {
                    // The order lists cover every open record; never loop forever.
                    break;
                }
            }
        }
        // Entries of relayed queries since started here go stale; keep the list near the
        // number of open relayed records.
        if self.relayed_order.len() > 2 * self.relayed_open + 1024 {
            let mut order = std::mem::take(&mut self.relayed_order);
            order.retain(|g| self.get(g).is_some_and(|a| a.started.is_none()));
            self.relayed_order = order;
        }
    }

    /// Drops the oldest open relayed record; false when there is none.
    fn evict_relayed(&mut self) -> bool {
        while let Some(guid) = self.relayed_order.pop_front() {
            if self.get(&guid).is_some_and(|a| a.started.is_none()) {
                self.remove(&guid);
                self.relayed_open = self.relayed_open.saturating_sub(1);
                return true;
            }
        }
        self.relayed_open = 0;
        false
    }

    /// Drops the oldest open search; false when there is none.
    fn evict_started(&mut self) -> bool {
        while let Some(guid) = self.started_order.pop_front() {
            if self.remove(&guid) {
                return true;
            }
        }
        false
    }

    /// The records so far, ordered by start time, then GUID: only queries a recorded peer
    /// started, unless [`Recorder::keep_relayed`] was called.
    pub fn records(&self) -> Vec<QueryRecord> {
        let mut ordered: Vec<(&Guid, &Accumulator)> = self
            .open()
            .filter(|(_, acc)| self.keep_relayed || acc.origin.is_some())
            .collect();
        ordered.sort_by(|a, b| a.1.start().cmp(&b.1.start()).then(a.0.cmp(b.0)));
        ordered
            .into_iter()
            .map(|(guid, acc)| self.finish(guid, acc))
            .collect()
    }

    /// Query and QueryHit descriptors each peer put on links (index = peer), the input of
    /// the per-node load figures of a summary.
    pub fn messages_per_peer(&self) -> Vec<u64> {
        let mut counts: Vec<u64> = self.sent_per_peer.iter().map(|&c| u64::from(c)).collect();
        for (&peer, &high) in &self.sent_high {
            if let Some(count) = counts.get_mut(peer as usize) {
                *count += high;
            }
        }
        counts
    }

    /// Where recording an event at `peer` of the query whose record `hint` names will
    /// write: the peer's message count and its bit in the query's reached set (null where
    /// there is none yet). A driver about to hand that peer a copy can prefetch them: over
    /// a million peers both are a cache miss per event otherwise.
    pub fn write_hint(&self, hint: RecordHint, peer: u32) -> [*const u8; 2] {
        let sent = self
            .sent_per_peer
            .get(peer as usize)
            .map_or(std::ptr::null(), |c| c as *const u32 as *const u8);
        let reached = self
            .slots
            .get(hint.0 as usize)
            .and_then(|s| s.acc.as_ref())
            .and_then(|acc| acc.reached.words.get((peer / 64) as usize))
            .map_or(std::ptr::null(), |w| w as *const u64 as *const u8);
        [sent, reached]
    }

    /// Peer `peer` as records name it (its config id, or its index).
    pub fn peer_name(&self, peer: u32) -> String {
        self.names
            .as_ref()
            .and_then(|names| names.get(peer as usize).cloned())
            .unwrap_or_else(|| peer.to_string())
    }

    fn finish(&self, guid: &Guid, acc: &Accumulator) -> QueryRecord {
        let start = acc.start();
        let origin_reached = acc.origin.is_some_and(|o| acc.reached.contains(o));
        let first_hit_ms = acc
            .first_hit
            .map(|(t, _)| t.saturating_sub(start).as_millis_f64());
        QueryRecord {
            guid: guid.to_hex(),
            query: acc.words.clone(),
            origin: acc.origin.map(|o| self.peer_name(o)),
            strategy: acc
                .strategy
                .map_or_else(|| "unknown".to_string(), |s| s.to_string()),
            ttl: acc.ttl,
            start_ms: start.as_millis_f64(),
            messages: acc.messages,
            duplicates: acc.duplicates,
            reforwards: acc.reforwards,
            refused: acc.refused,
            lost: acc.lost,
            peers_reached: acc.reached.len - u64::from(origin_reached),
            hits: acc.hits,
            records: acc.records,
            responders: acc.responders.len() as u64,
            first_hit_hops: acc.first_hit.map(|(_, h)| h),
            first_hit_ms,
            hit_messages: acc.hit_messages,
            answered: acc.answered,
            answered_from_cache: acc.answered_from_cache,
            query_drops: named_counts(&acc.query_drops),
            hit_drops: named_counts(&acc.hit_drops),
            success: acc.hits > 0,
            scope: self.scope,
        }
    }
}

/// A hash key the network cannot guess (std seeds `RandomState` from the OS). Records are
/// sorted before they leave, so the key never shows in any output.
fn random_key() -> KeyedHash {
    use std::hash::{BuildHasher, Hasher};
    KeyedHash::new(
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish(),
    )
}

fn named_counts(counts: &[(DropReason, u64)]) -> BTreeMap<String, u64> {
    counts
        .iter()
        .map(|&(reason, n)| (reason_name(reason), n))
        .collect()
}

/// The drop reason's name as it appears in reports (its serde name, e.g. `ttl_expired`).
fn reason_name(reason: DropReason) -> String {
    match serde_json::to_value(reason) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{reason:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use super::*;
    use crate::node::types::ConnId;
    use crate::protocol::{HitRecord, QueryHit};

    fn guid(n: u8) -> Guid {
        Guid([n; 16])
    }

    fn hit(servent: u8, files: usize) -> Arc<QueryHit> {
        let records = (0..files)
            .map(|i| HitRecord {
                index: i as u32,
                size: 100,
                name: format!("file-{i}.txt"),
                extensions: Vec::new(),
            })
            .collect();
        Arc::new(QueryHit {
            port: 6346,
            ip: Ipv4Addr::LOCALHOST,
            speed: 0,
            records,
            trailer: None,
            servent_guid: Guid([servent; 16]),
        })
    }

    fn sent(g: Guid, k: u8, count: u32) -> Event {
        Event::Sent {
            guid: g,
            kind: k,
            count,
        }
    }

    fn received(g: Guid, hops: u8) -> Event {
        Event::QueryReceived {
            guid: g,
            from: ConnId(0),
            hops,
        }
    }

    fn dup(g: Guid) -> Event {
        Event::Dropped {
            guid: g,
            kind: kind::QUERY,
            reason: DropReason::Duplicate,
        }
    }

    /// A triangle 0-1-2 flooded from 0 with TTL 2: 0 sends 2 copies, 1 and 2 each forward
    /// one copy to the other, both copies are duplicates; nobody answers.
    #[test]
    fn flood_over_a_triangle_counts_messages_duplicates_and_reach() {
        let g = guid(1);
        let mut rec = Recorder::new();
        let t = Time::from_millis(5);
        rec.record(
            0,
            t,
            &Event::SearchStarted {
                guid: g,
                words: "nothing".into(),
                ttl: 2,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(0, t, &sent(g, kind::QUERY, 2));
        rec.record(1, t, &received(g, 1));
        rec.record(2, t, &received(g, 1));
        rec.record(1, t, &sent(g, kind::QUERY, 1));
        rec.record(2, t, &sent(g, kind::QUERY, 1));
        rec.record(1, t, &dup(g));
        rec.record(2, t, &dup(g));
        let records = rec.records();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.guid, g.to_hex());
        assert_eq!(r.origin.as_deref(), Some("0"));
        assert_eq!(r.messages, 4);
        assert_eq!(r.duplicates, 2);
        assert_eq!(r.peers_reached, 2);
        assert_eq!(r.hits, 0);
        assert!(!r.success);
        assert_eq!(r.first_hit_ms, None);
        assert_eq!(r.first_hit_hops, None);
        assert_eq!(r.query_drops.get("duplicate"), Some(&2));
        assert_eq!(rec.messages_per_peer(), [2, 1, 1]);
    }

    /// Two responders answer, one of them twice (two QueryHits); the hits come back over
    /// relays and the first hit sets hops and latency.
    #[test]
    fn hits_from_two_responders_count_distinct_servents_and_first_hit() {
        let g = guid(2);
        let mut rec =
            Recorder::with_names(vec!["p0".into(), "p1".into(), "p2".into(), "p3".into()]);
        rec.record(
            0,
            Time::from_millis(10),
            &Event::SearchStarted {
                guid: g,
                words: "debian netinst".into(),
                ttl: 7,
                strategy: "flood+cache".parse().unwrap(),
            },
        );
        rec.record(0, Time::from_millis(10), &sent(g, kind::QUERY, 1));
        rec.record(1, Time::from_millis(11), &received(g, 1));
        rec.record(1, Time::from_millis(11), &sent(g, kind::QUERY, 2));
        rec.record(2, Time::from_millis(12), &received(g, 2));
        rec.record(3, Time::from_millis(12), &received(g, 2));
        rec.record(
            2,
            Time::from_millis(12),
            &Event::Answered {
                guid: g,
                records: 3,
                from_cache: false,
            },
        );
        rec.record(
            3,
            Time::from_millis(12),
            &Event::Answered {
                guid: g,
                records: 1,
                from_cache: true,
            },
        );
        rec.record(2, Time::from_millis(12), &sent(g, kind::QUERY_HIT, 2));
        rec.record(3, Time::from_millis(12), &sent(g, kind::QUERY_HIT, 1));
        rec.record(1, Time::from_millis(13), &sent(g, kind::QUERY_HIT, 3));
        // Events of different peers may arrive out of time order.
        rec.record(
            0,
            Time::from_millis(15),
            &Event::HitReceived {
                guid: g,
                hops: 2,
                hit: hit(3, 1),
                cached: None,
            },
        );
        rec.record(
            0,
            Time::from_millis(14),
            &Event::HitReceived {
                guid: g,
                hops: 2,
                hit: hit(2, 2),
                cached: None,
            },
        );
        rec.record(
            0,
            Time::from_millis(14),
            &Event::HitReceived {
                guid: g,
                hops: 2,
                hit: hit(2, 1),
                cached: None,
            },
        );
        let r = &rec.records()[0];
        assert_eq!(r.origin.as_deref(), Some("p0"));
        assert_eq!(r.strategy, "flood+cache");
        assert_eq!(r.messages, 3);
        assert_eq!(r.peers_reached, 3);
        assert_eq!(r.hits, 3);
        assert_eq!(r.records, 4);
        assert_eq!(r.responders, 2);
        assert_eq!(r.hit_messages, 6);
        assert_eq!(r.first_hit_hops, Some(2));
        assert_eq!(r.first_hit_ms, Some(4.0));
        assert_eq!(r.answered, 2);
        assert_eq!(r.answered_from_cache, 1);
        assert!(r.success);
    }

    /// A query nobody answers: its copies expire; the origin receiving its own query back
    /// is not a reached peer.
    #[test]
    fn a_stale_hint_never_counts_an_event_against_another_query() {
        let (a, b) = (guid(1), guid(2));
        let mut rec = Recorder::new();
        rec.set_max_queries(Some(1));
        let t = Time::from_millis(1);
        let mut hint_a = RecordHint::default();
        rec.record_hinted(&mut hint_a, 0, t, &received(a, 1));
        rec.record_hinted(&mut hint_a, 1, t, &received(a, 1));
        // `b` evicts `a` and takes its slot: `a`'s hint now names `b`'s record.
        let mut hint_b = RecordHint::default();
        rec.record_hinted(&mut hint_b, 2, t, &received(b, 1));
        assert_eq!(hint_a, hint_b);
        rec.record_hinted(&mut hint_a, 3, t, &sent(a, kind::QUERY, 5));
        rec.keep_relayed();
        let records = rec.records();
        assert_eq!(records.len(), 1, "a re-opened in place of b: {records:?}");
        assert_eq!(records[0].guid, a.to_hex());
        assert_eq!((records[0].messages, records[0].peers_reached), (5, 0));
        assert_ne!(hint_a, RecordHint::NONE);
    }

    #[test]
    fn unanswered_query_is_a_failure_and_origin_is_not_reached() {
        let g = guid(3);
        let mut rec = Recorder::new();
        rec.record(
            0,
            Time::ZERO,
            &Event::SearchStarted {
                guid: g,
                words: "zzz".into(),
                ttl: 1,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(0, Time::ZERO, &sent(g, kind::QUERY, 1));
        rec.record(1, Time::ZERO, &received(g, 1));
        rec.record(
            1,
            Time::ZERO,
            &Event::Dropped {
                guid: g,
                kind: kind::QUERY,
                reason: DropReason::TtlExpired,
            },
        );
        // A driver that reports the origin among receivers must not inflate the reach.
        rec.record(0, Time::ZERO, &received(g, 2));
        let r = &rec.records()[0];
        assert_eq!(r.peers_reached, 1);
        assert_eq!(r.duplicates, 0);
        assert_eq!(r.query_drops.get("ttl_expired"), Some(&1));
        assert!(!r.success);
        assert_eq!(r.hits, 0);
        assert_eq!(r.responders, 0);
    }

    #[test]
    fn records_are_ordered_by_start_then_guid_whatever_the_arrival_order() {
        let mut rec = Recorder::new();
        rec.record(
            3,
            Time::from_millis(2),
            &Event::SearchStarted {
                guid: guid(9),
                words: "a".into(),
                ttl: 3,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(
            1,
            Time::from_millis(1),
            &Event::SearchStarted {
                guid: guid(8),
                words: "b".into(),
                ttl: 3,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(
            2,
            Time::from_millis(1),
            &Event::SearchStarted {
                guid: guid(7),
                words: "c".into(),
                ttl: 3,
                strategy: StrategySpec::FLOOD,
            },
        );
        let order: Vec<String> = rec.records().into_iter().map(|r| r.query).collect();
        assert_eq!(order, ["c", "b", "a"]);
    }

    #[test]
    fn aliased_rounds_fold_into_one_search_and_reach_counts_distinct_peers() {
        let (search, round2) = (guid(4), guid(5));
        let mut rec = Recorder::new();
        rec.record(
            0,
            Time::ZERO,
            &Event::SearchStarted {
                guid: search,
                words: "x".into(),
                ttl: 1,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(0, Time::ZERO, &sent(search, kind::QUERY, 1));
        rec.record(1, Time::ZERO, &received(search, 1));
        rec.alias(round2, search);
        rec.record(
            0,
            Time::from_millis(100),
            &Event::SearchStarted {
                guid: round2,
                words: "x".into(),
                ttl: 2,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(0, Time::from_millis(100), &sent(round2, kind::QUERY, 1));
        rec.record(1, Time::from_millis(100), &received(round2, 1));
        rec.record(2, Time::from_millis(100), &received(round2, 2));
        let records = rec.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].messages, 2);
        assert_eq!(records[0].peers_reached, 2);
        assert_eq!(records[0].ttl, 2);
        assert_eq!(records[0].start_ms, 0.0);
    }

    #[test]
    fn searcher_view_keeps_the_keys_and_nulls_what_it_cannot_know() {
        let g = guid(6);
        let mut rec = Recorder::searcher("search");
        rec.record(
            0,
            Time::ZERO,
            &Event::SearchStarted {
                guid: g,
                words: "iso".into(),
                ttl: 4,
                strategy: StrategySpec::FLOOD,
            },
        );
        rec.record(0, Time::ZERO, &sent(g, kind::QUERY, 2));
        rec.record(
            0,
            Time::from_millis(3),
            &Event::HitReceived {
                guid: g,
                hops: 3,
                hit: hit(1, 1),
                cached: None,
            },
        );
        let json = rec.records()[0].to_json();
        assert_eq!(json["hits"], 1);
        assert_eq!(json["responders"], 1);
        assert_eq!(json["first_hit_hops"], 3);
        assert_eq!(json["first_hit_ms"], 3.0);
        assert_eq!(json["origin"], "search");
        assert!(json["messages"].is_null());
        assert!(json["peers_reached"].is_null());
        assert_eq!(json["scope"], "searcher");
    }
}
