//! Stopping long work from outside the thread that runs it. Python's Ctrl-C handler runs only
//! on the interpreter's main thread, which waits while bilens works, so the bindings turn a
//! Ctrl-C into a [`request`] here; training batches, fitting steps and sweep runs [`check`] it
//! and end with [`Error::Interrupted`]. Like the signal it stands for, it is process-wide.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Error;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks all running bilens work of this process to stop at its next check.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Withdraws the request, once the work it stopped has ended.
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// `Err(Error::Interrupted)` when a stop was requested.
pub fn check() -> Result<(), Error> {
    match REQUESTED.load(Ordering::SeqCst) {
        true => Err(Error::Interrupted),
        false => Ok(()),
    }
}
