//! Workloads: the same seed gives the same placement and queries; the distributions are the
//! ones asked for; bad descriptions get clear errors.

use gnutella::experiment::workload::{Origins, Placement, Workload, WorkloadSpec};

#[test]
fn same_seed_same_workload_other_seed_other_workload() {
    let spec = WorkloadSpec::with_replicas(3, 200).zipf(0.8);
    let a = Workload::generate(&spec, 50, 7).unwrap();
    let b = Workload::generate(&spec, 50, 7).unwrap();
    let c = Workload::generate(&spec, 50, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.queries, c.queries);
    assert_ne!(a.holdings, c.holdings);
}

#[test]
fn more_queries_leave_the_placement_unchanged() {
    let few = Workload::generate(&WorkloadSpec::with_replicas(3, 10), 40, 1).unwrap();
    let many = Workload::generate(&WorkloadSpec::with_replicas(3, 500), 40, 1).unwrap();
    assert_eq!(few.holdings, many.holdings);
    assert_eq!(few.queries[..], many.queries[..10]);
}

#[test]
fn replicas_r_puts_every_file_on_exactly_r_distinct_peers() {
    let spec = WorkloadSpec {
        files: 300,
        ..WorkloadSpec::with_replicas(4, 1)
    };
    let w = Workload::generate(&spec, 60, 3).unwrap();
    assert!(w.replica_counts().iter().all(|&c| c == 4));
    for list in &w.holdings {
        let mut sorted = list.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), list.len(), "a peer holds the same file twice");
    }
}

#[test]
fn zipf_top_file_is_the_most_asked_for() {
    let spec = WorkloadSpec {
        files: 50,
        ..WorkloadSpec::with_replicas(2, 5000).zipf(1.0)
    };
    let w = Workload::generate(&spec, 100, 11).unwrap();
    let mut counts = vec![0usize; 50];
    for q in &w.queries {
        counts[q.target.unwrap()] += 1;
    }
    let top = counts.iter().copied().max().unwrap();
    assert_eq!(counts[0], top);
    // Zipf(1) over 50 files gives rank 1 about 22% of the queries.
    assert!(
        counts[0] > 800 && counts[0] < 1400,
        "rank 1 asked {} times",
        counts[0]
    );
    assert!(counts[0] > 5 * counts[49]);
}

#[test]
fn query_words_match_their_file_and_no_other() {
    let spec = WorkloadSpec {
        files: 120,
        ..WorkloadSpec::with_replicas(1, 300)
    };
    let w = Workload::generate(&spec, 30, 5).unwrap();
    let words_of = |name: &str| -> Vec<String> {
        name.split(|c: char| !c.is_alphanumeric())
            .map(str::to_lowercase)
            .collect()
    };
    for q in &w.queries {
        let matching: Vec<usize> = w
            .catalogue
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                let file_words = words_of(&f.name);
                q.words
                    .split(' ')
                    .all(|qw| file_words.iter().any(|fw| fw.starts_with(qw)))
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(matching, vec![q.target.unwrap()], "query {:?}", q.words);
    }
}

#[test]
fn misses_ask_for_words_nothing_matches() {
    let spec = WorkloadSpec {
        miss_rate: 0.5,
        ..WorkloadSpec::with_replicas(1, 400)
    };
    let w = Workload::generate(&spec, 30, 5).unwrap();
    let misses: Vec<_> = w.queries.iter().filter(|q| q.target.is_none()).collect();
    assert!(misses.len() > 120 && misses.len() < 280);
    for q in misses {
        assert!(w.catalogue.iter().all(|f| !f.name.contains(&q.words)));
    }
}

#[test]
fn square_root_placement_spends_the_copy_budget() {
    let spec = WorkloadSpec {
        files: 40,
        placement: Placement::SquareRoot { copies: 400 },
        ..WorkloadSpec::with_replicas(1, 10).zipf(1.0)
    };
    let w = Workload::generate(&spec, 1000, 2).unwrap();
    let counts = w.replica_counts();
    assert_eq!(counts.iter().sum::<usize>(), 400);
    assert!(counts[0] > counts[39]);
}

#[test]
fn fixed_origins_take_turns_and_queries_are_in_time_order() {
    let spec = WorkloadSpec {
        origins: Origins::Fixed { peers: vec![2, 5] },
        ..WorkloadSpec::with_replicas(1, 6)
    };
    let w = Workload::generate(&spec, 10, 0).unwrap();
    let origins: Vec<u32> = w.queries.iter().map(|q| q.origin).collect();
    assert_eq!(origins, [2, 5, 2, 5, 2, 5]);
    assert!(w.queries.windows(2).all(|p| p[0].at <= p[1].at));
}

#[test]
fn bad_workloads_are_refused_with_a_clear_message() {
    let unknown = WorkloadSpec::from_json(r#"{"fils": 10}"#)
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("unknown field `fils`"), "{unknown}");
    let kind = WorkloadSpec::from_json(r#"{"popularity": {"kind": "zipff"}}"#)
        .unwrap_err()
        .to_string();
    assert!(kind.contains("zipff"), "{kind}");
    let alpha = WorkloadSpec::from_json(r#"{"popularity": {"kind": "zipf", "alpha": -1}}"#)
        .unwrap_err()
        .to_string();
    assert!(alpha.contains("alpha"), "{alpha}");
    let budget =
        WorkloadSpec::from_json(r#"{"files": 10, "placement": {"kind": "uniform", "copies": 5}}"#)
            .unwrap_err()
            .to_string();
    assert!(budget.contains("copies"), "{budget}");
    let spec = WorkloadSpec {
        origins: Origins::Fixed { peers: vec![12] },
        ..WorkloadSpec::default()
    };
    let origin = Workload::generate(&spec, 10, 0).unwrap_err().to_string();
    assert!(origin.contains("origin peer 12"), "{origin}");
    let good = WorkloadSpec::from_json(
        r#"{"files": 20, "placement": {"kind": "proportional", "copies": 100},
            "popularity": {"kind": "zipf", "alpha": 0.8}, "queries": 5,
            "arrival": {"kind": "poisson", "mean_ms": 10}, "miss_rate": 0.1}"#,
    );
    assert!(good.is_ok(), "{good:?}");
}
