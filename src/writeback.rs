//! Write-back: result blocks spliced into a document's original text.
//!
//! Markdown is never re-rendered. Each result block is inserted, replaced or
//! removed by byte range, and every other byte of the document is kept: line
//! endings, trailing spaces, other blocks and prose. What goes in a result
//! block, how it is written and which blocks are whose is
//! [`crate::result_block`]'s; this module only splices.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::document::Document;
use crate::result_block::{
    Lines, owned_span, raw_info, render, render_lines, stored_matches, written_lines,
};

/// What a code block should be followed by.
pub type Wanted = BTreeMap<usize, Option<Lines>>;

/// The line ending of the line that ends at `end` (CRLF or LF).
fn eol_before(text: &str, end: usize) -> &'static str {
    if text[..end].ends_with("\r\n") {
        "\r\n"
    } else if text[..end].ends_with('\n') {
        "\n"
    } else if text[..end].ends_with('\r') {
        // A bare CR. pulldown-cmark does not read one as a line ending
        // inside a fence, so the result block cannot use it.
        "\r\n"
    } else if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The document's text with result blocks as `wanted` says: for each code
/// block index, `Some(lines)` puts a result block after it (replacing the
/// existing one), `None` removes an existing one. Blocks not in `wanted` are
/// left alone.
///
/// An existing result block is a pattern for its new lines (see
/// the guide's "Output that changes between runs"): when they match it, it is kept byte for byte.
/// When it is replaced, its info string is kept.
pub fn rewrite(doc: &Document, wanted: &Wanted) -> String {
    rewrite_removing(doc, wanted, &[])
}

/// [`rewrite`], also removing the result blocks `stale` (indices of blocks,
/// as [`crate::result_block::stale_results`] finds them).
pub fn rewrite_removing(doc: &Document, wanted: &Wanted, stale: &[usize]) -> String {
    enum Edit<'a> {
        Result(usize, &'a Option<Lines>),
        Remove(usize),
    }
    let mut edits: Vec<(usize, Edit<'_>)> = wanted
        .iter()
        .map(|(&b, lines)| (doc.blocks[b].fence.span.start, Edit::Result(b, lines)))
        .chain(
            stale
                .iter()
                .map(|&r| (doc.blocks[r].fence.span.start, Edit::Remove(r))),
        )
        .collect();
    edits.sort_by_key(|(at, _)| *at);
    let text = doc.text.as_str();
    let mut out = String::with_capacity(text.len() + 256);
    let mut copied = 0;
    for (_, edit) in edits {
        let (b, lines) = match edit {
            Edit::Result(b, lines) => (b, lines),
            Edit::Remove(r) => {
                let span = removal_span(doc, r);
                if span.start >= copied {
                    out.push_str(&text[copied..span.start]);
                    copied = span.end;
                }
                continue;
            }
        };
        let code = &doc.blocks[b];
        let lpid = code.lpid.as_deref().unwrap_or_default();
        let end = code.fence.span.end;
        let eol = eol_before(text, end);
        match (lines, owned_span(doc, b)) {
            (Some(lines), Some(old)) => {
                let written = written_lines(lines);
                let first = &doc.blocks[b + 1];
                let alone = old.end == first.fence.span.end;
                if alone && stored_matches(first, &written) {
                    // Kept as it is: copied with the text around it.
                    continue;
                }
                out.push_str(&text[copied..old.start]);
                let info = Some(raw_info(text, first)).filter(|i| !i.is_empty());
                out.push_str(&render_lines(lpid, info, &written, &code.fence.indent, eol));
                copied = old.end;
            }
            (Some(lines), None) => {
                out.push_str(&text[copied..end]);
                if !text[..end].ends_with(['\n', '\r']) {
                    out.push_str(eol);
                }
                out.push_str(code.fence.indent.trim_end());
                out.push_str(eol);
                out.push_str(&render(lpid, lines, &code.fence.indent, eol));
                copied = end;
            }
            (None, Some(old)) => {
                out.push_str(&text[copied..end]);
                copied = old.end;
            }
            (None, None) => {}
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The bytes removed with stale result block `r`: the block, and the blank
/// line before it when there is one (as litprog inserted it), so that
/// removing what litprog added gives the text back.
fn removal_span(doc: &Document, r: usize) -> Range<usize> {
    let span = doc.blocks[r].fence.span.clone();
    let before = &doc.text[..span.start];
    let Some(prev) = before
        .strip_suffix("\r\n")
        .or_else(|| before.strip_suffix('\n'))
    else {
        return span;
    };
    let line_start = prev.rfind('\n').map_or(0, |i| i + 1);
    let blank = prev[line_start..]
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'>'));
    // Only when a blank line (or the end) follows too: otherwise that blank
    // line now separates what came before from what follows.
    let after = &doc.text[span.end..];
    let next_line = after.split('\n').next().unwrap_or_default();
    let blank_after = after.is_empty()
        || next_line
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'>' | b'\r'));
    if blank && blank_after && line_start > 0 {
        line_start..span.end
    } else {
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result_block::{existing_result, quote_lpid};

    use std::path::Path;

    fn doc(text: &str) -> Document {
        Document::parse(Path::new("t.md"), text.to_string()).unwrap()
    }

    fn lines(v: &[&str]) -> Option<Lines> {
        Some(v.iter().collect())
    }

    #[test]
    fn insert_then_replace_then_remove_round_trips() {
        let original = "# T\n\n```bash lpid=a\necho hi\n```\n\nprose  \n";
        let d = doc(original);
        let mut wanted = Wanted::new();
        wanted.insert(0, lines(&["hi", "# exit: 0"]));
        let inserted = rewrite(&d, &wanted);
        assert_eq!(
            inserted,
            "# T\n\n```bash lpid=a\necho hi\n```\n\n```text lpout=a\nhi\n# exit: 0\n```\n\nprose  \n"
        );
        let d2 = doc(&inserted);
        assert_eq!(
            rewrite(&d2, &wanted),
            inserted,
            "replacing with the same is a no-op"
        );
        wanted.insert(0, lines(&["bye"]));
        let replaced = rewrite(&d2, &wanted);
        assert!(replaced.contains("```text lpout=a\nbye\n```\n\nprose  \n"));
        wanted.insert(0, None);
        assert_eq!(rewrite(&doc(&replaced), &wanted), original);
    }

    #[test]
    fn crlf_block_quote_and_eof_without_newline() {
        let d = doc("> ```sh lpid=a\r\n> echo\r\n> ```\r\n");
        let mut wanted = Wanted::new();
        wanted.insert(0, lines(&["x", ""]));
        assert_eq!(
            rewrite(&d, &wanted),
            "> ```sh lpid=a\r\n> echo\r\n> ```\r\n>\r\n> ```text lpout=a\r\n> x\r\n>\r\n> ```\r\n"
        );
        let d = doc("```sh lpid=a\necho\n```");
        assert_eq!(
            rewrite(&d, &wanted),
            "```sh lpid=a\necho\n```\n\n```text lpout=a\nx\n\n```\n"
        );
    }

    #[test]
    fn carriage_return_in_output_cannot_close_the_result_block() {
        // A progress bar's `\r` is a line break to Markdown: unsplit, the
        // line after it lost the list indent, ended the list item and with
        // it the result block, and the closing fence then opened a block
        // that swallowed the rest of the document.
        let text = "- item\n\n  ```sh lpid=a\n  echo\n  ```\n\n```python lpid=b\nx\n```\n";
        let mut wanted = Wanted::new();
        wanted.insert(0, lines(&["10%\r100%", "x\r```"]));
        let out = rewrite(&doc(text), &wanted);
        assert_eq!(
            out,
            "- item\n\n  ```sh lpid=a\n  echo\n  ```\n\n  ````text lpout=a\n  10%\n  100%\n  x\n  ```\n  ````\n\n```python lpid=b\nx\n```\n"
        );
        let d = doc(&out);
        assert_eq!(existing_result(&d, 0), Some(1));
        assert_eq!(d.blocks[1].fence.content, "10%\n100%\nx\n```\n");
        assert_eq!(d.blocks[2].lpid.as_deref(), Some("b"));
        assert_eq!(rewrite(&d, &BTreeMap::from([(0, None)])), text);
    }

    #[test]
    fn nul_in_output_does_not_make_the_document_unreadable() {
        let mut wanted = Wanted::new();
        wanted.insert(0, lines(&["a\0b"]));
        let out = rewrite(&doc("```sh lpid=a\necho\n```\n"), &wanted);
        assert!(out.contains("\na\u{fffd}b\n"), "{out:?}");
        assert!(Document::parse(Path::new("t.md"), out).is_ok());
    }

    #[test]
    fn result_block_in_another_container_is_not_owned() {
        // The result block opens a list item; removing or replacing its
        // span removed the `1. ` marker, and the item's next block became
        // indented code, taking the session `b` with it.
        let text = "```sh lpid=a\necho\n```\n1. ```text lpout=a\n   old\n   ```\n\n   ```sh lpid=b\n   x\n   ```\n";
        let d = doc(text);
        assert_eq!(existing_result(&d, 0), None);
        assert_eq!(rewrite(&d, &BTreeMap::from([(0, None)])), text);
        let out = rewrite(&d, &BTreeMap::from([(0, lines(&["new"]))]));
        assert_eq!(
            out,
            text.replace("```\n1. ", "```\n\n```text lpout=a\nnew\n```\n1. ")
        );
        assert_eq!(doc(&out).blocks[3].lpid.as_deref(), Some("b"));
    }

    #[test]
    fn stale_copies_of_a_result_block_go_with_it() {
        // Two result blocks of `a` after its code block (a merge kept
        // both): removing only the first let the second become the owned
        // one, so every build removed one more and none was a no-op.
        let text = "> ```sh lpid=a\n> echo\n> ```\n> ```text lpout=a\n> one\n> ```\n>\n> ```text lpout=a\n> two\n> ```\nend\n";
        let d = doc(text);
        let removed = rewrite(&d, &BTreeMap::from([(0, None)]));
        assert_eq!(removed, "> ```sh lpid=a\n> echo\n> ```\nend\n");
        let replaced = rewrite(&d, &BTreeMap::from([(0, lines(&["x"]))]));
        assert_eq!(
            replaced,
            "> ```sh lpid=a\n> echo\n> ```\n> ```text lpout=a\n> x\n> ```\nend\n"
        );
        let again = rewrite(&doc(&replaced), &BTreeMap::from([(0, lines(&["x"]))]));
        assert_eq!(again, replaced);
    }

    #[test]
    fn lpid_with_backslashes_splits_back() {
        // The info string `lpid=a\\\\b` is the lpid `a\b` (Markdown
        // unescapes, then it is split shell-style); its result block was
        // written `lpout=a\b`, which reads back as `ab`: never owned, so
        // every build added one more. Found by the fuzz target.
        let text = "```sh lpid=a\\\\\\\\b\necho\n```\n";
        let d = doc(text);
        assert_eq!(d.blocks[0].lpid.as_deref(), Some(r"a\b"));
        let wanted = BTreeMap::from([(0, lines(&["x"]))]);
        let out = rewrite(&d, &wanted);
        assert_eq!(
            out,
            format!("{text}\n{}\nx\n```\n", r#"```text lpout="a\\\\b""#)
        );
        let d2 = doc(&out);
        assert_eq!(existing_result(&d2, 0), Some(1));
        assert_eq!(rewrite(&d2, &wanted), out);
        for lpid in [
            "a b",
            "it's",
            "x\"y",
            "#x",
            r"a\",
            "a&amp;b",
            "a`b",
            "plain-1.2_x",
        ] {
            let fence = if lpid.contains('`') { "~~~" } else { "```" };
            let info = render(lpid, &Lines::new(), "", "\n");
            let text = format!("{fence}sh lpid={}\n{fence}\n\n{info}", quote_lpid(lpid));
            let d = doc(&text);
            assert_eq!(d.blocks[0].lpid.as_deref(), Some(lpid), "{text}");
            assert_eq!(existing_result(&d, 0), Some(1), "{text}");
        }
    }

    #[test]
    fn bare_carriage_return_after_the_code_block_is_kept() {
        // The closing fence line ended in a bare CR: the result block was
        // written with LF after it, which turned that CR into CRLF (a
        // byte outside the result block changed), and the next build
        // wrote the block again with CRLF. Found by the fuzz target.
        let text = "```sh lpid=a\necho\n```\rnext\n";
        let wanted = BTreeMap::from([(0, lines(&["x"]))]);
        let out = rewrite(&doc(text), &wanted);
        assert_eq!(
            out,
            "```sh lpid=a\necho\n```\r\r\n```text lpout=a\r\nx\r\n```\r\nnext\n"
        );
        assert_eq!(rewrite(&doc(&out), &wanted), out);
        assert_eq!(rewrite(&doc(&out), &BTreeMap::from([(0, None)])), text);
    }

    #[test]
    fn result_of_another_lpid_is_not_replaced() {
        let text = "```sh lpid=a\necho\n```\n\n```text lpout=b\nold\n```\n";
        let d = doc(text);
        assert_eq!(existing_result(&d, 0), None);
        let mut wanted = Wanted::new();
        wanted.insert(0, None);
        assert_eq!(rewrite(&d, &wanted), text);
    }
}
