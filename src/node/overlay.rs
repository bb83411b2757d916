//! The degree policy of a dynamic overlay: keep between `min_degree` and `max_degree`
//! links, dialling hosts from the host cache when below the minimum and learning new
//! hosts from neighbours when the cache runs dry.
//!
//! A static overlay (the default) links exactly what its topology config lists and this
//! module is not used: a node without an `Overlay` holds no host cache and asks for no
//! timer, so runs that do not use discovery pay nothing for it. In a dynamic overlay a
//! peer may start knowing one bootstrap address; it dials it, asks it for Pongs (a Ping
//! with TTL 4, answered from the pong cache: PROTOCOL.md §2.1), learns hosts from them,
//! from hits and from `X-Try` headers, and dials those until it has `min_degree` links.
//! When a neighbour leaves, a peer below `min_degree` dials a replacement at once; above
//! it, a peer replaces the lost link with probability ½ (drawn from its seeded RNG). A
//! link has two ends: if every end that lost a link replaced it, each replacement would
//! land a link on a peer that lost nothing, and the survivors of a departure would end
//! with more links than before (measured: a mean degree of 6.8 after 30 % of 100 peers
//! left, against 5.4 before), drifting towards `max_degree` under churn. With ½ the
//! survivors' total degree comes back, on average, to what it was; with replacements
//! only below the minimum, it would stay short (4.7). Inbound links
//! beyond `max_degree` are the driver's to refuse (`503` with `X-Try`, naming hosts from
//! [`Overlay::try_hosts`]), as gtk-gnutella and LimeWire do when their slots are full.
//!
//! The node asks its driver to dial with `Output::Dial(addr)`; the driver answers
//! with the link coming up (`on_connected`, whose `listen_addr` is the dialled address) or
//! with `on_dial_failed(addr)`. A dial the driver never answers counts as failed after
//! `DIAL_TIMEOUT`, so a driver that drops one cannot wedge the policy.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use serde::{Deserialize, Serialize};

use super::host_cache::{HostCache, HostSource};
use super::rng::NodeRng;
use super::types::Time;

/// How often a node below its minimum degree tries again.
pub const CHECK_INTERVAL: Time = Time::from_secs(1);
/// How often a node at its degree looks at its host cache (and refreshes it when thin).
pub const IDLE_CHECK_INTERVAL: Time = Time::from_secs(30);
/// A dial not answered by then counts as failed (LimeWire's connect timeout is 6 s, its
/// handshake timeout 8 s more).
pub const DIAL_TIMEOUT: Time = Time::from_secs(15);
/// Most dials in flight at once.
pub const MAX_DIALS: usize = 4;
/// Shortest time between two rounds of Pings asking neighbours for hosts.
pub const ASK_INTERVAL: Time = Time::from_secs(5);

/// Whether links come only from the config or are also discovered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlayMode {
    /// Exactly the configured links, redialled when they drop.
    #[default]
    Static,
    /// Configured links and bootstrap hosts are a start; the degree policy keeps
    /// `min_degree..=max_degree` links from the host cache.
    Dynamic,
}

/// A config's `overlay` block (without its `bootstrap` list, which names peers and is
/// resolved to addresses by the topology layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverlayConfig {
    pub mode: OverlayMode,
    /// Below this many links a dynamic peer dials hosts from its cache.
    pub min_degree: usize,
    /// Above this many links a dynamic peer refuses inbound handshakes (503 + X-Try).
    pub max_degree: usize,
    /// Most hosts kept in the host cache.
    pub host_cache: usize,
}

impl Default for OverlayConfig {
    fn default() -> Self {
        OverlayConfig {
            mode: OverlayMode::Static,
            min_degree: 4,
            max_degree: 8,
            host_cache: 100,
        }
    }
}

impl OverlayConfig {
    pub fn is_dynamic(&self) -> bool {
        self.mode == OverlayMode::Dynamic
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.min_degree == 0 {
            return Err("overlay.min_degree must be at least 1".into());
        }
        if self.max_degree < self.min_degree {
            return Err(format!(
                "overlay.max_degree ({}) must be at least min_degree ({})",
                self.max_degree, self.min_degree
            ));
        }
        if self.max_degree > 1000 {
            return Err(format!(
                "overlay.max_degree ({}) is over 1000: no servent keeps that many links",
                self.max_degree
            ));
        }
        if self.host_cache == 0 {
            return Err("overlay.host_cache must be at least 1".into());
        }
        Ok(())
    }
}

/// What a maintenance round wants of the node besides dials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Ping the neighbours (TTL 4) to learn hosts from their Pongs.
    pub ask_neighbours: bool,
}

/// The degree policy's state: the host cache, dials in flight, the next check.
#[derive(Clone, Debug)]
pub struct Overlay {
    config: OverlayConfig,
    hosts: HostCache,
    /// Dials asked of the driver and not answered yet, with when they were asked.
    dialing: Vec<(SocketAddrV4, Time)>,
    /// Dials not yet polled by the driver.
    queued: VecDeque<SocketAddrV4>,
    next_check: Time,
    asked_at: Option<Time>,
    /// The degree to get back to after losing neighbours (0: none owed); the policy dials
    /// up to the larger of this and `min_degree`.
    keep: usize,
}

impl Overlay {
    /// The policy of `config`; the first check is due at once.
    pub fn new(config: OverlayConfig) -> Overlay {
        Overlay {
            config,
            hosts: HostCache::new(config.host_cache),
            dialing: Vec::new(),
            queued: VecDeque::new(),
            next_check: Time::ZERO,
            asked_at: None,
            keep: 0,
        }
    }

    pub fn config(&self) -> &OverlayConfig {
        &self.config
    }

    pub fn hosts(&self) -> &HostCache {
        &self.hosts
    }

    /// Heard of `addr` (a Pong, a hit, an `X-Try`, the user).
    pub fn learn(&mut self, now: Time, addr: SocketAddrV4, source: HostSource) {
        self.hosts.learn(now, addr, source);
    }

    /// Adds a host from a saved file.
    pub fn restore(&mut self, now: Time, addr: SocketAddrV4, failures: u8, age: Time) {
        self.hosts.restore(now, addr, failures, age);
    }

    /// Dials in flight (asked and not answered).
    pub fn dialing(&self) -> usize {
        self.dialing.len()
    }

    /// When the policy next wants a check.
    pub fn next_timeout(&self) -> Time {
        self.next_check
    }

    /// The next dial for the driver.
    pub fn pop_dial(&mut self) -> Option<SocketAddrV4> {
        self.queued.pop_front()
    }

    /// A link came up with the host listening at `addr` (if known), making `degree`.
    pub fn linked(&mut self, now: Time, addr: Option<SocketAddrV4>, degree: usize) {
        if degree >= self.keep {
            self.keep = 0;
        }
        if let Some(addr) = addr {
            self.dialing.retain(|(a, _)| *a != addr);
            self.queued.retain(|a| *a != addr);
            self.hosts.connected(now, addr);
        }
    }

    /// A link went down, leaving `degree` links: with probability ½ the link is owed
    /// (the degree before, up to `max_degree`, becomes the target; see the module
    /// documentation), and below the target the check comes at once.
    pub fn unlinked(&mut self, now: Time, degree: usize, rng: &mut NodeRng) {
        if rng.below(2) == 0 {
            self.keep = self.keep.max(degree + 1).min(self.config.max_degree);
        }
        if degree < self.target() {
            self.next_check = self.next_check.min(now);
        }
    }

    /// How many links the policy dials up to now: `min_degree`, or the degree owed after
    /// a loss when larger.
    pub fn target(&self) -> usize {
        self.config.min_degree.max(self.keep)
    }

    /// The driver could not link with `addr`.
    pub fn dial_failed(&mut self, now: Time, addr: SocketAddrV4) {
        let was_dialing = self.dialing.len();
        self.dialing.retain(|(a, _)| *a != addr);
        if self.dialing.len() < was_dialing {
            self.hosts.failed(now, addr);
            self.next_check = self.next_check.min(now);
        }
    }

    /// Caps the policy at `most` links (a peer that became a leaf keeps its
    /// `leaf_ultrapeers` only): dials owed beyond it are forgotten, and a check comes at
    /// once so the new target holds from now on.
    pub fn limit_degree(&mut self, now: Time, most: usize) {
        self.config.max_degree = self.config.max_degree.min(most);
        self.config.min_degree = self.config.min_degree.min(most);
        self.keep = self.keep.min(self.config.max_degree);
        self.next_check = self.next_check.min(now);
    }

    /// Whether an inbound link would be refused (the driver answers it 503).
    pub fn full(&self, degree: usize) -> bool {
        degree >= self.config.max_degree
    }

    /// Whether a link that just came up at `now` should be asked for hosts at once (a
    /// Ping with the refill TTL), whatever the time since the last round of asking: the
    /// node is below its target `degree`, or its cache is thin. gtk-gnutella's
    /// `pcache_outgoing_connection` pings a new link so when it needs connections or its
    /// host cache is low. Without this, a peer that joined a moment ago knows only its
    /// neighbours until the next round, and if they all leave it has nobody to dial.
    /// An ask counts as a round: the next comes [`ASK_INTERVAL`] later, so the new link
    /// does not get a second Ping that its end would throttle.
    pub fn asks_new_link(
        &mut self,
        now: Time,
        degree: usize,
        linked: impl Fn(SocketAddrV4) -> bool,
    ) -> bool {
        let ask = degree < self.target() || self.thin(linked);
        if ask {
            self.asked_at = Some(now);
        }
        ask
    }

    /// Fewer than twice the target of hosts known besides the neighbours (`linked`):
    /// too few spares to replace the links should the neighbours leave together.
    fn thin(&self, linked: impl Fn(SocketAddrV4) -> bool) -> bool {
        let spares = self.hosts.iter().filter(|e| !linked(e.addr)).count();
        spares < 2 * self.target()
    }

    /// Hosts to name in an `X-Try` header, not `own` or a neighbour.
    pub fn try_hosts(&self, n: usize, own: SocketAddrV4) -> Vec<SocketAddrV4> {
        self.hosts.try_list(n, |a| a == own)
    }

    /// The periodic check: expire unanswered dials, dial hosts up to the minimum degree,
    /// and say whether to ask neighbours for more hosts. `linked` says whether an
    /// address is ourselves or a current neighbour (never dialled).
    pub fn maintain(
        &mut self,
        now: Time,
        degree: usize,
        rng: &mut NodeRng,
        linked: impl Fn(SocketAddrV4) -> bool,
    ) -> Maintenance {
        if now < self.next_check {
            return Maintenance::default();
        }
        let (expired, live): (Vec<_>, Vec<_>) = self
            .dialing
            .drain(..)
            .partition(|(_, at)| now.saturating_sub(*at) >= DIAL_TIMEOUT);
        self.dialing = live;
        for (addr, _) in expired {
            self.hosts.failed(now, addr);
        }
        if degree >= self.keep {
            self.keep = 0;
        }
        let min = self.target();
        let short = min.saturating_sub(degree + self.dialing.len());
        let room = MAX_DIALS.saturating_sub(self.dialing.len());
        let want = short.min(room);
        let mut picked = Vec::new();
        if want > 0 {
            let dialing = &self.dialing;
            picked = self.hosts.pick(now, want, rng, |a| {
                linked(a) || dialing.iter().any(|(d, _)| *d == a)
            });
            for &addr in &picked {
                self.dialing.push((addr, now));
                self.queued.push_back(addr);
            }
        }
        // Too few hosts to reach the minimum (or a thin cache at full degree): ask the
        // neighbours, whose Pongs refill the cache.
        let thin = self.thin(&linked);
        let asking_due = match self.asked_at {
            None => true,
            Some(at) => now.saturating_sub(at) >= ASK_INTERVAL,
        };
        let ask = degree > 0 && asking_due && (picked.len() < want || thin);
        if ask {
            self.asked_at = Some(now);
        }
        let below = degree + self.dialing.len() < min || degree < min;
        let wait = if below {
            CHECK_INTERVAL
        } else {
            IDLE_CHECK_INTERVAL
        };
        self.next_check = Time(now.0.saturating_add(wait.0));
        Maintenance {
            ask_neighbours: ask,
        }
    }

    /// Heap bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.hosts.heap_bytes()
            + self.dialing.capacity() * std::mem::size_of::<(SocketAddrV4, Time)>()
            + self.queued.capacity() * std::mem::size_of::<SocketAddrV4>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn host(last: u8) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), 6346)
    }

    fn dynamic(min: usize, max: usize) -> OverlayConfig {
        OverlayConfig {
            mode: OverlayMode::Dynamic,
            min_degree: min,
            max_degree: max,
            host_cache: 50,
        }
    }

    fn drain(o: &mut Overlay) -> Vec<SocketAddrV4> {
        std::iter::from_fn(|| o.pop_dial()).collect()
    }

    #[test]
    fn below_the_minimum_it_dials_just_enough_distinct_unlinked_hosts() {
        let mut o = Overlay::new(dynamic(3, 5));
        for i in 1..=10 {
            o.learn(Time(0), host(i), HostSource::Pong);
        }
        let mut rng = NodeRng::seed_from(1);
        o.maintain(Time(0), 1, &mut rng, |a| a == host(1));
        let dials = drain(&mut o);
        assert_eq!(dials.len(), 2, "one link up, two more wanted");
        assert!(
            !dials.contains(&host(1)),
            "a neighbour is not dialled again"
        );
        assert_ne!(dials[0], dials[1]);
        // Not answered yet: the next check asks for nothing more.
        o.maintain(CHECK_INTERVAL, 1, &mut rng, |a| a == host(1));
        assert!(drain(&mut o).is_empty());
        // One fails: it is replaced at once.
        o.dial_failed(Time(2_000_000), dials[0]);
        assert_eq!(o.next_timeout(), Time(2_000_000));
        o.maintain(Time(2_000_000), 1, &mut rng, |a| a == host(1));
        let again = drain(&mut o);
        assert_eq!(again.len(), 1);
        assert!(
            !again.contains(&dials[0]),
            "the failed host waits its retry delay"
        );
    }

    #[test]
    fn a_link_that_came_up_ends_its_dial_and_a_lost_one_is_replaced_at_once() {
        let mut o = Overlay::new(dynamic(2, 4));
        o.learn(Time(0), host(1), HostSource::Bootstrap);
        let mut rng = NodeRng::seed_from(1);
        o.maintain(Time(0), 0, &mut rng, |_| false);
        assert_eq!(drain(&mut o), vec![host(1)]);
        o.linked(Time(10), Some(host(1)), 1);
        assert_eq!(o.dialing(), 0);
        assert!(o.next_timeout() > Time(10));
        o.unlinked(Time(20), 0, &mut rng);
        assert_eq!(o.next_timeout(), Time(20), "below the minimum: check now");
    }

    #[test]
    fn a_lost_neighbour_is_replaced_also_above_the_minimum_but_never_beyond_the_maximum() {
        let mut o = Overlay::new(dynamic(2, 4));
        for i in 1..=10 {
            o.learn(Time(0), host(i), HostSource::Pong);
        }
        let mut rng = NodeRng::seed_from(1);
        o.maintain(Time(0), 4, &mut rng, |_| false);
        assert!(drain(&mut o).is_empty(), "four links, two wanted");
        // About half the losses are owed; find one that is.
        let mut owed = false;
        for _ in 0..20 {
            o.unlinked(Time(5), 3, &mut rng);
            if o.target() == 4 {
                owed = true;
                break;
            }
            assert_eq!(o.target(), 2, "not owed: the minimum");
        }
        assert!(owed, "a loss is owed half the time");
        assert_eq!(o.target(), 4, "the degree it had");
        assert_eq!(o.next_timeout(), Time(5));
        o.maintain(Time(5), 3, &mut rng, |_| false);
        assert_eq!(drain(&mut o).len(), 1, "one replacement");
        o.linked(Time(6), None, 4);
        assert_eq!(o.target(), 2, "back to its degree: nothing owed any more");
        for _ in 0..20 {
            o.unlinked(Time(7), 8, &mut rng);
            assert!(o.target() <= 4, "never more than max_degree");
        }
    }

    #[test]
    fn an_unanswered_dial_expires_as_a_failure() {
        let mut o = Overlay::new(dynamic(1, 2));
        o.learn(Time(0), host(1), HostSource::Pong);
        let mut rng = NodeRng::seed_from(1);
        o.maintain(Time(0), 0, &mut rng, |_| false);
        assert_eq!(drain(&mut o), vec![host(1)]);
        o.maintain(DIAL_TIMEOUT, 0, &mut rng, |_| false);
        assert_eq!(o.dialing(), 0);
        assert_eq!(o.hosts().get(host(1)).unwrap().failures, 1);
    }

    #[test]
    fn it_asks_neighbours_when_short_of_hosts_but_not_more_often_than_the_interval() {
        let mut o = Overlay::new(dynamic(4, 8));
        let mut rng = NodeRng::seed_from(1);
        assert!(o.maintain(Time(0), 1, &mut rng, |_| false).ask_neighbours);
        assert!(
            !o.maintain(CHECK_INTERVAL, 1, &mut rng, |_| false)
                .ask_neighbours
        );
        assert!(
            o.maintain(ASK_INTERVAL, 1, &mut rng, |_| false)
                .ask_neighbours
        );
        let mut lonely = Overlay::new(dynamic(4, 8));
        assert!(
            !lonely
                .maintain(Time(0), 0, &mut rng, |_| false)
                .ask_neighbours,
            "nobody to ask"
        );
    }

    #[test]
    fn a_new_link_is_asked_for_hosts_while_the_node_is_short_of_links_or_spares() {
        let mut o = Overlay::new(dynamic(2, 4));
        let neighbours = [host(1), host(2)];
        let linked = |a: SocketAddrV4| neighbours.contains(&a);
        for &n in &neighbours {
            o.learn(Time(0), n, HostSource::Neighbour);
        }
        assert!(o.asks_new_link(Time(0), 1, linked), "below the minimum");
        assert!(
            o.asks_new_link(Time(0), 2, linked),
            "at the minimum, but nothing to dial should both neighbours leave"
        );
        for i in 3..=5 {
            o.learn(Time(0), host(i), HostSource::Pong);
        }
        assert!(
            o.asks_new_link(Time(0), 2, linked),
            "three spares, four wanted"
        );
        o.learn(Time(0), host(6), HostSource::Pong);
        assert!(
            !o.asks_new_link(Time(0), 2, linked),
            "enough links and spares"
        );
        assert!(o.asks_new_link(Time(0), 1, linked), "short of links again");
        // Short of hosts to dial (all taken, say): the rounds of asking go on, the new
        // link's Ping counting as one.
        let mut rng = NodeRng::seed_from(1);
        let all = |_: SocketAddrV4| true;
        assert!(
            !o.maintain(CHECK_INTERVAL, 1, &mut rng, all).ask_neighbours,
            "asked a moment ago"
        );
        assert!(o.maintain(ASK_INTERVAL, 1, &mut rng, all).ask_neighbours);
    }

    #[test]
    fn configs_are_checked() {
        assert!(dynamic(4, 8).validate().is_ok());
        assert!(dynamic(0, 8).validate().is_err());
        assert!(dynamic(5, 4).validate().unwrap_err().contains("max_degree"));
        let c: OverlayConfig =
            serde_json::from_str(r#"{"mode": "dynamic", "min_degree": 3}"#).unwrap();
        assert_eq!(
            c,
            OverlayConfig {
                min_degree: 3,
                ..dynamic(4, 8)
            }
            .with_cache(100)
        );
        assert!(serde_json::from_str::<OverlayConfig>(r#"{"min_degre": 3}"#).is_err());
    }

    impl OverlayConfig {
        fn with_cache(mut self, n: usize) -> Self {
            self.host_cache = n;
            self
        }
    }
}
