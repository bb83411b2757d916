//! A dynamic peer's host cache on disk, so that a restarted peer rejoins without a
//! bootstrap host (gtk-gnutella keeps `hosts`, LimeWire `gnutella.net`, for the same
//! reason).
//!
//! A small text file a user can read and edit: a comment header, then one host per line,
//!
//! ```text
//! # gnutella host cache: ip:port failures age_secs source
//! 192.0.2.7:6346 0 12 neighbour
//! 192.0.2.8:6346 1 340 pong
//! ```
//!
//! `failures` is the number of failed dials in a row, `age_secs` how long ago the host was
//! last heard of when the file was written, `source` where it was heard of (informative:
//! every host read back counts as `saved`). Reading is forgiving: blank lines and `#`
//! comments are skipped, a line that does not parse is reported (file and line) and
//! skipped, and the rest still loads; a missing file is an empty cache. Writing goes
//! through a temporary file and a rename, so a crash never leaves half a file.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use super::report::write_atomically;
use crate::node::{HostEntry, HostSource, Time};

/// The first line of a saved file.
pub const HEADER: &str = "# gnutella host cache: ip:port failures age_secs source";
/// Largest file read (a cache of a few hundred hosts is a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

const SOURCES: [HostSource; 7] = [
    HostSource::Bootstrap,
    HostSource::Saved,
    HostSource::Pong,
    HostSource::XTry,
    HostSource::Hit,
    HostSource::Neighbour,
    HostSource::Knocked,
];

/// A host read back from a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedHost {
    pub addr: SocketAddrV4,
    pub failures: u8,
    /// How long before the file was written the host was last heard of.
    pub age: Time,
}

/// What a file gave: the hosts of its good lines, and one warning per bad line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub hosts: Vec<SavedHost>,
    pub warnings: Vec<String>,
}

impl Loaded {
    /// The hosts as the core restores them: (address, failures, age).
    pub fn for_core(&self) -> Vec<(SocketAddrV4, u8, Time)> {
        self.hosts
            .iter()
            .map(|h| (h.addr, h.failures, h.age))
            .collect()
    }
}

/// The file a peer sharing `share` keeps its hosts in when not told otherwise: beside the
/// folder, named after it (`./music` → `./music.hosts`). `None` when the folder has no
/// name (the root) or does not exist.
pub fn default_path(share: &Path) -> Option<PathBuf> {
    let folder = share.canonicalize().ok()?;
    let name = folder.file_name()?.to_string_lossy().into_owned();
    Some(folder.with_file_name(format!("{name}.hosts")))
}

/// Reads the hosts of `text`; `file` names it in warnings.
pub fn parse(text: &str, file: &Path) -> Loaded {
    let mut loaded = Loaded::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(host) => loaded.hosts.push(host),
            Err(why) => {
                loaded
                    .warnings
                    .push(format!("{}:{}: {why}; line skipped", file.display(), n + 1))
            }
        }
    }
    loaded
}

fn parse_line(line: &str) -> Result<SavedHost, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [addr, failures, age, rest @ ..] = fields.as_slice() else {
        return Err("expected `ip:port failures age_secs source`".into());
    };
    let addr: SocketAddrV4 = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 ip:port"))?;
    let failures: u8 = failures
        .parse()
        .map_err(|_| format!("failures {failures:?} is not a number from 0 to 255"))?;
    let age: u64 = age
        .parse()
        .map_err(|_| format!("age_secs {age:?} is not a whole number of seconds"))?;
    match rest {
        [] => {}
        [source] if SOURCES.iter().any(|s| s.as_str() == *source) => {}
        [source] => return Err(format!("unknown source {source:?}")),
        _ => return Err("more than four fields".into()),
    }
    Ok(SavedHost {
        addr,
        failures,
        age: Time(age.saturating_mul(1_000_000)),
    })
}

/// The text of a file holding `entries`, their ages counted back from `now`.
pub fn format(entries: &[HostEntry], now: Time) -> String {
    let mut out = String::with_capacity(32 * (entries.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for e in entries {
        let age = now.saturating_sub(e.last_seen).0 / 1_000_000;
        out.push_str(&format!(
            "{} {} {age} {}\n",
            e.addr,
            e.failures,
            e.source.as_str()
        ));
    }
    out
}

/// Reads `path`; a missing file is an empty cache, a file that cannot be read an error.
pub fn load(path: &Path) -> std::io::Result<Loaded> {
    let size = match std::fs::metadata(path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    if size > MAX_FILE_BYTES {
        return Ok(Loaded {
            hosts: Vec::new(),
            warnings: vec![format!(
                "{}: {size} bytes, more than a host cache ever holds; not read",
                path.display()
            )],
        });
    }
    let bytes = std::fs::read(path)?;
    Ok(parse(&String::from_utf8_lossy(&bytes), path))
}

/// Writes `entries` to `path` atomically.
pub fn save(path: &Path, entries: &[HostEntry], now: Time) -> std::io::Result<()> {
    write_atomically(path, format(entries, now).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(last: u8, failures: u8, last_seen: Time, source: HostSource) -> HostEntry {
        HostEntry {
            addr: SocketAddrV4::new([10, 0, 0, last].into(), 6346),
            last_seen,
            failures,
            failed_at: None,
            source,
        }
    }

    #[test]
    fn saved_hosts_read_back_with_their_failures_and_ages() {
        let now = Time::from_secs(1000);
        let entries = [
            entry(1, 0, Time::from_secs(990), HostSource::Neighbour),
            entry(2, 2, Time::from_secs(400), HostSource::XTry),
        ];
        let text = format(&entries, now);
        assert!(text.starts_with(HEADER));
        assert!(text.contains("10.0.0.2:6346 2 600 x-try\n"), "{text}");
        let back = parse(&text, Path::new("h"));
        assert!(back.warnings.is_empty(), "{:?}", back.warnings);
        assert_eq!(
            back.for_core(),
            vec![
                (entries[0].addr, 0, Time::from_secs(10)),
                (entries[1].addr, 2, Time::from_secs(600)),
            ]
        );
    }

    #[test]
    fn a_corrupt_line_is_named_and_skipped_and_the_rest_loads() {
        let text = "# comment\n\n10.0.0.1:6346 0 5 pong\nnot a host\n10.0.0.2:6346 999 5\n\
                    10.0.0.3:6346 0 -1 pong\n10.0.0.4:6346 0 5 gossip\n10.0.0.5:6346 1 7\n\
                    \u{0}\u{ff}garbage 1 2 3 4 5\n";
        let loaded = parse(text, Path::new("/tmp/music.hosts"));
        let addrs: Vec<String> = loaded.hosts.iter().map(|h| h.addr.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:6346", "10.0.0.5:6346"]);
        assert_eq!(loaded.warnings.len(), 5, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].starts_with("/tmp/music.hosts:4: "));
        assert!(loaded.warnings[1].contains("failures \"999\""));
        assert!(loaded.warnings[3].contains("unknown source \"gossip\""));
    }

    #[test]
    fn files_are_written_whole_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share.hosts");
        assert_eq!(load(&path).unwrap(), Loaded::default());
        let now = Time::from_secs(50);
        save(&path, &[entry(9, 1, now, HostSource::Pong)], now).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.hosts.len(), 1);
        assert_eq!(loaded.hosts[0].failures, 1);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
        std::fs::create_dir(dir.path().join("music")).unwrap();
        assert_eq!(
            default_path(&dir.path().join("music/")),
            Some(dir.path().canonicalize().unwrap().join("music.hosts"))
        );
    }
}
