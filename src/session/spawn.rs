//! Starting a session's process: [`spawn`] takes a [`Launch`], everything
//! the engine decided (program, arguments, environment, directory, the
//! descriptors for stdin, stdout and stderr), and returns a [`Spawned`], the
//! pid and the write end of stdin when it is a pipe; [`wait`] reaps it.
//!
//! On Linux litprog starts the process itself, the way glibc's
//! `posix_spawn` does: `clone(CLONE_VM | CLONE_VFORK)` runs a child function
//! on a stack of its own, in litprog's memory, until it execs. It does so
//! because the child must ask for `PR_SET_PDEATHSIG` before the exec, and
//! std's `Command` runs such code (`pre_exec`) only in a forked child, and a
//! fork copies litprog's page tables: about 1 ms of CPU per session
//! (docs/performance.md). Elsewhere std's `Command` starts it, without that
//! request.
//!
//! The child of a `CLONE_VM` clone shares litprog's memory and runs while
//! only the spawning thread is suspended, so it must neither allocate nor
//! take a lock nor run a signal handler of litprog's: the parent prepares
//! every string and pointer array beforehand, the child makes system calls
//! only, and all signals are blocked from before the clone until the child
//! has reset to the default every signal litprog handles (signal-hook's
//! handlers would write to litprog's self-pipe and memory).

use std::fs::File;
use std::io::{self, PipeWriter};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;

/// What to start; the caller has decided everything.
pub(crate) struct Launch {
    /// The program: a path, or a name looked up on the child's `PATH` as
    /// `execvp` would.
    pub(crate) program: PathBuf,
    /// The arguments, `argv[0]` (the name the program sees as `$0`) first.
    pub(crate) argv: Vec<String>,
    /// Variables set on top of the inherited environment; a later one wins.
    pub(crate) env: Vec<(String, String)>,
    /// The child's working directory; `None` = litprog's.
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Stdin,
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
    /// On Linux, the child gets SIGKILL when the *thread* that spawns it
    /// ends (`PR_SET_PDEATHSIG`), so that the interpreter does not outlive
    /// litprog even when litprog is killed by SIGKILL; if litprog died
    /// before the child could ask for this, the child does not run the
    /// program at all. Only the interpreter gets the signal, not the
    /// processes it started; and since it is the spawning thread whose end
    /// counts, the session must be waited for on the thread that started
    /// it. Elsewhere this does nothing.
    pub(crate) end_with_parent: bool,
}

/// The child's standard input.
pub(crate) enum Stdin {
    /// A new pipe, whose write end [`Spawned::stdin`] is.
    Pipe,
    /// A file (the spooled script), read from its current offset.
    File(File),
}

impl Stdin {
    /// The descriptor the child gets, and the parent's end of a pipe.
    fn open(self) -> io::Result<(OwnedFd, Option<PipeWriter>)> {
        match self {
            Stdin::Pipe => {
                let (reader, writer) = io::pipe()?;
                Ok((reader.into(), Some(writer)))
            }
            Stdin::File(file) => Ok((file.into(), None)),
        }
    }
}

/// A started process: its pid (also its process group's id), and the write
/// end of its stdin when that is a pipe. Nothing is done when it is dropped:
/// [`wait`] reaps the process.
pub(crate) struct Spawned {
    pub(crate) pid: i32,
    pub(crate) stdin: Option<PipeWriter>,
}

/// Starts `launch` in a process group of its own (`setpgid(0, 0)`).
/// Descriptors other than the three given are not inherited: litprog opens
/// every descriptor close-on-exec. SIGPIPE, which Rust ignores in litprog,
/// is the default again in the child, and no signal is blocked.
pub(crate) fn spawn(launch: Launch) -> io::Result<Spawned> {
    #[cfg(target_os = "linux")]
    return linux::spawn(launch);
    #[cfg(not(target_os = "linux"))]
    return spawn_std(launch);
}

/// Waits for the process `pid` to end (`waitpid`) and returns its status.
#[allow(unsafe_code)]
pub(crate) fn wait(pid: i32) -> io::Result<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes one int through a pointer to a live local.
        if unsafe { nix::libc::waitpid(pid, &mut status, 0) } >= 0 {
            return Ok(ExitStatus::from_raw(status));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Starts `launch` with std's `Command` (which uses `posix_spawn` where it
/// can), ignoring `end_with_parent`. Compiled on Linux for the tests, which
/// compare it with the spawn of litprog's own.
#[cfg(any(test, not(target_os = "linux")))]
fn spawn_std(launch: Launch) -> io::Result<Spawned> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let (stdin, writer) = launch.stdin.open()?;
    let mut cmd = Command::new(&launch.program);
    cmd.arg0(&launch.argv[0])
        .args(&launch.argv[1..])
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(launch.stdout))
        .stderr(Stdio::from(launch.stderr))
        .process_group(0);
    if let Some(cwd) = &launch.cwd {
        cmd.current_dir(cwd);
    }
    let child = cmd.spawn()?;
    // Dropping `cmd` closes our copies of the child's descriptors; dropping
    // the `Child` neither waits nor kills.
    Ok(Spawned {
        pid: child.id() as i32,
        stdin: writer,
    })
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::Cell;
    use std::ffi::{CStr, CString, OsStr, OsString};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::ptr;
    use std::sync::atomic::{AtomicI32, Ordering};

    use nix::libc::{self, c_char, c_int, c_void};
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};

    use super::{Launch, Spawned};

    /// The child's stack until it execs: it calls a few system-call
    /// wrappers and nothing else (glibc gives its `posix_spawn` child 32 KiB
    /// plus the arguments' size).
    const STACK_SIZE: usize = 64 * 1024;

    /// The shell `execvp` runs a file with when the kernel cannot
    /// (`ENOEXEC`: no `#!` line).
    const SHELL: &CStr = c"/bin/sh";

    /// glibc's `execvp` searches these when `PATH` is not set.
    const DEFAULT_PATH: &str = "/bin:/usr/bin";

    /// Everything the child reads, prepared by the parent (the child must
    /// not allocate). The pointer arrays point into the `CString`s kept
    /// beside them.
    struct Plan {
        /// Where the program may be, in `execvp`'s order: the program when
        /// its name has a `/`, else each `PATH` entry joined with the name.
        candidates: Vec<CString>,
        _args: Vec<CString>,
        argv: Vec<*const c_char>,
        _env: Vec<CString>,
        envp: Vec<*const c_char>,
        /// `/bin/sh`, a slot for the file, `argv[1..]`: what `execvp` runs
        /// after `ENOEXEC`. `Cell`s, because the child fills the slot with
        /// each candidate in turn; a `Cell` has the layout of its content,
        /// so the array can be given to `execve` as it is.
        script_argv: Vec<Cell<*const c_char>>,
        cwd: Option<CString>,
        /// Descriptors for the child's 0, 1 and 2, all above 2, so that no
        /// `dup2` overwrites one still to be copied.
        fds: [c_int; 3],
        /// litprog's pid, when the child is to end with its parent.
        parent: Option<libc::pid_t>,
        /// One past the highest signal number.
        signals: c_int,
        /// The errno of the step that failed in the child; 0 if it exec'd.
        error: AtomicI32,
    }

    /// The environment the child gets, as std's `Command` computes it: without
    /// additions, litprog's own in its order; with some, sorted by name.
    fn environment(added: &[(String, String)]) -> Vec<(OsString, OsString)> {
        if added.is_empty() {
            return std::env::vars_os().collect();
        }
        let mut env: std::collections::BTreeMap<OsString, OsString> = std::env::vars_os().collect();
        for (k, v) in added {
            env.insert(k.into(), v.into());
        }
        env.into_iter().collect()
    }

    /// Converts to `CString`s, failing as std does on an interior NUL.
    fn cstrings<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> std::io::Result<Vec<CString>> {
        items
            .into_iter()
            .map(|b| {
                CString::new(b).map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "nul byte found in provided data",
                    )
                })
            })
            .collect()
    }

    /// A null-terminated array of pointers to `strings`.
    fn pointers(strings: &[CString]) -> Vec<*const c_char> {
        strings
            .iter()
            .map(|s| s.as_ptr())
            .chain([ptr::null()])
            .collect()
    }

    /// Where `execvp` would look for `program` with the child's `path`.
    fn candidates(program: &OsStr, path: Option<&OsStr>) -> Vec<Vec<u8>> {
        let name = program.as_bytes();
        if name.contains(&b'/') {
            return vec![name.to_vec()];
        }
        let path = path.map_or(DEFAULT_PATH.as_bytes(), OsStr::as_bytes);
        path.split(|&b| b == b':')
            .map(|dir| match dir {
                // An empty entry is the current directory.
                b"" => name.to_vec(),
                _ => [dir, b"/", name].concat(),
            })
            .collect()
    }

    /// `fd` as a descriptor above 2 (a close-on-exec copy if it is not).
    fn above_stdio(fd: OwnedFd) -> std::io::Result<OwnedFd> {
        if fd.as_raw_fd() > 2 {
            return Ok(fd);
        }
        // std duplicates with F_DUPFD_CLOEXEC from 3.
        fd.try_clone()
    }

    /// Prepares the [`Plan`], clones the child with every signal blocked,
    /// and reports what the child left in `plan.error`.
    #[allow(unsafe_code)]
    pub(super) fn spawn(launch: Launch) -> std::io::Result<Spawned> {
        if launch.program.as_os_str().is_empty() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
        }
        let (stdin, writer) = launch.stdin.open()?;
        let child_fds = [
            above_stdio(stdin)?,
            above_stdio(launch.stdout)?,
            above_stdio(launch.stderr)?,
        ];
        let env = environment(&launch.env);
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str());
        let candidates = cstrings(
            candidates(launch.program.as_os_str(), path)
                .iter()
                .map(Vec::as_slice),
        )?;
        let args = cstrings(launch.argv.iter().map(|a| a.as_bytes()))?;
        let env = cstrings(
            env.iter()
                .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
                .collect::<Vec<_>>()
                .iter()
                .map(Vec::as_slice),
        )?;
        let argv = pointers(&args);
        let script_argv = [SHELL.as_ptr(), ptr::null()]
            .into_iter()
            .chain(argv.iter().skip(1).copied())
            .map(Cell::new)
            .collect();
        let cwd = match &launch.cwd {
            Some(dir) => Some(cstrings([dir.as_os_str().as_bytes()])?.remove(0)),
            None => None,
        };
        let plan = Plan {
            candidates,
            envp: pointers(&env),
            _env: env,
            argv,
            _args: args,
            script_argv,
            cwd,
            fds: child_fds.each_ref().map(|fd| fd.as_raw_fd()),
            parent: launch
                .end_with_parent
                .then(|| nix::unistd::getpid().as_raw()),
            signals: libc::SIGRTMAX() + 1,
            error: AtomicI32::new(0),
        };
        let mut stack = Vec::<u8>::with_capacity(STACK_SIZE);
        // The stack grows down from its end, 16-byte aligned.
        let top = stack.as_mut_ptr().wrapping_add(STACK_SIZE);
        let top = top.wrapping_sub(top as usize % 16);

        // No signal handler may run in the child, which shares our memory,
        // before it has reset them all: block every signal in this thread,
        // whose mask the child inherits, until the clone returns.
        let mut mask = SigSet::empty();
        pthread_sigmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut mask),
        )
        .map_err(std::io::Error::from)?;
        // SAFETY: `child` runs on `stack`, which is ours alone and outlives
        // the child's use of it: with CLONE_VFORK this thread is suspended
        // until the child has exec'd or exited, and so are `plan` and what
        // it points to, which the child only reads (and writes through its
        // `Cell` and atomic). The child makes async-signal-safe calls only,
        // with every signal blocked until their handlers are reset.
        let pid = unsafe {
            libc::clone(
                child,
                top.cast::<c_void>(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                ptr::from_ref(&plan).cast_mut().cast::<c_void>(),
            )
        };
        let clone_error = std::io::Error::last_os_error();
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&mask), None);
        drop(stack);
        // Our copies of the child's descriptors: the readers see the end of
        // the output only once the child's are the last.
        drop(child_fds);
        if pid < 0 {
            return Err(clone_error);
        }
        match plan.error.load(Ordering::Relaxed) {
            0 => Ok(Spawned { pid, stdin: writer }),
            errno => {
                // The child exited; reap it.
                let _ = super::wait(pid);
                Err(std::io::Error::from_raw_os_error(errno))
            }
        }
    }

    /// The child: sets itself up and execs, or leaves the errno of what
    /// failed in `plan.error` and exits with 127.
    #[allow(unsafe_code)]
    extern "C" fn child(plan: *mut c_void) -> c_int {
        // SAFETY: `plan` is the parent's `Plan`, alive and unchanged while
        // the parent is suspended (see `spawn`).
        let plan = unsafe { &*plan.cast_const().cast::<Plan>() };
        // SAFETY: this is the child of `spawn`'s clone.
        let errno = unsafe { plan.exec() };
        plan.error.store(errno, Ordering::Relaxed);
        // SAFETY: ends this process without running anything of litprog's
        // (atexit handlers, buffers): it only shares litprog's memory.
        unsafe { libc::_exit(127) }
    }

    /// The last system call's errno (reading it allocates nothing).
    fn errno() -> c_int {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    }

    impl Plan {
        /// In the child: what std's `Command` does between fork and exec
        /// (stdio, directory, process group, signals), then
        /// `PR_SET_PDEATHSIG`, then `execvp`. Returns only on failure, with
        /// the errno.
        ///
        /// # Safety
        ///
        /// Only in the child of `spawn`'s clone, with every signal blocked.
        #[allow(unsafe_code)]
        unsafe fn exec(&self) -> c_int {
            // SAFETY: each call is a system call on valid descriptors,
            // strings and local structs; none allocates.
            unsafe {
                for (target, fd) in (0..).zip(self.fds) {
                    if libc::dup2(fd, target) < 0 {
                        return errno();
                    }
                }
                if let Some(dir) = &self.cwd
                    && libc::chdir(dir.as_ptr()) < 0
                {
                    return errno();
                }
                if libc::setpgid(0, 0) < 0 {
                    return errno();
                }
                self.reset_signals();
                if let Some(parent) = self.parent {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) < 0 {
                        return errno();
                    }
                    if libc::getppid() != parent {
                        // litprog is gone: its group is no longer to start.
                        return libc::ESRCH;
                    }
                }
                self.execvp()
            }
        }

        /// Every signal with a handler of litprog's, and SIGPIPE (ignored by
        /// Rust), back to the default; then the empty mask. Other ignored
        /// signals stay ignored, as with std.
        #[allow(unsafe_code)]
        unsafe fn reset_signals(&self) {
            // SAFETY: sigaction and sigprocmask on local structs; the
            // numbers glibc reserves fail with EINVAL and are skipped.
            unsafe {
                for signal in 1..self.signals {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(signal, ptr::null(), &mut old) != 0 {
                        continue;
                    }
                    let handled =
                        old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN;
                    if handled || signal == libc::SIGPIPE && old.sa_sigaction == libc::SIG_IGN {
                        let mut default: libc::sigaction = std::mem::zeroed();
                        default.sa_sigaction = libc::SIG_DFL;
                        libc::sigemptyset(&mut default.sa_mask);
                        libc::sigaction(signal, &default, ptr::null_mut());
                    }
                }
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
            }
        }

        /// glibc's `execvp` over the prepared candidates: a file the
        /// kernel cannot run is run by `/bin/sh`; the search goes on past a
        /// missing file or directory, and ends in EACCES if any candidate
        /// was not executable.
        #[allow(unsafe_code)]
        unsafe fn execvp(&self) -> c_int {
            let (mut last, mut denied) = (libc::ENOENT, false);
            for file in &self.candidates {
                // SAFETY: null-terminated arrays of pointers to strings the
                // parent keeps alive.
                unsafe {
                    libc::execve(file.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                    last = errno();
                    if last == libc::ENOEXEC {
                        self.script_argv[1].set(file.as_ptr());
                        libc::execve(
                            SHELL.as_ptr(),
                            self.script_argv.as_ptr().cast::<*const c_char>(),
                            self.envp.as_ptr(),
                        );
                        last = errno();
                    }
                }
                match last {
                    libc::EACCES => denied = true,
                    libc::ENOENT
                    | libc::ESTALE
                    | libc::ENOTDIR
                    | libc::ENODEV
                    | libc::ETIMEDOUT => {}
                    _ => return last,
                }
            }
            if denied { libc::EACCES } else { last }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn candidates_follow_execvp() {
            let c = |p: &str, path: Option<&str>| {
                candidates(OsStr::new(p), path.map(OsStr::new))
                    .into_iter()
                    .map(|b| String::from_utf8(b).unwrap())
                    .collect::<Vec<_>>()
            };
            assert_eq!(c("./x", Some("/bin")), ["./x"]);
            assert_eq!(c("sh", Some("/a::b")), ["/a/sh", "sh", "b/sh"]);
            assert_eq!(c("sh", None), ["/bin/sh", "/usr/bin/sh"]);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Read;

    /// Runs `script` in `sh` started by `spawner`, with stderr on stdout,
    /// and returns its output and exit status.
    fn output(
        spawner: fn(Launch) -> io::Result<Spawned>,
        script: &str,
        env: &[(&str, &str)],
    ) -> (String, ExitStatus) {
        let (mut reader, writer) = io::pipe().unwrap();
        let launch = Launch {
            program: "sh".into(),
            argv: vec!["my-sh".into(), "-c".into(), script.into(), "zero".into()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cwd: Some("/".into()),
            stdin: Stdin::Pipe,
            stdout: OwnedFd::from(writer.try_clone().unwrap()),
            stderr: OwnedFd::from(writer),
            end_with_parent: true,
        };
        let spawned = spawner(launch).unwrap();
        drop(spawned.stdin);
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        (out, wait(spawned.pid).unwrap())
    }

    /// The output without its first three lines, and with glibc's two
    /// internal signals (32 and 33) left out of `SigIgn`: glibc's
    /// `posix_spawn`, which std uses, leaves them ignored in the program it
    /// starts, where a fork (and litprog's spawn) leaves them as they were.
    fn rest(output: &str) -> String {
        let lines = output.lines().skip(3).filter(|l| !l.starts_with("SigIgn:"));
        let ignored = ignored(output) & !(0b11 << 31);
        lines
            .chain([format!("{ignored:x}").as_str()])
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The child's ignored signals, `SigIgn` (bit n - 1 for signal n).
    fn ignored(output: &str) -> u64 {
        let line = output
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .unwrap();
        u64::from_str_radix(line.trim(), 16).unwrap()
    }

    #[test]
    fn the_child_gets_what_std_would_give_it() {
        // $0, arguments, directory, process group, environment (in order),
        // signal mask and ignored signals, stdin.
        let script = "echo \"$0 $1 $(pwd)\"; cut -d' ' -f5 /proc/$$/stat; echo $$; \
                      tr '\\0' ' ' </proc/$$/cmdline; echo; env; \
                      grep -E '^Sig(Blk|Ign)' /proc/self/status; cat; exit 3";
        for env in [&[][..], &[("LITPROG_SPAWN_TEST", "1"), ("HOME", "/x")][..]] {
            let (ours, status) = output(spawn, script, env);
            let (std, std_status) = output(spawn_std, script, env);
            // The pid is the process group, and differs between the two.
            let lines: Vec<&str> = ours.lines().collect();
            assert_eq!(lines[1], lines[2], "{ours}");
            assert_eq!(lines[0], "zero  /", "{ours}");
            assert!(lines[3].starts_with("my-sh -c echo"), "{ours}");
            assert_eq!(rest(&ours), rest(&std));
            assert!(ours.contains("SigBlk:\t0000000000000000"), "{ours}");
            assert_eq!(ignored(&ours) & 1 << (13 - 1), 0, "SIGPIPE ignored: {ours}");
            assert_eq!(status.code(), Some(3));
            assert_eq!(std_status.code(), Some(3));
        }
    }

    #[test]
    fn exec_failures_carry_their_errno() {
        let launch = |program: &str, cwd: Option<&str>| Launch {
            program: program.into(),
            argv: vec![program.into()],
            env: Vec::new(),
            cwd: cwd.map(PathBuf::from),
            stdin: Stdin::Pipe,
            stdout: File::open("/dev/null").unwrap().into(),
            stderr: File::open("/dev/null").unwrap().into(),
            end_with_parent: false,
        };
        let kind = |l| spawn(l).err().map(|e| e.kind());
        assert_eq!(
            kind(launch("litprog-no-such-program", None)),
            Some(io::ErrorKind::NotFound)
        );
        assert_eq!(
            kind(launch("/etc/passwd", None)),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert_eq!(
            kind(launch("sh", Some("/no/such/dir"))),
            Some(io::ErrorKind::NotFound)
        );
    }
}
