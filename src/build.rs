//! `build` and `check`: load, tangle, run sessions, write results back.
//!
//! Every document problem is found before anything is written or run: the
//! documents are parsed and grouped, out_files tangled in memory and the
//! session plan resolved first. Then files are written, sessions run, and
//! each document's new text is computed once and written atomically (or,
//! for `check`, compared).

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
    /// The build was interrupted; documents were not rewritten.
    pub interrupted: bool,
}

impl BuildReport {
    /// True when every session succeeded and nothing is stale or conflicting.
    pub fn success(&self) -> bool {
        !self.interrupted
            && self.conflicts.is_empty()
            && self.stale.is_empty()
            && self.sessions.iter().all(|s| s.ok)
    }
}

/// Run a build. `on_session` sees each session as it finishes.
pub fn build(
    options: &BuildOptions,
    mut on_session: impl FnMut(&Project, &SessionReport),
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
    let sessions = runner::run(&project, &plan, &options.run, |r| on_session(&project, r));
    let mut report = BuildReport {
        tangled,
        sessions,
        rewritten: Vec::new(),
        stale: Vec::new(),
        conflicts: Vec::new(),
        interrupted: runner::interrupted(),
        project,
    };
    if report.interrupted {
        return Ok(report);
    }
    for (doc_index, new_text) in new_texts(&report.project, &report.sessions) {
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
                let replaced = files::replace_if_unchanged(
                    &doc.path,
                    doc.text.as_bytes(),
                    new_text.as_bytes(),
                )
                .map_err(|e| Diagnostic::new(&doc.path, 0, format!("cannot write: {e}")))?;
                match replaced {
                    Replaced::Written => report.rewritten.push(doc.path.clone()),
                    Replaced::Changed => report.conflicts.push(doc.path.clone()),
                }
            }
        }
    }
    Ok(report)
}

/// For every document with session blocks, its text with fresh results.
///
/// One document at a time: a document's result lines are made, spliced in
/// and dropped before the next document's are made, so that memory holds
/// the result lines of one document, not of the whole build.
fn new_texts(project: &Project, sessions: &[SessionReport]) -> Vec<(usize, String)> {
    // A session that was not run keeps whatever results it had.
    let ran = |report: &&SessionReport| !matches!(report.run, runner::Run::Skipped(_));
    let docs: std::collections::BTreeSet<usize> = sessions
        .iter()
        .filter(ran)
        .flat_map(|r| project.groups[r.group].blocks.iter().map(|b| b.doc))
        .collect();
    docs.into_iter()
        .map(|d| {
            let mut wanted = Wanted::new();
            for report in sessions.iter().filter(ran) {
                let group = &project.groups[report.group];
                let Spec::Session(spec) = &group.spec else {
                    continue;
                };
                if !group.blocks.iter().any(|b| b.doc == d) {
                    continue;
                }
                for (r, lines) in runner::placements(group, spec, &report.run) {
                    if r.doc == d {
                        wanted.insert(r.block, lines);
                    }
                }
            }
            (d, writeback::rewrite(&project.documents[d], &wanted))
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
