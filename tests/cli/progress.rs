//! Progress while a build runs (issue 14, points 9 and 10): the status
//! area on a terminal (run under a real pseudo-terminal), `-v`'s output
//! streamed with each session's lpid, and the `block_started` events of
//! `--message-format json`.
//!
//! Sessions that must still be running when the test looks block on a
//! FIFO the test writes once it has seen what it waits for: the tests
//! synchronise on output, never on time.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// How long a test waits for what it expects before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// A session `slow` of two blocks whose second waits until the test writes
/// the FIFO `go`; its fence is on line 5.
const WAITING: &str = "```bash lpid=slow lptype=session timeout=60\necho first\n```\n\n\
                       ```bash\nread word < go\necho \"got $word\"\n```\n";

fn make_fifo(t: &TestDir, name: &str) {
    nix::unistd::mkfifo(&t.path().join(name), nix::sys::stat::Mode::S_IRWXU).unwrap();
}

/// Lets the session blocked on the FIFO `name` go on.
fn release(t: &TestDir, name: &str) {
    // Opening blocks until the session opens its end: it is waiting.
    let mut fifo = File::options()
        .write(true)
        .open(t.path().join(name))
        .unwrap();
    fifo.write_all(b"go\n").unwrap();
}

/// `litprog ARGS` with stderr on the slave of a new pseudo-terminal (100
/// columns), stdout and stdin elsewhere; what the terminal shows arrives on
/// the receiver, chunk by chunk, until litprog and its sessions are gone.
fn on_terminal(t: &TestDir, args: &[&str], term: &str) -> (Child, Receiver<Vec<u8>>) {
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&size, None).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_litprog"))
        .args(args)
        .current_dir(t.path())
        .env_remove("LITPROG_LOG")
        .env_remove("NO_COLOR")
        .env("TERM", term)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .unwrap();
    // The command held the only other copy of the slave: once litprog
    // exits, reading the master ends (EIO).
    let (tx, rx) = mpsc::channel();
    let mut master = File::from(pty.master);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Receives terminal output into `seen` until it holds every one of
/// `needles`; fails after [`PATIENCE`].
#[track_caller]
fn wait_for(rx: &Receiver<Vec<u8>>, seen: &mut Vec<u8>, needles: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = String::from_utf8_lossy(seen);
        if needles.iter().all(|n| text.contains(n)) {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => {
                let tail: String = text.chars().rev().take(1000).collect();
                let tail: String = tail.chars().rev().collect();
                panic!("the terminal never showed {needles:?}; it ended with:\n{tail:?}")
            }
        }
    }
}

/// Everything left on the terminal until it closes.
fn rest(rx: Receiver<Vec<u8>>, seen: &mut Vec<u8>) {
    seen.extend(rx.into_iter().flatten());
}

/// The screen as a terminal would leave it after `bytes`, one string per
/// line: printable text, carriage returns, line feeds, cursor up (`CSI n
/// A`) and erasing (`CSI K`, `CSI J`); other escapes (colours, cursor
/// visibility) change nothing on it.
fn screen(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                if row == lines.len() {
                    lines.push(Vec::new());
                }
            }
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut param = String::new();
                let mut end = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() || c == '~' {
                        end = c;
                        break;
                    }
                    param.push(c);
                }
                let n: usize = param.trim_start_matches('?').parse().unwrap_or(0);
                match end {
                    'A' => row = row.saturating_sub(n.max(1)),
                    'K' if n == 2 => lines[row].clear(),
                    'K' => lines[row].truncate(col),
                    'J' => {
                        lines[row].truncate(col);
                        lines.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c if c.is_control() => {}
            c => {
                let line = &mut lines[row];
                if line.len() <= col {
                    line.resize(col, ' ');
                    line.push(c);
                } else {
                    line[col] = c;
                }
                col += 1;
            }
        }
    }
    lines
        .into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_string())
        .collect()
}

#[test]
fn the_screen_model_follows_a_redraw() {
    // A terminal's line discipline sends "\r\n" for each "\n".
    let shown = screen(b"a\r\n\x1b[31mspin\x1b[0m b\r\x1b[2Kdone\r\nnext\x1b[1A\rold\x1b[K\r\n");
    assert_eq!(shown, ["a", "old", "next"]);
}

#[test]
fn a_terminal_shows_the_running_session_and_its_block_then_its_finished_line() {
    let t = TestDir::new();
    t.write("doc.md", WAITING);
    make_fifo(&t, "go");
    let (child, rx) = on_terminal(&t, &["build"], "xterm-256color");
    let mut seen = Vec::new();
    // The running session: its lpid, the block running now (the second,
    // waiting for the FIFO), the elapsed time.
    wait_for(&rx, &mut seen, &["slow", "doc.md:5  "]);
    let text = String::from_utf8_lossy(&seen).into_owned();
    let after = &text[text.find("doc.md:5  ").unwrap() + "doc.md:5  ".len()..];
    let digits = after.chars().take_while(char::is_ascii_digit).count();
    assert!(
        digits > 0 && after[digits..].starts_with('s'),
        "no elapsed time: {after:?}"
    );
    assert!(
        !String::from_utf8_lossy(&seen).contains("ok    slow"),
        "finished before it was released"
    );
    release(&t, "go");
    rest(rx, &mut seen);
    let status = finish(child).status;
    assert_eq!(status, 0, "{}", String::from_utf8_lossy(&seen));
    let shown = screen(&seen);
    let text = shown.join("\n");
    assert!(text.contains("ok    slow  exit 0"), "{text}");
    assert!(text.contains("updated doc.md"), "{text}");
    // The status line is gone from the screen once the session ended.
    assert!(!text.contains("doc.md:5"), "{text}");
    assert!(t.read("doc.md").contains("got go"));
}

#[test]
fn quiet_or_a_dumb_terminal_shows_no_status_area() {
    for (args, term) in [
        (&["build", "-q"][..], "xterm-256color"),
        (&["build"][..], "dumb"),
        (&["build", "--message-format", "json"][..], "xterm-256color"),
    ] {
        let t = TestDir::new();
        t.write("doc.md", WAITING);
        make_fifo(&t, "go");
        let (child, rx) = on_terminal(&t, args, term);
        // The session is in its second block, then ends.
        release(&t, "go");
        let mut seen = Vec::new();
        rest(rx, &mut seen);
        assert_eq!(finish(child).status, 0, "{args:?}");
        let text = String::from_utf8_lossy(&seen);
        assert!(!text.contains("doc.md:"), "{args:?} TERM={term}: {text:?}");
        assert!(!text.contains("\x1b[2K"), "{args:?} TERM={term}: {text:?}");
        // The lines for people stay, except with -q.
        assert_eq!(
            text.contains("ok    slow"),
            !args.contains(&"-q"),
            "{args:?} TERM={term}: {text:?}"
        );
    }
}

#[test]
fn a_stderr_that_is_no_terminal_gets_no_status_area() {
    let t = TestDir::new();
    t.write("doc.md", WAITING);
    make_fifo(&t, "go");
    let child = t.spawn_litprog(&["build"]);
    release(&t, "go");
    let run = finish(child).success();
    assert!(!run.stderr.contains('\x1b'), "{:?}", run.stderr);
    assert!(!run.stderr.contains("doc.md:5"), "{:?}", run.stderr);
    assert!(
        run.stderr.starts_with("ok    slow  exit 0"),
        "{:?}",
        run.stderr
    );
}

#[test]
fn verbose_streams_each_line_as_it_comes_prefixed_by_its_lpid() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=a lptype=session timeout=60\necho one\necho two >&2\n```\n\n\
         ```bash\nprintf 'no newline'\n```\n\n\
         ```bash\necho waiting\nread word < go\necho \"got $word\"\n```\n\n\
         ```bash lpid=b lptype=session\necho three\n```\n",
    );
    make_fifo(&t, "go");
    // Not a terminal: stderr is a pipe, read line by line as it comes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_litprog"))
        .args(["build", "-v"])
        .current_dir(t.path())
        .env_remove("LITPROG_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    // Streamed while the session runs: it waits for the test until then.
    while !lines.iter().any(|l| l == "[a] waiting") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no '[a] waiting' line: {lines:#?}"));
        lines.push(line);
    }
    release(&t, "go");
    lines.extend(rx.iter());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{lines:#?}");
    assert_eq!(stdout, "", "stdout stays clean");
    let ours: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with('[') || l.starts_with("ok "))
        .collect();
    assert_eq!(
        ours.iter()
            .map(|l| l.split("  exit").next().unwrap())
            .collect::<Vec<_>>(),
        [
            "[a] one",
            "[a] two",
            "[a] no newline",
            "[a] waiting",
            "[a] got go",
            "ok    a",
            "[b] three",
            "ok    b",
        ],
        "{lines:#?}"
    );
}

#[test]
fn verbose_streams_no_more_of_a_block_than_its_output_limit() {
    let t = TestDir::new();
    // 3 MB of lines in the first block (the limit is 1 MiB a block), then
    // a second block, streamed again.
    t.write(
        "doc.md",
        "```bash lpid=big lptype=session\nyes 0123456789012345678901234567890123456789 | head -n 75000\n```\n\n\
         ```bash\necho after\n```\n",
    );
    let run = t.litprog(&["build", "-v"]).success();
    let streamed = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("[big] 0123"))
        .count();
    // 1 MiB of 41-byte lines, the cut one not shown.
    assert_eq!(streamed, (1 << 20) / 41, "{}", &run.stderr[..2000]);
    assert!(run.stderr.contains("\n[big] after\n"));
    assert!(run.stderr.contains("output truncated"));
}

/// Every stdout line as JSON; the `block_started` ones.
fn block_events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .filter(|v| v["event"] == "block_started")
        .collect()
}

#[test]
fn json_block_started_names_each_block_s_file_line_and_index_in_order() {
    let t = TestDir::new();
    // One session across two documents: two blocks in a.md, one in b.md.
    t.write(
        "a.md",
        "# A\n\n```bash lpid=s lptype=session\necho one\n```\n\nText.\n\n```bash\necho two\n```\n",
    );
    t.write("b.md", "```bash lpid=s\necho three\n```\n");
    let run = t
        .litprog(&["build", "--no-cache", "--message-format", "json"])
        .success();
    let blocks = block_events(&run.stdout);
    let got: Vec<(String, u64, u64, String)> = blocks
        .iter()
        .map(|v| {
            (
                v["file"].as_str().unwrap().to_string(),
                v["line"].as_u64().unwrap(),
                v["index"].as_u64().unwrap(),
                v["lpid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s = String::from("s");
    assert_eq!(
        got,
        [
            ("a.md".into(), 3, 0, s.clone()),
            ("a.md".into(), 9, 1, s.clone()),
            ("b.md".into(), 1, 2, s),
        ]
    );
    // Between the session's start and its end.
    let events: Vec<String> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].to_string())
        .collect();
    let first = events
        .iter()
        .position(|e| e == "\"block_started\"")
        .unwrap();
    assert_eq!(events[first - 1], "\"session_started\"");
    assert_eq!(events[first + 3], "\"session_finished\"");
    // A session from the cache runs no block.
    let run = t.litprog(&["build", "--message-format", "json"]).success();
    assert!(block_events(&run.stdout).is_empty(), "{}", run.stdout);
    assert!(run.stdout.contains("\"session_cached\""));
}

#[test]
fn a_failed_session_s_blocks_stop_at_the_one_that_failed() {
    let t = TestDir::new();
    t.write(
        "doc.md",
        "```bash lpid=s lptype=session\necho one\n```\n\n```bash\nexit 3\n```\n\n```bash\necho never\n```\n",
    );
    let run = t.litprog(&["build", "--message-format", "json"]).status(1);
    let indices: Vec<u64> = block_events(&run.stdout)
        .iter()
        .map(|v| v["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 1]);
}

#[test]
fn messages_logged_while_sessions_run_scroll_above_the_status_area_intact() {
    let t = TestDir::new();
    // `noisy` ends while `slow` runs (-j 2), with a warning: its output
    // was cut at the limit.
    t.write(
        "doc.md",
        format!(
            "{WAITING}\n```bash lpid=noisy lptype=session\nhead -c 1100000 /dev/zero | tr '\\0' x\n```\n"
        ),
    );
    make_fifo(&t, "go");
    let (child, rx) = on_terminal(&t, &["build", "-j", "2"], "xterm-256color");
    let mut seen = Vec::new();
    wait_for(
        &rx,
        &mut seen,
        &["output truncated", "ok    noisy", "doc.md:5"],
    );
    release(&t, "go");
    rest(rx, &mut seen);
    assert_eq!(finish(child).status, 0);
    let shown = screen(&seen);
    let warning = shown
        .iter()
        .find(|l| l.contains("output truncated"))
        .unwrap_or_else(|| panic!("{shown:#?}"));
    assert!(
        warning.starts_with("warning: doc.md:10: output truncated: ")
            && warning.ends_with("bytes per block)"),
        "{shown:#?}"
    );
    assert!(shown.iter().any(|l| l.starts_with("ok    noisy  exit 0")));
    assert!(shown.iter().any(|l| l.starts_with("ok    slow  exit 0")));
    assert!(!shown.iter().any(|l| l.contains("doc.md:5")), "{shown:#?}");
}

#[test]
fn an_interrupt_clears_the_status_area() {
    let t = TestDir::new();
    t.write("doc.md", WAITING);
    make_fifo(&t, "go");
    let (child, rx) = on_terminal(&t, &["build"], "xterm-256color");
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, &["slow", "doc.md:5"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    rest(rx, &mut seen);
    assert_eq!(finish(child).status, 130);
    let shown = screen(&seen);
    assert!(
        shown.iter().any(|l| l.contains("build interrupted")),
        "{shown:#?}"
    );
    assert!(!shown.iter().any(|l| l.contains("doc.md:5")), "{shown:#?}");
}
