//! `litprog mdbook`: the mdBook preprocessor, driven through its JSON
//! protocol as mdBook 0.5 drives it (a `[context, book]` pair on stdin,
//! the book on stdout).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::util::*;

/// The `[context, book]` pair mdBook 0.5 sends for a book rooted at `root`
/// whose chapters (under `src/`) are `(source path, content)`, with
/// `settings` as the `[preprocessor.litprog]` table.
fn input(root: &std::path::Path, settings: Value, chapters: &[(&str, &str)]) -> Value {
    let mut table = json!({"command": "litprog mdbook", "after": ["links"]});
    for (k, v) in settings.as_object().into_iter().flatten() {
        table[k] = v.clone();
    }
    let items: Vec<Value> = chapters
        .iter()
        .enumerate()
        .map(|(i, (path, content))| {
            json!({"Chapter": {
                "name": format!("Chapter {}", i + 1),
                "content": content,
                "number": [i + 1],
                "sub_items": [],
                "path": path,
                "source_path": path,
                "parent_names": [],
            }})
        })
        .collect();
    json!([
        {
            "root": root,
            "config": {
                "book": {"title": "Test", "authors": [], "language": "en"},
                "preprocessor": {"litprog": table},
            },
            "renderer": "html",
            "mdbook_version": "0.5.4",
        },
        {"items": items},
    ])
}

/// `litprog mdbook` in `t` with `input` on stdin.
fn preprocess(t: &TestDir, input: &Value) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_litprog"))
        .arg("mdbook")
        .current_dir(t.path())
        .env_remove("LITPROG_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn litprog mdbook");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The content of each chapter of the book on `run`'s stdout.
fn chapters(run: &Run) -> Vec<String> {
    let book: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not a book ({e}):\n{}", run.stdout));
    book["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["Chapter"]["content"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn supports_every_renderer() {
    let t = TestDir::new();
    t.litprog(&["mdbook", "supports", "html"]).success();
    t.litprog(&["mdbook", "supports", "markdown"]).success();
}

#[test]
fn a_book_without_litprog_blocks_comes_back_as_it_was() {
    let t = TestDir::new();
    let prose = "# Intro\n\nSome *prose*.\n\n```rust,ignore\nfn main() {}\n```\n";
    let input = input(t.path(), json!({}), &[("intro.md", prose)]);
    let run = preprocess(&t, &input).success();
    assert_eq!(chapters(&run), [prose]);
    let book: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(book, input[1]);
}

#[test]
fn input_that_is_not_mdbooks_is_an_error() {
    let t = TestDir::new();
    preprocess(&t, &json!({"not": "a book"}))
        .status(2)
        .stderr_has("not an mdBook preprocessor input");
}
