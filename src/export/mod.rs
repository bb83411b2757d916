//! Running a topology config on engines other than our own drivers, and reading their
//! outputs back into our report.
//!
//! An exporter turns a config into another engine's input files (Shadow: `shadow.yaml`
//! and a GML network graph, with the config's link model on its edges); a reader turns
//! what that engine wrote into the per-query records `launch` and `sim` report, so the
//! three runs of one config compare line by line. This layer reads configs and files and
//! writes files: it never reaches into a driver (`net`, `sim`), and the peers it runs are
//! the unmodified `gnutella peer` binary, whose own outputs it reads ([`counters`]).

pub mod counters;
pub mod shadow;
pub mod shadow_hosts;
pub mod shadow_report;
