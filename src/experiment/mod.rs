//! Workloads, per-query records, reports and plots.
