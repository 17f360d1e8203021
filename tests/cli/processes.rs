//! How sessions are scheduled and ended: one at a time by default, what a
//! missing interpreter does, signals, litprog's own death, pseudo-terminal
//! descriptors, and faults during the write-back.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::util::*;

fn session(lpid: &str, body: &str) -> String {
    format!("```bash lpid={lpid} lptype=session timeout=60\n{body}```\n")
}

#[test]
fn sessions_run_one_at_a_time_in_document_order_by_default() {
    // Chapter 5 writes a file that chapter 6 reads, without `requires`: run
    // in parallel, chapter 6 would read it before it exists (or half written).
    let t = TestDir::new();
    t.write(
        "05-write.md",
        session(
            "write",
            "sleep 0.3\nprintf 'row\\nrow\\n' > data.txt\necho written\n",
        ),
    );
    t.write("06-read.md", session("read", "wc -l < data.txt\n"));
    let mut texts = Vec::new();
    for _ in 0..3 {
        let _ = fs::remove_file(t.path().join("data.txt"));
        t.litprog(&["build"]).success();
        texts.push(t.read("06-read.md"));
    }
    assert!(
        texts[0].contains("```text lpout=read\n2\n# exit: 0\n```"),
        "{}",
        texts[0]
    );
    assert!(texts.iter().all(|x| x == &texts[0]), "{texts:?}");
}

#[test]
fn jobs_run_independent_sessions_in_parallel() {
    // Each waits for the other to start: only parallel sessions finish.
    let t = TestDir::new();
    let gate = |me: &str, other: &str| {
        session(
            me,
            &format!("touch {me}.up\nwhile [ ! -e {other}.up ]; do sleep 0.01; done\necho {me}\n"),
        )
    };
    t.write("a.md", gate("a", "b"));
    t.write("b.md", gate("b", "a"));
    t.litprog(&["build", "-j", "2"]).success();
    assert!(t.read("a.md").contains("lpout=a\na\n# exit: 0"));
    assert!(t.read("b.md").contains("lpout=b\nb\n# exit: 0"));
}

const KEPT: &str = "```yaml\nlpid: rb\nlptype: session\ncommand: no-such-ruby-xyz\n```\n\n```ruby lpid=rb\nputs 6 * 7\n```\n\n```text lpout=rb\n42\n# exit: 0\n```\n";

#[test]
fn a_session_that_cannot_start_leaves_its_results_as_they_were() {
    let t = TestDir::new();
    t.write("a.md", KEPT);
    t.write("b.md", session("sh", "echo fine\n"));
    t.litprog(&["build", "--keep-going"]).status(1).stderr_has(
        "session 'rb' (a.md:1) failed: could not start: command not found: 'no-such-ruby-xyz'",
    );
    assert_eq!(t.read("a.md"), KEPT);
    assert!(t.read("b.md").contains("lpout=sh\nfine\n# exit: 0"));
}

#[test]
fn skip_unavailable_skips_sessions_whose_interpreter_is_missing() {
    let t = TestDir::new();
    let needs = "```yaml\nlpid: after\nlptype: session\nrequires: [rb]\n```\n\n```bash lpid=after\necho uses rb\n```\n";
    t.write("a.md", format!("{KEPT}\n{needs}"));
    t.write("b.md", session("sh", "echo fine\n"));
    let run = t
        .litprog(&["build", "--skip-unavailable"])
        .success()
        .stderr_has("command not found: 'no-such-ruby-xyz'")
        .stderr_has("skip  after  skipped: requires 'rb', which is unavailable");
    assert!(run.stderr.contains("skip  rb"), "{}", run.stderr);
    assert_eq!(t.read("a.md"), format!("{KEPT}\n{needs}"));
    assert!(t.read("b.md").contains("lpout=sh\nfine\n# exit: 0"));
    // check says which results it did not check, never "all up to date"
    // for sessions that did not run.
    t.litprog(&["check", "--skip-unavailable"])
        .success()
        .stderr_has("results of 1 of 3 sessions are up to date; 2 did not run, so their results were not checked");
    // A session that starts and fails still fails.
    t.write("c.md", session("bad", "exit 3\n"));
    t.litprog(&["build", "--skip-unavailable"]).status(1);
}

#[test]
fn the_interpreter_dies_with_litprog_even_by_sigkill() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        session(
            "s",
            "echo $$ > shell.pid.tmp\nmv shell.pid.tmp shell.pid\nsleep 300\n",
        ),
    );
    let child = t.spawn_litprog(&["build"]);
    t.wait_until("the session to start", |d| d.join("shell.pid").exists());
    let shell: i32 = t.read("shell.pid").trim().parse().unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = finish(child);
    t.wait_until("the interpreter to die with litprog", |_| {
        process_gone(shell)
    });
    // What the interpreter started is not covered (documented); clean up.
    let _ = killpg(Pid::from_raw(shell), Signal::SIGKILL);
}

#[test]
fn pseudo_terminals_never_leak_into_other_sessions() {
    // Each session counts the descriptors above 2 that are a terminal: with
    // 64 sessions starting at once, a pty opened without close-on-exec by
    // one thread is inherited by a child another thread spawns meanwhile.
    let t = TestDir::new();
    let count = "n=0\nfor f in /proc/$$/fd/*; do\n  fd=${f##*/}\n  case \"$(readlink \"$f\")\" in\n    /dev/pts/*|/dev/ptmx|*ptmx*) [ \"$fd\" -gt 2 ] && n=$((n+1)) && echo \"fd $fd: $(readlink \"$f\")\" ;;\n  esac\ndone\necho \"leaked $n\"\n";
    let mut doc = String::new();
    for i in 0..128 {
        doc.push_str(&format!(
            "```bash lpid=s{i} lptype=session term=true timeout=60\n{count}```\n\n"
        ));
    }
    t.write("doc.md", &doc);
    for _ in 0..3 {
        t.write("doc.md", &doc);
        t.litprog(&["build", "-j", "64"]).success();
        let text = t.read("doc.md");
        let leaks = text.matches("\nleaked ").count();
        let clean = text.matches("\nleaked 0\n").count();
        let odd: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with("fd ")
                    || l.starts_with("leaked ") && *l != "leaked 0"
                    || l.starts_with('#') && *l != "# exit: 0"
            })
            .collect();
        assert_eq!((leaks, clean), (128, 128), "{odd:?}");
    }
}

#[test]
fn one_unwritable_document_does_not_keep_the_others_from_their_results() {
    let t = TestDir::new();
    // a.md's own session deletes a.md, so it cannot be rewritten.
    t.write("a.md", session("a", "rm a.md\necho gone\n"));
    t.write("b.md", session("b", "echo b\n"));
    t.write("c.md", session("c", "echo c\n"));
    t.litprog(&["build"])
        .status(1)
        .stderr_has("a.md: cannot write: ");
    assert!(!t.exists("a.md"));
    assert!(t.read("b.md").contains("lpout=b\nb\n# exit: 0"));
    assert!(t.read("c.md").contains("lpout=c\nc\n# exit: 0"));
}

/// Three documents, each with a session; returns their text.
fn three_documents(t: &TestDir) -> String {
    let doc = session("s", "echo hi\n");
    for name in ["a.md", "b.md", "c.md"] {
        t.write(name, doc.replace("lpid=s", &format!("lpid={}", &name[..1])));
    }
    doc
}

fn temporary_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".litprog-"))
        .collect()
}

/// Interrupt a build in its write-back: a.md is written, then litprog waits
/// for the lock that the test holds on b.md; `signals` SIGINTs arrive, and
/// the lock is released once litprog has said it was interrupted (or, with
/// `hold`, only after it exited).
fn interrupt_write_back(signals: usize, hold: bool) {
    use nix::fcntl::{Flock, FlockArg};
    let t = TestDir::new();
    three_documents(&t);
    let before = |n: &str| t.read(n);
    let (b0, c0) = (before("b.md"), before("c.md"));
    let lock = Flock::lock(
        fs::File::open(t.path().join("b.md")).unwrap(),
        FlockArg::LockExclusive,
    )
    .unwrap();
    let mut child = t.spawn_litprog(&["build"]);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    t.wait_until("a.md to be rewritten", |d| {
        fs::read_to_string(d.join("a.md")).is_ok_and(|s| s.contains("lpout=a"))
    });
    let pid = Pid::from_raw(child.id() as i32);
    for _ in 0..signals {
        kill(pid, Signal::SIGINT).unwrap();
    }
    if !hold {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = rx
                .recv_timeout(deadline - Instant::now())
                .expect("litprog says it was interrupted");
            if line.contains("interrupted (SIGINT)") {
                break;
            }
        }
        drop(lock);
        let status = child.wait().unwrap();
        let stderr = reader.join().unwrap();
        assert_eq!(status.code(), Some(130), "{stderr}");
        check_interrupted_write_back(&t, &stderr, &b0, &c0);
    } else {
        let status = child.wait().unwrap();
        drop(lock);
        let stderr = reader.join().unwrap();
        assert_eq!(status.code(), Some(130), "{stderr}");
        check_interrupted_write_back(&t, &stderr, &b0, &c0);
    }
}

fn check_interrupted_write_back(t: &TestDir, stderr: &str, b0: &str, c0: &str) {
    assert!(
        stderr.contains("build interrupted after rewriting 1 of its documents (a.md); no other document was rewritten"),
        "{stderr}"
    );
    assert_eq!(t.read("b.md"), b0);
    assert_eq!(t.read("c.md"), c0);
    assert!(t.read("a.md").contains("lpout=a\nhi\n# exit: 0"));
    assert_eq!(temporary_files(t.path()), Vec::<String>::new());
}

#[test]
fn after_an_interrupt_in_the_write_back_no_further_document_is_written() {
    interrupt_write_back(1, false);
}

#[test]
fn a_build_that_does_not_end_after_an_interrupt_exits_and_says_what_it_wrote() {
    // litprog is blocked on b.md's lock: it exits on its own shortly after
    // the signal.
    interrupt_write_back(1, true);
}

#[test]
fn two_interrupts_in_the_write_back_exit_at_once_and_say_what_was_written() {
    interrupt_write_back(2, true);
}

#[test]
fn a_second_signal_ends_litprog_at_once_while_sessions_are_still_being_ended() {
    // The session and its child ignore SIGTERM: ending them takes the
    // whole grace (1 s) before SIGKILL. A second signal must not wait for
    // it, and must leave no process behind.
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\ntrap '' TERM\nsleep 30 &\necho $! > sleep.txt\necho $$ > pid.txt\nwait\n```\n",
    );
    let before = t.read("doc.md");
    let child = t.spawn_litprog(&["build"]);
    t.wait_until("the session to start", |d| {
        fs::read_to_string(d.join("pid.txt")).is_ok_and(|s| s.ends_with('\n'))
    });
    let pid = Pid::from_raw(child.id() as i32);
    let signalled = Instant::now();
    kill(pid, Signal::SIGINT).unwrap();
    kill(pid, Signal::SIGTERM).unwrap();
    let run = finish(child);
    let took = signalled.elapsed();
    assert_eq!(run.status, 130, "{run:?}");
    assert!(took < Duration::from_millis(900), "{took:?}: {run:?}");
    // It did not wait for the sessions to end.
    assert!(
        !run.stderr.contains("running sessions terminated"),
        "{}",
        run.stderr
    );
    assert_eq!(t.read("doc.md"), before);
    for file in ["pid.txt", "sleep.txt"] {
        let pid: i32 = t.read(file).trim().parse().unwrap();
        t.wait_until(&format!("{file}'s process to end"), |_| process_gone(pid));
    }
}

#[test]
fn an_interrupt_while_tangling_records_every_file_written() {
    // 600 out_files, each written with an fsync: the signal comes while
    // litprog is still tangling. Whatever it wrote must be in the state
    // file, or the next build after an edit of the document takes those
    // files for hand edits ("changed since litprog wrote it").
    let t = TestDir::new();
    let mut doc = String::from("```text lpid=a\nx\n```\n");
    for i in 0..600 {
        doc.push_str(&format!(
            "\n```yaml\nfilepath: out/{i:04}.txt\ninputs: [a]\n```\n"
        ));
    }
    t.write("doc.md", &doc);
    let child = t.spawn_litprog(&["build"]);
    t.wait_until("the first tangled file", |d| {
        d.join("out/0000.txt").exists()
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let run = finish(child);
    assert_eq!(run.status, 130, "{run:?}");
    assert_eq!(temporary_files(&t.path().join("out")), Vec::<String>::new());
    let written: Vec<String> = fs::read_dir(t.path().join("out"))
        .unwrap()
        .map(|e| format!("out/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert!(!written.is_empty());
    let state = t.read(".litprog/state.json");
    for file in &written {
        assert!(
            state.contains(&format!("\"{file}\"")),
            "{file} is not recorded"
        );
    }
    // The edit of the document then rewrites them all, without --force.
    t.write("doc.md", doc.replace("\nx\n", "\ny\n"));
    let run = t.litprog(&["build"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(t.read("out/0000.txt"), "y\n");
}

/// Does process `pid` catch `signal` (its handler is installed)?
fn catches(pid: u32, signal: i32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

#[test]
fn a_signal_stops_litprog_while_it_hangs_reading_a_document() {
    // A FIFO named as a document blocks litprog in open(2) before anything
    // runs: no session, no write-back checks the cancellation there.
    let t = TestDir::new();
    let fifo = t.path().join("stuck.md");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let child = t.spawn_litprog(&["build", "stuck.md"]);
        t.wait_until("the signal handler", |_| catches(child.id(), signal as i32));
        let sent = Instant::now();
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let run = finish(child);
        let took = sent.elapsed();
        assert_eq!(run.status, 130, "{run:?}");
        assert!(run.stderr.contains("no document was rewritten"), "{run:?}");
        // The requirement is 1 s; the bound leaves room for a loaded machine.
        assert!(took < Duration::from_secs(3), "{signal}: {took:?}");
        eprintln!("{signal}: stopped {took:?} after the signal");
    }
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let t = TestDir::new();
    let mut doc = String::new();
    for i in 0..600 {
        doc.push_str(&format!(
            "```bash lpid=s{i} lptype=session\necho {i}\n```\n\n"
        ));
    }
    t.write("doc.md", &doc);
    let mut child = t.spawn_litprog(&["list"]);
    // Close the reading end before litprog writes, as `| head -0` would.
    drop(child.stdout.take());
    let run = finish(child);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
}

#[test]
fn sessions_start_with_default_sigpipe_and_no_signal_blocked() {
    // litprog ignores SIGPIPE (Rust does) and handles SIGINT and others
    // (signal-hook); its sessions see neither.
    let t = TestDir::new();
    t.write(
        "doc.md",
        session(
            "s",
            "yes | head -1; echo \"yes: ${PIPESTATUS[0]}\"\ngrep -E '^Sig(Blk|Ign)' /proc/self/status\n",
        ),
    );
    t.litprog(&["build"]).success();
    let doc = t.read("doc.md");
    assert!(
        doc.contains("lpout=s\ny\nyes: 141\nSigBlk:\t0000000000000000\n"),
        "{doc}"
    );
    // SIGPIPE is signal 13: bit 12 of the ignored set.
    let ignored = doc
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .unwrap();
    assert_eq!(
        u64::from_str_radix(ignored, 16).unwrap() & 1 << 12,
        0,
        "{doc}"
    );
}
