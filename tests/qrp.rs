//! The Query Routing Protocol end to end: a library's table sent as RESET + PATCH bytes,
//! decoded off the wire and rebuilt by a receiver, agrees with the library on what it can
//! answer; every hostile-table rule refuses with its own error (a zlib bomb included,
//! stopped at the first message); and a node that is sent a hostile table closes that
//! link only, with Bye 413.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, FlushCompress};
use gnutella::node::qrp_receiver::{QrpError, QrpProgress, QrpReceiver};
use gnutella::node::qrp_table::{QrpTable, MAX_BITS};
use gnutella::node::{
    ConnId, Library, Node, Output, PeerIdentity, PeerInfo, RoutingConfig, SharedFile, Time,
};
use gnutella::protocol::qrp::{Patch, RouteTableUpdate, COMPRESSOR_NONE, COMPRESSOR_ZLIB};
use gnutella::protocol::{Frame, FrameDecoder, Guid, Message, Payload, Query, Sha1};
use proptest::collection::vec;
use proptest::prelude::*;

fn library(names: &[String]) -> Library {
    Library::from_files(names.iter().enumerate().map(|(i, name)| SharedFile {
        index: i as u32,
        name: name.clone(),
        size: 1000,
        sha1: Sha1::of_bytes(name.as_bytes()),
    }))
}

/// The messages as they travel: TTL 1, hops 0, encoded, then cut out of one byte stream.
fn over_the_wire(updates: &[RouteTableUpdate]) -> Vec<RouteTableUpdate> {
    let mut wire = BytesMut::new();
    for update in updates {
        Message {
            guid: Guid([9; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::RouteTableUpdate(update.clone()),
        }
        .encode(&mut wire);
    }
    let mut decoder = FrameDecoder::new();
    let mut back = Vec::new();
    while let Some(frame) = decoder.decode(&mut wire).expect("within limits") {
        match frame {
            Frame::Message(Message {
                payload: Payload::RouteTableUpdate(u),
                ttl: 1,
                hops: 0,
                ..
            }) => back.push(u),
            other => panic!("not a route table update: {other:?}"),
        }
    }
    assert!(wire.is_empty());
    back
}

/// Applies every message; the receiver's table once the last one completes it.
fn receive(rx: &mut QrpReceiver, updates: &[RouteTableUpdate]) -> QrpTable {
    let mut last = None;
    for update in updates {
        last = Some(rx.apply(update).expect("our own table is accepted"));
    }
    assert_eq!(last, Some(QrpProgress::Complete));
    rx.table().expect("complete").clone()
}

const SYLLABLES: [&str; 12] = [
    "ka", "lo", "mi", "ra", "tu", "ne", "so", "vi", "x1", "Zé", "ñu", "音",
];

fn word() -> impl Strategy<Value = String> {
    vec(0..SYLLABLES.len(), 1..5).prop_map(|s| s.into_iter().map(|i| SYLLABLES[i]).collect())
}

fn name() -> impl Strategy<Value = String> {
    (
        vec(word(), 1..5),
        prop::sample::select(vec![" ", "_", "-", "."]),
    )
        .prop_map(|(words, sep)| words.join(sep))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Library -> table -> PATCH bytes -> decoder -> receiver gives the same table; and
    /// the table never refuses a query the library would answer (words of 3 characters
    /// or more, or the URN of a shared file).
    #[test]
    fn table_round_trips_and_never_refuses_what_the_library_answers(
        names in vec(name(), 0..40),
        queries in vec(vec(word(), 1..4), 1..40),
        bits in 8u8..=17,
    ) {
        let library = library(&names);
        let table = QrpTable::from_library_with_bits(&library, bits);
        let updates = over_the_wire(&table.update_messages(None));
        let received = receive(&mut QrpReceiver::new(), &updates);
        prop_assert_eq!(&received, &table);

        for words in queries {
            let words: Vec<String> =
                words.into_iter().filter(|w| w.chars().count() >= 3).collect();
            if words.is_empty() {
                continue;
            }
            let query = Query::keywords(&words.join(" "));
            if !library.search(&query, usize::MAX).is_empty() {
                prop_assert!(received.contains_query(&query), "{:?} refused", query.criteria);
            }
        }
        for file in library.files() {
            prop_assert!(received.contains_query(&Query::by_urn(file.sha1)));
        }
    }
}

/// A leaf whose library changes sends only the difference; the ultrapeer's table follows.
#[test]
fn incremental_updates_follow_the_library() {
    let before = library(&["debian netinst.iso".into(), "jazz standards.ogg".into()]);
    let after = library(&["debian netinst.iso".into(), "blues brothers.ogg".into()]);
    let (old, new) = (
        QrpTable::from_library(&before),
        QrpTable::from_library(&after),
    );
    let mut rx = QrpReceiver::new();
    assert_eq!(
        receive(&mut rx, &over_the_wire(&old.update_messages(None))),
        old
    );

    let patch = new.update_messages(Some(&old));
    assert!(
        !matches!(patch.first(), Some(RouteTableUpdate::Reset { .. })),
        "same size: no RESET"
    );
    assert_eq!(receive(&mut rx, &over_the_wire(&patch)), new);
    let table = rx.table().unwrap();
    assert!(table.contains_query(&Query::keywords("blues")));
    assert!(!table.contains_query(&Query::keywords("jazz")));
    assert!(
        new.update_messages(Some(&new)).is_empty(),
        "nothing changed"
    );
    // Another size: a RESET starts over.
    let small = QrpTable::from_library_with_bits(&after, 12);
    let resized = small.update_messages(Some(&new));
    assert!(matches!(
        resized.first(),
        Some(RouteTableUpdate::Reset {
            table_len: 4096,
            ..
        })
    ));
    assert_eq!(receive(&mut rx, &over_the_wire(&resized)), small);
}

/// A large, hard-to-compress table needs many PATCH messages; they arrive in order and
/// rebuild it exactly.
#[test]
fn a_table_of_many_messages_round_trips() {
    let names: Vec<String> = (0..20_000)
        .map(|i| format!("track{i} artist{} album{}", i * 7919 % 100_003, i % 977))
        .collect();
    let table = QrpTable::from_library_with_bits(&library(&names), 20);
    let updates = table.update_messages(None);
    assert!(updates.len() > 3, "{} messages", updates.len());
    assert_eq!(
        receive(&mut QrpReceiver::new(), &over_the_wire(&updates)),
        table
    );
}

/// A sparse table refuses most queries for words it does not hold.
#[test]
fn a_table_filters_most_absent_words() {
    let names: Vec<String> = (0..300)
        .map(|i| format!("song number{i} by band{i}"))
        .collect();
    let table = QrpTable::from_library(&library(&names));
    assert!(table.fill_ratio() < 0.05, "fill {}", table.fill_ratio());
    let passed = (0..1000)
        .filter(|i| table.contains_query(&Query::keywords(&format!("absentword{i}"))))
        .count();
    assert!(passed < 100, "{passed} of 1000 absent words passed");
}

// ----- hostile tables ----------------------------------------------------------------

fn reset(table_len: u32, infinity: u8) -> RouteTableUpdate {
    RouteTableUpdate::Reset {
        table_len,
        infinity,
    }
}

fn patch(
    seq_no: u8,
    seq_size: u8,
    compressor: u8,
    entry_bits: u8,
    data: &[u8],
) -> RouteTableUpdate {
    RouteTableUpdate::Patch(Patch {
        seq_no,
        seq_size,
        compressor,
        entry_bits,
        data: Bytes::copy_from_slice(data),
    })
}

/// Feeds `updates`; the first error (and after which message), if any.
fn first_error(updates: &[RouteTableUpdate]) -> Option<(usize, QrpError)> {
    let mut rx = QrpReceiver::new();
    updates
        .iter()
        .enumerate()
        .find_map(|(i, u)| rx.apply(u).err().map(|e| (i, e)))
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), true);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, FlushCompress::Finish)
        .unwrap();
    out
}

#[test]
fn each_hostile_rule_has_its_error() {
    let ok4 = [0u8; 4]; // 8 slots at 4 bits
    let cases: Vec<(&str, Vec<RouteTableUpdate>, QrpError)> = vec![
        (
            "length not a power of two",
            vec![reset(1000, 7)],
            QrpError::LengthNotPowerOfTwo(1000),
        ),
        (
            "zero length",
            vec![reset(0, 7)],
            QrpError::LengthNotPowerOfTwo(0),
        ),
        (
            "too large",
            vec![reset(1 << 22, 7)],
            QrpError::TableTooLarge {
                len: 1 << 22,
                max: 1 << 21,
            },
        ),
        ("infinity 0", vec![reset(8, 0)], QrpError::BadInfinity(0)),
        (
            "patch before reset",
            vec![patch(1, 1, 0, 4, &ok4)],
            QrpError::PatchBeforeReset,
        ),
        (
            "first patch not #1",
            vec![reset(8, 7), patch(2, 2, 0, 4, &ok4)],
            QrpError::OutOfOrder {
                got: 2,
                expected: 1,
            },
        ),
        (
            "patch skipped",
            vec![
                reset(16, 7),
                patch(1, 3, 0, 4, &ok4),
                patch(3, 3, 0, 4, &ok4),
            ],
            QrpError::OutOfOrder {
                got: 3,
                expected: 2,
            },
        ),
        (
            "sequence of zero messages",
            vec![reset(8, 7), patch(1, 0, 0, 4, &ok4)],
            QrpError::TooManyMessages {
                seq_no: 1,
                seq_size: 0,
            },
        ),
        (
            "seq_size changed",
            vec![
                reset(16, 7),
                patch(1, 2, 0, 4, &ok4),
                patch(2, 3, 0, 4, &ok4),
            ],
            QrpError::SeqSizeChanged { was: 2, got: 3 },
        ),
        (
            "entry bits changed",
            vec![
                reset(16, 7),
                patch(1, 2, 0, 4, &ok4),
                patch(2, 2, 0, 8, &ok4),
            ],
            QrpError::EntryBitsChanged { was: 4, got: 8 },
        ),
        (
            "compressor changed",
            vec![
                reset(16, 7),
                patch(1, 2, 0, 4, &ok4),
                patch(2, 2, 1, 4, &ok4),
            ],
            QrpError::CompressorChanged { was: 0, got: 1 },
        ),
        (
            "entry bits 3",
            vec![reset(8, 7), patch(1, 1, 0, 3, &ok4)],
            QrpError::BadEntryBits(3),
        ),
        (
            "entry bits 0",
            vec![reset(8, 7), patch(1, 1, 0, 0, &ok4)],
            QrpError::BadEntryBits(0),
        ),
        (
            "unknown compressor",
            vec![reset(8, 7), patch(1, 1, 2, 4, &ok4)],
            QrpError::BadCompressor(2),
        ),
        (
            "more data than slots",
            vec![reset(8, 7), patch(1, 1, 0, 4, &[0; 5])],
            QrpError::Overflow { slots: 8 },
        ),
        (
            "more data than slots, spread over messages",
            vec![
                reset(8, 7),
                patch(1, 2, 0, 4, &ok4),
                patch(2, 2, 0, 4, &[0]),
            ],
            QrpError::Overflow { slots: 8 },
        ),
        (
            "fewer data than slots",
            vec![reset(16, 7), patch(1, 1, 0, 4, &ok4)],
            QrpError::Incomplete {
                covered: 8,
                slots: 16,
            },
        ),
        (
            "inflated to less than the table",
            vec![reset(16, 7), patch(1, 1, 1, 4, &zlib(&ok4))],
            QrpError::Incomplete {
                covered: 8,
                slots: 16,
            },
        ),
        (
            "inflated to more than the table",
            vec![reset(8, 7), patch(1, 1, 1, 4, &zlib(&[0; 5]))],
            QrpError::Overflow { slots: 8 },
        ),
        (
            "zlib stream ends before the last message",
            vec![reset(16, 7), patch(1, 2, 1, 4, &zlib(&[0; 8]))],
            QrpError::EarlyStreamEnd {
                seq_no: 1,
                seq_size: 2,
            },
        ),
    ];
    for (what, updates, expected) in cases {
        let (at, error) = first_error(&updates).unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(error, expected, "{what}");
        assert_eq!(at, updates.len() - 1, "{what}: refused at its last message");
        assert!(!error.to_string().is_empty());
    }
    // Not zlib at all.
    let garbage = [reset(8, 7), patch(1, 1, COMPRESSOR_ZLIB, 4, b"not zlib")];
    assert!(matches!(
        first_error(&garbage),
        Some((1, QrpError::Inflate { .. }))
    ));
}

/// A zlib stream that inflates to gigabytes: ~1 KiB blocks that each inflate to 1 MiB
/// of zeros, repeated in 255 PATCH messages of 64 repetitions (about 16 MB on the wire,
/// 16 GiB inflated). The largest table we accept (2^21 slots at 8 bits: 2 MiB) is full
/// after the first 2 blocks, so the receiver refuses inside the first message, having
/// inflated at most the table and one 4 KiB chunk more.
#[test]
fn a_decompression_bomb_is_refused_at_its_first_message() {
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), true);
    let mut head = Vec::with_capacity(1 << 16);
    c.compress_vec(&zeros, &mut head, FlushCompress::Sync)
        .unwrap();
    let mut block = Vec::with_capacity(1 << 16);
    c.compress_vec(&zeros, &mut block, FlushCompress::Sync)
        .unwrap();
    assert!(block.len() < 2048, "a block of {} bytes", block.len());
    let mut first = head.clone();
    for _ in 0..63 {
        first.extend_from_slice(&block);
    }
    let rest: Vec<u8> = block.repeat(64);
    let seq_size = 255u8;
    let mut updates = vec![reset(1 << MAX_BITS, 7)];
    updates.push(patch(1, seq_size, COMPRESSOR_ZLIB, 8, &first));
    for seq_no in 2..=seq_size {
        updates.push(patch(seq_no, seq_size, COMPRESSOR_ZLIB, 8, &rest));
    }
    let on_the_wire: usize = first.len() + rest.len() * 254;
    assert!(on_the_wire < 20 << 20, "{on_the_wire} bytes");

    let started = Instant::now();
    let mut rx = QrpReceiver::new();
    assert_eq!(rx.apply(&updates[0]), Ok(QrpProgress::Reset));
    assert_eq!(
        rx.apply(&updates[1]),
        Err(QrpError::Overflow { slots: 1 << 21 })
    );
    // Generous: the point is that it does not inflate 16 GiB (minutes), not a timing.
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(rx.table().is_none());

    // The same bomb through the node: that link is closed with Bye 413.
    let mut node = node_with_links(&[1, 2]);
    for update in &updates[..2] {
        node.on_message(T0, ConnId(1), qrp_message(update.clone()));
    }
    let closes = drain_closes(&mut node);
    assert_eq!(closes.len(), 1);
    let (conn, code, text) = &closes[0];
    assert_eq!((*conn, *code), (ConnId(1), 413));
    assert!(text.contains("overflows"), "{text}");
    assert_eq!(node.neighbours().collect::<Vec<_>>(), [ConnId(2)]);
    assert_eq!(node.counters().bad_payload, 1);
}

// ----- through a node ----------------------------------------------------------------

const T0: Time = Time(0);

fn qrp_message(update: RouteTableUpdate) -> Message {
    Message {
        guid: Guid([3; 16]),
        ttl: 1,
        hops: 0,
        payload: Payload::RouteTableUpdate(update),
    }
}

fn node_with_links(links: &[u32]) -> Node {
    let mut node = Node::new(
        Arc::new(RoutingConfig::default()),
        PeerIdentity::of_seed(7),
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6346),
        Library::new(),
    );
    for &l in links {
        node.on_connected(
            T0,
            ConnId(l),
            PeerInfo {
                listen_addr: None,
                accepts_bye: true,
                servent_guid: None,
                ..PeerInfo::default()
            },
        );
    }
    drain_closes(&mut node);
    node
}

/// Drains the node's outputs; the links it closed with a Bye: (link, code, text).
fn drain_closes(node: &mut Node) -> Vec<(ConnId, u16, String)> {
    let mut closes = Vec::new();
    loop {
        match node.poll_output() {
            Output::Timeout(_) => return closes,
            Output::Close { conn, bye } => {
                let bye = bye.expect("a Bye says why");
                closes.push((conn, bye.code, bye.message));
            }
            _ => {}
        }
    }
}

/// A leaf's table, sent as bytes to a node, is the table the node keeps for that link;
/// a hostile one on another link closes only that link.
#[test]
fn a_node_keeps_each_links_table_and_drops_a_hostile_one() {
    let leaf = library(&["Ünïcode Ñame.txt".into(), "debian netinst.iso".into()]);
    let table = QrpTable::from_library(&leaf);
    let mut node = node_with_links(&[1, 2, 3]);
    for update in over_the_wire(&table.update_messages(None)) {
        node.on_message(T0, ConnId(1), qrp_message(update));
    }
    assert!(drain_closes(&mut node).is_empty());
    let seen = node.neighbour_qrp_table(ConnId(1)).expect("complete");
    assert_eq!(seen, &table);
    assert!(seen.contains_query(&Query::keywords("unicode name")));
    assert!(seen.contains_query(&Query::keywords("netinst")));
    assert!(!seen.contains_query(&Query::keywords("ubuntu")));
    assert!(node.neighbour_qrp_table(ConnId(2)).is_none());

    // Link 2 patches before any RESET; link 3 sends a QRP message with hops 1 (dropped,
    // not a reason to close).
    node.on_message(
        T0,
        ConnId(2),
        qrp_message(patch(1, 1, COMPRESSOR_NONE, 4, &[0; 4])),
    );
    let mut relayed = qrp_message(reset(8, 7));
    relayed.hops = 1;
    node.on_message(T0, ConnId(3), relayed);
    let closes = drain_closes(&mut node);
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!((closes[0].0, closes[0].1), (ConnId(2), 413));
    assert_eq!(
        node.neighbours().collect::<Vec<_>>(),
        [ConnId(1), ConnId(3)]
    );
    assert!(
        node.neighbour_qrp_table(ConnId(1)).is_some(),
        "link 1 keeps its table"
    );
    assert_eq!(node.counters().bad_ttl, 1);

    // A RESET drops the link's table until the new sequence completes.
    node.on_message(T0, ConnId(1), qrp_message(reset(8, 7)));
    assert!(node.neighbour_qrp_table(ConnId(1)).is_none());
    node.on_disconnected(T0, ConnId(1));
    assert!(node.neighbour_qrp_table(ConnId(1)).is_none());
}

/// Figures for the report, not a check (`--ignored`): for libraries of 100 to 10,000
/// files named from a 5,000-word vocabulary, the table's fill, how many bytes its RESET +
/// PATCH messages take on the wire, and how many queries for absent words it lets
/// through. `cargo test --release --test qrp -- --ignored --nocapture qrp_figures`
#[test]
#[ignore]
fn qrp_figures() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
    let word = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
        (0..rng.gen_range(4..10))
            .map(|_| rng.gen_range(b'a'..=b'z') as char)
            .collect()
    };
    let vocabulary: Vec<String> = (0..5000).map(|_| word(&mut rng)).collect();
    let absent: Vec<String> = (0..10_000).map(|_| word(&mut rng)).collect();
    println!("files  distinct-words  bits  fill%  messages  wire-bytes  build-ms  receive-ms  absent-passed%");
    for files in [100usize, 1000, 10_000] {
        let names: Vec<String> = (0..files)
            .map(|_| {
                (0..rng.gen_range(3..7))
                    .map(|_| vocabulary[rng.gen_range(0..vocabulary.len())].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let distinct: std::collections::BTreeSet<&str> =
            names.iter().flat_map(|n| n.split(' ')).collect();
        let library = library(&names);
        for bits in [16u8, 17, 20] {
            let started = Instant::now();
            let table = QrpTable::from_library_with_bits(&library, bits);
            let build = started.elapsed();
            let updates = table.update_messages(None);
            let wire: usize = updates
                .iter()
                .map(|u| {
                    Message {
                        guid: Guid([0; 16]),
                        ttl: 1,
                        hops: 0,
                        payload: Payload::RouteTableUpdate(u.clone()),
                    }
                    .encoded_len()
                })
                .sum();
            let started = Instant::now();
            let received = receive(&mut QrpReceiver::new(), &updates);
            let receive_time = started.elapsed();
            assert_eq!(received, table);
            let passed = absent
                .iter()
                .filter(|w| !distinct.contains(w.as_str()))
                .filter(|w| table.contains_query(&Query::keywords(w)))
                .count();
            println!(
                "{files:>5}  {:>14}  {bits:>4}  {:>5.1}  {:>8}  {wire:>10}  {:>8.1}  {:>10.1}  {:>14.1}",
                distinct.len(),
                100.0 * table.fill_ratio(),
                updates.len(),
                build.as_secs_f64() * 1e3,
                receive_time.as_secs_f64() * 1e3,
                100.0 * passed as f64 / absent.len() as f64,
            );
        }
    }
}
