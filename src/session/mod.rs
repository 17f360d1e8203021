//! Interactive sessions: long-lived interpreter processes that run blocks
//! of code one after the other.
//!
//! This module is litprog's process engine. It takes a command and blocks
//! (plain strings, or [`Block`]s that say which document and line they come
//! from), and returns a [`Capture`]; it knows nothing about Markdown. [`run`]
//! starts a [`Session`], sends the blocks and waits; the steps are also
//! available one by one.
//!
//! # Processes and threads
//!
//! Each session runs in its own process group. With [`StderrMode::Merged`]
//! (the default) the child's stdout and stderr are one pipe (one
//! pseudo-terminal with `term`, output processing off so bytes stay exact):
//! the kernel keeps the order of the writes, so the output is exactly what a
//! terminal would show, the same on every run. With [`StderrMode::Separate`]
//! they are two pipes; two pipes have no common order, so a block's stdout
//! and its stderr are kept apart, never ordered by the time they were read.
//! Each stream is read on its own thread from the moment the process starts,
//! and input is written from another thread (or is a file), so no mix of a
//! chatty child and a child that never reads can deadlock the session.
//!
//! # The script is not stdin
//!
//! For the interpreters litprog knows, with a command of options only, a
//! block never sees the script on its stdin: shells (bash, sh, dash, zsh,
//! ksh), ruby and perl get `/dev/stdin` as their script argument, which they
//! open as a descriptor of their own, and the script's first line puts
//! `/dev/null` on stdin; python and node run a driver that takes its input
//! off stdin the same way and compiles each block on its own, with the
//! document's file name and lines (see `driver.rs`). When all input is known
//! before the process starts ([`run`] without `input_delay`), that input is
//! an unlinked temporary file, which interpreters read in big chunks (from a
//! pipe bash reads one byte per `read(2)`). Other sessions (a
//! [`SessionOptions::marker`] template, `input_delay`, a command with a
//! script of its own) are fed on stdin, where a block can read later blocks'
//! input; [`Capture::input_consumed_by`] then names the block that did.
//!
//! # Marker protocol
//!
//! Between consecutive blocks a marker
//! `__litprog_<16 random hex digits>_<index of the block just finished>__` is
//! printed (once on the merged stream; on both streams when separate), by a
//! statement written after the block or by the driver. Built-in statements
//! exist for shells, python, node, ruby and perl, recognised from the
//! basename of `argv[0]`, also behind `env`; a template may give `{marker}`
//! or `{head}` and `{tail}`, the marker's halves, so that an interpreter that
//! traces or echoes its input (`set -x`, `bash -v`) shows the statement
//! without showing a marker; lines containing the marker's random part that
//! are not markers are dropped. Shell scripts are padded with blank lines so
//! that the interpreter's line numbers are the document's.
//!
//! The readers divide each stream at the markers as it arrives (searched as
//! substrings: a block printing `ok2` without newline has output `ok2`; the
//! newline after a marker goes with it) and note each marker with its time,
//! for the per-block timeout.
//! Block 0 and every block whose preceding marker arrived ran; what follows
//! the last marker belongs to the block that was running; blocks that never
//! ran have `ran: false` and no output. A stream that shows no marker while
//! the other does (sqlite3's `.print` writes only stdout) goes to the last
//! block that ran. Without a marker, [`Capture::per_block`] is false and the
//! whole output is one unit.
//!
//! # Termination policy
//!
//! The timeout given to [`Session::wait`] limits each block, counted from
//! the moment it started (the arrival of the previous block's marker);
//! [`SessionOptions::session_timeout`] limits the whole session. When one
//! expires the whole process group gets SIGTERM, then SIGKILL after
//! [`TERMINATION_GRACE`]; the outcome is [`Outcome::TimedOut`] or
//! [`Outcome::SessionTimedOut`]. After the leader exits on its own, what is
//! left of its group (`sleep 300 &` in a shell) gets the same treatment. A
//! process that left the group (`setsid`) and keeps a pipe open is not
//! waited for longer than a couple of seconds. [`Cancel::cancel`] does the
//! same to every running session started with that handle (a build's), for
//! the CLI's Ctrl-C handler. A [`Session`] dropped without
//! [`Session::wait`] has its group killed.
//!
//! # Output limit
//!
//! At most [`SessionOptions::output_limit`] bytes ([`MAX_STREAM_BYTES`] by
//! default) are kept per block and stream; markers never count. The rest is
//! still read (and searched for markers), so the child never blocks and the
//! next block is unaffected, but dropped: [`BlockCapture::dropped_bytes`]
//! says how much, and the kept output then ends at a line boundary. A
//! capture holds one string per block and stream, so it costs about its kept
//! bytes.
//!
//! # Progress
//!
//! A caller that wants to hear of a session while it runs sets an
//! [`Observer`] in [`SessionOptions::observer`]: it is told each block as it
//! starts (block 0 at the start, each other as the marker before it
//! arrives) and each kept output line as the reader divides it. Without
//! one, nothing of this is done.
//!
//! Output is decoded lossily with [`SessionOptions::encoding`] (an
//! ASCII-compatible encoding) and input is encoded with it.

mod cancel;
mod capture;
mod driver;
mod engine;
mod error;
mod marker;
mod observer;
mod options;
mod reader;
mod spawn;
mod sys;
mod writer;

pub use cancel::{Cancel, TERMINATION_GRACE};
pub use capture::{BlockCapture, Capture, Line, Outcome, Stream};
pub use engine::{Session, prepare, run};
pub use error::SessionError;
pub use observer::Observer;
pub use options::{SessionOptions, StderrMode};
pub use reader::MAX_STREAM_BYTES;
pub use writer::{Block, BlockSource};
