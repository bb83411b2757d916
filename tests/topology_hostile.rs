//! Whatever a topology file holds, loading it gives a value or an error, never a panic.

use proptest::prelude::*;

use gnutella::topology::{load, TopologyConfig};

const QUICKSTART: &str = include_str!("../topology-configs/quickstart.json");

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = load::parse(&text);
        let _ = TopologyConfig::parse(&text);
    }

    #[test]
    fn mutated_configs_never_panic(pos in 0usize..QUICKSTART.len(), byte in any::<u8>(), cut in 0usize..QUICKSTART.len()) {
        let mut bytes = QUICKSTART.as_bytes().to_vec();
        bytes[pos] = byte;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Ok(t) = load::parse(&text) {
            let _ = gnutella::topology::Stats::of(&t.graph, &Default::default());
        }
        let _ = load::parse(&QUICKSTART[..QUICKSTART.floor_char_boundary_compat(cut)]);
    }

    #[test]
    fn edge_lists_of_any_numbers_never_panic(pairs in prop::collection::vec((any::<i64>(), any::<i64>()), 0..50), junk in "[ \t#0-9a-z-]{0,20}") {
        let mut text: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
        text.push_str(&junk);
        if let Ok(t) = load::parse(&text) {
            prop_assert!(t.graph.node_count() <= 2 * pairs.len() + 2);
        }
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
