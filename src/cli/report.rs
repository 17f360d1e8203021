//! Terminal output of `build` and `check`: one line per session, failure
//! details with numbered input and output, and the closing summary.

use std::fmt::Write as _;

use super::Status;
use serde_json::json;

use crate::build::{BuildReport, Mode, Progress};
use crate::document::Project;
use crate::options::Spec;
use crate::runner::{self, Run, SessionReport};

/// Print the line (and, on failure, the details) of a finished session.
pub fn session_finished(project: &Project, report: &SessionReport) {
    let group = &project.groups[report.group];
    for (r, dropped) in runner::truncated_blocks(group, &report.run) {
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
        for (_, lines) in runner::placements(group, spec, &report.run) {
            for line in lines.into_iter().flatten() {
                output.push(format!("{:>4} | {}", output.len() + 1, clip(&line)));
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

/// Print what the build changed and decide the exit status. With `json`,
/// stdout holds only events: diffs go to stderr.
pub fn summary(report: &BuildReport, mode: Mode, json: bool) -> Status {
    let print_diff = |diff: &str| {
        if json {
            eprint!("{diff}");
        } else {
            super::print_out(diff);
        }
    };
    for w in &report.project.warnings {
        log::warn!("{w}");
    }
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
        print_diff(&edited.diff);
        log::error!(
            "{} was changed since litprog wrote it and differs from what the documents produce; it was left as it is and no session ran. Move the change into the document at {}, or overwrite it with `litprog build --force`",
            edited.path.display(),
            edited.location
        );
    }
    for stale in &report.stale {
        print_diff(&stale.diff);
        log::error!("{}: results are out of date", stale.path.display());
    }
    let failed = report.sessions.iter().filter(|s| !s.ok).count();
    let total = report.sessions.len();
    for (path, err) in &report.write_errors {
        log::error!("{}: cannot write: {err}", path.display());
    }
    if report.interrupted {
        log::error!("{}", interrupted_message(&report.rewritten));
        return Status::Interrupted;
    }
    if failed > 0 {
        log::error!("{failed} of {total} sessions failed");
    }
    if total > 0 {
        log::info!("{}", session_counts(report));
    }
    if mode == Mode::Check && report.stale.is_empty() && report.edited.is_empty() && failed == 0 {
        log::info!("all results are up to date ({total} sessions)");
    }
    if report.success() {
        Status::Success
    } else {
        Status::Failure
    }
}

/// An event as one JSON object (`--message-format json`).
pub fn event_json(progress: &Progress<'_>) -> serde_json::Value {
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
    match progress {
        Progress::TangledWritten(path, _) => {
            json!({"event": "tangled_file_written", "path": path.display().to_string()})
        }
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
    }
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
