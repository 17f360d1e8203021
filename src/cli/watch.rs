//! `litprog watch`: build, then build again on every change.
//!
//! One thread waits for everything that can happen, as messages on one
//! channel: debounced file events (the `notify` crate), the end of a build
//! (each build runs on its own thread with its own [`Cancel`] handle), and
//! signals. A relevant change during a build cancels it (its sessions are
//! terminated, no further document is written) and the next starts once it
//! has wound up; a signal cancels it and ends the watch (status 130).
//!
//! A change is relevant when it is to a document (`.md`, `.markdown`),
//! `litprog.toml`, or a file matched by a session's `files:`, and the file
//! now holds something other than what the last build read or wrote: the
//! documents and tangled files litprog writes itself are recorded as they
//! are written, so that they start no build.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

use super::{BuildArgs, MessageFormat, Reporter, Status, Ui, report};
use crate::build::{self, Mode, Progress};
use crate::config::Config;
use crate::files;
use crate::options::Spec;
use crate::session::Cancel;

/// How long the file system must be quiet before a rebuild: an editor's
/// save (a temporary file, a rename, a chmod) is one change.
const DEBOUNCE: Duration = Duration::from_millis(150);

enum Msg {
    Files(DebounceEventResult),
    Built {
        /// The `files:` globs of the project, if it could be loaded.
        globs: Option<Vec<String>>,
    },
    Signal(i32),
}

/// Content hashes by canonical path: `None` for a file that is absent.
type Known = Arc<Mutex<HashMap<PathBuf, Option<blake3::Hash>>>>;

fn content(path: &Path) -> Option<blake3::Hash> {
    fs::read(path).ok().map(|b| blake3::hash(&b))
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| {
        // Removed: its directory still resolves.
        match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) => fs::canonicalize(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
            .map(|d| d.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
            _ => path.to_path_buf(),
        }
    })
}

/// Run `litprog watch`.
pub fn watch(args: &BuildArgs, paths: &[PathBuf], config: &Config, ui: Ui) -> Status {
    let (tx, rx) = mpsc::channel::<Msg>();
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT]);
    match signals {
        Ok(mut signals) => {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    if tx.send(Msg::Signal(signal)).is_err() {
                        break;
                    }
                }
            });
        }
        Err(e) => {
            log::error!("cannot install signal handlers ({e}); not watching");
            return Status::Failure;
        }
    }
    let events = tx.clone();
    let debouncer = new_debouncer(DEBOUNCE, move |res| {
        let _ = events.send(Msg::Files(res));
    });
    let mut debouncer = match debouncer {
        Ok(d) => d,
        Err(e) => {
            log::error!("cannot watch files: {e}");
            return Status::Failure;
        }
    };
    let root = canonical(Path::new("."));
    let watched: Vec<PathBuf> = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    for path in &watched {
        if let Err(e) = debouncer
            .watcher()
            .watch(&canonical(path), RecursiveMode::Recursive)
        {
            log::error!("cannot watch {}: {e}", path.display());
            return Status::Invalid;
        }
    }
    // litprog.toml, when the documents are elsewhere.
    let _ = debouncer
        .watcher()
        .watch(&root, RecursiveMode::NonRecursive);
    let json = args.message_format == MessageFormat::Json;
    let known: Known = Arc::default();
    let mut globs: Vec<String> = Vec::new();
    let mut pending = true;
    let mut running: Option<(Cancel, Arc<AtomicBool>)> = None;
    loop {
        if pending && running.is_none() {
            pending = false;
            snapshot(&known, paths, &root, &globs);
            let cancel = Cancel::new();
            let superseded = Arc::new(AtomicBool::new(false));
            running = Some((cancel.clone(), Arc::clone(&superseded)));
            let mut options = super::build_options(
                args,
                paths.to_vec(),
                config.clone(),
                Mode::Write,
                false,
                false,
                cancel,
            );
            let (tx, known) = (tx.clone(), Arc::clone(&known));
            std::thread::spawn(move || {
                let globs = build_once(&mut options, Reporter::new(ui, json), &known, &superseded);
                let _ = tx.send(Msg::Built { globs });
            });
        }
        let Ok(msg) = rx.recv() else {
            return Status::Failure;
        };
        match msg {
            Msg::Files(Ok(events)) => {
                let changed = events
                    .iter()
                    .find(|e| relevant(&e.path, &root, &globs, &known));
                if let Some(e) = changed {
                    log::debug!("changed: {}", e.path.display());
                    pending = true;
                    if let Some((cancel, superseded)) = &running
                        && !superseded.swap(true, Ordering::SeqCst)
                    {
                        log::info!(
                            "{} changed: cancelling the build",
                            e.path.strip_prefix(&root).unwrap_or(&e.path).display()
                        );
                        cancel.cancel();
                    }
                }
            }
            Msg::Files(Err(e)) => log::warn!("watching files: {e}"),
            Msg::Built { globs: g } => {
                running = None;
                if let Some(g) = g {
                    globs = g;
                }
                if !pending {
                    log::info!("watching for changes (Ctrl-C to stop)");
                }
            }
            Msg::Signal(signal) => {
                let name = signal_hook::low_level::signal_name(signal).unwrap_or("signal");
                if let Some((cancel, superseded)) = running.take() {
                    superseded.store(true, Ordering::SeqCst);
                    cancel.cancel();
                    log::error!("interrupted ({name}): running sessions terminated");
                    // The build winds up on its own (its sessions end within
                    // the termination grace); a second signal ends it now.
                    while let Ok(msg) = rx.recv() {
                        match msg {
                            Msg::Built { .. } => break,
                            Msg::Signal(_) => {
                                super::status::clear();
                                let _writes = files::hold_writes();
                                std::process::exit(i32::from(super::INTERRUPTED_STATUS));
                            }
                            Msg::Files(_) => {}
                        }
                    }
                } else {
                    log::info!("interrupted ({name}): stopped watching");
                }
                return Status::Interrupted;
            }
        }
    }
}

/// One build, with its summary; the project's `files:` globs.
fn build_once(
    options: &mut build::BuildOptions,
    mut reporter: Reporter,
    known: &Known,
    superseded: &AtomicBool,
) -> Option<Vec<String>> {
    options.run.detail = reporter.detail();
    let json = reporter.json;
    let result = build::build(options, |progress| {
        let written = match progress {
            Progress::Rewritten(path, text) => Some((path, text.as_bytes())),
            Progress::TangledWritten(path, bytes) => Some((path, bytes)),
            _ => None,
        };
        if let Some((path, bytes)) = written {
            // Written by this build: its events start no other. (What it
            // wrote, not what the file holds now: an editor may have saved
            // since.)
            let hash = Some(blake3::hash(bytes));
            let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
            known.insert(canonical(path), hash);
        }
        reporter.show(&progress);
    });
    drop(reporter);
    match result {
        Ok(report) => {
            let globs = report
                .project
                .groups
                .iter()
                .filter_map(|g| match &g.spec {
                    Spec::Session(s) => Some(s.files.iter().cloned()),
                    _ => None,
                })
                .flatten()
                .collect();
            if report.interrupted && superseded.load(Ordering::SeqCst) {
                log::info!("build cancelled");
            } else {
                report::summary(&report, Mode::Write, super::Format::Text, json);
            }
            Some(globs)
        }
        Err(e) => {
            super::report_diagnostics(&e);
            log::error!("the documents are invalid; fix them and save again");
            None
        }
    }
}

/// Record what the next build reads: every document, litprog.toml, and the
/// files the known `files:` globs match.
fn snapshot(known: &Known, paths: &[PathBuf], root: &Path, globs: &[String]) {
    let mut found: Vec<PathBuf> = files::discover(paths).unwrap_or_default();
    found.push(root.join("litprog.toml"));
    for pattern in globs {
        if let Some(Ok(matches)) = root.join(pattern).to_str().map(glob::glob) {
            found.extend(matches.filter_map(Result::ok));
        }
    }
    let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
    for path in found {
        known.insert(canonical(&path), content(&path));
    }
}

/// Does a change at `path` call for a build?
fn relevant(path: &Path, root: &Path, globs: &[String], known: &Known) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    if rel
        .components()
        .any(|c| c.as_os_str() == crate::state::STATE_DIR)
    {
        return false;
    }
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with(".litprog-") && name.ends_with(".tmp") {
        return false;
    }
    let document = rel
        .extension()
        .is_some_and(|x| x == "md" || x == "markdown");
    let input = name == "litprog.toml" && rel.parent() == Some(Path::new(""))
        || globs
            .iter()
            .filter_map(|g| glob::Pattern::new(g).ok())
            .any(|g| g.matches_path(rel));
    if !document && !input {
        return false;
    }
    let path = canonical(path);
    let now = content(&path);
    let known = known.lock().unwrap_or_else(PoisonError::into_inner);
    known.get(&path) != Some(&now)
}
