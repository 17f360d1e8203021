//! The runner: executes a [`Plan`]'s sessions, in parallel where their
//! dependencies allow, and turns each capture into result block lines.
//!
//! The planner decides what waits for what; the runner only executes. Each
//! session runs on its own thread (the engine's own threads do the I/O),
//! and a channel reports completions back to the scheduling loop, which
//! never polls.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::cache::{Cache, Cached, Key};
use crate::document::{BlockRef, Group, Project};
use crate::options::{OutputMode, SessionSpec, Spec, StatusMode};
use crate::plan::Plan;
use crate::redact::{Places, Redactor};
use crate::session::{
    self, BlockCapture, Cancel, Capture, Line, Outcome, SessionError, SessionOptions, Stream,
};
use crate::writeback::Lines;

/// How the runner schedules.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOptions {
    /// Sessions running at once (at least 1). The default, 1, runs them one
    /// at a time in document order: sessions of different documents often
    /// share files on disk without saying so in `requires`, and only one at
    /// a time gives them the same results on every run.
    pub jobs: usize,
    /// Timeout of sessions that set none.
    pub default_timeout: Duration,
    /// Run everything possible after a failure instead of stopping.
    pub keep_going: bool,
    /// A session whose interpreter is not installed is skipped with a
    /// warning instead of failing.
    pub skip_unavailable: bool,
    /// Ends the run: no new session starts and the running ones are
    /// terminated. Each build should have its own.
    pub cancel: Cancel,
}

/// Timeout of each block of a session that sets none (`timeout`,
/// `--timeout`, `litprog.toml`'s `timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 1,
            default_timeout: DEFAULT_TIMEOUT,
            keep_going: false,
            skip_unavailable: false,
            cancel: Cancel::new(),
        }
    }
}

/// How one session went.
#[derive(Debug)]
pub enum Run {
    /// The process ran; see the capture.
    Finished(Capture),
    /// The process could not be started.
    StartFailed(String),
    /// Not run: its interpreter is not installed and unavailable sessions
    /// are skipped (`--skip-unavailable`).
    Unavailable(String),
    /// Not run: a requirement failed, or the build stopped.
    Skipped(Skip),
    /// litprog itself failed while running the session (a bug); the
    /// message says what happened.
    Crashed(String),
    /// Not run: its inputs did not change since a run that succeeded, and
    /// that run's results come from the cache.
    Cached(Cached),
}

/// Why a session was not run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skip {
    /// A session it requires (this lpid) failed.
    Requirement(String),
    /// The build stopped after a failure (without `--keep-going`).
    AfterFailure,
    /// The build was interrupted.
    Interrupted,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Requirement(lpid) => write!(f, "requires '{lpid}', which failed"),
            Skip::AfterFailure => {
                f.write_str("the build stopped after a failure (use --keep-going to run it)")
            }
            Skip::Interrupted => f.write_str("the build was interrupted"),
        }
    }
}

/// One session's result.
#[derive(Debug)]
pub struct SessionReport {
    /// Index into [`Project::groups`].
    pub group: usize,
    /// What happened.
    pub run: Run,
    /// Whether it counts as success.
    pub ok: bool,
    /// The exit status it had to have.
    pub expected_exit_code: i32,
    /// `path:line` of the block that read input meant for the blocks after
    /// it (a session fed on stdin), which fails the session.
    pub input_consumed_at: Option<String>,
}

impl SessionReport {
    /// A one-line description of the outcome: `exit 0`, `timed out after
    /// 2 s`, `killed by SIGSEGV`, ...
    pub fn outcome(&self) -> String {
        if let Some(at) = &self.input_consumed_at {
            return format!("the block at {at} read input meant for the blocks after it");
        }
        match &self.run {
            Run::Finished(c) => match &c.outcome {
                Outcome::Exited(n) if *n == self.expected_exit_code => format!("exit {n}"),
                Outcome::Exited(n) => {
                    format!("exit {n} (expected {})", self.expected_exit_code)
                }
                other => other.to_string(),
            },
            Run::StartFailed(e) => format!("could not start: {e}"),
            Run::Unavailable(e) => format!("skipped: {e}"),
            Run::Skipped(why) => format!("skipped: {why}"),
            Run::Crashed(why) => format!("internal error: {why}"),
            Run::Cached(c) => c.outcome.clone(),
        }
    }

    /// Whether the session ran, so that its results are to be written. A
    /// session that was skipped, or could not start, leaves its result
    /// blocks as they were.
    pub fn ran(&self) -> bool {
        matches!(self.run, Run::Finished(_) | Run::Cached(_))
    }

    /// Whether its results came from the cache (no process started).
    pub fn cached(&self) -> bool {
        matches!(self.run, Run::Cached(_))
    }

    /// Wall time of the session's process, if it ran.
    pub fn runtime(&self) -> Option<Duration> {
        match &self.run {
            Run::Finished(c) => Some(c.runtime),
            _ => None,
        }
    }
}

/// `timed out after 2 s`, `killed by SIGKILL`, `exit 3`.
/// Output kept per block (per stream) for its result block (1 MiB); markers
/// never count. The rest is read and dropped, and the block's result says
/// how much was cut: documentation is no place for megabytes of output, and
/// litprog's memory stays bounded whatever a session prints.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// The engine's options for a session group.
pub fn session_options(spec: &SessionSpec) -> SessionOptions {
    let mut opts = SessionOptions::new(spec.command.0.clone());
    opts.output_limit = OUTPUT_LIMIT;
    opts.env = spec
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    opts.cwd = spec.cwd.as_ref().map(PathBuf::from);
    opts.term = spec.term;
    opts.stderr = spec.stderr;
    opts.session_timeout = spec.session_timeout;
    opts.show_value = spec.show_value;
    opts.echo = spec.echo;
    opts.input_delay = spec.input_delay;
    opts.encoding = spec.encoding.clone();
    opts.marker = spec.marker.clone();
    opts
}

fn run_one(project: &Project, group: &Group, spec: &SessionSpec, defaults: &RunOptions) -> Run {
    let blocks: Vec<session::Block> = group
        .blocks
        .iter()
        .map(|&r| {
            let block = project.block(r);
            session::Block {
                code: block.code.clone(),
                file: Some(project.documents[r.doc].path.display().to_string()),
                line: block.code_line,
            }
        })
        .collect();
    let timeout = spec.timeout.unwrap_or(defaults.default_timeout);
    let mut opts = session_options(spec);
    opts.cancel = defaults.cancel.clone();
    // This thread waits for the session, so the interpreter may die with it.
    opts.end_with_parent = true;
    match session::run(opts, &blocks, timeout) {
        Ok(capture) => Run::Finished(capture),
        Err(e @ SessionError::NotFound { .. }) if defaults.skip_unavailable => {
            Run::Unavailable(format!("{e} (--skip-unavailable)"))
        }
        Err(e) => Run::StartFailed(e.to_string()),
    }
}

/// Runs `run` on the calling thread, turning a panic into [`Run::Crashed`]
/// so that the scheduler always hears back.
fn run_guarded(lpid: &str, run: impl FnOnce() -> Run) -> Run {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(run) => run,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Run::Crashed(format!(
                "the thread running session '{lpid}' panicked: {what}"
            ))
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Waiting,
    Running,
    /// Finished or skipped: succeeded, failed, or not run because its
    /// interpreter (or that of a session it requires) is not installed.
    Done(Done),
}

#[derive(Clone, Copy, PartialEq)]
enum Done {
    Ok,
    Failed,
    Unavailable,
}

/// Run the plan's sessions. `on_done` is called on the calling thread as
/// each session finishes (or is skipped), in completion order.
///
/// With `jobs: 1` sessions run one at a time in the plan's order (document
/// order), each after the sessions it requires.
pub fn run(
    project: &Project,
    plan: &Plan,
    options: &RunOptions,
    mut on_done: impl FnMut(&SessionReport),
) -> Vec<SessionReport> {
    let on_event = |e: RunEvent<'_>| {
        if let RunEvent::Done(r) = e {
            on_done(r)
        }
    };
    run_with(project, plan, options, None, on_event, run_one)
}

/// What the runner reports as it goes, on the calling thread, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunEvent<'a> {
    /// The process of a session (an index into [`Project::groups`]) is
    /// about to start.
    Started(usize),
    /// A session finished, was skipped, or its results came from the cache
    /// ([`SessionReport::cached`]).
    Done(&'a SessionReport),
}

/// [`run`] with a result cache: a session whose key has an entry is not run
/// (its report holds [`Run::Cached`]), and one that ran and succeeded is
/// stored. A session that misses runs on its own: the sessions it requires
/// that hit are not run again (their effects on disk are taken to persist).
///
/// The key of a session is taken when it is about to start, after the
/// sessions it requires finished, so that the `files:` they write count.
pub fn run_events(
    project: &Project,
    plan: &Plan,
    options: &RunOptions,
    cache: Option<&Cache>,
    on_event: impl FnMut(RunEvent<'_>),
) -> Vec<SessionReport> {
    run_with(project, plan, options, cache, on_event, run_one)
}

/// [`run_events`] with the function that runs one session given, so that
/// tests can make it fail in ways a real session cannot.
fn run_with(
    project: &Project,
    plan: &Plan,
    options: &RunOptions,
    cache: Option<&Cache>,
    mut on_event: impl FnMut(RunEvent<'_>),
    exec: impl Fn(&Project, &Group, &SessionSpec, &RunOptions) -> Run + Sync,
) -> Vec<SessionReport> {
    let n = plan.steps.len();
    let mut keys: Vec<Option<Key>> = vec![None; n];
    let mut state = vec![State::Waiting; n];
    let mut reports: Vec<Option<SessionReport>> = (0..n).map(|_| None).collect();
    let mut running = 0;
    let mut stop = false;
    let jobs = options.jobs.max(1);
    let cancel = &options.cancel;
    let exec = &exec;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Run)>();
        loop {
            stop |= cancel.is_cancelled();
            // Skip what can no longer run: a requirement failed or is
            // unavailable, or the build stops.
            let mut changed = true;
            while changed {
                changed = false;
                for s in 0..n {
                    if state[s] != State::Waiting {
                        continue;
                    }
                    let dep = |what| {
                        plan.steps[s]
                            .after
                            .iter()
                            .find(|&&d| state[d] == State::Done(what))
                            .map(|&d| &project.groups[plan.steps[d].group].lpid)
                    };
                    let run = if let Some(lpid) = dep(Done::Failed) {
                        Run::Skipped(Skip::Requirement(lpid.clone()))
                    } else if let Some(lpid) = dep(Done::Unavailable) {
                        Run::Unavailable(format!("requires '{lpid}', which is unavailable"))
                    } else if stop {
                        Run::Skipped(if cancel.is_cancelled() {
                            Skip::Interrupted
                        } else {
                            Skip::AfterFailure
                        })
                    } else {
                        continue;
                    };
                    let report = finish(project, plan, s, run);
                    state[s] = State::Done(done_state(&report));
                    on_event(RunEvent::Done(&report));
                    reports[s] = Some(report);
                    changed = true;
                }
            }
            // Start what is ready, in plan order. A session whose results
            // are cached is done at once, which may make others ready.
            let mut again = true;
            while again {
                again = false;
                for s in 0..n {
                    if running >= jobs || stop {
                        break;
                    }
                    let ready = state[s] == State::Waiting
                        && plan.steps[s]
                            .after
                            .iter()
                            .all(|&d| state[d] == State::Done(Done::Ok));
                    if !ready {
                        continue;
                    }
                    let index = plan.steps[s].group;
                    let group = &project.groups[index];
                    let Spec::Session(spec) = &group.spec else {
                        continue;
                    };
                    if let Some(cache) = cache
                        && let Some(key) = cache.key(project, index, options.default_timeout)
                    {
                        if let Some(hit) = cache.get(&key, group.blocks.len()) {
                            let report = finish(project, plan, s, Run::Cached(hit));
                            state[s] = State::Done(done_state(&report));
                            on_event(RunEvent::Done(&report));
                            reports[s] = Some(report);
                            again = true;
                            continue;
                        }
                        keys[s] = Some(key);
                    }
                    state[s] = State::Running;
                    running += 1;
                    on_event(RunEvent::Started(index));
                    let tx = tx.clone();
                    scope.spawn(move || {
                        let run = run_guarded(&group.lpid, || exec(project, group, spec, options));
                        let _ = tx.send((s, run));
                    });
                }
            }
            if running == 0 {
                break;
            }
            // Every started thread sends exactly once (panics included), and
            // `tx` lives here, so this cannot disconnect while any runs.
            let Ok((s, run)) = rx.recv() else { break };
            running -= 1;
            if matches!(run, Run::Crashed(_)) {
                // litprog itself is broken: end every session of the build
                // rather than trust anything more it would do.
                cancel.cancel();
            }
            let report = finish(project, plan, s, run);
            if let (Some(cache), Some(key)) = (cache, keys[s].take()) {
                store(cache, &key, project, &report);
            }
            state[s] = State::Done(done_state(&report));
            if !report.ok && !options.keep_going {
                stop = true;
            }
            on_event(RunEvent::Done(&report));
            reports[s] = Some(report);
        }
    });
    reports.into_iter().flatten().collect()
}

/// Store the results of a session that ran with the expected outcome.
fn store(cache: &Cache, key: &Key, project: &Project, report: &SessionReport) {
    let group = &project.groups[report.group];
    let (true, Run::Finished(_), Spec::Session(spec)) = (report.ok, &report.run, &group.spec)
    else {
        return;
    };
    // Stored as written (redacted), so that a hit is the same on any machine.
    let lines = placements(group, spec, &report.run, &crate::redact::project_root())
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

fn done_state(report: &SessionReport) -> Done {
    match report.run {
        Run::Unavailable(_) => Done::Unavailable,
        _ if report.ok => Done::Ok,
        _ => Done::Failed,
    }
}

fn finish(project: &Project, plan: &Plan, step: usize, run: Run) -> SessionReport {
    let group = plan.steps[step].group;
    let expected = match &project.groups[group].spec {
        Spec::Session(s) => s.expected_exit_code,
        _ => 0,
    };
    let consumed = match &run {
        Run::Finished(c) => c.input_consumed_by,
        _ => None,
    };
    let input_consumed_at = consumed
        .and_then(|b| project.groups[group].blocks.get(b))
        .map(|&r| project.location(r));
    let ok = input_consumed_at.is_none()
        && match &run {
            Run::Finished(c) => c.outcome == Outcome::Exited(expected),
            Run::Unavailable(_) | Run::Cached(_) => true,
            Run::StartFailed(_) | Run::Skipped(_) | Run::Crashed(_) => false,
        };
    SessionReport {
        group,
        run,
        ok,
        expected_exit_code: expected,
        input_consumed_at,
    }
}

/// Remove ANSI escape sequences (CSI, OSC and two-byte escapes). Text
/// without an escape is returned as it is, without a copy.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if memchr::memchr(0x1b, s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // CSI: parameters and intermediates, then one final byte.
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: ends with BEL or ESC \.
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// Captured lines as result block lines: stdout (and echoed input) as
/// printed, stderr (only separate from stdout with `stderr: separate`)
/// prefixed with `! `, ANSI escapes removed, and a line rewritten with
/// carriage returns shown in its final state, as a terminal shows it.
pub fn result_lines<'a>(lines: impl IntoIterator<Item = Line<'a>>) -> Lines {
    let mut out = Lines::new();
    let mut prefixed = String::new();
    for l in lines {
        let text = l.text.strip_suffix('\n').unwrap_or(l.text);
        let text = strip_ansi(text);
        let text = overstrike(&text);
        match l.stream {
            Stream::Stderr => {
                prefixed.clear();
                prefixed.push_str("! ");
                prefixed.push_str(&text);
                out.push(&prefixed);
            }
            Stream::Stdout | Stream::Stdin => out.push(&text),
        }
    }
    out
}

/// A line as a terminal leaves it: each carriage return goes back to the
/// start of the line, and what follows overwrites what was there.
pub fn overstrike(line: &str) -> Cow<'_, str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if memchr::memchr(b'\r', line.as_bytes()).is_none() {
        return Cow::Borrowed(line);
    }
    let mut screen: Vec<char> = Vec::new();
    let mut col = 0;
    for c in line.chars() {
        if c == '\r' {
            col = 0;
            continue;
        }
        if col < screen.len() {
            screen[col] = c;
        } else {
            screen.push(c);
        }
        col += 1;
    }
    Cow::Owned(screen.into_iter().collect())
}

/// The last line of a session's result: `# exit: 0`, `# timed out after
/// 10 s`, `# killed by SIGSEGV`.
pub fn status_line(run: &Run) -> String {
    match run {
        Run::Finished(c) if c.input_consumed_by.is_some() => {
            "# error: this block read input meant for the blocks after it".to_string()
        }
        Run::Finished(c) => match &c.outcome {
            Outcome::Exited(n) => format!("# exit: {n}"),
            other => format!("# {other}"),
        },
        Run::StartFailed(e) => format!("# could not start: {e}"),
        Run::Unavailable(why) => format!("# not run: {why}"),
        Run::Skipped(why) => format!("# not run: {why}"),
        Run::Crashed(why) => format!("# internal error: {why}"),
        Run::Cached(c) => format!("# {}", c.outcome),
    }
}

/// The `# output truncated` line of a block that went over the output limit.
fn truncation_line(block: &BlockCapture) -> Option<String> {
    (block.dropped_bytes > 0)
        .then(|| format!("# output truncated: {} bytes dropped", block.dropped_bytes))
}

/// The blocks of a finished session whose output went over the limit, with
/// the bytes dropped, for the console's warnings.
pub fn truncated_blocks(group: &Group, run: &Run) -> Vec<(BlockRef, u64)> {
    let Run::Finished(c) = run else {
        return Vec::new();
    };
    let last = group.blocks.len().saturating_sub(1);
    c.blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.dropped_bytes > 0)
        .filter_map(|(i, b)| {
            let at = if c.per_block { i } else { last };
            group.blocks.get(at).map(|&r| (r, b.dropped_bytes))
        })
        .collect()
}

/// Where the result blocks of a session go: for each of its code blocks,
/// the lines of its result block (`None`: no result block).
///
/// With `output: block`, each block that printed gets its own lines, the
/// block over the output limit a `# output truncated` line, and the status
/// line goes under the block that was running when the session ended (the
/// one that read the input of later blocks, if any); blocks that never ran
/// get nothing.
///
/// Every line is redacted (`[ROOT]`, `[TMP]`, ..., and the `redact` option) with the places of a
/// project rooted at `root`, and the status line is written as the
/// session's `status` option says.
pub fn placements(
    group: &Group,
    spec: &SessionSpec,
    run: &Run,
    root: &Path,
) -> Vec<(BlockRef, Option<Lines>)> {
    let mut placed = placements_unredacted(group, spec, run);
    if let Run::Cached(_) = run {
        // Stored already redacted.
        return placed;
    }
    let redactor = redactor(spec, root);
    if !redactor.is_empty() {
        for lines in placed.iter_mut().filter_map(|(_, l)| l.as_mut()) {
            if lines
                .iter()
                .any(|line| matches!(redactor.apply(line), Cow::Owned(_)))
            {
                *lines = lines.iter().map(|line| redactor.apply(line)).collect();
            }
        }
    }
    placed
}

/// The redactions of a session of a project rooted at `root`: the
/// built-in places (unless `redact_builtin: false`), then its `redact`
/// expressions in placeholder order.
pub(crate) fn redactor(spec: &SessionSpec, root: &Path) -> Redactor {
    let mut redactor = if spec.redact_builtin {
        let cwd = match &spec.cwd {
            Some(dir) => root.join(dir),
            None => root.to_path_buf(),
        };
        Redactor::builtin(&Places::of_this_machine(root, &cwd))
    } else {
        Redactor::none()
    };
    for (placeholder, pattern) in &spec.redact {
        // Checked when the options were read.
        if let Ok(re) = crate::redact::compile(pattern) {
            redactor = redactor.with_pattern(placeholder, re);
        }
    }
    redactor
}

fn placements_unredacted(
    group: &Group,
    spec: &SessionSpec,
    run: &Run,
) -> Vec<(BlockRef, Option<Lines>)> {
    let n = group.blocks.len();
    if let Run::Cached(c) = run {
        // Stored for this very session (the key covers its blocks).
        return group.blocks.iter().copied().zip(c.lines.clone()).collect();
    }
    let mut per_block: Vec<Option<Lines>> = vec![None; n];
    // A block's own `output` wins over the session's.
    let shown: Vec<bool> = (0..n)
        .map(|i| {
            group
                .block_output
                .get(i)
                .copied()
                .flatten()
                .unwrap_or(spec.output)
                != OutputMode::None
        })
        .collect();
    if !shown.contains(&true) {
        return group.blocks.iter().map(|&r| (r, None)).collect();
    }
    let shown_at = |upto: usize| (0..=upto).rev().find(|&i| shown[i]);
    let mut status_at = n - 1;
    if let Run::Finished(c) = run {
        let with_tail = |b: &BlockCapture| {
            let mut lines = result_lines(b.lines());
            if let Some(line) = truncation_line(b) {
                lines.push(&line);
            }
            lines
        };
        match (c.per_block, spec.output) {
            (true, OutputMode::Block | OutputMode::None) => {
                for (i, b) in c.blocks.iter().enumerate().take(n) {
                    let lines = with_tail(b);
                    if shown[i] && !lines.is_empty() {
                        per_block[i] = Some(lines);
                    }
                }
                status_at = c
                    .input_consumed_by
                    .unwrap_or_else(|| c.ran().max(1) - 1)
                    .min(n - 1);
            }
            // Blocks keep their exact order.
            _ => {
                let mut lines = Lines::new();
                for (_, b) in c
                    .blocks
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| !c.per_block || shown.get(i) != Some(&false))
                {
                    lines.extend(with_tail(b).iter());
                }
                if let Some(at) = shown_at(n - 1) {
                    per_block[at] = Some(lines);
                }
            }
        }
    }
    let plain_success = matches!(run, Run::Finished(c) if c.outcome == Outcome::Exited(0));
    let with_status = match spec.status {
        StatusMode::Always => true,
        StatusMode::Nonzero => !plain_success,
        StatusMode::Never => false,
    };
    // The status line goes under the block that was running when the
    // session ended, or the nearest shown block before it.
    let at = shown_at(status_at).or_else(|| shown.iter().position(|&s| s));
    if with_status && let Some(at) = at {
        per_block[at]
            .get_or_insert_with(Lines::new)
            .push(&status_line(run));
    }
    group.blocks.iter().copied().zip(per_block).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;
    use std::path::Path;
    use std::time::Instant;

    fn project(text: &str) -> Project {
        let doc = Document::parse(Path::new("doc.md"), text.to_string()).unwrap();
        Project::new(vec![doc]).unwrap()
    }

    #[test]
    fn a_panic_in_a_session_thread_ends_the_run_and_names_the_session() {
        // `slow` really runs, in parallel with `broken`, whose thread panics:
        // the runner must hear back, end `slow` long before its 60 s, and
        // report both.
        let project = project(
            "```bash lpid=slow lptype=session timeout=60\nsleep 60\n```\n\n\
             ```bash lpid=broken lptype=session\necho hi\n```\n\n\
             ```bash lpid=later lptype=session\necho never\n```\n",
        );
        let plan = Plan::new(&project).unwrap();
        let options = RunOptions {
            jobs: 2,
            ..RunOptions::default()
        };
        let started = Instant::now();
        let reports = run_with(
            &project,
            &plan,
            &options,
            None,
            |_| {},
            |p, g, spec, o| {
                if g.lpid == "broken" {
                    panic!("injected failure");
                }
                run_one(p, g, spec, o)
            },
        );
        assert!(started.elapsed() < Duration::from_secs(30));
        let by_lpid = |lpid: &str| {
            reports
                .iter()
                .find(|r| project.groups[r.group].lpid == lpid)
                .unwrap_or_else(|| panic!("no report for {lpid}: {reports:?}"))
        };
        let broken = by_lpid("broken");
        assert!(!broken.ok);
        assert!(
            matches!(&broken.run, Run::Crashed(m) if m.contains("session 'broken'") && m.contains("injected failure")),
            "{:?}",
            broken.run
        );
        assert!(broken.outcome().starts_with("internal error: "));
        let slow = by_lpid("slow");
        assert!(
            matches!(&slow.run, Run::Finished(c) if matches!(c.outcome, Outcome::Signaled { .. })),
            "{:?}",
            slow.run
        );
        assert!(matches!(by_lpid("later").run, Run::Skipped(_)));
        assert!(options.cancel.is_cancelled());
    }

    #[test]
    fn a_cancelled_run_does_not_poison_the_next() {
        let project = project("```bash lpid=s lptype=session\necho hi\n```\n");
        let plan = Plan::new(&project).unwrap();
        let first = RunOptions::default();
        first.cancel.cancel();
        let reports = run(&project, &plan, &first, |_| {});
        assert!(matches!(&reports[0].run, Run::Skipped(Skip::Interrupted)));
        let second = RunOptions::default();
        let reports = run(&project, &plan, &second, |_| {});
        assert!(reports[0].ok, "{:?}", reports[0].run);
    }

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}x"), "x");
        assert_eq!(strip_ansi("no escapes"), "no escapes");
        assert!(matches!(
            strip_ansi("no escapes"),
            Cow::Borrowed("no escapes")
        ));
        assert!(matches!(strip_ansi(""), Cow::Borrowed("")));
        assert_eq!(strip_ansi("a\u{1b}"), "a");
        assert_eq!(strip_ansi("\u{1b}]0;t\u{1b}\\é\u{1b}(B"), "éB");
    }

    #[test]
    fn lines_are_prefixed_by_stream() {
        let l = |stream, text| Line { stream, text };
        let lines = [
            l(Stream::Stdout, "out\r\n"),
            l(Stream::Stderr, "err\n"),
            l(Stream::Stdout, "last"),
            l(Stream::Stderr, "\u{1b}[31mred\u{1b}[0m\r\n"),
            l(Stream::Stdin, "in\n"),
            l(Stream::Stderr, ""),
        ];
        assert_eq!(
            result_lines(lines).to_vec(),
            vec!["out", "! err", "last", "! red", "in", "! "]
        );
    }

    #[test]
    fn carriage_returns_overwrite_as_in_a_terminal() {
        assert_eq!(overstrike("10%\r20%\r100%"), "100%");
        assert_eq!(overstrike("abcdef\rXY"), "XYcdef");
        assert_eq!(overstrike("done\r"), "done");
        assert!(matches!(overstrike("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn status_lines() {
        let cap = |outcome| Capture {
            outcome,
            runtime: Duration::ZERO,
            blocks: Vec::new(),
            per_block: false,
            input_consumed_by: None,
        };
        assert_eq!(
            status_line(&Run::Finished(cap(Outcome::Exited(3)))),
            "# exit: 3"
        );
        assert_eq!(
            status_line(&Run::Finished(cap(Outcome::TimedOut(Duration::from_secs(
                2
            ))))),
            "# timed out after 2 s"
        );
        assert_eq!(
            status_line(&Run::Finished(cap(Outcome::Signaled {
                signal: 11,
                name: "SIGSEGV".into()
            }))),
            "# killed by SIGSEGV"
        );
    }
}
