//! Integration tests of the session engine against real interpreters.
//!
//! Tests whose interpreter is absent are skipped with a note on stderr, except
//! under CI (`CI` set), where they fail. No test sleeps to synchronise; timing
//! assertions are generous bounds only.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{process_alive, require};
use litprog::session::{
    Capture, Outcome, Session, SessionError, SessionOptions, StderrMode, Stream, run,
};

const TIMEOUT: Duration = Duration::from_secs(60);

/// For tests that must time out: long enough for bash to start and print on
/// a loaded two-core machine, short enough to keep the suite quick.
const SHORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Options with stdout and stderr on separate pipes, as most tests here
/// look at each stream on its own.
fn opts(cmd: &str) -> SessionOptions {
    let mut o = SessionOptions::from_command(cmd).unwrap();
    o.stderr = StderrMode::Separate;
    o
}

/// Options with the default, merged stdout and stderr.
fn merged(cmd: &str) -> SessionOptions {
    SessionOptions::from_command(cmd).unwrap()
}

fn blocks(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

fn run_blocks(options: SessionOptions, texts: &[&str]) -> Capture {
    run(options, &blocks(texts), TIMEOUT).unwrap()
}

fn block_outputs(capture: &Capture) -> Vec<(bool, String, String)> {
    capture
        .blocks
        .iter()
        .map(|b| (b.ran, b.stdout.clone(), b.stderr.clone()))
        .collect()
}

fn ran(stdout: &str, stderr: &str) -> (bool, String, String) {
    (true, stdout.to_string(), stderr.to_string())
}

fn not_ran() -> (bool, String, String) {
    (false, String::new(), String::new())
}

// The seed's integration test: BLOCK_0..BLOCK_2 through python.
const BLOCK_0: &str = r#"
import sys

def out(s: str):
    sys.stdout.write(s)
    sys.stdout.flush()

def err(s: str):
    sys.stderr.write(s)
    sys.stderr.flush()
"#;

const BLOCK_1: &str = r#"
out("ok1\n")
err("moep\n")
assert True
out("ok2")
"#;

const BLOCK_2: &str = r#"
out("ok3")
sys.exit(0)
import time
time.sleep(2)
assert False
out("ok4")
"#;

#[test]
#[cfg_attr(not(has_python), ignore = "python is not installed")]
fn seed_python_blocks_are_attributed_and_sys_exit_stops_the_rest() {
    require("python");
    let capture = run_blocks(opts("python"), &[BLOCK_0, BLOCK_1, BLOCK_2]);
    assert_eq!(capture.outcome, Outcome::Exited(0));
    assert_eq!(capture.stdout(), "ok1\nok2ok3");
    assert_eq!(capture.stderr(), "moep\n");
    assert_eq!(
        block_outputs(&capture),
        [ran("", ""), ran("ok1\nok2", "moep\n"), ran("ok3", "")]
    );
    // sys.exit() skipped BLOCK_2's time.sleep(2).
    assert!(
        capture.runtime < Duration::from_secs(2),
        "{:?}",
        capture.runtime
    );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn blocks_after_sys_exit_never_run() {
    require("python3");
    let capture = run_blocks(opts("python3"), &[BLOCK_0, BLOCK_2, "out('never')\n"]);
    assert_eq!(capture.outcome, Outcome::Exited(0));
    assert_eq!(
        block_outputs(&capture),
        [ran("", ""), ran("ok3", ""), not_ran()]
    );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_exception_ends_the_session_in_the_failing_block() {
    require("python3");
    let capture = run_blocks(
        opts("/usr/bin/env python3"),
        &["print('a')", "raise ValueError('boom')", "print('b')"],
    );
    assert_eq!(capture.outcome, Outcome::Exited(1));
    let blocks = &capture.blocks;
    assert_eq!(blocks[0].stdout, "a\n");
    assert!(blocks[1].ran && blocks[1].stderr.contains("ValueError: boom"));
    assert!(!blocks[2].ran && blocks[2].stdout.is_empty());
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_runs_unbuffered_unless_the_author_says_otherwise() {
    require("python3");
    let code = "import os; print(os.environ.get('PYTHONUNBUFFERED'))\n";
    assert_eq!(run_blocks(opts("python3"), &[code]).stdout(), "1\n");
    let mut o = opts("python3");
    o.env.push(("PYTHONUNBUFFERED".into(), "".into()));
    assert_eq!(run_blocks(o, &[code]).stdout(), "\n");
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_reads_its_script_in_one_go_and_behaves_as_from_stdin() {
    use std::os::unix::process::ExitStatusExt;
    require("python3");
    // A bare python3 runs a reader (`-c`) that reads all of stdin at once
    // instead of one byte per read(2). Output, tracebacks, syntax errors,
    // exit statuses and what the script sees of itself must be those of
    // python3 reading the same script from stdin.
    let scripts = [
        "import sys, __main__\nprint(__name__, sys.argv, repr(sys.path[0]))\nprint(sorted(vars(__main__)))\n",
        "def f(x):\n    return 1 / x\n\ndef g():\n    return f(0)\n\ng()\n",
        "print('before')\nx = = 1\n",
        "def f():\n  return 1\n    return 2\n",
        "import sys\nprint('out')\nsys.exit(3)\n",
        "import sys\nsys.exit('a message')\n",
        "print(input())\n",
        "import sys\nprint(repr(sys.stdin.read()))\n",
        "try:\n    raise KeyError('inner')\nexcept KeyError as e:\n    raise ValueError('outer') from e\n",
        "import warnings\nwarnings.warn('careful')\nprint('after')\n",
        "exec('1 / 0')\n",
        "raise KeyboardInterrupt\n",
        "# -*- coding: latin-1 -*-\nprint(len('\u{e9}'))\n",
    ];
    for script in scripts {
        let capture = run_blocks(opts("python3"), &[script]);
        // From a regular file, as litprog gives it: from a pipe python
        // cannot honour a coding declaration.
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, script.as_bytes()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let direct = std::process::Command::new("python3")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(file)
            .output()
            .unwrap();
        match (&capture.outcome, direct.status.code()) {
            (Outcome::Exited(code), Some(direct)) => assert_eq!(*code, direct, "{script}"),
            (Outcome::Signaled { signal, .. }, None) => {
                assert_eq!(Some(*signal), direct.status.signal(), "{script}")
            }
            (outcome, _) => panic!("{script}: {outcome:?}, directly {:?}", direct.status),
        }
        assert_eq!(
            capture.stdout(),
            String::from_utf8_lossy(&direct.stdout),
            "{script}"
        );
        assert_eq!(
            capture.stderr(),
            String::from_utf8_lossy(&direct.stderr),
            "{script}"
        );
    }
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn python_marker_helper_is_invisible_to_the_blocks_and_their_output() {
    require("python3");
    // The first marker statement defines a helper on `sys` that the others
    // call: nothing of it may show in the echo, the output, the globals of
    // `__main__`, `sys.argv` or an exception's type, compared with python3
    // itself.
    let code = [
        "import sys\nprint(__name__, sys.argv)\nprint(sorted(globals()))\n",
        "print(sorted(globals()))\nfor i in range(2):\n    print(i)",
        "print('no newline', end='')",
        "print(type(sys.stdout).__name__)\nraise KeyError('k')\n",
    ];
    let mut o = opts("python3");
    o.echo = true;
    let capture = run_blocks(o, &code);
    let direct = std::process::Command::new("python3")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            for block in &code {
                writeln!(stdin, "{}", block.trim_end())?;
            }
            drop(stdin);
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(capture.outcome, Outcome::Exited(1));
    assert_eq!(
        Some(capture.outcome.clone()),
        direct.status.code().map(Outcome::Exited)
    );
    assert_eq!(capture.stdout(), String::from_utf8_lossy(&direct.stdout));
    let last_line = |s: &str| s.lines().last().unwrap_or_default().to_string();
    let direct_stderr = String::from_utf8_lossy(&direct.stderr);
    assert_eq!(last_line(&capture.stderr()), "KeyError: 'k'");
    assert_eq!(last_line(&capture.stderr()), last_line(&direct_stderr));
    let blocks = &capture.blocks;
    assert_eq!(blocks[3].stdout, "TextIOWrapper\n");
    for (block, text) in blocks.iter().zip(code) {
        let input: String = block
            .lines()
            .filter(|l| l.stream == Stream::Stdin)
            .map(|l| l.text)
            .collect();
        assert_eq!(input, text);
    }
    assert!(
        capture
            .transcript()
            .iter()
            .all(|l| !l.text.contains("litprog")),
        "{:?}",
        capture.transcript()
    );
}

/// One interpreter's version of: block 0 prints a line to each stream,
/// block 1 prints without newline, block 2 prints a line.
fn check_interpreter(cmd: &str, program: &str, code: [&str; 3]) {
    require(program);
    let capture = run_blocks(opts(cmd), &code);
    assert_eq!(capture.outcome, Outcome::Exited(0), "{cmd}: {capture:?}");
    assert_eq!(
        block_outputs(&capture),
        [ran("a1\n", "e1\n"), ran("b2", ""), ran("c3\n", "")],
        "{cmd}"
    );
    assert_eq!(capture.stdout(), "a1\nb2c3\n", "{cmd}");
    assert_eq!(capture.stderr(), "e1\n", "{cmd}");
}

const SHELL_CODE: [&str; 3] = ["echo a1; echo e1 >&2", "printf b2", "echo c3"];

#[test]
fn blocks_through_bash() {
    check_interpreter("bash", "bash", SHELL_CODE);
}

#[test]
fn blocks_through_sh() {
    check_interpreter("/bin/sh", "sh", SHELL_CODE);
}

#[test]
#[cfg_attr(not(has_dash), ignore = "dash is not installed")]
fn blocks_through_dash() {
    check_interpreter("dash", "dash", SHELL_CODE);
}

#[test]
#[cfg_attr(not(has_zsh), ignore = "zsh is not installed")]
fn blocks_through_zsh() {
    check_interpreter("zsh", "zsh", SHELL_CODE);
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn blocks_through_python3() {
    check_interpreter(
        "python3",
        "python3",
        [
            "import sys\nprint('a1')\nprint('e1', file=sys.stderr)",
            "if True:\n    sys.stdout.write('b2')",
            "print('c3')",
        ],
    );
}

#[test]
#[cfg_attr(not(has_node), ignore = "node is not installed")]
fn blocks_through_node() {
    check_interpreter(
        "/usr/bin/env node",
        "node",
        [
            "console.log('a1')\nconsole.error('e1')",
            "process.stdout.write('b2')",
            "console.log('c3')",
        ],
    );
}

#[test]
#[cfg_attr(not(has_ruby), ignore = "ruby is not installed")]
fn blocks_through_ruby() {
    check_interpreter(
        "ruby",
        "ruby",
        ["puts 'a1'\n$stderr.puts 'e1'", "print 'b2'", "puts 'c3'"],
    );
}

#[test]
#[cfg_attr(not(has_perl), ignore = "perl is not installed")]
fn blocks_through_perl() {
    check_interpreter(
        "perl",
        "perl",
        [
            "print \"a1\\n\"; print STDERR \"e1\\n\";",
            "print 'b2'",
            "print \"c3\\n\";",
        ],
    );
}

#[test]
#[cfg_attr(not(has_sqlite3), ignore = "sqlite3 is not installed")]
fn marker_template_for_sqlite3() {
    require("sqlite3");
    let mut o = opts("sqlite3");
    o.marker = Some(".print {marker}".into());
    let capture = run_blocks(
        o,
        &[
            "create table t(x);\ninsert into t values (1);\nselect x from t;",
            "select x + 1 from t;\nselect nope from t;",
            "select 'z';",
        ],
    );
    // .print writes only to stdout, so stderr goes to the last block that ran.
    let blocks = block_outputs(&capture);
    assert_eq!(blocks[0], ran("1\n", ""));
    assert_eq!((blocks[1].1.as_str(), blocks[2].1.as_str()), ("2\n", "z\n"));
    assert!(blocks[2].2.contains("nope"), "{blocks:?}");
    assert_eq!(capture.stdout(), "1\n2\nz\n");
}

#[test]
fn without_marker_statement_the_session_is_one_unit() {
    let capture = run_blocks(opts("cat"), &["a", "b\n"]);
    assert!(!capture.per_block);
    assert_eq!(capture.stdout(), "a\nb\n");
}

#[test]
fn markers_continue_across_send_blocks_calls() {
    let mut session = Session::start(opts("sh")).unwrap();
    session.send_blocks(&blocks(&["echo 1"]));
    session.send_blocks(&blocks(&["echo 2", "echo 3"]));
    let capture = session.wait(TIMEOUT);
    assert_eq!(
        block_outputs(&capture),
        [ran("1\n", ""), ran("2\n", ""), ran("3\n", "")]
    );
}

#[test]
fn output_without_trailing_newline_is_kept() {
    let mut session = Session::start(opts("bash")).unwrap();
    session.send("printf 'no newline'");
    let capture = session.wait(TIMEOUT);
    assert_eq!(capture.stdout(), "no newline");
    assert!(!capture.per_block);
    let transcript = capture.transcript();
    let last = transcript.last().unwrap();
    assert_eq!((last.stream, last.text), (Stream::Stdout, "no newline"));
}

#[test]
fn bytes_that_are_not_utf8_are_decoded_lossily() {
    let capture = run_blocks(opts("bash"), &["printf 'a\\377b\\n'; printf '\\376' >&2"]);
    assert_eq!(capture.stdout(), "a\u{fffd}b\n");
    assert_eq!(capture.stderr(), "\u{fffd}");
}

#[test]
fn encoding_applies_to_output_and_input() {
    let mut o = opts("bash");
    o.encoding = Some("latin1".into());
    let capture = run_blocks(o, &["printf 'caf\\351\\n'; echo 'née'; echo ${#x}"]);
    assert_eq!(capture.stdout(), "café\nnée\n0\n");
}

#[test]
fn one_megabyte_of_output() {
    let capture = run_blocks(opts("bash"), &["head -c 1048576 /dev/zero | tr '\\0' x"]);
    assert_eq!(capture.outcome, Outcome::Exited(0));
    assert_eq!(capture.stdout().len(), 1 << 20);
    assert!(capture.stdout().bytes().all(|b| b == b'x'));
    assert!(!capture.truncated());
}

#[test]
fn output_beyond_the_limit_is_dropped_but_drained() {
    let mut o = opts("bash");
    o.output_limit = 1000;
    let capture = run_blocks(o, &["head -c 1048576 /dev/zero | tr '\\0' x", "echo done"]);
    assert_eq!(capture.outcome, Outcome::Exited(0));
    // The limit is per block: the next block keeps its output.
    assert_eq!(capture.blocks[0].stdout.len(), 1000);
    assert_eq!(capture.blocks[1].stdout, "done\n");
    assert!(capture.truncated());
    assert!(capture.dropped_bytes() >= (1 << 20) - 1000);
}

#[test]
fn heavy_stderr_while_stdin_is_still_being_written() {
    // bash reads its script as it goes: while it writes 4 MB to stderr, 4 MB
    // of script are still waiting in the stdin pipe. Both pipes must move.
    let filler = ":\n".repeat(2 << 20);
    let code = format!("head -c 4194304 /dev/zero >&2\n{filler}echo done\n");
    let capture = run(opts("bash"), &[code], TIMEOUT).unwrap();
    assert_eq!(capture.outcome, Outcome::Exited(0));
    assert_eq!(capture.stderr().len(), 4 << 20);
    assert_eq!(capture.stdout(), "done\n");
}

#[test]
fn process_that_never_reads_stdin_gets_ten_megabytes() {
    let input = "x".repeat(10 << 20);
    let started = Instant::now();
    for cmd in ["bash -c 'exec 0<&-; echo bye'", "true"] {
        let mut session = Session::start(opts(cmd)).unwrap();
        session.send(&input);
        let capture = session.wait(TIMEOUT);
        assert_eq!(capture.outcome, Outcome::Exited(0), "{cmd}");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let started = Instant::now();
    let capture = run(
        opts("bash"),
        &blocks(&["sleep 300 &\necho $!\nsleep 300\n"]),
        SHORT_TIMEOUT,
    )
    .unwrap();
    assert_eq!(capture.outcome, Outcome::TimedOut(SHORT_TIMEOUT));
    let pid: i32 = capture.stdout().trim().parse().expect("background pid");
    assert!(!process_alive(pid), "background sleep {pid} survived");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn background_job_does_not_outlive_a_finished_session() {
    let capture = run_blocks(opts("bash"), &["sleep 300 &\necho $!\n"]);
    assert_eq!(capture.outcome, Outcome::Exited(0));
    let pid: i32 = capture.stdout().trim().parse().expect("background pid");
    assert!(!process_alive(pid), "background sleep {pid} survived");
    assert!(capture.runtime < Duration::from_secs(20));
}

#[test]
fn process_ignoring_sigterm_still_dies() {
    let started = Instant::now();
    let capture = run(
        opts("bash"),
        &blocks(&["trap '' TERM\necho $$\nsleep 300\n"]),
        SHORT_TIMEOUT,
    )
    .unwrap();
    assert_eq!(capture.outcome, Outcome::TimedOut(SHORT_TIMEOUT));
    let pid: i32 = capture.stdout().trim().parse().expect("bash pid");
    assert!(!process_alive(pid));
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn term_makes_stdout_and_stderr_terminals() {
    let mut o = opts("bash");
    o.term = true;
    let capture = run_blocks(
        o,
        &[
            "[ -t 1 ] && echo out-tty; [ -t 2 ] && echo err-tty >&2; [ -t 0 ] || echo stdin-pipe",
            "printf 'x\\ny'",
        ],
    );
    assert_eq!(capture.outcome, Outcome::Exited(0));
    assert_eq!(
        block_outputs(&capture),
        [ran("out-tty\nstdin-pipe\n", "err-tty\n"), ran("x\ny", "")]
    );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn term_keeps_pythons_exit_status() {
    require("python3");
    let mut o = opts("python3");
    o.term = true;
    let capture = run_blocks(o, &["import sys\nprint(sys.stdout.isatty())\nsys.exit(3)"]);
    assert_eq!(capture.outcome, Outcome::Exited(3));
    assert_eq!(capture.stdout(), "True\n");
}

#[test]
fn missing_command_is_an_error_naming_it() {
    let err = Session::start(opts("litprog-no-such-command --flag"))
        .err()
        .unwrap();
    assert!(matches!(err, SessionError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("litprog-no-such-command"), "{err}");
}

#[test]
fn command_that_is_not_executable_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "echo hi\n").unwrap();
    let err = Session::start(SessionOptions::new(vec![script.display().to_string()]))
        .err()
        .unwrap();
    assert!(matches!(err, SessionError::NotExecutable { .. }), "{err:?}");
    assert!(err.to_string().contains("script.sh"), "{err}");
}

#[test]
fn signaled_outcome_names_the_signal() {
    let capture = run_blocks(opts("bash"), &["kill -SEGV $$"]);
    assert_eq!(
        capture.outcome,
        Outcome::Signaled {
            signal: 11,
            name: "SIGSEGV".into()
        }
    );
}

#[test]
fn exit_status_is_reported() {
    let capture = run_blocks(opts("sh"), &["echo a", "exit 7", "echo b"]);
    assert_eq!(capture.outcome, Outcome::Exited(7));
    assert_eq!(
        block_outputs(&capture),
        [ran("a\n", ""), ran("", ""), not_ran()]
    );
}

#[test]
fn echo_puts_each_blocks_input_before_its_output() {
    let mut o = opts("bash");
    o.echo = true;
    let capture = run_blocks(o, &["echo hi\necho oops >&2\n", "echo there"]);
    let lines = |i: usize| -> Vec<(Stream, String)> {
        capture.blocks[i]
            .lines()
            .map(|l| (l.stream, l.text.to_string()))
            .collect()
    };
    let mut block0 = lines(0);
    // Between stdout and stderr the order is that of reading, which the
    // scheduler may swap; only the inputs' place is exact.
    block0[2..].sort_by_key(|(stream, _)| *stream == Stream::Stderr);
    assert_eq!(
        block0,
        [
            (Stream::Stdin, "echo hi\n".into()),
            (Stream::Stdin, "echo oops >&2\n".into()),
            (Stream::Stdout, "hi\n".into()),
            (Stream::Stderr, "oops\n".into()),
        ]
    );
    assert_eq!(
        lines(1),
        [
            (Stream::Stdin, "echo there".into()),
            (Stream::Stdout, "there\n".into()),
        ]
    );
    assert_eq!(capture.transcript().len(), 6);
    assert!(
        capture
            .transcript()
            .iter()
            .all(|l| !l.text.contains("litprog"))
    );
}

#[test]
fn a_block_reading_stdin_gets_end_of_input_and_never_the_script() {
    // The script reaches each interpreter on a descriptor of its own; stdin
    // is /dev/null, as for `bash script.sh < /dev/null`. Before, `read` got
    // the next line of the script and `cat` swallowed every later block.
    let code = blocks(&[
        "read line\necho \"got [$line] $?\"\n",
        "cat | wc -l",
        "echo after",
    ]);
    let from_file = run(opts("bash"), &code, TIMEOUT).unwrap();
    let mut session = Session::start(opts("bash")).unwrap();
    session.send_blocks(&code);
    let from_pipe = session.wait(TIMEOUT);
    for capture in [&from_file, &from_pipe] {
        assert_eq!(capture.outcome, Outcome::Exited(0));
        assert_eq!(
            block_outputs(capture),
            [ran("got [] 1\n", ""), ran("0\n", ""), ran("after\n", "")]
        );
        assert_eq!(capture.input_consumed_by, None);
    }
}

/// A block of `cmd` that reads stdin gets end of input, and the next block
/// still runs.
fn stdin_is_empty_for(cmd: &str, reader: &str) {
    require(cmd);
    let capture = run_blocks(opts(cmd), &[reader, "print('next')"]);
    let first = capture.blocks[0].stdout.trim().to_string();
    assert!(
        ["''", "\"\"", "\"\"\n0", "0\n0", "0"].contains(&first.as_str()),
        "{cmd}: {first:?} {:?}",
        capture.blocks
    );
    assert!(capture.blocks[1].ran, "{cmd}");
}

#[test]
fn stdin_is_empty_for_sh() {
    stdin_is_empty_for("sh", "cat | wc -c");
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn stdin_is_empty_for_python3() {
    stdin_is_empty_for("python3", "import sys\nprint(repr(sys.stdin.read()))");
}

#[test]
#[cfg_attr(not(has_node), ignore = "node is not installed")]
fn stdin_is_empty_for_node() {
    stdin_is_empty_for(
        "node",
        "console.log(JSON.stringify(require('fs').readFileSync(0, 'utf8')))",
    );
}

#[test]
#[cfg_attr(not(has_ruby), ignore = "ruby is not installed")]
fn stdin_is_empty_for_ruby() {
    stdin_is_empty_for("ruby", "p $stdin.read\nputs `cat | wc -c`");
}

#[test]
#[cfg_attr(not(has_perl), ignore = "perl is not installed")]
fn stdin_is_empty_for_perl() {
    stdin_is_empty_for(
        "perl",
        "my @l = <STDIN>; print scalar(@l), \"\\n\"; print `cat | wc -c`;",
    );
}

#[test]
#[cfg_attr(not(has_dash), ignore = "dash is not installed")]
fn stdin_is_empty_for_dash() {
    stdin_is_empty_for("dash", "cat | wc -c");
}

#[test]
#[cfg_attr(not(has_zsh), ignore = "zsh is not installed")]
fn stdin_is_empty_for_zsh() {
    stdin_is_empty_for("zsh", "cat | wc -c");
}

#[test]
fn echo_works_when_stdin_is_a_file() {
    let mut o = opts("bash");
    o.echo = true;
    let capture = run_blocks(o, &["echo a\necho b", "echo c\n"]);
    let texts = |i: usize| -> Vec<(Stream, String)> {
        capture.blocks[i]
            .lines()
            .map(|l| (l.stream, l.text.to_string()))
            .collect()
    };
    assert_eq!(
        texts(0),
        [
            (Stream::Stdin, "echo a\n".into()),
            (Stream::Stdin, "echo b".into()),
            (Stream::Stdout, "a\n".into()),
            (Stream::Stdout, "b\n".into()),
        ]
    );
    assert_eq!(
        texts(1),
        [
            (Stream::Stdin, "echo c\n".into()),
            (Stream::Stdout, "c\n".into())
        ]
    );
    let stdin: Vec<_> = capture
        .transcript()
        .iter()
        .filter(|l| l.stream == Stream::Stdin)
        .map(|l| l.text)
        .collect();
    assert_eq!(stdin, ["echo a\n", "echo b", "echo c\n"]);
}

#[test]
fn transcript_without_blocks_puts_the_input_first() {
    let mut o = opts("bash");
    o.echo = true;
    let mut session = Session::start(o).unwrap();
    session.send("echo one\n");
    let capture = session.wait(TIMEOUT);
    let texts: Vec<_> = capture.transcript().iter().map(|l| l.text).collect();
    assert_eq!(texts, ["echo one\n", "one\n"]);
}

#[test]
fn input_delay_paces_the_lines() {
    let mut o = opts("bash");
    o.echo = true;
    o.input_delay = Some(Duration::from_millis(20));
    let capture = run_blocks(o, &["echo 1\necho 2\necho 3\n"]);
    let inputs = capture
        .transcript()
        .iter()
        .filter(|l| l.stream == Stream::Stdin)
        .count();
    assert_eq!(inputs, 3);
    // Three lines, each followed by the pause.
    assert!(
        capture.runtime >= Duration::from_millis(40),
        "{:?}",
        capture.runtime
    );
    assert_eq!(capture.stdout(), "1\n2\n3\n");
}

#[test]
fn env_and_cwd_are_applied() {
    let mut o = opts("sh");
    o.env.push(("LITPROG_TEST_VAR".into(), "value".into()));
    o.cwd = Some("src".into());
    let capture = run_blocks(o, &["echo $LITPROG_TEST_VAR; pwd"]);
    let cwd = std::env::current_dir().unwrap().join("src");
    let want = format!("value\n{}\n", cwd.canonicalize().unwrap().display());
    assert_eq!(capture.stdout(), want);
}

#[test]
fn missing_cwd_is_an_error_naming_it() {
    let mut o = opts("sh");
    o.cwd = Some(Path::new("no/such/dir").into());
    let err = Session::start(o).err().unwrap();
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[test]
#[cfg_attr(not(has_setsid), ignore = "setsid is not installed")]
fn process_that_escaped_the_group_does_not_hang_the_session() {
    require("setsid");
    // The escaped sleep keeps stdout open; the session gives up on it after a
    // bounded wait and keeps what was read.
    let started = Instant::now();
    let capture = run_blocks(opts("bash"), &["setsid sleep 300 &\necho $!\n"]);
    let pid: i32 = capture.stdout().trim().parse().expect("escaped pid");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(capture.outcome, Outcome::Exited(0));
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn tracing_shells_do_not_leak_marker_statements() {
    let capture = run_blocks(opts("bash"), &["set -x\necho a", "echo b"]);
    assert_eq!(
        block_outputs(&capture),
        [ran("a\n", "+ echo a\n"), ran("b\n", "+ echo b\n")]
    );
    let capture = run_blocks(opts("bash -v"), &["echo a", "echo b"]);
    assert_eq!(
        block_outputs(&capture),
        [ran("a\n", "echo a\n"), ran("b\n", "echo b\n")]
    );
}

#[test]
fn merged_output_keeps_the_order_written_and_separate_lists_stderr_after_stdout() {
    let code = [
        "echo o1; echo e1 >&2; echo o2; echo e2 >&2",
        "echo e3 >&2; echo o3",
    ];
    let capture = run_blocks(merged("bash"), &code);
    assert_eq!(
        block_outputs(&capture),
        [ran("o1\ne1\no2\ne2\n", ""), ran("e3\no3\n", "")]
    );
    let capture = run_blocks(opts("bash"), &code);
    assert_eq!(
        block_outputs(&capture),
        [ran("o1\no2\n", "e1\ne2\n"), ran("o3\n", "e3\n")]
    );
    let mut o = merged("bash");
    o.term = true;
    let capture = run_blocks(o, &["echo o1; echo e1 >&2; echo o2", "echo x"]);
    assert_eq!(
        block_outputs(&capture),
        [ran("o1\ne1\no2\n", ""), ran("x\n", "")]
    );
}

#[test]
fn the_timeout_counts_from_each_blocks_start() {
    let code = [
        "sleep 0.8; echo a",
        "sleep 0.8; echo b",
        "sleep 0.8; echo c",
    ];
    let capture = run(merged("bash"), &blocks(&code), Duration::from_millis(1500)).unwrap();
    assert_eq!(capture.outcome, Outcome::Exited(0));
    let mut o = merged("bash");
    o.session_timeout = Some(Duration::from_millis(1200));
    let capture = run(o, &blocks(&code), Duration::from_secs(30)).unwrap();
    assert_eq!(
        capture.outcome,
        Outcome::SessionTimedOut(Duration::from_millis(1200))
    );
    assert_eq!(capture.ran(), 2);
}

/// Options for bash as the CLI starts it: ended with the thread that
/// waits for it (litprog's own spawn on Linux).
fn bash_ending_with_us() -> SessionOptions {
    let mut o = merged("bash");
    o.end_with_parent = true;
    o
}

#[test]
fn sigpipe_is_at_its_default_in_the_session() {
    // Rust ignores SIGPIPE in litprog; ignored, `yes` would see EPIPE and
    // complain instead of being killed by the signal (128 + 13).
    let capture = run_blocks(
        bash_ending_with_us(),
        &["yes | head -1; echo \"yes: ${PIPESTATUS[0]}\""],
    );
    assert_eq!(capture.stdout(), "y\nyes: 141\n");
}

#[test]
fn no_signal_is_blocked_in_the_session() {
    // bash passes the mask it was started with on to grep.
    let capture = run_blocks(bash_ending_with_us(), &["grep '^SigBlk' /proc/self/status"]);
    assert_eq!(capture.stdout(), "SigBlk:\t0000000000000000\n");
}

#[test]
fn the_interpreter_sees_its_name_and_the_inherited_environment() {
    let mut o = bash_ending_with_us();
    o.env.push(("LITPROG_TEST_VAR".into(), "added".into()));
    let capture = run_blocks(
        o,
        &["tr '\\0' '\\n' < /proc/$$/cmdline | head -1; echo \"$HOME $LITPROG_TEST_VAR\""],
    );
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(capture.stdout(), format!("bash\n{home} added\n"));
}

#[test]
fn missing_program_is_reported_as_not_found_also_ending_with_us() {
    for program in ["litprog-no-such-command", "/no/such/dir/program"] {
        let mut o = merged(program);
        o.end_with_parent = true;
        let err = Session::start(o).err().unwrap();
        assert!(matches!(err, SessionError::NotFound { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("command not found: '{program}'"));
    }
}

#[test]
fn an_executable_without_interpreter_line_is_run_by_sh() {
    // As execvp does: the kernel cannot run it (ENOEXEC), /bin/sh does.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("plain-script");
    std::fs::write(&script, "echo \"from $0\"\ncat\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut o = merged(&script.display().to_string());
    o.end_with_parent = true;
    let capture = run_blocks(o, &["input\n"]);
    assert_eq!(
        capture.stdout(),
        format!("from {}\ninput\n", script.display())
    );
}
