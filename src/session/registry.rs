//! The global registry of running sessions, so that [`terminate_all`] can
//! end every session's process group when litprog is interrupted.
//!
//! Each waiter thread marks its session's leader as exited and notifies a
//! condition variable; `terminate_all` waits on it for the grace period
//! instead of polling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::sys::{self, GroupSignal};

/// How long a process group gets between SIGTERM and SIGKILL.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(1);

struct Entry {
    id: u64,
    pgid: i32,
    exited: bool,
}

struct Registry {
    next_id: u64,
    entries: Vec<Entry>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next_id: 0,
    entries: Vec::new(),
});
static EXITED: Condvar = Condvar::new();
/// Set by [`terminate_all`]: a session registered afterwards (one that was
/// starting while litprog was interrupted) is killed at once.
static TERMINATING: AtomicBool = AtomicBool::new(false);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Records a running process group; returns the id to refer to it by.
pub(crate) fn register(pgid: i32) -> u64 {
    let mut reg = registry();
    // Read under the lock that terminate_all takes after setting the flag:
    // either this group is in its snapshot, or the flag is seen here.
    if TERMINATING.load(Ordering::SeqCst) {
        sys::signal_group(pgid, GroupSignal::Kill);
    }
    reg.next_id += 1;
    let id = reg.next_id;
    reg.entries.push(Entry {
        id,
        pgid,
        exited: false,
    });
    id
}

/// Records that the group's leader has exited (its group may live on).
pub(crate) fn mark_exited(id: u64) {
    let mut reg = registry();
    if let Some(entry) = reg.entries.iter_mut().find(|e| e.id == id) {
        entry.exited = true;
    }
    EXITED.notify_all();
}

/// Forgets a session whose group has been cleaned up.
pub(crate) fn unregister(id: u64) {
    registry().entries.retain(|e| e.id != id);
    EXITED.notify_all();
}

/// Has [`terminate_all`] been called? It is final for the process.
pub fn terminating() -> bool {
    TERMINATING.load(Ordering::SeqCst)
}

/// Terminates the process group of every running session: SIGTERM, up to
/// [`TERMINATION_GRACE`] for the leaders to exit, then SIGKILL.
///
/// Meant for the CLI's SIGINT/SIGTERM handler thread: it is final, and any
/// session started afterwards is killed as soon as it starts. The sessions' own
/// [`wait`](super::Session::wait) calls then return with the processes'
/// outcomes (usually `Signaled`).
pub fn terminate_all() {
    TERMINATING.store(true, Ordering::SeqCst);
    let targets: Vec<(u64, i32)> = registry().entries.iter().map(|e| (e.id, e.pgid)).collect();
    if targets.is_empty() {
        return;
    }
    log::debug!("terminating {} session(s)", targets.len());
    for &(_, pgid) in &targets {
        sys::signal_group(pgid, GroupSignal::Terminate);
    }
    let deadline = Instant::now() + TERMINATION_GRACE;
    let mut reg = registry();
    loop {
        let alive = targets
            .iter()
            .any(|&(id, _)| reg.entries.iter().any(|e| e.id == id && !e.exited));
        let left = deadline.saturating_duration_since(Instant::now());
        if !alive || left.is_zero() {
            break;
        }
        reg = EXITED
            .wait_timeout(reg, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    // Registered groups are still ours: their sessions unregister only after
    // cleaning up, so no pgid here can have been reused yet.
    for &(id, pgid) in &targets {
        if reg.entries.iter().any(|e| e.id == id) {
            sys::signal_group(pgid, GroupSignal::Kill);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Outcome, Session, SessionOptions};

    // The only unit test that starts processes, so terminating "all" sessions
    // cannot disturb another test of this binary.
    #[test]
    fn terminate_all_ends_a_session_that_ignores_sigterm() {
        let opts = SessionOptions::new(vec!["bash".into()]);
        let mut session = Session::start(opts).unwrap();
        session.send("trap '' TERM\necho ready\nwhile :; do :; done\n");
        let started = Instant::now();
        terminate_all();
        let capture = session.wait(Duration::from_secs(60));
        assert!(
            matches!(&capture.outcome, Outcome::Signaled { name, .. } if name == "SIGKILL" || name == "SIGTERM"),
            "{:?}",
            capture.outcome
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}
