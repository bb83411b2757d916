//! Hits as a searching user sees them: one line per file, with who holds it and how far.

use std::net::{SocketAddr, SocketAddrV4};

use super::peer::PeerEvent;
use crate::node::{Event, Time};
use crate::protocol::{Guid, HitRecord};

/// One file found by a search.
#[derive(Clone, Debug)]
pub struct FoundFile {
    pub guid: Guid,
    /// The holder's HTTP address, where a download goes.
    pub holder: SocketAddrV4,
    pub servent: Guid,
    pub hops: u8,
    /// When the hit arrived at the searcher (driver time).
    pub at: Time,
    pub record: HitRecord,
}

impl FoundFile {
    pub fn holder_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.holder)
    }

    /// The JSON a `search --json` user gets for this file.
    pub fn to_json(&self, started: Time) -> serde_json::Value {
        serde_json::json!({
            "name": self.record.name,
            "size": self.record.size,
            "urn": self.record.sha1().map(|s| s.to_urn()),
            "holder": self.holder.to_string(),
            "index": self.record.index,
            "hops": self.hops,
            "ms": self.at.saturating_sub(started).as_millis_f64(),
        })
    }
}

/// The files in a peer event, if it is a hit for one of that peer's searches.
pub fn files_of(event: &PeerEvent) -> Vec<FoundFile> {
    match &event.event {
        Event::HitReceived { guid, hops, hit } => hit
            .records
            .iter()
            .map(|record| FoundFile {
                guid: *guid,
                holder: SocketAddrV4::new(hit.ip, hit.port),
                servent: hit.servent_guid,
                hops: *hops,
                at: event.at,
                record: record.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A one-line description: name, size, URN, holder, hops, ms.
pub fn describe(n: usize, file: &FoundFile, started: Time) -> String {
    format!(
        "{n:>3}. {}  {} bytes  {}  from {}  {} hops  {:.1} ms",
        file.record.name,
        file.record.size,
        file.record
            .sha1()
            .map_or("(no urn)".to_string(), |s| s.to_urn()),
        file.holder,
        file.hops,
        file.at.saturating_sub(started).as_millis_f64()
    )
}
