//! A Ping flood against a live peer (regular Pings and keep-alives) brings its sender a
//! handful of Pongs and costs nobody else anything (issue 8: 100,000 Pings on one link brought back about 300,000 Pongs, were
//! flooded to every neighbour, and a 60 KB Ping was relayed whole).

mod live_support;

use std::net::SocketAddrV4;

use bytes::{Bytes, BytesMut};
use gnutella::net::handshake::{connect, HandshakeLimits, LocalInfo};
use gnutella::protocol::{Frame, FrameDecoder, Guid, Message, Payload, Ping};
use live_support::{bounded, config, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FLOOD: u32 = 100_000;
/// First bytes of the flood's GUIDs.
const MARK: [u8; 4] = *b"FLOD";

/// A raw client linked to `target`, claiming to listen at 127.0.0.1:`port`.
async fn link(target: SocketAddrV4, port: u16) -> (TcpStream, BytesMut) {
    let mut stream = TcpStream::connect(target).await.expect("connects");
    let me = LocalInfo {
        listen_addr: SocketAddrV4::new([127, 0, 0, 1].into(), port),
        max_ttl: 7,
        deflate: false,
        servent_guid: None,
        tier: Default::default(),
        degree: 32,
        live_since: None,
    };
    let (_, rest) = connect(&mut stream, &me, None, &HandshakeLimits::default())
        .await
        .expect("handshake");
    (stream, rest)
}

fn flood_guid(i: u32) -> Guid {
    let mut g = [0u8; 16];
    g[..4].copy_from_slice(&MARK);
    g[4..8].copy_from_slice(&i.to_le_bytes());
    Guid(g)
}

fn ping(guid: Guid, ttl: u8, ggep: Bytes) -> Message {
    Message {
        guid,
        ttl,
        hops: 0,
        payload: Payload::Ping(Ping { ggep }),
    }
}

/// Reads until the peer answers one of our marker keep-alives (sent every 200 ms until
/// one is: a keep-alive right after a flood of them may itself be throttled). The peer
/// answers in order, so everything it sent for what came before the first marker has
/// arrived by then; returns every message read before that answer.
async fn read_until_answered(stream: TcpStream, mut buf: BytesMut, marker: u8) -> Vec<Message> {
    let (mut read, mut write) = stream.into_split();
    let markers = tokio::spawn(async move {
        for i in 0u32.. {
            let mut g = [marker; 16];
            g[12..].copy_from_slice(&i.to_le_bytes());
            let keep_alive = ping(Guid(g), 1, Bytes::new()).to_bytes();
            if write.write_all(&keep_alive).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    let mut decoder = FrameDecoder::new();
    let mut got = Vec::new();
    loop {
        while let Some(frame) = decoder.decode(&mut buf).expect("a sane stream") {
            if let Frame::Message(m) = frame {
                if m.guid.0[0] == marker && matches!(m.payload, Payload::Pong(_)) {
                    markers.abort();
                    return got;
                }
                got.push(m);
            }
        }
        let n = read.read_buf(&mut buf).await.expect("reads");
        assert!(n > 0, "the peer closed the link");
    }
}

fn is_flood(m: &Message) -> bool {
    m.guid.0[..4] == MARK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_brings_back_a_handful_of_pongs_and_reaches_nobody_else() {
    bounded("ping flood test", async {
        // The target has two real neighbours; `a` floods it, `b` is a bystander link.
        let mut network = start(config(
            "pings",
            7,
            &[(vec![1, 2], vec![]), (vec![], vec![]), (vec![], vec![])],
        ))
        .await;
        let target = network.peers()[0].listen;
        let (mut a, a_buf) = link(target, 41001).await;
        let (b, b_buf) = link(target, 41002).await;

        let mut wire = BytesMut::new();
        for i in 0..FLOOD {
            ping(flood_guid(i), 7, Bytes::new()).encode(&mut wire);
        }
        // As many keep-alives, and a Ping carrying 60 KB of GGEP.
        for i in FLOOD..2 * FLOOD {
            ping(flood_guid(i), 1, Bytes::new()).encode(&mut wire);
        }
        let mut fat = vec![0xC3u8];
        fat.resize(60 * 1024, b'x');
        let fat_guid = flood_guid(2 * FLOOD);
        ping(fat_guid, 7, Bytes::from(fat)).encode(&mut wire);
        a.write_all(&wire).await.expect("floods");

        let on_a = read_until_answered(a, a_buf, 0xA1).await;
        let pongs = on_a
            .iter()
            .filter(|m| is_flood(m) && matches!(m.payload, Payload::Pong(_)))
            .count();
        assert!(
            (1..100).contains(&pongs),
            "{} Pings brought back {pongs} Pongs",
            2 * FLOOD
        );
        assert!(
            !on_a
                .iter()
                .any(|m| m.guid == fat_guid && matches!(m.payload, Payload::Pong(_))),
            "the 60 KB Ping is not answered"
        );

        let on_b = read_until_answered(b, b_buf, 0xB1).await;
        let relayed = on_b.iter().filter(|m| is_flood(m)).count();
        assert_eq!(relayed, 0, "no Ping of the flood reached the bystander");
        // The peer pinged its links at most once to refill its pong cache.
        let pings_to_b = on_b
            .iter()
            .filter(|m| matches!(m.payload, Payload::Ping(_)))
            .count();
        assert!(pings_to_b <= 1, "{pings_to_b} Pings to the bystander");
        network.shutdown().await;
    })
    .await;
}
