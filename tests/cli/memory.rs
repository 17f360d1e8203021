//! Memory (issue 11 point 7): peak RSS of litprog in the 4-session case,
//! when the sessions run, when they come from the cache, and in `check`.
//!
//! The peak is litprog's own: each measured run is the only child of a
//! `python3` that reports `RUSAGE_CHILDREN`'s `ru_maxrss` (the largest of
//! the processes it waited for, litprog and, through it, the sessions'
//! shells, which are far smaller), so other tests' children do not count.

use std::process::Command;

use crate::util::*;

/// Runs `litprog ARGS` under python3 and prints, on its stdout, the peak
/// RSS in KiB; litprog's stdout and stderr go to its stderr, and it exits
/// with litprog's status.
const MEASURE: &str = "\
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=sys.stderr).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
";

/// `litprog ARGS` in `t`: its output, and its peak RSS in KiB.
fn peak_rss(t: &TestDir, args: &[&str]) -> (Run, u64) {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", MEASURE, env!("CARGO_BIN_EXE_litprog")])
        .args(args)
        .current_dir(t.path())
        .env_remove("LITPROG_LOG");
    let out = cmd.output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no RSS in {stdout:?}"));
    let run = Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (run, kib)
}

/// Four documents of one bash session each, each printing 1 MiB of blank
/// lines (1,048,576 lines) on stdout, and with `stderr: separate` 1 MiB
/// more on stderr, at `-j 1`: run, rerun with `--no-cache`, from the
/// cache, and checked, each at most 100 MB.
fn four_sessions_of_a_mebibyte_stay_under_100_mb(separate: bool) {
    let t = TestDir::new();
    let mut peaks = Vec::new();
    for i in 1..=4 {
        let (attrs, code) = if separate {
            (
                " stderr=separate",
                "yes '' | head -c 1048576\nyes '' | head -c 1048576 >&2",
            )
        } else {
            ("", "yes '' | head -c 1048576")
        };
        t.write(
            &format!("doc{i}.md"),
            format!("# {i}\n\n```bash lpid=s{i} lptype=session{attrs}\n{code}\n```\n"),
        );
    }
    let (run, kib) = peak_rss(&t, &["build", "-j", "1"]);
    run.success()
        .stderr_has("4 sessions: 4 ran, 0 from the cache");
    peaks.push(("first build", kib));
    let built = t.read("doc1.md");
    // Every line is in the result: stdout's blank lines, then stderr's,
    // `! ` with its trailing space trimmed.
    let stderr = if separate {
        "!\n".repeat(1 << 20)
    } else {
        String::new()
    };
    let result = format!(
        "```text lpout=s1\n{}{stderr}# exit: 0\n```\n",
        "\n".repeat(1 << 20)
    );
    assert!(
        built.ends_with(&format!("```\n\n{result}")),
        "{}",
        &built[built.len() - 200..]
    );
    let (run, kib) = peak_rss(&t, &["build", "-j", "1", "--no-cache"]);
    run.success()
        .stderr_has("4 sessions: 4 ran, 0 from the cache");
    peaks.push(("build --no-cache", kib));
    let (run, kib) = peak_rss(&t, &["build", "-j", "1"]);
    run.success()
        .stderr_has("4 sessions: 0 ran, 4 from the cache");
    peaks.push(("build from the cache", kib));
    assert_eq!(t.read("doc1.md"), built);
    let (run, kib) = peak_rss(&t, &["check", "-j", "1"]);
    run.success();
    peaks.push(("check from the cache", kib));
    assert!(
        peaks.iter().all(|&(_, kib)| kib * 1024 <= 100_000_000),
        "peak RSS (KiB) over 100 MB: {peaks:?}"
    );
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn four_sessions_of_a_mebibyte_of_blank_lines_stay_under_100_mb_merged() {
    require("python3");
    four_sessions_of_a_mebibyte_stay_under_100_mb(false);
}

#[test]
#[cfg_attr(not(has_python3), ignore = "python3 is not installed")]
fn four_sessions_of_a_mebibyte_of_blank_lines_stay_under_100_mb_separate() {
    require("python3");
    four_sessions_of_a_mebibyte_stay_under_100_mb(true);
}
