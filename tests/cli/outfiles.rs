//! Tests of the files litprog writes: out_file targets (documents, links,
//! odd paths, non-regular files), modes and owners, hand edits of tangled
//! files, and the cost of nested out_files.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::time::{Duration, Instant};

use crate::util::*;

/// An out_file `filepath` holding the raw block `a` (text `x`).
fn out_file(filepath: &str) -> String {
    format!("```yaml\nfilepath: {filepath}\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n")
}

#[test]
fn nested_out_files_take_linear_time() {
    // f(n) uses f(n-1) twice: 2^26 visits when each use is tangled anew.
    let t = TestDir::new();
    let mut text =
        String::from("```yaml\nfilepath: f/0\ninputs: [leaf]\n```\n\n```text lpid=leaf\n```\n\n");
    for n in 1..=26 {
        text += &format!(
            "```yaml\nfilepath: f/{n}\ninputs: [f/{m}, f/{m}]\n```\n\n",
            m = n - 1
        );
    }
    t.write("doc.md", &text);
    let start = Instant::now();
    t.litprog(&["build"]).success();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert_eq!(t.read("f/26"), "");
}

/// `litprog ARGS` in `t` under `umask`.
fn litprog_with_umask(t: &TestDir, umask: &str, args: &[&str]) -> Run {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_litprog"))
        .args(args)
        .current_dir(t.path())
        .env_remove("LITPROG_LOG")
        .output()
        .expect("run litprog");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn mode(t: &TestDir, rel: &str) -> u32 {
    std::fs::metadata(t.path().join(rel))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn is_link(t: &TestDir, rel: &str) -> bool {
    std::fs::symlink_metadata(t.path().join(rel))
        .unwrap()
        .file_type()
        .is_symlink()
}

/// A session appending a line to `runs.txt` each time it runs.
const COUNTING: &str = "```bash lpid=s lptype=session\necho run >> runs.txt\necho hi\n```\n";

#[test]
fn out_file_that_is_a_document_is_refused() {
    for (name, filepath) in [
        ("the same name", "doc.md"),
        ("another spelling", "./sub/../doc.md"),
        ("another document", "other.md"),
        ("a link to a document", "alias"),
    ] {
        let t = TestDir::new();
        t.write("doc.md", out_file(filepath));
        t.write("other.md", "# Other\n");
        std::fs::create_dir(t.path().join("sub")).unwrap();
        symlink("doc.md", t.path().join("alias")).unwrap();
        let before = t.snapshot();
        let run = t.litprog(&["build"]).status(2);
        assert!(
            run.stderr.contains(&format!(
                "doc.md:1: out_file '{filepath}' would overwrite the document"
            )),
            "{name}: {}",
            run.stderr
        );
        assert_eq!(t.snapshot(), before, "{name}");
    }
}

#[test]
fn a_document_named_twice_is_built_once() {
    // Through a symbolic link (README.md -> docs/index.md) ...
    let t = TestDir::new();
    t.write("docs/index.md", COUNTING);
    symlink("docs/index.md", t.path().join("README.md")).unwrap();
    t.litprog(&["build"]).success();
    assert_eq!(t.read("runs.txt"), "run\n");
    assert!(is_link(&t, "README.md"), "the link was replaced");
    assert!(t.read("docs/index.md").contains("```text lpout=s\nhi\n"));
    // ... and twice on the command line.
    let t = TestDir::new();
    t.write("doc.md", COUNTING);
    std::fs::create_dir(t.path().join("sub")).unwrap();
    let run = t.litprog(&["build", "doc.md", "sub/../doc.md"]).success();
    assert!(!run.stderr.contains("changed on disk"), "{}", run.stderr);
    assert_eq!(t.read("runs.txt"), "run\n");
    assert!(t.read("doc.md").contains("```text lpout=s\nhi\n"));
}

#[test]
fn symbolic_links_inside_are_written_through() {
    let t = TestDir::new();
    t.write(
        "real/doc.md",
        format!("{}\n{COUNTING}", out_file("gen/out.txt")),
    );
    t.write("real/out.txt", "old\n");
    std::fs::create_dir(t.path().join("gen")).unwrap();
    symlink("../real/out.txt", t.path().join("gen/out.txt")).unwrap();
    symlink("real/doc.md", t.path().join("doc.md")).unwrap();
    // litprog did not write real/out.txt: overwriting it takes --force.
    t.litprog(&["build", "doc.md", "--force"]).success();
    assert!(is_link(&t, "doc.md") && is_link(&t, "gen/out.txt"));
    assert_eq!(t.read("real/out.txt"), "x\n");
    assert!(t.read("real/doc.md").contains("```text lpout=s\nhi\n"));
    t.litprog(&["check", "doc.md"]).success();
}

#[test]
fn symbolic_links_leading_outside_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("out.txt"), "theirs\n").unwrap();
    std::fs::write(
        outside.path().join("doc.md"),
        "```bash lpid=s lptype=session\necho hi\n```\n",
    )
    .unwrap();
    let t = TestDir::new();
    t.write("doc.md", out_file("out.txt"));
    symlink(outside.path().join("out.txt"), t.path().join("out.txt")).unwrap();
    t.litprog(&["build", "doc.md"]).status(2).stderr_has(
        "doc.md:1: out_file 'out.txt' leads outside the project root through a symbolic link",
    );
    let t = TestDir::new();
    symlink(outside.path().join("doc.md"), t.path().join("doc.md")).unwrap();
    t.litprog(&["build"])
        .status(2)
        .stderr_has("doc.md: the document is a symbolic link to")
        .stderr_has("--allow-outside");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("out.txt")).unwrap(),
        "theirs\n"
    );
    assert!(
        !std::fs::read_to_string(outside.path().join("doc.md"))
            .unwrap()
            .contains("lpout")
    );
}

#[test]
fn new_tangled_files_get_the_umask_s_mode() {
    let doc = concat!(
        "```yaml\nfilepath: secret.txt\ninputs: [a]\n```\n\n",
        "```yaml\nfilepath: bin/run.sh\ninputs: [a]\nis_executable: true\n```\n\n",
        "```text lpid=a\nx\n```\n",
    );
    for (umask, plain, executable) in [
        ("077", 0o600, 0o700),
        ("022", 0o644, 0o755),
        ("002", 0o664, 0o775),
    ] {
        let t = TestDir::new();
        t.write("doc.md", doc);
        litprog_with_umask(&t, umask, &["build"]).success();
        assert_eq!(mode(&t, "secret.txt"), plain, "umask {umask}");
        assert_eq!(mode(&t, "bin/run.sh"), executable, "umask {umask}");
    }
}

/// Is this test process root (as in CI and containers)?
fn running_as_root() -> bool {
    let probe = tempfile::NamedTempFile::new().unwrap();
    probe.as_file().metadata().unwrap().uid() == 0
}

#[test]
fn rewritten_files_keep_owner_group_and_mode() {
    let t = TestDir::new();
    let doc = |code: &str| {
        format!(
            "{}\n```bash lpid=s lptype=session\necho {code}\n```\n",
            out_file("out.txt").replace("\nx\n", &format!("\n{code}\n"))
        )
    };
    t.write("doc.md", doc("one"));
    litprog_with_umask(&t, "022", &["build"]).success();
    let (out, md) = (t.path().join("out.txt"), t.path().join("doc.md"));
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&md, std::fs::Permissions::from_mode(0o604)).unwrap();
    // Someone else's files, as on a bind mount that root builds in.
    let other = if running_as_root() {
        std::os::unix::fs::chown(&out, Some(4321), Some(4322)).unwrap();
        std::os::unix::fs::chown(&md, Some(4321), Some(4322)).unwrap();
        Some((4321, 4322))
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("not root: only the mode is checked");
        None
    };
    let text = t
        .read("doc.md")
        .replace("echo one", "echo two")
        .replace("\none\n```\n\n```bash", "\ntwo\n```\n\n```bash");
    t.write("doc.md", &text);
    if let Some((uid, gid)) = other {
        std::os::unix::fs::chown(&md, Some(uid), Some(gid)).unwrap();
    }
    std::fs::set_permissions(&md, std::fs::Permissions::from_mode(0o604)).unwrap();
    litprog_with_umask(&t, "077", &["build"]).success();
    assert_eq!(t.read("out.txt"), "two\n");
    assert!(t.read("doc.md").contains("lpout=s\ntwo\n"));
    assert_eq!(mode(&t, "out.txt"), 0o640);
    assert_eq!(mode(&t, "doc.md"), 0o604);
    if let Some(owner) = other {
        for p in [&out, &md] {
            let m = std::fs::metadata(p).unwrap();
            assert_eq!((m.uid(), m.gid()), owner, "{}", p.display());
        }
    }
}

#[test]
fn bad_targets_and_session_values_are_found_before_anything_is_written() {
    // Each document also tangles good.txt and has a session: neither may
    // happen when any of these is wrong.
    let good = "```yaml\nfilepath: good.txt\ninputs: [a]\n```\n\n```text lpid=a\nx\n```\n\n";
    let session = |options: &str| {
        format!(
            "```yaml\nlpid: s\nlptype: session\n{options}```\n\n```bash lpid=s\necho ran > ran.txt\n```\n\n"
        )
    };
    let long = "n".repeat(300);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "directory path",
            "```yaml\nfilepath: zdir/\ninputs: [a]\n```\n".into(),
            "doc.md:10: out_file 'zdir/' ends with '/'",
        ),
        (
            "NUL in a path",
            "```yaml\nfilepath: \"a\\0b\"\ninputs: [a]\n```\n".into(),
            "doc.md:10: out_file 'a\\0b' contains a NUL character",
        ),
        (
            "name over 255 bytes",
            format!("```yaml\nfilepath: d/{long}.txt\ninputs: [a]\n```\n"),
            "doc.md:10: out_file 'd/nnnn",
        ),
        (
            "two names of one target",
            "```yaml\nfilepath: ./good.txt\ninputs: [a]\n```\n".into(),
            "doc.md:10: out_file './good.txt' is the same file as out_file 'good.txt' at doc.md:1",
        ),
        (
            "a target under another target",
            "```yaml\nfilepath: good.txt/inner.txt\ninputs: [a]\n```\n".into(),
            "doc.md:10: out_file 'good.txt/inner.txt' cannot be created: out_file 'good.txt' at doc.md:1 is a file",
        ),
        (
            "empty env name",
            session("env: {\"\": x}\n"),
            "doc.md:13: environment variable name is empty (in 's')",
        ),
        (
            "env name holding =",
            session("env: {\"A=B\": x}\n"),
            "doc.md:13: environment variable name 'A=B' contains '='",
        ),
        (
            "NUL in an env value",
            session("env: {A: \"x\\0y\"}\n"),
            "doc.md:13: the value of environment variable 'A' contains a NUL character",
        ),
        (
            "NUL in the command",
            session("command: \"bash\\0x\"\n"),
            "doc.md:13: option 'command' contains a NUL character",
        ),
    ];
    for (name, bad, message) in cases {
        let t = TestDir::new();
        t.write("doc.md", format!("{good}{bad}"));
        let before = t.snapshot();
        let run = t.litprog(&["build"]);
        assert_eq!(run.status, 2, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(message),
            "{name}: stderr lacks {message:?}\n{}",
            run.stderr
        );
        assert_eq!(t.snapshot(), before, "{name}: files changed");
        assert!(!t.exists("ran.txt") && !t.exists(".litprog"), "{name}");
    }
}

/// `litprog ARGS`, killed (and the test failed) if it has not ended in 20 s.
fn litprog_or_hang(t: &TestDir, args: &[&str]) -> Run {
    let mut child = t.spawn_litprog(args);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("litprog {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    finish(child)
}

#[test]
fn targets_that_are_not_regular_files_are_refused_without_opening_them() {
    type Make = fn(&std::path::Path);
    let kinds: [(&str, Make); 4] = [
        ("a FIFO", |p| {
            nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap()
        }),
        ("a socket", |p| {
            // The socket's file stays after the listener is closed.
            drop(std::os::unix::net::UnixListener::bind(p).unwrap())
        }),
        ("a device", |p| symlink("/dev/null", p).unwrap()),
        ("a directory", |p| std::fs::create_dir(p).unwrap()),
    ];
    for (kind, make) in kinds {
        for command in ["build", "check"] {
            let t = TestDir::new();
            t.write("doc.md", out_file("out.txt"));
            make(&t.path().join("out.txt"));
            let run = litprog_or_hang(&t, &[command, "--allow-outside"]);
            assert_eq!(run.status, 2, "{kind}, {command}: {}", run.stderr);
            let want = format!("doc.md:1: out_file 'out.txt' is {kind}, not a regular file");
            assert!(
                run.stderr.contains(&want),
                "{kind}, {command}: {}",
                run.stderr
            );
        }
    }
}

const TANGLED: &str = "```yaml\nfilepath: src/tool.py\ninputs: [code]\n```\n\n```python lpid=code\nprint('from the document')\n```\n\n```bash lpid=s lptype=session\necho ran >> runs.txt\n```\n";

#[test]
fn build_leaves_a_hand_edited_tangled_file_alone_until_forced() {
    let t = TestDir::new();
    t.write("doc.md", TANGLED);
    t.litprog(&["build"]).success();
    assert_eq!(t.read(".litprog/.gitignore"), "*\n");
    assert!(t.read(".litprog/state.json").contains("src/tool.py"));
    // A change in the document reaches the file: litprog wrote what is there.
    t.write(
        "doc.md",
        TANGLED.replace("from the document", "changed in the document"),
    );
    t.litprog(&["build"]).success();
    assert_eq!(t.read("src/tool.py"), "print('changed in the document')\n");
    // A hand edit is kept, with the diff and both ways out.
    t.write("src/tool.py", "print('edited by hand')\n");
    let before = t.snapshot();
    let run = t
        .litprog(&["build"])
        .status(1)
        .stderr_has("src/tool.py was changed since litprog wrote it")
        .stderr_has("the document at doc.md:1")
        .stderr_has("litprog build --force")
        .stdout_has("-print('edited by hand')\n+print('changed in the document')\n");
    assert_eq!(t.snapshot(), before, "{}", run.stderr);
    // So is one that happens while the document changes as well.
    t.write("doc.md", TANGLED.replace("from the document", "third"));
    t.litprog(&["build"]).status(1);
    assert_eq!(t.read("src/tool.py"), "print('edited by hand')\n");
    t.litprog(&["build", "--force"]).success();
    assert_eq!(t.read("src/tool.py"), "print('third')\n");
    t.litprog(&["build"]).success();
    t.litprog(&["check", "--force"]).status(2);
}

#[test]
fn check_writes_only_what_build_may_and_reports_the_rest() {
    // A fresh checkout: the committed file is out of step, nothing recorded.
    let t = TestDir::new();
    t.write("doc.md", TANGLED);
    t.write("src/tool.py", "print('committed long ago')\n");
    let before = t.snapshot();
    t.litprog(&["check"])
        .status(1)
        .stderr_has("src/tool.py was changed since litprog wrote it")
        .stdout_has("-print('committed long ago')\n+print('from the document')\n");
    assert_eq!(t.snapshot(), before);
    // A hand edit after a build.
    let t = TestDir::new();
    t.write("doc.md", TANGLED);
    t.litprog(&["build"]).success();
    t.write("src/tool.py", "print('edited by hand')\n");
    let before = t.snapshot();
    t.litprog(&["check"])
        .status(1)
        .stdout_has("+print('from the document')");
    assert_eq!(t.snapshot(), before);
    // What litprog wrote itself, check may bring up to date.
    t.write("src/tool.py", "print('from the document')\n");
    t.write(
        "doc.md",
        t.read("doc.md").replace("from the document", "new"),
    );
    let doc = t.read("doc.md");
    t.litprog(&["check"]).success();
    assert_eq!(t.read("src/tool.py"), "print('new')\n");
    assert_eq!(t.read("doc.md"), doc);
}

#[test]
fn a_corrupt_state_file_is_taken_as_empty() {
    let t = TestDir::new();
    t.write("doc.md", out_file("out.txt"));
    t.litprog(&["build"]).success();
    for junk in [
        &b"{\"version\": 1, \"files\": {\"out.txt\": 5}}"[..],
        b"\xff\x00garbage",
        b"",
    ] {
        t.write(".litprog/state.json", junk);
        // Matching content: recorded again, with a warning.
        t.litprog(&["build"])
            .success()
            .stderr_has(".litprog/state.json: not a state file litprog can read; taken as empty");
        t.litprog(&["build"]).success();
        assert!(!t.read(".litprog/state.json").is_empty());
        // Differing content with the record lost: not overwritten.
        t.write(".litprog/state.json", junk);
        t.write("out.txt", "y\n");
        t.litprog(&["build"])
            .status(1)
            .stderr_has("out.txt was changed");
        assert_eq!(t.read("out.txt"), "y\n");
        t.litprog(&["build", "--force"]).success();
    }
}

#[test]
fn requires_on_an_out_file_is_an_error_at_the_key() {
    // It was a warning and the edge was dropped: the author expected the
    // file to be written after the session, and it never was.
    let t = TestDir::new();
    t.write(
        "a.md",
        "```bash lpid=gen lptype=session\necho hi\n```\n\n\
         ```yaml\nlpid: out\nlptype: out_file\nfilepath: out.txt\nrequires: [gen]\n```\n\n\
         ```text lpid=out\nx\n```\n\n\
         ```text lpid=raw lptype=raw_block requires=gen\ny\n```\n",
    );
    let before = t.snapshot();
    let run = t.litprog(&["build"]).status(2).stderr_has(
        "a.md:9: option 'requires' does not apply to out_file 'out': out_files are written before any session runs; a session that needs the file requires it instead (`requires: [out]`)",
    );
    run.stderr_has(
        "a.md:16: option 'requires' does not apply to raw_block 'raw': a raw block is never run, only included in out_files",
    );
    assert_eq!(t.snapshot(), before);
}
