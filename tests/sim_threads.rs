//! `gnutella sim --threads N` writes the same bytes for every N (issue 11: both cores,
//! same bytes). Runs whose searches cannot interact are split over threads (the log says
//! so); the others stay on one thread and are checked all the same.

use std::process::Command;

use proptest::prelude::*;

/// Stdout, the time series file's bytes, and the log line that says how many threads
/// ran, of one `gnutella sim` run.
fn sim(args: &[&str], threads: usize) -> (Vec<u8>, Vec<u8>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let series = dir.path().join("series.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("sim")
        .args(args)
        .args(["--quiet", "--threads", &threads.to_string()])
        .arg("--timeseries")
        .arg(&series)
        .env("RUST_LOG", "gnutella::sim::parallel=info")
        .output()
        .expect("run gnutella sim");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "gnutella sim {args:?} failed: {log}");
    let series = std::fs::read(&series).expect("the time series was written");
    let how = log
        .lines()
        .find(|l| l.contains("simulation on"))
        .map(|l| l[l.find("simulation on").unwrap_or(0)..].to_string())
        .unwrap_or_default();
    (out.stdout, series, how)
}

/// Runs `args` with 1, 2, 3 and 7 threads; every output must equal the one-thread run.
/// Returns the log lines of the multi-thread runs.
fn same_bytes_for_any_threads(args: &[&str]) -> Vec<String> {
    let (one, one_series, _) = sim(args, 1);
    assert!(!one.is_empty());
    let mut how = Vec::new();
    for threads in [2, 3, 7] {
        let (out, series, line) = sim(args, threads);
        assert!(
            out == one,
            "--threads {threads} printed other bytes than --threads 1 for {args:?}"
        );
        assert!(
            series == one_series,
            "--threads {threads} wrote another time series for {args:?}"
        );
        how.push(line);
    }
    how
}

fn assert_parallel(how: &[String], args: &[&str]) {
    for (line, threads) in how.iter().zip([2, 3, 7]) {
        assert!(
            line.starts_with("simulation on ") && line.contains("threads"),
            "{args:?} with --threads {threads} should run in parallel: {line:?}"
        );
    }
}

fn assert_serial(how: &[String], args: &[&str], why: &str) {
    for line in how {
        assert!(
            line.starts_with("simulation on one thread") && line.contains(why),
            "{args:?} should stay on one thread because {why}: {line:?}"
        );
    }
}

#[test]
fn floods_split_over_threads_print_the_same_bytes() {
    let cases: [&[&str]; 4] = [
        // Many searches in flight at once (one every millisecond), from many origins.
        &[
            "--gen",
            "random:n=1500,d=4",
            "--queries",
            "120",
            "--every-ms",
            "1",
            "--seen-capacity",
            "1000",
            "--replicas",
            "5",
            "--json",
        ],
        &[
            "--gen",
            "ba:n=2000,m=2",
            "--queries",
            "60",
            "--ttl",
            "6",
            "--every-ms",
            "30",
            "--csv",
        ],
        &["--gen", "ring:n=60", "--ttl", "12", "--queries", "25"],
        &[
            "--gen",
            "random:n=800,d=5",
            "--queries",
            "40",
            "--latency",
            "20..20",
            "--processing-us",
            "300",
            "--json",
        ],
    ];
    for args in cases {
        let how = same_bytes_for_any_threads(args);
        assert_parallel(&how, args);
    }
}

#[test]
fn runs_whose_searches_interact_stay_on_one_thread_and_print_the_same_bytes() {
    let base = ["--gen", "random:n=600,d=4", "--queries", "30", "--json"];
    let cases: [(&[&str], &str); 6] = [
        (&["--strategy", "walk:4", "--ttl", "30"], "strategy walk:4"),
        (
            &["--strategy", "flood+cache", "--zipf", "1"],
            "result cache",
        ),
        (&["--strategy", "ring"], "strategy ring"),
        (&["--latency", "5..50"], "different delays"),
        (&["--loss", "0.05"], "link loss"),
        (&["--churn", "20000:5000"], "churn"),
    ];
    for (extra, why) in cases {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let how = same_bytes_for_any_threads(&args);
        assert_serial(&how, &args, why);
    }
    // Leaves and ultrapeers route by QRP tables: not split.
    let tiered = [
        "--topology",
        "topology-configs/two-tier-small.json",
        "--json",
    ];
    let how = same_bytes_for_any_threads(&tiered);
    assert_serial(&how, &tiered, "two-tier");
    // Too many searches in flight for the default duplicate table (64 entries).
    let busy = [
        "--gen",
        "random:n=600,d=4",
        "--queries",
        "80",
        "--every-ms",
        "1",
    ];
    let how = same_bytes_for_any_threads(&busy);
    assert_serial(&how, &busy, "capacity");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Any seed: graph, placement, origins and timing all change with it.
    #[test]
    fn any_seed_gives_the_same_bytes_on_one_and_on_three_threads(seed in 0u64..1_000_000) {
        let seed = seed.to_string();
        let args = [
            "--gen", "random:n=700,d=4", "--queries", "50", "--every-ms", "7",
            "--seen-capacity", "256", "--replicas", "4", "--csv", "--seed", &seed,
        ];
        let (one, one_series, _) = sim(&args, 1);
        let (three, three_series, how) = sim(&args, 3);
        prop_assert!(one == three, "seed {}: other bytes on 3 threads", seed);
        prop_assert!(one_series == three_series);
        prop_assert!(how.contains("3 threads"), "{}", how);
    }
}
