//! Dynamic querying (strategy `dq`): an ultrapeer widens a search one link at a time
//! until it has enough results, instead of flooding every link at full TTL.
//!
//! Why its own module: a dynamic query is a small state machine with timers of its own
//! (probe, then one step per wait, then done), and the node should only have to say
//! "start", "results came", "the leaf reported", "a timer fired" and carry out the sends
//! it returns. The design is LimeWire's (Fisk, *Gnutella Dynamic Query Protocol v0.1*,
//! 2003) with the constants of gtk-gnutella's `dq.c`:
//!
//! 1. **Probe** (`dq_send_probe`): the query goes to [`PROBE_LINKS`] of the links whose
//!    last-hop QRP table matches it (or that sent none: they may answer), with the
//!    query's TTL, one less when more than 9 such links exist and one less again above
//!    18 (common content needs less reach); then the node waits `probes × 1.4 × wait`
//!    (gtk-gnutella: 1.5 s extra per probed link on top of its 3.7 s step). When no
//!    link's table matches, the steps start at once.
//! 2. **Steps** (`dq_send_next`): while the results kept are below the target, the next
//!    link not yet queried (those whose last-hop table matches first) gets the query with
//!    the TTL whose estimated horizon covers that link's share
//!    of the hosts still needed: results per host so far give the hosts needed, split
//!    evenly over the links left. A link's horizon at TTL t is
//!    `Σ_{i<t} (d−1)^i × 0.8^(t−1)` for its degree d (its `X-Degree`, else ours), the
//!    0.8 per hop standing for cycles and flow control. The TTL is at most the query's
//!    (at most [`MAX_TTL`]) and the link's `X-Max-TTL`. After each step the node waits
//!    `wait`, shortened by 1/37 per step (down to 15/37 of it) while results stay rare.
//!    A link whose step would be TTL 1 and whose last-hop table does not match is
//!    skipped for the next one: the query would end there unanswered.
//! 3. **Again, wider**: once every link was queried and results are still short, the
//!    link that got the lowest TTL gets the query again with a higher one (relays forward
//!    a copy with more TTL left than their first). An ultrapeer with 30 links rarely gets
//!    here; a peer of a flat network with 4 links would otherwise stop after its probe.
//! 4. **Stop** at the target, when no link can be given a higher TTL, after a horizon of
//!    [`MAX_HORIZON`] hosts, or when the leaf asks (`kept` = 0xFFFF).
//!
//! **Leaf guidance**: for a leaf's query, when the leaf said it understands Query Status
//! (Messages Supported) or flagged the query as leaf-guided, the node asks it (BEAR/11)
//! how many results it kept after every [`STATUS_EVERY`] links once
//! [`MIN_FOR_GUIDANCE`] new results came; the leaf's answer (BEAR/12), solicited or not,
//! replaces the count of results routed (divided by [`AVG_ULTRAPEERS`], the ultrapeers a
//! leaf queries at once, as gtk-gnutella does).
//!
//! Departures from gtk-gnutella, each for the simulator's sake or a plain bug there:
//! results per host are computed in floating point (gtk-gnutella's integer division makes
//! it 0 until a query has more results than hosts, which always picks the highest TTL);
//! when even TTL 1 reaches more hosts than needed, TTL 1 is used (gtk-gnutella falls back
//! to the highest); links are taken in link order, those whose last-hop table matches
//! first (gtk-gnutella sorts by send-queue size first, which the core does not know);
//! a leaf may run at most [`MAX_QUERIES_PER_LEAF`] at once here; waits scale with `wait` so a
//! simulated network with 10 ms links need not wait 3.7 s per step.

use std::sync::Arc;

use super::types::{ConnId, Time};
use crate::protocol::{Guid, Query};

/// Links the probe goes to (gtk-gnutella `DQ_PROBE_UP`, Fisk's draft: 3).
pub const PROBE_LINKS: usize = 3;
/// Highest TTL a dynamic query uses (gtk-gnutella `DQ_MAX_TTL`).
pub const MAX_TTL: u8 = 5;
/// Estimated hosts after which the query stops (gtk-gnutella `DQ_MAX_HORIZON`).
pub const MAX_HORIZON: f64 = 500_000.0;
/// Results wanted for a search of our own (gtk-gnutella `DQ_LOCAL_RESULTS`, LimeWire's
/// ultrapeer target: 150).
pub const OWN_RESULTS: u32 = 150;
/// Results wanted for a leaf's query (gtk-gnutella `DQ_LEAF_RESULTS`, LimeWire: 50).
pub const LEAF_RESULTS: u32 = 50;
/// A search by SHA-1 wants this many times fewer results (gtk-gnutella
/// `DQ_SHA1_DECIMATOR`).
pub const SHA1_DECIMATOR: u32 = 25;
/// The pause after a step, in ms (gtk-gnutella `DQ_QUERY_TIMEOUT`).
pub const DEFAULT_WAIT_MS: u64 = 3_700;
/// Ultrapeers a leaf sends one query to; its reported count is shared among them.
pub const AVG_ULTRAPEERS: u32 = 3;
/// Links queried between two status requests to a guiding leaf.
pub const STATUS_EVERY: u32 = 3;
/// New results routed before a status request is worth sending.
pub const MIN_FOR_GUIDANCE: u32 = 20;
/// How long a leaf has to answer a status request, in ms (gtk-gnutella: 40 s).
pub const STATUS_TIMEOUT_MS: u64 = 40_000;
/// Unanswered status requests after which a leaf counts as not guiding.
const MAX_STATUS_TIMEOUTS: u32 = 2;
/// Stop when this many times the target passed by unkept (gtk-gnutella assumes at least
/// 5% of the results are kept).
const FIN_FACTOR: u32 = 20;
/// Horizon shrink per hop (gtk-gnutella `DQ_FUZZY_FACTOR`).
const FUZZY: f64 = 0.8;
/// Degrees above this count as this (gtk-gnutella's table size).
const MAX_DEGREE: u32 = 50;
/// Whatever happens, a dynamic query ends after this long (gtk-gnutella: 10 minutes).
const MAX_LIFETIME: Time = Time::from_secs(600);
/// Most dynamic queries one node runs at once; beyond that a query is flooded to the
/// ultrapeers as without dynamic querying.
pub const MAX_QUERIES: usize = 256;
/// Most dynamic queries one node runs at once for one leaf: a leaf past it has its
/// further queries refused until one ends, so that one leaf cannot take every slot
/// (30 leaves, the default `max_leaves`, at 8 each still leave slots for our own
/// searches).
pub const MAX_QUERIES_PER_LEAF: usize = 8;

/// What a dynamic query reads of a link besides its role (a leaf's queries are run for
/// it; no probe goes through a leaf): the link's handshake and its Messages Supported,
/// all unknown by default, as in the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkProfile {
    /// Its `X-Degree`.
    pub degree: Option<u32>,
    /// Its `X-Max-TTL`.
    pub max_ttl: Option<u8>,
    /// It listed Query Status Request in its Messages Supported: it guides our dynamic
    /// queries for it.
    pub query_status: bool,
}

/// What a dynamic query knows about a link it may query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkView {
    pub conn: ConnId,
    /// The neighbour's degree (its `X-Degree`, else an estimate).
    pub degree: u32,
    /// The highest TTL the neighbour accepts (`X-Max-TTL`), if it said.
    pub max_ttl: Option<u8>,
    /// What the neighbour's last-hop QRP table (its merged table) says of this query:
    /// `Some(false)` when it cannot match, `None` when it sent no table (it may).
    pub qrp: Option<bool>,
}

impl LinkView {
    /// Whether the neighbour or one of its leaves may answer (no table: maybe), as
    /// gtk-gnutella's `qrp_node_can_route`.
    fn can_route(&self) -> bool {
        self.qrp != Some(false)
    }
}

/// What a dynamic query asks the node to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send the query on `to` with this TTL (hops 0).
    Send { to: ConnId, ttl: u8 },
    /// Ask the leaf on `leaf` how many results it kept (Query Status Request).
    AskStatus { leaf: ConnId },
}

/// One dynamic query to start.
#[derive(Clone, Debug)]
pub struct DqStart {
    pub guid: Guid,
    pub query: Arc<Query>,
    /// The leaf we run it for; `None` for our own search.
    pub leaf: Option<ConnId>,
    /// The leaf reports what it keeps (leaf guidance).
    pub guided: bool,
    /// Highest TTL of a step (at most [`MAX_TTL`]): for a leaf's query, the TTL it has
    /// left after our hop.
    pub ttl: u8,
    pub settings: DqSettings,
}

/// Settings of one dynamic query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DqSettings {
    /// Results wanted (before the SHA-1 decimation).
    pub target: u32,
    /// The pause after a step, in ms.
    pub wait_ms: u64,
}

#[derive(Debug)]
struct DynamicQuery {
    guid: Guid,
    query: Arc<Query>,
    /// The leaf we query for; `None` for our own search.
    leaf: Option<ConnId>,
    /// Highest TTL this query uses.
    ttl: u8,
    target: u32,
    wait: u64,
    results: u32,
    new_results: u32,
    /// What the leaf last said it kept, if it guides.
    kept: Option<u32>,
    guided: bool,
    waiting_status: bool,
    status_timeouts: u32,
    last_status: u32,
    horizon: f64,
    /// The links queried so far and the highest TTL each got.
    queried: Vec<(ConnId, u8)>,
    /// Steps sent (probe copies included): what status requests are spaced by.
    steps: u32,
    timer: Time,
    deadline: Time,
}

impl DynamicQuery {
    /// Results that count against the target.
    fn kept(&self) -> u32 {
        match self.kept {
            Some(kept) => kept / AVG_ULTRAPEERS + self.new_results,
            None => self.results,
        }
    }

    fn satisfied(&self) -> bool {
        self.kept() >= self.target
            || self.results >= self.target.saturating_mul(FIN_FACTOR)
            || self.horizon >= MAX_HORIZON
    }
}

/// The dynamic queries a node runs.
#[derive(Debug, Default)]
pub(super) struct DynamicQueries {
    queries: Vec<DynamicQuery>,
}

/// Hosts a query sent with `ttl` on a link to a node of `degree` is estimated to reach.
pub fn horizon(degree: u32, ttl: u8) -> f64 {
    let branching = f64::from(degree.clamp(1, MAX_DEGREE) - 1);
    let ttl = i32::from(ttl.clamp(1, MAX_TTL));
    let hosts: f64 = (0..ttl).map(|i| branching.powi(i)).sum();
    hosts * FUZZY.powi(ttl - 1)
}

/// The results a query wants: `target`, divided for a search by SHA-1.
pub fn target_for(query: &Query, target: u32) -> u32 {
    if crate::protocol::extensions::first_sha1(&query.extensions).is_some() {
        (target / SHA1_DECIMATOR).max(1)
    } else {
        target.max(1)
    }
}

impl DynamicQueries {
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Whether no further dynamic query can start (at most [`MAX_QUERIES`] at once).
    pub(super) fn full(&self) -> bool {
        self.queries.len() >= MAX_QUERIES
    }

    /// How many dynamic queries run here for the leaf on `leaf`.
    pub(super) fn for_leaf(&self, leaf: ConnId) -> usize {
        self.queries.iter().filter(|q| q.leaf == Some(leaf)).count()
    }

    /// Whether `guid` is a dynamic query still running here.
    pub(super) fn runs(&self, guid: Guid) -> bool {
        self.queries.iter().any(|q| q.guid == guid)
    }

    /// The query of dynamic query `guid` and the leaf it runs for (`None`: ours).
    pub(super) fn query(&self, guid: Guid) -> Option<(Arc<Query>, Option<ConnId>)> {
        self.find(guid).map(|q| (Arc::clone(&q.query), q.leaf))
    }

    fn find(&self, guid: Guid) -> Option<&DynamicQuery> {
        self.queries.iter().find(|q| q.guid == guid)
    }

    fn find_mut(&mut self, guid: Guid) -> Option<&mut DynamicQuery> {
        self.queries.iter_mut().find(|q| q.guid == guid)
    }

    /// Starts a dynamic query over `links`; returns its probe.
    pub(super) fn start(&mut self, now: Time, start: DqStart, links: &[LinkView]) -> Vec<Step> {
        let DqStart {
            guid,
            query,
            leaf,
            guided,
            ttl,
            settings,
        } = start;
        if self.queries.len() >= MAX_QUERIES || self.runs(guid) {
            return Vec::new();
        }
        let target = target_for(&query, settings.target);
        let ttl = ttl.clamp(1, MAX_TTL);
        let mut dq = DynamicQuery {
            guid,
            query,
            leaf,
            ttl,
            target,
            wait: settings.wait_ms.max(1),
            results: 0,
            new_results: 0,
            kept: None,
            guided: guided && leaf.is_some(),
            waiting_status: false,
            status_timeouts: 0,
            last_status: 0,
            horizon: 0.0,
            queried: Vec::new(),
            steps: 0,
            timer: now,
            deadline: now.plus_micros(MAX_LIFETIME.0),
        };
        let candidates: Vec<&LinkView> = links.iter().filter(|l| Some(l.conn) != leaf).collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        // `dq_fill_probe_up`: the probe goes only to ultrapeers whose last-hop table
        // matches (or that sent none): the content may be there.
        let probe: Vec<&LinkView> = candidates
            .iter()
            .copied()
            .filter(|l| l.can_route())
            .collect();
        if probe.is_empty() {
            // No table in reach matches: rare content, queried step by step at once.
            self.queries.push(dq);
            return self.send_next(now, guid, links);
        }
        // `dq_send_probe`: the query's TTL, one less when more than 9 of them may
        // answer and one less again above 18 (content that common needs less reach).
        let mut probe_ttl = ttl;
        if probe.len() > 6 * PROBE_LINKS {
            probe_ttl = probe_ttl.saturating_sub(1);
        }
        if probe.len() > 3 * PROBE_LINKS {
            probe_ttl = probe_ttl.saturating_sub(1);
        }
        let probe_ttl = probe_ttl.max(1);
        let mut steps = Vec::new();
        for link in probe.iter().take(PROBE_LINKS) {
            let ttl = link.max_ttl.map_or(probe_ttl, |m| probe_ttl.min(m.max(1)));
            dq.horizon += horizon(link.degree, ttl);
            dq.queried.push((link.conn, ttl));
            dq.steps += 1;
            steps.push(Step::Send { to: link.conn, ttl });
        }
        // gtk-gnutella waits 1.5 s on top of its 3.7 s step per probed link.
        let probes = steps.len() as u64;
        dq.timer = now.plus_micros(probes * dq.wait * 1000 * 7 / 5);
        self.queries.push(dq);
        steps
    }

    /// `count` results for `guid` passed by (hits routed to the leaf or to us).
    pub(super) fn on_results(&mut self, guid: Guid, count: u32) {
        let Some(at) = self.queries.iter().position(|q| q.guid == guid) else {
            return;
        };
        let dq = &mut self.queries[at];
        dq.results = dq.results.saturating_add(count);
        dq.new_results = dq.new_results.saturating_add(count);
        if dq.satisfied() && !dq.waiting_status {
            self.queries.swap_remove(at);
        }
    }

    /// The leaf on `from` reported `kept` results for `guid` (a Query Status Response,
    /// asked for or not). `STOP_QUERY` ends the query.
    pub(super) fn on_status(
        &mut self,
        now: Time,
        guid: Guid,
        from: ConnId,
        kept: u16,
        links: &[LinkView],
    ) -> Vec<Step> {
        let Some(dq) = self.find_mut(guid) else {
            return Vec::new();
        };
        if dq.leaf != Some(from) {
            return Vec::new();
        }
        if kept == crate::protocol::vendor::STOP_QUERY {
            self.finish(guid);
            return Vec::new();
        }
        dq.kept = Some(u32::from(kept));
        dq.guided = true;
        dq.last_status = dq.steps;
        dq.new_results = 0;
        if dq.waiting_status {
            dq.waiting_status = false;
            return self.send_next(now, guid, links);
        }
        if dq.satisfied() {
            self.finish(guid);
        }
        Vec::new()
    }

    /// The link `conn` went down: the queries of the leaf on it end.
    pub(super) fn link_down(&mut self, conn: ConnId) {
        self.queries.retain(|q| q.leaf != Some(conn));
    }

    /// The queries whose timer is due at `now`, in time order.
    pub(super) fn take_due(&self, now: Time) -> Vec<Guid> {
        let mut due: Vec<(Time, Guid)> = self
            .queries
            .iter()
            .filter(|q| q.timer <= now)
            .map(|q| (q.timer, q.guid))
            .collect();
        due.sort();
        due.into_iter().map(|(_, g)| g).collect()
    }

    /// When the next timer is due.
    pub(super) fn next_timeout(&self) -> Option<Time> {
        self.queries.iter().map(|q| q.timer).min()
    }

    /// The timer of `guid` fired: ask the leaf for guidance, or take the next step.
    pub(super) fn on_timer(&mut self, now: Time, guid: Guid, links: &[LinkView]) -> Vec<Step> {
        let Some(dq) = self.find_mut(guid) else {
            return Vec::new();
        };
        if now >= dq.deadline {
            self.finish(guid);
            return Vec::new();
        }
        let mut was_waiting = false;
        if dq.waiting_status {
            was_waiting = true;
            dq.waiting_status = false;
            dq.status_timeouts += 1;
            if dq.kept.is_none() && dq.status_timeouts >= MAX_STATUS_TIMEOUTS {
                dq.guided = false;
            }
        }
        let ask = !was_waiting
            && dq.guided
            && dq.steps - dq.last_status >= STATUS_EVERY
            && dq.new_results >= MIN_FOR_GUIDANCE;
        if let (true, Some(leaf)) = (ask, dq.leaf) {
            dq.waiting_status = true;
            dq.timer = now.plus_micros(STATUS_TIMEOUT_MS.max(dq.wait) * 1000);
            return vec![Step::AskStatus { leaf }];
        }
        self.send_next(now, guid, links)
    }

    /// Sends the query to the next link with the TTL the results so far call for, or
    /// ends the query.
    fn send_next(&mut self, now: Time, guid: Guid, links: &[LinkView]) -> Vec<Step> {
        let Some(dq) = self.find_mut(guid) else {
            return Vec::new();
        };
        if dq.satisfied() {
            self.finish(guid);
            return Vec::new();
        }
        let had = |conn: ConnId| dq.queried.iter().find(|(c, _)| *c == conn).map(|q| q.1);
        let open: Vec<&LinkView> = links.iter().filter(|l| Some(l.conn) != dq.leaf).collect();
        // `dq_fill_next_up`, sorted as `node_mq_qrp_cmp` does (queues aside): the links
        // not queried yet, those whose last-hop table matches (or that sent none) first.
        let mut fresh: Vec<&LinkView> = open
            .iter()
            .copied()
            .filter(|l| had(l.conn).is_none())
            .collect();
        fresh.sort_by_key(|l| !l.can_route());
        // Every link queried and still short: go again, wider, through the link that got
        // the lowest TTL (a relay forwards a copy with more TTL left than its first).
        let mut again: Vec<(&LinkView, u8)> = open
            .iter()
            .filter_map(|l| {
                let before = had(l.conn)?;
                (before < link_max_ttl(dq, l)).then_some((*l, before))
            })
            .collect();
        again.sort_by_key(|(_, before)| *before);
        // `dq_send_next`: the first link whose TTL is above 1 or whose table matches: at
        // TTL 1 an ultrapeer whose last-hop table says no reaches nobody who has it.
        let pick = fresh
            .iter()
            .map(|l| (**l, 0, select_ttl(dq, l, fresh.len())))
            .find(|(l, _, ttl)| *ttl > 1 || l.can_route())
            .or_else(|| {
                again.first().map(|(l, before)| {
                    (**l, *before, select_ttl(dq, l, again.len()).max(before + 1))
                })
            });
        let Some((link, before, ttl)) = pick else {
            self.finish(guid);
            return Vec::new();
        };
        let link = &link;
        dq.horizon += horizon(link.degree, ttl)
            - if before > 0 {
                horizon(link.degree, before)
            } else {
                0.0
            };
        match dq.queried.iter_mut().find(|(c, _)| *c == link.conn) {
            Some(q) => q.1 = ttl,
            None => dq.queried.push((link.conn, ttl)),
        }
        dq.steps += 1;
        // Rare content: shorten the wait, down to 15/37 of it (gtk-gnutella: 100 ms per
        // step of its 3.7 s, down to 1.5 s).
        let kept = dq.kept();
        let low = dq.horizon > 3000.0 && f64::from(kept) < 10.0 * dq.horizon / 3000.0;
        if low {
            let floor = dq.wait * 15 / 37;
            dq.wait = dq
                .wait
                .saturating_sub((dq.wait / 37).max(1))
                .max(floor.max(1));
        }
        dq.timer = now.plus_micros(dq.wait.saturating_mul(1000));
        vec![Step::Send { to: link.conn, ttl }]
    }

    fn finish(&mut self, guid: Guid) {
        self.queries.retain(|q| q.guid != guid);
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.queries.capacity() * std::mem::size_of::<DynamicQuery>()
            + self
                .queries
                .iter()
                .map(|q| q.queried.capacity() * std::mem::size_of::<(ConnId, u8)>())
                .sum::<usize>()
    }
}

/// The highest TTL `link` may get for this query.
fn link_max_ttl(dq: &DynamicQuery, link: &LinkView) -> u8 {
    link.max_ttl.map_or(dq.ttl, |m| dq.ttl.min(m.max(1)))
}

/// The TTL for the next step on `link`, `links_left` links (it included) being left:
/// the largest whose horizon stays within this link's share of the hosts still needed.
fn select_ttl(dq: &DynamicQuery, link: &LinkView, links_left: usize) -> u8 {
    let max = link_max_ttl(dq, link);
    let needed = f64::from(dq.target.saturating_sub(dq.kept()).max(1));
    let per_host = f64::from(dq.results) / dq.horizon.max(1.0);
    let hosts = needed / per_host.max(1e-6);
    let share = hosts / links_left.max(1) as f64;
    (1..=max)
        .rev()
        .find(|&ttl| horizon(link.degree, ttl) <= share)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(n: u32, degree: u32) -> Vec<LinkView> {
        (0..n)
            .map(|i| LinkView {
                conn: ConnId(i),
                degree,
                max_ttl: None,
                qrp: None,
            })
            .collect()
    }

    fn start(
        guid: Guid,
        query: Arc<Query>,
        leaf: Option<ConnId>,
        guided: bool,
        ttl: u8,
        target: u32,
    ) -> DqStart {
        DqStart {
            guid,
            query,
            leaf,
            guided,
            ttl,
            settings: DqSettings {
                target,
                wait_ms: 100,
            },
        }
    }

    #[test]
    fn horizon_follows_gtk_gnutellas_table() {
        assert_eq!(horizon(10, 1), 1.0);
        assert!((horizon(10, 2) - 10.0 * 0.8).abs() < 1e-9);
        assert!((horizon(10, 3) - 91.0 * 0.64).abs() < 1e-9);
        assert_eq!(horizon(1000, 1), horizon(MAX_DEGREE, 1));
        assert_eq!(horizon(10, 9), horizon(10, MAX_TTL));
    }

    #[test]
    fn probe_goes_to_three_links_with_the_query_ttl_and_skips_the_leaf() {
        let mut dqs = DynamicQueries::default();
        let q = Arc::new(Query::keywords("x"));
        let all = links(6, 10);
        let steps = dqs.start(
            Time::ZERO,
            start(Guid([1; 16]), q, Some(ConnId(0)), false, 4, 50),
            &all,
        );
        let to = |c: u32| Step::Send {
            to: ConnId(c),
            ttl: 4,
        };
        assert_eq!(steps, vec![to(1), to(2), to(3)]);
        assert_eq!(dqs.next_timeout(), Some(Time::from_millis(420)));
    }

    #[test]
    fn many_links_that_may_answer_lower_the_probe_ttl() {
        let q = Arc::new(Query::keywords("x"));
        let probe_ttl = |n: u32| {
            let mut dqs = DynamicQueries::default();
            let steps = dqs.start(
                Time::ZERO,
                start(Guid([1; 16]), q.clone(), None, false, 4, 150),
                &links(n, 10),
            );
            match steps[0] {
                Step::Send { ttl, .. } => ttl,
                Step::AskStatus { .. } => panic!("{steps:?}"),
            }
        };
        assert_eq!(probe_ttl(9), 4);
        assert_eq!(probe_ttl(10), 3, "more than 3 x 3");
        assert_eq!(probe_ttl(19), 2, "more than 6 x 3");
    }

    #[test]
    fn the_probe_goes_only_where_last_hop_tables_match() {
        let q = Arc::new(Query::keywords("x"));
        let mut all = links(6, 10);
        for l in &mut all[..4] {
            l.qrp = Some(false);
        }
        all[5].qrp = Some(true);
        let mut dqs = DynamicQueries::default();
        let guid = Guid([6; 16]);
        let steps = dqs.start(
            Time::ZERO,
            start(guid, q.clone(), None, false, 4, 150),
            &all,
        );
        let to = |c: u32| Step::Send {
            to: ConnId(c),
            ttl: 4,
        };
        // Link 4 sent no table (it may answer), link 5's matches.
        assert_eq!(steps, vec![to(4), to(5)]);
        // No table matches: no probe, the first step at once.
        for l in &mut all {
            l.qrp = Some(false);
        }
        let mut dqs = DynamicQueries::default();
        let steps = dqs.start(Time::ZERO, start(guid, q, None, false, 4, 150), &all);
        assert_eq!(steps, vec![to(0)]);
        assert!(dqs.runs(guid));
    }

    #[test]
    fn few_results_widen_with_the_highest_ttl_and_many_narrow_it() {
        let q = Arc::new(Query::keywords("x"));
        let all = links(8, 10);
        // No results after the probe: the next link gets the query's full TTL.
        let mut dqs = DynamicQueries::default();
        let guid = Guid([2; 16]);
        dqs.start(
            Time::ZERO,
            start(guid, q.clone(), None, false, 4, 150),
            &all,
        );
        let due = dqs.next_timeout().unwrap();
        assert_eq!(
            dqs.on_timer(due, guid, &all),
            vec![Step::Send {
                to: ConnId(3),
                ttl: 4
            }]
        );
        // 148 of 150 results after the probe: 2 more need few hosts, TTL 1.
        let mut dqs = DynamicQueries::default();
        dqs.start(Time::ZERO, start(guid, q, None, false, 4, 150), &all);
        dqs.on_results(guid, 148);
        let due = dqs.next_timeout().unwrap();
        assert_eq!(
            dqs.on_timer(due, guid, &all),
            vec![Step::Send {
                to: ConnId(3),
                ttl: 1
            }]
        );
    }

    #[test]
    fn the_target_ends_the_query_and_so_does_running_out_of_links() {
        let q = Arc::new(Query::keywords("x"));
        let all = links(4, 10);
        let mut dqs = DynamicQueries::default();
        let guid = Guid([3; 16]);
        dqs.start(Time::ZERO, start(guid, q.clone(), None, false, 4, 10), &all);
        dqs.on_results(guid, 10);
        assert!(dqs.is_empty());
        assert_eq!(dqs.next_timeout(), None);

        dqs.start(Time::ZERO, start(guid, q, None, false, 4, 10), &all);
        let mut sent = Vec::new();
        while let Some(t) = dqs.next_timeout() {
            sent.extend(dqs.on_timer(t, guid, &all));
        }
        // The probe went at the full TTL: link 3 at full TTL, then nothing is left.
        assert_eq!(
            sent,
            vec![Step::Send {
                to: ConnId(3),
                ttl: 4
            }]
        );
        // Probed at a lower TTL (more than 9 links), the probed links go again, wider.
        let all = links(10, 10);
        dqs.start(
            Time::ZERO,
            start(guid, Arc::new(Query::keywords("x")), None, false, 4, 10),
            &all,
        );
        let mut sent = Vec::new();
        while let Some(t) = dqs.next_timeout() {
            sent.extend(dqs.on_timer(t, guid, &all));
        }
        let again: Vec<Step> = (0..3)
            .map(|c| Step::Send {
                to: ConnId(c),
                ttl: 4,
            })
            .collect();
        assert_eq!(sent.len(), 7 + 3, "{sent:?}");
        assert_eq!(sent[7..], again[..]);
        assert!(dqs.is_empty());
    }

    #[test]
    fn a_guiding_leaf_is_asked_and_its_answer_counts() {
        let q = Arc::new(Query::keywords("x"));
        let all = links(10, 10);
        let leaf = ConnId(0);
        let guid = Guid([4; 16]);
        let mut dqs = DynamicQueries::default();
        dqs.start(Time::ZERO, start(guid, q, Some(leaf), true, 4, 50), &all);
        dqs.on_results(guid, 30);
        let t = dqs.next_timeout().unwrap();
        assert_eq!(dqs.on_timer(t, guid, &all), vec![Step::AskStatus { leaf }]);
        // The leaf kept 60 of what it got from 3 ultrapeers: 20 count here, so go on.
        let steps = dqs.on_status(t, guid, leaf, 60, &all);
        assert!(matches!(steps[..], [Step::Send { .. }]), "{steps:?}");
        // Another link cannot speak for the leaf; the leaf can stop the query.
        assert!(dqs
            .on_status(
                t,
                guid,
                ConnId(5),
                crate::protocol::vendor::STOP_QUERY,
                &all
            )
            .is_empty());
        assert!(dqs.runs(guid));
        dqs.on_status(t, guid, leaf, crate::protocol::vendor::STOP_QUERY, &all);
        assert!(!dqs.runs(guid));
    }

    #[test]
    fn a_link_max_ttl_caps_every_step() {
        let q = Arc::new(Query::keywords("x"));
        let mut all = links(5, 30);
        for l in &mut all {
            l.max_ttl = Some(1);
        }
        let mut dqs = DynamicQueries::default();
        let guid = Guid([5; 16]);
        let probe = dqs.start(Time::ZERO, start(guid, q, None, false, 5, 150), &all);
        assert!(probe.iter().all(|s| matches!(s, Step::Send { ttl: 1, .. })));
        let t = dqs.next_timeout().unwrap();
        assert_eq!(
            dqs.on_timer(t, guid, &all),
            vec![Step::Send {
                to: ConnId(3),
                ttl: 1
            }]
        );
    }
}
