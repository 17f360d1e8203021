//! Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT end the build.
//!
//! The first signal cancels the build's [`Cancel`] handle: every running
//! session's process group is terminated, no new session starts, and no
//! further document is written, so the build winds up on its own and says
//! what it wrote. If it has not ended [`EXIT_DEADLINE`] after its sessions
//! did (it may be busy in a phase that does not look at the handle, such
//! as parsing), or on a second signal, even while sessions are still being
//! ended, the process exits at once with status 130 — but never in the
//! middle of writing a file ([`files::hold_writes`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use super::{INTERRUPTED_STATUS, report};
use crate::files;
use crate::session::Cancel;

/// How long the build gets to end on its own after the first signal.
const EXIT_DEADLINE: Duration = Duration::from_millis(500);

/// The CLI's side of the interrupt handling: which documents were rewritten
/// so far, for the message of an exit that does not wait for the build.
#[derive(Default)]
pub struct Interrupts {
    rewritten: Arc<Mutex<Vec<PathBuf>>>,
}

impl Interrupts {
    /// Records a rewritten document.
    pub fn rewritten(&self, path: &Path) {
        self.rewritten
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_path_buf());
    }
}

/// Installs the handler for the build that `cancel` ends, and a panic hook
/// that ends the build's sessions before the panic is reported: an internal
/// failure on any thread leaves no session running.
pub fn install(cancel: Cancel) -> Interrupts {
    let on_panic = cancel.clone();
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        on_panic.cancel();
        super::status::clear();
        report(info);
    }));
    let interrupts = Interrupts::default();
    let rewritten = Arc::clone(&interrupts.rewritten);
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]);
    let Ok(mut signals) = signals else {
        log::warn!("cannot install signal handlers; interrupted sessions may outlive litprog");
        return interrupts;
    };
    // One thread until a signal comes: the deadline's thread starts only then.
    let spawned = std::thread::Builder::new()
        .name("litprog-signals".into())
        .spawn(move || handle(signals.forever(), &cancel, rewritten));
    if let Err(e) = spawned {
        log::warn!(
            "cannot start the signal handler ({e}); interrupted sessions may outlive litprog"
        );
    }
    interrupts
}

fn handle(
    mut signals: impl Iterator<Item = i32>,
    cancel: &Cancel,
    rewritten: Arc<Mutex<Vec<PathBuf>>>,
) {
    let Some(signal) = signals.next() else { return };
    let name = signal_hook::low_level::signal_name(signal).unwrap_or("signal");
    // Ending the sessions can take their whole grace period (a session
    // that ignores SIGTERM is killed a second later), and a second signal
    // must not wait for it: the sessions are ended on a thread of their
    // own, which then gives the build its deadline, while this one waits
    // for the second signal. `cancel` marks the handle first, so from then
    // on no document is written.
    let end_sessions = move |cancel: &Cancel| {
        cancel.cancel();
        log::error!("interrupted ({name}): running sessions terminated");
    };
    let ender = {
        let (cancel, late) = (cancel.clone(), Arc::clone(&rewritten));
        std::thread::Builder::new()
            .name("litprog-deadline".into())
            .spawn(move || {
                end_sessions(&cancel);
                std::thread::sleep(EXIT_DEADLINE);
                exit_interrupted(&late);
            })
    };
    if let Err(e) = ender {
        log::warn!("cannot start the exit deadline ({e}); a second signal ends litprog");
        end_sessions(cancel);
    }
    signals.next();
    // Sessions still in their grace are killed now, not orphaned.
    cancel.kill();
    exit_interrupted(&rewritten);
}

/// Says which documents were rewritten and exits with status 130, never in
/// the middle of writing a file; only the first caller gets that far.
fn exit_interrupted(rewritten: &Mutex<Vec<PathBuf>>) -> ! {
    static EXITING: Mutex<()> = Mutex::new(());
    // Held until the process ends: a second caller waits here for it.
    let _exiting = EXITING.lock().unwrap_or_else(PoisonError::into_inner);
    let _writes = files::hold_writes();
    super::status::clear();
    let rewritten = rewritten.lock().unwrap_or_else(PoisonError::into_inner);
    log::error!("{}", report::interrupted_message(&rewritten));
    std::process::exit(i32::from(INTERRUPTED_STATUS));
}
