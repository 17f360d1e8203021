//! [`Session`]: one running process, its threads, and the end of it all.
//!
//! Threads per session, and why:
//! - two readers (stdout, stderr), started with the process, so the child
//!   never blocks on a full pipe;
//! - one stdin writer, so the caller never blocks on the child's stdin
//!   (none when [`run`] gives the child its input as a file);
//! - one waiter, blocked in `waitpid`, which reports the exit on a channel
//!   so that `wait` can use `recv_timeout` instead of polling.

use std::convert::Infallible;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use encoding_rs::Encoding;

use super::cancel::{Cancel, TERMINATION_GRACE};
use super::capture::{Capture, InputLine, Outcome, Parts, Split, Stream};
use super::marker::{self, Interpreter, Markers};
use super::reader::{self, StreamBuf};
use super::sys::{self, GroupSignal};
use super::writer::{self, Feed, Input, WriterConfig};
use super::{SessionError, SessionOptions};

/// How long to wait, after the group is gone, for the readers to see the end
/// of their streams. Only a process that left the group (`setsid`) can hold a
/// pipe open longer; its output is then cut off rather than waited for.
const READER_LINGER: Duration = Duration::from_secs(2);

/// How long to wait for the leader's exit after SIGKILL; only a process stuck
/// in the kernel takes longer.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// A running interpreter process fed through its stdin.
///
/// ```
/// use std::time::Duration;
/// use litprog::session::{Outcome, Session, SessionOptions};
///
/// let mut session = Session::start(SessionOptions::from_command("sh").unwrap()).unwrap();
/// session.send_blocks(&["echo one\n".to_string(), "echo two".to_string()]);
/// let capture = session.wait(Duration::from_secs(10));
/// assert_eq!(capture.outcome, Outcome::Exited(0));
/// let blocks = capture.blocks.unwrap();
/// assert_eq!((blocks[0].stdout.as_str(), blocks[1].stdout.as_str()), ("one\n", "two\n"));
/// ```
pub struct Session {
    start: Instant,
    pgid: i32,
    cancel: Cancel,
    registry_id: u64,
    input: Option<Sender<Input>>,
    inputs: Arc<Mutex<Vec<InputLine>>>,
    exits: Receiver<(ExitStatus, Instant)>,
    stdout: Arc<Mutex<StreamBuf>>,
    stderr: Arc<Mutex<StreamBuf>>,
    readers_done: Receiver<Stream>,
    readers_left: usize,
    feed: Feed,
    encoding: &'static Encoding,
    finished: bool,
}

impl Session {
    /// Starts the process in its own process group, with its reader, writer
    /// and waiter threads.
    pub fn start(opts: SessionOptions) -> Result<Session, SessionError> {
        Session::start_with(opts, None)
    }

    /// Starts the process with `blocks` given up front: written, with the
    /// marker statements, to a temporary file that is the child's stdin (see
    /// [`writer::spool`]). If no such file can be made, they go through a
    /// pipe as with [`Session::send_blocks`].
    fn start_with(
        opts: SessionOptions,
        blocks: Option<&[String]>,
    ) -> Result<Session, SessionError> {
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
        let interpreter = Interpreter::detect(&opts.argv);
        let markers = match (&opts.marker, interpreter) {
            (Some(template), _) => Some(Markers::new(template.clone())),
            (None, Some(interpreter)) => Some(Markers::builtin(interpreter)),
            (None, None) => None,
        };
        let spawn_err = |source| SessionError::from_spawn(&program, source);
        let mut feed = Feed::new(markers, opts.echo);

        let (mut cmd, masters) = command(&opts, interpreter).map_err(spawn_err)?;
        let start = Instant::now();
        let writer = WriterConfig {
            start,
            encoding,
            input_delay: opts.input_delay,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        // Blocks that still have to go through the pipe.
        let mut pending = None;
        if let Some(blocks) = blocks {
            match writer::spool(&mut feed, blocks, &writer) {
                Ok(file) => {
                    cmd.stdin(Stdio::from(file));
                }
                Err(err) => {
                    log::debug!("no temporary file for stdin ({err}); using a pipe");
                    feed.restart();
                    writer
                        .log
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clear();
                    pending = Some(blocks);
                }
            }
        }
        let mut child = cmd.spawn().map_err(spawn_err)?;
        // Close our copies of the pty slaves, or the masters would never
        // report the end of the output.
        drop(cmd);
        let pgid = child.id() as i32;
        let cancel = opts.cancel.clone();
        let registry_id = cancel.register(pgid);
        log::debug!("started {:?} as process group {pgid}", opts.argv);

        let outputs: (Box<dyn Read + Send>, Box<dyn Read + Send>) = match masters {
            Some((out, err)) => (Box::new(out), Box::new(err)),
            None => (
                Box::new(child.stdout.take().expect("stdout is piped")),
                Box::new(child.stderr.take().expect("stderr is piped")),
            ),
        };
        // None when stdin is the spooled file.
        let stdin = child.stdin.take();
        let threads = Threads::spawn(
            child,
            (cancel.clone(), registry_id),
            outputs,
            stdin,
            writer,
            opts.output_limit,
        )
        .map_err(|source| {
            sys::signal_group(pgid, GroupSignal::Kill);
            cancel.unregister(registry_id);
            SessionError::Spawn {
                command: program.clone(),
                source,
            }
        })?;

        let mut session = Session {
            start,
            pgid,
            cancel,
            registry_id,
            input: threads.input,
            inputs: threads.inputs,
            exits: threads.exits,
            stdout: threads.stdout,
            stderr: threads.stderr,
            readers_done: threads.readers_done,
            readers_left: 2,
            feed,
            encoding,
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

    /// Queues `text` for the process's stdin; never blocks. Text sent after
    /// [`send_blocks`](Session::send_blocks) counts as part of the last block.
    pub fn send(&mut self, text: &str) {
        let input = &self.input;
        let _ = self.feed.text(text, &mut |i| queue(input, i));
    }

    /// Queues `blocks`, each ending with a newline, with a marker statement
    /// between consecutive blocks (also between calls) when the interpreter
    /// has one. Never blocks.
    pub fn send_blocks(&mut self, blocks: &[String]) {
        let input = &self.input;
        let _ = self.feed.blocks(blocks, &mut |i| queue(input, i));
    }

    /// Closes stdin, waits for the process until `timeout` after the start,
    /// terminates what is left of its process group, and returns the capture.
    pub fn wait(mut self, timeout: Duration) -> Capture {
        // Closing stdin (once the queue is written) lets the interpreter see
        // the end of its script.
        self.input = None;
        let deadline = self.start + timeout;
        let left = deadline.saturating_duration_since(Instant::now());
        let (status, ended, timed_out) = match self.exits.recv_timeout(left) {
            Ok((status, at)) => (Some(status), at, false),
            Err(RecvTimeoutError::Timeout) => {
                log::debug!("process group {} timed out after {timeout:?}", self.pgid);
                let (status, at) = self.terminate();
                (status, at, true)
            }
            Err(RecvTimeoutError::Disconnected) => (None, Instant::now(), false),
        };
        self.clear_group();

        let outcome = if timed_out {
            Outcome::TimedOut(timeout)
        } else {
            match status {
                Some(status) => outcome_of(status),
                None => Outcome::Signaled {
                    signal: 0,
                    name: "unknown".into(),
                },
            }
        };
        let inputs =
            std::mem::take(&mut *self.inputs.lock().unwrap_or_else(PoisonError::into_inner));
        let stdout = std::mem::take(&mut *reader::lock(&self.stdout));
        let stderr = std::mem::take(&mut *reader::lock(&self.stderr));
        let split = match &self.feed.markers {
            Some(markers) if self.feed.blocks_sent > 0 => Split::Blocks {
                count: self.feed.blocks_sent,
                markers,
            },
            _ => Split::Whole,
        };
        let capture = Parts {
            stdout: &stdout,
            stderr: &stderr,
            inputs,
            split,
            encoding: self.encoding,
            outcome,
            runtime: ended.saturating_duration_since(self.start),
        }
        .into_capture();
        self.cancel.unregister(self.registry_id);
        self.finished = true;
        capture
    }

    /// SIGTERM to the group, a grace period for the leader to exit, then
    /// SIGKILL. Returns the leader's status if it was reaped and when.
    fn terminate(&mut self) -> (Option<ExitStatus>, Instant) {
        sys::signal_group(self.pgid, GroupSignal::Terminate);
        if let Ok((status, at)) = self.exits.recv_timeout(TERMINATION_GRACE) {
            return (Some(status), at);
        }
        sys::signal_group(self.pgid, GroupSignal::Kill);
        match self.exits.recv_timeout(KILL_WAIT) {
            Ok((status, at)) => (Some(status), at),
            Err(_) => (None, Instant::now()),
        }
    }

    /// Ends whatever is left of the group after its leader exited (such as
    /// `sleep 300 &` in a shell), then gives the readers a bounded time to
    /// reach the end of their streams.
    ///
    /// The grace after SIGTERM is waited on the readers' channel: we cannot
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

    /// Waits until both readers are done or `until`; true if they are done.
    fn wait_readers(&mut self, until: Instant) -> bool {
        while self.readers_left > 0 {
            let left = until.saturating_duration_since(Instant::now());
            match self.readers_done.recv_timeout(left) {
                Ok(_) => self.readers_left -= 1,
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

/// Queues `text` for the writer thread, if there is one (none when stdin is
/// a file, and text sent after the input was spooled has nowhere to go).
fn queue(input: &Option<Sender<Input>>, text: Input) -> Result<(), Infallible> {
    if let Some(input) = input {
        // Fails only when the writer stopped on a broken pipe: the process
        // no longer reads, so the text has nowhere to go.
        let _ = input.send(text);
    }
    Ok(())
}

/// What a bare `python3` runs instead of reading its script from stdin
/// itself (`python3 -c PYTHON_READER`): read all of stdin at once, compile it
/// as `<stdin>` and run it in `__main__`, as python does.
///
/// Unbuffered (`PYTHONUNBUFFERED`, which the blocks need so that stdout and
/// stderr interleave as written), CPython reads a script from stdin one
/// `read(2)` per byte, pipe or file; this reads it in a few large reads. It
/// reads to the end before running anything, as python does with a script
/// on stdin (it compiles the whole script first). It leaves no name of its
/// own in `__main__` and sets what python sets there for a script on stdin
/// (`__file__` is `'<stdin>'`, `__cached__` is `None`), puts `sys.argv[0]`
/// back to `''`, and wraps `sys.excepthook` to drop its own frame, so that
/// tracebacks and syntax errors print as they would. What still shows: the
/// module's frame has the reader's as its `f_back`, and `sys.excepthook` is
/// not `sys.__excepthook__`.
const PYTHON_READER: &str = "globals().update(__file__='<stdin>', __cached__=None); \
    (lambda s: (s.argv.__setitem__(0, ''), setattr(s, 'excepthook', \
    (lambda h: lambda t, v, tb: (lambda n: h(t, v.with_traceback(n) \
    if isinstance(v, BaseException) else v, n))(tb.tb_next if tb is not None \
    and tb.tb_frame.f_code.co_filename == '<string>' else tb))(s.excepthook))))\
    (__import__('sys')); \
    exec(compile(__import__('sys').stdin.buffer.read(), '<stdin>', 'exec'))";

/// Whether python, run as `argv`, reads its script from stdin and is
/// python 3: no script, `-c`, `-m` or `-`, only options that take no value
/// (`-u`, `-B`, ...), and not a `python2`.
fn reads_script_from_stdin(argv: &[String]) -> bool {
    const FLAGS: [&str; 12] = [
        "-u", "-B", "-E", "-s", "-S", "-I", "-O", "-OO", "-q", "-b", "-bb", "-P",
    ];
    !marker::basename(&argv[0]).starts_with("python2")
        && argv.iter().skip(1).all(|a| FLAGS.contains(&a.as_str()))
}

/// The command for `opts`, and the pty masters to read when `term` is set.
fn command(
    opts: &SessionOptions,
    interpreter: Option<Interpreter>,
) -> std::io::Result<(Command, Option<(File, File)>)> {
    let mut cmd = Command::new(&opts.argv[0]);
    cmd.args(&opts.argv[1..]);
    if interpreter == Some(Interpreter::Python) && reads_script_from_stdin(&opts.argv) {
        cmd.args(["-c", PYTHON_READER]);
    }
    cmd.envs(opts.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        // Own process group: the timeout and a cancel reach everything
        // the session starts, and the terminal's Ctrl-C does not (it goes to
        // the foreground group; litprog decides what to do about it).
        .process_group(0);
    if interpreter == Some(Interpreter::Python)
        && !opts.env.iter().any(|(k, _)| k == "PYTHONUNBUFFERED")
    {
        // Unbuffered, so stdout and stderr interleave as written and every
        // marker is flushed when printed.
        cmd.env("PYTHONUNBUFFERED", "1");
    }
    if let Some(cwd) = &opts.cwd {
        cmd.current_dir(cwd);
    }
    if opts.end_with_parent {
        sys::end_with_parent(&mut cmd);
    }
    if opts.term {
        let out = sys::open_pty()?;
        let err = sys::open_pty()?;
        cmd.stdout(Stdio::from(out.slave))
            .stderr(Stdio::from(err.slave));
        Ok((cmd, Some((out.master, err.master))))
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        Ok((cmd, None))
    }
}

/// The ends of a session's threads that the session keeps.
struct Threads {
    stdout: Arc<Mutex<StreamBuf>>,
    stderr: Arc<Mutex<StreamBuf>>,
    readers_done: Receiver<Stream>,
    inputs: Arc<Mutex<Vec<InputLine>>>,
    input: Option<Sender<Input>>,
    exits: Receiver<(ExitStatus, Instant)>,
}

impl Threads {
    /// Starts the two readers, the stdin writer (if stdin is a pipe) and the
    /// waiter.
    fn spawn(
        mut child: Child,
        (cancel, registry_id): (Cancel, u64),
        (stdout_src, stderr_src): (Box<dyn Read + Send>, Box<dyn Read + Send>),
        stdin: Option<ChildStdin>,
        writer: WriterConfig,
        limit: usize,
    ) -> std::io::Result<Threads> {
        let start = writer.start;
        let (done_tx, readers_done) = mpsc::channel();
        let stdout =
            reader::spawn_reader(stdout_src, Stream::Stdout, start, limit, done_tx.clone())?;
        let stderr = reader::spawn_reader(stderr_src, Stream::Stderr, start, limit, done_tx)?;

        let inputs = Arc::clone(&writer.log);
        let input = match stdin {
            Some(stdin) => {
                let (input, queue) = mpsc::channel();
                writer::spawn_writer(stdin, queue, writer)?;
                Some(input)
            }
            None => None,
        };

        // The waiter owns the Child: it blocks in waitpid and reports the
        // exit, so `wait` can use recv_timeout and a cancel a condvar.
        let (exit_tx, exits) = mpsc::channel();
        thread::Builder::new()
            .name("litprog-wait".into())
            .spawn(move || {
                let status = child.wait();
                let at = Instant::now();
                cancel.mark_exited(registry_id);
                match status {
                    Ok(status) => {
                        let _ = exit_tx.send((status, at));
                    }
                    Err(err) => log::warn!("waiting for process {}: {err}", child.id()),
                }
            })?;
        Ok(Threads {
            stdout,
            stderr,
            readers_done,
            inputs,
            input,
            exits,
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

/// Starts a session, sends `blocks` and waits for it.
///
/// Without `input_delay`, the blocks and marker statements are the child's
/// stdin as a temporary file rather than a pipe (see the module docs).
pub fn run(
    opts: SessionOptions,
    blocks: &[String],
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
    fn sessions_and_captures_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Session>();
        assert_send::<Capture>();
        assert_send::<SessionError>();
    }
}
