//! Flood traces (`--trace`): their lines add up to the queries' records, the filter bounds
//! them, the same seed gives the same file, and a live launch of a config traces the
//! same flood as the simulated run of that config, in one process or over two.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gnutella::node::CopyFate;
use gnutella::trace::schema::World;
use gnutella::trace::{read_trace, Trace, TraceFilter, TraceLine};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

/// Runs the binary with a generous deadline (killed past it).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("gnutella {args:?} did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "gnutella {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn load(path: &Path) -> Trace {
    let file = std::fs::File::open(path).expect("the trace exists");
    read_trace(std::io::BufReader::new(file)).expect("the trace reads back")
}

/// What one query's lines add up to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    messages: u64,
    duplicates: u64,
    reforwards: u64,
    refused: u64,
    lost: u64,
    peers_reached: u64,
    hits: u64,
    hit_messages: u64,
    answered: u64,
}

fn tally(trace: &Trace) -> BTreeMap<String, (Tally, Tally)> {
    let mut origin: HashMap<String, u32> = HashMap::new();
    let mut firsts: HashMap<String, BTreeSet<u32>> = HashMap::new();
    let mut out: BTreeMap<String, (Tally, Tally)> = BTreeMap::new();
    for line in &trace.lines {
        if let TraceLine::Start { q, peer, .. } = line {
            origin.insert(q.clone(), *peer);
        }
    }
    for line in &trace.lines {
        let (counted, _) = out.entry(line.query().to_string()).or_default();
        match line {
            TraceLine::Send { .. } => counted.messages += 1,
            TraceLine::Duplicate { .. } => counted.duplicates += 1,
            TraceLine::Reforward { .. } => counted.reforwards += 1,
            TraceLine::Drop { reason, .. } => match reason.copy_fate() {
                Some(CopyFate::Refused) => counted.refused += 1,
                Some(CopyFate::Lost) => counted.lost += 1,
                _ => {}
            },
            TraceLine::First { q, peer, .. } => {
                if origin.get(q) != Some(peer) {
                    firsts.entry(q.clone()).or_default().insert(*peer);
                }
            }
            TraceLine::HitDelivered { .. } => counted.hits += 1,
            TraceLine::HitRouted { .. } => counted.hit_messages += 1,
            TraceLine::Answered { .. } => counted.answered += 1,
            TraceLine::Record { record, .. } => {
                let (_, expected) = out.entry(record.guid.clone()).or_default();
                *expected = Tally {
                    messages: record.messages,
                    duplicates: record.duplicates,
                    reforwards: record.reforwards,
                    refused: record.refused,
                    lost: record.lost,
                    peers_reached: record.peers_reached,
                    hits: record.hits,
                    hit_messages: record.hit_messages,
                    answered: record.answered,
                };
            }
            TraceLine::Start { .. } | TraceLine::HitDropped { .. } => {}
        }
    }
    for (q, peers) in firsts {
        if let Some((counted, _)) = out.get_mut(&q) {
            counted.peers_reached = peers.len() as u64;
        }
    }
    out
}

/// Every traced query's lines add up to its record, even with lossy links, random
/// latencies (re-forwards) and copies still travelling when the run ends.
#[test]
fn a_simulated_trace_adds_up_to_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.jsonl");
    let p = path.to_str().unwrap();
    ok(&[
        "sim",
        "--gen",
        "random:n=400,d=4",
        "--ttl",
        "5",
        "--queries",
        "6",
        "--replicas",
        "8",
        "--loss",
        "0.05",
        "--latency",
        "5..60",
        "--settle-secs",
        "0",
        "--trace",
        p,
    ]);
    let trace = load(&path);
    assert_eq!(trace.header.world, World::Sim);
    assert_eq!(trace.header.peers.len(), 400);
    assert_eq!(trace.header.links.len(), 800);
    assert_eq!(trace.header.filter, TraceFilter::First(10));
    let tallies = tally(&trace);
    assert_eq!(tallies.len(), 6, "every query of the run is traced");
    let mut lost = 0;
    for (q, (counted, expected)) in &tallies {
        assert_eq!(counted, expected, "query {q}: trace lines vs its record");
        lost += counted.lost;
    }
    assert!(lost > 0, "the lossy links lost copies the trace shows");
    assert!(
        tallies.values().any(|(c, _)| c.hits > 0),
        "some query found a file"
    );
}

#[test]
fn the_same_seed_writes_the_same_trace_and_the_filter_bounds_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace_of = |name: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        let mut args = vec![
            "sim",
            "--gen",
            "ring:n=30",
            "--ttl",
            "6",
            "--queries",
            "5",
            "--trace",
        ];
        args.push(path.to_str().unwrap());
        args.extend_from_slice(extra);
        ok(&args);
        std::fs::read_to_string(&path).unwrap()
    };
    let a = trace_of("a.jsonl", &[]);
    let b = trace_of("b.jsonl", &[]);
    assert_eq!(a, b, "same seed, same bytes");
    let records = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("\"ev\":\"record\""))
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["q"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let all = records(&a);
    assert_eq!(all.len(), 5);
    let two = trace_of("two.jsonl", &["--trace-queries", "2"]);
    assert_eq!(records(&two), all[..2].to_vec(), "the first two searches");
    let third = all[2].to_uppercase();
    let one = trace_of("one.jsonl", &["--trace-guid", &third]);
    assert_eq!(records(&one), vec![all[2].clone()]);
    for other in [&all[0], &all[1], &all[3], &all[4]] {
        assert!(!one.contains(other.as_str()), "only the asked GUID");
    }
}

#[test]
fn bad_trace_flags_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "sim",
        "--gen",
        "ring:n=5",
        "--queries",
        "1",
        "--trace",
        "x.jsonl",
        "--trace-guid",
        "not-a-guid",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a GUID"));
    let missing = dir.path().join("no-such-folder").join("t.jsonl");
    let out = run(&[
        "sim",
        "--gen",
        "ring:n=5",
        "--queries",
        "1",
        "--trace",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--trace"));
    let out = run(&["sim", "--gen", "ring:n=5", "--trace-queries", "3"]);
    assert_eq!(out.status.code(), Some(2), "--trace-queries needs --trace");
}

/// A tree of 15 and a ring of 12 joined at p0; TTL-limited floods from p0 and from a ring
/// peer. On a tree no two copies race, and the ring's TTL keeps both directions apart, so
/// the live flood must reach the same peers at the same hops as the simulated one.
fn tree_and_ring() -> String {
    let mut peers: Vec<(String, Vec<String>, bool)> = Vec::new();
    for i in 0..15 {
        let mut n: Vec<String> = Vec::new();
        if i > 0 {
            n.push(format!("t{}", (i - 1) / 2));
        }
        for c in [2 * i + 1, 2 * i + 2] {
            if c < 15 {
                n.push(format!("t{c}"));
            }
        }
        peers.push((format!("t{i}"), n, i == 13));
    }
    for i in 0..12 {
        let n = vec![format!("r{}", (i + 1) % 12), format!("r{}", (i + 11) % 12)];
        peers.push((format!("r{i}"), n, i == 5));
    }
    // Join the ring to the tree's root.
    peers[0].1.push("r0".into());
    peers[15].1.push("t0".into());
    let peers: Vec<String> = peers
        .into_iter()
        .map(|(id, n, share)| {
            let share = if share {
                r#", "share": {"files": [{"name": "far away leaf.txt", "size": 1000}]}"#
            } else {
                ""
            };
            let n: Vec<String> = n.iter().map(|x| format!("\"{x}\"")).collect();
            format!(
                r#"{{"id": "{id}", "listen": "127.0.0.1:0", "neighbours": [{}]{share}}}"#,
                n.join(", ")
            )
        })
        .collect();
    format!(
        r#"{{
  "name": "tree-and-ring",
  "defaults": {{"ttl": 3, "max_ttl": 7, "seed": 5, "cache": {{"mode": "off"}}}},
  "peers": [
    {}
  ],
  "workload": {{"queries": [
    {{"from": "t0", "words": "far away leaf", "ttl": 3}},
    {{"from": "t1", "words": "far away leaf", "ttl": 2, "at_ms": 300}},
    {{"from": "r3", "words": "leaf", "ttl": 4, "at_ms": 600}}
  ]}}
}}"#,
        peers.join(",\n    ")
    )
}

/// Per query (by origin and words, in start order): the peers reached at each hop, the
/// copies sent, and the hits delivered.
type Flood = BTreeMap<u8, BTreeSet<String>>;

fn floods(trace: &Trace) -> Vec<(String, Flood, u64, u64)> {
    let ids: Vec<&str> = trace.header.peers.iter().map(|p| p.id.as_str()).collect();
    let mut order: Vec<String> = Vec::new();
    let mut label: HashMap<String, String> = HashMap::new();
    let mut by_hop: HashMap<String, Flood> = HashMap::new();
    let mut sends: HashMap<String, u64> = HashMap::new();
    let mut hits: HashMap<String, u64> = HashMap::new();
    for line in &trace.lines {
        let q = line.query().to_string();
        if !order.contains(&q) {
            order.push(q.clone());
        }
        match line {
            TraceLine::Start { peer, words, .. } => {
                label.insert(q, format!("{} {words}", ids[*peer as usize]));
            }
            TraceLine::First { peer, hop, .. } => {
                by_hop
                    .entry(q)
                    .or_default()
                    .entry(*hop)
                    .or_default()
                    .insert(ids[*peer as usize].to_string());
            }
            TraceLine::Send { .. } => *sends.entry(q).or_default() += 1,
            TraceLine::HitDelivered { .. } => *hits.entry(q).or_default() += 1,
            _ => {}
        }
    }
    order
        .into_iter()
        .map(|q| {
            (
                label.get(&q).cloned().unwrap_or_default(),
                by_hop.remove(&q).unwrap_or_default(),
                sends.get(&q).copied().unwrap_or(0),
                hits.get(&q).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// The traces of `tree_and_ring` launched (with `extra` flags) and simulated.
fn launched_and_simulated(extra: &[&str]) -> (Trace, Trace) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tree-and-ring.json");
    std::fs::write(&config, tree_and_ring()).unwrap();
    let cfg = config.to_str().unwrap();
    let live = dir.path().join("live.jsonl");
    let sim = dir.path().join("sim.jsonl");
    let mut args = vec![
        "launch",
        cfg,
        "--run-workload",
        "--quiet-ms",
        "300",
        "--trace",
        live.to_str().unwrap(),
    ];
    args.extend(extra);
    ok(&args);
    ok(&["sim", "--topology", cfg, "--trace", sim.to_str().unwrap()]);
    (load(&live), load(&sim))
}

#[test]
fn a_live_launch_traces_the_same_flood_as_its_simulation() {
    let (live, sim) = launched_and_simulated(&[]);
    assert_eq!(live.header.world, World::Live);
    assert_eq!(sim.header.world, World::Sim);
    let ids = |t: &Trace| -> Vec<String> { t.header.peers.iter().map(|p| p.id.clone()).collect() };
    assert_eq!(ids(&live), ids(&sim), "the same peers, in the same order");
    let links = |t: &Trace| -> BTreeSet<[u32; 2]> { t.header.links.iter().copied().collect() };
    assert_eq!(links(&live), links(&sim), "the same overlay");
    let (live, sim) = (floods(&live), floods(&sim));
    assert_eq!(live.len(), 3);
    assert_eq!(live, sim, "same peers per hop, same copies, same hits");
    // The floods are what their TTLs allow: TTL 3 from the root reaches three tree levels
    // (2 + 4 + 8 peers, the leaf t13 with the file among them) and the ring's r0, then
    // r1 and r11, then r2 and r10; TTL 4 from r3 reaches r5, which holds the file too.
    let (_, first, sends, hits) = &live[0];
    assert_eq!(first.values().map(|s| s.len()).sum::<usize>(), 14 + 5);
    assert!(first[&3].contains("t13") && first[&3].contains("r10"));
    assert_eq!(
        (*sends, *hits),
        (19, 1),
        "a tree-like flood: one copy per peer"
    );
    assert_eq!(live[2].3, 1, "r5 answers the ring search");
}

/// A launch over two processes: each child traces its peers and the parent merges their
/// steps into one file, which adds up to the records and shows the simulated flood.
#[test]
fn a_sharded_launch_traces_the_same_flood_as_its_simulation() {
    let (live, sim) = launched_and_simulated(&["--shards", "2"]);
    assert_eq!(live.header.world, World::Live);
    assert_eq!(live.header.peers.len(), 27);
    let links = |t: &Trace| -> BTreeSet<[u32; 2]> { t.header.links.iter().copied().collect() };
    assert_eq!(links(&live), links(&sim), "the same overlay");
    for (q, (counted, expected)) in tally(&live) {
        assert_eq!(
            counted, expected,
            "query {q}: the merged lines add up to its record"
        );
    }
    assert_eq!(
        floods(&live),
        floods(&sim),
        "same peers per hop, same copies, same hits"
    );
}
