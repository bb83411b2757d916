//! Workloads, summaries of per-query records, reports, plots and experiment sweeps.
//!
//! The per-query record itself lives in `node::record`, so both drivers can fill it; this
//! layer decides what to run (workloads, sweep specs) and what to make of the records.

pub mod aggregate;
pub mod atomic_write;
pub mod charts;
pub mod over_time;
pub mod params;
pub mod plan;
pub mod plot;
pub mod shard;
pub mod slurm;
pub mod spec;
pub mod summary;
pub mod sweep;
pub mod workload;

pub use atomic_write::atomic_write;
