//! Terminal output of `build` and `check`: one line per session, failure
//! details with numbered input and output, and the closing summary.

use std::fmt::Write as _;

use super::Format;
use super::Status;
use serde_json::json;

use crate::build::{BuildReport, Mode, Progress};
use crate::document::Project;
use crate::options::Spec;
use crate::runner::{self, Run, SessionReport, Skip};

/// Print the line (and, on failure, the details) of a finished session.
pub fn session_finished(project: &Project, report: &SessionReport) {
    let group = &project.groups[report.group];
    for (r, dropped) in crate::result_block::truncated_blocks(group, &report.run) {
        log::warn!(
            "{}: output truncated: {dropped} bytes dropped (the limit is {} bytes per block)",
            project.location(r),
            runner::OUTPUT_LIMIT
        );
    }
    let time = report
        .runtime()
        .map(|t| format!("  {:.2}s", t.as_secs_f64()))
        .unwrap_or_default();
    if report.cached() {
        log::debug!("ok    {}  {}  (cached)", group.lpid, report.outcome());
        return;
    }
    if let Run::Unavailable(_) = report.run {
        log::warn!("skip  {}  {}", group.lpid, report.outcome());
        return;
    }
    if report.ok {
        log::info!("ok    {}  {}{time}", group.lpid, report.outcome());
        return;
    }
    if let Run::Skipped(_) = report.run {
        log::warn!("skip  {}  {}", group.lpid, report.outcome());
        return;
    }
    let mut msg = format!(
        "session '{}' ({}:{}) failed: {}{time}\n",
        group.lpid,
        group.path.display(),
        group.line,
        report.outcome()
    );
    // The input up to the block that was running when the session ended
    // (blocks after it never ran), and the output: the tail of each, so a
    // long session's cause is on screen without scrolling through it all.
    let ran = match &report.run {
        Run::Finished(c) if c.per_block => c.ran(),
        _ => group.blocks.len(),
    };
    let mut input = Vec::new();
    for &r in group.blocks.iter().take(ran.max(1)) {
        let block = project.block(r);
        let path = project.documents[r.doc].path.display();
        for (i, line) in block.code.lines().enumerate() {
            input.push(format!("{path}:{} | {}", block.code_line + i, clip(line)));
        }
    }
    msg.push_str("  input:\n");
    push_tail(&mut msg, &input, "input lines");
    if ran < group.blocks.len() {
        let later = group.blocks.len() - ran;
        let noun = if later == 1 { "block" } else { "blocks" };
        let _ = writeln!(msg, "    ({later} later {noun} never ran)");
    }
    let mut output = Vec::new();
    if let Spec::Session(spec) = &group.spec {
        let root = crate::build::project_root();
        for (_, lines) in crate::result_block::placements(group, spec, &report.run, &root) {
            for line in lines.iter().flat_map(|l| l.iter()) {
                output.push(format!("{:>4} | {}", output.len() + 1, clip(line)));
            }
        }
    }
    msg.push_str("  output:\n");
    push_tail(&mut msg, &output, "output lines");
    log::error!("{}", msg.trim_end());
}

/// Lines of a failure report shown at most, per section.
const REPORT_LINES: usize = 60;
/// Characters of one line shown at most.
const REPORT_WIDTH: usize = 200;

fn clip(line: &str) -> String {
    match line.char_indices().nth(REPORT_WIDTH) {
        Some((cut, _)) => format!("{}... ({} more bytes)", &line[..cut], line.len() - cut),
        None => line.to_string(),
    }
}

/// Append the last [`REPORT_LINES`] of `lines`, indented, noting how many
/// earlier ones were left out.
fn push_tail(msg: &mut String, lines: &[String], what: &str) {
    let skip = lines.len().saturating_sub(REPORT_LINES);
    if skip > 0 {
        let _ = writeln!(msg, "    ({skip} earlier {what} not shown)");
    }
    for line in &lines[skip..] {
        let _ = writeln!(msg, "    {line}");
    }
}

/// `n noun` with the noun in the plural unless `n` is 1.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A unified diff, coloured for a terminal when stdout is one.
fn print_diff(diff: &str) {
    if !super::color_stdout() {
        super::print_out(diff);
        return;
    }
    let mut out = String::with_capacity(diff.len() + diff.len() / 4);
    for line in diff.split_inclusive('\n') {
        let color = if line.starts_with("+++") || line.starts_with("---") {
            "\x1b[1m"
        } else if line.starts_with('+') {
            "\x1b[32m"
        } else if line.starts_with('-') {
            "\x1b[31m"
        } else if line.starts_with("@@") {
            "\x1b[36m"
        } else {
            ""
        };
        if color.is_empty() {
            out.push_str(line);
        } else {
            let text = line.strip_suffix('\n').unwrap_or(line);
            out.push_str(color);
            out.push_str(text);
            out.push_str("\x1b[0m");
            if text.len() < line.len() {
                out.push('\n');
            }
        }
    }
    super::print_out(&out);
}

/// The closing count of sessions that did not succeed, if any did not:
/// "2 of 5 sessions failed; 1 was not run because it requires a failed
/// session".
fn failure_count(report: &BuildReport) -> Option<String> {
    let total = report.sessions.len();
    let mut failed = 0;
    let mut blocked = 0;
    let mut stopped = 0;
    for s in report.sessions.iter().filter(|s| !s.ok) {
        match &s.run {
            Run::Skipped(Skip::Requirement(_)) => blocked += 1,
            Run::Skipped(_) => stopped += 1,
            _ => failed += 1,
        }
    }
    if failed + blocked + stopped == 0 {
        return None;
    }
    let mut parts = vec![format!(
        "{} of {} failed",
        failed,
        count(total, "session", "sessions")
    )];
    if blocked > 0 {
        parts.push(format!(
            "{} not run because {} a failed session",
            blocked,
            if blocked == 1 {
                "it requires"
            } else {
                "they require"
            }
        ));
    }
    if stopped > 0 {
        parts.push(format!(
            "{} not run after the first failure (--keep-going runs {})",
            stopped,
            if stopped == 1 { "it" } else { "them" }
        ));
    }
    Some(parts.join("; "))
}

/// Print what the build changed and decide the exit status. With `json`
/// (`--message-format json`), stdout holds only events: diffs go to
/// stderr; with `format` json (`check --format json`), it holds only the
/// problems.
pub fn summary(report: &BuildReport, mode: Mode, format: Format, json: bool) -> Status {
    if format == Format::Json {
        for problem in problems(report) {
            super::print_out(&(problem.to_string() + "\n"));
        }
    }
    let show_diff = |diff: &str| {
        if json {
            super::status::eprint(diff.as_bytes());
        } else if format == Format::Text {
            print_diff(diff);
        }
    };
    for (path, written) in &report.tangled {
        if *written {
            log::debug!("wrote {}", path.display());
        }
    }
    for stale in &report.stale_results {
        let at = format!("{}:{}", stale.path.display(), stale.line);
        match (mode, stale.removable) {
            (Mode::Write, true) => log::info!(
                "removed stale result block {at} (lpout={} follows no code block of '{}')",
                stale.lpid,
                stale.lpid
            ),
            (Mode::Check, true) => log::error!(
                "{at}: stale result block: lpout={} follows no code block of '{}'",
                stale.lpid,
                stale.lpid
            ),
            (_, false) => log::warn!(
                "{at}: stale result block: lpout={} follows no code block of '{}'; it opens a list item, so litprog leaves it for you to remove",
                stale.lpid,
                stale.lpid
            ),
        }
    }
    for path in &report.rewritten {
        log::info!("updated {}", path.display());
    }
    for path in &report.conflicts {
        log::error!(
            "{} changed on disk during the build; it was left as it is (build again to update it)",
            path.display()
        );
    }
    for edited in &report.edited {
        show_diff(&edited.diff);
        log::error!(
            "{} was changed since litprog wrote it and differs from what the documents produce; it was left as it is and no session ran. Move the change into the document at {}, or overwrite it with `litprog build --force`",
            edited.path.display(),
            edited.location
        );
    }
    for stale in &report.stale {
        show_diff(&stale.diff);
        log::error!("{}: results are out of date", stale.path.display());
    }
    let total = report.sessions.len();
    let failures = failure_count(report);
    for (path, err) in &report.write_errors {
        log::error!("{}: cannot write: {err}", path.display());
    }
    for e in &report.tangle_errors {
        log::error!("{e}; no session ran");
    }
    if report.interrupted {
        log::error!("{}", interrupted_message(&report.rewritten));
        return Status::Interrupted;
    }
    if let Some(failures) = &failures {
        log::error!("{failures}");
    }
    if total > 0 {
        log::info!("{}", session_counts(report));
    }
    if mode == Mode::Check
        && report.stale.is_empty()
        && report.edited.is_empty()
        && failures.is_none()
    {
        // Sessions skipped (--skip-unavailable) kept their results
        // unchecked: a CI gate must not call those up to date.
        let not_run = report.sessions.iter().filter(|s| !s.ran()).count();
        if not_run == 0 {
            log::info!(
                "all results are up to date ({})",
                count(total, "session", "sessions")
            );
        } else {
            log::warn!(
                "results of {} of {} are up to date; {not_run} did not run, so their results were not checked",
                total - not_run,
                count(total, "session", "sessions")
            );
        }
    }
    if report.success() {
        Status::Success
    } else {
        Status::Failure
    }
}

/// An event as one JSON object (`--message-format json`); output lines
/// are none (with `-v` they go to stderr).
pub fn event_json(progress: &Progress<'_>) -> Option<serde_json::Value> {
    let session = |project: &Project, group: usize| {
        let g = &project.groups[group];
        json!({"lpid": g.lpid, "file": g.path.display().to_string(), "line": g.line})
    };
    let with = |mut base: serde_json::Value, extra: serde_json::Value| {
        if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
            b.extend(e);
        }
        base
    };
    Some(match progress {
        Progress::TangledWritten(path, _) => {
            json!({"event": "tangled_file_written", "path": path.display().to_string()})
        }
        Progress::BlockStarted {
            project,
            group,
            block,
        } => {
            let (path, line) = progress.block_location()?;
            json!({
                "event": "block_started",
                "lpid": project.groups[*group].lpid,
                "index": block,
                "file": path.display().to_string(),
                "line": line,
            })
        }
        Progress::Output { .. } => return None,
        Progress::SessionStarted(project, group) => with(
            json!({"event": "session_started"}),
            session(project, *group),
        ),
        Progress::SessionFinished(project, r) => with(
            with(
                json!({"event": "session_finished"}),
                session(project, r.group),
            ),
            json!({
                "ok": r.ok,
                "outcome": r.outcome(),
                "ran": r.ran(),
                "duration_s": r.runtime().map(|d| d.as_secs_f64()),
            }),
        ),
        Progress::SessionCached(project, r) => with(
            with(
                json!({"event": "session_cached"}),
                session(project, r.group),
            ),
            json!({"ok": r.ok, "outcome": r.outcome()}),
        ),
        Progress::Rewritten(path, _) => {
            json!({"event": "document_written", "path": path.display().to_string()})
        }
        Progress::Warnings(warnings) => json!({
            "event": "warnings",
            "warnings": warnings
                .iter()
                .map(|w| json!({
                    "file": w.path.display().to_string(),
                    "line": w.line,
                    "message": w.message,
                }))
                .collect::<Vec<_>>(),
        }),
        Progress::Finished(report) => {
            let paths = |v: &mut dyn Iterator<Item = &std::path::PathBuf>| {
                v.map(|p| p.display().to_string()).collect::<Vec<_>>()
            };
            json!({
                "event": "build_finished",
                "success": report.success(),
                "interrupted": report.interrupted,
                "sessions": report.sessions.len(),
                "ran": report.sessions.iter().filter(|s| matches!(s.run, Run::Finished(_))).count(),
                "cached": report.sessions.iter().filter(|s| s.cached()).count(),
                "failed": report.sessions.iter().filter(|s| !s.ok).count(),
                "stale": paths(&mut report.stale.iter().map(|s| &s.path)),
                "conflicts": paths(&mut report.conflicts.iter()),
            })
        }
    })
}

/// `3 sessions: 1 ran, 2 from the cache` (and how many were skipped).
pub fn session_counts(report: &BuildReport) -> String {
    let total = report.sessions.len();
    let cached = report.sessions.iter().filter(|s| s.cached()).count();
    let ran = report
        .sessions
        .iter()
        .filter(|s| matches!(s.run, Run::Finished(_)))
        .count();
    let noun = if total == 1 { "session" } else { "sessions" };
    let mut line = format!("{total} {noun}: {ran} ran, {cached} from the cache");
    let other = total - ran - cached;
    if other > 0 {
        let _ = write!(line, ", {other} not run");
    }
    line
}

/// `litprog clean`: remove the result cache.
pub fn clean(root: &std::path::Path) -> Status {
    match crate::cache::clean(root) {
        Ok(n) => {
            let noun = if n == 1 { "entry" } else { "entries" };
            log::info!("removed the result cache ({n} {noun})");
            Status::Success
        }
        Err(e) => {
            log::error!(
                "cannot remove the result cache {}: {e}",
                crate::cache::dir(root).display()
            );
            Status::Failure
        }
    }
}

/// What an interrupted build did to the documents: which were rewritten
/// before the interrupt (after it, none is).
pub fn interrupted_message(rewritten: &[std::path::PathBuf]) -> String {
    if rewritten.is_empty() {
        return "build interrupted; no document was rewritten".to_string();
    }
    let names: Vec<String> = rewritten.iter().map(|p| p.display().to_string()).collect();
    format!(
        "build interrupted after rewriting {} of its documents ({}); no other document was rewritten",
        names.len(),
        names.join(", ")
    )
}

/// Every problem of a `check` as a JSON object: `kind`, `file`, `line`,
/// `lpid`, `expected`, `actual` (null where they do not apply).
fn problems(report: &BuildReport) -> Vec<serde_json::Value> {
    use serde_json::json;
    let project = &report.project;
    let mut out = Vec::new();
    for s in report.sessions.iter().filter(|s| !s.ok) {
        let group = &project.groups[s.group];
        let kind = match s.run {
            Run::Skipped(_) => "session_not_run",
            _ => "session_failed",
        };
        out.push(json!({
            "kind": kind,
            "file": group.path.display().to_string(),
            "line": group.line,
            "lpid": group.lpid,
            "expected": format!("exit {}", s.expected_exit_code),
            "actual": s.outcome(),
        }));
    }
    for stale in &report.stale_results {
        out.push(json!({
            "kind": "stale_result_block",
            "file": stale.path.display().to_string(),
            "line": stale.line,
            "lpid": stale.lpid,
            "expected": null,
            "actual": null,
        }));
    }
    for stale in &report.stale {
        let Some(doc) = project.documents.iter().find(|d| d.path == stale.path) else {
            continue;
        };
        for hunk in hunks(&doc.text, &stale.new_text) {
            out.push(json!({
                "kind": "results_out_of_date",
                "file": stale.path.display().to_string(),
                "line": hunk.0,
                "lpid": lpout_in(&hunk.2)
                    .or_else(|| lpout_in(&hunk.1))
                    .or_else(|| result_lpid_at(doc, hunk.0)),
                "expected": hunk.2,
                "actual": hunk.1,
            }));
        }
    }
    for edited in &report.edited {
        out.push(json!({
            "kind": "tangled_file_changed",
            "file": edited.path.display().to_string(),
            "line": null,
            "lpid": null,
            "expected": null,
            "actual": null,
            "location": edited.location,
        }));
    }
    for path in &report.conflicts {
        out.push(json!({
            "kind": "changed_during_build",
            "file": path.display().to_string(),
            "line": null, "lpid": null, "expected": null, "actual": null,
        }));
    }
    out
}

/// The changed places between `old` and `new`: the 1-based line in `old`
/// where each starts, the old text there and the new text.
fn hunks(old: &str, new: &str) -> Vec<(usize, String, String)> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    for group in diff.grouped_ops(0) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let old_text: String = old_range
            .clone()
            .filter_map(|i| diff.old_slice(i))
            .collect();
        let new_text: String = new_range.filter_map(|i| diff.new_slice(i)).collect();
        out.push((old_range.start + 1, old_text, new_text));
    }
    out
}

/// The lpid of the first result block opening in `text`, if any.
fn lpout_in(text: &str) -> Option<String> {
    let attr = format!("{}=", crate::document::RESULT_ATTR);
    text.lines()
        .filter(|l| l.trim_start().starts_with(['`', '~']))
        .find_map(|l| {
            let at = l.find(&attr)? + attr.len();
            let word = l[at..].split_whitespace().next()?;
            Some(word.trim_matches(['"', '\'']).to_string())
        })
}

/// The lpid of the block holding `line`, or else of the last one before
/// it (a result block is inserted after its code block).
fn result_lpid_at(doc: &crate::document::Document, line: usize) -> Option<String> {
    let last_line = |b: &crate::document::Block| {
        let span = &doc.text[b.fence.span.clone()];
        b.fence.line + span.matches('\n').count().max(1) - 1
    };
    doc.blocks
        .iter()
        .rev()
        .find(|b| b.fence.line <= line && line <= last_line(b))
        .or_else(|| doc.blocks.iter().rev().find(|b| last_line(b) < line))
        .and_then(|b| match &b.role {
            crate::document::Role::Result { lpid } => Some(lpid.clone()),
            _ => b.lpid.clone(),
        })
}
