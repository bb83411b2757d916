//! Statistics of graphs whose answers are known in closed form.

use gnutella::topology::stats::{Stats, StatsOptions};
use gnutella::topology::{GenSpec, Graph};

fn stats(spec: &str) -> Stats {
    let g = GenSpec::parse(spec).unwrap().generate(1).unwrap();
    Stats::of(&g, &StatsOptions::default())
}

#[test]
fn ring_diameter_is_half_n() {
    for n in [10u32, 11, 16] {
        let s = stats(&format!("ring:n={n}"));
        assert_eq!(s.diameter.value, f64::from(n / 2));
        assert!(s.diameter.exact);
        assert_eq!((s.degree.min, s.degree.max), (2, 2));
        assert_eq!(s.degree.histogram, vec![(2, n as usize)]);
        assert_eq!(s.clustering.value, 0.0);
    }
}

#[test]
fn complete_graph_has_clustering_one_and_diameter_one() {
    let s = stats("complete:n=12");
    assert_eq!(s.clustering.value, 1.0);
    assert_eq!(s.diameter.value, 1.0);
    assert_eq!(s.mean_distance.value, 1.0);
}

#[test]
fn tree_has_no_cycles() {
    let s = stats("tree:n=31,k=2");
    assert_eq!(s.links, s.nodes - 1);
    assert_eq!(s.components, 1);
    assert_eq!(s.clustering.value, 0.0, "no triangles");
    assert_eq!(
        s.diameter.value, 8.0,
        "leaf to leaf through the root of a depth-4 tree"
    );
}

#[test]
fn grid_diameter_is_w_plus_h_minus_2() {
    let s = stats("grid:w=7,h=5");
    assert_eq!(s.diameter.value, 10.0);
    assert_eq!((s.degree.min, s.degree.max), (2, 4));
}

#[test]
fn components_and_isolated_nodes_are_counted() {
    let g = Graph::from_edges(7, &[(0, 1), (1, 2), (3, 4)]);
    let s = Stats::of(&g, &StatsOptions::default());
    assert_eq!((s.components, s.largest_component, s.isolated), (4, 3, 2));
    assert_eq!(s.diameter.value, 2.0);
}

#[test]
fn large_graphs_are_estimated_and_say_so() {
    let g = GenSpec::parse("ring:n=5000").unwrap().generate(1).unwrap();
    let options = StatsOptions {
        clustering_sample: 1000,
        exact_diameter_work: 1000,
        ..StatsOptions::default()
    };
    let s = Stats::of(&g, &options);
    assert!(!s.diameter.exact && !s.mean_distance.exact && !s.clustering.exact);
    // Double sweep finds a ring's diameter exactly.
    assert_eq!(s.diameter.value, 2500.0);
    let text = s.to_string();
    assert!(text.contains("estimate"), "{text}");
}
