//! What options mean: lptypes, the known keys of each, and the checked
//! [`SessionSpec`] and [`OutFileSpec`] built from a group's merged options,
//! with errors naming the offending key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// What a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LpType {
    /// Run through one long-lived interpreter.
    Session,
    /// Tangled into a file.
    OutFile,
    /// Plain code, usable as an input of out_files (the default).
    RawBlock,
    /// Document metadata: kept, never run.
    Meta,
}

impl LpType {
    /// Parse an lptype name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "session" => LpType::Session,
            "out_file" => LpType::OutFile,
            "raw_block" => LpType::RawBlock,
            "meta" => LpType::Meta,
            _ => return None,
        })
    }

    /// The name as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            LpType::Session => "session",
            LpType::OutFile => "out_file",
            LpType::RawBlock => "raw_block",
            LpType::Meta => "meta",
        }
    }

    /// The option keys this lptype knows (besides `lpid` and `lptype`).
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            LpType::Session => SESSION_KEYS,
            LpType::OutFile => OUT_FILE_KEYS,
            LpType::RawBlock | LpType::Meta => &[],
        }
    }
}

/// Session option keys.
pub const SESSION_KEYS: &[&str] = &[
    "command",
    "requires",
    "timeout",
    "expected_exit_code",
    "echo",
    "term",
    "env",
    "cwd",
    "output",
    "marker",
    "input_delay",
    "encoding",
    // The session engine's (issue 11).
    "stderr",
    "session_timeout",
    "show_value",
    // What is written (issue 12).
    "redact",
    "redact_builtin",
    "status",
    // The result cache (issue 14).
    "files",
    "cache",
];

/// Options of one block, not of its group: blocks of one group may set
/// different values, and they are not merged (`hide`). Any lptype takes
/// them.
pub const BLOCK_KEYS: &[&str] = &["hide"];

/// What readers of a rendered book (`litprog mdbook`) do not see of a
/// block: its `hide` option. On an option block it is the default of the
/// group's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hide {
    /// Everything shows (the default).
    #[default]
    None,
    /// The code block is hidden, its result block shows.
    Code,
    /// The result block is hidden, the code shows.
    Output,
    /// Both are hidden.
    All,
}

/// The `hide` option's value.
pub fn hide(v: &Value) -> Result<Hide, OptionError> {
    match v.as_str() {
        Some("none") => Ok(Hide::None),
        Some("code") => Ok(Hide::Code),
        Some("output") => Ok(Hide::Output),
        Some("all") => Ok(Hide::All),
        _ => Err(err(
            "hide",
            format!(
                "option 'hide' must be code, output, all or none, not {}",
                show(v)
            ),
        )),
    }
}

/// out_file option keys.
pub const OUT_FILE_KEYS: &[&str] = &["filepath", "inputs", "encoding", "is_executable"];

/// Where a session's output goes in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// A result block after each block that printed something (default).
    Block,
    /// One result block after the group's last block.
    Session,
    /// No result block.
    None,
}

/// A command: a string split with shell rules, or a list of arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine(pub Vec<String>);

/// Checked options of a session group.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSpec {
    /// The interpreter (default `bash`).
    pub command: CommandLine,
    /// lpids (or globs over lpids) that must be complete first.
    pub requires: Vec<String>,
    /// Time limit; `None` means the build's default.
    pub timeout: Option<Duration>,
    /// The exit status that counts as success (default 0).
    pub expected_exit_code: i32,
    /// Include input lines in the transcript.
    pub echo: bool,
    /// Run with stdout and stderr on pseudo-terminals.
    pub term: bool,
    /// Environment additions.
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to the current directory.
    pub cwd: Option<String>,
    /// Result block placement.
    pub output: OutputMode,
    /// Marker statement template with `{marker}`.
    pub marker: Option<String>,
    /// Per-line input delay.
    pub input_delay: Option<Duration>,
    /// The interpreter's encoding.
    pub encoding: Option<String>,
    /// stdout and stderr as one stream (default) or two.
    pub stderr: crate::session::StderrMode,
    /// Limit of the whole session (default none).
    pub session_timeout: Option<Duration>,
    /// python, node: print the value of each block's last expression.
    pub show_value: bool,
    /// Placeholders for regular expressions, applied to every output line
    /// (`redact: {"[UUID]": "[0-9a-f]{8}-..."}`), in placeholder order.
    pub redact: BTreeMap<String, String>,
    /// Replace the project root, working, home and temporary directories by
    /// `[ROOT]`, `[CWD]`, `[HOME]` and `[TMP]` (default true).
    pub redact_builtin: bool,
    /// When the status line is written.
    pub status: StatusMode,
    /// Globs (relative to the project root) of files the session reads:
    /// their content is part of its cache key.
    pub files: Vec<String>,
    /// Whether its results may come from the cache (default true).
    pub cache: bool,
}

/// When a session's status line (`# exit: 0`) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMode {
    /// Always (default).
    Always,
    /// Only when the outcome is not a plain exit 0 (an expected `# exit: 3`
    /// still shows).
    Nonzero,
    /// Never, even when the session fails (the build still fails).
    Never,
}

/// Checked options of an out_file group.
#[derive(Debug, Clone, PartialEq)]
pub struct OutFileSpec {
    /// Target path, relative to the current directory.
    pub filepath: String,
    /// lpids (or globs) whose content is concatenated.
    pub inputs: Vec<String>,
    /// Encoding of the written file (default UTF-8).
    pub encoding: Option<String>,
    /// Set the executable bits.
    pub is_executable: bool,
}

/// The checked options of a group, by lptype.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// A session.
    Session(SessionSpec),
    /// An out_file.
    OutFile(OutFileSpec),
    /// Raw code.
    RawBlock,
    /// Metadata.
    Meta,
}

/// A problem with one option: its key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// The offending key.
    pub key: String,
    /// What is wrong with its value.
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> OptionError {
    OptionError {
        key: key.to_string(),
        message: message.into(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A value as shown in messages: JSON syntax, cut to a readable length.
pub fn show(v: &Value) -> String {
    show_text(&v.to_string())
}

/// Text as shown in messages, cut to a readable length.
pub fn show_text(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
        None => text.to_string(),
    }
}

fn expected(key: &str, what: &str, v: &Value) -> OptionError {
    err(
        key,
        format!(
            "option '{key}' must be {what}, not {} ({})",
            type_name(v),
            show(v)
        ),
    )
}

fn as_string(key: &str, v: &Value) -> Result<String, OptionError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(expected(key, "a string", v)),
    }
}

fn as_bool(key: &str, v: &Value) -> Result<bool, OptionError> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(expected(key, "true or false", v)),
    }
}

fn as_string_list(key: &str, v: &Value) -> Result<Vec<String>, OptionError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(expected(key, "a list of strings", v)),
            })
            .collect(),
        _ => Err(expected(key, "a list of strings", v)),
    }
}

fn as_seconds(key: &str, v: &Value, allow_zero: bool) -> Result<Duration, OptionError> {
    let secs = v
        .as_f64()
        .ok_or_else(|| expected(key, "a number of seconds", v))?;
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !allow_zero) || secs > 1e9 {
        let what = if allow_zero {
            "zero or more"
        } else {
            "more than zero"
        };
        return Err(err(
            key,
            format!("option '{key}' must be {what} seconds, not {}", show(v)),
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn as_encoding(key: &str, v: &Value) -> Result<String, OptionError> {
    let label = as_string(key, v)?;
    if encoding_rs::Encoding::for_label(label.as_bytes()).is_none() {
        return Err(err(
            key,
            format!("unknown encoding '{}' in option '{key}'", show_text(&label)),
        ));
    }
    Ok(label)
}

/// Options as merged for one group: key to value (lpid and lptype excluded).
pub type OptionMap = BTreeMap<String, Value>;

/// Check a group's merged options into a [`Spec`]. `Err` holds every
/// problem, in key order.
pub fn typed(lptype: LpType, lpid: &str, options: &OptionMap) -> Result<Spec, Vec<OptionError>> {
    match lptype {
        LpType::Session => session_spec(options).map(Spec::Session),
        LpType::OutFile => out_file_spec(lpid, options).map(Spec::OutFile),
        LpType::RawBlock => Ok(Spec::RawBlock),
        LpType::Meta => Ok(Spec::Meta),
    }
}

fn session_spec(options: &OptionMap) -> Result<SessionSpec, Vec<OptionError>> {
    let mut spec = SessionSpec {
        command: CommandLine(vec!["bash".to_string()]),
        requires: Vec::new(),
        timeout: None,
        expected_exit_code: 0,
        echo: false,
        term: false,
        env: BTreeMap::new(),
        cwd: None,
        output: OutputMode::Block,
        marker: None,
        input_delay: None,
        encoding: None,
        stderr: crate::session::StderrMode::Merged,
        session_timeout: None,
        show_value: false,
        redact: BTreeMap::new(),
        redact_builtin: true,
        status: StatusMode::Always,
        files: Vec::new(),
        cache: true,
    };
    let errors: Vec<OptionError> = options
        .iter()
        .filter_map(|(key, v)| session_key(&mut spec, key, v).err())
        .collect();
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// Check one session option into `spec`.
fn session_key(spec: &mut SessionSpec, key: &str, v: &Value) -> Result<(), OptionError> {
    {
        match key {
            "command" => {
                let argv = match v {
                    Value::String(s) => shlex::split(s).ok_or_else(|| {
                        err(
                            key,
                            format!("option 'command' has unbalanced quotes: {}", show_text(s)),
                        )
                    })?,
                    Value::Array(_) => as_string_list(key, v)?,
                    _ => return Err(expected(key, "a string or a list of strings", v)),
                };
                if argv.is_empty() {
                    return Err(err(key, "option 'command' is empty"));
                }
                spec.command = CommandLine(argv);
            }
            "requires" => spec.requires = as_string_list(key, v)?,
            "timeout" => spec.timeout = Some(as_seconds(key, v, false)?),
            "expected_exit_code" => {
                spec.expected_exit_code = v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| expected(key, "an integer", v))?
            }
            "echo" => spec.echo = as_bool(key, v)?,
            "term" => spec.term = as_bool(key, v)?,
            "env" => {
                let Value::Object(map) = v else {
                    return Err(expected(key, "a mapping of names to values", v));
                };
                for (name, value) in map {
                    let value = match value {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return Err(expected(&format!("env.{name}"), "a string", value)),
                    };
                    spec.env.insert(name.clone(), value);
                }
            }
            "cwd" => spec.cwd = Some(as_string(key, v)?),
            "output" => {
                spec.output = match v.as_str() {
                    Some("block") => OutputMode::Block,
                    Some("session") => OutputMode::Session,
                    Some("none") => OutputMode::None,
                    _ => {
                        return Err(err(
                            key,
                            format!(
                                "option 'output' must be block, session or none, not {}",
                                show(v)
                            ),
                        ));
                    }
                }
            }
            "marker" => {
                let m = as_string(key, v)?;
                if !m.contains("{marker}") {
                    return Err(err(
                        key,
                        format!("option 'marker' must contain {{marker}}: {}", show_text(&m)),
                    ));
                }
                spec.marker = Some(m);
            }
            "input_delay" => spec.input_delay = Some(as_seconds(key, v, true)?),
            "encoding" => spec.encoding = Some(as_encoding(key, v)?),
            _ => session_engine_key(spec, key, v)?,
        }
    }
    Ok(())
}

/// The session engine's keys: `stderr`, `session_timeout`, `show_value`.
fn session_engine_key(spec: &mut SessionSpec, key: &str, v: &Value) -> Result<(), OptionError> {
    use crate::session::StderrMode;
    match key {
        "stderr" => {
            spec.stderr = match v.as_str() {
                Some("merged") => StderrMode::Merged,
                Some("separate") => StderrMode::Separate,
                _ => {
                    return Err(err(
                        key,
                        format!(
                            "option 'stderr' must be merged or separate, not {}",
                            show(v)
                        ),
                    ));
                }
            }
        }
        "session_timeout" => spec.session_timeout = Some(as_seconds(key, v, false)?),
        "show_value" => spec.show_value = as_bool(key, v)?,
        _ => result_key(spec, key, v)?,
    }
    Ok(())
}

/// The keys that decide what is written: `redact`, `redact_builtin`,
/// `status`.
fn result_key(spec: &mut SessionSpec, key: &str, v: &Value) -> Result<(), OptionError> {
    match key {
        "redact" => {
            let Value::Object(map) = v else {
                return Err(expected(
                    key,
                    "a mapping of placeholders to regular expressions",
                    v,
                ));
            };
            for (name, value) in map {
                if !crate::redact::is_placeholder(name) {
                    return Err(err(
                        key,
                        format!(
                            "option 'redact': placeholder {} must have the form [NAME] (letters, digits, _ and -)",
                            show_text(name)
                        ),
                    ));
                }
                let Value::String(pattern) = value else {
                    return Err(expected(
                        &format!("redact.{name}"),
                        "a regular expression",
                        value,
                    ));
                };
                if let Err(e) = crate::redact::compile(pattern) {
                    return Err(err(
                        key,
                        format!("option 'redact': {name} is not a valid regular expression: {e}"),
                    ));
                }
                spec.redact.insert(name.clone(), pattern.clone());
            }
        }
        "redact_builtin" => spec.redact_builtin = as_bool(key, v)?,
        "status" => {
            spec.status = match v.as_str() {
                Some("always") => StatusMode::Always,
                Some("nonzero") => StatusMode::Nonzero,
                Some("never") => StatusMode::Never,
                _ => {
                    return Err(err(
                        key,
                        format!(
                            "option 'status' must be always, nonzero or never, not {}",
                            show(v)
                        ),
                    ));
                }
            }
        }
        "files" => {
            spec.files = as_string_list(key, v)?;
            for pattern in &spec.files {
                if let Err(e) = glob::Pattern::new(pattern) {
                    return Err(err(
                        key,
                        format!(
                            "option 'files' has an invalid glob '{}': {e}",
                            show_text(pattern)
                        ),
                    ));
                }
            }
        }
        "cache" => spec.cache = as_bool(key, v)?,
        _ => {}
    }
    Ok(())
}

fn out_file_spec(lpid: &str, options: &OptionMap) -> Result<OutFileSpec, Vec<OptionError>> {
    let mut errors = Vec::new();
    let filepath = match options.get("filepath") {
        Some(v) => as_string("filepath", v).unwrap_or_else(|e| {
            errors.push(e);
            lpid.to_string()
        }),
        None => lpid.to_string(),
    };
    if filepath.trim().is_empty() {
        errors.push(err("filepath", "option 'filepath' is empty"));
    }
    let mut spec = OutFileSpec {
        filepath,
        inputs: Vec::new(),
        encoding: None,
        is_executable: false,
    };
    for (key, v) in options {
        let checked = match key.as_str() {
            "inputs" => as_string_list(key, v).map(|i| spec.inputs = i),
            "encoding" => as_encoding(key, v).map(|e| spec.encoding = Some(e)),
            "is_executable" => as_bool(key, v).map(|b| spec.is_executable = b),
            _ => Ok(()),
        };
        errors.extend(checked.err());
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// What litprog runs a session in when it sets no `command`: the
/// interpreter for the language of its first code block, and the marker
/// statement it needs when litprog has no built-in one for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanguageDefault {
    /// The command line.
    pub command: &'static [&'static str],
    /// The `marker` option, if the interpreter needs one.
    pub marker: Option<&'static str>,
}

/// The built-in interpreter for a code block language (case-insensitive),
/// if litprog knows one. This table is the last resort: a session's own
/// `command`, and project defaults for its language, come first.
pub fn language_default(lang: &str) -> Option<LanguageDefault> {
    let plain = |command| LanguageDefault {
        command,
        marker: None,
    };
    Some(match lang.to_ascii_lowercase().as_str() {
        "python" | "python3" | "py" => plain(&["python3"]),
        "bash" => plain(&["bash"]),
        "sh" => plain(&["sh"]),
        "zsh" => plain(&["zsh"]),
        "js" | "javascript" | "node" => plain(&["node"]),
        "ruby" | "rb" => plain(&["ruby"]),
        "perl" | "pl" => plain(&["perl"]),
        "sql" | "sqlite" | "sqlite3" => LanguageDefault {
            command: &["sqlite3"],
            marker: Some(".print {marker}"),
        },
        _ => return None,
    })
}

/// The kind of interpreter that runs code of a language: code blocks of
/// one kind fit any interpreter of that kind (every shell runs `sh`
/// code). `None` for languages litprog knows no interpreter of.
pub fn language_kind(lang: &str) -> Option<&'static str> {
    Some(match lang.to_ascii_lowercase().as_str() {
        "python" | "python3" | "py" => "python",
        "bash" | "sh" | "zsh" | "shell" | "ksh" | "dash" => "shell",
        "js" | "javascript" | "node" | "mjs" => "node",
        "ruby" | "rb" => "ruby",
        "perl" | "pl" => "perl",
        "sql" | "sqlite" | "sqlite3" => "sqlite",
        _ => return None,
    })
}

/// The kind of interpreter a command runs (see [`language_kind`]), judged
/// by the program's name (after `env` and its options), if known.
pub fn command_kind(argv: &[String]) -> Option<&'static str> {
    let mut words = argv.iter().map(|a| a.rsplit('/').next().unwrap_or(a));
    let mut name = words.next()?;
    if name == "env" {
        name = words.find(|w| !w.starts_with('-') && !w.contains('='))?;
    }
    Some(match name {
        "bash" | "sh" | "zsh" | "ksh" | "dash" => "shell",
        "node" | "nodejs" => "node",
        "ruby" => "ruby",
        "perl" => "perl",
        "sqlite3" => "sqlite",
        n if n.starts_with("python") => "python",
        _ => return None,
    })
}

/// The known key closest to an unknown one, for "did you mean" hints.
/// A key that differs from a known one in case only (`lpID`) is that one.
pub fn closest_key(unknown: &str, lptype: LpType) -> Option<&'static str> {
    let known = || {
        ["lpid", "lptype"]
            .iter()
            .chain(lptype.keys())
            .chain(SESSION_KEYS)
            .chain(OUT_FILE_KEYS)
            .chain(BLOCK_KEYS)
    };
    if let Some(same) = known().find(|k| **k != unknown && k.eq_ignore_ascii_case(unknown)) {
        return Some(same);
    }
    known()
        .filter(|k| **k != unknown)
        .map(|k| (strsim::jaro_winkler(unknown, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_session_defaults_and_errors() {
        let Spec::Session(s) = typed(LpType::Session, "x", &OptionMap::new()).unwrap() else {
            panic!()
        };
        assert_eq!(s.command.0, vec!["bash"]);
        assert_eq!(s.output, OutputMode::Block);
        let mut m = OptionMap::new();
        m.insert("timeout".into(), json!("soon"));
        m.insert("output".into(), json!("blocks"));
        let e = typed(LpType::Session, "x", &m).unwrap_err();
        assert_eq!(e.len(), 2, "every problem is reported: {e:?}");
        assert_eq!(e[1].key, "timeout");
        assert!(e[1].message.contains("\"soon\""), "{}", e[1].message);
        m.remove("output");
        m.insert("timeout".into(), json!(0));
        assert!(typed(LpType::Session, "x", &m).is_err());
        m.insert("timeout".into(), json!(1.5));
        m.insert("command".into(), json!("/usr/bin/env python3 -u"));
        let Spec::Session(s) = typed(LpType::Session, "x", &m).unwrap() else {
            panic!()
        };
        assert_eq!(s.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(s.command.0, vec!["/usr/bin/env", "python3", "-u"]);
        m.insert("requires".into(), json!(5));
        assert_eq!(
            typed(LpType::Session, "x", &m).unwrap_err()[0].key,
            "requires"
        );
    }

    #[test]
    fn typed_out_file() {
        let mut m = OptionMap::new();
        m.insert("inputs".into(), json!({}));
        assert_eq!(
            typed(LpType::OutFile, "f", &m).unwrap_err()[0].key,
            "inputs"
        );
        m.insert("inputs".into(), json!(["a", "b*"]));
        let Spec::OutFile(f) = typed(LpType::OutFile, "f.txt", &m).unwrap() else {
            panic!()
        };
        assert_eq!(f.filepath, "f.txt");
        assert_eq!(f.inputs, vec!["a", "b*"]);
    }

    #[test]
    fn did_you_mean() {
        assert_eq!(closest_key("timout", LpType::Session), Some("timeout"));
        assert_eq!(closest_key("requirez", LpType::Session), Some("requires"));
        assert_eq!(closest_key("zzzzzz", LpType::Session), None);
        assert_eq!(closest_key("lpID", LpType::RawBlock), Some("lpid"));
        assert_eq!(closest_key("TimeOut", LpType::Session), Some("timeout"));
        // A raw block has no options: nothing is suggested, not even an exact match.
        assert_eq!(closest_key("timeout", LpType::RawBlock), None);
    }
}
