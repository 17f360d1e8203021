//! Interruption and concurrency: documents are never damaged and no
//! process outlives the build.

use std::fs;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::*;

/// A session that reports it started, then waits for the test's `go` file.
const GATED: &str = "```bash lpid=s lptype=session timeout=60\nmktemp started.XXXXXX >/dev/null\nwhile [ ! -e go ]; do sleep 0.01; done\necho done\n```\n";

#[test]
fn document_edited_during_the_build_is_left_as_the_author_left_it() {
    let t = TestDir::new();
    t.write("doc.md", GATED);
    let child = t.spawn_litprog(&["build"]);
    t.wait_until("the session to start", |d| started(d) == 1);
    let edited = format!("{GATED}\nA paragraph added during the build.\n");
    t.write("doc.md", &edited);
    t.write("go", "");
    finish(child)
        .status(1)
        .stderr_has("doc.md changed on disk during the build");
    assert_eq!(t.read("doc.md"), edited);
    // The next build picks the edit up.
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(
        text.contains("```text lpout=s\ndone\n# exit: 0\n```\n"),
        "{text}"
    );
    assert!(
        text.ends_with("A paragraph added during the build.\n"),
        "{text}"
    );
}

fn started(dir: &std::path::Path) -> usize {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("started."))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn two_builds_at_once_never_corrupt_a_document() {
    let t = TestDir::new();
    t.write("doc.md", GATED);
    let a = t.spawn_litprog(&["build"]);
    let b = t.spawn_litprog(&["build"]);
    t.wait_until("both sessions to start", |d| started(d) == 2);
    t.write("go", "");
    let (a, b) = (finish(a), finish(b));
    let expected = format!("{GATED}\n```text lpout=s\ndone\n# exit: 0\n```\n");
    assert_eq!(t.read("doc.md"), expected);
    // One of them wins; the other either wins too (same text) or sees the
    // document changed and leaves it.
    assert!(a.status == 0 || b.status == 0, "{a:?} {b:?}");
    for run in [&a, &b] {
        assert!(
            run.status == 0 || run.stderr.contains("changed on disk"),
            "{run:?}"
        );
    }
    let leftovers: Vec<_> = fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".litprog-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn interrupt_with(signal: Signal) {
    let t = TestDir::new();
    let doc = "```bash lpid=s lptype=session timeout=60\nsleep 300 &\necho $! > bg.pid\ntouch started\nsleep 300\n```\n\n```bash lpid=t lptype=session timeout=60\nsleep 300\n```\n";
    t.write("doc.md", doc);
    let child = t.spawn_litprog(&["build", "-j", "2"]);
    t.wait_until("the session to start", |d| d.join("started").exists());
    let litprog = Pid::from_raw(child.id() as i32);
    kill(litprog, signal).unwrap();
    let run = finish(child).status(130).stderr_has("interrupted");
    assert_eq!(t.read("doc.md"), doc, "{run:?}");
    let bg: i32 = t.read("bg.pid").trim().parse().unwrap();
    t.wait_until("the background process to be gone", |_| process_gone(bg));
}

#[test]
fn sigint_terminates_every_session_and_leaves_documents_alone() {
    interrupt_with(Signal::SIGINT);
}

#[test]
fn sigterm_terminates_every_session_and_leaves_documents_alone() {
    interrupt_with(Signal::SIGTERM);
}

#[test]
fn sighup_terminates_every_session_and_leaves_documents_alone() {
    // A closed terminal.
    interrupt_with(Signal::SIGHUP);
}

#[test]
fn sigquit_terminates_every_session_and_leaves_documents_alone() {
    // Ctrl-\.
    interrupt_with(Signal::SIGQUIT);
}

#[test]
fn two_sessions_finishing_together_both_land_in_one_file() {
    let t = TestDir::new();
    // Each waits for the other to start, so they finish at the same moment.
    let gate = |me: &str, other: &str| {
        format!(
            "```bash lpid={me} lptype=session timeout=30\ntouch {me}.up\nwhile [ ! -e {other}.up ]; do sleep 0.01; done\necho {me} done\n```\n"
        )
    };
    let doc = format!("{}\nprose between\n\n{}", gate("a", "b"), gate("b", "a"));
    t.write("doc.md", &doc);
    t.litprog(&["build", "-j", "2"]).success();
    let text = t.read("doc.md");
    assert!(
        text.contains("```text lpout=a\na done\n# exit: 0\n```\n"),
        "{text}"
    );
    assert!(
        text.contains("```text lpout=b\nb done\n# exit: 0\n```\n"),
        "{text}"
    );
    assert!(text.contains("\nprose between\n"), "{text}");
}
