//! The feed of a live page (`launch --ui`): the flood trace's lines, pushed to every page
//! that listens, as they happen.
//!
//! A launch that serves the page traces its floods as `--trace` does (one more
//! [`TraceOutput`], [`FeedOutput`], beside or instead of the file), so the page draws
//! exactly what a trace file would hold. The feed keeps the last [`HISTORY`] lines, so a
//! page opened late (or reloaded) first gets the floods so far, then the new lines as a
//! broadcast; a page too slow to keep up skips lines and is told how many.
//!
//! What the page gets is the page's own row format (`view::page`), made per page by a
//! [`FeedEncoder`] the caller supplies (the page's numbering of queries is per page), so
//! this layer knows trace lines only.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::trace::{TraceLine, TraceOutput};

/// Lines kept for a page opened late.
pub const HISTORY: usize = 20_000;
/// Lines a listening page may fall behind before it skips some.
const BACKLOG: usize = 8_192;
/// Searches a launch's live page follows when no `--trace` filter says otherwise.
pub const LIVE_QUERIES: usize = 1_000_000;

/// The trace lines of a running network, for its live pages. Cheap to clone.
#[derive(Clone)]
pub struct LiveFeed {
    inner: Arc<Inner>,
}

struct Inner {
    history: Mutex<VecDeque<Arc<TraceLine>>>,
    tx: broadcast::Sender<Arc<TraceLine>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        LiveFeed::new()
    }
}

impl LiveFeed {
    pub fn new() -> LiveFeed {
        let (tx, _) = broadcast::channel(BACKLOG);
        LiveFeed {
            inner: Arc::new(Inner {
                history: Mutex::new(VecDeque::new()),
                tx,
            }),
        }
    }

    /// Hands `line` to every listening page and keeps it for later ones.
    pub fn push(&self, line: TraceLine) {
        let line = Arc::new(line);
        let mut history = self.inner.history.lock().unwrap_or_else(|e| e.into_inner());
        if history.len() >= HISTORY {
            history.pop_front();
        }
        history.push_back(line.clone());
        // Under the lock: a page subscribing now sees each line once, in history or live.
        let _ = self.inner.tx.send(line);
    }

    /// The lines so far and a receiver of the next ones.
    pub fn subscribe(&self) -> (Vec<Arc<TraceLine>>, broadcast::Receiver<Arc<TraceLine>>) {
        let history = self.inner.history.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.inner.tx.subscribe();
        (history.iter().cloned().collect(), rx)
    }

    /// A trace output that feeds this.
    pub fn output(&self) -> FeedOutput {
        FeedOutput {
            feed: self.clone(),
            header_seen: false,
        }
    }
}

/// A [`TraceOutput`] into a [`LiveFeed`]: the header is skipped (the page has the peers
/// already), every other line is pushed.
pub struct FeedOutput {
    feed: LiveFeed,
    header_seen: bool,
}

impl TraceOutput for FeedOutput {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if !self.header_seen {
            self.header_seen = true;
            return Ok(());
        }
        if let Ok(line) = serde_json::from_slice::<TraceLine>(line) {
            self.feed.push(line);
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// Two trace outputs written alike (a `--trace` file and a live feed).
pub struct Tee(pub Box<dyn TraceOutput>, pub Box<dyn TraceOutput>);

impl TraceOutput for Tee {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let first = self.0.write_line(line);
        let second = self.1.write_line(line);
        first.and(second)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let Tee(a, b) = *self;
        let first = a.finish();
        let second = b.finish();
        first.and(second)
    }
}

/// Turns lines into what one page takes (one per page: it numbers queries as that page
/// does).
pub trait FeedEncoder: Send {
    /// One message for the page, holding `lines`.
    fn encode(&mut self, lines: &[Arc<TraceLine>]) -> Value;
}

/// A live page as the control server serves it: `GET /` and `GET /events`.
pub struct UiPage {
    /// The page (self-contained HTML).
    pub html: String,
    pub feed: LiveFeed,
    /// Makes the encoder of each page's event stream.
    pub encoder: Box<dyn Fn() -> Box<dyn FeedEncoder> + Send + Sync>,
}

impl std::fmt::Debug for UiPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiPage")
            .field("html_bytes", &self.html.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(q: &str) -> Vec<u8> {
        serde_json::to_vec(&TraceLine::Answered {
            t: 1.0,
            q: q.into(),
            peer: 0,
            records: 1,
            from_cache: false,
        })
        .unwrap()
    }

    #[test]
    fn a_late_page_gets_the_history_then_the_new_lines() {
        let feed = LiveFeed::new();
        let mut out = feed.output();
        out.write_line(b"{\"schema\":\"gnutella-trace\"}").unwrap();
        out.write_line(&answered("a")).unwrap();
        let (history, mut rx) = feed.subscribe();
        assert_eq!(history.len(), 1, "the header is not a line");
        out.write_line(&answered("b")).unwrap();
        assert_eq!(rx.try_recv().unwrap().query(), "b");
        assert!(rx.try_recv().is_err());
    }
}
