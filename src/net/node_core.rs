//! The routing core the live driver runs.
//!
//! TEMPORARY: until `node::Node` lands, this is a minimal flooding stand-in (dedup by
//! GUID, TTL/hops with trimming to `max_ttl`, reverse-path hits, library matching) so the
//! driver can be exercised end to end. It is replaced by an `impl RoutingCore for Node`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::core::RoutingCore;
use crate::node::library::Library;
use crate::node::{Action, ConnId, DropReason, Event, NodeConfig, PeerInfo, SearchRequest, Time};
use crate::protocol::{kind, Guid, Header, Message, Payload, Query, QueryHit, MAX_RECORDS_PER_HIT};

/// The core for a peer with these settings.
pub fn node_core(config: NodeConfig, library: Library, seed: u64) -> Box<dyn RoutingCore> {
    Box::new(StandIn {
        config,
        library,
        rng: ChaCha8Rng::seed_from_u64(seed),
        conns: Vec::new(),
        seen: HashSet::new(),
        routes: HashMap::new(),
        mine: HashSet::new(),
        actions: VecDeque::new(),
        events: VecDeque::new(),
    })
}

struct StandIn {
    config: NodeConfig,
    library: Library,
    rng: ChaCha8Rng,
    conns: Vec<ConnId>,
    seen: HashSet<Guid>,
    routes: HashMap<Guid, ConnId>,
    mine: HashSet<Guid>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl StandIn {
    fn flood(&mut self, except: Option<ConnId>, msg: &Message) {
        let mut count = 0;
        for &c in &self.conns {
            if Some(c) != except {
                self.actions.push_back(Action::Send {
                    to: c,
                    msg: msg.clone(),
                });
                count += 1;
            }
        }
        if count > 0 {
            self.events.push_back(Event::Sent {
                guid: msg.guid,
                kind: msg.payload.kind(),
                count,
            });
        }
    }

    fn on_query(&mut self, from: ConnId, mut msg: Message, query: Arc<Query>) {
        msg.hops = msg.hops.saturating_add(1);
        msg.ttl = msg.ttl.saturating_sub(1);
        if !self.seen.insert(msg.guid) {
            self.events.push_back(Event::Dropped {
                guid: msg.guid,
                kind: kind::QUERY,
                reason: DropReason::Duplicate,
            });
            return;
        }
        self.routes.insert(msg.guid, from);
        self.events.push_back(Event::QueryReceived {
            guid: msg.guid,
            from,
            hops: msg.hops,
        });
        let files: Vec<_> = self
            .library
            .search(&query, self.config.max_results)
            .into_iter()
            .cloned()
            .collect();
        if !files.is_empty() {
            self.events.push_back(Event::Answered {
                guid: msg.guid,
                records: files.len() as u32,
                from_cache: false,
            });
            for chunk in files.chunks(MAX_RECORDS_PER_HIT) {
                let hit = QueryHit {
                    port: self.config.advertised_addr.port(),
                    ip: *self.config.advertised_addr.ip(),
                    speed: 1000,
                    records: chunk.iter().map(|f| f.hit_record()).collect(),
                    trailer: None,
                    servent_guid: self.config.servent_guid,
                };
                let reply = Message {
                    guid: msg.guid,
                    ttl: msg.hops.saturating_add(2),
                    hops: 0,
                    payload: Payload::QueryHit(Arc::new(hit)),
                };
                self.actions.push_back(Action::Send {
                    to: from,
                    msg: reply,
                });
                self.events.push_back(Event::Sent {
                    guid: msg.guid,
                    kind: kind::QUERY_HIT,
                    count: 1,
                });
            }
        }
        let room = self.config.max_ttl.saturating_sub(msg.hops);
        msg.ttl = msg.ttl.min(room);
        if msg.ttl == 0 {
            self.events.push_back(Event::Dropped {
                guid: msg.guid,
                kind: kind::QUERY,
                reason: DropReason::TtlExpired,
            });
            return;
        }
        self.flood(Some(from), &msg);
    }
}

impl RoutingCore for StandIn {
    fn on_connected(&mut self, _now: Time, conn: ConnId, _info: PeerInfo) {
        self.conns.push(conn);
    }

    fn on_message(&mut self, _now: Time, from: ConnId, msg: Message) {
        match msg.payload.clone() {
            Payload::Query(q) => self.on_query(from, msg, q),
            Payload::QueryHit(hit) => {
                if self.mine.contains(&msg.guid) {
                    self.events.push_back(Event::HitReceived {
                        guid: msg.guid,
                        hops: msg.hops.saturating_add(1),
                        hit,
                    });
                    return;
                }
                match self.routes.get(&msg.guid) {
                    Some(&back) => {
                        let fwd = Message {
                            hops: msg.hops.saturating_add(1),
                            ttl: msg.ttl.saturating_sub(1).max(1),
                            ..msg
                        };
                        self.events.push_back(Event::Sent {
                            guid: fwd.guid,
                            kind: kind::QUERY_HIT,
                            count: 1,
                        });
                        self.actions.push_back(Action::Send { to: back, msg: fwd });
                    }
                    None => self.events.push_back(Event::Dropped {
                        guid: msg.guid,
                        kind: kind::QUERY_HIT,
                        reason: DropReason::NoRoute,
                    }),
                }
            }
            _ => {}
        }
    }

    fn on_skipped(&mut self, _now: Time, _from: ConnId, _header: &Header) {}

    fn on_disconnected(&mut self, _now: Time, conn: ConnId) {
        self.conns.retain(|&c| c != conn);
    }

    fn start_search(&mut self, _now: Time, request: &SearchRequest) -> Guid {
        let guid = Guid::random(&mut self.rng);
        self.mine.insert(guid);
        self.seen.insert(guid);
        let query = match request.sha1 {
            Some(sha1) if request.words.is_empty() => Query::by_urn(sha1),
            _ => Query::keywords(&request.words),
        };
        self.events.push_back(Event::SearchStarted {
            guid,
            words: request.words.clone(),
            ttl: request.ttl,
        });
        let msg = Message {
            guid,
            ttl: request.ttl,
            hops: 0,
            payload: Payload::Query(Arc::new(query)),
        };
        self.flood(None, &msg);
        guid
    }

    fn poll_timeout(&self) -> Option<Time> {
        None
    }

    fn on_timeout(&mut self, _now: Time) {}

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
