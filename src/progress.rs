//! Progress of long computations deep below the command line, for whoever shows it.
//!
//! Hashing a shared folder or a large synthetic file happens inside `net` and `topology`,
//! reached from `launch`, `peer`, `demo` and `sim` through several layers of drivers that
//! have no reason to carry a callback. A 4 GB file took a minute with a blank terminal.
//! Instead, such work opens a [`Task`] and advances it; the one observer the process
//! installed (the CLI's progress bars) sees the events, and without an observer a task
//! costs an atomic load per step. A leaf: it knows no other module of the crate.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// What an observer is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Task `id` starts `what`, `total` bytes (or units) of work.
    Start { id: u64, what: &'a str, total: u64 },
    /// Task `id` has done `done` of its total.
    Advance { id: u64, done: u64 },
    /// Task `id` is over (done or abandoned).
    Finish { id: u64 },
}

type Observer = Box<dyn Fn(Event<'_>) + Send + Sync>;

static OBSERVER: OnceLock<Observer> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Installs the process's observer; `false` when one was installed already.
pub fn set_observer(observer: impl Fn(Event<'_>) + Send + Sync + 'static) -> bool {
    OBSERVER.set(Box::new(observer)).is_ok()
}

/// One piece of long work; reports `Finish` when dropped.
#[derive(Debug)]
pub struct Task {
    id: u64,
    done: u64,
    observed: bool,
}

impl Task {
    /// Starts a task of `total` units described by `what`.
    pub fn start(what: &str, total: u64) -> Task {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let observed = match OBSERVER.get() {
            Some(observer) => {
                observer(Event::Start { id, what, total });
                true
            }
            None => false,
        };
        Task {
            id,
            done: 0,
            observed,
        }
    }

    /// Adds `units` to the work done.
    pub fn advance(&mut self, units: u64) {
        self.done = self.done.saturating_add(units);
        if let (true, Some(observer)) = (self.observed, OBSERVER.get()) {
            observer(Event::Advance {
                id: self.id,
                done: self.done,
            });
        }
    }

    /// Wraps a reader so that every byte read advances this task.
    pub fn reader<R: Read>(&mut self, inner: R) -> Counting<'_, R> {
        Counting { inner, task: self }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let (true, Some(observer)) = (self.observed, OBSERVER.get()) {
            observer(Event::Finish { id: self.id });
        }
    }
}

/// A reader that advances a [`Task`] by the bytes it reads.
pub struct Counting<'a, R> {
    inner: R,
    task: &'a mut Task,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.task.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    #[test]
    fn a_task_reports_start_every_read_and_finish() {
        set_observer(|e| {
            let line = match e {
                Event::Start { what, total, .. } => format!("start {what} {total}"),
                Event::Advance { done, .. } => format!("at {done}"),
                Event::Finish { .. } => "finish".to_string(),
            };
            SEEN.lock().unwrap().push(line);
        });
        {
            let mut task = Task::start("hashing x", 10);
            let mut bytes = Vec::new();
            task.reader(&b"0123456789"[..])
                .read_to_end(&mut bytes)
                .unwrap();
            assert_eq!(bytes.len(), 10);
        }
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(seen.first().map(String::as_str), Some("start hashing x 10"));
        assert!(seen.contains(&"at 10".to_string()), "{seen:?}");
        assert_eq!(seen.last().map(String::as_str), Some("finish"));
    }
}
