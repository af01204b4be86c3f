//! A sweep split into shards that run at the same time in one folder (a job array) gives the
//! serial sweep's rows, with the base model trained once, even when a shard is killed with
//! SIGKILL mid-run and rerun, and when it finds a stale lock of a dead process (issue 21).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::s;
use serde_json::Value;

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweeps/tiny.toml")
}

/// `bilens sweep tiny.toml --out OUT EXTRA…`, on two threads (the base model's weights depend
/// on the thread count, so every process uses the same).
fn sweep(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bilens"));
    c.args(["--threads", "2", "sweep", s(&tiny()), "--out", s(out)]).args(extra).stdout(Stdio::null());
    c
}

/// Waits for `child` and returns its stderr, failing the test when it failed.
fn finish(child: Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed:\n{stderr}");
    stderr
}

fn run(command: &mut Command, what: &str) -> String {
    finish(command.stderr(Stdio::piped()).spawn().unwrap(), what)
}

/// The rows of `results.json`, without timing columns.
fn rows(out: &Path) -> Vec<Value> {
    let mut rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for row in &mut rows {
        row.as_object_mut().unwrap().retain(|k, _| !k.contains("seconds"));
    }
    rows
}

/// The serial sweep's rows, made once for every test here.
fn serial() -> &'static [Value] {
    static ROWS: OnceLock<Vec<Value>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let out = common::temp_dir("shards-serial");
        run(&mut sweep(&out, &[]), "the serial sweep");
        rows(&out)
    })
}

/// Lock files left anywhere in `out`.
fn locks(out: &Path) -> Vec<PathBuf> {
    [out.to_path_buf(), out.join("runs")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()))
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".lock") && !p.ends_with(".bilens.lock"))
        .collect()
}

#[test]
fn concurrent_shards_give_the_serial_rows() {
    let serial = serial();
    assert_eq!(serial.len(), 9);
    for count in [2, 3] {
        let out = common::temp_dir(&format!("shards-{count}"));
        let shards: Vec<Child> =
            (0..count).map(|i| sweep(&out, &["--shard", &format!("{i}/{count}")]).stderr(Stdio::piped()).spawn().unwrap()).collect();
        let logs: Vec<String> = shards.into_iter().map(|c| finish(c, "a shard")).collect();
        let trained = logs.iter().filter(|l| l.contains("training the base model")).count();
        assert_eq!(trained, 1, "the base model is trained by one shard, and reused by the others:\n{}", logs.join("\n---\n"));
        assert!(!out.join("results.json").exists(), "shards leave the results table to the finishing sweep");
        let log = run(&mut sweep(&out, &[]), "the finishing sweep");
        assert!(log.contains("9 runs, 9 already finished"), "{log}");
        assert_eq!(rows(&out), serial, "{count} shards");
        assert!(out.join("analysis/frontier_tensor_cosine_vs_displayed_cosine.png").exists());
        assert!(locks(&out).is_empty(), "{:?}", locks(&out));
    }
}

#[test]
fn a_killed_shard_rerun_loses_nothing_and_recovers_stale_locks() {
    let serial = serial();
    let out = common::temp_dir("shards-kill");
    let list = Command::new(env!("CARGO_BIN_EXE_bilens")).args(["sweep", s(&tiny()), "--list"]).output().unwrap();
    let ids: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(ids.len(), 9, "{ids:?}");
    let first: Vec<&String> = ids.iter().step_by(2).collect(); // shard 0 of 2
    let done = |out: &Path| first.iter().filter(|id| out.join("runs").join(id).join("run.json").exists()).count();

    let other = sweep(&out, &["--shard", "1/2"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut killed = sweep(&out, &["--shard", "0/2"]).stderr(Stdio::null()).spawn().unwrap();
    while done(&out) == 0 {
        assert!(killed.try_wait().unwrap().is_none(), "shard 0/2 ended before its first run finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let at_kill = done(&out);
    assert!((1..first.len()).contains(&at_kill), "the kill should land mid-shard ({at_kill} of {} finished)", first.len());
    finish(other, "shard 1/2");

    // An unfinished run of the killed shard locked by a dead process of this host, as a kill
    // mid-run leaves it: recovered at once.
    let unfinished = first.iter().find(|id| !out.join("runs").join(id).join("run.json").exists()).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string());
    if let Ok(host) = host {
        let lock = out.join("runs").join(format!(".{unfinished}.lock"));
        std::fs::write(&lock, format!("host={host} pid={} since=0", killed.id())).unwrap();
    } else {
        common::skip("procfs", "no /proc/sys/kernel/hostname: the planted stale lock is left out");
    }
    let log = run(&mut sweep(&out, &["--shard", "0/2"]), "the rerun shard");
    assert!(log.contains(&format!("{} already finished", at_kill)), "finished runs are not redone:\n{log}");
    run(&mut sweep(&out, &[]), "the finishing sweep");
    assert_eq!(rows(&out), serial);
    assert!(locks(&out).is_empty(), "{:?}", locks(&out));
}

#[test]
fn shards_and_the_whole_sweep_do_not_share_a_folder_at_once() {
    let out = common::temp_dir("shards-exclusive");
    std::fs::create_dir_all(&out).unwrap();
    let held = bilens::pipeline::FolderLock::acquire(&out).unwrap();
    let refused = sweep(&out, &["--shard", "0/2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("in use by another bilens process"), "{stderr}");
    drop(held);
    let _shard = bilens::pipeline::FolderLock::share(&out).unwrap();
    let refused = sweep(&out, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("in use by another bilens process (shards of a sweep)"), "{stderr}");
}
