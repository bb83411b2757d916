//! Sizes typed on the command line that would need absurd memory are refused with an
//! error line and a non-zero exit, never a multi-gigabyte allocation that aborts.

use std::process::Command;

fn sim(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("sim")
        .args(args)
        .output()
        .expect("run gnutella");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // An abort (SIGABRT on allocation failure) has no exit code.
    assert!(out.status.code().is_some(), "killed by a signal: {stderr}");
    (out.status.success(), stderr)
}

#[test]
fn a_four_billion_node_ring_is_refused_before_allocating() {
    let (ok, stderr) = sim(&["--gen", "ring:n=4000000000", "--queries", "1"]);
    assert!(!ok);
    assert!(stderr.contains("4000000000 nodes"), "{stderr}");
    assert!(stderr.contains("50000000"), "{stderr}");
}

#[test]
fn a_hundred_billion_queries_are_refused() {
    let (ok, stderr) = sim(&["--gen", "ring:n=10", "--queries", "100000000000"]);
    assert!(!ok);
    assert!(stderr.contains("queries"), "{stderr}");
    assert!(stderr.contains("10000000"), "{stderr}");
}

#[test]
fn a_billion_walkers_are_refused() {
    let (ok, stderr) = sim(&["--gen", "ring:n=10", "--strategy", "walk:1000000000"]);
    assert!(!ok);
    assert!(stderr.contains("walk:K"), "{stderr}");
    assert!(stderr.contains("1024"), "{stderr}");
}

#[test]
fn sizes_within_the_limits_still_run() {
    let (ok, stderr) = sim(&[
        "--gen",
        "ring:n=10",
        "--queries",
        "2",
        "--strategy",
        "walk:1024",
        "--ttl",
        "3",
    ]);
    assert!(ok, "{stderr}");
}
