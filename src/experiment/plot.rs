//! SVG charts of sweep results (plotters): lines of a figure against TTL, and grouped bars
//! that put topologies or strategies side by side.
//!
//! The charts take plain series, not sweep rows, so they are easy to test and reuse; the
//! sweep decides what goes on which chart. Text is emitted as SVG `<text>`, so series
//! names can be found in the file and no system font is needed.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::atomic_write;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("plotting {path}: {message}")]
    Draw { path: String, message: String },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Saves a drawn chart under its final name in one step (see [`atomic_write`]).
fn save_svg(path: &Path, svg: &str) -> Result<(), PlotError> {
    atomic_write(path, svg).map_err(|source| PlotError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// One line: a name for the legend and its (x, y) points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Grouped bars: one group per category, one bar per series within each group.
#[derive(Clone, Debug, PartialEq)]
pub struct Bars {
    pub categories: Vec<String>,
    /// (series name, one value per category; `None` leaves a gap).
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// How the y axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YScale {
    Linear,
    /// Logarithmic, for figures that span orders of magnitude (messages per query).
    Log,
    /// A share from 0 to 1.
    Fraction,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 560;

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

fn draw_error(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError::Draw {
        path: path.display().to_string(),
        message,
    }
}

/// The y range a chart needs for `values` on `scale`.
fn y_range(values: impl Iterator<Item = f64>, scale: YScale) -> (f64, f64) {
    let finite: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    match scale {
        YScale::Fraction => (0.0, 1.0),
        YScale::Linear => {
            let max = finite.iter().copied().fold(0.0, f64::max);
            (0.0, if max > 0.0 { max * 1.1 } else { 1.0 })
        }
        YScale::Log => {
            let positive: Vec<f64> = finite.into_iter().filter(|v| *v > 0.0).collect();
            let min = positive.iter().copied().fold(f64::INFINITY, f64::min);
            let max = positive.iter().copied().fold(0.0, f64::max);
            if positive.is_empty() {
                (0.1, 10.0)
            } else {
                // Whole decades, so the axis always carries labelled powers of ten.
                let lo = 10f64.powf(min.log10().floor());
                let hi = 10f64.powf(max.log10().ceil());
                (lo, if hi > lo { hi } else { lo * 10.0 })
            }
        }
    }
}

/// Draws one line per series against x (e.g. messages per query against TTL).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    scale: YScale,
) -> Result<(), PlotError> {
    line_chart_with(path, title, x_label, y_label, series, false, scale)
}

/// Like [`line_chart`], with a logarithmic x axis when `log_x` (e.g. success against
/// messages per query, where strategies differ by orders of magnitude in cost).
pub fn line_chart_with(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
    scale: YScale,
) -> Result<(), PlotError> {
    let err = draw_error(path);
    // Drawn in memory, so a failure never leaves a half-written file.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let keep = |p: &(f64, f64)| {
            p.0.is_finite()
                && p.1.is_finite()
                && (!log_x || p.0 > 0.0)
                && (scale != YScale::Log || p.1 > 0.0)
        };
        let series: Vec<Series> = series
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                points: s.points.iter().copied().filter(keep).collect(),
            })
            .collect();
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let (x_min, x_max) = if log_x {
            y_range(
                series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
                YScale::Log,
            )
        } else if x_min.is_finite() && x_max > x_min {
            (x_min, x_max)
        } else if x_min.is_finite() {
            (x_min - 1.0, x_min + 1.0)
        } else {
            (0.0, 1.0)
        };
        let (y_lo, y_hi) = y_range(
            series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
            scale,
        );
        // Rising lines leave the upper left free on cost charts and the lower right free on
        // share-of-queries charts.
        let legend_at = if scale == YScale::Fraction {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperLeft
        };
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70);
        // Integer x values (TTLs) get integer labels only, not 1.5, 2.5, ...
        let integral_x = series
            .iter()
            .all(|s| s.points.iter().all(|p| p.0.fract() == 0.0));
        let x_format = move |x: &f64| -> String {
            if !integral_x {
                format!("{x}")
            } else if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        };
        macro_rules! draw_lines {
            ($x:expr, $y:expr) => {{
                let mut chart = builder
                    .build_cartesian_2d($x, $y)
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .x_label_formatter(&x_format)
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                for (i, s) in series.iter().enumerate() {
                    let c = colour(i);
                    chart
                        .draw_series(LineSeries::new(s.points.clone(), c.stroke_width(2)))
                        .map_err(|e| err(e.to_string()))?
                        .label(s.name.clone())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                        });
                    chart
                        .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, c.filled())))
                        .map_err(|e| err(e.to_string()))?;
                }
                legend(&mut chart, legend_at).map_err(|e| err(e.to_string()))?;
            }};
        }
        match (log_x, scale == YScale::Log) {
            (false, false) => draw_lines!(x_min..x_max, y_lo..y_hi),
            (false, true) => draw_lines!(x_min..x_max, (y_lo..y_hi).log_scale()),
            (true, false) => draw_lines!((x_min..x_max).log_scale(), y_lo..y_hi),
            (true, true) => draw_lines!((x_min..x_max).log_scale(), (y_lo..y_hi).log_scale()),
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    save_svg(path, &svg)
}

fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(position)
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws grouped bars (e.g. duplicates fraction per topology, one bar per strategy).
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    bars: &Bars,
    scale: YScale,
) -> Result<(), PlotError> {
    let err = draw_error(path);
    // Drawn in memory, so a failure never leaves a half-written file.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        draw_bars(&root, title, y_label, bars, scale).map_err(&err)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    save_svg(path, &svg)
}

/// Draws several bar charts side by side in one file (e.g. messages and success per
/// strategy), each panel `(title, y label, bars, scale)`.
pub fn bar_panels(
    path: &Path,
    title: &str,
    panels: &[(String, String, Bars, YScale)],
) -> Result<(), PlotError> {
    let err = draw_error(path);
    let count = panels.len().max(1);
    // Drawn in memory, so a failure never leaves a half-written file.
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (WIDTH * count as u32 / 2 + WIDTH / 2, HEIGHT))
                .into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = root
            .titled(title, ("sans-serif", 24))
            .map_err(|e| err(e.to_string()))?;
        let areas = root.split_evenly((1, count));
        for (area, (panel_title, y_label, bars, scale)) in areas.iter().zip(panels) {
            draw_bars(area, panel_title, y_label, bars, *scale).map_err(&err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    save_svg(path, &svg)
}

fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &Bars,
    scale: YScale,
) -> Result<(), String> {
    let groups = bars.categories.len().max(1);
    let per_group = bars.series.len().max(1);
    let values = bars
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten().copied());
    let (y_lo, y_hi) = y_range(values, scale);
    // Headroom above the tallest bar for the legend.
    let y_hi = match scale {
        YScale::Log => y_hi * 10.0,
        YScale::Linear | YScale::Fraction => y_hi * 1.3,
    };
    let categories = bars.categories.clone();
    let label_of = move |x: &f64| -> String {
        let i = x.floor();
        if (x - i - 0.5).abs() < 1e-6 && i >= 0.0 {
            categories.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    // Every group is one unit wide, its bars filling the middle 80%.
    let bar_rect = |group: usize, k: usize, value: f64, base: f64| {
        let width = 0.8 / per_group as f64;
        let left = group as f64 + 0.1 + width * k as f64;
        [(left, base), (left + width * 0.92, value)]
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70);
    if scale == YScale::Log {
        let mut chart = builder
            .build_cartesian_2d(0.0..groups as f64, (y_lo..y_hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups * 2 + 1)
            .x_label_formatter(&label_of)
            .y_desc(y_label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, (name, values)) in bars.series.iter().enumerate() {
            let c = colour(k);
            let rects = values.iter().enumerate().filter_map(|(g, v)| {
                v.filter(|v| *v > 0.0)
                    .map(|v| Rectangle::new(bar_rect(g, k, v, y_lo), c.filled()))
            });
            chart
                .draw_series(rects)
                .map_err(|e| e.to_string())?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    } else {
        let mut chart = builder
            .build_cartesian_2d(0.0..groups as f64, y_lo..y_hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups * 2 + 1)
            .x_label_formatter(&label_of)
            .y_desc(y_label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, (name, values)) in bars.series.iter().enumerate() {
            let c = colour(k);
            let rects = values
                .iter()
                .enumerate()
                .filter_map(|(g, v)| v.map(|v| Rectangle::new(bar_rect(g, k, v, 0.0), c.filled())));
            chart
                .draw_series(rects)
                .map_err(|e| e.to_string())?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}
