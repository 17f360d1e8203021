//! The result-block format, end to end: what a session's outcome puts in
//! its result blocks, how a result block is written, how a stored one is
//! read back, and which result blocks belong to which code block.
//!
//! The runner hands over outcomes ([`Run`]); this module makes their lines
//! (ANSI escapes removed, carriage returns applied, stderr prefixed, the
//! status line, redactions) and places them under code blocks
//! ([`placements`]). It renders a block with a fence no line can close
//! ([`render`]), reads a stored block back as a pattern for new lines, and
//! recognises the result blocks a code block owns ([`existing_result`]) and
//! those no code block owns ([`stale_results`]). Which fenced blocks are
//! result blocks at all (the `lpout` attribute, [`RESULT_ATTR`]) is decided
//! when a document is parsed ([`crate::document`]); splicing the rendered
//! blocks into the text is [`crate::writeback`]'s.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;

pub use crate::document::RESULT_ATTR;
use crate::document::{Block, BlockRef, Document, Group, Role};
pub use crate::lines::Lines;
use crate::options::{OutputMode, SessionSpec, StatusMode};
use crate::redact::{Places, Redactor};
use crate::runner::Run;
use crate::session::{BlockCapture, Line, Outcome, Stream};

// ---------------------------------------------------------------- lines from outcomes

/// Remove ANSI escape sequences (CSI, OSC and two-byte escapes). Text
/// without an escape is returned as it is, without a copy.
///
/// Hand-written rather than the `strip-ansi-escapes` crate (over `vte`),
/// which was tried on these tests: it also drops every control character
/// but `\n`, so a tab, or the carriage return that [`overstrike`] applies
/// afterwards (progress bars), would vanish from results, and it copies
/// every line, escapes or not. `vte` alone, with a performer that kept
/// control characters, would still read `ESC ( B` as one sequence (this
/// keeps the `B`), changing stored results, for more code than this.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if memchr::memchr(0x1b, s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // CSI: parameters and intermediates, then one final byte.
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: ends with BEL or ESC \.
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// Captured lines as result block lines: stdout (and echoed input) as
/// printed, stderr (only separate from stdout with `stderr: separate`)
/// prefixed with `! `, ANSI escapes removed, and a line rewritten with
/// carriage returns shown in its final state, as a terminal shows it.
pub fn result_lines<'a>(lines: impl IntoIterator<Item = Line<'a>>) -> Lines {
    let mut out = Lines::new();
    let mut prefixed = String::new();
    for l in lines {
        let text = l.text.strip_suffix('\n').unwrap_or(l.text);
        let text = strip_ansi(text);
        let text = overstrike(&text);
        match l.stream {
            Stream::Stderr => {
                prefixed.clear();
                prefixed.push_str("! ");
                prefixed.push_str(&text);
                out.push(&prefixed);
            }
            Stream::Stdout | Stream::Stdin => out.push(&text),
        }
    }
    out
}

/// A line as a terminal leaves it: each carriage return goes back to the
/// start of the line, and what follows overwrites what was there.
pub fn overstrike(line: &str) -> Cow<'_, str> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if memchr::memchr(b'\r', line.as_bytes()).is_none() {
        return Cow::Borrowed(line);
    }
    let mut screen: Vec<char> = Vec::new();
    let mut col = 0;
    for c in line.chars() {
        if c == '\r' {
            col = 0;
            continue;
        }
        if col < screen.len() {
            screen[col] = c;
        } else {
            screen.push(c);
        }
        col += 1;
    }
    Cow::Owned(screen.into_iter().collect())
}

/// The last line of a session's result: `# exit: 0`, `# timed out after
/// 10 s`, `# killed by SIGSEGV`.
pub fn status_line(run: &Run) -> String {
    match run {
        Run::Finished(c) if c.input_consumed_by.is_some() => {
            "# error: this block read input meant for the blocks after it".to_string()
        }
        Run::Finished(c) => match &c.outcome {
            Outcome::Exited(n) => format!("# exit: {n}"),
            other => format!("# {other}"),
        },
        Run::StartFailed(e) => format!("# could not start: {e}"),
        Run::Unavailable(why) => format!("# not run: {why}"),
        Run::Skipped(why) => format!("# not run: {why}"),
        Run::Crashed(why) => format!("# internal error: {why}"),
        Run::Cached(c) => format!("# {}", c.outcome),
    }
}

/// The `# output truncated` line of a block that went over the output limit.
fn truncation_line(block: &BlockCapture) -> Option<String> {
    (block.dropped_bytes > 0)
        .then(|| format!("# output truncated: {} bytes dropped", block.dropped_bytes))
}

/// The blocks of a finished session whose output went over the limit, with
/// the bytes dropped, for the console's warnings.
pub fn truncated_blocks(group: &Group, run: &Run) -> Vec<(BlockRef, u64)> {
    let Run::Finished(c) = run else {
        return Vec::new();
    };
    let last = group.blocks.len().saturating_sub(1);
    c.blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.dropped_bytes > 0)
        .filter_map(|(i, b)| {
            let at = if c.per_block { i } else { last };
            group.blocks.get(at).map(|&r| (r, b.dropped_bytes))
        })
        .collect()
}

/// Where the result blocks of a session go: for each of its code blocks,
/// the lines of its result block (`None`: no result block).
///
/// With `output: block`, each block that printed gets its own lines, the
/// block over the output limit a `# output truncated` line, and the status
/// line goes under the block that was running when the session ended (the
/// one that read the input of later blocks, if any); blocks that never ran
/// get nothing.
///
/// Every line is redacted (`[ROOT]`, `[TMP]`, ..., and the `redact` option) with the places of a
/// project rooted at `root`, and the status line is written as the
/// session's `status` option says.
pub fn placements(
    group: &Group,
    spec: &SessionSpec,
    run: &Run,
    root: &Path,
) -> Vec<(BlockRef, Option<Lines>)> {
    placements_redacted(group, spec, run, || redactor(spec, root))
}

/// [`placements`], redacted by what `redactor` makes (called only where
/// there is output to redact). Making a redactor reads the file system (the
/// real paths of the places), so a build makes each session's once and
/// hands it to every call.
pub(crate) fn placements_redacted<R: std::borrow::Borrow<Redactor>>(
    group: &Group,
    spec: &SessionSpec,
    run: &Run,
    redactor: impl FnOnce() -> R,
) -> Vec<(BlockRef, Option<Lines>)> {
    let mut placed = placements_unredacted(group, spec, run);
    if let Run::Cached(_) = run {
        // Stored already redacted.
        return placed;
    }
    let redactor = redactor();
    let redactor = redactor.borrow();
    if !redactor.is_empty() {
        for lines in placed.iter_mut().filter_map(|(_, l)| l.as_mut()) {
            if lines
                .iter()
                .any(|line| matches!(redactor.apply(line), Cow::Owned(_)))
            {
                *lines = lines.iter().map(|line| redactor.apply(line)).collect();
            }
        }
    }
    placed
}

/// The redactions of a session of a project rooted at `root`: the
/// built-in places (unless `redact_builtin: false`), then its `redact`
/// expressions in placeholder order.
pub(crate) fn redactor(spec: &SessionSpec, root: &Path) -> Redactor {
    let mut redactor = if spec.redact_builtin {
        let cwd = match &spec.cwd {
            Some(dir) => root.join(dir),
            None => root.to_path_buf(),
        };
        Redactor::builtin(&Places::of_this_machine(root, &cwd))
    } else {
        Redactor::none()
    };
    for (placeholder, pattern) in &spec.redact {
        // Checked when the options were read.
        if let Ok(re) = crate::redact::compile(pattern) {
            redactor = redactor.with_pattern(placeholder, re);
        }
    }
    redactor
}

fn placements_unredacted(
    group: &Group,
    spec: &SessionSpec,
    run: &Run,
) -> Vec<(BlockRef, Option<Lines>)> {
    let n = group.blocks.len();
    if let Run::Cached(c) = run {
        // Stored for this very session (the key covers its blocks).
        return group.blocks.iter().copied().zip(c.lines.clone()).collect();
    }
    let mut per_block: Vec<Option<Lines>> = vec![None; n];
    // A block's own `output` wins over the session's.
    let shown: Vec<bool> = (0..n)
        .map(|i| {
            group
                .block_output
                .get(i)
                .copied()
                .flatten()
                .unwrap_or(spec.output)
                != OutputMode::None
        })
        .collect();
    if !shown.contains(&true) {
        return group.blocks.iter().map(|&r| (r, None)).collect();
    }
    let shown_at = |upto: usize| (0..=upto).rev().find(|&i| shown[i]);
    let mut status_at = n - 1;
    if let Run::Finished(c) = run {
        let with_tail = |b: &BlockCapture| {
            let mut lines = result_lines(b.lines());
            if let Some(line) = truncation_line(b) {
                lines.push(&line);
            }
            lines
        };
        match (c.per_block, spec.output) {
            (true, OutputMode::Block | OutputMode::None) => {
                for (i, b) in c.blocks.iter().enumerate().take(n) {
                    let lines = with_tail(b);
                    if shown[i] && !lines.is_empty() {
                        per_block[i] = Some(lines);
                    }
                }
                status_at = c
                    .input_consumed_by
                    .unwrap_or_else(|| c.ran().max(1) - 1)
                    .min(n - 1);
            }
            // Blocks keep their exact order.
            _ => {
                let mut lines = Lines::new();
                for (_, b) in c
                    .blocks
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| !c.per_block || shown.get(i) != Some(&false))
                {
                    lines.extend(with_tail(b).iter());
                }
                if let Some(at) = shown_at(n - 1) {
                    per_block[at] = Some(lines);
                }
            }
        }
    }
    let plain_success = matches!(run, Run::Finished(c) if c.outcome == Outcome::Exited(0));
    let with_status = match spec.status {
        StatusMode::Always => true,
        StatusMode::Nonzero => !plain_success,
        StatusMode::Never => false,
    };
    // The status line goes under the block that was running when the
    // session ended, or the nearest shown block before it.
    let at = shown_at(status_at).or_else(|| shown.iter().position(|&s| s));
    if with_status && let Some(at) = at {
        per_block[at]
            .get_or_insert_with(Lines::new)
            .push(&status_line(run));
    }
    group.blocks.iter().copied().zip(per_block).collect()
}

// ---------------------------------------------------------------- rendering

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
pub(crate) fn written_lines(lines: &Lines) -> Cow<'_, Lines> {
    let needs_work = |line: &str| {
        memchr::memchr3(b'\0', b'\r', b'\n', line.as_bytes()).is_some()
            || line.ends_with([' ', '\t'])
    };
    if !lines.iter().any(needs_work) {
        return Cow::Borrowed(lines);
    }
    // Rarely larger than the lines as they are (a NUL grows by 2 bytes).
    let mut out = Lines::with_capacity(lines.as_text().len());
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
pub(crate) fn render_lines(
    lpid: &str,
    info: Option<&str>,
    lines: &Lines,
    indent: &str,
    eol: &str,
) -> String {
    let info = match info {
        Some(info) => info.to_string(),
        None => new_info(lpid),
    };
    let fence = fence_for(lines, &info);
    let bare = indent.trim_end();
    let size = lines.as_text().len() - lines.len()
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
pub(crate) fn quote_lpid(lpid: &str) -> String {
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

// ---------------------------------------------------------------- reading a stored block

/// The info string of `block` as written in `text` (the parser's copy has
/// its backslash escapes resolved), trimmed.
pub(crate) fn raw_info<'t>(text: &'t str, block: &Block) -> &'t str {
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
pub(crate) fn stored_matches(stored: &Block, lines: &Lines) -> bool {
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

// ---------------------------------------------------------------- recognising

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
pub(crate) fn owned_span(doc: &Document, b: usize) -> Option<Range<usize>> {
    let first = existing_result(doc, b)?;
    let mut last = first;
    while owned_after(doc, b, last, last + 1) {
        last += 1;
    }
    Some(doc.blocks[first].fence.span.start..doc.blocks[last].fence.span.end)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Capture;
    use std::time::Duration;

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}x"), "x");
        assert_eq!(strip_ansi("no escapes"), "no escapes");
        assert!(matches!(
            strip_ansi("no escapes"),
            Cow::Borrowed("no escapes")
        ));
        assert!(matches!(strip_ansi(""), Cow::Borrowed("")));
        assert_eq!(strip_ansi("a\u{1b}"), "a");
        assert_eq!(strip_ansi("\u{1b}]0;t\u{1b}\\é\u{1b}(B"), "éB");
    }

    #[test]
    fn lines_are_prefixed_by_stream() {
        let l = |stream, text| Line { stream, text };
        let lines = [
            l(Stream::Stdout, "out\r\n"),
            l(Stream::Stderr, "err\n"),
            l(Stream::Stdout, "last"),
            l(Stream::Stderr, "\u{1b}[31mred\u{1b}[0m\r\n"),
            l(Stream::Stdin, "in\n"),
            l(Stream::Stderr, ""),
        ];
        assert_eq!(
            result_lines(lines).to_vec(),
            vec!["out", "! err", "last", "! red", "in", "! "]
        );
    }

    #[test]
    fn carriage_returns_overwrite_as_in_a_terminal() {
        assert_eq!(overstrike("10%\r20%\r100%"), "100%");
        assert_eq!(overstrike("abcdef\rXY"), "XYcdef");
        assert_eq!(overstrike("done\r"), "done");
        assert!(matches!(overstrike("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn status_lines() {
        let cap = |outcome| Capture {
            outcome,
            runtime: Duration::ZERO,
            blocks: Vec::new(),
            per_block: false,
            input_consumed_by: None,
        };
        assert_eq!(
            status_line(&Run::Finished(cap(Outcome::Exited(3)))),
            "# exit: 3"
        );
        assert_eq!(
            status_line(&Run::Finished(cap(Outcome::TimedOut(Duration::from_secs(
                2
            ))))),
            "# timed out after 2 s"
        );
        assert_eq!(
            status_line(&Run::Finished(cap(Outcome::Signaled {
                signal: 11,
                name: "SIGSEGV".into()
            }))),
            "# killed by SIGSEGV"
        );
    }

    #[test]
    fn plain_lpids_are_written_as_the_shell_quoting_would() {
        for lpid in ["s", "demo.part-2", "a/b:c", "x_1+2,3@4%5", "0", "-", "."] {
            assert_eq!(quote_lpid(lpid), lpid);
            assert_eq!(quote_lpid_shell(lpid), lpid, "{lpid}");
        }
        assert_eq!(quote_lpid("a b"), quote_lpid_shell("a b"));
        assert_eq!(quote_lpid("a&b"), "a\\&b");
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
}
