//! The routing state machine of one peer: inputs in, actions and events out (sans-IO).
//!
//! A `Node` never touches a socket, a clock or a thread: the driver (the tokio network in
//! `net`, or the discrete-event simulator in `sim`) passes `now` in and carries the
//! `Action`s out, so the very same routing decisions run over TCP and in simulation.
//! `Event`s are the metrics vocabulary both drivers fold into per-query records.
//!
//! SKELETON: the types here are the contract for the other layers; the state machine
//! itself is being written.

pub mod types;

pub use types::*;
pub mod record;
