//! Peers spread over child processes (`launch --processes`, `launch --shards K`).
//!
//! One process can hold only so many sockets (20,000 open files here), and a user may want
//! real process isolation, so the parent re-executes its own binary once per shard. Each
//! child binds its peers' listeners (ephemeral ports allowed) and reports the addresses;
//! the parent hands every child the full address table, so cross-shard links can be
//! dialled. Children fold their own peers' events into per-query records and the parent
//! merges them: every counter is a sum over disjoint sets of peers, and the origin's shard
//! alone knows the hits, so the merge is exact.
//!
//! The parent talks to each child over its stdin/stdout, one line per message of
//! [`shard_protocol`](super::shard_protocol).
//!
//! Children ignore Ctrl-C (the terminal sends it to the whole process group): the parent
//! decides when they stop, after collecting their counts; if the parent dies, a child's
//! stdin closes and it stops too. A child that dies is noticed whatever the parent is
//! doing ([`shard_children`](super::shard_children)); the launch goes on with the others
//! and its report names the lost shards, since a long run's numbers from the survivors are
//! worth more than an error. A child waiting for its overlay also listens to the parent,
//! so a parent that stops waiting (a loss, Ctrl-C) gets its report at once.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::clock;
use super::control::{self, Calls};
use super::control_http::ControlServer;
use super::control_shards::{answer_in_child, ShardControl};
use super::from_config::ConfigFactory;
use super::launch_options::{
    finish_report, net_config, write_peer_stats, LaunchError, LaunchOptions, MAX_LISTED_PEERS,
};
use super::network::{bind_all, Network, RemoteLink};
use super::report::{peak_rss_bytes, NetworkSummary};
use super::shard_children::{Children, Heard, ShardSpec};
use super::shard_protocol::{ChildReport, ShardError, ToChild, ToParent};
use super::shard_trace::ShardTrace;
use super::signal::StopFlag;
use super::workload::{
    has_roles, tables_travel, tables_wait_max, tables_waited, wait_for_tables, OwesTables,
};
use crate::node::record::{merge_records, QueryRecord, Recorder};
use crate::node::{PeerStats, SearchRequest, Time};
use crate::topology::TopologyConfig;
use crate::trace::{TraceFilter, TraceOutput, Tracer};

/// Which shard each peer goes to: contiguous blocks of near-equal size.
pub fn partition(peers: usize, shards: usize) -> Vec<Vec<usize>> {
    let shards = shards.clamp(1, peers.max(1));
    let mut out = vec![Vec::new(); shards];
    for i in 0..peers {
        if let Some(s) = out.get_mut(i * shards / peers.max(1)) {
            s.push(i);
        }
    }
    out
}

/// The parent side of a sharded launch. A child that dies is announced, left out, and
/// named in the report's `network.lost_shards`; the launch goes on with the others and
/// still writes its report, then fails with [`ShardError::Lost`].
pub async fn launch_sharded(
    config: TopologyConfig,
    options: LaunchOptions,
) -> Result<(), LaunchError> {
    let started = Instant::now();
    // One listener for the whole launch: a Ctrl-C between two phases is not missed.
    let stop = StopFlag::install();
    let epoch = clock::epoch_unix_micros();
    let specs = partition(config.peers.len(), options.shards.unwrap_or(1))
        .into_iter()
        .map(|members| ShardSpec {
            command: child_command(&options, &members, epoch),
            peers: members
                .iter()
                .filter_map(|&m| config.peers.get(m).map(|p| p.id.clone()))
                .collect(),
            members,
        })
        .collect();
    // The control API before the children: a port taken fails the launch at once.
    let (controller, mut calls) = control::channel();
    let server = match options.control {
        Some(addr) => {
            Some(ControlServer::start_with_ui(addr, controller, options.ui.clone()).await?)
        }
        None => None,
    };
    if let Some(server) = &server {
        options.say(format_args!("control API on {}", server.url()));
        if options.ui.is_some() {
            options.say(format_args!("live page on {}/", server.url()));
        }
    }
    let control = server.as_ref().map(|_| &mut calls);
    let mut children = Children::spawn(specs, started).await?;
    let result = drive(&config, &options, &mut children, &stop, started, control).await;
    children.stop().await;
    let (mut summary, records, peer_stats) = result?;
    summary.lost_shards = children.lost().to_vec();
    write_peer_stats(&options, &peer_stats)?;
    finish_report(&options, &summary, &records)?;
    match children.lost_error() {
        Some(lost) => Err(lost.into()),
        None => Ok(()),
    }
}

/// The command line of the child that runs `members`.
fn child_command(options: &LaunchOptions, members: &[usize], epoch: u64) -> Command {
    let list: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    let mut cmd = Command::new(options.exe.as_ref());
    cmd.arg("launch")
        .arg(&options.config)
        .arg("--shard-members")
        .arg(list.join(","))
        .arg("--epoch-us")
        .arg(epoch.to_string())
        .arg("--overlay-timeout")
        .arg(options.overlay_timeout.as_secs_f64().to_string());
    if options.deflate {
        cmd.arg("--deflate");
    }
    if let Some(threads) = options.threads {
        cmd.arg("--threads").arg(threads.to_string());
    }
    cmd
}

/// Runs the phases of a sharded launch; returns what the shards still running at the
/// end recorded. A loss before the overlay is up skips the workload (the overlay cannot
/// come up without the lost peers); a loss after it does not.
async fn drive(
    config: &TopologyConfig,
    options: &LaunchOptions,
    children: &mut Children,
    stop: &StopFlag,
    started: Instant,
    control: Option<&mut Calls>,
) -> Result<(NetworkSummary, Vec<QueryRecord>, Vec<PeerStats>), LaunchError> {
    let mut summary = NetworkSummary {
        name: config.name.clone(),
        peers: config.peers.len(),
        links: config.links().len(),
        processes: children.len(),
        ..NetworkSummary::default()
    };
    let addrs = tokio::select! {
        addrs = bound_addresses(children, config.peers.len()) => addrs,
        _ = stop.wait() => None,
    };
    // Nothing ran yet: the children are waiting for addresses, not asked for reports.
    let Some(addrs) = addrs else {
        summary.rss_peak_bytes = peak_rss_bytes();
        return Ok((summary, Vec::new(), Vec::new()));
    };
    let listed = config.peers.len() <= MAX_LISTED_PEERS;
    for (peer, addr) in config.peers.iter().zip(&addrs).filter(|_| listed) {
        if let Some(addr) = addr {
            options.say(format_args!("peer {:<8} listening on {addr}", peer.id));
        }
    }
    let table: Vec<SocketAddrV4> = addrs
        .iter()
        .map(|a| a.unwrap_or(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0)))
        .collect();
    let lost_before = children.lost().len();
    let everyone = children.running();
    let addrs = ToChild::Addrs(table.clone());
    let up = tokio::select! {
        up = tokio::time::timeout(
            options.overlay_timeout + Duration::from_secs(5),
            children.ask(&everyone, &addrs, true, |m| match m {
                ToParent::Up => Ok(()),
                other => Err(other),
            }),
        ) => Some(up),
        _ = stop.wait() => None,
    };
    match up {
        Some(Err(_)) => {
            return Err(ShardError::OverlayTimeout(options.overlay_timeout.as_secs_f64()).into())
        }
        // A shard lost: the overlay cannot come up, collect what the others have.
        Some(Ok(_)) if children.lost().len() > lost_before => {}
        Some(Ok(answers)) => {
            if let Some((shard, Err(why))) = answers.into_iter().find(|(_, a)| a.is_err()) {
                return Err(ShardError::Child {
                    shard,
                    what: format!("FAIL {why}"),
                }
                .into());
            }
            if !stop.is_raised() {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                summary.overlay_up_ms = Some(ms);
                if config.overlay.policy().is_dynamic() {
                    // The peers chose their links: count those up now (each from both ends).
                    let running = children.running();
                    let parts = children
                        .ask(&running, &ToChild::Peers, false, |m| match m {
                            ToParent::Peers(peers) => Ok(peers),
                            other => Err(other),
                        })
                        .await;
                    let ends: usize = parts
                        .into_iter()
                        .filter_map(|(_, part)| part.ok())
                        .flatten()
                        .map(|p| p.degree)
                        .sum();
                    summary.links = ends / 2;
                }
                options.say(format_args!(
                    "overlay up: {} peers, {} links, {} processes in {ms:.0} ms",
                    summary.peers, summary.links, summary.processes
                ));
                start_trace(config, options, children, &table).await?;
                run_or_wait(config, options, children, stop).await;
                if let Some(calls) = control {
                    let mut control = ShardControl {
                        children,
                        config,
                        addrs: &table,
                        summary: summary.clone(),
                        quiet: options.quiet,
                    };
                    serve_calls(calls, &mut control, options, stop).await;
                }
            }
        }
        None => {}
    }
    let mut parts = Vec::new();
    summary.rss_peak_bytes = peak_rss_bytes();
    let running = children.running();
    let peer_stats = match options.peer_stats {
        Some(_) => gather_peer_stats(config, children, &running).await,
        None => Vec::new(),
    };
    let reports = children
        .ask(&running, &ToChild::Report, false, |m| match m {
            ToParent::Report(report) => Ok(report),
            other => Err(other),
        })
        .await;
    for (shard, report) in reports {
        let report = report.map_err(|why| ShardError::Child {
            shard,
            what: format!("FAIL {why}"),
        })?;
        summary.totals.add(&report.totals);
        if let Some(rss) = report.rss_peak_bytes {
            summary.rss_peak_bytes = Some(summary.rss_peak_bytes.unwrap_or(0) + rss);
        }
        parts.extend(report.records);
    }
    let records = merge_records(parts);
    if let Some(trace) = children.take_trace() {
        if trace.dropped > 0 {
            log::warn!(
                "trace: {} steps dropped (too many waited for their query's start)",
                trace.dropped
            );
        }
        let finished = trace.finish(&records);
        if let (Some(request), Err(source)) = (&options.trace, finished) {
            return Err(LaunchError::Trace {
                path: request.path.clone(),
                source,
            });
        }
    }
    Ok((summary, records, peer_stats))
}

/// Starts the flood trace of a sharded launch when a file or the live page wants one:
/// the parent writes the header (every peer of the config at its bound address, the
/// links up now) and asks each child to trace its peers.
async fn start_trace(
    config: &TopologyConfig,
    options: &LaunchOptions,
    children: &mut Children,
    table: &[SocketAddrV4],
) -> Result<(), LaunchError> {
    let feed = options.ui.as_ref().map(|ui| &ui.feed);
    let failed = |source| options.trace_failed(source);
    let Some((output, filter)) =
        super::trace::trace_output(options.trace.as_ref(), feed).map_err(failed)?
    else {
        return Ok(());
    };
    let running = children.running();
    let links: Vec<[u32; 2]> = if config.overlay.policy().is_dynamic() {
        // The links the peers grew: each from both ends, by config id.
        let index: std::collections::HashMap<&str, u32> = config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i as u32))
            .collect();
        let parts = children
            .ask(&running, &ToChild::Peers, false, |m| match m {
                ToParent::Peers(peers) => Ok(peers),
                other => Err(other),
            })
            .await;
        let mut links: Vec<[u32; 2]> = parts
            .into_iter()
            .filter_map(|(_, part)| part.ok())
            .flatten()
            .flat_map(|p| {
                let a = index.get(p.id.as_str()).copied();
                p.neighbours
                    .iter()
                    .filter_map(|n| index.get(n.as_str()).copied())
                    .filter_map(move |b| a.filter(|&a| a < b).map(|a| [a, b]))
                    .collect::<Vec<_>>()
            })
            .collect();
        links.sort_unstable();
        links.dedup();
        links
    } else {
        config
            .links()
            .into_iter()
            .map(|(a, b)| [a as u32, b as u32])
            .collect()
    };
    let peers: Vec<(String, SocketAddrV4)> = config
        .peers
        .iter()
        .zip(table)
        .map(|(p, &addr)| (p.id.clone(), addr))
        .collect();
    let mut header = crate::trace::TraceHeader::new(
        crate::trace::schema::World::Live,
        super::trace::trace_peers(&peers),
        links,
        filter,
    );
    header.name = Some(config.name.clone());
    let trace = ShardTrace::start(&header, output).map_err(failed)?;
    let ask = ToChild::Trace(trace.child_filter());
    children.set_trace(trace);
    let answers = children
        .ask(&running, &ask, false, |m| match m {
            ToParent::Done => Ok(()),
            other => Err(other),
        })
        .await;
    if let Some((shard, Err(why))) = answers.into_iter().find(|(_, a)| a.is_err()) {
        return Err(ShardError::Child {
            shard,
            what: format!("FAIL {why}"),
        }
        .into());
    }
    Ok(())
}

/// Every peer's statistics row from the children in `running`, in config order (a peer
/// of a lost shard has none).
async fn gather_peer_stats(
    config: &TopologyConfig,
    children: &mut Children,
    running: &[usize],
) -> Vec<PeerStats> {
    let parts = children
        .ask(running, &ToChild::Peers, false, |m| match m {
            ToParent::Peers(peers) => Ok(peers),
            other => Err(other),
        })
        .await;
    let mut by_id: std::collections::HashMap<String, PeerStats> = parts
        .into_iter()
        .filter_map(|(_, part)| part.ok())
        .flatten()
        .filter_map(|p| p.stats.map(|s| (p.id, s)))
        .collect();
    config
        .peers
        .iter()
        .filter_map(|p| by_id.remove(&p.id))
        .collect()
}

/// Every peer's listening address, by config index, once every child said READY; `None`
/// when a child was lost first (nothing can be launched without its peers).
async fn bound_addresses(
    children: &mut Children,
    peers: usize,
) -> Option<Vec<Option<SocketAddrV4>>> {
    let mut addrs = vec![None; peers];
    let mut pending = children.running();
    while !pending.is_empty() {
        match children.next().await? {
            Heard::Said(shard, ToParent::Bound { peer, addr })
                if children.members(shard).contains(&peer) =>
            {
                if let Some(slot) = addrs.get_mut(peer) {
                    *slot = Some(addr);
                }
            }
            Heard::Said(shard, ToParent::Ready) if pending.contains(&shard) => {
                pending.retain(|&p| p != shard);
            }
            Heard::Said(shard, other) => {
                children.unasked(shard, &other);
                return None;
            }
            Heard::Lost(_) => return None,
            Heard::Ended(_) => {}
        }
    }
    Some(addrs)
}

/// With the control API, after the workload if any: answers calls until Ctrl-C (or until
/// every shard has ended).
async fn serve_calls(
    calls: &mut Calls,
    control: &mut ShardControl<'_>,
    options: &LaunchOptions,
    stop: &StopFlag,
) {
    if stop.is_raised() {
        return;
    }
    if options.run_workload {
        options.say("running until Ctrl-C");
    }
    tokio::select! {
        _ = calls.serve(control) => options.say("every shard has ended"),
        _ = stop.wait() => {}
    }
}

/// The workload, or waiting for Ctrl-C, until done or stopped. (With the control API,
/// the waiting is [`serve_calls`]'s.)
async fn run_or_wait(
    config: &TopologyConfig,
    options: &LaunchOptions,
    children: &mut Children,
    stop: &StopFlag,
) {
    if options.run_workload {
        tokio::select! {
            _ = run_sharded_workload(config, options, children) => {}
            _ = stop.wait() => {}
        }
    } else if options.control.is_some() {
        options.say("running until Ctrl-C");
    } else {
        options.say("running until Ctrl-C");
        tokio::select! {
            _ = children.watch() => options.say("every shard has ended"),
            _ = stop.wait() => {}
        }
    }
}

async fn run_sharded_workload(
    config: &TopologyConfig,
    options: &LaunchOptions,
    children: &mut Children,
) {
    if has_roles(config) {
        let (waited, settled) =
            wait_for_tables(children, tables_travel(config), tables_wait_max()).await;
        options.say(tables_waited(waited, settled));
    }
    let quiet = options.quiet;
    let mut queries: Vec<_> = config.workload.queries.iter().collect();
    queries.sort_by_key(|q| q.at_ms);
    let started = Instant::now();
    for q in queries {
        let due = started + Duration::from_millis(q.at_ms);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            // Only ends when every child has: then nothing more can be asked.
            _ = children.watch() => return,
        }
        let Some(index) = config.peer_index(&q.from) else {
            continue;
        };
        let Some(shard) = children.shard_of(index) else {
            continue;
        };
        if !children.is_running(shard) {
            children.note_query_not_run(shard);
            continue;
        }
        let search = ToChild::Search {
            peer: index,
            ttl: config.ttl_of(q),
            words: q.words.clone(),
        };
        let answers = children
            .ask(&[shard], &search, false, |m| match m {
                ToParent::Guid(guid) => Ok(guid),
                other => Err(other),
            })
            .await;
        match answers.first() {
            Some((_, Ok(_))) => {}
            Some((_, Err(why))) => {
                log::warn!("query {:?} from {} not started: {why}", q.words, q.from)
            }
            None => children.note_query_not_run(shard),
        }
    }
    settle_children(children, quiet, Duration::from_secs(10)).await;
}

/// Waits until no running child has seen a frame for `quiet` (or `max` passed).
pub(super) async fn settle_children(children: &mut Children, quiet: Duration, max: Duration) {
    let started = Instant::now();
    let called = clock::now();
    loop {
        let running = children.running();
        let answers = children
            .ask(&running, &ToChild::Status, false, |m| match m {
                ToParent::Status(at) => Ok(at),
                other => Err(other),
            })
            .await;
        let last = answers
            .into_iter()
            .filter_map(|(_, at)| at.ok())
            .fold(called, Time::max);
        let idle = clock::now().saturating_sub(last);
        if idle.0 >= quiet.as_micros() as u64 || started.elapsed() >= max {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a child was told on its command line.
#[derive(Clone, Debug)]
pub struct ChildOptions {
    pub config: PathBuf,
    pub members: Vec<usize>,
    pub epoch_us: u64,
    pub deflate: bool,
    pub overlay_timeout: Duration,
}

/// A child's trace output: each step line goes to the task that talks to the parent.
struct StepsToParent(tokio::sync::mpsc::UnboundedSender<Vec<u8>>);

impl TraceOutput for StepsToParent {
    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let _ = self.0.send(line.to_vec());
        Ok(())
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Says every step traced so far as a `TRACE` line (the step's JSON as the tracer wrote
/// it: what `ToParent::Trace` displays).
async fn say_steps(
    steps: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    out: &mut tokio::io::Stdout,
) -> std::io::Result<()> {
    let mut any = false;
    while let Ok(step) = steps.try_recv() {
        out.write_all(b"TRACE ").await?;
        out.write_all(&step).await?;
        out.write_all(b"\n").await?;
        any = true;
    }
    if any {
        out.flush().await?;
    }
    Ok(())
}

/// The parent's next line, saying traced steps while waiting for it.
async fn next_input(
    input: &mut tokio::io::Lines<BufReader<tokio::io::Stdin>>,
    steps: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    out: &mut tokio::io::Stdout,
) -> std::io::Result<Option<String>> {
    loop {
        tokio::select! {
            biased;
            line = input.next_line() => return line,
            Some(step) = steps.recv() => {
                out.write_all(b"TRACE ").await?;
                out.write_all(&step).await?;
                out.write_all(b"\n").await?;
                say_steps(steps, out).await?;
                out.flush().await?;
            }
        }
    }
}

async fn say(out: &mut tokio::io::Stdout, msg: ToParent) -> std::io::Result<()> {
    let mut bytes = msg.to_string().into_bytes();
    bytes.push(b'\n');
    out.write_all(&bytes).await?;
    out.flush().await
}

/// The child side: runs its members until told to stop (or until its stdin closes).
pub async fn run_child(options: ChildOptions) -> Result<(), Box<dyn std::error::Error>> {
    clock::adopt_epoch_unix_micros(options.epoch_us);
    // The parent decides when we stop; Ctrl-C on the terminal reaches us too.
    tokio::spawn(async {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
        }
    });
    let mut out = tokio::io::stdout();
    let config = Arc::new(TopologyConfig::load(&options.config)?);
    let mut factory = ConfigFactory::new(config.clone(), options.members.clone())?;
    let mut plans = factory.plans();
    let listeners = bind_all(&mut plans).await?;
    for (plan, &i) in plans.iter().zip(&options.members) {
        say(
            &mut out,
            ToParent::Bound {
                peer: i,
                addr: plan.listen,
            },
        )
        .await?;
    }
    say(&mut out, ToParent::Ready).await?;
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let Some(line) = input.next_line().await? else {
        return Ok(());
    };
    let addrs: Vec<SocketAddrV4> = match line.parse()? {
        ToChild::Addrs(addrs) => addrs,
        // The launch ended before it began (another shard could not start).
        ToChild::Stop => return Ok(()),
        other => return Err(format!("expected ADDRS from the parent, got {other}").into()),
    };
    factory.set_addresses(&addrs);
    let local_of: std::collections::HashMap<usize, usize> = options
        .members
        .iter()
        .enumerate()
        .map(|(l, &g)| (g, l))
        .collect();
    let mut links = Vec::new();
    let mut remote = Vec::new();
    for (a, b) in config.links() {
        match (local_of.get(&a), local_of.get(&b)) {
            (Some(&la), Some(&lb)) => links.push((la, lb)),
            (Some(&la), None) => {
                if let Some(&addr) = addrs.get(b) {
                    remote.push(RemoteLink {
                        local: la,
                        addr,
                        dial: true,
                    });
                }
            }
            (None, Some(&lb)) => {
                if let Some(&addr) = addrs.get(a) {
                    remote.push(RemoteLink {
                        local: lb,
                        addr,
                        dial: false,
                    });
                }
            }
            (None, None) => {}
        }
    }
    let names = config.peers.iter().map(|p| p.id.clone()).collect();
    // This shard may only relay a query another shard started: report those records too,
    // the parent adds their counts to the origin's.
    let mut recorder = Recorder::with_names(names);
    recorder.keep_relayed();
    let mut network = Network::start(
        plans,
        listeners,
        links,
        remote,
        &mut factory,
        net_config(options.deflate),
        recorder,
    );
    network.expect_peers(config.peers.len());
    // Before the first await: on the default one-thread runtime no link is up yet.
    network.name_peers(
        addrs
            .iter()
            .zip(&config.peers)
            .map(|(&addr, p)| (addr, p.id.as_str())),
    );
    // The parent may stop waiting first (another shard was lost, or Ctrl-C): its next
    // line ends our wait too, and is then handled like any other.
    let mut early = None;
    let overlay = tokio::select! {
        up = network.wait_overlay(options.overlay_timeout) => up.map(|_| ()).map_err(|e| e.to_string()),
        line = input.next_line() => {
            early = Some(line?);
            Err("the parent stopped waiting for the overlay".to_string())
        }
    };
    match overlay {
        Ok(()) => say(&mut out, ToParent::Up).await?,
        Err(why) => say(&mut out, ToParent::Fail(why)).await?,
    }
    // Flood steps this child traces (once the parent says TRACE), said between answers.
    let (trace_tx, mut trace_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let mut next = match early {
        Some(line) => line,
        None => next_input(&mut input, &mut trace_rx, &mut out).await?,
    };
    while let Some(line) = next.take() {
        let reply = match line.parse::<ToChild>() {
            Err(e) => ToParent::Fail(e.to_string()),
            Ok(ToChild::Stop) => break,
            Ok(ToChild::Addrs(_)) => ToParent::Fail("addresses were already given".into()),
            Ok(ToChild::Search { peer, ttl, words }) => match local_of.get(&peer) {
                Some(&local) => match network
                    .search(local, SearchRequest::from_words(&words, ttl))
                    .await
                {
                    Ok(guid) => ToParent::Guid(guid),
                    Err(e) => ToParent::Fail(e.to_string()),
                },
                None => ToParent::Fail(format!("peer {peer} is not in this shard")),
            },
            Ok(ToChild::Status) => ToParent::Status(network.last_activity()),
            Ok(ToChild::Tables) => ToParent::Tables(network.tables_due().await),
            Ok(ToChild::Report) => ToParent::Report(Box::new(ChildReport {
                records: network.records().await,
                totals: network.totals(),
                rss_peak_bytes: peak_rss_bytes(),
            })),
            Ok(
                msg @ (ToChild::Peers
                | ToChild::Kill(_)
                | ToChild::Revive(_)
                | ToChild::Record(_)
                | ToChild::Snapshot),
            ) => answer_in_child(&mut network, &mut factory, &local_of, msg).await,
            Ok(ToChild::Trace(guid)) => {
                // Every query unless one is named: the parent decides which it keeps.
                let filter = match guid {
                    Some(g) => TraceFilter::Guid(g.to_hex()),
                    None => TraceFilter::First(usize::MAX),
                };
                let tracer = Tracer::headless(&filter, Box::new(StepsToParent(trace_tx.clone())));
                let index = addrs
                    .iter()
                    .enumerate()
                    .map(|(i, &a)| (a, i as u32))
                    .collect();
                network.start_trace_indexed(tracer, index);
                ToParent::Done
            }
        };
        // The steps traced so far go before the answer (a REPORT's records come after
        // the steps of their floods).
        say_steps(&mut trace_rx, &mut out).await?;
        say(&mut out, reply).await?;
        next = next_input(&mut input, &mut trace_rx, &mut out).await?;
    }
    network.shutdown().await;
    say(&mut out, ToParent::Stopped).await?;
    Ok(())
}

/// The children's peers that still owe a QRP table, summed (a child that does not answer
/// counts as owing none: it has ended, or the launch reports it lost).
impl OwesTables for Children {
    async fn tables_due(&mut self) -> usize {
        let running = self.running();
        self.ask(&running, &ToChild::Tables, false, |m| match m {
            ToParent::Tables(due) => Ok(due),
            other => Err(other),
        })
        .await
        .into_iter()
        .filter_map(|(_, due)| due.ok())
        .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_covers_every_peer_once() {
        let p = partition(10, 3);
        assert_eq!(p.len(), 3);
        let all: Vec<usize> = p.concat();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(partition(3, usize::MAX).len(), 3);
    }
}
