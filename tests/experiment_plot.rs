//! Plots are well-formed SVG files that carry their series names.

use gnutella::experiment::plot::{
    bar_chart, bar_panels, line_chart, line_panels, y_range, BarSeries, Bars, LinePanel, Point,
    Series, XAxis, YScale,
};

fn assert_svg_with(path: &std::path::Path, names: &[&str]) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.trim_start().starts_with("<svg"),
        "not an SVG: {}",
        &text[..text.len().min(80)]
    );
    assert!(text.trim_end().ends_with("</svg>"));
    assert_eq!(text.matches("<svg").count(), text.matches("</svg>").count());
    for name in names {
        assert!(
            text.contains(&format!(">{name}<")) || text.contains(&format!(">\n{name}\n<")),
            "{name} missing in {}",
            path.display()
        );
    }
}

#[test]
fn line_charts_name_every_series_on_every_scale() {
    let dir = tempfile::tempdir().unwrap();
    let series = vec![
        Series::new("flood", [(1.0, 4.0), (2.0, 16.0), (3.0, 60.0)]),
        Series::new("walk:16", [(1.0, 2.0), (2.0, 0.0), (3.0, 8.0)]),
        Series::new("empty", []),
    ];
    for (scale, file) in [
        (YScale::Log, "log.svg"),
        (YScale::Linear, "lin.svg"),
        (YScale::Fraction, "frac.svg"),
    ] {
        let path = dir.path().join(file);
        line_chart(
            &path,
            "messages",
            "TTL",
            "messages per query",
            &series,
            scale,
        )
        .unwrap();
        assert_svg_with(&path, &["flood", "walk:16", "messages", "TTL"]);
    }
}

#[test]
fn bar_charts_name_categories_and_series() {
    let dir = tempfile::tempdir().unwrap();
    let bars = Bars {
        categories: vec!["degree 3".into(), "degree 10".into()],
        series: vec![
            BarSeries {
                name: "flood".into(),
                values: vec![Some(0.2), Some(0.8)],
                sd: vec![0.05, 0.1],
            },
            BarSeries {
                name: "ring".into(),
                values: vec![None, Some(0.5)],
                sd: vec![],
            },
        ],
    };
    let path = dir.path().join("bars.svg");
    bar_chart(&path, "duplicates", "share", &bars, YScale::Fraction).unwrap();
    assert_svg_with(&path, &["degree 3", "degree 10", "flood", "ring"]);
    let path = dir.path().join("panels.svg");
    let panels = vec![
        (
            "messages".to_string(),
            "per query".to_string(),
            bars.clone(),
            YScale::Log,
        ),
        (
            "success".to_string(),
            "share".to_string(),
            bars,
            YScale::Fraction,
        ),
    ];
    bar_panels(&path, "side by side", &panels).unwrap();
    assert_svg_with(
        &path,
        &["side by side", "messages", "success", "degree 10", "ring"],
    );
}

#[test]
fn an_unwritable_path_is_an_error_not_a_panic() {
    let series = vec![Series::new("a", [(1.0, 1.0)])];
    let result = line_chart(
        std::path::Path::new("/nonexistent/dir/x.svg"),
        "t",
        "x",
        "y",
        &series,
        YScale::Linear,
    );
    assert!(result.is_err());
}

/// A chart is drawn in memory and saved in one rename: redrawing over a larger file
/// leaves exactly the new chart and no temporary file beside it.
#[test]
fn redrawing_a_chart_replaces_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.svg");
    std::fs::write(&path, "x".repeat(1_000_000)).unwrap();
    let series = vec![Series::new("only series", [(1.0, 1.0), (2.0, 3.0)])];
    line_chart(&path, "t", "x", "y", &series, YScale::Linear).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
    assert!(text.trim_end().ends_with("</svg>"));
    assert!(text.contains("only series"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["chart.svg"]);
}

/// The numbers written as tick labels of y axes (right-aligned texts that parse as
/// numbers; x ticks are centred under their marks).
fn y_ticks(svg: &str) -> Vec<f64> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let (attributes, rest) = t.split_once('>')?;
            if !attributes.contains("text-anchor=\"end\"") {
                return None;
            }
            let body = rest.split_once("</text>")?.0;
            body.trim().parse::<f64>().ok()
        })
        .collect()
}

/// A share can be at most 1: its axis ends there, however close the points or their error
/// bars come, on lines and on bars (whose legends once asked for headroom up to 1.3).
#[test]
fn share_axes_run_from_zero_to_one() {
    assert_eq!(
        y_range([0.2, 0.97, 1.0].into_iter(), YScale::Fraction),
        (0.0, 1.0)
    );
    let dir = tempfile::tempdir().unwrap();
    let mut near_one = Series::new("flood", [(1.0, 0.5), (2.0, 0.99), (3.0, 1.0)]);
    for p in &mut near_one.points {
        p.y_sd = 0.1;
    }
    let path = dir.path().join("share.svg");
    line_chart(
        &path,
        "success",
        "TTL",
        "share",
        &[near_one],
        YScale::Fraction,
    )
    .unwrap();
    let bars = Bars {
        categories: vec!["flood".into(), "walk:16".into()],
        series: vec![BarSeries {
            name: "random".into(),
            values: vec![Some(1.0), Some(0.9)],
            sd: vec![0.0, 0.2],
        }],
    };
    let bar_path = dir.path().join("share_bars.svg");
    bar_chart(&bar_path, "success", "share", &bars, YScale::Fraction).unwrap();
    for path in [path, bar_path] {
        let svg = std::fs::read_to_string(&path).unwrap();
        let ticks = y_ticks(&svg);
        assert!(
            ticks.contains(&1.0),
            "no 1.0 tick in {}: {ticks:?}",
            path.display()
        );
        assert!(
            ticks.iter().all(|t| (0.0..=1.0).contains(t)),
            "a share axis beyond 0..1 in {}: {ticks:?}",
            path.display()
        );
    }
}

/// Panels side by side keep their own x axes and titles, error bars and point labels are
/// drawn, and categories name their positions.
#[test]
fn panels_carry_titles_labels_and_categories() {
    let dir = tempfile::tempdir().unwrap();
    let mut flood = Series::new("flood", [(3.0, 100.0), (5.0, 1000.0)]);
    flood.points[1].label = "TTL five".into();
    flood.points[1].y_sd = 200.0;
    let panels = vec![
        LinePanel {
            title: "flood and ring".into(),
            x_label: "TTL (hops)".into(),
            y_label: "messages".into(),
            x_axis: XAxis::Linear,
            scale: YScale::Log,
            series: vec![flood],
        },
        LinePanel {
            title: "under churn".into(),
            x_label: "churn".into(),
            y_label: "messages".into(),
            x_axis: XAxis::Categories(vec!["none".into(), "60000:20000".into()]),
            scale: YScale::Log,
            series: vec![Series {
                name: "walk:16".into(),
                points: vec![Point::new(0.0, 50.0), Point::new(1.0, 80.0)],
            }],
        },
    ];
    let path = dir.path().join("panels.svg");
    line_panels(&path, "two families", &panels).unwrap();
    assert_svg_with(
        &path,
        &[
            "two families",
            "flood and ring",
            "under churn",
            "TTL five",
            "none",
            "60000:20000",
            "walk:16",
        ],
    );
}
