//! The two-tier network in the simulator (issue 12): a generated two-tier graph gives
//! each peer its role, the QRP tables built from the placement reach the ultrapeers
//! through the node code, and a leaf gets only the queries its files answer
//! (tests/sim_strategies.rs compares the cost with flat flooding).

use gnutella::node::{
    Library, QrpTable, RoutingConfig, SharedFile, StrategyParams, StrategySpec, Time,
};
use gnutella::protocol::Query;
use gnutella::sim::{Links, Placement, PlannedQuery, SimConfig, SimFile, SimReport, Simulation};
use gnutella::topology::GenSpec;

const GRAPH: &str = "two-tier:n=300,up=30,leaf_links=3,up_degree=6";

/// Peers 0..300 of `GRAPH`; every 7th peer shares a file named after its number, so a
/// query for `track<k>` matches exactly one peer's table.
fn placement() -> Placement {
    let mut placement = Placement::new();
    for peer in (0..300u32).step_by(7) {
        placement.insert(
            peer,
            vec![SimFile::named(format!("track{peer} live.mp3"), 1000)],
        );
    }
    placement
}

fn run(strategy: &str, queries: &[PlannedQuery]) -> (SimReport, Vec<bool>) {
    let graph = GenSpec::parse(GRAPH).unwrap().generate(4).unwrap();
    let mut routing = RoutingConfig::default();
    let spec: StrategySpec = strategy.parse().unwrap();
    spec.apply(&mut routing, &StrategyParams::default());
    let config = SimConfig {
        routing,
        settle_us: 20_000_000,
        ..SimConfig::default()
    };
    let ultrapeers = graph.ultrapeers().expect("roles").to_vec();
    let mut sim = Simulation::new(Links::from_graph(&graph), config, placement(), 4);
    sim.set_roles(&ultrapeers);
    (sim.run(queries), ultrapeers)
}

fn queries() -> Vec<PlannedQuery> {
    (0..30u32)
        .map(|i| {
            let target = (i * 7 * 13) % 300 / 7 * 7;
            PlannedQuery::new(
                Time(u64::from(i) * 1_000_000),
                (i * 37 + 3) % 300,
                &format!("track{target}"),
                5,
            )
        })
        .collect()
}

#[test]
fn with_qrp_a_leaf_receives_only_the_queries_its_table_matches() {
    let queries = queries();
    let (report, ultrapeers) = run("qrp", &queries);
    let tiers = report.tiers.as_ref().expect("a two-tier run reports tiers");
    assert_eq!(tiers.ultrapeer, ultrapeers);
    let placement = placement();
    let origins: Vec<u32> = queries.iter().map(|q| q.origin).collect();
    let mut fed = 0;
    for leaf in (0..300u32).filter(|&v| !ultrapeers[v as usize]) {
        if origins.contains(&leaf) {
            continue; // its own hits come back to it
        }
        // The table the leaf sends, as the node builds it from the leaf's files.
        let files = placement.get(&leaf).cloned().unwrap_or_default();
        let library = Library::from_files(files.into_iter().enumerate().map(|(i, f)| SharedFile {
            index: i as u32,
            name: f.name,
            size: f.size,
            sha1: f.sha1,
        }));
        let table = QrpTable::from_library(&library);
        let matches = queries
            .iter()
            .any(|q| table.contains_query(&Query::keywords(&q.words)));
        let received = tiers.received[leaf as usize];
        if matches {
            fed += 1;
            assert!(received > 0, "leaf {leaf}'s table matches a query");
        } else {
            assert_eq!(received, 0, "leaf {leaf}'s table matches no query");
        }
    }
    assert!(fed >= 5, "{fed} leaves matched a query");
    let success = report.records.iter().filter(|r| r.success).count();
    assert_eq!(success, queries.len(), "every file is found");
}

#[test]
fn without_roles_the_same_graph_floods_every_leaf() {
    let (report, ultrapeers) = run("flood", &queries());
    let tiers = report
        .tiers
        .as_ref()
        .expect("tiers are counted on a two-tier graph");
    let busy_leaves = (0..300)
        .filter(|&v| !ultrapeers[v] && tiers.received[v] > 0)
        .count();
    assert!(busy_leaves > 250, "{busy_leaves} leaves got queries");
}

#[test]
fn a_two_tier_run_is_a_pure_function_of_its_seed() {
    let queries = queries();
    let (a, _) = run("qrp", &queries);
    let (b, _) = run("qrp", &queries);
    assert_eq!(a.records, b.records);
    assert_eq!(a.tiers, b.tiers);
    assert!(a.records.iter().all(|r| r.start_ms < 30_000.0));
}
