//! What a finished session returns: [`Capture`], and how it is put together
//! from the raw streams, the input log and the markers.

use std::ops::Range;
use std::time::Duration;

use encoding_rs::Encoding;
use memchr::memmem;

use super::marker::Markers;
use super::reader::StreamBuf;

/// How the session's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The process exited with this status.
    Exited(i32),
    /// The process was killed by a signal it did not get from the timeout.
    Signaled {
        /// The signal number.
        signal: i32,
        /// The signal's name, such as `SIGSEGV`.
        name: String,
    },
    /// The session ran longer than this timeout and its group was terminated.
    TimedOut(Duration),
}

impl Outcome {
    /// True for `Exited(0)`.
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    /// `exit status 1`, `killed by SIGSEGV`, `timed out after 2.5s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(code) => write!(f, "exit status {code}"),
            Outcome::Signaled { name, .. } => write!(f, "killed by {name}"),
            Outcome::TimedOut(timeout) => write!(f, "timed out after {timeout:?}"),
        }
    }
}

/// Which stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Input written to the process.
    Stdin,
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

/// One line of input or output with the time it was written or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedLine {
    /// Time since the session started.
    pub time: Duration,
    /// Where the line came from.
    pub stream: Stream,
    /// The decoded text, including its `\n` if it had one.
    pub text: String,
}

/// The output of one block sent with [`Session::send_blocks`](super::Session::send_blocks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockCapture {
    /// False when the process ended before the block started.
    pub ran: bool,
    /// The block's standard output, markers removed.
    pub stdout: String,
    /// The block's standard error, markers removed.
    pub stderr: String,
    /// The block's echoed input lines (if `echo`), then its output lines in
    /// the order they were read.
    pub lines: Vec<CapturedLine>,
}

/// Everything a session produced.
#[derive(Clone, Debug)]
pub struct Capture {
    /// How the process ended.
    pub outcome: Outcome,
    /// The whole standard output, markers removed.
    pub stdout: String,
    /// The whole standard error, markers removed.
    pub stderr: String,
    /// Input (if `echo`), stdout and stderr lines in chronological order.
    /// With blocks, each block's input lines come first in the block, since
    /// an interpreter reads ahead and only the output's order is observable.
    pub transcript: Vec<CapturedLine>,
    /// From the start of the session to the end of its process.
    pub runtime: Duration,
    /// One entry per block sent with `send_blocks`, when the output could be
    /// attributed to blocks; `None` when the whole session is one unit.
    pub blocks: Option<Vec<BlockCapture>>,
    /// True when output beyond the output limit was dropped.
    pub truncated: bool,
    /// How many output bytes were dropped (both streams).
    pub dropped_bytes: u64,
}

/// An input line and the block it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct InputLine {
    pub(crate) line: CapturedLine,
    pub(crate) block: Option<usize>,
}

/// How output is to be divided.
pub(crate) enum Split<'a> {
    /// The whole session is one unit.
    Whole,
    /// `count` blocks were sent, separated by `markers`.
    Blocks { count: usize, markers: &'a Markers },
}

/// The raw material of a capture.
pub(crate) struct Parts<'a> {
    pub(crate) stdout: &'a StreamBuf,
    pub(crate) stderr: &'a StreamBuf,
    pub(crate) inputs: Vec<InputLine>,
    pub(crate) split: Split<'a>,
    pub(crate) encoding: &'static Encoding,
    pub(crate) outcome: Outcome,
    pub(crate) runtime: Duration,
}

impl Parts<'_> {
    pub(crate) fn into_capture(mut self) -> Capture {
        let dropped_bytes = self.stdout.dropped + self.stderr.dropped;
        // The input lines are moved into the capture, not copied.
        let inputs = std::mem::take(&mut self.inputs);
        let (stdout, stderr, transcript, blocks) = match self.split {
            Split::Whole => self.whole(inputs),
            Split::Blocks { count, markers } => self.per_block(inputs, count, markers),
        };
        Capture {
            outcome: self.outcome.clone(),
            stdout,
            stderr,
            transcript,
            runtime: self.runtime,
            blocks,
            truncated: dropped_bytes > 0,
            dropped_bytes,
        }
    }

    /// The session as one unit: all lines sorted by time (inputs first on
    /// ties, since they were stamped before being written).
    fn whole(
        &self,
        inputs: Vec<InputLine>,
    ) -> (String, String, Vec<CapturedLine>, Option<Vec<BlockCapture>>) {
        let enc = self.encoding;
        let (out, err) = (self.stdout, self.stderr);
        let inputs: Vec<CapturedLine> = inputs.into_iter().map(|i| i.line).collect();
        let (mut out_lines, mut err_lines) = (Vec::new(), Vec::new());
        let stdout = out.decode_lines(0..out.data.len(), Stream::Stdout, enc, &mut out_lines);
        let stderr = err.decode_lines(0..err.data.len(), Stream::Stderr, enc, &mut err_lines);
        let outputs = interleave(out_lines, err_lines);
        // Inputs were stamped before being written, so they go first on ties.
        let lines = merge_by(inputs, outputs, |input, output| input.time <= output.time);
        (stdout.into_owned(), stderr.into_owned(), lines, None)
    }

    /// One capture per block; the transcript is the blocks' lines in order,
    /// after any input sent before the first block.
    fn per_block(
        &self,
        inputs: Vec<InputLine>,
        count: usize,
        markers: &Markers,
    ) -> (String, String, Vec<CapturedLine>, Option<Vec<BlockCapture>>) {
        let enc = self.encoding;
        let (out, err) = (self.stdout, self.stderr);
        let a = attribute(&out.data, &err.data, markers, count);
        let mut transcript = Vec::new();
        let mut block_inputs: Vec<Vec<CapturedLine>> = vec![Vec::new(); a.stdout.len()];
        for input in inputs {
            match input.block.and_then(|b| block_inputs.get_mut(b)) {
                Some(lines) => lines.push(input.line),
                None => transcript.push(input.line),
            }
        }
        // Each piece is decoded once, for the block's text and its lines.
        let decode_pieces = |buf: &StreamBuf, pieces: &Pieces, stream: Stream| {
            let size = pieces.iter().map(|p| p.len()).sum();
            let (mut text, mut lines) = (String::with_capacity(size), Vec::new());
            for piece in pieces.iter().filter(|p| !p.is_empty()) {
                text.push_str(&buf.decode_lines(piece.clone(), stream, enc, &mut lines));
            }
            (text, lines)
        };
        let mut blocks = Vec::with_capacity(a.stdout.len());
        let parts = a.stdout.iter().zip(&a.stderr).zip(block_inputs);
        for (i, ((out_pieces, err_pieces), mut lines)) in parts.enumerate() {
            let (stdout, out_lines) = decode_pieces(out, out_pieces, Stream::Stdout);
            let (stderr, err_lines) = decode_pieces(err, err_pieces, Stream::Stderr);
            let output = interleave(out_lines, err_lines);
            if lines.is_empty() {
                lines = output;
            } else {
                lines.extend(output);
            }
            blocks.push(BlockCapture {
                ran: i < a.ran,
                stdout,
                stderr,
                lines,
            });
        }
        transcript.reserve(blocks.iter().map(|b| b.lines.len()).sum());
        for block in &blocks {
            transcript.extend(block.lines.iter().cloned());
        }
        let stdout = blocks.iter().map(|b| b.stdout.as_str()).collect();
        let stderr = blocks.iter().map(|b| b.stderr.as_str()).collect();
        (stdout, stderr, transcript, Some(blocks))
    }
}

/// A stderr line goes before a stdout line only when it was read more than
/// this much earlier.
///
/// Two pipes have no common order, and the reader threads stamp lines when
/// they read them, which under load can lag by milliseconds. Ordering by
/// the raw stamps put a stderr line written microseconds after a stdout line
/// first in more than half of 400 such blocks measured here, and differently
/// on every run: `litprog check` would flap. Within this tolerance stdout
/// goes first, which is the same on every run; lines further apart keep the
/// order they were read in.
pub const STREAM_ORDER_TOLERANCE: Duration = Duration::from_millis(10);

/// Interleave the lines of stdout and stderr (each in stream order): a
/// stderr line goes first only when it was read more than
/// [`STREAM_ORDER_TOLERANCE`] before the stdout line.
fn interleave(stdout: Vec<CapturedLine>, stderr: Vec<CapturedLine>) -> Vec<CapturedLine> {
    merge_by(stderr, stdout, |err, out| {
        err.time + STREAM_ORDER_TOLERANCE < out.time
    })
}

/// Merge two ordered lists, taking from `a` while `a_first(a, b)` holds.
fn merge_by(
    a: Vec<CapturedLine>,
    b: Vec<CapturedLine>,
    a_first: impl Fn(&CapturedLine, &CapturedLine) -> bool,
) -> Vec<CapturedLine> {
    // Usually one side is empty (a block that wrote only to stdout).
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => a_first(x, y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

/// The byte ranges of one block's output in one stream.
type Pieces = Vec<Range<usize>>;

/// How the streams are divided among the blocks.
#[derive(Debug, PartialEq, Eq)]
struct Attribution {
    /// Blocks `0..ran` started; the others never did.
    ran: usize,
    /// The stdout pieces of each block (none for blocks that never ran).
    stdout: Vec<Pieces>,
    /// The stderr pieces of each block.
    stderr: Vec<Pieces>,
}

/// Divides both streams among `count` blocks.
///
/// The rule: the blocks that ran are block 0 and every block whose preceding
/// marker shows in either stream. A stream is split at the markers it shows;
/// what follows its last marker belongs to the next block, the one that was
/// running when the stream ended. A stream that shows no marker at all while
/// the other does (sqlite3's `.print` writes only to stdout) goes wholly to
/// the last block that ran. Lines that contain the session's marker prefix
/// without being markers (an interpreter tracing or echoing the marker
/// statement) are dropped.
fn attribute(out: &[u8], err: &[u8], markers: &Markers, count: usize) -> Attribution {
    let count = count.max(1);
    let find = |data: &[u8]| markers.find(data, count - 1);
    let (out_found, err_found) = (find(out), find(err));
    let last_ran = out_found.len().max(err_found.len());
    // Built once: a searcher costs more than a short block's search.
    let noise = memmem::Finder::new(markers.prefix().as_bytes());
    let segments = |data: &[u8], found: &[Range<usize>]| -> Vec<Pieces> {
        let mut segs = vec![0..0; count];
        if found.is_empty() {
            segs[last_ran] = 0..data.len();
        } else {
            let mut prev = 0;
            for (seg, m) in segs.iter_mut().zip(found) {
                *seg = prev..m.start;
                prev = m.end;
            }
            segs[found.len()] = prev..data.len();
        }
        segs.into_iter()
            .map(|seg| without_lines_containing(data, seg, &noise))
            .collect()
    };
    Attribution {
        ran: last_ran + 1,
        stdout: segments(out, &out_found),
        stderr: segments(err, &err_found),
    }
}

/// `range` of `data` minus the lines that contain `finder`'s needle.
fn without_lines_containing(data: &[u8], range: Range<usize>, finder: &memmem::Finder) -> Pieces {
    let seg = &data[range.clone()];
    if finder.needle().is_empty() {
        return vec![range];
    }
    // Jump from one occurrence to the next and cut out its line: no work
    // per line or per byte outside memchr's and memmem's own loops.
    let mut pieces: Pieces = Vec::new();
    let mut kept = 0;
    while let Some(pos) = finder.find(&seg[kept..]) {
        let hit = kept + pos;
        let line_start = memchr::memrchr(b'\n', &seg[kept..hit]).map_or(kept, |i| kept + i + 1);
        let line_end = memchr::memchr(b'\n', &seg[hit..]).map_or(seg.len(), |i| hit + i + 1);
        if line_start > kept {
            pieces.push(range.start + kept..range.start + line_start);
        }
        kept = line_end;
    }
    if kept == 0 {
        return vec![range];
    }
    if kept < seg.len() {
        pieces.push(range.start + kept..range.end);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(data: &str, blocks: &[Pieces]) -> Vec<String> {
        blocks
            .iter()
            .map(|pieces| pieces.iter().map(|r| &data[r.clone()]).collect())
            .collect()
    }

    #[test]
    fn output_after_the_last_marker_belongs_to_the_running_block() {
        let m = Markers::new(String::new());
        let out = format!("ok1\nok2{}\nok3", m.marker(0));
        let err = format!("moep\n{}\n", m.marker(0));
        let a = attribute(out.as_bytes(), err.as_bytes(), &m, 3);
        assert_eq!(a.ran, 2);
        assert_eq!(texts(&out, &a.stdout), ["ok1\nok2", "ok3", ""]);
        assert_eq!(texts(&err, &a.stderr), ["moep\n", "", ""]);
    }

    #[test]
    fn a_stream_without_markers_goes_to_the_last_block_that_ran() {
        let m = Markers::new(String::new());
        let out = format!("a\n{}\nb\n{}\nc\n", m.marker(0), m.marker(1));
        let err = "oops\n";
        let a = attribute(out.as_bytes(), err.as_bytes(), &m, 3);
        assert_eq!(a.ran, 3);
        assert_eq!(texts(&out, &a.stdout), ["a\n", "b\n", "c\n"]);
        assert_eq!(texts(err, &a.stderr), ["", "", "oops\n"]);
    }

    #[test]
    fn traced_marker_statements_are_dropped() {
        let m = Markers::new(String::new());
        let trace = format!("+ printf '%s%s\\n' {} 0__\n", m.prefix());
        let err = format!("a\n{trace}{trace}{}\nb\n", m.marker(0));
        let a = attribute(b"", err.as_bytes(), &m, 2);
        assert_eq!(texts(&err, &a.stderr), ["a\n", "b\n"]);
    }

    #[test]
    fn without_lines_containing_cuts_whole_lines_only() {
        // The per-line definition, for comparison.
        fn naive(data: &[u8], range: Range<usize>, needle: &[u8]) -> Vec<u8> {
            let seg = &data[range];
            super::super::reader::split_lines(seg)
                .map(|l| &seg[l])
                .filter(|l| !l.windows(needle.len()).any(|w| w == needle))
                .flatten()
                .copied()
                .collect()
        }
        let data = b"xNNy\nok\n\nNN\nNNNN\r\nmid\nlast NN";
        for start in 0..data.len() {
            for end in start..=data.len() {
                let pieces = without_lines_containing(data, start..end, &memmem::Finder::new("NN"));
                let kept: Vec<u8> = pieces
                    .iter()
                    .flat_map(|p| &data[p.clone()])
                    .copied()
                    .collect();
                assert_eq!(kept, naive(data, start..end, b"NN"), "{start}..{end}");
                assert!(pieces.iter().all(|p| !p.is_empty() || pieces.len() == 1));
                assert!(pieces.windows(2).all(|w| w[0].end < w[1].start));
            }
        }
    }

    #[test]
    fn outcomes_read_well() {
        let signaled = Outcome::Signaled {
            signal: 11,
            name: "SIGSEGV".into(),
        };
        assert_eq!(signaled.to_string(), "killed by SIGSEGV");
        assert_eq!(Outcome::Exited(2).to_string(), "exit status 2");
        let timed_out = Outcome::TimedOut(Duration::from_millis(2500));
        assert_eq!(timed_out.to_string(), "timed out after 2.5s");
    }

    #[test]
    fn a_single_block_gets_everything() {
        let m = Markers::new(String::new());
        let a = attribute(b"x", b"y", &m, 1);
        assert_eq!(a.ran, 1);
        assert_eq!(texts("x", &a.stdout), ["x"]);
        assert_eq!(texts("y", &a.stderr), ["y"]);
    }

    fn at(ms: u64, stream: Stream, text: &str) -> CapturedLine {
        CapturedLine {
            time: Duration::from_millis(ms),
            stream,
            text: text.to_string(),
        }
    }

    fn order(lines: &[CapturedLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn stdout_goes_first_within_the_tolerance() {
        // stderr read 2 ms before stdout: within the tolerance, stdout first.
        let out = vec![at(100, Stream::Stdout, "o1"), at(300, Stream::Stdout, "o2")];
        let err = vec![at(98, Stream::Stderr, "e1"), at(150, Stream::Stderr, "e2")];
        assert_eq!(order(&interleave(out, err)), ["o1", "e1", "e2", "o2"]);
    }

    #[test]
    fn stderr_read_well_before_stays_first() {
        let out = vec![at(100, Stream::Stdout, "o1")];
        let err = vec![at(50, Stream::Stderr, "e1"), at(95, Stream::Stderr, "e2")];
        assert_eq!(order(&interleave(out, err)), ["e1", "o1", "e2"]);
    }

    #[test]
    fn inputs_merge_first_on_ties() {
        let inputs = vec![at(5, Stream::Stdin, "i1"), at(20, Stream::Stdin, "i2")];
        let outputs = vec![at(5, Stream::Stdout, "o1"), at(30, Stream::Stdout, "o2")];
        let merged = merge_by(inputs, outputs, |i, o| i.time <= o.time);
        assert_eq!(order(&merged), ["i1", "o1", "i2", "o2"]);
        let outputs = vec![at(5, Stream::Stdout, "o1"), at(1, Stream::Stdout, "o2")];
        let only_b = merge_by(Vec::new(), outputs.clone(), |_, _| true);
        assert_eq!(only_b, outputs);
        assert_eq!(merge_by(outputs.clone(), Vec::new(), |_, _| false), outputs);
    }
}
