//! A sharded launch survives its children: a child that dies (killed during the workload,
//! while the launch waits for Ctrl-C, while the overlay comes up, or before it could
//! start) is named in the report's `network.lost_shards`, the report still holds what the
//! surviving shards recorded, and the launch exits with status 3.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::launch_options::{LaunchError, LaunchOptions};
use gnutella::net::shard::launch_sharded;
use gnutella::net::shard_protocol::ShardError;
use gnutella::topology::TopologyConfig;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, Lines};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");
/// The documented exit status of a launch that lost shards.
const SHARDS_LOST: i32 = 3;
const LIMIT: Duration = Duration::from_secs(60);

/// Four peers in a line, two per shard: shard 0 runs a and b, shard 1 runs c and d.
/// Queries from c at once and from d later; one from a after that.
const LINE: &str = r#"{
  "name": "line-4",
  "defaults": {"ttl": 7, "max_ttl": 7, "seed": 3, "cache": {"mode": "off"}},
  "peers": [
    {"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b"]},
    {"id": "b", "listen": "127.0.0.1:0", "neighbours": ["c"],
     "share": {"files": [{"name": "end-of-line.dat", "size": 2048}]}},
    {"id": "c", "listen": "127.0.0.1:0", "neighbours": ["d"]},
    {"id": "d", "listen": "127.0.0.1:0",
     "share": {"files": [{"name": "end-of-line.dat", "size": 2048}]}}
  ],
  "workload": {"queries": [
    {"from": "c", "words": "end line", "at_ms": 0},
    {"from": "d", "words": "end line", "at_ms": 3000},
    {"from": "a", "words": "end line", "at_ms": 3000}
  ]}
}"#;

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("line.json");
    std::fs::write(&path, text).unwrap();
    path
}

fn launch(config: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .arg("launch")
        .arg(config)
        .args(["--shards", "2", "--overlay-timeout", "20"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("gnutella starts")
}

fn lines<R: AsyncRead + Unpin>(from: Option<R>) -> Lines<BufReader<R>> {
    BufReader::new(from.expect("piped")).lines()
}

/// Reads lines until one contains `what`; returns every line read.
async fn read_until<R: AsyncRead + Unpin>(lines: &mut Lines<BufReader<R>>, what: &str) -> String {
    let mut seen = String::new();
    while let Some(line) = lines.next_line().await.expect("text") {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(what) {
            return seen;
        }
    }
    panic!("no line with {what:?} in:\n{seen}");
}

async fn read_rest<R: AsyncRead + Unpin>(lines: &mut Lines<BufReader<R>>) -> String {
    let mut seen = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        seen.push_str(&line);
        seen.push('\n');
    }
    seen
}

/// The pid of the parent's child that runs `members` (e.g. "0,1").
fn shard_pid(parent: u32, members: &str) -> i32 {
    for task in std::fs::read_dir(format!("/proc/{parent}/task")).expect("/proc") {
        let children = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(children).unwrap_or_default();
        for pid in text.split_whitespace() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            if args
                .windows(2)
                .any(|w| w[0] == b"--shard-members" && w[1] == members.as_bytes())
            {
                return pid.parse().unwrap();
            }
        }
    }
    panic!("no child of {parent} runs peers {members}");
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) with a pid we started; it touches no memory of ours.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
}

fn report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the report is written");
    serde_json::from_str(&text).expect("the report is JSON")
}

fn origins(report: &Value) -> Vec<String> {
    let mut origins: Vec<String> = report["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["origin"].as_str().unwrap_or("?").to_string())
        .collect();
    origins.sort();
    origins
}

/// A sharded launch of [`LINE`] writing its report into a temporary folder, read line by
/// line, and waited for until it said `ready`.
struct Run {
    _dir: tempfile::TempDir,
    report: PathBuf,
    parent: Child,
    stdout: Lines<BufReader<tokio::process::ChildStdout>>,
    stderr: Lines<BufReader<tokio::process::ChildStderr>>,
}

impl Run {
    async fn start(extra: &[&str], ready: &str) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), LINE);
        let report = dir.path().join("report.json");
        let mut args = extra.to_vec();
        args.extend(["--report", report.to_str().unwrap()]);
        let mut parent = launch(&config, &args);
        let mut stdout = lines(parent.stdout.take());
        let stderr = lines(parent.stderr.take());
        read_until(&mut stdout, ready).await;
        Run {
            _dir: dir,
            report,
            parent,
            stdout,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.parent.id().unwrap()
    }

    /// The rest of stdout and stderr, and the exit status.
    async fn finish(&mut self) -> (String, String, std::process::ExitStatus) {
        let (out, err, status) = tokio::join!(
            read_rest(&mut self.stdout),
            read_rest(&mut self.stderr),
            self.parent.wait()
        );
        (out, err, status.unwrap())
    }
}

#[tokio::test]
async fn a_shard_killed_during_the_workload_is_reported_and_the_others_counts_kept() {
    bounded("launch --shards 2 --run-workload", async {
        let mut run = Run::start(&["--run-workload"], "overlay up").await;
        signal(shard_pid(run.pid(), "0,1"), libc::SIGKILL);
        let (out, err, status) = run.finish().await;
        assert_eq!(status.code(), Some(SHARDS_LOST), "{out}\n{err}");
        assert!(
            err.contains("warning: shard 0 with peers a, b lost"),
            "{err}"
        );
        assert!(err.contains("error: 1 of 2 shards lost"), "{err}");
        assert!(out.contains("report written to"), "{out}");

        let report = report(&run.report);
        let lost = report["network"]["lost_shards"].as_array().unwrap();
        assert_eq!(lost.len(), 1, "{report}");
        assert_eq!(lost[0]["shard"], 0);
        assert_eq!(lost[0]["peers"], serde_json::json!(["a", "b"]));
        assert_eq!(lost[0]["why"], "killed by signal 9 (SIGKILL)");
        assert!(lost[0]["at_ms"].as_f64().unwrap() > 0.0);
        // The query from a came due after its shard was gone.
        assert_eq!(lost[0]["queries_not_run"], 1);
        // The survivors' queries are there, with what they counted.
        assert_eq!(origins(&report), ["c", "d"], "{report}");
        for q in report["queries"].as_array().unwrap() {
            assert!(q["peers_reached"].as_u64().unwrap() >= 1, "{q}");
        }
        assert_eq!(report["network"]["processes"], 2);
        assert!(report["network"]["overlay_up_ms"].is_number());
    })
    .await;
}

#[tokio::test]
async fn ctrl_c_after_a_shard_died_still_writes_the_report() {
    bounded("launch --shards 2, then Ctrl-C", async {
        let mut run = Run::start(&[], "running until Ctrl-C").await;
        let pid = run.pid();
        signal(shard_pid(pid, "2,3"), libc::SIGKILL);
        // The parent says so at once, while it keeps running.
        let said = read_until(&mut run.stderr, "lost").await;
        assert!(
            said.contains("shard 1 with peers c, d lost")
                && said.contains("killed by signal 9 (SIGKILL)")
                && said.contains("going on with 1 of 2 shards"),
            "{said}"
        );
        signal(pid as i32, libc::SIGINT);
        let (out, err, status) = run.finish().await;
        assert_eq!(status.code(), Some(SHARDS_LOST), "{out}\n{err}");
        assert!(!err.contains("Broken pipe"), "{err}");
        let report = report(&run.report);
        let lost = report["network"]["lost_shards"].as_array().unwrap();
        assert_eq!(lost.len(), 1, "{report}");
        assert_eq!(lost[0]["shard"], 1);
        assert_eq!(lost[0]["peers"], serde_json::json!(["c", "d"]));
        assert_eq!(lost[0]["queries_not_run"], 0);
        assert!(report["network"]["overlay_up_ms"].is_number());
        assert_eq!(report["queries"], serde_json::json!([]));
    })
    .await;
}

#[tokio::test]
async fn a_shard_that_cannot_start_is_reported_with_its_last_words() {
    bounded("launch --shards 2 with a port in use", async {
        let dir = tempfile::tempdir().unwrap();
        // Peer a's port is taken, so shard 0 cannot listen and exits at once.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let text = LINE.replacen(
            r#""listen": "127.0.0.1:0""#,
            &format!(r#""listen": "127.0.0.1:{port}""#),
            1,
        );
        let config = write_config(dir.path(), &text);
        let path = dir.path().join("report.json");
        let out = launch(
            &config,
            &["--run-workload", "--report", path.to_str().unwrap()],
        )
        .wait_with_output()
        .await
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(SHARDS_LOST), "{err}");
        let report = report(&path);
        let lost = report["network"]["lost_shards"].as_array().unwrap();
        assert_eq!(lost.len(), 1, "shard 1 was stopped, not lost: {report}");
        assert_eq!(lost[0]["shard"], 0);
        assert_eq!(lost[0]["why"], "exited with status 1");
        let last = lost[0]["stderr"].as_str().unwrap();
        assert!(
            last.contains(&format!("cannot listen on 127.0.0.1:{port}")),
            "{last}"
        );
        assert!(report["network"]["overlay_up_ms"].is_null());
        assert_eq!(report["queries"], serde_json::json!([]));
        drop(taken);
    })
    .await;
}

/// A stand-in for the binary: shard "0,1" is the real thing, the other shard runs
/// `fake` (a shell snippet) instead.
fn impostor(dir: &Path, fake: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("impostor.sh");
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in *\"--shard-members 0,1 \"*) exec '{BIN}' \"$@\";; esac\n{fake}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn options(config: &Path, report: &Path, exe: PathBuf) -> LaunchOptions {
    LaunchOptions {
        config: config.to_path_buf(),
        shards: Some(2),
        threads: Some(1),
        run_workload: true,
        report: Some(report.to_path_buf()),
        overlay_timeout: Duration::from_secs(20),
        quiet: Duration::from_millis(300),
        deflate: false,
        json: false,
        exe: Arc::new(exe),
        control: None,
        trace: None,
        ui: None,
        peer_stats: None,
    }
}

#[tokio::test]
async fn a_shard_lost_while_the_overlay_comes_up_ends_the_wait_and_the_report_says_so() {
    bounded("a shard dying before the overlay is up", async {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), LINE);
        let path = dir.path().join("report.json");
        // Shard 1 binds nothing, takes the addresses and dies.
        let exe = impostor(
            dir.path(),
            "echo 'BOUND 2 127.0.0.1:9'\necho 'BOUND 3 127.0.0.1:9'\necho READY\nread addrs\n\
             echo 'fake shard gives up' >&2\nexit 7",
        );
        let result = launch_sharded(
            TopologyConfig::load(&config).unwrap(),
            options(&config, &path, exe),
        )
        .await;
        assert!(
            matches!(
                result,
                Err(LaunchError::Shard(ShardError::Lost {
                    lost: 1,
                    shards: 2,
                    ..
                }))
            ),
            "{result:?}"
        );
        let report = report(&path);
        let lost = report["network"]["lost_shards"].as_array().unwrap();
        assert_eq!(
            lost.len(),
            1,
            "shard 0 stopped waiting and reported: {report}"
        );
        assert_eq!(lost[0]["shard"], 1);
        assert_eq!(lost[0]["why"], "exited with status 7");
        assert_eq!(lost[0]["stderr"], "fake shard gives up");
        assert!(report["network"]["overlay_up_ms"].is_null());
        assert_eq!(report["queries"], serde_json::json!([]));
    })
    .await;
}

#[tokio::test]
async fn a_shard_that_breaks_the_protocol_is_killed_and_counted_lost() {
    bounded("a shard talking nonsense", async {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), LINE);
        let path = dir.path().join("report.json");
        let exe = impostor(dir.path(), "echo 'HELLO PARENT'\nsleep 30");
        let result = launch_sharded(
            TopologyConfig::load(&config).unwrap(),
            options(&config, &path, exe),
        )
        .await;
        assert!(
            matches!(result, Err(LaunchError::Shard(ShardError::Lost { .. }))),
            "{result:?}"
        );
        let report = report(&path);
        let lost = &report["network"]["lost_shards"][0];
        assert_eq!(lost["shard"], 1);
        let why = lost["why"].as_str().unwrap();
        assert!(
            why.contains("broke the shard protocol") && why.contains("HELLO PARENT"),
            "{why}"
        );
    })
    .await;
}

#[tokio::test]
async fn ctrl_c_during_the_workload_loses_no_shard() {
    bounded("launch --shards 2 --run-workload, then Ctrl-C", async {
        let mut run = Run::start(&["--run-workload"], "overlay up").await;
        // Whatever the parent was waiting for (a GUID, a STATUS), the answers that come
        // after it gave up are not mistaken for the report.
        signal(run.pid() as i32, libc::SIGINT);
        let (out, err, status) = run.finish().await;
        assert!(status.success(), "{out}\n{err}");
        assert!(!err.contains("lost"), "{err}");
        let report = report(&run.report);
        assert!(report["network"].get("lost_shards").is_none(), "{report}");
        assert_eq!(report["network"]["processes"], 2);
    })
    .await;
}
