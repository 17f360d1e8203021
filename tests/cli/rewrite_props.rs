//! The Markdown rewrite cannot damage a document (issue 5, section 1).
//!
//! Property tests over generated Markdown, through the library API:
//! documents are built from pieces (headings, paragraphs with non-ASCII
//! text, nested lists, block quotes, HTML blocks, tables, fences of both
//! kinds and many lengths, indented code, footnotes, session code blocks in
//! and out of containers, pre-existing result blocks), with LF, CRLF or
//! mixed line endings, tabs, trailing spaces and an optional BOM. Result
//! lines are generated too, hostile ones included (fences, `>`, tabs,
//! carriage returns, NUL).
//!
//! The corpus test at the end runs the real binary on the hand-written
//! documents of `tests/corpus/`, which must come back byte for byte.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use litprog::document::{Document, Project, Role};
use litprog::result_block::{self, Lines as ResultLines};
use litprog::writeback::{self, Wanted};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Helpers: parse, the code blocks that own result blocks, stripping.

fn parse(text: &str) -> Result<Document, TestCaseError> {
    Document::parse(Path::new("t.md"), text.to_string())
        .map_err(|e| TestCaseError::fail(format!("does not parse: {e}\n--- text ---\n{text:?}")))
}

/// Indices of the code blocks that can own a result block (code with an
/// lpid), in document order.
fn owners(doc: &Document) -> Vec<usize> {
    doc.blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.role == Role::Code && b.lpid.is_some())
        .map(|(i, _)| i)
        .collect()
}

/// The text with every owned result block removed.
fn strip(doc: &Document) -> String {
    let wanted: Wanted = owners(doc).into_iter().map(|b| (b, None)).collect();
    writeback::rewrite(doc, &wanted)
}

/// `(lpid, code)` of every group, in order.
fn groups(doc: &Document) -> Result<Vec<(String, String)>, TestCaseError> {
    let project = Project::new(vec![doc.clone()]).map_err(|e| {
        TestCaseError::fail(format!("does not group: {e}\n--- text ---\n{:?}", doc.text))
    })?;
    Ok(project
        .groups
        .iter()
        .map(|g| (g.lpid.clone(), project.code(g)))
        .collect())
}

/// The wanted map for `doc`: the n-th owner gets `choices[n % len]`.
fn wanted_for(doc: &Document, choices: &[Option<Vec<String>>]) -> Wanted {
    owners(doc)
        .into_iter()
        .enumerate()
        .map(|(n, b)| (b, choices[n % choices.len()].clone().map(ResultLines::from)))
        .collect()
}

/// The same wishes, keyed by the block indices of another parse of the
/// document (inserting and removing result blocks shifts the indices).
fn rekey(wanted: &Wanted, from: &Document, to: &Document) -> Wanted {
    let old = owners(from);
    let new = owners(to);
    assert_eq!(old.len(), new.len(), "the number of code blocks changed");
    wanted
        .iter()
        .map(|(b, w)| {
            let n = old.iter().position(|o| o == b).expect("an owner");
            (new[n], w.clone())
        })
        .collect()
}

/// Lines of `s` without their endings (`\n`, `\r\n`).
fn lines_of(s: &str) -> Vec<&str> {
    s.split_inclusive('\n')
        .map(|l| {
            let l = l.strip_suffix('\n').unwrap_or(l);
            l.strip_suffix('\r').unwrap_or(l)
        })
        .collect()
}

/// What a wanted line looks like once written: `render` turns a bare
/// carriage return into a line break and NUL into U+FFFD, since Markdown
/// itself reads them that way, and drops trailing spaces and tabs.
fn as_written(lines: &ResultLines) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| {
            l.replace('\0', "\u{fffd}")
                .split(['\r', '\n'])
                .map(|part| part.trim_end_matches([' ', '\t']).to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// All the properties of one rewrite of `text` with `choices`.
fn check_rewrite(text: &str, choices: &[Option<Vec<String>>]) -> Result<(), TestCaseError> {
    let doc = parse(text)?;
    let wanted = wanted_for(&doc, choices);
    let new_text = writeback::rewrite(&doc, &wanted);
    let new = parse(&new_text)?;

    // Bytes outside owned result blocks are kept. The one allowed change:
    // a document whose last code block ends the file without a line ending
    // gets one before the inserted result block.
    let before = strip(&doc);
    let after = strip(&new);
    if after != before {
        let eol_added = !before.ends_with('\n')
            && (after == format!("{before}\n") || after == format!("{before}\r\n"));
        prop_assert!(
            eol_added,
            "bytes outside result blocks changed\n--- original ---\n{text:?}\n--- rewritten ---\n{new_text:?}\n--- stripped before ---\n{before:?}\n--- stripped after ---\n{after:?}"
        );
    }

    // The same groups with the same code.
    prop_assert_eq!(
        groups(&doc)?,
        groups(&new)?,
        "groups changed\n{:?}",
        new_text
    );

    // Result blocks where wanted, with exactly the wanted lines.
    let rekeyed = rekey(&wanted, &doc, &new);
    for (&b, w) in &rekeyed {
        let code = &new.blocks[b];
        let result = result_block::existing_result(&new, b);
        match w {
            None => prop_assert!(result.is_none(), "block {b} kept a result\n{new_text:?}"),
            Some(lines) => {
                let Some(r) = result else {
                    return Err(TestCaseError::fail(format!(
                        "no result block after block {b}\n{new_text:?}"
                    )));
                };
                let expected = as_written(lines);
                let fence = &new.blocks[r].fence;
                prop_assert!(fence.closed, "result block not closed\n{new_text:?}");
                prop_assert_eq!(
                    &new.blocks[r].role,
                    &Role::Result {
                        lpid: code.lpid.clone().unwrap()
                    }
                );
                // The written lines, container indent removed.
                let indent = code.fence.indent.as_str();
                let written = lines_of(&new.text[fence.span.clone()]);
                prop_assert_eq!(written.len(), expected.len() + 2, "{:?}", new_text);
                for (line, want) in written[1..written.len() - 1].iter().zip(&expected) {
                    let inner = if line.trim() == indent.trim() && want.trim().is_empty() {
                        want.as_str()
                    } else {
                        line.strip_prefix(indent).unwrap_or_else(|| {
                            panic!("{line:?} lacks the indent {indent:?}\n{new_text:?}")
                        })
                    };
                    prop_assert_eq!(inner, want.as_str(), "{:?}", new_text);
                }
                // And what the Markdown parser reads back, for lines a
                // container cannot reinterpret (tabs are expanded by
                // column, so a leading tab may come back as spaces).
                if !indent.contains('\t') && !expected.iter().any(|l| l.starts_with([' ', '\t'])) {
                    let content: Vec<&str> = lines_of(&fence.content);
                    prop_assert_eq!(
                        content,
                        expected.iter().map(String::as_str).collect::<Vec<_>>(),
                        "content read back differs\n{:?}",
                        new_text
                    );
                }
            }
        }
    }

    // A second rewrite with the same wishes is a no-op.
    prop_assert_eq!(
        writeback::rewrite(&new, &rekeyed),
        new_text.clone(),
        "not idempotent"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Generators. Each piece is a list of lines without line endings.

type Lines = Vec<String>;

/// A line of prose: starts with a letter so it never opens a block by
/// accident; non-ASCII text, inline code, emphasis, tabs, trailing spaces.
fn prose_line() -> impl Strategy<Value = String> {
    (
        "[a-zA-Zäöüéñ日Ωж][a-zA-Z0-9 äöüßéñçø日本語文字Ωλжи€😀*_`!.,:;()\\[\\]\t-]{0,40}",
        prop_oneof![4 => Just(""), 1 => Just("  "), 1 => Just(" \t"), 1 => Just(" ")],
    )
        .prop_map(|(text, trail)| format!("{text}{trail}"))
}

fn heading() -> impl Strategy<Value = Lines> {
    prop_oneof![
        (1..=6usize, prose_line()).prop_map(|(n, t)| vec![format!("{} {t}", "#".repeat(n))]),
        (prose_line(), prop_oneof![Just("==="), Just("---")])
            .prop_map(|(t, u)| vec![t, u.to_string()]),
    ]
}

fn paragraph() -> impl Strategy<Value = Lines> {
    prop::collection::vec(prose_line(), 1..4)
}

/// A list, possibly nested, of prose items.
fn list() -> impl Strategy<Value = Lines> {
    let marker = prop_oneof![Just("- "), Just("* "), Just("+ "), Just("1. "), Just("2) ")];
    let item = (marker, prose_line(), prop::option::of(prose_line()));
    prop::collection::vec(item, 1..4).prop_map(|items| {
        let mut out = Vec::new();
        for (marker, text, nested) in items {
            out.push(format!("{marker}{text}"));
            if let Some(n) = nested {
                out.push(format!("{}- {n}", " ".repeat(marker.len())));
            }
        }
        out
    })
}

fn html() -> impl Strategy<Value = Lines> {
    prop_oneof![
        prose_line().prop_map(|t| vec![
            "<div align=\"center\">".into(),
            format!("<p>{t}</p>"),
            "</div>".into()
        ]),
        Just(vec![
            "<!-- a fence inside a comment is not a fence:".into(),
            "```bash lpid=s0 lptype=session".into(),
            "echo hidden".into(),
            "-->".into()
        ]),
        prose_line().prop_map(|t| vec![
            format!("<details><summary>{t}</summary>"),
            "</details>".into()
        ]),
    ]
}

fn table() -> impl Strategy<Value = Lines> {
    prop::collection::vec(("[a-zé日 ]{1,8}", "[0-9`x|\\\\]{1,6}"), 1..4).prop_map(|rows| {
        let mut out = vec![
            "| name | value |".to_string(),
            "|:-----|------:|".to_string(),
        ];
        out.extend(
            rows.iter()
                .map(|(a, b)| format!("| {a} | {} |", b.replace('|', "\\|"))),
        );
        out
    })
}

fn footnote() -> impl Strategy<Value = Lines> {
    (prose_line(), prose_line())
        .prop_map(|(a, b)| vec![format!("{a}[^n]"), String::new(), format!("[^n]: {b}")])
}

fn indented_code() -> impl Strategy<Value = Lines> {
    (
        prop_oneof![Just("    "), Just("\t")],
        prop::collection::vec(
            prop_oneof![
                "[a-z(){};=\" ]{0,20}",
                Just("```python".to_string()),
                Just("~~~".to_string()),
            ],
            1..4,
        ),
    )
        .prop_map(|(indent, lines)| lines.iter().map(|l| format!("{indent}{l}")).collect())
}

/// Lines of code inside a fence of `len` `ch`s: may hold shorter fences of
/// the same character and any fences of the other one, never a closer.
fn fence_body(ch: char, len: usize) -> impl Strategy<Value = Lines> {
    prop::collection::vec(
        prop_oneof![
            4 => "[a-z0-9 äé日(){}$=\"'#\t]{0,24}",
            1 => "[ ]{0,3}[`~]{3,7}[a-z]{0,4}",
            1 => Just(String::new()),
        ],
        0..5,
    )
    .prop_map(move |lines| {
        lines
            .into_iter()
            .map(|l| {
                let run = l.trim_start().chars().take_while(|&c| c == ch).count();
                if run >= len || (run >= 3 && l.trim_start().starts_with(['`', '~'])) {
                    // Would close the fence (or, for the other character,
                    // could); keep it as text.
                    format!("x{l}")
                } else {
                    l
                }
            })
            .collect()
    })
}

fn fence_kind() -> impl Strategy<Value = (char, usize)> {
    (prop_oneof![Just('`'), Just('~')], 3..=6usize)
}

/// An ordinary fenced block (not litprog's), closed or not.
fn plain_fence(closed: bool) -> impl Strategy<Value = Lines> {
    let info = prop_oneof![
        Just(""),
        Just("python"),
        Just("rust"),
        Just("text"),
        Just("sh"),
        Just("js {.numberLines}"),
        Just("yaml"),
        Just("json"),
        Just("c++"),
        Just("日本語"),
    ];
    (fence_kind(), info).prop_flat_map(move |((ch, len), info)| {
        fence_body(ch, len).prop_map(move |body| {
            let fence = ch.to_string().repeat(len);
            let mut out = vec![format!("{fence}{info}")];
            if info == "yaml" {
                out.push("name: demo".into());
            } else if info == "json" {
                out.push("{\"name\": \"demo\"}".into());
            } else {
                out.extend(body);
            }
            if closed {
                out.push(fence);
            }
            out
        })
    })
}

/// A result block as litprog writes it (or as someone left it).
fn result_block() -> impl Strategy<Value = Lines> {
    (
        0..4usize,
        3..=6usize,
        prop::collection::vec("[a-z0-9 #:!é]{0,16}", 0..4),
    )
        .prop_map(|(slot, len, lines)| {
            let fence = "`".repeat(len);
            let mut out = vec![format!("{fence}text lpout=s{slot}")];
            out.extend(lines);
            out.push(fence);
            out
        })
}

/// A session code block, maybe followed by a result block (directly, after
/// blank lines, or after prose, which makes it not owned).
fn session_block() -> impl Strategy<Value = Lines> {
    let code = prop::collection::vec("[a-z0-9 $=\"'|.-]{1,20}", 1..3);
    let after = prop_oneof![
        2 => Just(None),
        3 => (prop_oneof![Just(0usize), Just(1), Just(2)], result_block())
            .prop_map(|(gap, r)| Some((vec![String::new(); gap], r))),
        1 => (prose_line(), result_block()).prop_map(|(p, r)| Some((vec![String::new(), p, String::new()], r))),
    ];
    let info = prop_oneof![
        4 => Just("bash lpid=s{} lptype=session"),
        1 => Just("bash   lpid=s{}  lptype=session  "),
        // lpids that need quoting or escaping to be written back.
        1 => Just("bash lpid='s {}' lptype=session"),
        // `s\\\\0` in Markdown is the lpid `s\0`.
        1 => Just("bash lpid=s\\\\\\\\{} lptype=session"),
        1 => Just("bash lpid=s&amp;{} lptype=session"),
        1 => Just("bash"),
    ];
    (0..4usize, fence_kind(), info, code, after).prop_map(|(slot, (ch, len), info, code, after)| {
        let fence = ch.to_string().repeat(len);
        let mut out = vec![format!("{fence}{}", info.replace("{}", &slot.to_string()))];
        out.extend(code);
        out.push(fence);
        if let Some((gap, result)) = after {
            out.extend(gap);
            out.extend(result);
        }
        out
    })
}

fn leaf(sessions: bool) -> BoxedStrategy<Lines> {
    let plain = prop_oneof![
        2 => heading().boxed(),
        3 => paragraph().boxed(),
        2 => list().boxed(),
        1 => html().boxed(),
        1 => table().boxed(),
        1 => footnote().boxed(),
        1 => indented_code().boxed(),
        3 => plain_fence(true).boxed(),
        1 => result_block().boxed(),
    ];
    if sessions {
        prop_oneof![3 => plain, 2 => session_block()].boxed()
    } else {
        plain.boxed()
    }
}

/// Prefix every line: `first` on the first, `rest` on the others, `blank`
/// on empty lines.
fn prefixed(lines: &[String], first: &str, rest: &str, blank: &str) -> Lines {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| match (i, l.is_empty()) {
            (0, _) => format!("{first}{l}"),
            (_, true) => blank.to_string(),
            _ => format!("{rest}{l}"),
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Container {
    Quote,
    QuoteTight,
    Item(&'static str),
}

fn wrap(lines: &[String], c: Container, trailing_ws: bool) -> Lines {
    match c {
        Container::Quote => prefixed(lines, "> ", "> ", if trailing_ws { "> " } else { ">" }),
        // pulldown-cmark reads `>- a` / `>  b` as leaving the item; a
        // tight quote only holds what is not a list.
        Container::QuoteTight if !lines[0].starts_with(['-', '*', '+', '1']) => {
            prefixed(lines, ">", ">", ">")
        }
        Container::QuoteTight => wrap(lines, Container::Quote, trailing_ws),
        Container::Item(marker) => {
            let rest = if marker == "-\t" {
                "\t".to_string()
            } else {
                " ".repeat(marker.len())
            };
            let blank = if trailing_ws {
                rest.clone()
            } else {
                String::new()
            };
            prefixed(lines, marker, &rest, &blank)
        }
    }
}

fn container() -> impl Strategy<Value = Container> {
    prop_oneof![
        Just(Container::Quote),
        Just(Container::QuoteTight),
        Just(Container::Item("- ")),
        Just(Container::Item("* ")),
        Just(Container::Item("1. ")),
        Just(Container::Item("10) ")),
        Just(Container::Item("-   ")),
        Just(Container::Item("-\t")),
    ]
}

/// A top-level piece: a leaf, or one to three leaves in one or two nested
/// containers.
fn piece(sessions: bool) -> impl Strategy<Value = Lines> {
    prop_oneof![
        3 => leaf(sessions),
        2 => (
            prop::collection::vec(leaf(sessions), 1..3),
            prop::collection::vec(container(), 1..3),
            any::<bool>(),
        )
            .prop_map(|(leaves, containers, ws)| {
                // A blank line between the leaves.
                let mut lines = leaves.join(&String::new());
                let outermost = containers.len() - 1;
                for (i, c) in containers.into_iter().enumerate() {
                    // A tab after a marker reaches the next tab stop, so its
                    // `\t` continuation only lines up at column 0.
                    let c = match c {
                        Container::Item("-\t") if i < outermost => Container::Item("- "),
                        c => c,
                    };
                    lines = wrap(&lines, c, ws);
                }
                lines
            }),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Eol {
    Lf,
    Crlf,
    Mixed,
}

/// A whole document: pieces separated by blank lines (sometimes none),
/// maybe an unclosed fence at the end, a BOM, LF / CRLF / mixed endings,
/// with or without a final line ending.
fn document(sessions: bool) -> impl Strategy<Value = String> {
    (
        prop::collection::vec((piece(sessions), prop::bool::weighted(0.85)), 1..8),
        prop::option::weighted(0.15, plain_fence(false)),
        prop_oneof![Just(Eol::Lf), Just(Eol::Crlf), Just(Eol::Mixed)],
        prop::collection::vec(any::<bool>(), 1..16),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.85),
    )
        .prop_map(|(pieces, unclosed, eol, bits, bom, final_eol)| {
            let mut lines: Lines = Vec::new();
            for (i, (p, blank)) in pieces.into_iter().enumerate() {
                if i > 0 && blank {
                    lines.push(String::new());
                }
                lines.extend(p);
            }
            if let Some(u) = unclosed {
                lines.push(String::new());
                lines.extend(u);
            }
            let mut text = String::from(if bom { "\u{feff}" } else { "" });
            let n = lines.len();
            for (i, l) in lines.iter().enumerate() {
                text.push_str(l);
                if i + 1 < n || final_eol {
                    let crlf = match eol {
                        Eol::Lf => false,
                        Eol::Crlf => true,
                        Eol::Mixed => bits[i % bits.len()],
                    };
                    text.push_str(if crlf { "\r\n" } else { "\n" });
                }
            }
            text
        })
}

/// Result lines: prose, fences of every length, quote markers, tabs,
/// leading spaces, empty lines, unicode.
fn result_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-zA-Z0-9 äöü日本😀#:!$>|-]{0,30}",
        1 => Just(String::new()),
        1 => "[ \t]{0,4}`{3,9}[a-z ]{0,6}",
        1 => "~{3,6}",
        1 => Just("> ```".to_string()),
        1 => Just("  ```text lpout=s1".to_string()),
        1 => "\t[a-z]{1,5}",
        1 => "[ ]{1,6}[a-z]{1,5}",
    ]
}

/// Result lines as a misbehaving program could print them: a carriage
/// return in the middle (progress bars), NUL bytes, other controls.
fn hostile_line() -> impl Strategy<Value = String> {
    prop_oneof![
        result_line(),
        "[a-z0-9%]{0,6}\r[`]{3,6}",
        "[a-z]{0,4}\r[a-z]{0,4}",
        "[a-z]{0,4}\u{0}[a-z]{0,4}",
        "[a-z]{0,4}[\u{1}-\u{8}\u{b}\u{c}\u{7f}][a-z]{0,4}",
    ]
}

fn choices(line: BoxedStrategy<String>) -> impl Strategy<Value = Vec<Option<Vec<String>>>> {
    prop::collection::vec(
        prop::option::weighted(0.7, prop::collection::vec(line, 0..6)),
        1..8,
    )
}

/// 256 cases per property; `PROPTEST_CASES=10000` for a longer hunt.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any text at all: parsing never panics, and neither does a rewrite
    /// of what parses.
    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "(?s).{0,200}") {
        if let Ok(doc) = Document::parse(Path::new("t.md"), text.clone()) {
            let _ = strip(&doc);
        }
    }

    /// Markdown-shaped noise: fence characters, containers, line endings.
    #[test]
    fn parse_never_panics_on_markdownish_text(
        text in "[`~>\\-*+ \t\r\n1.)#a-z=\u{feff}é]{0,200}"
    ) {
        if let Ok(doc) = Document::parse(Path::new("t.md"), text.clone()) {
            let all_none = strip(&doc);
            prop_assert_eq!(strip(&parse(&all_none)?), all_none);
        }
    }

    /// A document without sessions is left exactly as it is, even when
    /// every block is asked to lose its result block.
    #[test]
    fn no_sessions_means_identical_bytes(text in document(false)) {
        let doc = parse(&text)?;
        prop_assert!(owners(&doc).is_empty());
        prop_assert_eq!(writeback::rewrite(&doc, &Wanted::new()), text.clone());
        let every: Wanted = (0..doc.blocks.len()).map(|b| (b, None)).collect();
        prop_assert_eq!(writeback::rewrite(&doc, &every), text);
    }

    /// Insert, replace and remove result blocks in documents with sessions.
    #[test]
    fn rewrite_keeps_everything_else(
        text in document(true),
        choices in choices(result_line().boxed()),
    ) {
        check_rewrite(&text, &choices)?;
    }

    /// The same with output a misbehaving program could print.
    #[test]
    fn rewrite_survives_hostile_output(
        text in document(true),
        choices in choices(hostile_line().boxed()),
    ) {
        check_rewrite(&text, &choices)?;
    }
}

// ---------------------------------------------------------------------------
// `markdown::fences` parses only the chunks of a document that can hold a
// fence; it must find exactly what one parse of the whole text finds.

/// Lines that open, close, continue or hide fences and the blocks around
/// them, in any order: the cases where parsing a chunk alone could go wrong
/// (a fence or HTML comment across blank lines and unindented text, fences
/// in list items, quotes and footnotes, lazy lines, indented fences).
fn tricky_line() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        2 => Just("```".to_string()),
        1 => Just("````".to_string()),
        1 => Just("```python".to_string()),
        1 => Just("~~~".to_string()),
        1 => Just("~~~~ text".to_string()),
        1 => Just("   ```".to_string()),
        1 => Just("    ```".to_string()),
        1 => Just("\t```".to_string()),
        1 => Just("  ```".to_string()),
        1 => Just("> ```".to_string()),
        1 => Just(">".to_string()),
        1 => Just("> text".to_string()),
        1 => Just("- ```".to_string()),
        1 => Just("- item".to_string()),
        1 => Just("1. ```".to_string()),
        1 => Just("* * *".to_string()),
        1 => Just("[^1]: ```".to_string()),
        1 => Just("[^1]: note".to_string()),
        1 => Just("[foo]: /url 'title".to_string()),
        1 => Just("<!--".to_string()),
        1 => Just("-->".to_string()),
        1 => Just("<script>".to_string()),
        1 => Just("</script>".to_string()),
        1 => Just("<?php".to_string()),
        1 => Just("?>".to_string()),
        1 => Just("<![CDATA[".to_string()),
        1 => Just("]]>".to_string()),
        1 => Just("<!DOCTYPE html>".to_string()),
        1 => Just("<div>".to_string()),
        1 => Just("</div>".to_string()),
        1 => Just("<a href=\"x\">".to_string()),
        1 => Just("| a | b |".to_string()),
        1 => Just("|---|---|".to_string()),
        1 => Just("# heading".to_string()),
        1 => Just("===".to_string()),
        1 => Just("---".to_string()),
        1 => Just("    code".to_string()),
        1 => Just("  indented".to_string()),
        1 => Just("\r".to_string()),
        1 => Just("\u{c}  ```".to_string()),
        1 => Just("\u{b}> x".to_string()),
        1 => Just("\u{a0}- ```".to_string()),
        4 => "[a-z`*<>_ ]{1,12}",
        2 => "[ ]{0,4}[-*>]{0,2}[ ]{0,2}[`~]{3,5}[a-z]{0,3}",
    ]
}

fn tricky_document() -> impl Strategy<Value = String> {
    (prop::collection::vec(tricky_line(), 1..40), prop::bool::ANY).prop_map(|(lines, crlf)| {
        let eol = if crlf { "\r\n" } else { "\n" };
        lines.iter().map(|l| format!("{l}{eol}")).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases * 2, ..config() })]

    #[test]
    fn chunked_fences_equal_one_parse_on_tricky_lines(text in tricky_document()) {
        prop_assert_eq!(
            litprog::markdown::fences(&text),
            litprog::markdown::fences_in_one_parse(&text),
            "{:?}", text
        );
    }

    #[test]
    fn chunked_fences_equal_one_parse_on_documents(text in document(true)) {
        prop_assert_eq!(
            litprog::markdown::fences(&text),
            litprog::markdown::fences_in_one_parse(&text),
            "{:?}", text
        );
    }
}

#[test]
fn chunked_fences_equal_one_parse_on_the_corpus() {
    for (path, bytes) in corpus() {
        let text = String::from_utf8(bytes).unwrap();
        let fences = litprog::markdown::fences(&text);
        assert_eq!(
            fences,
            litprog::markdown::fences_in_one_parse(&text),
            "{}",
            path.display()
        );
    }
}

// ---------------------------------------------------------------------------
// The corpus: hand-written real-world-shaped documents without sessions.

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn corpus_is_varied() {
    let files = corpus();
    assert!(files.len() >= 20, "only {} corpus files", files.len());
    let texts: Vec<String> = files
        .iter()
        .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
        .collect();
    assert!(texts.iter().filter(|t| t.contains("\r\n")).count() >= 2);
    assert!(texts.iter().any(|t| t.starts_with('\u{feff}')));
    assert!(texts.iter().any(|t| !t.ends_with('\n')));
    let docs: Vec<Document> = texts.iter().map(|t| parse(t).unwrap()).collect();
    let fences: usize = docs.iter().map(|d| d.blocks.len()).sum();
    assert!(fences >= 120, "only {fences} fenced blocks in the corpus");
    let mut langs: Vec<&str> = docs
        .iter()
        .flat_map(|d| d.blocks.iter().map(|b| b.fence.lang.as_str()))
        .collect();
    langs.sort();
    langs.dedup();
    assert!(
        langs.len() >= 30,
        "only {} languages: {langs:?}",
        langs.len()
    );
}

#[test]
fn corpus_round_trips_through_rewrite() {
    for (path, bytes) in corpus() {
        let text = String::from_utf8(bytes).unwrap();
        let doc = Document::parse(&path, text.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(owners(&doc).is_empty(), "{}: has sessions", path.display());
        assert!(
            doc.blocks.iter().all(|b| b.role == Role::Code),
            "{}: has litprog blocks",
            path.display()
        );
        assert_eq!(
            writeback::rewrite(&doc, &Wanted::new()),
            text,
            "{}",
            path.display()
        );
        let every: Wanted = (0..doc.blocks.len()).map(|b| (b, None)).collect();
        assert_eq!(writeback::rewrite(&doc, &every), text, "{}", path.display());
        Project::new(vec![doc]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn corpus_is_unchanged_by_a_build() {
    for (path, bytes) in corpus() {
        let dir = tempfile::tempdir().unwrap();
        let name = path.file_name().unwrap();
        fs::write(dir.path().join(name), &bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_litprog"))
            .arg("build")
            .arg(name)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {:?}\n{}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read(dir.path().join(name)).unwrap(),
            bytes,
            "{} changed",
            path.display()
        );
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            entries.len(),
            1,
            "{}: the build wrote files",
            path.display()
        );
    }
}
