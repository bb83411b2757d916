//! What `RUST_LOG=debug` and `trace` show of a live network, and that a remote cannot write
//! lines of its own into the log.
//!
//! This binary installs its own logger (at trace, for every test in it), so the tests can
//! read what live peers in this process log; the demo runs as a child process with
//! `RUST_LOG=trace`, as a user would run it.

mod live_support;

use std::net::SocketAddrV4;
use std::process::Stdio;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use bytes::BytesMut;
use gnutella::net::from_config::ConfigFactory;
use gnutella::net::handshake::{connect, HandshakeLimits, LocalInfo};
use gnutella::net::network::{bind_all, Network, RemoteLink};
use gnutella::node::record::Recorder;
use gnutella::protocol::{Bye, Guid, Message, Payload, Query};
use gnutella::topology::TopologyConfig;
use live_support::{bounded, config, test_net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

/// Every message logged in this process, as its text.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
    fn flush(&self) {}
}

fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_boxed_logger(Box::new(Capture)).expect("no other logger in this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// The captured lines that contain every one of `parts`.
fn lines_with(parts: &[&str]) -> Vec<String> {
    LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .cloned()
        .collect()
}

/// Waits (bounded) until a captured line contains every one of `parts`; returns it.
async fn logged(parts: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = lines_with(parts).into_iter().next() {
            return line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no log line with {parts:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Nothing a remote sent can break a line, move the cursor or reorder the text.
fn assert_one_line(line: &str) {
    assert!(
        !line
            .chars()
            .any(|c| c.is_control() || ('\u{2028}'..='\u{202e}').contains(&c)),
        "raw control or line-breaking character in a log line: {line:?}"
    );
}

async fn start_with(config: TopologyConfig, remote: Vec<RemoteLink>) -> Network {
    let config = Arc::new(config);
    let members = (0..config.peers.len()).collect();
    let mut factory = ConfigFactory::new(config.clone(), members).expect("config prepares");
    let mut plans = factory.plans();
    let listeners = bind_all(&mut plans).await.expect("binds");
    let names = plans.iter().map(|p| p.id.clone()).collect();
    Network::start(
        plans,
        listeners,
        config.links(),
        remote,
        &mut factory,
        test_net(),
        Recorder::with_names(names),
    )
}

/// Reads a handshake block (up to the blank line).
async fn read_block(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("the peer answers")
            .expect("read");
        assert!(n == 1, "closed before the end of the block: {buf:?}");
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_trace_shows_links_and_decisions() {
    let child = tokio::process::Command::new(BIN)
        .arg("demo")
        .env("RUST_LOG", "trace")
        .env("RUST_LOG_STYLE", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the demo finishes in time")
        .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    // env_logger starts every record with `[`: a record that spans lines would not.
    for line in &lines {
        assert!(
            line.starts_with('['),
            "a record broke across lines: {line:?}"
        );
        assert_one_line(line);
    }
    // quickstart: 12 links, each logged up (and later down) at both ends, naming both
    // peers by config id with the remote's address, direction and handshake.
    let up: Vec<&&str> = lines.iter().filter(|l| l.contains(": link up ")).collect();
    assert_eq!(up.len(), 24, "{up:#?}");
    for line in &up {
        let text = line.split("] ").nth(1).unwrap_or_default();
        let mut words = text.split(' ');
        let me = words.next().unwrap_or_default();
        assert!(me.starts_with('p') && me.ends_with(':'), "{line}");
        assert_eq!((words.next(), words.next()), (Some("link"), Some("up")));
        assert!(
            words.next().is_some_and(|them| them.starts_with('p')),
            "{line}"
        );
        let addr = words.next().unwrap_or_default();
        assert!(addr.parse::<SocketAddrV4>().is_ok(), "{line}");
        assert!(
            line.contains(" (out) ") || line.contains(" (in) "),
            "{line}"
        );
        assert!(line.contains("agent=\"gnutella-rs/"), "{line}");
        assert!(line.contains("Bye-Packet=yes"), "{line}");
        assert!(line.contains("deflate=in+out"), "{line}");
    }
    assert!(up.iter().any(|l| l.contains("p0: link up p1 127.0.0.1:")));
    assert!(up.iter().any(|l| l.contains("p1: link up p0 127.0.0.1:")));
    let down: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(": link down "))
        .collect();
    assert_eq!(down.len(), 24, "every link end goes down once: {down:#?}");
    assert!(
        down.iter()
            .any(|l| l.contains("(in, up ") && l.ends_with(": Bye 200 \"Shutting down\"")),
        "{down:#?}"
    );
    assert!(down.iter().any(|l| l.ends_with(": shutting down")));
    // Trace: the decisions of the first search, from start to the hit at its origin.
    let search = lines
        .iter()
        .find(|l| l.contains("p0: search ") && l.contains("\"deep space\""))
        .expect("the search is logged");
    let guid = search
        .split("search ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .expect("guid");
    let about: Vec<&&str> = lines.iter().filter(|l| l.contains(guid)).collect();
    let has = |what: &str| about.iter().any(|l| l.contains(what));
    assert!(has(&format!("p0: Query {guid} sent to 2 links [p1 p2]")));
    assert!(has(&format!(
        "p1: Query {guid} from p0 ttl=7 hops=0 \"deep space\": first copy (hops 1), forwarded to 2 links"
    )));
    assert!(has("\"deep space\": duplicate, dropped"), "{about:#?}");
    assert!(has(
        "answered 1 record from the library, 1 QueryHit sent back"
    ));
    assert!(has(": hit routed back [p"));
    assert!(has(&format!("p0: QueryHit {guid} from p1")));
    assert!(has(
        "hit for our own search (hops 4): \"deep-space-field-recordings.ogg\""
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_in_other_processes_are_named_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("line.json");
    let line = r#"{
      "name": "line-3",
      "defaults": {"ttl": 7, "max_ttl": 7, "seed": 3, "cache": {"mode": "off"}},
      "peers": [
        {"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b"]},
        {"id": "b", "listen": "127.0.0.1:0", "neighbours": ["c"]},
        {"id": "c", "listen": "127.0.0.1:0"}
      ],
      "workload": {"queries": []}
    }"#;
    std::fs::write(&cfg, line).unwrap();
    let child = tokio::process::Command::new(BIN)
        .args([
            "launch",
            cfg.to_str().unwrap(),
            "--processes",
            "--run-workload",
        ])
        .env("RUST_LOG", "debug")
        .env("RUST_LOG_STYLE", "never")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the launch finishes in time")
        .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    for (me, them, dir) in [
        ("a", "b", "out"),
        ("b", "a", "in"),
        ("b", "c", "out"),
        ("c", "b", "in"),
    ] {
        let up = format!("{me}: link up {them} 127.0.0.1:");
        let line = stderr.lines().find(|l| l.contains(&up));
        assert!(
            line.is_some_and(|l| l.contains(&format!(" ({dir}) agent="))),
            "no {up:?} ({dir}) in {stderr}"
        );
        let down = format!("{me}: link down {them} 127.0.0.1:");
        assert!(stderr.contains(&down), "no {down:?} in {stderr}");
    }
}

#[tokio::test]
async fn hostile_text_stays_on_one_line() {
    capture_logs();
    bounded("hostile text", async {
        // A listener that refuses every dial with a reason full of escapes.
        let hostile = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hostile_addr = match hostile.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            _ => unreachable!(),
        };
        tokio::spawn(async move {
            while let Ok((mut s, _)) = hostile.accept().await {
                tokio::spawn(async move {
                    let _ = read_block(&mut s).await;
                    let _ = s
                        .write_all(b"GNUTELLA/0.6 503 Busy\x1b[2J\xe2\x80\xae gone\r\n\r\n")
                        .await;
                });
            }
        });
        let remote = vec![RemoteLink {
            local: 0,
            addr: hostile_addr,
            dial: true,
        }];
        let mut network = start_with(config("hostile-logs", 7, &[(vec![], vec![])]), remote).await;
        let listen = network.peers()[0].listen;
        let me = network.peers()[0].id.clone();

        // Their refusal of our dial.
        let refused = logged(&[
            &format!("{me}: dial failed: handshake with {hostile_addr}"),
            "refused by the remote: 503 Busy",
        ])
        .await;
        assert!(refused.contains("503 Busy\\u{1b}[2J\\u{202e} gone"), "{refused}");
        assert_one_line(&refused);

        // Our refusal of a malformed handshake.
        let mut bad = TcpStream::connect(listen).await.unwrap();
        let bad_addr = bad.local_addr().unwrap().to_string();
        bad.write_all(b"GNUTELLA CONNECT/0.6\r\nno colon here\x1b[31m\r\n\r\n")
            .await
            .unwrap();
        let answer = read_block(&mut bad).await;
        assert!(answer.starts_with("GNUTELLA/0.6 400"), "{answer}");
        let ours = logged(&[&format!("{me}: refused inbound handshake from {bad_addr}: 400")]).await;
        assert!(ours.contains("\\u{1b}[31m"), "{ours}");
        assert_one_line(&ours);

        // A neighbour with a hostile user agent that leaves with a hostile Bye.
        let mut evil = TcpStream::connect(listen).await.unwrap();
        let evil_addr = evil.local_addr().unwrap().to_string();
        evil.write_all(
            b"GNUTELLA CONNECT/0.6\r\nUser-Agent: evil\" Bye-Packet=no \x1b[2J\xe2\x80\xa8x\r\n\
              Bye-Packet: 0.1\r\n\r\n",
        )
        .await
        .unwrap();
        let answer = read_block(&mut evil).await;
        assert!(answer.starts_with("GNUTELLA/0.6 200"), "{answer}");
        evil.write_all(b"GNUTELLA/0.6 200 OK\r\n\r\n").await.unwrap();
        let up = logged(&[&format!("{me}: link up {evil_addr} (in)")]).await;
        assert!(
            up.contains("agent=\"evil\\\" Bye-Packet=no \\u{1b}[2J\\u{2028}x\""),
            "{up}"
        );
        assert_one_line(&up);
        let bye = Message {
            guid: Guid([7; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::Bye(Bye {
                code: 400,
                message: format!("bye\r\n{me}: link up 6.6.6.6:6 (out) agent=\"forged\"\x1b[0m"),
            }),
        };
        evil.write_all(&bye.to_bytes()).await.unwrap();
        let down = logged(&[&format!("{me}: link down {evil_addr} (in, up ")]).await;
        assert!(
            down.ends_with(&format!(
                ": Bye 400 \"bye\\r\\n{me}: link up 6.6.6.6:6 (out) agent=\\\"forged\\\"\\u{{1b}}[0m\""
            )),
            "{down}"
        );
        assert_one_line(&down);
        assert!(
            lines_with(&["6.6.6.6"])
                .iter()
                .all(|l| l.contains("link down") && l.contains("Bye 400")),
            "the forged link never appears as a line of its own"
        );
        network.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn trace_tells_first_copies_re_forwards_and_duplicates() {
    capture_logs();
    bounded("trace decisions", async {
        // p0 - p1, and a raw client linked to p0 that sends one query three times.
        let mut network = start_with(
            config("trace-logs", 7, &[(vec![1], vec![]), (vec![], vec![])]),
            vec![],
        )
        .await;
        network
            .wait_overlay(Duration::from_secs(10))
            .await
            .expect("overlay");
        let p0 = network.peers()[0].listen;
        let mut client = TcpStream::connect(p0).await.unwrap();
        let local = LocalInfo {
            listen_addr: "127.0.0.1:9".parse().unwrap(),
            max_ttl: 7,
            deflate: false,
            servent_guid: None,
            tier: Default::default(),
            degree: 32,
            live_since: None,
        };
        let (_, leftover) = connect(&mut client, &local, None, &HandshakeLimits::default())
            .await
            .expect("the client links");
        assert!(leftover.is_empty());
        let client_addr = client.local_addr().unwrap().to_string();
        logged(&[&format!("p0: link up {client_addr} (in)")]).await;
        let guid = Guid([0x3c; 16]);
        let query = |ttl: u8| Message {
            guid,
            ttl,
            hops: 0,
            payload: Payload::Query(Arc::new(Query::keywords("logs\nFAKE"))),
        };
        let g = guid.to_string();
        let mut out = BytesMut::new();
        query(2).encode(&mut out);
        client.write_all(&out).await.unwrap();
        let first = logged(&["p0: Query", &g, "first copy"]).await;
        let want = "from 127.0.0.1:9 ttl=2 hops=0 \"logs\\nFAKE\": first copy (hops 1), \
                    forwarded to 1 link [p1]";
        assert!(first.ends_with(want), "{first}");
        let at_p1 = logged(&["p1: Query", &g, "from p0"]).await;
        assert!(
            at_p1.ends_with("first copy (hops 2), not forwarded: TTL expired"),
            "{at_p1}"
        );
        // The same query with more TTL left goes on again; with less it is a duplicate.
        out.clear();
        query(4).encode(&mut out);
        client.write_all(&out).await.unwrap();
        let again = logged(&["p0: Query", &g, "ttl=4"]).await;
        assert!(
            again.ends_with(": re-forwarded to 1 link [p1] (a repeat with more TTL left)"),
            "{again}"
        );
        out.clear();
        query(1).encode(&mut out);
        client.write_all(&out).await.unwrap();
        let dup = logged(&["p0: Query", &g, "ttl=1"]).await;
        assert!(dup.ends_with(": duplicate, dropped"), "{dup}");
        for line in lines_with(&[&g]) {
            assert_one_line(&line);
        }
        network.shutdown().await;
    })
    .await;
}
