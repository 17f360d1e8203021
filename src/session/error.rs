//! Errors of the session engine: a session that cannot be started.
//!
//! Everything that happens after the process started (exit status, signals,
//! timeouts) is an [`Outcome`](super::Outcome), not an error.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a session could not be started.
#[derive(Debug)]
pub enum SessionError {
    /// The command line was empty.
    EmptyCommand,
    /// The command string could not be split into arguments (unbalanced quotes).
    InvalidCommand {
        /// The command string as given.
        command: String,
    },
    /// The program was not found.
    NotFound {
        /// The program, `argv[0]`.
        command: String,
    },
    /// The program exists but may not be executed.
    NotExecutable {
        /// The program, `argv[0]`.
        command: String,
    },
    /// The working directory does not exist or is not a directory.
    InvalidCwd {
        /// The directory as given.
        cwd: PathBuf,
    },
    /// The `encoding` label is not known to encoding_rs.
    UnknownEncoding {
        /// The label as given.
        label: String,
    },
    /// Any other failure to set up or spawn the process.
    Spawn {
        /// The program, `argv[0]`.
        command: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::EmptyCommand => write!(f, "empty session command"),
            SessionError::InvalidCommand { command } => {
                write!(
                    f,
                    "cannot split session command '{command}' (unbalanced quotes?)"
                )
            }
            SessionError::NotFound { command } => write!(f, "command not found: '{command}'"),
            SessionError::NotExecutable { command } => {
                write!(f, "command not executable: '{command}'")
            }
            SessionError::InvalidCwd { cwd } => {
                write!(f, "working directory not found: '{}'", cwd.display())
            }
            SessionError::UnknownEncoding { label } => write!(f, "unknown encoding '{label}'"),
            SessionError::Spawn { command, source } => {
                write!(f, "cannot start '{command}': {source}")
            }
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Spawn { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl SessionError {
    /// Classifies a spawn failure of `command`.
    pub(crate) fn from_spawn(command: &str, source: io::Error) -> SessionError {
        let command = command.to_string();
        match source.kind() {
            io::ErrorKind::NotFound => SessionError::NotFound { command },
            io::ErrorKind::PermissionDenied => SessionError::NotExecutable { command },
            _ => SessionError::Spawn { command, source },
        }
    }
}
