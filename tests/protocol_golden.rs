//! Golden byte vectors, written by hand from PROTOCOL.md (not produced by our encoder):
//! each is decoded to the values a real servent meant and re-encoded to the same bytes.
//! The shapes are those of real servents: LimeWire queries end with a NUL, gtk-gnutella
//! ones do not; hits carry a QHD trailer; Bye carries a code and a text.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use gnutella::protocol::handshake::{
    parse_request, parse_response, ConnectRequest, Headers, Limits, LocalCapabilities, Parsed,
    PeerCapabilities, Response,
};
use gnutella::protocol::{
    decode_header, Bye, Extension, Frame, FrameDecoder, Guid, HitRecord, Message, Payload, Ping,
    Pong, Push, QhdFlags, QhdTrailer, Query, QueryHit, Sha1,
};

/// Hex pairs and "quoted ASCII", whitespace ignored: the vectors stay readable by hand.
fn h(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            for q in chars.by_ref() {
                if q == '"' {
                    break;
                }
                out.push(q as u8);
            }
        } else if c.is_ascii_hexdigit() {
            let lo = chars.next().expect("hex pairs");
            out.push(u8::from_str_radix(&format!("{c}{lo}"), 16).expect("hex"));
        } else {
            assert!(c.is_whitespace(), "unexpected {c:?}");
        }
    }
    out
}

const MUID: &str = "00 11 22 33 44 55 66 77 FF 99 AA BB CC DD EE 00";
const SERVENT: &str = "10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F";

fn muid() -> Guid {
    Guid([
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0xFF, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE,
        0x00,
    ])
}

fn servent() -> Guid {
    Guid([
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E,
        0x1F,
    ])
}

fn sha1(base32: &str) -> Sha1 {
    Sha1::from_base32(base32).expect("valid base32")
}

/// Decodes `wire` as one frame, checks the value, re-encodes, checks the bytes.
fn golden(wire: &[u8], expected: Message) {
    let mut buf = BytesMut::from(wire);
    let frame = FrameDecoder::new()
        .decode(&mut buf)
        .expect("not fatal")
        .expect("complete frame");
    assert_eq!(frame, Frame::Message(expected.clone()));
    assert!(buf.is_empty(), "the frame used every byte");
    let header = decode_header(wire).expect("header");
    assert_eq!(
        header.payload_len as usize,
        wire.len() - 23,
        "the length field"
    );
    assert_eq!(expected.encoded_len(), wire.len());
    assert_eq!(
        &expected.to_bytes()[..],
        wire,
        "re-encoding gives the same bytes"
    );
}

fn msg(ttl: u8, hops: u8, payload: Payload) -> Message {
    Message {
        guid: muid(),
        ttl,
        hops,
        payload,
    }
}

#[test]
fn ping_empty_and_with_ggep() {
    golden(
        &h(&format!("{MUID} 00 01 00 00 00 00 00")),
        msg(1, 0, Payload::Ping(Ping::default())),
    );
    // GGEP "SCP" (wants packed hosts), empty data: C3, flags last|idlen 3, "SCP", len 0.
    let wire = h(&format!(r#"{MUID} 00 03 01 06 00 00 00  C3 83 "SCP" 40"#));
    let ggep = Bytes::from(h(r#"C3 83 "SCP" 40"#));
    golden(&wire, msg(3, 1, Payload::Ping(Ping { ggep })));
}

#[test]
fn pong() {
    // Port 6346 (CA 18 LE), 208.17.50.4 in network order, 3 files, 1024 KB (an UP mark).
    let wire = h(&format!(
        "{MUID} 01 02 01 0E 00 00 00  CA 18  D0 11 32 04  03 00 00 00  00 04 00 00"
    ));
    let pong = Pong {
        port: 6346,
        ip: Ipv4Addr::new(208, 17, 50, 4),
        files: 3,
        kbytes: 1024,
        ggep: Bytes::new(),
    };
    golden(&wire, msg(2, 1, Payload::Pong(pong)));
}

#[test]
fn limewire_urn_query_with_trailing_nul() {
    // Flags B8 00: marker, XML wanted, leaf-guided, GGEP-H understood. Criteria `\`.
    let wire = h(&format!(
        r#"{MUID} 80 03 01 2E 00 00 00  B8 00 5C 00 "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB" 00"#
    ));
    let query = Query {
        flags: 0xB800,
        criteria: "\\".into(),
        extensions: vec![Extension::Sha1(sha1("PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB"))],
        trailing_nul: true,
    };
    golden(&wire, msg(3, 1, Payload::Query(Arc::new(query))));
}

#[test]
fn limewire_keyword_query_asking_for_urns() {
    let wire = h(&format!(
        r#"{MUID} 80 06 00 12 00 00 00  80 00 "debian iso" 00 "urn:" 00"#
    ));
    let query = Query {
        flags: 0x8000,
        criteria: "debian iso".into(),
        extensions: vec![Extension::Other(Bytes::from_static(b"urn:"))],
        trailing_nul: true,
    };
    golden(&wire, msg(6, 0, Payload::Query(Arc::new(query))));
}

#[test]
fn gtk_gnutella_query_without_trailing_nul_and_ggep_holding_a_separator() {
    // Flags 88 00; "linux iso"; urn, FS, GGEP "M" (media mask) whose one data byte is 0x1C.
    let wire = h(&format!(
        r#"{MUID} 80 04 00 3B 00 00 00  88 00 "linux iso" 00
           "urn:sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ" 1C  C3 81 "M" 41 1C"#
    ));
    let query = Query {
        flags: 0x8800,
        criteria: "linux iso".into(),
        extensions: vec![
            Extension::Sha1(Sha1::of_bytes(b"")),
            Extension::Ggep(Bytes::from(h(r#"C3 81 "M" 41 1C"#))),
        ],
        trailing_nul: false,
    };
    golden(&wire, msg(4, 0, Payload::Query(Arc::new(query))));
}

#[test]
fn our_keyword_query_carries_the_flag_marker() {
    // gtk-gnutella drops a query whose flags field is 00 00; ours starts 0x88.
    let wire = h(&format!(
        r#"{MUID} 80 04 00 09 00 00 00  88 00 "debian" 00"#
    ));
    golden(
        &wire,
        msg(4, 0, Payload::Query(Arc::new(Query::keywords("debian")))),
    );
}

#[test]
fn query_hit_with_gtk_gnutella_qhd() {
    // 1 record; port 6346; 192.168.1.10; 1000 kb/s. Record: index 7, 1 MiB, name, urn.
    // QHD: "GTKG", 2 open bytes 2C 21 (GGEP valid and set), private GGEP "BH".
    let wire = h(&format!(
        r#"{MUID} 81 05 02 6F 00 00 00
           01 CA 18 C0 A8 01 0A E8 03 00 00
           07 00 00 00 00 00 10 00 "debian-12-netinst.iso" 00
           "urn:sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ" 00
           "GTKG" 02 2C 21 C3 82 "BH" 40
           {SERVENT}"#
    ));
    let trailer = QhdTrailer {
        vendor: *b"GTKG",
        open_data: vec![0x2C, 0x21],
        private: Bytes::from(h(r#"C3 82 "BH" 40"#)),
    };
    assert_eq!(
        trailer.flags(),
        QhdFlags {
            ggep: true,
            ..QhdFlags::default()
        }
    );
    assert!(trailer.vendor_is(b"gtkg"));
    let hit = QueryHit {
        port: 6346,
        ip: Ipv4Addr::new(192, 168, 1, 10),
        speed: 1000,
        records: vec![HitRecord {
            index: 7,
            size: 1 << 20,
            name: "debian-12-netinst.iso".into(),
            extensions: vec![Extension::Sha1(Sha1::of_bytes(b""))],
        }],
        trailer: Some(trailer),
        servent_guid: servent(),
    };
    golden(&wire, msg(5, 2, Payload::QueryHit(Arc::new(hit))));
}

#[test]
fn query_hit_whose_sha1_is_only_in_ggep_h() {
    // What gtk-gnutella sends to a query flagged "understands GGEP H": no HUGE string,
    // the digest in GGEP "H" (type 01 + 20 bytes) between the record's NULs.
    let digest = Sha1::of_bytes(b"");
    let mut block = h(r#"C3 81 "H" 55 01"#);
    block.extend(digest.0);
    let wire = [
        h(&format!(
            r#"{MUID} 81 05 02 {len:02X} 00 00 00
               01 CA 18 C0 A8 01 0A E8 03 00 00
               07 00 00 00 00 00 10 00 "a.iso" 00"#,
            len = 11 + 8 + 6 + block.len() + 1 + 7 + 16
        )),
        block.clone(),
        h(&format!(r#"00 "GTKG" 02 2C 01 {SERVENT}"#)),
    ]
    .concat();
    let record = HitRecord {
        index: 7,
        size: 1 << 20,
        name: "a.iso".into(),
        extensions: vec![Extension::Ggep(Bytes::from(block))],
    };
    assert_eq!(record.sha1(), Some(digest), "GGEP H alone is the SHA-1");
    let hit = QueryHit {
        port: 6346,
        ip: Ipv4Addr::new(192, 168, 1, 10),
        speed: 1000,
        records: vec![record],
        trailer: Some(QhdTrailer {
            vendor: *b"GTKG",
            open_data: vec![0x2C, 0x01],
            private: Bytes::new(),
        }),
        servent_guid: servent(),
    };
    golden(&wire, msg(5, 2, Payload::QueryHit(Arc::new(hit))));
}

#[test]
fn a_record_sha1_is_read_from_every_form() {
    let digest = Sha1::of_bytes(b"");
    let base32 = digest.to_base32();
    let tiger = "A".repeat(39);
    let record = |extensions: Vec<Extension>| HitRecord {
        index: 0,
        size: 0,
        name: "x".into(),
        extensions,
    };
    let ggep = |id: &str, data: &[u8]| {
        let mut block = vec![0xC3, 0x80 | id.len() as u8];
        block.extend(id.bytes());
        block.push(0x40 | data.len() as u8);
        block.extend(data);
        Extension::Ggep(Bytes::from(block))
    };
    let area = |text: String| {
        let bytes = Bytes::from(text.into_bytes());
        gnutella::protocol::extensions::parse_area(&bytes, false)
            .expect("valid area")
            .0
    };
    let mut h_bitprint = vec![0x02];
    h_bitprint.extend(digest.0);
    h_bitprint.extend([7u8; 24]);
    let forms = [
        ("HUGE sha1", area(format!("urn:sha1:{base32}"))),
        (
            "HUGE bitprint",
            area(format!("urn:bitprint:{base32}.{tiger}")),
        ),
        (
            "GGEP H sha1",
            vec![ggep("H", &[&[1u8][..], &digest.0].concat())],
        ),
        ("GGEP H bitprint", vec![ggep("H", &h_bitprint)]),
        (
            "GGEP u sha1",
            vec![ggep("u", format!("sha1:{base32}").as_bytes())],
        ),
        (
            "after metadata",
            area(format!("192 kbps\x1curn:sha1:{base32}")),
        ),
    ];
    for (what, extensions) in forms {
        assert_eq!(record(extensions).sha1(), Some(digest), "{what}");
    }
    assert_eq!(record(area("192 kbps".into())).sha1(), None);
}

#[test]
fn query_hit_limewire_shape_two_records_push_needed() {
    // QHD "LIME" with 4 open bytes: 3D 11 = push needed (valid), measured speed; XML size 1
    // (just its NUL, the last byte before the GUID).
    let wire = h(&format!(
        r#"{MUID} 81 03 00 6C 00 00 00
           02 00 00 00 00 00 00 40 00 00 00
           01 00 00 00 64 00 00 00 "a.txt" 00 "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB" 00
           02 00 00 00 C8 00 00 00 "b.txt" 00 00
           "LIME" 04 3D 11 01 00 00
           {SERVENT}"#
    ));
    let trailer = QhdTrailer {
        vendor: *b"LIME",
        open_data: vec![0x3D, 0x11, 0x01, 0x00],
        private: Bytes::from_static(&[0x00]),
    };
    let flags = trailer.flags();
    assert!(flags.push && flags.measured_speed && !flags.busy);
    let hit = QueryHit {
        port: 0,
        ip: Ipv4Addr::new(0, 0, 0, 0),
        speed: 64,
        records: vec![
            HitRecord {
                index: 1,
                size: 100,
                name: "a.txt".into(),
                extensions: vec![Extension::Sha1(sha1("PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB"))],
            },
            HitRecord {
                index: 2,
                size: 200,
                name: "b.txt".into(),
                extensions: vec![],
            },
        ],
        trailer: Some(trailer),
        servent_guid: servent(),
    };
    golden(&wire, msg(3, 0, Payload::QueryHit(Arc::new(hit))));
}

#[test]
fn our_qhd_is_written_as_gtk_gnutella_writes_its_own() {
    let wire = h(&format!(
        r#"{MUID} 81 02 00 2D 00 00 00
           01 CA 18 7F 00 00 01 00 00 00 00
           00 00 00 00 03 00 00 00 "x" 00 00
           "GNRS" 02 2C 01
           {SERVENT}"#
    ));
    let hit = QueryHit {
        port: 6346,
        ip: Ipv4Addr::LOCALHOST,
        speed: 0,
        records: vec![HitRecord {
            index: 0,
            size: 3,
            name: "x".into(),
            extensions: vec![],
        }],
        trailer: Some(QhdTrailer::ours(false, false)),
        servent_guid: servent(),
    };
    golden(&wire, msg(2, 0, Payload::QueryHit(Arc::new(hit))));
}

#[test]
fn push() {
    // Target servent, file index 7, connect back to 10.0.0.5:6347 (CB 18 LE).
    let wire = h(&format!(
        "{MUID} 40 04 00 1A 00 00 00  {SERVENT} 07 00 00 00 0A 00 00 05 CB 18"
    ));
    let push = Push {
        servent_guid: servent(),
        index: 7,
        ip: Ipv4Addr::new(10, 0, 0, 5),
        port: 6347,
        ggep: Bytes::new(),
    };
    golden(&wire, msg(4, 0, Payload::Push(push)));
}

#[test]
fn bye_normal_shutdown_and_with_server_header() {
    let wire = h(&format!(
        r#"{MUID} 02 01 00 0B 00 00 00  C8 00 "Shutdown" 00"#
    ));
    let bye = Bye {
        code: 200,
        message: "Shutdown".into(),
    };
    golden(&wire, msg(1, 0, Payload::Bye(bye)));
    // gtk-gnutella appends `\r\nServer: ...\r\n\r\n` to every code but 200.
    let wire = h(&format!(
        r#"{MUID} 02 01 00 24 00 00 00  90 01 "Too big" 0D 0A "Server: gtk-gnutella" 0D 0A 0D 0A 00"#
    ));
    let bye = Bye {
        code: 400,
        message: "Too big\r\nServer: gtk-gnutella\r\n\r\n".into(),
    };
    golden(&wire, msg(1, 0, Payload::Bye(bye)));
}

#[test]
fn vendor_messages_of_dynamic_querying_have_the_bytes_gtk_gnutella_sends() {
    use gnutella::protocol::{Vendor, VendorId};
    // Messages Supported: vendor 00000000, selector 0, version 0, count, entries.
    let wire = h(&format!(
        r#"{MUID} 31 01 00 1A 00 00 00 00 00 00 00 00 00 00 00 02 00 "BEAR" 0B 00 01 00 "BEAR" 0C 00 01 00"#
    ));
    let ids = vec![
        VendorId::QUERY_STATUS_REQUEST,
        VendorId::QUERY_STATUS_RESPONSE,
    ];
    golden(
        &wire,
        msg(1, 0, Payload::Vendor(Vendor::MessagesSupported(ids))),
    );
    // BEAR/11 v1 Query Status Request: no body, the query's GUID as MUID.
    let wire = h(&format!(
        r#"{MUID} 31 01 00 08 00 00 00 "BEAR" 0B 00 01 00"#
    ));
    golden(
        &wire,
        msg(1, 0, Payload::Vendor(Vendor::QueryStatusRequest)),
    );
    // BEAR/12 v1 Query Status Response: results kept, u16 LE (0xFFFF: stop).
    let wire = h(&format!(
        r#"{MUID} 31 01 00 0A 00 00 00 "BEAR" 0C 00 01 00 2A 00"#
    ));
    golden(
        &wire,
        msg(
            1,
            0,
            Payload::Vendor(Vendor::QueryStatusResponse { kept: 42 }),
        ),
    );
}

#[test]
fn a_stream_of_every_type_decodes_in_order_and_skips_unknown_types() {
    let mut wire = h(&format!("{MUID} 00 01 00 00 00 00 00"));
    // A vendor message (0x31) we do not speak: read as one, kept as bytes.
    wire.extend(h(&format!(
        r#"{MUID} 31 01 00 08 00 00 00 "GTKG" 01 00 01 00"#
    )));
    // HSEP (0xCD): skipped, the stream goes on.
    wire.extend(h(&format!(r#"{MUID} CD 01 00 02 00 00 00 01 02"#)));
    wire.extend(h(&format!(
        r#"{MUID} 02 01 00 0B 00 00 00  C8 00 "Shutdown" 00"#
    )));
    let mut buf = BytesMut::from(&wire[..]);
    let mut dec = FrameDecoder::new();
    let kinds: Vec<String> = std::iter::from_fn(|| dec.decode(&mut buf).expect("not fatal"))
        .map(|f| match f {
            Frame::Message(m) => format!("{:02x}", m.payload.kind()),
            Frame::Skipped { header, reason } => format!("skip {:02x}: {reason}", header.kind),
        })
        .collect();
    assert_eq!(
        kinds,
        ["00", "31", "skip cd: unknown payload type 0xcd", "02"]
    );
}

const LIMEWIRE_CONNECT: &[u8] = b"GNUTELLA CONNECT/0.6\r\n\
User-Agent: LimeWire/4.10.9\r\n\
X-Ultrapeer: True\r\n\
X-Query-Routing: 0.1\r\n\
Accept-Encoding: deflate\r\n\
Listen-IP: 1.2.3.4:6346\r\n\
X-Max-TTL: 3\r\n\
X-Degree: 32\r\n\
\r\n";

const GTKG_ANSWER: &[u8] = b"GNUTELLA/0.6 200 OK\r\n\
User-Agent: gtk-gnutella/1.2.2 (2022-02-25; GTK2; Linux x86_64)\r\n\
X-Ultrapeer: True\r\n\
Node: 5.6.7.8:6346\r\n\
Remote-IP: 1.2.3.4\r\n\
Bye-Packet: 0.1\r\n\
GGEP: 0.5\r\n\
GUID: 101112131415161718191a1b1c1d1e1f\r\n\
Accept-Encoding: deflate\r\n\
Content-Encoding: deflate\r\n\
\r\n";

const FINAL_OK: &[u8] = b"GNUTELLA/0.6 200 OK\r\nContent-Encoding: deflate\r\n\r\n";

fn done<T: std::fmt::Debug>(parsed: Parsed<T>) -> (usize, T) {
    match parsed {
        Parsed::Done { consumed, value } => (consumed, value),
        Parsed::NeedMore => panic!("block incomplete"),
    }
}

#[test]
fn handshake_three_way_golden() {
    let limits = Limits::default();
    // Step 1, followed by the first binary byte of the stream, which is not consumed.
    let mut wire = LIMEWIRE_CONNECT.to_vec();
    wire.push(0xC3);
    let (used, request) = done(parse_request(&wire, &limits).expect("valid"));
    assert_eq!(used, LIMEWIRE_CONNECT.len());
    assert_eq!(request.headers.get("user-agent"), Some("LimeWire/4.10.9"));
    assert_eq!(
        request.to_bytes(),
        LIMEWIRE_CONNECT,
        "re-encoded identically"
    );
    let client = PeerCapabilities::from_headers(&request.headers);
    assert_eq!(client.listen_addr, Some("1.2.3.4:6346".parse().unwrap()));
    assert_eq!(client.max_ttl, Some(3));
    assert!(client.accepts_deflate && !client.accepts_bye && !client.ggep);
    assert_eq!(client.servent_guid, None, "LimeWire sends no GUID header");

    // Step 2.
    let (_, answer) = done(parse_response(GTKG_ANSWER, &limits).expect("valid"));
    assert!(answer.is_ok());
    assert_eq!(answer.to_bytes(), GTKG_ANSWER);
    let server = PeerCapabilities::from_headers(&answer.headers);
    assert_eq!(server.listen_addr, Some("5.6.7.8:6346".parse().unwrap()));
    assert_eq!(server.remote_ip, Some(Ipv4Addr::new(1, 2, 3, 4)));
    assert!(server.accepts_bye && server.ggep && server.sends_deflate);
    assert_eq!(
        server.servent_guid,
        Some(servent()),
        "gtk-gnutella's GUID header"
    );

    // Step 3.
    let (_, last) = done(parse_response(FINAL_OK, &limits).expect("valid"));
    assert_eq!(last.headers.get("CONTENT-ENCODING"), Some("deflate"));
    assert_eq!(last.to_bytes(), FINAL_OK);

    // The same blocks with bare LF line ends mean the same thing.
    let lf: Vec<u8> = LIMEWIRE_CONNECT
        .iter()
        .copied()
        .filter(|&b| b != b'\r')
        .collect();
    let (used, lf_request) = done(parse_request(&lf, &limits).expect("valid"));
    assert_eq!((used, lf_request), (lf.len(), request));
}

#[test]
fn handshake_refusal_golden() {
    let wire = b"GNUTELLA/0.6 503 Too many connections\r\nX-Try-Ultrapeers: 1.2.3.4:6346,5.6.7.8:6347\r\n\r\n";
    let (_, refusal) = done(parse_response(wire, &Limits::default()).expect("valid"));
    assert!(!refusal.is_ok());
    assert_eq!(refusal.code, 503);
    let mut headers = Headers::new();
    headers.append("X-Try-Ultrapeers", "1.2.3.4:6346,5.6.7.8:6347");
    let ours = Response::reject(gnutella::protocol::handshake::Rejection::Busy, headers);
    assert_eq!(ours.to_bytes(), wire.to_vec());
}

#[test]
fn our_connect_headers_golden() {
    let local = LocalCapabilities {
        user_agent: "gnutella-rs/test".into(),
        listen_addr: Some("127.0.0.1:6346".parse().unwrap()),
        accept_deflate: true,
        ..LocalCapabilities::default()
    };
    let expected: &[u8] = b"GNUTELLA CONNECT/0.6\r\n\
User-Agent: gnutella-rs/test\r\n\
X-Ultrapeer: True\r\n\
Listen-IP: 127.0.0.1:6346\r\n\
Node: 127.0.0.1:6346\r\n\
Bye-Packet: 0.1\r\n\
X-Max-TTL: 4\r\n\
X-Degree: 32\r\n\
Accept-Encoding: deflate\r\n\
\r\n";
    assert_eq!(
        ConnectRequest::new(local.connect_headers(None)).to_bytes(),
        expected
    );
    // With our servent GUID, the `GUID` line gtk-gnutella sends and reads.
    let named = LocalCapabilities {
        servent_guid: Some(servent()),
        ..local
    };
    let headers = named.connect_headers(None);
    assert_eq!(
        headers.get("GUID"),
        Some("101112131415161718191a1b1c1d1e1f")
    );
    assert_eq!(
        PeerCapabilities::from_headers(&headers).servent_guid,
        Some(servent())
    );
    let mut garbage = Headers::new();
    garbage.append("GUID", "not-a-guid");
    assert_eq!(PeerCapabilities::from_headers(&garbage).servent_guid, None);
}
