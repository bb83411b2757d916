//! A `gnutella peer` run as its own process by a test, read line by line from its stdout,
//! and stopped the way a user stops it (SIGTERM, which it must survive cleanly).

use std::net::SocketAddrV4;
use std::time::Duration;

/// Generous bound on anything a peer process is waited for (never asserted as a timing:
/// it only keeps a hung peer from hanging the suite).
pub const WITHIN: Duration = Duration::from_secs(20);

/// A `gnutella peer` process and its stdout, line by line.
pub struct PeerProcess {
    pub child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    /// Every line read so far.
    pub seen: Vec<String>,
}

impl PeerProcess {
    /// `gnutella peer ARGS...`, its stderr shown with the test's.
    pub fn start(args: &[&str]) -> PeerProcess {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .arg("peer")
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        PeerProcess {
            child,
            lines: tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout)),
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) that `pick` accepts.
    pub async fn wait_for<T>(&mut self, what: &str, pick: impl Fn(&str) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {what} in time; said {:?}", self.seen))
                .expect("stdout reads")
                .unwrap_or_else(|| panic!("ended before {what}; said {:?}", self.seen));
            self.seen.push(line.clone());
            if let Some(v) = pick(&line) {
                return v;
            }
        }
    }

    /// The address of its `listening on ADDR, ...` line.
    pub async fn listening(&mut self) -> SocketAddrV4 {
        self.wait_for("listening line", |l| {
            l.strip_prefix("listening on ")?
                .split(',')
                .next()?
                .parse()
                .ok()
        })
        .await
    }

    /// Waits for a `neighbours: ...` line that names `addr`.
    pub async fn linked_to(&mut self, addr: SocketAddrV4) {
        let want = addr.to_string();
        self.wait_for(&format!("a link to {want}"), |l| {
            let list = l.strip_prefix("neighbours: ")?;
            list.split(", ").any(|n| n == want).then_some(())
        })
        .await
    }

    /// SIGTERM (Ctrl-C); the peer must exit with success. Returns every line it said.
    pub async fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().expect("still running") as i32;
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        // Drain stdout so the peer never blocks writing its last lines.
        while let Ok(Some(line)) = tokio::time::timeout(WITHIN, self.lines.next_line())
            .await
            .expect("stdout ends")
        {
            self.seen.push(line);
        }
        let status = tokio::time::timeout(WITHIN, self.child.wait())
            .await
            .expect("stops in time")
            .expect("status");
        assert!(status.success(), "{status}; said {:?}", self.seen);
        std::mem::take(&mut self.seen)
    }
}
