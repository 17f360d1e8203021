//! Redactions: the parts of output that differ between machines and runs,
//! replaced by placeholders before output is compared or written.
//!
//! Built in: the project's root directory becomes `[ROOT]`, the session's
//! working directory (when it is not the root) `[CWD]`, the home directory
//! `[HOME]` and the system's temporary directory `[TMP]`. Where they nest
//! (a checkout under the home directory) the longest path wins. A path is
//! replaced only where it starts and ends at a path boundary: with `[TMP]`
//! for `/tmp`, `/tmp/tmp.x1` becomes `[TMP]/tmp.x1` and `/tmpfs` stays as
//! it is. Each directory is known both as given and as its canonical path
//! (on macOS `/tmp` is `/private/tmp`).
//!
//! A session's `redact` option adds placeholders for regular expressions,
//! applied after the built-in ones in the order of their placeholders.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Placeholders for the built-in redactions, longest path first.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    paths: Vec<(String, &'static str)>,
    patterns: Vec<(Regex, String)>,
}

/// The directories that the built-in redactions replace.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// The project root: `[ROOT]`.
    pub root: Option<PathBuf>,
    /// The session's working directory: `[CWD]` (ignored when it is the root).
    pub cwd: Option<PathBuf>,
    /// The home directory: `[HOME]`.
    pub home: Option<PathBuf>,
    /// The system's temporary directory: `[TMP]`.
    pub tmp: Option<PathBuf>,
}

impl Places {
    /// The places of this machine for a project rooted at `root` and a
    /// session running in `cwd`.
    pub fn of_this_machine(root: &Path, cwd: &Path) -> Places {
        Places {
            root: Some(root.to_path_buf()),
            cwd: Some(cwd.to_path_buf()),
            home: std::env::var_os("HOME").map(PathBuf::from),
            tmp: Some(std::env::temp_dir()),
        }
    }
}

/// Is a placeholder of the form `[NAME]` (letters, digits, `_` and `-`)?
pub fn is_placeholder(name: &str) -> bool {
    name.strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// The project's root directory, which `[ROOT]` stands for: the current
/// directory (the CLI enters the root first). It is canonical as it is:
/// `getcwd` names no symbolic link, `.` or `..` (POSIX).
pub fn project_root() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// Largest compiled `redact` expression: a hostile one cannot take the
/// build's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a `redact` expression (the regex crate's syntax, linear time).
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

impl Redactor {
    /// A redactor that changes nothing.
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// The built-in redactions for `places`. Relative, empty and root (`/`)
    /// paths are ignored: they would replace too much.
    pub fn builtin(places: &Places) -> Redactor {
        let mut paths: Vec<(String, &'static str)> = Vec::new();
        let mut add = |path: &Option<PathBuf>, name: &'static str| {
            let Some(path) = path else { return };
            let canonical = std::fs::canonicalize(path).ok();
            for p in std::iter::once(path.as_path()).chain(canonical.as_deref()) {
                let Some(text) = p.to_str() else { continue };
                let text = text.trim_end_matches('/');
                if !p.is_absolute() || text.is_empty() {
                    continue;
                }
                if !paths.iter().any(|(t, _)| t == text) {
                    paths.push((text.to_string(), name));
                }
            }
        };
        add(&places.root, "[ROOT]");
        if places.cwd.is_some() && places.cwd != places.root {
            add(&places.cwd, "[CWD]");
        }
        add(&places.home, "[HOME]");
        add(&places.tmp, "[TMP]");
        // Longest first, so that nested places give the innermost name; ties
        // keep the order above.
        paths.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Redactor {
            paths,
            patterns: Vec::new(),
        }
    }

    /// Adds a placeholder for every match of `pattern`.
    pub fn with_pattern(mut self, placeholder: &str, pattern: Regex) -> Redactor {
        self.patterns.push((pattern, placeholder.to_string()));
        self
    }

    /// Whether this redactor changes nothing.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.patterns.is_empty()
    }

    /// `line` with every redaction applied; borrowed when nothing matched.
    pub fn apply<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut out = self.apply_paths(line);
        for (re, placeholder) in &self.patterns {
            if let Cow::Owned(s) = re.replace_all(&out, regex::NoExpand(placeholder)) {
                out = Cow::Owned(s);
            }
        }
        out
    }

    fn apply_paths<'a>(&self, line: &'a str) -> Cow<'a, str> {
        if self.paths.is_empty() || !line.contains('/') {
            return Cow::Borrowed(line);
        }
        let bytes = line.as_bytes();
        let mut out = String::new();
        let mut copied = 0;
        let mut at = 0;
        while let Some(off) = memchr::memchr(b'/', &bytes[at..]) {
            let start = at + off;
            at = start + 1;
            if start < copied || (start > 0 && continues_path(bytes[start - 1])) {
                continue;
            }
            let found = self.paths.iter().find(|(path, _)| {
                line[start..].starts_with(path.as_str()) && ends_path(bytes, start + path.len())
            });
            if let Some((path, name)) = found {
                out.push_str(&line[copied..start]);
                out.push_str(name);
                copied = start + path.len();
                at = copied;
            }
        }
        if copied == 0 {
            return Cow::Borrowed(line);
        }
        out.push_str(&line[copied..]);
        Cow::Owned(out)
    }
}

/// Can `b`, just before a path, be part of a longer path or word? Then the
/// path does not start there (`/x/tmp`, `a/tmp`, `x/tmp`).
fn continues_path(b: u8) -> bool {
    b == b'/' || is_name_byte(b)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~' | b'+') || b >= 0x80
}

/// Does a path end at `end`: the end of the line, a `/`, or a byte that
/// cannot continue a file name? A `.` ends it only when no name byte
/// follows (`/tmp.` at the end of a sentence, not `/tmp.x1`).
fn ends_path(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None | Some(b'/') => true,
        Some(b'.') => !bytes.get(end + 1).is_some_and(|&b| is_name_byte(b)),
        Some(&b) => !is_name_byte(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(root: &str, cwd: &str, home: &str, tmp: &str) -> Places {
        let p = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
        Places {
            root: p(root),
            cwd: p(cwd),
            home: p(home),
            tmp: p(tmp),
        }
    }

    #[test]
    fn the_longest_place_wins() {
        let r = Redactor::builtin(&places(
            "/home/ann/src/book",
            "/home/ann/src/book/site",
            "/home/ann",
            "/tmp",
        ));
        assert_eq!(
            r.apply("cd /home/ann/src/book/site/x && ls /home/ann/src/book /home/ann/.cache"),
            "cd [CWD]/x && ls [ROOT] [HOME]/.cache"
        );
        assert_eq!(r.apply("/home/ann"), "[HOME]");
    }

    #[test]
    fn paths_are_replaced_only_at_boundaries() {
        let r = Redactor::builtin(&places("", "", "", "/tmp"));
        assert_eq!(r.apply("/tmp/tmp.x1"), "[TMP]/tmp.x1");
        assert_eq!(r.apply("/tmp.x1"), "/tmp.x1");
        assert_eq!(r.apply("/tmpfs"), "/tmpfs");
        assert_eq!(r.apply("/var/tmp/x"), "/var/tmp/x");
        assert_eq!(r.apply("x/tmp/y"), "x/tmp/y");
        assert_eq!(r.apply("saved in /tmp."), "saved in [TMP].");
        assert_eq!(
            r.apply("'/tmp/a' \"/tmp\" (/tmp) /tmp:/tmp"),
            "'[TMP]/a' \"[TMP]\" ([TMP]) [TMP]:[TMP]"
        );
        assert!(matches!(r.apply("no paths"), Cow::Borrowed(_)));
        assert!(matches!(r.apply("/usr/bin"), Cow::Borrowed(_)));
    }

    #[test]
    fn root_relative_and_empty_places_are_ignored() {
        let r = Redactor::builtin(&places("/", "rel", "", "/tmp/"));
        assert_eq!(r.apply("/ rel /tmp/x"), "/ rel [TMP]/x");
    }

    #[test]
    fn cwd_equal_to_root_is_root() {
        let r = Redactor::builtin(&places("/srv/p", "/srv/p", "", ""));
        assert_eq!(r.apply("/srv/p/a"), "[ROOT]/a");
    }

    #[test]
    fn patterns_follow_paths() {
        let r = Redactor::builtin(&places("/srv/p", "", "", ""))
            .with_pattern("[PID]", Regex::new(r"pid \d+").unwrap())
            .with_pattern("[$1]", Regex::new(r"\d+ms").unwrap());
        assert_eq!(r.apply("/srv/p pid 42 took 17ms"), "[ROOT] [PID] took [$1]");
    }

    #[test]
    fn placeholders_have_the_form_name_in_brackets() {
        assert!(is_placeholder("[UUID]"));
        assert!(is_placeholder("[time_2]"));
        assert!(!is_placeholder("UUID"));
        assert!(!is_placeholder("[]"));
        assert!(!is_placeholder("[a b]"));
        assert!(!is_placeholder("[..]"));
    }
}
