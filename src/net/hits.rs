//! Hits as a searching user sees them: one line per file, with who holds it and how far.
//!
//! A hit answered from a peer's result cache says so (the peer marks it, see
//! `protocol::cache_mark`): the holder named in it may lie beyond the query's TTL, so the
//! line shows how far the answering peer was and how far the holder was from it, rather
//! than pass the holder off as a peer the query reached.

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
    /// Hops to the peer that answered: the holder, or the peer that answered from its
    /// result cache.
    pub hops: u8,
    /// `Some(h)` for an answer from a result cache: the holder was `h` hops from the
    /// peer that answered.
    pub cached: Option<u8>,
    /// When the hit arrived at the searcher (driver time).
    pub at: Time,
    pub record: HitRecord,
}

impl FoundFile {
    pub fn holder_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.holder)
    }

    /// The JSON a `search --json` user gets for this file. `hops` is the distance to the
    /// peer that answered; `cached` says whether that peer answered from its result
    /// cache, and `holder_hops` how far the holder was from it (`null` when not cached).
    pub fn to_json(&self, started: Time) -> serde_json::Value {
        serde_json::json!({
            "name": self.record.name,
            "size": self.record.size,
            "urn": self.record.sha1().map(|s| s.to_urn()),
            "holder": self.holder.to_string(),
            "index": self.record.index,
            "hops": self.hops,
            "cached": self.cached.is_some(),
            "holder_hops": self.cached,
            "ms": self.at.saturating_sub(started).as_millis_f64(),
        })
    }
}

/// The files in a peer event, if it is a hit for one of that peer's searches.
pub fn files_of(event: &PeerEvent) -> Vec<FoundFile> {
    match &event.event {
        Event::HitReceived {
            guid,
            hops,
            hit,
            cached,
        } => hit
            .records
            .iter()
            .map(|record| FoundFile {
                guid: *guid,
                holder: SocketAddrV4::new(hit.ip, hit.port),
                servent: hit.servent_guid,
                hops: *hops,
                cached: *cached,
                at: event.at,
                record: record.clone(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A one-line description: name, size, SHA-1 URN, holder, how far, ms.
pub fn describe(n: usize, file: &FoundFile, started: Time) -> String {
    let distance = match file.cached {
        None => hops(file.hops),
        Some(holder) => format!(
            "cached: answered {} away, holder {} from that peer",
            hops(file.hops),
            hops(holder)
        ),
    };
    format!(
        "{n:>3}. {}  {} bytes  {}  from {}  {distance}  {:.1} ms",
        file.record.name,
        file.record.size,
        file.record
            .sha1()
            .map_or("(no SHA-1)".to_string(), |s| s.to_urn()),
        file.holder,
        file.at.saturating_sub(started).as_millis_f64()
    )
}

fn hops(n: u8) -> String {
    if n == 1 {
        "1 hop".into()
    } else {
        format!("{n} hops")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Extension, Sha1};

    fn file(cached: Option<u8>, extensions: Vec<Extension>) -> FoundFile {
        FoundFile {
            guid: Guid([1; 16]),
            holder: "10.0.0.7:6346".parse().unwrap(),
            servent: Guid([7; 16]),
            hops: 1,
            cached,
            at: Time::from_millis(3),
            record: HitRecord {
                index: 4,
                size: 99,
                name: "a.txt".into(),
                extensions,
            },
        }
    }

    #[test]
    fn a_cached_answer_is_labelled_with_both_distances() {
        let sha1 = Sha1::of_bytes(b"a");
        let direct = file(None, vec![Extension::Sha1(sha1)]);
        let line = describe(1, &direct, Time::ZERO);
        assert!(line.contains("from 10.0.0.7:6346  1 hop  3.0 ms"), "{line}");
        assert!(line.contains(&sha1.to_urn()), "{line}");
        assert!(!line.contains("cached"), "{line}");
        let json = direct.to_json(Time::ZERO);
        assert_eq!(json["cached"], false);
        assert!(json["holder_hops"].is_null());

        let cached = file(Some(5), vec![]);
        let line = describe(2, &cached, Time::ZERO);
        assert!(
            line.contains("from 10.0.0.7:6346  cached: answered 1 hop away, holder 5 hops"),
            "{line}"
        );
        assert!(line.contains("(no SHA-1)"), "{line}");
        let json = cached.to_json(Time::ZERO);
        assert_eq!(json["cached"], true);
        assert_eq!(json["holder_hops"], 5);
        assert_eq!(json["hops"], 1);
        assert!(json["urn"].is_null());
    }
}
