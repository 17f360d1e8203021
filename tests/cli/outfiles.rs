//! Tests of the files litprog writes: out_file targets (documents, links,
//! odd paths, non-regular files), modes and owners, hand edits of tangled
//! files, and the cost of nested out_files.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::time::{Duration, Instant};

use crate::util::*;

/// An out_file `filepath` holding the raw block `a` (text `x`).
fn out_file(filepath: &str) -> String {
    format!("```yaml\nfilepath: {filepath}\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n")
}

#[test]
fn nested_out_files_take_linear_time() {
    // f(n) uses f(n-1) twice: 2^26 visits when each use is tangled anew.
    let t = TestDir::new();
    let mut text =
        String::from("```yaml\nfilepath: f/0\ninputs: [leaf]\n```\n\n```text lpid=leaf\n```\n\n");
    for n in 1..=26 {
        text += &format!(
            "```yaml\nfilepath: f/{n}\ninputs: [f/{m}, f/{m}]\n```\n\n",
            m = n - 1
        );
    }
    t.write("doc.md", &text);
    let start = Instant::now();
    t.litprog(&["build"]).success();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(t.read("f/26"), "");
}
