//! The marker protocol: which statement prints a marker in which
//! interpreter, what a marker looks like, and where markers are in a stream.
//!
//! A marker is `__litprog_<16 random hex digits>_<block index>__`, random per
//! session so that no program prints one by accident. The statement written
//! after block `i` prints marker `i` followed by a newline to stdout and then
//! to stderr. Markers are searched as substrings, so a block whose output
//! does not end with a newline keeps its last bytes; the newline (or `\r\n`)
//! right after a marker belongs to the marker and is removed with it.

use std::fmt::Write as _;
use std::path::Path;

/// A session's marker statement and random marker prefix.
#[derive(Clone, Debug)]
pub(crate) struct Markers {
    /// `__litprog_<hex>_`; marker `i` is this followed by `i__`.
    prefix: String,
    /// The statement template cut at its holes once, the prefix already in
    /// place, so that a statement is one allocation and a few copies.
    pieces: Vec<Piece>,
    /// Put before the first statement only: the built-in python statement
    /// calls a helper that this defines (see [`Interpreter::setup`]).
    setup: String,
}

/// A part of a marker statement.
#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    /// `{tail}`, or the end of `{marker}`: the block index and `__`.
    Tail,
}

/// `template` (see [`Markers::statement`]) with its final newline, cut at
/// the holes that depend on the index. Holes are replaced left to right,
/// and none of them contains another or inserts a brace, so this is what
/// replacing `{marker}`, then `{head}`, then `{tail}` everywhere gives.
fn pieces(template: &str, prefix: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        rest = &rest[open..];
        let hole = ["{marker}", "{head}", "{tail}"]
            .into_iter()
            .find(|hole| rest.starts_with(hole));
        if matches!(hole, Some("{marker}" | "{head}")) {
            text.push_str(prefix);
        }
        if matches!(hole, Some("{marker}" | "{tail}")) {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
            pieces.push(Piece::Tail);
        }
        match hole {
            Some(hole) => rest = &rest[hole.len()..],
            None => {
                text.push('{');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    text.push('\n');
    pieces.push(Piece::Text(text));
    pieces
}

impl Markers {
    /// Markers with the built-in statement of `interpreter`; `merged`:
    /// stdout and stderr are one stream, and one marker on it is enough.
    pub(crate) fn builtin(interpreter: Interpreter, merged: bool) -> Self {
        let mut markers = Markers::new(interpreter.template(merged).to_string());
        if let Some(setup) = interpreter.setup(merged) {
            markers.setup = setup.replace("{head}", &markers.prefix);
        }
        markers
    }

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
        let prefix = format!("__litprog_{random:016x}_");
        Markers {
            pieces: pieces(&template, &prefix),
            prefix,
            setup: String::new(),
        }
    }

    /// The marker text for block `index` (the engine only searches for the
    /// prefix and the index part).
    #[cfg(test)]
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
        let mut stmt = String::with_capacity(256);
        if index == 0 {
            stmt.push_str(&self.setup);
        }
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => stmt.push_str(text),
                Piece::Tail => {
                    let _ = write!(stmt, "{index}__");
                }
            }
        }
        stmt
    }
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
    pub(crate) fn template(self, merged: bool) -> &'static str {
        match (self, merged) {
            (Interpreter::Shell, true) => "printf '%s%s\\n' '{head}' '{tail}'",
            (Interpreter::Shell, false) => {
                "printf '%s%s\\n' '{head}' '{tail}'; printf '%s%s\\n' '{head}' '{tail}' >&2"
            }
            // One line at column 0 ends any indented suite of the block. The
            // helper is defined by [`Interpreter::setup`].
            (Interpreter::Python, _) => "__import__('sys')._litprog_marker('{tail}')",
            // The leading `;` ends a last statement written without one.
            (Interpreter::Node, true) => ";process.stdout.write('{head}' + '{tail}\\n');",
            (Interpreter::Node, false) => {
                ";process.stdout.write('{head}' + '{tail}\\n'); process.stderr.write('{head}' + '{tail}\\n');"
            }
            (Interpreter::Ruby, true) => ";$stdout.write(\"{head}\" \"{tail}\\n\"); $stdout.flush",
            (Interpreter::Ruby, false) => {
                ";$stdout.write(\"{head}\" \"{tail}\\n\"); $stdout.flush; $stderr.write(\"{head}\" \"{tail}\\n\"); $stderr.flush"
            }
            // Setting `$|` flushes STDOUT now and keeps it unbuffered, so the
            // following blocks' stdout and stderr interleave as written.
            (Interpreter::Perl, true) => {
                ";{ my $o = select(STDOUT); $| = 1; select($o); print STDOUT \"{head}\", \"{tail}\\n\"; }"
            }
            (Interpreter::Perl, false) => {
                ";{ my $o = select(STDOUT); $| = 1; select($o); print STDOUT \"{head}\", \"{tail}\\n\"; print STDERR \"{head}\", \"{tail}\\n\"; }"
            }
        }
    }

    /// What goes before the first marker statement only, with `{head}` for
    /// the marker's first half (no `{tail}`: the setup never holds a marker).
    ///
    /// For python it defines the helper that the statements call, stored on
    /// the `sys` module so that no name enters `__main__` or builtins. The
    /// full four-call statement cost python more to *compile* than to run,
    /// and it is long: unbuffered (`PYTHONUNBUFFERED`, see the engine),
    /// CPython reads its script from stdin one `read(2)` per byte, so each
    /// byte of a statement costs a system call (docs/performance.md has the
    /// figures of both statements).
    /// The helper returns None, so even an interactive python prints
    /// nothing. It is on the same line as the first statement, after block
    /// 0, so no block's line numbers move further than before.
    pub(crate) fn setup(self, merged: bool) -> Option<&'static str> {
        match (self, merged) {
            (Interpreter::Python, true) => Some(
                "__import__('sys')._litprog_marker = (lambda s, h: lambda t: \
                 (s.stderr.flush(), s.stdout.write(h + t + '\\n'), s.stdout.flush()) \
                 and None)(__import__('sys'), '{head}'); ",
            ),
            (Interpreter::Python, false) => Some(
                "__import__('sys')._litprog_marker = (lambda s, h: lambda t: \
                 (s.stdout.write(h + t + '\\n'), s.stdout.flush(), \
                 s.stderr.write(h + t + '\\n'), s.stderr.flush()) and None)\
                 (__import__('sys'), '{head}'); ",
            ),
            _ => None,
        }
    }
}

/// The last component of a command word (`/usr/bin/python3` -> `python3`).
pub(crate) fn basename(arg: &str) -> &str {
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
            for merged in [true, false] {
                let m = Markers::builtin(interpreter, merged);
                for index in [0, 7] {
                    let stmt = m.statement(index);
                    let tail = format!("{index}__");
                    assert!(!stmt.contains(&m.marker(index)), "{stmt}");
                    assert!(stmt.contains(&tail), "{stmt}");
                    assert_eq!(stmt.lines().count(), 1, "{stmt}");
                }
                let all = m.statement(0) + &m.statement(1);
                assert!(all.contains(m.prefix()), "{all}");
            }
        }
    }

    #[test]
    fn statement_is_the_template_with_its_holes_replaced() {
        let templates = [
            "",
            "{marker}",
            "a {marker} b {head}{tail} c {{marker}} {tail}{head} {x} {",
            "{hea{tail}d} {mark{head}er} }{",
            "{{{marker}",
        ];
        for template in templates {
            let m = Markers::new(template.into());
            for index in [0, 7, 12345] {
                let mut want = template
                    .replace("{marker}", &m.marker(index))
                    .replace("{head}", m.prefix())
                    .replace("{tail}", &format!("{index}__"));
                want.push('\n');
                assert_eq!(m.statement(index), want, "{template:?}");
            }
        }
    }

    #[test]
    fn markers_differ_per_session() {
        let a = Markers::new(String::new());
        let b = Markers::new(String::new());
        assert_ne!(a.marker(0), b.marker(0));
    }
}
