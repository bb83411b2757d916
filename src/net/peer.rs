//! One live peer: an actor task that owns the routing core and carries out its actions.
//!
//! Every input (a link coming up or going down, a frame, a search, a timer) arrives over one
//! channel, so the core is driven from a single task and needs no locks. The listener and
//! the dialers do the handshakes; the links do the byte work; this task only decides
//! nothing and relays: the core makes every routing decision (ARCHITECTURE.md).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::clock;
use super::core::RoutingCore;
use super::discovery::{DialKit, Publisher, TRY_LISTED};
use super::handshake::Negotiated;
use super::link::{LinkEnd, LinkHandle};
use super::link_shaper::{self, LinkShape, LinkShaper};
use super::logs::{self, Clean, KindName, LogNames, Received, SentTo};
use crate::node::{
    ConnId, DropReason, Event, HostEntry, HostSource, LinkRefusal, Output, PeerInfo, Role,
    SearchRequest, Strategy, TierPolicy, Time,
};
use crate::protocol::{Bye, Frame, Guid, Message, Payload};
use crate::trace::TracedCopy;

use super::trace::TraceNote;

/// How many inputs (a read's frames counted one by one) the actor takes before it
/// flushes the core's actions and events.
const INPUT_BATCH: usize = 64;
/// Depth of a peer's input channel: readers wait when the actor falls behind.
const INPUT_DEPTH: usize = 1024;

/// An event of one peer, stamped for the process's recorder.
#[derive(Clone, Debug)]
pub struct PeerEvent {
    pub peer: u32,
    pub at: Time,
    pub event: Event,
}

/// What reaches a process's recorder: peers' events, and barriers that fire once every
/// event sent before them has been folded (so a report misses nothing already emitted).
pub enum ToRecorder {
    /// A peer's events of one turn, in order.
    Events(Vec<PeerEvent>),
    Barrier(oneshot::Sender<()>),
    /// What a flood trace needs besides events (sent only while one is on).
    Trace(TraceNote),
}

/// Where peers send their events (one recorder per process listens).
pub type EventSink = mpsc::UnboundedSender<ToRecorder>;

/// Inputs of the peer actor.
pub enum PeerInput {
    /// A handshake finished; `down` fires when the link goes away (dialers wait on it).
    /// The link's places come with it: dropped unused, they are given back.
    LinkUp {
        conn: ConnId,
        info: PeerInfo,
        link: LinkHandle,
        down: Option<oneshot::Sender<()>>,
        /// Boxed: the remote's headers would make every input as large.
        origin: Box<LinkOrigin>,
        places: LinkPlaces,
    },
    /// What one read of a link brought, in order.
    Frames {
        conn: ConnId,
        frames: Vec<Frame>,
    },
    LinkDown {
        conn: ConnId,
        why: LinkEnd,
    },
    /// A dial reached the real listener at an address an inbound link claimed: that
    /// inbound link was an impostor or a duplicate, and goes.
    Displace {
        conn: ConnId,
    },
    Search {
        request: SearchRequest,
        reply: oneshot::Sender<Guid>,
    },
    /// Say Bye to every neighbour that accepts it, close every link, stop.
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// A dial the core asked for (`Output::Dial`) gave no link: connect or handshake
    /// failed, or we were already linked with `addr`.
    DialFailed {
        addr: SocketAddrV4,
    },
    /// Hosts a handshake named, for the core's host cache: the `X-Try` of a refusal, or
    /// the listening address of a peer we refused for want of room.
    Hosts {
        hosts: Vec<SocketAddrV4>,
        source: HostSource,
    },
    /// What the core counted, with this actor's drops (per-peer statistics).
    Tally {
        reply: oneshot::Sender<crate::node::PeerTally>,
    },
    /// Whether the core still owes a neighbour a QRP table.
    TablesDue {
        reply: oneshot::Sender<bool>,
    },
    /// Every host the core knows (to save them).
    KnownHosts {
        reply: oneshot::Sender<Vec<HostEntry>>,
    },
}

/// How a link came about, for its log lines.
#[derive(Clone, Debug, Default)]
pub struct LinkOrigin {
    /// We dialled it.
    pub outbound: bool,
    /// What its handshake settled.
    pub negotiated: Negotiated,
}

/// Counters and link state of a peer that other tasks read (launcher, listener, dialers).
#[derive(Debug, Default)]
pub struct PeerShared {
    next_conn: AtomicU32,
    /// Listening addresses of neighbours we hold or are building a link with (a dial or
    /// an inbound handshake claims the slot first, so a pair never gets two links), and
    /// which connection holds each.
    linked: Mutex<HashMap<SocketAddrV4, Slot>>,
    /// Links up or admitted and on their way up: what `NetConfig::max_links` bounds.
    degree: AtomicUsize,
    /// Listening addresses of neighbours whose link the actor (and the core) has.
    up: Mutex<HashSet<SocketAddrV4>>,
    /// We were an `auto` ultrapeer and took an ultrapeer's leaf guidance: every
    /// handshake from now on is a leaf's (`LocalInfo::now`). Set only by the actor, when
    /// the guiding link comes up and the core becomes a leaf, so the flag and the core
    /// never disagree.
    became_leaf: std::sync::atomic::AtomicBool,
    /// A handshake that takes leaf guidance is in flight ([`GuidanceClaim`]): at most
    /// one at a time, so two ultrapeers cannot both be told we are their leaf.
    guiding: std::sync::atomic::AtomicBool,
    /// Those of them that are leaves: never named as hosts to try (`X-Try-Ultrapeers`
    /// lists ultrapeers, and a leaf takes no leaf).
    leaves_up: Mutex<HashSet<SocketAddrV4>>,
    /// Hosts the core names in `X-Try` headers, as the actor last published them (empty
    /// in a static overlay): the listener runs outside the actor and reads them here.
    try_hosts: Mutex<Vec<SocketAddrV4>>,
    /// Descriptors dropped by full send queues.
    pub queue_drops: AtomicU64,
    /// Descriptors the core sent on a link that was gone by then, or that the link
    /// model lost (with `queue_drops`, the per-peer statistics' `drops`).
    pub lost_sends: AtomicU64,
    /// Frames the codec skipped (unknown type, malformed payload).
    pub skipped: AtomicU64,
    /// Links closed because the remote sent an undecodable stream.
    pub bad_streams: AtomicU64,
    /// Frames received.
    pub frames_in: AtomicU64,
    /// Handshakes refused or failed, inbound and outbound.
    pub failed_handshakes: AtomicU64,
    /// Leaves and ultrapeers linked or admitted: what the role budgets bound
    /// ([`RolePlace`]).
    tiers: Mutex<TierCounts>,
}

/// How many leaves and ultrapeers a peer holds.
#[derive(Clone, Copy, Debug, Default)]
struct TierCounts {
    leaves: usize,
    ultrapeers: usize,
}

/// Who holds the link slot of a neighbour address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub conn: ConnId,
    pub holder: Holder,
}

/// What kind of connection holds a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// An inbound handshake or link: only the remote's word says it is that neighbour, so
    /// a dial to the address may take the slot over.
    Inbound,
    /// A dial whose handshake is still under way: an inbound handshake from a lower
    /// address than ours takes it over (see [`PeerShared::claim_inbound`]).
    Dialing,
    /// A dial whose handshake went through.
    Dialled,
}

/// What a dial finds when it asks for a neighbour's slot.
#[derive(Debug)]
pub enum DialClaim {
    /// The slot was free and is now the dial's (freed when the claim is dropped).
    Free(SlotClaim),
    /// An inbound link claims the address: dial anyway; the slot is the dial's once its
    /// handshake succeeds ([`PeerShared::take_over`]).
    HeldInbound,
    /// We dialled it ourselves: already linked.
    Held,
}

impl PeerShared {
    pub fn alloc_conn(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    fn linked_set(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddrV4, Slot>> {
        self.linked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn up_set(&self) -> std::sync::MutexGuard<'_, HashSet<SocketAddrV4>> {
        self.up.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hosts to name in an `X-Try` header (see `discovery`); empty in a static overlay.
    pub fn try_hosts(&self) -> Vec<SocketAddrV4> {
        self.try_hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_try_hosts(&self, hosts: Vec<SocketAddrV4>) {
        let mut held = self.try_hosts.lock().unwrap_or_else(|e| e.into_inner());
        if *held != hosts {
            *held = hosts;
        }
    }

    /// Whether the link with the peer listening at `addr` is up (the core knows it).
    pub fn is_linked(&self, addr: &SocketAddrV4) -> bool {
        self.up_set().contains(addr)
    }

    /// Listening addresses of our current neighbours.
    pub fn linked(&self) -> Vec<SocketAddrV4> {
        self.up_set().iter().copied().collect()
    }

    /// Listening addresses of our current neighbours that relay (all but our leaves):
    /// the neighbours worth naming in `X-Try-Ultrapeers`.
    pub fn linked_relays(&self) -> Vec<SocketAddrV4> {
        let leaves = self.leaves_set().clone();
        self.up_set()
            .iter()
            .copied()
            .filter(|a| !leaves.contains(a))
            .collect()
    }

    fn leaves_set(&self) -> std::sync::MutexGuard<'_, HashSet<SocketAddrV4>> {
        self.leaves_up.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims the link slot for `addr` for an inbound handshake, we listening at `own`;
    /// `None` if one exists (no double links per pair).
    ///
    /// Two peers that dial each other at once (a simultaneous open) would each refuse the
    /// other's handshake while its own dial holds the slot, and, retrying on the same
    /// schedule, could refuse each other for ever. So, as libp2p's simultaneous open does
    /// by peer id, the dial of the lower address wins: an inbound handshake from an
    /// address lower than `own` takes the slot over from our dial still shaking hands
    /// (which the remote refuses with 409, its own dial holding its slot; should our dial
    /// get through anyway, it finds the slot gone and closes). From a higher address the
    /// inbound is refused: the remote yields on its side.
    pub fn claim_inbound(
        self: &Arc<Self>,
        addr: SocketAddrV4,
        conn: ConnId,
        own: SocketAddrV4,
    ) -> Option<SlotClaim> {
        let mut set = self.linked_set();
        if let Some(slot) = set.get(&addr) {
            if !(slot.holder == Holder::Dialing && addr < own) {
                return None;
            }
        }
        set.insert(
            addr,
            Slot {
                conn,
                holder: Holder::Inbound,
            },
        );
        Some(SlotClaim::new(self, addr, conn))
    }

    /// Claims the link slot for `addr` for a dial by `conn`.
    pub fn claim_dial(self: &Arc<Self>, addr: SocketAddrV4, conn: ConnId) -> DialClaim {
        let mut set = self.linked_set();
        match set.get(&addr) {
            None => {
                set.insert(
                    addr,
                    Slot {
                        conn,
                        holder: Holder::Dialing,
                    },
                );
                DialClaim::Free(SlotClaim::new(self, addr, conn))
            }
            Some(slot) if slot.holder == Holder::Inbound => DialClaim::HeldInbound,
            Some(_) => DialClaim::Held,
        }
    }

    /// A dial by `conn` past an inbound link's claim succeeded: the slot becomes the
    /// dial's, with the inbound link that held it (which must go). `None` when another
    /// dial holds the slot: this one lost a race and must not come up.
    pub fn take_over(
        self: &Arc<Self>,
        addr: SocketAddrV4,
        conn: ConnId,
    ) -> Option<(SlotClaim, Option<ConnId>)> {
        let mut set = self.linked_set();
        let displaced = match set.get(&addr).copied() {
            Some(slot) if slot.holder == Holder::Inbound => Some(slot.conn),
            Some(_) => return None,
            None => None,
        };
        set.insert(
            addr,
            Slot {
                conn,
                holder: Holder::Dialled,
            },
        );
        Some((SlotClaim::new(self, addr, conn), displaced))
    }

    /// The handshake of the dial holding `claim` succeeded: whether its slot is still its
    /// own (an inbound handshake from a lower address may have taken it over, see
    /// [`PeerShared::claim_inbound`]); if so, the slot stays its own from now on.
    pub fn settle_dial(&self, claim: &SlotClaim) -> bool {
        match self.linked_set().get_mut(&claim.addr) {
            Some(slot) if slot.conn == claim.conn => {
                slot.holder = Holder::Dialled;
                true
            }
            _ => false,
        }
    }

    /// Whether `conn` holds the slot of `addr`.
    pub fn owns(&self, addr: &SocketAddrV4, conn: ConnId) -> bool {
        self.linked_set().get(addr).is_some_and(|s| s.conn == conn)
    }

    /// Frees the slot of `addr` if `conn` still holds it (a displaced link must not free
    /// the slot of the dial that replaced it).
    fn release_slot(&self, addr: &SocketAddrV4, conn: ConnId) {
        let mut set = self.linked_set();
        if set.get(addr).is_some_and(|s| s.conn == conn) {
            set.remove(addr);
        }
    }

    /// Links up or admitted.
    pub fn degree(&self) -> usize {
        self.degree.load(Ordering::SeqCst)
    }

    /// Takes one of `max` link places for an inbound handshake; `None` when all are
    /// taken.
    pub fn reserve_degree(self: &Arc<Self>, max: usize) -> Option<DegreePlace> {
        self.degree
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| {
                (d < max).then_some(d + 1)
            })
            .ok()
            .map(|_| DegreePlace {
                shared: Arc::clone(self),
                counted: true,
            })
    }

    /// Takes a place for a link with a peer of role `theirs`, if `policy` (our role and
    /// budgets) admits one more; given back when the place is dropped.
    pub fn reserve_role(
        self: &Arc<Self>,
        policy: &TierPolicy,
        theirs: Role,
    ) -> Result<RolePlace, LinkRefusal> {
        let mut counts = self.tiers.lock().unwrap_or_else(|e| e.into_inner());
        policy.admit(theirs, counts.leaves, counts.ultrapeers)?;
        match theirs {
            Role::Leaf => counts.leaves += 1,
            Role::Ultrapeer => counts.ultrapeers += 1,
        }
        Ok(RolePlace {
            shared: Arc::clone(self),
            role: theirs,
        })
    }

    /// Whether we took leaf guidance (we are a leaf now, see `became_leaf`).
    pub fn is_leaf_now(&self) -> bool {
        self.became_leaf.load(Ordering::SeqCst)
    }

    /// The right to take an ultrapeer's leaf guidance in one handshake; `None` when we
    /// are a leaf already or another handshake holds it. Dropped (a failed write, a
    /// failed dial, a link not brought up) it is given back and we stay an ultrapeer;
    /// only the actor makes us a leaf (`set_leaf`).
    pub fn claim_guidance(self: &Arc<Self>) -> Option<GuidanceClaim> {
        if self.is_leaf_now() || self.guiding.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(GuidanceClaim {
            shared: Arc::clone(self),
        })
    }

    /// The guiding link came up and the core became a leaf: so do our handshakes.
    fn set_leaf(&self) {
        self.became_leaf.store(true, Ordering::SeqCst);
    }

    /// How many leaves and ultrapeers hold a role place (links up or being admitted).
    pub fn role_counts(&self) -> (usize, usize) {
        let counts = self.tiers.lock().unwrap_or_else(|e| e.into_inner());
        (counts.leaves, counts.ultrapeers)
    }

    /// Takes a link place regardless of the bound (a configured neighbour we dialled).
    pub fn add_degree(self: &Arc<Self>) -> DegreePlace {
        self.degree.fetch_add(1, Ordering::SeqCst);
        DegreePlace {
            shared: Arc::clone(self),
            counted: true,
        }
    }

    /// A link place outside the bound and the count: an ultrapeer's leaf, which its
    /// [`RolePlace`] bounds (`max_leaves`) instead, so leaves never crowd out the
    /// ultrapeer links the degree policy wants.
    pub fn leaf_place(self: &Arc<Self>) -> DegreePlace {
        DegreePlace {
            shared: Arc::clone(self),
            counted: false,
        }
    }
}

/// One of a peer's link places (what `NetConfig::max_links` bounds), given back when
/// dropped: whichever way a handshake or a link ends, the place cannot leak.
#[derive(Debug)]
pub struct DegreePlace {
    shared: Arc<PeerShared>,
    /// Whether it counts in `degree` (all but an ultrapeer's leaves).
    counted: bool,
}

impl Drop for DegreePlace {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let _ = self
            .shared
            .degree
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |d| d.checked_sub(1));
    }
}

/// A handshake's right to take leaf guidance ([`PeerShared::claim_guidance`]), given back
/// when dropped.
#[derive(Debug)]
pub struct GuidanceClaim {
    shared: Arc<PeerShared>,
}

impl Drop for GuidanceClaim {
    fn drop(&mut self) {
        self.shared.guiding.store(false, Ordering::SeqCst);
    }
}

/// A place among a peer's leaves or ultrapeers (what `max_leaves` and
/// `leaf_ultrapeers` bound), given back when dropped.
#[derive(Debug)]
pub struct RolePlace {
    shared: Arc<PeerShared>,
    role: Role,
}

impl RolePlace {
    /// The role whose count this place holds.
    pub fn role(&self) -> Role {
        self.role
    }
}

impl Drop for RolePlace {
    fn drop(&mut self) {
        let mut counts = self.shared.tiers.lock().unwrap_or_else(|e| e.into_inner());
        let count = match self.role {
            Role::Leaf => &mut counts.leaves,
            Role::Ultrapeer => &mut counts.ultrapeers,
        };
        *count = count.saturating_sub(1);
    }
}

/// The link slot of a neighbour's listening address, held by one connection and freed
/// when dropped (if that connection still holds it). Once the link is up the address is
/// marked up too, and no longer up once the claim goes.
#[derive(Debug)]
pub struct SlotClaim {
    shared: Arc<PeerShared>,
    addr: SocketAddrV4,
    conn: ConnId,
    up: bool,
    leaf: bool,
}

impl SlotClaim {
    fn new(shared: &Arc<PeerShared>, addr: SocketAddrV4, conn: ConnId) -> SlotClaim {
        SlotClaim {
            shared: Arc::clone(shared),
            addr,
            conn,
            up: false,
            leaf: false,
        }
    }

    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }

    /// Whether the claim still holds the slot (a dial may have taken it over).
    pub fn holds(&self) -> bool {
        self.shared.owns(&self.addr, self.conn)
    }

    /// The link is up: the address counts among the peer's neighbours (among its
    /// leaves too when `leaf`).
    fn mark_up(&mut self, leaf: bool) {
        self.up = true;
        self.leaf = leaf;
        self.shared.up_set().insert(self.addr);
        if leaf {
            self.shared.leaves_set().insert(self.addr);
        }
    }
}

impl Drop for SlotClaim {
    fn drop(&mut self) {
        self.shared.release_slot(&self.addr, self.conn);
        if self.up {
            // A replacing link announces itself after the displaced one is dropped, and
            // marks the address up again.
            self.shared.up_set().remove(&self.addr);
            if self.leaf {
                self.shared.leaves_set().remove(&self.addr);
            }
        }
    }
}

/// The places a link holds while it lives: released together when it is dropped.
#[derive(Debug)]
pub struct LinkPlaces {
    pub degree: DegreePlace,
    /// The slot of the neighbour's listening address, when it gave one we believe.
    pub slot: Option<SlotClaim>,
    /// Its place among our leaves or ultrapeers.
    pub role: RolePlace,
    /// The link's handshake took the remote's leaf guidance (and holds the right to).
    pub guidance: Option<GuidanceClaim>,
}

/// Process-wide activity clock, to tell when a flood has settled; and whether a flood
/// trace listens (every actor of the process reads both).
#[derive(Debug, Default)]
pub struct Activity {
    last_frame_us: AtomicU64,
    tracing: std::sync::atomic::AtomicBool,
}

impl Activity {
    pub fn touch(&self, now: Time) {
        self.last_frame_us.fetch_max(now.0, Ordering::Relaxed);
    }
    pub fn last(&self) -> Time {
        Time(self.last_frame_us.load(Ordering::Relaxed))
    }
    /// Actors send trace notes ([`TraceNote`]) from now on (or no longer).
    pub fn set_tracing(&self, on: bool) {
        self.tracing.store(on, Ordering::Relaxed);
    }
    /// Whether a flood trace listens.
    pub fn tracing(&self) -> bool {
        self.tracing.load(Ordering::Relaxed)
    }
}

/// A link the actor holds. Dropping it ends the link: the socket closes (the handle's
/// drop), its places are given back, and whoever waits on `down` (a dialer) learns it.
struct LinkState {
    link: LinkHandle,
    last_frame: Time,
    info: PeerInfo,
    down: Option<oneshot::Sender<()>>,
    _places: LinkPlaces,
    /// When it came up, whether we dialled it, and the neighbour's config id if this
    /// process knows it: for the log.
    since: Time,
    outbound: bool,
    name: Option<Arc<str>>,
    /// The link model's latency and loss for this link (none without a model).
    shape: LinkShape,
}

impl Drop for LinkState {
    fn drop(&mut self) {
        if let Some(down) = self.down.take() {
            let _ = down.send(());
        }
    }
}

impl LinkState {
    /// `p5 127.0.0.1:40012 (in, up 1.234 s)`: the neighbour for link lines (without the
    /// time up when `now` is `None`).
    fn describe(&self, now: Option<Time>) -> String {
        let mut out = String::new();
        if let Some(name) = &self.name {
            out.push_str(name);
            out.push(' ');
        }
        match self.link.remote_addr {
            Some(addr) => out.push_str(&addr.to_string()),
            None => out.push('?'),
        }
        let dir = if self.outbound { "out" } else { "in" };
        match now {
            Some(now) => {
                let up = now.saturating_sub(self.since).0 as f64 / 1e6;
                out.push_str(&format!(" ({dir}, up {up:.3} s)"));
            }
            None => out.push_str(&format!(" ({dir})")),
        }
        out
    }

    /// The neighbour in decision lines: its config id, or its address.
    fn label(&self) -> String {
        match (&self.name, self.info.listen_addr, self.link.remote_addr) {
            (Some(name), _, _) => name.to_string(),
            (None, Some(addr), _) | (None, None, Some(addr)) => addr.to_string(),
            (None, None, None) => "?".into(),
        }
    }
}

struct Actor {
    index: u32,
    names: LogNames,
    /// The strategy is random walks: a repeated query is a walker, not a re-forward.
    walking: bool,
    /// Under trace: the descriptor the current input brought, for the decision line.
    received: Option<Received>,
    /// A flood trace was told of the copy the current input brought (and is told when
    /// the input's outputs are drained).
    noted_arrival: bool,
    core: Box<dyn RoutingCore>,
    rx: mpsc::Receiver<PeerInput>,
    links: HashMap<ConnId, LinkState>,
    shared: Arc<PeerShared>,
    activity: Arc<Activity>,
    events: Option<EventSink>,
    stop: watch::Sender<bool>,
    keepalive: Duration,
    /// When the core next wants `on_timeout` (the last drain's `Output::Timeout`).
    next_timeout: Option<Time>,
    /// A dynamic overlay's dials and `X-Try` list (`None` in a static one).
    discovery: Option<Discovery>,
    /// The link model, with this peer's loss generator (`None`: links as they are).
    shaper: Option<(Arc<LinkShaper>, rand_chacha::ChaCha8Rng)>,
    /// Links given messages since the last flush: their writers are woken once, at its
    /// end, so a turn's messages to one link leave in one write.
    to_wake: Vec<ConnId>,
    /// The last Query encoded this turn: a flood sends the same descriptor to every link,
    /// encoded once and shared.
    last_query: Option<(Message, Bytes)>,
    /// Events of this turn, sent to the recorder in one batch.
    pending_events: Vec<PeerEvent>,
}

/// What the actor of a dynamic peer needs to carry out the core's dials and publish its
/// `X-Try` list.
struct Discovery {
    kit: DialKit,
    /// Our own input channel, for the dial tasks; weak, so that it never keeps the
    /// actor's channel open on its own.
    tx: mpsc::WeakSender<PeerInput>,
    publisher: Publisher,
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400)
}

/// The running actor's handle: its input channel and shared counters.
#[derive(Clone)]
pub struct PeerRef {
    pub index: u32,
    /// The peer's config id, for log lines.
    pub name: Arc<str>,
    pub tx: mpsc::Sender<PeerInput>,
    pub shared: Arc<PeerShared>,
    /// Becomes true when the peer stops; listener and dialers watch it.
    pub stopping: watch::Receiver<bool>,
}

/// Starts the actor of peer `index`, named in logs as `names` says. `dials` carries out
/// the dials of a core that runs a dynamic overlay (`None`: a static peer); `shaper`
/// gives its links a modelled latency and loss (`None`: as the network makes them).
#[allow(clippy::too_many_arguments)]
pub fn spawn_actor(
    index: u32,
    names: LogNames,
    core: Box<dyn RoutingCore>,
    activity: Arc<Activity>,
    events: Option<EventSink>,
    keepalive: Duration,
    dials: Option<DialKit>,
    shaper: Option<Arc<LinkShaper>>,
) -> (PeerRef, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(INPUT_DEPTH);
    let (stop, stopping) = watch::channel(false);
    let shared = Arc::new(PeerShared::default());
    let name = names.own.clone();
    let walking = matches!(core.routing().strategy, Strategy::RandomWalk { .. });
    let actor = Actor {
        index,
        names,
        walking,
        received: None,
        noted_arrival: false,
        core,
        rx,
        links: HashMap::new(),
        shared: shared.clone(),
        activity,
        events,
        stop,
        keepalive: keepalive.max(Duration::from_millis(10)),
        next_timeout: None,
        discovery: dials.map(|kit| Discovery {
            kit,
            tx: tx.downgrade(),
            publisher: Publisher::default(),
        }),
        shaper: shaper.map(|s| {
            let rng = s.rng_for(index);
            (s, rng)
        }),
        to_wake: Vec::new(),
        last_query: None,
        pending_events: Vec::new(),
    };
    let task = tokio::spawn(actor.run());
    (
        PeerRef {
            index,
            name,
            tx,
            shared,
            stopping,
        },
        task,
    )
}

impl Actor {
    async fn run(mut self) {
        // A link that carried nothing for a while gets a TTL-1 Ping, so the remote's idle
        // timeout only ever closes links whose peer is really gone.
        let mut keepalive = tokio::time::interval(self.keepalive);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        keepalive.tick().await;
        // What the core wants before any input (a dynamic overlay's first check is due
        // at once).
        self.flush();
        loop {
            let deadline = self.next_timeout;
            let sleep = tokio::time::sleep_until(
                deadline.map_or_else(far_future, |at| clock::instant_of(at).into()),
            );
            let input = tokio::select! {
                input = self.rx.recv() => input,
                _ = sleep, if deadline.is_some() => {
                    self.core.on_timeout(clock::now());
                    self.flush();
                    continue;
                }
                _ = keepalive.tick() => {
                    self.ping_idle_links();
                    self.flush();
                    continue;
                }
            };
            let Some(mut input) = input else { break };
            // Under trace every input is flushed on its own, so its decisions make one
            // line (and a flood trace's notes frame its events); otherwise inputs are
            // batched.
            let tracing = log::log_enabled!(log::Level::Trace) || self.activity.tracing();
            let mut taken = 0;
            loop {
                // A read's frames count one by one: a turn flushes after as many
                // messages as before reads were batched.
                taken += match &input {
                    PeerInput::Frames { frames, .. } => frames.len().max(1),
                    _ => 1,
                };
                if let Some(done) = self.handle(input) {
                    self.flush();
                    self.finish(done);
                    return;
                }
                if tracing {
                    self.flush();
                }
                if taken >= INPUT_BATCH {
                    break;
                }
                match self.rx.try_recv() {
                    Ok(next) => input = next,
                    Err(_) => break,
                }
            }
            self.flush();
        }
        self.finish_links();
    }

    fn ping_idle_links(&mut self) {
        let now = clock::now();
        let quiet = self.keepalive.as_micros() as u64;
        let idle: Vec<ConnId> = self
            .links
            .iter()
            .filter(|(_, l)| now.saturating_sub(l.last_frame).0 >= quiet)
            .map(|(&c, _)| c)
            .collect();
        for conn in idle {
            self.core.send_ping(now, conn, 1);
        }
    }

    /// Handles one input; returns the shutdown reply channel when asked to stop.
    fn handle(&mut self, input: PeerInput) -> Option<oneshot::Sender<()>> {
        let now = clock::now();
        match input {
            PeerInput::LinkUp {
                conn,
                info,
                link,
                down,
                origin,
                mut places,
            } => {
                if let Some(slot) = places.slot.as_mut() {
                    if !slot.holds() {
                        // A dial to that address won the slot meanwhile; this one goes
                        // (its socket and places with it).
                        log::debug!(
                            "{}: link {} not brought up: a dial to {} holds its slot",
                            self.names.own,
                            link.remote_addr.map_or("?".into(), |a| a.to_string()),
                            slot.addr()
                        );
                        if let Some(down) = down {
                            let _ = down.send(());
                        }
                        return None;
                    }
                    slot.mark_up(places.role.role == Role::Leaf);
                }
                let shape = match &self.shaper {
                    Some((shaper, _)) => {
                        shaper.shape(self.index, info.listen_addr.or(link.remote_addr))
                    }
                    None => LinkShape::default(),
                };
                link.set_delay(shape.delay);
                if origin.negotiated.became_leaf {
                    log::info!(
                        "{}: becoming a leaf of {}, as it asked (X-Ultrapeer-Needed: False)",
                        self.names.own,
                        link.remote_addr.map_or("?".into(), |a| a.to_string())
                    );
                    self.shared.set_leaf();
                    places.guidance = None;
                    self.core.become_leaf(now);
                } else if self.shared.is_leaf_now() && !origin.negotiated.as_leaf {
                    // Its handshake began before we became a leaf and presented us as an
                    // ultrapeer: the remote would take us for one. It goes, as the links
                    // we held then went (`Node::become_leaf`).
                    log::debug!(
                        "{}: link {} not brought up: shaken hands as an ultrapeer, now a leaf",
                        self.names.own,
                        link.remote_addr.map_or("?".into(), |a| a.to_string())
                    );
                    if let Some(down) = down {
                        let _ = down.send(());
                    }
                    return None;
                }
                self.core.on_connected(now, conn, info.clone());
                self.core
                    .on_link_capabilities(now, conn, &origin.negotiated.remote);
                let suggested = &origin.negotiated.remote.try_hosts;
                if !suggested.is_empty() {
                    self.core.learn_hosts(now, suggested, HostSource::XTry);
                }
                let state = LinkState {
                    since: now,
                    outbound: origin.outbound,
                    name: self.names.of(info.listen_addr),
                    link,
                    last_frame: now,
                    info,
                    down,
                    _places: places,
                    shape,
                };
                if log::log_enabled!(log::Level::Debug) {
                    let n = &origin.negotiated;
                    log::debug!(
                        "{}: link up {} {}",
                        self.names.own,
                        state.describe(None),
                        logs::handshake_fields(
                            &n.remote,
                            state.info.listen_addr,
                            n.deflate_in,
                            n.deflate_out
                        )
                    );
                }
                self.links.insert(conn, state);
            }
            PeerInput::Frames { conn, frames } => {
                let tracing = log::log_enabled!(log::Level::Trace) || self.activity.tracing();
                let last = frames.len().saturating_sub(1);
                for (i, frame) in frames.into_iter().enumerate() {
                    self.handle_frame(now, conn, frame);
                    // Under trace every frame is flushed on its own (see `run`).
                    if tracing && i < last {
                        self.flush();
                    }
                }
            }
            PeerInput::LinkDown { conn, why } => {
                if why.is_bad_stream() {
                    self.shared.bad_streams.fetch_add(1, Ordering::Relaxed);
                }
                self.drop_link(now, conn, why);
            }
            PeerInput::Displace { conn } => {
                self.drop_link(now, conn, LinkEnd::Displaced);
            }
            PeerInput::Search { request, reply } => {
                let guid = self.core.start_search(now, &request);
                let _ = reply.send(guid);
            }
            PeerInput::Shutdown { done } => return Some(done),
            PeerInput::DialFailed { addr } => self.core.on_dial_failed(now, addr),
            PeerInput::Hosts { hosts, source } => self.core.learn_hosts(now, &hosts, source),
            PeerInput::Tally { reply } => {
                let mut tally = self.core.tally();
                tally.drops = self.shared.queue_drops.load(Ordering::Relaxed)
                    + self.shared.lost_sends.load(Ordering::Relaxed);
                let _ = reply.send(tally);
            }
            PeerInput::TablesDue { reply } => {
                let _ = reply.send(self.core.tables_due());
            }
            PeerInput::KnownHosts { reply } => {
                let _ = reply.send(self.core.known_hosts());
            }
        }
        None
    }

    /// One frame a link read.
    fn handle_frame(&mut self, now: Time, conn: ConnId, frame: Frame) {
        let Some(state) = self.links.get_mut(&conn) else {
            // Read before its link went down, never handled: a lost copy.
            if let Frame::Message(msg) = frame {
                self.emit(
                    now,
                    Event::Dropped {
                        guid: msg.guid,
                        kind: msg.payload.kind(),
                        reason: DropReason::LinkDown,
                    },
                );
            }
            return;
        };
        state.last_frame = now;
        self.shared.frames_in.fetch_add(1, Ordering::Relaxed);
        self.activity.touch(now);
        match frame {
            Frame::Message(msg) => {
                let msg = advertise_on(msg, state.link.remote_addr);
                let bye = match &msg.payload {
                    Payload::Bye(bye) => Some(LinkEnd::Bye {
                        code: bye.code,
                        reason: bye.message.clone(),
                    }),
                    _ => None,
                };
                if bye.is_none() && log::log_enabled!(log::Level::Trace) {
                    self.received = Some(Received::of(&msg, state.label()));
                }
                if self.activity.tracing() {
                    let from = state.info.listen_addr.or(state.link.remote_addr);
                    if let Some(copy) = TracedCopy::of(&msg, None, None) {
                        self.note(TraceNote::Arrival {
                            peer: self.index,
                            from,
                            copy,
                        });
                        self.noted_arrival = true;
                    }
                }
                self.core.on_message(now, conn, msg);
                if let Some(why) = bye {
                    // The sender closes after a Bye; do not wait for its FIN.
                    self.drop_link(now, conn, why);
                }
            }
            Frame::Skipped { header, reason } => {
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "{}: skipped {} {} from {}: {}",
                    self.names.own,
                    KindName(header.kind),
                    header.guid,
                    state.label(),
                    Clean(&reason)
                );
                self.core.on_skipped(now, conn, header);
            }
        }
    }

    /// Carries out a dial the core asked for; without a dial kit (a static peer, whose
    /// core never dials) it is answered as failed at once.
    fn dial(&mut self, addr: SocketAddrV4) -> bool {
        let Some(d) = &self.discovery else {
            log::debug!(
                "{}: dial of {addr}: no dynamic overlay here",
                self.names.own
            );
            return false;
        };
        let Some(tx) = d.tx.upgrade() else {
            return true;
        };
        let peer = PeerRef {
            index: self.index,
            name: self.names.own.clone(),
            tx,
            shared: self.shared.clone(),
            stopping: self.stop.subscribe(),
        };
        d.kit.dial(addr, peer);
        true
    }

    /// Publishes the core's `X-Try` list for the listener when it may have changed.
    fn publish(&mut self) {
        let degree = self.links.len();
        let Some(d) = self.discovery.as_mut() else {
            return;
        };
        if d.publisher.due(degree) {
            self.shared.set_try_hosts(self.core.try_hosts(TRY_LISTED));
        }
    }

    fn drop_link(&mut self, now: Time, conn: ConnId, why: LinkEnd) {
        if let Some(state) = self.links.remove(&conn) {
            log::debug!(
                "{}: link down {}: {why}",
                self.names.own,
                state.describe(Some(now))
            );
            drop(state);
            self.core.on_disconnected(now, conn);
        }
    }

    /// Drains the core after an input (its drain rule): carries out sends and closes,
    /// passes events on, keeps the next timeout, and under trace logs what the input led
    /// to.
    fn flush(&mut self) {
        // Events are stamped before the sends go out: once a send is queued another
        // thread may carry the flood on, and a stamp taken after that (this thread may be
        // preempted in between) would make a reply seem to come back in no time.
        let at = clock::now();
        let tracing = log::log_enabled!(log::Level::Trace);
        // Under trace: where each descriptor went and what happened, for the decision lines.
        let mut sends: Vec<SentTo> = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        let noting = self.activity.tracing();
        loop {
            match self.core.poll_output() {
                Output::Send { to, msg } => {
                    if noting {
                        // Before it goes on the wire: the arrival at the far end is noted
                        // after it in the channel.
                        if let Some(copy) = TracedCopy::of(&msg, None, None) {
                            let to = self
                                .links
                                .get(&to)
                                .and_then(|s| s.info.listen_addr.or(s.link.remote_addr));
                            self.note(TraceNote::Sent {
                                peer: self.index,
                                at,
                                to,
                                copy,
                            });
                        }
                    }
                    if let (true, Some(state)) = (tracing, self.links.get(&to)) {
                        sends.push(SentTo {
                            guid: msg.guid,
                            kind: msg.payload.kind(),
                            to: state.label(),
                        });
                    }
                    self.send(at, to, msg, tracing);
                }
                Output::Close { conn, bye } => self.close(at, conn, bye),
                Output::Event(event) => {
                    if tracing {
                        events.push(event.clone());
                    }
                    self.emit(at, event);
                }
                // Not carried over the live network; the core has a fallback for each.
                Output::Request(request) => {
                    log::debug!(
                        "{}: core request not handled live: {request:?}",
                        self.names.own
                    );
                }
                Output::Dial(addr) => {
                    if !self.dial(addr) {
                        // Answered at once, so the core does not wait out its timeout.
                        self.core.on_dial_failed(at, addr);
                    }
                }
                Output::Timeout(next) => {
                    self.next_timeout = next;
                    break;
                }
            }
        }
        // The turn's events reach the recorder before its messages can reach anyone.
        self.send_events();
        // The turn's messages leave: one wake-up (and so one write) per link.
        self.last_query = None;
        for conn in self.to_wake.drain(..) {
            if let Some(state) = self.links.get(&conn) {
                state.link.wake();
            }
        }
        self.publish();
        if std::mem::take(&mut self.noted_arrival) {
            self.note(TraceNote::Done { peer: self.index });
        }
        self.send_events();
        if tracing {
            let received = self.received.take();
            for line in logs::describe(received.as_ref(), &events, &sends, self.walking) {
                log::trace!("{}: {line}", self.names.own);
            }
        }
    }

    /// Queues one copy on its link; a copy for a link gone or dropped by the full queue
    /// is lost to its query.
    fn send(&mut self, at: Time, to: ConnId, msg: Message, tracing: bool) {
        let Some(state) = self.links.get(&to) else {
            // The link went down since the core chose it: the copy is lost.
            self.shared.lost_sends.fetch_add(1, Ordering::Relaxed);
            self.emit(
                at,
                Event::Dropped {
                    guid: msg.guid,
                    kind: msg.payload.kind(),
                    reason: DropReason::LinkDown,
                },
            );
            return;
        };
        if let Some((_, rng)) = self.shaper.as_mut() {
            if link_shaper::lost(&state.shape, rng) {
                // Lost on the modelled link, as the simulator loses it.
                self.shared.lost_sends.fetch_add(1, Ordering::Relaxed);
                if tracing {
                    log::trace!(
                        "{}: {} {} to {} lost on the link",
                        self.names.own,
                        KindName(msg.payload.kind()),
                        msg.guid,
                        state.label()
                    );
                }
                self.emit(
                    at,
                    Event::Dropped {
                        guid: msg.guid,
                        kind: msg.payload.kind(),
                        reason: DropReason::LinkLoss,
                    },
                );
                return;
            }
        }
        let msg = advertise_on(msg, state.link.local_addr);
        let bytes = match (&self.last_query, &msg.payload) {
            // The same descriptor as the last one queued: a flood's next copy.
            (Some((last, bytes)), Payload::Query(q))
                if matches!(&last.payload, Payload::Query(lq) if Arc::ptr_eq(lq, q))
                    && (last.guid, last.ttl, last.hops) == (msg.guid, msg.ttl, msg.hops) =>
            {
                bytes.clone()
            }
            _ => {
                let bytes = msg.to_bytes();
                if matches!(msg.payload, Payload::Query(_)) {
                    self.last_query = Some((msg.clone(), bytes.clone()));
                }
                bytes
            }
        };
        let drops = state.link.queue(msg.guid, msg.payload.kind(), bytes);
        if self.to_wake.last() != Some(&to) && !self.to_wake.contains(&to) {
            self.to_wake.push(to);
        }
        if drops.is_empty() {
            return;
        }
        self.shared
            .queue_drops
            .fetch_add(drops.len() as u64, Ordering::Relaxed);
        let label = state.label();
        for d in drops {
            if tracing {
                log::trace!(
                    "{}: {} {} to {} dropped: send queue full",
                    self.names.own,
                    KindName(d.kind),
                    d.guid,
                    label
                );
            }
            self.emit(
                at,
                Event::Dropped {
                    guid: d.guid,
                    kind: d.kind,
                    reason: DropReason::QueueFull,
                },
            );
        }
    }

    /// Closes a link the core asked to close (it already forgot the link).
    fn close(&mut self, at: Time, conn: ConnId, bye: Option<Bye>) {
        if let (Some(bye), Some(state)) = (bye, self.links.get(&conn)) {
            if state.info.accepts_bye {
                state.link.send(&bye_message(bye));
            }
        }
        if let Some(state) = self.links.remove(&conn) {
            log::debug!(
                "{}: link down {}: {}",
                self.names.own,
                state.describe(Some(at)),
                LinkEnd::ClosedByCore
            );
        }
    }

    fn note(&mut self, note: TraceNote) {
        // After the events before it: the trace takes both in channel order.
        self.send_events();
        if let Some(sink) = &self.events {
            let _ = sink.send(ToRecorder::Trace(note));
        }
    }

    /// Keeps an event for the recorder; the turn's events go in one batch when it is
    /// flushed ([`Actor::send_events`]).
    fn emit(&mut self, at: Time, event: Event) {
        if self.events.is_some() {
            self.pending_events.push(PeerEvent {
                peer: self.index,
                at,
                event,
            });
        }
    }

    fn send_events(&mut self) {
        if self.pending_events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.pending_events);
        if let Some(sink) = &self.events {
            let _ = sink.send(ToRecorder::Events(events));
        }
    }

    fn finish(mut self, done: oneshot::Sender<()>) {
        let _ = self.stop.send(true);
        for state in self.links.values() {
            if state.info.accepts_bye {
                state.link.send(&bye_message(Bye {
                    code: 200,
                    message: "Shutting down".into(),
                }));
            }
        }
        self.finish_links();
        let _ = done.send(());
    }

    fn finish_links(&mut self) {
        let _ = self.stop.send(true);
        let now = clock::now();
        let conns: Vec<ConnId> = self.links.keys().copied().collect();
        for conn in conns {
            self.drop_link(now, conn, LinkEnd::Shutdown);
        }
        self.flush();
    }
}

/// A hit or pong whose origin gave no address (a peer listening on 0.0.0.0 cannot know
/// which of its addresses others reach) gets the address of the link it crosses first:
/// ours on the way out of its origin (hops 0), the sender's socket address on the way in.
/// Nobody could download from or connect to 0.0.0.0, and LimeWire drops such hits.
fn advertise_on(mut msg: Message, link_addr: Option<SocketAddrV4>) -> Message {
    let Some(addr) = link_addr else { return msg };
    if msg.hops != 0 || addr.ip().is_unspecified() {
        return msg;
    }
    match &mut msg.payload {
        Payload::QueryHit(hit) if hit.ip.is_unspecified() => {
            std::sync::Arc::make_mut(hit).ip = *addr.ip();
        }
        Payload::Pong(pong) if pong.ip.is_unspecified() => pong.ip = *addr.ip(),
        _ => {}
    }
    msg
}

/// A Bye descriptor: link-local, hops 0, TTL 1 (PROTOCOL.md §2.6).
pub fn bye_message(bye: Bye) -> Message {
    let mut guid = [0u8; 16];
    // Bye is never routed, so its GUID need not be unique; mark it for logs.
    guid[..3].copy_from_slice(b"BYE");
    Message {
        guid: Guid(guid),
        ttl: 1,
        hops: 0,
        payload: Payload::Bye(bye),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn link_places_come_back_when_their_guards_drop() {
        let shared = Arc::new(PeerShared::default());
        let a = shared.reserve_degree(2).expect("a place");
        let b = shared.reserve_degree(2).expect("a second place");
        assert!(shared.reserve_degree(2).is_none(), "the bound holds");
        drop(a);
        assert_eq!(shared.degree(), 1);
        let forced = shared.add_degree();
        assert_eq!(shared.degree(), 2);
        drop((b, forced));
        assert_eq!(shared.degree(), 0);
    }

    #[test]
    fn leaf_guidance_that_fails_before_its_link_is_up_leaves_us_an_ultrapeer() {
        let shared = Arc::new(PeerShared::default());
        let first = shared.claim_guidance().expect("nobody else took guidance");
        assert!(
            shared.claim_guidance().is_none(),
            "one guided handshake at a time"
        );
        assert!(!shared.is_leaf_now(), "not a leaf before the link is up");
        // The final 200 could not be written, the dial lost its slot, ...
        drop(first);
        assert!(
            !shared.is_leaf_now(),
            "later handshakes still say X-Ultrapeer: True"
        );
        let second = shared
            .claim_guidance()
            .expect("guidance can be taken again");
        // The actor brought the link up and made the core a leaf.
        shared.set_leaf();
        drop(second);
        assert!(shared.is_leaf_now());
        assert!(
            shared.claim_guidance().is_none(),
            "a leaf takes no more guidance"
        );
    }

    #[test]
    fn in_a_simultaneous_open_the_dial_of_the_lower_address_wins() {
        let own = addr(5);
        let shared = Arc::new(PeerShared::default());
        let dial = |a: u16, c: u32| match shared.claim_dial(addr(a), ConnId(c)) {
            DialClaim::Free(claim) => claim,
            other => panic!("slot of {a} not free: {other:?}"),
        };
        // We dial a higher address as it dials us: ours wins, its handshake is refused.
        let to_higher = dial(9, 1);
        assert!(shared.claim_inbound(addr(9), ConnId(2), own).is_none());
        assert!(shared.settle_dial(&to_higher) && to_higher.holds());
        // We dial a lower address as it dials us: its handshake takes the slot, and our
        // dial, should the remote take it anyway, finds it gone.
        let to_lower = dial(1, 3);
        let inbound = shared
            .claim_inbound(addr(1), ConnId(4), own)
            .expect("the lower address's dial wins");
        assert!(!shared.settle_dial(&to_lower));
        drop(to_lower);
        assert!(inbound.holds(), "the losing dial frees nothing");
        // A dial whose handshake went through is settled: nobody takes its slot.
        let settled = dial(2, 5);
        assert!(shared.settle_dial(&settled));
        assert!(shared.claim_inbound(addr(2), ConnId(6), own).is_none());
        assert!(settled.holds());
    }

    #[test]
    fn a_slot_is_freed_by_its_holder_only_and_marked_up_while_up() {
        let shared = Arc::new(PeerShared::default());
        let own = addr(9);
        let mut inbound = shared
            .claim_inbound(addr(1), ConnId(1), own)
            .expect("free slot");
        assert!(shared.claim_inbound(addr(1), ConnId(2), own).is_none());
        inbound.mark_up(false);
        assert!(shared.is_linked(&addr(1)));
        // A dial takes the slot over: the displaced claim frees nothing when it goes.
        assert!(matches!(
            shared.claim_dial(addr(1), ConnId(3)),
            DialClaim::HeldInbound
        ));
        let (mut dial, displaced) = shared.take_over(addr(1), ConnId(3)).expect("taken");
        assert_eq!(displaced, Some(ConnId(1)));
        assert!(!inbound.holds() && dial.holds());
        drop(inbound);
        assert!(shared.owns(&addr(1), ConnId(3)));
        dial.mark_up(false);
        assert!(matches!(
            shared.claim_dial(addr(1), ConnId(4)),
            DialClaim::Held
        ));
        drop(dial);
        assert!(!shared.owns(&addr(1), ConnId(3)) && !shared.is_linked(&addr(1)));
        assert!(matches!(
            shared.claim_dial(addr(1), ConnId(5)),
            DialClaim::Free(_)
        ));
    }
}
