//! Hostile clients against a live peer: each loses only its own connection, and the
//! network keeps answering.

mod live_support;

use std::net::SocketAddrV4;
use std::time::Duration;

use gnutella::net::handshake::{connect, HandshakeLimits, LocalInfo};
use live_support::{bounded, config, search, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes the connection; returns what it sent before closing.
/// Panics if it is still open after `within`.
async fn closed_by_peer(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("the peer kept a hostile connection open for {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn three_peers() -> gnutella::topology::TopologyConfig {
    config(
        "hostile",
        7,
        &[
            (vec![1], vec![]),
            (vec![2], vec![]),
            (vec![], vec![("still-here.bin", 1000)]),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_lose_only_their_own_connection() {
    bounded("hostile test", async {
        let mut network = start(three_peers()).await;
        let target: SocketAddrV4 = network.peers()[1].listen;

        // Garbage instead of a handshake: closed without an answer.
        let mut garbage = TcpStream::connect(target).await.unwrap();
        garbage.write_all(b"\x00\xffHELLO?\r\n\r\n").await.unwrap();
        assert!(closed_by_peer(&mut garbage, Duration::from_secs(3))
            .await
            .is_empty());

        // The 0.4 handshake is refused by closing, as gtk-gnutella and LimeWire do.
        let mut old = TcpStream::connect(target).await.unwrap();
        old.write_all(b"GNUTELLA CONNECT/0.4\n\n").await.unwrap();
        assert!(closed_by_peer(&mut old, Duration::from_secs(3))
            .await
            .is_empty());

        // A header line far above the limit: answered 413, then closed.
        let mut long = TcpStream::connect(target).await.unwrap();
        let mut request = b"GNUTELLA CONNECT/0.6\r\nX-Junk: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 5000));
        request.extend_from_slice(b"\r\n\r\n");
        long.write_all(&request).await.unwrap();
        let answer = closed_by_peer(&mut long, Duration::from_secs(3)).await;
        assert!(
            answer.starts_with(b"GNUTELLA/0.6 413"),
            "got {:?}",
            String::from_utf8_lossy(&answer)
        );

        // A handshake that stalls halfway is cut at the handshake timeout.
        let mut slow = TcpStream::connect(target).await.unwrap();
        slow.write_all(b"GNUTELLA CONNECT/0.6\r\nUser-Agent: slow")
            .await
            .unwrap();
        assert!(closed_by_peer(&mut slow, Duration::from_secs(5))
            .await
            .is_empty());

        // A proper handshake, then a descriptor claiming a 16 MiB payload: the stream
        // cannot be trusted any more, so that link (only) is closed.
        let mut liar = TcpStream::connect(target).await.unwrap();
        let me = LocalInfo {
            listen_addr: "127.0.0.1:9".parse().unwrap(),
            max_ttl: 7,
            deflate: false,
        };
        connect(&mut liar, &me, None, &HandshakeLimits::default())
            .await
            .expect("handshake");
        let mut header = vec![0x11u8; 16];
        header.extend_from_slice(&[0x80, 7, 0]);
        header.extend_from_slice(&(16u32 << 20).to_le_bytes());
        liar.write_all(&header).await.unwrap();
        closed_by_peer(&mut liar, Duration::from_secs(3)).await;

        // A peer that sends an unknown descriptor type is only skipped: the link stays.
        let mut odd = TcpStream::connect(target).await.unwrap();
        let me = LocalInfo {
            listen_addr: "127.0.0.1:10".parse().unwrap(),
            max_ttl: 7,
            deflate: false,
        };
        connect(&mut odd, &me, None, &HandshakeLimits::default())
            .await
            .expect("handshake");
        let mut frame = vec![0x22u8; 16];
        frame.extend_from_slice(&[0x77, 1, 0, 3, 0, 0, 0, 1, 2, 3]);
        odd.write_all(&frame).await.unwrap();

        // Through all of it the network answers.
        let (record, _) = search(&network, 0, "still here", 7).await;
        assert!(record.success, "the network stopped answering");
        assert_eq!(record.first_hit_hops, Some(2));
        let totals = network.totals();
        assert!(totals.bad_streams >= 1, "{totals:?}");
        assert!(totals.skipped_frames >= 1, "{totals:?}");
        assert!(totals.failed_handshakes >= 4, "{totals:?}");
        // The odd peer is a neighbour like any other: it even got the flooded query.
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(300), odd.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("a skipped frame must not cost the link"),
            Ok(Ok(_)) | Err(_) => {}
        }
        network.shutdown().await;
    })
    .await;
}
