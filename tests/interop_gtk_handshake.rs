//! Conformance to gtk-gnutella's source, on both sides of the two-tier handshake
//! (issue 12; docs/interop.md).
//!
//! gtk-gnutella cannot be installed or built here, so these tests replay what its source
//! sends (the header sets of `nodes.c`: `node_init_outgoing` for its hello,
//! `node_process_handshake_header` for its replies and final acks; the QRP messages of
//! `qrp.c`) against a live peer of ours on 127.0.0.1, and check our bytes against the
//! conditions that source applies to them (`gtk_leaf_verdict`, `gtk_ultrapeer_verdict`,
//! `gtk_qrp_rules`). This is conformance to gtk-gnutella's source as read, not a run
//! against gtk-gnutella itself.

mod live_support;

use std::net::SocketAddrV4;
use std::sync::Arc;

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use gnutella::net::handshake::{connect, HandshakeLimits};
use gnutella::node::qrp_receiver::{QrpProgress, QrpReceiver};
use gnutella::node::Role;
use gnutella::protocol::handshake::{parse_response, Headers, Limits, Parsed, Response, Version};
use gnutella::protocol::qrp::hash;
use gnutella::protocol::{
    Frame, FrameDecoder, Guid, Message, Patch, Payload, Query, RouteTableUpdate,
};
use live_support::peer_process::PeerProcess;
use live_support::{as_role, bounded};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// gtk-gnutella's `User-Agent` (`version_string`): the vendor prefix `gtk-gnutella/`
/// matters (`node_extract_user_agent` spots gtk-gnutella peers by it).
const GTKG_AGENT: &str = "gtk-gnutella/1.2.3 (2024-03-10; GTK2; Linux x86_64)";

/// What gtk-gnutella sends when it dials (`nodes.c`, `node_init_outgoing`, Gnutella
/// branch), as a leaf or as an ultrapeer. A **leaf** adds the LimeWire "hack" headers
/// (`X-Dynamic-Querying`, `X-Ultrapeer-Query-Routing`, `X-Degree: 32`, `X-Max-TTL: 4`)
/// and no `X-Ext-Probes`; an **ultrapeer** says `X-Ultrapeer-Query-Routing`, `X-Degree`
/// = `(up_connections + max_connections - normal_connections) / 2` (32 with 32/32/0),
/// `X-Max-TTL` = its `max_ttl`, `X-Dynamic-Querying` and `X-Ext-Probes`. `X-Features`
/// comes from `header_features_generate` (its list depends on the build; these are two
/// it always has).
fn gtk_hello(ultrapeer: bool, listen: SocketAddrV4, guid: &str) -> String {
    let role_headers = if ultrapeer {
        "X-Ultrapeer: True\r\n\
         X-Ultrapeer-Query-Routing: 0.1\r\n\
         X-Degree: 32\r\n\
         X-Max-TTL: 4\r\n\
         X-Dynamic-Querying: 0.1\r\n\
         X-Ext-Probes: 0.1\r\n"
    } else {
        "X-Ultrapeer: False\r\n\
         X-Dynamic-Querying: 0.1\r\n\
         X-Ultrapeer-Query-Routing: 0.1\r\n\
         X-Degree: 32\r\n\
         X-Max-TTL: 4\r\n"
    };
    format!(
        "GNUTELLA CONNECT/0.6\r\n\
         Node: {listen}\r\n\
         Remote-IP: 127.0.0.1\r\n\
         User-Agent: {GTKG_AGENT}\r\n\
         Pong-Caching: 0.1\r\n\
         Bye-Packet: 0.1\r\n\
         GGEP: 0.5\r\n\
         GUID: {guid}\r\n\
         Vendor-Message: 0.2\r\n\
         X-Query-Routing: 0.2\r\n\
         X-Requeries: False\r\n\
         Upgrade: TLS/1.0\r\n\
         Accept-Encoding: deflate\r\n\
         X-Token: MTIzNDU2Nzg5MA==\r\n\
         X-Live-Since: Mon, 30 Nov 2026 00:00:00 +0000\r\n\
         {role_headers}\
         X-Features: tls/1.0, sflag/0.1\r\n\
         \r\n"
    )
}

fn gtk_leaf_hello(listen: SocketAddrV4, guid: &str) -> String {
    gtk_hello(false, listen, guid)
}

fn gtk_ultrapeer_hello(listen: SocketAddrV4, guid: &str) -> String {
    gtk_hello(true, listen, guid)
}

/// gtk-gnutella's final acknowledgment after our 200 (`node_process_handshake_header`,
/// outgoing branch): `Content-Encoding: deflate` since we said `Accept-Encoding:
/// deflate`; `X-Query-Routing` only when we claimed more than 0.2.
const GTKG_FINAL_ACK: &[u8] = b"GNUTELLA/0.6 200 OK\r\nContent-Encoding: deflate\r\n\r\n";

/// `parse_major_minor` of a version header, as gtk-gnutella reads it.
fn version(h: &Headers, name: &str) -> Option<Version> {
    h.get_version(name)
}

/// The checks gtk-gnutella's `node_process_handshake_header` (and the
/// `node_can_accept_connection` and `node_is_bad` it calls) applies, common to both
/// roles, to the reply a peer sends to its hello. `Err` is the status it would answer.
fn gtk_common_verdict(answer: &Response) -> Result<(), String> {
    // analyse_status: only 2xx goes on (204 is "Shielded node").
    if answer.code != 200 {
        return Err(format!(
            "HELLO reply error {} ({})",
            answer.code, answer.reason
        ));
    }
    let h = &answer.headers;
    // Accept: when present it must list Gnutella (node_send_protocol_not_acceptable).
    if h.get("Accept").is_some() && !h.has_token("Accept", "application/x-gnutella-packets") {
        return Err("406 Protocol not acceptable".into());
    }
    // Connection: Upgrade without an Upgrade we asked for: 400 / 409.
    if h.get("Connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("upgrade"))
    {
        return Err("400 Upgrade Header Missing".into());
    }
    // Closed networks are declined.
    if h.contains("X-Auth-Challenge") || h.contains("FP-Auth-Challenge") {
        return Err("403 Not a network member".into());
    }
    // node_is_bad: a relay without a vendor string.
    if h.get("User-Agent").map_or(true, |a| a.trim().is_empty()) {
        return Err("403 No vendor string supplied".into());
    }
    // GUID: garbage is only warned about, but ours must be well formed to be used.
    if let Some(guid) = h.get("GUID") {
        if guid.len() != 32 || !guid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("garbage GUID header {guid:?}"));
        }
    }
    // node_finalize_3way / the final ack: a QRP version above 0.2 is not spoken.
    if let Some(v) = version(h, "X-Query-Routing") {
        if v > (Version { major: 0, minor: 2 }) {
            return Err(format!("505 Query Routing protocol {v} not supported"));
        }
    }
    // prefer_compressed_gnet (on by default): an uncompressed link is refused, to a leaf
    // at once ("Gnet connection not compressed"), to an ultrapeer once its
    // up_connections are taken ("Compressed connection preferred").
    if !h.has_token("Accept-Encoding", "deflate") {
        return Err("403 Gnet connection not compressed".into());
    }
    Ok(())
}

/// What a gtk-gnutella **leaf** requires of the ultrapeer answering it, on top of
/// [`gtk_common_verdict`] (`node_process_handshake_header`, `node_can_accept_connection`
/// in `NODE_P_LEAF` mode).
fn gtk_leaf_verdict(answer: &Response) -> Result<(), String> {
    gtk_common_verdict(answer)?;
    let h = &answer.headers;
    // X-Ultrapeer: True, or (BearShare) no X-Ultrapeer but an X-Ultrapeer-Needed.
    let ultra = match h.get("X-Ultrapeer") {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => h.contains("X-Ultrapeer-Needed"),
    };
    if !ultra {
        return Err("204 Shielded leaf node".into());
    }
    // X-Degree: 1..=1000 taken as is (else max_connections), absent = 8
    // (NODE_LEGACY_DEGREE); X-Dynamic-Querying sets NODE_A_DYN_QUERY for an ultra node.
    let degree = match h.get_number::<u32>("X-Degree") {
        Some(d) if (1..=1000).contains(&d) => d,
        Some(_) => 0,
        None => 8,
    };
    let dyn_query = version(h, "X-Dynamic-Querying").is_some();
    if degree < 2 * 8 || !dyn_query {
        return Err("403 High Outdegree and Dynamic Querying Required".into());
    }
    // X-Max-TTL must parse in 1..=255 (else gtk-gnutella uses its own, with a warning).
    if let Some(ttl) = h.get("X-Max-TTL") {
        match ttl.trim().parse::<u32>() {
            Ok(t) if (1..=255).contains(&t) => {}
            _ => return Err(format!("bad X-Max-TTL {ttl:?}")),
        }
    }
    Ok(())
}

/// What a gtk-gnutella **ultrapeer** requires of a leaf answering it, on top of
/// [`gtk_common_verdict`]: it must say `X-Ultrapeer: False` to be taken as a leaf
/// (`NODE_F_LEAF`; any other answer makes it an ultrapeer link).
fn gtk_ultrapeer_verdict(answer: &Response) -> Result<(), String> {
    gtk_common_verdict(answer)?;
    match answer.headers.get("X-Ultrapeer") {
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(()),
        other => Err(format!("not a leaf: X-Ultrapeer {other:?}")),
    }
}

/// Reads one handshake block (our reply); returns it and the bytes read past it.
async fn read_reply(stream: &mut TcpStream) -> (Response, BytesMut) {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Parsed::Done { consumed, value } =
            parse_response(&buf, &Limits::default()).expect("a well-formed reply")
        {
            let _ = buf.split_to(consumed);
            return (value, buf);
        }
        let n = stream.read_buf(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before replying; got {:?}",
            String::from_utf8_lossy(&buf)
        );
    }
}

/// One direction of a deflated link, read: the zlib stream inflated as it comes.
struct Inflated {
    z: Decompress,
    plain: BytesMut,
    decoder: FrameDecoder,
}

impl Inflated {
    fn new(already: &[u8]) -> Inflated {
        let mut me = Inflated {
            z: Decompress::new(true),
            plain: BytesMut::new(),
            decoder: FrameDecoder::new(),
        };
        me.feed(already);
        me
    }

    fn feed(&mut self, mut input: &[u8]) {
        let mut out = vec![0u8; 64 * 1024];
        while !input.is_empty() {
            let before = self.z.total_in();
            let produced_before = self.z.total_out();
            self.z
                .decompress(input, &mut out, FlushDecompress::Sync)
                .expect("our deflated stream inflates");
            let used = (self.z.total_in() - before) as usize;
            let made = (self.z.total_out() - produced_before) as usize;
            self.plain.extend_from_slice(&out[..made]);
            input = &input[used..];
            if used == 0 && made == 0 {
                break;
            }
        }
    }

    /// The next message, reading the socket as needed.
    async fn next(&mut self, stream: &mut TcpStream) -> Message {
        loop {
            if let Some(Frame::Message(msg)) = self
                .decoder
                .decode(&mut self.plain)
                .expect("a clean stream")
            {
                return msg;
            }
            let mut more = vec![0u8; 16 * 1024];
            let n = stream.read(&mut more).await.unwrap();
            assert!(n > 0, "the link closed");
            self.feed(&more[..n]);
        }
    }
}

/// Deflates what a gtk-gnutella peer writes on a compressed link (one zlib stream,
/// `Z_SYNC_FLUSH` after each write, as its `tx_deflate` layer flushes).
fn deflate(z: &mut Compress, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() + 64);
    let mut input = plain;
    loop {
        let mut chunk = vec![0u8; 64 * 1024];
        let before_in = z.total_in();
        let before_out = z.total_out();
        z.compress(input, &mut chunk, FlushCompress::Sync).unwrap();
        let used = (z.total_in() - before_in) as usize;
        let made = (z.total_out() - before_out) as usize;
        out.extend_from_slice(&chunk[..made]);
        input = &input[used..];
        if input.is_empty() && made < chunk.len() {
            return out;
        }
    }
}

/// A gtk-gnutella leaf's QRP table for `words`, as `qrp.c` sends it to an ultrapeer:
/// RESET with its local infinity (`LOCAL_INFINITY` = 2), then 4-bit PATCH entries
/// (present = 1 - 2 = -1, nibble 0xF; high nibble first), zlib-compressed and cut in
/// messages of at most 512 bytes, `seq_no` from 1; every message TTL 1, hops 0.
fn gtk_leaf_table(words: &[&str], bits: u8) -> Vec<u8> {
    let slots = 1usize << bits;
    let mut nibbles = vec![0u8; slots / 2];
    for word in words {
        let slot = hash(word, bits) as usize;
        let byte = &mut nibbles[slot / 2];
        *byte |= if slot % 2 == 0 { 0xF0 } else { 0x0F };
    }
    let mut z = Compress::new(Compression::default(), true);
    let mut packed = vec![0u8; slots];
    z.compress(&nibbles, &mut packed, FlushCompress::Finish)
        .unwrap();
    packed.truncate(z.total_out() as usize);
    let pieces: Vec<&[u8]> = packed.chunks(512).collect();
    let mut out = BytesMut::new();
    let mut send = |update: RouteTableUpdate| {
        Message {
            guid: Guid([0x51; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::RouteTableUpdate(update),
        }
        .encode(&mut out)
    };
    send(RouteTableUpdate::Reset {
        table_len: slots as u32,
        infinity: 2,
    });
    for (i, piece) in pieces.iter().enumerate() {
        send(RouteTableUpdate::Patch(Patch {
            seq_no: (i + 1) as u8,
            seq_size: pieces.len() as u8,
            compressor: 1,
            entry_bits: 4,
            data: bytes::Bytes::copy_from_slice(piece),
        }));
    }
    out.to_vec()
}

fn query(guid: u8, words: &str) -> Vec<u8> {
    let mut out = BytesMut::new();
    Message {
        guid: Guid([guid; 16]),
        ttl: 2,
        hops: 0,
        payload: Payload::Query(Arc::new(Query::keywords(words))),
    }
    .encode(&mut out);
    out.to_vec()
}

/// `gnutella peer --role ultrapeer`, with nothing else said, is an ultrapeer a
/// gtk-gnutella leaf accepts; the leaf's gtk-format table (infinity 2, 4-bit, 512-byte
/// zlib pieces) is taken, and routes to it only the queries it matches.
#[tokio::test]
async fn a_gtk_leaf_takes_our_ultrapeer_and_its_table_routes_queries() {
    bounded("gtk leaf under our ultrapeer", async {
        let mut up = PeerProcess::start(&["--listen", "127.0.0.1:0", "--role", "ultrapeer"]);
        let addr = up.listening().await;

        let mut leaf = TcpStream::connect(addr).await.unwrap();
        let hello = gtk_leaf_hello(
            "127.0.0.1:7001".parse().unwrap(),
            "0123456789ABCDEF0123456789ABCDEF",
        );
        leaf.write_all(hello.as_bytes()).await.unwrap();
        let (answer, rest) = read_reply(&mut leaf).await;
        assert_eq!(gtk_leaf_verdict(&answer), Ok(()), "{answer:?}");
        let h = &answer.headers;
        assert!(h.get_number::<u32>("X-Degree").unwrap() >= 16);
        assert_eq!(h.get("X-Dynamic-Querying"), Some("0.1"));
        assert_eq!(
            h.get("X-Ultrapeer-Needed"),
            Some("True"),
            "it has ultrapeer room"
        );
        assert_eq!(h.get("Content-Encoding"), Some("deflate"));
        leaf.write_all(GTKG_FINAL_ACK).await.unwrap();

        // The leaf's table, on its deflated stream.
        let mut z = Compress::new(Compression::default(), true);
        let table = gtk_leaf_table(&["ocean", "waves"], 16);
        leaf.write_all(&deflate(&mut z, &table)).await.unwrap();
        let mut from_up = Inflated::new(&rest);

        // Queries from another ultrapeer: only those the table matches reach the leaf.
        // The first may come before the table is in; it is sent again until one arrives.
        let mut other = TcpStream::connect(addr).await.unwrap();
        connect(
            &mut other,
            &as_role(Role::Ultrapeer, 7002),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("our ultrapeer takes another");
        let mut next_guid = 0x10u8;
        let first = loop {
            next_guid += 1;
            other
                .write_all(&query(next_guid, "ocean waves"))
                .await
                .unwrap();
            let wait = tokio::time::sleep(std::time::Duration::from_millis(300));
            tokio::pin!(wait);
            let got = tokio::select! {
                msg = async {
                    loop {
                        let msg = from_up.next(&mut leaf).await;
                        if matches!(msg.payload, Payload::Query(_)) {
                            break msg;
                        }
                    }
                } => Some(msg),
                _ = &mut wait => None,
            };
            if let Some(msg) = got {
                break msg;
            }
        };
        assert_eq!(first.hops, 1);
        let Payload::Query(q) = &first.payload else {
            unreachable!()
        };
        assert_eq!(q.criteria.as_str(), "ocean waves");

        // A miss is not sent to the leaf; a later match is.
        other.write_all(&query(0xA1, "desert sand")).await.unwrap();
        other.write_all(&query(0xA2, "waves")).await.unwrap();
        let next = loop {
            let msg = from_up.next(&mut leaf).await;
            if matches!(msg.payload, Payload::Query(_)) && msg.guid.0[0] >= 0xA1 {
                break msg;
            }
        };
        assert_eq!(next.guid, Guid([0xA2; 16]), "the miss came first: {next:?}");
        up.stop().await;
    })
    .await;
}

/// The same checks refuse an ultrapeer that floods: without dynamic querying it may
/// not say `X-Dynamic-Querying`, and a gtk-gnutella leaf says 403.
#[tokio::test]
async fn a_flooding_ultrapeer_is_one_gtk_leaves_refuse() {
    bounded("flooding ultrapeer", async {
        let mut up = PeerProcess::start(&[
            "--listen",
            "127.0.0.1:0",
            "--role",
            "ultrapeer",
            "--strategy",
            "flood",
        ]);
        let addr = up.listening().await;
        let mut leaf = TcpStream::connect(addr).await.unwrap();
        let hello = gtk_leaf_hello(
            "127.0.0.1:7003".parse().unwrap(),
            "1123456789ABCDEF0123456789ABCDEF",
        );
        leaf.write_all(hello.as_bytes()).await.unwrap();
        let (answer, _) = read_reply(&mut leaf).await;
        assert_eq!(
            gtk_leaf_verdict(&answer),
            Err("403 High Outdegree and Dynamic Querying Required".to_string())
        );
        up.stop().await;
    })
    .await;
}

/// gtk-gnutella's QRP rules on a leaf's messages (`qrp.c`, `qrt_handle_reset`,
/// `qrt_handle_patch`; `nodes.c`, `node_parse`): TTL <= 1 and hops 0; RESET length a
/// power of two, infinity >= 1; PATCH `seq_no` from 1 in order, `seq_size` and entry
/// bits fixed by the first, entry bits 1, 2, 4 or 8. Returns the updates in order.
fn gtk_qrp_rules(msgs: &[Message]) -> Result<(), String> {
    let mut expected = None::<(u8, u8, u8)>; // (next seq_no, seq_size, entry_bits)
    for msg in msgs {
        if msg.hops != 0 || msg.ttl > 1 {
            return Err(format!("QRP with TTL {} hops {}", msg.ttl, msg.hops));
        }
        let Payload::RouteTableUpdate(update) = &msg.payload else {
            continue;
        };
        match update {
            RouteTableUpdate::Reset {
                table_len,
                infinity,
            } => {
                if !table_len.is_power_of_two() {
                    return Err(format!("413 Invalid QRP table length {table_len}"));
                }
                if *infinity < 1 {
                    return Err(format!("413 Invalid QRP infinity {infinity}"));
                }
                expected = Some((1, 0, 0));
            }
            RouteTableUpdate::Patch(p) => {
                let Some((next, size, bits)) = expected else {
                    return Err("413 No QRP RESET received before PATCH".into());
                };
                if p.seq_no != next {
                    return Err(format!("413 Invalid QRP seq number {}", p.seq_no));
                }
                if next > 1 && (p.seq_size != size || p.entry_bits != bits) {
                    return Err("413 Changed QRP seq size or entry bits".into());
                }
                if ![1, 2, 4, 8].contains(&p.entry_bits) {
                    return Err(format!("413 Invalid QRP entry bits {}", p.entry_bits));
                }
                expected = Some((next + 1, p.seq_size, p.entry_bits));
            }
        }
    }
    Ok(())
}

/// `gnutella peer --role leaf`, dialled by a gtk-gnutella ultrapeer: its reply passes
/// gtk-gnutella's checks, it never sends a message with hops > 0 (gtk-gnutella says Bye
/// 414 "Leaf node relayed"), and its table passes gtk-gnutella's QRP rules and holds its
/// shared words.
#[tokio::test]
async fn a_gtk_ultrapeer_takes_our_leaf_and_its_table() {
    bounded("our leaf under a gtk ultrapeer", async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ocean-waves.ogg"), b"not really audio").unwrap();
        let share = dir.path().to_str().unwrap();
        let mut leaf = PeerProcess::start(&[
            "--listen",
            "127.0.0.1:0",
            "--role",
            "leaf",
            "--share",
            share,
        ]);
        let addr = leaf.listening().await;

        let mut up = TcpStream::connect(addr).await.unwrap();
        let hello = gtk_ultrapeer_hello(
            "127.0.0.1:7004".parse().unwrap(),
            "2123456789ABCDEF0123456789ABCDEF",
        );
        up.write_all(hello.as_bytes()).await.unwrap();
        let (answer, rest) = read_reply(&mut up).await;
        assert_eq!(gtk_ultrapeer_verdict(&answer), Ok(()), "{answer:?}");
        assert_eq!(answer.headers.get("Content-Encoding"), Some("deflate"));
        up.write_all(GTKG_FINAL_ACK).await.unwrap();

        let mut from_leaf = Inflated::new(&rest);
        let mut updates = Vec::new();
        let mut rx = QrpReceiver::new();
        let table = loop {
            let msg = from_leaf.next(&mut up).await;
            assert_eq!(msg.hops, 0, "a leaf relayed: {msg:?}");
            if let Payload::RouteTableUpdate(update) = &msg.payload {
                let done = rx.apply(update).expect("our own receiver's rules");
                updates.push(msg.clone());
                if done == QrpProgress::Complete {
                    break rx.table().cloned().unwrap();
                }
            }
        };
        assert_eq!(gtk_qrp_rules(&updates), Ok(()));
        assert!(table.contains_word("ocean") && table.contains_word("waves"));
        leaf.stop().await;
    })
    .await;
}

/// A refusal as gtk-gnutella writes one (`send_error`): our user agent, the address we
/// see, our role (not on a 4xx) and hosts to try; a leaf that finds our ultrapeer full
/// learns where to go.
#[tokio::test]
async fn a_full_ultrapeer_refuses_a_gtk_leaf_as_gtk_gnutella_would() {
    bounded("full ultrapeer", async {
        let config = gnutella::topology::TopologyConfig::parse(
            r#"{"name": "full", "defaults": {"role": "ultrapeer", "max_leaves": 1,
                "strategy": {"kind": "dynamic"}},
                "peers": [{"id": "u0", "listen": "127.0.0.1:0", "neighbours": ["u1"]},
                          {"id": "u1", "listen": "127.0.0.1:0"}]}"#,
        )
        .unwrap();
        let mut network = live_support::start(config).await;
        let u0 = network.peers()[0].listen;
        let u1 = network.peers()[1].listen;

        let mut first = TcpStream::connect(u0).await.unwrap();
        let hello = gtk_leaf_hello("127.0.0.1:7005".parse().unwrap(), &"3".repeat(32));
        first.write_all(hello.as_bytes()).await.unwrap();
        let (answer, _) = read_reply(&mut first).await;
        assert_eq!(gtk_leaf_verdict(&answer), Ok(()), "{answer:?}");
        assert_eq!(
            answer.headers.get("X-Ultrapeer-Needed"),
            Some("True"),
            "one ultrapeer link of 32"
        );
        first.write_all(GTKG_FINAL_ACK).await.unwrap();

        let mut second = TcpStream::connect(u0).await.unwrap();
        let hello = gtk_leaf_hello("127.0.0.1:7006".parse().unwrap(), &"4".repeat(32));
        second.write_all(hello.as_bytes()).await.unwrap();
        let (refusal, _) = read_reply(&mut second).await;
        assert_eq!(
            (refusal.code, refusal.reason.as_str()),
            (503, "Too many leaves")
        );
        let h = &refusal.headers;
        assert!(h
            .get("User-Agent")
            .is_some_and(|a| a.starts_with("gnutella-rs/")));
        assert_eq!(h.get("Remote-IP"), Some("127.0.0.1"));
        assert_eq!(h.get("X-Ultrapeer"), Some("True"));
        assert_eq!(h.get("X-Try-Ultrapeers"), Some(u1.to_string().as_str()));
        network.shutdown().await;
    })
    .await;
}
