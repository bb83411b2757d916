//! Peers leaving and rejoining, from a seeded process.
//!
//! Each peer alternates between sessions and downtimes whose lengths are exponential with
//! the configured means (the memoryless model used by most P2P churn studies). A run starts
//! in the process's steady state: a peer is online with probability `session / (session +
//! downtime)`, and its first change comes after an exponential wait, so there is no burst
//! of simultaneous departures at time zero.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Exponential session and downtime lengths, in milliseconds of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    pub mean_session_ms: f64,
    pub mean_downtime_ms: f64,
}

impl Churn {
    /// Churn from a departure rate: each online peer leaves at `leaves_per_sec` on average
    /// and stays away for `mean_downtime_ms`.
    pub fn from_rate(leaves_per_sec: f64, mean_downtime_ms: f64) -> Churn {
        Churn {
            mean_session_ms: 1000.0 / leaves_per_sec.max(1e-12),
            mean_downtime_ms,
        }
    }

    /// The long-run fraction of time a peer is online.
    pub fn availability(&self) -> f64 {
        let total = self.mean_session_ms + self.mean_downtime_ms;
        if total <= 0.0 {
            1.0
        } else {
            self.mean_session_ms / total
        }
    }

    /// Whether a peer starts online.
    pub(crate) fn starts_online<R: Rng>(&self, rng: &mut R) -> bool {
        rng.gen_bool(self.availability().clamp(0.0, 1.0))
    }

    /// How long the next session (`online`) or downtime lasts, in microseconds (at least 1).
    pub(crate) fn next_period_us<R: Rng>(&self, online: bool, rng: &mut R) -> u64 {
        let mean_ms = if online {
            self.mean_session_ms
        } else {
            self.mean_downtime_ms
        };
        let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
        let us = -u.ln() * mean_ms.max(0.0) * 1000.0;
        (us as u64).max(1)
    }
}
