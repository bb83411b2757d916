//! Long work as a user sees it: a run too large for the machine's memory is refused up
//! front with both figures and the way around it (not aborted by an allocation failure),
//! and progress bars never end up in captured output (stderr that is not a terminal).

use std::process::{Command, Output};

fn gnutella(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(args)
        .output()
        .expect("run gnutella")
}

#[test]
fn a_simulation_larger_than_memory_is_refused_before_it_allocates() {
    // 50 million peers with 100 floods: hundreds of GB by the calibrated formula, far
    // beyond this machine (and any CI machine of its kind).
    let out = gnutella(&["sim", "--gen", "random:n=50000000,d=4", "--queries", "100"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may need up to"), "{err}");
    assert!(err.contains("available"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(!err.contains("memory allocation"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn captured_stderr_gets_no_progress_bars() {
    for extra in [&[][..], &["--quiet"][..]] {
        let mut args = vec!["sim", "--gen", "ring:n=200", "--queries", "60", "--json"];
        args.extend_from_slice(extra);
        let out = gnutella(&args);
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("clean JSON");
        assert_eq!(json["summary"]["queries"], 60);
    }
    let out = gnutella(&["topology", "stats", "--gen", "ring:n=300", "--quiet"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("300"));
}
