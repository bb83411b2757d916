//! The control API's calls: what a user may ask of a running launch (list the peers, stop
//! one, start it again, search from one, read the report so far), as one narrow interface
//! between what asks and what runs the peers.
//!
//! What asks holds a [`Controller`] (the HTTP server of `control_http`; a live page could
//! hold another): it sends a [`Call`] and waits for the JSON answer. What runs the peers
//! implements [`Controlled`] — a [`Network`](super::network::Network) in this process
//! (`control_local`), or the children of a sharded launch (`control_shards`) — and
//! answers the calls in [`Calls::serve`], on its own task, one at a time. So the network
//! is never shared between tasks (a launch owns it, as before), and a call that stops or
//! starts a peer cannot race another call.
//!
//! A launch takes calls only while it is serving them (after its overlay is up and its
//! workload, if any, has run); a call before that, or one that finds the queue full, is
//! answered at once with [`ControlError::Unavailable`], never left hanging.

use std::net::SocketAddrV4;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::node::record::QueryRecord;
use crate::validate::{check_search_words, opt_ttl};

/// Calls waiting to be answered; more are refused as busy.
const QUEUE: usize = 8;
/// The longest a call may wait for its answer (a search settles within
/// [`SEARCH_MAX_SETTLE`] plus the quiet time).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a search call waits for its flood to settle.
pub const SEARCH_MAX_SETTLE: Duration = Duration::from_secs(10);

/// What a user may ask of a running launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// Every peer: running or not, degree, neighbours.
    Peers,
    /// Stop the peer with this config id.
    Kill(String),
    /// Start the stopped peer with this config id again.
    Revive(String),
    /// Search from a peer and wait until the query settles.
    Search(SearchCall),
    /// The report so far (what `--report` writes at the end).
    Report,
}

/// A search asked for: `{"from": "p3", "words": "free software", "ttl": 7}` (`ttl` may be
/// left out: the config's default TTL).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchCall {
    pub from: String,
    pub words: String,
    #[serde(default, deserialize_with = "opt_ttl")]
    pub ttl: Option<u8>,
}

impl SearchCall {
    /// Reads a JSON body, with the same checks as the command line's (TTL 1 to 255,
    /// words holding a keyword).
    pub fn from_json(body: &[u8]) -> Result<SearchCall, ControlError> {
        let call: SearchCall = serde_json::from_slice(body).map_err(|e| {
            ControlError::BadRequest(if e.is_data() {
                format!("bad search: {e}")
            } else {
                format!(
                    "the search body is not JSON {{\"from\": PEER, \"words\": WORDS, \"ttl\": 1-255}}: {e}"
                )
            })
        })?;
        check_search_words(&call.words).map_err(|e| ControlError::BadRequest(e.to_string()))?;
        Ok(call)
    }
}

/// One peer as `GET /peers` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Its config id.
    pub id: String,
    /// Its listening address.
    pub address: SocketAddrV4,
    /// Running (not stopped, nor in a lost shard).
    pub up: bool,
    /// Links up now.
    pub degree: usize,
    /// Its neighbours, by config id (by address for a peer the launch does not know).
    pub neighbours: Vec<String>,
    /// Its statistics over all its runs (the `--peer-stats` row); absent where a
    /// process could not ask its peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<crate::node::PeerStats>,
}

/// `GET /report`'s answer: the report as `--report` writes it, plus `peers`, each peer's
/// statistics row (what `--peer-stats` writes at the end), in config order.
pub fn report_with_peers(mut report: Value, peers: &[PeerStatus]) -> Value {
    let rows: Vec<&crate::node::PeerStats> =
        peers.iter().filter_map(|p| p.stats.as_ref()).collect();
    if let Value::Object(map) = &mut report {
        map.insert(
            "peers".to_string(),
            serde_json::to_value(rows).unwrap_or_default(),
        );
    }
    report
}

/// Why a call was not answered as asked; each maps to one HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no peer named {0:?}")]
    UnknownPeer(String),
    #[error("{0}")]
    BadRequest(String),
    /// The peer is not in a state to do it: stopping a stopped peer, searching from one.
    #[error("{0}")]
    Conflict(String),
    /// The launch cannot answer now: not serving yet, busy, stopping, or a shard lost.
    #[error("{0}")]
    Unavailable(String),
}

impl ControlError {
    /// The HTTP status that says it.
    pub fn status(&self) -> u16 {
        match self {
            ControlError::UnknownPeer(_) => 404,
            ControlError::BadRequest(_) => 400,
            ControlError::Conflict(_) => 409,
            ControlError::Unavailable(_) => 503,
        }
    }
}

/// What runs the peers, as the control API sees it. Calls are answered one at a time on
/// the launch's own task (never spawned, so no `Send` bound is needed).
#[allow(async_fn_in_trait)]
pub trait Controlled {
    async fn peers(&mut self) -> Vec<PeerStatus>;
    async fn kill(&mut self, id: &str) -> Result<(), ControlError>;
    async fn revive(&mut self, id: &str) -> Result<(), ControlError>;
    /// Starts the search, waits until the network is quiet (or [`SEARCH_MAX_SETTLE`]) and
    /// returns the query's record.
    async fn search(&mut self, call: &SearchCall) -> Result<QueryRecord, ControlError>;
    /// The report as `--report` would write it now.
    async fn report(&mut self) -> Value;
    /// Runs while no call is being answered; returns when the network can answer nothing
    /// more (every shard ended). Must be cancel-safe.
    async fn idle(&mut self) {
        std::future::pending::<()>().await
    }
}

/// Answers `call` on `network`, as JSON.
pub async fn answer<C: Controlled>(network: &mut C, call: &Call) -> Result<Value, ControlError> {
    Ok(match call {
        Call::Peers => serde_json::to_value(network.peers().await).unwrap_or_default(),
        Call::Kill(id) => {
            network.kill(id).await?;
            serde_json::json!({ "id": id, "up": false })
        }
        Call::Revive(id) => {
            network.revive(id).await?;
            serde_json::json!({ "id": id, "up": true })
        }
        Call::Search(search) => network.search(search).await?.to_json(),
        Call::Report => network.report().await,
    })
}

struct Request {
    call: Call,
    reply: oneshot::Sender<Result<Value, ControlError>>,
}

/// The asking end: cheap to clone, one per server.
#[derive(Clone)]
pub struct Controller {
    tx: mpsc::Sender<Request>,
    serving: watch::Receiver<bool>,
}

/// The answering end, held by the launch.
pub struct Calls {
    rx: mpsc::Receiver<Request>,
    serving: watch::Sender<bool>,
}

/// A connected pair.
pub fn channel() -> (Controller, Calls) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (serving, watching) = watch::channel(false);
    (
        Controller {
            tx,
            serving: watching,
        },
        Calls { rx, serving },
    )
}

impl Controller {
    /// Asks the launch and waits for its answer (at most [`CALL_TIMEOUT`]).
    pub async fn call(&self, call: Call) -> Result<Value, ControlError> {
        if !*self.serving.borrow() {
            return Err(ControlError::Unavailable(
                "the launch takes calls once its overlay is up and its workload has run; \
                 try again shortly"
                    .into(),
            ));
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Request { call, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ControlError::Unavailable(format!(
                    "{QUEUE} calls are already waiting; try again shortly"
                )),
                mpsc::error::TrySendError::Closed(_) => stopping(),
            })?;
        match tokio::time::timeout(CALL_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(stopping()),
            Err(_) => Err(ControlError::Unavailable(format!(
                "no answer within {} s",
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }
}

fn stopping() -> ControlError {
    ControlError::Unavailable("the launch is stopping".into())
}

/// Marks the launch as serving while it lives (a cancelled serve stops taking calls).
struct Serving<'a>(&'a watch::Sender<bool>);

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

impl Calls {
    /// Answers calls on `network` until it can answer nothing more ([`Controlled::idle`]
    /// returned). Race it with a stop signal to end it; calls still queued then are
    /// answered "the launch is stopping" once `self` is dropped.
    pub async fn serve<C: Controlled>(&mut self, network: &mut C) {
        self.serving.send_replace(true);
        let _serving = Serving(&self.serving);
        loop {
            let request = tokio::select! {
                request = self.rx.recv() => request,
                _ = network.idle() => return,
            };
            // The senders live in the server, which outlives the launch's serving.
            let Some(request) = request else { return };
            // A caller that gave up has closed its end: skip the work.
            if request.reply.is_closed() {
                continue;
            }
            let result = answer(network, &request.call).await;
            let _ = request.reply.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_bodies_are_checked_like_the_command_line() {
        let ok = SearchCall::from_json(br#"{"from": "p3", "words": "free software", "ttl": 7}"#)
            .unwrap();
        assert_eq!(ok.ttl, Some(7));
        let default_ttl = SearchCall::from_json(br#"{"from": "p3", "words": "x"}"#).unwrap();
        assert_eq!(default_ttl.ttl, None);
        for (body, says) in [
            (
                &br#"{"from": "p3", "words": "x", "ttl": 0}"#[..],
                "from 1 to 255",
            ),
            (
                br#"{"from": "p3", "words": "x", "ttl": 300}"#,
                "from 1 to 255",
            ),
            (br#"{"from": "p3", "words": "  "}"#, "hold no keyword"),
            (br#"{"from": "p3"}"#, "missing field `words`"),
            (
                br#"{"from": "p3", "words": "x", "tll": 3}"#,
                "unknown field",
            ),
            (b"from=p3", "is not JSON"),
        ] {
            let err = SearchCall::from_json(body).unwrap_err();
            assert_eq!(err.status(), 400);
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    /// A network of one peer, "p0", that can be stopped and started.
    struct One {
        up: bool,
    }

    impl Controlled for One {
        async fn peers(&mut self) -> Vec<PeerStatus> {
            vec![PeerStatus {
                id: "p0".into(),
                address: "127.0.0.1:1".parse().unwrap(),
                up: self.up,
                degree: 0,
                neighbours: Vec::new(),
                stats: None,
            }]
        }
        async fn kill(&mut self, id: &str) -> Result<(), ControlError> {
            if id != "p0" {
                return Err(ControlError::UnknownPeer(id.into()));
            }
            if !self.up {
                return Err(ControlError::Conflict("p0 is already stopped".into()));
            }
            self.up = false;
            Ok(())
        }
        async fn revive(&mut self, _id: &str) -> Result<(), ControlError> {
            self.up = true;
            Ok(())
        }
        async fn search(&mut self, _call: &SearchCall) -> Result<QueryRecord, ControlError> {
            Err(ControlError::Conflict("no".into()))
        }
        async fn report(&mut self) -> Value {
            Value::Null
        }
    }

    #[tokio::test]
    async fn calls_wait_for_serving_and_are_answered_in_order() {
        let (controller, mut calls) = channel();
        let early = controller.call(Call::Peers).await.unwrap_err();
        assert_eq!(early.status(), 503, "{early}");
        let mut one = One { up: true };
        // As the server does, hold an asking end for as long as the launch serves.
        let _held = controller.clone();
        let asker = tokio::spawn(async move {
            // Wait until the launch serves.
            let mut serving = controller.serving.clone();
            let _ = serving.wait_for(|s| *s).await;
            let killed = controller.call(Call::Kill("p0".into())).await;
            let again = controller.call(Call::Kill("p0".into())).await;
            let nobody = controller.call(Call::Kill("p9".into())).await;
            let peers = controller.call(Call::Peers).await;
            (killed, again, nobody, peers)
        });
        let (killed, again, nobody, peers) = tokio::select! {
            asked = asker => asked.unwrap(),
            _ = calls.serve(&mut one) => panic!("serving ended"),
        };
        assert_eq!(killed, Ok(serde_json::json!({"id": "p0", "up": false})));
        assert_eq!(again.unwrap_err().status(), 409);
        assert_eq!(nobody.unwrap_err().status(), 404);
        assert_eq!(peers.unwrap()[0]["up"], false);
        assert!(
            !*calls.serving.borrow(),
            "a cancelled serve takes no more calls"
        );
    }
}
