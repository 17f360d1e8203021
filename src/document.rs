//! The document model: documents, their blocks, and the groups they form.
//!
//! Plain data and pure functions: no file system access and no processes.
//! [`Document::parse`] interprets the fenced blocks of one file (options,
//! code, result blocks); [`Project::new`] groups the blocks of all files by
//! lpid, merges and checks their options.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Diagnostic, Diagnostics, location};
use crate::markdown::{Fence, LineIndex, fences};
use crate::options::{
    self, HeaderFormat, LpType, OptionMap, RawOption, Spec, comment_options, info_attributes,
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

impl Document {
    /// Interpret the fenced blocks of `text`. Errors name `path:line`.
    pub fn parse(path: &Path, text: String) -> Result<Document, Diagnostics> {
        let mut errors = Vec::new();
        if let Some(i) = memchr::memchr(0, text.as_bytes()) {
            let line = text[..i].matches('\n').count() + 1;
            errors.push(Diagnostic::new(path, line, "the file contains a NUL byte"));
            return Err(Diagnostics(errors));
        }
        let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
        if text[bom..].trim().is_empty() {
            // An empty file, white space or a BOM alone (a placeholder
            // chapter): a document with no blocks.
            return Ok(Document {
                path: path.to_path_buf(),
                text,
                blocks: Vec::new(),
            });
        }
        if !text.contains('\n') && text.contains('\r') {
            // Markdown parsers read a lone CR as a line ending in prose but
            // not in fence info strings, so such a file's blocks would
            // silently never run.
            return Err(Diagnostics(vec![Diagnostic::new(
                path,
                0,
                "lines end with a bare carriage return (classic Mac OS); convert the file to LF or CRLF line endings",
            )]));
        }
        let mut blocks = Vec::new();
        // (language, lpid) of the nearest preceding code block, for carry-forward.
        let mut previous: Option<(String, Option<String>)> = None;
        for mut fence in fences(&text[bom..]) {
            fence.span = fence.span.start + bom..fence.span.end + bom;
            fence.opener = fence.opener.start + bom..fence.opener.end + bom;
            let (mut attrs, flags) = info_attributes(&fence.info);
            let at = |offset: usize| fence.line + 1 + offset;
            if let Some(pos) = attrs.iter().position(|o| o.key == RESULT_ATTR) {
                let lpid = scalar_text(&attrs[pos].value).unwrap_or_default();
                if let Some(e) = result_block_error(path, &text, &fence, &lpid) {
                    errors.push(e);
                }
                blocks.push(Block {
                    role: Role::Result { lpid },
                    lpid: None,
                    options: Vec::new(),
                    code: String::new(),
                    code_line: fence.line + 1,
                    fence,
                });
                continue;
            }
            let located = |opts: Vec<RawOption>, line: &dyn Fn(usize) -> usize| {
                opts.into_iter()
                    .map(|o| LocatedOption {
                        line: line(o.line_offset),
                        key: o.key,
                        value: o.value,
                    })
                    .collect::<Vec<_>>()
            };
            let info_line = fence.line;
            let mut options = located(std::mem::take(&mut attrs), &|_| info_line);
            if flags.iter().any(|f| f == IGNORE_FLAG) {
                blocks.push(Block {
                    role: Role::Ignored,
                    lpid: None,
                    options: Vec::new(),
                    code: fence.content.clone(),
                    code_line: fence.line + 1,
                    fence,
                });
                continue;
            }
            let header = HeaderFormat::for_lang(&fence.lang)
                .map(|format| options::parse_option_block(format, &fence.content));
            let (role, code, code_line) = match header {
                Some(Err(e)) => {
                    errors.push(Diagnostic::new(
                        path,
                        at(e.line_offset),
                        format!("invalid {} option block: {}", fence.lang, e.message),
                    ));
                    continue;
                }
                Some(Ok(Some(declared))) => {
                    options.extend(located(declared, &at));
                    (Role::Options, String::new(), fence.line + 1)
                }
                Some(Ok(None)) | None => {
                    let (declared, consumed) = comment_options(&fence.lang, &fence.content);
                    let skipped = fence.content[..consumed].matches('\n').count();
                    options.extend(located(declared, &at));
                    (
                        Role::Code,
                        fence.content[consumed..].to_string(),
                        at(skipped),
                    )
                }
            };
            let mut lpid = match options.iter().find(|o| o.key == "lpid") {
                Some(o) => match scalar_text(&o.value) {
                    Some(s) if !s.trim().is_empty() => match lpid_problem(&s) {
                        None => Some(s),
                        Some(problem) => {
                            errors.push(Diagnostic::new(
                                path,
                                o.line,
                                format!(
                                    "lpid {s:?} {problem}; an lpid is written into its result blocks' info strings and must read back the same (use letters, digits, punctuation and inner spaces)"
                                ),
                            ));
                            continue;
                        }
                    },
                    _ => {
                        errors.push(Diagnostic::new(
                            path,
                            o.line,
                            format!(
                                "lpid must be a non-empty string, not {}",
                                options::show(&o.value)
                            ),
                        ));
                        continue;
                    }
                },
                None => None,
            };
            if role == Role::Options && lpid.is_none() {
                let lptype = options.iter().find(|o| o.key == "lptype");
                let filepath = options.iter().find(|o| o.key == "filepath");
                match (lptype.and_then(|o| o.value.as_str()), filepath) {
                    (None | Some("out_file"), Some(fp)) => match fp.value.as_str() {
                        Some(s) if !s.trim().is_empty() => lpid = Some(s.to_string()),
                        _ => {
                            errors.push(Diagnostic::new(
                                path,
                                fp.line,
                                format!(
                                    "option 'filepath' must be a non-empty string, not {}",
                                    fp.value
                                ),
                            ));
                            continue;
                        }
                    },
                    (Some("meta"), _) => {}
                    _ => errors.push(Diagnostic::new(
                        path,
                        fence.line,
                        "option block has no lpid (add `lpid: <name>`)",
                    )),
                }
            }
            if role == Role::Code {
                if lpid.is_none()
                    && let Some((lang, prev)) = &previous
                    && *lang == fence.lang
                {
                    lpid = prev.clone();
                }
                previous = Some((fence.lang.clone(), lpid.clone()));
            }
            if lpid.is_some() && !fence.closed {
                errors.push(Diagnostic::new(
                    path,
                    fence.line,
                    format!(
                        "code block of '{}' has no closing fence",
                        lpid.as_deref().unwrap_or_default()
                    ),
                ));
            }
            blocks.push(Block {
                fence,
                role,
                lpid,
                options,
                code,
                code_line,
            });
        }
        if errors.is_empty() {
            Ok(Document {
                path: path.to_path_buf(),
                text,
                blocks,
            })
        } else {
            Err(Diagnostics(errors))
        }
    }
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
}

impl Project {
    /// Group the blocks of `documents` (which must be ordered by path) and
    /// check every group's options. All errors are reported together.
    pub fn new(documents: Vec<Document>) -> Result<Project, Diagnostics> {
        Project::with_defaults(documents, &crate::config::Defaults::default())
    }

    /// [`Project::new`] with default session options from `litprog.toml`.
    pub fn with_defaults(
        documents: Vec<Document>,
        defaults: &crate::config::Defaults,
    ) -> Result<Project, Diagnostics> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut by_lpid: HashMap<String, usize> = HashMap::new();
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
                    });
                    pending.len() - 1
                });
                let group = &mut pending[g];
                if block.role == Role::Options {
                    if let Some(prev) = group.declaration {
                        let p = &documents[prev.doc];
                        errors.push(Diagnostic::new(
                            &doc.path,
                            block.fence.line,
                            format!(
                                "lpid '{lpid}' is declared twice: here and at {}",
                                location(&p.path, p.blocks[prev.block].fence.line)
                            ),
                        ));
                    }
                    group.declaration = Some(here);
                } else {
                    group.blocks.push(here);
                }
                for opt in &block.options {
                    if opt.key == "lpid" {
                        continue;
                    }
                    // A block's own option: checked, never merged.
                    if options::BLOCK_KEYS.contains(&opt.key.as_str()) {
                        if let Err(e) = options::hide(&opt.value) {
                            errors.push(Diagnostic::new(&doc.path, opt.line, e.message));
                        }
                        continue;
                    }
                    let known = group.option_index.get(&opt.key);
                    match known.map(|&i| &group.options[i]) {
                        Some((o, od)) if o.value != opt.value => errors.push(Diagnostic::new(
                            &doc.path,
                            opt.line,
                            format!(
                                "option '{}' of '{lpid}' is redeclared as {} here, but {} at {}",
                                opt.key,
                                options::show(&opt.value),
                                options::show(&o.value),
                                location(&documents[*od].path, o.line)
                            ),
                        )),
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
            match check_group(&documents, p, &mut warnings, defaults) {
                Ok(g) => groups.push(g),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            let by_lpid = groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.lpid.clone(), i))
                .collect();
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

    /// The code of a group: its blocks' code concatenated in order.
    pub fn code(&self, group: &Group) -> String {
        group
            .blocks
            .iter()
            .map(|&r| self.block(r).code.as_str())
            .collect()
    }
}

fn check_group(
    documents: &[Document],
    p: Pending,
    warnings: &mut Vec<Diagnostic>,
    defaults: &crate::config::Defaults,
) -> Result<Group, Diagnostic> {
    let at = |(o, d): &(LocatedOption, usize)| (documents[*d].path.clone(), o.line);
    let lptype = match p.options.iter().find(|(o, _)| o.key == "lptype") {
        Some(entry) => {
            let name = entry.0.value.as_str().unwrap_or_default();
            LpType::parse(name).ok_or_else(|| {
                let (path, line) = at(entry);
                Diagnostic::new(
                    &path,
                    line,
                    format!(
                        "unknown lptype {} for '{}' (expected session, out_file, raw_block or meta)",
                        options::show(&entry.0.value),
                        p.lpid
                    ),
                )
            })?
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
            warnings.push(Diagnostic::new(&path, line, message));
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
    let spec = options::typed(lptype, &p.lpid, &map).map_err(|e| {
        let key = e.key.split('.').next().unwrap_or_default();
        let (path, line) = p
            .options
            .iter()
            .find(|(o, _)| o.key == key)
            .map(at)
            .unwrap_or_else(|| first_location(documents, p.first));
        Diagnostic::new(&path, line, format!("{} (in '{}')", e.message, p.lpid))
    })?;
    let (path, line) = first_location(documents, p.first);
    Ok(Group {
        lpid: p.lpid,
        lptype,
        spec,
        blocks: p.blocks,
        declaration: p.declaration,
        path,
        line,
    })
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
