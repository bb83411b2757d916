//! A peer's listening socket: one port for both Gnutella and HTTP, as real servents do.
//!
//! The first line decides: `GNUTELLA CONNECT/0.6` opens the handshake, `GET`/`HEAD` goes to
//! the file server with the bytes already read, anything else (including the refused 0.4
//! handshake) is closed. Each accepted socket gets its own task, so a slow or hostile client
//! holds only itself up, for at most the handshake timeout.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::config::NetConfig;
use super::handshake::{self, LocalInfo};
use super::link::{self, LinkCompression};
use super::peer::{PeerInput, PeerRef};
use crate::node::PeerInfo;
use crate::protocol::handshake::Rejection;

/// Serves one HTTP connection, given the bytes already read from it.
pub type HttpHandler =
    Arc<dyn Fn(TcpStream, BytesMut) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Accepts connections until the peer stops.
pub fn spawn_listener(
    listener: TcpListener,
    peer: PeerRef,
    local: LocalInfo,
    net: NetConfig,
    http: Option<HttpHandler>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut stopping = peer.stopping.clone();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopping.wait_for(|s| *s) => return,
            };
            match accepted {
                Ok((stream, remote)) => {
                    let peer = peer.clone();
                    let local = local.clone();
                    let http = http.clone();
                    tokio::spawn(async move {
                        incoming(stream, remote, peer, local, net, http).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors, typically: wait a little rather than spin.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn incoming(
    mut stream: TcpStream,
    remote: SocketAddr,
    peer: PeerRef,
    local: LocalInfo,
    net: NetConfig,
    http: Option<HttpHandler>,
) {
    let mut buf = BytesMut::with_capacity(1024);
    let first = tokio::time::timeout(
        net.handshake.timeout,
        handshake::peek_first_line(&mut stream, &mut buf, &net.handshake),
    )
    .await;
    let first = match first {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            log::debug!("{remote}: {e}");
            peer.shared
                .failed_handshakes
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(_) => {
            log::debug!("{remote}: no first line in time");
            peer.shared
                .failed_handshakes
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if first.starts_with("GET ") || first.starts_with("HEAD ") {
        match http {
            Some(serve) => serve(stream, buf).await,
            None => log::debug!("{remote}: HTTP request but no file server"),
        }
        return;
    }
    if !handshake::is_connect_06(&first) {
        log::debug!("{remote}: closing, not a 0.6 handshake: {first:?}");
        peer.shared
            .failed_handshakes
            .fetch_add(1, Ordering::Relaxed);
        return;
    }
    let shared = peer.shared.clone();
    let mut claimed = None;
    let result = handshake::accept(
        &mut stream,
        buf,
        &local,
        Some(remote),
        &net.handshake,
        |n| {
            if *peer.stopping.borrow() {
                return Err(Rejection::Busy);
            }
            if let Some(addr) = n.listen_addr {
                if addr == local.listen_addr {
                    return Err(Rejection::AlreadyConnected);
                }
                if !shared.claim(addr) {
                    return Err(Rejection::AlreadyConnected);
                }
                claimed = Some(addr);
            }
            Ok(())
        },
    )
    .await;
    let (negotiated, leftover) = match result {
        Ok(ok) => ok,
        Err(e) => {
            log::debug!("{remote}: inbound handshake failed: {e}");
            peer.shared
                .failed_handshakes
                .fetch_add(1, Ordering::Relaxed);
            if let Some(addr) = claimed {
                peer.shared.release(&addr);
            }
            return;
        }
    };
    let conn = peer.shared.alloc_conn();
    let compression = LinkCompression {
        deflate_in: negotiated.deflate_in,
        deflate_out: negotiated.deflate_out,
    };
    let (handle, go) = link::start(
        stream,
        leftover,
        conn,
        compression,
        net.link,
        peer.tx.clone(),
    );
    let info = PeerInfo {
        listen_addr: claimed,
        accepts_bye: negotiated.remote.accepts_bye,
    };
    if peer
        .tx
        .send(PeerInput::LinkUp {
            conn,
            info,
            link: handle,
            down: None,
        })
        .await
        .is_ok()
    {
        let _ = go.send(());
    } else if let Some(addr) = claimed {
        peer.shared.release(&addr);
    }
}
