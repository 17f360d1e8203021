//! Honest results (issue 11): the same document gives the same results on
//! every run, output lands under the block that wrote it, and a session
//! whose input was read by a block fails instead of passing.

use std::process::{Child, Command};

use crate::util::{TestDir, require};

/// Children spinning on the CPU for the duration of a test, killed at drop.
struct BusyLoops(Vec<Child>);

impl BusyLoops {
    fn start(n: usize) -> Self {
        BusyLoops(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Builds of the determinism test: `LITPROG_DETERMINISM_RUNS`, default 50.
fn runs() -> usize {
    std::env::var("LITPROG_DETERMINISM_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// 40 blocks (20 bash, 20 python) writing stdout and stderr right after
/// each other.
fn mixed_document(stderr: &str) -> String {
    let mut doc = format!(
        "```yaml\nlpid: sh\nlptype: session\nstderr: {stderr}\n```\n\n```yaml\nlpid: py\nlptype: session\ncommand: python3\nstderr: {stderr}\n```\n\n"
    );
    for i in 0..20 {
        doc.push_str(&format!(
            "```bash\n# lpid = sh\necho out{i}; echo err{i} >&2; echo out{i}b; echo err{i}b >&2\n```\n\n"
        ));
        doc.push_str(&format!(
            "```python\n# lpid = py\nimport sys\nprint('out{i}'); print('err{i}', file=sys.stderr); print('out{i}b')\n```\n\n"
        ));
    }
    doc
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn the_same_document_gives_the_same_results_every_time_under_load() {
    require("python3");
    let _load = BusyLoops::start(4);
    let n = runs();
    for (mode, first) in [
        ("merged", "out0\nerr0\nout0b\nerr0b\n"),
        ("separate", "out0\nout0b\n! err0\n! err0b\n"),
    ] {
        let t = TestDir::new();
        let doc = mixed_document(mode);
        let mut results = std::collections::BTreeMap::new();
        for _ in 0..n {
            t.write("doc.md", &doc);
            t.litprog(&["build"]).success();
            *results.entry(t.read("doc.md")).or_insert(0) += 1;
        }
        let (text, count) = results.iter().next().unwrap();
        assert_eq!(
            results.len(),
            1,
            "{mode}: {} different results",
            results.len()
        );
        assert_eq!(*count, n);
        assert!(
            text.contains(&format!("```text lpout=sh\n{first}```")),
            "{mode}:\n{text}"
        );
        eprintln!("{mode}: {n} builds under 4 busy loops, 1 distinct document");
    }
}

#[test]
fn a_block_reading_stdin_gets_end_of_input_and_later_blocks_run() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\nread line; echo \"read: [$line] $?\"\n```\n\n```bash\ncat > /dev/null; echo cat done\n```\n\n```bash\necho last\n```\n",
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(text.contains("```text lpout=s\nread: [] 1\n```"), "{text}");
    assert!(text.contains("```text lpout=s\ncat done\n```"), "{text}");
    assert!(
        text.contains("```text lpout=s\nlast\n# exit: 0\n```"),
        "{text}"
    );
}

#[test]
fn a_session_fed_on_stdin_whose_input_a_block_read_fails_naming_it() {
    // input_delay feeds stdin: there a block can read later blocks' input.
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nlpid: s\nlptype: session\ninput_delay: 0\n```\n\n```bash\n# lpid = s\necho one\n```\n\n```bash\n# lpid = s\nread line\n```\n\n```bash\n# lpid = s\necho three\n```\n\n```bash\n# lpid = s\ncat >/dev/null\n```\n\n```bash\n# lpid = s\necho never\n```\n",
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("the block at doc.md:12 read input meant for the blocks after it");
    // Exit 0 before every marker arrived is caught as well.
    t.write(
        "doc.md",
        "```yaml\nlpid: s\nlptype: session\ninput_delay: 0\n```\n\n```bash\n# lpid = s\necho one\n```\n\n```bash\n# lpid = s\ncat >/dev/null\n```\n\n```bash\n# lpid = s\necho never\n```\n",
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("the block at doc.md:12 read input meant for the blocks after it");
    assert!(!t.read("doc.md").contains("never\n#"));
}

#[test]
fn the_timeout_counts_per_block_and_the_status_goes_under_the_running_block() {
    let t = TestDir::new();
    // Four blocks of 0.4 s each, 1.6 s in all, with a 1 s timeout per block.
    let slow: String = (0..4)
        .map(|i| format!("```bash\n# lpid = s\nsleep 0.4; echo {i}\n```\n\n"))
        .collect();
    t.write(
        "doc.md",
        format!("```yaml\nlpid: s\nlptype: session\ntimeout: 1\n```\n\n{slow}"),
    );
    t.litprog(&["build"]).success();
    t.write(
        "doc.md",
        "```yaml\nlpid: s\nlptype: session\ntimeout: 0.5\n```\n\n```bash\n# lpid = s\necho one\n```\n\n```bash\n# lpid = s\necho two; sleep 30\n```\n\n```bash\n# lpid = s\necho never\n```\n",
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("timed out after 0.5 s");
    let text = t.read("doc.md");
    assert!(
        text.contains("sleep 30\n```\n\n```text lpout=s\ntwo\n# timed out after 0.5 s\n```"),
        "{text}"
    );
    assert!(text.ends_with("echo never\n```\n"), "{text}");
    // session_timeout limits the whole session.
    t.write(
        "doc.md",
        format!("```yaml\nlpid: s\nlptype: session\ntimeout: 1\nsession_timeout: 1\n```\n\n{slow}"),
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("session timed out after 1 s");
}

#[test]
fn a_progress_line_shows_its_final_state() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\nprintf 'step 1\\rstep 2\\rdone!!\\n'\n```\n",
    );
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\ndone!!\n# exit: 0\n```")
    );
}

#[test]
fn the_output_limit_is_per_block_and_markers_do_not_count() {
    let t = TestDir::new();
    let quiet: String = (0..2000)
        .map(|_| "```bash\n# lpid = s\n:\n```\n\n")
        .collect();
    t.write(
        "doc.md",
        format!("```bash lpid=s lptype=session\nhead -c 2000000 /dev/zero | tr '\\0' '\\n'\n```\n\n{quiet}```bash\n# lpid = s\necho end\n```\n"),
    );
    t.litprog(&["build"])
        .success()
        .stderr_has("doc.md:1: output truncated: 951424 bytes dropped");
    let text = t.read("doc.md");
    assert_eq!(text.matches("# output truncated").count(), 1);
    assert!(text.contains("\n# output truncated: 951424 bytes dropped\n```"));
    assert!(
        text.ends_with("```text lpout=s\nend\n# exit: 0\n```\n"),
        "{}",
        &text[text.len() - 200..]
    );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_blocks_run_as_cells_with_document_line_numbers() {
    require("python3");
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nlpid: p\nlptype: session\ncommand: python3\nshow_value: true\n```\n\n```python\n# lpid = p\nx = 40\nprint('one')\n```\n\n```python\n# lpid = p\nx + 2\n```\n\n```python\n# lpid = p\nprint('two'\n```\n\n```python\n# lpid = p\nprint('never')\n```\n",
    );
    t.litprog(&["build"]).status(1);
    let text = t.read("doc.md");
    assert!(
        text.contains("print('one')\n```\n\n```text lpout=p\none\n```"),
        "{text}"
    );
    assert!(
        text.contains("x + 2\n```\n\n```text lpout=p\n42\n```"),
        "{text}"
    );
    assert!(
        text.contains("  File \"doc.md\", line 21\n    print('two'\n"),
        "{text}"
    );
    assert!(text.contains("SyntaxError"), "{text}");
    assert!(text.ends_with("print('never')\n```\n"), "{text}");
    // Runtime errors name the document's lines too.
    t.write(
        "doc.md",
        "```python lpid=p lptype=session command=python3\ndef f():\n    return 1 / 0\n```\n\n```python\n# lpid = p\nf()\n```\n",
    );
    t.litprog(&["build"]).status(1);
    let text = t.read("doc.md");
    assert!(
        text.contains("  File \"doc.md\", line 8, in <module>\n"),
        "{text}"
    );
    assert!(
        text.contains("  File \"doc.md\", line 3, in f\n    return 1 / 0\n"),
        "{text}"
    );
}

#[test]
#[cfg_attr(not(has_node), ignore = "node is not installed")]
fn node_blocks_run_as_cells_and_await_stays_in_its_block() {
    require("node");
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nlpid: n\nlptype: session\ncommand: node\nshow_value: true\n```\n\n```js\n// lpid = n\nconst x = 40;\nconsole.log(typeof require);\n```\n\n```js\n// lpid = n\nawait new Promise((r) => setTimeout(r, 10));\nconsole.log('awaited');\n```\n\n```js\n// lpid = n\nx + 2\n```\n\n```js\n// lpid = n\nnull.boom;\n```\n",
    );
    t.litprog(&["build"]).status(1);
    let text = t.read("doc.md");
    assert!(text.contains("```text lpout=n\nfunction\n```"), "{text}");
    assert!(text.contains("```text lpout=n\nawaited\n```"), "{text}");
    assert!(text.contains("```text lpout=n\n42\n```"), "{text}");
    assert!(text.contains("doc.md:27\nnull.boom;\n"), "{text}");
    assert!(!text.contains("(node:"), "{text}");
}

#[test]
fn shell_errors_name_document_lines() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "# Doc\n\n```bash lpid=s lptype=session\necho hi\n```\n\nText.\n\n```bash\n# lpid = s\nno_such_command_x\ntrue\n```\n",
    );
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md")
            .contains("line 11: no_such_command_x: command not found"),
        "{}",
        t.read("doc.md")
    );
}

#[test]
fn with_two_streams_a_block_starts_when_the_first_copy_of_its_marker_arrives() {
    // The marker reaches stderr 0.4 s before stdout. Block 1 takes 1.85 s
    // from the first copy, 1.45 s from the second: over its 1.5 s from
    // when it started, though under them from the later copy.
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nlpid: s\nlptype: session\ncommand: bash\nstderr: separate\ntimeout: 1.5\n\
         marker: \"echo {marker} >&2; sleep 0.4; echo {marker}\"\n```\n\n\
         ```bash\n# lpid = s\nsleep 1.0\n```\n\n\
         ```bash\n# lpid = s\nsleep 1.45; echo late\n```\n",
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("timed out after 1.5 s");
    let text = t.read("doc.md");
    assert!(
        text.ends_with("echo late\n```\n\n```text lpout=s\n# timed out after 1.5 s\n```\n"),
        "{text}"
    );
}
