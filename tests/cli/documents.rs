//! Documents that litprog must read without losing a byte (issue 10,
//! points 1 to 6): broken result blocks, result blocks in other
//! containers, odd gap lines, empty and undecodable files, exotic lpids.

use crate::util::*;

/// `litprog ARGS` expecting a document error: exit status 2, no panic,
/// and no file in the directory changed.
#[track_caller]
fn refused(dir: &TestDir, args: &[&str]) -> Run {
    let before = dir.snapshot();
    let run = dir.litprog(args).status(2);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(dir.snapshot() == before, "a refused run changed files");
    run
}

/// `build` and `check` both refuse the directory and change nothing.
#[track_caller]
fn build_and_check_refuse(dir: &TestDir, messages: &[&str]) {
    for cmd in ["build", "check"] {
        let run = refused(dir, &[cmd]);
        for m in messages {
            assert!(
                run.stderr.contains(m),
                "{cmd}: stderr lacks {m:?}\n{}",
                run.stderr
            );
        }
    }
}

const SESSION: &str = "# T\n\n```bash lpid=s lptype=session\necho hi\n```\n\n";

// ------------------------------------------------------- 1: unclosed result

#[test]
fn unclosed_result_block_is_an_error_at_its_fence_and_nothing_is_written() {
    // The closing fence was deleted by accident: the block runs to the end
    // of the file, and the build replaced every chapter after it.
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        format!("{SESSION}```text lpout=s\nold\n\n# Chapter 2\n\nLots of prose.\n"),
    );
    build_and_check_refuse(
        &dir,
        &["doc.md:7: result block of 's' has no closing fence"],
    );
    // In a list item the block ends with the item, unclosed just the same.
    dir.write(
        "doc.md",
        "- step\n\n  ```bash lpid=s lptype=session\n  echo hi\n  ```\n\n  ~~~text lpout=s\n  old\n\nprose\n",
    );
    build_and_check_refuse(
        &dir,
        &["doc.md:7: result block of 's' has no closing fence"],
    );
}

// ---------------------------------------------- 2: result swallowing a fence

#[test]
fn result_block_closed_by_a_later_fence_is_an_error_naming_both_lines() {
    // The result block's closing fence is missing and the bare fence of a
    // later code block closes it: the prose and the block in between were
    // deleted by the build.
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        format!(
            "{SESSION}```text lpout=s\nold\n\nProse between.\n\n```python lpid=p\nprint(1)\n```\n\nEnd.\n"
        ),
    );
    build_and_check_refuse(
        &dir,
        &[
            "doc.md:7: result block of 's' is not closed before line 12",
            "```python lpid=p",
        ],
    );
    // Tildes, a longer fence and a block quote: the same.
    dir.write(
        "doc.md",
        "> ```bash lpid=s lptype=session\n> echo hi\n> ```\n>\n> ~~~~text lpout=s\n> old\n>\n> ~~~~~bash lpid=x\n> echo x\n> ~~~~~\n",
    );
    build_and_check_refuse(
        &dir,
        &["doc.md:5: result block of 's' is not closed before line 8"],
    );
}

#[test]
fn result_block_holding_shorter_fences_is_litprogs_own() {
    // litprog writes a longer fence around output that holds fences; such
    // a block is replaced as usual.
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        format!("{SESSION}````text lpout=s\n```python\n~~~~~ x\n````\n\nEnd.\n"),
    );
    dir.litprog(&["build"]).success();
    assert_eq!(
        dir.read("doc.md"),
        format!("{SESSION}```text lpout=s\nhi\n# exit: 0\n```\n\nEnd.\n")
    );
}

// ------------------------------------------- 3: result in another container

#[test]
fn result_block_in_the_next_list_item_is_not_the_code_blocks_and_keeps_its_marker() {
    // Code in item 1, a result block the first thing of item 2: the build
    // took it for the code block's and deleted item 2's marker, turning
    // three items into two. It is not that block's result: a new one goes
    // into item 1, and item 2 keeps every byte.
    for (first, second, third) in [
        ("- ", "- ", "- "),
        ("* ", "* ", "* "),
        ("1. ", "2. ", "3. "),
    ] {
        let pad = " ".repeat(first.len());
        let code = format!(
            "{first}item one\n\n{pad}```bash lpid=s lptype=session\n{pad}echo hi\n{pad}```\n"
        );
        let rest = format!("{second}```text lpout=s\n{pad}old\n{pad}```\n{third}item three\n");
        let dir = TestDir::new();
        dir.write("doc.md", format!("{code}{rest}"));
        dir.litprog(&["build"]).success();
        let want =
            format!("{code}\n{pad}```text lpout=s\n{pad}hi\n{pad}# exit: 0\n{pad}```\n{rest}");
        assert_eq!(dir.read("doc.md"), want, "{first:?}");
        // And that is stable.
        dir.litprog(&["build"]).success();
        assert_eq!(dir.read("doc.md"), want, "{first:?}");
        dir.litprog(&["check"]).success();
    }
}

#[test]
fn result_block_in_another_block_quote_is_not_the_code_blocks() {
    // An empty line (no `>`) ends the quote: the `> ` lines after it are a
    // second quote, and removing its first line would merge the two.
    let code = "> ```bash lpid=s lptype=session\n> echo hi\n> ```\n";
    let rest = "\n> ```text lpout=s\n> old\n> ```\n> more quoted prose\n";
    let dir = TestDir::new();
    dir.write("doc.md", format!("{code}{rest}"));
    // The block in the second quote is stale (it follows no code block of
    // 's'): its own lines go, and the second quote keeps its prose.
    dir.litprog(&["build"])
        .success()
        .stderr_has("removed stale result block doc.md:5");
    let want =
        format!("{code}>\n> ```text lpout=s\n> hi\n> # exit: 0\n> ```\n\n> more quoted prose\n");
    assert_eq!(dir.read("doc.md"), want);
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("doc.md"), want);
}

// ---------------------------------------------------------- 4: gap lines

#[test]
fn only_blank_gap_lines_go_with_a_result_block() {
    let code =
        "```yaml\nlpid: s\nlptype: session\noutput: none\n```\n\n```bash lpid=s\necho hi\n```\n";
    // Spaces and tabs are blank: the gap goes with the removed result.
    let dir = TestDir::new();
    dir.write(
        "doc.md",
        format!("{code} \t\n\n```text lpout=s\nold\n```\nEnd.\n"),
    );
    dir.litprog(&["build"]).success();
    assert_eq!(dir.read("doc.md"), format!("{code}End.\n"));
    // A line holding U+00A0 is text, not a blank line: it used to be
    // deleted with the result block. The block after it is not the code
    // block's: it is stale, and only its own lines are removed.
    let nbsp = format!("{code}\u{a0}\n```text lpout=s\nold\n```\nEnd.\n");
    dir.write("doc.md", &nbsp);
    dir.litprog(&["build"])
        .success()
        .stderr_has("removed stale result block doc.md:11");
    assert_eq!(dir.read("doc.md"), format!("{code}\u{a0}\nEnd.\n"));
    // Nor between stacked copies of a result block.
    let session = "```bash lpid=s lptype=session\necho hi\n```\n";
    let fresh = "\n```text lpout=s\nhi\n# exit: 0\n```\n";
    let rest = "\u{a0}\u{2003}\n\n```text lpout=s\nolder\n```\nEnd.\n";
    dir.write("doc.md", format!("{session}{fresh}{rest}"));
    dir.litprog(&["build"]).success();
    assert_eq!(
        dir.read("doc.md"),
        format!("{session}{fresh}\u{a0}\u{2003}\n\nEnd.\n")
    );
}

// ------------------------------------------- 5: empty and undecodable files

#[test]
fn empty_white_space_and_bom_only_documents_are_documents_without_blocks() {
    // Placeholder chapters: any of them made every command exit 2 for the
    // whole tree.
    let empties: [(&str, &[u8]); 5] = [
        ("empty.md", b""),
        ("blank.md", b"  \n\t\n\n"),
        ("crlf.md", b"\r\n\r\n"),
        ("bom.md", b"\xef\xbb\xbf"),
        ("chapters/bom-newline.markdown", b"\xef\xbb\xbf\n"),
    ];
    let dir = TestDir::new();
    dir.write("doc.md", SESSION);
    for (name, bytes) in empties {
        dir.write(name, bytes);
    }
    dir.litprog(&["list"]).success();
    dir.litprog(&["check"]).status(1);
    dir.litprog(&["build"])
        .success()
        .stderr_has("updated doc.md");
    assert!(dir.read("doc.md").contains("```text lpout=s\nhi\n"));
    dir.litprog(&["check"]).success();
    for (name, bytes) in empties {
        assert_eq!(dir.read_bytes(name), bytes, "{name}");
        // Named on the command line too.
        dir.litprog(&["build", name]).success();
        dir.litprog(&["list", "--json", name]).success();
    }
}

#[test]
fn undecodable_file_found_in_a_directory_is_skipped_with_a_warning() {
    let dir = TestDir::new();
    dir.write("doc.md", SESSION)
        .write("docs/latin1.md", b"# Caf\xe9\n\nok\n".as_slice());
    let mut utf16 = vec![0xff, 0xfe];
    for c in "```sh lpid=a\nx\n```\n".encode_utf16() {
        utf16.extend_from_slice(&c.to_le_bytes());
    }
    dir.write("wide.md", &utf16);
    for args in [&["list"][..], &["build"], &["check"], &["build", "."]] {
        dir.litprog(args)
            .success()
            .stderr_has("docs/latin1.md:1: not valid UTF-8 (byte 5); skipped")
            .stderr_has("wide.md:1: not valid UTF-8 (byte 0); skipped");
    }
    assert!(dir.read("doc.md").contains("```text lpout=s\nhi\n"));
    assert_eq!(dir.read_bytes("docs/latin1.md"), b"# Caf\xe9\n\nok\n");
    assert_eq!(dir.read_bytes("wide.md"), utf16);
    // Named on the command line, it stays an error, also when a directory
    // holding it is named as well.
    for args in [
        &["build", "docs/latin1.md"][..],
        &["list", "./docs/latin1.md"],
        &["check", ".", "docs/latin1.md"],
    ] {
        refused(&dir, args).stderr_has("error: docs/latin1.md:1: not valid UTF-8 (byte 5)");
    }
}

// ------------------------------------------------------ 6: exotic lpids

#[test]
fn lpids_that_cannot_round_trip_are_errors_at_their_line() {
    // Each never matched its own result block (a newline even split the
    // result's info line), so every build added another. The info string
    // is entity-decoded before it is split, so `&#10;` is a newline.
    let cases: &[(&str, &str, &str)] = &[
        // leading or trailing white space
        (
            "yaml, leading space",
            "# T\n\n```yaml\nlptype: session\nlpid: \" s\"\n```\n",
            "doc.md:5: lpid \" s\" starts or ends with white space",
        ),
        (
            "json, trailing space",
            "```json\n{\"lpid\": \"s \", \"lptype\": \"session\"}\n```\n",
            "doc.md:2: lpid \"s \" starts or ends with white space",
        ),
        (
            "toml, trailing em space",
            "```toml\nlptype = \"session\"\nlpid = \"s\\u2003\"\n```\n",
            "doc.md:3: lpid \"s\\u{2003}\" starts or ends with white space",
        ),
        (
            "info, trailing em space",
            "```bash lpid='s&#x2003;' lptype=session\necho hi\n```\n",
            "doc.md:1: lpid \"s\\u{2003}\" starts or ends with white space",
        ),
        // control characters
        (
            "toml, carriage return",
            "x\n\n```toml\nlpid = \"a\\rb\"\nlptype = \"session\"\n```\n",
            "doc.md:4: lpid \"a\\rb\" holds the control character U+000D",
        ),
        (
            "info, tab",
            "```bash lpid='a\tb' lptype=session\necho hi\n```\n",
            "doc.md:1: lpid \"a\\tb\" holds the control character U+0009",
        ),
        (
            "yaml, newline",
            "```yaml\nlptype: session\nlpid: \"a\\nb\"\n```\n",
            "doc.md:3: lpid \"a\\nb\" holds the control character U+000A",
        ),
        (
            "json, DEL",
            "```json\n{\"lptype\": \"session\",\n \"lpid\": \"a\\u007fb\"}\n```\n",
            "doc.md:3: lpid \"a\\u{7f}b\" holds the control character U+007F",
        ),
        // non-ASCII spaces
        (
            "info, no-break space",
            "```bash lpid=a&nbsp;b lptype=session\necho hi\n```\n",
            "doc.md:1: lpid \"a\\u{a0}b\" holds the space character U+00A0",
        ),
        (
            "comment, no-break space",
            "```bash\n# lpid = a\u{a0}b\n# lptype = session\necho hi\n```\n",
            "doc.md:2: lpid \"a\\u{a0}b\" holds the space character U+00A0",
        ),
        (
            "yaml, ideographic space",
            "```yaml\nlpid: \"a\u{3000}b\"\nlptype: session\n```\n",
            "doc.md:2: lpid \"a\\u{3000}b\" holds the space character U+3000",
        ),
    ];
    for (name, doc, message) in cases {
        let dir = TestDir::new();
        dir.write("doc.md", doc);
        for cmd in ["build", "check", "list"] {
            let run = dir.litprog(&[cmd]);
            assert_eq!(run.status, 2, "{name}, {cmd}: {run:?}");
            let run = refused(&dir, &[cmd]);
            assert!(
                run.stderr.contains(message),
                "{name}, {cmd}: stderr lacks {message:?}\n{}",
                run.stderr
            );
        }
    }
}

#[test]
fn lpids_with_inner_spaces_and_punctuation_round_trip() {
    // In an info string or a comment the value is read as a YAML scalar,
    // which folds a newline into a space and trims the ends: `'a&#10;b'`
    // is the lpid `a b`.
    for lpid in [
        "'a b'",
        "a\\\\\\\\b",
        "'it''s'",
        "a&amp;b",
        "été.1",
        "'a&#10;b'",
        "'a&#13;b'",
        "' s'",
    ] {
        let dir = TestDir::new();
        dir.write(
            "doc.md",
            format!("```bash lpid={lpid} lptype=session\necho hi\n```\n"),
        );
        dir.litprog(&["build"]).success();
        let once = dir.read("doc.md");
        assert_eq!(once.matches("lpout=").count(), 1, "{once}");
        dir.litprog(&["build"]).success();
        assert_eq!(dir.read("doc.md"), once, "{lpid}");
        dir.litprog(&["check"]).success();
    }
}
