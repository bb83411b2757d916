//! A misbehaving client, for measuring what it costs a running peer (and everyone else).
//!
//! Two attacks from issue 8 ("no client can lock a peer out"), written as a client so the
//! same measurement runs against any build of `gnutella peer`, old or new:
//!
//! ```text
//! cargo run --example abuse_probe -- pings ADDR COUNT [TTL] [GGEP_BYTES]
//!     links to ADDR twice (link A sends, link B only listens), sends COUNT Pings on A,
//!     then counts until both links are quiet for 2 s: Pongs back on A, Pings the peer
//!     relayed to B and their bytes, and whether the peer closed A.
//! cargo run --example abuse_probe -- lockout ADDR KIND SOCKETS [SECONDS] [FROM]
//!     keeps SOCKETS sockets from FROM (an IP, default 127.0.0.2, or a range such as
//!     127.0.0.2-127.0.0.101 to spread them) open, each reopened whenever the peer closes
//!     it, misbehaving as KIND:
//!       idle       connect and send nothing
//!       half       send half a handshake ("GNUTELLA CONNECT/0.6\r\nUser-Ag") and stall
//!       keepalive  send one HEAD, read its answer, keep the connection open
//!     and meanwhile, for SECONDS (default 10), tries every 250 ms a fresh Gnutella
//!     handshake and a fresh HEAD from 127.0.0.1; prints how many of each succeeded and
//!     how often the peer closed a hostile socket.
//! ```
//!
//! Start the peer under test with `gnutella peer --listen 127.0.0.1:PORT` (plus two
//! neighbours for the ping case, so there is somewhere to relay to).

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gnutella::net::handshake::{connect, HandshakeLimits, LocalInfo};
use gnutella::protocol::{Frame, FrameDecoder, Guid, Message, Payload, Ping};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

fn usage() -> ExitCode {
    eprintln!(
        "usage: abuse_probe pings ADDR COUNT [TTL] [GGEP_BYTES]\n       \
         abuse_probe lockout ADDR idle|half|keepalive SOCKETS [SECONDS] [FROM_IP]"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["pings", addr, count, rest @ ..] if rest.len() <= 2 => {
            let ttl = rest.first().map_or(Ok(7), |t| t.parse());
            let ggep = rest.get(1).map_or(Ok(0), |g| g.parse());
            match (addr.parse(), count.parse(), ttl, ggep) {
                (Ok(addr), Ok(count), Ok(ttl), Ok(ggep)) => pings(addr, count, ttl, ggep).await,
                _ => return usage(),
            }
        }
        ["lockout", addr, kind, sockets, rest @ ..] if rest.len() <= 2 => {
            let secs = rest.first().map_or(Ok(10.0), |s| s.parse());
            let from = rest
                .get(1)
                .map_or(Some(vec![[127, 0, 0, 2].into()]), |f| ips(f));
            let kind = match *kind {
                "idle" => Kind::Idle,
                "half" => Kind::Half,
                "keepalive" => Kind::KeepAlive,
                _ => return usage(),
            };
            match (addr.parse(), sockets.parse(), secs, from) {
                (Ok(addr), Ok(n), Ok(secs), Some(from)) => lockout(addr, kind, n, secs, from).await,
                _ => return usage(),
            }
        }
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("abuse_probe: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error>;

/// `A` or `A-B` (IPv4, inclusive).
fn ips(spec: &str) -> Option<Vec<IpAddr>> {
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let a: std::net::Ipv4Addr = a.parse().ok()?;
    let b: std::net::Ipv4Addr = b.parse().ok()?;
    let all: Vec<IpAddr> = (u32::from(a)..=u32::from(b))
        .map(|n| IpAddr::from(std::net::Ipv4Addr::from(n)))
        .collect();
    (!all.is_empty()).then_some(all)
}

/// A link to the peer, claiming a listening port of its own so two links can coexist.
async fn link(addr: SocketAddrV4, claim_port: u16) -> Result<(TcpStream, BytesMut), Error> {
    let mut stream = TcpStream::connect(addr).await?;
    let me = LocalInfo {
        listen_addr: SocketAddrV4::new([127, 0, 0, 1].into(), claim_port),
        max_ttl: 7,
        deflate: false,
        servent_guid: None,
        tier: Default::default(),
        degree: 32,
        live_since: None,
    };
    let (_, rest) = connect(&mut stream, &me, None, &HandshakeLimits::default()).await?;
    Ok((stream, rest))
}

/// What came in on one link until it went quiet.
#[derive(Default, Debug)]
struct Tally {
    pongs: u64,
    relayed_pings: u64,
    relayed_ping_bytes: u64,
    frames: u64,
    closed: bool,
}

async fn count_frames(mut read: OwnedReadHalf, mut buf: BytesMut, quiet: Duration) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = FrameDecoder::new();
    loop {
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            tally.frames += 1;
            if let Frame::Message(m) = frame {
                match &m.payload {
                    Payload::Pong(_) => tally.pongs += 1,
                    Payload::Ping(p) if m.hops > 0 => {
                        tally.relayed_pings += 1;
                        tally.relayed_ping_bytes += 23 + p.ggep.len() as u64;
                    }
                    _ => {}
                }
            }
        }
        match tokio::time::timeout(quiet, read.read_buf(&mut buf)).await {
            Err(_) => return tally,
            Ok(Ok(0)) | Ok(Err(_)) => {
                tally.closed = true;
                return tally;
            }
            Ok(Ok(_)) => {}
        }
    }
}

async fn send_pings(
    write: &mut OwnedWriteHalf,
    count: u64,
    ttl: u8,
    ggep: usize,
) -> std::io::Result<u64> {
    let body = if ggep == 0 {
        Bytes::new()
    } else {
        // One GGEP block with one extension "PB" whose data fills the payload.
        let mut b = vec![0xC3, 0x82, b'P', b'B'];
        let data = ggep.saturating_sub(7);
        b.extend_from_slice(&[
            0x80 | ((data >> 12) & 0x3f) as u8,
            0x80 | ((data >> 6) & 0x3f) as u8,
            0x40 | (data & 0x3f) as u8,
        ]);
        b.resize(ggep.max(7), b'x');
        Bytes::from(b)
    };
    // Fresh GUIDs on every run: the peer remembers the last run's for minutes.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut out = BytesMut::new();
    let mut sent = 0;
    for i in 0..count {
        let mut guid = [0u8; 16];
        guid[..8].copy_from_slice(&run.to_le_bytes());
        guid[8..].copy_from_slice(&i.to_le_bytes());
        let msg = Message {
            guid: Guid(guid),
            ttl,
            hops: 0,
            payload: Payload::Ping(Ping { ggep: body.clone() }),
        };
        msg.encode(&mut out);
        if out.len() >= 64 * 1024 {
            write.write_all(&out).await?;
            out.clear();
        }
        sent += 1;
    }
    write.write_all(&out).await?;
    Ok(sent)
}

async fn pings(addr: SocketAddrV4, count: u64, ttl: u8, ggep: usize) -> Result<(), Error> {
    let base = 20000 + (std::process::id() % 20000) as u16;
    let (a, a_rest) = link(addr, base).await?;
    let (b, b_rest) = link(addr, base + 1).await?;
    let (a_read, mut a_write) = a.into_split();
    let (b_read, _b_write) = b.into_split();
    let quiet = Duration::from_secs(2);
    let on_a = tokio::spawn(count_frames(a_read, a_rest, quiet));
    let on_b = tokio::spawn(count_frames(b_read, b_rest, quiet));
    let started = Instant::now();
    let sent = send_pings(&mut a_write, count, ttl, ggep)
        .await
        .unwrap_or(0);
    let sending = started.elapsed();
    let a = on_a.await?;
    let b = on_b.await?;
    println!(
        "sent {sent} pings (TTL {ttl}, {} payload bytes each) in {:.1} s",
        ggep,
        sending.as_secs_f64()
    );
    println!(
        "link A (sender): {} pongs back, {} frames, closed by the peer: {}",
        a.pongs, a.frames, a.closed
    );
    println!(
        "link B (bystander): {} pings relayed to it ({} bytes), {} frames",
        b.relayed_pings, b.relayed_ping_bytes, b.frames
    );
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Idle,
    Half,
    KeepAlive,
}

const HEAD: &[u8] = b"HEAD /uri-res/N2R?urn:sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\n\r\n";

async fn from(ip: IpAddr, to: SocketAddrV4) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(to.into()).await
}

/// Reads one HTTP answer head; true if one came.
async fn answer_head(stream: &mut TcpStream) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got.starts_with(b"HTTP/1.1 ")
}

async fn hostile(kind: Kind, ip: IpAddr, to: SocketAddrV4) -> std::io::Result<TcpStream> {
    let mut s = from(ip, to).await?;
    match kind {
        Kind::Idle => {}
        Kind::Half => s.write_all(b"GNUTELLA CONNECT/0.6\r\nUser-Ag").await?,
        Kind::KeepAlive => {
            s.write_all(HEAD).await?;
            let answered = tokio::time::timeout(Duration::from_secs(2), answer_head(&mut s)).await;
            if !matches!(answered, Ok(true)) {
                return Err(std::io::ErrorKind::ConnectionRefused.into());
            }
        }
    }
    Ok(s)
}

async fn fresh_handshake(to: SocketAddrV4, port: u16) -> bool {
    let work = async {
        let mut s = TcpStream::connect(to).await.ok()?;
        let me = LocalInfo {
            listen_addr: SocketAddrV4::new([127, 0, 0, 1].into(), port),
            max_ttl: 7,
            deflate: false,
            servent_guid: None,
            tier: Default::default(),
            degree: 32,
            live_since: None,
        };
        connect(&mut s, &me, None, &HandshakeLimits::default())
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), work).await,
        Ok(Some(_))
    )
}

async fn fresh_head(to: SocketAddrV4) -> bool {
    let work = async {
        let mut s = TcpStream::connect(to).await.ok()?;
        s.write_all(HEAD).await.ok()?;
        Some(answer_head(&mut s).await)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), work).await,
        Ok(Some(true))
    )
}

/// One hostile socket, reopened (after a short pause) whenever the peer closes it, until
/// `stop`. Returns how often the peer closed it or refused it.
async fn keep_hostile(
    kind: Kind,
    ip: IpAddr,
    to: SocketAddrV4,
    stop: Instant,
    opened: Arc<AtomicU64>,
) -> u64 {
    let mut closes = 0;
    while Instant::now() < stop {
        match hostile(kind, ip, to).await {
            Ok(mut s) => {
                opened.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0u8; 512];
                let left = stop.saturating_duration_since(Instant::now());
                let ended = tokio::time::timeout(left, async {
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                })
                .await;
                if ended.is_ok() {
                    closes += 1;
                }
            }
            Err(_) => closes += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    closes
}

async fn lockout(
    to: SocketAddrV4,
    kind: Kind,
    n: usize,
    secs: f64,
    from: Vec<IpAddr>,
) -> Result<(), Error> {
    let stop = Instant::now() + Duration::from_secs_f64(secs + 1.0);
    let opened = Arc::new(AtomicU64::new(0));
    let hostiles: Vec<_> = (0..n)
        .map(|i| {
            let ip = from[i % from.len()];
            tokio::spawn(keep_hostile(kind, ip, to, stop, opened.clone()))
        })
        .collect();
    // Let the hostile sockets take their places first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "{kind:?}: {n} sockets from {} address(es) starting {}, each reopened whenever the peer closes it ({} connections in the first second)",
        from.len(),
        from[0],
        opened.load(Ordering::Relaxed)
    );
    let probing = Instant::now();
    let (mut shakes, mut heads, mut tries) = (0, 0, 0);
    let mut first: Option<Duration> = None;
    let mut port = 30000 + (std::process::id() % 20000) as u16;
    while probing.elapsed().as_secs_f64() < secs {
        tries += 1;
        port = port.wrapping_add(1).max(1024);
        let (shake, head) = tokio::join!(fresh_handshake(to, port), fresh_head(to));
        shakes += u32::from(shake);
        heads += u32::from(head);
        if (shake || head) && first.is_none() {
            first = Some(probing.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut closes = 0;
    for h in hostiles {
        closes += h.await.unwrap_or(0);
    }
    println!(
        "fresh clients from 127.0.0.1 over {secs} s: handshakes {shakes}/{tries}, HEADs {heads}/{tries}, first success after {}",
        first.map_or("never".to_string(), |d| format!("{:.2} s", d.as_secs_f64()))
    );
    println!(
        "hostile sockets: {} connections in all, closed or refused by the peer {closes} times",
        opened.load(Ordering::Relaxed)
    );
    Ok(())
}
