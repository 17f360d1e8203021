//! Interactive sessions: long-lived interpreter processes fed through stdin.
//!
//! This module is litprog's process engine. It takes a command and strings,
//! and returns a [`Capture`]; it knows nothing about Markdown. [`run`] starts
//! a [`Session`], sends the blocks and waits; the steps are also available
//! one by one.
//!
//! # Processes and threads
//!
//! Each session runs in its own process group. Its stdout and stderr are read
//! on their own threads from the moment it starts (in big, timestamped
//! chunks), and its stdin is written from another thread, so no mix of a
//! chatty child and a child that never reads can deadlock the session. With
//! `term` the child's stdout and stderr are two pseudo-terminals (output
//! processing off, so bytes stay exact) while stdin is not.
//!
//! When all input is known before the process starts ([`run`] without
//! [`SessionOptions::input_delay`]), stdin is instead an unlinked temporary
//! file holding the blocks and marker statements, and there is no writer
//! thread. Interpreters read a pipe in tiny pieces, as they must not consume
//! input meant for the commands they run: bash makes one `read(2)` per byte,
//! which made a block of 10,000 `echo` lines take 4x as long as `bash
//! script.sh`. From a regular file bash reads big chunks and seeks back
//! before running each command, so a command reading stdin still gets the
//! rest of the script, as with a pipe. [`Session::send`] and
//! [`Session::send_blocks`] on a started session, and `input_delay`, use
//! the pipe. Echoed input lines are then all stamped before the process
//! starts; the per-block lines put each block's input first either way.
//!
//! # Marker protocol
//!
//! [`Session::send_blocks`] writes, between consecutive blocks, a statement
//! that prints a marker line to stdout and then to stderr. The marker is
//! `__litprog_<16 random hex digits>_<index of the block just finished>__`,
//! random per session. Each block is made to end with a newline before the
//! statement. Built-in statements exist for bash, sh, dash, zsh (and ksh),
//! python (any `pythonX.Y`), node, ruby and perl, recognised from the basename
//! of `argv[0]`, also behind `env`; [`SessionOptions::marker`] gives a
//! template for any other interpreter, `{marker}` standing for the marker
//! (sqlite3: `.print {marker}`). A template may instead join `{head}` and
//! `{tail}`, the marker's two halves, as the built-in ones do, so that an
//! interpreter that traces or echoes its input (`set -x`, `bash -v`) shows
//! the statement without showing a marker; lines containing the marker's
//! random part that are not markers are dropped from the output. The python
//! statement is one call, `__import__('sys')._litprog_marker('<tail>')`, of a
//! helper that the first statement (after block 0, on the same line) defines
//! on the `sys` module, where no block's names are: the four-call statement
//! cost python more to compile than the blocks themselves.
//!
//! Both streams are split at the markers, searched as substrings: the bytes
//! before marker `i` (after marker `i - 1`) are block `i`'s, and the newline
//! after a marker goes with it, so a block printing `ok2` without newline has
//! output `ok2`. Block 0 and every block whose preceding marker shows in
//! either stream ran; what follows a stream's last marker belongs to the
//! block that was running (after `sys.exit()` or an uncaught exception);
//! blocks that never ran have `ran: false` and no output. A stream that shows
//! no marker at all while the other does (sqlite3's `.print` writes only
//! stdout) is given wholly to the last block that ran. Without a marker
//! statement for the interpreter (or without `send_blocks`),
//! [`Capture::blocks`] is `None`: the whole output is one unit.
//!
//! Interpreters must flush before a marker for exact attribution: for
//! Python, `PYTHONUNBUFFERED=1` is set unless [`SessionOptions::env`] sets
//! it; the perl statement unbuffers STDOUT. Note that python, node and perl
//! read a script from a pipe completely before running it, so a syntax error
//! anywhere means no block runs (its message goes to block 0).
//!
//! # Timestamps and order
//!
//! Output is stamped per chunk as it is read; a line gets the time of the
//! chunk that completed it. Within a stream the order is exact; between
//! stdout and stderr it is the order of reading, which is only as good as
//! the scheduler (markers make the per-block split exact regardless). So
//! that the result is the same on every run, a stderr line goes before a
//! stdout line only when it was read more than [`STREAM_ORDER_TOLERANCE`]
//! earlier; closer than that, stdout comes first. Echoed
//! input lines are stamped just before they are written, which with an
//! interpreter that reads ahead is long before their output: the per-block
//! lines and, with blocks, the transcript therefore put each block's input
//! first, then its output.

//! # Termination policy
//!
//! The timeout counts from [`Session::start`]. When it expires the whole
//! process group gets SIGTERM, then SIGKILL after [`TERMINATION_GRACE`]
//! (both waited on channels, never polled); the outcome is
//! [`Outcome::TimedOut`]. After the leader exits on its own, what is left of
//! its group (`sleep 300 &` in a shell) gets the same treatment, so nothing
//! the session started survives and the readers see the end of the pipes. A
//! process that left the group (`setsid`) and keeps a pipe open is not waited
//! for longer than a couple of seconds. [`terminate_all`] does the same to
//! every running session, for the CLI's Ctrl-C handler. A [`Session`] dropped
//! without [`Session::wait`] has its group killed.
//!
//! A child that exits without reading all its input makes the writer's
//! write fail with EPIPE, which ends the writer quietly; this relies on
//! SIGPIPE being ignored in litprog's process, as Rust programs do by default
//! (children get the default disposition back).
//!
//! # Output limit
//!
//! At most [`SessionOptions::output_limit`] bytes ([`MAX_STREAM_BYTES`],
//! 16 MiB, by default) are kept per stream; the rest is still read, so the
//! child never blocks, but dropped, and [`Capture::truncated`] and
//! [`Capture::dropped_bytes`] say so. Markers in the dropped part are lost,
//! so that output goes to the block that was running at the limit.
//!
//! Output is decoded lossily with [`SessionOptions::encoding`] (an
//! ASCII-compatible encoding: lines are split at `\n` bytes) and input is
//! encoded with it.

mod capture;
mod driver;
mod engine;
mod error;
mod marker;
mod options;
mod reader;
mod registry;
mod sys;
mod writer;

pub use capture::{BlockCapture, Capture, Line, Outcome, Stream};
pub use engine::{Session, run};
pub use error::SessionError;
pub use options::{SessionOptions, StderrMode};
pub use reader::MAX_STREAM_BYTES;
pub use registry::{TERMINATION_GRACE, terminate_all, terminating};
pub use writer::{Block, BlockSource};
