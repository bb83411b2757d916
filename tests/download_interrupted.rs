//! A download that is cut short keeps what arrived in its `.part` file, says so, and the
//! next download of the same file resumes it, verifies it and tells the file's size apart
//! from the bytes fetched this time. Over real sockets on 127.0.0.1, against holders
//! scripted to close or stall mid-body.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gnutella::net::download::{
    download, download_until, DownloadError, DownloadOptions, DownloadRequest,
};
use gnutella::protocol::Sha1;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

const LIMIT: Duration = Duration::from_secs(60);

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// What a scripted holder does with one request.
#[derive(Clone, Copy)]
enum First {
    /// Send the head and this many body bytes, then close.
    CloseAfter(usize),
    /// Send the head and this many body bytes, say so, then hold the connection open
    /// without sending more.
    StallAfter(usize),
}

/// A holder of `data`: requests without `Range` get `first`; requests with
/// `Range: bytes=N-` get a correct `206` with the rest. Returns its address and the
/// request heads it saw.
async fn holder(
    data: Vec<u8>,
    first: First,
    stalled: Arc<Notify>,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let data = Arc::new(data);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (data, log, stalled) = (data.clone(), log.clone(), stalled.clone());
            tokio::spawn(async move { answer(stream, &data, first, &log, &stalled).await });
        }
    });
    (addr, seen)
}

async fn answer(
    stream: TcpStream,
    data: &[u8],
    first: First,
    log: &Mutex<Vec<String>>,
    stalled: &Notify,
) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    log.lock().unwrap().push(head.clone());
    let mut stream = reader.into_inner();
    let range = head
        .lines()
        .find_map(|l| l.strip_prefix("Range: bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    let size = data.len();
    if let Some(from) = range {
        let answer = format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes \
             {from}-{}/{size}\r\n\r\n",
            size - from,
            size - 1
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.write_all(&data[from..]).await;
        return;
    }
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
    match first {
        First::CloseAfter(n) => {
            let _ = stream.write_all(&data[..n]).await;
        }
        First::StallAfter(n) => {
            let _ = stream.write_all(&data[..n]).await;
            stalled.notify_one();
            // Hold the connection until the client goes away.
            let mut byte = [0u8; 1];
            let _ = stream.read(&mut byte).await;
        }
    }
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

fn part_of(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(format!(".{name}.part"))).expect("the .part file is kept")
}

#[tokio::test]
async fn a_transfer_cut_mid_body_is_resumed_and_verified_by_the_next_download() {
    bounded("cut, then resumed", async {
        let data = content(400_000);
        let (addr, seen) = holder(data.clone(), First::CloseAfter(150_000), Arc::default()).await;
        let to = tempfile::tempdir().unwrap();
        let options = DownloadOptions::new(to.path());
        let cut = download(&request(addr, "a.bin", &data), &options).await;
        assert!(
            matches!(cut, Err(DownloadError::Truncated { got: 150_000, .. })),
            "{cut:?}"
        );
        assert_eq!(part_of(to.path(), "a.bin"), data[..150_000]);

        let done = download(&request(addr, "a.bin", &data), &options)
            .await
            .expect("the second download resumes");
        assert_eq!(done.size, 400_000);
        assert_eq!(done.resumed_from, 150_000);
        assert_eq!(done.bytes_transferred, 250_000);
        assert!(done.verified);
        assert!(done.bytes_per_sec().is_some());
        assert_eq!(std::fs::read(&done.path).unwrap(), data);
        let heads = seen.lock().unwrap().clone();
        assert!(heads[1].contains("Range: bytes=150000-"), "{heads:?}");
    })
    .await;
}

#[tokio::test]
async fn a_stopped_download_keeps_every_byte_received_and_says_how_many() {
    bounded("stopped, then resumed", async {
        let data = content(1_000_000);
        let stalled = Arc::new(Notify::new());
        // More than one receive buffer (256 KiB), and a part of the next one.
        let sent = 300_000;
        let (addr, _seen) = holder(data.clone(), First::StallAfter(sent), stalled.clone()).await;
        let to = tempfile::tempdir().unwrap();
        let options = DownloadOptions::new(to.path());
        let part = to.path().join(".b.bin.part");
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let watcher = {
            let part = part.clone();
            tokio::spawn(async move {
                stalled.notified().await;
                // Stop once the first buffer is on disk: bytes did arrive.
                while std::fs::metadata(&part).map_or(0, |m| m.len()) < 256 * 1024 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let _ = stop_tx.send(true);
            })
        };
        let stopped = download_until(&request(addr, "b.bin", &data), &options, async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        })
        .await;
        watcher.await.unwrap();
        let Err(DownloadError::Interrupted {
            part: at,
            kept,
            size,
        }) = stopped
        else {
            panic!("{stopped:?}");
        };
        assert_eq!(at, part);
        assert_eq!(size, 1_000_000);
        let on_disk = part_of(to.path(), "b.bin");
        assert_eq!(
            on_disk.len() as u64,
            kept,
            "the error tells what the file holds"
        );
        assert!(kept >= 256 * 1024 && kept <= sent as u64, "{kept}");
        assert_eq!(on_disk, data[..on_disk.len()]);

        let done = download(&request(addr, "b.bin", &data), &options)
            .await
            .expect("the rerun resumes");
        assert_eq!(done.resumed_from, kept);
        assert_eq!(done.bytes_transferred, 1_000_000 - kept);
        assert_eq!(done.size, 1_000_000);
        assert_eq!(std::fs::read(&done.path).unwrap(), data);
    })
    .await;
}

/// `1500000` as `1,500,000`, as the command line prints sizes.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_keeps_the_part_says_where_and_the_same_command_resumes_it() {
    use std::process::Stdio;
    use tokio::process::Command;
    const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

    bounded("search --download, Ctrl-C, search --download", async {
        let data = content(1_000_000);
        let shared = tempfile::tempdir().unwrap();
        std::fs::write(shared.path().join("slow-train.bin"), &data).unwrap();
        let stalled = Arc::new(Notify::new());
        let (http, _seen) = holder(data.clone(), First::StallAfter(300_000), stalled.clone()).await;
        // A peer whose hits send downloaders to the stalling holder.
        let mut peer = Command::new(BIN)
            .args(["peer", "--listen", "127.0.0.1:0", "--advertise"])
            .arg(http.to_string())
            .arg("--share")
            .arg(shared.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(peer.stdout.take().unwrap()).lines();
        let first = out
            .next_line()
            .await
            .unwrap()
            .expect("the peer says where it listens");
        let via = first
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("{first}"))
            .to_string();
        let to = tempfile::tempdir().unwrap();
        let search = || {
            let mut cmd = Command::new(BIN);
            cmd.args(["search", "slow", "train", "--via", &via, "--wait", "1"])
                .args(["--download", "1", "--to"])
                .arg(to.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            cmd
        };

        let interrupted = search().spawn().unwrap();
        stalled.notified().await;
        let part = to.path().join(".slow-train.bin.part");
        while std::fs::metadata(&part).map_or(0, |m| m.len()) < 256 * 1024 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // SAFETY: kill(2) on the process we started.
        let pid = interrupted.id().unwrap() as i32;
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let output = interrupted.wait_with_output().await.unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(130), "{err}");
        let kept = std::fs::metadata(&part).unwrap().len();
        assert!(
            err.contains(&format!(
                "interrupted: {} of 1,000,000 bytes are in {}; run the same command again to \
                 resume",
                thousands(kept),
                part.display()
            )),
            "{err}"
        );

        let resumed = search().output().await.unwrap();
        let out = String::from_utf8_lossy(&resumed.stdout);
        assert!(
            resumed.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        let line = out
            .lines()
            .find(|l| l.starts_with("downloaded "))
            .unwrap_or_else(|| panic!("{out}"));
        let urn = Sha1::of_bytes(&data).to_urn();
        assert!(
            line.starts_with(&format!(
                "downloaded {}: 1,000,000 bytes (resumed at {}; fetched {} this time) in ",
                to.path().join("slow-train.bin").display(),
                thousands(kept),
                thousands(1_000_000 - kept)
            )),
            "{line}"
        );
        assert!(line.ends_with(&format!("; {urn} verified")), "{line}");
        assert_eq!(
            std::fs::read(to.path().join("slow-train.bin")).unwrap(),
            data
        );
        assert!(!part.exists());
        let _ = peer.start_kill();
        let _ = peer.wait().await;
    })
    .await;
}
