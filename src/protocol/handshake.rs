//! The Gnutella 0.6 connect handshake as pure parse/format functions (PROTOCOL.md §4).
//!
//! ```text
//! C->S  GNUTELLA CONNECT/0.6 + headers + empty line
//! S->C  GNUTELLA/0.6 200 OK  + headers + empty line   (or <code> <reason>, then close)
//! C->S  GNUTELLA/0.6 200 OK  + headers + empty line   (or an error code, then close)
//! ```
//!
//! The socket side reads bytes into a buffer and calls [`parse_request`] /
//! [`parse_response`] (or the generic [`parse_block`]) on the whole buffer after every
//! read: the parsers keep no state, so there is nothing to get out of step. They answer
//! [`Parsed::NeedMore`], [`Parsed::Done`] with the number of bytes the block used (what
//! follows belongs to the next block or to the binary stream), or a typed error as soon
//! as the bytes seen so far break a limit, so a peer that never ends a line costs at most
//! one bounded buffer. We read as real servents write (bare LF line ends, folded headers,
//! any case in names) and write as the strictest of them reads (CRLF, one line per
//! header, no folding).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::guid::Guid;

/// The `User-Agent` we send.
pub const USER_AGENT: &str = concat!("gnutella-rs/", env!("CARGO_PKG_VERSION"));
/// Longest line we accept (LimeWire's limit; gtk-gnutella's for the first line).
pub const MAX_LINE_LEN: usize = 1024;
/// Most header lines in one block (LimeWire drops above 30, gtk-gnutella above 128).
pub const MAX_HEADERS: usize = 64;
/// Most bytes in one block (gtk-gnutella's 16 KiB).
pub const MAX_BLOCK_LEN: usize = 16 * 1024;

/// Bounds on what a peer may make us buffer before a block is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line, line end excluded.
    pub max_line_len: usize,
    /// Most header lines after the start line (folded continuation lines count too).
    pub max_headers: usize,
    /// Most bytes in the block, the final empty line included.
    pub max_block_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_len: MAX_LINE_LEN,
            max_headers: MAX_HEADERS,
            max_block_len: MAX_BLOCK_LEN,
        }
    }
}

/// Why a handshake block is refused; the connection is closed, after answering
/// [`HandshakeError::rejection`] if we are the side that answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("a handshake line is longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("more than {max} handshake header lines")]
    TooManyHeaders { max: usize },
    #[error("the handshake block is larger than {max} bytes")]
    BlockTooLarge { max: usize },
    #[error("malformed handshake header line {0:?}")]
    BadHeaderLine(String),
    #[error("not a Gnutella handshake line: {0:?}")]
    BadStartLine(String),
    #[error("Gnutella protocol version {0} is not supported (0.6 or later only)")]
    UnsupportedVersion(Version),
}

impl HandshakeError {
    /// The status we answer this error with when we are the responding side.
    pub fn rejection(&self) -> Rejection {
        match self {
            HandshakeError::LineTooLong { .. }
            | HandshakeError::TooManyHeaders { .. }
            | HandshakeError::BlockTooLarge { .. } => Rejection::HeadersTooLarge,
            HandshakeError::BadHeaderLine(_) | HandshakeError::BadStartLine(_) => {
                Rejection::BadRequest
            }
            HandshakeError::UnsupportedVersion(_) => Rejection::NotAcceptable,
        }
    }
}

/// The result of looking at the buffer so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The block is not complete yet: read more and call again with the whole buffer.
    NeedMore,
    /// The block is complete and used the first `consumed` bytes of the buffer.
    Done { consumed: usize, value: T },
}

impl<T> Parsed<T> {
    fn map<U>(
        self,
        f: impl FnOnce(T) -> Result<U, HandshakeError>,
    ) -> Result<Parsed<U>, HandshakeError> {
        Ok(match self {
            Parsed::NeedMore => Parsed::NeedMore,
            Parsed::Done { consumed, value } => Parsed::Done {
                consumed,
                value: f(value)?,
            },
        })
    }
}

/// A protocol version as in `CONNECT/0.6` or `GNUTELLA/0.6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
}

impl Version {
    pub const V0_6: Version = Version { major: 0, minor: 6 };

    /// Parses `major.minor`.
    pub fn parse(s: &str) -> Option<Version> {
        let (major, minor) = s.trim().split_once('.')?;
        Some(Version {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Handshake headers: names compared case-insensitively, repeated names joined with
/// commas, values trimmed; kept in arrival order with the first spelling of each name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Adds a value; a name already present gets `,value` appended (RFC 7230 §3.2.2).
    pub fn append(&mut self, name: &str, value: &str) {
        let value = value.trim();
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, existing)) if existing.is_empty() => *existing = value.to_string(),
            Some((_, existing)) if !value.is_empty() => {
                existing.push(',');
                existing.push_str(value);
            }
            Some(_) => {}
            None => self
                .entries
                .push((name.trim().to_string(), value.to_string())),
        }
    }

    /// Sets a value, replacing any earlier one.
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.append(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The (comma-joined) value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// `True`/`False` in any case (as `X-Ultrapeer` is sent).
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        let v = self.get(name)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }

    /// A `major.minor` value such as `Bye-Packet: 0.1`.
    pub fn get_version(&self, name: &str) -> Option<Version> {
        self.get(name).and_then(Version::parse)
    }

    /// A decimal value such as `X-Max-TTL: 4`.
    pub fn get_number<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.get(name)?.trim().parse().ok()
    }

    /// Whether a comma-separated header lists `token` (case-insensitive; parameters after
    /// `;` ignored), as in `Accept-Encoding: deflate, gzip`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get(name).is_some_and(|v| {
            v.split(',').any(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case(token)
            })
        })
    }

    /// `(name, value)` pairs in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes `Name: value\r\n` per header. Line breaks inside a name or value become
    /// spaces, so no value can start a header of its own or fold.
    pub fn write(&self, out: &mut Vec<u8>) {
        for (name, value) in &self.entries {
            push_single_line(name, out);
            out.extend_from_slice(b": ");
            push_single_line(value, out);
            out.extend_from_slice(b"\r\n");
        }
    }
}

fn push_single_line(s: &str, out: &mut Vec<u8>) {
    out.extend(
        s.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

/// One block: the start line and its headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    pub start_line: String,
    pub headers: Headers,
}

/// Reads one block (start line, headers, empty line) from the front of `buf`.
pub fn parse_block(buf: &[u8], limits: &Limits) -> Result<Parsed<HeaderBlock>, HandshakeError> {
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            let partial = rest.strip_suffix(b"\r").unwrap_or(rest);
            if partial.len() > limits.max_line_len {
                return Err(HandshakeError::LineTooLong {
                    max: limits.max_line_len,
                });
            }
            if buf.len() > limits.max_block_len {
                return Err(HandshakeError::BlockTooLarge {
                    max: limits.max_block_len,
                });
            }
            return Ok(Parsed::NeedMore);
        };
        let raw = rest.get(..lf).unwrap_or_default();
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > limits.max_line_len {
            return Err(HandshakeError::LineTooLong {
                max: limits.max_line_len,
            });
        }
        pos += lf + 1;
        if pos > limits.max_block_len {
            return Err(HandshakeError::BlockTooLarge {
                max: limits.max_block_len,
            });
        }
        if line.is_empty() {
            if lines.is_empty() {
                return Err(HandshakeError::BadStartLine(String::new()));
            }
            break;
        }
        if lines.len() > limits.max_headers {
            return Err(HandshakeError::TooManyHeaders {
                max: limits.max_headers,
            });
        }
        lines.push(line);
    }
    let mut lines = lines.into_iter();
    let start_line = String::from_utf8_lossy(lines.next().unwrap_or_default())
        .trim()
        .to_string();
    let mut headers = Headers::new();
    let mut last_name: Option<String> = None;
    for line in lines {
        let text = String::from_utf8_lossy(line);
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            // A folded continuation (legal per the 0.6 draft, parsed by gtk-gnutella).
            let name = last_name
                .as_deref()
                .ok_or_else(|| HandshakeError::BadHeaderLine(text.to_string()))?;
            let entry = headers
                .entries
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(name));
            if let Some((_, value)) = entry {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(text.trim());
            }
            continue;
        }
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| HandshakeError::BadHeaderLine(text.to_string()))?;
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace()) {
            return Err(HandshakeError::BadHeaderLine(text.to_string()));
        }
        headers.append(name, value);
        last_name = Some(name.to_string());
    }
    Ok(Parsed::Done {
        consumed: pos,
        value: HeaderBlock {
            start_line,
            headers,
        },
    })
}

const CONNECT_PREFIX: &str = "GNUTELLA CONNECT/";
const RESPONSE_PREFIX: &str = "GNUTELLA/";

/// Step 1: `GNUTELLA CONNECT/<version>` and the client's headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectRequest {
    pub version: Version,
    pub headers: Headers,
}

impl ConnectRequest {
    /// A 0.6 request with these headers.
    pub fn new(headers: Headers) -> ConnectRequest {
        ConnectRequest {
            version: Version::V0_6,
            headers,
        }
    }

    /// The bytes to send: start line, headers, empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{CONNECT_PREFIX}{}\r\n", self.version).into_bytes();
        self.headers.write(&mut out);
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Reads step 1. Versions from 0.6 up are accepted (LimeWire does the same); 0.4 and
/// other older versions are refused, as gtk-gnutella and LimeWire refuse them.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Parsed<ConnectRequest>, HandshakeError> {
    parse_block(buf, limits)?.map(|block| {
        let version = strip_prefix_ignore_case(&block.start_line, CONNECT_PREFIX)
            .and_then(Version::parse)
            .ok_or_else(|| HandshakeError::BadStartLine(block.start_line.clone()))?;
        if version < Version::V0_6 {
            return Err(HandshakeError::UnsupportedVersion(version));
        }
        Ok(ConnectRequest {
            version,
            headers: block.headers,
        })
    })
}

/// Steps 2 and 3: `GNUTELLA/0.6 <code> <reason>` and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub version: Version,
    pub code: u16,
    pub reason: String,
    pub headers: Headers,
}

impl Response {
    /// `GNUTELLA/0.6 200 OK` (we answer 0.6 whatever version was offered).
    pub fn ok(headers: Headers) -> Response {
        Response {
            version: Version::V0_6,
            code: 200,
            reason: "OK".to_string(),
            headers,
        }
    }

    /// A refusal; send it, then close.
    pub fn reject(rejection: Rejection, headers: Headers) -> Response {
        Response {
            version: Version::V0_6,
            code: rejection.code(),
            reason: rejection.reason().to_string(),
            headers,
        }
    }

    /// Only the numeric code counts (PROTOCOL.md §4.1).
    pub fn is_ok(&self) -> bool {
        self.code == 200
    }

    /// The bytes to send: status line, headers, empty line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{RESPONSE_PREFIX}{} {}", self.version, self.code).into_bytes();
        if !self.reason.is_empty() {
            out.push(b' ');
            push_single_line(&self.reason, &mut out);
        }
        out.extend_from_slice(b"\r\n");
        self.headers.write(&mut out);
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Reads step 2 or 3. The 0.4 reply `GNUTELLA OK` is refused (gtk-gnutella drops a 0.6
/// connection that gets it).
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Parsed<Response>, HandshakeError> {
    parse_block(buf, limits)?.map(|block| {
        let bad = || HandshakeError::BadStartLine(block.start_line.clone());
        if block.start_line.eq_ignore_ascii_case("GNUTELLA OK") {
            return Err(HandshakeError::UnsupportedVersion(Version {
                major: 0,
                minor: 4,
            }));
        }
        let rest = strip_prefix_ignore_case(&block.start_line, RESPONSE_PREFIX).ok_or_else(bad)?;
        let (version, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let version = Version::parse(version).ok_or_else(bad)?;
        if version < Version::V0_6 {
            return Err(HandshakeError::UnsupportedVersion(version));
        }
        let rest = rest.trim_start();
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code = match code.parse::<u16>() {
            Ok(code) if (100..=999).contains(&code) => code,
            _ => return Err(bad()),
        };
        Ok(Response {
            version,
            code,
            reason: reason.trim().to_string(),
            headers: block.headers,
        })
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// Why we refuse a connection (PROTOCOL.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// 503: no free slot (the normal refusal; add `X-Try`/`X-Try-Ultrapeers`).
    Busy,
    /// 403: refused by policy (banned, closed network, ...).
    Forbidden,
    /// 409: already connected to that peer (or to ourselves).
    AlreadyConnected,
    /// 406: a protocol version or role we do not accept.
    NotAcceptable,
    /// 400: a malformed handshake.
    BadRequest,
    /// 413: a line, the header count or the block above our limits.
    HeadersTooLarge,
    /// 503 with a reason of its own: a role budget said no ("Too many leaves", "I am a
    /// shielded leaf node"), as ultrapeers and leaves answer (PROTOCOL.md §4.3, §4.4).
    Unavailable(&'static str),
}

impl Rejection {
    pub fn code(self) -> u16 {
        match self {
            Rejection::Busy => 503,
            Rejection::Forbidden => 403,
            Rejection::AlreadyConnected => 409,
            Rejection::NotAcceptable => 406,
            Rejection::BadRequest => 400,
            Rejection::HeadersTooLarge => 413,
            Rejection::Unavailable(_) => 503,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Rejection::Busy => "Too many connections",
            Rejection::Forbidden => "Forbidden",
            Rejection::AlreadyConnected => "Already connected",
            Rejection::NotAcceptable => "Not Acceptable",
            Rejection::BadRequest => "Bad Request",
            Rejection::HeadersTooLarge => "Header line too long",
            Rejection::Unavailable(why) => why,
        }
    }
}

/// What we advertise about ourselves; each field maps to the headers of PROTOCOL.md §4.2.
/// Only claim what the caller implements: the opt-in fields default to `false`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCapabilities {
    pub user_agent: String,
    /// Our listening address (`Listen-IP`, LimeWire; `Node`, gtk-gnutella).
    pub listen_addr: Option<SocketAddrV4>,
    /// `X-Ultrapeer: True` (equal peers relay, so `True` is the honest answer).
    pub ultrapeer: bool,
    /// `X-Max-TTL`: the largest TTL we accept for queries we relay.
    pub max_ttl: u8,
    /// `X-Degree`: how many neighbours we aim for.
    pub degree: u32,
    /// `Accept-Encoding: deflate`: we can inflate a compressed stream.
    pub accept_deflate: bool,
    /// We compress our side (`Content-Encoding: deflate`) when the peer accepts it.
    pub send_deflate: bool,
    /// `GGEP: 0.5`: we forward GGEP-bearing descriptors untouched.
    pub ggep: bool,
    /// `X-Dynamic-Querying: 0.1` and `Vendor-Message: 0.2` (only if the node runs
    /// dynamic queries: it then sends and reads the Query Status vendor messages).
    pub dynamic_querying: bool,
    /// `X-Ultrapeer-Query-Routing: 0.1` (only if the node exchanges QRP tables).
    pub ultrapeer_query_routing: bool,
    /// `X-Query-Routing: 0.1`: leaves may send us, or we send an ultrapeer, a QRP table.
    pub query_routing: bool,
    /// `GUID: <32 hex>`, our servent GUID, as gtk-gnutella sends its own: the peer then
    /// knows which hits are ours, and a peer already linked to us can refuse a second link.
    pub servent_guid: Option<Guid>,
    /// `X-Live-Since`: when we started, in seconds since the Unix epoch (`live_since`).
    pub live_since: Option<i64>,
}

impl Default for LocalCapabilities {
    fn default() -> Self {
        LocalCapabilities {
            user_agent: USER_AGENT.to_string(),
            listen_addr: None,
            ultrapeer: true,
            max_ttl: 4,
            degree: 32,
            accept_deflate: false,
            send_deflate: false,
            ggep: false,
            dynamic_querying: false,
            ultrapeer_query_routing: false,
            query_routing: false,
            servent_guid: None,
            live_since: None,
        }
    }
}

impl LocalCapabilities {
    /// Headers shared by steps 1 and 2.
    fn common_headers(&self, remote_ip: Option<Ipv4Addr>) -> Headers {
        let mut h = Headers::new();
        h.append("User-Agent", &self.user_agent);
        h.append("X-Ultrapeer", if self.ultrapeer { "True" } else { "False" });
        if let Some(addr) = self.listen_addr {
            h.append("Listen-IP", &addr.to_string());
            h.append("Node", &addr.to_string());
        }
        if let Some(ip) = remote_ip {
            h.append("Remote-IP", &ip.to_string());
        }
        h.append("Bye-Packet", "0.1");
        if let Some(guid) = self.servent_guid {
            h.append("GUID", &guid.to_hex());
        }
        if self.ggep {
            h.append("GGEP", "0.5");
        }
        h.append("X-Max-TTL", &self.max_ttl.to_string());
        h.append("X-Degree", &self.degree.to_string());
        if self.dynamic_querying {
            h.append("X-Dynamic-Querying", "0.1");
            h.append("Vendor-Message", "0.2");
        }
        if self.query_routing {
            h.append("X-Query-Routing", "0.1");
        }
        if self.ultrapeer_query_routing {
            h.append("X-Ultrapeer-Query-Routing", "0.1");
        }
        if self.accept_deflate {
            h.append("Accept-Encoding", "deflate");
        }
        if let Some(date) = self.live_since.and_then(super::live_since::format) {
            h.append("X-Live-Since", &date);
        }
        h
    }

    /// The headers of a refusal (any code but 200), as gtk-gnutella's `send_error`
    /// (`nodes.c`) writes them: who we are (`User-Agent`), the address we see the remote
    /// at (`Remote-IP`), and, except on a 4xx, our role (`X-Ultrapeer`), so a refused
    /// peer still learns whether we are an ultrapeer to come back to. The caller adds
    /// its hosts to try (`X-Try-Ultrapeers`).
    pub fn refusal_headers(&self, code: u16, remote_ip: Option<Ipv4Addr>) -> Headers {
        let mut h = Headers::new();
        h.append("User-Agent", &self.user_agent);
        if let Some(ip) = remote_ip {
            h.append("Remote-IP", &ip.to_string());
        }
        if !(400..500).contains(&code) {
            h.append("X-Ultrapeer", if self.ultrapeer { "True" } else { "False" });
        }
        h
    }

    /// Step 1 headers. `remote_ip` is the address we dialled, if worth telling.
    pub fn connect_headers(&self, remote_ip: Option<Ipv4Addr>) -> Headers {
        self.common_headers(remote_ip)
    }

    /// Step 2 headers, answering `request`: ours, plus `Content-Encoding: deflate` when we
    /// compress and the client accepts it.
    pub fn accept_headers(&self, request: &Headers, remote_ip: Option<Ipv4Addr>) -> Headers {
        let mut h = self.common_headers(remote_ip);
        if self.compresses_to(request) {
            h.append("Content-Encoding", "deflate");
        }
        h
    }

    /// Step 3 headers: only what is still needed (PROTOCOL.md §4.1), i.e. whether we will
    /// compress towards a server that accepts it.
    pub fn final_headers(&self, response: &Headers) -> Headers {
        let mut h = Headers::new();
        if self.compresses_to(response) {
            h.append("Content-Encoding", "deflate");
        }
        h
    }

    /// Whether we send a compressed stream to the peer that sent `peer` headers.
    pub fn compresses_to(&self, peer: &Headers) -> bool {
        self.send_deflate && peer.has_token("Accept-Encoding", "deflate")
    }
}

/// What a peer's headers tell us, read liberally.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCapabilities {
    pub user_agent: Option<String>,
    /// From `Listen-IP`, `X-My-Address` or `Node`.
    pub listen_addr: Option<SocketAddrV4>,
    /// Our address as the peer sees it (`Remote-IP`).
    pub remote_ip: Option<Ipv4Addr>,
    pub ultrapeer: Option<bool>,
    /// `Bye-Packet` advertised: we may send it a Bye (PROTOCOL.md §2.6).
    pub accepts_bye: bool,
    /// `GGEP` advertised: it handles GGEP-bearing pings, pongs and pushes.
    pub ggep: bool,
    /// `Accept-Encoding: deflate`.
    pub accepts_deflate: bool,
    /// `Content-Encoding: deflate`: its stream to us is compressed.
    pub sends_deflate: bool,
    pub max_ttl: Option<u8>,
    pub degree: Option<u32>,
    /// `Vendor-Message` advertised: it reads vendor messages (we send it our Messages
    /// Supported first, PROTOCOL.md §2.8).
    pub vendor_messages: bool,
    /// `X-Dynamic-Querying` advertised: it widens its leaves' queries step by step.
    pub dynamic_querying: bool,
    /// `X-Query-Routing` advertised: it sends or takes leaf QRP tables.
    pub query_routing: bool,
    /// `X-Ultrapeer-Query-Routing` advertised: it exchanges QRP tables between ultrapeers.
    pub ultrapeer_query_routing: bool,
    /// `X-Ultrapeer-Needed`: `false` from an ultrapeer is leaf guidance ("become my leaf").
    pub ultrapeer_needed: Option<bool>,
    /// Its servent GUID, from `GUID` (gtk-gnutella; 32 hex digits), if well formed.
    pub servent_guid: Option<Guid>,
    /// Hosts it suggests we try (`X-Try`, `X-Try-Ultrapeers`; sent with refusals and by
    /// many servents with every answer), at most [`MAX_TRY_HOSTS`].
    pub try_hosts: Vec<SocketAddrV4>,
    /// When it started (`X-Live-Since`, seconds since the Unix epoch), if it said so in
    /// a date we read.
    pub live_since: Option<i64>,
}

/// Most hosts read from the `X-Try` headers of one block (LimeWire sends 10; the block's
/// size limit bounds the rest).
pub const MAX_TRY_HOSTS: usize = 32;

/// The hosts of `X-Try` and `X-Try-Ultrapeers` values: comma-separated `ip:port`, each
/// possibly followed by Shareaza's ` 2004-12-18T23:47Z` timestamp. Junk entries (names,
/// IPv6, missing ports) are skipped, duplicates kept once, at most `max` returned.
pub fn parse_try_hosts<'a>(
    values: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> Vec<SocketAddrV4> {
    let mut hosts = Vec::new();
    for value in values {
        for entry in value.split(',') {
            if hosts.len() >= max {
                return hosts;
            }
            let Some(addr) = entry.split_whitespace().next() else {
                continue;
            };
            if let Ok(addr) = addr.parse::<SocketAddrV4>() {
                if !hosts.contains(&addr) {
                    hosts.push(addr);
                }
            }
        }
    }
    hosts
}

/// The `X-Try` and `X-Try-Ultrapeers` headers naming `hosts` (none when it is empty).
/// Every peer here relays like an ultrapeer, so both names list the same hosts: LimeWire
/// reads the second, older servents the first.
pub fn try_headers(hosts: &[SocketAddrV4]) -> Headers {
    let mut h = Headers::new();
    if !hosts.is_empty() {
        let list: Vec<String> = hosts.iter().map(|a| a.to_string()).collect();
        let list = list.join(",");
        h.append("X-Try", &list);
        h.append("X-Try-Ultrapeers", &list);
    }
    h
}

impl PeerCapabilities {
    pub fn from_headers(h: &Headers) -> PeerCapabilities {
        let listen_addr = ["Listen-IP", "X-My-Address", "Node"]
            .iter()
            .find_map(|name| {
                h.get(name)
                    .and_then(|v| v.split(',').next()?.trim().parse().ok())
            });
        PeerCapabilities {
            user_agent: h.get("User-Agent").map(str::to_string),
            listen_addr,
            remote_ip: h.get("Remote-IP").and_then(|v| v.trim().parse().ok()),
            ultrapeer: h.get_bool("X-Ultrapeer"),
            accepts_bye: h.get_version("Bye-Packet").is_some(),
            ggep: h.get_version("GGEP").is_some(),
            accepts_deflate: h.has_token("Accept-Encoding", "deflate"),
            sends_deflate: h.has_token("Content-Encoding", "deflate"),
            max_ttl: h.get_number("X-Max-TTL"),
            degree: h.get_number("X-Degree"),
            vendor_messages: h.get_version("Vendor-Message").is_some(),
            dynamic_querying: h.get_version("X-Dynamic-Querying").is_some(),
            query_routing: h.get_version("X-Query-Routing").is_some(),
            ultrapeer_query_routing: h.get_version("X-Ultrapeer-Query-Routing").is_some(),
            ultrapeer_needed: h.get_bool("X-Ultrapeer-Needed"),
            servent_guid: h.get("GUID").and_then(|v| Guid::from_hex(v.trim())),
            try_hosts: parse_try_hosts(
                ["X-Try-Ultrapeers", "X-Try"]
                    .iter()
                    .filter_map(|name| h.get(name)),
                MAX_TRY_HOSTS,
            ),
            live_since: h.get("X-Live-Since").and_then(super::live_since::parse),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_by_byte_feeding_finds_the_block_end() {
        let wire = b"GNUTELLA CONNECT/0.6\r\nUser-Agent: x\r\n\r\n\xC3rest";
        let end = wire.len() - 5;
        for n in 0..end {
            assert_eq!(
                parse_request(&wire[..n], &Limits::default()),
                Ok(Parsed::NeedMore),
                "{n}"
            );
        }
        match parse_request(wire, &Limits::default()) {
            Ok(Parsed::Done { consumed, value }) => {
                assert_eq!(consumed, end);
                assert_eq!(value.headers.get("user-agent"), Some("x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_fire_before_the_line_ends() {
        let limits = Limits {
            max_line_len: 16,
            max_headers: 2,
            max_block_len: 64,
        };
        let long = [b'a'; 17];
        assert_eq!(
            parse_block(&long, &limits),
            Err(HandshakeError::LineTooLong { max: 16 })
        );
        let many = b"GNUTELLA/0.6 200\na: 1\nb: 2\nc: 3\n";
        assert_eq!(
            parse_block(many, &limits),
            Err(HandshakeError::TooManyHeaders { max: 2 })
        );
        let big = b"GNUTELLA/0.6 200\nabcdefghijk: 1\nabcdefghijk: 1\nabcdefghijk: 1\nabcdefghijk";
        let limits = Limits {
            max_headers: 10,
            ..limits
        };
        assert_eq!(
            parse_block(big, &limits),
            Err(HandshakeError::BlockTooLarge { max: 64 })
        );
    }

    #[test]
    fn repeated_and_folded_headers() {
        let wire =
            b"GNUTELLA/0.6 503 Busy\nX-Try: 1.2.3.4:6346\nx-try:  5.6.7.8:6346 \nVia: a\n  b\n\n";
        let Ok(Parsed::Done { value, .. }) = parse_response(wire, &Limits::default()) else {
            panic!("parse failed");
        };
        assert_eq!((value.code, value.reason.as_str()), (503, "Busy"));
        assert_eq!(
            value.headers.get("X-TRY"),
            Some("1.2.3.4:6346,5.6.7.8:6346")
        );
        assert_eq!(value.headers.get("via"), Some("a b"));
    }

    #[test]
    fn old_versions_and_garbage_are_refused() {
        let l = Limits::default();
        assert_eq!(
            parse_request(b"GNUTELLA CONNECT/0.4\n\n", &l),
            Err(HandshakeError::UnsupportedVersion(Version {
                major: 0,
                minor: 4
            }))
        );
        assert!(matches!(
            parse_response(b"GNUTELLA OK\n\n", &l),
            Err(HandshakeError::UnsupportedVersion(_))
        ));
        assert!(matches!(
            parse_request(b"GET / HTTP/1.1\n\n", &l),
            Err(HandshakeError::BadStartLine(_))
        ));
        assert!(matches!(
            parse_response(b"GNUTELLA/0.6 2x0 OK\n\n", &l),
            Err(HandshakeError::BadStartLine(_))
        ));
        assert!(matches!(
            parse_block(b"X\nno colon\n\n", &l),
            Err(HandshakeError::BadHeaderLine(_))
        ));
        let Ok(Parsed::Done { value, .. }) = parse_request(b"GNUTELLA CONNECT/0.7\r\n\r\n", &l)
        else {
            panic!("0.7 is accepted");
        };
        assert_eq!(value.version, Version { major: 0, minor: 7 });
    }

    #[test]
    fn written_headers_never_fold_or_inject() {
        let mut h = Headers::new();
        h.append("User-Agent", "evil\r\nX-Injected: 1");
        let bytes = Response::ok(h).to_bytes();
        assert_eq!(
            bytes,
            b"GNUTELLA/0.6 200 OK\r\nUser-Agent: evil  X-Injected: 1\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn try_hosts_are_read_from_both_headers_with_timestamps_and_junk_skipped() {
        let wire = b"GNUTELLA/0.6 503 Busy\r\n\
X-Try-Ultrapeers: 1.2.3.4:6346 2004-12-18T23:47Z, 5.6.7.8:6347 2004-12-18T23:48Z\r\n\
X-Try: host.example:6346, ,::1:80, 9.9.9.9, 1.2.3.4:6346,10.0.0.1:99999,10.0.0.2:6348\r\n\
\r\n";
        let Ok(Parsed::Done { value, .. }) = parse_response(wire, &Limits::default()) else {
            panic!("a valid block");
        };
        let seen = PeerCapabilities::from_headers(&value.headers);
        let want: Vec<SocketAddrV4> = ["1.2.3.4:6346", "5.6.7.8:6347", "10.0.0.2:6348"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(seen.try_hosts, want);
        let many = vec!["1.1.1.1:1"; 100].join(",");
        let distinct: String = (0..100).map(|i| format!("1.1.1.{i}:1,")).collect();
        assert_eq!(parse_try_hosts([many.as_str()], 10).len(), 1);
        assert_eq!(parse_try_hosts([distinct.as_str()], 10).len(), 10);
        let back = PeerCapabilities::from_headers(&try_headers(&want));
        assert_eq!(back.try_hosts, want);
        assert!(try_headers(&[]).is_empty());
    }

    #[test]
    fn capabilities_round_trip_through_headers() {
        let local = LocalCapabilities {
            listen_addr: Some("10.0.0.1:6346".parse().unwrap()),
            accept_deflate: true,
            send_deflate: true,
            ggep: true,
            ..LocalCapabilities::default()
        };
        let connect = local.connect_headers(None);
        let peer = PeerCapabilities::from_headers(&connect);
        assert_eq!(peer.listen_addr, local.listen_addr);
        assert!(peer.accepts_bye && peer.ggep && peer.accepts_deflate && !peer.sends_deflate);
        assert_eq!(
            (peer.max_ttl, peer.degree, peer.ultrapeer),
            (Some(4), Some(32), Some(true))
        );
        let answer = local.accept_headers(&connect, Some(Ipv4Addr::new(10, 0, 0, 2)));
        let seen = PeerCapabilities::from_headers(&answer);
        assert!(seen.sends_deflate);
        assert_eq!(seen.remote_ip, Some(Ipv4Addr::new(10, 0, 0, 2)));
        let plain = LocalCapabilities::default();
        assert!(plain.final_headers(&answer).is_empty());
        assert!(!plain.connect_headers(None).contains("GGEP"));
    }
}
