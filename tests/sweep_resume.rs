//! A sweep killed with SIGKILL mid-run and restarted finishes with every configuration
//! present exactly once in its results table (issue: resumable sweeps).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn finished(out: &Path) -> usize {
    std::fs::read_dir(out.join("runs")).map(|d| d.flatten().filter(|e| e.path().join("run.json").exists()).count()).unwrap_or(0)
}

#[test]
fn killed_sweep_resumes_without_losing_or_duplicating_runs() {
    // Lives to the end of the test: the killed and the resumed sweep both write into it.
    let dir = common::temp_dir("sweep-kill");
    let file = dir.join("sweep.toml");
    // Runs go one at a time (one thread), longest first: five of a thousand steps each, then a
    // short one, so that the kill right after the first finishes lands mid-sweep on any machine.
    std::fs::write(
        &file,
        "[base]\nepochs = 1\n\
         [[grid]]\npresets = [\"provided_sparse\"]\nset = { steps = 20, rank = 8 }\n\
         [[grid]]\npresets = [\"provided_sparse\"]\nseeds = [0, 1, 2, 3, 4]\nset = { steps = 1000, rank = 16 }\n",
    )
    .unwrap();
    let out = dir.join("out");
    let bilens = env!("CARGO_BIN_EXE_bilens");
    let sweep = || {
        let mut c = Command::new(bilens);
        c.args(["--threads", "1", "sweep"]).arg(&file).arg("--out").arg(&out);
        c
    };

    let mut child = sweep().spawn().unwrap();
    while finished(&out) == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended before its first run finished");
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
    let mut expected = vec!["provided_sparse__rank=8__steps=20__seed=0".to_string()];
    expected.extend((0..5).map(|seed| format!("provided_sparse__rank=16__steps=1000__seed={seed}")));
    for id in &expected {
        assert_eq!(ids.iter().filter(|&&i| i == id).count(), 1, "{id} in\n{table}");
    }
    // A resumed sweep does not redo the runs that finished before the kill.
    let json: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json.len(), 6);
}
