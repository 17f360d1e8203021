//! `build` and `check`: load, tangle, run sessions, write results back.
//!
//! Every document problem is found before anything is written or run: the
//! documents are parsed and grouped, out_files tangled in memory and the
//! session plan resolved first. Then files are written, sessions run, and
//! each document's new text is computed once and written atomically (or,
//! for `check`, compared).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::cache::{Cache, CacheMode, Cached};
use crate::document::{Document, Project};
use crate::error::{Diagnostic, Diagnostics, Kind, location};
use crate::files::{self, Replaced};
use crate::options::Spec;
use crate::plan::Plan;
use crate::redact::Redactor;
use crate::result_block;
use crate::runner::{self, RunEvent, RunOptions, SessionReport};
use crate::state;
use crate::tangle::{self, TangledFile};
use crate::writeback::{self, Wanted};

/// Whether documents are rewritten or only compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `build`: write result blocks into the documents.
    #[default]
    Write,
    /// `check`: leave documents alone; report those that would change.
    Check,
}

/// What to build and how.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BuildOptions {
    /// Files or directories that select what runs and which documents are
    /// written (none: the whole project). Every document of the project
    /// (the current directory, which the command line makes the project
    /// root) is parsed all the same, so `requires` and `inputs` resolve
    /// across chapters.
    pub paths: Vec<PathBuf>,
    /// lpids or globs over lpids (`--only`): only these sessions and
    /// out_files (and what they require) run and are tangled.
    pub only: Vec<String>,
    /// The project's settings (`litprog.toml`).
    pub config: crate::config::Config,
    /// Tangle the out_files and stop: no session runs, no document is
    /// rewritten (`litprog tangle`).
    pub tangle_only: bool,
    /// Write or check.
    pub mode: Mode,
    /// Scheduling.
    pub run: RunOptions,
    /// Permit out_files outside the project root.
    pub allow_outside: bool,
    /// Overwrite tangled files that someone else changed.
    pub force: bool,
    /// The project root: the result cache is in its `.litprog/cache/`, and
    /// sessions' `files:` globs are relative to it.
    pub root: PathBuf,
    /// How the result cache is used.
    pub cache: CacheMode,
}

/// A document whose result blocks are out of date (`check`).
#[derive(Debug, Clone)]
pub struct StaleDocument {
    /// The document.
    pub path: PathBuf,
    /// Unified diff from the current text to the expected one.
    pub diff: String,
    /// The expected text.
    pub new_text: String,
}

/// Everything a build did.
#[derive(Debug)]
pub struct BuildReport {
    /// The documents and groups.
    pub project: Project,
    /// Tangled files and whether each was (re)written.
    pub tangled: Vec<(PathBuf, bool)>,
    /// Tangled files changed by someone else, left alone; when there are
    /// any, no session ran.
    pub edited: Vec<EditedFile>,
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
    /// Tangled files that could not be written, each at its out_file's
    /// file:line; when there are any, no session ran.
    pub tangle_errors: Vec<Diagnostic>,
    /// The build was interrupted (its [`RunOptions::cancel`] handle was
    /// cancelled): sessions were terminated, and no document was rewritten
    /// after that moment ([`BuildReport::rewritten`] lists those rewritten
    /// before it).
    pub interrupted: bool,
}

/// What a build reports while it runs, in order, on the thread that called
/// [`build`] (or [`build_in_memory`]): the one stream of events that the
/// CLI's lines and status area, `--message-format json`, `watch` and the
/// mdBook preprocessor consume.
///
/// A build's stream, with a session `s` of two blocks:
///
/// ```text
/// TangledWritten(out_file)...   Warnings?
/// SessionStarted(s)  BlockStarted(s, 0)  Output(s)...  BlockStarted(s, 1)  Output(s)...
/// SessionFinished(s)            (or SessionCached(s), with no process and nothing between)
/// Warnings?  Rewritten(document)...  Finished
/// ```
///
/// `BlockStarted` comes only with [`RunOptions::detail`] at
/// [`Detail::Blocks`](runner::Detail::Blocks) or more, `Output` only at
/// [`Detail::Output`](runner::Detail::Output): the default reports sessions
/// only, and the session engine does no work for the others. With `-j N`
/// the events of sessions running at once interleave, each session's in
/// its order.
///
/// ```no_run
/// use litprog::build::{self, BuildOptions, Progress};
/// use litprog::runner::Detail;
///
/// let mut options = BuildOptions::default();
/// options.run.detail = Detail::Output;
/// build::build(&options, |event| match event {
///     Progress::BlockStarted { .. } => {
///         if let Some((path, line)) = event.block_location() {
///             eprintln!("running {}:{line}", path.display());
///         }
///     }
///     Progress::Output { project, group, line, .. } => {
///         eprintln!("[{}] {line}", project.groups[group].lpid);
///     }
///     Progress::SessionFinished(project, report) => {
///         eprintln!("{}: {}", project.groups[report.group].lpid, report.outcome());
///     }
///     _ => {}
/// })
/// .expect("the documents are valid");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A tangled file was written (its content changed), with what it
    /// now holds.
    TangledWritten(&'a Path, &'a [u8]),
    /// The process of a session (an index into [`Project::groups`]) is
    /// starting.
    SessionStarted(&'a Project, usize),
    /// A block of a running session started: block 0 as the session
    /// starts, each other one as the marker of the block before it arrives.
    /// [`Progress::block_location`] says where it is.
    BlockStarted {
        /// The project.
        project: &'a Project,
        /// The session, an index into [`Project::groups`].
        group: usize,
        /// The block, an index into the session's
        /// [`Group::blocks`](crate::document::Group::blocks).
        block: usize,
    },
    /// A line of a running session's output, without its line ending.
    Output {
        /// The project.
        project: &'a Project,
        /// The session, an index into [`Project::groups`].
        group: usize,
        /// Which stream (stdout, holding stderr too unless `stderr:
        /// separate`).
        stream: crate::session::Stream,
        /// The line, decoded.
        line: &'a str,
    },
    /// A session finished, or was skipped.
    SessionFinished(&'a Project, &'a SessionReport),
    /// A session's results came from the cache; no process started.
    SessionCached(&'a Project, &'a SessionReport),
    /// A document was rewritten with its new results, with its new text.
    Rewritten(&'a Path, &'a str),
    /// The build is over (also after an interrupt); nothing follows.
    Finished(&'a BuildReport),
    /// Warnings (never none), in document order: the documents' and the
    /// state file's before any session runs, a cache problem after the
    /// sessions.
    Warnings(&'a [Diagnostic]),
}

impl Progress<'_> {
    /// The document and line (of its opening fence) of the block a
    /// [`Progress::BlockStarted`] is about; `None` for other events.
    pub fn block_location(&self) -> Option<(&Path, usize)> {
        let Progress::BlockStarted {
            project,
            group,
            block,
        } = self
        else {
            return None;
        };
        let r = *project.groups[*group].blocks.get(*block)?;
        Some((&project.documents[r.doc].path, project.block(r).fence.line))
    }
}

impl BuildReport {
    /// True when every session succeeded and nothing is stale or conflicting.
    pub fn success(&self) -> bool {
        !self.interrupted
            && self.edited.is_empty()
            && self.conflicts.is_empty()
            && self.write_errors.is_empty()
            && self.tangle_errors.is_empty()
            && self.stale.is_empty()
            && self.sessions.iter().all(|s| s.ok)
    }
}

/// Run a build. `progress` sees each event as it happens (see
/// [`Progress`]), ending with [`Progress::Finished`] unless the documents
/// are invalid.
pub fn build(
    options: &BuildOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<BuildReport, Diagnostics> {
    let report = build_reporting(options, &mut progress)?;
    progress(Progress::Finished(&report));
    Ok(report)
}

fn build_reporting(
    options: &BuildOptions,
    progress: &mut impl FnMut(Progress<'_>),
) -> Result<BuildReport, Diagnostics> {
    let loaded = files::load_project(&options.paths, &options.config)?;
    let built = build_project(loaded.project, &loaded.selected, options, progress)?;
    let cancel = &options.run.cancel;
    let mut report = BuildReport {
        tangled: built.tangled,
        edited: built.edited,
        sessions: built.sessions,
        rewritten: Vec::new(),
        stale: Vec::new(),
        conflicts: Vec::new(),
        stale_results: built.stale_results,
        write_errors: Vec::new(),
        tangle_errors: built.tangle_errors,
        interrupted: built.interrupted,
        project: built.project,
    };
    for (doc_index, new_text) in built.new_texts {
        let doc = &report.project.documents[doc_index];
        if new_text == doc.text {
            continue;
        }
        match options.mode {
            Mode::Check => report.stale.push(StaleDocument {
                path: doc.path.clone(),
                diff: unified_diff(&doc.path, &doc.text, &new_text),
                new_text,
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
                    || progress(Progress::Rewritten(&doc.path, &new_text)),
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

/// A document already read: where it is (as messages name it, relative to
/// the project root) and its text.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Source {
    /// The document's path.
    pub path: PathBuf,
    /// Its whole text.
    pub text: String,
}

impl Source {
    /// A document at `path` whose text is `text`.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// What [`build_in_memory`] did: everything of a [`BuildReport`] up to the
/// documents' new texts, which it leaves to the caller.
#[derive(Debug)]
#[non_exhaustive]
pub struct Built {
    /// The documents (ordered by path) and groups.
    pub project: Project,
    /// Tangled files and whether each was (re)written.
    pub tangled: Vec<(PathBuf, bool)>,
    /// Tangled files changed by someone else, left alone; when there are
    /// any, no session ran.
    pub edited: Vec<EditedFile>,
    /// Tangled files that could not be written; when there are any, no
    /// session ran.
    pub tangle_errors: Vec<Diagnostic>,
    /// Every session, in completion order.
    pub sessions: Vec<SessionReport>,
    /// Result blocks that follow no code block of their session (removed
    /// from the new texts where they can be).
    pub stale_results: Vec<StaleResult>,
    /// For each document (an index into `project.documents`) with session
    /// results or stale result blocks, its text with current results; a
    /// text may equal the document's. Empty when the build was interrupted
    /// or a session thread crashed, or when a tangled file was edited.
    pub new_texts: Vec<(usize, String)>,
    /// The build was interrupted (its [`RunOptions::cancel`] handle was
    /// cancelled) and sessions were terminated.
    pub interrupted: bool,
}

/// A build of documents already in memory: parse and group them (with the
/// defaults of `options.config`), tangle out_files (writing them as
/// [`build`] does: sessions may need them), run the sessions and compute
/// each document's new text, without reading or writing any document.
/// `options.paths` and `options.mode` are not used: every document is
/// selected.
///
/// This is the build behind `litprog build` and `litprog check` (which
/// read the documents from disk first and write or compare the new texts
/// after), for integrations such as `litprog mdbook` that hold their
/// documents themselves.
pub fn build_in_memory(
    sources: Vec<Source>,
    options: &BuildOptions,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Built, Diagnostics> {
    let mut errors = Vec::new();
    let mut documents = Vec::new();
    for source in sources {
        match Document::parse(&source.path, source.text) {
            Ok(doc) => documents.push(doc),
            Err(e) => errors.extend(e.0),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    documents.sort_by(|a, b| a.path.cmp(&b.path));
    let selected = vec![true; documents.len()];
    let project = files::group(documents, &options.config.defaults)?;
    build_project(project, &selected, options, &mut progress)
}

/// [`build_in_memory`] of documents already parsed and grouped, of which
/// `selected` say which the run is about (PATHs).
fn build_project(
    mut project: Project,
    selected: &[bool],
    options: &BuildOptions,
    progress: &mut impl FnMut(Progress<'_>),
) -> Result<Built, Diagnostics> {
    // Report tangling and planning problems together.
    let (outputs, plan) = match (
        tangle::tangle(&project, options.allow_outside),
        Plan::new(&project),
    ) {
        (Ok(outputs), Ok(plan)) => (outputs, plan),
        (Err(a), Err(b)) => return Err(Diagnostics(a.0.into_iter().chain(b.0).collect())),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let chosen = select(&project, &plan, selected, options)?;
    let outputs: Vec<TangledFile> = outputs
        .into_iter()
        .filter(|o| chosen.out_files.contains(&o.group))
        .collect();
    let plan = chosen.plan;
    let targets = check_targets(&project, &outputs, options.allow_outside)?;
    let tangled = write_tangled(
        &mut project,
        &outputs,
        &targets,
        options.force,
        &options.run.cancel,
    );
    for (path, written) in &tangled.written {
        if let (true, Some(out)) = (*written, outputs.iter().find(|o| o.path == *path)) {
            progress(Progress::TangledWritten(path, &out.contents));
        }
    }
    if !project.warnings.is_empty() {
        progress(Progress::Warnings(&project.warnings));
    }
    let cache = Cache::new(&options.root, options.cache, &outputs);
    let mut redactors = Redactors::default();
    // Sessions would run a file the documents do not hold, and write what
    // it prints into them: stop until the edit is resolved.
    let sessions = if tangled.edited.is_empty() && tangled.errors.is_empty() && !options.tangle_only
    {
        runner::run_events(&project, &plan, &options.run, Some(&cache), |e| match e {
            RunEvent::Started(g) => progress(Progress::SessionStarted(&project, g)),
            RunEvent::BlockStarted { group, block } => progress(Progress::BlockStarted {
                project: &project,
                group,
                block,
            }),
            RunEvent::Output {
                group,
                stream,
                line,
            } => progress(Progress::Output {
                project: &project,
                group,
                stream,
                line,
            }),
            RunEvent::Done(r) if r.cached() => progress(Progress::SessionCached(&project, r)),
            RunEvent::Done(r) => {
                store(&cache, &project, r, &mut redactors);
                progress(Progress::SessionFinished(&project, r))
            }
        })
    } else {
        Vec::new()
    };
    if let Some(w) = cache.take_warning() {
        let at = crate::cache::dir(&options.root);
        project.warnings.push(Diagnostic::io_message(&at, w));
        progress(Progress::Warnings(
            &project.warnings[project.warnings.len() - 1..],
        ));
    }
    let cancel = &options.run.cancel;
    // A crash cancels the build too, but it is a failure, not an interrupt.
    let crashed = sessions
        .iter()
        .any(|s| matches!(s.run, runner::Run::Crashed(_)));
    let mut built = Built {
        tangled: tangled.written,
        edited: tangled.edited,
        tangle_errors: tangled.errors,
        sessions,
        stale_results: Vec::new(),
        new_texts: Vec::new(),
        interrupted: cancel.is_cancelled() && !crashed,
        project,
    };
    if built.interrupted
        || crashed
        || !built.edited.is_empty()
        || !built.tangle_errors.is_empty()
        || options.tangle_only
    {
        return Ok(built);
    }
    let mut stale = stale_results(&built.project);
    stale.retain(|&d, _| chosen.documents[d]);
    for (&d, blocks) in &stale {
        let doc = &built.project.documents[d];
        for &r in blocks {
            let block = &doc.blocks[r];
            built.stale_results.push(StaleResult {
                path: doc.path.clone(),
                line: block.fence.line,
                lpid: match &block.role {
                    crate::document::Role::Result { lpid } => lpid.clone(),
                    _ => String::new(),
                },
                removable: result_block::removable(doc, r),
            });
        }
    }
    built.new_texts = new_texts(
        &built.project,
        &built.sessions,
        &stale,
        &chosen.documents,
        &mut redactors,
    );
    Ok(built)
}

pub use crate::redact::project_root;

/// The redactor of each session of one build, made when first needed: the
/// project root's, the home directory's and the temporary directory's real
/// paths are looked up once per session, not once per document written
/// and again for the cache.
#[derive(Default)]
struct Redactors {
    root: Option<PathBuf>,
    made: HashMap<usize, Redactor>,
}

impl Redactors {
    /// The placements of `report`'s session, redacted.
    fn placements(
        &mut self,
        project: &Project,
        report: &SessionReport,
    ) -> Vec<(crate::document::BlockRef, Option<result_block::Lines>)> {
        let group = report.group;
        let g = &project.groups[group];
        let Spec::Session(spec) = &g.spec else {
            return Vec::new();
        };
        result_block::placements_redacted(g, spec, &report.run, || {
            let root = self.root.get_or_insert_with(project_root);
            &*self
                .made
                .entry(group)
                .or_insert_with(|| result_block::redactor(spec, root))
        })
    }
}

/// Store the results of a session that ran with the expected outcome (the
/// runner says so by giving its key).
fn store(cache: &Cache, project: &Project, report: &SessionReport, redactors: &mut Redactors) {
    let group = &project.groups[report.group];
    let (Some(key), Spec::Session(_)) = (&report.cache_key, &group.spec) else {
        return;
    };
    // Stored as written (redacted), so that a hit is the same on any machine.
    let lines = redactors
        .placements(project, report)
        .into_iter()
        .map(|(_, lines)| lines)
        .collect();
    let cached = Cached {
        lines,
        outcome: report.outcome(),
        runtime: report.runtime().unwrap_or_default(),
    };
    cache.put(key, &cached);
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
        let found = result_block::stale_results(doc);
        if !found.is_empty() {
            stale.insert(d, found);
        }
    }
    stale
}

/// For every document with session blocks or stale result blocks, its text
/// with fresh results and without the stale blocks that can be removed.
///
/// One document at a time: a document's result lines are made, spliced in
/// and dropped before the next document's are made, so that memory holds
/// the result lines of one document, not of the whole build.
fn new_texts(
    project: &Project,
    sessions: &[SessionReport],
    stale: &BTreeMap<usize, Vec<usize>>,
    written: &[bool],
    redactors: &mut Redactors,
) -> Vec<(usize, String)> {
    // A session that did not run (skipped, or could not start) keeps
    // whatever results it had.
    let ran = |report: &&SessionReport| report.ran();
    let docs: std::collections::BTreeSet<usize> = sessions
        .iter()
        .filter(ran)
        .flat_map(|r| project.groups[r.group].blocks.iter().map(|b| b.doc))
        .chain(stale.keys().copied())
        .filter(|&d| written[d])
        .collect();
    docs.into_iter()
        .map(|d| {
            let mut wanted = Wanted::new();
            for report in sessions.iter().filter(ran) {
                let group = &project.groups[report.group];
                if !group.blocks.iter().any(|b| b.doc == d) {
                    continue;
                }
                for (r, lines) in redactors.placements(project, report) {
                    if r.doc == d {
                        wanted.insert(r.block, lines);
                    }
                }
            }
            let doc = &project.documents[d];
            let remove: Vec<usize> = stale
                .get(&d)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&r| result_block::removable(doc, r))
                .collect();
            (d, writeback::rewrite_removing(doc, &wanted, &remove))
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

/// Where an out_file lands, once checked.
#[derive(Debug, Clone)]
struct Target {
    /// The key of its record in the state file.
    key: String,
}

/// Check what lies at every out_file's path before anything is written:
/// it must be a regular file or nothing (never a FIFO, socket, device or
/// directory, which are refused without being opened), inside the project
/// root (the current directory) after symbolic links (unless `allow_outside`), not a document,
/// and not the target of another out_file under another name. Documents
/// reached through a symbolic link must lie inside too.
fn check_targets(
    project: &Project,
    outputs: &[TangledFile],
    allow_outside: bool,
) -> Result<Vec<Target>, Diagnostics> {
    let cwd = std::env::current_dir()
        .and_then(fs::canonicalize)
        .map_err(|e| Diagnostic::io(Path::new("."), 0, "cannot resolve", e))?;
    let mut errors = Vec::new();
    let mut documents: HashMap<PathBuf, &Path> = HashMap::new();
    let mut real_paths = files::RealPaths::new(cwd.clone());
    for doc in &project.documents {
        let Ok(real) = real_paths.of(&doc.path) else {
            continue;
        };
        if !allow_outside && !real.starts_with(&cwd) && lexically_inside(&cwd, &doc.path) {
            errors.push(Diagnostic::new(
                Kind::UnsafeTarget,
                &doc.path,
                0,
                format!(
                    "the document is a symbolic link to {}, outside the project root; use --allow-outside to permit writing there",
                    real.display()
                ),
            ));
        }
        documents.insert(real, &doc.path);
    }
    let mut seen: HashMap<PathBuf, usize> = HashMap::new();
    let mut targets = Vec::new();
    let mut reals = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        let group = &project.groups[out.group];
        let at = |msg: String| Diagnostic::new(Kind::UnsafeTarget, &group.path, group.line, msg);
        let name = out.path.display();
        if let Some(problem) = target_problem(&out.path) {
            errors.push(at(format!("out_file '{name}' {problem}")));
            continue;
        }
        let real = match files::identity(&out.path) {
            Ok(real) => real,
            Err(e) => {
                errors.push(Diagnostic::io(
                    &group.path,
                    group.line,
                    format_args!("out_file '{name}': cannot resolve"),
                    e,
                ));
                continue;
            }
        };
        if !allow_outside && !real.starts_with(&cwd) {
            errors.push(at(format!(
                "out_file '{name}' leads outside the project root through a symbolic link (to {}); use --allow-outside to permit it",
                real.display()
            )));
            continue;
        }
        if let Some(doc) = documents.get(&real) {
            errors.push(at(format!(
                "out_file '{name}' would overwrite the document {}",
                doc.display()
            )));
            continue;
        }
        if let Some(&first) = seen.get(&real) {
            let other = &project.groups[outputs[first].group];
            errors.push(at(format!(
                "out_file '{name}' is the same file as out_file '{}' at {}",
                outputs[first].path.display(),
                location(&other.path, other.line)
            )));
            continue;
        }
        seen.insert(real.clone(), i);
        let key = match real.strip_prefix(&cwd) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => real.to_string_lossy().into_owned(),
        };
        targets.push(Target { key });
        reals.push((i, real));
    }
    // A target whose directory is another out_file's target: that file
    // would be written first, and this one would fail after it.
    for (i, real) in &reals {
        if let Some(&above) = real.ancestors().skip(1).find_map(|a| seen.get(a)) {
            let group = &project.groups[outputs[*i].group];
            let other = &project.groups[outputs[above].group];
            errors.push(Diagnostic::new(
                Kind::UnsafeTarget,
                &group.path,
                group.line,
                format!(
                    "out_file '{}' cannot be created: out_file '{}' at {} is a file",
                    outputs[*i].path.display(),
                    outputs[above].path.display(),
                    location(&other.path, other.line)
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(targets)
    } else {
        Err(Diagnostics(errors))
    }
}

/// Does `path` stay inside `cwd` when symbolic links are not followed?
fn lexically_inside(cwd: &Path, path: &Path) -> bool {
    path.is_relative() && tangle::stays_inside(path) || path.starts_with(cwd)
}

/// What is wrong with what lies at `path` (found without opening it).
fn target_problem(path: &Path) -> Option<String> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() && fs::metadata(path).is_err() => {
            return Some("is a symbolic link that leads nowhere".to_string());
        }
        Ok(_) => {
            return match fs::metadata(path) {
                Ok(m) if !m.is_file() => {
                    Some(format!("is {}, not a regular file", files::kind_of(&m)))
                }
                _ => None,
            };
        }
        Err(_) => {}
    }
    // Missing: every existing ancestor must be a directory.
    let mut ancestor = path.parent();
    while let Some(dir) = ancestor.filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(m) = fs::metadata(dir) {
            return (!m.is_dir()).then(|| {
                format!(
                    "cannot be created: {} is {}, not a directory",
                    dir.display(),
                    files::kind_of(&m)
                )
            });
        }
        ancestor = dir.parent();
    }
    None
}

/// A tangled file that holds neither what the documents produce nor what
/// litprog last wrote: someone else changed it, so it was left alone.
#[derive(Debug, Clone)]
pub struct EditedFile {
    /// The tangled file.
    pub path: PathBuf,
    /// The out_file's `file:line`, where the edit belongs.
    pub location: String,
    /// Unified diff from the file on disk to what the documents produce.
    pub diff: String,
}

/// What writing the tangled files did.
struct Tangled {
    written: Vec<(PathBuf, bool)>,
    edited: Vec<EditedFile>,
    /// Files that could not be written (a failure, exit 1, not a document
    /// problem).
    errors: Vec<Diagnostic>,
}

/// Write the tangled files whose content changed and set executable bits.
///
/// A file is overwritten only when it is missing, holds exactly what
/// litprog last wrote there (its record in [`crate::state`]), or `force`;
/// any other content is someone's edit, reported and left alone.
fn write_tangled(
    project: &mut Project,
    outputs: &[TangledFile],
    targets: &[Target],
    force: bool,
    cancel: &crate::session::Cancel,
) -> Tangled {
    let mut done = Tangled {
        written: Vec::new(),
        edited: Vec::new(),
        errors: Vec::new(),
    };
    if outputs.is_empty() {
        return done;
    }
    let state_path = Path::new(state::STATE_DIR).join(state::STATE_FILE);
    let mut state = match state::State::open(Path::new(".")) {
        Ok((state, warning)) => {
            if let Some(w) = warning {
                project
                    .warnings
                    .push(Diagnostic::io_message(&state_path, w));
            }
            Some(state)
        }
        Err(e) => {
            project.warnings.push(Diagnostic::io_saying(
                &state_path,
                0,
                format!("cannot open the state file ({e}); tangled files that differ from the documents count as edited by hand"),
                e,
            ));
            None
        }
    };
    let mut errors = Vec::new();
    for (out, target) in outputs.iter().zip(targets) {
        // After an interrupt, write no further file, and record those
        // written (below) before the signal thread's deadline ends litprog.
        if cancel.is_cancelled() {
            break;
        }
        let group = &project.groups[out.group];
        let fail = |e: io::Error| {
            Diagnostic::io(
                &group.path,
                group.line,
                format_args!("cannot write out_file '{}'", out.path.display()),
                e,
            )
        };
        let current = match files::read_regular(&out.path) {
            Ok(current) => current,
            Err(e) => {
                errors.push(fail(e));
                continue;
            }
        };
        let ours = |c: &[u8]| {
            state
                .as_ref()
                .and_then(|s| s.recorded(&target.key))
                .is_some_and(|h| h == state::hash(c))
        };
        let write = match &current {
            Some(c) if c[..] == out.contents[..] => false,
            Some(c) if !force && !ours(c) => {
                done.edited.push(EditedFile {
                    path: out.path.clone(),
                    location: location(&group.path, group.line),
                    diff: unified_diff(
                        &out.path,
                        &String::from_utf8_lossy(c),
                        &String::from_utf8_lossy(&out.contents),
                    ),
                });
                continue;
            }
            _ => true,
        };
        match write_one(out, write, current.is_some()) {
            Ok(()) => {
                if let Some(s) = &mut state {
                    s.record(&target.key, state::hash(&out.contents));
                }
                done.written.push((out.path.clone(), write));
            }
            Err(e) => errors.push(fail(e)),
        }
    }
    if let Some(Err(e)) = state.as_mut().map(state::State::save) {
        project.warnings.push(Diagnostic::io_saying(
            &state_path,
            0,
            format!("cannot record what was written ({e}); the next build will take these files as edited by hand"),
            e,
        ));
    }
    done.errors = errors;
    done
}

/// Write `out` (when `write`) and give it its executable bits: a new file
/// gets `0o666`, or `0o777` if executable, less the umask; an existing one
/// keeps its mode, gaining `x` where it has `r` if executable.
fn write_one(out: &TangledFile, write: bool, exists: bool) -> io::Result<()> {
    if write {
        if let Some(parent) = out.path.parent()
            && !parent.as_os_str().is_empty()
        {
            fs::create_dir_all(parent)?;
        }
        let mode = if out.executable { 0o777 } else { 0o666 };
        files::write_atomic_mode(&out.path, &out.contents, mode)?;
        if !exists {
            return Ok(());
        }
    }
    if out.executable {
        let mode = fs::metadata(&out.path)?.permissions().mode();
        let wanted = mode | ((mode & 0o444) >> 2);
        if wanted != mode {
            fs::set_permissions(&out.path, fs::Permissions::from_mode(wanted))?;
        }
    }
    Ok(())
}

/// What a run selects: the sessions it runs, the out_files it tangles and
/// the documents it may rewrite.
struct Chosen {
    /// The plan of the selected sessions and those they require.
    plan: Plan,
    /// Group indices of the out_files to tangle.
    out_files: std::collections::HashSet<usize>,
    /// For each document: may its results be written (or checked)?
    documents: Vec<bool>,
}

/// The selection of a run. Without PATHs or `--only`, everything. PATHs
/// select the sessions and out_files with a block (or their declaration)
/// in a document under them, and only those documents are written;
/// `--only` keeps those whose lpid matches one of its patterns. Sessions
/// bring the sessions they require (transitively), and the out_files any
/// of these require.
fn select(
    project: &Project,
    plan: &Plan,
    in_paths: &[bool],
    options: &BuildOptions,
) -> Result<Chosen, Diagnostics> {
    use std::collections::HashSet;
    let mut matched: Option<HashSet<usize>> = None;
    if !options.only.is_empty() {
        let mut errors = Vec::new();
        let mut set = HashSet::new();
        for pattern in &options.only {
            let groups: Vec<usize> = project
                .matching(pattern)
                .into_iter()
                .filter(|&g| matches!(project.groups[g].spec, Spec::Session(_) | Spec::OutFile(_)))
                .collect();
            if groups.is_empty() {
                errors.push(Diagnostic::new(
                    Kind::UnknownReference,
                    Path::new("--only"),
                    0,
                    format!(
                        "'{pattern}' matches no session or out_file{}",
                        project.no_match_hint(pattern)
                    ),
                ));
            }
            set.extend(groups);
        }
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        matched = Some(set);
    }
    let touches = |g: usize, docs: &[bool]| {
        let group = &project.groups[g];
        group
            .blocks
            .iter()
            .chain(&group.declaration)
            .any(|b| docs[b.doc])
    };
    let seeds: Vec<usize> = (0..project.groups.len())
        .filter(|&g| matched.as_ref().is_none_or(|m| m.contains(&g)))
        .filter(|&g| touches(g, in_paths))
        .collect();
    // Sessions: the seeds and everything they require, transitively.
    let step_of: HashMap<usize, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(s, step)| (step.group, s))
        .collect();
    let mut keep = vec![false; plan.steps.len()];
    let mut todo: Vec<usize> = seeds
        .iter()
        .filter_map(|g| step_of.get(g).copied())
        .collect();
    while let Some(s) = todo.pop() {
        if !std::mem::replace(&mut keep[s], true) {
            todo.extend(&plan.steps[s].after);
        }
    }
    let mut out_files: HashSet<usize> = seeds
        .iter()
        .copied()
        .filter(|&g| matches!(project.groups[g].spec, Spec::OutFile(_)))
        .collect();
    for (s, step) in plan.steps.iter().enumerate() {
        if !keep[s] {
            continue;
        }
        if let Spec::Session(spec) = &project.groups[step.group].spec {
            for req in &spec.requires {
                out_files.extend(
                    project
                        .matching(req)
                        .into_iter()
                        .filter(|&g| matches!(project.groups[g].spec, Spec::OutFile(_))),
                );
            }
        }
    }
    // The kept steps, renumbered.
    let mut new_index = vec![usize::MAX; plan.steps.len()];
    let mut steps = Vec::new();
    for (s, step) in plan.steps.iter().enumerate() {
        if keep[s] {
            new_index[s] = steps.len();
            steps.push(step.clone());
        }
    }
    for step in &mut steps {
        step.after = step.after.iter().map(|&a| new_index[a]).collect();
    }
    let documents = match &matched {
        None => in_paths.to_vec(),
        Some(_) => {
            let mut docs = vec![false; project.documents.len()];
            for &g in &seeds {
                let group = &project.groups[g];
                for b in group.blocks.iter().chain(&group.declaration) {
                    docs[b.doc] = in_paths[b.doc];
                }
            }
            docs
        }
    };
    Ok(Chosen {
        plan: Plan { steps },
        out_files,
        documents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_in_memory_get_results_without_being_read_or_written() {
        // The document exists nowhere on disk: it is parsed, run and given
        // its results from memory alone.
        let path = PathBuf::from("target/litprog-unit-test-nowhere/in-memory.md");
        assert!(!path.exists());
        let text = "# T\n\n```bash lpid=s lptype=session\necho hi\n```\n\nprose\n";
        let mut seen = Vec::new();
        // No cache: the test leaves nothing behind in the checkout.
        let options = BuildOptions {
            cache: CacheMode::Off,
            ..BuildOptions::default()
        };
        let built = build_in_memory(vec![Source::new(&path, text)], &options, |p| {
            if let Progress::SessionFinished(project, r) = p {
                seen.push(project.groups[r.group].lpid.clone());
            }
        })
        .unwrap();
        assert_eq!(seen, ["s"]);
        assert_eq!(built.project.documents[0].text, text);
        assert_eq!(
            built.new_texts,
            [(
                0,
                text.replace(
                    "```\n\nprose",
                    "```\n\n```text lpout=s\nhi\n# exit: 0\n```\n\nprose"
                )
            )]
        );
        assert!(!path.exists());
        let e = build_in_memory(
            vec![Source::new("bad.md", "```bash lpid=s\necho\n")],
            &BuildOptions::default(),
            |_| {},
        )
        .unwrap_err();
        assert!(e.0[0].to_string().starts_with("bad.md:"), "{e}");
    }
}
