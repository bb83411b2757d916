//! The Gnutella 0.6 connect handshake over a socket (PROTOCOL.md §4): reading header
//! blocks under size and time limits, and the 3-way exchange from either side.
//!
//! This is the I/O half: a peer that sends an endless line, too many headers or nothing at
//! all must cost us one bounded buffer and one timer, and lose only its own connection.
//! Bytes read past the final header block (the start of the binary stream, or an HTTP
//! request body) are handed back to the caller, never lost.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Our `User-Agent`.
pub const USER_AGENT: &str = concat!("gnutella-rs/", env!("CARGO_PKG_VERSION"));

/// Limits on what a remote may send during the handshake (LimeWire and gtk-gnutella bounds).
#[derive(Clone, Copy, Debug)]
pub struct HandshakeLimits {
    pub max_line: usize,
    pub max_block: usize,
    pub max_headers: usize,
    /// The whole handshake must finish within this time.
    pub timeout: Duration,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_line: 1024,
            max_block: 16 * 1024,
            max_headers: 64,
            timeout: Duration::from_secs(8),
        }
    }
}

/// Why a handshake failed; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("i/o error during handshake: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake timed out")]
    Timeout,
    #[error("connection closed during handshake")]
    Closed,
    #[error("handshake line longer than {0} bytes")]
    LineTooLong(usize),
    #[error("handshake header block larger than {0} bytes")]
    BlockTooLarge(usize),
    #[error("more than {0} handshake headers")]
    TooManyHeaders(usize),
    #[error("not a Gnutella 0.6 handshake: {0:?}")]
    NotGnutella(String),
    #[error("refused by the remote: {code} {reason}")]
    Refused { code: u16, reason: String },
}

/// One block of the handshake: the status or request line and its headers, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    pub first_line: String,
    pub headers: Vec<(String, String)>,
}

impl HeaderBlock {
    /// The value of a header (names are case-insensitive; repeats are comma-joined).
    pub fn get(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            None
        } else {
            Some(values.join(","))
        }
    }

    /// Whether a comma-separated header contains `token`, case-insensitively.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// The status code of a `GNUTELLA/0.6 <code> <reason>` line.
    pub fn status(&self) -> Option<(u16, String)> {
        let rest = self.first_line.strip_prefix("GNUTELLA/")?;
        let mut parts = rest.splitn(3, ' ');
        let _version = parts.next()?;
        let code = parts.next()?.trim().parse().ok()?;
        Some((code, parts.next().unwrap_or("").trim().to_string()))
    }

    /// Serialises the block with CRLF line ends and the closing empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(256);
        s.push_str(&self.first_line);
        s.push_str("\r\n");
        for (n, v) in &self.headers {
            s.push_str(n);
            s.push_str(": ");
            s.push_str(v);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }

    fn push(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_string(), value.into()));
    }
}

/// Takes one line (LF or CRLF terminated) off the front of `buf`, if complete.
fn take_line(buf: &mut BytesMut, max_line: usize) -> Result<Option<String>, HandshakeError> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) => {
            if end > max_line {
                return Err(HandshakeError::LineTooLong(max_line));
            }
            let line = buf.split_to(end + 1);
            let text = String::from_utf8_lossy(&line[..end]);
            Ok(Some(text.trim_end_matches('\r').to_string()))
        }
        None if buf.len() > max_line => Err(HandshakeError::LineTooLong(max_line)),
        None => Ok(None),
    }
}

async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<(), HandshakeError> {
    buf.reserve(1024);
    let n = stream.read_buf(buf).await?;
    if n == 0 {
        return Err(HandshakeError::Closed);
    }
    Ok(())
}

/// Reads the first line only (to decide between Gnutella and HTTP); the line stays in `buf`.
pub async fn peek_first_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    limits: &HandshakeLimits,
) -> Result<String, HandshakeError> {
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            if end > limits.max_line {
                return Err(HandshakeError::LineTooLong(limits.max_line));
            }
            return Ok(String::from_utf8_lossy(&buf[..end])
                .trim_end_matches('\r')
                .to_string());
        }
        if buf.len() > limits.max_line {
            return Err(HandshakeError::LineTooLong(limits.max_line));
        }
        fill(stream, buf).await?;
    }
}

/// Reads one header block; bytes after its empty line stay in `buf`. Continuation lines
/// (leading space or tab) are folded into the previous header, as gtk-gnutella does.
pub async fn read_block<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    limits: &HandshakeLimits,
) -> Result<HeaderBlock, HandshakeError> {
    let mut block = HeaderBlock::default();
    let mut first = true;
    let mut consumed = 0usize;
    loop {
        let before = buf.len();
        let line = match take_line(buf, limits.max_line)? {
            Some(line) => line,
            None => {
                if consumed + buf.len() > limits.max_block {
                    return Err(HandshakeError::BlockTooLarge(limits.max_block));
                }
                fill(stream, buf).await?;
                continue;
            }
        };
        consumed += before - buf.len();
        if consumed > limits.max_block {
            return Err(HandshakeError::BlockTooLarge(limits.max_block));
        }
        if first {
            block.first_line = line;
            first = false;
            continue;
        }
        if line.is_empty() {
            return Ok(block);
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = block.headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if block.headers.len() >= limits.max_headers {
            return Err(HandshakeError::TooManyHeaders(limits.max_headers));
        }
        // A line without a colon is ignored, as LimeWire and gtk-gnutella do.
        if let Some((name, value)) = line.split_once(':') {
            block
                .headers
                .push((name.trim().to_string(), value.trim().to_string()));
        }
    }
}

/// What we tell the remote about ourselves.
#[derive(Clone, Debug)]
pub struct LocalInfo {
    pub listen_addr: SocketAddrV4,
    pub max_ttl: u8,
    /// We offer to receive, and agree to send, a deflated stream.
    pub deflate: bool,
}

/// What the handshake settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The remote's listening address (`Listen-IP`, `X-My-Address` or `Node`).
    pub remote_listen: Option<SocketAddrV4>,
    pub user_agent: Option<String>,
    pub accepts_bye: bool,
    /// We deflate what we send.
    pub deflate_out: bool,
    /// The remote deflates what it sends.
    pub deflate_in: bool,
}

fn common_headers(block: &mut HeaderBlock, local: &LocalInfo, remote: Option<SocketAddr>) {
    block.push("User-Agent", USER_AGENT);
    // We are an equal peer that relays queries: say so the way ultrapeers do, since
    // gtk-gnutella refuses "normal" nodes (PROTOCOL.md §4.4).
    block.push("X-Ultrapeer", "True");
    block.push("Listen-IP", local.listen_addr.to_string());
    if let Some(remote) = remote {
        block.push("Remote-IP", remote.ip().to_string());
    }
    block.push("Bye-Packet", "0.1");
    block.push("GGEP", "0.5");
    block.push("X-Max-TTL", local.max_ttl.to_string());
    block.push("X-Degree", "32");
    if local.deflate {
        block.push("Accept-Encoding", "deflate");
    }
}

fn listen_addr_of(block: &HeaderBlock) -> Option<SocketAddrV4> {
    ["Listen-IP", "X-My-Address", "Node"]
        .iter()
        .filter_map(|h| block.get(h))
        .find_map(|v| v.split(',').next().and_then(|a| a.trim().parse().ok()))
}

/// The client side: CONNECT, read the answer, send the final 200. Returns what was settled
/// and any bytes already read past the server's block.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
) -> Result<(Negotiated, BytesMut), HandshakeError> {
    tokio::time::timeout(limits.timeout, connect_inner(stream, local, remote, limits))
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

async fn connect_inner<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
) -> Result<(Negotiated, BytesMut), HandshakeError> {
    let mut hello = HeaderBlock {
        first_line: "GNUTELLA CONNECT/0.6".into(),
        headers: vec![],
    };
    common_headers(&mut hello, local, remote);
    stream.write_all(&hello.to_bytes()).await?;
    let mut buf = BytesMut::with_capacity(2048);
    let answer = read_block(stream, &mut buf, limits).await?;
    let (code, reason) = answer
        .status()
        .ok_or_else(|| HandshakeError::NotGnutella(answer.first_line.clone()))?;
    if code != 200 {
        return Err(HandshakeError::Refused { code, reason });
    }
    let deflate_out = local.deflate && answer.has_token("Accept-Encoding", "deflate");
    let mut fin = HeaderBlock {
        first_line: "GNUTELLA/0.6 200 OK".into(),
        headers: vec![],
    };
    if deflate_out {
        fin.push("Content-Encoding", "deflate");
    }
    stream.write_all(&fin.to_bytes()).await?;
    let negotiated = Negotiated {
        remote_listen: listen_addr_of(&answer),
        user_agent: answer.get("User-Agent"),
        accepts_bye: answer.get("Bye-Packet").is_some(),
        deflate_out,
        deflate_in: local.deflate && answer.has_token("Content-Encoding", "deflate"),
    };
    Ok((negotiated, buf))
}

/// Whether a first line opens a Gnutella 0.6 (or later) handshake. 0.4 is refused, as
/// gtk-gnutella and LimeWire do (PROTOCOL.md §4.6).
pub fn is_connect_06(first_line: &str) -> bool {
    first_line
        .strip_prefix("GNUTELLA CONNECT/")
        .and_then(|v| v.trim().parse::<f32>().ok())
        .is_some_and(|v| v >= 0.6)
}

/// The server side, after the first line said `GNUTELLA CONNECT/0.6` (still in `buf`):
/// read the request, answer 200 (or `refuse` with a code), read the final 200. `admit` sees
/// what the remote told us and may refuse with a code and reason (e.g. 409 duplicate link).
pub async fn accept<S, F>(
    stream: &mut S,
    mut buf: BytesMut,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
    admit: F,
) -> Result<(Negotiated, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Negotiated) -> Result<(), (u16, String)>,
{
    let work = async {
        let request = read_block(stream, &mut buf, limits).await?;
        if !is_connect_06(&request.first_line) {
            return Err(HandshakeError::NotGnutella(request.first_line));
        }
        let mut negotiated = Negotiated {
            remote_listen: listen_addr_of(&request),
            user_agent: request.get("User-Agent"),
            accepts_bye: request.get("Bye-Packet").is_some(),
            deflate_out: local.deflate && request.has_token("Accept-Encoding", "deflate"),
            deflate_in: false,
        };
        if let Err((code, reason)) = admit(&negotiated) {
            let no = HeaderBlock {
                first_line: format!("GNUTELLA/0.6 {code} {reason}"),
                headers: vec![("User-Agent".into(), USER_AGENT.into())],
            };
            stream.write_all(&no.to_bytes()).await?;
            return Err(HandshakeError::Refused { code, reason });
        }
        let mut ok = HeaderBlock {
            first_line: "GNUTELLA/0.6 200 OK".into(),
            headers: vec![],
        };
        common_headers(&mut ok, local, remote);
        if negotiated.deflate_out {
            ok.push("Content-Encoding", "deflate");
        }
        stream.write_all(&ok.to_bytes()).await?;
        let fin = read_block(stream, &mut buf, limits).await?;
        let (code, reason) = fin
            .status()
            .ok_or_else(|| HandshakeError::NotGnutella(fin.first_line.clone()))?;
        if code != 200 {
            return Err(HandshakeError::Refused { code, reason });
        }
        negotiated.deflate_in = local.deflate && fin.has_token("Content-Encoding", "deflate");
        Ok((negotiated, buf))
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16, deflate: bool) -> LocalInfo {
        LocalInfo {
            listen_addr: SocketAddrV4::new([127, 0, 0, 1].into(), port),
            max_ttl: 7,
            deflate,
        }
    }

    #[tokio::test]
    async fn both_sides_agree_and_keep_trailing_bytes() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let limits = HandshakeLimits::default();
        let server = tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let line = peek_first_line(&mut b, &mut buf, &limits).await.unwrap();
            assert!(is_connect_06(&line));
            accept(&mut b, buf, &local(2, true), None, &limits, |_| Ok(()))
                .await
                .unwrap()
        });
        let (client, _) = connect(&mut a, &local(1, true), None, &limits)
            .await
            .unwrap();
        a.write_all(b"\x01\x02").await.unwrap();
        let (server, _rest) = server.await.unwrap();
        assert_eq!(client.remote_listen.map(|a| a.port()), Some(2));
        assert_eq!(server.remote_listen.map(|a| a.port()), Some(1));
        assert!(client.deflate_out && client.deflate_in && server.deflate_in && server.deflate_out);
        assert!(client.accepts_bye && server.accepts_bye);
    }

    #[tokio::test]
    async fn endless_line_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(8192);
        a.write_all(&[b'A'; 2000]).await.unwrap();
        let mut buf = BytesMut::new();
        let err = peek_first_line(&mut b, &mut buf, &HandshakeLimits::default()).await;
        assert!(matches!(err, Err(HandshakeError::LineTooLong(_))));
    }

    #[tokio::test]
    async fn refusal_code_reaches_the_client() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let limits = HandshakeLimits::default();
        tokio::spawn(async move {
            let buf = BytesMut::new();
            let _ = accept(&mut b, buf, &local(2, false), None, &limits, |_| {
                Err((409, "Already connected".into()))
            })
            .await;
        });
        let err = connect(&mut a, &local(1, false), None, &limits).await;
        assert!(matches!(
            err,
            Err(HandshakeError::Refused { code: 409, .. })
        ));
    }

    #[test]
    fn versions() {
        assert!(is_connect_06("GNUTELLA CONNECT/0.6"));
        assert!(is_connect_06("GNUTELLA CONNECT/0.7"));
        assert!(!is_connect_06("GNUTELLA CONNECT/0.4"));
        assert!(!is_connect_06("GET / HTTP/1.1"));
    }
}
