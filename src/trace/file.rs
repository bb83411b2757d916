//! Where a trace's lines go: a file written atomically, or memory (tests).
//!
//! A trace is written while the run goes, through a buffer, into a temporary file beside
//! the final name; [`TraceOutput::finish`] flushes it to disk and renames it into place.
//! A run that fails or is killed leaves no half trace under the name a user would open.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A sink for trace lines.
pub trait TraceOutput: Send {
    /// Appends one line (without its newline).
    fn write_line(&mut self, line: &[u8]) -> io::Result<()>;
    /// Ends the trace: after this the whole trace is readable where it was asked for.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A trace file being written: a buffered temporary file, renamed at [`TraceOutput::finish`].
pub struct TraceFile {
    path: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl TraceFile {
    /// Starts writing a trace that will be at `path` once finished. Fails at once when the
    /// folder is missing or not writable.
    pub fn create(path: &Path) -> io::Result<TraceFile> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp_name);
        // `create_new`: never write through a file (or link) someone planted at that name.
        let _ = std::fs::remove_file(&temp);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(TraceFile {
            path: path.to_path_buf(),
            temp,
            out: Some(BufWriter::with_capacity(1 << 16, file)),
        })
    }
}

impl TraceOutput for TraceFile {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("trace already finished"))?;
        out.write_all(line)?;
        out.write_all(b"\n")
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("trace already finished"))?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.path)
    }
}

impl Drop for TraceFile {
    fn drop(&mut self) {
        // Not finished (an error, a panic): leave nothing behind.
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A trace kept in memory, readable through a shared handle (for tests).
#[derive(Clone, Default)]
pub struct MemoryTrace {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl MemoryTrace {
    pub fn new() -> MemoryTrace {
        MemoryTrace::default()
    }

    /// The trace so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl TraceOutput for MemoryTrace {
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let mut bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_appears_only_when_finished_and_no_temporary_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flood.jsonl");
        let mut file = Box::new(TraceFile::create(&path).unwrap());
        file.write_line(b"{}").unwrap();
        assert!(
            !path.exists(),
            "nothing under the final name before the end"
        );
        file.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn an_unfinished_trace_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flood.jsonl");
        let mut file = TraceFile::create(&path).unwrap();
        file.write_line(b"{}").unwrap();
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_folder_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TraceFile::create(&dir.path().join("nope").join("t.jsonl")).is_err());
    }
}
