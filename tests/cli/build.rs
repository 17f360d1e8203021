//! Tests of `litprog build`: tangling, scheduling, result blocks, failures.

use std::os::unix::fs::PermissionsExt;

use crate::util::*;

#[test]
fn tangles_byte_exact_with_globs_and_executable_bit() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        concat!(
            "# Tool\n\n",
            "```yaml\nfilepath: bin/tool.sh\ninputs: [shebang, 'part.*']\nis_executable: true\n```\n\n",
            "```bash\n# lpid = part.one\necho one   \n\n```\n\n",
            "```bash\n# lpid = shebang\n#!/bin/sh\n```\n\n",
            "~~~bash lpid=part.two\necho two\n~~~\n",
        ),
    );
    t.litprog(&["build"]).success();
    assert_eq!(
        t.read("bin/tool.sh"),
        "#!/bin/sh\necho one   \n\necho two\n"
    );
    let mode = std::fs::metadata(t.path().join("bin/tool.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "mode {mode:o}");
    // Unchanged content is not rewritten: the modification time stays.
    let before = std::fs::metadata(t.path().join("bin/tool.sh"))
        .unwrap()
        .modified()
        .unwrap();
    t.litprog(&["build"]).success();
    let after = std::fs::metadata(t.path().join("bin/tool.sh"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn tangled_crlf_blocks_keep_their_line_endings() {
    let t = TestDir::new();
    t.write("doc.md", "```yaml\r\nfilepath: out.txt\r\ninputs: [a]\r\n```\r\n\r\n```text lpid=a\r\nx\r\ny\r\n```\r\n");
    t.litprog(&["build"]).success();
    assert_eq!(t.read("out.txt"), "x\r\ny\r\n");
}

#[test]
fn out_file_outside_the_directory_is_refused() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nfilepath: ../escape.txt\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n",
    );
    let before = t.snapshot();
    t.litprog(&["build"])
        .status(2)
        .stderr_has("doc.md:1: out_file '../escape.txt' would be written outside the project root");
    assert_eq!(t.snapshot(), before);
}

#[test]
fn unknown_input_names_the_out_file_and_the_line_of_its_inputs() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "\n```yaml\nfilepath: out.txt\ninputs: [missing]\n```\n",
    );
    t.litprog(&["build"])
        .status(2)
        .stderr_has("doc.md:4: unknown input 'missing' of out_file 'out.txt'");
    assert!(!t.exists("out.txt"));
}

#[test]
#[cfg_attr(not(has_seed), ignore = "../shared/seed/session.md is absent")]
fn seed_document_alone_names_the_inputs_it_lacks() {
    let t = TestDir::new();
    t.write("session.md", seed());
    let before = t.snapshot();
    let run = t.litprog(&["build"]).status(2);
    for missing in [
        "license_header_boilerplate",
        "generated_preamble",
        "common.imports",
        "module_logger",
    ] {
        assert!(
            run.stderr
                .contains(&format!("session.md:11: unknown input '{missing}'")),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr
            .contains("requires unknown lpid 'src/litprog/types.py'"),
        "{}",
        run.stderr
    );
    assert_eq!(t.snapshot(), before, "nothing written or run");
}

fn session(lpid: &str, extra: &str, body: &str) -> String {
    format!(
        "```yaml\nlpid: {lpid}\nlptype: session\n{extra}```\n\n```bash\n# lpid = {lpid}\n{body}```\n\n"
    )
}

#[test]
fn requires_orders_sessions() {
    let t = TestDir::new();
    // Declared in reverse order: the second must run first.
    let doc = session("late", "requires: [early]\n", "cat early.txt\n")
        + &session("early", "", "echo made by early > early.txt\n");
    t.write("doc.md", doc);
    t.litprog(&["build", "-j", "4"]).success();
    assert!(
        t.read("doc.md")
            .contains("```text lpout=late\nmade by early\n# exit: 0\n```")
    );
}

#[test]
fn independent_sessions_run_at_the_same_time() {
    let t = TestDir::new();
    // Each waits for the file the other creates: only possible in parallel.
    let wait = |mine: &str, theirs: &str| {
        format!("touch {mine}\nwhile [ ! -e {theirs} ]; do sleep 0.01; done\necho saw {theirs}\n")
    };
    let doc = session("a", "timeout: 20\n", &wait("a.flag", "b.flag"))
        + &session("b", "timeout: 20\n", &wait("b.flag", "a.flag"));
    t.write("doc.md", doc);
    t.litprog(&["build", "-j", "2"]).success();
    let text = t.read("doc.md");
    assert!(text.contains("saw b.flag"), "{text}");
    assert!(text.contains("saw a.flag"), "{text}");
}

const PLACEMENT: &str = "```bash\n# lpid = s\necho first\n```\n\nprose\n\n```bash\ntrue\n```\n\n```bash\necho last >&2\n```\n";

fn with_output(mode: &str) -> String {
    format!("```yaml\nlpid: s\nlptype: session\noutput: {mode}\n```\n\n{PLACEMENT}")
}

#[test]
fn output_block_puts_results_after_each_block_that_printed() {
    let t = TestDir::new();
    t.write("doc.md", with_output("block"));
    t.litprog(&["build"]).success();
    let expected = with_output("block")
        .replace(
            "echo first\n```\n",
            "echo first\n```\n\n```text lpout=s\nfirst\n```\n",
        )
        .replace(
            "echo last >&2\n```\n",
            "echo last >&2\n```\n\n```text lpout=s\nlast\n# exit: 0\n```\n",
        );
    assert_eq!(t.read("doc.md"), expected);
}

#[test]
fn output_session_puts_one_result_after_the_last_block() {
    let t = TestDir::new();
    t.write("doc.md", with_output("session"));
    t.litprog(&["build"]).success();
    let expected = with_output("session").replace(
        "echo last >&2\n```\n",
        "echo last >&2\n```\n\n```text lpout=s\nfirst\nlast\n# exit: 0\n```\n",
    );
    assert_eq!(t.read("doc.md"), expected);
}

#[test]
fn output_none_writes_nothing_but_still_checks_the_exit_code() {
    let t = TestDir::new();
    t.write("doc.md", with_output("none"));
    t.litprog(&["build"]).success();
    assert_eq!(t.read("doc.md"), with_output("none"));
    let failing = with_output("none").replace("echo last >&2", "exit 4");
    t.write("doc.md", &failing);
    t.litprog(&["build"])
        .status(1)
        .stderr_has("exit 4 (expected 0)");
    assert_eq!(t.read("doc.md"), failing);
}

#[test]
fn results_are_replaced_and_removed_and_nothing_else_changes() {
    let t = TestDir::new();
    let doc = "Intro  \n\n```bash lpid=s lptype=session\necho one\n```\n\n```text lpout=s\nstale\n# exit: 9\n```\n\nMiddle\t\n\n```bash\ntrue\n```\n\n```text lpout=s\nno longer printed\n```\nEnd without newline";
    t.write("doc.md", doc);
    t.litprog(&["build"]).success();
    assert_eq!(
        t.read("doc.md"),
        "Intro  \n\n```bash lpid=s lptype=session\necho one\n```\n\n```text lpout=s\none\n```\n\nMiddle\t\n\n```bash\ntrue\n```\n\n```text lpout=s\n# exit: 0\n```\nEnd without newline"
    );
}

#[test]
fn second_build_changes_nothing() {
    let t = TestDir::new();
    t.write("doc.md", with_output("block"));
    t.litprog(&["build"]).success();
    let first = t.snapshot();
    let run = t.litprog(&["build"]).success();
    assert!(!run.stderr.contains("updated"), "{}", run.stderr);
    assert_eq!(t.snapshot(), first);
}

#[test]
fn crlf_document_gets_crlf_result_blocks() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "# T\r\n\r\n```bash lpid=s lptype=session\r\necho hi\r\n```\r\n\r\ntail\r\n",
    );
    t.litprog(&["build"]).success();
    assert_eq!(
        t.read("doc.md"),
        "# T\r\n\r\n```bash lpid=s lptype=session\r\necho hi\r\n```\r\n\r\n```text lpout=s\r\nhi\r\n# exit: 0\r\n```\r\n\r\ntail\r\n"
    );
}

#[test]
fn output_containing_fences_gets_a_longer_fence() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\necho '```'\necho '````'\n```\n",
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(
        text.contains("\n`````text lpout=s\n```\n````\n# exit: 0\n`````\n"),
        "{text}"
    );
    t.litprog(&["check"]).success();
}

#[test]
fn ansi_escapes_and_carriage_returns_are_removed() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\nprintf '\\033[31mred\\033[0m\\r\\n'\n```\n",
    );
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\nred\n# exit: 0\n```"),
        "{}",
        t.read("doc.md")
    );
}

#[test]
fn timeout_is_reported_and_written() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session timeout=0.5\necho before\nsleep 30\n```\n",
    );
    let started = std::time::Instant::now();
    t.litprog(&["build"])
        .status(1)
        .stderr_has("session 's' (doc.md:1) failed: timed out after 0.5 s")
        .stderr_has("doc.md:3 | sleep 30");
    assert!(started.elapsed().as_secs() < 20);
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\nbefore\n# timed out after 0.5 s\n```")
    );
}

#[test]
fn default_timeout_comes_from_the_command_line() {
    let t = TestDir::new();
    t.write("doc.md", "```bash lpid=s lptype=session\nsleep 30\n```\n");
    t.litprog(&["build", "--timeout", "0.3"])
        .status(1)
        .stderr_has("timed out after 0.3 s");
}

#[test]
fn exit_status_mismatch_fails_and_shows_numbered_output() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "Text\n\n```bash lpid=s lptype=session\necho out\nsleep 0.2\necho err >&2\nexit 3\n```\n",
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("session 's' (doc.md:3) failed: exit 3 (expected 0)")
        .stderr_has("doc.md:4 | echo out")
        .stderr_has("   1 | out")
        .stderr_has("   2 | err")
        .stderr_has("   3 | # exit: 3")
        .stderr_has("doc.md:6 | echo err >&2");
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\nout\nerr\n# exit: 3\n```")
    );
}

#[test]
fn expected_exit_code_is_honoured() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session expected_exit_code=3\nexit 3\n```\n",
    );
    t.litprog(&["build"]).success();
    assert!(t.read("doc.md").contains("# exit: 3"));
}

#[test]
fn command_that_cannot_start_is_a_failure_naming_it() {
    let t = TestDir::new();
    t.write("doc.md", "```yaml\nlpid: s\nlptype: session\ncommand: no-such-interpreter-xyz --flag\n```\n\n```bash lpid=s\necho hi\n```\n");
    t.litprog(&["build"])
        .status(1)
        .stderr_has("could not start: command not found: 'no-such-interpreter-xyz'");
    // Nothing ran, so there is no result to write.
    assert!(!t.read("doc.md").contains("lpout"));
}

#[test]
fn first_failure_stops_new_sessions_unless_keep_going() {
    let t = TestDir::new();
    let doc = session("bad", "", "exit 1\n")
        + &session("after", "requires: [bad]\n", "echo never\n")
        + &session("other", "", "echo other\n");
    t.write("doc.md", &doc);
    let run = t.litprog(&["build", "-j", "1"]).status(1);
    assert!(run.stderr.contains("skip  after"), "{}", run.stderr);
    assert!(run.stderr.contains("skip  other"), "{}", run.stderr);
    t.write("doc.md", &doc);
    let run = t.litprog(&["build", "-j", "1", "--keep-going"]).status(1);
    assert!(run.stderr.contains("ok    other"), "{}", run.stderr);
    assert!(
        run.stderr.contains("requires 'bad', which failed"),
        "{}",
        run.stderr
    );
    assert!(!t.read("doc.md").contains("never\n#"));
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_session_with_per_block_results() {
    require("python3");
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nlpid: py\nlptype: session\ncommand: python3\n```\n\n```python\n# lpid = py\nimport sys\nprint('ok1')\n```\n\n```python\nsys.stdout.write('ok2')\n```\n\n```python\nraise SystemExit(0)\n```\n\n```python\nprint('never')\n```\n",
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(
        text.contains("print('ok1')\n```\n\n```text lpout=py\nok1\n```\n"),
        "{text}"
    );
    assert!(
        text.contains("sys.stdout.write('ok2')\n```\n\n```text lpout=py\nok2\n```\n"),
        "{text}"
    );
    // The status goes under the block that was running; the block that
    // never ran gets no result.
    assert!(
        text.contains("raise SystemExit(0)\n```\n\n```text lpout=py\n# exit: 0\n```\n"),
        "{text}"
    );
    assert!(text.ends_with("print('never')\n```\n"), "{text}");
}

#[test]
fn result_blocks_in_lists_and_block_quotes_stay_inside() {
    let t = TestDir::new();
    let doc = "- step\n\n  ```bash lpid=s lptype=session\n  echo a\n  ```\n\n> ```bash lpid=q lptype=session\n> echo b\n> ```\n";
    t.write("doc.md", doc);
    t.litprog(&["build"]).success();
    assert_eq!(
        t.read("doc.md"),
        "- step\n\n  ```bash lpid=s lptype=session\n  echo a\n  ```\n\n  ```text lpout=s\n  a\n  # exit: 0\n  ```\n\n> ```bash lpid=q lptype=session\n> echo b\n> ```\n>\n> ```text lpout=q\n> b\n> # exit: 0\n> ```\n"
    );
    t.litprog(&["check"]).success();
}

#[test]
fn stdout_then_stderr_written_together_is_shown_the_same_way_every_time() {
    let t = TestDir::new();
    let blocks: String = (0..40)
        .map(|i| format!("```bash\necho out{i}; echo err{i} >&2\n```\n\n"))
        .collect();
    t.write(
        "doc.md",
        format!("```bash lpid=s lptype=session\ntrue\n```\n\n{blocks}"),
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    for i in 0..40 {
        assert!(
            text.contains(&format!("```text lpout=s\nout{i}\nerr{i}\n")),
            "block {i}:\n{text}"
        );
    }
    t.litprog(&["check"]).success();
}

#[test]
fn failure_report_shows_the_blocks_that_ran_and_the_tail_of_long_output() {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session\nseq 1 500\n```\n\n```bash\nexit 5\n```\n\n```bash\necho never runs\n```\n";
    t.write("doc.md", doc);
    let run = t.litprog(&["build"]).status(1);
    assert!(
        run.stderr.contains("doc.md:2 | seq 1 500"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("doc.md:6 | exit 5"), "{}", run.stderr);
    assert!(!run.stderr.contains("echo never runs"), "{}", run.stderr);
    assert!(
        run.stderr.contains("(1 later block never ran)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("(441 earlier output lines not shown)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(" 500 | 500\n"), "{}", run.stderr);
    assert!(run.stderr.contains(" 501 | # exit: 5"), "{}", run.stderr);
}

#[test]
fn one_line_per_session_quiet_prints_only_failures_verbose_adds_detail() {
    let t = TestDir::new();
    t.write("doc.md", "```bash lpid=good lptype=session\necho hi\n```\n\n```bash lpid=bad lptype=session\nexit 3\n```\n");
    let run = t.litprog(&["build", "--keep-going"]).status(1);
    assert!(
        run.stderr.contains("ok    good  exit 0  0."),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("session 'bad' (doc.md:5) failed: exit 3 (expected 0)"),
        "{}",
        run.stderr
    );
    let run = t.litprog(&["-q", "build", "--keep-going"]).status(1);
    assert!(!run.stderr.contains("good"), "{}", run.stderr);
    assert!(run.stderr.contains("session 'bad'"), "{}", run.stderr);
    let run = t.litprog(&["-v", "build", "--keep-going"]).status(1);
    assert!(run.stderr.contains("as process group"), "{}", run.stderr);
}

#[test]
fn session_options_reach_the_interpreter() {
    let t = TestDir::new();
    t.write("sub/file.txt", "in sub\n");
    t.write(
        "doc.md",
        "```yaml\nlpid: s\nlptype: session\nterm: true\necho: true\nenv: {GREETING: hello, N: 3}\ncwd: sub\n```\n\n```bash\n# lpid = s\n[ -t 1 ] && echo stdout is a terminal\necho $GREETING $N\ncat file.txt\n```\n",
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    let result = text.split("```text lpout=s\n").nth(1).unwrap_or_default();
    assert_eq!(
        result,
        "[ -t 1 ] && echo stdout is a terminal\necho $GREETING $N\ncat file.txt\nstdout is a terminal\nhello 3\nin sub\n# exit: 0\n```\n"
    );
}
