//! A `gnutella launch` run as its own process by a test, serving an HTTP port on loopback
//! (`--control` or `--ui`), its stdout and stderr read line by line, and stopped the way a
//! user stops it (SIGTERM, after which it must exit cleanly).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Bound on waiting for a line or an exit (only so a hang fails instead of hanging;
/// never asserted as a timing).
pub const READY_WITHIN: Duration = Duration::from_secs(60);

/// A launch running as a child process of the test.
pub struct LaunchProcess {
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far.
    pub seen: String,
    /// The address of the HTTP port it serves.
    pub addr: SocketAddr,
}

impl LaunchProcess {
    /// `gnutella launch CONFIG FLAG 127.0.0.1:0 --overlay-timeout 30 EXTRA...`, once it has
    /// printed `announce` followed by `http://ADDR` and `running until Ctrl-C`.
    pub fn start(config: &Path, flag: &str, announce: &str, extra: &[&str]) -> LaunchProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .arg("launch")
            .arg(config)
            .args([flag, "127.0.0.1:0", "--overlay-timeout", "30"])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gnutella starts");
        let (tx, lines) = mpsc::channel();
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("piped")),
            Box::new(child.stderr.take().expect("piped")),
        ];
        for stream in streams {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut launch = LaunchProcess {
            child,
            lines,
            seen: String::new(),
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        let prefix = format!("{announce} http://");
        let line = launch.wait_for(|l| l.starts_with(&prefix));
        launch.addr = line
            .trim_start_matches(&prefix)
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}"));
        launch.wait_for(|l| l == "running until Ctrl-C");
        launch
    }

    /// Waits for an output line (stdout or stderr) that `done` accepts.
    pub fn wait_for(&mut self, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if done(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("the launch did not say it was ready:\n{}", self.seen),
            }
        }
    }

    /// SIGTERM: the launch must end with status 0; returns everything it said.
    pub fn stop(mut self) -> String {
        // SAFETY: kill(2) with our own child's pid and a valid signal number.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + READY_WITHIN;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        assert!(status.success(), "{status}:\n{}", self.seen);
        std::mem::take(&mut self.seen)
    }
}

impl Drop for LaunchProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
