//! Faults in sessions: each is reported clearly, what can be written is
//! written, and no process is left behind.

use crate::util::*;

#[test]
fn background_process_and_timeout_leave_nothing_running() {
    let t = TestDir::new();
    t.write("doc.md", "```bash lpid=s lptype=session timeout=0.5\nsleep 300 &\necho $! > bg.pid\necho waiting\nsleep 300\n```\n");
    t.litprog(&["build"])
        .status(1)
        .stderr_has("failed: timed out after 0.5 s");
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\nwaiting\n# timed out after 0.5 s\n```\n")
    );
    let bg: i32 = t.read("bg.pid").trim().parse().unwrap();
    t.wait_until("the background process to be gone", |_| process_gone(bg));
}

#[test]
fn process_ignoring_sigterm_is_killed() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session timeout=0.5\ntrap '' TERM\necho $$ > pid\nsleep 300\n```\n",
    );
    let started = std::time::Instant::now();
    t.litprog(&["build"])
        .status(1)
        .stderr_has("timed out after 0.5 s");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    let pid: i32 = t.read("pid").trim().parse().unwrap();
    t.wait_until("the session to be gone", |_| process_gone(pid));
}

#[test]
fn process_closing_its_stdout_early() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\necho before\nexec 1>&-\necho after >&2\n```\n",
    );
    t.litprog(&["build"]).success();
    // stdout and stderr are one pipe: closing stdout leaves stderr open,
    // and the lines keep the order they were written in.
    let text = t.read("doc.md");
    assert!(
        text.ends_with("```text lpout=s\nbefore\nafter\n# exit: 0\n```\n"),
        "{text}"
    );
}

#[test]
fn process_that_never_reads_stdin_while_megabytes_are_written() {
    let t = TestDir::new();
    let big: String = (0..100_000)
        .map(|i| format!("echo line {i} of a long block\n"))
        .collect();
    assert!(big.len() > 2_000_000);
    let doc = format!(
        "```yaml\nlpid: s\nlptype: session\ncommand: [sh, -c, 'echo not reading']\n```\n\n```sh lpid=s\n{big}```\n"
    );
    t.write("doc.md", &doc);
    t.litprog(&["build"]).success();
    assert!(
        t.read("doc.md")
            .contains("```text lpout=s\nnot reading\n# exit: 0\n```\n")
    );
}

#[test]
fn interpreter_killed_by_a_signal_is_reported_by_name() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\necho about to crash\nkill -SEGV $$\n```\n",
    );
    t.litprog(&["build"])
        .status(1)
        .stderr_has("failed: killed by SIGSEGV");
    assert!(
        t.read("doc.md")
            .contains("about to crash\n# killed by SIGSEGV\n```")
    );
}

#[test]
fn huge_output_is_cut_and_memory_stays_bounded() {
    let t = TestDir::new();
    // 100 MB of "y\n" lines.
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session timeout=60\nyes | head -c 100000000\n```\n\n```bash\necho done >&2\n```\n",
    );
    t.litprog(&["build"]).success();
    let text = t.read("doc.md");
    assert!(
        text.len() < 4 << 20,
        "document grew to {} bytes",
        text.len()
    );
    // The limit is per block: the next block keeps its output.
    assert!(
        text.contains("```text lpout=s\ndone\n# exit: 0\n"),
        "{}",
        &text[text.len() - 300..]
    );
    assert!(
        text.contains(&format!(
            "y\n# output truncated: {} bytes dropped\n```\n",
            100_000_000 - (1 << 20)
        )),
        "{}",
        &text[text.len() - 300..]
    );
    // The largest child this test process waited for so far is bounded
    // (litprog and the shells the harness runs).
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let max_rss_kb = usage.max_rss();
    assert!(max_rss_kb < 200 * 1024, "max RSS {max_rss_kb} kB");
}
