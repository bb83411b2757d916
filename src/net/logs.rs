//! What the live driver writes to the log, and how it keeps remotes from writing there.
//!
//! Levels (`RUST_LOG`): `debug` shows every link going up or down (with the remote's
//! address, user agent and the handshake headers that shaped the link, and why it ended),
//! every handshake refusal in either direction and every failed dial; `trace` adds one line
//! per routing decision of the core: forwarded, duplicate, re-forwarded, dropped and why,
//! answered, a hit routed back or delivered to our own search. Lines start with the peer's
//! config id (`p3: link up ...`), and a neighbour is named by its config id when this
//! process knows it, by its address otherwise.
//!
//! Text that came from the network (Bye reasons, header values, user agents, file names,
//! query words, refusal reasons) goes through [`Clean`] or [`Quoted`] on its way into a
//! line: control characters (CR, LF, ESC, ...), Unicode line separators and bidi
//! overrides are written as escapes, and very long values are cut, so a remote can neither
//! start a forged log line nor repaint the terminal.
//!
//! The node stays free of logging (it is sans-IO, and the simulator runs millions of
//! them): the actor describes the core's [`Event`]s after each input, and only when trace
//! is enabled, so a run without trace pays nothing per descriptor.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddrV4;
use std::sync::{Arc, RwLock};

use crate::node::{DropReason, Event};
use crate::protocol::handshake::PeerCapabilities;
use crate::protocol::{kind, Guid, Message, Payload};

/// Longest piece of remote text written into one log line, in characters.
pub const MAX_LOGGED_CHARS: usize = 200;

/// Most neighbours listed by name in one decision line.
const MAX_LISTED: usize = 8;

/// Whether `c` must not reach a log line as it is: it ends a line, moves the cursor,
/// starts a terminal escape, or reorders how the rest of the line is shown.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Writes through to `out`, escaping as it goes and stopping after `MAX_LOGGED_CHARS`.
struct Escaper<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    written: usize,
    cut: usize,
    quotes: bool,
}

impl fmt::Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.written >= MAX_LOGGED_CHARS {
                self.cut += 1;
                continue;
            }
            self.written += 1;
            match c {
                '\n' => self.out.write_str("\\n")?,
                '\r' => self.out.write_str("\\r")?,
                '\t' => self.out.write_str("\\t")?,
                '"' | '\\' if self.quotes => {
                    self.out.write_char('\\')?;
                    self.out.write_char(c)?;
                }
                c if needs_escape(c) => write!(self.out, "\\u{{{:x}}}", c as u32)?,
                c => self.out.write_char(c)?,
            }
        }
        Ok(())
    }
}

fn escaped(f: &mut fmt::Formatter<'_>, value: &dyn fmt::Display, quotes: bool) -> fmt::Result {
    let mut w = Escaper {
        out: f,
        written: 0,
        cut: 0,
        quotes,
    };
    write!(w, "{value}")?;
    let cut = w.cut;
    if cut > 0 {
        write!(f, "...(+{cut} chars)")?;
    }
    Ok(())
}

/// Displays a value (remote text, or an error that may carry some) on one line: control
/// and line-breaking characters are escaped, and anything past [`MAX_LOGGED_CHARS`] is cut.
pub struct Clean<T>(pub T);

impl<T: fmt::Display> fmt::Display for Clean<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escaped(f, &self.0, false)
    }
}

/// Like [`Clean`], in double quotes, with `"` and `\` escaped too: a quoted value cannot
/// end early and fake the fields after it.
pub struct Quoted<T>(pub T);

impl<T: fmt::Display> fmt::Display for Quoted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        escaped(f, &self.0, true)?;
        f.write_char('"')
    }
}

/// Config ids by listening address, shared by the peers of a process (read when a link
/// comes up, so a lock costs nothing that matters).
#[derive(Debug, Default)]
pub struct Directory(RwLock<HashMap<SocketAddrV4, Arc<str>>>);

impl Directory {
    pub fn insert(&self, addr: SocketAddrV4, id: &str) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert(addr, id.into());
    }

    pub fn get(&self, addr: &SocketAddrV4) -> Option<Arc<str>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(addr).cloned()
    }
}

/// How a peer's log lines name it and the other peers its process knows.
#[derive(Clone, Debug, Default)]
pub struct LogNames {
    /// The peer's config id.
    pub own: Arc<str>,
    /// Config ids of the peers this process knows.
    pub known: Arc<Directory>,
}

impl LogNames {
    /// The config id of the peer listening at `addr`, if known.
    pub fn of(&self, addr: Option<SocketAddrV4>) -> Option<Arc<str>> {
        self.known.get(&addr?)
    }
}

/// The handshake headers that shaped a link, as `Name=value` fields: the remote's user
/// agent, the listening address it claimed (and whether we took its word), its role, Bye
/// support, GGEP, the negotiated compression, its TTL limit and degree.
pub fn handshake_fields(
    remote: &PeerCapabilities,
    slot: Option<SocketAddrV4>,
    deflate_in: bool,
    deflate_out: bool,
) -> String {
    let mut out = String::new();
    match &remote.user_agent {
        Some(agent) => {
            let _ = write!(out, "agent={}", Quoted(agent));
        }
        None => out.push_str("agent=none"),
    }
    if let Some(said) = remote.listen_addr {
        let _ = write!(out, " Listen-IP={said}");
        if slot.is_none() {
            out.push_str("(ignored)");
        } else if slot != Some(said) {
            let _ = write!(out, "(as {})", slot.unwrap_or(said));
        }
    }
    if let Some(ultrapeer) = remote.ultrapeer {
        let _ = write!(out, " X-Ultrapeer={ultrapeer}");
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = write!(
        out,
        " Bye-Packet={} GGEP={}",
        yes(remote.accepts_bye),
        yes(remote.ggep)
    );
    let deflate = match (deflate_in, deflate_out) {
        (true, true) => "in+out",
        (true, false) => "in",
        (false, true) => "out",
        (false, false) => "off",
    };
    let _ = write!(out, " deflate={deflate}");
    if let Some(ttl) = remote.max_ttl {
        let _ = write!(out, " X-Max-TTL={ttl}");
    }
    if let Some(degree) = remote.degree {
        let _ = write!(out, " X-Degree={degree}");
    }
    out
}

/// The name of a descriptor type.
pub struct KindName(pub u8);

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            kind::PING => f.write_str("Ping"),
            kind::PONG => f.write_str("Pong"),
            kind::BYE => f.write_str("Bye"),
            kind::PUSH => f.write_str("Push"),
            kind::QUERY => f.write_str("Query"),
            kind::QUERY_HIT => f.write_str("QueryHit"),
            other => write!(f, "type {other:#04x}"),
        }
    }
}

/// Why a descriptor went no further, in words.
pub fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::Duplicate => "duplicate",
        DropReason::TtlExpired => "TTL expired",
        DropReason::OverMaxTtl => "hops+TTL above max_ttl",
        DropReason::NoRoute => "no reverse route",
        DropReason::BackToHolder => "its next hop is the servent it names",
        DropReason::TooBig => "too big to forward",
        DropReason::BadPayload => "malformed payload",
        DropReason::UnknownType => "unknown payload type",
        DropReason::BadQuery => "bad query criteria",
        DropReason::AnsweredFromCache => "answered from the cache (answer-and-stop)",
        DropReason::BadTtl => "arrived with TTL 0 or hops 255",
        DropReason::Throttled => {
            "throttled (a Ping within the link's Ping interval, or a leaf's query beyond its dynamic-query share)"
        }
        DropReason::QueueFull => "send queue full",
        DropReason::LinkDown => "its link went down",
        DropReason::LinkLoss => "lost on the link",
        DropReason::InFlight => "still in flight at the end",
    }
}

/// A descriptor that reached the actor, described for the trace line of its decisions.
#[derive(Clone, Debug)]
pub struct Received {
    pub kind: u8,
    pub guid: Guid,
    pub ttl: u8,
    pub hops: u8,
    /// The neighbour it came from (config id or address).
    pub from: String,
    /// A few words on the payload (query words, records of a hit), escaped.
    pub what: String,
}

impl Received {
    pub fn of(msg: &Message, from: String) -> Received {
        let what = match &msg.payload {
            Payload::Query(q) => format!(" {}", Quoted(&q.criteria)),
            Payload::QueryHit(h) => format!(
                " ({} record{} from {}:{})",
                h.records.len(),
                plural(h.records.len()),
                h.ip,
                h.port
            ),
            Payload::Pong(p) => format!(" ({}:{})", p.ip, p.port),
            Payload::Push(p) => format!(" (for servent {})", p.servent_guid),
            _ => String::new(),
        };
        Received {
            kind: msg.payload.kind(),
            guid: msg.guid,
            ttl: msg.ttl,
            hops: msg.hops,
            from,
            what,
        }
    }
}

/// One descriptor the actor put on a link, for the trace line that says where it went.
#[derive(Clone, Debug)]
pub struct SentTo {
    pub guid: Guid,
    pub kind: u8,
    pub to: String,
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `[p4 p6]`, the neighbours a descriptor of this GUID and type went to.
fn targets(sends: &[SentTo], guid: Guid, kind: u8) -> String {
    let names: Vec<&str> = sends
        .iter()
        .filter(|s| s.guid == guid && s.kind == kind)
        .map(|s| s.to.as_str())
        .collect();
    if names.is_empty() {
        return String::new();
    }
    let mut out = String::from(" [");
    for (i, name) in names.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(name);
    }
    if names.len() > MAX_LISTED {
        let _ = write!(out, " +{} more", names.len() - MAX_LISTED);
    }
    out.push(']');
    out
}

fn links(n: u32) -> String {
    format!("{n} link{}", plural(n as usize))
}

/// What a hit for our own search brought: its first file names, and where it came from
/// unless the line already says (`holder`).
fn hit_summary(
    hops: u8,
    cached: Option<u8>,
    hit: &crate::protocol::QueryHit,
    holder: bool,
) -> String {
    let mut out = format!("hit for our own search (hops {hops}");
    if let Some(holder_hops) = cached {
        let _ = write!(out, ", from a cache: holder {holder_hops} hops beyond");
    }
    if holder {
        let n = hit.records.len();
        let _ = write!(
            out,
            ", {n} record{} from {}:{}",
            plural(n),
            hit.ip,
            hit.port
        );
    }
    out.push(')');
    for (i, record) in hit.records.iter().take(3).enumerate() {
        out.push_str(if i == 0 { ": " } else { ", " });
        let _ = write!(out, "{}", Quoted(&record.name));
    }
    if hit.records.len() > 3 {
        out.push_str(", ...");
    }
    out
}

/// The trace lines for what the core did after one input: one line for a descriptor that
/// arrived (`received`), with every decision it led to; one line per event otherwise (a
/// search of ours, a timer). `sends` are the descriptors put on links meanwhile; `walking`
/// says the strategy is random walks (a repeated query is then a walker passing again).
pub fn describe(
    received: Option<&Received>,
    events: &[Event],
    sends: &[SentTo],
    walking: bool,
) -> Vec<String> {
    match received {
        Some(r) => vec![describe_received(r, events, sends, walking)],
        None => events.iter().map(|e| describe_event(e, sends)).collect(),
    }
}

fn describe_received(r: &Received, events: &[Event], sends: &[SentTo], walking: bool) -> String {
    let first_copy = events
        .iter()
        .any(|e| matches!(e, Event::QueryReceived { guid, .. } if *guid == r.guid));
    let repeat = events
        .iter()
        .any(|e| matches!(e, Event::Reforwarded { guid, .. } if *guid == r.guid));
    let mut parts: Vec<String> = Vec::new();
    let mut went_on = false;
    for event in events {
        if event.guid() != r.guid {
            parts.push(describe_event(event, sends));
            continue;
        }
        let part = match event {
            Event::SearchStarted { .. } => describe_event(event, sends),
            Event::QueryReceived { hops, .. } => format!("first copy (hops {hops})"),
            // Said with the forward that follows (or its absence, below).
            Event::Reforwarded { .. } => continue,
            Event::Answered {
                records,
                from_cache,
                ..
            } => format!(
                "answered {records} record{} from {}",
                plural(*records as usize),
                if *from_cache {
                    "the cache"
                } else {
                    "the library"
                }
            ),
            Event::Sent { kind, count, .. } => {
                let to = targets(sends, r.guid, *kind);
                if *kind == r.kind {
                    went_on = true;
                    match *kind {
                        kind::QUERY if repeat && walking => {
                            format!("walker passed on to {}{to}", links(*count))
                        }
                        kind::QUERY if repeat => format!(
                            "re-forwarded to {}{to} (a repeat with more TTL left)",
                            links(*count)
                        ),
                        kind::QUERY | kind::PING => {
                            format!("forwarded to {}{to}", links(*count))
                        }
                        kind::QUERY_HIT => format!("hit routed back{to}"),
                        _ => format!("routed on{to}"),
                    }
                } else if *kind == kind::QUERY_HIT && r.kind == kind::QUERY {
                    format!("{count} QueryHit{} sent back{to}", plural(*count as usize))
                } else if *kind == kind::PONG && r.kind == kind::PING {
                    format!("answered with a Pong{to}")
                } else {
                    format!("sent {count} {}{to}", KindName(*kind))
                }
            }
            Event::Dropped { kind, reason, .. } => {
                if *kind == r.kind {
                    went_on = true;
                }
                let what = if *kind == r.kind {
                    String::new()
                } else {
                    format!(" {}", KindName(*kind))
                };
                match reason {
                    DropReason::Duplicate => format!("duplicate{what}, dropped"),
                    DropReason::TtlExpired if first_copy => {
                        format!("not forwarded{what}: {}", drop_reason(*reason))
                    }
                    DropReason::AnsweredFromCache => {
                        format!("not forwarded{what}: {}", drop_reason(*reason))
                    }
                    _ => format!("dropped{what}: {}", drop_reason(*reason)),
                }
            }
            Event::HitReceived {
                hops, hit, cached, ..
            } => {
                went_on = true;
                hit_summary(*hops, *cached, hit, false)
            }
        };
        parts.push(part);
    }
    if first_copy && !went_on {
        parts.push("forwarded to no link (no other neighbour)".into());
    }
    if repeat && !went_on {
        parts.push("re-forwarded to no link (no other neighbour)".into());
    }
    if parts.is_empty() {
        parts.push(match r.kind {
            kind::PONG => "a reply to our own Ping (the link is alive)".into(),
            _ => "no action".into(),
        });
    }
    format!(
        "{} {} from {} ttl={} hops={}{}: {}",
        KindName(r.kind),
        r.guid,
        r.from,
        r.ttl,
        r.hops,
        r.what,
        parts.join(", ")
    )
}

fn describe_event(event: &Event, sends: &[SentTo]) -> String {
    match event {
        Event::SearchStarted {
            guid,
            words,
            ttl,
            strategy,
        } => format!(
            "search {guid} started: {} ttl={ttl} strategy={strategy}",
            Quoted(words)
        ),
        Event::QueryReceived { guid, from, hops } => {
            format!(
                "Query {guid}: first copy from link {} (hops {hops})",
                from.0
            )
        }
        Event::Reforwarded { guid, from } => {
            format!("Query {guid}: a repeat from link {} re-forwarded", from.0)
        }
        Event::Sent { guid, kind, count } => format!(
            "{} {guid} sent to {}{}",
            KindName(*kind),
            links(*count),
            targets(sends, *guid, *kind)
        ),
        Event::Dropped { guid, kind, reason } => {
            format!(
                "{} {guid} dropped: {}",
                KindName(*kind),
                drop_reason(*reason)
            )
        }
        Event::Answered {
            guid,
            records,
            from_cache,
        } => format!(
            "Query {guid}: answered {records} record{} from {}",
            plural(*records as usize),
            if *from_cache {
                "the cache"
            } else {
                "the library"
            }
        ),
        Event::HitReceived {
            guid,
            hops,
            hit,
            cached,
        } => {
            format!(
                "QueryHit {guid}: {}",
                hit_summary(*hops, *cached, hit, true)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{HitRecord, Query, QueryHit};

    #[test]
    fn clean_escapes_what_could_break_a_line() {
        let hostile = "bye\r\nFAKE p1: link up\x1b[2J\u{202E}gnp\u{2028}end\u{85}";
        let shown = Clean(hostile).to_string();
        assert_eq!(
            shown,
            "bye\\r\\nFAKE p1: link up\\u{1b}[2J\\u{202e}gnp\\u{2028}end\\u{85}"
        );
        assert!(shown.chars().all(|c| !needs_escape(c)));
        // Ordinary text, quotes and non-ASCII names pass unchanged.
        assert_eq!(
            Clean("Jürgen's \"jazz\" – vol 2").to_string(),
            "Jürgen's \"jazz\" – vol 2"
        );
    }

    #[test]
    fn quoted_cannot_end_early() {
        assert_eq!(
            Quoted("a\" bye=yes \\").to_string(),
            "\"a\\\" bye=yes \\\\\""
        );
        assert_eq!(Quoted("line\nbreak").to_string(), "\"line\\nbreak\"");
    }

    #[test]
    fn handshake_fields_escape_the_agent() {
        let remote = PeerCapabilities {
            user_agent: Some("evil\r\nFAKE\x1b[31m".into()),
            listen_addr: Some("10.0.0.1:6346".parse().unwrap()),
            ultrapeer: Some(false),
            accepts_bye: true,
            ..PeerCapabilities::default()
        };
        let shown = handshake_fields(&remote, None, true, false);
        assert_eq!(
            shown,
            "agent=\"evil\\r\\nFAKE\\u{1b}[31m\" Listen-IP=10.0.0.1:6346(ignored) \
             X-Ultrapeer=false Bye-Packet=yes GGEP=no deflate=in"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(MAX_LOGGED_CHARS + 50);
        let shown = Clean(&long).to_string();
        assert!(shown.starts_with(&"x".repeat(MAX_LOGGED_CHARS)));
        assert!(shown.ends_with("...(+50 chars)"), "{shown}");
        // Errors that carry remote text are cleaned through their Display.
        let err = std::io::Error::other("a\nb");
        assert_eq!(Clean(&err).to_string(), "a\\nb");
    }

    fn guid(b: u8) -> Guid {
        Guid([b; 16])
    }

    fn query_from(from: &str, ttl: u8, hops: u8) -> Received {
        let msg = Message {
            guid: guid(1),
            ttl,
            hops,
            payload: Payload::Query(Arc::new(Query::keywords("jazz\nFAKE"))),
        };
        Received::of(&msg, from.into())
    }

    fn sends(kind: u8, to: &[&str]) -> Vec<SentTo> {
        to.iter()
            .map(|t| SentTo {
                guid: guid(1),
                kind,
                to: (*t).into(),
            })
            .collect()
    }

    #[test]
    fn a_first_copy_is_answered_and_forwarded() {
        let r = query_from("p1", 3, 1);
        let events = vec![
            Event::QueryReceived {
                guid: guid(1),
                from: crate::node::ConnId(0),
                hops: 2,
            },
            Event::Answered {
                guid: guid(1),
                records: 2,
                from_cache: false,
            },
            Event::Sent {
                guid: guid(1),
                kind: kind::QUERY_HIT,
                count: 1,
            },
            Event::Sent {
                guid: guid(1),
                kind: kind::QUERY,
                count: 2,
            },
        ];
        let mut out = sends(kind::QUERY_HIT, &["p1"]);
        out.extend(sends(kind::QUERY, &["p4", "p6"]));
        let lines = describe(Some(&r), &events, &out, false);
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert!(
            line.starts_with(&format!(
                "Query {} from p1 ttl=3 hops=1 \"jazz\\nFAKE\": ",
                guid(1)
            )),
            "{line}"
        );
        assert!(line.contains("first copy (hops 2)"), "{line}");
        assert!(
            line.contains("answered 2 records from the library"),
            "{line}"
        );
        assert!(line.contains("1 QueryHit sent back [p1]"), "{line}");
        assert!(line.contains("forwarded to 2 links [p4 p6]"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn repeats_are_duplicates_or_re_forwards() {
        let r = query_from("p2", 4, 1);
        let dup = vec![Event::Dropped {
            guid: guid(1),
            kind: kind::QUERY,
            reason: DropReason::Duplicate,
        }];
        let line = &describe(Some(&r), &dup, &[], false)[0];
        assert!(line.ends_with(": duplicate, dropped"), "{line}");
        let again = vec![
            Event::Reforwarded {
                guid: guid(1),
                from: crate::node::ConnId(0),
            },
            Event::Sent {
                guid: guid(1),
                kind: kind::QUERY,
                count: 3,
            },
        ];
        let out = sends(kind::QUERY, &["p3", "p5", "p7"]);
        let line = &describe(Some(&r), &again, &out, false)[0];
        assert!(
            line.ends_with(": re-forwarded to 3 links [p3 p5 p7] (a repeat with more TTL left)"),
            "{line}"
        );
        let line = &describe(Some(&r), &again, &out, true)[0];
        assert!(line.contains("walker passed on"), "{line}");
        // A first copy with nobody else to go to says so.
        let alone = vec![Event::QueryReceived {
            guid: guid(1),
            from: crate::node::ConnId(0),
            hops: 2,
        }];
        let line = &describe(Some(&r), &alone, &[], false)[0];
        assert!(line.ends_with("forwarded to no link (no other neighbour)"));
    }

    #[test]
    fn hits_are_routed_back_or_delivered() {
        let hit = Arc::new(QueryHit {
            port: 6346,
            ip: [127, 0, 0, 1].into(),
            speed: 1,
            records: vec![HitRecord {
                index: 1,
                size: 10,
                name: "evil\r\nname.mp3".into(),
                extensions: Vec::new(),
            }],
            trailer: None,
            servent_guid: guid(9),
        });
        let msg = Message {
            guid: guid(1),
            ttl: 3,
            hops: 2,
            payload: Payload::QueryHit(hit.clone()),
        };
        let r = Received::of(&msg, "p5".into());
        let routed = vec![Event::Sent {
            guid: guid(1),
            kind: kind::QUERY_HIT,
            count: 1,
        }];
        let line = &describe(Some(&r), &routed, &sends(kind::QUERY_HIT, &["p0"]), false)[0];
        assert!(line.ends_with(": hit routed back [p0]"), "{line}");
        let ours = vec![Event::HitReceived {
            guid: guid(1),
            hops: 3,
            hit,
            cached: None,
        }];
        let line = &describe(Some(&r), &ours, &[], false)[0];
        assert!(
            line.ends_with("hit for our own search (hops 3): \"evil\\r\\nname.mp3\""),
            "{line}"
        );
        let lost = vec![Event::Dropped {
            guid: guid(1),
            kind: kind::QUERY_HIT,
            reason: DropReason::NoRoute,
        }];
        let line = &describe(Some(&r), &lost, &[], false)[0];
        assert!(line.ends_with(": dropped: no reverse route"), "{line}");
    }
}
