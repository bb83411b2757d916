//! Outbound TCP connections leave from the peer's own listening IP.
//!
//! A listener believes a remote's `Listen-IP` only when it comes from that IP (anyone can
//! claim any address; see `listener`). Left to itself the kernel picks the source address
//! from the route to the destination, which is not always the address the dialling peer
//! listens on: every address of 127/8 is local, but a dial to `127.42.9.1` leaves from
//! `127.0.0.1`, and a multi-homed host (or a network namespace's bridge) has the same
//! problem with its real addresses. The remote then takes the link for a stranger's, and
//! the configured link never counts as up. So a peer listening on a specific address binds
//! its outbound sockets to that address before connecting, as a multi-homed servent must.
//!
//! Binding before connecting would make every outbound socket take an ephemeral port of
//! its own on that address (a plain `connect` may share one port among different
//! destinations); with thousands of links on one address the range runs out. On Linux,
//! `IP_BIND_ADDRESS_NO_PORT` defers the port choice to `connect`, which restores sharing.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use tokio::net::{TcpSocket, TcpStream};

/// The address an outbound socket to `to` should be bound to, if any: the peer's listening
/// IP when it names one address, unless that is a loopback address and `to` is not (a
/// loopback source cannot reach another host; such a dial was misconfigured anyway, and a
/// plain connect gives the clearer error).
pub fn source_for(listen_ip: Ipv4Addr, to: SocketAddrV4) -> Option<Ipv4Addr> {
    if listen_ip.is_unspecified() || listen_ip.is_multicast() || listen_ip.is_broadcast() {
        return None;
    }
    if listen_ip.is_loopback() && !to.ip().is_loopback() {
        return None;
    }
    Some(listen_ip)
}

/// Connects to `to`, from `listen_ip` when [`source_for`] says so.
pub async fn connect_from(listen_ip: Ipv4Addr, to: SocketAddrV4) -> io::Result<TcpStream> {
    let Some(source) = source_for(listen_ip, to) else {
        return TcpStream::connect(to).await;
    };
    let socket = TcpSocket::new_v4()?;
    defer_port_choice(&socket);
    socket.bind(SocketAddr::V4(SocketAddrV4::new(source, 0)))?;
    socket.connect(SocketAddr::V4(to)).await
}

/// Asks the kernel to pick the source port at `connect` rather than at `bind` (Linux
/// 4.2+). Failing that, binding still works, only with less port sharing.
#[cfg(target_os = "linux")]
fn defer_port_choice(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: the descriptor is the open socket `socket` owns for the whole call, and the
    // option value is a live `c_int` whose size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!(
            "IP_BIND_ADDRESS_NO_PORT: {} (ports are chosen at bind)",
            io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn defer_port_choice(_socket: &TcpSocket) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn binds_to_a_specific_listening_ip() {
        let ip = Ipv4Addr::new(127, 42, 9, 1);
        assert_eq!(source_for(ip, addr("127.0.0.1:6346")), Some(ip));
        let lan = Ipv4Addr::new(10, 0, 0, 5);
        assert_eq!(source_for(lan, addr("10.0.0.6:6346")), Some(lan));
        assert_eq!(source_for(lan, addr("127.0.0.1:6346")), Some(lan));
    }

    #[test]
    fn leaves_the_choice_to_the_kernel_otherwise() {
        assert_eq!(source_for(Ipv4Addr::UNSPECIFIED, addr("10.0.0.6:1")), None);
        assert_eq!(source_for(Ipv4Addr::LOCALHOST, addr("192.0.2.7:1")), None);
    }

    #[tokio::test]
    async fn the_remote_sees_the_listening_ip() {
        let ip = Ipv4Addr::new(127, 42, 9, 1);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let SocketAddr::V4(to) = listener.local_addr().unwrap() else {
            unreachable!("bound to an IPv4 address")
        };
        let (dialled, accepted) = tokio::join!(connect_from(ip, to), listener.accept());
        let dialled = dialled.unwrap();
        let (_, remote) = accepted.unwrap();
        assert_eq!(remote.ip(), std::net::IpAddr::V4(ip));
        assert_eq!(dialled.local_addr().unwrap().ip(), std::net::IpAddr::V4(ip));
    }
}
