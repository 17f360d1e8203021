//! The project: its root, its settings file `litprog.toml`, and the
//! defaults that file gives sessions.
//!
//! The root is found once per run ([`find_root`]); the command-line layer
//! then makes it the current directory, so that every relative path of a
//! build (an out_file's `filepath`, a session's `cwd`, `.litprog/`, the
//! documents' own names) means the same thing from any directory.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::error::{Diagnostic, Diagnostics, Kind};
use crate::options::{self, LpType, OptionMap, SESSION_KEYS};

/// The settings file's name, in the project root.
pub const CONFIG_FILE: &str = "litprog.toml";

/// The top-level keys of `litprog.toml`.
pub const TOP_KEYS: &[&str] = &[
    "include",
    "exclude",
    "jobs",
    "timeout",
    "session",
    "languages",
];

/// Session options that cannot be defaults: they name other groups.
const NOT_DEFAULTS: &[&str] = &["requires"];

/// The project root: the nearest directory from `start` upwards that holds
/// [`CONFIG_FILE`]; without one, the nearest holding `.git` (a directory,
/// or the file of a worktree); without either, `cwd`. `start` is a
/// directory (an absolute path).
pub fn find_root(start: &Path, cwd: &Path) -> PathBuf {
    let mut git = None;
    for dir in start.ancestors() {
        if dir.join(CONFIG_FILE).is_file() {
            return dir.to_path_buf();
        }
        if git.is_none() && dir.join(".git").exists() {
            git = Some(dir.to_path_buf());
        }
    }
    git.unwrap_or_else(|| cwd.to_path_buf())
}

/// Where the root search starts for a run: the directory of the first
/// PATH (the PATH itself if it is a directory), or `cwd` with none.
pub fn search_start(cwd: &Path, first: Option<&Path>) -> PathBuf {
    let Some(first) = first else {
        return cwd.to_path_buf();
    };
    let path = absolute(cwd, first);
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().map_or(path.clone(), Path::to_path_buf)
    };
    dir.canonicalize().unwrap_or(dir)
}

/// `path` (relative to `cwd`) as the build sees it once the current
/// directory is `root`: relative to the root when it lies inside it
/// (`.` for the root itself), absolute otherwise. Directories are resolved
/// through symbolic links; a file keeps its own name (a link stays a link).
pub fn relative_to_root(root: &Path, cwd: &Path, path: &Path) -> PathBuf {
    let path = absolute(cwd, path);
    let resolved = if path.is_dir() {
        path.canonicalize().unwrap_or(path)
    } else {
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => parent
                .canonicalize()
                .unwrap_or_else(|_| parent.to_path_buf())
                .join(name),
            _ => path,
        }
    };
    match resolved.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => resolved,
    }
}

/// `path` joined to `cwd` with `.` and `..` resolved lexically.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Default session options from `litprog.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// `[session]`: for every session.
    pub session: OptionMap,
    /// `[languages.NAME]`, by lowercase language name: for sessions whose
    /// first code block has that language.
    pub languages: BTreeMap<String, OptionMap>,
}

impl Defaults {
    /// Complete a session's own `options` with the defaults: a key the
    /// session sets wins over its language's (`[languages.NAME]`, by the
    /// language of its first code block), which wins over `[session]`.
    /// `env` mappings are merged name by name in the same order.
    ///
    /// This is the one place defaults are merged; a default that depends on
    /// nothing but the language (the interpreter for it) belongs last, after
    /// this.
    pub fn apply(&self, language: Option<&str>, options: &mut OptionMap) {
        let language = language
            .map(str::to_ascii_lowercase)
            .and_then(|l| self.languages.get(&l));
        for layer in language.into_iter().chain([&self.session]) {
            for (key, value) in layer {
                match (options.get_mut(key), value) {
                    (Some(Value::Object(own)), Value::Object(theirs)) if key == "env" => {
                        for (name, v) in theirs {
                            own.entry(name.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    (Some(_), _) => {}
                    (None, _) => {
                        options.insert(key.clone(), value.clone());
                    }
                }
            }
        }
    }

    /// True when there are no defaults at all.
    pub fn is_empty(&self) -> bool {
        self.session.is_empty() && self.languages.is_empty()
    }
}

/// The settings of a project, from its `litprog.toml` (all empty without
/// one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file they were read from, if any.
    pub path: Option<PathBuf>,
    /// Gitignore-style globs, relative to the root: when any is given, only
    /// Markdown files they match are documents of the project.
    pub include: Vec<String>,
    /// Gitignore-style globs, relative to the root: files and directories
    /// that are not part of the project, besides the ignore files' own.
    pub exclude: Vec<String>,
    /// Sessions to run at once (`-j` wins).
    pub jobs: Option<u32>,
    /// Timeout in seconds of sessions that set none (`--timeout` wins).
    pub timeout: Option<f64>,
    /// Default session options.
    pub defaults: Defaults,
}

impl Config {
    /// Read `root/litprog.toml`, if there is one. Errors (a wrong type, a
    /// glob that does not parse, TOML that does not parse) name
    /// `litprog.toml:line`; unknown keys are warnings with the closest
    /// known key. Paths in messages are `name` (the file as the user sees
    /// it).
    pub fn load(root: &Path) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
        let file = root.join(CONFIG_FILE);
        let shown = if root == Path::new(".") {
            PathBuf::from(CONFIG_FILE)
        } else {
            file.clone()
        };
        let text = match std::fs::read(&file) {
            Ok(bytes) => String::from_utf8(bytes)
                .map_err(|_| Diagnostic::new(Kind::Syntax, &shown, 0, "not valid UTF-8"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Config::default(), Vec::new()));
            }
            Err(e) => return Err(Diagnostic::io(&shown, 0, "cannot read", e).into()),
        };
        Config::parse(&shown, &text)
    }

    /// Read the text of a `litprog.toml`; `path` names it in messages.
    pub fn parse(path: &Path, text: &str) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
        let lines = Lines::new(text);
        let at = |kind: Kind, offset: usize, message: String| {
            Diagnostic::new(kind, path, lines.line(offset), message)
        };
        let spans = match toml::de::DeTable::parse(text) {
            Ok(t) => t.into_inner(),
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                return Err(at(
                    Kind::OptionSyntax,
                    offset,
                    format!("invalid TOML: {}", e.message()),
                )
                .into());
            }
        };
        let values: toml::Table = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(
                Kind::OptionSyntax,
                offset,
                format!("invalid TOML: {}", e.message()),
            )
        })?;
        let mut config = Config {
            path: Some(path.to_path_buf()),
            ..Config::default()
        };
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for (key, value) in spans.iter() {
            let name = key.get_ref().as_ref();
            let offset = key.span().start;
            let Some(v) = values.get(name).and_then(|v| serde_json::to_value(v).ok()) else {
                continue;
            };
            match name {
                "include" | "exclude" => match globs(name, &v) {
                    Ok(globs) => {
                        if name == "include" {
                            config.include = globs;
                        } else {
                            config.exclude = globs;
                        }
                    }
                    Err(e) => errors.push(at(Kind::InvalidValue, offset, e)),
                },
                "jobs" => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) if n >= 1 => config.jobs = Some(n),
                    _ => errors.push(at(
                        Kind::InvalidValue,
                        offset,
                        format!(
                            "'jobs' must be a whole number of 1 or more, not {}",
                            options::show(&v)
                        ),
                    )),
                },
                "timeout" => match v.as_f64() {
                    Some(t) if t.is_finite() && t > 0.0 && t < 1e9 => config.timeout = Some(t),
                    _ => errors.push(at(
                        Kind::InvalidValue,
                        offset,
                        format!(
                            "'timeout' must be a positive number of seconds, not {}",
                            options::show(&v)
                        ),
                    )),
                },
                "session" => match value.get_ref().as_table() {
                    Some(table) => {
                        config.defaults.session =
                            session_table("[session]", table, &v, &at, &mut errors, &mut warnings);
                    }
                    None => errors.push(at(
                        Kind::InvalidValue,
                        offset,
                        format!(
                            "'session' must be a table of session options, not {}",
                            options::show(&v)
                        ),
                    )),
                },
                "languages" => match value.get_ref().as_table() {
                    Some(table) => {
                        for (lang, lang_value) in table.iter() {
                            let lang_name = lang.get_ref().as_ref();
                            let where_ = format!("[languages.{lang_name}]");
                            let lv = v.get(lang_name).cloned().unwrap_or(Value::Null);
                            match lang_value.get_ref().as_table() {
                                Some(t) => {
                                    let map = session_table(
                                        &where_,
                                        t,
                                        &lv,
                                        &at,
                                        &mut errors,
                                        &mut warnings,
                                    );
                                    config
                                        .defaults
                                        .languages
                                        .insert(lang_name.to_ascii_lowercase(), map);
                                }
                                None => errors.push(at(Kind::InvalidValue,
                                    lang.span().start,
                                    format!(
                                        "'languages.{lang_name}' must be a table of session options, not {}",
                                        options::show(&lv)
                                    ),
                                )),
                            }
                        }
                    }
                    None => errors.push(at(
                        Kind::InvalidValue,
                        offset,
                        format!(
                            "'languages' must hold tables such as [languages.python], not {}",
                            options::show(&v)
                        ),
                    )),
                },
                _ => {
                    let hint = if SESSION_KEYS.contains(&name) {
                        " (session options go under [session] or [languages.NAME])".to_string()
                    } else {
                        closest(name, TOP_KEYS)
                            .map(|k| format!(" (did you mean '{k}'?)"))
                            .unwrap_or_default()
                    };
                    warnings.push(at(
                        Kind::UnknownOption,
                        offset,
                        format!("unknown key '{name}'{hint}"),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok((config, warnings))
        } else {
            Err(Diagnostics(errors))
        }
    }
}

/// The session options of a `[session]` or `[languages.NAME]` table,
/// each checked as a session would check it.
fn session_table(
    where_: &str,
    spans: &toml::de::DeTable<'_>,
    values: &Value,
    at: &dyn Fn(Kind, usize, String) -> Diagnostic,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> OptionMap {
    let mut map = OptionMap::new();
    for (key, _) in spans.iter() {
        let name = key.get_ref().as_ref();
        let offset = key.span().start;
        let Some(v) = values.get(name) else { continue };
        if NOT_DEFAULTS.contains(&name) {
            errors.push(at(
                Kind::Misplaced,
                offset,
                format!(
                    "'{name}' cannot be a default in {where_}: set it on the sessions that need it"
                ),
            ));
            continue;
        }
        if !SESSION_KEYS.contains(&name) {
            let hint = closest(name, SESSION_KEYS)
                .map(|k| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            warnings.push(at(
                Kind::UnknownOption,
                offset,
                format!("unknown session option '{name}' in {where_}{hint}"),
            ));
            continue;
        }
        let mut one = OptionMap::new();
        one.insert(name.to_string(), v.clone());
        match options::typed(LpType::Session, "", &one) {
            Ok(_) => {
                map.insert(name.to_string(), v.clone());
            }
            Err(all) => {
                for e in all {
                    errors.push(at(
                        Kind::InvalidValue,
                        offset,
                        format!("{} (in {where_})", e.message),
                    ));
                }
            }
        }
    }
    map
}

/// A list of gitignore-style globs, each checked.
fn globs(key: &str, v: &Value) -> Result<Vec<String>, String> {
    let list: Vec<String> = match v {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                format!(
                    "'{key}' must be a list of strings, not {}",
                    options::show(v)
                )
            })?,
        _ => {
            return Err(format!(
                "'{key}' must be a list of strings, not {}",
                options::show(v)
            ));
        }
    };
    let mut builder = ignore::gitignore::GitignoreBuilder::new(".");
    for glob in &list {
        builder
            .add_line(None, glob)
            .map_err(|e| format!("'{key}': invalid glob '{glob}': {e}"))?;
    }
    Ok(list)
}

/// The known name closest to `unknown`, for "did you mean" hints.
fn closest(unknown: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&unknown.to_ascii_lowercase(), k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Byte offsets to 1-based lines.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(memchr::memchr_iter(b'\n', text.as_bytes()).collect())
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

/// What `litprog init` writes: every key, commented out, with its meaning.
pub const INIT_TEMPLATE: &str = r#"# litprog.toml: the settings of this litprog project.
#
# The directory holding this file is the project root. Every relative path
# (an out_file's filepath, a session's cwd, the documents, .litprog/) is
# relative to it, whichever directory litprog runs in. Every key is
# optional; remove the leading '# ' to set one.

# Markdown files of the project, as gitignore-style globs relative to the
# root. Without `include`, every .md and .markdown file under the root is a
# document, except what .gitignore, .ignore and hidden names leave out.
# include = ["docs/**", "README.md"]
# exclude = ["drafts/", "vendor/"]

# Sessions run at once (-j wins), and the timeout in seconds of each block
# of a session that sets none (--timeout wins).
# jobs = 1
# timeout = 30

# Default options of every session (any session option). A session's own
# options win over its language's, which win over these.
[session]
# env = { LC_ALL = "C.UTF-8" }
# stderr = "merged"

# Defaults for sessions whose first code block has this language.
# [languages.python]
# command = "python3 -X dev"
#
# [languages.sql]
# command = "sqlite3"
# marker = ".print {marker}"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
        Config::parse(Path::new("litprog.toml"), text)
    }

    #[test]
    fn the_init_template_parses_to_nothing() {
        let (config, warnings) = parse(INIT_TEMPLATE).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(config.defaults.is_empty() && config.include.is_empty());
    }

    #[test]
    fn keys_are_read_and_checked_at_their_lines() {
        let (config, warnings) = parse(
            "jobs = 2\ntimeout = 1.5\ninclude = ['docs/**']\n\n[session]\nenv = { A = '1' }\nechoo = true\n\n[languages.Python]\ncommand = 'python3 -X dev'\n",
        )
        .unwrap();
        assert_eq!(config.jobs, Some(2));
        assert_eq!(config.timeout, Some(1.5));
        assert_eq!(config.include, ["docs/**"]);
        assert_eq!(config.defaults.session["env"], json!({"A": "1"}));
        assert_eq!(
            config.defaults.languages["python"]["command"],
            json!("python3 -X dev")
        );
        assert_eq!(
            warnings[0].to_string(),
            "litprog.toml:7: unknown session option 'echoo' in [session] (did you mean 'echo'?)"
        );
        let e = parse("jobs = 0\n[session]\ntimeout = 'soon'\n").unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert!(
            e.0[0]
                .to_string()
                .starts_with("litprog.toml:1: 'jobs' must be"),
            "{e}"
        );
        assert!(
            e.0[1]
                .to_string()
                .starts_with("litprog.toml:3: option 'timeout' must be"),
            "{e}"
        );
        let (_, warnings) = parse("\njbos = 2\n").unwrap();
        assert_eq!(
            warnings[0].to_string(),
            "litprog.toml:2: unknown key 'jbos' (did you mean 'jobs'?)"
        );
        let e = parse("jobs = [\n").unwrap_err();
        assert!(e.to_string().starts_with("litprog.toml:"), "{e}");
    }

    #[test]
    fn own_options_win_over_the_language_over_session() {
        let (config, _) = parse(
            "[session]\ntimeout = 5\necho = true\nenv = { A = 's', B = 's' }\n[languages.python]\ntimeout = 7\nenv = { B = 'l', C = 'l' }\n",
        )
        .unwrap();
        let mut own = OptionMap::new();
        own.insert("echo".into(), json!(false));
        own.insert("env".into(), json!({"C": "own"}));
        config.defaults.apply(Some("python"), &mut own);
        assert_eq!(own["echo"], json!(false));
        assert_eq!(own["timeout"], json!(7));
        assert_eq!(own["env"], json!({"A": "s", "B": "l", "C": "own"}));
        let mut bash = OptionMap::new();
        config.defaults.apply(Some("bash"), &mut bash);
        assert_eq!(bash["timeout"], json!(5));
    }

    #[test]
    fn the_root_is_the_nearest_config_then_git_then_cwd() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(top.join("repo/book/ch/deep")).unwrap();
        std::fs::create_dir_all(top.join("repo/.git")).unwrap();
        std::fs::write(top.join("repo/book/litprog.toml"), "").unwrap();
        let cwd = top.join("elsewhere");
        assert_eq!(
            find_root(&top.join("repo/book/ch/deep"), &cwd),
            top.join("repo/book")
        );
        assert_eq!(find_root(&top.join("repo"), &cwd), top.join("repo"));
        assert_eq!(find_root(&top, &cwd), cwd);
        assert_eq!(
            relative_to_root(
                &top.join("repo"),
                &top.join("repo/book"),
                Path::new("../x.md")
            ),
            Path::new("x.md")
        );
        assert_eq!(
            relative_to_root(&top.join("repo"), &top, Path::new("repo")),
            Path::new(".")
        );
    }
}
