//! Every example a newcomer is shown works: each command in a shell block of every
//! README.md in the repository, and each example under `Examples:` in every subcommand's
//! `--help`. The commands are read from those texts, never copied here, so an example
//! that rots (a missing file, a flag renamed, a size that no longer fits) fails this test.
//!
//! How a text becomes runs:
//!
//! - One document (a README, or one subcommand's `--help`) runs in its own empty folder,
//!   prepared as a fresh clone looks: `data/` (linked), `topology-configs/` and
//!   `experiments/` (copies, see below), plus the [`FIXTURES`] the examples expect.
//!   Commands of one shell block, or of one `--help`, run in order, as one session:
//!   long-running ones (`peer`, `launch` without `--run-workload`) start, must say they
//!   are ready, and get SIGTERM (Ctrl-C) at the end of the session, which they must
//!   survive with exit status 0. Every other command must exit 0.
//! - Ports: a command never listens on the fixed port it shows (other programs on the
//!   machine may hold it). `--listen HOST:PORT` (and `--control HOST:PORT`) runs as `HOST:0`; the shipped configs are
//!   copied with every port 0. The address a peer reports ("listening on ...") then
//!   replaces the shown one in later commands. A comment `# machine A (192.0.2.10)` says
//!   the next command plays that machine: its port on loopback stands in for that
//!   address. A command that reaches for an address of `topology-configs/quickstart.json`
//!   that nothing in its session started (the `search` examples) gets that network,
//!   launched for the session.
//! - Sizes: the debug build cannot afford a million-node graph or a thousand queries, so
//!   [`LIMITS`] caps a few values; `topology gen` is never scaled (it is cheap, and its
//!   size limits are what its examples must show right). Experiment specs run from
//!   copies capped by [`SPEC_LIMITS`]; the shipped specs themselves are loaded and
//!   validated at full size.
//! - Not run: commands of other programs ([`NOT_RUN`]), and synopses (lines with
//!   `[`, `|`, `...` or an upper-case placeholder such as `FILE`).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Largest values run here: `(flag or spec key, limit)`. A flag's value, or a `key=value`
/// inside a topology spec (`random:n=10000,d=4`), above the limit runs at the limit.
const LIMITS: &[(&str, u64)] = &[
    // 1,000 TTL-7 queries over 100,000 peers take minutes in a debug build.
    ("--queries", 10),
    // `sim --gen` and `topology stats --gen` of up to a million nodes.
    ("n", 5_000),
];

/// Caps on the copies of `experiments/*.json` that run here: at most this many nodes per
/// generated topology and queries per run, and only the first seed.
const SPEC_LIMITS: SpecLimits = SpecLimits {
    nodes: 1_000,
    queries: 5,
};

struct SpecLimits {
    nodes: u64,
    queries: u64,
}

/// Files the examples expect in the folder they run in.
const FIXTURES: &[(&str, &str)] = &[
    // README: a peer shares ./music and another searches `night train`.
    ("music/night-train.ogg", "night train"),
    ("films/documentary.mkv", "documentary"),
    // README (two machines) and `peer --help`: ./pub is shared, `some words` searched.
    ("pub/some-words.txt", "some words"),
    // `search --help`: `--to ~/Downloads` (HOME is the example's folder).
    ("Downloads/.keep", ""),
];

/// Shared folders of the machine an example writes to, and the folder of the example's
/// workspace used instead (a second run must not find the first run's download there).
const SYSTEM_FOLDERS: &[(&str, &str)] = &[("/tmp", "tmp")];

/// Programs of shell blocks that this test does not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("cargo test", "the test suite itself"),
    ("cargo clippy", "a lint, run by CI"),
    (
        "cargo bench",
        "benchmarks take minutes and want a quiet machine",
    ),
    ("cargo install", "installs into ~/.cargo/bin"),
    ("cargo fuzz", "needs cargo-fuzz and a minute per target"),
    (
        "out/slurm/submit.sh",
        "submits jobs to a Slurm cluster (scripts/slurm-local.sh makes one, as root)",
    ),
    (
        "scripts/slurm-local.sh",
        "installs Slurm with apt-get and starts its daemons, as root (minutes)",
    ),
    (
        "cargo run --example abuse_probe",
        "a measurement against peers started by hand, 15 s a case",
    ),
    (
        "scripts/heal-live.py",
        "launches 1,000 peers and watches them heal for a minute (about 2 minutes)",
    ),
    (
        "scripts/self-healing-table.py",
        "a Python reader of the experiment's over_time.csv, and CI's machine may have no \
         Python when the tests run",
    ),
    (
        "curl",
        "calls the control API of a launch; tests/live_control.rs makes the same calls",
    ),
    (
        "shadow ",
        "Shadow is installed by the user, not by this project; tests/shadow_export.rs reads \
         a recorded run",
    ),
];

/// Output shown in a document: `(document, command, first line of its ```text block)`.
/// Each line of the block (but `...`) must appear in the command's output, in order, with
/// ports, fractional numbers and the figure before `ms` masked.
const TRANSCRIPTS: &[(&str, &[&str], &str)] = &[("README.md", &["demo"], "overlay up:")];

/// The network a `search` example gets when nothing in its session listens where it
/// searches.
const FIXTURE_NETWORK: &str = "topology-configs/quickstart.json";

/// Bounds on waiting (never asserted as timings: they only keep a hung example from
/// hanging the suite).
const READY_WITHIN: Duration = Duration::from_secs(60);
const FINISH_WITHIN: Duration = Duration::from_secs(300);

/// One command as a document shows it.
#[derive(Clone, Debug)]
struct Example {
    /// `README.md:42` or `gnutella sim --help`.
    origin: String,
    text: String,
    /// The address the command plays, from a `# machine A (192.0.2.10)` comment.
    machine: Option<Ipv4Addr>,
}

/// The commands of one shell block or one `--help`, run in order.
type Session = Vec<Example>;

// ---------------------------------------------------------------------------------------
// Reading the documents

/// Every README.md of the repository (not under target/ or hidden folders).
fn readmes() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                walk(&path, found);
            } else if name == "README.md" {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new(ROOT), &mut found);
    found
}

/// The shell blocks (```sh, ```bash, ```console) of a markdown text, one session each.
fn shell_sessions(origin: &str, markdown: &str) -> Vec<Session> {
    let mut sessions = Vec::new();
    let mut current: Session = Vec::new();
    // None outside a fenced block; Some(true) inside a shell block.
    let mut inside: Option<bool> = None;
    let mut machine = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            match inside {
                None => {
                    inside = Some(matches!(info.trim(), "sh" | "bash" | "console" | "shell"));
                    machine = None;
                }
                Some(shell) => {
                    if shell && !current.is_empty() {
                        sessions.push(std::mem::take(&mut current));
                    }
                    inside = None;
                }
            }
            continue;
        }
        if inside != Some(true) {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            machine = machine_of(comment).or(machine);
            continue;
        }
        let text = strip_comment(trimmed);
        if text.is_empty() {
            continue;
        }
        current.push(Example {
            origin: format!("{origin}:{}", i + 1),
            text: text.to_string(),
            machine: machine.take(),
        });
    }
    sessions
}

/// The IP in a comment such as `machine A (192.0.2.10)`.
fn machine_of(comment: &str) -> Option<Ipv4Addr> {
    let inside = comment.split_once('(')?.1.split_once(')')?.0;
    inside.trim().parse().ok()
}

/// A command without its trailing `# comment`.
fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => line[..i].trim_end(),
        None => line,
    }
}

/// Subcommand paths (`["topology", "gen"]`) with their `--help` text.
fn help_pages() -> Vec<(Vec<String>, String)> {
    let mut pages = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let out = Command::new(BIN)
            .args(&args)
            .output()
            .expect("gnutella runs");
        assert!(out.status.success(), "gnutella {args:?} fails");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut in_commands = false;
        let mut children = false;
        for line in help.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands {
                if !line.starts_with("  ") {
                    in_commands = false;
                    continue;
                }
                if let Some(name) = line.split_whitespace().next().filter(|n| *n != "help") {
                    let mut sub = path.clone();
                    sub.push(name.to_string());
                    todo.push(sub);
                    children = true;
                }
            }
        }
        // A command with subcommands of its own (`experiment` and `experiment merge`) is
        // a page too when it shows examples.
        if !path.is_empty() && (!children || help.lines().any(|l| l.trim() == "Examples:")) {
            pages.push((path, help));
        }
    }
    pages.sort();
    pages
}

/// The examples of one `--help` page: the lines indented by two spaces under
/// `Examples:`, up to the first blank line.
fn help_session(path: &[String], help: &str) -> Result<Session, String> {
    let origin = format!("gnutella {} --help", path.join(" "));
    let mut lines = help.lines().skip_while(|l| l.trim() != "Examples:");
    if lines.next().is_none() {
        return Err(format!("{origin} has no Examples: section"));
    }
    let mut session = Vec::new();
    for line in lines.take_while(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        if indent != 2 {
            continue; // a description
        }
        let text = line.trim();
        let program = text
            .split_whitespace()
            .find(|t| !is_env_assignment(t))
            .unwrap_or("");
        if program != "gnutella" {
            return Err(format!(
                "{origin}: cannot read the example line {text:?} (commands start with gnutella)"
            ));
        }
        session.push(Example {
            origin: origin.clone(),
            text: text.to_string(),
            machine: None,
        });
    }
    if session.is_empty() {
        return Err(format!("{origin}: Examples: lists no command"));
    }
    Ok(session)
}

fn is_env_assignment(token: &str) -> bool {
    token.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

// ---------------------------------------------------------------------------------------
// From text to a process

/// What to do with one example line.
#[derive(Debug, PartialEq)]
enum Plan {
    /// Run our binary with these arguments and environment.
    Run {
        env: Vec<(String, String)>,
        args: Vec<String>,
    },
    /// Not run, and why.
    Skip(String),
}

fn plan(text: &str) -> Result<Plan, String> {
    let mut tokens = text.split_whitespace().peekable();
    let mut env = Vec::new();
    while let Some(t) = tokens.peek().copied().filter(|t| is_env_assignment(t)) {
        let (name, value) = t.split_once('=').unwrap_or((t, ""));
        env.push((name.to_string(), value.to_string()));
        tokens.next();
    }
    let rest: Vec<String> = tokens.map(String::from).collect();
    let program = rest.first().map(String::as_str).unwrap_or("");
    let ours = program == "gnutella"
        || (program == "cargo" && rest.get(1).map(String::as_str) == Some("run"));
    if ours && is_synopsis(text) {
        return Ok(Plan::Skip("a synopsis".into()));
    }
    let joined = rest.join(" ");
    if let Some((_, why)) = NOT_RUN
        .iter()
        .find(|(prefix, _)| joined.starts_with(prefix))
    {
        return Ok(Plan::Skip(why.to_string()));
    }
    // Checked for the commands that run only: a skipped `curl -d '{...}'` may quote.
    if text.contains('\'') || text.contains('"') || text.contains('$') || text.contains('`') {
        return Err("quotes and shell expansions are beyond this test's reader".into());
    }
    match program {
        "gnutella" => Ok(Plan::Run {
            env,
            args: rest[1..].to_vec(),
        }),
        "cargo" if rest.get(1).map(String::as_str) == Some("run") => {
            let dashes = rest
                .iter()
                .position(|t| t == "--")
                .ok_or("cargo run without --")?;
            if let Some(odd) = rest[2..dashes]
                .iter()
                .find(|t| !matches!(t.as_str(), "--release" | "--quiet" | "-q"))
            {
                return Err(format!(
                    "cargo run {odd}: only --release/--quiet are understood"
                ));
            }
            Ok(Plan::Run {
                env,
                args: rest[dashes + 1..].to_vec(),
            })
        }
        _ => Err(format!(
            "runs {program:?}, which this test neither runs nor lists in NOT_RUN"
        )),
    }
}

fn is_synopsis(text: &str) -> bool {
    if ["[", "|", "...", "…"].iter().any(|m| text.contains(m)) {
        return true;
    }
    text.split_whitespace()
        .filter(|t| !is_env_assignment(t))
        .any(|t| {
            let letters: Vec<char> = t.chars().filter(|c| c.is_ascii_alphabetic()).collect();
            !letters.is_empty() && letters.iter().all(|c| c.is_ascii_uppercase())
        })
}

/// Applies [`LIMITS`] to a command's arguments (never to `topology gen`).
fn scale(args: &mut [String]) {
    if args.first().map(String::as_str) == Some("topology")
        && args.get(1).map(String::as_str) == Some("gen")
    {
        return;
    }
    for i in 0..args.len() {
        for &(key, limit) in LIMITS {
            if key.starts_with("--") {
                if args[i] == key {
                    if let Some(v) = args.get_mut(i + 1) {
                        if v.parse::<u64>().is_ok_and(|n| n > limit) {
                            *v = limit.to_string();
                        }
                    }
                }
            } else if args[i].contains(':') && !args[i].starts_with("file:") {
                args[i] = scale_spec(&args[i], key, limit);
            }
        }
    }
}

/// `ba:n=100000,m=2` with `n` capped at `limit`.
fn scale_spec(spec: &str, key: &str, limit: u64) -> String {
    let Some((kind, params)) = spec.split_once(':') else {
        return spec.to_string();
    };
    let params: Vec<String> = params
        .split(',')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if k == key && v.parse::<u64>().is_ok_and(|n| n > limit) => {
                format!("{k}={limit}")
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{kind}:{}", params.join(","))
}

// ---------------------------------------------------------------------------------------
// The folder an example runs in

struct Workspace {
    dir: tempfile::TempDir,
    /// Shown listening address of each shipped config's peers, by config file name and id.
    shipped: HashMap<String, Vec<(String, SocketAddrV4)>>,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("a temp folder");
        let root = Path::new(ROOT);
        symlink(&root.join("data"), &dir.path().join("data"));
        let configs = dir.path().join("topology-configs");
        std::fs::create_dir(&configs).unwrap();
        symlink(
            &root.join("topology-configs/shared"),
            &configs.join("shared"),
        );
        let mut shipped = HashMap::new();
        for entry in std::fs::read_dir(root.join("topology-configs")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let (copy, listens) = ports_zeroed(&path);
                std::fs::write(configs.join(&name), copy).unwrap();
                shipped.insert(name, listens);
            }
        }
        let experiments = dir.path().join("experiments");
        std::fs::create_dir(&experiments).unwrap();
        for entry in std::fs::read_dir(root.join("experiments")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let copy = scaled_spec(&path);
                std::fs::write(experiments.join(path.file_name().unwrap()), copy).unwrap();
            }
        }
        for (_, instead) in SYSTEM_FOLDERS {
            std::fs::create_dir_all(dir.path().join(instead)).unwrap();
        }
        for (file, content) in FIXTURES {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        Workspace { dir, shipped }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The shown addresses of a shipped config's peers, if `arg` names one.
    fn shipped_listens(&self, arg: &str) -> Option<&Vec<(String, SocketAddrV4)>> {
        let name = arg.strip_prefix("topology-configs/")?;
        self.shipped.get(name)
    }
}

fn symlink(from: &Path, to: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(from, to).expect("a symlink in the temp folder");
}

/// A config with every port 0, and its peers' shown addresses.
fn ports_zeroed(path: &Path) -> (String, Vec<(String, SocketAddrV4)>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut listens = Vec::new();
    for peer in config["peers"].as_array_mut().unwrap() {
        let shown: SocketAddrV4 = peer["listen"].as_str().unwrap().parse().unwrap();
        listens.push((peer["id"].as_str().unwrap().to_string(), shown));
        peer["listen"] = SocketAddrV4::new(*shown.ip(), 0).to_string().into();
    }
    (serde_json::to_string_pretty(&config).unwrap(), listens)
}

/// An experiment spec within [`SPEC_LIMITS`].
fn scaled_spec(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    if let Some(topologies) = spec["topologies"].as_array_mut() {
        for t in topologies {
            let s = t.as_str().unwrap().to_string();
            let (body, label) = match s.split_once('|') {
                Some((b, l)) => (b.to_string(), format!("|{l}")),
                None => (s.clone(), String::new()),
            };
            if !body.starts_with("file:") {
                *t = format!("{}{label}", scale_spec(&body, "n", SPEC_LIMITS.nodes)).into();
            }
        }
    }
    if let Some(q) = spec["workload"]["queries"].as_u64() {
        spec["workload"]["queries"] = q.min(SPEC_LIMITS.queries).into();
    }
    if let Some(seeds) = spec["seeds"].as_array_mut() {
        seeds.truncate(1);
    }
    serde_json::to_string_pretty(&spec).unwrap()
}

// ---------------------------------------------------------------------------------------
// Running a session

/// A started process whose output lines are collected as they come.
struct Running {
    what: String,
    child: Child,
    lines: Receiver<String>,
    output: Arc<Mutex<String>>,
}

impl Running {
    fn start(cwd: &Path, env: &[(String, String)], args: &[String], what: String) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(cwd)
            .env("HOME", cwd)
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let (tx, lines) = mpsc::channel();
        let output = Arc::new(Mutex::new(String::new()));
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("piped")),
            Box::new(child.stderr.take().expect("piped")),
        ];
        for stream in streams {
            let tx = tx.clone();
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Ok(mut all) = output.lock() {
                        // Trace logs can be long; the start and the end are what explain.
                        if all.len() < 200_000 {
                            all.push_str(&line);
                            all.push('\n');
                        }
                    }
                    let _ = tx.send(line);
                }
            });
        }
        Running {
            what,
            child,
            lines,
            output,
        }
    }

    fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Waits for a line (of stdout or stderr) for which `done` returns true.
    fn wait_for(&mut self, mut done: impl FnMut(&str) -> bool) -> Result<(), String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok(line) if done(&line) => return Ok(()),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        return Err(format!(
                            "{} exited ({status}) before it was ready:\n{}",
                            self.what,
                            self.output()
                        ));
                    }
                    if left.is_zero() {
                        return Err(format!(
                            "{} was not ready within {READY_WITHIN:?}:\n{}",
                            self.what,
                            self.output()
                        ));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    return Err(format!(
                        "{} closed its output ({status:?}) before it was ready:\n{}",
                        self.what,
                        self.output()
                    ));
                }
            }
        }
    }

    /// Waits until the process exits.
    fn finish(&mut self, within: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + within;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the reader threads drain the pipes.
                    while self.lines.recv_timeout(Duration::from_millis(100)).is_ok() {}
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!(
                        "{} did not finish within {within:?}:\n{}",
                        self.what,
                        self.output()
                    ));
                }
                Err(e) => return Err(format!("{}: {e}", self.what)),
            }
        }
    }

    /// Ctrl-C: SIGTERM, then the process must exit cleanly.
    fn stop(mut self) -> Result<(), String> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with our own child's pid and a valid signal number.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let status = self.finish(Duration::from_secs(30))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} did not stop cleanly on SIGTERM ({status}):\n{}",
                self.what,
                self.output()
            ))
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One session's state: processes still running and the addresses they stand in for.
struct SessionRun<'a> {
    ws: &'a Workspace,
    running: Vec<Running>,
    /// Shown address -> the address it really runs at.
    addresses: BTreeMap<SocketAddrV4, SocketAddrV4>,
    ran: usize,
    skipped: Vec<String>,
}

impl<'a> SessionRun<'a> {
    fn new(ws: &'a Workspace) -> Self {
        SessionRun {
            ws,
            running: Vec::new(),
            addresses: BTreeMap::new(),
            ran: 0,
            skipped: Vec::new(),
        }
    }

    fn run(&mut self, example: &Example) -> Result<(), String> {
        let place = format!("{} `{}`", example.origin, example.text);
        let (env, mut args) = match plan(&example.text).map_err(|e| format!("{place}: {e}"))? {
            Plan::Skip(why) => {
                self.skipped.push(format!("{place}: {why}"));
                return Ok(());
            }
            Plan::Run { env, args } => (env, args),
        };
        scale(&mut args);
        for arg in &mut args {
            for (system, instead) in SYSTEM_FOLDERS {
                if let Some(rest) = arg.strip_prefix(system) {
                    if rest.is_empty() || rest.starts_with('/') {
                        let rest = rest.trim_start_matches('/');
                        let path = self.ws.path().join(instead).join(rest);
                        *arg = path.to_string_lossy().into_owned();
                    }
                }
            }
            if let Some(rest) = arg.strip_prefix("~/") {
                *arg = self.ws.path().join(rest).to_string_lossy().into_owned();
            }
        }
        // A listen address runs on port 0; the shown one is remembered.
        let mut shown_listen = None;
        if let Some(i) = args.iter().position(|a| a == "--listen") {
            if let Some(addr) = args.get(i + 1).and_then(|a| a.parse::<SocketAddrV4>().ok()) {
                if addr.port() != 0 {
                    shown_listen = Some(addr);
                    args[i + 1] = SocketAddrV4::new(*addr.ip(), 0).to_string();
                }
            }
        }
        // So does a launch's control API and live page (nothing here calls them).
        for flag in ["--control", "--ui"] {
            if let Some(i) = args.iter().position(|a| a == flag) {
                if let Some(addr) = args.get(i + 1).and_then(|a| a.parse::<SocketAddr>().ok()) {
                    args[i + 1] = SocketAddr::new(addr.ip(), 0).to_string();
                }
            }
        }
        self.provide_fixture_network(&args)?;
        for arg in &mut args {
            if let Some(real) = arg
                .parse::<SocketAddrV4>()
                .ok()
                .and_then(|a| self.addresses.get(&a))
            {
                *arg = real.to_string();
            }
        }
        let what = format!("{place} (run as `gnutella {}`)", args.join(" "));
        let long_running = match args.first().map(String::as_str) {
            Some("peer") => true,
            Some("launch") => !args.iter().any(|a| a == "--run-workload"),
            // `demo --ui` keeps its network up for the page until Ctrl-C.
            Some("demo") => args.iter().any(|a| a == "--ui"),
            _ => false,
        };
        let mut process = Running::start(self.ws.path(), &env, &args, what.clone());
        self.ran += 1;
        if !long_running {
            let status = process.finish(FINISH_WITHIN)?;
            if !status.success() {
                return Err(format!("{what}: {status}\n{}", process.output()));
            }
            return Ok(());
        }
        self.wait_ready(&mut process, &args, shown_listen, example.machine)?;
        self.running.push(process);
        Ok(())
    }

    /// Waits until a long-running command is ready and learns where it listens.
    fn wait_ready(
        &mut self,
        process: &mut Running,
        args: &[String],
        shown_listen: Option<SocketAddrV4>,
        machine: Option<Ipv4Addr>,
    ) -> Result<(), String> {
        if args.first().map(String::as_str) == Some("demo") {
            process.wait_for(|line| line.starts_with("live page on "))?;
            return Ok(());
        }
        if args.first().map(String::as_str) == Some("launch") {
            let shown = args
                .get(1)
                .and_then(|c| self.ws.shipped_listens(c))
                .cloned()
                .unwrap_or_default();
            let mut learned = Vec::new();
            process.wait_for(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let ["peer", id, "listening", "on", addr] = words[..] {
                    if let (Some((_, s)), Ok(real)) =
                        (shown.iter().find(|(i, _)| i == id), addr.parse())
                    {
                        learned.push((*s, real));
                    }
                }
                line.starts_with("overlay up")
            })?;
            self.addresses.extend(learned);
            return Ok(());
        }
        // A peer: "listening on ADDR, sharing N files".
        let mut real = None;
        process.wait_for(|line| {
            real = line
                .strip_prefix("listening on ")
                .and_then(|rest| rest.split(',').next())
                .and_then(|a| a.parse::<SocketAddrV4>().ok());
            real.is_some()
        })?;
        let real = real.ok_or("no address")?;
        let reachable = SocketAddrV4::new(
            if real.ip().is_unspecified() {
                Ipv4Addr::LOCALHOST
            } else {
                *real.ip()
            },
            real.port(),
        );
        if let Some(shown) = shown_listen {
            if !shown.ip().is_unspecified() {
                self.addresses.insert(shown, reachable);
            }
            if let Some(ip) = machine {
                self.addresses
                    .insert(SocketAddrV4::new(ip, shown.port()), reachable);
            }
        }
        // A peer told to link with a running peer must show the link before the next
        // command relies on it.
        let local: Vec<String> = args
            .windows(2)
            .filter(|w| w[0] == "--connect")
            .filter(|w| self.addresses.values().any(|a| a.to_string() == w[1]))
            .map(|w| w[1].clone())
            .collect();
        if !local.is_empty() {
            process.wait_for(|line| {
                line.starts_with("neighbours:") && local.iter().all(|a| line.contains(a.as_str()))
            })?;
        }
        Ok(())
    }

    /// Launches the quickstart network when a command reaches for one of its addresses
    /// that nothing in the session started.
    fn provide_fixture_network(&mut self, args: &[String]) -> Result<(), String> {
        let Some(shown) = self.ws.shipped_listens(FIXTURE_NETWORK).cloned() else {
            return Ok(());
        };
        let wanted = args.windows(2).any(|w| {
            matches!(w[0].as_str(), "--via" | "--connect")
                && w[1].parse::<SocketAddrV4>().is_ok_and(|a| {
                    !self.addresses.contains_key(&a) && shown.iter().any(|(_, s)| *s == a)
                })
        });
        if !wanted {
            return Ok(());
        }
        let args: Vec<String> = ["launch", FIXTURE_NETWORK]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let what = format!("the fixture network `gnutella launch {FIXTURE_NETWORK}`");
        let mut process = Running::start(self.ws.path(), &[], &args, what);
        self.wait_ready(&mut process, &args, None, None)?;
        self.running.push(process);
        Ok(())
    }

    /// Stops every long-running command, newest first.
    fn end(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some(process) = self.running.pop() {
            if let Err(e) = process.stop() {
                failures.push(e);
            }
        }
        self.addresses.clear();
        failures
    }
}

/// Runs sessions in one workspace; returns (commands run, skipped, failures).
fn run_sessions(sessions: &[Session]) -> (usize, Vec<String>, Vec<String>) {
    let ws = Workspace::new();
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut skipped = Vec::new();
    for session in sessions {
        let mut run = SessionRun::new(&ws);
        for example in session {
            if let Err(e) = run.run(example) {
                failures.push(e);
                break;
            }
        }
        failures.extend(run.end());
        ran += run.ran;
        skipped.append(&mut run.skipped);
    }
    (ran, skipped, failures)
}

fn report(what: &str, ran: usize, skipped: &[String], failures: &[String]) {
    eprintln!("{what}: {ran} commands run, {} not run:", skipped.len());
    for s in skipped {
        eprintln!("  {s}");
    }
    assert!(
        failures.is_empty(),
        "{} of the {what} failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------
// The tests

#[test]
fn every_readme_example_works() {
    let mut sessions = Vec::new();
    for path in readmes() {
        let text = std::fs::read_to_string(&path).unwrap();
        let origin = path
            .strip_prefix(ROOT)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        sessions.extend(shell_sessions(&origin, &text));
    }
    let (ran, skipped, failures) = run_sessions(&sessions);
    report("README examples", ran, &skipped, &failures);
}

#[test]
fn every_help_example_works() {
    let mut sessions = Vec::new();
    let mut unreadable = Vec::new();
    for (path, help) in help_pages() {
        match help_session(&path, &help) {
            Ok(session) => sessions.push(session),
            Err(e) => unreadable.push(e),
        }
    }
    assert!(unreadable.is_empty(), "{}", unreadable.join("\n"));
    let (ran, skipped, mut failures) = run_sessions(&sessions);
    failures.extend(unreadable);
    report("--help examples", ran, &skipped, &failures);
}

/// A line with what varies from run to run masked, and spacing collapsed.
fn masked(line: &str) -> String {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let bare = t.trim_end_matches([',', ')', ':']);
        let token = if let Some((host, _)) = bare
            .rsplit_once(':')
            .filter(|(h, p)| h.parse::<Ipv4Addr>().is_ok() && p.parse::<u16>().is_ok())
        {
            t.replacen(bare, &format!("{host}:_"), 1)
        } else if (bare.contains('.') && bare.parse::<f64>().is_ok())
            || (tokens.get(i + 1) == Some(&"ms") && bare.parse::<f64>().is_ok())
        {
            t.replacen(bare, "_", 1)
        } else {
            t.to_string()
        };
        out.push(token);
    }
    out.join(" ")
}

/// The lines of the ```text block that starts with `first`, in `markdown`.
fn text_block(markdown: &str, first: &str) -> Option<Vec<String>> {
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```text" {
            let block: Vec<String> = lines
                .by_ref()
                .take_while(|l| l.trim() != "```")
                .map(String::from)
                .collect();
            if block.first().is_some_and(|l| l.starts_with(first)) {
                return Some(block);
            }
        }
    }
    None
}

#[test]
fn readme_transcripts_match_the_program() {
    for (document, command, first) in TRANSCRIPTS {
        let markdown = std::fs::read_to_string(Path::new(ROOT).join(document)).unwrap();
        let shown = text_block(&markdown, first)
            .unwrap_or_else(|| panic!("{document}: no ```text block starting with {first:?}"));
        let ws = Workspace::new();
        let args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let mut run = Running::start(ws.path(), &[], &args, format!("gnutella {command:?}"));
        let status = run.finish(FINISH_WITHIN).unwrap();
        assert!(status.success(), "{}", run.output());
        let output: Vec<String> = run.output().lines().map(masked).collect();
        let mut at = 0;
        for line in shown
            .iter()
            .filter(|l| !l.trim().is_empty() && l.trim() != "...")
        {
            let want = masked(line);
            match output[at..].iter().position(|l| *l == want) {
                Some(i) => at += i + 1,
                None => panic!(
                    "{document} shows a line `gnutella {}` no longer prints (in this order):\n{line}\n\nmasked: {want}\n\nits output, masked:\n{}",
                    command.join(" "),
                    output.join("\n")
                ),
            }
        }
    }
}

#[test]
fn the_shipped_experiment_specs_load_at_full_size() {
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(ROOT).join("experiments")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            if let Err(e) = gnutella::experiment::spec::ExperimentSpec::load(&path) {
                panic!("{}: {e}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "found {checked} specs");
}

#[test]
fn the_readers_find_the_examples() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let commands: Vec<String> = shell_sessions("README.md", &readme)
        .into_iter()
        .flatten()
        .map(|e| e.text)
        .collect();
    for expected in [
        "cargo run --release -- demo",
        "cargo install --path .",
        "gnutella sim --topology data/topologies/p2p-Gnutella08.txt --ttl 4 --json",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected:?} not among {commands:#?}"
        );
    }
    let machine = shell_sessions(
        "x",
        "```sh\n# machine A (192.0.2.10)\ngnutella peer --listen 0.0.0.0:6346  # one\n```\n",
    );
    assert_eq!(machine[0][0].machine, Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(machine[0][0].text, "gnutella peer --listen 0.0.0.0:6346");
    // Every leaf subcommand has examples.
    let pages = help_pages();
    let names: Vec<String> = pages.iter().map(|(p, _)| p.join(" ")).collect();
    for expected in [
        "demo",
        "peer",
        "launch",
        "search",
        "sim",
        "experiment",
        "experiment merge",
        "topology gen",
        "topology stats",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    for (path, help) in &pages {
        help_session(path, help).unwrap();
    }
    assert_eq!(
        plan("RUST_LOG=debug gnutella demo").unwrap(),
        Plan::Run {
            env: vec![("RUST_LOG".into(), "debug".into())],
            args: vec!["demo".into()]
        }
    );
    assert!(matches!(
        plan("gnutella topology stats FILE [--json]").unwrap(),
        Plan::Skip(_)
    ));
    assert!(
        plan("ls -l").is_err(),
        "unknown programs are not skipped silently"
    );
    assert!(matches!(
        plan(r#"curl -X POST http://127.0.0.1:6380/search -d '{"from": "p0"}'"#).unwrap(),
        Plan::Skip(_)
    ));
    assert!(
        plan("gnutella search \"two words\"").is_err(),
        "a command that runs may not quote"
    );
    let mut args: Vec<String> = "sim --gen ba:n=100000,m=2 --queries 1000"
        .split(' ')
        .map(String::from)
        .collect();
    scale(&mut args);
    assert_eq!(args.join(" "), "sim --gen ba:n=5000,m=2 --queries 10");
}
