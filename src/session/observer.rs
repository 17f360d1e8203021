//! [`Observer`]: what a caller hears of a session while it runs.

use super::Stream;

/// Hears a running session's progress: each block as it starts and each
/// output line as it is read, long before [`Session::wait`] returns the
/// capture. Set one in [`SessionOptions::observer`]; without one (the
/// default) the engine does no work for it.
///
/// [`block_started`](Observer::block_started) is called on the thread that
/// waits for the session, [`output_line`](Observer::output_line) on the
/// thread reading the stream (one per stream), so an observer is `Send +
/// Sync`; each should return quickly, as the session's reading or its
/// timeouts wait for it.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use litprog::session::{self, Observer, SessionOptions, Stream};
///
/// #[derive(Default)]
/// struct Seen(Mutex<Vec<String>>);
/// impl Observer for Seen {
///     fn block_started(&self, index: usize) {
///         self.0.lock().unwrap().push(format!("block {index}"));
///     }
///     fn output_line(&self, _: Stream, line: &[u8]) {
///         self.0.lock().unwrap().push(String::from_utf8_lossy(line).into_owned());
///     }
/// }
///
/// let seen = Arc::new(Seen::default());
/// let mut opts = SessionOptions::from_command("sh").unwrap();
/// opts.observer = Some(seen.clone());
/// session::run(opts, &["echo one", "echo two"], Duration::from_secs(10)).unwrap();
/// let seen = seen.0.lock().unwrap();
/// assert_eq!(*seen, ["block 0", "one\n", "block 1", "two\n"]);
/// ```
///
/// [`Session::wait`]: super::Session::wait
/// [`SessionOptions::observer`]: super::SessionOptions::observer
pub trait Observer: Send + Sync {
    /// Block `index` (counting from 0, in the order sent) started: the
    /// session started (block 0), or the marker of the block before it
    /// arrived. A block whose marker was skipped is reported with the next.
    fn block_started(&self, index: usize) {
        let _ = index;
    }

    /// A line of output as read, markers removed, with its `\n` if it had
    /// one (the last line of a block may have none), not yet decoded.
    /// Only output that is kept is told: bytes beyond
    /// [`SessionOptions::output_limit`](super::SessionOptions::output_limit)
    /// are not, nor the cut line at the limit.
    fn output_line(&self, stream: Stream, line: &[u8]) {
        let _ = (stream, line);
    }
}

impl std::fmt::Debug for dyn Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}
