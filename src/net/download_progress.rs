//! A download's rate, and its progress bar on stderr.
//!
//! A rate is the bytes a run received over the time that run took. indicatif's own
//! `{bytes_per_sec}` and `{eta}` instead smooth every step of the bar's position over
//! time, and a resumed download starts its bar at the kept offset: that jump (say
//! 1,000,000 bytes in a microsecond) counted as received, so the rate shown stayed
//! several times too high for many seconds. The bar here shows the
//! average over this run, from the moment its body started, and an ETA from it.

use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressState, ProgressStyle};

/// Bytes per second of `bytes` received in `elapsed`; `None` when nothing was received
/// or no time has passed.
pub fn rate(bytes: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    (bytes > 0 && secs > 0.0).then(|| bytes as f64 / secs)
}

/// A bar for a file of `size` bytes whose body starts at `start` (bytes kept from an
/// earlier run count towards the position, never towards the rate).
pub fn progress_bar(name: &str, size: u64, start: u64) -> ProgressBar {
    let began = Instant::now();
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {this_rate} eta {this_eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key(
        "this_rate",
        move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate_text(state.pos(), start, began.elapsed()));
        },
    )
    .with_key(
        "this_eta",
        move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let size = state.len().unwrap_or(0);
            let _ = w.write_str(&eta_text(size, state.pos(), start, began.elapsed()));
        },
    )
    .progress_chars("=> ");
    // The hit's name is not checked, so keep its control characters (escape sequences)
    // off the terminal.
    let name: String = name
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    ProgressBar::new(size)
        .with_position(start)
        .with_style(style)
        .with_message(name)
}

/// The rate shown at position `pos` of a bar that started at `start` `elapsed` ago.
fn rate_text(pos: u64, start: u64, elapsed: Duration) -> String {
    match rate(pos.saturating_sub(start), elapsed) {
        Some(r) => format!("{}/s", HumanBytes(r as u64)),
        None => "-".to_string(),
    }
}

/// The time left at that rate for the rest of `size`.
fn eta_text(size: u64, pos: u64, start: u64, elapsed: Duration) -> String {
    match rate(pos.saturating_sub(start), elapsed) {
        Some(r) => {
            let left = size.saturating_sub(pos) as f64 / r;
            HumanDuration(Duration::from_secs_f64(left)).to_string()
        }
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_bytes_over_time() {
        assert_eq!(rate(0, Duration::from_secs(1)), None);
        assert_eq!(rate(5, Duration::ZERO), None);
        assert_eq!(rate(500_000, Duration::from_millis(250)), Some(2_000_000.0));
    }

    #[test]
    fn a_resumed_bar_counts_only_this_runs_bytes() {
        // 1,000,000 kept, 500,000 of the rest received in 2 s: 250 kB/s, 3 s left.
        let shown = |pos| rate_text(pos, 1_000_000, Duration::from_secs(2));
        assert_eq!(shown(1_500_000), "244.14 KiB/s");
        assert_eq!(shown(1_000_000), "-");
        assert_eq!(
            eta_text(2_000_000, 1_500_000, 1_000_000, Duration::from_secs(2)),
            "2 seconds"
        );
        assert_eq!(
            eta_text(2_000_000, 1_000_000, 1_000_000, Duration::from_secs(2)),
            "-"
        );
    }

    #[test]
    #[ignore = "measures indicatif, not us: cargo test --lib indicatif_rate -- --ignored --nocapture"]
    fn indicatif_rate_after_a_resume() {
        let bar = ProgressBar::hidden();
        bar.set_length(2_000_000);
        bar.set_position(1_000_000);
        let began = Instant::now();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(20));
            bar.inc(10_000);
        }
        let honest = rate(500_000, began.elapsed()).unwrap_or(0.0);
        println!(
            "indicatif per_sec {:.0} B/s, bytes over time {honest:.0} B/s ({:.1}x)",
            bar.per_sec(),
            bar.per_sec() / honest
        );
    }
}
