//! Where options come from: option blocks (parsed with serde_yaml, toml
//! or serde_json, the only users of those crates), comment option lines
//! at the top of a code block, and info-string attributes. Everything
//! becomes a [`RawOption`] with the line that wrote it.

use serde_json::Value;

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

/// Does `content` look like it declares litprog options (an `lptype` or
/// `filepath` key at the start of a top-level line), whether or not it
/// parses?
fn mentions_option_keys(format: HeaderFormat, content: &str) -> bool {
    ["lptype", "filepath"]
        .iter()
        .any(|k| key_line(format, content, k).is_some())
}

/// Does `line` start with the key `key` (quoted or not) followed by `:` or
/// `=`?
fn starts_with_key(line: &str, key: &str) -> bool {
    let l = line
        .trim_start()
        .trim_start_matches(['"', '\'', '{', ',', ' ']);
    l.strip_prefix(key).is_some_and(|rest| {
        let rest = rest.trim_start_matches(['"', '\'']).trim_start();
        rest.starts_with(':') || rest.starts_with('=')
    })
}

/// The change in bracket and brace depth over one line, outside strings
/// (and outside `#` comments where the format has them).
fn bracket_delta(line: &str, hash_comments: bool) -> i64 {
    let mut delta = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' if hash_comments => break,
                '{' | '[' => delta += 1,
                '}' | ']' => delta -= 1,
                _ => {}
            },
        }
    }
    delta
}

/// The 0-based offsets of the lines of an option block that can hold its
/// top-level keys. Lines nested in another mapping or list are skipped, so
/// that an example block with a nested `filepath:` key is not taken for an
/// option block.
fn top_level_lines(format: HeaderFormat, content: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut depth: i64 = 0;
    let mut top_indent: Option<usize> = None;
    let mut flow = false;
    let mut in_table = false;
    for (i, line) in content.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let top = match format {
            HeaderFormat::Json => depth <= 1,
            HeaderFormat::Toml => {
                if depth == 0 && trimmed.starts_with('[') {
                    in_table = true;
                }
                depth == 0 && !in_table
            }
            HeaderFormat::Yaml => {
                let significant =
                    !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with("---");
                if depth == 0 && significant && top_indent.is_none() {
                    top_indent = Some(indent);
                    flow = trimmed.starts_with('{');
                }
                if flow {
                    depth <= 1
                } else {
                    depth == 0 && top_indent.is_none_or(|t| indent <= t)
                }
            }
        };
        if top {
            out.push(i);
        }
        depth = (depth + bracket_delta(line, format != HeaderFormat::Json)).max(0);
    }
    out
}

/// The line offset where the top-level `key` is written in an option
/// block, if it can be found.
fn key_line(format: HeaderFormat, content: &str, key: &str) -> Option<usize> {
    let lines: Vec<&str> = content.lines().collect();
    top_level_lines(format, content)
        .into_iter()
        .find(|&i| starts_with_key(lines[i], key))
}

/// Parse an option block. `Ok(None)` means the block is an ordinary example
/// (no `lptype`/`filepath` key, parsed or not); `Err` means it declares
/// options but does not parse.
pub fn parse_option_block(
    format: HeaderFormat,
    content: &str,
) -> Result<Option<Vec<RawOption>>, ParseError> {
    // An `lptype` or `filepath` key is spelled out in the text, unless a
    // quoted key escapes one of its letters, which takes a backslash.
    // Without either, the block is an ordinary example, parsed or not, and
    // most yaml, toml and json blocks of a document are: skip the parser.
    if !content.contains('\\') && !content.contains("lptype") && !content.contains("filepath") {
        return Ok(None);
    }
    let parsed: Result<Value, ParseError> = match format {
        HeaderFormat::Yaml => serde_yaml::from_str::<Value>(content).map_err(|e| ParseError {
            line_offset: e.location().map_or(0, |l| l.line().saturating_sub(1)),
            message: e.to_string(),
        }),
        HeaderFormat::Toml => toml::from_str::<toml::Table>(content)
            .map_err(|e| ParseError {
                line_offset: e.span().map_or(0, |s| {
                    content[..s.start.min(content.len())].matches('\n').count()
                }),
                message: e.message().to_string(),
            })
            .and_then(|t| {
                serde_json::to_value(t).map_err(|e| ParseError {
                    line_offset: 0,
                    message: e.to_string(),
                })
            }),
        HeaderFormat::Json => serde_json::from_str::<Value>(content).map_err(|e| ParseError {
            line_offset: e.line().saturating_sub(1),
            message: e.to_string(),
        }),
    };
    match parsed {
        Ok(Value::Object(map)) if map.contains_key("lptype") || map.contains_key("filepath") => {
            Ok(Some(
                map.into_iter()
                    .map(|(key, value)| RawOption {
                        line_offset: key_line(format, content, &key).unwrap_or(0),
                        key,
                        value,
                    })
                    .collect(),
            ))
        }
        Ok(_) => Ok(None),
        Err(e) if mentions_option_keys(format, content) => Err(e),
        Err(_) => Ok(None),
    }
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

/// A value written as text (comment or info string option): a YAML scalar,
/// so `timeout=5` is a number and `term=true` a boolean.
fn scalar_value(text: &str) -> Value {
    // Most values are plain words (`lpid=build.step1`, `lpout=s`); a YAML
    // deserializer costs about 9,000 instructions per value. A word that
    // starts with a letter and is made of `[A-Za-z0-9._/-]` is a plain YAML
    // scalar, a string, unless it is a null or a boolean (`inf` and `nan`
    // are no numbers either: YAML spells them `.inf`, `.nan`). Words that
    // YAML 1.1 or other spellings give a meaning go to serde_yaml anyway.
    const SPECIAL: [&str; 12] = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "inf", "infinity", "nan",
    ];
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'));
    if plain && !SPECIAL.iter().any(|w| text.eq_ignore_ascii_case(w)) {
        return Value::String(text.to_string());
    }
    yaml_scalar(text)
}

/// [`scalar_value`] without its fast path.
fn yaml_scalar(text: &str) -> Value {
    match serde_yaml::from_str::<Value>(text) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::String(_))) => v,
        _ => Value::String(text.to_string()),
    }
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

/// Attributes of an info string after the language: `key=value` options
/// and bare flags (such as `lpignore`). `Err` names a word that is neither.
pub fn info_attributes(info: &str) -> (Vec<RawOption>, Vec<String>) {
    let words = split_info(info);
    let mut options = Vec::new();
    let mut flags = Vec::new();
    // The first word is the language, unless it is already an attribute.
    let skip = usize::from(words.first().is_some_and(|w| !w.contains('=')));
    for word in words.into_iter().skip(skip) {
        match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => options.push(RawOption {
                key: key.to_string(),
                value: scalar_value(value),
                line_offset: 0,
            }),
            _ => flags.push(word),
        }
    }
    (options, flags)
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

    #[test]
    fn scalar_value_fast_path_agrees_with_serde_yaml() {
        let words = [
            "s",
            "build.step1",
            "a/b/c",
            "x-y_z",
            "v1.2.3",
            "True",
            "TRUE",
            "tRue",
            "false",
            "False",
            "null",
            "Null",
            "NULL",
            "nULL",
            "yes",
            "Yes",
            "no",
            "NO",
            "on",
            "off",
            "On",
            "y",
            "n",
            "Y",
            "N",
            "inf",
            "Inf",
            "infinity",
            "nan",
            "NaN",
            "e5",
            "E10",
            "x1e5",
            "a.inf",
            "abc.",
            "a..b",
            "a//",
            "z-",
            "-",
            "--",
            "---",
            ".",
            "...",
            "~",
            ".inf",
            ".NaN",
            "-.inf",
            "+1",
            "1",
            "0x1F",
            "0o17",
            "0b101",
            "1_000",
            "007",
            "1e5",
            "1.5",
            "-2",
            ".5",
            "5.",
            "_a",
            "/a",
            "a b",
            "a:b",
            "a#b",
            "bash",
            "python3",
            "sh",
            "utf-8",
            "latin1",
            "s1",
            "t0",
            "null1",
            "truex",
            "nulls",
        ];
        for word in words {
            assert_eq!(scalar_value(word), yaml_scalar(word), "{word}");
        }
        assert_eq!(scalar_value("build.step1"), json!("build.step1"));
        assert_eq!(scalar_value("True"), json!(true));
        assert_eq!(scalar_value("5"), json!(5));
    }

    fn keys(opts: &[RawOption]) -> Vec<(&str, &Value, usize)> {
        opts.iter()
            .map(|o| (o.key.as_str(), &o.value, o.line_offset))
            .collect()
    }

    #[test]
    fn yaml_option_block() {
        let content = "filepath     : \"src/x.py\"\ninputs       : [\n    \"a\",\n    \"b\",\n]\n";
        let opts = parse_option_block(HeaderFormat::Yaml, content)
            .unwrap()
            .unwrap();
        assert_eq!(
            keys(&opts),
            vec![
                ("filepath", &json!("src/x.py"), 0),
                ("inputs", &json!(["a", "b"]), 1)
            ]
        );
    }

    #[test]
    fn toml_and_json_option_blocks() {
        let t = parse_option_block(HeaderFormat::Toml, "lpid = \"a\"\nlptype = \"session\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].line_offset, 1);
        let j = parse_option_block(
            HeaderFormat::Json,
            "{\"lptype\": \"session\", \"lpid\": \"x\"}",
        )
        .unwrap()
        .unwrap();
        assert_eq!(j.len(), 2);
    }

    #[test]
    fn ordinary_yaml_is_left_alone_even_if_broken() {
        assert_eq!(
            parse_option_block(HeaderFormat::Yaml, "a: 1\n").unwrap(),
            None
        );
        assert_eq!(
            parse_option_block(HeaderFormat::Yaml, "a: [\n").unwrap(),
            None
        );
        assert_eq!(
            parse_option_block(HeaderFormat::Json, "{oops").unwrap(),
            None
        );
    }

    #[test]
    fn option_keys_spelled_with_escapes_are_still_found() {
        // The parser is skipped for text without `lptype`, `filepath` or a
        // backslash; a key may still be spelled with an escape.
        let cases = [
            (
                HeaderFormat::Json,
                r#"{"lp\u0074ype": "session", "lpid": "a"}"#,
                2,
            ),
            (HeaderFormat::Yaml, "\"file\\x70ath\": out.txt\n", 1),
            (
                HeaderFormat::Toml,
                "\"lp\\u0074ype\" = \"session\"\nlpid = \"a\"\n",
                2,
            ),
        ];
        for (format, content, keys) in cases {
            let opts = parse_option_block(format, content).unwrap();
            assert_eq!(opts.map(|o| o.len()), Some(keys), "{content}");
        }
    }

    #[test]
    fn broken_option_block_is_an_error_with_its_line() {
        let e =
            parse_option_block(HeaderFormat::Yaml, "lptype: session\ncommand: [a\n").unwrap_err();
        assert!(e.line_offset >= 1, "{e:?}");
        let e = parse_option_block(HeaderFormat::Toml, "lptype = \"session\"\ntimeout = \n")
            .unwrap_err();
        assert_eq!(e.line_offset, 1, "{e:?}");
    }

    #[test]
    fn nested_option_keys_do_not_make_a_broken_example_an_option_block() {
        let examples = [
            (HeaderFormat::Yaml, "services:\n  web:\n    filepath: [\n"),
            (HeaderFormat::Yaml, "steps:\n  - lptype: x\n    bad: [\n"),
            (HeaderFormat::Toml, "[tool]\nfilepath = \n"),
            (HeaderFormat::Json, "{\"a\": {\n  \"filepath\": [}\n"),
            (HeaderFormat::Json, "{\"a\": [\n  {\"lptype\": 1,\n"),
        ];
        for (format, content) in examples {
            assert_eq!(
                parse_option_block(format, content),
                Ok(None),
                "{format:?}: {content}"
            );
        }
        let option_blocks = [
            (
                HeaderFormat::Yaml,
                "lpid: s\nlptype: session\ncommand: [a\n",
            ),
            (HeaderFormat::Yaml, "{\n  filepath: x,\n  inputs: [\n}\n"),
            (
                HeaderFormat::Yaml,
                "# comment\n  filepath: x\n  inputs: [\n",
            ),
            (HeaderFormat::Toml, "filepath = \n[x]\n"),
            (
                HeaderFormat::Json,
                "{\"filepath\": \"x\",\n \"inputs\": [}\n",
            ),
            (
                HeaderFormat::Json,
                "{\n  \"lptype\": \"session\",\n  \"lpid\": \n}\n",
            ),
        ];
        for (format, content) in option_blocks {
            assert!(
                parse_option_block(format, content).is_err(),
                "{format:?}: {content}"
            );
        }
    }

    #[test]
    fn option_lines_are_found_at_the_top_level() {
        let opts = parse_option_block(
            HeaderFormat::Yaml,
            "lpid: s\nlptype: session\nenv:\n  timeout: x\ntimeout: 5\n",
        )
        .unwrap()
        .unwrap();
        let timeout = opts.iter().find(|o| o.key == "timeout").unwrap();
        assert_eq!(timeout.line_offset, 4);
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
    fn info_attributes_are_typed() {
        let (o, flags) = info_attributes("bash lpid=demo timeout=5 term=true lpignore");
        assert_eq!(
            keys(&o),
            vec![
                ("lpid", &json!("demo"), 0),
                ("timeout", &json!(5), 0),
                ("term", &json!(true), 0)
            ]
        );
        assert_eq!(flags, vec!["lpignore"]);
        let (o, flags) = info_attributes("lpid=bare lpignore");
        assert_eq!(keys(&o), vec![("lpid", &json!("bare"), 0)]);
        assert_eq!(flags, vec!["lpignore"]);
    }
}
