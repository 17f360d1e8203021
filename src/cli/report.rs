//! Terminal output of `build` and `check`: one line per session, failure
//! details with numbered input and output, and the closing summary.

use std::fmt::Write as _;

use super::Status;
use crate::build::{BuildReport, Mode};
use crate::document::Project;
use crate::options::Spec;
use crate::runner::{self, Run, SessionReport};

/// Print the line (and, on failure, the details) of a finished session.
pub fn session_finished(project: &Project, report: &SessionReport) {
    let group = &project.groups[report.group];
    let time = report
        .runtime()
        .map(|t| format!("  {:.2}s", t.as_secs_f64()))
        .unwrap_or_default();
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
    msg.push_str("  input:\n");
    for &r in &group.blocks {
        let block = project.block(r);
        let path = project.documents[r.doc].path.display();
        for (i, line) in block.code.lines().enumerate() {
            let _ = writeln!(msg, "    {path}:{} | {line}", block.code_line + i);
        }
    }
    msg.push_str("  output:\n");
    if let Spec::Session(spec) = &group.spec {
        let mut n = 0;
        for (_, lines) in runner::placements(group, spec, &report.run) {
            for line in lines.into_iter().flatten() {
                n += 1;
                let _ = writeln!(msg, "    {n:>4} | {line}");
            }
        }
    }
    log::error!("{}", msg.trim_end());
}

/// Print what the build changed and decide the exit status.
pub fn summary(report: &BuildReport, mode: Mode) -> Status {
    for w in &report.project.warnings {
        log::warn!("{w}");
    }
    for (path, written) in &report.tangled {
        if *written {
            log::debug!("wrote {}", path.display());
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
    for stale in &report.stale {
        print!("{}", stale.diff);
        log::error!("{}: results are out of date", stale.path.display());
    }
    let failed = report.sessions.iter().filter(|s| !s.ok).count();
    let total = report.sessions.len();
    if report.interrupted {
        log::error!("build interrupted; documents were not rewritten");
        return Status::Interrupted;
    }
    if failed > 0 {
        log::error!("{failed} of {total} sessions failed");
    }
    if mode == Mode::Check && report.stale.is_empty() && failed == 0 {
        log::info!("all results are up to date ({total} sessions)");
    }
    if report.success() {
        Status::Success
    } else {
        Status::Failure
    }
}
