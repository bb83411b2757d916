//! The control API over a network whose peers all run in this process: each call is a
//! method of the launch's [`Network`], and a revived peer is rebuilt by the factory the
//! network was started with (so it has the same identity, share and settings).

use serde_json::Value;

use super::control::{
    report_with_peers, ControlError, Controlled, PeerStatus, SearchCall, SEARCH_MAX_SETTLE,
};
use super::network::{Network, NetworkError, PeerFactory};
use super::report::{peak_rss_bytes, report_json, NetworkSummary};
use crate::node::record::QueryRecord;
use crate::node::SearchRequest;
use crate::topology::TopologyConfig;

/// A launch in one process, as the control API drives it.
pub struct LocalControl<'a> {
    pub network: &'a mut Network,
    pub factory: &'a mut dyn PeerFactory,
    pub config: &'a TopologyConfig,
    /// The report's `network` part as the launch has it (totals are taken at each call).
    pub summary: NetworkSummary,
    /// No frame for this long means a search has settled.
    pub quiet: std::time::Duration,
}

impl LocalControl<'_> {
    fn index(&self, id: &str) -> Result<usize, ControlError> {
        self.network
            .peer_index(id)
            .map_err(|_| ControlError::UnknownPeer(id.to_string()))
    }
}

impl Controlled for LocalControl<'_> {
    async fn peers(&mut self) -> Vec<PeerStatus> {
        self.network.statuses_with_stats(&*self.factory).await
    }

    async fn kill(&mut self, id: &str) -> Result<(), ControlError> {
        let index = self.index(id)?;
        if !self.network.peers().get(index).is_some_and(|p| p.is_up()) {
            return Err(ControlError::Conflict(format!(
                "peer {id} is already stopped"
            )));
        }
        self.network.stop_peer(index).await;
        Ok(())
    }

    async fn revive(&mut self, id: &str) -> Result<(), ControlError> {
        let index = self.index(id)?;
        self.network
            .revive_peer(index, self.factory)
            .await
            .map_err(|e| match e {
                NetworkError::UnknownPeer(_) => ControlError::UnknownPeer(id.to_string()),
                other => ControlError::Conflict(format!("cannot revive peer {id}: {other}")),
            })
    }

    async fn search(&mut self, call: &SearchCall) -> Result<QueryRecord, ControlError> {
        let index = self.index(&call.from)?;
        let ttl = call.ttl.unwrap_or(self.config.defaults.ttl);
        let guid = self
            .network
            .search(index, SearchRequest::from_words(&call.words, ttl))
            .await
            .map_err(|e| ControlError::Conflict(format!("cannot search: {e}")))?;
        self.network.settle(self.quiet, SEARCH_MAX_SETTLE).await;
        let guid = guid.to_hex();
        self.network
            .records()
            .await
            .into_iter()
            .find(|r| r.guid == guid)
            .ok_or_else(|| ControlError::Unavailable(format!("the search {guid} left no record")))
    }

    async fn report(&mut self) -> Value {
        let mut summary = self.summary.clone();
        summary.totals = self.network.totals();
        summary.rss_peak_bytes = peak_rss_bytes();
        let peers = self.peers().await;
        report_with_peers(report_json(&summary, &self.network.records().await), &peers)
    }
}
