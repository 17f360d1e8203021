//! Tangling: out_file groups to file contents. Pure; the caller writes.
//!
//! An out_file's content is the code of its `inputs`, concatenated in
//! order with nothing added between them. An input may be a glob over lpids
//! (`*`, `?`, `[...]`), expanded in document order; an input that is itself
//! an out_file contributes its own tangled content.

use std::path::{Component, Path, PathBuf};

use crate::document::{Group, Project};
use crate::error::{Diagnostic, Diagnostics};
use crate::options::{OutFileSpec, Spec};

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

/// Is `pattern` a glob rather than a plain lpid?
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The groups of `project` matching `pattern` (a plain lpid or a glob), as
/// indices into [`Project::groups`], in order of first appearance.
pub fn expand(project: &Project, pattern: &str) -> Vec<usize> {
    let glob = is_glob(pattern)
        .then(|| glob::Pattern::new(pattern).ok())
        .flatten();
    match glob {
        Some(p) => (0..project.groups.len())
            .filter(|&i| p.matches(&project.groups[i].lpid))
            .collect(),
        None => project.group_index(pattern).into_iter().collect(),
    }
}

/// What to add to an "unknown lpid" message for `pattern`: a glob that
/// matched nothing is said to be one.
pub fn no_match_hint(pattern: &str) -> &'static str {
    if is_glob(pattern) {
        " (the glob matches no lpid)"
    } else {
        ""
    }
}

/// Does `path` stay inside the current directory, lexically?
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

/// Tangle every out_file group of `project`.
pub fn tangle(project: &Project, allow_outside: bool) -> Result<Vec<TangledFile>, Diagnostics> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (index, group) in project.groups.iter().enumerate() {
        let Spec::OutFile(spec) = &group.spec else {
            continue;
        };
        let path = PathBuf::from(&spec.filepath);
        if !allow_outside && !stays_inside(&path) {
            errors.push(Diagnostic::new(
                &group.path,
                group.line,
                format!(
                    "out_file '{}' would be written outside the current directory (use --allow-outside to permit it)",
                    spec.filepath
                ),
            ));
            continue;
        }
        let mut text = String::new();
        let mut stack = vec![group.lpid.as_str()];
        if let Err(e) = collect(project, group, spec, &mut text, &mut stack) {
            errors.extend(e);
            continue;
        }
        match encode(&text, spec.encoding.as_deref()) {
            Ok(contents) => files.push(TangledFile {
                group: index,
                path,
                contents,
                executable: spec.is_executable,
            }),
            Err(message) => errors.push(Diagnostic::new(
                &group.path,
                group.line,
                format!("out_file '{}': {message}", spec.filepath),
            )),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(Diagnostics(errors))
    }
}

fn collect<'p>(
    project: &'p Project,
    group: &'p Group,
    spec: &'p OutFileSpec,
    text: &mut String,
    stack: &mut Vec<&'p str>,
) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    for input in &spec.inputs {
        let matched = expand(project, input);
        if matched.is_empty() {
            errors.push(Diagnostic::new(
                &group.path,
                group.line,
                format!(
                    "unknown input '{input}' of out_file '{}'{}",
                    spec.filepath,
                    no_match_hint(input)
                ),
            ));
            continue;
        }
        for g in matched.into_iter().map(|i| &project.groups[i]) {
            if let Spec::OutFile(inner) = &g.spec {
                if stack.contains(&g.lpid.as_str()) {
                    errors.push(Diagnostic::new(
                        &group.path,
                        group.line,
                        format!(
                            "out_file inputs form a cycle: {} -> {}",
                            stack.join(" -> "),
                            g.lpid
                        ),
                    ));
                    continue;
                }
                stack.push(&g.lpid);
                collect(project, g, inner, text, stack)?;
                stack.pop();
            } else {
                text.push_str(&project.code(g));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
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
            "t.md:1: unknown input 'nope' of out_file 'out.py'"
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
    fn encodings() {
        assert_eq!(encode("é", Some("latin1")).unwrap(), vec![0xe9]);
        assert_eq!(encode("a", Some("utf-16le")).unwrap(), vec![b'a', 0]);
        assert!(encode("世", Some("latin1")).is_err());
    }
}
