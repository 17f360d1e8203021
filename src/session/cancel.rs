//! [`Cancel`]: a cancellation handle for a set of sessions, such as one build.
//!
//! Every session registers its process group with the handle in its
//! [`SessionOptions::cancel`](super::SessionOptions::cancel). [`Cancel::cancel`]
//! ends every group registered with that handle, and any session started
//! with it afterwards is killed as soon as it starts; other handles (the next
//! build of a `watch`, another library user) are not affected.
//!
//! Each waiter thread marks its session's leader as exited and notifies a
//! condition variable; `cancel` waits on it for the grace period instead of
//! polling.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::sys::{self, GroupSignal};

/// How long a process group gets between SIGTERM and SIGKILL.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(1);

struct Entry {
    id: u64,
    pgid: i32,
    exited: bool,
}

#[derive(Default)]
struct Groups {
    next_id: u64,
    entries: Vec<Entry>,
}

#[derive(Default)]
struct Inner {
    groups: Mutex<Groups>,
    exited: Condvar,
    /// Set by [`Cancel::cancel`]; final for this handle.
    cancelled: AtomicBool,
}

/// A cancellation handle. Clones share one state: cancel any of them and
/// every session started with one of them ends.
///
/// ```
/// use std::time::Duration;
/// use litprog::session::{Cancel, Outcome, Session, SessionOptions};
///
/// let cancel = Cancel::new();
/// let mut opts = SessionOptions::from_command("sh").unwrap();
/// opts.cancel = cancel.clone();
/// let mut session = Session::start(opts).unwrap();
/// session.send("sleep 60\n");
/// cancel.cancel();
/// let capture = session.wait(Duration::from_secs(60));
/// assert!(matches!(capture.outcome, Outcome::Signaled { .. }));
/// assert!(cancel.is_cancelled());
/// // A fresh handle is not cancelled: the next build runs normally.
/// assert!(!Cancel::new().is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct Cancel(Arc<Inner>);

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Cancel {
    /// A handle that is not cancelled.
    pub fn new() -> Self {
        Cancel::default()
    }

    fn groups(&self) -> MutexGuard<'_, Groups> {
        self.0.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Has [`Cancel::cancel`] been called on this handle (or a clone)?
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Records a running process group; returns the id to refer to it by.
    /// A group registered after [`Cancel::cancel`] is killed at once.
    pub(crate) fn register(&self, pgid: i32) -> u64 {
        let mut groups = self.groups();
        // Read under the lock that `cancel` takes after setting the flag:
        // either this group is in its snapshot, or the flag is seen here.
        if self.is_cancelled() {
            sys::signal_group(pgid, GroupSignal::Kill);
        }
        groups.next_id += 1;
        let id = groups.next_id;
        groups.entries.push(Entry {
            id,
            pgid,
            exited: false,
        });
        id
    }

    /// Records that the group's leader has exited (its group may live on).
    pub(crate) fn mark_exited(&self, id: u64) {
        let mut groups = self.groups();
        if let Some(entry) = groups.entries.iter_mut().find(|e| e.id == id) {
            entry.exited = true;
        }
        self.0.exited.notify_all();
    }

    /// Forgets a session whose group has been cleaned up.
    pub(crate) fn unregister(&self, id: u64) {
        self.groups().entries.retain(|e| e.id != id);
        self.0.exited.notify_all();
    }

    /// Kills the process group of every session registered with this
    /// handle at once (SIGKILL), without [`TERMINATION_GRACE`]: for a second
    /// interrupt, which must not wait. Final for the handle, as
    /// [`Cancel::cancel`] is, and safe beside a `cancel` still waiting out
    /// its grace (that one then finds the leaders gone).
    pub fn kill(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let groups = self.groups();
        // Registered groups are still ours (see `cancel`).
        for e in &groups.entries {
            sys::signal_group(e.pgid, GroupSignal::Kill);
        }
    }

    /// Terminates the process group of every session registered with this
    /// handle: SIGTERM, up to [`TERMINATION_GRACE`] for the leaders to exit,
    /// then SIGKILL. Returns when they are gone or killed.
    ///
    /// Final for the handle: a session started with it afterwards is killed
    /// as soon as it starts. The sessions' own
    /// [`wait`](super::Session::wait) calls then return with the processes'
    /// outcomes (usually `Signaled`). Safe to call from any thread, such as a
    /// signal-handling one, and more than once.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        let targets: Vec<(u64, i32)> = self
            .groups()
            .entries
            .iter()
            .map(|e| (e.id, e.pgid))
            .collect();
        if targets.is_empty() {
            return;
        }
        log::debug!("terminating {} session(s)", targets.len());
        for &(_, pgid) in &targets {
            sys::signal_group(pgid, GroupSignal::Terminate);
        }
        let deadline = Instant::now() + TERMINATION_GRACE;
        let mut groups = self.groups();
        loop {
            let alive = targets
                .iter()
                .any(|&(id, _)| groups.entries.iter().any(|e| e.id == id && !e.exited));
            let left = deadline.saturating_duration_since(Instant::now());
            if !alive || left.is_zero() {
                break;
            }
            groups = self
                .0
                .exited
                .wait_timeout(groups, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        // Registered groups are still ours: their sessions unregister only
        // after cleaning up, so no pgid here can have been reused yet.
        for &(id, pgid) in &targets {
            if groups.entries.iter().any(|e| e.id == id) {
                sys::signal_group(pgid, GroupSignal::Kill);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Outcome, Session, SessionOptions};

    #[test]
    fn cancel_ends_a_session_that_ignores_sigterm() {
        let cancel = Cancel::new();
        let mut opts = SessionOptions::new(vec!["bash".into()]);
        opts.cancel = cancel.clone();
        let mut session = Session::start(opts).unwrap();
        session.send("trap '' TERM\necho ready\nwhile :; do :; done\n");
        let started = Instant::now();
        cancel.cancel();
        let capture = session.wait(Duration::from_secs(60));
        assert!(
            matches!(&capture.outcome, Outcome::Signaled { name, .. } if name == "SIGKILL" || name == "SIGTERM"),
            "{:?}",
            capture.outcome
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn kill_ends_a_session_that_ignores_sigterm_without_the_grace() {
        let cancel = Cancel::new();
        // Nothing registered yet: nothing to kill, but the handle is final.
        cancel.kill();
        assert!(cancel.is_cancelled());
        let mut opts = SessionOptions::new(vec!["bash".into()]);
        let live = Cancel::new();
        opts.cancel = live.clone();
        let mut session = Session::start(opts).unwrap();
        session.send("trap '' TERM\nwhile :; do :; done\n");
        live.kill();
        let capture = session.wait(Duration::from_secs(60));
        assert!(
            matches!(&capture.outcome, Outcome::Signaled { name, .. } if name == "SIGKILL"),
            "{:?}",
            capture.outcome
        );
        assert!(live.is_cancelled());
    }

    #[test]
    fn cancelling_one_handle_leaves_sessions_of_another_running() {
        let first = Cancel::new();
        let second = Cancel::new();
        first.cancel();
        // Started after `first` was cancelled, but with another handle.
        let mut opts = SessionOptions::new(vec!["sh".into()]);
        opts.cancel = second.clone();
        let mut session = Session::start(opts).unwrap();
        session.send("echo alive\n");
        let capture = session.wait(Duration::from_secs(60));
        assert_eq!(capture.outcome, Outcome::Exited(0));
        assert_eq!(capture.stdout(), "alive\n");
        assert!(!second.is_cancelled());

        // And a session started with the cancelled handle dies at once.
        let mut opts = SessionOptions::new(vec!["sh".into()]);
        opts.cancel = first.clone();
        let mut session = Session::start(opts).unwrap();
        session.send("sleep 60\n");
        let capture = session.wait(Duration::from_secs(60));
        assert!(
            matches!(capture.outcome, Outcome::Signaled { .. }),
            "{:?}",
            capture.outcome
        );
    }
}
