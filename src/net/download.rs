//! The download side of file transfers: fetch one hit's file straight from its holder.
//!
//! A hit names a holder (IP:port), an index, a name, a size and usually a SHA-1 URN. The
//! downloader asks the holder over HTTP/1.1 and only ever puts a file under its final name
//! once its content is known to be right:
//!
//! - the name written to disk (`save_as`, else the hit's name) must be a plain file name
//!   ([`is_safe_file_name`]: no separators, `..`, NUL or control characters; on Windows
//!   no drive letters or device names either), else [`DownloadError::UnsafeName`]; an
//!   existing file of that name is never overwritten. Only that name is checked: a hit
//!   whose own name could not be a file name is still fetched (by URN) when the caller
//!   saves it under another, e.g. the one [`sanitize_file_name`] makes of it;
//! - bytes go to `.<name>.part` beside the target, are hashed as they arrive, and the
//!   temporary file is renamed only after the SHA-1 matches the hit's URN; on a mismatch
//!   it is deleted and [`DownloadError::Sha1Mismatch`] returned;
//! - a hit with a SHA-1 is fetched with `/uri-res/N2R?urn:sha1:...` (what LimeWire 5
//!   serves); if the holder answers that with 400 or 404 (an old servent), the request is
//!   retried once as `/get/<index>/<name>`, still verified against the hit's SHA-1. A hit
//!   without a SHA-1 can only be fetched with `/get/`, and then only its size can be
//!   checked (this is what LimeWire does for SHA-1-less hits, PROTOCOL.md §5.1);
//!   [`Downloaded::verified`] tells the caller which happened, so nothing claims a check
//!   that was not made. The hit's SHA-1 counts in any form it came in (HUGE string,
//!   bitprint, GGEP `H`), see [`HitRecord::sha1`];
//! - an interrupted transfer leaves its `.part` file; the next call resumes it with
//!   `Range: bytes=<len>-`. A `200` answer (the holder ignores ranges) restarts from 0,
//!   a `416` too (the partial file does not fit the holder's file). The caller can
//!   interrupt a download itself ([`download_until`], e.g. on Ctrl-C): every byte received
//!   by then is written to the `.part` file before [`DownloadError::Interrupted`] says how
//!   many it holds;
//! - the `.part` file is not fsync'ed before the rename: a crash may lose the download,
//!   never expose a wrong file under the final name, since the rename comes after the check.
//!
//! Concurrent downloads of the same name into the same folder share the `.part` file and
//! must not happen; the caller (one download per hit) avoids that.

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use sha1::{Digest, Sha1 as Sha1Hasher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::download_progress::{progress_bar, rate};
use crate::protocol::http::{
    is_safe_file_name, parse_response_head, ByteRangeSpec, ContentRange, HeadError, HeadLimits,
    Headers, Method, Parsed, RequestHead, ResponseHead, Target, Version,
};
use crate::protocol::{HitRecord, Sha1};

/// What to download: one record of a hit, and where its holder listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    pub addr: SocketAddr,
    pub index: u32,
    pub name: String,
    pub size: u64,
    pub sha1: Option<Sha1>,
}

impl DownloadRequest {
    /// The download of `record`, held by the peer at `addr` (the hit's IP and port).
    pub fn from_hit(addr: SocketAddr, record: &HitRecord) -> DownloadRequest {
        DownloadRequest {
            addr,
            index: record.index,
            name: record.name.clone(),
            size: u64::from(record.size),
            sha1: record.sha1(),
        }
    }
}

/// How to download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Folder the file lands in (must exist).
    pub dir: PathBuf,
    /// Save under this name instead of the hit's (checked the same way).
    pub save_as: Option<String>,
    /// Show a progress bar on stderr for files of at least `progress_min_size` bytes.
    pub progress: bool,
    pub progress_min_size: u64,
    pub connect_timeout: Duration,
    /// Longest wait for the response head, and for each read of the body.
    pub read_timeout: Duration,
    pub user_agent: String,
    /// Size of each receive buffer (a few exist at a time).
    pub chunk_size: usize,
    pub limits: HeadLimits,
}

impl DownloadOptions {
    /// Defaults, saving into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> DownloadOptions {
        DownloadOptions {
            dir: dir.into(),
            save_as: None,
            progress: false,
            progress_min_size: 8 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            user_agent: concat!("gnutella-rs/", env!("CARGO_PKG_VERSION")).to_string(),
            chunk_size: 256 * 1024,
            limits: HeadLimits::default(),
        }
    }
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// Where the verified file now is.
    pub path: PathBuf,
    /// The file's size.
    pub size: u64,
    /// Body bytes received over the network by this call (less than the size on resume).
    pub bytes_transferred: u64,
    /// Bytes of an earlier partial file that were kept.
    pub resumed_from: u64,
    /// How long this call took, from its start (before connecting) to the file being in
    /// place.
    pub elapsed: Duration,
    /// The SHA-1 of the bytes on disk.
    pub sha1: Sha1,
    /// The bytes were compared with a SHA-1 the hit carried (and matched it). `false`
    /// when the hit carried none: then only the size was checked.
    pub verified: bool,
}

impl Downloaded {
    /// This call's rate: the bytes it received over the time it took (`None` when it
    /// received nothing, e.g. a complete partial file was only checked).
    pub fn bytes_per_sec(&self) -> Option<f64> {
        rate(self.bytes_transferred, self.elapsed)
    }
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("refusing unsafe file name {0:?} from the network")]
    UnsafeName(String),
    #[error("{0} already exists; not overwriting it")]
    AlreadyExists(PathBuf),
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("timed out {0}")]
    Timeout(&'static str),
    #[error("network error: {0}")]
    Network(io::Error),
    #[error("file error on {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("malformed response head: {0}")]
    BadHead(#[from] HeadError),
    #[error("the holder answered {status} {reason}")]
    Status { status: u16, reason: String },
    #[error("the holder is busy (503); retry after {retry_after:?} seconds")]
    Busy { retry_after: Option<u64> },
    #[error("the holder's response does not fit the request: {0}")]
    BadResponse(String),
    #[error("connection closed after {got} of {expected} body bytes")]
    Truncated { got: u64, expected: u64 },
    #[error("content SHA-1 {actual} does not match the hit's {expected}; file discarded")]
    Sha1Mismatch { expected: Sha1, actual: Sha1 },
    /// The caller stopped the download; `part` holds the first `kept` bytes (the next
    /// download of the same file resumes from there).
    #[error("interrupted with {kept} of {size} bytes in {}", part.display())]
    Interrupted { part: PathBuf, kept: u64, size: u64 },
}

/// Checks a file name from the network before it names anything on disk.
pub fn check_file_name(name: &str) -> Result<(), DownloadError> {
    if is_safe_file_name(name) {
        Ok(())
    } else {
        Err(DownloadError::UnsafeName(name.to_string()))
    }
}

/// A name to save a hit under, made from the hit's name when that is not a plain file
/// name: separators and control characters become `_` (see
/// [`crate::protocol::http::sanitize_file_name`]). Refused only when nothing safe can be
/// made of it (an empty name, `.`, `..`). Meant for `DownloadOptions::save_as`.
pub fn sanitize_file_name(name: &str) -> Result<String, DownloadError> {
    crate::protocol::http::sanitize_file_name(name)
        .ok_or_else(|| DownloadError::UnsafeName(name.to_string()))
}

/// Downloads `request` into `options.dir`; see the module doc for the guarantees.
pub async fn download(
    request: &DownloadRequest,
    options: &DownloadOptions,
) -> Result<Downloaded, DownloadError> {
    download_until(request, options, std::future::pending()).await
}

/// [`download`], stopped when `stop` resolves (e.g. on Ctrl-C) with
/// [`DownloadError::Interrupted`], once every byte received is in the `.part` file.
pub async fn download_until(
    request: &DownloadRequest,
    options: &DownloadOptions,
    stop: impl Future<Output = ()>,
) -> Result<Downloaded, DownloadError> {
    let began = Instant::now();
    let mut stop = std::pin::pin!(stop);
    // Only the name that lands on disk matters here; the hit's own name goes to the
    // holder percent-encoded in a `/get/` target, never into a path.
    let name = options.save_as.as_deref().unwrap_or(&request.name);
    check_file_name(name)?;
    let final_path = options.dir.join(name);
    let part_path = options.dir.join(format!(".{name}.part"));
    if final_path.exists() {
        return Err(DownloadError::AlreadyExists(final_path));
    }

    let mut targets = Vec::new();
    if let Some(sha1) = request.sha1 {
        targets.push(Target::UriRes(sha1));
    }
    targets.push(Target::Get {
        index: request.index,
        name: request.name.clone(),
    });

    let mut last_error = None;
    for (attempt, target) in targets.iter().enumerate() {
        match fetch_verified(request, options, target, &part_path, &mut stop).await {
            Ok((transferred, resumed_from, sha1)) => {
                fs::rename(&part_path, &final_path).map_err(file_err(&part_path))?;
                return Ok(Downloaded {
                    path: final_path,
                    size: request.size,
                    bytes_transferred: transferred,
                    resumed_from,
                    elapsed: began.elapsed(),
                    sha1,
                    verified: request.sha1.is_some(),
                });
            }
            Err(DownloadError::Status {
                status: 400 | 404,
                reason,
            }) if attempt + 1 < targets.len() => {
                log::debug!(
                    "{} answered {target:?} with {}; trying /get/",
                    request.addr,
                    super::logs::Quoted(&reason)
                );
                last_error = Some(DownloadError::Status {
                    status: 404,
                    reason,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| DownloadError::BadResponse("nothing to request".into())))
}

fn file_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// What an interruption says when nothing is being written: what the `.part` holds.
fn interrupted(part_path: &Path, size: u64) -> DownloadError {
    DownloadError::Interrupted {
        part: part_path.to_path_buf(),
        kept: fs::metadata(part_path).map_or(0, |m| m.len()),
        size,
    }
}

/// Fetches into `part_path` (resuming it if possible) and verifies it; returns the bytes
/// received, the bytes kept from before and the SHA-1.
async fn fetch_verified<S: Future<Output = ()> + Unpin>(
    request: &DownloadRequest,
    options: &DownloadOptions,
    target: &Target,
    part_path: &Path,
    stop: &mut S,
) -> Result<(u64, u64, Sha1), DownloadError> {
    let mut have = match fs::metadata(part_path) {
        Ok(meta) if meta.len() <= request.size => meta.len(),
        Ok(_) => 0,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(file_err(part_path)(e)),
    };
    // A complete leftover needs no network if it is right.
    if have == request.size && have > 0 {
        if let Some(expected) = request.sha1 {
            let path = part_path.to_path_buf();
            let actual =
                tokio::task::spawn_blocking(move || File::open(&path).and_then(Sha1::of_reader))
                    .await
                    .map_err(|e| DownloadError::Network(io::Error::other(e)))?
                    .map_err(file_err(part_path))?;
            if actual == expected {
                return Ok((0, have, actual));
            }
        }
        have = 0;
    }
    match fetch(request, options, target, part_path, have, stop).await {
        // The partial file does not fit what the holder has: start again once.
        Err(DownloadError::Status { status: 416, .. }) if have > 0 => {
            fetch(request, options, target, part_path, 0, stop).await
        }
        other => other,
    }
}

async fn fetch<S: Future<Output = ()> + Unpin>(
    request: &DownloadRequest,
    options: &DownloadOptions,
    target: &Target,
    part_path: &Path,
    have: u64,
    stop: &mut S,
) -> Result<(u64, u64, Sha1), DownloadError> {
    let (mut stream, mut buf, start) = tokio::select! {
        head = ask_holder(request, options, target, have) => head?,
        _ = &mut *stop => return Err(interrupted(part_path, request.size)),
    };
    let expected = request.size - start;
    let progress = options.progress && request.size >= options.progress_min_size;
    let progress = progress.then(|| progress_bar(&request.name, request.size, start));

    // A blocking thread hashes and writes while this task reads the socket; buffers are
    // recycled, so memory stays flat whatever the size.
    const BUFFERS: usize = 3;
    let chunk = options.chunk_size.max(4096);
    let (full_tx, full_rx) = mpsc::channel::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, mut empty_rx) = mpsc::channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.try_send(vec![0u8; chunk]);
    }
    let writer_path = part_path.to_path_buf();
    let writer =
        tokio::task::spawn_blocking(move || write_part(&writer_path, start, full_rx, empty_tx));

    let mut got = 0u64;
    // `Ok(true)`: the caller stopped us, after every byte read was handed to the writer.
    let received: Result<bool, DownloadError> = async {
        // Body bytes that arrived with the head come first.
        let mut pending = buf.split().freeze();
        while got < expected {
            let mut buffer = tokio::select! {
                buffer = empty_rx.recv() => match buffer {
                    Some(buffer) => buffer,
                    None => return Ok(false), // the writer failed; its error is reported below
                },
                _ = &mut *stop => return Ok(true),
            };
            // Buffers keep their length: only the first `filled` bytes count, so no
            // per-chunk zeroing.
            buffer.resize(chunk, 0);
            let want = usize::try_from(expected - got)
                .unwrap_or(usize::MAX)
                .min(chunk);
            let take = pending.len().min(want);
            buffer[..take].copy_from_slice(&pending[..take]);
            pending.advance(take);
            let mut pos = take;
            while pos < want {
                let read = tokio::select! {
                    read = timeout(options.read_timeout, stream.read(&mut buffer[pos..want])) => read,
                    _ = &mut *stop => {
                        got += pos as u64;
                        let _ = full_tx.send((buffer, pos)).await;
                        return Ok(true);
                    }
                };
                let n = read
                    .map_err(|_| DownloadError::Timeout("reading the body"))?
                    .map_err(DownloadError::Network)?;
                if n == 0 {
                    got += pos as u64;
                    let _ = full_tx.send((buffer, pos)).await;
                    return Err(DownloadError::Truncated { got, expected });
                }
                pos += n;
            }
            got += want as u64;
            if let Some(bar) = &progress {
                bar.inc(want as u64);
            }
            if full_tx.send((buffer, want)).await.is_err() {
                return Ok(false);
            }
        }
        Ok(false)
    }
    .await;
    drop(full_tx);
    let written = writer
        .await
        .map_err(|e| DownloadError::Network(io::Error::other(e)))?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Ok(true) = received {
        return Err(match written {
            Ok((kept, _)) => DownloadError::Interrupted {
                part: part_path.to_path_buf(),
                kept,
                size: request.size,
            },
            Err(_) => interrupted(part_path, request.size),
        });
    }
    received?;
    let (total, actual) = written.map_err(file_err(part_path))?;
    if total != request.size {
        return Err(DownloadError::Truncated {
            got: total,
            expected: request.size,
        });
    }
    if let Some(expected) = request.sha1 {
        if actual != expected {
            let _ = fs::remove_file(part_path);
            return Err(DownloadError::Sha1Mismatch { expected, actual });
        }
    }
    Ok((got, start, actual))
}

/// Connects, sends the request and reads the answer's head; returns the stream, the body
/// bytes that came with the head and the offset the body starts at.
async fn ask_holder(
    request: &DownloadRequest,
    options: &DownloadOptions,
    target: &Target,
    have: u64,
) -> Result<(TcpStream, BytesMut, u64), DownloadError> {
    let addr = request.addr;
    let mut stream = timeout(options.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| DownloadError::Timeout("connecting"))?
        .map_err(|source| DownloadError::Connect { addr, source })?;
    let _ = stream.set_nodelay(true);

    let mut headers = Headers::default();
    headers.push("Host", addr.to_string());
    headers.push("User-Agent", options.user_agent.clone());
    if let Some(sha1) = request.sha1 {
        headers.push("X-Gnutella-Content-URN", sha1.to_urn());
    }
    if have > 0 {
        headers.push("Range", ByteRangeSpec::From(have).to_header_value());
    }
    headers.push("Connection", "close");
    let head = RequestHead {
        method: Method::Get,
        target: target.to_request_target(),
        version: Version::Http11,
        headers,
    };
    timeout(options.read_timeout, stream.write_all(&head.encode()))
        .await
        .map_err(|_| DownloadError::Timeout("sending the request"))?
        .map_err(DownloadError::Network)?;

    let mut buf = BytesMut::with_capacity(8192);
    let response = read_response_head(&mut stream, &mut buf, options).await?;
    let start = match response.status {
        200 => {
            if let Some(len) = response.content_length() {
                if len != request.size {
                    return Err(DownloadError::BadResponse(format!(
                        "Content-Length {len}, but the hit says {} bytes",
                        request.size
                    )));
                }
            }
            0
        }
        206 => match response.content_range() {
            Some(ContentRange::Bytes { range, total })
                if range.start == have
                    && range.end + 1 == request.size
                    && total.map_or(true, |t| t == request.size)
                    && response.content_length().map_or(true, |l| l == range.len()) =>
            {
                have
            }
            other => {
                return Err(DownloadError::BadResponse(format!(
                    "206 with Content-Range {other:?}"
                )))
            }
        },
        503 => {
            let retry_after = response
                .headers
                .get("Retry-After")
                .and_then(|v| v.trim().parse().ok());
            return Err(DownloadError::Busy { retry_after });
        }
        status => {
            return Err(DownloadError::Status {
                status,
                reason: response.reason.clone(),
            })
        }
    };
    Ok((stream, buf, start))
}

async fn read_response_head(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    options: &DownloadOptions,
) -> Result<ResponseHead, DownloadError> {
    let deadline = tokio::time::Instant::now() + options.read_timeout;
    loop {
        if let Parsed::Done { consumed, head } = parse_response_head(buf, &options.limits)? {
            buf.advance(consumed);
            return Ok(head);
        }
        let n = tokio::time::timeout_at(deadline, stream.read_buf(buf))
            .await
            .map_err(|_| DownloadError::Timeout("waiting for the response head"))?
            .map_err(DownloadError::Network)?;
        if n == 0 {
            return Err(DownloadError::BadResponse(
                "connection closed before a response head".into(),
            ));
        }
    }
}

/// The writer thread: hashes what is kept of the partial file, then hashes and appends
/// every buffer received. Returns the final length and SHA-1.
fn write_part(
    path: &Path,
    keep: u64,
    mut full_rx: mpsc::Receiver<(Vec<u8>, usize)>,
    empty_tx: mpsc::Sender<Vec<u8>>,
) -> io::Result<(u64, Sha1)> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let mut hasher = Sha1Hasher::new();
    if keep > 0 {
        let mut kept = (&mut file).take(keep);
        let mut buf = vec![0u8; 256 * 1024];
        let mut hashed = 0u64;
        loop {
            let n = kept.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            hashed += n as u64;
        }
        if hashed != keep {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "partial file shrank",
            ));
        }
    }
    file.set_len(keep)?;
    file.seek(SeekFrom::Start(keep))?;
    let mut total = keep;
    while let Some((buffer, filled)) = full_rx.blocking_recv() {
        let data = buffer.get(..filled).unwrap_or(&buffer);
        hasher.update(data);
        file.write_all(data)?;
        total += data.len() as u64;
        // The reader may be gone (error or done); the buffer is then just dropped.
        let _ = empty_tx.try_send(buffer);
    }
    file.flush()?;
    Ok((total, Sha1(hasher.finalize().into())))
}
