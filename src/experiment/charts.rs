//! The plots of a sweep: which ones its results have something to show in, and what goes
//! on each.
//!
//! A plot that compares nothing misleads more than it helps (bars for "topologies" with
//! one topology, a trade-off with one line), so every plot has a condition, and a sweep
//! that does not meet it gets the reason instead of the file. Strategies whose TTLs mean
//! different things never share an x axis: flood and ring (TTL = hops, a handful) are
//! drawn in one panel and random walkers (TTL = walk length, often hundreds) in another.
//! Every point is a mean over seeds with one standard deviation as its error bar.
//!
//! | file | drawn when |
//! |---|---|
//! | `messages_vs_ttl.svg`, `success_vs_ttl.svg`, `duplicates_vs_ttl.svg`, `first_hit_hops_vs_ttl.svg` | a line has two TTLs or more |
//! | `cache_hit_rate_vs_ttl.svg` | a `+cache` strategy has two TTLs or more |
//! | `success_vs_messages.svg` | two lines or more (topologies, strategies, swept values) |
//! | `duplicates_by_topology.svg` | two topologies or more |
//! | `strategies.svg` | two strategies or more |
//! | `vs_PARAM.svg` | `sweep.PARAM` lists two values or more |
//! | `over_time.svg` | the spec has `over_time` (mean degree and success against virtual time) |

use std::path::Path;

use crate::node::{Forwarding, StrategySpec};

use super::aggregate::AggregateRow;
use super::over_time::{self, Spread};
use super::params::{Param, ParamValue, Params};
use super::plot::{self, BarSeries, Bars, LinePanel, PlotError, Point, Series, XAxis, YScale};
use super::spec::ResolvedSpec;
use super::summary::Figure;

/// A chart ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub enum Chart {
    Lines {
        title: String,
        panels: Vec<LinePanel>,
    },
    Bars {
        title: String,
        panels: Vec<(String, String, Bars, YScale)>,
    },
}

impl Chart {
    pub fn draw(&self, path: &Path) -> Result<(), PlotError> {
        match self {
            Chart::Lines { title, panels } => plot::line_panels(path, title, panels),
            Chart::Bars { title, panels } => plot::bar_panels(path, title, panels),
        }
    }
}

/// Whether a plot is drawn, or why not.
#[derive(Clone, Debug, PartialEq)]
pub enum PlotOutcome {
    Draw(Chart),
    Skip(String),
}

/// One plot file of a sweep and what becomes of it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedPlot {
    pub file: String,
    pub outcome: PlotOutcome,
}

/// Every plot file a sweep can write (a stale one left by an earlier sweep into the
/// same directory is removed when this sweep does not draw it).
pub fn possible_files() -> Vec<String> {
    let mut files: Vec<String> = [
        "messages_vs_ttl.svg",
        "success_vs_ttl.svg",
        "duplicates_vs_ttl.svg",
        "first_hit_hops_vs_ttl.svg",
        "cache_hit_rate_vs_ttl.svg",
        "success_vs_messages.svg",
        "duplicates_by_topology.svg",
        "strategies.svg",
        OVER_TIME_FILE,
    ]
    .map(String::from)
    .to_vec();
    files.extend(Param::ALL.iter().map(|p| format!("vs_{p}.svg")));
    files
}

const OVER_TIME_FILE: &str = "over_time.svg";

/// `over_time.svg`: mean degree and success rate against virtual time, one line per
/// topology x strategy x TTL x swept values (means over seeds, bucket by bucket, each
/// point at the middle of its bucket).
pub fn over_time_plot(spec: &ResolvedSpec, lines: &[over_time::Line]) -> PlannedPlot {
    let outcome = match spec.spec.over_time {
        None => PlotOutcome::Skip("the spec has no `over_time`".into()),
        Some(_) if lines.is_empty() => {
            PlotOutcome::Skip("no run recorded figures over time".into())
        }
        Some(o) => PlotOutcome::Draw(over_time_chart(spec, o.bucket_secs, lines)),
    };
    PlannedPlot {
        file: OVER_TIME_FILE.to_string(),
        outcome,
    }
}

fn over_time_chart(spec: &ResolvedSpec, bucket_secs: u64, lines: &[over_time::Line]) -> Chart {
    let varies = |f: fn(&over_time::Line) -> String| distinct(lines.iter().map(f)).len() > 1;
    let (topology, strategy, ttl) = (
        varies(|l| l.topology.clone()),
        varies(|l| l.strategy.clone()),
        varies(|l| l.ttl.to_string()),
    );
    // The overlay first: it is what these plots compare.
    let mut params: Vec<Param> = spec
        .swept
        .iter()
        .filter(|(_, values)| values.len() > 1)
        .map(|(p, _)| *p)
        .collect();
    params.sort_by_key(|p| *p != Param::Overlay);
    let name = |l: &over_time::Line| {
        let mut parts = Vec::new();
        if topology {
            parts.push(l.topology.clone());
        }
        if strategy {
            parts.push(l.strategy.clone());
        }
        if ttl {
            parts.push(format!("ttl {}", l.ttl));
        }
        for p in &params {
            if let Some(v) = l.params.get(*p) {
                parts.push(short_value(*p, v));
            }
        }
        if parts.is_empty() {
            l.strategy.clone()
        } else {
            parts.join(", ")
        }
    };
    let series = |pick: fn(&over_time::LinePoint) -> Option<Spread>| -> Vec<Series> {
        lines
            .iter()
            .map(|l| Series {
                name: name(l),
                points: l
                    .points
                    .iter()
                    .filter_map(|p| {
                        let value = pick(p)?;
                        Some(Point {
                            x: (p.from_s + p.to_s) as f64 / 2.0,
                            y: value.mean,
                            x_sd: 0.0,
                            y_sd: value.sd(),
                            label: String::new(),
                        })
                    })
                    .collect(),
            })
            .collect()
    };
    let panel = |title: &str, y: &str, scale: YScale, s: Vec<Series>| LinePanel {
        title: title.to_string(),
        x_label: "virtual time (s)".to_string(),
        y_label: y.to_string(),
        x_axis: XAxis::Linear,
        scale,
        series: s,
    };
    let seeds = lines.iter().map(|l| l.seeds).max().unwrap_or(1);
    Chart::Lines {
        title: format!(
            "{}: against virtual time\nbuckets of {bucket_secs} s, each point at its middle; {}",
            spec.spec.name,
            spread_note(seeds)
        ),
        panels: vec![
            panel(
                "mean degree of online peers",
                "links per online peer",
                YScale::Linear,
                series(|p| p.mean_degree),
            ),
            panel(
                "success rate of the searches started",
                y_label(Figure::SuccessRate),
                YScale::Fraction,
                series(|p| p.success_rate),
            ),
        ],
    }
}

/// The figure's axis description.
fn y_label(figure: Figure) -> &'static str {
    match figure {
        Figure::SuccessRate => "share of queries with a hit",
        Figure::MessagesPerQuery => "query messages per query",
        Figure::DuplicatesFraction => "duplicates / query messages",
        Figure::FirstHitHopsMean => "hops to the first hit",
        Figure::LatencyMsMean => "ms to the first hit",
        Figure::CacheHitRate => "share of queries answered from a cache",
        Figure::PeersReachedPerQuery => "peers reached per query",
        Figure::HitsPerQuery => "hits per query",
        Figure::HitMessagesPerQuery => "QueryHit messages per query",
        Figure::MessagesPerNodeMean => "messages per peer",
        Figure::MessagesPerNodeMax => "messages of the busiest peer",
        Figure::LargestComponentFraction => "largest component / all peers",
        Figure::MeanDegreeStart => "mean degree at the start",
        Figure::MeanDegreeEnd => "mean degree at the end",
        Figure::Dials => "dials",
        Figure::DialsFailed => "failed dials",
        Figure::LinksMade => "links made by dials",
    }
}

fn scale_of(figure: Figure) -> YScale {
    if figure.is_share() {
        YScale::Fraction
    } else if matches!(
        figure,
        Figure::MessagesPerQuery | Figure::HitMessagesPerQuery | Figure::MessagesPerNodeMax
    ) {
        YScale::Log
    } else {
        YScale::Linear
    }
}

/// The strategy families whose TTLs mean the same thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// Flood and expanding ring: the TTL counts hops of a broadcast.
    Broadcast,
    /// Random walkers: the TTL is the walk length.
    Walk,
}

fn family(strategy: &str) -> Family {
    match strategy.parse::<StrategySpec>().map(|s| s.forwarding) {
        Ok(Forwarding::Walk { .. }) => Family::Walk,
        _ => Family::Broadcast,
    }
}

/// `walk` for `walk:16` (a series along the walker count joins every K), else the name.
fn without_walkers(strategy: &str) -> String {
    match strategy.parse::<StrategySpec>() {
        Ok(
            s @ StrategySpec {
                forwarding: Forwarding::Walk { .. },
                ..
            },
        ) => format!("walk{}", if s.cache { "+cache" } else { "" }),
        _ => strategy.to_string(),
    }
}

/// Names lines by what varies in the sweep (a one-topology sweep does not repeat the
/// topology in every name).
struct Namer {
    topology: bool,
    strategy: bool,
    params: Vec<Param>,
    /// The name when nothing varies: the strategy, or (for bars grouped by strategy) the
    /// topology.
    fallback_topology: bool,
}

impl Namer {
    fn new(spec: &ResolvedSpec, rows: &[AggregateRow]) -> Namer {
        Namer {
            topology: distinct(rows.iter().map(|r| r.topology.clone())).len() > 1,
            strategy: distinct(rows.iter().map(|r| r.strategy.clone())).len() > 1,
            params: spec
                .swept
                .iter()
                .filter(|(p, values)| values.len() > 1 && *p != Param::Walkers)
                .map(|(p, _)| *p)
                .collect(),
            fallback_topology: false,
        }
    }

    fn name(&self, topology: &str, strategy: &str, params: &Params) -> String {
        let mut parts = Vec::new();
        if self.topology {
            parts.push(topology.to_string());
        }
        if self.strategy {
            parts.push(strategy.to_string());
        }
        for param in &self.params {
            if let Some(v) = params.get(*param) {
                parts.push(format!("{param}={v}"));
            }
        }
        if parts.is_empty() && self.fallback_topology {
            topology.to_string()
        } else if parts.is_empty() {
            strategy.to_string()
        } else {
            parts.join(" / ")
        }
    }
}

/// A line's identity: rows with the same key differ only along the line's x.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    topology: String,
    strategy: String,
    params: Params,
}

/// Groups rows by key, in first-appearance order.
fn group_by<'a>(
    rows: impl Iterator<Item = &'a AggregateRow>,
    key: impl Fn(&AggregateRow) -> Key,
) -> Vec<(Key, Vec<&'a AggregateRow>)> {
    let mut groups: Vec<(Key, Vec<&AggregateRow>)> = Vec::new();
    for row in rows {
        let k = key(row);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(row),
            None => groups.push((k, vec![row])),
        }
    }
    groups
}

fn row_key(r: &AggregateRow) -> Key {
    Key {
        topology: r.topology.clone(),
        strategy: r.strategy.clone(),
        params: r.params.clone(),
    }
}

/// A point of `figure` at `x` from a row, with its spread; `None` where the mean is
/// undefined (no query succeeded in any seed).
fn point(row: &AggregateRow, x: f64, figure: Figure) -> Option<Point> {
    Some(Point {
        x,
        y: row.mean(figure)?,
        x_sd: 0.0,
        y_sd: row.sd(figure),
        label: String::new(),
    })
}

/// One line per key against TTL, for the rows of one family.
fn ttl_series(rows: &[&AggregateRow], figure: Figure, namer: &Namer) -> Vec<Series> {
    group_by(rows.iter().copied(), row_key)
        .into_iter()
        .map(|(key, mut members)| {
            members.sort_by_key(|r| r.ttl);
            Series {
                name: namer.name(&key.topology, &key.strategy, &key.params),
                points: members
                    .iter()
                    .filter_map(|r| point(r, f64::from(r.ttl), figure))
                    .collect(),
            }
        })
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// "mean of 2 seeds, error bars ±1 standard deviation" (or "one seed: no spread").
fn spread_note(seeds: usize) -> String {
    if seeds > 1 {
        format!("mean of {seeds} seeds, error bars ±1 standard deviation")
    } else {
        "one seed: no spread to show".to_string()
    }
}

/// A figure against TTL: one panel per strategy family present in `rows`.
fn ttl_chart(
    name: &str,
    note: &str,
    what: &str,
    rows: &[&AggregateRow],
    figure: Figure,
    namer: &Namer,
) -> Chart {
    let mut panels = Vec::new();
    for (fam, title, x_label) in [
        (Family::Broadcast, "flood and ring", "TTL (hops)"),
        (Family::Walk, "random walkers", "walk length (TTL)"),
    ] {
        let members: Vec<&AggregateRow> = rows
            .iter()
            .copied()
            .filter(|r| family(&r.strategy) == fam)
            .collect();
        if members.is_empty() {
            continue;
        }
        panels.push(LinePanel {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label(figure).to_string(),
            x_axis: XAxis::Linear,
            scale: scale_of(figure),
            series: ttl_series(&members, figure, namer),
        });
    }
    Chart::Lines {
        title: format!("{name}: {what}\n{note}"),
        panels,
    }
}

/// Whether some line of `rows` has two TTLs or more.
fn has_ttl_line(rows: &[&AggregateRow]) -> bool {
    group_by(rows.iter().copied(), row_key)
        .iter()
        .any(|(_, members)| distinct(members.iter().map(|r| r.ttl.to_string())).len() > 1)
}

/// The row of `members` with the largest TTL (the full reach the strategy was given).
fn at_largest_ttl<'a>(members: &[&'a AggregateRow]) -> Option<&'a AggregateRow> {
    members.iter().copied().max_by_key(|r| r.ttl)
}

/// Every plot of the sweep with what becomes of it, in a fixed order.
pub fn plan(spec: &ResolvedSpec, rows: &[AggregateRow]) -> Vec<PlannedPlot> {
    let name = spec.spec.name.as_str();
    let note = spread_note(spec.spec.seeds.len());
    let namer = Namer::new(spec, rows);
    let all: Vec<&AggregateRow> = rows.iter().collect();
    let topologies = distinct(rows.iter().map(|r| r.topology.clone()));
    let strategies = distinct(rows.iter().map(|r| r.strategy.clone()));
    let one_ttl = "every line runs at a single TTL: nothing to show along TTL";
    let mut out = Vec::new();
    let mut add = |file: &str, outcome: PlotOutcome| {
        out.push(PlannedPlot {
            file: file.to_string(),
            outcome,
        })
    };

    let ttl_line = has_ttl_line(&all);
    for (file, what, figure) in [
        (
            "messages_vs_ttl.svg",
            "query messages per query",
            Figure::MessagesPerQuery,
        ),
        ("success_vs_ttl.svg", "success rate", Figure::SuccessRate),
        (
            "duplicates_vs_ttl.svg",
            "duplicate share of query messages",
            Figure::DuplicatesFraction,
        ),
        (
            "first_hit_hops_vs_ttl.svg",
            "hops to the first hit",
            Figure::FirstHitHopsMean,
        ),
    ] {
        add(
            file,
            if ttl_line {
                PlotOutcome::Draw(ttl_chart(name, &note, what, &all, figure, &namer))
            } else {
                PlotOutcome::Skip(one_ttl.into())
            },
        );
    }

    let cached: Vec<&AggregateRow> = rows
        .iter()
        .filter(|r| r.strategy.ends_with("+cache"))
        .collect();
    add(
        "cache_hit_rate_vs_ttl.svg",
        if cached.is_empty() {
            PlotOutcome::Skip("no `+cache` strategy".into())
        } else if !has_ttl_line(&cached) {
            PlotOutcome::Skip(one_ttl.into())
        } else {
            PlotOutcome::Draw(ttl_chart(
                name,
                &note,
                "queries answered from a peer's result cache",
                &cached,
                Figure::CacheHitRate,
                &namer,
            ))
        },
    );

    let lines = group_by(rows.iter(), row_key);
    add(
        "success_vs_messages.svg",
        if lines.len() < 2 {
            PlotOutcome::Skip(
                "one line (one topology, one strategy, nothing swept): nothing to compare; success_vs_ttl.svg and messages_vs_ttl.svg show it".into(),
            )
        } else {
            let series = lines
                .into_iter()
                .map(|(key, mut members)| {
                    members.sort_by_key(|r| r.ttl);
                    let mut points: Vec<Point> = members
                        .iter()
                        .map(|r| Point {
                            x: r.summary.messages_per_query,
                            y: r.summary.success_rate,
                            x_sd: r.sd(Figure::MessagesPerQuery),
                            y_sd: r.sd(Figure::SuccessRate),
                            label: r.ttl.to_string(),
                        })
                        .collect();
                    merge_close_labels(&mut points);
                    Series {
                        name: namer.name(&key.topology, &key.strategy, &key.params),
                        points,
                    }
                })
                .collect();
            PlotOutcome::Draw(Chart::Lines {
                title: format!("{name}: success against cost\none point per TTL, labelled; {note}"),
                panels: vec![LinePanel {
                    title: String::new(),
                    x_label: "query messages per query".into(),
                    y_label: y_label(Figure::SuccessRate).into(),
                    x_axis: XAxis::Log,
                    scale: YScale::Fraction,
                    series,
                }],
            })
        },
    );

    // Bars compare each line at its largest TTL (the full reach it was given), which is
    // where duplicates and costs differ most.
    let at_max: Vec<(Key, &AggregateRow)> = group_by(rows.iter(), row_key)
        .into_iter()
        .filter_map(|(key, members)| Some((key, at_largest_ttl(&members)?)))
        .collect();
    let bars_of = |by_topology: bool, figure: Figure| -> Bars {
        // Categories: topologies (or strategies); one bar per strategy (or topology) and
        // swept values.
        let category = |k: &Key| {
            if by_topology {
                k.topology.clone()
            } else {
                k.strategy.clone()
            }
        };
        let bar_name = |k: &Key| {
            let within = Namer {
                topology: !by_topology && namer.topology,
                strategy: by_topology && namer.strategy,
                params: namer.params.clone(),
                fallback_topology: !by_topology,
            };
            within.name(&k.topology, &k.strategy, &k.params)
        };
        let categories = distinct(at_max.iter().map(|(k, _)| category(k)));
        let names = distinct(at_max.iter().map(|(k, _)| bar_name(k)));
        Bars {
            categories: categories.clone(),
            series: names
                .iter()
                .map(|bar| {
                    let found: Vec<Option<&AggregateRow>> = categories
                        .iter()
                        .map(|cat| {
                            at_max
                                .iter()
                                .find(|(k, _)| &category(k) == cat && &bar_name(k) == bar)
                                .map(|(_, r)| *r)
                        })
                        .collect();
                    BarSeries {
                        name: bar.clone(),
                        values: found
                            .iter()
                            .map(|r| r.and_then(|r| r.mean(figure)))
                            .collect(),
                        sd: found
                            .iter()
                            .map(|r| r.map_or(0.0, |r| r.sd(figure)))
                            .collect(),
                    }
                })
                .collect(),
        }
    };
    add(
        "duplicates_by_topology.svg",
        if topologies.len() < 2 {
            PlotOutcome::Skip("one topology: nothing to compare".into())
        } else {
            PlotOutcome::Draw(Chart::Bars {
                title: format!(
                    "{name}: duplicate share of query messages\nat each strategy's largest TTL; {note}"
                ),
                panels: vec![(
                    String::new(),
                    y_label(Figure::DuplicatesFraction).into(),
                    bars_of(true, Figure::DuplicatesFraction),
                    YScale::Fraction,
                )],
            })
        },
    );
    add(
        "strategies.svg",
        if strategies.len() < 2 {
            PlotOutcome::Skip("one strategy: nothing to compare".into())
        } else {
            PlotOutcome::Draw(Chart::Bars {
                title: format!(
                    "{name}: strategies side by side\nat each strategy's largest TTL; {note}"
                ),
                panels: vec![
                    (
                        "messages per query".into(),
                        y_label(Figure::MessagesPerQuery).into(),
                        bars_of(false, Figure::MessagesPerQuery),
                        YScale::Log,
                    ),
                    (
                        "success rate".into(),
                        y_label(Figure::SuccessRate).into(),
                        bars_of(false, Figure::SuccessRate),
                        YScale::Fraction,
                    ),
                ],
            })
        },
    );

    for (param, values) in &spec.swept {
        let file = format!("vs_{param}.svg");
        if values.len() < 2 {
            add(
                &file,
                PlotOutcome::Skip(format!("`sweep.{param}` lists one value")),
            );
            continue;
        }
        add(
            &file,
            PlotOutcome::Draw(param_chart(name, &note, *param, values, rows, &namer)),
        );
    }
    out
}

/// Figures against a swept parameter, each line at its strategy's largest TTL.
fn param_chart(
    name: &str,
    note: &str,
    param: Param,
    values: &[ParamValue],
    rows: &[AggregateRow],
    namer: &Namer,
) -> Chart {
    let figures: &[Figure] = match param {
        Param::LatencyMs => &[Figure::SuccessRate, Figure::LatencyMsMean],
        Param::CacheCapacity => &[
            Figure::CacheHitRate,
            Figure::MessagesPerQuery,
            Figure::FirstHitHopsMean,
        ],
        Param::RemoveKind | Param::RemoveFraction => {
            &[Figure::LargestComponentFraction, Figure::SuccessRate]
        }
        Param::Overlay => &[
            Figure::MeanDegreeEnd,
            Figure::LargestComponentFraction,
            Figure::SuccessRate,
        ],
        Param::Loss | Param::Churn | Param::Replicas | Param::Walkers => {
            &[Figure::SuccessRate, Figure::MessagesPerQuery]
        }
    };
    let numbers: Option<Vec<f64>> = values.iter().map(ParamValue::as_number).collect();
    let x_axis = match &numbers {
        None => XAxis::Categories(values.iter().map(ToString::to_string).collect()),
        Some(xs) => {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(0.0, f64::max);
            if lo > 0.0 && hi / lo >= 10.0 {
                XAxis::Log
            } else {
                XAxis::Linear
            }
        }
    };
    let x_of = |v: ParamValue| -> Option<f64> {
        match &numbers {
            Some(_) => v.as_number(),
            None => values.iter().position(|w| *w == v).map(|i| i as f64),
        }
    };
    // A line joins the rows that differ only in `param` (and, along `walkers`, in K).
    let key = |r: &AggregateRow| Key {
        topology: r.topology.clone(),
        strategy: if param == Param::Walkers {
            without_walkers(&r.strategy)
        } else {
            r.strategy.clone()
        },
        params: r.params.without(param),
    };
    let lines = group_by(rows.iter().filter(|r| r.params.get(param).is_some()), key);
    let panels = figures
        .iter()
        .map(|&figure| LinePanel {
            title: y_label(figure).to_string(),
            x_label: param.axis_label().to_string(),
            y_label: y_label(figure).to_string(),
            x_axis: x_axis.clone(),
            scale: scale_of(figure),
            series: lines
                .iter()
                .map(|(k, members)| {
                    let mut points: Vec<Point> = values
                        .iter()
                        .filter_map(|v| {
                            let at: Vec<&AggregateRow> = members
                                .iter()
                                .copied()
                                .filter(|r| r.params.get(param) == Some(*v))
                                .collect();
                            point(at_largest_ttl(&at)?, x_of(*v)?, figure)
                        })
                        .collect();
                    points.sort_by(|a, b| a.x.total_cmp(&b.x));
                    Series {
                        name: namer.name(&k.topology, &k.strategy, &k.params),
                        points,
                    }
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        })
        .collect();
    Chart::Lines {
        title: format!("{name}: against {param}\neach line at its largest TTL; {note}"),
        panels,
    }
}

/// A swept value as a short legend entry that says what it is (`dynamic`, `no churn`,
/// `churn 60:20 s`, `30% removed`), for legends that name several swept values at once.
fn short_value(param: Param, value: ParamValue) -> String {
    match value {
        ParamValue::Overlay(_) => value.to_string(),
        ParamValue::Churn(None) => "no churn".to_string(),
        ParamValue::Churn(Some(c)) => format!(
            "churn {}:{} s",
            short_secs(c.mean_session_ms),
            short_secs(c.mean_downtime_ms)
        ),
        ParamValue::Number(v) if param == Param::RemoveFraction => {
            format!("{}% removed", (v * 1000.0).round() / 10.0)
        }
        ParamValue::Kind(_) => format!("{value} removal"),
        _ => format!("{param}={value}"),
    }
}

fn short_secs(ms: f64) -> String {
    let s = ms / 1000.0;
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// Where consecutive trade-off points sit on top of each other (a walk that stopped
/// growing: walk:16 at 64, 128 and 255 costs the same), one label names the run
/// (`64–255`) instead of three labels printed over each other. "On top": within 12% on
/// the log cost axis and 0.02 in success.
fn merge_close_labels(points: &mut [Point]) {
    let close = |a: &Point, b: &Point| {
        a.x > 0.0 && b.x > 0.0 && (b.x / a.x).log10().abs() < 0.05 && (b.y - a.y).abs() < 0.02
    };
    let mut start = 0;
    while start < points.len() {
        let mut end = start;
        while end + 1 < points.len() && close(&points[end], &points[end + 1]) {
            end += 1;
        }
        if end > start {
            let last = points[end].label.clone();
            points[start].label = format!("{}–{last}", points[start].label);
            for p in &mut points[start + 1..=end] {
                p.label.clear();
            }
        }
        start = end + 1;
    }
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
