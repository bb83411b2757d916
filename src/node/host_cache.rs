//! The host cache: addresses of other servents this peer could connect to, with what it
//! knows of each (when it last heard of it, how often dialling it failed).
//!
//! The pong cache (`pong_cache`) answers Pings for a few seconds; this cache outlives it and
//! is what a peer dials from when its degree falls below the minimum (`overlay`). Real
//! servents keep one the same way (PROTOCOL.md §2.2, §4.2): gtk-gnutella's `hcache.c`
//! and LimeWire's `HostCatcher` are fed by Pongs, by the `X-Try`/`X-Try-Ultrapeers`
//! headers of handshakes (also of refusals), and by the addresses in query hits; they
//! drop hosts that keep failing, retry the others after a growing delay, and save the
//! cache to disk so that a restart rejoins without a bootstrap.
//!
//! How it is bounded and ordered:
//! - at most `capacity` entries; when full, a newcomer replaces the entry with the most
//!   failures, then the one heard of the longest ago (bootstrap entries are never
//!   replaced by others);
//! - at most `MAX_KNOCKED` entries known only from a refused handshake, the oldest
//!   giving way to a newcomer;
//! - an entry is removed after `MAX_FAILURES` failed dials in a row (bootstrap entries
//!   stay, with their retry delay capped);
//! - after a failure an entry is not offered again for `RETRY_BASE · 2^(failures−1)`
//!   (capped at `RETRY_MAX`);
//! - entries live in a vector in insertion order, so every choice is a function of the
//!   inputs and the node's seeded RNG, never of a hasher's iteration order.
//!
//! Only usable addresses are kept (LimeWire drops port 0 and 0.x/255.x hosts).

use std::net::SocketAddrV4;

use super::rng::NodeRng;
use super::types::Time;

/// Failed dials in a row after which a host is forgotten (LimeWire gives up on a host
/// after a few failures too).
pub const MAX_FAILURES: u8 = 4;
/// Wait before a host that failed once is offered again; doubles per further failure.
pub const RETRY_BASE: Time = Time::from_secs(2);
/// Longest wait between retries of one host.
pub const RETRY_MAX: Time = Time::from_secs(60);
/// Most hosts kept that we know of only because they knocked (`HostSource::Knocked`):
/// only the port of such an address is unchecked, but one misbehaving peer knocking
/// from many claimed ports must not crowd out the hosts the cache learnt otherwise.
pub const MAX_KNOCKED: usize = 10;

/// Where the cache heard of a host (kept for reports and for the saved file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostSource {
    /// Given by the user (`--bootstrap`, a config's `overlay.bootstrap`): never evicted.
    Bootstrap,
    /// Read back from the file a previous run saved.
    Saved,
    /// A Pong answering one of our Pings.
    Pong,
    /// An `X-Try`/`X-Try-Ultrapeers` header of a handshake.
    XTry,
    /// The responder's address in a query hit.
    Hit,
    /// A peer whose handshake we refused for want of room (`503`): it listens there (its
    /// IP is its socket's) and looks for links. Naming it in the next refusal's `X-Try`
    /// lets peers that all knocked on one full bootstrap find each other.
    Knocked,
    /// A neighbour's listening address (we were linked with it).
    Neighbour,
}

impl HostSource {
    /// The word used in saved host files.
    pub fn as_str(self) -> &'static str {
        match self {
            HostSource::Bootstrap => "bootstrap",
            HostSource::Saved => "saved",
            HostSource::Pong => "pong",
            HostSource::XTry => "x-try",
            HostSource::Hit => "hit",
            HostSource::Knocked => "knocked",
            HostSource::Neighbour => "neighbour",
        }
    }
}

/// What the cache knows of one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub addr: SocketAddrV4,
    /// When we last heard of the host (or were linked with it).
    pub last_seen: Time,
    /// Failed dials since the last success.
    pub failures: u8,
    /// When the last dial failed (the retry delay counts from here).
    pub failed_at: Option<Time>,
    pub source: HostSource,
}

impl HostEntry {
    /// Whether the host may be dialled at `now` (its retry delay has passed).
    pub fn ready(&self, now: Time) -> bool {
        match self.failed_at {
            None => true,
            Some(at) => now.saturating_sub(at) >= retry_delay(self.failures),
        }
    }
}

/// The wait after `failures` failed dials in a row.
pub fn retry_delay(failures: u8) -> Time {
    if failures == 0 {
        return Time(0);
    }
    let shift = u32::from(failures - 1).min(16);
    Time(RETRY_BASE.0.saturating_mul(1 << shift).min(RETRY_MAX.0))
}

/// Whether an address names a host one could connect to.
pub fn usable(addr: SocketAddrV4) -> bool {
    let ip = addr.ip();
    addr.port() != 0 && !ip.is_unspecified() && !ip.is_broadcast() && ip.octets()[0] != 0
}

/// A bounded set of known hosts (see the module documentation).
#[derive(Clone, Debug)]
pub struct HostCache {
    capacity: usize,
    entries: Vec<HostEntry>,
}

impl HostCache {
    pub fn new(capacity: usize) -> HostCache {
        HostCache {
            capacity: capacity.max(1),
            entries: Vec::new(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, oldest insertion first.
    pub fn iter(&self) -> impl Iterator<Item = &HostEntry> + '_ {
        self.entries.iter()
    }

    pub fn get(&self, addr: SocketAddrV4) -> Option<&HostEntry> {
        self.entries.iter().find(|e| e.addr == addr)
    }

    /// Heard of `addr` from `source` at `now`. A known host is refreshed (its failures are
    /// kept: hearing of a host is not reaching it); a new one is added, replacing the
    /// worst entry when full. Returns whether the host is in the cache afterwards.
    pub fn learn(&mut self, now: Time, addr: SocketAddrV4, source: HostSource) -> bool {
        if !usable(addr) {
            return false;
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
            e.last_seen = e.last_seen.max(now);
            if source == HostSource::Bootstrap {
                e.source = source;
            }
            return true;
        }
        let knocked = |e: &&HostEntry| e.source == HostSource::Knocked;
        if source == HostSource::Knocked
            && self.entries.iter().filter(knocked).count() >= MAX_KNOCKED
        {
            // The stalest knocker makes room (entries are in insertion order).
            if let Some(i) = self.entries.iter().position(|e| knocked(&e)) {
                self.entries.remove(i);
            }
        }
        if self.entries.len() >= self.capacity {
            let Some(worst) = self.worst() else {
                return false;
            };
            self.entries.remove(worst);
        }
        self.entries.push(HostEntry {
            addr,
            last_seen: now,
            failures: 0,
            failed_at: None,
            source,
        });
        true
    }

    /// Adds a host with what a saved file says of it (failures and age are kept, the
    /// age counted back from `now`).
    pub fn restore(&mut self, now: Time, addr: SocketAddrV4, failures: u8, age: Time) {
        if self.learn(now, addr, HostSource::Saved) {
            if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
                e.last_seen = now.saturating_sub(age);
                e.failures = failures.min(MAX_FAILURES - 1);
            }
        }
    }

    /// We are linked with `addr`: its failures are forgotten.
    pub fn connected(&mut self, now: Time, addr: SocketAddrV4) {
        if self.learn(now, addr, HostSource::Neighbour) {
            if let Some(e) = self.entries.iter_mut().find(|e| e.addr == addr) {
                e.failures = 0;
                e.failed_at = None;
                e.last_seen = now;
                // Reached: no longer a host known only from its own word.
                if e.source == HostSource::Knocked {
                    e.source = HostSource::Neighbour;
                }
            }
        }
    }

    /// A dial of `addr` failed at `now`: counted, and the host is dropped after
    /// `MAX_FAILURES` in a row (bootstrap hosts are kept).
    pub fn failed(&mut self, now: Time, addr: SocketAddrV4) {
        let Some(i) = self.entries.iter().position(|e| e.addr == addr) else {
            return;
        };
        let e = &mut self.entries[i];
        e.failures = e.failures.saturating_add(1);
        e.failed_at = Some(now);
        if e.failures >= MAX_FAILURES && e.source != HostSource::Bootstrap {
            self.entries.remove(i);
        }
    }

    /// Up to `n` distinct hosts to dial at `now`: ready ones (retry delay passed) not
    /// excluded, fewest failures first, at random among equals. Random, not freshest
    /// first, so that peers sharing a cache's contents do not all dial the same hosts
    /// and grow a hub.
    pub fn pick(
        &self,
        now: Time,
        n: usize,
        rng: &mut NodeRng,
        excluded: impl Fn(SocketAddrV4) -> bool,
    ) -> Vec<SocketAddrV4> {
        let mut ready: Vec<&HostEntry> = self
            .entries
            .iter()
            .filter(|e| e.ready(now) && !excluded(e.addr))
            .collect();
        let mut chosen = Vec::with_capacity(n.min(ready.len()));
        while chosen.len() < n && !ready.is_empty() {
            let fewest = ready.iter().map(|e| e.failures).min().unwrap_or(0);
            let best: Vec<usize> = (0..ready.len())
                .filter(|&i| ready[i].failures == fewest)
                .collect();
            let i = best[rng.below(best.len())];
            chosen.push(ready.swap_remove(i).addr);
        }
        chosen
    }

    /// Up to `n` hosts to name in an `X-Try` header: no failures, heard of most recently
    /// first (ties by address, so the header is the same for the same cache).
    pub fn try_list(&self, n: usize, excluded: impl Fn(SocketAddrV4) -> bool) -> Vec<SocketAddrV4> {
        let mut good: Vec<&HostEntry> = self
            .entries
            .iter()
            .filter(|e| e.failures == 0 && !excluded(e.addr))
            .collect();
        good.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.addr.cmp(&b.addr)));
        good.into_iter().take(n).map(|e| e.addr).collect()
    }

    /// The entry a newcomer replaces: most failures, then heard of the longest ago;
    /// never a bootstrap entry.
    fn worst(&self) -> Option<usize> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.source != HostSource::Bootstrap)
            .max_by(|(_, a), (_, b)| {
                a.failures
                    .cmp(&b.failures)
                    .then(b.last_seen.cmp(&a.last_seen))
            })
            .map(|(i, _)| i)
    }

    /// Heap bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<HostEntry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn host(last: u8) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), 6346)
    }

    #[test]
    fn peers_that_knocked_take_at_most_a_few_places() {
        let mut c = HostCache::new(100);
        for i in 1..=5 {
            c.learn(Time(0), host(i), HostSource::Pong);
        }
        for i in 0..3 * MAX_KNOCKED as u16 {
            let claimed = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), 1000 + i);
            c.learn(Time(u64::from(i)), claimed, HostSource::Knocked);
        }
        let knocked: Vec<u16> = c
            .iter()
            .filter(|e| e.source == HostSource::Knocked)
            .map(|e| e.addr.port())
            .collect();
        let newest: Vec<u16> = (2 * MAX_KNOCKED as u16..3 * MAX_KNOCKED as u16)
            .map(|i| 1000 + i)
            .collect();
        assert_eq!(knocked, newest, "the newest knockers only");
        assert_eq!(c.len(), 5 + MAX_KNOCKED, "the Pong hosts stay");
        // A knocker we linked with is ours for good: no later knocker pushes it out.
        let reached = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1), newest[0]);
        c.connected(Time(100), reached);
        for i in 0..MAX_KNOCKED as u16 {
            let claimed = SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 2), 2000 + i);
            c.learn(Time(200), claimed, HostSource::Knocked);
        }
        assert_eq!(
            c.get(reached).map(|e| e.source),
            Some(HostSource::Neighbour)
        );
    }

    #[test]
    fn unusable_addresses_are_refused_and_known_ones_kept_once() {
        let mut c = HostCache::new(10);
        assert!(!c.learn(
            Time(0),
            SocketAddrV4::new(Ipv4Addr::new(0, 1, 2, 3), 6346),
            HostSource::Pong
        ));
        assert!(!c.learn(
            Time(0),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 0),
            HostSource::Pong
        ));
        assert!(!c.learn(
            Time(0),
            SocketAddrV4::new(Ipv4Addr::BROADCAST, 1),
            HostSource::Pong
        ));
        assert!(c.learn(Time(0), host(1), HostSource::Pong));
        assert!(c.learn(Time(5), host(1), HostSource::Hit));
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(host(1)).unwrap().last_seen, Time(5));
    }

    #[test]
    fn a_full_cache_replaces_the_most_failed_then_the_stalest_but_never_a_bootstrap() {
        let mut c = HostCache::new(3);
        c.learn(Time(0), host(1), HostSource::Bootstrap);
        c.learn(Time(1), host(2), HostSource::Pong);
        c.learn(Time(2), host(3), HostSource::Pong);
        c.learn(Time(3), host(4), HostSource::Pong);
        let kept: Vec<_> = c.iter().map(|e| e.addr).collect();
        assert_eq!(
            kept,
            vec![host(1), host(3), host(4)],
            "the stalest non-bootstrap went"
        );
        c.failed(Time(4), host(4));
        c.learn(Time(5), host(5), HostSource::Pong);
        let kept: Vec<_> = c.iter().map(|e| e.addr).collect();
        assert_eq!(kept, vec![host(1), host(3), host(5)], "the failed one went");
    }

    #[test]
    fn failing_hosts_wait_longer_each_time_and_go_after_max_failures() {
        let mut c = HostCache::new(10);
        c.learn(Time(0), host(1), HostSource::Pong);
        c.learn(Time(0), host(9), HostSource::Bootstrap);
        let mut rng = NodeRng::seed_from(1);
        let mut now = Time(0);
        for round in 1..MAX_FAILURES {
            c.failed(now, host(1));
            c.failed(now, host(9));
            assert!(
                c.pick(now, 5, &mut rng, |_| false).is_empty(),
                "round {round}: waiting"
            );
            now = Time(now.0 + retry_delay(round).0);
            assert_eq!(
                c.pick(now, 5, &mut rng, |_| false).len(),
                2,
                "round {round}: ready again"
            );
        }
        c.failed(now, host(1));
        c.failed(now, host(9));
        assert!(
            c.get(host(1)).is_none(),
            "forgotten after {MAX_FAILURES} failures"
        );
        assert!(c.get(host(9)).is_some(), "a bootstrap host is kept");
        assert!(retry_delay(200) <= RETRY_MAX);
    }

    #[test]
    fn a_link_clears_failures_and_picks_prefer_fewest_failures() {
        let mut c = HostCache::new(10);
        for i in 1..=4 {
            c.learn(Time(0), host(i), HostSource::Pong);
        }
        c.failed(Time(0), host(1));
        c.failed(Time(0), host(2));
        c.connected(Time(1), host(2));
        let later = Time::from_secs(100);
        let mut rng = NodeRng::seed_from(7);
        let picked = c.pick(later, 3, &mut rng, |a| a == host(3));
        assert_eq!(picked.len(), 3);
        assert!(!picked.contains(&host(3)), "excluded");
        assert_eq!(picked[2], host(1), "the one still failing comes last");
        assert_eq!(c.try_list(10, |_| false), vec![host(2), host(3), host(4)]);
    }

    #[test]
    fn picks_are_the_same_for_the_same_seed() {
        let mut c = HostCache::new(50);
        for i in 1..=40 {
            c.learn(Time(0), host(i), HostSource::Pong);
        }
        let a = c.pick(Time(0), 5, &mut NodeRng::seed_from(3), |_| false);
        let b = c.pick(Time(0), 5, &mut NodeRng::seed_from(3), |_| false);
        let other = c.pick(Time(0), 5, &mut NodeRng::seed_from(4), |_| false);
        assert_eq!(a, b);
        assert_ne!(a, other);
    }
}
