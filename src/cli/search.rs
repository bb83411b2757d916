//! `gnutella search`: join a network for a moment, flood a query, print (and fetch) hits.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnutella::net::clock;
use gnutella::net::download::{
    check_file_name, download_until, sanitize_file_name, DownloadOptions, DownloadRequest,
    Downloaded,
};
use gnutella::net::handshake::LocalInfo;
use gnutella::net::hits::{describe, files_of, FoundFile};
use gnutella::net::network::{bind_all, Network, PeerPlan, RemoteLink};
use gnutella::net::probe::probe;
use gnutella::net::report::{report_json, NetworkSummary};
use gnutella::net::share::Share;
use gnutella::net::signal::stop_signal;
use gnutella::net::solo::{resolve_v4, SoloFactory};
use gnutella::net::NetConfig;
use gnutella::node::record::Recorder;
use gnutella::node::SearchRequest;
use gnutella::node::{CacheMode, PeerIdentity, RoutingConfig};

const EXAMPLES: &str = "\
Examples:
  gnutella search debian netinst --via 127.0.0.1:6346
      join through that peer, flood the query (TTL 7), print hits for 3 seconds
  gnutella search debian --via 127.0.0.1:6346 --ttl 2 --wait 1
  gnutella search debian --via 127.0.0.1:6346 --download 1 --to ~/Downloads
      fetch the first hit straight from the peer that holds it, verified by SHA-1
      (a hit that carries no SHA-1 is fetched by index and only its size is checked).
      Ctrl-C keeps what arrived in ~/Downloads/.<name>.part and exits with status 130;
      the same command again resumes it
  gnutella search urn:sha1:QD66NULYLNDT2I6JF7GWPXITDVWUJ476 --via 127.0.0.1:6346
      search by content hash (this one is the quickstart's debian-12-netinst.iso)
  gnutella search debian --via 127.0.0.1:6346 --json
      the searcher's own view (hits, responders, first hit) in the report's record shape

The examples search the quickstart network: start it first in another terminal with
`gnutella launch topology-configs/quickstart.json` (its peer p0 listens on 127.0.0.1:6346).

Each hit line shows: name, size, SHA-1 URN, holder address, hops, milliseconds since the
query left. A hit answered from a peer's result cache is labelled cached, with how far
that peer was and how far the holder was from it: its holder may lie beyond the TTL.";

/// Arguments of `gnutella search`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Keywords (all must match), or one `urn:sha1:...`.
    #[arg(required = true)]
    pub words: Vec<String>,
    /// A peer of the network to join through (host:port).
    #[arg(long)]
    pub via: String,
    /// TTL of the query, 1 to 255.
    #[arg(long, default_value_t = 7, value_parser = gnutella::validate::parse_ttl)]
    pub ttl: u8,
    /// Seconds to wait for hits.
    #[arg(long, default_value_t = 3.0)]
    pub wait: f64,
    /// Print the searcher's view as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Download the N-th hit (1 = first) once the wait is over.
    #[arg(long, value_name = "N")]
    pub download: Option<usize>,
    /// Folder for the download.
    #[arg(long, default_value = ".")]
    pub to: PathBuf,
    /// Our own listening address (the handshake advertises it).
    #[arg(long, default_value = "0.0.0.0:0")]
    pub listen: SocketAddrV4,
    /// Seed of the searcher's GUIDs (default: from the clock, so two searches differ).
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(search(args))
}

async fn search(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let words = args.words.join(" ");
    gnutella::validate::check_search_words(&words)?;
    if args.download.is_some() {
        gnutella::validate::check_output_dir(&args.to, false).map_err(|e| format!("--to: {e}"))?;
    }
    let via = resolve_v4(&args.via)?;
    let seed = args.seed.unwrap_or_else(gnutella::net::solo::clock_seed);
    let identity = PeerIdentity::of_seed(seed);
    // A searcher relays nothing and keeps no cache: only its own query's TTL matters.
    let mut routing = RoutingConfig {
        max_ttl: args.ttl.max(7),
        ..RoutingConfig::default()
    };
    routing.cache.mode = CacheMode::Off;
    let mut plans = vec![PeerPlan {
        id: "searcher".into(),
        listen: args.listen,
        max_ttl: routing.max_ttl,
        seed: identity.seed,
        record_as: 0,
        advertise: None,
    }];
    let listeners = bind_all(&mut plans).await?;
    let net = NetConfig::default();
    // One direct attempt first: a dead or wrong address fails now, with its reason,
    // instead of after the network's retries.
    let local = LocalInfo {
        listen_addr: plans.first().map_or(args.listen, |p| p.listen),
        max_ttl: routing.max_ttl,
        deflate: net.deflate,
        servent_guid: Some(identity.servent_guid),
        tier: Default::default(),
        degree: LocalInfo::degree_of(&Default::default(), net.max_links),
        live_since: None,
    };
    probe(via, &local, &net)
        .await
        .map_err(|e| format!("cannot join the network via {via}: {e}"))?;
    let mut factory = SoloFactory {
        share: Arc::new(Share::new()),
        routing: Arc::new(routing),
        identity,
        serve: false,
        overlay: None,
        shaper: None,
    };
    let remote = vec![RemoteLink {
        local: 0,
        addr: via,
        dial: true,
    }];
    let mut network = Network::start(
        plans,
        listeners,
        Vec::new(),
        remote,
        &mut factory,
        net,
        Recorder::searcher("searcher"),
    );
    if network.wait_overlay(Duration::from_secs(10)).await.is_err() {
        network.shutdown().await;
        return Err(format!(
            "{via} accepted a probe handshake but the link did not come up within 10 s"
        )
        .into());
    }
    let (tap, mut events) = tokio::sync::mpsc::unbounded_channel();
    network.set_tap(tap);
    let started = clock::now();
    network
        .search(0, SearchRequest::from_words(&words, args.ttl))
        .await?;
    if !args.json {
        eprintln!(
            "searching for {words:?} via {via} (TTL {}) for {:.1} s",
            args.ttl, args.wait
        );
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.max(0.0));
    let mut found: Vec<FoundFile> = Vec::new();
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::time::sleep_until(deadline.into()) => None,
        };
        let Some(event) = event else { break };
        for file in files_of(&event) {
            found.push(file);
            if !args.json {
                if let Some(file) = found.last() {
                    println!("{}", describe(found.len(), file, started));
                }
            }
        }
    }
    let records = network.records().await;
    network.shutdown().await;
    if args.json {
        let summary = NetworkSummary {
            name: format!("search via {via}"),
            peers: 1,
            links: 1,
            processes: 1,
            ..Default::default()
        };
        let mut report = report_json(&summary, &records);
        if let Some(map) = report.as_object_mut() {
            map.insert(
                "hits".into(),
                found.iter().map(|f| f.to_json(started)).collect(),
            );
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let responders: std::collections::HashSet<_> = found.iter().map(|f| f.servent).collect();
        println!("{} results from {} peers", found.len(), responders.len());
    }
    if let Some(n) = args.download {
        let file = n
            .checked_sub(1)
            .and_then(|i| found.get(i))
            .ok_or_else(|| format!("there is no hit number {n} ({} hits)", found.len()))?;
        let mut options = DownloadOptions::new(&args.to);
        options.progress = !args.json;
        // A name from the network that is unsafe on disk (separators, control
        // characters) is saved under a sanitised name rather than refused.
        if check_file_name(&file.record.name).is_err() {
            options.save_as = Some(sanitize_file_name(&file.record.name)?);
        }
        let request = DownloadRequest::from_hit(file.holder_addr(), &file.record);
        // Ctrl-C keeps what arrived; `cli::fail` says where and how to resume.
        let done = download_until(&request, &options, stop_signal()).await?;
        let line = download_line(&done);
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// What a finished download says: the file's size, what was kept from an earlier run and
/// fetched by this one, this run's time and rate, and "verified" only when the bytes were
/// compared with a SHA-1 the hit carried.
fn download_line(done: &Downloaded) -> String {
    let mut line = format!(
        "downloaded {}: {} bytes",
        done.path.display(),
        thousands(done.size)
    );
    if done.resumed_from > 0 {
        line.push_str(&format!(
            " (resumed at {}; fetched {} this time)",
            thousands(done.resumed_from),
            thousands(done.bytes_transferred)
        ));
    }
    if let Some(rate) = done.bytes_per_sec() {
        line.push_str(&format!(
            " in {:.1} s, {}/s",
            done.elapsed.as_secs_f64(),
            indicatif::HumanBytes(rate as u64)
        ));
    }
    if done.verified {
        line.push_str(&format!("; {} verified", done.sha1.to_urn()));
    } else {
        line.push_str("; not verified: the hit carried no SHA-1");
    }
    line
}

/// What an interrupted download says: where the partial file is and how to resume it.
pub fn interrupted_line(part: &std::path::Path, kept: u64, size: u64) -> String {
    if kept == 0 {
        return "interrupted before any byte of the file arrived; nothing was kept".to_string();
    }
    format!(
        "interrupted: {} of {} bytes are in {}; run the same command again to resume",
        thousands(kept),
        thousands(size),
        part.display()
    )
}

/// `1500000` as `1,500,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gnutella::protocol::Sha1;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    fn done(resumed_from: u64, fetched: u64, verified: bool) -> Downloaded {
        Downloaded {
            path: PathBuf::from("/tmp/x.iso"),
            size: resumed_from + fetched,
            bytes_transferred: fetched,
            resumed_from,
            elapsed: Duration::from_millis(500),
            sha1: Sha1::of_bytes(b""),
            verified,
        }
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_500_000), "1,500,000");
    }

    #[test]
    fn the_final_line_gives_the_size_and_this_runs_bytes_and_rate() {
        let urn = Sha1::of_bytes(b"").to_urn();
        assert_eq!(
            download_line(&done(1_000_000, 500_000, true)),
            format!(
                "downloaded /tmp/x.iso: 1,500,000 bytes (resumed at 1,000,000; fetched \
                 500,000 this time) in 0.5 s, 976.56 KiB/s; {urn} verified"
            )
        );
        assert_eq!(
            download_line(&done(0, 2048, false)),
            "downloaded /tmp/x.iso: 2,048 bytes in 0.5 s, 4.00 KiB/s; not verified: the hit \
             carried no SHA-1"
        );
        assert_eq!(
            download_line(&done(2048, 0, true)),
            format!(
                "downloaded /tmp/x.iso: 2,048 bytes (resumed at 2,048; fetched 0 this time); \
                 {urn} verified"
            )
        );
    }

    #[test]
    fn an_interruption_says_where_the_partial_file_is() {
        let part = Path::new("/tmp/.x.iso.part");
        assert_eq!(
            interrupted_line(part, 600_000, 1_500_000),
            "interrupted: 600,000 of 1,500,000 bytes are in /tmp/.x.iso.part; run the same \
             command again to resume"
        );
        assert!(interrupted_line(part, 0, 10).contains("nothing was kept"));
    }
}
