//! The dynamic overlay's degree policy, driven by hand: a node that knows one bootstrap
//! address dials it, asks it for hosts, dials the hosts its Pongs name, refuses links
//! beyond its maximum and replaces a neighbour that leaves. A static node never dials.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use gnutella::node::overlay::{CHECK_INTERVAL, DIAL_TIMEOUT};
use gnutella::node::{
    ConnId, HostSource, Library, Node, Output, OverlayConfig, OverlayMode, PeerIdentity, PeerInfo,
    RoutingConfig, Time,
};
use gnutella::protocol::{Message, Payload, Pong};

fn addr(i: u8) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 6346)
}

fn node(overlay: OverlayConfig) -> Node {
    let mut n = Node::new(
        Arc::new(RoutingConfig::default()),
        PeerIdentity::derive(7, 0),
        addr(100),
        Library::default(),
    );
    n.enable_overlay(overlay);
    n
}

fn dynamic(min: usize, max: usize) -> OverlayConfig {
    OverlayConfig {
        mode: OverlayMode::Dynamic,
        min_degree: min,
        max_degree: max,
        host_cache: 100,
    }
}

/// Drains the node: (dials, messages sent with their link, next timeout).
fn drain(n: &mut Node) -> (Vec<SocketAddrV4>, Vec<(ConnId, Message)>, Option<Time>) {
    let (mut dials, mut sent) = (Vec::new(), Vec::new());
    loop {
        match n.poll_output() {
            Output::Dial(a) => dials.push(a),
            Output::Send { to, msg } => sent.push((to, msg)),
            Output::Close { .. } | Output::Event(_) | Output::Request(_) => {}
            Output::Timeout(next) => return (dials, sent, next),
        }
    }
}

fn link(n: &mut Node, now: Time, conn: u32, host: SocketAddrV4) {
    n.on_connected(
        now,
        ConnId(conn),
        PeerInfo {
            listen_addr: Some(host),
            ..PeerInfo::default()
        },
    );
}

#[test]
fn a_node_with_one_bootstrap_address_learns_hosts_and_dials_up_to_its_minimum() {
    let mut n = node(dynamic(3, 5));
    n.learn_hosts(Time(0), [addr(1), addr(100)], HostSource::Bootstrap);
    assert_eq!(
        n.overlay().unwrap().hosts().len(),
        1,
        "its own address is not kept"
    );
    let (_, _, next) = drain(&mut n);
    assert_eq!(next, Some(Time(0)), "the first check is due at once");
    n.on_timeout(Time(0));
    let (dials, sent, _) = drain(&mut n);
    assert_eq!(
        dials,
        vec![addr(1)],
        "the bootstrap host, the only one known"
    );
    assert!(sent.is_empty(), "nobody to ask yet");

    // The link is asked for hosts as it comes up (below the minimum, as gtk-gnutella
    // pings a new connection when it needs more), not at the next check.
    link(&mut n, Time(1000), 0, addr(1));
    let (dials, sent, _) = drain(&mut n);
    assert!(dials.is_empty());
    let ping = match sent.as_slice() {
        [(ConnId(0), msg)] => msg.clone(),
        other => panic!("expected one Ping to the bootstrap, got {other:?}"),
    };
    let t = CHECK_INTERVAL;
    n.on_timeout(t);
    let (dials, sent, _) = drain(&mut n);
    assert!(dials.is_empty(), "no other host known");
    assert!(sent.is_empty(), "asked already: {sent:?}");
    assert!(matches!(ping.payload, Payload::Ping(_)));
    assert_eq!(
        ping.ttl, 4,
        "a Ping that fetches Pongs from beyond the neighbour"
    );

    for (i, hops) in [(2u8, 0u8), (3, 1), (4, 2)] {
        let pong = Message {
            guid: ping.guid,
            ttl: 4,
            hops,
            payload: Payload::Pong(Pong {
                port: 6346,
                ip: *addr(i).ip(),
                files: 0,
                kbytes: 0,
                ggep: Default::default(),
            }),
        };
        n.on_message(Time(t.0 + 10), ConnId(0), pong);
    }
    drain(&mut n);
    let hosts = n.overlay().unwrap().hosts();
    assert_eq!(hosts.len(), 4, "the bootstrap and three hosts from Pongs");

    let t2 = Time(2 * t.0);
    n.on_timeout(t2);
    let (mut dials, _, _) = drain(&mut n);
    dials.sort();
    assert_eq!(dials.len(), 2, "two more links make the minimum of three");
    assert!(dials
        .iter()
        .all(|a| [addr(2), addr(3), addr(4)].contains(a)));

    // One fails, one comes up: the failed one is replaced by the host left.
    n.on_dial_failed(t2, dials[0]);
    link(&mut n, t2, 1, dials[1]);
    n.on_timeout(t2);
    let (again, _, _) = drain(&mut n);
    assert_eq!(again.len(), 1);
    assert!(!again.contains(&dials[0]) && !again.contains(&dials[1]));
    link(&mut n, t2, 2, again[0]);
    assert_eq!(n.neighbours().count(), 3);
    assert!(!n.overlay_full());
}

#[test]
fn a_node_at_its_maximum_is_full_and_names_other_hosts_to_try() {
    let mut n = node(dynamic(1, 2));
    n.learn_hosts(Time(0), [addr(1), addr(2), addr(3)], HostSource::XTry);
    link(&mut n, Time(0), 0, addr(1));
    assert!(!n.overlay_full());
    link(&mut n, Time(0), 1, addr(2));
    assert!(n.overlay_full(), "two links of two");
    let tries = n.try_hosts(10);
    assert!(tries.contains(&addr(3)));
    assert!(!tries.contains(&addr(100)), "never ourselves");
}

#[test]
fn a_neighbour_that_leaves_is_replaced_at_once_and_an_unanswered_dial_times_out() {
    let mut n = node(dynamic(2, 4));
    n.learn_hosts(Time(0), [addr(1), addr(2), addr(3)], HostSource::Pong);
    link(&mut n, Time(0), 0, addr(1));
    link(&mut n, Time(0), 1, addr(2));
    n.on_timeout(Time(0));
    let (dials, _, next) = drain(&mut n);
    assert!(dials.is_empty(), "at the minimum");
    assert!(next.unwrap() > Time(0));

    let left = Time::from_secs(3);
    n.on_disconnected(left, ConnId(1));
    let (_, _, next) = drain(&mut n);
    assert_eq!(next, Some(left), "below the minimum: a check at once");
    n.on_timeout(left);
    let (dials, _, _) = drain(&mut n);
    assert_eq!(dials.len(), 1, "one replacement");
    assert_ne!(dials[0], addr(1), "not the neighbour still linked");

    let late = Time(left.0 + DIAL_TIMEOUT.0);
    n.on_timeout(late);
    drain(&mut n);
    assert_eq!(
        n.overlay().unwrap().hosts().get(dials[0]).unwrap().failures,
        1,
        "unanswered, the dial counts as failed"
    );
}

#[test]
fn a_static_node_never_dials_and_keeps_no_host_cache() {
    let mut n = node(OverlayConfig::default());
    n.learn_hosts(Time(0), [addr(1)], HostSource::Bootstrap);
    assert!(n.overlay().is_none());
    let (dials, _, next) = drain(&mut n);
    assert!(dials.is_empty());
    assert_eq!(next, None, "no timer either");
    assert!(!n.overlay_full());
}
