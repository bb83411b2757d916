//! With `--json` (or `--csv`) standard output holds that one document and nothing else, on
//! every subcommand that offers it, so `gnutella ... --json | jq` always works; the lines
//! for the person watching ("listening on", "overlay up", "report written", downloads)
//! go to standard error.

mod live_support;

use std::collections::BTreeSet;
use std::process::{Output, Stdio};
use std::time::Duration;

use live_support::{bounded, ring, start};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

fn run(args: &[&str]) -> Output {
    let out = std::process::Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("gnutella runs");
    assert!(
        out.status.success(),
        "gnutella {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Standard output parsed as exactly one JSON document.
fn json_of(args: &[&str], out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout of gnutella {args:?} is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn run_json(args: &[&str]) -> (serde_json::Value, String) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (json_of(args, &out), stderr)
}

const LINE: &str = r#"{
  "name": "json-line",
  "defaults": {"ttl": 7, "max_ttl": 7, "seed": 3, "cache": {"mode": "off"}},
  "peers": [
    {"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b"]},
    {"id": "b", "listen": "127.0.0.1:0", "neighbours": ["c"]},
    {"id": "c", "listen": "127.0.0.1:0", "share": {"files": [{"name": "json-end.dat", "size": 100}]}}
  ],
  "workload": {"queries": [{"from": "a", "words": "json end"}]}
}"#;

/// The subcommands (with their parents) whose `--help` offers `--json` or `--csv`.
fn subcommands_offering_documents() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut in_commands = false;
        for line in help.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands {
                match line.split_whitespace().next() {
                    Some("help") | None => {}
                    Some(name) if line.starts_with("  ") => {
                        let mut sub = path.clone();
                        sub.push(name.to_string());
                        todo.push(sub);
                    }
                    Some(_) => in_commands = false,
                }
                if line.trim().is_empty() {
                    in_commands = false;
                }
            }
        }
        for flag in ["--json", "--csv"] {
            // The flag itself, not a longer one (`peer --json-counters`).
            let offered = |l: &str| {
                l.trim_start()
                    .strip_prefix(flag)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',']))
                    || l.contains(&format!(" {flag} "))
            };
            if help.lines().any(offered) && !path.is_empty() {
                found.insert(format!("{} {flag}", path.join(" ")));
            }
        }
    }
    found
}

#[test]
fn every_machine_readable_flag_is_checked_here() {
    let expected: BTreeSet<String> = [
        "launch --json",
        "report shadow --json",
        "search --json",
        "sim --csv",
        "sim --json",
        "topology stats --json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(
        subcommands_offering_documents(),
        expected,
        "a subcommand gained or lost --json/--csv: check its stdout here too"
    );
}

#[test]
fn launch_json_prints_only_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("line.json");
    std::fs::write(&cfg, LINE).unwrap();
    let report = dir.path().join("report.json");
    let cfg = cfg.to_str().unwrap();
    for mode in [&[][..], &["--shards", "2"][..]] {
        let mut args = vec!["launch", cfg, "--run-workload", "--json"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["--report", report.to_str().unwrap()]);
        let (json, stderr) = run_json(&args);
        assert_eq!(json["network"]["peers"], 3, "{mode:?}");
        assert_eq!(json["queries"][0]["success"], true, "{mode:?}");
        for said in ["listening on", "overlay up", "report written to"] {
            assert!(
                stderr.contains(said),
                "{mode:?}: {said:?} on stderr: {stderr}"
            );
        }
    }
}

#[test]
fn launch_without_json_keeps_its_lines_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("line.json");
    std::fs::write(&cfg, LINE).unwrap();
    let out = run(&["launch", cfg.to_str().unwrap(), "--run-workload"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("overlay up"), "{stdout}");
    assert!(stdout.contains("json end"), "the table: {stdout}");
}

#[test]
fn sim_json_and_csv_print_only_their_document() {
    let (json, _) = run_json(&["sim", "--gen", "ring:n=12", "--queries", "60", "--json"]);
    assert_eq!(json["queries"].as_array().map(Vec::len), Some(60));
    let out = run(&["sim", "--gen", "ring:n=12", "--queries", "60", "--csv"]);
    let text = String::from_utf8(out.stdout).expect("CSV is UTF-8");
    let mut lines = text.lines();
    let header = lines.next().expect("a header row");
    let columns = header.split(',').count();
    assert!(header.contains("messages"), "{header}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 60, "one row per query:\n{text}");
    for row in rows {
        assert_eq!(row.split(',').count(), columns, "row {row:?} of {header:?}");
    }
    let (json, _) = run_json(&[
        "sim",
        "--topology",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/topology-configs/quickstart.json"
        ),
        "--json",
    ]);
    assert!(json["summary"].is_object());
}

#[test]
fn topology_stats_json_and_gen_to_stdout_print_only_json() {
    let (json, _) = run_json(&[
        "topology",
        "stats",
        concat!(env!("CARGO_MANIFEST_DIR"), "/topology-configs/ring-16.json"),
        "--json",
    ]);
    assert_eq!(json["nodes"], 16, "{json}");
    let (json, stderr) = run_json(&["topology", "stats", "--gen", "ring:n=30", "--json"]);
    assert_eq!(json["nodes"], 30, "{json}");
    assert!(stderr.contains("generated"), "{stderr}");
    // Without --out the config itself is the document.
    let (json, _) = run_json(&["topology", "gen", "ring:n=5", "--port-zero"]);
    assert_eq!(json["peers"].as_array().map(Vec::len), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_json_prints_only_the_searchers_view() {
    bounded("search --json", async {
        let network = start(ring(4, 7, &[(2, "json-search-target.dat", 4000)])).await;
        let via = network.peers()[0].listen.to_string();
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().to_str().unwrap().to_string();
        let args = [
            "search",
            "json",
            "target",
            "--via",
            &via,
            "--wait",
            "1",
            "--json",
            "--download",
            "1",
            "--to",
            &to,
        ];
        let child = tokio::process::Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let out = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
            .await
            .expect("search finishes in time")
            .expect("output");
        let mut network = network;
        network.shutdown().await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let json = json_of(&args, &out);
        assert_eq!(json["hits"][0]["name"], "json-search-target.dat", "{json}");
        assert!(stderr.contains("downloaded"), "{stderr}");
        assert!(dir.path().join("json-search-target.dat").is_file());
    })
    .await;
}

#[test]
fn report_shadow_json_prints_only_the_report_even_when_it_writes_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/shadow-sample");
    let args = [
        "report",
        "shadow",
        sample.to_str().unwrap(),
        "--json",
        "--out",
        file.to_str().unwrap(),
    ];
    let (json, _) = run_json(&args);
    assert_eq!(json["network"]["peers"], 20);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written, json);
}
