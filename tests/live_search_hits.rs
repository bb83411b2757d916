//! `gnutella search` against a scripted neighbour that answers with the hits real servents
//! send: one whose SHA-1 is only in GGEP "H" (gtk-gnutella), one with no SHA-1 at all,
//! and one re-sent from a result cache. The files come from our own HTTP server; all on
//! 127.0.0.1, every step under a time bound.

use std::net::{SocketAddr, SocketAddrV4};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gnutella::net::handshake::{accept, HandshakeLimits, LocalInfo};
use gnutella::net::http_server::{HttpConfig, HttpServer};
use gnutella::net::share::Share;
use gnutella::protocol::{
    ggep, Extension, Frame, FrameDecoder, Guid, HitRecord, Message, Payload, QhdTrailer, QueryHit,
    Sha1,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::task::JoinHandle;

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");
const LIMIT: Duration = Duration::from_secs(60);

/// The scripted neighbour's servent GUID, and a holder behind it.
const NEIGHBOUR: Guid = Guid([0x42; 16]);
const FAR_HOLDER: Guid = Guid([0x77; 16]);

async fn run(args: &[&str]) -> std::process::Output {
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .expect("the command finishes in time")
        .expect("output")
}

fn content(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8 ^ salt).collect()
}

/// Our HTTP server sharing the files in a fresh folder.
async fn serve(files: &[(&str, &[u8])]) -> (SocketAddrV4, Arc<Share>, JoinHandle<()>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let share = Arc::new(
        Share::scan_dir_async(dir.path().to_path_buf())
            .await
            .unwrap(),
    );
    let server = HttpServer::new(share.clone(), HttpConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let SocketAddr::V4(addr) = listener.local_addr().unwrap() else {
        panic!("IPv4 loopback")
    };
    let task = tokio::spawn(async move {
        let _dir = dir;
        let _ = server.run(listener).await;
    });
    (addr, share, task)
}

/// A record of `name` from the share, carrying its SHA-1 as `extensions` says.
fn record(share: &Share, name: &str, extensions: fn(Sha1) -> Vec<Extension>) -> HitRecord {
    let entry = share
        .entries()
        .iter()
        .find(|e| e.name == name)
        .expect("shared");
    HitRecord {
        index: entry.index,
        size: entry.size as u32,
        name: entry.name.clone(),
        extensions: extensions(entry.sha1),
    }
}

/// GGEP "H" (type 1 + digest), COBS-encoded when the digest holds a NUL, as gtk-gnutella
/// writes it in a record.
fn ggep_h_only(sha1: Sha1) -> Vec<Extension> {
    let mut value = vec![0x01];
    value.extend(sha1.0);
    let mut block = Vec::new();
    ggep::write_block(&[(b"H", &value)], &mut block);
    vec![Extension::Ggep(Bytes::from(block))]
}

fn no_hash(_: Sha1) -> Vec<Extension> {
    Vec::new()
}

fn hit(holder: SocketAddrV4, servent: Guid, records: Vec<HitRecord>) -> QueryHit {
    QueryHit {
        port: holder.port(),
        ip: *holder.ip(),
        speed: 1000,
        records,
        trailer: Some(QhdTrailer::ours(false, false)),
        servent_guid: servent,
    }
}

/// A neighbour that takes one connection, says who it is (`GUID`), and answers the first
/// Query with `answers` (hops, hit), each sent under the query's GUID.
async fn scripted_neighbour(answers: Vec<(u8, QueryHit)>) -> (SocketAddrV4, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let SocketAddr::V4(addr) = listener.local_addr().unwrap() else {
        panic!("IPv4 loopback")
    };
    let me = LocalInfo {
        listen_addr: addr,
        max_ttl: 7,
        deflate: false,
        servent_guid: Some(NEIGHBOUR),
        tier: Default::default(),
        degree: 32,
        live_since: None,
    };
    let task = tokio::spawn(async move {
        // Like any peer, it accepts again after a handshake that did not finish (the
        // searcher probes once before it joins).
        let (mut stream, mut buf) = loop {
            let Ok((mut stream, remote)) = listener.accept().await else {
                return;
            };
            let limits = HandshakeLimits::default();
            if let Ok((_, buf)) = accept(
                &mut stream,
                BytesMut::new(),
                &me,
                Some(remote),
                &limits,
                |_| Ok(()),
            )
            .await
            {
                break (stream, buf);
            }
        };
        let mut decoder = FrameDecoder::new();
        let mut answers = Some(answers);
        loop {
            while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                let Frame::Message(msg) = frame else { continue };
                if !matches!(msg.payload, Payload::Query(_)) {
                    continue;
                }
                for (hops, hit) in answers.take().unwrap_or_default() {
                    let reply = Message {
                        guid: msg.guid,
                        ttl: 7,
                        hops,
                        payload: Payload::QueryHit(Arc::new(hit)),
                    };
                    if stream.write_all(&reply.to_bytes()).await.is_err() {
                        return;
                    }
                }
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    (addr, task)
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn same_file(path: &Path, data: &[u8]) {
    assert_eq!(std::fs::read(path).expect("downloaded"), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ggep_h_hit_is_downloaded_verified_and_a_hashless_one_says_so() {
    tokio::time::timeout(LIMIT, async {
        let gtkg = content(70_000, 1);
        let plain = content(5_000, 2);
        let (http, share, server) =
            serve(&[("gtkg-style.bin", &gtkg), ("plain-style.bin", &plain)]).await;

        // The SHA-1 only in GGEP H: fetched by URN and verified against it.
        let (via, neighbour) = scripted_neighbour(vec![(
            0,
            hit(
                http,
                NEIGHBOUR,
                vec![record(&share, "gtkg-style.bin", ggep_h_only)],
            ),
        )])
        .await;
        let to = tempfile::tempdir().unwrap();
        let via = via.to_string();
        let dir = to.path().to_str().unwrap();
        let args = [
            "search",
            "style",
            "--via",
            &via,
            "--wait",
            "1",
            "--download",
            "1",
        ];
        let out = run(&[&args[..], &["--to", dir]].concat()).await;
        let stdout = stdout_of(&out);
        let urn = Sha1::of_bytes(&gtkg).to_urn();
        assert!(
            stdout.contains(&urn),
            "the hit line shows the GGEP H hash: {stdout}"
        );
        assert_eq!(gtkg.len(), 70_000);
        assert!(
            stdout.contains("gtkg-style.bin: 70,000 bytes in ")
                && stdout.contains(&format!("; {urn} verified")),
            "{stdout}"
        );
        same_file(&to.path().join("gtkg-style.bin"), &gtkg);
        neighbour.abort();

        // No SHA-1 at all: fetched by index, and the CLI does not claim a check.
        let (via, neighbour) = scripted_neighbour(vec![(
            0,
            hit(
                http,
                NEIGHBOUR,
                vec![record(&share, "plain-style.bin", no_hash)],
            ),
        )])
        .await;
        let via = via.to_string();
        let args = [
            "search",
            "style",
            "--via",
            &via,
            "--wait",
            "1",
            "--download",
            "1",
        ];
        let out = run(&[&args[..], &["--to", dir]].concat()).await;
        let stdout = stdout_of(&out);
        assert!(stdout.contains("(no SHA-1)"), "{stdout}");
        assert!(
            stdout.contains("not verified: the hit carried no SHA-1"),
            "{stdout}"
        );
        assert!(
            stdout.contains("plain-style.bin: 5,000 bytes in "),
            "{stdout}"
        );
        assert!(!stdout.contains("; urn:sha1:"), "{stdout}");
        same_file(&to.path().join("plain-style.bin"), &plain);
        neighbour.abort();
        server.abort();
    })
    .await
    .expect("within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_answer_is_shown_as_cached_with_both_distances() {
    tokio::time::timeout(LIMIT, async {
        let own = content(3_000, 3);
        let far = content(4_000, 4);
        let (http, share, server) = serve(&[("own-copy.bin", &own), ("far-copy.bin", &far)]).await;
        let with_urn = |sha1: Sha1| vec![Extension::Sha1(sha1)];
        // The neighbour's own hit, then one from its cache: the holder was 4 hops from it.
        let answers = || {
            vec![
                (
                    0,
                    hit(
                        http,
                        NEIGHBOUR,
                        vec![record(&share, "own-copy.bin", with_urn)],
                    ),
                ),
                (
                    4,
                    hit(
                        http,
                        FAR_HOLDER,
                        vec![record(&share, "far-copy.bin", with_urn)],
                    )
                    .marked_as_cached(4),
                ),
            ]
        };

        let (via, neighbour) = scripted_neighbour(answers()).await;
        let via = via.to_string();
        let out = run(&["search", "copy", "--via", &via, "--wait", "1", "--ttl", "2"]).await;
        let stdout = stdout_of(&out);
        let lines: Vec<&str> = stdout.lines().collect();
        let own_line = lines.iter().find(|l| l.contains("own-copy.bin")).unwrap();
        let far_line = lines.iter().find(|l| l.contains("far-copy.bin")).unwrap();
        assert!(
            own_line.contains("  1 hop  ") && !own_line.contains("cached"),
            "{stdout}"
        );
        assert!(
            far_line.contains(&format!(
                "from {http}  cached: answered 1 hop away, holder 4 hops from that peer"
            )),
            "beyond TTL 2, so it must say cached: {stdout}"
        );
        neighbour.abort();

        let (via, neighbour) = scripted_neighbour(answers()).await;
        let via = via.to_string();
        let out = run(&["search", "copy", "--via", &via, "--wait", "1", "--json"]).await;
        let json: serde_json::Value =
            serde_json::from_str(&stdout_of(&out)).expect("stdout is JSON");
        let hits = json["hits"].as_array().unwrap();
        let by_name = |name: &str| {
            hits.iter()
                .find(|h| h["name"] == name)
                .unwrap_or_else(|| panic!("{name} in {json}"))
                .clone()
        };
        let own_hit = by_name("own-copy.bin");
        assert_eq!(own_hit["cached"], false);
        assert!(own_hit["holder_hops"].is_null());
        assert_eq!(own_hit["hops"], 1);
        let far_hit = by_name("far-copy.bin");
        assert_eq!(far_hit["cached"], true);
        assert_eq!(far_hit["holder_hops"], 4);
        assert_eq!(far_hit["hops"], 1);
        assert_eq!(far_hit["holder"], http.to_string());
        neighbour.abort();
        server.abort();
    })
    .await
    .expect("within the time limit");
}
