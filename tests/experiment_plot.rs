//! Plots are well-formed SVG files that carry their series names.

use gnutella::experiment::plot::{bar_chart, bar_panels, line_chart, Bars, Series, YScale};

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
        Series {
            name: "flood".into(),
            points: vec![(1.0, 4.0), (2.0, 16.0), (3.0, 60.0)],
        },
        Series {
            name: "walk:16".into(),
            points: vec![(1.0, 2.0), (2.0, 0.0), (3.0, 8.0)],
        },
        Series {
            name: "empty".into(),
            points: vec![],
        },
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
            ("flood".into(), vec![Some(0.2), Some(0.8)]),
            ("ring".into(), vec![None, Some(0.5)]),
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
    let series = vec![Series {
        name: "a".into(),
        points: vec![(1.0, 1.0)],
    }];
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
    let series = vec![Series {
        name: "only series".into(),
        points: vec![(1.0, 1.0), (2.0, 3.0)],
    }];
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
