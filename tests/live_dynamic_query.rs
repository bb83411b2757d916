//! A `gnutella peer --strategy dq` over a real socket: it advertises dynamic querying,
//! greets a link that reads vendor messages with its Messages Supported, answers a Query
//! Status Request, and loses nothing to a hostile vendor message. All on 127.0.0.1,
//! every wait bounded.

mod live_support;

use std::net::SocketAddrV4;
use std::time::Duration;

use bytes::BytesMut;
use gnutella::net::handshake::{connect, HandshakeLimits, LocalInfo};
use gnutella::node::role::TierPolicy;
use gnutella::protocol::{Frame, FrameDecoder, Guid, Message, Payload, Query, Vendor, VendorId};
use live_support::bounded;
use live_support::peer_process::PeerProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The next descriptor on `stream` that `pick` accepts (others, like keep-alive Pings,
/// are passed over).
async fn next_where<T>(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    pick: impl Fn(&Message) -> Option<T>,
) -> T {
    let mut decoder = FrameDecoder::new();
    loop {
        while let Some(frame) = decoder.decode(buf).expect("a sane stream") {
            if let Frame::Message(m) = frame {
                if let Some(v) = pick(&m) {
                    return v;
                }
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("the peer says something in time")
            .expect("read");
        assert!(n > 0, "the peer closed the link");
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_dq_peer_speaks_query_status_over_a_socket() {
    bounded("the dq peer test", async {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tune one.txt"), b"la la la").unwrap();
        let share = dir.path().to_str().unwrap();
        let mut peer = PeerProcess::start(&[
            "--listen",
            "127.0.0.1:0",
            "--share",
            share,
            "--strategy",
            "dq",
        ]);
        let target: SocketAddrV4 = peer.listening().await;

        let mut stream = TcpStream::connect(target).await.unwrap();
        let me = LocalInfo {
            listen_addr: "127.0.0.1:9".parse().unwrap(),
            max_ttl: 4,
            deflate: false,
            servent_guid: None,
            tier: TierPolicy {
                dynamic_querying: true,
                ..TierPolicy::default()
            },
            degree: 32,
            live_since: None,
        };
        let (negotiated, mut buf) = connect(&mut stream, &me, None, &HandshakeLimits::default())
            .await
            .expect("handshake");
        assert!(
            negotiated.remote.dynamic_querying,
            "X-Dynamic-Querying: 0.1"
        );
        assert!(negotiated.remote.vendor_messages, "Vendor-Message: 0.2");

        // Its first words on the link: the vendor messages it reads.
        let supported = next_where(&mut stream, &mut buf, |m| match &m.payload {
            Payload::Vendor(Vendor::MessagesSupported(ids)) => Some((ids.clone(), m.ttl, m.hops)),
            _ => None,
        })
        .await;
        assert_eq!(
            supported,
            (
                vec![
                    VendorId::QUERY_STATUS_REQUEST,
                    VendorId::QUERY_STATUS_RESPONSE
                ],
                1,
                0
            )
        );

        // A hostile Messages Supported (more entries than bytes) is skipped, the link
        // stays; then a status request for a search it never ran is answered "stop".
        let mut hostile = vec![0x31u8; 16];
        hostile.extend_from_slice(&[0x31, 1, 0, 10, 0, 0, 0]);
        hostile.extend_from_slice(b"\0\0\0\0\0\0\0\0\xff\xff");
        stream.write_all(&hostile).await.unwrap();
        let asked = Guid([0x5A; 16]);
        let request = Message {
            guid: asked,
            ttl: 1,
            hops: 0,
            payload: Payload::Vendor(Vendor::QueryStatusRequest),
        };
        stream.write_all(&request.to_bytes()).await.unwrap();
        let kept = next_where(&mut stream, &mut buf, |m| match m.payload {
            Payload::Vendor(Vendor::QueryStatusResponse { kept }) if m.guid == asked => Some(kept),
            _ => None,
        })
        .await;
        assert_eq!(kept, 0xFFFF);

        // And it still answers queries on this link.
        let query = Message {
            guid: Guid([0x6B; 16]),
            ttl: 2,
            hops: 0,
            payload: Payload::Query(std::sync::Arc::new(Query::keywords("tune"))),
        };
        stream.write_all(&query.to_bytes()).await.unwrap();
        let records = next_where(&mut stream, &mut buf, |m| match &m.payload {
            Payload::QueryHit(h) if m.guid == Guid([0x6B; 16]) => Some(h.records.len()),
            _ => None,
        })
        .await;
        assert_eq!(records, 1);
        drop(stream);
        peer.stop().await;
    })
    .await;
}
