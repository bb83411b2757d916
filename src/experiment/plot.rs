//! SVG charts of sweep results (plotters): lines of a figure against an x axis (TTL, cost,
//! a swept parameter), possibly as panels side by side, and grouped bars that put
//! topologies or strategies side by side.
//!
//! What a reader must be able to trust is drawn here once for every chart: shares run on
//! an axis from exactly 0 to 1, error bars show one standard deviation over seeds, points
//! can carry a label (the TTL of a trade-off point), and legends sit in their own column
//! beside the chart so they never cover a line or a bar.
//!
//! The charts take plain series, not sweep rows, so they are easy to test and reuse; the
//! sweep decides what goes on which chart (`charts`). Text is emitted as SVG `<text>`, so
//! series names can be found in the file and no system font is needed.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// One point of a line: its position, one standard deviation either way (0: none drawn)
/// and an optional text beside it (e.g. the TTL it was run with).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub x_sd: f64,
    pub y_sd: f64,
    pub label: String,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            ..Point::default()
        }
    }
}

/// One line: a name for the legend and its points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

impl Series {
    /// A line through `xy`, without error bars or point labels.
    pub fn new(name: impl Into<String>, xy: impl IntoIterator<Item = (f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points: xy.into_iter().map(|(x, y)| Point::new(x, y)).collect(),
        }
    }
}

/// How the x axis of a line chart is laid out.
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    Linear,
    /// Logarithmic, for x values that span orders of magnitude (messages per query).
    Log,
    /// Named positions: point x = i sits at the i-th name (values without one order,
    /// e.g. churn settings).
    Categories(Vec<String>),
}

/// One chart of a [`line_panels`] file.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: XAxis,
    pub scale: YScale,
    pub series: Vec<Series>,
}

/// One group of bars: a name for the legend, one value per category (`None` leaves a gap)
/// and, optionally, one standard deviation per category drawn as a whisker.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// Empty, or one entry per category (0: no whisker).
    pub sd: Vec<f64>,
}

/// Grouped bars: one group per category, one bar per series within each group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bars {
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
}

/// How the y axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YScale {
    Linear,
    /// Logarithmic, for figures that span orders of magnitude (messages per query).
    Log,
    /// A share, on an axis from exactly 0 to 1.
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

/// Draws an error bar from `from` to `to` (data coordinates) on `chart`, with short
/// caps at both ends across it (horizontal caps on a vertical bar).
macro_rules! error_bar {
    ($chart:expr, $from:expr, $to:expr, $vertical:expr, $colour:expr) => {{
        let (from, to) = ($from, $to);
        let style = $colour.stroke_width(1);
        let cap: Vec<(i32, i32)> = if $vertical {
            vec![(-4, 0), (4, 0)]
        } else {
            vec![(0, -4), (0, 4)]
        };
        $chart
            .draw_series(std::iter::once(PathElement::new(vec![from, to], style)))
            .map_err(|e| e.to_string())?;
        $chart
            .draw_series(
                [from, to]
                    .into_iter()
                    .map(|at| EmptyElement::at(at) + PathElement::new(cap.clone(), style)),
            )
            .map_err(|e| e.to_string())?;
    }};
}

/// How the i-th line is drawn beyond its colour: past ten lines the colours repeat, so
/// the next ten are dashed with square markers and the ten after that dotted with
/// triangles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Solid,
    Dashed,
    Dotted,
}

impl Variant {
    fn of(i: usize) -> Variant {
        match (i / 10) % 3 {
            0 => Variant::Solid,
            1 => Variant::Dashed,
            _ => Variant::Dotted,
        }
    }
}

fn draw_error(path: &Path) -> impl Fn(String) -> PlotError + '_ {
    move |message| PlotError::Draw {
        path: path.display().to_string(),
        message,
    }
}

/// The y range a chart needs for `values` on `scale`: a share runs from 0 to exactly 1,
/// a linear axis from 0 to a tenth above the largest value, a log axis over whole decades.
pub fn y_range(values: impl Iterator<Item = f64>, scale: YScale) -> (f64, f64) {
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

/// The x range of a line chart's points on `axis`; linear ranges get a little room on
/// both sides so points and their labels at the ends are not cut by the frame.
pub fn x_range(xs: impl Iterator<Item = f64>, axis: &XAxis) -> (f64, f64) {
    match axis {
        XAxis::Categories(names) => (-0.5, names.len().max(1) as f64 - 0.5),
        XAxis::Log => y_range(xs, YScale::Log),
        XAxis::Linear => {
            let (lo, hi) = xs
                .filter(|x| x.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                    (lo.min(x), hi.max(x))
                });
            if !lo.is_finite() {
                (0.0, 1.0)
            } else if hi > lo {
                let pad = (hi - lo) * 0.04;
                (lo - pad, hi + pad)
            } else {
                (lo - 1.0, lo + 1.0)
            }
        }
    }
}

/// Draws one line per series against x (e.g. messages per query against TTL), with
/// error bars and point labels where the points carry them.
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
    let panel = LinePanel {
        title: String::new(),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        x_axis: if log_x { XAxis::Log } else { XAxis::Linear },
        scale,
        series: series.to_vec(),
    };
    line_panels(path, title, &[panel])
}

/// Draws several line charts side by side in one file. Panels with the same y label and
/// scale share one y range, so their heights compare (e.g. flood and ring against TTL
/// beside walkers against walk length: one figure over two x axes that must not be mixed).
pub fn line_panels(path: &Path, title: &str, panels: &[LinePanel]) -> Result<(), PlotError> {
    let err = draw_error(path);
    let panels: Vec<LinePanel> = panels.iter().map(drop_unplottable).collect();
    let names: Vec<Vec<String>> = panels
        .iter()
        .map(|p| p.series.iter().map(|s| s.name.clone()).collect())
        .collect();
    let layout = Layout::of(&names);
    let range_of = |panel: &LinePanel| {
        y_range(
            panels
                .iter()
                .filter(|p| p.y_label == panel.y_label && p.scale == panel.scale)
                .flat_map(|p| {
                    p.series.iter().flat_map(|s| {
                        s.points
                            .iter()
                            .flat_map(|q| [q.y, q.y + q.y_sd, q.y - q.y_sd])
                    })
                }),
            panel.scale,
        )
    };
    // Drawn in memory, so a failure never leaves a half-written file.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (layout.width, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = titled(&root, title).map_err(&err)?;
        let areas = layout.split(&root, &names, false).map_err(&err)?;
        for (area, panel) in areas.iter().zip(&panels) {
            draw_line_panel(area, panel, range_of(panel)).map_err(&err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    save_svg(path, &svg)
}

/// Writes `title` above everything and returns the area below it. The first line is the
/// title proper; further lines (after `\n`) are a smaller subtitle, e.g. what the error
/// bars mean. Long lines get a smaller font rather than running off the sides.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    let width = root.dim_in_pixel().0 as f64;
    let fit = |text: &str, size: f64| -> f64 {
        // Sans-serif glyphs average about 0.55 em.
        let needed = text.chars().count() as f64 * 0.55 * size;
        if needed > width - 24.0 {
            (width - 24.0) / (text.chars().count() as f64 * 0.55)
        } else {
            size
        }
    };
    let mut area = root.clone();
    for (i, line) in title.lines().enumerate() {
        let size = fit(line, if i == 0 { 22.0 } else { 15.0 });
        area = area
            .titled(line, ("sans-serif", size))
            .map_err(|e| e.to_string())?;
    }
    Ok(area)
}

/// The panel without points its axes cannot show (non-finite, or not positive on a log
/// axis).
fn drop_unplottable(panel: &LinePanel) -> LinePanel {
    let log_x = panel.x_axis == XAxis::Log;
    let scale = panel.scale;
    let keep = |p: &&Point| {
        p.x.is_finite()
            && p.y.is_finite()
            && (!log_x || p.x > 0.0)
            && (scale != YScale::Log || p.y > 0.0)
    };
    LinePanel {
        series: panel
            .series
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                points: s.points.iter().filter(keep).cloned().collect(),
            })
            .collect(),
        ..panel.clone()
    }
}

/// Width of the legend column beside a chart, from its longest name.
fn legend_width(names: &[String]) -> u32 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as u32;
    (longest * 7 + 44).clamp(110, 330)
}

/// Width of one panel's chart (axes and plotting area), legend not included.
const PANEL_WIDTH: u32 = 640;

/// Where the panels and legends of a file go: one legend column at the right when every
/// panel draws the same series (then colours mean the same in all of them), else a
/// legend beside each panel.
struct Layout {
    width: u32,
    shared: bool,
}

impl Layout {
    fn of(names: &[Vec<String>]) -> Layout {
        let count = names.len().max(1) as u32;
        let shared = names.windows(2).all(|w| w[0] == w[1]);
        let plots = if count == 1 {
            WIDTH - 200
        } else {
            PANEL_WIDTH * count
        };
        let legends: u32 = if shared {
            names.first().map_or(110, |n| legend_width(n))
        } else {
            names.iter().map(|n| legend_width(n)).sum()
        };
        Layout {
            width: plots + legends,
            shared,
        }
    }

    /// Draws the legends and returns one area per panel to draw the chart in.
    fn split<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        names: &[Vec<String>],
        bars: bool,
    ) -> Result<Vec<DrawingArea<DB, Shift>>, String> {
        let count = names.len().max(1);
        if self.shared {
            let legend_w = names.first().map_or(110, |n| legend_width(n));
            let (plots, legend) = root.split_horizontally(root.dim_in_pixel().0 - legend_w);
            draw_legend(&legend, names.first().map_or(&[][..], |n| n), bars)?;
            return Ok(plots.split_evenly((1, count)));
        }
        let widths: Vec<u32> = names.iter().map(|n| legend_width(n)).collect();
        let total = root.dim_in_pixel().0;
        let plot_w = (total - widths.iter().sum::<u32>()) / count as u32;
        let breaks: Vec<i32> = widths
            .iter()
            .scan(0u32, |at, w| {
                *at += plot_w + w;
                Some(*at as i32)
            })
            .collect();
        let columns =
            root.split_by_breakpoints(&breaks[..breaks.len().saturating_sub(1)], [] as [i32; 0]);
        let mut out = Vec::new();
        for (column, panel_names) in columns.into_iter().zip(names) {
            let (plot, legend) = column.split_horizontally(plot_w);
            draw_legend(&legend, panel_names, bars)?;
            out.push(plot);
        }
        Ok(out)
    }
}

/// A legend drawn in its own column beside the chart, so it never hides a line or bar.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[String],
    bars: bool,
) -> Result<(), String> {
    let font = ("sans-serif", 13).into_font();
    let top = 50;
    // Many entries close up rather than run off the bottom.
    let room = area.dim_in_pixel().1 as i32 - top - 20;
    let step = (room / names.len().max(1) as i32).clamp(12, 20);
    for (i, name) in names.iter().enumerate() {
        let c = colour(i);
        let y = top + step * i as i32;
        if bars {
            area.draw(&Rectangle::new([(6, y - 5), (18, y + 5)], c.filled()))
                .map_err(|e| e.to_string())?;
        } else {
            let line = [(2, y), (22, y)];
            let style = c.stroke_width(2);
            match Variant::of(i) {
                Variant::Solid => area.draw(&PathElement::new(line, style)),
                Variant::Dashed => area.draw(&DashedPathElement::new(line, 9, 5, style)),
                Variant::Dotted => area.draw(&DashedPathElement::new(line, 3, 4, style)),
            }
            .map_err(|e| e.to_string())?;
            match Variant::of(i) {
                Variant::Solid => area.draw(&Circle::new((12, y), 3, c.filled())),
                Variant::Dashed => {
                    area.draw(&Rectangle::new([(9, y - 3), (15, y + 3)], c.filled()))
                }
                Variant::Dotted => area.draw(&TriangleMarker::new((12, y), 4, c.filled())),
            }
            .map_err(|e| e.to_string())?;
        }
        area.draw(&Text::new(
            name.clone(),
            (28, y),
            TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Labels of x ticks: integer ticks only when every x is an integer (TTLs: no 1.5), the
/// category name at each category, and short decimals otherwise.
fn x_formatter(panel: &LinePanel) -> impl Fn(&f64) -> String {
    let integral = panel
        .series
        .iter()
        .all(|s| s.points.iter().all(|p| p.x.fract() == 0.0));
    let names = match &panel.x_axis {
        XAxis::Categories(names) => Some(names.clone()),
        _ => None,
    };
    move |x: &f64| -> String {
        if let Some(names) = &names {
            let i = x.round();
            return if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            };
        }
        if x.fract() == 0.0 {
            format!("{x:.0}")
        } else if integral {
            String::new()
        } else {
            short_number(*x)
        }
    }
}

/// Labels of y ticks: shares with one decimal (0.0 ... 1.0), whole numbers without a
/// decimal point (a log axis of messages reads 10, 100, 1000), else short decimals.
fn y_formatter(scale: YScale) -> impl Fn(&f64) -> String {
    move |y: &f64| match scale {
        YScale::Fraction => format!("{y:.1}"),
        // Within one decade a log axis ticks every multiple (1000, 2000, ... 9000, 10000):
        // label 1, 2, 3 and 5 of each decade only, so the labels do not run together.
        YScale::Log if *y > 0.0 => {
            let mantissa = y / 10f64.powf(y.log10().floor());
            if [1.0, 2.0, 3.0, 5.0, 10.0]
                .iter()
                .any(|m| (mantissa - m).abs() < 1e-6)
            {
                if y.fract() == 0.0 {
                    format!("{y:.0}")
                } else {
                    short_number(*y)
                }
            } else {
                String::new()
            }
        }
        YScale::Log | YScale::Linear if y.fract() == 0.0 => format!("{y:.0}"),
        YScale::Log | YScale::Linear => short_number(*y),
    }
}

/// `0.05`, `0.125`, `2.5`: up to four decimals, trailing zeros dropped.
fn short_number(x: f64) -> String {
    let text = format!("{x:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn draw_line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &LinePanel,
    (y_lo, y_hi): (f64, f64),
) -> Result<(), String> {
    let scale = panel.scale;
    let plot_area = area;
    let (x_lo, x_hi) = x_range(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x)),
        &panel.x_axis,
    );
    let x_format = x_formatter(panel);
    let y_format = y_formatter(scale);
    let categories = matches!(panel.x_axis, XAxis::Categories(_));
    let category_count = match &panel.x_axis {
        XAxis::Categories(names) => names.len(),
        _ => 0,
    };
    // Error bars stay inside the axes: a share never below 0 or above 1, a log axis
    // never at or below 0.
    let clamp_y = |v: f64| v.clamp(y_lo, y_hi);
    let clamp_x = |v: f64| v.clamp(x_lo, x_hi);
    let label_font = ("sans-serif", 12).into_font();
    let mut builder = ChartBuilder::on(plot_area);
    builder
        .caption(&panel.title, ("sans-serif", 17))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70);
    macro_rules! draw_lines {
        ($x:expr, $y:expr) => {{
            let mut chart = builder
                .build_cartesian_2d($x, $y)
                .map_err(|e| e.to_string())?;
            let mut mesh = chart.configure_mesh();
            mesh.label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .x_desc(panel.x_label.as_str())
                .y_desc(panel.y_label.as_str())
                .x_label_formatter(&x_format)
                .y_label_formatter(&y_format);
            if categories {
                mesh.disable_x_mesh().x_labels(category_count * 4 + 1);
            }
            mesh.draw().map_err(|e| e.to_string())?;
            for (i, s) in panel.series.iter().enumerate() {
                let c = colour(i);
                let xy = s.points.iter().map(|p| (p.x, p.y));
                match Variant::of(i) {
                    Variant::Solid => chart
                        .draw_series(LineSeries::new(xy.clone(), c.stroke_width(2)))
                        .map(|_| ()),
                    Variant::Dashed => chart
                        .draw_series(DashedLineSeries::new(xy.clone(), 9, 5, c.stroke_width(2)))
                        .map(|_| ()),
                    Variant::Dotted => chart
                        .draw_series(DashedLineSeries::new(xy.clone(), 3, 4, c.stroke_width(2)))
                        .map(|_| ()),
                }
                .map_err(|e| e.to_string())?;
                match Variant::of(i) {
                    Variant::Solid => chart
                        .draw_series(xy.map(|p| Circle::new(p, 3, c.filled())))
                        .map(|_| ()),
                    Variant::Dashed => chart
                        .draw_series(xy.map(|p| {
                            EmptyElement::at(p) + Rectangle::new([(-3, -3), (3, 3)], c.filled())
                        }))
                        .map(|_| ()),
                    Variant::Dotted => chart
                        .draw_series(xy.map(|p| TriangleMarker::new(p, 4, c.filled())))
                        .map(|_| ()),
                }
                .map_err(|e| e.to_string())?;
                for p in s.points.iter().filter(|p| p.y_sd > 0.0) {
                    let (lo, hi) = (clamp_y(p.y - p.y_sd), clamp_y(p.y + p.y_sd));
                    error_bar!(chart, (p.x, lo), (p.x, hi), true, c);
                }
                for p in s.points.iter().filter(|p| p.x_sd > 0.0) {
                    let (lo, hi) = (clamp_x(p.x - p.x_sd), clamp_x(p.x + p.x_sd));
                    error_bar!(chart, (lo, p.y), (hi, p.y), false, c);
                }
                let font = label_font.clone().color(&c);
                chart
                    .draw_series(s.points.iter().filter(|p| !p.label.is_empty()).map(|p| {
                        EmptyElement::at((p.x, p.y))
                            + Text::new(p.label.clone(), (5, -15), font.clone())
                    }))
                    .map_err(|e| e.to_string())?;
            }
        }};
    }
    match (&panel.x_axis, scale == YScale::Log) {
        (XAxis::Log, false) => draw_lines!((x_lo..x_hi).log_scale(), y_lo..y_hi),
        (XAxis::Log, true) => draw_lines!((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale()),
        (_, false) => draw_lines!(x_lo..x_hi, y_lo..y_hi),
        (_, true) => draw_lines!(x_lo..x_hi, (y_lo..y_hi).log_scale()),
    }
    Ok(())
}

/// Draws grouped bars (e.g. duplicates fraction per topology, one bar per strategy).
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    bars: &Bars,
    scale: YScale,
) -> Result<(), PlotError> {
    let panel = (String::new(), y_label.to_string(), bars.clone(), scale);
    bar_panels(path, title, &[panel])
}

/// Draws several bar charts side by side in one file (e.g. messages and success per
/// strategy), each panel `(title, y label, bars, scale)`.
pub fn bar_panels(
    path: &Path,
    title: &str,
    panels: &[(String, String, Bars, YScale)],
) -> Result<(), PlotError> {
    let err = draw_error(path);
    let names: Vec<Vec<String>> = panels
        .iter()
        .map(|(_, _, bars, _)| bars.series.iter().map(|s| s.name.clone()).collect())
        .collect();
    let layout = Layout::of(&names);
    // Drawn in memory, so a failure never leaves a half-written file.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (layout.width, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = titled(&root, title).map_err(&err)?;
        let areas = layout.split(&root, &names, true).map_err(&err)?;
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
    let plot_area = area;
    let groups = bars.categories.len().max(1);
    let per_group = bars.series.len().max(1);
    let sd_of = |s: &BarSeries, g: usize| s.sd.get(g).copied().unwrap_or(0.0);
    let values = bars.series.iter().flat_map(|s| {
        s.values
            .iter()
            .enumerate()
            .filter_map(move |(g, v)| v.map(|v| v + sd_of(s, g)))
    });
    let (y_lo, y_hi) = y_range(values, scale);
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
    let width = 0.8 / per_group as f64;
    let bar_rect = |group: usize, k: usize, value: f64, base: f64| {
        let left = group as f64 + 0.1 + width * k as f64;
        [(left, base), (left + width * 0.92, value)]
    };
    let bar_middle = |group: usize, k: usize| group as f64 + 0.1 + width * (k as f64 + 0.46);
    let clamp_y = |v: f64| v.clamp(y_lo, y_hi);
    let y_format = y_formatter(scale);
    let mut builder = ChartBuilder::on(plot_area);
    builder
        .caption(title, ("sans-serif", 17))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(70);
    macro_rules! draw_groups {
        ($y:expr, $base:expr) => {{
            let mut chart = builder
                .build_cartesian_2d(0.0..groups as f64, $y)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .x_labels(groups * 2 + 1)
                .x_label_formatter(&label_of)
                .y_label_formatter(&y_format)
                .y_desc(y_label)
                .draw()
                .map_err(|e| e.to_string())?;
            for (k, s) in bars.series.iter().enumerate() {
                let c = colour(k);
                let rects = s.values.iter().enumerate().filter_map(|(g, v)| {
                    v.filter(|v| scale != YScale::Log || *v > 0.0)
                        .map(|v| Rectangle::new(bar_rect(g, k, v, $base), c.filled()))
                });
                chart.draw_series(rects).map_err(|e| e.to_string())?;
                for (g, v) in s.values.iter().enumerate() {
                    let sd = sd_of(s, g);
                    let Some(v) = v.filter(|v| sd > 0.0 && (scale != YScale::Log || *v > 0.0))
                    else {
                        continue;
                    };
                    let x = bar_middle(g, k);
                    error_bar!(
                        chart,
                        (x, clamp_y(v - sd)),
                        (x, clamp_y(v + sd)),
                        true,
                        BLACK
                    );
                }
            }
        }};
    }
    if scale == YScale::Log {
        draw_groups!((y_lo..y_hi).log_scale(), y_lo);
    } else {
        draw_groups!(y_lo..y_hi, 0.0);
    }
    Ok(())
}
