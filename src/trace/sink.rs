//! Where a trace's lines go, and the first error writing them.
//!
//! Two folds write traces: the [`Tracer`](super::Tracer) of one process and the parent's
//! merge of its children's lines (`net::shard_trace`). Both must behave the same at the
//! output: a write error must not stop the run (the flood goes on, later lines are
//! skipped), the first error is what the user is told at the end, and the file is put in
//! place only after the closing `record` lines. That behaviour lives here once.

use std::io;

use super::file::TraceOutput;
use super::schema::TraceLine;

/// A trace output that keeps its first write error until [`TraceSink::finish`].
pub struct TraceSink {
    out: Option<Box<dyn TraceOutput>>,
    error: Option<io::Error>,
    /// Reused for each line's JSON.
    buf: Vec<u8>,
}

impl TraceSink {
    pub fn new(out: Box<dyn TraceOutput>) -> TraceSink {
        TraceSink {
            out: Some(out),
            error: None,
            buf: Vec::with_capacity(256),
        }
    }

    /// Writes `value` (a header or a line) as one JSON line, or fails at once: for the
    /// header, which a caller checks before it starts.
    pub fn write_now(&mut self, value: &impl serde::Serialize) -> io::Result<()> {
        let line = serde_json::to_vec(value).map_err(io::Error::other)?;
        self.write_raw(&line);
        self.error.take().map_or(Ok(()), Err)
    }

    /// Writes one step line; after an error, nothing more is written.
    pub fn write(&mut self, line: &TraceLine) {
        if self.error.is_some() {
            return;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        match serde_json::to_writer(&mut buf, line) {
            Ok(()) => self.write_raw(&buf),
            Err(e) => self.error = Some(io::Error::other(e)),
        }
        self.buf = buf;
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.write_line(bytes) {
                self.error = Some(e);
            }
        }
    }

    /// Writes the closing `lines`, then puts the trace in place; the first error of the
    /// whole trace, if any, instead.
    pub fn finish(mut self, lines: impl IntoIterator<Item = TraceLine>) -> io::Result<()> {
        for line in lines {
            self.write(&line);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.out.take() {
            Some(out) => out.finish(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Lines = Arc<Mutex<Vec<Vec<u8>>>>;

    /// Takes `room` lines, then fails every write; records whether it was put in place.
    struct Full {
        lines: Lines,
        room: usize,
        finished: Arc<Mutex<bool>>,
    }

    impl TraceOutput for Full {
        fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
            let mut lines = self.lines.lock().unwrap();
            if lines.len() == self.room {
                return Err(io::Error::other("disk full"));
            }
            lines.push(line.to_vec());
            Ok(())
        }
        fn finish(self: Box<Self>) -> io::Result<()> {
            *self.finished.lock().unwrap() = true;
            Ok(())
        }
    }

    fn start(n: u32) -> TraceLine {
        TraceLine::Start {
            t: 0.0,
            q: format!("{n:032x}"),
            peer: n,
            words: "w".into(),
            ttl: 7,
            strategy: "flood".into(),
        }
    }

    fn sink(room: usize) -> (TraceSink, Lines, Arc<Mutex<bool>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(Mutex::new(false));
        let out = Full {
            lines: Arc::clone(&lines),
            room,
            finished: Arc::clone(&finished),
        };
        (TraceSink::new(Box::new(out)), lines, finished)
    }

    #[test]
    fn lines_are_json_and_the_trace_is_put_in_place_at_the_end() {
        let (mut sink, lines, finished) = sink(10);
        sink.write(&start(1));
        assert!(!*finished.lock().unwrap());
        sink.finish([start(2)]).unwrap();
        let lines = lines.lock().unwrap();
        let back: Vec<TraceLine> = lines
            .iter()
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].query(), format!("{:032x}", 2));
        assert!(*finished.lock().unwrap());
    }

    #[test]
    fn the_first_write_error_stops_the_lines_and_is_reported_without_finishing() {
        let (mut sink, lines, finished) = sink(1);
        sink.write(&start(1));
        sink.write(&start(2)); // fails: disk full
        sink.write(&start(3)); // skipped
        let err = sink.finish([start(4)]).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(lines.lock().unwrap().len(), 1);
        assert!(
            !*finished.lock().unwrap(),
            "a broken trace is not put in place"
        );
    }

    #[test]
    fn a_header_that_cannot_be_written_fails_at_once() {
        let (mut sink, _, _) = sink(0);
        assert!(sink.write_now(&start(1)).is_err());
    }
}
