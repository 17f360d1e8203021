//! The document model: documents, their blocks, and the groups they form.
//!
//! Plain data and pure functions: no file system access and no processes.
//! [`Document::parse`] interprets the fenced blocks of one file (options,
//! code, result blocks); [`Project::new`] groups the blocks of all files by
//! lpid, merges and checks their options.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Diagnostic, Diagnostics, Focus, Kind, attach_snippets, location};
use crate::markdown::{Fence, LineIndex, fences};
use crate::options::{
    self, HeaderFormat, LpType, OptionMap, OutputMode, RawOption, Spec, comment_options,
    info_attributes,
};

/// The info-string attribute that marks a result block written by litprog.
pub const RESULT_ATTR: &str = "lpout";
/// The info-string flag that keeps a block out of litprog entirely.
pub const IGNORE_FLAG: &str = "lpignore";

/// What a fenced block is to litprog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Code: a member of its lpid's group, or of none.
    Code,
    /// An option block: metadata declaring a group's options.
    Options,
    /// A result block written by litprog for the session `lpid`.
    Result {
        /// The session it belongs to.
        lpid: String,
    },
    /// Marked `lpignore`: invisible to litprog.
    Ignored,
}

/// An option with the line that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedOption {
    /// Option name.
    pub key: String,
    /// Parsed value.
    pub value: Value,
    /// 1-based line in the document.
    pub line: usize,
}

/// One fenced block of a document, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The fence as found by the Markdown walker; spans are in the
    /// document's full text (BOM included).
    pub fence: Fence,
    /// What the block is.
    pub role: Role,
    /// The group it belongs to (explicit or carried forward).
    pub lpid: Option<String>,
    /// The options the block declares (option block keys, comment options,
    /// info-string attributes).
    pub options: Vec<LocatedOption>,
    /// The code: the content without the leading comment option lines.
    pub code: String,
    /// 1-based line of the first line of `code`.
    pub code_line: usize,
}

/// A Markdown file, parsed.
#[derive(Debug, Clone)]
pub struct Document {
    /// Path as given or found.
    pub path: PathBuf,
    /// The whole text, exactly as read (a BOM included).
    pub text: String,
    /// Its fenced blocks in document order.
    pub blocks: Vec<Block>,
    /// Non-fatal problems found in it alone (an `lpID` that is no lpid).
    pub warnings: Vec<Diagnostic>,
}

/// Where a block is: document index and block index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRef {
    /// Index into [`Project::documents`].
    pub doc: usize,
    /// Index into [`Document::blocks`].
    pub block: usize,
}

/// Blocks sharing an lpid, with their merged, checked options.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's id.
    pub lpid: String,
    /// What it is.
    pub lptype: LpType,
    /// Checked options.
    pub spec: Spec,
    /// Code blocks, in order (files by path, then document order).
    pub blocks: Vec<BlockRef>,
    /// The option block declaring it, if any.
    pub declaration: Option<BlockRef>,
    /// For each of `blocks`, its own `output` (sessions only): set on that
    /// code block, it applies to that block alone.
    pub block_output: Vec<Option<OutputMode>>,
    /// The file of its first block.
    pub path: PathBuf,
    /// The line of its first block.
    pub line: usize,
}

/// Every document and group of a build.
#[derive(Debug, Clone)]
pub struct Project {
    /// Documents ordered by path.
    pub documents: Vec<Document>,
    /// Groups in order of first appearance.
    pub groups: Vec<Group>,
    /// Non-fatal problems (unknown option keys).
    pub warnings: Vec<Diagnostic>,
    /// Index of each group in `groups` by lpid.
    by_lpid: HashMap<String, usize>,
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Why a result block cannot be litprog's own, if it cannot. litprog
/// always closes the blocks it writes: an unclosed one runs to the end of
/// its container, and rewriting it would replace everything up to there.
/// And it makes its fence longer than any run of the fence character that
/// starts a line of the content: a content line that opens a fence of the
/// same character and at least the same length means the result block's
/// own closing fence is missing and a later block's closes it, and
/// rewriting it would delete the prose and blocks in between.
fn result_block_error(path: &Path, text: &str, fence: &Fence, lpid: &str) -> Option<Diagnostic> {
    if !fence.closed {
        return Some(Diagnostic::new(
            Kind::Syntax,
            path,
            fence.line,
            format!(
                "result block of '{lpid}' has no closing fence; a build would replace everything after it (restore the closing fence or delete the block)"
            ),
        ));
    }
    let ch = text.as_bytes()[fence.opener.start];
    let len = fence.opener.len();
    let content = fence.content.as_bytes();
    // Only a fence character can start such a line: look at those alone
    // (most output holds none).
    let mut after = 0;
    for at in memchr::memchr_iter(ch, content) {
        if at < after {
            continue;
        }
        let run = content[at..].iter().take_while(|&&b| b == ch).count();
        after = at + run;
        let line_start = memchr::memrchr2(b'\n', b'\r', &content[..at]).map_or(0, |i| i + 1);
        if run < len
            || !content[line_start..at]
                .iter()
                .all(|&b| b == b' ' || b == b'\t')
        {
            continue;
        }
        let line = fence.line + LineIndex::new(&fence.content).line_of(line_start);
        let end = memchr::memchr2(b'\n', b'\r', &content[at..]).map_or(content.len(), |i| at + i);
        let shown: String = fence.content[at..end].trim_end().chars().take(60).collect();
        return Some(Diagnostic::new(
            Kind::Syntax,
            path,
            fence.line,
            format!(
                "result block of '{lpid}' is not closed before line {line}, which opens another block ({shown}); a build would delete everything in between (restore the result block's closing fence before line {line})"
            ),
        ));
    }
    None
}

/// What is wrong with an lpid that could not round-trip through a result
/// block's info string, which is one line, trimmed, and split at white
/// space: white space at either end, a control character (a newline, a
/// carriage return, a tab), or white space other than U+0020.
fn lpid_problem(lpid: &str) -> Option<String> {
    let bytes = lpid.as_bytes();
    // The common case: printable ASCII with inner spaces only.
    if bytes.iter().all(|&b| b.is_ascii_graphic() || b == b' ')
        && bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
    {
        return None;
    }
    if lpid.trim() != lpid {
        return Some("starts or ends with white space".to_string());
    }
    if let Some(c) = lpid.chars().find(|c| c.is_control()) {
        return Some(format!("holds the control character U+{:04X}", c as u32));
    }
    if let Some(c) = lpid.chars().find(|&c| c.is_whitespace() && c != ' ') {
        return Some(format!("holds the space character U+{:04X}", c as u32));
    }
    None
}

/// Does Markdown text between two fenced blocks hold a heading? An ATX
/// heading (`# Title`, up to three spaces before it) or a setext one (a
/// line of `=` or `-` under a line of text). Read line by line, without a
/// full parse: text between fences holds no code block but indented code,
/// which four spaces keep apart.
fn has_heading(gap: &str) -> bool {
    let mut previous_is_text = false;
    for line in gap.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = line.trim_start_matches(' ');
        if indent > 3 {
            previous_is_text = !body.trim().is_empty();
            continue;
        }
        let hashes = body.len() - body.trim_start_matches('#').len();
        if (1..=6).contains(&hashes)
            && body[hashes..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t')
        {
            return true;
        }
        let underline = body.trim_end();
        if previous_is_text
            && !underline.is_empty()
            && (underline.bytes().all(|b| b == b'=') || underline.bytes().all(|b| b == b'-'))
        {
            return true;
        }
        previous_is_text = !body.trim().is_empty()
            && !body.starts_with(['-', '*', '+', '>', '|'])
            && !body.starts_with(|c: char| c.is_ascii_digit());
    }
    false
}

impl Document {
    /// Interpret the fenced blocks of `text`. Errors name `path:line`.
    pub fn parse(path: &Path, text: String) -> Result<Document, Diagnostics> {
        if let Some(e) = unreadable(path, &text) {
            return Err(Diagnostics(vec![e]));
        }
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let mut parser = Parser {
            path,
            text: &text,
            blocks: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            previous: None,
            gap_start: bom,
            gaps_since_previous: Vec::new(),
        };
        // An empty file, white space or a BOM alone (a placeholder
        // chapter) is a document with no blocks.
        if !text[bom..].trim().is_empty() {
            for mut fence in fences(&text[bom..]) {
                fence.span = fence.span.start + bom..fence.span.end + bom;
                fence.opener = fence.opener.start + bom..fence.opener.end + bom;
                parser.fence(fence);
            }
        }
        let Parser {
            blocks,
            mut errors,
            mut warnings,
            ..
        } = parser;
        attach_snippets(path, &text, &mut errors);
        attach_snippets(path, &text, &mut warnings);
        if errors.is_empty() {
            Ok(Document {
                path: path.to_path_buf(),
                text,
                blocks,
                warnings,
            })
        } else {
            Err(Diagnostics(errors))
        }
    }
}

/// Why `text` cannot be read as Markdown at all: a NUL byte, or lines
/// that end with a bare carriage return (in a file that holds more than
/// white space).
fn unreadable(path: &Path, text: &str) -> Option<Diagnostic> {
    if let Some(i) = memchr::memchr(0, text.as_bytes()) {
        let line = text[..i].matches('\n').count() + 1;
        return Some(Diagnostic::new(
            Kind::Syntax,
            path,
            line,
            "the file contains a NUL byte",
        ));
    }
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    if !text.contains('\n') && text.contains('\r') && !text[bom..].trim().is_empty() {
        // Markdown parsers read a lone CR as a line ending in prose but
        // not in fence info strings, so such a file's blocks would
        // silently never run.
        return Some(Diagnostic::new(
            Kind::Syntax,
            path,
            0,
            "lines end with a bare carriage return (classic Mac OS); convert the file to LF or CRLF line endings",
        ));
    }
    None
}

/// [`Document::parse`] while it walks the fences: the blocks so far, the
/// problems found, and what carry-forward needs.
struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    blocks: Vec<Block>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// (language, lpid) of the nearest preceding code block, for
    /// carry-forward.
    previous: Option<(String, Option<String>)>,
    /// End of the previous fence.
    gap_start: usize,
    /// The prose between the fences since the previous code block:
    /// carry-forward stops at a heading there. Looked at only when a block
    /// would carry an lpid forward, so a document's prose is not scanned
    /// for nothing.
    gaps_since_previous: Vec<std::ops::Range<usize>>,
}

impl Parser<'_> {
    /// Interpret one fence: a result block, an ignored block, or a member
    /// of a group (code or options), with its lpid.
    fn fence(&mut self, fence: Fence) {
        self.gaps_since_previous
            .push(self.gap_start.min(fence.span.start)..fence.span.start);
        self.gap_start = fence.span.end;
        let options::InfoAttributes {
            options: attrs,
            flags,
            errors: attr_errors,
        } = info_attributes(&fence.info);
        if let Some(pos) = attrs.iter().position(|o| o.key == RESULT_ATTR) {
            let lpid = scalar_text(&attrs[pos].value).unwrap_or_default();
            self.errors
                .extend(result_block_error(self.path, self.text, &fence, &lpid));
            self.blocks.push(Block {
                role: Role::Result { lpid },
                lpid: None,
                options: Vec::new(),
                code: String::new(),
                code_line: fence.line + 1,
                fence,
            });
            return;
        }
        if flags.iter().any(|f| f == IGNORE_FLAG) {
            self.blocks.push(Block {
                role: Role::Ignored,
                lpid: None,
                options: Vec::new(),
                code: fence.content.clone(),
                code_line: fence.line + 1,
                fence,
            });
            return;
        }
        let info_line = fence.line;
        let mut options = located(attrs, |_| info_line);
        let Some((role, code, code_line)) = self.declared_options(&fence, &mut options) else {
            return;
        };
        let Ok(mut lpid) = self.explicit_lpid(&options) else {
            return;
        };
        if role == Role::Options && lpid.is_none() {
            let Ok(named) = self.option_block_lpid(&fence, &options) else {
                return;
            };
            lpid = named;
        }
        if role == Role::Code {
            lpid = lpid.or_else(|| self.carried_forward(&fence.lang));
            self.previous = Some((fence.lang.clone(), lpid.clone()));
            self.gaps_since_previous.clear();
        }
        if lpid.is_none() {
            self.warn_of_miscased_keys(&options);
        } else {
            // Another tool's attributes on a block that is not litprog's
            // are its own business.
            for e in &attr_errors {
                self.errors.push(
                    Diagnostic::new(Kind::InvalidValue, self.path, fence.line, e.1.clone())
                        .about(Focus::Key(e.0.clone())),
                );
            }
            if !fence.closed {
                self.errors.push(Diagnostic::new(
                    Kind::Syntax,
                    self.path,
                    fence.line,
                    format!(
                        "code block of '{}' has no closing fence",
                        lpid.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        self.blocks.push(Block {
            fence,
            role,
            lpid,
            options,
            code,
            code_line,
        });
    }

    /// The options the content declares, added to `options`: an option
    /// block's keys, or a code block's comment options. The block's role,
    /// its code and the line the code starts on; `None` for an option
    /// block that does not parse (an error).
    fn declared_options(
        &mut self,
        fence: &Fence,
        options: &mut Vec<LocatedOption>,
    ) -> Option<(Role, String, usize)> {
        let at = |offset: usize| fence.line + 1 + offset;
        let header = HeaderFormat::for_lang(&fence.lang)
            .map(|format| options::parse_option_block(format, &fence.content));
        match header {
            Some(Err(e)) => {
                self.errors.push(Diagnostic::new(
                    Kind::OptionSyntax,
                    self.path,
                    at(e.line_offset),
                    format!("invalid {} option block: {}", fence.lang, e.message),
                ));
                None
            }
            Some(Ok(Some(declared))) => {
                options.extend(located(declared, at));
                Some((Role::Options, String::new(), fence.line + 1))
            }
            Some(Ok(None)) | None => {
                let (declared, consumed) = comment_options(&fence.lang, &fence.content);
                let skipped = fence.content[..consumed].matches('\n').count();
                options.extend(located(declared, at));
                Some((
                    Role::Code,
                    fence.content[consumed..].to_string(),
                    at(skipped),
                ))
            }
        }
    }

    /// The block's `lpid` option, checked; `Err` after an error (the block
    /// is dropped).
    fn explicit_lpid(&mut self, options: &[LocatedOption]) -> Result<Option<String>, ()> {
        let Some(o) = options.iter().find(|o| o.key == "lpid") else {
            return Ok(None);
        };
        let message = match scalar_text(&o.value) {
            Some(s) if !s.trim().is_empty() => match lpid_problem(&s) {
                None => return Ok(Some(s)),
                Some(problem) => format!(
                    "lpid {s:?} {problem}; an lpid is written into its result blocks' info strings and must read back the same (use letters, digits, punctuation and inner spaces)"
                ),
            },
            _ => format!(
                "lpid must be a non-empty string, not {}",
                options::show(&o.value)
            ),
        };
        self.errors.push(
            Diagnostic::new(Kind::InvalidValue, self.path, o.line, message)
                .about(Focus::Value("lpid".into())),
        );
        Err(())
    }

    /// The lpid of an option block that sets none: its `filepath` (an
    /// out_file is named by its path), none for a meta block, else an
    /// error. `Err` after an error that drops the block.
    fn option_block_lpid(
        &mut self,
        fence: &Fence,
        options: &[LocatedOption],
    ) -> Result<Option<String>, ()> {
        let lptype = options.iter().find(|o| o.key == "lptype");
        let filepath = options.iter().find(|o| o.key == "filepath");
        match (lptype.and_then(|o| o.value.as_str()), filepath) {
            (None | Some("out_file"), Some(fp)) => match fp.value.as_str() {
                Some(s) if !s.trim().is_empty() => Ok(Some(s.to_string())),
                _ => {
                    self.errors.push(
                        Diagnostic::new(
                            Kind::InvalidValue,
                            self.path,
                            fp.line,
                            format!(
                                "option 'filepath' must be a non-empty string, not {}",
                                fp.value
                            ),
                        )
                        .about(Focus::Value("filepath".into())),
                    );
                    Err(())
                }
            },
            (Some("meta"), _) => Ok(None),
            _ => {
                self.errors.push(Diagnostic::new(
                    Kind::Missing,
                    self.path,
                    fence.line,
                    "option block has no lpid (add `lpid: <name>`)",
                ));
                Ok(None)
            }
        }
    }

    /// The lpid a code block in `lang` without one of its own carries
    /// forward: that of the previous code block, if it is in the same
    /// language and no heading came between.
    fn carried_forward(&self, lang: &str) -> Option<String> {
        let (previous_lang, lpid) = self.previous.as_ref()?;
        if previous_lang != lang
            || self
                .gaps_since_previous
                .iter()
                .any(|gap| has_heading(&self.text[gap.clone()]))
        {
            return None;
        }
        lpid.clone()
    }

    /// `lpID=x` makes no group: say so, or the block silently never runs.
    fn warn_of_miscased_keys(&mut self, options: &[LocatedOption]) {
        for o in options {
            if let Some(known) = ["lpid", "lptype", RESULT_ATTR]
                .into_iter()
                .find(|k| *k != o.key && k.eq_ignore_ascii_case(&o.key))
            {
                self.warnings.push(
                    Diagnostic::new(Kind::UnknownOption,
                        self.path,
                        o.line,
                        format!(
                            "unknown option '{}' (did you mean '{known}'?); option names are case-sensitive, and this block belongs to no group",
                            o.key
                        ),
                    )
                    .about(Focus::Key(o.key.clone())),
                );
            }
        }
    }
}

/// Raw options with the document line of each (`line` of its offset).
fn located(opts: Vec<RawOption>, line: impl Fn(usize) -> usize) -> Vec<LocatedOption> {
    opts.into_iter()
        .map(|o| LocatedOption {
            line: line(o.line_offset),
            key: o.key,
            value: o.value,
        })
        .collect()
}

/// Options of one group while merging: value and where it was set.
struct Pending {
    lpid: String,
    options: Vec<(LocatedOption, usize)>, // option, document index
    /// Position in `options` of each key, so that merging stays linear.
    option_index: HashMap<String, usize>,
    blocks: Vec<BlockRef>,
    declaration: Option<BlockRef>,
    first: BlockRef,
    /// Options of one block ([`PER_BLOCK_KEYS`] on a code block that does
    /// not declare the group): index in `blocks`, option, document index.
    block_options: Vec<(usize, LocatedOption, usize)>,
}

/// Session options that can apply to a single code block: set on a code
/// block that does not declare its group (an option block, or a code
/// block with `lptype`, declares it), they apply to that block alone.
/// ([`options::BLOCK_KEYS`] are options of a block wherever they are set.)
pub const PER_BLOCK_KEYS: &[&str] = &["output"];

impl Project {
    /// Group the blocks of `documents` (which must be ordered by path) and
    /// check every group's options. All errors are reported together.
    pub fn new(documents: Vec<Document>) -> Result<Project, Diagnostics> {
        Project::with_defaults(documents, &crate::config::Defaults::default())
    }

    /// [`Project::new`] with default session options from `litprog.toml`.
    /// (The errors planning and tangling find among the other groups when
    /// a group's options are wrong come with [`crate::files::group`].)
    pub fn with_defaults(
        documents: Vec<Document>,
        defaults: &crate::config::Defaults,
    ) -> Result<Project, Diagnostics> {
        let (project, errors) = Project::grouped(documents, defaults);
        project.checked(errors)
    }

    /// The project of `documents` and the errors in their groups' options,
    /// unsorted. A group whose options are wrong is a placeholder (a meta
    /// group), so that planning can still report the other groups'
    /// problems without calling it unknown.
    pub(crate) fn grouped(
        documents: Vec<Document>,
        defaults: &crate::config::Defaults,
    ) -> (Project, Vec<Diagnostic>) {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut by_lpid: HashMap<String, usize> = HashMap::new();
        warnings.extend(documents.iter().flat_map(|d| d.warnings.iter().cloned()));
        for (d, doc) in documents.iter().enumerate() {
            for (b, block) in doc.blocks.iter().enumerate() {
                let Some(lpid) = &block.lpid else { continue };
                let here = BlockRef { doc: d, block: b };
                let g = *by_lpid.entry(lpid.clone()).or_insert_with(|| {
                    pending.push(Pending {
                        lpid: lpid.clone(),
                        options: Vec::new(),
                        option_index: HashMap::new(),
                        blocks: Vec::new(),
                        declaration: None,
                        first: here,
                        block_options: Vec::new(),
                    });
                    pending.len() - 1
                });
                let group = &mut pending[g];
                if block.role == Role::Options {
                    if let Some(prev) = group.declaration {
                        let p = &documents[prev.doc];
                        errors.push(
                            Diagnostic::new(
                                Kind::Conflict,
                                &doc.path,
                                block.fence.line,
                                format!(
                                    "lpid '{lpid}' is declared twice: here and at {}",
                                    location(&p.path, p.blocks[prev.block].fence.line)
                                ),
                            )
                            .about(Focus::Key("lpid".into())),
                        );
                    }
                    group.declaration = Some(here);
                } else {
                    group.blocks.push(here);
                }
                let declares =
                    block.role == Role::Options || block.options.iter().any(|o| o.key == "lptype");
                for opt in &block.options {
                    if opt.key == "lpid" {
                        continue;
                    }
                    // A block's own option: checked, never merged.
                    if options::BLOCK_KEYS.contains(&opt.key.as_str()) {
                        if let Err(e) = options::hide(&opt.value) {
                            errors.push(
                                Diagnostic::new(Kind::InvalidValue, &doc.path, opt.line, e.message)
                                    .about(Focus::Value(opt.key.clone())),
                            );
                        }
                        continue;
                    }
                    if !declares && PER_BLOCK_KEYS.contains(&opt.key.as_str()) {
                        let at = group.blocks.len() - 1;
                        group.block_options.push((at, opt.clone(), d));
                        continue;
                    }
                    let known = group.option_index.get(&opt.key);
                    match known.map(|&i| &group.options[i]) {
                        Some((o, od)) if o.value != opt.value => errors.push(Diagnostic::new(Kind::Conflict,
                            &doc.path,
                            opt.line,
                            format!(
                                "option '{}' of '{lpid}' is redeclared as {} here, but {} at {} (it applies to the whole group, so it takes one value)",
                                opt.key,
                                options::show(&opt.value),
                                options::show(&o.value),
                                location(&documents[*od].path, o.line)
                            ),
                        )
                        .about(Focus::Value(opt.key.clone()))),
                        Some(_) => {}
                        None => {
                            group
                                .option_index
                                .insert(opt.key.clone(), group.options.len());
                            group.options.push((opt.clone(), d));
                        }
                    }
                }
            }
        }
        let mut groups = Vec::new();
        for p in pending {
            // A group whose options are wrong stays in the project as a
            // placeholder, so that planning can still report the other
            // groups' problems without calling it unknown.
            let placeholder = Group {
                lpid: p.lpid.clone(),
                lptype: LpType::Meta,
                spec: Spec::Meta,
                blocks: p.blocks.clone(),
                declaration: p.declaration,
                block_output: Vec::new(),
                path: documents[p.first.doc].path.clone(),
                line: documents[p.first.doc].blocks[p.first.block].fence.line,
            };
            match check_group(&documents, p, &mut warnings, defaults) {
                Ok(g) => groups.push(g),
                Err(e) => {
                    errors.extend(e);
                    groups.push(placeholder);
                }
            }
        }
        let by_lpid = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.lpid.clone(), i))
            .collect();
        let project = Project {
            documents,
            groups,
            warnings,
            by_lpid,
        };
        (project, errors)
    }

    /// The project, or `errors` in document order, each once, with their
    /// snippets (and the warnings' snippets too).
    pub(crate) fn checked(self, mut errors: Vec<Diagnostic>) -> Result<Project, Diagnostics> {
        let Project {
            documents,
            groups,
            mut warnings,
            by_lpid,
        } = self;
        // Reported in document order (documents are ordered by path).
        let order = |a: &Diagnostic, b: &Diagnostic| (&a.path, a.line).cmp(&(&b.path, b.line));
        errors.sort_by(order);
        // Planning and tangling may find one problem twice.
        errors.dedup_by(|a, b| a.to_string() == b.to_string());
        warnings.sort_by(order);
        for doc in &documents {
            attach_snippets(&doc.path, &doc.text, &mut errors);
            attach_snippets(&doc.path, &doc.text, &mut warnings);
        }
        if errors.is_empty() {
            Ok(Project {
                documents,
                groups,
                warnings,
                by_lpid,
            })
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// The index in [`Project::groups`] of the group with this lpid.
    pub fn group_index(&self, lpid: &str) -> Option<usize> {
        self.by_lpid.get(lpid).copied()
    }

    /// The group with this lpid.
    pub fn group(&self, lpid: &str) -> Option<&Group> {
        self.group_index(lpid).map(|i| &self.groups[i])
    }

    /// The block a reference points to.
    pub fn block(&self, r: BlockRef) -> &Block {
        &self.documents[r.doc].blocks[r.block]
    }

    /// `path:line` of a block.
    pub fn location(&self, r: BlockRef) -> String {
        location(&self.documents[r.doc].path, self.block(r).fence.line)
    }

    /// The groups whose lpid matches `pattern` (a plain lpid, or a glob over
    /// lpids: `*`, `?`, `[...]`), as indices into [`Project::groups`], in
    /// order of first appearance. `requires` and `inputs` both name groups
    /// this way.
    pub fn matching(&self, pattern: &str) -> Vec<usize> {
        let glob = is_glob(pattern)
            .then(|| glob::Pattern::new(pattern).ok())
            .flatten();
        match glob {
            Some(p) => (0..self.groups.len())
                .filter(|&i| p.matches(&self.groups[i].lpid))
                .collect(),
            None => self.group_index(pattern).into_iter().collect(),
        }
    }

    /// What to add to an "unknown lpid" message for `pattern`, which
    /// [`Project::matching`] found no group for: a glob is said to match
    /// none; for a plain lpid, the closest lpid of the project, if one is
    /// close (`did you mean 'setup'?`).
    pub fn no_match_hint(&self, pattern: &str) -> String {
        if is_glob(pattern) {
            return " (the glob matches no lpid)".to_string();
        }
        self.closest_lpid(pattern)
            .map(|l| format!(" (did you mean '{l}'?)"))
            .unwrap_or_default()
    }

    /// The lpid closest to `unknown`: one that differs in case only, or
    /// else the most similar one (Jaro-Winkler above 0.8).
    pub fn closest_lpid(&self, unknown: &str) -> Option<&str> {
        let lpids = || self.groups.iter().map(|g| g.lpid.as_str());
        if let Some(same) = lpids().find(|l| l.eq_ignore_ascii_case(unknown)) {
            return Some(same);
        }
        lpids()
            .map(|l| (strsim::jaro_winkler(unknown, l), l))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, l)| l)
    }

    /// Where `key` was set for `group` (its declaration first, then its
    /// blocks), or the group's first block.
    pub fn option_location(&self, group: &Group, key: &str) -> (PathBuf, usize) {
        group
            .declaration
            .iter()
            .chain(&group.blocks)
            .find_map(|&r| {
                let o = self.block(r).options.iter().find(|o| o.key == key)?;
                Some((self.documents[r.doc].path.clone(), o.line))
            })
            .unwrap_or_else(|| (group.path.clone(), group.line))
    }

    /// The code of a group: its blocks' code concatenated in order.
    pub fn code(&self, group: &Group) -> String {
        group
            .blocks
            .iter()
            .map(|&r| self.block(r).code.as_str())
            .collect()
    }
}

/// Is `pattern` a glob over lpids rather than a plain lpid?
fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

fn check_group(
    documents: &[Document],
    p: Pending,
    warnings: &mut Vec<Diagnostic>,
    defaults: &crate::config::Defaults,
) -> Result<Group, Vec<Diagnostic>> {
    let at = |(o, d): &(LocatedOption, usize)| (documents[*d].path.clone(), o.line);
    let mut errors = Vec::new();
    let lptype = match p.options.iter().find(|(o, _)| o.key == "lptype") {
        Some(entry) => {
            let name = entry.0.value.as_str().unwrap_or_default();
            LpType::parse(name).ok_or_else(|| {
                let (path, line) = at(entry);
                Diagnostic::new(Kind::UnknownOption,
                    &path,
                    line,
                    format!(
                        "unknown lptype {} for '{}' (expected session, out_file, raw_block or meta)",
                        options::show(&entry.0.value),
                        p.lpid
                    ),
                )
                .about(Focus::Value("lptype".into()))
            })
            .map_err(|e| vec![e])?
        }
        None if p.options.iter().any(|(o, _)| o.key == "filepath") => LpType::OutFile,
        None => LpType::RawBlock,
    };
    let mut map = OptionMap::new();
    for entry in &p.options {
        let key = entry.0.key.as_str();
        if key == "lptype" {
            continue;
        }
        if key == "requires" && matches!(lptype, LpType::OutFile | LpType::RawBlock) {
            // An error, not the warning of other misplaced keys: the author
            // expects an order that litprog would not keep. Out_files are
            // tangled before any session starts, and nothing runs a raw
            // block.
            let (path, line) = at(entry);
            let instead = match lptype {
                LpType::OutFile => format!(
                    "out_files are written before any session runs; a session that needs the file requires it instead (`requires: [{}]`)",
                    p.lpid
                ),
                _ => "a raw block is never run, only included in out_files".to_string(),
            };
            errors.push(
                Diagnostic::new(
                    Kind::Misplaced,
                    &path,
                    line,
                    format!(
                        "option 'requires' does not apply to {} '{}': {instead}",
                        lptype.as_str(),
                        p.lpid
                    ),
                )
                .about(Focus::Key(key.to_string())),
            );
            continue;
        }
        if lptype != LpType::Meta && !lptype.keys().contains(&key) {
            let (path, line) = at(entry);
            let owners: Vec<&str> = [LpType::Session, LpType::OutFile]
                .into_iter()
                .filter(|t| t.keys().contains(&key))
                .map(LpType::as_str)
                .collect();
            let message = if owners.is_empty() {
                let hint = options::closest_key(key, lptype)
                    .map(|k| format!(" (did you mean '{k}'?)"))
                    .unwrap_or_default();
                format!(
                    "unknown option '{key}' for {} '{}'{hint}",
                    lptype.as_str(),
                    p.lpid
                )
            } else {
                format!(
                    "option '{key}' does not apply to {} '{}' (it is an option of {})",
                    lptype.as_str(),
                    p.lpid,
                    owners.join(" and ")
                )
            };
            warnings.push(
                Diagnostic::new(Kind::UnknownOption, &path, line, message)
                    .about(Focus::Key(key.to_string())),
            );
            continue;
        }
        map.insert(key.to_string(), entry.0.value.clone());
    }
    if lptype == LpType::Session {
        let language = p
            .blocks
            .first()
            .map(|r| documents[r.doc].blocks[r.block].fence.lang.as_str());
        defaults.apply(language, &mut map);
    }
    if lptype == LpType::Session
        && !map.contains_key("command")
        && let Some(&first) = p.blocks.first()
    {
        errors.extend(interpreter_for_language(documents, first, &p.lpid, &mut map).err());
    }
    let spec = options::typed(lptype, &p.lpid, &map).map_err(|all| {
        all.into_iter().map(|e| {
            let key = e.key.split('.').next().unwrap_or_default();
            let (path, line) = p
                .options
                .iter()
                .find(|(o, _)| o.key == key)
                .map(at)
                .unwrap_or_else(|| first_location(documents, p.first));
            Diagnostic::new(
                Kind::InvalidValue,
                &path,
                line,
                format!("{} (in '{}')", e.message, p.lpid),
            )
            .about(Focus::Value(key.to_string()))
        })
    });
    let spec = match spec {
        Ok(spec) => Some(spec),
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some(Spec::Session(session)) = &spec {
        language_mismatches(documents, &p, session, warnings);
    }
    let mut block_output = vec![None; p.blocks.len()];
    for (i, opt, d) in &p.block_options {
        let path = &documents[*d].path;
        if lptype != LpType::Session {
            warnings.push(
                Diagnostic::new(
                    Kind::Misplaced,
                    path,
                    opt.line,
                    format!(
                        "option '{}' does not apply to {} '{}' (it is an option of session)",
                        opt.key,
                        lptype.as_str(),
                        p.lpid
                    ),
                )
                .about(Focus::Key(opt.key.clone())),
            );
            continue;
        }
        block_output[*i] = Some(match opt.value.as_str() {
            Some("block") => OutputMode::Block,
            Some("none") => OutputMode::None,
            _ => {
                errors.push(Diagnostic::new(Kind::Misplaced,
                    path,
                    opt.line,
                    format!(
                        "option 'output' of one block of '{}' must be block or none, not {} (output: session applies to the whole session: set it where the session is declared)",
                        p.lpid,
                        options::show(&opt.value)
                    ),
                )
                .about(Focus::Value("output".into())));
                continue;
            }
        });
    }
    let Some(spec) = spec.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let (path, line) = first_location(documents, p.first);
    Ok(Group {
        lpid: p.lpid,
        lptype,
        spec,
        blocks: p.blocks,
        declaration: p.declaration,
        block_output,
        path,
        line,
    })
}

/// Warn of each code block whose language does not fit the session's
/// interpreter (a bash block in a python3 session: most often two
/// documents using one lpid without knowing it), naming both places.
fn language_mismatches(
    documents: &[Document],
    p: &Pending,
    session: &options::SessionSpec,
    warnings: &mut Vec<Diagnostic>,
) {
    let Some(runs) = options::command_kind(&session.command.0) else {
        return;
    };
    let command = session.command.0.join(" ");
    let (from_path, from_line) = p
        .options
        .iter()
        .find(|(o, _)| o.key == "command")
        .map(|(o, d)| (documents[*d].path.clone(), o.line))
        .unwrap_or_else(|| first_location(documents, p.first));
    for &r in &p.blocks {
        let doc = &documents[r.doc];
        let block = &doc.blocks[r.block];
        let lang = &block.fence.lang;
        if options::language_kind(lang).is_some_and(|kind| kind != runs) {
            warnings.push(Diagnostic::new(Kind::Suspicious,
                &doc.path,
                block.fence.line,
                format!(
                    "a {lang} block in session '{}', which runs {command} (from {}); is the lpid used for two things?",
                    p.lpid,
                    location(&from_path, from_line)
                ),
            ));
        }
    }
}

/// A session without `command` runs in the interpreter of its first code
/// block's language ([`options::language_default`]). `litprog.toml`'s
/// defaults ([`crate::config::Defaults::apply`]: `[languages.NAME]`, then
/// `[session]`) are put in `map` before this, and win.
fn interpreter_for_language(
    documents: &[Document],
    first: BlockRef,
    lpid: &str,
    map: &mut OptionMap,
) -> Result<(), Diagnostic> {
    let doc = &documents[first.doc];
    let block = &doc.blocks[first.block];
    let lang = block.fence.lang.as_str();
    let Some(default) = options::language_default(lang) else {
        let what = if lang.is_empty() {
            "has no language".to_string()
        } else {
            format!("is in '{lang}', a language litprog knows no interpreter for")
        };
        return Err(Diagnostic::new(
            Kind::Missing,
            &doc.path,
            block.fence.line,
            format!(
                "session '{lpid}' sets no command, and its first code block {what}; set one (for example `command=python3`)"
            ),
        ));
    };
    map.insert("command".to_string(), Value::from(default.command.to_vec()));
    if let Some(marker) = default.marker {
        map.entry("marker".to_string())
            .or_insert_with(|| Value::from(marker));
    }
    Ok(())
}

fn first_location(documents: &[Document], r: BlockRef) -> (PathBuf, usize) {
    let doc = &documents[r.doc];
    (doc.path.clone(), doc.blocks[r.block].fence.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse(Path::new("t.md"), text.to_string()).unwrap()
    }

    fn project(docs: &[(&str, &str)]) -> Result<Project, Diagnostics> {
        let docs = docs
            .iter()
            .map(|(p, t)| Document::parse(Path::new(p), t.to_string()).unwrap())
            .collect();
        Project::new(docs)
    }

    /// The kinds of the problems of `text`, by line, whether `parse` or
    /// grouping found them.
    fn kinds(text: &str) -> Vec<(usize, Kind)> {
        let found = match Document::parse(Path::new("t.md"), text.to_string()) {
            Err(e) => e,
            Ok(d) => Project::new(vec![d]).err().unwrap_or_default(),
        };
        found.0.into_iter().map(|d| (d.line, d.kind)).collect()
    }

    #[test]
    fn every_problem_says_what_it_is() {
        assert_eq!(kinds("```bash lpid=s\necho\n"), [(1, Kind::Syntax)]);
        assert_eq!(
            kinds("x\n```json\n{\"lpid\": \"s\", \"lptype\": \"session\",}\n```\n"),
            [(3, Kind::OptionSyntax)]
        );
        assert_eq!(
            kinds("```yaml\nlpid: s\nlptype: sesion\n```\n"),
            [(3, Kind::UnknownOption)]
        );
        assert_eq!(
            kinds("```yaml\nlpid: s\nlptype: session\ntimeout: soon\ncommand: bash\n```\n"),
            [(4, Kind::InvalidValue)]
        );
        assert_eq!(
            kinds(
                "```bash lpid=s\n1\n```\n\n```yaml\nlpid: s\nlptype: session\ncommand: bash\n```\n\n```yaml\nlpid: s\nlptype: session\ncommand: sh\n```\n"
            ),
            [(11, Kind::Conflict), (14, Kind::Conflict)]
        );
        assert_eq!(
            kinds("```yaml\nfilepath: a.txt\nlptype: out_file\nrequires: [x]\n```\n"),
            [(4, Kind::Misplaced)]
        );
    }

    #[test]
    fn comment_option_lines_are_not_code() {
        let d = doc("```python\n# lpid = a\n\nx = 1\n```\n");
        assert_eq!(d.blocks[0].lpid.as_deref(), Some("a"));
        assert_eq!(d.blocks[0].code, "\nx = 1\n");
        assert_eq!(d.blocks[0].code_line, 3);
    }

    #[test]
    fn carry_forward_same_language_only() {
        let d = doc(
            "```python lpid=a\n1\n```\n\n```python\n2\n```\n\n```bash\n3\n```\n\n```python lpignore\n4\n```\n\n```text lpout=a\nout\n```\n\n```python\n5\n```\n",
        );
        let ids: Vec<_> = d.blocks.iter().map(|b| b.lpid.as_deref()).collect();
        assert_eq!(ids, vec![Some("a"), Some("a"), None, None, None, None]);
        let d = doc(
            "```python lpid=a\n1\n```\n\n```python lpignore\n4\n```\n\n```text lpout=a\nout\n```\n\n```python\n5\n```\n",
        );
        let ids: Vec<_> = d.blocks.iter().map(|b| b.lpid.as_deref()).collect();
        assert_eq!(ids, vec![Some("a"), None, None, Some("a")]);
        assert_eq!(d.blocks[2].role, Role::Result { lpid: "a".into() });
    }

    #[test]
    fn carry_forward_stops_at_a_heading() {
        let ids = |text: &str| -> Vec<Option<String>> {
            doc(text).blocks.iter().map(|b| b.lpid.clone()).collect()
        };
        let a = Some("a".to_string());
        for heading in [
            "# Next\n",
            "  ### Next ##\n",
            "#\n",
            "Next\n====\n",
            "Next\n---\n",
        ] {
            let text = format!("```python lpid=a\n1\n```\n\n{heading}\n```python\n2\n```\n");
            assert_eq!(ids(&text), vec![a.clone(), None], "{heading:?}");
        }
        for prose in [
            "#hashtag\n",
            "    # indented code\n",
            "text\n\n---\n",
            "- item\n---\n",
            "plain text\n",
        ] {
            let text = format!("```python lpid=a\n1\n```\n\n{prose}\n```python\n2\n```\n");
            assert_eq!(ids(&text), vec![a.clone(), a.clone()], "{prose:?}");
        }
        // A heading before a block with its own lpid changes nothing, and
        // one inside a code block is not a heading.
        let text = "```python lpid=a\n1\n```\n\n```python lpignore\n# not a heading\n```\n\n```python\n2\n```\n";
        assert_eq!(ids(text), vec![a.clone(), None, a.clone()]);
    }

    #[test]
    fn filepath_means_out_file_with_lpid_default() {
        let p = project(&[(
            "a.md",
            "```yaml\nfilepath: out.txt\ninputs: [x]\n```\n\n```text lpid=x\nhi\n```\n",
        )])
        .unwrap();
        let g = p.group("out.txt").unwrap();
        assert_eq!(g.lptype, LpType::OutFile);
        assert_eq!(g.line, 1);
        assert_eq!(p.code(p.group("x").unwrap()), "hi\n");
    }

    #[test]
    fn groups_concatenate_across_files_in_order() {
        let p = project(&[
            ("a.md", "```sh lpid=g\none\n```\n"),
            ("b.md", "```sh lpid=g\ntwo\n```\n"),
        ])
        .unwrap();
        assert_eq!(p.code(&p.groups[0]), "one\ntwo\n");
    }

    #[test]
    fn duplicate_declaration_names_both_places() {
        let e = project(&[
            ("a.md", "```yaml\nlpid: s\nlptype: session\n```\n"),
            ("b.md", "\n```yaml\nlpid: s\nlptype: session\n```\n"),
        ])
        .unwrap_err();
        assert_eq!(
            e.0[0].to_string(),
            "b.md:2: lpid 's' is declared twice: here and at a.md:1"
        );
    }

    #[test]
    fn redeclared_option_with_other_value() {
        let e = project(&[(
            "a.md",
            "```yaml\nlpid: s\nlptype: session\n```\n\n```bash\n# lpid = s\n# lptype = out_file\n```\n",
        )])
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("a.md:8: option 'lptype' of 's' is redeclared"),
            "{msg}"
        );
        assert!(msg.contains("a.md:3"), "{msg}");
    }

    #[test]
    fn type_errors_and_unknown_keys_are_located() {
        let e = project(&[(
            "a.md",
            "```yaml\nlpid: s\nlptype: session\ntimeout: soon\n```\n",
        )])
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.md:4: option 'timeout' must be"),
            "{e}"
        );
        let p = project(&[(
            "a.md",
            "```yaml\nlpid: s\nlptype: session\ntimout: 3\n```\n",
        )])
        .unwrap();
        assert_eq!(
            p.warnings[0].to_string(),
            "a.md:4: unknown option 'timout' for session 's' (did you mean 'timeout'?)"
        );
    }

    #[test]
    fn option_of_another_lptype_is_not_suggested_as_itself() {
        let p = project(&[("a.md", "```python lpid=demo timeout=5\nx\n```\n")]).unwrap();
        assert_eq!(
            p.warnings[0].to_string(),
            "a.md:1: option 'timeout' does not apply to raw_block 'demo' (it is an option of session)"
        );
        let p = project(&[(
            "a.md",
            "```yaml\nlpid: s\nlptype: session\ninputs: [a]\n```\n",
        )])
        .unwrap();
        assert_eq!(
            p.warnings[0].to_string(),
            "a.md:4: option 'inputs' does not apply to session 's' (it is an option of out_file)"
        );
    }

    #[test]
    fn bom_shifts_spans_not_lines() {
        let d = doc("\u{feff}```sh lpid=a\nx\n```\n");
        assert_eq!(d.blocks[0].fence.line, 1);
        assert_eq!(
            &d.text[d.blocks[0].fence.span.clone()],
            "```sh lpid=a\nx\n```\n"
        );
    }

    #[test]
    fn option_block_with_a_non_string_filepath_is_an_error() {
        for value in ["", " []", " [a, b]", " 5", " \"\"", " {a: 1}"] {
            let text = format!("x\n```yaml\nfilepath:{value}\n```\n");
            let e = Document::parse(Path::new("t.md"), text).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("t.md:3: option 'filepath' must be a non-empty string"),
                "{value:?}: {e}"
            );
        }
    }

    #[test]
    fn empty_white_space_and_bom_only_documents_have_no_blocks() {
        for text in [
            "",
            " ",
            "\n\n",
            "\t\r\n",
            "\r",
            "\u{feff}",
            "\u{feff}\n  \n",
        ] {
            let d = Document::parse(Path::new("t.md"), text.to_string())
                .unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(d.blocks.is_empty());
            assert_eq!(d.text, text);
        }
    }

    #[test]
    fn result_block_holding_a_fence_of_its_own_kind_is_an_error_at_both_lines() {
        let err = |text: &str| {
            Document::parse(Path::new("t.md"), text.to_string())
                .err()
                .map(|e| e.to_string())
        };
        let e = err("```text lpout=s\r\nold\r\n\r\n  ````sh lpid=x\r\necho\r\n```\r\n").unwrap();
        assert!(
            e.starts_with("t.md:1: result block of 's' is not closed before line 4, which opens another block (````sh lpid=x)"),
            "{e}"
        );
        let e = err("> ~~~text lpout=s\n> a ~~~ b\n>\t~~~ x\n> ~~~\n").unwrap();
        assert!(e.contains("before line 3"), "{e}");
        // Shorter runs, runs after text and the other character are output.
        for text in [
            "````text lpout=s\n```python\na ```` b\n~~~~~~\n````\n",
            "~~~text lpout=s\n```\n~~\n~~~\n",
            "```text lpout=s\n```\n",
        ] {
            assert_eq!(err(text), None, "{text:?}");
        }
    }

    #[test]
    fn nul_and_unclosed_fence_errors() {
        assert!(
            Document::parse(Path::new("t.md"), "a\n\0".into())
                .unwrap_err()
                .to_string()
                .starts_with("t.md:2: ")
        );
        let e = Document::parse(Path::new("t.md"), "x\n```sh lpid=a\necho\n".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.md:2: code block of 'a' has no closing fence"
        );
    }
}
