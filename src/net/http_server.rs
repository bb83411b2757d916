//! The upload side of file transfers: serving a peer's shared files over HTTP/1.1.
//!
//! Real servents answer HTTP on their Gnutella port and let the first line decide
//! (PROTOCOL.md §5). The listener reads that line, sees `GET `/`HEAD `, and hands the
//! socket and the bytes it already read to [`HttpServer::serve`]; for standalone use
//! (tests, the download benchmark) [`HttpServer::run`] is a plain accept loop.
//!
//! What is served, and how:
//! - `GET`/`HEAD` on `/uri-res/N2R?urn:sha1:<base32>` and `/get/<index>/<name>`; `200`
//!   with `Content-Length`, `Content-Type: application/binary`, `X-Gnutella-Content-URN`
//!   (the full-file URN, also on ranges) and `Server`; one `Range` gives `206` with
//!   `Content-Range`; several ranges are ignored (`200`, see `protocol::http`).
//! - `404` for an unknown index or URN, an index whose name differs, or an
//!   `X-Gnutella-Content-URN` request header naming other content; `416` with
//!   `Content-Range: bytes */<size>` for an unsatisfiable range; `400` for a malformed
//!   head, target or `bytes` `Range` (a `Range` in another unit is ignored: `200`, as
//!   RFC 9110 §14.2 requires); no `Host` is required (HTTP/1.0 and old servents omit it); `413` for a head over the limits; `408` for a head that
//!   stalls past `head_timeout`; `501` for other methods.
//! - Upload slots are a semaphore: a `GET` that finds them all taken gets `503` with
//!   `Retry-After`. `HEAD` needs no slot.
//! - On a peer's port each connection holds a place in the peer's HTTP budget
//!   (`admission`): while it waits between requests the place is idle, and a newcomer
//!   that needs it closes the connection (oldest wait first), so keep-alive connections
//!   cannot lock new downloaders out; so does a head that stalls past `BUSY_GRACE`. A connection that finds no place is answered `503`
//!   with `Retry-After` and closed ([`HttpServer::refuse_busy`]).
//! - Every answer carries `Connection: close` or `Keep-Alive`. Keep-alive follows the
//!   request: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
//!   `Connection: Keep-Alive`. Several requests on one socket; a head must arrive within
//!   `head_timeout`, the next request within `idle_timeout`.
//! - Only entries of the [`Share`] are reachable, and the share re-checks at open time
//!   that a file is still inside its folder; a request path never becomes a file path.
//! - Bodies stream through a few fixed buffers filled by a blocking reader thread, so
//!   memory stays flat for a 1 GiB file.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, timeout_at, Instant};

use crate::protocol::http::{
    parse_range, parse_request_head, ByteRange, ContentRange, HeadError, HeadLimits, Method,
    Parsed, RangeRequest, RequestHead, ResponseHead, Target,
};
use crate::protocol::Sha1;

use super::admission::{Place, BUSY_GRACE};
use super::share::{Share, SharedEntry};

/// Settings of the upload server.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Concurrent `GET` bodies; more get `503`.
    pub upload_slots: usize,
    /// Time a peer has to send a whole request head once it started it.
    pub head_timeout: Duration,
    /// Time a kept-alive connection may sit idle before its next request.
    pub idle_timeout: Duration,
    /// Time a single write may stall (a peer that stops reading loses its slot).
    pub write_timeout: Duration,
    /// `Retry-After` seconds sent with `503`.
    pub retry_after_secs: u32,
    /// Requests served on one connection before it is closed.
    pub max_requests_per_connection: u32,
    pub limits: HeadLimits,
    /// The `Server` header.
    pub server_name: String,
    /// Size of each body buffer; [`BODY_BUFFERS`] of them exist per transfer.
    pub chunk_size: usize,
}

/// Body buffers in flight per transfer: one being filled, one being sent, one spare.
pub const BODY_BUFFERS: usize = 3;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            upload_slots: 4,
            head_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            retry_after_secs: 60,
            max_requests_per_connection: 1000,
            limits: HeadLimits::default(),
            server_name: concat!("gnutella-rs/", env!("CARGO_PKG_VERSION")).to_string(),
            chunk_size: 256 * 1024,
        }
    }
}

/// Counters across all connections of one server.
#[derive(Debug, Default)]
pub struct HttpStats {
    pub requests: AtomicU64,
    pub body_bytes_sent: AtomicU64,
    pub ok: AtomicU64,
    pub partial: AtomicU64,
    pub not_found: AtomicU64,
    pub bad_request: AtomicU64,
    pub unsatisfiable: AtomicU64,
    pub busy: AtomicU64,
}

impl HttpStats {
    fn count_status(&self, status: u16) {
        let counter = match status {
            200 => &self.ok,
            206 => &self.partial,
            404 => &self.not_found,
            416 => &self.unsatisfiable,
            503 => &self.busy,
            _ => &self.bad_request,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a connection ended other than by the peer closing it cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("bad request head: {0}")]
    BadHead(#[from] HeadError),
    #[error("reading the shared file failed: {0}")]
    Read(String),
}

/// What one connection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeSummary {
    pub requests: u32,
    pub body_bytes_sent: u64,
}

struct Inner {
    share: Arc<Share>,
    slots: Arc<Semaphore>,
    config: HttpConfig,
    stats: HttpStats,
}

/// A peer's upload server; cheap to clone, shared by all its connections.
#[derive(Clone)]
pub struct HttpServer {
    inner: Arc<Inner>,
}

/// What to answer one request with.
struct Reply {
    head: ResponseHead,
    body: Option<Body>,
    close: bool,
}

struct Body {
    reader: Box<dyn Read + Send>,
    len: u64,
    _permit: OwnedSemaphorePermit,
}

impl HttpServer {
    pub fn new(share: Arc<Share>, config: HttpConfig) -> HttpServer {
        let slots = Arc::new(Semaphore::new(config.upload_slots));
        HttpServer {
            inner: Arc::new(Inner {
                share,
                slots,
                config,
                stats: HttpStats::default(),
            }),
        }
    }

    pub fn share(&self) -> &Arc<Share> {
        &self.inner.share
    }

    pub fn stats(&self) -> &HttpStats {
        &self.inner.stats
    }

    /// Accepts connections forever, serving each in its own task (standalone use: the
    /// peer's own listener calls [`HttpServer::serve`] instead).
    pub async fn run(&self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (stream, from) = listener.accept().await?;
            let server = self.clone();
            tokio::spawn(async move {
                if let Err(e) = server.serve(stream, &[]).await {
                    log::debug!("http connection from {from} ended: {e}");
                }
            });
        }
    }

    /// Serves HTTP requests on `stream` until the peer closes it, asks to close, errs or
    /// idles out. `already_read` holds the bytes the listener consumed to tell HTTP from
    /// a Gnutella handshake (the start of the first request).
    pub async fn serve<S>(&self, stream: S, already_read: &[u8]) -> Result<ServeSummary, ServeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        self.serve_inner(stream, already_read, None).await
    }

    /// [`HttpServer::serve`] for a connection holding `place` in its peer's HTTP budget:
    /// idle while it waits between requests, and closed (as if the client had) when a
    /// newcomer takes the place.
    pub async fn serve_placed<S>(
        &self,
        stream: S,
        already_read: &[u8],
        mut place: Place,
    ) -> Result<ServeSummary, ServeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        self.serve_inner(stream, already_read, Some(&mut place))
            .await
    }

    /// Answers a connection that found no place `503` with `Retry-After` and closes it,
    /// without reading its request (holding it open to read would hold a socket the
    /// budget does not count).
    pub async fn refuse_busy<S>(&self, mut stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        const BRIEF: Duration = Duration::from_secs(1);
        self.inner.stats.count_status(503);
        let reply = self.closing_error_reply(503);
        let _ = timeout(BRIEF, stream.write_all(&reply.head.encode())).await;
        let _ = timeout(BRIEF, stream.shutdown()).await;
    }

    async fn serve_inner<S>(
        &self,
        mut stream: S,
        already_read: &[u8],
        mut place: Option<&mut Place>,
    ) -> Result<ServeSummary, ServeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let config = &self.inner.config;
        let mut buf = BytesMut::with_capacity(4096);
        buf.extend_from_slice(already_read);
        let mut summary = ServeSummary::default();
        loop {
            let request = match self
                .read_head(&mut stream, &mut buf, place.as_deref_mut())
                .await
            {
                Ok(Some(request)) => request,
                Ok(None) => return Ok(summary),
                // A peer that started a head and stalled is told why it is dropped.
                Err(ServeError::Timeout) if !buf.is_empty() => {
                    self.inner.stats.count_status(408);
                    let reply = self.closing_error_reply(408);
                    let _ =
                        timeout(config.write_timeout, stream.write_all(&reply.head.encode())).await;
                    let _ = timeout(config.write_timeout, stream.shutdown()).await;
                    return Err(ServeError::Timeout);
                }
                Err(e) => return Err(e),
            };
            let request = match request {
                Ok(request) => request,
                Err(e) => {
                    self.inner.stats.count_status(e.status());
                    let reply = self.closing_error_reply(e.status());
                    let _ =
                        timeout(config.write_timeout, stream.write_all(&reply.head.encode())).await;
                    linger_close(&mut stream).await;
                    return Err(e.into());
                }
            };
            summary.requests += 1;
            self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut reply = self.answer(&request).await;
            if !request.keep_alive() || summary.requests >= config.max_requests_per_connection {
                reply.close = true;
            }
            let connection = if reply.close { "close" } else { "Keep-Alive" };
            reply.head.headers.push("Connection", connection);
            self.inner.stats.count_status(reply.head.status);
            // A kept-alive connection without a body to send is idle from its answer's
            // write on: marked before it, so a client that has read the whole answer and
            // sends someone else along never finds the place still busy. (A body keeps
            // the place busy until its end: a download holds its place.)
            if let (None, false, Some(place)) = (&reply.body, reply.close, place.as_deref()) {
                place.set_idle(true);
            }
            self.write(&mut stream, &reply.head.encode()).await?;
            if let Some(body) = reply.body {
                summary.body_bytes_sent += self.send_body(&mut stream, body).await?;
            }
            if reply.close {
                if reply.head.status >= 400 {
                    linger_close(&mut stream).await;
                } else {
                    let _ = timeout(config.write_timeout, stream.shutdown()).await;
                }
                return Ok(summary);
            }
        }
    }

    /// Reads one request head: `None` when the peer closed between requests, or a
    /// newcomer took the connection's place while it waited for one.
    async fn read_head<S>(
        &self,
        stream: &mut S,
        buf: &mut BytesMut,
        mut place: Option<&mut Place>,
    ) -> Result<Option<Result<RequestHead, HeadError>>, ServeError>
    where
        S: AsyncRead + Unpin,
    {
        let config = &self.inner.config;
        let mut deadline = Instant::now()
            + if buf.is_empty() {
                config.idle_timeout
            } else {
                config.head_timeout
            };
        let mut head_started = Instant::now();
        loop {
            match parse_request_head(buf, &config.limits) {
                Ok(Parsed::Done { consumed, head }) => {
                    buf.advance(consumed);
                    return Ok(Some(Ok(head)));
                }
                Ok(Parsed::Incomplete) => {}
                Err(e) => return Ok(Some(Err(e))),
            }
            let was_empty = buf.is_empty();
            let read = timeout_at(deadline, stream.read_buf(buf));
            let n = match place.as_deref_mut() {
                // Waiting for the next request, the place is idle; a head under way is
                // busy for a grace, then idle too (it has stalled).
                Some(place) => {
                    let busy_until = if was_empty {
                        Instant::now()
                    } else {
                        head_started + BUSY_GRACE
                    };
                    match place.busy_then_idle(busy_until, read).await {
                        Some(n) => n,
                        None if was_empty => return Ok(None),
                        None => return Err(ServeError::Timeout),
                    }
                }
                None => read.await,
            }
            .map_err(|_| ServeError::Timeout)??;
            if n == 0 {
                // A peer closing between requests is the normal end of keep-alive.
                return if was_empty {
                    Ok(None)
                } else {
                    Err(ServeError::Io(io::ErrorKind::UnexpectedEof.into()))
                };
            }
            if was_empty {
                deadline = Instant::now() + config.head_timeout;
                head_started = Instant::now();
            }
        }
    }

    async fn write<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        bytes: &[u8],
    ) -> Result<(), ServeError> {
        timeout(self.inner.config.write_timeout, stream.write_all(bytes))
            .await
            .map_err(|_| ServeError::Timeout)??;
        Ok(())
    }

    fn base_head(&self, status: u16) -> ResponseHead {
        ResponseHead::new(status).with("Server", &self.inner.config.server_name)
    }

    fn error_reply(&self, status: u16, close: bool) -> Reply {
        let mut head = self.base_head(status).with("Content-Length", 0);
        if status == 503 {
            head = head.with("Retry-After", self.inner.config.retry_after_secs);
        }
        Reply {
            head,
            body: None,
            close,
        }
    }

    /// An error answer sent outside the request loop, on a connection about to close:
    /// it says so, as every other answer does (a keep-alive downloader would otherwise
    /// wait to reuse the socket).
    fn closing_error_reply(&self, status: u16) -> Reply {
        let mut reply = self.error_reply(status, true);
        reply.head.headers.push("Connection", "close");
        reply
    }

    /// Decides the answer to one request (and opens the file for a body).
    async fn answer(&self, request: &RequestHead) -> Reply {
        let head_only = match &request.method {
            Method::Get => false,
            Method::Head => true,
            Method::Other(_) => return self.error_reply(501, true),
        };
        // A request body would desynchronise keep-alive; GET and HEAD have none.
        let has_body = request
            .headers
            .get("Content-Length")
            .is_some_and(|v| v.trim() != "0")
            || request.headers.get("Transfer-Encoding").is_some();
        if has_body {
            return self.error_reply(400, true);
        }
        let target = match Target::parse(&request.target) {
            Ok(target) => target,
            Err(e) => return self.error_reply(e.status(), e.status() == 400),
        };
        let Some(entry) = self.lookup(&target, request) else {
            return self.error_reply(404, false);
        };
        let range = match self.requested_range(request, entry) {
            Ok(range) => range,
            Err(reply) => return reply,
        };
        let (status, start, len) = match range {
            Some(r) => (206, r.start, r.len()),
            None => (200, 0, entry.size),
        };
        let mut head = self
            .base_head(status)
            .with("Content-Type", "application/binary")
            .with("Content-Length", len)
            .with("Accept-Ranges", "bytes")
            .with("X-Gnutella-Content-URN", entry.sha1.to_urn());
        if let Some(range) = range {
            head = head.with(
                "Content-Range",
                ContentRange::Bytes {
                    range,
                    total: Some(entry.size),
                },
            );
        }
        if head_only {
            return Reply {
                head,
                body: None,
                close: false,
            };
        }
        let Ok(permit) = self.inner.slots.clone().try_acquire_owned() else {
            return self.error_reply(503, true);
        };
        let share = self.inner.share.clone();
        let entry_owned = entry.clone();
        let opened = tokio::task::spawn_blocking(move || share.open(&entry_owned, start)).await;
        match opened {
            Ok(Ok(reader)) => Reply {
                head,
                body: Some(Body {
                    reader,
                    len,
                    _permit: permit,
                }),
                close: false,
            },
            Ok(Err(e)) => {
                log::warn!("cannot serve {:?}: {e}", entry.name);
                self.error_reply(404, false)
            }
            Err(_) => self.error_reply(500, true),
        }
    }

    fn lookup(&self, target: &Target, request: &RequestHead) -> Option<&SharedEntry> {
        let share = &self.inner.share;
        let entry = match target {
            Target::UriRes(sha1) => share.by_sha1(sha1)?,
            Target::Get { index, name } => share.by_index(*index).filter(|e| &e.name == name)?,
        };
        // A downloader may name the content it expects; a different file is not it.
        let claimed = request
            .headers
            .get("X-Gnutella-Content-URN")
            .or_else(|| request.headers.get("X-Content-URN"));
        if let Some(claimed) = claimed {
            let claimed: Option<Sha1> = claimed.split(',').find_map(|u| Sha1::from_urn(u.trim()));
            if claimed.is_some_and(|c| c != entry.sha1) {
                return None;
            }
        }
        Some(entry)
    }

    /// The range to serve: `None` for the whole file, or the reply to send instead.
    fn requested_range(
        &self,
        request: &RequestHead,
        entry: &SharedEntry,
    ) -> Result<Option<ByteRange>, Reply> {
        let Some(value) = request.headers.get("Range") else {
            return Ok(None);
        };
        // An empty file has no byte to select: serve it whole, as GTKG does.
        if entry.size == 0 || request.headers.count("Range") > 1 {
            return Ok(None);
        }
        match parse_range(value) {
            Err(_) => Err(self.error_reply(400, false)),
            // Several ranges, or a unit other than bytes (RFC 9110 §14.2: MUST ignore).
            Ok(RangeRequest::Multiple | RangeRequest::OtherUnit) => Ok(None),
            Ok(RangeRequest::Single(spec)) => match spec.resolve(entry.size) {
                Some(range) => Ok(Some(range)),
                None => {
                    let mut reply = self.error_reply(416, false);
                    reply.head.headers.push(
                        "Content-Range",
                        ContentRange::Unsatisfied { total: entry.size }.to_string(),
                    );
                    Err(reply)
                }
            },
        }
    }

    /// Streams `body.len` bytes: a blocking thread fills recycled buffers, this task
    /// writes them, so at most [`BODY_BUFFERS`] chunks exist per transfer.
    async fn send_body<S: AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
        body: Body,
    ) -> Result<u64, ServeError> {
        let chunk = self.inner.config.chunk_size.max(4096);
        let (full_tx, mut full_rx) = mpsc::channel::<io::Result<Vec<u8>>>(BODY_BUFFERS);
        let (empty_tx, mut empty_rx) = mpsc::channel::<Vec<u8>>(BODY_BUFFERS);
        for _ in 0..BODY_BUFFERS {
            let _ = empty_tx.try_send(vec![0u8; chunk]);
        }
        let Body {
            reader,
            len,
            _permit,
        } = body;
        let producer = tokio::task::spawn_blocking(move || {
            let mut reader = reader.take(len);
            let mut left = len;
            while left > 0 {
                let Some(mut buffer) = empty_rx.blocking_recv() else {
                    return;
                };
                buffer.resize(chunk, 0);
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(chunk);
                let filled = match read_full(&mut reader, &mut buffer[..want]) {
                    Ok(0) => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than announced",
                    )),
                    Ok(n) => {
                        buffer.truncate(n);
                        left -= n as u64;
                        Ok(buffer)
                    }
                    Err(e) => Err(e),
                };
                let failed = filled.is_err();
                if full_tx.blocking_send(filled).is_err() || failed {
                    return;
                }
            }
        });
        let mut sent = 0u64;
        let result = async {
            while sent < len {
                let Some(filled) = full_rx.recv().await else {
                    return Err(ServeError::Read("reader stopped".into()));
                };
                let buffer = filled.map_err(|e| ServeError::Read(e.to_string()))?;
                self.write(stream, &buffer).await?;
                sent += buffer.len() as u64;
                self.inner
                    .stats
                    .body_bytes_sent
                    .fetch_add(buffer.len() as u64, Ordering::Relaxed);
                let _ = empty_tx.send(buffer).await;
            }
            Ok(sent)
        }
        .await;
        // Unblock the reader if we stopped early, then let it finish.
        drop(full_rx);
        drop(empty_tx);
        let _ = producer.await;
        result
    }
}

/// Closes after an error answer without losing it: closing a socket that still has
/// unread request bytes makes the kernel send RST, which can destroy the answer before
/// the peer reads it. So shut down our side, then drain the peer briefly.
async fn linger_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    const LINGER: Duration = Duration::from_secs(2);
    const MAX_DRAIN: usize = 256 * 1024;
    let _ = timeout(LINGER, stream.shutdown()).await;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    let deadline = Instant::now() + LINGER;
    while drained < MAX_DRAIN {
        match timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// Fills `buf` as far as the reader allows (short only at end of input).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
