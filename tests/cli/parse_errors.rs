//! Document errors found while parsing (issue 2): each names file:line and
//! the offending key or lpid, exits with status 2 and changes no file.

use crate::util::*;

/// Run `litprog ARGS` expecting a document or usage error: exit status 2,
/// nothing on stdout, no panic, and no file in the directory changed.
#[track_caller]
fn fails(dir: &TestDir, args: &[&str]) -> Run {
    let before = dir.snapshot();
    let run = dir.litprog(args).status(2);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "stdout of a failed run");
    assert!(dir.snapshot() == before, "a failed run changed files");
    run
}

/// `list`, `list --json` and `build` all reject the directory the same way.
#[track_caller]
fn every_command_fails(dir: &TestDir) -> Run {
    fails(dir, &["list", "--json"]);
    fails(dir, &["build"]);
    fails(dir, &["list"])
}

// ---------------------------------------------------------------- files

#[test]
fn non_utf8_file_named_on_the_command_line_is_an_error_naming_it() {
    // Found by scanning a directory, such a file is skipped with a warning
    // (`documents::undecodable_file_found_in_a_directory_is_skipped_with_a_warning`).
    let dir = TestDir::new();
    dir.write("good.md", "```sh lpid=a\nx\n```\n")
        .write("docs/latin1.md", b"# Caf\xe9\n\nok\n".as_slice());
    for args in [
        &["list", "--json", "docs/latin1.md"][..],
        &["build", "good.md", "docs/latin1.md"],
        &["list", "docs/latin1.md"],
    ] {
        fails(&dir, args)
            .stderr_has("docs/latin1.md:1:")
            .stderr_has("not valid UTF-8");
    }
}

#[test]
fn utf16_file_named_on_the_command_line_is_an_error_naming_it() {
    let dir = TestDir::new();
    let mut bytes = vec![0xff, 0xfe];
    for c in "```sh lpid=a\nx\n```\n".encode_utf16() {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    dir.write("wide.md", bytes);
    fails(&dir, &["list", "wide.md"]).stderr_has("wide.md");
}

#[test]
fn nul_byte_is_an_error_at_its_line() {
    let dir = TestDir::new();
    dir.write("a.md", "# T\n\nbad \0 byte\n");
    fails(&dir, &["list"]).stderr_has("a.md:3:");
}

#[test]
fn a_path_that_does_not_exist_is_an_error() {
    let dir = TestDir::new();
    dir.write("a.md", "```sh lpid=a\nx\n```\n");
    fails(&dir, &["list", "missing.md"]).stderr_has("missing.md");
    fails(&dir, &["list", "a.md", "no/such/dir"]).stderr_has("no/such/dir");
    fails(&dir, &["build", "missing.md"]).stderr_has("missing.md");
}

#[test]
fn a_directory_without_markdown_is_an_error() {
    let dir = TestDir::new();
    dir.write("notes.txt", "```sh lpid=a\nx\n```\n")
        .write(".hidden/a.md", "```sh lpid=a\nx\n```\n");
    fails(&dir, &["list"]).stderr_has("no Markdown files");
}

#[test]
fn usage_errors_exit_2() {
    let dir = TestDir::new();
    dir.write("a.md", "```sh lpid=a\nx\n```\n");
    fails(&dir, &["list", "--no-such-flag"]).stderr_has("--no-such-flag");
    fails(&dir, &["no-such-command"]);
    fails(&dir, &[]);
}

// ---------------------------------------------------------------- option blocks

#[test]
fn broken_yaml_option_block_is_an_error_at_its_line() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\ncommand: [python3\n```\n\ntext\n",
    );
    let run = every_command_fails(&dir);
    assert!(
        run.stderr.contains("doc.md:7: invalid yaml option block: ")
            || run.stderr.contains("doc.md:6: invalid yaml option block: "),
        "{}",
        run.stderr
    );
    // The parser's own message is carried.
    run.stderr_has("flow sequence");
}

#[test]
fn broken_yaml_option_block_reports_the_offending_line() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n  bad: indentation\nencoding: utf-8\n```\n",
    );
    fails(&dir, &["list"])
        .stderr_has("doc.md:4: invalid yaml option block: ")
        .stderr_has("did not find expected key");
}

#[test]
fn broken_toml_option_block_is_an_error_at_its_line() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        "intro\n\n```toml\nlptype = \"session\"\nlpid = \"s\"\ntimeout = \n```\n",
    );
    every_command_fails(&dir).stderr_has("doc.md:6: invalid toml option block: ");
    dir.write("doc.md", "```toml\nfilepath = out.txt\n```\n");
    fails(&dir, &["list"])
        .stderr_has("doc.md:2: invalid toml option block: ")
        .stderr_has("string values must be quoted");
}

#[test]
fn broken_json_option_block_is_an_error_at_its_line() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        "x\n\n```json\n{\"filepath\": \"out.txt\",\n \"inputs\": [}\n```\n",
    );
    every_command_fails(&dir)
        .stderr_has("doc.md:5: invalid json option block: ")
        .stderr_has("expected value (column 13)");
}

#[test]
fn option_block_without_an_lpid_is_an_error() {
    let dir = TestDir::new();
    dir.write("a.md", "\n```yaml\nlptype: session\ncommand: sh\n```\n");
    fails(&dir, &["list"])
        .stderr_has("a.md:2:")
        .stderr_has("lpid");
}

// ---------------------------------------------------------------- typed values

#[test]
fn timeout_soon_is_an_error_at_its_line() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\ntimeout: \"soon\"\n```\n",
    );
    every_command_fails(&dir)
        .stderr_has("a.md:6:")
        .stderr_has("'timeout'")
        .stderr_has("soon")
        .stderr_has("'s'");
    // Written as an info-string attribute, located at the fence.
    dir.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\n```\n\n```bash lpid=s timeout=soon\necho\n```\n",
    );
    fails(&dir, &["list"])
        .stderr_has("a.md:6:")
        .stderr_has("'timeout'");
}

#[test]
fn other_typed_value_errors_name_their_key_and_line() {
    let cases: &[(&str, &str)] = &[
        (
            "lptype: session\nlpid: s\nexpected_exit_code: zero\n",
            "expected_exit_code",
        ),
        ("lptype: session\nlpid: s\necho: maybe\n", "echo"),
        ("lptype: session\nlpid: s\nterm: 1\n", "term"),
        ("lptype: session\nlpid: s\nenv: [A, B]\n", "env"),
        ("lptype: session\nlpid: s\noutput: loud\n", "output"),
        (
            "lptype: session\nlpid: s\nmarker: no placeholder\n",
            "marker",
        ),
        ("lptype: session\nlpid: s\ninput_delay: -1\n", "input_delay"),
        ("lptype: session\nlpid: s\nencoding: klingon\n", "encoding"),
        ("lptype: session\nlpid: s\nrequires: 5\n", "requires"),
        (
            "lptype: session\nlpid: s\ncommand: \"python3 'unbalanced\"\n",
            "command",
        ),
        ("filepath: o.txt\ninputs: 7\n", "inputs"),
        ("filepath: o.txt\nis_executable: \"yes\"\n", "is_executable"),
        ("lptype: session\nlpid: s\ntimeout: 0\n", "timeout"),
    ];
    for (options, key) in cases {
        let dir = TestDir::new();
        dir.write("a.md", format!("# T\n\n```yaml\n{options}```\n"));
        let line = 3 + options.lines().count();
        let run = fails(&dir, &["list"]);
        assert!(
            run.stderr.contains(&format!("a.md:{line}:")) && run.stderr.contains(key),
            "{key}: expected a.md:{line} and the key in\n{}",
            run.stderr
        );
    }
}

#[test]
fn unknown_lptype_is_an_error() {
    let dir = TestDir::new();
    dir.write("a.md", "```yaml\nlpid: s\nlptype: sesion\n```\n");
    fails(&dir, &["list"])
        .stderr_has("a.md:3:")
        .stderr_has("sesion");
    dir.write("a.md", "```python\n# lpid = p\n# lptype = script\nx\n```\n");
    fails(&dir, &["list"])
        .stderr_has("a.md:3:")
        .stderr_has("script");
}

// ---------------------------------------------------------------- groups

#[test]
fn two_option_blocks_with_the_same_lpid_name_both_places() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\n```\n\ntext\n\n```toml\nlpid = \"s\"\nlptype = \"session\"\n```\n",
    );
    every_command_fails(&dir)
        .stderr_has("a.md:8:")
        .stderr_has("'s'")
        .stderr_has("a.md:1");
    // Across files: the later file is the one in error.
    let dir = TestDir::new();
    dir.write("b.md", "\n\n```yaml\nfilepath: out.txt\n```\n")
        .write("a.md", "```yaml\nfilepath: out.txt\n```\n");
    fails(&dir, &["list"])
        .stderr_has("b.md:3: lpid 'out.txt' is declared twice: here and at a.md:1");
}

#[test]
fn a_redeclared_option_names_both_places() {
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\ntimeout: 5\n```\n",
    )
    .write("b.md", "x\n\n```bash lpid=s timeout=6\necho\n```\n");
    every_command_fails(&dir)
        .stderr_has("b.md:3:")
        .stderr_has("'timeout'")
        .stderr_has("'s'")
        .stderr_has("a.md:4");
    // A comment option that contradicts the option block.
    let dir = TestDir::new();
    dir.write(
        "a.md",
        "```yaml\nlpid: s\nlptype: session\n```\n\n```bash\n# lpid = s\n# lptype = raw_block\necho\n```\n",
    );
    fails(&dir, &["list"])
        .stderr_has("a.md:8:")
        .stderr_has("'lptype'")
        .stderr_has("a.md:3");
}

#[test]
fn unclosed_fence_of_a_group_is_an_error() {
    let dir = TestDir::new();
    dir.write("a.md", "# T\n\n```sh lpid=a\necho never closed\n");
    fails(&dir, &["list"])
        .stderr_has("a.md:3:")
        .stderr_has("'a'");
}

#[test]
fn empty_lpid_is_an_error() {
    let dir = TestDir::new();
    dir.write("a.md", "```yaml\nlpid: \"\"\nlptype: session\n```\n");
    fails(&dir, &["list"]).stderr_has("a.md:2:");
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let dir = TestDir::new();
    dir.write("a.md", b"\xff\n".as_slice())
        .write(
            "b.md",
            "```yaml\nlptype: session\nlpid: s\ntimeout: [\n```\n",
        )
        .write(
            "c.md",
            "```yaml\nlpid: t\nlptype: session\noutput: loud\n```\n",
        );
    let run = fails(&dir, &["list", "a.md", "b.md", "c.md"]);
    run.stderr_has("a.md:1:")
        .stderr_has("b.md:")
        .stderr_has("invalid yaml option block");
}

#[test]
fn odd_documents_never_panic() {
    let docs: &[&str] = &[
        "",
        "```",
        "```\n",
        "~~~",
        "> ```yaml\n> lptype: session",
        "- ```sh lpid=a\n  x",
        "```yaml\nfilepath:\n```\n",
        "```yaml\nfilepath: 5\n```\n",
        "```yaml\nfilepath: [a]\n```\n",
        "```yaml\nlptype: [session]\nlpid: x\n```\n",
        "```yaml\nlpid: {a: 1}\nlptype: session\n```\n",
        "```json\n{\"lptype\": null, \"lpid\": \"n\"}\n```\n",
        "```python lpid=\n```\n",
        "```python lpid='unbalanced\nx\n```\n",
        "```python lpout=\n```\n",
        "\u{feff}",
        "\r\n```\r\n\r",
        "```yaml\nfilepath: \"\"\n```\n",
        "```css\n/* lpid = */\n```\n",
        "```html\n<!-- lpid = x\n```\n",
        "```yaml\nlptype: meta\nlpid: m\n```\n\n```sh lpid=m\nx\n```\n",
    ];
    for text in docs {
        let dir = TestDir::new();
        dir.write("a.md", text);
        let before = dir.snapshot();
        let run = dir.litprog(&["list"]);
        assert!(
            matches!(run.status, 0 | 2) && !run.stderr.contains("panicked"),
            "{text:?}: {run:?}"
        );
        if run.status == 2 {
            assert!(run.stderr.contains("a.md"), "{text:?}: {}", run.stderr);
        }
        assert!(dir.snapshot() == before);
    }
}

/// Regression: an option block whose `filepath` was null or a list was
/// dropped without a word (no group, exit 0).
#[test]
fn option_block_with_a_non_string_filepath_is_an_error() {
    for value in ["", " [a]", " 5", " \"\""] {
        let dir = TestDir::new();
        dir.write(
            "a.md",
            format!("# T\n\n```yaml\nfilepath:{value}\ninputs: [x]\n```\n"),
        );
        fails(&dir, &["list"])
            .stderr_has("a.md:4:")
            .stderr_has("'filepath'");
    }
}
