//! The Markdown walker: the only user of pulldown-cmark.
//!
//! It turns a document's text into the list of its fenced code blocks, each
//! with its byte span, 1-based line number, info string, language and content.
//! It knows nothing about litprog's options; [`crate::document`] interprets
//! the blocks. Indented code blocks are not literate blocks and are skipped.

use std::ops::Range;

use memchr::memmem;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// One fenced code block, as found in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Bytes of the whole block: from the start of the opening fence's line
    /// (container prefixes such as `> ` included) to the end of the closing
    /// fence's line, line ending included.
    pub span: Range<usize>,
    /// Bytes of the opening fence's run of backticks or tildes (what comes
    /// before it on its line is the container prefix).
    pub opener: Range<usize>,
    /// 1-based line number of the opening fence.
    pub line: usize,
    /// The info string after the opening fence, trimmed.
    pub info: String,
    /// The first word of the info string (may be empty).
    pub lang: String,
    /// The block's content with container prefixes removed and the
    /// document's own line endings kept.
    pub content: String,
    /// The prefix to put before each line of a block inserted after this
    /// one so that it lands in the same container (`> ` in a block quote,
    /// spaces in a list item).
    pub indent: String,
    /// Whether the block has a closing fence (an unclosed block runs to the
    /// end of its container).
    pub closed: bool,
}

/// Line numbers and line starts of byte offsets in a text. Lines end as in
/// CommonMark: at `\n`, `\r\n`, or a bare `\r`.
///
/// Nothing is computed up front: a line number is counted from the last
/// offset asked about, and fences are asked about in document order, so a
/// text is counted about once (a vectorised count, not a table of every
/// line start).
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    bytes: &'a [u8],
    /// Whether the text has a `\r` at all; without one, `\n` ends lines.
    has_cr: bool,
    /// An offset and the line number there.
    at: usize,
    line: usize,
}

impl<'a> LineIndex<'a> {
    /// A line index of `text`.
    pub fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        LineIndex {
            bytes,
            has_cr: memchr::memchr(b'\r', bytes).is_some(),
            at: 0,
            line: 1,
        }
    }

    /// The number of line endings that end in `range` (see
    /// [`is_line_end`]).
    fn ends_in(&self, range: Range<usize>) -> usize {
        let part = &self.bytes[range.clone()];
        // memchr counts with vector instructions, several times fewer a
        // byte than `filter().count()` (docs/performance.md).
        let lf = memchr::memchr_iter(b'\n', part).count();
        if !self.has_cr {
            return lf;
        }
        lf + memchr::memchr_iter(b'\r', part)
            .filter(|&i| is_line_end(self.bytes, range.start + i))
            .count()
    }

    /// The 1-based line number of byte `offset`.
    pub fn line_of(&mut self, offset: usize) -> usize {
        if offset >= self.at {
            self.line += self.ends_in(self.at..offset);
        } else {
            self.line -= self.ends_in(offset..self.at);
        }
        self.at = offset;
        self.line
    }

    /// Byte offset where the line holding `offset` starts.
    pub fn line_start(&self, offset: usize) -> usize {
        let mut end = offset;
        while let Some(i) = memchr::memrchr2(b'\n', b'\r', &self.bytes[..end]) {
            if is_line_end(self.bytes, i) {
                return i + 1;
            }
            end = i;
        }
        0
    }
}

/// Is byte `i` the last byte of a line ending (`\n`, or a `\r` not
/// followed by `\n`)?
fn is_line_end(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b'\n' => true,
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    }
}

/// Byte offset just past the line ending at or after `offset`.
fn end_of_line(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    (offset..bytes.len())
        .find(|&i| is_line_end(bytes, i))
        .map_or(text.len(), |i| i + 1)
}

/// The container prefix of a line, turned into the prefix for new lines:
/// block quote markers are kept, list markers become spaces.
fn continuation_indent(prefix: &str) -> String {
    prefix
        .chars()
        .map(|c| match c {
            '>' | ' ' | '\t' => c,
            _ => ' ',
        })
        .collect()
}

/// Find every fenced code block of `text`, in document order.
///
/// Only the chunks of the text that can hold a fence are parsed: a chunk
/// starts at an unindented line after an empty line, where the block
/// parser is at the top level unless a fence or an HTML block runs
/// through, and only chunks holding ```` ``` ````, `~~~` or `<` can start
/// one. The result is always that of [`fences_in_one_parse`].
pub fn fences(text: &str) -> Vec<Fence> {
    let mut index = LineIndex::new(text);
    let mut out = Vec::new();
    let regions = Regions::new(text, index.has_cr);
    let mut chunk = 0;
    while let Some(first) = regions.next_dirty(chunk) {
        // A region of whole chunks from the first dirty one. If a fence or
        // an HTML block is still open where it ends, the real document
        // carries it on: parse again up to the end of the next dirty chunk
        // (where a closing fence can be), and after a few tries to the end.
        let mut last = regions.dirty_run_end(first);
        let mut tries = 0;
        loop {
            let range = regions.start(first)..regions.start(last);
            let found = out.len();
            if !parse_region(text, &mut index, range, &mut out) || last == regions.len() {
                break;
            }
            out.truncate(found);
            tries += 1;
            last = match regions.next_dirty(last) {
                Some(next) if tries < 4 => regions.dirty_run_end(next),
                _ => regions.len(),
            };
        }
        chunk = last;
    }
    out
}

/// [`fences`] by one pulldown-cmark parse of the whole text: the reference
/// that [`fences`] must equal on every input (the tests and the fuzz target
/// compare them).
pub fn fences_in_one_parse(text: &str) -> Vec<Fence> {
    let mut index = LineIndex::new(text);
    let mut out = Vec::new();
    parse_region(text, &mut index, 0..text.len(), &mut out);
    out
}

/// A document cut into chunks at the lines where the block parser is at
/// the top level with nothing open, unless a fenced code block or an HTML
/// block of kinds 1 to 5 (`<!--`, `<script>`, ...) runs through: the
/// unindented lines that follow an empty line (`\n\n`, or `\n\r\n`). The
/// empty line ended every paragraph, block quote and table; an unindented
/// line does not continue a list item, a footnote definition or an
/// indented code block, and cannot be a lazy continuation line with no
/// paragraph open. (It may start a new item of a list that is still open,
/// which changes only the list's looseness, never which blocks are fences.)
///
/// A chunk is *dirty* if it holds ```` ``` ````, `~~~` or `<`: only there
/// can a fence or an HTML block begin. Clean chunks are never parsed. A run
/// of chunks that starts where the parser is at the top level, parsed
/// alone, gives the blocks it gives inside the whole text, since CommonMark
/// reads block structure line by line and nothing looks ahead past a blank
/// line; [`parse_region`] reports a fence or HTML block left open at the
/// end, and [`fences`] then parses further.
struct Regions {
    /// Chunk `i` is `starts[i]..starts[i + 1]`; the last entry is the
    /// text's length.
    starts: Vec<usize>,
    /// Whether each chunk is dirty.
    dirty: Vec<bool>,
}

impl Regions {
    /// `has_cr`: whether the text holds a `\r` at all.
    fn new(text: &str, has_cr: bool) -> Regions {
        let bytes = text.as_bytes();
        // Blank lines are found as `\n\n` and `\n\r\n`: a blank line of
        // spaces or tabs is missed, which only makes its chunk longer.
        let unindented = |at: usize| {
            bytes
                .get(at)
                .is_some_and(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        };
        let mut starts = vec![0];
        starts.extend(
            memmem::find_iter(bytes, b"\n\n")
                .map(|i| i + 2)
                .filter(|&i| unindented(i)),
        );
        if has_cr {
            starts.extend(
                memmem::find_iter(bytes, b"\n\r\n")
                    .map(|i| i + 3)
                    .filter(|&i| unindented(i)),
            );
            starts.sort_unstable();
        }
        // No two starts coincide, and each is inside the text.
        starts.push(bytes.len());
        let mut dirty = vec![false; starts.len() - 1];
        // Each list of positions is in order: walk the chunks along it.
        let mut mark = |positions: &mut dyn Iterator<Item = usize>| {
            let mut chunk = 0;
            for pos in positions {
                while starts[chunk + 1] <= pos {
                    chunk += 1;
                }
                dirty[chunk] = true;
            }
        };
        mark(&mut memmem::find_iter(bytes, b"```"));
        mark(&mut memmem::find_iter(bytes, b"~~~"));
        mark(&mut memchr::memchr_iter(b'<', bytes));
        Regions { starts, dirty }
    }

    /// The number of chunks.
    fn len(&self) -> usize {
        self.dirty.len()
    }

    /// Where chunk `i` starts (`len()` gives the end of the text).
    fn start(&self, i: usize) -> usize {
        self.starts[i]
    }

    /// The first dirty chunk from `i` on.
    fn next_dirty(&self, i: usize) -> Option<usize> {
        (i..self.len()).find(|&c| self.dirty[c])
    }

    /// The chunk after the run of dirty chunks that starts at `i`. Clean
    /// chunks of fewer than [`GAP`] bytes in all between dirty ones are
    /// part of the run: parsing them costs less than starting a parser.
    fn dirty_run_end(&self, i: usize) -> usize {
        let mut end = i;
        for c in i..self.len() {
            if self.dirty[c] {
                end = c + 1;
            } else if self.start(c + 1) - self.start(end) >= GAP {
                break;
            }
        }
        end
    }
}

/// Starting a pulldown-cmark parser costs as much as parsing a few hundred
/// bytes of prose (docs/performance.md has the figure): shorter gaps
/// between dirty chunks are parsed with them.
const GAP: usize = 256;

/// Parses `text[range]` on its own and appends its fenced code blocks, with
/// spans in `text`. Returns whether a fenced code block or an HTML block
/// reaches into the range's last line (is still open where the range ends).
fn parse_region(
    text: &str,
    index: &mut LineIndex,
    range: Range<usize>,
    out: &mut Vec<Fence>,
) -> bool {
    let base = range.start;
    let region = &text[range.clone()];
    // The last line of the region starts after the `\n` before its end.
    let bytes = region.as_bytes();
    let last_line =
        memchr::memrchr(b'\n', &bytes[..bytes.len().saturating_sub(1)]).map_or(0, |i| i + 1);
    let mut open = false;
    // (start, info, content, end of the last content line read)
    let mut current: Option<(usize, String, String, usize)> = None;
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(region, options).into_offset_iter() {
        let range = range.start + base..range.end + base;
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some((range.start, info.trim().to_string(), String::new(), 0));
            }
            Event::End(TagEnd::HtmlBlock) => open |= range.end > base + last_line,
            Event::Text(t) => {
                if let Some((_, _, content, content_end)) = current.as_mut() {
                    // pulldown-cmark normalises CRLF to LF and splits text
                    // events at the carriage return; put it back so the
                    // content keeps the document's own bytes.
                    if t.starts_with('\n')
                        && range.start > 0
                        && text.as_bytes()[range.start - 1] == b'\r'
                    {
                        content.push('\r');
                    }
                    content.push_str(&t);
                    *content_end = range.end;
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some((start, info, content, content_end)) = current.take() else {
                    continue;
                };
                open |= range.end > base + last_line;
                out.push(fence(
                    text,
                    index,
                    start,
                    range.end,
                    info,
                    content,
                    content_end,
                ));
            }
            _ => {}
        }
    }
    open
}

/// The [`Fence`] of a fenced code block whose parsed range is
/// `start..end`.
fn fence(
    text: &str,
    index: &mut LineIndex,
    start: usize,
    end: usize,
    info: String,
    content: String,
    content_end: usize,
) -> Fence {
    let line_start = index.line_start(start);
    let prefix = &text[line_start..start];
    let fence_char = text.as_bytes()[start];
    let fence_len = text[start..]
        .bytes()
        .take_while(|&b| b == fence_char)
        .count();
    // The block's range ends after its closing fence (or at the end of its
    // container); include that line's ending. The last line is a closing
    // fence only if it is not content: `> ```` or an indented ```` ``` ````
    // that looks like one is content when the block is not in a quote or is
    // unclosed.
    let last_start = index.line_start(end.max(start + 1) - 1);
    let last = text[last_start..end].trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    let closing = last.bytes().take_while(|&b| b == fence_char).count();
    let closed = end > end_of_line(text, start)
        && content_end <= last_start
        && closing >= fence_len
        && last[closing..].trim().is_empty();
    let end = if closed {
        end_of_line(text, end - 1)
    } else {
        end
    };
    // A first word with `=` is an attribute of a block without a language
    // (```` ``` lpid=x ````), not a language.
    let lang = info
        .split_whitespace()
        .next()
        .filter(|w| !w.contains('='))
        .unwrap_or("")
        .to_string();
    Fence {
        span: line_start..end,
        opener: start..start + fence_len,
        line: index.line_of(start),
        info,
        lang,
        content,
        indent: continuation_indent(prefix),
        closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Fence {
        let f = fences(text);
        assert_eq!(f.len(), 1, "{f:?}");
        f.into_iter().next().unwrap()
    }

    #[test]
    fn backtick_fence_with_span_line_and_content() {
        let text = "# T\n\n```python lpid=x\nprint(1)\n```\nafter\n";
        let f = one(text);
        assert_eq!(f.line, 3);
        assert_eq!(f.lang, "python");
        assert_eq!(f.info, "python lpid=x");
        assert_eq!(f.content, "print(1)\n");
        assert_eq!(&text[f.span.clone()], "```python lpid=x\nprint(1)\n```\n");
        assert_eq!(f.opener, 5..8);
        assert!(f.closed);
        assert_eq!(f.indent, "");
    }

    #[test]
    fn tilde_and_long_fences() {
        let text = "~~~~ sh\n```\nnot a fence end\n```\n~~~~\n";
        let f = one(text);
        assert_eq!(f.lang, "sh");
        assert_eq!(f.opener, 0..4);
        assert_eq!(f.content, "```\nnot a fence end\n```\n");
        assert_eq!(f.span, 0..text.len());
    }

    #[test]
    fn crlf_content_keeps_carriage_returns() {
        let text = "```bash\r\necho a\r\necho b\r\n```\r\nx\r\n";
        let f = one(text);
        assert_eq!(f.content, "echo a\r\necho b\r\n");
        assert_eq!(
            &text[f.span.clone()],
            "```bash\r\necho a\r\necho b\r\n```\r\n"
        );
    }

    #[test]
    fn block_quote_and_list_containers() {
        let text = "> ```bash\n> echo a\n> ```\n\n- item\n\n  ```sh\n  ls\n  ```\n";
        let f = fences(text);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].content, "echo a\n");
        assert_eq!(f[0].indent, "> ");
        assert_eq!(&text[f[0].opener.clone()], "```");
        assert_eq!(&text[f[1].span.start..f[1].opener.start], "  ");
        assert_eq!(f[0].line, 1);
        assert_eq!(&text[f[0].span.clone()], "> ```bash\n> echo a\n> ```\n");
        assert_eq!(f[1].content, "ls\n");
        assert_eq!(f[1].indent, "  ");
        assert_eq!(f[1].line, 7);
    }

    #[test]
    fn attribute_without_a_language_is_not_a_language() {
        let f = one("``` lpid=x\ny\n```\n");
        assert_eq!(f.lang, "");
        assert_eq!(f.info, "lpid=x");
    }

    #[test]
    fn fence_like_content_on_the_last_line_does_not_close_a_fence() {
        // Both blocks run to the end of the file: a closing fence may not
        // be indented four spaces, and `>` is not a container here. They
        // were taken as closed, so a result block was inserted inside the
        // unclosed block instead of an error being reported.
        for text in ["```sh\necho\n    ```\n", "```sh\necho\n> ```\n"] {
            let f = one(text);
            assert!(!f.closed, "{text:?}");
            assert_eq!(f.span, 0..text.len());
            assert_eq!(f.content, text.split_once('\n').unwrap().1);
        }
        assert!(one("> ```sh\n> echo\n> ```\n").closed);
        assert!(one("- ```sh\n  echo\n  ```").closed);
    }

    #[test]
    fn indented_code_is_not_a_fence() {
        assert!(fences("para\n\n    indented\n    code\n").is_empty());
    }

    #[test]
    fn unclosed_fence_runs_to_the_end() {
        let text = "```python\nprint(1)\n";
        let f = one(text);
        assert!(!f.closed);
        assert_eq!(f.content, "print(1)\n");
        assert_eq!(f.span, 0..text.len());
    }

    #[test]
    fn empty_block_and_no_trailing_newline() {
        let f = one("```\n```");
        assert_eq!(f.content, "");
        assert!(f.closed);
        assert_eq!(f.span, 0..7);
    }

    #[test]
    fn fence_after_a_bare_carriage_return_has_no_prefix() {
        // Markdown reads a bare `\r` as a line ending; the line index did
        // not, so a fence after one took the previous line for its
        // container prefix, and its result block was written indented as
        // code. Found by the fuzz target.
        let text = "para\r```sh lpid=a\necho\n```\n";
        let f = one(text);
        assert_eq!(f.indent, "");
        assert_eq!(f.line, 2);
        assert_eq!(f.span, 5..text.len());
        let mut idx = LineIndex::new("a\rb\r\nc\n");
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(5), 3);
        assert_eq!(end_of_line("a\rb", 0), 2);
        assert_eq!(end_of_line("a\r\nb", 0), 3);
    }

    #[test]
    fn line_index() {
        let mut idx = LineIndex::new("a\nb\n\nc");
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(4), 3);
        assert_eq!(idx.line_of(5), 4);
        assert_eq!(idx.line_start(6), 5);
        // Backwards, and line starts anywhere in a line.
        assert_eq!(idx.line_of(1), 1);
        assert_eq!(idx.line_of(6), 4);
        assert_eq!(idx.line_of(3), 2);
        assert_eq!(idx.line_start(3), 2);
        assert_eq!(idx.line_start(1), 0);
        let crlf = LineIndex::new("a\r\nb\rc");
        assert_eq!(crlf.line_start(2), 0);
        assert_eq!(crlf.line_start(3), 3);
        assert_eq!(crlf.line_start(5), 5);
    }

    #[test]
    fn chunks_start_at_unindented_lines_after_blank_lines_and_only_dirty_ones_are_parsed() {
        let text = "# T\n\nprose *a*\nmore\n\n- item\n  ```\n\n  still\n\n| a |\n\n<b>x</b>\n";
        let regions = Regions::new(text, false);
        let starts: Vec<&str> = (0..regions.len())
            .map(|i| text[regions.start(i)..].lines().next().unwrap())
            .collect();
        assert_eq!(starts, ["# T", "prose *a*", "- item", "| a |", "<b>x</b>"]);
        assert_eq!(regions.dirty, [false, false, true, false, true]);
        assert_eq!(regions.start(regions.len()), text.len());
    }

    #[test]
    fn a_fence_or_html_block_open_across_chunks_is_parsed_to_its_end() {
        let cases = [
            // A fence whose code has a blank line and then unindented text.
            "```python\nimport os\n\ndef f():\n    pass\n\nf()\n```\n\nafter\n",
            // A comment across blank lines hides a fence.
            "<!--\n\ntext\n\n```bash lpid=x\necho\n```\n-->\n\nprose\n\n```\nseen\n```\n",
            // Never closed: runs to the end past many chunks.
            "````\n\na\n\n```\n\nb\n\n```\n\nc\n",
            // In a list item, ended by the unindented line.
            "- ```\n  x\n\ny\n\n```\nz\n```\n",
        ];
        for text in cases {
            assert_eq!(fences(text), fences_in_one_parse(text), "{text:?}");
        }
        assert_eq!(
            fences(cases[0])[0].content,
            "import os\n\ndef f():\n    pass\n\nf()\n"
        );
        assert_eq!(fences(cases[1]).len(), 1);
        assert!(!fences(cases[2])[0].closed);
    }
}
