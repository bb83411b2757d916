//! The topology-config file: one JSON document that names every peer of a network, its
//! address, its neighbours, what it shares, and a workload of searches.
//!
//! The same file is launched live (`gnutella launch`) and loaded by the simulator
//! (`gnutella sim --topology`), so both worlds agree on the network. Outside tools rely
//! on the keys, so unknown keys are refused and every error names its place in the file.
//! The schema is documented in `topology-configs/README.md`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::link_model::{loss_problem, LatencySpec, LinkModel, LinkParams};
use crate::node::{CacheConfig, OverlayConfig, OverlayMode, RoleSetting, RoutingConfig, Strategy};

/// Default TTL of queries when neither the query nor the config says otherwise.
pub const DEFAULT_TTL: u8 = 7;
/// Default seed for everything random a config drives (synthetic file bytes, sim).
pub const DEFAULT_SEED: u64 = 1;

/// A whole network: defaults, peers, optional per-link settings and a workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyConfig {
    /// A label for reports.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub defaults: Defaults,
    pub peers: Vec<PeerConfig>,
    /// Optional links with settings (latency, loss: see [`LinkModel`]). A link listed
    /// here exists even if neither peer names the other in `neighbours`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkConfig>,
    #[serde(default, skip_serializing_if = "Workload::is_empty")]
    pub workload: Workload,
    /// Static (the listed links only, the default) or dynamic (discovery and a degree
    /// policy: `node::overlay`).
    #[serde(default, skip_serializing_if = "OverlayBlock::is_default")]
    pub overlay: OverlayBlock,
    /// The folder `share.dir` paths are relative to: the config file's folder when
    /// loaded from a file, the current directory when parsed from a string.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Settings every peer gets unless it overrides them: the workload's TTL, the network's
/// seed, the links' latency and loss, and the routing configuration, whose keys
/// (`max_ttl`, `cache`, `strategy`, `seen_capacity`, ... see [`RoutingConfig`]) sit
/// directly in `defaults`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Defaults {
    /// TTL of workload queries that do not give their own.
    pub ttl: u8,
    /// Seed of everything random a config drives: synthetic file contents, every peer's
    /// identity (servent GUID, RNG), and a simulation of the config.
    pub seed: u64,
    /// One-way latency of links that do not set their own: milliseconds, or a range
    /// drawn per link from the seed (`None`: each engine's default, see [`LinkModel`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<LatencySpec>,
    /// Fraction of messages lost on links that do not set their own (`None`: 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// How every peer routes, unless it overrides `max_ttl`, `cache` or `strategy`.
    #[serde(flatten)]
    pub routing: RoutingConfig,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            ttl: DEFAULT_TTL,
            seed: DEFAULT_SEED,
            latency_ms: None,
            loss: None,
            routing: RoutingConfig::default(),
        }
    }
}

impl<'de> Deserialize<'de> for Defaults {
    /// By hand rather than `#[serde(flatten)]`: flattening would lose the place of an
    /// error inside a routing key (`defaults.cache.mode`) and could not refuse unknown keys.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DefaultsVisitor;
        impl<'de> serde::de::Visitor<'de> for DefaultsVisitor {
            type Value = Defaults;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the defaults (an object)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Defaults, A::Error> {
                let mut defaults = Defaults::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "ttl" => defaults.ttl = map.next_value::<crate::validate::Ttl>()?.0,
                        "seed" => defaults.seed = map.next_value()?,
                        "latency_ms" => defaults.latency_ms = Some(map.next_value()?),
                        "loss" => defaults.loss = Some(map.next_value()?),
                        _ => {
                            if !defaults.routing.read_key(&key, &mut map)? {
                                return Err(serde::de::Error::custom(format!(
                                    "unknown field `{key}`, expected ttl, seed, latency_ms, loss \
                                     or a routing key: {}",
                                    RoutingConfig::KEYS.join(", ")
                                )));
                            }
                        }
                    }
                }
                Ok(defaults)
            }
        }
        deserializer.deserialize_map(DefaultsVisitor)
    }
}

/// A config's `overlay` block: the degree policy (`node::OverlayConfig`'s keys) and the
/// bootstrap hosts every peer of a dynamic overlay starts from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverlayBlock {
    pub mode: OverlayMode,
    pub min_degree: usize,
    pub max_degree: usize,
    pub host_cache: usize,
    /// Peer ids of this config or `ip:port` addresses of servents outside it; every
    /// peer of a dynamic overlay knows them from the start (besides its neighbours).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bootstrap: Vec<String>,
}

impl Default for OverlayBlock {
    fn default() -> Self {
        let c = OverlayConfig::default();
        OverlayBlock {
            mode: c.mode,
            min_degree: c.min_degree,
            max_degree: c.max_degree,
            host_cache: c.host_cache,
            bootstrap: Vec::new(),
        }
    }
}

impl OverlayBlock {
    fn is_default(&self) -> bool {
        *self == OverlayBlock::default()
    }

    /// The degree policy every peer runs.
    pub fn policy(&self) -> OverlayConfig {
        OverlayConfig {
            mode: self.mode,
            min_degree: self.min_degree,
            max_degree: self.max_degree,
            host_cache: self.host_cache,
        }
    }
}

/// A bootstrap host of a config: one of its peers, or a servent elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootstrapHost {
    Peer(usize),
    Addr(SocketAddrV4),
}

/// One peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Unique name, used by `neighbours`, `links` and workload `from`.
    pub id: String,
    /// Listening address. Port 0 asks the launcher for an ephemeral port.
    pub listen: SocketAddrV4,
    /// Peer ids to link with; a link named on one side only still exists.
    #[serde(default)]
    pub neighbours: Vec<String>,
    #[serde(default, skip_serializing_if = "ShareConfig::is_empty")]
    pub share: ShareConfig,
    /// Overrides `defaults.max_ttl` for this peer.
    #[serde(
        default,
        deserialize_with = "crate::validate::opt_ttl",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_ttl: Option<u8>,
    /// Overrides `defaults.cache` for this peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// Overrides `defaults.strategy` for this peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Overrides `defaults.role` for this peer: `ultrapeer`, `leaf` or `auto`
    /// (`node::role`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleSetting>,
}

/// What a peer shares: a real folder, synthetic files, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareConfig {
    /// A real folder, relative to the config file's folder (or absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Files whose bytes are generated from `defaults.seed`, name and size
    /// (see [`crate::topology::synthetic`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpec>,
}

impl ShareConfig {
    pub fn is_empty(&self) -> bool {
        self.dir.is_none() && self.files.is_empty()
    }
}

/// One synthetic file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// An explicit link, to give it settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// The two peer ids.
    pub between: [String; 2],
    /// One-way latency in milliseconds, or a range drawn from the seed; overrides
    /// `defaults.latency_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<LatencySpec>,
    /// Fraction of messages lost on this link; overrides `defaults.loss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

/// Searches to run once the network is up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    #[serde(default)]
    pub queries: Vec<QuerySpec>,
}

impl Workload {
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }
}

/// One search of the workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// Id of the peer that searches.
    pub from: String,
    /// Keywords, as a user types them.
    pub words: String,
    /// TTL of this query; `defaults.ttl` when absent.
    #[serde(
        default,
        deserialize_with = "crate::validate::opt_ttl",
        skip_serializing_if = "Option::is_none"
    )]
    pub ttl: Option<u8>,
    /// When to start it, in milliseconds after the overlay is up.
    #[serde(default)]
    pub at_ms: u64,
}

/// Why a topology config was refused. Every variant names its place in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Malformed JSON, an unknown key, a missing key or a value of the wrong type.
    #[error("{}line {line}, column {column}: {message}", at_path(.path))]
    Json {
        /// Where in the document, e.g. `peers[2].share` (empty at the top level).
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("\"peers\" is empty: a topology needs at least one peer")]
    NoPeers,
    #[error("peers[{index}]: empty id")]
    EmptyId { index: usize },
    #[error("peers[{index}]: duplicate id \"{id}\" (already used by peers[{first}])")]
    DuplicateId {
        id: String,
        index: usize,
        first: usize,
    },
    #[error("peer \"{peer}\": address {addr} is already used by peer \"{other}\"")]
    DuplicateAddress {
        peer: String,
        addr: SocketAddrV4,
        other: String,
    },
    #[error("peer \"{peer}\": neighbour \"{neighbour}\" is not a peer")]
    UnknownNeighbour { peer: String, neighbour: String },
    #[error("peer \"{peer}\": lists itself as a neighbour")]
    SelfLink { peer: String },
    #[error("links[{index}]: \"{id}\" is not a peer")]
    UnknownLinkPeer { index: usize, id: String },
    #[error("links[{index}]: links peer \"{id}\" to itself")]
    SelfLinkEntry { index: usize, id: String },
    #[error("workload.queries[{index}]: \"from\": \"{from}\" is not a peer")]
    UnknownQueryOrigin { index: usize, from: String },
    #[error("{place}: {message}")]
    InvalidValue { place: String, message: String },
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<ConfigError>,
    },
}

fn at_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!("at {path}, ")
    }
}

impl ConfigError {
    /// The error without the file it came from.
    pub fn inner(&self) -> &ConfigError {
        match self {
            ConfigError::InFile { source, .. } => source.inner(),
            other => other,
        }
    }
}

impl TopologyConfig {
    /// Reads, parses and validates a config file; `share.dir` paths become relative to
    /// the file's folder.
    pub fn load(path: impl AsRef<Path>) -> Result<TopologyConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        TopologyConfig::parse_from_file(&text, path)
    }

    /// Parses and validates text already read from `path`: errors name the file and
    /// `share.dir` paths become relative to its folder.
    pub fn parse_from_file(text: &str, path: &Path) -> Result<TopologyConfig, ConfigError> {
        let mut config = TopologyConfig::parse(text).map_err(|e| ConfigError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// Parses and validates a config held in memory.
    pub fn parse(text: &str) -> Result<TopologyConfig, ConfigError> {
        let config = TopologyConfig::parse_unvalidated(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses only the JSON shape (keys and types), without cross-checking peers.
    pub fn parse_unvalidated(text: &str) -> Result<TopologyConfig, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let config: TopologyConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ConfigError::Json {
                path,
                line: inner.line(),
                column: inner.column(),
                message: strip_position(&inner.to_string()),
            }
        })?;
        de.end().map_err(|e| ConfigError::Json {
            path: String::new(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        Ok(config)
    }

    /// Cross-checks what JSON alone cannot: ids, addresses, neighbours, workload origins.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.peers.is_empty() {
            return Err(ConfigError::NoPeers);
        }
        check_ttl("defaults.ttl", self.defaults.ttl)?;
        check_ttl("defaults.max_ttl", self.defaults.routing.max_ttl)?;
        self.defaults
            .routing
            .validate()
            .map_err(|message| ConfigError::InvalidValue {
                place: "defaults".to_string(),
                message,
            })?;
        check_latency("defaults.latency_ms", self.defaults.latency_ms)?;
        check_loss("defaults.loss", self.defaults.loss)?;
        let index = self.index_by_id()?;
        self.overlay
            .policy()
            .validate()
            .map_err(|message| ConfigError::InvalidValue {
                place: "overlay".to_string(),
                message,
            })?;
        if self.overlay.mode == OverlayMode::Dynamic
            && self.overlay.bootstrap.is_empty()
            && self.peers.len() > 1
        {
            let mut linked = vec![false; self.peers.len()];
            for (a, b) in self.links() {
                linked[a] = true;
                linked[b] = true;
            }
            if let Some(lonely) = linked.iter().position(|l| !l) {
                return Err(ConfigError::InvalidValue {
                    place: "overlay".to_string(),
                    message: format!(
                        "peer \"{}\" has no neighbour and the overlay no bootstrap host: \
                         it could never join (list one in overlay.bootstrap)",
                        self.peers[lonely].id
                    ),
                });
            }
        }
        for (i, host) in self.overlay.bootstrap.iter().enumerate() {
            if !index.contains(host) && host.parse::<SocketAddrV4>().is_err() {
                return Err(ConfigError::InvalidValue {
                    place: format!("overlay.bootstrap[{i}]"),
                    message: format!("\"{host}\" is neither a peer id nor an IPv4 ip:port"),
                });
            }
        }
        let mut addrs: HashMap<SocketAddrV4, &str> = HashMap::new();
        for peer in &self.peers {
            if peer.listen.port() != 0 {
                if let Some(other) = addrs.insert(peer.listen, &peer.id) {
                    return Err(ConfigError::DuplicateAddress {
                        peer: peer.id.clone(),
                        addr: peer.listen,
                        other: other.to_string(),
                    });
                }
            }
            for n in &peer.neighbours {
                if n == &peer.id {
                    return Err(ConfigError::SelfLink {
                        peer: peer.id.clone(),
                    });
                }
                if !index.contains(n) {
                    return Err(ConfigError::UnknownNeighbour {
                        peer: peer.id.clone(),
                        neighbour: n.clone(),
                    });
                }
            }
            if let Some(ttl) = peer.max_ttl {
                check_ttl(&format!("peer \"{}\": max_ttl", peer.id), ttl)?;
            }
            let mut names: HashSet<&str> = HashSet::new();
            for (j, f) in peer.share.files.iter().enumerate() {
                let place = || format!("peer \"{}\": share.files[{j}]", peer.id);
                check_file_name(place, &f.name)?;
                if !names.insert(&f.name) {
                    return Err(ConfigError::InvalidValue {
                        place: place(),
                        message: format!("file name \"{}\" appears twice", f.name),
                    });
                }
            }
        }
        for (i, link) in self.links.iter().enumerate() {
            for id in &link.between {
                if !index.contains(id) {
                    return Err(ConfigError::UnknownLinkPeer {
                        index: i,
                        id: id.clone(),
                    });
                }
            }
            if link.between[0] == link.between[1] {
                return Err(ConfigError::SelfLinkEntry {
                    index: i,
                    id: link.between[0].clone(),
                });
            }
            check_latency(&format!("links[{i}].latency_ms"), link.latency_ms)?;
            check_loss(&format!("links[{i}].loss"), link.loss)?;
        }
        for (i, q) in self.workload.queries.iter().enumerate() {
            if !index.contains(&q.from) {
                return Err(ConfigError::UnknownQueryOrigin {
                    index: i,
                    from: q.from.clone(),
                });
            }
            if let Some(ttl) = q.ttl {
                check_ttl(&format!("workload.queries[{i}].ttl"), ttl)?;
            }
            if let Err(e) = crate::validate::check_search_words(&q.words) {
                return Err(ConfigError::InvalidValue {
                    place: format!("workload.queries[{i}].words"),
                    message: e.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Peer index by id; refuses empty and duplicate ids.
    pub fn index_by_id(&self) -> Result<IdIndex<'_>, ConfigError> {
        IdIndex::new(&self.peers)
    }

    /// The `overlay.bootstrap` hosts, peer ids resolved to peer indices (call on a
    /// validated config: entries that are neither are skipped).
    pub fn bootstrap_hosts(&self) -> Vec<BootstrapHost> {
        self.overlay
            .bootstrap
            .iter()
            .filter_map(|host| match self.peer_index(host) {
                Some(i) => Some(BootstrapHost::Peer(i)),
                None => host.parse().ok().map(BootstrapHost::Addr),
            })
            .collect()
    }

    /// Index of the peer with this id (fast for generated ids `p0..pN-1`).
    pub fn peer_index(&self, id: &str) -> Option<usize> {
        match positional(id) {
            Some(i) if self.peers.get(i).is_some_and(|p| p.id == id) => Some(i),
            _ => self.peers.iter().position(|p| p.id == id),
        }
    }

    /// Every link once, as peer indices `(a, b)` with `a < b`, sorted: the union of both
    /// sides' `neighbours` and `links`. Unknown ids are skipped (`validate` refuses them).
    pub fn links(&self) -> Vec<(usize, usize)> {
        let index = IdIndex::lenient(&self.peers);
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for (i, peer) in self.peers.iter().enumerate() {
            for n in &peer.neighbours {
                if let Some(j) = index.get(n) {
                    if i != j {
                        pairs.push((i.min(j), i.max(j)));
                    }
                }
            }
        }
        for link in &self.links {
            let [a, b] = &link.between;
            if let (Some(i), Some(j)) = (index.get(a), index.get(b)) {
                if i != j {
                    pairs.push((i.min(j), i.max(j)));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// Like [`links`](Self::links), with each link's latency from the [`LinkModel`]: its
    /// own, else `defaults.latency_ms` (ranges drawn from the seed), else `None`.
    pub fn links_with_latency(&self) -> Vec<(usize, usize, Option<f64>)> {
        self.links_with_params()
            .into_iter()
            .map(|(a, b, p)| (a, b, p.latency_ms))
            .collect()
    }

    /// Like [`links`](Self::links), with each link's latency and loss from the
    /// [`LinkModel`].
    pub fn links_with_params(&self) -> Vec<(usize, usize, LinkParams)> {
        let model = LinkModel::of(self);
        self.links()
            .into_iter()
            .map(|(a, b)| (a, b, model.link(a, b)))
            .collect()
    }

    /// Peer ids to indices without refusing repeated ids (for configs not validated).
    pub(crate) fn lenient_index(&self) -> IdIndex<'_> {
        IdIndex::lenient(&self.peers)
    }

    /// The real folder a peer shares, resolved against the config's folder.
    pub fn share_dir(&self, peer: usize) -> Option<PathBuf> {
        let dir = self.peers.get(peer)?.share.dir.as_ref()?;
        Some(if dir.is_absolute() {
            dir.clone()
        } else {
            self.base_dir.join(dir)
        })
    }

    /// The routing configuration peer `peer` runs: the defaults with its own overrides.
    pub fn routing_of(&self, peer: usize) -> RoutingConfig {
        let mut routing = self.defaults.routing.clone();
        if let Some(p) = self.peers.get(peer) {
            if let Some(max_ttl) = p.max_ttl {
                routing.max_ttl = max_ttl;
            }
            if let Some(cache) = p.cache {
                routing.cache = cache;
            }
            if let Some(strategy) = p.strategy {
                routing.strategy = strategy;
            }
            if let Some(role) = p.role {
                routing.role = Some(role);
            }
        }
        routing
    }

    /// Whether peer `peer` overrides any routing default.
    pub fn overrides_routing(&self, peer: usize) -> bool {
        self.peers.get(peer).is_some_and(|p| {
            p.max_ttl.is_some() || p.cache.is_some() || p.strategy.is_some() || p.role.is_some()
        })
    }

    /// The TTL of a workload query (its own, else the default).
    pub fn ttl_of(&self, query: &QuerySpec) -> u8 {
        query.ttl.unwrap_or(self.defaults.ttl)
    }

    /// The config as JSON for a file: top-level keys indented, one line per peer, link
    /// and query, so a generated network of thousands of peers stays readable and diffable.
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain structs with string keys cannot fail.
        let one = |v: &dyn erased::Json| v.to_line();
        let list = |items: Vec<String>, indent: &str| -> String {
            if items.is_empty() {
                return "[]".to_string();
            }
            let inner = format!(",\n{indent}  ");
            format!("[\n{indent}  {}\n{indent}]", items.join(&inner))
        };
        let mut out = String::from("{\n");
        out += &format!("  \"name\": {},\n", one(&self.name));
        out += &format!("  \"defaults\": {},\n", one(&self.defaults));
        out += &format!(
            "  \"peers\": {}",
            list(self.peers.iter().map(|p| one(p)).collect(), "  ")
        );
        if !self.links.is_empty() {
            out += &format!(
                ",\n  \"links\": {}",
                list(self.links.iter().map(|l| one(l)).collect(), "  ")
            );
        }
        if !self.workload.is_empty() {
            out += &format!(
                ",\n  \"workload\": {{\n    \"queries\": {}\n  }}",
                list(
                    self.workload.queries.iter().map(|q| one(q)).collect(),
                    "    "
                )
            );
        }
        out += "\n}\n";
        out
    }
}

/// Peer ids to indices. Generated configs name peer `i` `p{i}`, so those ids resolve by
/// parsing, without hashing a million strings; other ids go through a hash map.
pub struct IdIndex<'a> {
    peers: &'a [PeerConfig],
    others: HashMap<&'a str, usize>,
}

impl<'a> IdIndex<'a> {
    /// Refuses empty and duplicate ids.
    pub fn new(peers: &'a [PeerConfig]) -> Result<IdIndex<'a>, ConfigError> {
        let mut others: HashMap<&str, usize> = HashMap::new();
        for (i, peer) in peers.iter().enumerate() {
            if peer.id.is_empty() {
                return Err(ConfigError::EmptyId { index: i });
            }
            if positional(&peer.id) == Some(i) {
                continue;
            }
            // An id at the wrong position may still clash with the peer it names.
            let clash = positional(&peer.id)
                .filter(|&j| peers.get(j).is_some_and(|p| p.id == peer.id))
                .or_else(|| others.get(peer.id.as_str()).copied());
            if let Some(first) = clash {
                let (first, index) = (first.min(i), first.max(i));
                return Err(ConfigError::DuplicateId {
                    id: peer.id.clone(),
                    index,
                    first,
                });
            }
            others.insert(&peer.id, i);
        }
        Ok(IdIndex { peers, others })
    }

    /// For configs not validated: a repeated id resolves to one of its peers.
    fn lenient(peers: &'a [PeerConfig]) -> IdIndex<'a> {
        let mut others: HashMap<&str, usize> = HashMap::new();
        for (i, peer) in peers.iter().enumerate() {
            if positional(&peer.id) != Some(i) {
                others.entry(&peer.id).or_insert(i);
            }
        }
        IdIndex { peers, others }
    }

    pub fn get(&self, id: &str) -> Option<usize> {
        match positional(id) {
            Some(i) if self.peers.get(i).is_some_and(|p| p.id == id) => Some(i),
            _ => self.others.get(id).copied(),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }
}

/// `i` for an id spelled exactly `p{i}` (no sign, no leading zeros).
fn positional(id: &str) -> Option<usize> {
    let digits = id.strip_prefix('p')?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && digits.len() <= 9;
    if canonical {
        digits.parse().ok()
    } else {
        None
    }
}

mod erased {
    /// One value as a single line of JSON with a space after `:` and `,`.
    pub trait Json {
        fn to_line(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_line(&self) -> String {
            let compact = serde_json::to_string(self).unwrap_or_default();
            spaced(&compact)
        }
    }

    /// Adds a space after separators outside strings: `{"a":1,"b":[2,3]}` becomes
    /// `{"a": 1, "b": [2, 3]}`.
    fn spaced(compact: &str) -> String {
        let mut out = String::with_capacity(compact.len() + compact.len() / 4);
        let (mut in_string, mut escaped) = (false, false);
        for c in compact.chars() {
            out.push(c);
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
            } else if c == ':' || c == ',' {
                out.push(' ');
            }
        }
        out
    }
}

fn check_ttl(place: &str, ttl: u8) -> Result<(), ConfigError> {
    crate::validate::check_ttl(ttl)
        .map(|_| ())
        .map_err(|e| ConfigError::InvalidValue {
            place: place.to_string(),
            message: e.to_string(),
        })
}

fn check_latency(place: &str, spec: Option<LatencySpec>) -> Result<(), ConfigError> {
    match spec.and_then(|s| s.problem()) {
        Some(message) => Err(ConfigError::InvalidValue {
            place: place.to_string(),
            message,
        }),
        None => Ok(()),
    }
}

fn check_loss(place: &str, loss: Option<f64>) -> Result<(), ConfigError> {
    match loss.and_then(loss_problem) {
        Some(message) => Err(ConfigError::InvalidValue {
            place: place.to_string(),
            message,
        }),
        None => Ok(()),
    }
}

/// Synthetic file names travel in QueryHits and become download names, so they must be
/// plain names (PROTOCOL.md: names are NUL-terminated; downloaders refuse separators).
fn check_file_name(place: impl Fn() -> String, name: &str) -> Result<(), ConfigError> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(ConfigError::InvalidValue {
            place: place(),
            message: format!(
                "file name {name:?} must be a plain name (no path separators or control characters)"
            ),
        });
    }
    Ok(())
}

/// serde_json appends " at line L column C"; we print the position ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

impl fmt::Display for TopologyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} peers, {} links)",
            self.name,
            self.peers.len(),
            self.links().len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: &str = r#"{
      "name": "quickstart",
      "defaults": { "ttl": 7, "max_ttl": 7, "seed": 1,
                    "cache": { "capacity": 1024, "max_age_secs": 300, "mode": "answer-and-forward" } },
      "peers": [
        { "id": "p0", "listen": "127.0.0.1:6346", "neighbours": ["p1", "p7"], "share": { "dir": "shared/p0" } },
        { "id": "p1", "listen": "127.0.0.1:6347", "neighbours": ["p0", "p2"],
          "share": { "files": [ { "name": "debian-12-netinst.iso", "size": 1048576 } ] } },
        { "id": "p2", "listen": "127.0.0.1:0" },
        { "id": "p7", "listen": "127.0.0.1:0", "neighbours": ["p2"] }
      ],
      "workload": { "queries": [ { "from": "p0", "words": "debian netinst", "ttl": 7, "at_ms": 0 } ] }
    }"#;

    #[test]
    fn issue_example_parses_and_links_are_undirected() {
        let c = TopologyConfig::parse(QUICK).unwrap();
        assert_eq!(c.links(), vec![(0, 1), (0, 3), (1, 2), (2, 3)]);
        assert_eq!(c.share_dir(0), Some(PathBuf::from("shared/p0")));
    }

    #[test]
    fn unknown_key_names_its_path() {
        let text = QUICK.replace("\"files\"", "\"fles\"");
        let e = TopologyConfig::parse(&text).unwrap_err().to_string();
        assert!(e.contains("peers[1].share") && e.contains("fles"), "{e}");
    }
}
