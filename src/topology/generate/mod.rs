//! Seeded topology generators and the `KIND:key=value,...` spec that names one, e.g.
//! `ring:n=12`, `tree:n=364,k=3`, `random:n=10000,d=10`, `ba:n=100000,m=2`,
//! `two-tier:n=10000,up=0.1,leaf_links=3,up_degree=10` (the only kind that also gives
//! each peer a role, see [`Graph::ultrapeers`]).
//!
//! The simulator (`--gen SPEC`), the experiment sweeps and `gnutella topology gen` all
//! go through [`GenSpec`], so one spec string means one graph everywhere: the same spec
//! and seed give the same graph in every process (ChaCha8 from the seed).

pub mod lattice;
pub mod random;
pub mod scale_free;
pub mod small_world;
pub mod two_tier;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::topology::Graph;
pub use two_tier::UltrapeerCount;

/// Most links a generator will build (keeps a typo from eating all memory).
pub const MAX_LINKS: u64 = 200_000_000;

/// Most nodes a generator will build: a graph of this size already takes gigabytes in the
/// simulator, and a typo such as `ring:n=4000000000` must be refused before any
/// allocation, not abort the process.
pub const MAX_NODES: u64 = 50_000_000;

/// Every kind, with the keys it takes (first the required ones) and their defaults.
pub const KINDS: &[(&str, &str)] = &[
    ("ring", "n"),
    ("line", "n"),
    ("star", "n"),
    ("complete", "n"),
    ("grid", "w,h (or n, a square)"),
    ("torus", "w,h (or n, a square)"),
    ("tree", "n, k=2"),
    ("random", "n, d=4 (mean degree)"),
    ("gnp", "n, p"),
    ("regular", "n, d=4"),
    ("ba", "n, m=2"),
    ("ws", "n, k=4, beta=0.1"),
    ("plrg", "n, exp=2.1, min=1, max=n^(1/exp)"),
    (
        "two-tier",
        "n, up=0.1 (share or count of ultrapeers), leaf_links=3, up_degree=10 (mean, at most up-1)",
    ),
];

/// A generator and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum GenSpec {
    Ring {
        n: u32,
    },
    Line {
        n: u32,
    },
    Star {
        n: u32,
    },
    Complete {
        n: u32,
    },
    Grid {
        w: u32,
        h: u32,
    },
    Torus {
        w: u32,
        h: u32,
    },
    Tree {
        n: u32,
        k: u32,
    },
    /// Uniform random links with mean degree `d` (G(n, m), m = n·d/2).
    Random {
        n: u32,
        d: f64,
    },
    Gnp {
        n: u32,
        p: f64,
    },
    Regular {
        n: u32,
        d: u32,
    },
    Ba {
        n: u32,
        m: u32,
    },
    Ws {
        n: u32,
        k: u32,
        beta: f64,
    },
    /// `max: None` means [`scale_free::plrg_default_max`].
    Plrg {
        n: u32,
        exp: f64,
        min: u32,
        max: Option<u32>,
    },
    /// Ultrapeers (`up`) linked as a random graph of mean degree `up_degree`, every other
    /// peer a leaf linked to `leaf_links` random ultrapeers ([`two_tier::two_tier`]).
    TwoTier {
        n: u32,
        up: UltrapeerCount,
        leaf_links: u32,
        up_degree: f64,
    },
}

/// Why a spec was refused or a graph could not be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenError {
    #[error("empty topology spec (expected KIND:key=value,..., e.g. ring:n=12)")]
    Empty,
    #[error("unknown topology kind \"{kind}\" (kinds: {})", kind_names())]
    UnknownKind { kind: String },
    #[error("\"{part}\" is not key=value (expected KIND:key=value,..., e.g. ring:n=12)")]
    Syntax { part: String },
    #[error("{kind} takes no key \"{key}\" (keys: {keys})")]
    UnknownKey {
        kind: String,
        key: String,
        keys: String,
    },
    #[error("key \"{key}\" given twice")]
    DuplicateKey { key: String },
    #[error("{kind} needs \"{key}\" (keys: {keys})")]
    MissingKey {
        kind: String,
        key: String,
        keys: String,
    },
    #[error("{key}={value} is not a valid {expected}")]
    BadNumber {
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("{key}: {message}")]
    Value { key: String, message: String },
    #[error("{links} links is more than this tool builds ({MAX_LINKS})")]
    TooLarge { links: u64 },
    #[error("{nodes} nodes is more than this tool builds ({MAX_NODES})")]
    TooManyNodes { nodes: u64 },
}

impl GenError {
    pub(crate) fn value(key: &str, message: String) -> GenError {
        GenError::Value {
            key: key.to_string(),
            message,
        }
    }
}

fn kind_names() -> String {
    KINDS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
}

fn check_node_budget(nodes: u64) -> Result<(), GenError> {
    if nodes > MAX_NODES {
        return Err(GenError::TooManyNodes { nodes });
    }
    Ok(())
}

pub(crate) fn check_link_budget(links: u64) -> Result<(), GenError> {
    if links > MAX_LINKS {
        return Err(GenError::TooLarge { links });
    }
    Ok(())
}

/// A link as one integer, for hash sets.
pub(crate) fn edge_key(a: u32, b: u32) -> u64 {
    (u64::from(a.min(b)) << 32) | u64::from(a.max(b))
}

/// A hash set of [`edge_key`]s with a cheap multiplicative hash: the keys are our own
/// integers, not attacker input, and SipHash would dominate generation time.
pub(crate) type EdgeSet = HashSet<u64, BuildHasherDefault<EdgeHasher>>;

#[derive(Default)]
pub(crate) struct EdgeHasher(u64);

impl Hasher for EdgeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        let h = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

impl GenSpec {
    /// Parses `KIND:key=value,...` (keys `nodes`, `degree`, `width`, `height`,
    /// `exponent` are accepted for `n`, `d`, `w`, `h`, `exp`).
    pub fn parse(spec: &str) -> Result<GenSpec, GenError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(GenError::Empty);
        }
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut params = Vec::new();
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| GenError::Syntax {
                part: part.to_string(),
            })?;
            params.push((k.trim().to_string(), v.trim().to_string()));
        }
        GenSpec::from_parts(kind, &params)
    }

    /// Builds a spec from a kind and `key=value` pairs (the CLI's `gen KIND --nodes N
    /// --param k=3` form).
    pub fn from_parts(kind: &str, params: &[(String, String)]) -> Result<GenSpec, GenError> {
        let kind = kind.trim().to_ascii_lowercase();
        let keys = KINDS
            .iter()
            .find(|k| k.0 == kind)
            .map(|k| k.1)
            .ok_or_else(|| GenError::UnknownKind { kind: kind.clone() })?;
        let mut p = Params {
            kind: kind.clone(),
            keys,
            map: BTreeMap::new(),
        };
        for (k, v) in params {
            let key = canonical_key(&k.to_ascii_lowercase()).to_string();
            if p.map.insert(key.clone(), v.clone()).is_some() {
                return Err(GenError::DuplicateKey { key });
            }
        }
        let spec = match kind.as_str() {
            "ring" => GenSpec::Ring { n: p.nodes()? },
            "line" => GenSpec::Line { n: p.nodes()? },
            "star" => GenSpec::Star { n: p.nodes()? },
            "complete" => GenSpec::Complete { n: p.nodes()? },
            "grid" | "torus" => {
                let (w, h) = match (p.u32("w")?, p.u32("h")?, p.u32("n")?) {
                    (Some(w), Some(h), None) => (w, h),
                    (None, None, Some(n)) => square_side(n).map(|s| (s, s)).ok_or_else(|| {
                        GenError::value("n", format!("{n} is not a square; give w and h"))
                    })?,
                    (Some(w), None, None) => (w, w),
                    _ => {
                        return Err(GenError::value(
                            "w",
                            "give w and h, or n (a square)".to_string(),
                        ))
                    }
                };
                if w == 0 || h == 0 {
                    return Err(GenError::value("w", "sides must be at least 1".to_string()));
                }
                if u64::from(w) * u64::from(h) > u64::from(u32::MAX) {
                    return Err(GenError::value("w", format!("{w}×{h} nodes is too many")));
                }
                if kind == "grid" {
                    GenSpec::Grid { w, h }
                } else {
                    GenSpec::Torus { w, h }
                }
            }
            "tree" => {
                let n = p.nodes()?;
                let k = p.u32("k")?.unwrap_or(2);
                if k == 0 {
                    return Err(GenError::value("k", "must be at least 1".to_string()));
                }
                GenSpec::Tree { n, k }
            }
            "random" => {
                let n = p.nodes()?;
                let d = p.f64("d")?.unwrap_or(4.0);
                if !(d.is_finite() && d >= 0.0) {
                    return Err(GenError::value("d", format!("{d} must be a number >= 0")));
                }
                GenSpec::Random { n, d }
            }
            "gnp" => {
                let n = p.nodes()?;
                let prob = p.f64("p")?.ok_or_else(|| p.missing("p"))?;
                GenSpec::Gnp { n, p: prob }
            }
            "regular" => GenSpec::Regular {
                n: p.nodes()?,
                d: p.u32("d")?.unwrap_or(4),
            },
            "ba" => GenSpec::Ba {
                n: p.nodes()?,
                m: p.u32("m")?.unwrap_or(2),
            },
            "ws" => GenSpec::Ws {
                n: p.nodes()?,
                k: p.u32("k")?.unwrap_or(4),
                beta: p.f64("beta")?.unwrap_or(0.1),
            },
            "plrg" => GenSpec::Plrg {
                n: p.nodes()?,
                exp: p.f64("exp")?.unwrap_or(2.1),
                min: p.u32("min")?.unwrap_or(1),
                max: p.u32("max")?,
            },
            "two-tier" => {
                let n = p.nodes()?;
                let up = match p.map.remove("up") {
                    Some(v) => UltrapeerCount::parse(&v)?,
                    None => UltrapeerCount::Fraction(0.1),
                };
                let ups = up.of(n)?;
                // The default, 10, shrinks to fit a small core.
                let up_degree = p.f64("up_degree")?.unwrap_or(f64::from(ups - 1).min(10.0));
                if up_degree < 0.0 || up_degree > f64::from(ups - 1) {
                    return Err(GenError::value(
                        "up_degree",
                        format!("{up_degree} must be from 0 to ultrapeers - 1 = {}", ups - 1),
                    ));
                }
                let leaf_links = p.u32("leaf_links")?.unwrap_or(3);
                if leaf_links == 0 && ups < n {
                    return Err(GenError::value(
                        "leaf_links",
                        "must be at least 1 (a leaf needs an ultrapeer)".to_string(),
                    ));
                }
                GenSpec::TwoTier {
                    n,
                    up,
                    leaf_links,
                    up_degree,
                }
            }
            _ => return Err(GenError::UnknownKind { kind }),
        };
        p.finish()?;
        check_node_budget(u64::from(spec.node_count()))?;
        Ok(spec)
    }

    /// The kind's name, as in the spec.
    pub fn kind(&self) -> &'static str {
        match self {
            GenSpec::Ring { .. } => "ring",
            GenSpec::Line { .. } => "line",
            GenSpec::Star { .. } => "star",
            GenSpec::Complete { .. } => "complete",
            GenSpec::Grid { .. } => "grid",
            GenSpec::Torus { .. } => "torus",
            GenSpec::Tree { .. } => "tree",
            GenSpec::Random { .. } => "random",
            GenSpec::Gnp { .. } => "gnp",
            GenSpec::Regular { .. } => "regular",
            GenSpec::Ba { .. } => "ba",
            GenSpec::Ws { .. } => "ws",
            GenSpec::Plrg { .. } => "plrg",
            GenSpec::TwoTier { .. } => "two-tier",
        }
    }

    /// How many nodes the graph will have.
    pub fn node_count(&self) -> u32 {
        match *self {
            GenSpec::Grid { w, h } | GenSpec::Torus { w, h } => w * h,
            GenSpec::Ring { n }
            | GenSpec::Line { n }
            | GenSpec::Star { n }
            | GenSpec::Complete { n }
            | GenSpec::Tree { n, .. }
            | GenSpec::Random { n, .. }
            | GenSpec::Gnp { n, .. }
            | GenSpec::Regular { n, .. }
            | GenSpec::Ba { n, .. }
            | GenSpec::Ws { n, .. }
            | GenSpec::Plrg { n, .. }
            | GenSpec::TwoTier { n, .. } => n,
        }
    }

    /// About how many links the graph will have (exact for the regular kinds, the
    /// expectation for random ones), to estimate memory before generating.
    pub fn link_estimate(&self) -> u64 {
        let n = u64::from(self.node_count());
        let half = |degree: f64| (n as f64 * degree / 2.0).max(0.0) as u64;
        match *self {
            GenSpec::Ring { .. } => n,
            GenSpec::Line { .. } | GenSpec::Star { .. } | GenSpec::Tree { .. } => {
                n.saturating_sub(1)
            }
            GenSpec::Complete { .. } => n * n.saturating_sub(1) / 2,
            GenSpec::Grid { .. } | GenSpec::Torus { .. } => 2 * n,
            GenSpec::Random { d, .. } => half(d),
            GenSpec::Gnp { p, .. } => half(p * n.saturating_sub(1) as f64),
            GenSpec::Regular { d, .. } => half(f64::from(d)),
            GenSpec::Ba { m, .. } => n.saturating_mul(u64::from(m)),
            GenSpec::Ws { k, .. } => half(f64::from(k)),
            // Mean of a power law with exponent > 2 from `min`: min·(exp-1)/(exp-2).
            GenSpec::Plrg { exp, min, .. } => {
                let mean = if exp > 2.0 {
                    f64::from(min) * (exp - 1.0) / (exp - 2.0)
                } else {
                    f64::from(min) * 10.0
                };
                half(mean.min(n as f64))
            }
            GenSpec::TwoTier {
                n: nodes,
                up,
                leaf_links,
                up_degree,
            } => {
                let ups = up.of(nodes).unwrap_or(1);
                let leaves = u64::from(nodes - ups);
                (f64::from(ups) * up_degree / 2.0).max(0.0) as u64
                    + leaves * u64::from(leaf_links.min(ups))
            }
        }
    }

    /// Generates the graph; the seed drives every random choice.
    pub fn generate(&self, seed: u64) -> Result<Graph, GenError> {
        let n = self.node_count();
        // Specs built in code skip `from_parts`: check again before allocating.
        check_node_budget(u64::from(n))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let edges = match *self {
            GenSpec::Ring { n } => lattice::ring(n),
            GenSpec::Line { n } => lattice::line(n),
            GenSpec::Star { n } => lattice::star(n),
            GenSpec::Complete { n } => {
                check_link_budget(u64::from(n) * u64::from(n).saturating_sub(1) / 2)?;
                lattice::complete(n)
            }
            GenSpec::Grid { w, h } => lattice::grid(w, h, false),
            GenSpec::Torus { w, h } => lattice::grid(w, h, true),
            GenSpec::Tree { n, k } => lattice::tree(n, k),
            GenSpec::Random { n, d } => random::random_mean_degree(n, d, &mut rng)?,
            GenSpec::Gnp { n, p } => random::gnp(n, p, &mut rng)?,
            GenSpec::Regular { n, d } => random::regular(n, d, &mut rng)?,
            GenSpec::Ba { n, m } => scale_free::barabasi_albert(n, m, &mut rng)?,
            GenSpec::Ws { n, k, beta } => small_world::watts_strogatz(n, k, beta, &mut rng)?,
            GenSpec::Plrg { n, exp, min, max } => {
                let max = max.unwrap_or_else(|| scale_free::plrg_default_max(n, exp, min));
                scale_free::plrg(n, exp, min, max, &mut rng)?
            }
            GenSpec::TwoTier {
                n,
                up,
                leaf_links,
                up_degree,
            } => {
                let ups = up.of(n)?;
                let (edges, roles) = two_tier::two_tier(n, ups, leaf_links, up_degree, &mut rng)?;
                return Ok(Graph::from_edges(n as usize, &edges).with_ultrapeers(roles));
            }
        };
        Ok(Graph::from_edges(n as usize, &edges))
    }
}

impl FromStr for GenSpec {
    type Err = GenError;
    fn from_str(s: &str) -> Result<GenSpec, GenError> {
        GenSpec::parse(s)
    }
}

/// The canonical spec string, which parses back to the same spec.
impl fmt::Display for GenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind();
        match *self {
            GenSpec::Ring { n }
            | GenSpec::Line { n }
            | GenSpec::Star { n }
            | GenSpec::Complete { n } => {
                write!(f, "{kind}:n={n}")
            }
            GenSpec::Grid { w, h } | GenSpec::Torus { w, h } => write!(f, "{kind}:w={w},h={h}"),
            GenSpec::Tree { n, k } => write!(f, "{kind}:n={n},k={k}"),
            GenSpec::Random { n, d } => write!(f, "{kind}:n={n},d={d}"),
            GenSpec::Gnp { n, p } => write!(f, "{kind}:n={n},p={p}"),
            GenSpec::Regular { n, d } => write!(f, "{kind}:n={n},d={d}"),
            GenSpec::Ba { n, m } => write!(f, "{kind}:n={n},m={m}"),
            GenSpec::Ws { n, k, beta } => write!(f, "{kind}:n={n},k={k},beta={beta}"),
            GenSpec::Plrg { n, exp, min, max } => {
                write!(f, "{kind}:n={n},exp={exp},min={min}")?;
                match max {
                    Some(max) => write!(f, ",max={max}"),
                    None => Ok(()),
                }
            }
            GenSpec::TwoTier {
                n,
                up,
                leaf_links,
                up_degree,
            } => write!(
                f,
                "{kind}:n={n},up={up},leaf_links={leaf_links},up_degree={up_degree}"
            ),
        }
    }
}

fn canonical_key(key: &str) -> &str {
    match key {
        "nodes" => "n",
        "degree" => "d",
        "width" => "w",
        "height" => "h",
        "exponent" => "exp",
        other => other,
    }
}

fn square_side(n: u32) -> Option<u32> {
    let s = f64::from(n).sqrt().round() as u32;
    (s.checked_mul(s) == Some(n)).then_some(s)
}

/// The keys of one spec, consumed as the kind reads them; leftovers are unknown keys.
struct Params {
    kind: String,
    keys: &'static str,
    map: BTreeMap<String, String>,
}

impl Params {
    fn missing(&self, key: &str) -> GenError {
        GenError::MissingKey {
            kind: self.kind.clone(),
            key: key.to_string(),
            keys: self.keys.to_string(),
        }
    }

    fn nodes(&mut self) -> Result<u32, GenError> {
        let n = self.u32("n")?.ok_or_else(|| self.missing("n"))?;
        if n == 0 {
            return Err(GenError::value("n", "must be at least 1".to_string()));
        }
        Ok(n)
    }

    fn u32(&mut self, key: &str) -> Result<Option<u32>, GenError> {
        match self.map.remove(key) {
            None => Ok(None),
            Some(v) => {
                let cleaned = v.replace('_', "");
                cleaned
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| GenError::BadNumber {
                        key: key.to_string(),
                        value: v,
                        expected: "whole number",
                    })
            }
        }
    }

    fn f64(&mut self, key: &str) -> Result<Option<f64>, GenError> {
        match self.map.remove(key) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(GenError::BadNumber {
                    key: key.to_string(),
                    value: v,
                    expected: "number",
                }),
            },
        }
    }

    fn finish(self) -> Result<(), GenError> {
        match self.map.into_keys().next() {
            None => Ok(()),
            Some(key) => Err(GenError::UnknownKey {
                kind: self.kind,
                key,
                keys: self.keys.to_string(),
            }),
        }
    }
}
