//! HTTP/1.1 heads for Gnutella file transfers, as pure parse/format functions (no I/O).
//!
//! Files move between peers over plain HTTP/1.1 on the Gnutella port (PROTOCOL.md §5).
//! Both the upload server and the downloader need the same small, hostile-input-proof
//! subset of HTTP: request and response heads with hard limits, the two Gnutella request
//! targets (`/uri-res/N2R?urn:sha1:...` and `/get/<index>/<name>`), one byte `Range`, and
//! `Content-Range`. Keeping it here, free of sockets, lets it be tested and fuzzed alone.
//!
//! Decisions, following real servents rather than the letter of RFC 7230/7233:
//! - Lines may end in CRLF or a bare LF (GTKG and LimeWire both accept LF).
//! - Obsolete header folding (a line starting with space or tab) continues the previous
//!   header's value; we never emit it (PROTOCOL.md §9.7).
//! - A `Range` asking for several ranges is reported as [`RangeRequest::Multiple`]; the
//!   server then ignores the header and answers `200` with the whole file, which RFC 7233
//!   §3.1 allows ("a server MAY ignore the Range header field"). GTKG instead serves the
//!   first range; both are understood by downloaders, ours included. A syntactically
//!   malformed `Range` is a `400`, as in GTKG ("Malformed Range request").

use std::fmt;

use super::urn::Sha1;

/// Bounds on what a peer may make us buffer before a head is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest single line, terminator excluded.
    pub max_line: usize,
    /// Most header lines (folded continuation lines count too).
    pub max_headers: usize,
    /// Most bytes in the whole head, terminating empty line included.
    pub max_head: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        // GTKG caps header lines at 1 KiB and 30-ish headers, LimeWire at 4 KiB per line;
        // 4 KiB lines, 64 headers, 16 KiB in all leaves room for long X-Alt lists.
        HeadLimits {
            max_line: 4096,
            max_headers: 64,
            max_head: 16 * 1024,
        }
    }
}

/// Why a head could not be parsed. The connection that sent it gets a `400` (or `413`
/// for the size limits) and is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("a head line is longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("more than {max} header lines")]
    TooManyHeaders { max: usize },
    #[error("the head is larger than {max} bytes")]
    HeadTooLarge { max: usize },
    #[error("malformed request line {0:?}")]
    BadRequestLine(String),
    #[error("malformed status line {0:?}")]
    BadStatusLine(String),
    #[error("malformed header line {0:?}")]
    BadHeader(String),
    #[error("unsupported HTTP version {0:?}")]
    BadVersion(String),
}

impl HeadError {
    /// The status a server should answer with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::LineTooLong { .. }
            | HeadError::TooManyHeaders { .. }
            | HeadError::HeadTooLarge { .. } => 413,
            HeadError::BadVersion(_) => 505,
            _ => 400,
        }
    }
}

/// Outcome of feeding a buffer to an incremental head parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The head is not complete yet: read more bytes and call again with the whole buffer.
    Incomplete,
    /// The head is complete; it used the first `consumed` bytes of the buffer (a body or
    /// the next pipelined request follows).
    Done { consumed: usize, head: T },
}

/// HTTP version of a head; Gnutella peers speak 1.1, some old ones 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    fn parse(s: &str) -> Result<Version, HeadError> {
        match s {
            "HTTP/1.1" => Ok(Version::Http11),
            "HTTP/1.0" => Ok(Version::Http10),
            other => Err(HeadError::BadVersion(truncate_for_error(other))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// Header fields in arrival order; names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (X-Alt, for one, may come on several lines).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times `name` appears.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }
}

/// Request method. Only GET and HEAD are served; others get `501`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Other(String),
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The request target exactly as sent (still percent-encoded).
    pub target: String,
    pub version: Version,
    pub headers: Headers,
}

impl RequestHead {
    /// Whether the peer wants the connection kept open after this response.
    pub fn keep_alive(&self) -> bool {
        wants_keep_alive(self.version, &self.headers)
    }

    /// Formats the head for the wire (what our downloader sends).
    pub fn encode(&self) -> Vec<u8> {
        let method = match &self.method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Other(m) => m.as_str(),
        };
        let mut out = format!("{method} {} {}\r\n", self.target, self.version.as_str());
        for (name, value) in &self.headers.0 {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// A parsed or to-be-sent response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

impl ResponseHead {
    /// An HTTP/1.1 response with the standard reason phrase for `status`.
    pub fn new(status: u16) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: reason_phrase(status).to_string(),
            headers: Headers::default(),
        }
    }

    /// Adds a header (builder style).
    pub fn with(mut self, name: &str, value: impl fmt::Display) -> ResponseHead {
        self.headers.push(name, value.to_string());
        self
    }

    /// Formats the head for the wire: status line, headers, empty line, all CRLF.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} {}\r\n",
            self.version.as_str(),
            self.status,
            self.reason
        );
        for (name, value) in &self.headers.0 {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// `Content-Length`, if present and a plain decimal number.
    pub fn content_length(&self) -> Option<u64> {
        self.headers.get("Content-Length").and_then(parse_decimal)
    }

    /// `Content-Range`, if present and well-formed.
    pub fn content_range(&self) -> Option<ContentRange> {
        self.headers
            .get("Content-Range")
            .and_then(ContentRange::parse)
    }

    /// Whether the server will keep the connection open after the body.
    pub fn keep_alive(&self) -> bool {
        wants_keep_alive(self.version, &self.headers)
    }
}

fn wants_keep_alive(version: Version, headers: &Headers) -> bool {
    let tokens = |t: &str| {
        headers
            .get_all("Connection")
            .any(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(t)))
    };
    match version {
        Version::Http11 => !tokens("close"),
        Version::Http10 => tokens("keep-alive"),
    }
}

/// The standard reason phrase for the statuses we send.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        416 => "Requested Range Not Satisfiable",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Parses a request head off the front of `buf` (which may hold more bytes after it).
pub fn parse_request_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<RequestHead>, HeadError> {
    let (consumed, lines) = match split_head(buf, limits)? {
        Some(found) => found,
        None => return Ok(Parsed::Incomplete),
    };
    let mut lines = lines.into_iter();
    let first = lines.next().unwrap_or_default();
    let bad = || HeadError::BadRequestLine(truncate_for_error(&String::from_utf8_lossy(first)));
    let text = std::str::from_utf8(first).map_err(|_| bad())?;
    // Method is the first word and version the last; everything between is the target,
    // spaces included: LimeWire's downloader sends `/get/<index>/<name>` names raw
    // (PROTOCOL.md §5.1), so "GET /get/2/my song.mp3 HTTP/1.1" is one request.
    let text = text.trim_matches([' ', '\t']);
    let (method, rest) = text.split_once([' ', '\t']).ok_or_else(bad)?;
    let (target, version) = rest.rsplit_once([' ', '\t']).ok_or_else(bad)?;
    let target = target.trim_matches([' ', '\t']);
    if method.is_empty()
        || !method.bytes().all(is_token_byte)
        || target.is_empty()
        || target.bytes().any(|b| b.is_ascii_control())
        || !version.starts_with("HTTP/")
    {
        return Err(bad());
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_string()),
    };
    let version = Version::parse(version)?;
    let headers = parse_header_lines(lines)?;
    Ok(Parsed::Done {
        consumed,
        head: RequestHead {
            method,
            target: target.to_string(),
            version,
            headers,
        },
    })
}

/// Parses a response head off the front of `buf`.
pub fn parse_response_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Parsed<ResponseHead>, HeadError> {
    let (consumed, lines) = match split_head(buf, limits)? {
        Some(found) => found,
        None => return Ok(Parsed::Incomplete),
    };
    let mut lines = lines.into_iter();
    let first = lines.next().unwrap_or_default();
    let text = String::from_utf8_lossy(first);
    let bad = || HeadError::BadStatusLine(truncate_for_error(&text));
    let mut parts = text.splitn(3, ' ');
    let version = Version::parse(parts.next().unwrap_or_default())?;
    let status = parts.next().ok_or_else(bad)?;
    if status.len() != 3 || !status.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status: u16 = status.parse().map_err(|_| bad())?;
    let reason = parts.next().unwrap_or_default().trim().to_string();
    let headers = parse_header_lines(lines)?;
    Ok(Parsed::Done {
        consumed,
        head: ResponseHead {
            version,
            status,
            reason,
            headers,
        },
    })
}

/// Bytes consumed by a complete head, and its lines.
type HeadLines<'a> = (usize, Vec<&'a [u8]>);

/// Finds the end of a head. Returns the bytes consumed and the head's lines (terminators
/// stripped, the empty line excluded), or `None` if more bytes are needed.
fn split_head<'a>(buf: &'a [u8], limits: &HeadLimits) -> Result<Option<HeadLines<'a>>, HeadError> {
    let mut lines = Vec::new();
    let mut start = 0;
    // Leading empty lines before a request are tolerated (RFC 7230 §3.5), e.g. a stray
    // CRLF after a previous body.
    let mut seen_content = false;
    loop {
        let rest = buf.get(start..).unwrap_or_default();
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > limits.max_line {
                return Err(HeadError::LineTooLong {
                    max: limits.max_line,
                });
            }
            if buf.len() > limits.max_head {
                return Err(HeadError::HeadTooLarge {
                    max: limits.max_head,
                });
            }
            return Ok(None);
        };
        let mut line = rest.get(..newline).unwrap_or_default();
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        let end = start + newline + 1;
        if line.len() > limits.max_line {
            return Err(HeadError::LineTooLong {
                max: limits.max_line,
            });
        }
        if end > limits.max_head {
            return Err(HeadError::HeadTooLarge {
                max: limits.max_head,
            });
        }
        start = end;
        if line.is_empty() {
            if seen_content {
                return Ok(Some((end, lines)));
            }
            continue;
        }
        seen_content = true;
        lines.push(line);
        // The first line is the request/status line, not a header.
        if lines.len() > limits.max_headers + 1 {
            return Err(HeadError::TooManyHeaders {
                max: limits.max_headers,
            });
        }
    }
}

fn parse_header_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Result<Headers, HeadError> {
    let mut headers = Headers::default();
    for raw in lines {
        // Header values may be Latin-1 from old servents: decode lossily, never fail on it.
        let line = String::from_utf8_lossy(raw);
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = headers.0.last_mut() else {
                return Err(HeadError::BadHeader(truncate_for_error(&line)));
            };
            value.push(' ');
            value.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HeadError::BadHeader(truncate_for_error(&line)));
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HeadError::BadHeader(truncate_for_error(&line)));
        }
        headers.push(name, value.trim());
    }
    Ok(headers)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn truncate_for_error(s: &str) -> String {
    s.chars().take(80).collect()
}

fn parse_decimal(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/uri-res/N2R?urn:sha1:<base32>` (also `urn:bitprint:`): the file with this content.
    UriRes(Sha1),
    /// `/get/<index>/<name>`: the file at `index`, which must be named `name`.
    Get { index: u32, name: String },
}

/// Why a request target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a path we serve (answered `404`).
    #[error("no such resource")]
    NotFound,
    /// A malformed or hostile target (answered `400`).
    #[error("malformed request target: {0}")]
    Malformed(&'static str),
}

impl TargetError {
    pub fn status(&self) -> u16 {
        match self {
            TargetError::NotFound => 404,
            TargetError::Malformed(_) => 400,
        }
    }
}

impl Target {
    /// Parses a request target as sent.
    pub fn parse(raw: &str) -> Result<Target, TargetError> {
        if !raw.starts_with('/') {
            return Err(TargetError::Malformed("target is not an absolute path"));
        }
        if let Some(rest) = strip_prefix_ignore_case(raw, "/uri-res/N2R?") {
            let urn = percent_decode(rest).ok_or(TargetError::Malformed("bad percent-encoding"))?;
            let urn =
                String::from_utf8(urn).map_err(|_| TargetError::Malformed("URN is not UTF-8"))?;
            return Sha1::from_urn(urn.trim())
                .map(Target::UriRes)
                .ok_or(TargetError::Malformed("not a SHA-1 URN"));
        }
        if let Some(rest) = raw.strip_prefix("/get/") {
            let (index, raw_name) = rest
                .split_once('/')
                .ok_or(TargetError::Malformed("missing file name"))?;
            if index.is_empty() || index.len() > 10 || !index.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TargetError::Malformed("bad file index"));
            }
            let index: u32 = index
                .parse()
                .map_err(|_| TargetError::Malformed("bad file index"))?;
            // GTKG rejects anything after the name: a raw '/' here is a path, not a name.
            if raw_name.contains('/') {
                return Err(TargetError::Malformed("extra '/' after the file name"));
            }
            let name =
                percent_decode(raw_name).ok_or(TargetError::Malformed("bad percent-encoding"))?;
            let name =
                String::from_utf8(name).map_err(|_| TargetError::Malformed("name is not UTF-8"))?;
            if !is_safe_file_name(&name) {
                return Err(TargetError::Malformed("unsafe file name"));
            }
            return Ok(Target::Get { index, name });
        }
        Err(TargetError::NotFound)
    }

    /// The target as our downloader sends it (names percent-encoded).
    pub fn to_request_target(&self) -> String {
        match self {
            Target::UriRes(sha1) => format!("/uri-res/N2R?{}", sha1.to_urn()),
            Target::Get { index, name } => format!("/get/{index}/{}", percent_encode(name)),
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Whether `name` is a plain file name: not empty, not `.`/`..`, no path separator (`/`
/// or `\\`), no NUL or control character. On Windows also no `:` (a drive letter or an
/// alternate data stream) and no reserved device name (`CON`, `NUL`...); on Unix those are
/// ordinary names, and real hits carry them ("Live: 2003.mp3"), so they are shared,
/// served and downloaded there. The share and the server apply it to `/get/` names, the
/// downloader to the name it writes to disk.
pub fn is_safe_file_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 || name == "." || name == ".." {
        return false;
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return false;
    }
    if name.contains("..") && (name.starts_with("..") || name.ends_with("..")) {
        return false;
    }
    if cfg!(windows) {
        !is_windows_special_name(name)
    } else {
        true
    }
}

/// Names Windows gives a meaning beyond a plain file: `C:foo` is relative to drive C,
/// `a:b` names a data stream, and the device names open devices whatever the extension.
fn is_windows_special_name(name: &str) -> bool {
    if name.contains(':') {
        return true;
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix)
            .is_some_and(|n| n.len() == 1 && n.bytes().all(|b| (b'1'..=b'9').contains(&b)))
    };
    RESERVED.contains(&stem.as_str()) || numbered("COM") || numbered("LPT")
}

/// Longest name [`sanitize_file_name`] returns, in bytes: room is left for the
/// downloader's `.<name>.part` temporary within the usual 255-byte limit.
pub const MAX_SANITIZED_NAME: usize = 240;

/// Turns a file name from the network into one that [`is_safe_file_name`] accepts, for
/// saving a hit whose name is not a plain file name: path separators and control
/// characters (NUL included; on Windows also `:`) become `_`, a leading or trailing `..`
/// loses a dot to `_`, a Windows device name gets a `_` prefix, and an overlong name is
/// cut at a character boundary. `None` only for what has no safe form: an empty name or
/// one made only of dots (`.`, `..`, `...`).
pub fn sanitize_file_name(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().all(|c| c == '.') {
        return None;
    }
    let unsafe_char =
        |c: char| c == '/' || c == '\\' || c.is_control() || (cfg!(windows) && c == ':');
    let mut out: String = name
        .chars()
        .map(|c| if unsafe_char(c) { '_' } else { c })
        .collect();
    if out.len() > MAX_SANITIZED_NAME {
        let mut cut = MAX_SANITIZED_NAME;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    if out.starts_with("..") {
        out.replace_range(..1, "_");
    }
    if out.ends_with("..") {
        let last = out.len() - 1;
        out.replace_range(last.., "_");
    }
    if cfg!(windows) && is_windows_special_name(&out) {
        out.insert(0, '_');
    }
    is_safe_file_name(&out).then_some(out)
}

/// Decodes `%XX` escapes; `None` on a truncated or non-hex escape. `+` stays `+`: this is
/// a path, not a form.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Encodes everything but unreserved characters (RFC 3986 §2.3).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One byte range as written in a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRangeSpec {
    /// `bytes=a-b` (both inclusive).
    FromTo(u64, u64),
    /// `bytes=a-`: from `a` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// A parsed `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    Single(ByteRangeSpec),
    /// Several ranges: we do not serve multipart/byteranges (see the module doc).
    Multiple,
    /// A range unit other than `bytes` (`items=0-3`): RFC 9110 §14.2 says a server MUST
    /// ignore such a header and serve the whole representation (`200`).
    OtherUnit,
}

/// A malformed `Range` header (answered `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Range header {0:?}")]
pub struct RangeError(pub String);

/// A resolved range inside a file: `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Parses a `Range` header value.
pub fn parse_range(value: &str) -> Result<RangeRequest, RangeError> {
    let bad = || RangeError(truncate_for_error(value));
    let value = value.trim();
    // GTKG and LimeWire accept "bytes=" and, from old clients, "bytes " too.
    let Some(set) = strip_prefix_ignore_case(value, "bytes=")
        .or_else(|| strip_prefix_ignore_case(value, "bytes "))
    else {
        // Another well-formed unit is ignored (RFC 9110 §14.2); no unit at all is malformed.
        let unit = value.split(['=', ' ', '\t']).next().unwrap_or_default();
        let has_set = value.len() > unit.len();
        if has_set
            && !unit.is_empty()
            && !unit.eq_ignore_ascii_case("bytes")
            && unit.bytes().all(is_token_byte)
        {
            return Ok(RangeRequest::OtherUnit);
        }
        return Err(bad());
    };
    let specs: Vec<&str> = set
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let spec = match specs.as_slice() {
        [one] => *one,
        [] => return Err(bad()),
        many => {
            for s in many {
                parse_spec(s).ok_or_else(bad)?;
            }
            return Ok(RangeRequest::Multiple);
        }
    };
    parse_spec(spec).map(RangeRequest::Single).ok_or_else(bad)
}

fn parse_spec(spec: &str) -> Option<ByteRangeSpec> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (true, false) => Some(ByteRangeSpec::Suffix(parse_decimal(last)?)),
        (false, true) => Some(ByteRangeSpec::From(parse_decimal(first)?)),
        (false, false) => {
            let (a, b) = (parse_decimal(first)?, parse_decimal(last)?);
            (a <= b).then_some(ByteRangeSpec::FromTo(a, b))
        }
        (true, true) => None,
    }
}

impl ByteRangeSpec {
    /// The bytes of a `size`-byte file this spec selects, or `None` if unsatisfiable
    /// (answered `416` with `Content-Range: bytes */<size>`). An end past the file is
    /// clipped to its last byte, as RFC 7233 §2.1 says.
    pub fn resolve(&self, size: u64) -> Option<ByteRange> {
        if size == 0 {
            return None;
        }
        let last = size - 1;
        match *self {
            ByteRangeSpec::FromTo(a, b) => (a <= last).then(|| ByteRange {
                start: a,
                end: b.min(last),
            }),
            ByteRangeSpec::From(a) => (a <= last).then_some(ByteRange {
                start: a,
                end: last,
            }),
            ByteRangeSpec::Suffix(0) => None,
            ByteRangeSpec::Suffix(n) => Some(ByteRange {
                start: size.saturating_sub(n),
                end: last,
            }),
        }
    }

    /// The header value for a request (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
    pub fn to_header_value(&self) -> String {
        match *self {
            ByteRangeSpec::FromTo(a, b) => format!("bytes={a}-{b}"),
            ByteRangeSpec::From(a) => format!("bytes={a}-"),
            ByteRangeSpec::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

/// A `Content-Range` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes a-b/total` (`total` is `None` for `*`).
    Bytes {
        range: ByteRange,
        total: Option<u64>,
    },
    /// `bytes */total`: the answer to an unsatisfiable range.
    Unsatisfied { total: u64 },
}

impl ContentRange {
    pub fn parse(value: &str) -> Option<ContentRange> {
        let value = value.trim();
        let rest = strip_prefix_ignore_case(value, "bytes")?;
        // "bytes=a-b/t" is seen from old servents as well as the standard "bytes a-b/t".
        let rest = rest.strip_prefix([' ', '=']).unwrap_or(rest).trim();
        let (range, total) = rest.split_once('/')?;
        let total = match total.trim() {
            "*" => None,
            t => Some(parse_decimal(t)?),
        };
        if range.trim() == "*" {
            return total.map(|total| ContentRange::Unsatisfied { total });
        }
        let (a, b) = range.split_once('-')?;
        let (start, end) = (parse_decimal(a)?, parse_decimal(b)?);
        if start > end || total.is_some_and(|t| end >= t) {
            return None;
        }
        Some(ContentRange::Bytes {
            range: ByteRange { start, end },
            total,
        })
    }
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentRange::Bytes {
                range,
                total: Some(t),
            } => write!(f, "bytes {}-{}/{t}", range.start, range.end),
            ContentRange::Bytes { range, total: None } => {
                write!(f, "bytes {}-{}/*", range.start, range.end)
            }
            ContentRange::Unsatisfied { total } => write!(f, "bytes */{total}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Parsed<RequestHead>, HeadError> {
        parse_request_head(text.as_bytes(), &HeadLimits::default())
    }

    #[test]
    fn parses_a_limewire_style_request_with_crlf() {
        let text = "GET /uri-res/N2R?urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB HTTP/1.1\r\n\
                    Host: 1.2.3.4:6346\r\nRange: bytes=0-1048575\r\nConnection: Keep-Alive\r\n\r\nrest";
        let Ok(Parsed::Done { consumed, head }) = req(text) else {
            panic!("not parsed")
        };
        assert_eq!(&text[consumed..], "rest");
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.headers.get("range"), Some("bytes=0-1048575"));
        assert!(head.keep_alive());
        let sha1 = Sha1::from_base32("PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB").unwrap();
        assert_eq!(Target::parse(&head.target), Ok(Target::UriRes(sha1)));
    }

    #[test]
    fn accepts_bare_lf_and_is_incremental() {
        let text = b"HEAD /get/2/a%20b.mp3 HTTP/1.0\nUser-Agent: x\n\n";
        for cut in 0..text.len() {
            assert_eq!(
                parse_request_head(&text[..cut], &HeadLimits::default()),
                Ok(Parsed::Incomplete)
            );
        }
        let Ok(Parsed::Done { consumed, head }) = parse_request_head(text, &HeadLimits::default())
        else {
            panic!("not parsed")
        };
        assert_eq!(consumed, text.len());
        assert_eq!(head.method, Method::Head);
        assert!(!head.keep_alive());
        assert_eq!(
            Target::parse(&head.target),
            Ok(Target::Get {
                index: 2,
                name: "a b.mp3".into()
            })
        );
    }

    #[test]
    fn a_raw_name_with_spaces_is_one_target() {
        let Ok(Parsed::Done { head, .. }) = req("GET /get/2/Live: 2003  mix.mp3 HTTP/1.1\r\n\r\n")
        else {
            panic!("not parsed")
        };
        assert_eq!(head.target, "/get/2/Live: 2003  mix.mp3");
        assert_eq!(head.version, Version::Http11);
        assert!(matches!(
            req("GET / HTTP/1.1 extra\r\n\r\n"),
            Err(HeadError::BadRequestLine(_))
        ));
        assert!(matches!(
            req("GET  HTTP/1.1\r\n\r\n"),
            Err(HeadError::BadRequestLine(_))
        ));
    }

    #[test]
    fn enforces_limits() {
        let limits = HeadLimits {
            max_line: 32,
            max_headers: 2,
            max_head: 100,
        };
        let long = format!("GET /{} HTTP/1.1", "a".repeat(40));
        assert_eq!(
            parse_request_head(long.as_bytes(), &limits),
            Err(HeadError::LineTooLong { max: 32 })
        );
        let many = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            parse_request_head(many.as_bytes(), &limits),
            Err(HeadError::TooManyHeaders { max: 2 })
        );
        let big = "GET / HTTP/1.1\r\n".to_string() + &"X: 1234567890123\r\n".repeat(10);
        let err = parse_request_head(
            big.as_bytes(),
            &HeadLimits {
                max_headers: 100,
                ..limits
            },
        );
        assert_eq!(err, Err(HeadError::HeadTooLarge { max: 100 }));
    }

    #[test]
    fn refuses_malformed_heads() {
        assert!(matches!(
            req("GET /\r\n\r\n"),
            Err(HeadError::BadRequestLine(_))
        ));
        assert!(matches!(
            req("GET / HTTP/2.0\r\n\r\n"),
            Err(HeadError::BadVersion(_))
        ));
        assert!(matches!(
            req("GET / HTTP/1.1\r\nno colon\r\n\r\n"),
            Err(HeadError::BadHeader(_))
        ));
        assert!(matches!(
            req("GET / HTTP/1.1\r\n bad fold\r\n\r\n"),
            Err(HeadError::BadHeader(_))
        ));
        assert!(matches!(
            req("G\u{1}T / HTTP/1.1\r\n\r\n"),
            Err(HeadError::BadRequestLine(_))
        ));
    }

    #[test]
    fn folded_header_continues_value() {
        let Ok(Parsed::Done { head, .. }) =
            req("GET / HTTP/1.1\r\nX-Alt: 1.2.3.4\r\n  5.6.7.8\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(head.headers.get("x-alt"), Some("1.2.3.4 5.6.7.8"));
    }

    #[test]
    fn get_targets() {
        assert_eq!(
            Target::parse("/get/7/raw name.txt"),
            Ok(Target::Get {
                index: 7,
                name: "raw name.txt".into()
            })
        );
        assert!(matches!(
            Target::parse("/get/7/name/"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/0/../../etc/passwd"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/0/%2e%2e%2fetc%2fpasswd"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/0/.."),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/0/a%00b"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/x/a"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/99999999999/a"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/get/1/a%zz"),
            Err(TargetError::Malformed(_))
        ));
        assert_eq!(Target::parse("/etc/passwd"), Err(TargetError::NotFound));
        assert!(matches!(
            Target::parse("etc/passwd"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("/uri-res/N2R?urn:sha1:nope"),
            Err(TargetError::Malformed(_))
        ));
        let t = Target::Get {
            index: 3,
            name: "a b+c.txt".into(),
        };
        assert_eq!(t.to_request_target(), "/get/3/a%20b%2Bc.txt");
        assert_eq!(Target::parse(&t.to_request_target()), Ok(t));
    }

    #[test]
    fn ranges() {
        use ByteRangeSpec::*;
        assert_eq!(
            parse_range("bytes=0-99"),
            Ok(RangeRequest::Single(FromTo(0, 99)))
        );
        assert_eq!(
            parse_range("bytes=100-"),
            Ok(RangeRequest::Single(From(100)))
        );
        assert_eq!(parse_range("bytes=-5"), Ok(RangeRequest::Single(Suffix(5))));
        assert_eq!(parse_range("bytes=0-1,5-6"), Ok(RangeRequest::Multiple));
        for other_unit in ["items=0-3", "Pages=1", "none=", "x-chunks 2-5"] {
            assert_eq!(
                parse_range(other_unit),
                Ok(RangeRequest::OtherUnit),
                "{other_unit}"
            );
        }
        for bad in [
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=",
            "bytes",
            "=0-1",
            "0-1",
            "bytes=0-1,x",
        ] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
        assert_eq!(
            FromTo(0, 99).resolve(10),
            Some(ByteRange { start: 0, end: 9 })
        );
        assert_eq!(From(10).resolve(10), None);
        assert_eq!(Suffix(50).resolve(10), Some(ByteRange { start: 0, end: 9 }));
        assert_eq!(Suffix(0).resolve(10), None);
        assert_eq!(From(0).resolve(0), None);
    }

    #[test]
    fn responses_round_trip() {
        let range = ContentRange::Bytes {
            range: ByteRange { start: 5, end: 9 },
            total: Some(10),
        };
        let head = ResponseHead::new(206)
            .with("Content-Length", 5)
            .with("Content-Range", range);
        let bytes = head.encode();
        assert!(bytes.starts_with(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n"));
        let Ok(Parsed::Done {
            consumed,
            head: parsed,
        }) = parse_response_head(&bytes, &HeadLimits::default())
        else {
            panic!()
        };
        assert_eq!(consumed, bytes.len());
        assert_eq!(parsed, head);
        assert_eq!(parsed.content_length(), Some(5));
        assert_eq!(parsed.content_range(), Some(range));
        assert_eq!(
            ContentRange::parse("bytes */10"),
            Some(ContentRange::Unsatisfied { total: 10 })
        );
        assert_eq!(ContentRange::parse("bytes 9-5/10"), None);
        assert_eq!(ContentRange::parse("bytes 0-10/10"), None);
    }

    #[test]
    fn unsafe_names() {
        for bad in [
            "", ".", "..", "a/b", "a\\b", "..\\x", "a\0b", "a\nb", "../x", "x/..", "a\u{7f}b",
        ] {
            assert!(!is_safe_file_name(bad), "{bad:?}");
        }
        for good in ["a.mp3", "debian-12.iso", "été.txt", "a..b.txt", ".hidden"] {
            assert!(is_safe_file_name(good), "{good:?}");
        }
        // Windows-only meanings: refused there, plain names elsewhere.
        for windows_special in [
            "C:x",
            "Live: 2003.mp3",
            "CON",
            "nul.txt",
            "com7.log",
            "LPT1",
        ] {
            assert_eq!(
                is_safe_file_name(windows_special),
                !cfg!(windows),
                "{windows_special:?}"
            );
        }
        assert!(is_safe_file_name("COM10.txt") && is_safe_file_name("console.txt"));
    }

    #[test]
    fn colon_names_are_served_by_get_on_unix() {
        let parsed = Target::parse("/get/4/odd%3A%20name.txt");
        if cfg!(windows) {
            assert!(matches!(parsed, Err(TargetError::Malformed(_))));
        } else {
            assert_eq!(
                parsed,
                Ok(Target::Get {
                    index: 4,
                    name: "odd: name.txt".into()
                })
            );
        }
    }

    #[test]
    fn sanitizing_makes_network_names_safe() {
        let cases = [
            ("a.mp3", "a.mp3"),
            ("../../etc/passwd", "_._.._etc_passwd"),
            ("dir/sub\\file.txt", "dir_sub_file.txt"),
            ("a\0b\nc\td\u{7f}", "a_b_c_d_"),
            ("..hidden", "_.hidden"),
            ("trail..", "trail._"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize_file_name(raw).as_deref(), Some(want), "{raw:?}");
        }
        let colon = sanitize_file_name("Live: 2003.mp3");
        let want = if cfg!(windows) {
            "Live_ 2003.mp3"
        } else {
            "Live: 2003.mp3"
        };
        assert_eq!(colon.as_deref(), Some(want));
        for hopeless in ["", ".", "..", "...."] {
            assert_eq!(sanitize_file_name(hopeless), None, "{hopeless:?}");
        }
        let long = "é".repeat(200);
        let cut = sanitize_file_name(&long).unwrap_or_default();
        assert!(cut.len() <= MAX_SANITIZED_NAME && cut.chars().all(|c| c == 'é'));
        for raw in ["/", "\\\\", "a/..", "\u{1}", "CON", "x:y", "../a/../b"] {
            let clean = sanitize_file_name(raw).unwrap_or_default();
            assert!(is_safe_file_name(&clean), "{raw:?} -> {clean:?}");
        }
    }
}
