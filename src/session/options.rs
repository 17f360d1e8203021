//! What to run and how: [`SessionOptions`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Observer;
use super::reader::MAX_STREAM_BYTES;
use super::{Cancel, SessionError};

/// Where a session's standard error goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StderrMode {
    /// stdout and stderr are one pipe (one pseudo-terminal with `term`), as
    /// in a terminal: lines appear in exactly the order the program wrote
    /// them, in [`BlockCapture::stdout`](super::BlockCapture::stdout).
    #[default]
    Merged,
    /// Two pipes: each block's stdout in `stdout` and its stderr in `stderr`.
    /// Two pipes have no common order, so none is claimed.
    Separate,
}

/// How to start a session. Build it with [`SessionOptions::new`] or
/// [`SessionOptions::from_command`], then set the public fields.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// The command, already split into arguments.
    pub argv: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// Working directory, relative to the current directory; `None` = inherit.
    pub cwd: Option<PathBuf>,
    /// Make stdout and stderr a pseudo-terminal (one for both when merged,
    /// one each when separate; 80x24, output processing off so bytes are
    /// exact); stdin does not change.
    pub term: bool,
    /// One stream for stdout and stderr (the default), or two.
    pub stderr: StderrMode,
    /// Limit of the whole session, from its start; `None`: only the
    /// per-block timeout given to [`Session::wait`](super::Session::wait).
    pub session_timeout: Option<Duration>,
    /// python and node: print the value of each block's last expression, as
    /// the interpreter's REPL would (`repr` in python; not `None` or
    /// `undefined`).
    pub show_value: bool,
    /// Record input lines in the transcript and in each block's lines.
    pub echo: bool,
    /// Pause after writing each input line, for interpreters that need paced input.
    pub input_delay: Option<Duration>,
    /// Encoding label for encoding_rs (`None` = UTF-8); decoding is lossy.
    pub encoding: Option<String>,
    /// Marker statement template with `{marker}` (or `{head}` and `{tail}`,
    /// its two halves), overriding the built-in one.
    pub marker: Option<String>,
    /// Output bytes kept per block (per stream); the rest is read and
    /// dropped, and counted in [`BlockCapture::dropped_bytes`](super::BlockCapture::dropped_bytes).
    /// Markers never count.
    pub output_limit: usize,
    /// The handle that can end this session (and the others started with
    /// it) from another thread; a fresh one by default.
    pub cancel: Cancel,
    /// On Linux, kill the interpreter (SIGKILL) when the thread that
    /// started the session ends, even if the whole process is killed
    /// (`PR_SET_PDEATHSIG`). Only for sessions waited for on the thread that
    /// started them, as the CLI does; off by default.
    pub end_with_parent: bool,
    /// Told of each block as it starts and each output line as it is read
    /// (see [`Observer`](super::Observer)); `None` (the default): nobody.
    pub observer: Option<Arc<dyn Observer>>,
}

impl SessionOptions {
    /// Options for `argv` with every other setting at its default.
    pub fn new(argv: Vec<String>) -> Self {
        SessionOptions {
            argv,
            env: Vec::new(),
            cwd: None,
            term: false,
            stderr: StderrMode::Merged,
            session_timeout: None,
            show_value: false,
            echo: false,
            input_delay: None,
            encoding: None,
            marker: None,
            output_limit: MAX_STREAM_BYTES,
            cancel: Cancel::new(),
            end_with_parent: false,
            observer: None,
        }
    }

    /// Options for a command line split the way a POSIX shell would (shlex).
    ///
    /// ```
    /// let opts = litprog::session::SessionOptions::from_command("python3 -q 'a b'").unwrap();
    /// assert_eq!(opts.argv, ["python3", "-q", "a b"]);
    /// ```
    pub fn from_command(cmd: &str) -> Result<Self, SessionError> {
        let argv = shlex::split(cmd).ok_or_else(|| SessionError::InvalidCommand {
            command: cmd.to_string(),
        })?;
        if argv.is_empty() {
            return Err(SessionError::EmptyCommand);
        }
        Ok(SessionOptions::new(argv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_command_rejects_unbalanced_quotes() {
        let err = SessionOptions::from_command("bash -c 'echo").unwrap_err();
        assert!(err.to_string().contains("bash -c 'echo"), "{err}");
    }

    #[test]
    fn from_command_rejects_empty() {
        assert!(matches!(
            SessionOptions::from_command("  "),
            Err(SessionError::EmptyCommand)
        ));
    }
}
