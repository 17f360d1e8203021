//! [`Session`]: one running process, its threads, and the end of it all.
//!
//! Threads per session, and why:
//! - one reader per output stream (one when stdout and stderr are merged,
//!   two when separate), started with the process, so the child never
//!   blocks on a full pipe; they divide the output among the blocks as it
//!   arrives and note each marker, with its time, in the session's
//!   [`reader::LastMarker`];
//! - one input writer, so the caller never blocks on the child's input
//!   (none when [`run`] gives the child its input as a file);
//! - one waiter, blocked in `waitpid`.
//!
//! All of them report their ends on one channel, which [`Session::wait`]
//! receives from with a deadline: the per-block timeout counts from the
//! latest marker, looked up when the deadline comes.

use std::convert::Infallible;
use std::io::{PipeWriter, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use encoding_rs::Encoding;

use super::cancel::{Cancel, TERMINATION_GRACE};
use super::capture::{Capture, Outcome, Parts, Stream};
use super::driver;
use super::marker::{self, Interpreter, Markers};
use super::reader::{self, Event, LastMarker, Splitter};
use super::spawn::{self, Launch, Spawned, Stdin};
use super::sys::{self, GroupSignal};
use super::writer::{self, BlockSource, Feed, Layout, Protocol};
use super::{SessionError, SessionOptions, StderrMode};

/// How long to wait, after the group is gone, for the readers to see the end
/// of their streams. Only a process that left the group (`setsid`) can hold a
/// pipe open longer; its output is then cut off rather than waited for.
const READER_LINGER: Duration = Duration::from_secs(2);

/// How long to wait for the leader's exit after SIGKILL; only a process stuck
/// in the kernel takes longer.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// A running interpreter process.
///
/// ```
/// use std::time::Duration;
/// use litprog::session::{Outcome, Session, SessionOptions};
///
/// let mut session = Session::start(SessionOptions::from_command("sh").unwrap()).unwrap();
/// session.send_blocks(&["echo one\n".to_string(), "echo two >&2".to_string()]);
/// let capture = session.wait(Duration::from_secs(10));
/// assert_eq!(capture.outcome, Outcome::Exited(0));
/// let blocks = &capture.blocks;
/// assert_eq!((blocks[0].stdout.as_str(), blocks[1].stdout.as_str()), ("one\n", "two\n"));
/// ```
pub struct Session {
    start: Instant,
    pgid: i32,
    cancel: Cancel,
    registry_id: u64,
    input: Option<Sender<Vec<u8>>>,
    events: Receiver<Event>,
    streams: Vec<Arc<Mutex<Splitter>>>,
    /// The highest marker the readers found, and when.
    last_marker: Arc<LastMarker>,
    readers_left: usize,
    feed: Feed,
    encoding: &'static Encoding,
    fed_on_stdin: bool,
    session_timeout: Option<Duration>,
    exit: Option<(ExitStatus, Instant)>,
    finished: bool,
}

/// How the interpreter gets its blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// On stdin, where a block can read it (custom marker, `input_delay`,
    /// commands with arguments of their own).
    Stdin,
    /// Shells, ruby, perl: the script is `/dev/stdin`, which the interpreter
    /// opens as a descriptor of its own; the script's first line then puts
    /// `/dev/null` on stdin, before any block runs.
    DevStdin,
    /// python and node: a driver (see `driver.rs`).
    Driver,
}

impl Session {
    /// Starts the process in its own process group, with its reader, writer
    /// and waiter threads.
    pub fn start(opts: SessionOptions) -> Result<Session, SessionError> {
        Session::start_with::<String>(opts, None)
    }

    /// Starts the process with `blocks` given up front: written to a
    /// temporary file that the interpreter reads (see [`writer::spool`]). If
    /// no such file can be made, they go through a pipe.
    fn start_with<B: BlockSource>(
        opts: SessionOptions,
        blocks: Option<&[B]>,
    ) -> Result<Session, SessionError> {
        let (program, encoding) = checked(&opts)?;
        let interpreter = Interpreter::detect(&opts.argv);
        let delivery = delivery(&opts, interpreter);
        let merged = opts.stderr == StderrMode::Merged;
        let protocol = protocol(&opts, interpreter, delivery, merged);
        let mut feed = Feed::new(protocol, encoding, opts.echo);
        let (mut launch, outputs) = command(&opts, interpreter, delivery)
            .map_err(|source| SessionError::from_spawn(&program, source))?;
        let start = Instant::now();
        // Blocks that still have to go through the pipe.
        let pending = blocks.and_then(|blocks| given_as_file(&mut launch, &mut feed, blocks));
        let prefix = feed.markers().map(|m| m.prefix().to_string());
        let (pgid, registry_id, threads) =
            start_process(launch, outputs, &opts, &program, prefix.as_deref())?;
        let mut session = Session {
            start,
            pgid,
            cancel: opts.cancel,
            registry_id,
            input: threads.input,
            events: threads.events,
            readers_left: threads.streams.len(),
            streams: threads.streams,
            last_marker: threads.last_marker,
            feed,
            encoding,
            fed_on_stdin: delivery == Delivery::Stdin,
            session_timeout: opts.session_timeout,
            exit: None,
            finished: false,
        };
        if let Some(blocks) = pending {
            session.send_blocks(blocks);
        }
        Ok(session)
    }

    /// The process id, which is also the id of the session's process group.
    pub fn id(&self) -> u32 {
        self.pgid as u32
    }

    /// Time since the session started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Queues `text` for the interpreter; never blocks. Text sent after
    /// [`send_blocks`](Session::send_blocks) counts as part of the last block.
    pub fn send(&mut self, text: &str) {
        let input = &self.input;
        let _ = self.feed.text(text, &mut |b| queue(input, b));
    }

    /// Queues `blocks` (plain code, or [`Block`](super::Block)s that say
    /// where they come from), with a marker between consecutive blocks (also
    /// between calls) when the interpreter has one. Never blocks.
    pub fn send_blocks<B: BlockSource>(&mut self, blocks: &[B]) {
        let input = &self.input;
        let _ = self.feed.blocks(blocks, &mut |b| queue(input, b));
    }

    /// When the block running now started, as far as the markers tell:
    /// the latest marker's time, or the session's start before the first.
    fn block_started(&self) -> Instant {
        self.last_marker.get().map_or(self.start, |(_, at)| at)
    }

    /// Handles one event; true when it was the leader's exit.
    fn on_event(&mut self, event: Event) -> bool {
        match event {
            Event::Done => {
                self.readers_left = self.readers_left.saturating_sub(1);
                false
            }
            Event::Exit(status, at) => {
                self.exit = Some((status, at));
                true
            }
        }
    }

    /// Receives events until the leader's exit or `until`; true on exit.
    /// `until` is asked again when the time runs out: a block's deadline
    /// moves when the next block starts, which sends no event.
    fn wait_exit(&mut self, until: impl Fn(&Session) -> Instant) -> bool {
        while self.exit.is_none() {
            let left = until(self).saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.on_event(event);
                }
                Err(RecvTimeoutError::Timeout) if until(self) > Instant::now() => {}
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => return true,
            }
        }
        true
    }

    /// Closes the input, waits for the process, each block at most `timeout`
    /// from the moment it started (and the whole session at most its
    /// `session_timeout`), terminates what is left of its process group, and
    /// returns the capture.
    pub fn wait(mut self, timeout: Duration) -> Capture {
        // Closing the input (once the queue is written) lets the interpreter
        // see the end of its script.
        self.input = None;
        let session_deadline = self.session_timeout.map(|t| self.start + t);
        let deadline = |s: &Session| {
            let block = s.block_started() + timeout;
            session_deadline.map_or(block, |d| d.min(block))
        };
        let mut timed_out = None;
        if !self.wait_exit(deadline) {
            let (at, block_deadline) = (Instant::now(), self.block_started() + timeout);
            timed_out = Some(match (session_deadline, self.session_timeout) {
                (Some(d), Some(t)) if d <= at && d < block_deadline => Outcome::SessionTimedOut(t),
                _ => Outcome::TimedOut(timeout),
            });
            log::debug!("process group {} {:?}", self.pgid, timed_out);
            self.terminate();
        }
        self.clear_group();

        let (status, ended) = match self.exit {
            Some((status, at)) => (Some(status), at),
            None => (None, Instant::now()),
        };
        let outcome = match (timed_out, status) {
            (Some(outcome), _) => outcome,
            (None, Some(status)) => outcome_of(status),
            (None, None) => Outcome::Signaled {
                signal: 0,
                name: "unknown".into(),
            },
        };
        let streams = self
            .streams
            .iter()
            .map(|s| std::mem::replace(&mut *reader::lock(s), Splitter::new(None, 0)))
            .collect();
        let blocks = match self.feed.markers() {
            Some(_) if self.feed.blocks_sent > 0 => Some(self.feed.blocks_sent),
            _ => None,
        };
        let capture = Parts {
            streams,
            blocks,
            inputs: std::mem::take(&mut self.feed.inputs),
            encoding: self.encoding,
            outcome,
            runtime: ended.saturating_duration_since(self.start),
            fed_on_stdin: self.fed_on_stdin,
        }
        .into_capture();
        self.cancel.unregister(self.registry_id);
        self.finished = true;
        capture
    }

    /// SIGTERM to the group, a grace period for the leader to exit, then
    /// SIGKILL.
    fn terminate(&mut self) {
        sys::signal_group(self.pgid, GroupSignal::Terminate);
        let grace = Instant::now() + TERMINATION_GRACE;
        if self.wait_exit(|_| grace) {
            return;
        }
        sys::signal_group(self.pgid, GroupSignal::Kill);
        let kill = Instant::now() + KILL_WAIT;
        self.wait_exit(|_| kill);
    }

    /// Ends whatever is left of the group after its leader exited (such as
    /// `sleep 300 &` in a shell), then gives the readers a bounded time to
    /// reach the end of their streams.
    ///
    /// The grace after SIGTERM is waited on the events channel: we cannot
    /// wait for processes that are not our children, but once every process
    /// holding the pipes is gone the readers report the end. The group id
    /// cannot have been reused yet: the kernel keeps it while any member
    /// lives, and we signal it only right after the leader's exit.
    fn clear_group(&mut self) {
        if sys::signal_group(self.pgid, GroupSignal::Terminate) {
            self.wait_readers(Instant::now() + TERMINATION_GRACE);
            sys::signal_group(self.pgid, GroupSignal::Kill);
        }
        if !self.wait_readers(Instant::now() + READER_LINGER) {
            log::warn!(
                "output of process group {} still open after its end; ignoring the rest",
                self.pgid
            );
        }
    }

    /// Waits until every reader is done or `until`; true if they are done.
    fn wait_readers(&mut self, until: Instant) -> bool {
        while self.readers_left > 0 {
            let left = until.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.on_event(event);
                }
                Err(RecvTimeoutError::Timeout) => return false,
                Err(RecvTimeoutError::Disconnected) => self.readers_left = 0,
            }
        }
        true
    }
}

impl Drop for Session {
    /// A session dropped without [`Session::wait`] kills its process group,
    /// so nothing outlives it.
    fn drop(&mut self) {
        if !self.finished {
            sys::signal_group(self.pgid, GroupSignal::Kill);
            self.cancel.unregister(self.registry_id);
        }
    }
}

/// Queues bytes for the writer thread, if there is one (none when the
/// script is a file, and text sent after it was spooled has nowhere to go).
fn queue(input: &Option<Sender<Vec<u8>>>, bytes: Vec<u8>) -> Result<(), Infallible> {
    if let Some(input) = input {
        // Fails only when the writer stopped on a broken pipe: the process
        // no longer reads, so the text has nowhere to go.
        let _ = input.send(bytes);
    }
    Ok(())
}

/// Where the interpreter's own arguments start (after `env` and its
/// options), or `None` when `env` splits a string (`-S`).
fn program_index(argv: &[String]) -> Option<usize> {
    if marker::basename(&argv[0]) != "env" {
        return Some(0);
    }
    for (i, a) in argv.iter().enumerate().skip(1) {
        if a.starts_with("-S") || a == "--split-string" {
            return None;
        }
        if !a.starts_with('-') && !a.contains('=') {
            return Some(i);
        }
    }
    None
}

/// Whether the interpreter, run as `argv`, has only options that take no
/// script of their own, so that litprog may give it one.
fn only_options(argv: &[String], interpreter: Interpreter) -> bool {
    let Some(p) = program_index(argv) else {
        return false;
    };
    if interpreter == Interpreter::Python && marker::basename(&argv[p]).starts_with("python2") {
        return false;
    }
    let mut args = argv[p + 1..].iter();
    while let Some(a) = args.next() {
        match interpreter {
            Interpreter::Shell => {
                if matches!(a.as_str(), "--rcfile" | "--init-file") {
                    args.next();
                    continue;
                }
                if a.starts_with("--") {
                    continue;
                }
                let Some(flags) = a.strip_prefix('-').or_else(|| a.strip_prefix('+')) else {
                    return false;
                };
                if flags.is_empty() || flags.contains(['c', 's', 'i']) {
                    return false;
                }
                if flags.ends_with(['o', 'O']) {
                    args.next();
                }
            }
            Interpreter::Python => {
                const FLAGS: [&str; 12] = [
                    "-u", "-B", "-E", "-s", "-S", "-I", "-O", "-OO", "-q", "-b", "-bb", "-P",
                ];
                if !FLAGS.contains(&a.as_str()) {
                    return false;
                }
            }
            Interpreter::Node => {
                let takes_code = ["-e", "-p", "-i", "-r", "--eval", "--print", "--interactive"];
                if !a.starts_with("--") && !a.starts_with('-') || a == "-" || a == "--" {
                    return false;
                }
                if takes_code.contains(&a.as_str()) || a.starts_with("--require") {
                    return false;
                }
            }
            Interpreter::Ruby | Interpreter::Perl => {
                if !a.starts_with('-') || a == "-" || a == "--" || a.starts_with("-e") {
                    return false;
                }
                if a.starts_with("-E") || a.starts_with("-n") || a.starts_with("-p") {
                    return false;
                }
            }
        }
    }
    true
}

/// The program and the encoding of a session, or what is wrong with its
/// options before anything starts: no command, an unknown encoding, a
/// working directory that is none.
fn checked(opts: &SessionOptions) -> Result<(String, &'static Encoding), SessionError> {
    let program = opts.argv.first().ok_or(SessionError::EmptyCommand)?.clone();
    let encoding = match &opts.encoding {
        None => encoding_rs::UTF_8,
        Some(label) => Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
            SessionError::UnknownEncoding {
                label: label.clone(),
            }
        })?,
    };
    if let Some(cwd) = &opts.cwd
        && !cwd.is_dir()
    {
        return Err(SessionError::InvalidCwd { cwd: cwd.clone() });
    }
    Ok((program, encoding))
}

/// Gives `blocks` to `launch` as its stdin, a temporary file holding the
/// whole script; `None` when it did, else the blocks, which then go
/// through the pipe.
fn given_as_file<'b, B: BlockSource>(
    launch: &mut Launch,
    feed: &mut Feed,
    blocks: &'b [B],
) -> Option<&'b [B]> {
    match writer::spool(feed, blocks) {
        Ok(file) => {
            launch.stdin = Stdin::File(file);
            None
        }
        Err(err) => {
            log::debug!("no temporary file for the script ({err}); using a pipe");
            feed.restart();
            Some(blocks)
        }
    }
}

/// Spawns `launch` (which closes our copies of the child's descriptors, or
/// the readers would never see the end of the output), registers its
/// process group with the build's cancellation, and starts its threads
/// (the input writer only when its stdin is a pipe). The group id, the
/// registration, the threads.
fn start_process(
    launch: Launch,
    outputs: Vec<Box<dyn Read + Send>>,
    opts: &SessionOptions,
    program: &str,
    prefix: Option<&str>,
) -> Result<(i32, u64, Threads), SessionError> {
    let Spawned { pid, stdin } =
        spawn::spawn(launch).map_err(|source| SessionError::from_spawn(program, source))?;
    let pgid = pid;
    let cancel = &opts.cancel;
    let registry_id = cancel.register(pgid);
    log::debug!("started {:?} as process group {pgid}", opts.argv);
    // Block 0 starts with the process, told before any of its output is
    // read; the readers tell the others as their markers arrive.
    let started = opts.observer.as_ref().map(|observer| {
        observer.block_started(0);
        reader::Started::new(Arc::clone(observer))
    });
    let splitter = |stream| Splitter::new(prefix, opts.output_limit).observed(&started, stream);
    let threads = Threads::spawn(
        pid,
        (cancel.clone(), registry_id),
        outputs,
        stdin,
        opts.input_delay,
        &splitter,
    )
    .map_err(|source| {
        sys::signal_group(pgid, GroupSignal::Kill);
        cancel.unregister(registry_id);
        SessionError::Spawn {
            command: program.to_string(),
            source,
        }
    })?;
    Ok((pgid, registry_id, threads))
}

fn delivery(opts: &SessionOptions, interpreter: Option<Interpreter>) -> Delivery {
    let Some(interpreter) = interpreter else {
        return Delivery::Stdin;
    };
    if opts.marker.is_some() || opts.input_delay.is_some() || !only_options(&opts.argv, interpreter)
    {
        return Delivery::Stdin;
    }
    match interpreter {
        Interpreter::Python | Interpreter::Node => Delivery::Driver,
        Interpreter::Shell | Interpreter::Ruby | Interpreter::Perl => Delivery::DevStdin,
    }
}

fn protocol(
    opts: &SessionOptions,
    interpreter: Option<Interpreter>,
    delivery: Delivery,
    merged: bool,
) -> Protocol {
    let markers = match (&opts.marker, interpreter) {
        (Some(template), _) => Markers::new(template.clone()),
        (None, Some(interpreter)) => Markers::builtin(interpreter, merged),
        (None, None) => return Protocol::Plain,
    };
    let prefix = markers.prefix().to_string();
    if delivery == Delivery::Driver {
        let header = format!(
            "{prefix} {} {}\n",
            u8::from(!merged),
            u8::from(opts.show_value)
        );
        return Protocol::Framed { markers, header };
    }
    // The stdin redirection carries the prefix in a comment, so that a
    // shell echoing its input (`-v`) does not show it.
    let setup = match (delivery, interpreter) {
        (Delivery::DevStdin, Some(Interpreter::Shell)) => {
            format!("{{ exec </dev/null; }} 2>/dev/null # {prefix}\n")
        }
        (Delivery::DevStdin, Some(Interpreter::Ruby)) => {
            format!("STDIN.reopen(File::NULL) # {prefix}\n")
        }
        (Delivery::DevStdin, Some(Interpreter::Perl)) => {
            format!("open(STDIN, '<', '/dev/null'); # {prefix}\n")
        }
        _ => String::new(),
    };
    let layout = match (interpreter, &opts.marker, opts.input_delay) {
        (Some(Interpreter::Perl), None, None) => Layout::PerlLines,
        (Some(_), None, None) => Layout::Padded,
        _ => Layout::Packed,
    };
    Protocol::Statements {
        markers,
        setup,
        layout,
    }
}

/// What litprog adds to the interpreter's command line.
fn extra_args(interpreter: Option<Interpreter>, delivery: Delivery) -> Vec<&'static str> {
    match (delivery, interpreter) {
        (Delivery::Driver, Some(Interpreter::Python)) => {
            vec!["-c", driver::PYTHON_BOOT, driver::PYTHON_DRIVER]
        }
        (Delivery::Driver, _) => vec!["-e", driver::NODE_DRIVER],
        (Delivery::DevStdin, _) => vec!["/dev/stdin"],
        (Delivery::Stdin, _) => Vec::new(),
    }
}

/// The command line a session of `opts` runs and the bytes its interpreter
/// reads on stdin for `blocks` (script and markers, or the driver's
/// frames), as [`run`] gives them: for measuring what the protocol costs
/// the interpreter itself, outside litprog (the benchmark does).
pub fn prepare<B: BlockSource>(opts: &SessionOptions, blocks: &[B]) -> (Vec<String>, Vec<u8>) {
    let interpreter = Interpreter::detect(&opts.argv);
    let delivery = delivery(opts, interpreter);
    let merged = opts.stderr == StderrMode::Merged;
    let encoding = opts
        .encoding
        .as_deref()
        .and_then(|l| Encoding::for_label(l.trim().as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let mut feed = Feed::new(
        protocol(opts, interpreter, delivery, merged),
        encoding,
        false,
    );
    let mut input = Vec::new();
    let _ = feed.blocks(blocks, &mut |b| {
        input.extend(b);
        Ok::<(), Infallible>(())
    });
    let mut argv = opts.argv.clone();
    argv.extend(
        extra_args(interpreter, delivery)
            .into_iter()
            .map(String::from),
    );
    (argv, input)
}

/// The command for `opts`, and the output streams to read: one when stdout
/// and stderr are merged, two when separate.
/// `argv[0]` found on the child's `PATH` (its own `env` entry, else
/// litprog's), as `execvp` would find it, so that the child makes one
/// `execve` instead of one per `PATH` entry (a failed one is a system call
/// in a forked child, for every entry before the match; docs/performance.md
/// has the figure). A name with a `/`, one not found, or a `PATH` with a
/// relative entry before the match (relative to the child's directory) is
/// left for the child to resolve.
fn resolve_program(opts: &SessionOptions) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let name = &opts.argv[0];
    let given = std::path::PathBuf::from(name);
    if name.contains('/') || name.is_empty() {
        return given;
    }
    let path = match opts.env.iter().rev().find(|(k, _)| k == "PATH") {
        Some((_, v)) => std::ffi::OsString::from(v),
        None => match std::env::var_os("PATH") {
            Some(p) => p,
            None => return given,
        },
    };
    for dir in std::env::split_paths(&path) {
        if !dir.is_absolute() {
            return given;
        }
        let candidate = dir.join(name);
        if std::fs::metadata(&candidate)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        {
            return candidate;
        }
    }
    given
}

fn command(
    opts: &SessionOptions,
    interpreter: Option<Interpreter>,
    delivery: Delivery,
) -> std::io::Result<(Launch, Vec<Box<dyn Read + Send>>)> {
    // The program still sees the name it was given as `$0`.
    let argv = opts
        .argv
        .iter()
        .cloned()
        .chain(
            extra_args(interpreter, delivery)
                .into_iter()
                .map(String::from),
        )
        .collect();
    let mut env = opts.env.clone();
    if interpreter == Some(Interpreter::Python) && !env.iter().any(|(k, _)| k == "PYTHONUNBUFFERED")
    {
        // Unbuffered, so stdout and stderr interleave as written and every
        // marker is flushed when printed.
        env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    }
    let merged = opts.stderr == StderrMode::Merged;
    let (stdout, stderr, outputs): (OwnedFd, OwnedFd, Vec<Box<dyn Read + Send>>) =
        match (opts.term, merged) {
            (true, true) => {
                let pty = sys::open_pty()?;
                (
                    pty.slave.try_clone()?,
                    pty.slave,
                    vec![Box::new(pty.master)],
                )
            }
            (true, false) => {
                let out = sys::open_pty()?;
                let err = sys::open_pty()?;
                let masters: Vec<Box<dyn Read + Send>> =
                    vec![Box::new(out.master), Box::new(err.master)];
                (out.slave, err.slave, masters)
            }
            (false, true) => {
                // One pipe for both: the kernel keeps the order of the writes.
                let (reader, writer) = std::io::pipe()?;
                (
                    writer.try_clone()?.into(),
                    writer.into(),
                    vec![Box::new(reader)],
                )
            }
            (false, false) => {
                let (out_r, out_w) = std::io::pipe()?;
                let (err_r, err_w) = std::io::pipe()?;
                let readers: Vec<Box<dyn Read + Send>> = vec![Box::new(out_r), Box::new(err_r)];
                (out_w.into(), err_w.into(), readers)
            }
        };
    // The process gets a group of its own (see `spawn::spawn`): the timeout
    // and a cancel reach everything the session starts, and the terminal's
    // Ctrl-C does not (it goes to the foreground group; litprog decides what
    // to do about it).
    let launch = Launch {
        program: resolve_program(opts),
        argv,
        env,
        cwd: opts.cwd.clone(),
        stdin: Stdin::Pipe,
        stdout,
        stderr,
        end_with_parent: opts.end_with_parent,
    };
    Ok((launch, outputs))
}

/// The ends of a session's threads that the session keeps.
struct Threads {
    streams: Vec<Arc<Mutex<Splitter>>>,
    last_marker: Arc<LastMarker>,
    events: Receiver<Event>,
    input: Option<Sender<Vec<u8>>>,
}

impl Threads {
    /// Starts the readers, the input writer (if the input is a pipe) and the
    /// waiter.
    fn spawn(
        pid: i32,
        (cancel, registry_id): (Cancel, u64),
        outputs: Vec<Box<dyn Read + Send>>,
        stdin: Option<PipeWriter>,
        input_delay: Option<Duration>,
        splitter: &dyn Fn(Stream) -> Splitter,
    ) -> std::io::Result<Threads> {
        let (events_tx, events) = mpsc::channel();
        let last_marker = Arc::new(LastMarker::default());
        let mut streams = Vec::new();
        for (i, source) in outputs.into_iter().enumerate() {
            let stream = if i == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            streams.push(reader::spawn_reader(
                source,
                stream,
                splitter(stream),
                events_tx.clone(),
                Arc::clone(&last_marker),
            )?);
        }
        let input = match stdin {
            Some(stdin) => {
                let (input, queue) = mpsc::channel();
                writer::spawn_writer(stdin, queue, input_delay)?;
                Some(input)
            }
            None => None,
        };

        // The waiter reaps the process: it blocks in waitpid and reports the
        // exit, so `wait` can use recv_timeout and a cancel a condvar.
        thread::Builder::new()
            .name("litprog-wait".into())
            .spawn(move || {
                let status = spawn::wait(pid);
                let at = Instant::now();
                cancel.mark_exited(registry_id);
                match status {
                    Ok(status) => {
                        let _ = events_tx.send(Event::Exit(status, at));
                    }
                    Err(err) => log::warn!("waiting for process {pid}: {err}"),
                }
            })?;
        Ok(Threads {
            streams,
            last_marker,
            events,
            input,
        })
    }
}

fn outcome_of(status: ExitStatus) -> Outcome {
    if let Some(code) = status.code() {
        Outcome::Exited(code)
    } else if let Some(signal) = status.signal() {
        Outcome::Signaled {
            signal,
            name: sys::signal_name(signal),
        }
    } else {
        Outcome::Signaled {
            signal: 0,
            name: "unknown".into(),
        }
    }
}

/// Starts a session, sends `blocks` and waits for it: each block at most
/// `timeout` from the moment it started.
///
/// Without `input_delay`, the script is a temporary file rather than a pipe
/// (see the module docs).
pub fn run<B: BlockSource>(
    opts: SessionOptions,
    blocks: &[B],
    timeout: Duration,
) -> Result<Capture, SessionError> {
    let session = if opts.input_delay.is_none() {
        Session::start_with(opts, Some(blocks))?
    } else {
        let mut session = Session::start(opts)?;
        session.send_blocks(blocks);
        session
    };
    Ok(session.wait(timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_found_on_the_childs_path_as_execvp_would() {
        let with_path = |name: &str, path: &str| {
            let mut opts = SessionOptions::new(vec![name.to_string()]);
            opts.env.push(("PATH".into(), path.into()));
            resolve_program(&opts)
        };
        let sh = with_path("sh", "/nonexistent:/bin:/usr/bin");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        // Left to the child: a path, a name not found, a relative entry
        // (relative to the child's own directory) before the match.
        assert_eq!(with_path("./x", "/bin"), std::path::PathBuf::from("./x"));
        assert_eq!(
            with_path("no-such-program-xyz", "/bin"),
            std::path::PathBuf::from("no-such-program-xyz")
        );
        assert_eq!(with_path("sh", "bin:/bin"), std::path::PathBuf::from("sh"));
    }

    #[test]
    fn sessions_and_captures_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Session>();
        assert_send::<Capture>();
        assert_send::<SessionError>();
    }

    fn argv(cmd: &str) -> Vec<String> {
        shlex::split(cmd).unwrap()
    }

    #[test]
    fn only_plain_options_let_litprog_give_the_script() {
        let yes = [
            ("bash", Interpreter::Shell),
            ("bash -e -o pipefail --norc", Interpreter::Shell),
            ("/usr/bin/env python3 -u", Interpreter::Python),
            ("node --no-warnings", Interpreter::Node),
            ("perl -w", Interpreter::Perl),
        ];
        for (cmd, i) in yes {
            assert!(only_options(&argv(cmd), i), "{cmd}");
        }
        let no = [
            ("bash -c 'echo'", Interpreter::Shell),
            ("bash -s", Interpreter::Shell),
            ("bash script.sh", Interpreter::Shell),
            ("python3 -i", Interpreter::Python),
            ("python2", Interpreter::Python),
            ("node -e 1", Interpreter::Node),
            ("ruby -e 1", Interpreter::Ruby),
            ("env -S 'perl -w'", Interpreter::Perl),
        ];
        for (cmd, i) in no {
            assert!(!only_options(&argv(cmd), i), "{cmd}");
        }
    }
}
