//! The QRP tables a node sends in a two-tier network (PROTOCOL.md §2.7, §6.2), and when.
//!
//! - A **leaf** sends its ultrapeers the table of its shared library right after the
//!   link comes up, and the difference again whenever its share changes
//!   (`Node::set_library`), as LimeWire and gtk-gnutella leaves do.
//! - An **ultrapeer** sends its neighbour ultrapeers one table merged from its own library
//!   and every leaf's table (last-hop QRP, LimeWire's "Ultrapeer Query Routing"): a query
//!   on its last hop goes to an ultrapeer only if that ultrapeer, or one of its leaves,
//!   may answer it. Leaves come and go in bursts, so a change is sent
//!   [`MERGE_DELAY`] after it, not at once: one patch covers the burst. Until an
//!   ultrapeer has our table it forwards us everything, so the delay costs messages,
//!   never results.
//!
//! Each link remembers the last table it was sent whole ([`QrpTable::update_messages`]
//! then sends only the slots that changed, or nothing). Tables are shared (`Arc`): the
//! same merged table goes to every ultrapeer neighbour.
//!
//! What a node does with the tables it *receives* is `Node`'s routing (leaves get only
//! queries their table matches; see `node`), and receiving them is `qrp_receiver`.

use std::sync::Arc;

use super::qrp_table::QrpTable;
use super::types::{ConnId, Time};
use crate::protocol::RouteTableUpdate;

/// How long after a change of its leaves' tables an ultrapeer sends its neighbour
/// ultrapeers the new merged table (a choice of ours; both real servents batch these).
pub const MERGE_DELAY: Time = Time::from_secs(5);

/// The tables this node has built and what each link holds from it.
#[derive(Debug, Default)]
pub(crate) struct TableSender {
    /// The table of our own library, built on first need and dropped when it changes.
    own: Option<Arc<QrpTable>>,
    /// Per link: the last table sent to it whole.
    sent: Vec<(ConnId, Arc<QrpTable>)>,
    /// When the merged table is next due at the neighbour ultrapeers.
    merge_due: Option<Time>,
}

impl TableSender {
    /// The table of our library (`build` makes it when none is kept).
    pub(crate) fn own(&mut self, build: impl FnOnce() -> QrpTable) -> Arc<QrpTable> {
        Arc::clone(self.own.get_or_insert_with(|| Arc::new(build())))
    }

    /// Our library changed: its table must be built again.
    pub(crate) fn library_changed(&mut self) {
        self.own = None;
    }

    /// The messages that bring `conn` to `table`, remembering that it then holds it.
    /// Empty when it already does.
    pub(crate) fn update(&mut self, conn: ConnId, table: &Arc<QrpTable>) -> Vec<RouteTableUpdate> {
        let at = self.sent.iter().position(|(c, _)| *c == conn);
        let messages = table.update_messages(at.map(|i| &*self.sent[i].1));
        match at {
            Some(i) => self.sent[i].1 = Arc::clone(table),
            None => self.sent.push((conn, Arc::clone(table))),
        }
        messages
    }

    /// Asks for the merged table to go out `MERGE_DELAY` after `now` (an earlier request
    /// still pending keeps its time).
    pub(crate) fn schedule_merge(&mut self, now: Time) {
        if self.merge_due.is_none() {
            self.merge_due = Some(now.plus_micros(MERGE_DELAY.0));
        }
    }

    /// When the merged table is due, if it is.
    pub(crate) fn next_timeout(&self) -> Option<Time> {
        self.merge_due
    }

    /// Whether the merged table is due at `now` (then no longer pending).
    pub(crate) fn take_due(&mut self, now: Time) -> bool {
        match self.merge_due {
            Some(due) if due <= now => {
                self.merge_due = None;
                true
            }
            _ => false,
        }
    }

    /// We are no longer an ultrapeer: no merged table is owed.
    pub(crate) fn cancel_merge(&mut self) {
        self.merge_due = None;
    }

    /// A link went down.
    pub(crate) fn forget(&mut self, conn: ConnId) {
        self.sent.retain(|(c, _)| *c != conn);
    }

    /// Heap bytes held (tables shared with other links are counted once per holder).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.own.as_ref().map_or(0, |t| t.heap_bytes())
            + self.sent.capacity() * std::mem::size_of::<(ConnId, Arc<QrpTable>)>()
    }
}
