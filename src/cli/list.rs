//! `litprog list`: print the groups of the documents.

use serde_json::{Value, json};

use crate::document::{BlockRef, Group, Project};
use crate::files::LoadedProject;
use crate::options::Spec;

/// The groups of the selected documents (every group with a block or
/// its declaration in one).
fn listed(loaded: &LoadedProject) -> impl Iterator<Item = &Group> {
    let project: &Project = &loaded.project;
    project.groups.iter().filter(|g| {
        g.blocks
            .iter()
            .chain(&g.declaration)
            .any(|b| loaded.selected[b.doc])
    })
}

/// `path:line` of the first block of the group in each document it spans,
/// in order (its declaration counts as a block).
fn spans(project: &Project, g: &Group) -> Vec<String> {
    let mut refs: Vec<BlockRef> = g.declaration.iter().chain(&g.blocks).copied().collect();
    refs.sort();
    refs.dedup_by_key(|r| r.doc);
    refs.into_iter().map(|r| project.location(r)).collect()
}

/// The groups as the JSON array `list --json` prints.
pub fn to_json(loaded: &LoadedProject) -> Value {
    Value::Array(
        listed(loaded)
            .map(|g| {
                let mut o = json!({
                    "lpid": g.lpid,
                    "lptype": g.lptype.as_str(),
                    "blocks": g.blocks.len(),
                    "file": g.path.display().to_string(),
                    "line": g.line,
                    "spans": spans(&loaded.project, g),
                });
                if let Spec::OutFile(f) = &g.spec {
                    o["filepath"] = json!(f.filepath);
                    o["inputs"] = json!(f.inputs);
                }
                if let Spec::Session(s) = &g.spec {
                    o["command"] = json!(s.command.0);
                    o["requires"] = json!(s.requires);
                }
                o
            })
            .collect(),
    )
}

/// The groups as an aligned table, one line each.
pub fn to_text(loaded: &LoadedProject) -> String {
    let rows: Vec<[String; 5]> = listed(loaded)
        .map(|g| {
            let detail = match &g.spec {
                Spec::OutFile(f) => format!("-> {} <- {}", f.filepath, f.inputs.join(", ")),
                Spec::Session(s) if !s.requires.is_empty() => {
                    format!(
                        "{} (requires {})",
                        s.command.0.join(" "),
                        s.requires.join(", ")
                    )
                }
                Spec::Session(s) => s.command.0.join(" "),
                _ => String::new(),
            };
            let blocks = match g.blocks.len() {
                1 => "1 block".to_string(),
                n => format!("{n} blocks"),
            };
            [
                g.lpid.clone(),
                g.lptype.as_str().to_string(),
                blocks,
                spans(&loaded.project, g).join(", "),
                detail,
            ]
        })
        .collect();
    let mut widths = [0; 4];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (w, cell) in widths.iter().zip(&row) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        line.push_str(&row[4]);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
