//! Option blocks (issue 10, points 7, 8 and 19): which yaml, json and toml
//! blocks are option blocks, the exact line of every option error, and
//! linear reading with a nesting limit.

use std::time::{Duration, Instant};

use crate::util::*;

/// Run `litprog ARGS` expecting a document error: exit 2, no panic, and no
/// file changed.
#[track_caller]
fn fails(dir: &TestDir, args: &[&str]) -> Run {
    let before = dir.snapshot();
    let run = dir.litprog(args).status(2);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(dir.snapshot() == before, "a failed run changed files");
    run
}

/// A document whose option block is `block` (a fenced block), followed by
/// one bash block of the session `s` and its stale result.
fn doc_with(block: &str) -> String {
    format!("# Doc\n\n{block}\n```bash lpid=s\necho fresh\n```\n\n```text lpout=s\nstale\n```\n")
}

// ------------------------------------------------- point 7: which blocks

#[test]
fn a_json_option_block_with_a_trailing_comma_is_an_error_at_its_line() {
    // `lptype` is not the first key: once this was an ordinary example, the
    // session never ran and `check` passed over the stale result.
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        doc_with("```json\n{\"lpid\": \"s\", \"lptype\": \"session\", \"timeout\": 5,}\n```\n"),
    );
    for cmd in ["list", "build", "check"] {
        fails(&dir, &[cmd]).stderr_has("doc.md:4: invalid json option block: ");
    }
}

#[test]
fn a_syntax_error_before_lptype_does_not_make_an_option_block_an_example() {
    // An unclosed bracket before the `lptype` line: the parser never reads
    // that key, and the block used to become an example, so the session
    // never ran and `check` passed.
    for (block, at) in [
        (
            "```yaml\nlpid: s\ntimeout: [5\nlptype: session\n```\n",
            "doc.md:6: invalid yaml option block",
        ),
        (
            "```yaml\nlpid: s\n  timeout: 5\nlptype: session\n```\n",
            "doc.md:5: invalid yaml option block",
        ),
        (
            "```toml\nlpid = \"s\"\ntimeout = [5\nlptype = \"session\"\n```\n",
            "doc.md:6: invalid toml option block",
        ),
    ] {
        let dir = TestDir::new();
        dir.write("doc.md", doc_with(block));
        for cmd in ["list", "build", "check"] {
            fails(&dir, &[cmd]).stderr_has(at);
        }
    }
}

#[test]
fn a_repeated_key_in_an_option_block_is_an_error_naming_its_line() {
    let dir = TestDir::new();
    let blocks = [
        (
            "```json\n{\"lpid\":\"s\",\"lptype\":\"session\",\"lptype\":\"out_file\"}\n```\n",
            "doc.md:4:",
        ),
        (
            "```json\n{\n  \"lpid\": \"s\",\n  \"lptype\": \"session\",\n  \"env\": {\"A\": \"1\",\n          \"A\": \"2\"}\n}\n```\n",
            "doc.md:8:",
        ),
        (
            "```yaml\nlpid: s\nlptype: session\ntimeout: 5\ntimeout: 6\n```\n",
            "doc.md:7:",
        ),
        (
            "```yaml\n{lpid: s, lptype: session, lpid: t}\n```\n",
            "doc.md:4:",
        ),
        (
            "```toml\nlpid = \"s\"\nlptype = \"session\"\nlpid = \"t\"\n```\n",
            "doc.md:6:",
        ),
    ];
    for (block, at) in blocks {
        dir.write("doc.md", doc_with(block));
        fails(&dir, &["list"])
            .stderr_has(at)
            .stderr_has("option block");
    }
}

#[test]
fn option_keys_in_any_order_and_layout_make_an_option_block() {
    let blocks = [
        "```yaml\nlpid: s\ntimeout: 5\nlptype: session\n```\n",
        "```yaml\n{lpid: s, timeout: 5, lptype: session}\n```\n",
        "```yaml\n{\n  \"lpid\": \"s\",\n  \"timeout\": 5,\n  \"lptype\": \"session\",\n}\n```\n",
        "```json\n{\"lpid\": \"s\", \"timeout\": 5, \"lptype\": \"session\"}\n```\n",
        "```toml\nlpid = \"s\"\ntimeout = 5\nlptype = \"session\"\n```\n",
    ];
    for block in blocks {
        let dir = TestDir::new();
        dir.write("doc.md", doc_with(block));
        dir.litprog(&["build"]).success();
        let text = dir.read("doc.md");
        assert!(text.contains("```text lpout=s\nfresh\n"), "{block}\n{text}");
    }
}

#[test]
fn a_broken_example_that_mentions_option_keys_deep_inside_stays_an_example() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        "# Config\n\n```yaml\nservices:\n  web:\n    filepath: [\n```\n\n\
         ```json\n{\"steps\": [{\"filepath\": \"x\",}\n```\n\n\
         ```toml\n[tool]\nfilepath = \n```\n\n```bash lpid=a\necho a\n```\n",
    );
    let run = dir.litprog(&["list"]).success();
    run.stdout_has("a ");
}

// --------------------------------------------- point 8: exact key lines

#[test]
fn a_toml_string_that_looks_like_a_table_header_does_not_move_the_error() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        doc_with(
            "```toml\nlpid = \"s\"\nlptype = \"session\"\ncommand = \"\"\"\n[not.a.table]\nx = 1\n[nor.this]\n\"\"\"\ntimeout = \"soon\"\n```\n",
        ),
    );
    fails(&dir, &["build"]).stderr_has("doc.md:11: option 'timeout' must be a number of seconds");
}

#[test]
fn option_errors_point_at_their_key_in_flow_layouts() {
    let blocks = [
        "```json\n{\"lpid\": \"s\", \"lptype\": \"session\",\n \"command\": [\"bash\"], \"timeout\": \"soon\"}\n```\n",
        "```yaml\n{lpid: s, lptype: session,\n  command: [bash], timeout: soon}\n```\n",
    ];
    let dir = TestDir::new();
    dir.write("doc.md", doc_with(blocks[0]));
    fails(&dir, &["build"]).stderr_has("doc.md:5: option 'timeout'");
    dir.write("doc.md", doc_with(blocks[1]));
    fails(&dir, &["build"]).stderr_has("doc.md:5: option 'timeout'");
}

#[test]
fn yaml_syntax_errors_point_at_their_line() {
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        doc_with("```yaml\nlpid: s\nlptype: session\ncommand: [bash,\n  \"-e\"\ntimeout: 5\n```\n"),
    );
    // The list is never closed: the error is where it cannot go on.
    fails(&dir, &["list"]).stderr_has("doc.md:8: invalid yaml option block: invalid indentation");
    // A closing bracket at column 0, which YAML 1.2 refuses, is read as
    // libyaml (and the original litprog) read it.
    dir.write(
        "doc.md",
        doc_with("```yaml\nlpid: s\nlptype: session\ncommand: [\"bash\",\n  \"-e\",\n]\n```\n"),
    );
    dir.litprog(&["list"]).success().stdout_has("s");
}

// --------------------------------- point 19: linear time, nesting limit

/// Time `litprog list` on `doc`, which must exit with `status`.
fn timed_list(doc: &str, status: i32) -> (Run, Duration) {
    let dir = TestDir::new();
    dir.write("doc.md", doc);
    let start = Instant::now();
    let run = dir.litprog(&["list"]).status(status);
    (run, start.elapsed())
}

#[test]
fn an_option_block_with_20000_keys_is_read_in_linear_time() {
    let yaml: String = (0..20_000).map(|i| format!("k{i}: {i}\n")).collect();
    let json: Vec<String> = (0..20_000).map(|i| format!("\"k{i}\": {i}")).collect();
    let toml: String = (0..20_000).map(|i| format!("k{i} = {i}\n")).collect();
    let docs = [
        format!("```yaml\nlpid: s\nlptype: meta\n{yaml}```\n"),
        format!(
            "```json\n{{\"lpid\": \"s\", \"lptype\": \"meta\",\n{}}}\n```\n",
            json.join(",\n")
        ),
        format!("```toml\nlpid = \"s\"\nlptype = \"meta\"\n{toml}```\n"),
        // Unknown keys of a session: 20,000 warnings, each at its line.
        format!("```yaml\nlpid: s\nlptype: session\ncommand: [bash]\n{yaml}```\n"),
    ];
    for doc in &docs {
        let (run, took) = timed_list(doc, 0);
        run.stdout_has("s ");
        // Read in quadratic time, these took minutes in a debug build; in
        // linear time they end far below the bound, which leaves room for a
        // loaded machine.
        assert!(took < Duration::from_secs(30), "took {took:?}");
    }
    let (run, _) = timed_list(&docs[3], 0);
    run.stderr_has("doc.md:20004: unknown option 'k19999'");
}

#[test]
fn nesting_past_the_limit_is_a_document_error_found_fast() {
    let deep = "[".repeat(200_000);
    let docs = [
        (
            format!("# T\n\n```yaml\nlpid: s\nlptype: session\nx: {deep}\n```\n"),
            6,
        ),
        (
            format!(
                "# T\n\n```yaml\nlpid: s\nlptype: session\nx:\n  {}\n```\n",
                "- ".repeat(200_000)
            ),
            7,
        ),
        (
            format!(
                "# T\n\n```yaml\nlpid: s\nlptype: session\nx: {}\n```\n",
                "{a: ".repeat(200_000)
            ),
            6,
        ),
        (
            format!(
                "# T\n\n```json\n{{\"lpid\": \"s\", \"lptype\": \"session\",\n\"x\": {deep}\n```\n"
            ),
            5,
        ),
        (
            format!("# T\n\n```toml\nlpid = \"s\"\nlptype = \"session\"\nx = {deep}\n```\n"),
            6,
        ),
    ];
    for (doc, line) in &docs {
        let (run, took) = timed_list(doc, 2);
        run.stderr_has(&format!("doc.md:{line}: "))
            .stderr_has("nested more than 64 levels deep");
        // The limit is found before the depth costs anything: once past a
        // hundred seconds for YAML, now far below the bound.
        assert!(took < Duration::from_secs(30), "took {took:?}");
    }
    // 64 levels are within the limit.
    let ok = format!(
        "```yaml\nlpid: s\nlptype: meta\nx: {}{}\n```\n",
        "[".repeat(63),
        "]".repeat(63)
    );
    timed_list(&ok, 0);
}
