//! Platform code for the session engine: pseudo-terminals, process-group
//! signals and signal names. Everything that talks to the OS directly below
//! `std` lives here and in `spawn.rs` beside it (starting and reaping the
//! process), so porting the engine means porting these two files.
//!
//! They hold the crate's only `unsafe`: here one `ioctl` that nix declares
//! unsafe; in `spawn.rs` the child of a `clone` and `waitpid`. Everything
//! else nix wraps safely.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::pty::Winsize;
use nix::sys::signal::{Signal, killpg};
use nix::sys::termios::{OutputFlags, SetArg, tcgetattr, tcsetattr};
use nix::unistd::Pid;

/// A pseudo-terminal pair: we read the master, the child writes the slave.
pub(crate) struct Pty {
    pub(crate) master: File,
    pub(crate) slave: OwnedFd,
}

/// Opens a pseudo-terminal whose output processing is off, so the bytes the
/// child writes arrive unchanged (no `\n` -> `\r\n` from ONLCR).
///
/// Both descriptors are close-on-exec from the moment they exist: std
/// dup2()s the slave onto the child's stdout/stderr (which clears the flag
/// on the copy), and no other child spawned meanwhile by another thread may
/// inherit a copy, or our master would never see the end of the output and
/// that child would write into another session's terminal.
pub(crate) fn open_pty() -> io::Result<Pty> {
    let (master, slave) = open_pty_pair()?;
    let mut termios = tcgetattr(&slave).map_err(io::Error::from)?;
    termios
        .output_flags
        .remove(OutputFlags::OPOST | OutputFlags::ONLCR);
    tcsetattr(&slave, SetArg::TCSANOW, &termios).map_err(io::Error::from)?;
    let size = Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    set_window_size(&slave, &size)?;
    Ok(Pty {
        master: File::from(master),
        slave,
    })
}

nix::ioctl_write_ptr_bad!(tiocswinsz, nix::libc::TIOCSWINSZ, Winsize);

/// Sets the terminal's size (`TIOCSWINSZ`), which programs read to lay out
/// their output.
#[allow(unsafe_code)]
fn set_window_size(tty: &OwnedFd, size: &Winsize) -> io::Result<()> {
    // SAFETY: `tty` is an open descriptor for the call's duration and `size`
    // points to a valid `Winsize`, which TIOCSWINSZ only reads.
    unsafe { tiocswinsz(tty.as_raw_fd(), size) }
        .map(drop)
        .map_err(io::Error::from)
}

/// Linux: `posix_openpt` and the slave's `open` both take `O_CLOEXEC`.
#[cfg(target_os = "linux")]
fn open_pty_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::{OFlag, open};
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = posix_openpt(flags).map_err(io::Error::from)?;
    grantpt(&master).map_err(io::Error::from)?;
    unlockpt(&master).map_err(io::Error::from)?;
    let name = ptsname_r(&master).map_err(io::Error::from)?;
    let slave = open(name.as_str(), flags, Mode::empty()).map_err(io::Error::from)?;
    Ok((OwnedFd::from(master), slave))
}

/// Elsewhere `openpty` cannot set the flag atomically; it is set right
/// after, which leaves a short window in which a child spawned by another
/// thread can inherit the descriptors.
#[cfg(not(target_os = "linux"))]
fn open_pty_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use std::os::fd::AsFd;
    let pty = nix::pty::openpty(None, None).map_err(io::Error::from)?;
    for fd in [pty.master.as_fd(), pty.slave.as_fd()] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    }
    Ok((pty.master, pty.slave))
}

/// True when a read error means "no more data": reading a pty master whose
/// slaves are all closed fails with EIO on Linux instead of returning 0.
pub(crate) fn is_end_of_output(err: &io::Error) -> bool {
    err.raw_os_error() == Some(Errno::EIO as i32)
}

/// The signals the engine sends to a process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupSignal {
    Terminate,
    Kill,
}

/// Sends a signal to every process of the group `pgid`. Returns false when
/// the group no longer exists (ESRCH), which is the normal end of a session.
pub(crate) fn signal_group(pgid: i32, signal: GroupSignal) -> bool {
    let sig = match signal {
        GroupSignal::Terminate => Signal::SIGTERM,
        GroupSignal::Kill => Signal::SIGKILL,
    };
    match killpg(Pid::from_raw(pgid), sig) {
        Ok(()) => true,
        Err(Errno::ESRCH) => false,
        Err(err) => {
            log::warn!("cannot send {sig} to process group {pgid}: {err}");
            false
        }
    }
}

/// The conventional name of a signal number, such as `SIGSEGV`.
pub(crate) fn signal_name(signal: i32) -> String {
    match Signal::try_from(signal) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => format!("signal {signal}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_are_conventional() {
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(12345), "signal 12345");
    }

    #[test]
    fn pty_output_is_not_translated() {
        use std::io::{Read, Write};
        let pty = open_pty().unwrap();
        let mut slave = File::from(pty.slave);
        slave.write_all(b"a\nb\n").unwrap();
        drop(slave);
        let mut master = pty.master;
        let mut buf = [0u8; 16];
        let n = master.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"a\nb\n");
    }
}
