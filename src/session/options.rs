//! What to run and how: [`SessionOptions`].

use std::path::PathBuf;
use std::time::Duration;

use super::reader::MAX_STREAM_BYTES;
use super::{Cancel, SessionError};

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
    /// Make stdout and stderr each their own pseudo-terminal (80x24, output
    /// processing off so bytes are exact); stdin does not change.
    pub term: bool,
    /// Record input lines in the transcript and in each block's lines.
    pub echo: bool,
    /// Pause after writing each input line, for interpreters that need paced input.
    pub input_delay: Option<Duration>,
    /// Encoding label for encoding_rs (`None` = UTF-8); decoding is lossy.
    pub encoding: Option<String>,
    /// Marker statement template with `{marker}` (or `{head}` and `{tail}`,
    /// its two halves), overriding the built-in one.
    pub marker: Option<String>,
    /// Bytes kept per output stream; the rest is read and dropped.
    pub output_limit: usize,
    /// The handle that can end this session (and the others started with
    /// it) from another thread; a fresh one by default.
    pub cancel: Cancel,
    /// On Linux, kill the interpreter (SIGKILL) when the thread that
    /// started the session ends, even if the whole process is killed
    /// (`PR_SET_PDEATHSIG`). Only for sessions waited for on the thread that
    /// started them, as the CLI does; off by default.
    pub end_with_parent: bool,
}

impl SessionOptions {
    /// Options for `argv` with every other setting at its default.
    pub fn new(argv: Vec<String>) -> Self {
        SessionOptions {
            argv,
            env: Vec::new(),
            cwd: None,
            term: false,
            echo: false,
            input_delay: None,
            encoding: None,
            marker: None,
            output_limit: MAX_STREAM_BYTES,
            cancel: Cancel::new(),
            end_with_parent: false,
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
