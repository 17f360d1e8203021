//! The Markdown walker: the only user of pulldown-cmark.
//!
//! It turns a document's text into the list of its fenced code blocks, each
//! with its byte span, 1-based line number, info string, language and content.
//! It knows nothing about litprog's options; [`crate::document`] interprets
//! the blocks. Indented code blocks are not literate blocks and are skipped.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// One fenced code block, as found in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Bytes of the whole block: from the start of the opening fence's line
    /// (container prefixes such as `> ` included) to the end of the closing
    /// fence's line, line ending included.
    pub span: Range<usize>,
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

/// Precomputed line starts, for byte offset to line number lookups.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Index the line starts of `text`. Lines end as in CommonMark: at
    /// `\n`, `\r\n`, or a bare `\r`.
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        starts.extend(
            memchr::memchr2_iter(b'\n', b'\r', bytes)
                .filter(|&i| is_line_end(bytes, i))
                .map(|i| i + 1),
        );
        LineIndex { starts }
    }

    /// The 1-based line number of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// Byte offset where the line holding `offset` starts.
    pub fn line_start(&self, offset: usize) -> usize {
        self.starts[self.line_of(offset) - 1]
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
pub fn fences(text: &str) -> Vec<Fence> {
    let index = LineIndex::new(text);
    let mut out = Vec::new();
    // (start, info, content, end of the last content line read)
    let mut current: Option<(usize, String, String, usize)> = None;
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some((range.start, info.trim().to_string(), String::new(), 0));
            }
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
                let line_start = index.line_start(start);
                let prefix = &text[line_start..start];
                let fence_char = text.as_bytes()[start];
                let fence_len = text[start..]
                    .bytes()
                    .take_while(|&b| b == fence_char)
                    .count();
                // The block's range ends after its closing fence (or at the
                // end of its container); include that line's ending. The
                // last line is a closing fence only if it is not content:
                // `> ```` or an indented ```` ``` ```` that looks like one
                // is content when the block is not in a quote or is
                // unclosed.
                let last_start = index.line_start(range.end.max(start + 1) - 1);
                let last = text[last_start..range.end]
                    .trim_start_matches(|c: char| c == '>' || c.is_whitespace());
                let closing = last.bytes().take_while(|&b| b == fence_char).count();
                let closed = range.end > end_of_line(text, start)
                    && content_end <= last_start
                    && closing >= fence_len
                    && last[closing..].trim().is_empty();
                let end = if closed {
                    end_of_line(text, range.end - 1)
                } else {
                    range.end
                };
                // A first word with `=` is an attribute of a block without
                // a language (```` ``` lpid=x ````), not a language.
                let lang = info
                    .split_whitespace()
                    .next()
                    .filter(|w| !w.contains('='))
                    .unwrap_or("")
                    .to_string();
                out.push(Fence {
                    span: line_start..end,
                    line: index.line_of(start),
                    info,
                    lang,
                    content,
                    indent: continuation_indent(prefix),
                    closed,
                });
            }
            _ => {}
        }
    }
    out
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
        assert!(f.closed);
        assert_eq!(f.indent, "");
    }

    #[test]
    fn tilde_and_long_fences() {
        let text = "~~~~ sh\n```\nnot a fence end\n```\n~~~~\n";
        let f = one(text);
        assert_eq!(f.lang, "sh");
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
        let idx = LineIndex::new("a\rb\r\nc\n");
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(5), 3);
        assert_eq!(end_of_line("a\rb", 0), 2);
        assert_eq!(end_of_line("a\r\nb", 0), 3);
    }

    #[test]
    fn line_index() {
        let idx = LineIndex::new("a\nb\n\nc");
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.line_of(2), 2);
        assert_eq!(idx.line_of(4), 3);
        assert_eq!(idx.line_of(5), 4);
        assert_eq!(idx.line_start(6), 5);
    }
}
