//! Diagnostics: problems found in documents, each located at file:line,
//! and failures to read or write files, which keep their [`io::Error`].
//!
//! Every diagnostic says what it is about with a [`Kind`]; whoever reports
//! it decides from the kind what to do (the CLI's exit status:
//! [`Kind::is_io`] is a failure of the run, anything else a problem of the
//! documents or of the usage).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a [`Diagnostic`] is about.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Kind {
    /// The document's own text: a fence or result block that is not
    /// closed, a NUL byte, text that is not UTF-8, bare CR line endings.
    Syntax,
    /// An option block (YAML, TOML, JSON) or a configuration file that
    /// does not parse, or that repeats a key.
    OptionSyntax,
    /// An option or `lptype` that litprog does not know.
    UnknownOption,
    /// An option's value is not valid: its type, its range, its syntax.
    InvalidValue,
    /// An option that does not apply where it is set (`requires` on an
    /// out_file, a session's option on one of its blocks).
    Misplaced,
    /// A group is missing something it needs (an lpid, a command).
    Missing,
    /// Two declarations disagree: an lpid declared twice, a group option
    /// given two values.
    Conflict,
    /// A name that matches no group: in `requires`, `inputs` or `--only`.
    UnknownReference,
    /// `requires` or `inputs` form a cycle.
    Cycle,
    /// A file litprog would write is not its to write: a path outside the
    /// project, through a symbolic link, onto a file litprog did not write.
    UnsafeTarget,
    /// Something that works but is likely a mistake (warnings only).
    Suspicious,
    /// The command line, or the input mdBook sent.
    Usage,
    /// Reading or writing a file failed; the error as the system gave it.
    Io(Arc<io::Error>),
}

impl Kind {
    /// True for a failure to read or write a file, rather than a problem
    /// of the documents or of the usage.
    pub fn is_io(&self) -> bool {
        matches!(self, Kind::Io(_))
    }
}

/// Two I/O kinds are equal when the system's errors are: same kind, same
/// message.
impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        match (self, other) {
            (Kind::Io(a), Kind::Io(b)) => a.kind() == b.kind() && a.to_string() == b.to_string(),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for Kind {}

/// A problem with a document, located at a file and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What the problem is about.
    pub kind: Kind,
    /// The document.
    pub path: PathBuf,
    /// 1-based line number, or 0 when the problem concerns the whole file.
    pub line: usize,
    /// What is wrong, lowercase, naming the user's values.
    pub message: String,
    /// What on the line the problem is about, to be found in it by
    /// [`attach_snippets`].
    pub focus: Option<Box<Focus>>,
    /// The source line and the part of it the problem is about, for a
    /// caret under it.
    pub snippet: Option<Box<Snippet>>,
}

/// What on its line a diagnostic is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Focus {
    /// An option's key as written (`timout` in `timout: 5`).
    Key(String),
    /// An option's value (`soon` in `timeout: soon`).
    Value(String),
    /// A piece of text after the option's key (`stup` in
    /// `requires: [setup, stup]`).
    Item(String, String),
}

/// A source line and a byte range in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The whole line, without its line ending.
    pub source: String,
    /// The bytes of `source` the diagnostic is about (not empty).
    pub span: std::ops::Range<usize>,
}

impl Diagnostic {
    /// A diagnostic of `kind` at `path:line`.
    pub fn new(kind: Kind, path: &Path, line: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            path: path.to_path_buf(),
            line,
            message: message.into(),
            focus: None,
            snippet: None,
        }
    }

    /// A failure to read or write a file, reported at `path:line` (`doing`
    /// says what failed, as in "cannot read"), keeping the system's error.
    pub fn io(path: &Path, line: usize, doing: impl fmt::Display, error: io::Error) -> Self {
        let message = format!("{doing}: {error}");
        Diagnostic::new(Kind::Io(Arc::new(error)), path, line, message)
    }

    /// A failure to reach a path the user named (on the command line): one
    /// that does not exist is a usage error, any other failure an I/O one.
    pub fn named(path: &Path, doing: impl fmt::Display, error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::NotFound {
            Diagnostic::new(Kind::Usage, path, 0, format!("{doing}: {error}"))
        } else {
            Diagnostic::io(path, 0, doing, error)
        }
    }

    /// The same, saying `message` (which names the error) instead.
    pub fn io_saying(path: &Path, line: usize, message: String, error: io::Error) -> Self {
        Diagnostic::new(Kind::Io(Arc::new(error)), path, line, message)
    }

    /// A failure to read or write a file of which only a `message` is
    /// known (litprog's own state and cache report theirs so).
    pub fn io_message(path: &Path, message: String) -> Self {
        let error = io::Error::other(message.clone());
        Diagnostic::new(Kind::Io(Arc::new(error)), path, 0, message)
    }

    /// The same, about `focus` on its line.
    pub fn about(mut self, focus: Focus) -> Self {
        self.focus = Some(Box::new(focus));
        self
    }

    /// The 1-based column of the start of its snippet's span, if any.
    pub fn column(&self) -> Option<usize> {
        self.snippet
            .as_ref()
            .map(|s| s.source[..s.span.start].chars().count() + 1)
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

impl std::error::Error for Diagnostic {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io(e) => Some(&**e),
            _ => None,
        }
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

impl Diagnostics {
    /// True when every problem is a failure to read or write a file
    /// ([`Kind::Io`]), none a problem of the documents or the usage.
    pub fn all_io(&self) -> bool {
        self.0.iter().all(|d| d.kind.is_io())
    }
}

impl std::error::Error for Diagnostics {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.first().and_then(|d| std::error::Error::source(d))
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// Fill in the snippet of each diagnostic of `path` that has a focus, from
/// the document's `text`. Diagnostics are taken in line order, so the
/// text is read once, however many there are.
pub fn attach_snippets(path: &Path, text: &str, diagnostics: &mut [Diagnostic]) {
    let mut wanted: Vec<&mut Diagnostic> = diagnostics
        .iter_mut()
        .filter(|d| d.focus.is_some() && d.snippet.is_none() && d.line > 0 && d.path == path)
        .collect();
    wanted.sort_by_key(|d| d.line);
    let mut lines = text.split('\n').enumerate();
    let mut current: Option<(usize, &str)> = None;
    for d in wanted {
        while current.is_none_or(|(n, _)| n + 1 < d.line) {
            match lines.next() {
                Some(line) => current = Some(line),
                None => return,
            }
        }
        let Some((n, line)) = current else { return };
        if n + 1 != d.line {
            continue;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        if let Some(span) = d.focus.as_ref().and_then(|f| find_focus(line, f)) {
            d.snippet = Some(Box::new(window(line, span)));
        }
    }
}

/// Bytes of a snippet's line kept before its span, of its span and after
/// it: a line of megabytes is shown cut, with `...` where it was cut.
const BEFORE: usize = 100;
const SPAN: usize = 80;
const AFTER: usize = 40;

/// `line` cut to a window around `span`.
fn window(line: &str, span: std::ops::Range<usize>) -> Snippet {
    let floor = |mut i: usize| {
        while !line.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start.saturating_sub(BEFORE));
    let span_end = floor(span.end.min(span.start + SPAN)).max(span.start + 1);
    let span_end = (span.start + 1..=line.len())
        .find(|&i| i >= span_end && line.is_char_boundary(i))
        .unwrap_or(line.len());
    let end = floor((span_end + AFTER).min(line.len()));
    let mut source = String::with_capacity(end - start + 6);
    if start > 0 {
        source.push_str("...");
    }
    let shift = source.len();
    source.push_str(&line[start..end]);
    if end < line.len() {
        source.push_str("...");
    }
    Snippet {
        source,
        span: span.start - start + shift..span_end - start + shift,
    }
}

/// Where `key` is written as an option key on `line`: the key as a whole
/// word (quotes allowed around it), followed by `=` or `:`.
fn find_key(line: &str, key: &str) -> Option<std::ops::Range<usize>> {
    if key.is_empty() {
        return None;
    }
    let bytes = line.as_bytes();
    line.match_indices(key)
        .map(|(at, _)| at)
        .find(|&at| {
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let starts = before.is_none_or(|b| b" \t{,\"'".contains(&b));
            let rest = line[at + key.len()..].trim_start_matches(['"', '\'']);
            starts && rest.trim_start().starts_with(['=', ':'])
        })
        .map(|at| at..at + key.len())
}

/// The value written after `key` on `line`: a bracketed list or mapping,
/// a quoted string, a word (in an info string: `key=value`), or the rest
/// of the line.
fn find_value(line: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let k = find_key(line, key)?;
    let after = &line[k.end..];
    let sep = after.find(['=', ':'])?;
    let tight = sep == 0 && after.starts_with('=');
    let start = k.end + sep + 1;
    let rest = &line[start..];
    let skipped = rest.len() - rest.trim_start().len();
    let start = start + skipped;
    let rest = &line[start..];
    let len = match rest.chars().next()? {
        open @ ('[' | '{') => {
            let close = if open == '[' { ']' } else { '}' };
            let mut depth = 0;
            rest.char_indices()
                .find_map(|(i, c)| {
                    if c == open {
                        depth += 1;
                    } else if c == close {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    None
                })
                .unwrap_or(rest.len())
        }
        q @ ('"' | '\'') => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        _ if tight => rest.find([' ', '\t']).unwrap_or(rest.len()),
        _ => rest.trim_end().trim_end_matches(',').len(),
    };
    (len > 0).then(|| start..start + len)
}

fn find_focus(line: &str, focus: &Focus) -> Option<std::ops::Range<usize>> {
    match focus {
        Focus::Key(key) => find_key(line, key),
        Focus::Value(key) => find_value(line, key).or_else(|| find_key(line, key)),
        Focus::Item(key, item) => {
            let from = find_key(line, key).map_or(0, |k| k.end);
            line[from..]
                .find(item.as_str())
                .map(|i| from + i..from + i + item.len())
                .filter(|r| !r.is_empty())
                .or_else(|| find_value(line, key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: &str, focus: Focus) -> Option<&str> {
        find_focus(line, &focus).map(|r| &line[r])
    }

    #[test]
    fn focus_is_found_in_each_syntax() {
        let key = |k: &str| Focus::Key(k.into());
        let value = |k: &str| Focus::Value(k.into());
        assert_eq!(span("timout: 5", key("timout")), Some("timout"));
        assert_eq!(span("timeout: soon  ", value("timeout")), Some("soon"));
        assert_eq!(
            span("  \"timeout\": \"soon\",", value("timeout")),
            Some("\"soon\"")
        );
        assert_eq!(
            span("timeout = \"soon\"", value("timeout")),
            Some("\"soon\"")
        );
        assert_eq!(
            span(
                "```bash lpid=s session_timeout=1 timeout=soon echo=1",
                value("timeout")
            ),
            Some("soon")
        );
        assert_eq!(
            span("```bash requires=[a, b] x=1", value("requires")),
            Some("[a, b]")
        );
        assert_eq!(
            span(
                "requires: [setup, stup]",
                Focus::Item("requires".into(), "stup".into())
            ),
            Some("stup")
        );
        assert_eq!(
            span("command: python3 -u", value("command")),
            Some("python3 -u")
        );
        assert_eq!(span("nothing here", key("timeout")), None);
        assert_eq!(span("timeouts: 1", key("timeout")), None);
    }

    #[test]
    fn io_failures_keep_the_system_error() {
        use std::error::Error;
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let d = Diagnostic::io(Path::new("a.md"), 0, "cannot read", denied);
        assert!(d.kind.is_io());
        let source = d.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert!(d.to_string().starts_with("a.md: cannot read: "), "{d}");
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(
            Diagnostic::named(Path::new("b.md"), "cannot read", missing).kind,
            Kind::Usage
        );
        let both = Diagnostics(vec![
            d.clone(),
            Diagnostic::new(Kind::Syntax, Path::new("c.md"), 1, "x"),
        ]);
        assert!(!both.all_io());
        assert!(Diagnostics(vec![d]).all_io());
    }

    #[test]
    fn snippets_are_attached_in_one_pass() {
        let text = "a\r\ntimeout: soon\r\nb\r\nx: 1\n";
        let path = Path::new("t.md");
        let mut ds = vec![
            Diagnostic::new(Kind::Syntax, path, 4, "m").about(Focus::Key("x".into())),
            Diagnostic::new(Kind::Syntax, path, 2, "m").about(Focus::Value("timeout".into())),
            Diagnostic::new(Kind::Syntax, path, 3, "m"),
            Diagnostic::new(Kind::Syntax, path, 9, "m").about(Focus::Key("x".into())),
        ];
        attach_snippets(path, text, &mut ds);
        assert_eq!(ds[0].snippet.as_ref().map(|s| s.span.clone()), Some(0..1));
        assert_eq!(
            ds[1].snippet.as_deref(),
            Some(&Snippet {
                source: "timeout: soon".into(),
                span: 9..13
            })
        );
        assert_eq!(ds[1].column(), Some(10));
        assert_eq!(ds[2].snippet, None);
        assert_eq!(ds[3].snippet, None);
    }

    #[test]
    fn a_long_line_is_cut_around_the_span() {
        let line = format!("timeout: \"{}é\"", "x".repeat(10 << 20));
        let focus = Focus::Value("timeout".into());
        let span = find_focus(&line, &focus).unwrap();
        let s = window(&line, span);
        assert!(s.source.len() < 250, "{}", s.source.len());
        assert!(s.source.starts_with("timeout: \"xxx") && s.source.ends_with("x..."));
        assert_eq!(s.span.start, 9);
        let s = window(&line, line.len() - 3..line.len());
        assert!(
            s.source.starts_with("...x") && s.source.ends_with("é\""),
            "{}",
            s.source
        );
        assert_eq!(&s.source[s.span.clone()], "é\"");
    }
}
