//! A sweep killed with SIGKILL mid-run and restarted finishes with every configuration
//! present exactly once in its results table (issue: resumable sweeps).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn finished(out: &Path) -> usize {
    std::fs::read_dir(out.join("runs")).map(|d| d.flatten().filter(|e| e.path().join("run.json").exists()).count()).unwrap_or(0)
}

#[test]
fn killed_sweep_resumes_without_losing_or_duplicating_runs() {
    let dir = std::env::temp_dir().join(format!("bilens-sweep-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        "[base]\nepochs = 1\n[[grid]]\npresets = [\"provided_sparse\"]\nseeds = [0, 1, 2]\nset = { steps = 400, rank = [24, 32] }\n",
    )
    .unwrap();
    let out = dir.join("out");
    let bilens = env!("CARGO_BIN_EXE_bilens");
    let sweep = || {
        let mut c = Command::new(bilens);
        c.args(["--threads", "2", "sweep"]).arg(&file).arg("--out").arg(&out);
        c
    };

    let mut child = sweep().spawn().unwrap();
    let start = Instant::now();
    while finished(&out) == 0 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = finished(&out);
    assert!((1..6).contains(&at_kill), "the kill should land mid-sweep ({at_kill} of 6 finished)");

    let status = sweep().status().unwrap();
    assert!(status.success());
    let table = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let ids: Vec<&str> = table.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids.len(), 6, "{table}");
    for rank in [24, 32] {
        for seed in 0..3 {
            let id = format!("provided_sparse__rank={rank}__steps=400__seed={seed}");
            assert_eq!(ids.iter().filter(|&&i| i == id).count(), 1, "{id} in\n{table}");
        }
    }
    // A resumed sweep does not redo the runs that finished before the kill.
    let json: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json.len(), 6);
    std::fs::remove_dir_all(&dir).ok();
}
