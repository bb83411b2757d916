//! The live page `launch --ui` and `demo --ui` serve: the flood page (`view`) of a
//! config's peers, fed by the launch's live trace (`net::live_feed`).

use gnutella::net::live_feed::{LiveFeed, UiPage};
use gnutella::topology::TopologyConfig;
use gnutella::view::{render_live, LiveRows};

/// The page of `config`'s peers, laid out with its links (seed 1, as `view`'s default).
pub fn live_page(config: &TopologyConfig) -> UiPage {
    let ids: Vec<String> = config.peers.iter().map(|p| p.id.clone()).collect();
    let links: Vec<[u32; 2]> = config
        .links()
        .into_iter()
        .map(|(a, b)| [a as u32, b as u32])
        .collect();
    let note = "";
    let peers = ids.len();
    UiPage {
        html: render_live(&config.name, &ids, &links, 1, note),
        feed: LiveFeed::new(),
        encoder: Box::new(move || Box::new(LiveRows::new(peers))),
    }
}
