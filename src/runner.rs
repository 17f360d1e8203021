//! The runner: executes a [`Plan`]'s sessions, in parallel where their
//! dependencies allow, and reports how each went ([`Run`]); what that puts
//! in result blocks is [`crate::result_block`]'s.
//!
//! The planner decides what waits for what; the runner only executes. Each
//! session runs on its own thread (the engine's own threads do the I/O),
//! and a channel reports completions back to the scheduling loop, which
//! never polls. One exception: with one session at a time (`jobs` 1) and
//! nothing to report while it runs ([`Detail::Sessions`]), a session runs
//! on the caller's thread, which would only wait for it (a thread and its
//! hand-off cost a one-session build 0.54 ms: 7.55 against 7.01 ms, 600
//! builds of each). With [`RunOptions::detail`] above [`Detail::Sessions`] the
//! same channel carries each block's start and each output line from the
//! session engine's [`Observer`], so that every
//! [`RunEvent`] reaches the caller on its own thread, in order. The channel
//! is bounded: a session printing faster than the caller can take its lines
//! waits for it (its pipe fills, and the interpreter waits too) instead of
//! piling them up in memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::time::Duration;

use encoding_rs::Encoding;

use crate::cache::{Cache, Cached, Key};
use crate::document::{Group, Project};
use crate::options::{SessionSpec, Spec};
use crate::plan::Plan;
use crate::session::{
    self, Cancel, Capture, Observer, Outcome, SessionError, SessionOptions, Stream,
};

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
    /// What is reported while sessions run, besides their start and end.
    pub detail: Detail,
}

/// How much the runner reports while a session runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Detail {
    /// Only sessions starting and ending (the default): the session engine
    /// is given no observer, and costs nothing more.
    #[default]
    Sessions,
    /// Also each block as it starts ([`RunEvent::BlockStarted`]).
    Blocks,
    /// Also each output line as it is read ([`RunEvent::Output`]).
    Output,
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
            detail: Detail::Sessions,
        }
    }
}

/// How one session went.
#[derive(Debug)]
pub enum Run {
    /// The process ran; see the capture.
    Finished(Capture),
    /// The process could not be started, and why.
    StartFailed(SessionError),
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
    /// The cache key its results are to be stored under: set when it ran
    /// with a cache and succeeded. The runner stores nothing; its caller
    /// stores the result lines ([`crate::build`]), which the runner does not
    /// make.
    pub cache_key: Option<Key>,
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

fn run_one(
    project: &Project,
    group: &Group,
    spec: &SessionSpec,
    defaults: &RunOptions,
    observer: Option<Arc<dyn Observer>>,
) -> Run {
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
    opts.observer = observer;
    match session::run(opts, &blocks, timeout) {
        Ok(capture) => Run::Finished(capture),
        Err(e @ SessionError::NotFound { .. }) if defaults.skip_unavailable => {
            Run::Unavailable(format!("{e} (--skip-unavailable)"))
        }
        Err(e) => Run::StartFailed(e),
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
    /// A block of a running session started (with [`Detail::Blocks`] or
    /// more): `block` indexes the session's [`Group::blocks`]. Block 0
    /// follows [`RunEvent::Started`]; each other one, the arrival of the
    /// marker before it. A session without markers (an interpreter litprog
    /// does not know) reports block 0 only.
    BlockStarted {
        /// The session, an index into [`Project::groups`].
        group: usize,
        /// The block, an index into the session's blocks.
        block: usize,
    },
    /// A line of a running session's output (with [`Detail::Output`]),
    /// decoded, without its line ending; lines beyond the output limit
    /// ([`OUTPUT_LIMIT`]) are not reported, and one longer than
    /// [`STREAMED_LINE_LIMIT`] is cut there.
    Output {
        /// The session, an index into [`Project::groups`].
        group: usize,
        /// Stdout (also stderr, merged, by default) or stderr.
        stream: Stream,
        /// The text.
        line: &'a str,
    },
    /// A session finished, was skipped, or its results came from the cache
    /// ([`SessionReport::cached`]).
    Done(&'a SessionReport),
}

/// [`run`] with a result cache: a session whose key has an entry is not run
/// (its report holds [`Run::Cached`]), and the report of one that ran and
/// succeeded holds the key to store its results under
/// ([`SessionReport::cache_key`]), which its caller does on
/// [`RunEvent::Done`], before any other session starts. A session that misses runs on its own: the sessions it requires
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

/// Bytes of one output line reported at most ([`RunEvent::Output`]); the
/// rest of it is cut, and the line says how much.
pub const STREAMED_LINE_LIMIT: usize = 16 << 10;

/// Messages to the scheduling loop queued at most: with lines of at most
/// [`STREAMED_LINE_LIMIT`], a few MiB.
const QUEUED: usize = 256;

/// What the sessions' threads tell the scheduling loop.
enum Msg {
    /// A session (a step of the plan) ended. Boxed: a `Run` is large, and
    /// the channel's buffer holds [`QUEUED`] messages from the start.
    Done(usize, Box<Run>),
    /// A block of a step started.
    Block(usize, usize),
    /// An output line of a step.
    Output(usize, Stream, String),
}

/// The runner's observer of one session: forwards to the scheduling loop.
struct Forward {
    step: usize,
    tx: SyncSender<Msg>,
    output: bool,
    encoding: &'static Encoding,
}

impl Observer for Forward {
    fn block_started(&self, index: usize) {
        let _ = self.tx.send(Msg::Block(self.step, index));
    }

    fn output_line(&self, stream: Stream, line: &[u8]) {
        if !self.output {
            return;
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let cut = line.len().min(STREAMED_LINE_LIMIT);
        let mut text = self
            .encoding
            .decode_without_bom_handling(&line[..cut])
            .0
            .into_owned();
        if cut < line.len() {
            text.push_str(&format!("... ({} more bytes)", line.len() - cut));
        }
        let _ = self.tx.send(Msg::Output(self.step, stream, text));
    }
}

/// [`run_events`] with the function that runs one session given, so that
/// tests can make it fail in ways a real session cannot.
fn run_with(
    project: &Project,
    plan: &Plan,
    options: &RunOptions,
    cache: Option<&Cache>,
    mut on_event: impl FnMut(RunEvent<'_>),
    exec: impl Fn(&Project, &Group, &SessionSpec, &RunOptions, Option<Arc<dyn Observer>>) -> Run + Sync,
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
        let (tx, rx) = mpsc::sync_channel::<Msg>(QUEUED);
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
                    let observer = (options.detail > Detail::Sessions).then(|| {
                        let encoding = spec
                            .encoding
                            .as_deref()
                            .and_then(|label| Encoding::for_label(label.trim().as_bytes()));
                        Arc::new(Forward {
                            step: s,
                            tx: tx.clone(),
                            output: options.detail >= Detail::Output,
                            encoding: encoding.unwrap_or(encoding_rs::UTF_8),
                        }) as Arc<dyn Observer>
                    });
                    let inline = jobs == 1 && observer.is_none();
                    let tx = tx.clone();
                    let session = move || {
                        let run = run_guarded(&group.lpid, || {
                            exec(project, group, spec, options, observer)
                        });
                        let _ = tx.send(Msg::Done(s, Box::new(run)));
                    };
                    if inline {
                        // One session at a time and nothing to report while
                        // it runs: it runs on this thread, which would only
                        // wait for it, sparing a thread and the hand-off of
                        // its end. The queue is empty: its `Done` is next.
                        session();
                    } else {
                        scope.spawn(session);
                    }
                }
            }
            if running == 0 {
                break;
            }
            // Every started thread sends `Done` exactly once (panics
            // included), and `tx` lives here, so this cannot disconnect
            // while any runs.
            let Ok(msg) = rx.recv() else { break };
            let (s, run) = match msg {
                Msg::Done(s, run) => (s, *run),
                // A reader of a process that left its group may outlive
                // its session: nothing is reported of a session after its end.
                Msg::Block(s, block) if state[s] == State::Running => {
                    let group = plan.steps[s].group;
                    on_event(RunEvent::BlockStarted { group, block });
                    continue;
                }
                Msg::Output(s, stream, line) if state[s] == State::Running => {
                    let group = plan.steps[s].group;
                    on_event(RunEvent::Output {
                        group,
                        stream,
                        line: &line,
                    });
                    continue;
                }
                Msg::Block(..) | Msg::Output(..) => continue,
            };
            running -= 1;
            if matches!(run, Run::Crashed(_)) {
                // litprog itself is broken: end every session of the build
                // rather than trust anything more it would do.
                cancel.cancel();
            }
            let mut report = finish(project, plan, s, run);
            if report.ok && matches!(report.run, Run::Finished(_)) {
                report.cache_key = keys[s].take();
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
        cache_key: None,
    }
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

    /// Runs `project` with the session `broken` panicking instead of
    /// running; the others run for real.
    fn run_with_broken(project: &Project, options: &RunOptions) -> Vec<SessionReport> {
        run_with(
            project,
            &Plan::new(project).unwrap(),
            options,
            None,
            |_| {},
            |p, g, spec, o, observer| {
                if g.lpid == "broken" {
                    panic!("injected failure");
                }
                run_one(p, g, spec, o, observer)
            },
        )
    }

    /// Asserts that `report` is the crash of `broken`, named as such.
    fn assert_broken_crashed(report: &SessionReport) {
        assert!(!report.ok);
        assert!(
            matches!(&report.run, Run::Crashed(m) if m.contains("session 'broken'") && m.contains("injected failure")),
            "{:?}",
            report.run
        );
        assert!(report.outcome().starts_with("internal error: "));
    }

    #[test]
    fn one_session_at_a_time_runs_on_the_callers_thread_unless_events_are_wanted() {
        let project = project(
            "```bash lpid=a lptype=session\necho a\n```\n\n\
             ```bash lpid=b lptype=session\necho b\n```\n",
        );
        let plan = Plan::new(&project).unwrap();
        let threads = |jobs: usize, detail: Detail| {
            let options = RunOptions {
                jobs,
                detail,
                ..RunOptions::default()
            };
            let seen = std::sync::Mutex::new(Vec::new());
            let reports = run_with(
                &project,
                &plan,
                &options,
                None,
                |_| {},
                |p, g, spec, o, observer| {
                    seen.lock().unwrap().push(std::thread::current().id());
                    run_one(p, g, spec, o, observer)
                },
            );
            assert!(reports.iter().all(|r| r.ok), "{reports:?}");
            let here = std::thread::current().id();
            let seen = seen.into_inner().unwrap();
            assert_eq!(seen.len(), 2);
            seen.iter().filter(|&&t| t == here).count()
        };
        assert_eq!(threads(1, Detail::Sessions), 2);
        assert_eq!(threads(1, Detail::Blocks), 0);
        assert_eq!(threads(2, Detail::Sessions), 0);
    }

    #[test]
    fn a_panic_of_a_session_run_on_the_callers_thread_names_the_session() {
        let project = project(
            "```bash lpid=broken lptype=session\necho hi\n```\n\n\
             ```bash lpid=later lptype=session\necho never\n```\n",
        );
        let options = RunOptions::default();
        let reports = run_with_broken(&project, &options);
        assert_broken_crashed(&reports[0]);
        // As from a thread: the build is cancelled, and nothing more runs.
        assert!(
            matches!(&reports[1].run, Run::Skipped(_)),
            "{:?}",
            reports[1].run
        );
        assert!(options.cancel.is_cancelled());
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
        let options = RunOptions {
            jobs: 2,
            ..RunOptions::default()
        };
        let started = Instant::now();
        let reports = run_with_broken(&project, &options);
        assert!(started.elapsed() < Duration::from_secs(30));
        let by_lpid = |lpid: &str| {
            reports
                .iter()
                .find(|r| project.groups[r.group].lpid == lpid)
                .unwrap_or_else(|| panic!("no report for {lpid}: {reports:?}"))
        };
        assert_broken_crashed(by_lpid("broken"));
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
    fn blocks_and_output_are_reported_only_when_asked_for() {
        let project =
            project("```bash lpid=s lptype=session\necho one\n```\n\n```bash\necho two\n```\n");
        let plan = Plan::new(&project).unwrap();
        let events = |detail| {
            let options = RunOptions {
                detail,
                ..RunOptions::default()
            };
            let mut seen = Vec::new();
            run_events(&project, &plan, &options, None, |e| {
                seen.push(match e {
                    RunEvent::Started(_) => "started".to_string(),
                    RunEvent::BlockStarted { block, .. } => format!("block {block}"),
                    RunEvent::Output { line, .. } => format!("output {line}"),
                    RunEvent::Done(_) => "done".to_string(),
                })
            });
            seen
        };
        assert_eq!(events(Detail::Sessions), ["started", "done"]);
        assert_eq!(
            events(Detail::Blocks),
            ["started", "block 0", "block 1", "done"]
        );
        assert_eq!(
            events(Detail::Output),
            [
                "started",
                "block 0",
                "output one",
                "block 1",
                "output two",
                "done"
            ]
        );
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
}
