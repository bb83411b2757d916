//! `gnutella view`: one self-contained page, the same bytes for the same trace and seed,
//! clear errors for bad input. (The page's behaviour in a browser is checked by
//! scripts/test-view.sh, which needs Chromium; this suite does not.)

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "gnutella {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn quickstart_trace(dir: &Path) -> String {
    let trace = dir.join("flood.jsonl");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("topology-configs/quickstart.json");
    ok(&[
        "sim",
        "--topology",
        config.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    trace.to_str().unwrap().to_string()
}

#[test]
fn the_page_is_self_contained_and_the_same_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let trace = quickstart_trace(dir.path());
    let page = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        ok(&[
            "view",
            &trace,
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ]);
        std::fs::read_to_string(out).unwrap()
    };
    let a = page("a.html", "1");
    let b = page("b.html", "1");
    assert_eq!(a, b, "same trace and seed, same bytes");
    assert_ne!(a, page("c.html", "2"), "another seed, another layout");
    // Nothing leaves the page: no URL to fetch, no external script, style or image.
    let lower = a.to_ascii_lowercase();
    for banned in [
        "http://", "https://", "src=", "<link", "@import", "fetch(", "xmlhttp",
    ] {
        assert!(!lower.contains(banned), "the page contains {banned:?}");
    }
    // CSS `url(...)` loads; the canvas's `toDataURL(` exports and loads nothing.
    assert_eq!(
        lower.matches("url(").count(),
        lower.matches("todataurl(").count()
    );
    assert!(a.starts_with("<!DOCTYPE html>"));
    assert!(a.contains("window.gnutellaView"));
    // Every peer of the quickstart is drawn, and every traced query is offered.
    for p in 0..10 {
        assert!(a.contains(&format!("[\"p{p}\",")), "peer p{p} is drawn");
    }
    let data_start = a.find("id=\"gnutella-data\"").expect("the data block");
    let data = &a[data_start..];
    let json = &data[data.find('>').unwrap() + 1..data.find("</script>").unwrap()];
    let value: serde_json::Value = serde_json::from_str(json).expect("the data is JSON");
    assert_eq!(value["queries"].as_array().unwrap().len(), 6);
    assert_eq!(value["links"].as_array().unwrap().len(), 12);
}

#[test]
fn words_with_markup_cannot_break_out_of_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("evil.json");
    std::fs::write(
        &config,
        r#"{"name": "</script><b>{{DATA}}",
            "defaults": {"seed": 2},
            "peers": [{"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b"]},
                      {"id": "b", "listen": "127.0.0.1:0"}],
            "workload": {"queries": [{"from": "a", "words": "</script><script>alert(1)</script>"}]}}"#,
    )
    .unwrap();
    let trace = dir.path().join("t.jsonl");
    ok(&[
        "sim",
        "--topology",
        config.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let out = dir.path().join("p.html");
    ok(&[
        "view",
        trace.to_str().unwrap(),
        "--title",
        "</title><script>{{DATA}}",
        "--out",
        out.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(out).unwrap();
    assert_eq!(
        page.matches("<script").count(),
        2,
        "only the page's own scripts"
    );
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(!page.contains("alert(1)</script>"));
}

#[test]
fn bad_traces_and_topologies_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p.html");
    let o = out.to_str().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"schema\":\"gnutella-trace\",\"version\":1,\"world\":\"sim\",\"peers\":[{\"id\":\"a\"}],\"links\":[],\"filter\":{\"first\":1}}\n{\"ev\":\"send\",\"t\":0,\"q\":\"00\",\"peer\":4,\"to\":0,\"hop\":1,\"ttl\":1}\n").unwrap();
    let r = run(&["view", bad.to_str().unwrap(), "--out", o]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("line 2") && err.contains("peer 4"), "{err}");
    assert!(!out.exists(), "no page from a bad trace");

    let missing = run(&["view", "no-such-trace.jsonl", "--out", o]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open"));

    let trace = quickstart_trace(dir.path());
    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        r#"{"peers": [{"id": "x", "listen": "127.0.0.1:0", "neighbours": ["y"]},
                      {"id": "y", "listen": "127.0.0.1:0"}]}"#,
    )
    .unwrap();
    let r = run(&[
        "view",
        &trace,
        "--topology",
        other.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("which the topology does not have"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("topology-configs/quickstart.json");
    ok(&[
        "view",
        &trace,
        "--topology",
        quickstart.to_str().unwrap(),
        "--out",
        o,
    ]);
    assert!(out.exists());
}
