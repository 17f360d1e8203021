//! mdBook: what the readers of a book whose chapters are litprog documents
//! see.
//!
//! `litprog mdbook` (see the README's "mdBook" section) builds the chapters
//! with [`crate::build::build_in_memory`], then [`reader_view`] turns each
//! chapter's text with current results into the text handed to mdBook's
//! renderer: litprog's metadata removed, as [`Settings`] (the
//! `[preprocessor.litprog]` table of `book.toml`) says. Like the
//! write-back, it splices byte ranges of the text and never re-renders
//! Markdown: every byte it does not remove or replace is the chapter's own.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::build::Built;
use crate::document::{Block, Document, Project, Role};
use crate::error::{Diagnostic, Diagnostics, Kind};
use crate::options::{self, Hide, Spec, StatusMode};
use crate::result_block;
use crate::runner::{Run, SessionReport};
use crate::session::Outcome;

/// When readers see a session's status line (`# exit: 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ShowStatus {
    /// Only when the outcome is not a plain, expected exit 0 (the default):
    /// `# exit: 0` is removed, `# exit: 3` or `# timed out after 5 s`
    /// shows.
    #[default]
    Failure,
    /// Always, as the document has it.
    Always,
    /// Never.
    Never,
}

/// What a failing session does to the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnFailure {
    /// The mdBook build fails with litprog's failure report (the default).
    #[default]
    Fail,
    /// The failure is rendered into the chapter and the build succeeds.
    Warn,
}

/// The `[preprocessor.litprog]` table of `book.toml`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// `show-options` (default false): keep option blocks and the option
    /// lines (`# lpid = demo`) at the top of code blocks.
    pub show_options: bool,
    /// `show-attributes` (default false): keep litprog's info-string
    /// attributes (`lpid=demo lptype=session`, `lpout=demo`, `lpignore`);
    /// without them a block's info string is its language alone.
    pub show_attributes: bool,
    /// `show-status` (default `"failure"`): when status lines show.
    pub show_status: ShowStatus,
    /// `hide` (default true): honour the blocks' `hide` option; false shows
    /// every block and result.
    pub hide: bool,
    /// `on-failure` (default `"fail"`): what a failing session does.
    pub on_failure: OnFailure,
    /// `jobs` (default 1): sessions run at once, as `litprog build -j`.
    pub jobs: usize,
    /// `timeout` (default 30): seconds for sessions that set none, as
    /// `litprog build --timeout`.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            show_options: false,
            show_attributes: false,
            show_status: ShowStatus::Failure,
            hide: true,
            on_failure: OnFailure::Fail,
            jobs: 1,
            timeout: crate::runner::DEFAULT_TIMEOUT,
        }
    }
}

/// Keys of a preprocessor's table that belong to mdBook.
const MDBOOK_KEYS: &[&str] = &["command", "before", "after", "renderers", "optional"];

impl Settings {
    /// The settings of a `[preprocessor.litprog]` table (as JSON; `None`
    /// when there is none), with a warning for each key litprog does not
    /// know. A value of the wrong kind is an error naming its key.
    pub fn from_table(table: Option<&Value>) -> Result<(Settings, Vec<String>), String> {
        let mut settings = Settings::default();
        let mut warnings = Vec::new();
        let Some(table) = table else {
            return Ok((settings, warnings));
        };
        let Value::Object(map) = table else {
            return Err("[preprocessor.litprog] must be a table".to_string());
        };
        let bad = |key: &str, what: &str, v: &Value| {
            format!(
                "[preprocessor.litprog] {key} must be {what}, not {}",
                options::show(v)
            )
        };
        for (key, v) in map {
            let flag = || v.as_bool().ok_or_else(|| bad(key, "true or false", v));
            match key.as_str() {
                "show-options" => settings.show_options = flag()?,
                "show-attributes" => settings.show_attributes = flag()?,
                "hide" => settings.hide = flag()?,
                "show-status" => {
                    settings.show_status = match v.as_str() {
                        Some("failure") => ShowStatus::Failure,
                        Some("always") => ShowStatus::Always,
                        Some("never") => ShowStatus::Never,
                        _ => return Err(bad(key, "\"failure\", \"always\" or \"never\"", v)),
                    }
                }
                "on-failure" => {
                    settings.on_failure = match v.as_str() {
                        Some("fail") => OnFailure::Fail,
                        Some("warn") => OnFailure::Warn,
                        _ => return Err(bad(key, "\"fail\" or \"warn\"", v)),
                    }
                }
                "jobs" => {
                    settings.jobs = v
                        .as_u64()
                        .filter(|&n| (1..=1024).contains(&n))
                        .ok_or_else(|| bad(key, "a number of sessions from 1 to 1024", v))?
                        as usize
                }
                "timeout" => {
                    settings.timeout = v
                        .as_f64()
                        .filter(|t| t.is_finite() && *t > 0.0 && *t < 1e9)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| bad(key, "a positive number of seconds", v))?
                }
                k if MDBOOK_KEYS.contains(&k) => {}
                _ => warnings.push(format!(
                    "[preprocessor.litprog]: unknown key '{key}' (litprog knows show-options, show-attributes, show-status, hide, on-failure, jobs, timeout)"
                )),
            }
        }
        Ok((settings, warnings))
    }
}

/// Every document of `built` as readers see it: its current text (the new
/// text where the build made one), with litprog's metadata removed as
/// `settings` say. Documents come in the order of `built.project`.
pub fn reader_view(
    built: &Built,
    settings: &Settings,
) -> Result<Vec<(PathBuf, String)>, Diagnostics> {
    let mut texts: Vec<String> = built
        .project
        .documents
        .iter()
        .map(|d| d.text.clone())
        .collect();
    for (d, text) in &built.new_texts {
        texts[*d] = text.clone();
    }
    let mut documents = Vec::new();
    for (doc, text) in built.project.documents.iter().zip(texts) {
        documents.push(Document::parse(&doc.path, text)?);
    }
    let project = Project::new(documents)?;
    let mut edits: Vec<Vec<Edit>> = vec![Vec::new(); project.documents.len()];
    let mut errors = Vec::new();
    for (d, doc) in project.documents.iter().enumerate() {
        for (b, block) in doc.blocks.iter().enumerate() {
            block_edits(doc, block, settings, &mut edits[d]);
            if settings.hide {
                match hidden(&project, doc, block) {
                    Ok(hide) => hide_edits(doc, b, hide, &mut edits[d]),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    for group in &project.groups {
        let Spec::Session(spec) = &group.spec else {
            continue;
        };
        let report = built
            .project
            .group_index(&group.lpid)
            .and_then(|g| built.sessions.iter().find(|s| s.group == g));
        if let Some((d, range)) = status_line(&project, group, spec, report, settings) {
            edits[d].push(Edit {
                range,
                with: String::new(),
            });
        }
        // Named where the author wrote it: the chapter's own lines, not
        // those of its text with results.
        let origin = built.project.group(&group.lpid).unwrap_or(group);
        let location = crate::error::location(&origin.path, origin.line);
        if settings.on_failure == OnFailure::Warn
            && let Some(report) = report.filter(|r| !r.ok)
            && let Some((d, edit)) = failure_note(&project, group, report, &location)
        {
            edits[d].push(edit);
        }
    }
    Ok(project
        .documents
        .iter()
        .zip(edits)
        .map(|(doc, edits)| (doc.path.clone(), splice(&doc.text, edits)))
        .collect())
}

/// The note that tells readers a session failed (`on-failure = "warn"`):
/// a block quote after the session's last block (its result block, if it
/// has one), in that block's container.
fn failure_note(
    project: &Project,
    group: &crate::document::Group,
    report: &SessionReport,
    location: &str,
) -> Option<(usize, Edit)> {
    let code = *group.blocks.last()?;
    let doc = &project.documents[code.doc];
    let anchor = result_block::existing_result(doc, code.block).unwrap_or(code.block);
    let block = &doc.blocks[anchor];
    let at = block.fence.span.end;
    let eol = if doc.text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let indent = doc.blocks[code.block].fence.indent.as_str();
    let bare = indent.trim_end();
    let mut note = String::new();
    if !doc.text[..at].ends_with('\n') {
        note.push_str(eol);
    }
    for line in [
        bare.to_string(),
        format!(
            "{indent}> **litprog:** session {} ({}) failed: {}",
            code_span(&group.lpid),
            code_span(location),
            report.outcome()
        ),
        bare.to_string(),
    ] {
        note.push_str(&line);
        note.push_str(eol);
    }
    Some((
        code.doc,
        Edit {
            range: at..at,
            with: note,
        },
    ))
}

/// `text` as a Markdown code span: delimited by more backticks than any
/// run of them inside it, padded with spaces when it starts or ends with
/// one. Line breaks become spaces.
fn code_span(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let ticks = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// What of code block `block` of `doc` readers do not see: its own
/// `hide` option, or else that of its group's option block.
fn hidden(project: &Project, doc: &Document, block: &Block) -> Result<Hide, Diagnostic> {
    if block.role != Role::Code {
        return Ok(Hide::None);
    }
    let find = |b: &Block| b.options.iter().find(|o| o.key == "hide").cloned();
    let declared = || {
        let at = project.group(block.lpid.as_deref()?)?.declaration?;
        Some((&project.documents[at.doc].path, find(project.block(at))?))
    };
    let Some((path, option)) = find(block).map(|o| (&doc.path, o)).or_else(declared) else {
        return Ok(Hide::None);
    };
    options::hide(&option.value)
        .map_err(|e| Diagnostic::new(Kind::InvalidValue, path, option.line, e.message))
}

/// Remove what `hide` hides of code block `b`: the block, its result
/// block, or both.
fn hide_edits(doc: &Document, b: usize, hide: Hide, out: &mut Vec<Edit>) {
    let code = matches!(hide, Hide::Code | Hide::All);
    let output = matches!(hide, Hide::Output | Hide::All);
    let result = result_block::existing_result(doc, b).filter(|_| output);
    for r in [Some(b).filter(|_| code), result].into_iter().flatten() {
        out.push(Edit {
            range: doc.blocks[r].fence.span.clone(),
            with: String::new(),
        });
    }
}

/// Bytes of a text replaced by other text.
#[derive(Debug, Clone)]
struct Edit {
    range: Range<usize>,
    with: String,
}

/// `text` with `edits` applied; an edit inside one applied before it (a
/// block's info string inside the removed block) is dropped.
fn splice(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.range.start, std::cmp::Reverse(e.range.end)));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for edit in edits {
        if edit.range.start < copied {
            continue;
        }
        out.push_str(&text[copied..edit.range.start]);
        out.push_str(&edit.with);
        copied = edit.range.end;
    }
    out.push_str(&text[copied..]);
    out
}

/// The end of the line that starts at or holds `at` (after its line
/// ending), within `text`.
fn line_end(text: &str, at: usize) -> usize {
    memchr::memchr(b'\n', &text.as_bytes()[at..]).map_or(text.len(), |i| at + i + 1)
}

/// Is an info string attribute of `block` litprog's, so that the info
/// string becomes the language alone?
fn has_litprog_info(block: &Block) -> bool {
    match block.role {
        Role::Result { .. } | Role::Ignored => true,
        Role::Code | Role::Options => {
            block.lpid.is_some() || {
                let attrs = options::info_attributes(&block.fence.info);
                attrs.options.iter().any(|a| is_litprog_key(&a.key))
            }
        }
    }
}

/// Does litprog read the option `key`?
fn is_litprog_key(key: &str) -> bool {
    ["lpid", "lptype", crate::document::RESULT_ATTR]
        .iter()
        .chain(options::BLOCK_KEYS)
        .chain(options::SESSION_KEYS)
        .chain(options::OUT_FILE_KEYS)
        .any(|k| *k == key)
}

/// The edits for `block` of `doc` itself: an option block removed, the
/// info string cut to the language, option lines removed.
fn block_edits(doc: &Document, block: &Block, settings: &Settings, out: &mut Vec<Edit>) {
    let text = doc.text.as_str();
    let fence = &block.fence;
    if block.role == Role::Options {
        if !settings.show_options {
            out.push(Edit {
                range: fence.span.clone(),
                with: String::new(),
            });
        }
        return;
    }
    let opener_line_end = line_end(text, fence.opener.end);
    if !settings.show_attributes && has_litprog_info(block) {
        let line = &text[fence.opener.end..opener_line_end];
        let info = line.trim_end_matches(['\n', '\r', ' ', '\t']);
        let start = fence.opener.end + (info.len() - info.trim_start_matches([' ', '\t']).len());
        let end = fence.opener.end + info.len();
        let raw = &text[start..end];
        let lang = raw
            .split([' ', '\t'])
            .next()
            .filter(|w| !w.contains('='))
            .unwrap_or_default();
        if lang != raw {
            out.push(Edit {
                range: start..end,
                with: lang.to_string(),
            });
        }
    }
    if !settings.show_options && block.role == Role::Code && block.lpid.is_some() {
        let option_lines = block.code_line.saturating_sub(fence.line + 1);
        if option_lines > 0 {
            let mut end = opener_line_end;
            for _ in 0..option_lines {
                end = line_end(text, end);
            }
            out.push(Edit {
                range: opener_line_end..end.min(fence.span.end),
                with: String::new(),
            });
        }
    }
}

/// The session's status line as readers should not see it: the document
/// and the bytes of the line (the whole result block when it holds
/// nothing else), if there is one to remove.
///
/// litprog writes the status line as the last line of a session's last
/// result block. Whether that line is one depends on the session's
/// `status` option, and for `status: nonzero` on the outcome: that of the
/// session's run in this build, or, for a session that did not run, the
/// line's own form (a status line starts with `# `).
fn status_line(
    project: &Project,
    group: &crate::document::Group,
    spec: &options::SessionSpec,
    report: Option<&SessionReport>,
    settings: &Settings,
) -> Option<(usize, Range<usize>)> {
    if settings.show_status == ShowStatus::Always {
        return None;
    }
    let (d, r) = group.blocks.iter().rev().find_map(|code| {
        let doc = &project.documents[code.doc];
        result_block::existing_result(doc, code.block).map(|r| (code.doc, r))
    })?;
    let doc = &project.documents[d];
    let block = &doc.blocks[r];
    let last = block.fence.content.lines().last()?;
    let ran = report.filter(|s| s.ran());
    let plain_exit_0 = |s: &SessionReport| {
        s.ok && matches!(&s.run, Run::Finished(c) if c.outcome == Outcome::Exited(0))
    };
    let is_status = match spec.status {
        StatusMode::Always => true,
        StatusMode::Never => false,
        StatusMode::Nonzero => match ran {
            Some(s) => !plain_exit_0(s),
            None => last.starts_with("# "),
        },
    };
    let remove = is_status
        && match settings.show_status {
            ShowStatus::Always => false,
            ShowStatus::Never => true,
            ShowStatus::Failure => {
                last == "# exit: 0"
                    && match ran {
                        Some(s) => plain_exit_0(s),
                        None => spec.expected_exit_code == 0,
                    }
            }
        };
    if !remove || !block.fence.closed {
        return None;
    }
    // The closing fence's line, and the status line before it.
    let text = doc.text.as_str();
    let span = &block.fence.span;
    let first = line_end(text, block.fence.opener.end);
    let body = text[..span.end].trim_end_matches(['\n', '\r']);
    let close = body.rfind('\n').map_or(span.start, |i| i + 1);
    if close <= first {
        return None;
    }
    let status = text[..close - 1].rfind('\n').map_or(span.start, |i| i + 1);
    if status == first {
        // Nothing but the status line: the whole block goes.
        return Some((d, span.clone()));
    }
    Some((d, status..close))
}
