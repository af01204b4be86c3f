//! Stage locks that hold across hosts on a shared folder, NFS included (where `flock` may not
//! reach): a lock is a file created atomically (`create_new`, i.e. `O_EXCL`) that names its
//! holder's host and process, kept fresh by a heartbeat and removed when released.
//!
//! **The stale-lock rule.** A lock is stale — and the next process that wants it removes it
//! and takes it — when
//! - its holder ran on this host and its process is gone (or a zombie), or
//! - its heartbeat (the file's modification time, renewed every [`HEARTBEAT`]) is older than
//!   [`STALE_AFTER`]: a holder on another host that was killed, or whose host died.
//!
//! Deleting a lock file by hand releases it at once; do it only when its holder is known dead
//! (a whole node lost, say, when waiting [`STALE_AFTER`] is not wanted). Hosts are told apart by
//! their host name, so hosts that share a folder need distinct names, and their clocks (and the
//! file server's) must agree to well within [`STALE_AFTER`], as NTP keeps them.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// How often a held lock's modification time is renewed.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// A lock whose heartbeat is older than this is stale, whichever host holds it (20 heartbeats:
/// a holder stalled that long by a busy file server is still very unlikely to be taken for dead).
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// How often a waiting process looks at the lock again.
const POLL: Duration = Duration::from_millis(100);

/// A held lock file; released (removed) when dropped. A process killed while holding it
/// leaves the file behind, stale by the rule above.
pub struct StageLock {
    path: PathBuf,
    holder: String,
    heartbeat: Option<(Sender<()>, JoinHandle<()>)>,
}

impl StageLock {
    /// Takes the lock at `path`, waiting while a live holder has it; `waiting` is told once
    /// whom it waits for.
    pub fn acquire(path: &Path, waiting: &dyn Fn(&str)) -> Result<Self> {
        let mut told = false;
        loop {
            if let Some(lock) = Self::try_acquire(path)? {
                return Ok(lock);
            }
            if !told {
                let holder = std::fs::read_to_string(path).unwrap_or_default();
                waiting(&format!("waiting for {} (held by {})", path.display(), holder.trim()));
                told = true;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Takes the lock at `path` if it is free or stale; `None` while a live holder has it.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let holder = format!("host={} pid={} since={}", host(), std::process::id(), unix_millis(SystemTime::now()));
        for _ in 0..2 {
            match File::options().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    file.write_all(holder.as_bytes())
                        .and_then(|()| file.sync_all())
                        .with_context(|| format!("writing {}", path.display()))?;
                    let heartbeat = Some(start_heartbeat(path.to_path_buf(), holder.clone()));
                    return Ok(Some(Self { path: path.to_path_buf(), holder, heartbeat }));
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("cannot create the lock {}", path.display())),
            }
            match std::fs::read_to_string(path) {
                Ok(seen) if is_stale(path, &seen) => recover(path, &seen)?,
                Err(e) if e.kind() == ErrorKind::NotFound => {} // released meanwhile: try again
                _ => return Ok(None),
            }
        }
        Ok(None)
    }
}

impl Drop for StageLock {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.heartbeat.take() {
            drop(stop);
            let _ = thread.join();
        }
        // Removed only while it is still ours (not recovered by another process meanwhile).
        if std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.holder) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Renews the lock's modification time every [`HEARTBEAT`] until the sender is dropped.
fn start_heartbeat(path: PathBuf, holder: String) -> (Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = channel::<()>();
    let thread = std::thread::spawn(move || {
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
            if std::fs::read_to_string(&path).is_ok_and(|t| t == holder)
                && let Ok(file) = File::options().write(true).open(&path)
            {
                let _ = file.set_modified(SystemTime::now());
            }
        }
    });
    (stop, thread)
}

/// Whether the lock at `path`, whose text is `seen`, is stale by the rule in the module docs.
fn is_stale(path: &Path, seen: &str) -> bool {
    let age = std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| SystemTime::now().duration_since(t).ok());
    if age.is_some_and(|a| a > STALE_AFTER) {
        return true;
    }
    let field = |key: &str| seen.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='));
    match (field("host"), field("pid").and_then(|p| p.parse::<u32>().ok())) {
        (Some(h), Some(pid)) if h == host() => !process_alive(pid),
        _ => false, // another host's, or not written yet: only its age tells
    }
}

/// Removes the stale lock at `path` (whose text was `seen`). It is first renamed aside, an
/// atomic step only one process wins; if what was renamed is not the lock judged stale (it was
/// recovered and retaken meanwhile), it is put back.
fn recover(path: &Path, seen: &str) -> Result<()> {
    let aside = path.with_extension(format!("stale-{}-{}", std::process::id(), unix_millis(SystemTime::now())));
    match std::fs::rename(path, &aside) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        other => other.with_context(|| format!("cannot remove the stale lock {}", path.display()))?,
    }
    if std::fs::read_to_string(&aside).is_ok_and(|t| t != seen) {
        let _ = std::fs::hard_link(&aside, path); // fails, harmlessly, if the lock was taken again
    }
    std::fs::remove_file(&aside).with_context(|| format!("cannot remove {}", aside.display()))
}

/// This host's name (Linux's, or `$HOSTNAME`).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` of this host runs (Linux's `/proc`; elsewhere assumed alive, so only
/// the age rule applies).
fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: Z (zombie) and X (dead) are gone.
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
        Err(_) => false,
    }
}

fn unix_millis(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        // In a folder not yet made: acquiring makes it.
        let scratch = Scratch::new("lock-held");
        let path = scratch.join("held").join("stage.lock");
        let lock = StageLock::try_acquire(&path).unwrap().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&format!("host={}", host())) && text.contains(&format!("pid={}", std::process::id())), "{text}");
        assert!(StageLock::try_acquire(&path).unwrap().is_none(), "a live holder's lock is not taken");
        drop(lock);
        assert!(!path.exists());
        assert!(StageLock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn stale_locks_are_recovered() {
        let dir = Scratch::new("lock-stale");
        // This host, a process that is gone: stale at once.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let path = dir.join("dead.lock");
        std::fs::write(&path, format!("host={} pid={dead} since=0", host())).unwrap();
        let _recovered = StageLock::try_acquire(&path).unwrap().expect("a dead process's lock is recovered");
        // Another host: live until its heartbeat is older than STALE_AFTER.
        let path = dir.join("remote.lock");
        std::fs::write(&path, "host=elsewhere-node pid=1 since=0").unwrap();
        assert!(StageLock::try_acquire(&path).unwrap().is_none());
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(5);
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        let lock = StageLock::try_acquire(&path).unwrap().expect("an old heartbeat is stale");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lock.holder);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "the two held locks, nothing left aside");
    }
}
