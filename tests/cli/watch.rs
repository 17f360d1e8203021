//! `litprog watch` (issue 14, points 7 and 8): rebuilds on save, cancels a
//! build that an edit makes stale, ignores its own writes, and ends on
//! SIGINT with no process left.

use std::fs;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::*;

/// Save `text` to `rel` as editors do: a temporary file, then a rename.
fn save(t: &TestDir, rel: &str, text: &str) {
    let tmp = t.path().join(format!("{rel}.swp"));
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, t.path().join(rel)).unwrap();
}

fn doc(code: &str) -> String {
    format!("# Doc\n\n```bash lpid=s lptype=session cache=false\necho s >> runs.log\n{code}\n```\n")
}

fn has(t: &TestDir, text: &str) -> bool {
    fs::read_to_string(t.path().join("doc.md")).is_ok_and(|d| d.contains(text))
}

fn interrupt(child: &std::process::Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
}

fn session_pid(t: &TestDir) -> i32 {
    t.wait_until("the session to start", |d| {
        fs::read_to_string(d.join("pid.txt")).is_ok_and(|s| s.ends_with('\n'))
    });
    t.read("pid.txt").trim().parse().unwrap()
}

#[test]
fn watch_rebuilds_on_save_and_ends_on_sigint_with_no_process_left() {
    let t = TestDir::new();
    t.write("doc.md", doc("echo one"));
    let child = t.spawn_litprog(&["watch"]);
    t.wait_until("the first build", |_| has(&t, "one\n# exit: 0"));
    save(
        &t,
        "doc.md",
        &t.read("doc.md").replace("echo one", "echo two"),
    );
    t.wait_until("the rebuild", |_| has(&t, "two\n# exit: 0"));
    assert!(!has(&t, "one\n# exit: 0"));
    // A long session is running when SIGINT comes.
    save(
        &t,
        "doc.md",
        &t.read("doc.md").replace(
            "echo two",
            "echo $$ > pid.txt.tmp && mv pid.txt.tmp pid.txt; sleep 60",
        ),
    );
    let pid = session_pid(&t);
    // One build per save, none for the documents watch wrote itself (the
    // session is not cached, so each build would show here).
    assert_eq!(t.read("runs.log"), "s\ns\ns\n");
    interrupt(&child);
    let run = finish(child).status(130);
    assert!(
        process_gone(pid),
        "the session outlived watch: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("watching for changes"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("interrupted (SIGINT)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_edit_during_a_build_cancels_it_and_starts_the_next() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        doc("echo $$ > pid.txt.tmp && mv pid.txt.tmp pid.txt; sleep 60"),
    );
    let child = t.spawn_litprog(&["watch"]);
    let pid = session_pid(&t);
    let text = t.read("doc.md");
    save(
        &t,
        "doc.md",
        &text.replace(
            "echo $$ > pid.txt.tmp && mv pid.txt.tmp pid.txt; sleep 60",
            "echo quick",
        ),
    );
    // Long before the 60 s sleep could end.
    t.wait_until("the next build", |_| has(&t, "quick\n# exit: 0"));
    assert!(process_gone(pid));
    interrupt(&child);
    let run = finish(child).status(130);
    assert!(
        run.stderr.contains("cancelling the build"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_change_to_a_file_in_files_rebuilds_and_invalid_documents_do_not_end_watch() {
    let t = TestDir::new();
    t.write("data.txt", "first\n");
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session files=data.txt\ncat data.txt\n```\n",
    );
    let mut child = t.spawn_litprog(&["watch"]);
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let collected = std::sync::Arc::clone(&stderr);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut pipe, &mut buf) {
            if n == 0 {
                break;
            }
            collected
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let said = |what: &str| stderr.lock().unwrap().contains(what);
    t.wait_until("the first build", |_| has(&t, "first\n# exit: 0"));
    save(&t, "data.txt", "second\n");
    t.wait_until("the rebuild", |_| has(&t, "second\n# exit: 0"));
    // An invalid document is reported, and watch goes on.
    let good = t.read("doc.md");
    save(
        &t,
        "doc.md",
        &good.replace("lptype=session", "lptype=session timeout=soon"),
    );
    t.wait_until("the error", |_| said("the documents are invalid"));
    assert!(
        said("doc.md:1: option 'timeout'"),
        "{}",
        stderr.lock().unwrap()
    );
    save(&t, "data.txt", "third\n");
    save(&t, "doc.md", &good);
    t.wait_until("the build after the fix", |_| has(&t, "third\n# exit: 0"));
    interrupt(&child);
    finish(child).status(130);
}
