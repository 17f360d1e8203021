//! `build` and `check`: load, tangle, run sessions, write results back.
//!
//! Every document problem is found before anything is written or run: the
//! documents are parsed and grouped, out_files tangled in memory and the
//! session plan resolved first. Then files are written, sessions run, and
//! each document's new text is computed once and written atomically (or,
//! for `check`, compared).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::document::Project;
use crate::error::{Diagnostic, Diagnostics};
use crate::files::{self, Replaced};
use crate::options::Spec;
use crate::plan::Plan;
use crate::runner::{self, RunOptions, SessionReport};
use crate::tangle::{self, TangledFile};
use crate::writeback::{self, Wanted};

/// Whether documents are rewritten or only compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `build`: write result blocks into the documents.
    Write,
    /// `check`: leave documents alone; report those that would change.
    Check,
}

/// What to build and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Files or directories (none: the current directory).
    pub paths: Vec<PathBuf>,
    /// Write or check.
    pub mode: Mode,
    /// Scheduling.
    pub run: RunOptions,
    /// Permit out_files outside the current directory.
    pub allow_outside: bool,
}

/// A document whose result blocks are out of date (`check`).
#[derive(Debug, Clone)]
pub struct StaleDocument {
    /// The document.
    pub path: PathBuf,
    /// Unified diff from the current text to the expected one.
    pub diff: String,
}

/// Everything a build did.
#[derive(Debug)]
pub struct BuildReport {
    /// The documents and groups.
    pub project: Project,
    /// Tangled files and whether each was (re)written.
    pub tangled: Vec<(PathBuf, bool)>,
    /// Every session, in completion order.
    pub sessions: Vec<SessionReport>,
    /// Documents rewritten (`build`).
    pub rewritten: Vec<PathBuf>,
    /// Documents that would change (`check`).
    pub stale: Vec<StaleDocument>,
    /// Documents edited on disk during the build, left as they are.
    pub conflicts: Vec<PathBuf>,
    /// Result blocks that follow no code block of their session: removed by
    /// `build`, reported by `check`.
    pub stale_results: Vec<StaleResult>,
    /// Documents that could not be written, with the reason; the others
    /// were written.
    pub write_errors: Vec<(PathBuf, io::Error)>,
    /// The build was interrupted (its [`RunOptions::cancel`] handle was
    /// cancelled): sessions were terminated, and no document was rewritten
    /// after that moment ([`BuildReport::rewritten`] lists those rewritten
    /// before it).
    pub interrupted: bool,
}

/// What a build reports while it runs, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A session finished, or was skipped.
    Session(&'a Project, &'a SessionReport),
    /// A document was rewritten with its new results.
    Rewritten(&'a Path),
}

impl BuildReport {
    /// True when every session succeeded and nothing is stale or conflicting.
    pub fn success(&self) -> bool {
        !self.interrupted
            && self.conflicts.is_empty()
            && self.write_errors.is_empty()
            && self.stale.is_empty()
            && self.sessions.iter().all(|s| s.ok)
    }
}

/// Run a build. `progress` sees each session as it finishes and each
/// document as it is rewritten.
pub fn build(
    options: &BuildOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<BuildReport, Diagnostics> {
    let project = files::load(&options.paths)?;
    // Report tangling and planning problems together.
    let (outputs, plan) = match (
        tangle::tangle(&project, options.allow_outside),
        Plan::new(&project),
    ) {
        (Ok(outputs), Ok(plan)) => (outputs, plan),
        (Err(a), Err(b)) => return Err(Diagnostics(a.0.into_iter().chain(b.0).collect())),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    check_targets(&project, &outputs, options.allow_outside)?;
    let tangled = write_tangled(&project, &outputs)?;
    let sessions = runner::run(&project, &plan, &options.run, |r| {
        progress(Progress::Session(&project, r))
    });
    let cancel = &options.run.cancel;
    // A crash cancels the build too, but it is a failure, not an interrupt.
    let crashed = sessions
        .iter()
        .any(|s| matches!(s.run, runner::Run::Crashed(_)));
    let mut report = BuildReport {
        tangled,
        sessions,
        rewritten: Vec::new(),
        stale: Vec::new(),
        conflicts: Vec::new(),
        stale_results: Vec::new(),
        write_errors: Vec::new(),
        interrupted: cancel.is_cancelled() && !crashed,
        project,
    };
    if report.interrupted || crashed {
        return Ok(report);
    }
    let stale = stale_results(&report.project);
    for (&d, blocks) in &stale {
        let doc = &report.project.documents[d];
        for &r in blocks {
            let block = &doc.blocks[r];
            report.stale_results.push(StaleResult {
                path: doc.path.clone(),
                line: block.fence.line,
                lpid: match &block.role {
                    crate::document::Role::Result { lpid } => lpid.clone(),
                    _ => String::new(),
                },
                removable: writeback::removable(doc, r),
            });
        }
    }
    for (doc_index, new_text) in new_texts(&report.project, &report.sessions, &stale) {
        let doc = &report.project.documents[doc_index];
        if new_text == doc.text {
            continue;
        }
        match options.mode {
            Mode::Check => report.stale.push(StaleDocument {
                path: doc.path.clone(),
                diff: unified_diff(&doc.path, &doc.text, &new_text),
            }),
            Mode::Write => {
                // The author (or another litprog) may have changed the file
                // while sessions ran: never overwrite that with text
                // computed from the old one.
                // After an interrupt, no further document is written; the
                // check and the record of what was written happen under the
                // lock that an immediate exit takes.
                let replaced = files::replace_if_unchanged(
                    &doc.path,
                    doc.text.as_bytes(),
                    new_text.as_bytes(),
                    || !cancel.is_cancelled(),
                    || progress(Progress::Rewritten(&doc.path)),
                );
                // One document that cannot be written (deleted, read-only
                // directory, full disk) does not keep the others from
                // getting their results.
                match replaced {
                    Ok(Replaced::Written) => report.rewritten.push(doc.path.clone()),
                    Ok(Replaced::Changed) => report.conflicts.push(doc.path.clone()),
                    Ok(Replaced::Abandoned) => {
                        report.interrupted = true;
                        break;
                    }
                    Err(e) => report.write_errors.push((doc.path.clone(), e)),
                }
            }
        }
    }
    Ok(report)
}

/// A result block that follows no code block of its session.
#[derive(Debug, Clone)]
pub struct StaleResult {
    /// The document.
    pub path: PathBuf,
    /// The line of its opening fence.
    pub line: usize,
    /// Its lpid.
    pub lpid: String,
    /// Whether it is removed (`build`) or would be (`check`). One whose
    /// fence line opens a list item is left: removing it would remove the
    /// list marker.
    pub removable: bool,
}

/// Every result block that follows no code block of its session.
fn stale_results(project: &Project) -> BTreeMap<usize, Vec<usize>> {
    let mut stale = BTreeMap::new();
    for (d, doc) in project.documents.iter().enumerate() {
        let found = writeback::stale_results(doc);
        if !found.is_empty() {
            stale.insert(d, found);
        }
    }
    stale
}

/// For every document with session blocks or stale result blocks, its text
/// with fresh results and without the stale blocks that can be removed.
fn new_texts(
    project: &Project,
    sessions: &[SessionReport],
    stale: &BTreeMap<usize, Vec<usize>>,
) -> Vec<(usize, String)> {
    let mut wanted: BTreeMap<usize, Wanted> = BTreeMap::new();
    for &d in stale.keys() {
        wanted.entry(d).or_default();
    }
    for report in sessions {
        let group = &project.groups[report.group];
        let Spec::Session(spec) = &group.spec else {
            continue;
        };
        // A session that did not run (skipped, or could not start) keeps
        // whatever results it had.
        if !report.ran() {
            continue;
        }
        for (r, lines) in runner::placements(group, spec, &report.run) {
            wanted.entry(r.doc).or_default().insert(r.block, lines);
        }
    }
    wanted
        .into_iter()
        .map(|(d, w)| {
            let doc = &project.documents[d];
            let remove: Vec<usize> = stale
                .get(&d)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&r| writeback::removable(doc, r))
                .collect();
            (d, writeback::rewrite_removing(doc, &w, &remove))
        })
        .collect()
}

fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

/// Refuse out_file targets that escape the current directory through a
/// symbolic link, or that are directories.
fn check_targets(
    project: &Project,
    outputs: &[TangledFile],
    allow_outside: bool,
) -> Result<(), Diagnostics> {
    let cwd = std::env::current_dir()
        .and_then(fs::canonicalize)
        .map_err(|e| Diagnostic::new(Path::new("."), 0, format!("cannot resolve: {e}")))?;
    let mut errors = Vec::new();
    for out in outputs {
        let group = &project.groups[out.group];
        let at = |msg: String| Diagnostic::new(&group.path, group.line, msg);
        if out.path.is_dir() {
            errors.push(at(format!(
                "out_file '{}' is a directory",
                out.path.display()
            )));
            continue;
        }
        if allow_outside {
            continue;
        }
        // The deepest part of the path that exists decides where it leads.
        let mut existing = out.path.as_path();
        while !existing.as_os_str().is_empty() && fs::symlink_metadata(existing).is_err() {
            existing = existing.parent().unwrap_or(Path::new(""));
        }
        if existing.as_os_str().is_empty() {
            continue;
        }
        match fs::canonicalize(existing) {
            Ok(real) if real.starts_with(&cwd) => {}
            Ok(real) => errors.push(at(format!(
                "out_file '{}' leads outside the current directory through a symbolic link (to {}); use --allow-outside to permit it",
                out.path.display(),
                real.display()
            ))),
            Err(e) => errors.push(at(format!(
                "out_file '{}': cannot resolve {}: {e}",
                out.path.display(),
                existing.display()
            ))),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// Write tangled files whose content changed; set executable bits.
fn write_tangled(
    project: &Project,
    outputs: &[TangledFile],
) -> Result<Vec<(PathBuf, bool)>, Diagnostics> {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for out in outputs {
        match write_one(out) {
            Ok(changed) => written.push((out.path.clone(), changed)),
            Err(e) => {
                let group = &project.groups[out.group];
                errors.push(Diagnostic::new(
                    &group.path,
                    group.line,
                    format!("cannot write out_file '{}': {e}", out.path.display()),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(written)
    } else {
        Err(Diagnostics(errors))
    }
}

fn write_one(out: &TangledFile) -> io::Result<bool> {
    let current = fs::read(&out.path).ok();
    let changed = current.as_deref() != Some(&out.contents[..]);
    if changed {
        if let Some(parent) = out.path.parent()
            && !parent.as_os_str().is_empty()
        {
            fs::create_dir_all(parent)?;
        }
        files::write_atomic(&out.path, &out.contents)?;
        if current.is_none() {
            fs::set_permissions(&out.path, fs::Permissions::from_mode(0o644))?;
        }
    }
    let mode = fs::metadata(&out.path)?.permissions().mode();
    let wanted = if out.executable {
        mode | ((mode & 0o444) >> 2)
    } else {
        mode
    };
    if wanted != mode {
        fs::set_permissions(&out.path, fs::Permissions::from_mode(wanted))?;
    }
    Ok(changed)
}
