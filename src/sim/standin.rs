//! TEMPORARY stand-in for `node::Node` while the routing core is being written: plain
//! flooding with a duplicate table and reverse routes, enough to build and test the
//! simulator's engine against the documented shape. Removed when the real node lands.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rand::SeedableRng;

use crate::node::{Action, ConnId, DropReason, Event, NodeConfig, PeerInfo, SearchRequest, Time};
use crate::protocol::{kind, Extension, Guid, HitRecord, Message, Payload, Query, QueryHit};

use super::config::SimFile;

pub struct Node {
    config: NodeConfig,
    library: Vec<SimFile>,
    rng: rand_chacha::ChaCha8Rng,
    conns: Vec<bool>,
    routes: HashMap<Guid, Option<ConnId>>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
}

impl Node {
    pub fn new(config: NodeConfig, library: Vec<SimFile>, seed: u64) -> Node {
        Node {
            config,
            library,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            conns: Vec::new(),
            routes: HashMap::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }
    pub fn on_connected(&mut self, _now: Time, conn: ConnId, _info: PeerInfo) {
        let i = conn.0 as usize;
        if self.conns.len() <= i {
            self.conns.resize(i + 1, false);
        }
        self.conns[i] = true;
    }
    pub fn on_disconnected(&mut self, _now: Time, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(conn.0 as usize) {
            *c = false;
        }
    }
    pub fn start_search(&mut self, _now: Time, req: &SearchRequest) -> Guid {
        let guid = Guid::random(&mut self.rng);
        let query = match req.sha1 {
            Some(s) => Query::by_urn(s),
            None => Query::keywords(&req.words),
        };
        self.routes.insert(guid, None);
        self.events.push_back(Event::SearchStarted {
            guid,
            words: req.words.clone(),
            ttl: req.ttl,
        });
        let msg = Message {
            guid,
            ttl: req.ttl,
            hops: 0,
            payload: Payload::Query(Arc::new(query)),
        };
        self.forward(msg, None);
        guid
    }
    fn forward(&mut self, msg: Message, except: Option<ConnId>) {
        let mut count = 0;
        for (i, up) in self.conns.iter().enumerate() {
            let c = ConnId(i as u32);
            if *up && Some(c) != except {
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
                kind: kind::QUERY,
                count,
            });
        }
    }
    pub fn on_message(&mut self, _now: Time, from: ConnId, mut msg: Message) {
        match msg.payload.clone() {
            Payload::Query(q) => {
                if self.routes.contains_key(&msg.guid) {
                    self.events.push_back(Event::Dropped {
                        guid: msg.guid,
                        kind: kind::QUERY,
                        reason: DropReason::Duplicate,
                    });
                    return;
                }
                self.routes.insert(msg.guid, Some(from));
                msg.hops += 1;
                msg.ttl = msg.ttl.saturating_sub(1);
                self.events.push_back(Event::QueryReceived {
                    guid: msg.guid,
                    from,
                    hops: msg.hops,
                });
                let words: Vec<String> = q
                    .criteria
                    .to_lowercase()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let sha1s: Vec<_> = q.sha1s().copied().collect();
                let records: Vec<HitRecord> = self
                    .library
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| {
                        sha1s.contains(&f.sha1)
                            || (!words.is_empty()
                                && words.iter().all(|w| {
                                    f.name
                                        .to_lowercase()
                                        .split(|c: char| !c.is_alphanumeric())
                                        .any(|fw| fw.starts_with(w.as_str()))
                                }))
                    })
                    .map(|(i, f)| HitRecord {
                        index: i as u32,
                        size: f.size as u32,
                        name: f.name.clone(),
                        extensions: vec![Extension::Sha1(f.sha1)],
                    })
                    .collect();
                if !records.is_empty() {
                    self.events.push_back(Event::Answered {
                        guid: msg.guid,
                        records: records.len() as u32,
                        from_cache: false,
                    });
                    let hit = QueryHit {
                        port: self.config.advertised_addr.port(),
                        ip: *self.config.advertised_addr.ip(),
                        speed: 1000,
                        records,
                        trailer: None,
                        servent_guid: self.config.servent_guid,
                    };
                    let reply = Message {
                        guid: msg.guid,
                        ttl: msg.hops + 1,
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
                if msg.ttl > 0 {
                    self.forward(msg, Some(from));
                } else {
                    self.events.push_back(Event::Dropped {
                        guid: msg.guid,
                        kind: kind::QUERY,
                        reason: DropReason::TtlExpired,
                    });
                }
            }
            Payload::QueryHit(hit) => match self.routes.get(&msg.guid) {
                Some(None) => self.events.push_back(Event::HitReceived {
                    guid: msg.guid,
                    hops: msg.hops + 1,
                    hit,
                }),
                Some(Some(back)) => {
                    let back = *back;
                    msg.hops += 1;
                    msg.ttl = msg.ttl.saturating_sub(1);
                    self.actions.push_back(Action::Send {
                        to: back,
                        msg: msg.clone(),
                    });
                    self.events.push_back(Event::Sent {
                        guid: msg.guid,
                        kind: kind::QUERY_HIT,
                        count: 1,
                    });
                }
                None => self.events.push_back(Event::Dropped {
                    guid: msg.guid,
                    kind: kind::QUERY_HIT,
                    reason: DropReason::NoRoute,
                }),
            },
            _ => {}
        }
    }
    pub fn poll_timeout(&self) -> Option<Time> {
        None
    }
    pub fn on_timeout(&mut self, _now: Time) {}
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
