//! The control API over HTTP/JSON on loopback (`launch --control 127.0.0.1:PORT`).
//!
//! | request | answer |
//! |---|---|
//! | `GET /peers` | `[{"id", "address", "up", "degree", "neighbours"}, ...]` |
//! | `POST /peers/{id}/kill` | `{"id", "up": false}`: Bye to its neighbours, links and listener closed |
//! | `POST /peers/{id}/revive` | `{"id", "up": true}`: the same peer again, on the same address |
//! | `POST /search` `{"from", "words", "ttl"}` | the query's record, once the network is quiet |
//! | `GET /report` | the report so far, as `--report` writes it |
//!
//! Errors are JSON too, `{"error": "..."}`: `404` for an unknown peer or path, `400` for a
//! bad body (the TTL and word checks of the command line), `405` for a wrong method,
//! `409` for a peer in the wrong state, `503` while the launch is not taking calls.
//!
//! The server has no authentication, so it listens on loopback only ([`check_loopback`]),
//! and it is bounded like the peers' own HTTP server: the same head parser
//! (`protocol::http`) with tighter limits, a small body, a deadline for the whole request,
//! a few connections at a time (more get `503` and are closed), and one request per
//! connection (`Connection: close`).
//!
//! With a live page (`launch --ui`, [`ControlServer::start_with_ui`]) the same server also
//! answers `GET /` with the page and `GET /events` with a server-sent event stream
//! (`text/event-stream`) of the network's flood rows (`live_feed`): one `data:` line of
//! JSON per batch, a comment line every few seconds to keep it open. A stream holds no
//! request place; at most [`MAX_STREAMS`] are open at once, and one ends when its page
//! closes. Server-sent events need no library on either side and pass wherever HTTP does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::{timeout, timeout_at, Instant};

use super::control::{Call, Controller, SearchCall};
use super::live_feed::UiPage;
use crate::protocol::http::{
    parse_request_head, percent_decode, HeadLimits, Method, Parsed, RequestHead, ResponseHead,
};

/// Connections served at once; more are answered `503` and closed.
pub const MAX_CONNECTIONS: usize = 4;
/// Largest request body (a search is a few dozen bytes).
pub const MAX_BODY: usize = 16 * 1024;
/// Event streams open at once (live pages); more get `503`.
pub const MAX_STREAMS: usize = 4;
/// A comment line this often keeps an idle event stream open.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// Lines sent to a page in one event at most.
const BATCH: usize = 2_000;
/// Time a client has to send its whole request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a write may stall.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Head limits: a control request has a short line and a few headers.
const LIMITS: HeadLimits = HeadLimits {
    max_line: 2048,
    max_headers: 32,
    max_head: 8 * 1024,
};

/// What the API serves, for 404 answers.
const ROUTES: &str = "GET /peers, POST /peers/{id}/kill, POST /peers/{id}/revive, \
                      POST /search, GET /report";

/// Why the control server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ControlBindError {
    #[error(
        "the control API has no authentication, so it listens on loopback only \
         (127.0.0.0/8 or ::1), not on {0}"
    )]
    NotLoopback(SocketAddr),
    #[error("--control {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Refuses an address that other machines could reach.
pub fn check_loopback(addr: SocketAddr) -> Result<SocketAddr, ControlBindError> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(ControlBindError::NotLoopback(addr))
    }
}

/// A clap value parser for `--control`: a loopback `IP:PORT` (port 0: any free port).
pub fn parse_control_addr(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not IP:PORT (e.g. 127.0.0.1:6380)"))?;
    check_loopback(addr).map_err(|e| e.to_string())
}

/// A running control server.
pub struct ControlServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ControlServer {
    /// Listens on `addr` (loopback only) and answers through `controller`.
    pub async fn start(
        addr: SocketAddr,
        controller: Controller,
    ) -> Result<ControlServer, ControlBindError> {
        let addr = check_loopback(addr)?;
        let bind_error = |source| ControlBindError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let task = tokio::spawn(accept_loop(listener, controller, None));
        Ok(ControlServer { addr, task })
    }

    /// [`ControlServer::start`], also serving the live page `ui` (`GET /`, `GET /events`).
    pub async fn start_with_ui(
        addr: SocketAddr,
        controller: Controller,
        ui: Option<Arc<UiPage>>,
    ) -> Result<ControlServer, ControlBindError> {
        let addr = check_loopback(addr)?;
        let bind_error = |source| ControlBindError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let task = tokio::spawn(accept_loop(listener, controller, ui));
        Ok(ControlServer { addr, task })
    }

    /// The address it listens on (the real port when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a user types: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, controller: Controller, ui: Option<Arc<UiPage>>) {
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let streams = Arc::new(Semaphore::new(MAX_STREAMS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, typically: wait a little rather than spin.
                log::warn!("control API: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            // Best effort and without waiting: a small answer fits the socket's buffer.
            let busy = response(
                503,
                &json!({ "error": format!("{MAX_CONNECTIONS} requests are being served; try again shortly") }),
                None,
            );
            let _ = stream.try_write(&busy);
            continue;
        };
        let controller = controller.clone();
        let ui = ui.clone();
        let streams = streams.clone();
        tokio::spawn(async move {
            serve_one(stream, &controller, ui.as_deref(), place, &streams).await;
        });
    }
}

/// Reads one request, answers it and closes.
async fn serve_one(
    mut stream: TcpStream,
    controller: &Controller,
    ui: Option<&UiPage>,
    place: tokio::sync::OwnedSemaphorePermit,
    streams: &Arc<Semaphore>,
) {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let request = read_request(&mut stream, deadline).await;
    if let (Ok((head, _)), Some(ui)) = (&request, ui) {
        match ui_route(head) {
            Some(UiRoute::Page) => {
                let mut bytes = ResponseHead::new(200)
                    .with("Content-Type", "text/html; charset=utf-8")
                    .with("Content-Length", ui.html.len())
                    .with("Cache-Control", "no-store")
                    .with("Connection", "close")
                    .encode();
                bytes.extend_from_slice(ui.html.as_bytes());
                let _ = timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
                let _ = timeout(WRITE_TIMEOUT, stream.shutdown()).await;
                return;
            }
            Some(UiRoute::Icon) => {
                let bytes = ResponseHead::new(204)
                    .with("Cache-Control", "max-age=86400")
                    .with("Connection", "close")
                    .encode();
                let _ = timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
                let _ = timeout(WRITE_TIMEOUT, stream.shutdown()).await;
                return;
            }
            Some(UiRoute::Events) => {
                drop(place);
                match streams.clone().try_acquire_owned() {
                    Ok(slot) => {
                        stream_events(stream, ui).await;
                        drop(slot);
                    }
                    Err(_) => {
                        let busy = response(
                            503,
                            &error_json(&format!(
                                "{MAX_STREAMS} event streams are open; close a page"
                            )),
                            None,
                        );
                        let _ = timeout(WRITE_TIMEOUT, stream.write_all(&busy)).await;
                    }
                }
                return;
            }
            None => {}
        }
    }
    let (status, body, allow) = match request {
        Ok((head, body)) => match route(&head, &body) {
            Ok(call) => match controller.call(call).await {
                Ok(value) => (200, value, None),
                Err(e) => (e.status(), error_json(&e.to_string()), None),
            },
            Err(refusal) => (refusal.status, error_json(&refusal.message), refusal.allow),
        },
        Err(refusal) => (refusal.status, error_json(&refusal.message), None),
    };
    let bytes = response(status, &body, allow);
    let _ = timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
    if status >= 400 {
        // The client may still be sending (a body we did not read): let it see the answer
        // instead of a reset.
        linger_close(&mut stream).await;
    } else {
        let _ = timeout(WRITE_TIMEOUT, stream.shutdown()).await;
    }
    drop(place);
}

/// What a live page asks for besides the control calls.
#[derive(Debug, PartialEq, Eq)]
enum UiRoute {
    Page,
    Events,
    /// What a browser asks of any site: nothing to give (`204`), no error in its console.
    Icon,
}

fn ui_route(head: &RequestHead) -> Option<UiRoute> {
    if !matches!(head.method, Method::Get) {
        return None;
    }
    let path = head.target.split(['?', '#']).next().unwrap_or_default();
    match path {
        "/" | "/index.html" => Some(UiRoute::Page),
        "/events" => Some(UiRoute::Events),
        "/favicon.ico" => Some(UiRoute::Icon),
        _ => None,
    }
}

/// Streams the feed's rows to one page until it goes away.
async fn stream_events(mut stream: TcpStream, ui: &UiPage) {
    let head = ResponseHead::new(200)
        .with("Content-Type", "text/event-stream")
        .with("Cache-Control", "no-store")
        .with("Connection", "close")
        .encode();
    let (mut reader, mut writer) = stream.split();
    if !matches!(
        timeout(WRITE_TIMEOUT, writer.write_all(&head)).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let (history, mut rx) = ui.feed.subscribe();
    let mut encoder = (ui.encoder)();
    // The floods so far first, in batches; then each new batch as it comes.
    let mut pending: Vec<Arc<crate::trace::TraceLine>> = history;
    let mut sink = [0u8; 512];
    loop {
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(BATCH));
            let message = encoder.encode(&pending);
            pending = rest;
            let mut text = String::from("data: ");
            text.push_str(&serde_json::to_string(&message).unwrap_or_default());
            text.push_str("\n\n");
            if !matches!(
                timeout(WRITE_TIMEOUT, writer.write_all(text.as_bytes())).await,
                Ok(Ok(()))
            ) {
                return;
            }
        }
        let note: Option<String> = tokio::select! {
            line = rx.recv() => match line {
                Ok(line) => {
                    pending.push(line);
                    while pending.len() < BATCH {
                        match rx.try_recv() {
                            Ok(line) => pending.push(line),
                            Err(_) => break,
                        }
                    }
                    None
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    Some(format!("event: lagged\ndata: {n}\n\n"))
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(KEEPALIVE) => Some(": keep-alive\n\n".to_string()),
            // The page went away (closed, reloaded): nothing to read but the end.
            read = reader.read(&mut sink) => match read {
                Ok(n) if n > 0 => None,
                _ => return,
            },
        };
        if let Some(note) = note {
            if !matches!(
                timeout(WRITE_TIMEOUT, writer.write_all(note.as_bytes())).await,
                Ok(Ok(()))
            ) {
                return;
            }
        }
    }
}

/// A request refused before it reached the launch.
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    status: u16,
    message: String,
    /// The methods the path takes (a `405` says them in `Allow`).
    allow: Option<&'static str>,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
        allow: None,
    }
}

/// Reads a request head and its body (by `Content-Length`), all before `deadline`.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
) -> Result<(RequestHead, Vec<u8>), Refusal> {
    let mut buf = BytesMut::with_capacity(1024);
    let head = loop {
        match parse_request_head(&buf, &LIMITS) {
            Ok(Parsed::Done { consumed, head }) => {
                buf.advance(consumed);
                break head;
            }
            Ok(Parsed::Incomplete) => {}
            Err(e) => return Err(refuse(e.status(), e.to_string())),
        }
        fill(stream, &mut buf, deadline).await?;
    };
    if head.headers.get("Transfer-Encoding").is_some() {
        return Err(refuse(
            411,
            "send the body with a Content-Length, not a Transfer-Encoding",
        ));
    }
    let length = match head.headers.get("Content-Length") {
        None => 0,
        Some(value) => value
            .trim()
            .parse::<usize>()
            .map_err(|_| refuse(400, format!("Content-Length {value:?} is not a number")))?,
    };
    if length > MAX_BODY {
        return Err(refuse(
            413,
            format!("the body is {length} bytes; at most {MAX_BODY} are accepted"),
        ));
    }
    while buf.len() < length {
        fill(stream, &mut buf, deadline).await?;
    }
    buf.truncate(length);
    Ok((head, buf.to_vec()))
}

async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    deadline: Instant,
) -> Result<(), Refusal> {
    buf.reserve(1024);
    match timeout_at(deadline, stream.read_buf(buf)).await {
        Err(_) => Err(refuse(
            408,
            format!(
                "the request did not arrive within {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )),
        Ok(Ok(0)) => Err(refuse(400, "the connection closed mid-request")),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(refuse(400, "the request could not be read")),
    }
}

/// The call a request asks for.
fn route(head: &RequestHead, body: &[u8]) -> Result<Call, Refusal> {
    let path = head.target.split(['?', '#']).next().unwrap_or_default();
    let method = match &head.method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Other(m) => m.as_str(),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let wrong_method = |allow: &'static str| Refusal {
        status: 405,
        message: format!("{path} takes {allow}, not {method}"),
        allow: Some(allow),
    };
    match segments[..] {
        ["peers"] => match method {
            "GET" => Ok(Call::Peers),
            _ => Err(wrong_method("GET")),
        },
        ["peers", id, action @ ("kill" | "revive")] => {
            if method != "POST" {
                return Err(wrong_method("POST"));
            }
            let id = percent_decode(id)
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| refuse(400, format!("{id:?} is not a peer id")))?;
            Ok(if action == "kill" {
                Call::Kill(id)
            } else {
                Call::Revive(id)
            })
        }
        ["search"] => match method {
            "POST" => SearchCall::from_json(body)
                .map(Call::Search)
                .map_err(|e| refuse(e.status(), e.to_string())),
            _ => Err(wrong_method("POST")),
        },
        ["report"] => match method {
            "GET" => Ok(Call::Report),
            _ => Err(wrong_method("GET")),
        },
        _ => Err(refuse(
            404,
            format!("no such path {path:?}; the control API serves {ROUTES}"),
        )),
    }
}

fn error_json(message: &str) -> Value {
    json!({ "error": message })
}

/// A whole response: head and JSON body, `Connection: close`.
fn response(status: u16, body: &Value, allow: Option<&str>) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    let mut head = ResponseHead::new(status)
        .with("Content-Type", "application/json")
        .with("Content-Length", text.len())
        .with("Connection", "close");
    if let Some(allow) = allow {
        head = head.with("Allow", allow);
    }
    let mut bytes = head.encode();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// Half-closes, then reads what the client still sends for a moment, so the answer is
/// not lost to a reset.
async fn linger_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    const LINGER: Duration = Duration::from_secs(1);
    const MAX_DRAIN: usize = 64 * 1024;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> RequestHead {
        match parse_request_head(text.as_bytes(), &LIMITS) {
            Ok(Parsed::Done { head, .. }) => head,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_and_methods_route_to_calls() {
        let get = |path: &str| route(&head(&format!("GET {path} HTTP/1.1\r\n\r\n")), b"");
        let post =
            |path: &str, body: &[u8]| route(&head(&format!("POST {path} HTTP/1.1\r\n\r\n")), body);
        assert_eq!(get("/peers"), Ok(Call::Peers));
        assert_eq!(get("/peers?x=1"), Ok(Call::Peers));
        assert_eq!(get("/report"), Ok(Call::Report));
        assert_eq!(post("/peers/p3/kill", b""), Ok(Call::Kill("p3".into())));
        assert_eq!(
            post("/peers/a%20b/revive", b""),
            Ok(Call::Revive("a b".into()))
        );
        assert!(matches!(
            post("/search", br#"{"from": "p0", "words": "jazz"}"#),
            Ok(Call::Search(_))
        ));
        let refused = |r: Result<Call, Refusal>| r.unwrap_err();
        assert_eq!(refused(post("/peers", b"")).status, 405);
        assert_eq!(refused(post("/peers", b"")).allow, Some("GET"));
        assert_eq!(refused(get("/peers/p3/kill")).status, 405);
        assert_eq!(refused(get("/search")).status, 405);
        assert_eq!(refused(get("/")).status, 404);
        assert_eq!(refused(get("/peers/p3")).status, 404);
        assert_eq!(refused(post("/peers/p3/explode", b"")).status, 404);
        assert_eq!(refused(post("/peers//kill", b"")).status, 400);
        assert_eq!(refused(post("/search", b"{")).status, 400);
    }

    #[test]
    fn the_live_page_asks_for_its_page_and_its_events_by_get_only() {
        let ui = |text: &str| ui_route(&head(text));
        assert_eq!(ui("GET / HTTP/1.1\r\n\r\n"), Some(UiRoute::Page));
        assert_eq!(ui("GET /?x HTTP/1.1\r\n\r\n"), Some(UiRoute::Page));
        assert_eq!(ui("GET /events HTTP/1.1\r\n\r\n"), Some(UiRoute::Events));
        assert_eq!(ui("GET /favicon.ico HTTP/1.1\r\n\r\n"), Some(UiRoute::Icon));
        assert_eq!(ui("POST /events HTTP/1.1\r\n\r\n"), None);
        // Everything else is the control API's.
        assert_eq!(ui("GET /peers HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn only_loopback_addresses_are_taken() {
        assert!(parse_control_addr("127.0.0.1:0").is_ok());
        assert!(parse_control_addr("127.8.9.1:6380").is_ok());
        assert!(parse_control_addr("[::1]:6380").is_ok());
        for bad in [
            "0.0.0.0:6380",
            "192.0.2.1:80",
            "[::]:6380",
            "localhost",
            "6380",
        ] {
            assert!(parse_control_addr(bad).is_err(), "{bad}");
        }
        let said = parse_control_addr("0.0.0.0:6380").unwrap_err();
        assert!(said.contains("loopback only"), "{said}");
    }

    #[tokio::test]
    async fn bodies_are_bounded_and_need_a_length() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let big = format!(
            "POST /search HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        let refused = read_request(&mut big.as_bytes(), deadline)
            .await
            .unwrap_err();
        assert_eq!(refused.status, 413);
        let chunked = "POST /search HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let refused = read_request(&mut chunked.as_bytes(), deadline)
            .await
            .unwrap_err();
        assert_eq!(refused.status, 411);
        let short = "POST /search HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}";
        let refused = read_request(&mut short.as_bytes(), deadline)
            .await
            .unwrap_err();
        assert_eq!(refused.status, 400);
        let whole = "POST /search HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}extra";
        let (_, body) = read_request(&mut whole.as_bytes(), deadline).await.unwrap();
        assert_eq!(body, b"{}");
    }
}
