//! The discrete-event driver: many nodes over virtual links, deterministic from a seed.
