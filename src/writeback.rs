//! Write-back: result blocks spliced into a document's original text.
//!
//! Markdown is never re-rendered. Each result block is inserted, replaced or
//! removed by byte range, and every other byte of the document is kept: line
//! endings, trailing spaces, other blocks and prose.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::document::{Document, RESULT_ATTR, Role};

/// What a code block should be followed by.
pub type Wanted = BTreeMap<usize, Option<Lines>>;

/// The lines of a result block, held compactly: one string for all of
/// them and where each ends, so a block of a million short lines costs
/// its bytes and 4 bytes a line, not a `String` (24 bytes and an
/// allocation) a line.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Lines {
    text: String,
    ends: Vec<u32>,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Lines {
    /// No lines.
    pub fn new() -> Self {
        Lines::default()
    }

    /// Appends a line. (A block's output is capped far below the 4 GiB
    /// an end offset can hold.)
    pub fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No lines at all?
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + ExactSizeIterator + '_ {
        (0..self.ends.len()).map(move |i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
            &self.text[start..self.ends[i] as usize]
        })
    }

    /// The last line.
    pub fn last(&self) -> Option<&str> {
        self.iter().next_back()
    }

    /// The lines as strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Lines {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut lines = Lines::new();
        lines.extend(iter);
        lines
    }
}

impl<S: AsRef<str>> Extend<S> for Lines {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        for line in iter {
            self.push(line.as_ref());
        }
    }
}

impl From<Vec<String>> for Lines {
    fn from(lines: Vec<String>) -> Self {
        lines.into_iter().collect()
    }
}

impl From<&[&str]> for Lines {
    fn from(lines: &[&str]) -> Self {
        lines.iter().collect()
    }
}

/// The lines of a result block as written. Markdown reads a bare carriage
/// return as a line break (progress bars print them), so one inside a
/// line would start a new line without the container's indent and could
/// close the fence or the list item early: such a line is split in two. A
/// NUL byte, which Markdown replaces anyway and litprog refuses to read, is
/// written as U+FFFD.
///
/// Trailing spaces and tabs are removed from every line: editors that trim
/// them on save must not make `check` fail over bytes no reader sees.
///
/// The common case, where no line needs any of this, borrows the lines: a
/// result of a million lines costs no second million.
fn written_lines(lines: &Lines) -> Cow<'_, Lines> {
    let needs_work = |line: &str| {
        memchr::memchr3(b'\0', b'\r', b'\n', line.as_bytes()).is_some()
            || line.ends_with([' ', '\t'])
    };
    if !lines.iter().any(needs_work) {
        return Cow::Borrowed(lines);
    }
    let mut out = Lines::new();
    for line in lines.iter() {
        if memchr::memchr3(b'\0', b'\r', b'\n', line.as_bytes()).is_none() {
            out.push(trim_end(line));
            continue;
        }
        let clean = line.replace('\0', "\u{fffd}");
        out.extend(clean.split(['\r', '\n']).map(trim_end));
    }
    Cow::Owned(out)
}

/// `line` without trailing spaces and tabs.
fn trim_end(line: &str) -> &str {
    line.trim_end_matches([' ', '\t'])
}

/// The fence for a result block: backticks (tildes when the info string
/// holds a backtick, which a backtick fence's may not), longer than any
/// run of them that starts a line of the content, so no line can close it.
fn fence_for(lines: &Lines, info: &str) -> String {
    let ch = if info.contains('`') { b'~' } else { b'`' };
    let longest = lines.iter().map(|l| fence_run(l, ch)).max().unwrap_or(0);
    let n = (longest + 1).max(3);
    if ch == b'~' {
        "~".repeat(n)
    } else {
        "`".repeat(n)
    }
}

/// How many `ch` (an ASCII byte) start `line` after its leading white
/// space, as `trim_start` defines it. Bytes, not chars: only a line whose
/// indent holds a non-ASCII byte goes through `trim_start`.
fn fence_run(line: &str, ch: u8) -> usize {
    let bytes = line.as_bytes();
    let mut start = 0;
    while let Some(&b) = bytes.get(start) {
        match b {
            b' ' | b'\t'..=b'\r' => start += 1,
            _ if b.is_ascii() => break,
            // Unicode white space (U+0085, U+00A0, U+2000, ...).
            _ => return fence_run_chars(&line[start..], ch),
        }
    }
    bytes[start..].iter().take_while(|&&b| b == ch).count()
}

fn fence_run_chars(line: &str, ch: u8) -> usize {
    line.trim_start().bytes().take_while(|&b| b == ch).count()
}

/// Render a result block: `indent` starts every line, `eol` ends it.
pub fn render(lpid: &str, lines: &Lines, indent: &str, eol: &str) -> String {
    render_lines(lpid, None, &written_lines(lines), indent, eol)
}

/// The info string of a new result block: `text lpout=LPID`.
fn new_info(lpid: &str) -> String {
    let quoted = quote_lpid(lpid);
    let mut info = String::with_capacity(6 + RESULT_ATTR.len() + quoted.len());
    for part in ["text ", RESULT_ATTR, "=", &quoted] {
        info.push_str(part);
    }
    info
}

/// [`render`] of lines already in their written form, with the info string
/// of the block being replaced when there is one: the author may have
/// changed the language (`json lpout=x`, for highlighting) or added
/// attributes, and they stay as written.
fn render_lines(lpid: &str, info: Option<&str>, lines: &Lines, indent: &str, eol: &str) -> String {
    let info = match info {
        Some(info) => info.to_string(),
        None => new_info(lpid),
    };
    let fence = fence_for(lines, &info);
    let bare = indent.trim_end();
    let size = lines.iter().map(|l| l.len()).sum::<usize>()
        + (lines.len() + 2) * (indent.len() + eol.len())
        + 2 * fence.len()
        + info.len();
    let mut out = String::with_capacity(size);
    for part in [indent, &fence, &info, eol] {
        out.push_str(part);
    }
    for line in lines.iter() {
        if line.is_empty() {
            out.push_str(bare);
        } else {
            out.push_str(indent);
            out.push_str(line);
        }
        out.push_str(eol);
    }
    for part in [indent, &fence, eol] {
        out.push_str(part);
    }
    out
}

/// The lpid as written in a result block's info string, which is read
/// back by unescaping it as Markdown and splitting it shell-style: quoted
/// when it holds spaces, quotes or backslashes, and with `\\` and `&`
/// escaped so that Markdown gives the quoted text back.
fn quote_lpid(lpid: &str) -> String {
    // Words of these characters need no quoting: the common case, without
    // shlex.
    if !lpid.is_empty()
        && lpid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:+,@%".contains(&b))
    {
        return lpid.to_string();
    }
    quote_lpid_shell(lpid)
}

/// [`quote_lpid`] for any lpid.
fn quote_lpid_shell(lpid: &str) -> String {
    let attr = format!("{RESULT_ATTR}={lpid}");
    let quoted = if shlex::split(&attr).is_some_and(|words| words == [attr.as_str()]) {
        lpid.to_string()
    } else {
        shlex::try_quote(lpid).map_or_else(|_| lpid.to_string(), |q| q.into_owned())
    };
    quoted.replace('\\', "\\\\").replace('&', "\\&")
}

/// Is `gap`, the whole lines between a code block and a result block, only
/// lines that are blank in the code block's container (whose prefix for
/// new lines is `indent`)? Blank is CommonMark's blank: spaces and tabs
/// only (U+00A0 and other Unicode spaces are text). In a block quote a
/// blank line keeps its `>` markers, as many as the container has: a line
/// with fewer ends the quote, one with more opens another.
fn is_gap(gap: &str, indent: &str) -> bool {
    if !gap
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'>'))
    {
        return false;
    }
    let quotes = memchr::memchr_iter(b'>', indent.as_bytes()).count();
    if quotes == 0 {
        // The common case: blank lines outside any block quote.
        return memchr::memchr(b'>', gap.as_bytes()).is_none();
    }
    gap.split_terminator('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
        .all(|line| {
            line.bytes().all(|b| matches!(b, b' ' | b'\t' | b'>'))
                && memchr::memchr_iter(b'>', line.as_bytes()).count() == quotes
        })
}

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

/// Does block `r` belong to code block `b` as a result block, coming after
/// block `prev` with only blank lines between?
///
/// It must be in the code block's container: its first line starts with
/// exactly the prefix litprog writes there (the code block's `indent`), and
/// the lines between are blank in that container. A result block that
/// opens a list item (`- `, `1. `) or another block quote is not the code
/// block's: replacing or removing its lines would remove the list marker
/// or the quote it opens, and change what the following lines belong to.
fn owned_after(doc: &Document, b: usize, prev: usize, r: usize) -> bool {
    let code = &doc.blocks[b];
    let Some(next) = doc.blocks.get(r) else {
        return false;
    };
    let indent = code.fence.indent.as_str();
    match &next.role {
        Role::Result { lpid } => {
            Some(lpid) == code.lpid.as_ref()
                && doc.text[next.fence.span.start..next.fence.opener.start] == *indent
                && is_gap(
                    &doc.text[doc.blocks[prev].fence.span.end..next.fence.span.start],
                    indent,
                )
        }
        _ => false,
    }
}

/// The index of the result block owned by code block `b`, if there is one
/// directly after it (only blank lines between) and in the same container.
pub fn existing_result(doc: &Document, b: usize) -> Option<usize> {
    owned_after(doc, b, b, b + 1).then_some(b + 1)
}

/// The bytes of the result blocks owned by code block `b`: its result
/// block and any stale copies stacked directly after it (same lpid, same
/// container, only blank lines between), which are replaced or removed
/// with it so that a second build has nothing left to do.
fn owned_span(doc: &Document, b: usize) -> Option<Range<usize>> {
    let first = existing_result(doc, b)?;
    let mut last = first;
    while owned_after(doc, b, last, last + 1) {
        last += 1;
    }
    Some(doc.blocks[first].fence.span.start..doc.blocks[last].fence.span.end)
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
/// as [`stale_results`] finds them).
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

/// The info string of `block` as written in `text` (the parser's copy has
/// its backslash escapes resolved), trimmed.
fn raw_info<'t>(text: &'t str, block: &crate::document::Block) -> &'t str {
    let rest = &text[block.fence.opener.end..block.fence.span.end];
    let line = rest.split(['\n', '\r']).next().unwrap_or_default();
    line.trim_matches([' ', '\t'])
}

/// Does the stored result block `stored` match the new `lines` as a
/// pattern? Its content is read without line endings; a block whose
/// content does not end with a line ending has none of its own.
///
/// Identical lines are compared without collecting either side, and a
/// block holding no pattern syntax is not compiled as a pattern, so a
/// rebuild of a long result costs no list of its lines.
fn stored_matches(stored: &crate::document::Block, lines: &Lines) -> bool {
    let content = stored.fence.content.as_str();
    let stored_lines = || {
        content
            .split_terminator('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
    };
    if stored_lines().eq(lines.iter()) {
        return true;
    }
    if !stored_lines().any(crate::pattern::is_pattern_line) {
        return false;
    }
    let stored: Vec<&str> = stored_lines().collect();
    let new_lines: Vec<&str> = lines.iter().collect();
    crate::pattern::matches(&stored, &new_lines)
}

/// Result blocks that belong to no code block: not directly after a code
/// block of their lpid in its container (the session was renamed, its code
/// block deleted or moved, prose inserted between). They are out of date by
/// definition. Only those whose lines hold nothing but the block (no list
/// marker on the fence line) can be removed without touching other text;
/// the others are left, see [`removable`].
pub fn stale_results(doc: &Document) -> Vec<usize> {
    let mut owned = vec![false; doc.blocks.len()];
    for (b, block) in doc.blocks.iter().enumerate() {
        if block.role != Role::Code || block.lpid.is_none() {
            continue;
        }
        let mut last = b;
        while owned_after(doc, b, last, last + 1) {
            last += 1;
            owned[last] = true;
        }
    }
    doc.blocks
        .iter()
        .enumerate()
        .filter(|&(r, block)| matches!(block.role, Role::Result { .. }) && !owned[r])
        .map(|(r, _)| r)
        .collect()
}

/// Can stale result block `r` be removed without removing other text: is
/// what precedes its fence on the line only a container's continuation
/// (spaces and `>`), not a list marker that opens an item?
pub fn removable(doc: &Document, r: usize) -> bool {
    let fence = &doc.blocks[r].fence;
    doc.text[fence.span.start..fence.opener.start]
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'>'))
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

    #[test]
    fn plain_lpids_are_written_as_the_shell_quoting_would() {
        for lpid in ["s", "demo.part-2", "a/b:c", "x_1+2,3@4%5", "0", "-", "."] {
            assert_eq!(quote_lpid(lpid), lpid);
            assert_eq!(quote_lpid_shell(lpid), lpid, "{lpid}");
        }
        assert_eq!(quote_lpid("a b"), quote_lpid_shell("a b"));
        assert_eq!(quote_lpid("a&b"), "a\\&b");
    }
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
    fn fences_in_output_get_a_longer_fence() {
        let out = render("a", &["```", " ````x"].iter().collect(), "", "\n");
        assert!(out.starts_with("`````text lpout=a\n"), "{out}");
        assert!(out.ends_with("\n`````\n"));
    }

    #[test]
    fn fence_run_counts_like_trim_start_and_chars() {
        // The definition the byte scan replaces.
        fn naive(line: &str, ch: char) -> usize {
            line.trim_start().chars().take_while(|&c| c == ch).count()
        }
        let lines = [
            "",
            "```",
            "   ```x",
            "\t``",
            "\u{b}\u{c}```",
            "\u{a0}````",
            "\u{2003} ``",
            "\u{85}~~~",
            "\u{1c}```",
            "x```",
            "~~~``",
            "  ~~~~",
            "é```",
            "`é",
            " \u{3000}\t`",
        ];
        for line in lines {
            for ch in ['`', '~'] {
                assert_eq!(fence_run(line, ch as u8), naive(line, ch), "{line:?} {ch}");
            }
        }
        let out = render("a", &["\u{a0}````", "\t```"].iter().collect(), "", "\n");
        assert!(out.starts_with("`````text lpout=a\n"), "{out}");
        let out = render("a`b", &["~~~~", "```````"].iter().collect(), "  ", "\n");
        assert!(out.starts_with("  ~~~~~text lpout="), "{out}");
        assert!(out.ends_with("\n  ~~~~~\n"), "{out}");
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
    fn gap_lines_are_blank_in_the_container() {
        assert!(is_gap("", ""));
        assert!(is_gap("\n \t\n\r\n", ""));
        assert!(is_gap(">\n> \r\n", "> "));
        assert!(is_gap("  >\n", ">   "));
        assert!(is_gap("\r", ""));
        for (gap, indent) in [
            ("\u{a0}\n", ""),
            ("\u{2003}\n", ""),
            ("\u{b}\n", ""),
            ("\u{c}\n", ""),
            (">\n", ""),
            ("\n", "> "),
            (">\n", "> > "),
            ("> >\n", "> "),
        ] {
            assert!(!is_gap(gap, indent), "{gap:?} in {indent:?}");
        }
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
