//! Test harness: a temporary project directory, fixture documents, and the
//! real `litprog` binary run inside it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary directory holding fixture files.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// An empty directory.
    pub fn new() -> Self {
        TestDir {
            dir: tempfile::Builder::new()
                .prefix("litprog-test-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `contents` to `rel` (parents created).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, contents).unwrap();
        self
    }

    /// Read `rel` as text.
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.dir.path().join(rel))
            .unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    /// Read `rel` as bytes.
    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        fs::read(self.dir.path().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
    }

    /// Does `rel` exist?
    pub fn exists(&self, rel: &str) -> bool {
        self.dir.path().join(rel).exists()
    }

    /// Every file under the directory with its bytes, for "nothing changed"
    /// assertions.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.path());
            for e in entries {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), fs::read(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out
    }

    /// `litprog ARGS` run in the directory.
    pub fn litprog(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_litprog"));
        cmd.args(args).current_dir(self.dir.path());
        cmd.env_remove("LITPROG_LOG");
        Run::new(cmd)
    }
}

/// A finished `litprog` run.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(mut cmd: Command) -> Run {
        let out = cmd.output().expect("run litprog");
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Assert the exit status.
    #[track_caller]
    pub fn status(self, expected: i32) -> Run {
        assert_eq!(
            self.status, expected,
            "exit status {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        );
        self
    }

    /// Assert exit status 0.
    #[track_caller]
    pub fn success(self) -> Run {
        self.status(0)
    }

    /// Assert that stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    /// Assert that stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}",
            self.stdout
        );
        self
    }
}

/// Is `name` on PATH?
fn on_path(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Fail the test, saying why, if `name` is not on PATH.
///
/// A test that needs an interpreter besides bash, sh and cat is marked
/// `#[cfg_attr(not(has_NAME), ignore = "NAME is not installed")]`: where
/// the build script (`build.rs`) did not find it, `cargo test` lists the
/// test as ignored, with the reason, instead of passing it. Under CI (`CI`
/// set), which installs every interpreter, no test is ignored, and one
/// whose interpreter is absent fails here. So does one whose interpreter
/// was removed after the tests were built.
#[track_caller]
pub fn require(name: &str) {
    assert!(
        on_path(name),
        "'{name}' is not installed{}",
        if std::env::var_os("CI").is_some() {
            ", and CI must run every test (see .ci/run)"
        } else {
            " (it was when the tests were built: `touch build.rs` to build them again)"
        }
    );
}

/// The seed document: the session chapter of the original litprog, whose
/// format litprog reads, beside the checkout as `../shared/seed/session.md`
/// (development and CI checkouts have it; it is not ours to copy). Tests
/// that read it are `#[cfg_attr(not(has_seed), ignore = ...)]`: `build.rs`
/// sets `has_seed` where the file is, and always under CI, where a missing
/// file fails them.
pub fn seed() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/session.md");
    fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e}{}",
            p.display(),
            if std::env::var_os("CI").is_some() {
                ", and CI must run every test"
            } else {
                " (it was there when the tests were built: `touch build.rs` to build them again)"
            }
        )
    })
}

impl TestDir {
    /// Start `litprog ARGS` in the directory without waiting for it.
    pub fn spawn_litprog(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_litprog"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("LITPROG_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn litprog")
    }

    /// Wait until `cond` holds for the directory, failing after 30 s.
    #[track_caller]
    pub fn wait_until(&self, what: &str, cond: impl Fn(&Path) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cond(self.dir.path()) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Wait for a spawned litprog and collect its output.
pub fn finish(child: std::process::Child) -> Run {
    let out = child.wait_with_output().expect("wait for litprog");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether `pid` is a live process. On Linux, a process counts as gone when
/// it is a zombie (killed processes whose parent died are reparented and may
/// stay zombies until reaped: a container's init may never reap them) or
/// already exiting: `FDSize: 0` means the kernel released its files, which
/// happens only in exit, and is what lets a session's readers see the end of
/// the pipes before the process is reaped.
pub fn process_alive(pid: i32) -> bool {
    if cfg!(target_os = "linux") {
        match fs::read_to_string(format!("/proc/{pid}/status")) {
            Err(_) => false,
            Ok(status) => {
                let field = |name: &str| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default()
                };
                let state = field("State:");
                !(state.starts_with('Z') || state.starts_with('X') || field("FDSize:") == "0")
            }
        }
    } else {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
    }
}

/// Is process `pid` gone (exited, whether or not it was reaped)?
pub fn process_gone(pid: i32) -> bool {
    !process_alive(pid)
}
