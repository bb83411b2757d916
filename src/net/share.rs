//! What a peer shares: its files, by stable index and by SHA-1, and how to read them.
//!
//! A peer shares either a real folder (`share.dir`) or synthetic files whose bytes are
//! generated from the config's seed (`share.files`, see `topology::synthetic`), or both.
//! Hits advertise an entry's index, name, size and URN; the HTTP server finds the entry
//! again by index or URN and reads it from here, so this is the one place that decides
//! which bytes on disk a remote peer may see.
//!
//! Folder scanning rules:
//! - the folder is walked recursively (at most [`MAX_DEPTH`] levels) in sorted order, so
//!   indexes are stable for an unchanged folder: index = position in that order;
//! - regular files only; names starting with `.` are skipped (that also hides our own
//!   downloads in progress, `.<name>.part`), as are names that are not valid UTF-8 or not
//!   safe file names (hits carry UTF-8 names, and downloaders would refuse them anyway);
//! - a symlink is followed only if its target is a regular file inside the folder (then
//!   it is shared under the link's name); symlinks to directories are never followed,
//!   which also rules out loops;
//! - files of 4 GiB or more are skipped with a warning: hit records carry a u32 size.
//!
//! The folder is re-checked at every open: the path is canonicalized and must still lie
//! inside the canonical share root, and the size must not have changed since the scan.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::protocol::http::is_safe_file_name;
use crate::protocol::Sha1;
use crate::topology::synthetic::SyntheticReader;

/// How deep a folder scan goes below the share root.
pub const MAX_DEPTH: usize = 32;

/// The largest size a hit record can carry.
pub const MAX_SHARED_SIZE: u64 = u32::MAX as u64;

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file inside the share root, by its path relative to the root.
    File { relative: PathBuf },
    /// A synthetic file: bytes generated from (seed, name, size).
    Synthetic { seed: u64 },
}

/// One shared file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedEntry {
    /// Stable index, as sent in hits and `/get/<index>/<name>`.
    pub index: u32,
    /// The file name (last path component) advertised in hits.
    pub name: String,
    pub size: u64,
    pub sha1: Sha1,
    pub source: Source,
}

/// Why a share could not be built or an entry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("{0} lies outside the shared folder")]
    OutsideShare(PathBuf),
    #[error("{0} changed since it was scanned")]
    Changed(PathBuf),
    #[error("file {name:?} is {size} bytes; shared files must be smaller than 4 GiB")]
    TooLarge { name: String, size: u64 },
    #[error("{0:?} is not a safe file name")]
    UnsafeName(String),
    #[error("more than {} shared files", u32::MAX)]
    TooManyFiles,
    #[error("a file entry has no shared folder to read it from")]
    NoRoot,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ShareError + '_ {
    move |source| ShareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A peer's shared files.
#[derive(Debug, Clone, Default)]
pub struct Share {
    /// Canonical share root, when a folder is shared.
    root: Option<PathBuf>,
    entries: Vec<SharedEntry>,
    by_index: HashMap<u32, usize>,
    by_sha1: HashMap<Sha1, usize>,
}

impl Share {
    /// An empty share (add synthetic files to it, or scan a folder with [`Share::scan_dir`]).
    pub fn new() -> Share {
        Share::default()
    }

    /// Scans `dir` (blocking: it reads every file to hash it). See the module doc for
    /// what is shared. Use [`Share::scan_dir_async`] from async code.
    pub fn scan_dir(dir: &Path) -> Result<Share, ShareError> {
        let root = fs::canonicalize(dir).map_err(io_err(dir))?;
        if !root.is_dir() {
            return Err(ShareError::NotADirectory(dir.to_path_buf()));
        }
        let mut found = Vec::new();
        walk(&root, &root, 0, &mut found)?;
        found.sort();
        let mut share = Share {
            root: Some(root.clone()),
            ..Share::default()
        };
        let total: u64 = found
            .iter()
            .filter_map(|r| fs::metadata(root.join(r)).ok())
            .map(|m| m.len())
            .filter(|&len| len <= MAX_SHARED_SIZE)
            .sum();
        let mut task = crate::progress::Task::start(
            &format!("hashing {} files in {}", found.len(), dir.display()),
            total,
        );
        for relative in found {
            let path = root.join(&relative);
            let Some(name) = relative
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let file = File::open(&path).map_err(io_err(&path))?;
            let size = file.metadata().map_err(io_err(&path))?.len();
            if size > MAX_SHARED_SIZE {
                log::warn!(
                    "not sharing {}: {size} bytes is 4 GiB or more",
                    path.display()
                );
                continue;
            }
            let sha1 = Sha1::of_reader(io::BufReader::with_capacity(256 * 1024, task.reader(file)))
                .map_err(io_err(&path))?;
            share.push(name, size, sha1, Source::File { relative })?;
        }
        Ok(share)
    }

    /// [`Share::scan_dir`] on tokio's blocking pool, so hashing a big folder does not
    /// stall the runtime.
    pub async fn scan_dir_async(dir: PathBuf) -> Result<Share, ShareError> {
        tokio::task::spawn_blocking(move || Share::scan_dir(&dir))
            .await
            .map_err(|e| ShareError::Io {
                path: PathBuf::new(),
                source: io::Error::other(e),
            })?
    }

    /// Adds a synthetic file whose SHA-1 is already known (e.g. computed once per config).
    pub fn add_synthetic_with_sha1(
        &mut self,
        seed: u64,
        name: &str,
        size: u64,
        sha1: Sha1,
    ) -> Result<u32, ShareError> {
        if size > MAX_SHARED_SIZE {
            return Err(ShareError::TooLarge {
                name: name.to_string(),
                size,
            });
        }
        if !is_safe_file_name(name) {
            return Err(ShareError::UnsafeName(name.to_string()));
        }
        self.push(name.to_string(), size, sha1, Source::Synthetic { seed })
    }

    /// Adds a synthetic file, computing its SHA-1 (blocking: streams the whole content
    /// the first time a (seed, name, size) is seen in this process; peers that replicate
    /// the same file reuse the digest).
    pub fn add_synthetic(&mut self, seed: u64, name: &str, size: u64) -> Result<u32, ShareError> {
        if size > MAX_SHARED_SIZE {
            return Err(ShareError::TooLarge {
                name: name.to_string(),
                size,
            });
        }
        if !is_safe_file_name(name) {
            return Err(ShareError::UnsafeName(name.to_string()));
        }
        let sha1 = synthetic_sha1(seed, name, size);
        self.add_synthetic_with_sha1(seed, name, size, sha1)
    }

    fn push(
        &mut self,
        name: String,
        size: u64,
        sha1: Sha1,
        source: Source,
    ) -> Result<u32, ShareError> {
        let index = u32::try_from(self.entries.len()).map_err(|_| ShareError::TooManyFiles)?;
        let position = self.entries.len();
        self.by_index.insert(index, position);
        // The first file with a given content keeps the URN: identical files are one file.
        self.by_sha1.entry(sha1).or_insert(position);
        self.entries.push(SharedEntry {
            index,
            name,
            size,
            sha1,
            source,
        });
        Ok(index)
    }

    /// Every shared file, in index order.
    pub fn entries(&self) -> &[SharedEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The canonical shared folder, if a folder is shared.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    pub fn by_index(&self, index: u32) -> Option<&SharedEntry> {
        self.by_index.get(&index).and_then(|&i| self.entries.get(i))
    }

    pub fn by_sha1(&self, sha1: &Sha1) -> Option<&SharedEntry> {
        self.by_sha1.get(sha1).and_then(|&i| self.entries.get(i))
    }

    /// Opens an entry's content positioned at `offset` (blocking I/O: call it from a
    /// blocking thread). A file entry is re-checked: it must still be a regular file
    /// inside the share root, of the size it had when scanned.
    pub fn open(
        &self,
        entry: &SharedEntry,
        offset: u64,
    ) -> Result<Box<dyn Read + Send>, ShareError> {
        match &entry.source {
            Source::Synthetic { seed } => Ok(Box::new(SyntheticReader::at_offset(
                *seed,
                &entry.name,
                entry.size,
                offset,
            ))),
            Source::File { relative } => {
                let root = self.root.as_deref().ok_or(ShareError::NoRoot)?;
                let joined = root.join(relative);
                let real = fs::canonicalize(&joined).map_err(io_err(&joined))?;
                if !real.starts_with(root) {
                    return Err(ShareError::OutsideShare(joined));
                }
                let mut file = File::open(&real).map_err(io_err(&real))?;
                let meta = file.metadata().map_err(io_err(&real))?;
                if !meta.is_file() || meta.len() != entry.size {
                    return Err(ShareError::Changed(joined));
                }
                file.seek(SeekFrom::Start(offset)).map_err(io_err(&real))?;
                Ok(Box::new(file))
            }
        }
    }
}

/// The SHA-1 of a synthetic file, memoised per process: a config that replicates a file
/// on many peers (or launches thousands of peers in one process) hashes it once.
fn synthetic_sha1(seed: u64, name: &str, size: u64) -> Sha1 {
    type Memo = Mutex<HashMap<(u64, String, u64), Sha1>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    let memo = MEMO.get_or_init(Memo::default);
    let key = (seed, name.to_string(), size);
    if let Some(sha1) = memo.lock().ok().and_then(|m| m.get(&key).copied()) {
        return sha1;
    }
    // Hash outside the lock so peers with different files hash in parallel.
    let sha1 = crate::topology::synthetic::sha1_of(seed, name, size);
    if let Ok(mut m) = memo.lock() {
        m.insert(key, sha1);
    }
    sha1
}

/// Collects the relative paths of shareable files under `dir`.
fn walk(root: &Path, dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), ShareError> {
    if depth > MAX_DEPTH {
        log::warn!(
            "not descending into {}: deeper than {MAX_DEPTH} levels",
            dir.display()
        );
        return Ok(());
    }
    for item in fs::read_dir(dir).map_err(io_err(dir))? {
        let item = item.map_err(io_err(dir))?;
        let path = item.path();
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            log::warn!("not sharing {}: the name is not UTF-8", path.display());
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if !is_safe_file_name(name) {
            log::warn!("not sharing {}: unsafe file name", path.display());
            continue;
        }
        let kind = item.file_type().map_err(io_err(&path))?;
        let relative = || path.strip_prefix(root).map(Path::to_path_buf);
        if kind.is_dir() {
            walk(root, &path, depth + 1, found)?;
        } else if kind.is_file() {
            if let Ok(rel) = relative() {
                found.push(rel);
            }
        } else if kind.is_symlink() {
            match fs::canonicalize(&path) {
                Ok(target) if target.starts_with(root) && target.is_file() => {
                    if let Ok(rel) = relative() {
                        found.push(rel);
                    }
                }
                Ok(target) if target.is_dir() => {
                    log::debug!("not following directory symlink {}", path.display());
                }
                _ => log::warn!(
                    "not sharing {}: symlink leads outside the shared folder",
                    path.display()
                ),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_recursively_with_stable_indexes() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.txt"), b"bee").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/a.txt"), b"ay").unwrap();
        fs::write(dir.path().join("a.txt"), b"ay too").unwrap();
        fs::write(dir.path().join(".hidden.part"), b"partial").unwrap();
        let share = Share::scan_dir(dir.path()).unwrap();
        let names: Vec<_> = share
            .entries()
            .iter()
            .map(|e| (e.index, e.name.as_str(), e.size))
            .collect();
        assert_eq!(
            names,
            vec![(0, "a.txt", 6), (1, "b.txt", 3), (2, "a.txt", 2)]
        );
        let bee = Sha1::of_bytes(b"bee");
        assert_eq!(share.by_sha1(&bee).map(|e| e.index), Some(1));
        let mut content = String::new();
        share
            .open(share.by_index(1).unwrap(), 1)
            .unwrap()
            .read_to_string(&mut content)
            .unwrap();
        assert_eq!(content, "ee");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_share_are_skipped_and_refused() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("real.txt"), b"real").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("escape.txt"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.txt"), dir.path().join("inside.txt"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("outdir")).unwrap();
        let share = Share::scan_dir(dir.path()).unwrap();
        let names: Vec<_> = share.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["inside.txt", "real.txt"]);

        // A link swapped in after the scan is refused at open time.
        fs::remove_file(dir.path().join("real.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("real.txt"))
            .unwrap();
        let entry = share.by_index(1).unwrap();
        assert!(matches!(
            share.open(entry, 0),
            Err(ShareError::OutsideShare(_))
        ));
    }

    #[test]
    fn skips_files_of_4_gib_and_more() {
        let dir = tempfile::tempdir().unwrap();
        let big = File::create(dir.path().join("big.iso")).unwrap();
        big.set_len(4 << 30).unwrap(); // sparse: costs no disk
        fs::write(dir.path().join("small"), b"x").unwrap();
        let share = Share::scan_dir(dir.path()).unwrap();
        assert_eq!(share.entries().len(), 1);
        assert_eq!(share.entries()[0].name, "small");
    }

    #[test]
    fn synthetic_entries_read_from_an_offset() {
        let mut share = Share::new();
        let index = share.add_synthetic(7, "debian.iso", 200_000).unwrap();
        let entry = share.by_index(index).unwrap().clone();
        let mut whole = Vec::new();
        share
            .open(&entry, 0)
            .unwrap()
            .read_to_end(&mut whole)
            .unwrap();
        assert_eq!(whole.len(), 200_000);
        assert_eq!(Sha1::of_bytes(&whole), entry.sha1);
        let mut tail = Vec::new();
        share
            .open(&entry, 150_001)
            .unwrap()
            .read_to_end(&mut tail)
            .unwrap();
        assert_eq!(tail, whole[150_001..]);
        assert!(share.add_synthetic(7, "../x", 1).is_err());
        assert!(share
            .add_synthetic_with_sha1(7, "huge", 5 << 30, entry.sha1)
            .is_err());
    }
}
