//! Ping throttling: at most one Ping handled per link per interval (PROTOCOL.md §2.1).
//!
//! Every Ping we handle costs Pongs (ours and up to ten from the pong cache), so a
//! neighbour that sends Pings in a loop would make us its Pong pump. The old spec asks
//! for at most one "real" Ping per connection per second; gtk-gnutella keeps a per-node
//! `ping_accept` time, drops every Ping before it (counted as `MSG_DROP_THROTTLE`) and
//! moves it `PING_REG_THROTTLE` (3 s) on after each one it accepts. This is that, per
//! link, and nothing more: the node decides which Pings are subject to which interval.
//! Keep-alive Pings (hops 0, TTL 1) cost one Pong each and both servents answer them
//! all; a peer sends one only after a quiet while, so the node answers at most one per
//! link per `KEEP_ALIVE_INTERVAL`, which no honest keep-alive comes near, and a flood of
//! them is not answered one for one.

use std::collections::HashMap;

use super::types::{ConnId, Time};

/// gtk-gnutella's `PING_REG_THROTTLE`.
pub const PING_INTERVAL: Time = Time(3_000_000);

/// Keep-alive Pings answered per link: at most one per 100 ms.
pub const KEEP_ALIVE_INTERVAL: Time = Time(100_000);

/// When each link may next have a Ping handled.
#[derive(Clone, Debug)]
pub struct PingThrottle {
    interval: Time,
    next: HashMap<ConnId, Time>,
}

impl Default for PingThrottle {
    fn default() -> Self {
        PingThrottle::new(PING_INTERVAL)
    }
}

impl PingThrottle {
    pub fn new(interval: Time) -> PingThrottle {
        PingThrottle {
            interval,
            next: HashMap::new(),
        }
    }

    /// Whether a Ping from `conn` at `now` is handled (and the link's next one then waits
    /// a full interval) or dropped.
    pub fn admit(&mut self, now: Time, conn: ConnId) -> bool {
        let next = self.next.entry(conn).or_insert(Time::ZERO);
        if now < *next {
            return false;
        }
        *next = now.plus_micros(self.interval.0);
        true
    }

    /// The link is gone: forget it.
    pub fn forget(&mut self, conn: ConnId) {
        self.next.remove(&conn);
    }

    /// Links with a Ping handled lately (for memory reports).
    pub fn len(&self) -> usize {
        self.next.len()
    }

    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ping_per_link_per_interval() {
        let mut t = PingThrottle::new(Time::from_secs(3));
        let a = ConnId(1);
        let b = ConnId(2);
        assert!(t.admit(Time::ZERO, a));
        assert!(!t.admit(Time::from_millis(10), a));
        assert!(!t.admit(Time::from_millis(2999), a));
        assert!(
            t.admit(Time::from_millis(10), b),
            "links are throttled apart"
        );
        assert!(t.admit(Time::from_secs(3), a));
        // Dropped Pings do not push the window on.
        assert!(!t.admit(Time::from_millis(5000), a));
        assert!(t.admit(Time::from_secs(6), a));
        t.forget(a);
        t.forget(b);
        assert!(t.is_empty());
    }
}
