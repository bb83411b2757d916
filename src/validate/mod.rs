//! One validation policy for every way a user gives us input: command-line flags, topology
//! configs, experiment specs and routing files.
//!
//! A user who types `--ttl 0` on `sim`, writes `"ttl": 0` in a config or lists `0` in a
//! sweep must get the same answer in the same words; before this module each place had its
//! own check (or none, and `sim` silently ran at TTL 1). The ranges live here once, with the
//! message that states them, and clap value parsers, `TopologyConfig::validate`,
//! `ExperimentSpec::resolve` and `RoutingConfig::validate` all call in.
//!
//! Output destinations are checked here too, before any work starts: a sweep or a launch
//! that runs for minutes and then cannot write its report has lost the user's time.
//!
//! A leaf: it knows no other module of the crate, so every layer may use it.

mod output;
mod values;

pub use output::{check_output_dir, check_output_file, OutputError};
pub use values::{
    check_search_words, check_ttl, opt_ttl, parse_ttl, search_words, ttl, ttls, Ttl, ValueError,
    MAX_TTL, MIN_TTL,
};
