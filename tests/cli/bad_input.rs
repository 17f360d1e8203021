//! The bad input matrix: malformed documents and usage each get a clear
//! answer naming file:line and the problem, the right exit status, and no
//! file on disk changes.

use std::os::unix::fs::symlink;

use crate::util::*;

struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    args: Vec<&'static str>,
    status: i32,
    messages: Vec<&'static str>,
}

fn case(name: &'static str, doc: &str, status: i32, messages: &[&'static str]) -> Case {
    Case {
        name,
        files: vec![("doc.md", doc.as_bytes().to_vec())],
        args: vec!["build"],
        status,
        messages: messages.to_vec(),
    }
}

fn session(extra: &str) -> String {
    format!(
        "# Doc\n\n```yaml\nlpid: s\nlptype: session\n{extra}```\n\n```bash lpid=s\necho hi\n```\n"
    )
}

fn cases() -> Vec<Case> {
    let huge_line = format!(
        "```yaml\nlpid: s\nlptype: session\ntimeout: \"{}\"\n```\n",
        "x".repeat(10 << 20)
    );
    vec![
        case(
            "broken yaml option block",
            "text\n\n```yaml\nlptype: session\ncommand: [bash\n```\n",
            2,
            &["doc.md:", "invalid yaml option block"],
        ),
        case(
            "broken toml option block",
            "```toml\nlptype = \"session\"\nlpid = \n```\n",
            2,
            &["doc.md:3: invalid toml option block"],
        ),
        case(
            "broken json option block",
            "```json\n{\"lptype\": \"session\",\n \"lpid\": }\n```\n",
            2,
            &["doc.md:3: invalid json option block"],
        ),
        case(
            "timeout is text",
            &session("timeout: \"soon\"\n"),
            2,
            &[
                "doc.md:6: option 'timeout' must be a number of seconds",
                "\"soon\"",
            ],
        ),
        case(
            "timeout is negative",
            &session("timeout: -1\n"),
            2,
            &["doc.md:6: option 'timeout' must be more than zero seconds"],
        ),
        case(
            "timeout is zero",
            &session("timeout: 0\n"),
            2,
            &["doc.md:6: option 'timeout' must be more than zero seconds"],
        ),
        case(
            "requires is a number",
            &session("requires: 5\n"),
            2,
            &["doc.md:6: option 'requires' must be a list of strings"],
        ),
        case(
            "inputs is a mapping",
            "```yaml\nfilepath: out.txt\ninputs: {}\n```\n",
            2,
            &["doc.md:3: option 'inputs' must be a list of strings"],
        ),
        case(
            "expected_exit_code is text",
            &session("expected_exit_code: zero\n"),
            2,
            &["doc.md:6: option 'expected_exit_code' must be an integer"],
        ),
        case(
            "output mode unknown",
            &session("output: sideways\n"),
            2,
            &["doc.md:6: option 'output' must be block, session or none"],
        ),
        case(
            "marker without placeholder",
            &session("marker: \".print hi\"\n"),
            2,
            &["doc.md:6: option 'marker' must contain {marker}"],
        ),
        case(
            "env is a list",
            &session("env: [A]\n"),
            2,
            &["doc.md:6: option 'env' must be a mapping"],
        ),
        case(
            "unknown encoding",
            &session("encoding: klingon\n"),
            2,
            &["doc.md:6: unknown encoding 'klingon'"],
        ),
        case(
            "command with unbalanced quotes",
            &session("command: \"bash 'oops\"\n"),
            2,
            &["doc.md:6: option 'command' has unbalanced quotes"],
        ),
        case(
            "unknown lptype",
            "```yaml\nlpid: s\nlptype: sesion\n```\n",
            2,
            &["doc.md:3: unknown lptype \"sesion\" for 's'"],
        ),
        case(
            "lpid is a list",
            "```yaml\nlpid: [a]\nlptype: session\n```\n",
            2,
            &["doc.md:2: lpid must be a non-empty string"],
        ),
        case(
            "session option block without lpid",
            "\n```yaml\nlptype: session\n```\n",
            2,
            &["doc.md:2: option block has no lpid"],
        ),
        case(
            "duplicate lpid",
            "```yaml\nlpid: s\nlptype: session\n```\n\n```yaml\nlpid: s\nlptype: session\n```\n",
            2,
            &["doc.md:6: lpid 's' is declared twice: here and at doc.md:1"],
        ),
        case(
            "redeclared option",
            "```yaml\nlpid: s\nlptype: session\n```\n\n```bash lpid=s lptype=raw_block\necho\n```\n",
            2,
            &[
                "doc.md:6: option 'lptype' of 's' is redeclared as \"raw_block\" here, but \"session\" at doc.md:3",
            ],
        ),
        case(
            "requires cycle of length 1",
            &session("requires: [s]\n"),
            2,
            &["doc.md:3: requires form a cycle: s -> s ('s' at doc.md:3)"],
        ),
        case(
            "requires cycle of length 2",
            "```bash lpid=a lptype=session requires=b\n```\n\n```bash lpid=b lptype=session requires=a\n```\n",
            2,
            &["requires form a cycle: a -> b -> a ('a' at doc.md:1, 'b' at doc.md:4)"],
        ),
        case(
            "requires cycle of length 3",
            "```bash lpid=a lptype=session requires=b\n```\n\n```bash lpid=b lptype=session requires=c\n```\n\n```bash lpid=c lptype=session requires=a\n```\n",
            2,
            &[
                "requires form a cycle: a -> b -> c -> a ('a' at doc.md:1, 'b' at doc.md:4, 'c' at doc.md:7)",
            ],
        ),
        case(
            "unknown requires",
            &session("requires: [nowhere]\n"),
            2,
            &["doc.md:6: session 's' requires unknown lpid 'nowhere'"],
        ),
        case(
            "unknown input",
            "```yaml\nfilepath: out.txt\ninputs: [nothing]\n```\n",
            2,
            &["doc.md:3: unknown input 'nothing' of out_file 'out.txt'"],
        ),
        case(
            "input glob matching nothing",
            "```yaml\nfilepath: out.txt\ninputs: ['part.*']\n```\n",
            2,
            &["doc.md:3: unknown input 'part.*' of out_file 'out.txt' (the glob matches no lpid)"],
        ),
        case(
            "absolute filepath",
            "```yaml\nfilepath: /tmp/litprog-absolute.txt\ninputs: []\n```\n",
            2,
            &[
                "doc.md:1: out_file '/tmp/litprog-absolute.txt' would be written outside the project root",
            ],
        ),
        case(
            "filepath escaping with ..",
            "```yaml\nfilepath: sub/../../escape.txt\ninputs: []\n```\n",
            2,
            &["doc.md:1: out_file 'sub/../../escape.txt' would be written outside"],
        ),
        Case {
            name: "filepath escaping through a symlink",
            files: vec![(
                "doc.md",
                b"```yaml\nfilepath: link/escape.txt\ninputs: []\n```\n".to_vec(),
            )],
            args: vec!["build"],
            status: 2,
            messages: vec![
                "doc.md:1: out_file 'link/escape.txt' leads outside the project root through a symbolic link",
            ],
        },
        Case {
            name: "filepath that is a directory",
            files: vec![
                (
                    "doc.md",
                    b"```yaml\nfilepath: adir\ninputs: []\n```\n".to_vec(),
                ),
                ("adir/keep", b"x".to_vec()),
            ],
            args: vec!["build"],
            status: 2,
            messages: vec!["doc.md:1: out_file 'adir' is a directory"],
        },
        Case {
            name: "file named on the command line that is not UTF-8",
            files: vec![("doc.md", b"# Caf\xe9\n\nline two\n".to_vec())],
            args: vec!["build", "doc.md"],
            status: 2,
            messages: vec!["doc.md:1: not valid UTF-8"],
        },
        case(
            "NUL byte",
            "# T\n\nabc\0def\n",
            2,
            &["doc.md:3: the file contains a NUL byte"],
        ),
        case(
            "unclosed fence at the end",
            "# T\n\n```bash lpid=s lptype=session\necho hi\n",
            2,
            &["doc.md:3: code block of 's' has no closing fence"],
        ),
        case(
            "10 MB line in an option block",
            &huge_line,
            2,
            &[
                "doc.md:4: option 'timeout' must be a number of seconds",
                "bytes)",
            ],
        ),
        case(
            "broken option block inside a list item",
            "- step one\n\n  ```yaml\n  lptype: session\n  lpid: [\n  ```\n",
            2,
            &["doc.md:", "invalid yaml option block"],
        ),
        case(
            "bare carriage return line endings",
            "# T\r\r```bash lpid=s lptype=session\recho hi\r```\r",
            2,
            &["doc.md: lines end with a bare carriage return"],
        ),
        Case {
            name: "directory with no Markdown",
            files: vec![("sub/notes.txt", b"plain".to_vec())],
            args: vec!["build", "sub"],
            status: 2,
            messages: vec!["sub: no Markdown files"],
        },
        Case {
            name: "PATH that does not exist",
            files: vec![("doc.md", b"# T\n".to_vec())],
            args: vec!["build", "missing.md"],
            status: 2,
            messages: vec!["missing.md: cannot read"],
        },
        Case {
            name: "unknown flag",
            files: vec![("doc.md", b"# T\n".to_vec())],
            args: vec!["build", "--frobnicate"],
            status: 2,
            messages: vec!["--frobnicate"],
        },
        Case {
            name: "zero jobs",
            files: vec![("doc.md", b"# T\n".to_vec())],
            args: vec!["build", "-j", "0"],
            status: 2,
            messages: vec!["-j"],
        },
        Case {
            name: "bad timeout flag",
            files: vec![("doc.md", b"# T\n".to_vec())],
            args: vec!["build", "--timeout", "soon"],
            status: 2,
            messages: vec!["'soon' is not a positive number of seconds"],
        },
    ]
}

#[test]
fn every_bad_input_gets_a_located_error_and_changes_nothing() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 30, "{} cases", all.len());
    for c in all {
        let t = TestDir::new();
        for (name, bytes) in &c.files {
            t.write(name, bytes);
        }
        // Lives until the case is checked: the link must lead somewhere.
        let _outside = c.name.contains("symlink").then(|| {
            let outside = tempfile::tempdir().unwrap();
            symlink(outside.path(), t.path().join("link")).unwrap();
            outside
        });
        let before = t.snapshot();
        let run = t.litprog(&c.args);
        let mut problems = Vec::new();
        if run.status != c.status {
            problems.push(format!(
                "exit status {} (expected {})",
                run.status, c.status
            ));
        }
        for m in &c.messages {
            if !run.stderr.contains(m) {
                problems.push(format!("stderr lacks {m:?}"));
            }
        }
        if run.stderr.len() > 10_000 {
            problems.push(format!("stderr is {} bytes long", run.stderr.len()));
        }
        if run.stderr.contains("panicked") {
            problems.push("litprog panicked".to_string());
        }
        if t.snapshot() != before {
            problems.push("files changed".to_string());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n--- stderr\n{}",
                c.name,
                problems.join("; "),
                &run.stderr[..run.stderr.len().min(2000)]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The exit status follows from what the problem is, not from where it was
/// found: a file that cannot be read or written is a failed run (1), a
/// path that does not exist or a document that is invalid is invalid
/// usage or input (2).
#[test]
fn exit_status_follows_the_kind_of_problem() {
    let t = TestDir::new();
    t.write("blocker", "a file where init wants a directory\n");
    t.litprog(&["--root", "blocker/sub", "init"])
        .status(1)
        .stderr_has("cannot write");
    assert_eq!(t.read("blocker"), "a file where init wants a directory\n");

    t.write("doc.md", "# Doc\n");
    t.litprog(&["build", "missing.md"])
        .status(2)
        .stderr_has("missing.md")
        .stderr_has("cannot read");
    t.litprog(&["--root", "nowhere", "build"])
        .status(2)
        .stderr_has("cannot use as the project root");

    std::fs::create_dir(t.path().join("litprog.toml")).unwrap();
    t.litprog(&["build", "doc.md"])
        .status(1)
        .stderr_has("litprog.toml")
        .stderr_has("cannot read");
    std::fs::remove_dir(t.path().join("litprog.toml")).unwrap();

    t.write("bad.md", "```bash lpid=s\necho\n");
    t.litprog(&["build", "bad.md"])
        .status(2)
        .stderr_has("bad.md:1");
}
