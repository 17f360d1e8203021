//! Option blocks: a `yaml`, `toml` or `json` block whose top-level mapping
//! has an `lptype` or `filepath` key. Each format is read by a parser that
//! reports where every key is written (saphyr-parser's event spans for
//! YAML, the toml crate's spanned `DeTable` for TOML, a key scan beside
//! serde_json for JSON), so every option and every error carries the line
//! the parser saw, never a guess.
//!
//! Reading is linear in the block's size, and stops at
//! [`MAX_NESTING`] levels of nested mappings and lists.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::Value;

use super::source::{HeaderFormat, ParseError, RawOption};

/// The deepest nesting of mappings and lists an option block may have
/// (the top-level mapping is level 1). Options need 2 (`env`, `command`);
/// a block that goes deeper is not read further, and is a document error
/// if it declares options.
pub const MAX_NESTING: usize = 64;

/// The keys that make a block an option block.
const OPTION_KEYS: [&str; 2] = ["lptype", "filepath"];

/// What reading a block found.
#[derive(Default)]
struct Reading {
    /// The top-level keys as far as the block could be read: name and line
    /// offset. Empty if the block's root is not a mapping.
    keys: Vec<(String, usize)>,
    /// The options, if the whole block was read and its root is a mapping.
    options: Option<Vec<RawOption>>,
    /// The first problem: a syntax error, a repeated key, nesting past
    /// [`MAX_NESTING`].
    error: Option<ParseError>,
}

impl Reading {
    fn fail(&mut self, line_offset: usize, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(ParseError {
                message: message.into(),
                line_offset,
            });
        }
    }
}

/// Parse an option block. `Ok(None)` means the block is an ordinary example:
/// its top-level mapping (as far as it can be read) has neither `lptype`
/// nor `filepath`. `Err` means it declares options but does not parse,
/// repeats a key or nests too deep.
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
    let reading = match format {
        HeaderFormat::Yaml => read_yaml_leniently(content),
        HeaderFormat::Toml => read_toml(content),
        HeaderFormat::Json => read_json(content),
    };
    let declares = reading
        .keys
        .iter()
        .any(|(k, _)| OPTION_KEYS.contains(&k.as_str()))
        || reading.error.is_some() && option_key_line(format, content);
    if !declares {
        return Ok(None);
    }
    match reading.error {
        Some(e) => Err(e),
        None => Ok(reading.options),
    }
}

/// Does a block that did not parse hold a line that, by how it is
/// written, declares options? `lptype` as a key anywhere (it is litprog's
/// own word: a broken block naming it is meant for litprog), or `filepath`
/// as a key at column 0 (in TOML, before the first table header): a broken
/// example that mentions `filepath` deeper inside, as real configuration
/// files do, stays an example. A syntax error before such a key (an
/// unclosed bracket or quote, a stray indentation) keeps the parser from
/// reaching it, and the block must not silently become an example.
fn option_key_line(format: HeaderFormat, content: &str) -> bool {
    let separator = match format {
        HeaderFormat::Yaml | HeaderFormat::Json => ':',
        HeaderFormat::Toml => '=',
    };
    let names = |text: &str, key: &str| {
        let (quote, rest) = match text.as_bytes().first() {
            Some(b'"') => ("\"", &text[1..]),
            Some(b'\'') => ("'", &text[1..]),
            _ => ("", text),
        };
        rest.strip_prefix(key)
            .and_then(|r| r.strip_prefix(quote))
            .is_some_and(|r| r.trim_start_matches([' ', '\t']).starts_with(separator))
    };
    // `lptype` as a key anywhere: at the start of a line (after indentation,
    // a list dash or an opening brace) or after a comma or brace in a flow.
    let lptype_anywhere = content.lines().any(|line| {
        let mut starts = vec![line.trim_start_matches([' ', '\t', '-', '{', '['])];
        for (i, c) in line.char_indices() {
            if matches!(c, ',' | '{') {
                starts.push(line[i + 1..].trim_start_matches([' ', '\t']));
            }
        }
        starts.into_iter().any(|t| names(t, "lptype"))
    });
    if lptype_anywhere {
        return true;
    }
    format != HeaderFormat::Json
        && content
            .lines()
            .take_while(|l| format != HeaderFormat::Toml || !l.starts_with('['))
            .any(|line| names(line, "filepath"))
}

/// The message for a key written twice in one mapping.
fn repeated(key: &str, first: usize, here: usize) -> String {
    match here - first {
        0 => format!("key '{key}' is given twice on this line"),
        1 => format!("key '{key}' is given twice: here and on the line above"),
        n => format!("key '{key}' is given twice: here and {n} lines above"),
    }
}

fn too_deep() -> String {
    format!("mappings and lists are nested more than {MAX_NESTING} levels deep")
}

// ---------------------------------------------------------------- YAML

/// A YAML flow list or mapping written as one value (`[setup, data]`,
/// `{A: 1}`), as info strings hold them: its value, or the parser's
/// message.
pub fn yaml_flow_value(text: &str) -> Result<Value, String> {
    let reading = read_yaml(&format!("v: {text}\n"));
    if let Some(e) = reading.error {
        return Err(e.message);
    }
    reading
        .options
        .and_then(|mut o| (o.len() == 1).then(|| o.remove(0).value))
        .ok_or_else(|| "not one value".to_string())
}

/// A YAML plain scalar's value under the YAML 1.2 core schema: null,
/// boolean, integer (decimal, `0x`, `0o`, `0b`), float (`.inf` and `.nan`
/// become null, as JSON has neither), or else the text itself.
pub fn yaml_plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    // Numbers start with a digit, a sign or a dot; most values (`lpid=x`,
    // `lpout=s`) are words, and need no more.
    if text.as_bytes()[0].is_ascii_alphabetic() {
        return Value::String(text.to_string());
    }
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if unsigned.starts_with(['+', '-']) {
        return Value::String(text.to_string());
    }
    // Leading zeros followed by digits are a string in YAML 1.2.
    let zero_padded = unsigned.len() > 1
        && unsigned.starts_with('0')
        && unsigned[1..].bytes().all(|b| b.is_ascii_digit());
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|r| (r, radix)));
    let (digits, radix) = radix.unwrap_or((unsigned, 10));
    if !zero_padded
        && !digits.is_empty()
        && !digits.starts_with(['+', '-'])
        && let Ok(n) = u64::from_str_radix(digits, radix)
    {
        if !negative {
            return Value::from(n);
        }
        if let Ok(n) = i64::try_from(n) {
            return Value::from(-n);
        }
        if n == i64::MIN.unsigned_abs() {
            return Value::from(i64::MIN);
        }
    }
    match unsigned {
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN" => return Value::Null,
        _ => {}
    }
    if !zero_padded
        && let Ok(f) = unsigned.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(if negative { -f } else { f });
    }
    Value::String(text.to_string())
}

/// One open mapping or list while reading YAML events.
enum Frame {
    Seq(Vec<Value>),
    Map {
        entries: Vec<(String, Value, usize)>,
        seen: HashMap<String, usize>,
        /// A key read, waiting for its value.
        key: Option<(String, usize)>,
    },
}

/// [`read_yaml`], accepting what libyaml (and so PyYAML and the original
/// litprog) accepts although YAML 1.2 does not: the closing bracket of a
/// multi-line flow list or mapping at column 0, as in
///
/// ```yaml
/// inputs: [
///     "a",
/// ]
/// ```
///
/// which real documents hold. Such a block is read again with one space
/// before each of those brackets: line numbers stay the same.
fn read_yaml_leniently(content: &str) -> Reading {
    let reading = read_yaml(content);
    let unindented = |l: &str| l.starts_with([']', '}']);
    let failed_on_bracket = reading.error.as_ref().is_some_and(|e| {
        e.message.starts_with("invalid indentation")
            && content.lines().nth(e.line_offset).is_some_and(unindented)
    });
    if !failed_on_bracket {
        return reading;
    }
    let mut indented = String::with_capacity(content.len() + 16);
    for line in content.split_inclusive('\n') {
        if unindented(line) {
            indented.push(' ');
        }
        indented.push_str(line);
    }
    let again = read_yaml(&indented);
    if again.error.is_none() {
        again
    } else {
        reading
    }
}

fn read_yaml(content: &str) -> Reading {
    let mut reading = Reading::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut documents = 0;
    for event in Parser::new_from_str(content) {
        let (event, span) = match event {
            Ok(e) => e,
            Err(e) => {
                let line = e.marker().line().saturating_sub(1);
                // saphyr-parser stops at 256 levels of flow nesting, and
                // may see that before the events reach MAX_NESTING.
                let mut message = match e.info() {
                    "recursion limit exceeded" => too_deep(),
                    info => info.to_string(),
                };
                let text = content.lines().nth(line).unwrap_or_default();
                if message == "invalid indentation" && text.starts_with([']', '}']) {
                    message.push_str(
                        " (in YAML the closing bracket of a multi-line list or mapping \
                         must be indented under its key)",
                    );
                }
                reading.fail(line, message);
                break;
            }
        };
        let line = span.start.line().saturating_sub(1);
        // A node in key position must be a scalar.
        let in_key_position = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    reading.fail(line, "an option block holds one YAML document, not several");
                    break;
                }
                continue;
            }
            Event::Alias(_) => {
                reading.fail(line, "aliases (*name) are not supported in option blocks");
                break;
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if in_key_position {
                    reading.fail(line, "a mapping key must be a plain value");
                    break;
                }
                if stack.len() >= MAX_NESTING {
                    reading.fail(line, too_deep());
                    break;
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq(Vec::new()),
                    _ => Frame::Map {
                        entries: Vec::new(),
                        seen: HashMap::new(),
                        key: None,
                    },
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items)) => Value::Array(items),
                Some(Frame::Map { entries, .. }) if stack.is_empty() => {
                    reading.options = Some(
                        entries
                            .into_iter()
                            .map(|(key, value, line_offset)| RawOption {
                                key,
                                value,
                                line_offset,
                            })
                            .collect(),
                    );
                    continue;
                }
                Some(Frame::Map { entries, .. }) => {
                    Value::Object(entries.into_iter().map(|(k, v, _)| (k, v)).collect())
                }
                None => continue,
            },
            Event::Scalar(text, style, _, tag) => {
                if in_key_position {
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = Some((text.into_owned(), line));
                    }
                    continue;
                }
                let as_text = style != ScalarStyle::Plain
                    || tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                if as_text {
                    Value::String(text.into_owned())
                } else {
                    yaml_plain_scalar(&text)
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {
                continue;
            }
        };
        match stack.last_mut() {
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map { entries, seen, key }) => {
                // A value always follows its key here: a node in key
                // position is a scalar (taken above) or an error.
                let Some((k, key_line)) = key.take() else {
                    continue;
                };
                match seen.entry(k.clone()) {
                    Entry::Occupied(first) => {
                        let first = *first.get();
                        reading.fail(key_line, repeated(&k, first, key_line));
                    }
                    Entry::Vacant(v) => {
                        v.insert(key_line);
                    }
                }
                entries.push((k, node, key_line));
            }
            // The root is a scalar or a list: no option block.
            None => {}
        }
    }
    if let Some(Frame::Map { entries, key, .. }) = stack.first() {
        // The block stopped early: the top-level keys read so far.
        reading.keys = entries
            .iter()
            .map(|(k, _, l)| (k.clone(), *l))
            .chain(key.clone())
            .collect();
    } else if let Some(options) = &reading.options {
        reading.keys = options
            .iter()
            .map(|o| (o.key.clone(), o.line_offset))
            .collect();
    }
    reading
}

// ---------------------------------------------------------------- TOML

/// Byte offset to 0-based line, by binary search over the line starts.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(memchr::memchr_iter(b'\n', text.as_bytes()).collect())
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset)
    }
}

/// The deepest nesting of a TOML value (a scalar is 0).
fn toml_depth(value: &toml::de::DeValue<'_>) -> usize {
    match value {
        toml::de::DeValue::Array(items) => {
            1 + items
                .iter()
                .map(|v| toml_depth(v.get_ref()))
                .max()
                .unwrap_or(0)
        }
        toml::de::DeValue::Table(t) => {
            1 + t
                .values()
                .map(|v| toml_depth(v.get_ref()))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn read_toml(content: &str) -> Reading {
    let mut reading = Reading::default();
    let lines = Lines::new(content);
    // The toml parser keeps to its own nesting limit (80 levels), so the
    // recursion below is bounded.
    let (table, errors) = toml::de::DeTable::parse_recoverable(content);
    let table = table.into_inner();
    let mut keys: Vec<(String, usize, usize)> = table
        .iter()
        .map(|(k, v)| {
            (
                k.get_ref().to_string(),
                lines.line(k.span().start),
                toml_depth(v.get_ref()),
            )
        })
        .collect();
    keys.sort_by_key(|k| k.1);
    if let Some(e) = errors.first() {
        let offset = e.span().map_or(0, |s| s.start);
        // The toml parser's own limit (80 levels) is past MAX_NESTING.
        let message = if e.message().contains("recurs") {
            too_deep()
        } else {
            e.message().to_string()
        };
        reading.fail(lines.line(offset), message);
    }
    if let Some((_, line, _)) = keys.iter().find(|k| k.2 + 1 > MAX_NESTING) {
        reading.fail(*line, too_deep());
    }
    reading.keys = keys.iter().map(|(k, l, _)| (k.clone(), *l)).collect();
    if reading.error.is_some() {
        return reading;
    }
    let values = match toml::from_str::<toml::Table>(content) {
        Ok(t) => t,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            reading.fail(lines.line(offset), e.message());
            return reading;
        }
    };
    let mut options = Vec::with_capacity(keys.len());
    for (key, line_offset, _) in keys {
        let value = match values.get(&key).map(serde_json::to_value) {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                reading.fail(line_offset, e.to_string());
                return reading;
            }
            None => Value::Null,
        };
        options.push(RawOption {
            key,
            value,
            line_offset,
        });
    }
    reading.options = Some(options);
    reading
}

// ---------------------------------------------------------------- JSON

/// The keys of a JSON text: every object's keys with their lines, checked
/// for repeats, and the nesting depth checked against [`MAX_NESTING`]. A
/// linear scan that also works on text that does not parse, as far as it
/// goes: the top-level keys it returns are those before the first problem.
fn scan_json(content: &str, reading: &mut Reading) {
    let bytes = content.as_bytes();
    // One entry per open container: the keys of an object so far, `None`
    // for an array.
    let mut stack: Vec<Option<HashMap<String, usize>>> = Vec::new();
    let mut line = 0;
    let mut i = 0;
    // The last string read, if nothing but whitespace followed it so far.
    let mut last_string: Option<(usize, usize, usize)> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' | b' ' | b'\t' | b'\r' => {
                // Whitespace between a key and its colon.
                line += usize::from(b == b'\n');
                i += 1;
                continue;
            }
            b'"' => {
                let start = i;
                let start_line = line;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    match bytes[i] {
                        b'\\' => {
                            i += 1;
                            line += usize::from(bytes.get(i) == Some(&b'\n'));
                        }
                        b'\n' => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
                last_string = Some((start, i.min(bytes.len() - 1), start_line));
                i += 1;
                continue;
            }
            b':' => {
                if let (Some((s, e, key_line)), Some(Some(keys))) = (last_string, stack.last_mut())
                {
                    let raw = &content[s..=e];
                    let key = serde_json::from_str::<String>(raw)
                        .unwrap_or_else(|_| raw.trim_matches('"').to_string());
                    match keys.entry(key.clone()) {
                        Entry::Occupied(first) => {
                            let first = *first.get();
                            reading.fail(key_line, repeated(&key, first, key_line));
                        }
                        Entry::Vacant(v) => {
                            v.insert(key_line);
                        }
                    }
                    if stack.len() == 1 {
                        reading.keys.push((key, key_line));
                    }
                }
            }
            b'{' | b'[' => {
                if stack.len() >= MAX_NESTING {
                    reading.fail(line, too_deep());
                    return;
                }
                stack.push((b == b'{').then(HashMap::new));
            }
            b'}' | b']' => {
                stack.pop();
            }
            _ => {}
        }
        last_string = None;
        i += 1;
    }
}

fn read_json(content: &str) -> Reading {
    let mut reading = Reading::default();
    scan_json(content, &mut reading);
    if reading.error.is_some() {
        return reading;
    }
    match serde_json::from_str::<Value>(content) {
        Err(e) => {
            // serde_json says "MESSAGE at line L column C", with L counted
            // in the block: the line is given as the document's instead.
            let text = e.to_string();
            let message = text.rsplit_once(" at line ").map_or(text.as_str(), |m| m.0);
            let message = format!("{message} (column {})", e.column());
            reading.fail(e.line().saturating_sub(1), message)
        }
        Ok(Value::Object(mut map)) => {
            reading.options = Some(
                reading
                    .keys
                    .iter()
                    .filter_map(|(key, line)| {
                        map.remove(key).map(|value| RawOption {
                            key: key.clone(),
                            value,
                            line_offset: *line,
                        })
                    })
                    .collect(),
            );
        }
        Ok(_) => reading.keys.clear(),
    }
    reading
}

/// A map of option values, for tests.
#[cfg(test)]
fn as_map(options: &[RawOption]) -> serde_json::Map<String, Value> {
    options
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(format: HeaderFormat, content: &str) -> Vec<(String, usize)> {
        parse_option_block(format, content)
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|o| (o.key, o.line_offset))
            .collect()
    }

    #[test]
    fn yaml_plain_scalars_follow_the_core_schema() {
        let cases = [
            ("~", json!(null)),
            ("null", json!(null)),
            ("NULL", json!(null)),
            ("nULL", json!("nULL")),
            ("True", json!(true)),
            ("tRue", json!("tRue")),
            ("FALSE", json!(false)),
            ("yes", json!("yes")),
            ("on", json!("on")),
            ("5", json!(5)),
            ("+1", json!(1)),
            ("-2", json!(-2)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("-0x10", json!(-16)),
            ("0x-1", json!("0x-1")),
            ("007", json!("007")),
            ("0", json!(0)),
            ("1_000", json!("1_000")),
            ("1e5", json!(100000.0)),
            ("1.5", json!(1.5)),
            (".5", json!(0.5)),
            ("5.", json!(5.0)),
            (".inf", json!(null)),
            ("-.inf", json!(null)),
            (".NaN", json!(null)),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            ("infinity", json!("infinity")),
            ("-9223372036854775808", json!(i64::MIN)),
            ("18446744073709551615", json!(u64::MAX)),
            ("--1", json!("--1")),
            ("+-1", json!("+-1")),
            ("-", json!("-")),
            ("build.step1", json!("build.step1")),
        ];
        for (text, want) in cases {
            assert_eq!(yaml_plain_scalar(text), want, "{text}");
        }
    }

    #[test]
    fn yaml_values_and_key_lines() {
        let content = "filepath     : \"src/x.py\"\ninputs       : [\n    \"a\",\n    \"b\",\n ]\nenv:\n  A: '1'\n  B: 2\nis_executable: true\n";
        let opts = parse_option_block(HeaderFormat::Yaml, content)
            .unwrap()
            .unwrap();
        assert_eq!(
            as_map(&opts),
            json!({"filepath": "src/x.py", "inputs": ["a", "b"], "env": {"A": "1", "B": 2}, "is_executable": true})
                .as_object()
                .unwrap()
                .clone()
        );
        assert_eq!(
            lines(HeaderFormat::Yaml, content),
            [
                ("filepath".into(), 0),
                ("inputs".into(), 1),
                ("env".into(), 5),
                ("is_executable".into(), 8)
            ]
        );
    }

    #[test]
    fn block_scalars_quoted_and_tagged_values_are_text() {
        let opts = parse_option_block(
            HeaderFormat::Yaml,
            "lptype: session\nlpid: s\nmarker: |\n  5\ntimeout: !!str 5\necho: \"true\"\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            as_map(&opts),
            json!({"lptype": "session", "lpid": "s", "marker": "5\n", "timeout": "5", "echo": "true"})
                .as_object()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn toml_key_lines_come_from_spans() {
        // A multi-line string whose text looks like a table header.
        let content = "lpid = \"s\"\nlptype = \"session\"\nmarker = \"\"\"\n[x]\n[y]\n\"\"\"\ntimeout = \"soon\"\n";
        let got = lines(HeaderFormat::Toml, content);
        assert!(got.contains(&("timeout".into(), 6)), "{got:?}");
        assert!(got.contains(&("marker".into(), 2)), "{got:?}");
    }

    #[test]
    fn json_key_lines_come_from_the_scan() {
        let content = "{\n  \"lpid\": \"s\",\n  \"env\": {\"timeout\": 1},\n  \"note\": \"a \\\" : b\",\n  \"lptype\": \"session\",\n  \"timeout\": 5\n}\n";
        assert_eq!(
            lines(HeaderFormat::Json, content),
            [
                ("lpid".into(), 1),
                ("env".into(), 2),
                ("note".into(), 3),
                ("lptype".into(), 4),
                ("timeout".into(), 5)
            ]
        );
    }

    #[test]
    fn option_keys_anywhere_in_the_top_level_mapping() {
        let blocks = [
            (HeaderFormat::Yaml, "lpid: s\ntimeout: 5\nlptype: session\n"),
            (
                HeaderFormat::Yaml,
                "{lpid: s, timeout: 5, lptype: session}\n",
            ),
            (
                HeaderFormat::Yaml,
                "{\"lpid\": \"s\", \"lptype\": \"session\", \"timeout\": 5,}",
            ),
            (
                HeaderFormat::Json,
                "{\"lpid\": \"s\", \"lptype\": \"session\"}",
            ),
            (HeaderFormat::Toml, "lpid = \"s\"\nlptype = \"session\"\n"),
            (HeaderFormat::Toml, "lpid = \"s\"\nfilepath = \"x\"\n"),
        ];
        for (format, content) in blocks {
            let opts = parse_option_block(format, content);
            assert!(
                matches!(opts, Ok(Some(_))),
                "{format:?} {content}: {opts:?}"
            );
        }
    }

    #[test]
    fn broken_blocks_naming_lptype_are_errors_at_their_line() {
        let cases = [
            (
                HeaderFormat::Json,
                "{\"lpid\": \"s\", \"lptype\": \"session\", \"timeout\": 5,}",
                0,
            ),
            (
                HeaderFormat::Json,
                "{\n\"lpid\": \"s\",\n\"lptype\": \"session\",\n\"x\": [}\n",
                3,
            ),
            (
                HeaderFormat::Yaml,
                "lpid: s\nlptype: session\ncommand: [a\n",
                3,
            ),
            (
                HeaderFormat::Toml,
                "lpid = \"s\"\nlptype = \"session\"\ntimeout = \n",
                2,
            ),
        ];
        for (format, content, line) in cases {
            let e = parse_option_block(format, content).unwrap_err();
            assert_eq!(e.line_offset, line, "{format:?} {content}: {e:?}");
        }
    }

    #[test]
    fn an_unindented_closing_bracket_is_read_as_libyaml_reads_it() {
        // YAML 1.2 wants the closing bracket indented; libyaml lets it
        // pass, and the seed document has it.
        let options = parse_option_block(
            HeaderFormat::Yaml,
            "filepath: x\ninputs: [\n  \"a\",\n]\nlpid: y\n",
        )
        .unwrap()
        .unwrap();
        let lines: Vec<(&str, usize)> = options
            .iter()
            .map(|o| (o.key.as_str(), o.line_offset))
            .collect();
        assert_eq!(lines, [("filepath", 0), ("inputs", 1), ("lpid", 4)]);
        assert_eq!(options[1].value, serde_json::json!(["a"]));
        // Still an error when indenting it does not help.
        let e = parse_option_block(HeaderFormat::Yaml, "filepath: x\ninputs: [\n  \"a\",\n]]\n")
            .unwrap_err();
        assert_eq!(e.line_offset, 3, "{e:?}");
    }

    #[test]
    fn repeated_keys_are_errors_at_the_second() {
        let cases = [
            (
                HeaderFormat::Json,
                "{\"lpid\":\"s\",\"lptype\":\"session\",\"lptype\":\"out_file\"}",
                0,
            ),
            (
                HeaderFormat::Json,
                "{\"lpid\":\"s\",\"lptype\":\"session\",\n\"env\": {\"A\": 1,\n \"A\": 2}}",
                2,
            ),
            (HeaderFormat::Yaml, "lpid: s\nlptype: session\nlpid: t\n", 2),
            (
                HeaderFormat::Yaml,
                "{lpid: s, lptype: session, lptype: meta}\n",
                0,
            ),
            (
                HeaderFormat::Yaml,
                "lptype: session\nenv:\n  A: 1\n  A: 2\n",
                3,
            ),
            (
                HeaderFormat::Toml,
                "lpid = \"s\"\nlptype = \"session\"\nlpid = \"t\"\n",
                2,
            ),
        ];
        for (format, content, line) in cases {
            let e = parse_option_block(format, content).unwrap_err();
            assert_eq!(e.line_offset, line, "{format:?} {content}: {e:?}");
            assert!(
                e.message.contains("twice") || e.message.contains("duplicate"),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_syntax_error_before_an_option_key_at_column_0_is_an_error() {
        // The parser stops before it reads `lptype`: by how the block is
        // written, it declares options all the same.
        let cases = [
            (
                HeaderFormat::Yaml,
                "lpid: s\ntimeout: [5\nlptype: session\n",
            ),
            (
                HeaderFormat::Yaml,
                "lpid: s\ntimeout: \"5\nlptype: session\n",
            ),
            (
                HeaderFormat::Yaml,
                "lpid: s\n  timeout: 5\nlptype: session\n",
            ),
            (HeaderFormat::Yaml, "lpid: s\nx: [\n\"filepath\" : out.py\n"),
            (
                HeaderFormat::Toml,
                "lpid = \"s\"\ntimeout = [5\nlptype = \"session\"\n",
            ),
        ];
        for (format, content) in cases {
            assert!(
                parse_option_block(format, content).is_err(),
                "{format:?}: {content}"
            );
        }
    }

    #[test]
    fn a_broken_block_naming_lptype_anywhere_is_an_error() {
        // lptype is litprog's own word: a block that does not parse and
        // names it as a key, at any depth, was meant for litprog.
        for (format, content) in [
            (HeaderFormat::Yaml, "steps:\n  - lptype: x\n    bad: [\n"),
            (HeaderFormat::Json, "{\"a\": [\n  {\"lptype\": 1,\n"),
            (
                HeaderFormat::Json,
                "{\"lpid\": \"s, \"lptype\": \"session\"}",
            ),
            (
                HeaderFormat::Json,
                "{\"lpid\":\"s\",\"timeout\":[5,\"lptype\":\"session\"}",
            ),
            (HeaderFormat::Toml, "[tool]\nlptype = [\n"),
        ] {
            assert!(
                parse_option_block(format, content).is_err(),
                "{format:?}: {content}"
            );
        }
    }

    #[test]
    fn ordinary_blocks_stay_ordinary_even_if_broken() {
        let examples = [
            (HeaderFormat::Yaml, "a: 1\n"),
            (HeaderFormat::Yaml, "a: [\n"),
            (HeaderFormat::Json, "{oops"),
            (HeaderFormat::Yaml, "services:\n  web:\n    filepath: [\n"),
            (HeaderFormat::Yaml, "- filepath: x\n"),
            (HeaderFormat::Yaml, "filepath\n"),
            (HeaderFormat::Toml, "[tool]\nfilepath = \n"),
            (HeaderFormat::Json, "{\"a\": {\n  \"filepath\": [}\n"),
            (HeaderFormat::Json, "[{\"lptype\": 1}]"),
            (HeaderFormat::Json, "\"lptype\""),
            (HeaderFormat::Yaml, "a:\n  filepath: x\n  filepath: y\n"),
            (HeaderFormat::Yaml, "a: [\nlptypes: 1\n"),
        ];
        for (format, content) in examples {
            assert_eq!(
                parse_option_block(format, content),
                Ok(None),
                "{format:?}: {content}"
            );
        }
    }

    #[test]
    fn option_keys_spelled_with_escapes_are_still_found() {
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
    fn nesting_past_the_limit_is_an_error() {
        let deep = |open: &str| open.repeat(MAX_NESTING + 1);
        let cases = [
            (
                HeaderFormat::Yaml,
                format!("lptype: session\nx: {}\n", deep("[")),
            ),
            (
                HeaderFormat::Yaml,
                format!("lptype: session\nx: {}\n", deep("{a: ")),
            ),
            (
                HeaderFormat::Json,
                format!("{{\"lptype\": \"session\",\n\"x\": {}", deep("[")),
            ),
            (
                HeaderFormat::Toml,
                format!("lptype = \"session\"\nx = {}", deep("[")),
            ),
        ];
        for (format, content) in cases {
            let e = parse_option_block(format, &content).unwrap_err();
            assert_eq!(e.line_offset, 1, "{format:?}: {e:?}");
        }
        // At the limit is fine.
        let ok = format!(
            "lptype: session\nx: {}{}\n",
            "[".repeat(MAX_NESTING - 1),
            "]".repeat(MAX_NESTING - 1)
        );
        assert!(parse_option_block(HeaderFormat::Yaml, &ok).is_ok());
    }
}
