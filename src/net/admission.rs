//! Places for accepted sockets that are not links: how a peer keeps taking new clients
//! while others hold sockets open and do nothing.
//!
//! A peer must bound the sockets it keeps for clients that have not become links yet
//! (still sending their first line or handshake, or talking HTTP), or a flood of idle
//! connections uses up its descriptors. A plain cap turned that into a lock-out: 64
//! sockets that never spoke (reopened as they timed out), or 64 HTTP keep-alive
//! connections after one `HEAD` each, held every place, and every new searcher,
//! neighbour and downloader was refused for as long as they stayed.
//!
//! A [`Budget`] is such a cap with two rules that keep a few hostile clients from
//! locking everyone else out (gtk-gnutella bans addresses that connect too often and
//! caps uploads per address; LimeWire caps uploads per host):
//! - **per address**: one IP may hold at most `per_ip` places, so clients at other
//!   addresses always find room;
//! - **idle places are given up**: when the budget (or an address's share) is full, the
//!   place that has been idle the longest (of that address, when it is its share that is
//!   full) is taken from its holder, which is told through [`Place::evicted`] and closes
//!   its socket. A socket that has not sent its first line counts as idle (a real client
//!   says what it wants at once), and so does an HTTP connection waiting between
//!   requests ([`Place::set_idle`]). A handshake or a request head under way is busy for
//!   [`BUSY_GRACE`] and idle after that ([`Place::busy_then_idle`]): an honest client
//!   finishes well within it, one that stalls halfway loses its place to whoever needs
//!   it. With no idle place to take, the newcomer is refused.
//!
//! A [`Place`] is a guard: dropped on any way out of its task, it is given back.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How long a handshake or a request head under way keeps its place for sure.
pub const BUSY_GRACE: Duration = Duration::from_secs(2);

/// How many places a budget has, in all and for one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLimits {
    pub total: usize,
    pub per_ip: usize,
}

/// Why a socket got no place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("every place is taken and none is idle")]
    Full,
    #[error("its address holds its share of places and none is idle")]
    AddressFull,
}

struct Held {
    ip: IpAddr,
    /// When it last became idle (a budget-wide sequence number), `None` while busy.
    idle_since: Option<u64>,
    evict: watch::Sender<bool>,
}

struct State {
    limits: BudgetLimits,
    /// Sequence numbers for ids and idle times: later is larger.
    clock: u64,
    held: BTreeMap<u64, Held>,
    per_ip: HashMap<IpAddr, usize>,
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The place idle the longest, among those of `ip` if given.
    fn longest_idle(&self, ip: Option<IpAddr>) -> Option<u64> {
        self.held
            .iter()
            .filter(|(_, h)| ip.map_or(true, |want| want == h.ip))
            .filter_map(|(&id, h)| h.idle_since.map(|since| (since, id)))
            .min()
            .map(|(_, id)| id)
    }

    fn remove(&mut self, id: u64) -> Option<Held> {
        let held = self.held.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&held.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&held.ip);
            }
        }
        Some(held)
    }
}

/// A bounded set of places, shared by the tasks that hold them. Cheap to clone.
#[derive(Clone)]
pub struct Budget {
    state: Arc<Mutex<State>>,
    evictions: Arc<AtomicU64>,
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Budget {
        Budget {
            state: Arc::new(Mutex::new(State {
                limits: BudgetLimits {
                    total: limits.total.max(1),
                    per_ip: limits.per_ip.max(1),
                },
                clock: 0,
                held: BTreeMap::new(),
                per_ip: HashMap::new(),
            })),
            evictions: Arc::new(AtomicU64::new(0)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a socket from `ip`, idle from the start or not; taking, if it must,
    /// the place idle the longest (see the module documentation).
    pub fn admit(&self, ip: IpAddr, idle: bool) -> Result<Place, Refused> {
        let mut state = self.lock();
        let limits = state.limits;
        let mine = state.per_ip.get(&ip).copied().unwrap_or(0);
        let victim = if mine >= limits.per_ip {
            Some(state.longest_idle(Some(ip)).ok_or(Refused::AddressFull)?)
        } else if state.held.len() >= limits.total {
            Some(state.longest_idle(None).ok_or(Refused::Full)?)
        } else {
            None
        };
        if let Some(held) = victim.and_then(|id| state.remove(id)) {
            let _ = held.evict.send(true);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        let id = state.tick();
        let (evict, evicted) = watch::channel(false);
        state.held.insert(
            id,
            Held {
                ip,
                idle_since: idle.then_some(id),
                evict,
            },
        );
        *state.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Place {
            state: self.state.clone(),
            id,
            evicted,
        })
    }

    /// Places held now.
    pub fn held(&self) -> usize {
        self.lock().held.len()
    }

    /// Places taken from their holders so far.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

/// One socket's place in a [`Budget`], given back when dropped.
pub struct Place {
    state: Arc<Mutex<State>>,
    id: u64,
    evicted: watch::Receiver<bool>,
}

impl Place {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the place idle (it may be given to a newcomer) or busy.
    pub fn set_idle(&self, idle: bool) {
        let mut state = self.lock();
        let since = idle.then(|| state.tick());
        if let Some(held) = state.held.get_mut(&self.id) {
            held.idle_since = since;
        }
    }

    /// Whether the place has been given to a newcomer.
    pub fn is_evicted(&self) -> bool {
        *self.evicted.borrow()
    }

    /// Resolves once the place has been given to a newcomer: the holder should close its
    /// socket. Never resolves otherwise.
    pub async fn evicted(&mut self) {
        if self.evicted.wait_for(|e| *e).await.is_err() {
            // Cannot happen while the place exists (its budget holds the sender until
            // it evicts or forgets it); wait forever rather than claim an eviction.
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` unless and until the place is taken; `None` if it was.
    pub async fn unless_evicted<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::select! {
            out = work => Some(out),
            _ = self.evicted() => None,
        }
    }

    /// Runs `work` with the place busy until `busy_until`, idle after that (a newcomer
    /// may take it); `None` if one did. The place is left busy.
    pub async fn busy_then_idle<F: Future>(
        &mut self,
        busy_until: Instant,
        work: F,
    ) -> Option<F::Output> {
        tokio::pin!(work);
        if Instant::now() < busy_until {
            self.set_idle(false);
            // Busy, it cannot be taken now, but it may have been just before.
            let busy = tokio::time::timeout_at(busy_until, &mut work);
            match self.unless_evicted(busy).await {
                None => return None,
                Some(Ok(out)) => return Some(out),
                Some(Err(_)) => {}
            }
        }
        self.set_idle(true);
        let out = self.unless_evicted(&mut work).await;
        self.set_idle(false);
        out
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let id = self.id;
        self.lock().remove(id);
    }
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Place")
            .field("id", &self.id)
            .field("evicted", &self.is_evicted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn places_are_given_back_on_drop() {
        let b = Budget::new(BudgetLimits {
            total: 2,
            per_ip: 2,
        });
        let one = b.admit(ip(1), false).unwrap();
        let two = b.admit(ip(2), false).unwrap();
        assert_eq!(b.admit(ip(3), false).unwrap_err(), Refused::Full);
        drop(one);
        let three = b.admit(ip(3), false).unwrap();
        assert_eq!(b.held(), 2);
        drop((two, three));
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn a_full_budget_takes_the_place_idle_the_longest() {
        let b = Budget::new(BudgetLimits {
            total: 3,
            per_ip: 3,
        });
        let busy = b.admit(ip(1), false).unwrap();
        let older = b.admit(ip(2), false).unwrap();
        let newer = b.admit(ip(3), true).unwrap();
        older.set_idle(true); // idle after `newer`, so `newer` has been idle longer
        let fresh = b.admit(ip(4), true).unwrap();
        assert!(newer.is_evicted() && !older.is_evicted() && !busy.is_evicted());
        assert_eq!((b.held(), b.evictions()), (3, 1));
        drop(newer); // the evicted guard gives back nothing twice
        assert_eq!(b.held(), 3);
        older.set_idle(false);
        fresh.set_idle(false);
        assert_eq!(b.admit(ip(5), true).unwrap_err(), Refused::Full);
    }

    #[test]
    fn one_address_takes_from_itself_never_from_others() {
        let b = Budget::new(BudgetLimits {
            total: 10,
            per_ip: 2,
        });
        let other = b.admit(ip(9), true).unwrap();
        let first = b.admit(ip(1), true).unwrap();
        let second = b.admit(ip(1), true).unwrap();
        let third = b.admit(ip(1), true).unwrap();
        assert!(first.is_evicted() && !second.is_evicted() && !third.is_evicted());
        assert!(!other.is_evicted());
        second.set_idle(false);
        third.set_idle(false);
        assert_eq!(b.admit(ip(1), true).unwrap_err(), Refused::AddressFull);
        assert!(b.admit(ip(2), true).is_ok(), "other addresses still get in");
    }

    #[tokio::test]
    async fn the_holder_hears_of_the_eviction() {
        let b = Budget::new(BudgetLimits {
            total: 1,
            per_ip: 1,
        });
        let mut victim = b.admit(ip(1), true).unwrap();
        let waiting = tokio::spawn(async move {
            victim
                .unless_evicted(std::future::pending::<()>())
                .await
                .is_none()
        });
        tokio::task::yield_now().await;
        let _newcomer = b.admit(ip(2), true).unwrap();
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn work_under_way_is_busy_for_its_grace_then_idle() {
        let b = Budget::new(BudgetLimits {
            total: 1,
            per_ip: 1,
        });
        let hold = |mut place: Place, busy_until: Instant| {
            tokio::spawn(async move {
                place
                    .busy_then_idle(busy_until, std::future::pending::<()>())
                    .await
                    .is_none()
            })
        };
        let later = Instant::now() + Duration::from_secs(3600);
        let busy = hold(b.admit(ip(1), true).unwrap(), later);
        tokio::task::yield_now().await;
        assert_eq!(b.admit(ip(2), true).unwrap_err(), Refused::Full);
        busy.abort();
        let _ = busy.await;
        // A place taken just before its work started does not wait out the grace.
        let mut taken = b.admit(ip(1), true).unwrap();
        let newcomer = b.admit(ip(2), true).unwrap();
        assert!(taken
            .busy_then_idle(later, std::future::pending::<()>())
            .await
            .is_none());
        drop(newcomer);
        // Past its grace, work under way is idle: a newcomer takes the place.
        let stalled = hold(b.admit(ip(1), true).unwrap(), Instant::now());
        let mut tries = 0;
        while b.admit(ip(2), true).is_err() {
            tries += 1;
            assert!(tries < 10_000, "the stalled place never became idle");
            tokio::task::yield_now().await;
        }
        assert!(stalled.await.unwrap(), "the stalled holder lost its place");
    }
}
