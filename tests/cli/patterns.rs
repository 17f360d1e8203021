//! Stored result blocks as patterns, the author's info strings, trailing
//! white space and stale result blocks (issue 12).

use crate::util::*;

#[test]
fn a_stored_block_with_patterns_is_kept_byte_for_byte() {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session\necho \"pid $$\"\necho start; seq 1 $((RANDOM % 5 + 1)); echo end\ndate +%s%N\nexit 3\n```\n\n\
               ```text lpout=s\npid [..]\nstart\n...\nend\n[0-9]+ (re)\n# exit: [..]\n```\n";
    // expected_exit_code is 0, so the session fails, but its output matches.
    let doc = doc.replace("lptype=session", "lptype=session expected_exit_code=3");
    t.write("doc.md", &doc);
    for _ in 0..3 {
        t.litprog(&["build"]).success();
        assert_eq!(t.read("doc.md"), doc);
        t.litprog(&["check"]).success();
    }
}

#[test]
fn output_that_does_not_match_the_pattern_is_written_and_check_shows_it() {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session\necho one; echo two\n```\n\n```text lpout=s\none\n[0-9] (re)\n# exit: 0\n```\n";
    t.write("doc.md", doc);
    t.litprog(&["check"])
        .status(1)
        .stdout_has("-[0-9] (re)\n+two");
    assert_eq!(t.read("doc.md"), doc);
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\none\ntwo\n# exit: 0\n```")
    );
}

#[test]
fn the_authors_info_string_is_kept() {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session\necho '{\"a\": 1}'\n```\n\n```json lpout=s title=\"out\"\nstale\n```\n";
    t.write("doc.md", doc);
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(
        text.ends_with("```json lpout=s title=\"out\"\n{\"a\": 1}\n# exit: 0\n```\n"),
        "{text}"
    );
    t.litprog(&["check"]).success();
}

#[test]
fn trailing_white_space_is_not_written_so_trimming_editors_do_not_break_check() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\nprintf 'a  \\nb\\t\\n  c \\n'\n```\n",
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(
        text.contains("```text lpout=s\na\nb\n  c\n# exit: 0\n```"),
        "{text:?}"
    );
    t.litprog(&["check"]).success();
}

#[test]
fn a_renamed_sessions_old_result_block_is_removed_and_check_reports_it() {
    let t = TestDir::new();
    let old = "Intro.\n\n```bash lpid=new lptype=session\necho hi\n```\n\n```text lpout=new\nhi\n# exit: 0\n```\n\nMiddle.\n\n```text lpout=old\nhi\n# exit: 0\n```\n\nEnd.\n";
    t.write("doc.md", old);
    t.litprog(&["check"])
        .status(1)
        .stderr_has("doc.md:14: stale result block: lpout=old follows no code block of 'old'")
        .stdout_has("-```text lpout=old");
    assert_eq!(t.read("doc.md"), old);
    t.litprog(&["build"])
        .success()
        .stderr_has("removed stale result block doc.md:14");
    assert_eq!(
        t.read("doc.md"),
        "Intro.\n\n```bash lpid=new lptype=session\necho hi\n```\n\n```text lpout=new\nhi\n# exit: 0\n```\n\nMiddle.\n\nEnd.\n"
    );
    t.litprog(&["check"]).success();
}

#[test]
fn prose_inserted_between_code_and_result_makes_the_result_stale() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\necho hi\n```\n\nA new paragraph.\n\n```text lpout=s\nhi\n# exit: 0\n```\n",
    );
    t.litprog(&["build"]).success();
    assert_eq!(
        t.read("doc.md"),
        "```bash lpid=s lptype=session\necho hi\n```\n\n```text lpout=s\nhi\n# exit: 0\n```\n\nA new paragraph.\n"
    );
}

#[test]
fn a_stale_block_opening_a_list_item_is_reported_not_removed() {
    let t = TestDir::new();
    let doc = "- ```bash lpid=s lptype=session\n  echo hi\n  ```\n- ```text lpout=gone\n  hi\n  ```\n- item\n";
    t.write("doc.md", doc);
    t.litprog(&["build"])
        .success()
        .stderr_has("doc.md:4: stale result block: lpout=gone follows no code block of 'gone'; it opens a list item");
    let text = t.read("doc.md");
    assert!(
        text.contains("- ```text lpout=gone\n  hi\n  ```\n- item\n"),
        "{text}"
    );
}

#[test]
fn a_document_built_in_one_directory_checks_clean_from_a_copy_in_another() {
    let doc = "```yaml\nlpid: s\nlptype: session\nredact: {\"[UUID]\": \"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\"}\n```\n\n\
               ```bash lpid=s\npwd\nmkdir -p sub && cd sub && pwd && cd ..\necho \"home is $HOME\"\necho \"id $(cat /proc/sys/kernel/random/uuid)\"\nd=$(mktemp -d)\necho \"scratch in ${d%/*}\"\nrmdir \"$d\"\n```\n";
    let a = TestDir::new();
    a.write("doc.md", doc);
    a.litprog(&["build"]).success();
    let built = a.read("doc.md");
    assert!(
        built.contains("```text lpout=s\n[ROOT]\n[ROOT]/sub\nhome is [HOME]\nid [UUID]\nscratch in [TMP]\n# exit: 0\n```"),
        "{built}"
    );
    let b = TestDir::new();
    assert_ne!(a.path(), b.path());
    b.write("doc.md", &built);
    b.litprog(&["check"]).success();
    assert_eq!(b.read("doc.md"), built);
}

#[test]
fn builtin_redactions_can_be_turned_off() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session redact_builtin=false\npwd\n```\n",
    );
    t.litprog(&["build"]).success();
    let real = std::fs::canonicalize(t.path()).unwrap();
    assert!(
        t.read("doc.md")
            .contains(&format!("lpout=s\n{}\n", real.display())),
        "{}",
        t.read("doc.md")
    );
}

#[test]
fn invalid_redactions_are_document_errors_at_their_line() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\nredact: {\"[N]\": \"(unclosed\"}\n```\n\n```bash lpid=s\necho hi\n```\n",
    );
    t.litprog(&["build"])
        .status(2)
        .stderr_has("doc.md:6: option 'redact': [N] is not a valid regular expression");
    t.write(
        "doc.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\nredact: {\"UUID\": \"x\"}\n```\n\n```bash lpid=s\necho hi\n```\n",
    );
    t.litprog(&["build"])
        .status(2)
        .stderr_has("doc.md:6: option 'redact': placeholder UUID must have the form [NAME]");
    assert!(!t.read("doc.md").contains("lpout"));
}

#[test]
fn a_redaction_too_big_to_compile_is_an_error_not_a_hang() {
    // Compiled, this expression would take gigabytes; the size limit makes
    // it an error at its line, found before anything runs.
    let t = TestDir::new();
    t.write(
        "doc.md",
        "# T\n\n```yaml\nlpid: s\nlptype: session\nredact: {\"[BIG]\": \"(a{1000}){1000}\"}\n```\n\n```bash lpid=s\necho ran > ran.txt\n```\n",
    );
    t.litprog(&["build"])
        .status(2)
        .stderr_has("doc.md:6: option 'redact': [BIG] is not a valid regular expression");
    assert!(!t.exists("ran.txt"));
}

#[test]
fn a_stored_pattern_line_too_big_to_compile_is_taken_literally() {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session\necho hi\n```\n\n```text lpout=s\n(a{1000}){1000} (re)\n# exit: 0\n```\n";
    t.write("doc.md", doc);
    t.litprog(&["check"]).status(1).stdout_has("+hi");
}

#[test]
fn the_status_option_decides_when_the_status_line_is_written() {
    let t = TestDir::new();
    let doc = |status: &str, body: &str, expected: i32| {
        format!(
            "```bash lpid=s lptype=session status={status} expected_exit_code={expected}\n{body}\n```\n"
        )
    };
    t.write("doc.md", doc("nonzero", "echo ok", 0));
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md").ends_with("```text lpout=s\nok\n```\n"),
        "{}",
        t.read("doc.md")
    );
    t.write("doc.md", doc("nonzero", "echo ok; exit 3", 3));
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md")
            .ends_with("```text lpout=s\nok\n# exit: 3\n```\n")
    );
    t.write("doc.md", doc("never", "echo ok; exit 4", 0));
    t.litprog(&["build"]).status(1);
    assert!(t.read("doc.md").ends_with("```text lpout=s\nok\n```\n"));
    t.write("doc.md", doc("sometimes", "echo ok", 0));
    t.litprog(&["build"])
        .status(2)
        .stderr_has("option 'status' must be always, nonzero or never");
}

// ------------------------------------------------------- 10-12: reports

fn three_sessions() -> String {
    "```bash lpid=bad lptype=session\nexit 1\n```\n\n\
     ```yaml\nlpid: after\nlptype: session\nrequires: [bad]\n```\n\n```bash lpid=after\necho never\n```\n\n\
     ```bash lpid=other lptype=session\necho other\n```\n"
        .to_string()
}

#[test]
fn check_runs_every_session_it_can_and_counts_right() {
    let t = TestDir::new();
    t.write("doc.md", three_sessions());
    let run = t
        .litprog(&["check"])
        .status(1)
        .stderr_has("ok    other")
        .stderr_has("1 of 3 sessions failed; 1 not run because it requires a failed session");
    assert!(!run.stderr.contains("3 of 3"), "{}", run.stderr);
    // build stops at the first failure and says so.
    t.litprog(&["build"]).status(1).stderr_has(
        "1 of 3 sessions failed; 1 not run because it requires a failed session; 1 not run after the first failure (--keep-going runs it)",
    );
    t.write("one.md", "```bash lpid=one lptype=session\necho 1\n```\n");
    t.litprog(&["build", "one.md"]).success();
    t.litprog(&["check", "one.md"])
        .success()
        .stderr_has("all results are up to date (1 session)");
}

#[test]
fn colour_follows_the_color_flag() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\necho new\n```\n\n```text lpout=s\nold\n# exit: 0\n```\n",
    );
    let plain = t.litprog(&["check"]).status(1);
    assert!(
        !plain.stdout.contains('\u{1b}') && !plain.stderr.contains('\u{1b}'),
        "{plain:?}"
    );
    let coloured = t.litprog(&["--color", "always", "check"]).status(1);
    assert!(
        coloured.stdout.contains("\u{1b}[31m-old\u{1b}[0m\n"),
        "{coloured:?}"
    );
    assert!(
        coloured.stdout.contains("\u{1b}[32m+new\u{1b}[0m\n"),
        "{coloured:?}"
    );
    assert!(coloured.stderr.contains("\u{1b}["), "{coloured:?}");
    let never = t.litprog(&["--color", "never", "check"]).status(1);
    assert!(!never.stdout.contains('\u{1b}'), "{never:?}");
}

#[test]
fn check_can_report_problems_as_json_lines() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        format!(
            "{}\n```bash lpid=s lptype=session\necho new\n```\n\n```text lpout=s\nold\n# exit: 0\n```\n\n```text lpout=gone\nx\n```\n",
            three_sessions()
        ),
    );
    let run = t.litprog(&["check", "--format", "json"]).status(1);
    let problems: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let kinds: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap(),
                p["lpid"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(kinds.contains(&("session_failed", "bad")), "{kinds:?}");
    assert!(kinds.contains(&("session_not_run", "after")), "{kinds:?}");
    assert!(kinds.contains(&("stale_result_block", "gone")), "{kinds:?}");
    let out_of_date = problems
        .iter()
        .find(|p| p["kind"] == "results_out_of_date" && p["actual"] == "old\n")
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(out_of_date["file"], "doc.md");
    assert_eq!(out_of_date["lpid"], "s");
    assert_eq!(out_of_date["line"], 24);
    assert_eq!(out_of_date["expected"], "new\n");
    let inserted = problems
        .iter()
        .find(|p| p["kind"] == "results_out_of_date" && p["actual"] == "")
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(inserted["lpid"], "bad", "{problems:?}");
}

#[test]
fn patterns_work_in_separate_stderr_blocks_and_the_status_line() {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session stderr=separate expected_exit_code=2\necho \"out $$\"\necho \"err $RANDOM\" >&2\nexit 2\n```\n\n\
               ```text lpout=s\nout [..]\n! err [0-9]+ (re)\n# exit: [..]\n```\n";
    t.write("doc.md", doc);
    for _ in 0..3 {
        t.litprog(&["build"]).success();
        assert_eq!(t.read("doc.md"), doc);
    }
    t.litprog(&["check"]).success();
}
