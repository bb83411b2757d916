//! Many live peers in one process: bind, start, wait for the overlay, search, settle,
//! report, shut down.
//!
//! This is what `launch`, `demo`, the live tests and the live benchmark share. Every peer's
//! events go to one recorder task, so a report folds the whole network's view of each query
//! exactly as the simulator does (same `Recorder`, same record schema).

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::clock;
use super::config::NetConfig;
use super::control::PeerStatus;
use super::core::RoutingCore;
use super::dialer::{spawn_dialer, Redial};
use super::discovery::DialKit;
use super::handshake::LocalInfo;
use super::link_shaper::LinkShaper;
use super::listener::{spawn_listener, HttpHandler};
use super::logs::{Directory, LogNames};
use super::peer::{spawn_actor, Activity, EventSink, PeerEvent, PeerInput, PeerRef, ToRecorder};
use super::trace::{trace_peers, LiveTrace};
use crate::node::record::{QueryRecord, Recorder};
use crate::node::{Event, HostEntry, OverlayConfig, PeerStats, PeerTally, SearchRequest, Time};
use crate::protocol::{kind, Guid};
use crate::trace::{TracePeer, Tracer};

/// Why a network could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddrV4,
        source: std::io::Error,
    },
    #[error("listener address of {0} is not IPv4")]
    NotIpv4(String),
    #[error("no peer named {0:?}")]
    UnknownPeer(String),
    #[error("peer {0} has stopped")]
    PeerStopped(String),
    #[error("peer {0} is running")]
    PeerRunning(String),
    #[error("the overlay was not up after {secs:.1} s: {missing} of {links} links missing")]
    OverlayTimeout {
        secs: f64,
        missing: usize,
        links: usize,
    },
    #[error(
        "the dynamic overlay was not up after {secs:.1} s: {short} of {peers} peers have \
         fewer than {target} links"
    )]
    DegreeTimeout {
        secs: f64,
        short: usize,
        peers: usize,
        target: usize,
    },
}

/// What one peer of a network needs to start: its core and file server are built once its
/// listening address is known (a config's port 0 becomes a real port first). Kept for the
/// network's life, so a stopped peer can start again as the same peer.
#[derive(Clone, Debug)]
pub struct PeerPlan {
    pub id: String,
    pub listen: SocketAddrV4,
    pub max_ttl: u8,
    pub seed: u64,
    /// The peer's index in the whole network (its config index), used in events: a shard
    /// runs only some of the peers but records them under their global index.
    pub record_as: u32,
    /// The address others reach the peer at, when not `listen` (behind NAT, or listening
    /// on 0.0.0.0): what its handshakes and hits say.
    pub advertise: Option<SocketAddrV4>,
}

/// A link between a peer of this process and a peer elsewhere (another shard).
#[derive(Clone, Copy, Debug)]
pub struct RemoteLink {
    /// Plan index of our end.
    pub local: usize,
    /// The other end's listening address.
    pub addr: SocketAddrV4,
    /// Whether our end dials (exactly one end of each link does).
    pub dial: bool,
}

/// Builds a peer's routing core and HTTP handler once its address is known.
pub trait PeerFactory {
    fn core(&mut self, index: usize, listen: SocketAddrV4) -> Box<dyn RoutingCore>;
    fn http(&mut self, index: usize, listen: SocketAddrV4) -> Option<HttpHandler>;
    /// The link model the peers' links follow (`None`: links as the network makes them).
    fn shaper(&self) -> Option<Arc<LinkShaper>> {
        None
    }
    /// Bytes of file bodies peer `index`'s HTTP server sent so far, over all its
    /// servers (`None`: this factory serves no files, or does not count them).
    fn bytes_served(&self, _index: usize) -> Option<u64> {
        None
    }
}

/// A peer of the network (running, or stopped by [`Network::stop_peer`]).
pub struct LivePeer {
    pub id: String,
    pub listen: SocketAddrV4,
    pub peer: PeerRef,
    tasks: Vec<JoinHandle<()>>,
    /// The degree policy of a peer in a dynamic overlay (`None`: static).
    overlay: Option<OverlayConfig>,
    /// False once stopped by [`Network::stop_peer`] (or the network's shutdown), true
    /// again when started again ([`Network::revive_peer`]).
    up: bool,
    /// A stopped dynamic peer's host cache, as a live peer saves it to its hosts file:
    /// (address, failed dials, age). It starts again from it.
    saved_hosts: Vec<(SocketAddrV4, u8, Time)>,
    /// What the peer counted in its earlier runs (a stopped actor takes its counters
    /// with it; the per-peer statistics cover every run of the peer).
    tally_before: PeerTally,
}

impl LivePeer {
    /// The degree policy of a peer in a dynamic overlay (`None`: static).
    pub fn overlay(&self) -> Option<&OverlayConfig> {
        self.overlay.as_ref()
    }

    /// Whether the peer runs (it was not stopped, or was started again since).
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Whether the peer was stopped (and not started again).
    pub fn is_stopped(&self) -> bool {
        !self.up
    }
}

/// Totals over the network's peers, for the report's `network` part.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct NetTotals {
    pub frames_in: u64,
    pub queue_drops: u64,
    pub skipped_frames: u64,
    pub bad_streams: u64,
    pub failed_handshakes: u64,
}

impl NetTotals {
    /// Adds another process's totals.
    pub fn add(&mut self, other: &NetTotals) {
        self.frames_in += other.frames_in;
        self.queue_drops += other.queue_drops;
        self.skipped_frames += other.skipped_frames;
        self.bad_streams += other.bad_streams;
        self.failed_handshakes += other.failed_handshakes;
    }
}

/// Peers of one process, their links, and the recorder their events go to.
pub struct Network {
    peers: Vec<LivePeer>,
    index: HashMap<String, usize>,
    links: Vec<(usize, usize)>,
    remote: Vec<RemoteLink>,
    activity: Arc<Activity>,
    recorder: Arc<Mutex<Recorder>>,
    fold: Option<JoinHandle<()>>,
    sink: Option<EventSink>,
    tap: Arc<Mutex<Option<mpsc::UnboundedSender<PeerEvent>>>>,
    /// The flood trace, folded with the records ([`Network::start_trace`]).
    trace: Arc<Mutex<Option<LiveTrace>>>,
    /// Config ids by listening address, for the peers' log lines.
    known: Arc<Directory>,
    /// Peers of the whole network, when this process runs only some of them.
    expected: Option<usize>,
    /// What each peer was started from, so a stopped one can start again.
    plans: Vec<PeerPlan>,
    net: NetConfig,
}

/// A peer's listener settings: the link cap never refuses a configured neighbour, so a
/// hub of a launched topology with more neighbours than `max_links` still gets them all.
/// In a dynamic overlay the cap is the policy's `max_degree`.
fn listener_net(
    net: &NetConfig,
    index: usize,
    links: &[(usize, usize)],
    remote: &[RemoteLink],
    overlay: Option<&OverlayConfig>,
) -> NetConfig {
    let configured = links
        .iter()
        .filter(|&&(a, b)| a == index || b == index)
        .count()
        + remote.iter().filter(|r| r.local == index).count();
    let cap = overlay.map_or(net.max_links, |o| o.max_degree);
    NetConfig {
        max_links: cap.max(configured),
        ..*net
    }
}

/// Binds one listener per plan (port 0 = ephemeral) and returns them with the real addresses.
pub async fn bind_all(plans: &mut [PeerPlan]) -> Result<Vec<TcpListener>, NetworkError> {
    let mut listeners = Vec::with_capacity(plans.len());
    for plan in plans.iter_mut() {
        let listener =
            TcpListener::bind(plan.listen)
                .await
                .map_err(|source| NetworkError::Bind {
                    addr: plan.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| NetworkError::Bind {
            addr: plan.listen,
            source,
        })?;
        plan.listen = match addr {
            std::net::SocketAddr::V4(v4) => v4,
            other => return Err(NetworkError::NotIpv4(other.to_string())),
        };
        listeners.push(listener);
    }
    Ok(listeners)
}

impl Network {
    /// Starts every peer on its bound listener. For each link `(a, b)` with `a < b`, peer `a`
    /// dials `b` (one dialler per pair, so no pair ever races into two links); `remote`
    /// lists links with peers of other processes. A peer whose core runs a dynamic overlay
    /// (`RoutingCore::overlay`) also dials what its core asks for, caps its links at the
    /// policy's `max_degree`, and leaves a configured link to the policy once it has come
    /// up and dropped (`dialer::Redial`).
    pub fn start(
        plans: Vec<PeerPlan>,
        listeners: Vec<TcpListener>,
        links: Vec<(usize, usize)>,
        remote: Vec<RemoteLink>,
        factory: &mut dyn PeerFactory,
        net: NetConfig,
        recorder: Recorder,
    ) -> Network {
        let activity = Arc::new(Activity::default());
        let (sink, rx) = mpsc::unbounded_channel();
        let recorder = Arc::new(Mutex::new(recorder));
        let tap: Arc<Mutex<Option<mpsc::UnboundedSender<PeerEvent>>>> = Arc::new(Mutex::new(None));
        let trace: Arc<Mutex<Option<LiveTrace>>> = Arc::new(Mutex::new(None));
        let fold = tokio::spawn(fold_events(
            rx,
            recorder.clone(),
            tap.clone(),
            trace.clone(),
        ));
        // Logs name the neighbours of this process by config id.
        let known = Arc::new(Directory::default());
        for plan in &plans {
            known.insert(plan.listen, &plan.id);
            if let Some(public) = plan.advertise {
                known.insert(public, &plan.id);
            }
        }
        let index = plans
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        let mut network = Network {
            peers: Vec::with_capacity(plans.len()),
            index,
            links,
            remote,
            activity,
            recorder,
            fold: Some(fold),
            sink: Some(sink),
            tap,
            trace,
            known,
            expected: None,
            plans,
            net,
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            if let Some(peer) = network.spawn_peer(i, listener, factory, &[]) {
                network.peers.push(peer);
            }
        }
        network
    }

    /// Starts peer `i` of the plans on its bound listener: its actor, its listener and a
    /// dialer for each configured link it dials.
    fn spawn_peer(
        &self,
        i: usize,
        listener: TcpListener,
        factory: &mut dyn PeerFactory,
        saved_hosts: &[(SocketAddrV4, u8, Time)],
    ) -> Option<LivePeer> {
        let plan = self.plans.get(i)?;
        let net = self.net;
        let public = plan.advertise.unwrap_or(plan.listen);
        let mut core = factory.core(i, public);
        if !saved_hosts.is_empty() {
            core.restore_hosts(clock::now(), saved_hosts);
        }
        let servent_guid = Some(core.servent_guid());
        let overlay = core.overlay();
        let http = factory.http(i, public);
        let names = LogNames {
            own: plan.id.as_str().into(),
            known: self.known.clone(),
        };
        let tier = core.routing().tier_policy();
        let listening = listener_net(&net, i, &self.links, &self.remote, overlay.as_ref());
        let link_cap = listening.max_links;
        let local = LocalInfo {
            listen_addr: public,
            max_ttl: plan.max_ttl,
            deflate: net.deflate,
            servent_guid,
            degree: LocalInfo::degree_of(&tier, link_cap),
            live_since: Some(clock::unix_secs_now()),
            tier,
        };
        let dials = overlay.map(|o| DialKit {
            local: local.clone(),
            net,
            source: *plan.listen.ip(),
            max_degree: o.max_degree,
        });
        let redial = match overlay {
            Some(_) => Redial::UntilReplaced,
            None => Redial::Always,
        };
        let (peer, actor) = spawn_actor(
            plan.record_as,
            names,
            core,
            self.activity.clone(),
            self.sink.clone(),
            net.link.idle_timeout / 3,
            dials,
            factory.shaper(),
        );
        let mut tasks = vec![
            actor,
            spawn_listener(listener, peer.clone(), local.clone(), listening, http),
        ];
        let dial_seed = plan.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for (n, &(a, b)) in self.links.iter().enumerate() {
            if a == i {
                if let Some(to) = self.plans.get(b) {
                    tasks.push(spawn_dialer(
                        to.listen,
                        *plan.listen.ip(),
                        peer.clone(),
                        local.clone(),
                        net,
                        dial_seed ^ n as u64,
                        redial,
                    ));
                }
            }
        }
        for (n, r) in self.remote.iter().enumerate() {
            if r.local == i && r.dial {
                tasks.push(spawn_dialer(
                    r.addr,
                    *plan.listen.ip(),
                    peer.clone(),
                    local.clone(),
                    net,
                    dial_seed ^ !(n as u64),
                    redial,
                ));
            }
        }
        Some(LivePeer {
            id: plan.id.clone(),
            listen: plan.listen,
            peer,
            tasks,
            overlay,
            up: true,
            saved_hosts: Vec::new(),
            tally_before: PeerTally::default(),
        })
    }

    /// Says how many peers the whole network has, when this process runs only some of
    /// them (a shard): a dynamic peer's degree target counts them all.
    pub fn expect_peers(&mut self, total: usize) {
        self.expected = Some(total);
    }

    /// Names peers of other processes in this process's logs: a link with the peer
    /// listening at an address is then logged with its config id.
    pub fn name_peers<'a>(&self, peers: impl IntoIterator<Item = (SocketAddrV4, &'a str)>) {
        for (addr, id) in peers {
            self.known.insert(addr, id);
        }
    }

    pub fn peers(&self) -> &[LivePeer] {
        &self.peers
    }

    pub fn links(&self) -> &[(usize, usize)] {
        &self.links
    }

    pub fn peer_index(&self, id: &str) -> Result<usize, NetworkError> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| NetworkError::UnknownPeer(id.to_string()))
    }

    /// Configured links that are not established yet (from either side's view, or from
    /// our side for links with other processes). Links of a dynamic peer are not
    /// counted: its degree policy may have replaced them (see [`Network::short_peers`]).
    pub fn missing_links(&self) -> usize {
        let is_static = |i: usize| self.peers.get(i).is_some_and(|p| p.overlay.is_none());
        let remote = self
            .remote
            .iter()
            .filter(|r| {
                is_static(r.local)
                    && self
                        .peers
                        .get(r.local)
                        .is_some_and(|p| !p.peer.shared.is_linked(&r.addr))
            })
            .count();
        remote
            + self
                .links
                .iter()
                .filter(|&&(a, b)| is_static(a) && is_static(b))
                .filter(|&&(a, b)| match (self.peers.get(a), self.peers.get(b)) {
                    (Some(pa), Some(pb)) => {
                        !pa.peer.shared.is_linked(&pb.listen)
                            || !pb.peer.shared.is_linked(&pa.listen)
                    }
                    _ => false,
                })
                .count()
    }

    /// Peers this process knows of that still run: its own and those at the other end
    /// of its remote links, or the whole network's as [`Network::expect_peers`] said
    /// (less those stopped here).
    fn population(&self) -> usize {
        let stopped = self.peers.iter().filter(|p| !p.up).count();
        if let Some(total) = self.expected {
            return total.saturating_sub(stopped);
        }
        let mut others: Vec<SocketAddrV4> = self.remote.iter().map(|r| r.addr).collect();
        others.sort();
        others.dedup();
        self.peers.len() - stopped + others.len()
    }

    /// The links a running dynamic peer needs for its overlay to count as up: its
    /// `min_degree`, or every other running peer when there are fewer.
    pub fn degree_target(&self, policy: &OverlayConfig) -> usize {
        policy.min_degree.min(self.population().saturating_sub(1))
    }

    /// Running dynamic peers with fewer links than [`Network::degree_target`].
    pub fn short_peers(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| p.up)
            .filter(|p| {
                p.overlay
                    .as_ref()
                    .is_some_and(|o| p.peer.shared.linked().len() < self.degree_target(o))
            })
            .count()
    }

    /// Waits until the overlay is up: every configured link between static peers, and
    /// every running dynamic peer at its degree target (`min_degree`, or all the others
    /// in a smaller network; its configured links need not be the ones it holds).
    pub async fn wait_overlay(&self, timeout: Duration) -> Result<Duration, NetworkError> {
        let started = Instant::now();
        loop {
            let missing = self.missing_links();
            let short = self.short_peers();
            if missing == 0 && short == 0 {
                return Ok(started.elapsed());
            }
            if started.elapsed() >= timeout {
                let secs = timeout.as_secs_f64();
                if missing > 0 {
                    return Err(NetworkError::OverlayTimeout {
                        secs,
                        missing,
                        links: self.links.len() + self.remote.len(),
                    });
                }
                let target = self
                    .peers
                    .iter()
                    .filter_map(|p| p.overlay.as_ref())
                    .map(|o| self.degree_target(o))
                    .max()
                    .unwrap_or(0);
                return Err(NetworkError::DegreeTimeout {
                    secs,
                    short,
                    peers: self.peers.iter().filter(|p| p.up).count(),
                    target,
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Links between this process's running peers and anyone, each counted once when
    /// both ends are here (what a dynamic overlay grew, for reports).
    pub fn live_links(&self) -> usize {
        let here: std::collections::HashSet<SocketAddrV4> = self
            .peers
            .iter()
            .filter(|p| p.up)
            .map(|p| p.listen)
            .collect();
        let mut twice = 0;
        let mut once = 0;
        for p in self.peers.iter().filter(|p| p.up) {
            for n in p.peer.shared.linked() {
                if here.contains(&n) {
                    twice += 1;
                } else {
                    once += 1;
                }
            }
        }
        twice / 2 + once
    }

    /// Every host peer `index`'s core knows (a dynamic overlay's host cache; empty in a
    /// static one), to save them.
    pub async fn known_hosts(&self, index: usize) -> Result<Vec<HostEntry>, NetworkError> {
        let peer = self
            .peers
            .get(index)
            .ok_or_else(|| NetworkError::UnknownPeer(index.to_string()))?;
        let (reply, answer) = oneshot::channel();
        let stopped = || NetworkError::PeerStopped(peer.id.clone());
        peer.peer
            .tx
            .send(PeerInput::KnownHosts { reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }

    /// How many running peers still owe a neighbour a QRP table (an ultrapeer's merged
    /// one goes out `MERGE_DELAY` after its leaves' tables arrived). Every peer is asked
    /// at once, and one that has not answered within [`TALLY_WAIT`] of the call counts as
    /// owing one (it is busy, so its tables may still change).
    pub async fn tables_due(&self) -> usize {
        let deadline = tokio::time::Instant::now() + TALLY_WAIT;
        let mut answers = Vec::with_capacity(self.peers.len());
        for p in self.peers.iter().filter(|p| p.up) {
            let (reply, answer) = oneshot::channel();
            let sent = p.peer.tx.send(PeerInput::TablesDue { reply });
            match tokio::time::timeout_at(deadline, sent).await {
                Ok(Ok(())) => answers.push(answer),
                // The peer has stopped: it owes nothing any more.
                Ok(Err(_)) => {}
                Err(_) => return self.peers.len(),
            }
        }
        let mut due = 0;
        for answer in answers {
            due += match tokio::time::timeout_at(deadline, answer).await {
                Ok(owes) => usize::from(owes.unwrap_or(false)),
                Err(_) => 1,
            };
        }
        due
    }

    /// Starts a search at peer `index`; returns the query GUID.
    pub async fn search(&self, index: usize, request: SearchRequest) -> Result<Guid, NetworkError> {
        let peer = self
            .peers
            .get(index)
            .ok_or_else(|| NetworkError::UnknownPeer(index.to_string()))?;
        let (reply, answer) = oneshot::channel();
        let stopped = || NetworkError::PeerStopped(peer.id.clone());
        peer.peer
            .tx
            .send(PeerInput::Search { request, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }

    /// Sends every event of every peer to `tap` too (e.g. to print hits as they arrive).
    pub fn set_tap(&self, tap: mpsc::UnboundedSender<PeerEvent>) {
        *self.tap.lock().unwrap_or_else(|e| e.into_inner()) = Some(tap);
    }

    /// The trace header's view of this network: its peers (config id, listening address;
    /// index = the peer's record index) and the links up between them now.
    pub fn trace_overlay(&self) -> (Vec<TracePeer>, Vec<[u32; 2]>) {
        let peers: Vec<(String, SocketAddrV4)> = self
            .plans
            .iter()
            .map(|p| (p.id.clone(), p.advertise.unwrap_or(p.listen)))
            .collect();
        let index: HashMap<SocketAddrV4, u32> = self.trace_index().into_iter().collect();
        let mut links: Vec<[u32; 2]> = Vec::new();
        for (i, p) in self.peers.iter().enumerate().filter(|(_, p)| p.up) {
            let Some(a) = self.plans.get(i).map(|plan| plan.record_as) else {
                continue;
            };
            for n in p.peer.shared.linked() {
                if let Some(&b) = index.get(&n) {
                    if a < b {
                        links.push([a, b]);
                    }
                }
            }
        }
        links.sort_unstable();
        links.dedup();
        (trace_peers(&peers), links)
    }

    /// Every address a peer of this process is known by, with its record index.
    fn trace_index(&self) -> Vec<(SocketAddrV4, u32)> {
        let mut index = Vec::new();
        for plan in &self.plans {
            index.push((plan.listen, plan.record_as));
            if let Some(public) = plan.advertise {
                index.push((public, plan.record_as));
            }
        }
        index
    }

    /// Traces floods from now on into `tracer` (its header written already, e.g. from
    /// [`Network::trace_overlay`]); finish with [`Network::finish_trace`].
    pub fn start_trace(&self, tracer: Tracer) {
        self.start_trace_indexed(tracer, self.trace_index());
    }

    /// [`Network::start_trace`] naming peers by `index` (listening address → trace peer
    /// index): a shard's child names the peers of every process by config index.
    pub fn start_trace_indexed(&self, tracer: Tracer, index: Vec<(SocketAddrV4, u32)>) {
        let live = LiveTrace::new(tracer, index);
        *self.trace.lock().unwrap_or_else(|e| e.into_inner()) = Some(live);
        self.activity.set_tracing(true);
    }

    /// Stops tracing and writes the trace's end (the traced queries' `records`); false
    /// when no trace was on.
    pub async fn finish_trace(&self, records: &[QueryRecord]) -> std::io::Result<bool> {
        self.activity.set_tracing(false);
        if let Some(sink) = &self.sink {
            let (done, folded) = oneshot::channel();
            if sink.send(ToRecorder::Barrier(done)).is_ok() {
                let _ = folded.await;
            }
        }
        let live = self.trace.lock().unwrap_or_else(|e| e.into_inner()).take();
        match live {
            Some(live) => live.finish(records).map(|()| true),
            None => Ok(false),
        }
    }

    /// Waits until no frame has arrived anywhere for `quiet` (counted from the call at the
    /// earliest), or `max` has passed.
    pub async fn settle(&self, quiet: Duration, max: Duration) {
        let started = Instant::now();
        let called = clock::now();
        let quiet_us = quiet.as_micros() as u64;
        loop {
            let last = self.activity.last().max(called);
            let idle = clock::now().saturating_sub(last);
            if idle.0 >= quiet_us || started.elapsed() >= max {
                return;
            }
            let left = Duration::from_micros(quiet_us.saturating_sub(idle.0))
                .max(Duration::from_millis(1));
            tokio::time::sleep(left).await;
        }
    }

    /// Time of the last frame received anywhere in the network.
    pub fn last_activity(&self) -> Time {
        self.activity.last()
    }

    /// Per-query records of every event peers emitted before the call (call after
    /// [`Network::settle`] so that the floods are over).
    pub async fn records(&self) -> Vec<QueryRecord> {
        if let Some(sink) = &self.sink {
            let (done, folded) = oneshot::channel();
            if sink.send(ToRecorder::Barrier(done)).is_ok() {
                let _ = folded.await;
            }
        }
        self.recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .records()
    }

    /// Links with peers of other processes.
    pub fn remote_links(&self) -> &[RemoteLink] {
        &self.remote
    }

    /// Counters summed over every peer.
    pub fn totals(&self) -> NetTotals {
        let mut t = NetTotals::default();
        for p in &self.peers {
            let s = &p.peer.shared;
            t.frames_in += s.frames_in.load(Ordering::Relaxed);
            t.queue_drops += s.queue_drops.load(Ordering::Relaxed);
            t.skipped_frames += s.skipped.load(Ordering::Relaxed);
            t.bad_streams += s.bad_streams.load(Ordering::Relaxed);
            t.failed_handshakes += s.failed_handshakes.load(Ordering::Relaxed);
        }
        t
    }

    /// Stops one peer (Bye to its neighbours, links closed, listener closed), leaving the
    /// others running.
    pub async fn stop_peer(&mut self, index: usize) {
        // A dynamic peer keeps its host cache (a `gnutella peer` saves it to a file), so
        // that started again it rejoins from the hosts it knew.
        let now = clock::now();
        let saved: Vec<(SocketAddrV4, u8, Time)> = match self.peers.get(index) {
            Some(p) if p.up && p.overlay.is_some() => self
                .known_hosts(index)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|h| (h.addr, h.failures, now.saturating_sub(h.last_seen)))
                .collect(),
            _ => Vec::new(),
        };
        if let Some(p) = self.peers.get_mut(index) {
            stop(p).await;
            p.saved_hosts = saved;
        }
    }

    /// Starts stopped peer `index` again as the same peer: on the same address, with the
    /// identity, share and settings `factory` builds for it (the one the network was
    /// started with), dialling its configured links as at the start. Its neighbours'
    /// dialers find it again at their next retry. A dynamic peer starts from the host
    /// cache it had when it stopped, besides the bootstrap hosts.
    pub async fn revive_peer(
        &mut self,
        index: usize,
        factory: &mut dyn PeerFactory,
    ) -> Result<(), NetworkError> {
        let (id, listen) = match (self.peers.get(index), self.plans.get(index)) {
            (Some(p), Some(plan)) if !p.up => (p.id.clone(), plan.listen),
            (Some(p), Some(_)) => return Err(NetworkError::PeerRunning(p.id.clone())),
            _ => return Err(NetworkError::UnknownPeer(index.to_string())),
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| NetworkError::Bind {
                addr: listen,
                source,
            })?;
        let saved = self
            .peers
            .get(index)
            .map(|p| p.saved_hosts.clone())
            .unwrap_or_default();
        let peer = self
            .spawn_peer(index, listener, factory, &saved)
            .ok_or(NetworkError::UnknownPeer(id))?;
        if let Some(slot) = self.peers.get_mut(index) {
            let before = slot.tally_before;
            *slot = LivePeer {
                tally_before: before,
                ..peer
            };
        }
        Ok(())
    }

    /// Each peer's statistics (config order) over all its runs: what its core counted,
    /// its drops, and the bytes `factory`'s HTTP servers sent for it.
    pub async fn peer_stats(&self, factory: &dyn PeerFactory) -> Vec<PeerStats> {
        let mut rows = Vec::with_capacity(self.peers.len());
        for (i, p) in self.peers.iter().enumerate() {
            let mut tally = p.tally_before;
            if p.up {
                tally.merge(&tally_now(p).await);
            }
            rows.push(PeerStats {
                peer: p.id.clone(),
                tally,
                bytes_served: factory.bytes_served(i),
            });
        }
        rows
    }

    /// [`Network::statuses`], each with the peer's statistics ([`Network::peer_stats`]).
    pub async fn statuses_with_stats(&self, factory: &dyn PeerFactory) -> Vec<PeerStatus> {
        let stats = self.peer_stats(factory).await;
        let mut statuses = self.statuses();
        for (status, row) in statuses.iter_mut().zip(stats) {
            status.stats = Some(row);
        }
        statuses
    }

    /// What each peer looks like now: running or not, its degree and neighbours (by config
    /// id when this process knows the peer, else by address).
    pub fn statuses(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|p| {
                let mut neighbours: Vec<String> = if p.up {
                    p.peer
                        .shared
                        .linked()
                        .into_iter()
                        .map(|a| {
                            self.known
                                .get(&a)
                                .map_or(a.to_string(), |id| id.to_string())
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                neighbours.sort();
                PeerStatus {
                    id: p.id.clone(),
                    address: p.listen,
                    up: p.up,
                    degree: neighbours.len(),
                    neighbours,
                    stats: None,
                }
            })
            .collect()
    }

    /// Stops every peer and the recorder.
    pub async fn shutdown(&mut self) {
        for p in &mut self.peers {
            stop(p).await;
        }
        // Give writers a moment to put the Byes on the wire before the runtime goes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.sink = None;
        if let Some(fold) = self.fold.take() {
            fold.abort();
        }
    }
}

/// What a running peer's actor counted so far (zeros if it does not answer).
/// The peer's figures so far. A stuck or swamped peer must not hang a stop, `GET /peers`
/// or `GET /report`: after [`TALLY_WAIT`] its row is left empty (and logged).
async fn tally_now(p: &LivePeer) -> PeerTally {
    let ask = async {
        let (reply, answer) = oneshot::channel();
        if p.peer.tx.send(PeerInput::Tally { reply }).await.is_err() {
            return PeerTally::default();
        }
        answer.await.unwrap_or_default()
    };
    match tokio::time::timeout(TALLY_WAIT, ask).await {
        Ok(tally) => tally,
        Err(_) => {
            log::warn!("a peer did not report its statistics within {TALLY_WAIT:?}");
            PeerTally::default()
        }
    }
}

/// How long a peer has to hand over its statistics.
const TALLY_WAIT: Duration = Duration::from_secs(2);

async fn stop(p: &mut LivePeer) {
    if p.up {
        let last = tally_now(p).await;
        p.tally_before.merge(&last);
    }
    p.up = false;
    let (done, wait) = oneshot::channel();
    if p.peer.tx.send(PeerInput::Shutdown { done }).await.is_ok() {
        let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
    }
    for task in &p.tasks {
        task.abort();
    }
    // An aborted task is dropped (its listener closed, the address free) when its handle
    // resolves.
    for task in p.tasks.drain(..) {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
}

async fn fold_events(
    mut rx: mpsc::UnboundedReceiver<ToRecorder>,
    recorder: Arc<Mutex<Recorder>>,
    tap: Arc<Mutex<Option<mpsc::UnboundedSender<PeerEvent>>>>,
    trace: Arc<Mutex<Option<LiveTrace>>>,
) {
    let mut items = Vec::with_capacity(256);
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut items, 256).await > 0 {
        let mut barriers = Vec::new();
        {
            // Notes and events go to the trace in channel order (each actor's in its own).
            let mut trace = trace.lock().unwrap_or_else(|e| e.into_inner());
            for item in items.drain(..) {
                match item {
                    ToRecorder::Events(events) => {
                        if let Some(live) = trace.as_mut() {
                            for e in events.iter().filter(|e| is_query_event(&e.event)) {
                                live.event(e);
                            }
                        }
                        batch.extend(events)
                    }
                    ToRecorder::Barrier(done) => barriers.push(done),
                    ToRecorder::Trace(note) => {
                        if let Some(live) = trace.as_mut() {
                            live.note(note);
                        }
                    }
                }
            }
        }
        {
            let mut rec = recorder.lock().unwrap_or_else(|e| e.into_inner());
            for e in batch.iter().filter(|e| is_query_event(&e.event)) {
                rec.record(e.peer, e.at, &e.event);
            }
        }
        // Everything sent before a barrier is in this batch or an earlier one.
        for done in barriers {
            let _ = done.send(());
        }
        let tap = tap.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(tap) = tap {
            for e in batch.drain(..) {
                let _ = tap.send(e);
            }
        }
        batch.clear();
    }
}

/// Whether an event belongs in a per-query record: keep-alive Pings and their Pongs
/// carry GUIDs too, but they are not searches.
pub fn is_query_event(event: &Event) -> bool {
    match event {
        Event::Sent { kind, .. } | Event::Dropped { kind, .. } => {
            *kind == kind::QUERY || *kind == kind::QUERY_HIT
        }
        _ => true,
    }
}
