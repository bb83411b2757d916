//! One established connection: a reader task, a writer task and the bounded queue between
//! the peer actor and the writer.
//!
//! The reader turns bytes into frames for the actor (inflating first if the remote
//! deflates), every frame one read brought in one input, so the actor wakes once per read,
//! not once per message; the writer drains the send queue in batches (deflating with a
//! sync flush per batch, PROTOCOL.md §4.5), woken once per actor turn (see
//! [`LinkHandle::queue`]); on a link with a modelled latency (`link_shaper`) messages
//! wait in the writer's delay line until their time, first in first out, one timer per
//! waiting batch. A remote that sends garbage or an impossible length ends only
//! this link: the reader reports it down and the actor tells the routing core.

use std::collections::VecDeque;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::AbortHandle;

use super::logs::{Clean, Quoted};
use super::peer::PeerInput;
use super::send_queue::{QueueDrop, Queued, SendQueue};
use crate::node::ConnId;
use crate::protocol::{Frame, FrameDecoder, Guid, Message};

/// Largest batch the writer takes off the queue before one write (and one sync flush).
const BATCH_BYTES: usize = 64 * 1024;
/// Buffers above this are released after use rather than kept for an idle link.
const KEEP_BYTES: usize = 16 * 1024;
/// How much room the reader makes for each read.
const READ_STEP: usize = 4 * 1024;
/// Most frames the reader hands the actor in one input: with the actor's input depth it
/// bounds what a link may have read ahead of the actor.
const FRAMES_PER_INPUT: usize = 64;
/// Inflate output step: the reader decodes frames between steps so a small compressed
/// input cannot balloon the buffer.
const INFLATE_STEP: usize = 32 * 1024;

/// Why a link ended. The text parts may come from the remote (a Bye's reason) or carry
/// its bytes (a decoder error): `Display` escapes them for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEnd {
    /// The remote closed the connection (end of stream).
    ClosedByRemote,
    /// Reading failed (reset by the remote, ...).
    ReadError(String),
    /// Writing failed.
    WriteError(String),
    /// Nothing arrived for the idle timeout.
    IdleTimeout,
    /// One write could not finish within the send timeout: the remote stopped reading.
    SendStalled,
    /// The remote sent a stream we cannot decode (an impossible length, ...).
    BadStream(String),
    /// The remote's deflated stream does not inflate.
    BadDeflate(String),
    /// Our deflater failed.
    Deflate(String),
    /// The remote said Bye.
    Bye { code: u16, reason: String },
    /// The routing core closed it.
    ClosedByCore,
    /// A dial reached the real listener at the address this inbound link claimed.
    Displaced,
    /// We are shutting down (a Bye 200 went first where the remote accepts it).
    Shutdown,
    /// Our peer stopped while the link was reading.
    PeerStopped,
}

impl LinkEnd {
    /// The remote sent bytes that make no stream (counted as a bad stream).
    pub fn is_bad_stream(&self) -> bool {
        matches!(self, LinkEnd::BadStream(_) | LinkEnd::BadDeflate(_))
    }
}

impl std::fmt::Display for LinkEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEnd::ClosedByRemote => f.write_str("closed by the remote"),
            LinkEnd::ReadError(e) => write!(f, "read error: {}", Clean(e)),
            LinkEnd::WriteError(e) => write!(f, "write error: {}", Clean(e)),
            LinkEnd::IdleTimeout => f.write_str("idle timeout"),
            LinkEnd::SendStalled => f.write_str("send stalled"),
            LinkEnd::BadStream(e) => write!(f, "bad stream: {}", Clean(e)),
            LinkEnd::BadDeflate(e) => write!(f, "bad deflate stream: {}", Clean(e)),
            LinkEnd::Deflate(e) => write!(f, "deflate failed: {}", Clean(e)),
            LinkEnd::Bye { code, reason } => write!(f, "Bye {code} {}", Quoted(reason)),
            LinkEnd::ClosedByCore => f.write_str("closed by the routing core"),
            LinkEnd::Displaced => f.write_str("displaced by a dial to the address it claimed"),
            LinkEnd::Shutdown => f.write_str("shutting down"),
            LinkEnd::PeerStopped => f.write_str("peer stopped"),
        }
    }
}

/// Settings of a link.
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    pub queue_bytes: usize,
    /// A link that delivers nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A single write that cannot finish in this long (the remote stopped reading) closes
    /// the link as "send stalled".
    pub send_timeout: Duration,
    pub max_payload: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            queue_bytes: super::send_queue::DEFAULT_QUEUE_BYTES,
            idle_timeout: Duration::from_secs(180),
            send_timeout: Duration::from_secs(180),
            max_payload: crate::protocol::DEFAULT_MAX_PAYLOAD,
        }
    }
}

struct Shared {
    queue: Mutex<SendQueue>,
    wake: Notify,
    closing: AtomicBool,
    /// The link model's one-way latency in microseconds (0: none), see `link_shaper`.
    delay_us: AtomicU64,
}

/// The actor's handle on a link.
pub struct LinkHandle {
    shared: Arc<Shared>,
    reader: Option<AbortHandle>,
    /// Our end of the socket: the address this neighbour reaches us at.
    pub local_addr: Option<SocketAddrV4>,
    /// The neighbour's end of the socket.
    pub remote_addr: Option<SocketAddrV4>,
}

impl LinkHandle {
    fn lock(&self) -> MutexGuard<'_, SendQueue> {
        // A poisoned queue only means a writer panicked mid-push; the data is still sound.
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message and wakes the writer; returns what the bounded queue dropped.
    pub fn send(&self, msg: &Message) -> Vec<QueueDrop> {
        let drops = self.queue(msg.guid, msg.payload.kind(), msg.to_bytes());
        self.wake();
        drops
    }

    /// Queues a message already encoded (several links may share its bytes) without
    /// waking the writer: the actor queues everything one turn produced, then calls
    /// [`LinkHandle::wake`] once per link, so each link's turn leaves in one write.
    /// Returns what the bounded queue dropped.
    pub fn queue(&self, guid: Guid, kind: u8, bytes: Bytes) -> Vec<QueueDrop> {
        let delay = self.shared.delay_us.load(Ordering::Relaxed);
        let due = (delay > 0).then(|| std::time::Instant::now() + Duration::from_micros(delay));
        self.lock().push_encoded(Queued {
            guid,
            kind,
            bytes,
            due,
        })
    }

    /// Lets the writer take what was queued.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Holds every message sent from now on for `delay` before it leaves (a link model's
    /// one-way latency).
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shared.delay_us.store(us, Ordering::Relaxed);
    }

    /// Messages dropped by this link's queue so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped()
    }

    /// Flushes what is queued (a Bye, say), then closes the socket; stops reading now.
    pub fn close(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

impl Drop for LinkHandle {
    fn drop(&mut self) {
        self.close();
    }
}

/// What a link was negotiated with.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkCompression {
    pub deflate_in: bool,
    pub deflate_out: bool,
}

/// Starts the writer and the reader. The reader waits for the returned starter to fire:
/// the caller announces the link to the actor first, so no frame can reach the actor
/// before the link does. Dropping the starter stops the reader.
pub fn start(
    stream: TcpStream,
    leftover: BytesMut,
    conn: ConnId,
    compression: LinkCompression,
    config: LinkConfig,
    to_actor: mpsc::Sender<PeerInput>,
) -> (LinkHandle, oneshot::Sender<()>) {
    let _ = stream.set_nodelay(true);
    let local_addr = v4(stream.local_addr());
    let remote_addr = v4(stream.peer_addr());
    let (read, write) = stream.into_split();
    let shared = Arc::new(Shared {
        queue: Mutex::new(SendQueue::new(config.queue_bytes)),
        wake: Notify::new(),
        closing: AtomicBool::new(false),
        delay_us: AtomicU64::new(0),
    });
    tokio::spawn(writer(
        write,
        shared.clone(),
        compression.deflate_out,
        config.send_timeout,
        conn,
        to_actor.clone(),
    ));
    let (go, wait) = oneshot::channel();
    let task = tokio::spawn(async move {
        if wait.await.is_err() {
            return;
        }
        let mut read = read;
        let why = read_loop(&mut read, leftover, conn, compression, config, &to_actor).await;
        let _ = to_actor.send(PeerInput::LinkDown { conn, why }).await;
    });
    (
        LinkHandle {
            shared,
            reader: Some(task.abort_handle()),
            local_addr,
            remote_addr,
        },
        go,
    )
}

fn v4(addr: std::io::Result<SocketAddr>) -> Option<SocketAddrV4> {
    match addr {
        Ok(SocketAddr::V4(a)) => Some(a),
        _ => None,
    }
}

async fn read_loop(
    read: &mut OwnedReadHalf,
    leftover: BytesMut,
    conn: ConnId,
    compression: LinkCompression,
    config: LinkConfig,
    to_actor: &mpsc::Sender<PeerInput>,
) -> LinkEnd {
    let mut decoder = FrameDecoder {
        max_payload: config.max_payload,
        ..FrameDecoder::default()
    };
    let mut inflater = compression.deflate_in.then(|| Decompress::new(true));
    let (mut raw, mut plain) = if inflater.is_some() {
        (leftover, BytesMut::new())
    } else {
        (BytesMut::new(), leftover)
    };
    // Buffers start empty and grow on demand: a quiet link costs almost nothing, which
    // is what lets one process hold thousands of peers.
    let mut scratch: Vec<u8> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    // One idle timer for the link's life, pushed back lazily when it fires early: arming
    // a fresh timer around every read cost a timer-wheel insert and removal per message.
    let mut last_read = tokio::time::Instant::now();
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    loop {
        loop {
            // Decode everything complete, then inflate a bounded step more.
            loop {
                let end = match decoder.decode(&mut plain) {
                    Ok(Some(frame)) => {
                        frames.push(frame);
                        None
                    }
                    Ok(None) => Some(None),
                    Err(e) => Some(Some(LinkEnd::BadStream(e.to_string()))),
                };
                // The frames before a bad one still reach the actor, in order.
                if (end.is_some() || frames.len() >= FRAMES_PER_INPUT) && !frames.is_empty() {
                    let batch = std::mem::take(&mut frames);
                    let input = PeerInput::Frames {
                        conn,
                        frames: batch,
                    };
                    if to_actor.send(input).await.is_err() {
                        return LinkEnd::PeerStopped;
                    }
                }
                match end {
                    None => {}
                    Some(None) => break,
                    Some(Some(why)) => return why,
                }
            }
            let Some(z) = inflater.as_mut() else { break };
            if raw.is_empty() {
                break;
            }
            scratch.clear();
            scratch.reserve(INFLATE_STEP);
            let before = z.total_in();
            if let Err(e) = z.decompress_vec(&raw, &mut scratch, FlushDecompress::None) {
                return LinkEnd::BadDeflate(e.to_string());
            }
            let used = (z.total_in() - before) as usize;
            let _ = raw.split_to(used.min(raw.len()));
            if used == 0 && scratch.is_empty() {
                break;
            }
            plain.extend_from_slice(&scratch);
        }
        let target = if inflater.is_some() {
            &mut raw
        } else {
            &mut plain
        };
        target.reserve(READ_STEP);
        let got = loop {
            tokio::select! {
                biased;
                got = read.read_buf(target) => break got,
                () = &mut idle => {
                    let due = last_read + config.idle_timeout;
                    if tokio::time::Instant::now() >= due {
                        return LinkEnd::IdleTimeout;
                    }
                    idle.as_mut().reset(due);
                }
            }
        };
        match got {
            Err(e) => return LinkEnd::ReadError(e.to_string()),
            Ok(0) => return LinkEnd::ClosedByRemote,
            Ok(_) => last_read = tokio::time::Instant::now(),
        }
    }
}

async fn writer(
    mut write: OwnedWriteHalf,
    shared: Arc<Shared>,
    deflate: bool,
    send_timeout: Duration,
    conn: ConnId,
    to_actor: mpsc::Sender<PeerInput>,
) {
    let mut deflater = deflate.then(|| Compress::new(Compression::new(6), true));
    let mut batch = Vec::new();
    let mut packed = Vec::new();
    // The delay line of a link with a latency: messages taken off the queue, each with
    // the time it may leave, in the order they will go (one latency per link keeps it
    // first in, first out). Empty on a link without one.
    let mut line: VecDeque<(std::time::Instant, bytes::Bytes)> = VecDeque::new();
    loop {
        batch.clear();
        let now = std::time::Instant::now();
        {
            let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            while batch.len() < BATCH_BYTES {
                match queue.pop() {
                    Some(item) => match item.due {
                        // Behind what is already on the line, so never ahead of it.
                        Some(due) if due > now || !line.is_empty() => {
                            let due = line.back().map_or(due, |&(last, _)| due.max(last));
                            line.push_back((due, item.bytes));
                        }
                        _ => batch.extend_from_slice(&item.bytes),
                    },
                    None => break,
                }
            }
        }
        while batch.len() < BATCH_BYTES && line.front().is_some_and(|&(due, _)| due <= now) {
            if let Some((_, bytes)) = line.pop_front() {
                batch.extend_from_slice(&bytes);
            }
        }
        if batch.is_empty() {
            if let Some(&(due, _)) = line.front() {
                // One timer per waiting batch, not per message: everything due by then
                // leaves in one write.
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
                    _ = shared.wake.notified() => {}
                }
                continue;
            }
            if shared.closing.load(Ordering::SeqCst) {
                let _ = write.shutdown().await;
                return;
            }
            shared.wake.notified().await;
            continue;
        }
        let out: &[u8] = match deflater.as_mut() {
            Some(z) => match deflate_batch(z, &batch, &mut packed) {
                Ok(()) => &packed,
                Err(e) => {
                    let why = LinkEnd::Deflate(e);
                    let _ = to_actor.send(PeerInput::LinkDown { conn, why }).await;
                    return;
                }
            },
            None => &batch,
        };
        // Most batches fit the socket's buffer: written at once, with no timer. The rest
        // waits under the send timeout: a remote that stops reading fills its TCP window
        // and then ours; without a bound this write would hang forever and the link (and
        // its queue) would never go.
        let (written, why) = match write.try_write(out) {
            Ok(n) => (n, None),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => (0, None),
            Err(e) => (0, Some(LinkEnd::WriteError(e.to_string()))),
        };
        let rest = out.get(written..).unwrap_or_default();
        let why = match why {
            Some(why) => Some(why),
            None if rest.is_empty() => None,
            None => match tokio::time::timeout(send_timeout, write.write_all(rest)).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(LinkEnd::WriteError(e.to_string())),
                Err(_) => Some(LinkEnd::SendStalled),
            },
        };
        if let Some(why) = why {
            let _ = to_actor.send(PeerInput::LinkDown { conn, why }).await;
            return;
        }
        if batch.capacity() > KEEP_BYTES {
            batch = Vec::new();
        }
        if packed.capacity() > KEEP_BYTES {
            packed = Vec::new();
        }
    }
}

/// Compresses `input` and ends with a sync flush, so the remote can decode every message
/// of the batch without waiting for more.
fn deflate_batch(z: &mut Compress, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    out.reserve(input.len() / 2 + 128);
    let mut pos = 0;
    loop {
        let before = z.total_in();
        z.compress_vec(&input[pos..], out, FlushCompress::Sync)
            .map_err(|e| format!("deflate: {e}"))?;
        pos += (z.total_in() - before) as usize;
        if pos >= input.len() && out.len() < out.capacity() {
            return Ok(());
        }
        out.reserve(4096);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflated_batches_inflate_back() {
        let mut z = Compress::new(Compression::new(6), true);
        let mut un = Decompress::new(true);
        let mut packed = Vec::new();
        let mut plain = Vec::new();
        for round in 0..3u8 {
            let input: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8 + round).collect();
            deflate_batch(&mut z, &input, &mut packed).unwrap();
            let mut out = Vec::with_capacity(input.len() + 64);
            un.decompress_vec(&packed, &mut out, FlushDecompress::None)
                .unwrap();
            assert_eq!(out, input, "each batch is decodable on its own arrival");
            plain.extend(out);
        }
        assert_eq!(plain.len(), 15000);
    }
}
