//! Download benchmark helper for `scripts/bench-download.sh`: our HTTP server and our
//! downloader as two separate processes, so each one's memory and speed can be measured
//! on its own and compared with nginx and curl.
//!
//! ```text
//! cargo run --release --example http_bench -- serve FILE ADDR   # prints "LISTENING <addr> <urn> <size>"
//! cargo run --release --example http_bench -- get ADDR URN SIZE NAME DIR
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use gnutella::net::download::{download, DownloadOptions, DownloadRequest};
use gnutella::net::http_server::{HttpConfig, HttpServer};
use gnutella::net::share::Share;
use gnutella::protocol::Sha1;

fn usage() -> ExitCode {
    eprintln!("usage: http_bench serve FILE ADDR | http_bench get ADDR URN SIZE NAME DIR");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", file, addr] => serve(PathBuf::from(file), addr).await,
        ["get", addr, urn, size, name, dir] => get(addr, urn, size, name, dir).await,
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(file: PathBuf, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let dir = file.parent().ok_or("FILE has no folder")?.to_path_buf();
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("bad FILE name")?
        .to_string();
    let share = Share::scan_dir_async(dir).await?;
    let entry = share
        .entries()
        .iter()
        .find(|e| e.name == name)
        .ok_or("FILE not shared")?
        .clone();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "LISTENING {} {} {}",
        listener.local_addr()?,
        entry.sha1.to_urn(),
        entry.size
    );
    let server = HttpServer::new(Arc::new(share), HttpConfig::default());
    server.run(listener).await?;
    Ok(())
}

async fn get(
    addr: &str,
    urn: &str,
    size: &str,
    name: &str,
    dir: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = addr.parse()?;
    let sha1 = Sha1::from_urn(urn).ok_or("bad URN")?;
    let request = DownloadRequest {
        addr,
        index: 0,
        name: name.to_string(),
        size: size.parse()?,
        sha1: Some(sha1),
    };
    let started = Instant::now();
    let done = download(&request, &DownloadOptions::new(dir)).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "DOWNLOADED {} bytes in {secs:.3} s = {:.1} MB/s (SHA-1 verified) -> {}",
        done.bytes_transferred,
        done.bytes_transferred as f64 / secs / 1e6,
        done.path.display()
    );
    Ok(())
}
