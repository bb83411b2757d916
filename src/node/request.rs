//! Requests a node makes of its driver beyond "send this" and "close that".
//!
//! They come out of `Node::poll_output` as `Output::Request`; a driver which cannot
//! honour one lets it go: every request has a fallback inside the node (a parked walker
//! walks on after a timeout; a push for us is just not acted on).

use crate::protocol::{Guid, Push};

use super::types::ConnId;

/// Something only the driver can do for the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A random walker for query `guid` has made a multiple of `check_every` hops and is
    /// parked here until its origin says whether the search is satisfied. The driver asks
    /// the origin (`Node::search_satisfied` in the simulator, which counts the exchange as
    /// messages and delays the answer by the path latency) and then calls
    /// `Node::on_check_back(now, guid, satisfied)` here. Unanswered, the walker goes on
    /// after `CHECK_BACK_TIMEOUT`.
    CheckBack { guid: Guid, hops: u8 },
    /// A Push addressed to our servent GUID arrived on `from`: connect to `push.ip:port`
    /// and offer file `push.index` with a `GIV` line (PROTOCOL.md §5.4).
    ConnectBack { push: Push, from: ConnId },
}
