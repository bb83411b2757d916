//! One node handling incoming Query descriptors end to end, as the live driver runs it:
//! decode the bytes, dedup (every GUID distinct, so the table is in its steady state of
//! inserting and evicting), match against a 10,000-file library, and encode the forwards
//! to 4 neighbours plus any QueryHits back to the sender.
//!
//! Method: 4,096 different 2-word queries (words drawn from the library's vocabulary, so
//! a few percent match at least one file) are encoded once into one buffer; each
//! iteration stamps a fresh GUID into every descriptor, decodes them one by one with the
//! real `FrameDecoder`, hands each to `Node::on_message`, and encodes every `Send`
//! action into an output buffer, a flood's copies once (the live driver encodes the
//! descriptor it floods once and shares the bytes between the links' queues). Events are
//! drained and dropped. Throughput is in queries.
//!
//! Time is this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so the figure is what one
//! core does even when other processes share the machine; `ROUTE_BENCH_WALL=1` measures
//! wall time instead.
//!
//! Run: `cargo bench --bench route` (release profile; the figure is queries per second).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use bytes::BytesMut;
use std::time::Instant;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gnutella::node::{
    CacheMode, ConnId, Library, Node, Output, PeerIdentity, PeerInfo, RoutingConfig, SharedFile,
    Time,
};
use gnutella::protocol::{Frame, FrameDecoder, Guid, Message, Payload, Query, Sha1};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FILES: usize = 10_000;
const VOCABULARY: usize = 2_000;
const QUERIES: usize = 4_096;
const NEIGHBOURS: u32 = 5; // the sender and 4 others

/// A pronounceable random word of 4 to 9 letters, so a vocabulary has the prefix
/// collisions of real names ("ka" starts many words) without being made of them.
fn word(rng: &mut ChaCha8Rng) -> String {
    const CONSONANTS: &[u8] = b"bcdfghjklmnprstvwz";
    const VOWELS: &[u8] = b"aeiou";
    let len = rng.gen_range(4..10);
    (0..len)
        .map(|i| {
            let set = if i % 2 == 0 { CONSONANTS } else { VOWELS };
            char::from(set[rng.gen_range(0..set.len())])
        })
        .collect()
}

fn library(vocabulary: &[String], rng: &mut ChaCha8Rng) -> Library {
    let exts = ["mp3", "avi", "iso", "pdf", "txt"];
    Library::from_files((0..FILES).map(|i| {
        let words: Vec<&str> = (0..rng.gen_range(3..7))
            .map(|_| vocabulary[rng.gen_range(0..vocabulary.len())].as_str())
            .collect();
        let name = format!(
            "{} {}.{}",
            words.join(" "),
            1950 + i % 70,
            exts[i % exts.len()]
        );
        SharedFile {
            index: i as u32,
            sha1: Sha1::of_bytes(name.as_bytes()),
            size: 1 << 20,
            name,
        }
    }))
}

fn node(library: Library, mode: CacheMode) -> Node {
    let addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6346);
    let mut config = RoutingConfig::default();
    config.cache.mode = mode;
    let identity = PeerIdentity {
        servent_guid: Guid([1; 16]),
        seed: 7,
    };
    let mut node = Node::new(Arc::new(config), identity, addr, library);
    for c in 0..NEIGHBOURS {
        node.on_connected(Time::ZERO, ConnId(c), PeerInfo::default());
    }
    node
}

/// The encoded queries and the offset of each descriptor's GUID.
fn wire_queries(vocabulary: &[String], rng: &mut ChaCha8Rng) -> (BytesMut, Vec<usize>) {
    let mut buf = BytesMut::new();
    let mut offsets = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let a = &vocabulary[rng.gen_range(0..vocabulary.len())];
        let b = &vocabulary[rng.gen_range(0..vocabulary.len())];
        let msg = Message {
            guid: Guid([0; 16]),
            ttl: 4,
            hops: 1,
            payload: Payload::Query(Arc::new(Query::keywords(&format!("{a} {b}")))),
        };
        offsets.push(buf.len());
        msg.encode(&mut buf);
    }
    (buf, offsets)
}

/// Whether `msg` is another copy of the Query `last` (what the live driver encodes once).
fn same_descriptor(last: Option<&Message>, msg: &Message) -> bool {
    match (last, &msg.payload) {
        (Some(last), Payload::Query(q)) => {
            matches!(&last.payload, Payload::Query(lq) if Arc::ptr_eq(lq, q))
                && (last.guid, last.ttl, last.hops) == (msg.guid, msg.ttl, msg.hops)
        }
        _ => false,
    }
}

/// Nanoseconds this thread has run on a CPU, if the clock is available.
fn thread_cpu_nanos() -> Option<u64> {
    if std::env::var_os("ROUTE_BENCH_WALL").is_some() {
        return None;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Criterion measurement of thread CPU time (wall time when that clock is unavailable).
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = (Option<u64>, Instant);
    type Value = f64;

    fn start(&self) -> Self::Intermediate {
        (thread_cpu_nanos(), Instant::now())
    }

    fn end(&self, (cpu, wall): Self::Intermediate) -> f64 {
        match (cpu, thread_cpu_nanos()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64,
            _ => wall.elapsed().as_nanos() as f64,
        }
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                *n as f64
            }
        };
        let typical_rate = per_iteration * 1e9 / typical;
        let (factor, unit) = match typical_rate {
            r if r < 1e3 => (1.0, "elem/s"),
            r if r < 1e6 => (1e-3, "Kelem/s"),
            _ => (1e-6, "Melem/s"),
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_iteration * 1e9 / *v * factor);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench_route(c: &mut Criterion<CpuTime>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let vocabulary: Vec<String> = (0..VOCABULARY).map(|_| word(&mut rng)).collect();
    let library = library(&vocabulary, &mut rng);
    let (wire, offsets) = wire_queries(&vocabulary, &mut rng);

    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(QUERIES as u64));
    for (label, mode) in [
        ("query_cache_off", CacheMode::Off),
        (
            "query_cache_answer_and_forward",
            CacheMode::AnswerAndForward,
        ),
    ] {
        let mut node = node(library.clone(), mode);
        let mut decoder = FrameDecoder::new();
        let mut input = BytesMut::with_capacity(wire.len());
        let mut output = BytesMut::with_capacity(1 << 20);
        let mut serial: u64 = 0;
        let mut now = Time::ZERO;
        group.bench_function(label, |b| {
            b.iter(|| {
                input.clear();
                input.extend_from_slice(&wire);
                for &at in &offsets {
                    serial += 1;
                    input[at..at + 8].copy_from_slice(&serial.to_le_bytes());
                }
                now = now.plus_micros(1_000);
                output.clear();
                while let Ok(Some(frame)) = decoder.decode(&mut input) {
                    if let Frame::Message(msg) = frame {
                        node.on_message(now, ConnId(0), msg);
                    }
                    let mut last: Option<Message> = None;
                    loop {
                        match node.poll_output() {
                            Output::Send { msg, .. } => {
                                if !same_descriptor(last.as_ref(), &msg) {
                                    msg.encode(&mut output);
                                    last = Some(msg);
                                }
                            }
                            Output::Timeout(_) => break,
                            Output::Close { .. }
                            | Output::Event(_)
                            | Output::Request(_)
                            | Output::Dial(_) => {}
                        }
                    }
                }
                output.len()
            })
        });
        eprintln!("{label}: {:?}", node.counters());
    }
    group.finish();

    // The matching step alone, to see where a query's time goes.
    let queries: Vec<Query> = (0..QUERIES)
        .map(|_| {
            let a = &vocabulary[rng.gen_range(0..vocabulary.len())];
            let b = &vocabulary[rng.gen_range(0..vocabulary.len())];
            Query::keywords(&format!("{a} {b}"))
        })
        .collect();
    let mut group = c.benchmark_group("library");
    group.throughput(Throughput::Elements(QUERIES as u64));
    group.bench_function("match_10k_files", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|q| library.search(q, 50).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench_route
}
criterion_main!(benches);
