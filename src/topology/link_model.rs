//! The link model of a topology config: each link's one-way latency and loss rate.
//!
//! Every engine that runs a config over a network it models reads the links from here:
//! the simulator (through [`Graph::from_config`](super::Graph::from_config)), the Shadow
//! export's GML graph, and later a live driver that delays its own sends. So a link that
//! is 35 ms and 1 % lossy in `sim` is 35 ms and 1 % lossy under Shadow too.
//!
//! A config gives a latency and a loss in `defaults` (every link) and may override them
//! per link in `links[]`. A latency is a constant or a range `{"min": A, "max": B}`; a
//! range is drawn once per link, uniformly at microsecond resolution, from a hash of the
//! config's seed and the link's two peers, so the same config and seed give every link
//! the same latency in every engine and on every machine, with no table to store.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::config::TopologyConfig;
use crate::node::identity::mix;

/// The latency of links that neither the link nor `defaults` gives one: the simulator's
/// default `--latency`, and what the Shadow export uses for them.
pub const DEFAULT_LATENCY_MS: f64 = 10.0;

/// A latency as a config writes it: `20` or `{"min": 5, "max": 50}` (milliseconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencySpec {
    Fixed(f64),
    /// Drawn per link, uniformly in `[min, max]`.
    Range {
        min: f64,
        max: f64,
    },
}

impl LatencySpec {
    /// The largest latency this spec can give a link.
    pub fn max_ms(&self) -> f64 {
        match *self {
            LatencySpec::Fixed(ms) => ms,
            LatencySpec::Range { max, .. } => max,
        }
    }

    /// Why the spec is not a usable latency, if it is not.
    pub fn problem(&self) -> Option<String> {
        let bad = |ms: f64| !(ms.is_finite() && ms >= 0.0);
        match *self {
            LatencySpec::Fixed(ms) if bad(ms) => {
                Some(format!("latency must be a finite number >= 0, not {ms}"))
            }
            LatencySpec::Range { min, max } if bad(min) || bad(max) => Some(format!(
                "latency range bounds must be finite numbers >= 0, not {min} and {max}"
            )),
            LatencySpec::Range { min, max } if min > max => Some(format!(
                "latency range is empty: min {min} is above max {max}"
            )),
            _ => None,
        }
    }

    /// The latency of link `a`-`b` (either order) under `seed`, in milliseconds.
    pub fn draw(&self, seed: u64, a: usize, b: usize) -> f64 {
        match *self {
            LatencySpec::Fixed(ms) => ms,
            LatencySpec::Range { min, max } => {
                let (lo, hi) = ((min * 1000.0).round() as u64, (max * 1000.0).round() as u64);
                let (a, b) = (a.min(b) as u64, a.max(b) as u64);
                // Domain-separated from every other per-link or per-peer hash of the seed.
                let h = mix(seed ^ mix(0x6c69_6e6b_0000_0000 ^ mix((a << 32) ^ b)));
                let span = hi.saturating_sub(lo).saturating_add(1);
                (lo + h % span) as f64 / 1000.0
            }
        }
    }
}

impl fmt::Display for LatencySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LatencySpec::Fixed(ms) => write!(f, "{ms} ms"),
            LatencySpec::Range { min, max } => write!(f, "{min}..{max} ms"),
        }
    }
}

impl Serialize for LatencySpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            LatencySpec::Fixed(ms) => serializer.serialize_f64(ms),
            LatencySpec::Range { min, max } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("min", &min)?;
                map.serialize_entry("max", &max)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for LatencySpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpecVisitor;
        impl<'de> serde::de::Visitor<'de> for SpecVisitor {
            type Value = LatencySpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a latency in milliseconds (a number) or a range {\"min\": MS, \"max\": MS}",
                )
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<LatencySpec, E> {
                Ok(LatencySpec::Fixed(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<LatencySpec, E> {
                Ok(LatencySpec::Fixed(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<LatencySpec, E> {
                Ok(LatencySpec::Fixed(v as f64))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<LatencySpec, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<f64>()?),
                        "max" => max = Some(map.next_value::<f64>()?),
                        _ => {
                            return Err(serde::de::Error::unknown_field(&key, &["min", "max"]));
                        }
                    }
                }
                match (min, max) {
                    (Some(min), Some(max)) => Ok(LatencySpec::Range { min, max }),
                    (None, _) => Err(serde::de::Error::missing_field("min")),
                    (_, None) => Err(serde::de::Error::missing_field("max")),
                }
            }
        }
        deserializer.deserialize_any(SpecVisitor)
    }
}

/// Why a loss rate is not a probability, if it is not.
pub fn loss_problem(loss: f64) -> Option<String> {
    if (0.0..=1.0).contains(&loss) {
        None
    } else {
        Some(format!(
            "loss must be a fraction of messages from 0 to 1, not {loss}"
        ))
    }
}

/// What one link does to the messages put on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way latency in milliseconds; `None` when neither the link nor the defaults
    /// give one (each engine then uses its own default, [`DEFAULT_LATENCY_MS`]).
    pub latency_ms: Option<f64>,
    /// Probability that a message put on the link is lost, 0 to 1.
    pub loss: f64,
}

impl LinkParams {
    /// The latency, or [`DEFAULT_LATENCY_MS`] when the config gives none.
    pub fn latency_or_default(&self) -> f64 {
        self.latency_ms.unwrap_or(DEFAULT_LATENCY_MS)
    }
}

/// The settings of a config's links, resolved per link on demand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkModel {
    seed: u64,
    latency: Option<LatencySpec>,
    loss: f64,
    /// `links[]` entries with a setting, by peer indices `(a, b)`, `a < b`; a later entry
    /// for the same link overrides an earlier one key by key.
    overrides: HashMap<(usize, usize), (Option<LatencySpec>, Option<f64>)>,
}

impl LinkModel {
    /// The link model of a config (validated or not: entries naming unknown peers are
    /// skipped).
    pub fn of(config: &TopologyConfig) -> LinkModel {
        let index = config.lenient_index();
        let mut overrides: HashMap<(usize, usize), (Option<LatencySpec>, Option<f64>)> =
            HashMap::new();
        for link in &config.links {
            if link.latency_ms.is_none() && link.loss.is_none() {
                continue;
            }
            let [a, b] = &link.between;
            if let (Some(i), Some(j)) = (index.get(a), index.get(b)) {
                if i != j {
                    let entry = overrides.entry((i.min(j), i.max(j))).or_default();
                    entry.0 = link.latency_ms.or(entry.0);
                    entry.1 = link.loss.or(entry.1);
                }
            }
        }
        LinkModel {
            seed: config.defaults.seed,
            latency: config.defaults.latency_ms,
            loss: config.defaults.loss.unwrap_or(0.0),
            overrides,
        }
    }

    /// The settings of link `a`-`b` (either order): its own, else the defaults.
    pub fn link(&self, a: usize, b: usize) -> LinkParams {
        let own = self.overrides.get(&(a.min(b), a.max(b)));
        let latency = own.and_then(|o| o.0).or(self.latency);
        LinkParams {
            latency_ms: latency.map(|spec| spec.draw(self.seed, a, b)),
            loss: own.and_then(|o| o.1).unwrap_or(self.loss),
        }
    }

    /// The longest one-way latency any link may draw, in milliseconds (0 when the config
    /// sets none): how long a message just sent may still be on its way.
    pub fn max_latency_ms(&self) -> f64 {
        let max = |spec: &LatencySpec| match *spec {
            LatencySpec::Fixed(v) => v,
            LatencySpec::Range { max, .. } => max,
        };
        self.overrides
            .values()
            .filter_map(|o| o.0.as_ref())
            .chain(self.latency.as_ref())
            .map(max)
            .fold(0.0, f64::max)
    }

    /// Whether the config gives any link a latency (else every engine uses its default).
    pub fn sets_latency(&self) -> bool {
        self.latency.is_some() || self.overrides.values().any(|o| o.0.is_some())
    }

    /// Whether any link may lose messages.
    pub fn sets_loss(&self) -> bool {
        self.loss > 0.0
            || self
                .overrides
                .values()
                .any(|o| o.1.is_some_and(|l| l > 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_drawn_once_per_link_in_range_and_symmetric() {
        let spec = LatencySpec::Range {
            min: 5.0,
            max: 50.0,
        };
        let mut seen = std::collections::HashSet::new();
        for (a, b) in [(0, 1), (1, 2), (2, 3), (7, 3), (100, 5)] {
            let ms = spec.draw(9, a, b);
            assert_eq!(ms, spec.draw(9, b, a));
            assert!((5.0..=50.0).contains(&ms), "{ms}");
            seen.insert((ms * 1000.0) as u64);
        }
        assert!(seen.len() > 1, "links get different latencies");
        assert_ne!(spec.draw(9, 0, 1), spec.draw(10, 0, 1), "the seed matters");
    }

    #[test]
    fn the_longest_latency_covers_defaults_ranges_and_link_overrides() {
        let mut model = LinkModel::default();
        assert_eq!(model.max_latency_ms(), 0.0);
        model.latency = Some(LatencySpec::Fixed(20.0));
        assert_eq!(model.max_latency_ms(), 20.0);
        model.overrides.insert(
            (0, 1),
            (
                Some(LatencySpec::Range {
                    min: 5.0,
                    max: 80.0,
                }),
                None,
            ),
        );
        model.overrides.insert((1, 2), (None, Some(0.5)));
        assert_eq!(model.max_latency_ms(), 80.0);
    }

    #[test]
    fn latency_reads_a_number_or_a_range_and_refuses_other_keys() {
        let fixed: LatencySpec = serde_json::from_str("20").unwrap();
        assert_eq!(fixed, LatencySpec::Fixed(20.0));
        let range: LatencySpec = serde_json::from_str(r#"{"min": 1, "max": 2.5}"#).unwrap();
        assert_eq!(range, LatencySpec::Range { min: 1.0, max: 2.5 });
        assert_eq!(
            serde_json::to_string(&range).unwrap(),
            r#"{"min":1.0,"max":2.5}"#
        );
        let e = serde_json::from_str::<LatencySpec>(r#"{"min": 1, "mx": 2}"#).unwrap_err();
        assert!(e.to_string().contains("mx"), "{e}");
        assert!(serde_json::from_str::<LatencySpec>(r#""20 ms""#).is_err());
        assert!(LatencySpec::Range { min: 3.0, max: 2.0 }
            .problem()
            .unwrap()
            .contains("empty"));
    }
}
