//! The files a peer shares and the keyword index that answers queries against them.
//!
//! Matching follows what real servents do (PROTOCOL.md §6.1): names and queries are
//! lower-cased and split on every non-alphanumeric character; a file matches when every
//! query word is a prefix of some word of its name (LimeWire and gtk-gnutella both match
//! at word starts, AND-ed), or when the query carries the file's `urn:sha1:`. Accents are
//! not stripped (no Unicode normalisation tables here); a repeated query word counts once.
//!
//! The index is a sorted list of (word, file) pairs, so all words starting with a prefix
//! form one contiguous run found by two binary searches; the query word with the shortest
//! run picks the candidates and the other words are checked on those few files only.

use crate::protocol::{Extension, HitRecord, Query, Sha1};

/// One entry of the keyword index: a normalised word and the file (position) it names.
type IndexEntry = (Box<str>, u32);

/// One shared file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedFile {
    /// The index hits advertise and `/get/<index>/<name>` asks for.
    pub index: u32,
    pub name: String,
    pub size: u64,
    pub sha1: Sha1,
}

impl SharedFile {
    /// The record describing this file in a QueryHit (`urn:sha1:` attached, as LimeWire
    /// requires). Files of 4 GiB or more advertise 0xFFFF_FFFF, the wire's "large" mark.
    pub fn hit_record(&self) -> HitRecord {
        HitRecord {
            index: self.index,
            size: u32::try_from(self.size).unwrap_or(u32::MAX),
            name: self.name.clone(),
            extensions: vec![Extension::Sha1(self.sha1)],
        }
    }
}

/// The shared files with their keyword index. An empty library allocates nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Library {
    files: Vec<SharedFile>,
    /// Normalised name of each file (words joined by one space), parallel to `files`.
    names: Vec<Box<str>>,
    /// (word, position in `files`), sorted; duplicates within one name removed.
    words: Vec<IndexEntry>,
    /// (digest, position in `files`), sorted.
    digests: Vec<(Sha1, u32)>,
}

impl Library {
    /// The empty library (usable in statics).
    pub const EMPTY: Library = Library {
        files: Vec::new(),
        names: Vec::new(),
        words: Vec::new(),
        digests: Vec::new(),
    };

    pub fn new() -> Library {
        Library::default()
    }

    /// A library of `files` (indexes are taken as given).
    pub fn from_files(files: impl IntoIterator<Item = SharedFile>) -> Library {
        let mut library = Library::new();
        for file in files {
            library.push(file);
        }
        library.reindex();
        library
    }

    /// Adds one file; call [`Library::from_files`] for many (one sort instead of many).
    pub fn add(&mut self, file: SharedFile) {
        self.push(file);
        self.reindex();
    }

    fn push(&mut self, file: SharedFile) {
        let position = self.files.len() as u32;
        let normal = normalise(&file.name);
        let mut seen: Vec<&str> = Vec::new();
        for word in normal.split(' ').filter(|w| !w.is_empty()) {
            if !seen.contains(&word) {
                seen.push(word);
                self.words.push((word.into(), position));
            }
        }
        self.digests.push((file.sha1, position));
        self.names.push(normal.into_boxed_str());
        self.files.push(file);
    }

    fn reindex(&mut self) {
        self.words.sort_unstable();
        self.digests.sort_unstable();
    }

    pub fn files(&self) -> &[SharedFile] {
        &self.files
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total size in KiB, for our Pongs.
    pub fn total_kib(&self) -> u32 {
        let bytes: u64 = self.files.iter().map(|f| f.size).sum();
        u32::try_from(bytes / 1024).unwrap_or(u32::MAX)
    }

    /// The file advertised under `index` (for the HTTP server's `/get/<index>/...`).
    pub fn by_index(&self, index: u32) -> Option<&SharedFile> {
        self.files.iter().find(|f| f.index == index)
    }

    /// The file with this digest (for `/uri-res/N2R?urn:sha1:...`).
    pub fn by_sha1(&self, sha1: &Sha1) -> Option<&SharedFile> {
        let start = self.digests.partition_point(|(d, _)| d < sha1);
        self.digests
            .get(start)
            .filter(|(d, _)| d == sha1)
            .and_then(|(_, pos)| self.files.get(*pos as usize))
    }

    /// The files `query` matches, in library order after URN matches, at most `limit`.
    pub fn search(&self, query: &Query, limit: usize) -> Vec<&SharedFile> {
        let mut found: Vec<u32> = Vec::new();
        for sha1 in query.sha1s() {
            let start = self.digests.partition_point(|(d, _)| d < sha1);
            for (digest, pos) in self.digests.iter().skip(start) {
                if digest != sha1 {
                    break;
                }
                if !found.contains(pos) {
                    found.push(*pos);
                }
            }
        }
        let normal = normalise(&query.criteria);
        let mut words: Vec<&str> = normal.split(' ').filter(|w| !w.is_empty()).collect();
        words.sort_unstable();
        words.dedup();
        if !words.is_empty() && !self.words.is_empty() {
            let mut keyword_hits = self.keyword_matches(&words);
            keyword_hits.retain(|pos| !found.contains(pos));
            found.extend(keyword_hits);
        }
        found
            .into_iter()
            .take(limit)
            .filter_map(|pos| self.files.get(pos as usize))
            .collect()
    }

    /// Positions of files where every word of `words` starts a word of the name.
    fn keyword_matches(&self, words: &[&str]) -> Vec<u32> {
        let mut rarest: Option<(&str, &[IndexEntry])> = None;
        for word in words {
            let run = self.prefix_run(word);
            if run.is_empty() {
                return Vec::new();
            }
            if rarest.map_or(true, |(_, r)| run.len() < r.len()) {
                rarest = Some((word, run));
            }
        }
        let Some((picked, run)) = rarest else {
            return Vec::new();
        };
        let mut candidates: Vec<u32> = run.iter().map(|(_, pos)| *pos).collect();
        candidates.sort_unstable();
        candidates.dedup();
        candidates.retain(|pos| {
            let Some(name) = self.names.get(*pos as usize) else {
                return false;
            };
            words
                .iter()
                .filter(|w| **w != picked)
                .all(|w| name.split(' ').any(|n| n.starts_with(w)))
        });
        candidates
    }

    /// The contiguous run of index entries whose word starts with `prefix`.
    fn prefix_run(&self, prefix: &str) -> &[IndexEntry] {
        let start = self.words.partition_point(|(w, _)| &**w < prefix);
        let rest = self.words.get(start..).unwrap_or(&[]);
        let len = rest.partition_point(|(w, _)| w.starts_with(prefix));
        rest.get(..len).unwrap_or(&[])
    }
}

/// Lower-cases `text` and turns every run of non-alphanumeric characters into one space
/// (no leading or trailing space): the form names, queries and cache keys are compared in.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(index: u32, name: &str) -> SharedFile {
        SharedFile {
            index,
            name: name.to_string(),
            size: 1000,
            sha1: Sha1::of_bytes(name.as_bytes()),
        }
    }

    fn names(found: Vec<&SharedFile>) -> Vec<&str> {
        found.iter().map(|f| f.name.as_str()).collect()
    }

    fn lib() -> Library {
        Library::from_files([
            file(1, "debian-12.5-netinst.iso"),
            file(2, "Ubuntu_Desktop 24.04.iso"),
            file(3, "Debian Reference Card.pdf"),
            file(7, "Ünïcode Ñame.txt"),
        ])
    }

    #[test]
    fn every_word_must_prefix_a_name_word() {
        let l = lib();
        assert_eq!(
            names(l.search(&Query::keywords("debian netinst"), 10)),
            ["debian-12.5-netinst.iso"]
        );
        assert_eq!(names(l.search(&Query::keywords("DEB"), 10)).len(), 2);
        assert_eq!(
            names(l.search(&Query::keywords("deb ref"), 10)),
            ["Debian Reference Card.pdf"]
        );
        assert!(
            l.search(&Query::keywords("ebian"), 10).is_empty(),
            "infix is not a match"
        );
        assert!(l.search(&Query::keywords("debian ubuntu"), 10).is_empty());
        assert_eq!(
            names(l.search(&Query::keywords("ubuntu 24"), 10)),
            ["Ubuntu_Desktop 24.04.iso"]
        );
        assert_eq!(
            names(l.search(&Query::keywords("ñame"), 10)),
            ["Ünïcode Ñame.txt"]
        );
    }

    #[test]
    fn urn_query_matches_by_digest_and_limit_applies() {
        let l = lib();
        let sha1 = Sha1::of_bytes(b"Debian Reference Card.pdf");
        assert_eq!(
            names(l.search(&Query::by_urn(sha1), 10)),
            ["Debian Reference Card.pdf"]
        );
        assert_eq!(l.search(&Query::keywords("iso"), 1).len(), 1);
        assert_eq!(l.by_sha1(&sha1).map(|f| f.index), Some(3));
        assert_eq!(
            l.by_index(7).map(|f| f.name.as_str()),
            Some("Ünïcode Ñame.txt")
        );
    }

    #[test]
    fn normalise_splits_on_non_alphanumerics() {
        assert_eq!(normalise("  Foo--BAR.mp3 "), "foo bar mp3");
        assert_eq!(normalise("\\"), "");
    }
}
