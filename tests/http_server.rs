//! The upload server over real sockets on 127.0.0.1: what a downloading peer sees on the
//! wire, and that nothing outside the shared folder can be reached.

use std::sync::Arc;
use std::time::Duration;

use gnutella::net::http_server::{HttpConfig, HttpServer};
use gnutella::net::share::Share;
use gnutella::protocol::http::{parse_response_head, HeadLimits, Parsed, ResponseHead};
use gnutella::protocol::Sha1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

struct Fixture {
    addr: std::net::SocketAddr,
    server: HttpServer,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    outside: tempfile::TempDir,
    data: Vec<u8>,
    sha1: Sha1,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A share with `song.mp3` (index 0, 100 000 bytes), `empty.txt` and a symlink to a
/// secret outside the folder.
async fn start(config: HttpConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"TOP SECRET").unwrap();
    let data = content(100_000);
    std::fs::write(dir.path().join("song.mp3"), &data).unwrap();
    std::fs::write(dir.path().join("zz-empty.txt"), b"").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    let share = Share::scan_dir_async(dir.path().to_path_buf())
        .await
        .unwrap();
    assert_eq!(share.entries()[0].name, "song.mp3");
    let server = HttpServer::new(Arc::new(share), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let runner = server.clone();
    let task = tokio::spawn(async move {
        let _ = runner.run(listener).await;
    });
    let sha1 = Sha1::of_bytes(&data);
    Fixture {
        addr,
        server,
        task,
        _dir: dir,
        outside,
        data,
        sha1,
    }
}

/// Sends raw request bytes, reads until the server closes, splits head and body.
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> (ResponseHead, Vec<u8>) {
    timeout(LIMIT, async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        match parse_response_head(&all, &HeadLimits::default()).unwrap() {
            Parsed::Done { consumed, head } => (head, all[consumed..].to_vec()),
            Parsed::Incomplete => {
                panic!("no complete response: {:?}", String::from_utf8_lossy(&all))
            }
        }
    })
    .await
    .expect("exchange timed out")
}

fn get(target: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn get_by_urn_and_by_index_is_byte_identical() {
    let f = start(HttpConfig::default()).await;
    let (head, body) = exchange(
        f.addr,
        &get(&format!("/uri-res/N2R?{}", f.sha1.to_urn()), ""),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(100_000));
    assert_eq!(head.headers.get("Content-Type"), Some("application/binary"));
    assert_eq!(
        head.headers.get("X-Gnutella-Content-URN"),
        Some(f.sha1.to_urn().as_str())
    );
    assert!(head.headers.get("Server").is_some());
    assert_eq!(body, f.data);

    let (head, body) = exchange(f.addr, &get("/get/0/song.mp3", "")).await;
    assert_eq!(head.status, 200);
    assert_eq!(body, f.data);
    // LimeWire's downloader sends the name raw, others URL-encode it; names match exactly.
    let (head, _) = exchange(f.addr, &get("/get/0/song%2Emp3", "")).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        f.server
            .stats()
            .body_bytes_sent
            .load(std::sync::atomic::Ordering::Relaxed),
        300_000
    );
}

#[tokio::test]
async fn head_sends_headers_only() {
    let f = start(HttpConfig::default()).await;
    let request = format!(
        "HEAD /uri-res/N2R?{} HTTP/1.1\r\nConnection: close\r\n\r\n",
        f.sha1.to_urn()
    );
    let (head, body) = exchange(f.addr, request.as_bytes()).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(100_000));
    assert!(body.is_empty());
}

#[tokio::test]
async fn single_ranges_get_206_with_the_right_bytes() {
    let f = start(HttpConfig::default()).await;
    let cases = [
        ("bytes=10-19", 10, 19),
        ("bytes=99990-", 99_990, 99_999),
        ("bytes=-5", 99_995, 99_999),
        ("bytes=0-999999", 0, 99_999),
    ];
    for (range, a, b) in cases {
        let (head, body) = exchange(
            f.addr,
            &get("/get/0/song.mp3", &format!("Range: {range}\r\n")),
        )
        .await;
        assert_eq!(head.status, 206, "{range}");
        assert_eq!(
            head.headers.get("Content-Range"),
            Some(format!("bytes {a}-{b}/100000").as_str())
        );
        assert_eq!(head.content_length(), Some(b - a + 1));
        assert_eq!(
            head.headers.get("X-Gnutella-Content-URN"),
            Some(f.sha1.to_urn().as_str())
        );
        assert_eq!(body, f.data[a as usize..=b as usize], "{range}");
    }
    // Several ranges are not served as multipart: the whole file comes back.
    let (head, body) = exchange(f.addr, &get("/get/0/song.mp3", "Range: bytes=0-1,5-6\r\n")).await;
    assert_eq!(head.status, 200);
    assert_eq!(body, f.data);
}

#[tokio::test]
async fn bad_ranges_get_416_or_400() {
    let f = start(HttpConfig::default()).await;
    for range in ["bytes=100000-", "bytes=200000-300000", "bytes=-0"] {
        let (head, body) = exchange(
            f.addr,
            &get("/get/0/song.mp3", &format!("Range: {range}\r\n")),
        )
        .await;
        assert_eq!(head.status, 416, "{range}");
        assert_eq!(head.headers.get("Content-Range"), Some("bytes */100000"));
        assert!(body.is_empty());
    }
    let (head, _) = exchange(f.addr, &get("/get/0/song.mp3", "Range: bytes=9-1\r\n")).await;
    assert_eq!(head.status, 400);
    for malformed in ["bytes=", "bytes=x-1", "bytes", "=0-3"] {
        let (head, _) = exchange(
            f.addr,
            &get("/get/0/song.mp3", &format!("Range: {malformed}\r\n")),
        )
        .await;
        assert_eq!(head.status, 400, "{malformed}");
    }
}

/// RFC 9110 §14.2: a Range in a unit the server does not understand MUST be ignored:
/// the whole file comes back with 200, not a 400.
#[tokio::test]
async fn a_range_in_another_unit_is_ignored() {
    let f = start(HttpConfig::default()).await;
    for range in ["items=0-3", "pages=1-2", "Chunks 5-9"] {
        let (head, body) = exchange(
            f.addr,
            &get("/get/0/song.mp3", &format!("Range: {range}\r\n")),
        )
        .await;
        assert_eq!(head.status, 200, "{range}");
        assert_eq!(head.headers.get("Content-Range"), None, "{range}");
        assert_eq!(head.content_length(), Some(100_000));
        assert_eq!(body, f.data, "{range}");
    }
}

/// LimeWire and gtk-gnutella hits carry names like "Live: 2003.mp3"; on Unix they are
/// shared and served by `/get/`, encoded or raw.
#[cfg(unix)]
#[tokio::test]
async fn a_name_with_a_colon_is_shared_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = content(3_000);
    std::fs::write(dir.path().join("odd: name.txt"), &data).unwrap();
    let share = Share::scan_dir_async(dir.path().to_path_buf())
        .await
        .unwrap();
    let entry = share
        .entries()
        .iter()
        .find(|e| e.name == "odd: name.txt")
        .expect("the colon name is shared")
        .clone();
    let server = HttpServer::new(Arc::new(share), HttpConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = server.run(listener).await;
    });
    let index = entry.index;
    for target in [
        format!("/get/{index}/odd%3A%20name.txt"),
        format!("/get/{index}/odd:%20name.txt"),
        // LimeWire's downloader sends the name raw, spaces and all.
        format!("/get/{index}/odd: name.txt"),
        format!("/uri-res/N2R?{}", Sha1::of_bytes(&data).to_urn()),
    ] {
        let (head, body) = exchange(addr, &get(&target, "")).await;
        assert_eq!(head.status, 200, "{target}");
        assert_eq!(body, data, "{target}");
    }
    task.abort();
}

/// Reads one response (head and `Content-Length` body) off a kept-alive socket.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> (ResponseHead, Vec<u8>) {
    loop {
        if let Parsed::Done { consumed, head } =
            parse_response_head(buf, &HeadLimits::default()).unwrap()
        {
            let len = head.content_length().unwrap() as usize;
            while buf.len() < consumed + len {
                let mut more = [0u8; 65536];
                let n = stream.read(&mut more).await.unwrap();
                assert!(n > 0, "closed inside a body");
                buf.extend_from_slice(&more[..n]);
            }
            let body = buf[consumed..consumed + len].to_vec();
            buf.drain(..consumed + len);
            return (head, body);
        }
        let mut more = [0u8; 4096];
        let n = stream.read(&mut more).await.unwrap();
        assert!(n > 0, "closed before a response head");
        buf.extend_from_slice(&more[..n]);
    }
}

/// Requests as real downloaders send them (PROTOCOL.md §5.1): LimeWire by URN with its
/// extra headers, gtk-gnutella by index with an open range, an HTTP/1.0 client with no
/// Host. Each gets the content URN on 200/206 and a `Connection` header that matches
/// what happens to the socket.
#[tokio::test]
async fn requests_as_limewire_and_gtk_gnutella_send_them() {
    let f = start(HttpConfig::default()).await;
    let urn = f.sha1.to_urn();
    let limewire = format!(
        "GET /uri-res/N2R?{urn} HTTP/1.1\r\nHost: 127.0.0.1:6346\r\n\
         User-Agent: LimeWire/4.18.8\r\nX-Queue: 0.1\r\nX-Features: fwalt/0.1, browse/1.0\r\n\
         X-Downloaded: 0\r\nRange: bytes=0-99999\r\nX-Gnutella-Content-URN: {urn}\r\n\
         X-Alt: 1.2.3.4:6346, 5.6.7.8\r\nConnection: close\r\n\r\n"
    );
    let (head, body) = exchange(f.addr, limewire.as_bytes()).await;
    assert_eq!(head.status, 206);
    assert_eq!(
        head.headers.get("Content-Range"),
        Some("bytes 0-99999/100000")
    );
    assert_eq!(
        head.headers.get("X-Gnutella-Content-URN"),
        Some(urn.as_str())
    );
    assert_eq!(head.headers.get("Connection"), Some("close"));
    assert_eq!(body, f.data);

    // HTTP/1.0 with no Host and no Connection header: served, then closed (exchange
    // reads to the end, so a kept-open socket would time out here).
    let (head, body) = exchange(f.addr, b"GET /get/0/song.mp3 HTTP/1.0\r\n\r\n").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers.get("Connection"), Some("close"));
    assert_eq!(
        head.headers.get("X-Gnutella-Content-URN"),
        Some(urn.as_str())
    );
    assert_eq!(body, f.data);
    // HTTP/1.1 without Host is accepted too (gtk-gnutella refuses it; we serve).
    let (head, _) = exchange(
        f.addr,
        b"HEAD /get/0/song.mp3 HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get("X-Gnutella-Content-URN"),
        Some(urn.as_str())
    );

    // gtk-gnutella style keep-alive over HTTP/1.1, and an HTTP/1.0 client that asks for
    // keep-alive: the socket stays usable until a request says close.
    timeout(LIMIT, async {
        let mut stream = TcpStream::connect(f.addr).await.unwrap();
        let mut buf = Vec::new();
        stream
            .write_all(
                b"GET /get/0/song.mp3 HTTP/1.1\r\nHost: x\r\n\
                  User-Agent: gtk-gnutella/1.2.2 (2022-02-25; GTK2; Linux x86_64)\r\n\
                  X-Features: browse/1.0\r\nRange: bytes=99000-\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, body) = read_response(&mut stream, &mut buf).await;
        assert_eq!(head.status, 206);
        assert_eq!(head.headers.get("Connection"), Some("Keep-Alive"));
        assert_eq!(
            head.headers.get("X-Gnutella-Content-URN"),
            Some(urn.as_str())
        );
        assert_eq!(body, f.data[99_000..]);
        stream
            .write_all(
                b"GET /get/0/song.mp3 HTTP/1.0\r\nConnection: Keep-Alive\r\n\
                  Range: bytes=0-9\r\n\r\n",
            )
            .await
            .unwrap();
        let (head, body) = read_response(&mut stream, &mut buf).await;
        assert_eq!(head.status, 206);
        assert_eq!(head.headers.get("Connection"), Some("Keep-Alive"));
        assert_eq!(body, f.data[..10]);
        // Without Keep-Alive an HTTP/1.0 request ends the connection.
        stream
            .write_all(b"HEAD /get/0/song.mp3 HTTP/1.0\r\n\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        buf.extend_from_slice(&rest);
        let Parsed::Done { consumed, head } =
            parse_response_head(&buf, &HeadLimits::default()).unwrap()
        else {
            panic!("no response to the HTTP/1.0 HEAD")
        };
        assert_eq!(head.status, 200);
        assert_eq!(head.headers.get("Connection"), Some("close"));
        assert_eq!(consumed, buf.len(), "HEAD has no body");
    })
    .await
    .unwrap();
}

/// An answer sent just before the server hangs up says `Connection: close`, so a
/// keep-alive downloader does not try to reuse the socket.
#[tokio::test]
async fn answers_before_a_hang_up_say_connection_close() {
    let f = start(HttpConfig {
        head_timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    })
    .await;
    for request in [
        &b"GET\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET / HTTP/3.0\r\n\r\n",
        b"GET /get/0/song.mp3 HTTP/1.1\r\n",
    ] {
        let (head, _) = exchange(f.addr, request).await;
        assert!(head.status >= 400, "{head:?}");
        assert_eq!(
            head.headers.get("Connection"),
            Some("close"),
            "{}",
            String::from_utf8_lossy(request)
        );
        assert_eq!(head.headers.count("Connection"), 1);
    }
}

#[tokio::test]
async fn unknown_files_get_404() {
    let f = start(HttpConfig::default()).await;
    let other = Sha1::of_bytes(b"not shared");
    for target in [
        format!("/uri-res/N2R?{}", other.to_urn()),
        "/get/7/song.mp3".to_string(),
        "/get/0/other.mp3".to_string(),
        "/favicon.ico".to_string(),
    ] {
        let (head, body) = exchange(f.addr, &get(&target, "")).await;
        assert_eq!(head.status, 404, "{target}");
        assert!(body.is_empty());
    }
    // The right index, but the downloader expects other content.
    let (head, _) = exchange(
        f.addr,
        &get(
            "/get/0/song.mp3",
            &format!("X-Gnutella-Content-URN: {}\r\n", other.to_urn()),
        ),
    )
    .await;
    assert_eq!(head.status, 404);
}

#[tokio::test]
async fn traversal_attempts_reach_nothing_outside_the_share() {
    let f = start(HttpConfig::default()).await;
    let secret_path = f.outside.path().join("secret.txt");
    let secret_target = format!("/get/0/{}", secret_path.display());
    let attempts: Vec<String> = vec![
        "/get/0/../../etc/passwd".into(),
        "/get/0/%2e%2e%2f%2e%2e%2fetc%2fpasswd".into(),
        "/get/0/..%2F..%2Fetc%2Fpasswd".into(),
        "/get/0/%2Fetc%2Fpasswd".into(),
        "/get/0/..".into(),
        "/etc/passwd".into(),
        "/../../etc/passwd".into(),
        secret_target,
        "/get/1/link.txt".into(),
        "/get/0/link.txt".into(),
        "/get/2/link.txt".into(),
        format!("/uri-res/N2R?{}", Sha1::of_bytes(b"TOP SECRET").to_urn()),
        "http://x/etc/passwd".into(),
    ];
    for target in &attempts {
        let (head, body) = exchange(f.addr, &get(target, "")).await;
        assert!(
            head.status == 400 || head.status == 404,
            "{target} got {}",
            head.status
        );
        assert!(!body.windows(10).any(|w| w == b"TOP SECRET"), "{target}");
    }
    // The symlink out of the folder is not even shared.
    assert!(f
        .server
        .share()
        .entries()
        .iter()
        .all(|e| e.name != "link.txt"));
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_socket() {
    let f = start(HttpConfig::default()).await;
    timeout(LIMIT, async {
        let mut stream = TcpStream::connect(f.addr).await.unwrap();
        let pipelined = [
            b"GET /get/0/song.mp3 HTTP/1.1\r\nRange: bytes=0-3\r\n\r\n".to_vec(),
            b"HEAD /get/0/song.mp3 HTTP/1.1\r\n\r\n".to_vec(),
            b"GET /get/9/none HTTP/1.1\r\n\r\n".to_vec(),
            b"GET /get/0/song.mp3 HTTP/1.1\r\nRange: bytes=4-7\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ]
        .concat();
        stream.write_all(&pipelined).await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        let mut rest = &all[..];
        let mut statuses = Vec::new();
        let mut bodies = Vec::new();
        while !rest.is_empty() {
            let Parsed::Done { consumed, head } =
                parse_response_head(rest, &HeadLimits::default()).unwrap()
            else {
                panic!("incomplete")
            };
            let len = if head.status == 200 {
                0
            } else {
                head.content_length().unwrap() as usize
            };
            statuses.push(head.status);
            bodies.push(rest[consumed..consumed + len].to_vec());
            rest = &rest[consumed + len..];
        }
        assert_eq!(statuses, vec![206, 200, 404, 206]);
        assert_eq!(bodies[0], f.data[0..4]);
        assert_eq!(bodies[3], f.data[4..8]);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn full_slots_get_503_with_retry_after() {
    let f = start(HttpConfig {
        upload_slots: 1,
        ..HttpConfig::default()
    })
    .await;
    // A peer that asks and then stops reading keeps the only slot busy: its transfer
    // runs over a 64-byte in-memory pipe that nobody drains.
    let (hog, mut hog_peer) = tokio::io::duplex(64);
    let server = f.server.clone();
    let hog_task = tokio::spawn(async move {
        server
            .serve(hog, b"GET /get/0/song.mp3 HTTP/1.1\r\n\r\n")
            .await
    });
    let mut first = [0u8; 12];
    timeout(LIMIT, hog_peer.read_exact(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let (head, body) = exchange(f.addr, &get("/get/0/song.mp3", "")).await;
    assert_eq!(head.status, 503);
    assert!(head.headers.get("Retry-After").is_some());
    assert!(body.is_empty());
    // HEAD needs no slot.
    let (head, _) = exchange(
        f.addr,
        b"HEAD /get/0/song.mp3 HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(head.status, 200);

    drop(hog_peer);
    let _ = timeout(LIMIT, hog_task).await.unwrap();
    let (head, body) = exchange(f.addr, &get("/get/0/song.mp3", "")).await;
    assert_eq!(head.status, 200);
    assert_eq!(body, f.data);
}

#[tokio::test]
async fn first_bytes_read_by_the_listener_are_honoured() {
    let f = start(HttpConfig::default()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = f.server.clone();
    let accept = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        // What a listener does to tell HTTP from "GNUTELLA CONNECT": read the first line.
        let mut first = vec![0u8; 4];
        stream.read_exact(&mut first).await.unwrap();
        server.serve(stream, &first).await
    });
    let (head, body) = exchange(addr, &get("/get/0/song.mp3", "Range: bytes=1-2\r\n")).await;
    assert_eq!(head.status, 206);
    assert_eq!(body, f.data[1..3]);
    let summary = timeout(LIMIT, accept).await.unwrap().unwrap().unwrap();
    assert_eq!(summary.requests, 1);
}

#[tokio::test]
async fn malformed_and_oversized_heads_are_refused() {
    let f = start(HttpConfig::default()).await;
    let (head, _) = exchange(f.addr, b"GET\r\n\r\n").await;
    assert_eq!(head.status, 400);
    let (head, _) = exchange(f.addr, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n").await;
    assert_eq!(head.status, 400);
    let (head, _) = exchange(f.addr, b"DELETE /get/0/song.mp3 HTTP/1.1\r\n\r\n").await;
    assert_eq!(head.status, 501);
    let huge = format!(
        "GET /get/0/song.mp3 HTTP/1.1\r\nX-Junk: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let (head, _) = exchange(f.addr, huge.as_bytes()).await;
    assert_eq!(head.status, 413);
}

#[tokio::test]
async fn a_slow_head_times_out() {
    let f = start(HttpConfig {
        head_timeout: Duration::from_millis(200),
        ..HttpConfig::default()
    })
    .await;
    timeout(LIMIT, async {
        let mut stream = TcpStream::connect(f.addr).await.unwrap();
        stream
            .write_all(b"GET /get/0/song.mp3 HTTP/1.1\r\n")
            .await
            .unwrap();
        let mut rest = Vec::new();
        // The server gives up, says so and closes; we never finish the head.
        stream.read_to_end(&mut rest).await.unwrap();
        assert!(
            rest.starts_with(b"HTTP/1.1 408 "),
            "{:?}",
            String::from_utf8_lossy(&rest)
        );
    })
    .await
    .unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_swapped_for_a_symlink_after_the_scan_is_not_served() {
    let f = start(HttpConfig::default()).await;
    let root = f.server.share().root().unwrap().to_path_buf();
    std::fs::remove_file(root.join("song.mp3")).unwrap();
    std::os::unix::fs::symlink(f.outside.path().join("secret.txt"), root.join("song.mp3")).unwrap();
    let (head, body) = exchange(f.addr, &get("/get/0/song.mp3", "")).await;
    assert_eq!(head.status, 404);
    assert!(body.is_empty());
}

#[tokio::test]
async fn synthetic_files_are_served_whole_and_by_range() {
    use std::io::Read;
    let mut share = Share::new();
    let index = share
        .add_synthetic(42, "debian-12-netinst.iso", 300_000)
        .unwrap();
    let entry = share.by_index(index).unwrap().clone();
    let mut expected = Vec::new();
    share
        .open(&entry, 0)
        .unwrap()
        .read_to_end(&mut expected)
        .unwrap();
    let server = HttpServer::new(Arc::new(share), HttpConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = server.run(listener).await;
    });
    let (head, body) = exchange(
        addr,
        &get(&format!("/uri-res/N2R?{}", entry.sha1.to_urn()), ""),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(Sha1::of_bytes(&body), entry.sha1);
    let (head, body) = exchange(
        addr,
        &get(
            "/get/0/debian-12-netinst.iso",
            "Range: bytes=123456-200000\r\n",
        ),
    )
    .await;
    assert_eq!(head.status, 206);
    assert_eq!(body, expected[123_456..=200_000]);
    task.abort();
}
