//! The control API over a sharded launch (`--shards`, `--processes`): the parent serves
//! the calls and forwards each to the child that holds the peer, over the shard protocol
//! (`PEERS`, `KILL`, `REVIVE`, `SEARCH` then `RECORD`, `SNAPSHOT`); [`answer_in_child`]
//! is the child's side.
//!
//! A search's record is merged from every running child's part, as the end-of-run report
//! is (the origin's child alone knows the hits; the others add their relays' counts). A
//! peer of a lost shard shows as down, and calls on it are `503`.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::time::Duration;

use serde_json::Value;

use super::control::{
    report_with_peers, ControlError, Controlled, PeerStatus, SearchCall, SEARCH_MAX_SETTLE,
};
use super::network::{Network, PeerFactory};
use super::report::{peak_rss_bytes, report_json, NetworkSummary};
use super::shard::settle_children;
use super::shard_children::Children;
use super::shard_protocol::{ChildReport, ToChild, ToParent};
use crate::node::record::{merge_records, QueryRecord};
use crate::topology::TopologyConfig;

/// A sharded launch, as the control API drives it from the parent.
pub struct ShardControl<'a> {
    pub children: &'a mut Children,
    pub config: &'a TopologyConfig,
    /// Every peer's listening address, by config index.
    pub addrs: &'a [SocketAddrV4],
    /// The report's `network` part as the launch has it (totals are asked at each call).
    pub summary: NetworkSummary,
    /// No frame in any child for this long means a search has settled.
    pub quiet: Duration,
}

impl ShardControl<'_> {
    /// The config index of peer `id` and the running shard that holds it.
    fn locate(&self, id: &str) -> Result<(usize, usize), ControlError> {
        let unknown = || ControlError::UnknownPeer(id.to_string());
        let index = self.config.peer_index(id).ok_or_else(unknown)?;
        let shard = self.children.shard_of(index).ok_or_else(unknown)?;
        if !self.children.is_running(shard) {
            return Err(lost(id, shard));
        }
        Ok((index, shard))
    }

    /// Asks one shard; `FAIL` is a conflict (the peer's state), silence a loss.
    async fn ask_one<T>(
        &mut self,
        id: &str,
        shard: usize,
        msg: &ToChild,
        pick: impl FnMut(ToParent) -> Result<T, ToParent>,
    ) -> Result<T, ControlError> {
        let answers = self.children.ask(&[shard], msg, false, pick).await;
        match answers.into_iter().next() {
            Some((_, Ok(answer))) => Ok(answer),
            Some((_, Err(why))) => Err(ControlError::Conflict(why)),
            None => Err(lost(id, shard)),
        }
    }

    /// Asks every running shard; the answers of those that gave one.
    async fn ask_all<T>(
        &mut self,
        msg: &ToChild,
        pick: impl FnMut(ToParent) -> Result<T, ToParent>,
    ) -> Vec<T> {
        let running = self.children.running();
        self.children
            .ask(&running, msg, false, pick)
            .await
            .into_iter()
            .filter_map(|(shard, answer)| match answer {
                Ok(answer) => Some(answer),
                Err(why) => {
                    log::warn!("control API: shard {shard} could not answer: {why}");
                    None
                }
            })
            .collect()
    }
}

fn lost(id: &str, shard: usize) -> ControlError {
    ControlError::Unavailable(format!(
        "peer {id} ran in shard {shard}, which was lost (see the launch's stderr)"
    ))
}

impl Controlled for ShardControl<'_> {
    async fn peers(&mut self) -> Vec<PeerStatus> {
        let parts = self
            .ask_all(&ToChild::Peers, |m| match m {
                ToParent::Peers(peers) => Ok(peers),
                other => Err(other),
            })
            .await;
        let mut by_id: HashMap<String, PeerStatus> = parts
            .into_iter()
            .flatten()
            .map(|p| (p.id.clone(), p))
            .collect();
        // Peers of lost shards are down.
        self.config
            .peers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                by_id.remove(&p.id).unwrap_or_else(|| PeerStatus {
                    id: p.id.clone(),
                    address: self
                        .addrs
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0)),
                    up: false,
                    degree: 0,
                    neighbours: Vec::new(),
                    stats: None,
                })
            })
            .collect()
    }

    async fn kill(&mut self, id: &str) -> Result<(), ControlError> {
        let (index, shard) = self.locate(id)?;
        self.ask_one(id, shard, &ToChild::Kill(index), |m| match m {
            ToParent::Done => Ok(()),
            other => Err(other),
        })
        .await
    }

    async fn revive(&mut self, id: &str) -> Result<(), ControlError> {
        let (index, shard) = self.locate(id)?;
        self.ask_one(id, shard, &ToChild::Revive(index), |m| match m {
            ToParent::Done => Ok(()),
            other => Err(other),
        })
        .await
    }

    async fn search(&mut self, call: &SearchCall) -> Result<QueryRecord, ControlError> {
        let (index, shard) = self.locate(&call.from)?;
        let search = ToChild::Search {
            peer: index,
            ttl: call.ttl.unwrap_or(self.config.defaults.ttl),
            words: call.words.clone(),
        };
        let guid = self
            .ask_one(&call.from, shard, &search, |m| match m {
                ToParent::Guid(guid) => Ok(guid),
                other => Err(other),
            })
            .await
            .map_err(|e| match e {
                ControlError::Conflict(why) => {
                    ControlError::Conflict(format!("cannot search: {why}"))
                }
                other => other,
            })?;
        settle_children(self.children, self.quiet, SEARCH_MAX_SETTLE).await;
        let parts = self
            .ask_all(&ToChild::Record(guid), |m| match m {
                ToParent::Records(records) => Ok(records),
                other => Err(other),
            })
            .await;
        let hex = guid.to_hex();
        merge_records(parts.into_iter().flatten().collect())
            .into_iter()
            .find(|r| r.guid == hex)
            .ok_or_else(|| ControlError::Unavailable(format!("the search {hex} left no record")))
    }

    async fn report(&mut self) -> Value {
        let snapshots = self
            .ask_all(&ToChild::Snapshot, |m| match m {
                ToParent::Snapshot(report) => Ok(report),
                other => Err(other),
            })
            .await;
        let mut summary = self.summary.clone();
        summary.totals = Default::default();
        summary.rss_peak_bytes = peak_rss_bytes();
        let mut parts = Vec::new();
        for snapshot in snapshots {
            summary.totals.add(&snapshot.totals);
            if let Some(rss) = snapshot.rss_peak_bytes {
                summary.rss_peak_bytes = Some(summary.rss_peak_bytes.unwrap_or(0) + rss);
            }
            parts.extend(snapshot.records);
        }
        summary.lost_shards = self.children.lost().to_vec();
        let peers = self.peers().await;
        report_with_peers(report_json(&summary, &merge_records(parts)), &peers)
    }

    async fn idle(&mut self) {
        // Notices losses while nobody asks; ends when no child is left.
        self.children.watch().await
    }
}

/// A child's answer to a control message about its peers; `local_of` maps config indices
/// to the child's own.
pub async fn answer_in_child(
    network: &mut Network,
    factory: &mut dyn PeerFactory,
    local_of: &HashMap<usize, usize>,
    msg: ToChild,
) -> ToParent {
    let local = |peer: usize| {
        local_of
            .get(&peer)
            .copied()
            .ok_or_else(|| ToParent::Fail(format!("peer {peer} is not in this shard")))
    };
    match msg {
        ToChild::Peers => ToParent::Peers(network.statuses_with_stats(&*factory).await),
        ToChild::Kill(peer) => {
            let index = match local(peer) {
                Ok(index) => index,
                Err(fail) => return fail,
            };
            match network.peers().get(index) {
                Some(p) if p.is_up() => {
                    network.stop_peer(index).await;
                    ToParent::Done
                }
                Some(p) => ToParent::Fail(format!("peer {} is already stopped", p.id)),
                None => ToParent::Fail(format!("peer {peer} is not in this shard")),
            }
        }
        ToChild::Revive(peer) => {
            let index = match local(peer) {
                Ok(index) => index,
                Err(fail) => return fail,
            };
            let id = network
                .peers()
                .get(index)
                .map_or(peer.to_string(), |p| p.id.clone());
            match network.revive_peer(index, factory).await {
                Ok(()) => ToParent::Done,
                Err(e) => ToParent::Fail(format!("cannot revive peer {id}: {e}")),
            }
        }
        ToChild::Record(guid) => {
            let hex = guid.to_hex();
            ToParent::Records(
                network
                    .records()
                    .await
                    .into_iter()
                    .filter(|r| r.guid == hex)
                    .collect(),
            )
        }
        ToChild::Snapshot => ToParent::Snapshot(Box::new(ChildReport {
            records: network.records().await,
            totals: network.totals(),
            rss_peak_bytes: peak_rss_bytes(),
        })),
        other => ToParent::Fail(format!("{} is not a control message", other.word())),
    }
}
