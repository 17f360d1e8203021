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

/// The source of a chapter with one bash session and a tangled script.
const SESSION: &str = "# Sessions\n\n```bash lpid=greet lptype=session\necho hello\n```\n\nprose\n";

#[test]
fn chapters_are_run_as_documents_and_get_their_results_without_being_written() {
    let t = TestDir::new();
    t.write("src/greet.md", SESSION);
    let tangle = "```yaml\nfilepath: tool.sh\ninputs: [code]\nis_executable: true\n```\n\n```bash lpid=code\necho tangled\n```\n\n```bash lpid=use lptype=session\n./tool.sh\n```\n";
    t.write("src/tool.md", tangle);
    let before = t.snapshot();
    let input = input(
        t.path(),
        json!({}),
        &[("greet.md", SESSION), ("tool.md", tangle)],
    );
    let run = preprocess(&t, &input).success();
    let got = chapters(&run);
    assert!(got[0].contains("```text\nhello\n```\n"), "{}", got[0]);
    // The out_file is tangled at the book root (the project root), and
    // the session that runs it sees it.
    assert!(got[1].contains("```text\ntangled\n```\n"), "{}", got[1]);
    assert_eq!(t.read("tool.sh"), "echo tangled\n");
    // The sources are never written.
    let after: Vec<_> = t
        .snapshot()
        .into_iter()
        .filter(|(p, _)| !p.ends_with("tool.sh") && !p.to_string_lossy().contains(".litprog"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn document_problems_name_the_chapters_source_path_and_exit_2() {
    let t = TestDir::new();
    let bad = "# Bad\n\n```bash lpid=s lptype=session timeout=soon\necho\n```\n";
    t.write("src/bad.md", bad);
    let run = preprocess(&t, &input(t.path(), json!({}), &[("part/bad.md", bad)]))
        .status(2)
        .stderr_has("src/part/bad.md:3: option 'timeout' must be");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

/// A chapter with every kind of litprog metadata.
const METADATA: &str = "# Demo

```yaml
lpid: opts
lptype: session
```

```bash
# lpid = opts
x=6
echo $((x * 7))
```

```bash lpid=sh lptype=session
echo hi
```

> ```bash lpid=q lptype=session
> echo quoted
> ```

```bash lpid=three lptype=session expected_exit_code=3
echo three; exit 3
```

```rust,ignore
fn main() {}
```

```bash lpignore
not run
```
";

#[test]
fn readers_see_code_and_results_without_litprogs_metadata() {
    let t = TestDir::new();
    t.write("src/demo.md", METADATA);
    let run = preprocess(&t, &input(t.path(), json!({}), &[("demo.md", METADATA)])).success();
    let got = &chapters(&run)[0];
    assert_eq!(
        got,
        "# Demo


```bash
x=6
echo $((x * 7))
```

```text
42
```

```bash
echo hi
```

```text
hi
```

> ```bash
> echo quoted
> ```
>
> ```text
> quoted
> ```

```bash
echo three; exit 3
```

```text
three
# exit: 3
```

```rust,ignore
fn main() {}
```

```bash
not run
```
"
    );
}

#[test]
fn each_part_of_the_view_is_a_setting_in_book_toml() {
    let t = TestDir::new();
    t.write("src/demo.md", METADATA);
    // Everything shown: the chapter is what `litprog build` writes.
    let all = json!({"show-options": true, "show-attributes": true, "show-status": "always"});
    let run = preprocess(&t, &input(t.path(), all, &[("demo.md", METADATA)])).success();
    t.litprog(&["build", "src/demo.md"]).success();
    assert_eq!(chapters(&run)[0], t.read("src/demo.md"));
    // No status line at all, and the attributes without the option lines.
    let some = json!({"show-status": "never", "show-attributes": true, "whatever": 1});
    let run = preprocess(&t, &input(t.path(), some, &[("demo.md", METADATA)]))
        .success()
        .stderr_has("book.toml: [preprocessor.litprog]: unknown key 'whatever'");
    let got = &chapters(&run)[0];
    assert!(got.contains("```text lpout=three\nthree\n```\n"), "{got}");
    assert!(
        got.contains("```bash lpid=sh lptype=session\necho hi\n```\n\n```text lpout=sh\nhi\n```\n"),
        "{got}"
    );
    assert!(
        !got.contains("# exit") && !got.contains("# lpid") && !got.contains("```yaml"),
        "{got}"
    );
    preprocess(
        &t,
        &input(t.path(), json!({"show-status": "sometimes"}), &[("demo.md", METADATA)]),
    )
    .status(2)
    .stderr_has("book.toml: [preprocessor.litprog] show-status must be \"failure\", \"always\" or \"never\", not \"sometimes\"");
}

const FAILING: &str =
    "# Failing\n\n```bash lpid=boom lptype=session\necho before\nexit 4\n```\n\nprose\n";

#[test]
fn a_failing_session_fails_the_book_with_litprogs_report() {
    let t = TestDir::new();
    t.write("src/fail.md", FAILING);
    let run = preprocess(&t, &input(t.path(), json!({}), &[("fail.md", FAILING)]))
        .status(1)
        .stderr_has("session 'boom' (src/fail.md:3) failed: exit 4 (expected 0)")
        .stderr_has("src/fail.md:4 | echo before")
        .stderr_has("1 of 1 sessions failed; the book was not built");
    assert!(run.stdout.is_empty(), "no book is written: {}", run.stdout);
}

#[test]
fn on_failure_warn_renders_the_failure_into_the_chapter() {
    let t = TestDir::new();
    t.write("src/fail.md", FAILING);
    let warn = json!({"on-failure": "warn"});
    let run = preprocess(&t, &input(t.path(), warn, &[("fail.md", FAILING)]))
        .success()
        .stderr_has("session 'boom' (src/fail.md:3) failed: exit 4 (expected 0)")
        .stderr_has("the failures are rendered into the chapters");
    assert_eq!(
        chapters(&run)[0],
        "# Failing\n\n```bash\necho before\nexit 4\n```\n\n```text\nbefore\n# exit: 4\n```\n\n> **litprog:** session `boom` (`src/fail.md:3`) failed: exit 4 (expected 0)\n\n\nprose\n"
    );
    // The note names the line in the chapter as written, not in the
    // chapter with the results of the sessions before it.
    let later = format!("```bash lpid=ok lptype=session\necho fine\n```\n\n{FAILING}");
    t.write("src/later.md", &later);
    let warn = json!({"on-failure": "warn"});
    let run = preprocess(&t, &input(t.path(), warn, &[("later.md", &later)]))
        .success()
        .stderr_has("session 'boom' (src/later.md:7) failed");
    let got = &chapters(&run)[0];
    assert!(got.contains("(`src/later.md:7`) failed: exit 4"), "{got}");
}

/// One session whose blocks hide different things (carried forward: the
/// blocks after the first belong to `s`).
const HIDING: &str = "# Setup

```bash lpid=s lptype=session hide=code
X=from-setup; echo setup done
```

```bash
echo \"visible $X\"
```

```bash hide=output
echo noisy
```

```bash hide=all
echo gone
```

```bash
echo last
```
";

#[test]
fn hide_is_a_block_option_one_block_of_a_session_hidden_while_others_show() {
    let t = TestDir::new();
    t.write("src/hide.md", HIDING);
    let run = preprocess(&t, &input(t.path(), json!({}), &[("hide.md", HIDING)])).success();
    assert_eq!(
        chapters(&run)[0],
        "# Setup\n\n\n```text\nsetup done\n```\n\n```bash\necho \"visible $X\"\n```\n\n```text\nvisible from-setup\n```\n\n```bash\necho noisy\n```\n\n\n\n\n```bash\necho last\n```\n\n```text\nlast\n```\n"
    );
    // `hide = false` in book.toml shows everything.
    let run = preprocess(
        &t,
        &input(t.path(), json!({"hide": false}), &[("hide.md", HIDING)]),
    )
    .success();
    let got = &chapters(&run)[0];
    assert!(
        got.contains("echo gone\n```\n\n```text\ngone\n```\n"),
        "{got}"
    );
    // Blocks of one group may differ: litprog build takes the document.
    t.litprog(&["build", "src/hide.md"]).success();
}

#[test]
fn a_bad_hide_value_is_an_error_at_its_line() {
    let t = TestDir::new();
    let bad = "```bash lpid=s lptype=session\necho\n```\n\n```bash hide=sometimes\necho\n```\n";
    t.write("src/bad.md", bad);
    let message =
        "src/bad.md:5: option 'hide' must be code, output, all or none, not \"sometimes\"";
    preprocess(&t, &input(t.path(), json!({}), &[("bad.md", bad)]))
        .status(2)
        .stderr_has(message);
    t.litprog(&["build", "src/bad.md"])
        .status(2)
        .stderr_has(message);
}

#[test]
fn an_unchanged_rebuild_starts_no_process_and_an_edit_reruns_only_its_session() {
    // As under `mdbook serve`: the preprocessor runs on every rebuild, and
    // the result cache decides what runs. Each session appends to a log.
    let t = TestDir::new();
    let chapter = |word: &str| {
        format!(
            "```bash lpid=a lptype=session\necho a >> runs.log\necho {word}\n```\n\n\
             ```bash lpid=b lptype=session\necho b >> runs.log\necho b\n```\n"
        )
    };
    let first = chapter("one");
    let run = |content: &str| preprocess(&t, &input(t.path(), json!({}), &[("ch.md", content)]));
    run(&first).success();
    assert_eq!(t.read("runs.log"), "a\nb\n");
    run(&first).success();
    assert_eq!(
        t.read("runs.log"),
        "a\nb\n",
        "an unchanged rebuild ran something"
    );
    let out = run(&chapter("two")).success();
    assert_eq!(
        t.read("runs.log"),
        "a\nb\na\n",
        "only the edited session reruns"
    );
    assert!(chapters(&out)[0].contains("two"), "{:?}", chapters(&out));
}
