//! Generators build the graphs their specs promise: node counts, degrees and link counts
//! within tolerance, the same graph for the same seed and another for another seed, and
//! clear errors for specs a user mistypes.

use gnutella::topology::{GenError, GenSpec, Graph};

fn gen(spec: &str, seed: u64) -> Graph {
    GenSpec::parse(spec)
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
        .generate(seed)
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn mean_degree(g: &Graph) -> f64 {
    2.0 * g.link_count() as f64 / g.node_count() as f64
}

fn degrees(g: &Graph) -> Vec<usize> {
    (0..g.node_count() as u32).map(|v| g.degree(v)).collect()
}

#[test]
fn ring_line_star_complete_have_their_closed_forms() {
    let ring = gen("ring:n=12", 1);
    assert_eq!((ring.node_count(), ring.link_count()), (12, 12));
    assert!(degrees(&ring).iter().all(|&d| d == 2));
    let line = gen("line:n=12", 1);
    assert_eq!(line.link_count(), 11);
    let star = gen("star:n=10", 1);
    assert_eq!((star.degree(0), star.link_count()), (9, 9));
    let complete = gen("complete:n=20", 1);
    assert_eq!(complete.link_count(), 190);
}

#[test]
fn grid_has_2wh_minus_w_minus_h_links_and_torus_degree_4() {
    let (w, h) = (7usize, 5usize);
    let g = gen("grid:w=7,h=5", 1);
    assert_eq!(g.node_count(), w * h);
    assert_eq!(g.link_count(), 2 * w * h - w - h);
    assert_eq!(gen("grid:n=25", 1).link_count(), 2 * 25 - 10);
    let t = gen("torus:w=7,h=5", 1);
    assert_eq!(t.link_count(), 2 * w * h);
    assert!(degrees(&t).iter().all(|&d| d == 4));
}

#[test]
fn tree_has_n_minus_1_links_and_k_children() {
    let g = gen("tree:n=364,k=3", 1);
    assert_eq!((g.node_count(), g.link_count()), (364, 363));
    assert_eq!(g.degree(0), 3);
    assert_eq!(g.degree(1), 4);
}

#[test]
fn regular_is_exactly_d_regular() {
    let g = gen("regular:n=1000,d=4", 3);
    assert_eq!(g.node_count(), 1000);
    assert!(degrees(&g).iter().all(|&d| d == 4));
    let g = gen("regular:n=101,d=10", 3);
    assert!(degrees(&g).iter().all(|&d| d == 10));
}

#[test]
fn random_has_mean_degree_d() {
    let g = gen("random:n=10000,d=10", 1);
    assert_eq!(g.node_count(), 10000);
    assert_eq!(g.link_count(), 50000, "exactly n*d/2 distinct links");
}

#[test]
fn gnp_mean_degree_is_p_times_n_minus_1() {
    let g = gen("gnp:n=2000,p=0.01", 7);
    let expected = 0.01 * 1999.0;
    assert!(
        (mean_degree(&g) - expected).abs() < 0.05 * expected,
        "{}",
        mean_degree(&g)
    );
}

#[test]
fn ba_mean_degree_tends_to_2m_with_hubs() {
    let g = gen("ba:n=20000,m=2", 1);
    assert_eq!(g.node_count(), 20000);
    assert!((mean_degree(&g) - 4.0).abs() < 0.01, "{}", mean_degree(&g));
    assert!(degrees(&g).iter().all(|&d| d >= 2));
    assert!(
        *degrees(&g).iter().max().unwrap() > 50,
        "preferential attachment makes hubs"
    );
}

#[test]
fn ws_keeps_mean_degree_k() {
    let g = gen("ws:n=1000,k=4,beta=0.1", 1);
    assert_eq!(g.node_count(), 1000);
    assert_eq!(g.link_count(), 2000);
    let lattice = gen("ws:n=1000,k=6,beta=0", 1);
    assert!(degrees(&lattice).iter().all(|&d| d == 6));
}

#[test]
fn plrg_has_a_heavy_tail() {
    let g = gen("plrg:n=10000,exp=2.1", 1);
    assert_eq!(g.node_count(), 10000);
    let degs = degrees(&g);
    let ones = degs.iter().filter(|&&d| d == 1).count();
    let max = *degs.iter().max().unwrap();
    assert!(ones > 3000, "most nodes have the minimum degree: {ones}");
    assert!(max > 20, "a few hubs: {max}");
}

#[test]
fn same_seed_same_graph_other_seed_other_graph() {
    for spec in [
        "random:n=500,d=4",
        "gnp:n=500,p=0.01",
        "regular:n=500,d=4",
        "ba:n=500,m=2",
        "ws:n=500,k=4,beta=0.2",
        "plrg:n=500,exp=2.1",
    ] {
        assert_eq!(gen(spec, 42), gen(spec, 42), "{spec}");
        assert_ne!(gen(spec, 42), gen(spec, 43), "{spec}");
    }
}

#[test]
fn spec_display_parses_back() {
    for spec in [
        "ring:n=12",
        "tree:n=364,k=3",
        "random:n=10000,d=10",
        "ba:n=100000,m=2",
        "grid:w=5,h=5",
        "ws:n=1000,k=4,beta=0.1",
        "plrg:n=10000,exp=2.1,min=1",
        "gnp:n=1000,p=0.01",
    ] {
        let parsed = GenSpec::parse(spec).unwrap();
        assert_eq!(parsed.to_string(), spec);
        assert_eq!(GenSpec::parse(&parsed.to_string()).unwrap(), parsed);
    }
    assert_eq!(
        GenSpec::parse("RING:nodes=5").unwrap(),
        GenSpec::Ring { n: 5 }
    );
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let err = |s: &str| {
        GenSpec::parse(s)
            .and_then(|g| g.generate(1).map(|_| ()))
            .unwrap_err()
    };
    assert!(matches!(err("hypercube:n=8"), GenError::UnknownKind { .. }));
    assert!(
        err("hypercube:n=8").to_string().contains("ring"),
        "lists the kinds"
    );
    assert!(matches!(err("ring:n=12,k=3"), GenError::UnknownKey { ref key, .. } if key == "k"));
    assert!(matches!(err("ring:n=twelve"), GenError::BadNumber { .. }));
    assert!(matches!(err("ring"), GenError::MissingKey { .. }));
    assert!(matches!(err("ring:n"), GenError::Syntax { .. }));
    assert!(matches!(err("ring:n=3,n=4"), GenError::DuplicateKey { .. }));
    assert!(matches!(err("grid:n=26"), GenError::Value { .. }));
    assert!(
        matches!(err("regular:n=5,d=3"), GenError::Value { .. }),
        "n*d odd"
    );
    assert!(matches!(err("gnp:n=10,p=1.5"), GenError::Value { .. }));
    assert!(matches!(err("ws:n=10,k=3"), GenError::Value { .. }));
    assert!(matches!(err("ba:n=3,m=3"), GenError::Value { .. }));
    assert!(matches!(
        err("complete:n=1000000"),
        GenError::TooLarge { .. }
    ));
    assert!(matches!(err(""), GenError::Empty));
}

#[test]
fn dense_random_graphs_and_extreme_values_finish() {
    let g = gen("random:n=300,d=298", 1);
    assert_eq!(g.link_count(), 300 * 298 / 2);
    let g = gen("random:n=300,d=299", 1);
    assert_eq!(g.link_count(), 300 * 299 / 2, "complete");
    let err = |s: &str| {
        GenSpec::parse(s)
            .and_then(|g| g.generate(1).map(|_| ()))
            .unwrap_err()
    };
    assert!(matches!(err("random:n=10,d=10"), GenError::Value { .. }));
    assert!(matches!(
        err("plrg:n=10,max=4000000000"),
        GenError::Value { .. }
    ));
    assert!(matches!(err("plrg:n=10,min=10"), GenError::Value { .. }));
    assert!(matches!(err("plrg:n=10,exp=1"), GenError::Value { .. }));
    assert_eq!(
        gen("ba:n=5,m=4", 1).link_count(),
        10,
        "m = n-1 is the complete graph"
    );
    assert_eq!(gen("gnp:n=50,p=1", 1).link_count(), 1225);
    assert_eq!(gen("gnp:n=50,p=0", 1).link_count(), 0);
    assert_eq!(gen("regular:n=1,d=0", 1).link_count(), 0);
}
