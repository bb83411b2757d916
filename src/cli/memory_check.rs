//! Refusing work that will not fit in memory, before allocating it.
//!
//! The estimates are `gnutella::sim::memory`'s calibrated formulas; what is available is
//! the smaller of `MemAvailable` and the room under the cgroup limit. A run above it
//! stops with a message naming both figures and `--force`, instead of aborting minutes
//! later with an allocation failure and a backtrace.

use gnutella::sim::memory;

use super::progress;

/// "21.3 GB available (MemAvailable ...)", or that it is unknown.
pub fn available_note() -> String {
    match memory::available() {
        Some(a) => format!(
            "{} available per {}",
            memory::human_bytes(a.bytes),
            a.source
        ),
        None => "available memory unknown".to_string(),
    }
}

/// Refuses work whose memory estimate exceeds the memory available, unless forced.
pub fn check_memory(
    estimate: u64,
    what: &str,
    force: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(available) = memory::available() else {
        return Ok(());
    };
    if estimate <= available.bytes {
        return Ok(());
    }
    if force {
        if progress::notes() {
            eprintln!(
                "warning: {what} may need up to {}, more than the {} available; running anyway (--force)",
                memory::human_bytes(estimate),
                memory::human_bytes(available.bytes)
            );
        }
        return Ok(());
    }
    Err(format!(
        "{what} may need up to {} of memory, more than the {} available ({}): use fewer \
         peers, links or searches (or a smaller --seen-capacity), or pass --force to run anyway",
        memory::human_bytes(estimate),
        memory::human_bytes(available.bytes),
        available.source
    )
    .into())
}
