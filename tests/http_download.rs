//! The downloader against our own server and against lying or old-fashioned holders,
//! over real sockets on 127.0.0.1: files arrive verified under their final name, or not
//! at all.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gnutella::net::download::{
    download, sanitize_file_name, DownloadError, DownloadOptions, DownloadRequest,
};
use gnutella::net::http_server::{HttpConfig, HttpServer};
use gnutella::net::share::Share;
use gnutella::protocol::{Extension, HitRecord, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(30);

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 253) as u8).collect()
}

/// Our server sharing one file; returns its address, the task and the folder.
async fn serve_file(
    name: &str,
    data: &[u8],
) -> (SocketAddr, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), data).unwrap();
    let share = Share::scan_dir_async(dir.path().to_path_buf())
        .await
        .unwrap();
    let server = HttpServer::new(Arc::new(share), HttpConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = server.run(listener).await;
    });
    (addr, task, dir)
}

/// A scripted holder: answers every request with `respond(request_head)` and records the
/// request heads it saw.
async fn fake_holder(
    respond: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) -> (
    SocketAddr,
    Arc<Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read_exact(&mut byte).await.is_err() {
                    break;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let answer = respond(&head);
            log.lock().unwrap().push(head);
            let _ = stream.write_all(&answer).await;
            let _ = stream.shutdown().await;
        }
    });
    (addr, seen, task)
}

fn request(addr: SocketAddr, name: &str, data: &[u8]) -> DownloadRequest {
    DownloadRequest {
        addr,
        index: 0,
        name: name.into(),
        size: data.len() as u64,
        sha1: Some(Sha1::of_bytes(data)),
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn download_verifies_and_renames() {
    let data = content(3 * 1024 * 1024 + 17);
    let (addr, task, _share) = serve_file("big file.bin", &data).await;
    let to = tempfile::tempdir().unwrap();
    let got = timeout(
        LIMIT,
        download(
            &request(addr, "big file.bin", &data),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got.path, to.path().join("big file.bin"));
    assert_eq!(got.bytes_transferred, data.len() as u64);
    assert_eq!(got.resumed_from, 0);
    assert_eq!(got.sha1, Sha1::of_bytes(&data));
    assert!(got.verified);
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert_eq!(files_in(to.path()), vec!["big file.bin"]);
    // A second download never overwrites the first.
    let again = download(
        &request(addr, "big file.bin", &data),
        &DownloadOptions::new(to.path()),
    )
    .await;
    assert!(matches!(again, Err(DownloadError::AlreadyExists(_))));
    task.abort();
}

#[tokio::test]
async fn a_lying_holder_leaves_no_file() {
    let data = content(50_000);
    let (addr, _seen, task) = fake_holder(|_| {
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n".to_vec();
        answer.extend(std::iter::repeat(0xAAu8).take(50_000));
        answer
    })
    .await;
    let to = tempfile::tempdir().unwrap();
    let result = timeout(
        LIMIT,
        download(
            &request(addr, "song.mp3", &data),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap();
    assert!(
        matches!(result, Err(DownloadError::Sha1Mismatch { .. })),
        "{result:?}"
    );
    assert!(
        files_in(to.path()).is_empty(),
        "left behind: {:?}",
        files_in(to.path())
    );
    task.abort();
}

#[tokio::test]
async fn a_short_body_is_an_error_and_keeps_the_part_for_resume() {
    let data = content(40_000);
    let served = data.clone();
    let (addr, _seen, task) = fake_holder(move |_| {
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n\r\n".to_vec();
        answer.extend_from_slice(&served[..10_000]);
        answer
    })
    .await;
    let to = tempfile::tempdir().unwrap();
    let result = timeout(
        LIMIT,
        download(
            &request(addr, "a.bin", &data),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            result,
            Err(DownloadError::Truncated {
                got: 10_000,
                expected: 40_000
            })
        ),
        "{result:?}"
    );
    assert_eq!(files_in(to.path()), vec![".a.bin.part"]);
    assert_eq!(
        std::fs::read(to.path().join(".a.bin.part")).unwrap(),
        data[..10_000]
    );
    task.abort();
}

#[tokio::test]
async fn resumes_a_partial_file_with_range() {
    let data = content(1_000_000);
    let (addr, task, _share) = serve_file("movie.avi", &data).await;
    let to = tempfile::tempdir().unwrap();
    std::fs::write(to.path().join(".movie.avi.part"), &data[..400_000]).unwrap();
    let got = timeout(
        LIMIT,
        download(
            &request(addr, "movie.avi", &data),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got.resumed_from, 400_000);
    assert_eq!(got.bytes_transferred, 600_000);
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert_eq!(files_in(to.path()), vec!["movie.avi"]);
    task.abort();
}

#[tokio::test]
async fn a_holder_that_ignores_range_restarts_from_zero() {
    let data = content(30_000);
    let served = data.clone();
    let (addr, seen, task) = fake_holder(move |_| {
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n".to_vec();
        answer.extend_from_slice(&served);
        answer
    })
    .await;
    let to = tempfile::tempdir().unwrap();
    // A stale partial file with wrong bytes: the 200 answer replaces it entirely.
    std::fs::write(to.path().join(".x.bin.part"), vec![0u8; 20_000]).unwrap();
    let got = timeout(
        LIMIT,
        download(
            &request(addr, "x.bin", &data),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got.resumed_from, 0);
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert!(seen.lock().unwrap()[0].contains("Range: bytes=20000-"));
    task.abort();
}

#[tokio::test]
async fn a_corrupt_partial_file_is_caught_and_discarded() {
    let data = content(200_000);
    let (addr, task, _share) = serve_file("c.bin", &data).await;
    let to = tempfile::tempdir().unwrap();
    std::fs::write(to.path().join(".c.bin.part"), vec![0xFFu8; 100_000]).unwrap();
    let opts = DownloadOptions::new(to.path());
    let first = timeout(LIMIT, download(&request(addr, "c.bin", &data), &opts))
        .await
        .unwrap();
    assert!(
        matches!(first, Err(DownloadError::Sha1Mismatch { .. })),
        "{first:?}"
    );
    assert!(files_in(to.path()).is_empty());
    // Starting over then works.
    let second = timeout(LIMIT, download(&request(addr, "c.bin", &data), &opts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(second.path).unwrap(), data);
    task.abort();
}

#[tokio::test]
async fn unsafe_names_from_the_network_are_refused() {
    let to = tempfile::tempdir().unwrap();
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for name in [
        "../evil",
        "a/b",
        "..",
        ".",
        "",
        "a\\b",
        "nul\0byte",
        "line\nbreak",
        "/etc/passwd",
    ]
    .into_iter()
    .chain(cfg!(windows).then_some("C:evil"))
    {
        let req = DownloadRequest {
            addr,
            index: 0,
            name: name.into(),
            size: 1,
            sha1: None,
        };
        let result = download(&req, &DownloadOptions::new(to.path())).await;
        assert!(
            matches!(result, Err(DownloadError::UnsafeName(_))),
            "{name:?}: {result:?}"
        );
    }
    // A safe hit name does not launder an unsafe name to save it under.
    for save_as in ["../evil", "a/b", "..", "", "tab\there"] {
        let req = DownloadRequest {
            addr,
            index: 0,
            name: "fine.txt".into(),
            size: 1,
            sha1: None,
        };
        let mut opts = DownloadOptions::new(to.path());
        opts.save_as = Some(save_as.into());
        let result = download(&req, &opts).await;
        assert!(
            matches!(result, Err(DownloadError::UnsafeName(_))),
            "{save_as:?}: {result:?}"
        );
    }
    assert!(files_in(to.path()).is_empty());
    assert!(!to.path().parent().unwrap().join("evil").exists());
}

/// LimeWire and gtk-gnutella hits carry names like "Live: 2003.mp3"; on Unix that is an
/// ordinary file name, shared, served and downloaded both by URN and by `/get/`.
#[cfg(unix)]
#[tokio::test]
async fn a_name_with_a_colon_is_downloaded_by_urn_and_by_get() {
    let name = "Live: 2003.mp3";
    let data = content(40_000);
    let (addr, task, _share) = serve_file(name, &data).await;
    let by_urn = tempfile::tempdir().unwrap();
    let got = timeout(
        LIMIT,
        download(
            &request(addr, name, &data),
            &DownloadOptions::new(by_urn.path()),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got.path, by_urn.path().join(name));
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    let by_get = tempfile::tempdir().unwrap();
    let no_urn = DownloadRequest {
        sha1: None,
        ..request(addr, name, &data)
    };
    let got = timeout(
        LIMIT,
        download(&no_urn, &DownloadOptions::new(by_get.path())),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert_eq!(files_in(by_get.path()), vec![name]);
    task.abort();
}

/// A hit whose name could not be a file name is still fetched by its URN when saved
/// under the sanitised name; the holder's own name never touches the disk.
#[tokio::test]
async fn a_hostile_hit_name_is_saved_under_its_sanitised_name() {
    let data = content(9_000);
    let (addr, task, _share) = serve_file("real.bin", &data).await;
    let to = tempfile::tempdir().unwrap();
    let hostile = "../../etc/cron.d/evil\n";
    let req = request(addr, hostile, &data);
    let refused = download(&req, &DownloadOptions::new(to.path())).await;
    assert!(
        matches!(refused, Err(DownloadError::UnsafeName(_))),
        "{refused:?}"
    );
    let mut opts = DownloadOptions::new(to.path());
    opts.save_as = Some(sanitize_file_name(hostile).unwrap());
    let got = timeout(LIMIT, download(&req, &opts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.path, to.path().join("_._.._etc_cron.d_evil_"));
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert_eq!(files_in(to.path()), vec!["_._.._etc_cron.d_evil_"]);
    for hopeless in ["", ".", ".."] {
        assert!(matches!(
            sanitize_file_name(hopeless),
            Err(DownloadError::UnsafeName(_))
        ));
    }
    task.abort();
}

#[tokio::test]
async fn falls_back_to_get_when_the_holder_lacks_uri_res() {
    let data = content(5_000);
    let served = data.clone();
    let (addr, seen, task) = fake_holder(move |head| {
        if head.starts_with("GET /get/3/old%20song.mp3 ") {
            let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".to_vec();
            answer.extend_from_slice(&served);
            answer
        } else {
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec()
        }
    })
    .await;
    let to = tempfile::tempdir().unwrap();
    let mut req = request(addr, "old song.mp3", &data);
    req.index = 3;
    let got = timeout(LIMIT, download(&req, &DownloadOptions::new(to.path())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(got.path).unwrap(), data);
    let seen = seen.lock().unwrap();
    assert!(
        seen[0].starts_with("GET /uri-res/N2R?urn:sha1:"),
        "{}",
        seen[0]
    );
    assert!(seen[1].starts_with("GET /get/3/"), "{}", seen[1]);
    task.abort();
}

#[tokio::test]
async fn a_busy_holder_says_when_to_retry() {
    let (addr, _seen, task) = fake_holder(|_| {
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 60\r\nContent-Length: 0\r\n\r\n".to_vec()
    })
    .await;
    let to = tempfile::tempdir().unwrap();
    let result = timeout(
        LIMIT,
        download(
            &request(addr, "b.bin", b"xyz"),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            result,
            Err(DownloadError::Busy {
                retry_after: Some(60)
            })
        ),
        "{result:?}"
    );
    assert!(files_in(to.path()).is_empty());
    task.abort();
}

#[tokio::test]
async fn a_hit_without_sha1_is_fetched_by_index_and_name() {
    let data = content(70_000);
    let (addr, task, _share) = serve_file("no urn.txt", &data).await;
    let to = tempfile::tempdir().unwrap();
    let req = DownloadRequest {
        addr,
        index: 0,
        name: "no urn.txt".into(),
        size: data.len() as u64,
        sha1: None,
    };
    let got = timeout(LIMIT, download(&req, &DownloadOptions::new(to.path())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    assert_eq!(got.sha1, Sha1::of_bytes(&data));
    assert!(!got.verified, "no SHA-1 in the hit, so no check claimed");
    // The wrong size is caught even without a URN.
    let wrong = DownloadRequest {
        size: 69_999,
        ..req
    };
    let mut opts = DownloadOptions::new(to.path());
    opts.save_as = Some("second.txt".into());
    let result = timeout(LIMIT, download(&wrong, &opts)).await.unwrap();
    assert!(
        matches!(result, Err(DownloadError::BadResponse(_))),
        "{result:?}"
    );
    assert!(!to.path().join("second.txt").exists());
    task.abort();
}

#[tokio::test]
async fn a_progress_bar_does_not_change_the_result() {
    let data = content(600_000);
    let (addr, task, _share) = serve_file("p.bin", &data).await;
    let to = tempfile::tempdir().unwrap();
    let mut opts = DownloadOptions::new(to.path());
    opts.progress = true;
    opts.progress_min_size = 0;
    opts.chunk_size = 4096;
    let got = timeout(LIMIT, download(&request(addr, "p.bin", &data), &opts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    task.abort();
}

/// A record as gtk-gnutella answers a query flagged "GGEP H understood": the SHA-1 only
/// in GGEP "H" (type 1 + 20 bytes), no `urn:sha1:` string.
fn ggep_h_record(name: &str, data: &[u8]) -> HitRecord {
    let mut block = vec![0xC3, 0x81, b'H', 0x55, 0x01];
    block.extend(Sha1::of_bytes(data).0);
    HitRecord {
        index: 3,
        size: data.len() as u32,
        name: name.into(),
        extensions: vec![Extension::Ggep(Bytes::from(block))],
    }
}

/// A holder that serves `body` for the N2R request of `data`'s SHA-1 and 404 otherwise.
async fn n2r_holder(
    data: &[u8],
    body: Vec<u8>,
) -> (
    SocketAddr,
    Arc<Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    let target = format!(
        "GET /uri-res/N2R?{} HTTP/1.1\r\n",
        Sha1::of_bytes(data).to_urn()
    );
    fake_holder(move |head| {
        if head.starts_with(&target) {
            let mut answer =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            answer.extend_from_slice(&body);
            answer
        } else {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
        }
    })
    .await
}

#[tokio::test]
async fn a_hit_whose_sha1_is_only_in_ggep_h_is_fetched_by_urn_and_verified() {
    let data = content(90_000);
    let record = ggep_h_record("h.bin", &data);

    let (addr, seen, task) = n2r_holder(&data, data.clone()).await;
    let request = DownloadRequest::from_hit(addr, &record);
    assert_eq!(request.sha1, Some(Sha1::of_bytes(&data)));
    let to = tempfile::tempdir().unwrap();
    let got = timeout(LIMIT, download(&request, &DownloadOptions::new(to.path())))
        .await
        .unwrap()
        .unwrap();
    assert!(got.verified, "compared with the hit's GGEP H digest");
    assert_eq!(std::fs::read(&got.path).unwrap(), data);
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "no fallback to /get/: {heads:?}");
    assert!(
        heads[0].starts_with("GET /uri-res/N2R?urn:sha1:"),
        "{heads:?}"
    );
    task.abort();

    // A holder that sends other bytes under that URN: refused, nothing left behind.
    let mut corrupt = data.clone();
    corrupt[45_000] ^= 0x01;
    let (addr, _seen, task) = n2r_holder(&data, corrupt).await;
    let to = tempfile::tempdir().unwrap();
    let result = timeout(
        LIMIT,
        download(
            &DownloadRequest::from_hit(addr, &record),
            &DownloadOptions::new(to.path()),
        ),
    )
    .await
    .unwrap();
    assert!(
        matches!(result, Err(DownloadError::Sha1Mismatch { .. })),
        "{result:?}"
    );
    assert!(files_in(to.path()).is_empty(), "{:?}", files_in(to.path()));
    task.abort();
}
