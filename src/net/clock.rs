//! The live network's clock: microseconds since one process-wide monotonic epoch.
//!
//! The routing core takes `now` as an input (it is sans-IO), so every peer of a process must
//! read the same clock for per-query timings (first hit in ms) to be comparable across peers.
//! Child processes of `launch --processes` align their epoch to the parent's, so their
//! timestamps can be merged into one report.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::node::Time;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Now, as the routing core's `Time`.
pub fn now() -> Time {
    Time(epoch().elapsed().as_micros() as u64)
}

/// The instant a core `Time` stands for, to arm a tokio timer.
pub fn instant_of(time: Time) -> Instant {
    epoch() + Duration::from_micros(time.0)
}

/// The epoch as microseconds since the Unix epoch, to hand to a child process.
pub fn epoch_unix_micros() -> u64 {
    let since = epoch().elapsed();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    wall.saturating_sub(since).as_micros() as u64
}

/// Adopts a parent's epoch (from [`epoch_unix_micros`]) so timings line up across processes.
/// Has no effect once the clock has been read in this process.
pub fn adopt_epoch_unix_micros(parent_epoch: u64) {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ago = wall.saturating_sub(Duration::from_micros(parent_epoch));
    let instant = Instant::now().checked_sub(ago).unwrap_or_else(Instant::now);
    let _ = EPOCH.set(instant);
}

/// The wall clock in whole seconds since the Unix epoch: when a peer started, for its
/// `X-Live-Since` header (`protocol::live_since`).
pub fn unix_secs_now() -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(wall.as_secs()).unwrap_or(i64::MAX)
}
