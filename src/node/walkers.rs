//! Random walkers passing through this node: where one steps next, and the walkers
//! parked while their origin is asked whether the search is satisfied (check-backs).
//!
//! Why its own module: a walker is the one descriptor a relay holds on to, with a
//! deadline, a bound and a resume rule of its own; keeping them here lets the node's
//! pipeline say only "park or step".

use super::rng::NodeRng;
use super::types::{ConnId, Time};
use crate::protocol::{Guid, Message};

/// How long a parked random walker waits for its origin's answer before walking on.
pub const CHECK_BACK_TIMEOUT: Time = Time(2_000_000);

/// Most walkers one node keeps parked; beyond that a walker walks on unchecked, so a
/// driver that never answers cannot make the node grow without bound.
const MAX_PARKED: usize = 1024;

#[derive(Clone, Debug)]
struct ParkedWalker {
    msg: Message,
    from: ConnId,
    deadline: Time,
}

/// The walkers parked here, waiting for a check-back or their deadline.
#[derive(Debug, Default)]
pub(super) struct ParkedWalkers {
    parked: Vec<ParkedWalker>,
}

/// Whether a walker with `hops` parks for a check-back, `parked` being already parked.
#[inline]
pub(super) fn parks(check_every: u8, hops: u8, parked: usize) -> bool {
    check_every > 0 && hops % check_every == 0 && parked < MAX_PARKED
}

/// The link a walker that came on `from` steps to: one of `links` other than `from`,
/// picked at random, or back to `from` when it is the only one.
#[inline]
pub(super) fn next_step(
    links: impl Iterator<Item = ConnId> + Clone,
    from: ConnId,
    rng: &mut NodeRng,
) -> Option<ConnId> {
    let others = links.clone().filter(|c| *c != from).count();
    if others == 0 {
        let mut links = links;
        links.next()
    } else {
        let pick = rng.below(others);
        links.filter(|c| *c != from).nth(pick)
    }
}

impl ParkedWalkers {
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.parked.len()
    }

    /// Parks a walker that came on `from` until `now` + `CHECK_BACK_TIMEOUT`.
    #[inline]
    pub(super) fn park(&mut self, msg: Message, from: ConnId, now: Time) {
        let deadline = now.plus_micros(CHECK_BACK_TIMEOUT.0);
        self.parked.push(ParkedWalker {
            msg,
            from,
            deadline,
        });
    }

    /// Unparks the walkers of search `guid` (the origin answered), in parking order.
    #[inline]
    pub(super) fn take(&mut self, guid: Guid) -> Vec<(ConnId, Message)> {
        self.take_where(|p| p.msg.guid == guid)
    }

    /// Unparks the walkers whose deadline is past, in parking order.
    #[inline]
    pub(super) fn take_expired(&mut self, now: Time) -> Vec<(ConnId, Message)> {
        self.take_where(|p| p.deadline <= now)
    }

    fn take_where(&mut self, mut out: impl FnMut(&ParkedWalker) -> bool) -> Vec<(ConnId, Message)> {
        let mut taken = Vec::new();
        self.parked.retain(|p| {
            if out(p) {
                taken.push((p.from, p.msg.clone()));
                false
            } else {
                true
            }
        });
        taken
    }

    /// The earliest deadline.
    #[inline]
    pub(super) fn next_timeout(&self) -> Option<Time> {
        self.parked.iter().map(|w| w.deadline).min()
    }
}
