//! One validation policy, as a user meets it on the command line: the same TTL range and
//! message on every subcommand and in every file, blank search words refused, output
//! paths checked before the work that fills them, and `search --via` naming why a peer
//! cannot be joined (at once, not after the network's retries).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

fn gnutella(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(args)
        .output()
        .expect("run gnutella")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A port on which nothing listens (bound, then released).
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

const TTL_RANGE: &str = "from 1 to 255";

#[test]
fn every_ttl_flag_takes_1_to_255_and_says_so() {
    let via = closed_port();
    let cases: Vec<Vec<&str>> = vec![
        vec!["sim", "--gen", "ring:n=5", "--ttl", "0"],
        vec!["sim", "--gen", "ring:n=5", "--ttl", "256"],
        vec!["sim", "--gen", "ring:n=5", "--max-ttl", "0"],
        vec!["search", "x", "--via", &via, "--ttl", "0"],
        vec!["search", "x", "--via", &via, "--ttl", "300"],
        vec!["peer", "--listen", "127.0.0.1:0", "--ttl", "0"],
        vec!["topology", "gen", "ring:n=5", "--ttl", "0"],
    ];
    for args in cases {
        let out = gnutella(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(TTL_RANGE),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = gnutella(&["sim", "--gen", "ring:n=5", "--ttl", "255", "--queries", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ttl 255"));
}

#[test]
fn configs_and_sweep_specs_state_the_same_ttl_range() {
    let dir = tempfile::tempdir().unwrap();
    let config = |ttl: &str| {
        format!(
            r#"{{"name": "t", "defaults": {{"ttl": {ttl}}},
                "peers": [{{"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b"]}},
                          {{"id": "b", "listen": "127.0.0.1:0"}}],
                "workload": {{"queries": [{{"from": "a", "words": "x"}}]}}}}"#
        )
    };
    for ttl in ["0", "300"] {
        let path = dir.path().join(format!("ttl-{ttl}.json"));
        std::fs::write(&path, config(ttl)).unwrap();
        let out = gnutella(&["sim", "--topology", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(TTL_RANGE), "{}", stderr(&out));
    }
    for ttls in ["[0]", "[3, 300]"] {
        let spec = dir.path().join("spec.json");
        std::fs::write(
            &spec,
            format!(r#"{{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": {ttls}}}"#),
        )
        .unwrap();
        let out_dir = dir.path().join("out");
        let out = gnutella(&[
            "experiment",
            spec.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(TTL_RANGE), "{ttls}: {}", stderr(&out));
    }
}

#[test]
fn blank_search_words_are_refused_before_anything_is_sent() {
    let via = closed_port();
    for words in [vec!["   "], vec!["", "--"], vec!["!!!", "*"]] {
        let mut args = vec!["search"];
        args.extend(words.iter().copied().filter(|w| *w != "--"));
        args.extend(["--via", &via]);
        let out = gnutella(&args);
        assert_eq!(out.status.code(), Some(1), "{words:?}");
        let err = stderr(&out);
        assert!(err.contains("hold no keyword"), "{words:?}: {err}");
        assert!(!err.contains("refused"), "checked before dialling: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blank.json");
    std::fs::write(
        &path,
        r#"{"name": "t", "peers": [{"id": "a", "listen": "127.0.0.1:0"}],
            "workload": {"queries": [{"from": "a", "words": " -- "}]}}"#,
    )
    .unwrap();
    let out = gnutella(&["sim", "--topology", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("hold no keyword"), "{}", stderr(&out));
}

#[test]
fn output_paths_are_checked_before_the_work_starts() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/topology-configs/quickstart.json"
    );

    // A launch that would run the whole workload first.
    let report = missing.join("report.json");
    let out = gnutella(&[
        "launch",
        config,
        "--run-workload",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--report") && err.contains("does not exist"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no network was launched");

    let out = gnutella(&["launch", config, "--report", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is a folder"), "{}", stderr(&out));

    let target = missing.join("ring.json");
    let out = gnutella(&[
        "topology",
        "gen",
        "ring:n=5",
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/experiments/walkers-vs-flooding.json"
    );
    let out = gnutella(&["experiment", spec, "--out", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--out") && err.contains("is not a folder"),
        "{err}"
    );

    let via = closed_port();
    let out = gnutella(&[
        "search",
        "x",
        "--via",
        &via,
        "--download",
        "1",
        "--to",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--to") && err.contains("does not exist"),
        "{err}"
    );
    assert!(!missing.exists(), "nothing was created");
}

/// A listener that answers the first connection with `answer` (nothing when empty) and
/// closes it.
fn answer_once(answer: &'static [u8]) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        if let Ok((mut socket, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf);
            let _ = socket.write_all(answer);
        }
    });
    (addr, server)
}

#[test]
fn search_via_names_why_the_peer_cannot_be_joined() {
    let out = gnutella(&["search", "x", "--via", &closed_port()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("connection refused"),
        "{}",
        stderr(&out)
    );

    let (via, server) = answer_once(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let out = gnutella(&["search", "x", "--via", &via]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("not a Gnutella peer") && err.contains("HTTP/1.1 400"),
        "{err}"
    );

    let (via, server) = answer_once(b"");
    let out = gnutella(&["search", "x", "--via", &via]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a Gnutella peer"),
        "{}",
        stderr(&out)
    );

    let (via, server) = answer_once(b"GNUTELLA/0.6 503 Too many connections\r\n\r\n");
    let out = gnutella(&["search", "x", "--via", &via]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("refused us: 503 Too many connections"),
        "{err}"
    );
}
