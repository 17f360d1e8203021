//! Tests of `litprog check`: the CI gate.

use crate::util::*;

const DOC: &str = "```bash lpid=s lptype=session\necho hi\n```\n";

#[test]
fn stale_results_exit_1_with_a_diff_and_leave_the_document() {
    let t = TestDir::new();
    t.write("doc.md", DOC);
    let before = t.read("doc.md");
    let run = t
        .litprog(&["check"])
        .status(1)
        .stderr_has("doc.md: results are out of date");
    assert!(
        run.stdout.contains("--- doc.md\n+++ doc.md\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+```text lpout=s\n+hi\n+# exit: 0\n"),
        "{}",
        run.stdout
    );
    assert_eq!(t.read("doc.md"), before);
}

#[test]
fn fresh_results_exit_0() {
    let t = TestDir::new();
    t.write("doc.md", DOC);
    t.litprog(&["build"]).success();
    t.litprog(&["check"]).success().stderr_has("up to date");
}

#[test]
fn changed_output_is_stale() {
    let t = TestDir::new();
    t.write("doc.md", DOC);
    t.litprog(&["build"]).success();
    let text = t.read("doc.md").replace("echo hi", "echo bye");
    t.write("doc.md", &text);
    let run = t.litprog(&["check"]).status(1);
    assert!(run.stdout.contains("-hi\n+bye\n"), "{}", run.stdout);
}

#[test]
fn failing_session_fails_check_even_when_results_match() {
    let t = TestDir::new();
    t.write("doc.md", "```bash lpid=s lptype=session\nexit 2\n```\n");
    t.litprog(&["build"]).status(1);
    t.litprog(&["check"])
        .status(1)
        .stderr_has("exit 2 (expected 0)");
}

#[test]
fn check_still_writes_tangled_files() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```yaml\nfilepath: out.txt\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n",
    );
    t.litprog(&["check"]).success();
    assert_eq!(t.read("out.txt"), "x\n");
}
