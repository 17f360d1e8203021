//! Fuzz the Markdown parser and the result block rewrite.
//!
//! On any input: `Document::parse` does not panic, and `markdown::fences`
//! equals `markdown::fences_in_one_parse`. On input that parses, removing
//! every owned result block, and putting a result block after every
//! session code block (with lines taken from the input itself, so fences,
//! `>`, tabs, carriage returns and NUL all turn up), must keep
//! every byte outside the owned result blocks, give back a document with
//! the same groups, and be idempotent.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use litprog::document::{Document, Project, Role};
use litprog::result_block;
use litprog::writeback::{self, Wanted};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // Parsing only the chunks that can hold a fence finds what one parse
    // of the whole text finds.
    assert_eq!(
        litprog::markdown::fences(&text),
        litprog::markdown::fences_in_one_parse(&text)
    );
    let Ok(doc) = Document::parse(Path::new("fuzz.md"), text.clone()) else {
        return;
    };
    let lines: Vec<String> = text.lines().take(6).map(str::to_string).collect();
    let all_none = check(&doc, |_| None);
    // Removing what is not there changes nothing; removing twice is once.
    if owners(&doc).is_empty() {
        assert_eq!(all_none, text);
    }
    check(&doc, |n| Some(lines[..lines.len().min(n + 1)].to_vec()));
    check(&doc, |n| (n % 2 == 0).then(|| lines.clone()));
});

/// Code blocks that can own a result block.
fn owners(doc: &Document) -> Vec<usize> {
    doc.blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.role == Role::Code && b.lpid.is_some())
        .map(|(i, _)| i)
        .collect()
}

fn parse(text: &str) -> Document {
    Document::parse(Path::new("fuzz.md"), text.to_string())
        .unwrap_or_else(|e| panic!("the rewritten document does not parse: {e}\n{text:?}"))
}

/// The text with every owned result block removed.
fn strip(doc: &Document) -> String {
    let wanted: Wanted = owners(doc).into_iter().map(|b| (b, None)).collect();
    writeback::rewrite(doc, &wanted)
}

fn groups(doc: &Document) -> Option<Vec<(String, String)>> {
    let project = Project::new(vec![doc.clone()]).ok()?;
    Some(
        project
            .groups
            .iter()
            .map(|g| (g.lpid.clone(), project.code(g)))
            .collect(),
    )
}

/// Rewrite `doc` with `wish(n)` for its n-th session code block, check the
/// invariants, and return the rewritten text.
fn check(doc: &Document, wish: impl Fn(usize) -> Option<Vec<String>>) -> String {
    let before_owners = owners(doc);
    let wanted: Wanted = before_owners
        .iter()
        .enumerate()
        .map(|(n, &b)| (b, wish(n)))
        .collect();
    let new_text = writeback::rewrite(doc, &wanted);
    let new = parse(&new_text);

    // Bytes outside owned result blocks are kept (a final line ending may
    // be added before a result block inserted at the very end).
    let before = strip(doc);
    let after = strip(&new);
    assert!(
        after == before
            || (!before.ends_with('\n')
                && (after == format!("{before}\n") || after == format!("{before}\r\n"))),
        "bytes outside result blocks changed\n{:?}\n{new_text:?}",
        doc.text
    );
    let again = strip(&parse(&after));
    assert_eq!(again, after, "stripping is not idempotent");

    // The same groups with the same code.
    let old_groups = groups(doc);
    if old_groups.is_some() {
        assert_eq!(old_groups, groups(&new), "groups changed\n{new_text:?}");
    }

    // Results where wanted, and a second rewrite is a no-op.
    let new_owners = owners(&new);
    assert_eq!(before_owners.len(), new_owners.len());
    let rekeyed: Wanted = new_owners
        .iter()
        .enumerate()
        .map(|(n, &b)| (b, wish(n)))
        .collect();
    for (&b, w) in &rekeyed {
        assert_eq!(
            result_block::existing_result(&new, b).is_some(),
            w.is_some(),
            "result block of block {b} not as wanted\n{new_text:?}"
        );
    }
    assert_eq!(
        writeback::rewrite(&new, &rekeyed),
        new_text,
        "a second rewrite is not a no-op"
    );
    new_text
}
