//! Where options come from: option blocks (read in [`super::block`]),
//! comment option lines at the top of a code block, and info-string
//! attributes. Everything becomes a [`RawOption`] with the line that wrote
//! it.

use serde_json::Value;

use super::block::yaml_plain_scalar;

/// One option as written: key, value and the 0-based line offset of the
/// line that wrote it, relative to the block's first content line.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOption {
    /// The option's name.
    pub key: String,
    /// Its value, parsed.
    pub value: Value,
    /// Line offset from the block's first content line.
    pub line_offset: usize,
}

/// The format of an option block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFormat {
    /// YAML.
    Yaml,
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl HeaderFormat {
    /// The format for a block language, if it can be an option block.
    pub fn for_lang(lang: &str) -> Option<Self> {
        match lang.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(HeaderFormat::Yaml),
            "toml" => Some(HeaderFormat::Toml),
            "json" => Some(HeaderFormat::Json),
            _ => None,
        }
    }
}

/// An option block's parse failure: message and 0-based line offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The parser's message.
    pub message: String,
    /// Line offset from the block's first content line.
    pub line_offset: usize,
}

/// Comment delimiters (open, close) for a block language.
pub fn comment_syntax(lang: &str) -> Option<(&'static str, &'static str)> {
    let lang = lang.to_ascii_lowercase();
    let syntax = match lang.as_str() {
        "python" | "python3" | "py" | "bash" | "sh" | "shell" | "zsh" | "ksh" | "dash" | "fish"
        | "ruby" | "rb" | "perl" | "pl" | "yaml" | "yml" | "toml" | "make" | "makefile"
        | "cmake" | "r" | "julia" | "jl" | "elixir" | "ex" | "exs" | "nim" | "tcl"
        | "powershell" | "ps1" | "dockerfile" | "coffee" | "coffeescript" | "crystal" | "awk"
        | "nix" | "conf" | "ini" | "raku" | "gnuplot" | "graphql" => ("#", ""),
        "rust" | "rs" | "c" | "h" | "cpp" | "c++" | "cc" | "cxx" | "hpp" | "go" | "java"
        | "javascript" | "js" | "mjs" | "typescript" | "ts" | "jsx" | "tsx" | "kotlin" | "kt"
        | "swift" | "scala" | "dart" | "csharp" | "cs" | "c#" | "php" | "groovy" | "zig" | "d"
        | "objc" | "objective-c" | "proto" | "protobuf" | "jsonc" | "json5" | "glsl"
        | "solidity" | "v" | "verilog" => ("//", ""),
        "sql" | "sqlite" | "sqlite3" | "psql" | "postgresql" | "mysql" | "plsql" | "haskell"
        | "hs" | "lua" | "elm" | "ada" | "vhdl" => ("--", ""),
        "lisp" | "scheme" | "clojure" | "clj" | "cljs" | "racket" | "elisp" | "emacs-lisp"
        | "common-lisp" | "asm" | "nasm" | "ini-semicolon" => (";", ""),
        "erlang" | "erl" | "prolog" | "tex" | "latex" | "matlab" | "octave" => ("%", ""),
        "html" | "xml" | "svg" | "markdown" | "md" | "vue" | "xhtml" => ("<!--", "-->"),
        "css" | "scss" | "less" => ("/*", "*/"),
        "vim" | "viml" => ("\"", ""),
        "ocaml" | "ml" | "fsharp" | "f#" => ("(*", "*)"),
        _ => return None,
    };
    Some(syntax)
}

/// The comment option lines (`# lpid = X`, `# lptype = X`) at the top of a
/// code block: the options they set and the byte length of those lines,
/// which are not part of the block's code.
pub fn comment_options(lang: &str, content: &str) -> (Vec<RawOption>, usize) {
    let Some((open, close)) = comment_syntax(lang) else {
        return (Vec::new(), 0);
    };
    let mut options = Vec::new();
    let mut consumed = 0;
    for (i, line) in content.split_inclusive('\n').enumerate() {
        match comment_option(line, open, close) {
            Some((key, value)) => {
                options.push(RawOption {
                    key: key.to_string(),
                    value: scalar_value(value),
                    line_offset: i,
                });
                consumed += line.len();
            }
            None => break,
        }
    }
    (options, consumed)
}

fn comment_option<'a>(line: &'a str, open: &str, close: &str) -> Option<(&'a str, &'a str)> {
    let body = line.trim().strip_prefix(open)?;
    let body = if close.is_empty() {
        body
    } else {
        body.trim_end().strip_suffix(close)?
    };
    let (key, value) = body.split_once('=')?;
    let key = key.trim();
    let value = value.trim();
    if !matches!(key, "lpid" | "lptype") || value.is_empty() {
        return None;
    }
    Some((key, unquote(value)))
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// A value written as text (comment or info string option): a YAML plain
/// scalar, so `timeout=5` is a number and `term=true` a boolean.
/// Spaces and tabs at either end are not part of it. A value spanning
/// lines is folded as YAML folds a plain scalar: each
/// line trimmed, a single line break read as a space, and each further
/// one kept as a newline.
fn scalar_value(text: &str) -> Value {
    if !text.contains(['\n', '\r']) {
        // A plain scalar has no white space at either end.
        return yaml_plain_scalar(text.trim_matches([' ', '\t']));
    }
    let mut folded = String::with_capacity(text.len());
    let mut breaks = 0;
    for (i, line) in text.split(['\n', '\r']).enumerate() {
        let line = line.trim_matches([' ', '\t']);
        if line.is_empty() && i > 0 {
            breaks += 1;
            continue;
        }
        if i > 0 && !folded.is_empty() {
            if breaks == 0 {
                folded.push(' ');
            }
            for _ in 0..breaks {
                folded.push('\n');
            }
        }
        breaks = 0;
        folded.push_str(line);
    }
    yaml_plain_scalar(&folded)
}

/// The words of an info string, as `shlex::split` gives them (or split at
/// whitespace if it fails). Without quotes, backslashes or `#` (a comment
/// at the start of a word), shlex splits at spaces, tabs and newlines and
/// nothing else, so those strings are split here without it.
fn split_info(info: &str) -> Vec<String> {
    if info.contains(['\'', '"', '\\', '#']) {
        return shlex::split(info)
            .unwrap_or_else(|| info.split_whitespace().map(str::to_string).collect());
    }
    info.split([' ', '\t', '\n'])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The words of an info string with a YAML flow list or mapping that
/// spans words (`requires=[setup, data]`) joined back into one word.
fn join_flow_values(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut depth = 0i32;
    for word in words {
        let open = depth > 0;
        let value = match (open, word.split_once('=')) {
            (true, _) => word.as_str(),
            (false, Some((_, v))) if v.starts_with(['[', '{']) => v,
            _ => "",
        };
        for b in value.bytes() {
            match b {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth -= 1,
                _ => {}
            }
        }
        match out.last_mut() {
            Some(last) if open => {
                last.push(' ');
                last.push_str(&word);
            }
            _ => out.push(word),
        }
        if depth < 0 {
            depth = 0;
        }
    }
    out
}

/// Attributes of an info string, as [`info_attributes`] reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InfoAttributes {
    /// `key=value` options, in order.
    pub options: Vec<RawOption>,
    /// Bare words (such as `lpignore`).
    pub flags: Vec<String>,
    /// Problems, with the key they concern: a key given twice, a list or
    /// mapping that does not parse.
    pub errors: Vec<(String, String)>,
}

/// Attributes of an info string after the language: `key=value` options
/// and bare flags (such as `lpignore`). A value that starts with `[` or
/// `{` is a YAML flow list or mapping (`requires=[setup, data]`); any other
/// value is a YAML plain scalar.
pub fn info_attributes(info: &str) -> InfoAttributes {
    // Nearly every info string is one word, the language: without a space
    // (of any kind, as the fallback split takes them) or an `=` it is at
    // most one word that is not an attribute, whatever its quotes.
    if !info.contains(|c: char| c == '=' || c.is_whitespace()) {
        return InfoAttributes::default();
    }
    attributes_of_words(info)
}

/// [`info_attributes`] the long way: split into words, then read them.
fn attributes_of_words(info: &str) -> InfoAttributes {
    let words = join_flow_values(split_info(info));
    let mut attrs = InfoAttributes::default();
    // The first word is the language, unless it is already an attribute.
    let skip = usize::from(words.first().is_some_and(|w| !w.contains('=')));
    for word in words.into_iter().skip(skip) {
        match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                if attrs.options.iter().any(|o| o.key == key) {
                    attrs.errors.push((
                        key.to_string(),
                        format!("option '{key}' is given twice in the info string"),
                    ));
                    continue;
                }
                let value = if value.starts_with(['[', '{']) {
                    match super::block::yaml_flow_value(value) {
                        Ok(v) => v,
                        Err(e) => {
                            let what = if value.starts_with('[') {
                                "list"
                            } else {
                                "mapping"
                            };
                            attrs.errors.push((
                                key.to_string(),
                                format!(
                                    "option '{key}' is not a valid YAML flow {what}: {e} ({})",
                                    super::show_text(value)
                                ),
                            ));
                            continue;
                        }
                    }
                } else {
                    scalar_value(value)
                };
                attrs.options.push(RawOption {
                    key: key.to_string(),
                    value,
                    line_offset: 0,
                });
            }
            _ => attrs.flags.push(word),
        }
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_words_are_split_as_shlex_splits_them() {
        let infos = [
            "python lpid=x",
            "  bash\tlpid=a  lptype=session\n timeout=5 ",
            "text lpout=s",
            "js {.numberLines} x=1",
            "a\u{a0}b\rc\x0cd",
            "日本語 lpid=é",
            "",
            "   ",
            "bash lpid='a b'",
            "x #comment",
            "x a#b",
            "x \"q\" y\\ z",
        ];
        for info in infos {
            let want = shlex::split(info)
                .unwrap_or_else(|| info.split_whitespace().map(str::to_string).collect());
            assert_eq!(split_info(info), want, "{info:?}");
        }
    }
    use serde_json::json;

    fn keys(opts: &[RawOption]) -> Vec<(&str, &Value, usize)> {
        opts.iter()
            .map(|o| (o.key.as_str(), &o.value, o.line_offset))
            .collect()
    }

    #[test]
    fn comment_options_in_many_syntaxes() {
        let (o, n) = comment_options("python", "# lpid = demo\n# lptype=session\nprint(1)\n");
        assert_eq!(
            keys(&o),
            vec![
                ("lpid", &json!("demo"), 0),
                ("lptype", &json!("session"), 1)
            ]
        );
        assert_eq!(n, "# lpid = demo\n# lptype=session\n".len());
        let (o, _) = comment_options("rust", "// lpid = r\nfn main() {}\n");
        assert_eq!(o[0].value, json!("r"));
        let (o, _) = comment_options("sql", "-- lpid = q\nselect 1;\n");
        assert_eq!(o[0].value, json!("q"));
        let (o, _) = comment_options("html", "<!-- lpid = page -->\n<p>\n");
        assert_eq!(o[0].value, json!("page"));
        let (o, _) = comment_options("css", "/* lpid = style */\nbody {}\n");
        assert_eq!(o[0].value, json!("style"));
        let (o, _) = comment_options("clojure", "; lpid = c\n");
        assert_eq!(o[0].value, json!("c"));
        let (o, _) = comment_options("erlang", "% lpid = e\n");
        assert_eq!(o[0].value, json!("e"));
    }

    #[test]
    fn comment_options_stop_at_first_other_line() {
        let (o, n) = comment_options("python", "import x\n# lpid = late\n");
        assert!(o.is_empty());
        assert_eq!(n, 0);
        let (o, _) = comment_options("python", "# x = 5\n");
        assert!(o.is_empty(), "only lpid and lptype are comment options");
        let (o, _) = comment_options("unknownlang", "# lpid = x\n");
        assert!(o.is_empty());
    }

    #[test]
    fn info_attributes_take_flow_lists_and_reject_repeated_keys() {
        let a = info_attributes("bash lpid=s requires=[setup, data] env={A: 1, B: x} x=[]");
        assert_eq!(
            keys(&a.options),
            vec![
                ("lpid", &json!("s"), 0),
                ("requires", &json!(["setup", "data"]), 0),
                ("env", &json!({"A": 1, "B": "x"}), 0),
                ("x", &json!([]), 0)
            ]
        );
        assert!(a.flags.is_empty() && a.errors.is_empty(), "{a:?}");
        let a = info_attributes("bash requires=[setup]");
        assert_eq!(a.options[0].value, json!(["setup"]));
        let a = info_attributes("bash lpid=a timeout=1 lpid=b");
        assert_eq!(
            a.errors[0].1,
            "option 'lpid' is given twice in the info string"
        );
        let a = info_attributes("bash requires=[a, b");
        assert!(
            a.errors[0]
                .1
                .starts_with("option 'requires' is not a valid YAML flow list"),
            "{a:?}"
        );
    }

    #[test]
    fn one_word_info_strings_have_no_attributes_either_way() {
        for info in [
            "rust",
            "lpignore",
            "\"quoted\"",
            "'a",
            "#comment",
            "a\\b",
            "{.numberLines}",
            "",
        ] {
            let fast = info_attributes(info);
            assert_eq!(fast, attributes_of_words(info), "{info:?}");
            assert_eq!(fast, InfoAttributes::default(), "{info:?}");
        }
        // Any space or `=` takes the long way.
        assert_eq!(info_attributes("a\u{a0}\"b").flags, vec!["\"b"]);
        assert_eq!(info_attributes("lpid=x").options[0].key, "lpid");
    }

    #[test]
    fn info_attributes_are_typed() {
        let InfoAttributes {
            options: o, flags, ..
        } = info_attributes("bash lpid=demo timeout=5 term=true lpignore");
        assert_eq!(
            keys(&o),
            vec![
                ("lpid", &json!("demo"), 0),
                ("timeout", &json!(5), 0),
                ("term", &json!(true), 0)
            ]
        );
        assert_eq!(flags, vec!["lpignore"]);
        let InfoAttributes {
            options: o, flags, ..
        } = info_attributes("lpid=bare lpignore");
        assert_eq!(keys(&o), vec![("lpid", &json!("bare"), 0)]);
        assert_eq!(flags, vec!["lpignore"]);
    }
}
