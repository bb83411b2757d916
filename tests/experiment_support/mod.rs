//! Running `gnutella experiment` from the experiment tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// `gnutella experiment SPEC --out OUT --quiet --jobs JOBS`, which must succeed; its
/// standard output.
pub fn experiment(spec: &Path, out: &Path, jobs: usize) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("experiment")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--jobs", &jobs.to_string()])
        .output()
        .expect("gnutella runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
