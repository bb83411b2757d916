//! A tiny synchronous network of in-memory `Node`s for the node tests: links, a FIFO
//! message pump (so copies are delivered in breadth-first order, like equal link
//! latencies), virtual time for timers, and per-query tallies of what happened.
//!
//! Node `i` knows its link to node `j` as `ConnId(j)`.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use gnutella::node::record::{QueryRecord, Recorder};
use gnutella::node::{
    CacheMode, ConnId, DropReason, Event, Library, Node, Output, PeerIdentity, PeerInfo, Request,
    RoutingConfig, SearchRequest, SharedFile, Strategy, Time,
};
use gnutella::protocol::{kind, Guid, Message, QueryHit, Sha1};
use rand::{Rng, SeedableRng};

/// What the network saw of one query GUID.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Query descriptors put on links.
    pub messages: u64,
    pub duplicates: u64,
    pub reforwards: u64,
    /// Nodes (not the origin) that received a first copy.
    pub reached: BTreeSet<usize>,
    /// Hits that reached a searching node: (node, hops, hit).
    pub hits: Vec<(usize, u8, Arc<QueryHit>)>,
    /// For each of `hits`, the holder's hops from the cache that answered, if one did.
    pub cached: Vec<Option<u8>>,
    /// QueryHit descriptors put on links, by sending node.
    pub hit_senders: BTreeMap<usize, u64>,
    pub hit_messages: u64,
    pub drops: HashMap<(u8, DropReason), u64>,
    pub answered_from_cache: u64,
    pub check_backs: u64,
}

pub struct Net {
    pub nodes: Vec<Node>,
    pub now: Time,
    queue: VecDeque<(usize, usize, Message)>,
    pub tallies: BTreeMap<Guid, Tally>,
    pub origins: BTreeMap<Guid, usize>,
    /// Every descriptor delivered: (from, to, message).
    pub delivered: Vec<(usize, usize, Message)>,
    pub closed: Vec<(usize, ConnId)>,
    pub requests: Vec<(usize, Request)>,
    /// Dials asked by nodes of a dynamic overlay (node, address), not carried out.
    pub dials: Vec<(usize, std::net::SocketAddrV4)>,
    /// Each node's next timer, from its last drain.
    timeouts: Vec<Option<Time>>,
    /// The same recorder the drivers fold events into.
    recorder: Recorder,
}

pub fn addr(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1),
        6346,
    )
}

pub fn servent(i: usize) -> Guid {
    let mut g = [0xA5u8; 16];
    g[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Guid(g)
}

/// What node `i` says of itself in a handshake.
pub fn said(i: usize) -> PeerInfo {
    PeerInfo {
        servent_guid: Some(servent(i)),
        ..PeerInfo::default()
    }
}

/// Node `i`'s identity: a recognisable servent GUID and a fixed seed.
pub fn identity(i: usize) -> PeerIdentity {
    PeerIdentity {
        servent_guid: servent(i),
        seed: 1000 + i as u64,
    }
}

/// Node `i`'s node, routing by `config`.
pub fn node(i: usize, config: Arc<RoutingConfig>, library: Library) -> Node {
    Node::new(config, identity(i), addr(i), library)
}

pub fn config(_i: usize, strategy: Strategy, max_ttl: u8, cache: CacheMode) -> RoutingConfig {
    let mut c = RoutingConfig {
        strategy,
        max_ttl,
        ..RoutingConfig::default()
    };
    c.cache.mode = cache;
    c
}

pub fn file(index: u32, name: &str) -> SharedFile {
    SharedFile {
        index,
        name: name.to_string(),
        size: 4096,
        sha1: Sha1::of_bytes(name.as_bytes()),
    }
}

impl Net {
    /// `n` nodes with the given per-node config, no files, no links.
    pub fn new(n: usize, make: impl Fn(usize) -> RoutingConfig) -> Net {
        let nodes = (0..n)
            .map(|i| node(i, Arc::new(make(i)), Library::new()))
            .collect();
        Net {
            nodes,
            now: Time::ZERO,
            queue: VecDeque::new(),
            tallies: BTreeMap::new(),
            origins: BTreeMap::new(),
            delivered: Vec::new(),
            closed: Vec::new(),
            requests: Vec::new(),
            dials: Vec::new(),
            timeouts: vec![None; n],
            recorder: Recorder::new(),
        }
    }

    pub fn flood(n: usize, max_ttl: u8) -> Net {
        Net::new(n, |i| config(i, Strategy::Flood, max_ttl, CacheMode::Off))
    }

    pub fn share(&mut self, i: usize, files: Vec<SharedFile>) {
        let c = Arc::clone(self.nodes[i].config_arc());
        let links: Vec<ConnId> = self.nodes[i].neighbours().collect();
        self.nodes[i] = node(i, c, Library::from_files(files));
        for conn in links {
            self.nodes[i].on_connected(self.now, conn, said(conn.0 as usize));
        }
    }

    /// Links `a` and `b`; each gives its servent GUID in the handshake, as live peers do.
    pub fn link(&mut self, a: usize, b: usize) {
        let now = self.now;
        self.nodes[a].on_connected(now, ConnId(b as u32), said(b));
        self.nodes[b].on_connected(now, ConnId(a as u32), said(a));
    }

    /// Links `a` and `b` without naming them (a servent that sends no `GUID` header).
    pub fn link_anonymous(&mut self, a: usize, b: usize) {
        let now = self.now;
        self.nodes[a].on_connected(now, ConnId(b as u32), PeerInfo::default());
        self.nodes[b].on_connected(now, ConnId(a as u32), PeerInfo::default());
    }

    pub fn unlink(&mut self, a: usize, b: usize) {
        let now = self.now;
        self.nodes[a].on_disconnected(now, ConnId(b as u32));
        self.nodes[b].on_disconnected(now, ConnId(a as u32));
    }

    pub fn search(&mut self, origin: usize, words: &str, ttl: u8) -> Guid {
        let now = self.now;
        let request = SearchRequest {
            words: words.to_string(),
            sha1: None,
            ttl,
        };
        let guid = self.nodes[origin].start_search(now, request);
        self.origins.insert(guid, origin);
        self.run();
        guid
    }

    /// Hands every message to its node (as `inject`), all of them before any timer
    /// fires, then runs to quiescence.
    pub fn inject_all(&mut self, msgs: Vec<(usize, usize, Message)>) {
        self.queue.extend(msgs);
        self.run();
    }

    /// Hands `msg` to node `to` as if node `from` had sent it, then runs to quiescence.
    pub fn inject(&mut self, from: usize, to: usize, msg: Message) {
        self.queue.push_back((from, to, msg));
        self.run();
    }

    /// Delivers messages until none are in flight, then fires due timers (advancing
    /// virtual time) until no node has a timer left.
    pub fn run(&mut self) {
        loop {
            self.collect();
            while let Some((from, to, msg)) = self.queue.pop_front() {
                self.delivered.push((from, to, msg.clone()));
                let now = self.now;
                self.nodes[to].on_message(now, ConnId(from as u32), msg);
                self.collect_one(to);
            }
            let next = self.timeouts.iter().flatten().min().copied();
            let Some(at) = next else { break };
            self.now = self.now.max(at);
            let now = self.now;
            for i in 0..self.nodes.len() {
                if self.timeouts[i].is_some_and(|t| t <= now) {
                    self.timeouts[i] = None;
                    self.nodes[i].on_timeout(now);
                }
            }
        }
    }

    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            self.collect_one(i);
        }
    }

    /// Drains node `i` after an input (the node's drain rule), with one match.
    fn collect_one(&mut self, i: usize) {
        loop {
            match self.nodes[i].poll_output() {
                Output::Send { to, msg } => self.queue.push_back((i, to.0 as usize, msg)),
                Output::Close { conn, .. } => self.closed.push((i, conn)),
                Output::Event(event) => self.fold(i, event),
                Output::Request(request) => {
                    if let Request::CheckBack { guid, .. } = &request {
                        // The relay asks the origin; the answer comes back at once (an
                        // input: draining goes on with the walkers it resumes).
                        let guid = *guid;
                        let satisfied = self
                            .origins
                            .get(&guid)
                            .is_some_and(|&o| self.nodes[o].search_satisfied(guid));
                        self.tallies.entry(guid).or_default().check_backs += 1;
                        let now = self.now;
                        self.nodes[i].on_check_back(now, guid, satisfied);
                    }
                    self.requests.push((i, request));
                }
                Output::Dial(addr) => self.dials.push((i, addr)),
                Output::Timeout(next) => {
                    self.timeouts[i] = next;
                    return;
                }
            }
        }
    }

    fn fold(&mut self, node: usize, event: Event) {
        self.recorder.record(node as u32, self.now, &event);
        match event {
            Event::SearchStarted { guid, .. } => {
                self.origins.insert(guid, node);
                self.tallies.entry(guid).or_default();
            }
            Event::QueryReceived { guid, .. } => {
                self.tallies.entry(guid).or_default().reached.insert(node);
            }
            Event::Reforwarded { guid, .. } => {
                self.tallies.entry(guid).or_default().reforwards += 1;
            }
            Event::Sent {
                guid,
                kind: k,
                count,
            } => {
                let t = self.tallies.entry(guid).or_default();
                if k == kind::QUERY {
                    t.messages += u64::from(count);
                } else if k == kind::QUERY_HIT {
                    t.hit_messages += u64::from(count);
                    *t.hit_senders.entry(node).or_default() += u64::from(count);
                }
            }
            Event::Dropped {
                guid,
                kind: k,
                reason,
            } => {
                let t = self.tallies.entry(guid).or_default();
                if k == kind::QUERY && reason == DropReason::Duplicate {
                    t.duplicates += 1;
                }
                *t.drops.entry((k, reason)).or_default() += 1;
            }
            Event::Answered {
                guid, from_cache, ..
            } => {
                if from_cache {
                    self.tallies.entry(guid).or_default().answered_from_cache += 1;
                }
            }
            Event::HitReceived {
                guid,
                hops,
                hit,
                cached,
            } => {
                let t = self.tallies.entry(guid).or_default();
                t.hits.push((node, hops, hit));
                t.cached.push(cached);
            }
        }
    }

    /// What the network saw of `guid`. For a search a node started, the tally must
    /// agree with the record the shared `Recorder` folded from the same events, and the
    /// record must account for every copy sent.
    pub fn tally(&self, guid: Guid) -> Tally {
        let tally = self.tallies.get(&guid).cloned().unwrap_or_default();
        if let Some(record) = self.record(guid) {
            assert_eq!(
                (record.messages, record.duplicates, record.reforwards),
                (tally.messages, tally.duplicates, tally.reforwards),
                "the recorder and the harness disagree on {guid}"
            );
            assert_eq!(record.peers_reached as usize, tally.reached.len());
            assert_eq!(record.hit_messages, tally.hit_messages);
            assert_eq!(
                record.unaccounted(),
                0,
                "copies unaccounted for: {record:?}"
            );
        }
        tally
    }

    /// The record of a search a node of this network started.
    pub fn record(&self, guid: Guid) -> Option<QueryRecord> {
        let hex = guid.to_hex();
        self.recorder.records().into_iter().find(|r| r.guid == hex)
    }
}

// ----- topologies ------------------------------------------------------------------

pub fn line(net: &mut Net) {
    for i in 1..net.nodes.len() {
        net.link(i - 1, i);
    }
}

pub fn ring(net: &mut Net) {
    line(net);
    let n = net.nodes.len();
    net.link(n - 1, 0);
}

pub fn star(net: &mut Net) {
    for i in 1..net.nodes.len() {
        net.link(0, i);
    }
}

/// A `w` × `h` grid; node `y * w + x`.
pub fn grid(net: &mut Net, w: usize, h: usize) {
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if x + 1 < w {
                net.link(i, i + 1);
            }
            if y + 1 < h {
                net.link(i, i + w);
            }
        }
    }
}

/// A complete `k`-ary tree in breadth-first numbering (node i's parent is (i-1)/k).
pub fn tree(net: &mut Net, k: usize) {
    for i in 1..net.nodes.len() {
        net.link((i - 1) / k, i);
    }
}

/// A connected random graph: a random spanning tree plus random extra links up to a mean
/// degree of `degree`.
pub fn random_graph(net: &mut Net, degree: usize, seed: u64) {
    let n = net.nodes.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut links = BTreeSet::new();
    for i in 1..n {
        let j = rng.gen_range(0..i);
        links.insert((j, i));
    }
    while links.len() < n * degree / 2 {
        let a = rng.gen_range(0..n);
        let b = rng.gen_range(0..n);
        if a != b {
            links.insert((a.min(b), a.max(b)));
        }
    }
    for (a, b) in links {
        net.link(a, b);
    }
}
