//! `examples/slurm/submit.sh` on a real single-node Slurm cluster: a job array of shards, then
//! the dependent job that finishes the sweep and writes the report, give the serial sweep's
//! rows; so does an array numbered from 1, submitted by hand (issue 21). The set-up starts
//! munged, slurmctld and slurmd directly (no systemd), as root, with a minimal `slurm.conf` in a
//! temporary folder, and stops them by their pids; where that cannot run (not root, Debian's
//! `slurm-wlm` and `munge` not installed, daemons that do not start) the test says SKIPPED and
//! why.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::s;
use serde_json::Value;

const DAEMONS: [&str; 3] = ["slurmd", "slurmctld", "munged"];

/// A single-node cluster in `dir`, stopped when dropped.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd; `Err` says why they cannot run here.
    fn start(dir: &Path) -> Result<Self, String> {
        let uid = Command::new("id").arg("-u").output().map_err(|e| format!("id -u: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("the daemons are started as root, and this is not root".into());
        }
        for tool in ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo"] {
            if !Command::new("sh").args(["-c", &format!("command -v {tool}")]).stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
                return Err(format!("{tool} is not installed (apt-get install slurm-wlm munge)"));
            }
        }
        let cluster = Cluster { dir: dir.to_path_buf() };
        let host =
            String::from_utf8_lossy(&Command::new("hostname").arg("-s").output().map_err(|e| e.to_string())?.stdout).trim().to_string();
        let port = || std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string());
        let (ctld_port, d_port) = (port()?, port()?);
        let d = s(dir);
        for sub in ["state", "spool"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let conf = format!(
            "ClusterName=bilens\nSlurmctldHost={host}\nAuthType=auth/munge\nAuthInfo=socket={d}/munge.sock\nCredType=cred/munge\n\
             SlurmUser=root\nSlurmdUser=root\nSlurmctldPort={ctld_port}\nSlurmdPort={d_port}\nStateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd.log\nProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
             JobCompType=jobcomp/none\nMpiDefault=none\nSchedulerType=sched/builtin\nSelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\nReturnToService=2\nNodeName={host} CPUs={cpus} State=UNKNOWN\n\
             PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n"
        );
        std::fs::write(dir.join("slurm.conf"), conf).map_err(|e| e.to_string())?;
        let key = format!("{d}/munge.key");
        let munged = [
            "-f".to_string(),
            format!("--socket={d}/munge.sock"),
            format!("--key-file={key}"),
            format!("--log-file={d}/munged.log"),
            format!("--pid-file={d}/munged.pid"),
            format!("--seed-file={d}/munged.seed"),
        ];
        let steps: [(&str, Vec<String>); 4] = [
            ("mungekey", vec!["-c".into(), "-f".into(), "-k".into(), key.clone()]),
            ("munged", munged.to_vec()),
            ("slurmctld", vec!["-i".into()]),
            ("slurmd", Vec::new()),
        ];
        for (tool, args) in steps {
            let out = cluster.command(tool).args(&args).output().map_err(|e| format!("{tool}: {e}"))?;
            if !out.status.success() {
                return Err(format!("{tool} did not start: {}", String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
        let start = Instant::now();
        loop {
            let state =
                cluster.command("sinfo").args(["-h", "-o", "%t"]).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
            if state.as_deref().is_ok_and(|s| s == "idle") {
                return Ok(cluster);
            }
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(dir.join("slurmd.log")).unwrap_or_default();
                return Err(format!("the node is not idle after 60 s ({state:?}); slurmd.log ends:\n{}", tail(&log)));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `tool` with this cluster's configuration.
    fn command(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.env("SLURM_CONF", self.dir.join("slurm.conf")).current_dir(&self.dir);
        c
    }

    /// Waits until none of `jobs` is queued or running.
    fn wait(&self, jobs: &[&str]) {
        let start = Instant::now();
        loop {
            let queued = self.command("squeue").args(["-h", "-j", &jobs.join(",")]).output().unwrap();
            if String::from_utf8_lossy(&queued.stdout).trim().is_empty() {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(600), "jobs still queued:\n{}", String::from_utf8_lossy(&queued.stdout));
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    /// Stops the daemons and waits (up to 10 s) until they have exited: they write files as
    /// they exit (munged its seed), which would otherwise outlive the scratch folder's removal.
    fn drop(&mut self) {
        let pids: Vec<String> = DAEMONS
            .iter()
            .filter_map(|daemon| std::fs::read_to_string(self.dir.join(format!("{daemon}.pid"))).ok())
            .map(|pid| pid.trim().to_string())
            .collect();
        for pid in &pids {
            let _ = Command::new("kill").arg(pid).status();
        }
        let start = Instant::now();
        while pids.iter().any(|pid| running(pid)) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether process `pid` is still running (a zombie has exited).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

fn rows(out: &Path) -> Vec<Value> {
    let mut rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for row in &mut rows {
        row.as_object_mut().unwrap().retain(|k, _| !k.contains("seconds"));
    }
    rows
}

#[test]
fn a_slurm_array_of_shards_then_the_finishing_job_give_the_serial_rows() {
    let root = common::temp_dir("slurm");
    let cluster = match Cluster::start(&root) {
        Ok(c) => c,
        Err(why) => return common::skip("slurm", &why),
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tiny = repo.join("examples/sweeps/tiny.toml");
    let bilens = env!("CARGO_BIN_EXE_bilens");
    // The shards run on one thread each (shard.sbatch), the serial sweep too.
    let serial = root.join("serial");
    let done = Command::new(bilens).args(["--threads", "1", "sweep", s(&tiny), "--out", s(&serial)]).output().unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));

    // submit.sh numbers its array from 0; an array numbered from 1, submitted by hand, works too.
    let out = root.join("sharded");
    let submitted =
        cluster.command(s(&repo.join("examples/slurm/submit.sh"))).args([s(&tiny), s(&out), "3"]).env("BILENS", bilens).output().unwrap();
    let ids = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    assert!(submitted.status.success(), "{ids}\n{}", String::from_utf8_lossy(&submitted.stderr));
    let mut jobs: Vec<String> = ids.split_whitespace().map(str::to_string).collect();
    assert_eq!(jobs.len(), 2, "{ids}");
    let from_one = root.join("from_one");
    let sbatch = |args: &[&str]| {
        let done = cluster.command("sbatch").arg("--parsable").args(args).env("BILENS", bilens).output().unwrap();
        assert!(done.status.success(), "sbatch {args:?}: {}", String::from_utf8_lossy(&done.stderr));
        String::from_utf8_lossy(&done.stdout).trim().split(';').next().unwrap().to_string()
    };
    let array = sbatch(&["--array=1-2", s(&repo.join("examples/slurm/shard.sbatch")), s(&tiny), s(&from_one)]);
    let finish = sbatch(&[&format!("--dependency=afterok:{array}"), s(&repo.join("examples/slurm/finish.sbatch")), s(&tiny), s(&from_one)]);
    jobs.extend([array, finish]);
    cluster.wait(&jobs.iter().map(String::as_str).collect::<Vec<_>>());
    let logs: String = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("bilens-"))
        .map(|e| format!("== {}\n{}", e.file_name().to_string_lossy(), std::fs::read_to_string(e.path()).unwrap_or_default()))
        .collect();
    for out in [&out, &from_one] {
        assert!(out.join("report.html").exists(), "the finishing job wrote no report in {}; job logs:\n{logs}", out.display());
        assert_eq!(rows(out), rows(&serial), "{}", out.display());
    }
    assert_eq!(logs.matches("training the base model").count(), 2, "once per folder:\n{logs}");
}
