//! The pong cache: Pongs that came back to our own Pings, kept a short while so that a
//! neighbour's Ping is answered from here instead of being flooded (PROTOCOL.md §2.1, §2.2).
//!
//! Flooding Pings made every Ping cost a Pong from every peer within its TTL: a client
//! that sent 100,000 Pings to a peer with two neighbours got 300,000 Pongs back, and
//! every peer around paid for them. LimeWire's ping/pong scheme, which gtk-gnutella
//! implements in `pcache.c`, replaces that: Pings are never relayed; a peer answers one
//! with its own Pong plus a few cached ones (gtk-gnutella: up to 10) spread over hop
//! counts, and refills its cache by pinging its own neighbours when the cache has gone
//! stale (gtk-gnutella: every 20 s at most). The cost of a Ping is then bounded by the
//! cache, not by the network.
//!
//! A neighbour's Ping usually comes when our cache is stale, so the answer from the cache
//! alone would be thin. As gtk-gnutella does ("pong demultiplexing"), the cache also
//! remembers who asked: Pongs that arrive within `max_age` after a Ping, for as long as
//! that Ping's share of `answer` is not used up, go to its sender too, under its GUID.
//! So one Ping costs at most `answer` cached Pongs, now or a moment later.
//!
//! What this module keeps, and how it is bounded:
//! - one line per hop count 1..=`max_hops` (1 = the neighbour's own Pong), at most
//!   `per_hop` entries each, oldest dropped first; an address is kept once (its latest
//!   report), so a neighbour repeating one Pong cannot crowd the others out;
//! - every entry remembers the link it came in on (it is never sent back there, as
//!   gtk-gnutella does) and when it came (entries older than `max_age` are not answered
//!   and are dropped at the next insert);
//! - only Pongs with a usable address are kept (LimeWire drops port 0 and 0.x/255.x);
//! - at most one waiting Ping per link (the latest), forgotten with the link.
//!
//! The API is narrow on purpose: [`PongCache::insert`] feeds it, [`PongCache::answers`]
//! picks the Pongs for one Ping and [`PongCache::wait`] notes it for later ones,
//! [`PongCache::waiting_for`] says who gets a Pong just inserted, [`PongCache::iter`]
//! lists what is known (a host cache and degree management will read it). Nothing here
//! sends anything; the node decides.

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use super::types::{ConnId, Time};
use crate::protocol::{Guid, Pong};

/// How big the cache is and how long its entries count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PongCacheConfig {
    /// Most Pongs kept per hop count.
    pub per_hop: usize,
    /// Pongs from farther than this many hops are not kept (gtk-gnutella's
    /// `MAX_CACHE_HOPS` is 4 as-received, i.e. 5 from us; its `max_ttl` is 4).
    pub max_hops: u8,
    /// How long an entry may be used to answer (gtk-gnutella's ultrapeer cache lives
    /// 20 s, LimeWire's 6 s).
    pub max_age: Time,
    /// Most cached Pongs sent for one Ping (gtk-gnutella `MAX_PONGS`: 10).
    pub answer: usize,
}

impl Default for PongCacheConfig {
    fn default() -> Self {
        PongCacheConfig {
            per_hop: 16,
            max_hops: 5,
            max_age: Time::from_secs(20),
            answer: 10,
        }
    }
}

/// One cached Pong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPong {
    pub pong: Pong,
    /// Hops from us to the host it names (1: a neighbour's own Pong).
    pub hops: u8,
    /// The link it came in on.
    pub from: ConnId,
    /// When it came.
    pub at: Time,
}

impl CachedPong {
    /// The host the Pong names.
    pub fn addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(self.pong.ip, self.pong.port)
    }
}

/// A Ping to answer: who sent it, and how far it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pinger {
    /// The link the Ping came in on (nothing that came from it goes back).
    pub conn: ConnId,
    /// The Ping's GUID: Pongs answering it carry it.
    pub guid: Guid,
    /// TTL the Pongs need to get back.
    pub ttl: u8,
    /// The Ping reaches hosts up to this many hops from us.
    pub within: u8,
    /// The pinger's own listening address, if known (never sent to it).
    pub addr: Option<SocketAddrV4>,
}

/// A Ping answered lately whose sender may still get Pongs that arrive after it.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    pinger: Pinger,
    /// Pongs it may still be sent.
    left: usize,
    until: Time,
}

/// Recent Pongs by hop count, and the Pings still waiting for some. See the module
/// documentation.
#[derive(Clone, Debug)]
pub struct PongCache {
    config: PongCacheConfig,
    /// `lines[h - 1]`: Pongs `h` hops away, oldest first.
    lines: Vec<VecDeque<CachedPong>>,
    waiters: Vec<Waiter>,
}

impl PongCache {
    pub fn new(config: PongCacheConfig) -> PongCache {
        PongCache {
            config,
            lines: vec![VecDeque::new(); usize::from(config.max_hops)],
            waiters: Vec::new(),
        }
    }

    pub fn config(&self) -> &PongCacheConfig {
        &self.config
    }

    /// Entries held (stale ones included until the next insert drops them).
    pub fn len(&self) -> usize {
        self.lines.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(VecDeque::is_empty)
    }

    /// Every entry, nearest hop count first, oldest first within one.
    pub fn iter(&self) -> impl Iterator<Item = &CachedPong> + '_ {
        self.lines.iter().flatten()
    }

    /// Keeps `pong`, which came in on `from` and names a host `hops` away. Returns the
    /// entry, or `None` when it was not kept: too far, or its address unusable.
    pub fn insert(&mut self, now: Time, from: ConnId, hops: u8, pong: Pong) -> Option<&CachedPong> {
        if hops == 0 || hops > self.config.max_hops || !usable(&pong) || self.config.per_hop == 0 {
            return None;
        }
        self.expire(now);
        let addr = SocketAddrV4::new(pong.ip, pong.port);
        for line in &mut self.lines {
            line.retain(|c| c.addr() != addr);
        }
        let line = self.lines.get_mut(usize::from(hops) - 1)?;
        if line.len() >= self.config.per_hop {
            line.pop_front();
        }
        line.push_back(CachedPong {
            pong,
            hops,
            from,
            at: now,
        });
        line.back()
    }

    /// Drops the entries too old to answer with.
    pub fn expire(&mut self, now: Time) {
        let max_age = self.config.max_age;
        for line in &mut self.lines {
            while line
                .front()
                .is_some_and(|c| now.saturating_sub(c.at) >= max_age)
            {
                line.pop_front();
            }
        }
    }

    /// The cached Pongs to answer `pinger` with: at most `config.answer`, fresh, within
    /// its reach, none that came from its link nor naming it, spread over the hop counts
    /// (one per hop count in turn, newest first within one, as gtk-gnutella spreads its
    /// `MAX_PONGS`), in increasing hops.
    pub fn answers(&self, now: Time, pinger: &Pinger) -> Vec<&CachedPong> {
        let (to, within) = (pinger.conn, pinger.within);
        let pinger = pinger.addr;
        let within = usize::from(within.min(self.config.max_hops));
        let fresh = |c: &&CachedPong| {
            c.from != to
                && Some(c.addr()) != pinger
                && now.saturating_sub(c.at) < self.config.max_age
        };
        let mut lines: Vec<_> = self
            .lines
            .iter()
            .take(within)
            .map(|line| line.iter().rev().filter(fresh))
            .collect();
        let mut picked = Vec::new();
        'rounds: loop {
            let mut any = false;
            for line in &mut lines {
                if picked.len() >= self.config.answer {
                    break 'rounds;
                }
                if let Some(c) = line.next() {
                    picked.push(c);
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        picked.sort_by_key(|c| c.hops);
        picked
    }

    /// Notes that `pinger`, answered with `sent` cached Pongs already, may have up to
    /// `config.answer - sent` more for `max_age`. Replaces its link's previous one.
    pub fn wait(&mut self, now: Time, pinger: Pinger, sent: usize) {
        self.waiters.retain(|w| w.pinger.conn != pinger.conn);
        let left = self.config.answer.saturating_sub(sent);
        if left > 0 {
            self.waiters.push(Waiter {
                pinger,
                left,
                until: now.plus_micros(self.config.max_age.0),
            });
        }
    }

    /// The waiting Pings that get `entry` (just inserted): not its own link's, not one
    /// it names, within their reach and share; their shares shrink by one.
    pub fn waiting_for(&mut self, now: Time, entry: &CachedPong) -> Vec<Pinger> {
        self.waiters.retain(|w| now < w.until && w.left > 0);
        let mut got = Vec::new();
        for w in &mut self.waiters {
            let p = &w.pinger;
            if p.conn != entry.from && entry.hops <= p.within && p.addr != Some(entry.addr()) {
                w.left -= 1;
                got.push(w.pinger);
            }
        }
        got
    }

    /// The link is gone: its waiting Ping too.
    pub fn forget(&mut self, conn: ConnId) {
        self.waiters.retain(|w| w.pinger.conn != conn);
    }
}

/// Whether a Pong names a host one could connect to (LimeWire drops the others).
fn usable(pong: &Pong) -> bool {
    let ip = pong.ip;
    pong.port != 0 && !ip.is_unspecified() && !ip.is_broadcast() && ip.octets()[0] != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn pong(last: u8) -> Pong {
        Pong {
            port: 6346,
            ip: Ipv4Addr::new(10, 0, 0, last),
            files: 1,
            kbytes: 1,
            ggep: Default::default(),
        }
    }

    fn cache() -> PongCache {
        PongCache::new(PongCacheConfig {
            per_hop: 3,
            max_hops: 3,
            max_age: Time::from_secs(10),
            answer: 4,
        })
    }

    #[test]
    fn lines_are_bounded_and_an_address_is_kept_once() {
        let mut c = cache();
        for i in 0..10 {
            assert!(c.insert(Time::ZERO, ConnId(1), 1, pong(i)).is_some());
        }
        assert_eq!(c.len(), 3, "oldest dropped beyond per_hop");
        // The same address again, from farther: one entry, the latest.
        assert!(c.insert(Time::ZERO, ConnId(1), 2, pong(9)).is_some());
        let addrs: Vec<_> = c.iter().map(|e| (e.hops, e.pong.ip.octets()[3])).collect();
        assert_eq!(addrs, vec![(1, 7), (1, 8), (2, 9)]);
    }

    #[test]
    fn far_unusable_and_hopless_pongs_are_not_kept() {
        let mut c = cache();
        assert!(c.insert(Time::ZERO, ConnId(1), 4, pong(1)).is_none());
        assert!(c.insert(Time::ZERO, ConnId(1), 0, pong(1)).is_none());
        let mut zero_port = pong(2);
        zero_port.port = 0;
        assert!(c.insert(Time::ZERO, ConnId(1), 1, zero_port).is_none());
        let mut nowhere = pong(3);
        nowhere.ip = Ipv4Addr::UNSPECIFIED;
        assert!(c.insert(Time::ZERO, ConnId(1), 1, nowhere).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn answers_spread_over_hops_skip_the_asker_and_age_out() {
        let mut c = cache();
        for (i, hops) in [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 3)] {
            c.insert(Time::ZERO, ConnId(u32::from(i) % 2), hops, pong(i));
        }
        let got = |c: &PongCache, now, to, within, addr| -> Vec<u8> {
            let pinger = Pinger {
                conn: ConnId(to),
                guid: Guid([1; 16]),
                ttl: 1,
                within,
                addr,
            };
            c.answers(now, &pinger)
                .iter()
                .map(|e| e.pong.ip.octets()[3])
                .collect()
        };
        // One per hop count in turn, newest first, then sorted by hops.
        assert_eq!(got(&c, Time::ZERO, 9, 3, None), vec![3, 2, 5, 6]);
        // A Ping that reaches only 1 hop from us gets neighbours only.
        assert_eq!(got(&c, Time::ZERO, 9, 1, None), vec![3, 2, 1]);
        // Nothing goes back to the link it came from, nor names the pinger.
        let pinger = Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6346));
        assert_eq!(got(&c, Time::ZERO, 1, 3, pinger), vec![4, 6]);
        // Stale entries are not answered.
        assert!(got(&c, Time::from_secs(10), 9, 3, None).is_empty());
        c.expire(Time::from_secs(10));
        assert!(c.is_empty());
    }

    #[test]
    fn a_waiting_ping_gets_later_pongs_up_to_its_share() {
        let mut c = cache();
        let pinger = Pinger {
            conn: ConnId(1),
            guid: Guid([7; 16]),
            ttl: 3,
            within: 2,
            addr: Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 5), 6346)),
        };
        // Answered with 2 cached Pongs already: 2 more may follow (answer = 4).
        c.wait(Time::ZERO, pinger, 2);
        let sent_to = |c: &mut PongCache, now, from, hops, last| -> usize {
            let entry = c.insert(now, ConnId(from), hops, pong(last)).cloned();
            entry.map_or(0, |e| c.waiting_for(now, &e).len())
        };
        assert_eq!(
            sent_to(&mut c, Time::ZERO, 1, 1, 1),
            0,
            "not back to its link"
        );
        assert_eq!(sent_to(&mut c, Time::ZERO, 2, 3, 2), 0, "beyond its reach");
        assert_eq!(sent_to(&mut c, Time::ZERO, 2, 1, 5), 0, "names the pinger");
        assert_eq!(sent_to(&mut c, Time::ZERO, 2, 1, 3), 1);
        assert_eq!(sent_to(&mut c, Time::ZERO, 2, 2, 4), 1);
        assert_eq!(
            sent_to(&mut c, Time::ZERO, 2, 1, 6),
            0,
            "its share is used up"
        );
        c.wait(Time::ZERO, pinger, 0);
        assert_eq!(sent_to(&mut c, Time::from_secs(10), 2, 1, 7), 0, "too late");
        c.wait(Time::ZERO, pinger, 0);
        c.forget(ConnId(1));
        assert_eq!(sent_to(&mut c, Time::ZERO, 2, 1, 8), 0, "its link is gone");
    }
}
