//! The command line against live peers: `launch --processes` and `search --json`.

mod live_support;

use std::process::Stdio;
use std::time::Duration;

use live_support::{bounded, config, start};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

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

const LINE: &str = r#"{
  "name": "line-4",
  "defaults": {"ttl": 7, "max_ttl": 7, "seed": 3, "cache": {"mode": "off"}},
  "peers": [
    {"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b"]},
    {"id": "b", "listen": "127.0.0.1:0", "neighbours": ["c"]},
    {"id": "c", "listen": "127.0.0.1:0", "neighbours": ["d"]},
    {"id": "d", "listen": "127.0.0.1:0", "share": {"files": [{"name": "end-of-line.dat", "size": 2048}]}}
  ],
  "workload": {"queries": [
    {"from": "a", "words": "end line"},
    {"from": "a", "words": "end line", "ttl": 2, "at_ms": 50}
  ]}
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_with_one_process_per_peer_answers() {
    bounded("launch --processes", async {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("line.json");
        std::fs::write(&cfg, LINE).unwrap();
        let report = dir.path().join("report.json");
        let out = run(&[
            "launch",
            cfg.to_str().unwrap(),
            "--processes",
            "--run-workload",
            "--report",
            report.to_str().unwrap(),
        ])
        .await;
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("overlay up"), "{stdout}");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(report["network"]["processes"], 4);
        assert_eq!(report["network"]["peers"], 4);
        let queries = report["queries"].as_array().unwrap();
        assert_eq!(queries.len(), 2);
        // Counts merged from four processes equal the single-process closed form.
        assert_eq!(queries[0]["success"], true);
        assert_eq!(queries[0]["messages"], 3);
        assert_eq!(queries[0]["peers_reached"], 3);
        assert_eq!(queries[0]["first_hit_hops"], 3);
        assert_eq!(queries[0]["hit_messages"], 3);
        assert_eq!(queries[0]["origin"], "a");
        assert_eq!(queries[1]["success"], false, "TTL 2 does not reach 3 hops");
        assert_eq!(queries[1]["peers_reached"], 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_json_prints_the_searchers_view() {
    bounded("search --json", async {
        let cfg = config(
            "two",
            7,
            &[
                (vec![1], vec![("alpha-release.tar", 4096)]),
                (vec![], vec![("alpha-notes.txt", 100)]),
            ],
        );
        let mut network = start(cfg).await;
        let via = network.peers()[0].listen.to_string();
        let out = run(&["search", "alpha", "--via", &via, "--wait", "1", "--json"]).await;
        network.shutdown().await;
        assert!(
            out.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        let record = &json["queries"][0];
        assert_eq!(record["query"], "alpha");
        assert_eq!(record["success"], true);
        assert_eq!(record["hits"], 2);
        assert_eq!(record["responders"], 2);
        assert_eq!(record["first_hit_hops"], 1);
        // A searcher cannot know network-wide counts: they are null, not made up.
        assert!(record["messages"].is_null());
        let hits = json["hits"].as_array().unwrap();
        let mut names: Vec<&str> = hits.iter().map(|h| h["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["alpha-notes.txt", "alpha-release.tar"]);
        assert!(hits
            .iter()
            .all(|h| h["urn"].as_str().unwrap().starts_with("urn:sha1:")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_end_to_end() {
    bounded("demo", async {
        let out = run(&["demo"]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("overlay up"), "{stdout}");
        assert!(stdout.contains("SHA-1 verified"), "{stdout}");
        assert!(
            stdout.contains("no results"),
            "the word nothing matches finds nothing: {stdout}"
        );
        assert!(
            stdout.contains("messages"),
            "the flooding table is printed: {stdout}"
        );
    })
    .await;
}
