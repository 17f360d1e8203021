//! The marker protocol: which statement prints a marker in which
//! interpreter, what a marker looks like, and where markers are in a stream.
//!
//! A marker is `__litprog_<16 random hex digits>_<block index>__`, random per
//! session so that no program prints one by accident. The statement written
//! after block `i` prints marker `i` followed by a newline to stdout and then
//! to stderr. Markers are searched as substrings, so a block whose output
//! does not end with a newline keeps its last bytes; the newline (or `\r\n`)
//! right after a marker belongs to the marker and is removed with it.

use std::ops::Range;
use std::path::Path;

/// A session's marker statement and random marker prefix.
#[derive(Clone, Debug)]
pub(crate) struct Markers {
    /// `__litprog_<hex>_`; marker `i` is this followed by `i__`.
    prefix: String,
    /// The statement template with `{marker}` standing for the marker.
    template: String,
}

impl Markers {
    /// Markers for `template`, with a fresh random prefix.
    pub(crate) fn new(template: String) -> Self {
        let random = getrandom::u64().unwrap_or_else(|err| {
            // Without OS randomness fall back to something that still varies
            // per run; markers only need to be unlikely in real output.
            log::warn!("no OS randomness for session markers: {err}");
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64 ^ u64::from(std::process::id()) << 32
        });
        Markers {
            prefix: format!("__litprog_{random:016x}_"),
            template,
        }
    }

    /// The marker text for block `index`.
    pub(crate) fn marker(&self, index: usize) -> String {
        format!("{}{index}__", self.prefix)
    }

    /// The random part every marker of this session starts with.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The statement (with its final newline) that prints marker `index`.
    ///
    /// Besides `{marker}`, a template may use `{head}` and `{tail}`, the two
    /// halves of the marker, so that the statement's own text never contains
    /// the marker: an interpreter that traces or echoes its input (`set -x`,
    /// `bash -v`) then cannot fake a marker. The built-in statements do.
    pub(crate) fn statement(&self, index: usize) -> String {
        let mut stmt = self
            .template
            .replace("{marker}", &self.marker(index))
            .replace("{head}", &self.prefix)
            .replace("{tail}", &format!("{index}__"));
        stmt.push('\n');
        stmt
    }

    /// Finds markers `0, 1, ...` in order in `data`, stopping at the first
    /// missing one or after `max`. Each range covers the marker and the
    /// newline after it.
    pub(crate) fn find(&self, data: &[u8], max: usize) -> Vec<Range<usize>> {
        let mut found = Vec::new();
        let mut from = 0;
        while found.len() < max {
            let marker = self.marker(found.len());
            let Some(pos) = find_bytes(&data[from..], marker.as_bytes()) else {
                break;
            };
            let start = from + pos;
            let mut end = start + marker.len();
            if data[end..].starts_with(b"\r\n") {
                end += 2;
            } else if data[end..].starts_with(b"\n") {
                end += 1;
            }
            found.push(start..end);
            from = end;
        }
        found
    }
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The interpreter a command runs, as far as markers care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interpreter {
    Shell,
    Python,
    Node,
    Ruby,
    Perl,
}

impl Interpreter {
    /// Recognises the interpreter from `argv`: the basename of `argv[0]`, or
    /// of the program after `env` and its options (`/usr/bin/env python3`).
    pub(crate) fn detect(argv: &[String]) -> Option<Interpreter> {
        let mut args = argv.iter().map(|a| basename(a));
        let mut name = args.next()?;
        if name == "env" {
            name = args.find(|a| !a.starts_with('-') && !a.contains('='))?;
        }
        match name {
            "bash" | "sh" | "dash" | "zsh" | "ksh" | "mksh" | "ash" => Some(Interpreter::Shell),
            "node" | "nodejs" => Some(Interpreter::Node),
            "ruby" => Some(Interpreter::Ruby),
            "perl" => Some(Interpreter::Perl),
            _ if is_python(name) => Some(Interpreter::Python),
            _ => None,
        }
    }

    /// The built-in marker statement template; it joins `{head}` and
    /// `{tail}` at run time (see [`Markers::statement`]).
    pub(crate) fn template(self) -> &'static str {
        match self {
            Interpreter::Shell => {
                "printf '%s%s\\n' '{head}' '{tail}'; printf '%s%s\\n' '{head}' '{tail}' >&2"
            }
            // One line at column 0 ends any indented suite of the block;
            // adjacent string literals are joined by the compiler.
            Interpreter::Python => {
                "__import__('sys').stdout.write('{head}' '{tail}\\n'); __import__('sys').stdout.flush(); \
                 __import__('sys').stderr.write('{head}' '{tail}\\n'); __import__('sys').stderr.flush()"
            }
            // The leading `;` ends a last statement written without one.
            Interpreter::Node => {
                ";process.stdout.write('{head}' + '{tail}\\n'); process.stderr.write('{head}' + '{tail}\\n');"
            }
            Interpreter::Ruby => {
                ";$stdout.write(\"{head}\" \"{tail}\\n\"); $stdout.flush; $stderr.write(\"{head}\" \"{tail}\\n\"); $stderr.flush"
            }
            // Setting `$|` flushes STDOUT now and keeps it unbuffered, so the
            // following blocks' stdout and stderr interleave as written.
            Interpreter::Perl => {
                ";{ my $o = select(STDOUT); $| = 1; select($o); print STDOUT \"{head}\", \"{tail}\\n\"; print STDERR \"{head}\", \"{tail}\\n\"; }"
            }
        }
    }
}

fn basename(arg: &str) -> &str {
    Path::new(arg)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(arg)
}

/// `python`, `python3`, `python3.12`, `python2.7`.
fn is_python(name: &str) -> bool {
    name.strip_prefix("python")
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(cmd: &str) -> Vec<String> {
        shlex::split(cmd).unwrap()
    }

    #[test]
    fn detects_interpreters_by_basename_and_behind_env() {
        let cases = [
            ("bash", Some(Interpreter::Shell)),
            ("/bin/dash -s", Some(Interpreter::Shell)),
            ("/usr/bin/env python3", Some(Interpreter::Python)),
            ("env -S PYTHONX=1 python3.12 -q", Some(Interpreter::Python)),
            ("python", Some(Interpreter::Python)),
            ("/usr/local/bin/node", Some(Interpreter::Node)),
            ("ruby", Some(Interpreter::Ruby)),
            ("perl -w", Some(Interpreter::Perl)),
            ("sqlite3", None),
            ("pythonista", None),
            ("/usr/bin/env", None),
        ];
        for (cmd, want) in cases {
            assert_eq!(Interpreter::detect(&argv(cmd)), want, "{cmd}");
        }
    }

    #[test]
    fn statement_replaces_marker_and_ends_with_newline() {
        let m = Markers::new(".print {marker}".into());
        let stmt = m.statement(3);
        assert!(stmt.starts_with(".print __litprog_"), "{stmt}");
        assert!(stmt.ends_with("_3__\n"), "{stmt}");
    }

    #[test]
    fn builtin_statements_never_contain_the_marker() {
        for interpreter in [
            Interpreter::Shell,
            Interpreter::Python,
            Interpreter::Node,
            Interpreter::Ruby,
            Interpreter::Perl,
        ] {
            let m = Markers::new(interpreter.template().into());
            let stmt = m.statement(7);
            assert!(!stmt.contains(&m.marker(7)), "{stmt}");
            assert!(stmt.contains("7__") && stmt.contains(m.prefix()), "{stmt}");
        }
    }

    #[test]
    fn markers_differ_per_session() {
        let a = Markers::new(String::new());
        let b = Markers::new(String::new());
        assert_ne!(a.marker(0), b.marker(0));
    }

    #[test]
    fn finds_markers_in_order_with_their_newline() {
        let m = Markers::new(String::new());
        let data = format!("a\n{}\nok2{}\r\ntail", m.marker(0), m.marker(1));
        let found = m.find(data.as_bytes(), 5);
        assert_eq!(found.len(), 2);
        assert_eq!(&data[..found[0].start], "a\n");
        assert_eq!(&data[found[0].end..found[1].start], "ok2");
        assert_eq!(&data[found[1].end..], "tail");
    }

    #[test]
    fn marker_one_does_not_match_marker_ten() {
        let m = Markers::new(String::new());
        let data = format!("{}\n{}\n", m.marker(0), m.marker(10));
        assert_eq!(m.find(data.as_bytes(), 5).len(), 1);
    }
}
