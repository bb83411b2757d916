//! The live page of a running launch (`launch --ui 127.0.0.1:0`), over HTTP as a browser
//! fetches it: the page is served on the control API's port, its event stream delivers
//! the flood rows of a search made through the API (as many copies and hits as the
//! query's record says), a page opened later gets the floods so far, the control calls
//! still answer on the same port, a launch over two processes streams its floods too,
//! and only loopback addresses are taken. (The page itself, in a real browser, is
//! `scripts/test-view.sh`'s.)
#![cfg(unix)]

mod live_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use live_support::launch_process::LaunchProcess;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");
/// Bounds on waiting (only so a hang fails instead of hanging; never asserted as timings).
const WITHIN: Duration = Duration::from_secs(60);

/// A line of four: p0-p1-p2-p3, p3 holding the file.
const LINE: &str = r#"{
  "name": "line-4",
  "defaults": {"ttl": 7, "max_ttl": 7, "seed": 3, "cache": {"mode": "off"}},
  "peers": [
    {"id": "p0", "listen": "127.0.0.1:0", "neighbours": ["p1"]},
    {"id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"]},
    {"id": "p2", "listen": "127.0.0.1:0", "neighbours": ["p3"]},
    {"id": "p3", "listen": "127.0.0.1:0",
     "share": {"files": [{"name": "lighthouse-keeper.ogg", "size": 3000}]}}
  ],
  "workload": {"queries": []}
}"#;

/// `gnutella launch CONFIG --ui 127.0.0.1:0 EXTRA...`, serving its page.
fn launch_ui(config: &std::path::Path, extra: &[&str]) -> LaunchProcess {
    LaunchProcess::start(config, "--ui", "live page on", extra)
}

/// One request; the status line's code, the head and the body.
fn http(to: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(to).expect("the server accepts");
    stream.set_read_timeout(Some(WITHIN)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {to}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("an answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, head.to_string(), body.to_string())
}

/// An open event stream, read message by message.
struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    fn open(to: SocketAddr) -> Events {
        let mut stream = TcpStream::connect(to).expect("the server accepts");
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        write!(stream, "GET /events HTTP/1.1\r\nHost: {to}\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let deadline = Instant::now() + WITHIN;
        while !head.ends_with("\r\n\r\n") {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => panic!("the stream closed in its head: {head}"),
                Ok(_) => head.push_str(&line),
                Err(_) => assert!(Instant::now() < deadline, "no head: {head}"),
            }
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{head}"
        );
        Events { reader }
    }

    /// Reads messages until `done` accepts everything read so far.
    fn until(&mut self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WITHIN;
        let mut messages = Vec::new();
        loop {
            if done(&messages) {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen in {messages:#?}"
            );
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => panic!("the event stream ended"),
                Ok(_) => {
                    if let Some(data) = line.trim_end().strip_prefix("data: ") {
                        messages.push(serde_json::from_str(data).expect("JSON data"));
                    }
                }
                Err(_) => {} // a read timeout: look again
            }
        }
    }
}

/// The rows of one query (by GUID) in a page's messages, with that page's numbering.
fn rows_of(messages: &[Value], guid: &str) -> Vec<Value> {
    let mut queries: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for m in messages {
        for q in m["queries"].as_array().unwrap() {
            queries.push(q.as_str().unwrap().to_string());
        }
        for r in m["rows"].as_array().unwrap() {
            let q = r[2].as_u64().unwrap() as usize;
            if queries.get(q).map(String::as_str) == Some(guid) {
                rows.push(r.clone());
            }
        }
    }
    rows
}

fn code_count(rows: &[Value], code: u64) -> u64 {
    rows.iter().filter(|r| r[0].as_u64() == Some(code)).count() as u64
}

/// The rows match the record: sends = messages, hit deliveries = hits, first copies
/// (other than the origin's) = peers reached, duplicates = duplicates.
fn rows_match(rows: &[Value], record: &Value) -> bool {
    code_count(rows, 1) == record["messages"].as_u64().unwrap()
        && code_count(rows, 9) == record["hits"].as_u64().unwrap()
        && code_count(rows, 3) == record["duplicates"].as_u64().unwrap()
        && code_count(rows, 2) == record["peers_reached"].as_u64().unwrap()
}

/// Searches p3's file from p0 through the API with the event stream open: the record,
/// its GUID, and the stream's messages once the search's rows add up to the record and
/// hold p3's answer (steps of several processes may come in any order).
fn search_and_watch(to: SocketAddr) -> (Value, String, Vec<Value>) {
    let mut events = Events::open(to);
    let (status, _, record) = http(
        to,
        "POST",
        "/search",
        r#"{"from": "p0", "words": "lighthouse keeper", "ttl": 5}"#,
    );
    assert_eq!(status, 200, "{record}");
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["hits"], 1, "p3's file is found: {record}");
    let guid = record["guid"].as_str().unwrap().to_string();
    let messages = events.until("the search's rows, adding up to its record", |m| {
        let rows = rows_of(m, &guid);
        rows_match(&rows, &record) && rows.iter().any(|r| r[0] == 6 && r[3] == 3)
    });
    (record, guid, messages)
}

#[test]
fn the_page_is_served_and_its_event_stream_delivers_a_searchs_flood() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("line-4.json");
    std::fs::write(&config, LINE).unwrap();
    let launch = launch_ui(&config, &[]);
    let to = launch.addr;

    let (status, head, page) = http(to, "GET", "/", "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/html"), "{head}");
    assert!(page.contains("window.gnutellaView") && page.contains("\"live\":true"));
    for id in ["p0", "p1", "p2", "p3"] {
        assert!(page.contains(&format!("[\"{id}\",")), "{id} is drawn");
    }
    // The control API answers on the same port.
    let (status, _, peers) = http(to, "GET", "/peers", "");
    assert_eq!(status, 200);
    let peers: Value = serde_json::from_str(&peers).unwrap();
    assert_eq!(peers.as_array().unwrap().len(), 4);

    let (record, guid, messages) = search_and_watch(to);
    // The rows name the origin's start and the holder's answer, in the page's format.
    let rows = rows_of(&messages, &guid);
    assert!(rows
        .iter()
        .any(|r| r[0] == 0 && r[3] == 0 && r[5] == "lighthouse keeper"));
    assert!(rows.iter().any(|r| r[0] == 6 && r[3] == 3), "p3 answered");

    // A page opened now gets the floods so far.
    let mut late = Events::open(to);
    late.until("the search's rows, for a page opened late", |m| {
        rows_match(&rows_of(m, &guid), &record)
    });
}

#[test]
fn the_ui_listens_on_loopback_only_and_replaces_control() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("line-4.json");
    std::fs::write(&config, LINE).unwrap();
    for (args, says) in [
        (vec!["--ui", "0.0.0.0:0"], "loopback only"),
        (vec!["--ui", "192.0.2.1:80"], "loopback only"),
        (
            vec!["--ui", "127.0.0.1:0", "--control", "127.0.0.1:0"],
            "cannot be used with",
        ),
    ] {
        let out = Command::new(BIN)
            .arg("launch")
            .arg(&config)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("gnutella runs");
        assert!(!out.status.success(), "{args:?} is refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn a_sharded_launch_streams_the_floods_its_children_trace() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("line-4.json");
    std::fs::write(&config, LINE).unwrap();
    let launch = launch_ui(&config, &["--shards", "2"]);
    let to = launch.addr;
    let (status, _, page) = http(to, "GET", "/", "");
    assert_eq!(status, 200);
    assert!(page.contains("window.gnutellaView"));
    // Each child traces its own peers (p0, p1 | p2, p3): the flood crosses from one to
    // the other, and its rows add up to the merged record all the same.
    let (_, guid, messages) = search_and_watch(to);
    assert!(
        rows_of(&messages, &guid)
            .iter()
            .any(|r| r[0] == 6 && r[3] == 3),
        "p3 (in the second child) answered"
    );
    let (status, _, answer) = http(to, "POST", "/peers/p1/kill", "");
    assert_eq!(status, 200, "kill works: {answer}");
}
