//! Output destinations checked before the work that fills them.
//!
//! A whole sweep, a whole launch run or a long download used to end with "cannot write"
//! because `--out`, `--report` or `--to` named a missing or read-only folder. These checks
//! run first: the folder exists (or, for an output folder, can be made), it is a folder,
//! and a probe file can be created in it and removed again, which is the one test of
//! writability that holds for permissions, read-only mounts and full quotas alike.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an output destination cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0} is a folder: give a file name to write")]
    IsADirectory(PathBuf),
    #[error("{0} is not a folder")]
    NotADirectory(PathBuf),
    #[error("the folder {0} does not exist")]
    MissingFolder(PathBuf),
    #[error("cannot create the folder {path}: {source}")]
    CreateFolder { path: PathBuf, source: io::Error },
    #[error("cannot write in the folder {path}: {source}")]
    NotWritable { path: PathBuf, source: io::Error },
}

/// Checks that a file can be written at `path` (replacing any file there): `path` is not a
/// folder, and its folder exists and takes a new file.
pub fn check_output_file(path: &Path) -> Result<(), OutputError> {
    if path.is_dir() || path.as_os_str().is_empty() {
        return Err(OutputError::IsADirectory(path.to_path_buf()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    check_existing_dir(&parent)
}

/// Checks that files can be written in the folder `dir`; with `create`, a missing folder
/// (and its missing parents) is made first, as the command would make it anyway.
pub fn check_output_dir(dir: &Path, create: bool) -> Result<(), OutputError> {
    if create && !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|source| OutputError::CreateFolder {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    check_existing_dir(dir)
}

fn check_existing_dir(dir: &Path) -> Result<(), OutputError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(OutputError::MissingFolder(dir.to_path_buf()))
        }
        Err(source) => Err(OutputError::NotWritable {
            path: dir.to_path_buf(),
            source,
        }),
        Ok(meta) if !meta.is_dir() => Err(OutputError::NotADirectory(dir.to_path_buf())),
        Ok(_) => probe(dir).map_err(|source| OutputError::NotWritable {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Tells apart the probes of concurrent checks within one process.
static NEXT_PROBE: AtomicU64 = AtomicU64::new(0);

/// Creates a new, hidden file in `dir` and removes it.
fn probe(dir: &Path) -> io::Result<()> {
    let name = format!(
        ".gnutella-write-probe.{}.{}",
        std::process::id(),
        NEXT_PROBE.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    // `create_new`: never open (or later remove) a file someone else put there.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    }

    #[test]
    fn a_file_in_an_existing_folder_passes_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        check_output_file(&dir.path().join("report.json")).unwrap();
        assert!(names(dir.path()).is_empty());
        check_output_file(Path::new("report.json")).unwrap();
    }

    #[test]
    fn folders_missing_folders_and_files_as_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_output_file(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a folder"), "{err}");
        let err = check_output_file(&dir.path().join("nope").join("r.json")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        let err = check_output_file(&file.join("r.json")).unwrap_err();
        assert!(err.to_string().contains("is not a folder"), "{err}");
        let err = check_output_dir(&file, true).unwrap_err();
        assert!(err.to_string().contains("is not a folder"), "{err}");
        let err = check_output_dir(&dir.path().join("missing"), false).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn an_output_folder_is_made_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a").join("b");
        check_output_dir(&out, true).unwrap();
        assert!(out.is_dir());
        assert!(names(&out).is_empty());
    }
}
