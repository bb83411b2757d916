//! A sweep's shards on disk: what `gnutella experiment SPEC --shard I/N --out DIR` writes,
//! and how `gnutella experiment merge DIR... --out DIR` puts them back together.
//!
//! A shard's folder holds
//!
//! - `results.csv`: the shard's rows, in the format (and the sweep order) of a full
//!   sweep's `results.csv`, so it can be read on its own;
//! - `spec.json`: the spec file the shard ran, byte for byte;
//! - `shard.json`: which shard of how many, the runs it holds (sweep-order indices), the
//!   sweep's run count and topology labels, the spec's digest and the program version.
//!
//! Merging re-reads the spec copy, rebuilds the sweep's run list ([`super::plan`]) and
//! checks every shard against it: one spec digest and one shard count for all, each shard
//! exactly once, each row the run its index says. The rows then go back into sweep order
//! and through the same writer as a full sweep. Figures survive the trip exactly:
//! `results.csv` writes floats in Rust's shortest round-trip form, which `str::parse`
//! reads back to the same bits, so the merged `results.csv`, `summary.json` and plots are
//! byte-identical to the unsharded sweep's.
//!
//! The digest is SHA-1 over the spec as parsed (its canonical JSON), so two copies that
//! differ only in layout are one sweep, and two specs that differ in any value are not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::atomic_write;
use super::over_time::Bucket;
use super::plan::{self, PlannedRun, Shard};
use super::spec::{ExperimentSpec, ResolvedSpec, SpecError};
use super::summary::Summary;
use super::sweep::{write_results_csv, RunResult};

/// The shard's description, in every shard folder.
pub const MANIFEST: &str = "shard.json";
/// The spec the shard ran, byte for byte.
pub const SPEC_COPY: &str = "spec.json";
/// The shard's rows.
pub const RESULTS: &str = "results.csv";
/// The shard's figures over time (a spec with `over_time`): one list of buckets per row
/// of `results.csv`, as JSON (which gives floats back to the same bits).
pub const OVER_TIME: &str = "over_time.json";
/// `shard.json`'s `format`.
pub const FORMAT: &str = "gnutella-experiment-shard/1";

/// Why shards cannot be written or merged.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("{0}: no shard.json there, so not the output of `gnutella experiment SPEC --shard I/N --out DIR`")]
    NotAShard(PathBuf),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Damaged { path: PathBuf, message: String },
    #[error("{first} and {other} are shards of different sweeps (spec digests {first_digest} and {other_digest}): merge the shards of one spec")]
    OtherSpec {
        first: PathBuf,
        first_digest: String,
        other: PathBuf,
        other_digest: String,
    },
    #[error("{first} is shard {first_shard} but {other} is shard {other_shard}: all shards must come from one split (the same N of --shard I/N)")]
    OtherSplit {
        first: PathBuf,
        first_shard: Shard,
        other: PathBuf,
        other_shard: Shard,
    },
    #[error("{first} was written by gnutella {first_version} but {other} by {other_version}: rerun the shards with one version")]
    OtherVersion {
        first: PathBuf,
        first_version: String,
        other: PathBuf,
        other_version: String,
    },
    #[error("shard {shard} is given twice: {first} and {other}")]
    Duplicate {
        shard: Shard,
        first: PathBuf,
        other: PathBuf,
    },
    #[error("no shard folders to merge")]
    NoShards,
    #[error("missing {}: a merge needs each of the {count} shards (0 to {}) once", list_missing(.missing, *.count), .count - 1)]
    Missing { missing: Vec<usize>, count: usize },
    #[error("{path}: the spec no longer has the digest its shard ran with ({expected}); was it edited after the run?")]
    SpecChanged { path: PathBuf, expected: String },
    #[error(transparent)]
    Spec(#[from] SpecError),
}

fn list_missing(missing: &[usize], count: usize) -> String {
    let names: Vec<String> = missing.iter().map(|i| format!("{i}/{count}")).collect();
    let noun = if missing.len() == 1 {
        "shard"
    } else {
        "shards"
    };
    format!("{noun} {}", names.join(", "))
}

/// `shard.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The version of gnutella that ran the shard.
    pub gnutella: String,
    /// The spec's name.
    pub name: String,
    /// [`spec_digest`] of the spec.
    pub spec_digest: String,
    /// This shard's number, from 0.
    pub shard: usize,
    /// How many shards the sweep was split into.
    pub shards: usize,
    /// Runs in the whole sweep.
    pub sweep_runs: usize,
    /// The sweep-order indices of this shard's runs (its rows of `results.csv`, in order).
    pub runs: Vec<usize>,
    /// The sweep's topology labels, in spec order.
    pub topologies: Vec<String>,
}

impl Manifest {
    fn split(&self) -> Result<Shard, String> {
        Shard::new(self.shard, self.shards)
    }
}

/// `sha1:` and the hex SHA-1 of the spec's canonical JSON.
pub fn spec_digest(spec: &ExperimentSpec) -> String {
    let canonical = serde_json::to_string(spec).unwrap_or_default();
    let hash = Sha1::digest(canonical.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha1:{hex}")
}

/// Writes a shard's folder: `results.csv` with `results` (the results of `shard`'s runs,
/// in sweep order), `spec_text` (the spec file's bytes) as `spec.json`, and `shard.json`
/// last, so a folder with a manifest holds the rest. Returns the files written.
pub fn write_shard(
    spec: &ResolvedSpec,
    spec_text: &[u8],
    shard: Shard,
    results: &[RunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, ShardError> {
    let runs = plan::plan(spec);
    let mine = shard.select(&runs);
    let write = |name: &str, bytes: Vec<u8>| -> Result<PathBuf, ShardError> {
        let path = dir.join(name);
        atomic_write(&path, bytes).map_err(|source| ShardError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    let mut csv = Vec::new();
    let columns: Vec<_> = spec.swept.iter().map(|(p, _)| *p).collect();
    write_results_csv(&mut csv, &columns, results).map_err(|source| ShardError::Write {
        path: dir.join(RESULTS),
        source,
    })?;
    let manifest = Manifest {
        format: FORMAT.to_string(),
        gnutella: env!("CARGO_PKG_VERSION").to_string(),
        name: spec.spec.name.clone(),
        spec_digest: spec_digest(&spec.spec),
        shard: shard.index,
        shards: shard.count,
        sweep_runs: runs.len(),
        runs: mine.iter().map(|r| r.index).collect(),
        topologies: spec.topologies.iter().map(|t| t.label.clone()).collect(),
    };
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    let mut written = vec![write(RESULTS, csv)?];
    if spec.spec.over_time.is_some() {
        let buckets: Vec<&Vec<Bucket>> = results.iter().map(|r| &r.over_time).collect();
        let json = serde_json::to_vec(&buckets).unwrap_or_default();
        written.push(write(OVER_TIME, json)?);
    }
    written.push(write(SPEC_COPY, spec_text.to_vec())?);
    written.push(write(MANIFEST, text.into_bytes())?);
    Ok(written)
}

/// A merged sweep: its spec (parsed from the shards' copy) and every run's result, in
/// sweep order, ready for [`super::sweep::write_outputs`].
#[derive(Debug)]
pub struct Merged {
    pub spec: ResolvedSpec,
    pub results: Vec<RunResult>,
}

/// Reads the shard folders `dirs` (in any order) and puts their runs back in sweep order;
/// refuses shards of different specs or splits, a shard given twice, a missing shard, and
/// rows that do not match the runs their shard says it holds.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, ShardError> {
    let mut shards: BTreeMap<usize, (PathBuf, Manifest)> = BTreeMap::new();
    let mut first: Option<(PathBuf, Manifest)> = None;
    for dir in dirs {
        let manifest = read_manifest(dir)?;
        if let Some((first_dir, f)) = &first {
            if f.spec_digest != manifest.spec_digest {
                return Err(ShardError::OtherSpec {
                    first: first_dir.clone(),
                    first_digest: f.spec_digest.clone(),
                    other: dir.clone(),
                    other_digest: manifest.spec_digest,
                });
            }
            if f.shards != manifest.shards {
                return Err(ShardError::OtherSplit {
                    first: first_dir.clone(),
                    first_shard: split_of(first_dir, f)?,
                    other: dir.clone(),
                    other_shard: split_of(dir, &manifest)?,
                });
            }
            if f.gnutella != manifest.gnutella {
                return Err(ShardError::OtherVersion {
                    first: first_dir.clone(),
                    first_version: f.gnutella.clone(),
                    other: dir.clone(),
                    other_version: manifest.gnutella,
                });
            }
        } else {
            first = Some((dir.clone(), manifest.clone()));
        }
        let shard = split_of(dir, &manifest)?;
        if let Some((other, _)) = shards.get(&shard.index) {
            return Err(ShardError::Duplicate {
                shard,
                first: other.clone(),
                other: dir.clone(),
            });
        }
        shards.insert(shard.index, (dir.clone(), manifest));
    }
    let Some((first_dir, first)) = first else {
        return Err(ShardError::NoShards);
    };
    let missing: Vec<usize> = (0..first.shards)
        .filter(|i| !shards.contains_key(i))
        .collect();
    if !missing.is_empty() {
        return Err(ShardError::Missing {
            missing,
            count: first.shards,
        });
    }

    let spec = read_spec(&first_dir, &first)?;
    let runs = plan::plan(&spec);
    let mut results: Vec<Option<RunResult>> = vec![None; runs.len()];
    for (dir, manifest) in shards.values() {
        let damaged = |message: String| ShardError::Damaged {
            path: dir.join(MANIFEST),
            message,
        };
        if manifest.sweep_runs != runs.len() {
            return Err(damaged(format!(
                "says the sweep has {} runs, but its spec has {}",
                manifest.sweep_runs,
                runs.len()
            )));
        }
        let labels: Vec<&str> = spec.topologies.iter().map(|t| t.label.as_str()).collect();
        if manifest.topologies != labels {
            return Err(damaged(format!(
                "names the topologies {:?}, but its spec has {labels:?}",
                manifest.topologies
            )));
        }
        let shard = split_of(dir, manifest)?;
        let mine = shard.select(&runs);
        let indices: Vec<usize> = mine.iter().map(|r| r.index).collect();
        if manifest.runs != indices {
            return Err(damaged(format!(
                "lists runs {:?}, but shard {shard} of this spec holds {indices:?}",
                manifest.runs
            )));
        }
        let mut read = read_results(dir, &spec, &mine)?;
        if spec.spec.over_time.is_some() {
            let path = dir.join(OVER_TIME);
            let buckets: Vec<Vec<Bucket>> =
                serde_json::from_slice(&read_bytes(&path)?).map_err(|e| ShardError::Damaged {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if buckets.len() != read.len() {
                return Err(ShardError::Damaged {
                    path,
                    message: format!(
                        "{} runs' figures over time for {} rows of {RESULTS}",
                        buckets.len(),
                        read.len()
                    ),
                });
            }
            for ((_, result), over_time) in read.iter_mut().zip(buckets) {
                result.over_time = over_time;
            }
        }
        for result in read {
            if let Some(slot) = results.get_mut(result.0) {
                *slot = Some(result.1);
            }
        }
    }
    let results: Vec<RunResult> = results.into_iter().flatten().collect();
    if results.len() != runs.len() {
        return Err(ShardError::Damaged {
            path: first_dir.join(MANIFEST),
            message: format!(
                "the shards hold {} of the sweep's {} runs",
                results.len(),
                runs.len()
            ),
        });
    }
    Ok(Merged { spec, results })
}

fn split_of(dir: &Path, manifest: &Manifest) -> Result<Shard, ShardError> {
    manifest.split().map_err(|message| ShardError::Damaged {
        path: dir.join(MANIFEST),
        message,
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, ShardError> {
    read(path)
}

fn read(path: &Path) -> Result<Vec<u8>, ShardError> {
    std::fs::read(path).map_err(|source| ShardError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_manifest(dir: &Path) -> Result<Manifest, ShardError> {
    let path = dir.join(MANIFEST);
    if !dir.is_dir() {
        return Err(ShardError::Read {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        });
    }
    if !path.is_file() {
        return Err(ShardError::NotAShard(dir.to_path_buf()));
    }
    let bytes = read(&path)?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| ShardError::Damaged {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if manifest.format != FORMAT {
        return Err(ShardError::Damaged {
            path,
            message: format!(
                "format `{}`, expected `{FORMAT}` (written by another version of gnutella?)",
                manifest.format
            ),
        });
    }
    Ok(manifest)
}

/// The spec a shard ran, checked against the digest in its manifest.
fn read_spec(dir: &Path, manifest: &Manifest) -> Result<ResolvedSpec, ShardError> {
    let path = dir.join(SPEC_COPY);
    let bytes = read(&path)?;
    let text = String::from_utf8(bytes).map_err(|_| ShardError::Damaged {
        path: path.clone(),
        message: "not UTF-8 text".into(),
    })?;
    let spec = ExperimentSpec::parse(&text, &path.display().to_string())?;
    if spec_digest(&spec) != manifest.spec_digest {
        return Err(ShardError::SpecChanged {
            path,
            expected: manifest.spec_digest.clone(),
        });
    }
    Ok(spec.resolve_without_reading()?)
}

/// A shard's rows as results, each with its sweep-order index; every row must be the run
/// `runs` puts at its place.
fn read_results(
    dir: &Path,
    spec: &ResolvedSpec,
    runs: &[&PlannedRun],
) -> Result<Vec<(usize, RunResult)>, ShardError> {
    let path = dir.join(RESULTS);
    let text = String::from_utf8(read(&path)?).map_err(|_| ShardError::Damaged {
        path: path.clone(),
        message: "not UTF-8 text".into(),
    })?;
    let damaged = |message: String| ShardError::Damaged {
        path: path.clone(),
        message,
    };
    let mut rows = parse_csv(&text).map_err(&damaged)?.into_iter();
    let columns: Vec<_> = spec.swept.iter().map(|(p, _)| *p).collect();
    let mut expected_header = Vec::new();
    write_results_csv(&mut expected_header, &columns, &[]).map_err(|e| damaged(e.to_string()))?;
    let expected_header = parse_csv(&String::from_utf8_lossy(&expected_header))
        .map_err(&damaged)?
        .pop()
        .unwrap_or_default();
    let header = rows.next().unwrap_or_default();
    if header != expected_header {
        return Err(damaged(format!(
            "header {header:?} is not the sweep's {expected_header:?}"
        )));
    }
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.len() != runs.len() {
        return Err(damaged(format!(
            "{} rows, but the shard holds {} runs",
            rows.len(),
            runs.len()
        )));
    }
    let fixed = 6;
    let mut out = Vec::with_capacity(rows.len());
    for (n, (row, run)) in rows.iter().zip(runs).enumerate() {
        let line = n + 2;
        let at = |message: String| damaged(format!("line {line}: {message}"));
        if row.len() != header.len() {
            return Err(at(format!(
                "{} cells, the header has {}",
                row.len(),
                header.len()
            )));
        }
        let label = spec
            .topologies
            .get(run.topology)
            .map_or("", |t| t.label.as_str());
        let mut expected = vec![
            label.to_string(),
            row[1].clone(),
            row[2].clone(),
            run.strategy.to_string(),
            run.ttl.to_string(),
            run.seed.to_string(),
        ];
        expected.extend(columns.iter().map(|p| {
            run.params
                .get(*p)
                .map(|v| v.to_string())
                .unwrap_or_default()
        }));
        let identity = fixed + columns.len();
        if row[..identity] != expected[..] {
            return Err(at(format!(
                "run {:?} where run {} ({}) belongs",
                row[..identity].join(","),
                run.index,
                run.line(spec).replace('\t', " ")
            )));
        }
        let number = |i: usize| -> Result<usize, ShardError> {
            row[i]
                .parse()
                .map_err(|_| at(format!("`{}` is not a count ({})", row[i], header[i])))
        };
        let summary = Summary::from_csv_values(&row[identity..]).map_err(&at)?;
        out.push((
            run.index,
            RunResult {
                topology: label.to_string(),
                nodes: number(1)?,
                links: number(2)?,
                strategy: run.strategy.to_string(),
                ttl: run.ttl,
                seed: run.seed,
                params: run.params.clone(),
                summary,
                over_time: Vec::new(),
            },
        ));
    }
    Ok(out)
}

/// The rows of a CSV text (RFC 4180: quoted cells may hold commas, quotes doubled, line
/// breaks), as [`super::summary::write_csv_row`] writes them.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut cell)),
            '\n' => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
                line += 1;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted cell is not closed"));
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::summary::write_csv_row;

    #[test]
    fn csv_cells_round_trip_through_the_writer() {
        let cells = vec![
            "plain".to_string(),
            "with, comma".to_string(),
            "with \"quotes\"".to_string(),
            "two\nlines".to_string(),
            String::new(),
        ];
        let mut out = Vec::new();
        write_csv_row(&mut out, cells.clone()).unwrap();
        write_csv_row(&mut out, cells.clone()).unwrap();
        let rows = parse_csv(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(rows, vec![cells.clone(), cells]);
        assert!(parse_csv("a,\"b\n").unwrap_err().contains("not closed"));
    }

    #[test]
    fn the_digest_ignores_layout_but_not_values() {
        let a = r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [2]}"#;
        let b = "{\n  \"topologies\":[\"ring:n=5\"],\"strategies\":[\"flood\"],\n\"ttls\":[2]}";
        let c = r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [3]}"#;
        let digest = |t: &str| spec_digest(&ExperimentSpec::parse(t, "t").unwrap());
        assert_eq!(digest(a), digest(b));
        assert_ne!(digest(a), digest(c));
        assert!(digest(a).starts_with("sha1:") && digest(a).len() == 45);
    }
}
