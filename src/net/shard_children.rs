//! The parent's hold on the child processes of a sharded launch: starting them, talking
//! to them one line at a time, and noticing when one ends.
//!
//! A child can die at any moment: the OOM killer, a user's `kill`, a bug. If the parent
//! learnt that only when its next write failed ("Broken pipe"), it would give up and
//! lose what every other child recorded. So each child has a watcher task that owns the
//! process: it passes every line of the child's stdout on to the parent as an event,
//! copies the child's stderr to ours (remembering the last line), and when the stdout
//! ends it waits for the exit status and says how the child ended. The parent takes
//! these events in one cancel-safe place ([`Children::next`]), so whatever it is doing
//! (overlay setup, workload, waiting for Ctrl-C, collecting reports) it notices a loss,
//! leaves that child out and goes on with the others.
//!
//! A child is *lost* when it ends before the parent has its report and before it was
//! told to stop, or when it breaks the line protocol (it is then killed). Losses are
//! announced on stderr as they happen and kept as [`LostShard`]s for the report.

use std::io::Write as _;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

use super::report::LostShard;
use super::shard_protocol::{BadLine, ShardError, ToChild, ToParent};
use super::shard_trace::ShardTrace;

/// How long a child whose stdout ended may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long children told to stop may take to exit before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest last stderr line kept for the report.
const MAX_STDERR_LINE: usize = 500;

/// One child to start: the command (stdio is set here) and the peers it runs.
pub struct ShardSpec {
    pub command: Command,
    /// Config indices of its peers.
    pub members: Vec<usize>,
    /// Config ids of its peers.
    pub peers: Vec<String>,
}

/// What a watcher tells the parent.
enum Said {
    Line(Result<ToParent, BadLine>),
    /// The child's stdout ended and the process is gone.
    Ended {
        at: Instant,
        why: String,
        stderr: Option<String>,
    },
}

/// What the parent hears from its children.
#[derive(Debug)]
pub enum Heard {
    /// A line from child `shard`.
    Said(usize, ToParent),
    /// A child was lost (already announced).
    Lost(usize),
    /// A child ended after its report was taken or after it was told to stop.
    Ended(usize),
}

struct ChildShard {
    members: Vec<usize>,
    peers: Vec<String>,
    stdin: Option<ChildStdin>,
    kill: Option<oneshot::Sender<()>>,
    /// Its report is in, or it was told to stop: its end is no loss.
    done: bool,
    lost: bool,
    /// The watcher said the process is gone.
    gone: bool,
    /// Questions sent (every line but `STOP` gets one answer, in order) and answers
    /// heard: an answer numbered below the question being waited for belongs to one
    /// given up on (the wait was cut short by a timeout, a loss or Ctrl-C) and is skipped.
    asked: u64,
    answered: u64,
}

impl ChildShard {
    fn running(&self) -> bool {
        !self.lost && !self.gone
    }
}

/// The children of a sharded launch, as the parent sees them.
pub struct Children {
    shards: Vec<ChildShard>,
    events: mpsc::UnboundedReceiver<(usize, Said)>,
    /// Kept so `events` never reports "closed" while the parent holds it.
    _sender: mpsc::UnboundedSender<(usize, Said)>,
    started: Instant,
    lost: Vec<LostShard>,
    /// The flood trace the children's `TRACE` lines go to, once one is on.
    trace: Option<ShardTrace>,
}

impl Children {
    /// Merges the children's `TRACE` lines into `trace` from now on (they are taken
    /// whenever the parent listens: answers, `watch`).
    pub fn set_trace(&mut self, trace: ShardTrace) {
        self.trace = Some(trace);
    }

    /// The trace, to finish it (every line said before the answers heard so far is in).
    pub fn take_trace(&mut self) -> Option<ShardTrace> {
        self.trace.take()
    }

    /// Starts one child per spec; `started` is the launch's start (losses are timed
    /// from it). Children already started when one fails to start are stopped.
    pub async fn spawn(specs: Vec<ShardSpec>, started: Instant) -> Result<Children, ShardError> {
        let (sender, events) = mpsc::unbounded_channel();
        let mut children = Children {
            shards: Vec::with_capacity(specs.len()),
            events,
            _sender: sender.clone(),
            started,
            lost: Vec::new(),
            trace: None,
        };
        for (index, spec) in specs.into_iter().enumerate() {
            match start(index, spec, sender.clone()) {
                Ok(child) => children.shards.push(child),
                Err(e) => {
                    children.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(children)
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// Config indices of shard `shard`'s peers.
    pub fn members(&self, shard: usize) -> &[usize] {
        self.shards.get(shard).map_or(&[], |c| &c.members)
    }

    /// The shard that runs config peer `peer`.
    pub fn shard_of(&self, peer: usize) -> Option<usize> {
        self.shards.iter().position(|c| c.members.contains(&peer))
    }

    /// Whether shard `shard` may still answer.
    pub fn is_running(&self, shard: usize) -> bool {
        self.shards.get(shard).is_some_and(ChildShard::running)
    }

    /// The shards that may still answer.
    pub fn running(&self) -> Vec<usize> {
        (0..self.shards.len())
            .filter(|&i| self.is_running(i))
            .collect()
    }

    /// The shards lost so far, in the order they were lost.
    pub fn lost(&self) -> &[LostShard] {
        &self.lost
    }

    /// Counts a workload query from a peer of lost shard `shard` that was not started.
    pub fn note_query_not_run(&mut self, shard: usize) {
        if let Some(lost) = self.lost.iter_mut().find(|l| l.shard == shard) {
            lost.queries_not_run += 1;
        }
    }

    /// The error that says which shards were lost, if any were.
    pub fn lost_error(&self) -> Option<ShardError> {
        let first = self.lost.first()?;
        Some(ShardError::Lost {
            lost: self.lost.len(),
            shards: self.shards.len(),
            first: format!(
                "shard {} with {}: {}",
                first.shard,
                peer_list(&first.peers),
                first.why
            ),
        })
    }

    /// Writes `msg` to a running child; returns the number of the answer it will get.
    /// A write that fails means the child is going away: its watcher reports the end, so
    /// the error itself is only logged.
    async fn send(&mut self, shard: usize, msg: &ToChild) -> Option<u64> {
        let child = self.shards.get_mut(shard).filter(|c| c.running())?;
        let stdin = child.stdin.as_mut()?;
        let question = child.asked;
        if matches!(msg, ToChild::Stop) {
            child.done = true;
        } else {
            child.asked += 1;
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(b'\n');
        let written = match stdin.write_all(&bytes).await {
            Ok(()) => stdin.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            log::debug!("shard {shard}: cannot write {}: {e}", msg_word(msg));
            child.stdin = None;
        }
        Some(question)
    }

    /// The next thing a child said or did. Cancel-safe. `None` once no child can say
    /// anything more.
    pub async fn next(&mut self) -> Option<Heard> {
        loop {
            if self.shards.iter().all(|c| c.gone) {
                return None;
            }
            let (shard, said) = self.events.recv().await?;
            if let Some(heard) = self.take(shard, said) {
                return Some(heard);
            }
        }
    }

    /// Waits until no child can say anything more, noticing losses on the way; a line
    /// nobody asked for breaks the protocol. Meant to race a timer or a signal.
    pub async fn watch(&mut self) {
        while let Some(heard) = self.next().await {
            if let Heard::Said(shard, msg) = heard {
                self.answer_number(shard, &msg);
            }
        }
    }

    /// Numbers an answer from `shard`; `None` (and the child killed) when it answers
    /// more than it was asked.
    fn answer_number(&mut self, shard: usize, msg: &ToParent) -> Option<u64> {
        let child = self.shards.get_mut(shard)?;
        if child.answered < child.asked {
            child.answered += 1;
            return Some(child.answered - 1);
        }
        self.unasked(shard, msg);
        None
    }

    /// Sends `msg` to each running shard of `to` and waits for one answer from each, which
    /// `pick` takes apart (a `FAIL` is an `Err` with the child's reason). A child lost on
    /// the way is left out; with `abandon_on_loss` the first loss ends the wait.
    pub async fn ask<T>(
        &mut self,
        to: &[usize],
        msg: &ToChild,
        abandon_on_loss: bool,
        mut pick: impl FnMut(ToParent) -> Result<T, ToParent>,
    ) -> Vec<(usize, Result<T, String>)> {
        // (shard, number of the answer wanted)
        let mut pending = Vec::new();
        for &shard in to {
            if let Some(question) = self.send(shard, msg).await {
                pending.push((shard, question));
            }
        }
        let mut answers = Vec::new();
        while !pending.is_empty() {
            let Some(heard) = self.next().await else {
                break;
            };
            let (shard, reply) = match heard {
                Heard::Said(shard, reply) => (shard, reply),
                Heard::Lost(shard) => {
                    pending.retain(|&(p, _)| p != shard);
                    if abandon_on_loss {
                        break;
                    }
                    continue;
                }
                Heard::Ended(shard) => {
                    pending.retain(|&(p, _)| p != shard);
                    continue;
                }
            };
            let Some(number) = self.answer_number(shard, &reply) else {
                pending.retain(|&(p, _)| p != shard);
                continue;
            };
            let Some(at) = pending.iter().position(|&p| p == (shard, number)) else {
                continue; // the answer to a question given up on
            };
            pending.swap_remove(at);
            let word = reply.word();
            match pick(reply) {
                Ok(answer) => {
                    if let (ToChild::Report, Some(child)) = (msg, self.shards.get_mut(shard)) {
                        child.done = true;
                    }
                    answers.push((shard, Ok(answer)));
                }
                Err(ToParent::Fail(why)) => answers.push((shard, Err(why))),
                Err(_) => {
                    self.break_protocol(shard, format!("answered {word} to {}", msg_word(msg)))
                }
            }
        }
        answers
    }

    /// Stops every child: `STOP`, then their stdin closes; those that have not exited
    /// after a grace period are killed. Children stopped this way are not lost.
    pub async fn stop(&mut self) {
        for shard in 0..self.shards.len() {
            let _ = self.send(shard, &ToChild::Stop).await;
            if let Some(child) = self.shards.get_mut(shard) {
                child.done = true;
                child.stdin = None;
            }
        }
        if tokio::time::timeout(STOP_GRACE, self.until_gone())
            .await
            .is_err()
        {
            for child in &mut self.shards {
                if let Some(kill) = child.kill.take() {
                    let _ = kill.send(());
                }
            }
            let _ = tokio::time::timeout(EXIT_GRACE * 2, self.until_gone()).await;
        }
    }

    async fn until_gone(&mut self) {
        while self.next().await.is_some() {}
    }

    /// Bookkeeping for one event; returns what the caller should hear of it.
    fn take(&mut self, shard: usize, said: Said) -> Option<Heard> {
        let child = self.shards.get_mut(shard)?;
        match said {
            Said::Line(_) if !child.running() => None,
            // Trace steps are said between answers, unasked: they go to the trace (and
            // are dropped when none is on).
            Said::Line(Ok(ToParent::Trace(line))) => {
                if let Some(trace) = self.trace.as_mut() {
                    trace.line(*line);
                }
                None
            }
            Said::Line(Ok(msg)) => Some(Heard::Said(shard, msg)),
            Said::Line(Err(bad)) => {
                self.break_protocol(shard, format!("broke the shard protocol: {bad}"));
                Some(Heard::Lost(shard))
            }
            Said::Ended { at, why, stderr } => {
                child.gone = true;
                child.stdin = None;
                child.kill = None;
                if child.lost {
                    // Killed for breaking the protocol: keep its last words.
                    if let Some(lost) = self.lost.iter_mut().find(|l| l.shard == shard) {
                        lost.stderr = lost.stderr.take().or(stderr);
                    }
                    return Some(Heard::Ended(shard));
                }
                if child.done {
                    return Some(Heard::Ended(shard));
                }
                self.mark_lost(shard, at, why, stderr);
                Some(Heard::Lost(shard))
            }
        }
    }

    /// A line nobody asked for breaks the protocol: the child is killed and counted lost.
    pub fn unasked(&mut self, shard: usize, msg: &ToParent) {
        self.break_protocol(shard, format!("said {} unasked", msg.word()));
    }

    /// A child that says what it should not is killed and counted lost.
    fn break_protocol(&mut self, shard: usize, mut why: String) {
        if let Some((cut, _)) = why.char_indices().nth(MAX_STDERR_LINE) {
            why.truncate(cut);
            why.push('…');
        }
        let Some(child) = self.shards.get_mut(shard) else {
            return;
        };
        if !child.running() {
            return;
        }
        if let Some(kill) = child.kill.take() {
            let _ = kill.send(());
        }
        self.mark_lost(shard, Instant::now(), format!("{why}; killed"), None);
    }

    fn mark_lost(&mut self, shard: usize, at: Instant, why: String, stderr: Option<String>) {
        let Some(child) = self.shards.get_mut(shard) else {
            return;
        };
        child.lost = true;
        let lost = LostShard {
            shard,
            peers: child.peers.clone(),
            at_ms: at.saturating_duration_since(self.started).as_secs_f64() * 1000.0,
            why,
            stderr,
            queries_not_run: 0,
        };
        let running = self.shards.iter().filter(|c| c.running()).count();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: shard {} with {} lost at {:.0} ms: {}{}; going on with {running} of {} shards",
            lost.shard,
            peer_list(&lost.peers),
            lost.at_ms,
            lost.why,
            lost.stderr
                .as_deref()
                .map_or(String::new(), |l| format!(" (its last words: {l})")),
            self.shards.len()
        );
        self.lost.push(lost);
    }
}

/// "peers p0, p1, p2" (shortened when long).
fn peer_list(peers: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = if peers.len() == 1 {
        "peer ".to_string()
    } else {
        "peers ".to_string()
    };
    text.push_str(
        &peers
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
    );
    if peers.len() > SHOWN {
        text.push_str(&format!(" and {} more", peers.len() - SHOWN));
    }
    text
}

fn msg_word(msg: &ToChild) -> &'static str {
    msg.word()
}

/// Starts child `index` and its watcher.
fn start(
    index: usize,
    spec: ShardSpec,
    events: mpsc::UnboundedSender<(usize, Said)>,
) -> Result<ChildShard, ShardError> {
    let ShardSpec {
        mut command,
        members,
        peers,
    } = spec;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut process = command.spawn().map_err(ShardError::Spawn)?;
    let (Some(stdin), Some(stdout), Some(stderr)) = (
        process.stdin.take(),
        process.stdout.take(),
        process.stderr.take(),
    ) else {
        let _ = process.start_kill();
        return Err(ShardError::Spawn(std::io::Error::other(
            "no pipes to the child",
        )));
    };
    log::debug!(
        "shard {index} with {} is process {}",
        peer_list(&peers),
        process.id().map_or("?".to_string(), |p| p.to_string())
    );
    let (kill, killed) = oneshot::channel();
    let stderr = tokio::spawn(copy_stderr(stderr));
    tokio::spawn(watch_child(index, process, stdout, stderr, killed, events));
    Ok(ChildShard {
        members,
        peers,
        stdin: Some(stdin),
        kill: Some(kill),
        done: false,
        lost: false,
        gone: false,
        asked: 0,
        answered: 0,
    })
}

/// The watcher of one child: its stdout lines become events, then its end does.
async fn watch_child(
    index: usize,
    mut process: Child,
    stdout: ChildStdout,
    stderr: tokio::task::JoinHandle<Option<String>>,
    mut killed: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<(usize, Said)>,
) {
    let mut lines = BufReader::new(stdout).lines();
    let mut kill_asked = false;
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    let _ = events.send((index, Said::Line(line.parse())));
                }
                // The end, or bytes that are not text: either way nothing more to read.
                Ok(None) | Err(_) => break,
            },
            asked = &mut killed, if !kill_asked => {
                kill_asked = true;
                if asked.is_ok() {
                    // Nothing it says matters any more (and a process it started may
                    // hold its stdout open for long).
                    let _ = process.start_kill();
                    break;
                }
            }
        }
    }
    let at = Instant::now();
    let why = match tokio::time::timeout(EXIT_GRACE, process.wait()).await {
        Ok(Ok(status)) => describe_exit(status),
        Ok(Err(e)) => format!("ended (its exit status is unknown: {e})"),
        Err(_) => {
            let _ = process.kill().await;
            "closed its output but ran on; killed".to_string()
        }
    };
    let stderr = tokio::time::timeout(Duration::from_secs(1), stderr)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let _ = events.send((index, Said::Ended { at, why, stderr }));
}

/// Copies a child's stderr to ours, line by line, and returns its last non-empty line.
async fn copy_stderr(stderr: impl AsyncRead + Unpin) -> Option<String> {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    let mut last = None;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return last,
            Ok(_) => {
                let _ = std::io::stderr().lock().write_all(&line);
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if !text.is_empty() {
                    last = Some(text.chars().take(MAX_STDERR_LINE).collect());
                }
            }
        }
    }
}

/// How a process ended, in words: `exited with status 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return match signal_name(signal) {
                Some(name) => format!("killed by signal {signal} ({name})"),
                None => format!("killed by signal {signal}"),
            };
        }
    }
    match status.code() {
        Some(0) => "exited (status 0) before it was told to stop".to_string(),
        Some(code) => format!("exited with status {code}"),
        None => format!("ended: {status}"),
    }
}

#[cfg(unix)]
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_lists_are_short() {
        let few: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(peer_list(&few), "peers a, b");
        assert_eq!(peer_list(&few[..1]), "peer a");
        let many: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
        assert_eq!(peer_list(&many), "peers p0, p1, p2, p3, p4 and 3 more");
    }

    /// One child running `script` under sh, holding config peer 0.
    #[cfg(unix)]
    async fn one_child(script: &str) -> Children {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script);
        let spec = ShardSpec {
            command,
            members: vec![0],
            peers: vec!["p0".into()],
        };
        Children::spawn(vec![spec], Instant::now()).await.unwrap()
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_answer_to_a_question_given_up_on_is_not_taken_for_the_next() {
        // Answers the first question only once the second came, then both in order.
        let mut children = one_child(
            "read q1; read q2; echo GUID 01010101010101010101010101010101; echo STATUS 5; read q3",
        )
        .await;
        let search = ToChild::Search {
            peer: 0,
            ttl: 1,
            words: "x".into(),
        };
        let given_up = tokio::time::timeout(
            Duration::from_millis(50),
            children.ask(&[0], &search, false, |m| match m {
                ToParent::Guid(g) => Ok(g),
                other => Err(other),
            }),
        )
        .await;
        assert!(given_up.is_err(), "no answer before the second question");
        let status = children
            .ask(&[0], &ToChild::Status, false, |m| match m {
                ToParent::Status(at) => Ok(at),
                other => Err(other),
            })
            .await;
        assert_eq!(status.len(), 1);
        assert_eq!(status[0].1, Ok(crate::node::Time(5)));
        children.stop().await;
        assert!(children.lost().is_empty(), "{:?}", children.lost());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_child_that_dies_is_lost_with_its_exit_and_last_words() {
        let mut children = one_child("echo 'about to go' >&2; kill -9 $$").await;
        let answers = children
            .ask(&[0], &ToChild::Status, false, |m| match m {
                ToParent::Status(at) => Ok(at),
                other => Err(other),
            })
            .await;
        assert!(answers.is_empty());
        let lost = children.lost();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].why, "killed by signal 9 (SIGKILL)");
        assert_eq!(lost[0].stderr.as_deref(), Some("about to go"));
        assert_eq!(lost[0].peers, ["p0"]);
        assert!(matches!(
            children.lost_error(),
            Some(ShardError::Lost {
                lost: 1,
                shards: 1,
                ..
            })
        ));
        children.stop().await;
    }

    #[cfg(unix)]
    #[test]
    fn exits_are_described() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            describe_exit(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(1 << 8)),
            "exited with status 1"
        );
    }
}
