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
//! stdin closes and it stops too.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::clock;
use super::from_config::ConfigFactory;
use super::launch_options::{
    finish_report, net_config, LaunchError, LaunchOptions, MAX_LISTED_PEERS,
};
use super::network::{bind_all, Network, RemoteLink};
use super::report::{peak_rss_bytes, NetworkSummary};
use super::shard_protocol::{ChildReport, ShardError, ToChild, ToParent};
use super::signal::stop_signal;
use crate::node::record::{merge_records, QueryRecord, Recorder};
use crate::node::SearchRequest;
use crate::topology::TopologyConfig;

fn child_err(shard: usize, what: impl Into<String>) -> ShardError {
    ShardError::Child {
        shard,
        what: what.into(),
    }
}

struct ChildShard {
    index: usize,
    members: Vec<usize>,
    process: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl ChildShard {
    async fn send(&mut self, msg: ToChild) -> Result<(), ShardError> {
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(b'\n');
        self.stdin
            .write_all(&bytes)
            .await
            .map_err(|e| child_err(self.index, e.to_string()))?;
        self.stdin
            .flush()
            .await
            .map_err(|e| child_err(self.index, e.to_string()))
    }

    async fn recv(&mut self) -> Result<ToParent, ShardError> {
        match self.lines.next_line().await {
            Ok(Some(line)) => line
                .parse()
                .map_err(|e: super::shard_protocol::BadLine| child_err(self.index, e.to_string())),
            Ok(None) => Err(child_err(self.index, "exited")),
            Err(e) => Err(child_err(self.index, e.to_string())),
        }
    }

    /// What `pick` takes from the next message, which must be the kind `want` names (a
    /// `FAIL` is the child's error).
    async fn expect<T>(
        &mut self,
        want: &str,
        pick: impl FnOnce(ToParent) -> Result<T, ToParent>,
    ) -> Result<T, ShardError> {
        match pick(self.recv().await?) {
            Ok(msg) => Ok(msg),
            Err(ToParent::Fail(why)) => Err(child_err(self.index, format!("FAIL {why}"))),
            Err(other) => Err(child_err(
                self.index,
                format!("expected {want}, got {}", other.word()),
            )),
        }
    }
}

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

/// The parent side of a sharded launch.
pub async fn launch_sharded(
    config: TopologyConfig,
    options: LaunchOptions,
) -> Result<(), LaunchError> {
    let started = Instant::now();
    let shards = partition(config.peers.len(), options.shards.unwrap_or(1));
    let epoch = clock::epoch_unix_micros();
    let mut children = Vec::with_capacity(shards.len());
    for (index, members) in shards.into_iter().enumerate() {
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
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut process = cmd.spawn().map_err(ShardError::Spawn)?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            return Err(ShardError::Spawn(std::io::Error::other("no pipes to the child")).into());
        };
        children.push(ChildShard {
            index,
            members,
            process,
            stdin,
            lines: BufReader::new(stdout).lines(),
        });
    }
    let result = drive(&config, &options, &mut children, started).await;
    for child in &mut children {
        let _ = child.send(ToChild::Stop).await;
    }
    for child in &mut children {
        if tokio::time::timeout(Duration::from_secs(5), child.process.wait())
            .await
            .is_err()
        {
            let _ = child.process.kill().await;
        }
    }
    let (summary, records) = result?;
    finish_report(&options, &summary, &records)
}

async fn drive(
    config: &TopologyConfig,
    options: &LaunchOptions,
    children: &mut [ChildShard],
    started: Instant,
) -> Result<(NetworkSummary, Vec<QueryRecord>), LaunchError> {
    // One stop signal for the whole run, installed before the first line we print.
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut addrs: Vec<Option<SocketAddrV4>> = vec![None; config.peers.len()];
    for child in children.iter_mut() {
        loop {
            match child.recv().await? {
                ToParent::Ready => break,
                ToParent::Bound { peer, addr } => {
                    if let Some(slot) = addrs.get_mut(peer) {
                        *slot = Some(addr);
                    }
                }
                other => {
                    return Err(child_err(
                        child.index,
                        format!("expected BOUND or READY, got {}", other.word()),
                    )
                    .into())
                }
            }
        }
    }
    let table: Vec<SocketAddrV4> = addrs
        .iter()
        .map(|a| a.unwrap_or(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0)))
        .collect();
    let listed = config.peers.len() <= MAX_LISTED_PEERS;
    for (i, peer) in config.peers.iter().enumerate().filter(|_| listed) {
        if let Some(addr) = addrs.get(i).copied().flatten() {
            options.say(format_args!("peer {:<8} listening on {addr}", peer.id));
        }
    }
    for child in children.iter_mut() {
        child.send(ToChild::Addrs(table.clone())).await?;
    }
    let mut summary = NetworkSummary {
        name: config.name.clone(),
        peers: config.peers.len(),
        links: config.links().len(),
        processes: children.len(),
        ..NetworkSummary::default()
    };
    let up = async {
        for child in children.iter_mut() {
            child
                .expect("UP", |m| match m {
                    ToParent::Up => Ok(()),
                    other => Err(other),
                })
                .await?;
        }
        Ok::<(), ShardError>(())
    };
    let overlay = tokio::select! {
        up = tokio::time::timeout(options.overlay_timeout + Duration::from_secs(5), up) => Some(up),
        _ = &mut stop => None,
    };
    match overlay {
        Some(Ok(Ok(()))) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            summary.overlay_up_ms = Some(ms);
            options.say(format_args!(
                "overlay up: {} peers, {} links, {} processes in {ms:.0} ms",
                summary.peers, summary.links, summary.processes
            ));
            if options.run_workload {
                let work = run_sharded_workload(config, children, options.quiet);
                tokio::select! {
                    done = work => done?,
                    _ = &mut stop => {}
                }
            } else {
                options.say("running until Ctrl-C");
                (&mut stop).await;
            }
        }
        Some(Ok(Err(e))) => return Err(e.into()),
        Some(Err(_)) => {
            return Err(ShardError::OverlayTimeout(options.overlay_timeout.as_secs_f64()).into())
        }
        None => {}
    }
    let mut parts = Vec::new();
    summary.rss_peak_bytes = peak_rss_bytes();
    for child in children.iter_mut() {
        child.send(ToChild::Report).await?;
        let report = child
            .expect("REPORT", |m| match m {
                ToParent::Report(report) => Ok(report),
                other => Err(other),
            })
            .await?;
        summary.totals.add(&report.totals);
        if let Some(rss) = report.rss_peak_bytes {
            summary.rss_peak_bytes = Some(summary.rss_peak_bytes.unwrap_or(0) + rss);
        }
        parts.extend(report.records);
    }
    Ok((summary, merge_records(parts)))
}

async fn run_sharded_workload(
    config: &TopologyConfig,
    children: &mut [ChildShard],
    quiet: Duration,
) -> Result<(), ShardError> {
    let mut queries: Vec<_> = config.workload.queries.iter().collect();
    queries.sort_by_key(|q| q.at_ms);
    let started = Instant::now();
    for q in queries {
        tokio::time::sleep_until((started + Duration::from_millis(q.at_ms)).into()).await;
        let Some(index) = config.peer_index(&q.from) else {
            continue;
        };
        let Some(child) = children.iter_mut().find(|c| c.members.contains(&index)) else {
            continue;
        };
        child
            .send(ToChild::Search {
                peer: index,
                ttl: config.ttl_of(q),
                words: q.words.clone(),
            })
            .await?;
        child
            .expect("GUID", |m| match m {
                ToParent::Guid(guid) => Ok(guid),
                other => Err(other),
            })
            .await?;
    }
    settle_children(children, quiet, Duration::from_secs(10)).await
}

/// Waits until no child has seen a frame for `quiet` (or `max` passed).
async fn settle_children(
    children: &mut [ChildShard],
    quiet: Duration,
    max: Duration,
) -> Result<(), ShardError> {
    let started = Instant::now();
    let called = clock::now();
    loop {
        let mut last = called;
        for child in children.iter_mut() {
            child.send(ToChild::Status).await?;
            let at = child
                .expect("STATUS", |m| match m {
                    ToParent::Status(at) => Ok(at),
                    other => Err(other),
                })
                .await?;
            last = last.max(at);
        }
        let idle = clock::now().saturating_sub(last);
        if idle.0 >= quiet.as_micros() as u64 || started.elapsed() >= max {
            return Ok(());
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
        other => return Err(format!("expected ADDRS from the parent, got {other}").into()),
    };
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
    // Before the first await: on the default one-thread runtime no link is up yet.
    network.name_peers(
        addrs
            .iter()
            .zip(&config.peers)
            .map(|(&addr, p)| (addr, p.id.as_str())),
    );
    match network.wait_overlay(options.overlay_timeout).await {
        Ok(_) => say(&mut out, ToParent::Up).await?,
        Err(e) => say(&mut out, ToParent::Fail(e.to_string())).await?,
    }
    while let Some(line) = input.next_line().await? {
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
            Ok(ToChild::Report) => ToParent::Report(Box::new(ChildReport {
                records: network.records().await,
                totals: network.totals(),
                rss_peak_bytes: peak_rss_bytes(),
            })),
        };
        say(&mut out, reply).await?;
    }
    network.shutdown().await;
    say(&mut out, ToParent::Stopped).await?;
    Ok(())
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
