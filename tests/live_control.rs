//! The control API of a running launch (`launch --control 127.0.0.1:0`), driven over HTTP
//! the way a user's curl would, in every launch mode (one process, `--shards 2`,
//! `--processes`): the peers are listed with their degrees; a killed peer shows as down,
//! its neighbours lose a link and its address is free; a search returns the record of a
//! query that found a file another peer shares; a revived peer is up again with its links;
//! bad requests get clear 400/404/405 answers; each peer's statistics (over all its runs)
//! add up to the records; the launch stops cleanly on SIGTERM.
#![cfg(unix)]

mod live_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use live_support::launch_process::LaunchProcess;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");
/// Bound on waiting for a change to show (never asserted as a timing: it only keeps a
/// hang from hanging the suite). Links a neighbour dials come back at its next retry, at
/// most ~15 s later.
const CHANGE_WITHIN: Duration = Duration::from_secs(60);

/// A ring of five: p0-p1-p2-p3-p4-p0. Killing p2 leaves a line, so p0 still reaches p3's
/// file the other way round.
const RING: &str = r#"{
  "name": "ring-5",
  "defaults": {"ttl": 7, "max_ttl": 7, "seed": 5, "cache": {"mode": "off"}},
  "peers": [
    {"id": "p0", "listen": "127.0.0.1:0", "neighbours": ["p1", "p4"]},
    {"id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"]},
    {"id": "p2", "listen": "127.0.0.1:0", "neighbours": ["p3"],
     "share": {"files": [{"name": "only-on-p2.bin", "size": 1000}]}},
    {"id": "p3", "listen": "127.0.0.1:0", "neighbours": ["p4"],
     "share": {"files": [{"name": "lighthouse-keeper.ogg", "size": 3000}]}},
    {"id": "p4", "listen": "127.0.0.1:0"}
  ],
  "workload": {"queries": [
    {"from": "p0", "words": "lighthouse keeper", "at_ms": 0},
    {"from": "p1", "words": "only on", "at_ms": 100}
  ]}
}"#;

/// A launch serving its control API, as a child process of the test.
struct Launch {
    process: LaunchProcess,
    control: SocketAddr,
}

impl Launch {
    fn start(config: &Path, extra: &[&str]) -> Launch {
        let process = LaunchProcess::start(config, "--control", "control API on", extra);
        let control = process.addr;
        Launch { process, control }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string);
        request(self.control, method, path, body.as_deref().unwrap_or(""))
    }

    fn peers(&self) -> Vec<Value> {
        let (status, peers) = self.call("GET", "/peers", None);
        assert_eq!(status, 200, "{peers}");
        peers.as_array().expect("a list of peers").clone()
    }

    fn peer(&self, id: &str) -> Value {
        self.peers()
            .into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
    }

    /// Polls `/peers` until `ok` holds for them.
    fn until_peers(&self, what: &str, ok: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + CHANGE_WITHIN;
        loop {
            let peers = self.peers();
            if ok(&peers) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} was not seen within {CHANGE_WITHIN:?}: {peers:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM: the launch must end with status 0 and its table; returns its output.
    fn stop(self) -> String {
        self.process.stop()
    }
}

/// One HTTP/1.1 request over a fresh connection; the status and the JSON body.
fn request(to: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, text) = raw(
        to,
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text:?}"));
    (status, json)
}

/// Sends raw bytes; the status and the body text of the answer.
fn raw(to: SocketAddr, bytes: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(to).expect("the control API accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(bytes).expect("request written");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer read");
    let text = String::from_utf8(answer).expect("text");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_string())
}

fn degree(peers: &[Value], id: &str) -> u64 {
    peers
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["degree"].as_u64())
        .unwrap_or(u64::MAX)
}

fn write_ring(dir: &Path) -> PathBuf {
    let path = dir.join("ring.json");
    std::fs::write(&path, RING).unwrap();
    path
}

/// What every launch mode must do.
fn controlled(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::start(&write_ring(dir.path()), extra);

    // Every peer up with its ring degree.
    let peers = launch.peers();
    assert_eq!(peers.len(), 5, "{peers:#?}");
    for p in &peers {
        assert_eq!(p["up"], true, "{p}");
        assert_eq!(p["degree"], 2, "{p}");
        assert!(p["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
    assert_eq!(launch.peer("p2")["neighbours"], json!(["p1", "p3"]));
    let p2_addr: SocketAddrV4 = launch.peer("p2")["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Kill p2: down, its neighbours lose their link to it, its address is free.
    let (status, killed) = launch.call("POST", "/peers/p2/kill", None);
    assert_eq!((status, &killed), (200, &json!({"id": "p2", "up": false})));
    let p2 = launch.peer("p2");
    assert_eq!((&p2["up"], &p2["degree"]), (&json!(false), &json!(0)));
    launch.until_peers("p1 and p3 losing p2", |peers| {
        degree(peers, "p1") == 1 && degree(peers, "p3") == 1
    });
    drop(std::net::TcpListener::bind(p2_addr).expect("a killed peer's address is free"));
    let (status, again) = launch.call("POST", "/peers/p2/kill", None);
    assert_eq!(status, 409, "{again}");
    assert!(again["error"].as_str().unwrap().contains("already stopped"));

    // A search goes round the other way and finds p3's file; p2's file is gone with it.
    let search = json!({"from": "p0", "words": "lighthouse keeper", "ttl": 7});
    let (status, record) = launch.call("POST", "/search", Some(&search));
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["origin"], "p0");
    assert_eq!(record["query"], "lighthouse keeper");
    assert_eq!(record["success"], true, "{record}");
    assert_eq!(record["hits"], 1, "{record}");
    assert_eq!(record["first_hit_hops"], 2, "p0-p4-p3: {record}");
    let (_, gone) = launch.call(
        "POST",
        "/search",
        Some(&json!({"from": "p1", "words": "only on"})),
    );
    assert_eq!(
        gone["success"], false,
        "a stopped peer answers nothing: {gone}"
    );
    let (status, from_dead) = launch.call(
        "POST",
        "/search",
        Some(&json!({"from": "p2", "words": "x"})),
    );
    assert_eq!(status, 409, "{from_dead}");

    // Revive p2: up on the same address, its links back.
    let (status, revived) = launch.call("POST", "/peers/p2/revive", None);
    assert_eq!((status, &revived), (200, &json!({"id": "p2", "up": true})));
    assert_eq!(launch.peer("p2")["address"], p2_addr.to_string());
    launch.until_peers("p2's links coming back", |peers| {
        ["p1", "p2", "p3"].iter().all(|id| degree(peers, id) == 2)
    });
    let (_, back) = launch.call(
        "POST",
        "/search",
        Some(&json!({"from": "p1", "words": "only on"})),
    );
    assert_eq!(
        back["success"], true,
        "the revived peer shares again: {back}"
    );
    let (status, twice) = launch.call("POST", "/peers/p2/revive", None);
    assert_eq!(status, 409, "{twice}");

    // The report so far holds the searches made through the API.
    let (status, report) = launch.call("GET", "/report", None);
    assert_eq!(status, 200);
    assert_eq!(report["network"]["peers"], 5);
    let queries = report["queries"].as_array().unwrap();
    assert!(
        queries.iter().any(|q| q["guid"] == record["guid"]),
        "{report:#}"
    );
    // Each peer's statistics, over all its runs (p2 was killed and revived), add up to
    // the queries' records.
    let peers = launch.peers();
    let of_peers = |field: &str| -> u64 {
        peers
            .iter()
            .map(|p| {
                let stats = &p["stats"];
                assert_eq!(stats["peer"], p["id"], "{p}");
                field
                    .split('.')
                    .fold(stats, |v, k| &v[k])
                    .as_u64()
                    .unwrap_or_else(|| panic!("no {field} in {p}"))
            })
            .sum()
    };
    let of_queries =
        |field: &str| -> u64 { queries.iter().map(|q| q[field].as_u64().unwrap()).sum() };
    assert_eq!(of_peers("messages_out.query"), of_queries("messages"));
    assert_eq!(
        of_peers("messages_out.query_hit"),
        of_queries("hit_messages")
    );
    assert_eq!(of_peers("duplicates"), of_queries("duplicates"));
    assert_eq!(
        of_peers("answered") + of_peers("answered_from_cache"),
        of_queries("answered"),
        "a record's answers include those from caches"
    );
    assert_eq!(of_peers("bytes_served"), 0, "nothing was downloaded");
    // GET /report has the same rows, in config order.
    let (_, report) = launch.call("GET", "/report", None);
    let rows = report["peers"].as_array().expect("the report's peers");
    let ids: Vec<&str> = rows.iter().map(|r| r["peer"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"]);
    let of_rows: u64 = rows
        .iter()
        .map(|r| r["messages_out"]["query"].as_u64().unwrap())
        .sum();
    assert_eq!(of_rows, of_queries("messages"));

    bad_requests_are_refused(&launch);
    let output = launch.stop();
    assert!(output.contains("lighthouse keeper"), "the table: {output}");
}

fn bad_requests_are_refused(launch: &Launch) {
    let error = |(status, body): (u16, Value)| -> (u16, String) {
        (
            status,
            body["error"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (status, why) = error(launch.call("POST", "/peers/nobody/kill", None));
    assert_eq!(status, 404);
    assert!(why.contains("no peer named \"nobody\""), "{why}");
    let (status, why) = error(launch.call(
        "POST",
        "/search",
        Some(&json!({"from": "nobody", "words": "x"})),
    ));
    assert_eq!(status, 404, "{why}");
    for (body, says) in [
        (
            json!({"from": "p0", "words": "x", "ttl": 0}),
            "from 1 to 255",
        ),
        (
            json!({"from": "p0", "words": "x", "ttl": 256}),
            "from 1 to 255",
        ),
        (json!({"from": "p0", "words": " - "}), "hold no keyword"),
        (json!({"from": "p0"}), "missing field `words`"),
    ] {
        let (status, why) = error(launch.call("POST", "/search", Some(&body)));
        assert_eq!(status, 400, "{body}: {why}");
        assert!(why.contains(says), "{body}: {why}");
    }
    let (status, text) = raw(
        launch.control,
        b"POST /search HTTP/1.1\r\nContent-Length: 5\r\n\r\n{from",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("not JSON"), "{text}");
    let (status, why) = error(launch.call("GET", "/search", None));
    assert_eq!(status, 405, "{why}");
    let (status, why) = error(launch.call("DELETE", "/peers", None));
    assert_eq!(status, 405, "{why}");
    let (status, why) = error(launch.call("GET", "/peers/p0/kill", None));
    assert_eq!(status, 405, "{why}");
    let (status, why) = error(launch.call("GET", "/nowhere", None));
    assert_eq!(status, 404);
    assert!(why.contains("GET /peers"), "the routes are named: {why}");
    let (status, text) = raw(launch.control, b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(status, 400, "{text}");
    let huge = format!(
        "POST /search HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    let (status, text) = raw(launch.control, huge.as_bytes());
    assert_eq!(status, 413, "{text}");
    // Still serving after all that.
    assert_eq!(launch.peers().len(), 5);
}

#[test]
fn a_launch_in_one_process_is_controlled_over_http() {
    controlled(&[]);
}

#[test]
fn a_sharded_launch_is_controlled_over_http_and_stays_up_after_its_workload() {
    let dir = tempfile::tempdir().unwrap();
    // The workload runs first; the launch then stays up, serving, until SIGTERM.
    let launch = Launch::start(
        &write_ring(dir.path()),
        &["--shards", "2", "--run-workload"],
    );
    let (status, report) = launch.call("GET", "/report", None);
    assert_eq!(status, 200);
    assert_eq!(report["network"]["processes"], 2);
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 2, "the workload's queries: {report:#}");
    assert!(queries.iter().all(|q| q["success"] == true), "{report:#}");
    launch.stop();
    controlled(&["--shards", "2"]);
}

#[test]
fn a_launch_of_one_process_per_peer_is_controlled_over_http() {
    controlled(&["--processes"]);
}

#[test]
fn a_control_address_off_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_ring(dir.path());
    for addr in ["0.0.0.0:0", "192.0.2.1:6380"] {
        let out = Command::new(BIN)
            .arg("launch")
            .arg(&config)
            .args(["--control", addr])
            .output()
            .expect("gnutella runs");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback only"), "{addr}: {err}");
    }
}

/// 30 peers of a dynamic overlay, no configured links, joining through p0 (the shape of
/// `topology-configs/dynamic-30.json`, on port 0).
fn dynamic_config(dir: &Path) -> PathBuf {
    let peers: Vec<Value> = (0..30)
        .map(|i| {
            let mut p = json!({"id": format!("p{i}"), "listen": "127.0.0.1:0"});
            if i == 29 {
                p["share"] = json!({"files": [{"name": "far-away-song.ogg", "size": 1000}]});
            }
            p
        })
        .collect();
    let config = json!({
        "name": "dynamic-30",
        "defaults": {"seed": 3},
        "overlay": {"mode": "dynamic", "min_degree": 3, "max_degree": 6, "bootstrap": ["p0"]},
        "peers": peers,
    });
    let path = dir.join("dynamic.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

#[test]
fn survivors_of_a_dynamic_overlay_killed_through_the_api_get_back_their_minimum_degree() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::start(&dynamic_config(dir.path()), &["--shards", "2"]);
    let min = 3;
    launch.until_peers("every peer at its minimum degree", |peers| {
        peers.len() == 30 && peers.iter().all(|p| p["degree"].as_u64() >= Some(min))
    });
    // 30 %: nine peers, the bootstrap p0 among them.
    let killed: Vec<String> = (0..9).map(|i| format!("p{}", i * 3)).collect();
    for id in &killed {
        let (status, answer) = launch.call("POST", &format!("/peers/{id}/kill"), None);
        assert_eq!((status, &answer["up"]), (200, &json!(false)), "{answer}");
    }
    let survivor = |p: &&Value| !killed.iter().any(|k| p["id"] == k.as_str());
    launch.until_peers("every survivor back at its minimum degree", |peers| {
        let alive: Vec<&Value> = peers.iter().filter(survivor).collect();
        alive.len() == 21
            && alive.iter().all(|p| {
                p["up"] == true
                    && p["degree"].as_u64() >= Some(min)
                    && p["degree"].as_u64() <= Some(6)
                    && p["neighbours"]
                        .as_array()
                        .is_some_and(|n| n.iter().all(|n| !killed.iter().any(|k| n == k.as_str())))
            })
    });
    // p3 comes back while the bootstrap p0 stays down and p3 has no configured link: it
    // can rejoin only from the host cache it had when it was killed.
    let (status, answer) = launch.call("POST", "/peers/p3/revive", None);
    assert_eq!((status, &answer["up"]), (200, &json!(true)), "{answer}");
    launch.until_peers(
        "p3 back at its minimum degree from its saved hosts",
        |peers| degree(peers, "p3") >= min && degree(peers, "p3") != u64::MAX,
    );
    // And the survivors still find each other's files.
    let (status, record) = launch.call(
        "POST",
        "/search",
        Some(&json!({"from": "p1", "words": "far away song", "ttl": 7})),
    );
    assert_eq!(status, 200, "{record}");
    assert!(record["hits"].as_u64() >= Some(1), "{record:#}");
    launch.stop();
}
