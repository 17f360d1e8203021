//! Tangling: out_file groups to file contents. Pure; the caller writes.
//!
//! An out_file's content is the code of its `inputs`, concatenated in
//! order with nothing added between them. An input may be a glob over lpids
//! (`*`, `?`, `[...]`), expanded in document order; an input that is itself
//! an out_file contributes its own tangled content.

use std::path::{Component, Path, PathBuf};

use crate::document::Project;
use crate::error::{Diagnostic, Diagnostics, Focus, Kind, attach_snippets};
use crate::options::Spec;

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TangledFile {
    /// Index of the out_file group in [`Project::groups`].
    pub group: usize,
    /// Target path as written in the document (relative to the current
    /// directory unless absolute).
    pub path: PathBuf,
    /// Encoded content.
    pub contents: Vec<u8>,
    /// Set the executable bits.
    pub executable: bool,
}

/// Does `path` stay inside the current directory (the project root), lexically?
pub fn stays_inside(path: &Path) -> bool {
    let mut depth: usize = 0;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth > 0
}

/// Why `filepath` cannot name a file, judged from its text alone.
pub fn filepath_problem(filepath: &str) -> Option<String> {
    if filepath.contains('\0') {
        return Some("contains a NUL character".into());
    }
    if filepath.ends_with('/') {
        return Some("ends with '/': it names a directory, not a file".into());
    }
    let path = Path::new(filepath);
    if !matches!(path.components().next_back(), Some(Component::Normal(_))) {
        return Some("does not name a file".into());
    }
    if let Some(long) = path.components().find(|c| c.as_os_str().len() > NAME_MAX) {
        return Some(format!(
            "has a name of {} bytes ('{}...'); file systems allow {NAME_MAX}",
            long.as_os_str().len(),
            long.as_os_str()
                .to_string_lossy()
                .chars()
                .take(20)
                .collect::<String>()
        ));
    }
    None
}

/// The longest file name (one path component) in bytes that Linux, macOS
/// and the BSDs accept.
pub const NAME_MAX: usize = 255;

/// Tangle every out_file group of `project`.
///
/// Each out_file's text is computed once, however many out_files use it as
/// an input, so nested out_files cost time linear in the number of groups
/// (plus the size of what is written).
pub fn tangle(project: &Project, allow_outside: bool) -> Result<Vec<TangledFile>, Diagnostics> {
    let mut files = Vec::new();
    let mut tangler = Tangler::new(project);
    let mut errors = Vec::new();
    for (index, group) in project.groups.iter().enumerate() {
        let Spec::OutFile(spec) = &group.spec else {
            continue;
        };
        let at = |kind, message: String| Diagnostic::new(kind, &group.path, group.line, message);
        if let Some(problem) = filepath_problem(&spec.filepath) {
            errors.push(at(
                Kind::InvalidValue,
                format!("out_file '{}' {problem}", spec.filepath.escape_debug()),
            ));
            continue;
        }
        let path = PathBuf::from(&spec.filepath);
        if !allow_outside && !stays_inside(&path) {
            errors.push(at(Kind::UnsafeTarget, format!(
                "out_file '{}' would be written outside the project root (use --allow-outside to permit it)",
                spec.filepath
            )));
            continue;
        }
        let Some(text) = tangler.text(index) else {
            continue;
        };
        match encode(text, spec.encoding.as_deref()) {
            Ok(contents) => files.push(TangledFile {
                group: index,
                path,
                contents,
                executable: spec.is_executable,
            }),
            Err(message) => errors.push(at(
                Kind::InvalidValue,
                format!("out_file '{}': {message}", spec.filepath),
            )),
        }
    }
    errors.append(&mut tangler.errors);
    if errors.is_empty() {
        Ok(files)
    } else {
        errors.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        for doc in &project.documents {
            attach_snippets(&doc.path, &doc.text, &mut errors);
        }
        Err(Diagnostics(errors))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    Active,
    Done,
}

/// The texts of out_file groups, each computed once (a depth-first walk
/// over the out_files among the inputs, without recursion, so a deep chain
/// of out_files cannot overflow the stack).
struct Tangler<'p> {
    project: &'p Project,
    marks: Vec<Mark>,
    /// Each out_file group's text once done; `None` when it failed (its
    /// errors are in `errors`, or in those of an out_file it uses).
    texts: Vec<Option<String>>,
    errors: Vec<Diagnostic>,
}

/// One out_file being tangled: its inputs' groups and the next to visit.
struct Frame {
    group: usize,
    inputs: Vec<usize>,
    next: usize,
    failed: bool,
}

impl<'p> Tangler<'p> {
    fn new(project: &'p Project) -> Self {
        let n = project.groups.len();
        Tangler {
            project,
            marks: vec![Mark::New; n],
            texts: vec![None; n],
            errors: Vec::new(),
        }
    }

    /// Start an out_file group: expand its inputs, reporting unknown ones.
    fn frame(&mut self, group: usize) -> Frame {
        self.marks[group] = Mark::Active;
        let g = &self.project.groups[group];
        let mut frame = Frame {
            group,
            inputs: Vec::new(),
            next: 0,
            failed: false,
        };
        let Spec::OutFile(spec) = &g.spec else {
            return frame;
        };
        for input in &spec.inputs {
            let matched = self.project.matching(input);
            if matched.is_empty() {
                let (path, line) = self.project.option_location(g, "inputs");
                self.errors.push(
                    Diagnostic::new(
                        Kind::UnknownReference,
                        &path,
                        line,
                        format!(
                            "unknown input '{input}' of out_file '{}'{}",
                            spec.filepath,
                            self.project.no_match_hint(input)
                        ),
                    )
                    .about(Focus::Item("inputs".into(), input.clone())),
                );
                frame.failed = true;
            }
            frame.inputs.extend(matched);
        }
        frame
    }

    fn is_out_file(&self, group: usize) -> bool {
        matches!(self.project.groups[group].spec, Spec::OutFile(_))
    }

    /// The tangled text of out_file group `root`, or `None` if it failed.
    fn text(&mut self, root: usize) -> Option<&str> {
        if self.marks[root] == Mark::New {
            let first = self.frame(root);
            let mut path = vec![first];
            while let Some(top) = path.last_mut() {
                if let Some(&next) = top.inputs.get(top.next) {
                    top.next += 1;
                    if !self.is_out_file(next) {
                        continue;
                    }
                    match self.marks[next] {
                        Mark::Done => {}
                        Mark::New => {
                            let frame = self.frame(next);
                            path.push(frame);
                        }
                        Mark::Active => {
                            let chain: Vec<&str> = path
                                .iter()
                                .map(|f| self.project.groups[f.group].lpid.as_str())
                                .chain([self.project.groups[next].lpid.as_str()])
                                .collect();
                            let g = &self.project.groups[path[0].group];
                            self.errors.push(Diagnostic::new(
                                Kind::Cycle,
                                &g.path,
                                g.line,
                                format!("out_file inputs form a cycle: {}", chain.join(" -> ")),
                            ));
                            if let Some(top) = path.last_mut() {
                                top.failed = true;
                            }
                        }
                    }
                    continue;
                }
                let Some(done) = path.pop() else { break };
                let text = (!done.failed)
                    .then(|| self.assemble(&done.inputs))
                    .flatten();
                self.texts[done.group] = text;
                self.marks[done.group] = Mark::Done;
            }
        }
        self.texts[root].as_deref()
    }

    /// The concatenation of `inputs` (out_files among them already done).
    fn assemble(&self, inputs: &[usize]) -> Option<String> {
        let mut text = String::new();
        for &i in inputs {
            if self.is_out_file(i) {
                text.push_str(self.texts[i].as_deref()?);
            } else {
                text.push_str(&self.project.code(&self.project.groups[i]));
            }
        }
        Some(text)
    }
}

/// Encode `text` in the encoding named by `label` (UTF-8 when `None`).
pub fn encode(text: &str, label: Option<&str>) -> Result<Vec<u8>, String> {
    let Some(label) = label else {
        return Ok(text.as_bytes().to_vec());
    };
    let enc = encoding_rs::Encoding::for_label(label.as_bytes())
        .ok_or_else(|| format!("unknown encoding '{label}'"))?;
    if enc == encoding_rs::UTF_16LE {
        return Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect());
    }
    if enc == encoding_rs::UTF_16BE {
        return Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect());
    }
    let (bytes, _, unmappable) = enc.encode(text);
    if unmappable {
        return Err(format!("the content cannot be encoded in {}", enc.name()));
    }
    Ok(bytes.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;

    fn project(text: &str) -> Project {
        Project::new(vec![
            Document::parse(Path::new("t.md"), text.to_string()).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn inputs_in_order_with_globs_byte_exact() {
        let p = project(concat!(
            "```yaml\nfilepath: out.py\ninputs: [head, 'part.*']\n```\n\n",
            "```python\n# lpid = part.b\nb = 2\n```\n\n",
            "```python\n# lpid = head\n#!/usr/bin/env python3\n```\n\n",
            "```python\n# lpid = part.a\na = 1\n```\n",
        ));
        let files = tangle(&p, false).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            String::from_utf8(files[0].contents.clone()).unwrap(),
            "#!/usr/bin/env python3\nb = 2\na = 1\n"
        );
    }

    #[test]
    fn unknown_inputs_are_each_named() {
        let p = project("```yaml\nfilepath: out.py\ninputs: [nope, 'x*']\n```\n");
        let e = tangle(&p, false).unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert_eq!(
            e.0[0].to_string(),
            "t.md:3: unknown input 'nope' of out_file 'out.py'"
        );
    }

    #[test]
    fn outside_paths_are_refused() {
        assert!(stays_inside(Path::new("a/b.txt")));
        assert!(stays_inside(Path::new("a/../b.txt")));
        assert!(!stays_inside(Path::new("../b.txt")));
        assert!(!stays_inside(Path::new("a/../../b.txt")));
        assert!(!stays_inside(Path::new("/etc/passwd")));
        assert!(!stays_inside(Path::new(".")));
        let p = project("```yaml\nfilepath: ../x\ninputs: []\n```\n");
        assert!(tangle(&p, false).is_err());
        assert!(tangle(&p, true).is_ok());
    }

    #[test]
    fn nested_out_files_are_tangled_once_each() {
        // f0 is empty; f(n) uses f(n-1) twice: 2^30 visits without memoising.
        let mut text = String::from(
            "```yaml\nfilepath: f0\ninputs: [leaf]\n```\n\n```text lpid=leaf\n```\n\n",
        );
        for n in 1..=30 {
            text += &format!(
                "```yaml\nfilepath: f{n}\ninputs: [f{m}, f{m}]\n```\n\n",
                m = n - 1
            );
        }
        let p = project(&text);
        let start = std::time::Instant::now();
        let files = tangle(&p, false).unwrap();
        assert_eq!(files.len(), 31);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn nested_contents_and_cycles_reported_once() {
        let p = project(concat!(
            "```yaml\nfilepath: outer\ninputs: [inner, a, inner]\n```\n\n",
            "```yaml\nfilepath: inner\ninputs: [a]\n```\n\n",
            "```text lpid=a\nA\n```\n",
        ));
        let files = tangle(&p, false).unwrap();
        assert_eq!(files[0].contents, b"A\nA\nA\n");
        assert_eq!(files[1].contents, b"A\n");
        let p = project(concat!(
            "```yaml\nfilepath: x\ninputs: [y]\n```\n\n",
            "```yaml\nfilepath: y\ninputs: [x, nope]\n```\n",
        ));
        let e = tangle(&p, false).unwrap_err();
        let all = e.to_string();
        assert_eq!(e.0.len(), 2, "{all}");
        assert!(
            all.contains("t.md:1: out_file inputs form a cycle: x -> y -> x"),
            "{all}"
        );
        assert!(
            all.contains("t.md:8: unknown input 'nope' of out_file 'y'"),
            "{all}"
        );
    }

    #[test]
    fn filepaths_that_cannot_name_a_file() {
        assert_eq!(filepath_problem("a/b.txt"), None);
        assert!(filepath_problem("zdir/").unwrap().contains("directory"));
        assert!(filepath_problem("a\0b").unwrap().contains("NUL"));
        assert!(
            filepath_problem("a/..")
                .unwrap()
                .contains("does not name a file")
        );
        assert!(filepath_problem(&"x".repeat(255)).is_none());
        assert!(
            filepath_problem(&format!("d/{}/f", "x".repeat(256)))
                .unwrap()
                .contains("256 bytes")
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(encode("é", Some("latin1")).unwrap(), vec![0xe9]);
        assert_eq!(encode("a", Some("utf-16le")).unwrap(), vec![b'a', 0]);
        assert!(encode("世", Some("latin1")).is_err());
    }
}
