//! A sweep split into shards and merged again is the unsharded sweep, byte for byte:
//! `results.csv`, `summary.json` and every plot. Merging refuses what would not be (a
//! missing or repeated shard, shards of another spec, a damaged row), and the Slurm job
//! array `--emit-slurm` writes is valid bash that runs the same shards and merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

/// 2 topologies (a file and a generated one whose label needs CSV quoting) x 2 seeds x
/// 2 replica counts x 2 strategies x 2 TTLs = 32 runs, in 8 groups of graph and workload.
const SPEC: &str = r#"{
  "name": "shards",
  "topologies": ["file:ring12.txt|label=ring", "random:n=40,d=4|label=random, forty"],
  "strategies": ["flood", "flood+cache"],
  "ttls": [1, 3],
  "seeds": [1, 2],
  "workload": { "files": 8, "placement": {"kind": "replicas", "per_file": 2},
                "popularity": {"kind": "zipf", "alpha": 1.0}, "queries": 6 },
  "sim": { "latency_ms": 5, "settle_ms": 1000 },
  "sweep": { "replicas": [1, 3] }
}"#;
const RUNS: usize = 32;

/// The spec (and the ring it names) in a fresh folder.
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ring: String = (0..12)
        .map(|i| format!("{i}\t{}\n", (i + 1) % 12))
        .collect();
    std::fs::write(dir.path().join("ring12.txt"), format!("# a ring\n{ring}")).unwrap();
    let spec = dir.path().join("shards.json");
    std::fs::write(&spec, SPEC).unwrap();
    (dir, spec)
}

fn gnutella(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .arg("--quiet")
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let out = gnutella(args, cwd);
    assert!(
        out.status.success(),
        "gnutella {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(args: &[&str], cwd: &Path) -> String {
    let out = gnutella(args, cwd);
    assert!(!out.status.success(), "gnutella {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// Every file of a folder by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn assert_same_outputs(full: &Path, merged: &Path) {
    assert_same_outputs_with(full, merged, "messages_vs_ttl.svg");
}

/// Like [`assert_same_outputs`], `plot` being one plot the sweep must have drawn.
fn assert_same_outputs_with(full: &Path, merged: &Path, plot: &str) {
    let (a, b) = (files(full), files(merged));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "different files"
    );
    for name in ["results.csv", "summary.json", plot] {
        assert!(a.contains_key(name), "{name} missing from the full sweep");
    }
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between the full and merged sweeps"
        );
    }
}

/// Runs the sweep split into `count` shards (in `dir/shard-I`) and returns their folders.
fn run_shards(spec: &str, cwd: &Path, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let dir = format!("shard-{i}");
            ok(
                &[
                    "experiment",
                    spec,
                    "--shard",
                    &format!("{i}/{count}"),
                    "--out",
                    &dir,
                    "--jobs",
                    "1",
                ],
                cwd,
            );
            dir
        })
        .collect()
}

fn merge(dirs: &[String], out: &str, cwd: &Path) -> Output {
    let mut args = vec!["experiment", "merge"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--out", out]);
    gnutella(&args, cwd)
}

#[test]
fn three_shards_merged_in_any_order_are_the_unsharded_sweep_byte_for_byte() {
    let (dir, _) = workspace();
    let cwd = dir.path();
    ok(
        &["experiment", "shards.json", "--out", "full", "--jobs", "2"],
        cwd,
    );
    let mut shards = run_shards("shards.json", cwd, 3);
    // Each shard holds its own rows of results.csv: 11, 11 and 10 of the 32.
    let rows = |d: &str| {
        std::fs::read_to_string(cwd.join(d).join("results.csv"))
            .unwrap()
            .lines()
            .count()
            - 1
    };
    assert_eq!(
        shards.iter().map(|d| rows(d)).collect::<Vec<_>>(),
        [11, 11, 10]
    );
    shards.rotate_left(1);
    let out = merge(&shards, "merged", cwd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_outputs(&cwd.join("full"), &cwd.join("merged"));
}

#[test]
fn more_shards_than_runs_leave_empty_shards_that_still_merge() {
    let (dir, _) = workspace();
    let cwd = dir.path();
    ok(
        &["experiment", "shards.json", "--out", "full", "--jobs", "2"],
        cwd,
    );
    let shards = run_shards("shards.json", cwd, RUNS + 3);
    let last = std::fs::read_to_string(cwd.join(&shards[RUNS + 2]).join("results.csv")).unwrap();
    assert_eq!(
        last.lines().count(),
        1,
        "an empty shard has the header only"
    );
    let out = merge(&shards, "merged", cwd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_outputs(&cwd.join("full"), &cwd.join("merged"));
}

#[test]
fn merge_refuses_missing_repeated_foreign_and_damaged_shards() {
    let (dir, _) = workspace();
    let cwd = dir.path();
    let shards = run_shards("shards.json", cwd, 3);

    let err = String::from_utf8(merge(&shards[..2], "out", cwd).stderr).unwrap();
    assert!(err.contains("missing shard 2/3"), "{err}");
    assert!(!cwd.join("out").exists(), "a refused merge writes nothing");

    let twice = vec![shards[0].clone(), shards[1].clone(), shards[1].clone()];
    let err = String::from_utf8(merge(&twice, "out", cwd).stderr).unwrap();
    assert!(err.contains("shard 1/3 is given twice"), "{err}");

    // The same sweep with one seed less is another sweep.
    std::fs::write(
        cwd.join("other.json"),
        SPEC.replace(r#""seeds": [1, 2]"#, r#""seeds": [1]"#),
    )
    .unwrap();
    ok(
        &[
            "experiment",
            "other.json",
            "--shard",
            "2/3",
            "--out",
            "other-2",
        ],
        cwd,
    );
    let mixed = vec![shards[0].clone(), shards[1].clone(), "other-2".to_string()];
    let err = String::from_utf8(merge(&mixed, "out", cwd).stderr).unwrap();
    assert!(err.contains("shards of different sweeps"), "{err}");

    // Shards of another split of the same spec.
    ok(
        &[
            "experiment",
            "shards.json",
            "--shard",
            "1/4",
            "--out",
            "four-1",
        ],
        cwd,
    );
    let split = vec![shards[0].clone(), "four-1".to_string()];
    let err = String::from_utf8(merge(&split, "out", cwd).stderr).unwrap();
    assert!(err.contains("the same N of --shard I/N"), "{err}");

    // A folder that is not a shard.
    ok(&["experiment", "shards.json", "--out", "full"], cwd);
    let err = refused(&["experiment", "merge", "full", "--out", "out"], cwd);
    assert!(err.contains("no shard.json"), "{err}");

    // A row whose run is not the one its place says.
    let csv = cwd.join(&shards[1]).join("results.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let rewrite = |line: String| {
        let mut edited = lines.clone();
        edited[1] = line;
        std::fs::write(&csv, edited.join("\n") + "\n").unwrap();
    };
    // Shard 1's first run is run 1: the ring, flood, TTL 3, seed 1.
    assert!(
        lines[1].starts_with("ring,12,12,flood,3,1,"),
        "{}",
        lines[1]
    );
    rewrite(lines[1].replacen(",flood,3,", ",flood,1,", 1));
    let err = String::from_utf8(merge(&shards, "out", cwd).stderr).unwrap();
    assert!(
        err.contains("results.csv: line 2") && err.contains("belongs"),
        "{err}"
    );
    // A figure that is not a number (queries, after the replica count).
    rewrite(lines[1].replacen(",1,6,", ",1,six,", 1));
    let err = String::from_utf8(merge(&shards, "out", cwd).stderr).unwrap();
    assert!(err.contains("`six` is not a count (queries)"), "{err}");
    assert!(!cwd.join("out").join("results.csv").exists());
}

#[test]
fn list_runs_names_the_rows_of_results_csv_in_order_and_shards_split_them() {
    let (dir, _) = workspace();
    let cwd = dir.path();
    let all = ok(&["experiment", "shards.json", "--list-runs"], cwd);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), RUNS);
    assert_eq!(lines[0], "0\tring\tflood\t1\t1\treplicas=1");
    assert_eq!(
        lines[RUNS - 1],
        "31\trandom, forty\tflood+cache\t3\t2\treplicas=3"
    );
    // The same order as the sweep's rows.
    ok(&["experiment", "shards.json", "--out", "full"], cwd);
    let csv = std::fs::read_to_string(cwd.join("full/results.csv")).unwrap();
    for (line, row) in lines.iter().zip(csv.lines().skip(1)) {
        let f: Vec<&str> = line.split('\t').collect();
        let label = if f[1].contains(',') {
            format!("\"{}\"", f[1])
        } else {
            f[1].to_string()
        };
        let expected = format!("{label},");
        assert!(row.starts_with(&expected), "{line} vs {row}");
        assert!(
            row.contains(&format!(",{},{},{},", f[2], f[3], f[4])),
            "{line} vs {row}"
        );
    }
    // A shard's list: every third run, from its index.
    let shard = ok(
        &["experiment", "shards.json", "--list-runs", "--shard", "1/3"],
        cwd,
    );
    let indices: Vec<usize> = shard
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(indices, (1..RUNS).step_by(3).collect::<Vec<_>>());

    let err = refused(
        &["experiment", "shards.json", "--list-runs", "--shard", "3/3"],
        cwd,
    );
    assert!(
        err.contains("numbered from 0") && err.contains("0 to 2"),
        "{err}"
    );
    let err = refused(
        &["experiment", "shards.json", "--shard", "1:3", "--out", "x"],
        cwd,
    );
    assert!(err.contains("expected I/N"), "{err}");
}

#[test]
fn emitted_slurm_scripts_are_valid_bash_that_runs_the_shards_and_the_merge() {
    let (dir, _) = workspace();
    let cwd = dir.path();
    let stdout = ok(
        &[
            "experiment",
            "shards.json",
            "--emit-slurm",
            "slurm",
            "--shards",
            "4",
            "--out",
            "merged",
        ],
        cwd,
    );
    assert!(stdout.contains("job array of 4 tasks"), "{stdout}");
    let root = cwd.canonicalize().unwrap();
    let slurm = root.join("slurm");
    let program = Path::new(BIN).canonicalize().unwrap();
    let read = |name: &str| std::fs::read_to_string(slurm.join(name)).unwrap();
    let (sweep, merge_job, submit) = (
        read("sweep.sbatch"),
        read("merge.sbatch"),
        read("submit.sh"),
    );
    for name in ["sweep.sbatch", "merge.sbatch", "submit.sh"] {
        let check = Command::new("bash")
            .arg("-n")
            .arg(slurm.join(name))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "bash -n {name}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(slurm.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert!(mode & 0o111 != 0, "{name} is not executable");
        }
    }
    assert!(
        slurm.join("logs").is_dir(),
        "Slurm needs the log folder to exist"
    );

    assert!(sweep.contains("\n#SBATCH --array=0-3\n"), "{sweep}");
    assert!(sweep.contains("\n#SBATCH --cpus-per-task=1\n"), "{sweep}");
    assert!(sweep.contains("\n#SBATCH --mem="), "{sweep}");
    assert!(sweep.contains("\n#SBATCH --time=0-"), "{sweep}");
    assert!(
        sweep.contains(&format!("\n#SBATCH --chdir={}\n", root.display())),
        "{sweep}"
    );
    let task = format!(
        "exec {} --quiet experiment {} --shard \"$SLURM_ARRAY_TASK_ID/4\" --out \"{}/shard-$SLURM_ARRAY_TASK_ID\"",
        program.display(),
        root.join("shards.json").display(),
        slurm.display()
    );
    assert!(sweep.contains(&task), "{sweep}\nlacks\n{task}");
    let shard_dirs: Vec<String> = (0..4)
        .map(|i| slurm.join(format!("shard-{i}")).display().to_string())
        .collect();
    let merge_line = format!(
        "exec {} --quiet experiment merge {} --out {}",
        program.display(),
        shard_dirs.join(" "),
        root.join("merged").display()
    );
    assert!(
        merge_job.contains(&merge_line),
        "{merge_job}\nlacks\n{merge_line}"
    );
    let array_submit = format!(
        "array=$(sbatch --parsable \"$@\" {}/sweep.sbatch)",
        slurm.display()
    );
    let merge_submit = format!(
        "merge=$(sbatch --parsable \"$@\" --dependency=afterok:\"$array\" {}/merge.sbatch)",
        slurm.display()
    );
    let (a, m) = (submit.find(&array_submit), submit.find(&merge_submit));
    assert!(a.is_some() && m.is_some() && a < m, "{submit}");

    // Run as Slurm would (each task with its SLURM_ARRAY_TASK_ID, then the merge), but
    // from another folder: the scripts depend on no current directory but their own.
    let elsewhere = tempfile::tempdir().unwrap();
    for i in 0..4 {
        let status = Command::new("bash")
            .arg(slurm.join("sweep.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", i.to_string())
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "task {i}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let status = Command::new("bash")
        .arg(slurm.join("merge.sbatch"))
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "merge job: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    ok(&["experiment", "shards.json", "--out", "full"], cwd);
    assert_same_outputs(&cwd.join("full"), &cwd.join("merged"));

    // Without its task id, the array script refuses to run.
    let alone = Command::new("bash")
        .arg(slurm.join("sweep.sbatch"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert!(!alone.status.success());
    assert!(String::from_utf8_lossy(&alone.stderr).contains("submit this script with sbatch"));
}

/// A spec with figures over time and a dynamic overlay: its buckets travel with the shards.
const OVER_TIME_SPEC: &str = r#"{
  "name": "over-time",
  "topologies": ["regular:n=60,d=4"],
  "strategies": ["flood"],
  "ttls": [4],
  "seeds": [1, 2],
  "workload": { "files": 6, "placement": {"kind": "replicas", "per_file": 2},
                "popularity": {"kind": "uniform"}, "queries": 20,
                "arrival": {"kind": "fixed", "every_ms": 500} },
  "sim": { "latency_ms": 5, "settle_ms": 1000, "remove_at_ms": 3000,
           "overlay": {"mode": "static", "min_degree": 3, "max_degree": 6} },
  "sweep": { "remove_fraction": [0, 0.3], "overlay": ["static", "dynamic"] },
  "over_time": { "bucket_secs": 2 }
}"#;

#[test]
fn figures_over_time_survive_sharding_byte_for_byte() {
    let (dir, _) = workspace();
    let cwd = dir.path();
    std::fs::write(cwd.join("over-time.json"), OVER_TIME_SPEC).unwrap();
    ok(&["experiment", "over-time.json", "--out", "full"], cwd);
    assert!(cwd.join("full/over_time.csv").is_file());
    let shards = run_shards("over-time.json", cwd, 3);
    let out = merge(&shards, "merged", cwd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_outputs_with(&cwd.join("full"), &cwd.join("merged"), "over_time.svg");
    // A shard whose figures over time are gone is refused, not merged without them.
    std::fs::remove_file(cwd.join(&shards[0]).join("over_time.json")).unwrap();
    let out = merge(&shards, "merged-again", cwd);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("over_time.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
