//! Several threads, same bytes: a run whose searches provably cannot affect one another
//! is split over threads, each running its own [`Simulation`] of the same shared link
//! table (`Links` clones share their arrays), and the reports are merged into exactly
//! the report one thread would have written.
//!
//! This is a layer above the engine: the engine runs as it always does, on a subset of
//! the planned searches, and only this module decides when that is sound.
//!
//! ## When searches interact (and the run stays on one thread)
//!
//! Searches are split by origin: all the searches of one peer run on the same thread, in
//! order, so the origin's node (its RNG, which draws each search's GUID, its own-search
//! table, its timer) sees exactly what it sees in a one-thread run. Everything else a
//! search touches must provably not depend on the other origins' searches:
//!
//! - **result cache** (`+cache`): a hit cached for one search answers another: serial;
//! - **churn, removal, dynamic overlay**: a peer's presence and links change with events
//!   that belong to no search: serial;
//! - **link loss, per-message latency**: both draw from the run's one link RNG, whose
//!   stream every message advances: serial;
//! - **random walks** (the relays' RNG picks the next hop) and **expanding rings**
//!   (re-issued rounds re-forward under the same GUID and move reverse routes): serial;
//! - **uneven delays** (links of different latency, per-peer TTL limits): a later copy
//!   of a query can carry more TTL than the first one and be re-forwarded, moving reverse
//!   routes; a hit may then be routed towards its own responder, and whether the relay
//!   drops it (`BackToHolder`) depends on whether it has seen that neighbour's own hits
//!   in *any* search. With one delay on every link and one TTL limit for every peer the
//!   first copy a peer gets is a shortest-path copy with the most TTL, so nothing is
//!   re-forwarded, reverse routes point strictly towards the origin and a hit never heads
//!   back to its responder. Serial unless every link has the same delay; the merged
//!   records are also checked (no re-forwards at all), and a run that breaks the rule
//!   anyway is re-run on one thread;
//! - **the duplicate/route table** (two generations, `node::generations`) drops a whole
//!   generation when the newer one has reached half its capacity or is half its age
//!   limit old, so another search's entries can push out this search's entries. With one
//!   delay `d` and processing delay `p`, a TTL-`T` flood is over `L = 2·T·(d + p)` after
//!   it starts (copies out, hits back); an entry is dropped no earlier than half the age
//!   limit after it was made and only after half the capacity of newer keys came in
//!   (one key per search and peer). Parallel only if `L` is at most half the age limit
//!   and at most half the capacity (minus one) of searches start within `L` of any
//!   search;
//! - **two-tier roles** (leaves, ultrapeers, QRP tables): not analysed yet: serial;
//! - **flood traces** record events in the order they happen across searches: the
//!   caller runs traced runs on one thread.
//!
//! What else is shared and why it is harmless: node creation (a node is built the same
//! whenever it is first reached; `nodes_created` is merged as a union), the per-peer
//! message counts (sums), the overlay figures (a static overlay without churn has one
//! shape), the time series (rows of the longest thread, per-second search counts
//! summed), the event order (ties are broken by insertion order, which within one
//! origin's searches is the same in any split), the end of the run (every thread gets
//! the settle time that ends it when the whole run ends).
//!
//! Memory: the link table is shared; each thread has its own node table, per-peer arrays
//! and the nodes its searches reach. The node table is a zeroed 4-byte index per peer
//! plus the nodes built (`super::node_table`), so an extra thread costs about
//! `memory::BYTES_PER_PEER` per peer plus the nodes its own searches reach; `cli::sim`
//! cuts a default thread count to what the memory estimate fits.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::node::{CacheMode, OverMaxTtl, RoutingConfig, Strategy, Time};

use super::config::{PlannedQuery, SimConfig};
use super::engine::{SecondRow, SimProgress, SimReport, SimStats, Simulation};
use super::latency::Latency;
use super::links::Links;
use super::tiers::TierLoads;

/// Why a run stays on one thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serial {
    /// One thread was asked for, or there is at most one origin to split by.
    NothingToSplit,
    Churn,
    Removal,
    DynamicOverlay,
    Loss,
    PerMessageLatency,
    /// Links of different delays, or peers with different TTL limits.
    UnevenDelays,
    /// A strategy other than flood (walks draw from relays' RNGs, rings re-forward).
    Strategy(String),
    ResultCache,
    /// Peers with a two-tier role (leaves, ultrapeers and their QRP tables).
    TwoTier,
    /// A search lasts longer than half the duplicate table's age limit.
    SeenAge {
        search_us: u64,
        half_age_us: u64,
    },
    /// Too many searches run at once for the duplicate table's capacity.
    SeenCapacity {
        concurrent: usize,
        half_capacity: usize,
    },
    /// Found after a parallel run: a query was re-forwarded, or two searches share a
    /// GUID; the run was repeated on one thread.
    CheckFailed(String),
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Serial::NothingToSplit => write!(f, "one thread, or one origin"),
            Serial::Churn => write!(f, "churn changes links for every search"),
            Serial::Removal => write!(f, "a removal changes links for every search"),
            Serial::DynamicOverlay => write!(f, "a dynamic overlay changes links"),
            Serial::Loss => write!(f, "link loss draws from the run's one link RNG"),
            Serial::PerMessageLatency => {
                write!(f, "per-message latency draws from the run's one link RNG")
            }
            Serial::UnevenDelays => write!(
                f,
                "links have different delays (or peers different TTL limits), so queries \
                 can be re-forwarded and hit routing depends on other searches"
            ),
            Serial::Strategy(s) => write!(f, "strategy {s} shares node state between searches"),
            Serial::ResultCache => write!(f, "the result cache shares hits between searches"),
            Serial::TwoTier => write!(
                f,
                "two-tier roles (QRP tables, leaf routing) are not proven independent"
            ),
            Serial::SeenAge {
                search_us,
                half_age_us,
            } => write!(
                f,
                "a search lasts up to {search_us} us, more than half the duplicate table's \
                 age limit ({half_age_us} us)"
            ),
            Serial::SeenCapacity {
                concurrent,
                half_capacity,
            } => write!(
                f,
                "up to {concurrent} searches run at once, more than half the duplicate \
                 table's capacity ({half_capacity}); raise --seen-capacity"
            ),
            Serial::CheckFailed(why) => write!(f, "check after the parallel run failed: {why}"),
        }
    }
}

/// What [`execute`] did.
pub struct Outcome {
    pub report: SimReport,
    /// Threads that ran searches.
    pub threads: usize,
    /// Why the run stayed on (or went back to) one thread.
    pub serial: Option<Serial>,
    /// The simulations as they ended (a process about to exit may `forget` them rather
    /// than free a million nodes one at a time).
    pub simulations: Vec<Simulation>,
}

/// The threads `--threads` means by default: the cores this process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Whether the searches of `queries`, run with `config` over `links` by peers whose
/// settings `routing_of` gives, can be split by origin over `threads` threads with the
/// same output. `Ok(())` means they can.
pub fn verdict(
    threads: usize,
    config: &SimConfig,
    links: &Links,
    routing_of: &dyn Fn(u32) -> Arc<RoutingConfig>,
    queries: &[PlannedQuery],
) -> Result<(), Serial> {
    let origins: HashSet<u32> = queries.iter().map(|q| q.origin).collect();
    if threads <= 1 || origins.len() <= 1 {
        return Err(Serial::NothingToSplit);
    }
    // Every field named: a new setting fails to compile here until someone decides
    // whether it lets searches interact.
    let SimConfig {
        latency,
        loss,
        processing_us,
        churn,
        removal,
        settle_us: _,
        routing: _,
        overlay,
        bootstrap: _,
    } = config;
    if churn.is_some() {
        return Err(Serial::Churn);
    }
    if removal.is_some() {
        return Err(Serial::Removal);
    }
    if overlay.is_dynamic() {
        return Err(Serial::DynamicOverlay);
    }
    if *loss > 0.0
        || (0..links.slot_count() as u32).any(|s| links.slot_loss(s).unwrap_or(0.0) > 0.0)
    {
        return Err(Serial::Loss);
    }
    let delay = uniform_delay(latency, links)?;
    let peers = peer_settings(links.node_count(), routing_of)?;
    // A flood of TTL T is over 2·T hops (copies out, hits back) after it starts.
    let hop = delay.saturating_add(*processing_us);
    let search_us = 2 * u64::from(peers.max_ttl) * hop;
    let half_age_us = peers.min_age_us / 2;
    if search_us > half_age_us {
        return Err(Serial::SeenAge {
            search_us,
            half_age_us,
        });
    }
    let concurrent = most_concurrent(queries, search_us);
    let half_capacity = (peers.min_capacity / 2).max(1);
    if concurrent > half_capacity {
        return Err(Serial::SeenCapacity {
            concurrent,
            half_capacity,
        });
    }
    Ok(())
}

/// The one delay of every link (µs), or why links differ.
fn uniform_delay(latency: &Latency, links: &Links) -> Result<u64, Serial> {
    match *latency {
        Latency::Constant { micros } => Ok(micros),
        Latency::UniformPerLink { min, max } if max <= min => Ok(min),
        Latency::UniformPerMessage { min, max } if max <= min => Ok(min),
        Latency::UniformPerLink { .. } => Err(Serial::UnevenDelays),
        Latency::UniformPerMessage { .. } => Err(Serial::PerMessageLatency),
        Latency::Topology { default } => {
            let mut delays =
                (0..links.slot_count() as u32).map(|s| links.slot_latency_us(s).unwrap_or(default));
            let first = delays.next().unwrap_or(default);
            if delays.all(|d| d == first) {
                Ok(first)
            } else {
                Err(Serial::UnevenDelays)
            }
        }
    }
}

/// What the verdict needs from every peer's routing settings.
struct PeerSettings {
    max_ttl: u8,
    /// The duplicate/route table's limits (`node::routes::table_bounds`), smallest over
    /// the peers; the age is the smaller of the seen and route ages.
    min_age_us: u64,
    min_capacity: usize,
}

fn peer_settings(
    peers: u32,
    routing_of: &dyn Fn(u32) -> Arc<RoutingConfig>,
) -> Result<PeerSettings, Serial> {
    let mut settings: Option<(u8, OverMaxTtl)> = None;
    let mut min_age_us = u64::MAX;
    let mut min_capacity = usize::MAX;
    let mut last: Option<Arc<RoutingConfig>> = None;
    for u in 0..peers.max(1) {
        let config = routing_of(u);
        if last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &config)) {
            continue;
        }
        // Every field named, as in `verdict`.
        let RoutingConfig {
            max_ttl,
            over_max_ttl,
            seen_capacity,
            seen_max_age_secs,
            route_capacity,
            route_max_age_secs,
            cache,
            strategy,
            max_results: _,
            role,
            max_leaves: _,
            leaf_ultrapeers: _,
        } = config.as_ref();
        if role.is_some() {
            // Leaves and ultrapeers exchange QRP tables and route by them: not analysed.
            return Err(Serial::TwoTier);
        }
        if *strategy != Strategy::Flood {
            return Err(Serial::Strategy(config.label()));
        }
        if cache.mode != CacheMode::Off {
            return Err(Serial::ResultCache);
        }
        let limit = (*max_ttl, *over_max_ttl);
        if settings.is_some_and(|s| s != limit) {
            return Err(Serial::UnevenDelays);
        }
        settings = Some(limit);
        // The tables rotate generations by the larger age, but each lookup also expires
        // an entry by its own age: the smaller bounds both.
        let age_secs = (*seen_max_age_secs).min(*route_max_age_secs);
        min_age_us = min_age_us.min(age_secs.saturating_mul(1_000_000));
        min_capacity = min_capacity.min((*seen_capacity).max(*route_capacity).max(1));
        last = Some(config);
    }
    Ok(PeerSettings {
        max_ttl: settings.map_or(1, |s| s.0.max(1)),
        min_age_us,
        min_capacity,
    })
}

/// The most searches starting within `window_us` of any one search (itself included).
fn most_concurrent(queries: &[PlannedQuery], window_us: u64) -> usize {
    let mut starts: Vec<u64> = queries.iter().map(|q| q.at.0).collect();
    starts.sort_unstable();
    let (mut lo, mut hi, mut most) = (0usize, 0usize, 0usize);
    for &at in &starts {
        while starts[lo] < at.saturating_sub(window_us) {
            lo += 1;
        }
        while hi < starts.len() && starts[hi] <= at.saturating_add(window_us) {
            hi += 1;
        }
        most = most.max(hi - lo);
    }
    most
}

/// The planned indices each thread runs: origins whole, in order of first search, each
/// to the thread with the fewest searches so far (ties: the lowest thread).
fn split(queries: &[PlannedQuery], threads: usize) -> Vec<Vec<usize>> {
    let mut by_origin: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, q) in queries.iter().enumerate() {
        by_origin.entry(q.origin).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by_origin.into_values().collect();
    // Largest first balances better; the order among equals is fixed by first index.
    groups.sort_by_key(|g| (std::cmp::Reverse(g.len()), g[0]));
    let mut parts: Vec<Vec<usize>> = vec![Vec::new(); threads.min(groups.len()).max(1)];
    for group in groups {
        let least = (0..parts.len())
            .min_by_key(|&t| (parts[t].len(), t))
            .unwrap_or(0);
        parts[least].extend(group);
    }
    for part in &mut parts {
        part.sort_unstable();
    }
    parts
}

/// Runs `queries` on up to `threads` threads when [`verdict`] allows, else on one, with
/// the same report either way. `build` makes one simulation from a config (the caller's
/// graph, files, names, peers and time-series request); it is called once per thread, so
/// the `Links` it uses should be a clone of one table. `progress` sees the sum of the
/// threads' searches started and messages delivered.
pub fn execute(
    threads: usize,
    config: &SimConfig,
    queries: &[PlannedQuery],
    build: &(dyn Fn(SimConfig) -> Simulation + Sync),
    progress: &mut dyn FnMut(SimProgress),
) -> Outcome {
    let first = build(config.clone());
    let routing_of = |u: u32| Arc::clone(first.routing_of(u));
    let judged = verdict(threads, config, first.links(), &routing_of, queries);
    if let Err(why) = judged {
        if why != Serial::NothingToSplit || threads > 1 {
            log::info!("simulation on one thread: {why}");
        }
        return serial(first, queries, progress, why);
    }
    let mut parts = split(queries, threads);
    // The thread holding the last search to start runs on the simulation built above:
    // its run ends when the whole run ends with the config as given.
    let last = (0..queries.len()).max_by_key(|&i| (queries[i].at, std::cmp::Reverse(i)));
    if let Some(holder) = last.and_then(|i| parts.iter().position(|p| p.contains(&i))) {
        parts.swap(0, holder);
    }
    log::info!(
        "simulation on {} threads ({} searches split by origin)",
        parts.len(),
        queries.len()
    );
    let last_start = queries.iter().map(|q| q.at).max().unwrap_or(Time::ZERO);
    let end = last_start.plus_micros(config.settle_us);
    let started = AtomicUsize::new(0);
    let delivered: Vec<AtomicU64> = parts.iter().map(|_| AtomicU64::new(0)).collect();
    let subsets: Vec<Vec<PlannedQuery>> = parts
        .iter()
        .map(|p| p.iter().map(|&i| queries[i].clone()).collect())
        .collect();
    let results: Vec<(Simulation, SimReport)> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for t in 1..parts.len() {
            let (subset, started, delivered) = (&subsets[t], &started, &delivered[t]);
            // Every thread's run ends when the whole run ends, whatever its own last start.
            let own_last = subset.iter().map(|q| q.at).max().unwrap_or(Time::ZERO);
            let mut c = config.clone();
            c.settle_us = end.0 - own_last.0;
            handles.push(scope.spawn(move || {
                let mut sim = build(c);
                let report = sim.execute(subset, &mut |p: SimProgress| {
                    if p.search_started {
                        started.fetch_add(1, Ordering::Relaxed);
                    }
                    delivered.store(p.delivered, Ordering::Relaxed);
                });
                (sim, report)
            }));
        }
        // Thread 0 runs on the caller's thread and reports everyone's progress.
        let mut sim = first;
        let report = sim.execute(&subsets[0], &mut |p: SimProgress| {
            if p.search_started {
                started.fetch_add(1, Ordering::Relaxed);
            }
            delivered[0].store(p.delivered, Ordering::Relaxed);
            progress(SimProgress {
                started: started.load(Ordering::Relaxed),
                search_started: p.search_started,
                delivered: delivered.iter().map(|d| d.load(Ordering::Relaxed)).sum(),
                now_us: p.now_us,
            });
        });
        let mut results = vec![(sim, report)];
        for h in handles {
            match h.join() {
                Ok(r) => results.push(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    });
    let (simulations, reports): (Vec<Simulation>, Vec<SimReport>) = results.into_iter().unzip();
    let report = merge(&simulations, &parts, reports);
    if let Err(why) = check(&report) {
        log::warn!("simulation repeated on one thread: {why}");
        drop(simulations);
        return serial(build(config.clone()), queries, progress, why);
    }
    progress(SimProgress {
        started: queries.len(),
        search_started: false,
        delivered: report.stats.delivered,
        now_us: report.stats.end_time_us,
    });
    Outcome {
        report,
        threads: parts.len(),
        serial: None,
        simulations,
    }
}

fn serial(
    mut sim: Simulation,
    queries: &[PlannedQuery],
    progress: &mut dyn FnMut(SimProgress),
    why: Serial,
) -> Outcome {
    let report = sim.execute(queries, progress);
    Outcome {
        report,
        threads: 1,
        serial: Some(why),
        simulations: vec![sim],
    }
}

/// What the merged report must show for the split to have been sound (see the module
/// documentation): no query re-forwarded, no two searches with one GUID.
fn check(report: &SimReport) -> Result<(), Serial> {
    if let Some(r) = report.records.iter().find(|r| r.reforwards > 0) {
        return Err(Serial::CheckFailed(format!(
            "query {} was re-forwarded",
            r.guid
        )));
    }
    let mut guids = HashSet::new();
    if let Some(r) = report.records.iter().find(|r| !guids.insert(&r.guid)) {
        return Err(Serial::CheckFailed(format!(
            "two searches share GUID {}",
            r.guid
        )));
    }
    Ok(())
}

/// One report from the threads' reports, exactly as one thread would have written it.
fn merge(sims: &[Simulation], parts: &[Vec<usize>], reports: Vec<SimReport>) -> SimReport {
    let peers = sims.first().map_or(0, |s| s.links().node_count());
    let mut records = Vec::new();
    let mut messages_per_peer: Vec<u64> = Vec::new();
    let mut stats = SimStats::default();
    let mut timeseries: Vec<SecondRow> = Vec::new();
    let mut overlay = None;
    let mut tiers: Option<TierLoads> = None;
    for (part, report) in parts.iter().zip(reports) {
        let SimReport {
            records: part_records,
            planned_index,
            check_backs,
            messages_per_peer: sent,
            stats: s,
            overlay_start,
            overlay_end,
            timeseries: mut rows,
            tiers: part_tiers,
        } = report;
        // Each thread counted what its own searches delivered: the loads add up.
        if let Some(part_tiers) = part_tiers {
            match tiers.as_mut() {
                None => tiers = Some(part_tiers),
                Some(total) => {
                    for (t, n) in total.received.iter_mut().zip(part_tiers.received) {
                        *t += n;
                    }
                }
            }
        }
        overlay.get_or_insert((overlay_start, overlay_end));
        for ((record, local), backs) in part_records.into_iter().zip(planned_index).zip(check_backs)
        {
            records.push((part[local], record, backs));
        }
        if messages_per_peer.len() < sent.len() {
            messages_per_peer.resize(sent.len(), 0);
        }
        for (total, n) in messages_per_peer.iter_mut().zip(sent) {
            *total += n;
        }
        add_stats(&mut stats, &s);
        // Every thread has one row per second up to its own end; the longest has them all.
        if rows.len() > timeseries.len() {
            timeseries = std::mem::replace(&mut rows, timeseries);
        }
        for (row, add) in timeseries.iter_mut().zip(&rows) {
            row.queries_started += add.queries_started;
            row.queries_succeeded += add.queries_succeeded;
        }
    }
    // A peer reached by several threads' searches is one node of the whole run.
    stats.nodes_created = (0..peers)
        .filter(|&u| sims.iter().any(|s| s.node(u).is_some()))
        .count() as u64;
    records.sort_by_key(|(index, _, _)| *index);
    let (overlay_start, overlay_end) = overlay.unwrap_or_default();
    SimReport {
        planned_index: records.iter().map(|(i, _, _)| *i).collect(),
        check_backs: records.iter().map(|(_, _, b)| *b).collect(),
        records: records.into_iter().map(|(_, r, _)| r).collect(),
        messages_per_peer,
        stats,
        overlay_start,
        overlay_end,
        timeseries,
        tiers,
    }
}

/// Adds one thread's run counters to the total (`nodes_created` is recounted by the
/// caller; the end is the latest end).
fn add_stats(total: &mut SimStats, s: &SimStats) {
    // Every field named: a new counter must say how it merges.
    let SimStats {
        delivered,
        lost,
        lost_link_down,
        nodes_created: _,
        timers,
        closed_by_node,
        churn_leaves,
        churn_joins,
        check_backs,
        skipped_offline,
        removed,
        skipped_removed,
        end_time_us,
        dials,
        dials_failed,
        dials_refused,
        links_made,
    } = s;
    total.delivered += delivered;
    total.lost += lost;
    total.lost_link_down += lost_link_down;
    total.timers += timers;
    total.closed_by_node += closed_by_node;
    total.churn_leaves += churn_leaves;
    total.churn_joins += churn_joins;
    total.check_backs += check_backs;
    total.skipped_offline += skipped_offline;
    total.removed += removed;
    total.skipped_removed += skipped_removed;
    total.end_time_us = total.end_time_us.max(*end_time_us);
    total.dials += dials;
    total.dials_failed += dials_failed;
    total.dials_refused += dials_refused;
    total.links_made += links_made;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(at_us: u64, origin: u32) -> PlannedQuery {
        PlannedQuery::new(Time(at_us), origin, "x", 7)
    }

    #[test]
    fn concurrency_counts_starts_within_the_window() {
        let qs: Vec<_> = [0, 10, 20, 100, 105].iter().map(|&t| q(t, 0)).collect();
        assert_eq!(most_concurrent(&qs, 10), 3);
        assert_eq!(most_concurrent(&qs, 4), 1);
        assert_eq!(most_concurrent(&qs, 1000), 5);
        assert_eq!(most_concurrent(&[], 10), 0);
    }

    fn judge(config: &SimConfig, queries: &[PlannedQuery]) -> Result<(), Serial> {
        let links = Links::from_edges(4, [(0, 1), (1, 2), (2, 3), (3, 0)]);
        let routing = Arc::new(config.routing.clone());
        verdict(3, config, &links, &|_| Arc::clone(&routing), queries)
    }

    #[test]
    fn only_floods_that_cannot_meet_in_a_duplicate_table_are_split() {
        let apart: Vec<_> = (0..4).map(|i| q(i * 1_000_000, i as u32)).collect();
        let mut plain = SimConfig::default();
        let cached = judge(&plain, &apart);
        assert_eq!(cached, Err(Serial::ResultCache), "the node default caches");
        plain.routing.cache.mode = CacheMode::Off;
        assert_eq!(judge(&plain, &apart), Ok(()));
        assert_eq!(
            judge(&plain, &apart[..1]),
            Err(Serial::NothingToSplit),
            "one origin"
        );
        let mut slow = plain.clone();
        slow.latency = Latency::Constant { micros: 30_000_000 };
        // 2 x TTL 7 x 30 s is more than half of the 600 s age limit.
        assert!(matches!(judge(&slow, &apart), Err(Serial::SeenAge { .. })));
        let mut small = plain.clone();
        small.routing.seen_capacity = 4;
        small.routing.route_capacity = 4;
        let together: Vec<_> = (0..3).map(|i| q(i * 1000, i as u32)).collect();
        assert!(matches!(
            judge(&small, &together),
            Err(Serial::SeenCapacity {
                concurrent: 3,
                half_capacity: 2
            })
        ));
        assert_eq!(judge(&small, &apart), Ok(()), "one search at a time fits");
        let mut uneven = plain.clone();
        uneven.latency = Latency::UniformPerLink { min: 5, max: 50 };
        assert_eq!(judge(&uneven, &apart), Err(Serial::UnevenDelays));
        let mut walk = plain.clone();
        walk.routing.strategy = Strategy::RandomWalk {
            walkers: 4,
            check_every: 4,
        };
        assert!(matches!(judge(&walk, &apart), Err(Serial::Strategy(_))));
        let mut tiered = plain.clone();
        tiered.routing.role = Some(crate::node::role::RoleSetting::Auto);
        assert_eq!(judge(&tiered, &apart), Err(Serial::TwoTier));
        let mut lossy = plain.clone();
        lossy.loss = 0.01;
        assert_eq!(judge(&lossy, &apart), Err(Serial::Loss));
    }

    #[test]
    fn a_split_keeps_origins_whole_and_balances() {
        let qs: Vec<_> = [3, 1, 3, 2, 3, 1].iter().map(|&o| q(0, o)).collect();
        let parts = split(&qs, 2);
        assert_eq!(parts, vec![vec![0, 2, 4], vec![1, 3, 5]]);
        assert_eq!(split(&qs, 7).len(), 3, "no thread without searches");
    }
}
