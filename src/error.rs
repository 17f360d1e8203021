//! Diagnostics: problems found in documents, each located at file:line.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with a document, located at a file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The document.
    pub path: PathBuf,
    /// 1-based line number, or 0 when the problem concerns the whole file.
    pub line: usize,
    /// What is wrong, lowercase, naming the user's values.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `path:line`.
    pub fn new(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// `path:line` (or just `path` for whole-file problems).
    pub fn location(&self) -> String {
        location(&self.path, self.line)
    }
}

/// Render `path:line`, or `path` alone when `line` is 0.
pub fn location(path: &Path, line: usize) -> String {
    if line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{}", path.display(), line)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// One or more document errors; every one is reported, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}
