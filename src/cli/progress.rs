//! Progress bars and spinners on stderr for work that can take more than a moment:
//! generating or loading a large topology, its statistics, a simulation's event loop,
//! a sweep, hashing a shared folder.
//!
//! A blank terminal for ten minutes reads as a hang. Every bar here shows what is being
//! done, how far along it is and (when the total is known) an ETA; a phase whose total is
//! not known shows a spinner with the elapsed time. Nothing is drawn when stderr is not a
//! terminal (scripts, CI, pipes) or with `--quiet`, so output files and stdout stay clean.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no bars, spinners or estimates for the rest of the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Work below this many bytes (about a quarter second of SHA-1) gets no bar.
const TASK_BAR_MIN_BYTES: u64 = 256 << 20;

/// Shows the library's long tasks (hashing shares and synthetic files) as byte bars.
pub fn observe_library_tasks() {
    let bars: Mutex<HashMap<u64, ProgressBar>> = Mutex::new(HashMap::new());
    // Peers of one launch hash their shares at the same time: one line each.
    let lines = indicatif::MultiProgress::new();
    gnutella::progress::set_observer(move |event| {
        let Ok(mut bars) = bars.lock() else { return };
        match event {
            gnutella::progress::Event::Start { id, what, total } => {
                if total >= TASK_BAR_MIN_BYTES && enabled() {
                    bars.insert(id, lines.add(bytes_bar(total, what)));
                }
            }
            gnutella::progress::Event::Advance { id, done } => {
                if let Some(bar) = bars.get(&id) {
                    bar.set_position(done);
                }
            }
            gnutella::progress::Event::Finish { id } => {
                if let Some(bar) = bars.remove(&id) {
                    bar.finish_and_clear();
                }
            }
        }
    });
}

/// Whether progress is drawn: stderr is a terminal and `--quiet` was not given.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// Whether notes such as the memory estimate are printed (`--quiet` silences them).
pub fn notes() -> bool {
    !QUIET.load(Ordering::Relaxed)
}

/// A bar over `total` units (`unit` names them) with position, rate and ETA.
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {{elapsed_precise}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} (ETA {{eta}}) {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over bytes (hashing, downloading).
pub fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {what} [{{bar:30}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} (ETA {{eta}}) {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A spinner for a phase whose total is not known; `message` says what it does (and an
/// estimate of how long it takes, when there is one).
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    if !enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `work` under a spinner that says `message`, clearing it afterwards.
pub fn with_spinner<T>(message: impl Into<String>, work: impl FnOnce() -> T) -> T {
    let spinner = spinner(message);
    let out = work();
    spinner.finish_and_clear();
    out
}
